#!/usr/bin/env bash
# kmquant against scikit-learn KMeans fitted on every pixel (the tutorial's method, n_init=1),
# same K, same photo, one run each: wall time, PSNR and the time ratio. Prints a Markdown table.
#
#   bash bench/sklearn_full.sh [--k "16"] [--photos "eveningglow cups kleiber"] [--corpus corpus]
set -euo pipefail
cd "$(dirname "$0")/.."
ks="16"; photos="eveningglow cups kleiber"; corpus=corpus
while [ $# -gt 0 ]; do
  case "$1" in
    --k) ks="$2"; shift 2 ;;
    --photos) photos="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x bench/.venv/bin/python ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install -q numpy pillow scikit-learn; }
cargo build --release --quiet
out=bench/results/sklearn-full; mkdir -p "$out"
echo "| photo | K | kmquant s | kmquant PSNR | sklearn (all pixels) s | sklearn PSNR | dPSNR | time ratio |"
echo "|---|---|---|---|---|---|---|---|"
for p in $photos; do
  for k in $ks; do
    /usr/bin/time -f "%e" -o "$out/t-km" target/release/kmquant "$corpus/$p.png" -k "$k" --backend cpu -o "$out/$p-$k-km.png" --force -q
    /usr/bin/time -f "%e" -o "$out/t-sk" bench/.venv/bin/python bench/sklearn_kmeans.py "$corpus/$p.png" "$k" "$out/$p-$k-sk.png" --full
    read -r _ _ pk _ < <(bench/.venv/bin/python bench/perceptual.py "$corpus/$p.png" "$out/$p-$k-km.png")
    read -r _ _ ps _ < <(bench/.venv/bin/python bench/perceptual.py "$corpus/$p.png" "$out/$p-$k-sk.png")
    tk=$(cat "$out/t-km"); ts=$(cat "$out/t-sk")
    awk -v p="$p" -v k="$k" -v tk="$tk" -v pk="$pk" -v ts="$ts" -v ps="$ps" \
      'BEGIN { printf "| %s | %s | %s | %s | %s | %s | %+.3f | %.0fx |\n", p, k, tk, pk, ts, ps, pk - ps, ts / tk }'
  done
done
