// The queue filter: a small form (LLM label, confidence range, state, text) and the active
// filters as removable chips. Python does the filtering (the `filter` intent); the chips
// come back in the `queue_filter` trait, so a reload shows them again.

import { h, show } from "../dom.js";
import { TRAITS } from "../protocol.js";
import { createScope } from "./scope.js";

/** @typedef {import("./context.js").ViewContext} ViewContext */

/**
 * @typedef {{field: string, text: string}} Chip
 * @typedef {{fields?: Record<string, unknown>, chips?: Chip[]}} QueueFilterState
 */

/**
 * @typedef {object} QueueFilterPart
 * @property {HTMLElement} bar the chips (hidden when no filter is active)
 * @property {HTMLElement} panel the form
 * @property {() => void} open
 * @property {() => void} hide
 * @property {() => void} render redraw the chips from the model
 * @property {() => void} answered a new revision arrived: send a removal held back, if any
 * @property {() => void} cleanup
 */

/**
 * @typedef {object} QueueFilterHooks
 * @property {(filters: Record<string, unknown>) => boolean} send the whole new filter; false
 *   when not sent (another intent is in flight)
 * @property {() => void} close close the panel, focus back on the view
 */

/** @type {[string, string][]} value, words */
export const STATES = [
  ["undecided", "undecided"],
  ["skipped", "skipped"],
  ["decided", "decided"],
  ["invalid", "invalid proposal"],
];

/**
 * @param {string} cls
 * @param {string} label
 * @param {Record<string, string>} [attrs]
 */
const input = (cls, label, attrs = {}) =>
  h("input", { cls: `llmlabel-qf-${cls}`, attrs: { "aria-label": label, ...attrs } });

/**
 * @param {string} cls
 * @param {string} label
 * @param {[string, string][]} options value, text ("" = any)
 */
function select(cls, label, options) {
  return h(
    "select",
    { cls: `llmlabel-qf-${cls}`, attrs: { "aria-label": label } },
    options.map(([value, text]) => h("option", { text, attrs: { value } })),
  );
}

/**
 * What the form adds to the current filter; null when a number is not a number.
 * @param {Record<string, HTMLInputElement | HTMLSelectElement>} f
 * @param {Record<string, unknown>} current
 * @returns {Record<string, unknown> | string}
 */
export function formFilters(f, current) {
  const out = { ...current };
  if (f.label.value) out.labels = [f.label.value];
  if (f.state.value) out.states = [f.state.value];
  if (f.text.value.trim()) out.text = f.text.value.trim();
  if (f.low.value !== "" || f.high.value !== "") {
    const low = f.low.value === "" ? 0 : Number(f.low.value);
    const high = f.high.value === "" ? 1 : Number(f.high.value);
    if (!(low >= 0 && high <= 1 && low <= high)) {
      return "confidence: give 0 ≤ from ≤ to ≤ 1";
    }
    out.confidence = [low, high];
  }
  return out;
}

/** The form's fields, its button and problem line, and the panel holding them. */
function buildForm() {
  const f = {
    label: select("label", "LLM label", [["", "any LLM label"]]),
    low: input("low", "confidence from", { type: "number", min: "0", max: "1", step: "0.05" }),
    high: input("high", "confidence to", { type: "number", min: "0", max: "1", step: "0.05" }),
    state: select("state", "state", [["", "any state"], ...STATES]),
    text: input("text", "text contains", { type: "text", placeholder: "text contains" }),
  };
  const applyBtn = h("button", {
    cls: "llmlabel-btn llmlabel-qf-apply",
    text: "Filter",
    attrs: { type: "button" },
  });
  const problem = h("span", { cls: "llmlabel-qf-problem", attrs: { role: "alert" } });
  const llmPart = h("span", { cls: "llmlabel-qf-llm" }, [
    f.label,
    h("span", { cls: "llmlabel-qf-caption", text: "confidence" }),
    f.low,
    h("span", { cls: "llmlabel-qf-caption", text: "to" }),
    f.high,
  ]);
  const panel = h("div", { cls: "llmlabel-panel llmlabel-qf" }, [
    llmPart,
    f.state,
    f.text,
    applyBtn,
    problem,
  ]);
  return { f, applyBtn, problem, llmPart, panel };
}

/**
 * One active filter as a chip with its remove button.
 * @param {Chip} c
 */
function chip(c) {
  return h("span", { cls: "llmlabel-qf-chip", attrs: { "data-field": c.field } }, [
    h("span", { cls: "llmlabel-qf-chip-text", text: c.text, attrs: { dir: "auto" } }),
    h("button", {
      cls: "llmlabel-qf-remove",
      text: "×",
      attrs: { type: "button", "aria-label": `remove filter: ${c.text}`, "data-field": c.field },
    }),
  ]);
}

/**
 * Removals the kernel has not answered yet. Quick clicks on several × build on each other,
 * and one made while another intent is in flight is sent when that one is answered.
 * @param {() => Record<string, unknown>} fields the kernel's active filter fields
 * @param {(filters: Record<string, unknown>) => boolean} send false: not sent (busy)
 * @param {() => void} redraw
 */
function removals(fields, send, redraw) {
  /** @type {Record<string, unknown> | null} */
  let wanted = null;
  let unsent = false;
  return {
    /** @param {string} field */
    remove(field) {
      wanted = { ...(wanted || fields()) };
      delete wanted[field];
      unsent = !send(wanted);
      redraw();
    },
    /** A new revision, after the intents unlock: the intent in flight was answered. */
    answered() {
      if (wanted && unsent) {
        unsent = !send(wanted);
      } else if (wanted) {
        wanted = null; // the kernel's chips are the truth again
        redraw();
      }
    },
    reset() {
      wanted = null;
      unsent = false;
    },
    /** @param {Chip[]} chips the kernel's chips, less those removed and not yet answered */
    shown(chips) {
      const keep = wanted ? Object.keys(wanted) : null;
      return chips.filter((c) => !keep || keep.includes(c.field));
    },
  };
}

/**
 * @param {ViewContext} ctx
 * @param {QueueFilterHooks} hooks
 * @returns {QueueFilterPart}
 */
export function createQueueFilter(ctx, hooks) {
  const scope = createScope(ctx.model);
  const state = () => /** @type {QueueFilterState} */ (ctx.model.get(TRAITS.queueFilter) || {});
  const { f, applyBtn, problem, llmPart, panel } = buildForm();
  const bar = h("div", { cls: "llmlabel-qf-chips", attrs: { "aria-label": "queue filters" } });
  show(panel, false);
  show(bar, false);

  function apply() {
    const out = formFilters(f, state().fields || {});
    if (typeof out === "string") {
      problem.textContent = out;
      return;
    }
    problem.textContent = "";
    hooks.close();
    pending.reset();
    hooks.send(out);
  }

  const pending = removals(
    () => state().fields || {},
    hooks.send,
    () => render(),
  );

  function render() {
    const chips = pending.shown(state().chips || []);
    bar.replaceChildren(...chips.map(chip));
    show(bar, chips.length > 0);
  }

  /** @param {KeyboardEvent} ev */
  function onKey(ev) {
    ev.stopPropagation(); // typing in the form never triggers label keys
    if (ev.key === "Escape") {
      ev.preventDefault();
      hooks.close();
    } else if (ev.key === "Enter" && !ev.repeat) {
      ev.preventDefault();
      apply();
    }
  }

  scope.listen(panel, "keydown", onKey);
  scope.listen(applyBtn, "click", apply);
  scope.listen(bar, "click", (ev) => {
    const btn = /** @type {HTMLElement} */ (ev.target).closest("button");
    const field = btn?.getAttribute("data-field");
    if (field) pending.remove(field);
  });
  scope.onModel(TRAITS.queueFilter, render);
  render();
  return {
    bar,
    panel,
    open() {
      const opts = [["", "any LLM label"], ...ctx.labels().map((l) => [l.name, l.name])];
      f.label.replaceChildren(
        ...opts.map(([value, text]) => h("option", { text, attrs: { value } })),
      );
      for (const el of [f.low, f.high, f.text]) el.value = "";
      f.state.value = "";
      problem.textContent = "";
      const llm = ctx.model.get(TRAITS.progress)?.llm !== false;
      show(llmPart, llm); // no LLM in this session: no LLM fields
      show(panel, true);
      (llm ? f.label : f.state).focus({ preventScroll: true });
    },
    hide: () => show(panel, false),
    render,
    answered: pending.answered,
    cleanup: scope.dispose,
  };
}
