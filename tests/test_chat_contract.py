"""The chat-model contract: one set of behavioural checks every implementation passes.

Run against each implementation the app can use or tests stand in with:

- `scripted`: `ScriptedChat`, the test double (tests/fakes.py);
- `openai`: the real OpenAI-compatible provider (`LangChainChat` over `langchain-openai`)
  against a real HTTP server on loopback speaking the chat-completions streaming protocol
  (server-sent events, `data: {chunk}` ... `data: [DONE]`), written below with the standard
  library's `http.server`;
- `ollama`: the real Ollama provider (`LangChainChat` over `langchain-ollama`) against a real
  HTTP server on loopback speaking Ollama's `/api/chat` streaming protocol (NDJSON);
- `local`: the real packaged GGUF model through llama-cpp-python (slow: run it under the CPU
  lock; replies are kept to a few tokens).

The checks: messages go in (roles and order as sent), text streams out piece by piece;
`max_tokens` bounds the reply (by the backend's own token count); a reply ends at the model's
stop, not only at the cap; a consumer that stops reading cancels the generation and the model
serves the next call; a failing backend raises the product's error type (`RagError`) with a
plain message; no secret (API key) is in that message. The protocol has no stop-sequence
parameter, so "stop" is the model's own end of reply.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakes import ScriptedChat

from rag.config import Settings
from rag.errors import RagError
from rag.llm.base import ChatModel, Message
from rag.llm.providers import ModelConfig, ProviderError, make_chat_model

KEY = "sk-contract-3f9a1c7e5b2d4086a1e9"
SYSTEM = "You are a terse assistant."


# -- a real server speaking the OpenAI chat-completions and Ollama chat streaming protocols --

@dataclass
class Backend:
    """What the loopback server was sent, and how much of a long reply it wrote."""

    requests: list[dict] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # the token pieces of the last reply
    long_written: int = 0
    long_total: int = 400
    long_target: int = 0  # what the last long reply would have run to, uncancelled
    long_done: threading.Event = field(default_factory=threading.Event)


def _reply_words(body: dict) -> list[str]:
    last = body["messages"][-1]["content"]
    return ["You", " said:"] + [" " + w for w in last.split()]


def _handler(backend: Backend, protocol: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _json(self, status: int, payload: dict) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _send(self, piece: dict) -> None:
            if protocol == "openai":
                data = f"data: {json.dumps(piece)}\n\n".encode()
            else:
                data = (json.dumps(piece) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))  # chunked transfer
            self.wfile.flush()

        def _piece(self, model: str, text: str | None, finish: str | None) -> dict:
            if protocol == "openai":
                delta = {"content": text} if text is not None else {}
                return {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            out: dict = {"model": model, "created_at": "2026-01-01T00:00:00Z",
                         "message": {"role": "assistant", "content": text or ""},
                         "done": finish is not None}
            if finish:
                out |= {"done_reason": finish, "total_duration": 1, "eval_count": 1}
            return out

        def do_GET(self) -> None:  # clients may probe the server
            self._json(200, {"models": [], "version": "0.0.0"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            body["_path"], body["_auth"] = self.path, self.headers.get("Authorization")
            backend.requests.append(body)
            backend.sent = []
            model = body.get("model", "")
            if model == "refuses":  # a backend error that echoes the key, as some endpoints do
                msg = f"Incorrect API key provided: {KEY} ({KEY[:8]}...{KEY[-6:]})"
                self._json(401, {"error": {"message": msg, "type": "invalid_request_error"}}
                           if protocol == "openai" else {"error": msg})
                return
            if protocol == "openai":
                cap = body.get("max_completion_tokens") or body.get("max_tokens") or 10**6
            else:
                cap = (body.get("options") or {}).get("num_predict") or 10**6
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if protocol == "openai"
                             else "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if model == "long":  # a long reply, one token every 20 ms
                    backend.long_target = min(cap, backend.long_total)
                    for i in range(backend.long_target):
                        self._send(self._piece(model, f" w{i}", None))
                        backend.sent.append(f" w{i}")
                        backend.long_written = i + 1
                        time.sleep(0.02)
                    finish = "length" if cap <= backend.long_total else "stop"
                else:
                    words = _reply_words(body)
                    for w in words[:cap]:
                        self._send(self._piece(model, w, None))
                        backend.sent.append(w)
                    finish = "length" if len(words) > cap else "stop"
                self._send(self._piece(model, None, finish))
                if protocol == "openai":
                    self.wfile.write(b"e\r\ndata: [DONE]\n\n\r\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:  # the client went away: stop generating
                pass
            finally:
                if model == "long":
                    backend.long_done.set()

    return Handler


@pytest.fixture(scope="module")
def loopback():
    """One server per protocol, on free loopback ports, for the module."""
    out = {}
    servers = []
    for protocol in ("openai", "ollama"):
        backend = Backend()
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler(backend, protocol))
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        out[protocol] = (f"http://127.0.0.1:{srv.server_address[1]}", backend)
    yield out
    for srv in servers:
        srv.shutdown()
        srv.server_close()


# -- one harness per implementation ----------------------------------------------------------

@dataclass
class Harness:
    """An implementation under contract, and how the checks observe it.

    `make(kind)` builds the model: kind 'echo' answers "You said: <the last message>" (where
    a backend is scripted or served; the local model answers as it will), 'long' gives a long
    reply. `failing()` is a model and messages whose call really fails in this backend.
    `received()` is what the backend was last sent ({'messages': [(role, content)],
    'max_tokens': n}), or None where it cannot be seen (the in-process model). `tokens(text)`
    counts a reply as the backend counts. `stopped_early()` says whether a cancelled long reply
    stopped before its end (None: the generation runs only while it is read). `auth()` is the
    credential the backend was sent."""

    name: str
    make: Callable[[str], ChatModel]
    tokens: Callable[[str], int]
    failing: Callable[[], tuple[ChatModel, list[Message]]]
    received: Callable[[], dict | None] = lambda: None
    stopped_early: Callable[[], bool | None] = lambda: None
    secrets: tuple[str, ...] = ()
    auth: Callable[[], str | None] = lambda: None


def _scripted() -> Harness:
    made: list[ScriptedChat] = []

    def make(kind: str) -> ChatModel:
        def reply(messages: list[Message]) -> str:
            if kind == "long":
                return "".join(f" w{i}" for i in range(400))
            return "You said: " + messages[-1].content

        made.append(ScriptedChat(reply, chunk=4))
        return made[-1]

    def failing() -> tuple[ChatModel, list[Message]]:
        def refuse(messages: list[Message]) -> str:  # how tests script a backend failing
            raise ProviderError("the scripted backend refused the call")
        return ScriptedChat(refuse), [Message("user", "hi")]

    def received() -> dict | None:
        return {"messages": [(m.role, m.content) for m in made[-1].sent[-1]],
                "max_tokens": made[-1].limits[-1]}

    def tokens(text: str) -> int:  # one piece (of 4 characters) a token
        return -(-len(text) // 4)

    return Harness("scripted", make, tokens, failing, received)


def _served(protocol: str, loopback) -> Harness:
    url, backend = loopback[protocol]

    def make(kind: str, key: str = "") -> ChatModel:
        cfg = ModelConfig(provider=protocol, model=kind, api_key=key,
                          base_url=url + ("/v1" if protocol == "openai" else ""),
                          timeout_s=20.0)
        return make_chat_model(cfg, Settings())

    def failing() -> tuple[ChatModel, list[Message]]:
        return make("refuses", KEY if protocol == "openai" else ""), [Message("user", "hi")]

    def received() -> dict | None:
        body = backend.requests[-1]
        n = (body.get("max_completion_tokens") or body.get("max_tokens")
             if protocol == "openai" else (body.get("options") or {}).get("num_predict"))
        return {"messages": [(m["role"], m["content"]) for m in body["messages"]],
                "max_tokens": n}

    def tokens(text: str) -> int:
        # the server sends one token a piece; the client must pass exactly those through
        assert text == "".join(backend.sent)
        return len(backend.sent)

    def stopped_early() -> bool | None:
        assert backend.long_done.wait(10), "the server never finished the cancelled reply"
        backend.long_done.clear()
        return backend.long_written < backend.long_target

    return Harness(protocol, lambda kind: make(kind, KEY if protocol == "openai" else ""),
                   tokens, failing, received, stopped_early,
                   secrets=(KEY,) if protocol == "openai" else (),
                   auth=lambda: backend.requests[-1].get("_auth"))


@pytest.fixture(scope="session")
def local_model():
    """The packaged GGUF model, loaded once (run the slow tests under the CPU lock)."""
    return make_chat_model(ModelConfig(provider="local"), Settings())


def _local(model) -> Harness:
    def failing() -> tuple[ChatModel, list[Message]]:
        # a real failure of the real model: far more than its context window holds
        return model, [Message("user", "revenue grew " * 4 * model.n_ctx)]

    return Harness("local", lambda kind: model, model.count_tokens, failing)


@pytest.fixture(params=["scripted", "openai", "ollama",
                        pytest.param("local", marks=pytest.mark.slow)])
def impl(request, loopback) -> Harness:
    if request.param == "scripted":
        return _scripted()
    if request.param == "local":
        return _local(request.getfixturevalue("local_model"))
    return _served(request.param, loopback)


ASK = "Repeat after me: the quarterly report is ready"


# -- the contract ------------------------------------------------------------------------------

def test_it_is_a_chat_model_with_a_name(impl: Harness):
    model = impl.make("echo")
    assert isinstance(model, ChatModel)
    assert isinstance(model.name, str) and model.name.strip()


def test_messages_in_streamed_text_out(impl: Harness):
    pieces = list(impl.make("echo").stream([Message("system", SYSTEM), Message("user", ASK)],
                                           max_tokens=24))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert len(pieces) >= 2  # streamed piece by piece, not one block at the end
    assert "".join(pieces).strip()
    got = impl.received()
    if got is not None:  # the backend got the messages, roles and order as sent
        assert got["messages"] == [("system", SYSTEM), ("user", ASK)]
        assert "".join(pieces) == "You said: " + ASK


def test_max_tokens_bounds_the_reply(impl: Harness):
    msgs = [Message("user", "Count from one to one hundred in words, separated by commas.")]
    text = "".join(impl.make("long").stream(msgs, max_tokens=5))
    assert text.strip()
    assert impl.tokens(text) <= 5
    got = impl.received()
    if got is not None:
        assert got["max_tokens"] == 5


def test_a_reply_ends_at_the_models_stop(impl: Harness):
    """A short answer ends by itself, under a generous cap: the stream finishes (it does not
    hang after the last piece) and is not run on to the cap."""
    msgs = [Message("system", SYSTEM), Message("user", "Say OK.")]
    t0 = time.monotonic()
    text = "".join(impl.make("echo").stream(msgs, max_tokens=48))
    assert time.monotonic() - t0 < 60
    assert text.strip() and impl.tokens(text) < 48


def test_a_consumer_that_stops_reading_cancels_the_reply(impl: Harness):
    msgs = [Message("user", "Write a long essay about accounting standards.")]
    it = iter(impl.make("long").stream(msgs, max_tokens=300))
    assert isinstance(next(it), str)
    it.close()  # what the Cancel button does: stop reading
    assert impl.stopped_early() in (None, True)
    # the model serves the next call at once: no lock held, nothing left generating
    t0 = time.monotonic()
    again = "".join(impl.make("echo").stream([Message("user", "Say OK.")], max_tokens=4))
    assert again.strip() and time.monotonic() - t0 < 30


def test_a_failing_backend_raises_the_products_error_with_a_plain_message(impl: Harness):
    model, msgs = impl.failing()
    with pytest.raises(RagError) as err:
        list(model.stream(msgs, max_tokens=4))
    msg = str(err.value)
    assert msg.strip() and "Traceback" not in msg and len(msg) < 600


def test_no_secret_is_in_an_error_message(impl: Harness):
    """Where the backend holds a secret (an API key) and its error echoes it, whole or cut
    short, the message the app shows has none of it. (The scripted, Ollama and local backends
    hold none: for them this checks only that the call fails as the product's error.)"""
    model, msgs = impl.failing()
    with pytest.raises(RagError) as err:
        list(model.stream(msgs, max_tokens=4))
    msg = str(err.value) + repr(err.value.args)
    for secret in impl.secrets:
        assert secret not in msg and secret[:8] not in msg and secret[-6:] not in msg
        assert impl.auth() == f"Bearer {secret}"  # the server was sent it, and echoed it
