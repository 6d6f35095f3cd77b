// The queue preview under the card: what comes next and why.

import { h } from "../dom.js";
import { TRAITS } from "../protocol.js";
import { fillQueue } from "../queue.js";

/**
 * @typedef {object} QueuePart
 * @property {HTMLElement} node
 * @property {() => void} render
 * @property {() => void} cleanup
 */

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {QueuePart}
 */
export function createQueue(model) {
  const node = h("div", { cls: "llmlabel-queue" });
  return {
    node,
    render: () => fillQueue(node, model.get(TRAITS.queuePreview) || []),
    cleanup: () => {}, // no listeners of its own
  };
}
