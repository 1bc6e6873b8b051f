"""What the AppTest files share: a fresh app environment and a walk over the rendered tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from fakes import HashEmbedder

from rag.config import get_settings
from rag.llm import providers
from rag.ui import state


def app_environment(tmp_path: Path, monkeypatch, models: dict[str, Callable]) -> Iterator[Path]:
    """A fresh data dir, the hashing embedder, and `models` registered as chat providers (the
    first one the default); everything is undone afterwards. Use with `yield from`."""
    emb = HashEmbedder()
    monkeypatch.setattr(state, "_embedder", lambda *a, **k: emb)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_LLM_PROVIDER", next(iter(models)))
    for name, factory in models.items():
        providers.register(name, factory)
    get_settings.cache_clear()
    state.clear_services()
    try:
        yield tmp_path / "data"
    finally:
        state.clear_services()
        get_settings.cache_clear()
        for name in models:
            providers.PROVIDERS.pop(name, None)


def walk(node) -> Iterator:
    """Every node of an AppTest element tree, depth first."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)
