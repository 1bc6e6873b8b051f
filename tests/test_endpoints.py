"""A chat endpoint that hangs, trickles, talks nonsense or echoes the key: bounded, clear, redacted.

Each case runs a real HTTP server on loopback and the real OpenAI-compatible client."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import Settings
from rag.llm.base import Message
from rag.llm.providers import ModelConfig, ProviderError, make_chat_model

KEY = "sk-canary-7c1f9a0e5d3b42a8b6e1"


def _serve(handler_body):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            handler_body(self)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _model(srv, timeout_s: float = 3.0):
    cfg = ModelConfig(provider="openai", model="m", api_key=KEY, timeout_s=timeout_s,
                      base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1")
    return make_chat_model(cfg, Settings())


def _run(model) -> str:
    return "".join(model.stream([Message("user", "hi")], max_tokens=5))


def test_an_endpoint_that_never_answers_fails_at_the_first_token_deadline():
    srv = _serve(lambda h: time.sleep(30))
    t = time.monotonic()
    with pytest.raises(ProviderError) as err:
        _run(_model(srv, timeout_s=2.0))
    assert time.monotonic() - t < 12
    assert "127.0.0.1" in str(err.value)
    srv.shutdown()


def test_a_trickling_stream_fails_at_the_total_deadline(monkeypatch):
    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for _ in range(200):
            chunk = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
            try:
                h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)

    from rag.llm import providers

    srv = _serve(trickle)
    model = _model(srv, timeout_s=2.0)
    model._total_s = 3.0  # the product's floor is 60 s; the mechanism is the same
    t = time.monotonic()
    with pytest.raises(ProviderError, match="did not finish"):
        _run(model)
    assert time.monotonic() - t < 10
    assert providers  # the real provider module, no fake
    srv.shutdown()


def test_garbage_replies_get_a_plain_message():
    def garbage(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(b"<html>this is a login page</html>")

    srv = _serve(garbage)
    with pytest.raises(ProviderError) as err:
        _run(_model(srv))
    msg = str(err.value)
    assert "Traceback" not in msg and "127.0.0.1" in msg and "not a chat completion" in msg
    srv.shutdown()


def test_an_endpoint_echoing_the_key_never_shows_it():
    def echo(h):
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY} "
                                                f"({KEY[:8]}...{KEY[-6:]})",
                                     "type": "invalid_request_error"}}).encode()
        h.send_response(401)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    srv = _serve(echo)
    with pytest.raises(ProviderError) as err:
        _run(_model(srv))
    msg = str(err.value)
    assert KEY not in msg and KEY[:8] not in msg and KEY[-6:] not in msg
    srv.shutdown()


def test_the_app_listens_on_loopback_by_default():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml")
                        .read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
