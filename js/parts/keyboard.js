// Keys: the keymap from the `shortcuts` trait, the root's keydown handler, the help panel.

import { h } from "../dom.js";
import { bindingFor, buildKeymap, isModified, isTextEntry, keyLabel, keysFor } from "../keys.js";
import { createScope } from "./scope.js";

/**
 * @typedef {import("./context.js").ViewContext} ViewContext
 * @typedef {import("../keys.js").Binding} Binding
 */

/**
 * @typedef {object} KeyboardPart
 * @property {HTMLElement} helpPanel
 * @property {() => void} renderKeymap re-read the shortcuts and labels
 * @property {() => void} renderHelp fill the help panel
 * @property {() => void} cleanup
 */

/**
 * @typedef {object} KeyboardHooks
 * @property {(b: Binding) => void} act
 * @property {() => boolean} panelOpen
 * @property {() => void} close close the open panel
 */

/**
 * @param {ViewContext} ctx
 * @param {KeyboardHooks} hooks
 * @returns {KeyboardPart}
 */
export function createKeyboard(ctx, hooks) {
  const scope = createScope(ctx.model);
  /** @type {Map<string, Binding>} */
  let keymap = new Map();
  const helpPanel = h("div", { cls: "llmlabel-panel llmlabel-help" });

  /** @param {KeyboardEvent} ev */
  function onKeyDown(ev) {
    if (ev.target !== ctx.root && isTextEntry(ev.target)) return; // the inputs handle their keys
    // Nothing typed here may reach JupyterLab's notebook shortcuts (a, b, d d, m, 1-6, ...);
    // combinations (Shift+Enter, Ctrl+s) are left to the page unless bound here.
    if (!isModified(ev)) ev.stopPropagation();
    if (ev.key === "Escape") {
      if (hooks.panelOpen()) {
        ev.preventDefault();
        hooks.close();
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
    hooks.act(b);
  }

  /** @param {string} keys @param {string} what @param {boolean} [named] */
  const row = (keys, what, named = false) =>
    h("tr", {}, [
      h("td", {}, [h("kbd", { text: keys })]),
      h("td", { text: what, attrs: named ? { dir: "auto" } : {} }),
    ]);

  function renderHelp() {
    const sc = ctx.shortcuts();
    const multi = ctx.multi();
    const rows = [
      ["accept", multi ? "accept / confirm the selected labels" : "accept the proposal"],
      ["skip", "skip (comes back at the end)"],
      ["note", "add a note to this item"],
      ["undo", "undo the last action (unlimited)"],
      ["filter", "find a label by typing"],
      ["queue", "filter the queue (label, confidence, state, text)"],
      ["help", "show / hide this list"],
      ["back", "step back through the items you decided"],
      ["forward", "step forward again (to the queue)"],
      ["goto", "go to an item: search by id or text"],
    ];
    const body = rows.map(([action, what]) => row(keysFor(sc, action) || "—", what));
    for (const l of ctx.labels()) {
      if (l.key) body.push(row(keyLabel(l.key), `${multi ? "toggle" : "choose"} ${l.name}`, true));
    }
    body.push(row("Esc", "close a panel"));
    helpPanel.replaceChildren(
      h("div", { cls: "llmlabel-help-title", text: "Keys (while this view has focus)" }),
      h("table", { cls: "llmlabel-help-table" }, [h("tbody", {}, body)]),
    );
  }

  scope.listen(ctx.root, "keydown", onKeyDown);
  return {
    helpPanel,
    renderKeymap: () => {
      keymap = buildKeymap(ctx.shortcuts(), ctx.labels());
    },
    renderHelp,
    cleanup: scope.dispose,
  };
}
