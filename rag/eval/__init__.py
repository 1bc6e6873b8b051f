"""Retrieval quality over evaluation sets: load a set, run it, keep the results over time.

`dataset` reads a JSONL or CSV set (question, doc_name, 1-based page, optional answer);
`retrieval` runs it through the workspace's retriever and computes recall@k and MRR;
`history` keeps each run next to the workspace, so a change of model or chunking is judged by
numbers.
"""
