"""The chat-model protocol every backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@runtime_checkable
class ChatModel(Protocol):
    """Anything that answers a list of messages, streaming text pieces."""

    name: str

    def stream(self, messages: list[Message], max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        """Yield the answer piece by piece."""
        ...


def complete(model: ChatModel, messages: list[Message], max_tokens: int = 512,
             temperature: float = 0.0) -> str:
    """The whole answer as one string."""
    return "".join(model.stream(messages, max_tokens=max_tokens, temperature=temperature))
