"""Documents that know what they are: issuer, form, period, report date and speakers read from
the content (never the file name), kept with the document, corrected by a user, and used to
focus questions whatever the files are called."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import ectsum_transcript, financebench_questions

from rag.ingest.facts import (
    ensure_facts,
    facts_for,
    facts_of_document,
    read_facts,
    set_user_facts,
)

COVER_10K = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-K
ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the fiscal year ended January 28, 2023
Commission file number 1-9595
GLOBEX CORPORATION
(Exact name of registrant as specified in its charter)
Minnesota 41-0907483
Title of each class Trading Symbol(s) Name of each exchange on which registered
Common Stock, $0.10 par value per share GBX New York Stock Exchange
"""

COVER_10Q = """UNITED STATES SECURITIES AND EXCHANGE COMMISSION
FORM 10-Q
QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d)
For the quarterly period ended July 1, 2023
Commission File Number: 001-36743
Initech Inc.
(Exact name of registrant as specified in its charter)
Results of operations for the third quarter of fiscal 2023 ... Net sales in the third quarter of
fiscal 2023 rose. Compared with the third quarter of fiscal 2022, margins improved.
"""

COVER_8K = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
FORM 8-K
CURRENT REPORT
Date of Report (Date of earliest event reported): March 3, 2024
Umbrella Holdings plc
(Exact name of registrant as specified in its charter)
"""

RELEASE = """Hooli Reports Fourth-Quarter 2023 Results
Revenue of $2.1 billion
MOUNTAIN VIEW, Calif. - February 6, 2024 - Hooli, Inc. (NASDAQ: HOOL) today reported results
for the fourth quarter 2023.
"""

CALL = """Operator: Good morning, and welcome to the Vandelay Industries third quarter 2024 earnings
conference call. I would now like to turn the call over to Art Vandelay.
Art Vandelay: Thank you. With me today are Elaine Benes, our Chief Financial Officer, and George
Costanza, our Chief Operating Officer.
Operator: Our next question comes from Kenny Bania from Pendant Capital. Please go ahead.
Kenny Bania: Thanks. On margins, how should we think about Q4?
"""


def test_sec_covers_give_issuer_form_ticker_and_fiscal_period() -> None:
    f = read_facts(COVER_10K)
    assert (f.issuer, f.form, f.ticker, f.period, f.period_end) == (
        "Globex Corporation", "10-K", "GBX", "FY2023", "2023-01-28")  # the year it ends in
    # ... unless the filing names its years otherwise (a retailer's 'fiscal 2022')
    named = COVER_10K + "Results for fiscal 2022 ... in fiscal 2022 ... fiscal 2022 compared\n"
    assert read_facts(named).period == "FY2022"
    early = COVER_10K.replace("January 28, 2023", "January 1, 2023")  # a 52/53-week year
    assert read_facts(early).period == "FY2022"
    q = read_facts(COVER_10Q)
    # the filing's own words name the fiscal quarter; July 1 is not Q3 of the calendar year
    assert (q.issuer, q.form, q.period, q.period_end) == ("Initech Inc.", "10-Q", "Q3 FY2023",
                                                          "2023-07-01")
    k = read_facts(COVER_8K)
    assert (k.issuer, k.form, k.report_date, k.period) == ("Umbrella Holdings plc", "8-K",
                                                           "2024-03-03", "")
    assert "Exact name of registrant" in k.evidence["issuer"]


def test_releases_and_calls_give_issuer_period_and_speakers() -> None:
    r = read_facts(RELEASE)
    assert (r.issuer, r.ticker, r.form, r.period, r.report_date) == (
        "Hooli, Inc.", "HOOL", "earnings release", "Q4 FY2023", "2024-02-06")
    c = read_facts(CALL, kind="transcript", turns=["Operator", "Art Vandelay", "Kenny Bania"])
    assert (c.issuer, c.form, c.period) == ("Vandelay Industries", "earnings call", "Q3 FY2024")
    roles = {s.name: (s.role, s.firm) for s in c.speakers}
    assert roles["Elaine Benes"] == ("CFO", "")
    assert roles["George Costanza"] == ("COO", "")
    assert roles["Kenny Bania"] == ("analyst", "Pendant Capital")
    assert "Art Vandelay" in roles and "Operator" not in roles


def test_a_page_that_mentions_a_form_is_not_that_form() -> None:
    text = "Acme Reports Second-Quarter 2024 Results\nSee our Form 10-Q for details."
    assert read_facts(text).form == "earnings release"
    assert read_facts("Minutes of the board. Nothing else.").form == "other"


def test_the_demo_call_and_meeting(settings) -> None:
    from conftest import DEMO_DIR

    from rag.ingest.loaders import load

    call = DEMO_DIR / "northwind_q2_2026_earnings_call.txt"
    f = facts_of_document(load(call.read_bytes(), call.name, settings))
    assert (f.issuer, f.form, f.period, f.report_date) == (
        "Northwind Robotics", "earnings call", "Q2 FY2026", "2026-08-06")
    roles = {s.name: s.role for s in f.speakers}
    assert roles["Dana Whitfield"] == "CEO" and roles["Marcus Oyelaran"] == "CFO"
    vtt = DEMO_DIR / "product_planning_meeting_2026-09-15.vtt"
    m = facts_of_document(load(vtt.read_bytes(), vtt.name, settings))
    assert m.form == "meeting" and {"Priya Raman", "Henrik Lund"} <= {s.name for s in m.speakers}


# Hand-checked against each filing's cover page.
REAL = {
    "3M_2018_10K": ("3M Company", "10-K", "FY2018", ""),
    "3M_2022_10K": ("3M Company", "10-K", "FY2022", "MMM"),
    "AMAZON_2017_10K": ("Amazon.com, Inc.", "10-K", "FY2017", ""),
    "BOEING_2022_10K": ("Boeing Company", "10-K", "FY2022", "BA"),
    "PEPSICO_2022_10K": ("PepsiCo, Inc.", "10-K", "FY2022", "PEP"),
    "PEPSICO_2023Q1_EARNINGS": ("PepsiCo, Inc.", "earnings release", "Q1 FY2023", "PEP"),
    "PEPSICO_2023_8K_dated-2023-05-05": ("PepsiCo, Inc.", "8-K", "", "PEP"),
    "PEPSICO_2023_8K_dated-2023-05-30": ("PepsiCo, Inc.", "8-K", "", "PEP"),
    "PFIZER_2021_10K": ("Pfizer Inc.", "10-K", "FY2021", "PFE"),
    "Pfizer_2023Q2_10Q": ("Pfizer Inc.", "10-Q", "Q2 FY2023", "PFE"),
}


def test_real_filings_under_meaningless_names() -> None:
    """The first pages of each real filing (its cover, its dateline), read as the PDF loader
    reads them, under a name that says nothing."""
    for i, (stem, want) in enumerate(sorted(REAL.items())):
        f = facts_of_document(_real_first_pages(stem, f"scan_{i:03d}"))
        assert (f.issuer, f.form, f.period, f.ticker) == want, stem


def _ingest_scrambled(ingestor) -> dict[str, str]:
    from badfiles import text_pdf

    ids = {}
    for i, cover in enumerate([COVER_10K, COVER_10Q, RELEASE]):
        body = "Net sales and operating income are discussed in this report.\n" * 3
        rep = ingestor.ingest_bytes(text_pdf([cover, body]), f"Q3 final v{i + 2}.pdf")
        assert rep.ok, rep.message
        ids[["globex", "initech", "hooli"][i]] = rep.doc.doc_id
    return ids


def test_questions_are_focused_by_content_whatever_the_file_is_called(
        services, workspace, ingestor) -> None:
    ids = _ingest_scrambled(ingestor)
    r = services.searcher(workspace)
    res = r.retrieve("What were Globex's net sales?", k=3, focus=True)
    assert res.focused and set(res.filter.doc_ids) == {ids["globex"]}
    res = r.retrieve("How did Hooli's operating income do?", k=3, focus=True)
    assert set(res.filter.doc_ids) == {ids["hooli"]}
    # the facts were kept with each document
    assert all("facts" in d.meta for d in workspace.documents())


def test_a_user_correction_sticks_and_is_used(services, workspace, ingestor) -> None:
    ids = _ingest_scrambled(ingestor)
    ensure_facts(workspace)
    set_user_facts(workspace, ids["initech"], {"issuer": "Initrode Systems"})
    ensure_facts(workspace)  # reading again never overwrites a correction
    doc = workspace.get_document(ids["initech"])
    assert facts_for(doc).issuer == "Initrode Systems"
    assert facts_for(doc).evidence["issuer"] == "corrected by a user"
    res = services.searcher(workspace).retrieve("Initrode net sales", k=3, focus=True)
    assert set(res.filter.doc_ids) == {ids["initech"]}
    with pytest.raises(ValueError):
        set_user_facts(workspace, ids["initech"], {"form": "novel"})
    set_user_facts(workspace, ids["initech"], {"issuer": ""})  # removed: the read value again
    assert facts_for(workspace.get_document(ids["initech"])).issuer == "Initech Inc."


def test_a_month_quarter_maps_to_the_issuers_fiscal_quarter(services, workspace,
                                                            ingestor) -> None:
    from badfiles import text_pdf

    june = COVER_10Q
    sept = COVER_10Q.replace("July 1, 2023", "September 30, 2023").replace("third", "fourth")
    a = ingestor.ingest_bytes(text_pdf([june, "Net sales rose.\n"]), "a.pdf").doc.doc_id
    b = ingestor.ingest_bytes(text_pdf([sept, "Net sales fell.\n"]), "b.pdf").doc.doc_id
    r = services.searcher(workspace)
    res = r.retrieve("Initech net sales in the September 2023 quarter", k=3, focus=True)
    assert set(res.filter.doc_ids) == {b}
    res = r.retrieve("Initech net sales in the third quarter of fiscal 2023", k=3, focus=True)
    assert set(res.filter.doc_ids) == {a}  # Q3 of its fiscal year ended July 1
    res = r.retrieve("Initech's latest 10-Q: net sales", k=3, focus=True)
    assert set(res.filter.doc_ids) == {b}


def test_facts_module_reads_no_file_name(tmp_path: Path) -> None:
    # the same text under two names gives the same facts
    assert read_facts(COVER_10K).to_dict() == read_facts(COVER_10K).to_dict()


def test_cli_lists_facts_and_filters_by_them(services, workspace, ingestor, cli) -> None:
    import json

    ids = _ingest_scrambled(ingestor)
    rc, out, _ = cli("docs", "--workspace", workspace.name, "--json")
    assert rc == 0
    listed = {d["doc_id"]: d["facts"] for d in json.loads(out)}
    assert listed[ids["globex"]]["issuer"] == "Globex Corporation"
    assert listed[ids["hooli"]]["period"] == "Q4 FY2023"
    rc, out, _ = cli("docs", "--workspace", workspace.name, "--filter", "form=10-Q")
    assert rc == 0 and "Initech Inc." in out and "Globex" not in out
    rc, out, _ = cli("search", "--workspace", workspace.name, "net sales", "--json",
                     "--filter", "issuer=globex")
    assert rc == 0 and {h["doc_id"] for h in json.loads(out)} == {ids["globex"]}
    rc, _, err = cli("search", "--workspace", workspace.name, "net sales",
                     "--filter", "issuer=nobody")
    assert rc != 0 and "matches issuer=nobody" in err
    rc, _, err = cli("docs", "--workspace", workspace.name, "--filter", "colour=red")
    assert rc != 0 and "unknown filter 'colour'" in err


def test_what_the_cfo_said_is_focused_on_the_cfos_turns(services, workspace, ingestor) -> None:
    turns = [
        "Operator: Welcome to the Vandelay Industries third quarter 2024 earnings call.",
        "Art Vandelay: Thank you. With me today is Elaine Benes, our Chief Financial Officer.",
        "Art Vandelay: Gross margin matters to us; demand for latex was strong this quarter.",
        "Elaine Benes: Gross margin was 41 percent, up on pricing.",
        "Operator: Our next question comes from Kenny Bania from Pendant Capital.",
        "Kenny Bania: How should we think about gross margin in Q4?",
    ]
    rep = ingestor.ingest_bytes("\n\n".join(turns).encode(), "recording 12.txt")
    assert rep.ok, rep.message
    r = services.searcher(workspace)
    res = r.retrieve("What did the CFO say about gross margin?", k=3, focus=True)
    assert res.filter.speakers == ("Elaine Benes",)
    assert res.hits and all("Elaine Benes" in {h.chunk.speaker, *(h.chunk.speakers or "")
                                               .split("|")} for h in res.hits)
    # a question that is not about what someone said is not narrowed to a speaker
    res = r.retrieve("Who is the CFO?", k=3, focus=True)
    assert not res.filter.speakers


def test_every_fact_can_be_corrected_and_a_bad_date_is_refused(services, workspace,
                                                                ingestor) -> None:
    ids = _ingest_scrambled(ingestor)
    doc = set_user_facts(workspace, ids["globex"], {"ticker": "GLBX", "period_end": "2023-01-31",
                                                    "report_date": "2023-03-20",
                                                    "fiscal_quarter": 4})
    f = facts_for(doc)
    assert (f.ticker, f.period_end, f.report_date, f.period) == (
        "GLBX", "2023-01-31", "2023-03-20", "Q4 FY2023")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        set_user_facts(workspace, ids["globex"], {"period_end": "31/01/2023"})


def _real_first_pages(stem: str, name: str):
    import pypdfium2 as pdfium
    from conftest import FINANCEBENCH_PDFS

    from rag.types import ParsedDocument, Unit

    pdf = pdfium.PdfDocument(str(FINANCEBENCH_PDFS / f"{stem}.pdf"))
    units = tuple(Unit(text=pdf[n].get_textpage().get_text_range(), page=n + 1)
                  for n in range(min(3, len(pdf))))
    return ParsedDocument(filename=f"{name}.pdf", name=name, kind="pdf", units=units,
                          content_hash="h" * 64, size=1)


def test_focus_finds_the_real_filing_under_a_meaningless_name() -> None:
    """Each FinanceBench question that names its company in words is focused on that company's
    filings (and the right year's where it names one), the files being called 'scan_NNN'."""
    import re

    from rag.retrieve import focus_filter
    from rag.types import DocumentInfo

    docs, real = [], {}
    for i, stem in enumerate(sorted(REAL)):
        facts = facts_of_document(_real_first_pages(stem, f"scan_{i:03d}")).to_dict()
        d = DocumentInfo(doc_id=f"d{i}", name=f"scan_{i:03d}", filename=f"scan_{i:03d}.pdf",
                         kind="pdf", units=1, chunks=1, size=1, added_at=float(i),
                         meta={"facts": facts})
        docs.append(d)
        real[d.doc_id] = stem
    checked = 0
    for q in financebench_questions():
        company = re.split(r"[_-]", q["doc_name"])[0].lower()
        if not re.search(rf"(?<![a-z0-9]){re.escape(company)}(?![a-z0-9])", q["question"].lower()):
            continue
        f = focus_filter(q["question"], docs)
        assert f is not None, q["question"]
        picked = {real[i] for i in f.doc_ids}
        assert q["doc_name"] in picked, (q["question"], picked)
        assert all(p.split("_")[0].lower() == company for p in picked), (q["question"], picked)
        checked += 1
    assert checked >= 25


def test_a_real_call_transcript_under_a_meaningless_name() -> None:
    text = ectsum_transcript("ACM_q4_2021")
    f = read_facts(text, kind="transcript")
    assert f.form == "earnings call"
    roles = {s.name: s.role for s in f.speakers}
    assert roles.get("Gaurav Kapoor") == "CFO" and "Lara Poloni" in roles
