"""ROUGE-1/2/L F1 (Lin 2004) for the summaries benchmark: lowercase alphanumeric tokens, no
stemming and no stopword removal, one reference; multiple references: the best score.

Numbers stay tokens ("1.01" is one token), which is what an earnings summary is judged on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _f1(overlap: float, n_cand: int, n_ref: int) -> dict[str, float]:
    p = overlap / n_cand if n_cand else 0.0
    r = overlap / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def rouge_n(candidate: str, reference: str, n: int) -> dict[str, float]:
    c, r = tokens(candidate), tokens(reference)
    cg = Counter(tuple(c[i:i + n]) for i in range(len(c) - n + 1))
    rg = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
    overlap = sum((cg & rg).values())
    return _f1(overlap, sum(cg.values()), sum(rg.values()))


def lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> dict[str, float]:
    c, r = tokens(candidate), tokens(reference)
    return _f1(lcs(c, r), len(c), len(r))


def rouge(candidate: str, references: str | Sequence[str]) -> dict[str, float]:
    """{'rouge1', 'rouge2', 'rougeL'}: F1, the best over the references."""
    refs = [references] if isinstance(references, str) else list(references)
    best = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for ref in refs:
        got = {"rouge1": rouge_n(candidate, ref, 1)["f"], "rouge2": rouge_n(candidate, ref, 2)["f"],
               "rougeL": rouge_l(candidate, ref)["f"]}
        for k, v in got.items():
            best[k] = max(best[k], v)
    return best
