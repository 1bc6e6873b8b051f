"""Assessments ('Is X capital-intensive?'), explanations with their figures ('What drove the
margin change?'), changes stated in prose ('9 percent (previously 8 percent)'), and the claim
check that a verbatim figure of the wrong kind is not taken for a change, a total or a remainder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fakes import ScriptedChat
from test_figures import BALANCE, CASHFLOW, INCOME, _doc, _NoModel

from rag import claims
from rag.figures.engine import FigureEngine
from rag.figures.extract import extract_cells
from rag.figures.prose import change_for, changes_in
from rag.figures.store import DuckFigureStore
from rag.figures.values import Period, periods_in_question
from rag.types import Chunk

WHY = """Management's discussion
Operating income rose in 2023 because cost of sales grew more slowly than net sales, and the
2022 loss included a litigation charge that did not recur.
"""

GUIDANCE = """ACME raises full-year outlook
Given our strong first quarter, we now expect full-year 2024 organic revenue to increase 7 percent
(previously 5 percent) and core EPS to increase 11 percent (previously 9.5 percent), said the CEO.
"""

CREDIT = """Item 8.01 Other Events
Effective June 1, 2024, ACME terminated its $2,500,000,000 five year revolving credit agreement.
On June 1, 2024, ACME entered into a new $3,000,000,000 five year revolving credit agreement,
which enables ACME to borrow up to $3,000,000,000.
"""


@pytest.fixture
def engine(tmp_path: Path) -> FigureEngine:
    store = DuckFigureStore(tmp_path / "f.duckdb")
    store.put("d1", extract_cells(_doc([INCOME, BALANCE, CASHFLOW]), "d1"))
    return FigureEngine(store)


def test_an_assessment_gets_the_measures_it_is_read_from(engine: FigureEngine) -> None:
    a = engine.answer("Is ACME a capital-intensive business based on FY2023 data?", ["d1"])
    assert a is not None and a.ok
    got = {c.label: c.result_text for c in a.computations if c.ok}
    assert got["capex as % of revenue"] == "4.0%"  # 60 / 1,500
    assert got["net PP&E as % of total assets"] == "68.8%"  # 320 / 465
    assert "judgement is left to you" in a.judgement
    a = engine.answer("Does ACME have a healthy liquidity profile as of FY2023?", ["d1"])
    got = {c.label: c.result_text for c in a.computations if c.ok}
    assert got == {"current ratio": "1.61", "quick ratio": "1.33"}  # 145/90, (80+40)/90
    # not an assessment: left to the model
    assert engine.answer("What does capital-intensive mean for ACME's strategy?", ["d1"]) is None


def test_an_explanation_question_gets_the_figures_it_explains(engine: FigureEngine) -> None:
    q = "What drove the operating margin change in FY2023?"
    assert engine.answer(q, ["d1"]) is None  # the why is the model's to read
    ctx = engine.context(q, ["d1"])
    assert ctx is not None
    assert [(c.period, c.result_text) for c in ctx.computations] == [
        ("FY2022", "-1.7%"), ("FY2023", "16.7%")]
    assert "up 18.4 percentage points (16.7% - (-1.7%))" in ctx.judgement
    assert engine.context("What drove customer churn in FY2023?", ["d1"]) is None


def test_explanation_answer_puts_computed_figures_above_the_checked_reasons(
        services, workspace, ingestor) -> None:
    from badfiles import text_pdf

    rep = ingestor.ingest_bytes(text_pdf([INCOME, BALANCE, CASHFLOW, WHY]), "acme_2023_10k.pdf")
    assert rep.ok, rep.message

    def reply(messages) -> str:
        text = messages[-1].content
        n = next(i for i in range(1, 6) if f"<<<passage {i}>>>" in text and "litigation" in
                 text.split(f"<<<passage {i}>>>")[1].split("<<<end>>>")[0])
        return (f"Operating income rose because cost of sales grew more slowly than net sales, "
                f"and the 2022 loss included a litigation charge that did not recur [{n}].")

    ans = services.answerer(workspace, model=ScriptedChat(reply)).ask(
        "What drove ACME's operating margin change in FY2023?")
    assert not ans.abstained
    assert ans.text.index("16.7%") < ans.text.index("litigation charge")
    assert ans.computation and ans.computation["result"] == "16.7%"
    assert [c.n for c in ans.citations[:4]] == [1, 2, 3, 4]  # the four cells come first
    ns = [c.n for c in ans.citations]
    assert ns == sorted(ns) and len(set(ns)) == len(ns)
    reason = next(c for c in ans.citations if "litigation" in c.chunk.text)
    assert reason.n > 4 and f"[{reason.n}]" in ans.text


def test_a_change_stated_as_two_figures_is_computed_not_read() -> None:
    c = Chunk(id="g", doc_id="d", doc_name="ACME_2024Q1_EARNINGS", ordinal=0, text=GUIDANCE)
    found = [(ch.new_text, ch.old_text, ch.result_text) for ch in changes_in(c)]
    assert found == [("7 percent", "5 percent", "2 percentage points"),
                     ("11 percent", "9.5 percent", "1.5 percentage points")]
    ch = change_for("By how many percentage points did ACME raise its core EPS growth "
                    "guidance?", [c])
    assert ch is not None and ch.result == Decimal("1.5")
    assert "11 percent - 9.5 percent = 1.5 percentage points" in ch.formula
    money = Chunk(id="m", doc_id="d", doc_name="X", ordinal=0,
                  text="We lowered our capital spending outlook to $4.1 billion from $4.3 "
                       "billion. The board raised the dividend from $1.15 to $1.265 per share.")
    ch = change_for("By how much did the company lower its capital spending outlook?", [money])
    assert ch is not None and ch.result_text == "$0.2 billion" and ch.result < 0
    assert change_for("By how much did the dividend rise?", [money]).result_text == "$0.115"
    assert change_for("By how much did headcount grow?", [money]) is None


def test_ask_computes_a_prose_change_without_the_model(services, workspace, ingestor) -> None:
    rep = ingestor.ingest_bytes(GUIDANCE.encode(), "acme_2024q1_earnings.txt")
    assert rep.ok, rep.message
    ans = services.answerer(workspace, model=_NoModel()).ask(
        "By how many percentage points did ACME raise full-year guidance for core EPS growth?")
    assert ans.computation and ans.computation["result"] == "1.5 percentage points"
    assert "11 percent - 9.5 percent" in ans.text
    assert ans.citations and "11 percent (previously 9.5 percent)" in " ".join(
        ans.citations[0].quote.split())
    # both operands cite the sentence in the one Citation shape the answer's citation has
    for o in ans.computation["operands"]:
        assert o["citation"] == {**ans.citations[0].to_dict(), "span": ans.citations[0].quote}


@pytest.mark.parametrize("question,sentence", [
    ("By how much did ACME increase its five year revolving credit agreement?",
     "ACME increased it by $3,000,000,000 [1]."),
    ("What is the total amount ACME may borrow under its revolving credit agreements?",
     "ACME may borrow a total of $3,000,000,000 under its agreements [1]."),
    ("How much does ACME still expect to pay for the programme in the future?",
     "ACME expects to pay $2,500,000,000 [1]."),
])
def test_a_verbatim_figure_of_another_kind_is_not_the_answer(question, sentence) -> None:
    asked = claims.kind_asked(question)
    assert asked is not None
    v = claims.judge(sentence, [Chunk(id="c", doc_id="d", doc_name="ACME_8K", ordinal=0,
                                      text=CREDIT)], [], asked=asked)
    assert not v.ok and "the question asks for" in "; ".join(v.reasons)


def test_a_share_question_is_not_answered_with_an_amount() -> None:
    text = ("Revenues by segment: Commercial Airplanes $25,867 million (39% of revenue); "
            "Global Services $17,611 million (26% of revenue).")
    chunk = Chunk(id="c", doc_id="d", doc_name="ACME_2022_10K", ordinal=0, text=text)
    q = "Are there any segments that represent more than 20% of ACME's revenue for FY2022?"
    asked = claims.kind_asked(q)
    given = frozenset(claims.numbers_in(q))
    bad = claims.judge("Global Services accounts for $17,611 million of revenue [1].", [chunk],
                       [chunk], given, asked=asked)
    assert not bad.ok and "a percentage" in "; ".join(bad.reasons)
    good = claims.judge("Yes: Global Services is 26% of revenue [1].", [chunk], [chunk], given,
                        asked=asked)
    assert good.ok, good.reasons


def test_a_stated_change_or_plain_figure_is_kept() -> None:
    text = "Net sales increased $300 million, or 25%, to $1,500 million in 2023."
    chunk = Chunk(id="c", doc_id="d", doc_name="ACME_2023_10K", ordinal=0, text=text)
    for q, s in [("By how much did net sales increase in 2023?",
                  "Net sales increased by $300 million in 2023 [1]."),
                 ("What were net sales in 2023?", "Net sales were $1,500 million in 2023 [1].")]:
        assert claims.judge(s, [chunk], [chunk], asked=claims.kind_asked(q)).ok, q


def test_quarter_names_in_questions() -> None:
    for q, want in [("quick ratio for Q2 of FY2023?", Period("Q", 2023, 2)),
                    ("As of FY2023Q1, why did guidance rise?", Period("Q", 2023, 1)),
                    ("revenue for the quarter ended June 30, 2023", Period("Q", 2023, 2)),
                    ("Q1 of fiscal year 2024", Period("Q", 2024, 1))]:
        assert periods_in_question(q) == [want], q


def test_a_balance_is_not_read_from_the_cash_flow_statement(tmp_path: Path) -> None:
    cash = CASHFLOW.replace("Depreciation and amortization 40 38 35",
                            "Depreciation and amortization 40 38 35\nAccounts receivable (105) "
                            "(122) 165")
    bal = BALANCE.replace("Accounts receivable, net 30 40",
                          "Accounts receivable — net of allowances of $4 and $5 30 40")
    store = DuckFigureStore(tmp_path / "f.duckdb")
    store.put("d1", extract_cells(_doc([INCOME, cash, bal]), "d1"))
    a = FigureEngine(store).answer("What is ACME's FY2023 quick ratio?", ["d1"])
    ops = {o.name: o.cell.text for o in a.computations[0].operands}
    assert ops["accounts receivable"] == "40" and a.computations[0].result_text == "1.33"


def _chooser(name_reply: str, answer_reply: str = "The passages do not say. [1]"):
    from rag.figures.choose import CHOOSE_SYSTEM

    def reply(messages) -> str:
        return name_reply if messages[0].content == CHOOSE_SYSTEM else answer_reply
    return ScriptedChat(reply)


def test_the_model_may_name_the_metric_and_code_validates_it(services, workspace,
                                                             ingestor) -> None:
    from badfiles import text_pdf

    rep = ingestor.ingest_bytes(text_pdf([INCOME, BALANCE, CASHFLOW]), "acme_2023_10k.pdf")
    assert rep.ok, rep.message
    q = "What share of its sales did ACME keep as operating income in FY2023?"
    ans = services.answerer(workspace, model=_chooser('{"name": "operating_margin"}')).ask(q)
    assert ans.computation and ans.computation["result"] == "16.7%"  # 250 / 1,500, by code
    assert any("the model read the question as operating margin" in f for f in ans.flags)
    # a name the question does not support, a number, or no JSON: refused, no computation
    for reply in ('{"name": "roe"}', '{"name": "16.7%"}', "16.7%", '{"name": "made_up"}'):
        ans = services.answerer(workspace, model=_chooser(reply)).ask(q)
        assert ans.computation is None, reply
        assert "16.7%" not in ans.text, reply
    # computation off: the model is never asked to choose
    model = _chooser('{"name": "operating_margin"}')
    services.answerer(workspace, model=model, figures=False).ask(q)
    assert all(m[0].content != "" and "fixed list" not in m[0].content for m in model.sent)


def test_a_choice_needs_the_question_to_name_the_metric_or_an_operand() -> None:
    from rag.figures.choose import supported

    assert supported("What share of sales was operating earnings?", "operating_margin")
    assert supported("How big were capital expenditures relative to revenue?", "capex_intensity")
    assert not supported("By how much did EPS growth guidance rise?", "revenue_growth")
    assert not supported("How much did PepsiCo increase its credit agreement?", "revenue")
