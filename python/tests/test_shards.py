"""Sharded batch runs as separate processes, the way a job array runs them: N `kmquant --shard
i/N` processes at once cover every input exactly once and write the bytes of one batch run, and
a shard killed halfway and run again with --skip-existing finishes the rest."""

import json
import subprocess
import time
from pathlib import Path

import numpy as np
from PIL import Image

FLAGS = ["-k", "16", "--backend", "cpu", "--json", "--quiet"]


def make_folder(root, n, side):
    """n small noisy photos in two subfolders, a space in every name."""
    rng = np.random.default_rng(n)
    for i in range(n):
        sub = root / ("a" if i % 2 else "b b")
        sub.mkdir(parents=True, exist_ok=True)
        base = np.linspace(0, 255, side, dtype=np.float64)
        img = np.stack(list(np.meshgrid(base, base[::-1])) + [np.full((side, side), 17.0 * i % 256)], -1)
        img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img, "RGB").save(sub / f"photo {i:03}.png")
    return sorted(str(p) for p in root.rglob("*.png"))


def outputs(folder):
    """Every output under `folder` (hidden temporaries apart): relative path -> bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".kmquant-")
    }


def written(stdout):
    return [o["input"] for o in map(json.loads, stdout.splitlines()) if o["kind"] == "file"]


def test_shards_as_processes_cover_every_input_once_and_equal_one_batch(kmquant_bin, tmp_path):
    photos = make_folder(tmp_path / "in", 17, 48)
    src = str(tmp_path / "in")
    whole = tmp_path / "whole"
    one = subprocess.run([str(kmquant_bin), "-r", src, "--out-dir", str(whole), *FLAGS],
                         capture_output=True, text=True, check=True)
    assert sorted(written(one.stdout)) == photos

    n = 4
    sharded = tmp_path / "sharded"
    procs = [
        subprocess.Popen([str(kmquant_bin), "-r", src, "--out-dir", str(sharded),
                          "--shard", f"{i}/{n}", *FLAGS],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(n)
    ]
    seen = []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"shard {i}/{n}: {err}"
        seen += written(out)
    assert sorted(seen) == photos, "every input exactly once"
    assert outputs(sharded) == outputs(whole), "the shards wrote other bytes than one batch"


def test_a_shard_killed_halfway_and_rerun_finishes_the_rest(kmquant_bin, tmp_path):
    make_folder(tmp_path / "in", 40, 160)
    src = str(tmp_path / "in")

    def argv(out):
        return [str(kmquant_bin), "-r", src, "--out-dir", str(out), "--shard", "0/2", "-j", "1",
                "-k", "64", "--backend", "cpu", "--json", "--quiet"]

    whole = tmp_path / "whole"
    total = len(written(subprocess.run(argv(whole), capture_output=True, text=True,
                                       check=True).stdout))
    want = outputs(whole)
    assert 5 < total < 40

    out = tmp_path / "killed"
    p = subprocess.Popen(argv(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(outputs(out)) < 3 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.005)
    p.kill()
    p.wait()
    partial = outputs(out)
    assert 3 <= len(partial) < total, f"killed with {len(partial)} of {total} written"
    assert all(want[name] == data for name, data in partial.items()), "a torn or different file"

    again = subprocess.run(argv(out) + ["--skip-existing"], capture_output=True, text=True,
                           check=True)
    assert len(written(again.stdout)) == total - len(partial), "only the rest is redone"
    assert outputs(out) == want
