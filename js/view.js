// One Labeler view, put together from its parts (js/parts/): status lines, the item card,
// the action and label buttons, the label filter, the note panel, the keys and help, the
// queue preview. Each part renders itself and has its own cleanup; this module wires them
// to the model's traits and turns keys and clicks into intents. State lives in the model;
// the only local state is what a reload may forget (open panels, a selection in progress).

import { h, show } from "./dom.js";
import { keyLabel, mayTakeFocus } from "./keys.js";
import { createActions } from "./parts/actions.js";
import { createAutoAccept } from "./parts/auto_accept.js";
import { createCard } from "./parts/card.js";
import { createContext, keepingFocus } from "./parts/context.js";
import { createFilter } from "./parts/filter.js";
import { createHistory } from "./parts/history.js";
import { createIntents } from "./parts/intents.js";
import { createKeyboard } from "./parts/keyboard.js";
import { createNotes } from "./parts/notes.js";
import { createPast } from "./parts/past.js";
import { createQueue } from "./parts/queue.js";
import { createQueueFilter } from "./parts/queue_filter.js";
import { createScope } from "./parts/scope.js";
import { createSearch } from "./parts/search.js";
import { createStatus } from "./parts/status.js";
import { MSG, TRAITS } from "./protocol.js";

/**
 * @typedef {import("@anywidget/types").AnyModel} AnyModel
 * @typedef {"note" | "filter" | "queue" | "help" | "search"} Panel
 */

/**
 * @typedef {object} View
 * @property {import("./parts/context.js").ViewContext} ctx
 * @property {HTMLElement} cardBox
 * @property {Panel | null} panel the open panel
 * @property {string | null} shownItem the item id on screen
 * @property {import("./parts/status.js").StatusPart} status
 * @property {import("./parts/card.js").CardPart} card
 * @property {import("./parts/actions.js").ActionsPart} actions
 * @property {import("./parts/filter.js").FilterPart} filter
 * @property {import("./parts/notes.js").NotesPart} notes
 * @property {import("./parts/keyboard.js").KeyboardPart} keyboard
 * @property {import("./parts/queue.js").QueuePart} queue
 * @property {import("./parts/queue_filter.js").QueueFilterPart} queueFilter
 * @property {import("./parts/intents.js").IntentsPart} intents
 * @property {import("./parts/history.js").HistoryPart} history
 * @property {import("./parts/past.js").PastPart} past
 * @property {import("./parts/search.js").SearchPart} search
 * @property {import("./parts/auto_accept.js").AutoAcceptPart} autoAccept
 * @property {() => void} renderCurrent
 * @property {() => void} renderLabels
 * @property {() => void} renderRevision
 */

/**
 * Build a view of `model` inside `el`; returns a cleanup that undoes everything.
 * @param {AnyModel} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function createView(model, el) {
  const v = assemble(model);
  const root = v.ctx.root;
  const scope = createScope(model);
  scope.listen(root, "click", (ev) => onClick(v, ev));
  for (const [trait, draw] of /** @type {[string, () => void][]} */ ([
    [TRAITS.current, v.renderCurrent],
    [TRAITS.labels, v.renderLabels],
    [TRAITS.shortcuts, v.renderLabels],
    [TRAITS.multiLabel, v.renderLabels],
    [TRAITS.queuePreview, v.queue.render],
    [TRAITS.progress, v.status.renderProgress],
    [TRAITS.error, v.status.render],
    [TRAITS.notice, v.status.render],
    [TRAITS.busy, v.renderCurrent],
    [TRAITS.revision, v.renderRevision],
    [TRAITS.done, v.renderCurrent],
    [TRAITS.history, v.history.render],
    [TRAITS.searchResults, v.search.render],
  ])) {
    scope.onModel(trait, draw);
  }
  el.appendChild(root);
  v.renderLabels();
  v.renderCurrent();
  v.status.render();
  v.status.renderProgress();
  v.queue.render();
  v.intents.render();
  v.history.render();
  focusWhenShown(root, el, scope);
  const parts = [v.status, v.card, v.actions, v.filter, v.notes, v.keyboard, v.queue, v.intents];
  parts.push(v.queueFilter);
  const navParts = [v.history, v.past, v.search, v.autoAccept];
  return () => {
    scope.dispose();
    for (const part of [...parts, ...navParts]) part.cleanup();
    root.remove();
  };
}

/**
 * Make the parts and lay out their DOM.
 * @param {AnyModel} model
 * @returns {View}
 */
function assemble(model) {
  const root = h("div", {
    cls: "llmlabel-root",
    attrs: {
      tabindex: "0",
      role: "group",
      "aria-label": "Label review",
      "data-lm-suppress-shortcuts": "true",
    },
  });
  const status = createStatus(model);
  const ctx = createContext(model, root, status.notice);
  const v = /** @type {View} */ ({ ctx, status, panel: null, shownItem: null });
  v.card = createCard();
  v.actions = createActions(ctx);
  v.intents = createIntents(ctx);
  const close = () => closePanel(v);
  v.filter = createFilter(ctx, {
    choose: (name) => chooseLabel(v, name),
    isSelected: v.actions.isSelected,
    close,
  });
  v.notes = createNotes(ctx, { send: (text) => v.intents.send(MSG.note, { text }), close });
  v.keyboard = createKeyboard(ctx, { act: (b) => act(v, b), panelOpen: () => !!v.panel, close });
  /** @param {string} chosen */
  const goVia = (chosen) => (/** @type {string} */ id) => go(v, id, chosen);
  v.queue = createQueue(model, { go: goVia("queue") });
  v.queueFilter = createQueueFilter(ctx, {
    send: (filters) => v.intents.send(MSG.filter, { filters }),
    close,
  });
  v.history = createHistory(ctx, { go: goVia("history") });
  v.search = createSearch(ctx, { go: goVia("search"), close });
  v.past = createPast();
  v.autoAccept = createAutoAccept(ctx);
  v.cardBox = h("div", { cls: "llmlabel-card" }, [
    ...v.card.nodes,
    v.past.node,
    ...v.actions.nodes,
    v.filter.panel,
    v.notes.panel,
  ]);
  v.renderCurrent = keepingFocus(root, () => renderCurrent(v));
  v.renderRevision = () => {
    v.intents.render(); // unlock first: a held-back filter removal is sent on this revision
    v.queueFilter.answered();
  };
  v.renderLabels = keepingFocus(root, () => {
    v.keyboard.renderKeymap();
    v.actions.renderButtons();
    renderSelection(v);
  });
  show(v.keyboard.helpPanel, false);
  const s = v.status;
  root.append(s.header, ...s.lines, v.queueFilter.bar, v.queueFilter.panel, v.search.panel);
  root.append(v.cardBox, s.doneBox, v.keyboard.helpPanel, v.history.node, v.queue.node);
  root.append(v.autoAccept.node);
  return v;
}

/** @param {View} v */
function renderSelection(v) {
  v.actions.renderSelection();
  if (v.panel === "filter") v.filter.render();
}

/** @param {View} v */
function renderCurrent(v) {
  const { ctx } = v;
  const cur = ctx.current();
  if ((cur ? cur.item_id : null) !== v.shownItem) {
    v.shownItem = cur ? cur.item_id : null;
    v.card.collapse();
    v.actions.select(cur?.proposal?.valid ? cur.proposal.labels : []);
    v.history.render();
    if (v.panel === "note" || v.panel === "filter") {
      closePanel(v, ctx.root.contains(document.activeElement));
    }
  }
  if (cur) ctx.root.setAttribute("data-item-id", String(cur.item_id));
  else ctx.root.removeAttribute("data-item-id");
  show(v.cardBox, Boolean(cur));
  show(v.status.doneBox, !cur);
  if (!cur) {
    v.status.renderDone();
    return;
  }
  const llm = ctx.model.get(TRAITS.progress)?.llm !== false;
  v.card.render(cur, Boolean(ctx.model.get(TRAITS.busy)), llm);
  v.past.render(cur.decision);
  const p = cur.proposal;
  v.actions.enableAccept(ctx.multi() || Boolean(p?.valid && p.labels.length));
  renderSelection(v);
}

// ------------------------------------------------------------------ intents and panels
/** @param {View} v */
function accept(v) {
  const { ctx } = v;
  const cur = ctx.current();
  if (!cur) return;
  if (ctx.multi()) {
    v.intents.send(MSG.decide, { labels: v.actions.selection() });
    return;
  }
  const p = cur.proposal;
  if (p?.valid && p.labels.length) {
    v.intents.send(MSG.accept);
  } else {
    const keys = ctx.labels().flatMap((l) => (l.key ? [l.key] : []));
    ctx.notice(
      `No valid proposal to accept: choose a label${keys.length ? ` (${keys.map(keyLabel).join(", ")})` : ""}.`,
    );
  }
}

/** @param {View} v @param {string} name */
function chooseLabel(v, name) {
  if (!v.ctx.current()) return;
  if (v.ctx.multi()) {
    v.actions.toggle(name);
    renderSelection(v);
  } else {
    v.intents.send(MSG.decide, { labels: [name] });
  }
}

/** @param {View} v @param {import("./keys.js").Binding} b */
function act(v, b) {
  const here = Boolean(v.ctx.current());
  if (b.action === "accept") accept(v);
  else if (b.action === "label" && b.label !== undefined) chooseLabel(v, b.label);
  else if (b.action === "skip" && here) v.intents.send(MSG.skip);
  else if (b.action === "undo") v.intents.send(MSG.undo);
  else if (b.action === "back" || b.action === "forward") {
    closePanel(v, false);
    v.intents.send(b.action === "back" ? MSG.back : MSG.forward);
  } else if (b.action === "goto") openPanel(v, "search");
  else if ((b.action === "note" || b.action === "filter") && here) openPanel(v, b.action);
  else if (b.action === "queue") openPanel(v, "queue");
  else if (b.action === "help") {
    if (v.panel === "help") closePanel(v);
    else openPanel(v, "help");
  }
}

/** @param {View} v @param {Panel} which */
function openPanel(v, which) {
  closePanel(v, false);
  v.panel = which;
  if (which === "note") v.notes.open();
  else if (which === "filter") v.filter.open();
  else if (which === "queue") v.queueFilter.open();
  else if (which === "search") v.search.open();
  else {
    v.keyboard.renderHelp();
    show(v.keyboard.helpPanel, true);
  }
}

/** @param {View} v @param {boolean} [refocus] */
function closePanel(v, refocus = true) {
  v.panel = null;
  v.notes.hide();
  v.filter.hide();
  v.queueFilter.hide();
  v.search.hide();
  show(v.keyboard.helpPanel, false);
  if (refocus) v.ctx.root.focus({ preventScroll: true });
}

/**
 * Open an item the reviewer chose (history row, search hit, queue row).
 * @param {View} v
 * @param {string} itemId
 * @param {string} chosen
 */
function go(v, itemId, chosen) {
  if (itemId === v.ctx.current()?.item_id && chosen !== "queue") {
    closePanel(v);
    return;
  }
  if (v.intents.send(MSG.goto, { target: itemId, chosen })) closePanel(v);
}

/**
 * Buttons: a double click is one action (the second click has detail 2); after a pointer
 * click the focus goes back to the view so the keys keep working.
 * @param {View} v
 * @param {MouseEvent} ev
 */
function onClick(v, ev) {
  const root = v.ctx.root;
  const btn = /** @type {HTMLElement} */ (ev.target).closest("button");
  if (!btn || !root.contains(btn)) return;
  const action = btn.getAttribute("data-action");
  const toInput = action === "note" || action === "filter" || action === "queue";
  if (ev.detail > 0 && !toInput) root.focus({ preventScroll: true });
  if (btn === v.card.expandBtn) {
    v.card.toggle();
    v.renderCurrent();
  } else if (btn === v.notes.saveBtn) {
    v.notes.save();
  } else if (ev.detail <= 1) {
    const label = btn.classList.contains("llmlabel-label") ? btn.getAttribute("data-label") : null;
    if (label !== null) act(v, { action: "label", label });
    else if (action) act(v, { action });
  }
}

/**
 * Take the keyboard once, when first shown, and only if the user is still on this cell
 * (not after Shift+Enter or Run All moved on, not while typing elsewhere). Never later.
 * @param {HTMLElement} root
 * @param {HTMLElement} el
 * @param {import("./parts/scope.js").Scope} scope
 */
function focusWhenShown(root, el, scope) {
  let tries = 0;
  const attempt = () => {
    if (root.isConnected) {
      if (mayTakeFocus(el)) root.focus({ preventScroll: true });
    } else if (tries++ < 100) {
      scope.later(attempt, 20);
    }
  };
  scope.later(attempt, 0);
}
