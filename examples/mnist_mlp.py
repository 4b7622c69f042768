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
import os
import sys
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import layers, losses, optim, random

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402  (examples/_common.py: flags, batches, progress, plots)


# ----------------------------------------------------------------------------- data

def load_data(seed):
    """Digits as float32 in [0, 1], shape (n, 64), int32 labels; train/val/test split."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    return _common.split_train_val_test(x, y, seed)


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

def save_plot(path, history):
    """Train vs validation loss and accuracy; skipped if matplotlib is missing."""
    return _common.plot_loss_accuracy(path, history, best_epoch=history["best_epoch"])


# ----------------------------------------------------------------------------- main

def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--epochs", type=int, default=100, help="maximum number of epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--hidden", type=int, default=256, help="width of the first hidden layer")
    p.add_argument("--dropout", type=float, default=0.2, help="probability of dropping a unit")
    p.add_argument("--patience", type=int, default=10,
                   help="epochs without a better validation loss to wait before stopping")
    _common.add_common_args(p, out_dir=HERE, out_help="where the plot and checkpoint go")
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
    best, tracker = (params, opt_state), _common.BestEpoch(args.patience)
    t0 = time.perf_counter()
    for epoch in range(1, max_epochs + 1):
        key, perm_key = random.split(key)
        for idx in _common.minibatches(perm_key, len(x_tr), args.batch_size):  # drops ragged
            key, step_key = random.split(key)
            params, opt_state, _ = train_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        val_loss, val_acc = map(float, evaluate(params, x_va, y_va))
        for k, v in zip(("loss", "acc", "val_loss", "val_acc"), (loss, acc, val_loss, val_acc)):
            history[k].append(v)
        mark = ""
        if tracker.update(val_loss, epoch):
            best, mark = (params, opt_state), " *"
            history["best_epoch"] = epoch
        print(f"epoch {epoch:3d}/{max_epochs} {_common.progress_bar(epoch, max_epochs)} "
              f"{_common.metrics_line(loss, acc, val_loss, val_acc)} "
              f"| {time.perf_counter() - t0:5.1f}s{mark}")
        if tracker.should_stop():
            print(f"early stopping: no better validation loss for {tracker.bad_epochs} epochs; "
                  f"restoring epoch {history['best_epoch']}")
            break
    train_time = time.perf_counter() - t0
    params, opt_state = best

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

    plot = _common.maybe_plot(args, "mnist_mlp.png", lambda path: save_plot(path, history))
    return {"test_accuracy": test_acc, "test_loss": test_loss, "epochs": len(history["loss"]),
            "best_epoch": history["best_epoch"], "train_time": train_time,
            "checkpoint": ckpt, "plot": plot}


if __name__ == "__main__":
    main()
