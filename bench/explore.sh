#!/usr/bin/env bash
# How long `kmquant explore` takes from a slider release to the new preview: the time of
# GET /api/preview for a K not asked for before (quantize the full photo from the histogram
# counted at start, then draw the screen-size view), then of /api/report for the same K (cached).
#
#   bash bench/explore.sh PHOTO [BACKEND] [K...]     # default: auto, K 64 60 68 56 72
set -euo pipefail
photo=$1; backend=${2:-auto}; shift 2 || shift $#
ks=("$@"); [ ${#ks[@]} -gt 0 ] || ks=(64 60 68 56 72)
bin=${KMQUANT:-target/release/kmquant}
out=$(mktemp); trap 'kill $pid 2>/dev/null; rm -f $out' EXIT
"$bin" explore "$photo" --no-open --backend "$backend" > "$out" 2>/dev/null & pid=$!
while [ ! -s "$out" ]; do sleep 0.1; done
url=$(head -1 "$out"); base=${url%%/?token=*}; token=${url##*token=}
t() { curl -s -o /dev/null -w '%{time_total}' "$base/api/$1&token=$token"; }
printf 'first preview (histogram + K=16): %.0f ms\n' "$(echo "$(t 'preview?k=16') * 1000" | bc)"
for k in "${ks[@]}"; do
  p=$(t "preview?k=$k"); r=$(t "report?k=$k")
  printf 'K=%-4s preview %5.0f ms   report (cached) %4.0f ms\n' "$k" "$(echo "$p * 1000" | bc)" "$(echo "$r * 1000" | bc)"
done
