// Sending intents: one per revision, "saving…" when the answer is slow, unlock if none comes.

import { MSG, SAVING_AFTER_MS, TRAITS, UNLOCK_AFTER_MS } from "../protocol.js";
import { createScope } from "./scope.js";

/** @typedef {import("./context.js").ViewContext} ViewContext */

/** Intents that need no item on screen (the pool may be done). */
/** @type {Set<string>} */
const NO_ITEM = new Set([MSG.undo, MSG.filter, MSG.back, MSG.forward, MSG.goto]);

/**
 * @typedef {object} IntentsPart
 * @property {(kind: string, extra?: Record<string, unknown>) => boolean} send false when
 *   dropped: an intent for this revision is already in flight, or no item is on screen
 * @property {() => void} render a new revision arrived: unlock
 * @property {() => void} cleanup
 */

/**
 * @param {ViewContext} ctx
 * @returns {IntentsPart}
 */
export function createIntents(ctx) {
  const scope = createScope(ctx.model);
  /** @type {number | null} the revision an intent was sent for; one intent per revision */
  let inflight = null;

  function unlock() {
    inflight = null;
    ctx.root.classList.remove("llmlabel-saving");
  }

  /**
   * Send one intent for the state on screen. Repeats before the next state arrives are
   * dropped here (and again in Python, by revision).
   * @param {string} kind
   * @param {Record<string, unknown>} [extra]
   */
  function send(kind, extra = {}) {
    const revision = ctx.model.get(TRAITS.revision);
    if (inflight === revision) return false;
    const cur = ctx.current();
    if (!NO_ITEM.has(kind) && !cur) return false;
    inflight = revision;
    ctx.model.send({ kind, item_id: cur ? cur.item_id : null, revision, ...extra });
    scope.later(() => {
      if (inflight === revision) ctx.root.classList.add("llmlabel-saving");
    }, SAVING_AFTER_MS);
    scope.later(() => {
      if (inflight === revision) unlock();
    }, UNLOCK_AFTER_MS);
    return true;
  }

  return {
    send,
    render() {
      ctx.root.setAttribute("data-revision", String(ctx.model.get(TRAITS.revision)));
      unlock();
    },
    cleanup: scope.dispose,
  };
}
