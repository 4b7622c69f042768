"""Fighting overfitting on a bag-of-words classifier: small vs large model, an L2 weight
penalty, dropout, and early stopping, compared by their validation-loss curves.

The task is synthetic and reproducible (``--seed``): "reviews" are multi-hot vectors over a
vocabulary of ``--vocab`` words with Zipf-like frequencies; a few hundred words carry a
hidden sentiment weight and a review's label is drawn with probability
``sigmoid(5 * standardized sentiment)``, so even the true rule misclassifies about 10%
(the "Bayes accuracy" printed at the start). With only a few thousand training reviews, a
wide network memorizes them in a few epochs and its validation loss climbs again; the
small model, the L2 penalty (``losses.l2_penalty``) and dropout push that point back, and
early stopping keeps the best epoch.

    python examples/regularization.py
    python examples/regularization.py --epochs 30 --large 512 --l2 3e-4 --dropout 0.3

Writes ``regularization.png`` (validation loss of every model, by epoch) next to this
script, or in ``--out-dir``.
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

def make_reviews(seed, n, vocab=1000, informative=300, mean_words=70, sharpness=5.0):
    """Multi-hot float32 reviews (n, vocab), 0/1 float32 labels and the true probabilities."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / (np.arange(vocab) + 10.0)                  # Zipf-like word frequencies
    freq /= freq.sum()
    weight = np.zeros(vocab)                                 # the hidden sentiment of words
    weight[rng.choice(vocab, informative, replace=False)] = rng.normal(size=informative)
    lengths = rng.poisson(mean_words, n) + 5
    words = rng.choice(vocab, lengths.sum(), p=freq)
    x = np.zeros((n, vocab), np.float32)
    x[np.repeat(np.arange(n), lengths), words] = 1.0        # multi-hot: did the word occur?
    score = x @ weight
    prob = 1.0 / (1.0 + np.exp(-sharpness * (score - score.mean()) / score.std()))
    y = (rng.random(n) < prob).astype(np.float32)
    return x, y, prob


# ----------------------------------------------------------------------------- model

def make_model(hidden, dropout):
    block = [layers.Dense(hidden), layers.Relu] + ([layers.Dropout(dropout)] if dropout else [])
    return layers.serial(*block, *block, layers.Dense(1))


def kernels(params):
    """The weight matrices of the Dense layers (``serial`` params are one tuple per layer;
    Dense's is ``(W, b)``, activations and dropout have ``()``): biases are not penalized."""
    return [layer[0] for layer in params if layer]


def fit(name, config, data, args, key, patience=None):
    """Train one configuration; returns its history (and stops early with ``patience``)."""
    (x_tr, y_tr), (x_va, y_va) = data
    init_fn, apply_fn = make_model(config["hidden"], config.get("dropout", 0.0))
    key, init_key = random.split(key)
    _, params = init_fn(init_key, (-1, x_tr.shape[1]))
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)
    l2 = config.get("l2", 0.0)

    def loss_fn(params, x, y, rng):
        logits = apply_fn(params, x, rng=rng, train=True)[:, 0]
        return (losses.sigmoid_binary_cross_entropy(logits, y)
                + l2 * losses.l2_penalty(kernels(params)))

    @fg.jit
    def train_step(params, opt_state, x, y, rng):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y, rng)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    @fg.jit
    def evaluate(params, x, y):
        logits = apply_fn(params, x)[:, 0]
        return (losses.sigmoid_binary_cross_entropy(logits, y),
                fnp.mean((logits > 0) == (y > 0.5)))

    hist = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "best_epoch": 0,
            "evaluate": evaluate}
    tracker = _common.BestEpoch(patience)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        key, perm_key = random.split(key)
        for idx in _common.minibatches(perm_key, len(x_tr), args.batch_size):
            key, step_key = random.split(key)
            params, opt_state, _ = train_step(params, opt_state, x_tr[idx], y_tr[idx],
                                              step_key)
        loss, acc = map(float, evaluate(params, x_tr, y_tr))    # data loss, no penalty
        val_loss, val_acc = map(float, evaluate(params, x_va, y_va))
        for k, v in zip(("loss", "acc", "val_loss", "val_acc"), (loss, acc, val_loss, val_acc)):
            hist[k].append(v)
        mark = ""
        if tracker.update(val_loss, epoch):
            mark = " *"
            hist["best_epoch"], hist["best_params"] = epoch, params
        print(f"[{name:>15}] epoch {epoch:2d}/{args.epochs} "
              f"{_common.progress_bar(epoch, args.epochs)} "
              f"{_common.metrics_line(loss, acc, val_loss, val_acc)} "
              f"| {time.perf_counter() - t0:5.1f}s{mark}")
        if tracker.should_stop():
            print(f"[{name:>15}] early stopping: validation loss has not improved for "
                  f"{tracker.bad_epochs} epochs; keeping epoch {hist['best_epoch']}")
            break
    hist["time"] = time.perf_counter() - t0
    return hist


def save_plot(path, runs, epochs):
    plt = _common.pyplot()
    if plt is None:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, h in runs.items():
        ep = np.arange(1, len(h["val_loss"]) + 1)
        (line,) = ax1.plot(ep, h["val_loss"], marker="o", ms=3, label=name)
        ax1.plot(h["best_epoch"], h["val_loss"][h["best_epoch"] - 1], "*", ms=12,
                 color=line.get_color())
        ax2.plot(ep, h["loss"], color=line.get_color(), label=name)
    ax1.set(xlabel="epoch", ylabel="binary cross-entropy", xlim=(0.5, epochs + 0.5),
            title="validation loss (star: best epoch)")
    ax2.set(xlabel="epoch", ylabel="binary cross-entropy", yscale="log",
            title="training loss (data term)")
    ax1.legend()
    ax2.legend()
    return _common.save_figure(plt, fig, path)


# ----------------------------------------------------------------------------- main

def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--vocab", type=int, default=1000, help="vocabulary size (input width)")
    p.add_argument("--train", type=int, default=4000, help="training reviews")
    p.add_argument("--small", type=int, default=4, help="hidden width of the small model")
    p.add_argument("--large", type=int, default=256, help="hidden width of the large model")
    p.add_argument("--l2", type=float, default=1e-3, help="L2 penalty coefficient")
    p.add_argument("--dropout", type=float, default=0.5, help="probability of dropping a unit")
    p.add_argument("--patience", type=int, default=3,
                   help="early stopping: epochs to wait for a better validation loss")
    _common.add_common_args(p, quick_help="tiny data, narrow models, 2 epochs (used by tests)",
                            out_dir=HERE)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.vocab, args.train, args.large = 2, 200, 512, 32
        args.batch_size = min(args.batch_size, 128)

    n_val, n_test = args.train // 2, args.train
    x, y, prob = make_reviews(args.seed, args.train + n_val + n_test, vocab=args.vocab,
                              informative=int(0.3 * args.vocab))
    splits = np.split(np.arange(len(y)), [args.train, args.train + n_val])
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = [(x[s], y[s]) for s in splits]
    bayes = float(np.mean((prob[splits[2]] > 0.5) == y_te))
    print(f"{args.train} train / {n_val} validation / {n_test} test reviews over a "
          f"{args.vocab}-word vocabulary, {x_tr.sum(1).mean():.0f} distinct words per review; "
          f"{y_tr.mean():.0%} positive; Bayes accuracy on the test set {bayes:.3f}")

    configs = {
        f"small ({args.small})": {"hidden": args.small},
        f"large ({args.large})": {"hidden": args.large},
        "large + L2": {"hidden": args.large, "l2": args.l2},
        "large + dropout": {"hidden": args.large, "dropout": args.dropout},
    }
    key = random.key(args.seed)
    data = ((x_tr, y_tr), (x_va, y_va))
    runs = {}
    t0 = time.perf_counter()
    for name, config in configs.items():
        runs[name] = fit(name, config, data, args, key)    # same init key: a fair comparison

    # the workflow's last step: the regularized large model, trained with early stopping
    name = "L2+dropout+ES"
    final = fit(name, {"hidden": args.large, "l2": args.l2, "dropout": args.dropout}, data,
                args, key, patience=args.patience)
    total = time.perf_counter() - t0

    print("\nmodel              best epoch  best val_loss  last val_loss  test acc (best epoch)")
    results = {}
    for name, h in list(runs.items()) + [("L2+dropout+ES", final)]:
        _, test_acc = map(float, h["evaluate"](h["best_params"], x_te, y_te))
        results[name] = {"best_epoch": h["best_epoch"], "best_val_loss": min(h["val_loss"]),
                         "last_val_loss": h["val_loss"][-1], "test_accuracy": test_acc}
        print(f"{name:<18} {h['best_epoch']:10d}  {min(h['val_loss']):13.4f}  "
              f"{h['val_loss'][-1]:13.4f}  {test_acc:8.4f}")
    print(f"({total:.1f}s in all; Bayes accuracy {bayes:.3f})")

    runs["L2+dropout+ES"] = final
    plot = _common.maybe_plot(args, "regularization.png",
                              lambda path: save_plot(path, runs, args.epochs))
    return {"results": results, "bayes_accuracy": bayes, "time": total, "plot": plot}


if __name__ == "__main__":
    main()
