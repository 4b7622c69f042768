"""Reductions: sum, mean, var, std, max, min, prod, argmax, argmin, all, any, cumsum,
cumprod (NumPy's ``axis``/``keepdims``/``dtype`` semantics)."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.trace import get_aval
from ._promote import asarray, scalar_like


def _axes(axis, ndim, where):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axs = axis
    else:
        axs = (axis,)
    out = []
    for a in axs:
        try:
            a = int(a)
        except TypeError:
            raise TypeError(f"{where}: axis must be an int or a tuple of ints, got {axis!r}") \
                from None
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{where}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _keepdims(r, shape, axes):
    kshape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    return lax.reshape(r, kshape)


def _sum_dtype(dt):
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < dtypes.default_int_dtype().itemsize):
        return dtypes.default_int_dtype() if dt.kind != "u" else np.dtype(np.uint32)
    return dt


def _reduce(name, lax_fn, x, axis, keepdims, dtype=None, promote_int=False, where=None):
    x = asarray(x, where=f"fnp.{name}")
    a = get_aval(x)
    axes = _axes(axis, a.ndim, f"fnp.{name}")
    if dtype is not None:
        x = lax.convert_element_type(x, dtypes.check_supported(dtype, f"fnp.{name}"))
    elif promote_int:
        dt = _sum_dtype(a.dtype)
        if dt != a.dtype:
            x = lax.convert_element_type(x, dt)
    r = lax_fn(x, axes) if axes else x
    return _keepdims(r, a.shape, axes) if keepdims else r


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum of elements over ``axis``.

    >>> fnp.sum(fnp.ones((2, 3)), axis=0)
    Array([2., 2., 2.], dtype=float32)
    """
    r = _reduce("sum", lax.reduce_sum, a, axis, keepdims, dtype, promote_int=True)
    if initial is not None:
        r = lax.add(r, scalar_like(initial, r))
    return r


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product of elements over ``axis``."""
    r = _reduce("prod", lax.reduce_prod, a, axis, keepdims, dtype, promote_int=True)
    if initial is not None:
        r = lax.mul(r, scalar_like(initial, r))
    return r


def _check_nonempty(x, axis, name):
    a = get_aval(x)
    for ax in _axes(axis, a.ndim, name):
        if a.shape[ax] == 0:
            raise ValueError(f"{name}: zero-size reduction along axis {ax} of shape {a.shape} "
                             "has no identity")


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over ``axis``."""
    x = asarray(a, where="fnp.max")
    if initial is None:
        _check_nonempty(x, axis, "fnp.max")
    r = _reduce("max", lax.reduce_max, x, axis, keepdims)
    if initial is not None:
        r = lax.max(r, scalar_like(initial, r))
    return r


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over ``axis``."""
    x = asarray(a, where="fnp.min")
    if initial is None:
        _check_nonempty(x, axis, "fnp.min")
    r = _reduce("min", lax.reduce_min, x, axis, keepdims)
    if initial is not None:
        r = lax.min(r, scalar_like(initial, r))
    return r


amax, amin = max, min


def _to_bool(x):
    a = get_aval(x)
    return x if a.dtype == np.bool_ else lax.ne(x, scalar_like(0, x))


def all(a, axis=None, out=None, keepdims=False, where=None):
    """True where every element over ``axis`` is nonzero."""
    return _reduce("all", lax.reduce_and, _to_bool(asarray(a)), axis, keepdims)


def any(a, axis=None, out=None, keepdims=False, where=None):
    """True where some element over ``axis`` is nonzero."""
    return _reduce("any", lax.reduce_or, _to_bool(asarray(a)), axis, keepdims)


def _inexact(x):
    a = get_aval(x)
    if a.dtype.kind in "fc":
        return x
    return lax.convert_element_type(x, dtypes.default_float_dtype())


def mean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Arithmetic mean over ``axis`` (integers average as floats)."""
    x = asarray(a, where="fnp.mean")
    x = _inexact(x) if dtype is None else lax.convert_element_type(x, dtype)
    av = get_aval(x)
    axes = _axes(axis, av.ndim, "fnp.mean")
    n = int(np.prod([av.shape[i] for i in axes], dtype=np.int64))
    s = sum(x, axis, keepdims=keepdims)
    return lax.div(s, scalar_like(n, s))


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Variance over ``axis`` (``ddof`` delta degrees of freedom)."""
    x = asarray(a, where="fnp.var")
    x = _inexact(x) if dtype is None else lax.convert_element_type(x, dtype)
    av = get_aval(x)
    axes = _axes(axis, av.ndim, "fnp.var")
    n = int(np.prod([av.shape[i] for i in axes], dtype=np.int64))
    m = mean(x, axis, keepdims=True)
    d = lax.sub(x, lax.broadcast_in_dim(m, av.shape, tuple(range(av.ndim))))
    s = sum(lax.mul(d, d), axis, keepdims=keepdims)
    return lax.div(s, scalar_like(n - ddof, s))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Standard deviation over ``axis``."""
    return lax.sqrt(var(a, axis, dtype, out, ddof, keepdims))


def _arg(name, lax_fn, a, axis, keepdims):
    x = asarray(a, where=f"fnp.{name}")
    av = get_aval(x)
    if axis is None:
        x = lax.reshape(x, (av.size,))
        axis_ = 0
    else:
        axis_ = _axes(axis, av.ndim, f"fnp.{name}")[0]
    if get_aval(x).shape[axis_] == 0:
        raise ValueError(f"fnp.{name}: attempt to get {name} of an empty sequence")
    if get_aval(x).dtype == np.bool_:
        x = lax.convert_element_type(x, np.int32)
    r = lax_fn(x, axis_, dtypes.default_int_dtype())
    if keepdims:
        shape = tuple(1 if (axis is None or i == axis_) else d for i, d in enumerate(av.shape))
        r = lax.reshape(r, shape)
    return r


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the first maximum (over the flattened array when ``axis`` is None)."""
    return _arg("argmax", lax.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the first minimum."""
    return _arg("argmin", lax.argmin, a, axis, keepdims)


def _cum(name, lax_fn, a, axis, dtype):
    x = asarray(a, where=f"fnp.{name}")
    if axis is None:
        x = lax.reshape(x, (get_aval(x).size,))
        axis = 0
    av = get_aval(x)
    ax = _axes(axis, av.ndim, f"fnp.{name}")[0]
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
    else:
        dt = _sum_dtype(av.dtype)
        if dt != av.dtype:
            x = lax.convert_element_type(x, dt)
    return lax_fn(x, ax)


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum (over the flattened array when ``axis`` is None)."""
    return _cum("cumsum", lax.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product."""
    return _cum("cumprod", lax.cumprod, a, axis, dtype)


cumulative_sum = cumsum


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted average over ``axis``."""
    if weights is None:
        r = mean(a, axis, keepdims=keepdims)
        return r
    from ._promote import promote
    x, w = promote("fnp.average", a, weights, to_inexact=True)
    num = sum(lax.mul(x, w), axis, keepdims=keepdims)
    den = sum(w, axis, keepdims=keepdims)
    r = lax.div(num, den)
    return (r, den) if returned else r


def count_nonzero(a, axis=None, keepdims=False):
    x = asarray(a)
    return sum(lax.convert_element_type(_to_bool(x), dtypes.default_int_dtype()), axis,
               keepdims=keepdims)


def ptp(a, axis=None, keepdims=False):
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))
