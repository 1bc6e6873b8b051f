"""What the model is shown of a passage: focused, figures labelled, nothing altered."""

from __future__ import annotations

import re

from rag.answer import numbers_in
from rag.context import FOCUS_CHARS, GAP, focus, label_rows, segments, term_weights

PROSE = ("3M is increasing its investment in manufacturing and sourcing capability in order to\n"
         "more closely align its product capability with its sales in major geographic areas.\n"
         "Capital spending is discussed later.\n")


def test_wrapped_prose_lines_join_and_table_rows_stay_apart():
    segs = segments(PROSE + "(Millions) 2018 2017\nNet sales $ 32,765 $ 31,657\nCost of sales 16,682 16,055")
    assert segs[0].startswith("3M is increasing") and segs[0].endswith("geographic areas.")
    assert segs[-2:] == ["Net sales $ 32,765 $ 31,657", "Cost of sales 16,682 16,055"]


def test_rows_are_labelled_with_their_column_years():
    text = ("Years ended December 31\n(Millions) 2018 2017 2016\n"
            "Net income $ 5,363 $ 4,869 $ 5,058\nInventories (509) (387) 57\n"
            "Three columns but two figures 12 13\nNo figures here")
    out = label_rows(text).split("\n")
    assert out[2] == "Net income: 2018: $5,363; 2017: $4,869; 2016: $5,058"
    assert out[3] == "Inventories: 2018: (509); 2017: (387); 2016: 57"
    assert out[4] == "Three columns but two figures 12 13"  # a mismatch is left as printed
    assert out[:2] == text.split("\n")[:2] and out[5] == "No figures here"


def test_text_without_a_year_header_is_unchanged():
    text = "Revenue 412.6 380.1\nGross margin 41.3% 40.1%"
    assert label_rows(text) == text


def test_focus_keeps_relevant_rows_and_header_and_marks_gaps():
    rows = "".join(f"Unrelated line item {i} {i}0 {i}1\n" for i in range(30))
    text = "(Millions) 2018 2017\n" + rows + "Purchases of property, plant and equipment (1,577) (1,373)\n"
    w = term_weights("What were purchases of property, plant and equipment?", [text])
    out = focus(text, w)
    assert len(out) < len(text) and len(out) <= FOCUS_CHARS + 200
    lines = out.split("\n")
    assert lines[0] == "(Millions) 2018 2017" and GAP in lines
    assert "Purchases of property, plant and equipment (1,577) (1,373)" in lines
    # Every figure shown is in the passage as printed: focusing never invents or alters one.
    assert numbers_in(out) <= numbers_in(text)
    for seg in lines:
        assert seg == GAP or seg in text or all(part in text for part in seg.split(" "))


def test_short_passage_or_no_overlap_is_kept_whole_or_cut_plainly():
    assert focus(PROSE, term_weights("capital spending", [PROSE])) == PROSE
    long = "Lorem ipsum dolor sit amet. " * 60
    out = focus(long, term_weights("capital expenditure", [long]))
    assert out.endswith(GAP) and len(out) <= FOCUS_CHARS + 2 and long.startswith(out[:-2])


def test_rare_question_words_weigh_more():
    texts = ["Revenue grew\nRevenue fell\nRevenue held\nDividend declared"]
    w = term_weights("revenue dividend", texts)
    assert w["dividend"] > w["revenue"] > 0
    assert re.fullmatch(r"[a-z]+", next(iter(w)))
