"""The app's pages, in menu order: adding a page is one line in `pages()`.

Each page is a module with a `render()` function; `url_path` keeps page URLs stable.
"""

from __future__ import annotations

import streamlit as st

from rag.ui.pages import ask, audit, dashboard, feedback, figures, library, settings, summaries


def pages() -> list[st.Page]:
    return [
        st.Page(dashboard.render, title="Dashboard", icon=":material/dashboard:",
                url_path="dashboard", default=True),
        st.Page(library.render, title="Library", icon=":material/library_books:",
                url_path="library"),
        st.Page(ask.render, title="Ask", icon=":material/forum:", url_path="ask"),
        st.Page(summaries.render, title="Summaries", icon=":material/summarize:",
                url_path="summaries"),
        st.Page(figures.render, title="Figures", icon=":material/table_chart:",
                url_path="figures"),
        st.Page(feedback.render, title="Feedback", icon=":material/hub:", url_path="feedback"),
        st.Page(settings.render, title="Settings", icon=":material/settings:", url_path="settings"),
        st.Page(audit.render, title="Audit", icon=":material/policy:", url_path="audit"),
    ]
