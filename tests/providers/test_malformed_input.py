"""Hostile or malformed input never crashes an adapter: requests fail with ValueError only,
stream handlers and response rewriting tolerate any JSON, and segment paths always resolve."""
from __future__ import annotations

import json
import random

import pytest

from proxy.providers import ADAPTERS
from proxy.providers.base import SseEvent, get_at, parse_sse_event
from tests.providers.streams import PlaceholderFilter

KEYS = ["messages", "content", "parts", "text", "role", "type", "tool_calls", "function", "arguments", "input",
        "output", "items", "prompt", "suffix", "extra", "context", "system", "systemInstruction", "contents",
        "functionCall", "args", "functionResponse", "response", "source", "data", "delta", "choices", "index",
        "finish_reason", "finishReason", "usage", "usageMetadata", "candidates", "content_block", "partial_json",
        "message", "item", "output_index", "content_index", "max_tokens", "generationConfig", "requests",
        "instructions", "encrypted_content", "thinking", "tool_use", "tool_result", "refusal", "model", "stream"]
TYPES = ["text", "message", "tool_use", "tool_result", "document", "thinking", "function_call",
         "function_call_output", "reasoning", "input_text", "output_text", "content_block_delta",
         "content_block_stop", "message_start", "message_delta", "text_delta", "input_json_delta",
         "response.output_text.delta", "response.output_text.done", "response.completed",
         "response.output_item.done", "response.function_call_arguments.done", "image_url"]


def value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice([None, True, 0, -1, 3.5, "", "x [SECRET_X", "[SECRET_X_1]", rng.choice(TYPES), "user"])
    if roll < 0.6:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    obj = {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.5:
        obj["type"] = rng.choice(TYPES)
    return obj


PATHS = {
    "openai": ["/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/embeddings", "/v1/other"],
    "anthropic": ["/v1/messages", "/v1/messages/count_tokens"],
    "azure": ["/openai/deployments/d/chat/completions", "/openai/v1/responses"],
    "gemini": ["/v1beta/models/m:generateContent", "/v1beta/models/m:countTokens", "/v1beta/models/m:batchEmbedContents"],
    "compat": ["/chat/completions"],
    "copilot": ["/v1/engines/e/completions", "/chat/completions", "/v1/messages", "/responses"],
}
ENDPOINTS = ["chat", "responses", "completions", "fim", "messages", "generate", "embeddings", "other"]


@pytest.mark.parametrize("provider", sorted(PATHS))
def test_random_request_bodies_raise_only_value_error_and_segments_resolve(provider):
    adapter = ADAPTERS[provider]
    rng = random.Random(provider)
    for _ in range(400):
        body = value(rng)
        if rng.random() < 0.5:
            body = {rng.choice(KEYS): value(rng) for _ in range(4)}
        for path in PATHS[provider]:
            try:
                info = adapter.parse("POST", path, {}, body)
            except ValueError:
                continue
            assert info is not None
            for seg in info.segments:
                assert isinstance(seg.text, str) and get_at(body, seg.path) == seg.text
            adapter.write_segments(body, info.segments)


@pytest.mark.parametrize("provider", sorted(PATHS))
def test_random_stream_events_and_response_bodies_never_crash(provider):
    adapter = ADAPTERS[provider]
    rng = random.Random("stream-" + provider)
    for endpoint in ENDPOINTS:
        handler = adapter.stream_handler(endpoint, PlaceholderFilter(), drop_usage_chunk=True)
        for _ in range(300):
            payload = value(rng)
            if isinstance(payload, dict) and rng.random() < 0.5:
                payload["type"] = rng.choice(TYPES)
            name = rng.choice([None, "message_start", "content_block_delta", "error", "response.completed"])
            block = (f"event: {name}\n" if name else "") + f"data: {json.dumps(payload)}"
            out = handler.on_event(parse_sse_event(block.encode()))
            assert all(isinstance(ev, SseEvent) for ev in out)
            for ev in out:
                ev.encode()
        handler.on_event(parse_sse_event(b"data: [DONE]"))
        handler.on_event(parse_sse_event(b": keep-alive"))
        handler.on_event(parse_sse_event(b"data: {not json"))
        handler.on_end()
        for _ in range(100):
            body = value(rng)
            adapter.rewrite_response(endpoint, body, str.upper)
            adapter.usage_from_body(endpoint, body)


def nodes(body, path=()):
    """Every (path, value) inside a JSON value."""
    yield path, body
    if isinstance(body, dict):
        for k, v in body.items():
            yield from nodes(v, path + (k,))
    elif isinstance(body, list):
        for i, v in enumerate(body):
            yield from nodes(v, path + (i,))


def mutated(rng: random.Random, body):
    """`body` with one to three random subtrees replaced by random JSON."""
    body = json.loads(json.dumps(body))
    for _ in range(rng.randint(1, 3)):
        candidates = [p for p, _ in nodes(body) if p]
        if not candidates:
            break
        path = rng.choice(candidates)
        parent = get_at(body, path[:-1])
        parent[path[-1]] = value(rng, 2)
    return body


def samples():
    from tests.providers.test_anthropic_adapter import BODY as MESSAGES
    from tests.providers.test_azure_compat_copilot import FIM
    from tests.providers.test_gemini_adapter import BODY as GENERATE
    from tests.providers.test_openai_requests import CHAT, RESPONSES
    return [("openai", "/v1/chat/completions", CHAT), ("openai", "/v1/responses", RESPONSES),
            ("anthropic", "/v1/messages", MESSAGES), ("gemini", "/v1beta/models/m:generateContent", GENERATE),
            ("copilot", "/v1/engines/e/completions", FIM)]


def test_mutated_realistic_bodies_raise_only_value_error_and_segments_resolve():
    rng = random.Random(7)
    parsed = 0
    for provider, path, sample in samples():
        for _ in range(300):
            body = mutated(rng, sample)
            try:
                info = ADAPTERS[provider].parse("POST", path, {}, body)
            except ValueError:
                continue
            parsed += 1
            for seg in info.segments:
                assert get_at(body, seg.path) == seg.text
            ADAPTERS[provider].write_segments(body, info.segments)
    assert parsed > 500  # most mutations keep the body valid enough to be described
