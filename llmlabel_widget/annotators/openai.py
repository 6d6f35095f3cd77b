"""The LLM annotator: any OpenAI-compatible chat-completions endpoint, through `openai`.

Retries (429, 5xx, timeouts, connection errors; exponential backoff with jitter; Retry-After)
are the openai client's own: we set ``max_retries`` and ``timeout`` and let it do that job.
This module adds what the client does not: bounded concurrency, optional parameters that
degrade when a server rejects them, a response cache (passed in by the caller), budgets that are
never exceeded, cost, and a quick stop when the server cannot be reached at all.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import openai

from ..prompts import DemoPicker, PromptSpec, build_messages, prompt_version
from ..task import LabelTask
from .base import Demo, Estimate, Item, Progress, Proposal, ResponseCache, RunReport
from .budget import Budget, BudgetReached
from .connection import (
    CONNECT_ATTEMPTS,
    Clients,
    EndpointUnreachable,
    cannot_connect,
    probe,
    split_credentials,
    unreachable,
    without_credentials,
)
from .request import BUDGET_MAX_TOKENS, _cache_key, degrade, post_chat
from .request import CACHE_FORMAT as CACHE_FORMAT  # re-exported: older imports name this module
from .request import OPTIONAL_PARAMS as OPTIONAL_PARAMS
from .request import _schema as _schema
from .response import make_proposal


class _HasTask(Protocol):
    task: LabelTask


TaskLike = LabelTask | _HasTask  # a task, or anything holding one (a Session)

# USD per 1M tokens (input, output): OpenAI list prices, standard tier, as published in 2025.
# Override or extend with OpenAIAnnotator(prices={...}); unknown models cost None (not 0).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
}
ConfidenceMethod = Literal["auto", "logprob", "self-consistency", "verbalised"]


@dataclass
class _Run:
    """One run's state: its budget, its reachability probe, connection failures in a row."""

    budget: Budget
    probe: asyncio.Future[None] | None = None
    connect_failures: int = 0


class OpenAIAnnotator:
    """Propose labels, rationales and confidences with an OpenAI-compatible model.

    Parameters
    ----------
    model : the model name the server knows (``gpt-4o-mini``, ``llama3.1``, ...).
    base_url : an OpenAI-compatible server (vLLM, Ollama, llama.cpp, Azure's v1 endpoint);
        default: ``OPENAI_BASE_URL`` or OpenAI. ``user:password@`` in it is sent as HTTP
        Basic credentials (a proxy in front) and, like the key, never stored or shown.
    api_key : default ``OPENAI_API_KEY``. Never stored, logged or put into widget state.
    client : your own ``openai.AsyncOpenAI`` or ``openai.OpenAI`` (then base_url, api_key,
        max_retries and timeout are yours).
    prompt : a :class:`PromptSpec` (zero-/few-shot, demonstrations, chain-of-thought).
    confidence : ``auto`` uses token logprobs where the server returns them, else the
        agreement of ``samples`` samples (self-consistency), else the model's stated value.
    concurrency : requests in flight at once.
    budget_requests, budget_cost : per-run caps, never exceeded: a request in flight counts
        at its maximum cost (prompt bytes as tokens, plus ``max_tokens`` per answer), and no
        request is sent that the rest of the budget cannot cover. The run stops cleanly.
    max_tokens : cap on each answer's tokens (sent as ``max_tokens`` and
        ``max_completion_tokens``; a server that rejects one keeps the other). Default: no
        cap, or 1024 with a ``budget_cost``. Reasoning models count their reasoning here.
    prices : ``{model: (usd_per_1M_input, usd_per_1M_output)}`` added to the default table.
    embeddings : ``{item_id: vector}`` for similar-demonstration retrieval instead of TF-IDF.
    instructions, descriptions : override the task's wording in the prompt (prompt trials);
        the label names themselves always come from the task.

    Examples
    --------
    >>> ann = OpenAIAnnotator(model="gpt-4o-mini")                           # doctest: +SKIP
    >>> ann = OpenAIAnnotator(model="llama3.1",
    ...                       base_url="http://localhost:11434/v1")          # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: openai.AsyncOpenAI | openai.OpenAI | None = None,
        prompt: PromptSpec | None = None,
        confidence: ConfidenceMethod = "auto",
        samples: int = 5,
        concurrency: int = 16,
        max_retries: int = 6,
        timeout: float = 60.0,
        budget_requests: int | None = None,
        budget_cost: float | None = None,
        max_tokens: int | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        embeddings: Mapping[str, Sequence[float]] | None = None,
        instructions: str | None = None,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string")
        if confidence not in ("auto", "logprob", "self-consistency", "verbalised"):
            raise ValueError(f"unknown confidence method {confidence!r}")
        if concurrency < 1 or samples < 1:
            raise ValueError("concurrency and samples must be >= 1")
        self.model = model
        self.prompt = prompt or PromptSpec()
        self.confidence = confidence
        self.samples = samples
        self.concurrency = concurrency
        self.budget_requests = budget_requests
        self.budget_cost = budget_cost
        self.max_tokens = max_tokens
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self.embeddings = embeddings
        self.instructions = instructions
        self.descriptions = dict(descriptions or {})
        self._check_limits()
        if client is None:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL")
            key = api_key or os.environ.get("OPENAI_API_KEY")
            if not key and not base_url:
                raise ValueError(
                    f"no API key for model {model!r}: set the OPENAI_API_KEY environment "
                    "variable, pass base_url= for a local OpenAI-compatible server, or use "
                    "RecordedAnnotator to work offline on recorded LLM labels"
                )
            # user:password@ leaves the URL (which the HTTP library logs) for a header
            url, headers = split_credentials(base_url)

            def make() -> openai.AsyncOpenAI:
                return openai.AsyncOpenAI(
                    api_key=key or "not-needed",  # local servers ignore it; the client wants one
                    base_url=url,
                    max_retries=max_retries,
                    timeout=timeout,
                    default_headers=headers,
                )

            client = make()
            self._clients = Clients(client, make)
        else:
            self._clients = Clients(client)
        self._client = client
        self._async = isinstance(client, openai.AsyncOpenAI)
        self.base_url = without_credentials(str(client.base_url)).rstrip("/")
        self.endpoint = urlsplit(self.base_url).netloc  # host[:port]: no secrets
        self.degraded: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"OpenAIAnnotator(model={self.model!r}, endpoint={self.endpoint!r}, "
            f"prompt={self.prompt.strategy!r}, confidence={self.confidence!r})"
        )

    async def aclose(self) -> None:
        """Close the connections this annotator opened on the running event loop.

        Only needed when that loop is about to end (``asyncio.run(...)`` in your own code);
        the sync calls share one long-lived loop, and a client you passed in stays yours.
        """
        await self._clients.aclose()

    @property
    def wants_demos(self) -> bool:
        """True for few-shot prompts: they draw demonstrations from decided items."""
        return bool(self.prompt.shots)

    def task(self, task: TaskLike) -> LabelTask:
        """``task`` (or a session's task) with this annotator's wording overrides applied."""
        base = task if isinstance(task, LabelTask) else task.task
        if self.instructions is None and not self.descriptions:
            return base
        unknown = set(self.descriptions) - set(base.names)
        if unknown:
            raise ValueError(f"descriptions for labels not in the task: {sorted(unknown)}")
        return LabelTask(
            labels={n: self.descriptions.get(n, base.descriptions[n]) for n in base.names},
            instructions=base.instructions if self.instructions is None else self.instructions,
            multi_label=base.multi_label,
        )

    def variant(self, **changes: Any) -> OpenAIAnnotator:
        """A copy with some settings changed, sharing this one's client (and so its key).

        Accepts ``model``, ``prompt``, ``instructions``, ``descriptions``, ``confidence``,
        ``samples``, ``concurrency``, ``budget_requests``, ``budget_cost``, ``max_tokens``.
        """
        allowed = {
            "model",
            "prompt",
            "instructions",
            "descriptions",
            "confidence",
            "samples",
            "concurrency",
            "budget_requests",
            "budget_cost",
            "max_tokens",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        settings: dict[str, Any] = {
            "prompt": self.prompt,
            "confidence": self.confidence,
            "samples": self.samples,
            "concurrency": self.concurrency,
            "budget_requests": self.budget_requests,
            "budget_cost": self.budget_cost,
            "max_tokens": self.max_tokens,
            "prices": self.prices,
            "embeddings": self.embeddings,
            "instructions": self.instructions,
            "descriptions": self.descriptions,
        }
        settings.update(changes)
        model = settings.pop("model", self.model)
        other = OpenAIAnnotator(model, client=self._client, **settings)
        other._clients = self._clients  # and its connections
        return other

    def _check_limits(self) -> None:
        for name in ("budget_requests", "budget_cost"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens!r}")
        if self.budget_cost is not None and self.cost(1, 1) is None:
            raise ValueError(
                f"budget_cost needs the price of model {self.model!r}: pass "
                f"prices={{{self.model!r}: (usd_per_1M_input, usd_per_1M_output)}}"
            )

    def _cap(self) -> int | None:
        """The cap on an answer's tokens: max_tokens, or the default one under a cost budget."""
        if self.max_tokens is not None:
            return self.max_tokens
        return BUDGET_MAX_TOKENS if self.budget_cost is not None else None

    def spec(self, task: TaskLike) -> dict[str, Any]:
        """Everything needed to rebuild this prompt version (no client, no key)."""
        task = self.task(task)
        return {
            "model": self.model,
            "prompt": asdict(self.prompt),
            "instructions": task.instructions,
            "descriptions": dict(task.descriptions),
            "confidence": self.confidence,
            "samples": self.samples,
            "strategy": self.prompt.strategy,
            "endpoint": self.endpoint,
        }

    # -- what shapes a request ----------------------------------------------------------------
    def version(self, task: TaskLike) -> str:
        """The prompt version: a hash of the task, template, prompt spec, model and options."""
        return prompt_version(
            self.task(task),
            self.prompt,
            self.model,
            {"confidence": self.confidence, "samples": self.samples},
        )

    def _self_consistency(self) -> bool:
        if self.confidence == "self-consistency":
            return "n" not in self.degraded
        return (
            self.confidence == "auto"
            and "logprobs" in self.degraded
            and "n" not in self.degraded
            and self.samples > 1
        )

    def _params(self, task: TaskLike) -> dict[str, Any]:
        task = self.task(task)  # idempotent: overrides applied twice are applied once
        params: dict[str, Any] = {"temperature": self.prompt.temperature}
        if "response_format" not in self.degraded:
            params["response_format"] = _schema(task.names, task.multi_label)
        elif "response_format:json_object" not in self.degraded:
            params["response_format"] = {"type": "json_object"}
        wants_logprobs = self.confidence in ("auto", "logprob")
        if wants_logprobs and "logprobs" not in self.degraded:
            params["logprobs"] = True
            if "top_logprobs" not in self.degraded:
                params["top_logprobs"] = 5
        if self._self_consistency():
            params["n"] = self.samples
            # identical samples at temperature 0 would say nothing about confidence
            params["temperature"] = max(self.prompt.temperature, 0.7)
        cap = self._cap()
        if cap is not None:
            for name in ("max_tokens", "max_completion_tokens"):
                if name not in self.degraded:
                    params[name] = cap
        return params

    # -- estimate -------------------------------------------------------------------------------
    def estimate(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        demos: Sequence[Demo] = (),
    ) -> Estimate:
        """Requests, tokens and cost for ``items``, counting cache hits as free."""
        task = self.task(task)
        picker = self._picker(demos)
        params = self._params(task)
        version = self.version(task)
        prompt_tokens = cached = 0
        for item_id, text in items:
            messages = self._messages(task, picker, item_id, text)[0]
            if cache.get(_cache_key(self.model, messages, params)) is not None:
                cached += 1
                continue
            # about 4 characters per token for English text; a tokenizer would add a dependency
            prompt_tokens += sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)
        requests = len(items) - cached
        per_answer = 70 if self.prompt.chain_of_thought else 35
        completion_tokens = requests * per_answer * params.get("n", 1)
        return Estimate(
            items=len(items),
            requests=requests,
            cached=cached,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=self.cost(prompt_tokens, completion_tokens),
            model=self.model,
            prompt_version=version,
        )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for the tokens at this model's price, or None when the price is unknown."""
        price = self.prices.get(self.model)
        if price is None:  # dated snapshots such as gpt-4o-mini-2024-07-18
            prefixes = [m for m in self.prices if self.model.startswith(m + "-")]
            price = self.prices[max(prefixes, key=len)] if prefixes else None
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    # -- run --------------------------------------------------------------------------------------
    def _picker(self, demos: Sequence[Demo]) -> DemoPicker | None:
        if not self.prompt.shots:
            return None
        return DemoPicker(self.prompt, list(demos), self.embeddings)

    def messages(
        self, item: Item, task: TaskLike, demos: Sequence[Demo] = ()
    ) -> list[dict[str, str]]:
        """The chat messages this annotator sends for one ``(item_id, text)`` item.

        Examples
        --------
        >>> ann.messages(("r1", "Great phone."), task)  # doctest: +SKIP
        [{'role': 'system', 'content': '...'}, {'role': 'user', 'content': '...'}]
        """
        task = self.task(task)
        return self._messages(task, self._picker(demos), item[0], item[1])[0]

    def _messages(
        self, task: LabelTask, picker: DemoPicker | None, item_id: str, text: str
    ) -> tuple[list[dict[str, str]], tuple[str, ...]]:
        demos = picker.pick(item_id, text) if picker else []
        messages = build_messages(task, self.prompt, text, [(t, labels) for _, t, labels in demos])
        return messages, tuple(d[0] for d in demos)

    async def propose(
        self,
        items: Sequence[Item],
        task: LabelTask,
        cache: ResponseCache,
        report: RunReport,
        progress: Progress,
        demos: Sequence[Demo] = (),
    ) -> AsyncIterator[Proposal]:
        """Yield a proposal per item as it arrives, with at most ``concurrency`` in flight."""
        self._check_limits()  # the budget may have been changed since construction
        task = self.task(task)
        picker = self._picker(demos)
        version = self.version(task)
        run = _Run(Budget(self.budget_requests, self.budget_cost))
        queue = list(reversed(items))
        # (proposal, stored): a worker sends its next request only once the caller came back
        # for more, i.e. stored this answer, so a crash loses only requests in flight
        answers: asyncio.Queue[tuple[Proposal, asyncio.Future[None]] | None] = asyncio.Queue()

        async def worker() -> None:
            while queue and report.stopped is None:
                item_id, text = queue.pop()
                try:
                    proposal = await self._propose_one(
                        task, cache, picker, item_id, text, version, report, run
                    )
                except BudgetReached as exc:
                    report.stopped = str(exc)
                    return
                except EndpointUnreachable as exc:
                    report.stopped = str(exc)
                    raise
                except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                    report.stopped = f"the server refused the API key: {exc.message}"
                    raise
                except openai.NotFoundError as exc:
                    report.stopped = f"model {self.model!r} not found: {exc.message}"
                    raise
                except openai.APIError as exc:
                    self._count_failure(run, exc, report)
                    report.failed += 1
                    if len(report.errors) < 5:
                        report.errors.append(
                            without_credentials(f"{item_id}: {type(exc).__name__}: {exc}")
                        )
                    progress(report)
                    continue
                run.connect_failures = 0
                stored = asyncio.get_running_loop().create_future()
                answers.put_nowait((proposal, stored))
                await stored

        workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(queue)))]
        everyone = asyncio.gather(*workers)
        everyone.add_done_callback(lambda _: answers.put_nowait(None))
        try:
            while (answer := await answers.get()) is not None:
                yield answer[0]
                answer[1].set_result(None)
            await everyone  # raises what stopped a worker
        finally:
            for w in workers:
                w.cancel()
            if run.probe is not None:
                run.probe.cancel()
            report.degraded = dict(self.degraded)

    def _count_failure(self, run: _Run, exc: openai.APIError, report: RunReport) -> None:
        """Items failing in a row because the server cannot be connected to stop the run."""
        if not cannot_connect(exc):
            run.connect_failures = 0
            return
        run.connect_failures += 1
        if run.connect_failures >= CONNECT_ATTEMPTS:
            error = unreachable(self.base_url, exc, f"{run.connect_failures} items in a row")
            report.stopped = str(error)
            raise error

    async def _propose_one(
        self,
        task: LabelTask,
        cache: ResponseCache,
        picker: DemoPicker | None,
        item_id: str,
        text: str,
        version: str,
        report: RunReport,
        run: _Run,
    ) -> Proposal:
        messages, demo_ids = self._messages(task, picker, item_id, text)
        params, key, response, reserved = await self._fetch(task, cache, messages, run)
        cached = reserved is None
        proposal = make_proposal(
            task,
            params,
            response,
            item_id=item_id,
            model=self.model,
            version=version,
            demos=demo_ids,
            run_id=report.run_id,
            cached=cached,
            price=self.cost,
            degraded=self.degraded,
        )
        if reserved is None:
            report.cached += 1
        else:
            p_tok, c_tok = proposal.prompt_tokens or 0, proposal.completion_tokens or 0
            report.requests += 1
            report.prompt_tokens += p_tok
            report.completion_tokens += c_tok
            report.cost += proposal.cost or 0.0
            # without usage figures the request counts at the most it could have cost
            run.budget.release(reserved, cost=proposal.cost if response.get("usage") else None)
        if not cached:  # the caller stores it with the proposal made from it
            cache.put(key, response)
        return proposal

    async def _fetch(
        self,
        task: LabelTask,
        cache: ResponseCache,
        messages: list[dict[str, str]],
        run: _Run,
    ) -> tuple[dict[str, Any], str, dict[str, Any], float | None]:
        """``(params, cache key, response, budget reserved)``: from the cache (reserved None)
        or from the server, dropping each optional parameter the server rejects."""
        while True:
            params = self._params(task)
            key = _cache_key(self.model, messages, params)
            response = cache.get(key)
            if response is not None:
                return params, key, response, None
            if run.probe is None:
                run.probe = asyncio.ensure_future(probe(self._clients.get(), self.base_url))
            await asyncio.shield(run.probe)  # one probe per run, shared by the workers
            reserved = await run.budget.reserve(self._max_cost(messages, params))
            try:
                return params, key, await self._create(messages, params), reserved
            except openai.BadRequestError as exc:
                run.budget.release(reserved, refused=True)
                if degrade(exc, params, self.degraded):
                    continue
                raise
            except openai.APIStatusError:
                run.budget.release(reserved, cost=0.0)  # an error answer is not billed
                raise
            except BaseException:
                run.budget.release(reserved)  # a timeout may have been billed: the most
                raise

    # -- budgets ----------------------------------------------------------------------------------
    def _max_cost(self, messages: list[dict[str, str]], params: Mapping[str, Any]) -> float:
        """The most a request can cost: every prompt byte a token, every answer at the cap."""
        if self.budget_cost is None:
            return 0.0
        prompt = sum(len(m["content"].encode()) + 4 for m in messages) + 3
        completion = (self._cap() or BUDGET_MAX_TOKENS) * int(params.get("n", 1))
        return self.cost(prompt, completion) or 0.0

    async def _create(
        self, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> dict[str, Any]:
        return await post_chat(self._clients.get(), self._async, self.body(messages, params))

    def body(self, messages: list[dict[str, str]], params: Mapping[str, Any]) -> dict[str, Any]:
        """The chat-completion request body, sent live or written into a batch file."""
        return {"model": self.model, "messages": messages, **params}
