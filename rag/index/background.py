"""An embedder that loads in a background thread, so a caller can start before the model is in.

A packaged model's name and dimension are known without loading it, which is all the store
needs to list and open workspaces. The app uses it so the first page shows at once; the CLI
can use it to open the store while the model loads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from rag.errors import RagError
from rag.index.embedder import Embedder


class BackgroundEmbedder:
    """An embedder announced as (`name`, `dim`) and built by `load` in a background thread.

    `embed()` waits for the load; `ready` tells whether it would wait (the pages then show a
    spinner). A model that loads under another identity is refused: the store was opened
    under the announced one, and vectors of two models must never mix.
    """

    def __init__(self, name: str, dim: int, load: Callable[[], Embedder]) -> None:
        self.name, self.dim = name, dim
        self._build = load
        self._model: Embedder | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self.load, name="embedder-load", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self._model is not None

    def load(self) -> Embedder:
        """Load the model once (raises its RagError, e.g. the model package is missing)."""
        with self._lock:
            if self._model is None and self._error is None:
                try:
                    model = self._build()
                    if (model.name, model.dim) != (self.name, self.dim):
                        # The store was opened under the announced identity: never mix vectors.
                        raise RagError(
                            f"the embedding model loaded as '{model.name}' ({model.dim} "
                            f"dimensions), not the announced '{self.name}' ({self.dim}): "
                            "restart the app"
                        )
                    self._model = model
                except Exception as exc:  # noqa: BLE001 - re-raised on every use
                    self._error = exc
            if self._error is not None:
                raise self._error
            assert self._model is not None
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.load().embed(texts)
