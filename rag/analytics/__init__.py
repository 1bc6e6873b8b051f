"""Analytics over a workspace's documents: feedback themes (clustering) and CSV exports.

Heavy libraries (scikit-learn, scipy, pandas) are imported inside the functions that need
them, so importing `rag.analytics` stays cheap.
"""
