#!/usr/bin/env bash
# The nightly sweep on a Slurm cluster: N shards as a job array (one GPU each), then a merge +
# report + compare job that runs once they all succeeded. Run from the checkout, built (make).
#   examples/slurm/submit.sh [SHARDS (default 4)] [RUN_DIR (default results/<UTC time>-nightly)]
set -euo pipefail
cd "$(dirname "$0")/../.."
shards=${1:-4}
run_dir=${2:-results/$(date -u +%Y%m%dT%H%M%SZ)-nightly}
array=$(sbatch --parsable --array="1-$shards" examples/slurm/nightly.sbatch "$run_dir")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" examples/slurm/merge.sbatch "$run_dir" "$shards")
echo "submitted: shards job $array ($shards tasks), merge + compare job ${merge%%;*}; results in $run_dir"
