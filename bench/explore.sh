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
# The body of one GET, and the milliseconds one GET takes (curl where there is one, else python3).
get() {
  if command -v curl >/dev/null; then curl -s "$base/api/$1&token=$token"
  else python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())' "$base/api/$1&token=$token"
  fi
}
t() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -w '%{time_total}' "$base/api/$1&token=$token" | awk '{ printf "%.0f", $1 * 1000 }'
  else
    python3 -c 'import sys, time, urllib.request as u
t = time.perf_counter(); u.urlopen(sys.argv[1]).read(); print(f"{(time.perf_counter() - t) * 1000:.0f}")' "$base/api/$1&token=$token"
  fi
}
echo "first preview (histogram + K=16): $(t 'preview?k=16') ms"
for k in "${ks[@]}"; do
  p=$(t "preview?k=$k"); r=$(t "report?k=$k")
  q=$(get "report?k=$k" | grep -o '"quantize_ms":[0-9.]*' | cut -d: -f2)
  printf 'K=%-4s preview %5s ms   report (cached) %4s ms   quantize (server) %6s ms\n' "$k" "$p" "$r" "$q"
done
echo "engine: $(get "report?k=${ks[0]}" | grep -o '"adapter":"[^"]*","backend":"[^"]*"')"
