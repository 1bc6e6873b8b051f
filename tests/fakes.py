"""Test doubles: a small deterministic embedder, fast enough for unit tests."""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Hashes each word into one of `dim` buckets (bag of words), rows L2-normalised.

    Texts sharing words get similar vectors, so search results are meaningful enough to assert
    on; the same text always gives the same vector, in every process.
    """

    def __init__(self, name: str = "test-hash-64", dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[i, int.from_bytes(h, "little") % self.dim] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
            else:
                out[i, 0] = 1.0
        return out


class FailingEmbedder(HashEmbedder):
    """Embeds the first `ok_calls` batches, then raises: a crash in the middle of a document."""

    def __init__(self, ok_calls: int = 1, **kw) -> None:
        super().__init__(**kw)
        self.ok_calls = ok_calls

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.calls >= self.ok_calls:
            self.calls += 1
            raise RuntimeError("embedder exploded")
        return super().embed(texts)


class ScriptedChat:
    """A chat model that replies with a fixed text (or a function of the messages), in small
    pieces as a stream does, and records what it was sent.

    `reply` may keep state or raise (a backend failing); `chunk` is the size of each streamed
    piece (None: the whole reply in one piece, even when it is empty); `name` is what the app
    shows and logs as the model. Each piece stands for one token: a reply stops after
    `max_tokens` pieces, as a real model's does (`limits` records each call's `max_tokens`).
    """

    name = "scripted"

    def __init__(self, reply="", *, name: str | None = None, chunk: int | None = 7) -> None:
        self.reply = reply
        self.chunk = chunk
        self.sent: list = []
        self.limits: list[int] = []
        if name is not None:
            self.name = name

    def stream(self, messages, max_tokens=512, temperature=0.0, **kw):
        self.sent.append(messages)
        self.limits.append(max_tokens)
        text = self.reply(messages) if callable(self.reply) else self.reply
        if self.chunk is None:
            yield text
            return
        for i in range(0, min(len(text), max(max_tokens, 0) * self.chunk), self.chunk):
            yield text[i: i + self.chunk]

    @property
    def calls(self) -> list[str]:
        """The last message (the user's prompt) of each call, in order."""
        return [m[-1].content for m in self.sent]

    def complete(self, messages, max_tokens=512, temperature=0.0, **kw) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))
