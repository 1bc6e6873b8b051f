"""The Streamlit cache around `build_services` (one `st.cache_resource`) and the per-session
workspace choice.

Shared, thread-safe things (the embedding model, the Chroma client, the store) are cached for
the whole process. Everything that belongs to one user (the chosen workspace, uploads, last
results) lives in `st.session_state`, never in a shared cache.
"""

from __future__ import annotations

import streamlit as st

from rag.config import Settings, get_settings
from rag.errors import NotFound
from rag.index.background import BackgroundEmbedder
from rag.index.embedder import PACKAGED, Embedder
from rag.index.store import Workspace
from rag.services import Services, background_embedder, build_embedder, build_services

DEFAULT_WORKSPACE = "default"
WS_KEY = "workspace"  # the sidebar picker's widget key
WS_PARAM = "workspace"  # the URL's query parameter: ?workspace=NAME (reload, shared links)
_SWITCH_KEY = "_workspace_switch"


@st.cache_resource(show_spinner="Loading the embedding model (first start only)…")
def _embedder(model: str, backend: str, batch_size: int, threads: int) -> Embedder:
    settings = get_settings().model_copy(
        update={"embed_model": model, "embed_backend": backend, "embed_batch_size": batch_size,
                "threads": threads})
    if model in PACKAGED:
        return background_embedder(settings)
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


@st.cache_resource(show_spinner=False)
def _warmed(settings_key: str) -> bool:
    services().warm_in_background()
    return True


def warm_up() -> None:
    """At app start, once per process and settings: load the embedder and the default chat
    model and evaluate the answer prompt's fixed start in a background thread, so the first
    question pays no load (the page is drawn meanwhile; nothing here waits)."""
    _warmed(get_settings().model_dump_json())


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


def workspace_from_url(names: list[str]) -> None:
    """On a session's first run, take the workspace named in the URL (a reload or a shared
    link) when this user has it; later runs follow the picker."""
    if st.session_state.get(WS_KEY) or _SWITCH_KEY in st.session_state:
        return
    wanted = st.query_params.get(WS_PARAM)
    if wanted and wanted in names:
        st.session_state[WS_KEY] = wanted


def workspace_to_url(name: str) -> None:
    """Keep the URL naming the current workspace (page links drop the query string)."""
    if st.query_params.get(WS_PARAM) != name:
        st.query_params[WS_PARAM] = name


def open_workspace(svc: Services, name: str | None = None) -> Workspace | None:
    """The workspace, or None when it does not exist yet; other RagErrors propagate."""
    try:
        return svc.workspace(name or current_workspace_name())
    except NotFound:
        return None
