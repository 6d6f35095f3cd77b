// The contract between the view and llmlabel_widget/widget.py, in one place.
// Trait names are the Python names (snake_case), with no translation layer.

/** Traits the view reads. */
export const TRAITS = Object.freeze({
  labels: "labels",
  multiLabel: "multi_label",
  current: "current",
  queuePreview: "queue_preview",
  progress: "progress",
  busy: "busy",
  error: "error",
  notice: "notice",
  shortcuts: "shortcuts",
  revision: "revision",
  done: "done",
  queueFilter: "queue_filter",
  history: "history",
  searchResults: "search_results",
  autoAccept: "auto_accept",
});

/** Kinds of the custom messages the view sends (user intents). */
export const MSG = Object.freeze({
  accept: "accept",
  decide: "decide",
  skip: "skip",
  note: "note",
  undo: "undo",
  filter: "filter",
  back: "back",
  forward: "forward",
  goto: "goto",
  search: "search",
  autoAccept: "auto_accept",
});

/** Actions a key can trigger besides a label; the same names as in `shortcuts`. */
export const ACTIONS = Object.freeze([
  "accept",
  "skip",
  "note",
  "undo",
  "filter",
  "queue",
  "help",
  "back",
  "forward",
  "goto",
]);

/** Texts longer than this (characters) or with more lines start collapsed. */
export const COLLAPSE_CHARS = 1200;
export const COLLAPSE_LINES = 12;

/** Confidence below this is marked "low" in words, not only by colour. */
export const LOW_CONFIDENCE = 0.6;

/** If no answer arrives (kernel gone, message lost), unlock the view after this long. */
export const UNLOCK_AFTER_MS = 8000;

/** Show "saving…" only when an answer takes longer than this. */
export const SAVING_AFTER_MS = 250;
