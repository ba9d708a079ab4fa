#!/usr/bin/env bash
# Optimizer figures on a many-core machine (issue 18) in one run of at most ~6 minutes: every
# step under `timeout`, each step's lines kept even if a later one is cut off.
#   bench/device_optimize.sh [WORKERS]        (default: all cores; from the repository root)
# Output: "$OUT/optimize_16core.txt" when OUT is set (and stdout), else stdout only.
# Knobs (environment): PYTHON (default .venv/bin/python, else python3), SPANS (days of
# synthetic candles, default "30 365"), TARGET_S (seconds of the 1-worker search, default 10),
# REPEATS (pool searches per layout, default 5), POOL_GENS (generations of each pool search,
# default: as many as the 1-worker search; 8+ on 16 cores), POP (the population, the same on every
# layout so all evaluate the same candidates; default 32 per worker: a generation is then
# ~100 ms of work a worker on 30-day backtests, against a few ms of generation barrier).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
W=${1:-$(nproc)}
SPANS=${SPANS:-30 365}
TARGET_S=${TARGET_S:-10}
REPEATS=${REPEATS:-5}
POP=${POP:-$((32 * W))}
FILE=/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; FILE="$OUT/optimize_16core.txt"; : > "$FILE"; fi
T0=$(date +%s)

step() {  # step SECONDS ARGS...: one python step under timeout, its lines to stdout and FILE
  local limit=$1; shift
  echo "== $* (limit ${limit} s, at $(( $(date +%s) - T0 )) s)" | tee -a "$FILE"
  timeout -k 10 "$limit" "$PY" bench/device_optimize.py "$@" --workers "$W" 2>&1 | tee -a "$FILE"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "== step '$*' ended with exit $rc (124: cut off by its time limit)" | tee -a "$FILE"
}

step 20 machine
step 120 warm
step 30 ceiling
for d in $SPANS; do
  if [ "$d" -ge 365 ]; then lim=130; else lim=90; fi
  step "$lim" span --days "$d" --target-s "$TARGET_S" --repeats "$REPEATS" --pop "$POP" --pool-gens "${POOL_GENS:-0}"
done
echo "== done in $(( $(date +%s) - T0 )) s" | tee -a "$FILE"
