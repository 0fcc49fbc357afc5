#!/usr/bin/env bash
# The PNG encode stage and the file size, per photo and K: kmquant's default against another
# build (--base) and against pngquant --nofs at the same K. The encode and remap times are the
# report's own (`--json` `timings_ms`), medians over the runs, all tools interleaved per run.
#
#   bash bench/encode.sh [--base PATH] [--runs N] [--k "16 64 256"] [--photos "A.png B.png"]
#
# Default photos: the four large corpus images and the five held-out ones (bench/heldout.sh).
# --base is a kmquant binary to compare with, e.g. a release build of an older commit:
#   git worktree add /tmp/kmq-base COMMIT && (cd /tmp/kmq-base && cargo build --release)
#   bash bench/encode.sh --base /tmp/kmq-base/target/release/kmquant
# Needs python3; pngquant is used when installed. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/kmquant
base=""
runs=5
ks="16 64 256"
photos="corpus/kleiber.png corpus/dragonfly.png corpus/bridge.png corpus/canopee.png
corpus/heldout/seeding.png corpus/heldout/infinitesea.png corpus/heldout/sunset.png
corpus/heldout/wine.png corpus/heldout/picos.png"
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --k) ks="$2"; shift 2 ;;
    --photos) photos="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "encode.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || cargo build --release -q
[ -z "$base" ] || [ -x "$base" ] || { echo "encode.sh: --base $base is not an executable" >&2; exit 2; }
for p in $photos; do [ -f "$p" ] || { echo "encode.sh: $p not found (fetch the corpus: bench/README.md)" >&2; exit 2; }; done
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
rows="$tmp/rows.tsv"

# One run: appends "label photo k remap_ms encode_ms bytes".
one() {
  local label=$1 exe=$2 p=$3 k=$4
  "$exe" "$p" -k "$k" --backend cpu --json -q --force -o "$tmp/$label.png" | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    # Reports without a "kind" are from builds that printed one object per file.
    if o.get("kind", "file") == "file" and "timings_ms" in o:
        t = o["timings_ms"]
        print("\t".join(map(str, [sys.argv[1], sys.argv[2], sys.argv[3], t["remap"], t["encode"], o["output_bytes"]])))
' "$label" "$(basename "$p" .png)" "$k" >>"$rows"
}

for k in $ks; do
  for p in $photos; do
    if command -v pngquant >/dev/null; then
      pngquant "$k" --nofs --force -o "$tmp/pq.png" "$p"
      printf 'pngquant\t%s\t%s\t0\t0\t%s\n' "$(basename "$p" .png)" "$k" "$(stat -c%s "$tmp/pq.png")" >>"$rows"
    fi
    for _ in $(seq "$runs"); do
      [ -z "$base" ] || one base "$base" "$p" "$k"
      one now "$bin" "$p" "$k"
    done
  done
done

python3 - "$rows" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
photos, ks = [], []
for line in open(sys.argv[1]):
    label, photo, k, remap, enc, size = line.split("\t")
    runs[(label, photo, int(k))].append((float(remap), float(enc), int(size)))
    if photo not in photos: photos.append(photo)
    if int(k) not in ks: ks.append(int(k))
have_base = any(l == "base" for l, _, _ in runs)
have_pq = any(l == "pngquant" for l, _, _ in runs)
def med(label, photo, k, i):
    return statistics.median(r[i] for r in runs[(label, photo, k)])
head = "| K | photo |" + (" base encode ms | base bytes |" if have_base else "") + " encode ms | remap ms | bytes |"
head += (" encode speed-up |" if have_base else "") + (" bytes vs pngquant |" if have_pq else "")
print(head)
print("|" + "---|" * (head.count("|") - 1))
for k in ks:
    for p in photos:
        e, r, b = med("now", p, k, 1), med("now", p, k, 0), runs[("now", p, k)][0][2]
        row = f"| {k} | {p} |"
        if have_base:
            be, bb = med("base", p, k, 1), runs[("base", p, k)][0][2]
            row += f" {be:.0f} | {bb:,} |"
        row += f" {e:.0f} | {r:.0f} | {b:,} |"
        if have_base:
            row += f" {be / e:.2f}x |"
        if have_pq:
            pq = runs[("pngquant", p, k)][0][2]
            row += f" {100 * (b / pq - 1):+.1f}% |"
        print(row)
EOF
