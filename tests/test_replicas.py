"""Two replicas behave as one: two `Services` with their own data directories (as two app
processes on two machines would have) sharing one real `chroma run` and one real PostgreSQL.

A document ingested through replica 1 is found by keyword and by meaning on replica 2 (whose
keyword index, kept in its own data dir, was built before the document came and must rebuild);
a question asked on replica 2 is in replica 1's question log and Dashboard data; a deletion
through one is gone on both, cells and briefs with it. And the Chroma server is not open to
anyone: `RAG_CHROMA_TOKEN` passes nginx's token gate in front of `chroma run` (the README's
setup), and no token or a wrong one is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import servers
from conftest import close_client
from fakes import HashEmbedder

from rag.answer import Answer
from rag.config import Settings
from rag.errors import RagError
from rag.ingest.pipeline import Upload
from rag.services import build_services
from rag.storage import db
from rag.types import Cell

pytestmark = pytest.mark.server

WITHIN_S = 10.0


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """(chroma URL, database URL) of one server each, for the whole module."""
    with servers.postgres_server() as pg, \
            servers.chroma_server(tmp_path_factory.mktemp("chroma-replicas")) as chroma:
        servers.empty_database(pg)
        yield chroma, pg


@pytest.fixture
def replicas(shared, tmp_path):
    chroma, pg = shared
    db.dispose_all()
    emb = HashEmbedder()
    made = [build_services(Settings(data_dir=tmp_path / f"replica{i}", chroma_url=chroma,
                                    database_url=pg), embedder=emb) for i in (1, 2)]
    yield made
    for svc in made:
        close_client(svc.client)
    db.dispose_all()


def _until(check, within: float = WITHIN_S):
    """Poll `check` until it returns something truthy; (value, seconds taken)."""
    start = time.monotonic()
    while True:
        got = check()
        if got or time.monotonic() - start > within:
            return got, time.monotonic() - start
        time.sleep(0.1)


def test_a_document_ingested_on_one_is_found_on_the_other(replicas, request):
    r1, r2 = replicas
    name = f"Shared {request.node.name} {time.time_ns()}"
    ws1 = r1.workspace(name, create=True)
    r1.ingestor(ws1).ingest_many([Upload("old.txt", data=b"Quarterly staffing plan for Osaka.")])
    ws2 = r2.workspace(name)
    s2 = r2.searcher(ws2)
    # Replica 2 builds (and keeps in its own data dir) the keyword index of the old set.
    assert s2.search("staffing Osaka", k=1, mode="lexical")[0].chunk.doc_name == "old"
    assert list((r2.settings.data_dir / "lexical").glob("*.npz"))

    rep = r1.ingestor(ws1).ingest_many([Upload(
        "beacon.txt", data=b"The Beacon arm ships zirconium batteries to Lisbon in May.")])[0]
    assert rep.status == "added"

    def found(mode: str, query: str):
        return lambda: [h for h in s2.search(query, k=3, mode=mode)
                        if h.chunk.doc_name == "beacon"]

    hits, secs = _until(found("lexical", "zirconium Lisbon"))
    assert hits, f"replica 2's keyword index never saw the new document ({secs:.1f} s)"
    hits, secs = _until(found("dense", "The Beacon arm ships zirconium batteries"))
    assert hits, f"replica 2's vector search never saw the new document ({secs:.1f} s)"
    # A fresh process of replica 2 loads its saved index, and that index has the document.
    db.dispose_all()
    r2b = build_services(r2.settings, embedder=r2.embedder)
    try:
        ws2b = r2b.workspace(name)
        assert [h.chunk.doc_name for h in r2b.searcher(ws2b).search(
            "zirconium", k=1, mode="lexical")] == ["beacon"]
    finally:
        close_client(r2b.client)

    # Deleted through replica 2: gone on replica 1, by both kinds of search.
    ws2.delete_document(rep.doc.doc_id)
    s1 = r1.searcher(ws1)
    assert not [h for h in s1.search("zirconium Lisbon", k=3, mode="lexical")
                if h.chunk.doc_name == "beacon"]
    assert not [h for h in s1.search("Beacon zirconium batteries", k=3, mode="dense")
                if h.chunk.doc_name == "beacon"]
    assert {d.name for d in ws1.documents()} == {"old"}


def test_questions_briefs_cells_and_deletion_are_shared(replicas, request):
    from rag.analytics import dashboard as dash
    from rag.analytics.summaries.brief import summarize_document

    r1, r2 = replicas
    name = f"Shared {request.node.name} {time.time_ns()}"
    ws1 = r1.workspace(name, create=True)
    rep = r1.ingestor(ws1).ingest_many([Upload(
        "call.txt", data=b"Revenue was $412.6 million in the second quarter, up 9 percent.")])[0]
    ws2 = r2.workspace(name)

    # A question asked on replica 2 is in replica 1's log and Dashboard data.
    hits = r2.searcher(ws2).search("revenue second quarter", k=3)
    answer = Answer(question="What was revenue in Q2?", rewritten="", text="$412.6 million",
                    citations=[], abstained=False, hits=hits, model="scripted", seconds=1.0)
    assert r2.log_answer(ws2, answer) is not None
    assert [r.question for r in r1.question_log(ws1).records()] == ["What was revenue in Q2?"]
    board = dash.collect(r1.settings.data_dir, ws1, None, "hash")
    assert [r.question for r in board.questions.records] == ["What was revenue in Q2?"]
    failed = r2.ingestor(ws2).ingest_many([Upload("empty.txt", data=b"")])[0]
    assert failed.status == "failed"
    assert [f["filename"] for f in r1.question_log(ws1).failures()] == ["empty.txt"]

    # A brief written on replica 1 is shown on replica 2; cells too.
    doc = ws1.get_document(rep.doc.doc_id)
    _, cached = summarize_document(ws1, doc, "earnings", None, store=r1.summary_store())
    assert not cached
    assert r2.summary_store().load(ws2.collection_name, ws2.get_document(doc.doc_id),
                                   "earnings", "") is not None
    cell = Cell(doc_id=doc.doc_id, doc_name=doc.name, row_label="Revenue", period="Q2 2026",
                value="412.6", text="$412.6 million", span="Revenue was $412.6 million")
    r1.figure_store(ws1).put(doc.doc_id, [cell])
    assert r2.figure_store(ws2).cells([doc.doc_id]) == [cell]

    # Deleted on replica 2: gone on replica 1, its cells with it; the workspace's deletion
    # takes its side state from the shared database.
    ws2.delete_document(doc.doc_id)
    assert ws1.documents() == [] and r1.figure_store(ws1).cells() == []
    r2.delete_workspace(name)
    with pytest.raises(RagError):
        r1.workspace(name)
    assert r1.question_log(ws1).records() == [] and r1.summary_store().list(
        ws1.collection_name) == []


def test_a_conversation_continues_on_the_other_replica(replicas, request):
    """The Ask page's chat is kept on the shared port: a reload that lands on replica 2 finds
    what the user asked on replica 1 (and only that user's)."""
    from rag.ui import conversations
    from rag.ui.pages.ask import Turn

    r1, r2 = replicas
    ws = r1.workspace(f"Chat {request.node.name} {time.time_ns()}", create=True)
    answer = Answer(question="What was revenue?", rewritten="", text="$412.6 million",
                    citations=[], abstained=False, hits=[], model="scripted", seconds=1.0)
    on_1 = conversations.kept_for(r1.settings, ws.collection_name, "dana@example.com")
    assert conversations.save(on_1, [Turn("What was revenue?", answer=answer)])
    on_2 = conversations.kept_for(r2.settings, ws.collection_name, "dana@example.com")
    (turn,) = conversations.load(on_2, Turn)
    assert turn.question == "What was revenue?" and turn.answer == answer
    assert conversations.load(conversations.kept_for(r2.settings, ws.collection_name,
                                                     "eve@example.com"), Turn) == []
    assert not list(r1.settings.data_dir.rglob("conversations"))  # nothing on one disk
    conversations.save(on_2, [])  # cleared on 2: gone on 1
    assert conversations.load(on_1, Turn) == []


# -- Chroma's token, through nginx's gate in front of `chroma run` ----------------------------------

TOKEN = "chroma-token-7f3a9c1e5b"


@pytest.fixture(scope="module")
def gated(shared, tmp_path_factory):
    chroma, _ = shared
    with servers.token_gate(tmp_path_factory.mktemp("gate"), chroma, TOKEN) as url:
        yield url


def test_chroma_token_is_sent_and_a_missing_or_wrong_one_is_refused_clearly(gated, tmp_path,
                                                                              capfd):
    ok = build_services(Settings(data_dir=tmp_path / "ok", chroma_url=gated, chroma_token=TOKEN),
                        embedder=HashEmbedder())
    try:
        ws = ok.workspace("Gated", create=True)
        ok.ingestor(ws).ingest_many([Upload("g.txt", data=b"Gated vectors stay private.")])
        assert ok.searcher(ws).search("private vectors", k=1)[0].chunk.doc_name == "g"
    finally:
        close_client(ok.client)
    for token, said in (("", "asks for a token"), ("wrong-token-123", "refused the token")):
        with pytest.raises(RagError) as err:
            svc = build_services(Settings(data_dir=tmp_path / "no", chroma_url=gated,
                                          chroma_token=token), embedder=HashEmbedder())
            svc.store.list_workspaces()
        msg = str(err.value)
        assert said in msg and "RAG_CHROMA_TOKEN" in msg and gated in msg, msg
        assert TOKEN not in msg and "wrong-token-123" not in msg
    out, errs = capfd.readouterr()
    assert TOKEN not in out + errs


# -- two real processes, one per replica ------------------------------------------------------------

CLI_TIMEOUT = 600  # one `ragdesk ask` loads the packaged chat model on two busy cores

DASHBOARD_OF = """
import json, sys
from rag.analytics import dashboard as dash
from rag.config import get_settings
from rag.services import build_services
svc = build_services(get_settings())
ws = svc.workspace(sys.argv[1])
board = dash.collect(svc.settings.data_dir, ws, None, svc.embedder.name)
print(json.dumps({"log": [r.question for r in svc.question_log(ws).records()],
                  "dashboard": [r.question for r in board.questions.records]}))
"""


def _replica_env(shared_urls, data_dir: Path) -> dict[str, str]:
    chroma, pg = shared_urls
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), RAG_CHROMA_URL=chroma, RAG_DATABASE_URL=pg,
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    return env


def _run(env: dict[str, str], *args: str, json_out: bool = True):
    """One process of a replica: `ragdesk ARGS` (or `python -c`), its parsed JSON output."""
    # `python -m rag.cli` from the checkout (the venv's `ragdesk` may be another checkout's)
    cmd = [sys.executable, "-m", "rag.cli", *args] if args[0] != "-c" else [sys.executable, *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                         check=False, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, f"{' '.join(args[:2])} failed:\n{out.stderr[-2000:]}"
    return json.loads(out.stdout) if json_out else out.stdout


@pytest.mark.slow
def test_two_replica_processes_behave_as_one_product(shared, tmp_path, request):
    """Replica 1 and replica 2 are separate processes (each `ragdesk` run is one, with its own
    data dir, the real packaged embedder and chat model) on one `chroma run` and one
    PostgreSQL: what one ingests the other's very next search finds, by keyword and by
    meaning; a question asked on 2 is in 1's question log and Dashboard; a deletion on 1 is
    gone on 2."""
    one = _replica_env(shared, tmp_path / "replica1")
    two = _replica_env(shared, tmp_path / "replica2")
    name = f"Procs {time.time_ns()}"
    _run(one, "workspaces", "--create", name, json_out=False)
    (tmp_path / "old.txt").write_text("Quarterly staffing plan for the Osaka office.")
    _run(one, "ingest", str(tmp_path / "old.txt"), "-w", name, "--json")
    # Replica 2 builds its own keyword index (in its data dir) of the set before the new file.
    hits = _run(two, "search", "staffing Osaka", "-w", name, "-k", "1", "--json")
    assert hits[0]["doc_name"] == "old"
    assert list((tmp_path / "replica2" / "lexical").glob("*.npz"))

    (tmp_path / "beacon.txt").write_text(
        "The Beacon arm ships zirconium batteries to Lisbon every May.")
    (rep,) = _run(one, "ingest", str(tmp_path / "beacon.txt"), "-w", name, "--json")
    assert rep["status"] == "added", rep
    doc_id = rep["doc_id"]
    ingested = time.monotonic()
    # The very next search on replica 2 finds it: by keyword (its index rebuilt) ...
    hits = _run(two, "search", "zirconium Lisbon", "-w", name, "-k", "1", "--json")
    assert hits[0]["doc_name"] == "beacon" and "lexical" in hits[0]["scores"], hits
    # ... and by meaning, with no word of the document in the query.
    hits = _run(two, "search", "which metal cells go to Portugal", "-w", name, "-k", "1",
                "--json")
    assert hits[0]["doc_name"] == "beacon" and "dense" in hits[0]["scores"], hits
    seen_after = time.monotonic() - ingested
    print(f"replica 2 found replica 1's document {seen_after:.1f} s after its ingest ended "
          "(two process starts included)")

    # A question asked on replica 2 (the real packaged chat model) is on replica 1's Dashboard.
    question = "Where does the Beacon arm ship zirconium batteries?"
    answer = _run(two, "ask", question, "-w", name, "--json")
    assert answer["question"] == question
    board = _run(one, "-c", DASHBOARD_OF, name)
    assert board["log"] == [question] and board["dashboard"] == [question], board

    # Deleted through replica 1: gone on replica 2, by both kinds of search and from its list.
    _run(one, "delete", doc_id, "-w", name, json_out=False)
    docs = _run(two, "docs", "-w", name, "--json")
    assert [d["name"] for d in docs] == ["old"], docs
    for query in ("zirconium Lisbon", "which metal cells go to Portugal"):
        hits = _run(two, "search", query, "-w", name, "-k", "3", "--json")
        assert all(h["doc_name"] != "beacon" for h in hits), hits
