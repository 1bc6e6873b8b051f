"""Top terms per cluster by class-based TF-IDF (BERTopic's c-TF-IDF idea), and names from them.

Each cluster's texts are treated as one document. A term's weight in cluster c is its frequency
in c (normalised by c's length) times log(1 + A / f), where A is the average number of words
per cluster and f the term's frequency over all clusters: words frequent in one theme and rare
elsewhere rise to the top.
"""

from __future__ import annotations

import math
import re

import numpy as np

# English plus the commonest function words of a few other languages, so that a German or
# Spanish comment does not make "und" or "que" a theme's top term.
_EXTRA_STOP = frozenset((
    "also", "get", "got", "just", "like", "really", "still", "would", "could", "should", "us",
    "we", "our", "i", "me", "my", "it's", "im", "ive", "dont", "doesnt", "cant", "wont",
    "didnt", "isnt", "wasnt", "one", "two", "thing", "things", "lot", "bit", "much", "many",
    "every", "since", "ve", "ll", "re", "don", "doesn", "didn", "isn", "wasn", "won",
    "couldn", "shouldn", "wouldn", "aren", "weren", "haven", "hasn", "der", "die", "das",
    "und", "ist", "nicht", "ein", "eine", "mit", "für", "auf", "den", "dem", "des", "von",
    "zu", "es", "wir", "sie", "ich", "el", "la", "los", "las", "que", "de", "en", "un", "una",
    "por", "para", "con", "no", "se", "lo", "al", "del", "y", "le", "les", "et", "est", "pas",
    "une", "pour", "dans", "du", "au", "sur", "qui", "ce", "il", "di", "che", "è", "per",
    "non", "gli",
))
_TOKEN = r"(?u)\b[^\W\d_][^\W_]+\b"  # words of 2+ characters starting with a letter


def stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | set(_EXTRA_STOP))


def ctfidf_terms(texts: list[str], labels: list[int] | np.ndarray, top: int = 8
                 ) -> dict[int, list[str]]:
    """The `top` most distinctive terms (words and two-word phrases) of each label.

    Labels with no usable words (emoji, numbers only) get an empty list.
    """
    return ctfidf_levels(texts, [labels], top)[0]


def ctfidf_levels(texts: list[str], labellings: list[list[int] | np.ndarray], top: int = 8
                  ) -> list[dict[int, list[str]]]:
    """`ctfidf_terms` for several labellings of the same texts (the words counted once)."""
    from sklearn.feature_extraction.text import CountVectorizer

    outs: list[dict[int, list[str]]] = [
        {int(c): [] for c in np.unique(np.asarray(lab))} for lab in labellings]
    if not texts:
        return outs
    min_df = 2 if len(texts) >= 50 else 1
    try:
        vec = CountVectorizer(ngram_range=(1, 2), token_pattern=_TOKEN, stop_words=stop_words(),
                              min_df=min_df, max_features=30000, lowercase=True)
        counts = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary: nothing but numbers, stopwords or symbols
        return outs
    from scipy import sparse

    vocab = vec.get_feature_names_out()
    for labels, out in zip(labellings, outs, strict=True):
        labels = np.asarray(labels)
        classes = sorted(out)
        rows = np.searchsorted(classes, labels)
        onehot = sparse.csr_matrix((np.ones(len(labels)), (rows, np.arange(len(labels)))),
                                   shape=(len(classes), len(labels)))
        tf = np.asarray((onehot @ counts).todense(), dtype=np.float64)
        words_per_class = tf.sum(axis=1, keepdims=True)
        avg_words = float(words_per_class.mean()) or 1.0
        freq = tf.sum(axis=0)
        idf = np.log(1.0 + avg_words / np.maximum(freq, 1.0))
        weights = (tf / np.maximum(words_per_class, 1.0)) * idf
        for r, c in enumerate(classes):
            order = np.argsort(-weights[r], kind="stable")
            picked: list[str] = []
            for j in order:
                if weights[r, j] <= 0 or len(picked) >= top:
                    break
                picked = _add_term(picked, str(vocab[j]))
            out[c] = picked[:top]
    return outs


def _add_term(picked: list[str], term: str) -> list[str]:
    """Skip a word already inside a chosen phrase, and a phrase whose words are both chosen."""
    words = term.split()
    chosen_words = {w for p in picked for w in p.split()}
    if len(words) == 1 and term in chosen_words:
        return picked
    if len(words) > 1:
        if words[0] == words[1] or all(w in chosen_words for w in words):
            return picked
        # The phrase supersedes the lone words it contains.
        picked = [p for p in picked if p not in words]
    return [*picked, term]


def name_from_terms(terms: list[str], fallback: str) -> str:
    """A short deterministic name: the top phrase, or the top two or three words."""
    if not terms:
        return fallback
    parts = [terms[0]]
    for t in terms[1:]:
        if sum(len(p.split()) for p in parts) >= 3 or len(parts) >= 2 and " " in parts[0]:
            break
        if sum(len(p.split()) for p in parts) + len(t.split()) > 3:
            continue
        parts.append(t)
    name = ", ".join(parts)
    return name[:1].upper() + name[1:]


_LEAD = re.compile(r"^(?:theme|name|title|label|topic|category)\s*(?:name)?\s*[:\-–]\s*", re.IGNORECASE)


def clean_model_name(raw: str, max_words: int = 6, max_chars: int = 48) -> str | None:
    """The model's reply made into a theme name, or None when it is not usable."""
    lines = [ln.strip() for ln in (raw or "").strip().splitlines() if ln.strip()]
    if not lines:
        return None
    text = _LEAD.sub("", lines[0])
    text = re.sub(r"[*_`#\"“”]+", "", text).strip(" '.:;,-–—")
    text = re.sub(r"\s+", " ", text)
    if not text or len(text) < 3 or not re.search(r"[^\W\d_]", text):
        return None
    if re.search(r"\b(sorry|cannot|can't|i am|as an ai|not in documents)\b", text, re.IGNORECASE):
        return None
    words = text.split()
    if len(words) > max_words:
        text = " ".join(words[:max_words])
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


# -- keyphrases ------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
KEYPHRASE_SAMPLE = 300  # most typical comments of a theme read for its keyphrase
BACKGROUND_SAMPLE = 5000  # comments of the whole set read for how common a phrase is anyway
LONGER = 0.8  # bonus a word: a phrase says more than a word (measured on clinc150 names)


# Words that join two thoughts: a phrase across one ("fine but the mandatory") is no name.
_BREAKS = frozenset(("but", "and", "or", "though", "although", "because", "so", "than", "then",
                     "while", "yet", "if", "when", "which", "that", "who", "is", "are", "was",
                     "were", "been", "be", "has", "have", "had", "not", "very", "too", "also"))


def _ngrams(text: str, stops: frozenset[str], max_n: int = 4) -> set[tuple[str, ...]]:
    """The word n-grams (1..max_n) of a text that neither start nor end with a stop word,
    hold at most one stop word inside, and do not run across a joining word."""
    words = [w.lower().strip("'’-") for w in _WORD.findall(text)]
    words = [w for w in words if w]
    out: set[tuple[str, ...]] = set()
    for i, w in enumerate(words):
        if w in stops or len(w) < 2:
            continue
        inner = 0
        for j in range(i, min(len(words), i + max_n)):
            if words[j] in _BREAKS:
                break
            if words[j] in stops or len(words[j]) < 2:
                inner += 1
                if inner > 1:
                    break
                continue
            out.add(tuple(words[i:j + 1]))
    return out


def keyphrases(texts: list[str], groups: dict[int, list[int]], seed: int = 0
               ) -> dict[int, str]:
    """A keyphrase for each group of texts: the phrase of 1-4 words (not starting or ending
    with a stop word) that best combines how many of the group's comments use it with how
    much more often they do than comments at large.

    score = coverage x log(1 + coverage / background rate) x (1 + LONGER (words - 1)), with
    coverage the share of the group's comments (at most `KEYPHRASE_SAMPLE` of its most typical,
    listed first) holding the phrase, at least two of them and 10%; the background rate is
    measured on a fixed sample of all texts. A group with no such phrase gets no entry.
    """
    if not texts:
        return {}
    stops = frozenset(stop_words())
    n = len(texts)
    rng = np.random.default_rng(seed)
    bg_idx = (np.arange(n) if n <= BACKGROUND_SAMPLE
              else rng.choice(n, BACKGROUND_SAMPLE, replace=False))
    background: dict[tuple[str, ...], int] = {}
    for i in bg_idx:
        for g in _ngrams(texts[int(i)], stops):
            background[g] = background.get(g, 0) + 1
    nb = len(bg_idx)
    out: dict[int, str] = {}
    for gid, members in groups.items():
        members = members[:KEYPHRASE_SAMPLE]
        if not members:
            continue
        counts: dict[tuple[str, ...], int] = {}
        for i in members:
            for g in _ngrams(texts[i], stops):
                counts[g] = counts.get(g, 0) + 1
        floor = max(2, math.ceil(0.1 * len(members)))
        best: tuple[float, tuple[str, ...]] | None = None
        for g, c in counts.items():
            if c < floor:
                continue
            cov = c / len(members)
            rate = (background.get(g, 0) + 1) / (nb + 1)
            score = cov * math.log(1 + cov / rate) * (1 + LONGER * (len(g) - 1))
            if best is None or score > best[0] or (score == best[0] and g < best[1]):
                best = (score, g)
        if best is not None:
            phrase = " ".join(best[1])
            out[gid] = phrase[:1].upper() + phrase[1:]
    return out
