#!/usr/bin/env bash
# Set up (venv, test tools, headless Chromium, PostgreSQL), lint, run the test suite, then the benchmark gate
# on a real-model index of seeds/ and, beside it, a slice of the news benchmark in ../shared/
# (every 4th question, on an index of their articles plus every 4th other one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
# A real PostgreSQL server with pgvector for the store tests (installed on first use).
started=$(date +%s)
RAG_TEST_POSTGRES=$(scripts/postgres.sh start)
export RAG_TEST_POSTGRES
echo "PostgreSQL + pgvector ready in $(( $(date +%s) - started )) s: $RAG_TEST_POSTGRES"
# Two workers: the machine has two cores, and the suite takes half the time.
.venv/bin/python -m pytest -q -n 2 "$@"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/rag ingest --index "$work/index"
news=../shared/benchmarks/realtimeqa-2022-2024
bench=()
if [ -d "$news" ]; then
  bench=(--benchmark "$news" --slice 4 --cache "$work/cache")
else
  echo "note: $news not found: the gate covers the seed set only" >&2
fi
.venv/bin/rag eval --index "$work/index" --out "$work/report" "${bench[@]}"
