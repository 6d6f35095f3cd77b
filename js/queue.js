// The progress line and the queue preview.

import { h } from "./dom.js";

const fmt = new Intl.NumberFormat("en-US");

/**
 * @typedef {{rate: number | null, low: number | null, high: number | null, n: number}} Agreement
 * @typedef {{done?: number, skipped?: number, total?: number, agreement?: Agreement,
 *   store?: string, annotator?: string, preparing?: boolean, llm?: boolean}} Progress
 * @typedef {{item_id: string, reason: string, preview: string}} QueueEntry
 */

/** @param {number} x */
const pct = (x) => `${Math.round(x * 100)}%`;

/**
 * "reviews.labels.db · 1,204 / 20,000 reviewed · 3 skipped · LLM agrees 87% (85–89%, n=1,204)"
 * @param {Progress} p
 */
export function progressText(p) {
  if (!p || p.total === undefined) return "";
  const parts = [];
  if (p.store) parts.push(p.store);
  parts.push(`${fmt.format(p.done || 0)} / ${fmt.format(p.total || 0)} reviewed`);
  if (p.skipped) parts.push(`${fmt.format(p.skipped)} skipped`);
  const a = p.agreement;
  if (p.llm === false) {
    // no LLM in this session: say nothing about one
  } else if (a && a.rate !== null && a.rate !== undefined) {
    const range = a.low !== null && a.high !== null ? ` (${pct(a.low)}–${pct(a.high)}` : " (";
    parts.push(`LLM agrees ${pct(a.rate)}${range}, n=${fmt.format(a.n)})`);
  } else {
    parts.push("LLM agreement: no reviewed proposals yet");
  }
  if (p.annotator) parts.push(`as ${p.annotator}`);
  if (p.preparing) parts.push("preparing the ranking…");
  return parts.join(" · ");
}

/**
 * @param {HTMLElement} node
 * @param {QueueEntry[]} queue
 */
export function fillQueue(node, queue) {
  if (!queue || queue.length === 0) {
    node.replaceChildren(h("span", { cls: "llmlabel-queue-empty", text: "next: nothing queued" }));
    return;
  }
  const list = h(
    "ol",
    { cls: "llmlabel-queue-list" },
    queue.map((q) =>
      h("li", { cls: "llmlabel-queue-item", attrs: { "data-item-id": String(q.item_id) } }, [
        h("span", { cls: "llmlabel-queue-id", text: `#${q.item_id}` }),
        h("span", { cls: "llmlabel-queue-reason", text: q.reason }),
        h("span", { cls: "llmlabel-queue-preview", text: q.preview, attrs: { dir: "auto" } }),
      ]),
    ),
  );
  node.replaceChildren(h("span", { cls: "llmlabel-queue-caption", text: "next:" }), list);
}
