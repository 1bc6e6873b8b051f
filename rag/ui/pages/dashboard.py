"""The Dashboard (the landing page): the workspace at a glance, and what it could not answer.

What is in the workspace, what people asked and how it went, the questions the documents did
not answer (grouped by topic, each with its closest passages, re-asked on demand), the latest
earnings figures and feedback themes, and retrieval quality over time. Every chart has its
table beside it; every table downloads as formula-safe CSV; the whole page as Markdown.
The numbers come from `rag.analytics.dashboard.collect`, which knows nothing of Streamlit.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import streamlit as st

from rag.analytics import dashboard as dash
from rag.analytics import questions as qlog
from rag.errors import RagError
from rag.eval.dataset import EXTENSIONS, parse_eval_set
from rag.eval.retrieval import evaluate
from rag.index.store import Workspace
from rag.services import Services
from rag.ui import models as chat_models
from rag.ui import state
from rag.ui.render import (
    blanks,
    count,
    file_slug,
    fitted_height,
    md,
    open_page_workspace,
    progress_of,
    shorten,
    show_error,
    show_flash,
)

GROUPS_SHOWN = 12  # topics of unanswered questions shown (all are in the CSV)
PER_GROUP = 5  # questions shown per topic
PASSAGES_SHOWN = 3
TOPICS_CHARTED = 12
CHART_HEIGHT = 300

# Session-state keys (per user).
_FLASH_KEY = "dash_flash"
_ERROR_KEY = "dash_error"
_STILL_KEY = "dash_still_unanswered"  # {question id: outcome of the last re-ask}
_EVAL_GEN = "dash_eval_gen"
EVAL_K_KEY = "dash_eval_k"
EVAL_FOCUS_KEY = "dash_eval_focus"


def _page(url_path: str) -> st.Page | None:
    """A registered page by its url path (None when the app has no such page)."""
    from rag.ui import pages

    return next((p for p in pages.pages()
                 if url_path in (p.url_path, getattr(p, "_url_path", None))), None)


def _link(url_path: str, label: str, icon: str) -> None:
    page = _page(url_path)
    if page is not None:
        st.page_link(page, label=label, icon=icon)


def _plain(text: object, limit: int = 60) -> str:
    """Text for chart labels: HTML-escaped (plotly reads a few tags) and shortened."""
    return html.escape(shorten(str(text), limit))


def _table(df, key: str, file_name: str, height: int | None = None, **config: Any) -> None:
    """A table with its CSV download (formula-safe) under it."""
    if df is None or not len(df):
        st.caption("Nothing to show yet.")
        return
    st.dataframe(blanks(df), hide_index=True, key=f"{key}_table",
                 height=fitted_height(len(df), height),
                 column_config=config or None)
    st.download_button("CSV", dash.safe_csv_of(df), file_name=file_name, mime="text/csv",
                       icon=":material/download:", on_click="ignore", key=f"{key}_csv",
                       type="tertiary")


def contents_counted(by_type):
    """The documents-by-type table with 'contents' as one phrase ('1 section', '12 pages')
    instead of a number and a plural unit in two columns ('1', 'sections')."""
    if by_type is None or not len(by_type) or "unit" not in by_type:
        return by_type
    out = by_type.copy()
    out["contents"] = [count(int(n), str(u)) for n, u in
                       zip(out["contents"], out["unit"], strict=True)]
    return out.drop(columns=["unit"])


def days(values) -> list[str]:
    """Days as 'YYYY-MM-DD' labels for a category axis: a date axis over one day would be
    ticked in fractions of a second ('23:59:59.9995')."""
    return [str(v)[:10] for v in values]


def day_axis(fig) -> None:
    fig.update_xaxes(type="category")


def _layout(fig, height: int = CHART_HEIGHT) -> None:
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      legend={"orientation": "h", "y": -0.2})


# -- page ------------------------------------------------------------------------------------------


def render() -> None:
    """The Dashboard page."""
    st.title("Dashboard", anchor=False)
    opened = open_page_workspace()
    if opened is None:
        return
    svc, name, ws = opened
    if ws is None:
        st.caption(f"Workspace **{md(name)}**")
        st.info("This workspace is empty: add documents (or load the demo workspace) in the "
                "Library, then ask questions about them; this page sums them up.",
                icon=":material/info:")
        _link("library", "Go to the Library", ":material/arrow_forward:")
        return
    show_flash(_FLASH_KEY, _ERROR_KEY)
    try:
        data = _collect(svc, ws)
    except RagError as err:
        show_error(err)
        return
    _header(data)
    if not data.documents.totals["documents"] and not data.questions.records:
        st.info("No documents in this workspace yet: add some (or load the demo) in the "
                "Library.", icon=":material/info:")
        _link("library", "Go to the Library", ":material/arrow_forward:")
    _documents(svc, ws, data)
    _questions(data)
    _unanswered(svc, ws, data)
    _briefs_and_themes(data)
    _retrieval(svc, ws, data)


def _collect(svc: Services, ws: Workspace) -> dash.DashboardData:
    emb = svc.embedder
    ready = getattr(emb, "ready", True)  # the background-loading model: don't wait for it
    return dash.collect(svc.settings.data_dir, ws, emb.embed if ready else None, emb.name,
                        stale_s=svc.settings.pending_grace_s)


def _header(d: dash.DashboardData) -> None:
    q, docs = d.questions, d.documents
    c0, c1 = st.columns([4, 1], vertical_alignment="bottom")
    c0.caption(f"Workspace **{md(d.workspace)}** · {count(docs.totals['documents'], 'documents')}"
               f" · {count(docs.totals['chunks'], 'passages')} · "
               f"{count(q.shares['questions'], 'questions')} asked")
    c1.download_button("Report (Markdown)", dash.markdown_report(d),
                       file_name=f"{file_slug(d.workspace)}-dashboard.md", mime="text/markdown",
                       icon=":material/download:", on_click="ignore", key="dash_report")
    m = st.columns(6)
    m[0].metric("Documents", f"{docs.totals['documents']:,}",
                delta=f"+{docs.totals['added_7d']} this week" if docs.totals["added_7d"]
                else None, delta_color="off")
    m[1].metric("Questions, 7 days", f"{q.last_7d:,}", delta=q.last_7d - q.prev_7d,
                help="Asked in the last 7 days, compared with the 7 days before.")
    s = q.shares
    m[2].metric("Answered", f"{s['share_answered']:.0%}" if s["questions"] else "–",
                help="Answered with citations that passed their check.")
    m[3].metric("Unanswered, open", f"{q.unanswered:,}",
                help="Abstained, or a citation failed its check; not marked resolved.")
    p50 = q.latency["p50"]
    m[4].metric("Median answer time", f"{p50:.1f} s" if p50 is not None else "–")
    runs = d.evals.runs
    if runs:
        delta = runs[-1]["recall"] - runs[-2]["recall"] if len(runs) > 1 else None
        m[5].metric(f"Recall@{runs[-1]['k']}", f"{runs[-1]['recall']:.2f}",
                    delta=f"{delta:+.2f}" if delta is not None else None)
    else:
        m[5].metric("Recall@k", "–", help="Run an evaluation set below.")
    if docs.totals["attention"]:
        n = docs.totals["attention"]
        st.warning(f"{count(n, 'files')} need{'s' * (n == 1)} attention: see "
                   "**Waiting for attention** below.", icon=":material/warning:")


# -- documents ---------------------------------------------------------------------------------------


def _documents(svc: Services, ws: Workspace, d: dash.DashboardData) -> None:
    import plotly.graph_objects as go

    docs = d.documents
    st.subheader("Documents", anchor=False)
    if not docs.totals["documents"] and not len(docs.attention):
        st.caption("No documents yet.")
        return
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure(go.Bar(x=docs.by_type["type"], y=docs.by_type["documents"],
                               text=docs.by_type["documents"], textposition="auto",
                               hovertemplate="%{x}: %{y} documents<extra></extra>"))
        _layout(fig)
        st.plotly_chart(fig, key="dash_types")
    with right:
        st.markdown("**By type**")
        _table(contents_counted(docs.by_type), "dash_types", "documents-by-type.csv")
        _link("library", "Open the Library", ":material/library_books:")
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure()
        for kind in sorted(set(docs.added["type"])):
            part = docs.added[docs.added["type"] == kind]
            fig.add_trace(go.Bar(x=part["period"], y=part["documents"], name=kind))
        fig.update_layout(barmode="stack")
        _layout(fig)
        st.markdown(f"**Added per {docs.period}**")
        st.plotly_chart(fig, key="dash_added")
    with right:
        st.markdown("**Recently added**")
        _table(docs.recent, "dash_recent", "recently-added.csv")
    if len(docs.attention):
        st.markdown("**Waiting for attention**")
        st.caption("Files that could not be added (and were not added since), and documents "
                   "whose writing was interrupted. Fix the file and add it again in the Library.")
        _table(docs.attention, "dash_attention", "waiting-for-attention.csv")
    if docs.failed_files:
        with st.popover("Dismiss a failure", icon=":material/done_all:"):
            files = docs.failed_files
            pick = st.selectbox("File", files, key="dash_dismiss_pick")
            if st.button("Dismiss", key="dash_dismiss"):
                svc.question_log(ws).dismiss_failure(pick)
                st.session_state[_FLASH_KEY] = f"Dismissed {pick}."
                st.rerun()


# -- questions ------------------------------------------------------------------------------------------


def _questions(d: dash.DashboardData) -> None:
    import plotly.graph_objects as go

    q = d.questions
    st.subheader("Questions", anchor=False)
    if not q.records:
        st.caption("No questions asked yet in this workspace: questions asked on the Ask page "
                   "or with `ragdesk ask` appear here.")
        _link("ask", "Ask a question", ":material/forum:")
        return
    s = q.shares
    st.caption(f"{s['questions']:,} questions · {s['share_answered']:.0%} answered with checked "
               f"citations · {s['share_flagged']:.0%} with a citation that failed its check · "
               f"{s['share_abstained']:.0%} abstained (the documents did not say)")
    left, right = st.columns([3, 2])
    colours = {"answered": "#2e7d32", "flagged": "#f9a825", "abstained": "#c62828"}
    with left:
        st.markdown("**Questions per day**")
        fig = go.Figure([go.Bar(x=days(q.daily["day"]), y=q.daily[k], name=k,
                                marker_color=colours[k]) for k in qlog.OUTCOMES])
        fig.update_layout(barmode="stack")
        day_axis(fig)
        _layout(fig)
        st.plotly_chart(fig, key="dash_daily")
    with right:
        st.markdown("**Per day**")
        _table(q.daily.iloc[::-1], "dash_daily", "questions-per-day.csv", height=CHART_HEIGHT)
    left, right = st.columns([3, 2])
    with left:
        lat = q.latency
        st.markdown("**Answer time** · median "
                    + (f"{lat['p50']:.1f} s, 90th percentile {lat['p90']:.1f} s"
                       if lat["p50"] is not None else "–"))
        fig = go.Figure([go.Scatter(x=days(q.daily_latency["day"]), y=q.daily_latency[c], name=n,
                                    mode="lines+markers")
                         for c, n in (("p50_s", "median"), ("p90_s", "90th percentile"))])
        fig.update_yaxes(title_text="seconds")
        day_axis(fig)
        _layout(fig)
        st.plotly_chart(fig, key="dash_latency")
    with right:
        st.markdown("**Per day**")
        _table(q.daily_latency.iloc[::-1], "dash_latency", "answer-time-per-day.csv",
               height=CHART_HEIGHT,
               p50_s=st.column_config.NumberColumn("median (s)", format="%.1f"),
               p90_s=st.column_config.NumberColumn("90th pct (s)", format="%.1f"))
    st.markdown("**Most frequent topics**")
    if q.ungrouped:
        why = ("the embedding model is still loading" if not q.embedding else
               f"older questions are grouped {dash.EMBED_PER_LOAD} per visit")
        st.caption(f"{count(q.ungrouped, 'questions')} not grouped yet: {why}. Reload the page "
                   "in a moment.")
    for note in q.notes:
        st.caption(md(note))
    if not q.topics:
        return
    left, right = st.columns([3, 2])
    table = q.topics_table
    with left:
        top = table.head(TOPICS_CHARTED).iloc[::-1]
        fig = go.Figure([
            go.Bar(y=[_plain(t) for t in top["topic"]], x=top["questions"] - top["unanswered"],
                   name="answered", orientation="h", marker_color="#1565c0"),
            go.Bar(y=[_plain(t) for t in top["topic"]], x=top["unanswered"],
                   name="open unanswered", orientation="h", marker_color="#c62828")])
        fig.update_layout(barmode="stack")
        _layout(fig, height=max(CHART_HEIGHT, 28 * len(top) + 60))
        st.plotly_chart(fig, key="dash_topics")
    with right:
        _table(table, "dash_topics", "question-topics.csv", height=CHART_HEIGHT,
               share=st.column_config.NumberColumn(format="percent"))
    _link("ask", "Ask a question", ":material/forum:")


# -- unanswered ------------------------------------------------------------------------------------------


def _unanswered(svc: Services, ws: Workspace, d: dash.DashboardData) -> None:
    q = d.questions
    st.subheader("Unanswered questions", anchor=False)
    if not q.groups:
        if q.records:
            st.caption("Every question asked so far was answered with checked citations, or "
                       "marked resolved.")
        return
    st.caption(f"{count(q.unanswered, 'questions')} the documents did not answer (or whose "
               "citations failed their check), by topic. The closest passages show where the "
               "search looked: add the documents that hold the answers, then re-ask.")
    still = st.session_state.setdefault(_STILL_KEY, {})
    for gi, g in enumerate(q.groups[:GROUPS_SHOWN]):
        label = f"{md(g.topic.name)} · {count(len(g.records), 'questions')}"
        with st.expander(label, expanded=gi == 0, icon=":material/help:"):
            if g.documents:
                st.caption("Closest passages came from: " + md(", ".join(
                    f"{n} ({c})" for n, c in g.documents[:5])))
            for r in g.records[:PER_GROUP]:
                _unanswered_question(svc, ws, r, still.get(_still_key(ws, r.id)))
            if len(g.records) > PER_GROUP:
                st.caption(f"{len(g.records) - PER_GROUP} more in the CSV below.")
    if len(q.groups) > GROUPS_SHOWN:
        st.caption(f"{len(q.groups) - GROUPS_SHOWN} more topics in the CSV below.")
    _table(q.unanswered_table, "dash_unanswered", "unanswered-questions.csv", height=240)


def _unanswered_question(svc: Services, ws: Workspace, r: qlog.QuestionRecord,
                         last_try: str | None) -> None:
    with st.container(border=True):
        st.markdown(md(r.question))
        what = ("abstained: the documents did not say" if r.outcome == qlog.ABSTAINED
                else "answered, but a citation failed its check")
        st.caption(f"{md(datetime.fromtimestamp(r.asked_at).strftime('%Y-%m-%d %H:%M'))}"
                   f" · {md(what)} · {md(r.model or 'unknown model')}")
        lines = [f"· **{md(p.doc_name)}** · {md(p.location)}: {md(shorten(p.snippet, 110))}"
                 for p in r.passages[:PASSAGES_SHOWN]]
        if lines:
            st.caption("Closest passages  \n" + "  \n".join(lines))
        if not r.passages:
            st.caption("No passage was found at all.")
        c1, c2 = st.columns(2)
        if c1.button("Re-ask with the current documents", key=f"dash_reask_{r.id}",
                     icon=":material/refresh:",
                     help="Asks it again; it is marked resolved when the answer's citations "
                          "pass their check."):
            _reask(svc, ws, r.id)
        if last_try:
            c2.caption(f"Re-asked: still {md(last_try)}.")
            if c2.button("Mark resolved anyway", key=f"dash_force_{r.id}",
                         icon=":material/done:"):
                svc.question_log(ws).mark_resolved(
                    r.id, "marked resolved by hand after a re-ask")
                st.session_state[_STILL_KEY].pop(_still_key(ws, r.id), None)
                st.session_state[_FLASH_KEY] = "Marked resolved."
                st.rerun()


def _still_key(ws: Workspace, qid: int) -> str:
    return f"{ws.collection_name}:{qid}"


def _reask(svc: Services, ws: Workspace, qid: int) -> None:
    log = svc.question_log(ws)
    try:
        state.ensure_model(svc)
        cfg = chat_models.model_config(chat_models.PRIMARY)
        model = chat_models.load_model(svc, cfg)
        with st.spinner("Asking again with the current documents…"):
            new, resolved = qlog.reask(log, qid, svc.answerer(ws, model))
    except Exception as exc:  # noqa: BLE001 - a model/provider error: one line, no traceback
        msg = str(exc) if isinstance(exc, RagError) else \
            f"the model failed ({type(exc).__name__}: {str(exc)[:200]})"
        st.session_state[_ERROR_KEY] = f"Could not re-ask: {msg}"
        st.rerun()
        return
    if resolved:
        st.session_state.setdefault(_STILL_KEY, {}).pop(_still_key(ws, qid), None)
        st.session_state[_FLASH_KEY] = (
            f"Answered now, with {count(new.citations, 'checked citations')}: marked resolved. "
            f"Answer: {shorten(new.answer, 300)}")
    else:
        outcome = ("abstained" if new.outcome == qlog.ABSTAINED
                   else "answered with a citation that failed its check")
        st.session_state.setdefault(_STILL_KEY, {})[_still_key(ws, qid)] = outcome
        st.session_state[_ERROR_KEY] = (f"Still not answered: the re-ask {outcome}. Add the "
                                        "document that holds the answer, or mark it resolved "
                                        "anyway.")
    st.rerun()


# -- briefs and themes -----------------------------------------------------------------------------------


def _briefs_and_themes(d: dash.DashboardData) -> None:
    with st.container():
        st.subheader("Latest earnings figures and guidance", anchor=False)
        if len(d.earnings):
            _table(d.earnings, "dash_earnings", "earnings-figures.csv", height=320)
        else:
            st.caption(md(d.earnings_note or dash.NO_BRIEFS))
        _link("summaries", "Open Summaries", ":material/summarize:")
    with st.container():
        st.subheader("Top feedback themes", anchor=False)
        if len(d.feedback):
            st.caption("Trend: the theme's share of last month's comments against the month "
                       "before (↑/↓ when it moved by a point or more).")
            _table(d.feedback, "dash_themes", "feedback-themes.csv", height=320,
                   share=st.column_config.NumberColumn(format="percent"),
                   change_pp=st.column_config.NumberColumn("change (points)", format="%+.1f"))
        else:
            st.caption("No feedback analysis yet: group a feedback table into themes on the "
                       "Feedback page.")
        _link("feedback", "Open Feedback", ":material/hub:")


# -- retrieval quality ---------------------------------------------------------------------------------------


def _retrieval(svc: Services, ws: Workspace, d: dash.DashboardData) -> None:
    import plotly.graph_objects as go

    ev = d.evals
    st.subheader("Retrieval quality", anchor=False)
    st.caption("An evaluation set lists questions with the document (and 1-based page) that "
               "holds each answer: JSONL or CSV with the fields question, doc_name, page and "
               "optional answer. recall@k: share of questions whose page is among the top k "
               "passages; MRR: mean of 1/rank of the first such passage. Same as "
               "`ragdesk eval FILE --workspace NAME -k 5 --json`.")
    if ev.runs:
        left, right = st.columns([3, 2])
        with left:
            x = [f"#{r['id']} {datetime.fromtimestamp(r['created_at']):%m-%d %H:%M}"
                 for r in ev.runs]
            fig = go.Figure([
                go.Scatter(x=x, y=[r["recall"] for r in ev.runs], name="recall@k",
                           mode="lines+markers"),
                go.Scatter(x=x, y=[r["mrr"] for r in ev.runs], name="MRR",
                           mode="lines+markers")])
            fig.update_yaxes(range=[0, 1.02])
            _layout(fig)
            st.plotly_chart(fig, key="dash_eval_chart")
        with right:
            _table(ev.table.iloc[::-1], "dash_eval_runs", "evaluation-runs.csv",
                   height=CHART_HEIGHT)
        if ev.last and ev.last.get("per_question"):
            with st.expander(f"Questions of the latest run ({ev.last.get('set', '')})",
                             icon=":material/checklist:"):
                _table(_per_question_frame(ev.last), "dash_eval_last",
                       "evaluation-latest-run.csv")
    else:
        st.caption("No evaluation run yet.")
    gen = st.session_state.get(_EVAL_GEN, 0)
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    up = c1.file_uploader("Evaluation set", type=[e.lstrip(".") for e in EXTENSIONS],
                          key=f"dash_eval_file_{gen}")
    k = c2.number_input("k", min_value=1, max_value=50, value=5, step=1, key=EVAL_K_KEY)
    focus = c3.toggle("Focus", value=True, key=EVAL_FOCUS_KEY,
                      help="Narrow each search to the documents a question names, as Ask does.")
    if st.button("Run the evaluation", key="dash_eval_run", type="primary",
                 disabled=up is None, icon=":material/play_arrow:") and up is not None:
        _run_eval(svc, ws, up.name, up.getvalue(), int(k), bool(focus))


def _per_question_frame(result: dict[str, Any]):
    import pandas as pd

    rows = []
    for r in result.get("per_question", []):
        top = (r.get("retrieved") or [{}])[0]
        page = r.get("page")
        rows.append({"question": r.get("question"), "document": r.get("doc_name"),
                     "page": ", ".join(map(str, page)) if isinstance(page, list)
                     else ("" if page is None else str(page)),
                     "hit": r.get("hit"), "rank": r.get("rank"),
                     "top passage": f"{top.get('doc_name', '')}, {top.get('location', '')}"
                     if top else "",
                     "note": "" if r.get("doc_found", True) else "document not in this workspace"})
    df = pd.DataFrame(rows, columns=["question", "document", "page", "hit", "rank",
                                     "top passage", "note"])
    return df.astype({"rank": "Int64"})


def _run_eval(svc: Services, ws: Workspace, filename: str, data: bytes, k: int,
              focus: bool) -> None:
    try:
        questions = parse_eval_set(data, filename)
        state.ensure_model(svc)
        bar = st.progress(0.0, text="Searching the questions…")
        progress = progress_of(bar)

        s = svc.settings
        run = evaluate(svc.searcher(ws), questions, k=k, focus=focus, set_name=filename,
                       settings={"chunk_chars": s.chunk_chars, "embed_backend": s.embed_backend},
                       progress=progress)
        svc.eval_history(ws).add(run)
    except RagError as err:
        show_error(err)
        return
    msg = (f"{run.set_name}: {count(run.questions, 'questions')}, recall@{run.k} "
           f"{run.recall:.2f}, MRR {run.mrr:.2f}.")
    if run.missing_docs:
        msg += (f" {count(len(run.missing_docs), 'documents')} of the set are not in this "
                "workspace: " + ", ".join(run.missing_docs[:5]) + ".")
    st.session_state[_FLASH_KEY] = msg
    st.session_state[_EVAL_GEN] = st.session_state.get(_EVAL_GEN, 0) + 1
    st.session_state.pop(f"dash_eval_file_{st.session_state[_EVAL_GEN] - 1}", None)
    st.rerun()
