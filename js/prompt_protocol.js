// The contract between the prompt lab view and llmlabel_widget/prompt_panel.py, in one place.
// Trait names are the Python names (snake_case), with no translation layer.

/** Traits the prompt lab view reads. */
export const PL_TRAITS = Object.freeze({
  draft: "draft",
  rendered: "rendered",
  estimate: "estimate",
  versions: "versions",
  versionsTotal: "versions_total",
  comparison: "comparison",
  progress: "progress",
  error: "error",
  notice: "notice",
});

/** Kinds of the custom messages the prompt lab sends (user intents). */
export const PL_MSG = Object.freeze({
  render: "render",
  estimate: "estimate",
  run: "run",
  cancel: "cancel",
  compare: "compare",
  promote: "promote",
});

/** The ways demonstrations are picked (PromptSpec.demonstrations). */
export const DEMONSTRATIONS = Object.freeze(["random", "similar", "diverse"]);
