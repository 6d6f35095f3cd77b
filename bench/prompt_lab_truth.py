"""PromptLab tells the truth (issue 13, line 9): what a run shows when requests fail.

Run: python bench/prompt_lab_truth.py

unreachable  the panel runs the draft on 40 decided items against a closed loopback port:
             seconds from the Run intent until the run has ended with an error, and the error.
failures     the same against the loopback server failing 30% of requests with a 500 (no
             retries): what the progress trait says (answered, invalid, failed) and the error.
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from llmlabel_widget import LabelTask, OpenAIAnnotator, PromptLab, Session, datasets
from llmlabel_widget.testing import FakeOpenAIServer, Faults

TASK = LabelTask(
    labels={"agree": "agrees it is a serious concern", "neutral_or_disagree": "does not"},
    instructions="Label the stance of the news sentence on global warming.",
)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def session(folder: Path, base_url: str) -> Session:
    df = datasets.load("gwsd_climate_stance_gpt4o")
    data = df[["id", "text"]].head(40)
    ann = OpenAIAnnotator("fake-llm", base_url=base_url, api_key="k", max_retries=0)
    s = Session.open(folder / "bench.labels.db", data=data, task=TASK, annotator=ann)
    gold = dict(zip(df["id"], df["gold_label"], strict=True))
    for i in data["id"]:
        s.decide(i, gold[i], annotator="bench")
    return s


def run(s: Session) -> tuple[PromptLab, float]:
    lab = PromptLab(s)
    t0 = time.perf_counter()
    lab._handle_custom_msg({"kind": "run", "draft": lab.draft}, [])  # as the Run button does
    return lab, time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s = session(Path(tmp), closed_port_url())
        lab, seconds = run(s)
        print(f"unreachable: run ended after {seconds:.2f} s; running={lab.running}")
        print(f"  progress {lab.progress}")
        print(f"  error    {lab.error}")
        s.close()
    df = datasets.load("gwsd_climate_stance_gpt4o")
    gold = dict(zip(df["text"], df["gold_label"], strict=True))
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer(gold, seed=3, faults=Faults(rate_500=0.3)) as server,
    ):
        s = session(Path(tmp), server.base_url)
        lab, seconds = run(s)
        p = lab.progress
        print(
            f"failures: {p['answered']} answered ({p['invalid']} invalid), {p['failed']} failed,"
            f" of {p['total']}; server saw {server.stats()['requests']} requests; {seconds:.2f} s"
        )
        print(f"  error    {lab.error}")
        s.close()


if __name__ == "__main__":
    main()
