# shellcheck shell=bash
# Shared by scripts/check, scripts/demo, scripts/bench, scripts/stress, scripts/fuzz:
# installs missing Debian packages and configures build directories.

MIGEMU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian's python3 (python3-pytest and friends are installed for it), even when another
# python3 comes first on PATH.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

# Packages the build and the tests need.
MIGEMU_BUILD_PACKAGES=(g++ meson ninja-build pkg-config rapidjson-dev libreadline-dev
  libgtest-dev libgmock-dev libabsl-dev zlib1g-dev libzstd-dev libgnutls28-dev libevent-dev
  libbenchmark-dev python3 clang-format)
MIGEMU_TEST_PACKAGES=(python3-pytest qemu-system-x86 gnutls-bin socat clang libclang-rt-14-dev)
# Packages scripts/bench needs on top of the build: plots, the QEMU 7.2 it compares with,
# certtool for the TLS cases, iperf3 to cross-check its own loopback TCP measurement.
MIGEMU_BENCH_PACKAGES=(python3-matplotlib qemu-system-x86 gnutls-bin iperf3)

# ensure_packages PKG...: installs (non-interactively) those that are not installed yet.
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "== installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq || true
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_builddir DIR [MESON-ARGS...]: configures DIR when it is missing, then builds it.
ensure_builddir() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  # Two jobs at most: the machine has two cores, shared with whoever else builds on it.
  ninja -C "$dir" -j2 || return 1
}

# ensure_builddir_env "VAR=value ..." DIR [MESON-ARGS...]: ensure_builddir with environment
# variables for the configure step (e.g. "CC=clang CXX=clang++").
ensure_builddir_env() {
  local envs=$1 dir=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    env $envs meson setup "$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" -j2 || return 1
}

# Abseil's synchronization sources that must be TSan-instrumented for a TSan build: Debian's
# libabsl is not, and every absl::Mutex hand-off would then look like a race (docs/multifd.md).
ABSL_TSAN_SOURCES=(
  absl/synchronization/barrier.cc absl/synchronization/blocking_counter.cc
  absl/synchronization/mutex.cc absl/synchronization/notification.cc
  absl/synchronization/internal/create_thread_identity.cc
  absl/synchronization/internal/graphcycles.cc absl/synchronization/internal/per_thread_sem.cc
  absl/synchronization/internal/waiter.cc absl/base/internal/low_level_alloc.cc
  absl/base/internal/spinlock.cc absl/base/internal/spinlock_wait.cc
  absl/base/internal/thread_identity.cc
)

# ensure_deb_src: a fresh Debian 12 machine lists only binary archives; `apt-get source` needs
# their deb-src twins. Writes /etc/apt/sources.list.d/migemu-deb-src.sources with the same
# archives (from debian.sources, or deb.debian.org bookworm) when no deb-src entry exists.
ensure_deb_src() {
  local out=/etc/apt/sources.list.d/migemu-deb-src.sources
  if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      "${sudo[@]}" tee "$out" >/dev/null
  else
    printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
      'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
      "${sudo[@]}" tee "$out" >/dev/null
  fi
  echo "== added deb-src entries ($out) for apt-get source" >&2
}

# fetch_deb_source DIR PACKAGE=VERSION: downloads a Debian source package into DIR (not
# unpacked). The source index may be missing on a fresh machine: then deb-src entries are
# added, the index is updated once and the download is retried. apt's output goes to stderr.
fetch_deb_source() {
  (cd "$1" && { apt-get source -qq --download-only "$2" >&2 ||
    { ensure_deb_src && apt-get update -qq >&2 &&
      apt-get source -qq --download-only "$2" >&2; }; })
}

# ensure_absl_tsan: prints the directory holding libabsl_sync_tsan.a, building it first when
# missing: Debian's abseil source (apt-get source, the installed version) compiled with clang
# -fsanitize=thread against the installed headers. Progress goes to stderr.
ensure_absl_tsan() {
  local dir="$MIGEMU_ROOT/build-absl-tsan"
  if [ -f "$dir/libabsl_sync_tsan.a" ]; then
    echo "$dir"
    return 0
  fi
  mkdir -p "$dir"
  local src
  src=$(find "$dir" -maxdepth 1 -type d -name 'abseil-*' | head -n 1)
  if [ -z "$src" ]; then
    echo "== fetching Debian's abseil source for the TSan build" >&2
    local version
    version=$(dpkg-query -W -f='${Version}' libabsl-dev)
    (fetch_deb_source "$dir" "abseil=$version" &&
      cd "$dir" && dpkg-source -x --no-check ./abseil_*.dsc >/dev/null 2>&1) || {
      echo "check: cannot get abseil's source (apt-get source abseil)" >&2
      return 1
    }
    src=$(find "$dir" -maxdepth 1 -type d -name 'abseil-*' | head -n 1)
  fi
  echo "== building a TSan-instrumented Abseil synchronization library" >&2
  local objs=() f o
  for f in "${ABSL_TSAN_SOURCES[@]}"; do
    o="$dir/$(basename "${f%.cc}").o"
    # Installed headers first (-idirafter for the source tree), so the objects match the ABI
    # of Debian's shared library they replace.
    clang++ -std=c++17 -O1 -g -fPIC -fsanitize=thread -idirafter "$src" \
      -c "$src/$f" -o "$o" >&2 || return 1
    objs+=("$o")
  done
  ar rcs "$dir/libabsl_sync_tsan.a" "${objs[@]}" || return 1
  echo "$dir"
}

# ensure_qemu_python: exports QEMU_PYTHON_DIR, the python/ directory of QEMU's source (its own
# QMP library, which tests/functional/test_qemu_python_qmp.py drives migemu with), taken from
# the orig tarball of the installed QEMU's Debian source package (24 MB; only python/ is
# unpacked) into build-qemu-python/. Best effort: when the source cannot be fetched, those
# tests skip and say why. A QEMU_PYTHON_DIR already set is kept.
ensure_qemu_python() {
  if [ -n "${QEMU_PYTHON_DIR:-}" ]; then
    return 0
  fi
  local dir="$MIGEMU_ROOT/build-qemu-python" py
  py=$(find "$dir" -maxdepth 3 -type d -path '*/python/qemu' 2>/dev/null | head -n 1)
  if [ -z "$py" ]; then
    local version
    version=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null) || return 0
    mkdir -p "$dir"
    echo "== fetching QEMU's Python QMP library (apt-get source --download-only qemu)" >&2
    (fetch_deb_source "$dir" "qemu=$version" 2>/dev/null &&
      cd "$dir" && tar -xJf qemu_*.orig.tar.xz --wildcards '*/python/*' &&
      rm -f qemu_*.orig.tar.xz qemu_*.debian.tar.xz) || {
      echo "check: cannot get QEMU's source; the QEMU Python library tests will skip" >&2
      return 0
    }
    py=$(find "$dir" -maxdepth 3 -type d -path '*/python/qemu' | head -n 1)
  fi
  if [ -n "$py" ]; then
    QEMU_PYTHON_DIR=$(dirname "$py")
    export QEMU_PYTHON_DIR
  fi
}

# absl_tsan_link_args DIR: the link arguments that put the instrumented archive first (whole,
# so its symbols interpose the shared library's) and the rest of Abseil after it.
absl_tsan_link_args() {
  echo "-Wl,--whole-archive,$1/libabsl_sync_tsan.a,--no-whole-archive -labsl_base -labsl_time" \
    "-labsl_spinlock_wait -labsl_raw_logging_internal -labsl_malloc_internal -labsl_stacktrace" \
    "-labsl_symbolize -labsl_int128 -labsl_time_zone -labsl_debugging_internal" \
    "-labsl_demangle_internal -fsanitize=thread"
}

# The sanitizer builds of scripts/check --sanitize and scripts/stress.
# ASan+UBSan with clang: gcc 12 with -fsanitize=address reports false -Wmaybe-uninitialized
# warnings on std::optional<std::string> members, which -Dwerror=true turns into errors.
ensure_asan_build() {
  ensure_builddir_env "CC=clang CXX=clang++" build-asan -Dwerror=true \
    -Db_sanitize=address,undefined -Db_lundef=false
}
ensure_tsan_build() {
  local absl
  absl=$(ensure_absl_tsan) || return 1
  ensure_builddir_env "CC=clang CXX=clang++" build-tsan -Dwerror=true -Db_sanitize=thread \
    -Db_lundef=false "-Dcpp_link_args=$(absl_tsan_link_args "$absl")"
}

# sanitizer_env DIR: every sanitized process writes its report (if any) to its own file in DIR,
# so reports of processes whose stderr nobody reads (functional tests, stress) are counted.
sanitizer_env() {
  export ASAN_OPTIONS="detect_leaks=1:log_path=$1/asan:abort_on_error=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$1/ubsan:suppressions=$MIGEMU_ROOT/tests/ubsan.supp"
  export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$1/tsan:suppressions=$MIGEMU_ROOT/tests/tsan.supp"
}

# count_reports DIR: prints each report's head to stdout and the number of reports last.
count_reports() {
  local n=0 f
  for f in "$1"/*; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    echo "== sanitizer report $(basename "$f"):" >&2
    head -n 40 "$f" >&2
  done
  echo "$n"
}
