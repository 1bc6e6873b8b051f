"""Cited briefs of earnings calls, meetings and other documents, stored with the workspace.

`summarize` builds a `Brief` from a document's chunks (tables by pattern extraction, prose by
the chat model map-reduce style, extractive when there is no model); `compare` sets two briefs
side by side; `SummaryStore` keeps them; `export` turns them into Markdown and CSV.
"""

from __future__ import annotations

from rag.analytics.summaries.brief import (
    KIND_LABELS,
    Brief,
    Bullet,
    compare,
    fingerprint,
    summarize,
)
from rag.analytics.summaries.recipes import KINDS, RECIPES, Recipe
from rag.analytics.summaries.store import SummaryStore

__all__ = ["KINDS", "KIND_LABELS", "RECIPES", "Brief", "Bullet", "Recipe", "SummaryStore",
           "compare", "fingerprint", "summarize"]
