"""Benchmark runner for funcgrad's jit: ``python -m benchmarks.run`` (or
``python benchmarks/run.py``).

Workloads (each against hand-written NumPy, and JAX / PyTorch / autograd when importable):

a. elementwise chain ``tanh(x)*sigmoid(x) + 0.5*x*x - exp(-abs(x))/(1+x*x)`` on 4M and
   64K float32 values (plus peak extra memory of one call, by tracemalloc);
b. MLP 784-512-512-10 training step, batch 128 (forward, backward, SGD update);
c. MLP 8-32-32-1 Adam step, batch 16 (bound by per-call overhead);
d. trace + compile latency of (b) and of a 6-hidden-layer version;
e. eager dispatch of 1000 small adds.

Implementations of one workload are timed round-robin (so background load hits them
alike); medians are reported with ratios to the reference.  Results go to stdout and to
``benchmarks/RESULTS.md`` (``--no-write`` to skip).

Options: ``--only a,c`` picks workloads, ``--quick`` uses fewer repetitions.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import sys
import time
import tracemalloc

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks import jit_workloads as W  # noqa: E402


def _median_times(impls, reps, inner=1, warmup=2, min_time=None):
    """Round-robin timing: ``{name: median seconds per call}``."""
    names = list(impls)
    for n in names:
        for _ in range(warmup):
            impls[n]()
    times = {n: [] for n in names}
    for _ in range(reps):
        for n in names:
            f = impls[n]
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            times[n].append((time.perf_counter() - t0) / inner)
    return {n: float(np.median(ts)) for n, ts in times.items()}


def _peak_extra_bytes(f):
    gc.collect()
    f()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        r = f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del r
    return peak - base


def _fmt_t(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _table(title, res, ref, extra_cols=None):
    lines = [f"### {title}", "", "| implementation | median | ratio to " + ref + " |"
             + ("".join(f" {c} |" for c in extra_cols) if extra_cols else ""),
             "|---|---|---|" + ("---|" * len(extra_cols) if extra_cols else "")]
    r0 = res.get(ref)
    for name, t in res.items():
        ratio = f"{t / r0:.2f}x" if r0 else "-"
        row = f"| {name} | {_fmt_t(t)} | {ratio} |"
        if extra_cols:
            row += "".join(f" {extra_cols[c].get(name, '-')} |" for c in extra_cols)
        lines.append(row)
    return "\n".join(lines)


def _check_close(a, b, what, rtol=1e-4, atol=1e-5):
    import funcgrad as fg
    la = [np.asarray(x, dtype=np.float64) for x in fg.tree_util.tree_leaves(a)]
    lb = [np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
          for x in fg.tree_util.tree_leaves(b)]
    for x, y in zip(la, lb):
        if not np.allclose(x, y, rtol=rtol, atol=atol):
            raise AssertionError(f"{what}: implementations disagree "
                                 f"(max abs diff {np.max(np.abs(x - y))})")


def bench_chain(fw, quick):
    out = []
    summary = {}
    for n, reps in ((4 * 1024 * 1024, 7 if quick else 25), (65536, 50 if quick else 400)):
        impls = W.chain_workload(n, fw)
        _check_close(impls["funcgrad jit"](), impls["numpy (hand)"](), "chain")
        res = _median_times(impls, reps)
        mem = {}
        for name in ("funcgrad jit", "numpy (hand)", "funcgrad eager"):
            mem[name] = f"{_peak_extra_bytes(impls[name]) / 2**20:.1f} MiB"
        label = "4M" if n > 100000 else "64K"
        out.append(_table(f"(a) elementwise chain, {label} float32 "
                          f"(output alone is {n * 4 / 2**20:.2f} MiB)", res,
                          "numpy (hand)", {"peak extra memory (tracemalloc)": mem}))
        summary[label] = res
    return "\n\n".join(out), summary


def bench_mlp(fw, quick):
    impls, _ = W.mlp_sgd_workload(fw)
    a = impls["funcgrad jit"]()
    b = impls["numpy (hand)"]()
    _check_close(a, b, "mlp sgd", rtol=1e-3, atol=1e-5)
    res = _median_times(impls, 15 if quick else 80)
    return _table("(b) MLP 784-512-512-10 SGD step, batch 128", res, "numpy (hand)"), res


def bench_adam(fw, quick):
    impls = W.adam_workload(fw)
    res = _median_times(impls, 200 if quick else 1500, inner=5)
    return _table("(c) MLP 8-32-32-1 Adam step, batch 16", res, "numpy (hand)"), res


def bench_compile(fw, quick):
    out = []
    summary = {}
    for layers in (2, 6):
        impls = W.compile_latency_workload(fw, layers)
        res = _median_times(impls, 3 if quick else 9, warmup=1)
        ref = "jax first call" if "jax first call" in res else "funcgrad trace+compile"
        out.append(_table(f"(d) trace+compile latency, MLP with {layers} hidden layers of "
                          "512 (SGD step)", res, ref))
        summary[layers] = res
    return "\n\n".join(out), summary


def bench_eager(fw, quick):
    impls = W.eager_dispatch_workload(fw)
    res = _median_times(impls, 10 if quick else 50)
    res = {k: v for k, v in res.items()}
    return _table("(e) eager dispatch, 1000 adds of 8-element arrays (time for all 1000)",
                  res, "numpy"), res


def _targets(s):
    lines = ["## Targets", ""]

    def ratio(d, a, b):
        if d is None or a not in d or b not in d:
            return None
        return d[a] / d[b]

    def row(what, r, goal):
        if r is None:
            lines.append(f"- {what}: n/a (not measured)")
        else:
            lines.append(f"- {what}: **{r:.2f}x** (target <= {goal}x) "
                         f"{'met' if r <= goal else 'NOT met'}")
    a = s.get("a", {}).get("4M")
    row("(a) 4M jit / eager numpy", ratio(a, "funcgrad jit", "numpy (hand)"), 0.45)
    row("(a) 4M jit / JAX jit", ratio(a, "funcgrad jit", "jax jit"), 1.0)
    b = s.get("b")
    row("(b) jit / hand numpy", ratio(b, "funcgrad jit", "numpy (hand)"), 1.05)
    row("(b) jit / JAX", ratio(b, "funcgrad jit", "jax jit"), 1.1)
    c = s.get("c")
    row("(c) jit / JAX", ratio(c, "funcgrad jit", "jax jit"), 1.0)
    d = s.get("d", {})
    for layers in (2, 6):
        row(f"(d) {layers} hidden layers: trace+compile / JAX first call",
            ratio(d.get(layers), "funcgrad trace+compile", "jax first call"), 0.1)
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="a,b,c,d,e")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    fw = W.optional_frameworks()
    which = [w.strip() for w in args.only.split(",") if w.strip()]
    sections, summary = [], {}
    table = {"a": bench_chain, "b": bench_mlp, "c": bench_adam, "d": bench_compile,
             "e": bench_eager}
    for w in which:
        text, res = table[w](fw, args.quick)
        print(text, "\n", flush=True)
        sections.append(text)
        summary[w] = res
    import funcgrad
    from funcgrad.compiler import runtime
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    versions = [f"numpy {np.__version__}", f"funcgrad {funcgrad.__version__}"]
    for k, m in fw.items():
        versions.append(f"{k} {getattr(m, '__version__', '?')}" if m is not None
                        else f"{k} not installed (skipped)")
    cmd = "python -m benchmarks.run" + (" " + " ".join(argv if argv is not None
                                                       else sys.argv[1:])).rstrip()
    header = "\n".join([
        "# funcgrad jit benchmarks", "",
        f"Command: `{cmd}`  ", f"Date: {datetime.datetime.now().isoformat(timespec='seconds')}  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average at end {load}  ",
        "Versions: " + ", ".join(versions) + "  ",
        f"jit settings: CHUNK_BYTES={runtime.CHUNK_BYTES}, NUM_THREADS={runtime.NUM_THREADS}, "
        f"PARALLEL_MIN_ELEMENTS={runtime.PARALLEL_MIN_ELEMENTS}", "",
        "Medians of round-robin repetitions (all implementations of a workload alternate, "
        "so background load affects them alike).", ""])
    doc = header + "\n" + _targets(summary) + "\n\n" + "\n\n".join(sections) + "\n"
    print(_targets(summary))
    if not args.no_write:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
        with open(path, "w") as f:
            f.write(doc)
        print(f"\nwrote {path}")
    return summary


if __name__ == "__main__":
    main()
