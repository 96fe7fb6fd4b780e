"""Azure OpenAI, OpenAI-compatible servers and Copilot: routing by path, reuse of OpenAI/Anthropic."""
from __future__ import annotations

import json

import pytest

from proxy.providers.anthropic import MessagesStream
from proxy.providers.azure import AzureOpenAIAdapter
from proxy.providers.compat import CompatAdapter
from proxy.providers.copilot import CopilotAdapter, file_paths_in
from proxy.providers.openai import ChatCompletionStream, OpenAIAdapter, ResponsesStream
from tests.providers.streams import PlaceholderFilter, json_events, run, sse

AZ = AzureOpenAIAdapter()
CO = CompatAdapter()
CP = CopilotAdapter()
CHAT = {"messages": [{"role": "user", "content": "pw=hunter2"}], "max_tokens": 50}


# -- Azure


@pytest.mark.parametrize(
    ("path", "body", "endpoint"),
    [
        ("/openai/deployments/gpt4o-eu/chat/completions", CHAT, "chat"),
        ("/openai/deployments/gpt4o-eu/completions", {"prompt": "def f():"}, "completions"),
        ("/openai/deployments/gpt4o-eu/embeddings", {"input": "embed me"}, "embeddings"),
    ],
)
def test_azure_deployment_paths_take_the_model_from_the_deployment(path, body, endpoint):
    info = AZ.parse("POST", path, {"api-version": "2024-10-21"}, dict(body, model="ignored"))
    assert info.endpoint == endpoint and info.model == "gpt4o-eu" and info.segments


def test_azure_v1_api_delegates_to_openai_paths():
    info = AZ.parse("POST", "/openai/v1/responses", {}, {"model": "my-deploy", "input": "hi"})
    assert (info.endpoint, info.model, [s.text for s in info.segments]) == ("responses", "my-deploy", ["hi"])
    assert AZ.parse("POST", "/openai/v1/chat/completions", {}, CHAT).endpoint == "chat"
    assert AZ.parse("GET", "/openai/deployments", {}, None).scan_required is False
    assert AZ.parse("POST", "/v1/chat/completions", {}, CHAT) is None
    with pytest.raises(ValueError, match="messages"):
        AZ.parse("POST", "/openai/deployments/d/chat/completions", {}, {"model": "x"})


def test_azure_errors_use_the_openai_shape_and_streams_tolerate_filter_chunks():
    err = json.loads(AZ.error_body(400, "blocked", "content_filter"))
    assert err == {"error": {"message": "blocked", "type": "invalid_request_error", "param": None, "code": "content_filter"}}
    body = sse({"choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
               {"choices": [{"index": 0, "delta": {"content": "[SECRET_X_1]"}, "finish_reason": "stop",
                             "content_filter_results": {}}]}, "[DONE]")
    out = run(AZ.stream_handler("chat", PlaceholderFilter(), False), body)
    assert json_events(out)[1]["choices"][0]["delta"]["content"] == "hunter2-prod-key"


def test_azure_credentials_keep_the_clients_header_form():
    h = {"api-key": "cus_v"}
    assert AZ.client_credential(h, {}) == "cus_v"
    AZ.set_credential(h, {}, "azure-real")
    assert h == {"api-key": "azure-real"}
    b = {"Authorization": "Bearer cus_v"}
    assert AZ.client_credential(b, {}) == "cus_v"
    AZ.set_credential(b, {}, "azure-real")
    assert b == {"Authorization": "Bearer azure-real"}


def test_azure_reuses_openai_code_rather_than_copying_it():
    assert isinstance(AZ, OpenAIAdapter) and isinstance(CO, OpenAIAdapter)
    assert type(AZ).describe is OpenAIAdapter.describe and type(AZ).stream_handler is OpenAIAdapter.stream_handler


# -- OpenAI-compatible servers


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions"])
def test_compat_accepts_paths_with_or_without_v1(path):
    info = CO.parse("POST", path, {}, CHAT)
    assert info.endpoint == "chat" and [s.text for s in info.segments] == ["pw=hunter2"]


def test_compat_native_apis_are_scanned_whole_and_listings_are_not():
    ollama = CO.parse("POST", "/api/chat", {}, {"model": "qwen", "messages": [{"role": "user", "content": "pw=hunter2"}]})
    assert ollama.endpoint == "other" and "pw=hunter2" in [s.text for s in ollama.segments]
    assert CO.parse("GET", "/models", {}, None).scan_required is False
    assert CO.default_upstream is None and CO.name == "compat"


# -- Copilot

FIM = {
    "prompt": "# path: src/app.py\n# Compare this snippet from lib/util.py:\n// Path: web/main.ts\n"
              "# filepath: conf/settings.py\nimport os\n\ndef load_config():\n    key = ",
    "suffix": "\n    return key\n",
    "max_tokens": 500,
    "temperature": 0,
    "n": 1,
    "stop": ["\n\n\n"],
    "stream": True,
    "nwo": "acme/payments-service",
    "extra": {"language": "python", "next_indent": 4, "trim_by_indentation": True, "prompt_tokens": 812,
              "suffix_tokens": 40, "context": ["AWS_KEY='AKIA...'", "snippet 2"]},
    "code_annotations": False,
}


def test_copilot_fim_segments_repo_and_file_paths():
    info = CP.parse("POST", "/v1/engines/gpt-41-copilot/completions", {}, json.loads(json.dumps(FIM)))
    assert (info.endpoint, info.model, info.stream, info.max_tokens) == ("fim", "gpt-41-copilot", True, 500)
    assert [(s.path, s.role) for s in info.segments] == [
        (("prompt",), "prompt"), (("suffix",), "suffix"),
        (("extra", "context", 0), "context"), (("extra", "context", 1), "context"),
    ]
    assert info.repo == "acme/payments-service"
    assert info.file_paths == ["src/app.py", "web/main.ts", "conf/settings.py"]
    assert CP.parse("POST", "/v1/completions", {}, {"prompt": "x", "model": "m"}).endpoint == "fim"


def test_file_path_comments_in_other_languages():
    assert file_paths_in("-- path: db/schema.sql\n<!-- Path: index.html -->\nnot # path: inline") == ["db/schema.sql", "index.html"]


def test_copilot_chat_responses_messages_and_embeddings_delegate():
    chat = CP.parse("POST", "/chat/completions", {}, {"model": "gpt-4.1", "messages": [{"role": "user", "content": [{"type": "text", "text": "why"}]}],
                                                      "intent": True, "snippy": {"enabled": False}, "stream": True})
    assert chat.endpoint == "chat" and [s.text for s in chat.segments] == ["why"]
    assert CP.parse("POST", "/v1/chat/completions", {}, CHAT).endpoint == "chat"
    assert CP.parse("POST", "/responses", {}, {"input": "x"}).endpoint == "responses"
    msgs = CP.parse("POST", "/v1/messages", {}, {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    assert msgs.endpoint == "messages" and [s.text for s in msgs.segments] == ["hi"]
    assert CP.parse("POST", "/embeddings", {}, {"input": ["a"]}).endpoint == "embeddings"
    assert isinstance(CP.stream_handler("chat", PlaceholderFilter(), False), ChatCompletionStream)
    assert isinstance(CP.stream_handler("responses", PlaceholderFilter(), False), ResponsesStream)
    assert isinstance(CP.stream_handler("messages", PlaceholderFilter(), False), MessagesStream)


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [("GET", "/models", "other"), ("GET", "/_ping", "other"), ("POST", "/models/gpt-5/policy", "other"),
     ("GET", "/responses", "other"), ("POST", "/telemetry", "telemetry"), ("POST", "/v2/track", "telemetry")],
)
def test_copilot_control_plane_and_telemetry_are_not_scanned(method, path, endpoint):
    info = CP.parse(method, path, {}, {"state": "enabled"} if method == "POST" else None)
    assert info.endpoint == endpoint and info.scan_required is False


def test_copilot_unknown_posts_are_scanned_whole():
    info = CP.parse("POST", "/agents/chat", {}, {"messages": [{"content": "AKIA..."}]})
    assert info.endpoint == "other" and info.scan_required and [s.text for s in info.segments] == ["AKIA..."]


def test_copilot_fim_stream_restores_text_without_usage():
    parts = ["os.environ[\"[SEC", "RET_X_1]\"]"]
    chunks = [{"id": "cmpl-x1", "created": 1, "model": "gpt-41-copilot",
               "choices": [{"index": 0, "text": p, "finish_reason": None}]} for p in parts]
    chunks[-1]["choices"][0]["finish_reason"] = "stop"
    handler = CP.stream_handler("fim", PlaceholderFilter(), False)
    out = run(handler, sse(*chunks, "[DONE]"))
    assert "".join(c["text"] for p in json_events(out) if isinstance(p, dict) for c in p["choices"]) == 'os.environ["hunter2-prod-key"]'
    assert handler.usage is None
    assert CP.ensure_stream_usage("fim", dict(FIM)) is False
    assert CP.ensure_stream_usage("chat", {"messages": [], "stream": True}) is True


def test_copilot_errors_match_the_endpoint_format():
    assert json.loads(CP.error_body_for("fim", 403, "denied", "policy"))["error"]["type"] == "permission_error"
    assert json.loads(CP.error_body_for("chat", 429, "budget", "budget_exceeded"))["error"]["code"] == "budget_exceeded"
    assert json.loads(CP.error_body_for("messages", 403, "denied")) == {
        "type": "error", "error": {"type": "permission_error", "message": "denied"}}
    assert CP.stream_error_event_for("messages", "stop").event == "error"
    assert "error" in json.loads(CP.stream_error_event_for("chat", "stop").data)


def test_copilot_token_passes_through_untouched():
    h = {"Authorization": "Bearer tid=abc;exp=1:sig"}
    assert CP.client_credential(h, {}) is None
    CP.set_credential(h, {}, "whatever")
    assert h == {"Authorization": "Bearer tid=abc;exp=1:sig"}


def test_copilot_usage_and_rewrite_delegate_by_endpoint():
    assert CP.usage_from_body("messages", {"usage": {"input_tokens": 3, "output_tokens": 4}}).output_tokens == 4
    assert CP.usage_from_body("chat", {"usage": {"prompt_tokens": 3, "completion_tokens": 5}}).output_tokens == 5
    body = {"content": [{"type": "text", "text": "[SECRET_X_1]"}]}
    CP.rewrite_response("messages", body, PlaceholderFilter().full)
    assert body["content"][0]["text"] == "hunter2-prod-key"
