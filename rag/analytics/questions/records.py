"""What a logged question is: its record, top passages and outcome, from an `Answer`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

CHECK_OK, CHECK_FLAGGED, CHECK_NONE = "ok", "flagged", "none"
ANSWERED, FLAGGED, ABSTAINED = "answered", "flagged", "abstained"
OUTCOMES = (ANSWERED, FLAGGED, ABSTAINED)
SOURCE_APP, SOURCE_CLI, SOURCE_REASK = "app", "cli", "reask"
PASSAGES_KEPT = 5
SNIPPET_CHARS = 240
ANSWER_CHARS = 4000


@dataclass(frozen=True)
class Passage:
    """One of the top passages retrieved for a question (what the dashboard shows as closest)."""

    chunk_id: str
    doc_id: str
    doc_name: str
    location: str
    page: int | None = None
    score: float | None = None
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "doc_id": self.doc_id, "doc_name": self.doc_name,
                "location": self.location, "page": self.page, "score": self.score,
                "snippet": self.snippet}


@dataclass(frozen=True)
class QuestionRecord:
    """One logged question and what came back."""

    id: int
    asked_at: float
    question: str
    rewritten: str = ""
    model: str = ""
    seconds: float | None = None
    first_token_s: float | None = None
    abstained: bool = False
    check: str = CHECK_NONE
    citations: int = 0
    flags: tuple[str, ...] = ()
    passages: tuple[Passage, ...] = ()
    answer: str = ""
    source: str = SOURCE_APP
    reask_of: int | None = None
    resolved_at: float | None = None
    resolved_by: int | None = None
    resolution: str = ""

    @property
    def outcome(self) -> str:
        """answered (citations checked), flagged (a citation failed its check) or abstained."""
        if self.abstained:
            return ABSTAINED
        return FLAGGED if self.check == CHECK_FLAGGED else ANSWERED

    @property
    def unanswered(self) -> bool:
        """The documents did not hold the answer, or its citations failed their check."""
        return self.outcome != ANSWERED

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def topic_text(self) -> str:
        """The standalone form of the question (a follow-up's rewrite), for grouping."""
        return self.rewritten or self.question


def citation_check(answer: Any) -> str:
    """ok when every citation of the answer holds and no sentence was removed by the claim
    check, flagged when one does not or was, none without citations."""
    citations = list(getattr(answer, "citations", []) or [])
    if not citations:
        return CHECK_NONE
    if getattr(answer, "rejected", None):  # a sentence failed the claim check: not answered
        return CHECK_FLAGGED
    return CHECK_OK if all(c.ok for c in citations) else CHECK_FLAGGED


def passages_of(answer: Any, n: int = PASSAGES_KEPT) -> list[Passage]:
    """The answer's top passages (ids, names, places, a short snippet)."""
    out = []
    for h in list(getattr(answer, "hits", []) or [])[:n]:
        c = h.chunk
        out.append(Passage(chunk_id=c.id, doc_id=c.doc_id, doc_name=c.doc_name,
                           location=c.location(), page=c.page,
                           score=round(float(h.score), 6),
                           snippet=" ".join(c.text.split())[:SNIPPET_CHARS]))
    return out


def row_from_answer(answer: Any, source: str = SOURCE_APP, asked_at: float | None = None,
                    reask_of: int | None = None) -> dict[str, Any]:
    """The log row of an `rag.answer.Answer` (plain values, ready to insert)."""
    return {
        "asked_at": float(asked_at if asked_at is not None else time.time()),
        "question": str(answer.question),
        "rewritten": str(answer.rewritten or ""),
        "model": str(answer.model or ""),
        "seconds": float(answer.seconds) if answer.seconds is not None else None,
        "first_token_s": (float(answer.first_token_s)
                          if getattr(answer, "first_token_s", None) is not None else None),
        "abstained": bool(answer.abstained),
        "citation_check": citation_check(answer),
        "citations": len(answer.citations or []),
        "flags": list(answer.flags or []),
        "passages": [p.to_dict() for p in passages_of(answer)],
        "answer": str(answer.text or "")[:ANSWER_CHARS],
        "source": source,
        "reask_of": reask_of,
    }


ROW_COLUMNS = ("asked_at", "question", "rewritten", "model", "seconds", "first_token_s",
            "abstained", "citation_check", "citations", "flags", "passages", "answer", "source",
            "reask_of")


def record_from_row(r: sqlite3.Row | tuple) -> QuestionRecord:
    (qid, asked_at, question, rewritten, model, seconds, first, abstained, check, citations,
     flags, passages, answer, source, reask_of, resolved_at, resolved_by, resolution) = r
    try:
        plist = tuple(Passage(**p) for p in json.loads(passages or "[]"))
    except (TypeError, ValueError):
        plist = ()
    try:
        flist = tuple(json.loads(flags or "[]"))
    except ValueError:
        flist = ()
    return QuestionRecord(
        id=int(qid), asked_at=float(asked_at), question=question, rewritten=rewritten or "",
        model=model or "", seconds=seconds, first_token_s=first, abstained=bool(abstained),
        check=check, citations=int(citations or 0), flags=flist, passages=plist,
        answer=answer or "", source=source or SOURCE_APP, reask_of=reask_of,
        resolved_at=resolved_at, resolved_by=resolved_by, resolution=resolution or "")


def text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).lower().encode("utf-8")).hexdigest()
