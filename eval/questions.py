"""The question-set format: loading, schema validation, checks against the corpus, split assignment.

One JSON object a line:

    {"id": "q001", "question": "...", "type": "factoid", "gold_doc_ids": ["…"],
     "evidence": ["exact substring of a gold document's clean text", ...],
     "alt_evidence": ["optional: other places stating the same fact (a standfirst, a pull quote)"],
     "answers": ["18.2 billion", "£2 billion"], "reference": "One sentence.", "split": "tune"}

`unanswerable` questions have empty `gold_doc_ids`, `evidence` and `answers`. A citation of
`alt_evidence` counts as precise, but evidence recall asks only for `evidence` (so restating the
same fact elsewhere in an article is not an extra requirement). `split` is optional in
files brought by evaluators; when absent it is assigned by `assign_splits` (deterministic).

Run `python -m eval.questions [FILE] [--seeds DIR]` to validate a file against a corpus.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eval.files import read_jsonl
from rag.errors import BadInputError, InputFileError

QUESTION_TYPES = ("factoid", "paraphrase", "multi", "temporal", "unanswerable")
SPLITS = ("tune", "heldout")
_REQUIRED = ("id", "question", "type")
_LIST_FIELDS = ("gold_doc_ids", "evidence", "answers", "alt_evidence")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    type: str
    gold_doc_ids: tuple[str, ...]
    evidence: tuple[str, ...]
    answers: tuple[str, ...]
    reference: str = ""
    split: str = "tune"
    alt_evidence: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def parse_question(obj: Any, where: str) -> Question:
    """One decoded line -> Question; raises BadInputError naming `where` (file:line) on a bad shape."""
    if not isinstance(obj, dict):
        raise BadInputError(f"{where}: expected a JSON object")
    for key in _REQUIRED:
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise BadInputError(f"{where}: '{key}' must be a non-empty string")
    qtype = obj["type"]
    if qtype not in QUESTION_TYPES:
        raise BadInputError(f"{where}: unknown type {qtype!r} (one of {', '.join(QUESTION_TYPES)})")
    lists: dict[str, tuple[str, ...]] = {}
    for key in _LIST_FIELDS:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise BadInputError(f"{where}: '{key}' must be a list of non-empty strings")
        lists[key] = tuple(value)
    if qtype == "unanswerable":
        if any(lists[key] for key in _LIST_FIELDS):
            raise BadInputError(f"{where}: an unanswerable question has no gold_doc_ids, evidence or answers")
    elif not lists["gold_doc_ids"] or not lists["answers"]:
        raise BadInputError(f"{where}: an answerable question needs gold_doc_ids and answers")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise BadInputError(f"{where}: split must be one of {', '.join(SPLITS)}")
    reference = obj.get("reference", "")
    if not isinstance(reference, str):
        raise BadInputError(f"{where}: 'reference' must be a string")
    known = set(_REQUIRED) | set(_LIST_FIELDS) | {"reference", "split"}
    return Question(
        id=obj["id"],
        question=obj["question"],
        type=qtype,
        gold_doc_ids=lists["gold_doc_ids"],
        evidence=lists["evidence"],
        answers=lists["answers"],
        reference=reference,
        split=split or "",
        alt_evidence=lists["alt_evidence"],
        extra={k: v for k, v in obj.items() if k not in known},
    )


def load_questions(path: Path) -> list[Question]:
    """Read and schema-check a question file; ids must be unique. Splits missing from the file are
    filled in by `assign_splits` so per-split reporting works on any file."""
    questions: list[Question] = []
    seen: set[str] = set()
    for lineno, obj in read_jsonl(path, "no such question file"):
        question = parse_question(obj, f"{path}:{lineno}")
        if question.id in seen:
            raise InputFileError(path, f"duplicate id {question.id!r}", line=lineno)
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise InputFileError(path, "no questions in the file")
    if any(not q.split for q in questions):
        assigned = assign_splits(questions)
        questions = [q if q.split else replace(q, split=assigned[q.id]) for q in questions]
    return questions


def assign_splits(questions: Sequence[Question], heldout_every: int = 3) -> dict[str, str]:
    """Deterministic, type-stratified split: within each type, questions are ordered by the sha256 of
    their id and every `heldout_every`-th one (positions 2, 5, 8, …) is held out, so each type is held
    out in the same proportion (about a third) regardless of file order. A hash rather than file order
    keeps the choice independent of how the author happened to group the questions."""
    by_type: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_type[q.type].append(q)
    splits: dict[str, str] = {}
    for group in by_type.values():
        ordered = sorted(group, key=lambda q: hashlib.sha256(q.id.encode()).hexdigest())
        for i, q in enumerate(ordered):
            splits[q.id] = "heldout" if i % heldout_every == heldout_every - 1 else "tune"
    return splits


def check_against_documents(questions: Iterable[Question], texts: Mapping[str, str]) -> list[str]:
    """Problems (empty when none) between a question set and a corpus given as {doc_id: clean text}:
    unknown gold ids, and evidence strings found in none of the question's gold documents."""
    problems: list[str] = []
    for q in questions:
        for doc_id in q.gold_doc_ids:
            if doc_id not in texts:
                problems.append(f"{q.id}: gold document {doc_id} is not in the corpus")
        for ev in q.evidence + q.alt_evidence:
            if not any(ev in texts.get(d, "") for d in q.gold_doc_ids):
                problems.append(f"{q.id}: evidence not found in its gold documents: {ev[:80]!r}")
    return problems


def counts(questions: Iterable[Question]) -> dict[str, dict[str, int]]:
    """Question counts by type, by split and by type×split, for reports and the README."""
    qs = list(questions)
    return {
        "type": dict(Counter(q.type for q in qs)),
        "split": dict(Counter(q.split for q in qs)),
        "type_split": {f"{t}/{s}": n for (t, s), n in sorted(Counter((q.type, q.split) for q in qs).items())},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m eval.questions [FILE] [--seeds DIR]`: validate a file against a parsed corpus."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eval.questions", description=main.__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=Path(__file__).with_name("questions.jsonl"))
    parser.add_argument("--seeds", type=Path, default=Path("seeds"))
    args = parser.parse_args(argv)
    from rag.parsing import parse_paths

    try:
        questions = load_questions(args.file)
        texts = {d.doc_id: d.text for d in parse_paths([args.seeds])}
    except BadInputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    problems = check_against_documents(questions, texts)
    for problem in problems:
        print(problem)
    print(json.dumps(counts(questions), indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
