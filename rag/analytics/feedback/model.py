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
NEW, EMERGING, FADING, STEADY = "new", "emerging", "fading", "steady"

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
    auto_name: str = ""  # the name from its comments' keyphrase, else its terms (the fallback)
    named_by: str = "terms"  # keyphrase | terms | model | user | merge | previous run
    parent: int | None = None  # a fine theme's headline theme (None: a headline, or Other)
    sentiment: float | None = None  # mean item score in [-1, 1] (see feedback.sentiment)
    negative_share: float | None = None  # share of its scored items that are negative
    status: str = STEADY  # new | emerging | fading | steady (see feedback.align)
    trend: str = ""  # why it is emerging or fading, with the counts

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
    headlines: list[Theme] = field(default_factory=list)  # by size, Other last
    centroids: dict[int, list[float]] = field(default_factory=dict)  # fine theme id -> unit
    sentiments: list[float | None] = field(default_factory=list)  # one per item
    sentiment_source: str = ""  # rating | text (VADER lexicon) | "" (none)
    run_id: str = ""
    previous_run: str | None = None  # the run this one was aligned with

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

    def headline(self, head_id: int) -> Theme:
        for t in self.headlines:
            if t.id == head_id:
                return t
        raise FeedbackError(f"no headline theme {head_id}: re-run the analysis")

    def children(self, head_id: int) -> list[Theme]:
        """The fine themes of a headline, by size (Other's child is Other)."""
        if head_id == OTHER:
            return [t for t in self.themes if t.is_other]
        return [t for t in self.themes if t.parent == head_id]

    @property
    def head_labels(self) -> list[int]:
        """Each item's headline theme (-1 = Other); the fine labels when there is no level."""
        parent = {t.id: (t.parent if t.parent is not None else t.id) for t in self.themes}
        return [parent.get(lab, OTHER) if lab != OTHER else OTHER for lab in self.labels]

    def level(self, fine: bool) -> tuple[list[Theme], list[int]]:
        """(themes, one label per item) of the fine level or of the headline level."""
        if fine or not self.headlines:
            return self.themes, self.labels
        return self.headlines, self.head_labels

    @property
    def other_share(self) -> float:
        return sum(1 for lab in self.labels if lab == OTHER) / max(1, len(self.labels))
