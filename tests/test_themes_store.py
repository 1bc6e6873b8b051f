"""Run history of feedback analyses on the storage port: every run kept under its id (the
newest few), loadable whatever document version it was of, and gone with the document."""

from __future__ import annotations

from dataclasses import replace

from fakes import HashEmbedder
from test_feedback import items_of, topic_texts

from rag.analytics import feedback as fb
from rag.analytics.feedback.store import KEEP_RUNS, AnalysisStore


def test_runs_are_kept_loaded_pruned_and_deleted(tmp_path):
    texts, _ = topic_texts(12)
    a = fb.analyze(items_of(texts), HashEmbedder(dim=64).embed(texts), fb.Roles(text="comment"),
                   source={"doc_name": "export.csv", "fingerprint": "v1"})
    store = AnalysisStore(tmp_path)
    ids = []
    for n in range(KEEP_RUNS + 2):
        run = replace(a, run_id=f"r{n:02d}")
        store.save("ws", "doc1", run)
        ids.append(run.run_id)
    runs = [r["run_id"] for r in store.runs("ws", "doc1")]
    assert runs == list(reversed(ids))[:KEEP_RUNS]  # newest first, the oldest pruned
    back = store.load_run("ws", "doc1", ids[-1])
    assert back is not None and back.run_id == ids[-1]
    # The new fields survive the round trip: both levels, centroids, sentiment.
    assert [(h.id, h.name, h.size) for h in back.headlines] == [
        (h.id, h.name, h.size) for h in a.headlines]
    assert [(t.parent, t.sentiment, t.status) for t in back.themes] == [
        (t.parent, t.sentiment, t.status) for t in a.themes]
    assert back.centroids.keys() == a.centroids.keys() and back.sentiments == a.sentiments
    assert store.load_run("ws", "doc1", ids[0]) is None  # pruned
    assert store.load_run("ws", "doc1").run_id == ids[-1]  # the current one
    # An export added again (a new document id) finds its predecessor by name.
    assert store.latest_named("ws", "export.csv").run_id == ids[-1]
    assert store.latest_named("ws", "other.csv") is None
    store.delete("ws", "doc1")
    assert store.runs("ws", "doc1") == [] and store.load_run("ws", "doc1") is None


def test_an_analysis_saved_before_two_levels_still_loads(tmp_path):
    texts, _ = topic_texts(10)
    a = fb.analyze(items_of(texts), HashEmbedder(dim=64).embed(texts), fb.Roles(text="comment"))
    d = fb.to_json(a)
    for key in ("headlines", "centroids", "sentiments", "sentiment_source", "run_id",
                "previous_run"):
        d.pop(key)
    for t in d["themes"]:
        for key in ("parent", "sentiment", "negative_share", "status", "trend"):
            t.pop(key)
    old = fb.from_json(d)
    assert old.headlines == [] and old.level(False)[0] == old.themes
    assert fb.themes_frame(old)["headline"].eq("").all()
    assert {c["status"] for c in fb.cluster_json(old, list(range(len(texts))))["clusters"]} == {
        "steady"}
