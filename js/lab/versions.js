// The versions table: every scored prompt version, its accuracy with interval, its
// instructions with their word diff from the promoted version, and Promote.

import { h } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { button, pct, section } from "./controls.js";

/**
 * @typedef {{version: string, created?: string, model?: string, strategy?: string, n: number,
 *   agreement: number | null, low: number | null, high: number | null, kappa: number | null,
 *   invalid?: number, leaked: number, promoted: boolean, instructions?: string,
 *   diff?: [string, string][], diff_against?: string}} VersionRow
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
  "instructions",
  "",
];

const DIFF_TAGS = /** @type {const} */ ({ "+": "ins", "-": "del", "=": "span" });

/** @param {[string, string][]} runs @param {string} op */
function words(runs, op) {
  return runs
    .filter((r) => r[0] === op)
    .reduce((n, r) => n + r[1].split(/\s+/).filter(Boolean).length, 0);
}

/**
 * The version's instructions as a word diff (kept, added, removed) from the promoted version
 * (or, none promoted yet, from the session's), folded under a one-line summary.
 * @param {VersionRow} v
 */
function instructionsCell(v) {
  const runs = v.diff || [["=", v.instructions || ""]];
  const added = words(runs, "+");
  const removed = words(runs, "-");
  const against = v.diff_against === "promoted" ? "the promoted version" : "the session's";
  const summary = v.promoted
    ? "promoted: these instructions"
    : added || removed
      ? `+${added} / −${removed} words vs ${against}`
      : `same as ${against}`;
  const body = h(
    "div",
    { cls: "llmlabel-pl-diff", attrs: { dir: "auto" } },
    runs.map(([op, text]) => h(DIFF_TAGS[/** @type {"+" | "-" | "="} */ (op)] || "span", { text })),
  );
  return h("details", { cls: "llmlabel-pl-instr" }, [
    h("summary", { cls: "llmlabel-pl-diff-summary", text: summary }),
    body,
  ]);
}

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
    h("td", {}, [instructionsCell(v)]),
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
    // a redraw (after a run or a promotion) keeps the instructions the user has unfolded
    const open = new Set();
    for (const tr of body.rows) {
      if (tr.querySelector("details")?.open) open.add(tr.getAttribute("data-version"));
    }
    body.replaceChildren(...rows.map(versionRow));
    for (const tr of body.rows) {
      const details = tr.querySelector("details");
      if (details && open.has(tr.getAttribute("data-version"))) details.open = true;
    }
    return rows;
  }

  return {
    node: section("Versions", [note, table]),
    render,
    cleanup: () => {}, // Promote clicks come through the lab's one click handler
  };
}
