"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Filters (documents, types, speakers, dates) are applied inside both retrievers, never after
the fact. Questions that name a company or period are focused on the matching documents, and
that focus is returned as an ordinary filter the user can remove.

No cross-encoder reranker ships its weights on PyPI, so the fused ranking is final; the
`rerank` hook stays for an endpoint or packaged reranker later.

The keyword index of a workspace lives in memory once per process and on disk in
`data_dir/lexical/<collection>.npz` (chunk records, term-frequency postings of chunks and of
pages, the document versions it holds). Each search compares those versions with the store's
ready documents (`Workspace.versions()`, one manifest read): a new document's chunks are read
and tokenised and appended, a deleted one's rows dropped, whoever wrote to the store; BM25 is
scored at query time from the postings of the query's terms only. It is built from every chunk
only when there is no file (or the indexing rules changed).
"""

from __future__ import annotations

import atexit
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
    out: list[str] = []
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


_K1, _B = 1.5, 0.75  # BM25 (Lucene's variant, as bm25s scores it)


class _Postings:
    """Term frequencies of a set of texts, as a CSR matrix (one row a text) and its CSC view
    (one column a term: that term's postings), scored with BM25 at query time.

    Nothing depends on the whole collection until a query (document frequencies, the mean
    length), so rows are added and removed without touching the others: the index is kept
    current by appending a new document's rows and dropping a deleted one's."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                 n_terms: int) -> None:
        from scipy.sparse import csr_matrix

        self.csr = csr_matrix((data.astype(np.float32), indices.astype(np.int32),
                               indptr.astype(np.int64)), shape=(len(indptr) - 1, n_terms))
        self.csc = self.csr.tocsc()
        self.lengths = np.asarray(self.csr.sum(axis=1)).ravel().astype(np.float32)
        self.df = np.diff(self.csc.indptr).astype(np.float32)

    @classmethod
    def of_tokens(cls, rows: list[list[str]], vocab: dict[str, int]) -> _Postings:
        """Rows of tokens; new terms are added to `vocab` (shared by the whole index)."""
        indptr = [0]
        indices: list[int] = []
        data: list[int] = []
        for toks in rows:
            counts: dict[int, int] = {}
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
        return cls(np.asarray(indptr), np.asarray(indices, dtype=np.int32),
                   np.asarray(data, dtype=np.float32), len(vocab))

    @property
    def n(self) -> int:
        return self.csr.shape[0]

    def stack(self, other: _Postings, n_terms: int) -> _Postings:
        a, b = self.csr, other.csr
        indptr = np.concatenate([a.indptr, b.indptr[1:] + a.indptr[-1]])
        return _Postings(indptr, np.concatenate([a.indices, b.indices]),
                         np.concatenate([a.data, b.data]), n_terms)

    def keep(self, rows: np.ndarray, n_terms: int) -> _Postings:
        sub = self.csr[rows]
        return _Postings(sub.indptr, sub.indices, sub.data, n_terms)

    def widen(self, n_terms: int) -> _Postings:
        return self if self.csr.shape[1] == n_terms else _Postings(
            self.csr.indptr, self.csr.indices, self.csr.data, n_terms)

    def scores(self, term_ids: list[int]) -> np.ndarray:
        """BM25 of every row for these (known) query terms: only their postings are read."""
        out = np.zeros(self.n, dtype=np.float32)
        if not self.n or not term_ids:
            return out
        n = float(self.n)
        avgdl = float(self.lengths.mean()) or 1.0
        norm = _K1 * (1 - _B + _B * self.lengths / avgdl)  # per row, once per query
        ip, ix, tf = self.csc.indptr, self.csc.indices, self.csc.data
        for j in term_ids:
            if j >= len(self.df):
                continue
            lo, hi = ip[j], ip[j + 1]
            if lo == hi:
                continue
            rows = ix[lo:hi]
            f = tf[lo:hi]
            df = self.df[j]
            idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
            out[rows] += idf * f / (f + norm[rows])
        return out


class LexicalIndex:
    """BM25 over every chunk of a workspace's ready documents, and over whole units (pages).

    A filing's table is often cut into several chunks: the statement's title and column years
    in the first, the line asked about in a later one. The unit index scores the whole page, so
    a question naming both the statement and the line item finds that page.

    It is kept current document by document (`updated`: a new document's chunks are tokenised
    and appended, a deleted one's rows dropped; nothing else is touched), and `save`/`load`
    keep it in one file per workspace (plain arrays and JSON, no pickle), so a fresh process
    reads it instead of tokenising every chunk again.
    """

    def __init__(self, chunks: list[Chunk]) -> None:
        LEXICAL_STATS["builds"] += 1
        self._build(chunks)

    def _build(self, chunks: list[Chunk], vocab: dict[str, int] | None = None) -> None:
        self.vocab: dict[str, int] = vocab if vocab is not None else {}
        self.chunks = chunks
        self._init_units()
        self._post = _Postings.of_tokens([tokenize(_lexical_text(c)) for c in chunks],
                                         self.vocab)
        self._unit_post = _Postings.of_tokens(
            [tokenize(_lexical_text(chunks[m[0]], " ".join(chunks[i].text for i in m)))
             for m in self.unit_members], self.vocab)
        self._widen()

    def _widen(self) -> None:
        self._post = self._post.widen(len(self.vocab))
        self._unit_post = self._unit_post.widen(len(self.vocab))

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
        docs = list(dict.fromkeys(c.doc_id for c in chunks))
        self.doc_codes = {d: k for k, d in enumerate(docs)}
        self.chunk_doc = np.fromiter((self.doc_codes[c.doc_id] for c in chunks), dtype=np.int32,
                                     count=len(chunks))

    @property
    def doc_ids(self) -> list[str]:
        return list(self.doc_codes)

    def _term_ids(self, query: str) -> list[int]:
        return [j for t in dict.fromkeys(tokenize(query)) if (j := self.vocab.get(t)) is not None]

    def scores(self, query: str) -> np.ndarray:
        return self._post.scores(self._term_ids(query))

    def unit_scores(self, query: str) -> np.ndarray:
        """BM25 of each unit's whole text (index order of `units`)."""
        return self._unit_post.scores(self._term_ids(query))

    def doc_mask(self, doc_ids: tuple[str, ...] | list[str]) -> np.ndarray:
        """Which chunks belong to these documents (vectorised, for a document filter)."""
        codes = [self.doc_codes[d] for d in doc_ids if d in self.doc_codes]
        return np.isin(self.chunk_doc, np.asarray(codes, dtype=np.int32))

    # -- kept current ---------------------------------------------------------------------

    def updated(self, remove: set[str], add: list[list[Chunk]]) -> LexicalIndex:
        """A new index without the documents `remove` and with the chunks of `add` (one list
        a document): only those chunks are tokenised. This index is left as it is (searches
        running on it in other threads are not disturbed)."""
        LEXICAL_STATS["updates"] += 1
        new = LexicalIndex.__new__(LexicalIndex)
        vocab = dict(self.vocab)
        post, unit_post = self._post, self._unit_post
        chunks = self.chunks
        if remove:
            keep = np.array([c.doc_id not in remove for c in chunks], dtype=bool)
            unit_keep = np.array([chunks[m[0]].doc_id not in remove for m in self.unit_members],
                                 dtype=bool)
            chunks = [c for c, k in zip(chunks, keep, strict=True) if k]
            post = post.keep(np.flatnonzero(keep), len(vocab))
            unit_post = unit_post.keep(np.flatnonzero(unit_keep), len(vocab))
        added = [c for doc in add for c in doc]
        if added:
            part = LexicalIndex.__new__(LexicalIndex)
            part._build(added, vocab)
            post = post.widen(len(vocab)).stack(part._post, len(vocab))
            unit_post = unit_post.widen(len(vocab)).stack(part._unit_post, len(vocab))
            chunks = chunks + added
        new.vocab, new.chunks = vocab, chunks
        new._init_units()
        new._post, new._unit_post = post, unit_post
        new._widen()
        if new._unit_post.n != len(new.units):  # a unit spanning an update (never expected)
            new._build(chunks, vocab)
        return new

    # -- on disk ------------------------------------------------------------------------------

    def save(self, path: Path, doc_keys: dict[str, str]) -> None:
        """Write the index (both rankings, and the document versions it holds) to `path`
        atomically: a reader sees the old file or the new one, never half of one."""
        from rag.index.store import _chunk_metadata

        vocab = sorted(self.vocab.items(), key=lambda kv: kv[1])
        arrays: dict[str, Any] = {
            "meta": _blob({"format": LEXICAL_FORMAT, "version": _lexical_version(),
                           "n": len(self.chunks), "doc_keys": doc_keys}),
            "chunks": _blob([[c.id, c.text, _chunk_metadata(c)] for c in self.chunks]),
            "vocab": _blob([t for t, _ in vocab]),
        }
        for prefix, post in (("c_", self._post), ("u_", self._unit_post)):
            arrays[prefix + "indptr"] = post.csr.indptr
            arrays[prefix + "indices"] = post.csr.indices
            arrays[prefix + "data"] = post.csr.data
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
    def load(cls, path: Path) -> tuple[dict[str, str], LexicalIndex] | None:
        """(the document versions it holds, the index) saved at `path`; None when absent,
        written by other rules, or unreadable (the caller builds it)."""
        from rag.index.store import chunk_from_record

        try:
            with np.load(path, allow_pickle=False) as z:
                meta = _unblob(z["meta"])
                if meta.get("version") != _lexical_version():
                    return None
                doc_keys = {str(k): str(v) for k, v in dict(meta["doc_keys"]).items()}
                records = _unblob(z["chunks"])
                index = cls.__new__(cls)
                index.chunks = [chunk_from_record(i, t, m) for i, t, m in records]
                if len(index.chunks) != meta.get("n"):
                    return None
                index.vocab = {t: i for i, t in enumerate(_unblob(z["vocab"]))}
                index._init_units()
                n_terms = len(index.vocab)
                index._post = _Postings(z["c_indptr"], z["c_indices"], z["c_data"], n_terms)
                index._unit_post = _Postings(z["u_indptr"], z["u_indices"], z["u_data"],
                                             n_terms)
                if index._post.n != len(index.chunks) or index._unit_post.n != len(index.units):
                    return None
                LEXICAL_STATS["loads"] += 1
                return doc_keys, index
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                zipfile.BadZipFile):
            return None


def _blob(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, ensure_ascii=False).encode(), dtype=np.uint8)


def _unblob(arr: np.ndarray) -> Any:
    return json.loads(arr.tobytes().decode())


# Anything that changes what the index holds for the same documents: the file format, the
# tokenizer's rules, the text indexed per chunk, the scoring.
LEXICAL_FORMAT = 2
# Full builds from chunks, loads from a file, incremental updates (for tests and benchmarks).
LEXICAL_STATS = {"builds": 0, "loads": 0, "updates": 0}


def _lexical_version() -> str:
    parts = [str(LEXICAL_FORMAT), str(_K1), str(_B), _TOKEN_RE.pattern,
             _PERIOD_RE.pattern, " ".join(sorted(_STOP))]
    for fn in (tokenize, _lexical_text, unit_of):  # their code, so an edit invalidates
        code = fn.__code__
        parts += [code.co_code.hex(), repr(code.co_consts), repr(code.co_names)]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _doc_keys(ws: Workspace) -> dict[str, str]:
    """Each ready document's id and what identifies its version (chunk count, when added)."""
    return ws.versions()


def _fingerprint_of(keys: dict[str, str], collection: str) -> str:
    raw = json.dumps([collection, sorted(keys.items())])
    return _lexical_version() + ":" + hashlib.sha256(raw.encode()).hexdigest()


def lexical_fingerprint(ws: Workspace) -> str:
    """What the index of `ws` is built from: its ready documents (id, chunk count, when
    added) and the indexing rules. Adding, deleting or replacing a document changes it."""
    return _fingerprint_of(_doc_keys(ws), ws.collection_name)


def lexical_path(cache_dir: Path, collection: str) -> Path:
    return Path(cache_dir) / f"{collection}.npz"


def forget_lexical(cache_dir: Path | None, collection: str) -> None:
    """Remove a workspace's saved index (when the workspace is deleted)."""
    with _LEX_LOCK:
        for key in [k for k in _LEX_CACHE if k[1] == collection]:
            del _LEX_CACHE[key]
    if cache_dir is not None:
        path = lexical_path(cache_dir, collection)
        with _SAVE_LOCK:
            pending = _SAVES.pop(path, None)
        if pending is not None:
            pending[1].join(60.0)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


# The process's indexes, one a workspace (by client and collection), each with the document
# versions it holds; an entry is replaced, never changed in place.
_LEX_CACHE: OrderedDict[tuple, tuple[dict[str, str], LexicalIndex]] = OrderedDict()
_LEX_LOCK = threading.Lock()
_LEX_UPDATE = threading.Lock()  # one update at a time: two searches never both re-read a doc


# Saving a large index takes a second or more (its chunks' text and postings): it is written
# by a background thread, so the search that brought it up to date does not wait. Each path's
# newest request wins; a process that exits first leaves the older file, which the next
# process brings up to date the same way (an update, not a rebuild).
_SAVES: dict[Path, tuple[int, threading.Thread]] = {}
_SAVE_SEQ = [0]
_SAVE_LOCK = threading.Lock()
_WRITE_LOCK = threading.Lock()


def _save_later(index: LexicalIndex, path: Path, doc_keys: dict[str, str],
                wait: bool = False) -> None:
    with _SAVE_LOCK:
        _SAVE_SEQ[0] += 1
        seq = _SAVE_SEQ[0]

        def run() -> None:
            with _WRITE_LOCK:
                with _SAVE_LOCK:
                    newest = _SAVES.get(path, (seq, None))[0]
                if newest != seq:
                    return  # a newer state of this index is being saved
                try:
                    index.save(path, doc_keys)
                except OSError as exc:  # a full or read-only data dir: search still works
                    log.warning("keyword index %s not saved: %s", path, exc)

        thread = threading.Thread(target=run, name="lexical-save", daemon=True)
        _SAVES[path] = (seq, thread)
    thread.start()
    if wait:
        thread.join()


def flush_lexical_saves(timeout: float | None = 60.0) -> None:
    """Wait for the keyword-index files being written (tests; process exit)."""
    with _SAVE_LOCK:
        threads = [t for _, t in _SAVES.values()]
    for t in threads:
        t.join(timeout)


atexit.register(flush_lexical_saves, 30.0)


def lexical_index(ws: Workspace, cache_dir: Path | None = None) -> LexicalIndex:
    """The workspace's BM25 index, kept current with its ready documents.

    Held in memory once per process, and with `cache_dir` in one file per workspace there:
    a new process loads it instead of tokenising every chunk. When the documents changed
    (an ingest, a deletion, here or by another process on the same store), only the new
    documents' chunks are read and tokenised and the deleted ones' rows dropped, and the file
    is saved again. Built from every chunk only when there is no index to start from."""
    keys = _doc_keys(ws)
    key = (id(ws.client), ws.collection_name)
    with _LEX_LOCK:
        held = _LEX_CACHE.get(key)
    if held is not None and held[0] == keys:
        return held[1]
    with _LEX_UPDATE:
        with _LEX_LOCK:  # another thread may have brought it up to date meanwhile
            held = _LEX_CACHE.get(key)
        if held is not None and held[0] == keys:
            return held[1]
        path = lexical_path(cache_dir, ws.collection_name) if cache_dir is not None else None
        if held is None and path is not None:
            held = LexicalIndex.load(path)
        built = held is None
        if held is None:
            index = LexicalIndex(list(ws.iter_chunks()))
            have = {d: keys[d] for d in index.doc_ids if d in keys}
            changed = True
        else:
            have, index = held
        # A document whose version changed is dropped and read again.
        remove = {d for d in index.doc_ids if d not in keys or have.get(d) != keys[d]}
        add_ids = [d for d in keys if have.get(d) != keys[d]]
        if held is not None:
            changed = bool(remove or add_ids)
        if remove or add_ids:
            index = index.updated(remove, [ws.chunks_of(d) for d in add_ids])
            have = {d: keys[d] for d in index.doc_ids if d in keys}
        if path is not None and changed:
            # After a full build the file is written before the search returns (it cost far
            # more already); after an update, in the background.
            _save_later(index, path, have, wait=built)
        with _LEX_LOCK:
            _LEX_CACHE[key] = (have, index)
            _LEX_CACHE.move_to_end(key)
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
                 lexical_dir: Path | None = None, lexicon: Lexicon | None = None) -> None:
        self.workspace = workspace
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.lexical_dir = lexical_dir  # where the keyword index is kept (None: memory only)
        # How questions are expanded: the workspace's lexicon, from rag.services (None: the
        # finance default, for callers that build a retriever by hand).
        self.lexicon = FINANCE if lexicon is None else lexicon

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
        plan = (plan_query(query, self.lexicon) if cfg.plan
                else QueryPlan(query, query, lexicon=self.lexicon))
        info: dict[str, Any] = {"query": plan.core, "hints": list(plan.hints)}
        lex = lexical_index(self.workspace, self.lexical_dir) if mode in ("hybrid", "lexical") or \
            filt.needs_chunk_ids() else None
        allowed_ids = None
        mask = None
        if lex is not None and not filt.is_empty():
            if filt.doc_ids and not (filt.kinds or filt.needs_chunk_ids()):
                keep = lex.doc_mask(filt.doc_ids)  # the common case: vectorised
            else:
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
            top = _top(s, n)
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
                utop = _top(us, n)
                unit_lexical = [(int(j), float(us[j])) for j in utop if us[j] > 0]
        if not cfg.units or lex is None:
            w = (cfg.dense_weight, cfg.lexical_weight)
            return SearchResult(fuse(dense, lexical, cfg.rrf_k, w)[:k], filt, focused, info)
        hits = fuse_units(dense, lexical, unit_lexical, lex, cfg, mask, s)
        return SearchResult(hits[:k], filt, focused, info)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, best first (ties by index, as a stable sort gives):
    a partial selection, then a sort of those few only."""
    if len(scores) <= n:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, n - 1)[:n]
    cut = scores[part].min()
    # Everything tied with the n-th score competes, so ties break by index as before.
    cand = np.flatnonzero(scores >= cut) if cut > 0 else part
    order = np.lexsort((cand, -scores[cand]))
    return cand[order][:n]


def profile_search(r: Retriever, query: str, k: int = 5) -> dict[str, float]:
    """Seconds each stage of one hybrid search takes (for benchmarks/scale.py): the manifest
    and keyword-index check, the query embedding, the dense query, the two keyword rankings,
    and the whole `search` call."""
    import time

    out: dict[str, float] = {}
    t = time.perf_counter()
    lex = lexical_index(r.workspace, r.lexical_dir)
    out["index_check"] = time.perf_counter() - t
    plan = plan_query(query, r.lexicon)
    t = time.perf_counter()
    vec = r.embedder.embed([plan.dense])[0]
    out["embed"] = time.perf_counter() - t
    t = time.perf_counter()
    r.workspace.query(vec, k=CANDIDATES)
    out["dense"] = time.perf_counter() - t
    t = time.perf_counter()
    s = lex.scores(plan.lexical)
    _top(s, CANDIDATES)
    out["keyword"] = time.perf_counter() - t
    t = time.perf_counter()
    _top(lex.unit_scores(plan.lexical), CANDIDATES)
    out["page_keyword"] = time.perf_counter() - t
    t = time.perf_counter()
    r.search(query, k=k)
    out["search_total"] = time.perf_counter() - t
    return out


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
