"""OpenAI wire format: chat completions, Responses, legacy completions and embeddings.

Azure OpenAI, OpenAI-compatible servers and Copilot reuse this module: they subclass or
hold an `OpenAIAdapter` and only change how paths and credentials are read.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, ClassVar

from proxy.exchange import JsonPath, Segment, Usage
from proxy.providers.base import (
    PassThroughStream,
    ProviderAdapter,
    RequestInfo,
    SseEvent,
    StreamHandler,
    TextFilter,
    as_int,
    bearer_token,
    cap,
    header_set,
    json_event,
    parse_json_event,
    require_object,
    set_json_data,
    string_leaves,
    text_leaves,
)

ENDPOINT_PATHS: dict[str, str] = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    # Token counting for a Responses request: same body, no usage in the answer.
    "/v1/responses/input_tokens": "count_tokens",
}

# Keys that hold ids, enums or opaque payloads, never prose: skipped when an unknown item's
# strings are scanned (masking an id or a signature would break the request).
OPAQUE_KEYS = frozenset(
    {
        "type", "id", "call_id", "item_id", "tool_call_id", "tool_use_id", "file_id",
        "approval_request_id", "previous_response_id", "role", "status", "encrypted_content",
        "signature", "cache_control", "copilot_cache_control", "image_url", "input_audio",
        "file", "file_data", "detail", "format", "mime_type", "media_type",
    }
)

_CHAT_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
# Message keys handled explicitly (or deliberately skipped) in a chat message.
_CHAT_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "function_call", "refusal", "name", "tool_call_id"})
# Content part types that carry no text (images, audio, files are binary or references).
_BINARY_PARTS = frozenset({"image_url", "input_audio", "file", "input_image", "input_file", "input_audio_file"})

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def _role(role: Any) -> str:
    return _CHAT_ROLES.get(role, "user") if isinstance(role, str) else "user"


# ---------------------------------------------------------------------------------------------
# Request text


def content_segments(content: Any, path: JsonPath, role: str) -> Iterator[Segment]:
    """Text of a message `content`: a string, or parts whose `text`/`refusal` is prose."""
    if isinstance(content, str):
        yield Segment(path, content, role)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, str):
                yield Segment(path + (j,), part, role)
            elif isinstance(part, dict):
                ptype = part.get("type") if isinstance(part.get("type"), str) else ""
                if ptype in _BINARY_PARTS:
                    continue
                if isinstance(part.get("text"), str):
                    yield Segment(path + (j, "text"), part["text"], role)
                elif isinstance(part.get("refusal"), str):
                    yield Segment(path + (j, "refusal"), part["refusal"], role)
                else:
                    for p, text in text_leaves(part, path + (j,), OPAQUE_KEYS):
                        yield Segment(p, text, role)
    elif isinstance(content, dict):
        for p, text in text_leaves(content, path, OPAQUE_KEYS):
            yield Segment(p, text, role)


def chat_segments(body: dict[str, Any]) -> list[Segment]:
    """Every text field of a chat-completions request."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("'messages' must be a list of message objects")
    segs: list[Segment] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"messages[{i}] must be an object")
        role = _role(msg.get("role"))
        base: JsonPath = ("messages", i)
        segs.extend(content_segments(msg.get("content"), base + ("content",), role))
        if isinstance(msg.get("refusal"), str):
            segs.append(Segment(base + ("refusal",), msg["refusal"], role))
        tool_calls = msg.get("tool_calls")
        if isinstance(tool_calls, list):
            for j, call in enumerate(tool_calls):
                # function.arguments for function tools, custom.input for custom tools.
                for p, text in text_leaves(call, base + ("tool_calls", j), OPAQUE_KEYS | {"name"}):
                    segs.append(Segment(p, text, "assistant"))
        call = msg.get("function_call")
        if isinstance(call, dict) and isinstance(call.get("arguments"), str):
            segs.append(Segment(base + ("function_call", "arguments"), call["arguments"], "assistant"))
        # Vendor extensions (reasoning_content, copilot_references, ...) may carry prose too.
        for key, value in msg.items():
            if key not in _CHAT_MESSAGE_KEYS:
                for p, text in text_leaves(value, base + (key,), OPAQUE_KEYS):
                    segs.append(Segment(p, text, role))
    prediction = body.get("prediction")
    if isinstance(prediction, dict):
        segs.extend(content_segments(prediction.get("content"), ("prediction", "content"), "input"))
    return segs


def _item_segments(item: Any, path: JsonPath) -> Iterator[Segment]:
    """Text of one Responses input item."""
    if isinstance(item, str):
        yield Segment(path, item, "input")
        return
    if not isinstance(item, dict):
        raise ValueError(f"input item {path[-1]} must be an object or a string")
    itype = item.get("type")
    if itype == "message" or (itype is None and "role" in item):
        yield from content_segments(item.get("content"), path + ("content",), _role(item.get("role")))
    elif itype == "reasoning":
        # Opaque reasoning state is signed/encrypted by the provider: never edited.
        if "encrypted_content" in item:
            return
        for p, text in text_leaves(item, path, OPAQUE_KEYS):
            yield Segment(p, text, "assistant")
    elif itype == "function_call":
        if isinstance(item.get("arguments"), str):
            yield Segment(path + ("arguments",), item["arguments"], "assistant")
    elif itype == "custom_tool_call":
        if isinstance(item.get("input"), str):
            yield Segment(path + ("input",), item["input"], "assistant")
    elif itype in ("function_call_output", "custom_tool_call_output"):
        yield from content_segments(item.get("output"), path + ("output",), "tool")
    elif itype == "item_reference":
        return
    else:
        role = "tool" if isinstance(itype, str) and itype.endswith("_output") else "input"
        for p, text in text_leaves(item, path, OPAQUE_KEYS | {"name"}):
            yield Segment(p, text, role)


def responses_segments(body: dict[str, Any]) -> list[Segment]:
    """Every text field of a Responses request: instructions, input items, prompt variables."""
    if "input" not in body:
        raise ValueError("'input' is required (a string or a list of input items)")
    segs: list[Segment] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        segs.append(Segment(("instructions",), instructions, "instructions"))
    elif isinstance(instructions, list):
        for i, item in enumerate(instructions):
            segs.extend(_item_segments(item, ("instructions", i)))
    data = body["input"]
    if isinstance(data, str):
        segs.append(Segment(("input",), data, "input"))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            segs.extend(_item_segments(item, ("input", i)))
    elif data is not None:
        raise ValueError("'input' must be a string or a list of input items")
    prompt = body.get("prompt")
    if isinstance(prompt, dict) and isinstance(prompt.get("variables"), dict):
        for p, text in text_leaves(prompt["variables"], ("prompt", "variables"), OPAQUE_KEYS):
            segs.append(Segment(p, text, "input"))
    return segs


def _strings_or_tokens(value: Any, path: JsonPath, role: str, field: str) -> list[Segment]:
    """A string or a list of strings; token arrays carry no text."""
    if isinstance(value, str):
        return [Segment(path, value, role)]
    if isinstance(value, list):
        return [Segment(path + (i,), v, role) for i, v in enumerate(value) if isinstance(v, str)]
    raise ValueError(f"'{field}' must be a string, a list of strings or token arrays")


def completions_segments(body: dict[str, Any]) -> list[Segment]:
    """`prompt` and `suffix` of a legacy completions request."""
    if "prompt" not in body:
        raise ValueError("'prompt' is required")
    segs = _strings_or_tokens(body["prompt"], ("prompt",), "prompt", "prompt")
    if isinstance(body.get("suffix"), str):
        segs.append(Segment(("suffix",), body["suffix"], "suffix"))
    return segs


def embeddings_segments(body: dict[str, Any]) -> list[Segment]:
    """`input` of an embeddings request."""
    if "input" not in body:
        raise ValueError("'input' is required")
    return _strings_or_tokens(body["input"], ("input",), "input", "input")


def generic_request(method: str, body: Any) -> RequestInfo:
    """An endpoint we do not model: no body means nothing to scan, else every string is scanned."""
    if method.upper() not in ("POST", "PUT", "PATCH") or body is None:
        return RequestInfo(endpoint="other", scan_required=False)
    if isinstance(body, str):
        raise ValueError("request body must be a JSON object or array")  # a bare string cannot be masked in place
    segs = [Segment(p, text, "input") for p, text in string_leaves(body)]
    model = body.get("model") if isinstance(body, dict) else None
    return RequestInfo(endpoint="other", model=model if isinstance(model, str) else "", segments=segs)


# ---------------------------------------------------------------------------------------------
# Usage


def chat_usage(u: Any) -> Usage | None:
    """Usage in the chat/completions/embeddings shape (`prompt_tokens`, `completion_tokens`)."""
    if not isinstance(u, dict):
        return None
    details = u.get("prompt_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else None
    return Usage(
        input_tokens=as_int(u.get("prompt_tokens")) or 0,
        output_tokens=as_int(u.get("completion_tokens")) or 0,
        cached_tokens=cached or 0,
    )


def responses_usage(u: Any) -> Usage | None:
    """Usage in the Responses shape (`input_tokens`, `output_tokens`)."""
    if not isinstance(u, dict):
        return None
    details = u.get("input_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else None
    return Usage(
        input_tokens=as_int(u.get("input_tokens")) or 0,
        output_tokens=as_int(u.get("output_tokens")) or 0,
        cached_tokens=cached or 0,
    )


# ---------------------------------------------------------------------------------------------
# Response text


def _apply(container: Any, key: str | int, fn: Callable[[str], str]) -> bool:
    """Apply `fn` to a string at container[key] in place; True if it changed."""
    try:
        value = container[key]
    except (KeyError, IndexError, TypeError):
        return False
    if not isinstance(value, str):
        return False
    new = fn(value)
    if new != value:
        container[key] = new
        return True
    return False


def rewrite_output_item(item: Any, fn: Callable[[str], str]) -> bool:
    """Apply `fn` to the model-written text of one Responses output item; True if changed."""
    if not isinstance(item, dict):
        return False
    changed = False
    itype = item.get("type")
    if itype == "message":
        content = item.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    changed |= _apply(part, "text", fn)
                    changed |= _apply(part, "refusal", fn)
    elif itype == "function_call":
        changed |= _apply(item, "arguments", fn)
    elif itype == "custom_tool_call":
        changed |= _apply(item, "input", fn)
    return changed


def rewrite_responses_body(body: Any, fn: Callable[[str], str]) -> bool:
    """Apply `fn` to every output text of a Responses `response` object; True if changed."""
    if not isinstance(body, dict):
        return False
    changed = False
    output = body.get("output")
    if isinstance(output, list):
        for item in output:
            changed |= rewrite_output_item(item, fn)
    changed |= _apply(body, "output_text", fn)
    return changed


def rewrite_chat_body(body: Any, fn: Callable[[str], str]) -> None:
    """Apply `fn` to message content, refusals and tool-call arguments of a chat completion."""
    for choice in _choices(body):
        msg = choice.get("message")
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            _apply(msg, "content", fn)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    _apply(part, "text", fn)
        _apply(msg, "refusal", fn)
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    if isinstance(call.get("function"), dict):
                        _apply(call["function"], "arguments", fn)
                    if isinstance(call.get("custom"), dict):
                        _apply(call["custom"], "input", fn)
        if isinstance(msg.get("function_call"), dict):
            _apply(msg["function_call"], "arguments", fn)


def _str(value: Any) -> str:
    """A string field's value, or "" when it is absent or not a string."""
    return value if isinstance(value, str) else ""


def _choices(body: Any) -> list[dict[str, Any]]:
    choices = body.get("choices") if isinstance(body, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


# ---------------------------------------------------------------------------------------------
# Streams


class ChatCompletionStream(StreamHandler):
    """OpenAI chat-completion chunks (or legacy completion chunks, `legacy=True`) and `[DONE]`.

    Text is restored per channel: "choice:{i}" for content (or legacy `text`), "refusal:{i}",
    and "tool:{i}:{j}" for tool-call arguments; a choice's channels flush on its finish_reason.
    """

    def __init__(self, text_filter: TextFilter, drop_usage_chunk: bool = False, legacy: bool = False) -> None:
        super().__init__(text_filter, drop_usage_chunk)
        self.legacy = legacy
        self._open: dict[int, list[str]] = {}  # choice index -> channels fed and not yet flushed
        self._template: dict[str, Any] = {}
        self._done = False

    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        if ev.data.strip() == "[DONE]":
            self._done = True
            return self._flush_all() + [ev]
        obj = parse_json_event(ev)
        if not isinstance(obj, dict):
            return [ev]
        if obj.get("error"):
            return self._flush_all() + [ev]
        self._remember(obj)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.usage = chat_usage(usage)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return [ev]
        if not choices:
            # Azure's prompt_filter_results chunk, or the usage-only chunk we may have asked for.
            if self.drop_usage_chunk and isinstance(usage, dict):
                return self._flush_all()
            return [ev]
        changed = False
        for pos, choice in enumerate(choices):
            if isinstance(choice, dict):
                idx = as_int(choice.get("index"))
                changed |= self._transform_choice(pos if idx is None else idx, choice)
        if changed:
            set_json_data(ev, obj)
        return [ev]

    def on_end(self) -> list[SseEvent]:
        return [] if self._done else self._flush_all()

    # -- internals

    def _remember(self, obj: dict[str, Any]) -> None:
        if not self._template:
            self._template = {k: obj[k] for k in ("id", "object", "created", "model") if k in obj}
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model = obj["model"]

    def _feed(self, idx: int, channel: str, text: str) -> str:
        channels = self._open.setdefault(idx, [])
        if channel not in channels:
            channels.append(channel)
        return self.filter.feed(channel, text)

    def _flush_choice(self, idx: int) -> list[tuple[str, str]]:
        out = []
        for channel in self._open.pop(idx, []):
            text = self.filter.flush(channel)
            if text:
                out.append((channel, text))
        return out

    def _transform_choice(self, idx: int, choice: dict[str, Any]) -> bool:
        changed = False
        if self.legacy:
            text = choice.get("text")
            if isinstance(text, str) and text:
                new = self._feed(idx, f"choice:{idx}", text)
                if new != text:
                    choice["text"] = new
                    changed = True
        else:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                changed |= self._feed_field(idx, delta, "content", f"choice:{idx}")
                changed |= self._feed_field(idx, delta, "refusal", f"refusal:{idx}")
                calls = delta.get("tool_calls")
                if isinstance(calls, list):
                    for j, call in enumerate(calls):
                        fn = call.get("function") if isinstance(call, dict) else None
                        if isinstance(fn, dict):
                            tool = as_int(call.get("index"))
                            changed |= self._feed_field(idx, fn, "arguments", f"tool:{idx}:{j if tool is None else tool}")
        if choice.get("finish_reason"):
            flushed = self._flush_choice(idx)
            if flushed:
                self._append_flushed(choice, flushed)
                changed = True
        return changed

    def _feed_field(self, idx: int, container: dict[str, Any], key: str, channel: str) -> bool:
        text = container.get(key)
        if not isinstance(text, str) or not text:
            return False
        new = self._feed(idx, channel, text)
        if new == text:
            return False
        container[key] = new
        return True

    def _append_flushed(self, choice: dict[str, Any], flushed: list[tuple[str, str]]) -> None:
        """Put held-back text at the end of this choice's chunk (before the finish is seen)."""
        if self.legacy:
            choice["text"] = _str(choice.get("text")) + "".join(t for _, t in flushed)
            return
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice["delta"] = {}
        for channel, text in flushed:
            kind, _, rest = channel.partition(":")
            if kind == "choice":
                delta["content"] = _str(delta.get("content")) + text
            elif kind == "refusal":
                delta["refusal"] = _str(delta.get("refusal")) + text
            else:
                tool = int(rest.rsplit(":", 1)[1])
                calls = delta.get("tool_calls")
                if not isinstance(calls, list):
                    calls = delta["tool_calls"] = []
                for j, call in enumerate(calls):
                    if isinstance(call, dict) and (as_int(call.get("index")) if "index" in call else j) == tool:
                        if not isinstance(call.get("function"), dict):
                            call["function"] = {}
                        fn = call["function"]
                        fn["arguments"] = _str(fn.get("arguments")) + text
                        break
                else:
                    calls.append({"index": tool, "function": {"arguments": text}})

    def _flush_all(self) -> list[SseEvent]:
        """Held-back text of every open choice as one synthetic chunk (stream ended early)."""
        choices = []
        for idx in sorted(self._open):
            flushed = self._flush_choice(idx)
            if not flushed:
                continue
            choice: dict[str, Any] = {"index": idx}
            if self.legacy:
                choice.update(text="", logprobs=None)
            else:
                choice["delta"] = {}
            self._append_flushed(choice, flushed)
            choice["finish_reason"] = None
            choices.append(choice)
        if not choices:
            return []
        return [json_event({**self._template, "choices": choices})]


# (delta event, text field, done event, text field of the done event, channel prefix)
_RESPONSES_TEXT_EVENTS: list[tuple[str, str, str, str, str]] = [
    ("response.output_text.delta", "delta", "response.output_text.done", "text", "out"),
    ("response.refusal.delta", "delta", "response.refusal.done", "refusal", "refusal"),
    ("response.function_call_arguments.delta", "delta", "response.function_call_arguments.done", "arguments", "args"),
    ("response.custom_tool_call_input.delta", "delta", "response.custom_tool_call_input.done", "input", "custom"),
]
_BY_DELTA = {e[0]: e for e in _RESPONSES_TEXT_EVENTS}
_BY_DONE = {e[2]: e for e in _RESPONSES_TEXT_EVENTS}
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


class ResponsesStream(StreamHandler):
    """OpenAI Responses named events: deltas restored per output part, `.done` texts rewritten.

    Channels: "out:{output_index}:{content_index}" for output text and refusals,
    "args:{output_index}" for function-call arguments.
    """

    def __init__(self, text_filter: TextFilter, drop_usage_chunk: bool = False) -> None:
        super().__init__(text_filter, drop_usage_chunk)
        # channel -> the delta event's identifying fields, to synthesise a flush delta.
        self._open: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _channel(prefix: str, obj: dict[str, Any]) -> str:
        if prefix in ("out", "refusal"):
            return f"{prefix}:{obj.get('output_index')}:{obj.get('content_index')}"
        return f"{prefix}:{obj.get('output_index')}"

    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        obj = parse_json_event(ev)
        if not isinstance(obj, dict):
            return [ev]
        etype = obj.get("type") if isinstance(obj.get("type"), str) else ev.event
        if etype in _BY_DELTA:
            _, field, _, _, prefix = _BY_DELTA[etype]
            channel = self._channel(prefix, obj)
            text = obj.get(field)
            if isinstance(text, str) and text:
                self._open.setdefault(channel, self._delta_skeleton(etype, obj))
                new = self.filter.feed(channel, text)
                if new != text:
                    obj[field] = new
                    set_json_data(ev, obj)
            return [ev]
        if etype in _BY_DONE:
            _, _, _, field, prefix = _BY_DONE[etype]
            out = self._flush(self._channel(prefix, obj))
            if _apply(obj, field, self.filter.full):
                set_json_data(ev, obj)
            return out + [ev]
        changed = False
        if etype == "response.content_part.done" and isinstance(obj.get("part"), dict):
            changed = _apply(obj["part"], "text", self.filter.full) | _apply(obj["part"], "refusal", self.filter.full)
        elif etype == "response.output_item.done":
            changed = rewrite_output_item(obj.get("item"), self.filter.full)
        elif isinstance(obj.get("response"), dict):
            response = obj["response"]
            if isinstance(response.get("model"), str):
                self.model = response["model"]
            if etype in _TERMINAL:
                usage = responses_usage(response.get("usage"))
                if usage is not None:
                    self.usage = usage
                changed = rewrite_responses_body(response, self.filter.full)
        if changed:
            set_json_data(ev, obj)
        return [ev]

    def on_end(self) -> list[SseEvent]:
        out: list[SseEvent] = []
        for channel in list(self._open):
            out.extend(self._flush(channel))
        return out

    @staticmethod
    def _delta_skeleton(etype: str, obj: dict[str, Any]) -> dict[str, Any]:
        keys = ("item_id", "output_index", "content_index")
        skeleton = {"type": etype, "sequence_number": obj.get("sequence_number", 0)}
        skeleton.update({k: obj[k] for k in keys if k in obj})
        if etype == "response.output_text.delta":
            skeleton["logprobs"] = []
        return skeleton

    def _flush(self, channel: str) -> list[SseEvent]:
        skeleton = self._open.pop(channel, None)
        text = self.filter.flush(channel)
        if skeleton is None or not text:
            return []
        return [json_event({**skeleton, "delta": text}, event=skeleton["type"])]


# ---------------------------------------------------------------------------------------------
# The adapter


def openai_error_body(status: int, message: str, code: str = "") -> bytes:
    """`{"error": {...}}` with the type the OpenAI SDKs expect for `status`."""
    if status == 429 and code == "insufficient_quota":
        etype = "insufficient_quota"
    elif status >= 500:
        etype = "api_error"
    else:
        etype = _ERROR_TYPES.get(status, "invalid_request_error")
    return json.dumps({"error": {"message": message, "type": etype, "param": None, "code": code or None}}).encode()


class OpenAIAdapter(ProviderAdapter):
    """api.openai.com and its regional hosts."""

    name = "openai"
    default_upstream: ClassVar[str | None] = "https://api.openai.com"

    def endpoint_for(self, method: str, path: str) -> str | None:
        """The endpoint kind of an OpenAI path, or None when it is not an OpenAI API path."""
        path = path.rstrip("/") or "/"
        if path != "/v1" and not path.startswith("/v1/"):
            return None
        if method.upper() == "POST" and path in ENDPOINT_PATHS:
            return ENDPOINT_PATHS[path]
        return "other"

    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        endpoint = self.endpoint_for(method, path)
        if endpoint is None:
            return None
        return self.describe(endpoint, body, method)

    def describe(self, endpoint: str, body: Any, method: str = "POST") -> RequestInfo:
        """Validate a body of a known endpoint kind and describe it (used by Azure and Copilot too)."""
        if endpoint == "other":
            return generic_request(method, body)
        body = require_object(body)
        if endpoint == "chat":
            segments = chat_segments(body)
            max_tokens = as_int(body.get("max_completion_tokens"))
            if max_tokens is None:
                max_tokens = as_int(body.get("max_tokens"))
        elif endpoint in ("responses", "count_tokens"):
            segments = responses_segments(body)
            max_tokens = as_int(body.get("max_output_tokens"))
        elif endpoint == "completions":
            segments = completions_segments(body)
            max_tokens = as_int(body.get("max_tokens"))
        elif endpoint == "embeddings":
            segments = embeddings_segments(body)
            max_tokens = None
        else:
            raise ValueError(f"unsupported endpoint {endpoint!r}")
        model = body.get("model")
        return RequestInfo(
            endpoint=endpoint,
            model=model if isinstance(model, str) else "",
            stream=body.get("stream") is True,
            max_tokens=max_tokens,
            segments=segments,
        )

    def usage_from_body(self, endpoint: str, body: Any) -> Usage | None:
        if not isinstance(body, dict):
            return None
        if endpoint == "responses":
            return responses_usage(body.get("usage"))
        if endpoint in ("chat", "completions", "embeddings", "fim"):
            return chat_usage(body.get("usage"))
        return None

    def rewrite_response(self, endpoint: str, body: Any, fn: Callable[[str], str]) -> None:
        if endpoint == "chat":
            rewrite_chat_body(body, fn)
        elif endpoint in ("completions", "fim"):
            for choice in _choices(body):
                _apply(choice, "text", fn)
        elif endpoint == "responses":
            rewrite_responses_body(body, fn)

    def stream_handler(self, endpoint: str, text_filter: TextFilter, drop_usage_chunk: bool) -> StreamHandler:
        if endpoint == "chat":
            return ChatCompletionStream(text_filter, drop_usage_chunk)
        if endpoint in ("completions", "fim"):
            return ChatCompletionStream(text_filter, drop_usage_chunk, legacy=True)
        if endpoint == "responses":
            return ResponsesStream(text_filter, drop_usage_chunk)
        return PassThroughStream(text_filter, drop_usage_chunk)

    def ensure_stream_usage(self, endpoint: str, body: Any) -> bool:
        if endpoint not in ("chat", "completions") or not isinstance(body, dict) or body.get("stream") is not True:
            return False
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return False
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        return True

    def set_max_tokens(self, endpoint: str, body: Any, limit: int) -> None:
        """Cap the field the client used (never raising a lower limit the client set itself)."""
        if not isinstance(body, dict):
            return
        if endpoint == "chat":
            field = "max_tokens" if "max_tokens" in body and "max_completion_tokens" not in body else "max_completion_tokens"
        elif endpoint in ("responses",):
            field = "max_output_tokens"
        elif endpoint in ("completions", "fim"):
            field = "max_tokens"
        else:
            return
        body[field] = cap(body.get(field), limit)

    def error_body(self, status: int, message: str, code: str = "") -> bytes:
        return openai_error_body(status, message, code)

    def stream_error_event_for(self, endpoint: str, message: str, code: str = "") -> SseEvent:
        """Responses streams end with a named `error` event; the others with `data: {"error":...}`."""
        if endpoint == "responses":
            error = {"message": message, "type": "api_error", "code": code or None}
            # `type`/`code`/`message` make it a ResponseErrorEvent; `error` makes the SDK raise.
            payload = {"type": "error", "code": code or None, "message": message, "param": None,
                       "sequence_number": 0, "error": error}
            return json_event(payload, event="error")
        return self.stream_error_event(message, code)

    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        return bearer_token(headers)

    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        header_set(headers, "Authorization", f"Bearer {key}")
