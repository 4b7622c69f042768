"""Logistic regression on the breast-cancer data set: a binary classifier trained by
full-batch gradient descent, evaluated on a held-out test set.

The data is scikit-learn's bundled Wisconsin breast-cancer set (569 tumours, 30 features,
no download). 20% is held out as a test set (stratified, fixed seed); features are
standardized with the mean and standard deviation of the training set only.

    python examples/logistic_regression.py
    python examples/logistic_regression.py --epochs 500 --lr 0.5 --l2 1e-3

Writes ``logistic_regression.png`` (train vs test loss and accuracy) next to this script,
or in ``--out-dir``.
"""
import os
import sys
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import losses, nn, optim, random

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402  (examples/_common.py: flags, standardization, progress, plots)


def load_data(seed, test_fraction=0.2):
    """Standardized float32 features and float32 0/1 labels (1 = benign)."""
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    x, y = data.data.astype(np.float32), data.target.astype(np.float32)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))
                           [:int(round(test_fraction * np.sum(y == c)))] for c in (0, 1)])
    train = np.setdiff1d(np.arange(len(y)), test)
    train = rng.permutation(train)
    (x,) = _common.standardize(x[train], x)                    # training statistics only
    return (x[train], y[train]), (x[test], y[test]), list(data.feature_names)


def predict_logits(params, x):
    w, b = params
    return x @ w + b


def loss_fn(params, x, y, l2):
    logits = predict_logits(params, x)
    return losses.sigmoid_binary_cross_entropy(logits, y) + l2 * losses.l2_penalty(params[0])


def make_train_step(opt):
    @fg.jit
    def train_step(params, opt_state, x, y, l2):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y, l2)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss
    return train_step


@fg.jit
def evaluate(params, x, y):
    logits = predict_logits(params, x)
    accuracy = fnp.mean((logits > 0) == (y > 0.5))
    return losses.sigmoid_binary_cross_entropy(logits, y), accuracy


def save_plot(path, history):
    return _common.plot_loss_accuracy(path, history, other="test", other_label="test",
                                      loss_label="binary cross-entropy", acc_ylim=(0.85, 1.0))


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--epochs", type=int, default=300, help="full-batch gradient steps")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (momentum 0.9)")
    p.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the weights")
    _common.add_common_args(p, out_dir=HERE)
    args = p.parse_args(argv)
    epochs = 20 if args.quick else args.epochs

    (x_tr, y_tr), (x_te, y_te), names = load_data(args.seed)
    print(f"breast cancer: {len(x_tr)} train / {len(x_te)} test tumours, {x_tr.shape[1]} "
          f"standardized features; {y_te.mean():.0%} of the test set is benign")

    w = 0.01 * random.normal(random.key(args.seed), (x_tr.shape[1],))
    params = (w, fnp.zeros(()))
    opt = optim.sgd(args.lr, momentum=0.9)
    opt_state = opt.init(params)
    train_step = make_train_step(opt)

    history = {"loss": [], "acc": [], "test_loss": [], "test_acc": []}
    every = max(1, epochs // 15)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        params, opt_state, _ = train_step(params, opt_state, x_tr, y_tr, args.l2)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))
        test_loss, test_acc = map(float, evaluate(params, x_te, y_te))
        for k, v in zip(history, (loss, acc, test_loss, test_acc)):
            history[k].append(v)
        if epoch % every == 0 or epoch == epochs:
            print(f"epoch {epoch:4d}/{epochs} {_common.progress_bar(epoch, epochs)} "
                  f"{_common.metrics_line(loss, acc, test_loss, test_acc, other='test')} "
                  f"| {time.perf_counter() - t0:5.2f}s")
    train_time = time.perf_counter() - t0

    probs = np.asarray(nn.sigmoid(predict_logits(params, x_te)))
    pred = probs > 0.5
    tp, tn = np.sum(pred & (y_te == 1)), np.sum(~pred & (y_te == 0))
    fp, fn = np.sum(pred & (y_te == 0)), np.sum(~pred & (y_te == 1))
    test_acc = history["test_acc"][-1]
    print(f"test accuracy {test_acc:.4f} ({tp + tn}/{len(y_te)}); confusion: "
          f"{tn} true malignant, {tp} true benign, {fp} false benign, {fn} false malignant")
    w = np.asarray(params[0])
    top = np.argsort(-np.abs(w))[:5]
    print("largest weights: " + ", ".join(f"{names[i]} {w[i]:+.2f}" for i in top))
    plot = _common.maybe_plot(args, "logistic_regression.png",
                              lambda path: save_plot(path, history))
    return {"test_accuracy": test_acc, "test_loss": history["test_loss"][-1],
            "train_time": train_time, "plot": plot}


if __name__ == "__main__":
    main()
