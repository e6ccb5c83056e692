"""Sentence-aware chunking within a token budget, with overlap.

Chunks are runs of whole sentences whose cl100k token count stays within `max_tokens`;
each next chunk repeats the trailing sentences of the previous one (up to `overlap_tokens`) so a
fact that straddles a boundary is whole in at least one chunk. A sentence longer than the budget
is cut at word boundaries. Every chunk is a slice of the document's clean text:
`document.text[chunk.start:chunk.end] == chunk.text`.

`model_token_count` (the embedding model's own word-piece count) guards the model's window:
cl100k and WordPiece disagree on rare words and numbers, so a chunk the model would truncate
is split again rather than silently losing its tail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.sentences import sentence_spans
from rag.tokens import count_tokens
from rag.types import Chunk, Document, Sentence

_WORD_END = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkerConfig:
    max_tokens: int = 160
    overlap_tokens: int = 40
    max_model_tokens: int = 254  # all-MiniLM-L6-v2's 256 window less [CLS] and [SEP]

    def as_dict(self) -> dict[str, int]:
        return {
            "max_tokens": self.max_tokens,
            "overlap_tokens": self.overlap_tokens,
            "max_model_tokens": self.max_model_tokens,
        }


def chunk_id_for(doc_id: str, text: str, start: int) -> str:
    # The offset is part of the key so a passage repeated inside one article keeps two ids.
    return hashlib.sha256(f"{doc_id}\x00{start}\x00{text}".encode()).hexdigest()[:20]


def split_sentences(document: Document) -> list[Sentence]:
    return [
        Sentence(chunk_id="", doc_id=document.doc_id, text=document.text[a:b], start=a, end=b)
        for a, b in sentence_spans(document.text)
    ]


def chunk_document(
    document: Document,
    config: ChunkerConfig,
    model_token_count: Callable[[str], int] | None = None,
) -> list[Chunk]:
    text = document.text
    pieces = _pieces_within_budget(text, sentence_spans(text), config.max_tokens)
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j, used = i, 0
        while j < len(pieces) and (j == i or used + pieces[j][2] <= config.max_tokens):
            used += pieces[j][2]
            j += 1
        # The separators between sentences cost tokens too: shrink until the exact count fits.
        while j - 1 > i and count_tokens(text[pieces[i][0] : pieces[j - 1][1]]) > config.max_tokens:
            j -= 1
        start, end = pieces[i][0], pieces[j - 1][1]
        for a, b in _fit_model_window(text, start, end, config, model_token_count):
            chunks.append(_make_chunk(document, a, b))
        if j >= len(pieces):
            break
        # Step back over trailing sentences that fit the overlap, but always advance. One
        # sentence of overlap is kept even past the overlap budget while it is at most half a
        # chunk, so a fact split across the boundary always appears whole somewhere.
        back, overlap = j, 0
        while back - 1 > i and (
            overlap + pieces[back - 1][2] <= config.overlap_tokens
            or (back == j and pieces[back - 1][2] <= config.max_tokens // 2)
        ):
            back -= 1
            overlap += pieces[back][2]
        i = back
    return chunks


def _make_chunk(document: Document, start: int, end: int) -> Chunk:
    body = document.text[start:end]
    return Chunk(
        chunk_id=chunk_id_for(document.doc_id, body, start),
        doc_id=document.doc_id,
        text=body,
        start=start,
        end=end,
        n_tokens=count_tokens(body),
    )


def _pieces_within_budget(
    text: str, spans: list[tuple[int, int]], max_tokens: int
) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens); an over-long sentence is cut into word-bounded parts."""
    pieces: list[tuple[int, int, int]] = []
    for start, end in spans:
        n = count_tokens(text[start:end])
        if n <= max_tokens:
            pieces.append((start, end, n))
            continue
        pieces.extend(_split_by_words(text, start, end, max_tokens, count_tokens))
    return pieces


def _split_by_words(
    text: str, start: int, end: int, budget: int, count: Callable[[str], int]
) -> list[tuple[int, int, int]]:
    words = [(start + m.start(), start + m.end()) for m in _WORD_END.finditer(text[start:end])]
    parts: list[tuple[int, int, int]] = []
    first = 0
    while first < len(words):
        last = first
        # Grow greedily; word-level counts are close enough, the final count is exact.
        while last + 1 < len(words) and count(text[words[first][0] : words[last + 1][1]]) <= budget:
            last += 1
        a, b = words[first][0], words[last][1]
        parts.append((a, b, count(text[a:b])))
        first = last + 1
    return parts


def _fit_model_window(
    text: str,
    start: int,
    end: int,
    config: ChunkerConfig,
    model_token_count: Callable[[str], int] | None,
) -> list[tuple[int, int]]:
    if model_token_count is None or model_token_count(text[start:end]) <= config.max_model_tokens:
        return [(start, end)]
    return [(a, b) for a, b, _ in _split_by_words(text, start, end, config.max_model_tokens, model_token_count)]
