"""Fit the abstention threshold on the tune split, report it on the held-out split.

    python -m eval.calibrate [--index DIR] [--questions FILE] [--max-false-abstention 0.05] [--write]

The threshold is the largest evidence score below which the composer abstains such that at most
`--max-false-abstention` of the answerable tune questions would be declined; among thresholds
that meet that bound it maximises abstention recall on the unanswerable ones. `--write` stores the
fitted value in `rag/answer/calibrated.json`; the next `rag ingest` stamps it into the index
settings (no re-embedding), so every index records the threshold its answers were made with.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from eval.questions import Question, load_questions
from rag.answer import config as answer_config
from rag.engine import RagEngine
from rag.settings import Settings

DEFAULT_QUESTIONS = Path(__file__).with_name("questions.jsonl")


def confidences(engine: RagEngine, questions: list[Question]) -> list[tuple[bool, float]]:
    """(answerable, evidence score) per question, with the score threshold switched off.

    A question the composer declines for another reason (no passage at all, no answer of the kind
    asked for, a name the documents never mention) abstains whatever the threshold: it scores -inf, so
    its false abstentions count against the budget before the threshold spends any.
    """
    no_threshold = RagEngine(
        engine.data, engine.embedder, engine.settings, answer_config=replace(engine.config, abstain_threshold=-1.0)
    )
    points = []
    for q in questions:
        answer = no_threshold.ask(q.question)
        points.append((q.answerable, -math.inf if answer.abstained else float(answer.confidence or 0.0)))
    return points


def rates(points: list[tuple[bool, float]], threshold: float) -> dict[str, float]:
    answerable = [c for a, c in points if a]
    unanswerable = [c for a, c in points if not a]
    return {
        "false_abstention_rate": sum(c < threshold for c in answerable) / max(len(answerable), 1),
        "abstention_recall": sum(c < threshold for c in unanswerable) / max(len(unanswerable), 1),
    }


def fit_threshold(points: list[tuple[bool, float]], max_false_abstention: float) -> float:
    candidates = sorted({round(c, 4) for _, c in points if math.isfinite(c)} | {0.0})
    best, best_recall = 0.0, -1.0
    for threshold in candidates:
        r = rates(points, threshold)
        if r["false_abstention_rate"] <= max_false_abstention and r["abstention_recall"] > best_recall:
            best, best_recall = threshold, r["abstention_recall"]
    return best


def calibrate(engine: RagEngine, questions: list[Question], max_false_abstention: float) -> dict[str, Any]:
    tune = confidences(engine, [q for q in questions if q.split == "tune"])
    heldout = confidences(engine, [q for q in questions if q.split == "heldout"])
    threshold = fit_threshold(tune, max_false_abstention)
    return {
        "values": {"abstain_threshold": threshold},
        "fitted_on": "tune split of eval/questions.jsonl",
        "max_false_abstention": max_false_abstention,
        "index_version": engine.index_version,
        "tune": rates(tune, threshold),
        "heldout": rates(heldout, threshold),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--max-false-abstention", type=float, default=0.05)
    parser.add_argument("--write", action="store_true", help="store the fitted values in rag/answer/calibrated.json")
    args = parser.parse_args(argv)
    engine = RagEngine.open(Settings.from_env(index_dir=args.index))
    result = calibrate(engine, load_questions(args.questions), args.max_false_abstention)
    print(json.dumps(result, indent=2))
    if args.write:
        target = Path(answer_config.__file__).with_name(answer_config.CALIBRATION_FILE)
        target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {target}; run `rag ingest` to stamp it into the index")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
