// The compact history under the card: this reviewer's last 20 decided items, newest first
// (item, decision, time, a mark for a note). A row opens that item again.

import { h, show } from "../dom.js";
import { TRAITS } from "../protocol.js";
import { createScope } from "./scope.js";

/**
 * @typedef {{item_id: string, kind: string, labels: string[], time: number,
 *   note?: string | null}} HistoryRow
 */

/**
 * @typedef {object} HistoryPart
 * @property {HTMLElement} node
 * @property {() => void} render
 * @property {() => void} cleanup
 */

/**
 * What a decision was, in a word or two: the labels, or "skip".
 * @param {{kind?: string | null, labels?: string[] | null}} d
 */
export function decisionText(d) {
  if (d.kind === "skip") return "skip";
  const labels = (d.labels || []).join(", ") || "no label";
  return d.kind === "accept" ? `${labels} (LLM's)` : labels;
}

/**
 * A time of day ("14:03") in the reader's locale, from epoch milliseconds.
 * @param {number | null | undefined} ms
 */
export function clockTime(ms) {
  if (typeof ms !== "number") return "";
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * @param {import("./context.js").ViewContext} ctx
 * @param {{go: (itemId: string) => void}} hooks
 * @returns {HistoryPart}
 */
export function createHistory(ctx, hooks) {
  const scope = createScope(ctx.model);
  const list = h("ol", { cls: "llmlabel-history-list" });
  const node = h("div", { cls: "llmlabel-history" }, [
    h("span", { cls: "llmlabel-history-caption", text: "your last decisions:" }),
    list,
  ]);

  function render() {
    /** @type {HistoryRow[]} */
    const rows = ctx.model.get(TRAITS.history) || [];
    const shown = ctx.current()?.item_id;
    show(node, rows.length > 0);
    list.replaceChildren(
      ...rows.map((r) => {
        const btn = h(
          "button",
          {
            cls: "llmlabel-history-row",
            attrs: { type: "button", "data-item-id": String(r.item_id), title: "open this item" },
          },
          [
            h("span", { cls: "llmlabel-history-id", text: `#${r.item_id}` }),
            h("span", {
              cls: "llmlabel-history-decision",
              text: decisionText(r),
              attrs: { dir: "auto" },
            }),
            h("span", { cls: "llmlabel-history-time", text: clockTime(r.time) }),
            h("span", {
              cls: "llmlabel-history-note",
              text: r.note ? "✎ note" : "",
              attrs: r.note ? { title: r.note } : {},
            }),
          ],
        );
        if (r.item_id === shown) btn.setAttribute("aria-current", "true");
        return h("li", {}, [btn]);
      }),
    );
  }

  /** @param {MouseEvent} ev */
  function onClick(ev) {
    const row = /** @type {HTMLElement} */ (ev.target).closest(".llmlabel-history-row");
    const id = row?.getAttribute("data-item-id");
    if (id != null && ev.detail <= 1) hooks.go(id);
  }

  scope.listen(list, "click", onClick);
  return { node, render, cleanup: scope.dispose };
}
