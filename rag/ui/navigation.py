"""Session keys one page sets for another (so pages never import each other)."""

from __future__ import annotations

OPEN_DOC_KEY = "library_open_doc"  # the document the Library page opens
