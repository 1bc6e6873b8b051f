"""The main flows in a real Chromium, as a new user walks them, against the real app (real
embedder, real packaged chat model) started once for the session.

The tests run in file order and build on each other as a person's first session does: the
demo is loaded first, then read, searched, asked, summarised, clustered. Each test opens a
fresh tab (a new Streamlit session), so workspace and page come from the URL alone; every
page seen is saved as a screenshot (see `conftest.screens_dir`).
"""

from __future__ import annotations

import re

import pytest

from rag.ui.demo import DEMO_QUESTIONS, DEMO_WORKSPACE

pytestmark = pytest.mark.browser

INBOX = "Inbox"
HTML_NAME = "<img src=x onerror=alert(1)>memo.txt"
HTML_BODY = (b"Security memo <script>alert(2)</script> about the badge readers.\n\n"
             b"The <img src=x onerror=alert(3)> banner was found on the intranet wiki page. "
             b"Badge readers in building B reject expired cards since March.")
CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage, no xref, no trailer\n"
ANSWER_TIMEOUT = 240  # the first answer loads the chat model: 20-60 s on two busy cores


def test_first_start_chrome(app):
    """The product name and a local icon; no Deploy button; the workspace in the URL."""
    app.goto("")
    assert app.page.title() == "RAGdesk"
    logo = app.sidebar.locator('[data-testid="stSidebarHeader"] img, [data-testid="stLogo"]')
    assert logo.first.is_visible()
    assert "data:image/svg+xml" in (logo.first.get_attribute("src") or "")
    icon = app.page.locator('link[rel="shortcut icon"], link[rel="icon"]').first
    assert (icon.get_attribute("href") or "").startswith(("data:", "/", "./", app.url))
    assert app.page.get_by_text("Deploy", exact=True).count() == 0
    assert app.page.locator('[data-testid="stAppDeployButton"]').count() == 0
    assert app.workspace_in_url() == "default"
    app.shot("01-dashboard-empty")


def test_load_the_demo(app):
    app.goto("library")
    assert "Load the demo workspace" in app.text()
    app.shot("02-library-empty")
    app.main.get_by_role("button", name="Load the demo workspace").click()
    app.page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    app.shot("03-library-demo-loading")
    app.wait_text(re.compile(r"^Documents \(4\)$"), timeout=240)
    assert app.workspace_in_url() == DEMO_WORKSPACE
    assert "4 files processed" in app.text()
    app.shot("04-library-demo-loaded")


def test_upload_a_good_and_a_bad_file(app):
    app.goto("library")
    app.sidebar.get_by_text("New workspace").click()
    app.fill("Name", INBOX, within=app.sidebar)
    assert app.workspace_in_url() == INBOX
    app.page.locator('input[type="file"]').first.set_input_files([
        {"name": HTML_NAME, "mimeType": "text/plain", "buffer": HTML_BODY},
        {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": CORRUPT_PDF},
    ])
    app.settle()
    app.main.get_by_role("button", name=re.compile(r"^Add 2 files to")).click()
    app.page.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    app.wait_text("1 of 2 files could not be added", timeout=180)
    grid = app.main.locator('[data-testid="stDataFrame"]').first
    assert grid.is_visible()
    app.shot("05-library-upload-results")
    cells = grid.locator('[role="gridcell"]').all_inner_texts()
    text = " ".join(cells)
    assert "broken.pdf" in text and "failed" in text
    assert re.search(r"PDF|pdf", text.split("broken.pdf", 1)[1]), text  # the reason, one line


def test_open_a_document_with_html_never_executed(app):
    app.goto("library", workspace=INBOX)
    app.select("Open a document", re.compile("memo"))
    viewer = app.main
    assert "<script>alert(2)</script>" in viewer.inner_text()
    assert "<img src=x onerror=alert(3)>" in viewer.inner_text()
    assert app.page.locator('img[src="x"]').count() == 0
    assert app.page.locator("script", has_text="alert(").count() == 0
    app.shot("06-library-document-html")


def test_search_the_demo(app):
    app.goto("library", workspace=DEMO_WORKSPACE)
    app.page.get_by_role("tab", name="Search").click()
    app.fill("Search this workspace", "battery swap")
    text = app.text()
    assert "battery" in text.lower()
    app.shot("07-library-search")
    app.fill("Search passages", "battery swap", within=app.sidebar)
    assert "battery" in app.sidebar.inner_text().lower()


def test_ask_open_a_citation_and_follow_up(app):
    app.goto("ask", workspace=DEMO_WORKSPACE)
    examples = [q for q in DEMO_QUESTIONS if app.main.get_by_role("button", name=q).count()]
    assert examples, "an empty chat offers example questions"
    app.shot("08-ask-empty")
    app.click(DEMO_QUESTIONS[0], timeout=ANSWER_TIMEOUT)
    app.wait_text("How this answer was made", timeout=ANSWER_TIMEOUT)
    answer = app.main.locator('[data-testid="stChatMessage"]').nth(1)
    assert "412" in answer.inner_text()
    assert "**" not in answer.inner_text(), "markdown shown as literal asterisks"
    app.shot("09-ask-answer")
    # A marker is a link to its source: clicking it scrolls the source's heading into view
    # and opens the whole passage (hidden until then: the card shows a short quote).
    full = app.main.locator('[class*="st-key-srcfull-source-1-of-answer-1"]').first
    assert full.count() and not full.is_visible(), "the whole passage waits for its marker"
    marker = answer.locator('a[href^="#source-1-of-answer-1"]').first
    marker.click()
    app.page.wait_for_timeout(600)
    assert app.page.url.endswith("#source-1-of-answer-1")
    target = app.page.locator("#source-1-of-answer-1")
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] <= 1000, box
    assert full.is_visible(), "clicking [1] opens the whole passage"
    assert "The whole passage" in full.inner_text()
    assert full.locator("mark, [style*=background], span").count()
    exp = app.open_expander("Open in the document")
    assert exp.locator("mark, [style*=background]").count() or "Read the whole document" in \
        exp.inner_text()
    app.shot("10-ask-citation-open")
    box = app.page.locator('[data-testid="stChatInput"] textarea')
    box.fill("And in the first quarter?")
    box.press("Enter")
    app.settle(ANSWER_TIMEOUT)
    app.page.get_by_text("How this answer was made").nth(1).wait_for(
        timeout=ANSWER_TIMEOUT * 1000)
    app.settle()
    assert "Read as" in app.text()
    app.shot("11-ask-follow-up")


def test_reload_keeps_workspace_page_and_conversation(app):
    app.goto("ask", workspace=DEMO_WORKSPACE)
    assert "And in the first quarter?" in app.text()
    app.page.reload()
    app.settle()
    assert app.page.url.split("?")[0].endswith("/ask")
    assert app.workspace_in_url() == DEMO_WORKSPACE
    assert "And in the first quarter?" in app.text()
    assert DEMO_QUESTIONS[0] in app.text()
    app.nav("Dashboard")
    assert app.workspace_in_url() == DEMO_WORKSPACE  # page links keep the workspace


def test_briefs_of_a_call_and_a_meeting_with_downloads(app, tmp_path):
    app.goto("summaries", workspace=DEMO_WORKSPACE)
    app.toggle("Write prose with the chat model", on=False)  # extractive: made at once
    for doc, name in (("northwind_q2_2026_earnings_call", "12-summaries-call"),
                      ("product_planning_meeting", "13-summaries-meeting")):
        # Clearing the picker leaves it empty (it used to snap back to a document).
        app.click("Clear all", within=app.main.locator('[data-testid="stMultiSelect"]').first)
        assert "Pick a document to summarise." in app.text()
        app.select("Documents", re.compile(doc))
        app.click(re.compile(r"^(Summarise|Make them again)$"), timeout=180)
        download = app.main.get_by_role("button", name=re.compile("Markdown")).first
        with app.page.expect_download() as got:
            download.click()
        out = tmp_path / got.value.suggested_filename
        got.value.save_as(out)
        assert out.stat().st_size > 200 and out.read_text().lstrip().startswith("#")
        brief = out.read_text()
        if doc.startswith("product_planning"):
            # The meeting's own read-back: its six decisions, its action items once each.
            decisions = brief.split("## Decisions", 1)[1].split("\n## ", 1)[0]
            assert len(re.findall(r"^- ", decisions, re.MULTILINE)) == 6, decisions
            items = brief.split("## Action items", 1)[1].split("\n## ", 1)[0]
            assert items.count("pick the battery-swap pilot sites") == 1, items
        else:
            assert "forward-looking" not in brief.split("## Summary", 1)[1].split("\n## ")[0]
            assert "Operating expenses growth" not in brief
        cells = app.main.locator('[data-testid="stDataFrame"]').all_inner_texts()
        assert not any(re.search(r"\bNone\b", c) for c in cells), "None in a table"
        app.shot(name)


def test_feedback_themes_and_a_drill_down(app):
    app.goto("feedback", workspace=DEMO_WORKSPACE)
    app.toggle("Name themes with the chat model", on=False)
    app.click("Find themes", timeout=180)
    app.wait_text("Themes", timeout=180)
    app.shot("14-feedback-themes")
    app.select("Theme", 1)  # the second theme
    app.open_expander(re.compile(r"All [\d,]+ comments of this theme"))
    app.shot("15-feedback-theme-drill-down")


def test_dashboard_figures_and_audit(app):
    app.goto("", workspace=DEMO_WORKSPACE)
    text = app.text()
    assert "Dashboard" in text and "Traceback" not in text
    app.shot("16-dashboard")
    app.nav("Figures")
    app.shot("17-figures")
    app.nav("Audit")
    app.shot("18-audit")


def test_settings_with_a_dead_endpoint(app):
    app.goto("settings", workspace=DEMO_WORKSPACE)
    app.shot("19-settings")
    app.page.get_by_role("radiogroup").first.get_by_text(
        re.compile("OpenAI", re.IGNORECASE)).first.click()
    app.settle()
    app.fill("Base URL", "http://127.0.0.1:9/v1")  # nothing listens on port 9
    app.fill("Model", "any-model")
    app.click("Test connection", timeout=120)
    text = app.text()
    assert "Traceback" not in text
    assert re.search(r"(refused|could not|cannot|unreachable|not reach)", text,
                     re.IGNORECASE), text
    app.shot("20-settings-dead-endpoint")
