"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Filters (documents, types, speakers, dates) are applied inside both retrievers, never after
the fact. Questions that name a company or period are focused on the matching documents, and
that focus is returned as an ordinary filter the user can remove.

No cross-encoder reranker ships its weights on PyPI, so the fused ranking is final; the
`rerank` hook stays for an endpoint or packaged reranker later.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from rag.index.embedder import Embedder
from rag.index.store import Workspace
from rag.types import Chunk, DocumentInfo, Hit

RRF_K = 60
CANDIDATES = 40

_STOP = frozenset(
    "a an and are as at be by did do does for from had has have how in is it its of on or "
    "our than that the their them there these they this to was were what when where which "
    "who why will with would you your about into over under between during per vs versus "
    "give answer question please using shown based primarily show tell me".split()
)
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_PERIOD_RE = re.compile(r"(fy|cy|q[1-4]|h[12])((?:19|20)?\d\d)")


def tokenize(text: str) -> list[str]:
    """Lowercase words and whole numbers ('1,577.0' -> '1577.0'), stopwords out, plurals cut."""
    out = []
    for tok in _TOKEN_RE.findall(text.lower()):
        period = _PERIOD_RE.fullmatch(tok)
        if period:  # "fy2018" -> "fy", "2018"; "q1" stays whole
            out.extend(period.groups())
            continue
        if tok[0].isdigit():
            tok = tok.replace(",", "")
            if tok.endswith(".0"):
                tok = tok[:-2]
        elif tok in _STOP:
            continue
        elif len(tok) > 4 and tok.endswith("ies"):
            tok = tok[:-3] + "y"
        elif len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


# Analysts ask in their words; filings print line items. Each entry adds the line-item words
# to the lexical query (never to the dense one), so "capex" finds "purchases of property,
# plant and equipment".
GLOSSARY: dict[str, str] = {
    "capital expenditure": "purchases property plant equipment additions capex",
    "capex": "capital expenditures purchases property plant equipment",
    "ppne": "property plant equipment net",
    "pp&e": "property plant equipment",
    "eps": "earnings per share diluted basic",
    "earnings per share": "eps diluted",
    "revenue": "net sales revenues total",
    "sales": "net revenue",
    "operating margin": "operating income operating profit percent net sales",
    "gross margin": "gross profit cost of sales",
    "free cash flow": "net cash provided by operating activities purchases property plant",
    "cash from operations": "net cash provided by operating activities",
    "operating cash flow": "net cash provided by operating activities",
    "dividend": "dividends paid per share cash dividends declared",
    "inventory turnover": "inventories cost of sales",
    "working capital": "current assets current liabilities",
    "net income": "net earnings attributable",
    "debt": "long-term debt borrowings notes",
    "headcount": "employees",
    "guidance": "outlook expects expect forecast full-year",
    "cogs": "cost of sales cost of goods sold",
}


def expand_query(query: str) -> str:
    low = query.lower()
    extra = [v for k, v in GLOSSARY.items() if re.search(rf"\b{re.escape(k)}\b", low)]
    return query + (" " + " ".join(extra) if extra else "")


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


class LexicalIndex:
    """BM25 over every chunk of a workspace's ready documents."""

    def __init__(self, chunks: list[Chunk]) -> None:
        import bm25s

        self.chunks = chunks
        self.pos = {c.id: i for i, c in enumerate(chunks)}
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(f"{c.doc_name.replace('_', ' ')} {c.heading or ''} {c.text}")
                  for c in chunks]
        if chunks:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        toks = tokenize(query)
        if not toks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)


_LEX_CACHE: OrderedDict[tuple, LexicalIndex] = OrderedDict()
_LEX_LOCK = threading.Lock()


def lexical_index(ws: Workspace) -> LexicalIndex:
    """The workspace's BM25 index, rebuilt only when its set of ready documents changes."""
    key = (id(ws.client), ws.collection_name, tuple(sorted(ws.ready_ids())))
    with _LEX_LOCK:
        if key in _LEX_CACHE:
            _LEX_CACHE.move_to_end(key)
            return _LEX_CACHE[key]
    index = LexicalIndex(list(ws.iter_chunks()))
    with _LEX_LOCK:
        _LEX_CACHE[key] = index
        while len(_LEX_CACHE) > 8:
            _LEX_CACHE.popitem(last=False)
    return index


# --- question focusing ------------------------------------------------------------------------

_GENERIC = frozenset(
    "10k 10q 8k k q annual report earnings call transcript meeting minutes notes feedback "
    "export survey doc document final draft v1 v2 copy dated inc corp co ltd plc the and "
    "of fy q1 q2 q3 q4 h1 h2".split()
)


def _name_tokens(name: str) -> tuple[set[str], set[str]]:
    toks = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]
    years = {t for t in toks if re.fullmatch(r"(19|20)\d\d", t)}
    years |= {m for t in toks for m in re.findall(r"(?:19|20)\d\d", t) if not t.isdigit()}
    words = {t for t in toks if not t.isdigit() and t not in _GENERIC
             and not re.fullmatch(r"(19|20)\d\dq\d|q\d(19|20)\d\d|\d+", t) and len(t) >= 2}
    return words, years


def focus_filter(question: str, docs: list[DocumentInfo]) -> SearchFilter | None:
    """Documents a question names (company, product, period), as a removable filter."""
    if len(docs) < 2:
        return None
    q = question.lower()
    q_words = set(re.findall(r"[a-z0-9]+", q))
    q_years = set(re.findall(r"(?:19|20)\d\d", q))
    named = []
    for d in docs:
        words, years = _name_tokens(d.name)
        if words & q_words:
            named.append((d, years))
    if not named or len(named) == len(docs):
        return None
    if q_years:
        by_year = [(d, y) for d, y in named if y & q_years]
        if by_year:
            named = by_year
    return SearchFilter(doc_ids=tuple(d.doc_id for d, _ in named), auto=True)


# --- the retriever ------------------------------------------------------------------------------


@dataclass
class SearchResult:
    hits: list[Hit]
    filter: SearchFilter
    focused: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class Retriever:
    """Finds the passages of a workspace that best match a query."""

    def __init__(self, workspace: Workspace, embedder: Embedder) -> None:
        self.workspace = workspace
        self.embedder = embedder

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               mode: str = "hybrid", focus: bool = False) -> list[Hit]:
        return self.retrieve(query, k=k, filter=filter, mode=mode, focus=focus).hits

    def retrieve(self, query: str, k: int = 5, filter: SearchFilter | None = None,
                 mode: str = "hybrid", focus: bool = False) -> SearchResult:
        """Top-k hits with their dense, lexical and fused scores."""
        filt = filter or SearchFilter()
        query = (query or "").strip()
        if not query or k <= 0:
            return SearchResult([], filt)
        focused = False
        if focus and not filt.doc_ids:
            auto = focus_filter(query, self.workspace.documents())
            if auto is not None:
                filt = replace(filt, doc_ids=auto.doc_ids, auto=True)
                focused = True
        lex = lexical_index(self.workspace) if mode in ("hybrid", "lexical") or \
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
            vec = self.embedder.embed([query])[0]
            dense = self.workspace.query(
                vec, k=n, where=filt.chroma_where(),
                doc_ids=list(filt.doc_ids) if filt.doc_ids else None, ids=allowed_ids,
            )
            if mode == "dense":
                return SearchResult(dense[:k], filt, focused)
        lexical: list[tuple[Chunk, float]] = []
        if lex is not None and lex.chunks:
            s = lex.scores(expand_query(query))
            if mask is not None:
                s = np.where(mask, s, 0.0)
            top = np.argsort(-s)[:n]
            lexical = [(lex.chunks[i], float(s[i])) for i in top if s[i] > 0]
            if mode == "lexical":
                return SearchResult(
                    [Hit(c, sc, {"lexical": sc}) for c, sc in lexical[:k]], filt, focused)
        return SearchResult(fuse(dense, lexical)[:k], filt, focused)


def fuse(dense: list[Hit], lexical: list[tuple[Chunk, float]], rrf_k: int = RRF_K) -> list[Hit]:
    """Reciprocal-rank fusion of the two rankings; per-retriever scores kept for display."""
    table: dict[str, dict[str, Any]] = {}
    for rank, h in enumerate(dense):
        e = table.setdefault(h.chunk.id, {"chunk": h.chunk, "scores": {}, "rrf": 0.0})
        e["scores"]["dense"] = h.score
        e["scores"]["dense_rank"] = rank + 1
        e["rrf"] += 1.0 / (rrf_k + rank + 1)
    for rank, (c, sc) in enumerate(lexical):
        e = table.setdefault(c.id, {"chunk": c, "scores": {}, "rrf": 0.0})
        e["scores"]["lexical"] = sc
        e["scores"]["lexical_rank"] = rank + 1
        e["rrf"] += 1.0 / (rrf_k + rank + 1)
    ranked = sorted(table.values(), key=lambda e: -e["rrf"])
    return [Hit(e["chunk"], e["rrf"], {**e["scores"], "fused": e["rrf"]}) for e in ranked]
