// Keyboard map: built from the `shortcuts` trait; resolves a KeyboardEvent to an action.

/**
 * @typedef {{action: string, label?: string}} Binding
 * @typedef {{name: string, description?: string, key?: string}} LabelSpec
 */

/**
 * The key as it is bound: single characters are case-insensitive ("A" is "a").
 * @param {string} key
 */
export function normaliseKey(key) {
  return key.length === 1 ? key.toLowerCase() : key;
}

/**
 * key -> binding, from the shortcuts trait ({accept: [...], ..., labels: [...]}).
 * @param {Record<string, string[]>} shortcuts
 * @param {LabelSpec[]} labels
 * @returns {Map<string, Binding>}
 */
export function buildKeymap(shortcuts, labels) {
  /** @type {Map<string, Binding>} */
  const map = new Map();
  for (const [action, keys] of Object.entries(shortcuts || {})) {
    if (action === "labels" || !Array.isArray(keys)) continue;
    for (const k of keys) {
      if (typeof k === "string" && k) map.set(normaliseKey(k), { action });
    }
  }
  for (const lab of labels || []) {
    if (lab.key) map.set(normaliseKey(lab.key), { action: "label", label: lab.name });
  }
  return map;
}

/**
 * The binding for a key event, or undefined. Combinations with Ctrl/Alt/Meta are left to
 * the browser and JupyterLab (copy, save, ...).
 * @param {KeyboardEvent} event
 * @param {Map<string, Binding>} keymap
 */
export function bindingFor(event, keymap) {
  if (event.ctrlKey || event.metaKey || event.altKey) return undefined;
  return keymap.get(normaliseKey(event.key));
}

/**
 * How a key is written in the view.
 * @param {string} key
 */
export function keyLabel(key) {
  const names = /** @type {Record<string, string>} */ ({
    " ": "Space",
    Enter: "Enter",
    Backspace: "Backspace",
    ArrowUp: "↑",
    ArrowDown: "↓",
  });
  return names[key] || (key.length === 1 ? key.toUpperCase() : key);
}

/**
 * Whether typing goes into this element (then label keys must not fire).
 * @param {EventTarget | null} target
 */
export function isTextEntry(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !["button", "checkbox", "radio", "submit", "reset"].includes(target.type);
  }
  return false;
}

/**
 * Keys of one action, for display ("Enter / A").
 * @param {Record<string, string[]>} shortcuts
 * @param {string} action
 */
export function keysFor(shortcuts, action) {
  const keys = shortcuts?.[action] || [];
  return keys.map(keyLabel).join(" / ");
}
