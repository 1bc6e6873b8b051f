"""Answer numeric questions by computation over cited cells: the model never makes a number.

`FigureEngine.answer(question, doc_ids)` reads what the question asks (a metric from the library
or a line item, its periods, rounding and unit), finds each operand's cell, computes in exact
decimal, and returns a `Computation` with the formula written out and every operand's cell.
When an operand is not found it says which one and where it looked, instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from rag.figures.extract import segment_of
from rag.figures.metrics import BUNDLES, ITEMS, LOOKUP_TRIGGERS, METRICS, Bundle, LineItem, Metric
from rag.figures.store import FigureStore
from rag.figures.values import Period, fmt_decimal, periods_in_question
from rag.text.sentences import QUICK
from rag.types import Cell, Chunk, Citation

_NUMERIC_INTENT = re.compile(
    r"\b(?:what (?:is|was|were|are)|how much|how many|calculate|compute|ratio|margin|amount|"
    r"in (?:usd|\$|dollars|millions|billions|percent)|round|improv|grow|grew|growth|change|"
    r"compare|increase|decrease|declin|higher|lower|average|total|figure|value|rate|level|"
    r"share of|proportion|portion|percentage|how (?:big|large|high|low))\b"
    r"|%", re.IGNORECASE)
_EXPLAIN = re.compile(r"\b(?:why|drove|drive[sn]?|drivers?|explain|reasons?|caus|factors?|"
                      r"what led|attribut|primarily due)\b", re.IGNORECASE)
_TREND = re.compile(r"\b(?:improv\w*|trend|worsen\w*|deteriorat\w*|getting (?:better|worse)|"
                    r"over time|profile|compare[sd]?|between|from .{1,30} to|versus|vs\.?)\b",
                    re.IGNORECASE)
# A lookup answers 'what was X' / 'how much X', never 'which categories are over 20% of X'.
_LOOKUP_INTENT = re.compile(
    r"^(?:(?!\b(?:which|any|whether|are there|who|list)\b).)*"
    r"\b(?:what (?:is|was|were|are)(?: the)?|how much|quantity of|amount of|total|"
    r"grow|grew|change|increase|decrease|compare|improv)\b", re.IGNORECASE | re.DOTALL)
_IMPROVING = re.compile(r"\b(?:improv\w*|trend\w*|worsen\w*|deteriorat\w*|getting (?:better|"
                        r"worse)|over time|profile)\b", re.IGNORECASE)
# 'Is X capital-intensive?', 'Does X have a healthy liquidity profile?', 'How profitable is X?'
_ASSESS = re.compile(r"^\s*(?:is|are|does|do|has|have|how|would|was|were)\b", re.IGNORECASE)
_YOY = re.compile(r"year[- ]over[- ]year|\byoy\b|prior[- ]year|same (?:quarter|period)", re.IGNORECASE)


def _norm(label: str) -> str:
    s = label.lower().replace("’", "'").replace("‘", "'")
    s = re.sub(r"\((?:[a-z]|\d{1,2}|see note[^)]*|note \d+[^)]*)\)", " ", s)
    s = re.sub(r"\s*[—–]\s*", " — ", s)
    s = re.sub(r"[\s:]+$", "", re.sub(r"\s+", " ", s)).strip(" .,;$")
    return s


_BAD_CONTEXT = re.compile(r"\b(?:change in|changes in|effect of|per share|proceeds|increase|"
                          r"decrease|percent|%|margin|ratio|adjust|deferred|other)\b")


def label_score(label: str, item: LineItem) -> float:
    """How well a printed row label names a line item (0 = not at all)."""
    n = _norm(label)
    best = 0.0
    for i, alias in enumerate(item.aliases):
        bonus = 0.02 * (len(item.aliases) - i)
        if n == alias:
            best = max(best, 3.0 + bonus)
        elif n.startswith(alias) and (re.match(r"^\s*\(", n[len(alias):])
                                      or n[len(alias):].strip() in ("", "net", ", net")
                                      or re.match(r"^[\s,—–-]*net of\b", n[len(alias):])):
            best = max(best, 2.5 + bonus)
        elif n.startswith((alias + " attributable to", alias + ", net")):
            best = max(best, 2.0 + bonus)
        elif alias in n and len(alias) > 8 and not _BAD_CONTEXT.search(n.replace(alias, "")):
            best = max(best, 1.0 + bonus)
    return best


def _period_matches(c: Cell, p: Period) -> bool:
    if c.year != p.year:
        return False
    if p.kind == "Q":
        return c.period_kind == "Q" and c.quarter == p.quarter
    if p.kind == "FY":
        return c.period_kind in ("FY", "I")
    return c.period_kind == p.kind


def prior(p: Period, yoy: bool) -> Period:
    if p.kind == "Q" and not yoy:
        return Period("Q", p.year - 1, 4) if p.quarter == 1 else Period("Q", p.year,
                                                                       (p.quarter or 2) - 1)
    return Period(p.kind, p.year - 1, p.quarter)


def cell_chunk(cell: Cell, chunks: list[Chunk] | None = None) -> Chunk:
    """The stored passage holding the cell's line (so a citation opens the real page), or a
    passage made of the line itself when none holds it verbatim."""
    for c in chunks or []:
        if (cell.page is None or c.page == cell.page) and cell.span[:120] in c.text:
            return c
    return Chunk(id=f"cell:{cell.doc_id}:{cell.ordinal}", doc_id=cell.doc_id,
                 doc_name=cell.doc_name, ordinal=cell.ordinal, text=cell.span, kind="figure",
                 page=cell.page, row=cell.row)


def cited(citation: Citation, **where: Any) -> dict[str, Any]:
    """An operand's citation in JSON: the one `Citation` shape (`Citation.to_dict`), with where
    in the table the figure sits (`row`, `row_label`, `column`) and the line it was read from
    (`span`, the same text as `quote`)."""
    return {**citation.to_dict(), "span": citation.quote, **where}


@dataclass
class Operand:
    name: str
    period: str
    value: Decimal
    cell: Cell

    def shown(self) -> str:
        return f"{self.name} ({self.period}) {self.cell.text}"

    def citation(self, n: int, chunk: Chunk | None = None) -> Citation:
        """The operand's cell as cited passage [n]: its line, quoted from `chunk` (the stored
        passage holding it) or from a passage made of the line itself."""
        return Citation(n, chunk or cell_chunk(self.cell), self.cell.span, 1.0)

    def to_dict(self, citation: int | None = None, chunk: Chunk | None = None
                ) -> dict[str, Any]:
        c = self.cell
        cite = cited(self.citation(citation or 0, chunk), row=c.row, row_label=c.row_label,
                     column=c.column)
        cite["n"] = citation  # None: an operand the answer's numbering does not reach
        return {"name": self.name, "value": str(self.value), "period": self.period,
                "text": c.text, "unit": c.unit, "citation": cite}


@dataclass
class Computation:
    """One computed (or looked-up) answer: result, formula and the operands' cells."""

    kind: str  # "lookup" | "metric"
    label: str
    period: str
    result: Decimal | None
    result_text: str
    formula: str
    operands: list[Operand] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    definition: str = ""
    doc_name: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None and not self.missing

    def to_dict(self, numbers: dict[int, int] | None = None,
                chunks: dict[int, Chunk] | None = None) -> dict[str, Any]:
        """`numbers` maps id(cell) to its citation number in the whole answer, `chunks` to the
        stored passage that holds its line (the answer's citation of it)."""
        numbers = numbers or {id(o.cell): i + 1 for i, o in enumerate(self.operands)}
        chunks = chunks or {}
        return {"kind": self.kind, "metric": self.label, "period": self.period,
                "formula": self.formula, "definition": self.definition,
                "operands": [o.to_dict(numbers.get(id(o.cell)), chunks.get(id(o.cell)))
                             for o in self.operands],
                "result": self.result_text if self.ok else None,
                "missing": self.missing}


@dataclass
class NumericAnswer:
    """What the engine says to a question: one computation per period asked, and a sentence of
    judgement (direction of change) written by code from the computed values."""

    question: str
    computations: list[Computation]
    judgement: str = ""

    @property
    def ok(self) -> bool:
        return any(c.ok for c in self.computations)

    @property
    def missing(self) -> list[str]:
        return [m for c in self.computations for m in c.missing]

    def operands(self) -> list[Operand]:
        seen: dict[tuple, Operand] = {}
        for c in self.computations:
            for o in c.operands:
                seen.setdefault((o.cell.doc_id, o.cell.ordinal, o.cell.row_label, o.period), o)
        return list(seen.values())

    def to_dict(self, chunks: dict[int, Chunk] | None = None) -> dict[str, Any]:
        """The JSON of `ragdesk ask --json`'s computation; `chunks` maps id(cell) to the stored
        passage the answer cites for it (else each line is its own passage)."""
        numbers = {id(o.cell): i + 1 for i, o in enumerate(self.operands())}
        ok = [c for c in self.computations if c.ok]
        first = ok[-1] if ok else self.computations[0]
        d = first.to_dict(numbers, chunks)
        d["missing"] = self.missing
        if len(self.computations) > 1:
            d["periods"] = [c.to_dict(numbers, chunks) for c in self.computations]
        d["judgement"] = self.judgement
        return d


class _Missing(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class FigureEngine:
    """Reads questions, finds operand cells in a workspace's figure store, computes."""

    def __init__(self, store: FigureStore) -> None:
        self.store = store
        self._cache: tuple[tuple[str, ...], list[Cell]] | None = None

    # -- reading the question ----------------------------------------------------------------

    @staticmethod
    def metric_of(question: str) -> Metric | None:
        q = question.lower()
        best: tuple[int, Metric] | None = None
        for m in METRICS.values():
            for t in m.triggers:
                hit = re.search(t, q)
                if hit and (best is None or len(hit.group(0)) > best[0]):
                    best = (len(hit.group(0)), m)
        return best[1] if best else None

    @staticmethod
    def lookup_of(question: str) -> LineItem | None:
        q = question.lower()
        best: tuple[int, str] | None = None
        for name, pats in LOOKUP_TRIGGERS.items():
            for t in pats:
                hit = re.search(t, q)
                if hit and (best is None or len(hit.group(0)) > best[0]):
                    best = (len(hit.group(0)), name)
        return ITEMS[best[1]] if best else None

    @staticmethod
    def bundle_of(question: str) -> Bundle | None:
        """The assessment an 'Is X capital-intensive?' / 'Does X have a healthy liquidity
        profile?' question asks for (a yes/no or how question only)."""
        if not _ASSESS.search(question):
            return None
        q = question.lower()
        for b in BUNDLES.values():
            if any(re.search(t, q) for t in b.triggers):
                return b
        return None

    @staticmethod
    def is_numeric(question: str) -> bool:
        """A question whose main ask (its first sentence) is a figure, not an explanation:
        'Does X have an improving gross margin? If gross margin is not useful, explain why'
        is numeric; 'What drove the margin change?' is not."""
        first = (QUICK.split(question.strip(), maxsplit=1) or [""])[0]
        if FigureEngine.bundle_of(first) is not None and not _EXPLAIN.search(first):
            return True
        return bool(_NUMERIC_INTENT.search(question)) and not (
            _EXPLAIN.search(first) and not re.search(r"\b(?:calculate|compute|what is|"
                                                      r"what was)\b", first, re.IGNORECASE))

    @staticmethod
    def places_of(question: str, default: int) -> int:
        q = question.lower()
        for word, n in (("two decimal", 2), ("2 decimal", 2), ("one decimal", 1),
                        ("1 decimal", 1), ("three decimal", 3), ("no decimal", 0),
                        ("whole number", 0), ("nearest integer", 0), ("nearest whole", 0),
                        ("nearest million", 0), ("nearest billion", 2)):
            if word in q:
                return n
        return default

    @staticmethod
    def money_scale(question: str) -> str | None:
        m = re.search(r"\b(?:in|usd|\$)\s*(?:usd\s*|us\$\s*|\$\s*)?(thousands|millions|billions)\b",
                      question, re.IGNORECASE)
        return m.group(1).lower() if m else None

    # -- cells ---------------------------------------------------------------------------------

    def _cells(self, doc_ids: list[str]) -> list[Cell]:
        key = tuple(sorted(doc_ids))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.store.cells(doc_ids=key))
        return self._cache[1]

    def find(self, item: LineItem, period: Period, cells: list[Cell],
             near: tuple[tuple[str, int | None], ...] = ()) -> Cell | None:
        """The best cell for a line item in a period; `near` (document, page) pairs of the
        operands found so far make their table the first choice, so a formula reads one
        statement when it can."""
        best: tuple[float, Cell] | None = None
        for c in cells:
            if not _period_matches(c, period) or c.unit in ("%", "USD per share"):
                continue
            if c.unit.startswith("shares"):
                continue
            s = label_score(c.row_label, item)
            if s <= 0:
                continue
            if item.statement and c.statement == item.statement:
                s += 1.0
            elif item.statement == "balance" and c.statement == "cash_flow":
                s -= 1.5  # 'Accounts receivable (105)' there is the year's change, not the balance
            if c.source == "table":
                s += 0.5
            if c.unit.startswith("USD"):
                s += 0.5
            if segment_of(c.section):  # a segment's or region's row, not the company's
                s -= 1.0
            if "consolidated" in c.table.lower():
                s += 0.3
            if (c.doc_id, c.page) in near:
                s += 0.2
            if c.source == "prose":
                s -= 0.5
            if best is None or s > best[0]:
                best = (s, c)
        return best[1] if best else None

    @staticmethod
    def _value(item: LineItem, c: Cell) -> Decimal:
        v = Decimal(c.value)
        if item.absolute:
            return abs(v)
        if item.expense and v < 0 and "benefit" not in c.row_label.lower():
            return abs(v)
        return v

    # -- evaluation ---------------------------------------------------------------------------

    def _eval(self, node: tuple, p: Period, cells: list[Cell], ops: list[Operand], yoy: bool,
              prev: Period | None) -> tuple[Decimal, str]:
        kind = node[0]
        if kind == "num":
            return Decimal(node[1]), node[1]
        if kind == "metric":
            return self._eval(METRICS[node[1]].formula, p, cells, ops, yoy, prev)
        if kind == "item":
            _, name, offset, agg = node
            item = ITEMS[name]
            before = prev or prior(p, yoy)
            at = before if offset == -1 else p
            cur = self._operand(item, at, cells, ops)
            if agg == "avg":
                old = self._operand(item, before, cells, ops)
                return (cur + old) / 2, (f"average({item.label} {at.label} {fmt_decimal(cur)}, "
                                         f"{before.label} {fmt_decimal(old)})")
            if agg == "chg":
                old = self._operand(item, before, cells, ops)
                return cur - old, (f"({item.label} {at.label} {fmt_decimal(cur)} - "
                                   f"{before.label} {fmt_decimal(old)})")
            return cur, f"{item.label} {at.label} {fmt_decimal(cur)}"
        op, left, right = node
        a, sa = self._eval(left, p, cells, ops, yoy, prev)
        b, sb = self._eval(right, p, cells, ops, yoy, prev)
        if op == "+":
            return a + b, f"({sa} + {sb})"
        if op == "-":
            return a - b, f"({sa} - {sb})"
        if op == "*":
            return a * b, f"{sa} x {sb}"
        if b == 0:
            raise _Missing("a non-zero divisor")
        return a / b, f"{sa} / {sb}"

    def _operand(self, item: LineItem, p: Period, cells: list[Cell], ops: list[Operand]
                 ) -> Decimal:
        c = self.find(item, p, cells, tuple((o.cell.doc_id, o.cell.page) for o in ops))
        if c is None:
            if item.name == "gross_profit":  # derive it: revenue - cost of sales
                rev = self._operand(ITEMS["revenue"], p, cells, ops)
                cogs = self._operand(ITEMS["cogs"], p, cells, ops)
                return rev - cogs
            if item.name == "securities":  # many balance sheets have none: state it as 0
                return Decimal(0)
            raise _Missing(f"{item.label} ({p.label})")
        v = self._value(item, c)
        if not any(o.cell is c for o in ops):
            ops.append(Operand(item.label, p.label, v, c))
        return v

    def _format(self, value: Decimal, unit: str, places: int, scale: str | None,
                cell_unit: str) -> str:
        if unit == "%":
            return fmt_decimal(value * 100, places) + "%"
        if unit == "x":
            return fmt_decimal(value, places)
        if unit == "days":
            return fmt_decimal(value, places) + " days"
        return self._money(value, places, scale, cell_unit)

    @staticmethod
    def _money(value: Decimal, places: int, scale: str | None, cell_unit: str) -> str:
        """Money in the cells' unit, or in the unit the question asks ('in USD billions')."""
        from rag.text.numbers import SCALE_WORDS

        have = cell_unit.replace("USD", "").strip() or None
        if scale and have and scale != have and have in SCALE_WORDS and scale in SCALE_WORDS:
            value = value * SCALE_WORDS[have] / SCALE_WORDS[scale]
            have = scale
            places = max(places, 2)
        suffix = {"thousands": " thousand", "millions": " million", "billions": " billion"
                  }.get(have or "", "")
        sign = "-" if value < 0 else ""
        return f"{sign}${fmt_decimal(abs(value), places)}{suffix}"

    def compute(self, question: str, node: tuple, label: str, unit: str, definition: str,
                p: Period, cells: list[Cell], places: int, kind: str,
                prev: Period | None = None) -> Computation:
        ops: list[Operand] = []
        yoy = bool(_YOY.search(question)) or p.kind != "Q"
        try:
            value, shown = self._eval(node, p, cells, ops, yoy, prev)
        except _Missing as m:
            return Computation(kind, label, p.label, None, "", "", ops, [m.what], definition)
        except (InvalidOperation, DivisionByZero):
            return Computation(kind, label, p.label, None, "", "", ops,
                               ["a value that could be read as a number"], definition)
        cell_unit = next((o.cell.unit for o in ops if o.cell.unit.startswith("USD")), "")
        scale = self.money_scale(question)
        if kind == "lookup" and ops:  # never fewer decimals than the figure as printed
            printed = re.search(r"\.(\d+)", ops[0].cell.text)
            places = max(places, len(printed.group(1)) if printed else 0)
        text = self._format(value, unit, places, scale, cell_unit)
        formula = shown if kind == "metric" else ""
        if kind == "metric":
            formula = f"{_unwrap(shown)} = {text}"
        elif ops and scale and scale not in ops[0].cell.unit:  # 8,738 millions = $8.74 billion
            formula = (f"{fmt_decimal(ops[0].value)} "
                       f"{ops[0].cell.unit.replace('USD ', '')} = {text}")
        docs = sorted({o.cell.doc_name for o in ops})
        return Computation(kind, label, p.label, value, text, formula, ops, [], definition,
                           ", ".join(docs))

    # -- the whole question --------------------------------------------------------------------

    def wants_choice(self, question: str) -> bool:
        """A numeric question that names no metric, line item or assessment code knows: the
        model may say which library entry it means (rag.figures.choose)."""
        return (self.is_numeric(question) and self.metric_of(question) is None
                and self.bundle_of(question) is None)

    def answer(self, question: str, doc_ids: list[str], chosen: str | None = None
               ) -> NumericAnswer | None:
        """A computed answer, a 'which operand is missing' answer, or None when the question
        is not one this engine answers (then the grounded-answer path runs). `chosen` is a
        library entry the model picked and code validated (rag.figures.choose); the period,
        rounding and every gate below still come from the question."""
        if not doc_ids or not self.is_numeric(question):
            return None
        if chosen is not None:
            metric = METRICS.get(chosen)
            item = None if metric else ITEMS.get(chosen)
            if metric is None and item is None:
                return None
            if item is not None and not _LOOKUP_INTENT.search(question):
                return None
            return self._answer(question, metric, item, doc_ids)
        metric = self.metric_of(question)
        bundle = None if metric else self.bundle_of(question)
        if bundle is not None:
            return self._bundle(question, bundle, doc_ids)
        item = None if metric else self.lookup_of(question)
        if metric is None and item is None:
            return None
        if item is not None and not _LOOKUP_INTENT.search(question):
            return None
        return self._answer(question, metric, item, doc_ids)

    def context(self, question: str, doc_ids: list[str]) -> NumericAnswer | None:
        """The figures an explanation question is about ('What drove the operating margin
        change in FY2022?'): the metric it names for that period and the one before, computed,
        with the direction of change; the grounded-answer path then explains it. None when the
        question names no metric or no figure is found."""
        if not doc_ids or self.is_numeric(question) or not _EXPLAIN.search(question):
            return None
        metric = self.metric_of(question)
        if metric is None:
            return None
        periods = periods_in_question(question)
        if len(periods) == 1 and periods[0].kind == "FY":
            periods = [Period("FY", periods[0].year - 1), periods[0]]
        num = self._answer(question, metric, None, doc_ids, periods or None, want=2)
        return num if num is not None and num.ok and num.judgement else None

    def _bundle(self, question: str, bundle: Bundle, doc_ids: list[str]) -> NumericAnswer | None:
        comps: list[Computation] = []
        for name in bundle.metrics:
            num = self._answer(question, METRICS[name], None, doc_ids, trend=False)
            if num is not None:
                comps.extend(num.computations)
        if not comps:
            return None
        return NumericAnswer(question, comps, judgement=bundle.note)

    def _answer(self, question: str, metric: Metric | None, item: LineItem | None,
                doc_ids: list[str], periods: list[Period] | None = None, want: int = 0,
                trend: bool = True) -> NumericAnswer | None:
        periods = list(periods) if periods is not None else periods_in_question(question)
        cells = self._cells(doc_ids)
        if not cells:
            return None
        if metric:
            node, label, unit, definition = metric.formula, metric.label, metric.unit, \
                metric.definition
            node, definition = self._own_definition(question, metric, node, definition)
            places = self.places_of(question, metric.places)
            kind = "metric"
        else:
            assert item is not None
            node, label, unit, definition = ("item", item.name, 0, ""), item.label, "money", ""
            places = self.places_of(question, 0 if not self.money_scale(question) else 2)
            kind = "lookup"
        if not periods:
            periods = self._latest_periods(
                node, cells, want=want or (3 if trend and _TREND.search(question) else 1))
            if not periods:
                return NumericAnswer(question, [Computation(
                    kind, label, "", None, "", "", [],
                    [f"{label}: no period named, and no table in these documents reports it"],
                    definition)])
        if len(periods) == 1 and periods[0].kind == "FY" and trend and _IMPROVING.search(question):
            y = periods[0].year  # 'improving as of FY2022': the years up to it
            periods = [Period("FY", y - 2), Period("FY", y - 1), periods[0]]
        prev = None
        uses_prior = _uses_prior(node)
        if uses_prior and len(periods) == 2 and not want and (
                not re.search(r"\baverage\b", question, re.IGNORECASE) or _has_avg(node)):
            # 'from FY2016 to FY2017' / 'Q2 versus Q1': the earlier is the base period
            a, b = sorted(periods, key=lambda x: (x.year, x.quarter or 0))
            periods, prev = [b], a
        comps = [self.compute(question, node, label, unit, definition, p, cells, places, kind,
                              prev) for p in periods]
        ans = NumericAnswer(question, comps)
        ok = [c for c in comps if c.ok]
        if len(ok) >= 2 and re.search(r"\baverage\b", question, re.IGNORECASE):
            ans.computations.append(self._average(ok, unit, places, label))
        elif len(ok) >= 2:
            ans.judgement = _direction(ok, unit, label)
        return ans

    def _own_definition(self, question: str, metric: Metric, node: tuple, definition: str
                        ) -> tuple[tuple, str]:
        """A formula the question defines overrides the library's: the whole metric, or the
        part it names ('Define EBITDA as ...' inside 'EBITDA less capex')."""
        from rag.figures.definition import defined_term, parse_definition

        tree = parse_definition(question)
        if tree is None:
            return node, definition
        term = self.metric_of(defined_term(question))
        text = f"{_render(tree)} (as the question defines it)"
        if term is None or term.name == metric.name:
            return tree, text
        replaced = _substitute(node, term.name, tree)
        if replaced == node:
            return tree, text
        return replaced, f"{metric.definition}, with {term.label} = {text}"

    def _average(self, ok: list[Computation], unit: str, places: int, label: str
                 ) -> Computation:
        vals = [c.result for c in ok if c.result is not None]
        mean = sum(vals, Decimal(0)) / len(vals)
        cell_unit = next((o.cell.unit for c in ok for o in c.operands
                          if o.cell.unit.startswith("USD")), "")
        text = self._format(mean, unit, places, None, cell_unit)
        formula = f"({' + '.join(c.result_text for c in ok)}) / {len(ok)} = {text}"
        ops = [o for c in ok for o in c.operands]
        return Computation("metric", f"average {label}", f"{ok[0].period}-{ok[-1].period}",
                           mean, text, formula, ops, [], ok[0].definition, ok[0].doc_name)

    def _latest_periods(self, node: tuple, cells: list[Cell], want: int) -> list[Period]:
        names = _items_of(node)
        years: dict[int, int] = {}
        for c in cells:
            if c.period_kind not in ("FY", "I") or c.year is None:
                continue
            if any(label_score(c.row_label, ITEMS[n]) > 0 for n in names[:1]):
                years[c.year] = years.get(c.year, 0) + 1
        ys = sorted(years)[-want:]
        if _uses_prior(node) and len(ys) > 1 and want > 1:
            ys = ys[1:]
        return [Period("FY", y) for y in ys]


def _item_nodes(node: tuple) -> list[tuple]:
    """The line-item leaves of a formula, left to right, through the metrics it names."""
    if node[0] == "item":
        return [node]
    if node[0] == "metric":
        return _item_nodes(METRICS[node[1]].formula)
    if node[0] == "num":
        return []
    return _item_nodes(node[1]) + _item_nodes(node[2])


def _items_of(node: tuple) -> list[str]:
    return [n[1] for n in _item_nodes(node)]


def _substitute(node: tuple, metric: str, tree: tuple) -> tuple:
    if node[0] == "metric":
        return tree if node[1] == metric else _substitute(METRICS[node[1]].formula, metric, tree)
    if node[0] in ("item", "num"):
        return node
    return (node[0], _substitute(node[1], metric, tree), _substitute(node[2], metric, tree))


def _render(node: tuple) -> str:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "metric":
        return METRICS[node[1]].label
    if kind == "item":
        label = ITEMS[node[1]].label
        return {"avg": f"average {label}", "chg": f"change in {label}"}.get(node[3], label)
    return f"({_render(node[1])} {kind} {_render(node[2])})"


def _unwrap(s: str) -> str:
    """'(a + b)' -> 'a + b' when the outer parentheses enclose the whole expression."""
    if not (s.startswith("(") and s.endswith(")")):
        return s
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(s) - 1:
            return s
    return s[1:-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _has_avg(node: tuple) -> bool:
    return any(n[3] == "avg" for n in _item_nodes(node))


def _uses_prior(node: tuple) -> bool:
    return any(n[2] == -1 or n[3] in ("avg", "chg") for n in _item_nodes(node))


def _direction(ok: list[Computation], unit: str, label: str) -> str:
    """One sentence on the change, written by code from the computed values: the latest
    step, and the whole span when there are more than two periods."""
    ordered = sorted(ok, key=lambda c: (c.period[-4:], c.period))
    name = _cap(label)

    def step(a: Computation, b: Computation) -> str:
        assert a.result is not None and b.result is not None
        if b.result > a.result:
            return f"rose from {a.result_text} in {a.period} to {b.result_text} in {b.period}"
        if b.result < a.result:
            return f"fell from {a.result_text} in {a.period} to {b.result_text} in {b.period}"
        return f"was unchanged at {b.result_text} from {a.period} to {b.period}"

    last = f"{name} {step(ordered[-2], ordered[-1])}"
    a, b = ordered[-2], ordered[-1]
    if unit == "%" and a.result is not None and b.result is not None and a.result != b.result:
        # from the values as shown, so the reader can check it: 19.1% - 20.8% = -1.7 points
        shown_a, shown_b = (Decimal(c.result_text.rstrip("%")) for c in (a, b))
        if shown_a != shown_b:
            places = len(b.result_text.rstrip("%").partition(".")[2])
            pp = fmt_decimal(abs(shown_b - shown_a), places)
            before = a.result_text if shown_a >= 0 else f"({a.result_text})"
            last += (f", {'up' if shown_b > shown_a else 'down'} {pp} percentage points "
                     f"({b.result_text} - {before})")
    if len(ordered) == 2:
        return last + "."
    return f"{last}; over {ordered[0].period}-{ordered[-1].period} it " \
           f"{step(ordered[0], ordered[-1])}."
