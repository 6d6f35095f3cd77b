// PromptLab view entry point (anywidget): edit a draft prompt, render it for an item, estimate
// and run it, compare versions and promote one. The view computes nothing: each button sends
// an intent carrying the edited draft, and Python answers through the traits. Its parts
// (js/lab/: draft, rendered prompt, status, versions, compare) each render themselves.

import { h } from "./dom.js";
import { createCompare } from "./lab/compare.js";
import { button } from "./lab/controls.js";
import { createDraft } from "./lab/draft.js";
import { createRendered } from "./lab/rendered.js";
import { createLabStatus } from "./lab/status.js";
import { createVersions } from "./lab/versions.js";
import { createScope } from "./parts/scope.js";
import { PL_MSG, PL_TRAITS } from "./prompt_protocol.js";

/**
 * @typedef {import("@anywidget/types").AnyModel} AnyModel
 * @typedef {import("./lab/draft.js").Draft} Draft
 * @typedef {import("./lab/versions.js").VersionRow} VersionRow
 */

/**
 * @typedef {object} Lab
 * @property {AnyModel} model
 * @property {HTMLElement} root
 * @property {HTMLButtonElement} cancelBtn
 * @property {import("./lab/draft.js").DraftPart} draft
 * @property {import("./lab/rendered.js").RenderedPart} rendered
 * @property {import("./lab/status.js").LabStatusPart} status
 * @property {import("./lab/versions.js").VersionsPart} versions
 * @property {import("./lab/compare.js").ComparePart} compare
 */

/**
 * Build a prompt lab view of `model` inside `el`; returns a cleanup that undoes everything.
 * @param {AnyModel} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function createPromptLab(model, el) {
  const lab = assemble(model);
  el.appendChild(lab.root);
  const scope = createScope(model);
  scope.listen(lab.root, "click", (ev) => onClick(lab, ev));
  scope.listen(lab.root, "keydown", (ev) => onKeyDown(lab, ev));
  const renderVersions = () => renderVersionsAndPickers(lab);
  const renderProgress = () => renderRun(lab);
  const markStale = () => markStaleParts(lab);
  const thenMark = (/** @type {() => void} */ draw) => () => {
    draw();
    markStale();
  };
  // any edit of the draft marks the rendered prompt and the estimate stale at once
  scope.listen(lab.draft.node, "input", markStale);
  scope.listen(lab.draft.node, "change", markStale);
  for (const [trait, draw] of /** @type {[string, () => void][]} */ ([
    [PL_TRAITS.draft, thenMark(lab.draft.render)],
    [PL_TRAITS.rendered, thenMark(lab.rendered.render)],
    [PL_TRAITS.estimate, thenMark(lab.status.renderEstimate)],
    [PL_TRAITS.versions, renderVersions],
    [PL_TRAITS.versionsTotal, renderVersions],
    [PL_TRAITS.comparison, lab.compare.render],
    [PL_TRAITS.progress, renderProgress],
    [PL_TRAITS.error, lab.status.render],
    [PL_TRAITS.notice, lab.status.render],
  ])) {
    scope.onModel(trait, draw);
  }
  lab.draft.render();
  lab.rendered.render();
  lab.status.renderEstimate();
  renderVersions();
  lab.compare.render();
  renderProgress();
  lab.status.render();
  markStale();
  const parts = [lab.draft, lab.rendered, lab.status, lab.versions, lab.compare];
  return () => {
    scope.dispose();
    for (const part of parts) part.cleanup();
    lab.root.remove();
  };
}

/**
 * Make the parts and lay out their DOM.
 * @param {AnyModel} model
 * @returns {Lab}
 */
function assemble(model) {
  const root = h("div", {
    cls: "llmlabel-prompt-lab",
    attrs: {
      tabindex: "-1",
      role: "group",
      "aria-label": "Prompt lab",
      "data-lm-suppress-shortcuts": "true",
    },
  });
  const rendered = createRendered(model);
  const cancelBtn = button("cancel", "Cancel run");
  const actions = h("div", { cls: "llmlabel-pl-actions" }, [
    rendered.itemInput,
    button("render", "Render prompt"),
    button("next", "Next decided item"),
    button("estimate", "Estimate cost"),
    button("run", "Run draft", true),
    cancelBtn,
  ]);
  /** @type {Lab} */
  const lab = {
    model,
    root,
    cancelBtn,
    draft: createDraft(model),
    rendered,
    status: createLabStatus(model),
    versions: createVersions(model),
    compare: createCompare(model),
  };
  root.append(
    lab.draft.node,
    actions,
    ...lab.status.nodes,
    rendered.node,
    lab.versions.node,
    lab.compare.node,
  );
  return lab;
}

/** @param {Lab} lab */
function renderVersionsAndPickers(lab) {
  const rows = lab.versions.render();
  lab.root.setAttribute("data-versions", String(rows.length));
  lab.compare.renderPickers(rows);
}

/** @param {Lab} lab */
function markStaleParts(lab) {
  const now = lab.draft.read();
  lab.rendered.markStale(now);
  lab.status.markStale(now);
}

/** @param {Lab} lab */
function renderRun(lab) {
  const running = lab.status.renderProgress();
  lab.root.setAttribute("data-running", String(running));
  lab.root.setAttribute("aria-busy", String(running));
  lab.cancelBtn.disabled = !running;
}

/** @param {Lab} lab */
function renderIntent(lab) {
  const id = lab.rendered.itemInput.value.trim();
  return { kind: PL_MSG.render, draft: lab.draft.read(), item_id: id, next: !id };
}

/** @param {Lab} lab @param {MouseEvent} ev */
function onClick(lab, ev) {
  const btn = /** @type {HTMLElement} */ (ev.target).closest("button");
  if (!btn || !lab.root.contains(btn) || btn.hasAttribute("disabled")) return;
  const action = btn.getAttribute("data-action");
  const send = (/** @type {Record<string, any>} */ content) => lab.model.send(content);
  if (action === "render") send(renderIntent(lab));
  else if (action === "next") send({ kind: PL_MSG.render, draft: lab.draft.read(), next: true });
  else if (action === "estimate") send({ kind: PL_MSG.estimate, draft: lab.draft.read() });
  else if (action === "run") send({ kind: PL_MSG.run, draft: lab.draft.read() });
  else if (action === "cancel") send({ kind: PL_MSG.cancel });
  else if (action === "compare") send({ kind: PL_MSG.compare, ...lab.compare.picked() });
  else if (action === "promote") {
    send({ kind: PL_MSG.promote, version: btn.getAttribute("data-version") || "" });
  }
}

/** @param {Lab} lab @param {KeyboardEvent} ev */
function onKeyDown(lab, ev) {
  // Typing here must never reach JupyterLab's shortcuts (a, b, d d, Shift+Enter, ...);
  // Ctrl/Cmd combinations (save, copy) still go through.
  if (!(ev.ctrlKey || ev.metaKey)) ev.stopPropagation();
  if (ev.target === lab.rendered.itemInput && ev.key === "Enter" && !ev.repeat) {
    ev.preventDefault();
    lab.model.send(renderIntent(lab));
  }
}

/** @type {import("@anywidget/types").Render} */
function render({ model, el }) {
  return createPromptLab(model, el);
}

export default { render };
