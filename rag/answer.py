"""Grounded answers: retrieve, prompt, stream, then check every sentence against its passage.

Document text reaches the model only as quoted data: each passage is cleaned of invisible and
active content, its instruction-like sentences neutralised (rag.injection), and delimited.
The reply is checked for obedience (a planted code word, the system prompt, an outside link,
an answer to some other question): such a reply is refused and the evidence shown instead.

Citations are checked, not trusted: a marker pointing at no passage is dropped, and each
sentence is judged against its cited span (rag.claims: figures with their units and years,
direction words, the company named, boilerplate never counting). A sentence that fails is
removed from the answer and recorded in `Answer.rejected`; when none survives, the answer is
the closest evidence with "the documents do not state this directly". When retrieval finds
nothing relevant, or the model says the passages do not hold the answer, the result is an
honest abstention with the closest passages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from rag import claims, followup
from rag.claims import MIN_SUPPORT, norm_number, numbers_in, support_of
from rag.claims import claim_numbers as _claim_numbers
from rag.context import FOCUS_CHARS, focus, glossary_note, label_rows, select, term_weights
from rag.injection import Neutralised, check_output, clean_text, neutralise, outside_text
from rag.llm.base import ChatModel, Message, complete
from rag.llm.prompts import (
    ANSWER_SYSTEM,
    ANSWER_USER,
    PASSAGE,
    REWRITE_SYSTEM,
    REWRITE_USER,
)
from rag.retrieve import (
    Retriever,
    SearchFilter,
    SearchResult,
    plan_query,
    tokenize,
)
from rag.text.lexicon import FINANCE, Lexicon
from rag.text.sentences import ANSWER, QUOTE
from rag.types import Chunk, Citation, Hit

# Relevance floor for answering at all: best dense similarity, or lexical coverage of the
# question's words in the best passage. Below both, the documents most likely do not say.
MIN_DENSE = 0.30
MIN_COVERAGE = 0.6
__all__ = ["MIN_SUPPORT", "PROMPTS", "Answer", "Answerer", "Citation", "Prompt", "build_messages",
           "build_prompt", "check_citations",
           "check_claims", "norm_number", "numbers_in", "sanitize_passage", "support_of"]

NOT_DIRECTLY = "The documents do not state this directly."
DO_NOT_SAY = "The documents do not say. The closest passages are shown below"
WITHHELD = "(the model's reply, withheld: it followed text found in a document)"

_CITE_RE = re.compile(r"\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")
# A marker after the full stop ("... million. [1] Next") stays with its sentence.
_SENT_SPLIT = ANSWER.pattern


@dataclass
class Answer:
    question: str
    rewritten: str
    text: str
    citations: list[Citation]
    abstained: bool
    hits: list[Hit]
    model: str
    filter: SearchFilter = field(default_factory=SearchFilter)
    focused: bool = False
    seconds: float = 0.0
    first_token_s: float | None = None
    raw: str = ""
    flags: list[str] = field(default_factory=list)
    computation: dict[str, Any] | None = None
    # Sentences of the model's reply removed by the checks: {"sentence", "reason", "passages"}.
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        extra = {"computation": self.computation} if self.computation else {}
        return {**extra,
            "answer": self.text,
            "rejected": self.rejected,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "question": self.question,
            "rewritten_query": self.rewritten,
            "model": self.model,
            "seconds": round(self.seconds, 2),
            "first_token_s": round(self.first_token_s, 2) if self.first_token_s else None,
            "flags": self.flags,
            "passages": [h.to_dict() for h in self.hits],
        }

    def to_markdown(self) -> str:
        lines = [f"**Q:** {self.question}", "", self.text, ""]
        for c in self.citations:
            lines.append(f"[{c.n}] {c.chunk.doc_name}, {c.chunk.location()}: “{c.quote}”")
        for r in self.rejected:
            lines.append(f"Removed, not supported: ~~{r['sentence']}~~ ({r['reason']})")
        for f in self.flags:  # every warning the page showed stays with its answer
            lines.append(f"Warning: {f}")
        if self.computation and self.computation.get("formula"):
            lines.append(f"Computed: {self.computation['formula']}")
        return "\n".join(lines)


@lru_cache(maxsize=512)
def guard(text: str) -> Neutralised:
    """The passage as the model may see it, and what was taken out (cached per text)."""
    return neutralise(text)


def sanitize_passage(text: str) -> str:
    """Document text as quoted data: invisible and active content removed, instruction-like
    sentences (in many phrasings and languages) replaced by a marker."""
    return guard(text).text


def best_quote(sentence: str, passage: str) -> str:
    """The passage's line or sentence that best supports the claim (an exact substring)."""
    parts = QUOTE.split(passage)
    if not parts:
        return passage[:300]
    claim = set(tokenize(_CITE_RE.sub(" ", sentence)))
    nums = _claim_numbers(sentence)

    def score(p: str) -> float:
        toks = set(tokenize(p))
        return len(claim & toks) + 2.0 * len(nums & numbers_in(p))

    best = max(range(len(parts)), key=lambda i: score(parts[i]))
    quote = parts[best]
    # A short table row or label keeps the next line for context; a whole sentence stands on
    # its own (its neighbour may be anything, an instruction planted beside it among them).
    if len(quote) < 60 and best + 1 < len(parts) and not _SENTENCE_END.search(quote):
        quote = quote + "\n" + parts[best + 1]
    return quote[:400]


_SENTENCE_END = re.compile(r"[.!?。！？][\"'”’)\]]*\s*$")


_LIST_MARK = re.compile(r"^(?:\d{1,2}[.)]|[-*•])(?=\s|$)")


def split_sentences(text: str) -> list[str]:
    """The reply's sentences; a bare list number ("1.", which the splitter cuts off as a
    sentence of its own) stays with its item."""
    out: list[str] = []
    carry = ""
    for s in _SENT_SPLIT.split(text):
        s = (s or "").strip()
        if not s:
            continue
        if _LIST_MARK.fullmatch(s):
            carry = s
            continue
        out.append(f"{carry} {s}" if carry else s)
        carry = ""
    return out


@dataclass
class _Sentence:
    body: str
    refs: list[int]
    inferred: bool
    nums: set[str]


def _analyse(text: str, hits: list[Hit], question: str = "",
             flags: list[str] | None = None) -> list[_Sentence]:
    """Each sentence of the reply with the passages it cites (1-based): markers that point
    nowhere dropped, a missing marker inferred, a misnumbered one moved (said so in `flags`)."""
    flags = [] if flags is None else flags
    given = frozenset(numbers_in(question))
    passage_numbers = [numbers_in(h.chunk.text) for h in hits]
    out: list[_Sentence] = []
    for sent in split_sentences(text):
        refs = []
        for m in _CITE_RE.finditer(sent):
            for part in re.split(r"\s*[,;]\s*", m.group(1)):
                n = int(part)
                if 1 <= n <= len(hits):
                    refs.append(n)
                else:
                    flags.append(f"dropped a citation [{n}] that points to no passage")
        body = _CITE_RE.sub("", sent).strip()
        body = re.sub(r"\s+([.,;:])", r"\1", body)
        if refs and not tokenize(body):  # a bare marker asserts nothing: nothing to check
            flags.append("dropped a citation marker that stands for no sentence")
            refs = []
        inferred = False
        nums = _claim_numbers(body, given)
        # Passages holding all of the sentence's figures verbatim, best-ranked first.
        have = [i for i, pn in enumerate(passage_numbers, 1) if nums and nums <= pn]
        if not refs and nums | set(tokenize(body)):
            # The model forgot a marker: attach the passage that supports the sentence best,
            # or else the best-ranked passage holding all its figures verbatim.
            best, best_s = None, 0.0
            for i, h in enumerate(hits, 1):
                s = support_of(body, h.chunk.text)
                if nums and i not in have:
                    s *= 0.5
                if s > best_s:
                    best, best_s = i, s
            if best is not None and best_s >= 0.6:
                refs, inferred = [best], True
            elif have and support_of(body, hits[have[0] - 1].chunk.text) >= 0.3:
                refs, inferred = [have[0]], True
        if refs and nums:
            # A marker whose passage lacks the sentence's figures, when another passage has
            # them all, is moved there (and said so): the model misnumbered its source.
            fixed = []
            for n in refs:
                if n not in have and have and not nums & passage_numbers[n - 1]:
                    flags.append(f"a citation was moved to the passage that holds "
                                 f"{', '.join(sorted(nums))}")
                    n, inferred = have[0], True
                fixed.append(n)
            refs = fixed
        out.append(_Sentence(body, list(dict.fromkeys(refs)), inferred, nums))
    return out


def _cite(sentences: list[_Sentence], hits: list[Hit],
          checked: dict[int, tuple[float, tuple[str, ...]]] | None = None
          ) -> tuple[str, list[Citation]]:
    """The answer text with markers renumbered 1..n in order of first use, and the citations.
    `checked` (sentence index -> (support, figures missing)) replaces the word count with the
    claim check's findings for the sentences it judged."""
    cited: dict[int, Citation] = {}
    order: list[int] = []
    out = []
    for si, s in enumerate(sentences):
        marks = []
        for n in s.refs:
            passage = hits[n - 1].chunk.text
            if checked is not None and si in checked:
                sup, missing = checked[si]
            else:
                missing = tuple(sorted(s.nums - numbers_in(passage)))
                sup = support_of(s.body, passage)
            ok = None if checked is None else True
            if n not in cited:
                cited[n] = Citation(len(order) + 1, hits[n - 1].chunk,
                                    best_quote(s.body, sanitize_passage(passage)), sup, missing,
                                    s.inferred, ok)
                order.append(n)
            else:
                prev = cited[n]
                cited[n] = Citation(prev.n, prev.chunk, prev.quote, min(prev.support, sup),
                                    tuple(sorted(set(prev.numbers_missing) | set(missing))),
                                    prev.inferred and s.inferred, ok)
            marks.append(f"[{cited[n].n}]")
        out.append(s.body + ("".join(marks) and " " + "".join(marks)))
    # a list item keeps its own line, as the model wrote it
    text = "".join(("\n" if i and _LIST_MARK.match(o) else " " if i else "") + o
                   for i, o in enumerate(out))
    return text.strip(), [cited[n] for n in order]


def check_citations(text: str, hits: list[Hit],
                    question: str = "") -> tuple[str, list[Citation], list[str]]:
    """Verify each sentence's citations; drop markers that point nowhere; infer missing ones.

    A report on every sentence (kept, with its citation's figures missing and word support):
    `check_claims` is what removes the sentences that fail. Numbers the question itself
    states (its year, say) are not claims of the answer.

    Returns the cleaned answer text (markers renumbered 1..n in order of first use), the
    citations, and human-readable flags.
    """
    flags: list[str] = []
    sentences = _analyse(text, hits, question, flags)
    text, citations = _cite(sentences, hits)
    for c in citations:
        if c.numbers_missing:
            flags.append(f"[{c.n}] the cited passage does not contain "
                         + ", ".join(c.numbers_missing))
        elif c.support < MIN_SUPPORT:
            flags.append(f"[{c.n}] weak support: few of the sentence's words are in the passage")
    return text, citations, flags


@dataclass
class ClaimCheck:
    """The answer with only its supported sentences, their citations, flags, and the
    sentences removed with the reason (`claims` counts the supported ones)."""

    text: str
    citations: list[Citation]
    flags: list[str]
    rejected: list[dict[str, Any]]
    claims: int


def check_claims(text: str, hits: list[Hit], question: str = "",
                 lexicon: Lexicon = FINANCE) -> ClaimCheck:
    """Judge each sentence against its cited span (rag.claims, reading terms with `lexicon`)
    and keep only those that pass.

    A sentence about the documents themselves ("The passages do not say why.") is kept
    without a citation but is not a claim. Markers are renumbered over what is kept."""
    flags: list[str] = []
    sentences = _analyse(text, hits, question, flags)
    given = frozenset(numbers_in(question))
    asked = claims.kind_asked(question)
    chunks = [h.chunk for h in hits]
    repeated = claims.repeated_lines(chunks)
    kept: list[_Sentence] = []
    found: dict[int, tuple[float, tuple[str, ...]]] = {}
    rejected: list[dict[str, Any]] = []
    n_claims = 0
    for s in sentences:
        if not s.refs and claims.is_meta(s.body):
            kept.append(s)
            continue
        v = claims.judge(s.body, [chunks[n - 1] for n in s.refs], chunks, given, repeated,
                         asked, lexicon)
        if v.ok:
            found[len(kept)] = (v.support, ())
            kept.append(s)
            n_claims += 1
        else:
            rejected.append({"sentence": s.body, "reason": "; ".join(v.reasons),
                             "passages": [source_label(chunks[n - 1]) for n in s.refs]})
    text, citations = _cite(kept, hits, found)
    for r in rejected:
        flags.append(f"removed a sentence the passages do not support: {r['reason']}")
    return ClaimCheck(text, citations, flags, rejected, n_claims)


def relevant_enough(question: str, result: SearchResult, lexicon: Lexicon = FINANCE) -> bool:
    """Whether the passages are close enough to the question to ask the model at all.

    Coverage counts the words of what is searched for (the question without its
    answer-format instructions: "Answer in USD millions" is not asked of the documents)."""
    if not result.hits:
        return False
    best_dense = max((h.scores.get("dense", 0.0) for h in result.hits), default=0.0)
    q = set(tokenize(plan_query(question, lexicon).core))
    coverage = 0.0
    if q:
        coverage = max(len(q & set(tokenize(h.chunk.text))) / len(q) for h in result.hits)
    return best_dense >= MIN_DENSE or coverage >= MIN_COVERAGE


def source_label(c: Chunk) -> str:
    return f"{c.doc_name}, {c.location()}"


def quoted_source(c: Chunk) -> str:
    """The passage's source label as data: a file name can carry an instruction too."""
    label = clean_text(source_label(c)).replace("\n", " ")
    return label if not guard(label).removed else f"document {c.doc_id[:8]}, {c.location()}"


PROMPTS = ("compact", "full")
"""How much of the retrieved passages the model is shown: `compact` (the default) fewer and
shorter passages when the question is narrow (rag.context.select); `full` every passage cut to
`FOCUS_CHARS`, as before (the latency benchmark's baseline)."""


@dataclass(frozen=True)
class Prompt:
    """The answer prompt and which retrieved passage each of its numbers stands for."""

    messages: list[Message]
    shown: list[int]  # prompt passage n is hits[shown[n - 1]]

    def renumber(self, text: str) -> str:
        """The reply's markers in the evidence's numbering (hit rank): a marker that names
        no passage of the prompt is kept out of range, so the check drops it."""
        if self.shown == list(range(len(self.shown))):
            return text

        def one(m: re.Match[str]) -> str:
            nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
            return "[" + ", ".join(str(self.shown[n - 1] + 1 if 1 <= n <= len(self.shown)
                                       else 99) for n in nums) + "]"
        return _CITE_RE.sub(one, text)


def build_prompt(question: str, hits: list[Hit], mode: str = "full",
                 lexicon: Lexicon = FINANCE) -> Prompt:
    """The answer prompt: the fixed rules first (the system message, identical for every
    question, so llama.cpp reuses their evaluated tokens), then each passage neutralised
    (rag.injection) and quoted between delimiters, cut to what bears on the question, table
    figures labelled with their years (rag.context), how filings word the question's terms
    (its `lexicon` terms), and the question last. `mode` is one of `PROMPTS`."""
    if mode not in PROMPTS:
        raise ValueError(f"unknown prompt mode '{mode}': one of {', '.join(PROMPTS)}")
    texts = [sanitize_passage(h.chunk.text) for h in hits]
    weights = term_weights(question, texts, lexicon)
    chosen = (select(question, texts, weights, lexicon) if mode == "compact"
              else [(i, FOCUS_CHARS) for i in range(len(hits))])
    passages = "\n".join(
        PASSAGE.format(n=n, source=quoted_source(hits[i].chunk),
                       text=label_rows(focus(texts[i], weights, budget)))
        for n, (i, budget) in enumerate(chosen, 1)
    )
    return Prompt([Message("system", ANSWER_SYSTEM),
                   Message("user", ANSWER_USER.format(passages=passages, question=question,
                                                      note=glossary_note(question,
                                                                         lexicon)))],
                  [i for i, _ in chosen])


def build_messages(question: str, hits: list[Hit], mode: str = "full",
                   lexicon: Lexicon = FINANCE) -> list[Message]:
    """The answer prompt's messages (see `build_prompt`)."""
    return build_prompt(question, hits, mode, lexicon).messages


class _Renumbered:
    """Streamed reply pieces with their markers renumbered (`Prompt.renumber`): text from an
    open '[' is held back until its marker closes, so a marker split across pieces is whole."""

    def __init__(self, prompt: Prompt) -> None:
        self.prompt = prompt
        self.held = ""

    def feed(self, piece: str) -> str:
        text = self.held + piece
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= 12:
            self.held, text = text[cut:], text[:cut]
        else:
            self.held = ""
        return self.prompt.renumber(text)

    def flush(self) -> str:
        text, self.held = self.held, ""
        return self.prompt.renumber(text)


# How models say the passages do not hold the answer, at the start of a reply.
_ABSTAIN_RE = re.compile(
    r"^\W*(?:NOT IN DOCUMENTS"
    r"|I (?:do not|don't|cannot|can't|could not|couldn't) (?:know|find|answer|determine)"
    r"|(?:the |these |this )?(?:\w+ ){0,2}(?:passages?|documents?|context|information|text)\b"
    r"[^.]{0,60}?\b(?:do(?:es)? not|don't|doesn't|did not|fails? to) (?:contain|provide|"
    r"mention|say|include|answer|specify|state|give|have|discuss|disclose)"
    r"|none of the (?:\w+ )?(?:passages?|documents?)\b[^.]{0,20}?\b(?:mention|contain|say|"
    r"provide|include|state|answer|give|specif|discuss|disclose)"
    r"|(?:there is|there's|there are) no (?:information|mention|data|details?|passages?)"
    r"|(?:it is |this is )?not (?:possible|mentioned|stated|specified|provided|given) )",
    re.IGNORECASE,
)


def says_not_in_documents(raw: str) -> bool:
    """The reply is empty, or opens by saying the passages do not hold the answer and no
    later sentence cites a passage (a partial answer after such an opening is kept)."""
    sentences = split_sentences(raw.strip())
    if not sentences:
        return True
    if not _ABSTAIN_RE.search(sentences[0][:200]):
        return False
    return not any(_CITE_RE.search(s) for s in sentences[1:])


_OFF_TOPIC = ("no passage supports it", "few of its words", "names ")


def evidence_answer(base: dict[str, Any], raw: str, flags: list[str],
                    rejected: list[dict[str, Any]], lexicon: Lexicon = FINANCE) -> Answer:
    """No sentence of the reply stands: the closest evidence instead, quoted from the passage
    as the model saw it (instruction-like text stays out). A reply none of whose sentences
    any passage bears on at all (an answer from the model's own knowledge) gets "the
    documents do not say"."""
    hits = base["hits"]
    q = base["rewritten"]
    off_topic = bool(rejected) and all(
        r["reason"].startswith(_OFF_TOPIC) for r in rejected)
    if not hits or off_topic:
        return Answer(text=DO_NOT_SAY, citations=[], abstained=True, raw=raw, flags=flags,
                      rejected=rejected, **base)
    texts = [sanitize_passage(h.chunk.text) for h in hits]
    best = max(range(len(hits)),
               key=lambda i: (support_of(q, texts[i], glossary=True, lexicon=lexicon), -i))
    quote = best_quote(q, texts[best])
    cite = Citation(1, hits[best].chunk, quote, support_of(q, texts[best]), (), False, True)
    text = f"{NOT_DIRECTLY} The closest passage reads: “{quote}” [1]"
    return Answer(text=text, citations=[cite], abstained=True, raw=raw, flags=flags,
                  rejected=rejected, **base)



@dataclass(frozen=True)
class Evidence:
    """What retrieval found, yielded by `Answerer.stream` before anything is written, so a
    page can show the passages (and the documents the question was focused on) at once."""

    hits: list[Hit]
    filter: SearchFilter
    focused: bool
    seconds: float


@dataclass(frozen=True)
class Progress:
    """A step of the answer after the model's text: 'checking each sentence...'."""

    message: str


def with_figures(figures: Answer, explained: Answer) -> Answer:
    """The computed figures an explanation is about, above the model's checked explanation:
    one answer, the explanation's citations numbered after the figures' cells."""
    m = len(figures.citations)
    text = _CITE_RE.sub(lambda x: "".join(f"[{int(n) + m}]" for n in re.findall(r"\d+", x.group(0))),
                        explained.text)
    cites = figures.citations + [replace(c, n=c.n + m) for c in explained.citations]
    flags = list(explained.flags)
    if explained.abstained:
        flags.append("the figures are computed; the passages do not explain the change")
    return replace(explained, text=f"{figures.text}\n\n{text}", citations=cites,
                   abstained=False, computation=figures.computation, flags=flags,
                   model=f"{explained.model} + computed from cells")


class Answerer:
    """Answers questions over one workspace with one chat model."""

    def __init__(self, retriever: Retriever, model: ChatModel, k: int = 5,
                 max_tokens: int = 400, figures: Any = None, choose_metric: bool = True,
                 prompt: str = "full", lexicon: Lexicon | None = None) -> None:
        self.retriever = retriever
        # The workspace's vocabulary (rag.services passes it): prompts, follow-ups and claim
        # checks read terms with it. None: the retriever's, else the finance default.
        self.lexicon: Lexicon = (lexicon if lexicon is not None
                                 else getattr(retriever, "lexicon", None) or FINANCE)
        self.model = model
        self.k = k
        self.max_tokens = max_tokens
        if prompt not in PROMPTS:
            raise ValueError(f"unknown prompt mode '{prompt}': one of {', '.join(PROMPTS)}")
        self.prompt = prompt  # how much of the passages the model sees (PROMPTS)
        self.figures = figures  # a rag.figures.engine.FigureEngine, or None
        # a numeric question naming no known metric: the model may pick one, code validates
        self.choose_metric = choose_metric
        self.last_prompt: Prompt | None = None  # the last answer prompt (benchmarks read it)

    def computed(self, question: str, result: SearchResult, base: dict[str, Any],
                 t0: float) -> Answer | None:
        """The answer by computation over cited cells, when the question is a numeric one the
        figure engine reads; None to let the model answer from the passages."""
        if self.figures is None:
            return None
        from rag.figures.answer import missing_text

        ws = self.retriever.workspace
        ready = ws.ready_ids()
        flt = result.filter
        doc_ids = [d for d in flt.doc_ids if d in ready] if flt.doc_ids else ready
        chosen = None
        try:
            num = self.figures.answer(question, doc_ids)
            if num is None and self.choose_metric and self.figures.wants_choice(question):
                from rag.figures.choose import choose

                chosen = choose(question, self.model)
                if chosen is not None:
                    num = self.figures.answer(question, doc_ids, chosen=chosen.name)
                    if num is not None and not num.ok:
                        num = None  # the model's reading found no figures: the passages answer
        except Exception:  # noqa: BLE001 - computation is an aid: the model path still answers
            return None
        if num is not None and chosen is not None:
            done = self._from_cells(num, base, t0)
            done.flags.append(f"the model read the question as {chosen.name.replace('_', ' ')}; "
                              "code checked that the question names it, and computed it")
            return done
        if num is None or (not num.ok and num.computations
                           and num.computations[0].kind == "lookup"):
            # no table answers it (a line item no table holds): a change the passages state
            # as two figures is still computed; otherwise the model reads the passages
            return self.prose_change(question, result, base, t0)
        if not num.ok:
            names = sorted({d.name for d in ws.documents() if d.doc_id in set(doc_ids)})
            return Answer(text=missing_text(num, names), citations=[], abstained=True,
                          seconds=time.perf_counter() - t0, computation=num.to_dict(),
                          flags=[f"not computed: no figure for {m}" for m in num.missing],
                          **base)
        return self._from_cells(num, base, t0)

    def prose_change(self, question: str, result: SearchResult, base: dict[str, Any],
                     t0: float) -> Answer | None:
        """'By how many points did X raise guidance?' answered from a sentence that states the
        two figures ('9 percent (previously 8 percent)'): the difference computed by code."""
        asked = claims.kind_asked(question)
        if asked is None or asked[0] != "change" or not result.hits:
            return None
        from rag.figures.prose import change_for

        ch = change_for(question, [h.chunk for h in result.hits])
        if ch is None:
            return None
        what = ch.subject[:1].upper() + ch.subject[1:] if ch.subject else "The change"
        text = (f"**Change: {'-' if ch.result < 0 else ''}{ch.result_text}** [1]\n"
                f"Computed: {ch.formula}.\n\n"
                f"Figures used:\n- {what}: {ch.new_text} (now) and {ch.old_text} (before), as "
                f"stated in “{ch.sentence}” ({source_label(ch.chunk)}) [1]")
        from rag.figures.engine import cited

        cite = Citation(1, ch.chunk, ch.sentence, 1.0, (), False, True)
        operand = {"name": ch.subject, "citation": cited(cite)}
        computation = {"kind": "prose change", "metric": "change", "period": "",
                       "formula": ch.formula, "definition": "later figure - earlier figure",
                       "operands": [{**operand, "value": ch.new_text, "period": "now"},
                                    {**operand, "value": ch.old_text, "period": "before"}],
                       "result": ch.result_text, "missing": []}
        return Answer(text=text, citations=[cite], abstained=False,
                      seconds=time.perf_counter() - t0, computation=computation, **base)

    def _from_cells(self, num: Any, base: dict[str, Any], t0: float) -> Answer:
        """A computed answer's text and citations: each operand cites its cell's passage."""
        from rag.figures.answer import cell_chunk, render

        ws = self.retriever.workspace
        text, ops = render(num)
        chunks_by_doc: dict[str, list[Chunk]] = {}
        citations = []
        held: dict[int, Chunk] = {}  # id(cell) -> the passage cited for it
        for i, o in enumerate(ops, 1):
            doc_chunks = chunks_by_doc.setdefault(o.cell.doc_id, ws.chunks_of(o.cell.doc_id))
            held[id(o.cell)] = cell_chunk(o.cell, doc_chunks)
            citations.append(o.citation(i, held[id(o.cell)]))
        for c in num.computations:  # an operand cited under another period's twin
            for o in c.operands:
                held.setdefault(id(o.cell), cell_chunk(
                    o.cell, chunks_by_doc.setdefault(o.cell.doc_id, ws.chunks_of(o.cell.doc_id))))
        return Answer(text=text, citations=citations, abstained=False,
                      seconds=time.perf_counter() - t0, computation=num.to_dict(held), **base)

    def context_figures(self, question: str, result: SearchResult, base: dict[str, Any],
                        t0: float) -> Answer | None:
        """For a question that asks why a metric changed ('What drove the operating margin
        change in FY2022?'): the metric computed for that period and the one before, to stand
        above the model's explanation; None when there is no such metric or no figure."""
        if self.figures is None or not hasattr(self.figures, "context"):
            return None
        ws = self.retriever.workspace
        ready = ws.ready_ids()
        flt = result.filter
        doc_ids = [d for d in flt.doc_ids if d in ready] if flt.doc_ids else ready
        try:
            num = self.figures.context(question, doc_ids)
        except Exception:  # noqa: BLE001 - an aid: the model path still answers
            return None
        return None if num is None else self._from_cells(num, base, t0)

    def companies(self) -> list[str]:
        """The companies the workspace's documents are about (from their names)."""
        ws = getattr(self.retriever, "workspace", None)
        try:
            docs = ws.documents() if ws is not None else []
        except Exception:  # noqa: BLE001 - an aid to follow-ups only
            docs = []
        names: dict[str, str] = {}
        for d in docs:
            for part in re.split(r"[_\-\s.]+", d.name):
                low = part.lower()
                if low in claims.doc_names(Chunk(id="", doc_id="", doc_name=d.name, ordinal=0,
                                                 text="")):
                    names.setdefault(low, part if not part.isupper() or len(part) <= 3
                                     else part.capitalize())
        return list(names.values())

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """A standalone version of a follow-up question (unchanged when it already is one).

        A deterministic resolver first (rag.followup: the previous question's subject,
        company and period carried over, the period or company the follow-up names put in);
        the model only when it cannot tell, and then only a question is taken from it."""
        if not history:
            return question
        companies = self.companies()
        if not followup.is_followup(question, companies, self.lexicon):
            return question
        previous = followup.resolved_history([q for q, _ in history], companies, self.lexicon)
        resolved = followup.resolve(question, previous, companies, history[-1][1])
        if resolved:
            return resolved
        convo = "\n".join(f"User: {q}\nAssistant: {a[:300]}" for q, a in history[-3:])
        try:
            out = complete(self.model, [Message("system", REWRITE_SYSTEM),
                                        Message("user", REWRITE_USER.format(history=convo,
                                                                            question=question))],
                           max_tokens=80).strip().strip('"').splitlines()
        except Exception:  # noqa: BLE001 - rewriting is an aid; fall back below
            out = []
        text = out[0].strip() if out else ""
        # Small models sometimes answer instead of rewriting, or echo: only a new question.
        if (5 <= len(text) <= 4 * len(question) + 200 and text.endswith("?")
                and text.lower() != question.strip().lower()):
            return text
        return question

    def stream(self, question: str, history: list[tuple[str, str]] | None = None,
               filter: SearchFilter | None = None, focus: bool = True
               ) -> Iterator[str | Answer | Evidence | Progress]:
        """Yield the `Evidence` retrieval found, then answer text pieces as they are
        generated, a `Progress` while the reply is checked, then the checked `Answer`."""
        t0 = time.perf_counter()
        rewritten = self.rewrite(question, history or [])
        result = self.retriever.retrieve(rewritten, k=self.k, filter=filter, focus=focus)
        hits = result.hits
        yield Evidence(hits, result.filter, result.focused, time.perf_counter() - t0)
        base: dict[str, Any] = {"question": question, "rewritten": rewritten, "hits": hits,
                "model": self.model.name, "filter": result.filter, "focused": result.focused}
        done = self.computed(rewritten, result, {**base, "model": "computed from cells"}, t0)
        if done is not None:
            yield done.text
            done.first_token_s = time.perf_counter() - t0
            yield done
            return
        ctx = self.context_figures(rewritten, result, {**base, "model": "computed from cells"},
                                   t0)
        first = None
        if ctx is not None:
            yield ctx.text + "\n\n"
            first = time.perf_counter() - t0
        if not relevant_enough(rewritten, result, self.lexicon):
            msg = ("The documents do not say. The closest passages are shown below"
                   if hits else "The documents do not say: nothing in this workspace matches")
            if ctx is not None:
                msg = "The passages do not say what drove it."
            yield msg
            answer = Answer(text=msg, citations=[], abstained=True,
                            seconds=time.perf_counter() - t0, **base)
            yield with_figures(ctx, answer) if ctx is not None else answer
            return
        raw = ""
        prompt = build_prompt(rewritten, hits, self.prompt, self.lexicon)
        numbered = _Renumbered(prompt)
        for piece in self.model.stream(prompt.messages, max_tokens=self.max_tokens):
            if first is None:
                first = time.perf_counter() - t0
            text = numbered.feed(piece)
            raw += text
            if text:
                yield text
        rest = numbered.flush()
        raw += rest
        if rest:
            yield rest
        self.last_prompt = prompt
        yield Progress("Checking each sentence against its passage…")
        answer = self.finish(raw, base)
        if ctx is not None:
            answer = with_figures(ctx, answer)
        answer.seconds = time.perf_counter() - t0
        answer.first_token_s = first
        yield answer

    def finish(self, raw: str, base: dict[str, Any]) -> Answer:
        """The checked answer: an obeying reply is refused, unsupported sentences removed."""
        hits = base["hits"]
        if says_not_in_documents(raw):
            return Answer(text=DO_NOT_SAY, citations=[], abstained=True, raw=raw, **base)
        if not tokenize(_CITE_RE.sub(" ", raw)):  # nothing but markers: no answer at all
            return Answer(text=DO_NOT_SAY, citations=[], abstained=True, raw=raw, **base)
        question = f"{base['question']} {base['rewritten']}"
        seen = [guard(h.chunk.text) for h in hits]
        verdict = check_output(raw, question, [g.text for g in seen],
                               [r for g in seen for r in g.removed], ANSWER_SYSTEM,
                               [outside_text(h.chunk.text, g.removed)
                                for h, g in zip(hits, seen)])
        if not verdict.ok:
            # The reply itself is not shown: it may hold the prompt or an outside link.
            return evidence_answer(base, raw, [f"refused the model's reply: {verdict.reason}"],
                                   [{"sentence": WITHHELD, "reason": verdict.reason,
                                     "passages": []}], self.lexicon)
        chk = check_claims(raw, hits, base["rewritten"], self.lexicon)
        if not tokenize(_CITE_RE.sub(" ", chk.text)) and not chk.rejected:
            # nothing but markers: no answer at all
            return Answer(text=DO_NOT_SAY, citations=[], abstained=True, raw=raw,
                          flags=chk.flags, **base)
        if not chk.claims:
            return evidence_answer(base, raw, chk.flags, chk.rejected, self.lexicon)
        return Answer(text=chk.text, citations=chk.citations, abstained=False, raw=raw,
                      flags=chk.flags, rejected=chk.rejected, **base)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None,
            filter: SearchFilter | None = None, focus: bool = True) -> Answer:
        final = None
        for part in self.stream(question, history, filter, focus):
            if isinstance(part, Answer):
                final = part
        assert final is not None
        return final


def warm_messages() -> list[Message]:
    """An answer prompt with no passage and no question: its start is every prompt's start."""
    return [Message("system", ANSWER_SYSTEM),
            Message("user", ANSWER_USER.format(passages=PASSAGE.format(n=1, source="", text=""),
                                               note="", question=""))]


def choose_warm_messages() -> list[Message]:
    """The metric-choice prompt (rag.figures.choose) with no question: its rules and the
    metric library (about 650 tokens) are the same for every numeric question."""
    from rag.figures.choose import CHOOSE_SYSTEM, menu

    return [Message("system", CHOOSE_SYSTEM),
            Message("user", f"List:\n{menu()}\n\nQuestion: \nJSON:")]


def warm_model(model: ChatModel, figures: bool = True) -> None:
    """Have a local model evaluate the fixed start of the prompts a question runs now: the
    metric choice's (when figures are computed) and the answer's rules, so the first question
    evaluates only its own passages; other backends need nothing."""
    warm = getattr(model, "warm", None)
    if warm is None:
        return
    if figures:
        warm(choose_warm_messages())
    warm(warm_messages())
