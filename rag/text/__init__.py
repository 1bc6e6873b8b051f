"""Text utilities shared by every layer: date parsing, column keys.

Imports only the standard library, so ingestion, analytics and the UI can all use it.
"""
