"""Reductions: sum, mean, var, std, max, min, prod, argmax, argmin, all, any, cumsum,
cumprod (NumPy's ``axis``/``keepdims``/``dtype`` semantics)."""
from __future__ import annotations

import builtins

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import get_aval
from ._promote import asarray, scalar_like


def _axes(axis, ndim, where):
    try:
        key = (axis, ndim, where)
        r = _AXES.get(key)
    except TypeError:     # a list, an array: not cached
        r = key = None
    if r is None:
        r = _axes_uncached(axis, ndim, where)
        if key is not None:
            if len(_AXES) >= 1024:
                _AXES.clear()
            _AXES[key] = r
    return r


_AXES = {}   # _axes results of valid (axis, ndim, where): errors are raised every time


def _shape_dtype(x):
    if type(x) is Array:
        v = x._value
        return v.shape, v.dtype
    a = get_aval(x)
    return a.shape, a.dtype


def _axes_uncached(axis, ndim, where):
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
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{where}: axis {a} is out of bounds for an array of rank {ndim}")
        if ndim:    # a 0-d array accepts axis 0 / -1 and has nothing to reduce
            out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _dtarg(dtype):
    from ._promote import dtype_arg
    return dtype_arg(dtype, "funcgrad.numpy")


def _keepdims(r, shape, axes):
    kshape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    return lax.reshape(r, kshape)


def _sum_dtype(dt):
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < dtypes.default_int_dtype().itemsize):
        return dtypes.default_int_dtype() if dt.kind != "u" else np.dtype(np.uint32)
    return dt


def _no_out(out, name):
    if out is not None:
        raise NotImplementedError(f"fnp.{name}: the out= argument is not supported (funcgrad "
                                  "arrays are immutable); use the returned array")


def _masked(x, where, fill, name):
    """``x`` with the elements outside the ``where`` mask replaced by ``fill``."""
    if where is None:
        return x
    from ._promote import broadcast_shapes, broadcast_to_shape
    w = _to_bool(asarray(where, where=f"fnp.{name}"))
    xa = get_aval(x)
    if broadcast_shapes(get_aval(w).shape, xa.shape, where=f"fnp.{name}") != xa.shape:
        raise TypeError(f"fnp.{name}: where= mask of shape {get_aval(w).shape} does not "
                        f"broadcast to the array shape {xa.shape}")
    return lax.select(broadcast_to_shape(w, xa.shape), x, lax.full(xa.shape, fill, xa.dtype))


def _count(x, axis, keepdims, where, name):
    """Number of elements reduced (an int, or an array with a where= mask)."""
    if where is None:
        shape = _shape_dtype(x)[0]
        n = 1
        for i in _axes(axis, len(shape), name):
            n *= shape[i]
        return n
    av = get_aval(x)
    ones = lax.full(av.shape, 1, av.dtype)
    return sum(_masked(ones, where, 0, name), axis, keepdims=keepdims)


def _reduce(name, lax_fn, x, axis, keepdims, dtype=None, promote_int=False, where=None):
    x = asarray(x, where=f"fnp.{name}")
    shape, dt0 = _shape_dtype(x)
    axes = _axes(axis, len(shape), f"fnp.{name}")
    if dtype is not None:
        from ._promote import dtype_arg
        x = lax.convert_element_type(x, dtype_arg(dtype, f"fnp.{name}"))
    elif promote_int and dt0.kind in "biu":
        dt = _sum_dtype(dt0)
        if dt != dt0:
            x = lax.convert_element_type(x, dt)
    r = lax_fn(x, axes) if axes else x
    return _keepdims(r, shape, axes) if keepdims else r


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum of elements over ``axis``.

    >>> fnp.sum(fnp.ones((2, 3)), axis=0)
    Array([2., 2., 2.], dtype=float32)
    """
    _no_out(out, "sum")
    a = _masked(asarray(a, where="fnp.sum"), where, 0, "sum")
    r = _reduce("sum", lax.reduce_sum, a, axis, keepdims, dtype, promote_int=True)
    if initial is not None:
        r = lax.add(r, scalar_like(initial, r))
    return r


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product of elements over ``axis``.

    >>> int(fnp.prod(fnp.array([2, 3])))
    6
    """
    _no_out(out, "prod")
    a = _masked(asarray(a, where="fnp.prod"), where, 1, "prod")
    r = _reduce("prod", lax.reduce_prod, a, axis, keepdims, dtype, promote_int=True)
    if initial is not None:
        r = lax.mul(r, scalar_like(initial, r))
    return r


def _check_nonempty(x, axis, name):
    shape = _shape_dtype(x)[0]
    for ax in _axes(axis, len(shape), name):
        if shape[ax] == 0:
            raise ValueError(f"{name}: zero-size reduction along axis {ax} of shape {shape} "
                             "has no identity")


def _empty_with_initial(x, axis, keepdims, initial, name):
    """A reduction over a zero-size axis with an ``initial`` value gives ``initial``."""
    a = get_aval(x)
    axes = _axes(axis, a.ndim, name)
    if initial is None or not builtins.any(a.shape[i] == 0 for i in axes):
        return None
    shape = tuple(1 if i in axes else d for i, d in enumerate(a.shape)) if keepdims else \
        tuple(d for i, d in enumerate(a.shape) if i not in axes)
    return lax.full(shape, initial, a.dtype)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over ``axis`` (``initial`` also bounds it from below).

    >>> fnp.max(fnp.array([[1, 5], [3, 2]]), axis=0).tolist()
    [3, 5]
    """
    _no_out(out, "max")
    x = asarray(a, where="fnp.max")
    if where is not None:
        if initial is None:
            raise ValueError("fnp.max: reduction operation 'maximum' does not have an "
                             "identity, so to use a where mask one has to specify 'initial'")
        x = _masked(x, where, initial, "max")
    # (without initial, _check_nonempty raises the same axis errors)
    e = None if initial is None else _empty_with_initial(x, axis, keepdims, initial,
                                                         "fnp.max")
    if e is not None:
        return e
    if initial is None:
        _check_nonempty(x, axis, "fnp.max")
    r = _reduce("max", lax.reduce_max, x, axis, keepdims)
    if initial is not None:
        r = lax.max(r, scalar_like(initial, r))
    return r


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over ``axis`` (``initial`` also bounds it from above).

    >>> fnp.min(fnp.array([[1, 5], [3, 2]]), axis=1).tolist()
    [1, 2]
    """
    _no_out(out, "min")
    x = asarray(a, where="fnp.min")
    if where is not None:
        if initial is None:
            raise ValueError("fnp.min: reduction operation 'minimum' does not have an "
                             "identity, so to use a where mask one has to specify 'initial'")
        x = _masked(x, where, initial, "min")
    # (without initial, _check_nonempty raises the same axis errors)
    e = None if initial is None else _empty_with_initial(x, axis, keepdims, initial,
                                                         "fnp.min")
    if e is not None:
        return e
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
    """True where every element over ``axis`` is nonzero.

    >>> bool(fnp.all(fnp.array([1, 2, 0])))
    False
    """
    _no_out(out, "all")
    return _reduce("all", lax.reduce_and, _masked(_to_bool(asarray(a)), where, True, "all"),
                   axis, keepdims)


def any(a, axis=None, out=None, keepdims=False, where=None):
    """True where some element over ``axis`` is nonzero.

    >>> bool(fnp.any(fnp.array([0, 0, 3])))
    True
    """
    _no_out(out, "any")
    return _reduce("any", lax.reduce_or, _masked(_to_bool(asarray(a)), where, False, "any"),
                   axis, keepdims)


def _inexact(x):
    if _shape_dtype(x)[1].kind in "fc":
        return x
    return lax.convert_element_type(x, dtypes.default_float_dtype())


def mean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Arithmetic mean over ``axis`` (integers average as floats).

    >>> float(fnp.mean(fnp.array([1, 2])))
    1.5
    """
    _no_out(out, "mean")
    x = asarray(a, where="fnp.mean")
    x = _inexact(x) if dtype is None else lax.convert_element_type(x, _dtarg(dtype))
    n = _count(x, axis, keepdims, where, "fnp.mean")
    s = sum(_masked(x, where, 0, "mean"), axis, keepdims=keepdims)
    return lax.div(s, scalar_like(n, s) if isinstance(n, int) else n)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Variance over ``axis`` (``ddof`` delta degrees of freedom).

    >>> float(fnp.var(fnp.array([1.0, 2.0, 3.0]), ddof=1))
    1.0
    """
    _no_out(out, "var")
    x = asarray(a, where="fnp.var")
    x = _inexact(x) if dtype is None else lax.convert_element_type(x, _dtarg(dtype))
    av = get_aval(x)
    m = mean(x, axis, keepdims=True, where=where)
    d = _masked(lax.sub(x, lax.broadcast_in_dim(m, av.shape, tuple(range(av.ndim)))), where, 0,
                "var")
    s = sum(lax.mul(d, d), axis, keepdims=keepdims)
    n = _count(x, axis, keepdims, where, "fnp.var")
    if isinstance(n, int):
        return lax.div(s, scalar_like(builtins.max(n - ddof, 0), s))
    return lax.div(s, lax.max(lax.sub(n, scalar_like(ddof, n)), scalar_like(0, n)))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Standard deviation over ``axis``.

    >>> float(fnp.std(fnp.array([1.0, 3.0])))
    1.0
    """
    return lax.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where))


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
    """Index of the first maximum (over the flattened array when ``axis`` is None).

    >>> int(fnp.argmax(fnp.array([1, 5, 2])))
    1
    """
    return _arg("argmax", lax.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the first minimum.

    >>> fnp.argmin(fnp.array([[3, 1], [0, 2]]), axis=1).tolist()
    [1, 0]
    """
    return _arg("argmin", lax.argmin, a, axis, keepdims)


def _cum(name, lax_fn, a, axis, dtype):
    x = asarray(a, where=f"fnp.{name}")
    if axis is None:
        x = lax.reshape(x, (get_aval(x).size,))
        axis = 0
    av = get_aval(x)
    ax = _axes(axis, av.ndim, f"fnp.{name}")[0]
    if dtype is not None:
        x = lax.convert_element_type(x, _dtarg(dtype))
    else:
        dt = _sum_dtype(av.dtype)
        if dt != av.dtype:
            x = lax.convert_element_type(x, dt)
    return lax_fn(x, ax)


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum (over the flattened array when ``axis`` is None).

    >>> fnp.cumsum(fnp.array([[1, 2], [3, 4]]), axis=0).tolist()
    [[1, 2], [4, 6]]
    """
    return _cum("cumsum", lax.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product.

    >>> fnp.cumprod(fnp.array([1, 2, 3])).tolist()
    [1, 2, 6]
    """
    return _cum("cumprod", lax.cumprod, a, axis, dtype)


def _cumulative(name, fn, x, axis, dtype, include_initial, initial):
    x = asarray(x, where=f"fnp.{name}")
    av = get_aval(x)
    if axis is None:
        if av.ndim > 1:
            raise ValueError(f"fnp.{name}: axis must be specified for arrays of rank > 1 "
                             f"(got shape {av.shape})")
        if av.ndim == 0:
            x = lax.reshape(x, (1,))
        axis = 0
    r = fn(x, axis, dtype)
    if include_initial:
        ra = get_aval(r)
        ax = _axes(axis, ra.ndim, f"fnp.{name}")[0]
        shape = tuple(1 if i == ax else d for i, d in enumerate(ra.shape))
        r = lax.concatenate([lax.full(shape, initial, ra.dtype), r], ax)
    return r


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Cumulative sum (Array API); ``include_initial`` prepends zeros.

    >>> fnp.cumulative_sum(fnp.array([1, 2, 3]), include_initial=True).tolist()
    [0, 1, 3, 6]
    """
    return _cumulative("cumulative_sum", cumsum, x, axis, dtype, include_initial, 0)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted average over ``axis``; 1-D ``weights`` may run along ``axis`` only.

    >>> float(fnp.average(fnp.array([1.0, 3.0]), weights=fnp.array([3.0, 1.0])))
    1.5
    """
    if weights is None:
        r = mean(a, axis, keepdims=keepdims)
        if not returned:
            return r
        x = asarray(a)
        av = get_aval(x)
        n = int(np.prod([av.shape[i] for i in _axes(axis, av.ndim, "fnp.average")],
                        dtype=np.int64))
        return r, lax.full(get_aval(r).shape, n, get_aval(r).dtype)
    from ._promote import promote
    x = asarray(a, where="fnp.average")
    w = asarray(weights, where="fnp.average")
    xa, wa = get_aval(x), get_aval(w)
    if xa.shape != wa.shape:
        if axis is None:
            raise TypeError(f"fnp.average: axis must be specified when shapes of a "
                            f"{xa.shape} and weights {wa.shape} differ")
        if wa.ndim != 1:
            raise TypeError(f"fnp.average: 1-D weights expected when shapes of a {xa.shape} "
                            f"and weights {wa.shape} differ")
        ax = _axes(axis, xa.ndim, "fnp.average")
        if len(ax) != 1 or wa.shape[0] != xa.shape[ax[0]]:
            raise ValueError(f"fnp.average: length of weights {wa.shape} differs from that "
                             f"of a {xa.shape} along axis {axis}")
        w = lax.broadcast_in_dim(w, xa.shape, ax)
    x, w = promote("fnp.average", x, w, to_inexact=True)
    num = sum(lax.mul(x, w), axis, keepdims=keepdims)
    den = sum(w, axis, keepdims=keepdims)
    r = lax.div(num, den)
    return (r, den) if returned else r


def count_nonzero(a, axis=None, keepdims=False):
    """NumPy's ``count_nonzero``.

    >>> int(fnp.count_nonzero(fnp.array([0, 1, 2])))
    2
    """
    x = asarray(a)
    return sum(lax.convert_element_type(_to_bool(x), dtypes.default_int_dtype()), axis,
               keepdims=keepdims)


def ptp(a, axis=None, keepdims=False):
    """NumPy's ``ptp``.

    >>> int(fnp.ptp(fnp.array([4, 9, 1])))
    8
    """
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))
