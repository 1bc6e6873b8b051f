"""The stopword lists: one base of English function words, and each job's additions, hold
exactly the words each caller left out before (the old lists are copied here verbatim)."""

from __future__ import annotations

from rag.figures import prose
from rag.retrieve import tokenize
from rag.text import stopwords as SW

OLD_RETRIEVE = {  # rag/retrieve.py _STOP
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "our", "than",
    "that", "the", "their", "them", "there", "these", "they", "this", "to", "was", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
    "about", "into", "over", "under", "between", "during", "per", "vs", "versus", "give",
    "answer", "question", "please", "using", "shown", "based", "primarily", "show", "tell",
    "me"}
OLD_SUMMARIES = {  # rag/analytics/summaries/extract.py _STOP
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by",
    "from", "as", "is", "are", "was", "were", "be", "been", "being", "this", "that",
    "these", "those", "it", "its", "we", "our", "you", "your", "they", "their", "i", "he",
    "she", "him", "her", "us", "them", "so", "not", "no", "yes", "do", "does", "did",
    "have", "has", "had", "will", "would", "can", "could", "should", "may", "might", "just",
    "very", "also", "there", "here", "what", "which", "who", "whom", "when", "where", "why",
    "how", "all", "any", "some", "more", "most", "much", "many", "than", "then", "about",
    "into", "over", "under", "up", "down", "out", "if", "because", "while", "okay", "ok",
    "yeah", "um", "uh", "like", "well", "right", "know", "think", "going", "get", "got",
    "really", "thing", "things", "one", "two", "lot", "bit", "mean", "let", "me", "said",
    "say", "see"}
OLD_PROSE = (  # rag/figures/prose.py _STOP, before tokenize
    "the a an of in on for to by and or how many much did does do is was were what which its "
    "their his her as at from with percentage points point raise raised increase increased lower "
    "lowered change changed full year fy guidance outlook respect regard company")
OLD_TERMS_FOREIGN = (  # the non-English tail of rag/analytics/terms.py _EXTRA_STOP
    "der die das und ist nicht ein eine mit für auf den dem des von zu es wir sie ich el la los "
    "las que de en un una por para con no se lo al del y le les et est pas une pour dans du au "
    "sur qui ce il di che è per non gli")


def test_each_job_leaves_out_what_it_did():
    assert SW.SEARCH == OLD_RETRIEVE
    assert SW.CONVERSATION == OLD_SUMMARIES
    assert SW.OTHER_LANGUAGES == set(OLD_TERMS_FOREIGN.split())
    assert prose._STOP == frozenset(tokenize(OLD_PROSE))


def test_the_base_is_shared_and_the_additions_are_disjoint_from_it():
    assert SW.FUNCTION_WORDS <= SW.SEARCH and SW.FUNCTION_WORDS <= SW.CONVERSATION
    for extra in (SW.REQUEST_WORDS, SW.COMPARISON_WORDS, SW.SPOKEN_WORDS):
        assert not extra & SW.FUNCTION_WORDS
    assert all(w == w.lower() and " " not in w for w in SW.SEARCH | SW.CONVERSATION)


def test_search_tokens_leave_out_the_search_stopwords():
    assert tokenize("Please give the answer based on the balance sheet between 2021 and 2022") \
        == ["balance", "sheet", "2021", "2022"]
