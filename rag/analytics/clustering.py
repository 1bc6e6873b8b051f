"""Embeddings -> two levels of clusters: fine themes (as many as the data holds) and up to
`HEADLINE_MAX` headline themes grouping them; every item assigned, outliers set apart.

The recipe, measured on banking77 and clinc150 (benchmarks/clustering.py):

1. Unit-length vectors, reduced with PCA to `REDUCED_DIM` dimensions (fitted on a sample);
   clusters and silhouettes are the same as in the full space, at a fraction of the cost.
2. Over-clustering: k-means into many micro-clusters (about `MICRO_SIZE` items each, at most
   `MICRO_MAX`; fitted on at most `MICRO_FIT` items, then every item goes to its nearest).
3. Ward's tree over the micro-clusters, each weighted by its size (`weighted_ward`: the tree
   Ward would build over all items if each micro-cluster had to stay whole). It is
   deterministic, and cutting it gives a clustering for every k at no extra cost.
4. Each k of a grid reaching up to `FINE_CAP` (and n/15) is scored by the exact cosine
   silhouette of up to `EVAL_MAX` items against all items, computed from the micro-clusters'
   vector sums (`_silhouette`: no pairwise matrix); the smallest k within `K_TOLERANCE` of
   the best score is kept (`choose_k`): 77 intents give dozens of fine themes or more, not a
   summary's cap.
5. The chosen cut is refined by a few k-means (Lloyd) passes over all items.
6. A cluster smaller than `min_cluster_size(n)` (0.1% of n, at least 3) is dissolved: its
   items join the nearest theme when they are as close as its typical members, else Other.
   Clusters with no real centre and items far from their centroid (a robust fence on their
   cluster's distances) go to "Other" (label -1), capped at `MAX_OTHER` of the items.
7. Headlines: Ward's tree over the fine centroids, cut at the 2..`HEADLINE_MAX` groups whose
   size-weighted silhouette (of the centroids) is best; every fine theme has one parent.

The seed only drives the micro-clusters' k-means++ start and the samples (PCA fit,
micro-cluster fit): the merging that follows is deterministic, which is what keeps two
seeds' themes close; the benchmark measures how close (ARI between seeds).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

OTHER = -1
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
    return (2, int(max(2, min(FINE_CAP, n // min_cluster_size(n) // 2, n // 3))))


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
    from scipy.cluster.hierarchy import fcluster

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
    distinct = _distinct(X, 10_000)
    micro, sums, counts = _micro_clusters(Z, n_micro(n, distinct), seed)
    tree = weighted_ward(sums / counts[:, None], counts)
    grid = [g for g in k_grid(n) if g < len(counts)] or [min(len(counts), 2)]
    ev = _eval_rows(n)
    P = Z[ev] @ sums.T  # each evaluated item's dot product with every micro-cluster's sum
    scores: dict[int, float] = {}
    cuts: dict[int, np.ndarray] = {}
    for g in grid:
        cut = fcluster(tree, g, criterion="maxclust") - 1 if len(tree) else np.zeros(1, int)
        cuts[g] = cut
        if 2 <= len(np.unique(cut)) < n:
            scores[g] = _silhouette(P, micro[ev], cut, counts)
    k_auto = choose_k(scores) if scores else grid[0]
    t_choose = time.perf_counter() - t0 - t_reduce

    k_used = int(min(k or k_auto, distinct, n))
    say(0.45, f"Grouping {n:,} items into {k_used} themes")
    cut = cuts.get(k_used)
    if cut is None:
        cut = (fcluster(tree, k_used, criterion="maxclust") - 1 if len(counts) > k_used >= 1
               else np.arange(len(counts)))
    labels = cut[micro]
    if REFINE_ITERS and len(np.unique(cut)) >= 2:
        labels = _lloyd(Z, labels, REFINE_ITERS)
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


MICRO_SIZE = 6  # items per micro-cluster on average
MICRO_MAX = 1500  # micro-clusters at most (the weighted Ward tree is quadratic in them)
MICRO_FIT = 20_000  # items the micro-clusters are fitted on (then every item is assigned)
EVAL_MAX = 4000  # items whose silhouette scores each cut
REFINE_ITERS = 10


def n_micro(n: int, distinct: int) -> int:
    return int(max(2, min(MICRO_MAX, n // MICRO_SIZE if n >= 4 * MICRO_SIZE else n, distinct)))


def _micro_clusters(Z: np.ndarray, m: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over-cluster: k-means into m small groups. Returns each item's micro-cluster, the
    micro-clusters' vector sums and sizes (empty ones dropped)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = len(Z)
    rng = np.random.default_rng(seed)
    fit = Z if n <= MICRO_FIT else Z[np.sort(rng.choice(n, MICRO_FIT, replace=False))]
    with warnings.catch_warnings():  # duplicates leave fewer distinct groups: dropped below
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(m, init="k-means++", n_init=1, max_iter=20, random_state=seed).fit(fit)
    micro = km.labels_ if n <= MICRO_FIT else _nearest(Z, km.cluster_centers_)
    ids, micro = np.unique(micro, return_inverse=True)
    counts = np.bincount(micro).astype(np.float64)
    return micro.astype(int), _sums(Z, micro, len(ids)), counts


def _sums(Z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The sum of the vectors of each label 0..k-1 (float64)."""
    from scipy import sparse

    onehot = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))),
                               shape=(k, len(labels)))
    return np.asarray(onehot @ Z.astype(np.float64))


def _nearest(Z: np.ndarray, C: np.ndarray, block: int = 8192) -> np.ndarray:
    out = np.empty(len(Z), dtype=int)
    c2 = (C * C).sum(axis=1)
    for s in range(0, len(Z), block):
        out[s:s + block] = np.argmin(c2 - 2 * Z[s:s + block] @ C.T, axis=1)
    return out


def _lloyd(Z: np.ndarray, labels: np.ndarray, iters: int) -> np.ndarray:
    """A few k-means (Lloyd) passes over all items from the given partition."""
    k = int(labels.max()) + 1
    for _ in range(iters):
        C = _sums(Z, labels, k)
        counts = np.bincount(labels, minlength=k)
        live = counts > 0
        C = (C[live] / counts[live, None]).astype(np.float32)
        new = _nearest(Z, C)
        if np.array_equal(new, labels):
            break
        labels = new
        k = len(C)
    return labels


def _eval_rows(n: int) -> np.ndarray:
    """The items whose silhouettes score the cuts: all, or an even stride of `EVAL_MAX`."""
    if n <= EVAL_MAX:
        return np.arange(n)
    return np.linspace(0, n - 1, EVAL_MAX).round().astype(int)


def _silhouette(P: np.ndarray, own_micro: np.ndarray, cut: np.ndarray, counts: np.ndarray
                ) -> float:
    """Mean cosine silhouette of the evaluated items under a cut of the micro-clusters.

    With unit vectors the mean cosine distance from x to a cluster C is 1 - x.sum(C)/|C|, so
    every item's silhouette against all items comes from its dot products with the
    micro-clusters' sums (`P`), with no pairwise matrix.
    """
    from scipy import sparse

    k = int(cut.max()) + 1
    A = sparse.csr_matrix((np.ones(len(cut)), (np.arange(len(cut)), cut)), shape=(len(cut), k))
    S = np.asarray(A.T @ P.T).T  # each item's dot product with each cluster's sum
    size = np.bincount(cut, weights=counts, minlength=k)
    own = cut[own_micro]
    rows = np.arange(len(own))
    n_own = size[own]
    a = (n_own - S[rows, own]) / np.maximum(n_own - 1, 1)
    mean_d = 1.0 - S / size[None, :]
    mean_d[rows, own] = np.inf
    b = mean_d.min(axis=1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[n_own <= 1] = 0.0
    return float(s.mean())


def weighted_ward(C: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Ward's tree (scipy linkage format) over points C with masses w: merging groups A and B
    costs |A||B|/(|A|+|B|) * |cA - cB|^2, as if each point were w identical items. Built with
    the nearest-neighbour chain, which is exact for Ward; deterministic (ties by index)."""
    m = len(C)
    if m == 1:
        return np.zeros((0, 4))
    cen = np.zeros((2 * m - 1, C.shape[1]), dtype=np.float64)
    cen[:m] = C
    mass = np.zeros(2 * m - 1, dtype=np.float64)
    mass[:m] = w
    height = np.zeros(2 * m - 1, dtype=np.float64)
    active = np.zeros(2 * m - 1, dtype=bool)
    active[:m] = True
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    nxt = m
    while nxt < 2 * m - 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        active[a] = False
        idx = np.flatnonzero(active)
        active[a] = True
        d = mass[a] * mass[idx] / (mass[a] + mass[idx]) * ((cen[idx] - cen[a]) ** 2).sum(axis=1)
        j = int(np.argmin(d))
        b, db = int(idx[j]), float(d[j])
        if len(chain) > 1:
            prev = chain[-2]
            dp = float(mass[a] * mass[prev] / (mass[a] + mass[prev])
                       * ((cen[prev] - cen[a]) ** 2).sum())
            if dp <= db:
                b, db = prev, dp
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            cen[nxt] = (mass[a] * cen[a] + mass[b] * cen[b]) / (mass[a] + mass[b])
            mass[nxt] = mass[a] + mass[b]
            active[a] = active[b] = False
            active[nxt] = True
            height[nxt] = max(db, height[a], height[b])  # monotone despite rounding
            merges.append((a, b, float(height[nxt])))
            nxt += 1
        else:
            chain.append(b)
    # Sort the merges by height and renumber them as scipy expects (union-find over leaves).
    order = sorted(range(len(merges)), key=lambda i: merges[i][2])
    parent = list(range(2 * m - 1))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # Map each original node id (leaf or merge) to its representative leaf, then to the id
    # scipy gives the cluster containing it.
    rep = list(range(m)) + [0] * (m - 1)
    for i, (a, b, _) in enumerate(merges):
        rep[m + i] = rep[a]
    label = {i: i for i in range(m)}  # representative leaf's root -> scipy cluster id
    size = {i: 1 for i in range(m)}
    out = np.zeros((m - 1, 4))
    for step, i in enumerate(order):
        a, b, dist = merges[i]
        ra, rb = find(rep[a]), find(rep[b])
        ia, ib = label[ra], label[rb]
        out[step] = [min(ia, ib), max(ia, ib), math.sqrt(2 * dist), size[ra] + size[rb]]
        parent[rb] = ra
        label[ra] = m + step
        size[ra] += size[rb]
    return out


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


MIN_SHARE = 0.001  # a theme holds at least this share of the items (and `MIN_THEME` items)
MIN_THEME = 3


def min_cluster_size(n: int) -> int:
    return max(MIN_THEME, math.ceil(MIN_SHARE * n))


def _fences(sim: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per cluster, the farthest distance to the centroid that is still typical: median + 3
    robust standard deviations (MAD) of its members' distances (inf for under 8 members)."""
    fence = np.full(k, np.inf)
    for i in range(k):
        d = 1.0 - sim[labels == i]
        if len(d) < 8:
            continue
        med = float(np.median(d))
        mad = float(np.median(np.abs(d - med))) * 1.4826
        fence[i] = med + 3.0 * max(mad, 1e-3)
    return fence


def _other_bucket(X: np.ndarray, labels: np.ndarray, max_other: float = MAX_OTHER) -> np.ndarray:
    """Small clusters dissolved, incoherent ones and far outliers to Other, within
    `max_other` of n.

    - small: a cluster of fewer than `min_cluster_size(n)` items is no theme; each of its items
      joins the nearest theme when it is as close as that theme's own typical members (within
      its fence, below), else Other;
    - incoherent: the mean similarity to its centroid is under half the median cluster's (a
      grab bag of unrelated items, e.g. random noise, has no real centre);
    - far: beyond median + 3 robust standard deviations (MAD) of its cluster's distances to
      the centroid; robust, so a sizable group of strays cannot hide behind its own spread.
    Items go to Other farthest first while the budget lasts.
    """
    n = len(labels)
    labels = labels.copy()
    budget = int(max_other * n)
    ids, counts = np.unique(labels[labels != OTHER], return_counts=True)
    small = ids[counts < min_cluster_size(n)]
    if len(small) == len(ids):  # nothing is big enough: keep the largest few
        small = ids[np.argsort(-counts, kind="stable")][1:] if len(ids) > 1 else ids[:0]
    pending = np.isin(labels, small)
    labels[pending] = OTHER
    labels = _relabel_by_size(labels)
    centroids, sim = centroid_stats(X, labels)
    live = [i for i in range(len(centroids)) if (labels == i).any()]
    moved = 0
    if len(live) >= 3:
        coherence = {i: float(sim[labels == i].mean()) for i in live}
        floor = 0.5 * float(np.median(list(coherence.values())))
        for i in sorted(live, key=lambda j: coherence[j]):
            size = int((labels == i).sum())
            if coherence[i] >= floor or moved + size > budget:
                break
            labels[labels == i] = OTHER
            moved += size
        centroids, sim = centroid_stats(X, labels)
    fence = _fences(sim, labels, len(centroids))
    if pending.any() and len(centroids):
        near = np.argmax(normalize(X[pending]) @ centroids.T, axis=1)
        labels[np.flatnonzero(pending)] = near  # sim of Other is already the nearest one's
    far = [(float(1.0 - sim[j]), int(j)) for j in np.flatnonzero(labels >= 0)
           if 1.0 - sim[j] > fence[labels[j]]]
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
