#!/usr/bin/env bash
# Create .venv and install the project into it. Idempotent: re-runs only when pyproject.toml changed.
# Usage: scripts/setup.sh [--test]   (--test adds the test tools and Debian's chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
stamp=".venv/.installed${extras:+-test}"
want=$(sha256sum pyproject.toml | cut -c1-16)

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, pinned to the CPU build, so nothing below can pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".${extras}"
  echo "$want" > "$stamp"
fi

if [ -n "$extras" ]; then
  scripts/install_browser.sh
fi
