// The lines around the card: progress and focus hint, error, notice, and the "all done" box.

import { h, show } from "../dom.js";
import { keysFor } from "../keys.js";
import { TRAITS } from "../protocol.js";
import { progressText, progressTitle } from "../queue.js";

/** @typedef {import("./context.js").ViewContext} ViewContext */

/**
 * @typedef {object} StatusPart
 * @property {HTMLElement} header progress line and focus hint
 * @property {HTMLElement[]} lines the error and notice lines
 * @property {HTMLElement} doneBox shown when no item is left
 * @property {() => void} render error and notice
 * @property {() => void} renderProgress
 * @property {() => void} renderDone
 * @property {(text: string) => void} notice a local message (no round trip)
 * @property {() => void} cleanup
 */

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {StatusPart}
 */
export function createStatus(model) {
  const progressLine = h("div", { cls: "llmlabel-progress" });
  const focusHint = h("span", { cls: "llmlabel-focus-hint" }, [
    h("span", { cls: "llmlabel-focus-on", text: "keys active · ? for help" }),
    h("span", { cls: "llmlabel-focus-off", text: "click here to use the keys" }),
  ]);
  const header = h("div", { cls: "llmlabel-header" }, [progressLine, focusHint]);
  const errorLine = h("div", { cls: "llmlabel-error", attrs: { role: "alert" } });
  const noticeLine = h("div", { cls: "llmlabel-notice", attrs: { role: "status" } });
  const doneBox = h("div", { cls: "llmlabel-done" });

  /** @param {string} text */
  function notice(text) {
    noticeLine.textContent = text;
    show(noticeLine, Boolean(text));
  }

  function renderDone() {
    const p = model.get(TRAITS.progress) || {};
    const undoKeys = keysFor(model.get(TRAITS.shortcuts) || {}, "undo");
    if (model.get(TRAITS.queueFilter)?.chips?.length) {
      doneBox.replaceChildren(
        h("div", { cls: "llmlabel-done-title", text: "No item matches the queue filter." }),
        h("div", { cls: "llmlabel-done-hint", text: "Remove a filter (×) to see the rest." }),
      );
      return;
    }
    doneBox.replaceChildren(
      h("div", { cls: "llmlabel-done-title", text: "All items reviewed." }),
      h("div", {
        cls: "llmlabel-done-hint",
        text: `${p.done ?? 0} decided, ${p.skipped ?? 0} skipped. Export with session.export("labels.jsonl") or look at session.annotations; undo (${undoKeys}) still works.`,
      }),
    );
  }

  return {
    header,
    lines: [errorLine, noticeLine],
    doneBox,
    render() {
      const err = model.get(TRAITS.error) || "";
      errorLine.textContent = err;
      show(errorLine, Boolean(err));
      notice(model.get(TRAITS.notice) || "");
    },
    renderProgress() {
      const progress = model.get(TRAITS.progress) || {};
      progressLine.textContent = progressText(progress);
      progressLine.title = progressTitle(progress);
      if (!model.get(TRAITS.current)) renderDone();
    },
    renderDone,
    notice,
    cleanup: () => {}, // no listeners of its own
  };
}
