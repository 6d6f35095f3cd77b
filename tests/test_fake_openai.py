"""Tests for the fake OpenAI server, driven by the real ``openai`` client."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import math
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from llmlabel_widget.testing import FakeOpenAIServer, Faults

LABELS = ["positive", "negative", "neutral"]
MakeServer = Callable[..., FakeOpenAIServer]


def make_gold(n: int) -> dict[str, str]:
    return {f"item {i}: the plot was fine {i}": LABELS[i % 3] for i in range(n)}


def messages(
    text: str, labels: list[str] | None = None, *, multi: bool = False
) -> list[dict[str, str]]:
    system = "You are a careful annotator. Answer in JSON."
    if labels is not None:  # the label list a prompt shows the model
        system += "\n\nLabels:\n" + "\n".join(f"- {name}: a description" for name in labels)
    if multi:
        system += "\n\nKey for the answer: 'labels'."
    user = "Label the following item.\n" + json.dumps(text, ensure_ascii=False)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def ask(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    multi = kwargs.pop("multi", False)
    labels = kwargs.pop("labels", LABELS)
    return client.chat.completions.create(
        model="fake-llm", messages=messages(text, labels, multi=multi), **kwargs
    )


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    servers: list[FakeOpenAIServer] = []

    def make(*args: Any, **kwargs: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def client_for(server: FakeOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, **kwargs)


def test_full_accuracy_returns_gold_with_quoting_rationale(
    make_server: MakeServer,
) -> None:
    gold = make_gold(30)
    server = make_server(gold, labels=LABELS)
    with client_for(server) as client:
        for text, label in gold.items():
            content = json.loads(ask(client, text).choices[0].message.content)
            assert content["label"] == label
            assert 0.7 <= content["confidence"] <= 0.99
            quoted = re.findall(r'"([^"]+)"', content["rationale"])
            assert quoted
            assert quoted[0] in text


def test_accuracy_band_and_informative_confidence(make_server: MakeServer) -> None:
    gold = make_gold(300)
    server = make_server(gold, labels=LABELS, accuracy=0.7, seed=3)
    right: list[float] = []
    wrong: list[float] = []
    with client_for(server) as client:
        for text, label in gold.items():
            content = json.loads(ask(client, text).choices[0].message.content)
            assert content["label"] in LABELS
            (right if content["label"] == label else wrong).append(content["confidence"])
    assert 0.6 <= len(right) / len(gold) <= 0.8
    assert sum(right) / len(right) > sum(wrong) / len(wrong) + 0.1


def test_answers_are_reproducible_for_a_seed(make_server: MakeServer) -> None:
    gold = make_gold(40)

    def run(seed: int) -> list[str]:
        server = make_server(gold, labels=LABELS, accuracy=0.5, seed=seed)
        with client_for(server) as client:
            return [ask(client, text).choices[0].message.content for text in gold]

    first = run(1)
    assert run(1) == first
    assert run(2) != first


def test_labels_fall_back_to_server_config_and_unknown_items(
    make_server: MakeServer,
) -> None:
    server = make_server({}, labels=["spam", "ham"])
    with client_for(server) as client:
        for i in range(10):
            content = ask(client, f"unseen text {i}", labels=None).choices[0]
            assert json.loads(content.message.content)["label"] in {"spam", "ham"}
        # a user message whose last line is not a JSON string: unknown item
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "no json here"}]
        )
    assert json.loads(reply.choices[0].message.content)["label"] in {"spam", "ham"}
    assert len(server.stats()["per_item"]) == 10


def test_label_set_comes_from_the_request(make_server: MakeServer) -> None:
    gold = make_gold(30)
    server = make_server(gold, labels=LABELS, accuracy=0.0)
    answers = []
    schema = {  # what a server enforces wins over the list in the prompt
        "type": "json_schema",
        "json_schema": {
            "name": "annotation",
            "schema": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "enum": ["positive", "negative", "mixed"]}
                },
            },
        },
    }
    with client_for(server) as client:
        for text, label in gold.items():
            msgs = messages(text, ["x", "y"])
            reply = client.chat.completions.create(model="m", messages=msgs, response_format=schema)
            answer = json.loads(reply.choices[0].message.content)["label"]
            assert answer != label
            answers.append(answer)
        listed = client.chat.completions.create(model="m", messages=messages("new", ["x", "y"]))
        assert json.loads(listed.choices[0].message.content)["label"] in {"x", "y"}
    assert set(answers) <= {"positive", "negative", "mixed"}
    assert "mixed" in answers


def test_logprobs_label_token_matches_confidence(make_server: MakeServer) -> None:
    gold = make_gold(10)
    server = make_server(gold, labels=LABELS, accuracy=0.6)
    with client_for(server) as client:
        for text in gold:
            choice = ask(client, text, logprobs=True, top_logprobs=3).choices[0]
            content = json.loads(choice.message.content)
            tokens = choice.logprobs.content
            assert "".join(t.token for t in tokens) == choice.message.content
            label_tokens = [t for t in tokens if t.token == content["label"]]
            assert len(label_tokens) >= 1
            token = label_tokens[-1]
            assert math.exp(token.logprob) == pytest.approx(content["confidence"])
            alternatives = [alt.token for alt in token.top_logprobs]
            assert alternatives[0] == content["label"]
            assert sorted(alternatives) == sorted(LABELS)
            mass = sum(math.exp(alt.logprob) for alt in token.top_logprobs)
            assert mass == pytest.approx(1.0)
            others = [t for t in tokens if t is not token]
            assert all(t.logprob == 0.0 for t in others)


def test_logprobs_disabled_returns_none(make_server: MakeServer) -> None:
    server = make_server(make_gold(3), labels=LABELS, logprobs=False)
    with client_for(server) as client:
        reply = ask(client, next(iter(make_gold(3))), logprobs=True, top_logprobs=2)
    assert reply.choices[0].logprobs is None


def test_rejected_param_gives_bad_request(make_server: MakeServer) -> None:
    gold = make_gold(2)
    text = next(iter(gold))
    server = make_server(gold, labels=LABELS, reject_params={"logprobs"})
    with client_for(server) as client:
        with pytest.raises(openai.BadRequestError) as info:
            ask(client, text, logprobs=True)
        assert info.value.param == "logprobs"
        assert info.value.code == "unsupported_parameter"
        assert "'logprobs'" in info.value.message
        # retrying without the parameter works
        assert json.loads(ask(client, text).choices[0].message.content)["label"]
    stats = server.stats()
    assert stats["rejected_params"] == ["logprobs"]
    assert stats["by_status"] == {400: 1, 200: 1}


def test_429_has_retry_after(make_server: MakeServer) -> None:
    server = make_server(make_gold(2), faults=Faults(rate_429=1.0, retry_after=0.05))
    with client_for(server) as client, pytest.raises(openai.RateLimitError) as info:
        ask(client, "anything")
    assert info.value.response.headers["retry-after"] == "0.05"
    assert info.value.code == "rate_limit_exceeded"
    assert server.stats()["by_status"] == {429: 1}


def test_500_fault(make_server: MakeServer) -> None:
    server = make_server(make_gold(2), faults=Faults(rate_500=1.0))
    with client_for(server) as client, pytest.raises(openai.InternalServerError):
        ask(client, "anything")
    assert server.stats()["by_status"] == {500: 1}


def test_retries_get_independent_fault_draws(make_server: MakeServer) -> None:
    gold = make_gold(20)
    server = make_server(gold, labels=LABELS, faults=Faults(rate_500=0.5), seed=7)
    attempts: dict[str, int] = {}
    with client_for(server) as client:
        for text in gold:
            for attempt in range(1, 30):
                try:
                    ask(client, text)
                except openai.InternalServerError:
                    continue
                attempts[text] = attempt
                break
    assert len(attempts) == len(gold)  # every item eventually succeeded
    assert set(attempts.values()) != {1}  # ...and some needed retries
    stats = server.stats()
    assert stats["per_item"] == attempts
    assert stats["by_status"][200] == len(gold)


def test_hang_times_out_and_stop_is_prompt(make_server: MakeServer) -> None:
    server = make_server(make_gold(2), faults=Faults(rate_hang=1.0, hang_seconds=30))
    with client_for(server, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client, "anything")
        assert time.monotonic() - started < 5
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert server.stats()["by_status"] == {"hang": 1}
    # stop() also wakes the hung handler, which then closes the connection
    deadline = time.monotonic() + 2
    while server.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.stats()["in_flight"] == 0


def test_malformed_content_is_not_json(make_server: MakeServer) -> None:
    server = make_server(make_gold(2), faults=Faults(rate_malformed=1.0))
    with client_for(server) as client:
        content = ask(client, "some text here").choices[0].message.content
    assert content.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    assert server.stats()["malformed"] == 1


def test_content_faults(make_server: MakeServer) -> None:
    faults = Faults(rate_out_of_set=1.0, rate_html=1.0, rate_injection=1.0)
    server = make_server(make_gold(2), labels=LABELS, faults=faults)
    with client_for(server) as client:
        content = json.loads(ask(client, "some text").choices[0].message.content)
    assert content["label"] not in LABELS
    assert "<script>alert(1)</script>" in content["rationale"]
    assert "onerror=" in content["rationale"]
    assert "Ignore all previous instructions" in content["rationale"]
    stats = server.stats()
    assert (stats["out_of_set"], stats["html"], stats["injection"]) == (1, 1, 1)


def test_n_returns_independent_choices(make_server: MakeServer) -> None:
    gold = make_gold(3)
    server = make_server(gold, labels=LABELS, accuracy=0.5)
    with client_for(server) as client:
        reply = ask(client, next(iter(gold)), n=5)
    assert [c.index for c in reply.choices] == [0, 1, 2, 3, 4]
    contents = [json.loads(c.message.content) for c in reply.choices]
    assert len({c["confidence"] for c in contents}) > 1


def test_multi_label_returns_list(make_server: MakeServer) -> None:
    tags = ["sports", "politics", "tech", "health"]
    gold = {"a match and an election": ["sports", "politics"], "new phone": ["tech"]}
    server = make_server(gold, labels=tags)
    with client_for(server) as client:
        for text, labels in gold.items():
            reply = ask(client, text, labels=tags, multi=True, logprobs=True)
            content = json.loads(reply.choices[0].message.content)
            assert isinstance(content["labels"], list)
            assert sorted(content["labels"]) == sorted(labels)
            assert "label" not in content


def test_stats_reconcile_with_client_view(make_server: MakeServer) -> None:
    gold = make_gold(40)
    faults = Faults(rate_429=0.2, rate_500=0.2, retry_after=0.01)
    server = make_server(gold, labels=LABELS, faults=faults, seed=5)
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    ok = 0
    with client_for(server) as client:
        for text in gold:
            try:
                reply = ask(client, text, n=2)
            except (openai.RateLimitError, openai.InternalServerError):
                continue
            ok += 1
            for key in totals:
                totals[key] += getattr(reply.usage, key)
            assert reply.usage.total_tokens == (
                reply.usage.prompt_tokens + reply.usage.completion_tokens
            )
    stats = server.stats()
    assert 0 < ok < len(gold)
    assert stats["usage"] == totals
    assert stats["completions"] == ok == stats["by_status"][200]
    assert stats["requests"] == sum(stats["by_status"].values()) == len(gold)
    assert stats["per_item"] == dict.fromkeys(gold, 1)
    server.reset_stats()
    assert server.stats()["requests"] == 0


def test_auth_models_and_unknown_path(make_server: MakeServer) -> None:
    server = make_server(make_gold(1), model="my-model")
    with client_for(server) as client:
        assert [m.id for m in client.models.list()] == ["my-model"]
    body = json.dumps({"model": "m", "messages": messages("x")}).encode()
    url = server.base_url + "/chat/completions"
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert info.value.code == 401
    info.value.close()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.base_url + "/nope", timeout=5)  # noqa: S310
    assert info.value.code == 404
    assert "error" in json.loads(info.value.read())
    info.value.close()


def test_concurrent_requests_overlap(make_server: MakeServer) -> None:
    gold = make_gold(64)
    server = make_server(gold, labels=LABELS, latency=0.2)

    async def run() -> list[Any]:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="test", max_retries=0
        ) as client:
            return await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="fake-llm", messages=messages(text, LABELS)
                    )
                    for text in gold
                )
            )

    replies = asyncio.run(run())
    assert len(replies) == 64
    stats = server.stats()
    assert stats["by_status"] == {200: 64}
    assert stats["max_in_flight"] >= 32


def test_cli_serves_gold_from_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "gold.csv"
    csv_path.write_text('text,label\n"good, really",positive\nawful,negative\n')
    command = [
        sys.executable,
        "-m",
        "llmlabel_widget.testing.fake_openai",
        *("--gold", str(csv_path), "--text", "text", "--label", "label"),
        *("--accuracy", "1.0", "--latency", "0", "--port", "0"),
        *("--reject", "seed"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with openai.OpenAI(base_url=base_url, api_key="t", max_retries=0) as client:
            reply = ask(client, "good, really", labels=None)
            assert json.loads(reply.choices[0].message.content)["label"] == "positive"
            with pytest.raises(openai.BadRequestError):
                ask(client, "awful", seed=1)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _post(conn: http.client.HTTPConnection, text: str) -> http.client.HTTPResponse:
    body = json.dumps({"model": "fake-llm", "messages": messages(text, LABELS)})
    headers = {"Authorization": "Bearer test", "Content-Type": "application/json"}
    conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    return conn.getresponse()


def test_keeps_connections_alive_like_real_servers(make_server: MakeServer) -> None:
    gold = make_gold(3)
    server = make_server(gold)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for text in gold:  # three requests, one after the other, on one connection
            reply = _post(conn, text)
            assert (reply.status, reply.version) == (200, 11)
            assert reply.getheader("Connection") != "close"
            assert json.loads(reply.read())["choices"]
    finally:
        conn.close()
    stats = server.stats()
    assert (stats["completions"], stats["connections"]) == (3, 1)


def test_keep_alive_off_closes_each_connection(make_server: MakeServer) -> None:
    gold = make_gold(2)
    server = make_server(gold, keep_alive=False)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for text in gold:  # http.client reconnects when the server closed the last one
            reply = _post(conn, text)
            assert reply.getheader("Connection") == "close"
            reply.read()
    finally:
        conn.close()
    assert server.stats()["connections"] == 2


def test_async_client_reuses_pooled_connections(make_server: MakeServer) -> None:
    gold = make_gold(40)
    server = make_server(gold)

    async def run() -> None:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="test", max_retries=0
        ) as client:
            for start in range(0, 40, 4):  # ten rounds of four concurrent requests
                await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model="fake-llm", messages=messages(text, LABELS)
                        )
                        for text in list(gold)[start : start + 4]
                    )
                )

    asyncio.run(run())
    stats = server.stats()
    assert stats["completions"] == 40
    assert stats["connections"] <= 4


def test_stop_closes_kept_alive_connections(make_server: MakeServer) -> None:
    server = make_server(make_gold(1))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        _post(conn, "item 0: the plot was fine 0").read()
        server.stop()
        assert conn.sock is not None
        assert conn.sock.recv(1) == b""  # the server closed its end
    finally:
        conn.close()


def test_basic_auth_from_a_proxy_in_front(make_server: MakeServer) -> None:
    server = make_server(make_gold(1), basic_auth=("alice", "hunter2"))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps({"model": "m", "messages": messages("item 0: the plot was fine 0")})
    try:
        for creds, status in (("alice:hunter2", 200), ("alice:wrong", 401)):
            token = base64.b64encode(creds.encode()).decode()
            headers = {"Authorization": f"Basic {token}"}
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            reply = conn.getresponse()
            reply.read()
            assert reply.status == status
    finally:
        conn.close()


@pytest.mark.parametrize("schema", [True, False])
def test_our_prompt_alone_tells_the_server_the_task(make_server: MakeServer, schema) -> None:
    """The production prompt carries no lines for this server: it reads the schema or the
    label list every model sees."""
    from llmlabel_widget import LabelTask
    from llmlabel_widget.annotators.openai import _schema
    from llmlabel_widget.prompts import PromptSpec, build_messages

    tags = ["sports", "politics", "tech"]
    task = LabelTask(tags, multi_label=True)
    msgs = build_messages(task, PromptSpec(), "a match and an election")
    system = msgs[0]["content"]
    assert "LABELS:" not in system
    assert "MULTI_LABEL" not in system
    server = make_server({}, labels=["other"], accuracy=0.0, seed=1)  # unseen text: guesses
    extra = {"response_format": _schema(tags, True)} if schema else {}
    with client_for(server) as client:
        for i in range(20):
            msgs = build_messages(task, PromptSpec(), f"unseen {i}")
            reply = client.chat.completions.create(model="m", messages=msgs, **extra)
            answer = json.loads(reply.choices[0].message.content)
            assert isinstance(answer["labels"], list)
            assert set(answer["labels"]) <= set(tags)
