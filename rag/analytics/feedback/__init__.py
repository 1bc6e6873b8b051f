"""Customer feedback -> named themes with sizes, terms, quotes, ratings, trends and a map.

The items are the rows of a table document; their vectors are the ones retrieval uses (read
back from the workspace, never re-embedded). `analyze` clusters them (`clustering.cluster`),
describes each cluster by its c-TF-IDF terms and most typical quotes, and names it: by the
chat model when one answers within its time budget, else from its terms. An `Analysis` is
plain data: it is saved next to the workspace (`AnalysisStore`) and edited by pure functions
(`rename_theme`, `merge_themes`).

One job a module, lowest first: `model` (the plain data), `items` (rows and chunks -> items),
`roles` (which column is the date, rating, segment...), `naming` (theme names from a chat
model), `sentiment` (per item and theme), `analysis` (cluster both levels, describe, name,
edit), `align` (match a re-run to the previous run; emerging / fading), `tables` (frames, CSV
and the CLI's JSON) and `store` (saved analyses and their run history). Everything public is re-exported here, so
`from rag.analytics import feedback as fb` keeps working.
"""


from __future__ import annotations

from rag.analytics.feedback.analysis import (
    analyze,
    analyze_document,
    describe_themes,
    distinct_texts,
    merge_themes,
    name_themes,
    rename_theme,
    summary_text,
    typical_positions,
    unique_names,
)
from rag.analytics.feedback.items import (
    check_texts,
    items_from_chunks,
    items_from_rows,
    load_document,
)
from rag.analytics.feedback.model import (
    EXAMPLES,
    FORMAT_VERSION,
    NAME_TOKENS,
    OTHER_NAME,
    Analysis,
    FeedbackError,
    Item,
    Namer,
    Progress,
    Roles,
    Theme,
)
from rag.analytics.feedback.naming import (
    NAME_SYSTEM,
    NAME_USER,
    NAMING_NOTE,
    ModelNamer,
)
from rag.analytics.feedback.roles import (
    column_profile,
    guess_roles,
    role_values,
    to_number,
)
from rag.analytics.feedback.store import (
    AnalysisStore,
    fingerprint,
    from_json,
    source_of,
    to_json,
)
from rag.analytics.feedback.tables import (
    cluster_json,
    field_columns,
    headlines_frame,
    items_csv,
    items_frame,
    monthly_counts,
    segment_counts,
    themes_csv,
    themes_frame,
)

__all__ = [
    "EXAMPLES",
    "FORMAT_VERSION",
    "NAME_SYSTEM",
    "NAME_TOKENS",
    "NAME_USER",
    "NAMING_NOTE",
    "OTHER_NAME",
    "Analysis",
    "AnalysisStore",
    "FeedbackError",
    "Item",
    "ModelNamer",
    "Namer",
    "Progress",
    "Roles",
    "Theme",
    "analyze",
    "analyze_document",
    "check_texts",
    "cluster_json",
    "column_profile",
    "describe_themes",
    "distinct_texts",
    "field_columns",
    "fingerprint",
    "from_json",
    "guess_roles",
    "headlines_frame",
    "items_csv",
    "items_frame",
    "items_from_chunks",
    "items_from_rows",
    "load_document",
    "merge_themes",
    "monthly_counts",
    "name_themes",
    "rename_theme",
    "role_values",
    "segment_counts",
    "source_of",
    "summary_text",
    "themes_csv",
    "themes_frame",
    "to_json",
    "to_number",
    "typical_positions",
    "unique_names",
]
