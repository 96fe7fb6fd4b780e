"""A fake model upstream on loopback: the one allowed stand-in, since no provider is reachable.

It speaks just enough of each provider's wire format: it echoes the last user text back (so
tests can see placeholders travel out and come back restored), streams it in small pieces (so
placeholders split across SSE events), reports deterministic usage, and can log every raw
request body it receives to a JSONL file (so tests can prove no planted secret ever arrived).

Run: python -m bench.fake_upstream --port 9000 [--log bodies.jsonl] [--chunk 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def _texts(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for x in node for t in _texts(x)]
    if isinstance(node, dict):
        for key in ("text", "content", "input", "prompt", "parts"):
            if key in node:
                return _texts(node[key])
    return []


def last_user_text(body: dict[str, Any]) -> str:
    """The text the fake model echoes: the last user turn (or the prompt) of any format."""
    for key in ("messages", "contents"):
        msgs = body.get(key)
        if isinstance(msgs, list) and msgs:
            users = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"] or msgs
            return " ".join(_texts(users[-1]))
    if "input" in body:
        inp = body["input"]
        if isinstance(inp, list) and inp and isinstance(inp[-1], dict):
            return " ".join(_texts(inp[-1]))
        return " ".join(_texts(inp))
    if "prompt" in body:
        return " ".join(_texts(body["prompt"]))
    return ""


def usage_numbers(raw: bytes, reply: str) -> tuple[int, int]:
    return max(1, len(raw) // 4), max(1, len(reply) // 4)


class Fake:
    def __init__(self, log_path: str | None, chunk: int, prefix: str) -> None:
        self.log_fh = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        self.chunk = chunk
        self.prefix = prefix

    def log(self, request: Request, raw: bytes) -> None:
        if self.log_fh is None:
            return
        rec = {"method": request.method, "path": request.url.path, "query": request.url.query,
               "headers": dict(request.headers), "body": raw.decode("utf-8", "replace")}
        self.log_fh.write(json.dumps(rec) + "\n")
        self.log_fh.flush()

    def pieces(self, text: str) -> list[str]:
        return [text[i:i + self.chunk] for i in range(0, len(text), self.chunk)] or [""]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        self.log(request, raw)
        delay = float(request.headers.get("x-fake-delay-ms", "0"))
        if delay:
            await asyncio.sleep(delay / 1000)
        path = request.url.path
        if request.method == "GET":
            return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        if request.headers.get("x-fake-status"):
            status = int(request.headers["x-fake-status"])
            return JSONResponse({"error": {"message": "fake upstream error", "type": "api_error"}}, status_code=status)
        if path.endswith("/telemetry"):  # App Insights ingestion: accepts anything, counts nothing
            return JSONResponse({"itemsReceived": 1, "itemsAccepted": 1, "errors": []})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return JSONResponse({"error": {"message": "fake upstream got invalid JSON", "type": "invalid_request_error"}},
                                status_code=400)
        # x-fake-append: text the "model" adds on its own (e.g. a secret it invents).
        append = request.headers.get("x-fake-append")
        reply = self.prefix + last_user_text(body) + (f" {append}" if append else "")
        tin, tout = usage_numbers(raw, reply)
        model = body.get("model") or path.split("/models/")[-1].split(":")[0] or "fake"
        if path.endswith("/messages"):
            return self.anthropic(body, reply, tin, tout, model)
        if ":generateContent" in path or ":streamGenerateContent" in path:
            return self.gemini(":stream" in path and request.query_params.get("alt") == "sse", reply, tin, tout, model)
        if path.endswith("/responses"):
            return self.responses(body, reply, tin, tout, model)
        if path.endswith("/embeddings"):
            return JSONResponse({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.1]}],
                                 "model": model, "usage": {"prompt_tokens": tin, "total_tokens": tin}})
        if path.endswith("/completions") and "chat" not in path:
            return self.completions(body, reply, tin, tout, model)
        # x-fake-event-gap-ms: pause between streamed events (a slow model, for mid-stream faults).
        return self.chat(body, reply, tin, tout, model, float(request.headers.get("x-fake-event-gap-ms", "0")) / 1000)

    # OpenAI chat completions --------------------------------------------------------------
    def chat(self, body: dict, reply: str, tin: int, tout: int, model: str, gap: float = 0.0) -> Response:
        usage = {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}
        if not body.get("stream"):
            return JSONResponse({"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                                 "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}], "usage": usage})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def gen() -> AsyncIterator[bytes]:
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model}
            yield sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            for piece in self.pieces(reply):
                if gap:
                    await asyncio.sleep(gap)
                yield sse({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            yield sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if include_usage:
                yield sse({**base, "choices": [], "usage": usage})
            yield b"data: [DONE]\n\n"
        return StreamingResponse(gen(), media_type="text/event-stream")

    def completions(self, body: dict, reply: str, tin: int, tout: int, model: str) -> Response:
        usage = {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}
        if not body.get("stream"):
            return JSONResponse({"id": "cmpl-fake", "object": "text_completion", "model": model,
                                 "choices": [{"index": 0, "text": reply, "finish_reason": "stop"}], "usage": usage})

        async def gen() -> AsyncIterator[bytes]:
            for piece in self.pieces(reply):
                yield sse({"id": "cmpl-fake", "model": model, "choices": [{"index": 0, "text": piece, "finish_reason": None}]})
            yield sse({"id": "cmpl-fake", "model": model, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
                       "usage": usage})
            yield b"data: [DONE]\n\n"
        return StreamingResponse(gen(), media_type="text/event-stream")

    def responses(self, body: dict, reply: str, tin: int, tout: int, model: str) -> Response:
        usage = {"input_tokens": tin, "output_tokens": tout, "total_tokens": tin + tout,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": reply, "annotations": []}]}
        final = {"id": "resp_fake", "object": "response", "created_at": 1, "model": model, "status": "completed",
                 "output": [item], "usage": usage, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
        if not body.get("stream"):
            return JSONResponse(final)

        async def gen() -> AsyncIterator[bytes]:
            seq = 0
            start = {**final, "status": "in_progress", "output": [], "usage": None}
            yield sse({"type": "response.created", "sequence_number": seq, "response": start}, "response.created")
            seq += 1
            yield sse({"type": "response.output_item.added", "sequence_number": seq, "output_index": 0,
                       "item": {**item, "status": "in_progress", "content": []}}, "response.output_item.added")
            seq += 1
            yield sse({"type": "response.content_part.added", "sequence_number": seq, "item_id": "msg_1",
                       "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": []}}, "response.content_part.added")
            for piece in self.pieces(reply):
                seq += 1
                yield sse({"type": "response.output_text.delta", "sequence_number": seq, "item_id": "msg_1",
                           "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}, "response.output_text.delta")
            seq += 1
            yield sse({"type": "response.output_text.done", "sequence_number": seq, "item_id": "msg_1", "output_index": 0,
                       "content_index": 0, "text": reply, "logprobs": []}, "response.output_text.done")
            seq += 1
            yield sse({"type": "response.output_item.done", "sequence_number": seq, "output_index": 0, "item": item},
                      "response.output_item.done")
            seq += 1
            yield sse({"type": "response.completed", "sequence_number": seq, "response": final}, "response.completed")
        return StreamingResponse(gen(), media_type="text/event-stream")

    # Anthropic messages -------------------------------------------------------------------
    def anthropic(self, body: dict, reply: str, tin: int, tout: int, model: str) -> Response:
        if not body.get("stream"):
            return JSONResponse({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                                 "content": [{"type": "text", "text": reply}], "stop_reason": "end_turn",
                                 "stop_sequence": None, "usage": {"input_tokens": tin, "output_tokens": tout}})

        async def gen() -> AsyncIterator[bytes]:
            yield sse({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                       "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
                       "usage": {"input_tokens": tin, "output_tokens": 1}}}, "message_start")
            yield sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                      "content_block_start")
            yield sse({"type": "ping"}, "ping")
            for piece in self.pieces(reply):
                yield sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                          "content_block_delta")
            yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            yield sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": max(1, tout // 2)}}, "message_delta")
            yield sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": tout}}, "message_delta")
            yield sse({"type": "message_stop"}, "message_stop")
        return StreamingResponse(gen(), media_type="text/event-stream")

    # Gemini -------------------------------------------------------------------------------
    def gemini(self, stream: bool, reply: str, tin: int, tout: int, model: str) -> Response:
        def chunk(text: str, final: bool) -> dict:
            cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
            if final:
                cand["finishReason"] = "STOP"
            return {"candidates": [cand], "modelVersion": model, "responseId": "r1",
                    "usageMetadata": {"promptTokenCount": tin, "candidatesTokenCount": tout if final else 1,
                                      "totalTokenCount": tin + (tout if final else 1)}}
        if not stream:
            return JSONResponse(chunk(reply, True))

        async def gen() -> AsyncIterator[bytes]:
            parts = self.pieces(reply)
            for i, piece in enumerate(parts):
                yield sse(chunk(piece, i == len(parts) - 1))
        return StreamingResponse(gen(), media_type="text/event-stream")


def sse(obj: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(obj)}\n\n".encode()


def build_app(log_path: str | None = None, chunk: int = 3, prefix: str = "echo: ") -> Starlette:
    fake = Fake(log_path, chunk, prefix)
    return Starlette(routes=[Route("/{path:path}", fake.handle, methods=["GET", "POST", "PUT", "DELETE"])])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--log", default=os.environ.get("FAKE_UPSTREAM_LOG"))
    ap.add_argument("--chunk", type=int, default=3)
    args = ap.parse_args()
    uvicorn.run(build_app(args.log, args.chunk), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
