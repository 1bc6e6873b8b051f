"""Questions grouped by topic (clustered, cached in the log) and unanswered ones by topic."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rag.analytics.questions.log import QuestionLog
from rag.analytics.questions.records import QuestionRecord

OTHER_TOPIC = "Other questions"
# Topics are re-clustered from scratch once the questions grew by this share since the last
# clustering; until then new questions join the nearest existing topic (cheap).
RECLUSTER_GROWTH = 0.2
RECLUSTER_MIN_NEW = 20
GREEDY_SIMILARITY = 0.55  # fewer questions than clustering needs: join a group this similar


@dataclass(frozen=True)
class Topic:
    """A group of similar questions: its name, top terms and members (most typical first)."""

    id: int
    name: str
    terms: list[str]
    members: list[int] = field(default_factory=list)  # positions in the input

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def is_other(self) -> bool:
        return self.id < 0


def _greedy_labels(X) -> list[int]:
    """Too few items to cluster: each joins the first group whose seed is similar enough."""
    import numpy as np

    seeds: list[int] = []
    labels = []
    for i in range(len(X)):
        sims = [float(np.dot(X[i], X[s])) for s in seeds]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= GREEDY_SIMILARITY:
            labels.append(best)
        else:
            seeds.append(i)
            labels.append(len(seeds) - 1)
    return labels


def _topics_from_labels(texts: Sequence[str], X, labels, names: dict[int, str] | None = None,
                        topic_terms: dict[int, list[str]] | None = None) -> list[Topic]:
    """Topics from labels: members by typicality, terms by c-TF-IDF, names from the terms."""
    import numpy as np

    from rag.analytics import clustering, terms

    labels = np.asarray(labels, dtype=int)
    if topic_terms is None:
        topic_terms = terms.ctfidf_terms(list(texts), labels)
    _, typ = clustering.centroid_stats(X, labels) if len(X) else (None, np.zeros(0))
    out = []
    for tid in sorted({int(v) for v in labels}, key=lambda t: (t < 0, t)):
        members = np.flatnonzero(labels == tid)
        order = [int(i) for i in members[np.argsort(-typ[members], kind="stable")]]
        tt = list((topic_terms or {}).get(tid, []))
        if tid < 0:
            name = OTHER_TOPIC
        elif names and names.get(tid):
            name = names[tid]
        else:
            name = terms.name_from_terms(tt, shorten_question(texts[order[0]], 50))
        out.append(Topic(id=tid, name=name, terms=tt, members=order))
    out.sort(key=lambda t: (t.is_other, -t.size, t.id))
    return _unique_names(out)


def _unique_names(topics: list[Topic]) -> list[Topic]:
    seen: dict[str, int] = {}
    out = []
    for t in topics:
        key = t.name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and not t.is_other:
            t = Topic(t.id, f"{t.name} ({seen[key]})", t.terms, t.members)
        out.append(t)
    return out


def shorten_question(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def find_topics(texts: Sequence[str], vectors, k: int | None = None, seed: int = 0
                ) -> tuple[list[Topic], Any, Any]:
    """Group questions by topic with the Feedback page's machinery.

    From `clustering.MIN_ITEMS` questions on, `clustering.cluster` (k chosen by silhouette,
    odd ones in Other) and c-TF-IDF terms; below that, a greedy grouping by similarity.
    Returns (topics, labels, centroids).
    """
    import numpy as np

    from rag.analytics import clustering

    X = clustering.normalize(np.asarray(vectors, dtype=np.float32))
    if len(texts) == 0:
        return [], np.zeros(0, dtype=int), np.zeros((0, X.shape[1] if X.ndim == 2 else 0))
    if len(texts) >= clustering.MIN_ITEMS:
        result = clustering.cluster(X, k=k, seed=seed)
        labels = result.labels
    else:
        labels = np.asarray(_greedy_labels(X), dtype=int)
    topics = _topics_from_labels(texts, X, labels)
    centroids, _ = clustering.centroid_stats(X, labels)
    return topics, labels, centroids


def cached_topics(log: QuestionLog, name: str, ids: Sequence[int], texts: Sequence[str],
                  vectors, model: str) -> list[Topic]:
    """`find_topics`, remembered in the log: re-clustered only when the set grew by a fifth.

    New questions since the last clustering join their nearest topic; a question that left
    the set (resolved, say) simply drops out. Full re-clustering happens when the model
    changed, or new questions exceed `RECLUSTER_GROWTH` of the clustered ones (and
    `RECLUSTER_MIN_NEW`), or more than that share left.
    """
    import numpy as np

    from rag.analytics import clustering

    X = clustering.normalize(np.asarray(vectors, dtype=np.float32))
    ids = [int(i) for i in ids]
    cache = log.cache_get(name)
    if cache and cache.get("model") == model and cache.get("labels") and len(ids):
        known = dict(zip(cache["ids"], cache["labels"], strict=True))
        new = [i for i, q in enumerate(ids) if q not in known]
        gone = len(set(known) - set(ids))
        base = max(1, len(known))
        C = np.asarray(cache["centroids"], dtype=np.float32)
        fits = C.ndim == 2 and len(C) and C.shape[1] == X.shape[1]
        if fits and len(new) <= max(RECLUSTER_MIN_NEW, RECLUSTER_GROWTH * base) and \
                gone <= RECLUSTER_GROWTH * base:
            labels = np.array([known.get(q, -2) for q in ids], dtype=int)
            if new:
                labels[new] = np.argmax(X[new] @ C.T, axis=1)
            names = {int(k): v for k, v in cache.get("names", {}).items()}
            tterms = {int(k): v for k, v in cache.get("terms", {}).items()}
            return _topics_from_labels(texts, X, labels, names, tterms)
    topics, labels, centroids = find_topics(texts, X)
    log.cache_put(name, {
        "model": model, "ids": ids, "labels": [int(v) for v in labels],
        "centroids": np.round(centroids, 5).tolist(),
        "names": {str(t.id): t.name for t in topics if not t.is_other},
        "terms": {str(t.id): t.terms for t in topics},
        "at": time.time(),
    })
    return topics


@dataclass(frozen=True)
class UnansweredGroup:
    """Unanswered questions of one topic, newest first."""

    topic: Topic
    records: list[QuestionRecord]

    @property
    def documents(self) -> list[tuple[str, int]]:
        """The documents their closest passages come from, with how often (most first)."""
        counts: dict[str, int] = {}
        for r in self.records:
            for name in dict.fromkeys(p.doc_name for p in r.passages):
                counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


UNGROUPED = Topic(id=-2, name="Not grouped yet", terms=[])


def topic_index(ids: Sequence[int], topics: Sequence[Topic]) -> dict[int, Topic]:
    """Question id -> its topic (topics' members are positions in `ids`)."""
    return {int(ids[m]): t for t in topics for m in t.members}


def group_unanswered(unanswered: Sequence[QuestionRecord], topic_of: dict[int, Topic]
                     ) -> list[UnansweredGroup]:
    """Unanswered questions grouped by their topic, largest group first (Other last).

    Questions without a topic yet (their vector is not computed) form a last group.
    """
    by_topic: dict[int, list[QuestionRecord]] = {}
    topics: dict[int, Topic] = {}
    for r in unanswered:
        t = topic_of.get(r.id, UNGROUPED)
        topics[t.id] = t
        by_topic.setdefault(t.id, []).append(r)
    groups = [UnansweredGroup(topics[tid], sorted(recs, key=lambda r: (-r.asked_at, -r.id)))
              for tid, recs in by_topic.items()]
    groups.sort(key=lambda g: (g.topic.id == UNGROUPED.id, g.topic.is_other, -len(g.records),
                               g.topic.name))
    return groups


def topics_frame(topics: Sequence[Topic], texts: Sequence[str],
                 unanswered: dict[int, int] | None = None):
    """One row a topic: name, questions, share, open unanswered, top terms, a typical question."""
    import pandas as pd

    n = sum(t.size for t in topics) or 1
    rows = [{"topic": t.name, "questions": t.size, "share": round(t.size / n, 4),
             "unanswered": (unanswered or {}).get(t.id, 0),
             "terms": ", ".join(t.terms[:6]),
             "typical question": texts[t.members[0]] if t.members else ""} for t in topics]
    return pd.DataFrame(rows, columns=["topic", "questions", "share", "unanswered", "terms",
                                       "typical question"])


def unanswered_frame(groups: Sequence[UnansweredGroup]):
    """Every open unanswered question with its topic, outcome and closest passages."""
    import pandas as pd

    rows = []
    for g in groups:
        for r in g.records:
            rows.append({
                "topic": g.topic.name, "question": r.question,
                "asked": datetime.fromtimestamp(r.asked_at).strftime("%Y-%m-%d %H:%M"),
                "outcome": r.outcome, "model": r.model,
                "closest passages": "; ".join(f"{p.doc_name}, {p.location}"
                                              for p in r.passages[:3]),
                "id": r.id,
            })
    return pd.DataFrame(rows, columns=["topic", "question", "asked", "outcome", "model",
                                       "closest passages", "id"])
