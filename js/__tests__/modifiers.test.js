// Keys with Shift, Ctrl, Alt or Meta are never label actions unless configured so, and the
// view takes the keyboard only when first shown to a user who is still on its cell.
import { afterEach, describe, expect, it } from "vitest";
import { bindingFor, buildKeymap, keyLabel, normaliseKey } from "../keys.js";
import { item, SHORTCUTS } from "./fake_model.js";
import { mount, press } from "./helpers.js";

afterEach(() => {
  document.body.replaceChildren();
});

/** @param {KeyboardEventInit} init */
const ev = (init) => new KeyboardEvent("keydown", init);

describe("modified keys", () => {
  it.each([
    ["Enter", { shiftKey: true }],
    ["Enter", { ctrlKey: true }],
    ["Enter", { altKey: true }],
    ["Enter", { metaKey: true }],
    ["1", { altKey: true }],
    ["a", { metaKey: true }],
    ["A", { shiftKey: true }],
    ["S", { shiftKey: true }],
    [" ", { shiftKey: true }],
    ["Backspace", { shiftKey: true }],
    ["z", { ctrlKey: true }],
  ])("%j with %j sends nothing", (key, mods) => {
    const { root, model } = mount();
    const e = press(root, key, mods);
    expect(model.sent).toEqual([]);
    expect(e.defaultPrevented).toBe(false);
  });

  it("Shift+Enter reaches the notebook (it runs the next cell there)", () => {
    const { root } = mount();
    let seen = 0;
    const count = () => {
      seen += 1;
    };
    document.addEventListener("keydown", count);
    press(root, "Enter", { shiftKey: true });
    document.removeEventListener("keydown", count);
    expect(seen).toBe(1);
  });

  it("characters that need Shift on the keyboard still work: ? and AZERTY digits", () => {
    const { root, model } = mount();
    press(root, "?", { shiftKey: true });
    expect(root.querySelector(".llmlabel-help")?.hasAttribute("hidden")).toBe(false);
    press(root, "2", { shiftKey: true }); // AZERTY: digits are shifted
    expect(model.sent).toEqual([
      { kind: "decide", item_id: "gwsd-1", revision: 1, labels: ["neutral_or_disagree"] },
    ]);
  });

  it("Caps Lock is not a modifier: A without Shift accepts", () => {
    const { root, model } = mount();
    press(root, "A");
    expect(model.sent).toEqual([{ kind: "accept", item_id: "gwsd-1", revision: 1 }]);
  });

  it("a combination acts when the shortcuts configure it", () => {
    const { root, model } = mount({
      shortcuts: { ...SHORTCUTS, accept: ["Shift+Enter"], skip: ["Ctrl+Alt+s"] },
    });
    press(root, "Enter");
    press(root, "s", { altKey: true, ctrlKey: true, shiftKey: true });
    expect(model.sent).toEqual([]);
    press(root, "Enter", { shiftKey: true });
    expect(model.sent).toEqual([{ kind: "accept", item_id: "gwsd-1", revision: 1 }]);
    model.update({ current: item({ item_id: "gwsd-2" }), revision: 2 });
    press(root, "S", { altKey: true, ctrlKey: true });
    expect(model.sent[1]).toEqual({ kind: "skip", item_id: "gwsd-2", revision: 2 });
    expect(root.querySelector(".llmlabel-act-accept kbd")?.textContent).toBe("Shift+Enter");
  });

  it("combinations are written one way whatever the order or case", () => {
    expect(normaliseKey("shift+ctrl+A")).toBe("Ctrl+Shift+a");
    expect(normaliseKey("Ctrl++")).toBe("Ctrl++");
    expect(normaliseKey("+")).toBe("+");
    expect(keyLabel("Alt+ ")).toBe("Alt+Space");
    const map = buildKeymap({ undo: ["Meta+z"] }, []);
    expect(bindingFor(ev({ key: "z", metaKey: true }), map)).toEqual({ action: "undo" });
    expect(bindingFor(ev({ key: "z" }), map)).toBeUndefined();
  });
});

/**
 * A JupyterLab-like page: a notebook with cells; the widget is mounted in one of them.
 * @param {{active: number, widgetIn: number}} opts
 */
function notebookPage({ active, widgetIn }) {
  const nb = document.createElement("div");
  nb.className = "jp-Notebook";
  nb.tabIndex = -1;
  const cells = [0, 1, 2].map((i) => {
    const cell = document.createElement("div");
    cell.className = `jp-Cell${i === active ? " jp-mod-active" : ""}`;
    nb.appendChild(cell);
    return cell;
  });
  document.body.appendChild(nb);
  nb.focus(); // command mode: the notebook node holds the keyboard
  const el = document.createElement("div");
  cells[widgetIn].appendChild(el);
  return { nb, cells, el };
}

/** @param {HTMLElement} el */
async function renderInto(el) {
  const { default: widget } = await import("../widget.js");
  const { fakeModel } = await import("./fake_model.js");
  const model = fakeModel();
  widget.render(/** @type {any} */ ({ model, el, signal: new AbortController().signal }));
  await new Promise((r) => setTimeout(r, 30));
  return { model, root: /** @type {HTMLElement} */ (el.querySelector(".llmlabel-root")) };
}

describe("taking the keyboard", () => {
  it("takes it when shown in the active cell (the user ran it and stayed)", async () => {
    const { el } = notebookPage({ active: 1, widgetIn: 1 });
    const { root } = await renderInto(el);
    expect(document.activeElement).toBe(root);
  });

  it("leaves it alone when the user has moved on to the next cell (Shift+Enter)", async () => {
    const { nb, el } = notebookPage({ active: 2, widgetIn: 1 });
    const { root, model } = await renderInto(el);
    expect(document.activeElement).toBe(nb);
    // ... and the next Shift+Enter, sent where the focus is, decides nothing.
    press(/** @type {Element} */ (document.activeElement), "Enter", { shiftKey: true });
    expect(model.sent).toEqual([]);
    expect(root.contains(document.activeElement)).toBe(false);
  });

  it("does not take it later, on new data or a re-render", async () => {
    const { nb, el } = notebookPage({ active: 2, widgetIn: 1 });
    const { model } = await renderInto(el);
    model.update({ current: item({ item_id: "gwsd-2" }), revision: 2 });
    model.update({ labels: [{ name: "x", description: "", key: "1" }] });
    await new Promise((r) => setTimeout(r, 30));
    expect(document.activeElement).toBe(nb);
  });

  it("leaves it with another element outside the notebook (e.g. the file browser)", async () => {
    const { el } = notebookPage({ active: 1, widgetIn: 1 });
    const side = document.createElement("div");
    side.tabIndex = 0;
    document.body.appendChild(side);
    side.focus();
    await renderInto(el);
    expect(document.activeElement).toBe(side);
  });
});
