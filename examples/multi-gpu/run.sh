#!/usr/bin/env bash
# One sweep over several GPUs of one box: one `mxbench run --shard I/N` worker per GPU, each
# pinned to its GPU with CUDA_VISIBLE_DEVICES, then `mxbench merge` of the shards.
#   examples/multi-gpu/run.sh GPUS OUT [mxbench run options...]
#   GPUS: all (every GPU nvidia-smi lists) or a list of ordinals, e.g. 0,1,2,3
#   OUT:  OUT/shard-I/ per worker, OUT/merged/ the whole run (what report and compare take)
# Ctrl-C (or SIGTERM to the runner) stops every worker after its current row, each leaving a
# valid shard folder; nothing is merged then. MXBENCH names the mxbench binary (default build/mxbench).
set -uo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
gpus=$1 out=$2
shift 2
mxbench=${MXBENCH:-build/mxbench}
if [ "$gpus" = all ]; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  [ "$gpus" -gt 0 ] || { echo "multi-gpu: nvidia-smi lists no GPU" >&2; exit 3; }
  gpus=$(seq -s, 0 $((gpus - 1)))
fi
IFS=, read -r -a list <<<"$gpus"
count=${#list[@]}
mkdir -p "$out" || exit 2
pids=()
# Ctrl-C in the terminal reaches every worker itself (one process group): only wait for them.
# SIGTERM to this runner (a scheduler stopping it) is passed on. mxbench stops after its current
# row either way; a second signal would abort it.
stop() {
  [ "$1" = TERM ] && kill -TERM "${pids[@]}" 2>/dev/null
  echo "multi-gpu: stopping ${#pids[@]} workers after their current row" >&2
  wait
  echo "multi-gpu: interrupted; the shards so far are in $out/shard-*/ (not merged)" >&2
  exit 130
}
trap 'stop INT' INT
trap 'stop TERM' TERM
for i in "${!list[@]}"; do
  shard=$((i + 1))
  CUDA_VISIBLE_DEVICES=${list[$i]} "$mxbench" run "$@" --shard "$shard/$count" --gpu 0 \
    --out "$out/shard-$shard" --quiet >"$out/shard-$shard.log" 2>&1 &
  pids+=($!)
  echo "multi-gpu: shard $shard/$count on GPU ${list[$i]} (log: $out/shard-$shard.log)"
done
status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { status=$?; echo "multi-gpu: shard $((i + 1)) exited $status" >&2; }
done
trap - INT TERM
[ $status -eq 0 ] || exit "$status"
shards=()
for i in "${!list[@]}"; do shards+=("$out/shard-$((i + 1))"); done
"$mxbench" merge "$out/merged" "${shards[@]}"
