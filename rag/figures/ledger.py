"""What the Figures page shows, as plain functions (no streamlit): the cells table, the ledger
(one row per line item, one column per period) and where sources disagree.

A ledger row gathers every cell whose printed row label is the same once lowercased and its
whitespace collapsed. Two cells of one row and period *disagree* when they come from different
places (another document, or another page of the same one) and their amounts differ. Amounts
are compared in their units' scale, so '1,577' in millions and '1,577,000' in thousands agree;
a value printed twice on one page (a table and its summary) is never a disagreement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from rag.figures.extract import segment_of
from rag.text.numbers import SCALE_WORDS
from rag.types import Cell

DISAGREE = "⚠ sources disagree"

STATEMENTS: dict[str, str] = {
    "income": "income statement",
    "balance": "balance sheet",
    "cash_flow": "cash flow statement",
    "equity": "equity statement",
    "other": "other",
}

CELL_COLUMNS = ["document", "page", "where", "statement", "row label", "period", "value", "unit",
                "source"]

_KIND_ORDER = {"Q": 0, "6M": 1, "9M": 2, "FY": 3, "I": 3}


def norm_label(label: str) -> str:
    """The ledger's key of a printed row label: lower case, whitespace collapsed."""
    return " ".join(label.lower().split())


def cell_key(c: Cell) -> str:
    """A stable id of a cell within a workspace (for pickers and selections)."""
    return f"{c.doc_id}:{c.ordinal}:{c.period}:{norm_label(c.row_label)}"


def statement_label(statement: str) -> str:
    return STATEMENTS.get(statement, statement or "other")


def _period_sort(c: Cell) -> tuple:
    year = c.year if c.year is not None else 9999
    return (year, _KIND_ORDER.get(c.period_kind, 4), c.quarter or 0, c.period)


def periods_of(cells: Iterable[Cell]) -> list[str]:
    """The distinct period labels of the cells, oldest first ('Q1 2024', ..., 'FY2024')."""
    best: dict[str, tuple] = {}
    for c in cells:
        key = _period_sort(c)
        if c.period not in best or key < best[c.period]:
            best[c.period] = key
    return sorted(best, key=lambda p: best[p])


def statements_of(cells: Iterable[Cell]) -> list[str]:
    """The statements the cells come from, in the order of STATEMENTS (unknown ones last)."""
    have = {c.statement or "other" for c in cells}
    order = list(STATEMENTS)
    return sorted(have, key=lambda s: (order.index(s) if s in order else len(order), s))


def filter_cells(cells: Iterable[Cell], doc_ids: Sequence[str] = (),
                 statements: Sequence[str] = (), item: str = "",
                 periods: Sequence[str] = ()) -> list[Cell]:
    """The cells the page's filters keep (an empty filter keeps everything). `item` matches
    anywhere in the row label, ignoring case and spacing."""
    docs, stmts, pers = set(doc_ids), set(statements), set(periods)
    needle = norm_label(item)
    out = []
    for c in cells:
        if docs and c.doc_id not in docs:
            continue
        if stmts and (c.statement or "other") not in stmts:
            continue
        if pers and c.period not in pers:
            continue
        if needle and needle not in norm_label(c.row_label):
            continue
        out.append(c)
    return out


def cell_rows(cells: Iterable[Cell]) -> list[dict]:
    """The cells table: one row a cell, the value exactly as printed."""
    return [{"document": c.doc_name, "page": c.page, "where": c.location(),
             "statement": statement_label(c.statement),
             "row label": c.row_label, "period": c.period, "value": c.text, "unit": c.unit,
             "source": c.source} for c in cells]


def amount(c: Cell) -> Decimal | None:
    """The cell's number in base units when its unit names a scale ('USD millions'), else as
    stored; None when the stored value is not a number."""
    try:
        v = Decimal(str(c.value))
    except (InvalidOperation, ValueError):
        return None
    for word, factor in SCALE_WORDS.items():
        if word in (c.unit or "").lower():
            return v * factor
    return v


def _unit_family(c: Cell) -> str:
    """What kind of quantity: scaled money and bare amounts compare with each other."""
    u = (c.unit or "").lower()
    if u == "%":
        return "%"
    if "per share" in u:
        return "per share"
    if u.startswith("shares"):
        return "shares"
    return "amount"


def _where(c: Cell) -> tuple[str, int | None, int | None]:
    return (c.doc_id, c.page, c.row)


def _same_amount(a: Cell, b: Cell) -> bool:
    if _unit_family(a) != _unit_family(b):
        return False
    x, y = amount(a), amount(b)
    if x is None or y is None:
        return a.text.strip() == b.text.strip()
    return x == y


@dataclass(frozen=True)
class Variant:
    """One value a source prints for a line item and period."""

    text: str
    unit: str
    doc_name: str
    page: int | None
    row: int | None = None

    def where(self) -> str:
        if self.page is not None:
            return f"{self.doc_name}, p. {self.page}"
        if self.row is not None:
            return f"{self.doc_name}, row {self.row}"
        return self.doc_name


@dataclass
class LedgerRow:
    """One line item across periods, with the documents behind it."""

    key: str
    label: str
    values: dict[str, str] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    conflicts: dict[str, list[Variant]] = field(default_factory=dict)

    @property
    def disagrees(self) -> bool:
        return bool(self.conflicts)


def _conflict(cells: list[Cell]) -> list[Variant]:
    """The values of one label+period, one per value and place, when sources disagree (two
    amounts printed in different places); [] when they agree."""
    groups: list[list[Cell]] = []
    for c in cells:
        for g in groups:
            if _same_amount(g[0], c):
                g.append(c)
                break
        else:
            groups.append([c])
    # Two amounts within one place only (a page's 'Total' under two headings) are not a
    # disagreement between sources. With two amounts and two places, some pair of cells
    # prints different amounts in different places.
    if len(groups) < 2 or len({_where(c) for c in cells}) < 2:
        return []
    out = []
    for g in groups:
        seen = set()
        for c in g:
            if _where(c) not in seen:
                seen.add(_where(c))
                out.append(Variant(c.text, c.unit, c.doc_name, c.page, c.row))
    return out


def _conflict_text(variants: list[Variant]) -> str:
    texts = list(dict.fromkeys(v.text for v in variants))
    if len(texts) < 2:  # the same digits in different units
        texts = list(dict.fromkeys(f"{v.text} ({v.unit or 'no unit'})" for v in variants))
    return " / ".join(texts)


def build_ledger(cells: Iterable[Cell]) -> list[LedgerRow]:
    """One row per normalized line-item label, in the order labels first appear."""
    rows: dict[str, LedgerRow] = {}
    by_period: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        key = norm_label(c.row_label)
        if not key:
            continue
        seg = segment_of(c.section)  # 'North America: Net sales' is not the company's
        label = " ".join(c.row_label.split())
        if seg:
            key, label = f"{norm_label(seg)}: {key}", f"{seg}: {label}"
        row = rows.get(key)
        if row is None:
            row = rows[key] = LedgerRow(key, label)
        if c.doc_name not in row.documents:
            row.documents.append(c.doc_name)
        if c.unit and c.unit not in row.units:
            row.units.append(c.unit)
        st = statement_label(c.statement)
        if st not in row.statements:
            row.statements.append(st)
        by_period.setdefault((key, c.period), []).append(c)
    for (key, period), group in by_period.items():
        row = rows[key]
        conflict = _conflict(group)
        if conflict:
            row.conflicts[period] = conflict
            row.values[period] = _conflict_text(conflict)
        else:
            row.values[period] = group[0].text
    return list(rows.values())


def ledger_records(rows: Sequence[LedgerRow], periods: Sequence[str] | None = None
                   ) -> tuple[list[dict], list[str]]:
    """The ledger as table records ('line item', a column per period, 'unit', 'documents',
    'check') and its column order; periods default to every period of the rows, oldest
    first as given by the caller (pass `periods_of(cells)`)."""
    if periods is None:
        periods = list(dict.fromkeys(p for r in rows for p in r.values))
    cols = ["line item", *periods, "unit", "documents", "check"]
    out = []
    for r in rows:
        rec: dict = {"line item": r.label}
        for p in periods:
            rec[p] = r.values.get(p, "")
        rec["unit"] = ", ".join(r.units)
        rec["documents"] = "; ".join(r.documents)
        rec["check"] = (f"{DISAGREE} ({', '.join(p for p in periods if p in r.conflicts)})"
                        if r.disagrees else "")
        out.append(rec)
    return out, cols


def disagreements(rows: Sequence[LedgerRow]) -> list[dict]:
    """One record per line item and period whose sources disagree, with who says what."""
    out = []
    for r in rows:
        for period, variants in r.conflicts.items():
            out.append({"line item": r.label, "period": period,
                        "values": "; ".join(f"{v.text} {v.unit}".strip() + f" ({v.where()})"
                                            for v in variants)})
    return out


_NUMBER_CHAR = re.compile(r"[\d.,]")


def value_spans(span: str, text: str) -> list[tuple[int, int]]:
    """Where the printed value stands in its line, as whole tokens only (so '100' is not
    found inside '1,100' or '2100'); every occurrence when it is printed more than once."""
    text = text.strip()
    if not text:
        return []
    out, pos = [], 0
    while True:
        i = span.find(text, pos)
        if i < 0:
            break
        j = i + len(text)
        before = span[i - 1] if i > 0 else ""
        after = span[j] if j < len(span) else ""
        if not (before and (_NUMBER_CHAR.match(before) or before.isalpha())) and \
                not (after and (after.isdigit() or after.isalpha()
                                or (after in ",." and span[j + 1:j + 2].isdigit()))):
            out.append((i, j))
        pos = i + 1
    return out
