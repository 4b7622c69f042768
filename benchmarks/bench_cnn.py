"""CNN training-step benchmark (CPU): funcgrad ``jit`` vs hand-written NumPy, PyTorch and JAX.

The model (the issue's reference CNN), batch 64 of 28x28x1 NHWC images:

    Conv 3x3x32 SAME + ReLU + MaxPool 2x2 -> Conv 3x3x64 SAME + ReLU + MaxPool 2x2
    -> Flatten -> Dense 10 -> softmax cross-entropy (integer labels) -> SGD(lr=0.01)

funcgrad's step is built from ``funcgrad.layers``, ``funcgrad.losses`` and
``funcgrad.optim`` and jitted as a whole.  The NumPy step is written by hand (im2col
convolutions, reshape max-pooling with a mask, every backward by hand).  PyTorch (CPU,
``torch.set_num_threads(THREADS)``) and JAX run when importable.  All implementations
start from the same parameters and data, and the loss and updated parameters of one step
are checked against the NumPy step before timing.

Implementations are timed round-robin in blocks of 5 steps (the first step of a block is
discarded: the previous implementation's thread pools may still spin), ``--steps`` timed
steps each after ``--warmup`` steps; the table shows median and min wall time and median
process CPU time per step, and ratios.  Targets: funcgrad <= 1.5x PyTorch and <= 1.0x
hand-written NumPy.  ``--threads N`` gives every implementation N threads (BLAS, OpenMP,
PyTorch, XLA, funcgrad's chunk pool); by default PyTorch gets 2 (the issue's setting) and
the others their library defaults.  On a loaded machine multi-threaded timings are
meaningless: check the printed load average.

``--profile`` adds (1) the time of every kernel inside the real compiled funcgrad step
(conv forward / input gradient / kernel gradient, max-pool forward and backward, dots,
fused elementwise groups ...), measured by wrapping the generated code's kernels with
timers, (2) the same stages of the hand-written NumPy step, (3) cProfile of the compiled
step.

Run: ``python benchmarks/bench_cnn.py [--steps 20] [--threads N] [--profile] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import re
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return None


# BLAS / OpenMP thread pools are sized when numpy (torch, jax) is imported: ``--threads``
# is applied here, before those imports, when this file runs as a script.
_ARGV_THREADS = _threads_from_argv(sys.argv[1:]) if __name__ == "__main__" else None
if _ARGV_THREADS is not None:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "FUNCGRAD_JIT_THREADS"):
        os.environ[_var] = str(_ARGV_THREADS)
    if _ARGV_THREADS == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()

import numpy as np  # noqa: E402

BATCH, H, W, C = 64, 28, 28, 1
CLASSES = 10
LR = 0.01
THREADS = _ARGV_THREADS or 2       # PyTorch's intra-op threads (the setting: 2)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, H, W, C)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return x, y


# ----------------------------------------------------------------------------- funcgrad

def funcgrad_model():
    from funcgrad import layers as L
    return L.serial(L.Conv(32, (3, 3), padding="SAME"), L.Relu, L.MaxPool((2, 2)),
                    L.Conv(64, (3, 3), padding="SAME"), L.Relu, L.MaxPool((2, 2)),
                    L.Flatten, L.Dense(CLASSES))


def init_params(seed=0):
    """Parameters from funcgrad's layer initializers, as NumPy arrays in stax layout:
    ``(k1 HWIO, b1, k2 HWIO, b2, W (3136, 10), b (10,))``."""
    from funcgrad import random
    init_fun, _ = funcgrad_model()
    _, params = init_fun(random.key(seed), (-1, H, W, C))
    (k1, b1), _, _, (k2, b2), _, _, _, (w, b) = params
    return tuple(np.asarray(a, np.float32).copy() for a in (k1, b1.reshape(-1), k2,
                                                              b2.reshape(-1), w, b))


def _to_layer_params(p):
    k1, b1, k2, b2, w, b = p
    return ((k1, b1.reshape(1, 1, 1, -1)), (), (), (k2, b2.reshape(1, 1, 1, -1)), (), (), (),
            (w, b))


def funcgrad_step():
    """Returns ``step(params, x, y) -> (params, loss)`` jitted, params in layer layout."""
    import funcgrad as fg
    from funcgrad import losses, optim

    _, apply_fun = funcgrad_model()
    opt = optim.sgd(LR)

    def loss(params, x, y):
        return losses.softmax_cross_entropy_with_integer_labels(apply_fun(params, x), y)

    def step(params, x, y):
        value, grads = fg.value_and_grad(loss)(params, x, y)
        updates, _ = opt.update(grads, opt.init(params), params)
        return optim.apply_updates(params, updates), value

    return fg.jit(step)


# ----------------------------------------------------------------------------- hand NumPy

def numpy_step():
    """A hand-written NumPy step: im2col convolutions (one BLAS matmul each way), 2x2 max
    pooling by reshape with an argmax mask, col2im by 9 shifted adds, SGD in place."""
    from numpy.lib.stride_tricks import sliding_window_view

    def im2col(x):                                   # (N, H, W, C) -> (N*H*W, 9*C), SAME
        n, h, w, c = x.shape
        xp = np.zeros((n, h + 2, w + 2, c), x.dtype)
        xp[:, 1:-1, 1:-1] = x
        cols = sliding_window_view(xp, (3, 3), axis=(1, 2))        # N,H,W,C,3,3
        return np.ascontiguousarray(cols.transpose(0, 1, 2, 4, 5, 3)).reshape(n * h * w, 9 * c)

    def col2im(dcols, shape):                        # adjoint of im2col
        n, h, w, c = shape
        d = dcols.reshape(n, h, w, 3, 3, c)
        dxp = np.zeros((n, h + 2, w + 2, c), dcols.dtype)
        for i in range(3):
            for j in range(3):
                dxp[:, i:i + h, j:j + w] += d[:, :, :, i, j]
        return dxp[:, 1:-1, 1:-1]

    def pool(a):                                     # 2x2/2 max pool and its argmax mask
        n, h, w, c = a.shape
        r = a.reshape(n, h // 2, 2, w // 2, 2, c)
        out = r.max(axis=(2, 4))
        return out, r == out[:, :, None, :, None]

    def unpool(g, mask):
        n, h2, _, w2, _, c = mask.shape
        return (mask * g[:, :, None, :, None]).reshape(n, 2 * h2, 2 * w2, c)

    def step(params, x, y):
        k1, b1, k2, b2, w, b = params
        n = x.shape[0]
        # forward
        cols1 = im2col(x)
        z1 = (cols1 @ k1.reshape(-1, 32)).reshape(n, 28, 28, 32)
        z1 += b1
        a1 = np.maximum(z1, 0)
        p1, m1 = pool(a1)
        cols2 = im2col(p1)
        z2 = (cols2 @ k2.reshape(-1, 64)).reshape(n, 14, 14, 64)
        z2 += b2
        a2 = np.maximum(z2, 0)
        p2, m2 = pool(a2)
        flat = p2.reshape(n, -1)
        logits = flat @ w + b
        mx = logits.max(1, keepdims=True)
        e = np.exp(logits - mx)
        s = e.sum(1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + mx[:, 0] - logits[np.arange(n), y]))
        # backward
        dlog = e / s
        dlog[np.arange(n), y] -= 1.0
        dlog /= n
        dw = flat.T @ dlog
        db = dlog.sum(0)
        dp2 = (dlog @ w.T).reshape(p2.shape)
        dz2 = unpool(dp2, m2)
        dz2 *= z2 > 0
        dz2f = dz2.reshape(-1, 64)
        dk2 = (cols2.T @ dz2f).reshape(k2.shape)
        db2 = dz2f.sum(0)
        dp1 = col2im(dz2f @ k2.reshape(-1, 64).T, p1.shape)
        dz1 = unpool(dp1, m1)
        dz1 *= z1 > 0
        dz1f = dz1.reshape(-1, 32)
        dk1 = (cols1.T @ dz1f).reshape(k1.shape)
        db1 = dz1f.sum(0)
        grads = (dk1, db1, dk2, db2, dw, db)
        return tuple(p - LR * g for p, g in zip(params, grads)), loss

    return step


# ----------------------------------------------------------------------------- PyTorch

def torch_step(params):
    """PyTorch CPU step with the same parameters (NCHW inside, NHWC flatten order)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    k1, b1, k2, b2, w, b = params
    conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
    conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
    fc = torch.nn.Linear(7 * 7 * 64, CLASSES)
    with torch.no_grad():
        conv1.weight.copy_(torch.from_numpy(k1.transpose(3, 2, 0, 1).copy()))
        conv1.bias.copy_(torch.from_numpy(b1))
        conv2.weight.copy_(torch.from_numpy(k2.transpose(3, 2, 0, 1).copy()))
        conv2.bias.copy_(torch.from_numpy(b2))
        fc.weight.copy_(torch.from_numpy(w.T.copy()))
        fc.bias.copy_(torch.from_numpy(b))
    modules = torch.nn.ModuleList([conv1, conv2, fc])
    opt = torch.optim.SGD(modules.parameters(), lr=LR)
    pool = torch.nn.functional.max_pool2d
    relu = torch.relu

    def forward(x):
        h = pool(relu(conv1(x)), 2)
        h = pool(relu(conv2(h)), 2)
        return fc(h.permute(0, 2, 3, 1).reshape(x.shape[0], -1))

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        return loss

    def export():
        return (conv1.weight.detach().numpy().transpose(2, 3, 1, 0),
                conv1.bias.detach().numpy(),
                conv2.weight.detach().numpy().transpose(2, 3, 1, 0),
                conv2.bias.detach().numpy(), fc.weight.detach().numpy().T,
                fc.bias.detach().numpy())

    return step, export, torch


# ----------------------------------------------------------------------------- JAX

def jax_step():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    dn = ("NHWC", "HWIO", "NHWC")

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                     "VALID")

    def loss(params, x, y):
        k1, b1, k2, b2, w, b = params
        h = pool(jax.nn.relu(jax.lax.conv_general_dilated(x, k1, (1, 1), "SAME",
                                                          dimension_numbers=dn) + b1))
        h = pool(jax.nn.relu(jax.lax.conv_general_dilated(h, k2, (1, 1), "SAME",
                                                          dimension_numbers=dn) + b2))
        logits = h.reshape(h.shape[0], -1) @ w + b
        lse = jax.nn.logsumexp(logits, axis=1)
        return jnp.mean(lse - jnp.take_along_axis(logits, y[:, None], 1)[:, 0])

    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return tuple(p - LR * g for p, g in zip(params, grads)), value

    return step, jax


# ----------------------------------------------------------------------------- timing

def _round_robin(impls, steps, warmup, block=5):
    """Time ``steps`` steps of every implementation, in rounds of ``block`` consecutive
    steps per implementation (the first step of each block is a discarded warm-up: thread
    pools of the previous implementation may still be spinning), so that background load
    hits them alike."""
    for f in impls.values():
        for _ in range(warmup):
            f()
    times = {n: [] for n in impls}
    cpu = {n: [] for n in impls}
    while min(len(t) for t in times.values()) < steps:
        for n, f in impls.items():
            f()
            for _ in range(block):
                c0 = time.process_time()
                t0 = time.perf_counter()
                f()
                times[n].append(time.perf_counter() - t0)
                cpu[n].append(time.process_time() - c0)
    return {n: {"median_ms": float(np.median(t)) * 1e3, "min_ms": float(np.min(t)) * 1e3,
                "cpu_median_ms": float(np.median(cpu[n])) * 1e3}
            for n, t in times.items()}


def check_agreement(params, x, y):
    """One step from the same params in every implementation: ``{name: (|loss - loss_np|,
    max relative deviation of the parameter updates from the NumPy step's)}``."""
    ref_p, ref_l = numpy_step()(params, x, y)
    ref_u = [r - p for r, p in zip(ref_p, params)]

    def dev(new, loss):
        upd = [np.asarray(n, np.float64) - p for n, p in zip(new, params)]
        rel = max(float(np.max(np.abs(u - r)) / np.max(np.abs(r))) for u, r in zip(upd, ref_u))
        return abs(float(loss) - ref_l), rel

    out = {}
    new, loss = funcgrad_step()(_to_layer_params(params), x, y)
    (k1, b1), _, _, (k2, b2), _, _, _, (w, b) = new
    out["funcgrad"] = dev([k1, b1.reshape(-1), k2, b2.reshape(-1), w, b], loss)
    ts = torch_step(params)
    if ts is not None:
        step, export, torch = ts
        loss = step(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
                    torch.from_numpy(y.astype(np.int64))).item()
        out["pytorch"] = dev(export(), loss)
    js = jax_step()
    if js is not None:
        step, jax = js
        new, loss = step(tuple(jax.numpy.asarray(p) for p in params), x, y)
        out["jax"] = dev(new, loss)
    return out


def run_benchmark(steps=20, warmup=3):
    x, y = _data()
    params = init_params()
    impls = {}

    fstep = funcgrad_step()
    fstate = {"p": _to_layer_params(params)}

    def run_funcgrad():
        fstate["p"], loss = fstep(fstate["p"], x, y)
        float(loss)                                   # the step is complete
    impls["funcgrad jit"] = run_funcgrad

    nstep = numpy_step()
    nstate = {"p": params}

    def run_numpy():
        nstate["p"], _ = nstep(nstate["p"], x, y)
    impls["hand-written numpy"] = run_numpy

    ts = torch_step(params)
    if ts is not None:
        tstep, _, torch = ts
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        yt = torch.from_numpy(y.astype(np.int64))

        def run_torch():
            tstep(xt, yt).item()
        impls[f"pytorch cpu ({THREADS} threads)"] = run_torch

    js = jax_step()
    if js is not None:
        jstep, jax = js
        jstate = {"p": tuple(jax.numpy.asarray(p) for p in params)}
        xj, yj = jax.numpy.asarray(x), jax.numpy.asarray(y)

        def run_jax():
            jstate["p"], loss = jstep(jstate["p"], xj, yj)
            float(loss)
        impls["jax cpu"] = run_jax

    return _round_robin(impls, steps, warmup)


# ----------------------------------------------------------------------------- profiling

_STAGES = {  # (primitive, input shapes, output shape) -> stage of the CNN step
    ("conv_general_dilated", ((64, 28, 28, 1), (3, 3, 1, 32)), (64, 28, 28, 32)):
        "conv1 forward",
    ("conv_general_dilated", ((64, 14, 14, 32), (3, 3, 32, 64)), (64, 14, 14, 64)):
        "conv2 forward",
    ("conv_general_dilated", ((64, 14, 14, 32), (64, 14, 14, 64)), (3, 3, 32, 64)):
        "conv2 grad wrt kernel",
    ("conv_general_dilated", ((64, 14, 14, 64), (3, 3, 32, 64)), (64, 14, 14, 32)):
        "conv2 grad wrt input",
    ("conv_general_dilated", ((64, 28, 28, 1), (64, 28, 28, 32)), (3, 3, 1, 32)):
        "conv1 grad wrt kernel",
}


def _interleaved_min(fns, rounds):
    """Min wall time (ms) of every callable, timed round-robin ``rounds`` times: a
    correlated burst of background load cannot hit only one of them."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return {k: v * 1e3 for k, v in best.items()}


def _group_labels(source):
    """``{"_g9": "group f32[64,28,28,32]: add max gt"}`` from the generated source."""
    labels, last = {}, None
    for line in source.splitlines():
        t = line.strip()
        if t.startswith("# group"):
            last = t[2:].split("  [")[0]
        elif t.startswith("# window_select:") or t.startswith("# window_scatter:"):
            last = "split " + t[2:].split(":")[0]       # max pooling run in blocks
        elif (t.startswith("def _g") or t.startswith("def _s")) and last is not None:
            labels[t[4:t.index("(")]] = last
            last = None
    return labels


def _call_label(name, args, out, groups):
    if name == "_run_chunks":
        label = groups.get(getattr(args[0], "__name__", ""), "chunked group")
        if label == "split window_select":
            return "maxpool forward+argmax (threaded blocks)"
        if label == "split window_scatter":
            return "maxpool backward (scatter, threaded blocks)"
        return "fused " + label
    shapes = tuple(tuple(np.shape(a)) for a in args if hasattr(a, "shape"))
    oshape = tuple(np.shape(out[0] if isinstance(out, (tuple, list)) else out))
    base = re.sub(r"(_p)?_?\d+$", "", name[3:] if name.startswith("_k_") else name[1:])
    if base.endswith("_split"):          # window op writing into planned buffers
        base = base[:-len("_split")]
        out = args[-2] if base == "window_select" else args[-1]
        oshape = tuple(np.shape(out))
    if base == "conv_general_dilated":
        return _STAGES.get(("conv_general_dilated", shapes[:2], oshape),
                           f"conv {shapes[:2]} -> {oshape}")
    if base == "window_select":
        return f"maxpool forward+argmax {shapes[0]}"
    if base == "window_scatter":
        return f"maxpool backward (scatter) -> {oshape}"
    if base in ("dot", "matmul"):
        return f"dot {shapes}"
    big = max([int(np.prod(sh)) for sh in shapes + (oshape,)] or [0])
    return f"{base} {oshape}" if big >= 100_000 else "small ops (< 100k elements)"


def profile_compiled(steps=10, warmup=2):
    """Per-kernel time inside the real compiled funcgrad step: the generated code's kernels
    (``_k_*``: conv, pooling, reductions ...), ``_dot`` and every fused chunked group
    (``_run_chunks``) are wrapped with timers in the executable's namespace; nested calls
    (kernels inside fused groups) are charged to the outermost one.  Returns (rows
    (label, calls per step, ms per step) sorted by time, step ms, source)."""
    x, y = _data()
    fstep = funcgrad_step()
    p = _to_layer_params(init_params())
    exe = fstep.lower(p, x, y).compile()._exe
    ns = exe._ns
    groups = _group_labels(exe.source)
    acc = {}
    depth = [0]

    def wrap(name, fn):
        def timed(*args, **kw):
            if depth[0]:
                return fn(*args, **kw)
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kw)
            finally:
                depth[0] -= 1
            dt = time.perf_counter() - t0
            label = _call_label(name, args, out, groups)
            c, t = acc.get(label, (0, 0.0))
            acc[label] = (c + 1, t + dt)
            return out
        return timed

    saved = {}
    for name, fn in list(ns.items()):
        # primitive kernels (partials of their impls), dots and top-level reductions;
        # plain ufuncs stay unwrapped so that they are charged to their fused group
        if callable(fn) and name != "_run_chunks" and (
                isinstance(fn, functools.partial) or name.startswith("_k_")
                or name in ("_dot", "_matmul")
                or re.fullmatch(r"_(add|maximum|minimum|multiply)_reduce(_\d+)?", name)):
            saved[name] = fn
            ns[name] = wrap(name, fn)
    saved["_run_chunks"] = ns["_run_chunks"]
    chunked = set()
    run_chunks = saved["_run_chunks"]

    def run_chunks_seen(fn, *a):
        chunked.add(getattr(fn, "__name__", ""))
        return run_chunks(fn, *a)
    ns["_run_chunks"] = wrap("_run_chunks", run_chunks_seen)
    prof = cProfile.Profile()
    try:
        for _ in range(warmup):
            p, loss = fstep(p, x, y)
        acc.clear()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(steps):
            p, loss = fstep(p, x, y)
            float(loss)
        prof.disable()
        step_ms = (time.perf_counter() - t0) * 1e3 / steps
    finally:
        ns.update(saved)
    # fused groups run inline (not through the chunk pool) are nested functions of the
    # generated body: take their time from the profile of the same steps
    for (filename, _, fname), stat in pstats.Stats(prof).stats.items():
        if filename.startswith("<funcgrad-jit") and fname in groups and fname not in chunked:
            label = "fused " + groups[fname]
            c, t = acc.get(label, (0, 0.0))
            acc[label] = (c + stat[1], t + stat[2])        # primitive calls, own time
    rows = sorted(((k, c / steps, t * 1e3 / steps) for k, (c, t) in acc.items()),
                  key=lambda r: -r[2])
    return rows, step_ms, exe.source


def _numpy_stages():
    """The stages of the hand-written NumPy step as callables, for a side-by-side
    comparison with the compiled funcgrad kernels."""
    from numpy.lib.stride_tricks import sliding_window_view
    x, y = _data()
    k1, b1, k2, b2, w, b = init_params()
    rng = np.random.default_rng(1)

    def im2col(a):
        n, h, w_, c = a.shape
        ap = np.zeros((n, h + 2, w_ + 2, c), a.dtype)
        ap[:, 1:-1, 1:-1] = a
        v = sliding_window_view(ap, (3, 3), axis=(1, 2))
        return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3)).reshape(n * h * w_, 9 * c)

    def col2im(d, shape):
        n, h, w_, c = shape
        d = d.reshape(n, h, w_, 3, 3, c)
        dxp = np.zeros((n, h + 2, w_ + 2, c), d.dtype)
        for i in range(3):
            for j in range(3):
                dxp[:, i:i + h, j:j + w_] += d[:, :, :, i, j]
        return dxp[:, 1:-1, 1:-1]

    def pool(a):
        n, h, w_, c = a.shape
        r = a.reshape(n, h // 2, 2, w_ // 2, 2, c)
        o = r.max(axis=(2, 4))
        return o, r == o[:, :, None, :, None]

    def unpool(g, m):
        n, h2, _, w2, _, c = m.shape
        return (m * g[:, :, None, :, None]).reshape(n, 2 * h2, 2 * w2, c)

    a1 = np.maximum(rng.standard_normal((64, 28, 28, 32)).astype(np.float32), 0)
    p1 = np.maximum(rng.standard_normal((64, 14, 14, 32)).astype(np.float32), 0)
    a2 = np.maximum(rng.standard_normal((64, 14, 14, 64)).astype(np.float32), 0)
    g2 = rng.standard_normal((64, 14, 14, 64)).astype(np.float32)
    g1 = rng.standard_normal((64, 28, 28, 32)).astype(np.float32)
    gp1 = rng.standard_normal((64, 14, 14, 32)).astype(np.float32)
    cols1, cols2 = im2col(x), im2col(p1)
    _, m1 = pool(a1)
    stages = {
        "conv1 forward (im2col + matmul)": lambda: im2col(x) @ k1.reshape(-1, 32),
        "conv2 forward (im2col + matmul)": lambda: im2col(p1) @ k2.reshape(-1, 64),
        "conv2 grad wrt kernel (cols.T @ g, cols kept from forward)":
            lambda: cols2.T @ g2.reshape(-1, 64),
        "conv2 grad wrt kernel (recomputing im2col)":
            lambda: im2col(p1).T @ g2.reshape(-1, 64),
        "conv2 grad wrt input (g @ k.T + col2im)":
            lambda: col2im(g2.reshape(-1, 64) @ k2.reshape(-1, 64).T, p1.shape),
        "conv1 grad wrt kernel (cols.T @ g)": lambda: cols1.T @ g1.reshape(-1, 32),
        "maxpool1 forward + mask": lambda: pool(a1),
        "maxpool1 backward": lambda: unpool(gp1, m1),
        "maxpool2 forward + mask": lambda: pool(a2),
        "relu+bias layer 1 (fwd)": lambda: np.maximum(g1 + b1, 0),
    }
    return stages


def cprofile_step(steps=10, top=18):
    x, y = _data()
    fstep = funcgrad_step()
    p = _to_layer_params(init_params())
    for _ in range(3):
        p, loss = fstep(p, x, y)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        p, loss = fstep(p, x, y)
        float(loss)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


# ----------------------------------------------------------------------------- main

def _table(res):
    ref_np = res.get("hand-written numpy", {}).get("median_ms")
    ref_torch = next((v["median_ms"] for k, v in res.items() if k.startswith("pytorch")), None)
    w = max(len(k) for k in res) + 2
    lines = [f"{'implementation':<{w}}{'median ms':>10}{'min ms':>9}{'cpu ms':>9}"
             f"{'/ numpy':>9}{'/ pytorch':>11}",
             "-" * (w + 48)]
    for k, v in res.items():
        rn = f"{v['median_ms'] / ref_np:.2f}x" if ref_np else "-"
        rt = f"{v['median_ms'] / ref_torch:.2f}x" if ref_torch else "-"
        lines.append(f"{k:<{w}}{v['median_ms']:>10.2f}{v['min_ms']:>9.2f}"
                     f"{v['cpu_median_ms']:>9.2f}{rn:>9}{rt:>11}")
    lines.append("(median/min: wall time per step; cpu: median process CPU time per step, all "
                 "threads; ratios of medians)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per implementation")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--profile", action="store_true",
                    help="cProfile and per-kernel timing of the compiled funcgrad step")
    ap.add_argument("--no-check", action="store_true", help="skip the agreement check")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every implementation (BLAS, OpenMP, PyTorch, funcgrad's "
                         "chunk pool, XLA); default: PyTorch 2, the others their defaults. "
                         "Only effective when run as a script")
    args = ap.parse_args(argv)

    print(f"CNN train step, batch {BATCH}x{H}x{W}x{C} NHWC, conv3x3x32-pool-conv3x3x64-pool-"
          f"dense10, SGD; numpy {np.__version__}, {os.cpu_count()} CPUs, threads: "
          f"{'default (PyTorch %d)' % THREADS if _ARGV_THREADS is None else THREADS}")
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (timings are only "
              f"comparable on an otherwise idle machine; all are run round-robin)")
    results = {}
    if not args.no_check:
        agree = check_agreement(init_params(), *_data())
        print("agreement with the hand-written NumPy step after one step "
              "(|loss diff|, max relative diff of the parameter updates):")
        for k, (dl, dp) in agree.items():
            bad = dl > 1e-4 or dp > 1e-3
            print(f"  {k:<10} {dl:.2e}  {dp:.2e}{'  WARNING: disagrees' if bad else ''}")
        results["agreement"] = agree
    res = run_benchmark(args.steps, args.warmup)
    results["timings"] = res
    print()
    print(_table(res))
    fg_t = res["funcgrad jit"]["median_ms"]
    np_t = res["hand-written numpy"]["median_ms"]
    ratios = {"funcgrad / numpy": fg_t / np_t}
    torch_key = next((k for k in res if k.startswith("pytorch")), None)
    if torch_key:
        ratios["funcgrad / pytorch"] = fg_t / res[torch_key]["median_ms"]
    if "jax cpu" in res:
        ratios["funcgrad / jax"] = fg_t / res["jax cpu"]["median_ms"]
    results["ratios"] = ratios
    print()
    targets = {"funcgrad / numpy": 1.0, "funcgrad / pytorch": 1.5}
    for k, v in ratios.items():
        t = targets.get(k)
        verdict = "" if t is None else (f"  (target <= {t}: {'met' if v <= t else 'MISSED'})")
        print(f"{k}: {v:.2f}x{verdict}")

    if args.profile:
        rows, step_ms, _ = profile_compiled()
        covered = sum(r[2] for r in rows)
        print(f"\nfuncgrad compiled step, time per kernel (10 instrumented and profiled steps, "
              f"{step_ms:.1f} ms/step; {step_ms - covered:.1f} ms outside the kernels listed):")
        w = max(len(r[0]) for r in rows) + 2
        for label, calls, t in rows:
            print(f"  {label:<{w}}{calls:>5.0f}x {t:8.2f} ms  {100 * t / step_ms:5.1f}%")
        results["compiled_kernels"] = [list(r) for r in rows]
        stages = _interleaved_min(_numpy_stages(), 10)
        print("\nhand-written NumPy, the same stages one at a time (min of 10):")
        w = max(len(k) for k in stages) + 2
        for k, t in stages.items():
            print(f"  {k:<{w}}{t:8.2f} ms")
        results["numpy_stages"] = stages
        print("\ncProfile of 10 compiled funcgrad steps (by own time; numpy ufuncs such as "
              "matmul are charged to their Python caller):")
        print(cprofile_step(top=12))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
