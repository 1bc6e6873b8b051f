"""Frozen dataclasses the whole app speaks: services return these, never library objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Scalar = str | int | float | bool

DocKind = Literal["pdf", "text", "markdown", "docx", "transcript", "table"]

UNIT_LABEL: dict[str, str] = {
    "pdf": "pages",
    "text": "sections",
    "markdown": "sections",
    "docx": "sections",
    "transcript": "turns",
    "table": "rows",
}


@dataclass(frozen=True)
class Unit:
    """One structural piece of a parsed document: a page, a section, a speaker turn or a row.

    Numbers are 1-based. Only the fields that apply to the document's kind are set.
    """

    text: str
    page: int | None = None
    heading: str | None = None
    speaker: str | None = None
    start: str | None = None
    end: str | None = None
    turn: int | None = None
    row: int | None = None
    meta: dict[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedDocument:
    """What a loader returns: the file's text cut along its own structure."""

    filename: str
    name: str
    kind: DocKind
    units: tuple[Unit, ...]
    content_hash: str
    size: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage and exactly where it came from."""

    id: str
    doc_id: str
    doc_name: str
    ordinal: int
    text: str
    kind: str = "text"
    page: int | None = None
    heading: str | None = None
    speaker: str | None = None
    speakers: str | None = None
    start: str | None = None
    end: str | None = None
    turn_start: int | None = None
    turn_end: int | None = None
    row: int | None = None
    meta: dict[str, Scalar] = field(default_factory=dict)

    def location(self) -> str:
        """A short human label for where the passage is: 'p. 12', 'turns 4-6 (00:01:10)', ..."""
        if self.page is not None:
            return f"p. {self.page}"
        if self.row is not None:
            return f"row {self.row}"
        if self.turn_start is not None:
            span = (
                f"turn {self.turn_start}"
                if self.turn_end in (None, self.turn_start)
                else f"turns {self.turn_start}-{self.turn_end}"
            )
            who = f"{self.speaker}, " if self.speaker else ""
            when = f" at {self.start}" if self.start else ""
            return f"{who}{span}{when}"
        if self.heading:
            return f"§ {self.heading}"
        return f"chunk {self.ordinal + 1}"


@dataclass(frozen=True)
class DocumentInfo:
    """A document of a workspace, as the library table shows it."""

    doc_id: str
    name: str
    filename: str
    kind: str
    units: int
    chunks: int
    size: int
    added_at: float
    status: str = "ready"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def unit_label(self) -> str:
        return UNIT_LABEL.get(self.kind, "sections")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever scores behind it."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "doc_id": c.doc_id,
            "doc_name": c.doc_name,
            "page": c.page,
            "location": c.location(),
            "speaker": c.speaker,
            "start": c.start,
            "row": c.row,
            "heading": c.heading,
            "chunk_id": c.id,
            "text": c.text,
            "score": round(float(self.score), 6),
            "scores": {k: round(float(v), 6) for k, v in self.scores.items()},
        }


MIN_SUPPORT = 0.35
"""A cited passage must hold this share of its sentence's words (rag.claims) to count as
support, when no claim check has judged the sentence."""


@dataclass(frozen=True)
class Citation:
    """One cited passage, the one shape answers, briefs, theme drill-downs and the question
    log speak: its number [n], the chunk, the quoted span (an exact substring of the chunk),
    how much of the sentence's wording the passage holds, the figures the sentence states that
    the passage lacks, whether the marker was inferred (the model left it out), and the claim
    check's verdict when one judged the sentence.

    `to_dict` is its JSON form everywhere (`ragdesk ask --json`, briefs, exports): the document
    as `doc_id` and `doc_name`, where it is as `page` and `location`."""

    n: int
    chunk: Chunk
    quote: str
    support: float
    numbers_missing: tuple[str, ...] = ()
    inferred: bool = False
    checked: bool | None = None  # set by the claim check (rag.claims) of every citing sentence
    speaker: str | None = None  # who says the quoted words (None: the chunk's speaker)

    @property
    def ok(self) -> bool:
        if self.checked is not None:
            return self.checked
        return not self.numbers_missing and self.support >= MIN_SUPPORT

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {"n": self.n, "doc_id": c.doc_id, "doc_name": c.doc_name, "page": c.page,
                "location": c.location(),
                "speaker": self.speaker if self.speaker is not None else c.speaker,
                "start": c.start, "turn_start": c.turn_start, "quote": self.quote,
                "chunk_id": c.id, "support": round(float(self.support), 3),
                "numbers_missing": list(self.numbers_missing), "checked": self.ok,
                "inferred": self.inferred}


@dataclass(frozen=True)
class Cell:
    """One figure read from a document: a table cell (row label x period column) or a figure
    stated in a sentence, with exactly where it came from.

    `text` is the value as printed ('(1,577)'); `value` is its number in `unit` (so -1577 in
    'USD millions'); `span` is the whole line or sentence it was read from.
    """

    doc_id: str
    doc_name: str
    row_label: str
    period: str
    value: str
    text: str
    span: str
    unit: str = ""
    page: int | None = None
    row: int | None = None
    table: str = ""
    statement: str = "other"
    section: str = ""
    column: str = ""
    period_kind: str = ""
    year: int | None = None
    quarter: int | None = None
    source: str = "table"
    ordinal: int = 0
    turn: int | None = None

    def location(self) -> str:
        if self.page is not None:
            return f"p. {self.page}"
        if self.row is not None:
            return f"row {self.row}"
        if self.turn is not None:
            return f"{self.section}, turn {self.turn}" if self.section else f"turn {self.turn}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


IngestStatus = Literal["added", "replaced", "unchanged", "failed"]


@dataclass(frozen=True)
class IngestReport:
    """The outcome of ingesting one file: what a progress table row shows."""

    filename: str
    status: IngestStatus
    message: str
    doc: DocumentInfo | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        d = {
            "filename": self.filename,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }
        if self.doc is not None:
            d.update(
                doc_id=self.doc.doc_id,
                doc_name=self.doc.name,
                name=self.doc.name,  # 'doc_name' as every other command calls it; kept for scripts
                kind=self.doc.kind,
                units=self.doc.units,
                unit_label=self.doc.unit_label,
                chunks=self.doc.chunks,
            )
        return d
