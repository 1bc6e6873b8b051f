"""A domain vocabulary as data: how readers ask for things and how documents print them.

Retrieval, claim checking and a brief's extraction take a `Lexicon` (the finance one by
default, from `lexicons/finance.toml`), so a workspace of other documents is not shaped by
US-filing line items: it passes its own (`Lexicon.load(path)`) or `Lexicon.empty()`. Which one
a workspace uses is its own setting, kept by `rag.services`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rag.errors import RagError


def phrase_re(term: str) -> re.Pattern[str]:
    """A lowercase phrase as a whole-word pattern: any spaces or hyphens between its words, an
    optional plural 's' ('capital-expenditures' matches 'capital expenditure')."""
    body = r"[\s-]+".join(re.escape(w) for w in term.split())
    return re.compile(r"(?<![\w&])" + body + r"s?(?![\w&])")


@dataclass(frozen=True, eq=False)
class Lexicon:
    """A vocabulary: terms readers use mapped to how documents phrase them, groups of titles
    that name the same thing, and the words for which "improved" means "went down".

    Attributes:
        name: what the app shows ('finance').
        glossary: a reader's term -> the document phrasings (the first is added to the dense
            query, all of them to the lexical one), in the order they are added.
        statements: groups of titles naming one statement ('income statement', 'statement of
            operations'); a question naming one also searches for the others.
        lower_is_better: words whose "improvement" is a fall (cost, debt, tax rate).
        metric_words: words (regular expressions, whole words, any case) that make a question
            about a metric stand on its own rather than follow up the one before.
        metrics: (pattern, canonical name) of the metrics a brief's figure and guidance tables
            name, longer phrases first (regular expressions, any case).
        growth_metrics: canonical metric names whose percent is their growth, not their level.
        metric_order: canonical names in the order a brief's figure table lists them.
        tone_positive, tone_negative: the cue words a call's tone is counted from.
    """

    name: str
    glossary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    statements: tuple[tuple[str, ...], ...] = ()
    lower_is_better: frozenset[str] = frozenset()
    metric_words: tuple[str, ...] = ()
    metrics: tuple[tuple[str, str], ...] = ()
    growth_metrics: frozenset[str] = frozenset()
    metric_order: tuple[str, ...] = ()
    tone_positive: frozenset[str] = frozenset()
    tone_negative: frozenset[str] = frozenset()

    @classmethod
    def empty(cls) -> Lexicon:
        """No vocabulary: questions are searched and claims checked by their own words."""
        return cls("none")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "") -> Lexicon:
        """A lexicon from parsed TOML or JSON; a clear error for a malformed one."""
        terms = data.get("glossary") or {}
        lists = [*(terms.values() if isinstance(terms, Mapping) else ()),
                 *(data.get("statements") or ()), *(data.get("metrics") or ())]
        if any(isinstance(v, str) for v in lists):  # a string would read as its letters
            raise RagError(f"lexicon '{name}': write each term's phrasings and each group of "
                           'titles as a list, e.g. "capex" = ["capital expenditures"]')
        try:
            glossary = {str(k).lower(): tuple(str(p).lower() for p in v)
                        for k, v in (data.get("glossary") or {}).items()}
            statements = tuple(tuple(str(t).lower() for t in g)
                               for g in data.get("statements") or ())
            lower = frozenset(str(w).lower() for w in data.get("lower_is_better") or ())
            metric = tuple(str(w) for w in data.get("metric_words") or ())
            metrics = tuple((str(p), str(n)) for p, n in data.get("metrics") or ())
            for w in [*metric, *(p for p, _ in metrics)]:
                re.compile(w)
            growth = frozenset(str(w) for w in data.get("growth_metrics") or ())
            order = tuple(str(w) for w in data.get("metric_order") or ())
            positive = frozenset(str(w).lower() for w in data.get("tone_positive") or ())
            negative = frozenset(str(w).lower() for w in data.get("tone_negative") or ())
        except re.error as exc:
            raise RagError(f"lexicon '{name}': a metric word or pattern is not a valid "
                           f"pattern: {exc}") from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise RagError(f"lexicon '{name}' is malformed: {exc}. Expected [glossary] term = "
                           "[phrasings], statements = [[titles]], lower_is_better = [words], "
                           "metrics = [[pattern, name]]") from exc
        if any(not v for v in glossary.values()):
            raise RagError(f"lexicon '{name}': every glossary term needs at least one phrasing")
        return cls(str(data.get("name") or name or "custom"), glossary, statements, lower,
                   metric, metrics, growth, order, positive, negative)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """A lexicon from a .toml or .json file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
            if str(path).endswith(".json"):
                import json

                data = json.loads(text)
            else:
                data = tomllib.loads(text)
        except (OSError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError included
            raise RagError(f"cannot read the lexicon {path}: {exc}") from exc
        return cls.from_dict(data, Path(path).stem)

    @cached_property
    def glossary_patterns(self) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
        """(pattern of the term, its phrasings), in glossary order."""
        return [(phrase_re(k), v) for k, v in self.glossary.items()]

    @cached_property
    def metric_re(self) -> re.Pattern[str]:
        """Any metric word, as a whole word (never matches when there are none)."""
        if not self.metric_words:
            return re.compile(r"(?!)")
        return re.compile(r"\b(?:" + "|".join(self.metric_words) + r")\b", re.IGNORECASE)

    @cached_property
    def metrics_re(self) -> re.Pattern[str]:
        """Any of the `metrics` (never matches when there are none)."""
        if not self.metrics:
            return re.compile(r"(?!)")
        return re.compile("|".join(f"(?:{p})" for p, _ in self.metrics), re.IGNORECASE)

    @cached_property
    def metric_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        """(pattern, canonical name) of each of the `metrics`, in order."""
        return [(re.compile(p, re.IGNORECASE), name) for p, name in self.metrics]

    def metric_rank(self, canonical: str) -> int:
        """A metric's place in `metric_order` (50 for one not listed)."""
        return self._ranks.get(canonical, 50)

    @cached_property
    def _ranks(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.metric_order)}

    @cached_property
    def statement_patterns(self) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
        """(pattern of one title, its whole group), group by group."""
        return [(phrase_re(name), group) for group in self.statements for name in group]


@lru_cache(maxsize=1)
def finance() -> Lexicon:
    """The packaged US-finance lexicon (`lexicons/finance.toml`)."""
    text = resources.files("rag.text").joinpath("lexicons/finance.toml").read_text("utf-8")
    return Lexicon.from_dict(tomllib.loads(text), "finance")


FINANCE = finance()
"""The finance lexicon: every workspace's by default (`Settings.lexicon`); the pure functions
of retrieval and claim checking default to it for direct callers (tests, benchmarks)."""


def lexicon_named(spec: str) -> Lexicon:
    """The lexicon a setting names: `finance` (or empty: the default), `none` (no vocabulary),
    or the path of a .toml or .json file (`Lexicon.load`)."""
    key = (spec or "").strip()
    if key.lower() in ("", "finance"):
        return finance()
    if key.lower() == "none":
        return Lexicon.empty()
    path = Path(key).expanduser()
    if not path.is_file():
        raise RagError(f"no lexicon named '{key}': set RAG_LEXICON to finance, none, or the "
                       "path of a .toml or .json lexicon file")
    return Lexicon.load(path)
