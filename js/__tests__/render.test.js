import { afterEach, describe, expect, it, vi } from "vitest";
import { item, LABELS } from "./fake_model.js";
import { click, mount } from "./helpers.js";

const XSS = [
  '<img src=x onerror="window.__xss=1">',
  "<script>window.__xss=2</script>",
  '<svg onload="window.__xss=3"><circle r="1"/></svg>',
  '<a href="javascript:window.__xss=4">click</a>',
  '"><iframe srcdoc="<script>parent.__xss=5</script>">',
].join(" ");

/** Elements an injection would create. */
const DANGEROUS = "script, img, svg, iframe, a, object, embed, style, link";

afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe("rendering", () => {
  it("shows the item, the proposal with confidence, rationale, progress and queue", () => {
    const { root } = mount();
    expect(root.querySelector(".llmlabel-text")?.textContent).toBe(
      "Sea levels are rising faster than expected, the report says.",
    );
    expect(root.querySelector(".llmlabel-item-id")?.textContent).toBe("#gwsd-1");
    expect(root.querySelector(".llmlabel-reason")?.textContent).toBe(
      "picked because: next in pool",
    );
    expect(root.querySelector(".llmlabel-proposed")?.textContent).toBe("agree");
    const meter = root.querySelector('[role="meter"]');
    expect(meter?.getAttribute("aria-valuenow")).toBe("0.82");
    expect(root.querySelector(".llmlabel-conf-number")?.textContent).toBe("0.82 (logprob)");
    expect(root.querySelector(".llmlabel-conf-lowtag")).toBeNull();
    expect(root.querySelector(".llmlabel-rationale-text")?.textContent).toBe(
      'It says "rising faster than expected".',
    );
    expect(root.querySelector(".llmlabel-source")?.textContent).toBe(
      "gpt-4o-mini · prompt abc123de",
    );
    expect(root.querySelector(".llmlabel-progress")?.textContent).toBe(
      "quickstart.labels.db · 3 / 1,302 reviewed · 1 skipped · acceptance rate 75% (30%–95%, n=4) · as alice",
    );
    const queue = [...root.querySelectorAll(".llmlabel-queue-item")].map((n) =>
      [...n.children].map((c) => c.textContent),
    );
    expect(queue).toEqual([
      ["#gwsd-2", "next in pool", "Claims of warming are exaggerated."],
      ["#gwsd-3", "skipped earlier", "We will rely on fossil fuels."],
    ]);
    expect(root.getAttribute("data-item-id")).toBe("gwsd-1");
    expect(root.getAttribute("data-revision")).toBe("1");
  });

  it("headlines the LLM's accuracy on the pool, and labels the acceptance rate as such", () => {
    const { root, model } = mount();
    const line = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-progress"));
    const pool = {
      value: 0.9667,
      low: 0.5144,
      high: 0.9667,
      level: 0.95,
      n_human: 45,
      n_effective: 2.42,
      method: "Clopper-Pearson on 5 audit items + 40 reviewed items counted exactly",
    };
    model.update({ progress: { ...model.get("progress"), pool } });
    expect(line.textContent).toBe(
      "quickstart.labels.db · 3 / 1,302 reviewed · 1 skipped · LLM accuracy on the pool 97% (51%–97%, n=45) · acceptance rate 75% (30%–95%, n=4) · as alice",
    );
    expect(line.title).toContain("session.pool_estimates()");
    expect(line.title).toContain("95% interval: Clopper-Pearson on 5 audit items");
    expect(line.title).toContain("45 human labels, effective n 2.4.");
    expect(line.title).toContain("not an estimate for the pool");
    const none = {
      ...pool,
      value: null,
      low: 0,
      high: 1,
      method: "not enough data: no audit item",
    };
    model.update({ progress: { ...model.get("progress"), pool: none } });
    expect(line.textContent).toContain(
      "LLM accuracy on the pool: not enough audit labels yet (0%–100%)",
    );
  });

  it("highlights the words the rationale quotes, ignoring case", () => {
    const { root } = mount({
      current: item({
        text: "Rising Faster than expected, and rising faster still.",
        proposal: { ...item().proposal, rationale: "quotes 'rising faster' twice" },
      }),
    });
    const marks = [...root.querySelectorAll("mark.llmlabel-hl")].map((m) => m.textContent);
    expect(marks).toEqual(["Rising Faster", "rising faster"]);
    expect(root.querySelector(".llmlabel-text")?.textContent).toBe(
      "Rising Faster than expected, and rising faster still.",
    );
  });

  it("shows keys on the buttons and the key map on ?", () => {
    const { root } = mount();
    const buttons = [...root.querySelectorAll("button.llmlabel-label")].map((b) => b.textContent);
    expect(buttons).toEqual(["1agree", "2neutral_or_disagree"]);
    expect(root.querySelector(".llmlabel-act-accept kbd")?.textContent).toBe("Enter / A");
    expect(root.querySelector(".llmlabel-act-skip kbd")?.textContent).toBe("S / Space");
    const help = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-help"));
    expect(help.hidden).toBe(true);
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "?", bubbles: true }));
    expect(help.hidden).toBe(false);
    expect(help.textContent).toContain("undo the last action");
    expect(help.textContent).toContain("choose agree");
  });

  it("renders untrusted text, metadata, rationale, raw answers and labels as text only", () => {
    const { root } = mount({
      labels: [
        { name: XSS, description: XSS, key: "1" },
        { name: "ok", description: "", key: "2" },
      ],
      current: item({
        item_id: XSS,
        text: XSS,
        meta: { [XSS]: XSS },
        proposal: { ...item().proposal, labels: [XSS], rationale: `because "${XSS}"`, model: XSS },
      }),
      queue_preview: [{ item_id: XSS, reason: XSS, preview: XSS }],
      error: XSS,
      notice: XSS,
    });
    expect(root.querySelectorAll(DANGEROUS)).toHaveLength(0);
    expect(root.querySelector(".llmlabel-text")?.textContent).toBe(XSS);
    expect(root.querySelector(".llmlabel-rationale-text")?.textContent).toBe(`because "${XSS}"`);
    expect(root.querySelector(".llmlabel-meta-value")?.textContent).toBe(XSS);
    expect(root.querySelector(".llmlabel-error")?.textContent).toBe(XSS);
    expect(/** @type {any} */ (window).__xss).toBeUndefined();
  });

  it("shows an invalid proposal's raw answer as text and disables accept", () => {
    const { root } = mount({
      current: item({
        proposal: {
          labels: [],
          valid: false,
          rationale: null,
          confidence: null,
          confidence_method: null,
          source: "openai",
          model: "gpt-4o",
          prompt_version: null,
          raw: '<b onmouseover="x()">maybe</b>',
          problem: "label 'maybe' is not in the label set",
        },
      }),
    });
    const box = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-proposal"));
    expect(box.classList.contains("llmlabel-proposal-invalid")).toBe(true);
    expect(box.textContent).toContain("could not be used: label 'maybe' is not in the label set");
    expect(root.querySelector(".llmlabel-raw")?.textContent).toBe('<b onmouseover="x()">maybe</b>');
    expect(root.querySelectorAll("b")).toHaveLength(0);
    expect(
      /** @type {HTMLButtonElement} */ (root.querySelector(".llmlabel-act-accept")).disabled,
    ).toBe(true);
  });

  it("says plainly when there is no proposal, when it is pending and when it is recorded", () => {
    const { root, model } = mount({ current: item({ proposal: null }) });
    expect(root.querySelector(".llmlabel-proposal")?.textContent).toBe(
      "No LLM proposal for this item: choose a label yourself.",
    );
    model.set("busy", true);
    expect(root.querySelector(".llmlabel-proposal")?.textContent).toContain("pending");
    model.update({
      current: item({
        proposal: {
          ...item().proposal,
          source: "recorded",
          model: "GPT-4o, 2024",
          confidence: 0.4,
          confidence_method: "recorded",
        },
      }),
    });
    expect(root.querySelector(".llmlabel-source")?.textContent).toBe("recorded: GPT-4o, 2024");
    expect(root.querySelector(".llmlabel-conf-lowtag")?.textContent).toBe("low");
    expect(root.querySelector(".llmlabel-conf")?.classList.contains("llmlabel-conf-low")).toBe(
      true,
    );
  });

  it("collapses a 100,000-character item and expands it on request", () => {
    const long = "word ".repeat(20_000);
    const { root } = mount({ current: item({ text: long, text_length: long.length }) });
    const text = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-text"));
    const expand = /** @type {HTMLButtonElement} */ (root.querySelector(".llmlabel-expand"));
    expect(text.classList.contains("llmlabel-collapsed")).toBe(true);
    expect(expand.hidden).toBe(false);
    expect(expand.textContent).toBe("Show all (100,000 characters)");
    expand.focus();
    click(expand);
    expect(document.activeElement).toBe(root); // keys keep working after a click
    expect(text.classList.contains("llmlabel-collapsed")).toBe(false);
    expect(expand.textContent).toBe("Show less");
    expect(text.textContent?.length).toBe(100_000);
  });

  it("says when Python capped the text", () => {
    const { root } = mount({ current: item({ text: "abc", text_length: 300_000 }) });
    expect(root.querySelector(".llmlabel-trunc")?.textContent).toBe(
      "Showing the first 3 of 300,000 characters.",
    );
  });

  it("keeps emoji, CJK and right-to-left text intact with dir=auto", () => {
    const text = "שלום עולם 👋🏽 你好世界 مرحبا";
    const { root } = mount({
      current: item({ text, proposal: { ...item().proposal, rationale: "quotes '你好世界'" } }),
    });
    const node = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-text"));
    expect(node.getAttribute("dir")).toBe("auto");
    expect(node.textContent).toBe(text);
    expect(root.querySelector("mark")?.textContent).toBe("你好世界");
    expect(root.querySelector(".llmlabel-rationale-text")?.getAttribute("dir")).toBe("auto");
  });

  it("follows model updates and shows the done state", () => {
    const { root, model } = mount();
    model.update({ current: item({ item_id: "gwsd-9", text: "next one" }), revision: 2 });
    expect(root.querySelector(".llmlabel-text")?.textContent).toBe("next one");
    expect(root.getAttribute("data-item-id")).toBe("gwsd-9");
    expect(root.getAttribute("data-revision")).toBe("2");
    model.update({ current: null, done: true, revision: 3 });
    const card = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-card"));
    const done = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-done"));
    expect(card.hidden).toBe(true);
    expect(done.hidden).toBe(false);
    expect(done.textContent).toContain("All items reviewed.");
    expect(root.hasAttribute("data-item-id")).toBe(false);
    // The counts arrive a moment later (progress is sent after the item).
    model.update({ progress: { ...model.get("progress"), done: 1302, skipped: 0 } });
    expect(done.textContent).toContain("1302 decided, 0 skipped.");
  });

  it("shows errors in an alert", () => {
    const { root, model } = mount();
    const err = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-error"));
    expect(err.hidden).toBe(true);
    model.set("error", "Could not record that: database is locked.");
    expect(err.hidden).toBe(false);
    expect(err.getAttribute("role")).toBe("alert");
    expect(err.textContent).toBe("Could not record that: database is locked.");
  });

  it("moves labels beyond the first 20 behind the filter", () => {
    const many = Array.from({ length: 30 }, (_, i) => ({
      name: `label${i}`,
      description: "",
      key: i < 9 ? String(i + 1) : "",
    }));
    const { root } = mount({ labels: many, shortcuts: { accept: ["Enter"], filter: ["/"] } });
    expect(root.querySelectorAll("button.llmlabel-label")).toHaveLength(20);
    expect(root.querySelector(".llmlabel-more")?.textContent).toBe("+10 more: use Find label");
  });
});

describe("focus and cleanup", () => {
  it("is focusable, suppresses JupyterLab shortcuts and focuses itself when shown", async () => {
    const { root } = mount();
    expect(root.getAttribute("tabindex")).toBe("0");
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    await new Promise((r) => setTimeout(r, 30));
    expect(document.activeElement).toBe(root);
  });

  it("does not steal focus from someone typing elsewhere", async () => {
    const other = document.createElement("textarea");
    document.body.appendChild(other);
    other.focus();
    mount();
    await new Promise((r) => setTimeout(r, 30));
    expect(document.activeElement).toBe(other);
  });

  it("cleanup removes the DOM, model listeners, timers and document listeners", () => {
    vi.useFakeTimers();
    const addDoc = vi.spyOn(document, "addEventListener");
    const addWin = vi.spyOn(window, "addEventListener");
    const { el, root, model, cleanup } = mount();
    expect(model.listenerCount()).toBeGreaterThan(0);
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    expect(vi.getTimerCount()).toBeGreaterThan(0); // focus + saving/unlock timers pending
    cleanup();
    expect(el.childNodes).toHaveLength(0);
    expect(model.listenerCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(addDoc).not.toHaveBeenCalled();
    expect(addWin).not.toHaveBeenCalled();
  });

  it("two views of one model are independent and clean up separately", () => {
    const first = mount();
    const el2 = document.createElement("div");
    document.body.appendChild(el2);
    expect(first.root.isConnected).toBe(true);
    first.cleanup();
    expect(first.model.listenerCount()).toBe(0);
    expect(LABELS).toHaveLength(2);
  });
});
