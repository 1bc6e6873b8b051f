"""The storage contract: one suite every backend of a port must pass.

The side-state port (question log, evaluation runs, briefs, analyses, figure cells, memberships,
audit) runs against SQLite in the data directory (the embedded default: always) and a real
PostgreSQL server (a throwaway cluster started here; see `servers.py`). The figure-store port
also runs against DuckDB, its embedded default. The vector store runs against Chroma on disk
and a real `chroma run` server.

A server that cannot be started fails under CI and skips elsewhere.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace

import numpy as np
import pytest
import servers
from conftest import close_client
from fakes import HashEmbedder
from sqlalchemy import update

from rag.analytics.feedback.store import AnalysisStore
from rag.analytics.questions.log import QuestionLog
from rag.analytics.summaries.brief import Brief, fingerprint
from rag.analytics.summaries.store import SummaryStore
from rag.errors import NotFound
from rag.eval.history import EvalHistory
from rag.figures.store import DuckFigureStore
from rag.storage import db, legacy, tables
from rag.storage.cells import SqlFigureStore
from rag.storage.side import (
    AuditTrail,
    Conversations,
    Memberships,
    WorkspaceSettings,
    forget_workspace,
)
from rag.types import Cell, DocumentInfo

WS = "rd-contract-0123456789abcdef0123"
OTHER = "rd-other-0123456789abcdef01234"


@pytest.fixture(scope="module")
def pg_server():
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def side(request, tmp_path):
    """(data_dir, engine) of one backend, empty, migrated to head by the app's own code."""
    db.dispose_all()
    legacy.forget()
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_server")
        servers.empty_database(url)
        settings = type("S", (), {"data_dir": tmp_path, "database_url": url})()
    else:
        settings = type("S", (), {"data_dir": tmp_path, "database_url": None})()
    engine = db.engine_for(settings)
    yield tmp_path, engine
    db.dispose_all()


def _row(q: str, **kw) -> dict:
    return {"asked_at": kw.pop("at", time.time()), "question": q, "abstained": False,
            "citation_check": "ok", "citations": 1, "flags": ["x"],
            "passages": [{"chunk_id": "c", "doc_id": "d", "doc_name": "n", "page": 1,
                          "location": "p. 1", "snippet": "s", "score": 0.5}], **kw}


def test_question_log_contract(side):
    data_dir, engine = side
    log, other = QuestionLog(data_dir, WS, engine), QuestionLog(data_dir, OTHER, engine)
    a, b = log.add_many([_row("first?", at=1.0), _row("second?", at=2.0, source="reask")])
    other.add(_row("not yours?"))
    assert [r.question for r in log.records()] == ["first?"]  # re-asks left out
    assert [r.question for r in log.records(include_reasks=True)] == ["first?", "second?"]
    assert log.count() == 2 and other.count() == 1
    r = log.get(a)
    assert r.flags == ("x",) and r.passages[0].doc_id == "d" and r.citations == 1
    assert log.get(other.records()[0].id) is None  # another workspace's id: not found here
    log.mark_resolved(a, "done", resolved_by=b)
    assert log.get(a).resolved and log.get(a).resolution == "done"
    log.reopen(a)
    assert not log.get(a).resolved
    with pytest.raises(NotFound):
        log.mark_resolved(10_000)
    # vectors: embedded once, read back as stored, per model
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32)

    X, missing = log.vectors(["a", "b"], "m", embed)
    assert X.shape == (2, 4) and missing == [] and abs(float(X[0] @ X[0]) - 1) < 1e-6
    X2, _ = log.vectors(["b", "a", "c"], "m", embed)
    assert calls == [["a", "b"], ["c"]] and np.allclose(X2[1], X[0])
    log.vectors(["a"], "m", embed)  # stored already: no second write, no conflict
    # caches and ingest failures
    log.cache_put("topics", {"k": 1})
    log.cache_put("topics", {"k": 2})
    assert log.cache_get("topics") == {"k": 2} and other.cache_get("topics") is None
    log.record_ingest("bad.pdf", False, "broken")
    log.record_ingest("bad.pdf", False, "still broken")
    (f,) = log.failures()
    assert f["attempts"] == 2 and f["message"] == "still broken" and other.failures() == []
    log.record_ingest("bad.pdf", True)
    assert log.failures() == []
    # a deleted workspace's rows go with it; the other's stay
    forget_workspace(engine, WS)
    assert log.count() == 0 and log.cache_get("topics") is None and other.count() == 1


def test_eval_history_contract(side):
    from rag.eval.retrieval import EvalRun

    data_dir, engine = side
    hist = EvalHistory(data_dir, WS, engine)
    assert hist.runs() == [] and hist.result(1) is None
    run = EvalRun(set_name="s", k=5, recall=0.5, mrr=0.25, embed_model="m",
                  settings={"chunk_chars": 900}, seconds=1.5, created_at=10.0, results=[])
    rid = hist.add(run)
    (got,) = hist.runs()
    assert got["id"] == rid and got["recall"] == 0.5 and got["settings"] == {"chunk_chars": 900}
    assert hist.result(rid) == json.loads(json.dumps(run.to_dict(), default=str))
    assert EvalHistory(data_dir, OTHER, engine).runs() == []


def _doc(doc_id: str, added: float = 100.0, chunks: int = 3) -> DocumentInfo:
    return DocumentInfo(doc_id, f"name {doc_id}", f"{doc_id}.txt", "text", 1, chunks, 10, added)


def _brief(doc: DocumentInfo, kind: str = "earnings", model: str = "", at: float = 1.0,
           doc_id: str | None = None, fp: str | None = None) -> Brief:
    return Brief(doc_id=doc_id or doc.doc_id, doc_name=doc.name, kind=kind, model=model,
                 method="extractive", created_at=at, fingerprint=fp or fingerprint(doc))


def test_summary_store_contract(side):
    data_dir, engine = side
    store = SummaryStore(data_dir, engine)
    a, b = _doc("aaa"), _doc("bbb")
    store.save(WS, _brief(a, at=1.0))
    store.save(WS, _brief(a, at=2.0))  # the same document, kind and model: replaced
    store.save(WS, _brief(a, model="big", at=3.0))
    store.save(WS, _brief(a, doc_id="aaa-vs-bbb", kind="compare",
                          fp=f"{fingerprint(a)}||{fingerprint(b)}", at=4.0))
    assert store.load(WS, a, "earnings", "").created_at == 2.0
    assert store.load(WS, replace(a, chunks=4), "earnings", "") is None  # stale
    assert store.load_compare(WS, a, b, "") is not None
    assert store.latest(WS, a).model == "big"
    assert [x["kind"] for x in store.list(WS)] == ["compare", "earnings", "earnings"]
    assert [x["kind"] for x in store.list(WS, [a])] == ["earnings", "earnings"]
    assert store.list(OTHER) == []
    assert store.delete(WS, "bbb") == 1 and store.delete(WS, "aaa") == 2
    assert store.list(WS) == []


def test_analysis_store_contract(side, monkeypatch):
    from rag.analytics.feedback import store as fbstore

    data_dir, engine = side
    store = AnalysisStore(data_dir, engine)
    doc = _doc("fb1")
    monkeypatch.setattr(fbstore, "to_json", lambda a: {"version": "t", "a": a})
    monkeypatch.setattr(fbstore, "from_json", lambda d: type("A", (), {
        "source": {"fingerprint": d["a"]["fp"]}, "payload": d["a"]})())
    a = {"fp": fbstore.fingerprint(doc, "m"), "themes": ["x" * 5000]}
    fake = type("A", (), {"source": {"fingerprint": a["fp"]}, "run_id": ""})()
    monkeypatch.setattr(fbstore, "to_json", lambda _a: {"version": "t", "a": a})
    assert store.saved_at(WS, "fb1") is None
    store.save(WS, "fb1", fake)
    first = store.saved_at(WS, "fb1")
    assert store.load(WS, doc, "m").payload == a
    assert store.load(WS, doc, "other") is None and store.load(OTHER, doc, "m") is None
    store.save(WS, "fb1", fake)
    assert store.saved_at(WS, "fb1") >= first
    store.delete(WS, "fb1")
    assert store.load(WS, doc, "m") is None


def _cells(doc_id: str, n: int = 3) -> list[Cell]:
    return [Cell(doc_id=doc_id, doc_name=f"n{doc_id}", row_label=f"Net sales {i}",
                 period=f"FY{2020 + i}", value=str(100 + i), text=f"{100 + i}", span="line",
                 unit="USD millions", page=i + 1, table="t1", statement="income",
                 year=2020 + i, ordinal=i) for i in range(n)]


@pytest.fixture(params=["duckdb", "sql-sqlite", "sql-postgresql"])
def figure_store(request, tmp_path):
    if request.param == "duckdb":
        yield DuckFigureStore(tmp_path / "f.duckdb")
        return
    db.dispose_all()
    url = None
    if request.param == "sql-postgresql":
        url = request.getfixturevalue("pg_server")
        servers.empty_database(url)
    engine = db.engine_for(type("S", (), {"data_dir": tmp_path, "database_url": url})())
    yield SqlFigureStore(engine, WS)
    db.dispose_all()


def test_figure_store_contract(figure_store):
    s = figure_store
    assert s.cells() == [] and s.doc_ids() == [] and not s.has("d1")
    s.put("d1", _cells("d1"))
    s.put("d2", _cells("d2", 2))
    s.put("d1", _cells("d1"))  # idempotent: replaced whole
    assert sorted(s.doc_ids()) == ["d1", "d2"] and s.has("d1")
    got = s.cells(["d1"])
    assert got == _cells("d1")  # every field round-trips, in order
    assert s.cells([]) == []
    assert [c.period for c in s.cells(item="NET SALES 1")] == ["FY2021", "FY2021"]
    assert len(s.cells(period="FY2020")) == 2 and len(s.cells(statement="income")) == 5
    assert len(s.cells(limit=2)) == 2
    s.delete("d1")
    assert s.doc_ids() == ["d2"]
    s.put("d2", [])
    assert s.cells() == []


def test_memberships_and_audit_contract(side):
    _, engine = side
    m, trail = Memberships(engine), AuditTrail(engine, secrets=["tok-123456"])
    assert m.set(WS, "A@x.io", "owner") is None and m.set(WS, "a@x.io", "viewer") == "owner"
    assert m.role(WS, "a@x.io") == "viewer" and m.workspaces_of("a@x.io") == {WS: "viewer"}
    trail.record("a@x.io", "ask", WS, "q", {"token": "tok-123456", "n": 1})
    trail.record("b@x.io", "signin")
    (e,) = trail.query(workspaces=[WS], include_global=False)
    assert e.detail == {"token": "[redacted]", "n": 1}
    assert len(trail.query()) == 2
    assert m.remove(WS, "a@x.io") and m.members(WS) == []


def test_conversations_contract(side):
    """The Ask page's chats: one per workspace and user, replaced whole, gone with the
    workspace; the page's own load/save round-trip an answer with its citations."""
    from rag.answer import Answer, Citation
    from rag.types import Chunk, Hit
    from rag.ui import conversations
    from rag.ui.pages.ask import Turn

    data_dir, engine = side
    store = Conversations(engine)
    assert store.get(WS, "a@x.io") is None
    store.put(WS, "A@x.io", '{"turns": []}', 1)
    store.put(WS, "a@x.io", '{"version": 1, "turns": [1, 2]}', 2)  # replaced, not added
    store.put(WS, "b@x.io", "{}", 1)
    store.put(OTHER, "a@x.io", "{}", 1)
    assert store.get(WS, "a@x.io") == '{"version": 1, "turns": [1, 2]}'
    assert store.users(WS) == {"a@x.io": 2, "b@x.io": 1}
    store.put(WS, "b@x.io", "", 0)  # an empty chat is removed
    assert store.users(WS) == {"a@x.io": 2}

    url = engine.url.render_as_string(hide_password=False)
    settings = type("S", (), {"data_dir": data_dir, "database_url": url})()
    c = Chunk("c1", "d1", "call", 0, "Revenue was $412.6 million.", kind="transcript")
    a = Answer("q", "q", "Revenue was $412.6 million. [1]",
               [Citation(1, c, "Revenue was $412.6 million.", 0.9, ("412.6",))], False,
               [Hit(c, 0.5, {"fused": 0.5})], "m")
    kept = conversations.kept_for(settings, WS, "Carol@x.io")
    assert conversations.save(kept, [Turn("q", answer=a), Turn("again?", answer=a)])
    assert [t.question for t in conversations.load(kept, Turn)] == ["q", "again?"]
    assert conversations.load(kept, Turn)[0].answer == a
    assert conversations.load(conversations.kept_for(settings, OTHER, "carol@x.io"), Turn) == []
    with engine.begin() as con:  # damaged text is an empty chat, never a crash
        con.execute(update(tables.conversations).where(
            tables.conversations.c.user == "carol@x.io").values(payload="{not json"))
    assert conversations.load(kept, Turn) == []
    assert conversations.save(kept, [])
    assert "carol@x.io" not in store.users(WS)

    forget_workspace(engine, WS)
    assert store.users(WS) == {} and store.users(OTHER) == {"a@x.io": 1}


def test_workspace_settings_contract(side):
    """A workspace's own settings: one value a key, replaced, apart from other workspaces',
    gone with the workspace."""
    _, engine = side
    store = WorkspaceSettings(engine)
    assert store.get(WS, "lexicon") is None and store.all(WS) == {}
    store.set(WS, "lexicon", "finance")
    store.set(WS, "lexicon", "none")  # replaced, not added
    store.set(OTHER, "lexicon", "/srv/lexicons/clinical.toml")
    assert store.get(WS, "lexicon") == "none" and store.all(WS) == {"lexicon": "none"}
    forget_workspace(engine, WS)
    assert store.get(WS, "lexicon") is None
    assert store.get(OTHER, "lexicon") == "/srv/lexicons/clinical.toml"


def test_migrations_reach_head(side):
    _, engine = side
    assert db.current_revision(engine) == db.HEAD_REVISION


# -- an existing SQLite data directory upgrades in place -----------------------------------------


def test_an_old_data_dir_upgrades_in_place(tmp_path):
    """A data dir of the previous release (schema 0001, per-workspace files) opens at head with
    its question log, runs, briefs and analyses on the port, the old files kept aside."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    db.dispose_all()
    legacy.forget()
    url = f"sqlite:///{tmp_path / db.SQLITE_NAME}"
    old_engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(db.HERE / "alembic"))
    with old_engine.begin() as con:
        cfg.attributes["connection"] = con
        command.upgrade(cfg, "0001")
    old_engine.dispose()
    folder = tmp_path / "analytics" / WS
    folder.mkdir(parents=True)
    q = sqlite3.connect(folder / "questions.sqlite")
    q.executescript("""
        CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at REAL NOT NULL,
            question TEXT NOT NULL, rewritten TEXT NOT NULL DEFAULT '', model TEXT NOT NULL
            DEFAULT '', seconds REAL, first_token_s REAL, abstained INTEGER NOT NULL,
            citation_check TEXT NOT NULL, citations INTEGER NOT NULL DEFAULT 0, flags TEXT NOT
            NULL DEFAULT '[]', passages TEXT NOT NULL DEFAULT '[]', answer TEXT NOT NULL DEFAULT
            '', source TEXT NOT NULL DEFAULT 'app', reask_of INTEGER, resolved_at REAL,
            resolved_by INTEGER, resolution TEXT NOT NULL DEFAULT '');
        CREATE TABLE question_vectors (key TEXT NOT NULL, model TEXT NOT NULL, vec BLOB NOT NULL,
            PRIMARY KEY (key, model));
        CREATE TABLE ingest_failures (filename TEXT PRIMARY KEY, message TEXT NOT NULL,
            failed_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 1);
        INSERT INTO questions (id, asked_at, question, abstained, citation_check)
            VALUES (7, 1.0, 'old question?', 1, 'none');
        INSERT INTO questions (id, asked_at, question, abstained, citation_check, source,
            reask_of) VALUES (9, 2.0, 'old question?', 0, 'ok', 'reask', 7);
        UPDATE questions SET resolved_at = 3.0, resolved_by = 9, resolution = 'answered'
            WHERE id = 7;
        INSERT INTO ingest_failures VALUES ('bad.pdf', 'broken', 1.0, 2);
    """)
    q.execute("INSERT INTO question_vectors VALUES ('k', 'm', ?)",
              (np.ones(4, dtype=np.float32).tobytes(),))
    q.commit()
    q.close()
    e = sqlite3.connect(folder / "eval.sqlite")
    e.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL,
            set_name TEXT NOT NULL DEFAULT '', k INTEGER NOT NULL, questions INTEGER NOT NULL,
            recall REAL NOT NULL, mrr REAL NOT NULL, embed_model TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}', seconds REAL NOT NULL DEFAULT 0,
            result TEXT NOT NULL DEFAULT '{}');
        INSERT INTO runs (created_at, set_name, k, questions, recall, mrr, result)
            VALUES (5.0, 'old set', 5, 3, 0.6, 0.4, '{"set_name": "old set"}');
    """)
    e.commit()
    e.close()
    doc = _doc("aaa")
    (folder / "summaries").mkdir()
    (folder / "summaries" / "aaa.earnings.x.json").write_text(json.dumps(_brief(doc).to_dict()))
    (folder / "fb1.json").write_text(json.dumps({"version": "v", "source": {"fingerprint": "f"}}))

    settings = type("S", (), {"data_dir": tmp_path, "database_url": None})()
    engine = db.engine_for(settings)
    assert db.current_revision(engine) == db.HEAD_REVISION
    log = QuestionLog(tmp_path, WS, engine)
    first, again = log.records(include_reasks=True)
    assert first.question == "old question?" and first.resolved and again.reask_of == first.id
    assert first.resolved_by == again.id
    assert log.failures()[0]["attempts"] == 2
    assert log.vectors(["x"], "m")[1] == [0]  # the old vector is there under its own key
    assert EvalHistory(tmp_path, WS, engine).runs()[0]["set"] == "old set"
    assert SummaryStore(tmp_path, engine).load(WS, doc, "earnings", "") is not None
    assert AnalysisStore(tmp_path, engine).saved_at(WS, "fb1") is not None
    assert (folder / "questions.sqlite.imported").exists()
    assert not (folder / "questions.sqlite").exists() and not (folder / "fb1.json").exists()
    # a second process (or start) imports nothing twice
    legacy.forget()
    assert len(QuestionLog(tmp_path, WS, engine).records(include_reasks=True)) == 2
    db.dispose_all()


def test_a_0002_data_dir_upgrades_in_place_with_its_conversations(tmp_path):
    """A data dir of schema 0002 (conversations in files on this replica's disk) opens at head
    with its data kept, and a user's kept chat moves onto the port when first read."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from rag.answer import Answer
    from rag.ui import conversations
    from rag.ui.pages.ask import Turn

    db.dispose_all()
    legacy.forget()
    old_engine = create_engine(f"sqlite:///{tmp_path / db.SQLITE_NAME}")
    cfg = Config()
    cfg.set_main_option("script_location", str(db.HERE / "alembic"))
    with old_engine.begin() as con:
        cfg.attributes["connection"] = con
        command.upgrade(cfg, "0002")
    old_engine.dispose()
    Memberships(create_engine(f"sqlite:///{tmp_path / db.SQLITE_NAME}")).set(WS, "a@x.io",
                                                                              "owner")
    file = conversations.path_for(tmp_path, WS, "a@x.io")
    answer = Answer("old?", "old?", "Kept.", [], False, [], "m")
    assert conversations.save(file, [Turn("old?", answer=answer)])  # the older release's file

    settings = type("S", (), {"data_dir": tmp_path, "database_url": None})()
    engine = db.engine_for(settings)
    assert db.current_revision(engine) == db.HEAD_REVISION == "0004"
    assert Memberships(engine).role(WS, "a@x.io") == "owner"
    kept = conversations.kept_for(settings, WS, "a@x.io")
    (turn,) = conversations.load(kept, Turn)
    assert turn.question == "old?" and turn.answer == answer
    assert not file.exists() and file.with_name(file.name + ".imported").exists()
    assert Conversations(engine).users(WS) == {"a@x.io": 1}
    assert [t.question for t in conversations.load(kept, Turn)] == ["old?"]  # from the row now
    assert conversations.load(conversations.kept_for(settings, WS, "b@x.io"), Turn) == []
    db.dispose_all()


# -- the vector store: Chroma on disk and a real `chroma run` -------------------------------------


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    with servers.chroma_server(tmp_path_factory.mktemp("chroma-contract")) as url:
        yield url


@pytest.fixture(params=["disk", "server"])
def vector_services(request, tmp_path):
    from rag.config import Settings
    from rag.services import build_services

    url = request.getfixturevalue("chroma_url") if request.param == "server" else None
    svc = build_services(Settings(data_dir=tmp_path / "d", chroma_url=url),
                         embedder=HashEmbedder())
    yield svc
    close_client(svc.client)


def test_vector_store_contract(vector_services, request):
    from rag.ingest.pipeline import Upload

    svc = vector_services
    name = f"contract {request.node.callspec.id} {time.time_ns()}"
    ws = svc.workspace(name, create=True)
    reps = svc.ingestor(ws).ingest_many([
        Upload("alpha.txt", data=b"The Beacon arm ships lithium batteries to Europe in May."),
        Upload("beta.txt", data=b"Churn fell among enterprise customers after the price cut."),
    ])
    assert [r.status for r in reps] == ["added", "added"]
    assert {d.name for d in ws.documents()} == {"alpha", "beta"}
    searcher = svc.searcher(ws)
    assert searcher.search("lithium batteries Europe", k=1, mode="lexical")[0].chunk.doc_name \
        == "alpha"
    assert searcher.search("enterprise churn price cut", k=1, mode="dense")[0].chunk.doc_name \
        == "beta"
    ws.delete_document(reps[0].doc.doc_id)
    assert {d.name for d in ws.documents()} == {"beta"}
    assert all(h.chunk.doc_name == "beta" for h in searcher.search("lithium", k=3))
    svc.delete_workspace(name)
    assert name not in [w["name"] for w in svc.store.list_workspaces()]


def test_ready_set_changes_are_seen_through_the_change_token(vector_services, request):
    """`versions()` lists the manifest only when its change token moved: another handle's
    commit and delete are seen at once, an unchanged manifest is read by id alone."""
    from rag.index.store import REVISION_ID
    from rag.types import Chunk, DocumentInfo

    svc = vector_services
    name = f"token {request.node.callspec.id} {time.time_ns()}"
    reader, writer = svc.workspace(name, create=True), svc.workspace(name)
    assert reader.versions() == {}

    def doc(doc_id: str) -> tuple[DocumentInfo, list[Chunk]]:
        info = DocumentInfo(doc_id=doc_id, name=doc_id, filename=f"{doc_id}.txt", kind="text",
                            units=1, chunks=1, size=10, added_at=time.time())
        return info, [Chunk(id=f"{doc_id}-0", doc_id=doc_id, doc_name=doc_id, ordinal=0,
                            kind="text", text=f"passage of {doc_id}")]

    a, chunks = doc("a")
    writer.begin(a)
    writer.add_chunks(chunks, np.asarray(svc.embedder.embed([c.text for c in chunks])))
    assert reader.versions() == {} and reader.ready_ids() == []  # pending: not ready
    writer.commit(a)
    assert list(reader.versions()) == ["a"] and reader.ready_ids() == ["a"]

    calls: list[dict] = []
    real_get = reader._manifest.get

    def counting_get(*args, **kwargs):
        calls.append(kwargs)
        return real_get(*args, **kwargs)

    reader._manifest.get = counting_get
    try:
        assert list(reader.versions()) == ["a"]
        assert [c.get("ids") for c in calls] == [[REVISION_ID]]  # one read by id, no listing
        writer.delete_document("a")
        calls.clear()
        assert reader.versions() == {}
        assert len(calls) == 2  # the token moved: listed again
    finally:
        reader._manifest.get = real_get
    assert [d.doc_id for d in reader.documents(include_pending=True)] == []  # token not a doc
    svc.delete_workspace(name)
