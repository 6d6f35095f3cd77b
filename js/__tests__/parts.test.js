// Each part of the Labeler view renders on its own and undoes what it added in its cleanup.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createContext } from "../parts/context.js";
import { createFilter } from "../parts/filter.js";
import { createIntents } from "../parts/intents.js";
import { createKeyboard } from "../parts/keyboard.js";
import { createNotes } from "../parts/notes.js";
import { fakeModel, item } from "./fake_model.js";
import { mount, press, type } from "./helpers.js";

/** A context on a fake model with one item on screen, its root in the document. */
function context() {
  const model = fakeModel({ current: item() });
  const root = document.createElement("div");
  document.body.appendChild(root);
  /** @type {string[]} */
  const notices = [];
  return { model, root, ctx: createContext(model, root, (t) => notices.push(t)) };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  document.body.replaceChildren();
});

describe("parts of the view", () => {
  it("filter: renders matches, picks with Enter, and stops listening after cleanup", () => {
    const { root, ctx } = context();
    const chosen = /** @type {string[]} */ ([]);
    const close = vi.fn();
    const filter = createFilter(ctx, {
      choose: (n) => chosen.push(n),
      isSelected: () => false,
      close,
    });
    root.append(filter.panel);
    filter.open();
    const input = /** @type {HTMLInputElement} */ (filter.panel.querySelector("input"));
    type(input, "neutral");
    const options = [...filter.panel.querySelectorAll("li")].map((li) => li.dataset.label);
    expect(options).toEqual(["neutral_or_disagree"]);
    press(input, "Enter");
    expect(chosen).toEqual(["neutral_or_disagree"]);
    expect(close).toHaveBeenCalledTimes(1);
    filter.cleanup();
    press(input, "Escape");
    type(input, "x");
    expect(close).toHaveBeenCalledTimes(1);
    expect(filter.panel.querySelectorAll("li")).toHaveLength(1); // not redrawn
  });

  it("notes: Enter sends the note, an empty note just closes, nothing after cleanup", () => {
    const { root, ctx } = context();
    const sent = /** @type {string[]} */ ([]);
    const close = vi.fn();
    const notes = createNotes(ctx, { send: (t) => sent.push(t) > 0, close });
    root.append(notes.panel);
    notes.open();
    const input = /** @type {HTMLInputElement} */ (notes.panel.querySelector("input"));
    press(input, "Enter");
    expect(sent).toEqual([]);
    expect(close).toHaveBeenCalledTimes(1);
    input.value = "ambiguous";
    press(input, "Enter");
    expect(sent).toEqual(["ambiguous"]);
    notes.cleanup();
    press(input, "Enter");
    expect(sent).toEqual(["ambiguous"]);
  });

  it("keyboard: keys on the root become actions, help lists the keys; cleanup unbinds", () => {
    const { root, ctx } = context();
    const act = vi.fn();
    const keyboard = createKeyboard(ctx, { act, panelOpen: () => false, close: vi.fn() });
    keyboard.renderKeymap();
    press(root, "2");
    expect(act).toHaveBeenLastCalledWith({ action: "label", label: "neutral_or_disagree" });
    keyboard.renderHelp();
    expect(keyboard.helpPanel.textContent).toContain("choose neutral_or_disagree");
    keyboard.cleanup();
    press(root, "a");
    expect(act).toHaveBeenCalledTimes(1);
  });

  it("intents: one intent per revision; cleanup clears the saving and unlock timers", () => {
    vi.useFakeTimers();
    const { model, root, ctx } = context();
    const intents = createIntents(ctx);
    expect(intents.send("skip")).toBe(true);
    expect(intents.send("skip")).toBe(false); // same revision: a repeat
    expect(model.sent.map((m) => m.kind)).toEqual(["skip"]);
    vi.advanceTimersByTime(300);
    expect(root.classList.contains("llmlabel-saving")).toBe(true);
    intents.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("the whole view removes every listener its parts added", () => {
    const added = /** @type {[EventTarget, string, unknown][]} */ ([]);
    const removed = /** @type {[EventTarget, string, unknown][]} */ ([]);
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    vi.spyOn(EventTarget.prototype, "addEventListener").mockImplementation(function (t, fn, o) {
      added.push([this, t, fn]);
      add.call(this, t, fn, o);
    });
    vi.spyOn(EventTarget.prototype, "removeEventListener").mockImplementation(function (t, fn, o) {
      removed.push([this, t, fn]);
      remove.call(this, t, fn, o);
    });
    const { root, cleanup } = mount();
    press(root, "/"); // the filter's options get listeners of their own (they go with the DOM)
    const kept = added.filter(([target]) => !(target instanceof HTMLLIElement));
    expect(kept.length).toBeGreaterThanOrEqual(5); // root keydown + click, two inputs
    cleanup();
    for (const [target, t, fn] of kept) {
      expect(removed.some(([r, rt, rf]) => r === target && rt === t && rf === fn)).toBe(true);
    }
  });
});
