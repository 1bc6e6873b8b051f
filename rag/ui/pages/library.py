"""The Library page: add documents, list and read them, delete them, search their passages."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from rag.analytics.export import safe_csv
from rag.auth.principal import at_least
from rag.errors import RagError
from rag.index.store import Workspace
from rag.ingest.batches import BatchLog, Interrupted
from rag.ingest.facts import FORMS, ensure_facts, facts_for, set_user_facts
from rag.ingest.loaders import (
    SUPPORTED_EXT,
    TABLE_EXT,
    LoadOptions,
    extension,
    read_table_preview,
)
from rag.ingest.pipeline import Upload
from rag.services import Services
from rag.text.columns import meta_key
from rag.types import Chunk, DocumentInfo, IngestReport
from rag.ui import navigation, state
from rag.ui.demo import DEMO_WORKSPACE, demo_uploads
from rag.ui.render import (
    blanks,
    count,
    file_slug,
    guarded,
    human_size,
    md,
    md_block,
    open_page_workspace,
    progress_of,
    render_hit,
    show_error,
    show_flash,
    when,
)
from rag.ui.search import PER_DOC, diverse_search

# With their dots: a bare "text" would mean any text/* MIME type (.html, .py...) to Streamlit.
UPLOAD_TYPES = list(SUPPORTED_EXT)
GROUPS_PER_PART = 60

# Session-state keys (per user: never in a shared cache).
RESULTS_KEY = "library_last_ingest"
OPEN_KEY = navigation.OPEN_DOC_KEY
QUERY_KEY = "library_query"
_FLASH_KEY = "library_flash"
_ERROR_KEY = "library_error"
_CONFIRM_KEY = "library_confirm_delete"
_GEN_KEY = "library_uploader_gen"
_PREVIEWS_KEY = "library_table_previews"

Progress = Callable[[float, str], None]


# -- plain functions (no streamlit): what the page does, callable from tests ------------------


def ingest_files(svc: Services, ws_name: str,
                 files: Iterable[tuple[str, bytes] | Upload],
                 progress: Progress | None = None) -> list[IngestReport]:
    """`Services.ingest_files` (kept here for the page's callers and tests)."""
    return svc.ingest_files(ws_name, files, progress)


def batch_log(svc: Services, ws_name: str) -> BatchLog:
    """The records of this workspace's batches (kept in the data directory)."""
    return BatchLog(svc.settings.data_dir, ws_name)


def ingest_batch(svc: Services, ws_name: str, uploads: Sequence[Upload],
                 progress: Progress | None = None) -> list[IngestReport]:
    """Ingest `uploads` as one batch, recorded before the first file starts and ticked off
    file by file: if the run stops part-way (the browser closed: Streamlit stops the script),
    the files never ingested stay listed, to retry or dismiss."""
    batch = batch_log(svc, ws_name).start(uploads)

    def tick(frac: float, msg: str) -> None:
        batch.heartbeat()
        if progress is not None:
            progress(frac, msg)

    reports: list[IngestReport] = []
    try:
        ws = svc.workspace(ws_name, create=True)
        for i, report in enumerate(svc.ingestor(ws).iter_ingest(list(uploads), tick)):
            batch.done(i)
            reports.append(report)
    except RagError:
        batch.finish()  # the workspace could not be opened: the caller says so
        raise
    finally:
        batch.release()
    batch.finish()
    return reports


def results_frame(reports: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The results table of an ingest: one row a file, failures with their one-line reason."""
    rows = []
    for r in reports:
        rows.append({
            "file": r["filename"],
            "status": r["status"],
            "type": r.get("kind", ""),
            "contents": count(r["units"], r["unit_label"]) if "units" in r else "",
            "chunks": r.get("chunks"),
            "message": r["message"],
        })
    df = pd.DataFrame(rows, columns=["file", "status", "type", "contents", "chunks", "message"])
    # A failed file has no chunks: blank (an Int64 <NA> is drawn as "None").
    df["chunks"] = [int(n) if pd.notna(n) else "" for n in df["chunks"]]
    return blanks(df)


def documents_frame(docs: Sequence[DocumentInfo]) -> pd.DataFrame:
    """The documents table as shown: name, what it is (issuer, form, period: read from its
    content), type, units, chunks, size, date added."""
    rows = []
    for d in docs:
        f = facts_for(d)
        rows.append({
            "name": d.name,
            "issuer": f.issuer,
            "form": "" if f.form == "other" else f.form,
            "period": f.period or (f.report_date or ""),
            "type": d.kind,
            "contents": count(d.units, d.unit_label),
            "chunks": d.chunks,
            "size": human_size(d.size),
            "added": when(d.added_at),
            "file": d.filename,
        })
    return blanks(pd.DataFrame(rows, columns=["name", "issuer", "form", "period", "type",
                                              "contents", "chunks", "size", "added", "file"]))


def documents_csv(docs: Sequence[DocumentInfo]) -> bytes:
    """The documents table as CSV (raw numbers, ISO dates), safe to open in a spreadsheet."""
    rows = []
    for d in docs:
        f = facts_for(d)
        rows.append({
            "name": d.name, "filename": d.filename, "issuer": f.issuer, "ticker": f.ticker,
            "form": f.form, "period": f.period, "period_end": f.period_end,
            "report_date": f.report_date, "type": d.kind, "units": d.units,
            "unit_label": d.unit_label, "chunks": d.chunks, "size_bytes": d.size,
            "added": when(d.added_at), "doc_id": d.doc_id,
        })
    df = pd.DataFrame(rows, columns=["name", "filename", "issuer", "ticker", "form", "period",
                                     "period_end", "report_date", "type", "units", "unit_label",
                                     "chunks", "size_bytes", "added", "doc_id"])
    return safe_csv(df)


def coverage_frame(docs: Sequence[DocumentInfo]) -> pd.DataFrame | None:
    """Issuers by period, each cell the forms held ('10-K', '10-Q · earnings call'), so a gap
    ('no Q2 10-Q for Intel') shows as a blank; None when there is one issuer and one period."""
    cells: dict[tuple[str, str], list[str]] = {}
    for d in docs:
        f = facts_for(d)
        if not f.issuer or not f.period:
            continue
        cells.setdefault((f.issuer, f.period), []).append(f.form)
    issuers = sorted({i for i, _ in cells})
    periods = sorted({p for _, p in cells}, key=_period_key)
    if len(issuers) < 2 and len(periods) < 2:
        return None
    rows = [{"issuer": i, **{p: " · ".join(sorted(set(cells.get((i, p), [])))) for p in periods}}
            for i in issuers]
    return pd.DataFrame(rows, columns=["issuer", *periods])


def _period_key(p: str) -> tuple[int, int]:
    """'Q2 FY2023' after 'Q1 FY2023', 'FY2023' after its quarters."""
    import re

    m = re.match(r"(?:Q(\d) )?FY(\d{4})", p)
    return (int(m.group(2)), int(m.group(1) or 5)) if m else (0, 0)


def passage_groups(doc: DocumentInfo, chunks: Sequence[Chunk]) -> list[tuple[str, list[Chunk]]]:
    """Chunks grouped for reading: by page for PDFs, else one group per location label."""
    date_key = meta_key(doc.meta["date_column"]) if doc.meta.get("date_column") else None

    def label(c: Chunk) -> str:
        if c.page is not None:
            return f"Page {c.page}"
        loc = c.location()
        if c.row is not None and date_key and c.meta.get(date_key):
            loc += f" · {c.meta[date_key]}"
        return loc

    return [(k, list(g)) for k, g in itertools.groupby(chunks, key=label)]


# -- page ---------------------------------------------------------------------------------------


def render() -> None:
    """The Library page."""
    st.title("Library", anchor=False)
    opened = open_page_workspace()  # None: its error is shown (ModelMismatch above all)
    if opened is None:
        return
    svc, name, ws = opened
    docs = ensure_facts(ws) if ws is not None else []
    n_chunks = sum(d.chunks for d in docs)
    st.caption(f"Workspace **{md(name)}** · {count(len(docs), 'documents')} · "
               f"{count(n_chunks, 'passages')}")

    show_flash(_FLASH_KEY, _ERROR_KEY)

    _interrupted(svc, name)
    if not docs:
        _demo_offer(svc)
    elif name == DEMO_WORKSPACE:
        _demo_resume(svc, docs)
    _add_documents(svc, name, expanded=not docs)
    _last_results(name)
    if ws is None or not docs:
        st.info("No documents in this workspace yet: add some with **Add documents** above.",
                icon=":material/info:")
        return
    tab_docs, tab_search = st.tabs([f"Documents ({len(docs)})", "Search"])
    with tab_docs, guarded():
        _documents(ws, docs)
    with tab_search:
        _search(svc, ws)


def _run_ingest(svc: Services, ws_name: str, uploads: list[Upload], label: str) -> bool:
    """Ingest with a progress bar; keep the reports for the results table. False on error."""
    bar = st.progress(0.0, text=f"{label}…")
    progress = progress_of(bar)

    try:
        state.ensure_model(svc)
        reports = ingest_batch(svc, ws_name, uploads, progress)
    except RagError as err:  # the workspace itself could not be opened or created
        bar.empty()
        show_error(err)
        return False
    st.session_state[RESULTS_KEY] = {"workspace": ws_name,
                                     "reports": [r.to_dict() for r in reports]}
    return True


def interrupted_frame(batch: Interrupted) -> pd.DataFrame:
    """The files an interrupted batch never ingested, as listed on the page."""
    return pd.DataFrame(
        [{"file": f.filename, "size": human_size(f.size) if f.size is not None else "",
          "status": "not ingested (the batch was interrupted)",
          "retry": "yes" if f.retryable else "upload it again"} for f in batch.files],
        columns=["file", "size", "status", "retry"])


def _dismiss_batch(ws_name: str, batch_id: str) -> None:
    batch_log(state.services(), ws_name).dismiss(batch_id)


def _interrupted(svc: Services, ws_name: str) -> None:
    """Batches that stopped part-way: their files were not ingested; retry or dismiss them."""
    log = batch_log(svc, ws_name)
    for batch in log.interrupted():
        n = len(batch.files)
        with st.container(border=True):
            st.warning(f"{count(n, 'files')} of a batch started {when(batch.started_at)} "
                       f"{'were' if n != 1 else 'was'} not ingested: the batch was interrupted "
                       "(the browser was closed or the app stopped while it ran).",
                       icon=":material/warning:")
            st.dataframe(interrupted_frame(batch), hide_index=True)
            c1, c2 = st.columns(2, width=420)
            retry = c1.button("Retry these files", type="primary", icon=":material/replay:",
                              key=f"library_retry_{batch.batch_id}",
                              disabled=not any(f.retryable for f in batch.files))
            c2.button("Dismiss", key=f"library_dismiss_batch_{batch.batch_id}",
                      on_click=_dismiss_batch, args=(ws_name, batch.batch_id))
        if retry:
            uploads = log.uploads(batch.batch_id)
            log.dismiss(batch.batch_id)  # the retry is recorded as a batch of its own
            if uploads and _run_ingest(svc, ws_name, uploads, "Adding the interrupted files"):
                st.rerun()


def _demo_offer(svc: Services) -> None:
    names = {w["name"] for w in svc.list_workspaces()}
    with st.container(border=True):
        if DEMO_WORKSPACE in names:
            st.markdown("This workspace is empty. The demo workspace is ready to explore.")
            if st.button("Open the demo workspace", icon=":material/arrow_forward:"):
                state.request_workspace(DEMO_WORKSPACE)
                st.rerun()
            return
        st.markdown(
            "**New here?** Load the demo workspace: two earnings calls and a product meeting of "
            "*Northwind Robotics* (a fictional company) and 400 rows of its customer feedback. "
            "It takes about half a minute."
        )
        clicked = st.button("Load the demo workspace", type="primary", key="library_load_demo",
                            icon=":material/rocket_launch:")
        if clicked and _run_ingest(svc, DEMO_WORKSPACE, demo_uploads(),
                                   "Loading the demo workspace"):
            state.request_workspace(DEMO_WORKSPACE)
            st.rerun()


def _demo_resume(svc: Services, docs: list) -> None:
    """The demo load stopped part-way (the user left the page while it ran): offer the rest.
    Each file is indexed whole or not at all, so the missing ones are simply added."""
    have = {d.filename for d in docs}
    missing = [u for u in demo_uploads() if u.filename not in have]
    if not missing:
        return
    with st.container(border=True):
        st.markdown(f"The demo load stopped before {count(len(missing), 'files')}: "
                    + ", ".join(f"`{md(u.filename)}`" for u in missing) + ".")
        if st.button("Finish loading the demo", type="primary", key="library_resume_demo",
                     icon=":material/rocket_launch:") and _run_ingest(
                svc, DEMO_WORKSPACE, missing, "Loading the rest of the demo"):
            st.rerun()


def _add_documents(svc: Services, ws_name: str, expanded: bool) -> None:
    gen = st.session_state.get(_GEN_KEY, 0)
    with st.expander("Add documents", expanded=expanded, icon=":material/upload_file:"):
        files = st.file_uploader(
            "Files to add",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            key=f"library_uploader_{gen}",  # a new key after each ingest empties the uploader
            help=f"Several at once, up to {svc.settings.max_file_mb} MB each. PDFs need a text "
                 "layer (scans are not read). A file already in the workspace is skipped; a "
                 "new version of a file with the same name replaces the old one.",
        ) or []
        _prune_previews(files)
        options = {f.file_id: _table_options(f) for f in files
                   if extension(f.name) in TABLE_EXT}
        if not files:
            return
        n = len(files)
        # Ingest on a click only: the uploader keeps its files across reruns.
        if st.button(f"Add {n} file{'s' * (n != 1)} to “{ws_name}”", type="primary",
                     key="library_ingest", icon=":material/add:"):
            uploads = [Upload(f.name, data=f.getvalue(), options=options.get(f.file_id))
                       for f in files]
            if _run_ingest(svc, ws_name, uploads, "Adding documents"):
                st.session_state[_GEN_KEY] = gen + 1
                st.session_state.pop(_PREVIEWS_KEY, None)
                st.rerun()


def _prune_previews(files: list) -> None:
    previews = st.session_state.get(_PREVIEWS_KEY)
    if previews:
        keep = {f.file_id for f in files}
        for fid in list(previews):
            if fid not in keep:
                del previews[fid]


def _table_options(f) -> LoadOptions | None:
    """Column pickers for one CSV/XLSX upload; defaults are the guessed columns."""
    previews = st.session_state.setdefault(_PREVIEWS_KEY, {})
    prev = previews.get(f.file_id)
    if prev is None:
        try:
            p = read_table_preview(f.getvalue(), f.name)
            prev = {"columns": p["columns"], "text_column": p["text_column"],
                    "date_column": p["date_column"], "rows": p["rows"][:5]}
        except RagError as err:
            prev = {"error": str(err)}
        except Exception as exc:  # noqa: BLE001 - a preview must not break the page
            prev = {"error": f"could not preview this table ({type(exc).__name__})"}
        previews[f.file_id] = prev
    with st.container(border=True):
        st.markdown(f"**{md(f.name)}**: which column holds the text?")
        if "error" in prev:
            st.warning(md(prev["error"]) + " \u2014 it will be reported when you add it.")
            return None
        cols: list[str] = prev["columns"]
        c1, c2 = st.columns(2)
        text_col = c1.selectbox(
            "Text column", cols,
            index=cols.index(prev["text_column"]) if prev["text_column"] in cols else None,
            placeholder="Pick the column with the text", key=f"library_textcol_{f.file_id}",
        )
        date_opts: list[str | None] = [None, *cols]
        date_col = c2.selectbox(
            "Date column (optional)", date_opts,
            index=date_opts.index(prev["date_column"]) if prev["date_column"] in cols else 0,
            format_func=lambda c: "(none)" if c is None else c,
            key=f"library_datecol_{f.file_id}",
        )
        if prev["rows"]:
            width = len(cols)
            body = [(list(r) + [""] * width)[:width] for r in prev["rows"]]
            st.dataframe(pd.DataFrame(body, columns=cols), hide_index=True)
    return LoadOptions(text_column=text_col, date_column=date_col)


def _last_results(ws_name: str) -> None:
    last = st.session_state.get(RESULTS_KEY)
    if not last or last.get("workspace") != ws_name:
        return
    reports = last["reports"]
    failed = sum(1 for r in reports if r["status"] == "failed")
    n = len(reports)
    if failed:
        st.warning(f"{failed} of {n} file{'s' * (n != 1)} could not be added: the message "
                   "column says why.", icon=":material/warning:")
    else:
        st.success(f"{n} file{'s' * (n != 1)} processed.", icon=":material/check_circle:")
    st.dataframe(
        results_frame(reports), hide_index=True, placeholder="",
        column_config={"message": st.column_config.TextColumn(width="large")},
    )
    st.button("Dismiss", key="library_dismiss_results",
              on_click=lambda: st.session_state.pop(RESULTS_KEY, None))


def _documents(ws: Workspace, docs: list[DocumentInfo]) -> None:
    st.dataframe(
        documents_frame(docs), hide_index=True,
        column_config={
            "chunks": st.column_config.NumberColumn("chunks", help="Searchable passages"),
            "file": st.column_config.TextColumn("file name"),
        },
    )
    slug = file_slug(ws.name)
    st.download_button("Download this table (CSV)", documents_csv(docs),
                       file_name=f"{slug}-documents.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore")
    coverage = coverage_frame(docs)
    if coverage is not None:
        with st.expander("Coverage: issuers by period", icon=":material/grid_on:"):
            st.caption("What this workspace holds for each company and period, as read from "
                       "the documents themselves; a blank is a gap.")
            st.dataframe(coverage, hide_index=True)
    by_id = {d.doc_id: d for d in docs}
    if st.session_state.get(OPEN_KEY) not in by_id:
        st.session_state[OPEN_KEY] = None
    doc_id = st.selectbox(
        "Open a document", list(by_id), index=None, key=OPEN_KEY,
        format_func=lambda i: f"{by_id[i].name}  ({by_id[i].kind})",
        placeholder="Choose a document to read its text",
    )
    if doc_id:
        _viewer(ws, by_id[doc_id])


def _viewer(ws: Workspace, doc: DocumentInfo) -> None:
    with st.container(border=True):
        st.subheader(md(doc.name), anchor=False)
        facts = (f"{doc.filename} · {doc.kind} · {count(doc.units, doc.unit_label)} · "
                 f"{count(doc.chunks, 'passages')} · {human_size(doc.size)} · "
                 f"added {when(doc.added_at)}")
        if doc.meta.get("text_column"):
            facts += f" · text column '{doc.meta['text_column']}'"
            if doc.meta.get("date_column"):
                facts += f", date column '{doc.meta['date_column']}'"
        st.caption(md(facts))
        _facts_panel(ws, doc)
        _delete_controls(ws.name, doc)
        groups = passage_groups(doc, ws.chunks_of(doc.doc_id))
        parts = max(1, math.ceil(len(groups) / GROUPS_PER_PART))
        part = 1
        if parts > 1:
            part = int(st.number_input(
                f"Part (of {parts}, {GROUPS_PER_PART} {doc.unit_label} or passages each)",
                min_value=1, max_value=parts, value=1, key=f"library_part_{doc.doc_id}"))
        shown = groups[(part - 1) * GROUPS_PER_PART : part * GROUPS_PER_PART]
        chars = sum(len(c.text) for _, group in shown for c in group)
        # A long text scrolls in its own box; a short one takes only the room it needs.
        with st.container(height=560 if chars > 2500 else "content", border=False):
            for label, group in shown:
                st.markdown(f"**{md(label)}**")
                for c in group:
                    st.markdown(md_block(c.text))


def _facts_panel(ws: Workspace, doc: DocumentInfo) -> None:
    """What RAGdesk read this document to be, where it read it, and a form to correct it."""
    f = facts_for(doc)
    shown = [("Issuer", f.issuer + (f" ({f.ticker})" if f.ticker else ""), "issuer"),
             ("Form", "" if f.form == "other" else f.form, "form"),
             ("Fiscal period", f.period, "period"),
             ("Period ends", f.period_end, "period"),
             ("Report date", f.report_date, "report_date")]
    with st.expander("What this document is", icon=":material/badge:"):
        for label, value, key in shown:
            if value:
                src = f.evidence.get(key, "")
                st.markdown(f"**{label}:** {md(value)}" + (
                    f"  \n:gray[read from “{md(' '.join(src.split())[:140])}”]" if src else ""))
        if f.speakers:
            people = "; ".join(s.name + (f" ({s.role}{', ' + s.firm if s.firm else ''})"
                                         if s.role else "") for s in f.speakers[:20])
            st.markdown(f"**Speakers:** {md(people)}")
        if not any(v for _, v, _ in shown) and not f.speakers:
            st.caption("Nothing was read: the text names no issuer, form or period.")
        if not at_least(getattr(ws, "role", None) or "owner", "editor"):
            return  # a viewer sees the facts; an editor may correct them
        with st.form(f"facts_{doc.doc_id}", border=False):
            st.caption("Correct what was read: a correction sticks, and questions are focused "
                       "by it. Leave a field empty to keep what was read.")
            c1, c2, c3 = st.columns(3)
            issuer = c1.text_input("Issuer", value="", placeholder=f.issuer or "e.g. Acme Inc.")
            forms = ["(as read)", *FORMS]
            form = c2.selectbox("Form", forms, index=0)
            year = c3.number_input("Fiscal year", min_value=0, max_value=2100, value=0,
                                   help="0 keeps what was read")
            quarter = c1.selectbox("Fiscal quarter", ["(as read)", "none (a year)", "1", "2",
                                                      "3", "4"], index=0)
            ticker = c2.text_input("Ticker", value="", placeholder=f.ticker or "e.g. ACME")
            period_end = c3.text_input("Period ends (YYYY-MM-DD)", value="",
                                       placeholder=f.period_end or "e.g. 2023-09-30")
            report_date = c1.text_input("Report date (YYYY-MM-DD)", value="",
                                        placeholder=f.report_date or "e.g. 2023-10-26")
            if st.form_submit_button("Save corrections"):
                changes: dict[str, Any] = {}
                if issuer.strip():
                    changes["issuer"] = issuer.strip()
                if form != "(as read)":
                    changes["form"] = form
                if year:
                    changes["fiscal_year"] = int(year)
                if ticker.strip():
                    changes["ticker"] = ticker.strip().upper()
                for field, value in (("period_end", period_end), ("report_date", report_date)):
                    if value.strip():
                        changes[field] = value.strip()
                if quarter == "none (a year)":
                    changes["fiscal_quarter"] = 0
                elif quarter != "(as read)":
                    changes["fiscal_quarter"] = int(quarter)
                if changes:
                    try:
                        set_user_facts(ws, doc.doc_id, changes)
                    except (RagError, ValueError) as err:
                        st.error(md(str(err)), icon=":material/error:")
                        return
                    st.session_state[_FLASH_KEY] = f"Saved the corrections to '{doc.name}'."
                    st.rerun()


def _ask_delete(doc_id: str) -> None:
    st.session_state[_CONFIRM_KEY] = doc_id


def _cancel_delete() -> None:
    st.session_state.pop(_CONFIRM_KEY, None)


def _delete(ws_name: str, doc_id: str, doc_name: str) -> None:
    """Button callback: runs before the next script run, so the picker can be reset."""
    st.session_state.pop(_CONFIRM_KEY, None)
    try:
        state.services().workspace(ws_name).delete_document(doc_id)
    except RagError as err:
        st.session_state[_ERROR_KEY] = str(err)
        return
    st.session_state[OPEN_KEY] = None
    st.session_state[_FLASH_KEY] = f"Deleted '{doc_name}' and its passages."


def _delete_controls(ws_name: str, doc: DocumentInfo) -> None:
    if st.session_state.get(_CONFIRM_KEY) != doc.doc_id:
        st.button("Delete this document", key="library_delete", icon=":material/delete:",
                  on_click=_ask_delete, args=(doc.doc_id,))
        return
    st.warning(f"Delete **{md(doc.name)}** and its {count(doc.chunks, 'passages')} from this "
               "workspace? This cannot be undone.", icon=":material/delete:")
    c1, c2 = st.columns(2, width=360)
    c1.button("Yes, delete", type="primary", key="library_delete_yes", on_click=_delete,
              args=(ws_name, doc.doc_id, doc.name))
    c2.button("Cancel", key="library_delete_cancel", on_click=_cancel_delete)


def _search(svc: Services, ws: Workspace) -> None:
    c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
    query = c1.text_input("Search this workspace", key=QUERY_KEY,
                          placeholder="e.g. What did customers say about battery life?")
    k = c2.number_input("Passages", min_value=1, max_value=30, value=5, key="library_k")
    if not query.strip():
        st.caption("Type a question or keywords: the best-matching passages appear here, "
                   "with the document and place they come from.")
        return
    with guarded():
        state.ensure_model(svc)
        found = diverse_search(svc.searcher(ws), query, k=int(k))
        if not found.hits:
            st.info("No passage matches well: none holds enough of these words or comes "
                    "close in meaning. Try other words, or ask on the Ask page.",
                    icon=":material/search_off:")
        for i, hit in enumerate(found.hits, 1):
            render_hit(i, hit)
        if found.capped:
            st.caption(f"At most {PER_DOC} passages of any one document are shown, so that "
                       f"other documents are not crowded out "
                       f"({count(found.capped, 'more passages')} of the same documents matched).")
