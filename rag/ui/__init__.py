"""The Streamlit UI: pages, render helpers and the cached composition root.

This package (with `app.py`) is the only code that imports streamlit; it calls the services of
`rag` and renders what they return.
"""
