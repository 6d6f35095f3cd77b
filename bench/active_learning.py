"""Active learning on real labeled data: learning curves, and finding the LLM's errors.

Run: python bench/active_learning.py [--seeds 3] [--skip-curves | --skip-errors] [--only NAME]
     python bench/active_learning.py --data FILE.csv --text COL --gold COL [--llm COL
         [--confidence COL] [--other-llms COL COL ...]]

(a) Learner accuracy against the number of labels for each strategy and for random, on a
    held-out split; the area under each curve; and the labels each needs to reach 95% of the
    accuracy the learner reaches with all pool labels. Like the live selector, which refits
    after every few decisions, the replay refits after every small step of
    max(10, 5% of the labels so far) new labels (never stepping over a grid point), and
    measures test accuracy at the grid points. Random is drawn in the same steps; every
    strategy starts from the same random labels for a seed. Each step takes the top of the
    strategy's ranking, as a reviewer working down the live queue would: the uncertainty
    strategies are batch-aware (`selector.spread`), so a step is not spent on near-duplicates.
(b) With recorded LLM labels: replay the review loop (the learner learns only from the gold
    labels "reviewed" so far) and report, after reviewing 5%, 10% and 20% of the items, the lift
    (share of reviewed items that were LLM errors / overall LLM error rate; random = 1.0), per
    strategy, next to two baselines: the LLM's own confidence, and cross-model disagreement.
    Reviews go in steps of 1% of the items; after each step the learner is refitted, and
    `disagreement` (and `hybrid`, through it) gets the reviewed items' signals and outcomes,
    with out-of-fold learner probabilities, to learn P(LLM wrong) as the live selector does.
    Until the learner is trained (10 reviews, two classes) every strategy uses the live cold
    start (`selector.cold_start`). The replay ranks without the live queue's random audit
    slots (`Selector(explore=0.1)` by default): those are a user setting that trades lift for
    an unbiased check, and would pull each lift towards 1 by about a tenth.
The gold label plays the human. Every step calls the product's own ranking,
`llmlabel_widget.selection.rank` (the function the live selector runs in its worker), on the
pool's arrays, without the session and store plumbing, so many seeds fit in minutes.

`--synthetic 6000 --classes 6` replays a made-up 6,000-item, 6-intent pool (`bench/synthetic.py`)
with a simulated LLM (wrong on 20% of the items, less confident when wrong).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import synthetic
from threadpoolctl import threadpool_limits

from llmlabel_widget import datasets
from llmlabel_widget.selection import PoolState, Settings, default_learner, rank, text_features

CURVE_STRATEGIES = ("random", "margin", "entropy", "least_confidence", "hybrid")
ERROR_STRATEGIES = ("random", "margin", "hybrid", "disagreement")
GRID = (
    20,
    40,
    60,
    80,
    100,
    150,
    200,
    300,
    400,
    500,
    700,
    1000,
    1400,
    2000,
    2500,
    3000,
    3500,
    4000,
    4500,
    5000,
)


@dataclass
class Data:
    name: str
    texts: list[str]
    gold: np.ndarray
    llm: np.ndarray | None = None
    confidence: np.ndarray | None = None
    others: np.ndarray | None = None  # items x other models' labels
    test_mask: np.ndarray | None = None
    agreement: np.ndarray | None = None  # share of the other models' labels that agree


def shipped() -> tuple[list[Data], list[Data]]:
    sst = datasets.load("sst2")
    sst = sst[sst["source_split"].isin(["train", "test"])]
    curves = [
        Data(
            "sst2",
            sst["text"].tolist(),
            sst["gold_label"].to_numpy(),
            test_mask=(sst["source_split"] == "test").to_numpy(),
        ),
    ]
    errors = []
    gw = datasets.load("gwsd_climate_stance_gpt4o")
    curves.append(
        Data("gwsd_climate_stance_gpt4o", gw["text"].tolist(), gw["gold_label"].to_numpy())
    )
    errors.append(
        Data(
            "gwsd_climate_stance_gpt4o (GPT-4o, verbalised confidence)",
            gw["text"].tolist(),
            gw["gold_label"].to_numpy(),
            gw["llm_label"].to_numpy(),
            gw["llm_confidence"].to_numpy(float),
        )
    )
    tb = datasets.load("tornberg_us_senators_gpt4")
    errors.append(
        Data(
            "tornberg_us_senators_gpt4 (GPT-4, self-consistency; "
            "others: GPT-4 t=1, variants, GPT-3.5)",
            tb["text"].tolist(),
            tb["gold_label"].to_numpy(),
            tb["llm_label"].to_numpy(),
            tb["llm_confidence"].to_numpy(float),
            tb[
                [
                    "llm_label_t10",
                    "llm_label_prompt_variant1",
                    "llm_label_prompt_variant2",
                    "llm_label_gpt35",
                ]
            ].to_numpy(object),
        )
    )
    for name in ("css_emotion_llm", "css_semeval_stance_trump_llm"):
        d = datasets.load(name)
        others = [c for c in d.columns if c.startswith("llm_label_")]
        errors.append(
            Data(
                f"{name} (ChatGPT; others: {len(others)} models)",
                d["text"].tolist(),
                d["gold_label"].to_numpy(),
                d["llm_label"].to_numpy(),
                None,
                d[others].to_numpy(object),
            )
        )
    curves.append(Data("css_emotion_llm", errors[-2].texts, errors[-2].gold))
    return curves, errors


def made_up(items: int, classes: int) -> tuple[list[Data], list[Data]]:
    """A Banking77-shaped pool, and a simulated LLM: wrong on 20%, less confident then."""
    df = synthetic.pool(items, classes)
    gold = df["gold_label"].to_numpy()
    rng = np.random.default_rng(1)
    wrong = rng.random(items) < 0.2
    names = sorted(set(gold))
    other = np.array([names[(names.index(g) + 1) % len(names)] for g in gold])
    llm = np.where(wrong, other, gold)
    conf = np.clip(
        np.where(wrong, rng.normal(0.7, 0.15, items), rng.normal(0.85, 0.1, items)), 0, 1
    )
    name = f"made-up {items} items, {classes} intents"
    texts = df["text"].tolist()
    return [Data(name, texts, gold)], [Data(name, texts, gold, llm, conf)]


def split(d: Data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if d.test_mask is not None:
        return np.flatnonzero(~d.test_mask), np.flatnonzero(d.test_mask)
    order = np.random.default_rng(1000 + seed).permutation(len(d.gold))
    cut = int(len(order) * 0.7)
    return np.sort(order[:cut]), np.sort(order[cut:])


def pool_state(
    ids: np.ndarray, classes: list[str], human: dict[int, str], d: Data | None = None
) -> PoolState:
    """The arrays `rank` reads, for the items ``ids`` (positions in the data set)."""
    n = len(ids)
    labels = np.empty(n, dtype=object)
    labels[:] = [[human[i]] if i in human else None for i in ids]
    llm = np.empty(n, dtype=object)
    nan = np.full(n, np.nan)
    if d is not None and d.llm is not None:
        llm[:] = [[d.llm[i]] for i in ids]
    return PoolState(
        ids=np.array([str(i) for i in ids], dtype=object),
        texts=[""] * n,  # the features are passed in
        human=labels,
        skipped=np.zeros(n, dtype=bool),
        llm=llm,
        llm_confidence=nan if d is None or d.confidence is None else d.confidence[ids],
        llm_agreement=nan if d is None or d.agreement is None else d.agreement[ids],
        classes=classes,
    )


def top(ids: np.ndarray, x, classes, human, name, seed, need, d=None):
    """The product's ranking of the unreviewed ``ids``: the first ``need`` items, and the model."""
    settings = Settings(strategy=name, explore=0.0, seed=seed, limit=need)
    out = rank(pool_state(ids, classes, human, d), settings, x)
    return np.array([int(q.item_id) for q in out.items[:need]]), out.model


def step_size(labeled: int) -> int:
    """New labels between two refits of the replay: max(10, 5% of the labels so far)."""
    return max(10, round(0.05 * labeled))


def learning_curves(d: Data, seeds: int) -> None:
    x_all = text_features(d.texts)
    classes = sorted(set(d.gold))
    print(f"\n(a) learning curves on {d.name}: {len(d.gold)} items, {len(classes)} classes")
    print("    refit every max(10, 5% of labels so far) new labels; accuracy at grid points")
    rows = []
    for seed in range(seeds):
        pool, test = split(d, seed)
        grid = [g for g in GRID if g <= len(pool) * 0.8]
        full = default_learner().fit(x_all[pool], d.gold[pool])
        full_acc = float((full.predict(x_all[test]) == d.gold[test]).mean())
        x_pool = x_all[pool]
        for name in CURVE_STRATEGIES:
            rng = np.random.default_rng(seed)
            labeled = list(rng.choice(pool, grid[0], replace=False))
            for k, g in enumerate(grid):
                while True:  # rank, then label the next small step, up to the next grid point
                    human = {int(i): d.gold[i] for i in labeled}
                    last = len(labeled) == grid[-1]
                    need = 0 if last else min(step_size(len(labeled)), grid[k + 1] - len(labeled))
                    pick, model = top(pool, x_pool, classes, human, name, seed, need)
                    if len(labeled) == g:
                        if model is None:  # `random` trains no learner to rank
                            y = d.gold[labeled]
                            model = default_learner().fit(x_all[labeled], y)
                        acc = float((model.predict(x_all[test]) == d.gold[test]).mean())
                        rows.append((seed, name, g, acc, full_acc))
                        if last:
                            break
                    labeled.extend(pick.tolist())
                    if len(labeled) == grid[k + 1]:
                        break
    df = pd.DataFrame(rows, columns=["seed", "strategy", "labels", "accuracy", "full"])
    mean = df.groupby(["strategy", "labels"])["accuracy"].mean().unstack("labels")
    full = df["full"].mean()
    print(
        f"accuracy with all {len(split(d, 0)[0])} pool labels: {full:.3f}; "
        f"95% mark = {0.95 * full:.3f}; mean of {seeds} seeds"
    )
    print(mean.round(3).to_string())
    out = []
    for name, curve in mean.iterrows():
        xs = np.log(np.array(curve.index, dtype=float))
        auc = float(np.trapezoid(curve.to_numpy(), xs) / (xs[-1] - xs[0]))
        out.append((name, auc, _crossing(curve, 0.95 * full)))
    summary = pd.DataFrame(out, columns=["strategy", "AUC (log-labels axis)", "labels to 95%"])
    rnd = summary.set_index("strategy").loc["random", "labels to 95%"]
    summary["vs random"] = summary["labels to 95%"].map(
        lambda v: f"{v / rnd:.2f}" if v and rnd else "not reached"
    )
    print(summary.to_string(index=False))


def _crossing(curve: pd.Series, mark: float) -> int | None:
    """Labels at which the mean curve first reaches ``mark``, interpolated between grid points."""
    xs, ys = np.array(curve.index, dtype=float), curve.to_numpy()
    above = np.flatnonzero(ys >= mark)
    if not len(above):
        return None
    k = int(above[0])
    if k == 0:
        return int(xs[0])
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return round(float(x0 + (mark - y0) / (y1 - y0) * (x1 - x0)))


def error_discovery(d: Data, seeds: int) -> None:
    assert d.llm is not None
    wrong = d.llm != d.gold
    rate = wrong.mean()
    n = len(d.gold)
    x_all = text_features(d.texts)
    classes = sorted(set(d.gold) | set(d.llm))
    if d.others is not None:  # what the session derives from other models' stored proposals
        votes = [[o for o in row if isinstance(o, str) and o] for row in d.others]
        d.agreement = np.array(
            [
                np.mean([o == lab for o in v]) if v else np.nan
                for v, lab in zip(votes, d.llm, strict=True)
            ]
        )
    budgets = (0.05, 0.10, 0.20)
    print(f"\n(b) finding LLM errors on {d.name}: {n} items, LLM error rate {rate:.3f}")
    results: dict[str, list[list[float]]] = {}
    batch = max(1, n // 100)
    everything = np.arange(n)
    for seed in range(seeds):
        for name in ERROR_STRATEGIES:
            rng = np.random.default_rng(seed)
            reviewed: list[int] = list(rng.choice(n, batch, replace=False))
            while len(reviewed) < int(max(budgets) * n):
                human = {int(i): d.gold[i] for i in reviewed}
                pick, _ = top(everything, x_all, classes, human, name, seed, batch, d)
                reviewed.extend(pick.tolist())
            results.setdefault(name, []).append(
                [wrong[reviewed[: int(b * n)]].mean() / rate for b in budgets]
            )
        # static baselines
        rng = np.random.default_rng(seed)
        tie = rng.random(n)
        if d.confidence is not None:
            order = np.lexsort((tie, d.confidence))
            results.setdefault("baseline: LLM confidence", []).append(
                [wrong[order[: int(b * n)]].mean() / rate for b in budgets]
            )
        if d.others is not None:
            disagree = np.array(
                [
                    sum(1 for o in row if isinstance(o, str) and o and o != lab)
                    for row, lab in zip(d.others, d.llm, strict=True)
                ]
            )
            order = np.lexsort((tie, -disagree))
            results.setdefault("baseline: cross-model disagreement", []).append(
                [wrong[order[: int(b * n)]].mean() / rate for b in budgets]
            )
    table = pd.DataFrame(
        {k: np.mean(v, axis=0) for k, v in results.items()},
        index=[f"lift@{int(b * 100)}%" for b in budgets],
    ).T
    print(table.round(2).to_string())


def main() -> None:
    # As in the live selector's worker: one BLAS thread. On a 2-core machine, threaded BLAS
    # spins on the tiny dot products inside L-BFGS and made each fit 3 to 9 times slower.
    threadpool_limits(1)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data")
    ap.add_argument("--synthetic", type=int, metavar="ITEMS", help="a made-up pool this big")
    ap.add_argument("--classes", type=int, default=6, help="intents of the made-up pool")
    ap.add_argument("--text", default="text")
    ap.add_argument("--gold", default="gold_label")
    ap.add_argument("--llm")
    ap.add_argument("--confidence")
    ap.add_argument("--other-llms", nargs="*", default=[])
    ap.add_argument("--skip-curves", action="store_true", help="only (b)")
    ap.add_argument("--skip-errors", action="store_true", help="only (a)")
    ap.add_argument("--only", help="only the data sets whose name starts with this")
    args = ap.parse_args()
    start = time.perf_counter()
    if args.synthetic:
        curves, errors = made_up(args.synthetic, args.classes)
    elif args.data:
        df = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
        df = df.dropna(subset=[args.text, args.gold])
        d = Data(args.data, df[args.text].tolist(), df[args.gold].to_numpy())
        curves, errors = [d], []
        if args.llm:
            errors.append(
                Data(
                    args.data,
                    d.texts,
                    d.gold,
                    df[args.llm].to_numpy(),
                    df[args.confidence].to_numpy(float) if args.confidence else None,
                    df[args.other_llms].to_numpy(object) if args.other_llms else None,
                )
            )
    else:
        curves, errors = shipped()
    if args.only:
        curves = [d for d in curves if d.name.startswith(args.only)]
        errors = [d for d in errors if d.name.startswith(args.only)]
    if not args.skip_curves:
        for d in curves:
            learning_curves(d, args.seeds)
    if not args.skip_errors:
        for d in errors:
            error_discovery(d, args.seeds)
    print(f"\n{args.seeds} seed(s) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
