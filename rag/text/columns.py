"""Names of table columns as stored with their chunks."""

from __future__ import annotations

import re


def meta_key(col: str) -> str:
    """A Chroma-safe metadata key for a user column."""
    key = re.sub(r"[^0-9a-zA-Z_]+", "_", col.strip().lower()).strip("_") or "col"
    return "c_" + key[:60]
