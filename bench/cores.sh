#!/usr/bin/env bash
# What multi-core work costs and buys, as ratios measured in one run (hyperfine, medians):
#   1. --dither against the same run without it (20 MP, K = 16 and 256);
#   2. --max-bytes against a single run at the K or quality it chooses, for PNG, GIF and JPEG;
#   3. a batch of 8 photos with --jobs 1 against the default (one job per core), and peak RSS;
#   4. whether RAYON_NUM_THREADS=1 writes the same bytes as the default thread count.
#
#   bash bench/cores.sh [--bin PATH] [--runs N]
#
# Needs hyperfine, /usr/bin/time, python3, and the corpus (scripts fetch it: corpus/, plus
# corpus/heldout/ from bench/heldout.sh for the batch). Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/kmquant
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || cargo build --release -q
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# Median wall seconds of command $2 out of hyperfine's JSON $1 (index $2).
median() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median'])" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
# A pair timed interleaved: prints "a_s b_s b/a".
pair() {
  local j="$tmp/h.json"
  hyperfine -N -w 1 -r "$runs" --export-json "$j" "$1" "$2" >/dev/null 2>&1
  local a b; a=$(median "$j" 0); b=$(median "$j" 1)
  printf '%.3f | %.3f | %s' "$a" "$b" "$(ratio "$b" "$a")"
}

echo "## Dithering (whole run, --backend cpu)"
echo
echo "| photo | K | plain s | --dither s | ratio |"
echo "|---|---|---|---|---|"
for k in 16 256; do
  p=corpus/kleiber.png
  echo "| kleiber 20 MP | $k | $(pair "$bin $p -k $k --backend cpu -q --force -o $tmp/a.png" "$bin $p -k $k --backend cpu -q --force --dither -o $tmp/b.png") |"
done

echo
echo "## --max-bytes against one run at the answer it finds"
echo
echo "| photo | format | limit | answer | one run s | --max-bytes s | ratio |"
echo "|---|---|---|---|---|---|---|"
for p in corpus/kleiber.png corpus/bridge.png; do
  name=$(basename "$p" .png)
  for fmt in png gif jpg; do
    # A limit that needs a real search: 60% of the default output (K=256 or quality 90).
    "$bin" "$p" --backend cpu -q --force -o "$tmp/full.$fmt"
    limit=$(( $(stat -c%s "$tmp/full.$fmt") * 6 / 10 ))
    "$bin" "$p" --backend cpu --force --json --max-bytes "$limit" -o "$tmp/fit.$fmt" >"$tmp/r.json"
    ans=$(python3 -c "import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o.get('kind')=='file': print(o.get('chosen_k') or o.get('chosen_quality'))" "$tmp/r.json")
    if [ "$fmt" = jpg ]; then one="--quality $ans"; label="quality $ans"; else one="-k $ans"; label="K=$ans"; fi
    echo "| $name | $fmt | $limit | $label | $(pair "$bin $p $one --backend cpu -q --force -o $tmp/one.$fmt" "$bin $p --max-bytes $limit --backend cpu -q --force -o $tmp/fit.$fmt") |"
  done
done

echo
echo "## A batch of 8 photos, --jobs 1 against the default"
echo
batch=(corpus/kleiber.png corpus/dragonfly.png corpus/bridge.png corpus/canopee.png
       corpus/heldout/seeding.png corpus/heldout/infinitesea.png corpus/heldout/sunset.png corpus/heldout/wine.png)
mkdir -p "$tmp/o1" "$tmp/o2"
for k in 16 256; do
  echo "K=$k: jobs 1 s | default s | throughput ratio: $(pair "$bin ${batch[*]} -k $k --backend cpu -q --force -j 1 --out-dir $tmp/o1" "$bin ${batch[*]} -k $k --backend cpu -q --force --out-dir $tmp/o2" | awk -F' [|] ' '{printf "%s | %s | %.2f", $1, $2, $1/$2}')"
  for o in "$tmp"/o1/*; do cmp -s "$o" "$tmp/o2/$(basename "$o")" || echo "  DIFFERENT: $(basename "$o")"; done
  for j in 1 ""; do
    /usr/bin/time -f "%M" -o "$tmp/rss" "$bin" "${batch[@]}" -k "$k" --backend cpu -q --force ${j:+-j $j} --out-dir "$tmp/o1"
    label=${j:+--jobs $j}
    echo "  peak RSS with ${label:-the default}: $(( $(cat "$tmp/rss") / 1024 )) MiB"
  done
done

echo
echo "## Same bytes whatever the thread count"
echo
for args in "-k 64" "-k 16 --dither" "-k 256 -o X.gif" "-k 64 -o X.jpg" "--max-bytes 1M"; do
  a="$tmp/t1"; b="$tmp/t2"; mkdir -p "$a" "$b"
  ext=png; case "$args" in *X.gif*) ext=gif ;; *X.jpg*) ext=jpg ;; esac
  clean="${args/-o X.$ext/}"
  RAYON_NUM_THREADS=1 "$bin" corpus/heldout/wine.png $clean --backend cpu -q --force -o "$a/out.$ext"
  "$bin" corpus/heldout/wine.png $clean --backend cpu -q --force -o "$b/out.$ext"
  if cmp -s "$a/out.$ext" "$b/out.$ext"; then same=same; else same=DIFFERENT; fi
  echo "- wine $clean ($ext): 1 thread and $(nproc) threads: $same bytes ($(stat -c%s "$a/out.$ext") bytes)"
done
