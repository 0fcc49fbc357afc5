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
# Python 3 with venv (ensurepip), for the Python package's tests.
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
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
# ---- The Python package (python/) -------------------------------------------------------------
# Installed into a venv under the target folder with `pip install ./python` (the README's way;
# maturin builds the release profile into the workspace target folder, so a second run rebuilds
# nothing), then its pytest suite, which compares with the binary `cargo test` built above and
# needs the GPU.
echo "== Python package: pip install ./python, pytest python/tests"
py_start=$SECONDS
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
venv="$target_dir/py-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pytest numpy pillow "dask[distributed]"
CARGO_TARGET_DIR="$target_dir" "$venv/bin/pip" install -q --disable-pip-version-check ./python
KMQUANT_BIN="${KMQUANT_BIN:-$target_dir/debug/kmquant}" WGPU_BACKEND=vulkan \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests
echo "== Python package: $((SECONDS - py_start)) s"
# ------------------------------------------------------------------------------------------------
echo "== all tests passed"
