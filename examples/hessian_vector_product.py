"""Hessian-vector products: forward-over-reverse (``jvp`` of ``grad``) against the full
Hessian times v on a small problem, then the timing of the jitted HVP on
f(x) = sum(tanh(A @ x)) with A of shape 256 x 10000, where the Hessian itself (10^8
entries) is too big to want.

An HVP ``H(x) v`` is the directional derivative of the gradient along ``v``: forward mode
through reverse mode computes it for about the cost of two or three gradients, never
forming H. Reverse-over-reverse (``grad`` of ``<grad f, v>``) gives the same numbers.
For this f there is also a closed form to check against:
``H v = A^T (f''(z) * (A v))`` with ``z = A x`` and ``f''(z) = -2 tanh(z) (1 - tanh(z)^2)``.

    python examples/hessian_vector_product.py
    python examples/hessian_vector_product.py --rows 512 --cols 20000 --repeat 20
"""
import os
import sys
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (examples/_common.py: command-line flags)


def make_f(A):
    def f(x):
        return fnp.sum(fnp.tanh(A @ x))
    return f


def hvp_fwd_rev(f):
    """Forward-over-reverse: the JVP of the gradient."""
    return lambda x, v: fg.jvp(fg.grad(f), (x,), (v,))[1]


def hvp_rev_rev(f):
    """Reverse-over-reverse: the gradient of <grad f(x), v> with respect to x."""
    return lambda x, v: fg.grad(lambda y: fnp.vdot(fg.grad(f)(y), v))(x)


def hvp_exact(A, x, v):
    """The closed form, in NumPy (float64)."""
    A, x, v = (np.asarray(a, np.float64) for a in (A, x, v))
    t = np.tanh(A @ x)
    return A.T @ (-2.0 * t * (1.0 - t ** 2) * (A @ v))


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def timeit(fn, *args, repeat):
    fg.block_until_ready(fn(*args))                 # trace and compile
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fg.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--rows", type=int, default=256, help="rows of A (large problem)")
    p.add_argument("--cols", type=int, default=10000, help="columns of A = dimension of x")
    p.add_argument("--small", type=int, default=6, help="dimension of x (small problem)")
    p.add_argument("--repeat", type=int, default=10, help="timing repetitions (best of)")
    _common.add_common_args(p, quick_help="a small large problem (tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.cols, args.repeat = 32, 500, 2
    rng = np.random.default_rng(args.seed)

    # 1. small problem, float64: every way of computing H v agrees
    n = args.small
    A = rng.normal(size=(n + 2, n)) / np.sqrt(n)
    x, v = rng.normal(size=n), rng.normal(size=n)
    f = make_f(A)
    H = fg.hessian(f)(x)
    ways = {
        "jvp(grad f)    (fwd-over-rev)": hvp_fwd_rev(f)(x, v),
        "grad(<grad f, v>) (rev-over-rev)": hvp_rev_rev(f)(x, v),
        "hessian(f)(x) @ v": H @ v,
        "jacfwd(jacrev(f))(x) @ v": fg.jacfwd(fg.jacrev(f))(x) @ v,
    }
    exact = hvp_exact(A, x, v)
    print(f"small problem: x in R^{n}, A {A.shape}, float64; Hessian symmetric: "
          f"{np.allclose(np.asarray(H), np.asarray(H).T)}")
    errs = {}
    for name, hv in ways.items():
        errs[name] = rel_err(hv, exact)
        print(f"  {name:<34} max rel. error vs closed form {errs[name]:.1e}")
    if max(errs.values()) > 1e-10:
        raise RuntimeError("the Hessian-vector products disagree")

    # 2. large problem, float32, jitted
    A = (rng.normal(size=(args.rows, args.cols)) / np.sqrt(args.cols)).astype(np.float32)
    x = rng.normal(size=args.cols).astype(np.float32)
    v = rng.normal(size=args.cols).astype(np.float32)
    f = make_f(A)
    fns = {"f": fg.jit(f), "grad f": fg.jit(fg.grad(f)),
           "HVP fwd-over-rev": fg.jit(hvp_fwd_rev(f)),
           "HVP rev-over-rev": fg.jit(hvp_rev_rev(f))}
    print(f"large problem: A {A.shape} float32 ({A.nbytes / 2**20:.1f} MiB); the Hessian would "
          f"have {args.cols ** 2:.1e} entries ({args.cols ** 2 * 4 / 2**30:.2f} GiB)")
    exact = hvp_exact(A, x, v)
    times = {}
    for i, (name, fn) in enumerate(fns.items(), 1):
        call_args = (x, v) if name.startswith("HVP") else (x,)
        times[name] = timeit(fn, *call_args, repeat=args.repeat)
        extra = ""
        if name.startswith("HVP"):
            errs[name] = rel_err(fn(x, v), exact)
            extra = f"  max rel. error vs closed form {errs[name]:.1e}"
        print(f"  [{i}/{len(fns)}] {name:<17} {times[name] * 1e3:8.3f} ms "
              f"({times[name] / times['f']:4.1f}x f){extra}")
    if errs["HVP fwd-over-rev"] > 1e-4 or errs["HVP rev-over-rev"] > 1e-4:
        raise RuntimeError("the large Hessian-vector products disagree with the closed form")
    t = times["HVP fwd-over-rev"]
    print(f"the full Hessian by {args.cols} HVPs would take ~{t * args.cols:.0f} s; one "
          f"HVP takes {t * 1e3:.2f} ms = {t / times['grad f']:.1f} gradients")
    return {"small_errors": errs, "times_ms": {k: v * 1e3 for k, v in times.items()}}


if __name__ == "__main__":
    main()
