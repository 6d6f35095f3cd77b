"""Batch jobs: proposals through the OpenAI Batch API, resumable across kernel restarts.

A job is recorded in the store before anything leaves the machine: its parts (one input file
and one server batch each) with every request line. Each step is then written down before
and after it runs (``uploading`` -> ``uploaded`` with the file id, ``creating`` ->
``submitted`` with the batch id); a step found half-done (the kernel died during it) is
first looked up on the server (the file by its name, the batch by its metadata), so no
request is sent twice. A finished part's results are stored in one transaction with the
mark that they were, so they are stored once. See :class:`BatchJob` for the user's side.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import IO, Any

import openai

from .annotators import batch as fmt
from .annotators.connection import cannot_connect, probe, unreachable
from .annotators.response import make_proposal, tokens
from .storage import StoreBackend
from .store.base import _cacheable
from .task import LabelTask

TERMINAL = ("completed", "expired", "cancelled", "failed")
UNCERTAIN = ("uploading", "creating")  # a step that may have happened before a crash
# Result lines stored per transaction while ingesting (bounds the memory an ingest needs).
CHUNK = 2_000
# Estimated answer tokens per request (as OpenAIAnnotator.estimate counts them).
ANSWER_TOKENS, COT_ANSWER_TOKENS = 35, 70


class BatchUnsupported(RuntimeError):
    """The server does not speak the OpenAI Batch API (files and batches)."""


async def _api(client: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``client.<name>(...)`` of an async client, or of a sync one on a thread."""
    method = client
    for attr in name.split("."):
        method = getattr(method, attr)
    if isinstance(client, openai.AsyncOpenAI):
        return await method(*args, **kwargs)
    return await asyncio.to_thread(method, *args, **kwargs)


async def _find(client: Any, name: str, match: Callable[[Any], bool], **kwargs: Any) -> Any:
    """The first object of ``client.<name>.list(...)`` (all pages) that ``match``es, or None."""
    lister = getattr(client, name).list
    if isinstance(client, openai.AsyncOpenAI):
        async for obj in lister(**kwargs):
            if match(obj):
                return obj
        return None
    return await asyncio.to_thread(lambda: next((o for o in lister(**kwargs) if match(o)), None))


async def _download(client: Any, file_id: str) -> IO[bytes]:
    """A file's content, streamed into a temporary file (result files can be large)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    content = client.files.with_streaming_response.content
    if isinstance(client, openai.AsyncOpenAI):
        async with content(file_id) as response:
            async for chunk in response.iter_bytes():
                out.write(chunk)
    else:

        def fetch() -> None:
            with content(file_id) as response:
                for chunk in response.iter_bytes():
                    out.write(chunk)

        await asyncio.to_thread(fetch)
    out.seek(0)
    return out


def _file_name(job_id: str, part: int) -> str:
    return f"llmlabel-{job_id}-{part}.jsonl"


def _price(note: Mapping[str, Any]) -> fmt.Price:
    """The price function a job's recorded price note describes."""
    if "usd_per_1m_input" not in note:
        return lambda p, c: None
    pin, pout = note["usd_per_1m_input"], note["usd_per_1m_output"]
    return lambda p, c: (p * pin + c * pout) / 1e6


class BatchRunner:
    """Creates, sends, polls, cancels and ingests the batch jobs of one store.

    ``annotator`` returns the session's annotator (its client reaches the server);
    ``persist`` stores proposals answered from the response cache; ``wrote`` is called after
    each ingest (the session's idle checkpointer).
    """

    def __init__(
        self,
        store: StoreBackend,
        task: LabelTask,
        annotator: Callable[[], Any],
        persist: Callable[[list[Any], dict[str, dict[str, Any]]], None],
        wrote: Callable[[], None],
    ) -> None:
        self.store = store
        self.task = task
        self.annotator = annotator
        self._persist = persist
        self._wrote = wrote

    # -- creating a job -----------------------------------------------------------------------
    def plan(
        self,
        annotator: Any,
        items: Sequence[tuple[str, str]],
        demos: Sequence[Any],
        *,
        prices: Mapping[str, tuple[float, float]] | None,
        max_requests: int,
        max_bytes: int,
    ) -> str:
        """Record a new job for ``items`` (nothing sent yet); its id.

        Items the response cache answers are proposed at once, at no cost. The annotator's
        request and cost budgets bound the job, counting each request at the most it can cost.
        """
        if not hasattr(annotator, "body") or not hasattr(annotator, "_clients"):
            raise TypeError(
                f"batch=True needs an OpenAIAnnotator (the session has {type(annotator).__name__})"
            )
        annotator._check_limits()  # the budgets may have changed since construction
        job_id = uuid.uuid4().hex[:12]
        price, note = fmt.batch_prices(annotator, prices)
        task = annotator.task(self.task)
        params = annotator._params(task)
        version = annotator.version(task)
        run_id = f"batch-{job_id}"
        requests, stopped, cached = self._requests(annotator, items, demos, price, params, run_id)
        per_answer = COT_ANSWER_TOKENS if annotator.prompt.chain_of_thought else ANSWER_TOKENS
        prompt_tokens = sum(r.prompt_tokens for r in requests)
        completion = per_answer * int(params.get("n", 1)) * len(requests)
        spec = {
            "model": annotator.model,
            "prompt_version": version,
            "params": params,
            "endpoint": annotator.base_url,
            "run_id": run_id,
            "prices": note,
            "requested": len(items),
            "cached": cached,
            "stopped": stopped,
            "estimate": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "cost": price(prompt_tokens, completion),
            },
        }
        parts = fmt.split(requests, max_requests, max_bytes)
        self.store.add_batch_job(
            job_id,
            spec,
            {
                n: [(r.custom_id, r.item_id, r.cache_key, r.demos, r.line) for r in part]
                for n, part in enumerate(parts)
            },
        )
        return job_id

    def _requests(
        self,
        annotator: Any,
        items: Sequence[tuple[str, str]],
        demos: Sequence[Any],
        price: fmt.Price,
        params: Mapping[str, Any],
        run_id: str,
    ) -> tuple[list[fmt.Request], str | None, int]:
        """The requests to send (within the budgets), why they stop short, and how many
        items the cache answered (stored as proposals here)."""
        task = annotator.task(self.task)
        version = annotator.version(task)
        requests: list[fmt.Request] = []
        answered = []
        spent, stopped = 0.0, None
        limit, budget = annotator.budget_requests, annotator.budget_cost
        for r in fmt.build_requests(annotator, self.task, items, demos, run_id[6:]):
            response = self.store.cache_get(r.cache_key)
            if response is not None:
                answered.append(
                    make_proposal(
                        task, params, response, item_id=r.item_id, model=annotator.model,
                        version=version, demos=r.demos, run_id=run_id, cached=True,
                        price=price, degraded={},
                    )
                )  # fmt: skip
                continue
            most = fmt.most_cost(annotator, r, params, price) if budget is not None else 0.0
            if limit is not None and len(requests) >= limit:
                stopped = f"request budget of {limit} reached"
            elif budget is not None and spent + most > budget:
                stopped = f"cost budget of ${budget:.4f} reached (at batch prices)"
            if stopped:
                break
            spent += most
            requests.append(r)
        if answered:
            self._persist(answered, {})
        return requests, stopped, len(answered)

    # -- sending --------------------------------------------------------------------------------
    async def send(self, job_id: str) -> None:
        """Upload and submit every part of the job not yet submitted (resuming half-done
        steps by looking them up on the server first)."""
        annotator = self._annotator_for(job_id)
        unsent = [
            p for p in self.store.batch_parts(job_id) if p["state"] not in ("submitted", "ingested")
        ]
        if not unsent:
            return
        client = annotator._clients.get()
        await probe(client, annotator.base_url)  # a dead endpoint: a clear error, at once
        for p in unsent:
            await self._guard(annotator, self._send_part(client, job_id, p))

    def _annotator_for(self, job_id: str) -> Any:
        """The session's annotator, if it reaches the server the job was sent to."""
        annotator = self.annotator()
        endpoint = self._job(job_id)["spec"]["endpoint"]
        if getattr(annotator, "base_url", None) != endpoint:
            raise ValueError(
                f"batch job {job_id} was sent to {endpoint}; open the session with an "
                f"OpenAIAnnotator for that server (this one is {annotator!r})"
            )
        return annotator

    async def _guard(self, annotator: Any, step: Any) -> Any:
        """Run one API step, turning what went wrong into an error that says what to do."""
        try:
            return await step
        except openai.NotFoundError as exc:
            raise BatchUnsupported(
                f"the server at {annotator.base_url} does not support the OpenAI Batch API "
                f"({exc.message}); use session.propose() without batch=True"
            ) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise PermissionError(f"the server refused the API key: {exc.message}") from None
        except openai.APIConnectionError as exc:
            if cannot_connect(exc):
                raise unreachable(annotator.base_url, exc, "the client's retries") from None
            raise

    async def _send_part(self, client: Any, job_id: str, p: dict[str, Any]) -> None:
        part, state, file_id = p["part"], p["state"], p["file_id"]
        name = _file_name(job_id, part)
        if state in ("written", "uploading"):
            found = None
            if state == "uploading":  # a crash during the upload: did it arrive?
                found = await _find(client, "files", lambda f: f.filename == name, purpose="batch")
            if found is None:
                self.store.update_batch_part(job_id, part, state="uploading")
                lines = self.store.batch_lines(job_id, part)
                content = "".join(line + "\n" for line in lines).encode()
                found = await _api(client, "files.create", file=(name, content), purpose="batch")
                del content, lines
            file_id = found.id
            self.store.update_batch_part(job_id, part, state="uploaded", file_id=file_id)
            state = "uploaded"
        meta = {"llmlabel_job": job_id, "llmlabel_part": str(part)}
        batch = None
        if state == "creating":  # a crash during the create: was the batch made?
            batch = await _find(client, "batches", lambda b: (b.metadata or {}) == meta)
        if batch is None:
            self.store.update_batch_part(job_id, part, state="creating")
            batch = await _api(
                client,
                "batches.create",
                input_file_id=file_id,
                endpoint=fmt.ENDPOINT,
                completion_window="24h",
                metadata=meta,
            )
        self.store.update_batch_part(
            job_id, part, state="submitted", batch_id=batch.id, status=batch.status
        )

    # -- polling and ingesting -------------------------------------------------------------------
    async def poll(self, job_id: str) -> None:
        """Ask the server how each submitted part does; ingest the parts that ended."""
        parts = [p for p in self.store.batch_parts(job_id) if p["state"] == "submitted"]
        if not parts:
            return
        annotator = self._annotator_for(job_id)
        client = annotator._clients.get()
        await probe(client, annotator.base_url)  # not the client's retries, at a dead server
        for p in parts:
            await self._guard(annotator, self._poll_part(client, job_id, p))

    async def _poll_part(self, client: Any, job_id: str, p: dict[str, Any]) -> None:
        batch = await _api(client, "batches.retrieve", p["batch_id"])
        counts = batch.request_counts
        info = dict(p["info"])
        if counts is not None:
            info.update(total=counts.total, completed=counts.completed, failed=counts.failed)
        if batch.status not in TERMINAL:
            self.store.update_batch_part(job_id, p["part"], status=batch.status, info=info)
            return
        files = []
        try:
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    files.append(await _download(client, file_id))
            errors = (
                [f"{e.code}: {e.message}" for e in batch.errors.data or []] if batch.errors else []
            )
            await asyncio.to_thread(
                self._ingest, job_id, p["part"], files, errors,
                status=batch.status, info=info,
                output_file_id=batch.output_file_id, error_file_id=batch.error_file_id,
            )  # fmt: skip
        finally:
            for f in files:
                f.close()

    def _ingest(
        self,
        job_id: str,
        part: int,
        files: Sequence[IO[bytes]],
        errors: Sequence[str],
        **fields: Any,
    ) -> None:
        """Store an ended part's results, a chunk of lines at a time, then mark it ingested."""
        # Thousands of parsed answers stay alive until stored: without this, the cyclic
        # garbage collector walks them again and again (measured: 5x slower).
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            billed, missing = self._ingest_lines(job_id, part, files, errors, fields["status"])
        finally:
            if gc_was_on:
                gc.enable()
        price = _price(self._job(job_id)["spec"]["prices"])
        self.store.ingest_batch_results({}, {}, missing)
        fields["info"] = {
            **fields["info"],
            "prompt_tokens": billed[0],
            "completion_tokens": billed[1],
            "cost": price(*billed),
        }
        self.store.update_batch_part(job_id, part, state="ingested", **fields)
        self._wrote()

    def _job(self, job_id: str) -> dict[str, Any]:
        return next(j for j in self.store.batch_jobs() if j["job_id"] == job_id)

    def _ingest_lines(
        self,
        job_id: str,
        part: int,
        files: Sequence[IO[bytes]],
        errors: Sequence[str],
        status: str,
    ) -> tuple[list[int], dict[str, str]]:
        """Store the answers (one proposal per item) and failures of requests still pending,
        :data:`CHUNK` lines per transaction; ``([prompt, completion] tokens billed, requests
        with no line, and why)``. Every answer counts as billed, stored before or not."""
        spec = self._job(job_id)["spec"]
        requests = {r["custom_id"]: r for r in self.store.batch_requests(job_id, part)}
        have = self.store.proposed_ids(spec["prompt_version"])
        price = _price(spec["prices"])
        done: dict[str, dict[str, Any] | None] = {}
        cache: dict[str, str] = {}
        failed: dict[str, str] = {}
        billed, seen = [0, 0], set()
        results = chain.from_iterable(fmt.read_results(f) for f in files)
        for custom_id, body, text, error in results:
            r = requests.get(custom_id)
            if r is None or custom_id in seen:
                continue  # not this part's, or a line seen twice
            seen.add(custom_id)
            if body is not None:
                p_tok, c_tok = tokens(body, cached=False)
                billed[0], billed[1] = billed[0] + p_tok, billed[1] + c_tok
            if r["state"] != "pending":
                continue  # stored before a crash
            if body is None:
                failed[custom_id] = error or "failed"
                continue
            if text is not None and _cacheable(body):
                cache[r["cache_key"]] = text
            done[custom_id] = None
            if r["item_id"] not in have:  # answered live meanwhile: one proposal per item
                have.add(r["item_id"])
                proposal = make_proposal(
                    self.task, spec["params"], body, item_id=r["item_id"], model=spec["model"],
                    version=spec["prompt_version"], demos=r["demos"], run_id=spec["run_id"],
                    cached=False, price=price, degraded={},
                )  # fmt: skip
                done[custom_id] = dict(vars(proposal))  # to_row() without its deep copy
            if len(done) + len(failed) >= CHUNK:
                self.store.ingest_batch_results(done, cache, failed)
                done, cache, failed = {}, {}, {}
        self.store.ingest_batch_results(done, cache, failed)
        reason = "; ".join(errors) or f"no result in the batch's files (batch {status})"
        pending = (c for c, r in requests.items() if r["state"] == "pending")
        return billed, {c: reason for c in pending if c not in seen}

    # -- cancelling ------------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> None:
        """Cancel the job's submitted parts on the server and its unsent parts here."""
        annotator = self._annotator_for(job_id)
        client = annotator._clients.get()
        for p in self.store.batch_parts(job_id):
            if p["state"] in UNCERTAIN:  # finish the step first, so nothing is left behind
                await self._guard(annotator, self._send_part(client, job_id, p))
                p = next(q for q in self.store.batch_parts(job_id) if q["part"] == p["part"])
            if p["state"] == "submitted":
                await self._guard(annotator, _api(client, "batches.cancel", p["batch_id"]))
            elif p["state"] in ("written", "uploaded"):
                self._ingest(job_id, p["part"], [], ["cancelled before it was submitted"],
                             status="cancelled", info=p["info"])  # fmt: skip
