#!/usr/bin/env bash
# 30 days of realistic-mode parity (issue 15) on a many-core machine, as consecutive segments.
#
# bench/parity.py runs one exchange per process and lockstep costs ~1 emulated day per minute
# of wall time in the realistic mode, so 30 continuous days is ~30 min per exchange: more than
# one device command may run. This script covers the same 30 days of the bundled ETHUSDT
# sample as SEGMENTS consecutive pieces per exchange, all in parallel (2 x SEGMENTS processes),
# each from a fresh 10,000 USDT account at its first candle, with funding on. Every segment
# must match 100 % with an identical final balance; the summary line counts fills and days.
#
# Usage: [PARALLEL=N] bash bench/device_parity.sh [DAYS_TOTAL=30] [SEGMENTS=7] [TIME_LIMIT_S=330]
# (PARALLEL: segments at once, default all; 2 on a 2-core machine)
# Output: stdout, and $OUT/parity_30d.txt when $OUT is set (the device tool's folder).
set -u
DAYS=${1:-30}
SEG=${2:-7}
LIMIT=${3:-330}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG=$(mktemp -d)
per=$(python3 -c "print($DAYS / $SEG)")
echo "device_parity: $DAYS days as $SEG segments of $per days per exchange, time limit ${LIMIT}s, $(nproc) cores"
run_segment() {  # run_segment EX I
  local ex=$1 i=$2 start
  start=$(python3 -c "print($i * $DAYS / $SEG)")
  timeout $((LIMIT + 90)) "$PY" bench/parity.py --days "$per" --start-day "$start" \
      --exchanges "$ex" --time-limit "$LIMIT" --realism full --funding on \
      >"$LOG/$ex-$i.txt" 2>"$LOG/$ex-$i.err"
  echo "rc=$?" >>"$LOG/$ex-$i.txt"
}
export -f run_segment
export DAYS SEG LIMIT PY LOG per
for ex in binance bybit; do
  for i in $(seq 0 $((SEG - 1))); do echo "$ex $i"; done
done | xargs -P "${PARALLEL:-$((2 * SEG))}" -L 1 bash -c 'run_segment $0 $1'
{
  for ex in binance bybit; do
    for i in $(seq 0 $((SEG - 1))); do
      echo "== $ex segment $i"
      grep -E "^(realism|parity_|binance:|bybit:|rc=)" "$LOG/$ex-$i.txt" | head -40
      tail -3 "$LOG/$ex-$i.err"
    done
  done
  "$PY" - "$LOG" "$SEG" "$DAYS" <<'EOF'
import re, sys, pathlib
log, seg, days = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for ex in ("binance", "bybit"):
    tot_days = fills = 0.0
    worst, diffs, ok = 100.0, [], True
    for i in range(seg):
        t = (log / f"{ex}-{i}.txt").read_text()
        g = lambda k: re.search(rf"^parity_{k}_{ex}: (-?[\d.]+)", t, re.M)
        d, f, m, b = g("days"), g("fills"), g("match"), g("balance_diff")
        if not (d and f and m and b):
            ok = False
            continue
        tot_days += float(d[1]); fills += float(f[1]); worst = min(worst, float(m[1]))
        diffs.append(abs(float(b[1])))
    print(f"parity30_{ex}: {tot_days:.2f} days in {seg} segments, {fills:.0f} fills, worst "
          f"segment match {worst:.1f} %, max |balance diff| {max(diffs or [float('nan')]):.6f} "
          f"USDT (target {days:g} days, 100 %, 0){'' if ok else ' (a segment gave no figures)'}")
EOF
} | tee "${OUT:-$LOG}/parity_30d.txt"
