"""Classify handwritten digits with a small convolutional network (Conv, MaxPool, Dropout,
Dense) on 8x8x1 NHWC images.

The data is scikit-learn's bundled ``digits`` set (1797 grey 8x8 images, no download), split
60/20/20 into train/validation/test with a fixed seed. The best epoch (lowest validation
loss) is kept.

    python examples/cnn.py
    python examples/cnn.py --epochs 30 --filters 32 --dropout 0.5

Writes ``cnn.png`` (train vs validation loss and accuracy) next to this script, or in
``--out-dir``.
"""
import argparse
import os
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import layers, losses, optim, random

HERE = os.path.dirname(os.path.abspath(__file__))


def load_data(seed):
    """Digits as float32 NHWC images in [0, 1] of shape (n, 8, 8, 1); train/val/test."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]      # (n, 8, 8, 1)
    y = digits.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_train, n_val = int(0.6 * len(x)), int(0.2 * len(x))
    tr, va, te = np.split(perm, [n_train, n_train + n_val])
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


def make_model(filters, dropout):
    return layers.serial(
        layers.Conv(filters, (3, 3), padding="SAME"), layers.Relu,      # 8x8xF
        layers.MaxPool((2, 2)),                                          # 4x4xF
        layers.Conv(2 * filters, (3, 3), padding="SAME"), layers.Relu,  # 4x4x2F
        layers.MaxPool((2, 2)),                                          # 2x2x2F
        layers.Flatten, layers.Dropout(dropout),
        layers.Dense(64), layers.Relu,
        layers.Dense(10))


def progress_bar(done, total, width=20):
    filled = int(round(width * done / max(total, 1)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def save_plot(path, history):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return None
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["loss"], label="train")
    ax1.plot(epochs, history["val_loss"], label="validation")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="CNN loss", yscale="log")
    ax2.plot(epochs, history["acc"], label="train")
    ax2.plot(epochs, history["val_acc"], label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="CNN accuracy")
    for ax in (ax1, ax2):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--filters", type=int, default=16, help="channels of the first conv")
    p.add_argument("--dropout", type=float, default=0.3, help="probability of dropping a unit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=HERE, help="where the plot goes")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    p.add_argument("--quick", action="store_true", help="a few epochs only (used by tests)")
    args = p.parse_args(argv)
    epochs = 2 if args.quick else args.epochs

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = load_data(args.seed)
    print(f"digits: {x_tr.shape[0]} train, {x_va.shape[0]} validation, {x_te.shape[0]} test "
          f"images of shape {x_tr.shape[1:]} (NHWC)")

    key, init_key = random.split(random.key(args.seed))
    init_fn, apply_fn = make_model(args.filters, args.dropout)
    _, params = init_fn(init_key, (-1,) + x_tr.shape[1:])
    layers.summary(init_fn, (-1,) + x_tr.shape[1:])
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)

    def loss_fn(params, x, y, rng):
        logits = apply_fn(params, x, rng=rng, train=True)
        return losses.softmax_cross_entropy_with_integer_labels(logits, y)

    @fg.jit
    def train_step(params, opt_state, x, y, rng):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y, rng)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    @fg.jit
    def evaluate(params, x, y):
        logits = apply_fn(params, x)
        return (losses.softmax_cross_entropy_with_integer_labels(logits, y),
                fnp.mean(fnp.argmax(logits, axis=-1) == y))

    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
    best_loss, best_params, best_epoch = np.inf, params, 0
    n_batches = len(x_tr) // args.batch_size
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        key, perm_key = random.split(key)
        perm = np.asarray(random.permutation(perm_key, len(x_tr)))
        for i in range(n_batches):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            key, step_key = random.split(key)
            params, opt_state, _ = train_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        val_loss, val_acc = map(float, evaluate(params, x_va, y_va))
        for k, v in zip(history, (loss, acc, val_loss, val_acc)):
            history[k].append(v)
        mark = ""
        if val_loss < best_loss:
            best_loss, best_params, best_epoch, mark = val_loss, params, epoch, " *"
        print(f"epoch {epoch:3d}/{epochs} {progress_bar(epoch, epochs)} loss {loss:.4f} "
              f"acc {acc:.4f} | val_loss {val_loss:.4f} val_acc {val_acc:.4f} "
              f"| {time.perf_counter() - t0:5.1f}s{mark}")
    train_time = time.perf_counter() - t0

    test_loss, test_acc = map(float, evaluate(best_params, x_te, y_te))
    print(f"test: loss {test_loss:.4f}  accuracy {test_acc:.4f}  (best epoch {best_epoch}, "
          f"{train_time:.1f}s of training)")
    plot = None
    if not args.no_plot:
        os.makedirs(args.out_dir, exist_ok=True)
        plot = save_plot(os.path.join(args.out_dir, "cnn.png"), history)
        if plot:
            print(f"plot: {plot}")
    return {"test_accuracy": test_acc, "test_loss": test_loss, "best_epoch": best_epoch,
            "train_time": train_time, "plot": plot}


if __name__ == "__main__":
    main()
