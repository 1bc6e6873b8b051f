"""Feedback clustering quality and speed on labelled intent data, against BERTopic.

    .venv/bin/python benchmarks/clustering.py [--datasets banking77,clinc150]
        [--peer auto|bertopic|hdbscan|none] [--bertopic-python PATH] [--cache-dir DIR] [--json]

Data (read-only, beside the checkout): banking77 `train.csv` (10,003 queries, 77 intents) and
clinc150 `data_full.json`, test split, in-scope only (4,500 queries, 150 intents). Each text is
embedded once with RAGdesk's packaged model (the vectors retrieval uses) and cached as .npy in
the cache dir (default: a folder in the system temp dir), so reruns skip the slow part; the
embedding time shown is the one measured when the cache was written.

Rows, all on the same vectors:
- RAGdesk, k chosen automatically (the app's default), and with k = the true number of intents;
  seconds are the whole `analyze()` (clustering, Other bucket, c-TF-IDF terms, 2-D map);
- k-means (scikit-learn, k = true, 3 inits) on the full vectors, as a plain reference;
- the peer baseline: BERTopic's default pipeline (UMAP to 5-D, HDBSCAN with
  min_cluster_size=10, c-TF-IDF) given the same embeddings. BERTopic is run with
  `--bertopic-python` (a throwaway venv that has it: see below) or in-process when importable.
  With `--peer hdbscan`, or when BERTopic is unavailable, the density-based peer is
  scikit-learn's HDBSCAN directly on the vectors (UMAP is not installed in RAGdesk's venv).

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
t = time.perf_counter()
model = BERTopic(nr_topics=nr, calculate_probabilities=False, verbose=False)
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


def run_ragdesk(texts, X, k):
    from rag.analytics import feedback as fb

    items = [fb.Item(row=i + 1, text=t) for i, t in enumerate(texts)]
    t = time.perf_counter()
    a = fb.analyze(items, X, fb.Roles(text="text"), k=k)
    return a.labels, time.perf_counter() - t, f"k auto {a.k_auto}"


def run_kmeans(texts, X, k):
    from sklearn.cluster import KMeans

    t = time.perf_counter()
    labels = KMeans(k, n_init=3, random_state=0).fit_predict(X)
    return labels, time.perf_counter() - t, ""


def run_bertopic(texts, X, k, python: str | None):
    with tempfile.TemporaryDirectory(prefix="ragdesk-bertopic-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "texts.json").write_text(json.dumps(texts))
        np.save(tmpd / "x.npy", X)
        script = tmpd / "run.py"
        script.write_text(BERTOPIC_SCRIPT)
        cmd = [python or sys.executable, str(script), str(tmpd / "texts.json"),
               str(tmpd / "x.npy"), str(tmpd / "out.json")] + ([str(k)] if k else [])
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


def bertopic_available(python: str | None) -> bool:
    cmd = [python or sys.executable, "-c", "import bertopic, umap, hdbscan"]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="banking77,clinc150")
    ap.add_argument("--peer", default="auto", choices=["auto", "bertopic", "hdbscan", "none"])
    ap.add_argument("--bertopic-python", default=None,
                    help="python of a venv with bertopic (default: this one)")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "ragdesk-bench-clustering")
    ap.add_argument("--json", action="store_true")
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
    results = []
    for name in args.datasets.split(","):
        texts, y = DATASETS[name]()
        X, embed_s, cached = embeddings(name, texts, args.cache_dir)
        true_k = len(set(y))
        runs = [("RAGdesk (auto k)", run_ragdesk, None), ("RAGdesk (true k)", run_ragdesk, true_k),
                ("k-means (true k)", run_kmeans, true_k)]
        if peer == "bertopic":
            runs += [("BERTopic default", lambda t, x, k: run_bertopic(t, x, k,
                                                                       args.bertopic_python),
                      None),
                     ("BERTopic (nr_topics=true k)",
                      lambda t, x, k: run_bertopic(t, x, k, args.bertopic_python), true_k)]
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
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return
    rows = [[r["dataset"], r["method"], r.get("k", "-"), f"{100 * r.get('other', 0):.1f}%",
             r.get("ari", float("nan")), r.get("nmi", float("nan")), r.get("v", float("nan")),
             r.get("seconds", float("nan")), r.get("note") or r.get("error", "")]
            for r in results]
    print(table(rows, ["dataset", "method", "k", "other", "ARI", "NMI", "V", "cluster s",
                       "note"]))
    for name in dict.fromkeys(r["dataset"] for r in results):
        r = next(r for r in results if r["dataset"] == name and "embed_s" in r)
        how = "cached, measured when written" if r["embed_cached"] else "this run"
        print(f"{name}: {r['n']:,} texts, {r['true_k']} intents; embedding "
              f"{r['embed_s']:.0f} s ({r['n'] / r['embed_s']:.0f} texts/s, {how})")


if __name__ == "__main__":
    main()
