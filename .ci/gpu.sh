#!/usr/bin/env bash
# Before make bench / make nightly installs or builds anything: is there an NVIDIA GPU to measure?
# Exit 0 with one, else a message saying what to do instead and exit 3 (mxbench's "no usable GPU").
set -uo pipefail
target=${1:-bench}
if command -v nvidia-smi >/dev/null; then
  gpus=$(nvidia-smi -L 2>&1) && grep -q '^GPU ' <<<"$gpus" && exit 0
  why="nvidia-smi -L: ${gpus:-no output}"
elif compgen -G '/proc/driver/nvidia/gpus/*' >/dev/null; then
  exit 0 # a driver with GPUs but without nvidia-smi: mxbench itself will say more if need be
else
  why="no nvidia-smi and no NVIDIA driver (/proc/driver/nvidia)"
fi
cat >&2 <<MSG
make $target: no NVIDIA GPU on this machine ($why).
  make $target measures on a GPU, so nothing was installed or built. Run it on a GPU box (one
  without package access needs the offline bundle: make bundle here, copy .deps/ there).
  Here: make test builds and runs the suites (the GPU suites skip); make report RUN=<run folder>
  redraws the plots and report of a run copied from a GPU box.
MSG
exit 3
