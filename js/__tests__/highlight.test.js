import { describe, expect, it } from "vitest";
import { quotedPhrases, segments } from "../highlight.js";

describe("quotedPhrases", () => {
  it("reads single-quoted phrases from a GPT-4 chain-of-thought rationale", () => {
    // From t2i_prompt_modifiers_gpt4_cot, item t2i-0.
    const rationale =
      "'math teacher', 'glasses', 'green polo shirt', 'goatee', 'chromebook' are Subject\n" +
      "'anime', 'epic' are Style\n'detailed' is Element Value";
    expect(quotedPhrases(rationale)).toEqual([
      "math teacher",
      "glasses",
      "green polo shirt",
      "goatee",
      "chromebook",
      "anime",
      "epic",
      "detailed",
    ]);
  });

  it("reads double and typographic quotes but not apostrophes", () => {
    expect(quotedPhrases(`It's clear: "dragged on" and “no sense”, don't you think`)).toEqual([
      "dragged on",
      "no sense",
    ]);
    expect(quotedPhrases(null)).toEqual([]);
    expect(quotedPhrases('one letter "a" is ignored')).toEqual([]);
  });
});

describe("segments", () => {
  it("marks every occurrence, ignoring case, and merges overlaps", () => {
    expect(segments("The plot dragged on. Dragged!", ["dragged on", "on. drag"])).toEqual([
      { text: "The plot ", mark: false },
      { text: "dragged on. Drag", mark: true },
      { text: "ged!", mark: false },
    ]);
    expect(segments("Dragged, dragged", ["DRAGGED"]).filter((r) => r.mark)).toHaveLength(2);
  });

  it("keeps offsets right around emoji and escapes regex characters", () => {
    const text = "👋🏽 price (USD) is 3.50 👋🏽";
    const runs = segments(text, ["(usd)", "3.50"]);
    expect(runs.map((r) => r.text).join("")).toBe(text);
    expect(runs.filter((r) => r.mark).map((r) => r.text)).toEqual(["(USD)", "3.50"]);
  });

  it("returns the text unmarked when nothing matches", () => {
    expect(segments("abc", ["zzz"])).toEqual([{ text: "abc", mark: false }]);
    expect(segments("", ["a"])).toEqual([]);
  });
});
