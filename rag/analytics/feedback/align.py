"""What changed since the last run: themes matched to a previous analysis, trend flags.

`align(a, previous)`: each fine theme of `a` is matched to at most one theme of `previous`
(Hungarian assignment on the cosine similarity of their centroids; a pair counts when the
similarity is at least `MATCH_SIM`). A matched theme takes the previous theme's id and name
(and how it was named); an unmatched one gets a fresh id and the status "new". Headlines are
matched the same way on their size-weighted centroids. When either run has no centroids (an
analysis saved by an older release, or another embedding model), themes are matched by the
comments they share instead (Jaccard of their texts, at least `MATCH_JACCARD`).

`flag_trends(a, previous)`: a theme is "emerging" or "fading" when its share of the latest
month's comments is at least `RISE` times (at most `FALL` times) its share over the
`LOOKBACK` months before, and the difference is at least `MIN_CHANGE` comments; without
dates, the share of this run is compared with the matched theme's share in the previous run
the same way. A theme the previous run did not have stays "new", unless at least
`MIN_CHANGE` of its comments are from the months before and its rise flags it "emerging"
(it was there, too small to be a theme); the others are "steady".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from rag.analytics.clustering import OTHER, normalize
from rag.analytics.feedback.model import (
    EMERGING,
    FADING,
    NEW,
    STEADY,
    Analysis,
    Theme,
)

MATCH_SIM = 0.80
MATCH_JACCARD = 0.30
RISE, FALL = 1.5, 0.5
LOOKBACK = 3
MIN_CHANGE = 5


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def fine_centroids(a: Analysis) -> dict[int, np.ndarray]:
    return {int(k): np.asarray(v, dtype=np.float32) for k, v in a.centroids.items()}


def head_centroids(a: Analysis) -> dict[int, np.ndarray]:
    """Each headline's centroid: its fine themes' centroids weighted by their sizes."""
    fine = fine_centroids(a)
    out: dict[int, np.ndarray] = {}
    for h in a.headlines:
        kids = [t for t in a.children(h.id) if t.id in fine]
        if h.is_other or not kids:
            continue
        c = sum(t.size * fine[t.id] for t in kids)
        out[h.id] = normalize(np.asarray(c, dtype=np.float32)[None, :])[0]
    return out


def _members(labels: Sequence[int], texts: Sequence[str]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for lab, t in zip(labels, texts, strict=True):
        if lab != OTHER:
            out.setdefault(int(lab), set()).add(_key(t))
    return out


def match(new_c: dict[int, np.ndarray], old_c: dict[int, np.ndarray],
          new_sets: dict[int, set[str]], old_sets: dict[int, set[str]]
          ) -> dict[int, tuple[int, float]]:
    """new id -> (old id, similarity) for the pairs that are the same theme."""
    from scipy.optimize import linear_sum_assignment

    new_ids, old_ids = sorted(new_sets), sorted(old_sets)
    if not new_ids or not old_ids:
        return {}
    dims = {v.shape[0] for v in [*new_c.values(), *old_c.values()]}
    by_vectors = (len(dims) == 1 and all(i in new_c for i in new_ids)
                  and all(j in old_c for j in old_ids))
    if by_vectors:
        A = normalize(np.stack([new_c[i] for i in new_ids]))
        B = normalize(np.stack([old_c[j] for j in old_ids]))
        S = A @ B.T
        floor = MATCH_SIM
    else:
        S = np.array([[len(new_sets[i] & old_sets[j]) / max(1, len(new_sets[i] | old_sets[j]))
                       for j in old_ids] for i in new_ids])
        floor = MATCH_JACCARD
    rows, cols = linear_sum_assignment(-S)
    return {new_ids[r]: (old_ids[c], round(float(S[r, c]), 4)) for r, c in zip(rows, cols,
                                                                              strict=True)
            if S[r, c] >= floor}


def _remap(themes: list[Theme], pairs: dict[int, tuple[int, float]], old: dict[int, Theme],
           taken: set[int]) -> tuple[list[Theme], dict[int, int]]:
    """Themes renumbered: matched ones take the old id and name, the others fresh ids."""
    ids: dict[int, int] = {OTHER: OTHER}
    nxt = max([*taken, *(t.id for t in themes), -1]) + 1
    out = []
    for t in themes:
        if t.is_other:
            out.append(t)
            continue
        if t.id in pairs:
            o = old[pairs[t.id][0]]
            ids[t.id] = o.id
            out.append(replace(t, id=o.id, name=o.name, named_by=o.named_by, status=STEADY))
        else:
            ids[t.id] = nxt
            out.append(replace(t, id=nxt, status=NEW))
            nxt += 1
    return out, ids


def align(a: Analysis, previous: Analysis) -> Analysis:
    """`a` with the ids and names of `previous` where the themes are the same (see the
    module doc); its other themes are marked new."""
    same_model = (a.source.get("embed_model") == previous.source.get("embed_model")
                  or not a.source.get("embed_model") or not previous.source.get("embed_model"))
    texts = [it.text for it in a.items]
    old_texts = [it.text for it in previous.items]
    fine_pairs = match(fine_centroids(a) if same_model else {},
                       fine_centroids(previous) if same_model else {},
                       _members(a.labels, texts), _members(previous.labels, old_texts))
    old_fine = {t.id: t for t in previous.themes}
    themes, fine_ids = _remap(a.themes, fine_pairs, old_fine, set(old_fine))

    head_pairs: dict[int, tuple[int, float]] = {}
    head_ids: dict[int, int] = {OTHER: OTHER}
    headlines = a.headlines
    if a.headlines and previous.headlines:
        head_pairs = match(head_centroids(a) if same_model else {},
                           head_centroids(previous) if same_model else {},
                           _members(a.head_labels, texts),
                           _members(previous.head_labels, old_texts))
        old_head = {t.id: t for t in previous.headlines}
        headlines, head_ids = _remap(a.headlines, head_pairs, old_head, set(old_head))
    elif a.headlines:
        head_ids = {t.id: t.id for t in a.headlines}
    themes = [replace(t, parent=head_ids.get(t.parent, t.parent) if t.parent is not None
                      else None) for t in themes]
    labels = [fine_ids.get(lab, lab) for lab in a.labels]
    centroids = {fine_ids.get(k, k): v for k, v in a.centroids.items()}
    matched = sum(1 for t in themes if not t.is_other and t.status != NEW)
    note = (f"Matched to run {previous.run_id or 'before'}: {matched} of "
            f"{sum(not t.is_other for t in themes)} themes are the same (kept their names); "
            f"{sum(t.status == NEW for t in themes)} are new.")
    return replace(a, themes=themes, headlines=headlines, labels=labels, centroids=centroids,
                   previous_run=previous.run_id or None, notes=[*a.notes, note])


def _month_counts(dates: Sequence[str | None], labels: Sequence[int]
                  ) -> tuple[list[str], dict[int, dict[str, int]], dict[str, int]]:
    months = sorted({d[:7] for d in dates if d})
    per: dict[int, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for d, lab in zip(dates, labels, strict=True):
        if not d:
            continue
        m = d[:7]
        totals[m] = totals.get(m, 0) + 1
        per.setdefault(int(lab), {}).setdefault(m, 0)
        per[int(lab)][m] += 1
    return months, per, totals


def _flag(now: int, total: int, before: int, total_before: int) -> tuple[str, float]:
    """(status, expected count) of a count `now` out of `total` against `before` out of
    `total_before`."""
    if total <= 0 or total_before <= 0:
        return STEADY, 0.0
    expected = before / total_before * total
    share, share_before = now / total, before / total_before
    if now - expected >= MIN_CHANGE and share >= RISE * share_before:
        return EMERGING, expected
    if expected - now >= MIN_CHANGE and share <= FALL * share_before:
        return FADING, expected
    return STEADY, expected


def flag_trends(a: Analysis, previous: Analysis | None = None) -> Analysis:
    """Themes (both levels) flagged emerging / fading (see the module doc)."""
    def flagged(themes: list[Theme], labels: list[int], old: list[Theme] | None,
                old_n: int) -> list[Theme]:
        months, per, totals = _month_counts(a.dates, labels)
        out = []
        old_by_id = {t.id: t for t in old or []}
        for t in themes:
            if t.is_other or (t.status == NEW and len(months) < 2):
                out.append(t)
                continue
            status, why = STEADY, ""
            if len(months) >= 2:
                last, prior = months[-1], months[-1 - LOOKBACK:-1]
                now = per.get(t.id, {}).get(last, 0)
                before = sum(per.get(t.id, {}).get(m, 0) for m in prior)
                tb = sum(totals[m] for m in prior)
                if t.status == NEW and before < MIN_CHANGE:
                    out.append(t)  # its comments are new, not only the theme
                    continue
                status, _ = _flag(now, totals[last], before, tb)
                why = (f"{last}: {now} of {totals[last]} comments ({now / totals[last]:.1%}); "
                       f"{prior[0]}–{prior[-1]}: {before} of {tb} ({before / max(1, tb):.1%})")
                if t.status == NEW:
                    # Comments of earlier months too few to make a theme in the last run: a
                    # sharp rise is "emerging"; otherwise the theme stays "new".
                    if status != EMERGING:
                        out.append(t)
                        continue
                    why += "; too few to be a theme in the previous run"
            elif t.id in old_by_id and old_n:
                o = old_by_id[t.id]
                status, _ = _flag(t.size, len(a.labels), o.size, old_n)
                why = (f"this run: {t.size} of {len(a.labels)} comments ({t.share:.1%}); "
                       f"previous run: {o.size} of {old_n} ({o.size / old_n:.1%})")
            out.append(replace(t, status=status, trend=why))
        return out

    old_n = len(previous.labels) if previous is not None else 0
    themes = flagged(a.themes, a.labels, previous.themes if previous else None, old_n)
    headlines = flagged(a.headlines, a.head_labels, previous.headlines if previous else None,
                        old_n) if a.headlines else []
    return replace(a, themes=themes, headlines=headlines)
