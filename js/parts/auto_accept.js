// The auto-accept bar: a check of which open proposals can be accepted with a certified error
// bound ("1,240 remaining proposals can be auto-accepted with error ≤ 2% (95%)"), and a
// button that records them. Python computes the plan (a check reads the whole pool, so it
// runs when asked) and applies it; the bar only shows the `auto_accept` trait.

import { h, show } from "../dom.js";
import { MSG, TRAITS } from "../protocol.js";
import { createScope } from "./scope.js";

const fmt = new Intl.NumberFormat("en-US");

/**
 * @typedef {{checked?: boolean, certified?: boolean, summary?: string, covered?: number,
 *   applied?: number}} AutoAcceptView
 * @typedef {object} AutoAcceptPart
 * @property {HTMLElement} node
 * @property {() => void} render
 * @property {() => void} cleanup
 */

/**
 * @param {import("./context.js").ViewContext} ctx
 * @returns {AutoAcceptPart}
 */
export function createAutoAccept(ctx) {
  const scope = createScope(ctx.model);
  const text = h("span", { cls: "llmlabel-auto-text", attrs: { role: "status" } });
  const check = h("button", {
    cls: "llmlabel-btn llmlabel-auto-check",
    text: "Check auto-accept",
    attrs: {
      type: "button",
      title: "Which open proposals can be accepted with a certified error bound",
    },
  });
  const apply = h("button", {
    cls: "llmlabel-btn llmlabel-auto-apply",
    attrs: { type: "button" },
  });
  const node = h("div", { cls: "llmlabel-auto" }, [text, check, apply]);

  /** @param {string} step */
  function send(step) {
    ctx.model.send({ kind: MSG.autoAccept, step, revision: ctx.model.get(TRAITS.revision) });
  }
  scope.listen(check, "click", () => send("check"));
  scope.listen(apply, "click", () => send("apply"));

  function render() {
    /** @type {AutoAcceptView} */
    const a = ctx.model.get(TRAITS.autoAccept) || {};
    text.textContent = a.checked ? a.summary || "" : "";
    show(text, Boolean(text.textContent));
    const ready = Boolean(a.checked && a.certified && a.covered);
    apply.textContent = ready ? `Auto-accept ${fmt.format(a.covered || 0)}` : "";
    show(apply, ready);
    check.textContent = a.checked ? "Check again" : "Check auto-accept";
    show(node, ctx.model.get(TRAITS.progress)?.llm !== false); // no LLM: nothing to accept
  }
  scope.onModel(TRAITS.autoAccept, render);
  scope.onModel(TRAITS.progress, render);
  render();
  return { node, render, cleanup: scope.dispose };
}
