// Highlight the words of an item that the LLM's rationale quotes.

const MIN_PHRASE = 2;
const MAX_PHRASES = 40;

/**
 * Phrases quoted in a rationale: "double", “curly”, «guillemets», 「CJK」 and 'single'
 * quotes (single quotes only at word edges, so apostrophes in "don't" do not count).
 * @param {string | null | undefined} rationale
 * @returns {string[]}
 */
export function quotedPhrases(rationale) {
  if (!rationale) return [];
  const patterns = [
    /"([^"\n]+)"/g,
    /“([^”\n]+)”/g,
    /«([^»\n]+)»/g,
    /「([^」\n]+)」/g,
    /(?:^|[\s,;:([])'([^'\n]+?)'(?=$|[\s.,;:!?)\]])/gm,
    /(?:^|[\s,;:([])‘([^’\n]+?)’(?=$|[\s.,;:!?)\]])/gm,
  ];
  /** @type {string[]} */
  const out = [];
  for (const re of patterns) {
    for (const m of rationale.matchAll(re)) {
      const phrase = m[1].trim();
      if (phrase.length >= MIN_PHRASE && !out.includes(phrase)) out.push(phrase);
      if (out.length >= MAX_PHRASES) return out;
    }
  }
  return out;
}

/**
 * Split text into plain and highlighted runs. Matching ignores case; overlapping matches
 * merge. Offsets come from the regex engine on the original string, so emoji and other
 * astral characters keep their place.
 * @param {string} text
 * @param {string[]} phrases
 * @returns {{text: string, mark: boolean}[]}
 */
export function segments(text, phrases) {
  /** @type {[number, number][]} */
  const spans = [];
  for (const phrase of phrases) {
    const re = new RegExp(escapeRegExp(phrase), "giu");
    for (const m of text.matchAll(re)) {
      if (m.index !== undefined && m[0].length > 0) spans.push([m.index, m.index + m[0].length]);
    }
  }
  if (spans.length === 0) return text ? [{ text, mark: false }] : [];
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  /** @type {[number, number][]} */
  const merged = [];
  for (const [s, e] of spans) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  /** @type {{text: string, mark: boolean}[]} */
  const out = [];
  let pos = 0;
  for (const [s, e] of merged) {
    if (s > pos) out.push({ text: text.slice(pos, s), mark: false });
    out.push({ text: text.slice(s, e), mark: true });
    pos = e;
  }
  if (pos < text.length) out.push({ text: text.slice(pos), mark: false });
  return out;
}

/** @param {string} s */
function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
