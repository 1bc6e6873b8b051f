"""The UI's composition root (one `st.cache_resource`) and the per-session workspace choice.

Shared, thread-safe things (the embedding model, the Chroma client, the store) are cached for
the whole process. Everything that belongs to one user (the chosen workspace, uploads, last
results) lives in `st.session_state`, never in a shared cache.
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st

from rag.config import Settings, get_settings
from rag.errors import NotFound, RagError
from rag.index.embedder import PACKAGED, Embedder
from rag.index.store import Workspace
from rag.services import Services, build_embedder, build_services, embedder_identity

DEFAULT_WORKSPACE = "default"
WS_KEY = "workspace"  # the sidebar picker's widget key
_SWITCH_KEY = "_workspace_switch"


class BackgroundEmbedder:
    """The configured embedder, loading in a background thread so the first page shows at once.

    A packaged model's name and dimension are known without loading it, which is all the store
    needs to list and open workspaces. `embed()` waits for the load; `ready` tells whether it
    would wait (the pages then show a spinner).
    """

    def __init__(self, settings: Settings) -> None:
        identity = embedder_identity(settings)
        assert identity is not None, "only packaged models load in the background"
        self.name, self.dim = identity
        self._settings = settings
        self._model: Embedder | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self.load, name="embedder-load", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self._model is not None

    def load(self) -> Embedder:
        """Load the model once (raises its RagError, e.g. the model package is missing)."""
        with self._lock:
            if self._model is None and self._error is None:
                try:
                    model = build_embedder(self._settings)
                    if (model.name, model.dim) != (self.name, self.dim):
                        # The store was opened under the announced identity: never mix vectors.
                        raise RagError(
                            f"the embedding model loaded as '{model.name}' ({model.dim} "
                            f"dimensions), not the announced '{self.name}' ({self.dim}): "
                            "restart the app"
                        )
                    self._model = model
                except Exception as exc:  # noqa: BLE001 - re-raised on every use
                    self._error = exc
            if self._error is not None:
                raise self._error
            assert self._model is not None
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.load().embed(texts)


@st.cache_resource(show_spinner="Loading the embedding model (first start only)…")
def _embedder(model: str, backend: str, batch_size: int, threads: int) -> Embedder:
    settings = get_settings().model_copy(
        update={"embed_model": model, "embed_backend": backend, "embed_batch_size": batch_size,
                "threads": threads})
    if model in PACKAGED:
        return BackgroundEmbedder(settings)
    return build_embedder(settings)  # a model folder: its dimension is known once loaded


def ensure_model(svc: Services) -> None:
    """Wait (with a spinner) until the embedding model is loaded; raises its RagError."""
    emb = svc.embedder
    if isinstance(emb, BackgroundEmbedder) and not emb.ready:
        with st.spinner("Loading the embedding model (first start only)…"):
            emb.load()


@st.cache_resource(show_spinner="Opening the workspaces…")
def _services(settings_key: str) -> Services:
    settings = Settings.model_validate_json(settings_key)
    embedder = _embedder(settings.embed_model, settings.embed_backend,
                         settings.embed_batch_size, settings.threads)
    return build_services(settings, embedder=embedder)


def services() -> Services:
    """The process's services for the current settings (model loaded once per process)."""
    # Keyed by the settings' values, so a changed RAG_DATA_DIR (tests) gets its own store
    # while the model, keyed by its own knobs only, is still loaded once.
    return _services(get_settings().model_dump_json())


def clear_services() -> None:
    """Forget the cached stores (not the model): for tests that change settings."""
    _services.clear()


def current_workspace_name() -> str:
    """The workspace this session works in."""
    return st.session_state.get(WS_KEY) or DEFAULT_WORKSPACE


def request_workspace(name: str) -> None:
    """Switch to `name` on the next run (the picker widget is already drawn in this one)."""
    st.session_state[_SWITCH_KEY] = name


def apply_workspace_switch() -> None:
    """Called before the picker is drawn: honour a switch asked for in the previous run."""
    name = st.session_state.pop(_SWITCH_KEY, None)
    if name:
        st.session_state[WS_KEY] = name


def open_workspace(svc: Services, name: str | None = None) -> Workspace | None:
    """The workspace, or None when it does not exist yet; other RagErrors propagate."""
    try:
        return svc.workspace(name or current_workspace_name())
    except NotFound:
        return None
