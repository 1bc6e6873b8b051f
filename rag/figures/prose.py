"""Changes stated in prose as a pair of figures, computed by code.

Guidance and filings often state a change as two figures and leave the difference unsaid:
"we now expect EPS to increase 9 percent (previously 8 percent)", "raised the dividend from
$1.15 to $1.265", "lowered the outlook to $4.1 billion from $4.3 billion". A question asking
"by how much" gets the difference computed here, exactly, with both figures cited verbatim in
their sentence. The model never does this subtraction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rag.figures.values import fmt_decimal
from rag.retrieve import tokenize
from rag.text.numbers import CURRENCY, NUMBER, is_rate_unit
from rag.text.sentences import CLAUSES
from rag.types import Chunk

_NUM = rf"{CURRENCY}?\s?{NUMBER}"
_UNIT = (r"(?:\s?(?:%|(?:percent(?:age points?)?|pp|basis points|bps|million|billion|thousand)"
         r"(?![a-z])))?")
_FIG = rf"(?:{_NUM}{_UNIT})"
_PAIRS = (
    # '9 percent (previously 8 percent)', '$4.2 billion (prior guidance: $4.0 billion)'
    re.compile(rf"(?P<new>{_FIG})\s*\((?:previously|prior(?: guidance| outlook)?:?|from|"
               rf"compared (?:with|to)|vs\.?|versus|was)\s+(?P<old>{_FIG})\)", re.IGNORECASE),
    # 'from 6% to 8%', 'from $1.15 per share to $1.265'
    re.compile(rf"\bfrom\s+(?:a\s+)?(?:range of\s+)?(?P<old>{_FIG})(?:\s+per share)?\s+to\s+"
               rf"(?P<new>{_FIG})", re.IGNORECASE),
    # 'to $4.1 billion from $4.3 billion'
    re.compile(rf"\bto\s+(?P<new>{_FIG})(?:\s+per share)?,?\s+from\s+(?P<old>{_FIG})",
               re.IGNORECASE),
)
# Words that never say what a stated change is about: the talk of changing and of the period
# (tokenize already leaves out the search stopwords, rag.text.stopwords.SEARCH).
_STOP = frozenset(tokenize(
    "many much his her percentage points point raise raised increase increased lower lowered "
    "change changed full year fy guidance outlook respect regard company"))


@dataclass(frozen=True)
class ProseChange:
    """One change computed from a pair of figures in a sentence of a passage."""

    chunk: Chunk
    sentence: str
    subject: str  # the words before the pair ("core constant currency EPS to increase")
    old_text: str
    new_text: str
    result: Decimal
    result_text: str
    formula: str


def _value(fig: str) -> tuple[Decimal, str] | None:
    """(value, unit) of a printed figure; unit 'pct', or the money scale word ('' if none)."""
    m = re.match(rf"({CURRENCY}?)\s?({NUMBER})\s?(.*)$", fig.strip())
    if not m:
        return None
    try:
        v = Decimal(m.group(2).replace(",", ""))
    except InvalidOperation:
        return None
    tail = m.group(3).lower().strip()
    if is_rate_unit(tail):
        if tail.startswith(("basis", "bps")):
            return v / 100, "pct"
        return v, "pct"
    return v, (m.group(1) or "") + tail


def _same_unit(a: str, b: str) -> str | None:
    if a == b:
        return a
    if a == "pct" or b == "pct":  # '8 percent (previously 6)': the unit is said once
        return "pct" if "" in (a, b) else None
    sa, sb = a.lstrip("$€£"), b.lstrip("$€£")
    if not sa or not sb or sa == sb:  # '$1.15 to $1.265 billion' / '$4.1 billion from $4.3'
        return (a if len(a) >= len(b) else b)
    return None


def _words(text: str) -> set[str]:
    return {w for w in tokenize(text) if w not in _STOP and not w.isdigit()}


def changes_in(chunk: Chunk) -> list[ProseChange]:
    """Every pair of figures stated as a change in the chunk, with the difference."""
    out: list[ProseChange] = []
    text = " ".join(chunk.text.split())
    for sent in CLAUSES.pieces(text):
        if len(sent) < 12:
            continue
        last = 0
        found = sorted((m for pat in _PAIRS for m in pat.finditer(sent)), key=lambda m: m.start())
        for m in found:
            if m.start() < last:
                continue
            old, new = _value(m.group("old")), _value(m.group("new"))
            if old is None or new is None:
                continue
            unit = _same_unit(old[1], new[1])
            if unit is None:
                continue
            diff = new[0] - old[0]
            places = max(_places(m.group("old")), _places(m.group("new")))
            if unit == "pct":
                n = fmt_decimal(abs(diff), places)
                result_text = f"{n} percentage point{'' if abs(diff) == 1 else 's'}"
            else:
                cur = next((c for c in "$€£" if c in unit), "")
                scale = unit.lstrip("$€£").strip()
                result_text = f"{cur}{fmt_decimal(abs(diff), places)}" + (f" {scale}" if scale
                                                                           else "")
            sign = "an increase" if diff > 0 else "a decrease" if diff < 0 else "no change"
            formula = (f"{m.group('new').strip()} - {m.group('old').strip()} = "
                       f"{'-' if diff < 0 else ''}{result_text} ({sign})")
            out.append(ProseChange(chunk, sent.strip(), sent[last:m.start()].strip(" ,;"),
                                   m.group("old").strip(), m.group("new").strip(), diff,
                                   result_text, formula))
            last = m.end()
    return out


def _places(fig: str) -> int:
    m = re.search(r"\.(\d+)", fig)
    return len(m.group(1)) if m else 0


def change_for(question: str, chunks: list[Chunk]) -> ProseChange | None:
    """The stated change whose subject best matches the question ('by how many percentage
    points did PepsiCo raise guidance for core constant currency EPS growth?'), or None when no
    pair's own words name what the question asks about."""
    want = _words(question)
    if not want:
        return None
    best: tuple[float, int, ProseChange] | None = None
    for rank, chunk in enumerate(chunks):
        for ch in changes_in(chunk):
            subj = _words(ch.subject)
            near = len(want & subj)
            if near == 0:
                continue
            score = near + 0.25 * len(want & _words(ch.sentence))
            key = (score, -rank)
            if best is None or key > (best[0], best[1]):
                best = (score, -rank, ch)
    if best is None or best[0] < 1.25:
        return None
    return best[2]
