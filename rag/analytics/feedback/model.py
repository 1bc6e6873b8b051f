"""The data of a feedback analysis: items, column roles, themes and the analysis itself.

Plain frozen dataclasses; every other module of the package works on these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag.analytics.clustering import OTHER
from rag.errors import RagError
from rag.types import Scalar

FORMAT_VERSION = 1
OTHER_NAME = "Other"
EXAMPLES = 10  # typical items kept per theme, most typical first
NAME_TOKENS = 12

Progress = Callable[[float, str], None]
Namer = Callable[[list[str], list[str]], "str | None"]


class FeedbackError(RagError):
    """The feedback cannot be analysed as asked (too few rows, a numeric text column...)."""


@dataclass(frozen=True)
class Item:
    """One feedback row: its text, where it is (1-based row, chunk ids) and its other cells."""

    row: int | None
    text: str
    chunk_ids: tuple[str, ...] = ()
    date: str | None = None  # ISO date given at ingest, when the table had a date column
    fields: dict[str, Scalar] = field(default_factory=dict)  # column name -> value


@dataclass(frozen=True)
class Roles:
    """Which column plays which part. Only `text` is required."""

    text: str
    date: str | None = None
    rating: str | None = None
    product: str | None = None
    channel: str | None = None

    def segments(self) -> list[str]:
        return [c for c in (self.product, self.channel) if c]


@dataclass(frozen=True)
class Theme:
    id: int  # 0.. by size at creation; -1 is Other
    name: str
    terms: list[str]
    size: int
    share: float
    examples: list[int]  # item positions, most typical (closest to the centroid) first
    avg_rating: float | None = None
    auto_name: str = ""  # the name from its terms (the fallback)
    named_by: str = "terms"  # terms | model | user | merge

    @property
    def is_other(self) -> bool:
        return self.id == OTHER


@dataclass(frozen=True)
class Analysis:
    items: list[Item]
    labels: list[int]
    typicality: list[float]
    coords: list[list[float]]
    themes: list[Theme]  # by size, Other last
    roles: Roles
    dates: list[str | None]
    ratings: list[float | None]
    k: int
    k_auto: int
    scores: dict[int, float] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def theme(self, theme_id: int) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise FeedbackError(f"no theme {theme_id}: re-run the analysis")

    def members(self, theme_id: int) -> list[int]:
        """Item positions of a theme, most typical first."""
        idx = [i for i, lab in enumerate(self.labels) if lab == theme_id]
        return sorted(idx, key=lambda i: -self.typicality[i])

    def chunk_ids(self, theme_id: int) -> tuple[str, ...]:
        return tuple(c for i in self.members(theme_id) for c in self.items[i].chunk_ids)

    @property
    def other_share(self) -> float:
        return sum(1 for lab in self.labels if lab == OTHER) / max(1, len(self.labels))
