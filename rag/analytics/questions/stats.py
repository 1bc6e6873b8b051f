"""Aggregations over logged questions (pure: records in, numbers and tables out)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from rag.analytics.questions.records import ANSWERED, OUTCOMES, QuestionRecord, text_key


def frame(records: Sequence[QuestionRecord]):
    """The records as a table: one row a question, with its day and outcome."""
    import pandas as pd

    cols = ["id", "asked_at", "day", "question", "rewritten", "model", "seconds",
            "first_token_s", "outcome", "citation_check", "resolved", "source"]
    rows = [{
        "id": r.id, "asked_at": datetime.fromtimestamp(r.asked_at),
        "day": datetime.fromtimestamp(r.asked_at).date(), "question": r.question,
        "rewritten": r.rewritten, "model": r.model, "seconds": r.seconds,
        "first_token_s": r.first_token_s, "outcome": r.outcome, "citation_check": r.check,
        "resolved": r.resolved, "source": r.source,
    } for r in records]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"seconds": "float64", "first_token_s": "float64"})


def daily_counts(records: Sequence[QuestionRecord], days: int | None = None,
                 today: date | None = None):
    """Questions per day by outcome (every day of the range, zeros included).

    Columns: day, answered, flagged, abstained, total. `days` keeps the last n days ending
    `today` (default: the span of the log).
    """
    import pandas as pd

    cols = ["day", *OUTCOMES, "total"]
    if not records and days is None:
        return pd.DataFrame(columns=cols)
    per: dict[date, dict[str, int]] = {}
    for r in records:
        d = datetime.fromtimestamp(r.asked_at).date()
        per.setdefault(d, dict.fromkeys(OUTCOMES, 0))[r.outcome] += 1
    end = today or (max(per) if per else date.today())
    start = end - timedelta(days=days - 1) if days else min(per)
    rows = []
    d = start
    while d <= end:
        c = per.get(d, dict.fromkeys(OUTCOMES, 0))
        rows.append({"day": d, **c, "total": sum(c.values())})
        d += timedelta(days=1)
    return pd.DataFrame(rows, columns=cols)


def outcome_shares(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    """How many questions, and the share answered, flagged and abstained."""
    n = len(records)
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in records:
        counts[r.outcome] += 1
    out: dict[str, Any] = {"questions": n, **counts}
    for k in OUTCOMES:
        out[f"share_{k}"] = counts[k] / n if n else 0.0
    out["open_unanswered"] = sum(1 for r in records if r.unanswered and not r.resolved)
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation) or None without values."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def latency_stats(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    """Answer time percentiles (seconds), over all questions and over those the model answered."""
    secs = [r.seconds for r in records if r.seconds is not None]
    model = [r.seconds for r in records if r.seconds is not None and r.first_token_s is not None]
    first = [r.first_token_s for r in records if r.first_token_s is not None]
    return {
        "n": len(secs),
        "p50": percentile(secs, 50), "p90": percentile(secs, 90), "p95": percentile(secs, 95),
        "max": max(secs) if secs else None,
        "mean": sum(secs) / len(secs) if secs else None,
        "model_p50": percentile(model, 50), "model_p90": percentile(model, 90),
        "first_token_p50": percentile(first, 50),
    }


def daily_latency(records: Sequence[QuestionRecord], days: int | None = None,
                  today: date | None = None):
    """Per day: questions timed, median and 90th percentile of the answer time."""
    import pandas as pd

    by_day: dict[date, list[float]] = {}
    for r in records:
        if r.seconds is not None:
            by_day.setdefault(datetime.fromtimestamp(r.asked_at).date(), []).append(r.seconds)
    cols = ["day", "questions", "p50_s", "p90_s"]
    if not by_day:
        return pd.DataFrame(columns=cols)
    end = today or max(by_day)
    start = end - timedelta(days=days - 1) if days else min(by_day)
    rows = [{"day": d, "questions": len(v), "p50_s": percentile(v, 50),
             "p90_s": percentile(v, 90)} for d, v in sorted(by_day.items()) if start <= d <= end]
    return pd.DataFrame(rows, columns=cols)


def period_change(records: Sequence[QuestionRecord], days: int = 7,
                  now: float | None = None) -> tuple[int, int]:
    """Questions asked in the last `days` days and in the `days` before them."""
    now = time.time() if now is None else now
    span = days * 86400.0
    recent = sum(1 for r in records if now - span < r.asked_at <= now)
    before = sum(1 for r in records if now - 2 * span < r.asked_at <= now - span)
    return recent, before



def open_unanswered(records: Sequence[QuestionRecord]) -> list[QuestionRecord]:
    """Unanswered questions not marked resolved; a question asked again keeps its newest."""
    settled: dict[str, float] = {}  # text -> last time it was answered or resolved
    latest: dict[str, QuestionRecord] = {}
    for r in sorted(records, key=lambda r: (r.asked_at, r.id)):
        key = text_key(r.topic_text)
        if r.outcome == ANSWERED or r.resolved:
            settled[key] = r.asked_at
        else:
            latest[key] = r
    return sorted((r for k, r in latest.items() if settled.get(k, -1.0) < r.asked_at),
                  key=lambda r: (-r.asked_at, -r.id))

