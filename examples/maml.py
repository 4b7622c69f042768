"""MAML on sine-wave regression: differentiate through an inner optimisation loop.

Model-agnostic meta-learning (Finn et al., 2017) looks for initial parameters from which a
few SGD steps on a handful of points fit a *new* task well. Each task is a sine wave
``a * sin(x - phase)`` with random amplitude and phase; the inner loop takes
``--inner-steps`` SGD steps on K "support" points, the outer (meta) loss is the error of
the adapted model on K other "query" points of the same task, and ``grad`` of the outer
loss with respect to the *initial* parameters flows back through every inner step (second
derivatives included; ``--first-order`` stops them, giving FOMAML). Tasks of a meta-batch
are handled at once with ``vmap``; task sampling uses explicit PRNG keys inside the jitted
step.

    python examples/maml.py
    python examples/maml.py --iterations 5000 --inner-steps 5 --first-order

Writes ``maml.png`` (the meta-loss curve and a new task fitted from 10 points) next to this
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
import _common  # noqa: E402  (examples/_common.py: flags, progress, plots)

init_fn, apply_fn = layers.serial(layers.Dense(40), layers.Relu, layers.Dense(40), layers.Relu,
                                  layers.Dense(1))


def sample_tasks(key, n_tasks, k):
    """``n_tasks`` sine tasks, each with ``k`` support and ``k`` query points of shape (k, 1)."""
    k_amp, k_phase, k_x = random.split(key, 3)
    amp = random.uniform(k_amp, (n_tasks, 1, 1), minval=0.1, maxval=5.0)
    phase = random.uniform(k_phase, (n_tasks, 1, 1), minval=0.0, maxval=np.pi)
    x = random.uniform(k_x, (n_tasks, 2 * k, 1), minval=-5.0, maxval=5.0)
    y = amp * fnp.sin(x - phase)
    return x[:, :k], y[:, :k], x[:, k:], y[:, k:]


def mse(params, x, y):
    return losses.mean_squared_error(apply_fn(params, x), y)


def adapt(params, x, y, inner_lr, inner_steps, first_order=False):
    """The inner loop: a few plain SGD steps on the support set of one task."""
    for _ in range(inner_steps):
        g = fg.grad(mse)(params, x, y)
        if first_order:
            g = fg.tree.map(fg.stop_gradient, g)
        params = fg.tree.map(lambda p, gi: p - inner_lr * gi, params, g)
    return params


def maml_loss(params, x_s, y_s, x_q, y_q, inner_lr, inner_steps, first_order):
    """The outer loss of one task: query error after adapting on the support set."""
    return mse(adapt(params, x_s, y_s, inner_lr, inner_steps, first_order), x_q, y_q)


def save_plot(path, history, demo):
    plt = _common.pyplot()
    if plt is None:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    it, loss = np.asarray(history["iteration"]), np.asarray(history["meta_loss"])
    ax1.plot(it, loss)
    ax1.set(xlabel="meta-iteration", ylabel="query MSE after adaptation", yscale="log",
            title="meta-loss")
    xs, truth, x_s, y_s, before, after = demo
    ax2.plot(xs, truth, color="black", lw=1, label="true task")
    ax2.plot(x_s, y_s, "o", color="black", label="support points")
    ax2.plot(xs, before, ls="--", label="meta-learned init")
    ax2.plot(xs, after, label="after 10 inner SGD steps")
    ax2.set(xlabel="x", title="adapting to a new task")
    ax2.legend(fontsize=8)
    return _common.save_figure(plt, fig, path)


def main(argv=None):
    p = _common.make_parser(__doc__)
    p.add_argument("--iterations", type=int, default=2000, help="meta-iterations")
    p.add_argument("--tasks", type=int, default=25, help="tasks per meta-batch")
    p.add_argument("--k", type=int, default=10, help="support (and query) points per task")
    p.add_argument("--inner-steps", type=int, default=1)
    p.add_argument("--inner-lr", type=float, default=0.01)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam meta learning rate")
    p.add_argument("--first-order", action="store_true", help="FOMAML: no second derivatives")
    p.add_argument("--report-every", type=int, default=200, help="iterations per report")
    _common.add_common_args(p, quick_help="a few iterations (used by tests)", out_dir=HERE)
    args = p.parse_args(argv)
    if args.quick:
        args.iterations, args.tasks, args.report_every = 20, 5, 5

    key, init_key, eval_key = random.split(random.key(args.seed), 3)
    _, params = init_fn(init_key, (-1, 1))
    init_params = params
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)
    inner = (args.inner_lr, args.inner_steps, args.first_order)

    def batch_loss(params, tasks):
        per_task = fg.vmap(maml_loss, in_axes=(None, 0, 0, 0, 0, None, None, None))
        return fnp.mean(per_task(params, *tasks, *inner))

    @fg.jit
    def meta_step(params, opt_state, key):
        tasks = sample_tasks(key, args.tasks, args.k)
        loss, grads = fg.value_and_grad(batch_loss)(params, tasks)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    @fg.jit
    def evaluate(params, tasks):
        """Query MSE before and after 1, 5 and 10 inner steps, averaged over tasks."""
        out = [fnp.mean(fg.vmap(mse, in_axes=(None, 0, 0))(params, tasks[2], tasks[3]))]
        for steps in (1, 5, 10):
            out.append(fnp.mean(fg.vmap(maml_loss, in_axes=(None, 0, 0, 0, 0, None, None,
                                                            None))(
                params, *tasks, args.inner_lr, steps, False)))
        return fnp.stack(out)

    eval_tasks = sample_tasks(eval_key, 200, args.k)
    order = "first-order" if args.first_order else "second-order"
    print(f"MAML ({order}): {args.tasks} tasks per meta-batch, K = {args.k}, "
          f"{args.inner_steps} inner SGD step(s) of lr {args.inner_lr}")
    history = {"iteration": [], "meta_loss": []}
    window = []
    t0 = time.perf_counter()
    for it in range(1, args.iterations + 1):
        key, step_key = random.split(key)
        params, opt_state, loss = meta_step(params, opt_state, step_key)
        window.append(loss)
        if it % args.report_every == 0 or it == args.iterations:
            meta_loss = float(np.mean([float(v) for v in window]))
            window = []
            history["iteration"].append(it)
            history["meta_loss"].append(meta_loss)
            bar = _common.progress_bar(it, args.iterations)
            print(f"iteration {it:5d}/{args.iterations} {bar} "
                  f"meta-loss {meta_loss:.4f} | {time.perf_counter() - t0:5.1f}s")
    train_time = time.perf_counter() - t0

    print("query MSE on 200 new tasks  (0, 1, 5, 10 inner steps)")
    before = np.asarray(evaluate(init_params, eval_tasks))
    after = np.asarray(evaluate(params, eval_tasks))
    print("  random init:        " + "  ".join(f"{v:7.3f}" for v in before))
    print("  meta-learned init:  " + "  ".join(f"{v:7.3f}" for v in after))
    print(f"meta-loss fell from {history['meta_loss'][0]:.4f} to {history['meta_loss'][-1]:.4f} "
          f"in {train_time:.1f}s")

    def plot_fn(path):
        x_s, y_s = np.asarray(eval_tasks[0][0]), np.asarray(eval_tasks[1][0])
        # a * sin(x - phase) = c1 sin(x) - c2 cos(x): recover c1, c2 from the support points
        amp_phase = np.linalg.lstsq(np.c_[np.sin(x_s[:, 0]), -np.cos(x_s[:, 0])], y_s[:, 0],
                                    rcond=None)[0]
        xs = np.linspace(-5, 5, 200, dtype=np.float32)[:, None]
        truth = amp_phase[0] * np.sin(xs[:, 0]) - amp_phase[1] * np.cos(xs[:, 0])
        adapted = adapt(params, x_s, y_s, args.inner_lr, 10)
        demo = (xs[:, 0], truth, x_s[:, 0], y_s[:, 0], np.asarray(apply_fn(params, xs))[:, 0],
                np.asarray(apply_fn(adapted, xs))[:, 0])
        return save_plot(path, history, demo)

    plot = _common.maybe_plot(args, "maml.png", plot_fn)
    return {"meta_loss": history["meta_loss"], "eval_before": before.tolist(),
            "eval_after": after.tolist(), "train_time": train_time, "plot": plot}


if __name__ == "__main__":
    main()
