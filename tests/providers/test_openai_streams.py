"""OpenAI stream handlers: placeholders split across events are restored exactly; usage is read."""
from __future__ import annotations

import json

import httpx
import openai
import pytest

from proxy.providers.openai import OpenAIAdapter
from tests.providers.streams import PlaceholderFilter, events, json_events, run, splits, sse

A = OpenAIAdapter()
MASKED = "Rotate [SECRET_X_1] and tell [EMAIL_1]."
RESTORED = "Rotate hunter2-prod-key and tell alice@example.com."
USAGE = {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129, "prompt_tokens_details": {"cached_tokens": 64}}


def chunk(delta=None, finish=None, index=0, usage=None, choices=None):
    c = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1795000000, "model": "gpt-5.1"}
    c["choices"] = choices if choices is not None else [{"index": index, "delta": delta or {}, "finish_reason": finish}]
    c["usage"] = usage
    return c


def chat_stream(pieces, usage=True):
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": p}) for p in pieces]
    chunks.append(chunk({}, finish="stop"))
    if usage:
        chunks.append(chunk(choices=[], usage=USAGE))
    return sse(*chunks, "[DONE]")


def chat_text(body: bytes) -> str:
    out = []
    for obj in json_events(body):
        if isinstance(obj, dict):
            for c in obj.get("choices", []):
                out.append((c.get("delta") or {}).get("content") or "")
    return "".join(out)


@pytest.mark.parametrize("pieces", [2, 3])
def test_placeholder_split_across_chat_chunks_is_restored_exactly(pieces):
    for parts in splits(MASKED, pieces):
        f = PlaceholderFilter()
        handler = A.stream_handler("chat", f, drop_usage_chunk=False)
        out = run(handler, chat_stream(parts))
        assert chat_text(out) == RESTORED, parts
        assert out.endswith(b"data: [DONE]\n\n")
        assert f.channels == ["choice:0"]


def test_held_text_is_emitted_in_the_finish_chunk_before_done():
    f = PlaceholderFilter()
    out = run(A.stream_handler("chat", f, False), chat_stream(["key: [SECRET_X"]), end=False)
    payloads = json_events(out)
    finish = [p for p in payloads if isinstance(p, dict) and p["choices"] and p["choices"][0]["finish_reason"]][0]
    # The filter could not know "[SECRET_X" is not a placeholder until the choice finished.
    assert finish["choices"][0]["delta"]["content"] == "[SECRET_X"
    assert chat_text(out) == "key: [SECRET_X"


def test_unchanged_chunks_pass_through_byte_for_byte():
    body = chat_stream(["plain ", "text"])
    out = run(A.stream_handler("chat", PlaceholderFilter(), False), body)
    assert out == body


def test_usage_from_final_chunk_and_drop_usage_chunk_swallows_it():
    handler = A.stream_handler("chat", PlaceholderFilter(), drop_usage_chunk=True)
    out = run(handler, chat_stream(["hi"]))
    assert (handler.usage.input_tokens, handler.usage.output_tokens, handler.usage.cached_tokens) == (120, 9, 64)
    assert b'"usage":{"prompt_tokens"' not in out and b"prompt_tokens" not in out
    assert out.endswith(b"data: [DONE]\n\n") and handler.model == "gpt-5.1"
    kept = run(A.stream_handler("chat", PlaceholderFilter(), drop_usage_chunk=False), chat_stream(["hi"]))
    assert b"prompt_tokens" in kept


def test_tool_call_arguments_split_across_chunks_are_restored():
    args = '{"token":"[SECRET_X_1]"}'
    chunks = [chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]})]
    for part in (args[:12], args[12:17], args[17:]):
        chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
    chunks.append(chunk({}, finish="tool_calls"))
    f = PlaceholderFilter()
    out = run(A.stream_handler("chat", f, False), sse(*chunks, "[DONE]"))
    got = "".join(tc["function"].get("arguments", "")
                  for p in json_events(out) if isinstance(p, dict)
                  for c in p["choices"] for tc in c["delta"].get("tool_calls", []))
    assert json.loads(got) == {"token": "hunter2-prod-key"}
    assert "tool:0:0" in f.channels


def test_azure_filter_results_chunk_and_deltaless_chunks_are_tolerated():
    first = {"choices": [], "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}], "id": "", "model": ""}
    no_delta = {"id": "c", "choices": [{"index": 0, "finish_reason": None, "content_filter_offsets": {"start_offset": 0}}]}
    body = sse(first, chunk({"content": "a [SECRET"}), no_delta, chunk({"content": "_X_1] b"}), chunk({}, finish="stop"), "[DONE]")
    out = run(A.stream_handler("chat", PlaceholderFilter(), drop_usage_chunk=True), body)
    assert chat_text(out) == "a hunter2-prod-key b"
    assert json_events(out)[0] == first  # prompt_filter_results chunk kept (it carries no usage)


def test_stream_cut_before_finish_flushes_held_text_at_end():
    body = sse(chunk({"content": "tail [SECRET_"}))
    out = run(A.stream_handler("chat", PlaceholderFilter(), False), body)
    assert chat_text(out) == "tail [SECRET_"


def test_two_choices_use_separate_channels():
    body = sse(
        chunk(choices=[{"index": 0, "delta": {"content": "[SECRET"}, "finish_reason": None},
                       {"index": 1, "delta": {"content": "[EMA"}, "finish_reason": None}]),
        chunk(choices=[{"index": 1, "delta": {"content": "IL_1]"}, "finish_reason": "stop"}]),
        chunk(choices=[{"index": 0, "delta": {"content": "_X_1]"}, "finish_reason": "stop"}]),
        "[DONE]",
    )
    out = run(A.stream_handler("chat", PlaceholderFilter(), False), body)
    per = {0: "", 1: ""}
    for p in json_events(out):
        if isinstance(p, dict):
            for c in p["choices"]:
                per[c["index"]] += c["delta"].get("content") or ""
    assert per == {0: "hunter2-prod-key", 1: "alice@example.com"}


def test_legacy_completion_stream_restores_text_and_reads_usage():
    parts = ["x = '[SECR", "ET_X_1]'", "\n"]
    chunks = [{"id": "cmpl-1", "model": "gpt-41-copilot", "choices": [{"index": 0, "text": p, "finish_reason": None}]} for p in parts]
    chunks[-1]["choices"][0]["finish_reason"] = "stop"
    chunks[-1]["usage"] = {"prompt_tokens": 852, "completion_tokens": 6, "total_tokens": 858}
    handler = A.stream_handler("completions", PlaceholderFilter(), False)
    out = run(handler, sse(*chunks, "[DONE]"))
    text = "".join(c["text"] for p in json_events(out) if isinstance(p, dict) for c in p["choices"])
    assert text == "x = 'hunter2-prod-key'\n"
    assert (handler.usage.input_tokens, handler.usage.output_tokens) == (852, 6)


# -- Responses


def resp_event(etype, seq, **fields):
    return {"type": etype, "sequence_number": seq, **fields}


def responses_stream(pieces, masked=MASKED):
    evs = [resp_event("response.created", 0, response={"id": "resp_1", "model": "gpt-5.1-codex", "status": "in_progress", "usage": None, "output": []}),
           resp_event("response.output_item.added", 1, output_index=0, item={"id": "msg_1", "type": "message", "content": []}),
           resp_event("response.content_part.added", 2, item_id="msg_1", output_index=0, content_index=0,
                      part={"type": "output_text", "text": "", "annotations": []})]
    seq = 3
    for p in pieces:
        evs.append(resp_event("response.output_text.delta", seq, item_id="msg_1", output_index=0, content_index=0, delta=p, logprobs=[]))
        seq += 1
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": masked, "annotations": []}]}
    evs += [
        resp_event("response.output_text.done", seq, item_id="msg_1", output_index=0, content_index=0, text=masked, logprobs=[]),
        resp_event("response.content_part.done", seq + 1, item_id="msg_1", output_index=0, content_index=0,
                   part={"type": "output_text", "text": masked, "annotations": []}),
        resp_event("response.output_item.done", seq + 2, output_index=0, item=item),
        resp_event("response.completed", seq + 3, response={
            "id": "resp_1", "model": "gpt-5.1-codex", "status": "completed", "output": [item],
            "usage": {"input_tokens": 900, "input_tokens_details": {"cached_tokens": 512}, "output_tokens": 40,
                      "output_tokens_details": {"reasoning_tokens": 16}, "total_tokens": 940}}),
    ]
    return sse(*evs, event_names=True)


@pytest.mark.parametrize("pieces", [2, 3])
def test_responses_deltas_split_placeholders_restore_and_done_events_carry_full_text(pieces):
    for parts in splits(MASKED, pieces):
        handler = A.stream_handler("responses", PlaceholderFilter(), False)
        out = run(handler, responses_stream(parts))
        evs = events(out)
        payloads = [json.loads(e.data) for e in evs]
        deltas = "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta")
        assert deltas == RESTORED, parts
        done = next(p for p in payloads if p["type"] == "response.output_text.done")
        assert done["text"] == RESTORED
        assert next(p for p in payloads if p["type"] == "response.content_part.done")["part"]["text"] == RESTORED
        assert next(p for p in payloads if p["type"] == "response.output_item.done")["item"]["content"][0]["text"] == RESTORED
        completed = payloads[-1]
        assert completed["response"]["output"][0]["content"][0]["text"] == RESTORED
        assert all(e.event == json.loads(e.data)["type"] for e in evs)
    assert (handler.usage.input_tokens, handler.usage.output_tokens, handler.usage.cached_tokens) == (900, 40, 512)
    assert handler.model == "gpt-5.1-codex"


def test_responses_flushed_remainder_is_a_delta_before_the_done_event():
    out = run(A.stream_handler("responses", PlaceholderFilter(), False), responses_stream(["ends with [SECRET_X"], masked="ends with [SECRET_X"))
    types = [json.loads(e.data)["type"] for e in events(out)]
    i = types.index("response.output_text.done")
    assert types[i - 1] == "response.output_text.delta"
    assert json.loads(events(out)[i - 1].data)["delta"] == "[SECRET_X"


def test_responses_function_call_arguments_are_restored():
    args = '{"cmd":"echo [SECRET_X_1]"}'
    body = sse(
        resp_event("response.function_call_arguments.delta", 1, item_id="fc_1", output_index=1, delta=args[:18]),
        resp_event("response.function_call_arguments.delta", 2, item_id="fc_1", output_index=1, delta=args[18:]),
        resp_event("response.function_call_arguments.done", 3, item_id="fc_1", output_index=1, arguments=args),
        event_names=True,
    )
    out = run(A.stream_handler("responses", PlaceholderFilter(), False), body)
    payloads = [json.loads(e.data) for e in events(out)]
    deltas = "".join(p["delta"] for p in payloads if p["type"].endswith(".delta"))
    assert json.loads(deltas) == {"cmd": "echo hunter2-prod-key"}
    assert json.loads(payloads[-1]["arguments"]) == {"cmd": "echo hunter2-prod-key"}


# -- The real SDK reads what the handlers emit


def sdk_client(body: bytes) -> openai.OpenAI:
    transport = httpx.MockTransport(lambda req: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    return openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1",
                         http_client=httpx.Client(transport=transport), max_retries=0)


def test_openai_sdk_reassembles_the_restored_chat_stream():
    out = run(A.stream_handler("chat", PlaceholderFilter(), drop_usage_chunk=True), chat_stream(["Rotate [SEC", "RET_X_1] and tell [EMAIL_1]."]))
    stream = sdk_client(out).chat.completions.create(model="gpt-5.1", messages=[{"role": "user", "content": "x"}], stream=True)
    text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
    assert text == RESTORED


def test_openai_sdk_responses_stream_final_text_is_restored():
    out = run(A.stream_handler("responses", PlaceholderFilter(), False), responses_stream(["Rotate [SECRET_", "X_1] and tell [EMAIL_1]."]))
    with sdk_client(out).responses.stream(model="gpt-5.1-codex", input="x") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == RESTORED and final.output_text == RESTORED


def test_mid_stream_error_event_makes_the_openai_sdk_raise():
    for endpoint in ("chat", "responses"):
        err = A.stream_error_event_for(endpoint, "Customs: secret in output", "output_blocked")
        body = sse(chunk({"content": "partial"})) + err.encode()
        stream = sdk_client(body).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        with pytest.raises(openai.APIError, match="Customs: secret in output"):
            list(stream)
