"""The Figures page's logic: filters, the cells table, the ledger and where sources disagree."""

from __future__ import annotations

from rag.figures import ledger
from rag.types import Cell


def cell(label: str, period: str, text: str, value: str, doc: str = "acme_10k", page: int = 3,
         unit: str = "USD millions", statement: str = "income", ordinal: int = 0,
         row: int | None = None, source: str = "table") -> Cell:
    year = int(period[-4:])
    kind, quarter = ("Q", int(period[1])) if period.startswith("Q") else ("FY", None)
    return Cell(doc_id=doc, doc_name=doc, row_label=label, period=period, value=value,
                text=text, span=f"{label} {text}", unit=unit, page=page, row=row,
                statement=statement, period_kind=kind, year=year, quarter=quarter,
                source=source, ordinal=ordinal)


CELLS = [
    cell("Total net sales", "FY2024", "1,200", "1200", ordinal=0),
    cell("Total net sales", "FY2023", "1,000", "1000", ordinal=1),
    cell("Cost of sales", "FY2024", "(700)", "-700", ordinal=2),
    cell("Cost of sales", "FY2023", "(600)", "-600", ordinal=3),
    cell("Cash", "FY2024", "300", "300", statement="balance", page=4, ordinal=4),
    # The press release says otherwise about 2024 sales, and agrees about 2023.
    cell("Total  Net Sales", "FY2024", "1,250", "1250", doc="acme_release", page=1, ordinal=0),
    cell("total net sales", "FY2023", "1,000", "1000", doc="acme_release", page=1, ordinal=1),
    cell("Total net sales", "Q4 2024", "330", "330", doc="acme_release", page=1, ordinal=2),
]


def test_norm_label_and_cell_key():
    assert ledger.norm_label("  Total\tNet   Sales ") == "total net sales"
    keys = {ledger.cell_key(c) for c in CELLS}
    assert len(keys) == len(CELLS)


def test_periods_and_statements_are_ordered():
    assert ledger.periods_of(CELLS) == ["FY2023", "Q4 2024", "FY2024"]
    assert ledger.statements_of(CELLS) == ["income", "balance"]
    assert ledger.statements_of([cell("x", "FY2024", "1", "1", statement="weird"),
                                 cell("y", "FY2024", "1", "1", statement="other")]) == [
        "other", "weird"]


def test_filters():
    assert len(ledger.filter_cells(CELLS)) == len(CELLS)
    assert {c.doc_id for c in ledger.filter_cells(CELLS, doc_ids=["acme_release"])} == {
        "acme_release"}
    assert [c.row_label for c in ledger.filter_cells(CELLS, statements=["balance"])] == ["Cash"]
    got = ledger.filter_cells(CELLS, item="NET  sales", periods=["FY2023"])
    assert [(c.doc_id, c.text) for c in got] == [("acme_10k", "1,000"), ("acme_release", "1,000")]
    assert ledger.filter_cells(CELLS, item="nothing like it") == []


def test_cell_rows_keep_the_value_as_printed():
    rows = ledger.cell_rows(CELLS[2:3])
    assert rows == [{"document": "acme_10k", "page": 3, "where": "p. 3",
                     "statement": "income statement",
                     "row label": "Cost of sales", "period": "FY2024", "value": "(700)",
                     "unit": "USD millions", "source": "table"}]
    assert list(rows[0]) == ledger.CELL_COLUMNS


def test_ledger_rows_periods_documents_and_a_disagreement():
    rows = ledger.build_ledger(CELLS)
    by = {r.key: r for r in rows}
    assert list(by) == ["total net sales", "cost of sales", "cash"]
    sales = by["total net sales"]
    assert sales.label == "Total net sales"
    assert sales.documents == ["acme_10k", "acme_release"]
    assert sales.values["FY2023"] == "1,000" and sales.values["Q4 2024"] == "330"
    assert sales.values["FY2024"] == "1,200 / 1,250"
    assert sales.disagrees and list(sales.conflicts) == ["FY2024"]
    assert [v.where() for v in sales.conflicts["FY2024"]] == ["acme_10k, p. 3",
                                                            "acme_release, p. 1"]
    assert not by["cost of sales"].disagrees and by["cost of sales"].values["FY2024"] == "(700)"

    records, cols = ledger.ledger_records(rows, ledger.periods_of(CELLS))
    assert cols == ["line item", "FY2023", "Q4 2024", "FY2024", "unit", "documents", "check"]
    first = records[0]
    assert first["check"] == f"{ledger.DISAGREE} (FY2024)"
    assert first["documents"] == "acme_10k; acme_release"
    assert records[1]["check"] == "" and records[2]["FY2023"] == ""
    assert records[2]["unit"] == "USD millions"

    (d,) = ledger.disagreements(rows)
    assert d["line item"] == "Total net sales" and d["period"] == "FY2024"
    assert "1,200 USD millions (acme_10k, p. 3)" in d["values"]
    assert "1,250 USD millions (acme_release, p. 1)" in d["values"]


def test_same_amount_in_other_units_or_printed_twice_agrees():
    rows = ledger.build_ledger([
        cell("Revenue", "FY2024", "1,577", "1577", unit="USD millions"),
        cell("Revenue", "FY2024", "1,577,000", "1577000", unit="USD thousands", doc="b"),
        cell("Revenue", "FY2024", "1,577", "1577", unit="USD millions", page=9),
    ])
    assert not rows[0].disagrees and rows[0].values["FY2024"] == "1,577"
    assert rows[0].units == ["USD millions", "USD thousands"]


def test_two_values_on_one_page_are_not_a_disagreement_but_two_pages_are():
    one_page = [cell("Total", "FY2024", "500", "500", ordinal=0),
                cell("Total", "FY2024", "900", "900", ordinal=1)]
    assert not ledger.build_ledger(one_page)[0].disagrees
    two_pages = [cell("Total", "FY2024", "500", "500", page=3),
                 cell("Total", "FY2024", "900", "900", page=5)]
    row = ledger.build_ledger(two_pages)[0]
    assert row.disagrees and row.values["FY2024"] == "500 / 900"
    # Same digits, another unit: shown with the units so the difference is visible.
    units = [cell("Shares", "FY2024", "12", "12", unit="USD millions"),
             cell("Shares", "FY2024", "12", "12", unit="USD thousands", doc="b")]
    row = ledger.build_ledger(units)[0]
    assert row.disagrees and row.values["FY2024"] == "12 (USD millions) / 12 (USD thousands)"
    # A percent and an amount are different quantities, never the same value.
    mixed = [cell("Margin", "FY2024", "40", "40", unit="%"),
             cell("Margin", "FY2024", "40", "40", unit="", doc="b")]
    assert ledger.build_ledger(mixed)[0].disagrees


def test_sheet_rows_are_places_too():
    rows = ledger.build_ledger([
        cell("Revenue", "FY2024", "10", "10", page=None, row=2, doc="sheet"),
        cell("Revenue", "FY2024", "11", "11", page=None, row=7, doc="sheet"),
    ])
    assert [v.where() for v in rows[0].conflicts["FY2024"]] == ["sheet, row 2", "sheet, row 7"]


def test_value_spans_find_whole_tokens_only():
    line = "Total net sales $ 1,100 100 (100) 2100 100"
    spans = ledger.value_spans(line, "100")
    assert [line[a:b] for a, b in spans] == ["100", "100", "100"]
    assert [a for a, _ in spans] == [line.index(" 100 ") + 1, line.index("(100)") + 1,
                                     line.rindex("100")]
    assert ledger.value_spans(line, "(100)") == [(line.index("(100)"),
                                                  line.index("(100)") + 5)]
    assert ledger.value_spans("Revenue was $412.6 million.", "$412.6 million") == [(12, 26)]
    assert ledger.value_spans("1,577 and 1,577.5", "1,577") == [(0, 5)]
    assert ledger.value_spans("anything", "") == []
    assert ledger.value_spans("no such value", "42") == []
