#!/bin/bash
# The benchmarks on a lent GPU machine, in one call: the CUDA path of the pipeline (bench_cam.py), of the learner
# (bench_propagate.py --time-only) and of a batch worker (bench_batch.py), then simulated reviews of demo volumes
# of several seeds in parallel (bench_propagate.py, one process a volume, JOBS at a time, THREADS CPU threads
# each), once per variant of its flags.
#
#     SEEDS="19 23" VARIANTS="base=;w1=--suggestion-weight 1" JOBS=16 THREADS=1 bash benchmarks/gpu_run.sh \
#         [--no-timings | --no-sims]
#
# Packages the machine lacks travel as wheels in .whl/ (docs/benchmarks.md says which). Logs go to $OUT (or
# /tmp/gpu-out); the last lines printed are every simulated volume's ROW line, by variant.
set -u
OUT=${OUT:-/tmp/gpu-out}
PY=${PY:-python3}
SEEDS=${SEEDS:-19 23}
DEVICE=${DEVICE:-cuda}
SIM_LIMIT=${SIM_LIMIT:-420}
THREADS=${THREADS:-2}
LOGS=$(mktemp -d)
mkdir -p "$OUT"
if [ -d .whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export PY DEVICE SIM_LIMIT THREADS LOGS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
$PY -c "import torch, numpy, skimage; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'numpy', numpy.__version__, 'skimage', skimage.__version__)" || exit 1

for s in $SEEDS; do  # each seed's demo data first, one writer per folder
    $PY -c "from pathlib import Path; from labelassist.demo.data import write_demo_data as w; \
w(Path('/tmp/labelassist-bench-propagate-seed$s'), seed=$s, n_mri=3, n_us=0)" || exit 1
done

if [ "${1:-}" != "--no-timings" ]; then  # alone on the machine, so the timings are its own
    echo "== bench_cam"; $PY benchmarks/bench_cam.py --device "$DEVICE" 2>&1 | tee "$OUT/cam.log" | tail -8
    echo "== bench_propagate --time-only"
    $PY benchmarks/bench_propagate.py --time-only --device "$DEVICE" 2>&1 | tail -2
    echo "== bench_batch"
    timeout 240 $PY benchmarks/bench_batch.py --device "$DEVICE" --workers 1 2>&1 | tee "$OUT/batch.log" | tail -12
fi

[ "${1:-}" = "--no-sims" ] && exit 0
t0=$(date +%s)
# VARIANTS: "name=bench flags;name=flags" (e.g. "base=;w1=--suggestion-weight 1"): every variant runs every seed.
# SIM_LIMIT: seconds for one volume; SIMS_TOTAL: for all of them (what finished is still reported).
IFS=';' read -ra VARS <<<"${VARIANTS:-base=}"
for s in $SEEDS; do  # seed by seed, so that SIMS_TOTAL cuts whole seeds off every variant alike
    for var in "${VARS[@]}"; do
        for setting in easy hard; do
            for v in 0 1; do
                flags=${var#*=}
                echo "${var%%=*} $s $setting $v${flags:+ $flags}"  # no trailing blank: xargs -L joins such lines
            done
        done
    done
done | timeout "${SIMS_TOTAL:-86400}" xargs -P "${JOBS:-16}" -L 1 bash -c 'OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS timeout "$SIM_LIMIT" \
    $PY benchmarks/bench_propagate.py --seed "$1" --settings "$2" --volumes "$3" --device "$DEVICE" --no-time \
    "${@:4}" >"$LOGS/sim_$0_s$1_$2$3.log" 2>&1' 
echo "== simulations: $(( $(date +%s) - t0 )) s"
for var in "${VARS[@]}"; do
    cat "$LOGS"/sim_"${var%%=*}"_*.log >"$OUT/sims_${var%%=*}.log"
    echo "== ${var%%=*}: ${var#*=}"; grep -h "ROW" "$LOGS"/sim_"${var%%=*}"_*.log
done
grep -h "Traceback\|Error" "$LOGS"/sim_*.log | sort | uniq -c | head -5
