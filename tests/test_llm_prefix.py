"""The packaged model (real llama.cpp, no fake) evaluates the answer prompt's fixed part once:
a second question on the same Answerer, even after another kind of prompt ran in between,
evaluates only its own tokens. Asserted on llama.cpp's own evaluated-token counters."""

from __future__ import annotations

import pytest

from rag.answer import Answerer, build_prompt, warm_messages, warm_model
from rag.llm.base import Message, complete
from rag.retrieve import SearchFilter, SearchResult
from rag.types import Chunk, Hit

pytestmark = pytest.mark.slow


def hit(text: str, page: int) -> Hit:
    c = Chunk(id=f"d-{page}", doc_id="d", doc_name="ACME_2024_10K", ordinal=page, text=text,
              kind="pdf", page=page)
    return Hit(c, 0.6, {"dense": 0.6})


HITS = [hit("Net sales were $4,210 million in 2024, up 6% from $3,972 million in 2023.", 12),
        hit("Purchases of property, plant and equipment (PP&E) were $1,577 million in 2024.", 60),
        hit("The Company had about 92,000 employees at year end 2024.", 7)]


class _Retr:
    def retrieve(self, query, k=5, filter=None, focus=True):
        return SearchResult(HITS[:k], filter or SearchFilter())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from rag.config import Settings
    from rag.llm.local_model import resolve_local_model
    from rag.llm.providers import LlamaCppChat

    s = Settings()
    return LlamaCppChat(resolve_local_model(s.models_dir), n_ctx=2048, threads=s.threads)


def common(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def prompt(model, question: str, hits: list[Hit]) -> list[int]:
    return model.prompt_tokens(build_prompt(question, hits, "compact").messages)


def test_second_question_reuses_the_evaluated_prefix(model):
    q1, q2 = "What were net sales in 2024?", "How many employees did ACME have in 2024?"
    p1 = prompt(model, q1, HITS)
    rules = common(p1, model.prompt_tokens(warm_messages()))
    shared = common(p1, prompt(model, q2, HITS))
    assert rules >= 100  # the rules: about 170 tokens before anything question-specific
    warm_model(model)  # what the app does at start
    answerer = Answerer(_Retr(), model, prompt="compact", max_tokens=40)
    answerer.ask(q1)
    first = model.last
    assert first.prompt_tokens == len(p1)
    assert first.reused_tokens >= rules  # warmed: the first question skips the rules too
    assert first.evaluated_tokens == first.prompt_tokens - first.reused_tokens

    # another kind of prompt in between (a metric choice, a brief) evicts the answer prefix
    complete(model, [Message("system", "Reply with one word."), Message("user", "Hello")],
             max_tokens=3)
    assert model.last.reused_tokens < 10

    answerer.ask(q2)
    second = model.last
    assert second.restored  # the saved state of the answer prompt was loaded
    assert second.reused_tokens >= shared >= rules
    # llama.cpp's counters: only the question's own tokens were evaluated
    assert second.evaluated_tokens == second.prompt_tokens - second.reused_tokens
    assert second.evaluated_tokens <= second.prompt_tokens - rules
    assert second.generated_tokens > 0


def test_without_saved_states_the_prefix_is_evaluated_again(model):
    q1, q2 = "What were net sales in 2024?", "How many employees did ACME have in 2024?"
    rules = common(prompt(model, q2, HITS), model.prompt_tokens(warm_messages()))
    model.prefix_states = 0
    try:
        model._states.clear()
        answerer = Answerer(_Retr(), model, prompt="compact", max_tokens=20)
        answerer.ask(q1)
        complete(model, [Message("system", "Reply with one word."), Message("user", "Hi")],
                 max_tokens=3)
        answerer.ask(q2)
        assert not model.last.restored
        assert model.last.evaluated_tokens >= rules  # the rules paid for again
    finally:
        model.prefix_states = 3
