"""LSTM training step written with ``lax.scan``: funcgrad vs JAX vs hand-written NumPy.

Sequence 50, batch 32, input 32, hidden 128, a linear readout at every step and a
mean-squared-error loss; one step = forward + backward + SGD update, under ``jit``.
Reports the median step time of each implementation and the ratios.

    python benchmarks/bench_lstm.py [--steps 30] [--warmup 5]

``main()`` returns a dict of the measured numbers (milliseconds) for a benchmarks
runner.  JAX is only used when importable (it is not a dependency of funcgrad).  The
implementations are timed round-robin so that they see the same machine load.  On a
small shared machine run with ``OPENBLAS_NUM_THREADS=1``: a multi-threaded BLAS on
oversubscribed cores makes every small matmul (NumPy's and funcgrad's alike) 10-100x
slower and the numbers meaningless.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

T, B, D, H, O = 50, 32, 32, 128, 10
LR = 0.1


def make_data(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(H)
    params = {
        "Wx": (rng.normal(size=(D, 4 * H)) * s).astype(dtype),
        "Wh": (rng.normal(size=(H, 4 * H)) * s).astype(dtype),
        "b": np.zeros(4 * H, dtype),
        "Wo": (rng.normal(size=(H, O)) * s).astype(dtype),
        "bo": np.zeros(O, dtype),
    }
    xs = rng.normal(size=(T, B, D)).astype(dtype)
    ys = rng.normal(size=(T, B, O)).astype(dtype)
    return params, xs, ys


def _time_interleaved(fns, steps, warmup):
    """Median and min step time (ms) of each function, measured round-robin so that all
    of them see the same machine load."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(steps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


# ----------------------------------------------------------------------------- funcgrad

def funcgrad_step():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad import lax

    def loss_fn(p, xs, ys):
        def cell(carry, x):
            h, c = carry
            z = x @ p["Wx"] + h @ p["Wh"] + p["b"]
            i = lax.logistic(z[:, :H])
            f = lax.logistic(z[:, H:2 * H])
            g = fnp.tanh(z[:, 2 * H:3 * H])
            o = lax.logistic(z[:, 3 * H:])
            c = f * c + i * g
            h = o * fnp.tanh(c)
            return (h, c), h

        h0 = fnp.zeros((B, H), xs.dtype)
        _, hs = lax.scan(cell, (h0, h0), xs)
        pred = hs @ p["Wo"] + p["bo"]
        return fnp.mean((pred - ys) ** 2)

    @fg.jit
    def step(p, xs, ys):
        loss, g = fg.value_and_grad(loss_fn)(p, xs, ys)
        return fg.tree.map(lambda a, b: a - LR * b, p, g), loss

    return step


# ----------------------------------------------------------------------------- JAX

def jax_step():
    import jax
    import jax.numpy as jnp

    def loss_fn(p, xs, ys):
        def cell(carry, x):
            h, c = carry
            z = x @ p["Wx"] + h @ p["Wh"] + p["b"]
            i = jax.nn.sigmoid(z[:, :H])
            f = jax.nn.sigmoid(z[:, H:2 * H])
            g = jnp.tanh(z[:, 2 * H:3 * H])
            o = jax.nn.sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * jnp.tanh(c)
            return (h, c), h

        h0 = jnp.zeros((B, H), xs.dtype)
        _, hs = jax.lax.scan(cell, (h0, h0), xs)
        pred = hs @ p["Wo"] + p["bo"]
        return jnp.mean((pred - ys) ** 2)

    @jax.jit
    def step(p, xs, ys):
        loss, g = jax.value_and_grad(loss_fn)(p, xs, ys)
        return jax.tree_util.tree_map(lambda a, b: a - LR * b, p, g), loss

    return step


# ----------------------------------------------------------------------------- NumPy

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_step(p, xs, ys):
    """Hand-written forward, backward (BPTT) and SGD update."""
    Wx, Wh, b, Wo, bo = p["Wx"], p["Wh"], p["b"], p["Wo"], p["bo"]
    dt = xs.dtype
    h = np.zeros((B, H), dt)
    c = np.zeros((B, H), dt)
    hs = np.empty((T, B, H), dt)
    cs = np.empty((T, B, H), dt)
    gates = np.empty((T, B, 4 * H), dt)
    tcs = np.empty((T, B, H), dt)
    hprev = np.empty((T, B, H), dt)
    cprev = np.empty((T, B, H), dt)
    for t in range(T):
        hprev[t], cprev[t] = h, c
        z = xs[t] @ Wx + h @ Wh + b
        gt = gates[t]
        gt[:, :H] = _sigmoid(z[:, :H])
        gt[:, H:2 * H] = _sigmoid(z[:, H:2 * H])
        gt[:, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])
        gt[:, 3 * H:] = _sigmoid(z[:, 3 * H:])
        c = gt[:, H:2 * H] * c + gt[:, :H] * gt[:, 2 * H:3 * H]
        tcs[t] = np.tanh(c)
        h = gt[:, 3 * H:] * tcs[t]
        hs[t], cs[t] = h, c
    pred = hs @ Wo + bo
    diff = pred - ys
    loss = np.mean(diff ** 2)
    dpred = (2.0 / diff.size) * diff
    dWo = hs.reshape(-1, H).T @ dpred.reshape(-1, O)
    dbo = dpred.sum((0, 1))
    dhs = dpred @ Wo.T
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    dh = np.zeros((B, H), dt)
    dc = np.zeros((B, H), dt)
    dz = np.empty((B, 4 * H), dt)
    for t in reversed(range(T)):
        gt = gates[t]
        i, f, g, o = gt[:, :H], gt[:, H:2 * H], gt[:, 2 * H:3 * H], gt[:, 3 * H:]
        dh = dh + dhs[t]
        do = dh * tcs[t]
        dc = dc + dh * o * (1 - tcs[t] ** 2)
        di = dc * g
        dg = dc * i
        df = dc * cprev[t]
        dc = dc * f
        dz[:, :H] = di * i * (1 - i)
        dz[:, H:2 * H] = df * f * (1 - f)
        dz[:, 2 * H:3 * H] = dg * (1 - g ** 2)
        dz[:, 3 * H:] = do * o * (1 - o)
        dWx += xs[t].T @ dz
        dWh += hprev[t].T @ dz
        db += dz.sum(0)
        dh = dz @ Wh.T
    grads = {"Wx": dWx, "Wh": dWh, "b": db, "Wo": dWo, "bo": dbo}
    return {k: p[k] - LR * grads[k] for k in p}, loss


# ----------------------------------------------------------------------------- main

def main(steps=30, warmup=5, verbose=True):
    """Run the benchmark; returns ``{"funcgrad_ms", "numpy_ms", "jax_ms" (None without
    JAX), the ``*_min_ms``, "ratio_vs_numpy", "ratio_vs_jax", ...}`` (medians in ms)."""
    import funcgrad as fg
    params, xs, ys = make_data()
    res = {}

    # correctness first: one step of each implementation must agree
    fstep = funcgrad_step()
    p_fg, loss_fg = fstep(params, xs, ys)
    p_np, loss_np = numpy_step(params, xs, ys)
    err = max(float(np.max(np.abs(np.asarray(p_fg[k]) - p_np[k]))) for k in params)
    res["max_param_diff_vs_numpy"] = err
    if err > 1e-4 or abs(float(loss_fg) - float(loss_np)) > 1e-4:
        raise AssertionError(f"funcgrad and NumPy LSTM steps disagree: param diff {err}, "
                             f"loss {float(loss_fg)} vs {float(loss_np)}")

    def run_fg():
        p, loss = fstep(params, xs, ys)
        fg.block_until_ready((p, loss))

    fns = {"funcgrad": run_fg, "numpy": lambda: numpy_step(params, xs, ys)}
    try:
        import jax
        jstep = jax_step()
        jparams = jax.tree_util.tree_map(jax.numpy.asarray, params)
        jxs, jys = jax.numpy.asarray(xs), jax.numpy.asarray(ys)

        def run_jax():
            jax.block_until_ready(jstep(jparams, jxs, jys))

        fns["jax"] = run_jax
    except ImportError:
        pass
    timed = _time_interleaved(fns, steps, warmup)
    for k in ("funcgrad", "numpy", "jax"):
        res[f"{k}_ms"], res[f"{k}_min_ms"] = timed.get(k, (None, None))
    res["ratio_vs_numpy"] = res["funcgrad_ms"] / res["numpy_ms"]
    res["ratio_vs_jax"] = res["funcgrad_ms"] / res["jax_ms"] if res["jax_ms"] else None
    if verbose:
        print(f"LSTM training step (T={T}, B={B}, D={D}, H={H}), jit, median (min) of "
              f"{steps}, interleaved:")
        print(f"  funcgrad (lax.scan)  : {res['funcgrad_ms']:8.2f} ms "
              f"({res['funcgrad_min_ms']:.2f})")
        print(f"  numpy (hand-written) : {res['numpy_ms']:8.2f} ms "
              f"({res['numpy_min_ms']:.2f})   funcgrad/numpy = {res['ratio_vs_numpy']:.2f}x")
        if res["jax_ms"] is not None:
            print(f"  jax (lax.scan)       : {res['jax_ms']:8.2f} ms "
                  f"({res['jax_min_ms']:.2f})   funcgrad/jax = {res['ratio_vs_jax']:.2f}x "
                  "(target <= 1.2x)")
        else:
            print("  jax                  : not installed (skipped)")
        print(f"  max |param diff| funcgrad vs numpy after one step: {err:.2e}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    main(a.steps, a.warmup)
