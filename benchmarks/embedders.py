"""Embedding speed and fidelity: torch fp32 vs onnxruntime fp32 / int8 / uint8 on real chunks.

    .venv/bin/python benchmarks/embedders.py [--n 100] [--repeat 5] [--threads 2] [--json]

Every variant embeds the same ~100 chunks of the FinanceBench 10-K filings, in turns (so load
from other work on the machine spreads over all of them); texts/s are medians over the rounds
and ratios are against torch in the same run. Fidelity is the cosine of each vector with the
torch fp32 vector of the same text. The ONNX files are exported into a temporary folder unless
`--data-dir` is given (then they are cached in DATA_DIR/models like the app's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_embedder, median, sample_chunks, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100, help="number of chunks (default 100)")
    ap.add_argument("--repeat", type=int, default=5, help="timed rounds per variant (default 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default="torch,onnx-fp32,onnx-int8,onnx-uint8")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args()

    texts = sample_chunks(args.n)
    tmp = tempfile.TemporaryDirectory(prefix="ragdesk-embbench-")
    data_dir = args.data_dir or Path(tmp.name)
    variants = args.variants.split(",")
    if "torch" not in variants:
        variants.insert(0, "torch")
    models, load_s = {}, {}
    for v in variants:
        t = time.perf_counter()
        models[v] = make_embedder(v, data_dir, args.threads)
        load_s[v] = time.perf_counter() - t
        models[v].embed(texts[:8])  # warm-up

    from tokenizers import Tokenizer

    from rag.index.embedder import packaged_model_dir

    tok = Tokenizer.from_file(str(packaged_model_dir("all-MiniLM-L6-v2") / "tokenizer.json"))
    tok.no_truncation()
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]

    secs: dict[str, list[float]] = {v: [] for v in variants}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(args.repeat):
        for v in variants:
            t = time.perf_counter()
            vecs[v] = models[v].embed(texts)
            secs[v].append(time.perf_counter() - t)

    ref = vecs["torch"]
    torch_rate = len(texts) / median(secs["torch"])
    out = {"texts": len(texts), "mean_tokens": float(np.mean(np.minimum(lengths, 256))),
           "max_tokens": int(max(lengths)), "over_256": int(sum(n > 256 for n in lengths)), "threads": args.threads, "repeat": args.repeat,
           "variants": {}}
    for v in variants:
        cos = np.sum(vecs[v] * ref, axis=1)
        rate = len(texts) / median(secs[v])
        out["variants"][v] = {
            "name": models[v].name, "texts_per_s": rate, "vs_torch": rate / torch_rate,
            "seconds_median": median(secs[v]), "seconds": secs[v],
            "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
            "cos_p01": float(np.quantile(cos, 0.01)), "load_s": load_s[v],
            "file_mb": (Path(models[v].model_path).stat().st_size / 2**20
                        if hasattr(models[v], "model_path") else float("nan")),
        }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['texts']} chunks of FinanceBench 10-Ks, mean {out['mean_tokens']:.0f} tokens "
          f"(longest {out['max_tokens']}, {out['over_256']} cut at 256), {args.threads} threads, median of {args.repeat} rounds\n")
    print(table([[v, r["name"], r["texts_per_s"], r["vs_torch"], r["cos_min"], r["cos_mean"],
                  r["file_mb"], r["load_s"]] for v, r in out["variants"].items()],
                ["variant", "name", "texts/s", "x torch", "cos min", "cos mean", "file MB",
                 "load s"]))


if __name__ == "__main__":
    main()
