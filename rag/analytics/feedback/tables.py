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

    rows = []
    for t in a.themes:
        quote = a.items[t.examples[0]].text if t.examples else ""
        rows.append({"theme_id": t.id, "theme": t.name, "size": t.size,
                     "share": round(t.share, 4), "avg_rating": t.avg_rating,
                     "top_terms": ", ".join(t.terms), "typical_quote": quote,
                     "named_by": t.named_by})
    return pd.DataFrame(rows, columns=["theme_id", "theme", "size", "share", "avg_rating",
                                       "top_terms", "typical_quote", "named_by"])


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


def monthly_counts(a: Analysis):
    """Long table (month, theme, count) of dated items; empty without a date column."""
    import pandas as pd

    names = {t.id: t.name for t in a.themes}
    rows = [(d[:7], names.get(lab, OTHER_NAME)) for d, lab in zip(a.dates, a.labels, strict=True)
            if d]
    if not rows:
        return pd.DataFrame(columns=["month", "theme", "count"])
    df = pd.DataFrame(rows, columns=["month", "theme"])
    counts = df.groupby(["month", "theme"]).size().rename("count").reset_index()
    months = sorted(df["month"].unique())
    order = [t.name for t in a.themes]
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
    """The CLI's JSON: clusters (id, name, size, terms, examples) and one cluster id per input
    row (-1 for Other and for rows without text), in input order."""
    clusters = [{"id": t.id, "name": t.name, "size": t.size, "terms": t.terms,
                 "examples": distinct_texts(a.items, t.examples, examples)}
                for t in a.themes]
    assignments = [a.labels[p] if p >= 0 else OTHER for p in positions]
    return {"clusters": clusters, "assignments": assignments}

