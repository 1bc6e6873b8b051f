"""The Figures page: every figure read from the workspace's tables, as printed, with its source.

Filter the cells by document, statement, line item and period; see them as a table (and
download it), as a ledger (one row a line item, one column a period, a flag where two sources
print different values), open any cell's printed line with the value marked, and read the
definitions the Ask page computes metrics with. The logic lives in `rag.figures.ledger`; this
page only draws it. Document text is shown escaped (`md`) or in elements that never read markup.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from rag.analytics.export import safe_csv
from rag.errors import RagError
from rag.figures import ledger
from rag.figures.metrics import definitions_table
from rag.index.store import Workspace
from rag.services import Services
from rag.types import Cell, DocumentInfo
from rag.ui.render import (
    count,
    file_slug,
    md,
    open_page_workspace,
    progress_of,
    shorten,
    show_error,
)

TABLE_ROWS = 20_000  # cells drawn in the table at most (the CSV has them all)
PICK_OPTIONS = 2_000  # cells offered in the source picker at most

# Session-state keys (per user).
DOCS_KEY = "fig_docs"
STATEMENTS_KEY = "fig_statements"
ITEM_KEY = "fig_item"
PERIODS_KEY = "fig_periods"
CONFLICTS_KEY = "fig_only_conflicts"
PICK_KEY = "fig_pick"
TABLE_KEY = "fig_cells_table"
_CHOSEN_KEY = "fig_chosen"  # the cell whose source is shown (picked or selected in the table)
_SHOWN_KEY = "fig_shown"  # the cell keys of the table's rows, for its selection callback
_CELLS_KEY = "fig_cells"  # {"key": (collection, documents), "cells": [Cell, ...]}


# -- plain helpers (no streamlit) ----------------------------------------------------------------


def source_markdown(span: str, text: str) -> str:
    """The printed line as safe markdown with the value marked wherever it stands as a whole
    token. Each piece is escaped first; only then is the value wrapped, so no character of the
    document can open or close markup."""
    out, pos = [], 0
    for start, end in ledger.value_spans(span, text):
        out.append(md(span[pos:start]))
        out.append(f":orange-background[**{md(span[start:end])}**]")
        pos = end
    out.append(md(span[pos:]))
    return "".join(out)


def cells_frame(cells: list[Cell]) -> pd.DataFrame:
    df = pd.DataFrame(ledger.cell_rows(cells), columns=ledger.CELL_COLUMNS)
    return df.astype({"page": "Int64"})


def cells_csv(cells: list[Cell]) -> bytes:
    """The cells as CSV, with the printed line and the column each was read under."""
    rows = ledger.cell_rows(cells)
    for r, c in zip(rows, cells, strict=True):
        r.update({"column": c.column, "table": c.table, "printed line": c.span,
                  "number": c.value, "doc_id": c.doc_id})
    cols = [*ledger.CELL_COLUMNS, "column", "table", "printed line", "number", "doc_id"]
    return safe_csv(pd.DataFrame(rows, columns=cols).astype({"page": "Int64"}))


def ledger_frame(rows: list[ledger.LedgerRow], periods: list[str]) -> pd.DataFrame:
    records, cols = ledger.ledger_records(rows, periods)
    return pd.DataFrame(records, columns=cols)


def cell_label(c: Cell) -> str:
    """One line naming a cell in the source picker."""
    where = f"{c.doc_name}, {c.location()}".rstrip(", ")
    return shorten(f"{c.row_label} · {c.period} · {c.text} ({where})", 110)


# -- page ---------------------------------------------------------------------------------------


def render() -> None:
    """The Figures page."""
    st.title("Figures", anchor=False)
    opened = open_page_workspace()
    if opened is None:
        return
    svc, name, ws = opened
    docs: list[DocumentInfo] = []
    cells: list[Cell] = []
    if ws is not None:
        try:
            ready = set(ws.ready_ids())
            docs = [d for d in ws.documents() if d.doc_id in ready]
            cells = _cells(svc, ws, docs)
        except RagError as err:
            st.caption(f"Workspace: {md(name)}")
            show_error(err)
            return
    if ws is not None and docs and _offer_rebuild(svc, ws, docs):
        st.rerun()
    with_figures = {c.doc_id for c in cells}
    st.caption(f"Workspace **{md(name)}** · {count(len(with_figures), 'documents')} with "
               f"figures · {count(len(cells), 'figures')} · every value as printed, with the "
               "page it comes from")
    if not cells:
        _empty(docs)
        _definitions(name)
        return
    by_id = {d.doc_id: d for d in docs if d.doc_id in with_figures}
    picked = _filters(by_id, cells)
    tab_cells, tab_ledger = st.tabs(["Cells", "Ledger"])
    with tab_cells:
        _cells_section(name, picked)
    with tab_ledger:
        _ledger_section(name, picked)
    _definitions(name)


def _offer_rebuild(svc: Services, ws: Workspace, docs: list[DocumentInfo]) -> bool:
    """Documents stored before figures were read get a button that reads them from their
    stored passages; True when it ran (the page then reloads its cells)."""
    from rag.figures.rebuild import rebuild

    tried = st.session_state.setdefault("fig_rebuild_tried", set())
    store = svc.figure_store(ws)
    todo = [d for d in docs if d.doc_id not in tried and d.kind != "table"
            and not store.has(d.doc_id)]
    if not todo:
        return False
    st.info(f"{count(len(todo), 'documents')} of this workspace were added before RAGdesk read "
            "figures, or hold none.")
    if not st.button(f"Read figures from {count(len(todo), 'documents')}", key="fig_rebuild"):
        return False
    bar = st.progress(0.0, text="reading figures")
    rebuild(ws, store, todo, progress=progress_of(bar))
    tried.update(d.doc_id for d in todo)
    st.session_state.pop(_CELLS_KEY, None)
    return True


def _cells(svc: Services, ws: Workspace, docs: list[DocumentInfo]) -> list[Cell]:
    """The ready documents' cells, read once per change of the documents in this session."""
    store = svc.figure_store(ws)
    key = (ws.collection_name, tuple(sorted((d.doc_id, d.added_at) for d in docs)),
           _stamp(store))
    held = st.session_state.get(_CELLS_KEY)
    if held and held["key"] == key:
        return held["cells"]
    cells = store.cells(doc_ids=[d.doc_id for d in docs]) if docs else []
    names = {d.doc_id: d.name for d in docs}
    # The document's current name (a cell keeps the name it was read under).
    cells = [c if names.get(c.doc_id, c.doc_name) == c.doc_name else
             replace(c, doc_name=names[c.doc_id]) for c in cells]
    st.session_state[_CELLS_KEY] = {"key": key, "cells": cells}
    return cells


def _stamp(store: Any) -> tuple:
    """When the figures database last changed (its file and write-ahead log), so cells written
    since (another session's upload, the CLI) are read again."""
    path = getattr(store, "path", None)
    if path is None:
        return ()
    out: list[tuple[int, int] | None] = []  # None: no such file (yet)
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st_ = p.stat()
            out.append((st_.st_mtime_ns, st_.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _empty(docs: list[DocumentInfo]) -> None:
    if not docs:
        st.info("No documents in this workspace yet. Upload financial documents in the "
                "Library: annual and quarterly reports (10-K, 10-Q) or earnings releases as "
                "PDF, or spreadsheets (CSV, XLSX) with a column per year or quarter. The "
                "figures of their tables appear here.", icon=":material/info:")
    else:
        st.info(f"No figures in the {count(len(docs), 'documents')} of this workspace. "
                "Figures are read from financial tables (an income statement, balance sheet "
                "or cash flow statement in a PDF, or a spreadsheet with a column per year or "
                "quarter) and from sentences such as “revenue was $412.6 million in Q2 2026”. "
                "Upload such a document in the Library.", icon=":material/info:")
    page = _page("library")
    if page is not None:
        st.page_link(page, label="Go to the Library", icon=":material/arrow_forward:")


def _page(url_path: str) -> st.Page | None:
    from rag.ui import pages

    return next((p for p in pages.pages()
                 if url_path in (p.url_path, getattr(p, "_url_path", None))), None)


def _keep(key: str, options: list[str]) -> None:
    """Drop a filter's remembered values that are no longer offered (a deleted document)."""
    have = set(options)
    st.session_state[key] = [v for v in st.session_state.get(key, []) if v in have]


def _filters(by_id: dict[str, DocumentInfo], cells: list[Cell]) -> list[Cell]:
    statements = ledger.statements_of(cells)
    periods = ledger.periods_of(cells)
    for key, options in ((DOCS_KEY, list(by_id)), (STATEMENTS_KEY, statements),
                         (PERIODS_KEY, periods)):
        _keep(key, options)
    c1, c2 = st.columns(2)
    doc_ids = c1.multiselect("Documents", list(by_id), key=DOCS_KEY,
                             placeholder="All documents",
                             format_func=lambda i: by_id[i].name if i in by_id else i)
    chosen_statements = c2.multiselect("Statements", statements, key=STATEMENTS_KEY,
                                       placeholder="All statements",
                                       format_func=ledger.statement_label)
    c3, c4 = st.columns(2)
    item = c3.text_input("Line item", key=ITEM_KEY, placeholder="e.g. net sales",
                         icon=":material/search:",
                         help="Rows whose printed label contains these words.")
    chosen_periods = c4.multiselect("Periods", periods, key=PERIODS_KEY,
                                    placeholder="All periods")
    return ledger.filter_cells(cells, doc_ids, chosen_statements, item or "", chosen_periods)


def _selected() -> None:
    """The table's selection callback: show the selected row's source."""
    rows = st.session_state[TABLE_KEY]["selection"]["rows"]
    shown = st.session_state.get(_SHOWN_KEY) or []
    st.session_state[_CHOSEN_KEY] = shown[rows[0]] if rows and rows[0] < len(shown) else None


def _picked() -> None:
    st.session_state[_CHOSEN_KEY] = st.session_state.get(PICK_KEY)


def _cells_section(name: str, cells: list[Cell]) -> None:
    if not cells:
        st.caption("No figure matches these filters.")
        return
    shown = cells[:TABLE_ROWS]
    if len(cells) > len(shown):
        st.caption(f"Showing the first {len(shown):,} of {len(cells):,} figures: narrow the "
                   "filters to see the others (the CSV has them all).")
    st.session_state[_SHOWN_KEY] = [ledger.cell_key(c) for c in shown]
    st.dataframe(cells_frame(shown), hide_index=True, key=TABLE_KEY, on_select=_selected,
                 selection_mode="single-row",
                 column_config={
                     "page": None,  # "where" says page, row or speaker turn
                     "value": st.column_config.TextColumn("value", help="As printed"),
                     "source": st.column_config.TextColumn(
                         "source", help="table: a table row; prose: a sentence; sheet: a "
                                        "spreadsheet cell"),
                 })
    st.download_button("Download these figures (CSV)", cells_csv(cells),
                       file_name=f"{file_slug(name)}-figures.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore", key="fig_dl_cells")
    by_key = {ledger.cell_key(c): c for c in cells}
    options = list(by_key)[:PICK_OPTIONS]
    if st.session_state.get(PICK_KEY) not in options:
        st.session_state.pop(PICK_KEY, None)
    st.selectbox("Where was it printed?", options, index=None, key=PICK_KEY, on_change=_picked,
                 format_func=lambda k: cell_label(by_key[k]) if k in by_key else k,
                 placeholder="Select a row of the table, or pick a figure here")
    chosen = by_key.get(st.session_state.get(_CHOSEN_KEY) or "")
    if chosen is not None:
        _source(chosen)


def _source(c: Cell) -> None:
    with st.container(border=True):
        where = " · ".join(x for x in (c.location(), ledger.statement_label(c.statement),
                                       c.table) if x)
        st.markdown(f"**{md(c.doc_name)}** · {md(where)}")
        if ledger.value_spans(c.span, c.text):
            st.markdown(source_markdown(c.span, c.text))
        else:
            st.markdown(md(c.span))
            st.caption(f"Printed as {md(c.text)}")
        facts = [f"row “{c.row_label}”", f"period {c.period}"]
        if c.column and c.column != c.period:
            facts.append(f"column {c.column}")
        if c.unit:
            facts.append(f"unit {c.unit}")
        if c.section:
            facts.append(f"under “{shorten(c.section, 80)}”")
        facts.append({"table": "read from a table row", "prose": "read from a sentence",
                      "sheet": "read from a spreadsheet cell"}.get(c.source, c.source))
        st.caption(md(" · ".join(facts)))
        if st.button("Read the document in the Library", key="fig_open_doc",
                     icon=":material/library_books:"):
            from rag.ui import navigation

            st.session_state[navigation.OPEN_DOC_KEY] = c.doc_id
            page = _page("library")
            if page is not None:
                st.switch_page(page)


def _ledger_section(name: str, cells: list[Cell]) -> None:
    if not cells:
        st.caption("No figure matches these filters.")
        return
    rows = ledger.build_ledger(cells)
    periods = ledger.periods_of(cells)
    conflicts = [r for r in rows if r.disagrees]
    st.caption("One row per line item (labels compared ignoring case and spacing), one column "
               "per period with the value as printed, and the documents it was read from.")
    if conflicts:
        st.warning(f"{count(len(conflicts), 'line items')}: sources disagree (two documents "
                   "or pages print different values for the same period). Check them below.",
                   icon=":material/warning:")
        only = st.toggle("Only line items where sources disagree", key=CONFLICTS_KEY)
        if only:
            rows = conflicts
    frame = ledger_frame(rows, periods)
    config: dict[str, Any] = {"line item": st.column_config.TextColumn(width="medium"),
                              "documents": st.column_config.TextColumn(width="medium")}
    st.dataframe(frame, hide_index=True, column_config=config, key="fig_ledger")
    st.download_button("Download the ledger (CSV)", safe_csv(frame),
                       file_name=f"{file_slug(name)}-ledger.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore", key="fig_dl_ledger")
    if conflicts:
        st.markdown("**Where the sources disagree**")
        st.dataframe(pd.DataFrame(ledger.disagreements(conflicts),
                                  columns=["line item", "period", "values"]),
                     hide_index=True, key="fig_conflicts",
                     column_config={"values": st.column_config.TextColumn(width="large")})


def _definitions(name: str) -> None:
    with st.expander("Metric definitions", icon=":material/functions:"):
        st.caption("How the Ask page computes each metric from the line items of the "
                   "documents, and the labels it reads each line item from.")
        df = pd.DataFrame(definitions_table(), columns=["metric", "definition", "unit"])
        st.dataframe(df, hide_index=True, key="fig_definitions",
                     column_config={"definition": st.column_config.TextColumn(width="large")})
        st.download_button("Download the definitions (CSV)", safe_csv(df),
                           file_name=f"{file_slug(name)}-metric-definitions.csv",
                           mime="text/csv", icon=":material/download:", on_click="ignore",
                           key="fig_dl_definitions")
