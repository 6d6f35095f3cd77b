// The dashboard's strip: reports its width and JupyterLab's theme colours, once per pause,
// again when the theme changes, and its cleanup leaves no observer or timer behind.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import dashboard, { readTheme } from "../dashboard.js";
import { fakeModel } from "./fake_model.js";

/** @type {any[]} */
let observers = [];

class FakeResizeObserver {
  /** @param {() => void} fn */
  constructor(fn) {
    this.fn = fn;
    this.disconnected = false;
    observers.push(this);
  }
  observe() {}
  disconnect() {
    this.disconnected = true;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  observers = [];
  vi.stubGlobal("ResizeObserver", FakeResizeObserver);
  document.body.dataset.jpThemeLight = "true";
});

/** A node inside the notebook (jsdom does not inherit custom properties: set them on it). */
function node() {
  const el = document.createElement("div");
  el.style.setProperty("--jp-layout-color0", "#ffffff");
  el.style.setProperty("--jp-ui-font-color1", "rgba(0, 0, 0, 0.87)");
  document.body.appendChild(el);
  return el;
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  document.body.innerHTML = "";
});

/** @param {HTMLElement} el @param {number} width */
function sized(el, width) {
  el.getBoundingClientRect = () => /** @type {DOMRect} */ ({ width, height: 0 });
}

describe("dashboard strip", () => {
  it("reads the theme from JupyterLab's CSS variables", () => {
    const el = node();
    const theme = readTheme(el);
    expect(theme.paper).toBe("#ffffff");
    expect(theme.font).toBe("rgba(0, 0, 0, 0.87)");
    expect(theme.light).toBe("true");
    expect(theme.grid).toBeUndefined(); // unset variables are left out
  });

  it("reports width and theme once per pause, then a theme switch", async () => {
    const model = fakeModel({ width: 0, theme: {} });
    const saved = vi.spyOn(model, "save_changes");
    const el = node();
    sized(el, 640);
    const cleanup = /** @type {() => void} */ (dashboard.render({ model, el }));
    observers[0].fn();
    observers[0].fn();
    vi.advanceTimersByTime(200);
    expect(model.get("width")).toBe(640);
    expect(model.get("theme").paper).toBe("#ffffff");
    expect(saved).toHaveBeenCalledTimes(1);
    el.style.setProperty("--jp-layout-color0", "#111111");
    document.body.dataset.jpThemeLight = "false";
    await Promise.resolve(); // the MutationObserver's callback
    vi.advanceTimersByTime(200);
    expect(model.get("theme").paper).toBe("#111111");
    expect(model.get("theme").light).toBe("false");
    expect(saved).toHaveBeenCalledTimes(2);
    cleanup();
    expect(observers[0].disconnected).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
