"""Ingestion: bytes and a filename in, a parsed document, chunks and an index entry out."""
