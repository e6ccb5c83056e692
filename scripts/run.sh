#!/usr/bin/env bash
# Set up, build the index from seeds/ (incremental: a no-op when nothing changed), serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/rag ingest
exec .venv/bin/rag serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
