"""RAGdesk core: ingestion, indexing and retrieval services, free of UI and heavy imports.

`import rag` must load neither streamlit nor torch (tests/test_imports.py checks it); heavy
libraries are imported inside the functions that need them.
"""

__version__ = "0.1.0"
