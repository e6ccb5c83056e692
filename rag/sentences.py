"""Sentence boundaries with character offsets.

BlingFire's finite-state splitter is fast (~1 ms for the seed corpus) and ships its model in the
wheel. We split paragraphs first ("\n\n" in clean text) so a headline never fuses with the
sentence after it.
"""

from __future__ import annotations

import re

import blingfire

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [_strip_span(text, a, b) for a, b in spans if text[a:b].strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence in `text`, in order, never crossing a paragraph break."""
    spans: list[tuple[int, int]] = []
    for p_start, p_end in paragraph_spans(text):
        paragraph = text[p_start:p_end]
        _, offsets = blingfire.text_to_sentences_and_offsets(paragraph)
        for a, b in offsets:
            start, end = _strip_span(paragraph, a, b)
            if end > start:
                spans.append((p_start + start, p_start + end))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
