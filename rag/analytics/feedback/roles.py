"""Column roles: which columns hold the date, rating, product/segment and channel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rag.analytics.feedback.model import Item, Roles
from rag.text.dates import is_day_first, to_iso_date

_RATING_HINTS = ("rating", "score", "stars", "star", "nps", "csat", "satisfaction", "grade")
_PRODUCT_HINTS = ("product", "segment", "plan", "tier", "sku", "model", "category", "service",
                  "customer_type", "industry", "brand")
_CHANNEL_HINTS = ("channel", "source", "medium", "via", "origin", "touchpoint", "platform")
_DATE_HINTS = ("date", "time", "created", "timestamp", "submitted", "day")


def to_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else None
    try:
        f = float(str(v).strip().replace(",", "."))
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def column_profile(items: Sequence[Item], column: str) -> dict[str, Any]:
    vals = [it.fields[column] for it in items[:2000] if column in it.fields]
    nums = [x for x in (to_number(v) for v in vals) if x is not None]
    distinct = {str(v) for v in vals}
    dated = sum(1 for v in vals if to_iso_date(str(v)))
    return {"filled": len(vals), "numeric": len(nums), "distinct": len(distinct),
            "min": min(nums) if nums else None, "max": max(nums) if nums else None,
            "dated": dated}


def guess_roles(items: Sequence[Item], columns: Sequence[str], text_column: str,
                date_column: str | None = None) -> Roles:
    """Likely date, rating, product/segment and channel columns, from names and values."""
    sample = list(items[:2000])
    n = max(1, len(sample))
    prof = {c: column_profile(sample, c) for c in columns if c != text_column}

    def hinted(col: str, hints: tuple[str, ...]) -> bool:
        low = col.lower()
        return any(h in low for h in hints)

    def is_rating(c: str) -> bool:
        p = prof[c]
        return (p["filled"] >= 0.3 * n and p["numeric"] >= 0.9 * p["filled"]
                and p["min"] is not None and p["min"] >= 0 and p["max"] <= 10
                and 2 <= p["distinct"] <= 11)

    def is_category(c: str) -> bool:
        p = prof[c]
        return (p["filled"] >= 0.3 * n and 2 <= p["distinct"] <= min(60, max(2, n // 3))
                and p["numeric"] < 0.5 * p["filled"] and p["dated"] < 0.5 * p["filled"])

    date = date_column
    if not date:
        date = next((c for c in prof if prof[c]["filled"] and prof[c]["dated"]
                     >= 0.8 * prof[c]["filled"] and hinted(c, _DATE_HINTS)), None) or next(
            (c for c in prof if prof[c]["filled"] >= 0.3 * n
             and prof[c]["dated"] >= 0.9 * prof[c]["filled"]), None)
    rating = next((c for c in prof if hinted(c, _RATING_HINTS) and is_rating(c)), None) or next(
        (c for c in prof if is_rating(c)), None)
    taken = {date, rating}
    channel = next((c for c in prof if c not in taken and hinted(c, _CHANNEL_HINTS)
                    and is_category(c)), None)
    taken.add(channel)
    product = next((c for c in prof if c not in taken and hinted(c, _PRODUCT_HINTS)
                    and is_category(c)), None) or next(
        (c for c in prof if c not in taken and is_category(c)), None)
    return Roles(text=text_column, date=date, rating=rating, product=product, channel=channel)



def role_values(items: Sequence[Item], roles: Roles, ingest_date_column: str | None = None
                ) -> tuple[list[str | None], list[float | None]]:
    """Each item's ISO date and numeric rating under the chosen roles (None where missing)."""
    dates: list[str | None] = [None] * len(items)
    if roles.date:
        if roles.date == ingest_date_column:
            dates = [it.date for it in items]
        else:
            raw = [str(it.fields.get(roles.date, "")) for it in items]
            day_first = is_day_first(raw)
            dates = [to_iso_date(v, day_first) for v in raw]
    ratings: list[float | None] = [None] * len(items)
    if roles.rating:
        ratings = [to_number(it.fields[roles.rating]) if roles.rating in it.fields else None
                   for it in items]
    return dates, ratings

