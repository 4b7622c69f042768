"""Predict the next value of noisy sine waves with an LSTM (``layers.LSTM``, which runs
its cell with ``lax.scan``), reporting the validation MSE as it falls.

Each sequence is a sine wave of random frequency, amplitude and phase plus Gaussian noise.
At every time step the model sees the values so far and predicts the next one, so it has to
infer the wave's frequency and phase from the sequence: early steps are hard, later ones
easy. For reference the script prints the MSE of two simple predictors (repeat the last
value; the clean next value, which is as good as any predictor can be on average) on the
same validation set.

    python examples/lstm.py
    python examples/lstm.py --epochs 40 --hidden 64 --noise 0.05

Writes ``lstm.png`` (loss curves and a validation wave with its predictions) next to this
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


def make_waves(rng, n, length, noise):
    """``n`` noisy waves of ``length + 1`` steps: (noisy, clean), float32, shape (n, length+1)."""
    t = np.arange(length + 1)
    freq = rng.uniform(0.02, 0.1, (n, 1))              # cycles per step
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.5, 1.5, (n, 1))
    clean = amp * np.sin(2 * np.pi * freq * t + phase)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32), clean.astype(np.float32)


def as_pairs(waves):
    """Inputs (batch, time, 1) and next-value targets (batch, time, 1)."""
    return waves[:, :-1, None], waves[:, 1:, None]


def save_plot(path, history, example):
    plt = _common.pyplot()
    if plt is None:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ep = np.arange(1, len(history["loss"]) + 1)
    ax1.plot(ep, history["loss"], label="train")
    ax1.plot(ep, history["val_loss"], label="validation")
    ax1.axhline(history["last_value_mse"], color="gray", ls=":", label="repeat last value")
    ax1.axhline(history["oracle_mse"], color="gray", ls="--", label="clean next value")
    ax1.set(xlabel="epoch", ylabel="MSE", yscale="log", title="next-value MSE")
    ax1.legend()
    noisy, clean, pred = example
    t = np.arange(len(noisy))
    ax2.plot(t, noisy, ".", color="gray", ms=4, label="noisy input")
    ax2.plot(t, clean, color="black", lw=1, label="clean wave")
    ax2.plot(t[1:], pred, color="C1", label="LSTM prediction of the next value")
    ax2.set(xlabel="time step", title="a validation sequence")
    ax2.legend(fontsize=8)
    return _common.save_figure(plt, fig, path)


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--hidden", type=int, default=32, help="LSTM units")
    p.add_argument("--length", type=int, default=50, help="time steps per sequence")
    p.add_argument("--train", type=int, default=1000, help="training sequences")
    p.add_argument("--noise", type=float, default=0.1, help="noise standard deviation")
    _common.add_common_args(p, quick_help="small data, 2 epochs (used by tests)", out_dir=HERE)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.train, args.length, args.hidden = 2, 200, 20, 8

    rng = np.random.default_rng(args.seed)
    n_val = max(args.train // 5, args.batch_size)
    noisy, clean = make_waves(rng, args.train + n_val, args.length, args.noise)
    x_tr, y_tr = as_pairs(noisy[:args.train])
    x_va, y_va = as_pairs(noisy[args.train:])
    last_value_mse = float(np.mean((x_va - y_va) ** 2))
    oracle_mse = float(np.mean((clean[args.train:, 1:, None] - y_va) ** 2))
    print(f"{args.train} train / {n_val} validation waves of {args.length} steps; reference "
          f"MSEs: repeat last value {last_value_mse:.4f}, clean next value {oracle_mse:.4f}")

    init_fn, apply_fn = layers.serial(layers.LSTM(args.hidden), layers.Dense(1))
    key, init_key = random.split(random.key(args.seed))
    _, params = init_fn(init_key, (-1, args.length, 1))
    layers.summary(init_fn, (-1, args.length, 1))
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)

    def loss_fn(params, x, y):
        return losses.mean_squared_error(apply_fn(params, x), y)

    @fg.jit
    def train_step(params, opt_state, x, y):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    @fg.jit
    def evaluate(params, x, y):
        err = (apply_fn(params, x) - y) ** 2
        half = x.shape[1] // 2
        return fnp.mean(err), fnp.mean(err[:, half:])   # all steps; second half only

    history = {"loss": [], "val_loss": [], "last_value_mse": last_value_mse,
               "oracle_mse": oracle_mse}
    n_batches = args.train // args.batch_size
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        key, perm_key = random.split(key)
        total = 0.0
        for idx in _common.minibatches(perm_key, args.train, args.batch_size):
            params, opt_state, loss = train_step(params, opt_state, x_tr[idx], y_tr[idx])
            total += float(loss)
        val_mse, val_late = map(float, evaluate(params, x_va, y_va))
        history["loss"].append(total / n_batches)
        history["val_loss"].append(val_mse)
        print(f"epoch {epoch:3d}/{args.epochs} {_common.progress_bar(epoch, args.epochs)} "
              f"loss {history['loss'][-1]:.4f} | val_mse {val_mse:.4f} "
              f"(second half of each wave {val_late:.4f}) | {time.perf_counter() - t0:5.1f}s")
    train_time = time.perf_counter() - t0
    first, last = history["val_loss"][0], history["val_loss"][-1]
    print(f"validation MSE fell from {first:.4f} (epoch 1) to {last:.4f} (epoch {args.epochs}); "
          f"repeat-last-value {last_value_mse:.4f}, clean next value {oracle_mse:.4f}; "
          f"{train_time:.1f}s")

    def plot_fn(path):
        pred = np.asarray(apply_fn(params, x_va[:1]))[0, :, 0]
        example = (noisy[args.train], clean[args.train], pred)
        return save_plot(path, history, example)

    plot = _common.maybe_plot(args, "lstm.png", plot_fn)
    return {"val_mse": history["val_loss"], "last_value_mse": last_value_mse,
            "oracle_mse": oracle_mse, "train_time": train_time, "plot": plot}


if __name__ == "__main__":
    main()
