"""Benchmark folders (SPEC.md's layout): a corpus and its questions, indexed once, scored like our own set.

    DIR/corpus.jsonl[.gz]   documents in the JSONL input format
    DIR/questions.jsonl     {"id", "question", "answers": [...], "gold_doc_ids": [...]} a line;
                            both lists empty: the corpus does not answer it

The index of a benchmark lives in a cache folder named after the benchmark and its corpus's sha256,
so a second run reuses it without parsing anything; a changed corpus gets a new folder. A *slice*
(`--slice N`) keeps every N-th question (by a hash of its id) and a corpus of their gold documents
plus every N-th other document: the same kinds of questions over a smaller archive, for CI.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from eval.files import read_jsonl
from eval.questions import Question, assign_splits
from rag.errors import BadInputError, InputFileError
from rag.store.atomic import sha256_file

CORPUS_NAMES = ("corpus.jsonl", "corpus.jsonl.gz")
QUESTIONS_NAME = "questions.jsonl"


@dataclass(frozen=True)
class Benchmark:
    name: str
    corpus: Path
    questions: tuple[Question, ...]
    slice_every: int = 1

    @property
    def label(self) -> str:
        return self.name if self.slice_every == 1 else f"{self.name} (slice 1/{self.slice_every})"


def is_benchmark(folder: Path) -> bool:
    return folder.is_dir() and (folder / QUESTIONS_NAME).is_file() and _corpus_file(folder) is not None


def _corpus_file(folder: Path) -> Path | None:
    return next((folder / name for name in CORPUS_NAMES if (folder / name).is_file()), None)


def load_benchmark(folder: Path, slice_every: int = 1) -> Benchmark:
    """The benchmark's questions as `Question`s: answerable ones as `factoid` (with no evidence
    strings: citations are judged by their document), the rest `unanswerable`; tune/held-out splits
    assigned by `assign_splits`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"{folder}: no such benchmark folder")
    corpus = _corpus_file(folder)
    if corpus is None or not (folder / QUESTIONS_NAME).is_file():
        raise BadInputError(f"{folder}: a benchmark folder needs {QUESTIONS_NAME} and corpus.jsonl[.gz]")
    if slice_every < 1:
        raise BadInputError("--slice must be 1 or more")
    path = folder / QUESTIONS_NAME
    questions: list[Question] = []
    seen: dict[str, object] = {}
    for lineno, obj in read_jsonl(path, "no such question file"):
        q = _question(obj, path, lineno)
        if q.id in seen:
            if seen[q.id] == obj:
                continue  # the very same question twice (public sets have such repeats): count it once
            raise InputFileError(path, f"duplicate id {q.id!r} with a different question", line=lineno)
        seen[q.id] = obj
        if _in_slice(q.id, slice_every):
            questions.append(q)
    if not questions:
        raise InputFileError(path, "no questions in the file (or in the slice)")
    splits = assign_splits(questions)
    questions = [replace(q, split=splits[q.id]) for q in questions]
    return Benchmark(folder.resolve().name, corpus, tuple(questions), slice_every)


def _question(obj: object, path: Path, lineno: int) -> Question:
    where = f"{path}:{lineno}"
    if not isinstance(obj, dict):
        raise BadInputError(f"{where}: expected a JSON object")
    for key in ("id", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise BadInputError(f"{where}: '{key}' must be a non-empty string")
    lists = {}
    for key in ("answers", "gold_doc_ids"):
        value = obj.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise BadInputError(f"{where}: '{key}' must be a list of non-empty strings")
        lists[key] = tuple(value)
    if bool(lists["answers"]) != bool(lists["gold_doc_ids"]):
        raise BadInputError(f"{where}: 'answers' and 'gold_doc_ids' must both be empty (unanswerable) or both not")
    extra = {k: v for k, v in obj.items() if k not in {"id", "question", "answers", "gold_doc_ids"}}
    return Question(
        id=obj["id"],
        question=obj["question"],
        type="factoid" if lists["answers"] else "unanswerable",
        gold_doc_ids=lists["gold_doc_ids"],
        evidence=(),
        answers=lists["answers"],
        extra=extra,
    )


def _in_slice(key: str, every: int) -> bool:
    return every == 1 or int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % every == 0


def index_folder(benchmark: Benchmark, cache: Path) -> Path:
    """Where the benchmark's index lives: one folder per corpus content (and slice)."""
    part = "" if benchmark.slice_every == 1 else f"-slice{benchmark.slice_every}"
    return cache / f"{benchmark.name}{part}-{sha256_file(benchmark.corpus)[:12]}"


def corpus_inputs(benchmark: Benchmark, folder: Path) -> list[Path]:
    """The files to ingest: the corpus itself, or for a slice a corpus file written into `folder`."""
    if benchmark.slice_every == 1:
        return [benchmark.corpus]
    gold = {d for q in benchmark.questions for d in q.gold_doc_ids}
    out = folder / "corpus-slice.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if benchmark.corpus.suffix == ".gz" else open
    kept: list[str] = []
    with opener(benchmark.corpus, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            doc_id = str(json.loads(line).get("id", ""))
            if doc_id in gold or _in_slice(doc_id, benchmark.slice_every):
                kept.append(line.rstrip("\n"))
    text = "\n".join(kept) + "\n"
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return [out]
