"""Does the chunk thread pool pay, and which chunk size is best?  ``python -m
benchmarks.tune_jit``.

Times the elementwise-chain workload under ``jit`` for every combination of
``runtime.NUM_THREADS`` (1, 2) and ``runtime.CHUNK_BYTES`` at several sizes, round-robin,
and prints medians.  The results justify the defaults in ``funcgrad/compiler/runtime.py``
(see ``benchmarks/RESULTS.md``).
"""
from __future__ import annotations

import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402
from funcgrad.compiler import runtime  # noqa: E402
from benchmarks.jit_workloads import chain_fnp  # noqa: E402


def main(sizes=(65536, 262144, 1 << 20, 4 << 20), chunks=(64 << 10, 128 << 10, 256 << 10,
                                                         512 << 10), reps=15):
    old = (runtime.NUM_THREADS, runtime.CHUNK_BYTES, runtime.PARALLEL_MIN_ELEMENTS)
    rows = []
    try:
        for n in sizes:
            x = fnp.asarray(np.random.default_rng(0).standard_normal(n).astype(np.float32))
            fns = {}
            for threads in (1, 2):
                for cb in chunks:
                    runtime.NUM_THREADS, runtime.CHUNK_BYTES = threads, cb
                    runtime.PARALLEL_MIN_ELEMENTS = 1
                    f = fg.jit(chain_fnp)
                    f(x)
                    fns[(threads, cb)] = f
            xn = np.asarray(x)
            one, half = np.float32(1), np.float32(0.5)
            fns[("numpy", 0)] = lambda: np.tanh(xn) * (one / (one + np.exp(-xn))) + \
                half * xn * xn - np.exp(-np.abs(xn)) / (one + xn * xn)
            times = {k: [] for k in fns}
            for _ in range(reps):
                for k, f in fns.items():
                    t0 = time.perf_counter()
                    f(x) if k[0] != "numpy" else f()
                    times[k].append(time.perf_counter() - t0)
            med = {k: float(np.median(v)) for k, v in times.items()}
            base = med[("numpy", 0)]
            print(f"\nn = {n}: numpy {base * 1e3:.3f} ms")
            for k, t in med.items():
                if k[0] == "numpy":
                    continue
                print(f"  threads={k[0]} chunk={k[1] >> 10:4d} KiB: {t * 1e3:8.3f} ms "
                      f"({t / base:.2f}x numpy)")
                rows.append((n, k[0], k[1], t, base))
    finally:
        runtime.NUM_THREADS, runtime.CHUNK_BYTES, runtime.PARALLEL_MIN_ELEMENTS = old
    return rows


if __name__ == "__main__":
    main()
