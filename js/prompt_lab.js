// PromptLab view entry point (anywidget): edit a draft prompt, render it for an item, estimate
// and run it, compare versions and promote one. The view computes nothing: each button sends
// an intent carrying the edited draft, and Python answers through the traits.

import { h, show } from "./dom.js";
import { DEMONSTRATIONS, PL_MSG, PL_TRAITS } from "./prompt_protocol.js";

/**
 * @typedef {import("@anywidget/types").AnyModel} AnyModel
 * @typedef {{instructions: string, descriptions: Record<string, string>, shots: number,
 *   demonstrations: string, chain_of_thought: boolean, model: string, temperature: number,
 *   sample: number | null}} Draft
 * @typedef {{version: string, created?: string, model?: string, strategy?: string, n: number,
 *   agreement: number | null, low: number | null, high: number | null, kappa: number | null,
 *   invalid?: number, leaked: number, promoted: boolean}} VersionRow
 */

/**
 * Build a prompt lab view of `model` inside `el`; returns a cleanup that undoes everything.
 * @param {AnyModel} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function createPromptLab(model, el) {
  /** @type {[string, () => void][]} */
  const modelHandlers = [];
  /** @type {[EventTarget, string, EventListener][]} */
  const domHandlers = [];

  // ---------------------------------------------------------------- DOM skeleton
  const root = h("div", {
    cls: "llmlabel-prompt-lab",
    attrs: {
      tabindex: "-1",
      role: "group",
      "aria-label": "Prompt lab",
      "data-lm-suppress-shortcuts": "true",
    },
  });
  Object.assign(root.style, {
    boxSizing: "border-box",
    maxWidth: "70rem",
    padding: "0.5rem 0.75rem",
    border: "1px solid var(--jp-border-color1, #c8c8c8)",
    borderRadius: "6px",
    fontFamily: "var(--jp-ui-font-family, system-ui, sans-serif)",
    fontSize: "var(--jp-ui-font-size1, 13px)",
  });

  const instructions = textArea("llmlabel-pl-instructions", "Instructions", 4);
  const descriptionsBox = h("div", { cls: "llmlabel-pl-descriptions" });
  const shots = h("input", {
    cls: "llmlabel-pl-shots",
    attrs: { type: "number", min: "0", max: "50", step: "1", "aria-label": "Shots" },
  });
  const demonstrations = h(
    "select",
    { cls: "llmlabel-pl-demonstrations", attrs: { "aria-label": "Demonstrations" } },
    DEMONSTRATIONS.map((d) => h("option", { text: d, attrs: { value: d } })),
  );
  const cot = h("input", {
    cls: "llmlabel-pl-cot",
    attrs: { type: "checkbox", "aria-label": "Chain of thought" },
  });
  const modelInput = h("input", {
    cls: "llmlabel-pl-model",
    attrs: { type: "text", "aria-label": "Model", spellcheck: "false", autocomplete: "off" },
  });
  const temperature = h("input", {
    cls: "llmlabel-pl-temperature",
    attrs: { type: "number", min: "0", max: "2", step: "0.1", "aria-label": "Temperature" },
  });
  const sample = h("input", {
    cls: "llmlabel-pl-sample",
    attrs: { type: "number", min: "1", step: "1", placeholder: "all", "aria-label": "Sample" },
  });
  const options = h("div", { cls: "llmlabel-pl-options" }, [
    field("Shots", shots),
    field("Demonstrations", demonstrations),
    field("Chain of thought", cot),
    field("Model", modelInput),
    field("Temperature", temperature),
    field("Run on (decided items; empty = all)", sample),
  ]);
  Object.assign(options.style, { display: "flex", flexWrap: "wrap", gap: "0.75rem" });

  const itemInput = h("input", {
    cls: "llmlabel-pl-item",
    attrs: { type: "text", placeholder: "item id", "aria-label": "Item id", autocomplete: "off" },
  });
  const actions = h("div", { cls: "llmlabel-pl-actions" }, [
    itemInput,
    button("render", "Render prompt"),
    button("next", "Next decided item"),
    button("estimate", "Estimate cost"),
    button("run", "Run draft"),
    button("cancel", "Cancel run"),
  ]);
  Object.assign(actions.style, {
    display: "flex",
    flexWrap: "wrap",
    gap: "0.4rem",
    margin: "0.5rem 0",
  });
  const cancelBtn = /** @type {HTMLButtonElement} */ (
    actions.querySelector('[data-action="cancel"]')
  );

  const errorLine = h("div", { cls: "llmlabel-error llmlabel-pl-error", attrs: { role: "alert" } });
  const noticeLine = h("div", {
    cls: "llmlabel-notice llmlabel-pl-notice",
    attrs: { role: "status" },
  });
  const progressLine = h("div", { cls: "llmlabel-pl-progress", attrs: { role: "status" } });
  const estimateLine = h("div", { cls: "llmlabel-pl-estimate" });
  const renderedBox = h("div", { cls: "llmlabel-pl-rendered" });

  const versionsNote = h("div", { cls: "llmlabel-pl-versions-note" });
  const versionsBody = h("tbody");
  const versionsTable = h("table", { cls: "llmlabel-pl-versions" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        [
          "version",
          "strategy",
          "model",
          "n",
          "agreement [low, high]",
          "kappa",
          "leaked",
          "promoted",
          "",
        ].map((t) => h("th", { text: t })),
      ),
    ]),
    versionsBody,
  ]);

  const pickA = h("select", { cls: "llmlabel-pl-a", attrs: { "aria-label": "Version A" } });
  const pickB = h("select", { cls: "llmlabel-pl-b", attrs: { "aria-label": "Version B" } });
  const comparePicker = h("div", { cls: "llmlabel-pl-compare-pick" }, [
    field("A", pickA),
    field("B", pickB),
    button("compare", "Compare"),
  ]);
  Object.assign(comparePicker.style, { display: "flex", gap: "0.5rem", alignItems: "end" });
  const compareSummary = h("div", { cls: "llmlabel-pl-compare-summary" });
  const compareBody = h("tbody");
  const compareTable = h("table", { cls: "llmlabel-pl-compare" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        ["item", "text", "human", "A", "B", "change"].map((t) => h("th", { text: t })),
      ),
    ]),
    compareBody,
  ]);

  root.append(
    section("Draft", [instructions.wrap, descriptionsBox, options]),
    actions,
    errorLine,
    noticeLine,
    progressLine,
    estimateLine,
    section("Rendered prompt", [renderedBox]),
    section("Versions", [versionsNote, versionsTable]),
    section("Compare two versions", [comparePicker, compareSummary, compareTable]),
  );
  el.appendChild(root);

  /** @type {Map<string, HTMLTextAreaElement>} label name -> its description textarea */
  let descInputs = new Map();

  // ---------------------------------------------------------------- helpers
  /**
   * @param {string} cls @param {string} label @param {number} rows
   */
  function textArea(cls, label, rows) {
    const input = h("textarea", {
      cls,
      attrs: { rows: String(rows), "aria-label": label, dir: "auto", spellcheck: "false" },
    });
    Object.assign(input.style, { width: "100%", boxSizing: "border-box" });
    return { input, wrap: field(label, input) };
  }

  /** @param {string} label @param {HTMLElement} control */
  function field(label, control) {
    const wrap = h("label", { cls: "llmlabel-pl-field" }, [
      h("span", { cls: "llmlabel-pl-caption", text: label }),
      control,
    ]);
    Object.assign(wrap.style, { display: "flex", flexDirection: "column", gap: "0.15rem" });
    return wrap;
  }

  /** @param {string} action @param {string} text */
  function button(action, text) {
    return h("button", {
      cls: "llmlabel-btn llmlabel-pl-btn",
      text,
      attrs: { type: "button", "data-action": action },
    });
  }

  /** @param {string} title @param {HTMLElement[]} children */
  function section(title, children) {
    return h("section", { cls: "llmlabel-pl-section" }, [
      h("h4", { cls: "llmlabel-pl-title", text: title }),
      ...children,
    ]);
  }

  /** @param {string} name @param {() => void} fn */
  function onModel(name, fn) {
    model.on(`change:${name}`, fn);
    modelHandlers.push([`change:${name}`, fn]);
  }

  /** @param {EventTarget} target @param {string} type @param {(ev: any) => void} fn */
  function listen(target, type, fn) {
    target.addEventListener(type, fn);
    domHandlers.push([target, type, fn]);
  }

  /**
   * Set a control's value unless the user is editing it (a trait echo must not eat keystrokes).
   * @param {HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement} input
   * @param {string} value
   */
  function setValue(input, value) {
    if (input.ownerDocument.activeElement !== input && input.value !== value) input.value = value;
  }

  /** @param {number | null | undefined} x */
  function pct(x) {
    return x == null ? "–" : `${(x * 100).toFixed(1)}%`;
  }

  /** @param {number} x */
  function count(x) {
    return Number(x || 0).toLocaleString("en-US");
  }

  /** @returns {Draft} the draft as edited in the view */
  function readDraft() {
    /** @type {Record<string, string>} */
    const descriptions = {};
    for (const [name, input] of descInputs) descriptions[name] = input.value;
    const n = sample.value.trim();
    return {
      instructions: instructions.input.value,
      descriptions,
      shots: Number(shots.value || 0),
      demonstrations: demonstrations.value,
      chain_of_thought: cot.checked,
      model: modelInput.value,
      temperature: Number(temperature.value || 0),
      sample: n === "" ? null : Number(n),
    };
  }

  /** @param {Record<string, any>} content */
  function send(content) {
    model.send(content);
  }

  // ---------------------------------------------------------------- drawing
  function drawDraft() {
    /** @type {Partial<Draft>} */
    const d = model.get(PL_TRAITS.draft) || {};
    setValue(instructions.input, d.instructions ?? "");
    const desc = d.descriptions || {};
    const names = Object.keys(desc);
    if (names.join("\u0000") !== [...descInputs.keys()].join("\u0000")) {
      descInputs = new Map(
        names.map((name) => [name, textArea("llmlabel-pl-description", name, 2).input]),
      );
      descriptionsBox.replaceChildren(
        ...[...descInputs].map(([name, input]) => {
          input.setAttribute("data-label", name);
          return /** @type {HTMLElement} */ (field(`Label “${name}”`, input));
        }),
      );
    }
    for (const [name, input] of descInputs) setValue(input, desc[name] ?? "");
    setValue(shots, String(d.shots ?? 0));
    setValue(demonstrations, d.demonstrations ?? "similar");
    if (cot.ownerDocument.activeElement !== cot) cot.checked = Boolean(d.chain_of_thought);
    setValue(modelInput, d.model ?? "");
    setValue(temperature, String(d.temperature ?? 0));
    setValue(sample, d.sample == null ? "" : String(d.sample));
  }

  function drawRendered() {
    const r = model.get(PL_TRAITS.rendered) || {};
    /** @type {{role: string, content: string}[]} */
    const messages = r.messages || [];
    if (r.item_id != null) setValue(itemInput, String(r.item_id));
    renderedBox.replaceChildren(
      ...messages.map((m) => {
        const pre = h("pre", {
          cls: "llmlabel-pl-content",
          text: m.content,
          attrs: { dir: "auto" },
        });
        Object.assign(pre.style, { whiteSpace: "pre-wrap", margin: "0 0 0.5rem 0" });
        return h("div", { cls: "llmlabel-pl-message", attrs: { "data-role": m.role } }, [
          h("div", { cls: "llmlabel-pl-role", text: m.role }),
          pre,
        ]);
      }),
    );
    if (r.item_id != null) renderedBox.setAttribute("data-item-id", String(r.item_id));
    else renderedBox.removeAttribute("data-item-id");
  }

  function drawEstimate() {
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

  function drawVersions() {
    /** @type {VersionRow[]} */
    const rows = model.get(PL_TRAITS.versions) || [];
    const total = model.get(PL_TRAITS.versionsTotal) || rows.length;
    versionsNote.textContent = rows.length
      ? total > rows.length
        ? `Showing the latest ${rows.length} of ${total} versions.`
        : `${total} version${total === 1 ? "" : "s"}.`
      : "No versions yet: run the draft to score it against the human labels.";
    versionsBody.replaceChildren(
      ...rows.map((v) => {
        const promote = button("promote", v.promoted ? "Promoted" : "Promote");
        promote.setAttribute("data-version", v.version);
        if (v.promoted) promote.setAttribute("disabled", "");
        return h("tr", { cls: "llmlabel-pl-version", attrs: { "data-version": v.version } }, [
          h("td", { cls: "llmlabel-pl-version-id", text: v.version }),
          h("td", { text: v.strategy || "" }),
          h("td", { text: v.model || "" }),
          h("td", { cls: "llmlabel-pl-n", text: String(v.n) }),
          h("td", {
            cls: "llmlabel-pl-agreement",
            text: v.n ? `${pct(v.agreement)} [${pct(v.low)}, ${pct(v.high)}]` : "–",
          }),
          h("td", { text: v.kappa == null ? "–" : v.kappa.toFixed(2) }),
          h("td", { text: String(v.leaked ?? 0) }),
          h("td", { cls: "llmlabel-pl-promoted", text: v.promoted ? "yes" : "" }),
          h("td", {}, [promote]),
        ]);
      }),
    );
    root.setAttribute("data-versions", String(rows.length));
    fillPicker(pickA, rows, rows.length - 2);
    fillPicker(pickB, rows, rows.length - 1);
  }

  /**
   * Offer every version, keeping the user's pick; default to the one at `fallback`.
   * @param {HTMLSelectElement} select @param {VersionRow[]} rows @param {number} fallback
   */
  function fillPicker(select, rows, fallback) {
    const kept = select.value;
    select.replaceChildren(
      ...rows.map((v, i) =>
        h("option", {
          text: `${i + 1}. ${v.version} · ${v.strategy || ""} · ${pct(v.agreement)}`,
          attrs: { value: v.version },
        }),
      ),
    );
    if (rows.some((v) => v.version === kept)) select.value = kept;
    else if (rows.length) select.value = rows[Math.max(0, fallback)].version;
  }

  function drawComparison() {
    const c = model.get(PL_TRAITS.comparison) || {};
    /** @type {Record<string, string>[]} */
    const rows = c.rows || [];
    if (c.a == null) {
      compareSummary.textContent = "";
    } else {
      const shown = rows.length < c.total ? ` (first ${rows.length} shown)` : "";
      compareSummary.textContent =
        `${count(c.total)} items changed from ${c.a} to ${c.b}: ` +
        `${count(c.fixed)} fixed, ${count(c.broke)} broke${shown}.`;
    }
    compareBody.replaceChildren(
      ...rows.map((r) =>
        h("tr", { cls: "llmlabel-pl-change-row", attrs: { "data-change": r.change } }, [
          h("td", { text: `#${r.item_id}` }),
          h("td", { cls: "llmlabel-pl-text", text: r.text, attrs: { dir: "auto" } }),
          h("td", { text: r.human }),
          h("td", { text: r.llm_label_a }),
          h("td", { text: r.llm_label_b }),
          h("td", { cls: "llmlabel-pl-change", text: r.change }),
        ]),
      ),
    );
  }

  function drawProgress() {
    const p = model.get(PL_TRAITS.progress) || {};
    const running = Boolean(p.running);
    root.setAttribute("data-running", String(running));
    root.setAttribute("aria-busy", String(running));
    cancelBtn.disabled = !running;
    if (running) {
      progressLine.textContent = p.total
        ? `Running: ${count(p.done)} / ${count(p.total)} answered`
        : "Running…";
    } else {
      progressLine.textContent = p.total
        ? `Last run: ${count(p.done)} / ${count(p.total)} answered`
        : "";
    }
  }

  function drawStatus() {
    const err = model.get(PL_TRAITS.error) || "";
    errorLine.textContent = err;
    show(errorLine, Boolean(err));
    const note = model.get(PL_TRAITS.notice) || "";
    noticeLine.textContent = note;
    show(noticeLine, Boolean(note));
  }

  // ---------------------------------------------------------------- events
  /** @param {MouseEvent} ev */
  function onClick(ev) {
    const btn = /** @type {HTMLElement} */ (ev.target).closest("button");
    if (!btn || !root.contains(btn) || btn.hasAttribute("disabled")) return;
    const action = btn.getAttribute("data-action");
    if (action === "render") {
      const id = itemInput.value.trim();
      send({ kind: PL_MSG.render, draft: readDraft(), item_id: id, next: !id });
    } else if (action === "next") {
      send({ kind: PL_MSG.render, draft: readDraft(), next: true });
    } else if (action === "estimate") {
      send({ kind: PL_MSG.estimate, draft: readDraft() });
    } else if (action === "run") {
      send({ kind: PL_MSG.run, draft: readDraft() });
    } else if (action === "cancel") {
      send({ kind: PL_MSG.cancel });
    } else if (action === "compare") {
      send({ kind: PL_MSG.compare, a: pickA.value, b: pickB.value });
    } else if (action === "promote") {
      send({ kind: PL_MSG.promote, version: btn.getAttribute("data-version") || "" });
    }
  }

  /** @param {KeyboardEvent} ev */
  function onKeyDown(ev) {
    // Typing here must never reach JupyterLab's shortcuts (a, b, d d, Shift+Enter, ...);
    // Ctrl/Cmd combinations (save, copy) still go through.
    if (!(ev.ctrlKey || ev.metaKey)) ev.stopPropagation();
    if (ev.target === itemInput && ev.key === "Enter" && !ev.repeat) {
      ev.preventDefault();
      const id = itemInput.value.trim();
      send({ kind: PL_MSG.render, draft: readDraft(), item_id: id, next: !id });
    }
  }

  listen(root, "click", onClick);
  listen(root, "keydown", onKeyDown);

  onModel(PL_TRAITS.draft, drawDraft);
  onModel(PL_TRAITS.rendered, drawRendered);
  onModel(PL_TRAITS.estimate, drawEstimate);
  onModel(PL_TRAITS.versions, drawVersions);
  onModel(PL_TRAITS.versionsTotal, drawVersions);
  onModel(PL_TRAITS.comparison, drawComparison);
  onModel(PL_TRAITS.progress, drawProgress);
  onModel(PL_TRAITS.error, drawStatus);
  onModel(PL_TRAITS.notice, drawStatus);

  drawDraft();
  drawRendered();
  drawEstimate();
  drawVersions();
  drawComparison();
  drawProgress();
  drawStatus();

  return () => {
    for (const [name, fn] of modelHandlers.splice(0)) model.off(name, fn);
    for (const [target, type, fn] of domHandlers.splice(0)) target.removeEventListener(type, fn);
    root.remove();
  };
}

/** @type {import("@anywidget/types").Render} */
function render({ model, el }) {
  return createPromptLab(model, el);
}

export default { render };
