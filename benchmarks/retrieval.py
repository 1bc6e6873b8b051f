"""Retrieval quality: FinanceBench evidence-page recall@5 / MRR and SciFact nDCG@10.

    .venv/bin/python benchmarks/retrieval.py [--data-dir DIR] [--verbose] [--skip-scifact]

FinanceBench (all 10 PDFs in ONE workspace, 30 questions). A hit is relevant when its
document and page match one of the question's evidence items (`evidence_page_num` is
0-indexed, our `Chunk.page` is 1-based). recall@5 = share of questions with a relevant passage
among the 5 passages returned (what the answerer is given); MRR = mean of 1/rank of the first
relevant passage among the top 10 (0 when none). Methods:

  (a) tutorial     the LangChain tutorial pipeline of benchmarks/ingest.py (`run_tutorial`):
                   pypdf pages, RecursiveCharacterTextSplitter 1000/200, langchain_chroma
                   Chroma with the packaged MiniLM run by torch sentence-transformers (as
                   HuggingFaceEmbeddings would) through a minimal langchain_core Embeddings
                   wrapper; queried with `Chroma.similarity_search(q, k=10)`
  (b) dense        ours (the app's default embedder, `build_embedder`: int8 ONNX MiniLM),
                   dense only, no question focusing
  (c) hybrid+focus ours as the app runs it: dense + BM25 fused by RRF, question focusing
  (d) hybrid       ours, no focusing
  (e) lexical      ours, BM25 only (with the glossary expansion), no focusing

SciFact (BEIR layout, the 300 test queries that have qrels). The 5,183 abstracts are written
to a CSV (doc_id, title, text) and ingested through our normal pipeline as a table whose text
column is "title. abstract": BEIR's own evaluation embeds and indexes title + text, so that
is the fair input, and it measures OUR loader, chunker, store and retriever, not a shortcut.
Rows longer than the row-chunk limit are split, so chunk rankings are folded into document
rankings at each abstract's best chunk. Scored: nDCG@10 and recall@100 for our dense, lexical
and hybrid retrieval (focusing is a no-op in a one-document workspace). Published references:
BM25 ~0.67, all-MiniLM-L6-v2 ~0.65 nDCG@10.

Ingestion takes many minutes on two cores: pass `--data-dir` to keep the workspaces (ours in
DIR/chroma, the tutorial's in DIR/tutorial-torch) and reuse them; each is built only when
missing. Query times (median ms per query) are measured with the methods taking turns on
each question; they are noisy on a shared machine, compare methods within one run only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FINANCEBENCH, QUESTIONS, make_embedder, median, pdf_paths, table

SCIFACT = FINANCEBENCH.parent / "scifact"
FB_WORKSPACE = "financebench"
SF_WORKSPACE = "scifact"
TUTORIAL = "(a) tutorial"


def ablation_configs() -> dict[str, object]:
    """The retrieval changes one at a time, from the previous default to the current one
    (`--ablation`; FinanceBench rows run as the app does, with question focusing)."""
    from dataclasses import replace

    from rag.retrieve import RetrievalConfig

    prev = RetrievalConfig(plan=False, dense_glossary=False, units=False, unit_lexical=False,
                           lexical_weight=1.0)
    steps = {
        "previous (chunk RRF, raw query)": prev,
        "+ query plan (no instructions)": replace(prev, plan=True),
        "+ glossary in dense query": replace(prev, plan=True, dense_glossary=True),
        "+ page-level fusion": replace(prev, plan=True, dense_glossary=True, units=True),
        "+ page BM25 (the default)": replace(prev, plan=True, dense_glossary=True, units=True,
                                             unit_lexical=True),
        "x chunk BM25 weight 1.5 (not adopted)": replace(RetrievalConfig(), lexical_weight=1.5),
    }
    assert steps["+ page BM25 (the default)"] == RetrievalConfig()
    return steps

# A ranked hit list reduced to what the scoring needs: (doc_name, 1-based page) per hit.
Ranked = list[tuple[str, int | None]]


# --- data and scoring --------------------------------------------------------------------------


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def evidence_pages(q: dict) -> set[tuple[str, int]]:
    """The question's evidence as (doc_name, 1-based page)."""
    return {(e["doc_name"], int(e["evidence_page_num"]) + 1) for e in q["evidence"]}


def first_relevant(ranked: Ranked, gold: set[tuple[str, int]], k: int) -> int | None:
    """1-based rank of the first relevant hit among the top k, or None."""
    for i, hit in enumerate(ranked[:k], 1):
        if hit in gold:
            return i
    return None


def score_financebench(runs: dict[str, list[Ranked]], questions: list[dict]) -> dict[str, dict]:
    out = {}
    for name, ranked_lists in runs.items():
        ranks = [first_relevant(r, evidence_pages(q), 10)
                 for r, q in zip(ranked_lists, questions, strict=True)]
        out[name] = {
            "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / len(ranks),
            "recall@10": sum(1 for r in ranks if r is not None) / len(ranks),
            "mrr@10": sum(1.0 / r for r in ranks if r is not None) / len(ranks),
            "ranks": ranks,
        }
    return out


# --- our workspaces ----------------------------------------------------------------------------


def open_services(data_dir: Path):
    from rag.config import Settings
    from rag.services import build_services

    # A loaded 2-core machine can need more than the default 180 s to parse a 10-K while the
    # previous one is embedded; a benchmark should wait rather than drop a filing.
    return build_services(Settings(data_dir=data_dir, pdf_timeout_s=1800))


def ensure_financebench(services, log: Callable[[str], None] = print):
    """The FinanceBench workspace with all 10 PDFs, ingesting only the missing ones."""
    from rag.ingest.pipeline import Upload

    ws = services.workspace(FB_WORKSPACE, create=True)
    have = {d.name for d in ws.documents()}
    pdfs = pdf_paths()
    todo = [p for p in pdfs if p.stem not in have]
    if todo:
        log(f"ingesting {len(todo)} PDFs into '{FB_WORKSPACE}' (minutes on 2 cores)...")
        t = time.perf_counter()
        for rep in services.ingestor(ws).iter_ingest([Upload(p.name, path=p) for p in todo]):
            log(f"  {rep.filename}: {rep.status} {rep.message} ({rep.seconds:.0f} s)")
        log(f"  ingested in {time.perf_counter() - t:.0f} s")
    missing = sorted({p.stem for p in pdfs} - {d.name for d in ws.documents()})
    if missing:
        sys.exit(f"the FinanceBench workspace lacks {', '.join(missing)}: run again to retry")
    return ws


def ensure_scifact(services, log: Callable[[str], None] = print):
    """The SciFact workspace: every abstract one table row, text column 'title. abstract'."""
    from rag.ingest.loaders import LoadOptions
    from rag.ingest.pipeline import Upload

    ws = services.workspace(SF_WORKSPACE, create=True)
    if ws.documents():
        return ws
    log("ingesting the 5,183 SciFact abstracts as a table (minutes on 2 cores)...")
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ragdesk-scifact-") as tmp:
        path = Path(tmp) / "scifact_corpus.csv"
        with (SCIFACT / "corpus.jsonl").open() as src, path.open("w", newline="") as dst:
            w = csv.writer(dst)
            w.writerow(["doc_id", "title", "text"])
            for line in src:
                d = json.loads(line)
                title = d.get("title", "").strip()
                body = d.get("text", "").strip()
                text = f"{title}. {body}" if title and body else title or body
                w.writerow([d["_id"], title, text])
        up = Upload(path.name, path=path, options=LoadOptions(text_column="text"))
        rep = services.ingestor(ws).ingest_many([up])[0]
    log(f"  {rep.status}: {rep.message} ({time.perf_counter() - t:.0f} s)")
    if rep.doc is None:
        sys.exit("SciFact ingestion failed")
    return ws


# --- (a) the tutorial LangChain pipeline (built by benchmarks/ingest.py) ------------------------


def tutorial_store(embedder, data_dir: Path, log: Callable[[str], None] = print):
    """A langchain_chroma store over the tutorial index, built with ingest.py if missing."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    class MiniLMEmbeddings(Embeddings):
        """The smallest langchain_core Embeddings over our packaged MiniLM embedder."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts)).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0].tolist()

    folder = data_dir / "tutorial-torch"
    client = chromadb.PersistentClient(path=str(folder / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    names = {getattr(c, "name", c) for c in client.list_collections()}
    if "langchain" not in names:
        from ingest import run_tutorial

        log("building the tutorial LangChain index (benchmarks/ingest.py run_tutorial)...")
        del client
        res = run_tutorial(pdf_paths(), "torch", folder, data_dir / "models")
        log(f"  {res['pages']} pages, {res['chunks']} chunks in {res['seconds']:.0f} s")
        client = chromadb.PersistentClient(path=str(folder / "chroma"),
                                           settings=ChromaSettings(anonymized_telemetry=False))
    return Chroma(client=client, collection_name="langchain",
                  embedding_function=MiniLMEmbeddings())


def tutorial_ranked(docs) -> Ranked:
    # PyPDFLoader's `page` is 0-based; `source` is the PDF's path.
    return [(Path(d.metadata["source"]).stem, int(d.metadata["page"]) + 1) for d in docs]


# --- SciFact -----------------------------------------------------------------------------------


def load_scifact() -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {}
    with (SCIFACT / "queries.jsonl").open() as f:
        for line in f:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open() as f:
        next(f)
        for line in f:
            qid, did, rel = line.rstrip("\n").split("\t")
            if int(rel) > 0:
                qrels.setdefault(qid, {})[did] = int(rel)
    return {qid: queries[qid] for qid in qrels}, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def doc_ranking(hits, n: int) -> list[str]:
    """Chunk hits -> distinct abstract ids, each at its best chunk's rank."""
    out: list[str] = []
    for h in hits:
        d = str(h.chunk.meta.get("c_doc_id"))
        if d not in out:
            out.append(d)
            if len(out) == n:
                break
    return out


def run_scifact(services, log: Callable[[str], None], ablation: bool = False
                ) -> list[list[object]]:
    from rag.retrieve import Retriever

    ws = ensure_scifact(services, log)
    queries, qrels = load_scifact()
    retriever = Retriever(ws, services.embedder)
    retriever.retrieve("warm up", k=5, mode="hybrid")  # builds the BM25 index once
    variants = {f"    {label}": Retriever(ws, services.embedder, cfg)
                for label, cfg in ablation_configs().items()} if ablation else {}
    modes = ("dense", "lexical", "hybrid", *variants)
    ndcg: dict[str, list[float]] = {m: [] for m in modes}
    rec: dict[str, list[float]] = {m: [] for m in modes}
    secs: dict[str, list[float]] = {m: [] for m in modes}
    for qid, text in queries.items():
        for mode in modes:
            t = time.perf_counter()
            if mode in variants:
                hits = variants[mode].retrieve(text, k=150, mode="hybrid", focus=False).hits
            else:
                hits = retriever.retrieve(text, k=150, mode=mode, focus=False).hits
            secs[mode].append(time.perf_counter() - t)
            ranked = doc_ranking(hits, 100)
            ndcg[mode].append(ndcg_at(ranked, qrels[qid], 10))
            rel = set(qrels[qid])
            rec[mode].append(len(rel & set(ranked)) / len(rel))
    return [[m, sum(ndcg[m]) / len(ndcg[m]), sum(rec[m]) / len(rec[m]), 1000 * median(secs[m])]
            for m in modes]


# --- main --------------------------------------------------------------------------------------


def run_financebench(services, data_dir: Path, verbose: bool,
                     log: Callable[[str], None], ablation: bool = False) -> dict:
    from rag.retrieve import Retriever

    questions = load_questions()
    ws = ensure_financebench(services, log)
    # The tutorial index is built with the torch sentence-transformers model (ingest.py
    # run_tutorial "torch"), so its queries must be embedded by the same model.
    tutorial_embedder = make_embedder("torch", data_dir, services.settings.threads)
    lc = tutorial_store(tutorial_embedder, data_dir, log)
    retriever = Retriever(ws, services.embedder)
    retriever.retrieve("warm up", k=5, mode="hybrid")  # BM25 index built outside the timings
    ours = {
        "(b) dense": {"mode": "dense", "focus": False},
        "(c) hybrid+focus": {"mode": "hybrid", "focus": True},
        "(d) hybrid": {"mode": "hybrid", "focus": False},
        "(e) lexical": {"mode": "lexical", "focus": False},
    }
    variants = {f"    {label}": Retriever(ws, services.embedder, cfg)
                for label, cfg in ablation_configs().items()} if ablation else {}
    runs: dict[str, list[Ranked]] = {TUTORIAL: [], **{name: [] for name in ours},
                                     **{name: [] for name in variants}}
    secs: dict[str, list[float]] = {name: [] for name in runs}
    hits_c: list[list] = []
    # Methods take turns on each question, so load from other work spreads evenly.
    for q in questions:
        t = time.perf_counter()
        docs = lc.similarity_search(q["question"], k=10)
        secs[TUTORIAL].append(time.perf_counter() - t)
        runs[TUTORIAL].append(tutorial_ranked(docs))
        for name, kw in ours.items():
            t = time.perf_counter()
            hits = retriever.retrieve(q["question"], k=10, **kw).hits
            secs[name].append(time.perf_counter() - t)
            runs[name].append([(h.chunk.doc_name, h.chunk.page) for h in hits])
            if name.startswith("(c)"):
                hits_c.append(hits)
        for name, variant in variants.items():
            t = time.perf_counter()
            hits = variant.retrieve(q["question"], k=10, focus=True).hits
            secs[name].append(time.perf_counter() - t)
            runs[name].append([(h.chunk.doc_name, h.chunk.page) for h in hits])
    scores = score_financebench(runs, questions)
    rows = [[name, s["recall@5"], s["recall@10"], s["mrr@10"], 1000 * median(secs[name])]
            for name, s in scores.items()]
    print(f"FinanceBench: {len(questions)} questions, 10 PDFs in one workspace "
          f"({ws.count_chunks()} chunks ours, {lc._collection.count()} tutorial); embedders: "
          f"ours {services.embedder.name}, tutorial {tutorial_embedder.name} (torch)")
    print(table(rows, ["method", "recall@5", "recall@10", "MRR@10", "ms/query"]))
    if variants:
        print("(indented rows: the retrieval changes added one at a time, with focusing)")
    a, c = scores[TUTORIAL], scores["(c) hybrid+focus"]
    print(f"(c) vs (a): recall@5 {100 * (c['recall@5'] - a['recall@5']):+.1f} points, "
          f"MRR@10 {100 * (c['mrr@10'] - a['mrr@10']):+.1f} points (target: +15 recall@5)")
    if verbose:
        print("\n(c) hybrid+focus: questions without an evidence page in the top 5")
        for i, (q, r, hits) in enumerate(zip(questions, c["ranks"], hits_c, strict=True)):
            if r is not None and r <= 5:
                continue
            gold = ", ".join(f"{d} p{p}" for d, p in sorted(evidence_pages(q)))
            got = ", ".join(f"{h.chunk.doc_name} p{h.chunk.page}" for h in hits[:5])
            print(f"- {q['financebench_id']}: rank {r or '>10'} "
                  f"(tutorial {a['ranks'][i] or '>10'}); gold {gold}\n"
                  f"    Q: {q['question'][:110]}\n    top 5: {got}")
    return {name: {**s, "ms_per_query": 1000 * median(secs[name])}
            for name, s in scores.items()}


SCRAMBLED_WORKSPACE = "financebench-scrambled"


def scrambled_name(stem: str) -> str:
    """A name that says nothing about the filing (stable across runs)."""
    import hashlib

    return "upload_" + hashlib.sha256(stem.encode()).hexdigest()[:6]


def ensure_scrambled(services, log: Callable[[str], None] = print):
    """The same 10 PDFs in a second workspace, each under a meaningless file name."""
    from rag.ingest.pipeline import Upload

    ws = services.workspace(SCRAMBLED_WORKSPACE, create=True)
    have = {d.name for d in ws.documents()}
    todo = [p for p in pdf_paths() if scrambled_name(p.stem) not in have]
    if todo:
        log(f"ingesting {len(todo)} PDFs under meaningless names (minutes on 2 cores)...")
        for rep in services.ingestor(ws).iter_ingest(
                [Upload(scrambled_name(p.stem) + ".pdf", data=p.read_bytes()) for p in todo]):
            log(f"  {rep.filename}: {rep.status} {rep.message}")
    return ws


def _company_named(question: str, stem: str) -> bool:
    """The question names the filing's company in words ('3M', 'Pfizer', 'PepsiCo')."""
    import re

    company = re.split(r"[_\-]", stem)[0].lower()
    return re.search(rf"(?<![a-z0-9]){re.escape(company)}(?![a-z0-9])", question.lower()) is not None


def run_scrambled(services, log: Callable[[str], None]) -> dict:
    """Right document first, for questions naming the company in words: file names meaningful
    vs scrambled, with the facts read from content (the product) and without them (focus by
    file name only, as before), in one run. Then each filing's facts against the hand-checked
    table of tests/test_facts.py."""
    from unittest import mock

    import rag.ingest.facts as facts_mod
    from rag.retrieve import Retriever

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_facts import REAL

    named_ws = ensure_financebench(services, log)
    scr_ws = ensure_scrambled(services, log)
    back = {scrambled_name(s): s for s in REAL}
    questions = [q for q in load_questions() if _company_named(q["question"], q["doc_name"])]
    rows = []
    out: dict[str, dict] = {}
    for label, ws in (("meaningful names", named_ws), ("scrambled names", scr_ws)):
        retriever = Retriever(ws, services.embedder)
        retriever.retrieve("warm up", k=5)
        for facts_on in (False, True):
            ctx = mock.patch.object(facts_mod, "facts_for", lambda d: facts_mod.DocFacts()) \
                if not facts_on else mock.patch.object(facts_mod, "ensure_facts",
                                                        facts_mod.ensure_facts)
            with ctx:
                first = 0
                for q in questions:
                    hits = retriever.retrieve(q["question"], k=5, focus=True).hits
                    got = hits[0].chunk.doc_name if hits else ""
                    first += back.get(got, got) == q["doc_name"]
            name = f"{label}, {'facts from content' if facts_on else 'file names only'}"
            rows.append([name, f"{first}/{len(questions)}", 100 * first / max(1, len(questions))])
            out[name] = {"first": first, "n": len(questions)}
    print(f"\nRight document first (questions naming the company in words: {len(questions)})")
    print(table(rows, ["workspace, focus by", "right doc first", "%"]))
    checked = 0
    fact_rows = []
    for d in facts_mod.ensure_facts(scr_ws):
        stem = back.get(d.name, d.name)
        f = facts_mod.facts_for(d)
        got = (f.issuer, f.form, f.period, f.ticker)
        ok = REAL.get(stem) == got
        checked += ok
        fact_rows.append([d.name, stem, f.issuer, f.form, f.period or "-", f.ticker or "-",
                          "yes" if ok else "NO"])
    print(f"\nFacts read from content under scrambled names: {checked}/{len(fact_rows)} match "
          "the hand-checked table")
    print(table(fact_rows, ["file", "really", "issuer", "form", "period", "ticker", "right"]))
    out["facts_right"] = {"right": checked, "n": len(fact_rows)}
    return out


def first_search(services, ws_name: str) -> list[object]:
    """A fresh process's first keyword search on a workspace, the index rebuilt from every
    chunk (no saved index) vs loaded from the file the rebuild saved: [workspace, chunks,
    rebuilt s, loaded s, file MB, same top-10]. The in-memory cache is cleared before each,
    as a new process starts with it empty; the embedder is not involved (lexical mode)."""
    from rag import retrieve

    ws = services.workspace(ws_name)
    searcher = services.searcher(ws)
    path = retrieve.lexical_path(searcher.lexical_dir, ws.collection_name)
    query = "revenue growth guidance for the next quarter"
    runs = []
    for fresh in (True, False):
        retrieve._LEX_CACHE.clear()
        if fresh:
            path.unlink(missing_ok=True)
        t = time.perf_counter()
        hits = searcher.retrieve(query, k=10, mode="lexical").hits
        runs.append((time.perf_counter() - t, [(h.chunk.id, round(h.score, 6)) for h in hits]))
        retrieve.flush_lexical_saves()  # the file is written in the background
    (rebuilt, a), (loaded, b) = runs
    return [ws_name, ws.count_chunks(), rebuilt, loaded, path.stat().st_size / 1e6, a == b]


def synthetic_transcript(data_dir: Path, mb: float, log: Callable[[str], None]):
    """Services over a workspace holding one synthetic meeting transcript of about `mb` MB
    (hashing embedder: only the keyword index is measured), built once per data dir."""
    import hashlib
    import random

    import numpy as np

    from rag.config import Settings
    from rag.services import build_services
    from rag.types import Chunk, DocumentInfo

    class Hashing:
        name, dim = "bench-hash-32", 32

        def embed(self, texts):
            out = np.zeros((len(texts), 32), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i, hashlib.blake2b(t.encode(), digest_size=1).digest()[0] % 32] = 1.0
            return out

    svc = build_services(Settings(data_dir=data_dir), embedder=Hashing())
    ws = svc.workspace("transcript", create=True)
    if ws.documents():
        return svc, "transcript"
    rng = random.Random(7)
    words = ["revenue", "growth", "guidance", "quarter", "margin", "customer", "churn", "pipeline", "hiring", "budget", "roadmap", "launch", "battery", "supplier", "pricing", "discount", "renewal", "forecast", "risk", "legal", "security", "audit", "capacity", "latency", "outage", "support", "ticket", "region", "partner"]
    n = int(mb * 1e6 / 1100)
    log(f"writing a synthetic {mb:g} MB transcript ({n:,} chunks)...")
    doc = DocumentInfo(doc_id="synthetic", name="all-hands", filename="all-hands.txt",
                       kind="transcript", units=n, chunks=n, size=int(mb * 1e6),
                       added_at=time.time())
    ws.begin(doc)
    for start in range(0, n, 2000):
        part = [Chunk(id=f"synthetic-{i}", doc_id="synthetic", doc_name="all-hands",
                      ordinal=i, kind="transcript", speaker=f"Speaker {i % 7}",
                      text=" ".join(rng.choice(words) for _ in range(150)))
                for i in range(start, min(n, start + 2000))]
        ws.add_chunks(part, svc.embedder.embed([c.text for c in part]))
    ws.commit(doc)
    return svc, "transcript"


def print_first_search(rows: list[list[object]]) -> None:
    print("\nFirst search in a fresh process (keyword index rebuilt from the chunks vs "
          "loaded from its saved file)")
    print(table(rows, ["workspace", "chunks", "rebuilt s", "loaded s", "file MB", "same"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep/reuse the ingested workspaces here (default: a temp dir)")
    ap.add_argument("--verbose", action="store_true", help="list (c)'s misses per question")
    ap.add_argument("--skip-scifact", action="store_true")
    ap.add_argument("--skip-financebench", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--ablation", action="store_true",
                    help="also score each retrieval change added one at a time")
    ap.add_argument("--scrambled", action="store_true",
                    help="only the right-document-first comparison with scrambled file names "
                         "(and the facts read per filing)")
    ap.add_argument("--first-search-mb", type=float, default=None, metavar="MB",
                    help="only time the first search on a synthetic transcript of MB MB "
                         "(keyword index rebuilt vs loaded) and exit")
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ragdesk-retrbench-")
        args.data_dir = Path(tmp.name)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if args.first_search_mb:
        svc, name = synthetic_transcript(args.data_dir / "synthetic", args.first_search_mb, log)
        print_first_search([first_search(svc, name)])
        return
    services = open_services(args.data_dir)
    report: dict[str, object] = {}
    if args.scrambled:
        report["scrambled"] = run_scrambled(services, log)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
        return
    first_rows = []
    if not args.skip_financebench:
        report["financebench"] = run_financebench(services, args.data_dir, args.verbose, log,
                                                   args.ablation)
        first_rows.append(first_search(services, FB_WORKSPACE))
    if not args.skip_scifact:
        rows = run_scifact(services, log, args.ablation)
        print("\nSciFact: 300 test queries, 5,183 abstracts as table rows ('title. abstract')")
        print(table(rows, ["mode", "nDCG@10", "recall@100", "ms/query"]))
        print("published: BM25 ~0.67, all-MiniLM-L6-v2 ~0.65 nDCG@10")
        report["scifact"] = {r[0].strip(): {"ndcg@10": r[1], "recall@100": r[2]} for r in rows}
        first_rows.append(first_search(services, SF_WORKSPACE))
    if first_rows:
        print_first_search(first_rows)
        report["first_search"] = [dict(zip(["workspace", "chunks", "rebuilt_s", "loaded_s",
                                            "file_mb", "same"], r, strict=True))
                                  for r in first_rows]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
