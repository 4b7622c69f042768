"""``funcgrad.losses``: loss functions and weight penalties.

Every loss has the signature ``loss(predictions_or_logits, targets, *, reduction="mean")``
(optax's argument order) and works eagerly and under ``jit``, ``vmap`` and ``grad``.
Losses taking logits are computed from the logits directly (never through
``log(softmax(...))`` or ``log(sigmoid(...))``), so they stay finite, and their
gradients stay finite, for logits as large as +-1e4 in float32.

Reductions.  A loss first computes an elementwise loss (for the cross-entropies: one
value per example after summing over the class axis).  The *per-example* loss is its
mean over every axis but the leading (batch) one; ``reduction`` then gives

* ``"none"``: the per-example losses, shape ``(batch,)`` (a 0-d input stays 0-d),
* ``"mean"``: their mean (the default; equal to the mean over all elements),
* ``"sum"``: their sum (Keras' ``SUM`` convention: a sum over examples of per-example
  means, not a sum over every element).

>>> import funcgrad.numpy as fnp
>>> from funcgrad import losses
>>> losses.mean_squared_error(fnp.array([1.0, 2.0]), fnp.array([1.0, 4.0]))
Array(2.)
>>> logits = fnp.array([[1e4, 0.0], [0.0, 0.0]])
>>> losses.softmax_cross_entropy_with_integer_labels(logits, fnp.array([0, 1]),
...                                                  reduction="none")
Array([0.       , 0.6931472])
>>> losses.l2_penalty({"w": fnp.array([1.0, 2.0]), "b": fnp.array(3.0)})
Array(14.)
"""
from __future__ import annotations

import numpy as np

from . import lax
from . import nn
from . import numpy as fnp
from .core import dtypes, pytree
from .core.array import Array
from .core.trace import Tracer, get_aval
from .numpy._promote import promote

__all__ = ["mean_squared_error", "mean_absolute_error", "huber_loss",
           "binary_cross_entropy", "sigmoid_binary_cross_entropy", "softmax_cross_entropy",
           "softmax_cross_entropy_with_integer_labels", "l1_penalty", "l2_penalty"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"losses.{name}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")


def _reduce(loss, reduction):
    """Per-example mean over non-leading axes, then the requested reduction."""
    nd = get_aval(loss).ndim
    if nd > 1:
        loss = fnp.mean(loss, axis=tuple(range(1, nd)))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return fnp.sum(loss)
    return fnp.mean(loss)


def _pair(name, predictions, targets):
    """Promote both to one float dtype and check that their shapes broadcast."""
    p, t = fnp.asarray(predictions), fnp.asarray(targets)
    ps, ts = get_aval(p).shape, get_aval(t).shape
    try:
        np.broadcast_shapes(ps, ts)
    except ValueError:
        raise TypeError(f"losses.{name}: predictions of shape {ps} and targets of shape "
                        f"{ts} do not broadcast together") from None
    p, t = promote(f"losses.{name}", p, t, to_inexact=True)
    return p, t


def _c(v, x):
    return np.asarray(v, get_aval(x).dtype)[()]


# ----------------------------------------------------------------------------- regression

def mean_squared_error(predictions, targets, *, reduction="mean"):
    """``(predictions - targets) ** 2``, reduced.

    >>> losses.mean_squared_error(fnp.array([[0.0, 1.0]]), fnp.array([[1.0, 1.0]]),
    ...                           reduction="none")
    Array([0.5], dtype=float32)
    """
    _check_reduction(reduction, "mean_squared_error")
    p, t = _pair("mean_squared_error", predictions, targets)
    return _reduce(fnp.square(fnp.subtract(p, t)), reduction)


def mean_absolute_error(predictions, targets, *, reduction="mean"):
    """``|predictions - targets|``, reduced (its derivative at 0 is 0)."""
    _check_reduction(reduction, "mean_absolute_error")
    p, t = _pair("mean_absolute_error", predictions, targets)
    return _reduce(fnp.abs(fnp.subtract(p, t)), reduction)


def huber_loss(predictions, targets, delta=1.0, *, reduction="mean"):
    """Huber loss: ``0.5 e**2`` for ``|e| <= delta``, ``delta (|e| - 0.5 delta)`` beyond
    (``e = predictions - targets``; optax's definition).

    >>> losses.huber_loss(fnp.array([0.5, 3.0]), fnp.array([0.0, 0.0]), reduction="none")
    Array([0.125, 2.5  ], dtype=float32)
    """
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"losses.huber_loss: delta must be positive, got {delta}")
    p, t = _pair("huber_loss", predictions, targets)
    err = fnp.abs(fnp.subtract(p, t))
    quad = fnp.minimum(err, _c(delta, err))
    lin = fnp.subtract(err, quad)
    loss = fnp.add(fnp.multiply(_c(0.5, quad), fnp.square(quad)),
                   fnp.multiply(_c(delta, lin), lin))
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- classification

def binary_cross_entropy(probabilities, targets, *, eps=1e-7, reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` from probabilities ``p``, clipped to
    ``[eps, 1 - eps]`` so that it stays finite.  Prefer
    ``sigmoid_binary_cross_entropy`` when you have logits.

    >>> losses.binary_cross_entropy(fnp.array([0.9, 0.2]), fnp.array([1.0, 0.0]))
    Array(0.16425206, dtype=float32)
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p, t = _pair("binary_cross_entropy", probabilities, targets)
    p = fnp.clip(p, _c(eps, p), _c(1 - eps, p))
    one = _c(1, p)
    loss = fnp.negative(fnp.add(fnp.multiply(t, fnp.log(p)),
                                fnp.multiply(fnp.subtract(one, t), fnp.log1p(fnp.negative(p)))))
    return _reduce(loss, reduction)


def sigmoid_binary_cross_entropy(logits, targets, *, reduction="mean"):
    """Binary cross-entropy from logits: ``softplus(x) - x t`` (``t`` in [0, 1]).

    Stable for any logit; its gradient is ``sigmoid(x) - t``.

    >>> losses.sigmoid_binary_cross_entropy(fnp.array([1e4, -1e4]), fnp.array([1.0, 0.0]))
    Array(0., dtype=float32)
    """
    _check_reduction(reduction, "sigmoid_binary_cross_entropy")
    x, t = _pair("sigmoid_binary_cross_entropy", logits, targets)
    loss = fnp.subtract(nn.softplus(x), fnp.multiply(x, t))
    return _reduce(loss, reduction)


def softmax_cross_entropy(logits, labels, *, axis=-1, reduction="mean"):
    """Cross-entropy ``-sum(labels * log_softmax(logits))`` over the class ``axis``.

    ``labels`` are one-hot vectors or class probabilities of the logits' shape.
    Entries with label 0 contribute 0 even where a logit is ``-inf``.

    >>> losses.softmax_cross_entropy(fnp.array([[0.0, 0.0]]), fnp.array([[1.0, 0.0]]))
    Array(0.6931472, dtype=float32)
    """
    _check_reduction(reduction, "softmax_cross_entropy")
    x, y = fnp.asarray(logits), fnp.asarray(labels)
    xs, ys = get_aval(x).shape, get_aval(y).shape
    if len(xs) == 0:
        raise TypeError("losses.softmax_cross_entropy: logits need a class axis; got a "
                        "0-d array")
    try:
        np.broadcast_shapes(xs, ys)
    except ValueError:
        raise TypeError(f"losses.softmax_cross_entropy: logits of shape {xs} and labels of "
                        f"shape {ys} do not match (labels must be one-hot or probability "
                        "vectors of the logits' shape; for integer class indices use "
                        "softmax_cross_entropy_with_integer_labels)") from None
    x, y = promote("losses.softmax_cross_entropy", x, y, to_inexact=True)
    logp = nn.log_softmax(x, axis=axis)
    terms = fnp.where(fnp.equal(y, _c(0, y)), fnp.zeros_like(logp), fnp.multiply(y, logp))
    loss = fnp.negative(fnp.sum(terms, axis=axis))
    return _reduce(loss, reduction)


def softmax_cross_entropy_with_integer_labels(logits, labels, *, reduction="mean"):
    """Cross-entropy from logits ``(..., classes)`` and integer labels ``(...)``:
    ``logsumexp(logits) - logits[label]``.

    Raises ``TypeError`` for float labels or mismatched shapes, and ``ValueError`` for
    concrete labels outside ``[0, classes)`` (under ``jit`` they cannot be checked; an
    out-of-range label then gives the loss ``logsumexp(logits)``).

    >>> losses.softmax_cross_entropy_with_integer_labels(fnp.array([[2.0, 0.0]]),
    ...                                                  fnp.array([0]))
    Array(0.12692809, dtype=float32)
    """
    name = "softmax_cross_entropy_with_integer_labels"
    _check_reduction(reduction, name)
    x, y = fnp.asarray(logits), fnp.asarray(labels)
    xa, ya = get_aval(x), get_aval(y)
    if ya.dtype.kind not in "iu":
        raise TypeError(f"losses.{name}: labels must be integer class indices, got dtype "
                        f"{ya.dtype.name}. For one-hot or probability targets use "
                        "losses.softmax_cross_entropy.")
    if xa.ndim == 0 or ya.shape != xa.shape[:-1]:
        raise TypeError(f"losses.{name}: labels of shape {ya.shape} must have the shape of "
                        f"the logits without their last (class) axis; logits have shape "
                        f"{xa.shape}, so labels need shape {xa.shape[:-1] or 'a class axis'}")
    n = xa.shape[-1]
    if not isinstance(y, Tracer):
        v = np.asarray(y)
        if v.size and (v.min() < 0 or v.max() >= n):
            raise ValueError(f"losses.{name}: labels must lie in [0, {n}) for {n} classes; "
                             f"got values from {v.min()} to {v.max()}")
    if xa.dtype.kind != "f":
        x = lax.convert_element_type(x, dtypes.default_float_dtype())
    hot = nn.one_hot(y, n, dtype=np.bool_)
    label_logit = fnp.sum(fnp.where(hot, x, fnp.zeros_like(x)), axis=-1)
    loss = fnp.subtract(nn.logsumexp(x, axis=-1), label_logit)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- penalties

def _leaves(params, name):
    leaves = pytree.tree_leaves(params)
    out = []
    for leaf in leaves:
        if not isinstance(leaf, (Array, Tracer, np.ndarray, np.generic, int, float)):
            raise TypeError(f"losses.{name}: every leaf of params must be an array, got "
                            f"{type(leaf).__name__}")
        out.append(fnp.asarray(leaf))
    return out


def l1_penalty(params):
    """``sum(|leaf|)`` over every leaf of the pytree ``params`` (multiply by your
    coefficient).

    >>> losses.l1_penalty([fnp.array([-1.0, 2.0]), fnp.array([[3.0]])])
    Array(6., dtype=float32)
    """
    total = None
    for leaf in _leaves(params, "l1_penalty"):
        s = fnp.sum(fnp.abs(leaf))
        total = s if total is None else fnp.add(total, s)
    return fnp.zeros((), dtypes.default_float_dtype()) if total is None else total


def l2_penalty(params):
    """``sum(leaf ** 2)`` over every leaf of the pytree ``params`` (no 1/2 factor).

    >>> losses.l2_penalty((fnp.array([1.0, 2.0]),))
    Array(5., dtype=float32)
    """
    total = None
    for leaf in _leaves(params, "l2_penalty"):
        s = fnp.sum(fnp.square(leaf))
        total = s if total is None else fnp.add(total, s)
    return fnp.zeros((), dtypes.default_float_dtype()) if total is None else total
