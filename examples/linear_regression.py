"""Fit y = W x + b by stochastic gradient descent on a small 1-D data set (17 points).

    python examples/linear_regression.py --epochs 200 --lr 0.01
"""
import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

# the classic 17-point data set of the TensorFlow linear-regression tutorial
X = np.array([3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313,
              7.997, 5.654, 9.27, 3.1], dtype=np.float32)
Y = np.array([1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65,
              2.904, 2.42, 2.94, 1.3], dtype=np.float32)


def cost(params, x, y):
    w, b = params
    return fnp.mean((w * x + b - y) ** 2) / 2


@fg.jit
def sgd_step(params, x, y, lr):
    grads = fg.grad(cost)(params, x, y)
    return tuple(p - lr * g for p, g in zip(params, grads))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a few epochs only (used by tests)")
    args = p.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    rng = np.random.default_rng(args.seed)
    params = (fnp.asarray(rng.normal(), dtype=fnp.float32), fnp.asarray(rng.normal(),
                                                                        dtype=fnp.float32))
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for i in rng.permutation(len(X)):
            params = sgd_step(params, X[i], Y[i], args.lr)
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            c = float(cost(params, X, Y))
            print(f"epoch {epoch:4d}  cost = {c:.5f}  W = {float(params[0]):.4f}  "
                  f"b = {float(params[1]):.4f}  ({time.perf_counter() - t0:.2f}s)")
    w_ls, b_ls = np.polyfit(X, Y, 1)
    c_ls = float(np.mean((w_ls * X + b_ls - Y) ** 2) / 2)
    print(f"least squares: cost = {c_ls:.5f}  W = {w_ls:.4f}  b = {b_ls:.4f}")
    return params


if __name__ == "__main__":
    main()
