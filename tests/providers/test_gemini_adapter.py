"""Gemini adapter: generateContent family paths, text, cumulative usage, stream restore, errors."""
from __future__ import annotations

import copy
import json

import pytest

from proxy.providers.base import get_at
from proxy.providers.gemini import GeminiAdapter
from tests.providers.streams import PlaceholderFilter, json_events, run, splits, sse

G = GeminiAdapter()
MASKED = "Rotate [SECRET_X_1] and tell [EMAIL_1]."
RESTORED = "Rotate hunter2-prod-key and tell alice@example.com."

BODY = {
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "Explain this: SECRET=abc123"},
                                   {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
        {"role": "model", "parts": [{"text": "thinking about it", "thought": True, "thoughtSignature": "sig"},
                                    {"functionCall": {"name": "lookup", "args": {"q": "abc", "n": 2}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "row: abc123"}}}]},
    ],
    "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "object"}}]}],
    "generationConfig": {"maxOutputTokens": 512, "temperature": 0.2},
}


@pytest.mark.parametrize(
    ("path", "query", "endpoint", "model", "stream"),
    [
        ("/v1beta/models/gemini-3.5-flash:generateContent", {}, "generate", "gemini-3.5-flash", False),
        ("/v1/models/gemini-3.5-flash:streamGenerateContent", {"alt": "sse"}, "generate", "gemini-3.5-flash", True),
        ("/v1/models/gemini-3.5-flash:streamGenerateContent", {}, "generate", "gemini-3.5-flash", False),
        ("/v1beta/models/gemini-3.5-flash:countTokens", {}, "count_tokens", "gemini-3.5-flash", False),
        ("/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-3.5-pro:generateContent",
         {}, "generate", "gemini-3.5-pro", False),
        ("/v1/projects/p1/locations/us/publishers/google/models/gemini-3.5-pro:streamGenerateContent",
         {"alt": "sse"}, "generate", "gemini-3.5-pro", True),
    ],
)
def test_generate_paths_and_stream_flag(path, query, endpoint, model, stream):
    info = G.parse("POST", path, query, copy.deepcopy(BODY))
    assert (info.endpoint, info.model, info.stream) == (endpoint, model, stream)
    assert info.max_tokens == 512


def test_segments_cover_system_text_function_args_and_responses_but_not_thoughts_or_blobs():
    info = G.parse("POST", "/v1beta/models/m:generateContent", {}, copy.deepcopy(BODY))
    assert [(s.path, s.text, s.role) for s in info.segments] == [
        (("systemInstruction", "parts", 0, "text"), "You are terse.", "system"),
        (("contents", 0, "parts", 0, "text"), "Explain this: SECRET=abc123", "user"),
        (("contents", 1, "parts", 1, "functionCall", "args", "q"), "abc", "assistant"),
        (("contents", 2, "parts", 0, "functionResponse", "response", "result"), "row: abc123", "tool"),
    ]


def test_snake_case_fields_are_scanned_too():
    body = {"system_instruction": {"parts": [{"text": "sys secret"}]},
            "contents": [{"role": "user", "parts": [{"text": "hi"}, {"function_response": {"name": "f", "response": {"r": "x"}}}]}],
            "generation_config": {"max_output_tokens": 64}}
    info = G.parse("POST", "/v1beta/models/m:generateContent", {}, body)
    assert [s.text for s in info.segments] == ["sys secret", "hi", "x"] and info.max_tokens == 64
    for s in info.segments:
        s.text = "[MASKED]"
    G.write_segments(body, info.segments)
    assert [get_at(body, s.path) for s in info.segments] == ["[MASKED]"] * 3
    G.set_max_tokens("generate", body, 10)
    assert body["generation_config"] == {"max_output_tokens": 10}


def test_count_tokens_and_embeddings_bodies():
    ct = G.parse("POST", "/v1beta/models/m:countTokens", {}, {"generateContentRequest": {
        "model": "models/m", "contents": [{"parts": [{"text": "count me"}]}]}})
    assert [(s.path, s.text) for s in ct.segments] == [(("generateContentRequest", "contents", 0, "parts", 0, "text"), "count me")]
    emb = G.parse("POST", "/v1beta/models/text-embedding-004:embedContent", {}, {"content": {"parts": [{"text": "embed"}]}})
    assert emb.endpoint == "embeddings" and [s.text for s in emb.segments] == ["embed"]
    batch = G.parse("POST", "/v1beta/models/e:batchEmbedContents", {}, {"requests": [
        {"model": "models/e", "content": {"parts": [{"text": "one"}]}}, {"content": {"parts": [{"text": "two"}]}}]})
    assert [(s.path, s.text) for s in batch.segments] == [
        (("requests", 0, "content", "parts", 0, "text"), "one"), (("requests", 1, "content", "parts", 0, "text"), "two")]


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/v1beta/models/m:generateContent", {"generationConfig": {}}, "contents"),
        ("/v1beta/models/m:generateContent", {"contents": [5]}, "contents[0]"),
        ("/v1beta/models/m:generateContent", [], "JSON object"),
        ("/v1beta/models/m:countTokens", {}, "countTokens"),
        ("/v1beta/models/m:embedContent", {}, "content"),
        ("/v1beta/models/m:batchEmbedContents", {"requests": {}}, "requests"),
    ],
)
def test_invalid_bodies_raise_value_error(path, body, needle):
    with pytest.raises(ValueError) as err:
        G.parse("POST", path, {}, body)
    assert needle in str(err.value)


def test_listing_is_unscanned_other_posts_scan_everything_and_foreign_paths_are_not_gemini():
    assert G.parse("GET", "/v1beta/models", {}, None).scan_required is False
    cached = G.parse("POST", "/v1beta/cachedContents", {}, {"contents": [{"parts": [{"text": "big doc"}]}]})
    assert cached.endpoint == "other" and [s.text for s in cached.segments] == ["big doc"]
    assert G.parse("POST", "/upload/v1beta/files", {}, {}) is None


def test_usage_from_body_counts_thoughts_as_output_and_takes_the_last_array_chunk():
    meta = {"promptTokenCount": 31, "candidatesTokenCount": 5, "thoughtsTokenCount": 12,
            "cachedContentTokenCount": 8, "totalTokenCount": 48}
    u = G.usage_from_body("generate", {"candidates": [], "usageMetadata": meta})
    assert (u.input_tokens, u.output_tokens, u.cached_tokens) == (31, 17, 8)
    arr = [{"usageMetadata": {"promptTokenCount": 31, "totalTokenCount": 31}}, {"usageMetadata": meta}]
    assert G.usage_from_body("generate", arr).output_tokens == 17


def test_rewrite_response_restores_candidate_text_and_function_args():
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "[SECRET_X_1]", "thought": True}, {"text": "k=[SECRET_X_1]"},
        {"functionCall": {"name": "f", "args": {"a": ["[EMAIL_1]"]}}}]}}]}
    G.rewrite_response("generate", body, PlaceholderFilter().full)
    parts = body["candidates"][0]["content"]["parts"]
    assert parts[0]["text"] == "[SECRET_X_1]"
    assert parts[1]["text"] == "k=hunter2-prod-key" and parts[2]["functionCall"]["args"] == {"a": ["alice@example.com"]}


def gen_stream(pieces):
    chunks = []
    for i, p in enumerate(pieces):
        cand = {"content": {"role": "model", "parts": [{"text": p}]}, "index": 0}
        meta = {"promptTokenCount": 31, "totalTokenCount": 31 + i}
        if i == len(pieces) - 1:
            cand["finishReason"] = "STOP"
            meta = {"promptTokenCount": 31, "candidatesTokenCount": 5, "thoughtsTokenCount": 12, "totalTokenCount": 48}
        chunks.append({"candidates": [cand], "usageMetadata": meta, "modelVersion": "gemini-3.5-flash", "responseId": "r1"})
    return sse(*chunks)


def stream_text(out: bytes) -> str:
    return "".join(part.get("text", "") for p in json_events(out) for c in p.get("candidates", [])
                   for part in c["content"]["parts"])


@pytest.mark.parametrize("pieces", [2, 3])
def test_placeholder_split_across_stream_chunks_is_restored_exactly(pieces):
    for parts in splits(MASKED, pieces):
        f = PlaceholderFilter()
        handler = G.stream_handler("generate", f, False)
        out = run(handler, gen_stream(parts))
        assert stream_text(out) == RESTORED, parts
        assert f.channels == ["cand:0"]
    assert (handler.usage.input_tokens, handler.usage.output_tokens) == (31, 17)
    assert handler.model == "gemini-3.5-flash"


def test_held_text_is_appended_to_the_finishing_chunk():
    out = run(G.stream_handler("generate", PlaceholderFilter(), False), gen_stream(["a [SECRET", "_X"]), end=False)
    last = json_events(out)[-1]
    assert last["candidates"][0]["content"]["parts"][0]["text"] == "[SECRET_X"
    assert stream_text(out) == "a [SECRET_X"


def test_stream_cut_before_finish_flushes_a_synthetic_chunk():
    body = sse({"candidates": [{"content": {"role": "model", "parts": [{"text": "x [EMAIL"}]}, "index": 0}]})
    out = run(G.stream_handler("generate", PlaceholderFilter(), False), body)
    assert stream_text(out) == "x [EMAIL"


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"),
     (429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (500, "INTERNAL")],
)
def test_error_body_uses_the_google_api_shape(status, name):
    err = json.loads(G.error_body(status, "Customs: denied", "budget_exceeded"))["error"]
    assert (err["code"], err["message"], err["status"]) == (status, "Customs: denied", name)
    assert err["details"][0]["reason"] == "budget_exceeded"


def test_credentials_follow_the_clients_form():
    h, q = {"x-goog-api-key": "cus_v"}, {"alt": "sse"}
    assert G.client_credential(h, q) == "cus_v"
    G.set_credential(h, q, "AIza-real")
    assert h == {"x-goog-api-key": "AIza-real"} and q == {"alt": "sse"}
    h, q = {}, {"key": "cus_v", "alt": "sse"}
    assert G.client_credential(h, q) == "cus_v"
    G.set_credential(h, q, "AIza-real")
    assert h == {} and q == {"key": "AIza-real", "alt": "sse"}
