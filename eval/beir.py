"""Bring-your-own data in the BEIR layout: retrieval metrics on a throwaway index.

    DIR/corpus.jsonl     {"_id": "...", "title": "...", "text": "..."}
    DIR/queries.jsonl    {"_id": "...", "text": "..."}
    DIR/qrels/test.tsv   query-id <TAB> corpus-id <TAB> score   (header line first)

The corpus is written to a temporary JSON Lines file in the SPEC ingest format ({id, title, text}: the
BEIR `_id` becomes the doc_id verbatim), ingested into a temporary index with the project's own
`ingest`, and every judged query is run through `search`. The index is deleted afterwards.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import metrics as m
from eval.files import read_jsonl
from rag.errors import InputFileError
from rag.protocols import Embedder
from rag.settings import Settings


@dataclass
class BeirData:
    corpus: list[dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


BEIR_MISSING = "missing (BEIR layout needs corpus.jsonl, queries.jsonl, qrels/test.tsv)"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for lineno, row in read_jsonl(path, BEIR_MISSING):
        if not isinstance(row, dict) or "_id" not in row:
            raise InputFileError(path, "each line needs an '_id'", line=lineno)
        rows.append(row)
    return rows


def load_beir(root: Path, split: str = "test") -> BeirData:
    corpus = []
    for row in _read_jsonl(root / "corpus.jsonl"):
        title, text = str(row.get("title") or ""), str(row.get("text") or "")
        if text.strip() or title.strip():
            # Some BEIR corpora have title-only documents; ingest requires a body, so the title stands in.
            corpus.append({"id": str(row["_id"]), "title": title, "text": text if text.strip() else title})
    queries = {str(r["_id"]): str(r.get("text") or "") for r in _read_jsonl(root / "queries.jsonl")}
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InputFileError(qrels_path, "missing qrels file")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (lineno == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}):
                continue
            if len(row) < 3:
                raise InputFileError(qrels_path, "expected query-id, corpus-id, score", line=lineno)
            try:
                score = int(float(row[2]))
            except ValueError as exc:
                raise InputFileError(qrels_path, f"score {row[2]!r} is not a number", line=lineno) from exc
            if score > 0:
                qrels.setdefault(row[0], {})[row[1]] = score
    if not corpus:
        raise InputFileError(root / "corpus.jsonl", "no documents")
    qrels = {q: docs for q, docs in qrels.items() if q in queries and queries[q].strip()}
    if not qrels:
        raise InputFileError(qrels_path, "no judged query has a text in queries.jsonl")
    return BeirData(corpus, queries, qrels)


def run_beir(
    root: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    search_k: int = 20,
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Ingest the corpus into a temporary index, search every judged query; the report dict."""
    from rag.engine import RagEngine
    from rag.ingest import ingest

    data = load_beir(root)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-beir-") as tmp:
        corpus_file = Path(tmp) / "corpus.jsonl"
        with corpus_file.open("w", encoding="utf-8") as handle:
            for doc in data.corpus:
                handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
        index_settings = settings.with_(index_dir=Path(tmp) / "index")
        summary = ingest([corpus_file], index_settings, embedder=embedder, progress=progress is not None)
        engine = RagEngine.open(index_settings, embedder=embedder)
        ingest_s = time.perf_counter() - started
        rankings: dict[str, list[str]] = {}
        latencies: list[float] = []
        advance = progress(len(data.qrels)) if progress else (lambda: None)
        for qid in data.qrels:
            t = time.perf_counter()
            result = engine.search(data.queries[qid], k=search_k)
            latencies.append((time.perf_counter() - t) * 1000)
            rankings[qid] = m.doc_ranking([h.as_dict() for h in result.hits])
            advance()
        version = engine.index_version
    per_query = m.retrieval_scores(rankings, data.qrels)
    overall: dict[str, Any] = {"n": len(per_query)}
    for name in m.RETRIEVAL_METRICS:
        overall[name] = m.mean(scores[name] for scores in per_query.values())
    return {
        "schema": 1,
        "meta": {
            "title": f"BEIR {root.name}",
            "kind": "beir",
            "dataset": str(root),
            "documents": len(data.corpus),
            "queries": len(per_query),
            "index_version": version,
            "indexed_documents": summary.documents,
            "search_k": search_k,
            "ingest_s": round(ingest_s, 3),
        },
        "metrics": {"overall": overall, "by_type": {}, "by_split": {}, "by_split_type": {}},
        "latency": {
            "search_ms": m.percentiles(latencies),
            "stages_ms": {},
            "wall_time_s": round(time.perf_counter() - started, 3),
        },
        "queries": [{"id": q, "ranking": rankings[q][:10], "retrieval": per_query[q]} for q in per_query],
    }
