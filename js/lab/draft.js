// The draft prompt editor: instructions, label descriptions and the prompt recipe options.

import { h } from "../dom.js";
import { DEMONSTRATIONS, PL_TRAITS } from "../prompt_protocol.js";
import { field, section, setValue, textArea } from "./controls.js";

/**
 * @typedef {{instructions: string, descriptions: Record<string, string>, shots: number,
 *   demonstrations: string, chain_of_thought: boolean, model: string, temperature: number,
 *   sample: number | null}} Draft
 */

/**
 * @typedef {object} DraftPart
 * @property {HTMLElement} node
 * @property {() => void} render follow the `draft` trait (never over what the user is typing)
 * @property {() => Draft} read the draft as edited in the view
 * @property {() => void} cleanup
 */

function optionControls() {
  const number = (/** @type {string} */ cls, /** @type {Record<string, string>} */ attrs) =>
    h("input", { cls, attrs: { type: "number", ...attrs } });
  return {
    shots: number("llmlabel-pl-shots", { min: "0", max: "50", step: "1", "aria-label": "Shots" }),
    demonstrations: h(
      "select",
      { cls: "llmlabel-pl-demonstrations", attrs: { "aria-label": "Demonstrations" } },
      DEMONSTRATIONS.map((d) => h("option", { text: d, attrs: { value: d } })),
    ),
    cot: h("input", {
      cls: "llmlabel-pl-cot",
      attrs: { type: "checkbox", "aria-label": "Chain of thought" },
    }),
    model: h("input", {
      cls: "llmlabel-pl-model",
      attrs: { type: "text", "aria-label": "Model", spellcheck: "false", autocomplete: "off" },
    }),
    temperature: number("llmlabel-pl-temperature", {
      min: "0",
      max: "2",
      step: "0.1",
      "aria-label": "Temperature",
    }),
    sample: number("llmlabel-pl-sample", {
      min: "1",
      step: "1",
      placeholder: "all",
      "aria-label": "Sample",
    }),
  };
}

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {DraftPart}
 */
export function createDraft(model) {
  const instructions = textArea("llmlabel-pl-instructions", "Instructions", 4);
  const descriptionsBox = h("div", { cls: "llmlabel-pl-descriptions" });
  const c = optionControls();
  const options = h("div", { cls: "llmlabel-pl-options" }, [
    field("Shots", c.shots),
    field("Demonstrations", c.demonstrations),
    field("Chain of thought", c.cot),
    field("Model", c.model),
    field("Temperature", c.temperature),
    field("Run on (decided items; empty = all)", c.sample),
  ]);
  /** @type {Map<string, HTMLTextAreaElement>} label name -> its description textarea */
  let descInputs = new Map();

  /** @param {Record<string, string>} desc */
  function renderDescriptions(desc) {
    const names = Object.keys(desc);
    if (names.join("\u0000") !== [...descInputs.keys()].join("\u0000")) {
      descInputs = new Map(
        names.map((name) => [name, textArea("llmlabel-pl-description", name, 2).input]),
      );
      descriptionsBox.replaceChildren(
        ...[...descInputs].map(([name, input]) => {
          input.setAttribute("data-label", name);
          return field(`Label “${name}”`, input);
        }),
      );
    }
    for (const [name, input] of descInputs) setValue(input, desc[name] ?? "");
  }

  function render() {
    /** @type {Partial<Draft>} */
    const d = model.get(PL_TRAITS.draft) || {};
    setValue(instructions.input, d.instructions ?? "");
    renderDescriptions(d.descriptions || {});
    setValue(c.shots, String(d.shots ?? 0));
    setValue(c.demonstrations, d.demonstrations ?? "similar");
    if (c.cot.ownerDocument.activeElement !== c.cot) c.cot.checked = Boolean(d.chain_of_thought);
    setValue(c.model, d.model ?? "");
    setValue(c.temperature, String(d.temperature ?? 0));
    setValue(c.sample, d.sample == null ? "" : String(d.sample));
  }

  /** @returns {Draft} */
  function read() {
    /** @type {Record<string, string>} */
    const descriptions = {};
    for (const [name, input] of descInputs) descriptions[name] = input.value;
    const n = c.sample.value.trim();
    return {
      instructions: instructions.input.value,
      descriptions,
      shots: Number(c.shots.value || 0),
      demonstrations: c.demonstrations.value,
      chain_of_thought: c.cot.checked,
      model: c.model.value,
      temperature: Number(c.temperature.value || 0),
      sample: n === "" ? null : Number(n),
    };
  }

  return {
    node: section("Draft", [instructions.wrap, descriptionsBox, options]),
    render,
    read,
    cleanup: () => {}, // no listeners of its own: the lab's root handles keys and clicks
  };
}
