// The queue filter bar and the honest words: chips, the form, the empty-text marker, no LLM
// words in a session without an LLM, "preparing the ranking…".
import { afterEach, describe, expect, it } from "vitest";
import { item } from "./fake_model.js";
import { mount, press } from "./helpers.js";

/** @type {(() => void)[]} */
const cleanups = [];
/** @param {Record<string, any>} [state] */
function view(state) {
  const out = mount(state);
  cleanups.push(out.cleanup);
  return out;
}

afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  document.body.replaceChildren();
});

const ACTIVE = {
  fields: { labels: ["agree"], states: ["skipped"] },
  chips: [
    { field: "labels", text: "LLM label: agree" },
    { field: "states", text: "state: skipped" },
  ],
};

describe("queue filter", () => {
  it("shows active filters as chips; × sends the filter without that criterion", () => {
    const { root, model } = view({ queue_filter: ACTIVE });
    const chips = [...root.querySelectorAll(".llmlabel-qf-chip")].map((c) => c.textContent);
    expect(chips).toEqual(["LLM label: agree×", "state: skipped×"]);
    const remove = /** @type {HTMLButtonElement} */ (
      root.querySelector('.llmlabel-qf-remove[data-field="labels"]')
    );
    expect(remove.getAttribute("aria-label")).toBe("remove filter: LLM label: agree");
    remove.click();
    expect(model.sent.at(-1)).toMatchObject({ kind: "filter", filters: { states: ["skipped"] } });
  });

  it("quick × clicks build on each other; one made while an intent is in flight follows it", () => {
    const { root, model } = view({ queue_filter: ACTIVE });
    const x = (/** @type {string} */ field) =>
      /** @type {HTMLButtonElement} */ (
        root.querySelector(`.llmlabel-qf-remove[data-field="${field}"]`)
      );
    x("labels").click(); // sent; the kernel has not answered yet
    expect(model.sent.at(-1)).toMatchObject({ kind: "filter", filters: { states: ["skipped"] } });
    const sent = model.sent.length;
    x("states").click(); // held back: one intent per revision
    expect(model.sent.length).toBe(sent);
    expect(root.querySelectorAll(".llmlabel-qf-chip")).toHaveLength(0); // gone at once
    // The kernel answers the first removal: its chips, then a new revision.
    model.set("queue_filter", { fields: { states: ["skipped"] }, chips: [ACTIVE.chips[1]] });
    expect(root.querySelectorAll(".llmlabel-qf-chip")).toHaveLength(0); // still wanted gone
    model.set("revision", model.get("revision") + 1);
    expect(model.sent.at(-1)).toMatchObject({ kind: "filter", filters: {} }); // not labels again
    model.set("queue_filter", { fields: {}, chips: [] });
    model.set("revision", model.get("revision") + 1);
    expect(model.sent.length).toBe(sent + 1);
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-qf-chips")).hidden).toBe(true);
  });

  it("hides the chip bar with no filter, and redraws when the trait changes", () => {
    const { root, model } = view();
    const bar = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-qf-chips"));
    expect(bar.hidden).toBe(true);
    model.set("queue_filter", ACTIVE);
    expect(bar.hidden).toBe(false);
    expect(bar.querySelectorAll(".llmlabel-qf-chip")).toHaveLength(2);
  });

  it("l opens the form; Enter sends the new criteria added to the active ones", () => {
    const { root, model } = view({ queue_filter: { fields: { text: "ice" }, chips: [] } });
    press(root, "l");
    const panel = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-qf"));
    expect(panel.hidden).toBe(false);
    const label = /** @type {HTMLSelectElement} */ (panel.querySelector(".llmlabel-qf-label"));
    expect([...label.options].map((o) => o.value)).toEqual(["", "agree", "neutral_or_disagree"]);
    label.value = "neutral_or_disagree";
    /** @type {HTMLInputElement} */ (panel.querySelector(".llmlabel-qf-high")).value = "0.6";
    const before = model.sent.length;
    press(label, "1"); // typing in the form never picks a label
    expect(model.sent.length).toBe(before);
    press(label, "Enter");
    expect(model.sent.at(-1)).toMatchObject({
      kind: "filter",
      filters: { text: "ice", labels: ["neutral_or_disagree"], confidence: [0, 0.6] },
    });
    expect(panel.hidden).toBe(true);
  });

  it("says what is wrong with a bad confidence range and sends nothing", () => {
    const { root, model } = view();
    press(root, "l");
    const panel = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-qf"));
    /** @type {HTMLInputElement} */ (panel.querySelector(".llmlabel-qf-low")).value = "0.9";
    /** @type {HTMLInputElement} */ (panel.querySelector(".llmlabel-qf-high")).value = "0.2";
    const before = model.sent.length;
    press(/** @type {HTMLElement} */ (panel.querySelector(".llmlabel-qf-low")), "Enter");
    expect(model.sent.length).toBe(before);
    expect(panel.querySelector(".llmlabel-qf-problem")?.textContent).toMatch(/confidence/);
  });

  it("a filter that matches nothing says so, not 'all reviewed', and can be removed", () => {
    const { root, model } = view({ current: null, done: true, queue_filter: ACTIVE });
    expect(root.querySelector(".llmlabel-done")?.textContent).toMatch(/No item matches/);
    /** @type {HTMLButtonElement} */ (root.querySelector(".llmlabel-qf-remove")).click();
    expect(model.sent.at(-1)).toMatchObject({ kind: "filter" });
  });
});

describe("honest words", () => {
  it("marks an empty or whitespace-only item", () => {
    for (const text of ["", "   \n\t "]) {
      const { root } = view({ current: item({ text, text_length: text.length }) });
      expect(root.querySelector(".llmlabel-text")?.textContent).toBe("(empty text)");
      cleanups.pop()?.();
    }
  });

  it("says nothing of an LLM when the session has none", () => {
    const progress = { done: 0, skipped: 0, total: 20, agreement: { rate: null, n: 0 } };
    const { root } = view({
      current: item({ proposal: null, reason: "next in pool" }),
      progress: { ...progress, llm: false, store: "x.labels.db", annotator: "alice" },
    });
    press(root, "?");
    press(root, "l");
    const visible = [...root.querySelectorAll("*")]
      .filter((el) => !el.closest("[hidden]") && el.childElementCount === 0)
      .map((el) => el.textContent)
      .join(" ");
    expect(visible).not.toMatch(/LLM/);
    expect(root.querySelector(".llmlabel-proposal")?.textContent).toBe("Choose a label.");
  });

  it("shows 'preparing the ranking…' while the first ranking is prepared", () => {
    const { root, model } = view();
    const line = () => root.querySelector(".llmlabel-progress")?.textContent;
    model.set("progress", { ...model.get("progress"), preparing: true });
    expect(line()).toMatch(/preparing the ranking…/);
    model.set("progress", { ...model.get("progress"), preparing: false });
    expect(line()).not.toMatch(/preparing/);
  });
});
