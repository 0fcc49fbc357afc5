#!/usr/bin/env bash
# Benchmark kmquant against peer quantizers on the photo corpus.
#
#   bash bench/run.sh [--reps N] [--k "16 64 256"] [--class large] [--corpus DIR]
#                     [--tools "kmquant quantette imagequant pngquant sklearn"]
#                     [--photos "bridge kleiber"] [--fresh] [--no-build]
#
# For each rep, photo and K, every tool runs once in turn (interleaved, so drift
# in machine speed hits all tools alike) under /usr/bin/time. Rows are appended
# to bench/results/runs.tsv; `python3 bench/summarize.py bench/results/runs.tsv`
# turns them into a Markdown report.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
RESULTS="$BENCH_DIR/results"
VENV="$BENCH_DIR/.venv"
KMQUANT="$REPO_DIR/target/release/kmquant"
PEER="$BENCH_DIR/harness/target/release/peer"
MEASURE="$BENCH_DIR/harness/target/release/measure"
TIME=/usr/bin/time
ALL_TOOLS="kmquant quantette imagequant pngquant sklearn pillow opencv"

REPS=3
KS="16 64 256"
CLASSES="large"
CORPUS="$REPO_DIR/corpus"
TOOLS="$ALL_TOOLS"
FRESH=0
BUILD=1
PHOTO_NAMES=""
# The exact command line, re-quoted so it can be pasted back into a shell.
COMMAND="bash bench/run.sh"
for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./,=:+-]+$ ]]; then COMMAND+=" $a"; else COMMAND+=" \"$a\""; fi
done

usage() {
    sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo
    echo "  --reps N      repetitions of the whole grid (default 3)"
    echo "  --k LIST      palette sizes, space or comma separated (default \"16 64 256\")"
    echo "  --class LIST  corpus classes: small, medium, large or all (default large)"
    echo "  --corpus DIR  corpus directory (default corpus/ in the repo; fetched if it has no corpus.tsv)"
    echo "  --tools LIST  subset of: $ALL_TOOLS"
    echo "  --photos LIST only these corpus photos, by name (overrides --class)"
    echo "  --fresh       move an existing results/runs.tsv aside instead of appending to it"
    echo "  --no-build    do not run cargo build (the binaries must already exist)"
}

die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=${2:?}; shift 2 ;;
        --k) KS=${2:?}; shift 2 ;;
        --class) CLASSES=${2:?}; shift 2 ;;
        --corpus) CORPUS=${2:?}; shift 2 ;;
        --tools) TOOLS=${2:?}; shift 2 ;;
        --photos) PHOTO_NAMES=${2:?}; shift 2 ;;
        --fresh) FRESH=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

KS=${KS//,/ }
CLASSES=${CLASSES//,/ }
TOOLS=${TOOLS//,/ }
PHOTO_NAMES=${PHOTO_NAMES//,/ }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
for k in $KS; do
    [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 2 ] && [ "$k" -le 256 ] || die "bad K: $k (2..256)"
done
for t in $TOOLS; do
    case " $ALL_TOOLS " in *" $t "*) ;; *) die "unknown tool: $t (one of: $ALL_TOOLS)" ;; esac
done
[ -x "$TIME" ] || die "$TIME not found (Debian/Ubuntu: apt-get install time)"

# --- build --------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    echo "== building kmquant (release)" >&2
    (cd "$REPO_DIR" && cargo build --release --quiet)
    echo "== building the peer harness (release)" >&2
    (cd "$BENCH_DIR/harness" && cargo build --release --quiet)
fi
[ -x "$KMQUANT" ] || die "missing $KMQUANT (run without --no-build)"
[ -x "$PEER" ] && [ -x "$MEASURE" ] || die "missing harness binaries (run without --no-build)"

# --- python venv for the scikit-learn tutorial method -----------------------
case " $TOOLS " in
    *" sklearn "*|*" pillow "*|*" opencv "*)
        if [ ! -x "$VENV/bin/python" ]; then
            echo "== creating $VENV" >&2
            python3 -m venv "$VENV"
        fi
        if ! "$VENV/bin/python" -c 'import sklearn, PIL, numpy, cv2' 2>/dev/null; then
            echo "== installing scikit-learn, pillow, numpy, opencv into the venv" >&2
            "$VENV/bin/pip" install --quiet --disable-pip-version-check scikit-learn pillow numpy opencv-python-headless
        fi
        ;;
esac
case " $TOOLS " in
    *" pngquant "*) command -v pngquant >/dev/null || die "pngquant not found (apt-get install pngquant)" ;;
esac

# --- corpus -------------------------------------------------------------------
if [ ! -f "$CORPUS/corpus.tsv" ]; then
    FETCH="$REPO_DIR/../shared/corpus/fetch.sh"
    [ -f "$FETCH" ] || die "$CORPUS has no corpus.tsv and $FETCH is missing"
    echo "== building the corpus in $CORPUS" >&2
    mkdir -p "$CORPUS"
    bash "$FETCH" "$CORPUS"
fi
CORPUS=$(cd "$CORPUS" && pwd)

# name <TAB> megapixels for each photo of the chosen classes (or names), in corpus order.
PHOTOS=$(awk -F'\t' -v classes=" $CLASSES " -v names=" $PHOTO_NAMES " '
    /^#/ { next }
    !hdr { for (i = 1; i <= NF; i++) col[$i] = i; hdr = 1; next }
    names != "  " { if (index(names, " " $col["name"] " ")) print $col["name"] "\t" $col["megapixels"]; next }
    classes ~ / all / || index(classes, " " $col["class"] " ") { print $col["name"] "\t" $col["megapixels"] }
' "$CORPUS/corpus.tsv")
[ -n "$PHOTOS" ] || die "no photos matching '${PHOTO_NAMES:-class $CLASSES}' in $CORPUS/corpus.tsv"

# --- results ------------------------------------------------------------------
OUT="$RESULTS/out"
LOGS="$RESULTS/logs"
RUNS="$RESULTS/runs.tsv"
mkdir -p "$OUT" "$LOGS"
CMDS="$RESULTS/runs.commands.txt" # the command lines that wrote runs.tsv, read by summarize.py
if [ "$FRESH" = 1 ] && [ -f "$RUNS" ]; then
    stamp=$(date +%Y%m%d-%H%M%S)
    mv "$RUNS" "$RESULTS/runs.$stamp.tsv"
    [ -f "$CMDS" ] && mv "$CMDS" "$RESULTS/runs.$stamp.commands.txt"
fi
if [ ! -s "$RUNS" ]; then
    printf 'tool\tphoto\tmegapixels\tk\trep\twall_s\tmax_rss_kb\toutput_bytes\tpsnr\tcolors\n' > "$RUNS"
fi
printf '%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$COMMAND" >> "$CMDS"

# Set CMD to the command line of one tool run.
tool_cmd() {
    local tool=$1 in=$2 k=$3 out=$4
    case "$tool" in
        kmquant)    CMD=("$KMQUANT" "$in" -k "$k" -o "$out" --backend cpu -q --force) ;;
        quantette)  CMD=("$PEER" quantette "$in" "$k" "$out") ;;
        imagequant) CMD=("$PEER" imagequant "$in" "$k" "$out") ;;
        pngquant)   CMD=(pngquant "$k" --nofs --force -o "$out" "$in") ;;
        sklearn)    CMD=("$VENV/bin/python" "$BENCH_DIR/sklearn_kmeans.py" "$in" "$k" "$out") ;;
        pillow)     CMD=("$VENV/bin/python" "$BENCH_DIR/pillow_quantize.py" "$in" "$k" "$out") ;;
        opencv)     CMD=("$VENV/bin/python" "$BENCH_DIR/opencv_kmeans.py" "$in" "$k" "$out") ;;
    esac
}

n_photos=$(printf '%s\n' "$PHOTOS" | wc -l)
echo "== $REPS rep(s) x $n_photos photo(s) x K in {$KS} x tools {$TOOLS}; rows -> $RUNS" >&2

for rep in $(seq 1 "$REPS"); do
    while IFS=$'\t' read -r photo mp; do
        in="$CORPUS/$photo.png"
        [ -f "$in" ] || { echo "run.sh: missing $in, skipped" >&2; continue; }
        cat "$in" > /dev/null # same page-cache state for every tool
        for k in $KS; do
            for tool in $TOOLS; do
                mkdir -p "$OUT/$tool"
                out="$OUT/$tool/$photo-k$k.png"
                log="$LOGS/$tool-$photo-k$k.log"
                tfile="$RESULTS/.time"
                rm -f "$out" "$tfile"
                tool_cmd "$tool" "$in" "$k" "$out"
                wall=NA rss=NA bytes=NA psnr=NA colors=NA
                if "$TIME" -f "%e %M" -o "$tfile" "${CMD[@]}" > "$log" 2>&1 && [ -s "$out" ]; then
                    read -r wall rss < <(tail -n 1 "$tfile")
                    bytes=$(stat -c %s "$out")
                    if [ "$rep" = 1 ]; then
                        if m=$("$MEASURE" "$in" "$out" 2>> "$log"); then
                            psnr=$(sed -E 's/.*"psnr": *([^,}]*).*/\1/' <<< "$m")
                            colors=$(sed -E 's/.*"colors": *([0-9]+).*/\1/' <<< "$m")
                            [ "$psnr" = null ] && psnr=inf
                        fi
                    fi
                    status="${wall}s ${rss}kB psnr=$psnr colors=$colors"
                else
                    status="FAILED (see $log)"
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                    "$tool" "$photo" "$mp" "$k" "$rep" "$wall" "$rss" "$bytes" "$psnr" "$colors" >> "$RUNS"
                printf 'rep %s %-10s %-10s k=%-3s %s\n' "$rep" "$photo" "$tool" "$k" "$status" >&2
            done
        done
    done <<< "$PHOTOS"
done
rm -f "$RESULTS/.time"
echo "== done; summarize with: python3 bench/summarize.py $RUNS" >&2
