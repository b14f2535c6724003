#!/usr/bin/env bash
# Purpose: unigap's GPU figures in one table, on one H100/H200 in under 10 minutes, random weights at
#   the real dimensions, nothing downloaded (bench/gpu_check.py says what each row measures):
#   Janus-Pro-1B/7B candidates/s (ours vs transformers' generate, same process), self-judge
#   judgments/s, Show-o 256/512 images/s at the official settings, one SFT step at 7B (bf16, gradient
#   checkpointing): seconds and peak memory.
# Usage:
#   bash bench/gpu_check.sh            # on the GPU machine (each section its own process, own timeout)
#   bash bench/gpu_check.sh --tiny     # on a CPU: tiny dims, checks the script end to end
#   bash bench/gpu_check.sh --wheels   # on a machine with internet: fetch the wheels the GPU image lacks into
#                                      # .whl/ (pydantic and its parts; transformers 5.24.0, since 5.17
#                                      # crashes in Janus image generate); carry .whl to the GPU machine
# Environment: PYTHON (default python3), OUT (where results go), GPU_CHECK_LIMIT_S (one time limit per section).
# Output: progress, then the table; with $OUT set (the device machine), $OUT/gpu_check.json (all
#   figures), gpu_check.txt (the table), gpu_check.status (exit code per section), gpu_check.log.
# A section that fails, crashes or runs out of its time share is a row saying so; the rest still run.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MODE=${1:-}

if [ "$MODE" = "--wheels" ]; then
  exec "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    typing-extensions==4.16.0 transformers==5.24.0
fi

if ls .whl/*.whl >/dev/null 2>&1; then  # carried wheels (README of the device tool); nothing else is installed
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site \
    .whl/*.whl && export PYTHONPATH="/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

DIR=${OUT:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
mkdir -p "$DIR"
JSON=$DIR/gpu_check.json STATUS=$DIR/gpu_check.status LOG=$DIR/gpu_check.log
rm -f "$JSON" "$STATUS" "$LOG"

missing=$("$PY" -c "import importlib.util as u
print(' '.join(m for m in ('torch', 'transformers', 'pydantic', 'yaml', 'PIL', 'safetensors', 'tokenizers')
               if u.find_spec(m) is None))")
[ -n "$missing" ] && echo "gpu_check: missing Python packages: $missing (bash bench/gpu_check.sh --wheels, carry .whl)"

TINY=()
# Seconds per section: 540 in all on a GPU (each section normally needs well under half its share).
declare -A LIMIT=([janus-1b]=110 [janus-7b]=140 [showo-256]=80 [showo-512]=110 [sft-7b]=100)
if [ "$MODE" = "--tiny" ]; then
  TINY=(--tiny)
  for s in "${!LIMIT[@]}"; do LIMIT[$s]=180; done
fi
if [ -n "${GPU_CHECK_LIMIT_S:-}" ]; then  # one limit for every section (e.g. to see the timeout rows)
  for s in "${!LIMIT[@]}"; do LIMIT[$s]=$GPU_CHECK_LIMIT_S; done
fi

for s in janus-1b janus-7b showo-256 showo-512 sft-7b; do
  t0=$(date +%s)
  echo "gpu_check: $s (at most ${LIMIT[$s]} s)"
  timeout -k 10 "${LIMIT[$s]}" "$PY" bench/gpu_check.py "${TINY[@]}" --section "$s" --json "$JSON" >>"$LOG" 2>&1
  rc=$?
  echo "$s $rc" >>"$STATUS"
  echo "gpu_check: $s exit $rc after $(( $(date +%s) - t0 )) s"
  [ "$rc" -ne 0 ] && tail -n 15 "$LOG"
done

"$PY" bench/gpu_check.py "${TINY[@]}" --table --json "$JSON" --status "$STATUS" | tee "$DIR/gpu_check.txt"
echo "gpu_check: results in $DIR"
