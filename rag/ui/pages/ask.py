"""The Ask page: chat with a workspace; answers stream in, each claim cited and checkable.

Every citation shows its document, place and the quoted span inside its passage, with a flag
when the checker doubts it, and opens the document at that place. The conversation belongs to
the user and the workspace: `st.session_state` for this session, and a file in the data dir
(`rag.ui.conversations`) so a reload finds it again; never a shared cache.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
import streamlit as st

from rag.analytics.feedback.ask import ThemeAnswer, answer_from_themes
from rag.answer import Answer, Evidence, Progress
from rag.errors import RagError
from rag.index.store import Workspace
from rag.ingest.facts import ensure_facts, facts_for
from rag.llm.providers import ModelConfig
from rag.retrieve import SearchFilter
from rag.services import Services
from rag.types import MIN_SUPPORT, Chunk, Citation, DocumentInfo
from rag.ui import auth, conversations, navigation, state
from rag.ui import models as chat_models
from rag.ui.demo import DEMO_QUESTIONS, DEMO_WORKSPACE
from rag.ui.render import (
    SOURCE_CARD,
    SOURCE_FULL,
    blanks,
    count,
    file_slug,
    md,
    md_block,
    model_label,
    open_page_workspace,
    render_hit,
    shorten,
    show_error,
    source_styles,
)

K = 5  # passages per answer
CONTEXT = 2  # passages shown either side of a cited one when it is opened
CLOSEST = 3  # passages shown with an abstention

# Session-state keys (per user: never in a shared cache).
CHATS_KEY = "ask_chats"  # {workspace name: [Turn, ...]}
COMPARE_KEY = "ask_compare"
INPUT_KEY = "ask_input"
_QUEUED_KEY = "ask_queued"  # a question edited in 'Read as', asked on the next script run
_PENDING_KEY = "ask_pending"  # a re-ask asked for by a button, run on the next script run
_FILTER_KEY = "ask_filter_{name}_{ws}"  # filter widgets, one set per workspace

_MARKER_RE = re.compile(r"\\\[(\d{1,2})\\\]")  # a citation marker after md()
_BOLD_RE = re.compile(r"\\\*\\\*(\S(?:[^\n]*?\S)?)\\\*\\\*")  # **bold** after md()


@dataclass
class Turn:
    """One question and what came back (the primary answer and, in compare mode, a second)."""

    question: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    answer: Answer | None = None
    error: str | None = None
    model_label: str = ""
    compare: Answer | None = None
    compare_error: str | None = None
    compare_label: str = ""

    @property
    def compared(self) -> bool:
        return bool(self.compare_label)


# -- plain functions (no streamlit): what the page shows, callable from tests ------------------


def build_filter(doc_ids: Sequence[str] = (), kinds: Sequence[str] = (),
                 speakers: Sequence[str] = (), date_from: date | None = None,
                 date_to: date | None = None) -> SearchFilter:
    """The filter widgets' values as a `SearchFilter` (empty values mean no restriction)."""
    return SearchFilter(doc_ids=tuple(doc_ids), kinds=tuple(kinds), speakers=tuple(speakers),
                        date_from=date_from.isoformat() if date_from else None,
                        date_to=date_to.isoformat() if date_to else None)


def history_of(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """(question, answer text) of the answered turns, for rewriting follow-up questions."""
    return [(t.question, t.answer.text) for t in turns if t.answer is not None]


def where(c: Chunk) -> str:
    """The passage's place: page, speaker + turn + time, or row (with its date)."""
    loc = c.location()
    if c.row is not None and c.meta.get("date"):
        loc += f" · {str(c.meta['date'])[:10]}"
    return loc


def _spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where the quote's lines are in the passage, in order (quotes may join two lines)."""
    out, pos = [], 0
    for line in (quote or "").split("\n"):
        line = line.strip()
        i = text.find(line, pos) if line else -1
        if i >= 0:
            out.append((i, i + len(line)))
            pos = i + len(line)
        elif line:
            # The quote comes from the passage as the model saw it (markup and planted
            # instructions taken out): find its words in order, whatever stood between them.
            words = re.findall(r"\w+", line)[:40]
            if len(words) >= 3:
                pat = r"\W+(?:[^\n]{0,200}?\W+)??".join(re.escape(w) for w in words)
                m = re.compile(pat).search(text, pos)
                if m:
                    out.append((m.start(), m.end()))
                    pos = m.end()
    return out


def highlight(text: str, quote: str) -> str:
    """The passage as safe markdown with the quoted span highlighted.

    Each piece of text is escaped first; only then is the escaped quote wrapped in the
    highlight, so no character of the document can open or close markup.
    """
    out, pos = [], 0
    for start, end in _spans(text, quote):
        out.append(md_block(text[pos:start]))
        out.append(f":orange-background[{md(text[start:end])}]")
        pos = end
    out.append(md_block(text[pos:]))
    return "".join(out)


def answer_markdown(text: str, anchors: dict[int, str] | None = None) -> str:
    """An answer's text as safe markdown, its citation markers shown as badges and its
    **bold** (a computed answer's result) kept bold: the escaped text inside cannot open any
    other markup, so only the emphasis comes back. A marker with an entry in `anchors` (its
    number: the element id of its source) is a link that scrolls to that source."""
    safe = _BOLD_RE.sub(r"**\1**", md_block(text))

    def badge(m: re.Match) -> str:
        n = int(m.group(1))
        if anchors and n in anchors:
            return f"[:blue-badge[{n}]](#{anchors[n]})"
        return f":blue-badge[{n}]"

    return _MARKER_RE.sub(badge, safe)


def source_heading(n: int, answer_no: int, second: bool = False) -> tuple[str, str]:
    """A source's heading and the element id Streamlit gives it (the slug of its text): the
    target of the answer's [n] marker. The answer's number in the conversation keeps the ids
    of two answers citing [1] apart."""
    text = f"Source {n} of answer {answer_no}" + (" (second model)" if second else "")
    return text, re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def excerpt(text: str, quote: str, around: int = 60, limit: int = 360) -> str:
    """A short quote of the passage as safe markdown: the quoted span highlighted (cut to
    `limit` characters) with a few words either side, '…' where the passage goes on."""
    spans = _spans(text, quote)
    if not spans:
        return md(shorten(text, limit // 2 + around))
    start, end = spans[0][0], spans[-1][1]
    if end - start > limit:
        end = start + limit
        cut = text.rfind(" ", start + limit // 2, end)
        end = cut if cut > 0 else end
    left = max(0, start - around)
    if left:
        sp = text.find(" ", left, start)
        left = sp + 1 if sp >= 0 else left
    right = min(len(text), end + around)
    if right < len(text):
        sp = text.rfind(" ", end, right)
        right = sp if sp > end else right
    pre, body, post = text[left:start], text[start:end], text[end:right]

    def flat(s: str) -> str:
        return " ".join(s.split())

    out = ("…" if left else "") + md(flat(pre) + (" " if pre[-1:].isspace() else ""))
    out += f":orange-background[{md(flat(body))}]"
    tail = (" " if post[:1].isspace() else "") + flat(post)
    out += md(tail) + ("…" if right < len(text) or end < spans[-1][1] else "")
    return out


def flag_for_people(flag: str) -> str:
    """A checker's note in words for people ('a citation marker that stands for no
    sentence' means a source number stood alone, with no words of its own to check)."""
    if "stands for no sentence" in flag:
        return ("a source number stood on its own, with no sentence of its own: it was "
                "ignored")
    return flag


def citation_flag(c: Citation) -> str | None:
    """Why the checker doubts a citation, or None when it holds."""
    if c.numbers_missing:
        return "number not found in the passage: " + ", ".join(c.numbers_missing)
    if c.support < MIN_SUPPORT:
        return "weak support: few of the sentence's words are in this passage"
    return None


def passages_frame(answer: Answer) -> pd.DataFrame:
    """The retrieved passages with each retriever's score and rank, and the citation if any."""
    cited = {c.chunk.id: c.n for c in answer.citations}
    rows = []
    for rank, h in enumerate(answer.hits, 1):
        s = h.scores
        n = cited.get(h.chunk.id)
        rows.append({
            "rank": rank, "document": h.chunk.doc_name, "location": where(h.chunk),
            "dense score": s.get("dense"), "dense rank": s.get("dense_rank"),
            "lexical score": s.get("lexical"), "lexical rank": s.get("lexical_rank"),
            "fused": s.get("fused", h.score), "cited as": f"[{n}]" if n else "",
        })
    cols = ["rank", "document", "location", "dense score", "dense rank", "lexical score",
            "lexical rank", "fused", "cited as"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"dense rank": "Int64", "lexical rank": "Int64",
                      "dense score": "Float64", "lexical score": "Float64", "fused": "Float64"})


def filter_lines(answer: Answer, names: dict[str, str]) -> list[str]:
    lines = answer.filter.describe(names)
    if answer.filter.auto and answer.focused:
        lines = [ln + " (chosen automatically: the question names them)"
                 if ln.startswith("documents:") else ln for ln in lines]
    return lines or ["none: all documents"]


def conversation_markdown(ws_name: str, turns: Sequence[Turn]) -> str:
    """The conversation with its citations, as a Markdown file."""
    exported = datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"# RAGdesk conversation: {ws_name}\n\nExported {exported}"]
    for t in turns:
        if t.answer is None:
            parts.append(f"**Q:** {t.question}\n\n_No answer: {t.error}_")
            continue
        block = t.answer.to_markdown() + f"\n\n_Model: {t.answer.model}_"
        if t.compare is not None:
            block += f"\n\n**Second model ({t.compare.model}):**\n\n" + t.compare.to_markdown()
        elif t.compare_error:
            block += f"\n\n_Second model ({t.compare_label}): {t.compare_error}_"
        parts.append(block)
    return "\n\n---\n\n".join(parts) + "\n"


def neighbours(chunks: Sequence[Chunk], chunk: Chunk, n: int = CONTEXT) -> list[Chunk]:
    """The passage and up to `n` passages either side of it in its document ([] if gone)."""
    ids = [c.id for c in chunks]
    if chunk.id not in ids:
        return []
    i = ids.index(chunk.id)
    return list(chunks[max(0, i - n) : i + n + 1])


def anchor_of(chunks: Sequence[Chunk], chunk: Chunk, quote: str = "") -> Chunk | None:
    """The stored passage a citation stands for: itself, or for a figure (a cell's printed
    line, not a stored passage) the passage of its page or row holding that line."""
    if any(c.id == chunk.id for c in chunks):
        return chunk
    if chunk.kind != "figure":
        return None
    if chunk.page is not None:
        same = [c for c in chunks if c.page == chunk.page]
    elif chunk.row is not None:
        same = [c for c in chunks if c.row == chunk.row]
    else:
        same = []
    line = (quote or chunk.text).strip()[:120]
    holding = [c for c in same if line and line in c.text]
    return next(iter(holding or same), None)


def example_questions(ws_name: str, docs: Sequence[DocumentInfo], n: int = 4) -> list[str]:
    """Questions to start an empty chat with: the demo's own, else one per kind of document
    the workspace holds (an earnings call, a meeting, a feedback table, a report)."""
    if ws_name == DEMO_WORKSPACE:
        return list(DEMO_QUESTIONS[:n])
    out: list[str] = []
    for d in docs:
        low = d.name.lower()
        if "earnings" in low or re.search(r"\bcall\b|_call|call_", low):
            q = f"What guidance was given in {d.name}?"
        elif d.kind == "transcript" or "meeting" in low or "minutes" in low:
            q = f"What was decided in {d.name}, and who owns each action item?"
        elif d.kind == "table":
            q = f"What do people complain about most in {d.name}?"
        else:
            q = f"What are the main points of {d.name}?"
        if q not in out:
            out.append(q)
    return out[:n]


def computation_parts(comp: dict) -> list[dict]:
    """The computations of a computed answer: one a period asked (and an average)."""
    return list(comp.get("periods") or [comp])


def operand_rows(comp: dict, citations: Sequence[Citation] = ()) -> list[dict]:
    """The figures a computation used, one row each (across periods, each figure once), with
    the answer's citation number: the citation quoting the figure's printed line."""
    numbers: dict[tuple[str | None, str | None], int] = {(c.chunk.doc_id, c.quote): c.n
                                                          for c in citations}
    rows, seen = [], set()
    for part in computation_parts(comp):
        for o in part.get("operands") or []:
            cite = o.get("citation") or {}
            key = (cite.get("doc_id"), cite.get("page"), cite.get("row_label"), o.get("period"),
                   o.get("text"))
            if key in seen:
                continue
            seen.add(key)
            n = numbers.get((cite.get("doc_id"), cite.get("span")))
            rows.append({"cited as": f"[{n}]" if n else "", "figure": o.get("name", ""),
                         "period": o.get("period", ""), "value": o.get("text", ""),
                         "unit": o.get("unit", ""), "document": cite.get("doc_name", ""),
                         "page": str(page) if (page := cite.get("page")) is not None else "",
                         "row label": cite.get("row_label") or ""})
    return rows


def computation_missing(comp: dict) -> list[str]:
    """The figures a computation needed and did not find, each once."""
    return list(dict.fromkeys(m for part in computation_parts(comp)
                              for m in part.get("missing") or []))


# -- session state ------------------------------------------------------------------------------


def conversation_path(svc: Services, ws: Workspace) -> conversations.Kept:
    """Where this user's conversation in `ws` is kept across sessions (and replicas)."""
    who = auth.session_principal()
    return conversations.kept_for(svc.settings, ws.collection_name,
                                  who.email if who else "local")


def turns_of(ws_name: str, kept: conversations.Kept | None = None) -> list[Turn]:
    """This session's conversation in a workspace: on first use, the one kept at `kept` (a
    reload, a new tab), else empty."""
    chats = st.session_state.setdefault(CHATS_KEY, {})
    if ws_name not in chats:
        chats[ws_name] = conversations.load(kept, Turn) if kept is not None else []
    return chats[ws_name]


def _clear(ws_name: str, kept: conversations.Kept | None = None) -> None:
    st.session_state.setdefault(CHATS_KEY, {})[ws_name] = []
    st.session_state.pop(_PENDING_KEY, None)
    if kept is not None:
        conversations.save(kept, [])


def _ask_unfocused(ws_name: str, turn_id: str) -> None:
    st.session_state[_PENDING_KEY] = {"workspace": ws_name, "turn": turn_id, "focus": False}


def _page(url_path: str) -> st.Page:
    from rag.ui import pages

    # The default page reports an empty url_path; its own path is kept in `_url_path`.
    return next(p for p in pages.pages()
                if url_path in (p.url_path, getattr(p, "_url_path", None)))


# -- page ---------------------------------------------------------------------------------------


def render() -> None:
    """The Ask page."""
    st.title("Ask", anchor=False)
    opened = open_page_workspace()  # None: its error is shown (ModelMismatch above all)
    if opened is None:
        return
    svc, name, ws = opened
    docs = ws.documents() if ws is not None else []
    cfg = chat_models.model_config(chat_models.PRIMARY)
    st.caption(f"Workspace **{md(name)}** · {count(len(docs), 'documents')} · answers by "
               f"**{md(model_label(cfg))}** (change it in Settings)")
    if ws is None or not docs:
        st.info("No documents in this workspace yet: add some (or load the demo) in the "
                "Library.", icon=":material/info:")
        st.page_link(_page("library"), label="Go to the Library", icon=":material/arrow_forward:")
        st.chat_input("Ask a question about your documents", key=INPUT_KEY, disabled=True)
        return

    names = {d.doc_id: d.name for d in docs}
    kept = conversation_path(svc, ws)
    turns = turns_of(name, kept)
    filt = _filters(ws, docs)
    compare_cfg = _options(name, turns, cfg, kept)

    focus = True
    question = None
    pending = st.session_state.pop(_PENDING_KEY, None)
    if pending and pending.get("workspace") == name:
        redo = next((t for t in turns if t.id == pending["turn"]), None)
        if redo is not None:  # asked again over all documents: it replaces the focused answer
            turns.remove(redo)
            question, focus = redo.question, pending.get("focus", True)

    for i, turn in enumerate(turns):
        _render_turn(ws, names, turn, latest=i == len(turns) - 1 and question is None,
                     number=i + 1)

    typed = st.chat_input("Ask a question about your documents", key=INPUT_KEY, max_chars=2000)
    queued = st.session_state.pop(_QUEUED_KEY, None)
    if question is None and queued and queued.get("workspace") == name and queued["text"]:
        question = queued["text"]  # an edited reading of a follow-up, asked as it stands
    if question is None and typed and typed.strip():
        question = typed.strip()
    if question is None:
        if not turns:
            _examples(name, docs)
        return
    turn = _answer_new(svc, ws, question, history_of(turns), filt, focus, cfg, compare_cfg)
    turns.append(turn)
    conversations.save(kept, turns)  # a reload finds the conversation again
    svc.log_answer(ws, turn.answer)  # the Dashboard's questions and gaps
    st.rerun()


def _examples(ws_name: str, docs: list[DocumentInfo]) -> None:
    """An empty chat: how answers work and a few questions to start with, one click each."""
    st.caption("Answers cite the passages they come from: check any claim by opening its "
               "source. Follow-up questions may refer to earlier answers.")
    questions = example_questions(ws_name, docs)
    if not questions:
        return
    st.markdown("**Try one of these**")
    with st.container(horizontal=True):
        for i, q in enumerate(questions):
            st.button(md(q), key=f"ask_example_{i}", icon=":material/lightbulb:",
                      on_click=_ask_example, args=(ws_name, q))


def _ask_example(ws_name: str, question: str) -> None:
    st.session_state[_QUEUED_KEY] = {"workspace": ws_name, "text": question}


def _queue_question(ws_name: str, input_key: str) -> None:
    text = str(st.session_state.get(input_key) or "").strip()  # the value as edited now
    st.session_state[_QUEUED_KEY] = {"workspace": ws_name, "text": text}


def _filters(ws: Workspace, docs: list[DocumentInfo]) -> SearchFilter:
    """The filter widgets (one set per workspace, kept across pages) and their filter."""
    def key(n: str) -> str:
        return _FILTER_KEY.format(name=n, ws=ws.collection_name)

    docs = ensure_facts(ws, docs)
    by_id = {d.doc_id: d for d in docs}
    facts = {d.doc_id: facts_for(d) for d in docs}
    issuers = sorted({f.issuer for f in facts.values() if f.issuer})
    periods = sorted({f.period for f in facts.values() if f.period}, key=_period_order)
    kinds = sorted({d.kind for d in docs})
    speakers = list(dict.fromkeys(s for d in docs if d.kind == "transcript"
                                  for s in d.meta.get("speakers") or []))
    dated = any(d.meta.get("date_column") for d in docs)
    with st.expander("Filters", icon=":material/filter_alt:"):
        c1, c2 = st.columns(2)
        doc_ids = c1.multiselect(
            "Documents", list(by_id), key=key("docs"), placeholder="All documents",
            persist_state="session",
            format_func=lambda i: f"{by_id[i].name} ({by_id[i].kind})" if i in by_id else i)
        chosen_kinds = c2.multiselect("Document types", kinds, key=key("kinds"),
                                      placeholder="All types", persist_state="session")
        chosen_issuers: list[str] = []
        chosen_periods: list[str] = []
        if len(issuers) > 1:
            chosen_issuers = c1.multiselect(
                "Issuers", issuers, key=key("issuers"), placeholder="All companies",
                persist_state="session", help="As read from each document's content.")
        if len(periods) > 1:
            chosen_periods = c2.multiselect(
                "Fiscal periods", periods, key=key("periods"), placeholder="All periods",
                persist_state="session", help="As read from each document's content.")
        chosen_speakers: list[str] = []
        if speakers:
            chosen_speakers = c1.multiselect(
                "Speakers", speakers, key=key("speakers"), placeholder="Anyone",
                persist_state="session", help="Passages of transcripts where one of these people speaks.")
        date_from = date_to = None
        if dated:
            d1, d2 = c2.columns(2)
            date_from = d1.date_input("Rows dated from", value=None, key=key("from"),
                                      persist_state="session",
                                      help="Only table rows with a date in this range.")
            date_to = d2.date_input("to", value=None, key=key("to"), persist_state="session")
    picked = [i for i in doc_ids if i in by_id]
    if chosen_issuers or chosen_periods:
        fits = [i for i, f in facts.items()
                if (not chosen_issuers or f.issuer in chosen_issuers)
                and (not chosen_periods or f.period in chosen_periods)]
        picked = [i for i in picked if i in fits] if picked else fits
        if not picked:
            st.warning("No document matches these issuers and periods: searching all of them.",
                       icon=":material/filter_alt_off:")
    filt = build_filter(picked, chosen_kinds, chosen_speakers, date_from, date_to)
    if not filt.is_empty():
        st.caption("Searching only " + md("; ".join(filt.describe(
            {i: d.name for i, d in by_id.items()}))))
    return filt


def _period_order(p: str) -> tuple[int, int]:
    m = re.match(r"(?:Q(\d) )?FY(\d{4})", p)
    return (int(m.group(2)), int(m.group(1) or 5)) if m else (0, 0)


def _options(ws_name: str, turns: list[Turn], cfg: ModelConfig,
             kept: conversations.Kept | None = None) -> ModelConfig | None:
    """Compare toggle, download and clear; returns the second model's config in compare mode."""
    c1, c2 = st.columns(2, vertical_alignment="center")
    compare = c1.toggle("Compare two models", key=COMPARE_KEY, persist_state="session",
                        help="Send each question to a second model too (chosen in Settings) "
                             "and show both answers side by side.")
    if turns:
        slug = file_slug(ws_name)
        with c2.container(horizontal=True, horizontal_alignment="right"):
            st.download_button("Download conversation", conversation_markdown(ws_name, turns),
                               file_name=f"{slug}-conversation.md", mime="text/markdown",
                               icon=":material/download:", on_click=auth.exported,
                               args=("answers", f"{slug}-conversation.md"), key="ask_download")
            st.button("Clear chat", key="ask_clear", icon=":material/delete_sweep:",
                      on_click=_clear, args=(ws_name, kept))
    if not compare:
        return None
    second = chat_models.model_config(chat_models.COMPARE)
    if second == cfg:
        st.warning("The second model is the same as the first: choose another one under "
                   "“Second model” in Settings.", icon=":material/compare_arrows:")
        return None
    st.caption(f"Comparing **{md(cfg.label)}** with **{md(second.label)}**")
    return second


# -- asking -------------------------------------------------------------------------------------


def _answer_new(svc: Services, ws: Workspace, question: str, history: list[tuple[str, str]],
                filt: SearchFilter, focus: bool, cfg: ModelConfig,
                compare_cfg: ModelConfig | None) -> Turn:
    """Ask (streaming the answer into the page), then the second model if comparing."""
    turn = Turn(question, model_label=cfg.label)
    with st.chat_message("user"):
        st.markdown(md_block(question))
    with st.chat_message("assistant"):
        left, right = st.columns(2, gap="medium") if compare_cfg else (st.container(), None)
        with left:
            if compare_cfg:
                st.caption(f"**{md(cfg.label)}**")
            turn.answer, turn.error = _stream(svc, ws, cfg, question, history, filt, focus)
        if right is not None and compare_cfg is not None:
            turn.compare_label = compare_cfg.label
            with right:
                st.caption(f"**{md(compare_cfg.label)}**")
                turn.compare, turn.compare_error = _ask_once(svc, ws, compare_cfg, question,
                                                             history, filt, focus)
    return turn


def _failure(exc: BaseException) -> str:
    if isinstance(exc, RagError):
        return str(exc)
    return f"the model failed ({type(exc).__name__}: {str(exc)[:200]})"


def _stream(svc: Services, ws: Workspace, cfg: ModelConfig, question: str,
            history: list[tuple[str, str]], filt: SearchFilter,
            focus: bool) -> tuple[Answer | None, str | None]:
    final: list[Answer] = []
    themed = _from_themes(svc, ws, question)
    if themed is not None:  # an aggregate question about feedback: the theme analysis answers
        st.markdown(md_block(themed.text))
        return themed, None
    try:
        state.ensure_model(svc)
        model = chat_models.load_model(svc, cfg)
        parts = svc.answerer(ws, model, k=K).stream(question, history, filter=filt, focus=focus)
        t0 = time.perf_counter()
        with st.spinner("Searching the documents…"):
            first = next(parts, None)  # the evidence: retrieval only, before the model starts
        if isinstance(first, Evidence):
            _show_evidence(first)
            status = st.empty()
            status.caption("Writing the answer from these passages…")
            with st.spinner("Reading the passages (the model starts writing in a moment)…"):
                first = next(parts, None)  # the prompt's evaluation takes most of the wait
        else:
            status = st.empty()
        shown = [0.0]

        def pieces() -> Iterator[str]:
            for part in itertools.chain([first], parts):
                if isinstance(part, Answer):
                    final.append(part)
                elif isinstance(part, Progress):
                    status.caption(md(part.message))
                elif isinstance(part, str) and part:
                    now = time.perf_counter() - t0
                    if now - shown[0] >= 1.0:  # an honest clock while the words come in
                        status.caption(f"Writing… {now:.0f} s")
                        shown[0] = now
                    # Model output is escaped like document text: it may echo a document.
                    yield md(part).replace("\n", "  \n")

        st.write_stream(pieces())
        status.empty()
    except Exception as exc:  # noqa: BLE001 - RagError/ProviderError, or a client's own error
        st.error(md(_failure(exc)), icon=":material/error:")
        return None, _failure(exc)
    if not final:
        return None, "the model stopped without an answer"
    return final[0], None


def theme_answer(question: str, ta: ThemeAnswer) -> Answer:
    """A theme analysis' answer as the page keeps answers: its sizes and shares with the
    formula of each computed figure, and the comments quoted with their row numbers."""
    parts = [ta.text.replace("**", "")]  # names come from comments: shown escaped, plain
    if ta.figures:
        parts.append("How the figures were computed:\n" + "\n".join(f"- {f}" for f in ta.figures))
    if ta.quotes:
        parts.append("Comments quoted:\n" + "\n".join(
            f"- row {q.row} ({q.theme}): “{q.text}”" if q.row is not None
            else f"- ({q.theme}): “{q.text}”" for q in ta.quotes))
    return Answer(question=question, rewritten=question, text="\n\n".join(parts),
                  citations=[], abstained=False, hits=[], model="theme analysis",
                  flags=[f"answered from the {ta.source}"] if ta.source else [])


def _from_themes(svc: Services, ws: Workspace, question: str) -> Answer | None:
    try:
        ta = answer_from_themes(question, svc.analysis_store(), ws)
    except Exception:  # noqa: BLE001 - a broken analysis never blocks the question
        return None
    return theme_answer(question, ta) if ta is not None else None


def _show_evidence(ev: Evidence) -> None:
    """The passages found, shown while the answer is written: document, place, a short
    quote (the full passages and citations follow with the answer)."""
    if not ev.hits:
        return
    docs = list(dict.fromkeys(h.chunk.doc_name for h in ev.hits))
    label = (f"Found {count(len(ev.hits), 'passages')} in {count(len(docs), 'documents')} "
             f"({ev.seconds:.1f} s)")
    with st.expander(label, icon=":material/find_in_page:"):
        for i, h in enumerate(ev.hits, 1):
            text = " ".join(h.chunk.text.split())
            st.markdown(f"{i}. **{md(h.chunk.doc_name)}**, {md(h.chunk.location())}: "
                        f"{md(shorten(text, 220))}")


def _ask_once(svc: Services, ws: Workspace, cfg: ModelConfig, question: str,
              history: list[tuple[str, str]], filt: SearchFilter,
              focus: bool) -> tuple[Answer | None, str | None]:
    try:
        model = chat_models.load_model(svc, cfg)
        with st.spinner("Asking the second model…"):
            return svc.answerer(ws, model, k=K).ask(question, history, filter=filt,
                                                    focus=focus), None
    except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback
        st.error(md(_failure(exc)), icon=":material/error:")
        return None, _failure(exc)


# -- showing a turn -----------------------------------------------------------------------------


def _render_turn(ws: Workspace, names: dict[str, str], turn: Turn, latest: bool,
                 number: int = 1) -> None:
    with st.chat_message("user"):
        st.markdown(md_block(turn.question))
    with st.chat_message("assistant"):
        if not turn.compared:
            _render_answer(ws, names, turn, "a", turn.answer, turn.error, latest, number)
            return
        left, right = st.columns(2, gap="medium")
        with left:
            st.caption(f"**{md(turn.model_label)}**")
            _render_answer(ws, names, turn, "a", turn.answer, turn.error, latest, number)
        with right:
            st.caption(f"**{md(turn.compare_label)}**")
            _render_answer(ws, names, turn, "b", turn.compare, turn.compare_error, False,
                           number)


def _render_answer(ws: Workspace, names: dict[str, str], turn: Turn, side: str,
                   answer: Answer | None, error: str | None, latest: bool,
                   number: int = 1) -> None:
    if answer is None:
        st.error(md(error or "no answer"), icon=":material/error:")
        return
    if answer.model == "theme analysis":  # see theme_answer: figures with formulas, rows quoted
        st.markdown(md_block(answer.text))
        for f in answer.flags:
            st.caption(md(f[:1].upper() + f[1:]) + " (open Feedback themes to see every comment)")
        return
    if answer.rewritten.strip() != answer.question.strip():
        st.caption(f"Read as: {md(answer.rewritten)}")
        if latest and side == "a":
            with st.popover("Not what you meant? Edit the question", icon=":material/edit:"):
                st.text_input("Ask instead", value=answer.rewritten,
                              key=f"ask_edit_{turn.id}", max_chars=2000)
                st.button("Ask this", key=f"ask_edit_go_{turn.id}", on_click=_queue_question,
                          args=(ws.name, f"ask_edit_{turn.id}"))
    if answer.focused:
        focus_names = ", ".join(names.get(d, d) for d in answer.filter.doc_ids)
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.caption(f":material/center_focus_strong: Focused on: **{md(focus_names)}**")
        if latest:
            c2.button("Search all documents instead", key=f"ask_unfocus_{turn.id}",
                      on_click=_ask_unfocused, args=(ws.name, turn.id), type="tertiary",
                      icon=":material/travel_explore:")
    if answer.abstained and not answer.citations:
        if answer.computation:  # a computation that could not be done: it says what is missing
            st.info(md(answer.text), icon=":material/help:")
            _render_computation(answer)
        elif answer.text.startswith("The documents do not say"):
            st.info(md(answer.text), icon=":material/help:")
        else:  # the model answered, but no sentence could be tied to a passage
            st.warning("None of this answer could be tied to a passage: the documents may "
                       "not say this.", icon=":material/warning:")
            st.markdown(md_block(answer.text))
        _render_removed(answer)
        if answer.hits:
            st.markdown("**Closest passages**")
            for i, hit in enumerate(answer.hits[:CLOSEST], 1):
                render_hit(i, hit)
    else:
        headings = {c.n: source_heading(c.n, number, side == "b") for c in answer.citations}
        st.markdown(answer_markdown(answer.text, {n: h[1] for n, h in headings.items()}))
        if answer.computation:
            _render_computation(answer)
        _render_removed(answer)
        st.markdown("**Sources**")
        source_styles()
        for c in answer.citations:
            _render_citation(ws, f"{turn.id}_{side}", c, *headings[c.n])
    _how(answer, names)


def _render_removed(answer: Answer) -> None:
    """Sentences the claim check removed: said once under the answer, listed in full in
    'How this answer was made'."""
    removed = getattr(answer, "rejected", None) or []
    if removed:
        n = len(removed)
        st.warning(f"{count(n, 'sentences')} of the model's answer {'was' if n == 1 else 'were'} "
                   "removed: the cited passages do not say "
                   f"{'it' if n == 1 else 'them'} ({md(removed[0]['reason'])}"
                   f"{'; ...' if n > 1 else ''}).", icon=":material/content_cut:")


def _render_computation(answer: Answer) -> None:
    """The formula and the figures behind a computed answer, each with its citation number."""
    comp = answer.computation or {}
    with st.container(border=True):
        st.markdown("**Computed from the documents**")
        head = comp.get("metric") or ""
        if comp.get("definition"):
            head += f" = {comp['definition']}"
        if head:
            st.caption(md(head[:1].upper() + head[1:]))
        for part in computation_parts(comp):
            if part.get("formula"):
                label = " · ".join(x for x in (part.get("metric"), part.get("period")) if x)
                st.caption(md(label))
                st.code(part["formula"], language=None, wrap_lines=True)
        if comp.get("judgement"):
            st.markdown(md(comp["judgement"]))
        rows = operand_rows(comp, answer.citations)
        if rows:
            df = pd.DataFrame(rows, columns=["cited as", "figure", "period", "value", "unit",
                                             "document", "page", "row label"])
            st.dataframe(blanks(df), hide_index=True,
                         column_config={"value": st.column_config.TextColumn(
                             "value", help="As printed in the document")})
        missing = computation_missing(comp)
        if missing:
            st.warning("Not found in the documents' tables: " + md("; ".join(missing)),
                       icon=":material/search_off:")


def _render_citation(ws: Workspace, key: str, c: Citation, heading: str = "",
                     anchor: str = "") -> None:
    """A source: its heading (what the answer's marker scrolls to), document and place, a
    short quote with the cited span marked, and the whole passage, shown when the answer's
    marker is clicked (the card is the link's target); its neighbours on demand."""
    with st.container(border=True, key=f"{SOURCE_CARD}{anchor}" if anchor else None):
        if heading:
            st.markdown(f"###### {heading}")
        st.markdown(f":blue-badge[{c.n}] **{md(c.chunk.doc_name)}** · {md(where(c.chunk))}")
        flag = citation_flag(c)
        if flag:
            st.warning(md(flag), icon=":material/warning:")
        if c.inferred:
            st.caption("The model gave no marker for this sentence: the checker matched it to "
                       "this passage.")
        if c.chunk.kind == "figure":
            st.caption("The printed line this figure was read from.")
        st.markdown(excerpt(c.chunk.text, c.quote))
        if anchor:  # hidden until the marker [n] is clicked: then the passage opens in full
            with st.container(key=f"{SOURCE_FULL}{anchor}"):
                st.caption("The whole passage, the cited words marked:")
                st.markdown(highlight(c.chunk.text, c.quote))
        exp = st.expander("Open in the document", key=f"ask_ctx_{key}_{c.n}",
                          on_change="rerun", icon=":material/article:")
        with exp:
            if exp.open:
                _context(ws, key, c)


def _context(ws: Workspace, key: str, c: Citation) -> None:
    """The cited passage among its neighbours, and a way to the whole document."""
    try:
        chunks = ws.chunks_of(c.chunk.doc_id)
    except RagError as err:
        show_error(err)
        return
    anchor = anchor_of(chunks, c.chunk, c.quote)
    around = neighbours(chunks, anchor) if anchor is not None else []
    if not around:
        st.caption("This passage is no longer in the workspace: its document was replaced "
                   "or deleted.")
        return
    for ch in around:
        st.markdown(f"**{md(where(ch))}**")
        if anchor is not None and ch.id == anchor.id:
            with st.container(border=True):
                st.markdown(highlight(ch.text, c.quote))
        else:
            st.markdown(md_block(ch.text))
    if st.button("Read the whole document in the Library", key=f"ask_lib_{key}_{c.n}",
                 icon=":material/library_books:"):
        st.session_state[navigation.OPEN_DOC_KEY] = c.chunk.doc_id
        st.switch_page(_page("library"))


def _how(answer: Answer, names: dict[str, str]) -> None:
    with st.expander("How this answer was made", icon=":material/manage_search:"):
        if answer.hits:
            st.dataframe(
                passages_frame(answer), hide_index=True,
                column_config={
                    "dense score": st.column_config.NumberColumn(format="%.3f",
                                                                 help="Cosine similarity"),
                    "lexical score": st.column_config.NumberColumn(format="%.2f",
                                                                   help="BM25"),
                    "fused": st.column_config.NumberColumn(format="%.4f",
                                                           help="Reciprocal-rank fusion"),
                },
            )
        else:
            st.caption("No passage was retrieved.")
        timing = f"{answer.seconds:.1f} s in all"
        if answer.first_token_s is not None:
            timing = f"first token after {answer.first_token_s:.1f} s, " + timing
        else:
            timing += " (the model was not asked: no passage was relevant enough)"
        facts = [
            ("Question", answer.question),
            ("Searched for", answer.rewritten),
            ("Filters", "; ".join(filter_lines(answer, names))),
            ("Model", answer.model),
            ("Time", timing),
        ]
        st.markdown("  \n".join(f"**{md(k)}:** {md(v)}" for k, v in facts))
        if answer.flags:
            st.markdown("**Citation checks**  \n" + "  \n".join(f"· {md(flag_for_people(f))}"
                                                                for f in answer.flags))
        removed = getattr(answer, "rejected", None) or []
        if removed:
            st.markdown("**Removed by the claim check**  \n" + "  \n".join(
                f"· ~~{md(r['sentence'])}~~ ({md(r['reason'])})" for r in removed))
        elif answer.citations:
            st.caption("Citation checks: every cited sentence is supported by its passage.")
