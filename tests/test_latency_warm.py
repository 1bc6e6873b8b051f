"""Warm-up: the chat model and the embedder load once per process in a background thread at app
start, the page never waits on it, and the first question finds the model loaded and its
answer prefix evaluated (the real model's prefix reuse: tests/test_llm_prefix.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from apptools import app_environment
from streamlit.testing.v1 import AppTest

from rag.answer import choose_warm_messages, warm_messages
from rag.config import Settings
from rag.llm.base import Message
from rag.llm.providers import ModelConfig, register
from rag.services import build_services

APP = Path(__file__).resolve().parents[1] / "app.py"


class Warmable:
    name = "warmable"

    def __init__(self) -> None:
        self.warmed: list[list[Message]] = []

    def warm(self, messages: list[Message]) -> None:
        self.warmed.append(messages)

    def stream(self, messages, max_tokens=512, temperature=0.0):
        yield "ok"


def test_warm_in_background_loads_once_and_evaluates_the_answer_prefix(tmp_path, fake_embedder):
    built: list[Warmable] = []
    release = threading.Event()

    def factory(cfg, settings):
        release.wait(10)  # a slow load: a question asked meanwhile must wait for this one
        built.append(Warmable())
        return built[-1]

    register("warmable", factory)
    svc = build_services(Settings(data_dir=tmp_path / "d", llm_provider="warmable"),
                         embedder=fake_embedder)
    thread = svc.warm_in_background()
    got: list = []
    asker = threading.Thread(target=lambda: got.append(svc.chat_model()))
    asker.start()
    release.set()
    thread.join(10)
    asker.join(10)
    assert len(built) == 1 and got == built  # one load, shared with the first question
    # the metric choice's library, then the answer's rules (left in the model for the first question)
    assert built[0].warmed == [choose_warm_messages(), warm_messages()]
    assert svc.chat_model(ModelConfig(provider="warmable")) is built[0]


def test_a_model_that_fails_to_load_leaves_the_error_to_the_first_question(tmp_path,
                                                                         fake_embedder):
    from rag.llm.providers import ProviderError

    def broken(cfg, settings):
        raise ProviderError("the model file is missing")

    register("broken-warm", broken)
    svc = build_services(Settings(data_dir=tmp_path / "d", llm_provider="broken-warm"),
                         embedder=fake_embedder)
    svc.warm_in_background().join(10)  # no exception escapes the thread
    import pytest

    with pytest.raises(ProviderError, match="missing"):
        svc.chat_model()


def test_app_start_warms_in_the_background_without_waiting(tmp_path, monkeypatch):
    release = threading.Event()
    built: list[Warmable] = []

    def factory(cfg, settings):
        release.wait(60)  # the load does not finish until the page has been drawn
        built.append(Warmable())
        return built[-1]

    env = app_environment(tmp_path, monkeypatch, {"warm-bg": factory})
    next(env)
    try:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        assert not at.exception
        assert not built  # drawn while the model was still loading
        release.set()
        for _ in range(200):
            if built and len(built[0].warmed) == 2:
                break
            threading.Event().wait(0.05)
        assert len(built) == 1 and built[0].warmed[-1] == warm_messages()
        at.run()  # a second run does not start another load
        assert len(built) == 1
    finally:
        release.set()
        next(env, None)
