"""Batch jobs at scale: build and upload the files, then ingest the results, of 100,000 items.

Run: python bench/batch.py [--items 100000] [--labels 2]

The loopback server (FakeOpenAIServer with its Batch API) runs in its own process, so the
figures are the client's: wall time to build and upload every file (``propose(batch=True)``,
which records the job, writes the request lines into the store and uploads them), wall time
to ingest every result (``job.refresh()`` once the server has answered: download, parse,
validate, store proposals and cache), each with this process's CPU time (wall time on a
shared machine depends on its load, printed at the end), and the peak resident memory.
Targets (issue 16): build and upload < 60 s, ingest < 60 s, peak < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from llmlabel_widget import LabelTask, OpenAIAnnotator, Session, datasets

SERVER = """
import json, sys, threading
from llmlabel_widget.testing import FakeOpenAIServer
gold = json.load(open(sys.argv[1]))
server = FakeOpenAIServer(gold, model="gpt-4o-mini", accuracy=0.9).start()
print(server.base_url, flush=True)
threading.Event().wait()
"""


def pool(n: int) -> pd.DataFrame:
    """``n`` items: the shipped SST-2 sentences, cycled, each made distinct by a number."""
    sst = datasets.load("sst2")
    reps = -(-n // len(sst))
    texts = [f"{t} ({k})" for k in range(reps) for t in sst["text"]][:n]
    gold = [g for _ in range(reps) for g in sst["gold_label"]][:n]
    return pd.DataFrame({"id": [f"i{k}" for k in range(n)], "text": texts, "gold": gold})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    data = pool(args.items)
    task = LabelTask(
        labels={"positive": "a positive review", "negative": "a negative review"},
        instructions="Label the sentiment of the movie review sentence.",
    )
    with tempfile.TemporaryDirectory() as tmp:
        gold_file = Path(tmp) / "gold.json"
        gold_file.write_text(json.dumps(dict(zip(data["text"], data["gold"], strict=True))))
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(gold_file)], stdout=subprocess.PIPE, text=True
        )
        try:
            base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
            run(data, task, base_url, Path(tmp) / "bench.labels.db")
        finally:
            server.kill()
            server.wait()


def run(data: pd.DataFrame, task: LabelTask, base_url: str, db: Path) -> None:
    ann = OpenAIAnnotator("gpt-4o-mini", base_url=base_url, api_key="bench")
    session = Session.open(db, data=data[["id", "text"]], task=task, annotator=ann)
    print(f"{len(data):,} items, after opening the store: peak {peak_mb():,.0f} MB")

    start, cpu = time.perf_counter(), time.process_time()
    job = session.propose(batch=True)
    built, built_cpu = time.perf_counter() - start, time.process_time() - cpu
    r = job.report()
    print(
        f"build + upload: {built:.1f} s ({built_cpu:.1f} s CPU) for {r['requests']:,} requests "
        f"in {r['files']} files (target < 60 s); peak {peak_mb():,.0f} MB"
    )

    while any(s != "completed" for s in _server_status(job)):  # the server's work, not timed
        time.sleep(1.0)
    start, cpu = time.perf_counter(), time.process_time()
    job.refresh()
    ingested, ingested_cpu = time.perf_counter() - start, time.process_time() - cpu
    r = job.report()
    print(
        f"ingest: {ingested:.1f} s ({ingested_cpu:.1f} s CPU) for {r['done']:,} answers, "
        f"{r['failed']:,} failed "
        f"(target < 60 s); status {r['status']}"
    )
    print(f"proposals stored: {len(session.annotations.dropna(subset=['llm_label'])):,}")
    print(f"billed at batch prices: ${r['cost']:.4f} ({r['prices']['source']})")
    print(f"peak memory of this process: {peak_mb():,.0f} MB (target < 2,048 MB)")
    print(f"load average while it ran: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)")
    session.close()


def _server_status(job: object) -> list[str]:
    """Each part's batch status on the server (a retrieve, without ingesting)."""
    import openai

    session = job._session  # type: ignore[attr-defined]
    client = openai.OpenAI(base_url=session.annotator.base_url, api_key="bench")
    try:
        return [client.batches.retrieve(b).status for b in job.report()["batches"]]  # type: ignore[attr-defined]
    finally:
        client.close()


if __name__ == "__main__":
    main()
