// Small builders the prompt lab's parts share: labelled fields, text areas, buttons, sections.

import { h } from "../dom.js";

/** @param {string} label @param {HTMLElement} control */
export function field(label, control) {
  return h("label", { cls: "llmlabel-pl-field" }, [
    h("span", { cls: "llmlabel-pl-caption", text: label }),
    control,
  ]);
}

/** @param {string} cls @param {string} label @param {number} rows */
export function textArea(cls, label, rows) {
  const input = h("textarea", {
    cls: `${cls} llmlabel-pl-textarea`,
    attrs: { rows: String(rows), "aria-label": label, dir: "auto", spellcheck: "false" },
  });
  return { input, wrap: field(label, input) };
}

/**
 * A button styled as JupyterLab's own (its classes and theme variables; see widget.css).
 * @param {string} action @param {string} text @param {boolean} [primary] the main action
 */
export function button(action, text, primary = false) {
  const accent = primary ? " jp-mod-accept llmlabel-pl-primary" : "";
  return h("button", {
    cls: `jp-Button jp-mod-styled llmlabel-pl-btn${accent}`,
    text,
    attrs: { type: "button", "data-action": action },
  });
}

/** @param {string} title @param {HTMLElement[]} children */
export function section(title, children) {
  return h("section", { cls: "llmlabel-pl-section" }, [
    h("h4", { cls: "llmlabel-pl-title", text: title }),
    ...children,
  ]);
}

/**
 * Set a control's value unless the user is editing it (a trait echo must not eat keystrokes).
 * @param {HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement} input
 * @param {string} value
 */
export function setValue(input, value) {
  if (input.ownerDocument.activeElement !== input && input.value !== value) input.value = value;
}

/** @param {number | null | undefined} x */
export function pct(x) {
  return x == null ? "–" : `${(x * 100).toFixed(1)}%`;
}

/** @param {number} x */
export function count(x) {
  return Number(x || 0).toLocaleString("en-US");
}
