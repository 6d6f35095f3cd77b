// The versions table: every scored prompt version, its accuracy with interval, and Promote.

import { h } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { button, pct, section } from "./controls.js";

/**
 * @typedef {{version: string, created?: string, model?: string, strategy?: string, n: number,
 *   agreement: number | null, low: number | null, high: number | null, kappa: number | null,
 *   invalid?: number, leaked: number, promoted: boolean}} VersionRow
 */

/**
 * @typedef {object} VersionsPart
 * @property {HTMLElement} node
 * @property {() => VersionRow[]} render redraw from the `versions` trait; returns the rows
 * @property {() => void} cleanup
 */

const HEADINGS = [
  "version",
  "strategy",
  "model",
  "n",
  "agreement [low, high]",
  "kappa",
  "leaked",
  "promoted",
  "",
];

/** @param {VersionRow} v */
function versionRow(v) {
  const promote = button("promote", v.promoted ? "Promoted" : "Promote");
  promote.setAttribute("data-version", v.version);
  if (v.promoted) promote.setAttribute("disabled", "");
  return h("tr", { cls: "llmlabel-pl-version", attrs: { "data-version": v.version } }, [
    h("td", { cls: "llmlabel-pl-version-id", text: v.version }),
    h("td", { text: v.strategy || "" }),
    h("td", { text: v.model || "" }),
    h("td", { cls: "llmlabel-pl-n", text: String(v.n) }),
    h("td", {
      cls: "llmlabel-pl-agreement",
      text: v.n ? `${pct(v.agreement)} [${pct(v.low)}, ${pct(v.high)}]` : "–",
    }),
    h("td", { text: v.kappa == null ? "–" : v.kappa.toFixed(2) }),
    h("td", { text: String(v.leaked ?? 0) }),
    h("td", { cls: "llmlabel-pl-promoted", text: v.promoted ? "yes" : "" }),
    h("td", {}, [promote]),
  ]);
}

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {VersionsPart}
 */
export function createVersions(model) {
  const note = h("div", { cls: "llmlabel-pl-versions-note" });
  const body = h("tbody");
  const table = h("table", { cls: "llmlabel-pl-versions" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        HEADINGS.map((t) => h("th", { text: t })),
      ),
    ]),
    body,
  ]);

  function render() {
    /** @type {VersionRow[]} */
    const rows = model.get(PL_TRAITS.versions) || [];
    const total = model.get(PL_TRAITS.versionsTotal) || rows.length;
    note.textContent = rows.length
      ? total > rows.length
        ? `Showing the latest ${rows.length} of ${total} versions.`
        : `${total} version${total === 1 ? "" : "s"}.`
      : "No versions yet: run the draft to score it against the human labels.";
    body.replaceChildren(...rows.map(versionRow));
    return rows;
  }

  return {
    node: section("Versions", [note, table]),
    render,
    cleanup: () => {}, // Promote clicks come through the lab's one click handler
  };
}
