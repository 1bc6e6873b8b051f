"""Stopwords: the English function words every job leaves out, and what each job adds to them.

One base list (`FUNCTION_WORDS`) and named additions, so a reader sees at once what search,
conversation ranking and figure-pair matching leave out beyond plain English, and why. The
lists are lowercase words, compared after lowercasing. Their exact contents shape a lexical
index (see `rag.retrieve._lexical_version`): changing one rebuilds it.
"""

from __future__ import annotations

FUNCTION_WORDS = frozenset((
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "in", "into", "is", "it", "its", "me", "of", "on", "or", "our",
    "over", "than", "that", "the", "their", "them", "there", "these", "they", "this", "to",
    "under", "was", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "would", "you", "your",
))
"""English function words: no job searches, ranks or matches on them."""

# How analysts phrase a request ("Please give the answer based on the balance sheet"): words
# about the question, never about the document.
REQUEST_WORDS = frozenset((
    "answer", "based", "give", "please", "primarily", "question", "show", "shown", "tell",
    "using",
))
# Comparison glue: 'revenue between 2021 and 2022', 'FY21 vs FY22', 'per share'.
COMPARISON_WORDS = frozenset(("between", "during", "per", "versus", "vs"))

SEARCH = FUNCTION_WORDS | REQUEST_WORDS | COMPARISON_WORDS
"""Left out of search tokens (`rag.retrieve.tokenize`): questions and passages alike."""

# Filler of speech and the pronouns, modals and quantifiers a meeting or call is full of.
SPOKEN_WORDS = frozenset((
    "all", "also", "any", "because", "been", "being", "bit", "but", "can", "could", "down",
    "get", "going", "got", "he", "her", "here", "him", "i", "if", "just", "know", "let", "like",
    "lot", "many", "may", "mean", "might", "more", "most", "much", "no", "not", "ok", "okay",
    "one", "out", "really", "right", "said", "say", "see", "she", "should", "so", "some", "then",
    "thing", "things", "think", "those", "two", "uh", "um", "up", "us", "very", "we", "well",
    "while", "whom", "yeah", "yes",
))
CONVERSATION = FUNCTION_WORDS | SPOKEN_WORDS
"""Left out when ranking the sentences of a transcript or a brief's points."""

OTHER_LANGUAGES = frozenset((
    "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "für", "auf", "den", "dem",
    "des", "von", "zu", "es", "wir", "sie", "ich", "el", "la", "los", "las", "que", "de", "en",
    "un", "una", "por", "para", "con", "no", "se", "lo", "al", "del", "y", "le", "les", "et",
    "est", "pas", "une", "pour", "dans", "du", "au", "sur", "qui", "ce", "il", "di", "che", "è",
    "per", "non", "gli",
))
"""The commonest function words of German, Spanish, French and Italian, so a comment in one of
them does not make 'und' or 'que' a theme's top term."""
