"""The public training data (`../shared/data/train/`) as one corpus and one question list.

Every source becomes documents in the JSONL input format (so they go through the same parsing,
chunking and embedding as a user's archive) and questions in the benchmark layout (`answers`,
`gold_doc_ids`; both empty: the corpus does not answer it):

- SQuAD 2.0 dev half: a paragraph a document; its unanswerable questions stay unanswerable (they
  were written to look answerable from that very paragraph).
- XQuAD English: paragraphs and questions not already in the SQuAD file (deduplicated by text).
- HotpotQA sample: each context paragraph a document; yes/no questions dropped (no span to find).
- SelQA answer-sentence selection: a question's candidate sentences form a document, its correct
  sentences are the answers.

Only these shipping-licensed files are read; `eval-only/` and the benchmarks never are.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import BadInputError

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"
FILES = {
    "squad2": "squad2-dev-half.json.gz",
    "xquad": "xquad-en.json.gz",
    "hotpotqa": "hotpotqa-dev-distractor-first100.json.gz",
    "selqa-dev": "selqa-ass-dev.json.gz",
    "selqa-test": "selqa-ass-test.json.gz",
}


@dataclass(frozen=True)
class TrainQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    gold_doc_ids: tuple[str, ...]
    source: str
    group: str  # questions of one group (article) stay on one side of a train/validation split

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class TrainingSet:
    documents: list[dict[str, Any]]
    questions: list[TrainQuestion]


def _load(folder: Path, key: str) -> Any:
    path = folder / FILES[key]
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise BadInputError(f"{path}: training file not found (see ../shared/data/README.md)") from None
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable gzip JSON file ({exc})") from None


def load_training_set(folder: Path = DEFAULT_DATA) -> TrainingSet:
    docs: list[dict[str, Any]] = []
    questions: list[TrainQuestion] = []
    seen_contexts: dict[str, str] = {}
    seen_questions: set[str] = set()

    def add_doc(doc_id: str, title: str, text: str) -> str:
        text = text.strip()
        if text in seen_contexts:
            return seen_contexts[text]
        seen_contexts[text] = doc_id
        docs.append({"id": doc_id, "title": title, "text": text})
        return doc_id

    def add_question(q: TrainQuestion) -> None:
        key = " ".join(q.question.lower().split())
        if key and key not in seen_questions:
            seen_questions.add(key)
            questions.append(q)

    for source in ("squad2", "xquad"):
        for a, (title, paragraphs) in enumerate(_squad_articles(_load(folder, source))):
            for p, paragraph in enumerate(paragraphs):
                doc_id = add_doc(f"{source}-{a}-{p}", title, paragraph["context"])
                for qa in paragraph["qas"]:
                    answers = tuple(dict.fromkeys(x["text"] for x in qa.get("answers", []) if x["text"].strip()))
                    impossible = qa.get("is_impossible", False) or not answers
                    add_question(
                        TrainQuestion(
                            f"{source}-{qa['id']}", qa["question"], () if impossible else answers,
                            () if impossible else (doc_id,), source, f"{source}-{title}",
                        )
                    )

    for i, item in enumerate(_load(folder, "hotpotqa")):
        ids = {}
        context = item["context"]
        for j, (title, sentences) in enumerate(zip(context["title"], context["sentences"], strict=True)):
            ids[title] = add_doc(f"hotpotqa-{i}-{j}", title, "".join(sentences))
        if item["answer"].lower() in ("yes", "no"):
            continue
        gold = tuple(dict.fromkeys(ids[t] for t in item["supporting_facts"]["title"] if t in ids))
        add_question(TrainQuestion(f"hotpotqa-{i}", item["question"], (item["answer"],), gold, "hotpotqa", f"h{i}"))

    for split in ("selqa-dev", "selqa-test"):
        for i, item in enumerate(_load(folder, split)):
            candidates = item["candidates"]
            correct = tuple(candidates[k] for k in item["answers"] if 0 <= k < len(candidates))
            doc_id = add_doc(f"{split}-{i}", f"{item['article']}: {item['section']}", " ".join(candidates))
            add_question(
                TrainQuestion(
                    f"{split}-{i}", item["question"], correct, (doc_id,) if correct else (), "selqa",
                    f"selqa-{item['article']}",
                )
            )
    return TrainingSet(docs, questions)


def _squad_articles(data: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for article in data["data"]:
        yield article.get("title", ""), article["paragraphs"]


def write_corpus(training: TrainingSet, path: Path) -> None:
    """The documents as a JSONL corpus file (rewritten only when it changed, so ingest stays a no-op)."""
    text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in training.documents)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
