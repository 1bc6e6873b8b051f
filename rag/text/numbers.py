"""The number grammar: how filings, transcripts and tables print amounts, rates and scales.

Regex pieces every reader of figures builds from (so '$1,577.0', '(2.5)%', '4.1 billion' and
'40 basis points' are read alike everywhere), and the pure functions over them: a table value
token to an exact `Decimal` (parentheses are negatives), a printed number to its comparable
form, the unit a figure is stated in.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CURRENCY = r"[$€£]"
"""A currency sign printed before an amount."""
CURRENCY_SIGNS = "$€£"

NUMBER = r"\d[\d,]*(?:\.\d+)?"
"""Digits with thousands separators and optional decimals: '1,577.25', '12', '0.5'."""

# One value token as tables print it: optional currency, optional parentheses (negative),
# digits with thousands separators, optional decimals, optional percent; or a dash (nil).
VALUE_TOKEN = (
    r"(?:\(?-?[$€£]?\s?\(?\d{1,3}(?:,\d{3})+(?:\.\d+)?\)?%?\)?"
    r"|\(?-?[$€£]?\s?\(?\d+(?:\.\d+)?\)?%?\)?"
    r"|[—–-]{1,2})"
)
_VALUE_RE = re.compile(rf"^{VALUE_TOKEN}$")
DASHES = {"—", "–", "-", "--", "——"}

SCALE_WORDS = {"thousands": Decimal(1000), "millions": Decimal(10) ** 6,
               "billions": Decimal(10) ** 9}
"""A table's declared scale ('in millions') and its factor."""

SCALE_OF_WORD = {"thousand": "thousands", "k": "thousands", "million": "millions",
                 "m": "millions", "mn": "millions", "billion": "billions", "b": "billions",
                 "bn": "billions"}
"""The scale a word or abbreviation after an amount names ('$4.1 bn' -> billions)."""

RATE_WORDS = ("%", "pp", "bp", "bps")
"""Units that make a figure a rate; so do words starting 'percent' or 'basis'."""


def is_rate_unit(word: str) -> bool:
    """True for the unit of a rate: '%', 'percent', 'percentage points', 'pp', 'basis points',
    'bps' (lowercase)."""
    return word in RATE_WORDS or word.startswith(("percent", "basis"))


def parse_value(token: str) -> tuple[Decimal | None, bool]:
    """A table value token -> (value, is_percent); a dash is (None, False): nil or not given.

    '(1,577)' -> -1577; '$ 5,363' -> 5363; '(2.5)%' -> -2.5 percent; '—' -> None.
    """
    t = token.strip().replace(" ", "")
    if not t or t in DASHES:
        return None, False
    pct = t.endswith(("%", "%)"))
    neg = t.startswith(("(", "-", "$("))
    digits = re.sub(r"[^\d.]", "", t)
    if not digits or digits == ".":
        return None, pct
    try:
        v = Decimal(digits)
    except InvalidOperation:
        return None, pct
    return (-v if neg else v), pct


def is_value_token(token: str) -> bool:
    """True when the whole token is one table value ('(1,577)', '$ 5,363', '12.5%', '—')."""
    return bool(_VALUE_RE.match(token.strip()))


NUMBER_TOKEN_RE = re.compile(rf"(?<![\w.]){CURRENCY}?{NUMBER}%?")
"""A number as a sentence prints it, not inside a word or after a decimal point."""


def norm_number(tok: str) -> str:
    """The comparable form of a printed number: '$1,577.50' -> '1577.5', '12.0%' -> '12'."""
    t = tok.strip(CURRENCY_SIGNS).replace(",", "").rstrip("%")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return t


def numbers_in(text: str) -> set[str]:
    """Every number the text prints, in comparable form."""
    return {norm_number(m) for m in NUMBER_TOKEN_RE.findall(text)}
