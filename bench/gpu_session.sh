#!/bin/bash
# One lent-GPU session's measurements for issue 18, run from the repository root on the device
# machine (its image has torch, transformers and pytest; moshi and platformdirs travel as wheels
# in .whl/, see bench/RESULTS.md). Each stage has its own time limit and writes to $OUT as it
# goes, so a stage that overruns still leaves the others' figures.
#   bench/gpu_session.sh [STAGE...]   stages: tests bench candidates compile (default: all)
# Time limits (s) from the environment: TESTS_S, BENCH_S, CANDIDATES_S, COMPILE_S; BENCH_ENGINES
# picks the bench stage's engines (default eager,graph,transformers).
set -u
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site || exit 1
fi
stages=${*:-tests bench candidates compile}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/machine.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
    | tee -a "$OUT/machine.txt"
for stage in $stages; do
    echo "=== $stage $(date +%T)"
    case $stage in
        tests) timeout "${TESTS_S:-150}" python3 -m pytest -q -p no:cacheprovider -m gpu tests/engine/test_gpu.py 2>&1 \
                   | tee "$OUT/gpu-tests.log" | tail -20 ;;
        bench) timeout "${BENCH_S:-240}" python3 bench/engine.py gpu --engines "${BENCH_ENGINES:-eager,graph,transformers}" \
                   --profile "$OUT/profile.md" 2>&1 | grep -v '^Loading weights' | tee "$OUT/bench.md" ;;
        compile) timeout "${COMPILE_S:-200}" python3 bench/engine.py gpu --engines compile \
                     --profile "$OUT/profile-compile.md" 2>&1 | grep -v '^Loading weights' | tee "$OUT/bench-compile.md" ;;
        candidates) timeout "${CANDIDATES_S:-120}" python3 bench/engine.py gpu --engines graph --candidates 1,2,4,8 2>&1 \
                        | grep -v '^Loading weights' | tee "$OUT/bench-candidates.md" ;;
        *) echo "unknown stage $stage" ;;
    esac
    echo "=== $stage ended $(date +%T)"
done
