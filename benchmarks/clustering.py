"""Feedback themes (both levels) on labelled intent data, against BERTopic in the same run.

    .venv/bin/python benchmarks/clustering.py [--datasets clinc150,banking77]
        [--peer auto|bertopic|hdbscan|none] [--bertopic-python PATH] [--cache-dir DIR]
        [--scale 100000] [--json]

Data (read-only, beside the checkout): banking77 `train.csv` (10,003 queries, 77 intents) and
clinc150 `data_full.json`, test split, in-scope only (4,500 queries, 150 intents). Each text is
embedded once with RAGdesk's packaged model (the vectors retrieval uses) and cached as .npy in
the cache dir (default: a folder in the system temp dir), so reruns skip the slow part; the
embedding time shown is the one measured when the cache was written.

Rows, all on the same vectors:
- RAGdesk, k chosen automatically (the app's default), fine level and headline level, with
  seeds 0 and 1 (seed agreement: ARI between the two runs' labels); clinc150's headlines are
  also scored against its 10 domains. Seconds are the whole `analyze()` (both levels, Other
  bucket, c-TF-IDF terms, keyphrases, sentiment, 2-D map);
- RAGdesk on a 90% subset (seed 0) aligned to the full run (`previous=`): the share of its
  themes matched to a full-run theme, and the share of the subset's rows whose aligned theme
  id is the one the full run gave them;
- RAGdesk with k = the true number of intents;
- k-means (scikit-learn, k = true, 3 inits) on the full vectors, as a plain reference;
- the peer baseline: BERTopic's default pipeline (UMAP to 5-D, HDBSCAN with
  min_cluster_size=10, c-TF-IDF) given the same embeddings, twice: UMAP is BERTopic's default
  one with `random_state` 0 and then 1 (BERTopic's own seed knob), for its seed agreement. BERTopic is run with
  `--bertopic-python` (a throwaway venv that has it: see below) or in-process when importable.
  With `--peer hdbscan`, or when BERTopic is unavailable, the density-based peer is
  scikit-learn's HDBSCAN directly on the vectors (UMAP is not installed in RAGdesk's venv).

`--scale N`: N short texts synthesized from banking77 + clinc150 rows (resampled, a word in
seven dropped, their vectors the real rows' vectors plus small noise renormalised), analysed
from vectors to both levels in a fresh process: seconds and peak RSS. Embedding N texts is
timed on 2,000 of them and extrapolated (the packaged embedder's texts/s), said as such.

Outliers (RAGdesk's Other, BERTopic's -1) count as one more cluster in ARI/NMI/V-measure, as a
user would see them; the "other" column gives their share.

A throwaway BERTopic venv that reuses this venv's CPU torch (nothing here is changed):

    python -m venv /tmp/bertopic-venv
    .venv/bin/python -c "import site; print(site.getsitepackages()[0])" \\
        > /tmp/bertopic-venv/lib/python3.11/site-packages/main-venv.pth
    /tmp/bertopic-venv/bin/pip install --no-deps bertopic==0.17.4 hdbscan==0.8.44 \\
        umap-learn==0.5.12 pynndescent==0.7.0 numba==0.68.1 llvmlite==0.50.0
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table

SHARED = Path(os.environ.get("RAGDESK_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))

BERTOPIC_SCRIPT = r"""
import json, sys, time
import numpy as np
from bertopic import BERTopic
texts = json.load(open(sys.argv[1]))
X = np.load(sys.argv[2])
nr = int(sys.argv[4]) if len(sys.argv) > 4 else None
nr = None if nr == 0 else nr
seed = int(sys.argv[5]) if len(sys.argv) > 5 else None
t = time.perf_counter()
umap_model = None
if seed is not None:  # BERTopic's default UMAP, seeded
    from umap import UMAP
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                      low_memory=False, random_state=seed)
model = BERTopic(nr_topics=nr, calculate_probabilities=False, verbose=False,
                 umap_model=umap_model)
topics, _ = model.fit_transform(texts, X)
json.dump({"labels": [int(v) for v in topics], "seconds": time.perf_counter() - t},
          open(sys.argv[3], "w"))
"""


def load_banking77() -> tuple[list[str], list[str]]:
    with (SHARED / "banking77" / "train.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def load_clinc150() -> tuple[list[str], list[str]]:
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [t for t, _ in data["test"]], [lab for _, lab in data["test"]]


DATASETS = {"banking77": load_banking77, "clinc150": load_clinc150}


def embeddings(name: str, texts: list[str], cache: Path) -> tuple[np.ndarray, float, bool]:
    """The texts' vectors (cached by model and content) and the seconds embedding took."""
    from rag.config import Settings

    model = Settings().embed_model
    key = hashlib.sha1((model + "\0" + "\n".join(texts)).encode()).hexdigest()[:16]
    npy, meta = cache / f"{name}-{key}.npy", cache / f"{name}-{key}.json"
    if npy.exists() and meta.exists():
        return np.load(npy), float(json.loads(meta.read_text())["seconds"]), True
    from rag.index.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(model)
    t = time.perf_counter()
    X = embedder.embed(texts)
    seconds = time.perf_counter() - t
    cache.mkdir(parents=True, exist_ok=True)
    np.save(npy, X)
    meta.write_text(json.dumps({"seconds": seconds, "n": len(texts), "model": model}))
    return X, seconds, False


def scores(y: list[str], labels) -> dict[str, float]:
    from sklearn import metrics

    labels = np.asarray(labels)
    return {"ari": metrics.adjusted_rand_score(y, labels),
            "nmi": metrics.normalized_mutual_info_score(y, labels),
            "v": metrics.v_measure_score(y, labels), "other": float((labels == -1).mean()),
            "k": len(set(labels.tolist()) - {-1})}


def ragdesk_analysis(texts, X, k=None, seed=0, previous=None):
    from rag.analytics import feedback as fb

    items = [fb.Item(row=i + 1, text=t) for i, t in enumerate(texts)]
    t = time.perf_counter()
    a = fb.analyze(items, X, fb.Roles(text="text"), k=k, seed=seed, previous=previous)
    return a, time.perf_counter() - t


def run_ragdesk(texts, X, k):
    a, seconds = ragdesk_analysis(texts, X, k)
    return a.labels, seconds, f"k auto {a.k_auto}"


def agreement(a_labels, b_labels) -> float:
    from sklearn import metrics

    return float(metrics.adjusted_rand_score(a_labels, b_labels))


def ragdesk_rows(name, texts, y, X, domains=None) -> list[dict]:
    """RAGdesk's two levels with seeds 0 and 1, and the 90% re-run aligned to the full run."""
    out = []
    runs = {}
    for seed in (0, 1):
        print(f"[{name}] RAGdesk seed {seed}…", file=sys.stderr, flush=True)
        runs[seed] = ragdesk_analysis(texts, X, seed=seed)
    (a0, s0), (a1, s1) = runs[0], runs[1]
    for level, lab0, lab1 in (("fine", a0.labels, a1.labels),
                              ("headline", a0.head_labels, a1.head_labels)):
        row = {"dataset": name, "n": len(texts), "true_k": len(set(y)),
               "method": f"RAGdesk {level} (auto)", **scores(y, lab0),
               "seconds": s0, "seconds_seed1": s1, "seed_ari": agreement(lab0, lab1),
               "note": f"k auto {a0.k_auto}" if level == "fine" else ""}
        if domains is not None:
            dom = [domains[v] for v in y]
            row["nmi_domains"] = scores(dom, lab0)["nmi"]
            row["note"] += f" NMI vs {len(set(dom))} domains {row['nmi_domains']:.3f}"
        out.append(row)
    print(f"[{name}] RAGdesk on 90% aligned to the full run…", file=sys.stderr, flush=True)
    keep = np.flatnonzero(np.random.default_rng(7).random(len(texts)) < 0.9)
    sub, s_sub = ragdesk_analysis([texts[i] for i in keep], X[keep], seed=0, previous=a0)
    regular = [t for t in sub.themes if not t.is_other]
    matched = sum(t.status != "new" for t in regular)
    full = np.asarray(a0.labels)[keep]
    same = float(np.mean(np.asarray(sub.labels) == full))
    out.append({"dataset": name, "n": len(keep), "true_k": len(set(y)),
                "method": "RAGdesk 90% re-run", **scores([y[i] for i in keep], sub.labels),
                "seconds": s_sub, "aligned_themes": matched / max(1, len(regular)),
                "same_theme_rows": same,
                "note": f"{matched}/{len(regular)} themes matched; {same:.1%} rows same id"})
    return out


def run_kmeans(texts, X, k):
    from sklearn.cluster import KMeans

    t = time.perf_counter()
    labels = KMeans(k, n_init=3, random_state=0).fit_predict(X)
    return labels, time.perf_counter() - t, ""


def run_bertopic(texts, X, k, python: str | None, seed: int | None = None):
    with tempfile.TemporaryDirectory(prefix="ragdesk-bertopic-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "texts.json").write_text(json.dumps(texts))
        np.save(tmpd / "x.npy", X)
        script = tmpd / "run.py"
        script.write_text(BERTOPIC_SCRIPT)
        cmd = [python or sys.executable, str(script), str(tmpd / "texts.json"),
               str(tmpd / "x.npy"), str(tmpd / "out.json"), str(k or 0)] + (
                   [str(seed)] if seed is not None else [])
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        out = json.loads((tmpd / "out.json").read_text())
    return out["labels"], out["seconds"], f"wall {wall:.0f} s with start-up"


def run_hdbscan(texts, X, k):
    from sklearn.cluster import HDBSCAN

    t = time.perf_counter()
    labels = HDBSCAN(min_cluster_size=10, metric="euclidean").fit_predict(X)
    return labels, time.perf_counter() - t, "no UMAP"


def clinc_domains() -> dict[str, str]:
    data = json.loads((SHARED / "clinc150" / "domains.json").read_text(encoding="utf-8"))
    return {intent: dom for dom, intents in data.items() for intent in intents}


SCALE_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
from rag.analytics import feedback as fb
d = json.load(open(sys.argv[1]))
X = np.load(sys.argv[2])
items = [fb.Item(row=i + 1, text=t) for i, t in enumerate(d["texts"])]
t = time.perf_counter()
a = fb.analyze(items, X, fb.Roles(text="text"))
s = time.perf_counter() - t
json.dump({"seconds": s, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "fine_k": sum(not t.is_other for t in a.themes),
           "heads": sum(not t.is_other for t in a.headlines), "other": a.other_share,
           "parts": a.seconds}, open(sys.argv[3], "w"))
"""


def run_scale(n: int, cache: Path) -> dict:
    """N synthetic texts and vectors (see the module doc), analysed in a fresh process."""
    t1, _ = load_banking77()
    t2, _ = load_clinc150()
    X1, _, _ = embeddings("banking77", t1, cache)
    X2, _, _ = embeddings("clinc150", t2, cache)
    texts, X = t1 + t2, np.vstack([X1, X2]).astype(np.float32)
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(texts), n)
    out = []
    for i in pick:
        words = texts[int(i)].split()
        kept = [w for w in words if rng.random() > 1 / 7] or words
        out.append(" ".join(kept))
    V = X[pick] + rng.normal(0, 0.01, (n, X.shape[1])).astype(np.float32)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    from rag.config import Settings
    from rag.index.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(Settings().embed_model)
    embedder.embed(out[:50])  # warm-up
    t = time.perf_counter()
    embedder.embed(out[:2000])
    rate = 2000 / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory(prefix="ragdesk-scale-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "d.json").write_text(json.dumps({"texts": out}))
        np.save(tmpd / "x.npy", V)
        (tmpd / "run.py").write_text(SCALE_SCRIPT)
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": str(root)}
        proc = subprocess.run([sys.executable, str(tmpd / "run.py"), str(tmpd / "d.json"),
                               str(tmpd / "x.npy"), str(tmpd / "out.json")],
                              capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip()[-500:])
        res = json.loads((tmpd / "out.json").read_text())
    return {"dataset": "synthetic", "method": "RAGdesk scale", "scale_n": n, "embed_rate": rate,
            **res}


def bertopic_available(python: str | None) -> bool:
    cmd = [python or sys.executable, "-c", "import bertopic, umap, hdbscan"]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


class _Results(list):
    """The result rows, each also printed to stderr as it comes (a long run cut short still
    says what it measured)."""

    def append(self, row) -> None:
        print("RESULT " + json.dumps(row, default=float), file=sys.stderr, flush=True)
        super().append(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="clinc150,banking77")
    ap.add_argument("--peer", default="auto", choices=["auto", "bertopic", "hdbscan", "none"])
    ap.add_argument("--bertopic-python", default=None,
                    help="python of a venv with bertopic (default: this one)")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "ragdesk-bench-clustering")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--scale", type=int, default=0,
                    help="also time N synthetic short texts from vectors to both levels")
    args = ap.parse_args()

    peer = args.peer
    if peer in ("auto", "bertopic"):
        if bertopic_available(args.bertopic_python):
            peer = "bertopic"
        elif peer == "bertopic":
            sys.exit("bertopic is not importable: pass --bertopic-python (see the docstring)")
        else:
            peer = "hdbscan"
            print("BERTopic not available: the density-based peer is scikit-learn's HDBSCAN "
                  "on the same vectors (no UMAP).", file=sys.stderr)
    results = _Results()
    for name in args.datasets.split(","):
        texts, y = DATASETS[name]()
        X, embed_s, cached = embeddings(name, texts, args.cache_dir)
        true_k = len(set(y))
        domains = clinc_domains() if name == "clinc150" else None
        for r in ragdesk_rows(name, texts, y, X, domains):
            results.append({**r, "embed_s": embed_s, "embed_cached": cached})
        runs = [("RAGdesk (true k)", run_ragdesk, true_k), ("k-means (true k)", run_kmeans, true_k)]
        if peer == "bertopic":
            bt = {}
            for seed in (0, 1):
                print(f"[{name}] BERTopic default, UMAP seed {seed}…", file=sys.stderr,
                      flush=True)
                try:
                    bt[seed] = run_bertopic(texts, X, None, args.bertopic_python, seed)
                except Exception as exc:  # noqa: BLE001 - a failed peer is reported
                    results.append({"dataset": name, "method": "BERTopic default",
                                    "error": str(exc)})
            if 0 in bt:
                row = {"dataset": name, "n": len(texts), "true_k": true_k,
                       "method": "BERTopic default", **scores(y, bt[0][0]),
                       "seconds": bt[0][1], "note": bt[0][2], "embed_s": embed_s,
                       "embed_cached": cached}
                if 1 in bt:
                    row["seed_ari"] = agreement(bt[0][0], bt[1][0])
                    row["seconds_seed1"] = bt[1][1]
                results.append(row)
        elif peer == "hdbscan":
            runs += [("HDBSCAN (sklearn, min 10)", run_hdbscan, None)]
        for label, fn, k in runs:
            print(f"[{name}] {label}…", file=sys.stderr, flush=True)
            try:
                labels, seconds, note = fn(texts, X, k)
            except Exception as exc:  # noqa: BLE001 - a failed peer is reported, not fatal
                results.append({"dataset": name, "method": label, "error": str(exc)})
                continue
            results.append({"dataset": name, "n": len(texts), "true_k": true_k,
                            "method": label, **scores(y, labels), "seconds": seconds,
                            "embed_s": embed_s, "embed_cached": cached, "note": note})
    if args.scale:
        print(f"[scale] {args.scale:,} synthetic texts…", file=sys.stderr, flush=True)
        results.append(run_scale(args.scale, args.cache_dir))
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return
    rows = [[r["dataset"], r["method"], r.get("k", "-"), f"{100 * r.get('other', 0):.1f}%",
             r.get("ari", float("nan")), r.get("nmi", float("nan")), r.get("v", float("nan")),
             r.get("seed_ari", float("nan")), r.get("seconds", float("nan")),
             r.get("note") or r.get("error", "")]
            for r in results if "scale_n" not in r]
    print(table(rows, ["dataset", "method", "k", "other", "ARI", "NMI", "V", "seed ARI",
                       "seconds", "note"]))
    for r in results:
        if "scale_n" in r:
            print(f"scale: {r['scale_n']:,} texts, vectors to both levels in "
                  f"{r['seconds']:.1f} s (peak RSS {r['rss_mb']:.0f} MB; {r['fine_k']} fine "
                  f"themes, {r['heads']} headlines, other {r['other']:.1%}); embedding "
                  f"{r['embed_rate']:.0f} texts/s measured on 2,000 -> about "
                  f"{r['scale_n'] / r['embed_rate']:.0f} s for all (extrapolated)")
    for name in dict.fromkeys(r["dataset"] for r in results):
        r = next(r for r in results if r["dataset"] == name and "embed_s" in r)
        how = "cached, measured when written" if r["embed_cached"] else "this run"
        print(f"{name}: {r['n']:,} texts, {r['true_k']} intents; embedding "
              f"{r['embed_s']:.0f} s ({r['n'] / r['embed_s']:.0f} texts/s, {how})")


if __name__ == "__main__":
    main()
