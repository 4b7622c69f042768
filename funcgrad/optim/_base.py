"""``GradientTransformation``, ``chain``, ``apply_updates`` and tree helpers."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core import pytree
from ..core.trace import get_aval


class GradientTransformation(NamedTuple):
    """A pair of pure functions: ``init(params) -> state`` and
    ``update(updates, state, params=None) -> (updates, state)`` (optax's interface).

    >>> opt, params, grads = sgd(0.1), {"w": fnp.ones(2)}, {"w": fnp.ones(2)}
    >>> state = opt.init(params)
    >>> updates, state = opt.update(grads, state, params)
    >>> apply_updates(params, updates)
    {'w': Array([0.9, 0.9], dtype=float32)}
    """
    init: Callable[[Any], Any]
    update: Callable[..., Any]


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def identity() -> GradientTransformation:
    """Leaves updates unchanged."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def tree_map(f, tree, *rest):
    return pytree.tree_map(f, tree, *rest)


def tree_zeros_like(tree, dtype=None):
    return tree_map(lambda x: fnp.zeros_like(x, dtype=dtype), tree)


def apply_updates(params, updates):
    """``params + updates`` leafwise, keeping each parameter's dtype.

    >>> apply_updates({"w": fnp.ones(2)}, {"w": fnp.full(2, -0.5)})
    {'w': Array([0.5, 0.5], dtype=float32)}
    """
    def add(p, u):
        if p is None:
            return None
        r = fnp.asarray(p) + u
        pd = get_aval(p).dtype if not isinstance(p, (int, float)) else None
        if pd is not None and get_aval(r).dtype != pd:
            r = lax.convert_element_type(r, pd)
        return r
    return tree_map(add, params, updates)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations in sequence; the state is the tuple of their states.

    >>> opt = chain(clip_by_global_norm(1.0), scale_by_adam(), scale(-1e-3))
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"chain: argument {i} is a {type(t).__name__}, not a "
                            "GradientTransformation")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f"chain: state has {len(state)} entries for {len(transforms)} "
                             "transformations; was it made by this optimizer's init?")
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def global_norm(updates):
    """The L2 norm of all leaves together."""
    leaves = pytree.tree_leaves(updates)
    if not leaves:
        return fnp.asarray(0.0)
    return fnp.sqrt(sum(fnp.sum(fnp.square(x)) for x in leaves))


def safe_int32_increment(count):
    """``count + 1`` that saturates instead of overflowing int32."""
    big = np.iinfo(np.int32).max
    return fnp.where(count < big, count + 1, count)


def bias_correction(moment, decay, count):
    """``moment / (1 - decay ** count)`` (Adam's bias correction)."""
    def one(t):
        dt = get_aval(t).dtype
        return t / (1 - decay ** fnp.asarray(count).astype(dt))
    return tree_map(one, moment)


def update_moment(updates, moments, decay, order):
    return tree_map(lambda g, t: (1 - decay) * (g ** order) + decay * t, updates, moments)


def resolve_mask(mask, params):
    """A pytree of bools from ``mask`` (a pytree of bools, or a callable of params)."""
    return mask(params) if callable(mask) else mask
