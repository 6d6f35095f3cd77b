import { afterEach, describe, expect, it, vi } from "vitest";
import { createContext } from "../parts/context.js";
import { createFilter, matching } from "../parts/filter.js";
import { fakeModel, item } from "./fake_model.js";
import { press, type } from "./helpers.js";

const LABELS = [
  { name: "arrival_delay", description: "", key: "" },
  { name: "card_arrival", description: "", key: "" },
  { name: "lost_or_stolen_card", description: "", key: "" },
  { name: "card-payment-fee", description: "", key: "" },
  { name: "refund", description: "money back for a card", key: "" },
];

const names = (/** @type {string} */ q) => matching(LABELS, q).map((l) => l.name);

afterEach(() => {
  vi.restoreAllMocks();
  document.body.replaceChildren();
});

describe("label filter matching", () => {
  it("ignores case, spaces, underscores and hyphens", () => {
    expect(names("card arrival")[0]).toBe("card_arrival");
    expect(names("CARD_ARRIVAL")[0]).toBe("card_arrival");
    expect(names("cardpayment")).toEqual(["card-payment-fee"]);
    expect(names("Card Payment Fee")).toEqual(["card-payment-fee"]);
  });

  it("ranks prefix above word start above substring above description", () => {
    // prefix: card_arrival, card-payment-fee; word start: lost_or_stolen_card;
    // description: refund ("money back for a card")
    expect(names("card")).toEqual([
      "card_arrival",
      "card-payment-fee",
      "lost_or_stolen_card",
      "refund",
    ]);
    // word start (card_arrival) above prefix-free substring (none) and keeps order
    expect(names("arrival")).toEqual(["arrival_delay", "card_arrival"]);
    expect(names("rrival")).toEqual(["arrival_delay", "card_arrival"]);
    expect(names("stolen card")).toEqual(["lost_or_stolen_card"]);
    expect(names("olen")).toEqual(["lost_or_stolen_card"]);
    expect(names("nothing like it")).toEqual([]);
  });
});

describe("label filter list", () => {
  it("scrolls the highlighted option into view as it moves", () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ name: `label_${i}`, key: "" }));
    const model = fakeModel({ current: item(), labels: many });
    const root = document.createElement("div");
    document.body.appendChild(root);
    const ctx = createContext(model, root, () => {});
    /** @type {[string | undefined, unknown][]} */
    const scrolled = [];
    // jsdom has no layout: record the calls instead
    /** @type {any} */ (HTMLElement.prototype).scrollIntoView = function (/** @type {any} */ arg) {
      scrolled.push([/** @type {HTMLElement} */ (this).dataset.label, arg]);
    };
    const filter = createFilter(ctx, {
      choose: () => {},
      isSelected: () => false,
      close: () => {},
    });
    root.append(filter.panel);
    filter.open();
    const input = /** @type {HTMLInputElement} */ (filter.panel.querySelector("input"));
    for (let i = 0; i < 25; i++) press(input, "ArrowDown");
    expect(scrolled.at(-1)).toEqual(["label_25", { block: "nearest" }]);
    type(input, "label 2");
    expect(scrolled.at(-1)).toEqual(["label_2", { block: "nearest" }]);
    delete (/** @type {any} */ (HTMLElement.prototype).scrollIntoView);
    filter.cleanup();
  });
});
