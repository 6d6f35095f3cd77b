import { afterEach, describe, expect, it } from "vitest";
import promptLab from "../prompt_lab.js";
import { fakeModel } from "./fake_model.js";
import { click, press, type } from "./helpers.js";

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

const DRAFT = {
  instructions: "Label the stance of the news sentence on global warming.",
  descriptions: { agree: "agrees it is a serious concern", neutral_or_disagree: "neutral" },
  shots: 0,
  demonstrations: "similar",
  chain_of_thought: true,
  model: "fake-llm",
  temperature: 0,
  sample: null,
};

const VERSIONS = [
  {
    version: "v-aaaa1111",
    strategy: "zero-shot+cot",
    model: "fake-llm",
    n: 30,
    agreement: 0.6,
    low: 0.42,
    high: 0.75,
    kappa: 0.2,
    leaked: 0,
    promoted: false,
  },
  {
    version: "v-bbbb2222",
    strategy: "zero-shot+cot",
    model: "fake-llm",
    n: 30,
    agreement: 0.8,
    low: 0.63,
    high: 0.9,
    kappa: 0.6,
    leaked: 0,
    promoted: true,
  },
];

/** @param {Record<string, any>} [state] */
function mount(state = {}) {
  const model = fakeModel({
    draft: DRAFT,
    rendered: {},
    estimate: {},
    versions: [],
    versions_total: 0,
    comparison: {},
    progress: { done: 0, total: 0, running: false },
    error: "",
    notice: "",
    ...state,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = /** @type {() => void} */ (
    promptLab.render(/** @type {any} */ ({ model, el, signal: new AbortController().signal }))
  );
  const root = /** @type {HTMLElement} */ (el.querySelector(".llmlabel-prompt-lab"));
  /** @param {string} sel */
  const q = (sel) => /** @type {any} */ (root.querySelector(sel));
  return { model, el, root, cleanup, q };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("prompt lab rendering", () => {
  it("fills the draft fields from the draft trait", () => {
    const { q, root } = mount({ draft: { ...DRAFT, shots: 3, demonstrations: "diverse" } });
    expect(q(".llmlabel-pl-instructions").value).toBe(DRAFT.instructions);
    const descs = [...root.querySelectorAll(".llmlabel-pl-description")].map((n) => [
      n.getAttribute("data-label"),
      /** @type {HTMLTextAreaElement} */ (n).value,
    ]);
    expect(descs).toEqual(Object.entries(DRAFT.descriptions));
    expect(q(".llmlabel-pl-shots").value).toBe("3");
    expect(q(".llmlabel-pl-demonstrations").value).toBe("diverse");
    expect(q(".llmlabel-pl-cot").checked).toBe(true);
    expect(q(".llmlabel-pl-model").value).toBe("fake-llm");
    expect(q(".llmlabel-pl-sample").value).toBe("");
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
  });

  it("shows the rendered messages role by role, as text", () => {
    const { root, q } = mount({
      rendered: {
        item_id: "r1",
        messages: [
          { role: "system", content: `Be careful. ${XSS}` },
          { role: "user", content: "Sea levels are rising." },
        ],
      },
    });
    const msgs = [...root.querySelectorAll(".llmlabel-pl-message")].map((n) => [
      n.getAttribute("data-role"),
      n.querySelector(".llmlabel-pl-role")?.textContent,
      n.querySelector(".llmlabel-pl-content")?.textContent,
    ]);
    expect(msgs).toEqual([
      ["system", "system", `Be careful. ${XSS}`],
      ["user", "user", "Sea levels are rising."],
    ]);
    expect(root.querySelector("img, script")).toBeNull();
    expect(q(".llmlabel-pl-item").value).toBe("r1");
  });

  it("shows the estimate, with 'price unknown' when there is no price", () => {
    const est = {
      items: 30,
      requests: 30,
      cached: 2,
      prompt_tokens: 12345,
      completion_tokens: 900,
      cost: null,
      model: "fake-llm",
    };
    const { model, q } = mount({ estimate: est });
    expect(q(".llmlabel-pl-estimate").textContent).toBe(
      "Estimate for fake-llm: 30 items · 30 requests (2 cached) · ~12,345 prompt + 900 completion tokens · price unknown",
    );
    model.set("estimate", { ...est, cost: 0.01234 });
    expect(q(".llmlabel-pl-estimate").textContent).toContain("· $0.0123");
  });

  it("lists versions with n, interval and promoted, and the changed items", () => {
    const { root, q } = mount({
      versions: VERSIONS,
      versions_total: 2,
      comparison: {
        a: "v-aaaa1111",
        b: "v-bbbb2222",
        total: 2,
        fixed: 1,
        broke: 1,
        rows: [
          {
            item_id: "r3",
            text: XSS,
            human: "agree",
            llm_label_a: "neutral_or_disagree",
            llm_label_b: "agree",
            change: "fixed",
          },
          {
            item_id: "r4",
            text: "x",
            human: "agree",
            llm_label_a: "agree",
            llm_label_b: "neutral_or_disagree",
            change: "broke",
          },
        ],
      },
    });
    const rows = [...root.querySelectorAll("tr.llmlabel-pl-version")];
    expect(rows.map((r) => r.getAttribute("data-version"))).toEqual(["v-aaaa1111", "v-bbbb2222"]);
    expect(rows[0].querySelector(".llmlabel-pl-agreement")?.textContent).toBe(
      "60.0% [42.0%, 75.0%]",
    );
    expect(rows[0].querySelector(".llmlabel-pl-n")?.textContent).toBe("30");
    expect(rows[1].querySelector(".llmlabel-pl-promoted")?.textContent).toBe("yes");
    expect(root.getAttribute("data-versions")).toBe("2");
    // the pickers default to the two latest versions
    expect(q(".llmlabel-pl-a").value).toBe("v-aaaa1111");
    expect(q(".llmlabel-pl-b").value).toBe("v-bbbb2222");
    const changes = [...root.querySelectorAll(".llmlabel-pl-change")].map((n) => n.textContent);
    expect(changes).toEqual(["fixed", "broke"]);
    expect(q(".llmlabel-pl-text").textContent).toBe(XSS);
    expect(root.querySelector("img, script")).toBeNull();
    expect(q(".llmlabel-pl-compare-summary").textContent).toBe(
      "2 items changed from v-aaaa1111 to v-bbbb2222: 1 fixed, 1 broke.",
    );
  });

  it("shows progress, error and notice; cancel only while running", () => {
    const { model, q, root } = mount();
    expect(q('[data-action="cancel"]').disabled).toBe(true);
    const running = { done: 7, answered: 5, invalid: 1, failed: 2, total: 30, running: true };
    model.update({ progress: running, error: "Could not do that" });
    expect(q(".llmlabel-pl-progress").textContent).toBe(
      "Running: 5 answered (1 invalid) · 2 failed · 7 / 30 done",
    );
    expect(q(".llmlabel-pl-failed").classList.contains("llmlabel-pl-has-failed")).toBe(true);
    expect(root.getAttribute("data-running")).toBe("true");
    expect(q('[data-action="cancel"]').disabled).toBe(false);
    expect(q(".llmlabel-pl-error").hidden).toBe(false);
    expect(q(".llmlabel-pl-error").textContent).toBe("Could not do that");
    const last = { done: 30, answered: 30, invalid: 0, failed: 0, total: 30, running: false };
    model.update({ progress: last, error: "", notice: "ok" });
    expect(q(".llmlabel-pl-progress").textContent).toBe(
      "Last run: 30 answered (0 invalid) · 0 failed · 30 / 30 done",
    );
    expect(q(".llmlabel-pl-failed").classList.contains("llmlabel-pl-has-failed")).toBe(false);
    expect(q(".llmlabel-pl-error").hidden).toBe(true);
    expect(q(".llmlabel-pl-notice").textContent).toBe("ok");
  });

  it("does not overwrite the field being edited when the draft echoes back", () => {
    const { model, q } = mount();
    const ta = q(".llmlabel-pl-instructions");
    ta.focus();
    ta.value = "typing in progress";
    model.set("draft", { ...DRAFT, instructions: "older" });
    expect(ta.value).toBe("typing in progress");
    ta.blur();
    model.set("draft", { ...DRAFT, instructions: "from python" });
    expect(ta.value).toBe("from python");
  });
});

describe("prompt lab intents", () => {
  it("each button sends its intent with the edited draft", () => {
    const { model, q, root } = mount({ versions: VERSIONS, versions_total: 2 });
    q(".llmlabel-pl-instructions").value = "New instructions. Quoting a sceptic is neutral.";
    const agree = /** @type {HTMLTextAreaElement} */ (
      root.querySelector('.llmlabel-pl-description[data-label="agree"]')
    );
    agree.value = "edited agree";
    q(".llmlabel-pl-shots").value = "4";
    q(".llmlabel-pl-demonstrations").value = "random";
    q(".llmlabel-pl-cot").checked = false;
    q(".llmlabel-pl-model").value = "other-model";
    q(".llmlabel-pl-temperature").value = "0.7";
    q(".llmlabel-pl-sample").value = "12";
    const draft = {
      instructions: "New instructions. Quoting a sceptic is neutral.",
      descriptions: { agree: "edited agree", neutral_or_disagree: "neutral" },
      shots: 4,
      demonstrations: "random",
      chain_of_thought: false,
      model: "other-model",
      temperature: 0.7,
      sample: 12,
    };
    click(q('[data-action="next"]'));
    q(".llmlabel-pl-item").value = "r9";
    click(q('[data-action="render"]'));
    click(q('[data-action="estimate"]'));
    click(q('[data-action="run"]'));
    model.set("progress", { done: 1, total: 30, running: true });
    click(q('[data-action="cancel"]'));
    q(".llmlabel-pl-a").value = "v-bbbb2222";
    q(".llmlabel-pl-b").value = "v-aaaa1111";
    click(q('[data-action="compare"]'));
    click(root.querySelector('tr[data-version="v-aaaa1111"] [data-action="promote"]'));
    // the promoted version's button is disabled: no intent
    click(root.querySelector('tr[data-version="v-bbbb2222"] [data-action="promote"]'));
    expect(model.sent).toEqual([
      { kind: "render", draft, next: true },
      { kind: "render", draft, item_id: "r9", next: false },
      { kind: "estimate", draft },
      { kind: "run", draft },
      { kind: "cancel" },
      { kind: "compare", a: "v-bbbb2222", b: "v-aaaa1111" },
      { kind: "promote", version: "v-aaaa1111" },
    ]);
  });

  it("typing in the fields sends nothing and no key leaves the panel", () => {
    const { model, q, el } = mount();
    let leaked = 0;
    const count = () => {
      leaked += 1;
    };
    document.addEventListener("keydown", count);
    try {
      type(q(".llmlabel-pl-instructions"), "a b dd 1 z");
      press(q(".llmlabel-pl-instructions"), "Enter", { shiftKey: true });
      type(q(".llmlabel-pl-model"), "m");
      expect(leaked).toBe(0);
      expect(model.sent).toEqual([]);
      // Ctrl/Cmd combinations still reach JupyterLab (save)
      press(q(".llmlabel-pl-instructions"), "s", { ctrlKey: true });
      expect(leaked).toBe(1);
      // Enter in the item id field renders that item
      type(q(".llmlabel-pl-item"), "r5");
      press(q(".llmlabel-pl-item"), "Enter");
      expect(model.sent.map((m) => [m.kind, m.item_id])).toEqual([["render", "r5"]]);
      expect(el.querySelector(".llmlabel-pl-instructions")).not.toBeNull();
    } finally {
      document.removeEventListener("keydown", count);
    }
  });

  it("cleanup removes the DOM and every model listener", () => {
    const { model, el, cleanup, q } = mount({ versions: VERSIONS });
    const button = q('[data-action="run"]');
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.childElementCount).toBe(0);
    click(button); // detached and unlistened: nothing is sent
    expect(model.sent).toEqual([]);
  });
});

describe("prompt lab tells the truth", () => {
  it("marks the rendered prompt and the estimate stale as soon as the draft changes", () => {
    const rendered = { item_id: "7", draft: DRAFT, messages: [{ role: "system", content: "x" }] };
    const estimate = { items: 1, requests: 1, cached: 0, model: "fake-llm", draft: DRAFT };
    const { model, q, root } = mount({ rendered, estimate });
    const box = q(".llmlabel-pl-rendered");
    const line = q(".llmlabel-pl-estimate");
    const marks = () => [...root.querySelectorAll(".llmlabel-pl-stale")].map((m) => m.hidden);
    expect([box.dataset.stale, line.dataset.stale]).toEqual(["false", "false"]);
    expect(marks()).toEqual([true, true]);
    const shots = q(".llmlabel-pl-shots");
    shots.value = "3";
    shots.dispatchEvent(new Event("input", { bubbles: true }));
    expect([box.dataset.stale, line.dataset.stale]).toEqual(["true", "true"]);
    expect(marks()).toEqual([false, false]);
    // rendered again from the edited draft: fresh; the estimate stays stale until re-estimated
    model.set("rendered", { ...rendered, draft: { ...DRAFT, shots: 3 } });
    expect([box.dataset.stale, line.dataset.stale]).toEqual(["false", "true"]);
    model.set("estimate", { ...estimate, draft: { ...DRAFT, shots: 3 } });
    expect(line.dataset.stale).toBe("false");
    // a checkbox or a select edit counts too
    q(".llmlabel-pl-cot").click();
    expect(line.dataset.stale).toBe("true");
  });

  it("shows each version's instructions as a word diff from the promoted one", () => {
    const rows = [
      {
        ...VERSIONS[0],
        instructions: "a b",
        diff: [
          ["=", "a "],
          ["-", "c"],
          ["+", "b"],
        ],
      },
      { ...VERSIONS[1], instructions: "a c", diff: [["=", "a c"]], diff_against: "promoted" },
    ];
    rows[0].diff_against = "promoted";
    const { root } = mount({ versions: rows, versions_total: 2 });
    const cells = [...root.querySelectorAll(".llmlabel-pl-instr")];
    expect(cells.map((c) => c.querySelector("summary")?.textContent)).toEqual([
      "+1 / −1 words vs the promoted version",
      "promoted: these instructions",
    ]);
    const diff = /** @type {HTMLElement} */ (cells[0].querySelector(".llmlabel-pl-diff"));
    expect(diff.querySelector("ins")?.textContent).toBe("b");
    expect(diff.querySelector("del")?.textContent).toBe("c");
    expect(diff.textContent).toBe("a cb");
  });

  it("uses JupyterLab's button classes, not inline styles", () => {
    const { root, q } = mount({ versions: VERSIONS, versions_total: 2 });
    const buttons = [...root.querySelectorAll("button")];
    expect(buttons.length).toBeGreaterThan(5);
    for (const b of buttons) {
      expect(b.classList.contains("jp-Button")).toBe(true);
      expect(b.classList.contains("jp-mod-styled")).toBe(true);
    }
    expect(q('[data-action="run"]').classList.contains("jp-mod-accept")).toBe(true);
    expect(root.querySelectorAll("[style]").length).toBe(0);
  });
});
