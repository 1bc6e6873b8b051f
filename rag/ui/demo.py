"""The demo workspace: the fictional Northwind Robotics documents shipped in `data/`."""

from __future__ import annotations

from pathlib import Path

from rag.ingest.loaders import SUPPORTED_EXT, LoadOptions, extension
from rag.ingest.pipeline import Upload

DEMO_WORKSPACE = "Demo — Northwind Robotics"
DEMO_DIR = Path(__file__).resolve().parents[2] / "data"
# Example questions an empty Ask page offers in the demo workspace (each answered by a file).
DEMO_QUESTIONS = (
    "What was Northwind's revenue in the second quarter of 2026?",
    "What did the product planning meeting decide about battery swap?",
    "What do customers complain about most?",
    "Did Northwind raise its full-year guidance?",
)
# The feedback export's free text and date columns (see data/README.md).
_TABLE_OPTIONS = {"customer_feedback_2026.csv": LoadOptions(text_column="comment",
                                                            date_column="date")}


def demo_uploads(folder: Path = DEMO_DIR) -> list[Upload]:
    """The demo files to ingest (README.md describes them and is not one of them)."""
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.name.lower() != "readme.md"
                   and not p.name.startswith(".") and extension(p.name) in SUPPORTED_EXT)
    return [Upload(p.name, path=p, options=_TABLE_OPTIONS.get(p.name)) for p in files]
