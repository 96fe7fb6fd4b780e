"""Anthropic adapter: Messages text, signed blocks left alone, cumulative usage, stream restore."""
from __future__ import annotations

import copy
import json

import anthropic
import httpx2 as httpx  # the anthropic SDK runs on httpx2
import pytest

from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import get_at
from tests.providers.streams import PlaceholderFilter, events, run, splits, sse

A = AnthropicAdapter()
MASKED = "Rotate [SECRET_X_1] and tell [EMAIL_1]."
RESTORED = "Rotate hunter2-prod-key and tell alice@example.com."

BODY = {
    "model": "claude-opus-5-5",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "You are a careful engineer.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Why does login fail? token=ghp_EXAMPLE"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "DB_URL=postgres://u:p@h"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "the token ghp_EXAMPLE is leaked", "signature": "EqQBsig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": ".env", "opts": {"tags": ["a"]}}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "API_KEY=sk-live-1"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "line 2"}]},
        ]},
        {"role": "assistant", "content": "plain string reply"},
    ],
    "stream": True,
}


def test_segments_cover_system_blocks_tools_and_text_documents():
    info = A.parse("POST", "/v1/messages", {}, copy.deepcopy(BODY))
    assert info.endpoint == "messages" and info.model == "claude-opus-5-5" and info.stream and info.max_tokens == 2048
    assert [(s.path, s.text, s.role) for s in info.segments] == [
        (("system", 0, "text"), "You are a careful engineer.", "system"),
        (("messages", 0, "content", 0, "text"), "Why does login fail? token=ghp_EXAMPLE", "user"),
        (("messages", 0, "content", 2, "source", "data"), "DB_URL=postgres://u:p@h", "user"),
        (("messages", 1, "content", 2, "input", "path"), ".env", "assistant"),
        (("messages", 1, "content", 2, "input", "opts", "tags", 0), "a", "assistant"),
        (("messages", 2, "content", 0, "content"), "API_KEY=sk-live-1", "tool"),
        (("messages", 2, "content", 1, "content", 0, "text"), "line 2", "tool"),
        (("messages", 3, "content"), "plain string reply", "assistant"),
    ]


def test_thinking_blocks_and_base64_sources_are_never_rewritten():
    body = copy.deepcopy(BODY)
    info = A.parse("POST", "/v1/messages", {}, body)
    for s in info.segments:
        s.text = s.text.replace("ghp_EXAMPLE", "[SECRET_X_1]")
    A.write_segments(body, info.segments)
    assert body["messages"][0]["content"][0]["text"].endswith("[SECRET_X_1]")
    assert body["messages"][1]["content"][0] == BODY["messages"][1]["content"][0]
    assert body["messages"][1]["content"][1] == BODY["messages"][1]["content"][1]
    assert body["messages"][0]["content"][1] == BODY["messages"][0]["content"][1]
    assert [get_at(body, s.path) for s in info.segments] == [s.text for s in info.segments]


def test_system_string_and_count_tokens_need_no_max_tokens():
    info = A.parse("POST", "/v1/messages/count_tokens", {}, {"model": "m", "system": "be terse",
                                                            "messages": [{"role": "user", "content": "hi"}]})
    assert info.endpoint == "count_tokens" and info.max_tokens is None and not info.stream
    assert [(s.path, s.role) for s in info.segments] == [(("system",), "system"), (("messages", 0, "content"), "user")]
    assert A.usage_from_body("count_tokens", {"input_tokens": 12}) is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 10}, "messages"),
        ({"model": "m", "max_tokens": 10, "messages": ["hi"]}, "messages.0"),
        ("not an object", "JSON object"),
    ],
)
def test_invalid_message_bodies_raise_value_error(body, needle):
    with pytest.raises(ValueError) as err:
        A.parse("POST", "/v1/messages", {}, body)
    assert needle in str(err.value)


def test_other_paths_and_gets():
    assert A.parse("GET", "/v1/models", {}, None).scan_required is False
    other = A.parse("POST", "/v1/messages/batches", {}, {"requests": [{"params": {"messages": [{"content": "x"}]}}]})
    assert other.endpoint == "other" and [s.text for s in other.segments] == ["x"]
    assert A.parse("POST", "/api/x", {}, {}) is None


def test_set_max_tokens_caps_only_downwards():
    body = {"max_tokens": 4096}
    A.set_max_tokens("messages", body, 1000)
    assert body["max_tokens"] == 1000
    A.set_max_tokens("messages", body, 5000)
    assert body["max_tokens"] == 1000


def test_usage_from_body_includes_cache_tokens_in_input():
    u = A.usage_from_body("messages", {"usage": {"input_tokens": 20, "cache_creation_input_tokens": 100,
                                                 "cache_read_input_tokens": 1000, "output_tokens": 42}})
    assert (u.input_tokens, u.output_tokens, u.cached_tokens) == (1120, 42, 1000)


def test_rewrite_response_restores_text_and_tool_input_but_not_thinking():
    body = {"content": [{"type": "thinking", "thinking": "[SECRET_X_1]", "signature": "s"},
                        {"type": "text", "text": "use [SECRET_X_1]"},
                        {"type": "tool_use", "id": "t", "name": "n", "input": {"k": ["[SECRET_X_1]"]}}]}
    A.rewrite_response("messages", body, PlaceholderFilter().full)
    assert body["content"][0]["thinking"] == "[SECRET_X_1]"
    assert body["content"][1]["text"] == "use hunter2-prod-key"
    assert body["content"][2]["input"] == {"k": ["hunter2-prod-key"]}


# -- Streams


def message_stream(pieces, tool_pieces=()):
    evs = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-5-5",
                                               "content": [], "stop_reason": None, "stop_sequence": None,
                                               "usage": {"input_tokens": 1520, "cache_creation_input_tokens": 0,
                                                         "cache_read_input_tokens": 1024, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    evs += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces]
    evs.append({"type": "content_block_stop", "index": 0})
    if tool_pieces:
        evs.append({"type": "content_block_start", "index": 1,
                    "content_block": {"type": "tool_use", "id": "toolu_1", "name": "run", "input": {}}})
        evs += [{"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": p}}
                for p in tool_pieces]
        evs.append({"type": "content_block_stop", "index": 1})
    evs += [
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 20}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 42}},
        {"type": "message_stop"},
    ]
    return sse(*evs, event_names=True)


def block_text(out: bytes, index: int = 0) -> str:
    text = ""
    for ev in events(out):
        p = json.loads(ev.data)
        if p["type"] == "content_block_delta" and p["index"] == index:
            text += p["delta"].get("text") or p["delta"].get("partial_json") or ""
    return text


@pytest.mark.parametrize("pieces", [2, 3])
def test_placeholder_split_across_text_deltas_is_restored_exactly(pieces):
    for parts in splits(MASKED, pieces):
        f = PlaceholderFilter()
        out = run(A.stream_handler("messages", f, False), message_stream(parts))
        assert block_text(out) == RESTORED, parts
        assert f.channels == ["block:0"]


def test_flushed_text_is_a_synthetic_delta_before_content_block_stop():
    out = run(A.stream_handler("messages", PlaceholderFilter(), False), message_stream(["ends [SECRET_X"]))
    names = [e.event for e in events(out)]
    stop = names.index("content_block_stop")
    assert names[stop - 1] == "content_block_delta"
    assert json.loads(events(out)[stop - 1].data)["delta"] == {"type": "text_delta", "text": "[SECRET_X"}
    assert names[-1] == "message_stop" and "ping" in names


def test_tool_input_json_split_across_deltas_is_restored():
    args = '{"cmd": "deploy --token [SECRET_X_1]"}'
    f = PlaceholderFilter()
    out = run(A.stream_handler("messages", f, False), message_stream(["ok"], [args[:25], args[25:30], args[30:]]))
    assert json.loads(block_text(out, 1)) == {"cmd": "deploy --token hunter2-prod-key"}
    assert f.channels == ["block:0", "block:1"]


def test_stream_usage_takes_input_from_start_and_the_last_cumulative_output():
    handler = A.stream_handler("messages", PlaceholderFilter(), False)
    run(handler, message_stream(["hi"]))
    assert (handler.usage.input_tokens, handler.usage.output_tokens, handler.usage.cached_tokens) == (2544, 42, 1024)
    assert handler.model == "claude-opus-5-5"


def test_thinking_deltas_pass_untouched():
    body = sse({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "[SECRET_X_1]"}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}},
               event_names=True)
    assert run(A.stream_handler("messages", PlaceholderFilter(), False), body) == body


def sdk(status: int, body: bytes, ctype: str = "application/json") -> anthropic.Anthropic:
    transport = httpx.MockTransport(lambda req: httpx.Response(status, content=body, headers={"content-type": ctype}))
    return anthropic.Anthropic(api_key="sk-ant-test", base_url="http://127.0.0.1:9",
                               http_client=httpx.Client(transport=transport), max_retries=0)


def test_anthropic_sdk_accumulates_the_restored_stream():
    out = run(A.stream_handler("messages", PlaceholderFilter(), False),
              message_stream(["Rotate [SECRET_X", "_1] and tell [EMA", "IL_1]."], ['{"cmd": "[SECRET_X_1', ']"}']))
    client = sdk(200, out, "text/event-stream")
    with client.messages.stream(model="claude-opus-5-5", max_tokens=100, messages=[{"role": "user", "content": "x"}]) as s:
        message = s.get_final_message()
    assert message.content[0].text == RESTORED
    assert message.content[1].input == {"cmd": "hunter2-prod-key"}
    assert message.usage.output_tokens == 42


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.APIStatusError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.APIStatusError, "overloaded_error"),
    ],
)
def test_error_bodies_raise_the_matching_anthropic_sdk_exception(status, exc, etype):
    with pytest.raises(exc) as err:
        sdk(status, A.error_body(status, "Customs: denied")).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == status
    assert err.value.body == {"type": "error", "error": {"type": etype, "message": "Customs: denied"}}


def test_mid_stream_error_event_makes_the_anthropic_sdk_raise():
    body = message_stream(["partial"]).split(b"event: content_block_stop")[0] + A.stream_error_event("Customs: stopped").encode()
    with pytest.raises(anthropic.APIStatusError, match="Customs: stopped"):
        with sdk(200, body, "text/event-stream").messages.stream(
                model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
            s.get_final_message()


def test_credential_is_written_back_in_the_form_the_client_used():
    xkey = {"X-Api-Key": "cus_virtual", "anthropic-version": "2023-06-01"}
    assert A.client_credential(xkey, {}) == "cus_virtual"
    A.set_credential(xkey, {}, "sk-ant-real")
    assert xkey == {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-real"}
    bearer = {"Authorization": "Bearer cus_virtual"}
    assert A.client_credential(bearer, {}) == "cus_virtual"
    A.set_credential(bearer, {}, "sk-ant-real")
    assert bearer == {"Authorization": "Bearer sk-ant-real"}
