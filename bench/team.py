"""Team benchmark: 1, 4 and 16 reviewer processes leasing and deciding at once.

Run: python bench/team.py [--items 1000000] [--reviewers 1,4,16] [--decisions 200]
     [--backends sqlite,postgres] [--think 0.5] [--strategy in_order]
Prints, per backend and number of reviewers: decisions per second (all reviewers together),
the p50/p95 of "next item" (``session.queue(5, reviewer=...)``, which leases) and the p50/p95
of ``decide``, over every call of every reviewer (the first included). PostgreSQL is a
throwaway local cluster (``initdb`` in a temporary folder, the same as the tests'); SQLite is
one file on this machine. Each reviewer uses the in-order selector (pool order, leased in SQL:
no ranking), so what is measured is the store; ``--strategy hybrid`` (or another learning
selector, refitting in the product's low-priority worker process, or ``--refit-in thread``)
measures the shared ranking too,
and prints how many refits the reviewer processes ran, in how many processes, their CPU
seconds together and the largest one's peak memory. Without ``--think`` the reviewers click in a
tight loop (a closed loop: 16 busy processes share this machine's cores); ``--think 0.5``
waits half a second after each decision, as a person reading the next item would, and the
reviewers' first calls are spread over that half second (people do not start in the same
millisecond). Besides the p50/p95 over every call, the bench prints each reviewer's first
"next item" (the slowest: the connection's first statements, the refit turn, the worker).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from llmlabel_widget import LabelTask, Selector, Session
from llmlabel_widget.testing.postgres import PostgresCluster

TASK = LabelTask(labels={"positive": "praises it", "negative": "criticises it"})
BATCH = 5  # items leased per "next item" call


def worker(
    url: str,
    name: str,
    decisions: int,
    start_at: float,
    think: float,
    strategy: str,
    refit_in: str,
) -> None:
    """One reviewer: open, wait for the common start, lease and decide; print timings."""
    debounce = 5.0 if strategy == "in_order" else 0.3  # a learning one: its default
    selector = Selector(strategy=strategy, worker=refit_in, debounce=debounce)
    session = Session.open(url, selector=selector)
    while time.time() < start_at:
        time.sleep(0.01)
    nexts: list[float] = []
    decides: list[float] = []
    t_start = time.perf_counter()
    while len(decides) < decisions:
        t0 = time.perf_counter()
        queue = session.queue(BATCH, reviewer=name)
        nexts.append(time.perf_counter() - t0)
        if not queue:
            break
        for item in queue[: decisions - len(decides)]:
            t0 = time.perf_counter()
            session.decide(item.item_id, "positive", reviewer=name)
            decides.append(time.perf_counter() - t0)
            if think:
                time.sleep(think)
    wall = time.perf_counter() - t_start
    session.selector.wait()
    if hasattr(session, "wait_shared_ranking"):
        session.wait_shared_ranking()
    use = resource.getrusage(resource.RUSAGE_SELF)
    refits = session.selector.status.refits
    cpu, rss = use.ru_utime + use.ru_stime, use.ru_maxrss / 1024
    print(
        json.dumps(
            {
                "next": nexts,
                "decide": decides,
                "wall": wall,
                "refits": refits,
                "cpu": cpu,
                "rss_mb": rss,
            }
        )
    )
    session.close()


def build(url: str, n: int) -> float:
    """A project of ``n`` synthetic items, in team mode; the seconds it took."""
    t0 = time.perf_counter()
    data = pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "text": [f"item {i}" for i in range(n)]}
    )
    with Session.open(url, data=data, task=TASK, selector=Selector(strategy="in_order")) as s:
        s.team(overlap=0.1)
    return time.perf_counter() - t0


def run(
    url: str, reviewers: int, decisions: int, think: float, strategy: str, refit_in: str
) -> dict[str, float]:
    # Every process is open by then. With a think time, the reviewers start spread over one
    # think time, as people do, rather than all in the same millisecond.
    start_at = time.time() + 10 + reviewers
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                url,
                f"rev{reviewers}_{k}",
                str(decisions),
                str(start_at + k * think / reviewers),
                str(think),
                strategy,
                refit_in,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(reviewers)
    ]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    firsts = np.array([o["next"][0] for o in outs if o["next"]]) * 1000
    nexts = np.concatenate([o["next"] for o in outs]) * 1000
    decides = np.concatenate([o["decide"] for o in outs]) * 1000
    wall = max(o["wall"] for o in outs)
    return {
        "decisions": len(decides),
        "per_second": len(decides) / wall,
        "next_p50": float(np.percentile(nexts, 50)),
        "next_p95": float(np.percentile(nexts, 95)),
        "decide_p50": float(np.percentile(decides, 50)),
        "decide_p95": float(np.percentile(decides, 95)),
        "first_p50": float(np.percentile(firsts, 50)),
        "first_max": float(firsts.max()),
        "refits": sum(o["refits"] for o in outs),
        "refitters": sum(1 for o in outs if o["refits"]),
        "cpu": sum(o["cpu"] for o in outs),
        "rss_mb": max(o["rss_mb"] for o in outs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--reviewers", default="1,4,16")
    ap.add_argument("--decisions", type=int, default=200, help="per reviewer")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--think", type=float, default=0.0, help="seconds after each decision")
    ap.add_argument("--strategy", default="in_order", help="each reviewer's selector")
    ap.add_argument(
        "--refit-in",
        default="process",
        choices=("process", "thread"),
        help="where a learning selector refits: the product's default worker process or a thread",
    )
    ap.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        url, name, decisions, start_at, think, strategy, refit_in = args.worker
        worker(url, name, int(decisions), float(start_at), float(think), strategy, refit_in)
        return
    counts = [int(r) for r in args.reviewers.split(",")]
    print(
        f"{args.items:,} items, {args.decisions} decisions per reviewer, leases of {BATCH}, "
        f"think time {args.think:g} s, {args.strategy} selector (refits in a {args.refit_in})"
    )
    print("backend    reviewers  decisions/s  next p50  next p95  decide p50  decide p95")
    for backend in args.backends.split(","):
        cluster = PostgresCluster().start() if backend == "postgres" else None
        folder = Path(tempfile.mkdtemp(prefix="llmlabel-team-bench-"))
        try:
            for reviewers in counts:  # a fresh project each time: the same starting point
                url = (
                    cluster.url(project=f"bench{reviewers}")
                    if cluster
                    else str(folder / f"bench{reviewers}.labels.db")
                )
                built = build(url, args.items)
                r = run(url, reviewers, args.decisions, args.think, args.strategy, args.refit_in)
                print(
                    f"{backend:<10} {reviewers:>9}  {r['per_second']:>11.0f}  "
                    f"{r['next_p50']:>6.1f}ms  {r['next_p95']:>6.1f}ms  "
                    f"{r['decide_p50']:>8.1f}ms  {r['decide_p95']:>8.1f}ms"
                    f"   ({r['decisions']:,} decisions; project built in {built:.0f} s)",
                    flush=True,
                )
                print(
                    f"{'':<10} {'':>9}  refits: {r['refits']} in {r['refitters']} of "
                    f"{reviewers} processes; first next item p50 {r['first_p50']:.1f}ms, "
                    f"max {r['first_max']:.1f}ms; reviewers' CPU {r['cpu']:.0f} s, "
                    f"largest peak memory {r['rss_mb']:.0f} MB",
                    flush=True,
                )
        finally:
            if cluster:
                cluster.destroy()
    print("target: PostgreSQL, 16 reviewers: next item p95 < 20 ms, decide p95 < 20 ms")


if __name__ == "__main__":
    main()
