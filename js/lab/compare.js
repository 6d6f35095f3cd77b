// Comparing two prompt versions: pick A and B, then the items whose LLM label changed.

import { h } from "../dom.js";
import { PL_TRAITS } from "../prompt_protocol.js";
import { button, count, field, pct, section } from "./controls.js";

/** @typedef {import("./versions.js").VersionRow} VersionRow */

/**
 * @typedef {object} ComparePart
 * @property {HTMLElement} node
 * @property {() => void} render follow the `comparison` trait
 * @property {(rows: VersionRow[]) => void} renderPickers offer the versions as A and B
 * @property {() => {a: string, b: string}} picked
 * @property {() => void} cleanup
 */

/**
 * Offer every version, keeping the user's pick; default to the one at `fallback`.
 * @param {HTMLSelectElement} select @param {VersionRow[]} rows @param {number} fallback
 */
function fillPicker(select, rows, fallback) {
  const kept = select.value;
  select.replaceChildren(
    ...rows.map((v, i) =>
      h("option", {
        text: `${i + 1}. ${v.version} · ${v.strategy || ""} · ${pct(v.agreement)}`,
        attrs: { value: v.version },
      }),
    ),
  );
  if (rows.some((v) => v.version === kept)) select.value = kept;
  else if (rows.length) select.value = rows[Math.max(0, fallback)].version;
}

/** @param {Record<string, string>} r */
function changeRow(r) {
  return h("tr", { cls: "llmlabel-pl-change-row", attrs: { "data-change": r.change } }, [
    h("td", { text: `#${r.item_id}` }),
    h("td", { cls: "llmlabel-pl-text", text: r.text, attrs: { dir: "auto" } }),
    h("td", { text: r.human }),
    h("td", { text: r.llm_label_a }),
    h("td", { text: r.llm_label_b }),
    h("td", { cls: "llmlabel-pl-change", text: r.change }),
  ]);
}

/**
 * @param {import("@anywidget/types").AnyModel} model
 * @returns {ComparePart}
 */
export function createCompare(model) {
  const pickA = h("select", { cls: "llmlabel-pl-a", attrs: { "aria-label": "Version A" } });
  const pickB = h("select", { cls: "llmlabel-pl-b", attrs: { "aria-label": "Version B" } });
  const picker = h("div", { cls: "llmlabel-pl-compare-pick" }, [
    field("A", pickA),
    field("B", pickB),
    button("compare", "Compare"),
  ]);
  const summary = h("div", { cls: "llmlabel-pl-compare-summary" });
  const body = h("tbody");
  const headings = ["item", "text", "human", "A", "B", "change"];
  const table = h("table", { cls: "llmlabel-pl-compare" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        headings.map((t) => h("th", { text: t })),
      ),
    ]),
    body,
  ]);

  function render() {
    const c = model.get(PL_TRAITS.comparison) || {};
    /** @type {Record<string, string>[]} */
    const rows = c.rows || [];
    if (c.a == null) {
      summary.textContent = "";
    } else {
      const shown = rows.length < c.total ? ` (first ${rows.length} shown)` : "";
      summary.textContent =
        `${count(c.total)} items changed from ${c.a} to ${c.b}: ` +
        `${count(c.fixed)} fixed, ${count(c.broke)} broke${shown}.`;
    }
    body.replaceChildren(...rows.map(changeRow));
  }

  return {
    node: section("Compare two versions", [picker, summary, table]),
    render,
    renderPickers(rows) {
      fillPicker(pickA, rows, rows.length - 2);
      fillPicker(pickB, rows, rows.length - 1);
    },
    picked: () => ({ a: pickA.value, b: pickB.value }),
    cleanup: () => {}, // Compare clicks come through the lab's one click handler
  };
}
