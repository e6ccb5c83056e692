#!/usr/bin/env bash
# Issue 18's resume check with the real model: ingest CORPUS once uninterrupted, then again into a
# second folder killed with SIGKILL at half that time, resume it, and compare the two indexes.
# Usage: scripts/measure_resume.sh CORPUS_FILE_OR_FOLDER   (prints seconds, texts resumed, cmp results)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rag=.venv/bin/rag
for d in a b; do  # a warm model cache in both folders (the ONNX export lives in <index>/models)
  mkdir -p "$work/$d"
  [ -d index/models ] && cp -r index/models "$work/$d/"
done
start=$(date +%s.%N)
"$rag" ingest "$corpus" --index "$work/a" > "$work/a.log" 2>&1
whole=$(echo "$(date +%s.%N) - $start" | bc)
half=$(echo "$whole / 2" | bc -l)
"$rag" ingest "$corpus" --index "$work/b" > /dev/null 2>&1 &
pid=$!
sleep "$half"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
saved=$(cat "$work"/b/.embedded-*/keys.txt 2>/dev/null | wc -l)
start=$(date +%s.%N)
"$rag" ingest "$corpus" --index "$work/b" > "$work/b.log" 2>&1
resumed=$(echo "$(date +%s.%N) - $start" | bc)
printf 'uninterrupted %.1f s; killed at %.1f s with %s texts checkpointed; resumed run %.1f s\n' \
  "$whole" "$half" "$saved" "$resumed"
tail -1 "$work/b.log"
for f in chunk_vectors.npy sentence_vectors.npy chunks.jsonl sentences.jsonl documents.jsonl; do
  if cmp -s "$work/a/$(cat "$work/a/CURRENT")/$f" "$work/b/$(cat "$work/b/CURRENT")/$f"; then
    echo "$f: identical"
  else
    echo "$f: DIFFERENT"
  fi
done
