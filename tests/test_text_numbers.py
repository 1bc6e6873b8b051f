"""The number grammar: table value tokens, printed numbers, rate units and scale words, read
alike by claims, figure extraction and prose pairs (real TAT-QA table cells and sentences)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from shared_data import tatqa_dev

from rag import claims
from rag.figures import prose
from rag.text.numbers import (
    NUMBER,
    SCALE_OF_WORD,
    is_rate_unit,
    is_value_token,
    norm_number,
    numbers_in,
    parse_value,
)


@pytest.fixture(scope="module")
def tatqa() -> list[dict]:
    return tatqa_dev()


def test_value_tokens_as_tables_print_them():
    assert parse_value("(1,577)") == (Decimal(-1577), False)
    assert parse_value("$ 5,363") == (Decimal(5363), False)
    assert parse_value("(2.5)%") == (Decimal("-2.5"), True)
    assert parse_value("—") == (None, False) and parse_value("") == (None, False)
    assert parse_value("n/a") == (None, False)
    assert is_value_token("$ (3,781)") and is_value_token("12.5%") and is_value_token("--")
    assert not is_value_token("12 months") and not is_value_token("2,5,")


def test_real_table_cells_read_as_their_numbers(tatqa):
    """Every TAT-QA table cell that is one value token reads as the number it prints, negative
    exactly when it is in parentheses or has a minus."""
    cells = [c.strip() for d in tatqa for row in d["table"]["table"] for c in row]
    tokens = [c for c in cells if c and is_value_token(c) and re.search(r"\d", c)]
    assert len(tokens) > 3000
    for c in tokens:
        v, pct = parse_value(c)
        assert v is not None, c
        assert abs(v) == Decimal(re.sub(r"[^\d.]", "", c)), c
        assert (v < 0) == (c.replace(" ", "").startswith(("(", "-", "$(")) and v != 0), c
        assert pct == c.rstrip(")").endswith("%"), c


def test_claims_read_a_dollar_sign_before_parentheses_as_negative(tatqa):
    """The one change: claims read '$ (29.7)' (a space between sign and parenthesis, as TAT-QA's
    tables print it) as +29.7 before; it now reads as the table's grammar does: -29.7."""
    assert claims._value("$ (29.7)") == -29.7 == float(parse_value("$ (29.7)")[0])
    assert claims._value("(1,577)") == -1577.0 and claims._value("$5,363") == 5363.0
    assert claims._value("—") is None and claims._value("n/a") is None


def test_printed_numbers_compare_in_one_form(tatqa):
    assert norm_number("$1,577.50") == "1577.5" and norm_number("12.0%") == "12"
    assert numbers_in("Revenue was $1,577.0 million, up 12.50% from 2017.") == {
        "1577", "12.5", "2017"}
    assert numbers_in("version v2.3 and item7") == set()  # not inside words
    text = " ".join(p["text"] for d in tatqa[:50] for p in d["paragraphs"])
    found = numbers_in(text)
    assert len(found) > 100
    assert all(re.fullmatch(r"\d+(?:\.\d*[1-9])?", n) for n in found)


def test_units_and_scales():
    for w in ("%", "percent", "percentage points", "pp", "bps", "basis points"):
        assert is_rate_unit(w)
    for w in ("million", "billion", "", "per share"):
        assert not is_rate_unit(w)
    assert SCALE_OF_WORD["bn"] == SCALE_OF_WORD["billion"] == "billions"
    assert re.fullmatch(NUMBER, "1,577.25") and not re.fullmatch(NUMBER, ".5")
    # prose pairs and claims read the same units
    assert prose._value("40 basis points") == (Decimal("0.40"), "pct")
    assert prose._value("$4.1 billion") == (Decimal("4.1"), "$billion")
    assert claims.units_of("tax rate 23.4% and $23.4 million") == {"23.4": {"pct", "money"}}
