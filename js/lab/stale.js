// Stale marks: the rendered prompt and the cost estimate were made from one draft (Python
// echoes it back with them). Once the draft being edited differs from it, they say so, until
// the prompt is rendered or the cost estimated again.

import { h, show } from "../dom.js";

/**
 * @typedef {object} StaleMark
 * @property {HTMLElement} node the visible mark (hidden while fresh)
 * @property {(made: Record<string, any> | undefined, now: Record<string, any>) => void} update
 *   mark `target` stale when the draft it was `made` from differs from the draft `now`
 */

/**
 * The draft as Python keeps it, as one comparable string (the model name is trimmed, numbers
 * are numbers, label descriptions in name order).
 * @param {Record<string, any> | undefined} d
 */
export function draftKey(d) {
  if (!d) return "";
  const desc = d.descriptions || {};
  return JSON.stringify([
    String(d.instructions ?? ""),
    Object.keys(desc)
      .sort()
      .map((k) => [k, String(desc[k])]),
    Number(d.shots),
    String(d.demonstrations),
    Boolean(d.chain_of_thought),
    String(d.model ?? "").trim(),
    Number(d.temperature),
    d.sample == null ? null : Number(d.sample),
  ]);
}

/**
 * @param {HTMLElement} target gets `data-stale="true|false"`
 * @param {string} text what the mark says
 * @returns {StaleMark}
 */
export function createStaleMark(target, text) {
  const node = h("span", { cls: "llmlabel-pl-stale", text, attrs: { role: "status" } });
  show(node, false);
  return {
    node,
    update(made, now) {
      const stale = made != null && draftKey(made) !== draftKey(now);
      target.setAttribute("data-stale", String(stale));
      show(node, stale);
    },
  };
}
