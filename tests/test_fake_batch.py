"""The loopback server's Batch API, driven by the real openai client (issue 16)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import openai
import pytest

from llmlabel_widget.testing import FakeOpenAIServer

GOLD = {"a fine film": "positive", "a dull film": "negative"}


def lines(n, prefix="c"):
    out = []
    for i in range(n):
        text = "a fine film" if i % 2 == 0 else "a dull film"
        prompt = "Labels:\n- positive\n- negative\n" + json.dumps(text)
        body = {"model": "fake-llm", "messages": [{"role": "user", "content": prompt}]}
        url = "/v1/chat/completions"
        out.append({"custom_id": f"{prefix}{i}", "method": "POST", "url": url, "body": body})
    return ("".join(json.dumps(x) + "\n" for x in out)).encode()


def submit(client, content, **meta):
    f = client.files.create(file=("in.jsonl", content), purpose="batch")
    return client.batches.create(
        input_file_id=f.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=meta or None,
    )


def until_ended(client, batch_id):
    for _ in range(500):
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "expired", "cancelled", "failed"):
            return batch
        time.sleep(0.01)
    raise AssertionError("the batch never ended")


def results(client, file_id):
    if file_id is None:
        return []
    return [json.loads(x) for x in client.files.content(file_id).content.splitlines()]


def test_files_and_batches_round_trip_and_answers_equal_live():
    with FakeOpenAIServer(GOLD) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        content = lines(6)
        f = client.files.create(file=("in.jsonl", content), purpose="batch")
        assert (f.purpose, f.bytes, f.filename) == ("batch", len(content), "in.jsonl")
        assert client.files.content(f.id).content == content
        assert [x.id for x in client.files.list(purpose="batch")] == [f.id]
        batch = client.batches.create(
            input_file_id=f.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"job": "j1"},
        )
        assert batch.status == "in_progress"
        assert [b.metadata for b in client.batches.list()] == [{"job": "j1"}]
        batch = until_ended(client, batch.id)
        assert batch.status == "completed"
        assert (batch.request_counts.completed, batch.request_counts.failed) == (6, 0)
        out = results(client, batch.output_file_id)
        assert [x["custom_id"] for x in out] == [f"c{i}" for i in range(6)]
        answers = [
            json.loads(x["response"]["body"]["choices"][0]["message"]["content"]) for x in out
        ]
        assert [a["label"] for a in answers] == ["positive", "negative"] * 3
        stats = server.batch.stats()
        assert (stats["lines"], stats["twice"], stats["uploads"]) == (6, [], 1)
        usage = sum(x["response"]["body"]["usage"]["prompt_tokens"] for x in out)
        assert stats["usage"]["prompt_tokens"] == usage > 0
        # the live answer to the same request is the same answer
        live = client.chat.completions.create(**json.loads(content.splitlines()[0])["body"])
        assert json.loads(live.choices[0].message.content)["label"] == "positive"


def test_failed_lines_expiry_slow_completion_and_cancel():
    with FakeOpenAIServer(GOLD, latency=0.002) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        server.batch.fail_rate = 0.2
        server.batch.expire = {1: 0.5}
        server.batch.polls = 3
        first = until_ended(client, submit(client, lines(100, "a")).id)
        failed = results(client, first.error_file_id)
        assert first.status == "completed"
        assert 5 < len(failed) < 40
        assert {x["response"]["status_code"] for x in failed} == {500}
        assert len(results(client, first.output_file_id)) == 100 - len(failed)
        # the second batch expires half-way: the rest is in the error file as batch_expired
        second = until_ended(client, submit(client, lines(100, "b")).id)
        assert second.status == "expired"
        errors = results(client, second.error_file_id)
        expired = [x for x in errors if (x["error"] or {}).get("code") == "batch_expired"]
        assert len(expired) == 50
        assert len(results(client, second.output_file_id)) + len(errors) == 100
        # slow: in_progress for `polls` retrieves after the work is done
        server.batch.fail_rate, server.batch.polls = 0.0, 0
        server.latency = 0.02
        third = submit(client, lines(100, "c"))
        assert client.batches.cancel(third.id).status == "cancelling"
        third = until_ended(client, third.id)
        assert third.status == "cancelled"
        cancelled = [x for x in results(client, third.error_file_id) if x["error"]]
        assert cancelled
        assert {x["error"]["code"] for x in cancelled} == {"batch_cancelled"}
        assert server.batch.stats()["twice"] == []


def test_a_server_without_the_batch_api_answers_404():
    with FakeOpenAIServer(GOLD) as server:
        server.batch.enabled = False
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.NotFoundError):
            client.files.create(file=("in.jsonl", lines(2)), purpose="batch")


def test_the_batch_api_wants_a_key_and_a_multipart_upload():
    with FakeOpenAIServer(GOLD) as server:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.base_url + "/batches")  # noqa: S310 - loopback
        assert info.value.code == 401
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="multipart"):
            client.post("/files", body={"purpose": "batch"}, cast_to=object)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_nope")
