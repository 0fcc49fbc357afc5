#!/usr/bin/env bash
# Long fuzzing runs with cargo-fuzz (libFuzzer): decode -> quantize -> encode on arbitrary image
# bytes, and the command-line parser on arbitrary arguments. The target bodies are in
# fuzz/targets.rs; tests/fuzz_replay.rs replays the seeds and thousands of mutations in CI.
#
#   bash scripts/fuzz.sh [RUNS] [TARGET...]    # default: 1000000 runs of each target
#
# cargo-fuzz needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# A crash is written under fuzz/artifacts/TARGET/: add it to fuzz/corpus/TARGET/ as a regression
# seed once it is fixed. Each run is limited to 10 s and 1 GiB, so a hang or a runaway
# allocation is reported as a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(decode_quantize_encode options)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work/$t"
  echo "== $t: $runs runs"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
    -runs="$runs" -max_len=16384 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
done
