// The rendered prompt: the messages the draft would send for one item.

import { h } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { section, setValue } from "./controls.js";
import { createStaleMark } from "./stale.js";

/**
 * @typedef {object} RenderedPart
 * @property {HTMLElement} node
 * @property {HTMLInputElement} itemInput the item id box (in the lab's action row)
 * @property {() => void} render follow the `rendered` trait
 * @property {(draft: Record<string, any>) => void} markStale mark it stale unless made from `draft`
 * @property {() => void} cleanup
 */

/** @param {{role: string, content: string}} m */
function message(m) {
  const pre = h("pre", { cls: "llmlabel-pl-content", text: m.content, attrs: { dir: "auto" } });
  return h("div", { cls: "llmlabel-pl-message", attrs: { "data-role": m.role } }, [
    h("div", { cls: "llmlabel-pl-role", text: m.role }),
    pre,
  ]);
}

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {RenderedPart}
 */
export function createRendered(model) {
  const itemInput = h("input", {
    cls: "llmlabel-pl-item",
    attrs: { type: "text", placeholder: "item id", "aria-label": "Item id", autocomplete: "off" },
  });
  const box = h("div", { cls: "llmlabel-pl-rendered" });
  const stale = createStaleMark(box, "Stale: the draft changed since. Render it again.");
  return {
    node: section("Rendered prompt", [stale.node, box]),
    itemInput,
    render() {
      const r = model.get(PL_TRAITS.rendered) || {};
      /** @type {{role: string, content: string}[]} */
      const messages = r.messages || [];
      if (r.item_id != null) setValue(itemInput, String(r.item_id));
      box.replaceChildren(...messages.map(message));
      if (r.item_id != null) box.setAttribute("data-item-id", String(r.item_id));
      else box.removeAttribute("data-item-id");
    },
    markStale(draft) {
      const r = model.get(PL_TRAITS.rendered) || {};
      stale.update(r.messages?.length ? r.draft : undefined, draft);
    },
    cleanup: () => {}, // Enter in the item box comes through the lab's keydown handler
  };
}
