"""What the model is shown of each retrieved passage.

A small local model answers better, and sooner, from less text: each passage is cut down to
the sentences and table rows that bear on the question (with the table's header of years),
and a table row's figures are labelled with the year of their column, so "(1,577) (1,373)"
under "2018 2017" reads "2018: (1,577); 2017: (1,373)". Figures are never altered or
invented: every number shown is a substring of the passage, so citation checking against the
full passage stays exact.
"""

from __future__ import annotations

import math
import re

from rag.retrieve import expand_query, glossary_terms, plan_query, tokenize
from rag.text.lexicon import FINANCE, Lexicon
from rag.text.numbers import NUMBER
from rag.text.sentences import PASSAGE

FOCUS_CHARS = 520
"""A passage longer than this is cut to its most relevant sentences and rows."""

GAP = "…"

_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
_CELL = r"(?:\$\s?)?\(?-?" + NUMBER + r"\)?%?"
_CELL_RE = re.compile(_CELL)
_ROW_RE = re.compile(rf"^(?P<label>.*?[A-Za-z)][^\d$(]*?)\s+(?P<cells>{_CELL}(?:\s+{_CELL})+)\s*$")
_SENT_END = re.compile(r"[.:;!?\d)%]$")
_SENT_SPLIT = PASSAGE.pattern


def segments(text: str) -> list[str]:
    """Sentences and table rows: lines a PDF wrapped mid-sentence are joined back, long
    paragraphs split at sentence ends, and a table row (a line of figures) stays one line."""
    blocks: list[str] = []
    for line in (ln.strip() for ln in text.split("\n")):
        if not line:
            continue
        if blocks and (line[0].islower()
                       or (len(blocks[-1]) > 80 and not _SENT_END.search(blocks[-1]))):
            blocks[-1] += " " + line
        else:
            blocks.append(line)
    out: list[str] = []
    for b in blocks:
        out.extend(p for p in (_SENT_SPLIT.split(b) if len(b) > 200 else [b]) if p.strip())
    return out


def _is_year_header(seg: str) -> bool:
    years = _YEAR_RE.findall(seg)
    return len(years) >= 2 and len(re.findall(r"\d", seg)) <= 4 * len(years) + 2


def term_weights(question: str, texts: list[str], lexicon: Lexicon = FINANCE
                 ) -> dict[str, float]:
    """The question's search words (with the `lexicon` phrasings of its terms), each weighted
    by how rare it is among the passages' segments."""
    terms = set(tokenize(expand_query(plan_query(question, lexicon).core, lexicon)))
    segs = [set(tokenize(s)) for t in texts for s in segments(t)]
    n = len(segs) or 1
    return {t: math.log(1 + n / (1 + sum(t in s for s in segs))) for t in terms}


def focus(text: str, weights: dict[str, float], budget: int = FOCUS_CHARS) -> str:
    """The passage cut to its segments that share the most weight with the question (in
    their order, gaps marked), keeping the first header of years a table row needs."""
    segs = segments(text)
    if sum(len(s) for s in segs) <= budget:
        return text
    scores = [sum(weights.get(t, 0.0) for t in set(tokenize(s))) for s in segs]
    if not any(scores):
        return text[:budget].rsplit(" ", 1)[0] + " " + GAP
    keep: set[int] = set()
    header = next((i for i, s in enumerate(segs[:-1]) if _is_year_header(s)), None)
    if header is not None:
        keep.add(header)
    used = sum(len(segs[i]) for i in keep)
    for i in sorted(range(len(segs)), key=lambda i: -scores[i]):
        if scores[i] <= 0:
            break
        if used + len(segs[i]) > budget and len(keep - {header}) >= 1:
            continue
        keep.add(i)
        used += len(segs[i])
    out: list[str] = []
    last = -1
    for i in sorted(keep):
        if i != last + 1:
            out.append(GAP)
        out.append(segs[i])
        last = i
    if last < len(segs) - 1:
        out.append(GAP)
    return "\n".join(out)


def label_rows(text: str) -> str:
    """Table rows under a header of years, each figure labelled with its column's year."""
    out: list[str] = []
    years: list[str] | None = None
    for line in text.split("\n"):
        if _is_year_header(line):
            years = _YEAR_RE.findall(line)
            out.append(line)
            continue
        m = _ROW_RE.match(line)
        if years and m:
            cells = _CELL_RE.findall(m.group("cells"))
            if len(cells) == len(years):
                line = (m.group("label").rstrip(" $") + ": "
                        + "; ".join(f"{y}: {c.replace('$ ', '$')}" for y, c in zip(years, cells)))
        out.append(line)
    return "\n".join(out)


def glossary_note(question: str, lexicon: Lexicon = FINANCE) -> str:
    """A line telling the model how filings write the analyst terms the question uses (the
    terms of `lexicon`: none with the empty one)."""
    terms = glossary_terms(plan_query(question, lexicon).core, lexicon)
    if not terms:
        return ""
    return "Note: " + "; ".join(f"'{a}' is written '{b}' in filings" for a, b in terms) + ".\n"


# -- how much the model is shown: fewer, shorter passages when the question is narrow ---------

NARROW_CHARS = 300
"""Per-passage budget when the question asks for one figure or fact."""

NARROW_PASSAGES = 4
"""At most this many passages when the question is narrow (the others are still evidence)."""

PASSAGE_FLOOR = 0.4
"""A passage whose best sentence scores below this share of the best passage's best sentence
is left out of the prompt (never the top-ranked one): it barely bears on the question."""

_BROAD_RE = re.compile(
    r"\b(?:why|explain\w*|drove|driv(?:e|es|ers?|ing)|reasons?|summar\w*|describe|discuss\w*|"
    r"compare\w*|comparison|trends?|impact\w*|affect\w*|outlook|risks?|strateg\w*|overview|"
    r"complain\w*|themes?|decid\w*|decisions?|list|what are|how did|how has|how have|"
    r"pros|cons|versus|vs\.?)\b", re.IGNORECASE)


def is_narrow(question: str, lexicon: Lexicon = FINANCE) -> bool:
    """The question asks for one figure or fact ('What was the FY2018 capex?'), not an
    explanation, a comparison or a list, which need more of each passage."""
    core = plan_query(question, lexicon).core
    return not _BROAD_RE.search(core) and core.count("?") <= 1


def best_segment_score(text: str, weights: dict[str, float]) -> float:
    """The weight the passage's best sentence or row shares with the question."""
    return max((sum(weights.get(t, 0.0) for t in set(tokenize(s))) for s in segments(text)),
               default=0.0)


def select(question: str, texts: list[str], weights: dict[str, float],
           lexicon: Lexicon = FINANCE) -> list[tuple[int, int]]:
    """Which passages the model sees, by their index among `texts` (in rank order), each with
    its character budget: for a narrow question the top-ranked passage and those whose best
    sentence bears on the question nearly as much, at most `NARROW_PASSAGES`, each cut to
    `NARROW_CHARS`; for a broad one every passage at `FOCUS_CHARS`."""
    if not texts:
        return []
    if not is_narrow(question, lexicon):
        return [(i, FOCUS_CHARS) for i in range(len(texts))]
    scores = [best_segment_score(t, weights) for t in texts]
    best = max(scores)
    keep = [0] + [i for i in range(1, len(texts))
                  if best > 0 and scores[i] >= PASSAGE_FLOOR * best]
    keep = sorted(sorted(keep, key=lambda i: (i != 0, -scores[i]))[:NARROW_PASSAGES])
    return [(i, NARROW_CHARS) for i in keep]
