// One Labeler view: builds the DOM, follows the model's traits, turns keys and clicks into
// intents (custom messages). State lives in the model; the only local state is what a
// reload may forget (open panels, a multi-label selection in progress).

import { expandCaption, fillMeta, fillProposal, fillText, isLong, truncationNote } from "./card.js";
import { h, show } from "./dom.js";
import {
  bindingFor,
  buildKeymap,
  isModified,
  isTextEntry,
  keyLabel,
  keysFor,
  mayTakeFocus,
} from "./keys.js";
import { MSG, SAVING_AFTER_MS, TRAITS, UNLOCK_AFTER_MS } from "./protocol.js";
import { fillQueue, progressText } from "./queue.js";

/** Label buttons shown at most before the rest move behind the filter. */
const MAX_LABEL_BUTTONS = 20;

/**
 * @typedef {import("@anywidget/types").AnyModel} AnyModel
 * @typedef {import("./card.js").Current} Current
 * @typedef {{name: string, description?: string, key?: string}} LabelSpec
 */

/**
 * Build a view of `model` inside `el`; returns a cleanup that undoes everything.
 * @param {AnyModel} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function createView(model, el) {
  /** @type {Map<string, import("./keys.js").Binding>} */
  let keymap = new Map();
  /** @type {Set<string>} */
  let selected = new Set();
  /** @type {string | null} */
  let shownItem = null;
  let expanded = false;
  /** @type {"note" | "filter" | "help" | null} */
  let panel = null;
  /** @type {number | null} the revision an intent was sent for; one intent per revision */
  let inflight = null;
  let filterIndex = 0;
  /** @type {ReturnType<typeof setTimeout>[]} */
  const timers = [];
  /** @type {[string, () => void][]} */
  const modelHandlers = [];
  /** @type {[EventTarget, string, EventListener][]} */
  const domHandlers = [];

  // ---------------------------------------------------------------- DOM skeleton
  const root = h("div", {
    cls: "llmlabel-root",
    attrs: {
      tabindex: "0",
      role: "group",
      "aria-label": "LLM label review",
      "data-lm-suppress-shortcuts": "true",
    },
  });
  const progressLine = h("div", { cls: "llmlabel-progress" });
  const focusHint = h("span", { cls: "llmlabel-focus-hint" }, [
    h("span", { cls: "llmlabel-focus-on", text: "keys active · ? for help" }),
    h("span", { cls: "llmlabel-focus-off", text: "click here to use the keys" }),
  ]);
  const header = h("div", { cls: "llmlabel-header" }, [progressLine, focusHint]);
  const errorLine = h("div", { cls: "llmlabel-error", attrs: { role: "alert" } });
  const noticeLine = h("div", { cls: "llmlabel-notice", attrs: { role: "status" } });
  const reasonLine = h("div", { cls: "llmlabel-reason" });
  const textNode = h("div", { cls: "llmlabel-text", attrs: { dir: "auto" } });
  const expandBtn = h("button", { cls: "llmlabel-expand", attrs: { type: "button" } });
  const truncNote = h("div", { cls: "llmlabel-trunc" });
  const metaLine = h("div", { cls: "llmlabel-meta" });
  const proposalBox = h("div", { cls: "llmlabel-proposal" });
  const acceptBtn = actionButton("accept", "Accept");
  const labelBox = h("div", {
    cls: "llmlabel-labels",
    attrs: { role: "group", "aria-label": "labels" },
  });
  const skipBtn = actionButton("skip", "Skip");
  const noteBtn = actionButton("note", "Note");
  const undoBtn = actionButton("undo", "Undo");
  const filterBtn = actionButton("filter", "Find label");
  const helpBtn = actionButton("help", "Keys");
  const actions = h("div", { cls: "llmlabel-actions" }, [
    acceptBtn,
    labelBox,
    skipBtn,
    noteBtn,
    undoBtn,
    filterBtn,
    helpBtn,
  ]);
  const selectionLine = h("div", { cls: "llmlabel-selection" });

  const filterInput = h("input", {
    cls: "llmlabel-filter-input",
    attrs: {
      type: "text",
      placeholder: "Type to filter labels · ↑↓ to move · Enter to pick · Esc to close",
      "aria-label": "Filter labels",
      autocomplete: "off",
      spellcheck: "false",
    },
  });
  const filterList = h("ul", { cls: "llmlabel-filter-list", attrs: { role: "listbox" } });
  const filterPanel = h("div", { cls: "llmlabel-panel llmlabel-filter" }, [
    filterInput,
    filterList,
  ]);

  const noteInput = h("input", {
    cls: "llmlabel-note-input",
    attrs: {
      type: "text",
      placeholder: "Note on this item · Enter to save · Esc to cancel",
      "aria-label": "Note",
      dir: "auto",
    },
  });
  const noteSave = h("button", {
    cls: "llmlabel-btn llmlabel-note-save",
    text: "Save note",
    attrs: { type: "button" },
  });
  const notePanel = h("div", { cls: "llmlabel-panel llmlabel-note" }, [noteInput, noteSave]);
  const helpPanel = h("div", { cls: "llmlabel-panel llmlabel-help" });

  const card = h("div", { cls: "llmlabel-card" }, [
    reasonLine,
    h("div", { cls: "llmlabel-item" }, [textNode, expandBtn, truncNote]),
    metaLine,
    proposalBox,
    actions,
    selectionLine,
    filterPanel,
    notePanel,
  ]);
  const doneBox = h("div", { cls: "llmlabel-done" });
  const queueBox = h("div", { cls: "llmlabel-queue" });
  root.append(header, errorLine, noticeLine, card, doneBox, helpPanel, queueBox);
  for (const p of [filterPanel, notePanel, helpPanel, expandBtn]) show(p, false);
  el.appendChild(root);

  // ---------------------------------------------------------------- helpers
  /**
   * @param {string} action
   * @param {string} caption
   */
  function actionButton(action, caption) {
    const btn = h("button", {
      cls: `llmlabel-btn llmlabel-act-${action}`,
      attrs: { type: "button", "data-action": action },
    });
    btn.append(
      h("kbd", { cls: "llmlabel-kbd" }),
      h("span", { cls: "llmlabel-caption", text: caption }),
    );
    return btn;
  }

  /**
   * @param {EventTarget} target
   * @param {string} type
   * @param {(ev: any) => void} fn
   */
  function listen(target, type, fn) {
    target.addEventListener(type, fn);
    domHandlers.push([target, type, fn]);
  }

  /**
   * @param {string} name
   * @param {() => void} fn
   */
  function onModel(name, fn) {
    model.on(`change:${name}`, fn);
    modelHandlers.push([`change:${name}`, fn]);
  }

  /** @param {() => void} fn @param {number} ms */
  function later(fn, ms) {
    const t = setTimeout(() => {
      const i = timers.indexOf(t);
      if (i !== -1) timers.splice(i, 1);
      fn();
    }, ms);
    timers.push(t);
    return t;
  }

  /**
   * Run a redraw; if the focus was inside the view and the redraw removed, hid or disabled
   * the focused node, put it back on the view so keys keep working (and never reach the
   * notebook). Focus elsewhere on the page is left alone.
   * @param {() => void} draw
   */
  function keepingFocus(draw) {
    return () => {
      const had = root.contains(document.activeElement);
      draw();
      const active = document.activeElement;
      if (had && (!active || !root.contains(active) || !isShown(active))) {
        root.focus({ preventScroll: true });
      }
    };
  }

  /** @param {Element} node */
  function isShown(node) {
    for (let n = /** @type {Element | null} */ (node); n && n !== root; n = n.parentElement) {
      if (/** @type {HTMLElement} */ (n).hidden) return false;
    }
    return !(node instanceof HTMLButtonElement && node.disabled);
  }

  /** @returns {Current | null} */
  const current = () => model.get(TRAITS.current) || null;
  /** @returns {LabelSpec[]} */
  const labels = () => model.get(TRAITS.labels) || [];
  const multi = () => Boolean(model.get(TRAITS.multiLabel));

  /** @param {string} text */
  function localNotice(text) {
    noticeLine.textContent = text;
    show(noticeLine, Boolean(text));
  }

  // ---------------------------------------------------------------- intents
  /**
   * Send one intent for the state on screen. Repeats before the next state arrives are
   * dropped here (and again in Python, by revision).
   * @param {string} kind
   * @param {Record<string, unknown>} [extra]
   */
  function send(kind, extra = {}) {
    const revision = model.get(TRAITS.revision);
    if (inflight === revision) return false;
    const cur = current();
    if (kind !== MSG.undo && !cur) return false;
    inflight = revision;
    model.send({ kind, item_id: cur ? cur.item_id : null, revision, ...extra });
    later(() => {
      if (inflight === revision) root.classList.add("llmlabel-saving");
    }, SAVING_AFTER_MS);
    later(() => {
      if (inflight === revision) unlock();
    }, UNLOCK_AFTER_MS);
    return true;
  }

  function unlock() {
    inflight = null;
    root.classList.remove("llmlabel-saving");
  }

  function accept() {
    const cur = current();
    if (!cur) return;
    if (multi()) {
      send(MSG.decide, { labels: orderedSelection() });
      return;
    }
    const p = cur.proposal;
    if (p?.valid && p.labels.length) {
      send(MSG.accept);
    } else {
      const keys = labels().flatMap((l) => (l.key ? [l.key] : []));
      localNotice(
        `No valid LLM proposal to accept: choose a label${keys.length ? ` (${keys.map(keyLabel).join(", ")})` : ""}.`,
      );
    }
  }

  /** @param {string} name */
  function chooseLabel(name) {
    if (!current()) return;
    if (multi()) {
      if (selected.has(name)) selected.delete(name);
      else selected.add(name);
      drawSelection();
    } else {
      send(MSG.decide, { labels: [name] });
    }
  }

  function orderedSelection() {
    return labels()
      .map((l) => l.name)
      .filter((n) => selected.has(n));
  }

  /** @param {import("./keys.js").Binding} b */
  function act(b) {
    switch (b.action) {
      case "accept":
        accept();
        break;
      case "label":
        if (b.label !== undefined) chooseLabel(b.label);
        break;
      case "skip":
        if (current()) send(MSG.skip);
        break;
      case "undo":
        send(MSG.undo);
        break;
      case "note":
        if (current()) openPanel("note");
        break;
      case "filter":
        if (current()) openPanel("filter");
        break;
      case "help":
        if (panel === "help") closePanel();
        else openPanel("help");
        break;
    }
  }

  // ---------------------------------------------------------------- panels
  /** @param {"note" | "filter" | "help"} which */
  function openPanel(which) {
    closePanel(false);
    panel = which;
    if (which === "note") {
      show(notePanel, true);
      noteInput.value = "";
      noteInput.focus({ preventScroll: true });
    } else if (which === "filter") {
      show(filterPanel, true);
      filterInput.value = "";
      filterIndex = 0;
      drawFilter();
      filterInput.focus({ preventScroll: true });
    } else {
      drawHelp();
      show(helpPanel, true);
    }
  }

  function closePanel(refocus = true) {
    panel = null;
    show(notePanel, false);
    show(filterPanel, false);
    show(helpPanel, false);
    if (refocus) root.focus({ preventScroll: true });
  }

  function filterMatches() {
    const q = filterInput.value.trim().toLowerCase();
    return labels().filter(
      (l) =>
        !q || l.name.toLowerCase().includes(q) || (l.description || "").toLowerCase().includes(q),
    );
  }

  function drawFilter() {
    const matches = filterMatches();
    filterIndex = Math.min(filterIndex, Math.max(0, matches.length - 1));
    if (matches.length === 0) {
      filterList.replaceChildren(
        h("li", { cls: "llmlabel-filter-empty", text: "no label matches" }),
      );
      return;
    }
    filterList.replaceChildren(
      ...matches.map((l, i) => {
        const li = h(
          "li",
          {
            cls: `llmlabel-option${i === filterIndex ? " llmlabel-option-active" : ""}`,
            attrs: {
              role: "option",
              "aria-selected": String(i === filterIndex),
              "data-label": l.name,
            },
          },
          [
            h("span", { cls: "llmlabel-option-name", text: l.name, attrs: { dir: "auto" } }),
            multi() && selected.has(l.name)
              ? h("span", { cls: "llmlabel-option-on", text: " ✓" })
              : null,
            l.description
              ? h("span", {
                  cls: "llmlabel-option-desc",
                  text: ` — ${l.description}`,
                  attrs: { dir: "auto" },
                })
              : null,
          ],
        );
        li.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep focus in the input
        li.addEventListener("click", () => pickFromFilter(l.name));
        return li;
      }),
    );
  }

  /** @param {string} name */
  function pickFromFilter(name) {
    if (multi()) {
      chooseLabel(name);
      filterInput.value = "";
      drawFilter();
      filterInput.focus({ preventScroll: true });
    } else {
      closePanel();
      chooseLabel(name);
    }
  }

  function drawHelp() {
    const sc = model.get(TRAITS.shortcuts) || {};
    const rows = [
      ["accept", multi() ? "accept / confirm the selected labels" : "accept the LLM's proposal"],
      ["skip", "skip (comes back at the end)"],
      ["note", "add a note to this item"],
      ["undo", "undo the last action (unlimited)"],
      ["filter", "find a label by typing"],
      ["help", "show / hide this list"],
    ];
    const body = rows.map(([action, what]) =>
      h("tr", {}, [
        h("td", {}, [h("kbd", { text: keysFor(sc, action) || "—" })]),
        h("td", { text: what }),
      ]),
    );
    for (const l of labels()) {
      if (!l.key) continue;
      body.push(
        h("tr", {}, [
          h("td", {}, [h("kbd", { text: keyLabel(l.key) })]),
          h("td", { text: `${multi() ? "toggle" : "choose"} ${l.name}`, attrs: { dir: "auto" } }),
        ]),
      );
    }
    body.push(
      h("tr", {}, [h("td", {}, [h("kbd", { text: "Esc" })]), h("td", { text: "close a panel" })]),
    );
    helpPanel.replaceChildren(
      h("div", { cls: "llmlabel-help-title", text: "Keys (while this view has focus)" }),
      h("table", { cls: "llmlabel-help-table" }, [h("tbody", {}, body)]),
    );
  }

  // ---------------------------------------------------------------- drawing
  const drawLabels = keepingFocus(() => {
    keymap = buildKeymap(model.get(TRAITS.shortcuts) || {}, labels());
    const all = labels();
    const shown = all.filter((l, i) => l.key || i < MAX_LABEL_BUTTONS).slice(0, MAX_LABEL_BUTTONS);
    /** @type {HTMLElement[]} */
    const buttons = shown.map((l) => {
      const btn = h("button", {
        cls: "llmlabel-btn llmlabel-label",
        attrs: { type: "button", "data-label": l.name, title: l.description || l.name },
      });
      if (l.key) btn.append(h("kbd", { cls: "llmlabel-kbd", text: keyLabel(l.key) }));
      btn.append(h("span", { cls: "llmlabel-caption", text: l.name, attrs: { dir: "auto" } }));
      return btn;
    });
    if (all.length > shown.length) {
      buttons.push(
        h("span", {
          cls: "llmlabel-more",
          text: `+${all.length - shown.length} more: use Find label`,
        }),
      );
    }
    labelBox.replaceChildren(...buttons);
    const sc = model.get(TRAITS.shortcuts) || {};
    for (const btn of [acceptBtn, skipBtn, noteBtn, undoBtn, filterBtn, helpBtn]) {
      const action = btn.getAttribute("data-action") || "";
      const kbd = /** @type {HTMLElement} */ (btn.querySelector("kbd"));
      kbd.textContent = keysFor(sc, action);
      show(kbd, Boolean(kbd.textContent));
    }
    drawSelection();
  });

  function drawSelection() {
    const isMulti = multi();
    const cur = current();
    /** @type {HTMLElement} */ (acceptBtn.querySelector(".llmlabel-caption")).textContent = isMulti
      ? "Confirm"
      : "Accept";
    for (const btn of labelBox.querySelectorAll("button.llmlabel-label")) {
      const name = btn.getAttribute("data-label") || "";
      const proposed = Boolean(cur?.proposal?.valid && cur.proposal.labels.includes(name));
      btn.classList.toggle("llmlabel-label-proposed", proposed);
      if (isMulti) btn.setAttribute("aria-pressed", String(selected.has(name)));
      else btn.removeAttribute("aria-pressed");
    }
    if (isMulti && cur) {
      const sel = orderedSelection();
      selectionLine.textContent = `Selected: ${sel.length ? sel.join(", ") : "none"} · ${keysFor(model.get(TRAITS.shortcuts) || {}, "accept")} confirms`;
      show(selectionLine, true);
    } else {
      show(selectionLine, false);
    }
    if (panel === "filter") drawFilter();
  }

  const drawCurrent = keepingFocus(() => {
    const cur = current();
    const itemChanged = (cur ? cur.item_id : null) !== shownItem;
    if (itemChanged) {
      shownItem = cur ? cur.item_id : null;
      expanded = false;
      selected = new Set(cur?.proposal?.valid ? cur.proposal.labels : []);
      if (panel === "note" || panel === "filter") closePanel(root.contains(document.activeElement));
    }
    if (cur) {
      root.setAttribute("data-item-id", String(cur.item_id));
    } else {
      root.removeAttribute("data-item-id");
    }
    show(card, Boolean(cur));
    show(doneBox, !cur);
    if (!cur) {
      drawDone();
      return;
    }
    reasonLine.textContent = cur.reason ? `picked because: ${cur.reason}` : "";
    fillText(textNode, cur);
    const long = isLong(cur.text || "");
    textNode.classList.toggle("llmlabel-collapsed", long && !expanded);
    show(expandBtn, long);
    expandBtn.textContent = expandCaption(cur, expanded);
    expandBtn.setAttribute("aria-expanded", String(expanded));
    const trunc = truncationNote(cur);
    truncNote.textContent = trunc;
    show(truncNote, Boolean(trunc));
    fillMeta(metaLine, cur);
    fillProposal(proposalBox, cur, { busy: Boolean(model.get(TRAITS.busy)), acceptKeys: "" });
    const p = cur.proposal;
    acceptBtn.toggleAttribute("disabled", !multi() && !(p?.valid && p.labels.length));
    drawSelection();
  });

  function drawDone() {
    const p = model.get(TRAITS.progress) || {};
    const undoKeys = keysFor(model.get(TRAITS.shortcuts) || {}, "undo");
    doneBox.replaceChildren(
      h("div", { cls: "llmlabel-done-title", text: "All items reviewed." }),
      h("div", {
        cls: "llmlabel-done-hint",
        text: `${p.done ?? 0} decided, ${p.skipped ?? 0} skipped. Export with session.export("labels.jsonl") or look at session.annotations; undo (${undoKeys}) still works.`,
      }),
    );
  }

  function drawStatus() {
    const err = model.get(TRAITS.error) || "";
    errorLine.textContent = err;
    show(errorLine, Boolean(err));
    localNotice(model.get(TRAITS.notice) || "");
  }

  function drawProgress() {
    progressLine.textContent = progressText(model.get(TRAITS.progress) || {});
    if (!current()) drawDone();
  }

  function drawQueue() {
    fillQueue(queueBox, model.get(TRAITS.queuePreview) || []);
  }

  function onRevision() {
    root.setAttribute("data-revision", String(model.get(TRAITS.revision)));
    unlock();
  }

  // ---------------------------------------------------------------- events
  /** @param {KeyboardEvent} ev */
  function onKeyDown(ev) {
    if (ev.target !== root && isTextEntry(ev.target)) return; // the inputs handle their keys
    // Nothing typed here may reach JupyterLab's notebook shortcuts (a, b, d d, m, 1-6, ...);
    // combinations (Shift+Enter, Ctrl+s) are left to the page unless bound here.
    if (!isModified(ev)) ev.stopPropagation();
    if (ev.key === "Escape") {
      if (panel) {
        ev.preventDefault();
        closePanel();
      }
      return;
    }
    // A focused button activates natively with Enter/Space (its click does the action).
    if ((ev.key === "Enter" || ev.key === " ") && ev.target instanceof HTMLButtonElement) return;
    const b = bindingFor(ev, keymap);
    if (!b) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (ev.repeat && b.action !== "help") return; // holding a key never decides twice
    act(b);
  }

  /** @param {KeyboardEvent} ev */
  function onFilterKey(ev) {
    ev.stopPropagation(); // typing a filter never triggers label keys
    const matches = filterMatches();
    if (ev.key === "Escape") {
      ev.preventDefault();
      closePanel();
    } else if (ev.key === "ArrowDown") {
      ev.preventDefault();
      filterIndex = Math.min(filterIndex + 1, Math.max(0, matches.length - 1));
      drawFilter();
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      filterIndex = Math.max(0, filterIndex - 1);
      drawFilter();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (ev.repeat) return;
      if (matches[filterIndex]) pickFromFilter(matches[filterIndex].name);
      else if (multi() && !filterInput.value) closePanel();
    }
  }

  /** @param {KeyboardEvent} ev */
  function onNoteKey(ev) {
    ev.stopPropagation(); // typing a note never triggers label keys
    if (ev.key === "Escape") {
      ev.preventDefault();
      closePanel();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (!ev.repeat) saveNote();
    }
  }

  function saveNote() {
    const text = noteInput.value;
    if (!text.trim()) {
      closePanel();
      return;
    }
    if (send(MSG.note, { text })) closePanel();
  }

  /**
   * Buttons: a double click is one action (the second click has detail 2); after a
   * pointer click the focus goes back to the view so the keys keep working.
   * @param {MouseEvent} ev
   */
  function onClick(ev) {
    const target = /** @type {HTMLElement} */ (ev.target);
    const btn = target.closest("button");
    if (!btn || !root.contains(btn)) return;
    const action = btn.getAttribute("data-action");
    const toInput = action === "note" || action === "filter";
    if (ev.detail > 0 && !toInput) root.focus({ preventScroll: true });
    if (btn === expandBtn) {
      expanded = !expanded;
      drawCurrent();
      return;
    }
    if (btn === noteSave) {
      saveNote();
      return;
    }
    if (ev.detail > 1) return;
    const label = btn.classList.contains("llmlabel-label") ? btn.getAttribute("data-label") : null;
    if (label !== null) act({ action: "label", label });
    else if (action) act({ action });
  }

  listen(root, "keydown", onKeyDown);
  listen(root, "click", onClick);
  listen(filterInput, "keydown", onFilterKey);
  listen(filterInput, "input", () => {
    filterIndex = 0;
    drawFilter();
  });
  listen(noteInput, "keydown", onNoteKey);

  onModel(TRAITS.current, drawCurrent);
  onModel(TRAITS.labels, drawLabels);
  onModel(TRAITS.shortcuts, drawLabels);
  onModel(TRAITS.multiLabel, drawLabels);
  onModel(TRAITS.queuePreview, drawQueue);
  onModel(TRAITS.progress, drawProgress);
  onModel(TRAITS.error, drawStatus);
  onModel(TRAITS.notice, drawStatus);
  onModel(TRAITS.busy, drawCurrent);
  onModel(TRAITS.revision, onRevision);
  onModel(TRAITS.done, drawCurrent);

  drawLabels();
  drawCurrent();
  drawStatus();
  drawProgress();
  drawQueue();
  onRevision();

  // Take the keyboard once, when first shown, and only if the user is still on this cell
  // (not after Shift+Enter or Run All moved on, not while typing elsewhere). Never later.
  let tries = 0;
  const focusWhenShown = () => {
    if (root.isConnected) {
      if (mayTakeFocus(el)) root.focus({ preventScroll: true });
    } else if (tries++ < 100) {
      later(focusWhenShown, 20);
    }
  };
  later(focusWhenShown, 0);

  return () => {
    for (const t of timers.splice(0)) clearTimeout(t);
    for (const [name, fn] of modelHandlers.splice(0)) model.off(name, fn);
    for (const [target, type, fn] of domHandlers.splice(0)) target.removeEventListener(type, fn);
    root.remove();
  };
}
