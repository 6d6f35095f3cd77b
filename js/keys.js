// Keyboard map: built from the `shortcuts` trait; resolves a KeyboardEvent to an action.

/**
 * @typedef {{action: string, label?: string}} Binding
 * @typedef {{name: string, description?: string, key?: string}} LabelSpec
 */

/** Modifier names in the one order a combination is written in ("Ctrl+Alt+Shift+Meta+key"). */
const MODIFIERS = ["Ctrl", "Alt", "Shift", "Meta"];
/** @type {Record<string, string>} */
const MODIFIER_NAMES = {
  ctrl: "Ctrl",
  control: "Ctrl",
  alt: "Alt",
  option: "Alt",
  shift: "Shift",
  meta: "Meta",
  cmd: "Meta",
  command: "Meta",
};

/**
 * Split "Ctrl+Shift+a" into its modifiers and its key ("+" itself is a key: "Ctrl++").
 * @param {string} spec
 * @returns {{mods: string[], key: string}}
 */
function splitCombo(spec) {
  const at = spec.length > 1 ? spec.lastIndexOf("+", spec.length - 2) : -1;
  if (at <= 0) return { mods: [], key: spec };
  return { mods: spec.slice(0, at).split("+"), key: spec.slice(at + 1) };
}

/**
 * A key or combination as it is bound: modifiers in one order, single characters
 * case-insensitive ("A" is "a", "shift+ctrl+A" is "Ctrl+Shift+a").
 * @param {string} spec
 */
export function normaliseKey(spec) {
  const { mods, key } = splitCombo(spec);
  let names = mods.map((m) => MODIFIER_NAMES[m.toLowerCase()] || m);
  if (shiftMakesCharacter(key)) names = names.filter((m) => m !== "Shift");
  const ordered = MODIFIERS.filter((m) => names.includes(m));
  const unknown = names.filter((m) => !MODIFIERS.includes(m));
  return [...ordered, ...unknown, key.length === 1 ? key.toLowerCase() : key].join("+");
}

/**
 * Whether Shift only chose the character ("?", "!", digits on AZERTY) rather than modify
 * the key: letters change case with Shift, named keys (Enter, Space, ...) do not change.
 * @param {string} key
 */
function shiftMakesCharacter(key) {
  return key.length === 1 && key !== " " && key.toLowerCase() === key.toUpperCase();
}

/**
 * The event as a bound key would be written ("Shift+Enter", "Ctrl+s", "?", "a").
 * @param {KeyboardEvent} event
 */
export function eventKey(event) {
  const mods = [];
  if (event.ctrlKey) mods.push("Ctrl");
  if (event.altKey) mods.push("Alt");
  if (event.shiftKey && !shiftMakesCharacter(event.key)) mods.push("Shift");
  if (event.metaKey) mods.push("Meta");
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  return [...mods, key].join("+");
}

/**
 * Whether Shift, Ctrl, Alt or Meta modify this key press (Shift that only chose a
 * character, as for "?", does not count).
 * @param {KeyboardEvent} event
 */
export function isModified(event) {
  return (
    event.ctrlKey ||
    event.altKey ||
    event.metaKey ||
    (event.shiftKey && !shiftMakesCharacter(event.key))
  );
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
 * The binding for a key event, or undefined. A key with Shift, Ctrl, Alt or Meta matches
 * only a combination bound as such ("Shift+Enter"), so Shift+Enter (run the cell), Ctrl+c
 * or Alt+1 never label anything unless the shortcuts say so.
 * @param {KeyboardEvent} event
 * @param {Map<string, Binding>} keymap
 */
export function bindingFor(event, keymap) {
  return keymap.get(eventKey(event));
}

/**
 * How a key or combination is written in the view ("Shift+Enter", "Space", "A").
 * @param {string} spec
 */
export function keyLabel(spec) {
  const { mods, key } = splitCombo(spec);
  return [...mods, singleKeyLabel(key)].join("+");
}

/** @param {string} key */
function singleKeyLabel(key) {
  const names = /** @type {Record<string, string>} */ ({
    " ": "Space",
    Enter: "Enter",
    Backspace: "Backspace",
    ArrowUp: "↑",
    ArrowDown: "↓",
    ArrowLeft: "←",
    ArrowRight: "→",
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
 * Whether a view just shown in `el` may take the keyboard: only if the user is still where
 * it appeared. In a notebook (JupyterLab, Notebook 7) its cell must still be the active one
 * (Shift+Enter and Run All move on to another cell) and the focus must be in that notebook
 * or nowhere; elsewhere nothing else may hold the focus. Never while someone is typing.
 * @param {HTMLElement} el
 */
export function mayTakeFocus(el) {
  const active = document.activeElement;
  if (isTextEntry(active)) return false;
  const idle = !active || active === document.body || active === document.documentElement;
  const cell = el.closest(".jp-Cell");
  if (!cell) return idle || el.contains(active);
  if (!cell.classList.contains("jp-mod-active")) return false;
  return idle || cell.contains(active) || /** @type {Element} */ (active).contains(cell);
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
