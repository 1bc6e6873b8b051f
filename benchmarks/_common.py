"""Helpers shared by the benchmark scripts: data paths, sample chunks, embedders, tables."""

from __future__ import annotations

import math
import os
import statistics
import sys
from pathlib import Path

FINANCEBENCH = Path(os.environ.get(
    "RAG_FINANCEBENCH", Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench"
))
PDF_DIR = FINANCEBENCH / "pdfs"
QUESTIONS = FINANCEBENCH / "questions.jsonl"


def pdf_paths(n: int | None = None) -> list[Path]:
    paths = sorted(PDF_DIR.glob("*.pdf"))
    if not paths:
        sys.exit(f"no PDFs found in {PDF_DIR} (set RAG_FINANCEBENCH to the FinanceBench folder)")
    return paths[:n] if n else paths


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def table(rows: list[list[object]], header: list[str]) -> str:
    """A plain fixed-width table; numbers right-aligned."""
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def make_embedder(kind: str, data_dir: Path, threads: int, batch_size: int = 32):
    """An embedder by name.

    'default' is exactly what the app builds (`rag.services.build_embedder`: today the packaged
    MiniLM as int8 ONNX, cached in the user's models folder); 'torch' is the packaged
    sentence-transformers model (what the tutorial pipeline uses); 'onnx[-fp32|-int8|-uint8]'
    exports into `data_dir/models` for side-by-side comparisons.
    """
    if kind == "default":
        from rag.config import Settings
        from rag.services import build_embedder

        return build_embedder(Settings(threads=threads, embed_batch_size=batch_size))
    if kind == "torch":
        from rag.index.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(batch_size=batch_size, threads=threads)
    if kind.startswith("onnx"):
        from rag.index.onnx_embedder import OnnxEmbedder

        quant = kind.partition("-")[2] or "int8"
        return OnnxEmbedder(cache_dir=data_dir / "models", quant=quant,
                            batch_size=batch_size, threads=threads)
    raise SystemExit(f"unknown embedder '{kind}': default, torch, onnx, onnx-fp32, onnx-int8, "
                     "onnx-uint8")


def sample_chunks(n: int = 100, pdfs: int | None = None) -> list[str]:
    """`n` real 10-K chunks as RAGdesk embeds them, evenly spread over the 10-K filings."""
    from rag.config import Settings
    from rag.ingest.chunking import chunk_document
    from rag.ingest.loaders import load
    from rag.ingest.pipeline import embed_input

    settings = Settings(data_dir=Path("/nonexistent-unused"))
    texts: list[str] = []
    for p in [p for p in pdf_paths(pdfs) if "10K" in p.name.upper()]:
        doc = load(p.read_bytes(), p.name, settings)
        texts += [embed_input(c) for c in chunk_document(doc, "x", settings.chunk_chars)]
    step = max(1, len(texts) // n)
    return texts[::step][:n]
