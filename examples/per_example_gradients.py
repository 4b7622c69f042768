"""Per-example gradients with ``vmap(grad(loss))``: check them against a Python loop, time
both, look at their norms, and train with DP-SGD-style clipped and noised averaging.

``grad(loss)`` gives the gradient of the loss of *one* example; ``vmap`` maps it over the
batch axis of the data (``in_axes=(None, 0, 0)``: the parameters are shared), which turns
the per-example loop into batched array operations. Differentially private SGD (Abadi et
al., 2016) needs exactly these: each example's gradient is clipped to a global L2 norm of
at most ``C``, the clipped gradients are summed, Gaussian noise of standard deviation
``sigma * C`` is added and the sum is divided by the batch size.

The data is synthetic (two overlapping Gaussian clouds in 20 dimensions, fixed ``--seed``);
no downloads.

    python examples/per_example_gradients.py
    python examples/per_example_gradients.py --batch-size 512 --clip 0.5 --noise 1.5
"""
import os
import sys
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import layers, losses, optim, random

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (examples/_common.py: command-line flags)

# ----------------------------------------------------------------------------- model

init_fn, apply_fn = layers.serial(layers.Dense(32), layers.Tanh, layers.Dense(1))


def example_loss(params, x, y):
    """The loss of ONE example: ``x`` of shape (features,), ``y`` a 0-d label."""
    logit = apply_fn(params, x)[0]
    return losses.sigmoid_binary_cross_entropy(logit, y)


def batch_loss(params, x, y):
    return fnp.mean(fg.vmap(example_loss, in_axes=(None, 0, 0))(params, x, y))


per_example_grads = fg.jit(fg.vmap(fg.grad(example_loss), in_axes=(None, 0, 0)))
one_grad = fg.jit(fg.grad(example_loss))
batch_grad = fg.jit(fg.grad(batch_loss))


def per_example_norms(grads):
    """Global L2 norm of each example's gradient: the leaves have a leading batch axis."""
    sq = [fnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in fg.tree.leaves(grads)]
    return fnp.sqrt(sum(sq))


def private_grad(params, x, y, key, clip, noise_multiplier):
    """DP-SGD gradient: clip each example's gradient to norm ``clip``, sum, add
    N(0, (noise_multiplier * clip)^2) noise to every coordinate, divide by the batch size."""
    grads = fg.vmap(fg.grad(example_loss), in_axes=(None, 0, 0))(params, x, y)
    norms = per_example_norms(grads)
    scale = fnp.minimum(1.0, clip / (norms + 1e-12))             # (batch,)
    leaves, treedef = fg.tree.flatten(grads)
    keys = random.split(key, len(leaves))
    noised = []
    for g, k in zip(leaves, keys):
        clipped_sum = fnp.tensordot(scale, g, axes=1)             # sum_i scale_i * g_i
        noise = noise_multiplier * clip * random.normal(k, clipped_sum.shape)
        noised.append((clipped_sum + noise) / x.shape[0])
    return fg.tree.unflatten(treedef, noised), norms


# ----------------------------------------------------------------------------- data

SEPARATION = 2.5          # distance between the two class means (in standard deviations)


def make_data(seed, n, features=20, separation=SEPARATION):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.float32)
    direction = rng.normal(size=features)
    direction /= np.linalg.norm(direction)
    x = rng.normal(size=(n, features)) + np.outer(2 * y - 1, direction) * separation / 2
    return x.astype(np.float32), y


def timeit(fn, repeat):
    fn()                                            # warm up (trace and compile)
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    fg.block_until_ready(out)
    return (time.perf_counter() - t0) / repeat, out


# ----------------------------------------------------------------------------- main

def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=10, help="DP-SGD epochs")
    p.add_argument("--lr", type=float, default=0.2, help="SGD learning rate")
    p.add_argument("--clip", type=float, default=1.0, help="per-example norm bound C")
    p.add_argument("--noise", type=float, default=1.0, help="noise multiplier sigma")
    p.add_argument("--repeat", type=int, default=5, help="timing repetitions")
    _common.add_common_args(p, quick_help="small batch, 2 epochs (used by tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.batch_size, args.epochs, args.repeat = 32, 2, 1

    x, y = make_data(args.seed, 20 * args.batch_size)
    n_train = 16 * args.batch_size
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    key, init_key = random.split(random.key(args.seed))
    _, params = init_fn(init_key, (-1, x.shape[1]))

    # 1. correctness: vmap(grad) against a Python loop of grad, and the mean against grad
    xb, yb = x_tr[:args.batch_size], y_tr[:args.batch_size]
    t_vmap, g_vmap = timeit(lambda: per_example_grads(params, xb, yb), args.repeat)
    t_loop, g_loop = timeit(lambda: fg.tree.map(lambda *g: fnp.stack(g), *[
        one_grad(params, xb[i], yb[i]) for i in range(len(xb))]), args.repeat)
    t_batch, g_mean = timeit(lambda: batch_grad(params, xb, yb), args.repeat)
    err = max(float(fnp.max(fnp.abs(a - b))) for a, b in
              zip(fg.tree.leaves(g_vmap), fg.tree.leaves(g_loop)))
    err_mean = max(float(fnp.max(fnp.abs(fnp.mean(a, axis=0) - b))) for a, b in
                   zip(fg.tree.leaves(g_vmap), fg.tree.leaves(g_mean)))
    shapes = [tuple(g.shape) for g in fg.tree.leaves(g_vmap)]
    print(f"per-example gradients of a batch of {len(xb)}: leaf shapes {shapes}")
    print(f"  max |vmap - loop| = {err:.2e}; max |mean of per-example - grad of mean| = "
          f"{err_mean:.2e}")
    print(f"  time: vmap(grad) {t_vmap * 1e3:7.2f} ms | Python loop of jit(grad) "
          f"{t_loop * 1e3:7.2f} ms ({t_loop / t_vmap:.0f}x slower) | one batch gradient "
          f"{t_batch * 1e3:6.2f} ms")
    ok = err < 1e-5 and err_mean < 1e-5
    if not ok:
        raise RuntimeError("per-example gradients from vmap and from the loop disagree")

    norms = np.asarray(per_example_norms(g_vmap))
    q = np.percentile(norms, [0, 50, 90, 100])
    print(f"  per-example gradient norms: min {q[0]:.3f}, median {q[1]:.3f}, 90% {q[2]:.3f}, "
          f"max {q[3]:.3f}; {np.mean(norms > args.clip):.0%} above the clip norm "
          f"C = {args.clip}")

    # 2. DP-SGD training: clipped, noised averages of per-example gradients
    opt = optim.sgd(args.lr)
    opt_state = opt.init(params)

    @fg.jit
    def dp_step(params, opt_state, x, y, key):
        grads, norms = private_grad(params, x, y, key, args.clip, args.noise)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, fnp.mean(norms > args.clip)

    @fg.jit
    def evaluate(params, x, y):
        logits = apply_fn(params, x)[:, 0]
        return (losses.sigmoid_binary_cross_entropy(logits, y),
                fnp.mean((logits > 0) == (y > 0.5)))

    print(f"DP-SGD: clip C = {args.clip}, noise multiplier sigma = {args.noise}, batch "
          f"{args.batch_size}, lr {args.lr}")
    n_batches = n_train // args.batch_size
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        key, perm_key = random.split(key)
        perm = np.asarray(random.permutation(perm_key, n_train))
        clipped = 0.0
        for i in range(n_batches):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            key, step_key = random.split(key)
            params, opt_state, frac = dp_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
            clipped += float(frac) / n_batches
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        test_loss, test_acc = map(float, evaluate(params, x_te, y_te))
        filled = int(round(20 * epoch / args.epochs))
        print(f"epoch {epoch:3d}/{args.epochs} [{'#' * filled}{'.' * (20 - filled)}] "
              f"loss {loss:.4f} acc {acc:.4f} | test_loss {test_loss:.4f} "
              f"test_acc {test_acc:.4f} | clipped {clipped:4.0%} | "
              f"{time.perf_counter() - t0:5.2f}s")
    # the best any classifier can do here: the Bayes rule for two unit-variance clouds
    from math import erf, sqrt
    bayes = 0.5 * (1 + erf(SEPARATION / 2 / sqrt(2)))
    print(f"final test accuracy {test_acc:.4f} (Bayes accuracy {bayes:.4f})")
    return {"max_abs_err": err, "vmap_ms": t_vmap * 1e3, "loop_ms": t_loop * 1e3,
            "batch_grad_ms": t_batch * 1e3, "test_accuracy": test_acc}


if __name__ == "__main__":
    main()
