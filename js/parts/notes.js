// The note panel: type a note on the item, Enter (or Save) to record it, Esc to cancel.

import { h, show } from "../dom.js";
import { createScope } from "./scope.js";

/** @typedef {import("./context.js").ViewContext} ViewContext */

/**
 * @typedef {object} NotesPart
 * @property {HTMLElement} panel
 * @property {HTMLElement} saveBtn its clicks come through the view's one click handler
 * @property {() => void} open
 * @property {() => void} hide
 * @property {() => void} save send the note typed (an empty one just closes)
 * @property {() => void} cleanup
 */

/**
 * @param {ViewContext} ctx
 * @param {{send: (text: string) => boolean, close: () => void}} hooks `send` is false when
 *   the note could not be sent (another intent is in flight): the panel stays open.
 * @returns {NotesPart}
 */
export function createNotes(ctx, hooks) {
  const scope = createScope(ctx.model);
  const input = h("input", {
    cls: "llmlabel-note-input",
    attrs: {
      type: "text",
      placeholder: "Note on this item · Enter to save · Esc to cancel",
      "aria-label": "Note",
      dir: "auto",
    },
  });
  const saveBtn = h("button", {
    cls: "llmlabel-btn llmlabel-note-save",
    text: "Save note",
    attrs: { type: "button" },
  });
  const panel = h("div", { cls: "llmlabel-panel llmlabel-note" }, [input, saveBtn]);
  show(panel, false);

  function save() {
    const text = input.value;
    if (!text.trim()) hooks.close();
    else if (hooks.send(text)) hooks.close();
  }

  /** @param {KeyboardEvent} ev */
  function onKey(ev) {
    ev.stopPropagation(); // typing a note never triggers label keys
    if (ev.key === "Escape") {
      ev.preventDefault();
      hooks.close();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (!ev.repeat) save();
    }
  }

  scope.listen(input, "keydown", onKey);
  return {
    panel,
    saveBtn,
    open() {
      show(panel, true);
      input.value = ctx.current()?.decision?.note || ""; // a saved note is edited
      input.focus({ preventScroll: true });
      input.select();
    },
    hide: () => show(panel, false),
    save,
    cleanup: scope.dispose,
  };
}
