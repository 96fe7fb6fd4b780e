"""The gateway (base-URL mode) driven by the real OpenAI and Anthropic SDKs, against the fake upstream."""
from __future__ import annotations

import gzip
import json

import anthropic
import httpx
import openai
import pytest

from tests.proxy.harness import ALICE, UPSTREAM_KEYS, Customs, FakeUpstream

AWS_KEY = "AKIAZ7Q3LMNB4XWERT5Y"
EMAIL = "jane.roe@example.org"
GH_TOKEN = "ghp_" + "R8s2kLq0ZpXw4vN7tY1uB3cD5eF6gH9iJ2kL"


def oai(customs: Customs, key: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{customs.gateway}/openai/v1", api_key=key, max_retries=0, timeout=30)


def anth(customs: Customs, key: str = ALICE) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{customs.gateway}/anthropic", api_key=key, max_retries=0, timeout=30)


def test_openai_chat_reaches_upstream_with_the_real_key_not_the_virtual_one(customs: Customs, upstream: FakeUpstream) -> None:
    r = oai(customs).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "echo: hello there"
    seen = upstream.last()
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == f"Bearer {UPSTREAM_KEYS['OPENAI_API_KEY']}"
    assert ALICE not in upstream.raw_log()


def test_openai_chat_stream_passes_through_chunk_by_chunk(customs: Customs) -> None:
    stream = oai(customs).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stream me a reply please"}], stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "echo: stream me a reply please"
    assert len(pieces) >= 4  # arrived as many events (word by word), not one buffered blob


def test_secret_and_email_never_reach_upstream_and_are_restored_for_the_client(customs: Customs, upstream: FakeUpstream) -> None:
    text = f"my key is {AWS_KEY} and mail {EMAIL} ok"
    r = oai(customs).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
    sent = upstream.last()["body"]
    assert AWS_KEY not in sent and EMAIL not in sent
    assert "[SECRET_" in sent and "[PII_" in sent
    assert r.choices[0].message.content == f"echo: {text}"


def test_placeholder_split_across_sse_events_is_restored(customs: Customs, upstream: FakeUpstream) -> None:
    text = f"token {GH_TOKEN} end"
    stream = oai(customs).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}],
                                                  stream=True)
    out = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert GH_TOKEN not in upstream.last()["body"]
    assert out == f"echo: {text}"


def test_usage_chunk_added_for_budgets_is_not_shown_to_a_client_that_did_not_ask(customs: Customs, upstream: FakeUpstream) -> None:
    stream = oai(customs).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                  stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert json.loads(upstream.last()["body"])["stream_options"]["include_usage"] is True


def test_usage_chunk_passes_to_a_client_that_asked(customs: Customs) -> None:
    stream = oai(customs).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                  stream=True, stream_options={"include_usage": True})
    usage = [c.usage for c in stream if c.usage]
    assert len(usage) == 1 and usage[0].completion_tokens > 0


def test_openai_responses_stream_restores_placeholders(customs: Customs, upstream: FakeUpstream) -> None:
    text = f"rotate {AWS_KEY} now"
    with oai(customs).responses.stream(model="gpt-4o", input=text) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert AWS_KEY not in upstream.last()["body"]
    assert "".join(deltas) == f"echo: {text}"
    assert final.output_text == f"echo: {text}"


def test_openai_legacy_completions_and_embeddings(customs: Customs, upstream: FakeUpstream) -> None:
    c = oai(customs).completions.create(model="gpt-3.5-turbo-instruct", prompt=f"def f():\n    key = '{AWS_KEY}'")
    assert AWS_KEY in c.choices[0].text
    assert AWS_KEY not in upstream.last()["body"]
    e = oai(customs).embeddings.create(model="text-embedding-3-small", input=[f"mail {EMAIL}"])
    assert e.data[0].embedding
    assert EMAIL not in upstream.last()["body"]


def test_anthropic_messages_with_bearer_auth_from_the_sdk(customs: Customs, upstream: FakeUpstream) -> None:
    msg = anth(customs).messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                        messages=[{"role": "user", "content": f"key {AWS_KEY}"}])
    assert msg.content[0].text == f"echo: key {AWS_KEY}"
    seen = upstream.last()
    assert AWS_KEY not in seen["body"]
    assert UPSTREAM_KEYS["ANTHROPIC_API_KEY"] in (seen["headers"].get("authorization", "") + seen["headers"].get("x-api-key", ""))


def test_anthropic_stream_restores_and_reports_usage(customs: Customs) -> None:
    with anth(customs).messages.stream(model="claude-sonnet-4-5", max_tokens=64,
                                       messages=[{"role": "user", "content": f"mail {EMAIL} please"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == f"echo: mail {EMAIL} please"
    assert final.usage.output_tokens > 1


def test_anthropic_x_api_key_auth_is_accepted_and_swapped(customs: Customs, upstream: FakeUpstream) -> None:
    r = httpx.post(f"{customs.gateway}/anthropic/v1/messages", headers={"x-api-key": ALICE, "anthropic-version": "2023-06-01"},
                   json={"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    seen = upstream.last()["headers"]
    assert seen.get("x-api-key") == UPSTREAM_KEYS["ANTHROPIC_API_KEY"]
    assert seen.get("anthropic-version") == "2023-06-01"


def test_unknown_virtual_key_gets_401_in_openai_format(customs: Customs) -> None:
    with pytest.raises(openai.AuthenticationError) as exc:
        oai(customs, key="ck-nobody").chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert "virtual key" in str(exc.value)


def test_unknown_key_gets_401_in_anthropic_format(customs: Customs) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        anth(customs, key="ck-nobody").messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                                       messages=[{"role": "user", "content": "x"}])


def test_malformed_json_is_refused_in_the_providers_format(customs: Customs, upstream: FakeUpstream) -> None:
    before = len(upstream.requests())
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}",
                   "content-type": "application/json"}, content=b'{"model": "gpt-4o", "messages": [')
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{customs.gateway}/anthropic/v1/messages", headers={"x-api-key": ALICE}, content=b"\xff\xfe not utf8")
    assert r.status_code == 400
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    assert len(upstream.requests()) == before  # nothing unscanned was forwarded


def test_request_without_required_fields_is_refused(customs: Customs) -> None:
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}"},
                   json={"model": "gpt-4o"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]


def test_oversized_body_gets_413(customs: Customs, upstream: FakeUpstream) -> None:
    before = len(upstream.requests())
    big = "x" * (1024 * 1024 + 10)
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": big}]})
    assert r.status_code == 413
    assert r.json()["error"]["message"].startswith("request body")
    assert len(upstream.requests()) == before


def test_gzip_request_body_is_decoded_scanned_and_forwarded(customs: Customs, upstream: FakeUpstream) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": f"k {AWS_KEY}"}]}).encode()
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", content=gzip.compress(body),
                   headers={"authorization": f"Bearer {ALICE}", "content-encoding": "gzip",
                            "content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == f"echo: k {AWS_KEY}"
    assert AWS_KEY not in upstream.raw_log()


def test_corrupt_gzip_body_is_refused(customs: Customs) -> None:
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", content=b"\x1f\x8b\x08\x00garbage",
                   headers={"authorization": f"Bearer {ALICE}", "content-encoding": "gzip"})
    assert r.status_code == 400


def test_gemini_generate_content_with_header_key(customs: Customs, upstream: FakeUpstream) -> None:
    r = httpx.post(f"{customs.gateway}/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                   headers={"x-goog-api-key": ALICE},
                   json={"contents": [{"role": "user", "parts": [{"text": f"mail {EMAIL}"}]}]})
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == f"echo: mail {EMAIL}"
    seen = upstream.last()
    assert EMAIL not in seen["body"]
    assert seen["headers"]["x-goog-api-key"] == UPSTREAM_KEYS["GEMINI_API_KEY"]


def test_gemini_stream_with_sse(customs: Customs) -> None:
    with httpx.stream("POST", f"{customs.gateway}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                      headers={"x-goog-api-key": ALICE},
                      json={"contents": [{"role": "user", "parts": [{"text": f"k {AWS_KEY}"}]}]}) as r:
        assert r.status_code == 200
        texts = []
        for line in r.iter_lines():
            if line.startswith("data: "):
                for cand in json.loads(line[6:]).get("candidates", []):
                    texts.extend(p.get("text", "") for p in cand["content"]["parts"])
    assert "".join(texts) == f"echo: k {AWS_KEY}"


def test_azure_deployment_route_uses_api_key_header(customs: Customs, upstream: FakeUpstream) -> None:
    client = openai.AzureOpenAI(azure_endpoint=f"{customs.gateway}/azure/customs-weu", api_key=ALICE,
                                api_version="2024-10-21", max_retries=0)
    r = client.chat.completions.create(model="gpt-4o-prod", messages=[{"role": "user", "content": "hi azure"}])
    assert r.choices[0].message.content == "echo: hi azure"
    seen = upstream.last()
    assert seen["path"] == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert seen["headers"]["api-key"] == UPSTREAM_KEYS["AZURE_OPENAI_API_KEY"]


def test_openai_compatible_server_route_drops_the_virtual_key(customs: Customs, upstream: FakeUpstream) -> None:
    client = openai.OpenAI(base_url=f"{customs.gateway}/compat/local/v1", api_key=ALICE, max_retries=0)
    r = client.chat.completions.create(model="qwen2.5-coder", messages=[{"role": "user", "content": "hi vllm"}])
    assert r.choices[0].message.content == "echo: hi vllm"
    assert "authorization" not in upstream.last()["headers"]


def test_unknown_gateway_route_is_404_with_a_hint(customs: Customs) -> None:
    r = httpx.post(f"{customs.gateway}/nope/v1/chat", json={})
    assert r.status_code == 404 and "/openai/v1" in r.json()["error"]["message"]


INVENTED = "AKIAQ4XRL2MZ7NWBTY3E"  # a key the "model" writes on its own


def test_secret_invented_by_the_model_is_masked_in_a_buffered_answer(customs: Customs) -> None:
    r = oai(customs).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"mine is {AWS_KEY}"}],
        extra_headers={"x-fake-append": f"and here is another: {INVENTED} done"})
    text = r.parse().choices[0].message.content
    assert INVENTED not in text and "[REDACTED_SECRET_AWS_ACCESS_KEY]" in text
    assert AWS_KEY in text  # the client's own key is restored, not treated as invented


def test_secret_invented_by_the_model_is_masked_in_a_stream(customs: Customs) -> None:
    stream = oai(customs).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"mine is {AWS_KEY}"}], stream=True,
        extra_headers={"x-fake-append": f"and here is another: {INVENTED} done"})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"echo: mine is {AWS_KEY} and here is another: [REDACTED_SECRET_AWS_ACCESS_KEY] done"


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
    b'{"model": "gpt-4o", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"[]", b'"just a string"', b"null", b"1e999999", b'{"messages": "not a list"}',
    b'{"model": "gpt-4o", "messages": [{"role": "user", "content": {"nested": [1, 2, {"x": null}]}}]}',
    b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud800 lone surrogate"}]}',
])
def test_hostile_bodies_are_refused_and_never_forwarded(customs: Customs, upstream: FakeUpstream, body: bytes) -> None:
    before = len(upstream.requests())
    r = httpx.post(f"{customs.gateway}/openai/v1/chat/completions", content=body, timeout=30,
                   headers={"authorization": f"Bearer {ALICE}", "content-type": "application/json"})
    if r.status_code == 200:  # accepted only if it is a valid request, and then it was scanned
        assert len(upstream.requests()) == before + 1
    else:
        assert 400 <= r.status_code < 600 and "error" in r.json()
        assert len(upstream.requests()) == before
    assert httpx.get(f"{customs.admin}/healthz").status_code == 200  # the process survived
