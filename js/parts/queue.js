// The queue preview under the card: what comes next and why. A row opens that item.

import { h } from "../dom.js";
import { TRAITS } from "../protocol.js";
import { fillQueue } from "../queue.js";
import { createScope } from "./scope.js";

/**
 * @typedef {object} QueuePart
 * @property {HTMLElement} node
 * @property {() => void} render
 * @property {() => void} cleanup
 */

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @param {{go?: (itemId: string) => void}} [hooks]
 * @returns {QueuePart}
 */
export function createQueue(model, hooks = {}) {
  const scope = createScope(model);
  const node = h("div", { cls: "llmlabel-queue" });

  /** @param {MouseEvent} ev */
  function onClick(ev) {
    const row = /** @type {HTMLElement} */ (ev.target).closest(".llmlabel-queue-item");
    const id = row?.getAttribute("data-item-id");
    if (id != null && hooks.go && ev.detail <= 1) hooks.go(id);
  }

  scope.listen(node, "click", onClick);
  return {
    node,
    render: () => {
      fillQueue(node, model.get(TRAITS.queuePreview) || []);
      for (const id of node.querySelectorAll(".llmlabel-queue-id")) {
        id.setAttribute("title", "open this item now");
      }
    },
    cleanup: scope.dispose,
  };
}
