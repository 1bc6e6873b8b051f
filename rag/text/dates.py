"""Dates written in table cells: ISO and slash forms, and whether a column writes the day first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

SLASH_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2,4})$")


def to_iso_date(v: str, day_first: bool = False) -> str | None:
    """'2026-03-04', '2026-03-04 10:00', '3/4/2026' (US order unless `day_first`) ->
    '2026-03-04'; else None."""
    v = (v or "").strip()
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", v)
    if m:
        y, mo, d = map(int, m.groups())
    else:
        m = SLASH_DATE_RE.match(v)
        if not m:
            return None
        mo, d, y = map(int, m.groups())
        if day_first or mo > 12:
            mo, d = d, mo
        y += 2000 if y < 100 else 0
    try:
        return date(y, mo, d).isoformat()
    except ValueError:
        return None


def is_day_first(values: Iterable[str]) -> bool:
    """True when a column of d/m/y dates is written day first (some first number is over 12)."""
    firsts_over_12 = seconds_over_12 = 0
    for v in values:
        m = SLASH_DATE_RE.match(v.strip())
        if m:
            firsts_over_12 += int(m.group(1)) > 12
            seconds_over_12 += int(m.group(2)) > 12
    return firsts_over_12 > 0 and seconds_over_12 == 0
