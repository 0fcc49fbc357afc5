#!/usr/bin/env bash
# The GPU benchmark: for each photo and K, the whole-process wall time of --backend auto, gpu
# and cpu (median of --reps interleaved runs), the GPU run's time per stage, the ratio of the
# auto run to decoding alone, and whether the gpu and cpu outputs are byte-identical.
#
#   bash bench/gpu.sh [--bin PATH] [--k "16 256"] [--reps 3] [IMAGE...]
#
# Default images: the three large corpus photos as JPEG when .dev/img holds them (see
# ../shared/gpu/prepare.sh), else as PNG from corpus/. Needs only python3 and the kmquant binary,
# so it runs as is on a machine without a Rust toolchain:
#   bash .dev/on-gpu.sh bash bench/gpu.sh --bin .dev/kmquant
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/kmquant; ks="16 256"; reps=3; images=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --k) ks="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) images+=("$1"); shift ;;
  esac
done
if [ ${#images[@]} -eq 0 ]; then
  for p in kleiber dragonfly bridge; do
    if [ -f ".dev/img/$p.jpg" ]; then images+=(".dev/img/$p.jpg")
    else
      [ -f corpus/corpus.tsv ] || bash ../shared/corpus/fetch.sh corpus >&2
      images+=("corpus/$p.png")
    fi
  done
fi
[ -x "$bin" ] || cargo build --release --quiet
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
nproc_out=$(nproc)
echo "machine: $nproc_out cores; $(uname -sr)"
"$bin" adapters | sed 's/^/    /'
echo
python3 - "$bin" "$reps" "$ks" "${images[@]}" <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time
binary, reps, ks, images = sys.argv[1], int(sys.argv[2]), [int(k) for k in sys.argv[3].split()], sys.argv[4:]
tmp = tempfile.mkdtemp()

def run(img, k, backend):
    out = os.path.join(tmp, f"{backend}.png")
    t = time.perf_counter()
    p = subprocess.run([binary, img, "-k", str(k), "--backend", backend, "--json", "--force", "-o", out],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        return wall, None, None
    # --json writes one object per input, then a summary: take the file's.
    rep = next(o for o in map(json.loads, p.stdout.splitlines()) if o.get("kind") == "file")
    return wall, rep, open(out, "rb").read()

print("| photo | MP | K | auto s | gpu s | cpu s | auto / faster | auto / decode | auto ran on | gpu stages | device start | histogram | k-means | remap | encode | gpu = cpu bytes |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for img in images:
    for k in ks:
        walls = {"auto": [], "gpu": [], "cpu": []}
        last = {}
        for _ in range(reps):
            for b in ("auto", "gpu", "cpu"):
                w, rep, data = run(img, k, b)
                walls[b].append(w)
                last[b] = (rep, data)
        med = {b: statistics.median(v) for b, v in walls.items()}
        g, c = last["gpu"][0], last["cpu"][0]
        if g is None or c is None:
            print(f"| {os.path.basename(img)} | | {k} | {med['auto']:.3f} | failed | {med['cpu']:.3f} | | | | | | | | | | |")
            continue
        t = g["timings_ms"]
        decode = statistics.median([last[b][0]["timings_ms"]["decode"] for b in ("cpu",)]) / 1e3
        mp = g["width"] * g["height"] / 1e6
        same = last["gpu"][1] == last["cpu"][1]
        ds = "-" if t.get("device_start") is None else f"{t['device_start']:.0f}"
        print(f"| {os.path.basename(img)} | {mp:.1f} | {k} | {med['auto']:.3f} | {med['gpu']:.3f} | {med['cpu']:.3f} | "
              f"{med['auto'] / min(med['gpu'], med['cpu']):.2f} | {med['auto'] / decode:.2f} | {last['auto'][0]['backend'] if last['auto'][0] else 'failed'} | {'+'.join(g.get('gpu_stages', [])) or '-'} | "
              f"{ds} | {t['histogram']:.0f} | {t['kmeans']:.0f} | {t['remap']:.0f} | {t['encode']:.0f} | {'yes' if same else 'NO'} |")
print()
print("Times in s are whole-process wall times, medians of", reps, "interleaved runs; stage times (ms) are from the gpu run's --json report;")
print("'auto / decode' divides the auto run's wall time by the decode stage of the cpu run.")
PY
