// The label filter: type to narrow the labels, arrows to move, Enter to pick, Esc to close.

import { h, show } from "../dom.js";
import { createScope } from "./scope.js";

/**
 * @typedef {import("./context.js").ViewContext} ViewContext
 * @typedef {import("./context.js").LabelSpec} LabelSpec
 */

/**
 * @typedef {object} FilterPart
 * @property {HTMLElement} panel
 * @property {() => void} open
 * @property {() => void} hide
 * @property {() => void} render redraw the list (the selection changed)
 * @property {() => void} cleanup
 */

/**
 * @typedef {object} FilterHooks
 * @property {(name: string) => void} choose choose or toggle a label
 * @property {(name: string) => boolean} isSelected
 * @property {() => void} close close the panel, focus back on the view
 */

function filterInput() {
  return h("input", {
    cls: "llmlabel-filter-input",
    attrs: {
      type: "text",
      placeholder: "Type to filter labels · ↑↓ to move · Enter to pick · Esc to close",
      "aria-label": "Filter labels",
      autocomplete: "off",
      spellcheck: "false",
    },
  });
}

/**
 * A name folded for matching: lower case, with spaces, underscores and hyphens dropped.
 * @param {string} text
 */
export function fold(text) {
  return text.toLowerCase().replace(/[\s_-]+/g, "");
}

/**
 * How well a label matches the query: 0 prefix, 1 word start, 2 substring (name), 3 in the
 * description, -1 no match. Case, spaces, underscores and hyphens are ignored.
 * @param {LabelSpec} label
 * @param {string} q the folded query
 */
export function matchRank(label, q) {
  if (!q) return 0;
  const name = fold(label.name);
  if (name.startsWith(q)) return 0;
  const words = label.name.toLowerCase().split(/[\s_-]+/);
  for (let i = 1; i < words.length; i++) {
    if (fold(words.slice(i).join("")).startsWith(q)) return 1;
  }
  if (name.includes(q)) return 2;
  return fold(label.description || "").includes(q) ? 3 : -1;
}

/**
 * Labels matching the query, best first (prefix, word start, substring, description);
 * ties keep the task's label order.
 * @param {LabelSpec[]} labels
 * @param {string} query
 */
export function matching(labels, query) {
  const q = fold(query);
  return labels
    .map((label, i) => ({ label, i, rank: matchRank(label, q) }))
    .filter((m) => m.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((m) => m.label);
}

/**
 * One label in the list.
 * @param {LabelSpec} l
 * @param {boolean} active the one Enter picks
 * @param {boolean} marked already selected (multi-label)
 * @param {(name: string) => void} pick
 */
function option(l, active, marked, pick) {
  const li = h(
    "li",
    {
      cls: `llmlabel-option${active ? " llmlabel-option-active" : ""}`,
      attrs: { role: "option", "aria-selected": String(active), "data-label": l.name },
    },
    [
      h("span", { cls: "llmlabel-option-name", text: l.name, attrs: { dir: "auto" } }),
      marked ? h("span", { cls: "llmlabel-option-on", text: " ✓" }) : null,
      l.description
        ? h("span", {
            cls: "llmlabel-option-desc",
            text: ` — ${l.description}`,
            attrs: { dir: "auto" },
          })
        : null,
    ],
  );
  li.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep focus in the input
  li.addEventListener("click", () => pick(l.name));
  return li;
}

/**
 * @param {ViewContext} ctx
 * @param {FilterHooks} hooks
 * @returns {FilterPart}
 */
export function createFilter(ctx, hooks) {
  const scope = createScope(ctx.model);
  let index = 0;
  const input = filterInput();
  const list = h("ul", { cls: "llmlabel-filter-list", attrs: { role: "listbox" } });
  const panel = h("div", { cls: "llmlabel-panel llmlabel-filter" }, [input, list]);
  show(panel, false);

  const matches = () => matching(ctx.labels(), input.value);

  function render() {
    const found = matches();
    index = Math.min(index, Math.max(0, found.length - 1));
    if (found.length === 0) {
      list.replaceChildren(h("li", { cls: "llmlabel-filter-empty", text: "no label matches" }));
      return;
    }
    const marked = (/** @type {string} */ name) => ctx.multi() && hooks.isSelected(name);
    list.replaceChildren(...found.map((l, i) => option(l, i === index, marked(l.name), pick)));
    const active = list.children[index];
    if (active && typeof active.scrollIntoView === "function") {
      active.scrollIntoView({ block: "nearest" });
    }
  }

  /** @param {string} name */
  function pick(name) {
    if (ctx.multi()) {
      hooks.choose(name);
      input.value = "";
      render();
      input.focus({ preventScroll: true });
    } else {
      hooks.close();
      hooks.choose(name);
    }
  }

  /** @param {KeyboardEvent} ev */
  function onKey(ev) {
    ev.stopPropagation(); // typing a filter never triggers label keys
    const found = matches();
    if (ev.key === "Escape") {
      ev.preventDefault();
      hooks.close();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const step = ev.key === "ArrowDown" ? 1 : -1;
      index = Math.max(0, Math.min(index + step, found.length - 1));
      render();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (ev.repeat) return;
      if (found[index]) pick(found[index].name);
      else if (ctx.multi() && !input.value) hooks.close();
    }
  }

  scope.listen(input, "keydown", onKey);
  scope.listen(input, "input", () => {
    index = 0;
    render();
  });
  return {
    panel,
    open() {
      show(panel, true);
      input.value = "";
      index = 0;
      render();
      input.focus({ preventScroll: true });
    },
    hide: () => show(panel, false),
    render,
    cleanup: scope.dispose,
  };
}
