"""The question log: storage, aggregations on a generated log, topics, unanswered grouping,
re-asking, two writers at once, and the hooks in `ragdesk ask` and the ingest pipeline."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_DIR
from fakes import HashEmbedder, ScriptedChat

from rag.analytics import questions as qlog
from rag.analytics.questions import topics as qtopics
from rag.answer import Answer, Citation
from rag.types import Chunk, Hit

COLLECTION = "rd-test-0000"
DAY = 86400.0
NOW = datetime(2026, 6, 30, 18, 0).timestamp()

TEMPLATES = {
    "revenue": "What was the revenue growth in {p} for the {x} segment?",
    "battery": "Why does the robot battery drain fast in cold storage aisle {x} during {p}?",
    "hiring": "How many engineers did the company hire for the {x} office in {p}?",
}
PERIODS = ["Q1", "Q2", "Q3", "Q4", "H1", "H2", "fiscal 2025", "fiscal 2026"]
PLACES = ["north", "south", "east", "west", "central", "Berlin", "Austin", "Osaka"]


def _chunk(i: int, doc: str = "report", page: int | None = 3) -> Chunk:
    return Chunk(id=f"c{i}", doc_id=f"d-{doc}", doc_name=doc, ordinal=i,
                 text=f"Passage {i} of {doc}: revenue was 412.6 million. " * 3, page=page)


def _answer(question: str, outcome: str = "answered", seconds: float = 2.0) -> Answer:
    hits = [Hit(_chunk(i), 0.9 - i / 10, {"dense": 0.5}) for i in range(6)]
    cites = []
    if outcome in ("answered", "flagged"):
        cites = [Citation(1, hits[0].chunk, "revenue was 412.6 million", 0.9,
                          ("99.9",) if outcome == "flagged" else ())]
    return Answer(question=question, rewritten=question + " (standalone)", text="Revenue [1]",
                  citations=cites, abstained=outcome == "abstained", hits=hits, model="fake",
                  seconds=seconds, first_token_s=None if outcome == "abstained" else 0.5)


def generated_rows(n: int = 600, days: int = 30, seed: int = 7) -> list[dict]:
    """A log of `n` questions over `days` days ending at NOW, about three topics."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        topic = rng.choice(list(TEMPLATES))
        text = TEMPLATES[topic].format(p=rng.choice(PERIODS), x=rng.choice(PLACES))
        outcome = rng.choices(["answered", "flagged", "abstained"], [6, 1, 3])[0]
        rows.append({
            "asked_at": NOW - rng.uniform(0, days * DAY), "question": text, "rewritten": "",
            "model": rng.choice(["local", "gpt"]), "seconds": round(rng.uniform(0.2, 30), 3),
            "first_token_s": None if outcome == "abstained" else 0.4,
            "abstained": outcome == "abstained",
            "citation_check": {"answered": "ok", "flagged": "flagged", "abstained": "none"}[
                outcome],
            "passages": [{"chunk_id": "c1", "doc_id": "d1", "doc_name": f"{topic}_doc",
                          "location": "p. 2", "page": 2, "score": 0.1, "snippet": "text"}],
            "topic": topic,  # not a column: kept for the assertions
        })
    return rows


@pytest.fixture
def log(tmp_path) -> qlog.QuestionLog:
    return qlog.QuestionLog(tmp_path, COLLECTION)


@pytest.fixture
def filled(log):
    rows = generated_rows()
    log.add_many(rows)
    return log, rows


# -- storage --------------------------------------------------------------------------------------


def test_answer_round_trip_keeps_what_the_dashboard_needs(log):
    qid = log.log(_answer("What was revenue?"), qlog.SOURCE_CLI)
    r = log.get(qid)
    assert r.question == "What was revenue?" and r.rewritten == "What was revenue? (standalone)"
    assert r.model == "fake" and r.seconds == 2.0 and r.first_token_s == 0.5
    assert r.check == qlog.CHECK_OK and r.outcome == qlog.ANSWERED and not r.unanswered
    assert r.source == "cli" and r.citations == 1 and not r.resolved
    assert len(r.passages) == qlog.PASSAGES_KEPT  # top passages, not all six
    p = r.passages[0]
    assert (p.chunk_id, p.doc_id, p.doc_name, p.page, p.location) == \
        ("c0", "d-report", "report", 3, "p. 3")
    assert len(p.snippet) <= qlog.SNIPPET_CHARS
    # On the storage port (the data dir's ragdesk.sqlite3), keyed by the workspace.
    assert log.engine.url.database.endswith("ragdesk.sqlite3") and log.collection == COLLECTION
    assert log.get(qid).asked_at == pytest.approx(time.time(), abs=60)
    assert log.count() == 1


def test_citation_check_outcomes():
    assert qlog.citation_check(_answer("q", "answered")) == "ok"
    assert qlog.citation_check(_answer("q", "flagged")) == "flagged"
    assert qlog.citation_check(_answer("q", "abstained")) == "none"


def test_bad_collection_name_is_refused(tmp_path):
    with pytest.raises(ValueError):
        qlog.QuestionLog(tmp_path, "../etc")


def test_log_quietly_never_breaks_asking(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert qlog.log_quietly(blocker, COLLECTION, _answer("q")) is None  # cannot mkdir: ignored
    assert qlog.log_quietly(tmp_path, COLLECTION, None) is None
    assert qlog.log_quietly(tmp_path, COLLECTION, _answer("q")) == 1


# -- aggregations on a generated log -------------------------------------------------------------------


def test_daily_counts_match_a_hand_count(filled):
    log, rows = filled
    recs = log.records()
    assert len(recs) == len(rows)
    days = qlog.daily_counts(recs)
    expected: dict[date, dict[str, int]] = {}
    for r in rows:
        d = datetime.fromtimestamp(r["asked_at"]).date()
        out = "abstained" if r["abstained"] else (
            "flagged" if r["citation_check"] == "flagged" else "answered")
        expected.setdefault(d, {"answered": 0, "flagged": 0, "abstained": 0})[out] += 1
    first, last = min(expected), max(expected)
    assert list(days["day"]) == [first + timedelta(days=i)
                                 for i in range((last - first).days + 1)]
    for row in days.itertuples(index=False):
        e = expected.get(row.day, {"answered": 0, "flagged": 0, "abstained": 0})
        assert (row.answered, row.flagged, row.abstained) == (e["answered"], e["flagged"],
                                                              e["abstained"])
        assert row.total == sum(e.values())
    assert days["total"].sum() == len(rows)
    # A window of the last 7 days ending on a given day, quiet days included.
    window = qlog.daily_counts(recs, days=7, today=last + timedelta(days=3))
    assert len(window) == 7 and list(window["total"])[-3:] == [0, 0, 0]


def test_outcome_shares_and_period_change(filled):
    log, rows = filled
    recs = log.records()
    s = qlog.outcome_shares(recs)
    n = len(rows)
    abst = sum(r["abstained"] for r in rows)
    flag = sum(r["citation_check"] == "flagged" for r in rows)
    assert (s["questions"], s["abstained"], s["flagged"], s["answered"]) == \
        (n, abst, flag, n - abst - flag)
    assert s["share_answered"] + s["share_flagged"] + s["share_abstained"] == pytest.approx(1)
    assert s["open_unanswered"] == abst + flag
    last, prev = qlog.period_change(recs, 7, now=NOW)
    assert last == sum(NOW - 7 * DAY < r["asked_at"] <= NOW for r in rows)
    assert prev == sum(NOW - 14 * DAY < r["asked_at"] <= NOW - 7 * DAY for r in rows)
    assert qlog.outcome_shares([])["share_answered"] == 0.0


def test_latency_percentiles_match_numpy(filled):
    log, rows = filled
    recs = log.records()
    secs = [r["seconds"] for r in rows]
    lat = qlog.latency_stats(recs)
    for q in (50, 90, 95):
        assert lat[f"p{q}"] == pytest.approx(float(np.percentile(secs, q)))
    assert lat["max"] == max(secs) and lat["n"] == len(rows)
    model = [r["seconds"] for r in rows if r["first_token_s"] is not None]
    assert lat["model_p50"] == pytest.approx(float(np.percentile(model, 50)))
    per_day = qlog.daily_latency(recs)
    assert per_day["questions"].sum() == len(rows)
    d0 = per_day.iloc[0]
    vals = [r["seconds"] for r in rows
            if datetime.fromtimestamp(r["asked_at"]).date() == d0["day"]]
    assert d0["p50_s"] == pytest.approx(float(np.percentile(vals, 50)))
    assert qlog.percentile([], 50) is None and qlog.latency_stats([])["p50"] is None


def test_frame_has_one_row_a_question(filled):
    log, rows = filled
    df = qlog.frame(log.records())
    assert len(df) == len(rows)
    assert set(df["outcome"]) == {"answered", "flagged", "abstained"}


# -- topics and the unanswered grouping ---------------------------------------------------------------------


def _vectors(texts):
    return HashEmbedder(dim=256).embed(list(texts))


def test_topics_separate_the_generated_subjects(filled):
    log, rows = filled
    recs = log.records()
    texts = [r.topic_text for r in recs]
    topics, _labels, centroids = qlog.find_topics(texts, _vectors(texts))
    truth = {r["question"]: r["topic"] for r in rows}
    named = [t for t in topics if not t.is_other]
    assert 3 <= len(named) <= 8
    assert len(centroids) == len(named)
    # Every topic is (almost) pure: one subject makes up most of its members.
    for t in named:
        subjects = [truth[texts[i]] for i in t.members]
        top = max(set(subjects), key=subjects.count)
        assert subjects.count(top) / len(subjects) >= 0.9, (t.name, t.terms)
    # Each subject's questions land mostly in one topic, named by its own words.
    for subject, words in (("revenue", {"revenue", "growth", "segment"}),
                           ("battery", {"battery", "cold", "storage", "drain", "robot",
                                        "aisle"}),
                           ("hiring", {"engineers", "hire", "office", "company"})):
        mine = [t for t in named if truth[texts[t.members[0]]] == subject]
        assert mine, subject
        biggest = max(mine, key=lambda t: t.size)
        assert set(" ".join(biggest.terms).split()) & words, biggest.terms
    members = sorted(i for t in topics for i in t.members)
    assert members == list(range(len(texts)))  # every question in exactly one topic


def test_few_questions_are_grouped_greedily():
    texts = ["battery drains in the cold", "battery drains in the cold aisle",
             "revenue growth in Q2", "revenue growth in Q3", "who is the CFO"]
    topics, _labels, _ = qlog.find_topics(texts, _vectors(texts))
    assert sorted(sorted(t.members) for t in topics) == [[0, 1], [2, 3], [4]]
    assert qlog.find_topics([], np.zeros((0, 8)))[0] == []


def test_open_unanswered_dedups_and_respects_later_answers(log):
    t0 = NOW - 10 * DAY
    rows = [
        {"asked_at": t0, "question": "A?", "abstained": True},
        {"asked_at": t0 + 1, "question": "A?", "abstained": True},  # asked again: one entry
        {"asked_at": t0, "question": "B?", "abstained": True},
        {"asked_at": t0 + 5, "question": "B?", "abstained": False, "citation_check": "ok"},
        {"asked_at": t0, "question": "C?", "abstained": False, "citation_check": "flagged"},
        {"asked_at": t0, "question": "D?", "abstained": False, "citation_check": "ok"},
        {"asked_at": t0, "question": "E?", "abstained": True},
    ]
    ids = log.add_many(rows)
    log.mark_resolved(ids[6])
    open_ = qlog.open_unanswered(log.records())
    assert [r.question for r in open_] == ["A?", "C?"]
    assert open_[0].id == ids[1]  # the newest asking
    # E asked again after it was resolved, still unanswered: it is open again.
    log.add({"asked_at": t0 + 9, "question": "E?", "abstained": True})
    assert {r.question for r in qlog.open_unanswered(log.records())} == {"A?", "C?", "E?"}


def test_unanswered_grouped_by_topic_with_closest_documents(filled):
    log, rows = filled
    recs = log.records()
    texts = [r.topic_text for r in recs]
    ids = [r.id for r in recs]
    topics, _, _ = qlog.find_topics(texts, _vectors(texts))
    topic_of = qlog.topic_index(ids, topics)
    unanswered = qlog.open_unanswered(recs)
    groups = qlog.group_unanswered(unanswered, topic_of)
    assert sum(len(g.records) for g in groups) == len(unanswered)
    subject = {r["question"]: r["topic"] for r in rows}
    sizes = [len(g.records) for g in groups if not g.topic.is_other]
    assert sizes == sorted(sizes, reverse=True)
    for g in groups:
        assert [r.asked_at for r in g.records] == sorted((r.asked_at for r in g.records),
                                                         reverse=True)
        for r in g.records:
            assert topic_of[r.id] is g.topic
        if not g.topic.is_other:
            subjects = {subject[r.question] for r in g.records}
            assert len(subjects) == 1
            assert g.documents[0][0] == f"{subjects.pop()}_doc"
    # A question with no vector yet goes to a last "not grouped" group.
    late = log.get(log.add({"asked_at": NOW, "question": "Brand new?", "abstained": True}))
    groups = qlog.group_unanswered([*unanswered, late], topic_of)
    assert groups[-1].topic is qlog.UNGROUPED and groups[-1].records == [late]
    table = qlog.unanswered_frame(groups)
    assert len(table) == len(unanswered) + 1 and set(table["outcome"]) <= {"abstained",
                                                                           "flagged"}


def test_vectors_are_embedded_once_and_reused(log):
    emb = HashEmbedder()
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    X, missing = log.vectors(texts, emb.name, emb.embed)
    assert not missing and emb.calls == 1 and X.shape == (3, emb.dim)
    assert np.allclose(X[0], X[2]) and np.allclose(np.linalg.norm(X, axis=1), 1)
    X2, missing = log.vectors(texts + ["new one"], emb.name, None)
    assert missing == [3] and np.allclose(X2[:3], X) and emb.calls == 1
    _, missing = log.vectors(texts, "another-model", None)
    assert missing == [0, 1, 2]  # vectors are per embedding model
    # A cap on how many are embedded in one call: the newest (last) ones first.
    many = [f"question number {i}" for i in range(10)]
    _, missing = log.vectors(many, emb.name, emb.embed, max_embed=4)
    assert missing == list(range(6))
    _, missing = log.vectors(many, emb.name, emb.embed, max_embed=0)
    assert missing == list(range(6))
    _, missing = log.vectors(many, emb.name, emb.embed)
    assert missing == []


def test_logging_with_the_embedder_stores_the_vector(tmp_path):
    emb = HashEmbedder()
    qid = qlog.log_quietly(tmp_path, COLLECTION, _answer("What was revenue?"), embedder=emb)
    log = qlog.QuestionLog(tmp_path, COLLECTION)
    _, missing = log.vectors([log.get(qid).topic_text], emb.name, None)
    assert missing == [] and emb.calls == 1

    class Broken(HashEmbedder):
        def embed(self, texts):
            raise RuntimeError("model gone")

    assert qlog.log_quietly(tmp_path, COLLECTION, _answer("Other?"), embedder=Broken()) == 2


def test_cached_topics_assign_new_questions_then_recluster(filled, monkeypatch):
    log, rows = filled
    recs = log.records()
    texts = [r.topic_text for r in recs]
    ids = [r.id for r in recs]
    X = _vectors(texts)
    first = qlog.cached_topics(log, "t", ids, texts, X, "m")
    assert log.cache_get("t")["ids"] == ids

    calls = []
    real = qlog.find_topics
    monkeypatch.setattr(qtopics, "find_topics", lambda *a, **k: calls.append(1) or real(*a, **k))
    # A few new questions join their nearest topic without re-clustering.
    extra = ["What was the revenue growth in Q2 for the Lagos segment?",
             "Why does the robot battery drain fast in cold storage aisle Lagos during Q4?"]
    again = qlog.cached_topics(log, "t", ids + [10_001, 10_002], texts + extra,
                               np.vstack([X, _vectors(extra)]), "m")
    assert not calls
    assert [t.name for t in again] == [t.name for t in first] or \
        {t.name for t in again} == {t.name for t in first}
    where = qlog.topic_index(ids + [10_001, 10_002], again)
    subject = {r["question"]: r["topic"] for r in rows}
    for qid, want in ((10_001, "revenue"), (10_002, "battery")):
        peers = [subject[texts[i]] for i in where[qid].members if i < len(texts)]
        assert peers.count(want) / len(peers) >= 0.9, (want, where[qid].name)
    # Many new questions (over a fifth): clustered again from scratch, and remembered.
    more = [f"How many engineers did the company hire for the Lagos office in 20{i:02d}?"
            for i in range(200)]
    qlog.cached_topics(log, "t", ids + list(range(20_000, 20_200)), texts + more,
                       np.vstack([X, _vectors(more)]), "m")
    assert calls == [1]
    # Another embedding model never reuses the cache.
    qlog.cached_topics(log, "t", ids, texts, X, "other-model")
    assert calls == [1, 1]


def test_topics_frame_counts_unanswered_per_topic(filled):
    log, _ = filled
    recs = log.records()
    texts = [r.topic_text for r in recs]
    topics, _, _ = qlog.find_topics(texts, _vectors(texts))
    df = qlog.topics_frame(topics, texts, {topics[0].id: 4})
    assert list(df.columns) == ["topic", "questions", "share", "unanswered", "terms",
                                "typical question"]
    assert df["questions"].sum() == len(recs) and df["share"].sum() == pytest.approx(1, abs=0.01)
    assert df.iloc[0]["unanswered"] == 4


# -- re-asking -------------------------------------------------------------------------------------------


class FakeAnswerer:
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.asked: list[str] = []

    def ask(self, question: str) -> Answer:
        self.asked.append(question)
        return _answer(question, self.outcome)


def test_reask_resolves_when_answered_and_records_the_result(log):
    qid = log.add({"asked_at": NOW, "question": "and in Q3?", "rewritten": "Revenue in Q3?",
                   "abstained": True})
    new, resolved = qlog.reask(log, qid, FakeAnswerer("flagged"))
    assert not resolved and new.reask_of == qid and new.source == qlog.SOURCE_REASK
    assert not log.get(qid).resolved
    ans = FakeAnswerer("answered")
    new, resolved = qlog.reask(log, qid, ans)
    assert resolved and ans.asked == ["Revenue in Q3?"]  # the standalone form is asked
    r = log.get(qid)
    assert r.resolved and r.resolved_by == new.id and "answered on re-ask" in r.resolution
    # Re-asks do not count as questions asked.
    assert [x.id for x in log.records()] == [qid]
    assert len(log.records(include_reasks=True)) == 3
    from rag.errors import NotFound

    with pytest.raises(NotFound):
        qlog.reask(log, 999, ans)
    with pytest.raises(NotFound):
        log.mark_resolved(999)


# -- several writers -------------------------------------------------------------------------------------

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from rag.analytics.questions import QuestionLog
log = QuestionLog({data!r}, {coll!r})
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.005)
for i in range({n}):
    log.add({{"asked_at": time.time(), "question": f"writer {{sys.argv[1]}} question {{i}}",
              "abstained": i % 3 == 0}})
    if i % 10 == 0:
        log.record_ingest(f"file-{{sys.argv[1]}}.pdf", False, "bad")
        log.records()
print("done")
"""


def test_two_processes_write_at_once(tmp_path):
    root = str(Path(__file__).resolve().parents[1])
    n = 150
    code = WRITER.format(root=root, data=str(tmp_path), coll=COLLECTION, n=n)
    start = time.time() + 1.5  # both start writing at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in (1, 2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and out.strip() == "done", err[-2000:]
    log = qlog.QuestionLog(tmp_path, COLLECTION)
    recs = log.records()
    assert len(recs) == 2 * n and len({r.id for r in recs}) == 2 * n
    for w in (1, 2):
        mine = [r.question for r in recs if r.question.startswith(f"writer {w} ")]
        assert sorted(mine) == sorted(f"writer {w} question {i}" for i in range(n))
    assert {f["filename"] for f in log.failures()} == {"file-1.pdf", "file-2.pdf"}
    assert all(f["attempts"] == n // 10 for f in log.failures())
    db = tmp_path / "ragdesk.sqlite3"
    mode = __import__("sqlite3").connect(db).execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


# -- hooks: the ingest pipeline and `ragdesk ask` ---------------------------------------------------------------


def test_ingest_failures_wait_until_the_file_is_added(services, workspace, ingestor):
    log = qlog.QuestionLog(services.settings.data_dir, workspace.collection_name)
    assert ingestor.ingest_bytes(b"", "notes.txt").status == "failed"
    ingestor.ingest_bytes(b"", "notes.txt")
    (f,) = log.failures()
    assert f["filename"] == "notes.txt" and f["message"] == "the file is empty"
    assert f["attempts"] == 2
    assert ingestor.ingest_bytes(b"Now it has text about revenue.", "notes.txt").ok
    assert log.failures() == []
    ingestor.ingest_bytes(b"", "other.txt")
    log.dismiss_failure("other.txt")
    assert log.failures() == []


def _reply(messages) -> str:
    from rag.llm.prompts import ABSTAIN_TOKEN

    return ABSTAIN_TOKEN if "nitrogen" in messages[-1].content else \
        "Revenue was $412.6 million [1]."


def test_cli_ask_logs_the_question(services, workspace, ingestor, monkeypatch, capsys):
    from rag import cli

    ingestor.ingest_bytes(b"Revenue in the second quarter was $412.6 million, up 18%.",
                          "call.txt")
    monkeypatch.setattr(cli, "_services", lambda: services)
    monkeypatch.setattr(services, "chat_model", lambda cfg=None: ScriptedChat(_reply, chunk=None))
    assert cli.main(["ask", "What was revenue in the second quarter?", "--workspace",
                     workspace.name, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert cli.main(["ask", "Who is the boiling point of nitrogen?", "--workspace",
                     workspace.name]) == 0
    recs = qlog.QuestionLog(services.settings.data_dir, workspace.collection_name).records()
    assert [r.question for r in recs] == ["What was revenue in the second quarter?",
                                          "Who is the boiling point of nitrogen?"]
    assert recs[0].source == "cli" and recs[0].model == "scripted"
    assert recs[0].outcome == ("answered" if not printed["abstained"] else "abstained")
    assert recs[0].passages and recs[0].passages[0].doc_name == "call"
    assert recs[1].outcome == "abstained"
    log = qlog.QuestionLog(services.settings.data_dir, workspace.collection_name)
    _, missing = log.vectors([r.topic_text for r in recs], services.embedder.name, None)
    assert missing == []  # embedded when asked: the dashboard need not


# -- the real models: ask, abstain, add the document, re-ask ---------------------------------------------------


@pytest.mark.slow
def test_reask_with_the_real_models_resolves_once_the_document_is_added(tmp_path,
                                                                        real_embedder):
    from rag.config import Settings
    from rag.llm.local_model import ensure_packaged_model
    from rag.services import build_services

    model_path = ensure_packaged_model(Path.home() / ".ragdesk" / "models")
    svc = build_services(Settings(data_dir=tmp_path, local_model_path=str(model_path)),
                         embedder=real_embedder)
    ws = svc.workspace("Real", create=True)
    ing = svc.ingestor(ws)
    assert ing.ingest_bytes(b"Warehouse review: the gripper dropped parcels twice during the "
                            b"night shift. Battery life in cold aisles is short.",
                            "warehouse.txt").ok
    question = "What was Northwind's revenue in the second quarter of 2026?"
    first = svc.answerer(ws).ask(question)
    assert first.abstained
    log = qlog.QuestionLog(svc.settings.data_dir, ws.collection_name)
    qid = qlog.log_quietly(svc.settings.data_dir, ws.collection_name, first)
    assert [r.id for r in qlog.open_unanswered(log.records())] == [qid]
    call = DEMO_DIR / "northwind_q2_2026_earnings_call.txt"
    assert ing.ingest_bytes(call.read_bytes(), call.name).ok
    new, resolved = qlog.reask(log, qid, svc.answerer(ws))
    assert resolved, (new.outcome, new.answer)
    assert "412.6" in new.answer and new.check == "ok"
    assert any(p.doc_name == "northwind_q2_2026_earnings_call" for p in new.passages)
    assert qlog.open_unanswered(log.records()) == []
