// What every part of the Labeler view reads: the model's traits, typed, and the view's root.

import { TRAITS } from "../protocol.js";

/**
 * @typedef {import("@anywidget/types").AnyModel} AnyModel
 * @typedef {import("../card.js").Current} Current
 * @typedef {{name: string, description?: string, key?: string}} LabelSpec
 */

/**
 * @typedef {object} ViewContext
 * @property {AnyModel} model
 * @property {HTMLElement} root the view's focusable root element
 * @property {() => Current | null} current the item under review
 * @property {() => LabelSpec[]} labels
 * @property {() => boolean} multi whether an item may get several labels
 * @property {() => Record<string, string[]>} shortcuts action -> keys
 * @property {(text: string) => void} notice show a short local message
 */

/**
 * @param {AnyModel} model
 * @param {HTMLElement} root
 * @param {(text: string) => void} notice
 * @returns {ViewContext}
 */
export function createContext(model, root, notice) {
  return {
    model,
    root,
    current: () => model.get(TRAITS.current) || null,
    labels: () => model.get(TRAITS.labels) || [],
    multi: () => Boolean(model.get(TRAITS.multiLabel)),
    shortcuts: () => model.get(TRAITS.shortcuts) || {},
    notice,
  };
}

/**
 * Wrap a redraw: if the focus was inside the view and the redraw removed, hid or disabled
 * the focused node, put it back on the root so keys keep working (and never reach the
 * notebook). Focus elsewhere on the page is left alone.
 * @param {HTMLElement} root
 * @param {() => void} draw
 * @returns {() => void}
 */
export function keepingFocus(root, draw) {
  return () => {
    const had = root.contains(document.activeElement);
    draw();
    const active = document.activeElement;
    if (had && (!active || !root.contains(active) || !isShown(root, active))) {
      root.focus({ preventScroll: true });
    }
  };
}

/**
 * @param {HTMLElement} root
 * @param {Element} node
 */
function isShown(root, node) {
  for (let n = /** @type {Element | null} */ (node); n && n !== root; n = n.parentElement) {
    if (/** @type {HTMLElement} */ (n).hidden) return false;
  }
  return !(node instanceof HTMLButtonElement && node.disabled);
}
