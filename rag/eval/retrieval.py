"""Retrieval metrics of an evaluation set over a workspace: recall@k and MRR.

Each question is searched the way the Ask page searches (hybrid retrieval, focused on the
documents a question names unless told otherwise). A retrieved passage is a hit when it
belongs to the question's document and lies on one of its pages, or, for documents without
pages (transcripts, tables, text), when it belongs to the document at all. recall@k is the
share of questions with a hit among the top k; MRR averages 1/rank of the first hit (0 when
none is in the top k).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.eval.dataset import EvalQuestion
from rag.types import Chunk, DocumentInfo

Progress = Callable[[float, str], None]


def norm_name(name: str) -> str:
    """A document name as compared: lower case, file extension and outer spaces removed."""
    from rag.ingest.loaders import SUPPORTED_EXT

    n = " ".join(str(name).split()).lower()
    stem, dot, ext = n.rpartition(".")
    if dot and stem and f".{ext}" in SUPPORTED_EXT:
        n = stem
    return n


def match_documents(doc_name: str, docs: Sequence[DocumentInfo]) -> list[str]:
    """The ids of the workspace's documents a set's `doc_name` designates (name or file name)."""
    want = norm_name(doc_name)
    return [d.doc_id for d in docs if want in (norm_name(d.name), norm_name(d.filename))]


def is_hit(chunk: Chunk, doc_ids: Sequence[str], pages: Sequence[int]) -> bool:
    """A passage of the right document on a right page (any page of an unpaged document)."""
    if chunk.doc_id not in doc_ids:
        return False
    return not pages or chunk.page is None or chunk.page in pages


def metrics(ranks: Sequence[int | None], k: int) -> tuple[float, float]:
    """(recall@k, MRR) of the first-hit ranks (1-based; None = no hit)."""
    if not ranks:
        return 0.0, 0.0
    inside = [r for r in ranks if r is not None and 1 <= r <= k]
    return len(inside) / len(ranks), sum(1.0 / r for r in inside) / len(ranks)


@dataclass(frozen=True)
class QuestionResult:
    """How one question fared: the rank of its first hit and what came back."""

    question: EvalQuestion
    rank: int | None
    retrieved: list[dict[str, Any]]
    doc_found: bool

    @property
    def hit(self) -> bool:
        return self.rank is not None

    @property
    def reciprocal_rank(self) -> float:
        return 1.0 / self.rank if self.rank else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.question.to_dict(), "hit": self.hit, "rank": self.rank,
                "reciprocal_rank": round(self.reciprocal_rank, 4), "doc_found": self.doc_found,
                "retrieved": self.retrieved}


@dataclass(frozen=True)
class EvalRun:
    """The metrics of one run of a set over a workspace, and how it was run."""

    k: int
    recall: float
    mrr: float
    results: list[QuestionResult]
    seconds: float = 0.0
    created_at: float = 0.0
    set_name: str = ""
    workspace: str = ""
    embed_model: str = ""
    focus: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def questions(self) -> int:
        return len(self.results)

    @property
    def missing_docs(self) -> list[str]:
        """Documents the set names that the workspace does not have."""
        return list(dict.fromkeys(r.question.doc_name for r in self.results if not r.doc_found))

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: questions, recall@k, mrr, per_question and how the run was made."""
        return {
            "questions": self.questions,
            "recall@k": round(self.recall, 4),
            f"recall@{self.k}": round(self.recall, 4),
            "mrr": round(self.mrr, 4),
            "k": self.k,
            "hits": sum(r.hit for r in self.results),
            "missing_docs": self.missing_docs,
            "set": self.set_name,
            "workspace": self.workspace,
            "embed_model": self.embed_model,
            "focus": self.focus,
            "settings": self.settings,
            "seconds": round(self.seconds, 2),
            "created_at": self.created_at,
            "per_question": [r.to_dict() for r in self.results],
        }


def evaluate(retriever: Any, questions: Sequence[EvalQuestion], k: int = 5, focus: bool = True,
             set_name: str = "", settings: dict[str, Any] | None = None,
             progress: Progress | None = None) -> EvalRun:
    """Search every question of the set and score the rankings.

    Args:
        retriever: a `rag.retrieve.Retriever` over the workspace.
        questions: the set (see `rag.eval.dataset`).
        k: passages looked at per question.
        focus: narrow each search to the documents the question names, as Ask does.
        set_name: a label for the run (the set's file name).
        settings: what else to remember with the run (chunk size, embedder backend...).
        progress: called with (fraction, message).
    """
    if k < 1:
        from rag.eval.dataset import EvalSetError

        raise EvalSetError("k must be at least 1")
    say = progress or (lambda f, m: None)
    ws = retriever.workspace
    docs = ws.documents()
    t0 = time.perf_counter()
    results = []
    for i, q in enumerate(questions):
        say(i / max(1, len(questions)), f"Question {i + 1} of {len(questions)}")
        ids = match_documents(q.doc_name, docs)
        hits = retriever.search(q.question, k=k, focus=focus)
        rank = next((n for n, h in enumerate(hits, 1) if is_hit(h.chunk, ids, q.pages)), None)
        retrieved = [{"rank": n, "doc_name": h.chunk.doc_name, "page": h.chunk.page,
                      "location": h.chunk.location(), "score": round(float(h.score), 6),
                      "hit": is_hit(h.chunk, ids, q.pages)} for n, h in enumerate(hits, 1)]
        results.append(QuestionResult(q, rank, retrieved, bool(ids)))
    say(1.0, "Done")
    recall, mrr = metrics([r.rank for r in results], k)
    return EvalRun(k=k, recall=recall, mrr=mrr, results=results,
                   seconds=time.perf_counter() - t0, created_at=time.time(), set_name=set_name,
                   workspace=getattr(ws, "name", ""),
                   embed_model=getattr(ws, "embed_model", ""), focus=focus,
                   settings=dict(settings or {}))


def results_frame(run: EvalRun):
    """One row a question: hit or not, rank, the expected and the top retrieved place."""
    import pandas as pd

    rows = []
    for r in run.results:
        top = r.retrieved[0] if r.retrieved else {}
        rows.append({
            "question": r.question.question, "document": r.question.doc_name,
            "page": ", ".join(map(str, r.question.pages)),
            "hit": r.hit, "rank": r.rank,
            "top passage": f"{top.get('doc_name', '')}, {top.get('location', '')}"
            if top else "",
            "note": "" if r.doc_found else "document not in this workspace",
        })
    df = pd.DataFrame(rows, columns=["question", "document", "page", "hit", "rank",
                                     "top passage", "note"])
    return df.astype({"rank": "Int64"})
