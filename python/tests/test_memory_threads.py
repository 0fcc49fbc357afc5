"""Many calls leave memory flat, and the work runs with the GIL released."""

import gc
import os
import threading
import time

import numpy as np
from PIL import Image

import kmquant
from conftest import PHOTOS

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def test_a_thousand_calls_leave_memory_flat(tmp_path):
    photo = np.asarray(Image.open(PHOTOS[2]).convert("RGB"))
    rgb = np.ascontiguousarray(photo[100:228, 200:328])  # 128 x 128
    rgba = np.ascontiguousarray(np.dstack([rgb, np.full((128, 128), 200, np.uint8)]))
    q = kmquant.Quantizer(8, backend="cpu", max_iter=8)

    def one(i):
        if i % 2:
            r = q.kmeans(rgba)
            assert r.labels.shape == (128, 128)
        else:
            assert kmquant.quantize(rgb, 8, max_iter=8).size == (128, 128)
        if i % 100 == 0:
            kmquant.quantize_file(PHOTOS[1], tmp_path / "o.png", colors=8, force=True)
            try:
                kmquant.quantize(rgb.astype(np.float32), 16)
            except ValueError:
                pass

    for i in range(100):  # warm-up: allocator pools, thread pool, caches
        one(i)
    gc.collect()
    before = rss_bytes()
    for i in range(1000):
        one(i)
    gc.collect()
    grown = rss_bytes() - before
    print(f"RSS {before / 2**20:.1f} MiB after warm-up, {grown / 2**20:+.2f} MiB after 1,000 calls")
    # Leaking the labels alone (16 KiB a call) would add 16 MiB over 1,000 calls.
    assert grown < 6 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 1,000 calls"


def test_other_threads_run_while_it_works():
    photo = np.asarray(Image.open(PHOTOS[0]).convert("RGB"))
    big = np.ascontiguousarray(np.tile(photo, (4, 4, 1)))  # 2048 x 2048
    q = kmquant.Quantizer(256, backend="cpu", tolerance=0, max_iter=40)
    spans = []  # (start, end) of each call
    ticks = []
    stop = threading.Event()

    def work():
        until = time.perf_counter() + 0.6
        while time.perf_counter() < until:
            start = time.perf_counter()
            q.kmeans(big)
            spans.append((start, time.perf_counter()))

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    stop.set()
    counter.join()
    inside = [t for t in ticks if any(s + 0.01 < t < e - 0.01 for s, e in spans)]
    busy = sum(e - s for s, e in spans)
    assert busy > 0.5
    # With the GIL held for a call the counter could not run at all inside it.
    assert len(inside) > 20, f"{len(inside)} ticks in {len(spans)} calls, {busy:.2f} s"


def test_two_threads_share_one_quantizer():
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in PHOTOS]
    q = kmquant.Quantizer(32, backend="cpu")
    expected = [kmquant.kmeans(p, 32) for p in photos]
    results = [None] * 6

    def run(i):
        results[i] = q.kmeans(photos[i % 3])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        assert np.array_equal(r.labels, expected[i % 3].labels)
        assert np.array_equal(r.palette, expected[i % 3].palette)


def test_auto_opens_no_device_for_a_small_image_or_too_few_colors_per_thread():
    from kmquant import _kmquant

    big = kmquant.AUTO_MIN_RUN_PIXELS
    small = np.zeros((100, 100, 3), np.uint8)
    assert not _kmquant._worth_starting(big - 1, 256)
    assert kmquant._one_shot_backend("auto", None, small, 256) == "cpu"
    # A pinned adapter or an explicit backend is never second-guessed.
    assert kmquant._one_shot_backend("auto", 0, small, 256) == "auto"
    assert kmquant._one_shot_backend("gpu", None, small, 256) == "gpu"
    # More colors never turn a device off: the rule is K per CPU thread.
    for k in range(1, 256):
        assert _kmquant._worth_starting(big, k) <= _kmquant._worth_starting(big, k + 1)
