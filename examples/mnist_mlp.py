"""Classify handwritten digits with an MLP: Dense/Relu/Dropout layers, Adam, mini-batches,
a validation split, early stopping, a checkpoint and a loss/accuracy plot.

The data is scikit-learn's bundled ``digits`` set (1797 images of 8x8 pixels, no download),
split 60/20/20 into train/validation/test with a fixed seed.

    python examples/mnist_mlp.py                       # ~100 epochs at most, early stopping
    python examples/mnist_mlp.py --epochs 30 --hidden 128 --dropout 0.3 --patience 5

Writes ``mnist_mlp.png`` (train vs validation curves) and ``mnist_mlp.fgz`` (the best
parameters and the optimizer state, with ``fg.save``) next to this script, or in
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


# ----------------------------------------------------------------------------- data

def load_data(seed):
    """Digits as float32 in [0, 1], shape (n, 64), int32 labels; train/val/test split."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_train, n_val = int(0.6 * len(x)), int(0.2 * len(x))
    tr, va, te = np.split(perm, [n_train, n_train + n_val])
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


# ----------------------------------------------------------------------------- model

def make_model(hidden, dropout):
    return layers.serial(
        layers.Dense(hidden), layers.Relu, layers.Dropout(dropout),
        layers.Dense(hidden // 2), layers.Relu, layers.Dropout(dropout),
        layers.Dense(10))


def make_fns(apply_fn, opt):
    """The pure loss and the jit-compiled train and evaluation steps."""

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
        logits = apply_fn(params, x, train=False)    # dropout off
        loss = losses.softmax_cross_entropy_with_integer_labels(logits, y)
        return loss, fnp.mean(fnp.argmax(logits, axis=-1) == y)

    return train_step, evaluate


# ----------------------------------------------------------------------------- helpers

def progress_bar(done, total, width=20):
    filled = int(round(width * done / max(total, 1)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def save_plot(path, history):
    """Train vs validation loss and accuracy; skipped if matplotlib is missing."""
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
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    ax2.plot(epochs, history["acc"], label="train")
    ax2.plot(epochs, history["val_acc"], label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.axvline(history["best_epoch"], color="gray", ls="--", lw=1, label="best epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=100, help="maximum number of epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--hidden", type=int, default=256, help="width of the first hidden layer")
    p.add_argument("--dropout", type=float, default=0.2, help="probability of dropping a unit")
    p.add_argument("--patience", type=int, default=10,
                   help="epochs without a better validation loss to wait before stopping")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=HERE, help="where the plot and checkpoint go")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    p.add_argument("--quick", action="store_true", help="a few epochs only (used by tests)")
    args = p.parse_args(argv)
    max_epochs = 3 if args.quick else args.epochs

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = load_data(args.seed)
    print(f"digits: {len(x_tr)} train, {len(x_va)} validation, {len(x_te)} test images "
          f"of {x_tr.shape[1]} pixels")

    key = random.key(args.seed)
    key, init_key = random.split(key)
    init_fn, apply_fn = make_model(args.hidden, args.dropout)
    _, params = init_fn(init_key, (-1, x_tr.shape[1]))
    layers.summary(init_fn, (-1, x_tr.shape[1]))
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)
    train_step, evaluate = make_fns(apply_fn, opt)

    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "best_epoch": 0}
    best = (np.inf, params, opt_state)
    bad_epochs = 0
    n_batches = len(x_tr) // args.batch_size          # drop the ragged last batch
    t0 = time.perf_counter()
    for epoch in range(1, max_epochs + 1):
        key, perm_key = random.split(key)
        perm = np.asarray(random.permutation(perm_key, len(x_tr)))
        for i in range(n_batches):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            key, step_key = random.split(key)
            params, opt_state, _ = train_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        val_loss, val_acc = map(float, evaluate(params, x_va, y_va))
        for k, v in zip(("loss", "acc", "val_loss", "val_acc"), (loss, acc, val_loss, val_acc)):
            history[k].append(v)
        mark = ""
        if val_loss < best[0]:
            best, bad_epochs, mark = (val_loss, params, opt_state), 0, " *"
            history["best_epoch"] = epoch
        else:
            bad_epochs += 1
        print(f"epoch {epoch:3d}/{max_epochs} {progress_bar(epoch, max_epochs)} "
              f"loss {loss:.4f} acc {acc:.4f} | val_loss {val_loss:.4f} val_acc {val_acc:.4f} "
              f"| {time.perf_counter() - t0:5.1f}s{mark}")
        if bad_epochs and bad_epochs >= args.patience:
            print(f"early stopping: no better validation loss for {bad_epochs} epochs; "
                  f"restoring epoch {history['best_epoch']}")
            break
    train_time = time.perf_counter() - t0
    _, params, opt_state = best

    test_loss, test_acc = map(float, evaluate(params, x_te, y_te))
    print(f"test: loss {test_loss:.4f}  accuracy {test_acc:.4f}  "
          f"(best epoch {history['best_epoch']}, {train_time:.1f}s of training)")

    # checkpoint: parameters and optimizer state in one pytree, then reload and verify
    os.makedirs(args.out_dir, exist_ok=True)
    ckpt = os.path.join(args.out_dir, "mnist_mlp.fgz")
    fg.save(ckpt, {"params": params, "opt_state": opt_state, "key": key,
                   "epoch": history["best_epoch"]})     # enough to resume training
    restored = fg.load(ckpt)
    same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
               zip(fg.tree.leaves((params, opt_state)),
                   fg.tree.leaves((restored["params"], restored["opt_state"]))))
    same = same and (fg.tree.structure(restored["opt_state"]) ==
                     fg.tree.structure(opt_state))
    re_acc = float(evaluate(restored["params"], x_te, y_te)[1])
    ok = same and re_acc == test_acc
    print(f"checkpoint {ckpt}: reloaded {'OK' if ok else 'MISMATCH'} "
          f"(test accuracy {re_acc:.4f})")
    if not ok:
        raise RuntimeError("the reloaded checkpoint differs from the saved state")

    plot = None if args.no_plot else save_plot(os.path.join(args.out_dir, "mnist_mlp.png"),
                                               history)
    if plot:
        print(f"plot: {plot}")
    return {"test_accuracy": test_acc, "test_loss": test_loss, "epochs": len(history["loss"]),
            "best_epoch": history["best_epoch"], "train_time": train_time,
            "checkpoint": ckpt, "plot": plot}


if __name__ == "__main__":
    main()
