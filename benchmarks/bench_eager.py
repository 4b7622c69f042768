"""Eager (un-jitted) per-call overhead of common funcgrad.numpy operations on tiny arrays.

    python benchmarks/bench_eager.py [--repeat 7] [--number 2000]

Prints microseconds per call (min over ``--repeat`` timeit runs of ``--number`` calls) for
funcgrad, NumPy and, when importable, PyTorch (CPU; skipped cleanly otherwise).  The
arrays are float32: h 16x32, b 32, x 16x8, w 8x32, lg 16x3.  The MLP row is the forward
loss of a 3-layer MLP (8-32-32-3, relu, log_softmax cross-entropy) on a batch of 16.

On a small shared machine set ``OPENBLAS_NUM_THREADS=1`` and compare minima only.
"""
from __future__ import annotations

import argparse
import timeit

import numpy as np


def _torch():
    try:
        import torch
    except Exception:   # noqa: BLE001 - any import failure means "skip"
        return None
    torch.set_num_threads(1)
    return torch


def _cases(rng):
    import funcgrad as fg
    import funcgrad.numpy as fnp

    raw = dict(h=rng.standard_normal((16, 32)), b=rng.standard_normal(32),
               x=rng.standard_normal((16, 8)), w=rng.standard_normal((8, 32)),
               lg=rng.standard_normal((16, 3)),
               w1=rng.standard_normal((8, 32)) * 0.3, b1=rng.standard_normal(32) * 0.1,
               w2=rng.standard_normal((32, 32)) * 0.2, b2=rng.standard_normal(32) * 0.1,
               w3=rng.standard_normal((32, 3)) * 0.2, b3=rng.standard_normal(3) * 0.1)
    raw = {k: v.astype(np.float32) for k, v in raw.items()}
    labels = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    raw["y"] = labels
    F = {k: fnp.asarray(v) for k, v in raw.items()}
    N = raw

    def np_log_softmax(z):
        s = z - z.max(-1, keepdims=True)
        return s - np.log(np.exp(s).sum(-1, keepdims=True))

    def fg_mlp():
        a = fg.nn.relu(F["x"] @ F["w1"] + F["b1"])
        a = fg.nn.relu(a @ F["w2"] + F["b2"])
        lp = fg.nn.log_softmax(a @ F["w3"] + F["b3"])
        return -fnp.mean(fnp.sum(lp * F["y"], axis=-1))

    def np_mlp():
        a = np.maximum(N["x"] @ N["w1"] + N["b1"], 0)
        a = np.maximum(a @ N["w2"] + N["b2"], 0)
        lp = np_log_softmax(a @ N["w3"] + N["b3"])
        return -np.mean(np.sum(lp * N["y"], axis=-1))

    fg_ops = {
        "x + x (same shape)": lambda: F["h"] + F["h"],
        "h + b (broadcast)": lambda: F["h"] + F["b"],
        "h * 2.0 (py scalar)": lambda: F["h"] * 2.0,
        "x @ w": lambda: F["x"] @ F["w"],
        "relu(h)": lambda: fg.nn.relu(F["h"]),
        "mean(lg)": lambda: fnp.mean(F["lg"]),
        "sum(lg, axis=-1)": lambda: fnp.sum(F["lg"], axis=-1),
        "max(lg, -1, keepdims)": lambda: fnp.max(F["lg"], axis=-1, keepdims=True),
        "exp(lg)": lambda: fnp.exp(F["lg"]),
        "log_softmax(lg)": lambda: fg.nn.log_softmax(F["lg"]),
        "MLP loss forward": fg_mlp,
    }
    np_ops = {
        "x + x (same shape)": lambda: N["h"] + N["h"],
        "h + b (broadcast)": lambda: N["h"] + N["b"],
        "h * 2.0 (py scalar)": lambda: N["h"] * 2.0,
        "x @ w": lambda: N["x"] @ N["w"],
        "relu(h)": lambda: np.maximum(N["h"], 0),
        "mean(lg)": lambda: np.mean(N["lg"]),
        "sum(lg, axis=-1)": lambda: np.sum(N["lg"], axis=-1),
        "max(lg, -1, keepdims)": lambda: np.max(N["lg"], axis=-1, keepdims=True),
        "exp(lg)": lambda: np.exp(N["lg"]),
        "log_softmax(lg)": lambda: np_log_softmax(N["lg"]),
        "MLP loss forward": np_mlp,
    }
    torch = _torch()
    th_ops = None
    if torch is not None:
        T = {k: torch.from_numpy(v) for k, v in raw.items()}
        tf = torch.nn.functional

        def th_mlp():
            a = torch.relu(T["x"] @ T["w1"] + T["b1"])
            a = torch.relu(a @ T["w2"] + T["b2"])
            lp = tf.log_softmax(a @ T["w3"] + T["b3"], -1)
            return -torch.mean(torch.sum(lp * T["y"], -1))

        th_ops = {
            "x + x (same shape)": lambda: T["h"] + T["h"],
            "h + b (broadcast)": lambda: T["h"] + T["b"],
            "h * 2.0 (py scalar)": lambda: T["h"] * 2.0,
            "x @ w": lambda: T["x"] @ T["w"],
            "relu(h)": lambda: torch.relu(T["h"]),
            "mean(lg)": lambda: torch.mean(T["lg"]),
            "sum(lg, axis=-1)": lambda: torch.sum(T["lg"], -1),
            "max(lg, -1, keepdims)": lambda: torch.amax(T["lg"], -1, keepdim=True),
            "exp(lg)": lambda: torch.exp(T["lg"]),
            "log_softmax(lg)": lambda: tf.log_softmax(T["lg"], -1),
            "MLP loss forward": th_mlp,
        }
    return fg_ops, np_ops, th_ops


def _us(fn, repeat, number):
    fn()
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number * 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--number", type=int, default=2000)
    args = p.parse_args(argv)
    fg_ops, np_ops, th_ops = _cases(np.random.default_rng(0))
    results = {}
    head = f"{'op':24s} {'funcgrad us':>12s} {'numpy us':>10s} {'ratio':>7s}"
    if th_ops is None:
        print("(PyTorch not importable: its column is skipped)")
    else:
        head += f" {'torch us':>10s}"
    print(head)
    for name, fn in fg_ops.items():
        # the MLP and log_softmax are slower: fewer calls per run keep the total short
        number = max(args.number // (20 if "MLP" in name or "softmax" in name else 1), 10)
        t_fg = _us(fn, args.repeat, number)
        t_np = _us(np_ops[name], args.repeat, number)
        line = f"{name:24s} {t_fg:12.2f} {t_np:10.2f} {t_fg / t_np:7.1f}"
        row = {"funcgrad": t_fg, "numpy": t_np}
        if th_ops is not None:
            t_th = _us(th_ops[name], args.repeat, number)
            line += f" {t_th:10.2f}"
            row["torch"] = t_th
        print(line)
        results[name] = row
    return results


if __name__ == "__main__":
    main()
