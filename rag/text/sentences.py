"""Sentence splitting: one splitter, with its options named, and the settings each caller uses.

Two ways of cutting text serve different jobs:

- **cased** (the default): a mark ends a sentence only when whitespace and then the start of a
  new sentence (a capital, or one of `openers`) follow, so '3.5%', 'U.S. dollars' and
  'e.g. the' stay whole. For questions, answers and passages read as prose.
- **every mark** (`needs_capital=False`): every run of marks ends a sentence whatever follows,
  except a period before a digit (a decimal point: '$1.15', '.5%'), and no whitespace is
  needed after it. For checking claims and reading figure pairs, where each clause a filing
  prints counts, lower-case ones too. Its pieces keep their whitespace, so filtering some out
  and joining the rest leaves the text otherwise as it was.

Newlines are another named choice: ignored (plain whitespace), ending a sentence at every line
break, or only at a blank line (a paragraph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

Newlines = Literal["ignore", "line", "paragraph"]

# A citation marker as answers write it: [1], [2, 3], [1; 4].
CITATION = r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]"


def _cls(chars: str) -> str:
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


@dataclass(frozen=True)
class SentenceSplitter:
    """How a text is cut into sentences. Every option is a difference some caller needs.

    Attributes:
        marks: the characters that end a sentence (chunking adds ';:' so the long clauses of
            filing prose become pieces of their own).
        needs_capital: True (cased): a mark ends a sentence only when whitespace and a new
            sentence's start follow. False (every mark): every run of marks ends one, except a
            period before a digit.
        openers: cased only: characters that may open the next sentence in place of a capital
            (quotes, a parenthesis).
        opener_needs_capital: cased only: an opener counts only when a capital follows it
            ('"Revenue grew' starts a sentence, '"adjusted" figures' does not).
        digits_start: cased only: a digit or '$' may start a sentence ('2025 revenue ...').
        also_starts: cased only: other characters that may start a sentence ('€£').
        any_start: cased only: whatever follows the whitespace starts a sentence (a mark and
            whitespace are enough; the quick cut of a question's first sentence or a quote).
        citations_stay: cased only: a citation marker after a mark stays with the sentence it
            cites, and a new sentence may start after it ('... grew 5%. [1] Costs ...'); any
            other '[' may open a sentence.
        closers: characters kept with the mark before them ('said "no."'); cased, they may
            stand between the mark and the whitespace.
        not_after: cased only: a pattern; a mark whose sentence so far matches it ends
            nothing ('Mr. Smith', 'U.S. sales': see `ABBREVIATIONS`).
        separators: every mark only: single characters that end a piece too ('|' table rules).
        newlines: 'ignore': a newline is whitespace; 'line': every newline (or run of them)
            ends a sentence; 'paragraph': a blank line does.
    """

    marks: str = ".!?"
    needs_capital: bool = True
    openers: str = "\"'("
    opener_needs_capital: bool = False
    digits_start: bool = False
    also_starts: str = ""
    any_start: bool = False
    citations_stay: bool = False
    closers: str = ""
    not_after: str = ""
    separators: str = ""
    newlines: Newlines = "ignore"

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """Cased: the boundaries (whitespace to drop). Every mark: the pieces themselves."""
        if self.needs_capital:
            return re.compile(self._boundary())
        return re.compile(self._piece())

    def _boundary(self) -> str:
        # whitespace after a mark, before what may start a sentence (and the newline rule)
        starts = "A-Z" + ("0-9$" if self.digits_start else "") + self.also_starts
        if self.any_start:
            nxt = r"\S"
        elif self.opener_needs_capital:
            nxt = f"{_cls(self.openers)}?[{starts}]" if self.openers else f"[{starts}]"
        else:
            nxt = f"[{starts}{_cls(self.openers)[1:-1]}]"
        plain = nxt
        if self.citations_stay:
            nxt += rf"|\[(?!{CITATION[2:]})"
        keep = f"(?P<keep>{_cls(self.closers)}*)" if self.closers else ""
        out = rf"(?<={_cls(self.marks)}){keep}\s+(?={nxt})"
        if self.citations_stay:  # '[1] Next': after the marker, a new sentence
            out += rf"|(?<=\])\s+(?={plain})"
        if self.newlines == "line":
            out += r"|\n+"
        elif self.newlines == "paragraph":
            out += r"|\n{2,}"
        return out

    def _piece(self) -> str:
        # a piece: characters that end nothing, then a run of marks (with its closers), a
        # separator, the newline(s) that end it, or the end of the text
        stop = _cls(self.marks + self.separators)[1:-1]
        if self.newlines == "line":
            body = f"[^{stop}\\n]"
        elif self.newlines == "paragraph":
            body = f"[^{stop}\\n]|\\n(?!\\n)"
        else:
            body = f"[^{stop}]"
        if "." in self.marks:  # a decimal point ends nothing
            body += r"|\.(?=\d)"
        end = _cls(self.marks) + "+" + (_cls(self.closers) + "*" if self.closers else "")
        if self.separators:
            end += "|" + _cls(self.separators)
        if self.newlines == "line":
            end += r"|\n"
        elif self.newlines == "paragraph":
            end += r"|\n{2,}"
        return f"(?:{body})*(?:{end}|$)"

    @cached_property
    def _not_after(self) -> re.Pattern[str] | None:
        return re.compile(self.not_after) if self.not_after else None

    def _cuts(self, text: str) -> list[tuple[int, int]]:
        """Cased: each boundary as (where the sentence ends, where the next one starts); a
        boundary after a `not_after` match is no boundary."""
        out: list[tuple[int, int]] = []
        start = 0
        for m in self.pattern.finditer(text):
            if self._not_after is not None and self._not_after.search(text[start:m.start()]):
                continue
            keep = m.groupdict().get("keep") or ""
            out.append((m.start() + len(keep), m.end()))
            start = m.end()
        return out

    def pieces(self, text: str) -> list[str]:
        """The text cut into pieces that join back to it exactly: the whitespace between two
        sentences leads the second. Empty pieces may appear; callers skip them."""
        if not self.needs_capital:
            return self.pattern.findall(text)
        out: list[str] = []
        start = 0
        for end, _ in self._cuts(text):
            out.append(text[start:end])
            start = end
        out.append(text[start:])
        return out

    def split(self, text: str, maxsplit: int = 0) -> list[str]:
        """The sentences, stripped, empty ones left out (with `maxsplit`, at most that many
        cuts: the rest stays one piece)."""
        if not self.needs_capital:
            parts = self.pattern.findall(text)
        elif not (self.closers or self.not_after):
            parts = self.pattern.split(text, maxsplit=maxsplit)
        else:
            cuts = self._cuts(text)[:maxsplit or None]
            bounds = [0, *(x for c in cuts for x in c), len(text)]
            parts = [text[a:b] for a, b in zip(bounds[::2], bounds[1::2])]
        return [s.strip() for s in parts if s and s.strip()]


# The settings of each job. They differ on purpose where the comment says; elsewhere they keep
# what each caller always did (a caller's output must not move under an index or a benchmark).
QUESTION = SentenceSplitter()
"""A question's sentences (query planning drops the instruction sentences)."""

ANSWER = SentenceSplitter(citations_stay=True, newlines="line")
"""An answer's sentences, each with its citation markers; a model's line breaks (a list) end
one too."""

PASSAGE = SentenceSplitter(openers="“\"(")
"""A long passage read for the sentences most about the question."""

PROSE_FIGURES = SentenceSplitter(openers="\"“", newlines="paragraph")
"""Sentences that may state a figure ('Revenue was $1.2 billion'); a blank line ends one too."""

CHUNK = SentenceSplitter(marks=".!?;:", openers="\"'“([", opener_needs_capital=True,
                         digits_start=True)
"""Pieces a chunk may be cut between: clauses after ';' and ':' too, and sentences that start
with a figure."""

ABBREVIATIONS = (r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Inc|Co|Corp|Ltd|vs|No|approx|U\.S|e\.g|i\.e)"
                 r"|\b[A-Z])\.$")
"""The text before a period that makes it an abbreviation's, not a sentence's end ('Mr.',
'U.S.', an initial)."""

SUMMARY = SentenceSplitter(openers="\"'([", opener_needs_capital=True, digits_start=True,
                           also_starts="€£", closers="\"')]", not_after=ABBREVIATIONS)
"""The sentences a brief is made of (one line of a chunk at a time): closing quotes and
brackets stay with their sentence, an abbreviation's period ends nothing, a sentence may start
with a figure or a currency sign."""

QUICK = SentenceSplitter(any_start=True)
"""A mark and whitespace end a sentence whatever follows (a question's first sentence)."""

QUOTE = SentenceSplitter(any_start=True, newlines="line")
"""The lines and sentences a quote is chosen from: a mark and whitespace, or a line break."""

CLAUSES = SentenceSplitter(needs_capital=False, newlines="line")
"""Every clause a span prints, for checking claims and reading figure pairs."""

INSTRUCTION_PIECES = SentenceSplitter(needs_capital=False, marks=".!?。！？", closers="\"')]",
                                      separators="|;", newlines="line")
"""The smallest pieces an instruction hidden in a document could be (CJK marks and table
rules end one too), so one can be removed without touching its neighbours."""
