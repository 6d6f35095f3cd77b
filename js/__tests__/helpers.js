// Mounting helpers shared by the view tests.
import widget from "../widget.js";
import { fakeModel } from "./fake_model.js";

/**
 * Render the widget into a fresh element attached to the document.
 * @param {Record<string, any>} [state]
 */
export function mount(state = {}) {
  const model = fakeModel(state);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = /** @type {() => void} */ (
    widget.render(/** @type {any} */ ({ model, el, signal: new AbortController().signal }))
  );
  const root = /** @type {HTMLElement} */ (el.querySelector(".llmlabel-root"));
  return { model, el, root, cleanup };
}

/**
 * Dispatch a keydown like a browser does; returns the event.
 * @param {Element} target
 * @param {string} key
 * @param {KeyboardEventInit} [init]
 */
export function press(target, key, init = {}) {
  const ev = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(ev);
  return ev;
}

/**
 * Type text into an input, one keydown + input event per character.
 * @param {HTMLInputElement} input
 * @param {string} text
 */
export function type(input, text) {
  for (const ch of text) {
    const ev = press(input, ch);
    if (!ev.defaultPrevented) {
      input.value += ch;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
}

/**
 * Click like a pointer does (detail = click count).
 * @param {Element} node
 * @param {number} [detail]
 */
export function click(node, detail = 1) {
  node.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, detail }));
}
