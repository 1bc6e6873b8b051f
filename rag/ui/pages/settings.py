"""The Settings page: which chat model answers (per session), a connection test, and read-only
facts about where data and models live.

The chosen model configs live in `st.session_state` only: an API key typed here is never
written to disk or logs (`ModelConfig` leaves it out of its repr). A key set by the operator
(RAG_LLM_API_KEY) is never sent to the browser, and is only used for the endpoint it was
configured for, so a user cannot redirect it to a server of their own.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from rag.config import Settings
from rag.errors import RagError
from rag.index.embedder import PACKAGED
from rag.llm.base import Message, complete
from rag.llm.local_model import MODEL_NOTES, QWEN_05B, installed_packaged
from rag.llm.providers import PROVIDER_LABELS, PROVIDERS, ModelConfig, endpoint_origin
from rag.services import Services
from rag.ui import auth, state
from rag.ui.models import (  # the session's model choice (re-exported for old callers)
    COMPARE,
    CONFIG_KEY,  # noqa: F401 - re-exported
    LOCAL_LOADING,  # noqa: F401 - re-exported
    PRIMARY,
    default_config,
    load_model,
    model_config,
    set_model_config,
)
from rag.ui.render import md, model_label, show_error

SLOT_TITLES = {PRIMARY: "Answer model", COMPARE: "Second model"}
SLOT_HELP = {PRIMARY: "Answers every question on the Ask page.",
             COMPARE: "Answers too when “Compare two models” is on in Ask, side by side."}

OLLAMA_URL = "http://localhost:11434"

# Which text fields each provider needs (a provider missing here gets all three).
FIELDS: dict[str, tuple[str, ...]] = {
    "local": (),
    "openai": ("base_url", "model", "api_key"),
    "ollama": ("base_url", "model"),
}
_ALL_FIELDS = ("base_url", "model", "api_key")
_LABELS = {"base_url": "Base URL", "model": "Model", "api_key": "API key"}
_PLACEHOLDERS = {
    "openai": {"base_url": "https://api.openai.com/v1 or http://host:8000/v1",
               "model": "e.g. gpt-4o-mini", "api_key": "leave empty if the endpoint needs none"},
    "ollama": {"base_url": OLLAMA_URL, "model": "e.g. llama3.2"},
}

# Session-state keys (per user).
_DRAFTS_KEY = "settings_drafts"  # typed field values per slot and provider, kept across pages
_TEST_KEY = "settings_test_{slot}"  # the last connection test's outcome, shown until changed


# -- the session's model choice (read by the Ask page) -----------------------------------------


def provider_label(name: str) -> str:
    return PROVIDER_LABELS.get(name, name)


def test_connection(svc: Services, cfg: ModelConfig) -> tuple[bool, str]:
    """Send a tiny prompt; (True, 'replied … in 1.2 s') or (False, the one-line reason)."""
    t0 = time.perf_counter()
    try:
        model = load_model(svc, cfg)
        with st.spinner("Sending a test prompt…"):
            reply = complete(model, [Message("system", "Reply with one short word."),
                                     Message("user", "Say OK.")], max_tokens=8)
    except RagError as err:
        return False, str(err)
    except Exception as exc:  # noqa: BLE001 - a client library's own error: one line, no trace
        return False, f"the model could not be used ({type(exc).__name__}: {str(exc)[:200]})"
    seconds = time.perf_counter() - t0
    said = " ".join(reply.split())[:60] or "(an empty reply)"
    return True, f"{cfg.label} answered “{said}” in {seconds:.1f} s"


# -- the form -------------------------------------------------------------------------------------


def _field_key(slot: str, provider: str, name: str) -> str:
    return f"settings_{slot}_{provider}_{name}"


def _initial_fields(slot: str, provider: str, settings: Settings) -> dict[str, str]:
    """What a provider's fields show first: the draft, else the applied config, else env."""
    drafts = st.session_state.setdefault(_DRAFTS_KEY, {})
    if provider in drafts.get(slot, {}):
        return dict(drafts[slot][provider])
    cfg = model_config(slot)
    env = default_config(settings)
    src = cfg if cfg.provider == provider else env if env.provider == provider else None
    # The key field starts empty: a key typed by this user is in the drafts above, and the
    # operator's key (in `env`, hence in applied configs) must never reach the browser.
    out = {"base_url": src.base_url if src else "", "model": src.model if src else "",
           "api_key": ""}
    if provider == "ollama" and not out["base_url"]:
        out["base_url"] = OLLAMA_URL
    return out


def _env_key_for(provider: str, base_url: str, settings: Settings) -> str:
    """The operator's API key, only for the provider and endpoint it was configured for."""
    env = default_config(settings)
    if env.api_key and env.provider == provider and env.base_url.strip() == base_url.strip():
        return env.api_key
    return ""


def _fixed_base_url(provider: str, settings: Settings) -> str:
    """The endpoint a non-admin's choice of `provider` uses: the operator's, or the default."""
    env = default_config(settings)
    if env.provider == provider:
        return env.base_url
    return OLLAMA_URL if provider == "ollama" else ""


def destination(cfg: ModelConfig) -> str:
    """Where the app server sends this model's requests, in one line."""
    if cfg.provider == "local":
        return "Runs inside RAGdesk: no request leaves the server."
    default = {"openai": "https://api.openai.com/v1", "ollama": OLLAMA_URL}.get(cfg.provider, "")
    where = endpoint_origin(cfg.base_url, default)
    return f"Requests go to {where}" if where else ""


def model_form(slot: str, settings: Settings, may_edit: bool = True) -> ModelConfig:
    """Provider choice and its fields for one slot; the result is applied at once.

    `may_edit`: whether this user may change endpoints (admins only: the server sends the
    requests, so a base URL is a way into its network). Others keep the operator's."""
    current = model_config(slot)
    options = list(dict.fromkeys([*PROVIDER_LABELS, *PROVIDERS]))
    pkey = f"settings_{slot}_provider"
    if pkey not in st.session_state or st.session_state[pkey] not in options:
        st.session_state[pkey] = current.provider if current.provider in options else options[0]
    provider = st.radio("Provider", options, key=pkey, format_func=provider_label)
    fields = FIELDS.get(provider, _ALL_FIELDS)
    init = _initial_fields(slot, provider, settings)
    values: dict[str, str] = {}
    for name in fields:
        key = _field_key(slot, provider, name)
        locked = name == "base_url" and not may_edit
        if locked:  # set on every run: whatever the browser sends, the operator's URL is used
            st.session_state[key] = _fixed_base_url(provider, settings)
        if key not in st.session_state:
            st.session_state[key] = init.get(name, "")
        placeholder = _PLACEHOLDERS.get(provider, {}).get(name)
        help_text = "Only an admin can change where requests go." if locked else None
        if name == "api_key":
            help_text = "Kept in this browser session's memory only: never written to disk."
            if default_config(settings).api_key and default_config(settings).provider == provider:
                placeholder = "leave empty to use the key configured on the server"
        values[name] = st.text_input(
            _LABELS[name], key=key, type="password" if name == "api_key" else "default",
            placeholder=placeholder, help=help_text, autocomplete="off", disabled=locked,
        ).strip()
        if locked:
            values[name] = _fixed_base_url(provider, settings)
    st.session_state.setdefault(_DRAFTS_KEY, {}).setdefault(slot, {})[provider] = dict(values)
    if provider == "local":
        values["model"] = _local_model_choice(slot, init.get("model", ""), settings)
        st.caption("Runs inside RAGdesk on this machine's CPU: no network, no key. The first "
                   "answer loads the model (a few seconds); later ones reuse it.")
    api_key = values.get("api_key", "") or _env_key_for(provider, values.get("base_url", ""),
                                                         settings)
    cfg = ModelConfig(provider=provider, model=values.get("model", ""),
                      base_url=values.get("base_url", ""), api_key=api_key,
                      timeout_s=settings.llm_timeout_s)
    if cfg != current:
        set_model_config(cfg, slot)
        st.session_state.pop(_TEST_KEY.format(slot=slot), None)
        if _choice(cfg) != _choice(current):
            auth.audit("settings.model", None, target=slot, **_choice(cfg),
                       key_from="typed" if values.get("api_key") else
                       "server" if api_key else "none")
    return cfg


def _choice(cfg: ModelConfig) -> dict[str, str]:
    """What the audit trail records of a model choice: never the key, never a URL's path or
    credentials (the endpoint's origin only)."""
    default = {"openai": "https://api.openai.com/v1", "ollama": OLLAMA_URL}.get(cfg.provider, "")
    return {"provider": cfg.provider, "model": cfg.model,
            "endpoint": endpoint_origin(cfg.base_url, default) if cfg.provider != "local"
            else "", "has_key": "yes" if cfg.api_key else "no"}


def _local_model_choice(slot: str, initial: str, settings: Settings) -> str:
    """Which installed packaged model the local provider runs ("" = the configured default).
    Shown only when more than one is installed; RAG_LOCAL_MODEL_PATH stays the default."""
    specs = installed_packaged(Path(settings.models_dir))
    if len(specs) < 2:
        return initial
    default = settings.local_model_path or QWEN_05B.key
    options = ["", *(s.key for s in specs if s.key != default)]
    key = _field_key(slot, "local", "model")
    if st.session_state.get(key) not in options:
        st.session_state[key] = initial if initial in options else ""
    return st.selectbox(
        "Local model", options, key=key,
        format_func=lambda k: f"{MODEL_NOTES.get(default, Path(default).name)}"
        if not k else MODEL_NOTES.get(k, k),
        help="Measured on 30 FinanceBench questions on 2 CPU cores: the 0.5B model starts "
             "answering in about 11 s and had no gold figure right; the 1.5B model starts in "
             "about 19 s and had 5 of 18 (benchmarks/answer.py).")


def _test_button(svc: Services, slot: str, cfg: ModelConfig) -> None:
    test_key = _TEST_KEY.format(slot=slot)
    if st.button("Test connection", key=f"settings_{slot}_test", icon=":material/network_check:"):
        st.session_state[test_key] = test_connection(svc, cfg)
    outcome = st.session_state.get(test_key)
    if outcome:
        ok, msg = outcome
        if ok:
            st.success(md(msg), icon=":material/check_circle:")
        else:
            st.error(md(msg), icon=":material/error:")


def _facts(settings: Settings) -> list[tuple[str, str]]:
    if settings.chroma_url:
        chroma = f"server at {settings.chroma_url} (shared by every app replica)"
    else:
        chroma = f"on disk at {settings.workspaces_dir}"
    embed = settings.embed_model + (" (packaged with the app)" if settings.embed_model in PACKAGED
                                    else " (a local model folder)")
    if settings.local_model_path:
        local = f"{settings.local_model_path} (set by RAG_LOCAL_MODEL_PATH)"
    else:
        path = Path(settings.models_dir) / QWEN_05B.filename
        local = f"{path} (packaged {QWEN_05B.key}, {QWEN_05B.licence}" + \
                (")" if path.exists() else "; joined from its packages on first use)")
    return [("Data folder", str(settings.data_dir)), ("Chroma", chroma),
            ("Embedding model", embed), ("Local chat model", local),
            ("CPU threads", str(settings.threads))]


def render() -> None:
    """The Settings page."""
    st.title("Settings", anchor=False)
    try:
        svc = state.services()
    except RagError as err:
        show_error(err)
        return
    settings = svc.settings
    st.caption("Model choices apply to this browser session only; the defaults come from the "
               "server's RAG_LLM_* environment variables.")
    try:
        may_edit = svc.access.may_change_endpoints(svc.principal())
    except RagError:
        may_edit = False
    if not may_edit:
        st.caption("Endpoints are set by an admin: you can choose among the configured ones.")
    left, right = st.columns(2, gap="large")
    for col, slot in ((left, PRIMARY), (right, COMPARE)):
        with col, st.container(border=True):
            st.subheader(SLOT_TITLES[slot], anchor=False)
            st.caption(SLOT_HELP[slot])
            cfg = model_form(slot, settings, may_edit)
            st.caption(f"In use: **{md(model_label(cfg))}**")
            where = destination(cfg)
            if where:
                st.caption(md(where))
            _test_button(svc, slot, cfg)
    st.subheader("Data and models", anchor=False)
    st.markdown("  \n".join(f"**{md(k)}:** {md(v)}" for k, v in _facts(settings)))
    st.caption("These are set when the server starts (RAG_DATA_DIR, RAG_CHROMA_URL, "
               "RAG_EMBED_MODEL, RAG_LOCAL_MODEL_PATH).")
