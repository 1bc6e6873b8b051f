"""Ingestion speed and memory: RAGdesk's pipeline vs the tutorial LangChain pipeline.

    .venv/bin/python benchmarks/ingest.py [--pdfs N] [--repeat R]
                                          [--embedder default|torch|onnx] [--keep DIR] [--json]

Both pipelines ingest the FinanceBench PDFs into a fresh workspace, each in its own child
process (so peak RSS is per pipeline), with the packaged all-MiniLM-L6-v2 model on the same
number of threads: ours with the product's default embedder (`default`: what the app builds,
int8 ONNX), the tutorial with sentence-transformers (what HuggingFaceEmbeddings runs). Model loading (and, for `--embedder onnx`, the one-off export) is done before
the clock starts; one short warm-up call follows it.

- ours: `build_services(Settings(data_dir=tmp))`, `Ingestor.ingest_many` (pypdf in a bounded
  child process, the next file parsed while the current one embeds, structure-aware chunks).
- tutorial: pypdf `PdfReader` page by page (one LangChain `Document` per page),
  `RecursiveCharacterTextSplitter(1000, 200)`, `Chroma.from_documents` on a fresh
  `PersistentClient` with cosine space and a minimal `Embeddings` wrapping sentence-transformers
  (what `HuggingFaceEmbeddings` does). `--embedder` changes ours only unless
  `--tutorial-embedder` says otherwise: the tutorial is the baseline a user starts from.

The machine may be shared: pipelines alternate their order over repeats, figures are medians,
and the ratio compares the two pipelines measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import median, pdf_paths, table

THREADS = 2


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and
    exec, so a child would report its parent's peak if that was higher."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildPeak:
    """Samples the RSS of this process's children (the PDF-parsing workers) every 20 ms."""

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.02):
            for c in me.children(recursive=True):
                try:
                    self.peak_mb = max(self.peak_mb, c.memory_info().rss / 2**20)
                except psutil.Error:
                    pass

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------
# children: one pipeline each, printing one JSON line


def run_ours(pdfs: list[Path], embedder_kind: str, data_dir: Path, model_cache: Path) -> dict:
    from _common import make_embedder

    from rag.config import Settings
    from rag.ingest.pipeline import Upload
    from rag.services import build_services

    # A generous parse timeout: on a shared machine a 500-page filing can take minutes.
    settings = Settings(data_dir=data_dir, threads=THREADS, pdf_timeout_s=3600)
    t = time.perf_counter()
    embedder = make_embedder(embedder_kind, model_cache.parent, settings.threads,
                             settings.embed_batch_size)
    services = build_services(settings, embedder=embedder)
    load_s = time.perf_counter() - t
    embedder.embed(["warm-up sentence for the benchmark"])
    rss_before = _peak_rss_mb()

    ws = services.workspace("financebench", create=True)
    ingestor = services.ingestor(ws)
    uploads = [Upload(p.name, path=p) for p in pdfs]
    with ChildPeak() as children:
        t0 = time.perf_counter()
        reports = ingestor.ingest_many(uploads)
        total = time.perf_counter() - t0

    bad = [f"{r.filename}: {r.status} {r.message}" for r in reports if r.doc is None]
    if bad:
        raise SystemExit("ingestion failed: " + "; ".join(bad))
    split = {k: sum(r.timings.get(k, 0.0) for r in reports)
             for k in ("parse", "chunk", "facts", "embed", "write", "figures")}
    pages = sum(r.doc.units for r in reports)
    chunks = sum(r.doc.chunks for r in reports)
    return {
        "pipeline": "ours", "embedder": embedder.name, "files": len(reports), "pages": pages,
        "chunks": chunks, "seconds": total, "load_s": load_s, "split": split,
        # Time the embedding thread waited for parsing: the part of parsing not hidden.
        "parse_wait": max(0.0, total - split["chunk"] - split["facts"] - split["embed"]
                          - split["write"] - split["figures"]),
        "chars": sum(len(c.text) for c in ws.iter_chunks()),
        "peak_rss_mb": _peak_rss_mb(), "rss_after_load_mb": rss_before,
        "parser_child_peak_rss_mb": children.peak_mb,
    }


def run_tutorial(pdfs: list[Path], embedder_kind: str, data_dir: Path, model_cache: Path
                 ) -> dict:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pypdf import PdfReader

    from rag.index.embedder import packaged_model_dir

    t = time.perf_counter()
    if embedder_kind == "torch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(THREADS)
        model = SentenceTransformer(str(packaged_model_dir("all-MiniLM-L6-v2")), device="cpu",
                                    local_files_only=True)

        def encode(texts: list[str]) -> list[list[float]]:
            return model.encode(texts, normalize_embeddings=True, show_progress_bar=False,
                                convert_to_numpy=True).tolist()
        name = "all-MiniLM-L6-v2"
    else:
        from _common import make_embedder

        emb = make_embedder(embedder_kind, model_cache.parent, THREADS)

        def encode(texts: list[str]) -> list[list[float]]:
            return emb.embed(texts).tolist()
        name = emb.name
    load_s = time.perf_counter() - t

    embed_s = [0.0]

    class PackagedEmbeddings(Embeddings):
        """What HuggingFaceEmbeddings(model_name=..., normalize_embeddings=True) does."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            t = time.perf_counter()
            out = encode(texts)
            embed_s[0] += time.perf_counter() - t
            return out

        def embed_query(self, text: str) -> list[float]:
            return encode([text])[0]

    embeddings = PackagedEmbeddings()
    embeddings.embed_query("warm-up sentence for the benchmark")
    embed_s[0] = 0.0
    rss_before = _peak_rss_mb()

    t0 = time.perf_counter()
    docs: list[Document] = []
    for p in pdfs:
        reader = PdfReader(p)
        if reader.is_encrypted:
            reader.decrypt("")
        for i, page in enumerate(reader.pages):
            # PyPDFLoader's shape: one Document per page, 0-based "page".
            docs.append(Document(page_content=page.extract_text() or "",
                                 metadata={"source": str(p), "page": i, "page_label": str(i + 1),
                                           "total_pages": len(reader.pages)}))
    t_parse = time.perf_counter() - t0
    t = time.perf_counter()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200
                                            ).split_documents(docs)
    t_split = time.perf_counter() - t
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    t = time.perf_counter()
    store = Chroma.from_documents(splits, embedding=embeddings, client=client,
                                  collection_metadata={"hnsw:space": "cosine"})
    t_store = time.perf_counter() - t
    total = time.perf_counter() - t0
    count = store._collection.count()
    return {
        "pipeline": "tutorial", "embedder": name, "files": len(pdfs), "pages": len(docs),
        "chunks": len(splits), "stored": count, "seconds": total, "load_s": load_s,
        "split": {"parse": t_parse, "chunk": t_split, "facts": 0.0, "embed": embed_s[0],
                  "write": t_store - embed_s[0], "figures": 0.0},
        "parse_wait": t_parse,
        "chars": sum(len(d.page_content) for d in splits),
        "peak_rss_mb": _peak_rss_mb(), "rss_after_load_mb": rss_before,
        "parser_child_peak_rss_mb": 0.0,
    }


def child_main(args: argparse.Namespace) -> None:
    pdfs = pdf_paths(args.pdfs)
    data_dir = Path(args.data_dir)
    run = run_ours if args.child == "ours" else run_tutorial
    # Keep stdout for the result: libraries print progress and warnings.
    real_stdout = sys.stdout
    sys.stdout = io.StringIO()
    try:
        res = run(pdfs, args.embedder, data_dir, Path(args.model_cache))
    finally:
        sys.stdout = real_stdout
    res["pages_per_s"] = res["pages"] / res["seconds"]
    res["chunks_per_s"] = res["chunks"] / res["seconds"]
    # Also beside the workspace: a long run cut short keeps the pipelines that finished.
    (data_dir / "result.json").write_text(json.dumps(res, indent=2))
    print("RESULT " + json.dumps(res))


# --------------------------------------------------------------------------------------------
# parent: spawns the children, alternating their order, and prints the summary


def spawn(pipeline: str, embedder: str, args: argparse.Namespace, data_dir: Path,
          model_cache: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", pipeline,
           "--embedder", embedder, "--data-dir", str(data_dir), "--model-cache", str(model_cache)]
    if args.pdfs:
        cmd += ["--pdfs", str(args.pdfs)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"the {pipeline} child failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT "):])


def _label(r: dict) -> str:
    return "tutorial" if r["pipeline"] == "tutorial" else f"ours:{r['kind']}"


def summarise(runs: list[dict]) -> dict:
    out: dict = {"pipelines": {}, "ratios": {}}
    labels = list(dict.fromkeys(_label(r) for r in runs))
    for label in labels:
        rs = [r for r in runs if _label(r) == label]
        out["pipelines"][label] = {
            "embedder": rs[0]["embedder"], "files": rs[0]["files"], "pages": rs[0]["pages"],
            "chunks": rs[0]["chunks"], "mean_chunk_chars": rs[0]["chars"] / rs[0]["chunks"],
            "seconds": median([r["seconds"] for r in rs]),
            "pages_per_s": median([r["pages_per_s"] for r in rs]),
            "chunks_per_s": median([r["chunks_per_s"] for r in rs]),
            "peak_rss_mb": median([r["peak_rss_mb"] for r in rs]),
            "rss_after_load_mb": median([r["rss_after_load_mb"] for r in rs]),
            "parser_child_peak_rss_mb": median([r["parser_child_peak_rss_mb"] for r in rs]),
            "split": {k: median([r["split"].get(k, 0.0) for r in rs]) for k in rs[0]["split"]},
            "parse_wait": median([r["parse_wait"] for r in rs]),
            "load_s": median([r["load_s"] for r in rs]),
        }
    # Ratio per repeat (measured in the same round as the tutorial), then their median.
    for label in labels:
        if label == "tutorial":
            continue
        per = []
        for rep in sorted({r["repeat"] for r in runs}):
            mine = [r for r in runs if r["repeat"] == rep and _label(r) == label]
            base = [r for r in runs if r["repeat"] == rep and r["pipeline"] == "tutorial"]
            if mine and base:
                per.append(mine[0]["pages_per_s"] / base[0]["pages_per_s"])
        out["ratios"][label] = {"pages_per_s": median(per), "per_repeat": per}
    return out


def print_summary(s: dict, args: argparse.Namespace) -> None:
    ps = s["pipelines"]
    first = next(iter(ps.values()))
    print(f"FinanceBench: {first['files']} PDFs, {first['pages']} pages; {THREADS} threads; "
          f"median of {args.repeat} run(s); model load excluded ("
          + ", ".join(f"{k} {v['load_s']:.1f} s" for k, v in ps.items()) + ")\n")
    rows = []
    for label, r in ps.items():
        rows.append([label, r["embedder"], r["pages"], r["chunks"], r["mean_chunk_chars"],
                     r["seconds"], r["pages_per_s"], r["chunks_per_s"], r["peak_rss_mb"],
                     r["parser_child_peak_rss_mb"] or float("nan")])
    print(table(rows, ["pipeline", "embedder", "pages", "chunks", "chars/chunk", "seconds",
                       "pages/s", "chunks/s", "peak RSS MB", "parser child MB"]))
    print("\nTime split, seconds (summed over files):")
    split_rows = []
    for label, r in ps.items():
        sp = r["split"]
        split_rows.append([label, sp["parse"], r["parse_wait"], sp["chunk"],
                           sp.get("facts", 0.0), sp["embed"], sp["write"],
                           sp.get("figures", 0.0), r["seconds"], sp["embed"] / r["seconds"]])
    print(table(split_rows, ["pipeline", "parse", "parse (not hidden)", "chunk", "facts",
                             "embed", "write", "figures", "total", "embed share"]))
    print("  RAGdesk parses the next file in a child process while the current one embeds: "
          "'parse' is\n  the parsing work, 'parse (not hidden)' the wall time spent waiting "
          "for it (total - chunk - embed - write).\n  The tutorial's 'write' is "
          "Chroma.from_documents minus its embedding calls.")
    for label, r in s["ratios"].items():
        per = r["per_repeat"]
        print(f"\nRatio {label} / tutorial, pages/s: {r['pages_per_s']:.2f}x"
              + (f"  (per run: {', '.join(f'{x:.2f}' for x in per)})" if len(per) > 1 else ""),
              end="")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pdfs", type=int, default=None, help="only the first N PDFs")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--embedder", default="default",
                    help="ours: default (the app's) | torch | onnx (int8) | onnx-fp32 | "
                         "onnx-uint8, or a comma list "
                         "(each is measured against the same tutorial run)")
    ap.add_argument("--tutorial-embedder", default="torch")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the last run's workspaces in this folder (replaced if present)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    ap.add_argument("--json-out", type=Path, default=None,
                    help="also write the JSON to this file (with the table printed)")
    ap.add_argument("--summarise", nargs="+", metavar="RESULT_JSON",
                    help="print the summary of result.json files left by the pipelines of a "
                         "run cut short (DIR/<pipeline>-<embedder>/result.json with --keep)")
    ap.add_argument("--child", choices=["ours", "tutorial"], help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--model-cache", help=argparse.SUPPRESS)
    args = ap.parse_args()

    def norm(kind: str) -> str:
        return "onnx-int8" if kind == "onnx" else kind

    if args.child:
        args.embedder = norm(args.embedder)
        child_main(args)
        return
    if args.summarise:
        # Pipelines of a run cut short, from the result.json each child left in its folder.
        runs = [json.loads(Path(f).read_text()) for f in args.summarise]
        for res in runs:
            res.setdefault("repeat", 0)
            emb = res["embedder"]
            res.setdefault("kind", "onnx-" + emb.rpartition("-onnx-")[2]
                           if "-onnx-" in emb else "torch")
        summary = summarise(runs)
        if args.json:
            print(json.dumps({"summary": summary, "runs": runs}, indent=2))
        else:
            print_summary(summary, args)
        return
    ours_kinds = [norm(k) for k in args.embedder.split(",") if k]
    tut_kind = norm(args.tutorial_embedder)

    root = Path(tempfile.mkdtemp(prefix="ragdesk-ingest-bench-"))
    # With --keep the ONNX files stay beside the workspaces, for retrieval_embedders.py.
    model_cache = (args.keep / "models") if args.keep else (root / "models")
    try:
        for kind in {*ours_kinds, tut_kind} - {"torch", "default"}:
            # Export/quantise once here, so no child pays for torch's export in RSS or time.
            from rag.index.embedder import packaged_model_dir
            from rag.index.onnx_embedder import ensure_onnx_model

            ensure_onnx_model(packaged_model_dir("all-MiniLM-L6-v2"), model_cache,
                              kind.partition("-")[2] or "int8", label="all-MiniLM-L6-v2")
        jobs = [("ours", k) for k in ours_kinds] + [("tutorial", tut_kind)]
        runs = []
        for r in range(args.repeat):
            # Rotate the order each round: a load change on the machine hits every pipeline.
            shift = r % len(jobs)
            for pipe, kind in jobs[shift:] + jobs[:shift]:
                last = r == args.repeat - 1
                if args.keep and last:
                    data_dir = args.keep / f"{pipe}-{kind}"
                    shutil.rmtree(data_dir, ignore_errors=True)
                else:
                    data_dir = root / f"{pipe}-{kind}-{r}"
                data_dir.mkdir(parents=True, exist_ok=True)
                res = spawn(pipe, kind, args, data_dir, model_cache)
                res.update(repeat=r, kind=kind)
                runs.append(res)
                if not args.json:
                    print(f"  run {r + 1}/{args.repeat} {pipe} ({kind}): {res['seconds']:.1f} s, "
                          f"{res['pages_per_s']:.2f} pages/s", file=sys.stderr, flush=True)
                if not (args.keep and last):
                    shutil.rmtree(data_dir, ignore_errors=True)
        summary = summarise(runs)
        doc = json.dumps({"pdfs": args.pdfs, "repeat": args.repeat, "threads": THREADS,
                          "summary": summary, "runs": runs}, indent=2)
        if args.json_out:
            args.json_out.write_text(doc)
        if args.json:
            print(doc)
        else:
            print_summary(summary, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
