#!/usr/bin/env bash
# What dithering and the Oklab color space do to PSNR, a perceptual error (mean Oklab distance
# x100, lower is better) and file size, on the large corpus photos. Prints a Markdown table.
#
#   bash bench/options.sh [--k "16 64 256"] [--photos "kleiber dragonfly bridge canopee"] [--corpus corpus]
set -euo pipefail
cd "$(dirname "$0")/.."
ks="16 64 256"; photos="kleiber dragonfly bridge canopee"; corpus=corpus
while [ $# -gt 0 ]; do
  case "$1" in
    --k) ks="$2"; shift 2 ;;
    --photos) photos="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$corpus/corpus.tsv" ] || bash ../shared/corpus/fetch.sh "$corpus"
[ -x bench/.venv/bin/python ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install -q numpy pillow; }
cargo build --release --quiet
out=bench/results/options; mkdir -p "$out"
echo "| photo | K | variant | bytes | PSNR dB | mean ΔE_OK x100 | wall s |"
echo "|---|---|---|---|---|---|---|"
for p in $photos; do
  for k in $ks; do
    files=()
    for v in plain dither oklab oklab+dither; do
      args=(); case "$v" in dither) args=(--dither) ;; oklab) args=(--space oklab) ;; oklab+dither) args=(--space oklab --dither) ;; esac
      f="$out/$p-k$k-$v.png"
      /usr/bin/time -f "%e" -o "$out/time-$v" target/release/kmquant "$corpus/$p.png" -k "$k" --backend cpu -o "$f" --force -q "${args[@]}"
      files+=("$f")
    done
    bench/.venv/bin/python bench/perceptual.py "$corpus/$p.png" "${files[@]}" | while IFS=$'\t' read -r f bytes psnr de; do
      v=${f##*-k$k-}; v=${v%.png}
      printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$p" "$k" "$v" "$bytes" "$psnr" "$de" "$(cat "$out/time-$v")"
    done
  done
done
