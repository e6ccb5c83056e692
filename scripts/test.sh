#!/usr/bin/env bash
# Set up (venv, test tools, headless Chromium), lint, run the test suite, then the benchmark gate
# on a real-model index of seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/rag ingest --index "$work/index"
.venv/bin/rag eval --index "$work/index" --out "$work/report"
