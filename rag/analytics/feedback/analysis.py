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
            seed: int = 0, previous: Analysis | None = None) -> Analysis:
    """Cluster the items into fine themes and headlines, describe, score and name them.

    Args:
        items: the feedback rows with text.
        vectors: one embedding per item (the retrieval embeddings).
        roles: the chosen columns.
        k: the number of fine themes; None chooses it.
        namer: gives a theme a name from its terms and examples (None keeps the keyphrases).
        progress: called with (fraction, message).
        source: where the items come from (stored with the result).
        ingest_date_column: the date column the document was ingested with.
        previous: an earlier analysis of the same feedback: themes that are the same keep its
            ids and names, the others are marked new (`feedback.align`).
    """
    from rag.analytics.feedback import align, sentiment

    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    items = list(items)
    check_texts([it.text for it in items], roles.text)
    if len(items) != len(vectors):
        raise FeedbackError(f"{len(items)} rows but {len(vectors)} vectors: add the file again")
    say(0.05, f"Clustering {len(items):,} comments")
    result = clustering.cluster(vectors, k=k, seed=seed, progress=say)
    labels = result.labels
    head = result.head_labels
    texts = [it.text for it in items]
    say(0.65, "Finding each theme's terms and keyphrase")
    t_terms = time.perf_counter()
    top_terms, head_terms = terms.ctfidf_levels(texts, [labels, head])
    _, head_typ = clustering.centroid_stats(vectors, head)
    t_describe = time.perf_counter()
    dates, ratings = role_values(items, roles, ingest_date_column)
    say(0.68, "Scoring sentiment")
    scores, source_kind = sentiment.item_scores(texts, ratings)
    t_sent = time.perf_counter()
    parents = {i: int(p) for i, p in enumerate(result.parents)}
    themes = describe_themes(items, labels, result.typicality, top_terms, ratings,
                             parents=parents, scores=scores, sentiment_source=source_kind,
                             seed=seed)
    headlines = describe_themes(items, head, head_typ, head_terms, ratings, scores=scores,
                                sentiment_source=source_kind, seed=seed)
    coords = clustering.project_2d(vectors, result.centroids)
    a = Analysis(
        items=items, labels=[int(v) for v in labels],
        typicality=[round(float(v), 5) for v in result.typicality],
        coords=[[round(float(x), 5), round(float(y), 5)] for x, y in coords],
        themes=themes, roles=roles, dates=dates, ratings=ratings, k=result.k,
        k_auto=result.k_auto, scores={g: round(v, 5) for g, v in result.scores.items()},
        source=dict(source or {}),
        created_at=time.time(),
        seconds={**{f"cluster_{k_}": round(v, 3) for k_, v in result.seconds.items()},
                 "terms": round(t_describe - t_terms, 3),
                 "sentiment": round(t_sent - t_describe, 3),
                 "describe": round(time.perf_counter() - t_sent, 3)},
        headlines=headlines,
        centroids={i: [round(float(v), 5) for v in c] for i, c in enumerate(result.centroids)},
        sentiments=list(scores), sentiment_source=source_kind, run_id=new_run_id(),
    )
    if previous is not None:
        say(0.7, "Matching the themes to the previous run")
        a = align.align(a, previous)
    a = align.flag_trends(a, previous)
    t_named = time.perf_counter()
    if namer is not None:
        a = name_themes(a, namer, progress=lambda f, m: say(0.72 + 0.27 * f, m),
                        only_new=previous is not None)
    t_end = time.perf_counter()
    say(1.0, "Done")
    return replace(a, seconds={**a.seconds, "naming": round(t_end - t_named, 3),
                               "total": round(t_end - t0, 3)})


def new_run_id() -> str:
    """A run id: its UTC time and 4 random hex digits (safe in keys and file names)."""
    import secrets

    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def name_themes(a: Analysis, namer: Namer, progress: Progress | None = None,
                only_unnamed: bool = False, only_new: bool = False) -> Analysis:
    """Ask `namer` for each theme's name, headlines first (Other skipped; if asked, themes
    already named by the model or the user, or all but the new ones).

    A theme the namer gives no name keeps its current one (its keyphrase); the namer's
    `note()` (why some names are not the model's) replaces the analysis' earlier naming note.
    """
    from rag.analytics.feedback.model import NEW

    say = progress or (lambda f, m: None)

    def wanted(t: Theme) -> bool:
        if t.is_other or only_unnamed and t.named_by in ("model", "user"):
            return False
        return not only_new or t.status == NEW

    heads = [t for t in a.headlines if wanted(t)
             and not (len(a.children(t.id)) == 1 and a.children(t.id)[0].name == t.name)]
    todo = [(True, t) for t in heads] + [(False, t) for t in a.themes if wanted(t)]
    names: dict[tuple[bool, int], str] = {}
    for n, (is_head, t) in enumerate(todo):
        say(n / max(1, len(todo)), f"Naming theme {n + 1} of {len(todo)}")
        name = namer(t.terms, distinct_texts(a.items, t.examples, 3))
        if name:
            names[(is_head, t.id)] = name

    def renamed(themes: list[Theme], is_head: bool) -> list[Theme]:
        return unique_names([replace(t, name=names[(is_head, t.id)], named_by="model")
                             if (is_head, t.id) in names else t for t in themes])

    notes = [n for n in a.notes if not n.startswith(NAMING_NOTE)]
    note = getattr(namer, "note", None)
    if callable(note) and (msg := note(len(todo))):
        notes.append(msg)
    return replace(a, themes=renamed(a.themes, False), headlines=renamed(a.headlines, True),
                   notes=notes)


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
                    top_terms: dict[int, list[str]], ratings: Sequence[float | None], *,
                    parents: dict[int, int] | None = None,
                    scores: Sequence[float | None] | None = None, sentiment_source: str = "",
                    seed: int = 0) -> list[Theme]:
    """One Theme per label (Other last): size, share, typical items, terms, a name from its
    comments' keyphrase (else its terms), its parent headline and its sentiment."""
    from rag.analytics.feedback import sentiment

    n = len(labels)
    labels = np.asarray(labels)
    typicality = np.asarray(typicality)
    ids = sorted({int(v) for v in labels if v != OTHER})
    order_all = np.lexsort((np.arange(n), -typicality, labels))  # by label, most typical first
    sorted_labels = labels[order_all]
    starts = np.searchsorted(sorted_labels, [*ids, OTHER], side="left")
    ends = np.searchsorted(sorted_labels, [*ids, OTHER], side="right")
    groups = {tid: order_all[s:e] for tid, s, e in zip([*ids, OTHER], starts, ends, strict=True)}
    texts = [it.text for it in items]
    phrases = terms.keyphrases(texts, {tid: groups[tid].tolist() for tid in ids}, seed=seed)
    themes = []
    for tid in [*ids, OTHER] if len(groups[OTHER]) else ids:
        order = groups[tid]
        rated = [r for i in order.tolist() if (r := ratings[i]) is not None]
        if tid == OTHER:
            auto, by = OTHER_NAME, "terms"
        elif tid in phrases:
            auto, by = phrases[tid], "keyphrase"
        else:
            auto, by = terms.name_from_terms(top_terms.get(tid, []), f"Theme {tid + 1}"), "terms"
        mean, neg = (sentiment.summarize([scores[i] for i in order.tolist()], sentiment_source)
                     if scores is not None else (None, None))
        themes.append(Theme(
            id=tid, name=auto, terms=top_terms.get(tid, []), size=len(order),
            share=len(order) / max(1, n), examples=typical_positions(items, order),
            avg_rating=round(float(np.mean(rated)), 3) if rated else None, auto_name=auto,
            named_by=by, parent=(parents or {}).get(tid) if tid != OTHER else None,
            sentiment=mean, negative_share=neg,
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
    """Names made unique by a distinguishing term; a theme carried over from the previous
    run keeps its name, a new one is the one that gets the suffix."""
    from rag.analytics.feedback.model import NEW

    seen: dict[str, int] = {}
    out: dict[int, Theme] = {}
    order = sorted(range(len(themes)), key=lambda i: (themes[i].status == NEW, i))
    for i in order:
        t = themes[i]
        key = t.name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and not t.is_other:
            extra = next((w for w in t.terms if w.lower() not in key), None)
            t = replace(t, name=f"{t.name} ({extra})" if extra else f"{t.name} ({seen[key]})")
        out[i] = t
    return [out[i] for i in range(len(themes))]


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
    scores = a.sentiments if len(a.sentiments) == len(labels) else None
    parents = {t.id: t.parent for t in a.themes if t.parent is not None}
    described = {t.id: t for t in describe_themes(
        a.items, labels, typicality, top_terms, a.ratings, parents=parents, scores=scores,
        sentiment_source=a.sentiment_source)}
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
        d = replace(described[t.id], status=t.status, trend=t.trend)
        if t.id == keep:
            themes.append(replace(d, name=name, named_by=by))
        else:
            themes.append(replace(d, name=t.name, named_by=t.named_by))
    themes.sort(key=lambda t: (t.is_other, -t.size, t.id))
    merged = replace(a, labels=[int(v) for v in labels],
                     typicality=[round(float(v), 5) for v in typicality],
                     themes=unique_names(themes),
                     centroids={k: v for k, v in a.centroids.items() if k != drop})
    if not a.headlines:
        return merged
    # The headline sizes follow (the dropped theme's comments now count under keep's parent).
    head = np.asarray(merged.head_labels)
    head_terms = terms.ctfidf_terms([it.text for it in a.items], head)
    fresh = {t.id: t for t in describe_themes(a.items, head, typicality, head_terms, a.ratings,
                                              scores=scores,
                                              sentiment_source=a.sentiment_source)}
    headlines = [replace(fresh[h.id], name=h.name, named_by=h.named_by, status=h.status,
                         trend=h.trend) for h in a.headlines if h.id in fresh]
    headlines.sort(key=lambda t: (t.is_other, -t.size, t.id))
    return replace(merged, headlines=headlines)


def summary_text(a: Analysis) -> str:
    """One line: how many comments, headlines and themes, how k was chosen, the Other share
    (always stated), the time."""
    lo, hi = (min(a.scores), max(a.scores)) if a.scores else (a.k, a.k)
    how = (f"chosen automatically among {lo}–{hi} by silhouette" if a.k == a.k_auto
           else f"set by hand; automatic choice: {a.k_auto}")
    other = next((t for t in a.themes if t.is_other), None)
    heads = sum(not t.is_other for t in a.headlines)
    parts = [f"{len(a.items):,} comments"]
    if heads:
        parts.append(f"{heads} headline themes")
    parts.append(f"{sum(not t.is_other for t in a.themes)} themes ({how})")
    parts.append(f"{other.size:,} in Other ({other.share:.1%})" if other is not None
                 else "none in Other (0%)")
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
