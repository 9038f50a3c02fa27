#!/usr/bin/env bash
# What the build needs beyond the CUDA toolkit, installed or unpacked by the project itself.
#
#   .ci/deps.sh ensure test|bench   make sure the tools for `make test` / `make bench` are here:
#                                   use them if present, else unpack an offline bundle from
#                                   .deps/debs/ into .deps/root/ (never into /), else apt-get
#                                   install them, else say exactly what to run.
#   .ci/deps.sh bundle [test|bench] on a Debian/Ubuntu machine with package access: download the
#                                   packages (and the libraries they load) into .deps/debs/ for a
#                                   GPU box that has no package access (copy .deps/ there). Make it
#                                   on the same or an older release than the GPU box runs.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=.deps
PREFIX=$DEPS/root
TEST_PACKAGES="pkg-config libcriterion-dev"
BENCH_PACKAGES="gnuplot-nox"
# Never bundled: the C library and compiler runtime belong to the target system.
SYSTEM_PACKAGES='^(libc6|libc6-dev|libc-dev-bin|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|libcrypt1|linux-libc-dev)$'

say() { printf 'deps: %s\n' "$*" >&2; }

have_criterion() {
  [ -f /usr/include/criterion/criterion.h ] || [ -f /usr/local/include/criterion/criterion.h ] ||
    [ -f "$PREFIX/usr/include/criterion/criterion.h" ] ||
    { command -v pkg-config >/dev/null && pkg-config --exists criterion; }
}
have_gnuplot() { command -v gnuplot >/dev/null || [ -x "$PREFIX/usr/bin/gnuplot" ]; }
have_cuda() { command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }

missing_for() {
  local missing=""
  command -v cmake >/dev/null || missing="$missing cmake"
  command -v make >/dev/null || missing="$missing make"
  case "$1" in
    test) have_criterion || missing="$missing $TEST_PACKAGES" ;;
    bench) have_gnuplot || missing="$missing $BENCH_PACKAGES" ;;
  esac
  printf '%s' "${missing# }"
}

unpack_bundle() {
  local stamp=$PREFIX/.unpacked
  [ -f "$stamp" ] && [ -z "$(find "$DEPS/debs" -name '*.deb' -newer "$stamp" -print -quit)" ] && return 0
  say "unpacking the offline bundle $DEPS/debs/*.deb into $PREFIX"
  mkdir -p "$PREFIX"
  for deb in "$DEPS"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX"; done
  touch "$stamp"
}

ensure() {
  local need=$1 missing
  have_cuda || { say "the CUDA toolkit (nvcc) is missing: install it from NVIDIA (it is not a Debian package this script may choose for you)"; exit 1; }
  missing=$(missing_for "$need")
  [ -z "$missing" ] && return 0
  if compgen -G "$DEPS/debs/*.deb" >/dev/null; then
    unpack_bundle
    missing=$(missing_for "$need")
    [ -z "$missing" ] && return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
    say "installing: $missing"
    if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2; then
      return 0
    fi
    say "apt-get could not install them (no package access?)."
  fi
  say "missing: $missing"
  say "  with package access:   sudo apt-get install -y $missing"
  say "  offline GPU box:       on a machine with package access run '.ci/deps.sh bundle',"
  say "                         copy the .deps/ folder next to this Makefile, then run make again"
  exit 1
}

closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" | grep -v '^ ' | grep -v '^<' | sort -u | grep -Ev "$SYSTEM_PACKAGES"
}

bundle() {
  command -v apt-get >/dev/null || { say "bundle needs apt-get (Debian/Ubuntu)"; exit 1; }
  apt-get update -qq || say "apt-get update failed; using the package lists already here"
  # Criterion's headers and library with every shared library it loads; gnuplot only for bench.
  local packages="libcriterion-dev $(closure libcriterion3)"
  [ "${1:-test}" = bench ] && packages="$packages $(closure $BENCH_PACKAGES)"
  mkdir -p "$DEPS/debs"
  (cd "$DEPS/debs" && apt-get download $packages)
  say "$(ls "$DEPS"/debs/*.deb | wc -l) packages, $(du -sh "$DEPS/debs" | cut -f1), in $DEPS/debs"
}

case "${1:-}" in
  ensure) ensure "${2:-test}" ;;
  bundle) bundle "${2:-test}" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
