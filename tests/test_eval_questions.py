"""The question set (eval/questions.jsonl) checked against the parsed seed corpus, and its loader."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.metrics import contains_answer
from eval.questions import (
    QUESTION_TYPES,
    Question,
    assign_splits,
    check_against_documents,
    load_questions,
)
from rag.errors import BadInputError, InputFileError
from rag.parsing import parse_paths
from rag.types import Document

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "eval" / "questions.jsonl"


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(QUESTIONS)


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    return {d.doc_id: d for d in parse_paths([REPO / "seeds"])}


def test_every_gold_id_exists_and_every_evidence_string_is_in_its_gold_documents(
    questions: list[Question], documents: dict[str, Document]
) -> None:
    problems = check_against_documents(questions, {k: d.text for k, d in documents.items()})
    assert problems == []


def test_evidence_stays_within_one_paragraph(questions: list[Question]) -> None:
    # Clean text separates paragraphs with "\n\n"; an evidence string spanning one would be brittle
    # against paragraph-level parsing changes and cannot be quoted as one sentence.
    assert [q.id for q in questions if any("\n" in ev for ev in q.evidence + q.alt_evidence)] == []


def test_ids_are_unique_and_the_loader_rejects_duplicates(questions: list[Question], tmp_path: Path) -> None:
    ids = [q.id for q in questions]
    assert len(ids) == len(set(ids))
    line = QUESTIONS.read_text(encoding="utf-8").splitlines()[0]
    dup = tmp_path / "dup.jsonl"
    dup.write_text(line + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="duplicate id"):
        load_questions(dup)


def test_counts_per_type_meet_the_issue(questions: list[Question]) -> None:
    by_type = Counter(q.type for q in questions)
    assert len(questions) >= 80
    assert set(by_type) == set(QUESTION_TYPES)
    assert by_type["multi"] >= 8
    assert by_type["unanswerable"] >= 12


def test_every_article_has_at_least_three_questions(questions: list[Question], documents: dict[str, Document]) -> None:
    per_doc = Counter(d for q in questions for d in q.gold_doc_ids)
    assert {doc_id: per_doc[doc_id] for doc_id in documents if per_doc[doc_id] < 3} == {}


def test_question_shapes_fit_their_type(questions: list[Question]) -> None:
    for q in questions:
        if q.type == "unanswerable":
            assert not q.gold_doc_ids and not q.answers and not q.evidence, q.id
        else:
            assert q.gold_doc_ids and q.answers and q.evidence and q.reference, q.id
        if q.type == "multi":
            assert len(set(q.gold_doc_ids)) >= 2, q.id


def test_multi_questions_have_evidence_in_each_gold_article(
    questions: list[Question], documents: dict[str, Document]
) -> None:
    for q in (q for q in questions if q.type == "multi"):
        for doc_id in q.gold_doc_ids:
            assert any(ev in documents[doc_id].text for ev in q.evidence), (q.id, doc_id)


def test_some_acceptable_answer_appears_in_the_evidence(questions: list[Question]) -> None:
    # Otherwise an answer that quotes the evidence verbatim would be judged wrong.
    assert [
        q.id for q in questions if q.answerable and not any(contains_answer(e, q.answers) for e in q.evidence)
    ] == []


def test_questions_are_not_copied_from_the_articles(questions: list[Question], documents: dict[str, Document]) -> None:
    texts = [d.text.lower() for d in documents.values()]
    copied = [q.id for q in questions if any(q.question.lower().rstrip("?") in t for t in texts)]
    assert copied == []


def test_held_out_third_is_stratified_by_type(questions: list[Question]) -> None:
    for qtype in QUESTION_TYPES:
        group = [q for q in questions if q.type == qtype]
        held = sum(1 for q in group if q.split == "heldout")
        assert abs(held - len(group) / 3) <= 1, (qtype, held, len(group))
    assert {q.split for q in questions} == {"tune", "heldout"}


def test_assign_splits_is_deterministic_and_independent_of_order(questions: list[Question]) -> None:
    first = assign_splits(questions)
    assert assign_splits(list(reversed(questions))) == first
    assert first == {q.id: q.split for q in questions}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"id": "a", "question": "q?", "type": "riddle"}', "unknown type"),
        ('{"id": "a", "question": "q?", "type": "factoid", "gold_doc_ids": [], "answers": []}', "needs gold_doc_ids"),
        ('{"id": "a", "question": "q?", "type": "unanswerable", "gold_doc_ids": ["x"]}', "unanswerable"),
        ('{"id": "a", "question": "", "type": "factoid"}', "'question'"),
        ('{"id": "a", "question": "q?", "type": "factoid", "gold_doc_ids": ["x"], "answers": [1]}', "'answers'"),
        ('{"id": "a", "question": "q?", "type": "unanswerable", "split": "train"}', "split"),
    ],
)
def test_loader_rejects_malformed_lines_naming_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "ok", "question": "Fine?", "type": "unanswerable"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=message) as info:
        load_questions(path)
    assert "q.jsonl:2" in info.value.message


def test_missing_split_is_assigned_and_extra_fields_are_kept(tmp_path: Path) -> None:
    rows = [{"id": f"u{i}", "question": f"Question {i}?", "type": "unanswerable", "note": i} for i in range(6)]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    loaded = load_questions(path)
    assert Counter(q.split for q in loaded) == {"tune": 4, "heldout": 2}
    assert loaded[3].extra == {"note": 3}
