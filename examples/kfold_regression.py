"""K-fold cross-validation of a regression MLP on the diabetes data set, reporting the
mean absolute error (MAE) of every fold and their mean.

The data is scikit-learn's bundled diabetes set (442 patients, 10 features, target: a
measure of disease progression one year later, no download). With so few examples a single
validation split is noisy, so the model is trained K times, each time validating on a
different fold. Features (and the target) are standardized with the statistics of the
training folds only, so nothing leaks from the validation fold.

    python examples/kfold_regression.py
    python examples/kfold_regression.py --folds 5 --epochs 150 --hidden 32

Writes ``kfold_regression.png`` (validation MAE by epoch, averaged over the folds) next to
this script, or in ``--out-dir``.
"""
import os
import sys
import time

import numpy as np

import funcgrad as fg
from funcgrad import layers, losses, optim, random

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402  (examples/_common.py: flags, scaling, batches, plots)


def load_data(seed):
    """Raw (unscaled) float32 features and targets, shuffled with ``seed``."""
    from sklearn.datasets import load_diabetes
    x, y = load_diabetes(return_X_y=True, scaled=False)
    perm = np.random.default_rng(seed).permutation(len(y))
    return x[perm].astype(np.float32), y[perm].astype(np.float32)


def make_model(hidden):
    return layers.serial(layers.Dense(hidden), layers.Relu, layers.Dense(hidden), layers.Relu,
                         layers.Dense(1))


def run_fold(k, x_tr, y_tr, x_va, y_va, args, key):
    """Train on one split; returns the validation MAE (in target units) of every epoch."""
    # standardization statistics from the training folds only
    y_mean, y_std = float(y_tr.mean()), float(y_tr.std())
    x_tr, x_va = _common.standardize(x_tr, x_tr, x_va)
    t_tr = (y_tr - y_mean) / y_std

    init_fn, apply_fn = make_model(args.hidden)
    key, init_key = random.split(key)
    _, params = init_fn(init_key, (-1, x_tr.shape[1]))
    opt = optim.adamw(args.lr, weight_decay=args.weight_decay)
    opt_state = opt.init(params)

    def loss_fn(params, x, t):
        return losses.mean_squared_error(apply_fn(params, x)[:, 0], t)

    @fg.jit
    def train_step(params, opt_state, x, t):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, t)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    @fg.jit
    def val_mae(params, x, y):
        pred = apply_fn(params, x)[:, 0] * y_std + y_mean          # back to target units
        return losses.mean_absolute_error(pred, y)

    maes = []
    n_batches = max(1, len(x_tr) // args.batch_size)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        key, perm_key = random.split(key)
        for idx in _common.minibatches(perm_key, len(x_tr), args.batch_size, n_batches):
            params, opt_state, loss = train_step(params, opt_state, x_tr[idx], t_tr[idx])
        maes.append(float(val_mae(params, x_va, y_va)))
        if epoch % args.print_every == 0 or epoch == args.epochs:
            print(f"fold {k + 1}/{args.folds} epoch {epoch:3d}/{args.epochs} "
                  f"{_common.progress_bar(epoch, args.epochs)} loss {float(loss):.4f} "
                  f"| val_mae {maes[-1]:6.2f} | {time.perf_counter() - t0:5.2f}s")
    return maes


def save_plot(path, curves, baseline):
    plt = _common.pyplot()
    if plt is None:
        return None
    curves = np.asarray(curves)
    epochs = np.arange(1, curves.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, c in enumerate(curves):
        ax.plot(epochs, c, lw=0.8, alpha=0.5, label=f"fold {k + 1}")
    ax.plot(epochs, curves.mean(axis=0), color="black", lw=2, label="mean over folds")
    ax.axhline(baseline, color="gray", ls="--", label="predict the training mean")
    ax.set(xlabel="epoch", ylabel="validation MAE", title="K-fold validation MAE (diabetes)")
    ax.legend(fontsize=8)
    return _common.save_figure(plt, fig, path)


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--print-every", type=int, default=10, help="epochs between progress lines")
    _common.add_common_args(p, quick_help="2 folds, 3 epochs (used by tests)", out_dir=HERE)
    args = p.parse_args(argv)
    if args.quick:
        args.folds, args.epochs, args.print_every = 2, 3, 1

    x, y = load_data(args.seed)
    print(f"diabetes: {len(y)} patients, {x.shape[1]} features; target mean {y.mean():.1f}, "
          f"std {y.std():.1f}; {args.folds}-fold cross-validation")
    folds = np.array_split(np.arange(len(y)), args.folds)
    key = random.key(args.seed)
    curves, baselines, linear = [], [], []
    t0 = time.perf_counter()
    for k, va in enumerate(folds):
        tr = np.concatenate([f for j, f in enumerate(folds) if j != k])
        key, fold_key = random.split(key)
        curves.append(run_fold(k, x[tr], y[tr], x[va], y[va], args, fold_key))
        baselines.append(float(np.mean(np.abs(y[va] - y[tr].mean()))))
        a = np.c_[x[tr], np.ones(len(tr))]                       # reference: least squares
        coef = np.linalg.lstsq(a, y[tr], rcond=None)[0]
        linear.append(float(np.mean(np.abs(np.c_[x[va], np.ones(len(va))] @ coef - y[va]))))
    total = time.perf_counter() - t0

    final = [c[-1] for c in curves]
    print("\nfold  MLP val MAE  linear least squares  predict the training mean")
    for k, (m, lin, b) in enumerate(zip(final, linear, baselines)):
        print(f"{k + 1:4d}  {m:11.2f}  {lin:20.2f}  {b:24.2f}")
    mean_curve = np.mean(curves, axis=0)
    print(f"mean  {np.mean(final):11.2f}  {np.mean(linear):20.2f}  {np.mean(baselines):24.2f}")
    print(f"MLP: std over folds {np.std(final):.2f}; the mean validation MAE is lowest "
          f"({mean_curve.min():.2f}) after {int(mean_curve.argmin()) + 1} epochs; {total:.1f}s")
    plot = _common.maybe_plot(args, "kfold_regression.png",
                              lambda path: save_plot(path, curves, float(np.mean(baselines))))
    return {"fold_mae": final, "mean_mae": float(np.mean(final)),
            "linear_mae": float(np.mean(linear)),
            "baseline_mae": float(np.mean(baselines)), "time": total, "plot": plot}


if __name__ == "__main__":
    main()
