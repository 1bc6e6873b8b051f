"""RAGdesk's Streamlit entry point: page config, sidebar (workspace, search), navigation.

Run with `streamlit run app.py`. Pages live in `rag/ui/pages/`; this file only wires them.
"""

import streamlit as st

from rag.ui import pages, sidebar

st.set_page_config(page_title="RAGdesk", page_icon=":material/menu_book:", layout="wide")
page = st.navigation(pages.pages())
sidebar.render()
page.run()
