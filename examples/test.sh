#!/usr/bin/env bash
# The examples' scripts on the CPU (CTest `examples`): syntax, then the Slurm recipe and the
# multi-GPU runner driven with a fake mxbench (and fake sbatch/srun) that records what it is
# asked to do: the right shards, one merge of all of them, report and compare after it, a stop
# (SIGTERM) reaching every worker and nothing merged then.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "examples: FAIL: $*" >&2; exit 1; }
for f in "$here"/multi-gpu/run.sh "$here"/slurm/*.sh "$here"/slurm/*.sbatch; do
  bash -n "$f" || fail "bash -n $f"
done

# A fake mxbench: logs its arguments; `run` makes the --out folder (or sleeps, SLOW=1, until
# interrupted, then leaves a marker); merge checks that every shard folder exists.
mkdir -p "$work/bin"
cat >"$work/bin/mxbench" <<'FAKE'
#!/usr/bin/env bash
echo "$*" >>"$FAKE_LOG"
case $1 in
  run)
    out=; while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done
    if [ "${SLOW:-0}" = 1 ]; then
      trap 'mkdir -p "$out"; touch "$out/interrupted"; exit 130' TERM
      sleep 30 & wait $!
    fi
    mkdir -p "$out" ;;
  merge) shift 2; for d in "$@"; do [ -d "$d" ] || exit 2; done ;;
esac
FAKE
chmod +x "$work/bin/mxbench"
export MXBENCH=$work/bin/mxbench FAKE_LOG=$work/log

# Slurm: a fake sbatch that runs an array's tasks and then the dependent job, and a fake srun.
cat >"$work/bin/sbatch" <<'FAKE'
#!/usr/bin/env bash
array= script= args=()
for a in "$@"; do
  case $a in
    --parsable|--dependency=*) ;;
    --array=*) array=${a#--array=} ;;
    *) if [ -z "$script" ]; then script=$a; else args+=("$a"); fi ;;
  esac
done
echo "sbatch $script ${args[*]}" >>"$FAKE_LOG"
if [ -n "$array" ]; then
  last=${array#*-}
  for task in $(seq "${array%-*}" "$last"); do
    SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=$last bash "$script" "${args[@]}" || exit 1
  done
else
  bash "$script" "${args[@]}" || exit 1
fi
echo "$RANDOM"
FAKE
printf '#!/usr/bin/env bash\n"$@"\n' >"$work/bin/srun"
chmod +x "$work/bin/sbatch" "$work/bin/srun"
(cd "$work" && PATH=$work/bin:$PATH bash "$here/slurm/submit.sh" 3 "$work/night" >/dev/null) ||
  fail "slurm/submit.sh"
grep -q "run --suite nightly --shard 1/3 --out $work/night/shard-1" "$FAKE_LOG" || fail "shard 1/3"
grep -q "run --suite nightly --shard 3/3 --out $work/night/shard-3" "$FAKE_LOG" || fail "shard 3/3"
grep -q "^merge $work/night/merged $work/night/shard-1 $work/night/shard-2 $work/night/shard-3$" \
  "$FAKE_LOG" || fail "merge of the three shards"
[ "$(grep -n '^compare' "$FAKE_LOG" | cut -d: -f1)" -gt "$(grep -n '^merge' "$FAKE_LOG" | cut -d: -f1)" ] ||
  fail "compare after merge"

# Multi-GPU: every GPU a worker, then one merge; Ctrl-C reaches every worker, nothing merged.
: >"$FAKE_LOG"
bash "$here/multi-gpu/run.sh" 0,1,2 "$work/box" --suite smoke >/dev/null || fail "multi-gpu run"
[ "$(grep -c '^run --suite smoke --shard [123]/3 --gpu 0' "$FAKE_LOG")" = 3 ] || fail "three workers"
grep -q "^merge $work/box/merged $work/box/shard-1 $work/box/shard-2 $work/box/shard-3$" \
  "$FAKE_LOG" || fail "multi-gpu merge"
: >"$FAKE_LOG"
SLOW=1 bash "$here/multi-gpu/run.sh" 0,1 "$work/stop" --suite smoke >/dev/null 2>&1 &
runner=$!
sleep 1
kill -TERM "$runner" # as a scheduler stops a job (a background script ignores SIGINT)
wait "$runner"
[ $? = 130 ] || fail "stopped: exit 130"
[ -f "$work/stop/shard-1/interrupted" ] && [ -f "$work/stop/shard-2/interrupted" ] ||
  fail "the stop reaches every worker"
grep -q '^merge' "$FAKE_LOG" && fail "nothing is merged after a stop"
echo "examples: ok (syntax, Slurm recipe, multi-GPU runner and its stop)"
