import { afterEach, describe, expect, it } from "vitest";
import { bindingFor, buildKeymap, isTextEntry, keyLabel, normaliseKey } from "../keys.js";
import { item, SHORTCUTS } from "./fake_model.js";
import { click, mount, press, type } from "./helpers.js";

afterEach(() => {
  document.body.replaceChildren();
});

/** Count keydowns that escape the widget (what JupyterLab's shortcut handler would see). */
function leakCounter() {
  let n = 0;
  const fn = () => {
    n += 1;
  };
  document.addEventListener("keydown", fn);
  return {
    count: () => n,
    stop: () => document.removeEventListener("keydown", fn),
  };
}

const ELEVEN = [
  "Subject",
  "Style",
  "Mood",
  "Lighting",
  "Environment",
  "Color",
  "Composition",
  "Element Value",
  "Collective Noun",
  "Negative prompt",
  "Repeating term",
].map((name, i) => ({
  name,
  description: `about ${name.toLowerCase()}`,
  key: i < 9 ? String(i + 1) : "",
}));

describe("keymap", () => {
  it("is built from the shortcuts trait and the label keys", () => {
    const map = buildKeymap(SHORTCUTS, [
      { name: "agree", key: "1" },
      { name: "other", key: "" },
    ]);
    expect(map.get("enter")).toBeUndefined();
    expect(map.get("Enter")).toEqual({ action: "accept" });
    expect(map.get(" ")).toEqual({ action: "skip" });
    expect(map.get("1")).toEqual({ action: "label", label: "agree" });
    expect([...map.values()].filter((b) => b.action === "label")).toHaveLength(1);
  });

  it("ignores modifier combinations and folds letter case (Caps Lock)", () => {
    const map = buildKeymap(SHORTCUTS, []);
    const ev = (/** @type {KeyboardEventInit} */ init) => new KeyboardEvent("keydown", init);
    expect(bindingFor(ev({ key: "A" }), map)).toEqual({ action: "accept" }); // Caps Lock
    expect(bindingFor(ev({ key: "A", shiftKey: true }), map)).toBeUndefined();
    expect(bindingFor(ev({ key: "s", ctrlKey: true }), map)).toBeUndefined();
    expect(bindingFor(ev({ key: "z", metaKey: true }), map)).toBeUndefined();
    expect(normaliseKey("Enter")).toBe("Enter");
    expect(keyLabel(" ")).toBe("Space");
    expect(keyLabel("a")).toBe("A");
  });

  it("knows which elements take typing", () => {
    const input = document.createElement("input");
    const button = document.createElement("input");
    button.type = "button";
    expect(isTextEntry(input)).toBe(true);
    expect(isTextEntry(button)).toBe(false);
    expect(isTextEntry(document.createElement("textarea"))).toBe(true);
    expect(isTextEntry(document.createElement("div"))).toBe(false);
  });
});

describe("single-label keys", () => {
  it.each([
    ["Enter", { kind: "accept" }],
    ["a", { kind: "accept" }],
    ["A", { kind: "accept" }],
    ["1", { kind: "decide", labels: ["agree"] }],
    ["2", { kind: "decide", labels: ["neutral_or_disagree"] }],
    ["s", { kind: "skip" }],
    [" ", { kind: "skip" }],
    ["z", { kind: "undo" }],
    ["Backspace", { kind: "undo" }],
  ])("%j sends %j with the item and revision", (key, intent) => {
    const { root, model } = mount();
    const leaks = leakCounter();
    const ev = press(root, key);
    leaks.stop();
    expect(model.sent).toEqual([{ ...intent, item_id: "gwsd-1", revision: 1 }]);
    expect(ev.defaultPrevented).toBe(true);
    expect(leaks.count()).toBe(0);
  });

  it("sends one intent per revision: repeats wait for the next state", () => {
    const { root, model } = mount();
    press(root, "a");
    press(root, "a");
    press(root, "1");
    expect(model.sent).toHaveLength(1);
    model.update({ current: item({ item_id: "gwsd-2" }), revision: 2 });
    press(root, "1");
    expect(model.sent).toEqual([
      { kind: "accept", item_id: "gwsd-1", revision: 1 },
      { kind: "decide", item_id: "gwsd-2", revision: 2, labels: ["agree"] },
    ]);
  });

  it("ignores auto-repeat from a held key", () => {
    const { root, model } = mount();
    press(root, "a", { repeat: true });
    expect(model.sent).toEqual([]);
  });

  it("stops unhandled plain keys from reaching the notebook, but not Ctrl combinations", () => {
    const { root, model } = mount();
    const leaks = leakCounter();
    press(root, "d");
    press(root, "d");
    press(root, "m");
    expect(leaks.count()).toBe(0);
    press(root, "s", { ctrlKey: true });
    expect(leaks.count()).toBe(1);
    leaks.stop();
    expect(model.sent).toEqual([]);
  });

  it("does not accept without a valid proposal and says why", () => {
    const { root, model } = mount({ current: item({ proposal: null }) });
    press(root, "Enter");
    expect(model.sent).toEqual([]);
    expect(root.querySelector(".llmlabel-notice")?.textContent).toBe(
      "No valid proposal to accept: choose a label (1, 2).",
    );
    press(root, "2");
    expect(model.sent).toEqual([
      { kind: "decide", item_id: "gwsd-1", revision: 1, labels: ["neutral_or_disagree"] },
    ]);
  });

  it("lets a focused button activate natively on Enter", () => {
    const { root, model } = mount();
    const skip = /** @type {HTMLButtonElement} */ (root.querySelector(".llmlabel-act-skip"));
    skip.focus();
    const ev = press(skip, "Enter");
    expect(ev.defaultPrevented).toBe(false);
    expect(model.sent).toEqual([]);
  });

  it("uses configured shortcuts", () => {
    const { root, model } = mount({
      shortcuts: { ...SHORTCUTS, accept: ["y"], labels: ["q", "w"] },
      labels: [
        { name: "agree", description: "", key: "q" },
        { name: "neutral_or_disagree", description: "", key: "w" },
      ],
    });
    press(root, "a");
    press(root, "1");
    expect(model.sent).toEqual([]);
    expect(root.querySelector(".llmlabel-act-accept kbd")?.textContent).toBe("Y");
    press(root, "w");
    expect(model.sent).toEqual([
      { kind: "decide", item_id: "gwsd-1", revision: 1, labels: ["neutral_or_disagree"] },
    ]);
  });

  it("undo still works when everything is done; labels do not", () => {
    const { root, model } = mount({ current: null, done: true });
    press(root, "a");
    press(root, "1");
    press(root, "z");
    expect(model.sent).toEqual([{ kind: "undo", item_id: null, revision: 1 }]);
  });
});

describe("mouse", () => {
  it("a double click on accept records one intent and returns focus to the view", () => {
    const { root, model } = mount();
    const accept = /** @type {HTMLButtonElement} */ (root.querySelector(".llmlabel-act-accept"));
    accept.focus();
    click(accept, 1);
    click(accept, 2);
    expect(model.sent).toEqual([{ kind: "accept", item_id: "gwsd-1", revision: 1 }]);
    expect(document.activeElement).toBe(root);
  });

  it("label buttons decide", () => {
    const { root, model } = mount();
    click(/** @type {Element} */ (root.querySelector('button[data-label="neutral_or_disagree"]')));
    expect(model.sent).toEqual([
      { kind: "decide", item_id: "gwsd-1", revision: 1, labels: ["neutral_or_disagree"] },
    ]);
  });
});

describe("note", () => {
  it("typing in the note never triggers label keys; Enter saves it", () => {
    const { root, model } = mount();
    press(root, "n");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-note-input"));
    expect(document.activeElement).toBe(input);
    const leaks = leakCounter();
    type(input, "1 a s z / ? n");
    press(input, "Backspace");
    leaks.stop();
    expect(leaks.count()).toBe(0);
    expect(model.sent).toEqual([]);
    press(input, "Enter");
    expect(model.sent).toEqual([
      { kind: "note", item_id: "gwsd-1", revision: 1, text: "1 a s z / ? n" },
    ]);
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-note")).hidden).toBe(true);
    expect(document.activeElement).toBe(root);
  });

  it("Escape cancels the note", () => {
    const { root, model } = mount();
    press(root, "n");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-note-input"));
    type(input, "draft");
    press(input, "Escape");
    expect(model.sent).toEqual([]);
    expect(/** @type {HTMLElement} */ (root.querySelector(".llmlabel-note")).hidden).toBe(true);
  });
});

describe("filter list", () => {
  it("finds a label beyond the ninth by typing, without firing label keys", () => {
    const { root, model } = mount({
      labels: ELEVEN,
      current: item({ proposal: { ...item().proposal, labels: ["Subject"] } }),
    });
    expect(root.querySelectorAll("button.llmlabel-label kbd")).toHaveLength(9);
    press(root, "/");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-filter-input"));
    expect(document.activeElement).toBe(input);
    type(input, "rep");
    const options = [...root.querySelectorAll(".llmlabel-option")].map((o) =>
      o.getAttribute("data-label"),
    );
    expect(options).toEqual(["Repeating term"]);
    expect(model.sent).toEqual([]);
    press(input, "Enter");
    expect(model.sent).toEqual([
      { kind: "decide", item_id: "gwsd-1", revision: 1, labels: ["Repeating term"] },
    ]);
  });

  it("matches descriptions and moves with the arrow keys", () => {
    const { root, model } = mount({ labels: ELEVEN });
    press(root, "/");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-filter-input"));
    type(input, "about c");
    const options = [...root.querySelectorAll(".llmlabel-option")].map((o) =>
      o.getAttribute("data-label"),
    );
    expect(options).toEqual(["Color", "Composition", "Collective Noun"]);
    press(input, "ArrowDown");
    press(input, "ArrowDown");
    press(input, "ArrowUp");
    press(input, "Enter");
    expect(model.sent[0].labels).toEqual(["Composition"]);
  });
});

describe("multi-label", () => {
  it("keys toggle labels starting from the proposal; Enter confirms the set", () => {
    const { root, model } = mount({
      labels: ELEVEN,
      multi_label: true,
      current: item({ proposal: { ...item().proposal, labels: ["Subject", "Style"] } }),
    });
    const pressed = () =>
      [...root.querySelectorAll('button.llmlabel-label[aria-pressed="true"]')].map((b) =>
        b.getAttribute("data-label"),
      );
    expect(pressed()).toEqual(["Subject", "Style"]);
    expect(root.querySelector(".llmlabel-act-accept .llmlabel-caption")?.textContent).toBe(
      "Confirm",
    );
    press(root, "2");
    press(root, "4");
    expect(pressed()).toEqual(["Subject", "Lighting"]);
    expect(root.querySelector(".llmlabel-selection")?.textContent).toContain(
      "Selected: Subject, Lighting",
    );
    press(root, "/");
    const input = /** @type {HTMLInputElement} */ (root.querySelector(".llmlabel-filter-input"));
    type(input, "negative");
    press(input, "Enter");
    press(input, "Escape");
    expect(model.sent).toEqual([]);
    press(root, "Enter");
    expect(model.sent).toEqual([
      {
        kind: "decide",
        item_id: "gwsd-1",
        revision: 1,
        labels: ["Subject", "Lighting", "Negative prompt"],
      },
    ]);
  });

  it("a new item resets the selection to its proposal", () => {
    const { root, model } = mount({ labels: ELEVEN, multi_label: true });
    press(root, "3");
    model.update({
      current: item({ item_id: "x2", proposal: { ...item().proposal, labels: ["Mood"] } }),
      revision: 2,
    });
    const pressed = [...root.querySelectorAll('button.llmlabel-label[aria-pressed="true"]')];
    expect(pressed.map((b) => b.getAttribute("data-label"))).toEqual(["Mood"]);
  });
});
