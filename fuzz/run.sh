#!/usr/bin/env bash
# make fuzz: each target replays its regression inputs (fuzz/regressions/<target>/: every crash
# found so far), then fuzzes for SECONDS from the seeds (fuzz/seeds/<target>/ plus the shipped
# sweeps and fixtures) with its dictionary. A crash is written into fuzz/regressions/<target>/
# (commit it with the fix) and fails the run.
# usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
build=$1 seconds=$2
shift 2
status=0
for target in "$@"; do
  exe=$build/fuzz_$target corpus=$build/corpus/$target regressions=fuzz/regressions/$target
  mkdir -p "$corpus" "$regressions"
  case $target in
    sweep) cp harness/sweeps/*.sweep "$corpus"/ ;;
    csv) for f in suites/fixtures/report_small/results.csv suites/fixtures/compare/*/results.csv; do
           head -c 65536 "$f" >"$corpus/$(echo "$f" | tr / _)"; done ;;
    run_json) for f in suites/fixtures/*/run.json suites/fixtures/compare/*/run.json; do
                cp "$f" "$corpus/$(echo "$f" | tr / _)"; done ;;
    report) for d in suites/fixtures/report_small suites/fixtures/compare/*/; do
              { head -c 65536 "$d/results.csv"; printf '\n--run.json--\n'; cat "$d/run.json"; } \
                >"$corpus/$(echo "$d" | tr / _)"; done ;;
  esac
  if compgen -G "$regressions/*" >/dev/null && ! "$exe" "$regressions"/* >"$build/$target.replay.log" 2>&1; then
    echo "fuzz_$target: a regression input crashes again (see $build/$target.replay.log)" >&2
    status=1
    continue
  fi
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict")
  case $target in report | compare) dict+=(-close_fd_mask=3) ;; esac # the commands' own output
  echo "fuzz_$target: ${seconds} s"
  if ! "$exe" "$corpus" fuzz/seeds/"$target" "${dict[@]}" -max_total_time="$seconds" \
      -artifact_prefix="$regressions/" -print_final_stats=1 >"$build/$target.log" 2>&1; then
    echo "fuzz_$target: crashed; the input is in $regressions/ (log: $build/$target.log)" >&2
    tail -30 "$build/$target.log" >&2
    status=1
  else
    grep -E 'stat::number_of_executed_units' "$build/$target.log" | sed "s/^/  /"
  fi
done
exit $status
