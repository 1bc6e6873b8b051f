"""Evaluation sets: one question a row with the document (and page) that holds its answer.

A set is JSONL (one object a line) or CSV (a header row) with the fields `question`,
`doc_name` (the document's name or file name), `page` (1-based; empty for documents without
pages: transcripts, tables, text) and an optional `answer`. A question whose answer spans
pages may list several: a JSON list, or "3;4" in a CSV cell; any of them counts. A bad file is
refused with one sentence naming the line and what to fix.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError

FIELDS = ("question", "doc_name", "page", "answer")
MAX_BYTES = 20 * 1024 * 1024
MAX_QUESTIONS = 20_000
EXTENSIONS = (".jsonl", ".csv")
_HOW = "one question a row with the fields question, doc_name, page (1-based) and optional answer"


class EvalSetError(RagError):
    """The evaluation set cannot be read; the message says which line and what to fix."""


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a set and where its answer is."""

    question: str
    doc_name: str
    pages: tuple[int, ...] = ()  # 1-based; empty: any passage of the document counts
    answer: str | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "doc_name": self.doc_name,
                "page": (self.pages[0] if len(self.pages) == 1 else list(self.pages)) or None,
                "answer": self.answer}


def _decode(data: bytes, name: str) -> str:
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    if not utf16 and b"\x00" in data[:4096]:
        raise EvalSetError(f"'{name}' is not a text file: save it as UTF-8 JSONL or CSV ({_HOW})")
    for enc in ("utf-16",) if utf16 else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise EvalSetError(f"'{name}' is not a text file: save it as UTF-8 JSONL or CSV ({_HOW})")


def _pages(value: Any, line: int) -> tuple[int, ...]:
    """A page cell -> 1-based page numbers ('' / None -> no page)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else \
        [v for v in str(value).replace("|", ";").replace(",", ";").split(";")]
    out = []
    for v in items:
        if isinstance(v, bool):
            raise EvalSetError(f"line {line}: page {v!r} is not a page number (1-based; leave "
                               "it empty for documents without pages)")
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            f = float(v) if not isinstance(v, int) else v
        except (TypeError, ValueError):
            raise EvalSetError(f"line {line}: page '{v}' is not a page number (1-based; leave "
                               "it empty for documents without pages)") from None
        if f != int(f):
            raise EvalSetError(f"line {line}: page '{v}' is not a whole page number")
        if int(f) < 1:
            raise EvalSetError(f"line {line}: page {int(f)} is not a page number: pages count "
                               "from 1 (add 1 to 0-based page numbers)")
        out.append(int(f))
    return tuple(dict.fromkeys(out))


def _question(row: dict[str, Any], line: int) -> EvalQuestion:
    low = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    q = low.get("question")
    if q is None or not str(q).strip():
        raise EvalSetError(f"line {line} has no question: every row needs the field 'question'")
    doc = low.get("doc_name")
    if doc is None or not str(doc).strip():
        raise EvalSetError(f"line {line} has no doc_name: name the document that holds the "
                           "answer (its name or file name)")
    ans = low.get("answer")
    return EvalQuestion(question=" ".join(str(q).split()), doc_name=str(doc).strip(),
                        pages=_pages(low.get("page"), line),
                        answer=str(ans).strip() if ans not in (None, "") else None, line=line)


def _jsonl(text: str) -> list[EvalQuestion]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"line {n} is not valid JSON ({exc.msg}): write one JSON object "
                               "a line") from None
        if not isinstance(obj, dict):
            raise EvalSetError(f"line {n} is not a JSON object: write one object a line, like "
                               '{"question": "...", "doc_name": "...", "page": 3}')
        out.append(_question(obj, n))
    return out


def _csv(text: str) -> list[EvalQuestion]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [str(h).strip().lower() for h in (reader.fieldnames or [])]
    missing = [f for f in ("question", "doc_name") if f not in header]
    if missing:
        shown = ", ".join(h for h in header if h) or "none"
        raise EvalSetError(f"the CSV has no {' and no '.join(repr(m) for m in missing)} column "
                           f"(its columns are: {shown}): give it a header row with "
                           "question, doc_name, page and optional answer")
    out = []
    for row in reader:
        if not any(str(v or "").strip() for k, v in row.items() if k is not None):
            continue
        out.append(_question(row, reader.line_num))
    return out


def parse_eval_set(data: bytes, filename: str) -> list[EvalQuestion]:
    """The questions of a JSONL or CSV evaluation set; EvalSetError on a bad file."""
    name = Path(filename).name or "the file"
    ext = Path(name).suffix.lower()
    if ext not in EXTENSIONS:
        raise EvalSetError(f"'{name}' is not an evaluation set: use a .jsonl or .csv file with "
                           f"{_HOW}")
    if len(data) > MAX_BYTES:
        raise EvalSetError(f"'{name}' is over {MAX_BYTES // (1024 * 1024)} MB: split it into "
                           "smaller sets")
    text = _decode(data, name)
    if not text.strip():
        raise EvalSetError(f"'{name}' is empty: add {_HOW}")
    questions = _jsonl(text) if ext == ".jsonl" else _csv(text)
    if not questions:
        raise EvalSetError(f"'{name}' has no questions: add {_HOW}")
    if len(questions) > MAX_QUESTIONS:
        raise EvalSetError(f"'{name}' has {len(questions):,} questions: keep a set under "
                           f"{MAX_QUESTIONS:,}")
    return questions


def load_eval_set(path: Path | str) -> list[EvalQuestion]:
    """Read an evaluation set from disk (see `parse_eval_set`)."""
    p = Path(path)
    if not p.is_file():
        raise EvalSetError(f"no such file: {p}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise EvalSetError(f"cannot read {p}: {exc.strerror or exc}") from None
    return parse_eval_set(data, p.name)
