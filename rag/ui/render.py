"""Render helpers: safe text for markdown, error boxes, sizes and search hits.

Document text and file names come from users: they are shown through `md()` (every markdown
and HTML character escaped) or through elements that never interpret markup (st.text,
st.code, st.dataframe). Nothing here uses `unsafe_allow_html`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

import streamlit as st

from rag.errors import ModelMismatch, RagError
from rag.types import Hit

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# also disarms Streamlit's extras ($math$, :emoji:, :red[colour], ~~strike~~).
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def file_slug(name: str, fallback: str = "workspace") -> str:
    """A download's file-name stem from a user's name: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or fallback


def md(text: object) -> str:
    """Text to show literally inside st.markdown/caption/error/labels: no markup survives."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _MD_SPECIAL.sub(r"\\\1", s)


def progress_of(bar) -> Callable[[float, str], None]:
    """The `progress(fraction, message)` callback of services and analytics, drawn on a
    `st.progress` bar: the fraction kept within [0, 1], the message shown literally."""

    def progress(frac: float, msg: str) -> None:
        bar.progress(min(max(frac, 0.0), 1.0), text=md(msg))

    return progress


def md_block(text: object) -> str:
    """Like `md`, keeping the line breaks of a passage (markdown would join the lines)."""
    return md(text).replace("\n", "  \n")


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def show_error(err: BaseException) -> None:
    """A RagError as one red line (escaped), never a traceback."""
    st.error(md(str(err)), icon=":material/error:")
    if isinstance(err, ModelMismatch):
        st.caption(
            "This workspace's vectors were computed with another embedding model, so its "
            "search results would be meaningless. Pick another workspace in the sidebar, "
            "create a new one, or start the app with the workspace's model."
        )


@contextmanager
def guarded() -> Iterator[None]:
    """Show any RagError raised inside the block with `show_error` and carry on; a full,
    read-only or failing disk is shown as one too ("the disk is full at PATH")."""
    from rag.index.disk import disk_error

    try:
        yield
    except RagError as err:
        show_error(err)
    except Exception as exc:
        disk = disk_error(exc)
        if disk is None:
            raise
        show_error(disk)


def count(n: int, plural: str) -> str:
    """'1 page', '3 pages' (labels are plural nouns ending in s)."""
    return f"{n} {plural[:-1] if n == 1 and plural.endswith('s') else plural}"


ROW_PX, HEADER_PX = 35, 38  # st.dataframe's row and header heights


def fitted_height(rows: int, height: int | None = None) -> int | Literal["auto"]:
    """A table's height: at most `height`, never taller than its rows (no blank padding)."""
    if not height:
        return "auto"
    return min(height, HEADER_PX + ROW_PX * max(1, rows) + 2)


# A source card (st.container key: class "st-key-<key>") holds its whole passage hidden; the
# answer's marker [n] links to the card's heading, and while that heading is the page's target
# (the URL's #fragment) the passage shows: the marker opens its passage, with no rerun.
SOURCE_CARD = "srccard-"
SOURCE_FULL = "srcfull-"
_SOURCE_CSS = (
    f'<style>[class*="st-key-{SOURCE_FULL}"]{{display:none}}'
    f'[class*="st-key-{SOURCE_CARD}"]:has(:target) [class*="st-key-{SOURCE_FULL}"]'
    "{display:flex}</style>"
)


def source_styles() -> None:
    """The page's one style rule for source cards (our own constant CSS, never content)."""
    st.html(_SOURCE_CSS)


def blanks(df):
    """The table with missing values in text columns shown blank, never as 'None'."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = df.copy()
    for col in out.columns:
        if is_object_dtype(out[col]) or is_string_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), "")
    return out


def model_label(cfg) -> str:
    """A chat model's name for people: 'openai · gpt-4o', or 'openai (no model named yet)'
    where the label would end in a bare separator (and bold around it would show as '**')."""
    label = str(cfg.label).strip()
    if label.endswith("·"):
        return f"{label.rstrip(' ·')} (no model named yet)"
    return label


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


STRONG_RANK = 5  # in the top 5 of two rankings: a strong match
GOOD_RANK = 10  # in the top 10 of one ranking: a good match
_LABEL_BADGE = {"strong match": "green", "good match": "blue", "weak match": "gray"}


def relevance(hit: Hit, rank: int) -> str:
    """'strong match', 'good match' or 'weak match', from where the passage ranked in each
    ranking (dense, keywords, page keywords) and its place in the results."""
    ranks = sorted(v for key, v in hit.scores.items()
                   if key.endswith("_rank") and isinstance(v, int))
    if len(ranks) >= 2 and ranks[1] <= STRONG_RANK:
        return "strong match"
    if ranks and ranks[0] <= GOOD_RANK:
        return "good match"
    if not ranks and rank <= 3:  # one ranking only (keyword or dense search): by place
        return "good match"
    return "weak match"


def hit_heading(rank: int, hit: Hit) -> str:
    """'**1.** name · location · strong match' as safe markdown (the raw scores are for the
    'How this answer was made' panel only)."""
    c = hit.chunk
    label = relevance(hit, rank)
    return (f"**{rank}\\.** {md(c.doc_name)} · {md(c.location())} · "
            f":{_LABEL_BADGE[label]}-badge[{label}]")


def render_hit(rank: int, hit: Hit, compact: bool = False) -> None:
    """One search hit: rank, document, location, relevance and the passage, all escaped."""
    if compact:
        st.markdown(hit_heading(rank, hit))
        st.caption(md(shorten(hit.chunk.text, 220)))
        return
    with st.container(border=True):
        st.markdown(hit_heading(rank, hit))
        st.markdown(md_block(hit.chunk.text))


def show_flash(flash_key: str, error_key: str | None = None) -> None:
    """The message a button callback left for the next run (`flash_key`: a success,
    `error_key`: an error), shown once."""
    flash = st.session_state.pop(flash_key, None)
    if flash:
        st.success(md(flash), icon=":material/check_circle:")
    error = st.session_state.pop(error_key, None) if error_key else None
    if error:
        st.error(md(error), icon=":material/error:")


def open_page_workspace():
    """The services, workspace name and workspace (None if not created yet) for a page, or
    None after showing the error when the services or the workspace cannot be opened."""
    from rag.ui import state

    try:
        svc = state.services()
    except RagError as err:
        show_error(err)
        return None
    name = state.current_workspace_name()
    try:
        ws = state.open_workspace(svc, name)
    except RagError as err:
        st.caption(f"Workspace: {md(name)}")
        show_error(err)
        return None
    return svc, name, ws
