"""Search as people see it (the Library's Search tab and the sidebar): hits spread over the
documents, a relevance floor (the relevance label each hit
shows is `rag.ui.render.relevance`).

`Retriever.retrieve` (what Ask and the benchmarks use) is left as it is: this wraps it. A
search asks the retriever for a pool of candidates, drops those that match the query poorly
(too few of its words and no close meaning), and keeps at most `PER_DOC` passages of any one
document in the top k, unless only one document matches at all: one large table no longer
crowds out every other document. No streamlit here, so the rules are unit-tested directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rag.retrieve import CANDIDATES, tokenize
from rag.types import Hit

PER_DOC = 3  # passages of one document in the top k (when more than one document matches)
DENSE_FLOOR = 0.6  # a passage this close in meaning is kept without sharing the query's words


@dataclass
class SearchOutcome:
    """The hits to show and what was left out: `weak` candidates under the relevance floor,
    `capped` good ones over a document's share of the top k."""

    hits: list[Hit]
    weak: int = 0
    capped: int = 0
    pool: list[Hit] = field(default_factory=list, repr=False)


def query_terms(query: str) -> list[str]:
    """The query's content words (stopwords out, plurals cut), each once."""
    return list(dict.fromkeys(tokenize(query)))


def overlap(terms: list[str], hit: Hit) -> int:
    """How many of the query's terms the passage (or its document's name) holds; a term also
    matches a longer word it begins ('swap' in 'swapping')."""
    words = set(tokenize(f"{hit.chunk.doc_name} {hit.chunk.text}"))
    return sum(1 for t in terms
               if t in words or (len(t) >= 4 and any(w.startswith(t) for w in words)))


def matches_well(terms: list[str], hit: Hit) -> bool:
    """Above the relevance floor: every term of a one- or two-word query, half the terms of a
    longer one, or a dense similarity of at least DENSE_FLOOR."""
    if not terms:
        return True
    dense = hit.scores.get("dense")
    if dense is not None and dense >= DENSE_FLOOR:
        return True
    need = len(terms) if len(terms) <= 2 else math.ceil(len(terms) / 2)
    return overlap(terms, hit) >= need


def diverse_search(searcher: Any, query: str, k: int = 5, per_doc: int = PER_DOC,
                   **kwargs: Any) -> SearchOutcome:
    """The top `k` passages for `query` that match it well, at most `per_doc` of them from
    any one document unless only one document matches."""
    if not (query or "").strip() or k <= 0:
        return SearchOutcome([])
    pool = searcher.retrieve(query, k=max(CANDIDATES, 4 * k), **kwargs).hits
    terms = query_terms(query)
    good = [h for h in pool if matches_well(terms, h)]
    weak = len(pool) - len(good)
    if len({h.chunk.doc_id for h in good}) <= 1:
        return SearchOutcome(good[:k], weak, 0, pool)
    taken: list[Hit] = []
    per: dict[str, int] = {}
    capped = 0
    for h in good:
        if len(taken) == k:
            break
        n = per.get(h.chunk.doc_id, 0)
        if n >= per_doc:
            capped += 1
            continue
        per[h.chunk.doc_id] = n + 1
        taken.append(h)
    return SearchOutcome(taken, weak, capped, pool)

