"""Correct under real use (issue 11, lines 1 and 8): figures before and after.

Run: python bench/failfast.py [--only keepalive,unreachable,budget,credentials]

keepalive    the four run sequences of one OpenAIAnnotator against the keep-alive loopback
             server, from this plain script: ok, or the error the second run raised.
unreachable  40 items against a closed loopback port, and against an unknown host (the
             resolver is patched in-process so no DNS query leaves the machine): seconds
             until the run ends, and how it ends.
budget       1,000 items at concurrency 64, budget_cost $B (--budget) at $1,000 per 1M
             tokens, answers capped or not (--max-tokens): what was spent, the overshoot.
credentials  base_url with user:pass@: is the password in the store file, the repr, the
             log records or the error text?
"""

from __future__ import annotations

import argparse
import io
import logging
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from llmlabel_widget import LabelTask, OpenAIAnnotator, Session, datasets
from llmlabel_widget.testing import FakeOpenAIServer

TASK = LabelTask(
    labels={"agree": "agrees it is a serious concern", "neutral_or_disagree": "does not"},
    instructions="Label the stance of the news sentence on global warming.",
)


def data() -> tuple[pd.DataFrame, dict[str, str]]:
    df = datasets.load("gwsd_climate_stance_gpt4o")
    return df[["id", "text"]], dict(zip(df["text"], df["gold_label"], strict=True))


def store_path() -> Path:
    return Path(tempfile.mkdtemp(prefix="llmlabel-failfast-")) / "bench.labels.db"


def step(name: str, fn: Callable[[], Any]) -> bool:
    try:
        fn()
    except Exception as exc:  # the figure is the error itself
        print(f"  {name:<34} FAILED: {type(exc).__name__}: {str(exc)[:90]}")
        return False
    print(f"  {name:<34} ok")
    return True


def keepalive() -> None:
    items, gold = data()
    ids = list(items["id"][:60])
    print("line 1: one annotator, many runs, keep-alive server, plain script")
    with FakeOpenAIServer(gold, accuracy=0.8) as server:
        ann = OpenAIAnnotator("fake-llm", base_url=server.base_url, api_key="k")
        s = Session.open(store_path(), data=items.head(60), task=TASK, annotator=ann)
        for i in ids[:20]:
            s.decide(i, gold[s.store.texts([i])[i]], annotator="bench")
        ok = step("propose() #1", lambda: s.propose(ids=ids[:10], progress=False))
        ok &= step("propose() #2", lambda: s.propose(ids=ids[10:20], progress=False))
        ann.budget_requests = 5
        ok &= step("propose() to a budget stop", lambda: s.propose(ids=ids[20:40], progress=False))
        ann.budget_requests = None
        ok &= step(
            "propose() after a budget stop", lambda: s.propose(ids=ids[20:40], progress=False)
        )
        box: dict[str, Any] = {}
        ok &= step(
            "try_prompt() after propose()",
            lambda: box.update(t=s.try_prompt(instructions="Read closely.", progress=False)),
        )
        ok &= step("promote()", lambda: s.promote(box["t"].version))
        ok &= step("propose() after promote()", lambda: s.propose(progress=False))
        stats = server.stats()
        print(f"  requests={stats['completions']} connections={stats['connections']}")
        s.close()
    print(f"  all sequences ok: {ok}")


def unreachable() -> None:
    items, _ = data()
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    real_getaddrinfo = socket.getaddrinfo

    def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("nonexistent.invalid", b"nonexistent.invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (patched)")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = no_such_host
    print("line 8a: 40 items against an unreachable endpoint")
    try:
        for name, url in (
            ("connection refused", f"http://127.0.0.1:{port}/v1"),
            ("unknown host", "http://nonexistent.invalid/v1"),
        ):
            ann = OpenAIAnnotator("fake-llm", base_url=url, api_key="k")
            s = Session.open(store_path(), data=items.head(40), task=TASK, annotator=ann)
            started = time.perf_counter()
            try:
                report = s.propose(progress=False)
                outcome = f"returned stopped={report.stopped!r} failed={report.failed}"
            except Exception as exc:
                outcome = f"raised {type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - started
            print(f"  {name:<20} {seconds:6.1f} s  {outcome[:150]}")
            s.close()
    finally:
        socket.getaddrinfo = real_getaddrinfo


def budget(limit: float, max_tokens: int | None) -> None:
    items, gold = data()
    print(f"line 8b: 1,000 items, concurrency 64, budget_cost ${limit:.2f} at $1,000/1M tokens")
    capped = {} if max_tokens is None else {"max_tokens": max_tokens}
    with FakeOpenAIServer(gold, latency=0.05) as server:
        ann = OpenAIAnnotator(
            "fake-llm",
            base_url=server.base_url,
            api_key="k",
            concurrency=64,
            budget_cost=limit,
            prices={"fake-llm": (1000.0, 1000.0)},
            **capped,
        )
        s = Session.open(store_path(), data=items.head(1000), task=TASK, annotator=ann)
        report = s.propose(progress=False)
        usage = server.stats()["usage"]
        s.close()
    billed = (usage["prompt_tokens"] + usage["completion_tokens"]) * 1000.0 / 1e6
    print(
        f"  done={report.done} stopped={report.stopped!r} spent=${billed:.3f} "
        f"(report ${report.cost:.3f}) overshoot={100 * (billed - limit) / limit:+.0f}% "
        f"in flight at most={server.stats()['max_in_flight']}"
    )


def credentials() -> None:
    items, gold = data()
    secret = "hunter2-SENTINEL"  # noqa: S105 - the thing to look for
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    print("line 8c: base_url http://alice:<password>@127.0.0.1:PORT/v1")
    path = store_path()
    errors = ""
    try:
        with FakeOpenAIServer(gold, basic_auth=("alice", secret)) as server:
            url = server.base_url.replace("http://", f"http://alice:{secret}@")
            ann = OpenAIAnnotator("fake-llm", base_url=url, api_key="k")
            s = Session.open(path, data=items.head(20), task=TASK, annotator=ann)
            for i in list(items["id"][:5]):
                s.decide(i, "agree", annotator="bench")
            try:
                report = s.propose(progress=False)
                errors = " ".join(report.errors) + str(report.stopped)
                s.try_prompt(instructions="Read closely.", progress=False)
            except Exception as exc:
                errors += f"{type(exc).__name__}: {exc}"
            shown = repr(ann)
            s.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    in_store = any(secret.encode() in f.read_bytes() for f in path.parent.iterdir())
    print(
        f"  password in store={in_store} repr={secret in shown} "
        f"logs={secret in logs.getvalue()} errors={secret in errors}"
    )
    if errors:
        print(f"  run errors: {errors[:150]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="keepalive,unreachable,budget,credentials")
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--max-tokens", type=int, default=None)
    args = ap.parse_args()
    benches = {
        "keepalive": keepalive,
        "unreachable": unreachable,
        "budget": lambda: budget(args.budget, args.max_tokens),
        "credentials": credentials,
    }
    for name in args.only.split(","):
        benches[name]()


if __name__ == "__main__":
    main()
