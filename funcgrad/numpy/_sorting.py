"""Sorting, searching and order statistics: sort, argsort, lexsort, partition,
argpartition, searchsorted, unique, median, quantile, percentile (and the nan- variants).

All are written with ``lax.sort`` (multi-operand, stable, NaNs last): no gather is needed
except to pick order statistics, which uses ``lax.sorting.take_along_last``.  Gradients
follow the sorting permutation; quantiles are piecewise linear in ``a`` and ``q``.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.errors import ConcretizationTypeError
from ..core.trace import Tracer, get_aval
from ..lax.sorting import take_along_last
from ._promote import asarray as _asarray, result_dtype


def _flat_axis(x, axis, where):
    """``(x, axis)`` with ``axis=None`` meaning the flattened array."""
    x = _asarray(x, where=where)
    a = get_aval(x)
    if axis is None:
        return lax.reshape(x, (a.size,)), 0
    if a.ndim == 0:
        raise ValueError(f"{where}: axis {axis} is out of bounds for a 0-d array")
    ax = int(axis)
    if not -a.ndim <= ax < a.ndim:
        raise ValueError(f"{where}: axis {axis} is out of bounds for an array of rank {a.ndim}")
    return x, ax % a.ndim


def _no_order(order, where):
    if order is not None:
        raise TypeError(f"{where}: the 'order' argument (structured arrays) is not supported")


def _index_dtype():
    return dtypes.default_int_dtype()


def sort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    """Sorted copy of ``a`` along ``axis`` (flattened when ``axis=None``); NaNs last.

    The sort is always stable; ``descending=True`` keeps equal elements in their original
    order (NaNs then come first).

    >>> fnp.sort(fnp.array([3, 1, 2]))
    Array([1, 2, 3], dtype=int32)
    """
    _no_order(order, "fnp.sort")
    x, ax = _flat_axis(a, axis, "fnp.sort")
    if descending:
        return lax.rev(lax.sort(lax.rev(x, (ax,)), dimension=ax), (ax,))
    return lax.sort(x, dimension=ax)


def argsort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    """Indices that sort ``a`` along ``axis`` (stable; NaNs last).

    >>> fnp.argsort(fnp.array([3., 1., 2.]))
    Array([1, 2, 0], dtype=int32)
    """
    _no_order(order, "fnp.argsort")
    x, ax = _flat_axis(a, axis, "fnp.argsort")
    idt = _index_dtype()
    if not descending:
        return lax.argsort(x, dimension=ax, index_dtype=idt)
    n = get_aval(x).shape[ax]
    r = lax.argsort(lax.rev(x, (ax,)), dimension=ax, index_dtype=idt)
    return lax.sub(np.asarray(n - 1, idt)[()], lax.rev(r, (ax,)))


def lexsort(keys, axis=-1):
    """Indirect stable sort by several keys; the **last** key is the primary one.

    >>> fnp.lexsort((fnp.array([1, 0, 1]), fnp.array([0, 0, -1])))
    Array([2, 1, 0], dtype=int32)
    """
    if isinstance(keys, (Array, Tracer, np.ndarray)):
        k = _asarray(keys, where="fnp.lexsort")
        keys = [lax.index_in_dim(k, i, 0, keepdims=False) for i in range(get_aval(k).shape[0])]
    keys = [_asarray(k, where="fnp.lexsort") for k in keys]
    if not keys:
        raise TypeError("fnp.lexsort: need at least one key")
    shapes = {get_aval(k).shape for k in keys}
    if len(shapes) != 1:
        raise TypeError(f"fnp.lexsort: all keys must have the same shape, got "
                        f"{[get_aval(k).shape for k in keys]}")
    shape = shapes.pop()
    if not shape:
        raise TypeError("fnp.lexsort: keys must be at least 1-D")
    ax = int(axis) % len(shape)
    iota = lax.broadcasted_iota(_index_dtype(), shape, ax)
    ops = list(reversed(keys)) + [iota]
    return lax.sort(tuple(ops), dimension=ax, num_keys=len(keys))[-1]


def _check_kth(kth, n, where):
    ks = np.atleast_1d(np.asarray(kth))
    if ks.dtype.kind not in "iu":
        raise TypeError(f"{where}: kth must be an integer or a sequence of integers")
    if ((ks < -n) | (ks >= n)).any():
        raise ValueError(f"{where}: kth {kth} out of bounds for an axis of size {n}")


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """Partially sorted copy: the ``kth`` element is in its sorted place, smaller ones
    before it and larger ones after.  Implemented as a full sort (a valid partition).

    >>> fnp.partition(fnp.array([3, 4, 2, 1]), 2)[2]
    Array(3, dtype=int32)
    """
    _no_order(order, "fnp.partition")
    x, ax = _flat_axis(a, axis, "fnp.partition")
    _check_kth(kth, get_aval(x).shape[ax], "fnp.partition")
    return lax.sort(x, dimension=ax)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """Indices that partition ``a`` (see ``partition``); a stable argsort.

    >>> fnp.argpartition(fnp.array([3, 4, 2, 1]), 2)[2]
    Array(0, dtype=int32)
    """
    _no_order(order, "fnp.argpartition")
    x, ax = _flat_axis(a, axis, "fnp.argpartition")
    _check_kth(kth, get_aval(x).shape[ax], "fnp.argpartition")
    return lax.argsort(x, dimension=ax, index_dtype=_index_dtype())


# ----------------------------------------------------------------------------- searchsorted

def _nan_less(x, y, or_equal):
    """NumPy's sort order for comparisons: NaN is larger than everything."""
    if get_aval(x).dtype.kind not in "fc":
        return lax.le(x, y) if or_equal else lax.lt(x, y)
    xn, yn = lax.ne(x, x), lax.ne(y, y)
    base = lax.le(x, y) if or_equal else lax.lt(x, y)
    if or_equal:
        return lax.bitwise_or(base, yn)                      # x <= NaN always
    return lax.bitwise_or(base, lax.bitwise_and(yn, lax.bitwise_not(xn)))


def searchsorted(a, v, side="left", sorter=None, *, method="sort"):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted.

    ``method='sort'`` (default; ``'scan'`` is accepted as an alias) merges by one sort of
    ``len(a) + v.size`` elements; ``'compare_all'`` compares every pair (O(n*m) memory,
    fast for small inputs).  NaNs count as the largest values, as in NumPy.

    >>> fnp.searchsorted(fnp.array([1, 2, 3]), fnp.array([2, 5]))
    Array([1, 3], dtype=int32)
    """
    if side not in ("left", "right"):
        raise ValueError(f"fnp.searchsorted: side must be 'left' or 'right', got {side!r}")
    a = _asarray(a, where="fnp.searchsorted")
    v = _asarray(v, where="fnp.searchsorted")
    if get_aval(a).ndim != 1:
        raise TypeError(f"fnp.searchsorted: a must be 1-D, got shape {get_aval(a).shape}")
    dt, weak = result_dtype(a, v)
    a = lax.convert_element_type(a, dt)
    v = lax.convert_element_type(v, dt)
    if sorter is not None:
        sorter = _asarray(sorter, where="fnp.searchsorted")
        if get_aval(sorter).shape != get_aval(a).shape:
            raise TypeError(f"fnp.searchsorted: sorter shape {get_aval(sorter).shape} must "
                            f"match a {get_aval(a).shape}")
        a = take_along_last(a, sorter)
    idt = _index_dtype()
    vshape = get_aval(v).shape
    n = get_aval(a).shape[0]
    m = int(np.prod(vshape, dtype=np.int64))
    vf = lax.reshape(v, (m,))
    if method == "compare_all":
        ab = lax.broadcast_in_dim(a, (m, n), (1,))
        vb = lax.broadcast_in_dim(vf, (m, n), (0,))
        hit = _nan_less(ab, vb, or_equal=(side == "right"))
        r = lax.reduce_sum(lax.convert_element_type(hit, idt), (1,))
    elif method in ("sort", "scan", "scan_unrolled"):
        r = _searchsorted_by_sort(a, vf, side, idt)
    else:
        raise ValueError(f"fnp.searchsorted: unknown method {method!r}; use 'sort' or "
                         "'compare_all'")
    return lax.reshape(r, vshape)


def _searchsorted_by_sort(a, v, side, idt):
    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    if m == 0:
        return lax.full((0,), 0, idt)
    keys = lax.concatenate([a, v], 0)
    # ties: v before a for 'left', after a for 'right'
    a_tag, v_tag = (1, 0) if side == "left" else (0, 1)
    tag = lax.concatenate([lax.full((n,), a_tag, np.int32), lax.full((m,), v_tag, np.int32)], 0)
    ids = lax.concatenate([lax.add(lax.iota(np.int32, n), np.int32(m)),
                           lax.iota(np.int32, m)], 0)
    _, _, sids = lax.sort((keys, tag, ids), dimension=0, num_keys=2)
    is_a = lax.convert_element_type(lax.ge(sids, np.int32(m)), idt)
    count = lax.cumsum(is_a, 0)              # a-elements at or before each position
    _, back = lax.sort((sids, count), dimension=0, num_keys=1)
    return lax.slice_in_dim(back, 0, m, 1, 0)


# ----------------------------------------------------------------------------- unique

def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None):
    """Sorted unique elements of ``ar`` (and optionally first indices, inverse, counts).

    The number of unique values decides the output shape, so the input must be concrete
    (also fine under ``grad``), or ``size=`` must be given (needed under ``jit``/``vmap``):
    then exactly ``size`` values come back, padded with ``fill_value`` (default: the
    smallest value) and counts 0.

    >>> fnp.unique(fnp.array([3, 1, 3]))
    Array([1, 3], dtype=int32)
    """
    x = _asarray(ar, where="fnp.unique")
    flags = (return_index, return_inverse, return_counts)
    if size is None and not isinstance(x, Tracer):
        res = np.unique(np.asarray(x), return_index=return_index,
                        return_inverse=return_inverse, return_counts=return_counts,
                        axis=axis, equal_nan=equal_nan)
        if not any(flags):
            return Array(res)
        idt = _index_dtype()
        return tuple(Array(r) if i == 0 else Array(np.asarray(r).astype(idt))
                     for i, r in enumerate(res))
    if axis is not None:
        raise TypeError("fnp.unique: axis= needs a concrete (non-traced) input; it is not "
                        "supported under jit/vmap")
    if size is None:
        try:
            concrete = np.asarray(x)
        except ConcretizationTypeError:
            raise ConcretizationTypeError(
                "fnp.unique: the number of unique values of a traced array is not known at "
                "trace time (inside jit or vmap). Pass size=... (and optionally fill_value) "
                "for a fixed-size result, or call it outside jit.") from None
        size = int(np.unique(concrete, equal_nan=equal_nan).size)
    return _unique_sized(x, int(size), fill_value, equal_nan, return_index, return_inverse,
                         return_counts)


def _unique_sized(x, size, fill_value, equal_nan, return_index, return_inverse,
                  return_counts):
    xa = get_aval(x)
    n = xa.size
    idt = _index_dtype()
    flat = lax.reshape(x, (n,))
    if n == 0:
        z = lax.full((size,), 0 if fill_value is None else fill_value, xa.dtype)
        outs = [z]
        if return_index:
            outs.append(lax.full((size,), 0, idt))
        if return_inverse:
            outs.append(lax.full(xa.shape, 0, idt))
        if return_counts:
            outs.append(lax.full((size,), 0, idt))
        return outs[0] if len(outs) == 1 else tuple(outs)
    xs, perm = lax.sort((flat, lax.iota(idt, n)), dimension=0, num_keys=1)
    prev = lax.slice_in_dim(xs, 0, n - 1, 1, 0)
    cur = lax.slice_in_dim(xs, 1, n, 1, 0)
    new = lax.ne(cur, prev)
    if equal_nan and xa.dtype.kind in "fc":
        both_nan = lax.bitwise_and(lax.ne(cur, cur), lax.ne(prev, prev))
        new = lax.bitwise_and(new, lax.bitwise_not(both_nan))
    is_first = lax.concatenate([lax.full((1,), True, np.bool_), new], 0)
    first_i = lax.convert_element_type(is_first, idt)
    n_unique = lax.reduce_sum(first_i, (0,))
    # bring the first element of every run to the front (stable: ascending order kept)
    key = lax.convert_element_type(lax.bitwise_not(is_first), np.int32)
    pos = lax.iota(idt, n)
    _, u, u_idx, u_pos = lax.sort((key, xs, perm, pos), dimension=0, num_keys=1)
    if size > n:
        pad = size - n
        u = lax.pad(u, np.zeros((), xa.dtype)[()], [(0, pad, 0)])
        u_idx = lax.pad(u_idx, np.zeros((), idt)[()], [(0, pad, 0)])
        u_pos = lax.pad(u_pos, np.asarray(n, idt)[()], [(0, pad, 0)])
    else:
        u = lax.slice_in_dim(u, 0, size, 1, 0)
        u_idx = lax.slice_in_dim(u_idx, 0, size, 1, 0)
        u_pos = lax.slice_in_dim(u_pos, 0, size, 1, 0)
    slot = lax.iota(idt, size)
    valid = lax.lt(slot, lax.broadcast_in_dim(n_unique, (size,), ()))
    if fill_value is None:
        fill = lax.broadcast_in_dim(lax.index_in_dim(xs, 0, 0, keepdims=False), (size,), ())
    else:
        fill = lax.full((size,), fill_value, xa.dtype)
    outs = [lax.select(valid, u, fill)]
    if return_index:
        outs.append(lax.select(valid, u_idx, lax.full((size,), 0, idt)))
    if return_inverse:
        rank = lax.sub(lax.cumsum(first_i, 0), np.asarray(1, idt)[()])
        _, inv = lax.sort((perm, rank), dimension=0, num_keys=1)
        outs.append(lax.reshape(inv, xa.shape))
    if return_counts:
        nxt = lax.concatenate([lax.slice_in_dim(u_pos, 1, size, 1, 0),
                               lax.full((1,), n, idt)], 0) if size else u_pos
        last = lax.lt(lax.add(slot, np.asarray(1, idt)[()]),
                      lax.broadcast_in_dim(n_unique, (size,), ()))
        nxt = lax.select(last, nxt, lax.full((size,), n, idt))
        outs.append(lax.select(valid, lax.sub(nxt, u_pos), lax.full((size,), 0, idt)))
    return outs[0] if len(outs) == 1 else tuple(outs)


# ----------------------------------------------------------------------------- quantiles

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _inexact(x, where):
    x = _asarray(x, where=where)
    dt = get_aval(x).dtype
    if dt.kind in "biu":
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    return x


def _move_to_last(x, axis, where):
    """Move the reduced ``axis`` (None, int or tuple) to one last axis.

    Returns ``(y, kept_shape_with_ones)`` where the second item is the keepdims shape.
    """
    a = get_aval(x)
    if axis is None:
        return lax.reshape(x, (a.size,)), (1,) * a.ndim
    axs = axis if isinstance(axis, (tuple, list)) else (axis,)
    axs = sorted({int(ax) % a.ndim if -a.ndim <= int(ax) < a.ndim else _bad_axis(ax, a, where)
                  for ax in axs})
    keep = [i for i in range(a.ndim) if i not in axs]
    y = lax.transpose(x, keep + axs)
    n = int(np.prod([a.shape[i] for i in axs], dtype=np.int64))
    y = lax.reshape(y, tuple(a.shape[i] for i in keep) + (n,))
    return y, tuple(1 if i in axs else d for i, d in enumerate(a.shape))


def _bad_axis(ax, a, where):
    raise ValueError(f"{where}: axis {ax} is out of bounds for an array of rank {a.ndim}")


def _lerp(lo, hi, t):
    """NumPy's interpolation: ``lo + (hi - lo) * t``, from the nearer end."""
    d = lax.sub(hi, lo)
    one = np.asarray(1, get_aval(t).dtype)[()]
    a = lax.add(lo, lax.mul(d, t))
    b = lax.sub(hi, lax.mul(d, lax.sub(one, t)))
    return lax.select(lax.ge(t, np.asarray(0.5, get_aval(t).dtype)[()]), b, a)


def _quantile(a, q, axis, method, keepdims, where, ignore_nan=False):
    if method not in _METHODS:
        raise ValueError(f"{where}: method {method!r} is not supported; use one of {_METHODS}")
    x = _inexact(a, where)
    dt = get_aval(x).dtype
    if isinstance(q, (Array, Tracer)):
        qa = q
    else:   # Python data: keep full precision until converted to a's dtype
        qa = np.asarray(q, dtype=np.result_type(np.asarray(q).dtype, np.float64))
    if not isinstance(qa, Tracer):
        qv = np.asarray(qa)
        if qv.size and (np.any(qv < 0) or np.any(qv > 1) or np.any(np.isnan(qv))):
            raise ValueError(f"{where}: quantiles must be in the range [0, 1]")
    qa = lax.convert_element_type(_asarray(qa, where=where), dt)
    q_shape = get_aval(qa).shape
    nq = int(np.prod(q_shape, dtype=np.int64))
    y, kd_shape = _move_to_last(x, axis, where)
    ya = get_aval(y)
    n = ya.shape[-1]
    if n == 0:
        raise ValueError(f"{where}: cannot take a quantile of an empty axis")
    lead = ya.shape[:-1]
    nl = len(lead)
    ys = lax.sort(y, dimension=nl)                                       # NaNs last
    qf = lax.broadcast_in_dim(lax.reshape(qa, (nq,)), lead + (nq,), (nl,))
    if ignore_nan:
        valid = lax.convert_element_type(lax.eq(y, y), dt)
        cnt = lax.reduce_sum(valid, (nl,))                               # per row
        nm1 = lax.broadcast_in_dim(lax.sub(cnt, np.asarray(1, dt)[()]), lead + (nq,),
                                   tuple(range(nl)))
        nm1c = lax.max(nm1, lax.full(lead + (nq,), 0, dt))
    else:
        nm1 = nm1c = lax.full(lead + (nq,), n - 1, dt)
    pos = lax.mul(qf, nm1c)
    zero = lax.full(lead + (nq,), 0, dt)
    lo_f = lax.clamp(zero, lax.floor(pos), nm1c)
    hi_f = lax.clamp(zero, lax.ceil(pos), nm1c)
    if method == "nearest":
        lo_f = hi_f = lax.clamp(zero, lax.round(pos, 1), nm1c)           # half to even
    elif method == "lower":
        hi_f = lo_f
    elif method == "higher":
        lo_f = hi_f
    idt = np.int32
    lo = take_along_last(ys, lax.convert_element_type(lo_f, idt))
    hi = take_along_last(ys, lax.convert_element_type(hi_f, idt))
    if method == "linear":
        t = lax.sub(pos, lax.stop_gradient(lo_f))
        r = _lerp(lo, hi, t)
    elif method == "midpoint":
        r = lax.mul(lax.add(lo, hi), np.asarray(0.5, dt)[()])
    else:
        r = lo
    # NaN handling: any NaN in the slice gives NaN (plain), all-NaN gives NaN (nan-variant)
    if dt.kind in "fc":
        nan = lax.full(lead + (nq,), np.nan, dt)
        if ignore_nan:
            bad = lax.lt(nm1, zero)
        else:
            last = lax.index_in_dim(ys, n - 1, nl, keepdims=False)
            bad = lax.broadcast_in_dim(lax.ne(last, last), lead + (nq,), tuple(range(nl)))
        r = lax.select(bad, nan, r)
    # result: q's shape first, then the kept axes
    r = lax.transpose(r, (nl,) + tuple(range(nl)))
    out_rest = kd_shape if keepdims else lead
    return lax.reshape(r, q_shape + tuple(out_rest))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, interpolation=None):
    """The ``q``-th quantiles (``0 <= q <= 1``) of ``a`` along ``axis``, as NumPy.

    ``method`` is ``'linear'`` (default), ``'lower'``, ``'higher'``, ``'nearest'`` or
    ``'midpoint'``.  A NaN in a slice makes its result NaN.  Differentiable in ``a`` and in
    ``q`` (piecewise linear).

    >>> fnp.quantile(fnp.array([1., 2., 3., 4.]), 0.5)
    Array(2.5, dtype=float32)
    """
    return _quantile(a, q, axis, interpolation or method, keepdims, "fnp.quantile")


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, interpolation=None):
    """The ``q``-th percentiles (``0 <= q <= 100``) of ``a``; see ``quantile``.

    >>> fnp.percentile(fnp.array([1., 2., 3., 4.]), 50)
    Array(2.5, dtype=float32)
    """
    q = _percent_to_fraction(q, "fnp.percentile")
    return _quantile(a, q, axis, interpolation or method, keepdims, "fnp.percentile")


def _percent_to_fraction(q, where):
    if not isinstance(q, (Array, Tracer)):
        qv = np.asarray(q, dtype=np.float64)
        if qv.size and (np.any(qv < 0) or np.any(qv > 100) or np.any(np.isnan(qv))):
            raise ValueError(f"{where}: percentiles must be in the range [0, 100]")
        return qv / 100
    qa = q
    if not isinstance(qa, Tracer):
        qv = np.asarray(qa)
        if qv.size and (np.any(qv < 0) or np.any(qv > 100) or np.any(np.isnan(qv))):
            raise ValueError(f"{where}: percentiles must be in the range [0, 100]")
    if get_aval(qa).dtype.kind in "biu":
        qa = lax.convert_element_type(qa, dtypes.default_float_dtype())
    return lax.div(qa, np.asarray(100, get_aval(qa).dtype)[()])


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along ``axis`` (the mean of the two middle values for even sizes).

    >>> fnp.median(fnp.array([3., 1., 2.]))
    Array(2., dtype=float32)
    """
    return _quantile(a, 0.5, axis, "linear", keepdims, "fnp.median")


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, interpolation=None):
    """``quantile`` ignoring NaNs (all-NaN slices give NaN).

    >>> fnp.nanquantile(fnp.array([1., fnp.nan, 3.]), 0.5)
    Array(2., dtype=float32)
    """
    return _quantile(a, q, axis, interpolation or method, keepdims, "fnp.nanquantile",
                     ignore_nan=True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, interpolation=None):
    """``percentile`` ignoring NaNs.

    >>> fnp.nanpercentile(fnp.array([1., fnp.nan, 3.]), 50)
    Array(2., dtype=float32)
    """
    q = _percent_to_fraction(q, "fnp.nanpercentile")
    return _quantile(a, q, axis, interpolation or method, keepdims, "fnp.nanpercentile",
                     ignore_nan=True)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``median`` ignoring NaNs.

    >>> fnp.nanmedian(fnp.array([1., fnp.nan, 3.]))
    Array(2., dtype=float32)
    """
    return _quantile(a, 0.5, axis, "linear", keepdims, "fnp.nanmedian", ignore_nan=True)


__all__ = ["sort", "argsort", "lexsort", "partition", "argpartition", "searchsorted",
           "unique", "median", "quantile", "percentile", "nanmedian", "nanquantile",
           "nanpercentile"]
