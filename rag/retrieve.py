"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Filters (documents, types, speakers, dates) are applied inside both retrievers, never after
the fact. Questions that name a company or period are focused on the matching documents, and
that focus is returned as an ordinary filter the user can remove.

No cross-encoder reranker ships its weights on PyPI, so the fused ranking is final; the
`rerank` hook stays for an endpoint or packaged reranker later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.embedder import Embedder
from rag.index.store import Workspace
from rag.text.lexicon import FINANCE, Lexicon
from rag.text.sentences import QUESTION
from rag.text.stopwords import SEARCH
from rag.types import Chunk, DocumentInfo, Hit

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 40

_STOP = SEARCH  # rag.text.stopwords; the name is part of the lexical index version
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_PERIOD_RE = re.compile(r"(fy|cy|q[1-4]|h[12])((?:19|20)?\d\d)")


def tokenize(text: str) -> list[str]:
    """Lowercase words and whole numbers ('1,577.0' -> '1577.0'), stopwords out, plurals cut."""
    out = []
    for tok in _TOKEN_RE.findall(text.lower()):
        period = _PERIOD_RE.fullmatch(tok)
        if period:  # "fy2018" -> "fy", "2018"; "fy21" -> "fy", "2021"; "q1" stays whole
            label, year = period.groups()
            out.extend((label, year if len(year) == 4 else "20" + year))
            continue
        if tok[0].isdigit():
            tok = tok.replace(",", "")
            tok = tok.removesuffix(".0")
        elif tok in _STOP:
            continue
        elif len(tok) > 4 and tok.endswith("ies"):
            tok = tok[:-3] + "y"
        elif len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def expand_query(query: str, lexicon: Lexicon = FINANCE) -> str:
    """The query plus the words of the filing phrasings of its analyst terms and statement
    titles that it does not already use (each added once, so no term is weighted twice)."""
    low = query.lower()
    extra: list[str] = []
    for rx, phrasings in lexicon.glossary_patterns:
        if rx.search(low):
            extra.extend(phrasings)
    for rx, group in lexicon.statement_patterns:
        if rx.search(low):
            extra.extend(group)
    have = set(tokenize(query))
    new = [t for t in dict.fromkeys(tokenize(" ".join(extra))) if t not in have and len(t) > 1]
    return query + (" " + " ".join(new) if new else "")


def glossary_terms(query: str, lexicon: Lexicon = FINANCE) -> list[tuple[str, str]]:
    """(analyst term, how filings usually write it) for each glossary term the query uses."""
    low = query.lower()
    return [(m.group(0), v[0]) for rx, v in lexicon.glossary_patterns for m in [rx.search(low)]
            if m and v[0] not in low]


def dense_expansion(query: str, lexicon: Lexicon = FINANCE) -> str:
    """The query with the first filing phrasing of each analyst term it uses (for embedding)."""
    low = query.lower()
    extra = [v[0] for rx, v in lexicon.glossary_patterns if rx.search(low) and v[0] not in low]
    return query + (" (" + "; ".join(dict.fromkeys(extra)) + ")" if extra else "")


# Questions written for analysts carry instructions about the answer's form ("Answer in USD
# millions.", "Round to two decimal places.", "Assume that you are an equities analyst."). They
# say nothing about where the answer is, and their words pull both retrievers towards
# unrelated passages, so they are taken out of the search query. A statement they point to
# ("... shown in the cash flow statement") is kept as a hint.
_INSTRUCTION_START = re.compile(
    r"^(?:please\s+)?(?:answer|round|give|respond|provide|assume|address|calculate|compute|"
    r"use|using|utili[sz]e|express|rely|relying|base|report|return|format|write|explain|keep|"
    r"do not|don't|only|reply|show your|state|be concise|make sure|consider|note that)\b"
    r"|^if\b.*\b(?:then\b.*)?(?:state|explain|say|answer|respond|reply)\b",
    re.IGNORECASE,
)
_FORM_PAREN = re.compile(
    r"\s*\((?:in|as|expressed in|in units of|units?:|rounded|round)\b[^)]*\)", re.IGNORECASE)
_FORM_CLAUSE = re.compile(
    r",?\s*\b(?:rounded|round(?:ing)?)\s+(?:your answer\s+)?to\s+(?:the nearest\s+)?"
    r"(?:one|two|three|four|\d+)?\s*(?:decimal places?|decimals?|digits?|significant figures)"
    r"|,?\s*\bin (?:usd|us\$|\$|eur|gbp)\s*(?:thousands?|millions?|billions?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QueryPlan:
    """What each retriever is asked: the question without answer-format instructions."""

    original: str
    core: str  # the question with instructions and unit/rounding clauses removed
    hints: tuple[str, ...] = ()  # statement titles the removed instructions pointed to
    lexicon: Lexicon = field(default=FINANCE, compare=False, repr=False)

    @property
    def dense(self) -> str:
        return dense_expansion(" ".join([self.core, *self.hints]).strip(), self.lexicon)

    @property
    def lexical(self) -> str:
        return expand_query(" ".join([self.core, *self.hints]).strip(), self.lexicon)


def _statement_hints(text: str, lexicon: Lexicon = FINANCE) -> list[str]:
    """The statements a text names, each once, as it names them."""
    low = text.lower()
    found: dict[tuple[str, ...], str] = {}
    for rx, group in lexicon.statement_patterns:
        m = rx.search(low)
        if m and group not in found:
            found[group] = m.group(0)
    return list(found.values())


def plan_query(query: str, lexicon: Lexicon = FINANCE) -> QueryPlan:
    """Split a question into what to search for and how the answer should be written; its
    search queries are expanded with `lexicon`."""
    query = " ".join((query or "").split())
    sentences = QUESTION.split(query)
    keep: list[str] = []
    dropped: list[str] = []
    for sent in sentences:
        # "Answer the following question using the balance sheet: what is ...?"
        head, colon, tail = sent.partition(": ")
        if colon and _INSTRUCTION_START.match(head) and tail.strip():
            dropped.append(head)
            sent = tail[0].upper() + tail[1:]
        if _INSTRUCTION_START.match(sent) and not sent.rstrip().endswith("?"):
            dropped.append(sent)
        else:
            keep.append(sent)
    if not keep:  # nothing but instructions: search with everything
        return QueryPlan(query, query, lexicon=lexicon)
    core = _FORM_CLAUSE.sub("", _FORM_PAREN.sub("", " ".join(keep))).strip()
    core = re.sub(r"\s+([?.!,])", r"\1", core) or query
    statements = lexicon.statement_patterns
    named = {g for rx, g in statements if rx.search(core.lower())}
    hints = tuple(h for h in _statement_hints(" ".join(dropped), lexicon)
                  if not any(rx.search(h) and g in named for rx, g in statements))
    return QueryPlan(query, core, hints, lexicon)


@dataclass(frozen=True)
class SearchFilter:
    """What retrieval is restricted to. Empty fields mean no restriction."""

    doc_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive (rows with a date column)
    date_to: str | None = None
    auto: bool = False  # set by question focusing, shown as removable
    chunk_ids: tuple[str, ...] = ()  # only these passages (e.g. the rows of one feedback theme)

    def is_empty(self) -> bool:
        return not (self.doc_ids or self.kinds or self.speakers or self.date_from
                    or self.date_to or self.chunk_ids)

    def needs_chunk_ids(self) -> bool:
        return bool(self.speakers or self.date_from or self.date_to or self.chunk_ids)

    def chroma_where(self) -> dict[str, Any] | None:
        if self.kinds:
            return {"kind": {"$in": list(self.kinds)}}
        return None

    def accepts(self, c: Chunk) -> bool:
        if self.doc_ids and c.doc_id not in self.doc_ids:
            return False
        if self.chunk_ids and c.id not in self._chunk_set:
            return False
        if self.kinds and c.kind not in self.kinds:
            return False
        if self.speakers:
            said = set((c.speakers or "").strip("|").split("|")) | {c.speaker}
            if not said & set(self.speakers):
                return False
        if self.date_from or self.date_to:
            d = chunk_date(c)
            if d is None:
                return False
            if self.date_from and d < self.date_from:
                return False
            if self.date_to and d > self.date_to:
                return False
        return True

    def describe(self, names: dict[str, str] | None = None) -> list[str]:
        names = names or {}
        out = []
        if self.doc_ids:
            out.append("documents: " + ", ".join(names.get(d, d) for d in self.doc_ids))
        if self.kinds:
            out.append("types: " + ", ".join(self.kinds))
        if self.speakers:
            out.append("speakers: " + ", ".join(self.speakers))
        if self.date_from or self.date_to:
            out.append(f"dates: {self.date_from or '…'} to {self.date_to or '…'}")
        if self.chunk_ids:
            out.append(f"passages: {len(self.chunk_ids)} selected")
        return out

    @cached_property
    def _chunk_set(self) -> frozenset[str]:
        # `accepts` runs once per chunk of the workspace: test membership in a set, built once.
        return frozenset(self.chunk_ids)


def chunk_date(c: Chunk) -> str | None:
    v = c.meta.get("date")
    return str(v)[:10] if v else None


def unit_of(c: Chunk) -> tuple:
    """The citable unit a chunk belongs to: its page, its table row, or itself."""
    if c.page is not None:
        return (c.doc_id, "page", c.page)
    if c.row is not None:
        return (c.doc_id, "row", c.row)
    return (c.doc_id, "chunk", c.id)


def _lexical_text(c: Chunk, body: str | None = None) -> str:
    """What BM25 indexes for a chunk (or, with `body`, for the unit it heads)."""
    return f"{c.doc_name.replace('_', ' ')} {c.heading or ''} {c.text if body is None else body}"


class LexicalIndex:
    """BM25 over every chunk of a workspace's ready documents, and over whole units (pages).

    A filing's table is often cut into several chunks: the statement's title and column years
    in the first, the line asked about in a later one. The unit index scores the whole page, so
    a question naming both the statement and the line item finds that page.

    `save`/`load` keep it in one file per workspace (plain arrays and JSON, no pickle), so a
    fresh process reads it instead of tokenising every chunk again.
    """

    def __init__(self, chunks: list[Chunk]) -> None:
        import bm25s

        self.chunks = chunks
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(_lexical_text(c)) for c in chunks]
        if chunks:
            self._bm25.index(corpus, show_progress=False)
        self._init_units()
        self._unit_bm25: Any = None

    def _init_units(self) -> None:
        chunks = self.chunks
        self.pos = {c.id: i for i, c in enumerate(chunks)}
        members: dict[tuple, list[int]] = {}
        for i, c in enumerate(chunks):
            members.setdefault(unit_of(c), []).append(i)
        self.units = list(members)
        self.unit_members = [sorted(m, key=lambda i: chunks[i].ordinal) for m in members.values()]
        self.unit_pos = {u: j for j, u in enumerate(self.units)}
        self.chunk_unit = np.empty(len(chunks), dtype=np.int64)
        for j, m in enumerate(self.unit_members):
            self.chunk_unit[m] = j
        self._unit_lock = threading.Lock()

    def scores(self, query: str) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        toks = tokenize(query)
        if not toks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)

    def _units_bm25(self) -> Any:
        with self._unit_lock:  # built on first use: one-chunk units make it a copy
            if self._unit_bm25 is None:
                import bm25s

                texts = [tokenize(_lexical_text(self.chunks[m[0]],
                                                " ".join(self.chunks[i].text for i in m)))
                         for m in self.unit_members]
                bm = bm25s.BM25()
                bm.index(texts, show_progress=False)
                self._unit_bm25 = bm
            return self._unit_bm25

    def unit_scores(self, query: str) -> np.ndarray:
        """BM25 of each unit's whole text (index order of `units`)."""
        toks = tokenize(query)
        if not self.units or not toks:
            return np.zeros(len(self.units), dtype=np.float32)
        return np.asarray(self._units_bm25().get_scores(toks), dtype=np.float32)

    # -- on disk ------------------------------------------------------------------------------

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the index (both rankings) to `path` atomically: a reader sees the old file
        or the new one, never half of one."""
        from rag.index.store import _chunk_metadata

        arrays: dict[str, np.ndarray] = {
            "meta": _blob({"fingerprint": fingerprint, "n": len(self.chunks)}),
            "chunks": _blob([[c.id, c.text, _chunk_metadata(c)] for c in self.chunks]),
        }
        if self.chunks:
            arrays.update(_bm25_arrays("c_", self._bm25))
            if self.units:
                arrays.update(_bm25_arrays("u_", self._units_bm25()))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> LexicalIndex | None:
        """The index saved at `path` for this fingerprint; None when absent, stale or
        unreadable (the caller rebuilds it)."""
        from rag.index.store import chunk_from_record

        try:
            with np.load(path, allow_pickle=False) as z:
                meta = _unblob(z["meta"])
                if meta.get("fingerprint") != fingerprint:
                    return None
                records = _unblob(z["chunks"])
                index = cls.__new__(cls)
                index.chunks = [chunk_from_record(i, t, m) for i, t, m in records]
                if len(index.chunks) != meta.get("n"):
                    return None
                index._init_units()
                if index.chunks:
                    index._bm25 = _bm25_from(z, "c_")
                    index._unit_bm25 = _bm25_from(z, "u_") if index.units else None
                else:
                    import bm25s

                    index._bm25, index._unit_bm25 = bm25s.BM25(), None
                return index
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None


def _blob(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, ensure_ascii=False).encode(), dtype=np.uint8)


def _unblob(arr: np.ndarray) -> Any:
    return json.loads(arr.tobytes().decode())


def _bm25_arrays(prefix: str, bm: Any) -> dict[str, np.ndarray]:
    vocab = sorted(bm.vocab_dict.items(), key=lambda kv: kv[1])
    if [v for _, v in vocab] != list(range(len(vocab))):
        raise ValueError("unexpected BM25 vocabulary ids")
    out = {prefix + k: np.asarray(bm.scores[k]) for k in ("data", "indices", "indptr")}
    out[prefix + "num_docs"] = np.asarray(bm.scores["num_docs"])
    out[prefix + "vocab"] = _blob([t for t, _ in vocab])
    if getattr(bm, "nonoccurrence_array", None) is not None:
        out[prefix + "nonocc"] = np.asarray(bm.nonoccurrence_array)
    return out


def _bm25_from(z: Any, prefix: str) -> Any:
    import bm25s

    bm = bm25s.BM25()
    bm.scores = {k: z[prefix + k] for k in ("data", "indices", "indptr")}
    bm.scores["num_docs"] = int(z[prefix + "num_docs"])
    bm.vocab_dict = {t: i for i, t in enumerate(_unblob(z[prefix + "vocab"]))}
    bm.unique_token_ids_set = set(bm.vocab_dict.values())
    bm.nonoccurrence_array = z[prefix + "nonocc"] if prefix + "nonocc" in z.files else None
    return bm


# Anything that changes what the index holds for the same documents: the file format, the
# tokenizer's rules, the text indexed per chunk, the BM25 library.
LEXICAL_FORMAT = 1


def _lexical_version() -> str:
    import bm25s

    parts = [str(LEXICAL_FORMAT), getattr(bm25s, "__version__", "?"), _TOKEN_RE.pattern,
             _PERIOD_RE.pattern, " ".join(sorted(_STOP))]
    for fn in (tokenize, _lexical_text, unit_of):  # their code, so an edit invalidates
        code = fn.__code__
        parts += [code.co_code.hex(), repr(code.co_consts), repr(code.co_names)]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def lexical_fingerprint(ws: Workspace) -> str:
    """What the index of `ws` is built from: its ready documents (id, chunk count, when
    added) and the indexing rules. Adding, deleting or replacing a document changes it."""
    docs = sorted((d.doc_id, d.chunks, repr(d.added_at)) for d in ws.documents())
    raw = json.dumps([_lexical_version(), ws.collection_name, docs])
    return hashlib.sha256(raw.encode()).hexdigest()


def lexical_path(cache_dir: Path, collection: str) -> Path:
    return Path(cache_dir) / f"{collection}.npz"


def forget_lexical(cache_dir: Path | None, collection: str) -> None:
    """Remove a workspace's saved index (when the workspace is deleted)."""
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            lexical_path(cache_dir, collection).unlink(missing_ok=True)


_LEX_CACHE: OrderedDict[tuple, LexicalIndex] = OrderedDict()
_LEX_LOCK = threading.Lock()


def lexical_index(ws: Workspace, cache_dir: Path | None = None) -> LexicalIndex:
    """The workspace's BM25 index, rebuilt only when its set of ready documents changes.

    With `cache_dir` it is kept there too (one file per workspace): a new process loads it
    instead of reading and tokenising every chunk, until the documents change."""
    fingerprint = lexical_fingerprint(ws)
    key = (id(ws.client), ws.collection_name, fingerprint)
    with _LEX_LOCK:
        if key in _LEX_CACHE:
            _LEX_CACHE.move_to_end(key)
            return _LEX_CACHE[key]
    path = lexical_path(cache_dir, ws.collection_name) if cache_dir is not None else None
    index = LexicalIndex.load(path, fingerprint) if path is not None else None
    if index is None:
        index = LexicalIndex(list(ws.iter_chunks()))
        # The documents may have changed while the chunks were read: keep it only if not.
        if path is not None and lexical_fingerprint(ws) == fingerprint:
            try:
                index.save(path, fingerprint)
            except OSError as exc:  # a full or read-only data dir: search still works
                log.warning("keyword index of %s not saved: %s", ws.collection_name, exc)
    with _LEX_LOCK:
        _LEX_CACHE[key] = index
        while len(_LEX_CACHE) > 8:
            _LEX_CACHE.popitem(last=False)
    return index


# --- question focusing ------------------------------------------------------------------------

_GENERIC = frozenset(
    [
        "10k", "10q", "8k", "k", "q", "annual", "report", "earnings", "call", "transcript",
        "meeting", "minutes", "notes", "feedback", "export", "survey", "doc", "document", "final",
        "draft", "v1", "v2", "copy", "dated", "inc", "corp", "co", "ltd", "plc", "the", "and",
        "of", "fy", "q1", "q2", "q3", "q4", "h1", "h2"
    ]
)


def _name_tokens(name: str) -> tuple[set[str], set[str]]:
    toks = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]
    years = {t for t in toks if re.fullmatch(r"(19|20)\d\d", t)}
    years |= {m for t in toks for m in re.findall(r"(?:19|20)\d\d", t) if not t.isdigit()}
    words = {t for t in toks if not t.isdigit() and t not in _GENERIC
             and not re.fullmatch(r"(19|20)\d\dq\d|q\d(19|20)\d\d|\d+", t) and len(t) >= 2}
    return words, years


_ORDINAL_QUARTER = {"first": "1", "second": "2", "third": "3", "fourth": "4"}


def _quarters_of_name(name: str) -> set[str]:
    """Quarters a document name states: "q2" in "acme_q2_2026_call", "2023q1", "q1fy24"."""
    return {a or b for a, b in re.findall(r"(?<![a-z])q([1-4])(?!\d)|(?<=\d)q([1-4])",
                                          name.lower())}


def _quarters_of_question(q: str) -> set[str]:
    found = set(re.findall(r"\bq([1-4])\b", q))
    found |= {_ORDINAL_QUARTER[w] for w in re.findall(r"\b(first|second|third|fourth)[- ]quarter",
                                                      q)}
    return found


def focus_filter(question: str, docs: list[DocumentInfo]) -> SearchFilter | None:
    """Documents a question names (company, product, period), as a removable filter."""
    if len(docs) < 2:
        return None
    q = question.lower()
    q_words = set(re.findall(r"[a-z0-9]+", q))
    q_years = set(re.findall(r"(?:19|20)\d\d", q))
    q_years |= {"20" + y for y in re.findall(r"\b(?:fy|cy|q[1-4]|h[12])\s?'?(\d\d)\b", q)}
    named = []
    for d in docs:
        words, years = _name_tokens(d.name)
        facts = _doc_facts(d)
        words |= facts["words"]
        if words & q_words:
            named.append((d, years | facts["years"]))
    if not named:
        return None
    if q_years:
        by_year = [(d, y) for d, y in named if y & q_years]
        if by_year:
            named = by_year
    q_quarters = _quarters_of_question(q)
    if q_quarters:
        by_quarter = [(d, y) for d, y in named
                      if (_quarters_of_name(d.name) | _doc_facts(d)["quarters"]) & q_quarters]
        if by_quarter:
            named = by_quarter
    month_end = _quarter_end_of_question(q)  # 'the September 2023 quarter'
    if month_end:
        by_end = [(d, y) for d, y in named if _ends_in(_doc_facts(d)["period_end"], month_end)]
        if by_end:
            named = by_end
    forms = _forms_of_question(q)
    if forms:
        by_form = [(d, y) for d, y in named if _doc_facts(d)["form"] in forms]
        if by_form:
            named = by_form
    if _LATEST_RE.search(q) and len(named) > 1:
        newest = max(_doc_facts(d)["order"] for d, _ in named)
        named = [(d, y) for d, y in named if _doc_facts(d)["order"] == newest]
    if len(named) == len(docs):  # the question narrows nothing down
        return None
    return SearchFilter(doc_ids=tuple(d.doc_id for d, _ in named), auto=True)


_ISSUER_NOISE = _GENERIC | {"com", "company", "corporation", "incorporated", "group",
                            "holdings", "limited", "llc", "lp", "sa", "ag", "nv", "se"}
_FORM_WORDS = (
    ("10-K", re.compile(r"\b10-?k\b|\bannual report\b")),
    ("10-Q", re.compile(r"\b10-?q\b|\bquarterly report\b")),
    ("8-K", re.compile(r"\b8-?k\b|\bcurrent report\b")),
    ("earnings call", re.compile(r"\b(?:earnings |conference )?call\b|\btranscript\b|"
                                 r"\b(?:ceo|cfo|analysts?) (?:say|said|mention|note)")),
    ("earnings release", re.compile(r"\b(?:earnings|press) release\b")),
    ("meeting", re.compile(r"\bmeeting\b|\bminutes\b")),
)
_LATEST_RE = re.compile(r"\b(?:latest|most recent|newest|last)\s+(?:10-?[kq]|8-?k|filing|"
                        r"report|quarter|call|release)\b")
_MONTH_NUM = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}


def _doc_facts(d: DocumentInfo) -> dict[str, Any]:
    """What focusing reads from a document's facts (rag.ingest.facts): issuer words and
    ticker, years, fiscal quarter, form, period end and an order for 'the latest'."""
    from rag.ingest.facts import facts_for

    f = facts_for(d)
    words = {t for t in re.findall(r"[a-z0-9]+", f.issuer.lower().replace("'s", ""))
             if t not in _ISSUER_NOISE and len(t) >= 2}
    if f.ticker and len(f.ticker) >= 2:
        words.add(f.ticker.lower())
    years = {str(f.fiscal_year)} if f.fiscal_year else set()
    for iso in (f.period_end, f.report_date):
        if iso[:4].isdigit():
            years.add(iso[:4])
    quarters = {str(f.fiscal_quarter)} if f.fiscal_quarter else set()
    order = (f.period_end or f.report_date or "", f.fiscal_year or 0, f.fiscal_quarter or 0,
             d.added_at)
    return {"words": words, "years": years, "quarters": quarters, "form": f.form,
            "period_end": f.period_end, "order": order}


_ROLE_IN_QUESTION = {
    "CEO": re.compile(r"\bceo\b|\bchief executive\b"),
    "CFO": re.compile(r"\bcfo\b|\bchief financial\b|\bfinance chief\b"),
    "COO": re.compile(r"\bcoo\b|\bchief operating\b"),
    "CTO": re.compile(r"\bcto\b|\bchief technology\b"),
}
_SAID_RE = re.compile(r"\b(?:say|says|said|mention\w*|talk\w*|comment\w*|discuss\w*|note[sd]?|"
                      r"explain\w*|according to|remarks?|told|tell)\b")


def role_speakers(question: str, docs: list[DocumentInfo]) -> tuple[str, ...]:
    """The speakers a 'what did the CFO say ...' question means: those whose role, as read from
    the transcripts (rag.ingest.facts), is the one named. Only for questions about what was
    said, so 'Who is the CEO?' still searches the whole filing."""
    from rag.ingest.facts import facts_for

    q = question.lower()
    if not _SAID_RE.search(q):
        return ()
    roles = {r for r, pat in _ROLE_IN_QUESTION.items() if pat.search(q)}
    if not roles:
        return ()
    names = [s.name for d in docs for s in facts_for(d).speakers if s.role in roles]
    return tuple(dict.fromkeys(names))


def _forms_of_question(q: str) -> set[str]:
    return {form for form, pat in _FORM_WORDS if pat.search(q)}


def _quarter_end_of_question(q: str) -> tuple[int, int] | None:
    """(year, month) a question's 'the September 2023 quarter' / 'quarter ended June 30,
    2023' names, else None."""
    m = re.search(r"\b(january|february|march|april|may|june|july|august|september|october|"
                  r"november|december)\s+(?:\d{1,2},?\s+)?((?:19|20)\d\d)\s+quarter\b|"
                  r"\bquarter\s+end(?:ed|ing)\s+(january|february|march|april|may|june|july|"
                  r"august|september|october|november|december)\s+(?:\d{1,2},?\s+)?"
                  r"((?:19|20)\d\d)\b", q)
    if not m:
        return None
    month, year = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return int(year), _MONTH_NUM[month]


def _ends_in(iso: str, ym: tuple[int, int]) -> bool:
    """A period end in that month, or in the first days of the next (52/53-week years)."""
    if len(iso) < 10:
        return False
    y, m, d = int(iso[:4]), int(iso[5:7]), int(iso[8:10])
    if (y, m) == ym:
        return True
    prev = (y, m - 1) if m > 1 else (y - 1, 12)
    return d <= 10 and prev == ym


# --- the retriever ------------------------------------------------------------------------------


@dataclass
class SearchResult:
    hits: list[Hit]
    filter: SearchFilter
    focused: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrievalConfig:
    """How the rankings are made and fused (the defaults are the measured best; see
    benchmarks/retrieval.py for the comparison)."""

    plan: bool = True  # search with the question, not its answer-format instructions
    dense_glossary: bool = True  # add the filing phrasing of analyst terms to the dense query
    units: bool = True  # fuse pages (rows) rather than chunks: one passage per page
    unit_lexical: bool = True  # add a BM25 ranking of whole pages
    # Equal weights: the page index and the chunk index are two lexical views, so lexical
    # evidence counts twice against dense. BM25 beats MiniLM on both benchmarks here, and extra
    # weight on chunk BM25 (1.5) measured no better on FinanceBench and worse on SciFact.
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    unit_lexical_weight: float = 1.0
    rrf_k: int = RRF_K


class Retriever:
    """Finds the passages of a workspace that best match a query."""

    def __init__(self, workspace: Workspace, embedder: Embedder,
                 config: RetrievalConfig | None = None,
                 lexical_dir: Path | None = None) -> None:
        self.workspace = workspace
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.lexical_dir = lexical_dir  # where the keyword index is kept (None: memory only)

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               mode: str = "hybrid", focus: bool = False) -> list[Hit]:
        return self.retrieve(query, k=k, filter=filter, mode=mode, focus=focus).hits

    def retrieve(self, query: str, k: int = 5, filter: SearchFilter | None = None,
                 mode: str = "hybrid", focus: bool = False) -> SearchResult:
        """Top-k hits with their dense, lexical and fused scores."""
        cfg = self.config
        filt = filter or SearchFilter()
        query = (query or "").strip()
        if not query or k <= 0:
            return SearchResult([], filt)
        focused = False
        if focus and (not filt.doc_ids or not filt.speakers):
            from rag.ingest.facts import ensure_facts

            docs = ensure_facts(self.workspace)
            auto = focus_filter(query, docs) if not filt.doc_ids else None
            if auto is not None:
                filt = replace(filt, doc_ids=auto.doc_ids, auto=True)
                focused = True
            who = role_speakers(query, [d for d in docs if not filt.doc_ids
                                        or d.doc_id in filt.doc_ids])
            if who and not filt.speakers:  # 'what did the CFO say': that speaker's turns
                filt = replace(filt, speakers=who, auto=True)
                focused = True
        plan = plan_query(query) if cfg.plan else QueryPlan(query, query)
        info: dict[str, Any] = {"query": plan.core, "hints": list(plan.hints)}
        lex = lexical_index(self.workspace, self.lexical_dir) if mode in ("hybrid", "lexical") or \
            filt.needs_chunk_ids() else None
        allowed_ids = None
        mask = None
        if lex is not None and not filt.is_empty():
            keep = np.array([filt.accepts(c) for c in lex.chunks], dtype=bool)
            mask = keep
            if filt.needs_chunk_ids():
                allowed_ids = [c.id for c, ok in zip(lex.chunks, keep, strict=True) if ok]
        n = max(CANDIDATES, k)
        dense: list[Hit] = []
        if mode in ("hybrid", "dense"):
            dq = plan.dense if cfg.dense_glossary else " ".join([plan.core, *plan.hints])
            vec = self.embedder.embed([dq])[0]
            dense = self.workspace.query(
                vec, k=n, where=filt.chroma_where(),
                doc_ids=list(filt.doc_ids) if filt.doc_ids else None, ids=allowed_ids,
            )
            if mode == "dense":
                return SearchResult(dense[:k], filt, focused, info)
        lexical: list[tuple[Chunk, float]] = []
        unit_lexical: list[tuple[int, float]] = []
        s = None
        if lex is not None and lex.chunks:
            lq = plan.lexical
            s = lex.scores(lq)
            if mask is not None:
                s = np.where(mask, s, 0.0)
            top = np.argsort(-s)[:n]
            lexical = [(lex.chunks[i], float(s[i])) for i in top if s[i] > 0]
            if mode == "lexical":
                return SearchResult(
                    [Hit(c, sc, {"lexical": sc}) for c, sc in lexical[:k]], filt, focused, info)
            if cfg.units and cfg.unit_lexical:
                us = lex.unit_scores(lq)
                if mask is not None:
                    unit_ok = np.zeros(len(lex.units), dtype=bool)
                    unit_ok[lex.chunk_unit[mask]] = True
                    us = np.where(unit_ok, us, 0.0)
                utop = np.argsort(-us)[:n]
                unit_lexical = [(int(j), float(us[j])) for j in utop if us[j] > 0]
        if not cfg.units or lex is None:
            w = (cfg.dense_weight, cfg.lexical_weight)
            return SearchResult(fuse(dense, lexical, cfg.rrf_k, w)[:k], filt, focused, info)
        hits = fuse_units(dense, lexical, unit_lexical, lex, cfg, mask, s)
        return SearchResult(hits[:k], filt, focused, info)


def fuse(dense: list[Hit], lexical: list[tuple[Chunk, float]], rrf_k: int = RRF_K,
         weights: tuple[float, float] = (1.0, 1.0)) -> list[Hit]:
    """Reciprocal-rank fusion of the two rankings; per-retriever scores kept for display."""
    table: dict[str, dict[str, Any]] = {}
    for rank, h in enumerate(dense):
        e = table.setdefault(h.chunk.id, {"chunk": h.chunk, "scores": {}, "rrf": 0.0})
        e["scores"]["dense"] = h.score
        e["scores"]["dense_rank"] = rank + 1
        e["rrf"] += weights[0] / (rrf_k + rank + 1)
    for rank, (c, sc) in enumerate(lexical):
        e = table.setdefault(c.id, {"chunk": c, "scores": {}, "rrf": 0.0})
        e["scores"]["lexical"] = sc
        e["scores"]["lexical_rank"] = rank + 1
        e["rrf"] += weights[1] / (rrf_k + rank + 1)
    ranked = sorted(table.values(), key=lambda e: -e["rrf"])
    return [Hit(e["chunk"], e["rrf"], {**e["scores"], "fused": e["rrf"]}) for e in ranked]


def fuse_units(dense: list[Hit], lexical: list[tuple[Chunk, float]],
               unit_lexical: list[tuple[int, float]], lex: LexicalIndex,
               cfg: RetrievalConfig, mask: np.ndarray | None = None,
               chunk_lexical: np.ndarray | None = None) -> list[Hit]:
    """Reciprocal-rank fusion at the level of citable units (pages, rows).

    Each chunk ranking becomes a unit ranking at each unit's best chunk, so a page does not
    win twice for being cut into several chunks, nor lose for having its words spread over
    them. Each unit is returned once, as its best chunk by chunk-level fusion (by lexical
    score when only the page index found it).
    """
    chunk_level = {h.chunk.id: h for h in fuse(dense, lexical, cfg.rrf_k,
                                               (cfg.dense_weight, cfg.lexical_weight))}
    table: dict[int, dict[str, Any]] = {}

    def entry(u: int) -> dict[str, Any]:
        return table.setdefault(u, {"scores": {}, "rrf": 0.0})

    def add(name: str, ranked_units: list[tuple[int, float]], weight: float) -> None:
        seen: set[int] = set()
        for u, sc in ranked_units:
            if u in seen:
                continue
            seen.add(u)
            e = entry(u)
            e["scores"][name] = sc
            e["scores"][f"{name}_rank"] = len(seen)
            e["rrf"] += weight / (cfg.rrf_k + len(seen))

    unit_of_chunk = lambda c: lex.unit_pos.get(unit_of(c))
    add("dense", [(u, h.score) for h in dense if (u := unit_of_chunk(h.chunk)) is not None],
        cfg.dense_weight)
    add("lexical", [(u, sc) for c, sc in lexical if (u := unit_of_chunk(c)) is not None],
        cfg.lexical_weight)
    add("page_lexical", unit_lexical, cfg.unit_lexical_weight)
    ranked = sorted(table.items(), key=lambda kv: -kv[1]["rrf"])
    hits = []
    for u, e in ranked:
        members = [i for i in lex.unit_members[u] if mask is None or mask[i]]
        best = [chunk_level[lex.chunks[i].id] for i in members
                if lex.chunks[i].id in chunk_level]
        if best:
            top = max(best, key=lambda h: h.score)
            chunk = top.chunk
            own = {key: v for key, v in top.scores.items() if key in ("dense", "lexical")}
        elif members:  # found by the page index only: its chunk with the most query words
            i = max(members, key=lambda i: chunk_lexical[i]) if chunk_lexical is not None \
                else members[0]
            chunk = lex.chunks[i]
            own = {}
        else:
            continue
        scores = {**e["scores"], **own, "fused": e["rrf"]}
        hits.append(Hit(chunk, e["rrf"], scores))
    return hits
