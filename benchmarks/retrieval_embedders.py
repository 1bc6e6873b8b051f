"""Dense retrieval quality on FinanceBench: evidence-page recall@k and MRR, per embedder.

    .venv/bin/python benchmarks/retrieval_embedders.py [--keep DIR] [--embedders torch,onnx-int8]
                                             [--k 5] [--json]

Each question of questions.jsonl names its evidence pages (`evidence_page_num`, 0-based; our
pages are 1-based). A retrieved chunk counts when it lies on an evidence page of the evidence
document. recall@k: the share of a question's evidence pages found in the top k, averaged; hit@k:
questions with at least one; MRR: 1/rank of the first evidence chunk in the top 10. Two scopes:
the whole workspace (all 10 filings) and the question's own filing only.

Workspaces come from `benchmarks/ingest.py --keep DIR` (DIR/ours-<embedder>); one that is
missing is ingested here first. A tutorial workspace there (DIR/tutorial-torch) is scored too.
The overlap line says how many of the torch top-k chunks the other embedder also returns.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUESTIONS, make_embedder, pdf_paths, table

MRR_DEPTH = 10
WS = "financebench"


def load_questions() -> list[dict]:
    qs = []
    for line in QUESTIONS.read_text().splitlines():
        if line.strip():
            q = json.loads(line)
            q["gold"] = {(e["doc_name"], int(e["evidence_page_num"]) + 1) for e in q["evidence"]}
            qs.append(q)
    return qs


def score(ranked: list[list[tuple[str, int]]], qs: list[dict], k: int) -> dict:
    recall, hit, rr = [], [], []
    for q, pages in zip(qs, ranked, strict=True):
        top = set(pages[:k])
        found = q["gold"] & top
        recall.append(len(found) / len(q["gold"]))
        hit.append(1.0 if found else 0.0)
        first = next((i for i, p in enumerate(pages[:MRR_DEPTH]) if p in q["gold"]), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
    return {"recall": float(np.mean(recall)), "hit": float(np.mean(hit)),
            "mrr": float(np.mean(rr)), "per_question_recall": recall}


def ours(kind: str, data_dir: Path, model_cache: Path, qs: list[dict], k: int) -> dict:
    from rag.config import Settings
    from rag.ingest.pipeline import Upload
    from rag.services import build_services

    settings = Settings(data_dir=data_dir)
    embedder = make_embedder(kind, model_cache.parent, settings.threads)
    services = build_services(settings, embedder=embedder)
    ws = services.workspace(WS, create=True)
    if not ws.documents():
        print(f"  ingesting the PDFs into {data_dir} with {embedder.name}...", file=sys.stderr)
        t = time.perf_counter()
        services.ingestor(ws).ingest_many([Upload(p.name, path=p) for p in pdf_paths()])
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    by_name = {d.name: d.doc_id for d in ws.documents()}
    out: dict = {"name": embedder.name, "chunks": ws.count_chunks(), "ids": {}}
    for scope in ("all", "doc"):
        ranked, ids = [], []
        for q in qs:
            doc_ids = [by_name[q["doc_name"]]] if scope == "doc" else None
            # Dense only (no BM25 fusion): the embedder is what is compared.
            vec = embedder.embed([q["question"]])[0]
            hits = ws.query(vec, k=max(k, MRR_DEPTH), doc_ids=doc_ids)
            ranked.append([(h.chunk.doc_name, h.chunk.page) for h in hits])
            ids.append([h.chunk.id for h in hits])
        out[scope] = score(ranked, qs, k)
        out["ids"][scope] = ids
    return out


def tutorial(data_dir: Path, model_cache: Path, qs: list[dict], k: int) -> dict:
    """The tutorial store: langchain-chroma's default collection, 0-based `page` metadata."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    emb = make_embedder("torch", model_cache.parent, 2)
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_collection("langchain")
    out: dict = {"name": emb.name + " (tutorial chunks)", "chunks": col.count()}
    for scope in ("all", "doc"):
        ranked = []
        for q in qs:
            where = ({"source": {"$in": [str(p) for p in pdf_paths()
                                         if p.stem == q["doc_name"]]}}
                     if scope == "doc" else None)
            res = col.query(query_embeddings=emb.embed([q["question"]]).tolist(),
                            n_results=max(k, MRR_DEPTH), where=where, include=["metadatas"])
            ranked.append([(Path(m["source"]).stem, int(m["page"]) + 1)
                           for m in res["metadatas"][0]])
        out[scope] = score(ranked, qs, k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder of benchmarks/ingest.py --keep (workspaces made if missing)")
    ap.add_argument("--embedders", default="torch,onnx-int8")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--tutorial-dir", type=Path, default=None,
                    help="data dir of a tutorial run (default DIR/tutorial-torch)")
    ap.add_argument("--no-tutorial", action="store_true",
                    help="skip the tutorial workspace even if DIR/tutorial-torch exists")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="ragdesk-retrieval-bench-")
    root = args.keep or Path(tmp.name)
    qs = load_questions()
    results: dict = {}
    for kind in args.embedders.split(","):
        kind = "onnx-int8" if kind == "onnx" else kind
        results[kind] = ours(kind, root / f"ours-{kind}", root / "models", qs, args.k)
    tut_dir = args.tutorial_dir or root / "tutorial-torch"
    if not args.no_tutorial and (tut_dir / "chroma").exists():
        results["tutorial-torch"] = tutorial(tut_dir, root / "models", qs, args.k)
    ref = results.get("torch")
    for kind, r in results.items():
        if ref is None or "ids" not in r or kind == "torch":
            continue
        r["overlap_with_torch"] = {
            scope: float(np.mean([len(set(a[: args.k]) & set(b[: args.k])) / args.k
                                  for a, b in zip(r["ids"][scope], ref["ids"][scope],
                                                  strict=True)]))
            for scope in ("all", "doc")
        }
    if args.json:
        print(json.dumps({"questions": len(qs), "k": args.k, "results": {
            k: {kk: vv for kk, vv in v.items() if kk != "ids"} for k, v in results.items()}},
            indent=2))
        return
    print(f"FinanceBench: {len(qs)} questions, dense retrieval, k={args.k}, "
          f"MRR over the top {MRR_DEPTH}\n")
    rows = []
    for kind, r in results.items():
        for scope in ("all", "doc"):
            ov = r.get("overlap_with_torch", {}).get(scope, float("nan"))
            rows.append([kind, "all filings" if scope == "all" else "own filing", r["chunks"],
                         r[scope]["recall"], r[scope]["hit"], r[scope]["mrr"], ov])
    print(table(rows, ["embedder", "scope", "chunks", f"recall@{args.k}", f"hit@{args.k}",
                       "MRR", f"top-{args.k} overlap w/ torch"]))


if __name__ == "__main__":
    main()
