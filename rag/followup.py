"""Follow-up questions, resolved deterministically where the common cases allow.

A question that stands on its own (it names what it asks about, or opens like a new
question without pointing back) is never rewritten. An elliptical one is rewritten from the
previous question's frame: its subject (the metric asked about), company and period.

- "and in Q1?", "what about 2023?", "and the year before?": the period is replaced (a
  quarter without a year takes the previous year; "the year before" counts back);
- "what about Pfizer?", "and the other company?": the company is replaced (the other one is
  the workspace's other company);
- "and its gross margin?", "how about revenue?": the subject is replaced;
- "why?", "how did it change?", "is that higher than last year?": the pronoun or the bare
  question takes the previous subject, company and period.

`resolve` returns None when none of this applies; the caller may then ask the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.text.lexicon import FINANCE, Lexicon

_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
        "4th": 4}
_ORD_WORD = {1: "first", 2: "second", 3: "third", 4: "fourth"}

_YEAR = r"(?:19|20)\d\d"
_PERIOD_RE = re.compile(
    rf"(?P<q>\b(?:Q(?P<qn>[1-4])|(?P<qn2>[1-4])Q)\s*(?:FY\s*)?(?:'|’)?(?P<qy>{_YEAR}|\d\d)?\b)"
    rf"|(?P<qw>\b(?:the\s+)?(?P<ord>first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?"
    rf"quarter(?:\s+of)?(?:\s+(?:fiscal\s+)?(?P<qwy>{_YEAR}))?)"
    rf"|(?P<h>\b(?:H(?P<hn>[12])|(?P<hw>first|second)\s+half)(?:\s+(?:of\s+)?(?P<hy>{_YEAR}))?)"
    rf"|(?P<fy>\b(?:FY|fiscal(?:\s+year)?)\s*(?:'|’)?(?P<fyy>{_YEAR}|\d\d)\b)"
    rf"|(?P<y>\b{_YEAR}\b)",
    re.IGNORECASE)
_REL_RE = re.compile(
    r"\b(?:the\s+)?(?:(?P<yb>year|fiscal year) (?:before|earlier|prior)|(?:previous|prior|last|"
    r"preceding) (?P<yp>year|fiscal year)|(?P<qb>quarter) (?:before|earlier|prior)|"
    r"(?:previous|prior|last|preceding) (?P<qp>quarter)|(?P<ya>year|quarter) after|"
    r"(?:next|following) (?P<yn>year|quarter)|same (?P<same>period|quarter|year) (?:a |one )?"
    r"year (?:ago|earlier|before))\b", re.IGNORECASE)
_PREP = r"(?:in|for|during|as of|at the end of|over|of)"
_OPENER_RE = re.compile(
    r"^\s*(?:and|also|then|so|ok(?:ay)?|now|but)?\s*,?\s*(?:what|how)\s+about\b|"
    r"^\s*(?:and|also|then|same|now|but|vs\.?|versus|compared(?: to| with)?|what of)\b",
    re.IGNORECASE)
_WHY_RE = re.compile(r"^\s*(?:and\s+)?(?:why|how come|what (?:drove|caused) (?:that|it|this))"
                     r"\b(?:\s+(?:is|was|did|does) (?:that|it|this)(?: so)?)?\s*\??\s*$",
                     re.IGNORECASE)
_PRONOUN_RE = re.compile(r"\b(?:it|its|it's|that|this|those|these|they|them|their|the same)\b",
                         re.IGNORECASE)
_OTHER_RE = re.compile(r"\b(?:the\s+)?other\s+(?:company|one|firm|business|filer)\b|"
                       r"\bthe\s+other\b", re.IGNORECASE)
_WH_RE = re.compile(r"^\s*(?P<wh>what|how much|how many|how|which|who|when|where|did|does|do|"
                    r"is|are|was|were|has|have)\b(?:\s+(?P<aux>was|were|is|are|did|does|do|has|"
                    r"have|had|will))?\s*", re.IGNORECASE)
_FILLER_RE = re.compile(r"\b(?:and|also|then|same|now|but|what|how|about|for|in|the|of|as|"
                        r"during|please|vs|versus|compared|to|with|at|on)\b|[?.!,]",
                        re.IGNORECASE)
_GENERIC_CAPS = {"what", "how", "and", "why", "which", "who", "when", "where", "is", "are",
                 "was", "were", "did", "does", "do", "the", "q1", "q2", "q3", "q4", "fy", "h1",
                 "h2", "gaap", "eps", "ebitda", "usd", "capex", "cogs", "dpo", "dso", "ppne",
                 "i", "january", "february", "march", "april", "may", "june", "july",
                 "august", "september", "october", "november", "december", "also", "same",
                 "then", "compared", "versus", "vs", "fiscal", "answer", "give", "round",
                 "calculate", "assume", "using", "based", "in", "for", "of", "now", "ok",
                 "okay", "but", "so", "tell", "show", "please", "can", "could", "would"}
# Words of a metric question (with one and a company or period, it stands alone) are the
# lexicon's `metric_words`.


@dataclass(frozen=True)
class Period:
    kind: str            # "q" | "h" | "fy" | "y"
    n: int | None = None  # quarter or half
    year: int | None = None

    def text(self, style: str = "short") -> str:
        if self.kind == "q":
            assert self.n is not None  # a quarter always has its number
            if style == "words":
                return f"the {_ORD_WORD[self.n]} quarter" + (f" of {self.year}" if self.year
                                                            else "")
            return f"Q{self.n}" + (f" {self.year}" if self.year else "")
        if self.kind == "h":
            return f"H{self.n}" + (f" {self.year}" if self.year else "")
        if self.kind == "fy":
            return f"FY{self.year}"
        return str(self.year)


def _year(s: str | None) -> int | None:
    if not s:
        return None
    return int(s) if len(s) == 4 else 2000 + int(s)


def _period_of(m: re.Match[str]) -> tuple[Period, str]:
    if m.group("q"):
        return Period("q", int(m.group("qn") or m.group("qn2")), _year(m.group("qy"))), "short"
    if m.group("qw"):
        return Period("q", _ORD[m.group("ord").lower()], _year(m.group("qwy"))), "words"
    if m.group("h"):
        n = int(m.group("hn")) if m.group("hn") else (1 if m.group("hw").lower() == "first"
                                                      else 2)
        return Period("h", n, _year(m.group("hy"))), "short"
    if m.group("fy"):
        return Period("fy", None, _year(m.group("fyy"))), "short"
    return Period("y", None, int(m.group("y"))), "short"


@dataclass(frozen=True)
class Frame:
    """What a question asks: its text, the span and value of its period, its company."""

    text: str
    period: Period | None = None
    period_span: tuple[int, int] | None = None
    period_style: str = "short"
    company: str | None = None
    company_span: tuple[int, int] | None = None
    metric: str = ""


def find_period(text: str) -> tuple[Period, tuple[int, int], str] | None:
    """The question's (last) absolute period, with a leading preposition in its span."""
    found = None
    for m in _PERIOD_RE.finditer(text):
        p, style = _period_of(m)
        if found and p.kind == "y" and found[0].kind != "y" and found[0].year == p.year:
            continue  # "Q2 2026" already read as a quarter
        start = m.start()
        pre = re.search(rf"\b{_PREP}\s+$", text[:start], re.IGNORECASE)
        if pre:
            start = pre.start()
        found = (p, (start, m.end()), style)
        if p.kind != "y":
            break
    return found


def find_company(text: str, companies: Sequence[str]) -> tuple[str, tuple[int, int]] | None:
    """A known company the text names (its possessive included in the span), else a proper
    noun that looks like one."""
    for name in sorted(companies, key=len, reverse=True):
        m = re.search(rf"(?<![\w]){re.escape(name)}(?:'s|’s)?(?![\w])", text, re.IGNORECASE)
        if m:
            return m.group(0).removesuffix("'s").removesuffix("’s"), m.span()
    for m in re.finditer(r"(?<![\w])([A-Z][A-Za-z0-9&\-]*[A-Za-z0-9]|\d[A-Z]{1,3})"
                         r"((?:'s|’s)?)(?![\w])", text):
        word = m.group(1)
        if m.start() == 0 and not m.group(2):
            continue
        if word.lower() in _GENERIC_CAPS or _PERIOD_RE.fullmatch(word):
            continue
        return word, m.span()
    return None


def frame(text: str, companies: Sequence[str] = ()) -> Frame:
    t = text.strip()
    p = find_period(t)
    c = find_company(t, companies)
    metric = t
    cuts = sorted(s for s in [p[1] if p else None, c[1] if c else None] if s)
    for a, b in reversed(cuts):
        metric = metric[:a] + " " + metric[b:]
    metric = _WH_RE.sub("", metric)
    metric = re.sub(rf"\b{_PREP}\s*(?=[?.!]|$)", "", metric.strip(), flags=re.IGNORECASE)
    metric = re.sub(r"^\s*(?:the|'s|’s)\s+", "", re.sub(r"\s+", " ", metric)).strip(" ?.!,")
    metric = re.sub(r"\s+(?:for|of|in|at)$", "", metric)
    return Frame(t, p[0] if p else None, p[1] if p else None, p[2] if p else "short",
                 c[0] if c else None, c[1] if c else None, metric)


def is_followup(question: str, companies: Sequence[str] = (),
                lexicon: Lexicon = FINANCE) -> bool:
    """Whether the question points back at the conversation rather than standing alone (a
    question naming one of the lexicon's metric words can stand alone)."""
    q = question.strip()
    if not q:
        return False
    if _OPENER_RE.search(q) or _WHY_RE.match(q) or _REL_RE.search(q) or _OTHER_RE.search(q):
        return True
    words = [w for w in re.findall(r"[A-Za-z0-9&']+", q)]
    f = frame(q, companies)
    has_subject = bool(lexicon.metric_re.search(f.metric)) or len(_content(f.metric)) >= 3
    if _PRONOUN_RE.search(q) and not (f.company and has_subject):
        return True
    return len(words) <= 3 and not has_subject


def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z0-9&%$.-]+", _FILLER_RE.sub(" ", text))
            if w.lower() not in _GENERIC_CAPS and not _PRONOUN_RE.fullmatch(w)]


def _shift(p: Period, rel: re.Match[str]) -> Period | None:
    """The period a relative phrase names, counted from `p`."""
    if rel.group("same"):
        return replace(p, year=p.year - 1) if p.year else None
    back = rel.group("yb") or rel.group("yp") or rel.group("qb") or rel.group("qp")
    unit = (back or rel.group("ya") or rel.group("yn") or "").lower()
    step = -1 if back else 1
    if "year" in unit:
        return replace(p, year=p.year + step) if p.year else None
    if p.kind == "q":
        assert p.n is not None  # a quarter always has its number
        n, y = p.n + step, p.year
        if n == 0:
            n, y = 4, (y - 1 if y else None)
        elif n == 5:
            n, y = 1, (y + 1 if y else None)
        return Period("q", n, y)
    return None


def _with_period(f: Frame, p: Period) -> str:
    t = f.text
    if f.period_span:
        a, b = f.period_span
        prep = re.match(rf"{_PREP}\s+", t[a:b], re.IGNORECASE)
        lead = prep.group(0) if prep else ""
        return t[:a] + lead + p.text(f.period_style) + t[b:]
    body = t.rstrip(" ?.!")
    return f"{body} in {p.text()}?"


def _with_company(f: Frame, name: str) -> str:
    t = f.text
    if f.company_span:
        a, b = f.company_span
        poss = t[a:b].endswith(("'s", "’s"))
        return t[:a] + name + ("'s" if poss else "") + t[b:]
    body = t.rstrip(" ?.!")
    return f"{body} for {name}?"


def _aux(f: Frame) -> tuple[str, str]:
    m = _WH_RE.match(f.text)
    wh = (m.group("wh") if m else "What").capitalize()
    aux = (m.group("aux") or "") if m else "was"
    return wh, aux


def _about(f: Frame) -> str:
    """'gross margin of Northwind in Q2 2026': the previous question's subject, whole."""
    out = f.metric or "that"
    if f.company:
        out += f" of {f.company}"
    if f.period:
        out += f" in {f.period.text(f.period_style)}"
    return out


_MOVES = {"increas": "increase", "decreas": "decrease", "ros": "rise", "ris": "rise",
          "fell": "fall", "fall": "fall", "grew": "grow", "grow": "grow", "declin": "decline",
          "improv": "improve", "expand": "expand", "drop": "drop", "contract": "contract",
          "shrank": "shrink", "widen": "widen", "narrow": "narrow"}
_MOVE_RE = re.compile(r"\b(?:" + "|".join(_MOVES) + r")\w*", re.IGNORECASE)


def resolve(question: str, previous: str, companies: Sequence[str] = (),
            last_answer: str = "") -> str | None:
    """The follow-up rewritten as a standalone question, or None when the resolver cannot
    tell what it means (the question is then left to the model, or kept)."""
    q = question.strip()
    p = frame(previous, companies)
    f = frame(q, companies)
    rest = _content(f.metric)
    rel = _REL_RE.search(q)
    new_period = f.period
    if rel and p.period:
        new_period = _shift(p.period, rel)
        rest = _content(_REL_RE.sub(" ", f.metric))
    elif new_period and new_period.kind in ("q", "h") and new_period.year is None and p.period:
        new_period = replace(new_period, year=p.period.year)
    new_company = f.company
    if _OTHER_RE.search(q):
        others = [c for c in companies if not p.company or c.lower() != p.company.lower()]
        if len(others) != 1:
            return None
        new_company = others[0]
        rest = _content(_OTHER_RE.sub(" ", f.metric))
    rest = [w for w in rest if not re.fullmatch(r"(?:company|one|firm)s?", w, re.IGNORECASE)]

    if _WHY_RE.match(q):
        m = _MOVE_RE.search(last_answer)
        verb = next(v for k, v in _MOVES.items() if m and m.group(0).lower().startswith(k)) \
            if m else "change"
        return f"Why did the {_about(p)} {verb}?"

    if rest and (new_period or new_company or _OPENER_RE.search(q)) and p.metric \
            and not _PRONOUN_RE.fullmatch(" ".join(rest)):
        # A new subject: "and its gross margin?", "how about revenue in Q1?"
        metric = " ".join(re.sub(r"^(?:its|their|the)\s+", "", w, flags=re.IGNORECASE) for w in rest)
        wh, aux = _aux(p)
        company = new_company or p.company
        period = new_period or p.period
        out = f"{wh} {aux} the {metric}".replace("  ", " ")
        if company:
            out += f" of {company}"
        if period:
            out += f" in {period.text(p.period_style)}"
        return out + "?"

    if (new_period or new_company) and not rest:
        fr = p
        text = p.text
        if new_period:
            text = _with_period(fr, new_period)
            fr = frame(text, companies)
        if new_company:
            text = _with_company(fr, new_company)
        return text

    if _PRONOUN_RE.search(q) and p.metric:
        # "How did it change?", "Is that higher than in Q1?"
        about = _about(replace(p, period=p.period if not new_period else None))
        text = _PRONOUN_RE.sub(lambda m: ("the " + about) if m.group(0).lower() in
                               {"it", "that", "this", "the same", "they", "them"} else
                               f"the {about}'s", q, count=1)
        if new_period:
            text = text.rstrip(" ?.!") + f" in {new_period.text()}?" if not f.period else text
        return text[0].upper() + text[1:]
    return None


def resolved_history(questions: Sequence[str], companies: Sequence[str] = (),
                     lexicon: Lexicon = FINANCE) -> str:
    """The standalone form of the conversation's last question (each resolved against the
    one before it)."""
    prev = ""
    for q in questions:
        if prev and is_followup(q, companies, lexicon):
            prev = resolve(q, prev, companies) or q
        else:
            prev = q
    return prev
