#!/usr/bin/env bash
# Times one training step of maskscope (candle) and of the same model in PyTorch, back to
# back with the same thread count, and prints `ours / pytorch`.
#
#   tools/compare_training_speed.sh                 # 1 and 2 threads, 3 rounds each
#   THREADS="2" ROUNDS=5 tools/compare_training_speed.sh
#   PYTHON=.venv/bin/python tools/compare_training_speed.sh
#
# Workload (both sides): d_model 128, 4 heads, 2+2 layers, d_ff 512, vocab 64, dropout 0.1,
# batch 32, source/target length <= 16, AdamW; 5 warm-up + STEPS timed steps per run.
# ours: examples/train_step_timing.rs in a rayon pool of N threads, with RAYON_NUM_THREADS=N
#   (candle's matmul threads) and CANDLE_NUM_THREADS=1 (no spinning element-wise pool; set
#   CANDLE_NUM_THREADS=N in the environment to measure candle's default instead).
# pytorch: tools/bench_pytorch_step.py --threads N (torch.set_num_threads(N)).
# Each round runs ours then PyTorch immediately after, so both see the same machine load;
# the summary is the median over rounds of each side's per-run median, and the ratio of
# those. Other processes skew both sides: the load average is printed before and after.
# Not run by CI (needs PyTorch).
set -euo pipefail

case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (settings are environment variables; see --help)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."

THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}

if [[ -z "${PYTHON:-}" ]]; then
    for candidate in .venv/bin/python python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import torch" 2>/dev/null; then
            PYTHON=$candidate
            break
        fi
    done
fi
if [[ -z "${PYTHON:-}" ]]; then
    echo "no Python with torch found; set PYTHON=/path/to/python (see tools/README.md)" >&2
    exit 1
fi

cargo build --release --example train_step_timing >&2
OURS=target/release/examples/train_step_timing

# `name median=12.34 ...` -> 12.34
median_of() { sed -n 's/.*median=\([0-9.]*\).*/\1/p' | head -n1; }
# median of whitespace-separated numbers
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)   cores: $(nproc)   python: $PYTHON   CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}"
declare -A OURS_MS PT_MS
for n in $THREADS; do
    for round in $(seq 1 "$ROUNDS"); do
        ours=$(RAYON_NUM_THREADS=$n CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1} "$OURS" --threads "$n" --steps "$STEPS" --warmup "$WARMUP" 2>/dev/null | median_of)
        pt=$(OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n "$PYTHON" tools/bench_pytorch_step.py \
            --threads "$n" --steps "$STEPS" --warmup "$WARMUP" 2>/dev/null | median_of)
        printf 'threads=%s round=%s  ours %8.2f ms   pytorch %8.2f ms   ratio %.2f\n' \
            "$n" "$round" "$ours" "$pt" "$(awk -v a="$ours" -v b="$pt" 'BEGIN {print a / b}')"
        OURS_MS[$n]="${OURS_MS[$n]:-} $ours"
        PT_MS[$n]="${PT_MS[$n]:-} $pt"
    done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "summary (median over $ROUNDS rounds of per-run medians, $STEPS steps each)"
for n in $THREADS; do
    o=$(echo "${OURS_MS[$n]}" | median)
    p=$(echo "${PT_MS[$n]}" | median)
    printf 'threads=%s  ours_ms=%.2f  pytorch_ms=%.2f  ours/pytorch=%.2f\n' \
        "$n" "$o" "$p" "$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')"
done
