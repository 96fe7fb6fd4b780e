"""Hundreds of real secrets and PII values, planted in every text field of every adapter,
streamed and not, never reach the (logging) fake upstream; the client gets its text back.

The values come from ../shared/corpus (read at run time, never copied here). Detection recall
is measured by tests/redaction on the whole corpus; this test proves the plumbing: every field
of every wire format is scanned, masked on the way out and restored on the way back. So it
plants the values the scanner finds in their own record.
"""
from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redaction import Scanner
from tests.proxy.harness import ALICE, REPO, Customs, FakeUpstream

CORPUS = REPO.parent / "shared" / "corpus"
PII_TYPES = {"EMAIL", "CREDIT_CARD", "IBAN", "US_SSN", "PHONE", "IP_ADDRESS"}


def _records(name: str) -> Iterator[dict]:
    with open(CORPUS / name, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def planted(n_secrets: int = 200, n_pii: int = 100) -> list[tuple[str, str]]:
    """(text to send, value that must not leave) pairs, detected by the scanner in their record."""
    scanner = Scanner()
    rng = random.Random(7)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    secrets = [r for f in ("secrets_gitleaks.jsonl", "secrets_trufflehog.jsonl") for r in _records(f)
               if r["label"] == "secret" and r.get("secrets") and len(r["text"]) < 400]
    rng.shuffle(secrets)
    for r in secrets:
        value = r["secrets"][0]
        start = r["text"].find(value)
        if value in seen or len(value) < 12 or start < 0:
            continue
        found = scanner.scan(r["text"])
        if any(f.kind == "license" or "PRIVATE_KEY" in f.type for f in found):
            continue  # policy blocks these outright (tested in test_governance), nothing to restore
        if any(f.start <= start and f.end >= start + len(value) for f in found):
            out.append((r["text"], value))
            seen.add(value)
        if len(out) >= n_secrets:
            break
    pii = [r for f in ("pii_presidio_research_synth_v2.jsonl", "pii_presidio_research_generated_large.jsonl")
           for r in _records(f)]
    rng.shuffle(pii)
    for r in pii:
        found = scanner.scan(r["text"])
        if any(f.kind == "license" for f in found):
            continue
        for s in r["spans"]:
            value = r["text"][s["start"]:s["end"]]
            if s["type"] in PII_TYPES and value not in seen and len(value) >= 7 and any(
                    f.kind == "pii" and f.start <= s["start"] and f.end >= s["end"] for f in found):
                out.append((r["text"], value))
                seen.add(value)
        if len(out) >= n_secrets + n_pii:
            break
    return out


@pytest.fixture(scope="module")
def values() -> list[tuple[str, str]]:
    vals = planted()
    assert len(vals) >= 250, "not enough detectable values in the corpus"
    return vals


def chunks(vals: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    it = iter(vals)
    while batch := list(itertools.islice(it, size)):
        yield batch


def openai_chat(t: list[str], stream: bool) -> dict:
    return {"model": "gpt-4o", "stream": stream, "messages": [
        {"role": "system", "content": t[0]},
        {"role": "user", "content": [{"type": "text", "text": t[1]}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "grep", "arguments": json.dumps({"q": t[2]})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": t[3]},
        {"role": "user", "content": "\n".join(t[4:])}]}


def responses(t: list[str], stream: bool) -> dict:
    return {"model": "gpt-4o", "stream": stream, "instructions": t[0], "input": [
        {"type": "function_call_output", "call_id": "c1", "output": t[1]},
        {"role": "user", "content": [{"type": "input_text", "text": "\n".join(t[2:])}]}]}


def anthropic(t: list[str], stream: bool) -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream, "system": t[0], "messages": [
        {"role": "user", "content": [{"type": "text", "text": t[1]}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {"path": t[2]}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": t[3]},
                                     {"type": "text", "text": "\n".join(t[4:])}]}]}


def gemini(t: list[str], _: bool) -> dict:
    return {"systemInstruction": {"parts": [{"text": t[0]}]}, "contents": [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"q": t[1]}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"r": t[2]}}}]},
        {"role": "user", "parts": [{"text": "\n".join(t[3:])}]}]}


def completions(t: list[str], stream: bool) -> dict:
    return {"model": "gpt-3.5-turbo-instruct", "stream": stream, "suffix": t[0], "prompt": "\n".join(t[1:])}


def copilot_fim(t: list[str], stream: bool) -> dict:
    return {"prompt": "# path: src/app.py\n" + "\n".join(t[2:]), "suffix": t[0], "max_tokens": 20, "stream": stream,
            "extra": {"language": "python", "context": [t[1]]}}


GATEWAY = [
    ("/openai/v1/chat/completions", openai_chat, {"authorization": f"Bearer {ALICE}"}),
    ("/openai/v1/responses", responses, {"authorization": f"Bearer {ALICE}"}),
    ("/openai/v1/completions", completions, {"authorization": f"Bearer {ALICE}"}),
    ("/anthropic/v1/messages", anthropic, {"x-api-key": ALICE}),
    ("/gemini/v1beta/models/gemini-2.5-flash:generateContent", gemini, {"x-goog-api-key": ALICE}),
]


def test_planted_values_never_reach_the_upstream_and_come_back_restored(
        customs: Customs, upstream: FakeUpstream, values: list[tuple[str, str]]) -> None:
    batches = list(chunks(values, 8))
    proxy = httpx.Client(proxy=customs.proxy_url(), verify=str(customs.ca_cert), trust_env=False, timeout=60)
    sent = 0
    with httpx.Client(timeout=60) as gw, proxy:
        for i, batch in enumerate(batches):
            texts = [t for t, _ in batch] + [""] * 8
            stream = i % 2 == 1
            if i % 7 == 6:  # Copilot inline completion through the explicit proxy
                url, body, headers = ("https://proxy.business.githubcopilot.com/v1/engines/gpt-41-copilot/completions",
                                      copilot_fim(texts, stream), {"authorization": "Bearer tid=1;exp=1:MAC"})
                r = proxy.post(url, json=body, headers=headers)
            else:
                path, build, headers = GATEWAY[i % len(GATEWAY)]
                if "gemini" in path and stream:
                    path = path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"
                r = gw.post(customs.gateway + path, json=build(texts, stream), headers=headers)
            assert r.status_code == 200, (i, r.text[:300])
            sent += len(batch)
            last_user = texts[len(batch) - 1] if len(batch) > 1 else texts[0]
            if not stream and "/chat/completions" in str(r.url):
                # The fake echoes the last user turn: the client sees its own values restored.
                assert batch[-1][1] in r.json()["choices"][0]["message"]["content"] or last_user == ""
    raw = upstream.raw_log()
    leaked = [v for _, v in values if v in raw or json.dumps(v)[1:-1] in raw]
    assert sent >= 250
    assert leaked == [], f"{len(leaked)} planted values reached the upstream"
