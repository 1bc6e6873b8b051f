"""The answer prompt's shape for speed: the fixed part first and identical across questions, and
the compact prompt's fewer, shorter passages keeping the figures and citations right.

Fast unit tests with a scripted model; the real model's prefix reuse is checked in
tests/test_llm_prefix.py.
"""

from __future__ import annotations

from fakes import ScriptedChat

from rag.answer import Answer, Answerer, Evidence, _Renumbered, build_prompt
from rag.context import FOCUS_CHARS, NARROW_CHARS, NARROW_PASSAGES, is_narrow, select
from rag.llm.prompts import ANSWER_SYSTEM
from rag.retrieve import SearchFilter, SearchResult
from rag.types import Chunk, Hit

FILLER = ("The Company's operations are subject to various risks described elsewhere in this "
          "report, including competition, regulation and changes in customer demand. ")


def hit(text: str, page: int, doc: str = "ACME_2024_10K") -> Hit:
    c = Chunk(id=f"{doc}-{page}", doc_id=doc, doc_name=doc, ordinal=page, text=text,
              kind="pdf", page=page)
    return Hit(c, 0.5, {"dense": 0.5})


CAPEX = hit(FILLER * 3 + "\nCash flows from investing activities\n(Millions) 2024 2023\n"
            "Purchases of property, plant and equipment (PP&E) (1,577) (1,373)\n"
            "Proceeds from sale of PP&E 262 158\n" + FILLER * 2, page=60)
HITS = [
    hit(FILLER * 4 + "Research and development expenses were $1,821 million in 2024.", page=12),
    hit("The board declared a quarterly dividend of $0.52 per share. " + FILLER * 3, page=33),
    CAPEX,
    hit(FILLER * 5, page=80),
    hit("Employees: the Company had about 92,000 employees. " + FILLER * 3, page=7),
]
NARROW = "What was ACME's capital expenditure (purchases of PP&E) in 2024?"
BROAD = "What drove the change in ACME's operating margin in 2024?"


class _Retr:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits

    def retrieve(self, query, k=5, filter=None, focus=True):
        return SearchResult(self.hits[:k], filter or SearchFilter())


def test_fixed_prefix_is_first_and_identical_across_questions():
    a = build_prompt(NARROW, HITS, "compact").messages
    b = build_prompt("How many employees did ACME have?", HITS[::-1], "compact").messages
    c = build_prompt(BROAD, HITS[:2], "full").messages
    assert a[0].role == b[0].role == c[0].role == "system"
    assert a[0].content == b[0].content == c[0].content == ANSWER_SYSTEM
    # nothing of the question or the documents in the fixed part; the question comes last
    assert "ACME" not in ANSWER_SYSTEM and "capital" not in ANSWER_SYSTEM
    for msgs, q in ((a, NARROW), (c, BROAD)):
        user = msgs[1].content
        assert user.startswith("Passages:\n<<<passage 1>>> from ")
        assert user.rstrip().endswith("Answer with citations:") and q in user.split("<<<end>>>")[-1]


def test_narrow_question_sees_fewer_shorter_passages_with_the_evidence():
    assert is_narrow(NARROW) and not is_narrow(BROAD)
    assert not is_narrow("Why did revenue fall, and what is the outlook?")
    full = build_prompt(NARROW, HITS, "full")
    compact = build_prompt(NARROW, HITS, "compact")
    assert full.shown == [0, 1, 2, 3, 4]
    assert 0 in compact.shown and 2 in compact.shown and len(compact.shown) <= NARROW_PASSAGES
    assert 3 not in compact.shown  # filler bears on nothing asked
    assert len(compact.messages[1].content) < 0.6 * len(full.messages[1].content)
    # the capex row and its header of years survive the cut, figures verbatim and labelled
    shown_capex = compact.messages[1].content.split(
        f"<<<passage {compact.shown.index(2) + 1}>>>")[1].split("<<<end>>>")[0]
    assert "(1,577)" in shown_capex and "2024" in shown_capex
    body = shown_capex.split(":\n", 1)[1]
    assert len(body) <= NARROW_CHARS + 120  # labels and gap marks on top of the budget


def test_broad_question_keeps_every_passage_at_full_focus():
    texts = [h.chunk.text for h in HITS]
    assert select(BROAD, texts, {"margin": 1.0}) == [(i, FOCUS_CHARS) for i in range(5)]
    assert build_prompt(BROAD, HITS, "compact").messages == build_prompt(BROAD, HITS,
                                                                          "full").messages


def test_citation_of_a_compact_prompt_points_at_the_right_chunk_and_passes():
    compact = build_prompt(NARROW, HITS, "compact")
    n = compact.shown.index(2) + 1  # the capex passage's number in the prompt
    assert n != 3  # renumbered: the prompt is contiguous, the evidence keeps its ranks
    reply = f"ACME's purchases of PP&E were $1,577 million in 2024 [{n}]."
    chat = ScriptedChat(reply, chunk=3)  # markers split across streamed pieces
    parts = list(Answerer(_Retr(HITS), chat, prompt="compact").stream(NARROW))
    assert isinstance(parts[0], Evidence) and len(parts[0].hits) == 5  # all evidence shown
    streamed = "".join(p for p in parts if isinstance(p, str))
    assert "[3]" in streamed and f"[{n}]" not in streamed  # the evidence's numbering at once
    ans = parts[-1]
    assert isinstance(ans, Answer) and not ans.abstained and not ans.rejected
    assert [c.chunk.page for c in ans.citations] == [60] and ans.citations[0].ok
    assert "(1,577)" in ans.citations[0].quote  # the claim check saw the cited span
    assert "1,577" in ans.text and ans.raw.endswith("[3].")
    assert chat.sent[0][1].content == compact.messages[1].content


def test_marker_naming_no_prompt_passage_is_dropped():
    compact = build_prompt(NARROW, HITS, "compact")
    reply = f"ACME's purchases of PP&E were $1,577 million in 2024 [{len(compact.shown) + 1}]."
    ans = Answerer(_Retr(HITS), ScriptedChat(reply), prompt="compact").ask(NARROW)
    assert any("points to no passage" in f for f in ans.flags)


def test_renumbering_holds_a_split_marker_until_it_closes():
    p = build_prompt(NARROW, HITS, "compact")
    r = _Renumbered(p)
    n = p.shown.index(2) + 1
    out = r.feed("Capex was 1,577 [") + r.feed(str(n)) + r.feed("] and ") + r.flush()
    assert out == "Capex was 1,577 [3] and "
    r1 = _Renumbered(p)
    assert r1.feed("a [ b") == "a " and r1.flush() == "[ b"  # not a marker: given back whole
    r2 = _Renumbered(p)
    assert r2.feed("ends with [") == "ends with " and r2.flush() == "["


def test_unknown_prompt_mode_is_refused():
    import pytest

    with pytest.raises(ValueError, match="compact"):
        Answerer(_Retr(HITS), ScriptedChat(""), prompt="tiny")
