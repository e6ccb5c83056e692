"""Feedback that becomes test questions: the 👎 entries that carry a right answer, in the question
format `rag eval --questions` reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.feedback import Feedback
from rag.types import Document


def export_questions(
    entries: Sequence[Feedback], documents: Sequence[Document]
) -> tuple[list[dict[str, Any]], list[Feedback]]:
    """(question lines, entries left out). The right answer is what a correct answer must contain;
    the gold documents are those whose text contains it. An entry whose right answer no document
    holds cannot be scored against this archive and is left out (returned second)."""
    questions, left_out = [], []
    for entry in entries:
        right = (entry.right_answer or "").strip()
        if entry.rating != "down" or not right:
            continue
        gold = [d.doc_id for d in documents if right.lower() in d.text.lower()]
        if not gold:
            left_out.append(entry)
            continue
        questions.append({
            "id": f"feedback-{entry.id}",
            "question": entry.question,
            "type": "factoid",
            "gold_doc_ids": gold[:20],
            "answers": [right],
            "reference": right,
            "feedback": {
                "wrong_answer": entry.answer, "comment": entry.comment, "index_version": entry.index_version,
                "channel": entry.channel, "created_at": entry.as_dict()["created_at"],
            },
        })
    return questions, left_out
