#!/usr/bin/env bash
# GPU measurements on a machine with a GPU: for each large corpus photo and K, runs
# `kmquant compare` (the same job on the GPU and on the CPU, checked bit for bit) and prints the
# GPU's k-means iterations per second, distance evaluations per second, the share of the
# device's FP32 peak that the assignment reaches, and the quantize-stage time.
#
#   bash bench/gpu.sh [--peak-tflops 51.2] [--k "16 256"] [--corpus corpus] [--photos "kleiber dragonfly bridge"]
#
# --peak-tflops is the device's FP32 peak (e.g. from its datasheet); without it the share is
# left out. One distance evaluation counts as 8 floating-point operations (4 subtractions,
# 4 multiply-adds) plus the compare, which is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
peak=""; ks="16 256"; corpus=corpus; photos="kleiber dragonfly bridge"
while [ $# -gt 0 ]; do
  case "$1" in
    --peak-tflops) peak="$2"; shift 2 ;;
    --k) ks="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    --photos) photos="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$corpus/corpus.tsv" ] || bash ../shared/corpus/fetch.sh "$corpus"
cargo build --release --quiet
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
target/release/kmquant adapters
echo
echo "| photo | K | unique colors | identical | GPU iterations | GPU k-means ms | iterations/s | G distances/s | share of FP32 peak | GPU quantize ms | CPU quantize ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in $photos; do
  for k in $ks; do
    target/release/kmquant compare "$corpus/$p.png" -k "$k" --json > /tmp/kmquant-gpu.json || true
    python3 - "$p" "$k" "$peak" /tmp/kmquant-gpu.json <<'PY'
import json, sys
p, k, peak, f = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
r = json.load(open(f))
g, c = r["gpu"], r["cpu"]
it, km = g["iterations"], g["timings_ms"]["kmeans"]
n = r["unique_colors"]
ips = it / (km / 1e3) if km > 0 else float("nan")
dps = n * k * it / (km / 1e3) if km > 0 else float("nan")
share = f"{100 * dps * 8 / (float(peak) * 1e12):.1f}%" if peak else "-"
gq = g["timings_ms"]["total"] - g["timings_ms"]["setup"]
cq = c["timings_ms"]["total"]
print(f"| {p} | {k} | {n} | {r['identical']} | {it} | {km:.1f} | {ips:.0f} | {dps/1e9:.2f} | {share} | {gq:.1f} | {cq:.1f} |")
PY
  done
done
