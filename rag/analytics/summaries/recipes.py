"""What a brief of each document kind holds: one recipe per kind, chosen once per brief.

A recipe says which tables are extracted (figures, guidance, action items, topics), which
prose sections the model writes after the summary, whether the summary leads with the
headline figures and whether the tone is judged. `summarize` reads the recipe and never asks
which kind it is writing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    kind: str
    label: str
    map_prompt: str  # the map call's instruction; {n} is the number of points asked for
    sections: tuple[str, ...] = ()  # prose sections after the summary, in order
    extractive_sections: tuple[str, ...] = ()  # of those, the ones given as said (no model)
    period: bool = True  # the document's period is read (from its name or text)
    figures: bool = True  # the figures table
    guidance: bool = False  # the guidance table
    action_items: bool = False
    topics: bool = False
    headlines: bool = False  # the summary leads with the top figure and guidance sentences
    tone: bool = False  # management's tone, one more model call
    summary_bullets: int | None = None  # None: grows with the number of map calls

    def summary_size(self, groups: int) -> int:
        """How many summary bullets to keep after the map calls."""
        if self.summary_bullets is not None:
            return self.summary_bullets
        return min(10, max(5, 2 * groups + 2))

    def planned_calls(self, groups: int) -> int:
        """Model calls this brief plans at most: the map calls, one per model-written section,
        one for the tone."""
        return (groups + len([s for s in self.sections if s not in self.extractive_sections])
                + (1 if self.tone else 0))


EARNINGS = Recipe(
    kind="earnings", label="Earnings call",
    map_prompt="List the {n} most important facts in these passages of an earnings call "
               "(results, figures, events, plans).",
    sections=("drivers", "risks", "questions"),
    # The analysts' questions as asked: the model only shortened them to topics, one more call.
    extractive_sections=("questions",),
    guidance=True, headlines=True, tone=True, summary_bullets=8,
)
MEETING = Recipe(
    kind="meeting", label="Meeting",
    map_prompt="List the {n} most important points of this part of a meeting (what was "
               "discussed, proposed or agreed).",
    sections=("decisions", "open_questions"),
    period=False, figures=False, action_items=True, topics=True,
)
GENERAL = Recipe(
    kind="general", label="General",
    map_prompt="List the {n} most important points of these passages.",
    topics=True,
)

RECIPES: dict[str, Recipe] = {r.kind: r for r in (EARNINGS, MEETING, GENERAL)}
KINDS = tuple(RECIPES)
