"""Timing helper shared by the standalone benchmark scripts."""
import statistics
import time


def median_time(fn, reps, warmup=2):
    """Median wall time of ``fn()`` over ``reps`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)
