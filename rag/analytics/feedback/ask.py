"""Aggregate questions about feedback ("What do customers complain about most?", "How many
mention pricing?", "Is map re-sync getting worse?") answered from a theme analysis: sizes,
shares and monthly counts computed from the analysis with the formula shown, and quotes
cited by row, instead of from a handful of retrieved rows.

`answer_from_themes(question, store, ws)` is the one call a question page makes: it returns a
`ThemeAnswer` when the question is an aggregate one and the workspace has a stored theme
analysis, else None (the question then goes to retrieval as before).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.analytics.clustering import OTHER
from rag.analytics.feedback.model import Analysis, Theme

QUOTES = 3
TOP = 3

_FEEDBACK = re.compile(r"\b(customers?|users?|clients?|buyers?|feedback|comments?|reviews?|"
                       r"complain\w*|complaints?|respondents?|people|tickets?|nps|survey)\b",
                       re.IGNORECASE)
_COMPLAIN = re.compile(r"\b(complain\w*|complaints?|unhappy|problems?|issues?|pain points?|"
                       r"frustrat\w*|negative|worst|dislike\w*|hate)\b", re.IGNORECASE)
_MOST = re.compile(r"\b(most|top|main|biggest|largest|common(est)?|frequent\w*|key|major)\b",
                   re.IGNORECASE)
_THEMES = re.compile(r"\b(themes?|topics?|what do (customers|users|people|they) (say|talk)|"
                     r"what are (customers|users|people) saying)\b", re.IGNORECASE)
_COUNT = re.compile(r"\bhow (many|much|often)\b.*?\b(?:mention(?:s|ed|ing)?|talk(?:s|ed)? "
                    r"about|say(?:s)? about|complain(?:s|ed)? about|about|cite|raise)\s+"
                    r"(?P<what>[^?.!]+)", re.IGNORECASE)
_SHARE = re.compile(r"\b(what|which) (share|percentage|proportion|fraction|part)\b.*?\b(?:"
                    r"mention(?:s|ed|ing)?|about|talk about)\s+(?P<what>[^?.!]+)", re.IGNORECASE)
_TREND = re.compile(r"\bis\s+(?P<what>.+?)\s+(getting|becoming|growing|going)\s+"
                    r"(?P<dir>worse|better|up|down|more|less)\b|\b(?P<what2>.+?)\s+"
                    r"(trend|trending|increasing|decreasing|rising|falling)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'-]+", re.UNICODE)
_FILLER = frozenset(("the", "a", "an", "our", "their", "its", "of", "with", "in", "on", "for",
                     "customers", "customer", "users", "people", "issue", "issues", "problem",
                     "problems", "feedback", "comments", "mention", "mentions", "it", "is",
                     "are", "any", "some", "to", "and", "or", "that", "this", "they", "them",
                     "do", "does", "much", "many", "how", "complain", "about"))


@dataclass(frozen=True)
class Cited:
    row: int | None
    text: str
    theme: str


@dataclass(frozen=True)
class ThemeAnswer:
    """The answer (markdown), the figures with their formulas, and the rows quoted."""

    kind: str  # complaints | count | trend | themes
    text: str
    figures: list[str] = field(default_factory=list)
    quotes: list[Cited] = field(default_factory=list)
    source: str = ""  # the analysed document and run


def is_aggregate(question: str) -> bool:
    """A question about feedback as a whole (counts, shares, the top themes, a trend)."""
    q = question or ""
    if _COUNT.search(q) or _SHARE.search(q):
        return True
    if _TREND.search(q) and (_FEEDBACK.search(q) or re.search(r"\bworse|better\b", q, re.IGNORECASE)):
        return True
    return bool(_FEEDBACK.search(q) and (_MOST.search(q) or _THEMES.search(q)))


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "") if w.lower() not in _FILLER]


def _stem(w: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _quotes(a: Analysis, theme: Theme, n: int = QUOTES) -> list[Cited]:
    seen: set[str] = set()
    out = []
    for i in theme.examples:
        key = " ".join(a.items[i].text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        out.append(Cited(a.items[i].row, a.items[i].text, theme.name))
        if len(out) >= n:
            break
    return out


def _source(a: Analysis) -> str:
    name = a.source.get("doc_name") or a.source.get("file") or "the feedback"
    return f"theme analysis of {name}" + (f" (run {a.run_id})" if a.run_id else "")


def complaints(a: Analysis) -> ThemeAnswer:
    """The themes with the most negative comments: negative count = size x negative share."""
    scored = [(round((t.negative_share or 0) * t.size), t) for t in a.themes
              if not t.is_other and t.negative_share is not None]
    scored.sort(key=lambda p: (-p[0], -p[1].size, p[1].id))
    top = [p for p in scored[:TOP] if p[0] > 0]
    if not top:
        return themes_overview(a)
    total_neg = sum(n for n, _ in scored)
    lines, figures, quotes = [], [], []
    for n, t in top:
        lines.append(f"- **{t.name}**: {n} negative comments of its {t.size} "
                     f"({t.negative_share:.0%} negative; {n / max(1, total_neg):.0%} of all "
                     "negative comments)")
        figures.append(f"{t.name}: negative = size × negative share = {t.size} × "
                       f"{t.negative_share:.4f} ≈ {n}; share of negatives = {n} / {total_neg}")
        quotes += _quotes(a, t, 1 if len(top) > 1 else QUOTES)
    head = (f"Customers complain most about **{top[0][1].name}** ({top[0][0]} negative "
            f"comments), then " + ", ".join(f"**{t.name}** ({n})" for n, t in top[1:]) + "."
            if len(top) > 1 else f"Customers complain most about **{top[0][1].name}**.")
    how = f"Sentiment from the {a.sentiment_source}." if a.sentiment_source else ""
    return ThemeAnswer("complaints", "\n".join([head, *lines, how]).strip(), figures, quotes,
                       _source(a))


def count_mentions(a: Analysis, what: str) -> ThemeAnswer:
    """How many comments mention a term (a word starting with the stem of one of its words),
    and in which themes."""
    words = [_stem(w) for w in _words(what)][:4]
    if not words:
        return themes_overview(a)
    hits = [i for i, it in enumerate(a.items)
            if any(w.startswith(stem) for w in _words(it.text) for stem in words)]
    n = len(a.items)
    by_theme: dict[int, int] = {}
    for i in hits:
        by_theme[a.labels[i]] = by_theme.get(a.labels[i], 0) + 1
    names = {t.id: t for t in a.themes}
    ranked = sorted(by_theme.items(), key=lambda p: (-p[1], p[0]))[:TOP]
    label = " / ".join(words)
    lines = [(f"**{len(hits):,} of {n:,} comments** ({len(hits) / max(1, n):.1%}) mention "
             f"“{label}”.")]
    for tid, c in ranked:
        t = names.get(tid)
        if t is not None:
            lines.append(f"- {t.name}: {c} of its {t.size} comments")
    quotes = []
    for i in hits[:QUOTES]:
        lab = a.labels[i]
        quotes.append(Cited(a.items[i].row, a.items[i].text,
                            names[lab].name if lab in names else "Other"))
    figures = [(f"share = mentions / comments = {len(hits)} / {n} = {len(hits) / max(1, n):.4f}"
               f" (a comment mentions it when one of its words starts with “{label}”)")]
    return ThemeAnswer("count", "\n".join(lines), figures, quotes, _source(a))


def _best_theme(a: Analysis, what: str) -> Theme | None:
    want = {_stem(w) for w in _words(what)}
    if not want:
        return None
    best: tuple[float, Theme] | None = None
    for t in [*a.headlines, *a.themes]:
        if t.is_other:
            continue
        have = {_stem(w) for w in _words(t.name + " " + " ".join(t.terms))}
        score = len(want & have) / len(want) + 0.001 * t.size / max(1, len(a.items))
        if score > 0.34 and (best is None or score > best[0]):
            best = (score, t)
    return best[1] if best else None


def trend(a: Analysis, what: str) -> ThemeAnswer:
    """A theme's comments per month, the latest against the months before."""
    t = _best_theme(a, what)
    if t is None:
        return ThemeAnswer("trend", f"No theme of the analysis matches “{what.strip()}”.",
                           source=_source(a))
    is_head = t in a.headlines
    labels = a.head_labels if is_head else a.labels
    months: dict[str, list[int]] = {}
    for d, lab in zip(a.dates, labels, strict=True):
        if d:
            m = months.setdefault(d[:7], [0, 0])
            m[1] += 1
            m[0] += lab == t.id
    if len(months) < 2:
        return ThemeAnswer("trend", f"**{t.name}** has {t.size} comments ({t.share:.1%}); "
                           "the comments have no dates to follow it over time.",
                           quotes=_quotes(a, t), source=_source(a))
    series = sorted(months.items())
    lines = [f"**{t.name}** per month (comments of the theme / all comments):"]
    lines += [f"- {m}: {c} / {tot} ({c / max(1, tot):.1%})" for m, (c, tot) in series[-6:]]
    (last, (c1, n1)), prior = series[-1], series[-4:-1]
    c0, n0 = sum(c for _, (c, _) in prior), sum(n for _, (_, n) in prior)
    s1, s0 = c1 / max(1, n1), c0 / max(1, n0)
    verdict = ("rising" if s1 >= 1.5 * s0 and c1 >= 3 else "falling" if s1 <= 0.5 * s0
               else "about steady")
    lines.insert(0, f"**{t.name}** is {verdict}: {s1:.1%} of {last}'s comments against "
                    f"{s0:.1%} over {prior[0][0]}–{prior[-1][0]}"
                 + (f" (flagged {t.status})." if t.status in ("emerging", "fading") else "."))
    if t.sentiment is not None:
        lines.append(f"Its sentiment: {t.sentiment:+.2f} ({t.negative_share:.0%} negative).")
    figures = [(f"{last}: {c1} / {n1} = {s1:.4f}; {prior[0][0]}–{prior[-1][0]}: {c0} / {n0} = "
               f"{s0:.4f}")]
    return ThemeAnswer("trend", "\n".join(lines), figures, _quotes(a, t), _source(a))


def themes_overview(a: Analysis) -> ThemeAnswer:
    """The largest headline themes (or themes) with their sizes and shares."""
    level = [t for t in (a.headlines or a.themes) if not t.is_other]
    top = sorted(level, key=lambda t: (-t.size, t.id))[:5]
    lines = [f"The {len(a.items):,} comments fall into {len(level)} themes; the largest:"]
    lines += [f"- **{t.name}**: {t.size} comments ({t.share:.1%})" for t in top]
    other = [t for t in a.themes if t.id == OTHER]
    if other:
        lines.append(f"{other[0].size} comments ({other[0].share:.1%}) fit no theme (Other).")
    quotes = [q for t in top[:TOP] for q in _quotes(a, t, 1)]
    figures = [f"{t.name}: share = {t.size} / {len(a.items)}" for t in top]
    return ThemeAnswer("themes", "\n".join(lines), figures, quotes, _source(a))


def answer(question: str, a: Analysis) -> ThemeAnswer | None:
    """The aggregate answer to `question` from `a`, or None when it is not an aggregate one."""
    q = " ".join((question or "").split())
    if not is_aggregate(q):
        return None
    if m := (_COUNT.search(q) or _SHARE.search(q)):
        return count_mentions(a, m.group("what"))
    if (m := _TREND.search(q)) and (what := m.group("what") or m.group("what2")):
        return trend(a, what)
    if _COMPLAIN.search(q):
        return complaints(a)
    return themes_overview(a)


def answer_from_themes(question: str, store, ws) -> ThemeAnswer | None:
    """The one call for a question page: the answer from the workspace's stored theme
    analysis (the largest feedback document that has one), or None."""
    if not is_aggregate(question):
        return None
    best: Analysis | None = None
    for doc in ws.documents():
        if doc.kind != "table":
            continue
        a = store.load(ws.collection_name, doc, ws.embed_model)
        if a is not None and (best is None or len(a.items) > len(best.items)):
            best = a
    return answer(question, best) if best is not None else None
