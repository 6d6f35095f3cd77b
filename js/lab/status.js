// The prompt lab's status lines: error, notice, run progress and the cost estimate.

import { h, show } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { count } from "./controls.js";

/**
 * @typedef {object} LabStatusPart
 * @property {HTMLElement[]} nodes
 * @property {() => void} render error and notice
 * @property {() => boolean} renderProgress returns whether a run is going
 * @property {() => void} renderEstimate
 * @property {() => void} cleanup
 */

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
    const answered = `${count(p.done)} / ${count(p.total)} answered`;
    if (running) progressLine.textContent = p.total ? `Running: ${answered}` : "Running…";
    else progressLine.textContent = p.total ? `Last run: ${answered}` : "";
    return running;
  }

  return {
    nodes: [errorLine, noticeLine, progressLine, estimateLine],
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
    cleanup: () => {}, // no listeners of its own
  };
}
