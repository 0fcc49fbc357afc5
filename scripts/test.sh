#!/usr/bin/env bash
# Runs the whole test suite the way CI does: installs the software GPU drivers when they are
# missing (Debian/Ubuntu, needs root or sudo), checks formatting and lints, runs every test with
# a GPU adapter *required* on Vulkan (lavapipe when there is no real GPU), then runs the unit
# tests (the kernels against their twins) and the GPU-vs-CPU tests again through OpenGL (llvmpipe).
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "scripts/test.sh: cargo not found; install Rust 1.88 or newer (https://rustup.rs)" >&2
  exit 1
fi

# Software Vulkan (lavapipe) and GL/EGL (llvmpipe) from Mesa; Chromium.
need=()
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
ldconfig -p | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
ldconfig -p | grep -q 'libEGL.so.1' || need+=(libegl1)
ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 || need+=(libgl1-mesa-dri)
ldconfig -p | grep -q 'libEGL_mesa.so.0' || need+=(libegl-mesa0)
# The validators the shader translation tests run (SPIR-V for Vulkan, GLSL ES 3.10 for GL).
command -v spirv-val >/dev/null || need+=(spirv-tools)
command -v glslangValidator >/dev/null || need+=(glslang-tools)
# Headless Chromium and its WebDriver, for the test of `kmquant explore` in a real browser.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"   # silences Mesa's warning
export KMQUANT_REQUIRE_GPU=1                        # a missing adapter or validator fails the GPU tests

# cargo test ARGS into LOG (every test binary, even after a failure), a digest on the screen, and
# the run's own exit status: a failing test fails the script.
tests() {
  local log=$1; shift
  local status=0
  cargo test --no-fail-fast "$@" -- --nocapture >"$log" 2>&1 || status=$?
  grep -E '^(test |GPU adapter|running|test result|failures|---- )|panicked|identical' "$log" || true
  if [ "$status" != 0 ]; then
    echo "cargo test $* failed (exit $status); the whole output is in $log" >&2
    exit 1
  fi
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test (GPU tests on Vulkan)"
WGPU_BACKEND=vulkan tests /tmp/kmquant-test-vulkan.log --all-targets
echo "== cargo test --doc (the README's library example)"
cargo test --doc --quiet
echo "== cargo build --lib --no-default-features (the library without the command line)"
cargo build --lib --no-default-features --quiet
echo "== cargo package --list (no file over 256 KiB ships)"
big=$(cargo package --list --allow-dirty --quiet 2>/dev/null | while read -r f; do
  [ -f "$f" ] && [ "$(stat -c%s "$f")" -gt 262144 ] && echo "$f"; done || true)
if [ -n "$big" ]; then echo "large files in the package: $big" >&2; exit 1; fi
cargo package --list --allow-dirty --quiet | wc -l | xargs echo "files in the package:"
echo "== cargo test --lib gpu:: and --test gpu_matches_cpu (GPU tests on OpenGL)"
WGPU_BACKEND=gl tests /tmp/kmquant-test-gl.log --lib --test gpu_matches_cpu
echo "== all tests passed"
