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


def load_data(seed):
    """Digits as float32 NHWC images in [0, 1] of shape (n, 8, 8, 1); train/val/test."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]      # (n, 8, 8, 1)
    y = digits.target.astype(np.int32)
    return _common.split_train_val_test(x, y, seed)


def make_model(filters, dropout):
    return layers.serial(
        layers.Conv(filters, (3, 3), padding="SAME"), layers.Relu,      # 8x8xF
        layers.MaxPool((2, 2)),                                          # 4x4xF
        layers.Conv(2 * filters, (3, 3), padding="SAME"), layers.Relu,  # 4x4x2F
        layers.MaxPool((2, 2)),                                          # 2x2x2F
        layers.Flatten, layers.Dropout(dropout),
        layers.Dense(64), layers.Relu,
        layers.Dense(10))


def save_plot(path, history):
    return _common.plot_loss_accuracy(path, history, titles=("CNN loss", "CNN accuracy"))


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--filters", type=int, default=16, help="channels of the first conv")
    p.add_argument("--dropout", type=float, default=0.3, help="probability of dropping a unit")
    _common.add_common_args(p, out_dir=HERE)
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
    best, best_params = _common.BestEpoch(), params
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        key, perm_key = random.split(key)
        for idx in _common.minibatches(perm_key, len(x_tr), args.batch_size):
            key, step_key = random.split(key)
            params, opt_state, _ = train_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        val_loss, val_acc = map(float, evaluate(params, x_va, y_va))
        for k, v in zip(history, (loss, acc, val_loss, val_acc)):
            history[k].append(v)
        mark = ""
        if best.update(val_loss, epoch):
            best_params, mark = params, " *"
        print(f"epoch {epoch:3d}/{epochs} {_common.progress_bar(epoch, epochs)} "
              f"{_common.metrics_line(loss, acc, val_loss, val_acc)} "
              f"| {time.perf_counter() - t0:5.1f}s{mark}")
    train_time = time.perf_counter() - t0
    best_epoch = best.best_epoch

    test_loss, test_acc = map(float, evaluate(best_params, x_te, y_te))
    print(f"test: loss {test_loss:.4f}  accuracy {test_acc:.4f}  (best epoch {best_epoch}, "
          f"{train_time:.1f}s of training)")
    plot = _common.maybe_plot(args, "cnn.png", lambda path: save_plot(path, history))
    return {"test_accuracy": test_acc, "test_loss": test_loss, "best_epoch": best_epoch,
            "train_time": train_time, "plot": plot}


if __name__ == "__main__":
    main()
