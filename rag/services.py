"""Composition root: builds the settings, Chroma client, embedder and store once per process.

The UI wraps `get_services` in `st.cache_resource`; tests build `Services` directly with their
own settings, client or embedder (constructor injection).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from rag.auth.principal import Principal
from rag.config import Settings, get_settings
from rag.errors import RagError
from rag.index.embedder import Embedder
from rag.index.store import Store, Workspace, make_client
from rag.ingest.pipeline import Ingestor

# Answers are one to three sentences: 400 tokens was never needed, and a cap bounds the time
# a rambling reply can take (about 20 tokens a second on 2 cores for the 0.5B model).
ANSWER_TOKENS = 220


_LOCAL: dict[tuple, Any] = {}
_LOCAL_LOCK = threading.Lock()


def _local_model(cfg: Any, settings: Settings) -> Any:
    """The embedded model of `cfg`, loaded once per process (every `Services` of the process,
    whatever its data dir, shares it); None for other providers, built per `Services`."""
    if cfg.provider != "local":
        return None
    from rag.llm.providers import make_chat_model

    key = (cfg, str(settings.models_dir), settings.local_model_path, settings.local_ctx,
           settings.threads)
    with _LOCAL_LOCK:
        model = _LOCAL.get(key)
        if model is None:
            model = _LOCAL[key] = make_chat_model(cfg, settings)
    return model


@dataclass
class Services:
    settings: Settings
    client: Any
    embedder: Embedder
    store: Store = field(init=False)
    _recovered: set[str] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _models: dict = field(default_factory=dict, init=False, repr=False)
    user: Principal | str | None = None
    """Who these services act for (the CLI's --user); None: the app's signed-in user, or the
    local admin in single-user mode (rag.auth.guard.Access.resolve)."""
    _access: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.store = Store(self.client, self.embedder.name, self.embedder.dim)

    # -- who is asking: every workspace is opened through rag.auth's checks ---------------------

    @property
    def access(self):
        """Memberships, role checks and the audit trail (rag.auth.guard), built once."""
        from rag.auth.guard import Access

        with self._lock:
            if self._access is None:
                self._access = Access(self.settings)
        return self._access

    def principal(self, user: Principal | str | None = None) -> Principal:
        return self.access.resolve(user if user is not None else self.user)

    def as_user(self, user: Principal | str) -> Services:
        """These services (same store, models and caches) acting for `user`."""
        other = copy.copy(self)
        other.user = self.access.resolve(user)
        return other

    def list_workspaces(self, user: Principal | str | None = None) -> list[dict]:
        """The workspaces the user belongs to (all for admins), each with their `role`."""
        return self.access.visible(self.principal(user), self.store.list_workspaces())

    def delete_workspace(self, name: str, user: Principal | str | None = None) -> None:
        """Delete a workspace (its owners and admins only), its members with it."""
        from rag.retrieve import forget_lexical
        from rag.storage.side import forget_workspace

        collection = self.store.collection_for(name)
        self.access.delete_workspace(self.principal(user), name, self.store)
        forget_lexical(self.lexical_dir, collection)
        forget_workspace(self.side_engine, collection)

    def audit(self, action: str, workspace: Workspace | None = None, target: str = "",
              detail: dict | None = None, user: Principal | str | None = None) -> None:
        """Append a record to the audit trail (exports, settings changes...)."""
        who = getattr(workspace, "principal", None) or self.principal(user)
        self.access.record(who, action, workspace.collection_name if workspace else None,
                           target, detail)

    def workspace(self, name: str, create: bool = False, recover: bool = False,
                  user: Principal | str | None = None) -> Workspace:
        """Open a workspace for `user` (see `principal`): non-members are refused, a write
        path (`recover=True`) needs the editor role, and the handle refuses writes its role
        does not allow. Write paths pass `recover=True`: the first such open in this
        process cleans up crashed writes (reading never removes anything). A workspace created
        here keeps the process's lexicon (`settings.lexicon`) as its own."""
        made: list[Workspace] = []

        def opener(make: bool) -> Workspace:
            ws = self.store.workspace(name, create=make)
            if make:  # only asked after the workspace was not found: a new one
                made.append(ws)
            return ws

        ws = self.access.open(self.principal(user), name, opener,
                              create=create, need="editor" if recover else "viewer",
                              collection=self.store.collection_for(name))
        if made:
            self._workspace_settings().set(ws.collection_name, "lexicon",
                                           self.settings.lexicon)
        ws.purge_hooks.append(self.figure_store(ws).delete)
        if recover:
            self.recover(ws)
        return ws

    def recover(self, ws: Workspace) -> None:
        """Clean up what crashed writers left in `ws`, once per process and workspace."""
        with self._lock:
            if ws.collection_name not in self._recovered:
                ws.recover(self.settings.pending_grace_s)
                self._recovered.add(ws.collection_name)

    def ingestor(self, workspace: Workspace) -> Ingestor:
        """An ingestor for `workspace`: a write path, so crashed writes are cleaned up first."""
        from rag.analytics.questions.log import note_ingest_quietly

        self.access.require(workspace, "editor", "adding documents")
        self.recover(workspace)
        data_dir, collection = self.settings.data_dir, workspace.collection_name
        engine = self.side_engine

        def on_report(report) -> None:
            # Failures wait on the dashboard until a file of that name is added.
            note_ingest_quietly(data_dir, collection, report, engine)
            self.access.note_ingest(workspace, report)

        return Ingestor(workspace, self.embedder, self.settings,
                        figures=self.figure_store(workspace), on_report=on_report)

    def ingest_files(self, ws_name: str, files, progress=None) -> list:
        """Ingest `(filename, bytes)` pairs (or `Upload`s) into a workspace, creating it if
        needed. A bad file gives a `failed` report with its reason; it never stops the others."""
        from rag.ingest.pipeline import Upload

        uploads = [f if isinstance(f, Upload) else Upload(f[0], data=f[1]) for f in files]
        ws = self.workspace(ws_name, create=True)
        return list(self.ingestor(ws).iter_ingest(uploads, progress=progress))

    def lexicon(self, workspace: Workspace | None = None):
        """The vocabulary `workspace` is searched, prompted, checked and briefed with: the
        lexicon its setting names (`lexicon_choice`; finance by default, `none` for a
        workspace of other documents), each lexicon read once per process."""
        from rag.text.lexicon import lexicon_named

        spec = self.settings.lexicon if workspace is None else self.lexicon_choice(workspace)
        key = ("lexicon", spec)
        with self._lock:
            lex = self._models.get(key)
        if lex is None:
            lex = lexicon_named(spec)
            with self._lock:
                lex = self._models.setdefault(key, lex)
        return lex

    def lexicon_choice(self, workspace: Workspace) -> str:
        """What the workspace's lexicon setting says (finance, none or a file's path): its
        own, kept with its side state since it was created; `settings.lexicon` (RAG_LEXICON)
        for a workspace made before workspaces kept one, or when the side store cannot be
        read."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            kept = self._workspace_settings().get(workspace.collection_name, "lexicon")
        except (RagError, SQLAlchemyError):
            kept = None
        return self.settings.lexicon if kept is None else kept

    def set_lexicon(self, workspace: Workspace, spec: str) -> str:
        """Choose the vocabulary `workspace` is read with (editors and owners): finance, none
        or the path of a .toml/.json lexicon, checked before it is kept. Its stored briefs were
        made with the old one, so they are removed (they are made again when next asked for).
        Returns the choice as kept."""
        from pathlib import Path

        from rag.text.lexicon import lexicon_named

        self.access.require(workspace, "editor", "changing the workspace's vocabulary")
        choice = (spec or "").strip()
        lexicon_named(choice)  # a RagError that says what to do for a bad one
        if choice.lower() in ("", "finance", "none"):
            choice = choice.lower() or "finance"
        else:
            choice = str(Path(choice).expanduser().resolve())
        before = self.lexicon_choice(workspace)
        self._workspace_settings().set(workspace.collection_name, "lexicon", choice)
        if before != choice:
            store = self.summary_store()
            for doc in workspace.documents():
                store.delete(workspace.collection_name, doc.doc_id)
        self.audit("workspace.lexicon", workspace, target=choice,
                   detail={"before": before, "after": choice})
        return choice

    def _workspace_settings(self):
        from rag.storage.side import WorkspaceSettings

        return WorkspaceSettings(self.side_engine)

    def searcher(self, workspace: Workspace):
        from rag.retrieve import Retriever

        return Retriever(workspace, self.embedder,
                         lexical_dir=None if self.store.read_only else self.lexical_dir,
                         lexicon=self.lexicon(workspace))

    @property
    def lexical_dir(self):
        """Where each workspace's keyword index is kept between processes."""
        return self.settings.data_dir / "lexical"

    def chat_model(self, cfg=None):
        """The chat model a config names (default: from settings), built once per config."""
        from rag.llm.providers import config_from_settings, make_chat_model

        cfg = cfg or config_from_settings(self.settings)
        with self._lock:
            model = self._models.get(cfg)
            building = self._models.setdefault(("building", cfg), threading.Lock())
        if model is None:
            # One load per config: a question asked while the warm-up thread loads the model
            # waits for that load instead of starting a second one.
            with building:
                with self._lock:
                    model = self._models.get(cfg)
                if model is None:
                    model = _local_model(cfg, self.settings) or make_chat_model(cfg,
                                                                               self.settings)
                    with self._lock:
                        self._models[cfg] = model
        return model

    def figure_store(self, workspace: Workspace):
        """The workspace's cells, built once per workspace: on the shared database when
        RAG_DATABASE_URL names one (every replica reads them), else DuckDB beside the Chroma
        data (the embedded default)."""
        from rag.figures.store import DuckFigureStore, figures_path

        key = ("figures", workspace.collection_name)
        with self._lock:
            store = self._models.get(key)
        if store is None:
            if self.settings.database_url:
                from rag.storage.cells import SqlFigureStore

                store = SqlFigureStore(self.side_engine, workspace.collection_name)
            else:
                # A read-only data dir: no cells (numeric questions go to the model).
                store = DuckFigureStore(":memory:" if self.store.read_only else figures_path(
                    self.settings.data_dir, workspace.collection_name))
            with self._lock:
                store = self._models.setdefault(key, store)
        return store

    # -- the side stores of each workspace, on the storage port (ask here; never construct
    # them): SQLite in the data dir, or the database of RAG_DATABASE_URL that replicas share ---

    @property
    def side_engine(self):
        """The storage port's database (rag.storage.db), migrated once per process."""
        from rag.storage.db import engine_for

        return engine_for(self.settings)

    def question_log(self, workspace: Workspace):
        """The workspace's question log (and ingest failures)."""
        from rag.analytics.questions.log import QuestionLog

        return QuestionLog(self.settings.data_dir, workspace.collection_name, self.side_engine)

    def eval_history(self, workspace: Workspace):
        """The workspace's evaluation runs over time."""
        from rag.eval.history import EvalHistory

        return EvalHistory(self.settings.data_dir, workspace.collection_name, self.side_engine)

    def summary_store(self):
        """Stored briefs (keyed by workspace collection and document in each call)."""
        from rag.analytics.summaries.store import SummaryStore

        return SummaryStore(self.settings.data_dir, self.side_engine)

    def analysis_store(self):
        """Stored feedback analyses (keyed by workspace collection and document in each call)."""
        from rag.analytics.feedback.store import AnalysisStore

        return AnalysisStore(self.settings.data_dir, self.side_engine)

    def log_answer(self, workspace: Workspace, answer, source: str = "app") -> int | None:
        """Keep an answer in the workspace's question log, with its question's vector; a log
        that cannot be written never stops a question from being answered."""
        from rag.analytics.questions.log import log_quietly

        self.access.note_question(workspace, answer, source)
        try:
            engine = self.side_engine
        except RagError:
            return None  # a log that cannot be opened never stops a question
        return log_quietly(self.settings.data_dir, workspace.collection_name, answer, source,
                           self.embedder, engine)

    def figure_engine(self, workspace: Workspace):
        from rag.figures.engine import FigureEngine

        return FigureEngine(self.figure_store(workspace))

    def answerer(self, workspace: Workspace, model=None, k: int = 5,
                 figures: bool | None = None, prompt: str = "compact",
                 max_tokens: int = ANSWER_TOKENS):
        """Grounded answers over `workspace`; numeric questions are computed from its cells
        (pass `figures=False` for the model-only path, as the benchmark's baseline).
        `prompt="full"` shows the model every passage at full focus length, as before the
        compact prompt (rag.answer.PROMPTS; the latency benchmark's baseline)."""
        from rag.answer import Answerer

        if figures is None:
            figures = self.settings.compute_figures
        engine = self.figure_engine(workspace) if figures else None
        return Answerer(self.searcher(workspace), model or self.chat_model(), k=k,
                        figures=engine, prompt=prompt, max_tokens=max_tokens,
                        lexicon=self.lexicon(workspace))

    def warm(self, cfg=None) -> None:
        """Load the embedder and the chat model and evaluate the fixed start of the answer
        prompt, so the first question pays none of it. Slow (seconds): the app runs it in a
        background thread at start (`warm_in_background`); errors are left for the first
        question to report."""
        from rag.answer import warm_model

        embed = getattr(self.embedder, "embed", None)
        if embed is not None:
            embed(["warm up"])
        warm_model(self.chat_model(cfg), figures=self.settings.compute_figures)

    def warm_in_background(self, cfg=None) -> threading.Thread:
        """`warm` in a daemon thread; the page's script thread never waits on it (a question
        asked meanwhile waits only for what is still loading)."""
        def run() -> None:
            # a model that cannot load: the first question shows the error
            with contextlib.suppress(Exception):
                self.warm(cfg)

        t = threading.Thread(target=run, name="ragdesk-warm", daemon=True)
        t.start()
        return t


def embedder_identity(settings: Settings) -> tuple[str, int] | None:
    """The (name, dimension) `build_embedder` will report, without loading anything; None for
    a model folder, whose dimension is only known once loaded."""
    from rag.index.embedder import PACKAGED

    if settings.embed_model not in PACKAGED:
        return None
    backend = settings.embed_backend.strip().lower()
    name = settings.embed_model if backend == "torch" else f"{settings.embed_model}-{backend}"
    return name, PACKAGED[settings.embed_model][1]


def background_embedder(settings: Settings):
    """The configured packaged model, loading in a background thread (its name and dimension
    are known at once, so the store opens before the weights are read)."""
    from rag.index.background import BackgroundEmbedder

    identity = embedder_identity(settings)
    assert identity is not None, "only packaged models load in the background"
    return BackgroundEmbedder(*identity, load=lambda: build_embedder(settings))


def build_embedder(settings: Settings | None = None) -> Embedder:
    """The configured embedding model (slow: loads the weights). Cache the result."""
    settings = settings or get_settings()
    backend = settings.embed_backend.strip().lower()
    if backend == "torch":
        from rag.index.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            settings.embed_model, batch_size=settings.embed_batch_size, threads=settings.threads
        )
    if backend in ("onnx-int8", "onnx-fp32"):
        from rag.index.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(settings.embed_model, cache_dir=settings.models_dir,
                            quant=backend.split("-", 1)[1], batch_size=settings.embed_batch_size,
                            threads=settings.threads,
                            max_length=settings.embed_max_tokens or None)
    raise RagError(f"unknown embedding backend '{settings.embed_backend}': "
                   "set RAG_EMBED_BACKEND to onnx-int8, onnx-fp32 or torch")


def build_services(settings: Settings | None = None, embedder: Embedder | None = None,
                   client: Any = None) -> Services:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings)
    return Services(settings=settings, client=client or make_client(settings), embedder=embedder)
