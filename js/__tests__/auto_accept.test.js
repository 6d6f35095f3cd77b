import { afterEach, describe, expect, it } from "vitest";
import { item } from "./fake_model.js";
import { click, mount } from "./helpers.js";

afterEach(() => {
  document.body.replaceChildren();
});

describe("certified quality (issue 14)", () => {
  it("shows the calibrated confidence next to the raw one, as Python words it", () => {
    const line = "calibrated 0.71 (Platt, 48 audit labels) · raw 0.95";
    const { root, model } = mount({
      current: item({ proposal: { ...item().proposal, calibration: line } }),
    });
    expect(root.querySelector(".llmlabel-calibration")?.textContent).toBe(line);
    model.set("current", item()); // Python sends none: no line
    expect(root.querySelector(".llmlabel-calibration")).toBeNull();
  });

  it("checks, then shows the certified count and sends apply with the revision", () => {
    const { root, model } = mount();
    const check = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-auto-check"));
    const apply = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-auto-apply"));
    expect(check.textContent).toBe("Check auto-accept");
    expect(apply.hidden || apply.style.display === "none").toBe(true);
    click(check);
    expect(model.sent.at(-1)).toEqual({ kind: "auto_accept", step: "check", revision: 1 });
    const summary = "1,240 remaining proposals can be auto-accepted with error ≤ 2% (95%)";
    model.set("auto_accept", { checked: true, certified: true, covered: 1240, summary });
    expect(root.querySelector(".llmlabel-auto-text")?.textContent).toBe(summary);
    expect(apply.textContent).toBe("Auto-accept 1,240");
    click(apply);
    expect(model.sent.at(-1)).toEqual({ kind: "auto_accept", step: "apply", revision: 1 });
  });

  it("offers no apply button when nothing qualifies", () => {
    const { root, model } = mount();
    const summary = "No auto-accept with error ≤ 2% (95%): not enough data";
    model.set("auto_accept", { checked: true, certified: false, covered: 0, summary });
    const apply = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-auto-apply"));
    expect(apply.hidden || apply.style.display === "none").toBe(true);
    expect(root.querySelector(".llmlabel-auto-check")?.textContent).toBe("Check again");
  });

  it("hides the bar when the session has no LLM", () => {
    const { root, model } = mount();
    const bar = /** @type {HTMLElement} */ (root.querySelector(".llmlabel-auto"));
    expect(bar.hidden).toBe(false);
    model.set("progress", { ...model.get("progress"), llm: false });
    expect(bar.hidden).toBe(true);
  });
});
