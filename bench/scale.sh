#!/usr/bin/env bash
# How time and memory grow with image size: 1, 4, 16, 64 and 100 megapixels made from one corpus
# photo (resized below its size, tiled above it), quantized on the CPU and on the GPU backend
# (lavapipe where there is no GPU). Prints a Markdown table.
#
#   bash bench/scale.sh [--photo corpus/kleiber.png] [--k 16] [--sizes "1 4 16 64 100"] [--gpu-chunk N]
#
# --gpu-chunk N forces the GPU backend to split the unique colors into dispatches of N points
# (a multiple of 1024), to show chunking on images whose colors fit one storage binding.
set -euo pipefail
cd "$(dirname "$0")/.."
photo=corpus/kleiber.png; k=16; sizes="1 4 16 64 100"; chunk=""
while [ $# -gt 0 ]; do
  case "$1" in
    --photo) photo="$2"; shift 2 ;;
    --k) k="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --gpu-chunk) chunk="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$photo" ] || { echo "no $photo: build the corpus with ../shared/corpus/fetch.sh corpus" >&2; exit 1; }
cargo build --release --quiet
cargo build --release --quiet --example scale_input
bin=target/release/kmquant
work=bench/results/scale; mkdir -p "$work"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
echo "| MP | backend | wall s | s per MP | peak RSS MB | RSS / RGBA | PSNR dB | iterations | GPU chunks |"
echo "|---|---|---|---|---|---|---|---|---|"
for mp in $sizes; do
  in="$work/in-$mp.png"
  [ -f "$in" ] || target/release/examples/scale_input "$photo" "$mp" "$in" >/dev/null
  for backend in cpu gpu; do
    extra=(); [ "$backend" = gpu ] && [ -n "$chunk" ] && extra=(--gpu-chunk-points "$chunk")
    out="$work/out-$mp-$backend.png"
    if ! /usr/bin/time -f "%e %M" -o "$work/time" "$bin" "$in" -k "$k" --backend "$backend" --max-pixels 200000000 \
        -o "$out" --force --json "${extra[@]}" > "$work/report.json"; then
      echo "| $mp | $backend | failed | | | | | | |"; continue
    fi
    read -r wall rss < "$work/time"
    python3 - "$mp" "$backend" "$wall" "$rss" "$work/report.json" <<'PY'
import json, sys
mp, backend, wall, rss, rep = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(rep))
px = r["width"] * r["height"]
rgba_mb = px * 4 / 1e6
print(f"| {px/1e6:.1f} | {backend} | {wall:.2f} | {wall/(px/1e6):.3f} | {rss/1e3:.0f} | {rss*1e3/(px*4):.2f} | "
      f"{r['psnr']:.2f} | {r['iterations']} | {r['gpu_chunks'] if r['backend']=='gpu' else '-'} |")
PY
  done
done
