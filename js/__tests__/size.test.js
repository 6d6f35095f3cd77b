// Small units: no JS module over 600 lines, no function over 80 (nested functions count
// toward the function that holds them, so one long closure cannot hide behind helpers).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const JS = join(import.meta.dirname, "..");
const MAX_MODULE_LINES = 600;
const MAX_FUNCTION_LINES = 80;

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return e.name === "__tests__" ? [] : sources(join(dir, e.name));
    return e.name.endsWith(".js") ? [join(dir, e.name)] : [];
  });
}

/** @param {string} path @returns {{name: string, lines: number}[]} */
function functionLengths(path) {
  const text = readFileSync(path, "utf8");
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  /** @type {{name: string, lines: number}[]} */
  const out = [];
  /** @param {ts.Node} node */
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = /** @type {any} */ (node).name;
      const name = named ? named.getText(file) : `<anonymous at line ${start + 1}>`;
      out.push({ name, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

describe("unit sizes", () => {
  const files = sources(JS);

  it("finds the view modules", () => {
    const names = files.map((f) => relative(JS, f));
    expect(names).toEqual(expect.arrayContaining(["view.js", "prompt_lab.js", "parts/card.js"]));
  });

  it.each(files.map((f) => [relative(JS, f), f]))("%s stays small", (_name, path) => {
    const lines = readFileSync(path, "utf8").split("\n").length;
    expect(lines).toBeLessThanOrEqual(MAX_MODULE_LINES);
    const long = functionLengths(path).filter((f) => f.lines > MAX_FUNCTION_LINES);
    expect(long).toEqual([]);
  });
});
