"""Indexing: the embedder, the Chroma-backed workspace store and the lexical index."""
