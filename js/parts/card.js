// The item card: why it was picked, its text (collapsible), metadata and the LLM's proposal.

import {
  expandCaption,
  fillMeta,
  fillProposal,
  fillText,
  isLong,
  truncationNote,
} from "../card.js";
import { h, show } from "../dom.js";

/** @typedef {import("../card.js").Current} Current */

/**
 * @typedef {object} CardPart
 * @property {HTMLElement[]} nodes to place in the card, in order
 * @property {HTMLElement} expandBtn its clicks come through the view's one click handler
 * @property {(cur: Current, busy: boolean, llm?: boolean) => void} render
 * @property {() => void} collapse a new item starts collapsed
 * @property {() => void} toggle expand or collapse a long text
 * @property {() => void} cleanup
 */

/** @returns {CardPart} */
export function createCard() {
  let expanded = false;
  const reasonLine = h("div", { cls: "llmlabel-reason" });
  const textNode = h("div", { cls: "llmlabel-text", attrs: { dir: "auto" } });
  const expandBtn = h("button", { cls: "llmlabel-expand", attrs: { type: "button" } });
  const truncNote = h("div", { cls: "llmlabel-trunc" });
  const metaLine = h("div", { cls: "llmlabel-meta" });
  const proposalBox = h("div", { cls: "llmlabel-proposal" });
  const item = h("div", { cls: "llmlabel-item" }, [textNode, expandBtn, truncNote]);
  show(expandBtn, false);

  /** @param {Current} cur @param {boolean} busy @param {boolean} [llm] */
  function render(cur, busy, llm = true) {
    reasonLine.textContent = cur.reason ? `picked because: ${cur.reason}` : "";
    fillText(textNode, cur);
    const long = isLong(cur.text || "");
    textNode.classList.toggle("llmlabel-collapsed", long && !expanded);
    show(expandBtn, long);
    expandBtn.textContent = expandCaption(cur, expanded);
    expandBtn.setAttribute("aria-expanded", String(expanded));
    const trunc = truncationNote(cur);
    truncNote.textContent = trunc;
    show(truncNote, Boolean(trunc));
    fillMeta(metaLine, cur);
    fillProposal(proposalBox, cur, { busy, acceptKeys: "", llm });
  }

  return {
    nodes: [reasonLine, item, metaLine, proposalBox],
    expandBtn,
    render,
    collapse: () => {
      expanded = false;
    },
    toggle: () => {
      expanded = !expanded;
    },
    cleanup: () => {}, // no listeners of its own: the nodes go with the root
  };
}
