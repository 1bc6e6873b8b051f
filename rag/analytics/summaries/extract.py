"""Pattern extraction over a document's chunks: figures, guidance, action items and cue sentences.

Everything here is deterministic and verbatim: a figure's value, a guidance range and an action
item's due date are substrings of the sentence they came from, and that sentence is a substring
of its chunk, so a small model can never put a number into a table. The sentences are also the
candidates the brief's sections (drivers, risks, questions, decisions...) are built from.

Which metrics the tables name and which words set the tone are the workspace's `Lexicon`
(finance by default), passed in: a workspace of other documents is not read as an earnings call.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text.lexicon import FINANCE, Lexicon
from rag.text.numbers import CURRENCY, NUMBER
from rag.text.sentences import SUMMARY
from rag.text.stopwords import CONVERSATION
from rag.types import Chunk

# -- sentences ---------------------------------------------------------------------------------

_LINE_SPEAKER = re.compile(r"^(?P<speaker>[^:\n]{1,60}):\s+")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a chunk: the exact text, its chunk, its speaker and its position."""

    text: str
    chunk: int  # index into the chunk list
    speaker: str | None
    index: int  # position in the whole document, 0-based


def sentences(chunks: Sequence[Chunk]) -> list[Sentence]:
    """Every sentence of every chunk, in document order, each an exact substring of its chunk."""
    out: list[Sentence] = []
    for ci, c in enumerate(chunks):
        speakers = set((c.speakers or "").strip("|").split("|")) - {""}
        for line in c.text.split("\n"):
            line = line.strip()
            if not line:
                continue
            speaker = None
            m = _LINE_SPEAKER.match(line)
            if m and (m.group("speaker") in speakers or (c.kind == "transcript" and not speakers)):
                speaker = m.group("speaker")
                line = line[m.end():]
            elif c.kind == "transcript" and len(speakers) == 1:
                speaker = next(iter(speakers))
            for s in SUMMARY.split(line):
                if re.search(r"[A-Za-z]", s):
                    out.append(Sentence(s, ci, speaker, len(out)))
    return out


# -- numbers -----------------------------------------------------------------------------------

_SCALE = r"(?:thousand|million|billion|trillion|mn|bn|[mMbBkK](?![A-Za-z]))"
_AMOUNT = (r"(?:" + CURRENCY + r"\s?" + NUMBER + r"(?:\s?" + _SCALE + r")?"
           r"|" + NUMBER + r"\s?(?:%|percent\b|per\s?cent\b|basis points?\b|bps\b|bp\b)"
           r"|" + NUMBER + r"\s(?:million|billion|thousand)\b"
           r"|\d+\.\d+\s?x\b)")
VALUE_RE = re.compile(r"(?<![\w.])(?:negative\s|minus\s|-)?" + _AMOUNT)
_RANGE_RE = re.compile(
    r"(?:between\s+)?(?P<lo>" + VALUE_RE.pattern + r"|" + NUMBER + r")"
    r"\s*(?:to|-|–|—|and)\s*(?P<hi>" + VALUE_RE.pattern + r")")


def unit_of(value: str, after: str = "") -> str:
    """'$412.6 million' -> 'USD million', '41.3%' -> '%', '$0.34' + ' per share' -> 'USD/share'."""
    v = value.lower()
    cur = "USD" if "$" in v else "EUR" if "€" in v else "GBP" if "£" in v else ""
    if re.search(r"%|percent|per\s?cent", v):
        return "%"
    if re.search(r"basis point|bps|\dbp\b|\sbp\b", v):
        return "bps"
    if re.search(r"\d\s?x$", v):
        return "x"
    scale = ""
    m = re.search(_SCALE + r"$", value.strip())
    if m:
        s = m.group(0).lower()
        scale = {"m": "million", "mn": "million", "b": "billion", "bn": "billion",
                 "k": "thousand"}.get(s, s)
    if re.match(r"\s*(?:per\s+(?:diluted\s+|basic\s+|common\s+)?share|a\s+share)", after,
                re.IGNORECASE):
        return f"{cur or 'USD'}/share"
    return " ".join(x for x in (cur, scale) if x) or "number"


def amount(value: str) -> float | None:
    """The number a value states, in its own unit's scale ('$1.2 billion' -> 1.2e9)."""
    m = re.search(NUMBER, value)
    if not m:
        return None
    x = float(m.group(0).replace(",", ""))
    low = value.lower()
    for word, mult in (("trillion", 1e12), ("billion", 1e9), ("bn", 1e9), ("million", 1e6),
                       ("mn", 1e6), ("thousand", 1e3)):
        if word in low:
            x *= mult
            break
    else:
        t = re.search(r"\d\s?([mbk])$", value.strip(), re.IGNORECASE)
        if t:
            x *= {"m": 1e6, "b": 1e9, "k": 1e3}[t.group(1).lower()]
    if re.match(r"\s*(?:negative|minus|-)", low):
        x = -x
    return x


# -- metrics and periods ----------------------------------------------------------------------

# The metrics themselves (their patterns, which are growth figures, the table's order) are the
# workspace's lexicon (rag.text.lexicon): the finance one unless the workspace chose another.
_QUALIFIERS = re.compile(r"\b(adjusted|non-GAAP|GAAP|diluted|organic|core|total|"
                         r"reported|underlying|consolidated)\b", re.IGNORECASE)
# A segment or product name right before the metric ("Software and services revenue") is
# kept; these words end the walk back.
_SEGMENT_STOP = {"the", "our", "a", "an", "and", "of", "in", "for", "total", "its", "their",
                 "this", "that", "with", "we", "q1", "q2", "q3", "q4", "quarter", "year",
                 "first", "second", "third", "fourth", "full", "fiscal", "so", "but", "as",
                 "adjusted", "gaap", "non-gaap", "reported", "diluted", "company", "which",
                 "while", "both", "was", "were", "is", "are", "also", "at", "on", "by",
                 "to", "from", "or", "then", "there", "it", "when", "because", "all", "your",
                 "his", "her", "since", "expect", "expects", "expected", "now", "still",
                 "grew", "grow", "grows", "delivered", "saw", "see", "sees",
                 "generated", "had", "have", "has", "achieved", "posted", "increased",
                 "decreased", "drove", "drive", "improved", "expanded", "guide", "guiding",
                 "including", "includes", "excluding", "million", "billion", "thousand",
                 "percent", "plus", "whereas", "where"}

_ADJECTIVES = frozenset((
    "strong", "record", "higher", "lower", "solid", "healthy", "robust", "good", "great",
    "weak", "softer", "stronger", "better", "worse", "overall", "quarterly", "annual",
    "annualized", "sequential", "recurring", "our",
))

_ORD = r"(?:first|second|third|fourth|1st|2nd|3rd|4th)"
_YEAR = r"(?:(?:19|20)\d{2})"
PERIOD_RE = re.compile(
    rf"\b(?:(?:the\s+)?{_ORD}\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?{_YEAR})?"
    rf"|Q[1-4](?:\s*(?:FY)?'?\s*(?:{_YEAR}|\d{{2}}\b))?"
    rf"|(?:full[- ]year|fiscal(?: year)?|FY|calendar(?: year)?)\s*'?(?:{_YEAR}|\d{{2}}\b)"
    rf"|(?:the\s+)?full[- ]year|(?:the\s+)?(?:first|second)\s+half"
    rf"(?:\s+of\s+{_YEAR})?|(?:for\s+)?{_YEAR}"
    rf"|(?:the\s+)?(?:current|next|last|prior|year-ago|same)\s+(?:quarter|year|period)"
    rf"|(?:the\s+)?quarter|(?:the\s+)?year)\b",
    re.IGNORECASE,
)
_BAD_PERIOD = re.compile(r"^(?:the\s+)?(?:year|quarter|[a-z]+)$", re.IGNORECASE)


_ORD_N = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
          "4th": 4}


def _clean_period(p: str, default: str | None = None) -> str:
    """'the second quarter' -> 'Q2 2026' when the document is about Q2 2026, else 'Q2'."""
    p = re.sub(r"^(?:the|for)\s+", "", p.strip(), flags=re.IGNORECASE)
    m = re.fullmatch(rf"({_ORD})\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?({_YEAR}))?",
                     p, re.IGNORECASE)
    if m:
        q = f"Q{_ORD_N[m.group(1).lower()]}"
        if m.group(2):
            return f"{q} {m.group(2)}"
        if default and default.startswith(q + " "):
            return default
        return q
    return p


def doc_period(name: str, chunks: Sequence[Chunk]) -> str | None:
    """The reporting period a document is about: 'Q2 2026' from its name or its opening."""
    m = re.search(r"\bq([1-4])[_\s-]*(?:fy)?'?((?:19|20)?\d{2})\b", name, re.IGNORECASE)
    if m:
        y = m.group(2)
        return f"Q{m.group(1)} {y if len(y) == 4 else '20' + y}"
    head = " ".join(c.text for c in chunks[:2])[:1500]
    m = re.search(rf"\b({_ORD})\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+)?({_YEAR}))?", head,
                  re.IGNORECASE)
    if m:
        q = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4}[m.group(1).lower()]
        year = m.group(2) or (y.group(0) if (y := re.search(_YEAR, head)) else "")
        return f"Q{q} {year}".strip()
    m = re.search(rf"\bQ([1-4])\s*(?:FY)?\s*({_YEAR})", head)
    if m:
        return f"Q{m.group(1)} {m.group(2)}"
    return None


def _period_near(text: str, start: int, end: int, default: str | None = None) -> str | None:
    """The period expression closest to a value (prefer one in its own clause)."""
    best, dist = None, 10**9
    for m in PERIOD_RE.finditer(text):
        p = m.group(0)
        if _BAD_PERIOD.match(p.strip()) and not re.search(r"\d|half|full|quarter", p, re.IGNORECASE):
            continue
        if re.fullmatch(r"(?:the\s+)?(?:quarter|year)", p.strip(), re.IGNORECASE):
            continue  # "the quarter" says nothing a reader can use
        if re.match(r"(?:the\s+)?(?:prior|last|previous|year-ago|same)\b", p.strip(),
                    re.IGNORECASE):
            continue  # "the prior year" is the period of a comparison
        d = start - m.end() if m.end() <= start else m.start() - end if m.start() >= end else 0
        if m.end() <= start:
            between = text[m.end():start]
        else:
            between = text[end:m.start()]
        after_value = m.start() >= end
        if re.search(r";", between) or after_value and re.search(
                r"\bcompared\b|\bversus\b|\bvs\b|\bfrom\b|\blast year\b|\bago\b|\bup\b|"
                r"\bdown\b", between) or re.search(
                         r"\b(?:from|versus|vs\.?|with|than|over|against)\s+(?:the\s+)?$", text[:m.start()]):
            continue  # the period of a comparison, not of this value
        if d < dist:
            best, dist = p, d
    return _clean_period(best, default) if best and dist < 260 else None


_LINK = re.compile(
    r"(?:^|\b)(?:was|were|is|are|of|at|reached|totall?ed|came in at|to|grew|rose|increased|"
    r"decreased|declined|fell|expanded|improved|contracted|stood at|amounted to|hit|"
    r"reported|delivered|generated|achieved|posted|grew by|up|down|came to|landed at|of about)"
    r"\s*(?:(?:approximately|about|roughly|around|nearly|almost|over|just|some|a record(?: of)?|"
    r"an?|by|to|only|therefore|thus|again|also|now|still|then|once again)\s+)*$|[:\-–(]\s*$|^\s*,?\s*$", re.IGNORECASE)


def _metric_before(text: str, start: int, window: int = 90, link: bool = True,
                   lexicon: Lexicon = FINANCE) -> tuple[str, str] | None:
    """(display name, canonical name) of the `lexicon` metric named closest before `start`."""
    lo = max(0, start - window)
    seg = text[lo:start]
    last = None
    for m in lexicon.metrics_re.finditer(seg):
        last = m
    if last is None:
        return None
    # A value between the metric and this one took the metric already, unless this one
    # restates it ("$33.0 million, or $0.34 per diluted share").
    between = seg[last.end():]
    if VALUE_RE.search(between) and not re.search(r",?\s*or\s*$", between):
        return None
    if len(between) > 75 and not re.search(r",[^,]{0,60},", between):
        return None  # too far: the value belongs to something said later
    restated = bool(VALUE_RE.search(between)) and re.search(r",?\s*or\s*$", between)
    if link and not restated and not _LINK.search(between):
        return None  # "a fifth of revenue, a 5% move in the euro": not the metric's value
    phrase = last.group(0)
    canon = next(name for rx, name in lexicon.metric_patterns if rx.fullmatch(phrase))
    before = text[max(0, lo + last.start() - 60):lo + last.start()]
    quals = [q.group(0) for q in _QUALIFIERS.finditer(before[-30:])]
    tail = re.split(r"[^\w&\s'-]", before)[-1].split()[-3:]
    seg_words: list[str] = []
    for w in reversed(tail):  # walk back from the metric until a word that is no name
        if w.lower() in _SEGMENT_STOP - {"and"} or w.lower() in _ADJECTIVES or w[0].isdigit():
            break
        seg_words.insert(0, w)
    while seg_words and seg_words[0].lower() in ("and", "&"):
        seg_words.pop(0)
    name = " ".join(dict.fromkeys([*quals, *seg_words, phrase])).strip()
    return name, canon


# -- figures and guidance ------------------------------------------------------------------------

_CHANGE_CUE = re.compile(
    r"\b(?:up|down|an?\s+(?:increase|decrease|decline|improvement|reduction|rise|drop)\s+of|"
    r"(?:increased|decreased|grew|rose|fell|declined|expanded|contracted|improved)(?:\s+by)?|"
    r"growth of|compared (?:with|to)|versus|vs\.?|from)\s", re.IGNORECASE)
_CHANGE_AFTER = re.compile(
    r"(?:,\s*|\s+)(?P<chg>(?:(?:an?\s+)?(?:increase|decrease|decline|improvement|reduction|"
    r"rise|drop|growth)\s+of\s+|up\s+|down\s+|compared\s+(?:with|to)\s+|versus\s+|vs\.?\s+|"
    r"(?:increased|decreased|grew|rose|fell|declined|expanded|contracted|improved)\s+(?:by\s+)?|"
    r"representing\s+(?:an?\s+)?|from\s+)(?:[^,;.]|\.(?=\d))"
    r"{0,80}?(?=[,;]|\.(?!\d)|\band\b(?!\s+\d)|$))", re.IGNORECASE)
_CHANGE_BEFORE = re.compile(
    r"(?P<chg>(?:an?\s+)?(?:\d[\d,.]*\s?(?:%|percent|basis points|bps))\s+(?:year[- ]over[- ]year\s+)?"
    r"(?:increase|decrease|decline|improvement|reduction|rise|drop|growth|gain))\s+(?:in|of)\s+$",
    re.IGNORECASE)
_FORWARD = re.compile(
    r"\b(?:expect\w*|guidance|outlook|forecast\w*|anticipat\w+|project(?:s|ed|ing|ion)s?|"
    r"target(?:s|ing)?|we see|will be|should be|plan to|intend\w*|estimate\w*|"
    r"reaffirm\w*|reiterat\w*|rais(?:e|es|ed|ing) (?:our|the|its)|narrow\w*)\b",
    re.IGNORECASE)
_PAST_EXPECT = re.compile(r"\b(?:than|as|of) (?:we |had )?(?:expected|anticipated|forecast)\b",
                          re.IGNORECASE)
_DIRECTIONS = (
    ("raised", re.compile(r"\b(?:rais\w*|increas\w*|lift\w*|boost\w*|improv\w*|up(?:grad\w*)?)"
                          r"\b[^.;]{0,45}\b(?:guidance|outlook|forecast|range|expectations?|"
                          r"targets?)\b|\b(?:guidance|outlook|forecast|range)\b[^.;]{0,30}\b"
                          r"(?:raised|increased|higher)\b", re.IGNORECASE)),
    ("lowered", re.compile(r"\b(?:lower\w*|reduc\w*|cut\w*|trim\w*|decreas\w*|revis\w* down)"
                           r"\b[^.;]{0,45}\b(?:guidance|outlook|forecast|range|expectations?|"
                           r"targets?)\b|\b(?:guidance|outlook|forecast|range)\b[^.;]{0,30}\b"
                           r"(?:lowered|reduced|cut)\b", re.IGNORECASE)),
    ("held", re.compile(r"\b(?:reaffirm\w*|reiterat\w*|maintain\w*|hold\w*|holding|confirm\w*|"
                        r"unchanged|keep\w*|remains?)\b[^.;]{0,45}\b(?:guidance|outlook|"
                        r"forecast|range|expectations?|targets?)\b|\b(?:guidance|outlook|"
                        r"target)\b[^.;]{0,30}\b(?:unchanged|maintained|reaffirmed|intact)\b",
                        re.IGNORECASE)),
)
_PRIOR_CUE = re.compile(r"\b(?:from|prior|previous(?:ly)?|earlier|versus|vs\.?|compared)\b"
                        r"[^$€£\d]{0,35}$", re.IGNORECASE)


_PER = r"(?:\s+per\s+(?:diluted\s+|basic\s+|common\s+)?share)?"
# "... decreased 28% year-over-year from $561 million to $404 million": the value after "to"
# is the figure, what comes before it is its change.
_TO_RE = re.compile(
    r"(?P<chg>(?:(?:increas\w*|decreas\w*|grew|rose|fell|declin\w*|up|down|improv\w*|"
    r"expand\w*|contract\w*|jump\w*|climb\w*|drop\w*)\s+(?:by\s+)?(?:" + _AMOUNT + r")"
    r"(?:\s+(?:year[- ]over[- ]year|sequentially|y/y|yoy))?"
    r"(?:,?\s+from\s+(?:" + _AMOUNT + r")" + _PER + r")?"
    r"|from\s+(?:" + _AMOUNT + r")" + _PER + r"))\s+to\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    metric: str
    canonical: str
    period: str | None
    value: str
    unit: str
    change: str | None
    sentence: Sentence
    start: int  # offset of the value in the sentence


@dataclass(frozen=True)
class Guidance:
    metric: str
    canonical: str
    period: str | None
    value: str
    direction: str  # raised | lowered | held | given
    prior: str | None
    sentence: Sentence


def _trim_change(chg: str) -> str | None:
    chg = chg.strip().rstrip(",;")
    if not re.search(r"\d", chg):  # "up from last year" with no number: not a change figure
        return None
    return chg[:120]


def figures(sents: Sequence[Sentence], default_period: str | None = None,
            limit: int = 60, lexicon: Lexicon = FINANCE) -> tuple[list[Figure], list[Guidance]]:
    """Values next to the `lexicon`'s metric words: reported figures, and forward-looking
    guidance (none when it names no metrics)."""
    figs: list[Figure] = []
    guides: list[Guidance] = []
    seen: set[tuple[str, str]] = set()
    seen_g: set[tuple[str, str]] = set()
    for s in sents:
        text = s.text
        if not VALUE_RE.search(text):
            continue
        if _FORWARD.search(text) and not _PAST_EXPECT.search(text):
            direction = next((d for d, rx in _DIRECTIONS if rx.search(text)), "given")
            consumed = _range_guidance(s, direction, default_period, guides, seen_g, lexicon)
            _single_guidance(s, direction, default_period, guides, seen_g, consumed, lexicon)
            continue  # a forward-looking sentence states no reported figures
        _reported_figures(s, default_period, figs, seen, lexicon)
    figs.sort(key=lambda f: (lexicon.metric_rank(f.canonical), f.sentence.index, f.start))
    return figs[:limit], guides[:limit]


def _range_guidance(s: Sentence, direction: str, default_period: str | None,
                    guides: list[Guidance], seen_g: set[tuple[str, str]],
                    lexicon: Lexicon = FINANCE) -> list[tuple[int, int]]:
    """Guidance given as a range ("$210 to $215 million") in a forward-looking sentence,
    appended to `guides`; returns the spans the ranges take."""
    text = s.text
    consumed: list[tuple[int, int]] = []
    for m in _RANGE_RE.finditer(text):
        lo_v = m.group("lo")
        if not re.search(r"[$€£%]|percent|basis|bps|million|billion", lo_v + m.group("hi"),
                         re.IGNORECASE):
            continue
        consumed.append((m.start(), m.end()))
        value = m.group(0)
        # "... to $1.68 billion to $1.72 billion, from our prior range of $1.62 billion to
        # $1.67 billion": the range after a prior cue is the previous range's prior (checked
        # before the metric: the range in between took the metric word already).
        if _PRIOR_CUE.search(text[max(0, m.start() - 40):m.start()]) and guides \
                and guides[-1].sentence == s and guides[-1].prior is None:
            last = guides[-1]
            guides[-1] = Guidance(last.metric, last.canonical, last.period, last.value,
                                  last.direction if last.direction != "given"
                                  else _compare(last.value, value), value, s)
            continue
        met = _metric_before(text, m.start(), window=110, link=False, lexicon=lexicon)
        if met is None:
            continue
        key = (met[1], value)
        if key in seen_g:
            continue
        seen_g.add(key)
        period = _period_near(text, m.start(), m.end(), default_period)
        guides.append(Guidance(met[0], met[1], period or "outlook", value, direction,
                               None, s))
    return consumed


def _single_guidance(s: Sentence, direction: str, default_period: str | None,
                     guides: list[Guidance], seen_g: set[tuple[str, str]],
                     consumed: list[tuple[int, int]], lexicon: Lexicon = FINANCE) -> None:
    """A single forward value: "we now expect ARR above $215 million" (outside `consumed`)."""
    text = s.text
    for m in VALUE_RE.finditer(text):
        if any(a <= m.start() < b for a, b in consumed):
            continue
        pre = text[max(0, m.start() - 40):m.start()]
        if not re.search(r"\b(?:of|at|to|above|below|approximately|about|around|"
                         r"roughly|least|exceed|over|be|reach)\s*$", pre, re.IGNORECASE):
            continue
        if _PRIOR_CUE.search(pre):
            continue
        met = _metric_before(text, m.start(), window=80, link=False, lexicon=lexicon)
        if met is None:
            continue
        key = (met[1], m.group(0))
        if key in seen_g:
            continue
        seen_g.add(key)
        consumed.append((m.start(), m.end()))
        qual = re.search(r"\b(above|below|approximately|about|around|roughly|at least|"
                         r"over|more than|less than)\s*$", pre, re.IGNORECASE)
        value = (text[m.start() - len(qual.group(0)):m.end()] if qual else m.group(0))
        guides.append(Guidance(met[0], met[1],
                               _period_near(text, m.start(), m.end(), default_period) or "outlook",
                               value.strip(), direction, None, s))


def _reported_figures(s: Sentence, default_period: str | None, figs: list[Figure],
                      seen: set[tuple[str, str]], lexicon: Lexicon = FINANCE) -> None:
    """The reported figures of a sentence (value, unit, change, period), appended to `figs`."""
    text = s.text
    consumed: list[tuple[int, int]] = []
    for m in VALUE_RE.finditer(text):
        if any(a <= m.start() < b for a, b in consumed):
            continue
        pre = text[max(0, m.start() - 30):m.start()]
        to = _TO_RE.search(text[max(0, m.start() - 110):m.start()])
        change = None
        if to is not None:
            chg_start = m.start() - (len(text[max(0, m.start() - 110):m.start()])
                                     - to.start("chg"))
            met = _metric_before(text, chg_start, lexicon=lexicon)
            change = _trim_change(to.group("chg"))
        else:
            if _CHANGE_CUE.search(pre[-24:]) and re.search(
                    r"(?:up|down|of|by|with|to|versus|vs\.?|from)\s*$", pre, re.IGNORECASE):
                continue  # the change of an earlier value, not a figure of its own
            met = _metric_before(text, m.start(), lexicon=lexicon)
        if met is None:
            continue
        value = m.group(0).strip()
        after = text[m.end():]
        unit = unit_of(value, after)
        if met[1] == "EPS" and unit.startswith(("USD", "EUR", "GBP")) and "/" not in unit:
            unit = unit.split()[0] + "/share"
        if unit.endswith("/share") and met[1] in ("net income", "revenue"):
            met = (re.sub(r"net income|net earnings|net profit", "EPS", met[0],
                          flags=re.IGNORECASE) if met[1] == "net income" else "EPS", "EPS")
        per = re.match(_PER, after)  # always matches (optional): "$0.34 per diluted share, ..."
        skip = per.end() if per else 0
        ca = None if change else _CHANGE_AFTER.match(after[skip:])
        if ca:
            change = _trim_change(ca.group("chg"))
            if change:
                consumed.append((m.end(), m.end() + skip + ca.end()))
        if change is None:
            cb = _CHANGE_BEFORE.search(text[max(0, m.start() - 80):m.start()])
            if cb:
                change = _trim_change(cb.group("chg"))
        share = _SHARE_OF.match(after[skip:]) if unit == "%" else None
        if share:  # "$136.8 million, or 33.2% of revenue": a share, not a growth
            met = (f"{met[0]} (% of {share.group('of').lower()})",
                   f"{met[1]} share of {share.group('of').lower()}")
            if change is None:
                ca = _CHANGE_AFTER.match(after[skip + share.end():])
                if ca:
                    change = _trim_change(ca.group("chg"))
        elif unit == "%" and met[1] in lexicon.growth_metrics:
            met = (met[0] + " growth", met[1] + " growth")
        key = (met[1], value)  # the same value of the same metric is one figure
        if key in seen:
            continue
        seen.add(key)
        period = _period_near(text, m.start(), m.end(), default_period) or default_period
        figs.append(Figure(met[0], met[1], period, value, unit, change, s, m.start()))

_SHARE_OF = re.compile(r"\s+of\s+(?:total\s+|net\s+|our\s+)?(?P<of>revenues?|net sales|sales|"
                       r"GDP|income|assets|bookings)\b", re.IGNORECASE)


def _compare(new: str, old: str) -> str:
    a, b = _mid(new), _mid(old)
    if a is None or b is None:
        return "given"
    return "raised" if a > b * 1.0005 else "lowered" if a < b * 0.9995 else "held"


def _mid(rng: str) -> float | None:
    vals = [amount(v.group(0)) for v in VALUE_RE.finditer(rng)]
    nums = [v for v in vals if v is not None]
    if not nums:
        return None
    return sum(nums) / len(nums)


# -- action items ----------------------------------------------------------------------------------

_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
           r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
DUE_RE = re.compile(
    rf"\b(?:by|before|until|no later than|due|on)\s+(?:the\s+)?"
    rf"(?:{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?"
    rf"\s+(?:of\s+)?{_MONTHS}|{_DAYS}|(?:end of|close of)\s+(?:the\s+)?(?:day|week|month|"
    rf"quarter|sprint)|next\s+(?:week|month|meeting|{_DAYS})|tomorrow|tonight|"
    rf"(?:the\s+)?[A-Z][\w.-]*\s+date|\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|\bwithin\s+(?:a|one|two|three|\d+)\s+(?:days?|weeks?|months?)\b"
    rf"|\b(?:tomorrow|tonight|this afternoon|later today|end of (?:the )?(?:day|week|month)|"
    rf"next week|next meeting)\b",
    re.IGNORECASE)
_ACTION_VERBS = (
    "send|draft|write|prepare|share|schedule|set up|setup|follow up|check|look into|review|"
    "update|fix|finish|complete|deliver|build|create|design|test|run|contact|call|email|"
    "reach out|export|collect|gather|model|pick|circulate|organi[sz]e|book|investigate|"
    "analy[sz]e|document|draw|implement|present|report|ask|find|talk to|get|make|put together|"
    "send out|sort out|work on|take care of|handle|own|provide|coordinate|confirm|compile|"
    "summari[sz]e|research|estimate|evaluate|clean up|file|submit|order|buy|bring|email|do")
_ACTION_RE = re.compile(
    rf"(?P<who>\b(?:I|we|you|[A-Z][a-zà-ÿ]+(?:\s+and\s+(?:I|[A-Z][a-zà-ÿ]+))?)\b)"
    rf"(?:'ll|’ll|\s+will|\s+(?:is|are|am)\s+going\s+to|\s+(?:need|needs|have|has)\s+to|"
    rf"\s+(?:should|can|must)|\s+(?:to)|\s+take[s]?)?\s+"
    rf"(?:also\s+|then\s+|just\s+)?"
    rf"(?P<verb>(?:{_ACTION_VERBS})(?:e?s|ed|ing)?)\b(?P<rest>(?:[^.;?!]|\.(?=\d))*)",
    re.UNICODE)
_BARE_ACTION_RE = re.compile(
    rf"^\s*(?:then\s+|also\s+)?(?P<verb>(?:{_ACTION_VERBS})(?:e?s)?)\b"
    rf"(?P<rest>(?:[^.;?!]|\.(?=\d))*)")
_COMMIT = re.compile(r"'ll\b|’ll\b|\bwill\b|\bgoing to\b|\bneeds? to\b|\bhas to\b|\bhave to\b|"
                     r"\baction items?\b|\btake (?:that|it|this)\b|\bI'll take\b|\bowner\b|"
                     r"\bby\s+(?:" + _MONTHS + r"|" + _DAYS + r"|tomorrow|tonight|next|end|the)",
                     re.IGNORECASE)
_NOT_ACTION = re.compile(r"\?$|\b(?:would|could|might|maybe|if we|if you|I think we|"
                         r"should we|do we|did|was|were|had|last (?:week|time|quarter))\b",
                         re.IGNORECASE)


@dataclass(frozen=True)
class ActionItem:
    task: str
    owner: str | None
    due: str | None
    sentence: Sentence


def _resolve_owner(who: str, speaker: str | None, people: Sequence[str]) -> str | None:
    names = []
    for part in re.split(r"\s+and\s+", who):
        part = part.strip()
        if part == "I":
            if speaker:
                names.append(speaker)
        elif part.lower() in ("we", "you"):
            continue
        else:
            full = next((p for p in people if p == part or p.split()[0] == part), None)
            if full is None and people:
                return None  # a capitalised word that is no one at the meeting
            names.append(full or part)
    if not names:
        return None
    return ", ".join(dict.fromkeys(names))


def _item_clauses(text: str) -> list[tuple[int, str]]:
    """Split 'Grace exports X by Sep 19 and contacts Y by Sep 30' into two clauses."""
    out = []
    start = 0
    for m in re.finditer(rf",?\s+(?:and|then)\s+(?=(?:[a-z]+s|{_ACTION_VERBS})\b)|;\s+|"
                         r"\.\s+(?=[A-Z])", text):
        out.append((start, text[start:m.start()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def action_items(sents: Sequence[Sentence], people: Sequence[str] = (),
                 limit: int = 40) -> list[ActionItem]:
    """Commitments with an owner and maybe a due date: 'I'll send the deck by Friday'."""
    people = [p for p in people if p]
    rb = readback(sents)
    if rb is not None and rb.action_items:
        # The meeting's own read-back is the list: its items, then what was added after it
        # ("Did I miss anything?" "I'll take that"); earlier mentions only lend a due date.
        earlier = action_items(sents[:rb.start], people, limit)
        listed = set(rb.action_items)
        end = max(s.index for s in rb.action_items)
        got = _items_of([s for s in sents if s in listed], people, True) + \
            _items_of([s for s in sents if s.index > end], people, False, sents)
        out = _dedupe(got)
        for i, it in enumerate(out):
            if it.due is None:
                twin = next((e for e in earlier if e.due and e.owner == it.owner
                             and _similar(e.task, it.task) >= 0.5), None)
                if twin is not None:
                    out[i] = ActionItem(it.task, it.owner, twin.due, twin.sentence)
        return out[:limit]
    return _dedupe(_items_of(sents, people, False, sents))[:limit]


_TAKE_THAT = re.compile(r"\b(?:I'll|I will|I can|let me)\s+take\s+(?:that|it|this)(?:\s+one)?\b",
                        re.IGNORECASE)


def _items_of(sents: Sequence[Sentence], people: Sequence[str], in_list: bool,
              context: Sequence[Sentence] = ()) -> list[ActionItem]:
    """The action items said in these sentences (`in_list`: all of them are a read-out)."""
    items: list[ActionItem] = []
    whole = list(context) or list(sents)
    fixed = in_list
    for s in sents:
        text = s.text
        low = text.lower()
        if fixed:
            pass
        elif re.search(r"\baction items?\b", low):
            in_list = True
        elif s.speaker and items and items[-1].sentence.speaker != s.speaker and in_list \
                and s.index - items[-1].sentence.index > 3:
            in_list = False
        take = _TAKE_THAT.search(text)
        if take and s.index > 0:  # "I'll take that, by the GA date": the task said just before
            prev = whole[s.index - 1] if s.index - 1 < len(whole) and \
                whole[s.index - 1].index == s.index - 1 else None
            due_m = DUE_RE.search(text)
            if prev is not None and len(prev.text.split()) >= 4:
                task = re.sub(r"^(?:just|also|and|so)?\s*(?:that\s+)?", "", prev.text,
                              flags=re.IGNORECASE).rstrip(" .")
                items.append(ActionItem(task[:200], s.speaker,
                                        due_m.group(0) if due_m else None, s))
                continue
        if not (_COMMIT.search(text) or in_list):
            continue
        if _NOT_ACTION.search(text) and not in_list and not DUE_RE.search(text):
            continue
        prev_owner: str | None = None
        for i, (_off, clause) in enumerate(_item_clauses(text)):
            m = _ACTION_RE.search(clause)
            if m is not None:
                who = m.group("who")
                owner = _resolve_owner(who, s.speaker, people)
                if owner is None and who not in ("I", "we", "We", "you", "You"):
                    continue
                if owner is None and who in ("we", "We") and _COMMIT.search(clause):
                    owner = s.speaker  # "we'll contact them": the speaker's team
            else:  # "... and contact the top twenty sites": the subject of the clause before
                m = _BARE_ACTION_RE.match(clause) if i else None
                if m is None or prev_owner is None:
                    continue
                owner = prev_owner
            prev_owner = owner
            # Third-person present ("Grace exports") is an assignment only inside a read-out
            # of action items; otherwise a commitment word must be there.
            if not (_COMMIT.search(clause) or in_list or DUE_RE.search(clause)):
                continue
            task = (m.group("verb") + m.group("rest")).strip(" ,")
            if len(task.split()) < 2:
                continue
            due_m = DUE_RE.search(clause)
            due = due_m.group(0) if due_m else None
            items.append(ActionItem(task[:200], owner, due, s))
    return items


def _dedupe(items: list[ActionItem]) -> list[ActionItem]:
    """The same task said twice: keep the first mention with a due date."""
    out: list[ActionItem] = []
    for it in items:
        dup = next((i for i, o in enumerate(out) if _similar(o.task, it.task) >= 0.6
                    and o.owner == it.owner), None)
        if dup is None:
            out.append(it)
        elif out[dup].due is None and it.due is not None:
            out[dup] = it
    return out


# -- cue sentences for the prose sections -----------------------------------------------------

CUES = {
    "drivers": re.compile(
        r"\b(?:driven by|due to|thanks to|because of|as a result of|reflect(?:s|ed|ing)?|"
        r"primarily|mainly|largely|attributable to|contributed|led by|benefit(?:ed)? from|"
        r"fueled by|supported by|offset by|helped by|came (?:mainly |mostly )?from)\b",
        re.IGNORECASE),
    "risks": re.compile(
        r"\b(?:risks?|headwinds?|uncertaint\w+|pressures?|challeng\w+|tariffs?|inflation\w*|"
        r"shortages?|constrain\w+|concerns?|caution\w*|volatil\w+|weak\w*|slowdown|"
        r"deferr?\w*|delay\w*|disrupt\w+|tight|allocation|churn|competition|competitive|"
        r"softness|soft|downturn|recession|impair\w*|litigation|currency|FX|decline\w*)\b",
        re.IGNORECASE),
    "decisions": re.compile(
        r"\b(?:decided|decision|decisions|agreed|we agree|agree on|let's go with|we'll go with|"
        r"going with|settled|approved|final(?:ly)?|we keep|we will keep|ships? (?:in|at)|"
        r"moves? to|is the top priority|non-negotiable|consensus|conclusion|so we'll|"
        r"we're going to)\b",
        re.IGNORECASE),
    "open_questions": re.compile(
        r"\b(?:open questions?|still open|stays open|remains? open|unresolved|not sure|unclear|"
        r"to be (?:decided|determined|confirmed)|TBD|don't know yet|do not know yet|"
        r"need to figure out|need to find out|we'll see|revisit|parking lot|not decided|"
        r"pending)\b",
        re.IGNORECASE),
}
_QUESTION_INTRO = re.compile(r"\b(?:question(?:-and-answer| and answer)?|Q&A|questions? comes?"
                             r" from|first question|next question)\b", re.IGNORECASE)

def cue_sentences(sents: Sequence[Sentence], section: str, limit: int = 8,
                  min_words: int = 6) -> list[Sentence]:
    """Sentences that carry a section's cue, best first (more cues and figures, less fluff)."""
    rx = CUES[section]
    scored = []
    for s in sents:
        words = s.text.split()
        if len(words) < min_words:
            continue
        hits = len(rx.findall(s.text))
        if not hits:
            continue
        if is_boilerplate(s) or not _complete(s):
            continue
        score = hits + 0.5 * len(VALUE_RE.findall(s.text)) - 0.02 * max(0, len(words) - 45)
        scored.append((score, s.index, s))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return _distinct([s for _, _, s in scored], limit)


def _complete(s: Sentence) -> bool:
    """A whole sentence, not the part of one a chunk boundary cut off."""
    return bool(re.search(r"[.!?…][\"')\]”’]*$", s.text.rstrip()))


def question_sentences(sents: Sequence[Sentence], limit: int = 8) -> list[Sentence]:
    """Analysts' questions: sentences ending in '?' after the Q&A starts, not the operator's."""
    start = next((s.index for s in sents if _QUESTION_INTRO.search(s.text)), None)
    qs = [s for s in sents if s.text.rstrip("\"')").endswith("?") and len(s.text.split()) >= 6
          and (start is None or s.index >= start)
          and not (s.speaker or "").lower().startswith("operator")]
    # One question per speaker turn: the longest (the real question, not "Can I follow up?").
    best: dict[tuple[int, str | None], Sentence] = {}
    for s in qs:
        k = (s.chunk, s.speaker)
        if k not in best or len(s.text) > len(best[k].text):
            best[k] = s
    ordered = sorted(best.values(), key=lambda s: s.index)
    return _distinct(ordered, limit)


def tone(sents: Sequence[Sentence], lexicon: Lexicon = FINANCE) -> dict:
    """The speakers' tone by the `lexicon`'s cue words: label, score in [-1, 1] and the most
    telling sentences (mixed, 0, with a lexicon of no tone words)."""
    pos = neg = 0
    scored = []
    for s in sents:
        if (s.speaker or "").lower().startswith("operator"):
            continue
        words = re.findall(r"[a-z]+", s.text.lower())
        p = sum(w in lexicon.tone_positive for w in words)
        n = sum(w in lexicon.tone_negative for w in words)
        pos += p
        neg += n
        if p or n:
            scored.append((p - n, s))
    total = pos + neg
    score = (pos - neg) / total if total else 0.0
    label = ("positive" if score >= 0.45 else "cautiously positive" if score >= 0.15
             else "mixed" if score > -0.15 else "cautious" if score > -0.45 else "negative")
    ups = [s for v, s in sorted(scored, key=lambda t: -t[0]) if v > 0][:2]
    downs = [s for v, s in sorted(scored, key=lambda t: t[0]) if v < 0][:2]
    return {"label": label, "score": round(score, 3), "positive": pos, "negative": neg,
            "evidence": ups + downs}


# -- ranking -----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z][a-z'-]+")
_STOP = CONVERSATION


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def _similar(a: str, b: str) -> float:
    wa, wb = set(words(a)), set(words(b))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _distinct(sents: Sequence[Sentence], limit: int, threshold: float = 0.7) -> list[Sentence]:
    out: list[Sentence] = []
    for s in sents:
        if all(_similar(s.text, o.text) < threshold for o in out):
            out.append(s)
        if len(out) >= limit:
            break
    return out


def centrality(sents: Sequence[Sentence]) -> list[float]:
    """Each sentence's TF-IDF cosine to the document's centroid (how typical of the whole)."""
    docs = [Counter(words(s.text)) for s in sents]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = max(1, len(docs))
    idf = {w: math.log(1 + n / c) for w, c in df.items()}
    centroid: Counter[str] = Counter()
    vecs = []
    for d in docs:
        v = {w: (1 + math.log(c)) * idf[w] for w, c in d.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        v = {w: x / norm for w, x in v.items()}
        vecs.append(v)
        centroid.update(v)
    cnorm = math.sqrt(sum(x * x for x in centroid.values())) or 1.0
    return [sum(x * centroid[w] for w, x in v.items()) / cnorm for v in vecs]


def top_sentences(sents: Sequence[Sentence], k: int, min_words: int = 7,
                  max_words: int = 60, lexicon: Lexicon = FINANCE) -> list[Sentence]:
    """The extractive summary: central sentences dense in figures (and naming the `lexicon`'s
    metrics), in document order."""
    if not sents:
        return []
    cent = centrality(sents)
    scored = []
    for s, c in zip(sents, cent, strict=True):
        n = len(s.text.split())
        if n < min_words or n > max_words * 2:
            continue
        if re.search(r"\bforward-looking\b|\bsafe harbor\b|\bconference call\b|\boperator\b|"
                     r"\bthank(?:s| you)\b|\bgood (?:morning|afternoon|evening)\b", s.text, re.IGNORECASE):
            continue
        if is_boilerplate(s) or not _complete(s):
            continue
        figs = min(3, len(VALUE_RE.findall(s.text)))
        score = c + 0.12 * figs + (0.05 if lexicon.metrics_re.search(s.text) else 0.0)
        scored.append((score, s))
    scored.sort(key=lambda t: -t[0])
    picked = _distinct([s for _, s in scored], k, threshold=0.6)
    return sorted(picked, key=lambda s: s.index)


def guess_kind(chunks: Sequence[Chunk], sents: Sequence[Sentence]) -> str:
    """'earnings', 'meeting' or 'general' from the words and structure of the document."""
    text = " ".join(s.text for s in sents[:600]).lower()
    n = max(1, len(text.split()))
    fin = len(re.findall(r"\b(?:revenue|eps|earnings per share|gross margin|guidance|"
                         r"quarter|fiscal|ebitda|free cash flow|analyst|operator|"
                         r"year[- ]over[- ]year|per diluted share)\b", text))
    money = len(VALUE_RE.findall(text))
    if (fin + 0.5 * money) / n * 1000 >= 12 and re.search(
            r"\b(?:earnings|conference call|quarter|guidance|outlook)\b", text):
        return "earnings"
    speakers = {s.speaker for s in sents if s.speaker}
    is_transcript = any(c.kind == "transcript" for c in chunks)
    if is_transcript and len(speakers) >= 2:
        return "meeting"
    return "general"


# -- a meeting's own read-back -----------------------------------------------------------------

# "Decisions." / "Action items:" / "Open questions." opening a sentence of a recap.
_HEADING = re.compile(r"^(?:so,?\s+)?(?:the\s+)?(?:key\s+|final\s+)?(?P<h>decisions?|action items?|"
                      r"next steps|open questions?|open issues)\s*(?:[.:]\s*|$)", re.IGNORECASE)
# "One, ..." "Two, ..." / "First, ..." / "1. ..." starting an item of a spoken list.
_ORDINAL = re.compile(r"^(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                      r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
                      r"\d{1,2})[,.:)]\s+", re.IGNORECASE)
_BOILER = re.compile(
    r"\bforward[- ]looking statements?\b|\bsafe[- ]harbou?r\b|\bactual results (?:may|could) "
    r"differ\b|\brisks and uncertainties\b|\bundue reliance\b|\bnon-GAAP (?:financial )?measures"
    r"\b[^.]{0,80}\breconcil|\breconciliations? (?:of|to|between)\b|\blisten-only mode\b|"
    r"\bthis (?:call|conference|event) is being recorded\b|\bbeing recorded\b|"
    r"\b(?:welcome|welcoming you) to (?:the |our |today's )?[^.]{0,80}\b(?:call|conference|"
    r"webcast)\b|\bwill be your (?:conference )?operator\b|\bturn (?:the )?(?:call|conference|"
    r"floor) over to\b|\bquestion-and-answer session will follow\b|\bplease go ahead\b|"
    r"\breplay (?:of this call|will be available)\b|\bon our (?:investor relations )?website\b"
    r"|\bthank you (?:all )?for (?:joining|standing by|participating)\b|"
    r"\b(?:refer to|discuss|reference|use) (?:certain |some )?non-GAAP\b|"
    r"\b(?:with me (?:today|on the call)|joining me (?:today|on the call)?) (?:are|is)\b|"
    r"\bbefore we begin\b|\bturn it (?:back )?over to\b|\bopen the line for questions\b",
    re.IGNORECASE)


def is_boilerplate(s: Sentence) -> bool:
    """The safe-harbour paragraph, the operator's greeting and other call formalities: never
    a point of a brief (the operator says nothing a reader needs)."""
    if (s.speaker or "").lower().startswith("operator"):
        return True
    return bool(_BOILER.search(s.text))


@dataclass(frozen=True)
class ReadBack:
    """What a meeting's own recap lists: each item with the sentences it is made of."""

    decisions: list[list[Sentence]]
    action_items: list[Sentence]
    open_questions: list[tuple[str, Sentence]]  # (item, the sentence that lists it)
    start: int  # index of the first sentence of the recap


def readback(sents: Sequence[Sentence]) -> ReadBack | None:
    """The recap a meeting closes with ("Let me read back the decisions... Decisions. One, ...
    Action items. ... Open questions. ..."), when its chair gives one; None otherwise.

    A heading starts a part, which runs over the same speaker's sentences until the next heading
    or another speaker. Only headings in the second half of the meeting count (an agenda read
    at the start lists no decisions yet), and at least two parts must be there.
    """
    n = len(sents)
    parts: dict[str, list[Sentence]] = {}
    start: int | None = None
    cur: str | None = None
    speaker: str | None = None
    for s in sents:
        m = _HEADING.match(s.text)
        if m and s.index >= n // 2:
            h = m.group("h").lower()
            cur = ("decisions" if h.startswith("decision") else "open_questions"
                   if h.startswith("open") else "action_items")
            speaker = s.speaker
            start = s.index if start is None else start
            rest = s.text[m.end():].strip()
            parts.setdefault(cur, [])
            if rest:
                parts[cur].append(Sentence(rest, s.chunk, s.speaker, s.index))
            continue
        if cur is None:
            continue
        if s.speaker != speaker:
            cur = None
            continue
        parts[cur].append(s)
    if start is None or len(parts) < 2:
        return None
    decisions: list[list[Sentence]] = []
    for s in parts.get("decisions", []):
        if _ORDINAL.match(s.text) or not decisions:
            decisions.append([s])
        else:
            decisions[-1].append(s)
    opens: list[tuple[str, Sentence]] = []
    for s in parts.get("open_questions", []):
        if s.text.rstrip().endswith("?") and re.search(r"\b(?:miss|else|anything)\b", s.text,
                                                      re.IGNORECASE):
            continue  # "Did I miss anything?"
        items = [x.strip(" .") for x in re.split(r",\s*(?:and\s+)?|\s+and\s+", s.text)]
        for it in items:
            if len(it.split()) >= 2:
                opens.append((it[0].upper() + it[1:], s))
    return ReadBack(decisions, [s for s in parts.get("action_items", [])
                                if not s.text.rstrip().endswith("?")], opens, start)
