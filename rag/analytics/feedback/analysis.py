"""The analysis: cluster items into themes, describe, name and edit them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rag.analytics import clustering, terms
from rag.analytics.clustering import OTHER
from rag.analytics.feedback.items import check_texts, load_document
from rag.analytics.feedback.model import (
    EXAMPLES,
    OTHER_NAME,
    Analysis,
    FeedbackError,
    Item,
    Namer,
    Progress,
    Roles,
    Theme,
)
from rag.analytics.feedback.naming import NAMING_NOTE
from rag.analytics.feedback.roles import role_values
from rag.analytics.feedback.store import source_of
from rag.types import DocumentInfo


def analyze(items: Sequence[Item], vectors: np.ndarray, roles: Roles, *, k: int | None = None,
            namer: Namer | None = None, progress: Progress | None = None,
            source: dict[str, Any] | None = None, ingest_date_column: str | None = None,
            seed: int = 0) -> Analysis:
    """Cluster the items into themes, describe and name them.

    Args:
        items: the feedback rows with text.
        vectors: one embedding per item (the retrieval embeddings).
        roles: the chosen columns.
        k: the number of themes; None chooses it.
        namer: gives a theme a name from its terms and examples (None keeps the term names).
        progress: called with (fraction, message).
        source: where the items come from (stored with the result).
        ingest_date_column: the date column the document was ingested with.
    """
    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    items = list(items)
    check_texts([it.text for it in items], roles.text)
    if len(items) != len(vectors):
        raise FeedbackError(f"{len(items)} rows but {len(vectors)} vectors: add the file again")
    say(0.05, f"Clustering {len(items):,} comments")
    result = clustering.cluster(vectors, k=k, seed=seed, progress=say)
    labels = result.labels
    texts = [it.text for it in items]
    say(0.65, "Finding each theme's terms")
    top_terms = terms.ctfidf_terms(texts, labels)
    dates, ratings = role_values(items, roles, ingest_date_column)
    themes = describe_themes(items, labels, result.typicality, top_terms, ratings)
    coords = clustering.project_2d(vectors, result.centroids)
    a = Analysis(
        items=items, labels=[int(v) for v in labels],
        typicality=[round(float(v), 5) for v in result.typicality],
        coords=[[round(float(x), 5), round(float(y), 5)] for x, y in coords],
        themes=themes, roles=roles, dates=dates, ratings=ratings, k=result.k,
        k_auto=result.k_auto, scores={g: round(v, 5) for g, v in result.scores.items()},
        source=dict(source or {}),
        created_at=time.time(),
        seconds={f"cluster_{k_}": round(v, 3) for k_, v in result.seconds.items()},
    )
    t_named = time.perf_counter()
    if namer is not None:
        a = name_themes(a, namer, progress=lambda f, m: say(0.7 + 0.29 * f, m))
    t_end = time.perf_counter()
    say(1.0, "Done")
    return replace(a, seconds={**a.seconds, "naming": round(t_end - t_named, 3),
                               "total": round(t_end - t0, 3)})


def name_themes(a: Analysis, namer: Namer, progress: Progress | None = None,
                only_unnamed: bool = False) -> Analysis:
    """Ask `namer` for each theme's name (Other and, if asked, already-named themes skipped).

    A theme the namer gives no name keeps its current one; the namer's `note()` (why some
    names come from terms) replaces the analysis' earlier naming note.
    """
    say = progress or (lambda f, m: None)
    todo = [t for t in a.themes if not t.is_other
            and not (only_unnamed and t.named_by in ("model", "user"))]
    names: dict[int, str] = {}
    for n, t in enumerate(todo):
        say(n / max(1, len(todo)), f"Naming theme {n + 1} of {len(todo)}")
        name = namer(t.terms, distinct_texts(a.items, t.examples, 3))
        if name:
            names[t.id] = name
    themes = unique_names([replace(t, name=names[t.id], named_by="model") if t.id in names
                            else t for t in a.themes])
    notes = [n for n in a.notes if not n.startswith(NAMING_NOTE)]
    note = getattr(namer, "note", None)
    if callable(note) and (msg := note(len(todo))):
        notes.append(msg)
    return replace(a, themes=themes, notes=notes)


def distinct_texts(items: Sequence[Item], positions: Sequence[int], n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i in positions:
        key = " ".join(items[i].text.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(items[i].text)
        if len(out) >= n:
            break
    return out


def describe_themes(items: Sequence[Item], labels: np.ndarray, typicality: np.ndarray,
              top_terms: dict[int, list[str]], ratings: Sequence[float | None]) -> list[Theme]:
    n = len(labels)
    themes = []
    ids = sorted({int(v) for v in labels if v != OTHER})
    for tid in [*ids, OTHER] if (np.asarray(labels) == OTHER).any() else ids:
        members = np.flatnonzero(np.asarray(labels) == tid)
        order = members[np.argsort(-np.asarray(typicality)[members], kind="stable")]
        rated = [r for i in members.tolist() if (r := ratings[i]) is not None]
        auto = OTHER_NAME if tid == OTHER else terms.name_from_terms(
            top_terms.get(tid, []), f"Theme {tid + 1}")
        themes.append(Theme(
            id=tid, name=auto, terms=top_terms.get(tid, []), size=len(members),
            share=len(members) / max(1, n), examples=typical_positions(items, order),
            avg_rating=round(float(np.mean(rated)), 3) if rated else None, auto_name=auto,
        ))
    return unique_names(themes)


def typical_positions(items: Sequence[Item], order: Sequence[int] | np.ndarray) -> list[int]:
    """Up to EXAMPLES positions, most typical first, skipping repeated texts."""
    out, seen = [], set()
    for i in order:
        key = " ".join(items[int(i)].text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        out.append(int(i))
        if len(out) >= EXAMPLES:
            break
    return out


def unique_names(themes: list[Theme]) -> list[Theme]:
    seen: dict[str, int] = {}
    out = []
    for t in themes:
        key = t.name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and not t.is_other:
            extra = next((w for w in t.terms if w.lower() not in key), None)
            t = replace(t, name=f"{t.name} ({extra})" if extra else f"{t.name} ({seen[key]})")
        out.append(t)
    return out


# -- editing -----------------------------------------------------------------------------------


def rename_theme(a: Analysis, theme_id: int, name: str) -> Analysis:
    """The analysis with one theme renamed by the user."""
    name = " ".join((name or "").split())[:80]
    if not name:
        raise FeedbackError("a theme name cannot be empty")
    a.theme(theme_id)
    themes = [replace(t, name=name, named_by="user") if t.id == theme_id else t
              for t in a.themes]
    return replace(a, themes=themes)


def merge_themes(a: Analysis, keep: int, drop: int, vectors: np.ndarray | None = None
                 ) -> Analysis:
    """The analysis with theme `drop` folded into theme `keep`.

    Terms are recomputed for every theme (they are relative to the others); the merged theme's
    typical items are recomputed from the vectors when given, else interleaved from both.
    """
    if keep == drop:
        raise FeedbackError("pick two different themes to merge")
    a_keep, a_drop = a.theme(keep), a.theme(drop)
    if a_keep.is_other or a_drop.is_other:
        raise FeedbackError("the Other bucket cannot be merged: merge two named themes")
    labels = np.array([keep if v == drop else v for v in a.labels])
    typicality = np.asarray(a.typicality, dtype=np.float32)
    if vectors is not None and len(vectors) == len(labels):
        members = np.flatnonzero(labels == keep)
        X = clustering.normalize(vectors[members])
        centroid = clustering.normalize(X.mean(axis=0, keepdims=True))[0]
        typicality = typicality.copy()
        typicality[members] = X @ centroid
    top_terms = terms.ctfidf_terms([it.text for it in a.items], labels)
    described = {t.id: t for t in describe_themes(a.items, labels, typicality, top_terms, a.ratings)}
    if a_keep.named_by == "user":
        name, by = a_keep.name, "user"
    elif a_drop.named_by == "user":
        name, by = a_drop.name, "user"
    else:
        joined = f"{a_keep.name} & {a_drop.name}"
        name, by = (joined, "merge") if len(joined) <= 60 else (described[keep].auto_name,
                                                                  "terms")
    themes = []
    for t in a.themes:
        if t.id == drop:
            continue
        d = described[t.id]
        if t.id == keep:
            themes.append(replace(d, name=name, named_by=by))
        else:
            themes.append(replace(d, name=t.name, named_by=t.named_by))
    themes.sort(key=lambda t: (t.is_other, -t.size, t.id))
    return replace(a, labels=[int(v) for v in labels],
                   typicality=[round(float(v), 5) for v in typicality],
                   themes=unique_names(themes))


def summary_text(a: Analysis) -> str:
    """One line: how many comments and themes, how k was chosen, the Other share, the time."""
    lo, hi = (min(a.scores), max(a.scores)) if a.scores else (a.k, a.k)
    how = (f"chosen automatically among {lo}–{hi} by silhouette" if a.k == a.k_auto
           else f"set by hand; automatic choice: {a.k_auto}")
    other = next((t for t in a.themes if t.is_other), None)
    parts = [f"{len(a.items):,} comments",
             f"{sum(not t.is_other for t in a.themes)} themes ({how})"]
    if other is not None:
        parts.append(f"{other.size:,} in Other ({other.share:.0%})")
    if a.seconds.get("total"):
        parts.append(f"analysed in {a.seconds['total']:.1f} s")
    return " · ".join(parts)



def analyze_document(ws, doc: DocumentInfo, roles: Roles, *, k: int | None = None,
                     namer: Namer | None = None, progress: Progress | None = None
                     ) -> tuple[Analysis, np.ndarray]:
    """Load a table document's rows and vectors from the workspace and analyse them.

    Returns the analysis and the vectors (for merging later without reading them again).
    """
    say = progress or (lambda f, m: None)
    say(0.0, f"Reading the rows and vectors of '{doc.name}'")
    items, vectors = load_document(ws, doc)
    a = analyze(items, vectors, roles, k=k, namer=namer, progress=say,
                source=source_of(ws, doc), ingest_date_column=doc.meta.get("date_column"))
    return a, vectors
