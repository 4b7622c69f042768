"""Array creation: array, asarray, zeros, ones, full, *_like, arange, linspace, eye,
identity, meshgrid."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer, get_aval
from ._promote import asarray as _asarray


def _dt(dtype, default=None, where="fnp"):
    if dtype is None:
        return default if default is not None else dtypes.default_float_dtype()
    from ._promote import dtype_arg
    return dtype_arg(dtype, where)


def _shape(shape, where):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{where}: shape must be an int or a tuple of ints, got {shape!r}; a "
                        "traced value cannot be a shape (use static_argnums)") from None


def array(object, dtype=None, copy=True, ndmin=0):
    """Create an array from Python data, NumPy arrays or other arrays.

    >>> fnp.array([1, 2, 3]).dtype
    dtype('int32')
    """
    x = _asarray(object, dtype, where="fnp.array")
    if ndmin and get_aval(x).ndim < ndmin:
        x = lax.reshape(x, (1,) * (ndmin - get_aval(x).ndim) + get_aval(x).shape)
    return x


def asarray(a, dtype=None, order=None, copy=None):
    """Convert to an array without copying when ``a`` already is one.

    >>> fnp.asarray(np.arange(3.0)).dtype   # NumPy inputs keep their dtype
    dtype('float64')
    """
    return _asarray(a, dtype, where="fnp.asarray")


def zeros(shape, dtype=None):
    """An array of zeros (float32 by default).

    >>> fnp.zeros((2, 3)).shape
    (2, 3)
    """
    return lax.full(_shape(shape, "fnp.zeros"), 0, _dt(dtype, where="fnp.zeros"))


def ones(shape, dtype=None):
    """An array of ones.

    >>> fnp.ones((2, 1), dtype=int).tolist()
    [[1], [1]]
    """
    return lax.full(_shape(shape, "fnp.ones"), 1, _dt(dtype, where="fnp.ones"))


def empty(shape, dtype=None):
    """Same as ``zeros`` (arrays are immutable, so there is nothing to leave uninitialized).

    >>> fnp.empty((2,)).shape
    (2,)
    """
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value``.

    >>> fnp.full((2,), 7).tolist()
    [7, 7]
    """
    shape = _shape(shape, "fnp.full")
    if dtype is None:
        if isinstance(fill_value, (bool, int, float, complex)):
            dtype = dtypes.python_scalar_dtype(fill_value)
        else:
            fv = _asarray(fill_value)
            dtype = get_aval(fv).dtype
            if get_aval(fv).ndim:
                from ._promote import broadcast_to_shape
                return broadcast_to_shape(fv, shape)
    return lax.full(shape, fill_value, _dt(dtype, where="fnp.full"))


def _like(name, value):
    def f(a, dtype=None, shape=None):
        av = get_aval(_asarray(a) if not isinstance(a, (Array, Tracer)) else a)
        return lax.full(av.shape if shape is None else _shape(shape, f"fnp.{name}"), value,
                        _dt(dtype, av.dtype, f"fnp.{name}"))
    f.__name__ = name
    f.__doc__ = (f"An array of {value}s with the shape and dtype of ``a`` (or ``shape=`` / "
                 f"``dtype=``).\n\n    >>> fnp.{name}(fnp.ones((2, 1), dtype=int)).tolist()\n"
                 f"    {[[value], [value]]}\n    ")
    return f


zeros_like = _like("zeros_like", 0)
ones_like = _like("ones_like", 1)
empty_like = zeros_like


def full_like(a, fill_value, dtype=None, shape=None):
    """An array filled with ``fill_value`` with the shape and dtype of ``a``.

    >>> fnp.full_like(fnp.zeros(2), 3.5).tolist()
    [3.5, 3.5]
    """
    av = get_aval(_asarray(a))
    return lax.full(av.shape if shape is None else _shape(shape, "fnp.full_like"), fill_value,
                    _dt(dtype, av.dtype, "fnp.full_like"))


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` (bounds must be concrete).

    >>> fnp.arange(1, 7, 2).tolist()
    [1, 3, 5]
    """
    for v in (start, stop, step):
        if isinstance(v, Tracer):
            raise TypeError("fnp.arange needs concrete bounds; a traced value cannot decide "
                            "a shape (use static_argnums, or lax.iota)")
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    r = np.arange(start, stop, step)
    if dtype is not None:
        r = r.astype(_dt(dtype, where="fnp.arange"))
    elif r.dtype.kind == "f":
        r = r.astype(dtypes.default_float_dtype())
    elif r.dtype.kind in "iu":
        r = r.astype(dtypes.default_int_dtype())
    if dtype is None and r.dtype.kind in "iu" and isinstance(start, int) and step == 1 \
            and stop - start > 0:
        return lax.iota(r.dtype, len(r)) if start == 0 else lax.add(lax.iota(r.dtype, len(r)),
                                                                    np.asarray(start, r.dtype)[()])
    return Array(r)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced samples over ``[start, stop]`` (traced endpoints allowed;
    array endpoints add dimensions at ``axis``).

    >>> fnp.linspace(0.0, 1.0, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    num = int(num)
    if num < 0:
        raise ValueError(f"fnp.linspace: number of samples, {num}, must be non-negative")
    if dtype is None:
        from ._promote import result_dtype
        dt, _ = result_dtype(start, stop)
        if dt.kind not in "fc":
            dt = dtypes.default_float_dtype()
    else:
        dt = _dt(dtype, where="fnp.linspace")
    out_dt = dt
    if dt.kind not in "fc":   # integer dtype=: computed in floats, then floored (NumPy 2)
        dt = dtypes.default_float_dtype()
    from ._ufuncs import add, multiply, subtract
    s, e = _asarray(start, dt), _asarray(stop, dt)
    from ._promote import broadcast_shapes, broadcast_to_shape
    bshape = broadcast_shapes(get_aval(s).shape, get_aval(e).shape, where="fnp.linspace")
    s, e = broadcast_to_shape(s, bshape), broadcast_to_shape(e, bshape)
    div = (num - 1) if endpoint else num
    step = lax.div(subtract(e, s), np.asarray(max(div, 1), dt)[()]) if num > 1 else \
        subtract(e, s)
    idx = lax.iota(dt, num)
    sa = get_aval(s)
    if sa.ndim:
        idx = lax.broadcast_in_dim(idx, (num,) + sa.shape, (0,))
    out = add(s, multiply(idx, step))
    if endpoint and num > 1:
        from ._indexing import _set_last
        out = _set_last(out, e)
    if axis != 0 and sa.ndim:
        from ._shape import moveaxis
        out = moveaxis(out, 0, axis)
    if out_dt != get_aval(out).dtype:
        from ._ufuncs import floor
        out = lax.convert_element_type(floor(out) if out_dt.kind in "iu" else out, out_dt)
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None):
    """A 2-D array with ones on the ``k``-th diagonal.

    >>> fnp.eye(2, k=1).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    M = N if M is None else M
    dt = _dt(dtype, where="fnp.eye")
    r = lax.broadcasted_iota(np.int32, (N, M), 0)
    c = lax.broadcasted_iota(np.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(r, np.int32(k)), c), dt)


def identity(n, dtype=None):
    """The ``n x n`` identity matrix.

    >>> fnp.identity(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return eye(n, dtype=dtype)


def meshgrid(*xi, indexing="xy", sparse=False, copy=True):
    """Coordinate matrices from coordinate vectors.

    >>> [g.shape for g in fnp.meshgrid(fnp.arange(3), fnp.arange(2))]
    [(2, 3), (2, 3)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError("fnp.meshgrid: indexing must be 'xy' or 'ij'")
    xs = [_asarray(x) for x in xi]
    for x in xs:
        if get_aval(x).ndim != 1:
            raise ValueError(f"fnp.meshgrid takes 1-D arrays, got shape {get_aval(x).shape}")
    shape = [get_aval(x).shape[0] for x in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        d = i
        if indexing == "xy" and len(xs) >= 2 and i < 2:
            d = 1 - i
        if sparse:
            s = [1] * len(xs)
            s[d] = shape[d]
            out.append(lax.reshape(x, s))
        else:
            out.append(lax.broadcast_in_dim(x, tuple(shape), (d,)))
    return out


def tri(N, M=None, k=0, dtype=None):
    """NumPy's ``tri``.

    >>> fnp.tri(2).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    M = N if M is None else M
    r = lax.broadcasted_iota(np.int32, (N, M), 0)
    c = lax.broadcasted_iota(np.int32, (N, M), 1)
    return lax.convert_element_type(lax.ge(lax.add(r, np.int32(k)), c), _dt(dtype))


__all__ = ["array", "asarray", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "arange", "linspace", "eye", "identity", "meshgrid", "tri"]
