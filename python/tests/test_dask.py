"""A folder of photos quantized on a real Dask cluster of two worker processes, each opening its
quantizer (and device) once: the same bytes as one `kmquant quantize -r` run over the folder."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import PHOTOS

import distributed

OPTIONS = {"colors": 32, "dither": True}


def make_folder(root):
    """Three photos and crops of them, one level of subfolders, as a batch would have."""
    (root / "sub").mkdir(parents=True)
    for i, p in enumerate(PHOTOS):
        shutil.copy(p, root / p.name)
        im = Image.open(p).convert("RGB")
        w, h = im.size
        im.crop((i * 7, 0, w // 2 + i * 7, h // 2)).save(root / "sub" / f"crop{i}.png")
        Image.fromarray(np.asarray(im)[::-1]).save(root / "sub" / f"flip{i}.png")
    return sorted(p for p in root.rglob("*.png"))


def quantize_on_worker(src, dst):
    """The task: the worker's own quantizer, made by the first task that runs there."""
    import os

    import kmquant

    q = kmquant.shared_quantizer(**OPTIONS)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    report = q.quantize_file(src, dst)
    return os.getpid(), id(q), report["output_bytes"]


def test_a_dask_cluster_writes_the_cli_bytes(tmp_path, kmquant_bin):
    photos = tmp_path / "photos"
    files = make_folder(photos)
    cli_out, dask_out = tmp_path / "cli", tmp_path / "dask"
    done = subprocess.run(
        [str(kmquant_bin), "quantize", str(photos), "-r", "--out-dir", str(cli_out), "-k", "32", "--dither", "-q"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    expected = sorted(p.relative_to(cli_out) for p in cli_out.rglob("*.png"))
    assert len(expected) == len(files) == 9

    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        futures = []
        for i, src in enumerate(files):
            rel = src.relative_to(photos)
            dst = dask_out / rel.parent / f"{rel.stem}-k32.png"
            # Round robin, so that both workers take part.
            futures.append(client.submit(quantize_on_worker, str(src), str(dst), workers=[workers[i % 2]], pure=False))
        results = client.gather(futures)

    got = sorted(p.relative_to(dask_out) for p in dask_out.rglob("*.png"))
    assert got == expected
    for rel in expected:
        assert (dask_out / rel).read_bytes() == (cli_out / rel).read_bytes(), rel
    pids = {pid for pid, _, _ in results}
    assert len(pids) == 2 and os.getpid() not in pids
    for pid in pids:
        quantizers = {q for p, q, _ in results if p == pid}
        assert len(quantizers) == 1, f"worker {pid} made {len(quantizers)} quantizers"
