"""Embeddings -> two levels of clusters: fine themes (as many as the data holds) and up to
`HEADLINE_MAX` headline themes grouping them; every item assigned, outliers set apart.

The recipe, measured on banking77 and clinc150 (benchmarks/clustering.py):

1. Unit-length vectors, reduced with PCA to `REDUCED_DIM` dimensions (fitted on a sample);
   clusters and silhouettes are the same as in the full space, at a fraction of the cost.
2. Ward agglomerative clustering of a sample of at most `SAMPLE` items, once. Cutting its tree
   gives a clustering for every k at no extra cost, so each k of a grid reaching up to
   `FINE_CAP` (and n/15) is scored by its silhouette (cosine) on the sample; the smallest k
   within `K_TOLERANCE` of the best score is kept (`choose_k`): 77 intents give about 77
   fine themes, not a summary's cap.
3. The sample clusters' centroids seed k-means over all items (a few Lloyd iterations), so
   100,000 items cost about as much as the sample for choosing k plus cheap k-means passes.
4. Clusters smaller than `max(3, 0.5% of n)`, clusters with no real centre, and items far
   from their centroid (a robust fence on their cluster's distances) go to "Other" (label
   -1). "Other" is capped at `MAX_OTHER` of the items: a bucket for the odd ones, never most
   of the data.
5. Headlines: Ward's tree over the fine centroids, cut at the 2..`HEADLINE_MAX` groups whose
   size-weighted silhouette (of the centroids) is best; every fine theme has one parent.

Nothing random is left once the seed is fixed, and different seeds change only which items
make the sample: the benchmark measures how much that moves the result (ARI between seeds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

OTHER = -1
SAMPLE = 2000  # items clustered hierarchically to choose k (Ward is quadratic in memory)
REDUCED_DIM = 48
MAX_OTHER = 0.15  # share of items "Other" may hold
MIN_ITEMS = 10
FINE_CAP = 300  # fine themes at most (k-means over more is no longer a theme list)
K_CAP = FINE_CAP  # kept for callers of the one-level API
HEADLINE_MAX = 15  # headline themes at most: what an analyst reads at a glance

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Clustering:
    """Labels (one per item, -1 = Other) and how they were found."""

    labels: np.ndarray
    k: int  # clusters asked for (before small ones went to Other)
    k_auto: int  # what automatic selection picked (or would have)
    scores: dict[int, float]  # silhouette on the sample for each k of the grid
    centroids: np.ndarray  # unit-length, original space, one per label 0..k'-1
    typicality: np.ndarray  # cosine similarity of each item to its cluster's centroid
    seconds: dict[str, float] = field(default_factory=dict)
    parents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # fine -> head
    head_scores: dict[int, float] = field(default_factory=dict)

    @property
    def head_labels(self) -> np.ndarray:
        """Each item's headline theme (-1 = Other)."""
        if not len(self.parents):
            return self.labels.copy()
        return np.where(self.labels >= 0, self.parents[np.maximum(self.labels, 0)], OTHER)


def k_grid(n: int) -> list[int]:
    """Candidate numbers of fine clusters for n items: 3..min(`FINE_CAP`, n/15, n/3).

    Every k up to 16, then steps of about 10% (a cut of the tree and a silhouette on the
    sample cost little, so the grid can be dense).
    """
    if n < MIN_ITEMS:
        return []
    hi = int(min(FINE_CAP, max(3, n // 15), n // 3))
    lo = min(3 if n >= 30 else 2, hi)
    grid = list(range(lo, min(hi, 16) + 1))
    k = 16.0
    while k < hi:
        k *= GRID_STEP
        grid.append(min(hi, round(k)))
    return sorted(set(grid))


GRID_STEP = 1.1
K_TOLERANCE = 0.03


def k_range(n: int) -> tuple[int, int]:
    """The range a user may ask for (the granularity slider)."""
    if n < MIN_ITEMS:
        return (1, 1)
    return (2, int(max(2, min(FINE_CAP, n // max(3, math.ceil(0.005 * n)) // 2, n // 3))))


def normalize(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def _reduce(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, d = X.shape
    dim = min(REDUCED_DIM, d, n - 1)
    if d <= REDUCED_DIM or dim < 2:
        return X
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    fit_on = X if n <= 5000 else X[rng.choice(n, 5000, replace=False)]
    # The eigen-decomposition of a d x d matrix is small: threads only add contention (measured
    # 0.2 s on one thread vs 0.8-7 s on two busy cores for d = 512).
    with threadpool_limits(1, user_api="blas"):
        pca = PCA(n_components=dim, svd_solver="covariance_eigh").fit(fit_on)
    return normalize(pca.transform(X).astype(np.float32))


def _distinct(X: np.ndarray, limit: int) -> int:
    """How many different vectors there are (stops counting at `limit`)."""
    seen = np.unique(np.round(X[:, : min(16, X.shape[1])], 4), axis=0)
    return min(len(seen), limit)


def cluster(X: np.ndarray, k: int | None = None, seed: int = 0,
            progress: Progress | None = None) -> Clustering:
    """Cluster unit vectors; k=None chooses the number of clusters (see the module doc).

    Raises ValueError when there are fewer than `MIN_ITEMS` items.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import KMeans
    from sklearn.metrics import pairwise_distances, silhouette_score

    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    X = normalize(X)
    n = len(X)
    if n < MIN_ITEMS:
        raise ValueError(f"{n} items: at least {MIN_ITEMS} are needed to find themes")
    rng = np.random.default_rng(seed)
    Z = _reduce(X, rng)
    t_reduce = time.perf_counter() - t0

    say(0.15, "Choosing the number of themes")
    sample = np.sort(rng.choice(n, SAMPLE, replace=False)) if n > SAMPLE else np.arange(n)
    Zs = Z[sample]
    tree = linkage(Zs, method="ward")
    D = pairwise_distances(Zs, metric="cosine")
    distinct = _distinct(X, 10_000)
    grid = [g for g in k_grid(n) if g <= distinct] or [max(1, min(distinct, 2))]
    scores: dict[int, float] = {}
    cuts: dict[int, np.ndarray] = {}
    for g in grid:
        lab = fcluster(tree, g, criterion="maxclust") - 1
        cuts[g] = lab
        if 2 <= len(np.unique(lab)) < len(Zs):
            scores[g] = float(silhouette_score(D, lab, metric="precomputed"))
    k_auto = choose_k(scores) if scores else grid[0]
    t_choose = time.perf_counter() - t0 - t_reduce

    k_used = int(min(k or k_auto, distinct, n))
    say(0.45, f"Grouping {n:,} items into {k_used} themes")
    lab = cuts.get(k_used)
    if lab is None:
        lab = fcluster(tree, k_used, criterion="maxclust") - 1
    seeds = np.stack([Zs[lab == c].mean(axis=0) for c in np.unique(lab)])
    if len(seeds) >= 2:
        km = KMeans(len(seeds), init=seeds, n_init=1, max_iter=25, random_state=seed).fit(Z)
        labels = km.labels_.astype(int)
    else:
        labels = np.zeros(n, dtype=int)
    t_assign = time.perf_counter() - t0 - t_reduce - t_choose

    say(0.6, "Setting aside outliers")
    labels = _relabel_by_size(labels)
    labels = _other_bucket(X, labels)
    centroids, typicality = centroid_stats(X, labels)
    say(0.62, "Grouping the themes into headlines")
    t_head = time.perf_counter()
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    parents, head_scores = headline_parents(centroids, sizes)
    return Clustering(
        labels=labels, k=k_used, k_auto=int(k_auto), scores=scores, centroids=centroids,
        typicality=typicality, parents=parents, head_scores=head_scores,
        seconds={"reduce": t_reduce, "choose_k": t_choose, "assign": t_assign,
                 "headlines": time.perf_counter() - t_head,
                 "total": time.perf_counter() - t0},
    )


def headline_parents(centroids: np.ndarray, sizes: np.ndarray, max_k: int = HEADLINE_MAX
                     ) -> tuple[np.ndarray, dict[int, float]]:
    """Each fine theme's headline (0.. by total size) and the silhouette of each cut tried.

    Ward's tree over the unit centroids; the cut into 2..max_k groups with the best
    silhouette of the centroids (cosine), each centroid weighted by its theme's size. With
    `max_k` fine themes or fewer, each is its own headline.
    """
    m = len(centroids)
    if m <= max(2, min(max_k, HEADLINE_MIN)):
        return np.arange(m, dtype=int), {}
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import pairwise_distances, silhouette_samples

    C = normalize(centroids)
    tree = linkage(C, method="ward")
    D = pairwise_distances(C, metric="cosine")
    w = np.maximum(np.asarray(sizes, dtype=float), 1.0)
    best: tuple[float, int] | None = None
    cuts: dict[int, np.ndarray] = {}
    scores: dict[int, float] = {}
    for g in range(max(2, HEADLINE_MIN), min(max_k, m - 1) + 1):
        lab = fcluster(tree, g, criterion="maxclust") - 1
        if len(np.unique(lab)) < 2:
            continue
        cuts[g] = lab
        s = float(np.average(silhouette_samples(D, lab, metric="precomputed"), weights=w))
        scores[g] = round(s, 5)
        if best is None or s > best[0] + 1e-12:
            best = (s, g)
    if best is None:
        return np.zeros(m, dtype=int), scores
    lab = cuts[best[1]]
    totals = np.bincount(lab, weights=w)
    order = np.lexsort((np.arange(len(totals)), -totals))
    remap = np.empty(len(totals), dtype=int)
    remap[order] = np.arange(len(totals))
    return remap[lab], scores


HEADLINE_MIN = 4  # fewest headlines a cut may give (two or three headlines say little)


def choose_k(scores: dict[int, float], tolerance: float = K_TOLERANCE) -> int:
    """The smallest k whose silhouette is within `tolerance` (relative) of the best one.

    Silhouettes of sentence embeddings plateau past the true number of topics (a 20-intent
    sample of banking77: 0.369 at 23, 0.380 at 26, 0.370 at 34 and 46), so the top of the
    plateau is a coin toss between splits; the parsimonious end of it is the stable choice.
    """
    best = max(scores.values())
    return min(g for g, v in scores.items() if v >= best - tolerance * abs(best))


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0.. by decreasing size (Other stays -1)."""
    ids, counts = np.unique(labels[labels != OTHER], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    remap = {int(old): new for new, old in enumerate(order)}
    return np.array([remap.get(int(v), OTHER) for v in labels], dtype=int)


def min_cluster_size(n: int) -> int:
    return max(3, math.ceil(0.005 * n))


def _other_bucket(X: np.ndarray, labels: np.ndarray, max_other: float = MAX_OTHER) -> np.ndarray:
    """Small clusters, incoherent ones and far outliers to Other, within `max_other` of n.

    - small: fewer than `min_cluster_size(n)` items;
    - incoherent: the mean similarity to its centroid is under half the median cluster's (a
      grab bag of unrelated items, e.g. random noise, has no real centre);
    - far: beyond median + 3 robust standard deviations (MAD) of its cluster's distances to
      the centroid; robust, so a sizable group of strays cannot hide behind its own spread.
    Each rule takes what fits in the remaining budget, farthest items first.
    """
    n = len(labels)
    labels = labels.copy()
    budget = int(max_other * n)
    moved = 0
    ids, counts = np.unique(labels[labels != OTHER], return_counts=True)
    for c, i in sorted((int(c), int(i)) for i, c in zip(ids, counts, strict=True)
                       if c < min_cluster_size(n)):
        if moved + c > budget:
            break
        labels[labels == i] = OTHER
        moved += c
    centroids, sim = centroid_stats(X, labels)
    live = [i for i in range(len(centroids)) if (labels == i).any()]
    if len(live) >= 3:
        coherence = {i: float(sim[labels == i].mean()) for i in live}
        floor = 0.5 * float(np.median(list(coherence.values())))
        for i in sorted(live, key=lambda j: coherence[j]):
            size = int((labels == i).sum())
            if coherence[i] >= floor or moved + size > budget:
                break
            labels[labels == i] = OTHER
            moved += size
    far: list[tuple[float, int]] = []
    for i in range(len(centroids)):
        members = np.flatnonzero(labels == i)
        if len(members) < 8:
            continue
        d = 1.0 - sim[members]
        med = float(np.median(d))
        mad = float(np.median(np.abs(d - med))) * 1.4826
        fence = med + 3.0 * max(mad, 1e-3)
        far += [(float(d[j]), int(members[j])) for j in np.flatnonzero(d > fence)]
    far.sort(reverse=True)
    for _, j in far[: max(0, budget - moved)]:
        labels[j] = OTHER
    return _relabel_by_size(labels)


def centroid_stats(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit centroids of labels 0..max and each item's cosine similarity to its own centroid.

    An item of Other gets its similarity to the nearest centroid.
    """
    X = normalize(X)
    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    if k == 0:
        return np.zeros((0, X.shape[1]), dtype=np.float32), np.zeros(len(X), dtype=np.float32)
    from scipy import sparse

    keep = np.flatnonzero(labels >= 0)
    onehot = sparse.csr_matrix((np.ones(len(keep), dtype=np.float32), (labels[keep], keep)),
                               shape=(k, len(X)))
    C = normalize(np.asarray(onehot @ X, dtype=np.float32))
    sims = X @ C.T
    own = np.where(labels >= 0, sims[np.arange(len(X)), np.maximum(labels, 0)],
                   sims.max(axis=1))
    return C, own.astype(np.float32)


def project_2d(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """2-D coordinates for a map: PCA fitted on the centroids (the between-theme directions),
    or on the items themselves when there are fewer than three themes."""
    from sklearn.decomposition import PCA

    X = normalize(X)
    if len(X) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if X.shape[1] < 2 or len(X) < 3:
        return np.zeros((len(X), 2), dtype=np.float32)
    fit_on = centroids if len(centroids) >= 3 else X
    pca = PCA(n_components=2, random_state=0).fit(fit_on)
    return pca.transform(X).astype(np.float32)
