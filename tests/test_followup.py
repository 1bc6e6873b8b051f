"""Follow-ups mean what was asked: a standalone question is never rewritten; an elliptical one
is resolved from the previous question's subject, company and period (rag.followup) before
any model is asked. Pure unit tests: no model."""

from __future__ import annotations

import pytest

from rag.answer import Answerer
from rag.followup import is_followup, resolve, resolved_history

COMPANIES = ["Northwind", "Kestrel"]
GM = "What was gross margin in Q2 2026?"
REV = "What was Northwind's revenue in the second quarter of 2026?"
CAPEX = "What is the FY2018 capital expenditure amount for 3M?"
SALES = "What were ACME's net sales in 2024?"

# (previous question, follow-up, expected standalone question)
PAIRS = [
    (GM, "and in Q1?", "What was gross margin in Q1 2026?"),
    (GM, "And Q3?", "What was gross margin in Q3 2026?"),
    (GM, "what about Q4 2025?", "What was gross margin in Q4 2025?"),
    (GM, "and the quarter before?", "What was gross margin in Q1 2026?"),
    (GM, "and the same quarter a year ago?", "What was gross margin in Q2 2025?"),
    (GM, "and in 2025?", "What was gross margin in 2025?"),
    (GM, "what about Kestrel?", "What was gross margin in Q2 2026 for Kestrel?"),
    (GM, "and revenue?", "What was the revenue in Q2 2026?"),
    (GM, "how about operating expenses in Q1?", "What was the operating expenses in Q1 2026?"),
    (GM, "why?", "Why did the gross margin in Q2 2026 change?"),
    (REV, "and in the first quarter?",
     "What was Northwind's revenue in the first quarter of 2026?"),
    (REV, "And what about its gross margin?",
     "What was the gross margin of Northwind in the second quarter of 2026?"),
    (REV, "what about the other company?",
     "What was Kestrel's revenue in the second quarter of 2026?"),
    (REV, "and for Kestrel in Q1?", "What was Kestrel's revenue in the first quarter of 2026?"),
    (REV, "and the quarter after?", "What was Northwind's revenue in the third quarter of 2026?"),
    (REV, "How did it change?",
     "How did the revenue of Northwind in the second quarter of 2026 change?"),
    (CAPEX, "and the year before?", "What is the FY2017 capital expenditure amount for 3M?"),
    (CAPEX, "and FY2016?", "What is the FY2016 capital expenditure amount for 3M?"),
    (CAPEX, "what about Amazon?", "What is the FY2018 capital expenditure amount for Amazon?"),
    (SALES, "and in the previous year?", "What were ACME's net sales in 2023?"),
    (SALES, "and last year?", "What were ACME's net sales in 2023?"),
    (SALES, "and the year after?", "What were ACME's net sales in 2025?"),
    (SALES, "same for 2022", "What were ACME's net sales in 2022?"),
    (SALES, "what about Globex?", "What were Globex's net sales in 2024?"),
    (SALES, "and its operating income?", "What were the operating income of ACME in 2024?"),
    ("What did Pfizer report as revenue in FY2021?", "and in FY2020?",
     "What did Pfizer report as revenue in FY2020?"),
    ("What was Boeing's effective tax rate in 2022?", "and in 2021?",
     "What was Boeing's effective tax rate in 2021?"),
    ("What was Boeing's effective tax rate in 2022?", "why is that?",
     "Why did the effective tax rate of Boeing in 2022 change?"),
    ("How many warehouses did Kestrel open in H1 2026?", "and in H2?",
     "How many warehouses did Kestrel open in H2 2026?"),
    ("What was PepsiCo's net revenue in 2022?", "compared with 2021?",
     "What was PepsiCo's net revenue in 2021?"),
    ("What was Northwind's backlog at the end of Q2 2026?", "and Q1?",
     "What was Northwind's backlog at the end of Q1 2026?"),
]


@pytest.mark.parametrize("previous,followup,expected", PAIRS)
def test_followup_is_resolved(previous, followup, expected):
    assert is_followup(followup, COMPANIES)
    assert resolve(followup, previous, COMPANIES) == expected


def test_why_takes_the_direction_of_the_last_answer():
    assert resolve("Why?", GM, COMPANIES, "Gross margin expanded to 41.3% [1].") == \
        "Why did the gross margin in Q2 2026 expand?"
    assert resolve("why?", SALES, (), "Net sales fell 3% [1].") == \
        "Why did the net sales of ACME in 2024 fall?"


STANDALONE = [
    "What was Northwind's revenue in the second quarter of 2026?",
    "What were ACME net sales in 2024?",
    "What is the FY2018 capital expenditure amount (in USD millions) for 3M?",
    "How did Amazon's revenue change from FY2016 to FY2017?",
    "What pick accuracy did the Calloway pilot deliver?",
    "Who is the CFO of Northwind?",
    "Summarise the customer feedback about FleetOS.",
    "Did Pfizer grow its PPNE between FY20 and FY21?",
    "What is the capital of France?",
    "Which products had the most complaints in 2026?",
]


@pytest.mark.parametrize("question", STANDALONE)
def test_standalone_question_is_not_a_followup(question):
    assert not is_followup(question, COMPANIES)


class _Retr:
    def __init__(self):
        self.queries = []

    def retrieve(self, query, k=5, filter=None, mode="hybrid", focus=False):
        from rag.retrieve import SearchFilter, SearchResult

        self.queries.append(query)
        return SearchResult([], filter or SearchFilter())


class _Chat:
    name = "scripted"

    def __init__(self, rewrite):
        self.rewrite = rewrite
        self.sent = []

    def stream(self, messages, max_tokens=512, temperature=0.0):
        self.sent.append(messages)
        yield self.rewrite


def test_answerer_resolves_without_the_model():
    chat = _Chat("Some answer that is not a question.")
    retr = _Retr()
    ans = Answerer(retr, chat).ask("and in Q1?", history=[(GM, "Gross margin was 41.3% [1].")])
    assert ans.rewritten == "What was gross margin in Q1 2026?" and chat.sent == []
    assert retr.queries == ["What was gross margin in Q1 2026?"]


def test_standalone_question_after_another_company_is_not_glued():
    """The issue: a question about one company, asked after one about another, was glued to
    it and the answer mixed the two companies."""
    chat = _Chat("x")
    ans = Answerer(_Retr(), chat).ask("What was Amazon's revenue in FY2017?",
                                      history=[("What was 3M's revenue in FY2018?", "...")])
    assert ans.rewritten == "What was Amazon's revenue in FY2017?" and chat.sent == []


def test_model_is_the_fallback_and_must_return_a_question():
    history = [("Tell me about the Kestrel deal.", "Kestrel selected Beacon arms [1].")]
    ok = Answerer(_Retr(), _Chat("What did Kestrel Logistics select the Beacon arms for?"))
    assert ok.rewrite("what for?", history) == \
        "What did Kestrel Logistics select the Beacon arms for?"
    answering = Answerer(_Retr(), _Chat("Kestrel selected them for each-picking."))
    assert answering.rewrite("what for?", history) == "what for?"  # not glued either
    echo = Answerer(_Retr(), _Chat("what for?"))
    assert echo.rewrite("what for?", history) == "what for?"


def test_history_is_resolved_turn_by_turn():
    assert resolved_history([GM, "and in Q1?", "and the quarter before?"]) == \
        "What was gross margin in Q4 2025?"
