"""The Figures page and the Ask page's computed answers, driven through AppTest.

Two real PDFs (an annual report and a press release, written by `badfiles.text_pdf`) are
ingested with the hashing embedder; their table cells are read with `extract_cells` and put in
the workspace's figure store (as ingestion does), so the page shows real extracted figures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.llm.prompts import REWRITE_SYSTEM

streamlit = pytest.importorskip("streamlit")
from apptools import app_environment, walk
from badfiles import text_pdf
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.figures import ledger
from rag.figures.extract import extract_cells
from rag.ingest.loaders import load
from rag.ui import state
from rag.ui.pages import ask, library
from rag.ui.pages import figures as page

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 120  # generous: other jobs share this machine's two cores

REPORT = [
    "ACME CORP. ANNUAL REPORT 2023\nOur year in review: sales grew and margins widened.",
    ("CONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\nYear Ended December 31,\n"
     "2022 2023\nTotal net sales $ 1,200 $ 1,500\nCost of sales 700 800\n"
     "Operating income 150 250\nNet income $ 100 $ 180\n"),
    ("CONSOLIDATED BALANCE SHEETS\n(in millions)\nDecember 31,\n2022 2023\n"
     "Cash and cash equivalents $ 50 $ 80\nTotal assets $ 400 $ 465\n"),
]
RELEASE = [
    ("ACME CORP. REPORTS FULL YEAR 2023 RESULTS\n"
     "CONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\nYear Ended December 31,\n"
     "2022 2023\nTotal net sales $ 1,200 $ 1,550\nNet income $ 100 $ 180\n"),
]
FILES = [("acme_annual_report_2023.pdf", text_pdf(REPORT)),
         ("acme_q4_2023_press_release.pdf", text_pdf(RELEASE))]

REPLY = {"text": "I cannot answer from these passages."}


def _reply(messages) -> str:
    """The model: never asked for a computed answer (the figure engine answers those)."""
    if messages[0].content == REWRITE_SYSTEM:
        return messages[-1].content.rsplit("\n", 1)[-1]
    return REPLY["text"]


MODEL = ScriptedChat(_reply, name="scripted · figures", chunk=None)


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    MODEL.sent.clear()
    yield from app_environment(tmp_path, monkeypatch, {"scripted": lambda cfg, s: MODEL})


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _goto(at: AppTest, url_path: str) -> AppTest:
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == url_path)
    at.run()
    _ok(at)
    return at


def _app(url_path: str = "figures") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    _ok(at)
    return _goto(at, url_path)


def _ingest(files=FILES) -> dict[str, str]:
    """Ingest the PDFs and store their cells; {document name: doc_id}."""
    svc = state.services()
    reports = library.ingest_files(svc, state.DEFAULT_WORKSPACE, files)
    assert all(r.ok for r in reports), [r.message for r in reports]
    ws = svc.workspace(state.DEFAULT_WORKSPACE)
    store = svc.figure_store(ws)
    settings = get_settings()
    for (filename, data), r in zip(files, reports, strict=True):
        cells = extract_cells(load(data, filename, settings), r.doc.doc_id)
        assert cells, f"no cells read from {filename}"
        store.put(r.doc.doc_id, cells)
    return {r.doc.name: r.doc.doc_id for r in reports}


def _frame(at: AppTest, *cols: str):
    frames = [d.value for d in at.dataframe if set(cols) <= set(d.value.columns)]
    assert frames, f"no table with columns {cols}"
    return frames[0]


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _no_raw_html(at: AppTest) -> None:
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "allow_html"):
            assert proto.allow_html is False, node


# -- plain helpers ---------------------------------------------------------------------------


def test_source_markdown_escapes_then_marks_the_value():
    out = page.source_markdown("Total *net* sales $ 1,200 $ 1,500 <b>", "1,500")
    assert out.count(":orange-background[") == 1
    assert ":orange-background[**1\\,500**]" in out
    assert "\\*net\\*" in out and "\\<b\\>" in out and "\\$ 1\\,200" in out
    assert page.source_markdown("no value here", "42") == "no value here"


def test_operand_rows_number_each_figure_by_its_citation():
    from rag.answer import Citation
    from rag.types import Chunk

    def op(name, period, text, span, page_no):
        return {"name": name, "value": text, "period": period, "text": text,
                "unit": "USD millions",
                "citation": {"n": 1, "doc_id": "d1", "doc_name": "acme", "page": page_no,
                             "row": None, "row_label": name.title(), "column": period[-4:],
                             "span": span}}

    sales = op("revenue", "FY2023", "1,500", "Total net sales $ 1,200 $ 1,500", 2)
    cost = op("cost of sales", "FY2023", "800", "Cost of sales 700 800", 2)
    comp = {"kind": "metric", "metric": "gross margin", "period": "FY2023",
            "formula": "x", "operands": [sales, cost], "missing": [],
            "periods": [{"metric": "gross margin", "period": "FY2023", "formula": "x",
                         "operands": [sales, cost], "missing": []},
                        {"metric": "gross margin", "period": "FY2024", "formula": "",
                         "operands": [sales], "missing": ["revenue (FY2024)"]}]}
    chunk = Chunk(id="c", doc_id="d1", doc_name="acme", ordinal=0, text="t")
    cites = [Citation(1, chunk, sales["citation"]["span"], 1.0),
             Citation(2, chunk, cost["citation"]["span"], 1.0)]
    rows = ask.operand_rows(comp, cites)
    assert [(r["cited as"], r["figure"], r["value"], r["page"]) for r in rows] == [
        ("[1]", "revenue", "1,500", "2"), ("[2]", "cost of sales", "800", "2")]
    assert ask.operand_rows(comp)[0]["cited as"] == ""
    assert ask.computation_missing(comp) == ["revenue (FY2024)"]


def test_anchor_of_a_figure_is_the_passage_of_its_page():
    from rag.types import Chunk

    p1 = Chunk(id="a", doc_id="d", doc_name="x", ordinal=0, text="Intro", page=1)
    p2 = Chunk(id="b", doc_id="d", doc_name="x", ordinal=1, text="Other text", page=2)
    p2b = Chunk(id="c", doc_id="d", doc_name="x", ordinal=2, text="Cost of sales 700 800",
                page=2)
    fig = Chunk(id="cell:d:3", doc_id="d", doc_name="x", ordinal=3, kind="figure",
                text="Cost of sales 700 800", page=2)
    assert ask.anchor_of([p1, p2, p2b], fig, fig.text) is p2b
    assert ask.anchor_of([p1, p2], fig, fig.text) is p2
    assert ask.anchor_of([p1], fig) is None
    assert ask.anchor_of([p1, p2], p1) is p1
    assert ask.anchor_of([p2], p1) is None


# -- the Figures page ------------------------------------------------------------------------


def test_empty_workspace_says_what_to_upload(app_env):
    at = _app()
    (info,) = at.info
    assert "No documents in this workspace yet" in info.value and "10-K" in info.value
    assert any(e.label == "Metric definitions" for e in at.expander)


def test_documents_without_figures_say_what_holds_figures(app_env):
    svc = state.services()
    reports = library.ingest_files(svc, state.DEFAULT_WORKSPACE,
                                   [("notes.txt", b"Minutes of the offsite: we talked.")])
    assert reports[0].ok
    ws = svc.workspace(state.DEFAULT_WORKSPACE)
    svc.figure_store(ws).put(reports[0].doc.doc_id, [])
    at = _app()
    assert any("No figures in the 1 document" in i.value and "income statement" in i.value
               for i in at.info)


def test_cells_ledger_disagreement_source_and_downloads(app_env):
    ids = _ingest()
    at = _app()
    caption = next(_plain(c.value) for c in at.caption if "with figures" in c.value)
    assert "2 documents with figures" in caption

    cells = _frame(at, *ledger.CELL_COLUMNS)
    assert set(cells["document"]) == {"acme_annual_report_2023", "acme_q4_2023_press_release"}
    sales = cells[(cells["row label"] == "Total net sales") & (cells["period"] == "FY2023")]
    assert sorted(zip(sales["document"], sales["page"], sales["value"], strict=True)) == [
        ("acme_annual_report_2023", 2, "1,500"), ("acme_q4_2023_press_release", 1, "1,550")]
    assert set(sales["statement"]) == {"income statement"}
    assert set(sales["unit"]) == {"USD millions"} and set(sales["source"]) == {"table"}
    assert "balance sheet" in set(cells["statement"])

    # The ledger: one row per line item, a column per period, the disagreement flagged.
    book = _frame(at, "line item", "documents", "check")
    assert list(book.columns) == ["line item", "FY2022", "FY2023", "unit", "documents",
                                  "check"]
    row = book[book["line item"] == "Total net sales"].iloc[0]
    assert row["FY2022"] == "1,200" and row["FY2023"] == "1,500 / 1,550"
    assert row["check"] == f"{ledger.DISAGREE} (FY2023)"
    assert row["documents"] == "acme_annual_report_2023; acme_q4_2023_press_release"
    net = book[book["line item"] == "Net income"].iloc[0]
    assert net["check"] == "" and net["FY2023"] == "180"
    assert any("sources disagree" in w.value for w in at.warning)
    detail = _frame(at, "line item", "period", "values")
    assert len(detail) == 1 and "acme_q4_2023_press_release, p. 1" in detail.iloc[0]["values"]

    # Only the disagreements.
    at.toggle(key=page.CONFLICTS_KEY).set_value(True).run()
    _ok(at)
    assert list(_frame(at, "line item", "check")["line item"]) == ["Total net sales"]

    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Download these figures (CSV)", "Download the ledger (CSV)",
            "Download the definitions (CSV)"} <= set(labels)
    # Definitions: every metric of the library, in an expander.
    defs = _frame(at, "metric", "definition", "unit")
    assert "gross margin" in set(defs["metric"])

    # The source of a cell: the printed line, the value marked, document and page.
    _select(at, "1,550")
    marked = [m.value for m in at.markdown if ":orange-background[" in m.value]
    assert [_plain(m) for m in marked] == [
        "Total net sales $ 1,200 $ :orange-background[**1,550**]"]
    assert any("acme\\_q4\\_2023\\_press\\_release" in m.value and "p\\. 1" in m.value
               for m in at.markdown)
    assert any("read from a table row" in c.value for c in at.caption)
    _no_raw_html(at)
    assert set(ids) == {"acme_annual_report_2023", "acme_q4_2023_press_release"}


def _select(at: AppTest, value: str) -> None:
    """Pick the 'Total net sales' cell printed as `value` in the source picker."""
    box = at.selectbox(key=page.PICK_KEY)
    cells = at.session_state["fig_cells"]["cells"]
    key = next(ledger.cell_key(c) for c in cells
               if c.row_label == "Total net sales" and c.text == value)
    box.set_value(key).run()
    _ok(at)


def test_filters_narrow_cells_and_ledger(app_env):
    ids = _ingest()
    at = _app()
    at.multiselect(key=page.DOCS_KEY).set_value([ids["acme_annual_report_2023"]]).run()
    _ok(at)
    cells = _frame(at, *ledger.CELL_COLUMNS)
    assert set(cells["document"]) == {"acme_annual_report_2023"}
    book = _frame(at, "line item", "check")
    assert set(book["check"]) == {""}  # one document: nothing to disagree with
    assert not any("sources disagree" in w.value for w in at.warning)

    at.multiselect(key=page.DOCS_KEY).set_value([]).run()
    at.multiselect(key=page.STATEMENTS_KEY).set_value(["balance"]).run()
    _ok(at)
    assert set(_frame(at, *ledger.CELL_COLUMNS)["row label"]) == {"Cash and cash equivalents",
                                                                  "Total assets"}
    at.multiselect(key=page.STATEMENTS_KEY).set_value([]).run()
    at.text_input(key=page.ITEM_KEY).input("NET  sales").run()
    at.multiselect(key=page.PERIODS_KEY).set_value(["FY2022"]).run()
    _ok(at)
    cells = _frame(at, *ledger.CELL_COLUMNS)
    assert list(cells["value"]) == ["1,200", "1,200"]
    at.text_input(key=page.ITEM_KEY).input("no such line").run()
    _ok(at)
    assert any("No figure matches these filters" in c.value for c in at.caption)


def test_csv_exports_are_defused_and_complete():
    from rag.figures.ledger import build_ledger, periods_of
    from rag.types import Cell

    evil = Cell(doc_id="d", doc_name="=HYPERLINK(\"x\")", row_label="Revenue", period="FY2023",
                value="10", text="10", span="Revenue 10", unit="USD millions", page=1,
                period_kind="FY", year=2023)
    rows = list(csv.DictReader(io.StringIO(page.cells_csv([evil]).decode())))
    assert rows[0]["document"].startswith("'=") and rows[0]["printed line"] == "Revenue 10"
    frame = page.ledger_frame(build_ledger([evil]), periods_of([evil]))
    assert list(frame.columns) == ["line item", "FY2023", "unit", "documents", "check"]


# -- the Ask page: a computed answer ---------------------------------------------------------


def test_ask_shows_the_computation_with_its_cited_figures(app_env):
    _ingest()
    at = _app("ask")
    at.chat_input(key=ask.INPUT_KEY).set_value(
        "What was the gross margin of Acme in FY2023?").run()
    _ok(at)
    turn = at.session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE][-1]
    answer = turn.answer
    assert answer is not None and answer.computation, turn.error
    assert not answer.abstained and answer.model == "computed from cells"
    assert not [m for m in MODEL.sent if m[0].content != REWRITE_SYSTEM]  # no model answer
    text = "\n".join(_plain(m.value) for m in at.markdown)
    assert "**Computed from the documents**" in text
    formulas = [c.value for c in at.code]
    assert formulas and any("%" in f and "1500" in f.replace(",", "") for f in formulas)
    ops = _frame(at, "cited as", "figure", "period", "value", "document", "page", "row label")
    assert set(ops["period"]) == {"FY2023"}
    assert set(ops["figure"]) == {"revenue", "cost of sales"}
    assert all(re.fullmatch(r"\[\d\]", n) for n in ops["cited as"])
    numbers = {c.n for c in answer.citations}
    assert {int(n.strip("[]")) for n in ops["cited as"]} <= numbers
    assert set(ops["page"]) <= {"1", "2"}  # shown as text: a blank, never None, when unknown
    # The citations render as before: a badge, the document and page, the line highlighted.
    sources = [m.value for m in at.markdown if m.value.startswith(":blue-badge[")]
    assert len(sources) == len(answer.citations) >= 2
    assert any(":orange-background[" in m.value and "Cost of sales" in m.value
               for m in at.markdown)


def test_ask_says_which_figures_were_missing(app_env):
    _ingest()
    at = _app("ask")
    at.chat_input(key=ask.INPUT_KEY).set_value(
        "What was the quick ratio of Acme in FY2023?").run()
    _ok(at)
    answer = at.session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE][-1].answer
    assert answer is not None and answer.computation and answer.computation["missing"]
    text = "\n".join(_plain(m.value) for m in at.markdown)
    assert "**Computed from the documents**" in text
    warn = [_plain(w.value) for w in at.warning if "Not found in the documents" in w.value]
    assert warn and "FY2023" in warn[0]
    assert any("do not give what is needed" in _plain(i.value) for i in at.info)
