"""The session's chat-model choice: which model each slot (answer, second) uses, and loading it.

The Settings page writes the choice; the Ask, Dashboard, Feedback and Summaries pages read it
here (never through another page).
"""

from __future__ import annotations

import streamlit as st

from rag.config import Settings, get_settings
from rag.llm.providers import ModelConfig, config_from_settings
from rag.services import Services

PRIMARY = "primary"
COMPARE = "compare"
LOCAL_LOADING = "Loading the local model (first time: a few seconds)…"
CONFIG_KEY = "settings_model_{slot}"  # the applied ModelConfig of a slot


def default_config(settings: Settings | None = None) -> ModelConfig:
    """The operator's choice from the environment (RAG_LLM_PROVIDER and friends)."""
    return config_from_settings(settings or get_settings())


def model_config(slot: str = PRIMARY) -> ModelConfig:
    """The model config this session uses for `slot` (the environment's until changed)."""
    cfg = st.session_state.get(CONFIG_KEY.format(slot=slot))
    return cfg if isinstance(cfg, ModelConfig) else default_config()


def set_model_config(cfg: ModelConfig, slot: str = PRIMARY) -> None:
    st.session_state[CONFIG_KEY.format(slot=slot)] = cfg


def load_model(svc: Services, cfg: ModelConfig):
    """The chat model of a config (built once per process), with a spinner for the local one."""
    if cfg.provider == "local":
        with st.spinner(LOCAL_LOADING):
            return svc.chat_model(cfg)
    return svc.chat_model(cfg)
