#!/usr/bin/env bash
# The device check: on one CUDA GPU, in at most 8 minutes, one table of every task x framework at fp32 and bf16
# (test accuracy, steady samples/s, % of the GPU's peak in that precision, peak GPU MB), then `--check` for mnist on
# CUDA in float64 and float32.
#
#     bash benchmarks/gpu_check.sh            # uses .venv-gpu (runs `make setup GPU=1` first if it is missing)
#     PY=/path/to/python bash benchmarks/gpu_check.sh
#
# Short runs, to fit the time: EPOCHS epochs (2: one to compile, one steady) on the first SUBSET training samples of
# mnist, cifar10 and sentiment (digits whole); the real data come from $FRAMEBENCH_DATA. Each row has a TIMEOUT, and
# runs that would start after BUDGET seconds are left out (the table says so). Without a GPU: one line, exit 2.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv-gpu/bin/python}
EPOCHS=${EPOCHS:-2}
SUBSET=${SUBSET:-10000}
TIMEOUT=${TIMEOUT:-120}
BUDGET=${BUDGET:-330}  # seconds for the comparisons; --check mnist and the peaks take the rest of the 8 minutes
FRAMEWORKS=${FRAMEWORKS:-pytorch,keras,keras-jax,keras-torch,jax}

if ! ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
    echo "gpu_check.sh: no GPU on this machine (no /dev/nvidia* device): nothing to check" >&2
    exit 2
fi
if [ ! -x "$PY" ]; then
    make setup GPU=1 || { echo "gpu_check.sh: make setup GPU=1 failed" >&2; exit 2; }
fi
OUT=$(mktemp -d)
echo "gpu_check.sh: epochs $EPOCHS, subset $SUBSET (digits: all), frameworks $FRAMEWORKS, results in $OUT" >&2
"$PY" benchmarks/peak.py --no-cpu >&2

start=$SECONDS
for task in digits mnist cifar10 sentiment; do
    for precision in fp32 bf16; do
        if (( SECONDS - start > BUDGET )); then
            echo "{\"meta\": {\"task\": \"$task\", \"precision\": \"$precision\", \"left_out\": \"time budget\"}, \"results\": []}" > "$OUT/$task-$precision.json"
            continue
        fi
        subset=()
        [ "$task" != digits ] && subset=(--subset "$SUBSET")
        "$PY" compare.py --task "$task" --frameworks "$FRAMEWORKS" --device cuda --precision "$precision" \
            --epochs "$EPOCHS" "${subset[@]}" --timeout "$TIMEOUT" --quiet --format json --output "$OUT/$task-$precision.json" \
            > /dev/null 2> "$OUT/$task-$precision.log" || true
        [ -s "$OUT/$task-$precision.json" ] || echo "{\"meta\": {\"task\": \"$task\", \"precision\": \"$precision\", \"left_out\": \"$(tail -n 1 "$OUT/$task-$precision.log" | tr -d '"\\')\"}, \"results\": []}" > "$OUT/$task-$precision.json"
    done
done

"$PY" - "$OUT" <<'EOF'
"""One table from the runs' JSON files."""
import json
import sys
from pathlib import Path

from tabulate import tabulate

rows = []
for path in sorted(Path(sys.argv[1]).glob("*.json")):
    payload = json.loads(path.read_text())
    meta = payload.get("meta", {})
    if not payload.get("results"):
        rows.append([meta.get("task"), "-", meta.get("precision"), "-", "-", "-", "-", "-", f"left out: {meta.get('left_out', '?')}"])
    for r in payload.get("results", []):
        cell = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        rows.append([r["task"], r["framework"], r.get("precision"), r.get("device") or "-",
                     cell(r.get("test_acc") and 100 * r["test_acc"], ".2f"), cell(r.get("throughput"), ",.0f"),
                     cell(r.get("peak_pct"), ".1f"), cell(r.get("peak_gpu_mb"), ",.0f"),
                     r["status"] + (f": {r['message'][:80]}" if r.get("message") and r["status"] != "ok" else "")])
print(tabulate(rows, headers=["task", "framework", "precision", "device", "test acc %", "samples/s (steady)",
                              "% of peak", "peak GPU MB", "status"], disable_numparse=True))
EOF

echo
echo "compare.py --task mnist --check --device cuda (float64 and float32)"
"$PY" compare.py --task mnist --check --device cuda --frameworks "$FRAMEWORKS" 2> "$OUT/check.log"
echo "check exit code: $? (0: no FAIL, 5: a FAIL; $OUT/check.log has stderr)"
