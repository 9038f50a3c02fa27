#!/usr/bin/env bash
# make verify: on a GPU box, what a change to the harness or the kernels must pass before its
# figures are trusted, in one go: every suite (the GPU ones included), two smoke sweeps, their
# report and their comparison (does each run's 95 % interval hold the other's figure?). Logs and
# runs go into DIR; a short table comes last. Exit 0 when every step passed.
# usage: .ci/gpu-verify.sh DIR
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dir=${1:?usage: .ci/gpu-verify.sh DIR}
mkdir -p "$dir" || exit 2
bash .ci/gpu.sh verify || exit 3
status=0
step() { # step NAME COMMAND...: runs it with its output in DIR/NAME.log, records pass/fail
  local name=$1
  shift
  if "$@" >"$dir/$name.log" 2>&1; then
    printf '%-10s pass\n' "$name" >>"$dir/summary.txt"
  else
    printf '%-10s FAIL (exit %d, %s/%s.log)\n' "$name" $? "$dir" "$name" >>"$dir/summary.txt"
    status=1
  fi
}
: >"$dir/summary.txt"
step test make test MX_CUDA_ARCHS="${MX_CUDA_ARCHS:-native}"
for i in 1 2; do
  step "smoke-$i" build/mxbench run --suite smoke --out "$dir/smoke-$i" --quiet
done
step report build/mxbench report "$dir/smoke-1"
step compare build/mxbench compare --out "$dir/compare" "$dir/smoke-1" "$dir/smoke-2"
echo
grep -h -E 'tests passed|suites skipped' "$dir/test.log" | tail -2
grep -h -E '^(summary|intervals)' "$dir/compare.log"
if [ -f "$dir/smoke-1/results.csv" ]; then
  python3 - "$dir/smoke-1/results.csv" <<'PY' 2>/dev/null || true
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def count(test): return sum(1 for r in rows if test(r))
print(f"smoke-1: {len(rows)} rows, {count(lambda r: r['status'] != 'ok')} not ok, "
      f"{count(lambda r: r.get('unstable') == 'true')} unstable, "
      f"{count(lambda r: r.get('throttled') == 'true')} throttled, "
      f"{count(lambda r: r.get('elem_err_vs_bound') and float(r['elem_err_vs_bound']) > 1)} "
      f"beyond the element-wise bound")
PY
fi
cat "$dir/summary.txt"
exit $status
