import { afterEach, describe, expect, it, vi } from "vitest";
import { SEARCH_DELAY_MS } from "../parts/search.js";
import { item, SHORTCUTS } from "./fake_model.js";
import { click, mount, press, type } from "./helpers.js";

const NAV_KEYS = {
  ...SHORTCUTS,
  back: ["b", "ArrowLeft"],
  forward: ["f", "ArrowRight"],
  goto: ["g"],
};
const HISTORY = [
  {
    item_id: "gwsd-9",
    kind: "correct",
    labels: ["agree"],
    time: 1_700_000_000_000,
    note: "hedged",
  },
  { item_id: "gwsd-8", kind: "skip", labels: [], time: 1_700_000_000_000, note: null },
];

/** @param {Record<string, any>} [state] */
const mountNav = (state = {}) => mount({ shortcuts: NAV_KEYS, history: HISTORY, ...state });

afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe("back and forward", () => {
  it("b and ← step back, f and → step forward, each as one intent per revision", () => {
    const { model, root } = mountNav();
    press(root, "b");
    expect(model.sent).toEqual([{ kind: "back", item_id: "gwsd-1", revision: 1 }]);
    model.set("revision", 2);
    press(root, "ArrowRight");
    model.set("revision", 3);
    press(root, "ArrowLeft");
    press(root, "f"); // same revision: dropped until the answer arrives
    expect(model.sent.map((m) => m.kind)).toEqual(["back", "forward", "back"]);
  });

  it("steps back even when the pool is done", () => {
    const { model, root } = mountNav({ current: null, done: true });
    press(root, "b");
    expect(model.sent).toEqual([{ kind: "back", item_id: null, revision: 1 }]);
  });
});

describe("history list", () => {
  it("shows item, decision, time and a note mark, and a row opens the item", () => {
    const { model, root } = mountNav();
    const rows = [...root.querySelectorAll(".llmlabel-history-row")];
    expect(rows.map((r) => r.getAttribute("data-item-id"))).toEqual(["gwsd-9", "gwsd-8"]);
    const first = /** @type {HTMLElement} */ (rows[0]);
    expect(first.querySelector(".llmlabel-history-decision")?.textContent).toBe("agree");
    expect(first.querySelector(".llmlabel-history-note")?.getAttribute("title")).toBe("hedged");
    expect(rows[1].querySelector(".llmlabel-history-decision")?.textContent).toBe("skip");
    expect(rows[1].querySelector(".llmlabel-history-note")?.textContent).toBe("");
    expect(first.querySelector(".llmlabel-history-time")?.textContent).toMatch(/\d/);
    click(first);
    expect(model.sent).toEqual([
      { kind: "goto", item_id: "gwsd-1", revision: 1, target: "gwsd-9", chosen: "history" },
    ]);
  });

  it("is hidden while there is no decision yet", () => {
    const { root } = mountNav({ history: [] });
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-history")).hidden).toBe(true);
  });
});

describe("queue rows", () => {
  it("a click on a queue row opens that item, recorded as chosen from the queue", () => {
    const { model, root } = mountNav();
    const row = /** @type {HTMLElement} */ (
      root.querySelector('.llmlabel-queue-item[data-item-id="gwsd-3"] span')
    );
    click(row);
    expect(model.sent).toEqual([
      { kind: "goto", item_id: "gwsd-1", revision: 1, target: "gwsd-3", chosen: "queue" },
    ]);
  });
});

describe("search box", () => {
  it("g opens it; typing searches after a pause; Enter opens the highlighted hit", () => {
    vi.useFakeTimers();
    const { model, root } = mountNav();
    press(root, "g");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-search-input"));
    expect(document.activeElement).toBe(input);
    type(input, "sea");
    expect(model.sent).toEqual([]); // no label key fired, nothing searched yet
    vi.advanceTimersByTime(SEARCH_DELAY_MS + 1);
    expect(model.sent).toEqual([{ kind: "search", query: "sea" }]);
    model.set("search_results", {
      query: "sea",
      items: [
        { item_id: "gwsd-40", snippet: "Sea levels rise", match: "text" },
        { item_id: "gwsd-77", snippet: "the sea is warm", match: "text" },
      ],
      error: "",
    });
    const hits = [...root.querySelectorAll(".llmlabel-search-hit")];
    expect(hits.map((h) => h.getAttribute("data-item-id"))).toEqual(["gwsd-40", "gwsd-77"]);
    press(input, "ArrowDown");
    press(input, "Enter");
    expect(model.sent.at(-1)).toEqual({
      kind: "goto",
      item_id: "gwsd-1",
      revision: 1,
      target: "gwsd-77",
      chosen: "search",
    });
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-search")).hidden).toBe(true);
  });

  it("ignores answers to an older query and says when nothing matches", () => {
    const { model, root } = mountNav();
    press(root, "g");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-search-input"));
    type(input, "ice");
    model.set("search_results", {
      query: "ic",
      items: [{ item_id: "x", snippet: "ic", match: "text" }],
    });
    expect(root.querySelectorAll(".llmlabel-search-hit")).toHaveLength(0);
    model.set("search_results", { query: "ice", items: [], error: "nothing matches 'ice'" });
    expect(root.querySelector(".llmlabel-search-status")?.textContent).toBe(
      "nothing matches 'ice'",
    );
    press(input, "Escape");
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-search")).hidden).toBe(true);
    expect(document.activeElement).toBe(root);
  });
});

describe("a past decision and its note on the card", () => {
  it("shows the decision and the note, and the note panel opens with the note to edit", () => {
    const decision = {
      kind: "correct",
      labels: ["agree"],
      time: 1_700_000_000_000,
      note: "hedged",
    };
    const { model, root } = mountNav({ current: item({ decision }) });
    const past = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-past"));
    expect(past.hidden).toBe(false);
    expect(past.querySelector(".llmlabel-past-decision")?.textContent).toMatch(
      /^you decided: agree · /,
    );
    expect(past.querySelector(".llmlabel-past-note-text")?.textContent).toBe("hedged");
    click(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-past-edit")));
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-note-input"));
    expect(input.value).toBe("hedged");
    input.value = "hedged, check source";
    press(input, "Enter");
    expect(model.sent).toEqual([
      { kind: "note", item_id: "gwsd-1", revision: 1, text: "hedged, check source" },
    ]);
  });

  it("is hidden on an item with no decision or note", () => {
    const { root } = mountNav({ current: item({ decision: null }) });
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-past")).hidden).toBe(true);
  });

  it("cleanup removes every listener and node", () => {
    const { model, root, cleanup } = mountNav();
    press(root, "g");
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(root.isConnected).toBe(false);
  });
});
