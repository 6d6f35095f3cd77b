// The prompt lab's status lines: error, notice, run progress and the cost estimate.

import { h, show } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { count } from "./controls.js";
import { createStaleMark } from "./stale.js";

/**
 * @typedef {object} LabStatusPart
 * @property {HTMLElement[]} nodes
 * @property {() => void} render error and notice
 * @property {() => boolean} renderProgress returns whether a run is going
 * @property {() => void} renderEstimate
 * @property {(draft: Record<string, any>) => void} markStale mark the estimate stale unless it
 *   was made from `draft`
 * @property {() => void} cleanup
 */

/**
 * The run's counts: answers (and how many of them are invalid) apart from failed requests.
 * @param {Record<string, any>} p the `progress` trait
 * @returns {HTMLElement[]}
 */
function runCounts(p) {
  const failed = Number(p.failed || 0);
  return [
    h("span", { cls: "llmlabel-pl-answered", text: `${count(p.answered)} answered` }),
    h("span", { cls: "llmlabel-pl-invalid", text: ` (${count(p.invalid)} invalid)` }),
    h("span", { text: " · " }),
    h("span", {
      cls: `llmlabel-pl-failed${failed ? " llmlabel-pl-has-failed" : ""}`,
      text: `${count(failed)} failed`,
    }),
    h("span", { text: ` · ${count(p.done)} / ${count(p.total)} done` }),
  ];
}

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {LabStatusPart}
 */
export function createLabStatus(model) {
  const errorLine = h("div", { cls: "llmlabel-error llmlabel-pl-error", attrs: { role: "alert" } });
  const noticeLine = h("div", {
    cls: "llmlabel-notice llmlabel-pl-notice",
    attrs: { role: "status" },
  });
  const progressLine = h("div", { cls: "llmlabel-pl-progress", attrs: { role: "status" } });
  const estimateLine = h("div", { cls: "llmlabel-pl-estimate" });
  const stale = createStaleMark(estimateLine, "Stale: the draft changed since. Estimate again.");

  function renderEstimate() {
    const e = model.get(PL_TRAITS.estimate) || {};
    if (e.requests == null) {
      estimateLine.textContent = "";
      return;
    }
    const cost = e.cost == null ? "price unknown" : `$${Number(e.cost).toFixed(4)}`;
    estimateLine.textContent =
      `Estimate for ${e.model}: ${count(e.items)} items · ${count(e.requests)} requests` +
      ` (${count(e.cached)} cached) · ~${count(e.prompt_tokens)} prompt + ` +
      `${count(e.completion_tokens)} completion tokens · ${cost}`;
  }

  function renderProgress() {
    const p = model.get(PL_TRAITS.progress) || {};
    const running = Boolean(p.running);
    const head = running ? "Running: " : "Last run: ";
    if (!p.total) progressLine.textContent = running ? "Running…" : "";
    else progressLine.replaceChildren(h("span", { text: head }), ...runCounts(p));
    return running;
  }

  return {
    nodes: [errorLine, noticeLine, progressLine, estimateLine, stale.node],
    render() {
      const err = model.get(PL_TRAITS.error) || "";
      errorLine.textContent = err;
      show(errorLine, Boolean(err));
      const note = model.get(PL_TRAITS.notice) || "";
      noticeLine.textContent = note;
      show(noticeLine, Boolean(note));
    },
    renderProgress,
    renderEstimate,
    markStale(draft) {
      const e = model.get(PL_TRAITS.estimate) || {};
      stale.update(e.requests == null ? undefined : e.draft, draft);
    },
    cleanup: () => {}, // no listeners of its own
  };
}
