"""Tables and exports of an analysis: themes, items, monthly and segment counts, CLI JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.analytics.clustering import OTHER
from rag.analytics.feedback.analysis import distinct_texts
from rag.analytics.feedback.model import OTHER_NAME, Analysis
from rag.analytics.feedback.roles import to_number


def themes_frame(a: Analysis):
    """One row a theme: name, size, share, average rating, top terms, most typical quote."""
    import pandas as pd

    heads = {t.id: t.name for t in a.headlines}
    rows = []
    for t in a.themes:
        quote = a.items[t.examples[0]].text if t.examples else ""
        rows.append({"theme_id": t.id, "theme": t.name,
                     "headline": heads.get(t.parent, "") if t.parent is not None else "",
                     "size": t.size, "share": round(t.share, 4), "avg_rating": t.avg_rating,
                     "sentiment": t.sentiment, "negative_share": t.negative_share,
                     "status": t.status, "top_terms": ", ".join(t.terms),
                     "typical_quote": quote, "named_by": t.named_by})
    return pd.DataFrame(rows, columns=["theme_id", "theme", "headline", "size", "share",
                                       "avg_rating", "sentiment", "negative_share", "status",
                                       "top_terms", "typical_quote", "named_by"])


def headlines_frame(a: Analysis):
    """One row a headline theme: name, size, share, how many sub-themes, sentiment, status."""
    import pandas as pd

    rows = []
    for t in a.headlines:
        quote = a.items[t.examples[0]].text if t.examples else ""
        rows.append({"headline_id": t.id, "headline": t.name, "sub_themes": len(a.children(t.id)),
                     "size": t.size, "share": round(t.share, 4), "avg_rating": t.avg_rating,
                     "sentiment": t.sentiment, "negative_share": t.negative_share,
                     "status": t.status, "top_terms": ", ".join(t.terms),
                     "typical_quote": quote})
    return pd.DataFrame(rows, columns=["headline_id", "headline", "sub_themes", "size", "share",
                                       "avg_rating", "sentiment", "negative_share", "status",
                                       "top_terms", "typical_quote"])


def items_frame(a: Analysis, theme_id: int | None = None):
    """Items with their theme and metadata; one theme's items, most typical first, if asked."""
    import pandas as pd

    names = {t.id: t.name for t in a.themes}
    columns = field_columns(a)
    order = a.members(theme_id) if theme_id is not None else range(len(a.items))
    rows = []
    for i in order:
        it = a.items[i]
        row = {"row": it.row, "theme_id": a.labels[i], "theme": names.get(a.labels[i], ""),
               "text": it.text, "date": a.dates[i], "rating": a.ratings[i],
               "typicality": a.typicality[i]}
        for c in columns:
            row[c] = it.fields.get(c)
        rows.append(row)
    base = ["row", "theme_id", "theme", "text", "date", "rating", "typicality"]
    df = pd.DataFrame(rows, columns=base + [c for c in columns if c not in base])
    if not a.roles.date:
        df = df.drop(columns=["date"])
    if not a.roles.rating:
        df = df.drop(columns=["rating"])
    return df


def field_columns(a: Analysis) -> list[str]:
    """The other columns of the items (rating and date columns left out)."""
    cols: dict[str, None] = {}
    for it in a.items[:5000]:
        for c in it.fields:
            cols.setdefault(c, None)
    return [c for c in cols if c not in (a.roles.rating, a.roles.date)]


def items_csv(a: Analysis) -> bytes:
    from rag.analytics.export import safe_csv

    return safe_csv(items_frame(a))


def themes_csv(a: Analysis) -> bytes:
    from rag.analytics.export import safe_csv

    return safe_csv(themes_frame(a))


def monthly_counts(a: Analysis, fine: bool = True):
    """Long table (month, theme, count) of dated items at the fine or the headline level;
    empty without a date column."""
    import pandas as pd

    themes, labels = a.level(fine)
    names = {t.id: t.name for t in themes}
    rows = [(d[:7], names.get(lab, OTHER_NAME)) for d, lab in zip(a.dates, labels, strict=True)
            if d]
    if not rows:
        return pd.DataFrame(columns=["month", "theme", "count"])
    df = pd.DataFrame(rows, columns=["month", "theme"])
    counts = df.groupby(["month", "theme"]).size().rename("count").reset_index()
    months = sorted(df["month"].unique())
    order = [t.name for t in themes]
    full = pd.MultiIndex.from_product([months, order], names=["month", "theme"])
    counts = counts.set_index(["month", "theme"]).reindex(full, fill_value=0).reset_index()
    return counts[counts["theme"].isin(set(df["theme"]))]


def segment_counts(a: Analysis, column: str):
    """Theme x segment value counts (a wide table: one row a theme, one column a value)."""
    import pandas as pd

    names = {t.id: t.name for t in a.themes}
    if column == a.roles.rating:
        values = [("" if r is None else f"{r:g}") for r in a.ratings]
    else:
        values = [str(it.fields.get(column, "")) for it in a.items]
    df = pd.DataFrame({"theme": [names.get(v, OTHER_NAME) for v in a.labels], "value": values})
    df["value"] = df["value"].replace("", "(blank)")
    table = pd.crosstab(df["theme"], df["value"])
    order = [t.name for t in a.themes if t.name in table.index]
    cols = sorted(table.columns, key=lambda v: (to_number(v) is None, to_number(v) or 0, str(v)))
    return table.reindex(index=order, columns=cols)


def cluster_json(a: Analysis, positions: Sequence[int], examples: int = 3) -> dict[str, Any]:
    """The CLI's JSON: clusters (id, name, size, share, terms, examples, "parent" headline id,
    "sentiment", "negative_share", "status" new|emerging|fading|steady, "trend"), the
    headlines the same way, and one cluster id per input row (-1 for Other and for rows
    without text), in input order; "run_id" is what `--previous` takes later."""

    def one(t, parent: int | None) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "size": t.size, "share": round(t.share, 4),
                "terms": t.terms, "examples": distinct_texts(a.items, t.examples, examples),
                "parent": parent, "sentiment": t.sentiment,
                "negative_share": t.negative_share, "status": t.status, "trend": t.trend}

    clusters = [one(t, t.parent if not t.is_other else OTHER) for t in a.themes]
    headlines = [one(t, None) for t in a.headlines]
    assignments = [a.labels[p] if p >= 0 else OTHER for p in positions]
    return {"run_id": a.run_id, "previous_run": a.previous_run,
            "other_share": round(a.other_share, 4), "sentiment_source": a.sentiment_source,
            "headlines": headlines, "clusters": clusters, "assignments": assignments}

