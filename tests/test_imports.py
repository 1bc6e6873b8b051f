"""The core stays light: importing it loads neither the UI toolkit nor the deep-learning stack."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ["rag", "rag.cli", "rag.services", "rag.retrieve", "rag.ingest.pipeline",
        "rag.index.store", "rag.ingest.loaders", "rag.ingest.chunking", "rag.index.embedder"]
HEAVY = ["streamlit", "torch", "sentence_transformers", "transformers"]


def test_core_imports_load_no_ui_and_no_torch():
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing the core pulled in {loaded}"


def test_cli_help_does_not_load_the_model():
    code = (
        "import sys\nfrom rag.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
