"""Spreadsheet-safe CSV: cells a spreadsheet would run as a formula are defused.

A cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets
skip before looking) is a formula to Excel, LibreOffice and Google Sheets: CSV injection.
Prefixing a single quote makes it plain text. Only text cells are touched: numbers stay numbers.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
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


def write_json_atomic(path: Path, obj: Any) -> Path:
    """Write `obj` as JSON to `path` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"), default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
