"""The performance benchmark (issue 6): `rag bench` / `python -m eval.bench`.

Parts, each its own module, each figure the median (min, max) of several runs:

    ingest_rate   embedding tokens/s and chunks/s of the project's embedder vs the raw model, no-op re-ingest
    ingest_scale  `rag ingest` of 1k/5k news articles: articles/s, tokens/s vs the raw model, peak RSS, resume
    inprocess     RagEngine.search / .ask latency per stage over the eval questions (cache off, and cached)
    reference     the plain torch + FAISS recipe timed in the same run (the in-process part calls it)
    http_load     a real `rag serve` process: sequential and 1/8/16/32 concurrent clients, RSS
    scale         flat / IVF / HNSW FAISS indexes at 10k, 100k, 1M synthetic vectors
    postgres      the PostgreSQL store (--store): HNSW at 100k real vectors, one and two rag serve on it
    report        bench.json, the printed tables, the issue's targets next to the measured figures
    runner        runs the selected parts

Figures are reported, never asserted against a speed target (the tests check shape and sanity).
"""

PARTS = ("ingest", "inprocess", "http", "scale", "postgres", "ingest-scale")  # postgres runs only with a store URL
# Run only when named (`--only ingest-scale`): many minutes of real ingest, even with --quick.
OPT_IN_PARTS = ("ingest-scale",)
DEFAULT_PARTS = tuple(p for p in PARTS if p not in OPT_IN_PARTS)
