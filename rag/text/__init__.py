"""Text utilities shared by every layer: sentences (one splitter, a setting per job), numbers
(the value grammar), stopwords, the domain lexicon (finance by default, as data in
`lexicons/`), date parsing, column keys.

Imports only the standard library (and `rag.errors`), so ingestion, analytics and the UI can
all use it.
"""
