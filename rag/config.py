"""Settings: every knob in one place, read from RAG_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# Offline by default: nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class Settings(BaseSettings):
    """Runtime settings. Each field is read from the environment variable `RAG_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    data_dir: Path = Path.home() / ".ragdesk"
    """Where workspaces (Chroma on disk), model files and caches live."""

    chroma_url: str | None = None
    """URL of a `chroma run` server (e.g. http://localhost:8000); empty means on-disk Chroma."""

    chroma_token: str = ""
    """Token sent to the Chroma server in Chroma's token header (X-Chroma-Token, as Chroma's
    token authentication and a proxy in front of `chroma run` read it). Never logged."""

    embed_model: str = "all-MiniLM-L6-v2"
    """Embedding model: the name of a packaged model or a local sentence-transformers folder."""

    embed_backend: str = "onnx-int8"
    """How the embedding model runs: onnx-int8 (default: exported once from the packaged weights
    and quantised, about 1.8x faster than torch on a CPU, same retrieval quality), onnx-fp32 or
    torch. Each gives slightly different vectors, so a workspace keeps the one it was built with."""

    models_dir: Path = Path.home() / ".ragdesk" / "models"
    """Where prepared model files live (the joined GGUF, the exported ONNX embedder); shared by
    every data directory of this user, filled by `python -m rag.setup_models`."""

    embed_batch_size: int = 32
    embed_max_tokens: int = 0
    """Word pieces of a passage the embedding model reads (0: the model's own limit, 256 for
    MiniLM). The keyword index always holds the whole passage."""

    threads: int = max(1, min(os.cpu_count() or 1, 4))

    max_file_mb: int = 50
    """Uploads larger than this are refused before parsing."""

    pdf_timeout_s: int = 180
    """A PDF whose text is not extracted within this time is refused (parsing runs in a child;
    the same bound applies to Office files and large text files, parsed in that child too)."""

    pdf_memory_mb: int = 3072
    """Address-space cap of the PDF-parsing child process."""

    max_pages: int = 3000
    max_rows: int = 200_000

    max_page_chars: int = 100_000
    """A PDF page with more text than this is refused, whole file (a dense page of a filing has
    under 15,000 characters; one content stream drawn on every page can give millions)."""

    max_doc_chars: int = 5_000_000
    """A document with more extracted text than this is refused whole (about 2,000 dense pages,
    several thousand chunks to embed)."""

    max_chunks: int = 100_000
    """A document that would make more chunks than this is refused whole (a table makes one
    chunk a row, so this also bounds a table's rows)."""

    chunk_chars: int = 1100
    """Target chunk size in characters (about 250 word-pieces, the embedder's window)."""

    llm_provider: str = "local"
    """Chat model backend: local (embedded, offline), openai (any compatible endpoint), ollama."""

    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 120.0

    local_model_path: str | None = None
    """A GGUF file to use instead of the packaged default model."""

    local_ctx: int = 4096

    compute_figures: bool = True
    """Answer numeric questions by computation over the documents' table cells (the model never
    writes a number); false sends every question to the model, as before the figure engine."""

    lexicon: str = "finance"
    """The vocabulary a new workspace is read with (retrieval, prompts, claim checks and a
    brief's tables and tone): finance (the packaged US-filing terms: 'capex' also searches
    'purchases of property, plant and equipment'), none (a workspace of other documents,
    searched by its own words), or the path of a .toml or .json lexicon (rag.text.lexicon).
    Each workspace keeps its own from then on (`ragdesk lexicon WORKSPACE --set ...`)."""

    pending_grace_s: int = 3600
    """A document left half-written by another process is cleaned up after this long."""

    database_url: str | None = None
    """Side state (memberships, audit trail, question log, briefs, themes, evaluation runs and,
    here only, figure cells) in this database (postgresql://user:pw@host/db), shared by every
    replica; empty means SQLite in the data directory (ragdesk.sqlite3). Never logged."""

    auth: str = "auto"
    """auto: sign-in when an identity provider is configured (.streamlit/secrets.toml [auth]
    or RAG_OIDC_*), else single-user mode; required: refuse to start without one."""

    admins: str = ""
    """Comma-separated emails of the admins, who see and manage every workspace."""

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "chroma"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings` instead)."""
    return Settings()
