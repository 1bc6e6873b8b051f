"""Sentiment of feedback items and themes: from the rating column when there is one, else
from the text by VADER (a lexicon and a few rules: negation, "but", intensifiers, caps and
punctuation), which runs offline on CPU (about 75 µs a short comment on this machine).

Each item gets a score in [-1, 1] and a polarity:
- rating: the rating scaled over the column's own range (1-5 -> (r - 3) / 2); at or below
  -0.25 is negative (1 and 2 of 5), at or above 0.25 positive (4 and 5), else neutral;
- text: VADER's compound score, negative at or below -0.05 and positive at or above 0.05
  (its authors' thresholds).
A theme's sentiment is the mean score of its scored items; its negative share is the share of
its scored items that are negative.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

RATING_CUT = 0.25
TEXT_CUT = 0.05
SOURCE_RATING = "rating"
SOURCE_TEXT = "text (VADER lexicon)"


# VADER was built on social-media and review text; customer feedback states complaints as
# facts ("robots down for 14 hours", "waited 6 days for a reply", "please improve"). These
# valences (VADER's -4..4 scale) cover the commonest complaint cues of support and product
# feedback; politeness ("please", "thanks for asking") is not sentiment about the product.
FEEDBACK_LEXICON: dict[str, float] = {
    "slow": -1.6, "slower": -1.6, "slowly": -1.2, "sluggish": -1.6, "laggy": -1.8, "lag": -1.4,
    "down": -1.0, "downtime": -2.0, "outage": -2.2, "outages": -2.2, "offline": -1.2,
    "waited": -1.5, "waiting": -1.3, "wait": -0.8, "delay": -1.6, "delayed": -1.6,
    "delays": -1.6, "late": -1.2, "overdue": -1.6, "still": -0.3,
    "broken": -2.2, "broke": -1.8, "breaks": -1.8, "crash": -2.2, "crashes": -2.2,
    "crashed": -2.2, "crashing": -2.2, "freeze": -1.6, "freezes": -1.8, "frozen": -1.2,
    "bug": -1.8, "bugs": -1.8, "buggy": -2.2, "glitch": -1.8, "glitches": -1.8,
    "error": -1.6, "errors": -1.6, "fail": -2.0, "fails": -2.0, "failed": -2.0,
    "failing": -2.0, "failure": -2.2, "failures": -2.2, "fault": -1.6, "faulty": -2.0,
    "defective": -2.2, "unreliable": -2.2, "unstable": -1.8, "unresponsive": -2.0,
    "stuck": -1.6, "missing": -1.4, "lost": -1.6, "declined": -1.4, "rejected": -1.6,
    "refund": -1.2, "overcharged": -2.4, "overpriced": -2.2, "expensive": -1.6, "pricey": -1.4,
    "cheaper": -0.8, "costly": -1.6, "fee": -0.6, "fees": -0.8, "charged": -0.6,
    "confusing": -1.8, "complicated": -1.4, "cumbersome": -1.6, "clunky": -1.8,
    "unusable": -2.6, "useless": -2.6, "worse": -2.2, "worst": -3.0, "disappointing": -2.2,
    "cancel": -1.0, "cancelled": -1.2, "unhappy": -2.2, "frustrating": -2.2,
    "wear": -0.6, "worn": -0.8, "leak": -1.4, "leaks": -1.4, "drift": -1.0, "drifts": -1.0,
    "hard": -0.8, "difficult": -1.4, "impossible": -1.8, "nobody": -1.0, "ignored": -1.8,
    "unanswered": -1.8, "passed": -0.3, "again": -0.2,
    "please": 0.0, "improve": 0.0, "thanks": 0.6, "fast": 1.2, "quick": 1.0, "quickly": 1.0,
    "reliable": 2.0, "intuitive": 1.8, "seamless": 2.0, "smooth": 1.4, "easy": 1.6,
    "accurate": 1.4, "accuracy": 0.6, "responsive": 1.4, "knowledgeable": 1.8,
    "recommend": 1.6, "recommended": 1.6, "love": 3.2, "excellent": 3.2,
}


@functools.lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    vader.lexicon.update(FEEDBACK_LEXICON)
    return vader


def text_scores(texts: Sequence[str]) -> list[float]:
    """VADER's compound score of each text (0.0 for an empty one)."""
    vader = _analyzer()
    # VADER slows down on very long texts and a comment's tone is set early: 2,000 chars.
    return [round(float(vader.polarity_scores(t[:2000])["compound"]), 4) if t.strip() else 0.0
            for t in texts]


def rating_scores(ratings: Sequence[float | None]) -> list[float | None]:
    """Ratings scaled to [-1, 1] over the observed range (None stays None)."""
    known = [r for r in ratings if r is not None]
    if not known:
        return [None] * len(ratings)
    lo, hi = min(known), max(known)
    if hi <= lo:
        return [0.0 if r is not None else None for r in ratings]
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return [None if r is None else round((r - mid) / half, 4) for r in ratings]


def polarity(score: float | None, source: str) -> str | None:
    """'negative', 'neutral' or 'positive' (None when unscored)."""
    if score is None:
        return None
    cut = RATING_CUT if source == SOURCE_RATING else TEXT_CUT
    return "negative" if score <= -cut else "positive" if score >= cut else "neutral"


def item_scores(texts: Sequence[str], ratings: Sequence[float | None]
                ) -> tuple[list[float | None], str]:
    """Each item's score and where the scores come from: the ratings when at least half the
    items have one, else the text."""
    rated = sum(r is not None for r in ratings)
    if ratings and rated >= max(1, len(ratings) // 2):
        return rating_scores(ratings), SOURCE_RATING
    return list(text_scores(texts)), SOURCE_TEXT


def summarize(scores: Sequence[float | None], source: str) -> tuple[float | None, float | None]:
    """(mean score, negative share) of some items' scores; (None, None) when none is scored."""
    known = [s for s in scores if s is not None]
    if not known:
        return None, None
    neg = sum(polarity(s, source) == "negative" for s in known)
    return round(sum(known) / len(known), 4), round(neg / len(known), 4)
