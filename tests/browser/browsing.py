"""Driving the Streamlit app as a person does: open a page, wait until the app has finished
its run, click, type, pick, and keep a screenshot of what was seen.

Waiting is the hard part: a Streamlit page is done when the app reports
`data-test-script-state="notRunning"`, no spinner or running status is shown, and the page's
text has stopped changing for a moment (output arrives over the websocket after the state
flips). The same rule as `scripts/screenshot.py`, on Playwright.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Locator, Page

STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return 'loading|0|0';
  const busy = document.querySelectorAll(
    '[data-testid="stSpinner"], [data-testid="stStatusWidget"] [data-testid*="Running"]').length;
  return (app.getAttribute('data-test-script-state') || 'initial') + '|' + busy + '|'
    + document.body.innerText.length;
}"""


class App:
    """One browser tab on the running app."""

    def __init__(self, page: Page, url: str, screens: Path) -> None:
        self.page = page
        self.url = url
        self.screens = screens

    # -- waiting ----------------------------------------------------------------------------

    def settle(self, timeout: float = 90, quiet: float = 0.8) -> None:
        """Until the app's run is over and the page has stayed unchanged for `quiet` s."""
        self.page.wait_for_timeout(250)  # let a just-sent rerun reach the server
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            state = self.page.evaluate(STATE_JS)
            if state != last:
                last, since = state, time.monotonic()
            elif state.startswith("notRunning|0|") and time.monotonic() - since >= quiet:
                return
            self.page.wait_for_timeout(150)
        raise AssertionError(f"the page did not settle within {timeout} s (state {last})")

    def wait_text(self, text: str | re.Pattern, timeout: float = 90) -> Locator:
        """The first visible element with `text`, waiting for it; then the page settles."""
        loc = self.main.get_by_text(text).first
        loc.wait_for(state="visible", timeout=timeout * 1000)
        self.settle(timeout)
        return loc

    # -- where things are -------------------------------------------------------------------

    @property
    def main(self) -> Locator:
        # (a page with a chat input puts its body in a scroll-to-bottom container instead of
        # stMain; the block container is in both)
        return self.page.locator('[data-testid="stMainBlockContainer"]')

    @property
    def sidebar(self) -> Locator:
        return self.page.locator('[data-testid="stSidebar"]')

    def text(self) -> str:
        return self.main.inner_text()

    # -- doing ------------------------------------------------------------------------------

    def goto(self, path: str = "", workspace: str | None = None, timeout: float = 90) -> None:
        url = f"{self.url}/{path.lstrip('/')}"
        if workspace is not None:
            url += "?workspace=" + quote(workspace)
        self.page.goto(url)
        self.page.locator('[data-testid="stApp"]').wait_for(timeout=timeout * 1000)
        self.settle(timeout)

    def nav(self, title: str) -> None:
        """Open a page from the sidebar menu, as a person does."""
        self.sidebar.locator('[data-testid="stSidebarNav"]').get_by_text(
            title, exact=True).click()
        self.settle()

    def click(self, name: str | re.Pattern, within: Locator | None = None,
              timeout: float = 90) -> None:
        (within or self.page).get_by_role("button", name=name).first.click()
        self.settle(timeout)

    def fill(self, label: str, value: str, within: Locator | None = None,
             timeout: float = 90) -> None:
        box = (within or self.page).get_by_label(label, exact=True).first
        box.fill(value)
        box.press("Enter")
        self.settle(timeout)

    def select(self, label: str, option: str | re.Pattern | int, within: Locator | None = None,
               timeout: float = 90) -> None:
        """Pick `option` in the selectbox or multiselect labelled `label`."""
        box = (within or self.page).get_by_role("combobox", name=label).first
        box.click()
        if box.input_value():  # a box showing a value lists only the options matching its
            box.press("Control+a")  # text: empty it to list them all (never on an empty
            box.press("Backspace")  # multiselect box, where Backspace removes a pick)
        options = self.page.get_by_role("option")
        pick = options.nth(option) if isinstance(option, int) else options.filter(
            has_text=option).first
        pick.click()
        listbox = self.page.get_by_role("listbox")
        if listbox.count() and listbox.first.is_visible():  # a multiselect stays open
            self.main.locator("h1").first.click()  # (Escape would undo a selectbox's pick)
        self.settle(timeout)

    def toggle(self, label: str, on: bool) -> None:
        switch = self.main.get_by_role("switch", name=label).first
        if switch.is_checked() != on:
            switch.locator("xpath=ancestor::label[1]").click()
            self.settle()

    def open_expander(self, label: str | re.Pattern, within: Locator | None = None) -> Locator:
        exp = (within or self.main).locator('[data-testid="stExpander"]').filter(
            has=self.page.locator("summary").filter(has_text=label)).first
        if exp.locator("details").get_attribute("open") is None:
            exp.locator("summary").first.click()
            self.settle()
        return exp

    def shot(self, name: str) -> Path:
        """A 1400x1000 screenshot of what is on screen now."""
        path = self.screens / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def workspace_in_url(self) -> str | None:
        from urllib.parse import parse_qs, urlsplit

        values = parse_qs(urlsplit(self.page.url).query).get("workspace")
        return values[-1] if values else None
