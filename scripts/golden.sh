#!/usr/bin/env bash
# Records a hash of the decoded pixels of every output over the development corpus, for several
# option sets and both backends, so that a change meant to keep every result can be checked:
#
#   bash scripts/golden.sh > before.tsv      # on the old commit
#   bash scripts/golden.sh > after.tsv       # on the new one
#   diff before.tsv after.tsv                # no output: every decoded output is unchanged
#
# Options: --corpus DIR (default corpus/, built with ../shared/corpus/fetch.sh when missing),
# --backends "cpu gpu", --bin PATH (default target/release/kmquant, built when missing).
# The hash is over the decoded RGBA pixels, not the file bytes, so an encoder change that keeps
# the pixels keeps the hash. Alpha inputs are made from the small photos (a transparent band, a
# translucent band) into DIR/alpha/.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=corpus; backends="cpu gpu"; bin=target/release/kmquant
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus="$2"; shift 2 ;;
    --backends) backends="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$corpus/corpus.tsv" ] || bash ../shared/corpus/fetch.sh "$corpus" >&2
[ -x "$bin" ] || cargo build --release --quiet
py=python3; python3 -c 'import PIL' 2>/dev/null || py="$corpus/.venv/bin/python"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
mkdir -p "$corpus/alpha"
"$py" - "$corpus" <<'PY'
import sys, os
from PIL import Image
c = sys.argv[1]
for n in ["chelsea", "coffee", "astronaut", "baboon"]:
    dst = f"{c}/alpha/{n}-alpha.png"
    if os.path.exists(dst):
        continue
    im = Image.open(f"{c}/{n}.png").convert("RGBA")
    w, h = im.size
    px = im.load()
    for y in range(h):
        for x in range(w):
            r, g, b, _ = px[x, y]
            a = 0 if x < w // 4 else (255 if x >= w // 2 else (x * 255) // w)
            px[x, y] = (r, g, b, a)
    im.save(dst)
PY
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
sets=("-k 256" "-k 16" "-k 64 --space oklab" "-k 32 --init kmeans++ --seed 7" "-k 16 --dither" "-k 8 --space oklab --dither --dither-strength 0.6")
inputs=$(cut -f1 "$corpus/corpus.tsv" | grep -v '^#' | grep -v '^name$' | sed "s|^|$corpus/|; s|$|.png|")
inputs="$inputs $(ls "$corpus"/alpha/*.png)"
printf 'input\toptions\tbackend\tpixels_sha256\n'
for f in $inputs; do
  for o in "${sets[@]}"; do
    for b in $backends; do
      out="$tmp/o.png"
      # shellcheck disable=SC2086
      "$bin" "$f" $o --backend "$b" -q --force -o "$out"
      h=$("$py" -c 'import sys, hashlib; from PIL import Image; print(hashlib.sha256(Image.open(sys.argv[1]).convert("RGBA").tobytes()).hexdigest())' "$out")
      printf '%s\t%s\t%s\t%s\n' "$(basename "$f")" "$o" "$b" "$h"
    done
  done
done
