"""Micro-benchmark of the convolution and pooling kernels (CPU, numpy backend).

Shapes are those of the reference CNN: input 64x28x28x1 NHWC, Conv 3x3x32 SAME + ReLU +
MaxPool 2x2, Conv 3x3x64 SAME + ReLU + MaxPool 2x2, Flatten, Dense 10.  It times each
kernel eagerly (forward, the gradient wrt the input and wrt the kernel exactly as the
backward pass runs them, max-pool forward and backward) and the whole SGD training step
(eager and jit), next to a hand-written NumPy step and, when installed, PyTorch.

Run: ``python benchmarks/bench_conv.py [--repeat N] [--json out.json] [--only kernels|step]
[--mallopt]``.  On a busy machine compare the ``cpu`` column (process CPU time) and pin
the thread counts (``OPENBLAS_NUM_THREADS``, ``FUNCGRAD_JIT_THREADS``, ``OMP_NUM_THREADS``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import time

import numpy as np

DN = ("NHWC", "HWIO", "NHWC")
BATCH = 64


def _timeit(fn, repeat=20, warmup=2):
    """Wall-clock min/median and the min CPU time of the process (all threads): on a busy
    machine the CPU time is the steadier number."""
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    ts.sort()
    return {"min_ms": ts[0] * 1e3, "median_ms": ts[len(ts) // 2] * 1e3,
            "cpu_min_ms": min(cs) * 1e3}


def _block(x):
    for leaf in (x if isinstance(x, (list, tuple)) else [x]):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


# ----------------------------------------------------------------------------- kernels

def kernel_benchmarks(repeat):
    from funcgrad import lax
    from funcgrad.core.abstract import ShapedArray
    cm = importlib.import_module("funcgrad.lax.conv")
    rng = np.random.default_rng(0)
    res = {}
    layers = [("conv1", (BATCH, 28, 28, 1), (3, 3, 1, 32)),
              ("conv2", (BATCH, 14, 14, 32), (3, 3, 32, 64))]
    for name, xs, ks in layers:
        x = rng.standard_normal(xs).astype(np.float32)
        k = (rng.standard_normal(ks) * 0.1).astype(np.float32)
        params = dict(window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                      rhs_dilation=(1, 1),
                      dimension_numbers=lax.conv_dimension_numbers(xs, ks, DN),
                      feature_group_count=1, batch_group_count=1, precision=None,
                      preferred_element_type=None)
        y = cm.conv_general_dilated_p.impl(x, k, **params)
        ct = rng.standard_normal(y.shape).astype(np.float32)
        res[f"{name} forward"] = _timeit(lambda: cm.conv_general_dilated_p.impl(x, k, **params),
                                         repeat)
        la = ShapedArray(xs, np.float32)
        ra = ShapedArray(ks, np.float32)
        res[f"{name} grad wrt lhs"] = _timeit(
            lambda: _block(cm._transpose_lhs(ct, k, la, **params)), repeat)
        res[f"{name} grad wrt rhs"] = _timeit(
            lambda: _block(cm._transpose_rhs(ct, x, ra, **params)), repeat)
        # the layout the previous layer really produces (conv outputs can be strided views)
        # pool
        h = np.maximum(y, 0)
        wparams = dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1),
                       padding=((0, 0),) * 4, base_dilation=(1,) * 4, window_dilation=(1,) * 4)
        pool = cm.reduce_window_max_p.impl
        res[f"maxpool after {name} forward"] = _timeit(lambda: pool(h, **wparams), repeat)
        _, idx = cm.window_select_p.impl(h, select="max", **wparams)
        pct = rng.standard_normal(idx.shape).astype(np.float32)
        res[f"maxpool after {name} forward+argmax (grad path)"] = _timeit(
            lambda: cm.window_select_p.impl(h, select="max", **wparams), repeat)
        res[f"maxpool after {name} backward (scatter)"] = _timeit(
            lambda: cm.window_scatter_p.impl(pct, idx, operand_shape=h.shape, **wparams), repeat)
    return res


# ----------------------------------------------------------------------------- whole CNN step

def _init(rng):
    return [(rng.standard_normal((3, 3, 1, 32)) * np.sqrt(2 / 9)).astype(np.float32),
            np.zeros(32, np.float32),
            (rng.standard_normal((3, 3, 32, 64)) * np.sqrt(2 / 288)).astype(np.float32),
            np.zeros(64, np.float32),
            (rng.standard_normal((7 * 7 * 64, 10)) * np.sqrt(1 / 3136)).astype(np.float32),
            np.zeros(10, np.float32)]


def funcgrad_step():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad import lax

    def relu(x):
        return fnp.where(x > 0, x, 0.0)

    def pool(x):
        return lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def loss(params, x, y):
        k1, b1, k2, b2, w, b = params
        h = pool(relu(lax.conv_general_dilated(x, k1, (1, 1), "SAME", dimension_numbers=DN)
                      + b1))
        h = pool(relu(lax.conv_general_dilated(h, k2, (1, 1), "SAME", dimension_numbers=DN)
                      + b2))
        logits = h.reshape(h.shape[0], -1) @ w + b
        m = fnp.max(logits, axis=1, keepdims=True)
        lse = fnp.log(fnp.sum(fnp.exp(logits - m), axis=1, keepdims=True)) + m
        return -fnp.mean(fnp.sum((logits - lse) * y, axis=1))

    def step(params, x, y):
        l, g = fg.value_and_grad(loss)(params, x, y)
        return [p - 0.01 * gi for p, gi in zip(params, g)], l

    return step, fg.jit(step)


def numpy_step():
    """A straightforward hand-written NumPy training step (im2col convs, reshape pooling)."""
    from numpy.lib.stride_tricks import sliding_window_view

    def conv_fwd(x, k):
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        cols = sliding_window_view(xp, (3, 3), axis=(1, 2))       # N,H,W,C,3,3
        n, h, w, c = cols.shape[:4]
        cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, 9 * c)
        return (cols @ k.reshape(9 * c, -1)).reshape(n, h, w, -1), cols

    def conv_bwd(g, cols, k, xshape, need_dx):
        n, h, w, o = g.shape
        g2 = g.reshape(-1, o)
        dk = (cols.T @ g2).reshape(k.shape)
        if not need_dx:
            return None, dk
        dcols = (g2 @ k.reshape(-1, o).T).reshape(n, h, w, 3, 3, -1)
        dxp = np.zeros((n, h + 2, w + 2, xshape[3]), g.dtype)
        for i in range(3):
            for j in range(3):
                dxp[:, i:i + h, j:j + w] += dcols[:, :, :, i, j]
        return dxp[:, 1:-1, 1:-1], dk

    def pool_fwd(x):
        n, h, w, c = x.shape
        xr = x.reshape(n, h // 2, 2, w // 2, 2, c)
        out = xr.max(axis=(2, 4))
        mask = xr == out[:, :, None, :, None]
        return out, mask

    def pool_bwd(g, mask):
        n, h2, _, w2, _, c = mask.shape
        return (mask * g[:, :, None, :, None]).reshape(n, h2 * 2, w2 * 2, c)

    def step(params, x, y):
        k1, b1, k2, b2, w, b = params
        z1, cols1 = conv_fwd(x, k1)
        z1 += b1
        a1 = np.maximum(z1, 0)
        p1, m1 = pool_fwd(a1)
        z2, cols2 = conv_fwd(p1, k2)
        z2 += b2
        a2 = np.maximum(z2, 0)
        p2, m2 = pool_fwd(a2)
        flat = p2.reshape(p2.shape[0], -1)
        logits = flat @ w + b
        m = logits.max(1, keepdims=True)
        e = np.exp(logits - m)
        sm = e / e.sum(1, keepdims=True)
        loss = -np.mean(np.sum(np.log(sm + 1e-12) * y, 1))
        dlog = (sm - y) / x.shape[0]
        dw = flat.T @ dlog
        db = dlog.sum(0)
        dp2 = (dlog @ w.T).reshape(p2.shape)
        da2 = pool_bwd(dp2, m2)
        dz2 = da2 * (z2 > 0)
        dp1, dk2 = conv_bwd(dz2, cols2, k2, p1.shape, True)
        db2 = dz2.sum((0, 1, 2))
        da1 = pool_bwd(dp1, m1)
        dz1 = da1 * (z1 > 0)
        _, dk1 = conv_bwd(dz1, cols1, k1, x.shape, False)
        db1 = dz1.sum((0, 1, 2))
        grads = [dk1, db1, dk2, db2, dw, db]
        return [p - 0.01 * g for p, g in zip(params, grads)], loss

    return step


def torch_step():
    try:
        import torch
    except ImportError:
        return None
    import os
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(3136, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def step_benchmarks(repeat):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    y = np.eye(10, dtype=np.float32)[labels]
    res = {}
    eager, jitted = funcgrad_step()
    p = _init(rng)
    res["cnn step funcgrad eager"] = _timeit(lambda: _block(eager(p, x, y)[1]), repeat)
    res["cnn step funcgrad jit"] = _timeit(lambda: _block(jitted(p, x, y)[1]), repeat)
    nstep = numpy_step()
    res["cnn step hand-written numpy"] = _timeit(lambda: nstep(p, x, y), repeat)
    # agreement of the losses (same params, same data)
    l_fg = float(np.asarray(eager(p, x, y)[1]))
    l_np = float(nstep(p, x, y)[1])
    res["loss agreement |funcgrad - numpy|"] = abs(l_fg - l_np)
    ts = torch_step()
    if ts is not None:
        import torch
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        yt = torch.from_numpy(labels)
        res["cnn step pytorch"] = _timeit(lambda: ts(xt, yt), repeat)
    return res


def _keep_freed_memory():
    """glibc only: serve big allocations from the heap and never trim it, so the large
    temporaries of a training step are reused instead of being page-faulted in again."""
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        print("mallopt: not a glibc system, ignored")
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 31)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--only", choices=["kernels", "step"], default=None)
    ap.add_argument("--mallopt", action="store_true",
                    help="keep freed memory in the process (glibc mallopt) so big temporaries "
                         "do not page-fault on every call; affects every contender")
    args = ap.parse_args(argv)
    if args.mallopt:
        _keep_freed_memory()
    results = {}
    if args.only in (None, "kernels"):
        results.update(kernel_benchmarks(args.repeat))
    if args.only in (None, "step"):
        results.update(step_benchmarks(args.repeat))
    w = max(len(k) for k in results)
    for k, v in results.items():
        if isinstance(v, dict):
            print(f"{k:<{w}}  min {v['min_ms']:8.3f} ms   median {v['median_ms']:8.3f} ms   "
                  f"cpu {v['cpu_min_ms']:8.3f} ms")
        else:
            print(f"{k:<{w}}  {v:.3g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
