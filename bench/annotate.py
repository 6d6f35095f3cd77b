"""Annotator throughput: session.propose() against a hand-written asyncio.gather and a loop.

Run: python bench/annotate.py [--items 2000] [--latency 0.2] [--concurrency 32]
     [--data FILE.csv --text COL --gold COL]   (default: the shipped SST-2 sentences)

The loopback server runs in its own process (`python -m llmlabel_widget.testing.fake_openai`)
so that client and server do not share one interpreter; on a 2-core machine they still share
the CPU, which is why even the hand-written gather stays above the ideal bound.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai
import pandas as pd

from llmlabel_widget import LabelTask, OpenAIAnnotator, PromptSpec, Session, datasets
from llmlabel_widget.prompts import build_messages


def load(args: argparse.Namespace) -> pd.DataFrame:
    if args.data:
        df = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
    else:
        df = datasets.load("sst2")
    df = df[[args.text, args.gold]].dropna().drop_duplicates(args.text)
    return df.head(args.items).rename(columns={args.text: "text", args.gold: "gold"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sequential", type=int, default=40, help="items in the sequential loop")
    ap.add_argument("--data")
    ap.add_argument("--text", default="text")
    ap.add_argument("--gold", default="gold_label")
    args = ap.parse_args()
    df = load(args)
    n = len(df)
    tmp = Path(tempfile.mkdtemp(prefix="llmlabel-annotate-"))
    df.to_csv(tmp / "gold.csv", index=False)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmlabel_widget.testing.fake_openai",
            "--gold",
            str(tmp / "gold.csv"),
            "--text",
            "text",
            "--label",
            "gold",
            "--latency",
            str(args.latency),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        run(args, df, n, tmp, base_url)
    finally:
        server.terminate()
        server.wait()


def run(args: argparse.Namespace, df: pd.DataFrame, n: int, tmp: Path, base_url: str) -> None:
    labels = sorted(df["gold"].unique())
    task = LabelTask(labels=labels, instructions="Label the text.")
    spec = PromptSpec()
    items = df.assign(id=[f"i{k}" for k in range(n)])
    ann = OpenAIAnnotator(
        "fake-llm", base_url=base_url, api_key="k", prompt=spec, concurrency=args.concurrency
    )
    s = Session.open(tmp / "bench.labels.db", data=items[["id", "text"]], task=task, annotator=ann)
    # Every baseline sends exactly the request propose() sends (structured output, logprobs),
    # written the way a user would: the typed chat.completions.create call.
    params = ann._params(s)

    # 1. the hand-written best: asyncio.gather over AsyncOpenAI with a semaphore
    async def gather() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
        sem = asyncio.Semaphore(args.concurrency)

        async def one(text: str) -> str | None:
            async with sem:
                r = await client.chat.completions.create(
                    model="fake-llm", messages=build_messages(task, spec, text), **params
                )
                return r.choices[0].message.content

        await asyncio.gather(*(one(t) for t in items["text"]))
        await client.close()

    t = time.perf_counter()
    asyncio.run(gather())
    t_gather = time.perf_counter() - t

    # 2. session.propose(): same items, same concurrency, plus parsing, validation, cache, store
    t = time.perf_counter()
    report = s.propose(progress=False)
    t_propose = time.perf_counter() - t
    assert report.done == n, report

    # 3. a plain sequential loop on a subset, extrapolated
    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
    subset = items["text"].head(args.sequential)
    t = time.perf_counter()
    for text in subset:
        client.chat.completions.create(
            model="fake-llm", messages=build_messages(task, spec, text), **params
        )
    t_seq = (time.perf_counter() - t) / len(subset) * n

    # 4. a second run over the same items
    t = time.perf_counter()
    again = s.propose(progress=False)
    t_again = time.perf_counter() - t
    bound = n * args.latency / args.concurrency

    print(f"{n} items, server latency {args.latency * 1000:.0f} ms, {args.concurrency} in flight")
    print(f"  ideal bound N x latency / concurrency: {bound:6.2f} s")
    for name, t in (("hand-written asyncio.gather:", t_gather), ("session.propose():", t_propose)):
        print(f"  {name:38s} {t:6.2f} s  ({t / bound:.2f}x bound)")
    print(f"  sequential loop (extrapolated from {len(subset)}): {t_seq:6.1f} s")
    print(f"  propose / gather = {t_propose / t_gather:.3f}   [target <= 1.1]")
    print(f"  sequential / propose = {t_seq / t_propose:.1f}x   [target >= 25]")
    print(
        f"  second run: {again.requests} requests sent, {again.skipped} items already "
        f"proposed, {t_again:.2f} s   [target 0 requests]"
    )


if __name__ == "__main__":
    main()
