// The progress line and the queue preview.

import { h } from "./dom.js";

const fmt = new Intl.NumberFormat("en-US");

/**
 * @typedef {{rate: number | null, low: number | null, high: number | null, n: number}} Agreement
 * @typedef {{value: number | null, low: number | null, high: number | null, level: number,
 *   n_human: number, n_effective: number | null, method: string, pending?: boolean}} PoolFigure
 * @typedef {{done?: number, skipped?: number, total?: number, agreement?: Agreement,
 *   pool?: PoolFigure | null, store?: string, annotator?: string, preparing?: boolean,
 *   llm?: boolean}} Progress
 * @typedef {{item_id: string, reason: string, preview: string}} QueueEntry
 */

/** @param {number} x */
const pct = (x) => `${Math.round(x * 100)}%`;

/** @param {number | null} low @param {number | null} high */
const range = (low, high) => (low !== null && high !== null ? `${pct(low)}–${pct(high)}` : "");

/**
 * The LLM's accuracy on the whole pool (session.pool_estimates(), the Dashboard's figure):
 * "LLM accuracy on the pool 79% (72%–85%, n=143)", n the human labels it rests on.
 * @param {PoolFigure} f
 */
function poolText(f) {
  const r = range(f.low, f.high);
  if (f.value === null || f.value === undefined) {
    return `LLM accuracy on the pool: not enough audit labels yet${r ? ` (${r})` : ""}`;
  }
  return `LLM accuracy on the pool ${pct(f.value)} (${r ? `${r}, ` : ""}n=${fmt.format(f.n_human)})`;
}

/**
 * "reviews.labels.db · 1,204 / 20,000 reviewed · 3 skipped · LLM accuracy on the pool 79%
 * (72%–85%, n=143) · acceptance rate 87% (85%–89%, n=1,204)"
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
  } else {
    if (p.pool) parts.push(poolText(p.pool));
    if (a && a.rate !== null && a.rate !== undefined) {
      // accepts / (accepts + corrections) on the reviewed items: not an estimate for the pool
      const r = range(a.low, a.high);
      parts.push(`acceptance rate ${pct(a.rate)} (${r ? `${r}, ` : ""}n=${fmt.format(a.n)})`);
    } else {
      parts.push("no reviewed proposals yet");
    }
  }
  if (p.annotator) parts.push(`as ${p.annotator}`);
  if (p.preparing) parts.push("preparing the ranking…");
  return parts.join(" · ");
}

/**
 * The progress line's tooltip: how the pool figure was made, and what the acceptance rate is.
 * @param {Progress} p
 */
export function progressTitle(p) {
  if (!p || p.llm === false) return "";
  const lines = [];
  const f = p.pool;
  if (f) {
    const eff = f.n_effective === null ? "" : `, effective n ${f.n_effective.toFixed(1)}`;
    lines.push(
      `LLM accuracy on the whole pool (session.pool_estimates()), ${pct(f.level)} interval: ${f.method}; ${fmt.format(f.n_human)} human labels${eff}.${f.pending ? " Updating…" : ""}`,
    );
  }
  lines.push(
    "Acceptance rate: how often reviewers kept the LLM's proposal, on the reviewed items only (not an estimate for the pool).",
  );
  return lines.join("\n");
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
