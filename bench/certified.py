"""Coverage and width of the pool estimates under adaptive review, on real LLM-labeled data.

Run: python bench/certified.py [--runs 200] [--only NAME] [--sizes 50 100 200 500]
     python bench/certified.py --data FILE.csv --text COL --gold COL --llm COL
         [--confidence COL] [--runs 200]

Each run replays a review session with gold playing the human: the product's own ranking
(`llmlabel_widget.selection.rank`, explore=0.1, or `--explore-early` for the first 100
reviews; a fresh audit order per run) orders the queue, the reviewer decides the top of it
in steps (a refit after every 25 labels up to 100, then after half as many again as are
reviewed: 150, 200, 300, 450; never stepping over a review size), and at each review size the
product's estimator (`llmlabel_widget.estimation.audit.pool_estimates`) gives the pool
estimates, compared with the truth over the whole pool. Printed per data set, strategy
(default `hybrid` and `disagreement`) and review size:

- coverage: share of runs whose 95% interval holds the truth (accuracy; for the label
  shares, precisions and recalls the worst label);
- width: mean interval width; ratio: mean width / mean width of a Wilson interval on the
  audit sample alone (the first M items of the audit order, human-labeled);
- degenerate: intervals of width 0 while some item of their domain was unknown (a precision
  whose label's items were all reviewed is exact, not degenerate);
- auto-accept (the product's `certify_threshold`, at `--max-error`, default 5%, level 95%):
  the share of runs whose realised error among the open items it accepts exceeds the bound
  (target <= 5%), the mean realised error where it accepted any, and the labels saved (items
  accepted, mean over all runs).

Speed: one replay to the largest size serves every review size; the features are built
once per data set. By default (`--features svd`) the learner sees the product's TF-IDF
features (`text_features`) projected on their first 128 singular vectors: a dense matrix,
the same path as a pool with user-supplied embeddings, and ten to fifty times faster to fit
than the 35,000-100,000 sparse TF-IDF columns (`--features tfidf`, the live default, for a
check). Printed per data set: the time spent replaying and scoring, and the load average.

Multi-label sets (t2i_prompt_modifiers_gpt4_cot) are skipped: the estimator covers
single-label tasks only.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from active_learning import Data, pool_state
from sklearn.decomposition import TruncatedSVD
from threadpoolctl import threadpool_limits

from llmlabel_widget import datasets
from llmlabel_widget.estimation.audit import AuditState, pool_estimates
from llmlabel_widget.estimation.auto_accept import certify_threshold
from llmlabel_widget.metrics import wilson_interval
from llmlabel_widget.selection import Settings, rank, text_features
from llmlabel_widget.selection.audit import audit_positions

STRATEGIES = ("hybrid", "disagreement")
SIZES = (50, 100, 200, 500)
MAX_ERROR = 0.05  # the auto-accept bound the bench certifies (--max-error)
SVD_DIMS = 128  # --features svd: the TF-IDF projected on this many singular vectors
EXPLORE = 0.1  # the audit share of the queue (the product's default)
EARLY = 100  # --explore-early sets the audit share for the reviews before this many
REPLAY_VERSION = 2  # bump when a replay records something else (invalidates --cache)


def shipped() -> list[Data]:
    out = []
    for name in (
        "gwsd_climate_stance_gpt4o",
        "tornberg_us_senators_gpt4",
        "css_emotion_llm",
        "css_semeval_stance_trump_llm",
    ):
        d = datasets.load(name)
        conf = d["llm_confidence"].to_numpy(float) if "llm_confidence" in d else None
        out.append(
            Data(
                name,
                d["text"].tolist(),
                d["gold_label"].to_numpy(),
                d["llm_label"].to_numpy(),
                conf,
            )
        )
    return out


def state_of(d: Data, human: dict[int, str], census: np.ndarray, pos: np.ndarray) -> AuditState:
    n = len(d.gold)
    h = np.empty(n, dtype=object)
    h[:] = [human.get(i) for i in range(n)]
    llm = np.empty(n, dtype=object)
    llm[:] = [v if isinstance(v, str) and v else None for v in d.llm]
    conf = d.confidence if d.confidence is not None else np.full(n, np.nan)
    return AuditState(h, llm, conf, pos, np.zeros(n, dtype=bool), np.asarray(census, dtype=bool))


def unknown(st: AuditState, quantity: str) -> bool:
    """Whether some item of the quantity's domain is still unknown (precision: the items the
    LLM gave that label; accuracy: items with an LLM label; shares, recall: the pool)."""
    if quantity.startswith("precision["):
        domain = np.array([f == quantity[len("precision[") : -1] for f in st.llm])
    elif quantity == "accuracy":
        domain = np.array([f is not None for f in st.llm])
    else:
        domain = np.ones(len(st.llm), dtype=bool)
    return bool((domain & ~st.decided).any())


def wilson_audit(st: AuditState, quantity: str) -> float:
    """Width of the Wilson interval on the audit sample alone, for accuracy or a share."""
    s = st.sample & st.decided
    human, llm = st.human[s], st.llm[s]
    if quantity == "accuracy":
        ok = np.array([f is not None for f in llm])
        z = np.array([h == f for h, f in zip(human, llm, strict=True)])[ok]
    else:
        c = quantity[len("share[") : -1]
        z = np.array([h == c for h in human])
    if not len(z):
        return 1.0
    low, high = wilson_interval(float(z.sum()), len(z))
    return high - low


def replay(
    d: Data, x, classes, strategy: str, run: int, sizes: list[int], early: float = EXPLORE
) -> list[tuple]:
    """One review session: at each review size, (size, human labels, census mask, audit seed).

    ``early`` is the audit share (``explore``) for the first :data:`EARLY` reviews."""
    n = len(d.gold)
    audit_seed = 7919 * run + 17
    human: dict[int, str] = {}
    census = np.zeros(n, dtype=bool)
    snaps = []
    everything = np.arange(n)
    for size in sizes:
        while len(human) < size:
            need = min(step(len(human)), size - len(human))
            explore = early if len(human) < EARLY else EXPLORE
            settings = Settings(
                strategy=strategy, explore=explore, seed=run, audit_seed=audit_seed, limit=need
            )
            out = rank(pool_state(everything, classes, human, d), settings, x)
            for q in out.items[:need]:
                i = int(q.item_id)
                human[i] = d.gold[i]
                census[i] |= not q.audit
                census[[int(c) for c in q.covers]] = True
        snaps.append((size, dict(human), census.copy(), audit_seed))
    return snaps


def step(labeled: int) -> int:
    """New labels between two refits: 25 up to 100 labels, then half the labels so far."""
    return 25 if labeled < 100 else labeled // 2


def features(d: Data, mode: str):
    """The learner's features: the product's TF-IDF, or its projection (``svd``)."""
    x = text_features(d.texts)
    if mode == "tfidf":
        return x
    dims = min(SVD_DIMS, min(x.shape) - 1)
    return TruncatedSVD(dims, random_state=0).fit_transform(x)


def score(d: Data, classes, snap: tuple, truth: pd.Series) -> list[tuple]:
    """The product's estimates at one snapshot, against the truth: one row per quantity."""
    size, human, census, audit_seed = snap
    n = len(d.gold)
    pos = audit_positions(np.array([str(i) for i in range(n)], dtype=object), audit_seed)
    st = state_of(d, human, census, pos)
    est = pool_estimates(st, classes).set_index("quantity")
    rows = []
    for q, r in est.iterrows():
        t = truth[q]
        if not np.isfinite(t):
            continue
        width = r["high"] - r["low"]
        covered = bool(r["low"] - 1e-12 <= t <= r["high"] + 1e-12)
        ww = wilson_audit(st, q) if q == "accuracy" or q.startswith("share[") else np.nan
        rows.append((size, q, covered, width, ww, width <= 0 and unknown(st, q)))
    rows.append((size, "auto_accept", *auto_accept(st, d), False))
    return rows


def auto_accept(st: AuditState, d: Data) -> tuple[bool, float, float]:
    """The product's certified auto-accept at this snapshot: (realised error among the open
    items it accepts <= MAX_ERROR, items accepted = labels saved, realised error)."""
    valid = np.array([v is not None for v in st.llm])
    conf = np.asarray(st.confidence, dtype=float)
    audit = st.sample & st.decided & valid
    right = np.array([st.llm[i] == d.gold[i] for i in range(len(d.gold))])
    open_ = ~st.decided & valid
    cert = certify_threshold(conf[open_], right[audit], conf[audit], len(d.gold), MAX_ERROR)
    if cert.threshold is None:
        return True, 0.0, np.nan
    taken = open_ & (conf >= cert.threshold) if np.isfinite(conf).any() else open_
    error = float(1 - right[taken].mean()) if taken.any() else 0.0
    return error <= MAX_ERROR, float(taken.sum()), error


def bench(
    d: Data,
    runs: int,
    sizes: tuple[int, ...],
    cache: Path | None,
    mode: str = "svd",
    early: float = EXPLORE,
) -> None:
    n = len(d.gold)
    classes = sorted(set(d.gold) | {v for v in d.llm if isinstance(v, str) and v})
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    x = features(d, mode)
    t_features = time.perf_counter() - t0
    grid = sorted({min(s, n) for s in sizes})
    full = state_of(d, {i: d.gold[i] for i in range(n)}, np.ones(n, dtype=bool), np.arange(n))
    truth = pool_estimates(full, classes).set_index("quantity")["value"]
    acc = truth["accuracy"]
    conf = "no confidence" if d.confidence is None else "confidence"
    print(f"\n{d.name}: {n} items, {len(classes)} labels, LLM accuracy {acc:.3f}, {conf}")
    key = f"{Path(d.name).stem}-{mode}-v{REPLAY_VERSION}"
    key += f"-early{early:g}" if early != EXPLORE else ""
    t_replay = t_score = 0.0
    replayed = 0
    snaps = {}
    if cache is not None and (cache / f"{key}.pkl").exists():  # replays kept by --cache
        snaps = pickle.loads((cache / f"{key}.pkl").read_bytes())  # noqa: S301 (our own file)
    rows: dict[str, list] = {name: [] for name in STRATEGIES}
    for run in range(runs):  # strategies in turn, so a cut-short bench still has both
        for strategy in STRATEGIES:
            t = time.perf_counter()
            if (strategy, run) not in snaps:
                snaps[strategy, run] = replay(d, x, classes, strategy, run, grid, early)
                replayed += 1
            t_replay += time.perf_counter() - t
            t = time.perf_counter()
            for snap in snaps[strategy, run]:
                rows[strategy] += score(d, classes, snap, truth)
            t_score += time.perf_counter() - t
        if cache is not None and run % 5 == 4:
            save(cache, key, snaps)
    for strategy in STRATEGIES:
        cols = ["size", "q", "covered", "width", "wilson", "degenerate"]
        df = pd.DataFrame(rows[strategy], columns=cols)
        df["group"] = df["q"].str.replace(r"\[.*\]", "", regex=True)
        table = summarise(df)
        table.insert(0, "strategy", strategy)
        print(table.to_string(index=False))
    total = time.perf_counter() - t0
    print(
        f"  ({runs} runs x {len(STRATEGIES)} strategies in {total:.0f} s: features ({mode}) "
        f"{t_features:.0f} s, {replayed} replays {t_replay:.0f} s, scoring {t_score:.0f} s; "
        f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)"
    )
    if cache is not None:
        save(cache, key, snaps)


def save(cache: Path, key: str, snaps: dict) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{key}.pkl.tmp").write_bytes(pickle.dumps(snaps))
    (cache / f"{key}.pkl.tmp").replace(cache / f"{key}.pkl")


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = defaultdict(list)
    for size, part in df.groupby("size"):
        out["reviewed"].append(size)
        for group in ("accuracy", "share", "precision", "recall"):
            g = part[part["group"] == group]
            per_q = g.groupby("q").agg(
                cov=("covered", "mean"), width=("width", "mean"), ww=("wilson", "mean")
            )
            out[f"{group} cov"].append(f"{per_q['cov'].min():.3f}" if len(per_q) else "-")
            out[f"{group} width"].append(f"{per_q['width'].mean():.3f}" if len(per_q) else "-")
            if group in ("accuracy", "share"):
                ratio = (per_q["width"] / per_q["ww"]).mean()
                out[f"{group} ratio"].append(f"{ratio:.2f}")
        out["degenerate"].append(int(part["degenerate"].sum()))
        auto = part[part["group"] == "auto_accept"]
        out[f"auto over {MAX_ERROR:.0%}"].append(f"{1 - auto['covered'].mean():.3f}")
        err = auto["wilson"].dropna()
        out["auto error"].append(f"{err.mean():.3f}" if len(err) else "-")
        out["labels saved"].append(f"{auto['width'].mean():.1f}")
    return pd.DataFrame(out)


def main() -> None:
    global MAX_ERROR
    threadpool_limits(1)  # as the live selector's worker: one BLAS thread
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--data")
    ap.add_argument("--text", default="text")
    ap.add_argument("--gold", default="gold_label")
    ap.add_argument("--llm", default="llm_label")
    ap.add_argument("--confidence")
    ap.add_argument("--only", help="only the shipped data sets whose name starts with this")
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    ap.add_argument("--cache", type=Path, help="keep the replays here and reuse them")
    ap.add_argument("--max-error", type=float, default=MAX_ERROR, help="auto-accept bound")
    ap.add_argument(
        "--features",
        choices=("svd", "tfidf"),
        default="svd",
        help=f"learner features: TF-IDF projected on {SVD_DIMS} dims (fast), or the live TF-IDF",
    )
    ap.add_argument(
        "--explore-early",
        type=float,
        default=EXPLORE,
        help=f"audit share of the queue for the first {EARLY} reviews (then {EXPLORE})",
    )
    args = ap.parse_args()
    MAX_ERROR = args.max_error
    start = time.perf_counter()
    if args.data:
        df = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
        df = df.dropna(subset=[args.text, args.gold]).reset_index(drop=True)
        conf = df[args.confidence].to_numpy(float) if args.confidence else None
        sets = [
            Data(
                args.data,
                df[args.text].tolist(),
                df[args.gold].astype(str).to_numpy(),
                df[args.llm].to_numpy(object),
                conf,
            )
        ]
    else:
        sets = [d for d in shipped() if not args.only or d.name.startswith(args.only)]
        print("skipped: t2i_prompt_modifiers_gpt4_cot (multi-label; the estimator is single-label)")
    for d in sets:
        bench(d, args.runs, tuple(args.sizes), args.cache, args.features, args.explore_early)
    print(f"\n{args.runs} run(s) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
