"""The core stays light: importing it loads neither the UI toolkit nor the deep-learning stack."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ["rag", "rag.cli", "rag.services", "rag.retrieve", "rag.ingest.pipeline",
        "rag.index.store", "rag.ingest.loaders", "rag.ingest.chunking", "rag.index.embedder",
        "rag.index.background", "rag.text.dates", "rag.storage.sqlite",
        "rag.analytics.feedback", "rag.analytics.questions"]
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


# The layers, lowest first: a package may import the ones below it, never the ones above.
LOW = ["rag.ingest", "rag.index", "rag.figures", "rag.text", "rag.llm", "rag.storage"]
HIGH = ["rag.analytics", "rag.ui", "rag.services", "rag.cli"]


def _imports_of(path):
    """Every module a file imports, at the top or inside a function."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_lower_layers_never_import_the_ones_above():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    wrong = []
    for pkg in LOW:
        base = root / Path(*pkg.split("."))
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
        for f in files:
            if not f.exists():
                continue
            for name in _imports_of(f):
                if any(name == h or name.startswith(h + ".") for h in HIGH):
                    wrong.append(f"{f.relative_to(root)} imports {name}")
    assert not wrong, "imports that run back up the layers:\n" + "\n".join(sorted(set(wrong)))
