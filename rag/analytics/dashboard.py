"""What the Dashboard shows, computed without Streamlit: every tile's numbers and tables.

`collect()` reads the workspace once (documents, question log, stored summaries and feedback
analyses, evaluation runs) and returns plain data; the page only draws it, and the Markdown
report is written from the same data, so the two always agree. Each part fails alone: a
broken summary file or feedback analysis leaves its tile with a note, never the page blank.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rag.analytics import questions as qlog
from rag.errors import RagError
from rag.types import UNIT_LABEL, DocumentInfo

RECENT_DOCS = 10
TOP_THEMES = 8
CHART_DAYS = 90  # days of questions in the charts (the CSV keeps everything)
EMBED_PER_LOAD = 256  # questions embedded per visit at most (new ones are embedded when asked)
TREND_PP = 1.0  # a theme's share must move by this many points for an arrow up or down
NO_BRIEFS = "No briefs yet: make one on the Summaries page."


# -- documents ------------------------------------------------------------------------------------


@dataclass
class DocumentsOverview:
    totals: dict[str, Any]
    by_type: Any  # DataFrame: type, documents, contents, unit, chunks
    added: Any  # DataFrame: period, type, documents
    recent: Any  # DataFrame: name, type, contents, chunks, added
    attention: Any  # DataFrame: file, problem, since, attempts
    period: str = "day"
    failed_files: list[str] = field(default_factory=list)  # the failures one may dismiss


def _count(n: int, plural: str) -> str:
    return f"{n:,} {plural[:-1] if n == 1 and plural.endswith('s') else plural}"


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def documents_overview(docs: Sequence[DocumentInfo], failures: Sequence[dict[str, Any]] = (),
                       now: float | None = None, stale_s: float = 3600.0) -> DocumentsOverview:
    """Documents by type and by date added, the newest ones, and what needs attention.

    `docs` may include pending/deleting records (`Workspace.documents(include_pending=True)`):
    those older than `stale_s` are listed as interrupted; `failures` are the ingest failures
    kept by the question log.
    """
    import pandas as pd

    now = time.time() if now is None else now
    ready = [d for d in docs if d.status == "ready"]
    by: dict[str, dict[str, int]] = {}
    for d in ready:
        e = by.setdefault(d.kind, {"documents": 0, "contents": 0, "chunks": 0, "bytes": 0})
        e["documents"] += 1
        e["contents"] += d.units
        e["chunks"] += d.chunks
        e["bytes"] += d.size
    by_type = pd.DataFrame(
        [{"type": k, "documents": v["documents"], "contents": v["contents"],
          "unit": UNIT_LABEL.get(k, "sections"), "chunks": v["chunks"]}
         for k, v in sorted(by.items(), key=lambda kv: (-kv[1]["documents"], kv[0]))],
        columns=["type", "documents", "contents", "unit", "chunks"])
    days = [datetime.fromtimestamp(d.added_at).date() for d in ready if d.added_at]
    span = (max(days) - min(days)).days if days else 0
    period = "day" if span <= 60 else "week" if span <= 400 else "month"

    def bucket(d: date) -> str:
        if period == "day":
            return d.isoformat()
        if period == "week":
            iso = d.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return d.strftime("%Y-%m")

    added_counts: dict[tuple[str, str], int] = {}
    for d in ready:
        if d.added_at:
            key = (bucket(datetime.fromtimestamp(d.added_at).date()), d.kind)
            added_counts[key] = added_counts.get(key, 0) + 1
    added = pd.DataFrame([{"period": p, "type": k, "documents": n}
                          for (p, k), n in sorted(added_counts.items())],
                         columns=["period", "type", "documents"])
    newest = sorted(ready, key=lambda d: -d.added_at)[:RECENT_DOCS]
    recent = pd.DataFrame([{"name": d.name, "type": d.kind,
                            "contents": _count(d.units, d.unit_label), "chunks": d.chunks,
                            "added": _when(d.added_at)} for d in newest],
                          columns=["name", "type", "contents", "chunks", "added"])
    attention_rows = [{"file": f["filename"], "problem": f["message"],
                       "since": _when(f["failed_at"]), "attempts": f["attempts"]}
                      for f in failures]
    for d in docs:
        if d.status != "ready" and now - d.added_at > stale_s:
            attention_rows.append({
                "file": d.filename or d.name,
                "problem": "interrupted while being " + ("deleted" if d.status == "deleting"
                                                        else "added")
                           + ": it is cleaned up at the next start; add it again if needed",
                "since": _when(d.added_at), "attempts": 1})
    attention = pd.DataFrame(attention_rows, columns=["file", "problem", "since", "attempts"])
    totals = {"documents": len(ready), "chunks": sum(d.chunks for d in ready),
              "pages": sum(d.units for d in ready if d.kind == "pdf"),
              "bytes": sum(d.size for d in ready),
              "added_7d": sum(1 for d in ready if now - d.added_at <= 7 * 86400),
              "attention": len(attention_rows)}
    return DocumentsOverview(totals, by_type, added, recent, attention, period,
                             [f["filename"] for f in failures])


# -- questions ------------------------------------------------------------------------------------


@dataclass
class QuestionsOverview:
    records: list[qlog.QuestionRecord]
    shares: dict[str, Any]
    latency: dict[str, Any]
    daily: Any  # DataFrame: day, answered, flagged, abstained, total
    daily_latency: Any  # DataFrame: day, questions, p50_s, p90_s
    topics: list[qlog.Topic]
    topics_table: Any
    groups: list[qlog.UnansweredGroup]
    unanswered_table: Any
    last_7d: int = 0
    prev_7d: int = 0
    ungrouped: int = 0  # questions without a vector yet
    embedding: bool = True  # False: the embedding model was not available for this load
    notes: list[str] = field(default_factory=list)

    @property
    def unanswered(self) -> int:
        return sum(len(g.records) for g in self.groups)


def questions_overview(log: qlog.QuestionLog, model: str,
                       embed: Callable[[list[str]], Any] | None = None,
                       now: float | None = None, chart_days: int = CHART_DAYS
                       ) -> QuestionsOverview:
    """The question log's figures: per day, shares, latency, topics and unanswered groups.

    `embed` computes vectors of questions not embedded yet (None: group only those that are).
    """
    import numpy as np

    records = log.records()
    shares = qlog.outcome_shares(records)
    last, prev = qlog.period_change(records, 7, now)
    notes: list[str] = []
    topics: list[qlog.Topic] = []
    topic_of: dict[int, qlog.Topic] = {}
    ungrouped = 0
    texts = [r.topic_text for r in records]
    if records:
        try:
            X, missing = log.vectors(texts, model, embed, max_embed=EMBED_PER_LOAD)
        except Exception as exc:  # noqa: BLE001 - topics are optional; the rest still shows
            X, missing = np.zeros((len(records), 0), dtype=np.float32), list(range(len(records)))
            notes.append(f"Topics are unavailable: {str(exc)[:200]}")
        ungrouped = len(missing)
        skip = set(missing)
        keep = [i for i in range(len(records)) if i not in skip]
        if keep:
            ids = [records[i].id for i in keep]
            sub_texts = [texts[i] for i in keep]
            topics = qlog.cached_topics(log, "topics:all", ids, sub_texts, X[keep], model)
            topic_of = qlog.topic_index(ids, topics)
            texts = sub_texts
    unanswered = qlog.open_unanswered(records)
    groups = qlog.group_unanswered(unanswered, topic_of)
    open_by_topic: dict[int, int] = {}
    for g in groups:
        open_by_topic[g.topic.id] = len(g.records)
    days = qlog.daily_counts(records)
    if len(days) > chart_days:
        days = days.iloc[-chart_days:].reset_index(drop=True)
    lat = qlog.daily_latency(records)
    if len(lat) > chart_days:
        lat = lat.iloc[-chart_days:].reset_index(drop=True)
    return QuestionsOverview(
        records=records, shares=shares, latency=qlog.latency_stats(records), daily=days,
        daily_latency=lat, topics=topics,
        topics_table=qlog.topics_frame(topics, texts, open_by_topic), groups=groups,
        unanswered_table=qlog.unanswered_frame(groups), last_7d=last, prev_7d=prev,
        ungrouped=ungrouped, embedding=embed is not None, notes=notes)


# -- earnings briefs (stored summaries) ----------------------------------------------------------


def _fmt_value(value: Any, unit: Any = None) -> str:
    """A figure as shown: a verbatim value as quoted (it carries its unit), a number with its
    unit."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, bool):
        return str(value)
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) \
        else f"{value:,}"
    unit = str(unit or "").strip()
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("%") else f"{text} {unit}"


def _fmt_citation(c: Any, doc_name: str = "") -> str:
    """'[12] Marcus Oyelaran, turns 18-19' (the document named only when it is another one)."""
    if not c:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, list | tuple):
        return "; ".join(_fmt_citation(x, doc_name) for x in c[:3])
    if isinstance(c, dict):
        name = str(c.get("doc_name") or c.get("document") or "")
        place = c.get("location") or (f"p. {c['page']}" if c.get("page") else "")
        parts = [p for p in (name if name != doc_name else "", str(place or "")) if p]
        label = ", ".join(parts)
        if c.get("n") is not None:
            label = f"[{c['n']}] {label}".strip()
        return label or str(c.get("quote", ""))[:80]
    return str(c)


_PERIODISH = re.compile(r"^(?:q[1-4]|h[12]|fy\d*|cy\d*|\d{2,4}(?:q[1-4])?|q[1-4]\d{2,4}|"
                        r"10k|10q|8k|20f|annual|quarterly|earnings|call|transcript|report|"
                        r"results|dated)$", re.IGNORECASE)


def company_of(doc_name: str) -> str:
    """The company a document's name starts with: 'northwind_q2_2026_earnings_call' ->
    'Northwind', 'PEPSICO_2023Q1_EARNINGS' -> 'PEPSICO', '3M_2018_10K' -> '3M'."""
    words = []
    for w in re.split(r"[_\-\s.]+", doc_name or ""):
        if not w:
            continue
        if _PERIODISH.match(w):
            break
        words.append(w)
    if not words:
        return doc_name
    name = " ".join(words)
    return name.title() if name.islower() else name


def latest_briefs(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest brief with figures or guidance of each document (comparisons left out)."""
    best: dict[str, dict[str, Any]] = {}
    for s in summaries:
        if s.get("kind") == "compare" or not (s.get("figures") or s.get("guidance")):
            continue
        key = str(s.get("doc_id") or s.get("doc_name") or id(s))
        if key not in best or float(s.get("created_at") or 0) > float(
                best[key].get("created_at") or 0):
            best[key] = s
    return sorted(best.values(), key=lambda s: -float(s.get("created_at") or 0))


def earnings_frame(summaries: Sequence[dict[str, Any]]):
    """Reported figures and guidance of the latest briefs: one row a metric, by company and
    period (the company: the brief's own, else the start of its document's name)."""
    import pandas as pd

    rows = []
    for s in latest_briefs(summaries):
        doc_name = str(s.get("doc_name") or "")
        company = str(s.get("company") or company_of(doc_name))
        for kind, key, change in (("reported", "figures", "change"),
                                  ("guidance", "guidance", "direction")):
            for f in s.get(key) or []:
                if not isinstance(f, dict):
                    continue
                rows.append({"company": company, "period": str(f.get("period") or ""),
                             "metric": str(f.get("metric") or ""), "kind": kind,
                             "value": _fmt_value(f.get("value"), f.get("unit")),
                             "change": str(f.get(change) or ""),
                             "source": _fmt_citation(f.get("citation"), doc_name),
                             "document": doc_name})
    cols = ["company", "period", "metric", "kind", "value", "change", "source", "document"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df = df.sort_values(["company", "kind", "period", "metric"],
                            ascending=[True, False, False, True], kind="stable",
                            key=lambda c: c.str.lower())
    return df.reset_index(drop=True)


def load_summaries(data_dir: Path, collection: str, docs: Sequence[DocumentInfo] | None = None
                   ) -> tuple[list[dict[str, Any]], str | None]:
    """The workspace's stored briefs, or ([], why not) when the Summaries feature is absent."""
    try:
        from rag.analytics.summaries import SummaryStore
    except ImportError:
        return [], NO_BRIEFS
    try:
        store = SummaryStore(data_dir)
        try:  # with the documents: briefs of changed or deleted documents left out
            items = list(store.list(collection, docs) or [])
        except TypeError:
            items = list(store.list(collection) or [])
    except Exception as exc:  # noqa: BLE001 - a bad brief file must not blank the dashboard
        return [], (f"The stored briefs could not be read ({str(exc)[:160]}): make them again "
                    "on the Summaries page.")
    items = [s for s in items if isinstance(s, dict)]
    return items, (None if items else NO_BRIEFS)


# -- feedback themes -------------------------------------------------------------------------------

_THEMES_CACHE: dict[tuple[str, float, int], list[dict[str, Any]]] = {}


def theme_trends(a: Any, top: int = TOP_THEMES) -> list[dict[str, Any]]:
    """The largest themes of a feedback analysis with their share's change over the last month.

    The trend compares each theme's share of the comments in the latest month with the month
    before: an arrow up or down when it moved by `TREND_PP` points or more, flat otherwise,
    none without two dated months.
    """
    counts = None
    months: list[str] = []
    if any(a.dates):
        from rag.analytics.feedback.tables import monthly_counts

        counts = monthly_counts(a)
        months = sorted(counts["month"].unique()) if len(counts) else []
    out = []
    for t in [t for t in a.themes if not t.is_other][:top]:
        row: dict[str, Any] = {"theme": t.name, "comments": t.size, "share": round(t.share, 4),
                               "avg_rating": t.avg_rating, "trend": "", "change_pp": None,
                               "last_month": months[-1] if months else ""}
        if counts is not None and len(months) >= 2:
            shares = []
            for m in months[-2:]:
                month = counts[counts["month"] == m]
                total = float(month["count"].sum()) or 1.0
                shares.append(float(month.loc[month["theme"] == t.name, "count"].sum()) / total)
            delta = (shares[1] - shares[0]) * 100
            row["change_pp"] = round(delta, 1)
            row["trend"] = "↑" if delta >= TREND_PP else "↓" if delta <= -TREND_PP else "→"
        out.append(row)
    return out


def feedback_frame(data_dir: Path, collection: str, embed_model: str,
                   docs: Sequence[DocumentInfo]):
    """Top themes (with trend arrows) of every feedback table that has a stored analysis."""
    import pandas as pd

    from rag.analytics.feedback.store import AnalysisStore

    store = AnalysisStore(data_dir)
    rows = []
    for d in docs:
        if d.kind != "table" or d.status != "ready":
            continue
        try:
            saved = store.saved_at(collection, d.doc_id)
        except (OSError, ValueError, RagError):
            continue
        if saved is None:
            continue
        ident = f"{store.engine.url}|{collection}|{d.doc_id}|{embed_model}|{d.chunks}"
        key = (f"{ident}|{d.added_at}", saved, 0)
        themes = _THEMES_CACHE.get(key)
        if themes is None:
            a = store.load(collection, d, embed_model)
            themes = theme_trends(a) if a is not None else []
            _THEMES_CACHE[key] = themes
            while len(_THEMES_CACHE) > 64:
                _THEMES_CACHE.pop(next(iter(_THEMES_CACHE)))
        rows += [{"source": d.name, **t} for t in themes]
    return pd.DataFrame(rows, columns=["theme", "trend", "change_pp", "comments", "share",
                                       "avg_rating", "last_month", "source"])


# -- evaluation -----------------------------------------------------------------------------------


@dataclass
class EvalOverview:
    runs: list[dict[str, Any]]
    table: Any
    last: dict[str, Any] | None = None  # the latest run's full result


def eval_overview(data_dir: Path, collection: str) -> EvalOverview:
    from rag.eval.history import EvalHistory, runs_frame

    hist = EvalHistory(data_dir, collection)
    runs = hist.runs()
    last = hist.result(runs[-1]["id"]) if runs else None
    return EvalOverview(runs, runs_frame(runs), last)


# -- everything ---------------------------------------------------------------------------------------


@dataclass
class DashboardData:
    workspace: str
    documents: DocumentsOverview
    questions: QuestionsOverview
    earnings: Any
    earnings_note: str | None
    feedback: Any
    evals: EvalOverview
    created_at: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)


def collect(data_dir: Path, ws: Any, embed: Callable[[list[str]], Any] | None, model: str,
            stale_s: float = 3600.0, now: float | None = None) -> DashboardData:
    """Every tile's data for one workspace (`ws`: a `Workspace`)."""
    secs: dict[str, float] = {}
    t = time.perf_counter()
    docs = ws.documents(include_pending=True)
    log = qlog.QuestionLog(data_dir, ws.collection_name)
    documents = documents_overview(docs, log.failures(), now, stale_s)
    secs["documents"] = time.perf_counter() - t
    t = time.perf_counter()
    questions = questions_overview(log, model, embed, now)
    secs["questions"] = time.perf_counter() - t
    t = time.perf_counter()
    summaries, note = load_summaries(data_dir, ws.collection_name,
                                     [d for d in docs if d.status == "ready"])
    earnings = earnings_frame(summaries)
    secs["earnings"] = time.perf_counter() - t
    t = time.perf_counter()
    feedback = feedback_frame(data_dir, ws.collection_name, ws.embed_model, docs)
    secs["feedback"] = time.perf_counter() - t
    t = time.perf_counter()
    evals = eval_overview(data_dir, ws.collection_name)
    secs["eval"] = time.perf_counter() - t
    return DashboardData(ws.name, documents, questions, earnings, note, feedback, evals,
                         created_at=time.time(), seconds=secs)


# -- Markdown report ---------------------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    s = html.escape(" ".join(str(v).split()), quote=False)  # no markup from users' text
    return s.replace("\\", "\\\\").replace("|", "\\|")


def md_table(df, limit: int = 30) -> str:
    """A DataFrame as a Markdown table (cells flattened, pipes escaped), at most `limit` rows."""
    if df is None or not len(df):
        return "_none_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_cell(c) for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.head(limit).itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if len(df) > limit:
        lines.append(f"\n_{len(df) - limit} more rows in the CSV export._")
    return "\n".join(lines) + "\n"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _secs(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} s"


def markdown_report(d: DashboardData) -> str:
    """The dashboard as a Markdown report with the same figures and tables."""
    q = d.questions
    doc = d.documents
    parts = [f"# RAGdesk dashboard: {_cell(d.workspace)}",
             f"Generated {_when(d.created_at or time.time())}", ""]
    parts += ["## Documents", "",
              (f"{doc.totals['documents']:,} documents, {doc.totals['chunks']:,} chunks, "
              f"{doc.totals['pages']:,} PDF pages; {doc.totals['added_7d']:,} added in the last "
              f"7 days; {doc.totals['attention']:,} waiting for attention."), "",
              "### By type", "", md_table(doc.by_type),
              "### Recently added", "", md_table(doc.recent),
              "### Waiting for attention", "", md_table(doc.attention)]
    s = q.shares
    lat = q.latency
    parts += ["## Questions", "",
              (f"{s['questions']:,} questions: {_pct(s['share_answered'])} answered with checked "
              f"citations, {_pct(s['share_flagged'])} with a citation that failed its check, "
              f"{_pct(s['share_abstained'])} abstained. {q.last_7d:,} in the last 7 days "
              f"({q.prev_7d:,} the 7 days before)."), "",
              (f"Answer time: median {_secs(lat['p50'])}, 90th percentile {_secs(lat['p90'])}, "
              f"95th percentile {_secs(lat['p95'])}."), "",
              "### Questions per day", "", md_table(q.daily, limit=CHART_DAYS),
              "### Answer time per day", "", md_table(q.daily_latency, limit=CHART_DAYS),
              "### Most frequent topics", "", md_table(q.topics_table, limit=20),
              "## Unanswered questions", "",
              f"{q.unanswered:,} open, grouped by topic.", "",
              md_table(q.unanswered_table.drop(columns=["id"]), limit=50),
              "## Latest earnings figures and guidance", ""]
    parts += [md_table(d.earnings, limit=60) if len(d.earnings) else f"_{d.earnings_note}_\n"]
    parts += ["## Top feedback themes", "",
              md_table(d.feedback) if len(d.feedback) else
              "_No stored feedback analysis: run one on the Feedback page._\n",
              "## Retrieval quality", ""]
    if d.evals.runs:
        r = d.evals.runs[-1]
        parts += [(f"Latest run ({_cell(r['set'])}, {r['questions']} questions): "
                  f"recall@{r['k']} {r['recall']:.3f}, MRR {r['mrr']:.3f}."), "",
                  md_table(d.evals.table)]
    else:
        parts += ["_No evaluation run yet._\n"]
    return "\n".join(parts)


def safe_csv_of(df) -> bytes:
    """A table as formula-safe CSV (see `rag.analytics.export`)."""
    from rag.analytics.export import safe_csv

    return safe_csv(df)
