#!/usr/bin/env bash
# make sanitize (on a GPU box): the GPU suites under compute-sanitizer, and a smoke sweep.
#   memcheck   every GPU suite, and `mxbench run --suite smoke` (3 samples a row); of gpu_harness
#              only the tests that do not time a sweep: under memcheck every timed launch is
#              instrumented (every_op_and_variant ran over 2 minutes, the Ctrl-C test over 8, on an
#              H100), and the smoke sweep covers that path with every variant of every op
#   synccheck  gpu_gemm (the kernels with block- and cluster-wide barriers)
#   racecheck  gpu_gemm's batched_problems (every variant on small shapes), cuBLAS's kernels (nvjet*
#              of libcublas) excluded: its hazards are not ours, and all of gpu_gemm does not
#              finish under racecheck in 450 s
# The checks run side by side (one GPU, one process each; all of them take about as long as the
# longest alone). Each tool's summary line is printed at the end; exit 1 when any reports an error.
# usage: .ci/sanitize.sh BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
build=$1
tool=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$tool" ] || { echo "make sanitize: compute-sanitizer not found (CUDA toolkit)" >&2; exit 2; }
logs=$build/sanitize
mkdir -p "$logs"
names=()
check() { # name, tool arguments..., command...: started in the background, its exit status kept
  local name=$1
  shift
  echo "sanitize: $name"
  names+=("$name")
  ("$tool" --error-exitcode 1 --print-limit 20 "$@" >"$logs/$name.log" 2>&1
    echo $? >"$logs/$name.status") &
}
timed='tiny_sweep*|warm_l2*|every_op_and_variant*|row_that_does_not_fit*|ctrl_c*'
for suite in "$build"/suite_gpu_*; do
  only=()
  [ "$(basename "$suite")" = suite_gpu_harness ] && only=(--filter "gpu_harness/!($timed)")
  check "memcheck-$(basename "$suite")" --tool memcheck "$suite" --jobs=1 "${only[@]}"
done
check synccheck-gpu_gemm --tool synccheck "$build/suite_gpu_gemm" --jobs=1
check racecheck-gpu_gemm --tool racecheck --kernel-name-exclude kns=nvjet,kns=cublas \
  "$build/suite_gpu_gemm" --jobs=1 --filter '*batched_problems*'
rm -rf "$logs/smoke-run"
check memcheck-smoke-sweep --tool memcheck "$build/mxbench" run --suite smoke --min-samples 3 \
  --max-samples 3 --out "$logs/smoke-run" --quiet
wait
status=0
for name in "${names[@]}"; do
  [ "$(cat "$logs/$name.status" 2>/dev/null)" = 0 ] || status=1
  echo "$name: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/$name.log" | tail -1)"
done
[ $status -eq 0 ] && echo "make sanitize: no error" || echo "make sanitize: errors (logs in $logs/)" >&2
exit $status
