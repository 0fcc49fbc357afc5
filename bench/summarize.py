#!/usr/bin/env python3
"""Turn bench/results/runs.tsv (written by bench/run.sh) into a Markdown report.

usage: python3 bench/summarize.py [bench/results/runs.tsv] > report.md

Times and memory are medians over every photo and rep; PSNR is the mean over
photos (measured once per tool, photo and K); ratios compare kmquant and each
peer with the fastest peer and the best-PSNR peer (peers = every tool but kmquant).
Standard library only.
"""

import csv
import math
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

SUBJECT = "kmquant"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine():
    cores = sh(["nproc"]).strip() or str(os.cpu_count())
    model = ""
    for line in sh(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
            break
    kernel = sh(["uname", "-r"]).strip() or platform.release()
    return f"{cores} cores, {model or 'unknown CPU'}, Linux {kernel}"


def num(s):
    if s in ("", "NA", None):
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    return v


def fmt(v, spec, none="–"):
    return none if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def median(xs):
    return statistics.median(xs) if xs else None


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["k"] = int(r["k"])
        for c in ("wall_s", "max_rss_kb", "output_bytes", "psnr", "colors", "megapixels"):
            r[c] = num(r[c])
    return rows


def order_tools(rows):
    seen = []
    for r in rows:
        if r["tool"] not in seen:
            seen.append(r["tool"])
    return sorted(seen, key=lambda t: (t != SUBJECT, seen.index(t)))


def table(header, align, body):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(out)


def summarize_k(rows, tools):
    """Per-tool aggregates for one K."""
    stats = {}
    for t in tools:
        rs = [r for r in rows if r["tool"] == t]
        ok = [r for r in rs if r["wall_s"] is not None]
        per_photo_psnr = defaultdict(list)
        per_photo_colors = defaultdict(list)
        for r in ok:
            if r["psnr"] is not None:
                per_photo_psnr[r["photo"]].append(r["psnr"])
            if r["colors"] is not None:
                per_photo_colors[r["photo"]].append(r["colors"])
        psnrs = [statistics.fmean(v) for v in per_photo_psnr.values()]
        stats[t] = {
            "runs": len(rs),
            "failed": len(rs) - len(ok),
            "wall": median([r["wall_s"] for r in ok]),
            "rss_mib": median([r["max_rss_kb"] / 1024 for r in ok if r["max_rss_kb"] is not None]),
            "psnr": statistics.fmean(psnrs) if psnrs else None,
            "psnr_photos": len(psnrs),
            "bytes": median([r["output_bytes"] for r in ok if r["output_bytes"] is not None]),
            "colors": min((min(v) for v in per_photo_colors.values()), default=None),
        }
    return stats


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "runs.tsv")
    if not os.path.exists(path):
        sys.exit(f"summarize.py: {path} not found; run `bash bench/run.sh` first")
    rows = load(path)
    if not rows:
        sys.exit(f"summarize.py: {path} has no rows")

    tools = order_tools(rows)
    peers = [t for t in tools if t != SUBJECT]
    photos = []
    mp = {}
    for r in rows:
        if r["photo"] not in photos:
            photos.append(r["photo"])
            mp[r["photo"]] = r["megapixels"]
    ks = sorted({r["k"] for r in rows})
    reps = sorted({int(r["rep"]) for r in rows})

    # run.sh logs its command lines beside the runs file: runs.tsv -> runs.commands.txt
    cmd_file = (path[:-4] if path.endswith(".tsv") else path) + ".commands.txt"
    commands = []
    if os.path.exists(cmd_file):
        with open(cmd_file) as f:
            commands = [line.rstrip("\n").split("\t", 1)[-1] for line in f if line.strip()]

    print("# kmquant vs peer quantizers\n")
    print(f"- Machine: {machine()}")
    if commands:
        print("- Command" + ("s" if len(commands) > 1 else "") + ": "
              + ", ".join(f"`{c}`" for c in commands))
    else:
        print(f"- Command: unknown (no {os.path.basename(cmd_file)} beside the runs file)")
    photo_list = ", ".join(f"{p} {fmt(mp[p], '.2f')} MP" for p in photos)
    print(f"- Data: `{path}`: {len(rows)} runs, {len(photos)} photo(s) ({photo_list}), "
          f"K = {', '.join(map(str, ks))}, reps {reps[0]}..{reps[-1]}")
    print("- Wall time and peak RSS: medians over all photos and reps (`/usr/bin/time -f \"%e %M\"`, "
          "whole process incl. PNG decode and encode). PSNR: mean over photos, RGB, vs the original. "
          "Colors: fewest distinct colors in any output.")
    if peers:
        print(f"- `x fastest peer`: median wall / that of the fastest peer; "
              f"`dPSNR`: mean PSNR minus that of the best peer (peers: {', '.join(peers)}).")
    print()

    for k in ks:
        krows = [r for r in rows if r["k"] == k]
        kphotos = [p for p in photos if any(r["photo"] == p for r in krows)]
        st = summarize_k(krows, tools)
        peer_walls = {t: st[t]["wall"] for t in peers if st[t]["wall"] is not None}
        peer_psnrs = {t: st[t]["psnr"] for t in peers if st[t]["psnr"] is not None}
        fastest = min(peer_walls, key=peer_walls.get) if peer_walls else None
        best = max(peer_psnrs, key=peer_psnrs.get) if peer_psnrs else None

        print(f"## K = {k}\n")
        note = []
        if fastest:
            note.append(f"fastest peer: {fastest}")
        if best:
            note.append(f"best-PSNR peer: {best}")
        if note:
            print("; ".join(note) + "\n")
        body = []
        for t in tools:
            s = st[t]
            ratio = (s["wall"] / peer_walls[fastest]
                     if fastest and s["wall"] is not None and peer_walls[fastest] > 0 else None)
            dpsnr = (s["psnr"] - peer_psnrs[best]
                     if best and s["psnr"] is not None else None)
            psnr_cell = fmt(s["psnr"], ".2f")
            if s["psnr"] is not None and s["psnr_photos"] < len(kphotos):
                psnr_cell += f" ({s['psnr_photos']}/{len(kphotos)} photos)"
            body.append([
                f"**{t}**" if t == SUBJECT else t,
                fmt(s["wall"], ".3f"),
                fmt(ratio, ".2f") + ("x" if ratio is not None else ""),
                fmt(s["rss_mib"], ".0f"),
                psnr_cell,
                fmt(dpsnr, "+.2f"),
                fmt(s["bytes"], ",.0f"),
                fmt(s["colors"], ".0f"),
                f"{s['runs'] - s['failed']}/{s['runs']}",
            ])
        print(table(["tool", "wall s (median)", "x fastest peer", "peak RSS MiB",
                     "PSNR dB (mean)", "dPSNR vs best peer", "output bytes (median)",
                     "colors (min)", "ok runs"],
                    "lrrrrrrrr", body))
        print()

        print(f"Per photo, K = {k}: median wall s / PSNR dB / median output kB\n")
        body = []
        for t in tools:
            cells = [f"**{t}**" if t == SUBJECT else t]
            for p in kphotos:
                rs = [r for r in krows if r["tool"] == t and r["photo"] == p]
                ok = [r for r in rs if r["wall_s"] is not None]
                if not rs:
                    cells.append("")
                    continue
                if not ok:
                    cells.append("failed")
                    continue
                wall = median([r["wall_s"] for r in ok])
                ps = [r["psnr"] for r in ok if r["psnr"] is not None]
                by = median([r["output_bytes"] for r in ok if r["output_bytes"] is not None])
                cells.append(f"{fmt(wall, '.3f')} / {fmt(statistics.fmean(ps) if ps else None, '.2f')}"
                             f" / {fmt(by / 1000 if by is not None else None, ',.0f')}")
            body.append(cells)
        print(table(["tool"] + [f"{p} ({fmt(mp[p], '.2f')} MP)" for p in kphotos],
                    "l" + "r" * len(kphotos), body))
        print()


if __name__ == "__main__":
    main()
