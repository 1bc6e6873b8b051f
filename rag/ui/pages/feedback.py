"""The Feedback page: a feedback table -> named themes, a map, trends, segments and drill-down.

The analysis itself lives in `rag.analytics.feedback`; this page picks the source and columns,
runs it with a progress bar, shows the result, and saves every change (re-cluster, rename,
merge) next to the workspace so the next visit shows it at once.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from rag.analytics import clustering
from rag.analytics import feedback as fb
from rag.answer import Answer
from rag.errors import RagError
from rag.index.store import Workspace
from rag.ingest.loaders import TABLE_EXT, LoadOptions, read_table_preview
from rag.ingest.pipeline import Upload
from rag.retrieve import SearchFilter
from rag.services import Services
from rag.types import DocumentInfo
from rag.ui import auth, state
from rag.ui import models as chat_models
from rag.ui.render import (
    count,
    file_slug,
    md,
    md_block,
    open_page_workspace,
    progress_of,
    shorten,
    show_error,
    show_flash,
)

TREND_LINES = 12
MAP_POINTS = 10_000  # items drawn on the map at most (a random sample beyond)
QUOTES = 5
ASK_K = 6
NAME_BUDGET_S = 60.0
NAME_PER_THEME_S = 12.0

# Session-state keys (per user).
DOC_KEY = "fb_doc"
_ANALYSIS_KEY = "fb_analysis"  # {"key": (collection, doc_id), "a": Analysis}
_VECTORS_KEY = "fb_vectors"  # {"key": (collection, doc_id, fingerprint), "x": ndarray}
_GUESS_KEY = "fb_guess"  # {(collection, doc_id): Roles}
_ANSWERS_KEY = "fb_answers"  # {(collection, doc_id, theme id): answer dict}
_FLASH_KEY = "fb_flash"
_ERROR_KEY = "fb_error"
_UPLOAD_GEN = "fb_upload_gen"
_PREVIEW_KEY = "fb_preview"
THEME_KEY = "fb_theme"
K_KEY = "fb_k"
NAMES_KEY = "fb_use_model"
LEVEL_KEY = "fb_level"
MATCH_KEY = "fb_match_previous"
HEADLINES, SUBTHEMES = "Headline themes", "Sub-themes"
STATUS_BADGE = {"new": ":blue-badge[new]", "emerging": ":orange-badge[emerging]",
                "fading": ":gray-badge[fading]", "steady": ""}


# -- plain helpers (no streamlit) ---------------------------------------------------------------


def table_docs(docs: list[DocumentInfo]) -> list[DocumentInfo]:
    return [d for d in docs if d.kind == "table"]


# Distinct colours for themes (Plotly's Dark24 then Light24: 48 before any repeats; the
# default colourway has 10, so an 11th theme shared the first one's colour); "Other" is grey.
THEME_PALETTE = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
    "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
    "#FD3216", "#00FE35", "#6A76FC", "#FED4C4", "#FE00CE", "#0DF9FF", "#F6F926", "#FF9616",
    "#479B55", "#EEA6FB", "#DC587D", "#D626FF", "#6E899C", "#00B5F7", "#B68E00", "#C9FBE5",
    "#FF0092", "#22FFA7", "#E3EE9E", "#86CE00", "#BC7196", "#7E7DCD", "#FC6955", "#E48F72",
)
OTHER_COLOUR = "#b0b0b0"


def theme_colours(themes: list) -> dict[int, str]:
    """Each theme's colour by id, every regular theme its own (cycling only past 48)."""
    out, i = {}, 0
    for t in themes:
        if t.is_other:
            out[t.id] = OTHER_COLOUR
        else:
            out[t.id] = THEME_PALETTE[i % len(THEME_PALETTE)]
            i += 1
    return out


def plain(text: object, limit: int = 300) -> str:
    """Text for plotly labels and hovers: HTML-escaped (plotly reads a few tags), shortened."""
    return html.escape(shorten(str(text), limit))


def wrap(text: str, width: int = 60) -> str:
    """Escaped text with <br> every ~width characters, for a readable hover box."""
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return "<br>".join(html.escape(line) for line in lines[:6])


# -- page ---------------------------------------------------------------------------------------


def render() -> None:
    """The Feedback page."""
    st.title("Feedback", anchor=False)
    opened = open_page_workspace()
    if opened is None:
        return
    svc, name, ws = opened
    docs = table_docs(ws.documents()) if ws is not None else []
    st.caption(f"Workspace **{md(name)}** · {count(len(docs), 'feedback tables')} · group "
               "comments into themes with their size, ratings, trend and typical quotes")
    show_flash(_FLASH_KEY)

    _upload(svc, name, expanded=not docs)
    if ws is None or not docs:
        st.info("No feedback table in this workspace yet: upload a CSV or Excel export above "
                "(one comment per row), or load the demo workspace in the Library.",
                icon=":material/info:")
        return
    by_id = {d.doc_id: d for d in docs}
    if st.session_state.get(DOC_KEY) not in by_id:
        st.session_state[DOC_KEY] = docs[0].doc_id
    doc_id = st.selectbox("Feedback source", list(by_id), key=DOC_KEY,
                          format_func=lambda i: f"{by_id[i].name}  ({by_id[i].units:,} rows)")
    doc = by_id[doc_id]
    try:
        _analysis_section(svc, ws, doc)
    except RagError as err:
        show_error(err)


def _upload(svc: Services, ws_name: str, expanded: bool) -> None:
    gen = st.session_state.get(_UPLOAD_GEN, 0)
    with st.expander("Upload a feedback file", expanded=expanded, icon=":material/upload_file:"):
        f = st.file_uploader("CSV or Excel export, one comment per row",
                             type=sorted(TABLE_EXT), key=f"fb_uploader_{gen}",
                             help="It is added to this workspace like any document, so its "
                                  "rows can be searched and asked about too.")
        if f is None:
            return
        prev = st.session_state.get(_PREVIEW_KEY)
        if not prev or prev.get("id") != f.file_id:
            try:
                p = read_table_preview(f.getvalue(), f.name)
                prev = {"id": f.file_id, "columns": p["columns"], "text": p["text_column"],
                        "date": p["date_column"], "rows": p["rows"][:5]}
            except RagError as err:
                prev = {"id": f.file_id, "error": str(err)}
            except Exception as exc:  # noqa: BLE001 - a preview must not break the page
                prev = {"id": f.file_id, "error": f"could not read this table ({type(exc).__name__})"}
            st.session_state[_PREVIEW_KEY] = prev
        if "error" in prev:
            st.error(md(prev["error"]), icon=":material/error:")
            return
        cols: list[str] = prev["columns"]
        c1, c2 = st.columns(2)
        text_col = c1.selectbox("Text column", cols, key=f"fb_up_text_{gen}",
                                index=cols.index(prev["text"]) if prev["text"] in cols else None,
                                placeholder="Pick the column with the comments")
        date_opts: list[str | None] = [None, *cols]
        date_col = c2.selectbox("Date column (optional)", date_opts, key=f"fb_up_date_{gen}",
                                index=date_opts.index(prev["date"]) if prev["date"] in cols else 0,
                                format_func=lambda c: "(none)" if c is None else c)
        if prev["rows"]:
            width = len(cols)
            body = [(list(r) + [""] * width)[:width] for r in prev["rows"]]
            st.dataframe(pd.DataFrame(body, columns=cols), hide_index=True)
        if st.button(f"Add “{f.name}” to {ws_name}", type="primary", key="fb_add",
                     icon=":material/add:", disabled=text_col is None):
            bar = st.progress(0.0, text="Adding the file…")
            try:
                state.ensure_model(svc)
                reports = svc.ingest_files(
                    ws_name,
                    [Upload(f.name, data=f.getvalue(),
                            options=LoadOptions(text_column=text_col, date_column=date_col))],
                    progress_of(bar))
            except RagError as err:
                bar.empty()
                show_error(err)
                return
            rep = reports[0]
            if not rep.ok or rep.doc is None:
                bar.empty()
                st.error(md(f"{rep.filename}: {rep.message}"), icon=":material/error:")
                return
            st.session_state[DOC_KEY] = rep.doc.doc_id
            st.session_state[_UPLOAD_GEN] = gen + 1
            st.session_state.pop(_PREVIEW_KEY, None)
            st.session_state[_FLASH_KEY] = f"Added {rep.filename}: {rep.message}"
            st.rerun()


def _store(svc: Services) -> fb.AnalysisStore:
    return svc.analysis_store()


def _current(svc: Services, ws: Workspace, doc: DocumentInfo) -> fb.Analysis | None:
    """This session's analysis of the document, else the saved one if still valid."""
    key = (ws.collection_name, doc.doc_id)
    held = st.session_state.get(_ANALYSIS_KEY)
    fp = fb.fingerprint(doc, ws.embed_model)
    if held and held["key"] == key and held["a"].source.get("fingerprint") == fp:
        return held["a"]
    a = _store(svc).load(ws.collection_name, doc, ws.embed_model)
    if a is not None:
        st.session_state[_ANALYSIS_KEY] = {"key": key, "a": a}
    return a


def _keep(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis) -> None:
    """Hold the analysis for this session and save it next to the workspace."""
    st.session_state[_ANALYSIS_KEY] = {"key": (ws.collection_name, doc.doc_id), "a": a}
    try:
        _store(svc).save(ws.collection_name, doc.doc_id, a)
    except OSError as exc:
        st.warning(md(f"The result could not be saved ({exc}); it stays for this session."),
                   icon=":material/warning:")


def _vectors(ws: Workspace, doc: DocumentInfo):
    """The document's row vectors, read once per session and document version."""
    key = (ws.collection_name, doc.doc_id, fb.fingerprint(doc, ws.embed_model))
    held = st.session_state.get(_VECTORS_KEY)
    if held and held["key"] == key:
        return held["x"]
    _, x = fb.load_document(ws, doc)
    st.session_state[_VECTORS_KEY] = {"key": key, "x": x}
    return x


def _guess(ws: Workspace, doc: DocumentInfo) -> fb.Roles:
    guesses = st.session_state.setdefault(_GUESS_KEY, {})
    key = (ws.collection_name, doc.doc_id)
    if key not in guesses:
        chunks = list(itertools.islice(ws.iter_chunks(batch=1000, where={"doc_id": doc.doc_id}),
                                       1000))
        items, _ = fb.items_from_chunks(doc, chunks, np.zeros((len(chunks), 0)))
        guesses[key] = fb.guess_roles(items, list(doc.meta.get("columns") or []),
                                      doc.meta.get("text_column") or "",
                                      doc.meta.get("date_column"))
    return guesses[key]


def _analysis_section(svc: Services, ws: Workspace, doc: DocumentInfo) -> None:
    a = _current(svc, ws, doc)
    roles = _columns(ws, doc, a)
    n = max(1, int(doc.meta.get("rows_with_text") or doc.units))
    lo, hi = clustering.k_range(n)
    k_opts: list[Any] = ["auto", *range(lo, max(lo, hi) + 1)]
    if st.session_state.get(K_KEY) not in k_opts:
        st.session_state[K_KEY] = a.k if a is not None and a.k != a.k_auto and a.k in k_opts \
            else "auto"
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    k_choice = c1.select_slider(
        "Number of themes (fewer ← → more)", options=k_opts, key=K_KEY,
        help="“auto” picks the number whose themes are best separated (silhouette). Moving "
             "it and re-running replaces renamed or merged themes.")
    use_model = c2.toggle("Name themes with the chat model", value=True, key=NAMES_KEY,
                          help="One short prompt per theme, within about a minute in all; a "
                               "theme the model does not name in time keeps the keyphrase "
                               "drawn from its own comments.")
    previous = _previous(svc, ws, doc)
    match = False
    if previous is not None:
        match = st.checkbox(
            f"Match to the previous run ({previous.run_id or 'saved earlier'}: "
            f"{len(previous.items):,} comments)", value=True, key=MATCH_KEY,
            help="Themes that are the same keep their names and ids; the others are marked "
                 "new. Use it after adding new feedback to the same export.")
    label = "Find themes" if a is None else "Re-run the analysis"
    if st.button(label, type="primary" if a is None else "secondary", key="fb_run",
                 icon=":material/hub:"):
        k = None if k_choice == "auto" else int(k_choice)
        a = _run(svc, ws, doc, roles, k, use_model, previous if match else None)
    if a is None:
        st.caption("The analysis groups similar comments using the same vectors as search; "
                   "10,000 comments take well under a minute.")
        return
    if a.roles != roles:
        st.caption(md("The result below used other columns; re-run to apply the new choice."))
    _results(svc, ws, doc, a)


def _columns(ws: Workspace, doc: DocumentInfo, a: fb.Analysis | None) -> fb.Roles:
    """The column pickers (defaults: the saved analysis' choice, else guesses)."""
    columns: list[str] = list(doc.meta.get("columns") or [])
    text_col = doc.meta.get("text_column") or ""
    guess = a.roles if a is not None else _guess(ws, doc)
    others: list[str | None] = [None, *[c for c in columns if c != text_col]]

    def picker(col, label: str, role: str, help_: str) -> str | None:
        key = f"fb_role_{role}_{doc.doc_id}"
        default = getattr(guess, role)
        if key not in st.session_state or st.session_state[key] not in others:
            st.session_state[key] = default if default in others else None
        return col.selectbox(label, others, key=key, help=help_,
                             format_func=lambda c: "(none)" if c is None else c)

    with st.container(border=True):
        c0, c1, c2, c3, c4 = st.columns(5)
        c0.selectbox("Text column", [text_col], disabled=True, key=f"fb_text_{doc.doc_id}",
                     help="Chosen when the file was added (its vectors are of this column). "
                          "To use another column, add the file again with that column.")
        date = picker(c1, "Date", "date", "Monthly trend per theme.")
        rating = picker(c2, "Rating", "rating", "A numeric score (e.g. 1-5): average per theme.")
        product = picker(c3, "Product / segment", "product", "Theme × segment table.")
        channel = picker(c4, "Channel", "channel", "Theme × channel table.")
    return fb.Roles(text=text_col, date=date, rating=rating, product=product, channel=channel)


def _previous(svc: Services, ws: Workspace, doc: DocumentInfo) -> fb.Analysis | None:
    """The document's last stored analysis, whatever version of the document it was of, else
    the last one of a document of the same name (the export added again)."""
    try:
        store = _store(svc)
        return (store.load_run(ws.collection_name, doc.doc_id)
                or store.latest_named(ws.collection_name, doc.name))
    except (OSError, RagError):
        return None


def _run(svc: Services, ws: Workspace, doc: DocumentInfo, roles: fb.Roles, k: int | None,
         use_model: bool, previous: fb.Analysis | None = None) -> fb.Analysis | None:
    bar = st.progress(0.0, text="Reading the comments…")
    progress = progress_of(bar)

    namer = None
    load_note = None
    if use_model:
        try:
            progress(0.0, "Loading the chat model…")
            model = chat_models.load_model(svc, chat_models.model_config())
            namer = fb.ModelNamer(model, budget_s=NAME_BUDGET_S, per_theme_s=NAME_PER_THEME_S)
        except Exception as exc:  # noqa: BLE001 - naming falls back to terms, never fails
            load_note = (f"{fb.NAMING_NOTE} the chat model could not be loaded "
                         f"({shorten(str(exc), 200)}).")
    try:
        items, vectors = fb.load_document(ws, doc)
        st.session_state[_VECTORS_KEY] = {
            "key": (ws.collection_name, doc.doc_id, fb.fingerprint(doc, ws.embed_model)),
            "x": vectors}
        a = fb.analyze(items, vectors, roles, k=k, namer=namer, progress=progress,
                       source=fb.source_of(ws, doc),
                       ingest_date_column=doc.meta.get("date_column"), previous=previous)
    except RagError as err:
        bar.empty()
        show_error(err)
        return None
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        bar.empty()
        st.error(md(f"The analysis failed ({type(exc).__name__}: {shorten(str(exc), 200)}). "
                    "Try another number of themes, or check the text column."),
                 icon=":material/error:")
        return None
    if load_note:
        a = replace(a, notes=[*a.notes, load_note])
    bar.empty()
    _keep(svc, ws, doc, a)
    st.session_state.pop(THEME_KEY, None)
    return a


# -- results --------------------------------------------------------------------------------------


def _results(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis) -> None:
    st.markdown(f"**{md(fb.summary_text(a))}**")
    for note in a.notes:
        st.caption(md(note))
    dated = any(a.dates)
    fine = True
    if a.headlines:
        level = st.segmented_control(
            "Level", [HEADLINES, SUBTHEMES], default=HEADLINES, key=LEVEL_KEY,
            help="Headline themes group the sub-themes (the specific issues); the map, the "
                 "bar chart and the trend follow the level picked here.")
        fine = level == SUBTHEMES
    _flags(a)
    tabs = st.tabs(["Themes", "Map", "Trend", "By segment"])
    with tabs[0]:
        _themes_tab(a, fine)
    with tabs[1]:
        _map_tab(a, fine)
    with tabs[2]:
        if dated:
            _trend_tab(a, fine)
        else:
            st.caption("Pick a date column above and re-run to see each theme's monthly trend.")
    with tabs[3]:
        _segment_tab(a)
    _open_theme(svc, ws, doc, a)
    _edit(svc, ws, doc, a)
    _downloads(doc, a)


def _flags(a: fb.Analysis) -> None:
    """One line naming the new, emerging and fading themes (both levels), when there are."""
    parts = []
    for status in ("new", "emerging", "fading"):
        names = [t.name for t in [*a.headlines, *a.themes] if t.status == status]
        if names:
            parts.append(f"{STATUS_BADGE[status]} " + md(", ".join(dict.fromkeys(names))))
    if parts:
        st.markdown(" · ".join(parts))


def _sentiment_config() -> dict[str, Any]:
    return {
        "share": st.column_config.ProgressColumn("share", format="%.1f%%", min_value=0,
                                                 max_value=100),
        "avg rating": st.column_config.NumberColumn(format="%.2f"),
        "sentiment": st.column_config.NumberColumn(
            format="%+.2f", help="Mean score in [-1, 1]: from the rating column when there is "
                                 "one, else from the text (VADER lexicon)"),
        "negative": st.column_config.ProgressColumn(
            "negative", format="%.0f%%", min_value=0, max_value=100,
            help="Share of the theme's comments that are negative"),
        "typical comment": st.column_config.TextColumn(width="large"),
    }


def _level_table(a: fb.Analysis, df: pd.DataFrame, name_col: str, extra: dict[str, Any]
                 ) -> pd.DataFrame:
    show = pd.DataFrame({
        "theme": df[name_col], **extra, "comments": df["size"], "share": df["share"] * 100,
        "avg rating": df["avg_rating"], "sentiment": df["sentiment"],
        "negative": df["negative_share"] * 100, "status": df["status"].replace("steady", ""),
        "top terms": df["top_terms"], "typical comment": df["typical_quote"],
    })
    if not a.roles.rating:
        show = show.drop(columns=["avg rating"])
    return show


def _themes_tab(a: fb.Analysis, fine: bool = True) -> None:
    other = next((t for t in a.themes if t.is_other), None)
    st.caption(f"“Other” holds {other.size:,} comments ({other.share:.1%}) that fit no theme."
               if other is not None else "Every comment fits a theme (none in “Other”).")
    if a.sentiment_source:
        st.caption(md(f"Sentiment from the {a.sentiment_source}; click a column header to "
                      "sort (e.g. by negative share)."))
    if fine or not a.headlines:
        df = fb.themes_frame(a)
        extra = {"headline": df["headline"]} if a.headlines else {}
        st.dataframe(_level_table(a, df, "theme", extra), hide_index=True,
                     column_config=_sentiment_config(), key="fb_table_fine")
    else:
        df = fb.headlines_frame(a)
        st.dataframe(_level_table(a, df, "headline", {"sub-themes": df["sub_themes"]}),
                     hide_index=True, column_config=_sentiment_config(), key="fb_table_head")
        fine_df = fb.themes_frame(a)
        for h in a.headlines:
            kids = fine_df[fine_df["theme_id"].isin([t.id for t in a.children(h.id)])]
            senti = "" if h.sentiment is None else f" · sentiment {h.sentiment:+.2f}"
            with st.expander(md(f"{h.name} · {h.size:,} comments ({h.share:.1%}) · "
                                f"{len(kids)} sub-themes{senti}")):
                st.dataframe(_level_table(a, kids, "theme", {}), hide_index=True,
                             column_config=_sentiment_config())
    import plotly.graph_objects as go

    themes = list(reversed(a.level(fine)[0]))
    fig = go.Figure(go.Bar(
        x=[t.size for t in themes], y=[plain(t.name, 60) for t in themes], orientation="h",
        marker_color=["#b0b0b0" if t.is_other else "#4c78a8" for t in themes],
        hovertemplate="%{y}: %{x} comments<extra></extra>",
    ))
    fig.update_layout(height=max(260, 22 * len(themes) + 80), margin={"l": 0, "r": 10, "t": 30, "b": 0},
                      title="Comments per " + ("sub-theme" if fine and a.headlines else
                                               "headline theme" if a.headlines else "theme"),
                      xaxis_title="comments")
    st.plotly_chart(fig, key="fb_sizes")


def _map_tab(a: fb.Analysis, fine: bool = True) -> None:
    import plotly.graph_objects as go

    level_themes, level_labels = a.level(fine)
    n = len(a.items)
    idx = np.arange(n)
    if n > MAP_POINTS:
        idx = np.sort(np.random.default_rng(0).choice(n, MAP_POINTS, replace=False))
        st.caption(f"A random {MAP_POINTS:,} of the {n:,} comments are drawn.")
    labels = np.asarray(level_labels)[idx]
    xy = np.asarray(a.coords, dtype=float)[idx]
    fig = go.Figure()
    colours = theme_colours(level_themes)
    for t in level_themes:
        sel = np.flatnonzero(labels == t.id)
        if not len(sel):
            continue
        fig.add_trace(go.Scattergl(
            x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=plain(t.name, 40),
            marker={"size": 6, "opacity": 0.75, "color": colours[t.id]},
            text=[wrap(a.items[int(idx[i])].text) for i in sel],
            hovertemplate="%{text}<extra>%{fullData.name}</extra>",
        ))
    fig.update_layout(height=560, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      xaxis={"visible": False}, yaxis={"visible": False},
                      legend={"itemsizing": "constant"})
    st.plotly_chart(fig, key="fb_map")
    st.caption("Each dot is a comment; nearby dots say similar things. Hover to read one, "
               "click a theme in the legend to hide it.")


def _trend_tab(a: fb.Analysis, fine: bool = True) -> None:
    import plotly.express as px

    level_themes = a.level(fine)[0]
    flagged = [t for t in level_themes if t.status in ("emerging", "fading")]
    for t in flagged:
        st.markdown(f"{STATUS_BADGE[t.status]} **{md(t.name)}**: {md(t.trend)}")
    counts = fb.monthly_counts(a, fine)
    if counts.empty:
        st.caption("No dated comments.")
        return
    share = st.toggle("Share of each month's comments", key="fb_trend_share")
    data = counts.copy()
    if len(level_themes) > TREND_LINES:
        shown = {t.name for t in sorted(level_themes, key=lambda t: -t.size)[:TREND_LINES]}
        shown |= {t.name for t in flagged}
        data = data[data["theme"].isin(shown)]
        st.caption(f"The {TREND_LINES} largest themes and the flagged ones are drawn; pick "
                   "“Headline themes” above for the whole picture.")
    if share:
        totals = data.groupby("month")["count"].transform("sum").replace(0, 1)
        data["count"] = data["count"] / totals * 100
    data["theme"] = data["theme"].map(lambda s: plain(s, 40))
    colours = theme_colours(level_themes)
    by_name = {plain(t.name, 40): colours[t.id] for t in level_themes}
    fig = px.line(data, x="month", y="count", color="theme", markers=True,
                  color_discrete_map=by_name,
                  labels={"count": "% of comments" if share else "comments", "month": "month"})
    fig.update_layout(height=460, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    st.plotly_chart(fig, key="fb_trend")


def _segment_tab(a: fb.Analysis) -> None:
    import plotly.graph_objects as go

    options = [c for c in (a.roles.product, a.roles.channel, a.roles.rating) if c]
    extra = [c for c in fb.field_columns(a) if c not in options
             and 2 <= fb.column_profile(a.items, c)["distinct"] <= 30]
    options += extra
    if not options:
        st.caption("Pick a product, channel or rating column above to compare themes across "
                   "segments.")
        return
    column = st.selectbox("Segment by", options, key="fb_segment")
    table = fb.segment_counts(a, column)
    if table.empty:
        st.caption("No values in this column.")
        return
    pct = table / table.sum(axis=0).replace(0, 1) * 100
    fig = go.Figure(go.Heatmap(
        z=pct.values, x=[plain(c, 30) for c in pct.columns], y=[plain(i, 50) for i in pct.index],
        text=table.values, texttemplate="%{text}", colorscale="Blues",
        hovertemplate="%{y} · %{x}: %{text} comments (%{z:.0f}% of the segment)<extra></extra>",
        colorbar={"title": "% of segment"},
    ))
    fig.update_layout(height=max(300, 28 * len(pct.index) + 120),
                      margin={"l": 0, "r": 0, "t": 10, "b": 0}, yaxis={"autorange": "reversed"})
    st.plotly_chart(fig, key="fb_heatmap")
    st.caption("Cells: comments; colour: share of the segment's comments in each theme.")
    st.dataframe(table.reset_index().rename(columns={"theme": "theme"}), hide_index=True)


# -- one theme ------------------------------------------------------------------------------------


def _open_theme(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis) -> None:
    st.subheader("Open a theme", anchor=False)
    ids = [t.id for t in a.themes]
    if st.session_state.get(THEME_KEY) not in ids:
        st.session_state[THEME_KEY] = ids[0]
    names = {t.id: t for t in a.themes}
    tid = st.selectbox("Theme", ids, key=THEME_KEY,
                       format_func=lambda i: f"{names[i].name}  ({names[i].size:,})")
    t = a.theme(tid)
    with st.container(border=True):
        facts = [f"{t.size:,} comments ({t.share:.1%})"]
        rated = [r for r in a.ratings if r is not None]
        if t.avg_rating is not None and rated:
            facts.append(f"average rating {t.avg_rating:.2f} (all comments: "
                         f"{sum(rated) / len(rated):.2f})")
        if t.sentiment is not None:
            facts.append(f"sentiment {t.sentiment:+.2f}, {t.negative_share:.0%} negative "
                         f"(from the {a.sentiment_source})")
        if t.parent is not None and a.headlines:
            facts.append(f"under “{a.headline(t.parent).name}”")
        facts.append(f"named from {'its terms' if t.named_by == 'terms' else t.named_by}")
        st.markdown(f"**{md(t.name)}** {STATUS_BADGE.get(t.status, '')} · "
                    + md(" · ".join(facts)))
        if t.trend:
            st.caption(md(t.trend))
        _theme_trend(a, t)
        if t.terms:
            st.caption("Top terms: " + md(", ".join(t.terms)))
        st.markdown("**Most typical comments**")
        for i in t.examples[:QUOTES]:
            it = a.items[i]
            where = " · ".join(x for x in (f"row {it.row}" if it.row else "", a.dates[i] or "",
                                           f"rating {a.ratings[i]:g}"
                                           if a.ratings[i] is not None else "") if x)
            st.markdown(f"> {md_block(it.text)}  \n> — {md(where)}" if where else
                        f"> {md_block(it.text)}")
        with st.expander(f"All {t.size:,} comments of this theme", icon=":material/table_rows:"):
            st.dataframe(fb.items_frame(a, tid).drop(columns=["theme_id", "theme"]),
                         hide_index=True,
                         column_config={"text": st.column_config.TextColumn(width="large")})
        _ask_theme(svc, ws, doc, a, t)


def _theme_trend(a: fb.Analysis, t: fb.Theme) -> None:
    """The theme's comments per month (a small bar chart), when the comments are dated."""
    if not any(a.dates):
        return
    import plotly.graph_objects as go

    counts = fb.monthly_counts(a)
    mine = counts[counts["theme"] == t.name]
    if mine.empty:
        return
    fig = go.Figure(go.Bar(x=mine["month"], y=mine["count"], marker_color="#4c78a8",
                           hovertemplate="%{x}: %{y} comments<extra></extra>"))
    fig.update_layout(height=180, margin={"l": 0, "r": 0, "t": 24, "b": 0},
                      title="Comments per month", yaxis_title="comments")
    st.plotly_chart(fig, key=f"fb_theme_trend_{t.id}")


def _ask_theme(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis,
               t: fb.Theme) -> None:
    answers = st.session_state.setdefault(_ANSWERS_KEY, {})
    key = (ws.collection_name, doc.doc_id, t.id, t.size)
    with st.form(f"fb_ask_form_{t.id}", border=False):
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        question = c1.text_input("Ask about this theme", key=f"fb_ask_{t.id}",
                                 placeholder="e.g. What do customers want us to change?")
        asked = c2.form_submit_button("Ask", icon=":material/forum:")
    if asked and question.strip():
        answers[key] = _answer(svc, ws, doc, a, t, question.strip())
    shown = answers.get(key)
    if shown:
        _render_answer(shown)


def _answer(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis, t: fb.Theme,
            question: str) -> dict[str, Any]:
    """Ask over this theme's rows only; stream the text, return what to show again later."""
    filt = SearchFilter(doc_ids=(doc.doc_id,), chunk_ids=a.chunk_ids(t.id))
    out: dict[str, Any] = {"question": question, "text": "", "citations": [], "flags": [],
                           "abstained": False, "error": None}
    box = st.empty()
    try:
        state.ensure_model(svc)
        model = chat_models.load_model(svc, chat_models.model_config())
        raw = ""
        with st.spinner("Reading this theme's comments…"):
            parts = svc.answerer(ws, model, k=ASK_K).stream(question, filter=filt, focus=False)
            first = next(parts, None)
        final: Answer | None = None
        for part in itertools.chain([first], parts):
            if isinstance(part, Answer):
                final = part
            elif isinstance(part, str) and part:
                raw += part
                box.markdown(md_block(raw))
    except Exception as exc:  # noqa: BLE001 - a model or endpoint failure: one line
        out["error"] = str(exc) if isinstance(exc, RagError) else \
            f"the model failed ({type(exc).__name__}: {shorten(str(exc), 200)})"
        box.empty()
        return out
    box.empty()
    if final is None:
        out["error"] = "the model stopped without an answer"
        return out
    out.update(text=final.text, abstained=final.abstained, flags=list(final.flags),
               citations=[c.to_dict() for c in final.citations],
               closest=[{"where": h.chunk.location(), "text": h.chunk.text}
                        for h in final.hits[:3]] if final.abstained else [])
    return out


_MARK = re.compile(r"\\\[(\d{1,2})\\\]")


def _render_answer(ans: dict[str, Any]) -> None:
    with st.container(border=True):
        st.markdown(f"**Q:** {md(ans['question'])}")
        if ans.get("error"):
            st.error(md(ans["error"]), icon=":material/error:")
            return
        if ans["abstained"]:
            st.info(md(ans["text"]), icon=":material/search_off:")
            for h in ans.get("closest", []):
                st.caption(f"{md(h['where'])}: {md(shorten(h['text'], 200))}")
            return
        st.markdown(_MARK.sub(r":blue-badge[\1]", md_block(ans["text"])))
        for c in ans["citations"]:
            check = "" if c["checked"] else " · :orange[check this source]"
            st.markdown(f":blue-badge[{c['n']}] {md(c['location'])}{check}  \n"
                        f"“{md(c['quote'])}”")
        for flag in ans.get("flags", []):
            st.caption(md(flag))


# -- editing and downloads --------------------------------------------------------------------------


def _edit(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis) -> None:
    regular = [t for t in a.themes if not t.is_other]
    names = {t.id: t.name for t in a.themes}
    error = st.session_state.pop(_ERROR_KEY, None)
    with st.expander("Rename or merge themes", icon=":material/edit:", expanded=bool(error)):
        if error:
            st.error(md(error), icon=":material/error:")
        c1, c2, c3 = st.columns([2, 3, 1], vertical_alignment="bottom")
        rid = c1.selectbox("Theme to rename", [t.id for t in regular], key="fb_rename_id",
                           format_func=lambda i: names[i])
        c2.text_input("New name", key="fb_rename_to", max_chars=80)
        # Callbacks read the pickers' values from the session: args would be a run behind.
        c3.button("Rename", key="fb_rename", disabled=rid is None, on_click=_rename,
                  args=(ws.name, doc.doc_id))
        if len(regular) >= 2:
            c1, c2, c3 = st.columns([2, 3, 1], vertical_alignment="bottom")
            keep = c1.selectbox("Merge into", [t.id for t in regular], key="fb_merge_keep",
                                format_func=lambda i: names[i])
            drop = c2.selectbox("the theme", [t.id for t in regular if t.id != keep],
                                key="fb_merge_drop", format_func=lambda i: names[i])
            c3.button("Merge", key="fb_merge", disabled=drop is None, on_click=_merge,
                      args=(ws.name, doc.doc_id))
        unnamed = [t for t in regular if t.named_by == "terms"]
        if unnamed and st.button(f"Name the {count(len(unnamed), 'themes')} still named from "
                                 "terms with the chat model", key="fb_name_rest",
                                 icon=":material/label:"):
            _name_rest(svc, ws, doc, a)


def _edit_target(ws_name: str, doc_id: str) -> tuple[Services, Workspace, DocumentInfo,
                                                       fb.Analysis]:
    svc = state.services()
    ws = svc.workspace(ws_name)
    doc = ws.get_document(doc_id)
    a = _current(svc, ws, doc)
    if a is None:
        raise fb.FeedbackError("the analysis is gone (the document changed): run it again")
    return svc, ws, doc, a


def _rename(ws_name: str, doc_id: str) -> None:
    """Button callback (runs before the next script run, so widgets can still be reset)."""
    theme_id = st.session_state.get("fb_rename_id")
    new = st.session_state.get("fb_rename_to", "")
    if theme_id is None:  # no theme picked: nothing to rename
        return
    try:
        svc, ws, doc, a = _edit_target(ws_name, doc_id)
        _keep(svc, ws, doc, fb.rename_theme(a, theme_id, new))
    except RagError as err:
        st.session_state[_ERROR_KEY] = str(err)
        return
    st.session_state["fb_rename_to"] = ""
    st.session_state[_FLASH_KEY] = f"Renamed to “{' '.join(new.split())}”."


def _merge(ws_name: str, doc_id: str) -> None:
    keep, drop = st.session_state.get("fb_merge_keep"), st.session_state.get("fb_merge_drop")
    if keep is None or drop is None:
        return
    try:
        svc, ws, doc, a = _edit_target(ws_name, doc_id)
        names = {t.id: t.name for t in a.themes}
        _keep(svc, ws, doc, fb.merge_themes(a, keep, drop, _vectors(ws, doc)))
    except RagError as err:
        st.session_state[_ERROR_KEY] = str(err)
        return
    st.session_state[THEME_KEY] = keep
    st.session_state.pop("fb_merge_drop", None)
    st.session_state[_FLASH_KEY] = f"Merged “{names[drop]}” into “{names[keep]}”."


def _name_rest(svc: Services, ws: Workspace, doc: DocumentInfo, a: fb.Analysis) -> None:
    bar = st.progress(0.0, text="Loading the chat model…")
    try:
        model = chat_models.load_model(svc, chat_models.model_config())
    except Exception as exc:  # noqa: BLE001
        bar.empty()
        st.error(md(f"The chat model could not be loaded: {shorten(str(exc), 200)}"),
                 icon=":material/error:")
        return
    namer = fb.ModelNamer(model, budget_s=NAME_BUDGET_S, per_theme_s=NAME_PER_THEME_S)
    named = fb.name_themes(a, namer, only_unnamed=True,
                           progress=progress_of(bar))
    bar.empty()
    _keep(svc, ws, doc, named)
    st.rerun()


def _downloads(doc: DocumentInfo, a: fb.Analysis) -> None:
    slug = file_slug(doc.name, "feedback")
    c1, c2 = st.columns(2)
    c1.download_button("Download comments with their theme (CSV)", fb.items_csv(a),
                       file_name=f"{slug}-themes-items.csv", mime="text/csv",
                       icon=":material/download:", key="fb_dl_items",
                       on_click=auth.exported, args=("themes", f"{slug}-themes-items.csv"))
    c2.download_button("Download the theme table (CSV)", fb.themes_csv(a),
                       file_name=f"{slug}-themes.csv", mime="text/csv",
                       icon=":material/download:", key="fb_dl_themes",
                       on_click=auth.exported, args=("themes", f"{slug}-themes.csv"))
