// The row of action and label buttons, and the multi-label selection in progress.

import { h, show } from "../dom.js";
import { keyLabel, keysFor } from "../keys.js";

/** Label buttons shown at most before the rest move behind the filter. */
const MAX_LABEL_BUTTONS = 20;

/**
 * @typedef {import("./context.js").ViewContext} ViewContext
 * @typedef {import("./context.js").LabelSpec} LabelSpec
 */

/**
 * @typedef {object} ActionsPart
 * @property {HTMLElement[]} nodes the button row and the selection line
 * @property {() => void} renderButtons label buttons and key captions (labels or keys changed)
 * @property {() => void} renderSelection which labels are proposed / selected
 * @property {(enabled: boolean) => void} enableAccept
 * @property {(labels: string[]) => void} select start a new item's selection
 * @property {(name: string) => void} toggle
 * @property {(name: string) => boolean} isSelected
 * @property {() => string[]} selection the selected labels in task order
 * @property {() => void} cleanup
 */

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

/** @param {LabelSpec} l */
function labelButton(l) {
  const btn = h("button", {
    cls: "llmlabel-btn llmlabel-label",
    attrs: { type: "button", "data-label": l.name, title: l.description || l.name },
  });
  if (l.key) btn.append(h("kbd", { cls: "llmlabel-kbd", text: keyLabel(l.key) }));
  btn.append(h("span", { cls: "llmlabel-caption", text: l.name, attrs: { dir: "auto" } }));
  return btn;
}

/**
 * @param {ViewContext} ctx
 * @returns {ActionsPart}
 */
export function createActions(ctx) {
  /** @type {Set<string>} */
  let selected = new Set();
  const acceptBtn = actionButton("accept", "Accept");
  const labelBox = h("div", {
    cls: "llmlabel-labels",
    attrs: { role: "group", "aria-label": "labels" },
  });
  const others = [
    actionButton("skip", "Skip"),
    actionButton("note", "Note"),
    actionButton("undo", "Undo"),
    actionButton("filter", "Find label"),
    actionButton("queue", "Filter queue"),
    actionButton("help", "Keys"),
  ];
  const row = h("div", { cls: "llmlabel-actions" }, [acceptBtn, labelBox, ...others]);
  const selectionLine = h("div", { cls: "llmlabel-selection" });
  const selection = () =>
    ctx
      .labels()
      .map((l) => l.name)
      .filter((n) => selected.has(n));

  function renderButtons() {
    const all = ctx.labels();
    const shown = all.filter((l, i) => l.key || i < MAX_LABEL_BUTTONS).slice(0, MAX_LABEL_BUTTONS);
    /** @type {HTMLElement[]} */
    const buttons = shown.map(labelButton);
    if (all.length > shown.length) {
      const more = `+${all.length - shown.length} more: use Find label`;
      buttons.push(h("span", { cls: "llmlabel-more", text: more }));
    }
    labelBox.replaceChildren(...buttons);
    for (const btn of [acceptBtn, ...others]) {
      const kbd = /** @type {HTMLElement} */ (btn.querySelector("kbd"));
      kbd.textContent = keysFor(ctx.shortcuts(), btn.getAttribute("data-action") || "");
      show(kbd, Boolean(kbd.textContent));
    }
  }

  function renderSelection() {
    const isMulti = ctx.multi();
    const cur = ctx.current();
    const caption = /** @type {HTMLElement} */ (acceptBtn.querySelector(".llmlabel-caption"));
    caption.textContent = isMulti ? "Confirm" : "Accept";
    for (const btn of labelBox.querySelectorAll("button.llmlabel-label")) {
      const name = btn.getAttribute("data-label") || "";
      const proposed = Boolean(cur?.proposal?.valid && cur.proposal.labels.includes(name));
      btn.classList.toggle("llmlabel-label-proposed", proposed);
      if (isMulti) btn.setAttribute("aria-pressed", String(selected.has(name)));
      else btn.removeAttribute("aria-pressed");
    }
    if (isMulti && cur) {
      const sel = selection();
      const confirm = keysFor(ctx.shortcuts(), "accept");
      selectionLine.textContent = `Selected: ${sel.length ? sel.join(", ") : "none"} · ${confirm} confirms`;
    }
    show(selectionLine, Boolean(isMulti && cur));
  }

  return {
    nodes: [row, selectionLine],
    renderButtons,
    renderSelection,
    enableAccept: (enabled) => acceptBtn.toggleAttribute("disabled", !enabled),
    select: (labels) => {
      selected = new Set(labels);
    },
    toggle: (name) => {
      if (selected.has(name)) selected.delete(name);
      else selected.add(name);
    },
    isSelected: (name) => selected.has(name),
    selection,
    cleanup: () => {}, // clicks come through the view's one click handler
  };
}
