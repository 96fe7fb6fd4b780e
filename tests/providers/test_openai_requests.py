"""OpenAI adapter: request text, validation, limits, usage, response rewriting, errors, keys."""
from __future__ import annotations

import copy
import json

import httpx
import openai
import pytest

from proxy.providers.base import get_at
from proxy.providers.openai import OpenAIAdapter

A = OpenAIAdapter()

CHAT = {
    "model": "gpt-5.1",
    "messages": [
        {"role": "developer", "content": "You are a code reviewer."},
        {"role": "user", "content": [
            {"type": "text", "text": "Review: DB_PASSWORD=hunter2"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "grep", "arguments": "{\"q\":\"hunter2\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "config.py:3: DB_PASSWORD=hunter2"},
        {"role": "assistant", "content": [{"type": "text", "text": "Found it."}, {"type": "refusal", "refusal": "no"}]},
    ],
    "tools": [{"type": "function", "function": {"name": "grep", "parameters": {"type": "object"}}}],
    "stream": True,
    "max_tokens": 1024,
}

RESPONSES = {
    "model": "gpt-5.1-codex",
    "instructions": "You are a coding agent.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Fix the leak of AKIAEXAMPLE"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}],
         "encrypted_content": "gAAAA-opaque"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_7", "name": "read", "arguments": "{\"p\":\".env\"}"},
        {"type": "function_call_output", "call_id": "call_7", "output": "API_KEY=sk-live-1"},
        {"type": "shell_call_output", "call_id": "call_8", "output": [{"stdout": "TOKEN=abc", "stderr": ""}]},
        {"type": "item_reference", "id": "msg_0"},
    ],
    "stream": True,
    "max_output_tokens": 800,
}


def texts(info):
    return [(s.path, s.text, s.role) for s in info.segments]


def test_chat_segments_cover_every_text_field_and_skip_images():
    info = A.parse("POST", "/v1/chat/completions", {}, copy.deepcopy(CHAT))
    assert info.endpoint == "chat" and info.model == "gpt-5.1" and info.stream is True
    assert texts(info) == [
        (("messages", 0, "content"), "You are a code reviewer.", "system"),
        (("messages", 1, "content", 0, "text"), "Review: DB_PASSWORD=hunter2", "user"),
        (("messages", 2, "tool_calls", 0, "function", "arguments"), "{\"q\":\"hunter2\"}", "assistant"),
        (("messages", 3, "content"), "config.py:3: DB_PASSWORD=hunter2", "tool"),
        (("messages", 4, "content", 0, "text"), "Found it.", "assistant"),
        (("messages", 4, "content", 1, "refusal"), "no", "assistant"),
    ]
    assert info.max_tokens == 1024


def test_chat_vendor_extension_fields_are_scanned():
    body = {"messages": [{"role": "assistant", "content": "ok", "reasoning_content": "the key is hunter2",
                          "copilot_references": [{"type": "file", "id": "f1", "data": {"content": "SECRET=1"}}]}]}
    got = {s.text for s in A.parse("POST", "/v1/chat/completions", {}, body).segments}
    assert got == {"ok", "the key is hunter2", "SECRET=1"}


def test_write_segments_round_trips_masked_text_into_the_body():
    body = copy.deepcopy(CHAT)
    info = A.parse("POST", "/v1/chat/completions", {}, body)
    for seg in info.segments:
        seg.text = seg.text.replace("hunter2", "[SECRET_X_1]")
    A.write_segments(body, info.segments)
    assert body["messages"][1]["content"][0]["text"] == "Review: DB_PASSWORD=[SECRET_X_1]"
    assert json.loads(body["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"q": "[SECRET_X_1]"}
    assert body["messages"][1]["content"][1] == CHAT["messages"][1]["content"][1]  # image untouched
    again = A.parse("POST", "/v1/chat/completions", {}, body)
    assert [get_at(body, s.path) for s in again.segments] == [s.text for s in again.segments]
    assert "hunter2" not in json.dumps(body)


def test_responses_segments_cover_items_and_leave_encrypted_reasoning_alone():
    info = A.parse("POST", "/v1/responses", {}, copy.deepcopy(RESPONSES))
    assert info.endpoint == "responses" and info.max_tokens == 800 and info.stream
    assert texts(info) == [
        (("instructions",), "You are a coding agent.", "instructions"),
        (("input", 0, "content", 0, "text"), "Fix the leak of AKIAEXAMPLE", "user"),
        (("input", 1, "content", 0, "text"), "Looking.", "assistant"),
        (("input", 3, "arguments"), "{\"p\":\".env\"}", "assistant"),
        (("input", 4, "output"), "API_KEY=sk-live-1", "tool"),
        (("input", 5, "output", 0, "stdout"), "TOKEN=abc", "tool"),
        (("input", 5, "output", 0, "stderr"), "", "tool"),
    ]


def test_responses_string_input_is_one_input_segment():
    info = A.parse("POST", "/v1/responses", {}, {"model": "m", "input": "hello"})
    assert texts(info) == [(("input",), "hello", "input")]


def test_completions_prompt_list_and_suffix_are_segments_but_token_arrays_are_not():
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": ["def add(a, b):\n", [1, 2, 3]], "suffix": "\n", "max_tokens": 32}
    info = A.parse("POST", "/v1/completions", {}, body)
    assert info.endpoint == "completions" and info.max_tokens == 32
    assert texts(info) == [(("prompt", 0), "def add(a, b):\n", "prompt"), (("suffix",), "\n", "suffix")]


def test_embeddings_inputs_are_segments():
    info = A.parse("POST", "/v1/embeddings", {}, {"model": "e", "input": ["a secret", [5, 6]]})
    assert info.endpoint == "embeddings" and texts(info) == [(("input", 0), "a secret", "input")]


def test_model_listing_needs_no_scan_and_unknown_posts_scan_every_string():
    listing = A.parse("GET", "/v1/models", {}, None)
    assert listing.endpoint == "other" and listing.scan_required is False
    other = A.parse("POST", "/v1/conversations", {}, {"items": [{"content": [{"text": "pw=hunter2"}]}], "n": 1})
    assert other.endpoint == "other" and other.scan_required is True
    assert [(s.path, s.text) for s in other.segments] == [(("items", 0, "content", 0, "text"), "pw=hunter2")]
    assert A.parse("POST", "/v2/anything", {}, {}) is None


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/v1/chat/completions", [], "JSON object"),
        ("/v1/chat/completions", {"model": "m"}, "messages"),
        ("/v1/chat/completions", {"messages": ["hi"]}, "messages[0]"),
        ("/v1/responses", {"model": "m"}, "input"),
        ("/v1/responses", {"input": 5}, "input"),
        ("/v1/completions", {"model": "m"}, "prompt"),
        ("/v1/completions", {"prompt": 7}, "prompt"),
        ("/v1/embeddings", {"model": "m"}, "input"),
        ("/v1/chat/completions", None, "JSON object"),
    ],
)
def test_invalid_bodies_raise_a_clear_value_error(path, body, needle):
    with pytest.raises(ValueError, match=None) as err:
        A.parse("POST", path, {}, body)
    assert needle in str(err.value)


def test_set_max_tokens_writes_the_field_the_client_used():
    legacy = {"messages": [], "max_tokens": 4000}
    A.set_max_tokens("chat", legacy, 1000)
    assert legacy == {"messages": [], "max_tokens": 1000}
    current = {"messages": []}
    A.set_max_tokens("chat", current, 500)
    assert current["max_completion_tokens"] == 500 and "max_tokens" not in current
    lower = {"messages": [], "max_completion_tokens": 100}
    A.set_max_tokens("chat", lower, 500)
    assert lower["max_completion_tokens"] == 100
    resp = {"input": "x"}
    A.set_max_tokens("responses", resp, 64)
    assert resp["max_output_tokens"] == 64
    comp = {"prompt": "x", "max_tokens": 16}
    A.set_max_tokens("completions", comp, 8)
    assert comp["max_tokens"] == 8


def test_ensure_stream_usage_adds_include_usage_once():
    body = {"messages": [], "stream": True, "stream_options": {"include_obfuscation": False}}
    assert A.ensure_stream_usage("chat", body) is True
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert A.ensure_stream_usage("chat", body) is False
    assert A.ensure_stream_usage("chat", {"messages": [], "stream": False}) is False
    assert A.ensure_stream_usage("responses", {"input": "x", "stream": True}) is False
    comp = {"prompt": "x", "stream": True}
    assert A.ensure_stream_usage("completions", comp) is True and comp["stream_options"]["include_usage"] is True


def test_usage_from_chat_responses_and_embeddings_bodies():
    chat = {"usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129,
                      "prompt_tokens_details": {"cached_tokens": 64}}}
    u = A.usage_from_body("chat", chat)
    assert (u.input_tokens, u.output_tokens, u.cached_tokens) == (120, 9, 64)
    r = A.usage_from_body("responses", {"usage": {"input_tokens": 900, "output_tokens": 40,
                                                  "input_tokens_details": {"cached_tokens": 512}}})
    assert (r.input_tokens, r.output_tokens, r.cached_tokens) == (900, 40, 512)
    e = A.usage_from_body("embeddings", {"usage": {"prompt_tokens": 8, "total_tokens": 8}})
    assert (e.input_tokens, e.output_tokens) == (8, 0)
    assert A.usage_from_body("chat", {"choices": []}) is None


def restore(text: str) -> str:
    return text.replace("[SECRET_X_1]", "hunter2")


def test_rewrite_response_restores_chat_completion_and_tool_arguments():
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "use [SECRET_X_1]",
                                                  "tool_calls": [{"id": "c", "type": "function", "function": {
                                                      "name": "f", "arguments": "{\"k\":\"[SECRET_X_1]\"}"}}]}}]}
    A.rewrite_response("chat", body, restore)
    msg = body["choices"][0]["message"]
    assert msg["content"] == "use hunter2" and msg["tool_calls"][0]["function"]["arguments"] == "{\"k\":\"hunter2\"}"


def test_rewrite_response_restores_completions_and_responses_output():
    comp = {"choices": [{"index": 0, "text": "x=[SECRET_X_1]"}]}
    A.rewrite_response("completions", comp, restore)
    assert comp["choices"][0]["text"] == "x=hunter2"
    resp = {"output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "[SECRET_X_1]"}]},
        {"type": "message", "content": [{"type": "output_text", "text": "k=[SECRET_X_1]"}]},
        {"type": "function_call", "arguments": "{\"a\":\"[SECRET_X_1]\"}"},
    ], "output_text": "k=[SECRET_X_1]"}
    A.rewrite_response("responses", resp, restore)
    assert resp["output"][1]["content"][0]["text"] == "k=hunter2"
    assert resp["output"][2]["arguments"] == "{\"a\":\"hunter2\"}"
    assert resp["output_text"] == "k=hunter2"
    assert resp["output"][0]["summary"][0]["text"] == "[SECRET_X_1]"  # reasoning is not model output text


def sdk_error(status: int, body: bytes) -> openai.APIStatusError:
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1",
                           http_client=httpx.Client(transport=httpx.MockTransport(
                               lambda req: httpx.Response(status, content=body, headers={"content-type": "application/json"}))),
                           max_retries=0)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    return err.value


@pytest.mark.parametrize(
    ("status", "code", "exc", "etype"),
    [
        (400, "invalid_request", openai.BadRequestError, "invalid_request_error"),
        (401, "invalid_api_key", openai.AuthenticationError, "authentication_error"),
        (403, "policy_denied", openai.PermissionDeniedError, "permission_error"),
        (404, "", openai.NotFoundError, "not_found_error"),
        (413, "body_too_large", openai.APIStatusError, "invalid_request_error"),
        (429, "budget_exceeded", openai.RateLimitError, "rate_limit_error"),
        (429, "insufficient_quota", openai.RateLimitError, "insufficient_quota"),
        (503, "policy_unavailable", openai.InternalServerError, "api_error"),
    ],
)
def test_error_bodies_raise_the_matching_openai_sdk_exception(status, code, exc, etype):
    err = sdk_error(status, A.error_body(status, "Customs: blocked by policy", code))
    assert isinstance(err, exc)
    assert err.body["type"] == etype and err.body["message"] == "Customs: blocked by policy"
    assert err.code == (code or None) and err.body["param"] is None


def test_bearer_credential_is_read_and_replaced():
    headers = {"authorization": "Bearer cus_virtual", "content-type": "application/json"}
    assert A.client_credential(headers, {}) == "cus_virtual"
    A.set_credential(headers, {}, "sk-real")
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Bearer sk-real"
    assert "cus_virtual" not in json.dumps(headers)
    assert A.client_credential({"Authorization": "Basic abc"}, {}) is None
