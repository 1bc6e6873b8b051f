"""RAGdesk's Streamlit entry point: page config and logo, sidebar (workspace, search), navigation.

Run with `streamlit run app.py`. Pages live in `rag/ui/pages/`; this file only wires them.
"""

import streamlit as st

from rag.ui import auth, brand, pages, sidebar, state

# A local icon: a material icon as page_icon is fetched from a font server on every page.
st.set_page_config(page_title=brand.PRODUCT, page_icon=str(brand.ICON), layout="wide")
st.logo(str(brand.LOGO), size="large", icon_image=str(brand.ICON))
state.warm_up()  # models load in a background thread while the first page is drawn
who = auth.gate()  # single-user mode, or a signed-in user (stops at the sign-in screen)
page = st.navigation(pages.pages())
sidebar.render()
with st.sidebar:
    auth.identity(who)
page.run()
