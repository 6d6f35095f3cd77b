// On the card: the decision this reviewer already made on the item and their note, with a
// button to edit the note. Shown when going back, or on any item with a note.

import { h, show } from "../dom.js";
import { clockTime, decisionText } from "./history.js";

/**
 * @typedef {{kind: string | null, labels: string[] | null, time: number | null,
 *   note: string | null}} DecisionView
 */

/**
 * @typedef {object} PastPart
 * @property {HTMLElement} node
 * @property {(decision: DecisionView | null | undefined) => void} render
 * @property {() => void} cleanup
 */

/** @returns {PastPart} */
export function createPast() {
  const decisionLine = h("div", { cls: "llmlabel-past-decision" });
  const noteText = h("span", { cls: "llmlabel-past-note-text", attrs: { dir: "auto" } });
  const editBtn = h("button", {
    cls: "llmlabel-btn llmlabel-past-edit",
    text: "edit note",
    attrs: { type: "button", "data-action": "note" },
  });
  const noteLine = h("div", { cls: "llmlabel-past-note" }, [
    h("span", { cls: "llmlabel-past-caption", text: "note: " }),
    noteText,
    editBtn,
  ]);
  const node = h("div", { cls: "llmlabel-past" }, [decisionLine, noteLine]);

  /** @param {DecisionView | null | undefined} d */
  function render(d) {
    show(node, Boolean(d));
    if (!d) return;
    const when = clockTime(d.time);
    decisionLine.textContent = d.kind
      ? `you decided: ${decisionText(d)}${when ? ` · ${when}` : ""} · a new choice replaces it`
      : "";
    show(decisionLine, Boolean(d.kind));
    noteText.textContent = d.note || "";
    show(noteLine, Boolean(d.note));
  }

  return { node, render, cleanup: () => {} }; // no listeners: the button goes through the view
}
