"""Gradient transformations with optax's definitions and defaults."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import numpy as fnp
from ..core import dtypes, pytree
from ..core.trace import get_aval
from ._base import (EmptyState, GradientTransformation, bias_correction, global_norm,
                    resolve_mask, safe_int32_increment, tree_map, tree_zeros_like,
                    update_moment)


def _count0():
    return fnp.zeros((), fnp.int32)


# ----------------------------------------------------------------------------- scaling

class ScaleState(NamedTuple):
    pass


def scale(step_size) -> GradientTransformation:
    """Multiply updates by ``step_size``.

    >>> scale(-0.1).update({"w": fnp.ones(2)}, EmptyState())[0]
    {'w': Array([-0.1, -0.1], dtype=float32)}
    """
    def update(updates, state, params=None):
        return tree_map(lambda g: g * step_size, updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


class ScaleByScheduleState(NamedTuple):
    """Step count of ``scale_by_schedule``."""
    count: Any


def scale_by_schedule(step_size_fn) -> GradientTransformation:
    """Multiply updates by ``step_size_fn(count)``; ``count`` starts at 0.

    >>> opt = scale_by_schedule(exponential_decay(1.0, 10, 0.5))
    >>> opt.update({"w": fnp.ones(2)}, ScaleByScheduleState(count=10))[0]   # 0.5 ** (10 / 10)
    {'w': Array([0.5, 0.5], dtype=float32)}
    """
    def init(params):
        return ScaleByScheduleState(_count0())

    def update(updates, state, params=None):
        s = step_size_fn(state.count)
        updates = tree_map(lambda g: g * fnp.asarray(s, dtype=get_aval(g).dtype), updates)
        return updates, ScaleByScheduleState(safe_int32_increment(state.count))
    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, *, flip_sign=True) -> GradientTransformation:
    """``-learning_rate * updates`` (``learning_rate`` may be a schedule)."""
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    return scale(m * learning_rate)


# ----------------------------------------------------------------------------- moments

class TraceState(NamedTuple):
    """Momentum buffer of ``trace``."""
    trace: Any


def trace(decay, nesterov=False, accumulator_dtype=None) -> GradientTransformation:
    """Momentum: ``t = g + decay * t``; updates are ``t`` (or ``g + decay * t`` if nesterov)."""
    def init(params):
        return TraceState(tree_zeros_like(params, accumulator_dtype))

    def update(updates, state, params=None):
        f = lambda g, t: g + decay * t  # noqa: E731
        new_trace = tree_map(f, updates, state.trace)
        updates = tree_map(f, updates, new_trace) if nesterov else new_trace
        return updates, TraceState(new_trace)
    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    """Step count and first/second moments of ``scale_by_adam``."""
    count: Any
    mu: Any
    nu: Any


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
                  nesterov=False) -> GradientTransformation:
    """Adam's rescaling: ``m_hat / (sqrt(v_hat + eps_root) + eps)`` with bias correction.

    >>> opt = chain(scale_by_adam(), scale(-1e-3))
    """
    def init(params):
        return ScaleByAdamState(_count0(), tree_zeros_like(params, mu_dtype),
                                tree_zeros_like(params))

    def update(updates, state, params=None):
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_moment(updates, state.nu, b2, 2)
        count = safe_int32_increment(state.count)
        if nesterov:
            mu_hat = tree_map(
                lambda m, g: b1 * m + (1 - b1) * g,
                bias_correction(mu, b1, safe_int32_increment(count)),
                bias_correction(updates, b1, count))
        else:
            mu_hat = bias_correction(mu, b1, count)
        nu_hat = bias_correction(nu, b2, count)
        updates = tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return updates, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(init, update)


class ScaleByAdamaxState(NamedTuple):
    """Step count, first moment and infinity-norm moment of ``scale_by_adamax``."""
    count: Any
    mu: Any
    nu: Any


def scale_by_adamax(b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Adamax: infinity-norm second moment."""
    def init(params):
        return ScaleByAdamaxState(_count0(), tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        count = safe_int32_increment(state.count)
        mu = update_moment(updates, state.mu, b1, 1)
        nu = tree_map(lambda g, n: fnp.maximum(b2 * n, fnp.abs(g)), updates, state.nu)
        mu_hat = bias_correction(mu, b1, count)
        updates = tree_map(lambda m, v: m / (v + eps), mu_hat, nu)
        return updates, ScaleByAdamaxState(count, mu, nu)
    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    """Second-moment average of ``scale_by_rms``."""
    nu: Any


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0) -> GradientTransformation:
    """RMSProp's rescaling: ``g / sqrt(nu + eps)``."""
    def init(params):
        return ScaleByRmsState(tree_map(lambda p: fnp.full_like(p, initial_scale), params))

    def update(updates, state, params=None):
        nu = update_moment(updates, state.nu, decay, 2)
        updates = tree_map(lambda g, n: g / fnp.sqrt(n + eps), updates, nu)
        return updates, ScaleByRmsState(nu)
    return GradientTransformation(init, update)


class ScaleByRStdDevState(NamedTuple):
    """First and second moments of ``scale_by_stddev`` (centered RMSProp)."""
    mu: Any
    nu: Any


def scale_by_stddev(decay=0.9, eps=1e-8, initial_scale=0.0) -> GradientTransformation:
    """Centered RMSProp's rescaling: ``g / sqrt(nu - mu**2 + eps)``."""
    def init(params):
        return ScaleByRStdDevState(tree_zeros_like(params),
                                   tree_map(lambda p: fnp.full_like(p, initial_scale), params))

    def update(updates, state, params=None):
        mu = update_moment(updates, state.mu, decay, 1)
        nu = update_moment(updates, state.nu, decay, 2)
        updates = tree_map(lambda g, m, n: g / fnp.sqrt(n - m ** 2 + eps), updates, mu, nu)
        return updates, ScaleByRStdDevState(mu, nu)
    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    """Sum of squared gradients of ``scale_by_rss`` (Adagrad)."""
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad's rescaling: ``g / sqrt(sum of squared gradients + eps)``."""
    def init(params):
        return ScaleByRssState(tree_map(lambda p: fnp.full_like(p, initial_accumulator_value),
                                        params))

    def update(updates, state, params=None):
        ss = tree_map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        inv = tree_map(lambda s: fnp.where(s > 0, 1.0 / fnp.sqrt(s + eps), 0.0), ss)
        updates = tree_map(lambda i, g: i * g, inv, updates)
        return updates, ScaleByRssState(ss)
    return GradientTransformation(init, update)


class ScaleByAdaDeltaState(NamedTuple):
    """Running averages of squared gradients and updates of ``scale_by_adadelta``."""
    e_g: Any
    e_x: Any


def scale_by_adadelta(rho=0.9, eps=1e-6) -> GradientTransformation:
    """AdaDelta's rescaling."""
    def init(params):
        return ScaleByAdaDeltaState(tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        e_g = update_moment(updates, state.e_g, rho, 2)
        updates = tree_map(lambda g, cur, prev: g * fnp.sqrt(prev + eps) / fnp.sqrt(cur + eps),
                           updates, e_g, state.e_x)
        e_x = update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g, e_x)
    return GradientTransformation(init, update)


class ScaleByLionState(NamedTuple):
    """Step count and momentum of ``scale_by_lion``."""
    count: Any
    mu: Any


def scale_by_lion(b1=0.9, b2=0.99, mu_dtype=None) -> GradientTransformation:
    """Lion: ``sign((1-b1) g + b1 m)``, then ``m = b2 m + (1-b2) g``."""
    def init(params):
        return ScaleByLionState(_count0(), tree_zeros_like(params, mu_dtype))

    def update(updates, state, params=None):
        new = tree_map(lambda g, m: fnp.sign((1 - b1) * g + b1 * m), updates, state.mu)
        mu = update_moment(updates, state.mu, b2, 1)
        return new, ScaleByLionState(safe_int32_increment(state.count), mu)
    return GradientTransformation(init, update)


class ScaleByTrustRatioState(NamedTuple):
    pass


def scale_by_trust_ratio(min_norm=0.0, trust_coefficient=1.0, eps=0.0) -> GradientTransformation:
    """LAMB/LARS: scale each update by ``||param|| / ||update||``."""
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_trust_ratio needs params: call update(grads, state, "
                             "params)")

        def one(u, p):
            pn = fnp.maximum(fnp.sqrt(fnp.sum(p * p)), min_norm)
            un = fnp.sqrt(fnp.sum(u * u))
            ratio = trust_coefficient * pn / (un + eps)
            zero = fnp.logical_or(pn == 0.0, un == 0.0)
            return u * fnp.where(zero, 1.0, ratio)
        return tree_map(one, updates, params), state
    return GradientTransformation(lambda params: EmptyState(), update)


# ----------------------------------------------------------------------------- clipping, decay

def clip(max_delta) -> GradientTransformation:
    """Clip every update element to ``[-max_delta, max_delta]``."""
    def update(updates, state, params=None):
        return tree_map(lambda g: fnp.clip(g, -max_delta, max_delta), updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_global_norm(max_norm) -> GradientTransformation:
    """Rescale all updates together so their global L2 norm is at most ``max_norm``."""
    def update(updates, state, params=None):
        g_norm = global_norm(updates)
        trigger = g_norm < max_norm
        updates = tree_map(lambda g: fnp.where(trigger, g, (g / g_norm.astype(
            get_aval(g).dtype)) * max_norm), updates)
        return updates, state
    return GradientTransformation(lambda params: EmptyState(), update)


def add_decayed_weights(weight_decay=0.0, mask=None) -> GradientTransformation:
    """``updates + weight_decay * params`` (decoupled weight decay), optionally masked."""
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: call update(grads, state, "
                             "params)")
        return tree_map(lambda g, p: g + weight_decay * p, updates, params), state
    t = GradientTransformation(lambda params: EmptyState(), update)
    return masked(t, mask) if mask is not None else t


# ----------------------------------------------------------------------------- combinators

class MaskedState(NamedTuple):
    """Inner state of ``masked`` (over the masked leaves only)."""
    inner_state: Any


class MaskedNode(NamedTuple):
    """Stands in for a leaf that a mask excludes."""


def masked(inner: GradientTransformation, mask) -> GradientTransformation:
    """Apply ``inner`` only where ``mask`` (pytree of bools or callable of params) is True;
    other updates pass through unchanged.

    >>> opt = masked(add_decayed_weights(0.5), lambda p: {k: k != "b" for k in p})
    >>> params = {"w": fnp.ones(2), "b": fnp.ones(2)}
    >>> opt.update(params, opt.init(params), params)[0]     # no weight decay on "b"
    {'b': Array([1., 1.], dtype=float32), 'w': Array([1.5, 1.5], dtype=float32)}
    """
    def split(tree, m):
        leaves, td = pytree.tree_flatten(tree)
        ml = td.flatten_up_to(m)
        return leaves, td, [bool(x) for x in ml]

    def init(params):
        m = resolve_mask(mask, params)
        leaves, td, ml = split(params, m)
        sub = [l for l, k in zip(leaves, ml) if k]
        return MaskedState(inner.init(sub))

    def update(updates, state, params=None):
        m = resolve_mask(mask, params if params is not None else updates)
        leaves, td, ml = split(updates, m)
        sub = [l for l, k in zip(leaves, ml) if k]
        psub = None
        if params is not None:
            pl = td.flatten_up_to(params)
            psub = [l for l, k in zip(pl, ml) if k]
        new_sub, inner_state = inner.update(sub, state.inner_state, psub)
        it = iter(new_sub)
        out = [next(it) if k else l for l, k in zip(leaves, ml)]
        return td.unflatten(out), MaskedState(inner_state)
    return GradientTransformation(init, update)


class MultiTransformState(NamedTuple):
    """Per-label inner states of ``multi_transform``."""
    inner_states: Any


def multi_transform(transforms, param_labels) -> GradientTransformation:
    """Route each parameter to ``transforms[label]`` by ``param_labels`` (pytree or callable).

    >>> opt = multi_transform({"adam": adam(1e-3), "sgd": sgd(0.1)}, {"w": "adam", "b": "sgd"})
    >>> params = {"w": fnp.ones(2), "b": fnp.ones(2)}
    >>> opt.update(params, opt.init(params), params)[0]
    {'b': Array([-0.1, -0.1], dtype=float32), 'w': Array([-0.00099999, -0.00099999], dtype=float32)}
    """
    def labels_of(params):
        return param_labels(params) if callable(param_labels) else param_labels

    def init(params):
        labels = labels_of(params)
        missing = set(pytree.tree_leaves(labels)) - set(transforms)
        if missing:
            raise ValueError(f"multi_transform: labels {sorted(missing)} have no "
                             f"transformation (known: {sorted(transforms)})")
        return MultiTransformState({k: masked(t, _label_mask(labels, k)).init(params)
                                    for k, t in transforms.items()})

    def update(updates, state, params=None):
        labels = labels_of(params if params is not None else updates)
        new_states = {}
        for k, t in transforms.items():
            updates, new_states[k] = masked(t, _label_mask(labels, k)).update(
                updates, state.inner_states[k], params)
        return updates, MultiTransformState(new_states)
    return GradientTransformation(init, update)


def _label_mask(labels, key):
    return pytree.tree_map(lambda l: l == key, labels)


class InjectHyperparamsState(NamedTuple):
    """Step count, the (editable) ``hyperparams`` dict and the inner optimizer state of ``inject_hyperparams``."""
    count: Any
    hyperparams: dict
    inner_state: Any


def inject_hyperparams(inner_factory, static_args=(), hyperparam_dtype=None):
    """Make an optimizer's numeric hyperparameters part of its state, readable and editable.

    >>> opt = inject_hyperparams(adam)(learning_rate=1e-3)
    >>> state = opt.init({"w": fnp.ones(2)})
    >>> state.hyperparams["learning_rate"] = 1e-4      # takes effect at the next update
    """
    static_args = {static_args} if isinstance(static_args, str) else set(static_args)

    def wrapped(*args, **kwargs):
        import inspect
        sig = inspect.signature(inner_factory)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        all_args = dict(bound.arguments)
        sched = {k: v for k, v in all_args.items() if callable(v) and k not in static_args}
        numeric = {k: v for k, v in all_args.items()
                   if k not in static_args and k not in sched and _is_number(v)}
        other = {k: v for k, v in all_args.items() if k not in sched and k not in numeric}

        def current(count, hp):
            vals = dict(other)
            vals.update(hp)
            return vals

        def init(params):
            count = _count0()
            dt = hyperparam_dtype or dtypes.default_float_dtype()
            hp = {k: fnp.asarray(v, dtype=dt) for k, v in numeric.items()}
            hp.update({k: fnp.asarray(f(count), dtype=dt) for k, f in sched.items()})
            inner = inner_factory(**current(count, hp))
            return InjectHyperparamsState(count, hp, inner.init(params))

        def update(updates, state, params=None):
            hp = dict(state.hyperparams)
            dt = hyperparam_dtype or dtypes.default_float_dtype()
            hp.update({k: fnp.asarray(f(state.count), dtype=dt) for k, f in sched.items()})
            inner = inner_factory(**current(state.count, hp))
            updates, inner_state = inner.update(updates, state.inner_state, params)
            return updates, InjectHyperparamsState(safe_int32_increment(state.count), hp,
                                                   inner_state)
        return GradientTransformation(init, update)
    return wrapped


def _is_number(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float, np.number)):
        return True
    return hasattr(v, "shape") and get_aval(v).shape == () and get_aval(v).dtype.kind in "fiu"


class ApplyEvery(NamedTuple):
    """Step count and accumulated updates of ``apply_every``."""
    count: Any
    grad_acc: Any


def apply_every(k=1) -> GradientTransformation:
    """Accumulate updates and emit their sum every ``k`` steps (zeros in between)."""
    if k < 1:
        raise ValueError(f"apply_every: k must be >= 1, got {k}")

    def init(params):
        return ApplyEvery(_count0(), tree_zeros_like(params))

    def update(updates, state, params=None):
        c = state.count % k
        acc = c != 0
        grad_acc = tree_map(lambda g, ga: fnp.where(acc, ga, 0.0).astype(get_aval(g).dtype) + g,
                            updates, state.grad_acc)
        emit = c == (k - 1)
        updates = tree_map(lambda ga: fnp.where(emit, ga, fnp.zeros_like(ga)), grad_acc)
        return updates, ApplyEvery(safe_int32_increment(state.count) % k, grad_acc)
    return GradientTransformation(init, update)


__all__ = ["scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "scale_by_adam",
           "scale_by_adamax", "scale_by_rms", "scale_by_stddev", "scale_by_rss",
           "scale_by_adadelta", "scale_by_lion", "scale_by_trust_ratio", "clip",
           "clip_by_global_norm", "add_decayed_weights", "masked", "MaskedNode",
           "multi_transform", "inject_hyperparams", "apply_every", "ScaleByAdamState",
           "TraceState", "ScaleByScheduleState", "ScaleByRmsState", "ScaleByRssState",
           "InjectHyperparamsState", "MaskedState", "MultiTransformState", "ApplyEvery",
           "ScaleByLionState", "ScaleByAdamaxState", "ScaleByAdaDeltaState",
           "ScaleByRStdDevState", "EmptyState", "global_norm"]
