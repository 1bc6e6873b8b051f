"""Loaders: each format keeps its own structure (pages, headings, turns, rows)."""

from __future__ import annotations

import datetime as dt
import io

import badfiles
import pytest
from conftest import DEMO_DIR

from rag.errors import BadFile, FileTooLarge, UnsupportedFile
from rag.ingest.loaders import (
    LoadOptions,
    doc_name_of,
    guess_text_column,
    load,
    parse_speaker_turns,
    read_table_preview,
    safe_filename,
)

# ---------------------------------------------------------------------------------------------
# PDF


def test_pdf_pages_are_one_based_and_keep_their_numbers(settings):
    pages = [
        "Alpha page talks about revenue growth in the first quarter.",
        "Beta page talks about customer churn and retention figures.",
        "",  # a blank page: skipped, but the pages after it keep their real numbers
        "Delta page talks about the outlook and the hiring plan.",
    ]
    doc = load(badfiles.text_pdf(pages), "report.pdf", settings)
    assert doc.kind == "pdf"
    assert doc.name == "report"
    assert doc.meta["pages"] == 4
    assert doc.meta["pages_without_text"] == 1
    assert [u.page for u in doc.units] == [1, 2, 4]
    assert "Alpha" in doc.units[0].text and "Beta" in doc.units[1].text
    assert "Delta" in doc.units[2].text


def test_pdf_with_empty_password_is_read(settings):
    name, data = badfiles.empty_password_pdf()
    doc = load(data, name, settings)
    assert [u.page for u in doc.units] == [1, 2, 3]
    assert "Churn fell" in doc.units[1].text


# ---------------------------------------------------------------------------------------------
# text and markdown


def test_plain_text_is_one_section(settings):
    doc = load(b"Just a note.\n\nWith two paragraphs about pricing.", "note.txt", settings)
    assert doc.kind == "text"
    assert len(doc.units) == 1
    assert "two paragraphs" in doc.units[0].text
    assert doc.units[0].page is None and doc.units[0].heading is None


def test_markdown_headings_become_section_paths(settings):
    md = (
        b"# Plan\n\nIntro text.\n\n## Budget\n\nFive million.\n\n"
        b"```\n# not a heading, inside a code fence\n```\n\n"
        b"## Risks\n\nLidar supply.\n\n# Appendix\n\nNotes."
    )
    doc = load(md, "plan.md", settings)
    assert doc.kind == "markdown"
    assert [u.heading for u in doc.units] == ["Plan", "Plan > Budget", "Plan > Risks", "Appendix"]
    assert "# not a heading" in doc.units[1].text  # fenced code stays in its section
    assert "Lidar supply." in doc.units[2].text


def test_markdown_with_utf8_bom(settings):
    name, data = badfiles.utf8_bom_md()
    doc = load(data, name, settings)
    assert doc.units[0].heading == "Title"  # the BOM did not hide the heading
    assert not doc.units[0].text.startswith("\ufeff")


# ---------------------------------------------------------------------------------------------
# DOCX


def _docx_bytes() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Annual Plan", level=1)
    d.add_paragraph("This plan covers the fiscal year.")
    d.add_heading("Budget", level=2)
    d.add_paragraph("The budget is five million euros.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Cost"
    table.cell(1, 0).text, table.cell(1, 1).text = "Robots", "3.1M"
    d.add_heading("Risks", level=1)
    d.add_paragraph("Supply of lidar sensors is tight.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_keeps_headings_and_tables(settings):
    doc = load(_docx_bytes(), "plan.docx", settings)
    assert doc.kind == "docx"
    assert [u.heading for u in doc.units] == ["Annual Plan", "Annual Plan > Budget", "Risks"]
    budget = doc.units[1].text
    assert "five million euros" in budget
    assert "Item | Cost" in budget and "Robots | 3.1M" in budget
    assert "lidar" in doc.units[2].text


# ---------------------------------------------------------------------------------------------
# transcripts


VTT = b"""WEBVTT

NOTE a comment block, not a cue

1
00:00:01.000 --> 00:00:04.000
<v Alice Martin>Welcome everyone to the pricing review.

2
00:00:04.500 --> 00:00:07.250
<v Alice Martin>First item is Europe.

00:00:08.000 --> 00:00:12.000
<v Bob Stone>Thanks. Prices go up five percent in March.
"""

SRT = b"""1
00:00:01,000 --> 00:00:04,000
Alice: Hello everyone, welcome.

2
00:00:04,500 --> 00:00:08,000
Alice: Today we talk about pricing.

3
00:01:08,500 --> 00:01:12,000
Bob: Thanks Alice. Prices go up 5%.
"""


def test_vtt_voice_tags_become_turns_with_timestamps(settings):
    doc = load(VTT, "meeting.vtt", settings)
    assert doc.kind == "transcript"
    assert [(u.speaker, u.start, u.end, u.turn) for u in doc.units] == [
        ("Alice Martin", "00:00:01.000", "00:00:07.250", 1),  # two cues, one turn
        ("Bob Stone", "00:00:08.000", "00:00:12.000", 2),
    ]
    assert doc.units[0].text == "Welcome everyone to the pricing review. First item is Europe."
    assert "<v" not in doc.units[1].text
    assert doc.meta["speakers"] == ["Alice Martin", "Bob Stone"]


def test_srt_speaker_prefixes_become_turns(settings):
    doc = load(SRT, "call.srt", settings)
    assert doc.kind == "transcript"
    assert [(u.speaker, u.start, u.end) for u in doc.units] == [
        ("Alice", "00:00:01.000", "00:00:08.000"),
        ("Bob", "00:01:08.500", "00:01:12.000"),
    ]
    assert doc.units[1].text == "Thanks Alice. Prices go up 5%."


def test_vtt_without_header_is_refused(settings):
    with pytest.raises(BadFile, match="WEBVTT"):
        load(SRT.replace(b",", b"."), "x.vtt", settings)


def test_speaker_lines_text_becomes_transcript(settings):
    txt = (
        b"Quarterly call, fictional\n"
        b"[00:00:05] Alice: Welcome to the call.\n"
        b"Bob (00:00:10): Thanks. Revenue grew nine percent.\n"
        b"and margins held up.\n"
        b"Alice: Great news about revenue.\n"
        b"Bob: And the outlook is raised.\n"
    )
    doc = load(txt, "call.txt", settings)
    assert doc.kind == "transcript"
    turns = [(u.speaker, u.start, u.turn) for u in doc.units]
    assert turns == [
        (None, None, 1),  # the title line before the first speaker
        ("Alice", "00:00:05", 2),
        ("Bob", "00:00:10", 3),
        ("Alice", None, 4),
        ("Bob", None, 5),
    ]
    assert doc.units[2].text == "Thanks. Revenue grew nine percent.\nand margins held up."


def test_prose_with_labels_is_not_a_transcript():
    text = (
        "Note: the budget is final.\nThe team met on Monday to discuss it.\n"
        "Summary: all good.\nWe will meet again.\nAction: send the minutes.\n"
    )
    assert parse_speaker_turns(text) is None


# ---------------------------------------------------------------------------------------------
# tables


def test_csv_one_unit_a_row_text_column_guessed_others_metadata(settings):
    data = (
        b"id,date,rating,region,comment\n"
        b"1,2026-01-05,4,Europe,\"Fast answers from support, thanks.\"\n"
        b"2,2026-01-06,2,APAC,\"Robots were down for 14 hours before anyone called back.\"\n"
        b"3,2026-01-07,5,Europe,\n"
        b"4,2026-01-08,3,North America,\"Dashboard is fine, exports are slow.\"\n"
    )
    doc = load(data, "feedback.csv", settings)
    assert doc.kind == "table"
    assert doc.meta["text_column"] == "comment"
    assert doc.meta["date_column"] == "date"
    assert doc.meta["rows"] == 4 and doc.meta["rows_with_text"] == 3 and doc.meta["empty_rows"] == 1
    assert [u.row for u in doc.units] == [1, 2, 4]  # 1-based data rows; the empty one skipped
    first = doc.units[0]
    assert first.text == "Fast answers from support, thanks."
    assert first.meta == {"c_id": 1, "c_date": "2026-01-05", "c_rating": 4, "c_region": "Europe",
                          "date": "2026-01-05"}  # the row's date, ISO, for date filters


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["05/01/2024", "17/01/2024"], ["2024-01-05", "2024-01-17"]),  # day first (Europe)
        (["05/01/2024", "01/17/2024"], ["2024-05-01", "2024-01-17"]),  # month first (US)
        (["05/01/2024", "06/02/2024"], ["2024-05-01", "2024-06-02"]),  # ambiguous: US order
        (["2024-01-05", "not a date"], ["2024-01-05", None]),
    ],
)
def test_row_dates_read_one_way_per_column(settings, dates, expected):
    rows = "".join(f"{d},Comment number {i} about the support team\n" for i, d in enumerate(dates))
    doc = load(("date,comment\n" + rows).encode(), "d.csv", settings)
    assert [u.meta.get("date") for u in doc.units] == expected


def test_chosen_columns_must_exist(settings):
    data = b"when,comment\n2024-01-05,Comment about the support team\n"
    with pytest.raises(BadFile, match="column 'nope' not found; columns are: when, comment"):
        load(data, "d.csv", settings, LoadOptions(date_column="nope"))
    doc = load(data, "d.csv", settings, LoadOptions(date_column="when"))
    assert doc.units[0].meta["date"] == "2024-01-05"


def test_csv_text_column_can_be_chosen(settings):
    data = b"title,body\nShort,A much longer body of text that would otherwise win\nOther,More\n"
    doc = load(data, "t.csv", settings, LoadOptions(text_column="title"))
    assert [u.text for u in doc.units] == ["Short", "Other"]
    with pytest.raises(BadFile, match="not found"):
        load(data, "t.csv", settings, LoadOptions(text_column="nope"))


def test_guess_text_column_prefers_long_free_text_over_categories():
    header = ["product", "channel", "score", "comment"]
    rows = [["Atlas", "email", "4", f"The robot number {i} was late but support helped us out"]
            for i in range(20)]
    assert guess_text_column(header, rows) == "comment"
    assert guess_text_column(["a", "b"], [["1", "2.5"], ["3", "4"]]) is None


def _xlsx_bytes() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Feedback"
    ws.append(["id", "submitted", "rating", "region", "feedback"])
    ws.append([1, dt.date(2026, 1, 5), 4, "Europe", "Great robots, fast support and clear docs."])
    ws.append([2, dt.datetime(2026, 1, 6, 9, 30), 2, "APAC", "Waited four days for an answer."])
    ws.append([3, dt.date(2026, 1, 7), 5, None, "Dashboard is excellent, we use it every day."])
    wb.create_sheet("Empty")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_rows_with_typed_metadata(settings):
    doc = load(_xlsx_bytes(), "feedback.xlsx", settings)
    assert doc.kind == "table"
    assert doc.meta["text_column"] == "feedback"
    assert doc.meta["date_column"] == "submitted"
    assert doc.meta["sheets"] == ["Feedback", "Empty"]
    assert [u.row for u in doc.units] == [1, 2, 3]
    assert doc.units[0].meta == {"c_id": 1, "c_submitted": "2026-01-05", "c_rating": 4,
                                 "c_region": "Europe", "date": "2026-01-05"}
    assert doc.units[1].meta["c_submitted"] == "2026-01-06 09:30:00"
    assert doc.units[1].meta["date"] == "2026-01-06"
    assert "c_region" not in doc.units[2].meta  # empty cells are not metadata
    preview = read_table_preview(_xlsx_bytes(), "feedback.xlsx")
    assert preview["columns"][4] == "feedback" and preview["text_column"] == "feedback"


# ---------------------------------------------------------------------------------------------
# demo files and names


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("northwind_q1_2026_earnings_call.txt", "transcript"),
        ("northwind_q2_2026_earnings_call.txt", "transcript"),
        ("product_planning_meeting_2026-09-15.vtt", "transcript"),
        ("customer_feedback_2026.csv", "table"),
        ("README.md", "markdown"),
    ],
)
def test_demo_files_load_as_the_right_kind(settings, filename, kind):
    doc = load((DEMO_DIR / filename).read_bytes(), filename, settings)
    assert doc.kind == kind
    if kind == "transcript":
        speakers = {u.speaker for u in doc.units if u.speaker}
        assert len(speakers) >= 5
        assert "Dana Whitfield" in speakers or "Priya Raman" in speakers
    if filename.endswith(".vtt"):
        assert all(u.start and u.end for u in doc.units)
    if kind == "table":
        assert doc.meta["text_column"] == "comment"
        assert doc.meta["date_column"] == "date"
        assert 350 < len(doc.units) <= 400
        assert {"c_rating", "c_product", "c_region"} <= set(doc.units[0].meta)


def test_unsupported_and_legacy_types_are_refused_clearly(settings):
    with pytest.raises(UnsupportedFile, match="save as PDF"):
        load(b"\xd0\xcf\x11\xe0 old word", "old.doc", settings)
    with pytest.raises(UnsupportedFile, match="unsupported file type '.exe'"):
        load(b"MZ...", "setup.exe", settings)


def test_size_limit_is_checked_before_parsing(settings):
    small = settings.model_copy(update={"max_file_mb": 1})
    with pytest.raises(FileTooLarge, match="1 MB limit"):
        load(b"a" * (1024 * 1024 + 1), "a.pdf", small)  # not even a PDF: never parsed


def test_safe_filename_and_doc_name():
    assert safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert safe_filename("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert safe_filename("bad\x00name\x1f.txt") == "badname.txt"
    assert safe_filename("...") == "untitled"
    assert len(safe_filename("x" * 500 + ".pdf")) <= 180
    assert safe_filename("x" * 500 + ".pdf").endswith(".pdf")
    assert doc_name_of("Q3 report.final.pdf") == "Q3 report.final"
    assert doc_name_of("README") == "README"


def test_identity_is_the_content_not_the_name(settings):
    a = load(b"same words here", "a.txt", settings)
    b = load(b"same words here", "b.txt", settings)
    c = load(b"other words here", "a.txt", settings)
    assert a.content_hash == b.content_hash != c.content_hash
    # Table options change how the file is read, so they are part of a table's identity ...
    csv = b"title,body\nShort,A much longer body of text\nOther,More text here\n"
    t1 = load(csv, "t.csv", settings)
    t2 = load(csv, "t.csv", settings, LoadOptions(text_column="title"))
    assert t1.content_hash != t2.content_hash
    # ... but not of a file they do not apply to.
    d = load(b"same words here", "a.txt", settings, LoadOptions(text_column="title"))
    assert d.content_hash == a.content_hash
