"""Minimise y = x^2 - 10x + 24 by gradient descent with ``grad``; prints the path to x = 5.

    python examples/quadratic.py --steps 50 --lr 0.1
"""
import argparse
import time

import funcgrad as fg


def f(x):
    return x ** 2 - 10.0 * x + 24.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=50, help="gradient steps")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate")
    p.add_argument("--x0", type=float, default=0.0, help="starting point")
    p.add_argument("--seed", type=int, default=0,
                   help="accepted for uniformity with the other examples (nothing is random)")
    p.add_argument("--quick", action="store_true", help="a few steps only (used by tests)")
    args = p.parse_args(argv)
    steps = 5 if args.quick else args.steps
    df = fg.jit(fg.grad(f))
    x = args.x0
    t0 = time.perf_counter()
    for step in range(steps + 1):
        if step % max(1, steps // 10) == 0 or step == steps:
            print(f"step {step:3d}  x = {float(x):8.5f}  y = {float(f(x)):9.5f}  "
                  f"({time.perf_counter() - t0:.3f}s)")
        x = x - args.lr * df(x)
    print(f"minimum at x = {float(x):.4f} (exact: 5), y = {float(f(x)):.4f} (exact: -1)")
    return float(x)


if __name__ == "__main__":
    main()
