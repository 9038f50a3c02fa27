#!/usr/bin/env bash
# What the build needs beyond the CUDA toolkit, installed or unpacked by the project itself.
#
#   .ci/deps.sh ensure build|test|bench|fuzz  make sure what `make`, `make test`, `make bench`
#                                   or `make fuzz` need is here:
#                                   use them if present, else unpack an offline bundle from
#                                   .deps/debs/ into .deps/root/ (never into /), else apt-get
#                                   install them, else say exactly what to run.
#   .ci/deps.sh bundle              on a Debian/Ubuntu machine with package access: download the
#                                   packages (and the libraries they load) into .deps/debs/ for a
#                                   GPU box that has no package access (copy .deps/ there). Make it
#                                   on the same or an older release than the GPU box runs.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=.deps
PREFIX=$DEPS/root
BUILD_PACKAGES="libcjson-dev"
# The report's and compare's plot tests draw with gnuplot too: make test installs it, so that
# they run rather than skip.
TEST_PACKAGES="pkg-config libcriterion-dev gnuplot-nox"
BENCH_PACKAGES="gnuplot-nox"
FUZZ_PACKAGES="clang"
# Never bundled: the C library and compiler runtime belong to the target system.
SYSTEM_PACKAGES='^(libc6|libc6-dev|libc-dev-bin|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|libcrypt1|linux-libc-dev)$'

say() { printf 'deps: %s\n' "$*" >&2; }

have_criterion() {
  [ -f /usr/include/criterion/criterion.h ] || [ -f /usr/local/include/criterion/criterion.h ] ||
    [ -f "$PREFIX/usr/include/criterion/criterion.h" ] ||
    { command -v pkg-config >/dev/null && pkg-config --exists criterion; }
}
have_cjson() {
  [ -f /usr/include/cjson/cJSON.h ] || [ -f /usr/local/include/cjson/cJSON.h ] ||
    [ -f "$PREFIX/usr/include/cjson/cJSON.h" ]
}
have_gnuplot() { command -v gnuplot >/dev/null || command -v gnuplot-nox >/dev/null || bundled_gnuplot >/dev/null; }
# gnuplot-nox installs /usr/bin/gnuplot-nox; the `gnuplot` name is an alternative that only its
# postinst creates, so an unpacked bundle has just the former.
bundled_gnuplot() {
  local exe
  for exe in "$PREFIX/usr/bin/gnuplot" "$PREFIX/usr/bin/gnuplot-nox"; do
    [ -x "$exe" ] && { printf '%s\n' "$exe"; return 0; }
  done
  return 1
}
have_cuda() { command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }

missing_for() {
  local missing=""
  command -v cmake >/dev/null || missing="$missing cmake"
  command -v make >/dev/null || missing="$missing make"
  have_cjson || missing="$missing $BUILD_PACKAGES"
  case "$1" in
    test) { have_criterion && have_gnuplot; } || missing="$missing $TEST_PACKAGES" ;;
    bench) have_gnuplot || missing="$missing $BENCH_PACKAGES" ;;
    fuzz) command -v clang >/dev/null || missing="$missing $FUZZ_PACKAGES" ;;
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

# A bundled gnuplot runs from .deps/root: `mxbench report` finds it in usr/bin and sets
# LD_LIBRARY_PATH to the bundle's library folders and FONTCONFIG_FILE to the file written here (the
# system's font configuration, if any, plus the bundle's fonts). Then a test plot shows it starts.
prepare_bundled_gnuplot() {
  local exe root libs
  { command -v gnuplot || command -v gnuplot-nox; } >/dev/null && return 0
  exe=$(bundled_gnuplot) || return 0
  root=$(cd "$PREFIX" && pwd)
  mkdir -p "$root/etc/fonts" "$root/var/cache/fontconfig"
  cat >"$root/etc/fonts/mxbench-fonts.conf" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- written by .ci/deps.sh for the bundled gnuplot -->
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>$root/usr/share/fonts</dir>
  <cachedir>$root/var/cache/fontconfig</cachedir>
</fontconfig>
EOF
  libs=$({ find "$root/usr/lib" "$root/lib" -maxdepth 2 -type d 2>/dev/null || true; } | paste -sd: -)
  if ! LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    FONTCONFIG_FILE="$root/etc/fonts/mxbench-fonts.conf" \
    "$exe" -e "set terminal pngcairo; set output '/dev/null'; plot x" </dev/null >&2; then
    say "the bundled $exe does not start (a library missing from the bundle?);"
    say "  plots will be skipped: make the bundle on the same release as this machine"
    return 1
  fi
  say "using the bundled gnuplot: $exe"
}

# The suites draw plots too (cpu_report): a bundled gnuplot gets its font configuration for both;
# only bench insists that it starts.
prepare_for() {
  if [ "$1" = bench ]; then prepare_bundled_gnuplot; else prepare_bundled_gnuplot || true; fi
}

ensure() {
  local need=$1 missing
  have_cuda || { say "the CUDA toolkit (nvcc) is missing: install it from NVIDIA (it is not a Debian package this script may choose for you)"; exit 1; }
  missing=$(missing_for "$need")
  if [ -z "$missing" ]; then
    prepare_for "$need"
    return 0
  fi
  if compgen -G "$DEPS/debs/*.deb" >/dev/null; then
    unpack_bundle
    missing=$(missing_for "$need")
    if [ -z "$missing" ]; then
      prepare_for "$need"
      return 0
    fi
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
  say "  offline GPU box:       on a machine with package access run 'make bundle',"
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
  # cJSON (the harness reads and writes run.json with it), Criterion's headers and library and
  # gnuplot (make test draws plots too), with every shared library they load, and pkg-config:
  # one bundle serves make test and make bench.
  # fontconfig depends on any one of a dozen font packages and the closure lists them all
  # (28 MB): the bundle takes DejaVu alone, gnuplot's default sans.
  local packages
  packages="libcjson-dev $(closure libcjson1) libcriterion-dev $(closure libcriterion3) $(closure pkg-config) $(closure $BENCH_PACKAGES | grep -v '^fonts-') fonts-dejavu-core"
  mkdir -p "$DEPS/debs"
  (cd "$DEPS/debs" && apt-get download $packages)
  say "$(ls "$DEPS"/debs/*.deb | wc -l) packages, $(du -sh "$DEPS/debs" | cut -f1), in $DEPS/debs"
}

case "${1:-}" in
  ensure) ensure "${2:-test}" ;;
  bundle) bundle ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
