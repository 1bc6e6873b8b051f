"""RAGdesk's Streamlit entry point: page config, sidebar (workspace, search), navigation.

Run with `streamlit run app.py`. Pages live in `rag/ui/pages/`; this file only wires them.
"""

import streamlit as st

from rag.ui import auth, pages, sidebar

st.set_page_config(page_title="RAGdesk", page_icon=":material/menu_book:", layout="wide")
who = auth.gate()  # single-user mode, or a signed-in user (stops at the sign-in screen)
page = st.navigation(pages.pages())
sidebar.render()
with st.sidebar:
    auth.identity(who)
page.run()
