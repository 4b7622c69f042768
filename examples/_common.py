"""Plumbing shared by the scripts in examples/: command-line flags, data splits, mini-batches,
progress lines, best-epoch / early-stopping bookkeeping and optional matplotlib plots.

Not an example itself (tests/test_examples.py skips files starting with ``_``). Each example
makes it importable both when run as ``python examples/x.py`` and when loaded by path::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common

The model, loss and training step of every example stay in the example.
"""
import argparse
import os

import numpy as np

from funcgrad import random


# ----------------------------------------------------------------------------- flags

def make_parser(doc):
    """An ``ArgumentParser`` described by the first paragraph of ``doc``, showing defaults."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_common_args(p, quick_help="a few epochs only (used by tests)", out_dir=None,
                    out_help="where the plot goes"):
    """Add ``--seed``, then (when ``out_dir`` is given) ``--out-dir`` and ``--no-plot``,
    then ``--quick``."""
    p.add_argument("--seed", type=int, default=0)
    if out_dir is not None:
        p.add_argument("--out-dir", default=out_dir, help=out_help)
        p.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    p.add_argument("--quick", action="store_true", help=quick_help)


# ----------------------------------------------------------------------------- data

def split_train_val_test(x, y, seed, train=0.6, val=0.2):
    """Shuffle with ``seed`` and split into ``((x, y) train, (x, y) val, (x, y) test)``."""
    perm = np.random.default_rng(seed).permutation(len(x))
    n_train, n_val = int(train * len(x)), int(val * len(x))
    tr, va, te = np.split(perm, [n_train, n_train + n_val])
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


def standardize(reference, *arrays):
    """``arrays`` scaled to zero mean and unit variance with the per-feature statistics of
    ``reference`` only (so that nothing leaks from held-out data); returns a tuple."""
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    return tuple((a - mean) / std for a in arrays)


def minibatches(perm_key, n, batch_size, n_batches=None):
    """Index arrays of the mini-batches of one epoch over ``n`` examples, shuffled with the
    PRNG key ``perm_key``; the ragged last batch is dropped (``n_batches`` overrides the
    count ``n // batch_size``)."""
    perm = np.asarray(random.permutation(perm_key, n))
    if n_batches is None:
        n_batches = n // batch_size
    return [perm[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]


# ----------------------------------------------------------------------------- progress

def progress_bar(done, total, width=20):
    """A text bar such as ``[#####...............]`` for ``done`` out of ``total``."""
    filled = int(round(width * done / max(total, 1)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def metrics_line(loss, acc, other_loss, other_acc, other="val"):
    """``loss L acc A | val_loss L val_acc A`` (``other`` names the held-out set)."""
    return (f"loss {loss:.4f} acc {acc:.4f} | {other}_loss {other_loss:.4f} "
            f"{other}_acc {other_acc:.4f}")


class BestEpoch:
    """Keeps track of the epoch with the lowest validation loss and, with ``patience``, of
    when to stop early (after ``patience`` epochs in a row without improvement)."""

    def __init__(self, patience=None):
        self.patience = patience
        self.best_loss, self.best_epoch, self.bad_epochs = np.inf, 0, 0

    def update(self, loss, epoch):
        """Record this epoch's validation loss; True when it is the best so far."""
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def should_stop(self):
        """True when ``patience`` epochs have passed without a better validation loss."""
        return (self.patience is not None and self.bad_epochs > 0
                and self.bad_epochs >= self.patience)


# ----------------------------------------------------------------------------- plots

def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or None (and a message)
    when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return None
    return plt


def save_figure(plt, fig, path):
    """Lay out, write ``fig`` to ``path`` as a PNG at 100 dpi, close it; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_loss_accuracy(path, history, other="val", other_label="validation",
                       loss_label="cross-entropy", titles=("loss", "accuracy"), acc_ylim=None,
                       best_epoch=None):
    """Two panels, train vs held-out loss (log scale) and accuracy, from ``history`` keys
    ``loss``, ``acc``, ``<other>_loss`` and ``<other>_acc``; a dashed line marks
    ``best_epoch`` if given. Returns ``path``, or None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["loss"], label="train")
    ax1.plot(epochs, history[f"{other}_loss"], label=other_label)
    ax1.set(xlabel="epoch", ylabel=loss_label, title=titles[0], yscale="log")
    ax2.plot(epochs, history["acc"], label="train")
    ax2.plot(epochs, history[f"{other}_acc"], label=other_label)
    ax2.set(xlabel="epoch", ylabel="accuracy", title=titles[1])
    if acc_ylim is not None:
        ax2.set(ylim=acc_ylim)
    for ax in (ax1, ax2):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", ls="--", lw=1, label="best epoch")
        ax.legend()
    return save_figure(plt, fig, path)


def maybe_plot(args, filename, plot_fn):
    """Unless ``--no-plot``: create ``--out-dir``, call ``plot_fn(path)`` for
    ``<out-dir>/<filename>`` and print where the plot went. Returns the path or None."""
    if args.no_plot:
        return None
    os.makedirs(args.out_dir, exist_ok=True)
    plot = plot_fn(os.path.join(args.out_dir, filename))
    if plot:
        print(f"plot: {plot}")
    return plot
