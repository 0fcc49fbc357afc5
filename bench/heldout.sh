#!/usr/bin/env bash
# Builds the held-out photos: five photographs of 8 to 17 MP from the same pinned Debian packages
# as the development corpus, but not in it. They are never used for tuning; the benchmarks report
# them apart from the corpus photos.
#
#   bash bench/heldout.sh [DIR]          # default DIR: corpus/heldout; writes DIR/NAME.png
#
# Needs apt-get, dpkg and python3 (Pillow is installed into DIR/.venv when python3 lacks it).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-corpus/heldout}"
mkdir -p "$out"
py=python3
if ! "$py" -c 'import PIL' 2>/dev/null; then
  [ -x "$out/.venv/bin/python" ] || python3 -m venv "$out/.venv"
  "$out/.venv/bin/pip" install -q pillow
  py="$out/.venv/bin/python"
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q lomiri-wallpapers-20.04=20.04.0-2 lomiri-wallpapers-16.04=20.04.0-2 >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get download -q lomiri-wallpapers-20.04=20.04.0-2 lomiri-wallpapers-16.04=20.04.0-2 >/dev/null; })
for f in "$tmp"/*.deb; do dpkg -x "$f" "$tmp/x"; done
src="$tmp/x/usr/share/backgrounds"
"$py" - "$src" "$out" <<'PY'
import os, sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
photos = {
    "seeding": "seeding_by_Clements_Engelhardt.jpg",
    "infinitesea": "Infinite-Sea_by_Aury88.jpg",
    "sunset": "sunset_by_Aitzol_Berasategi.jpg",
    "wine": "Wine_by_Jakkub_Mede.jpg",
    "picos": "picosdeeuropa_by_Aitzol_Berasategi.jpg",
}
# The corpus.tsv columns bench/run.sh reads (name, class, megapixels), so that
# `bash bench/run.sh --corpus corpus/heldout --class all` runs the peer benchmark on these.
rows = ["name\tclass\tkind\tsource\toriginal_path\twidth\theight\tmegapixels"]
for name, f in photos.items():
    dst = os.path.join(out, name + ".png")
    if not os.path.exists(dst):
        Image.open(os.path.join(src, f)).convert("RGB").save(dst)
    w, h = Image.open(dst).size
    rows.append(f"{name}\theldout\tphoto\tdeb:lomiri-wallpapers\t/usr/share/backgrounds/{f}\t{w}\t{h}\t{w * h / 1e6:.2f}")
    print(f"{name}\t{w}x{h}\t{w * h / 1e6:.1f} MP\t{f}")
with open(os.path.join(out, "corpus.tsv"), "w") as t:
    t.write("\n".join(rows) + "\n")
PY
