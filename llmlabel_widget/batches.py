"""The user's side of batch jobs: ``session.propose(batch=True)`` and :class:`BatchJob`.

:class:`BatchJobs` is the Session's mixin (``propose(batch=True)`` and ``batches()``); the
work is :class:`~llmlabel_widget.batch_jobs.BatchRunner`'s.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from . import runner
from .annotators import batch as fmt
from .annotators.base import Estimate, RunReport
from .batch_jobs import TERMINAL, BatchRunner

log = logging.getLogger(__name__)


class BatchJob:
    """One batch job: its files (parts), requests and results, kept in the store.

    Examples
    --------
    >>> job = session.propose(batch=True)          # doctest: +SKIP
    >>> job.wait()                                  # doctest: +SKIP
    >>> job.failures()                              # doctest: +SKIP
    >>> job.resubmit()          # the failed ones as a new job; live=True sends them live
    """

    def __init__(self, session: Any, job_id: str) -> None:
        self._session = session
        self.job_id = job_id

    @property
    def _runner(self) -> BatchRunner:
        return self._session._batch_runner()

    # -- reading -------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Files, requests (done, failed, pending), billed tokens and cost at batch prices,
        the estimate, and which prices were used."""
        store = self._session.store
        job = next(j for j in store.batch_jobs() if j["job_id"] == self.job_id)
        spec, parts = job["spec"], store.batch_parts(self.job_id)
        counts: dict[str, int] = {}
        for p in parts:
            for state, n in p["requests"].items():
                counts[state] = counts.get(state, 0) + n
        infos = [p["info"] for p in parts]
        billed = [i.get("cost") for i in infos if "cost" in i]
        return {
            "job_id": self.job_id,
            "status": _status(parts),
            "files": len(parts),
            "requests": sum(counts.values()),
            "done": counts.get("done", 0),
            "failed": counts.get("failed", 0),
            "resubmitted": counts.get("resubmitted", 0),
            "pending": counts.get("pending", 0),
            "cached": spec["cached"],
            "prompt_tokens": sum(i.get("prompt_tokens", 0) for i in infos),
            "completion_tokens": sum(i.get("completion_tokens", 0) for i in infos),
            "cost": None if None in billed else sum(billed),
            "estimated_cost": spec["estimate"]["cost"],
            "prices": spec["prices"],
            "model": spec["model"],
            "prompt_version": spec["prompt_version"],
            "stopped": spec["stopped"],
            "batches": [p["batch_id"] for p in parts],
            "server_status": [p["status"] for p in parts],
        }

    @property
    def status(self) -> str:
        """``submitting``, ``running``, or ``ended`` (every part's results stored)."""
        return str(self.report()["status"])

    def failures(self) -> pd.DataFrame:
        """The failed requests: ``item_id, custom_id, error``."""
        rows = self._session.store.batch_requests(self.job_id, state="failed")
        return pd.DataFrame(rows, columns=["item_id", "custom_id", "error"])

    def __repr__(self) -> str:
        r = self.report()
        cost = "unknown" if r["cost"] is None else f"${r['cost']:.4f}"
        est = r["estimated_cost"]
        return (
            f"BatchJob({r['job_id']!r}, status={r['status']!r}, files={r['files']}, "
            f"requests={r['requests']}, done={r['done']}, failed={r['failed']}, "
            f"pending={r['pending']}, cost={cost}, "
            f"estimated={'unknown' if est is None else f'${est:.4f}'}, "
            f"prices={_prices_text(r['prices'])!r})"
        )

    def _repr_html_(self) -> str:
        r = self.report()
        rows = [
            ("status", r["status"]),
            ("files", r["files"]),
            ("requests", r["requests"]),
            ("done / failed / pending", f"{r['done']} / {r['failed']} / {r['pending']}"),
            ("estimated cost", _money(r["estimated_cost"])),
            ("billed so far", _money(r["cost"])),
            ("prices", _prices_text(r["prices"])),
        ]
        if r["stopped"]:
            rows.append(("stopped", r["stopped"]))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        title = html.escape(f"batch job {self.job_id}")
        return f"<table class='llmlabel-batch'><caption>{title}</caption>{body}</table>"

    # -- acting --------------------------------------------------------------------------------
    def refresh(self) -> BatchJob:
        """Send what is not yet sent, ask the server how the job does, store ended results."""
        runner.run_blocking(self.arefresh())
        return self

    async def arefresh(self) -> BatchJob:
        """Async twin of :meth:`refresh`."""
        await self._runner.send(self.job_id)
        await self._runner.poll(self.job_id)
        return self

    def wait(
        self, *, poll: float = 30.0, timeout: float | None = None, progress: bool = True
    ) -> BatchJob:
        """Refresh every ``poll`` seconds until the job has ended, with a progress bar.

        Interrupting the wait leaves the job running on the server; ``timeout`` (seconds)
        raises TimeoutError. Results are stored as each file ends.
        """
        if poll <= 0:
            raise ValueError(f"poll must be > 0 seconds, got {poll!r}")
        start = time.monotonic()
        bar = _bar(self) if progress else None
        try:
            while True:
                self.refresh()
                r = self.report()
                if bar is not None:
                    bar.n = r["done"] + r["failed"] + r["resubmitted"]
                    bar.set_postfix_str(f"failed={r['failed']} status={r['status']}")
                    bar.refresh()
                if r["status"] == "ended":
                    return self
                if timeout is not None and time.monotonic() - start + poll > timeout:
                    raise TimeoutError(
                        f"batch job {self.job_id} still {r['status']} after {timeout:g} s; it "
                        "keeps running: job.wait() later, or Session.open(path).batches()"
                    )
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()

    def cancel(self) -> BatchJob:
        """Cancel the job: unsent files are not sent, running batches are cancelled (what
        they answered before stopping is still stored, on the next refresh)."""
        runner.run_blocking(self._runner.cancel(self.job_id))
        return self

    def resubmit(self, *, live: bool = False, progress: bool = True) -> BatchJob | RunReport:
        """Send the failed requests again: as a new batch job, or ``live=True`` at once."""
        store = self._session.store
        failed = store.batch_requests(self.job_id, state="failed")
        if not failed:
            raise ValueError(f"batch job {self.job_id} has no failed requests to resubmit")
        have = store.proposed_ids(self.report()["prompt_version"])
        ids = list(dict.fromkeys(r["item_id"] for r in failed if r["item_id"] not in have))
        if not ids:  # answered since (a live run): nothing to send
            store.mark_batch_resubmitted([r["custom_id"] for r in failed])
            return self
        if live:
            report = self._session.propose(ids, progress=progress)
            have = store.proposed_ids(self.report()["prompt_version"])
            store.mark_batch_resubmitted([r["custom_id"] for r in failed if r["item_id"] in have])
            return report
        store.mark_batch_resubmitted([r["custom_id"] for r in failed])
        return self._session.propose(ids, batch=True)


class BatchJobs:
    """The Session's batch methods (a mixin: the Session holds the store and annotator)."""

    store: Any
    task: Any
    _proposer: runner.Proposer
    _batches: BatchRunner | None = None

    def _annotator(self) -> Any:  # provided by Session
        raise NotImplementedError

    def _to_propose(self, ids: Any, sample: int | None, seed: int) -> tuple[list[str], int]:
        raise NotImplementedError  # provided by Session

    def _batch_runner(self) -> BatchRunner:
        if self._batches is None:
            proposer = self._proposer
            self._batches = BatchRunner(
                self.store, self.task, self._annotator, proposer.persist, proposer._wrote
            )
        return self._batches

    def _propose_batch(
        self,
        ids: Iterable[Any] | None,
        sample: int | None,
        seed: int,
        options: Mapping[str, Any],
    ) -> BatchJob:
        """``propose(batch=True)``: a new job for items with no proposal and no batch request
        waiting or failed; if there are none, the newest job."""
        unknown = set(options) - {"batch_prices", "max_requests", "max_bytes"}
        if unknown:
            raise TypeError(f"unknown options for propose(batch=True): {sorted(unknown)}")
        annotator = self._annotator()
        wanted, _ = self._to_propose(ids, None, seed)
        held = self.store.batch_items(("pending", "failed"))
        wanted = [i for i in wanted if i not in held]
        if sample is not None and sample < len(wanted):
            rng = np.random.default_rng(seed)
            wanted = [wanted[i] for i in sorted(rng.choice(len(wanted), sample, replace=False))]
        if not wanted:
            jobs = self.store.batch_jobs()
            if not jobs:
                raise ValueError("nothing to propose: every item has a proposal of this version")
            return BatchJob(self, jobs[-1]["job_id"]).refresh()
        batches = self._batch_runner()
        job_id = batches.plan(
            annotator,
            self._proposer.items(wanted),
            self._proposer.demos(annotator),
            prices=options.get("batch_prices"),
            max_requests=int(options.get("max_requests", fmt.MAX_REQUESTS)),
            max_bytes=int(options.get("max_bytes", fmt.MAX_BYTES)),
        )
        return BatchJob(self, job_id).refresh()

    def _at_batch_prices(
        self, estimate: Estimate, prices: Mapping[str, tuple[float, float]] | None
    ) -> Estimate:
        """``estimate`` with its cost at batch prices."""
        price, _ = fmt.batch_prices(self._annotator(), prices)
        return replace(estimate, cost=price(estimate.prompt_tokens, estimate.completion_tokens))

    def _resume_batches(self) -> None:
        """On open, with an OpenAI annotator: send on and ingest the jobs not ended."""
        if hasattr(getattr(self, "annotator", None), "body"):
            _resume([BatchJob(self, j["job_id"]) for j in self.store.batch_jobs()])

    def batches(self, *, refresh: bool = True) -> list[BatchJob]:
        """Every batch job of this store, oldest first; jobs not ended are first sent on (if
        a restart interrupted them) and polled, and their ended files' results stored
        (``refresh=False``, or a session without an annotator, only lists them).

        Examples
        --------
        >>> Session.open("x.labels.db", annotator=ann).batches()  # doctest: +SKIP
        [BatchJob('3f2a...', status='ended', files=1, requests=1302, done=1290, ...)]
        """
        jobs = [BatchJob(self, j["job_id"]) for j in self.store.batch_jobs()]
        if refresh and getattr(self, "annotator", None) is not None:
            for job in jobs:
                if job.status != "ended":
                    job.refresh()
        return jobs


def _resume(jobs: list[BatchJob]) -> None:
    """Refresh the jobs not ended; a failure is logged, never raised (opening must work)."""
    for job in jobs:
        if job.status == "ended":
            continue
        try:
            job.refresh()
        except Exception as exc:  # offline, another server: the job waits for later
            log.warning("batch job %s not refreshed on open: %s", job.job_id, exc)


def _status(parts: list[dict[str, Any]]) -> str:
    if any(p["state"] not in ("submitted", "ingested") for p in parts):
        return "submitting"
    if any(p["state"] == "submitted" for p in parts):
        return "running"
    return "ended"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _prices_text(note: Mapping[str, Any]) -> str:
    if "usd_per_1m_input" not in note:
        return f"{note.get('model')}: {note.get('source')}"
    return (
        f"{note['model']}: ${note['usd_per_1m_input']:g} in / ${note['usd_per_1m_output']:g} "
        f"out per 1M tokens ({note['source']})"
    )


def _bar(job: BatchJob) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=job.report()["requests"], desc=f"batch {job.job_id}", unit="request")


__all__ = ["TERMINAL", "BatchJob", "BatchJobs"]
