"""The Summaries page: cited briefs of earnings calls, meetings and other documents.

Pick one or more documents and a kind (guessed by default); each brief is made with a progress
bar (map-reduce over the document, see `rag.analytics.summaries`), stored with the workspace
and shown at once on the next visit until its document changes. Two documents of one kind can
be compared. Every line cites its passage; document text and model output are shown escaped.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from rag.analytics.summaries import KIND_LABELS, Brief, Bullet, SummaryStore, compare
from rag.analytics.summaries.brief import document_kind, summarize_document
from rag.analytics.summaries.export import citations, table_csv, table_frame, to_markdown
from rag.analytics.summaries.jobs import BriefJob
from rag.errors import RagError
from rag.index.store import Workspace
from rag.services import Services
from rag.types import DocumentInfo
from rag.ui import auth
from rag.ui import models as chat_models
from rag.ui.render import (
    blanks,
    count,
    file_slug,
    md,
    model_label,
    open_page_workspace,
    shorten,
    show_error,
)

KIND_OPTIONS = ["auto", "earnings", "meeting", "general"]
KIND_NAMES = {"auto": "Guess from the content", "earnings": "Earnings call",
              "meeting": "Meeting", "general": "General document"}

# Session-state keys (per user).
DOCS_KEY = "sum_docs"
KIND_KEY = "sum_kind"
MODEL_KEY = "sum_use_model"
CMP_A_KEY = "sum_cmp_a"
CMP_B_KEY = "sum_cmp_b"
_BRIEFS_KEY = "sum_briefs"  # {(collection, doc_id): Brief} made or loaded in this session
_COMPARE_KEY = "sum_compare"  # {"key": (collection, a, b), "brief": Brief}
_ERRORS_KEY = "sum_errors"
_JOB_KEY = "sum_job"  # the BriefJob making briefs in the background, while it runs
FIRST_WAIT_S = 2.0  # a brief done this fast (no model, a short text) shows at once
POLL_S = 1.0

_MARK = re.compile(r"\\\[(\d{1,4})\\\]")


# -- plain helpers (no streamlit) ----------------------------------------------------------------


# Checker notes about the model's formatting, not about what a bullet claims: not shown to
# readers (a marker standing alone after a sentence was dropped; the sentence was checked).
_FORMAT_FLAGS = ("stands for no sentence",)


def reader_flags(flags: list[str]) -> list[str]:
    """The flags a reader needs: whether a claim failed its check."""
    return [f for f in flags if not any(x in f for x in _FORMAT_FLAGS)]


def plural_fixed(text: str) -> str:
    """'1 model calls' -> '1 model call' (and '1 sections'), in text made below the UI."""
    return re.sub(r"(?<![\d.,])1 (model call|section|passage|page)s\b", r"1 \1", text)


def bullet_markdown(b: Bullet) -> str:
    """A bullet as safe markdown: escaped text, markers as badges, a flag when checks fail."""
    text = _MARK.sub(r":blue-badge[\1]", md(" ".join(b.text.split())))
    if b.origin == "read-back":  # as the meeting's own recap says it
        text += " :green-badge[as read back]"
    elif b.origin != "model":
        text += " :gray-badge[extract]"
    flags = reader_flags(b.flags)
    if flags:
        text += "  \n:orange[⚠ " + md("; ".join(flags)) + "]"
    return text


def rows_frame(brief: Brief, table: str) -> pd.DataFrame:
    """A table as shown on the page: its columns and the source as '[n] place'."""
    df = table_frame(brief, table)
    if brief.kind == "compare" and table != "action_items":
        df["source A"] = [f"[{p}] {loc}" if p else "" for p, loc in
                          zip(df["passage_a"], df["location_a"], strict=True)]
        df["source B"] = [f"[{p}] {loc}" if p else "" for p, loc in
                          zip(df["passage_b"], df["location_b"], strict=True)]
        drop = [c for c in df.columns if c.startswith(("source_", "location_", "passage_"))]
        df = df.drop(columns=drop)
        return df.rename(columns={"value_a": "before", "period_a": "period before",
                                  "value": "after", "period": "period after",
                                  "quote_a": "quote A", "quote_b": "quote B"})
    df["source"] = [f"[{p}] {loc}" if p else "" for p, loc in
                    zip(df["passage"], df["location"], strict=True)]
    return df.drop(columns=["passage", "location"])


# -- page ---------------------------------------------------------------------------------------


def render() -> None:
    """The Summaries page."""
    st.title("Summaries", anchor=False)
    opened = open_page_workspace()
    if opened is None:
        return
    svc, name, ws = opened
    docs = [d for d in (ws.documents() if ws is not None else []) if d.kind != "table"]
    cfg = chat_models.model_config()
    st.caption(f"Workspace **{md(name)}** · {count(len(docs), 'documents')} · briefs of earnings "
               f"calls, meetings and reports, every line cited · prose by **{md(model_label(cfg))}**")
    if ws is None or not docs:
        st.info("No documents to summarise in this workspace yet: add a transcript or report "
                "(or load the demo) in the Library.", icon=":material/info:")
        return
    by_id = {d.doc_id: d for d in docs}
    tab_one, tab_cmp = st.tabs(["Brief", "Compare two documents"])
    with tab_one:
        _briefs_section(svc, ws, by_id)
    with tab_cmp:
        _compare_section(svc, ws, by_id)


def _store(svc: Services) -> SummaryStore:
    return svc.summary_store()


def _held(svc: Services, ws: Workspace, doc: DocumentInfo, kind: str) -> Brief | None:
    """This session's brief of the document, else the stored one, if still fresh."""
    from rag.analytics.summaries import fingerprint

    briefs = st.session_state.setdefault(_BRIEFS_KEY, {})
    b = briefs.get((ws.collection_name, doc.doc_id))
    if b is not None and b.fingerprint == fingerprint(doc) and kind in ("auto", b.kind):
        return b
    store = _store(svc)
    try:
        b = store.latest(ws.collection_name, doc) if kind == "auto" else None
        if kind != "auto":
            fresh = [x for x in store.list(ws.collection_name, [doc])
                     if x["doc_id"] == doc.doc_id and x["kind"] == kind]
            b = Brief.from_dict(fresh[0]) if fresh else None
    except (RagError, OSError, ValueError):
        b = None
    if b is not None:
        briefs[(ws.collection_name, doc.doc_id)] = b
    return b


def _model(svc: Services):
    """The chat model of this session, or (None, why) when it cannot be loaded."""
    if not st.session_state.get(MODEL_KEY, True):
        return None, "the chat model is off: an extractive brief is made"
    try:
        return chat_models.load_model(svc, chat_models.model_config()), None
    except Exception as exc:  # noqa: BLE001 - fall back to an extractive brief, say why
        why = str(exc) if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"
        return None, (f"the chat model could not be loaded ({shorten(why, 200)}): an "
                      "extractive brief is made instead")


def _start(svc: Services, ws: Workspace, docs: list[DocumentInfo], kind: str,
           refresh: bool) -> BriefJob:
    """Make the briefs of `docs` one after the other in a background thread (stored as each
    is done); Cancel stops the one under way within a second and keeps what was finished."""
    model, why = _model(svc)
    store = _store(svc)
    lexicon = svc.lexicon(ws)
    n = len(docs)

    def work(progress, cancel) -> dict[str, Any]:
        out: dict[str, Any] = {"briefs": {}, "errors": [], "why": why, "skipped": []}
        for i, doc in enumerate(docs):
            if cancel.is_set():
                out["skipped"].append(doc.name)
                continue
            head = f"{doc.name} ({i + 1} of {n})" if n > 1 else doc.name

            def say(frac: float, msg: str, i: int = i, head: str = head) -> None:
                progress((i + frac) / n, f"{head}: {msg}")

            try:
                brief, _cached = summarize_document(ws, doc, kind, model, store=store,
                                                    refresh=refresh, progress=say,
                                                    cancel=cancel, lexicon=lexicon)
                out["briefs"][doc.doc_id] = brief
            except RagError as err:
                out["errors"].append(("rag", doc.name, err))
            except OSError as exc:
                out["errors"].append(("os", doc.name, exc))
            except Exception as exc:  # noqa: BLE001 - never a traceback on the page
                out["errors"].append(("other", doc.name, exc))
        return out

    job = BriefJob(work, label=", ".join(d.name for d in docs)).start()
    job.key = ws.collection_name
    st.session_state[_JOB_KEY] = job
    return job


def _collect(job: BriefJob) -> None:
    """A finished job's briefs into this session; its errors and notes shown once."""
    st.session_state.pop(_JOB_KEY, None)
    if job.error is not None:
        st.error(md(f"The summary failed ({type(job.error).__name__}: "
                    f"{shorten(str(job.error), 200)}). Try again, or turn the chat model off "
                    "for an extractive brief."), icon=":material/error:")
        return
    res = job.result or {}
    if res.get("why"):
        st.caption(md(res["why"]))
    briefs = st.session_state.setdefault(_BRIEFS_KEY, {})
    for doc_id, brief in res.get("briefs", {}).items():
        briefs[(job.key, doc_id)] = brief
    for what, name, err in res.get("errors", []):
        if what == "rag":
            show_error(err)
        elif what == "os":
            st.error(md(f"The brief of {name} could not be saved ({err}): check the disk and "
                        "try again."), icon=":material/error:")
        else:
            st.error(md(f"The summary of {name} failed ({type(err).__name__}: "
                        f"{shorten(str(err), 200)}). Try again, or turn the chat model off for "
                        "an extractive brief."), icon=":material/error:")
    if res.get("skipped"):
        st.info(md("Cancelled: not summarised: " + ", ".join(res["skipped"]) + "."),
                icon=":material/info:")


def eta_text(job: BriefJob) -> str:
    """'12 s elapsed' and the work's own estimate of the time left (in its message)."""
    return f"{job.elapsed:.0f} s elapsed"


def _cancel_job() -> None:
    job = st.session_state.get(_JOB_KEY)
    if job is not None:
        job.cancel.set()


@st.fragment(run_every=POLL_S)
def _job_panel() -> None:
    """The running job: a bar that moves, the time left, Cancel; the page reruns when done."""
    job: BriefJob | None = st.session_state.get(_JOB_KEY)
    if job is None:
        return
    if job.done:
        st.rerun(scope="app")
        return
    what = "Cancelling: keeping what was finished…" if job.cancelled else job.message
    st.progress(job.fraction, text=md(plural_fixed(what)))
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    c1.caption(md(eta_text(job)))
    c2.button("Cancel", key="sum_cancel", icon=":material/cancel:", on_click=_cancel_job,
              disabled=job.cancelled, help="Stop now: the parts the model finished are kept, "
                                           "the rest is written extractively.")


def _make(svc: Services, ws: Workspace, doc: DocumentInfo, kind: str, refresh: bool
          ) -> Brief | None:
    """Make (or load) one brief and wait for it (Compare needs both sides at once)."""
    job = _start(svc, ws, [doc], kind, refresh)
    with st.spinner(md(f"Summarising {doc.name}…")):
        job.wait(3600)
    _collect(job)
    return st.session_state.get(_BRIEFS_KEY, {}).get((ws.collection_name, doc.doc_id))


def _briefs_section(svc: Services, ws: Workspace, by_id: dict[str, DocumentInfo]) -> None:
    ids = list(by_id)
    if DOCS_KEY in st.session_state:  # the user's choice, even an empty one
        st.session_state[DOCS_KEY] = [d for d in st.session_state[DOCS_KEY] if d in by_id]
    else:  # the page's first run in this session: start with a document
        st.session_state[DOCS_KEY] = ids[:1]
    c1, c2, c3 = st.columns([4, 2, 2], vertical_alignment="bottom")
    picked = c1.multiselect("Documents", ids, key=DOCS_KEY,
                            format_func=lambda i: f"{by_id[i].name} ({by_id[i].kind})")
    kind = c2.selectbox("Kind", KIND_OPTIONS, key=KIND_KEY,
                        format_func=lambda k: KIND_NAMES.get(k, k),
                        help="What to write: figures and guidance for a call, action items "
                             "for a meeting. Guessed from the words and structure by default."
                        ) or "auto"  # None only with no options: there are always four
    c3.toggle("Write prose with the chat model", value=True, key=MODEL_KEY,
              help="Off: an extractive brief (the document's own sentences), made at once.")
    if not picked:
        st.caption("Pick a document to summarise.")
        return
    held = {i: _held(svc, ws, by_id[i], kind) for i in picked}
    missing = [i for i in picked if held[i] is None]
    label = ("Summarise" if len(missing) == len(picked) else
             f"Summarise the {count(len(missing), 'others')}" if missing else "Make them again")
    job: BriefJob | None = st.session_state.get(_JOB_KEY)
    if job is not None and job.done:
        _collect(job)
        job = None
        held = {i: _held(svc, ws, by_id[i], kind) for i in picked}
    if st.button(label, type="primary" if missing else "secondary", key="sum_run",
                 icon=":material/summarize:", disabled=job is not None):
        todo = missing or picked
        job = _start(svc, ws, [by_id[i] for i in todo], kind, refresh=not missing)
        if job.wait(FIRST_WAIT_S):
            _collect(job)
            job = None
            held = {i: _held(svc, ws, by_id[i], kind) for i in picked}
    if job is not None:
        _job_panel()
    shown = {i: b for i in picked if (b := held[i]) is not None}
    if not shown:
        st.caption("A brief takes about a minute per 2,000 words with the embedded model; "
                   "figures, guidance and action items are found at once by pattern matching, "
                   "so no model can invent a number.")
        return
    if len(shown) == 1:
        ((i, b),) = shown.items()
        _render_brief(b, key=i)
        return
    tabs = st.tabs([shorten(by_id[i].name, 40) for i in shown])
    for tab, (i, b) in zip(tabs, shown.items(), strict=True):
        with tab:
            _render_brief(b, key=i)


# -- showing a brief -----------------------------------------------------------------------------


def _render_brief(b: Brief, key: str) -> None:
    kind = KIND_LABELS.get(b.kind, b.kind) + (" (guessed)" if b.kind_guessed else "")
    facts = [kind, plural_fixed(b.method)]
    if b.period:
        facts.append(f"period {b.period}")
    if b.seconds:
        facts.append(f"made in {b.seconds:.0f} s")
    st.subheader(md(b.doc_name), anchor=False)
    st.caption(md(" · ".join(facts)))
    for n in b.notes:
        st.info(md(n), icon=":material/info:")
    _bullets("Summary", b.summary)
    if b.kind in ("earnings", "general", "compare"):
        _table(b, "figures", "Figures" if b.kind != "compare" else "Figures: what changed",
               key)
    if b.kind in ("earnings", "compare") and (b.guidance or b.kind == "earnings"):
        _table(b, "guidance", "Guidance", key)
    _bullets("Drivers", b.drivers)
    _bullets("Risks and concerns", b.risks)
    _bullets("Analyst questions", b.questions)
    if b.tone:
        _tone(b)
    _bullets("Decisions", b.decisions)
    if b.kind == "meeting" or (b.kind == "compare" and b.action_items):
        _table(b, "action_items", "Action items", key)
    _bullets("Open questions", b.open_questions)
    if b.topics:
        st.markdown("**Topics**")
        st.dataframe(pd.DataFrame([{"when": t["span"], "topic": t["title"],
                                    "terms": ", ".join(t["terms"])} for t in b.topics]),
                     hide_index=True)
    if b.kind == "compare":
        cmp = b.compare
        if cmp.get("only_a") or cmp.get("only_b"):
            st.caption(md(f"Only in {cmp['a']['doc_name']}: {', '.join(cmp['only_a']) or '—'}"
                          f" · only in {cmp['b']['doc_name']}: "
                          f"{', '.join(cmp['only_b']) or '—'}"))
    _sources(b, key)
    _downloads(b, key)


def _bullets(title: str, items: list[Bullet]) -> None:
    if not items:
        return
    st.markdown(f"**{md(title)}**")
    st.markdown("\n".join(f"- {bullet_markdown(x)}" for x in items))


def _table(b: Brief, table: str, title: str, key: str) -> None:
    st.markdown(f"**{md(title)}**")
    df = blanks(rows_frame(b, table))  # a missing change, prior or due date: blank, not None
    if df.empty:
        st.caption("None found in the document.")
        return
    config = {c: st.column_config.TextColumn(width="large") for c in df.columns
              if c.startswith("quote")}
    st.dataframe(df, hide_index=True, column_config=config, key=f"sum_df_{table}_{key}")


def _tone(b: Brief) -> None:
    st.markdown("**Tone**")
    t = b.tone
    if b.kind == "compare":
        st.markdown(md(t.get("text", "")))
        return
    text = _MARK.sub(r":blue-badge[\1]", md(t.get("text", "")))
    if t.get("origin") != "model":
        text += " :gray-badge[extract]"
    st.markdown(text)
    ev = t.get("evidence") or []
    if ev:
        st.caption("Telling sentences: " + " · ".join(
            f"[{c['n']}] “{md(shorten(c['quote'], 160))}”" for c in ev))


def _sources(b: Brief, key: str) -> None:
    cites: dict[tuple[str, str], dict[str, Any]] = {}
    for c in citations(b):
        cites.setdefault((c["chunk_id"], c.get("quote", "")), c)
    if not cites:
        return
    with st.expander(f"Sources: {count(len(cites), 'quoted passages')}",
                     icon=":material/format_quote:"):
        for c in sorted(cites.values(), key=lambda c: (c.get("doc_name") or "", c["n"])):
            where = f"{c.get('doc_name')} · {c.get('location')}"
            check = "" if c.get("checked", True) else " · :orange[check this source]"
            st.markdown(f":blue-badge[{c['n']}] {md(where)}{check}  \n"
                        f"“{md(c.get('quote', ''))}”")


def _downloads(b: Brief, key: str) -> None:
    name = file_slug(b.doc_name, "brief")
    cols = st.columns(4)
    cols[0].download_button("Brief (Markdown)", to_markdown(b).encode("utf-8"),
                            file_name=f"{name}-brief.md", mime="text/markdown",
                            icon=":material/download:", on_click=auth.exported,
                            args=("brief", f"{name}-brief.md"), key=f"sum_dl_md_{key}")
    tables = [("figures", "Figures (CSV)"), ("guidance", "Guidance (CSV)"),
              ("action_items", "Action items (CSV)")]
    col = 1
    for table, label in tables:
        if not getattr(b, table):
            continue
        cols[col].download_button(label, table_csv(b, table), file_name=f"{name}-{table}.csv",
                                  mime="text/csv", icon=":material/download:",
                                  on_click=auth.exported, args=("brief", f"{name}-{table}.csv"),
                                  key=f"sum_dl_{table}_{key}")
        col += 1


# -- comparing ----------------------------------------------------------------------------------


def default_pair(by_id: dict[str, DocumentInfo], limit: int = 60) -> tuple[str, str]:
    """The two documents most likely meant to be compared: the same type, the most similar
    names ("acme_q1_2026_call" and "acme_q2_2026_call"), the earlier name first."""
    ids = list(by_id)[:limit]

    def words(i: str) -> set[str]:
        return set(re.split(r"[^a-z0-9]+", by_id[i].name.lower())) - {""}

    best, best_s = (ids[0], ids[1]), -1.0
    for x, i in enumerate(ids):
        for j in ids[x + 1:]:
            wi, wj = words(i), words(j)
            sim = len(wi & wj) / max(1, len(wi | wj)) + (by_id[i].kind == by_id[j].kind)
            if sim > best_s:
                best, best_s = (i, j), sim
    a, b = best
    return (a, b) if by_id[a].name <= by_id[b].name else (b, a)


def _compare_section(svc: Services, ws: Workspace, by_id: dict[str, DocumentInfo]) -> None:
    ids = list(by_id)
    if len(ids) < 2:
        st.caption("Add a second document of the same kind (e.g. the next quarter's call) to "
                   "compare them.")
        return
    st.caption("What changed between two documents of the same kind: figures matched by "
               "metric, guidance raised, lowered or held, and tone, each side cited.")
    if st.session_state.get(CMP_A_KEY) not in by_id or st.session_state.get(CMP_B_KEY) not in by_id:
        st.session_state[CMP_A_KEY], st.session_state[CMP_B_KEY] = default_pair(by_id)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Before (A)", ids, key=CMP_A_KEY, format_func=lambda i: by_id[i].name)
    b = c2.selectbox("After (B)", ids, key=CMP_B_KEY, format_func=lambda i: by_id[i].name)
    if a == b:
        st.caption("Pick two different documents.")
        return
    key = (ws.collection_name, a, b)
    held = st.session_state.get(_COMPARE_KEY)
    result: Brief | None = held["brief"] if held and held["key"] == key else None
    if result is None:
        for mname in {x.get("model", "") for x in _safe_list(svc, ws, by_id[a], by_id[b])}:
            got = _store(svc).load_compare(ws.collection_name, by_id[a], by_id[b], mname)
            if got is not None:
                result = got
                break
    if st.button("Compare", type="primary" if result is None else "secondary",
                 key="sum_cmp_run", icon=":material/compare_arrows:"):
        kind = st.session_state.get(KIND_KEY, "auto")
        briefs = []
        for i in (a, b):
            doc = by_id[i]
            got = _held(svc, ws, doc, kind)
            if got is None:
                k = kind if kind != "auto" else _pair_kind(ws, by_id[a], by_id[b])
                got = _make(svc, ws, doc, k, refresh=False)
            if got is None:
                return
            briefs.append(got)
        try:
            result = compare(briefs[0], briefs[1])
        except RagError as err:
            show_error(err)
            return
        try:
            _store(svc).save(ws.collection_name, result)
        except (OSError, RagError) as exc:
            st.warning(md(f"The comparison could not be saved ({exc}); it stays for this "
                          "session."), icon=":material/warning:")
    if result is None:
        return
    st.session_state[_COMPARE_KEY] = {"key": key, "brief": result}
    _render_brief(result, key=f"cmp_{a}_{b}")


def _safe_list(svc: Services, ws: Workspace, *docs: DocumentInfo) -> list[dict[str, Any]]:
    try:
        return [x for x in _store(svc).list(ws.collection_name, list(docs))
                if x.get("kind") == "compare"]
    except (OSError, RagError, ValueError):
        return []


def _pair_kind(ws: Workspace, a: DocumentInfo, b: DocumentInfo) -> str:
    """One kind for both sides of a comparison (the first document's guess)."""
    return document_kind(ws.chunks_of(a.doc_id)) or "general"

