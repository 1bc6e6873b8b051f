"""The scale and period grammar of financial tables: '(in millions)', 'July 2, 2023' -> Q2 2023.

Pure functions over strings, shared by extraction (reading cells) and the metric engine (reading
questions). Value tokens ('(1,577)' -> -1577) are read by `rag.text.numbers`, as `Decimal` so
the engine's arithmetic is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from rag.text.numbers import SCALE_WORDS

_SCALE_RE = re.compile(
    r"\((?:\$|dollars|usd|amounts)?\s*(?:in\s+)?(?P<w>thousands|millions|billions)\b"
    r"|\bin\s+(?P<w2>thousands|millions|billions)\b"
    r"|\((?P<w3>thousands|millions|billions)\b",
    re.IGNORECASE,
)
def scale_of(text: str) -> tuple[Decimal, str] | None:
    """The scale a table declares ('(in millions, except per share data)') or None."""
    m = _SCALE_RE.search(text)
    if not m:
        return None
    word = (m.group("w") or m.group("w2") or m.group("w3")).lower()
    return SCALE_WORDS[word], word


# -- periods ---------------------------------------------------------------------------------

MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9

_ORDINAL_Q = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3,
              "4th": 4}


def quarter_of_month(month: int, day: int = 28) -> int:
    """The calendar quarter a period ending on this date closes ('July 2' closes Q2)."""
    if day <= 10:  # 52/53-week years end a few days past the month: July 2 closes June
        month = 12 if month == 1 else month - 1
    return (month - 1) // 3 + 1


@dataclass(frozen=True)
class Period:
    """A reporting period: 'FY' (a fiscal year), 'Q' (a quarter), 'H'/'9M' (year to date),
    or 'I' (an instant: a balance at a date, labelled by its fiscal year)."""

    kind: str
    year: int
    quarter: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "Q" and self.quarter:
            return f"Q{self.quarter} {self.year}"
        if self.kind in ("6M", "9M"):
            return f"{self.kind} {self.year}"
        return f"FY{self.year}"


_YEAR = r"(?:19[89]\d|20[0-4]\d)"
_YEAR_RE = re.compile(rf"(?<![\d,.$])({_YEAR})(?![\d,%])")


def years_in(line: str) -> list[int]:
    return [int(y) for y in _YEAR_RE.findall(line)]


def is_year_header(line: str) -> bool:
    """A column header line: two or more years and little else ('(Millions) 2018 2017 2016',
    'December 31, 2016 2017', 'Fiscal Year 2023 2022')."""
    ys = years_in(line)
    if len(ys) < 2 or len(set(ys)) < 2 and len(ys) < 4:
        return False
    rest = _YEAR_RE.sub(" ", line)
    rest = re.sub(r"\([^)]*\)", " ", rest)
    words = re.findall(r"[A-Za-z]+", rest)
    allowed = set(MONTHS) | {"december", "fiscal", "year", "years", "ended", "ending", "as",
                             "of", "and", "at", "the", "months", "three", "six", "nine",
                             "twelve", "weeks", "quarter", "full", "fy", "q", "total",
                             "change", "restated", "actual", "unaudited", "audited", "in",
                             "millions", "thousands", "billions", "except", "per", "share",
                             "data", "amounts", "dollars", "usd", "percent"}
    stray = [w for w in words if w.lower() not in allowed]
    return len(stray) <= 2


_ANNUAL = re.compile(r"\byears? ended\b|\bfiscal years?\b|\btwelve months ended\b|"
                     r"\bfull[- ]year\b|\b52 weeks\b|\b53 weeks\b", re.IGNORECASE)
_QUARTERLY = re.compile(r"\b(?:three|3|thirteen|13|twelve|12)[ -](?:months|weeks) ended\b|"
                        r"\bquarters? ended\b", re.IGNORECASE)


def column_periods(years: list[int], context: str, near: str | None = None) -> list[Period]:
    """Periods of a header's year columns, read with the words above them ('Three Months Ended
    July 2,' ... 'Six Months Ended'). Without quarter words every column is a fiscal year.

    `near` is the header and the line or two just above it: 'Year Ended December 31' there
    makes the columns fiscal years whatever a title further up says ('Fourth Quarter and Full
    Year Results')."""
    if near is not None and _ANNUAL.search(near) and not _QUARTERLY.search(near):
        return [Period("FY", y) for y in years]
    ctx = context.lower()
    n = len(years)
    kinds: list[tuple[str, int | None]] = []
    quarter = None
    m = re.search(r"(?:three|3|twelve|12|thirteen|13)[ -](?:months|weeks) ended,?\s+"
                  r"([a-z]+)\.?\s+(\d{1,2})", ctx)
    if m and m.group(1)[:3] in MONTHS:
        quarter = quarter_of_month(MONTHS[m.group(1)[:3]], int(m.group(2)))
    has_q = bool(re.search(r"\b(?:three|3|twelve|12|thirteen|13)[ -](?:months|weeks)\b"
                           r"|\bquarter\b", ctx))
    has_ytd = re.search(r"\b(six|nine|6|9|twenty-?four|twenty-?six|thirty-?six|39|36|24|26)"
                        r"[ -](?:months|weeks)\b", ctx)
    ytd = None
    if has_ytd:
        w = has_ytd.group(1)
        ytd = "6M" if w in ("six", "6", "twenty-four", "twentyfour", "24", "twenty-six",
                            "twentysix", "26") else "9M"
    if has_q and quarter is None:
        dm = re.search(r"\b({})\.?\s+(\d{{1,2}}),?\s+(?:19|20)\d{{2}}".format("|".join(MONTHS)), ctx)
        if dm:
            quarter = quarter_of_month(MONTHS[dm.group(1)[:3]], int(dm.group(2)))
    if has_q and quarter is None:
        qm = re.search(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[ -]quarter", ctx)
        quarter = _ORDINAL_Q[qm.group(1)] if qm else None
    if has_q and ytd and n % 2 == 0 and quarter:
        half = n // 2
        kinds = [("Q", quarter)] * half + [(ytd, None)] * half
    elif has_q and quarter and not ytd:
        kinds = [("Q", quarter)] * n
    elif ytd and not has_q:
        kinds = [(ytd, None)] * n
    elif has_q and not quarter:
        return []  # quarters we cannot place: better no period than a wrong one
    else:
        kinds = [("FY", None)] * n
    return [Period(k, y, q) for (k, q), y in zip(kinds, years, strict=True)]


_Q_PATTERNS = [
    # Q2 2023, Q2'23, Q2 FY2023, 2Q23, 2Q 2023
    re.compile(r"\bq([1-4])\s*(?:'|’|fy|of\s+(?:fiscal\s+(?:year\s+)?|fy\s*)?)?\s*((?:19|20)?\d{2})\b",
               re.IGNORECASE),
    re.compile(r"\b([1-4])q\s*'?((?:19|20)?\d{2})\b", re.IGNORECASE),
    re.compile(r"\b(?:fy\s*)?((?:19|20)\d{2})\s*q([1-4])\b", re.IGNORECASE),
    re.compile(r"\b(first|second|third|fourth)[ -]quarter(?:\s+of)?\s+(?:fiscal\s+(?:year\s+)?|fy\s*)?"
               r"((?:19|20)\d{2})\b", re.IGNORECASE),
    # 'the quarter ended June 30, 2023', 'three months ended July 2, 2023'
    re.compile(r"\b(?:quarter|three months|3 months|13 weeks) ended,?\s+([a-z]{3,9})\.?\s+(\d{1,2}),?"
               r"\s+((?:19|20)\d{2})\b", re.IGNORECASE),
]
_FY_PATTERNS = [
    re.compile(r"\bfy\s*'?((?:19|20)?\d{2})\b", re.IGNORECASE),
    re.compile(r"\bfiscal(?:\s+year)?\s+((?:19|20)\d{2})\b", re.IGNORECASE),
]


def _year4(y: str) -> int:
    return int(y) if len(y) == 4 else 2000 + int(y)


def periods_in_question(q: str) -> list[Period]:
    """Periods a question names, in order: 'FY2018', 'FY20', 'Q2 2023', 'Q2'2023',
    'fiscal 2022', 'between 2016 and 2017', 'FY2017-FY2019' (the range's every year)."""
    found: list[tuple[int, Period]] = []
    spans: list[tuple[int, int]] = []

    def add(pos: int, end: int, p: Period) -> None:
        if any(s <= pos < e for s, e in spans):
            return
        spans.append((pos, end))
        found.append((pos, p))

    for i, pat in enumerate(_Q_PATTERNS):
        for m in pat.finditer(q):
            if i == 2:
                add(m.start(), m.end(), Period("Q", _year4(m.group(1)), int(m.group(2))))
            elif i == 3:
                add(m.start(), m.end(), Period("Q", _year4(m.group(2)),
                                               _ORDINAL_Q[m.group(1).lower()]))
            elif i == 4:
                month = MONTHS.get(m.group(1)[:3].lower())
                if month:
                    add(m.start(), m.end(), Period("Q", int(m.group(3)),
                                                   quarter_of_month(month, int(m.group(2)))))
            else:
                add(m.start(), m.end(), Period("Q", _year4(m.group(2)), int(m.group(1))))
    for pat in _FY_PATTERNS:
        for m in pat.finditer(q):
            add(m.start(), m.end(), Period("FY", _year4(m.group(1))))
    for m in re.finditer(rf"(?<![\d$])({_YEAR})(?![\d,%])", q):
        add(m.start(), m.end(), Period("FY", int(m.group(1))))
    found.sort(key=lambda t: t[0])
    out = [p for _, p in found]
    # A range 'FY2017-FY2019' / '2017 through 2019' means every year in it.
    rng = re.search(rf"(?:fy\s*)?({_YEAR}|\d{{2}})\s*(?:-|–|to|through)\s*(?:fy\s*)?({_YEAR})",
                    q, re.IGNORECASE)
    if rng and len(out) >= 2 and all(p.kind == "FY" for p in out[:2]):
        a, b = sorted((out[0].year, out[1].year))
        if 1 < b - a <= 10:
            out = [Period("FY", y) for y in range(a, b + 1)] + out[2:]
    dedup: list[Period] = []
    for p in out:
        if p not in dedup:
            dedup.append(p)
    return dedup


def fmt_decimal(v: Decimal, places: int | None = None) -> str:
    """A value with thousands separators: 1577 -> '1,577'; with `places`, rounded half up."""
    if places is not None:
        q = Decimal(1).scaleb(-places)
        v = v.quantize(q, rounding="ROUND_HALF_UP")
        return f"{v:,.{places}f}"
    if v == v.to_integral_value():
        return f"{v:,.0f}"
    return f"{v:,f}".rstrip("0").rstrip(".")
