// The `g` box: find an item by id or by a piece of its text across the whole pool, then
// open it (Enter or a click). Searching is a read: it sends `search` messages, not intents.

import { h, show } from "../dom.js";
import { MSG, TRAITS } from "../protocol.js";
import { createScope } from "./scope.js";

/** Wait this long after the last keystroke before searching. */
export const SEARCH_DELAY_MS = 150;

/**
 * @typedef {{item_id: string, snippet: string, match: string}} SearchHit
 * @typedef {{query?: string, items?: SearchHit[], error?: string}} SearchResults
 */

/**
 * @typedef {object} SearchPart
 * @property {HTMLElement} panel
 * @property {() => void} open
 * @property {() => void} hide
 * @property {() => void} render new results arrived
 * @property {() => void} cleanup
 */

/**
 * @param {import("./context.js").ViewContext} ctx
 * @param {{go: (itemId: string) => void, close: () => void}} hooks
 * @returns {SearchPart}
 */
export function createSearch(ctx, hooks) {
  const scope = createScope(ctx.model);
  const { panel, input, status, list } = searchBox();
  /** @type {SearchHit[]} */
  let hits = [];
  let active = 0;
  let openOnArrival = false;
  let timer = 0;

  function search() {
    ctx.model.send({ kind: MSG.search, query: input.value });
  }

  function render() {
    /** @type {SearchResults} */
    const res = ctx.model.get(TRAITS.searchResults) || {};
    if (res.query !== input.value) return; // an older query: a newer answer is coming
    hits = res.items || [];
    active = 0;
    status.textContent = input.value.trim() ? res.error || `${hits.length} found` : "";
    drawList();
    if (openOnArrival) {
      openOnArrival = false;
      if (hits.length) hooks.go(hits[0].item_id);
    }
  }

  const drawList = () => fillHits(list, hits, active);

  /** @param {KeyboardEvent} ev */
  function onKey(ev) {
    ev.stopPropagation(); // typing a query never triggers label keys
    if (ev.key === "Escape") {
      ev.preventDefault();
      hooks.close();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (ev.repeat) return;
      const fresh = ctx.model.get(TRAITS.searchResults)?.query === input.value;
      if (fresh && hits[active]) hooks.go(hits[active].item_id);
      else if (input.value.trim()) {
        openOnArrival = true;
        search();
      }
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (!hits.length) return;
      active = (active + (ev.key === "ArrowDown" ? 1 : hits.length - 1)) % hits.length;
      drawList();
    }
  }

  function onInput() {
    const mine = ++timer;
    scope.later(() => {
      if (mine === timer) search();
    }, SEARCH_DELAY_MS);
  }

  scope.listen(input, "keydown", onKey);
  scope.listen(input, "input", onInput);
  scope.listen(list, "click", (/** @type {MouseEvent} */ ev) => openClicked(ev, hooks.go));
  return {
    panel,
    open() {
      show(panel, true);
      input.focus({ preventScroll: true });
      input.select();
    },
    hide: () => show(panel, false),
    render,
    cleanup: scope.dispose,
  };
}

function searchBox() {
  const input = h("input", {
    cls: "llmlabel-search-input",
    attrs: {
      type: "text",
      placeholder: "Go to an item: id or words from its text · Enter to open · Esc to close",
      "aria-label": "Go to an item by id or text",
      dir: "auto",
    },
  });
  const status = h("div", { cls: "llmlabel-search-status", attrs: { role: "status" } });
  const list = h("ol", { cls: "llmlabel-search-list" });
  const panel = h("div", { cls: "llmlabel-panel llmlabel-search" }, [input, status, list]);
  show(panel, false);
  return { panel, input, status, list };
}

/**
 * One button per hit: its id and the piece of text that matched.
 * @param {HTMLElement} list
 * @param {SearchHit[]} hits
 * @param {number} active the highlighted hit (Enter opens it)
 */
export function fillHits(list, hits, active) {
  list.replaceChildren(
    ...hits.map((hit, i) =>
      h("li", {}, [
        h(
          "button",
          {
            cls: `llmlabel-search-hit${i === active ? " llmlabel-option-active" : ""}`,
            attrs: { type: "button", "data-item-id": hit.item_id },
          },
          [
            h("span", { cls: "llmlabel-search-id", text: `#${hit.item_id}` }),
            h("span", {
              cls: "llmlabel-search-snippet",
              text: hit.snippet,
              attrs: { dir: "auto" },
            }),
          ],
        ),
      ]),
    ),
  );
}

/**
 * A click on a hit opens its item (a double click opens it once).
 * @param {MouseEvent} ev
 * @param {(itemId: string) => void} go
 */
function openClicked(ev, go) {
  const hit = /** @type {HTMLElement} */ (ev.target).closest(".llmlabel-search-hit");
  const id = hit?.getAttribute("data-item-id");
  if (id != null && ev.detail <= 1) go(id);
}
