"""``funcgrad.nn``: activation functions and helpers for neural networks (``jax.nn``).

Every function works on arrays of any shape, eagerly and under ``jit``, ``vmap`` and
``grad``, and is numerically stable: ``sigmoid``, ``softplus``, ``log_softmax`` and
``logsumexp`` neither overflow nor lose precision for large ``|x|`` and have finite
gradients everywhere (checked at +-1e4).  Conventions follow JAX: ``relu'(0) = 0``,
``gelu`` uses the tanh approximation unless ``approximate=False``.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> from funcgrad import nn
>>> nn.softmax(fnp.array([1.0, 2.0, 3.0]))
Array([0.09003057, 0.24472846, 0.66524094])
>>> fg.grad(lambda x: nn.relu(x))(0.0)
Array(0., weak_type=True)
>>> nn.logsumexp(fnp.array([1000.0, 1000.0]))
Array(1000.6932)
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..core import dtypes
from ..core.array import Array
from ..core.trace import _state, get_aval
from ..interpreters.custom import custom_jvp
from ..numpy._promote import promote
from . import initializers  # noqa: F401

__all__ = ["relu", "relu6", "sigmoid", "log_sigmoid", "tanh", "softmax", "log_softmax",
           "logsumexp", "gelu", "silu", "swish", "elu", "leaky_relu", "softplus",
           "soft_sign", "hard_tanh", "hard_sigmoid", "hard_silu", "hard_swish", "celu",
           "selu", "glu", "standardize", "normalize", "one_hot", "initializers"]


def _float(x, name):
    """``x`` as an array; integers and booleans are promoted to the default float."""
    x = fnp.asarray(x)
    if get_aval(x).dtype.kind not in "fc":
        x = lax.convert_element_type(x, dtypes.default_float_dtype())
    return x


def _num(x):
    return fnp.asarray(x)


def _c(v, x):
    """A scalar constant of ``x``'s dtype."""
    return np.asarray(v, x._value.dtype if type(x) is Array else get_aval(x).dtype)[()]


# ----------------------------------------------------------------------------- rectifiers

@custom_jvp
def _relu(x):
    return fnp.maximum(x, _c(0, x))


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    # a multiply by the 0/1 mask: as exact as a select, and a plain fusable ufunc
    mask = lax.convert_element_type(x > _c(0, x), get_aval(t).dtype)
    return _relu(x), t * mask


def relu(x):
    """Rectified linear unit ``max(x, 0)``; its derivative at 0 is 0 (as JAX).

    >>> nn.relu(fnp.array([-1.0, 0.0, 2.0]))
    Array([0., 0., 2.], dtype=float32)
    """
    x = _num(x)
    if type(x) is Array and _state.dynamic is None:
        return _relu.fun(x)     # what the custom_jvp wrapper runs outside transformations
    return _relu(x)


@custom_jvp
def _relu6(x):
    return fnp.minimum(fnp.maximum(x, _c(0, x)), _c(6, x))


@_relu6.defjvp
def _relu6_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    inside = fnp.logical_and(x > _c(0, x), x < _c(6, x))
    return _relu6(x), t * lax.convert_element_type(inside, get_aval(t).dtype)


def relu6(x):
    """``min(max(x, 0), 6)``; derivative 0 at 0 and at 6 (as JAX).

    >>> nn.relu6(fnp.array([-1.0, 3.0, 9.0]))
    Array([0., 3., 6.], dtype=float32)
    """
    return _relu6(_num(x))


def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x >= 0``, else ``negative_slope * x``.

    >>> nn.leaky_relu(fnp.array([-2.0, 3.0]), 0.1)
    Array([-0.2,  3. ], dtype=float32)
    """
    x = _float(x, "leaky_relu")
    return fnp.where(x >= _c(0, x), x, fnp.multiply(negative_slope, x))


def _safe_neg_part(x):
    """``min(x, 0)`` computed so that the unused branch never overflows."""
    return fnp.where(x > _c(0, x), fnp.zeros_like(x), x)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    >>> nn.elu(fnp.array([-1.0, 2.0]))
    Array([-0.63212055,  2.        ], dtype=float32)
    """
    x = _float(x, "elu")
    neg = fnp.multiply(alpha, fnp.expm1(_safe_neg_part(x)))
    return fnp.where(x > _c(0, x), x, neg)


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: ``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.

    >>> nn.celu(fnp.array([-1.0, 2.0]), alpha=2.0)
    Array([-0.78693867,  2.        ], dtype=float32)
    """
    x = _float(x, "celu")
    neg = fnp.multiply(alpha, fnp.expm1(fnp.divide(_safe_neg_part(x), alpha)))
    return fnp.where(x > _c(0, x), x, neg)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU with the self-normalizing constants of Klambauer et al. (2017).

    >>> nn.selu(fnp.array([1.0]))
    Array([1.050701], dtype=float32)
    """
    x = _float(x, "selu")
    return fnp.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


# ----------------------------------------------------------------------------- sigmoids

def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, exact to 0 or 1 for large ``|x|``.

    >>> nn.sigmoid(fnp.array([-1e4, 0.0, 1e4]))
    Array([0. , 0.5, 1. ], dtype=float32)
    """
    return lax.logistic(_float(x, "sigmoid"))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``.

    >>> nn.log_sigmoid(fnp.array([-1e4, 0.0]))
    Array([-1.000000e+04, -6.931472e-01], dtype=float32)
    """
    x = _float(x, "log_sigmoid")
    return fnp.negative(softplus(fnp.negative(x)))


def tanh(x):
    """Hyperbolic tangent."""
    return fnp.tanh(_float(x, "tanh"))


@custom_jvp
def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, no cancellation
    return fnp.add(fnp.maximum(x, _c(0, x)), fnp.log1p(fnp.exp(fnp.negative(fnp.abs(x)))))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), fnp.multiply(t, lax.logistic(x))


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``; its derivative is ``sigmoid(x)``.

    >>> nn.softplus(fnp.array([-1e4, 0.0, 1e4]))
    Array([0.000000e+00, 6.931472e-01, 1.000000e+04], dtype=float32)
    """
    return _softplus(_float(x, "softplus"))


def soft_sign(x):
    """``x / (|x| + 1)``."""
    x = _float(x, "soft_sign")
    return fnp.divide(x, fnp.add(fnp.abs(x), _c(1, x)))


def silu(x):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``.

    >>> nn.silu(fnp.array([0.0, 1.0]))
    Array([0.       , 0.7310586], dtype=float32)
    """
    x = _float(x, "silu")
    return fnp.multiply(x, lax.logistic(x))


swish = silu


def hard_tanh(x):
    """``-1`` below -1, ``1`` above 1, ``x`` in between."""
    x = _float(x, "hard_tanh")
    return fnp.where(x > _c(1, x), _c(1, x), fnp.where(x < _c(-1, x), _c(-1, x), x))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    x = _float(x, "hard_sigmoid")
    return fnp.divide(relu6(fnp.add(x, _c(3, x))), _c(6, x))


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also ``hard_swish``)."""
    x = _float(x, "hard_silu")
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


_SQRT_2_OVER_PI = float(np.sqrt(2 / np.pi))


def _erf(x):
    # lax.erf's kernel fails on 0-d operands (reported); go through shape (1,)
    if get_aval(x).ndim == 0:
        return lax.reshape(lax.erf(lax.reshape(x, (1,))), ())
    return lax.erf(x)


def gelu(x, approximate=True):
    """Gaussian error linear unit.

    ``approximate=True`` (the default, as JAX): ``0.5 x (1 + tanh(sqrt(2/pi) (x +
    0.044715 x**3)))``; ``approximate=False``: ``x * (1 + erf(x / sqrt(2))) / 2``.

    >>> nn.gelu(fnp.array([1.0])), nn.gelu(fnp.array([1.0]), approximate=False)
    (Array([0.841192], dtype=float32), Array([0.8413447], dtype=float32))
    """
    x = _float(x, "gelu")
    if approximate:
        cdf = fnp.multiply(_c(0.5, x), fnp.add(_c(1, x), fnp.tanh(fnp.multiply(
            _c(_SQRT_2_OVER_PI, x), fnp.add(x, fnp.multiply(_c(0.044715, x),
                                                            fnp.multiply(x, fnp.multiply(x, x))))))))
        return fnp.multiply(x, cdf)
    if get_aval(x).dtype.kind == "c":
        raise TypeError("nn.gelu(approximate=False) needs a real input")
    return fnp.divide(fnp.multiply(x, fnp.add(_erf(fnp.divide(x, _c(np.sqrt(2), x))),
                                              _c(1, x))), _c(2, x))


def glu(x, axis=-1):
    """Gated linear unit: split ``x`` in two halves ``a, b`` along ``axis``; ``a * sigmoid(b)``.

    >>> nn.glu(fnp.array([1.0, 2.0, 0.0, 100.0]))
    Array([0.5, 2. ], dtype=float32)
    """
    x = _float(x, "glu")
    aval = get_aval(x)
    ax = _axis(axis, aval.ndim, "glu")
    n = aval.shape[ax]
    if n % 2:
        raise ValueError(f"nn.glu: the size of axis {axis} must be even, got {n} "
                         f"(shape {aval.shape})")
    a = lax.slice_in_dim(x, 0, n // 2, 1, ax)
    b = lax.slice_in_dim(x, n // 2, n, 1, ax)
    return fnp.multiply(a, lax.logistic(b))


# ----------------------------------------------------------------------------- softmax family

def _axis(axis, ndim, name):
    a = operator.index(axis)
    if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
        raise ValueError(f"nn.{name}: axis {axis} is out of bounds for an array of rank "
                         f"{ndim}")
    return a % ndim if ndim else 0


def _axes(axis, ndim, name):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(sorted({_axis(a, ndim, name) for a in axis}))
        if len(axes) != len(axis):
            raise ValueError(f"nn.{name}: repeated axis in {axis}")
        return axes
    return (_axis(axis, ndim, name),)


def _stable_max(x, axes):
    """``max`` over ``axes`` (keepdims) with non-finite maxima replaced by 0, no gradient."""
    m = fnp.max(x, axis=axes, keepdims=True)
    m = fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m))
    return lax.stop_gradient(m)


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def _softmax(x, axes):
    e = fnp.exp(fnp.subtract(x, _stable_max(x, axes)))
    return fnp.divide(e, fnp.sum(e, axis=axes, keepdims=True))


@_softmax.defjvp
def _softmax_jvp(axes, primals, tangents):
    (x,), (t,) = primals, tangents
    y = _softmax(x, axes)
    # d softmax = y * (t - sum(y * t))
    return y, fnp.multiply(y, fnp.subtract(t, fnp.sum(fnp.multiply(y, t), axis=axes,
                                                       keepdims=True)))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an int, a tuple, or None for all axes).

    Computed after subtracting the maximum, so large logits do not overflow; ``-inf``
    entries get probability 0.

    >>> nn.softmax(fnp.array([1e4, 0.0]))
    Array([1., 0.], dtype=float32)
    """
    x = _float(x, "softmax")
    return _softmax(x, _axes(axis, get_aval(x).ndim, "softmax"))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: log-probabilities, stable for large logits.

    >>> nn.log_softmax(fnp.array([1e4, 0.0]))
    Array([     0., -10000.], dtype=float32)
    """
    x = _float(x, "log_softmax")
    axes = _axes(axis, get_aval(x).ndim, "log_softmax")
    shifted = fnp.subtract(x, _stable_max(x, axes))
    return fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axes,
                                                 keepdims=True)))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``, without overflow.

    ``b`` scales the terms (it may be negative: with ``return_sign=True`` the result is
    ``(log|s|, sign(s))``; without it a negative sum gives NaN, as JAX).  All ``-inf``
    inputs give ``-inf``.

    >>> nn.logsumexp(fnp.array([[0.0, 1e4], [-1e4, 0.0]]), axis=1)
    Array([10000.,     0.], dtype=float32)
    >>> nn.logsumexp(fnp.array([1.0, 2.0]), b=fnp.array([1.0, -1.0]), return_sign=True)
    (Array(1.541325, dtype=float32), Array(-1., dtype=float32))
    """
    a = _float(a, "logsumexp")
    if b is not None:
        b = fnp.asarray(b)
        a, b = fnp.broadcast_arrays(*promote("nn.logsumexp", a, b, to_inexact=True))
    nd = get_aval(a).ndim
    axes = _axes(axis, nd, "logsumexp")
    amax = _stable_max(a, axes)
    e = fnp.exp(fnp.subtract(a, amax))
    if b is not None:
        e = fnp.multiply(b, e)
    s = fnp.sum(e, axis=axes, keepdims=True)
    sign = fnp.sign(s)
    out = fnp.add(fnp.log(fnp.abs(s)), amax)
    if not keepdims:
        out = fnp.squeeze(out, axis=axes)
        sign = fnp.squeeze(sign, axis=axes)
    if return_sign:
        return out, sign
    if b is not None:
        out = fnp.where(sign < _c(0, sign), fnp.full_like(out, np.nan), out)
    return out


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis`` (also ``normalize``).

    ``mean``/``variance`` default to the statistics of ``x`` (variance computed as
    ``mean((x - mean)**2)``, which never goes negative).

    >>> nn.standardize(fnp.array([1.0, 2.0, 3.0]))
    Array([-1.2247356,  0.       ,  1.2247356], dtype=float32)
    """
    x = _float(x, "standardize")
    axes = _axes(axis, get_aval(x).ndim, "standardize")
    if mean is None:
        mean = fnp.mean(x, axis=axes, keepdims=True)
    if variance is None:
        variance = fnp.mean(fnp.square(fnp.subtract(x, mean)), axis=axes, keepdims=True)
    return fnp.multiply(fnp.subtract(x, mean),
                        lax.rsqrt(fnp.add(fnp.asarray(variance), _c(epsilon, x))))


normalize = standardize


def one_hot(x, num_classes, dtype=None, axis=-1):
    """One-hot encode integer ``x``: a new axis of size ``num_classes`` at ``axis``.

    Out-of-range indices (negative or ``>= num_classes``) give all-zero rows, as JAX.
    ``dtype`` defaults to float32 (float64 with ``enable_x64``).

    >>> nn.one_hot(fnp.array([0, 2]), 3)
    Array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        raise TypeError("nn.one_hot: num_classes must be a static Python int (not a "
                        "traced value)") from None
    if num_classes < 0:
        raise ValueError(f"nn.one_hot: num_classes must be non-negative, got {num_classes}")
    dt = dtypes.default_float_dtype() if dtype is None else dtypes.check_supported(
        dtype, "nn.one_hot")
    x = fnp.asarray(x)
    aval = get_aval(x)
    if aval.dtype.kind == "f":
        raise TypeError("nn.one_hot: x must hold integer class indices, got dtype "
                        f"{aval.dtype.name}; convert with x.astype(int) first")
    if aval.dtype.kind == "b":
        x = lax.convert_element_type(x, np.int32)
        aval = get_aval(x)
    nd = aval.ndim + 1
    ax = _axis(axis, nd, "one_hot")
    x = lax.expand_dims(x, (ax,))
    shape = list(aval.shape)
    shape.insert(ax, num_classes)
    classes = lax.broadcasted_iota(aval.dtype, tuple(shape), ax)
    xb = lax.broadcast_in_dim(x, tuple(shape), tuple(range(nd)))
    return lax.convert_element_type(lax.eq(xb, classes), dt)
