"""The question log of a workspace: what was asked, what came back, and what it adds up to.

One SQLite file per workspace, `<data_dir>/analytics/<collection>/questions.sqlite`, holds every
question asked on the Ask page or with `ragdesk ask`: the question, the rewritten query, the
model, when, how long, whether it abstained, the citation check (ok / flagged / none), the top
passages, and whether an analyst marked it resolved. WAL mode and short write transactions let
several app processes and the CLI write at once. The same file keeps the files that failed to
ingest (until one with that name is added) and each question's vector, so a question is embedded
once however often the dashboard groups it.

The aggregation functions are pure (records in, numbers and tables out) and are tested on a
generated log. Nothing here sends anything anywhere: the log stays next to the workspace.

One job a module: `records` (what a logged question is), `log` (the SQLite log, logging an
answer, re-asking), `stats` (counts, shares, latency, open unanswered) and `topics` (grouping
questions by topic). Everything public is re-exported here, so
`from rag.analytics import questions as qlog` keeps working.
"""


from __future__ import annotations

from rag.analytics.questions.log import (
    LEGACY_NAME,
    QuestionLog,
    log_quietly,
    note_ingest_quietly,
    reask,
)
from rag.analytics.questions.records import (
    ABSTAINED,
    ANSWER_CHARS,
    ANSWERED,
    CHECK_FLAGGED,
    CHECK_NONE,
    CHECK_OK,
    FLAGGED,
    OUTCOMES,
    PASSAGES_KEPT,
    ROW_COLUMNS,
    SNIPPET_CHARS,
    SOURCE_APP,
    SOURCE_CLI,
    SOURCE_REASK,
    Passage,
    QuestionRecord,
    citation_check,
    passages_of,
    record_from_row,
    row_from_answer,
    text_key,
)
from rag.analytics.questions.stats import (
    daily_counts,
    daily_latency,
    frame,
    latency_stats,
    open_unanswered,
    outcome_shares,
    percentile,
    period_change,
)
from rag.analytics.questions.topics import (
    GREEDY_SIMILARITY,
    OTHER_TOPIC,
    RECLUSTER_GROWTH,
    RECLUSTER_MIN_NEW,
    UNGROUPED,
    Topic,
    UnansweredGroup,
    cached_topics,
    find_topics,
    group_unanswered,
    shorten_question,
    topic_index,
    topics_frame,
    unanswered_frame,
)

__all__ = [
    "ABSTAINED",
    "ANSWERED",
    "ANSWER_CHARS",
    "CHECK_FLAGGED",
    "CHECK_NONE",
    "CHECK_OK",
    "FLAGGED",
    "GREEDY_SIMILARITY",
    "LEGACY_NAME",
    "OTHER_TOPIC",
    "OUTCOMES",
    "PASSAGES_KEPT",
    "RECLUSTER_GROWTH",
    "RECLUSTER_MIN_NEW",
    "ROW_COLUMNS",
    "SNIPPET_CHARS",
    "SOURCE_APP",
    "SOURCE_CLI",
    "SOURCE_REASK",
    "UNGROUPED",
    "Passage",
    "QuestionLog",
    "QuestionRecord",
    "Topic",
    "UnansweredGroup",
    "cached_topics",
    "citation_check",
    "daily_counts",
    "daily_latency",
    "find_topics",
    "frame",
    "group_unanswered",
    "latency_stats",
    "log_quietly",
    "note_ingest_quietly",
    "open_unanswered",
    "outcome_shares",
    "passages_of",
    "percentile",
    "period_change",
    "reask",
    "record_from_row",
    "row_from_answer",
    "shorten_question",
    "text_key",
    "topic_index",
    "topics_frame",
    "unanswered_frame",
]
