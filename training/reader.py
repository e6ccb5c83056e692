"""Train the learned reader on the public QA data: `python -m training.reader`.

1. The training set (`training.data`) becomes a corpus, ingested like any archive (once; cached by
   content, so a rerun embeds nothing) with the packaged all-MiniLM-L6-v2.
2. Each question goes through the engine's own hybrid retrieval (the pool of 20 passages the
   reranker reads); every sentence of those passages is a candidate with `rag.answer.features` features, labelled
   positive when it is in a gold document and holds an acceptable answer.
3. The sentence scorer (logistic regression) is fitted on the questions whose passages hold the
   answer; the answerability model on all questions (SQuAD 2.0's unanswerable ones included), with
   label "the best-scored sentence holds the answer".
4. Both are validated on held-out articles (a group split) against the plain cosine and the
   previous hand-weighted score, with bootstrap 95% intervals; then refitted on everything and
   written to `rag/answer/models/reader.json` with its sha256 and `metrics.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import contains_answer, normalize_answer
from rag.answer.abstention import QuestionSignals, answerability_features, question_signals
from rag.answer.config import AnswerConfig
from rag.answer.evidence import SentenceIndex
from rag.answer.features import FEATURES, Candidates, gather
from rag.answer.question import parse_question
from rag.answer.reader_model import ANSWERABILITY_FEATURES, LinearModel, write_reader_model
from rag.errors import RagError
from rag.protocols import Embedder
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import Settings
from rag.store.index_files import load_index
from training.data import DEFAULT_DATA, TrainingSet, TrainQuestion, load_training_set, write_corpus

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORK = REPO / "training" / "out"
DEFAULT_MODELS = REPO / "rag" / "answer" / "models"
SEED = 13
# Candidates come from the pool the reranker reads (AnswerConfig.rerank_pool), so the scorer
# learns to tell the answer apart from every sentence it will be asked to rank.
POOL = 20
# The answerability threshold keeps this share of the questions the reader would get right.
KEEP_RIGHT = 0.95


@dataclass
class Example:
    question: TrainQuestion
    candidates: Candidates
    labels: np.ndarray  # 1 where the candidate holds the answer
    signals: QuestionSignals


def label(text: str, q: TrainQuestion) -> bool:
    """A sentence holds the answer: an answer string occurs in it, or (answer-sentence data) the
    sentence is a substantial part of an answer sentence."""
    if contains_answer(text, q.answers):
        return True
    norm = normalize_answer(text)
    return len(norm.split()) >= 5 and any(norm in normalize_answer(a) for a in q.answers if len(a) > 40)


def build_examples(
    training: TrainingSet, work: Path, embedder: Embedder | None, log: Any = print
) -> list[Example]:
    """Candidates and labels for every question; cached in `work` by index version, features and
    questions, so refitting after a change to the fitting alone takes seconds."""
    from rag.embedding import load_embedder
    from rag.ingest import ingest

    corpus = work / "corpus.jsonl"
    write_corpus(training, corpus)
    settings = Settings.from_env(index_dir=work / "index")
    started = time.perf_counter()
    summary = ingest([corpus], settings, embedder=embedder)
    log(f"training corpus: {summary.line()}")
    embedder = embedder or load_embedder(settings)
    # Only retrieval and the sentence index: training must not need a reader model to exist.
    data = load_index(settings.index_dir, expected_model=embedder.name)
    retriever = HybridRetriever(data, AnswerConfig.defaults())
    questions = [*training.questions, *(_without_its_article(q) for q in training.questions if q.answerable)]
    key = hashlib.sha256(json.dumps([data.version, FEATURES, POOL, [q.id for q in questions]]).encode()).hexdigest()
    key = key[:16]
    cache = work / f"examples-{key}.pkl"
    if cache.is_file():
        examples = _read_cache(cache, questions)
        log(f"candidates for {len(examples)} questions from {cache.name}")
        return examples
    examples = _examples_of(embedder, retriever, SentenceIndex(data), questions)
    _write_cache(cache, examples)
    log(f"candidates for {len(examples)} questions in {time.perf_counter() - started:.0f}s")
    return examples


MISSING = "#article-missing"


def _without_its_article(q: TrainQuestion) -> TrainQuestion:
    """The question asked of the archive without the articles that answer it: unanswerable, the way
    a newsroom's archive lacks the one story a question is about (what SQuAD 2.0's questions, all
    asked of the paragraph that almost answers them, do not teach)."""
    return TrainQuestion(q.id + MISSING, q.question, (), (), "article-missing", q.group)


def _write_cache(path: Path, examples: Sequence[Example]) -> None:
    # Plain arrays and tuples only, so the cache reads back whichever module name wrote it.
    records = [
        (e.candidates.rows, e.candidates.matrix, e.candidates.cosines, e.labels, astuple(e.signals)) for e in examples
    ]
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(records, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _read_cache(path: Path, questions: Sequence[TrainQuestion]) -> list[Example]:
    with path.open("rb") as f:
        records = pickle.load(f)
    return [
        Example(q, Candidates(rows, (), matrix, cosines), labels, QuestionSignals(*signals))
        for q, (rows, matrix, cosines, labels, signals) in zip(questions, records, strict=True)
    ]


def _examples_of(
    embedder: Embedder, retriever: HybridRetriever, sentences: SentenceIndex, questions: Sequence[TrainQuestion]
) -> list[Example]:
    idf = retriever.bm25.idf
    out = []
    originals = {q.id: q for q in questions if not q.id.endswith(MISSING)}
    for q in questions:
        vector = embedder.embed_query(q.question)
        if q.id.endswith(MISSING):
            # Retrieval over the archive less the answering articles: the same ranking with them left out.
            gold = set(originals[q.id[: -len(MISSING)]].gold_doc_ids)
            hits = [h for h in retriever.retrieve(q.question, vector, 2 * POOL) if h.doc_id not in gold][:POOL]
        else:
            hits = retriever.retrieve(q.question, vector, POOL)
        parsed = parse_question(q.question, idf)
        cands = gather(parsed, vector, hits, sentences)
        gold = set(q.gold_doc_ids)
        labels = np.array(
            [
                float(sentences.data.sentences[r].doc_id in gold and label(sentences.data.sentences[r].text, q))
                for r in cands.rows
            ],
            dtype=np.float32,
        )
        signals = question_signals(parsed, cands, sentences, retriever.bm25)
        # The passages themselves are not needed to fit: dropping them keeps the cache small.
        out.append(Example(q, replace(cands, hits=()), labels, signals))
    return out


def _fit(x: np.ndarray, y: np.ndarray, seed: int, c: float = 1.0) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    return LinearModel(tuple(), mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def fit_ranker(found: Sequence[Example], seed: int, l2: float = 0.01) -> LinearModel:
    """A listwise (softmax) ranker: per question, maximise the share of the softmax over all its
    candidates that falls on answer sentences; it aims at the top of each list (what the reader
    quotes), where pointwise or pairwise losses spread their effort over every easy negative. Then
    Platt scaling of its score over all candidates, so the score reads as a probability."""
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression

    x_all = np.concatenate([e.candidates.matrix for e in found]).astype(np.float64)
    y_all = np.concatenate([e.labels for e in found]) > 0
    mean = x_all.mean(axis=0)
    scale = x_all.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = (x_all - mean) / scale
    starts = np.cumsum([0] + [len(e.labels) for e in found[:-1]])
    group = np.repeat(np.arange(len(found)), [len(e.labels) for e in found])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = xs @ w
        s = s - np.maximum.reduceat(s, starts)[group]
        e = np.exp(s)
        z = np.add.reduceat(e, starts)
        p = np.add.reduceat(np.where(y_all, e, 0.0), starts)
        value = -np.mean(np.log(p / z)) + l2 * w @ w
        weight = np.where(y_all, e / p[group], 0.0) - e / z[group]
        return float(value), -(weight @ xs) / len(found) + 2 * l2 * w

    coef = minimize(loss, np.zeros(xs.shape[1]), jac=True, method="L-BFGS-B").x
    platt = LogisticRegression(max_iter=1000, random_state=seed)
    platt.fit((xs @ coef)[:, None], y_all)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return LinearModel((), mean, scale, coef * a, b)


def _with_features(model: LinearModel, names: Sequence[str]) -> LinearModel:
    return LinearModel(tuple(names), model.mean, model.scale, model.coef, model.intercept)


def _hand_score(c: Candidates) -> np.ndarray:
    # The composer's previous fixed weighting (0.25 cosine + 0.45 term overlap + 0.3 passage), for reference.
    return 0.25 * c.column("cos") + 0.45 * c.column("lex") + 0.3 * c.column("passage_cos")


def _top1(examples: Sequence[Example], scores: Sequence[np.ndarray]) -> np.ndarray:
    pairs = zip(examples, scores, strict=True)
    return np.array([float(ex.labels[int(np.argmax(s))]) if len(s) else 0.0 for ex, s in pairs])


def _interval(values: np.ndarray, seed: int) -> list[float] | None:
    if not len(values):
        return None
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (1000, len(values)))].mean(axis=1)
    return [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])]


def _mean(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 4) if len(values) else None


def _auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def _split(examples: Sequence[Example], seed: int) -> tuple[list[Example], list[Example]]:
    groups = sorted({ex.question.group for ex in examples})
    rng = np.random.default_rng(seed)
    held = set(rng.choice(groups, size=max(1, len(groups) // 5), replace=False).tolist())
    return [e for e in examples if e.question.group not in held], [e for e in examples if e.question.group in held]


def train(examples: list[Example], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model dict for `write_reader_model`, validation metrics)."""
    fit_part, val_part = _split(examples, seed)
    metrics: dict[str, Any] = {"questions": len(examples), "validation_questions": len(val_part)}

    def fit_scorer(part: Sequence[Example]) -> LinearModel:
        return _with_features(fit_ranker([e for e in part if e.labels.any()], seed), FEATURES)

    def fit_answerability(part: Sequence[Example], scorer: LinearModel) -> tuple[LinearModel, float]:
        rows, ys = [], []
        for e in part:
            probs = scorer.probabilities(e.candidates.matrix)
            rows.append(answerability_features(probs, e.candidates, e.signals))
            ys.append(float(len(probs) > 0 and e.labels[int(np.argmax(probs))] > 0))
        x, y = np.array(rows), np.array(ys)
        model = _with_features(_fit(x, y, seed), ANSWERABILITY_FEATURES)
        p = model.probabilities(x)
        right = np.sort(p[y > 0])
        threshold = float(right[int((1 - KEEP_RIGHT) * len(right))]) if len(right) else 0.5
        return model, threshold

    scorer = fit_scorer(fit_part)
    answerability, threshold = fit_answerability(fit_part, scorer)
    found = [e for e in val_part if e.labels.any()]
    learned = _top1(found, [scorer.probabilities(e.candidates.matrix) for e in found])
    cosine = _top1(found, [e.candidates.cosines for e in found])
    hand = _top1(found, [_hand_score(e.candidates) for e in found])
    metrics["sentence_p@1"] = {
        "questions_with_answer_in_passages": len(found),
        "learned": _mean(learned),
        "cosine": _mean(cosine),
        "hand_weighted": _mean(hand),
        "gain_over_cosine": _mean(learned - cosine),
        "gain_over_cosine_95": _interval(learned - cosine, seed),
        "gain_over_hand_95": _interval(learned - hand, seed),
    }
    rows, right, answerable = [], [], []
    for e in val_part:
        probs = scorer.probabilities(e.candidates.matrix)
        rows.append(answerability_features(probs, e.candidates, e.signals))
        right.append(float(len(probs) > 0 and e.labels[int(np.argmax(probs))] > 0))
        answerable.append(float(e.question.answerable))
    p = answerability.probabilities(np.array(rows))
    ans = np.array(answerable)
    best_cos = np.array(rows)[:, ANSWERABILITY_FEATURES.index("best_cos")]
    squad = np.array([e.question.source == "squad2" for e in val_part])
    metrics["answerability"] = {
        "threshold": round(threshold, 4),
        "auc_right_answer": _auc(p, np.array(right)),
        "auc_answerable_squad2": _auc(p[squad], ans[squad]) if squad.any() else None,
        "auc_answerable_squad2_best_cosine": _auc(best_cos[squad], ans[squad]) if squad.any() else None,
        "abstained_unanswerable": round(float((p[ans == 0] < threshold).mean()), 4) if (ans == 0).any() else None,
        "abstained_answerable": _mean((p[ans == 1] < threshold).astype(float)),
    }
    scorer = fit_scorer(examples)
    answerability, threshold = fit_answerability(examples, scorer)
    model = {"scorer": scorer.as_dict(), "answerability": answerability.as_dict(), "threshold": threshold}
    return model, metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reader", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the train/ folder of ../shared/data")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the training index is cached")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODELS, help="where reader.json is written")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N questions (smoke runs)")
    args = parser.parse_args(argv)
    return run(args.data, args.work, args.out, args.seed, args.limit)


def run(data: Path, work: Path, out: Path, seed: int, limit: int = 0, embedder: Embedder | None = None) -> int:
    started = time.perf_counter()
    try:
        training = load_training_set(data)
        if limit:
            training.questions = training.questions[:limit]
        examples = build_examples(training, work, embedder)
    except RagError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    model, metrics = train(examples, seed)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics["seed"] = seed
    metrics["data"] = sorted({e.question.source for e in examples})
    digest = write_reader_model(model, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(metrics, indent=1))
    print(f"wrote {out / 'reader.json'} (sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
