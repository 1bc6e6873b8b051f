"""The background-loading embedder (rag.index.background): usable by the app and the CLI."""

from __future__ import annotations

import threading

import pytest
from fakes import HashEmbedder

from rag.errors import RagError
from rag.index.background import BackgroundEmbedder


def test_announces_its_identity_at_once_and_embeds_once_loaded():
    gate = threading.Event()
    emb = HashEmbedder(dim=32)

    def load():
        gate.wait(5)
        return emb

    bg = BackgroundEmbedder(emb.name, emb.dim, load)
    assert (bg.name, bg.dim) == (emb.name, 32) and not bg.ready
    gate.set()
    assert bg.embed(["hello world"]).shape == (1, 32)
    assert bg.ready and bg.load() is emb


# The loading thread raises the same error (nobody waits on it there): expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_model_loading_under_another_identity_is_refused_on_every_use():
    bg = BackgroundEmbedder("announced", 64, lambda: HashEmbedder(name="other", dim=64))
    for _ in range(2):
        with pytest.raises(RagError, match="not the announced 'announced'"):
            bg.embed(["x"])
    assert not bg.ready
