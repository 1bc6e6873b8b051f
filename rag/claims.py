"""Claim checking: does the cited passage say what the sentence asserts?

Counting shared words certifies wrong answers ("the effective tax rate changed by $965
million" shares every word with a page that gives the rate as 9.6% and 17.8%). Each sentence
is judged against the text of the passages it cites, with boilerplate taken out first (page
headers and footers, "Table of Contents", forward-looking-statement and safe-harbour text,
lines repeated on several pages): boilerplate never counts as support. A sentence fails when

- a figure it states is not in the cited span, or is there only in another unit (23.4% vs
  $23.4 million) or only under another year of a labelled table row;
- a rate (tax rate, growth rate, ratio, percentage) is said to change by an amount of money;
- its direction word (increased, decreased, rose, fell, improved, declined...) disagrees with
  the cited figures, when the span holds two comparable figures for what the sentence is
  about (a table row under a header of years, "X, compared to Y", "from X to Y") or states
  the direction itself ("a decrease of 12.1 percentage points");
- it names a company, person or product that the cited document neither is nor mentions
  (another passage's company, or one no passage mentions: "Paris");
- too few of its words are in the span (the figures carry a sentence that states them, so
  the bar is lower for one whose figures are all there).

`judge` returns the reasons a sentence fails (none: it is supported).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.context import label_rows, segments
from rag.retrieve import tokenize
from rag.text.lexicon import FINANCE, Lexicon
from rag.text.numbers import (
    CURRENCY,
    NUMBER,
    NUMBER_TOKEN_RE,
    is_rate_unit,
    norm_number,
    numbers_in,
)
from rag.text.numbers import SCALE_OF_WORD as _SCALE_OF_WORD
from rag.text.numbers import parse_value as _parse_value
from rag.text.sentences import CLAUSES
from rag.types import MIN_SUPPORT, Chunk  # MIN_SUPPORT: re-exported, claim checks set the bar

MIN_SUPPORT_WITH_FIGURES = 0.2

CITE_RE = re.compile(r"\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")


def claim_numbers(sentence: str, given: frozenset[str] = frozenset()) -> set[str]:
    """Numbers a claim asserts (citation markers, list ordinals and the numbers `given` in
    the question, such as its year, left out)."""
    text = CITE_RE.sub(" ", sentence)
    out = set()
    for m in NUMBER_TOKEN_RE.findall(text):
        n = norm_number(m)
        if len(n.replace(".", "")) >= 2 or "." in n or m.endswith("%") or m.startswith("$"):
            out.add(n)
    return out - given


def _glossary_tokens(text_lower: str, lexicon: Lexicon = FINANCE) -> set[str]:
    """Analyst terms for the filing phrasings a passage uses ("capex" for "purchases of
    property, plant and equipment")."""
    out: set[str] = set()
    for term, phrasings in lexicon.glossary.items():
        if any(p in text_lower for p in phrasings):
            out.update(tokenize(term))
    return out


def support_of(sentence: str, passage: str, glossary: bool = False,
               claim_words: bool = False, lexicon: Lexicon = FINANCE) -> float:
    """Share of the sentence's words (numbers aside) found in the passage. With `glossary`,
    the passage also has the `lexicon` terms of the phrasings it uses; with `claim_words`,
    direction words (judged on their own) and generic ones are left out."""
    words = [w for w in tokenize(CITE_RE.sub(" ", sentence)) if not w[0].isdigit()]
    if claim_words:
        words = [w for w in words if w not in _GENERIC_WORDS and not _DIR_RE.fullmatch(w)]
    if not words:
        return 1.0
    have = set(tokenize(passage))
    if glossary:
        have |= _glossary_tokens(passage.lower(), lexicon)
    return sum(1 for w in words if w in have) / len(words)


_GENERIC_WORDS = frozenset({"company", "companie", "firm", "business", "it", "also", "total",
                            "report", "reported", "according", "passage", "document"})


# -- boilerplate -------------------------------------------------------------------------------

_BOILER_LINE_RE = re.compile(
    r"^\s*(?:table of contents|index|contents|\(?continued\)?|page \d{1,3}(?: of \d{1,3})?|"
    r"[-–—\s]*\d{1,3}[-–—\s]*|[a-z]-\d{1,3})\s*$"
    r"|^.{0,70}\b(?:form 10-?k|form 10-?q|form 8-?k|annual report|quarterly report)\b.{0,30}"
    r"(?:\d{1,3}|[a-z])\s*$"
    r"|^\s*item \d{1,2}[a-c]?\.?[^.]{0,90}\s\d{1,3}\s*$"
    r"|^\s*(?:glossary|part i{1,3}v?|signatures|exhibits?)\s+\d{1,3}\s*$",
    re.IGNORECASE)
_SAFE_HARBOUR_RE = re.compile(
    r"forward-looking statements?|forward looking statements?|safe harbou?r|private securities "
    r"litigation reform act|actual results (?:may|could|might) differ materially|undue "
    r"reliance|undertakes? no (?:obligation|duty)|speak only as of|risks and uncertainties",
    re.IGNORECASE)


def repeated_lines(chunks: Iterable[Chunk]) -> frozenset[str]:
    """Short lines found on more than one page of the same document: running headers and
    footers (as far as the passages at hand show)."""
    seen: Counter[tuple[str, str]] = Counter()
    for c in {c.id: c for c in chunks}.values():
        for line in {ln.strip() for ln in c.text.split("\n")}:
            if 3 <= len(line) <= 80:
                seen[(c.doc_id, re.sub(r"\d+\s*$", "#", line))] += 1
    return frozenset(line for (_, line), n in seen.items() if n >= 2)


def strip_boilerplate(text: str, repeated: frozenset[str] = frozenset()) -> str:
    """The text without page furniture and safe-harbour sentences."""
    lines = []
    for line in text.split("\n"):
        s = line.strip()
        if _BOILER_LINE_RE.match(s) or re.sub(r"\d+\s*$", "#", s) in repeated:
            continue
        if _SAFE_HARBOUR_RE.search(line):
            line = "".join(p for p in CLAUSES.pieces(line) if not _SAFE_HARBOUR_RE.search(p))
        lines.append(line)
    return "\n".join(lines)


# -- figures and their units -------------------------------------------------------------------

_FIG_RE = re.compile(
    rf"(?P<pre>{CURRENCY}\s?)?\(?(?P<num>{NUMBER})\)?\s?(?P<post>%|percent(?:age points?)?"
    r"|pp\b|basis points?|bps?\b|million|billion|thousand|mn\b|bn\b)?", re.IGNORECASE)


def _unit(m: re.Match[str]) -> str:
    post = (m.group("post") or "").lower()
    if is_rate_unit(post):
        return "pct"
    if m.group("pre") or post in _SCALE_OF_WORD:
        return "money"
    return "plain"


def units_of(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in _FIG_RE.finditer(text):
        out.setdefault(norm_number(m.group("num")), set()).add(_unit(m))
    return out


def _value(cell: str) -> float | None:
    """A table cell's value ('(1,577)' -> -1577.0), or None for a dash or no number."""
    v, _ = _parse_value(cell)
    return None if v is None else float(v)


# -- direction ---------------------------------------------------------------------------------

_UP = (r"increas\w*|ros[e]|risen|rising|grew|grow\w*|growth|higher|up|improv\w*|expand\w*|"
       r"gain\w*|climb\w*|jump\w*|surg\w*|rais\w*|more|larger|greater|accelerat\w*")
_DOWN = (r"decreas\w*|fell|fall\w*|declin\w*|drop\w*|lower|down|reduc\w*|shrank|shrunk|"
         r"shrink\w*|contract\w*|less|smaller|cut|weaken\w*|deteriorat\w*|slow\w*|"
         r"decline|worsen\w*")
_DIR_RE = re.compile(rf"\b(?:(?P<up>{_UP})|(?P<down>{_DOWN}))\b", re.IGNORECASE)
_ROW_LABELLED = re.compile(r"^(?P<label>[^:\n]{2,120}?): (?P<cells>(?:(?:19|20)\d\d: [^;\n]+; )+"
                           r"(?:19|20)\d\d: [^;\n]+)$", re.MULTILINE)
_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")


def direction_claimed(sentence: str, lexicon: Lexicon = FINANCE) -> int:
    """+1 for a sentence saying something went up, -1 down, 0 when it says neither (or
    both, or "improved" of what the lexicon says is better lower: a cost)."""
    body = CITE_RE.sub(" ", sentence)
    signs = set()
    for m in _DIR_RE.finditer(body):
        word = m.group(0).lower()
        if word in {"more", "less", "larger", "smaller", "greater", "up", "down", "cut"} and not \
                re.search(rf"\b{word}\b\s+(?:than|from|by|to)\b", body, re.IGNORECASE):
            continue  # "up 6%" stays a claim only with a comparison
        if word.startswith("improv") and set(tokenize(body)) & lexicon.lower_is_better:
            continue
        signs.add(1 if m.group("up") else -1)
    return signs.pop() if len(signs) == 1 else 0


def _rows(span: str) -> list[tuple[str, list[tuple[int, float, str]]]]:
    """Table rows of the span with their figures labelled by year: (label, [(year, value,
    cell)]), the first figure of each year only."""
    out = []
    for m in _ROW_LABELLED.finditer(label_rows(span)):
        cells: list[tuple[int, float, str]] = []
        years_seen: set[int] = set()
        for part in m.group("cells").split("; "):
            y, _, cell = part.partition(": ")
            v = _value(cell)
            if v is not None and int(y) not in years_seen:
                years_seen.add(int(y))
                cells.append((int(y), v, cell))
        if len(cells) >= 2:
            out.append((m.group("label"), cells))
    return out


_COMPARED_RE = re.compile(
    r"(?P<a>" + CURRENCY + r"?\(?" + NUMBER + r"\)?\s?(?:%|percent|million|billion)?)[^.;]{0,60}?"
    r"\bcompared (?:to|with)\b[^.;\d$]{0,20}(?P<b>" + CURRENCY + r"?\(?" + NUMBER + r"\)?)", re.IGNORECASE)
_FROM_TO_RE = re.compile(
    r"\bfrom\s+(?P<a>" + CURRENCY + r"?\(?" + NUMBER + r"\)?)\s?(?:%|percent|million|billion)?[^.;\d]{0,40}?"
    r"\bto\s+(?P<b>" + CURRENCY + r"?\(?" + NUMBER + r"\)?)", re.IGNORECASE)
_STATED_RE = re.compile(r"\b(?:an?\s+)?(?:(?P<up>increase|rise|growth|improvement|gain)|"
                        r"(?P<down>decrease|decline|reduction|drop|fall))\s+of\b", re.IGNORECASE)


def _sign(later: float, earlier: float) -> int:
    if later < 0 and earlier < 0:  # outflows in parentheses: a larger outflow "increased"
        later, earlier = -later, -earlier
    return (later > earlier) - (later < earlier)


_SUBJECT_NOISE = set(tokenize("company companies total year years fiscal quarter period "
                               "percent percentage point points million billion thousand amount "
                               "its their from compared reported reflect figure value change "
                               "changed level"))
_RESPECTIVELY_RE = re.compile(r"respectively", re.IGNORECASE)
_FIGURE_RE = re.compile(rf"{CURRENCY}?\s?\(?{NUMBER}\)?\s?(?:%|percent|million|billion)?")


def _prose_series(sent: str) -> list[tuple[int, float, str]]:
    """'... for 2022, 2021, and 2020 were 9.6 percent, 17.8 percent, and 19.7 percent,
    respectively' -> [(2022, 9.6, ...), (2021, 17.8, ...), (2020, 19.7, ...)]."""
    if not _RESPECTIVELY_RE.search(sent):
        return []
    m = re.search(r"\b(?:was|were|are|is|of|totaled|totalled|amounted to)\s*", sent)
    if not m:
        return []
    years = [int(y) for y in _YEAR_RE.findall(sent[: m.start()])]
    rest = sent[m.end():]
    figs = [f.strip() for f in _FIGURE_RE.findall(rest) if not _YEAR_RE.fullmatch(f.strip())]
    if len(years) < 2 or len(figs) < len(years):
        return []
    out = []
    for y, f in zip(years, figs):
        v = _value(re.sub(r"[^\d.,()$-]", "", f))
        if v is None:
            return []
        out.append((y, v, f))
    return out


_DATED_RE = re.compile(
    r"(?P<fig>" + CURRENCY + r"?\s?" + NUMBER + r"\s?(?:million|billion|thousand|%|percent)?)\s+(?:as of|at|"
    r"in|for)\s+(?:[A-Z][a-z]+\s+\d{1,2},\s+)?(?P<y>(?:19|20)\d\d)\b")


def _dated_series(sent: str) -> list[tuple[int, float, str]]:
    """'$965 million as of December 31, 2022, $1,112 million as of December 31, 2021' ->
    [(2022, 965.0, ...), (2021, 1112.0, ...)]."""
    out = []
    for m in _DATED_RE.finditer(sent):
        fig = m.group("fig").strip()
        if _YEAR_RE.fullmatch(fig):
            continue
        v = _value(re.sub(r"[^\d.,()$-]", "", fig))
        if v is not None:
            out.append((int(m.group("y")), v, fig))
    return out if len({y for y, _, _ in out}) >= 2 else []


def _pick(cells: list[tuple[int, float, str]], years: list[int]
          ) -> tuple[tuple[int, float, str], tuple[int, float, str]]:
    by_year = sorted(cells, key=lambda c: -c[0])
    pick = [c for c in by_year if c[0] in years] if len(set(years)) >= 2 else []
    return (pick[0], pick[1]) if len(pick) >= 2 else (by_year[0], by_year[1])


def direction_in_span(sentence: str, span: str) -> tuple[int, str] | None:
    """What the span says about the direction of the sentence's subject: (sign, evidence),
    or None when it holds no two comparable figures for it.

    The subject is the sentence's words (figures, direction words and generic words aside):
    a table row counts when its label holds most of them, or when it holds the sentence's
    figures; a prose sentence when it shares most of them and states the direction ("a
    decrease of", in it or in the sentence after it), compares two figures ("X, compared to
    Y", "from X to Y"), or lists them by year ("respectively")."""
    body = CITE_RE.sub(" ", sentence)
    names = {t for m in _NAME_RE.finditer(body) for t in tokenize(m.group("name"))
             if m.start() > 0 or m.group("pos")}
    subject = {w for w in tokenize(body) if not w[0].isdigit() and not _DIR_RE.fullmatch(w)
               and w not in _SUBJECT_NOISE and w not in names and len(w) > 1}
    nums = claim_numbers(body)
    years = [int(y) for y in _YEAR_RE.findall(body)]
    # A sentence giving both ends ("from 17.8 percent to 9.6 percent") is judged on its own.
    m = _FROM_TO_RE.search(body)
    if m and not (_YEAR_RE.fullmatch(m.group("a")) and _YEAR_RE.fullmatch(m.group("b"))):
        a, b = _value(m.group("a")), _value(m.group("b"))
        if a is not None and b is not None and a != b:
            return _sign(b, a), m.group(0)

    def covers(text: str) -> float:
        return len(subject & set(tokenize(text))) / len(subject) if subject else 0.0

    best: tuple[float, int, str] | None = None
    for label, cells in _rows(span):
        held = len(nums & {norm_number(re.sub(r"[^\d.,]", "", c)) for _, _, c in cells})
        cov = covers(label)
        if cov < 0.6 and not held:
            continue
        later, earlier = _pick(cells, years)
        s = _sign(later[1], earlier[1])
        score = cov + 2 * held
        if s and (best is None or score > best[0]):
            best = (score, s, f"{label}: {later[0]}: {later[2]}; {earlier[0]}: {earlier[2]}")
    if best is not None:
        return best[1], best[2]
    sents = [x for seg in segments(span) for x in CLAUSES.pieces(seg) if x.strip()]
    for i, sent in enumerate(sents):
        if covers(sent) < 0.6 and not nums & numbers_in(sent):
            continue
        nxt = sents[i + 1] if i + 1 < len(sents) else ""
        if not re.match(r"\s*(?:this|these|that|which|it)\b", nxt, re.IGNORECASE):
            nxt = ""
        series = _prose_series(sent)
        if len(series) >= 2:
            later, earlier = _pick(series, years)
            s = _sign(later[1], earlier[1])
            if s:
                return s, sent.strip()
        st = _STATED_RE.search(sent) or _STATED_RE.search(nxt)
        if st:
            return (1 if st.group("up") else -1), (sent + " " + nxt).strip()
        for rx, later_first in ((_COMPARED_RE, True), (_FROM_TO_RE, False)):
            m = rx.search(sent)
            if m and not (_YEAR_RE.fullmatch(m.group("a")) and _YEAR_RE.fullmatch(m.group("b"))):
                a, b = _value(m.group("a")), _value(m.group("b"))
                if a is not None and b is not None and a != b:
                    return (_sign(a, b) if later_first else _sign(b, a)), sent.strip()
    return None


_CHANGE_BY_RE = re.compile(r"\b(?:chang\w*|increas\w*|decreas\w*|ros[e]|fell|grew|declin\w*|"
                           r"drop\w*|improv\w*|moved|went (?:up|down)|shift\w*)\b[^.]{0,20}?\bby\b"
                           r"\s*(?P<fig>" + CURRENCY + r"?\s?" + NUMBER + r"\s?(?:%|percent\w*|million|"
                           r"billion|thousand|points?|basis points?|bps)?)", re.IGNORECASE)
_RATE_SUBJECT_RE = re.compile(r"\b(?:rate|ratio|percentage|margin percent(?:age)?|yield)\b",
                              re.IGNORECASE)


def rate_in_money(sentence: str) -> bool:
    """'The effective tax rate changed by $965 million': a rate moves in points, not money."""
    body = CITE_RE.sub(" ", sentence)
    m = _CHANGE_BY_RE.search(body)
    if not m or not _RATE_SUBJECT_RE.search(body[: m.start()]):
        return False
    fig = m.group("fig").lower()
    return fig.lstrip().startswith(("$", "€", "£")) or bool(
        re.search(r"million|billion|thousand", fig))


# -- entities ----------------------------------------------------------------------------------

_NAME_RE = re.compile(r"(?<![\w$])(?P<name>[A-Z][A-Za-z0-9&\-]*[A-Za-z0-9]|\d[A-Z]{1,3})"
                      r"(?P<pos>'s|’s)?(?![\w])")
_GENERIC = frozenset({
    "i", "a", "an", "the", "in", "on", "at", "for", "of", "to", "by", "and", "or", "but",
    "as", "if", "it", "its", "this", "that", "these", "those", "there", "their", "they", "we",
    "our", "us", "you", "he", "she", "his", "her", "q1", "q2", "q3", "q4", "fy", "h1", "h2",
    "ytd", "gaap", "non-gaap", "eps", "ceo", "cfo", "coo", "cto", "usd", "u.s", "eur",
    "gbp", "ai", "inc", "corp", "co", "ltd", "llc", "plc", "sa", "ag", "nv", "company",
    "group", "holdings", "corporation", "note", "notes", "item", "part", "form", "total",
    "net", "gross", "operating", "adjusted", "diluted", "basic", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "year", "years", "quarter", "quarters", "fiscal", "based", "according", "overall", "yes",
    "no", "however", "also", "additionally", "therefore", "so", "while", "during", "after",
    "before", "since", "per",
})
_STARTERS = frozenset({"revenue", "revenues", "sales", "income", "earnings", "management",
                       "it", "they", "we", "he", "she", "this", "that", "everyone", "nobody"})
_DOC_NOISE = {"10k", "10q", "8k", "10-k", "10-q", "8-k", "earnings", "call", "transcript",
              "dated", "annual", "report", "q1", "q2", "q3", "q4", "fy", "meeting", "memo"}


def doc_names(chunk: Chunk) -> set[str]:
    """The words of a document's name that name its company ('3M_2018_10K' -> {'3m'})."""
    parts = re.split(r"[_\-\s.]+", chunk.doc_name.lower())
    return {p for p in parts if len(p) >= 2 and not p.isdigit() and p not in _DOC_NOISE
            and not re.fullmatch(r"(?:19|20)\d\d(?:q[1-4])?|q[1-4]|fy\d+", p)}


def _mentions(text_lower: str, name: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}", text_lower) is not None


def entity_problem(sentence: str, cited: Sequence[Chunk], hits: Sequence[Chunk],
                   lexicon: Lexicon = FINANCE) -> str | None:
    """The name the sentence gives that the cited passages neither are from nor mention (a
    `lexicon` term such as 'EPS' is never taken for a name)."""
    body = CITE_RE.sub(" ", sentence)
    cited_text = " ".join(
        " ".join(filter(None, (c.text, c.doc_name, c.speaker, c.speakers, c.heading)))
        for c in cited).lower()
    cited_names = set().union(*(doc_names(c) for c in cited)) if cited else set()
    other_names: dict[str, str] = {}
    for c in hits:
        for n in doc_names(c):
            if n not in cited_names:
                other_names.setdefault(n, c.doc_name)
    all_text = " ".join(c.text for c in hits)
    first = True
    for m in _NAME_RE.finditer(body):
        name = m.group("name")
        low = name.lower()
        at_start = first or body[: m.start()].rstrip().endswith((":", ".", "\n"))
        first = False
        if low in _GENERIC or len(low) < 2 or re.fullmatch(r"(?:fy|q[1-4]|h[12]|cy)\d{2,4}", low):
            continue
        known = low in other_names or low in cited_names
        says = re.match(r"\s+(?:reported|said|announced|posted|recorded|earned|generated|"
                        r"had|has|made|delivered|booked|filed|won|lost)\b", body[m.end():])
        if at_start and not m.group("pos") and not known and not (
                says and low not in lexicon.glossary and low not in _STARTERS):
            continue
        if low in cited_names or _mentions(cited_text, low):
            continue
        if low in other_names:
            return f"names {name}, but the cited passage is from {cited[0].doc_name}" \
                if cited else f"names {name}, which no cited passage is about"
        # A word the passages use in lower case is an ordinary word, not a name.
        if re.search(rf"(?<![A-Za-z]){re.escape(low)}(?![a-z])", all_text):
            continue
        return f"names {name}, which the cited passage does not mention"
    return None


# -- the judgement -----------------------------------------------------------------------------

# -- the kind of figure a question asks for ------------------------------------------------------
# 'By how much did X increase?' asks for a change, 'the total amount under its agreements' for a
# sum, 'how much does it expect to pay in the future' for what remains. A figure the passage gives
# as something else (the new agreement's amount, the whole programme's cost) is not the answer,
# however verbatim: only code may derive the change or the sum (rag.figures).
_ASKED_KINDS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("change", "a change", re.compile(
        r"\bby how (?:much|many)\b|\bhow many (?:percentage )?points\b|"
        r"\bhow much (?:did|has|have|had|was|were|does|do)\b[^?]*?\b(?:increas|decreas|ris|rose|"
        r"fell|fall|grow|grew|chang|rais|lower|declin|improv|expand|shrank|shrink|cut)\w*|"
        r"\bwhat (?:is|was|were) the (?:\w+ )?(?:change|increase|decrease|difference|growth)\b",
        re.IGNORECASE)),
    ("total", "a total", re.compile(
        r"\btotal amount\b|\bin total\b|\bcombined\b|\baltogether\b|\bsum of\b|"
        r"\bin aggregate\b|\baggregate (?:amount|value|total)\b", re.IGNORECASE)),
    ("share", "a share (a percentage)", re.compile(
        r"\b(?:more|less|greater|higher|lower|fewer) than \d+(?:\.\d+)?\s*(?:%|percent)\s+of\b|"
        r"\b(?:what|which) (?:share|percentage|proportion|portion|fraction) of\b|"
        r"\b(?:as a |what )(?:share|percentage|percent) of\b", re.IGNORECASE)),
    ("remaining", "what remains", re.compile(
        r"\bremaining\b|\bin the future\b|\bleft to (?:pay|spend|incur)\b|\byet to be\b|"
        r"\bstill (?:to|expect)\w*\b|\bhave left\b", re.IGNORECASE)),
)
_KIND_CUES = {
    "change": re.compile(
        r"\b(?:increas\w*|decreas\w*|chang\w*|grew|grow\w*|growth|rose|rise[sn]?|fell|fall\w*|"
        r"declin\w*|up(?!\s+to\b)|down|higher|lower|rais\w*|reduc\w*|cut|improv\w*|expand\w*|"
        r"points?|pp|bps|basis points?|previously|from)\b", re.IGNORECASE),
    "total": re.compile(r"\b(?:total\w*|aggregate\w*|combined|in all|together|collectively|"
                        r"sum)\b", re.IGNORECASE),
    "remaining": re.compile(r"\b(?:remain\w*|remainder|yet to|not yet|left|outstanding|"
                            r"unpaid|unspent|still)\b", re.IGNORECASE),
}


def kind_asked(question: str) -> tuple[str, str] | None:
    """('change', 'a change') when the question asks for a change, a total or what remains."""
    for kind, label, pat in _ASKED_KINDS:
        if pat.search(question):
            return kind, label
    return None


def _is_figure(m: re.Match[str]) -> bool:
    """A stated amount or rate, not a year, a day or a list number."""
    num = m.group("num")
    if _unit(m) != "plain":
        return True
    n = norm_number(num)
    return len(n.replace(".", "")) >= 3 and not (n.isdigit() and 1900 <= int(n) <= 2099)


def kind_problem(body: str, span: str, asked: tuple[str, str] | None,
                 given: frozenset[str] = frozenset()) -> str | None:
    """The sentence answers a change/total/remaining question with figures that the passage
    gives as something else: none of them stands near a word of that kind in the passage."""
    if asked is None:
        return None
    kind, label = asked
    stated = [m for m in _FIG_RE.finditer(CITE_RE.sub(" ", body)) if _is_figure(m)
              and norm_number(m.group("num")) not in given]
    if not stated:
        return None
    if kind == "share":  # a share is a percentage: an amount alone does not answer it
        if any(_unit(m) == "pct" for m in stated):
            return None
        shown = ", ".join(m.group(0).strip() for m in stated[:3])
        return f"the question asks for {label}, but the sentence gives {shown}, not a percentage"
    cue = _KIND_CUES[kind]
    for m in stated:
        n = norm_number(m.group("num"))
        for f in _FIG_RE.finditer(span):
            if norm_number(f.group("num")) != n:
                continue
            seg_start = max(span.rfind(".", 0, f.start()) + 1, f.start() - 80)
            near = span[seg_start: f.end() + 40]
            if cue.search(near):
                return None
    shown = ", ".join(m.group(0).strip() for m in stated[:3])
    return (f"the question asks for {label}, but the cited passage gives {shown} as a stated "
            f"amount, not as {label}")


_META_RE = re.compile(
    r"\b(?:passages?|documents?|context|sources?|filings?|provided (?:text|information)|"
    r"information (?:provided|given|available))\b[^.]{0,80}\b(?:do(?:es)? not|don't|doesn't|"
    r"did not|does not|no|not|neither|nor)\b"
    r"|^\W*(?:i (?:do not|don't|cannot|can't|could not|couldn't)|not (?:stated|mentioned|given|"
    r"specified|provided)|note:)", re.IGNORECASE)


def is_meta(sentence: str) -> bool:
    """A sentence about the documents ("The passages do not say why."), not about the world."""
    return bool(_META_RE.search(sentence)) and not claim_numbers(sentence)


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[str, ...]
    support: float
    numbers_missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def judge(sentence: str, cited: Sequence[Chunk], hits: Sequence[Chunk],
          given: frozenset[str] = frozenset(),
          repeated: frozenset[str] = frozenset(),
          asked: tuple[str, str] | None = None, lexicon: Lexicon = FINANCE) -> Verdict:
    """Whether the cited passages support what the sentence asserts; the reasons if not.
    `lexicon` maps a reader's terms to the passages' phrasings."""
    body = CITE_RE.sub(" ", sentence).strip()
    if not cited:
        return Verdict(("no passage supports it",), 0.0, ())
    full = "\n".join(c.text for c in cited)
    span = "\n".join(strip_boilerplate(c.text, repeated) for c in cited)
    reasons: list[str] = []
    nums = claim_numbers(body, given)
    have = numbers_in(span)
    missing = tuple(sorted(nums - have))
    if missing:
        only_boiler = [n for n in missing if n in numbers_in(full)]
        if only_boiler:
            reasons.append(f"{', '.join(only_boiler)} appears only in a page header, footer or "
                           "safe-harbour text of the cited passage")
        rest = [n for n in missing if n not in only_boiler]
        if rest:
            reasons.append(f"the cited passage does not contain {', '.join(rest)}")
    else:
        span_units = units_of(span)
        for m in _FIG_RE.finditer(body):
            n, u = norm_number(m.group("num")), _unit(m)
            if n not in nums or u == "plain":
                continue
            there = span_units.get(n, set())
            if there and "plain" not in there and u not in there:
                shown = "a percentage" if "pct" in there else "an amount"
                reasons.append(f"{m.group(0).strip()} is {shown} in the cited passage")
        reasons.extend(_period_problems(body, nums, span))
        wrong_kind = kind_problem(body, span, asked, given)
        if wrong_kind:
            reasons.append(wrong_kind)
    if rate_in_money(body):
        reasons.append("a rate is said to change by an amount of money")
    claimed = direction_claimed(body, lexicon)
    if claimed:
        found = direction_in_span(body, span)
        if found is not None and found[0] != claimed:
            word = "increase" if claimed > 0 else "decrease"
            reasons.append(f"says {word}, but the cited figures show the opposite "
                           f"({found[1][:120]})")
    who = entity_problem(body, cited, hits, lexicon)
    if who:
        reasons.append(who)
    support = max(support_of(body, strip_boilerplate(c.text, repeated), glossary=True,
                             claim_words=True, lexicon=lexicon) for c in cited)
    floor = MIN_SUPPORT_WITH_FIGURES if nums and not missing else MIN_SUPPORT
    if support < floor and not reasons:
        reasons.append("few of its words are in the cited passage"
                       + (" (outside its headers, footers and safe-harbour text)"
                          if support_of(body, full, glossary=True, claim_words=True,
                                     lexicon=lexicon) >= floor
                          else ""))
    return Verdict(tuple(reasons), support, missing)


def _period_problems(body: str, nums: set[str], span: str) -> list[str]:
    """A figure the sentence ties to a year ("$17,347 million in 2022": the year right after
    it, or right before it) that the span's labelled table row gives for another year."""
    rows = _rows(span) + [("", ser) for seg in segments(span) for sent in CLAUSES.pieces(seg)
                          for ser in [_prose_series(sent), _dated_series(sent)] if len(ser) >= 2]
    if not rows:
        return []
    out = []
    used: set[int] = set()  # positions of years already tied to a figure before them
    for m in _FIG_RE.finditer(body):
        n = norm_number(m.group("num"))
        if n not in nums or _YEAR_RE.fullmatch(m.group("num")):
            continue
        after = re.match(r"[^\d$€£]{0,25}?\b(?:in|for|of|during|at|by|as of)\s+"
                         r"(?:[a-z]+\s+\d{1,2},?\s+)?(?:fiscal\s+|fy\s?)?((?:19|20)\d\d)\b",
                         body[m.end():], re.IGNORECASE)
        before = re.search(r"\b(?:in|for|during)\s+(?:fiscal\s+|fy\s?)?((?:19|20)\d\d),?"
                           r"[^\d$€£]{0,25}$", body[: m.start()], re.IGNORECASE)
        if before and before.start(1) in used:
            before = None
        tied = after or before
        if not tied:
            continue
        if after:
            used.add(m.end() + after.start(1))
        year = int(tied.group(1))
        for _, cells in rows:
            if year not in {y for y, _, _ in cells}:
                continue
            where = {y for y, _, c in cells if norm_number(re.sub(r"[^\d.,]", "", c)) == n}
            if where and year not in where:
                out.append(f"{m.group(0).strip()} is the {min(where)} figure in the cited "
                           f"table, not {year}")
                return out
    return out
