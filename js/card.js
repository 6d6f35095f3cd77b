// The item card: text (with quoted words highlighted), metadata and the LLM's proposal.
// Everything from the data or the LLM goes in through textContent (see dom.js).

import { h } from "./dom.js";
import { quotedPhrases, segments } from "./highlight.js";
import { COLLAPSE_CHARS, COLLAPSE_LINES, LOW_CONFIDENCE } from "./protocol.js";

/**
 * @typedef {{labels: string[], valid: boolean, rationale?: string | null,
 *   confidence?: number | null, confidence_method?: string | null, source?: string | null,
 *   model?: string | null, prompt_version?: string | null, raw?: string | null,
 *   problem?: string | null, calibration?: string | null}} ProposalView
 * @typedef {{item_id: string, text: string, text_length?: number,
 *   meta?: Record<string, string>, proposal?: ProposalView | null, reason?: string,
 *   blind?: boolean, decision?: import("./parts/past.js").DecisionView | null}} Current
 */

const fmt = new Intl.NumberFormat("en-US");

/**
 * Whether a text starts collapsed.
 * @param {string} text
 */
export function isLong(text) {
  if (text.length > COLLAPSE_CHARS) return true;
  let lines = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    lines += 1;
    if (lines > COLLAPSE_LINES) return true;
  }
  return false;
}

/**
 * Fill the text element with plain and highlighted runs.
 * @param {HTMLElement} node
 * @param {Current} current
 */
export function fillText(node, current) {
  const text = current.text || "";
  if (!text.trim()) {
    node.replaceChildren(h("span", { cls: "llmlabel-empty-text", text: "(empty text)" }));
    return;
  }
  const rationale = current.proposal ? current.proposal.rationale : null;
  const runs = segments(text, quotedPhrases(rationale));
  node.replaceChildren(
    ...runs.map((r) =>
      r.mark ? h("mark", { cls: "llmlabel-hl", text: r.text }) : document.createTextNode(r.text),
    ),
  );
}

/**
 * Metadata as a small definition list, plus the item id.
 * @param {HTMLElement} node
 * @param {Current} current
 */
export function fillMeta(node, current) {
  const parts = [h("span", { cls: "llmlabel-item-id", text: `#${current.item_id}` })];
  for (const [key, value] of Object.entries(current.meta || {})) {
    parts.push(
      h("span", { cls: "llmlabel-meta-entry" }, [
        h("span", { cls: "llmlabel-meta-key", text: `${key}: ` }),
        h("span", { cls: "llmlabel-meta-value", text: value, attrs: { dir: "auto" } }),
      ]),
    );
  }
  node.replaceChildren(...parts);
}

/**
 * The proposal area in one of its states: valid, invalid, pending or absent.
 * @param {HTMLElement} node
 * @param {Current} current
 * @param {{busy: boolean, acceptKeys: string, llm?: boolean}} opts (llm false: the
 *   session has no LLM, so nothing here mentions one)
 */
export function fillProposal(node, current, opts) {
  const p = current.proposal;
  node.className = "llmlabel-proposal";
  if (!p) {
    node.classList.add("llmlabel-proposal-none");
    let text = opts.busy
      ? "LLM proposal pending. You can label this item now."
      : "No LLM proposal for this item: choose a label yourself.";
    if (opts.llm === false && !opts.busy) text = "Choose a label.";
    if (current.blind) {
      node.classList.add("llmlabel-proposal-blind");
      text = "Blind check: the LLM's answer is hidden until you choose a label.";
    }
    node.replaceChildren(h("div", { cls: "llmlabel-proposal-state", text }));
    return;
  }
  if (!p.valid) {
    node.classList.add("llmlabel-proposal-invalid");
    /** @type {HTMLElement[]} */
    const children = [
      h("div", {
        cls: "llmlabel-proposal-state",
        text: `The LLM's answer could not be used${p.problem ? `: ${p.problem}` : "."} Label this item yourself.`,
        attrs: { dir: "auto" },
      }),
    ];
    if (p.raw) {
      children.push(
        h("div", { cls: "llmlabel-raw-caption", text: "Raw answer:" }),
        h("pre", { cls: "llmlabel-raw", text: p.raw, attrs: { dir: "auto" } }),
      );
    }
    children.push(sourceLine(p));
    node.replaceChildren(...children);
    return;
  }
  node.classList.add("llmlabel-proposal-valid");
  const head = h("div", { cls: "llmlabel-proposal-head" }, [
    h("span", { cls: "llmlabel-proposal-caption", text: "LLM proposes ▸ " }),
    ...(p.labels.length
      ? p.labels.map((l) =>
          h("span", { cls: "llmlabel-proposed", text: l, attrs: { dir: "auto" } }),
        )
      : [h("span", { cls: "llmlabel-proposed llmlabel-proposed-empty", text: "no label" })]),
    confidence(p),
  ]);
  /** @type {HTMLElement[]} */
  const children = [head];
  if (p.calibration) {
    children.push(h("div", { cls: "llmlabel-calibration", text: p.calibration }));
  }
  if (p.rationale) {
    children.push(
      h("div", { cls: "llmlabel-rationale" }, [
        h("span", { cls: "llmlabel-rationale-caption", text: "because: " }),
        h("span", { cls: "llmlabel-rationale-text", text: p.rationale, attrs: { dir: "auto" } }),
      ]),
    );
  }
  children.push(sourceLine(p));
  node.replaceChildren(...children);
}

/**
 * Confidence as a bar, a number and the method; "low" in words below the threshold.
 * @param {ProposalView} p
 */
function confidence(p) {
  const c = typeof p.confidence === "number" && Number.isFinite(p.confidence) ? p.confidence : null;
  if (c === null) {
    return h("span", { cls: "llmlabel-conf-none", text: "confidence not reported" });
  }
  const clamped = Math.min(1, Math.max(0, c));
  const low = clamped < LOW_CONFIDENCE;
  const fill = h("span", { cls: "llmlabel-conf-fill" });
  fill.style.width = `${Math.round(clamped * 100)}%`;
  const bar = h("span", {
    cls: `llmlabel-conf${low ? " llmlabel-conf-low" : ""}`,
    attrs: {
      role: "meter",
      "aria-label": "LLM confidence",
      "aria-valuemin": "0",
      "aria-valuemax": "1",
      "aria-valuenow": String(clamped),
    },
  });
  bar.appendChild(fill);
  const method = p.confidence_method ? ` (${p.confidence_method})` : "";
  return h("span", { cls: "llmlabel-conf-wrap" }, [
    bar,
    h("span", { cls: "llmlabel-conf-number", text: `${clamped.toFixed(2)}${method}` }),
    low ? h("span", { cls: "llmlabel-conf-lowtag", text: "low" }) : null,
  ]);
}

/**
 * Where the proposal came from: recorded annotations are never presented as live.
 * @param {ProposalView} p
 */
function sourceLine(p) {
  let text;
  if (p.source === "recorded") {
    text = `recorded: ${p.model || "earlier LLM run"}`;
  } else {
    const parts = [p.model || p.source || "LLM"];
    if (p.prompt_version) parts.push(`prompt ${String(p.prompt_version).slice(0, 8)}`);
    text = parts.join(" · ");
  }
  return h("div", { cls: "llmlabel-source", text, attrs: { dir: "auto" } });
}

/**
 * Caption of the expand button.
 * @param {Current} current
 * @param {boolean} expanded
 */
export function expandCaption(current, expanded) {
  if (expanded) return "Show less";
  const n = current.text_length || current.text.length;
  return `Show all (${fmt.format(n)} characters)`;
}

/**
 * A note when Python capped the text.
 * @param {Current} current
 */
export function truncationNote(current) {
  const n = current.text_length || 0;
  if (n > current.text.length) {
    return `Showing the first ${fmt.format(current.text.length)} of ${fmt.format(n)} characters.`;
  }
  return "";
}
