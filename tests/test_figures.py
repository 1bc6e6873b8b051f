"""Figures: the value grammar, table and prose extraction, the DuckDB store, the metric engine."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from shared_data import financebench_questions

from rag.figures.answer import render
from rag.figures.engine import FigureEngine
from rag.figures.extract import extract_cells
from rag.figures.store import DuckFigureStore
from rag.figures.values import Period, column_periods, periods_in_question
from rag.text.numbers import parse_value
from rag.types import ParsedDocument, Unit

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench"

INCOME = """Table of Contents
ACME CORP.
CONSOLIDATED STATEMENTS OF OPERATIONS
(in millions, except per share data)
Year Ended December 31,
2021 2022 2023
Total net sales $ 1,000 $ 1,200 $ 1,500
Cost of sales 600 700 800
Gross profit 400 500 700
Operating income 100 (20) 250
Income before income taxes 90 (30) 240
Provision for income taxes (18) 3 (60)
Net income $ 72 $ (27) $ 180
Diluted earnings per share $ 0.72 $ (0.27) $ 1.80
See accompanying notes.
"""

BALANCE = """CONSOLIDATED BALANCE SHEETS
(in millions)
December 31,
2022 2023
Cash and cash equivalents $ 50 $ 80
Accounts receivable, net 30 40
Inventories 20 25
Total current assets 100 145
Property, plant and equipment, net 300 320
Total assets $ 400 $ 465
Accounts payable $ 25 $ 35
Total current liabilities 80 90
"""

CASHFLOW = """CONSOLIDATED STATEMENTS OF CASH FLOWS
(in millions)
Year Ended December 31,
2023 2022 2021
Depreciation and amortization 40 38 35
Net cash provided by operating activities 300 150 120
Purchases of property, plant and equipment (60) (55) (50)
Proceeds from sale of businesses, net of cash sold
5 — 7
"""

TOC = """Table of Contents
Index to Consolidated Financial Statements
Consolidated Statements of Operations 2021 2022 53
Consolidated Balance Sheets 55
"""


def _doc(pages: list[str], name: str = "acme_2023_10k") -> ParsedDocument:
    return ParsedDocument(filename=name + ".pdf", name=name, kind="pdf",
                          units=tuple(Unit(text=t, page=i + 1) for i, t in enumerate(pages)),
                          content_hash="h" * 64, size=1)


@pytest.fixture
def engine(tmp_path: Path) -> FigureEngine:
    store = DuckFigureStore(tmp_path / "f.duckdb")
    store.put("d1", extract_cells(_doc([INCOME, BALANCE, CASHFLOW, TOC]), "d1"))
    return FigureEngine(store)


def test_value_grammar() -> None:
    assert parse_value("(1,577)") == (Decimal(-1577), False)
    assert parse_value("$ 5,363".replace(" ", "")) == (Decimal(5363), False)
    assert parse_value("(2.5)%") == (Decimal("-2.5"), True)
    assert parse_value("—") == (None, False)
    assert parse_value("12.4%") == (Decimal("12.4"), True)


def test_periods_of_questions_and_headers() -> None:
    assert periods_in_question("What is the FY2018 capex?") == [Period("FY", 2018)]
    assert periods_in_question("between FY20 and FY21") == [Period("FY", 2020), Period("FY", 2021)]
    assert periods_in_question("Q2'2023 revenue") == [Period("Q", 2023, 2)]
    assert periods_in_question("second quarter 2026 margin") == [Period("Q", 2026, 2)]
    assert periods_in_question("FY2017-FY2019 average") == [Period("FY", y) for y in (2017, 2018,
                                                                                      2019)]
    ps = column_periods([2023, 2022, 2023, 2022],
                        "Three Months Ended Six Months Ended July 2, 2023 July 3, 2022")
    assert [p.label for p in ps] == ["Q2 2023", "Q2 2022", "6M 2023", "6M 2022"]
    assert [p.label for p in column_periods([2018, 2017], "Years ended December 31")] == [
        "FY2018", "FY2017"]


def test_table_rows_become_cells_with_period_scale_and_span() -> None:
    cells = extract_cells(_doc([INCOME, BALANCE, CASHFLOW, TOC]), "d1")
    by = {(c.row_label, c.period): c for c in cells if c.source == "table"}
    capex = by[("Purchases of property, plant and equipment", "FY2023")]
    assert (capex.value, capex.text, capex.unit, capex.page) == ("-60", "(60)", "USD millions", 3)
    assert capex.statement == "cash_flow" and capex.text in capex.span
    assert by[("Net income", "FY2022")].value == "-27"
    assert by[("Diluted earnings per share", "FY2023")].unit == "USD per share"
    assert by[("Total assets", "FY2023")].statement == "balance"
    # a label on one line and its figures on the next are one row; a dash is no value
    joined = by[("Proceeds from sale of businesses, net of cash sold", "FY2023")]
    assert joined.value == "5"
    assert ("Proceeds from sale of businesses, net of cash sold", "FY2022") not in by
    # a table of contents never turns into numbers
    assert not [c for c in cells if c.page == 4]


def test_prose_figures_become_cells() -> None:
    doc = ParsedDocument(filename="call.txt", name="northwind_q2_2026_call", kind="transcript",
                         units=(Unit(text="Revenue was $1.24 billion, up 12%. Gross margin was "
                                     "41.5% in the quarter.", turn=3, speaker="CFO"),),
                         content_hash="x" * 64, size=1)
    cells = extract_cells(doc, "t")
    got = {(c.row_label.lower(), c.text, c.period) for c in cells}
    assert ("revenue", "$1.24 billion", "Q2 2026") in got
    assert ("gross margin", "41.5%", "Q2 2026") in got


def test_lookup_metric_growth_and_ratio(engine: FigureEngine) -> None:
    a = engine.answer("What was the FY2023 capital expenditure in USD millions?", ["d1"])
    assert a.ok and a.computations[0].result == Decimal(60)
    a = engine.answer("What is ACME's FY2023 gross margin?", ["d1"])
    assert a.computations[0].result_text == "46.7%"
    assert "gross profit FY2023 700 / revenue FY2023 1,500" in a.computations[0].formula
    a = engine.answer("How much did revenue grow from FY2022 to FY2023, in percent?", ["d1"])
    assert a.computations[0].result_text == "25.0%"
    a = engine.answer("What is the FY2023 current ratio? Round to two decimal places.", ["d1"])
    assert a.computations[0].result_text == "1.61"
    a = engine.answer("What is the FY2023 free cash flow?", ["d1"])
    assert a.computations[0].result_text == "$240 million"
    a = engine.answer("Is ACME's operating margin improving?", ["d1"])
    assert [c.period for c in a.computations] == ["FY2021", "FY2022", "FY2023"]
    assert "rose" in a.judgement


def test_missing_operand_is_named_not_guessed(engine: FigureEngine) -> None:
    a = engine.answer("What is the FY2023 return on equity?", ["d1"])
    assert a is not None and not a.ok
    assert any("shareholders' equity" in m for m in a.missing)


def test_not_numeric_questions_are_left_to_the_model(engine: FigureEngine) -> None:
    assert engine.answer("Why did operating margin fall in FY2022?", ["d1"]) is None
    assert engine.answer("Which product categories are over 20% of revenue?", ["d1"]) is None
    assert engine.answer("Who are the main customers?", ["d1"]) is None


def _verbatim_or_result(num) -> None:
    """Every figure of the rendered answer is in a cited cell's span or is a declared result."""
    text, ops = render(num)
    text = re.sub(r"\b(?:p\.|row) \d+", " ", text)  # locations, not figures
    spans = " ".join(o.cell.span for o in ops)
    declared = " ".join(c.result_text + " " + c.formula for c in num.computations)
    for tok in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", text):
        if re.fullmatch(r"(19|20)\d\d", tok) or len(tok) == 1:
            continue
        assert tok in spans or tok in declared, tok


def test_rendered_answer_numbers_are_verbatim(engine: FigureEngine) -> None:
    for q in ("What is the FY2023 gross margin?", "What was FY2023 capex?",
              "What is the FY2023 quick ratio?", ("Has the current ratio improved between FY2022 "
              "and FY2023?")):
        num = engine.answer(q, ["d1"])
        assert num is not None and num.ok, q
        _verbatim_or_result(num)


def test_store_replaces_and_deletes_a_document(tmp_path: Path) -> None:
    store = DuckFigureStore(tmp_path / "f.duckdb")
    cells = extract_cells(_doc([INCOME]), "d1")
    store.put("d1", cells)
    store.put("d1", cells)  # idempotent
    assert len(store.cells(doc_ids=["d1"])) == len(cells)
    assert store.cells(doc_ids=["d1"], item="net income", period="FY2023")[0].text == "$ 180" \
        or store.cells(doc_ids=["d1"], item="net income", period="FY2023")[0].text == "180"
    assert store.cells(doc_ids=[]) == []
    store.delete("d1")
    assert store.cells(doc_ids=["d1"]) == []


# -- real filings ------------------------------------------------------------------------------

def _numeric_gold() -> list[dict]:
    qs = financebench_questions()
    return [q for q in qs if re.fullmatch(r"\$?-?[\d,.]+%?", q["answer"].strip())]


@pytest.mark.slow
def test_real_filings_computed_answers_match_gold(tmp_path: Path, settings) -> None:
    from rag.ingest.loaders import load

    if not SHARED.exists():
        pytest.skip("../shared/data not beside the checkout")
    store = DuckFigureStore(tmp_path / "f.duckdb")
    gold = _numeric_gold()
    assert len(gold) >= 5
    for name in sorted({q["doc_name"] for q in gold}):
        data = (SHARED / "pdfs" / f"{name}.pdf").read_bytes()
        doc = load(data, f"{name}.pdf", settings)
        store.put(name, extract_cells(doc, name))
    engine = FigureEngine(store)
    right = wrong = 0
    for q in gold:
        num = engine.answer(q["question"], [q["doc_name"]])
        if num is None or not num.ok:
            continue  # left to the model, or the missing operand is named
        _verbatim_or_result(num)
        want = abs(Decimal(re.sub(r"[^\d.\-]", "", q["answer"])))
        got = [abs(c.result) for c in num.computations if c.ok]
        vals = got + [g * 100 for g in got] + [g / 1000 for g in got]
        if any(abs(v - want) <= max(want * Decimal("0.01"), Decimal("0.01")) for v in vals):
            right += 1
        else:
            wrong += 1
    # measured 6 right and 0 wrong of 7 when written: floors, not a hard-coded result
    assert right >= 5 and wrong <= 1, (right, wrong)


# -- inside ingestion and answers ------------------------------------------------------------

class _NoModel:
    """A chat model that fails the test if a computed answer ever calls it."""

    name = "must-not-be-called"

    def stream(self, messages, max_tokens=400, **kw):
        raise AssertionError("the model was called for a computed answer")

    def complete(self, messages, max_tokens=400, **kw):
        raise AssertionError("the model was called for a computed answer")


def test_cells_come_and_go_with_their_document(services, workspace, ingestor) -> None:
    from badfiles import text_pdf

    pdf = text_pdf([INCOME, BALANCE, CASHFLOW])
    rep = ingestor.ingest_bytes(pdf, "acme_2023_10k.pdf")
    assert rep.ok, rep.message
    store = services.figure_store(workspace)
    cells = store.cells(doc_ids=[rep.doc.doc_id])
    assert any(c.row_label.startswith("Purchases of property") and c.period == "FY2023"
               for c in cells)
    again = ingestor.ingest_bytes(pdf, "acme_2023_10k.pdf")
    assert again.status == "unchanged"
    assert len(store.cells(doc_ids=[rep.doc.doc_id])) == len(cells)  # idempotent
    ans = services.answerer(workspace, model=_NoModel()).ask(
        "What is ACME's FY2023 gross margin?")
    assert ans.computation and ans.computation["result"] == "46.7%"
    assert "46.7%" in ans.text and not ans.abstained
    assert ans.citations and all(c.chunk.doc_id == rep.doc.doc_id for c in ans.citations)
    assert all(c.quote in c.chunk.text for c in ans.citations)  # the cell's line, verbatim
    d = ans.to_dict()["computation"]
    assert {o["citation"]["n"] for o in d["operands"]} == {1, 2}
    for o in d["operands"]:  # each operand cites as the answer does, with the cell's place
        c = ans.citations[o["citation"]["n"] - 1].to_dict()
        assert {k: o["citation"][k] for k in c} == c and o["citation"]["span"] == c["quote"]
        assert o["citation"]["row_label"] and "column" in o["citation"]
    workspace.delete_document(rep.doc.doc_id)
    assert store.cells(doc_ids=[rep.doc.doc_id]) == []  # gone with the document


def test_failed_ingest_leaves_no_cells(services, workspace, ingestor, monkeypatch) -> None:
    from badfiles import text_pdf

    def boom(*a, **k):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(workspace, "commit", boom)
    rep = ingestor.ingest_bytes(text_pdf([INCOME]), "acme.pdf")
    assert not rep.ok
    assert services.figure_store(workspace).doc_ids() == []


def test_demo_call_revenue_is_read_from_the_cfo_turn(services, workspace, ingestor) -> None:
    from conftest import DEMO_DIR

    call = DEMO_DIR / "northwind_q2_2026_earnings_call.txt"
    rep = ingestor.ingest_bytes(call.read_bytes(), call.name)
    assert rep.ok
    ans = services.answerer(workspace, model=_NoModel()).ask(
        "What was Northwind's revenue in the second quarter of 2026?")
    assert ans.computation and ans.computation["result"] == "$412.6 million"
    assert "$412.6 million" in ans.citations[0].quote
    assert ans.citations[0].chunk.speaker  # the passage of the speaker turn that says it


def test_a_definition_in_the_question_overrides_the_library(engine: FigureEngine) -> None:
    from rag.figures.definition import parse_definition

    assert parse_definition("DPO is defined as: 365 * (average accounts payable between FY2022 "
                            "and FY2023) / (FY2023 COGS + change in inventory between FY2022 "
                            "and FY2023).") == (
        "/", ("*", ("num", "365"), ("item", "payables", 0, "avg")),
        ("+", ("item", "cogs", 0, ""), ("item", "inventory", 0, "chg")))
    assert parse_definition("What is the capex? Answer in USD millions.") is None
    assert parse_definition("defined as revenue / average of the widgets") is None  # unknown
    # fixed asset turnover, library: revenue / average net PP&E; the question's own: revenue / PP&E
    a = engine.answer("What is the FY2023 fixed asset turnover, defined as revenue / PP&E? "
                      "Round to two decimal places.", ["d1"])
    assert a.computations[0].result_text == "4.69"  # 1,500 / 320
    assert "as the question defines it" in a.computations[0].definition
    # a definition of a part: 'Define EBITDA as ...' inside 'EBITDA less capex'
    a = engine.answer("What is the FY2023 EBITDA less capex? Define EBITDA as operating income "
                      "+ depreciation and amortization [from cash flow statement].", ["d1"])
    assert a.computations[0].result_text == "$230 million"  # 250 + 40 - 60


def test_documents_stored_before_figures_are_read_from_their_chunks(services, workspace,
                                                                     ingestor) -> None:
    from badfiles import text_pdf

    from rag.figures.rebuild import rebuild

    rep = ingestor.ingest_bytes(text_pdf([INCOME, CASHFLOW]), "acme_2023_10k.pdf")
    store = services.figure_store(workspace)
    want = {(c.row_label, c.period, c.text) for c in store.cells(doc_ids=[rep.doc.doc_id])}
    store.delete(rep.doc.doc_id)  # as a workspace of an earlier release
    assert rebuild(workspace, store) == 1
    got = {(c.row_label, c.period, c.text) for c in store.cells(doc_ids=[rep.doc.doc_id])}
    assert want and want <= got
    assert rebuild(workspace, store) == 0  # nothing left to read
    store.delete(rep.doc.doc_id)  # re-adding the same file also fills them in
    assert ingestor.ingest_bytes(text_pdf([INCOME, CASHFLOW]), "acme_2023_10k.pdf").status == \
        "unchanged"
    assert store.has(rep.doc.doc_id)


def test_a_store_of_an_older_release_gains_the_new_fields(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute('CREATE TABLE cells (doc_id VARCHAR, doc_name VARCHAR, row_label VARCHAR, '
                'period VARCHAR, value VARCHAR, text VARCHAR, span VARCHAR, "ordinal" INTEGER)')
    con.execute("INSERT INTO cells VALUES ('d0', 'old', 'Revenue', 'FY2020', '5', '5', "
                "'Revenue 5', 0)")
    con.close()
    store = DuckFigureStore(path)
    store.put("d1", extract_cells(_doc([INCOME]), "d1"))
    assert store.cells(doc_ids=["d0"])[0].turn is None
    assert store.cells(doc_ids=["d1"])


AERO = """CONSOLIDATED STATEMENTS OF OPERATIONS
(Dollars in millions)
Years ended December 31, 2022 2021 2020
Total revenues $ 66,608 $ 62,286 $ 58,158
Cost of products (55,154) (51,386) (54,568)
Cost of services (9,592) (8,686) (9,232)
Total costs and expenses (63,106) (59,269) (63,843)
"""


def test_improving_as_of_a_year_reads_the_years_before_and_a_total_cost_line(tmp_path) -> None:
    store = DuckFigureStore(tmp_path / "a.duckdb")
    store.put("b", extract_cells(_doc([AERO], "aero_2022_10k"), "b"))
    a = FigureEngine(store).answer("Does Aero have an improving gross margin profile as of "
                                   "FY2022? If gross margin is not a useful metric, explain "
                                   "why.", ["b"])
    assert a is not None and [c.period for c in a.computations if c.ok][-2:] == ["FY2021",
                                                                                "FY2022"]
    assert a.computations[-1].result_text == "5.3%"  # (66,608 - 63,106) / 66,608
    assert "rose from 4.8% in FY2021 to 5.3% in FY2022" in a.judgement


def test_exports_and_the_log_keep_warnings_and_removals() -> None:
    from rag.analytics.questions.records import CHECK_FLAGGED, CHECK_OK, citation_check
    from rag.answer import Answer, Citation
    from rag.types import Chunk

    chunk = Chunk(id="c", doc_id="d", doc_name="acme", ordinal=0, text="Revenue was $5.", page=1)
    cite = Citation(1, chunk, "Revenue was $5.", 1.0)
    ok = Answer(question="q", rewritten="q", text="Revenue was $5 [1].", citations=[cite],
                abstained=False, hits=[], model="m")
    assert citation_check(ok) == CHECK_OK
    cut = Answer(question="q", rewritten="q", text="Revenue was $5 [1].", citations=[cite],
                 abstained=False, hits=[], model="m", flags=["[1] weak support"],
                 rejected=[{"sentence": "Costs fell.", "reason": "no figure"}])
    assert citation_check(cut) == CHECK_FLAGGED  # the Dashboard does not count it answered
    md = cut.to_markdown()
    assert "~~Costs fell.~~" in md and "Warning: [1] weak support" in md
