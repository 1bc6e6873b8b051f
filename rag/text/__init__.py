"""Text utilities shared by every layer: sentences (one splitter, a setting per job), numbers
(the value grammar), stopwords, date parsing, column keys.

Imports only the standard library, so ingestion, analytics and the UI can all use it.
"""
