"""``funcgrad.nn.initializers``: parameter initializers (``jax.nn.initializers``).

An *initializer* is a function ``init(key, shape, dtype=float32) -> Array``.  ``zeros``
and ``ones`` are initializers; the others are factories returning one::

    >>> from funcgrad import random
    >>> from funcgrad.nn import initializers
    >>> w = initializers.glorot_uniform()(random.key(0), (64, 32))
    >>> w.shape, w.dtype
    ((64, 32), dtype('float32'))
    >>> initializers.zeros(random.key(0), (2,))
    Array([0., 0.])

Fans follow JAX: for a kernel of shape ``shape``, ``in_axis`` (default -2) and
``out_axis`` (default -1) give the input and output sizes and every other axis is the
*receptive field*, whose size multiplies both fans.  A dense kernel ``(in, out)`` has
``fan_in = in``, ``fan_out = out``; a conv kernel HWIO ``(h, w, in, out)`` has
``fan_in = h*w*in`` and ``fan_out = h*w*out``.  ``variance_scaling`` draws with
variance ``scale / n`` (``n`` = fan_in, fan_out, their mean or geometric mean); its
``"truncated_normal"`` distribution cuts at two standard deviations and divides by
0.87962566103423978 (the standard deviation of a standard normal truncated to (-2, 2))
so that the result has the requested variance.  With the same key, the values equal
``jax.nn.initializers`` (random streams as in ``funcgrad.random``).
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import numpy as fnp
from .. import random
from ..core import dtypes

__all__ = ["zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal"]

# stddev of a standard normal truncated to (-2, 2)
_TRUNC_STD = 0.87962566103423978


def _dtype(dtype, name, float_only=True):
    dt = dtypes.default_float_dtype() if dtype is None else dtypes.check_supported(
        dtype, f"initializers.{name}")
    if float_only and dt.kind not in "fc":
        raise ValueError(f"initializers.{name}: dtype must be floating point, got {dt.name}")
    return dt


def _shape(shape, name):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"initializers.{name}: shape must be a tuple of ints, got "
                        f"{shape!r}") from None


def zeros(key, shape, dtype=None):
    """An initializer that returns zeros (the key is ignored).

    >>> initializers.zeros(random.key(0), (2, 2)).sum()
    Array(0., dtype=float32)
    """
    return fnp.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros", False))


def ones(key, shape, dtype=None):
    """An initializer that returns ones (the key is ignored)."""
    return fnp.ones(_shape(shape, "ones"), _dtype(dtype, "ones", False))


def constant(value, dtype=None):
    """An initializer filling the array with ``value`` (broadcast to the shape).

    >>> initializers.constant(0.5)(random.key(0), (3,))
    Array([0.5, 0.5, 0.5], dtype=float32)
    """
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "constant", False)
        return fnp.broadcast_to(fnp.asarray(value, dtype=dt), _shape(shape, "constant"))
    return init


def uniform(scale=1e-2, dtype=None):
    """An initializer sampling uniformly from ``[0, scale)`` (as JAX's ``uniform``)."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "uniform")
        return fnp.multiply(random.uniform(key, _shape(shape, "uniform"), dt),
                            np.asarray(scale, dt)[()])
    return init


def normal(stddev=1e-2, dtype=None):
    """An initializer sampling from a normal distribution with standard deviation
    ``stddev`` and mean 0."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "normal")
        return fnp.multiply(random.normal(key, _shape(shape, "normal"), dt),
                            np.asarray(stddev, dt)[()])
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """An initializer sampling ``stddev * truncated_normal(lower, upper)`` (the result
    has standard deviation *below* ``stddev``; ``variance_scaling`` corrects for that)."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "truncated_normal")
        x = random.truncated_normal(key, lower, upper, _shape(shape, "truncated_normal"), dt)
        return fnp.multiply(x, np.asarray(stddev, dt)[()])
    return init


def _axes_size(shape, axis, what):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = len(shape)
    out = 1
    for a in axes:
        a = operator.index(a)
        if not -nd <= a < nd:
            raise ValueError(f"variance_scaling: {what} {a} is out of range for a kernel "
                             f"of shape {tuple(shape)}")
        out *= shape[a]
    return out


def compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """``(fan_in, fan_out)`` of a kernel: the in/out sizes times the receptive field
    (the product of all other axes, except ``batch_axis``)."""
    shape = tuple(shape)
    if isinstance(in_axis, (int, np.integer)) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"variance_scaling: cannot compute the fans of a "
                         f"{len(shape)}-dimensional kernel {shape} with the default "
                         "in_axis=-2; use an at least 2-d shape or pass in_axis/out_axis")
    in_size = _axes_size(shape, in_axis, "in_axis")
    out_size = _axes_size(shape, out_axis, "out_axis")
    batch_size = _axes_size(shape, batch_axis, "batch_axis")
    receptive = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """An initializer whose samples have variance ``scale / n``.

    ``mode`` picks ``n``: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` ((in + out) / 2) or
    ``"fan_geo_avg"`` (sqrt(in * out)).  ``distribution`` is ``"truncated_normal"``
    (cut at 2 standard deviations, rescaled by 1/0.8796...), ``"normal"`` or
    ``"uniform"`` (on ``[-sqrt(3 scale/n), sqrt(3 scale/n))``).

    >>> init = initializers.variance_scaling(2.0, "fan_in", "normal")
    >>> w = init(random.key(0), (1000, 300))
    >>> round(float(w.std()) ** 2 * 1000, 1)    # close to scale = 2
    2.0
    """
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"variance_scaling: invalid mode {mode!r}; use 'fan_in', "
                         "'fan_out', 'fan_avg' or 'fan_geo_avg'")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"variance_scaling: invalid distribution {distribution!r}; use "
                         "'truncated_normal', 'normal' or 'uniform'")

    def init(key, shape, dtype=dtype):
        shape = _shape(shape, "variance_scaling")
        dt = _dtype(dtype, "variance_scaling")
        if dt.kind == "c":
            raise NotImplementedError("variance_scaling: complex dtypes are not supported")
        fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = np.asarray(scale / n, dt)
        if distribution == "truncated_normal":
            stddev = (np.sqrt(variance) / np.asarray(_TRUNC_STD, dt)).astype(dt)[()]
            return fnp.multiply(random.truncated_normal(key, -2, 2, shape, dt), stddev)
        if distribution == "normal":
            return fnp.multiply(random.normal(key, shape, dt), np.sqrt(variance)[()])
        lim = np.sqrt(np.asarray(3, dt) * variance).astype(dt)[()]
        return fnp.multiply(random.uniform(key, shape, dt, -1.0, 1.0), lim)
    return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Glorot/Xavier uniform: ``variance_scaling(1, "fan_avg", "uniform")``."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Glorot/Xavier normal: ``variance_scaling(1, "fan_avg", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """LeCun uniform: ``variance_scaling(1, "fan_in", "uniform")``."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """LeCun normal: ``variance_scaling(1, "fan_in", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """He/Kaiming uniform: ``variance_scaling(2, "fan_in", "uniform")``."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """He/Kaiming normal: ``variance_scaling(2, "fan_in", "truncated_normal")``."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """An initializer for (semi-)orthogonal matrices, times ``scale``.

    The kernel is viewed as a matrix of ``prod(other axes)`` rows and
    ``shape[column_axis]`` columns; its rows (or columns, whichever are fewer) are
    orthonormal.  Drawn as JAX does: QR of a normal matrix with the signs of
    ``diag(R)`` folded into ``Q``.

    >>> q = initializers.orthogonal()(random.key(0), (4, 4))
    >>> bool(fnp.allclose(q @ q.T, fnp.eye(4), atol=1e-5))
    True
    """
    def init(key, shape, dtype=dtype):
        shape = _shape(shape, "orthogonal")
        dt = _dtype(dtype, "orthogonal")
        if len(shape) < 2:
            raise ValueError(f"initializers.orthogonal needs an at least 2-d shape, got "
                             f"{shape}")
        if any(d == 0 for d in shape):
            return fnp.zeros(shape, dt)
        ca = operator.index(column_axis) % len(shape)
        n_cols = shape[ca]
        n_rows = math.prod(shape) // n_cols
        z = random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dt)
        q, r = fnp.linalg.qr(z)
        d = fnp.diagonal(r)
        q = fnp.multiply(q, fnp.expand_dims(fnp.sign(d), -2))
        if n_rows < n_cols:
            q = fnp.swapaxes(q, -1, -2)
        rest = tuple(s for i, s in enumerate(shape) if i != ca)
        q = fnp.reshape(q, rest + (n_cols,))
        q = fnp.moveaxis(q, -1, ca)
        return fnp.multiply(np.asarray(scale, dt)[()], q)
    return init

