"""The model's one job in a computed answer: say which known metric a free-form question means.

Code reads the question first (rag.figures.engine's triggers). Only when no metric, line item or
assessment is named does the model get a menu of the library's metrics and line items and reply
with one name, as JSON. Code then validates the reply, in this order, and refuses it otherwise:
the name is in the library; the question itself names the metric or one of its operands (by a
label a filing prints for it, "operating earnings", "sales"), so a reply can only pick among
readings the question supports; and the engine's own gates still apply (a lookup needs a "what
was" question). The model never gives a number, a period or a formula: those stay with code.
A stronger endpoint picks better; it never changes the shape of the answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rag.figures.engine import _item_nodes
from rag.figures.metrics import ITEMS, METRICS
from rag.llm.base import ChatModel, Message, complete

CHOOSE_SYSTEM = (
    "You map a financial question to the one metric or line item it asks for, from a fixed "
    "list. Reply with JSON only, like {\"name\": \"operating_margin\"}, or {\"name\": \"none\"} "
    "when no entry fits. Never reply with a number.")
_JSON_RE = re.compile(r"\{[^{}]{0,200}\}")
_GENERIC = frozenset({"total", "net", "other", "and", "of", "the", "cost", "costs", "income",
                      "expense", "expenses", "change", "a", "in", "as", "to"})


@dataclass(frozen=True)
class Choice:
    name: str  # a key of METRICS or ITEMS
    kind: str  # "metric" | "item"
    raw: str  # the model's reply, kept for the answer's record


def menu() -> str:
    """The library as the model sees it: one line per metric and line item."""
    lines = [f"{m.name}: {m.label} = {m.definition}" for m in METRICS.values()]
    lines += [f"{i.name}: {i.label} (line item)" for i in ITEMS.values()]
    return "\n".join(lines)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z&']+", text.lower().replace("’", "'"))


def _names_in(question: str, phrase: str) -> bool:
    """The question holds the phrase's distinctive words in order ('operating earnings')."""
    want = [w for w in _words(phrase) if w not in _GENERIC]
    if not want:
        return False
    pattern = r"\b" + r"\W+(?:\w+\W+){0,2}?".join(re.escape(w) for w in want) + r"s?\b"
    return re.search(pattern, question.lower()) is not None


def supported(question: str, name: str) -> bool:
    """Whether the question itself names the metric or one of its operands."""
    if name in METRICS:
        m = METRICS[name]
        if _names_in(question, m.label):
            return True
        items = [ITEMS[n[1]] for n in _item_nodes(m.formula) if n[1] in ITEMS]
    elif name in ITEMS:
        items = [ITEMS[name]]
    else:
        return False
    return any(_names_in(question, a) for it in items for a in (it.label, *it.aliases))


def choose(question: str, model: ChatModel) -> Choice | None:
    """The library entry the model says the question means, if code accepts it; else None."""
    msgs = [Message("system", CHOOSE_SYSTEM),
            Message("user", f"List:\n{menu()}\n\nQuestion: {question}\nJSON:")]
    try:
        raw = complete(model, msgs, max_tokens=30)
    except Exception:  # noqa: BLE001 - an aid: without it the passages still answer
        return None
    m = _JSON_RE.search(raw or "")
    if not m:
        return None
    try:
        data = json.loads(m.group(0))
    except ValueError:
        return None
    name = str(data.get("name", "")).strip().lower() if isinstance(data, dict) else ""
    if name in METRICS and supported(question, name):
        return Choice(name, "metric", raw)
    if name in ITEMS and supported(question, name):
        return Choice(name, "item", raw)
    return None
