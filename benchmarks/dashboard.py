"""Dashboard load time on a big workspace: its data functions and an AppTest run of the page.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/dashboard.py [--docs 3000]
        [--questions 3000] [--days 90] [--repeat 5] [--json]

Builds, in a temporary data dir, a workspace with `--docs` document manifest records (PDFs,
transcripts, tables, text; written straight into the manifest like committed documents, plus
two real earnings calls with chunks and their stored briefs), a question log of `--questions` real customer questions
(banking77, read-only beside the checkout) spread over `--days` days with answer times and
outcomes, a stored feedback analysis of them, and ten evaluation runs. Vectors come from the
app's default embedder (int8 ONNX of the packaged model).

Rows (median of `--repeat` runs unless said otherwise):
- collect(): everything the page computes, steady state (question vectors stored, topics
  remembered): what a visit costs;
- collect(), topics re-clustered: the topic cache cleared before each run (what the visit after
  the log grew by a fifth costs);
- collect(), first visit of a log written without vectors: at most 256 questions embedded
  (the rest on later visits; questions asked in the app are embedded when asked), and the
  time embedding the whole log would take;
- baseline, reads only: the manifest and the log read back, no aggregation (the floor);
- AppTest runs of the Dashboard page, and of the Library page on the same workspace as the
  baseline (an existing page everybody already waits for).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RAGDESK_SHARED_DATA", ROOT.parent / "shared" / "data"))
BANKING = SHARED / "banking77" / "train.csv"
KINDS = [("pdf", 0.45, "pages", 20, 300), ("transcript", 0.2, "turns", 40, 600),
         ("table", 0.1, "rows", 100, 5000), ("text", 0.15, "sections", 1, 40),
         ("docx", 0.1, "sections", 2, 80)]
WS_NAME = "Benchmark workspace"


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def questions_text(n: int, seed: int) -> list[str]:
    with open(BANKING, encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    random.Random(seed).shuffle(texts)
    return texts[:n]


def write_manifest(ws, n: int, days: int, seed: int) -> None:
    """`n` committed-document records, as `Workspace.commit` writes them, in batches."""
    import socket

    rng = random.Random(seed)
    now = time.time()
    ids, mds = [], []
    for i in range(n):
        kind, _, _, lo, hi = rng.choices(KINDS, [k[1] for k in KINDS])[0]
        units = rng.randint(lo, hi)
        added = now - rng.uniform(0, days * 86400)
        name = f"{kind}_document_{i:05d}"
        meta = {"pages": units} if kind == "pdf" else {}
        ids.append(f"bench{i:011d}")
        mds.append({"doc_id": ids[-1], "name": name, "filename": f"{name}.{kind}", "kind": kind,
                    "units": units, "chunks": max(1, units * rng.randint(1, 3) // 2),
                    "size": units * rng.randint(2000, 6000), "added_at": added,
                    "status": "ready", "writer": f"{socket.gethostname()}:0",
                    "updated_at": added, "meta_json": json.dumps(meta)})
    for i in range(0, n, 500):
        ws._manifest.upsert(ids=ids[i : i + 500], embeddings=[[1.0]] * len(ids[i : i + 500]),
                            metadatas=mds[i : i + 500], documents=[m["name"] for m in
                                                                   mds[i : i + 500]])


def question_rows(texts: list[str], days: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = time.time()
    rows = []
    for t in texts:
        outcome = rng.choices(["answered", "flagged", "abstained"], [7, 1, 2])[0]
        rows.append({
            "asked_at": now - rng.uniform(0, days * 86400), "question": t, "rewritten": t,
            "model": rng.choice(["qwen2.5-coder-0.5b (local)", "gpt-4o-mini"]),
            "seconds": round(rng.lognormvariate(2.0, 0.6), 3),
            "first_token_s": None if outcome == "abstained" else round(rng.uniform(0.3, 3), 3),
            "abstained": outcome == "abstained",
            "citation_check": {"answered": "ok", "flagged": "flagged",
                               "abstained": "none"}[outcome],
            "citations": 0 if outcome == "abstained" else rng.randint(1, 3),
            "passages": [{"chunk_id": f"c{j}", "doc_id": f"bench{j:011d}",
                          "doc_name": f"pdf_document_{j:05d}", "location": f"p. {j % 50 + 1}",
                          "page": j % 50 + 1, "score": 0.03, "snippet": "A passage " * 20}
                         for j in rng.sample(range(1000), 5)],
            "answer": "An answer with a citation [1]." * 3,
        })
    return rows


def store_feedback(svc, ws, texts: list[str], vectors, days: int, seed: int) -> None:
    """A table document's record and a stored feedback analysis of `texts` (its themes)."""
    from rag.analytics import feedback as fb
    from rag.types import DocumentInfo

    rng = random.Random(seed)
    start = time.time() - days * 86400
    doc = DocumentInfo(doc_id="benchfeedback0001", name="customer_feedback", kind="table",
                       filename="customer_feedback.csv", units=len(texts), chunks=len(texts),
                       size=200_000, added_at=time.time() - 3600,
                       meta={"text_column": "comment", "date_column": "date",
                             "columns": ["date", "comment"]})
    ws.begin(doc)
    ws.commit(doc)
    items = [fb.Item(row=i + 1, text=t, date=time.strftime(
        "%Y-%m-%d", time.localtime(start + rng.uniform(0, days * 86400))))
        for i, t in enumerate(texts)]
    a = fb.analyze(items, vectors, fb.Roles(text="comment", date="date"),
                   source=fb.source_of(ws, ws.get_document(doc.doc_id)),
                   ingest_date_column="date")
    fb.AnalysisStore(svc.settings.data_dir).save(ws.collection_name, doc.doc_id, a)


def store_eval_runs(svc, ws, n: int = 10) -> None:
    from rag.eval.dataset import EvalQuestion
    from rag.eval.history import EvalHistory
    from rag.eval.retrieval import EvalRun, QuestionResult

    hist = EvalHistory(svc.settings.data_dir, ws.collection_name)
    for i in range(n):
        results = [QuestionResult(EvalQuestion(f"q{j}", "pdf_document_00001", (j + 1,)),
                                  (j % 5) + 1 if (i + j) % 4 else None, [], True)
                   for j in range(30)]
        ranks = [r.rank for r in results]
        inside = [r for r in ranks if r]
        hist.add(EvalRun(k=5, recall=len(inside) / 30, mrr=sum(1 / r for r in inside) / 30,
                         results=results, created_at=time.time() - (n - i) * 86400,
                         set_name="financebench.jsonl", workspace=ws.name,
                         embed_model=ws.embed_model, settings={"chunk_chars": 1100}))


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    secs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - t)
    return _median(secs), secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--questions", type=int, default=3000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", help="keep the generated workspace here (default: temp)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not BANKING.exists():
        sys.exit(f"banking77 not found at {BANKING} (set RAGDESK_SHARED_DATA)")

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="ragdesk-dash-bench-"))
    os.environ["RAG_DATA_DIR"] = str(data_dir)
    from rag.analytics import dashboard as dash
    from rag.analytics import questions as qlog
    from rag.config import Settings, get_settings
    from rag.services import build_embedder, build_services

    get_settings.cache_clear()
    settings = Settings(data_dir=data_dir)
    t = time.perf_counter()
    embedder = build_embedder(settings)
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - t
    svc = build_services(settings, embedder=embedder)
    ws = svc.workspace(WS_NAME, create=True)

    print(f"building: {args.docs:,} documents, {args.questions:,} questions over {args.days} "
          f"days in {data_dir}", file=sys.stderr)
    t = time.perf_counter()
    write_manifest(ws, args.docs, args.days, args.seed)
    from rag.ingest.pipeline import Upload

    demo = ROOT / "data"
    svc.ingestor(ws).ingest_many([Upload(p.name, path=p) for p in
                                  sorted(demo.glob("northwind_q*_earnings_call.txt"))])
    svc.ingestor(ws).ingest_bytes(b"", "broken_upload.pdf")  # one failure waiting
    build_docs_s = time.perf_counter() - t

    texts = questions_text(args.questions, args.seed)
    log = qlog.QuestionLog(data_dir, ws.collection_name)
    log.add_many(question_rows(texts, args.days, args.seed))
    records = log.records()

    # First visit of a log written without vectors (e.g. by an older version): at most
    # EMBED_PER_LOAD questions are embedded, the rest wait for later visits. Measured once.
    t = time.perf_counter()
    data = dash.collect(data_dir, ws, embedder.embed, embedder.name)
    first_s = time.perf_counter() - t
    first_parts = dict(data.seconds)
    t = time.perf_counter()
    X, missing = log.vectors([r.topic_text for r in records], embedder.name, embedder.embed)
    embed_all_s = time.perf_counter() - t  # what asking spreads out (one vector per question)
    assert not missing
    from rag.analytics.summaries import SummaryStore
    from rag.analytics.summaries.brief import summarize_document

    for doc in [d for d in ws.documents() if d.name.startswith("northwind_")]:
        summarize_document(ws, doc, "earnings", None, store=SummaryStore(data_dir))
    store_feedback(svc, ws, texts, X, args.days, args.seed)
    store_eval_runs(svc, ws)
    n_docs = len(ws.documents())

    def steady():
        dash.collect(data_dir, ws, embedder.embed, embedder.name)

    def recluster():
        with log._write() as con:  # the cache is forgotten: topics computed from scratch
            con.execute("DELETE FROM cache")
        dash.collect(data_dir, ws, embedder.embed, embedder.name)

    def reads_only():
        ws.documents(include_pending=True)
        log.records()

    steady()  # the feedback analysis parsed once, like a page already visited
    steady_s, steady_all = timed(steady, args.repeat)
    final = dash.collect(data_dir, ws, embedder.embed, embedder.name)
    parts = final.seconds
    report_s, _ = timed(lambda: dash.markdown_report(
        dash.collect(data_dir, ws, embedder.embed, embedder.name)), 1)
    recluster_s, _ = timed(recluster, max(1, args.repeat // 2))
    reads_s, _ = timed(reads_only, args.repeat)

    # The page itself, through AppTest (the embedder already loaded, as in a running app).
    from streamlit.testing.v1 import AppTest

    from rag.ui import state

    state._embedder = lambda *a, **k: embedder
    state.clear_services()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state[state.WS_KEY] = WS_NAME
    t = time.perf_counter()
    at.run()
    first_page_s = time.perf_counter() - t
    if at.exception:
        sys.exit(f"the page failed: {[e.value for e in at.exception]}")
    assert [x.value for x in at.title] == ["Dashboard"], [x.value for x in at.title]
    page_s, page_all = timed(at.run, args.repeat)
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == "library")
    at.run()
    assert [x.value for x in at.title] == ["Library"]
    lib_s, lib_all = timed(at.run, args.repeat)

    rows = [
        ["collect(), steady state", steady_s, f"{args.repeat} runs"],
        ["collect(), topics re-clustered", recluster_s, f"{max(1, args.repeat // 2)} runs"],
        [f"collect(), first visit of an unembedded log (embeds {dash.EMBED_PER_LOAD})",
         first_s, "1 run"],
        [f"embedding all {len(records):,} questions once (spread over asks)", embed_all_s,
         "1 run"],
        ["collect() + Markdown report", report_s, "1 run"],
        ["baseline: manifest + log reads only", reads_s, f"{args.repeat} runs"],
        ["AppTest: Dashboard page, first run", first_page_s, "1 run"],
        ["AppTest: Dashboard page", page_s, f"{args.repeat} runs"],
        ["baseline: AppTest Library page, same workspace", lib_s, f"{args.repeat} runs"],
    ]
    out = {
        "documents": n_docs, "questions": len(records), "days": args.days,
        "embedder": embedder.name, "embedder_load_s": round(load_s, 2),
        "build_docs_s": round(build_docs_s, 2),
        "median_s": {r[0]: round(r[1], 3) for r in rows},
        "collect_parts_s": {k: round(v, 3) for k, v in parts.items()},
        "first_ever_parts_s": {k: round(v, 3) for k, v in first_parts.items()},
        "runs_s": {"steady": [round(x, 3) for x in steady_all],
                   "dashboard_page": [round(x, 3) for x in page_all],
                   "library_page": [round(x, 3) for x in lib_all]},
        "topics": len(final.questions.topics),
        "unanswered_groups": len(final.questions.groups),
        "earnings_rows": len(final.earnings), "feedback_rows": len(final.feedback),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"\n{n_docs:,} documents, {len(records):,} questions over {args.days} days, "
          f"{out['topics']} topics, {out['unanswered_groups']} unanswered groups, "
          f"{out['earnings_rows']} earnings rows, {out['feedback_rows']} feedback themes; "
          f"embedder {embedder.name}; load average {out['load_avg']:.2f}\n")
    print(table([[r[0], r[1], r[2]] for r in rows], ["what", "median s", "runs"]))
    print("\ncollect() by part, steady state (s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    print("collect() by part, first ever (s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in first_parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
