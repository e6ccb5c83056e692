"""Content terms of a text: lower-cased, stop words dropped, Snowball-stemmed.

BM25 and the composer's lexical-overlap score share this so they agree on what a "word" is.
"""

from __future__ import annotations

import re
import threading

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# bm25s' list is Lucene's 33 words; questions also carry interrogatives and auxiliaries that
# say nothing about the topic and would otherwise dominate short queries.
_QUESTION_WORDS = {
    "how", "much", "many", "what", "which", "who", "whom", "whose", "when", "where", "why",
    "did", "does", "do", "done", "has", "have", "had", "were", "been", "being", "can", "could",
    "would", "should", "its", "from", "about", "any", "some", "you", "your", "we", "our", "than",
    "tell", "me", "us", "according", "article", "articles", "documents",
}
_STOP = frozenset(STOPWORDS_EN) | _QUESTION_WORDS


_local = threading.local()


def stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects keep a cache and are not thread-safe: one per thread (the service
    # answers requests on a thread pool).
    instance = getattr(_local, "stemmer", None)
    if instance is None:
        instance = _local.stemmer = Stemmer.Stemmer("english")
    return instance


def terms(text: str) -> list[str]:
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return stemmer().stemWords(words)
