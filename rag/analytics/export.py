"""Spreadsheet-safe CSV: cells a spreadsheet would run as a formula are defused.

A cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets
skip before looking) is a formula to Excel, LibreOffice and Google Sheets: CSV injection.
Prefixing a single quote makes it plain text. Only text cells are touched: numbers stay numbers.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_cell(value: Any) -> Any:
    """The value, with a leading single quote when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame) -> bytes:
    """A pandas DataFrame as UTF-8 CSV bytes with every text cell defused (header included)."""
    out = frame.map(defuse_cell)
    out.columns = [defuse_cell(str(c)) for c in out.columns]
    return out.to_csv(index=False).encode("utf-8")
