"""Read figures out of a parsed document: table rows become cells (row label x period column),
and figures stated in sentences ('revenue was $1.24 billion') become cells with their sentence.

Tables are read from the page text pdfium lays out (one table row a line: 'Total net sales
107,006 135,987 177,866'), with the column header's years resolved to periods by the words above
them ('Three Months Ended July 2, 2023' -> Q2 2023) and the scale from '(in millions)'. A row
is kept only under a period header and only when its value count matches the header's columns,
so a table of contents or a paragraph never turns into numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.figures.values import (
    MONTHS,
    Period,
    column_periods,
    is_year_header,
    periods_in_question,
    scale_of,
    years_in,
)
from rag.text.numbers import CURRENCY, NUMBER, SCALE_OF_WORD, VALUE_TOKEN, parse_value
from rag.text.sentences import PROSE_FIGURES
from rag.types import Cell, ParsedDocument, Unit

MAX_CELLS_PER_DOC = 200_000

_TRAILING_VALUE = re.compile(rf"(?:^|\s)(\$\s*)?({VALUE_TOKEN})\s*$")
_STATEMENTS = [
    ("cash_flow", re.compile(r"statements? of cash flows?|cash flows? statements?", re.IGNORECASE)),
    ("balance", re.compile(r"balance sheets?|statements? of (?:consolidated )?financial position"
                           r"|statements? of condition", re.IGNORECASE)),
    ("income", re.compile(r"statements? of (?:consolidated )?(?:income|operations|earnings)"
                          r"|income statements?|statements? of comprehensive (?:income|loss)"
                          r"|profit and loss", re.IGNORECASE)),
    ("equity", re.compile(r"statements? of (?:changes in )?(?:stockholders|shareholders|equity)",
                          re.IGNORECASE)),
]
_TOC = re.compile(r"\bindex to (?:the )?(?:consolidated )?financial statements\b|"
                  r"^\s*table of contents\s*$", re.IGNORECASE)
_DATE_FRAGMENT = re.compile(
    r"^\s*(?:(?:{})\.?\s+\d{{1,2}},?\s*)?(?:(?:19|20)\d{{2}})?\s*$".format("|".join(MONTHS)), re.IGNORECASE)
_PER_SHARE = re.compile(r"per (?:common |ordinary |diluted |basic )?share|\beps\b", re.IGNORECASE)
_SHARES = re.compile(r"\bshares\b(?! of)|weighted[- ]average (?:number of )?(?:common )?shares",
                     re.IGNORECASE)


_NOT_SEGMENT = re.compile(
    r"\d|year|ended|months|weeks|quarter|december|january|june|september|march|million|"
    r"thousand|billion|statement|operations|income|earnings|assets|liabilit|equity|activities|"
    r"cash flow|expenses|revenues?|sales|costs?|adjustments|changes|table of contents|"
    r"consolidated|reported|total|per share|except|unaudited|\(", re.IGNORECASE)


def segment_of(section: str) -> str:
    """The business segment or region a row belongs to ('North America', 'AWS'), when its
    section heading is one; '' for headings that only describe the table or its columns."""
    s = " ".join((section or "").split()).rstrip(":")
    if not s or len(s) > 40 or len(s.split()) > 5 or _NOT_SEGMENT.search(s):
        return ""
    return s


def _split_row(line: str) -> tuple[str, list[str]]:
    """'Net income $ 5,363 $ 4,869' -> ('Net income', ['5,363', '4,869']) (tokens as printed)."""
    values: list[str] = []
    rest = line.rstrip()
    while True:
        m = _TRAILING_VALUE.search(rest)
        if not m:
            break
        values.append(m.group(2))
        rest = rest[: m.start()].rstrip()
    values.reverse()
    return rest.strip(" .:$"), values


def _is_label(text: str) -> bool:
    return len(re.findall(r"[A-Za-z]", text)) >= 3


def _statement_of(text: str) -> str:
    for name, pat in _STATEMENTS:
        if pat.search(text):
            return name
    return "other"


def _unit_for(label: str, section: str, pct: bool, scale_word: str | None, dollar: bool) -> str:
    if pct:
        return "%"
    if _PER_SHARE.search(label) or (_PER_SHARE.search(section) and "except" not in section.lower()
                                    and label.lower() in ("basic", "diluted", "total")) or (label.lower() in ("basic", "diluted") and
                                   "share" in section.lower()):
        return "USD per share"
    if _SHARES.search(label) or (label.lower() in ("basic", "diluted") and scale_word):
        return f"shares ({scale_word})" if scale_word else "shares"
    if scale_word:
        return f"USD {scale_word}"
    return "USD" if dollar else ""


class _PageReader:
    """State while reading one page's lines top to bottom."""

    def __init__(self, doc_id: str, doc_name: str, page: int | None, text: str) -> None:
        self.doc_id, self.doc_name, self.page = doc_id, doc_name, page
        self.lines = [ln.strip() for ln in text.split("\n")]
        head = "\n".join(self.lines[:12])
        self.statement = _statement_of(head)
        self.title = next((ln for ln in self.lines[:12] if _statement_of(ln) != "other"), "")
        self.toc = bool(_TOC.search(head)) and self.statement == "other"
        self.cells: list[Cell] = []

    def read(self) -> list[Cell]:
        if self.toc:
            return []
        periods: list[Period] = []
        header_text = ""
        scale: tuple | None = None
        section = ""
        context: list[str] = []
        pending_label = ""
        frag_years: list[int] = []
        frag_lines: list[str] = []
        for raw in self.lines:
            line = raw.strip()
            if not line:
                continue
            sc = scale_of(line)
            if sc and len(line) < 160:
                scale = sc
            # Multi-line date headers ('July 2,' / '2023' / 'July 3,' / '2022' ...)
            if _DATE_FRAGMENT.match(line) and (years_in(line) or re.search(r"[a-z]", line, re.IGNORECASE)):
                frag_lines.append(line)
                frag_years.extend(years_in(line))
                continue
            if len(frag_years) >= 2:
                ctx = " ".join(context[-6:] + frag_lines)
                periods = column_periods(frag_years, ctx,
                                         near=" ".join(context[-2:] + frag_lines))
                header_text = " ".join(frag_lines)
            elif frag_lines:
                context.extend(frag_lines)
            frag_years, frag_lines = [], []
            if is_year_header(line):
                ys = years_in(line)
                periods = column_periods(ys, " ".join(context[-6:] + [line]),
                                         near=" ".join(context[-2:] + [line]))
                if re.search(r"\bthereafter\b|\bbeyond\b", line, re.IGNORECASE):
                    periods = []  # a schedule of future years (maturities), not periods
                header_text = line
                if len(line) < 160 and scale_of(line):
                    scale = scale_of(line)
                pending_label = ""
                continue
            label, values = _split_row(line)
            if not values:
                if _is_label(line):
                    context.append(line)
                    pending_label = line.rstrip(":")
                    if (line.endswith(":") or len(line) < 70) and not scale_of(line) \
                            and not line.startswith("("):
                        section = line.rstrip(":")
                    if _statement_of(line) != "other" and len(line) < 120:
                        self.statement = _statement_of(line)
                        self.title = line
                continue
            if not label and pending_label:
                label = pending_label
            pending_label = ""
            if not periods or not _is_label(label):
                context.append(line)
                continue
            if len(values) >= 2 * len(periods):
                context.append(line)  # column groups (as reported / FX / constant) we
                continue  # cannot place: no cells rather than misplaced ones
            if len(values) > len(periods):
                values = values[-len(periods):]
            if len(values) != len(periods):
                context.append(line)
                continue
            self._emit(label, values, periods, header_text, scale, section, line)
        return self.cells

    def _emit(self, label: str, values: list[str], periods: list[Period], header: str,
              scale: tuple | None, section: str, line: str) -> None:
        header_years = years_in(header)
        for j, (tok, p) in enumerate(zip(values, periods, strict=True)):
            v, pct = parse_value(tok)
            if v is None:
                continue
            unit = _unit_for(label, section, pct, scale[1] if scale else None, "$" in line)
            self.cells.append(Cell(
                doc_id=self.doc_id, doc_name=self.doc_name, row_label=label[:200],
                period=p.label, value=str(v), text=tok, span=line[:500], unit=unit,
                page=self.page, table=self.title[:200], statement=self.statement,
                section=section[:200],
                column=str(header_years[j]) if j < len(header_years) else p.label,
                period_kind=p.kind, year=p.year, quarter=p.quarter, source="table",
            ))


# -- figures in sentences ------------------------------------------------------------------

_PROSE = re.compile(
    r"(?P<label>\b[A-Za-z][A-Za-z&' -]{2,50}?)\s+(?:was|were|of|totaled|totalled|reached|"
    r"came in at|amounted to|grew to|increased to|decreased to|rose to|fell to|declined to)\s+"
    r"(?:approximately |about |roughly )?"
    r"(?P<val>(?:" + CURRENCY + r"\s?" + NUMBER + r"(?:\s?(?:million|billion|thousand|[mbk]n?))?)"
    r"|" + NUMBER + r"\s?(?:%|percent))",
    re.IGNORECASE,
)
_STOP_LABEL = re.compile(r"^(?:the|our|its|their|this|that|which|and|total)\s+", re.IGNORECASE)
_PERIOD_TAIL = re.compile(
    r"\s+(?:in|for|during|of|over)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:quarter|year|period|"
    r"months?|half|fiscal(?:\s+year)?(?:\s+\d{4})?|q[1-4]|\d{4})$", re.IGNORECASE)
# 'an increase of 18%', 'a total of $4 million': a change or an amount, not a line item
_GENERIC_LABEL = re.compile(
    r"(?:an?|the|this|that|it|which|up|down|total|some|about)?\s*(?:increase|decrease|rise|"
    r"decline|growth|change|gain|loss|drop|improvement|reduction|total|amount|range|level|"
    r"figure|number|rate|impact|effect)s?", re.IGNORECASE)


def prose_cells(doc_id: str, doc_name: str, unit: Unit, default: Period | None,
                ordinal0: int = 0) -> list[Cell]:
    """Figures stated in sentences: 'Revenue was $1.24 billion, up 12%' -> a revenue cell."""
    out: list[Cell] = []
    text = unit.text
    if len(text) > 200_000:
        text = text[:200_000]
    for sent in PROSE_FIGURES.split(text):
        sent = " ".join(sent.split())
        if len(sent) > 600 or not re.search(r"\d", sent):
            continue
        for m in _PROSE.finditer(sent):
            label = _STOP_LABEL.sub("", m.group("label").strip())
            label = _STOP_LABEL.sub("", label)
            label = _PERIOD_TAIL.sub("", label).strip()
            if not _is_label(label) or len(label.split()) > 6 or _GENERIC_LABEL.fullmatch(label):
                continue
            val = m.group("val")
            found = re.search(NUMBER, val)
            if found is None:  # the value group always holds a number; never crash if not
                continue
            num = found.group(0)
            v, _ = parse_value(num)
            if v is None:
                continue
            pct = "%" in val or "percent" in val.lower()
            word = re.search(r"(million|billion|thousand|bn|mn|[mbk])\b", val[len(num):], re.IGNORECASE)
            scale = SCALE_OF_WORD.get(word.group(1).lower()) if word else None
            unit_s = "%" if pct else (f"USD {scale}" if scale else "USD")
            ps = periods_in_question(sent)
            p = ps[0] if len(ps) == 1 else default
            if p is None:
                continue
            out.append(Cell(
                doc_id=doc_id, doc_name=doc_name, row_label=label[:120], period=p.label,
                value=str(v), text=val.strip(), span=sent[:500], unit=unit_s, page=unit.page,
                row=unit.row, turn=unit.turn, section=unit.speaker or unit.heading or "",
                period_kind=p.kind,
                year=p.year, quarter=p.quarter, source="prose",
                ordinal=ordinal0 + len(out),
            ))
    return out


# -- tables of figures (CSV / XLSX) ------------------------------------------------------------

def _sheet_cells(doc: ParsedDocument, doc_id: str) -> list[Cell]:
    columns = [str(c) for c in doc.meta.get("columns") or []]
    keys = doc.meta.get("column_keys") or {}
    col_periods: dict[str, Period] = {}
    for c in columns:
        ps = periods_in_question(c)
        if len(ps) == 1 and len(c) <= 40:
            col_periods[c] = ps[0]
    if not col_periods:
        return []
    scale = scale_of(" ".join(columns)) or scale_of(doc.name.replace("_", " "))
    out: list[Cell] = []
    for u in doc.units:
        label = u.text.strip()
        if not _is_label(label) or len(label) > 200:
            continue
        for c, p in col_periods.items():
            raw = u.meta.get(keys.get(c, c))
            if raw is None or isinstance(raw, bool):
                continue
            tok = str(raw).strip()
            v, pct = parse_value(tok)
            if v is None or not re.fullmatch(VALUE_TOKEN, tok.replace(" ", "")):
                continue
            out.append(Cell(
                doc_id=doc_id, doc_name=doc.name, row_label=label, period=p.label, value=str(v),
                text=tok, span=f"{label}: {c} = {tok}", row=u.row, column=c,
                unit=_unit_for(label, "", pct, scale[1] if scale else None, "$" in tok),
                table=doc.filename, statement=_statement_of(label), period_kind=p.kind,
                year=p.year, quarter=p.quarter, source="sheet",
            ))
    return out


def document_period(doc: ParsedDocument) -> Period | None:
    """The period a document is about, from its name or first page ('Q2 2026 earnings call')."""
    head = doc.name.replace("_", " ") + " " + (doc.units[0].text[:2000] if doc.units else "")
    ps = [p for p in periods_in_question(head) if p.kind == "Q"]
    return ps[0] if ps else None


def extract_cells(doc: ParsedDocument, doc_id: str) -> list[Cell]:
    """Every figure of a parsed document, as cells; bounded by MAX_CELLS_PER_DOC."""
    cells: list[Cell] = []
    if doc.kind == "table":
        cells = _sheet_cells(doc, doc_id)
    else:
        default = document_period(doc)
        for u in doc.units:
            if doc.kind == "pdf":
                cells.extend(_PageReader(doc_id, doc.name, u.page, u.text).read())
            if doc.kind != "pdf" or len(cells) < MAX_CELLS_PER_DOC:
                cells.extend(prose_cells(doc_id, doc.name, u, default))
            if len(cells) >= MAX_CELLS_PER_DOC:
                break
    return [_with_ordinal(c, i) for i, c in enumerate(cells[:MAX_CELLS_PER_DOC])]


def _with_ordinal(c: Cell, i: int) -> Cell:
    from dataclasses import replace

    return replace(c, ordinal=i)


def cells_text(cells: Iterable[Cell]) -> str:
    """A plain listing (for debugging and the CLI)."""
    return "\n".join(f"{c.doc_name} {c.location()} | {c.row_label} | {c.period} | {c.text} "
                     f"{c.unit}" for c in cells)
