"""Reductions: reduce_sum, reduce_max, reduce_min, reduce_prod, reduce_and, reduce_or,
argmax, argmin.  ``axes`` are sorted non-negative ints.

Convention: the derivative of ``reduce_max``/``reduce_min`` splits the tangent evenly
among tied maxima (as JAX does).
"""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ._util import canonicalize_axis, check_dtype


def _reduced_shape(shape, axes):
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _check_axes(name, aval, axes):
    if any(not 0 <= a < aval.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} invalid for an operand of shape {aval.shape}")


def _batch_axes(axes, d):
    return tuple(a if a < d else a + 1 for a in axes)


def _out_bdim(axes, d):
    return d - sum(1 for a in axes if a < d)


def _reduction(name, kernel, kinds, weak=True):
    p = Primitive(name)

    @p.def_impl
    def _impl(x, *, axes):
        return kernel(x, axis=axes)

    @p.def_abstract_eval
    def _abstract(x, *, axes):
        check_dtype(name, x, kinds)
        _check_axes(name, x, axes)
        return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type and weak)

    def _batch(args, dims, *, axes):
        (x,), (d,) = args, dims
        return p.bind(x, axes=_batch_axes(axes, d)), _out_bdim(_batch_axes(axes, d), d)

    p.batch = _batch
    p.test_spec = _reduction_spec(name)
    p.lowering = {"reduce": kernel}
    return p


def _reduction_spec(name):
    def sample(rng, dtype):
        shape = [(5,), (3, 4), (2, 3, 2)][rng.integers(3)]
        axes = tuple(i for i in range(len(shape)) if rng.random() < 0.5) or (0,)
        if name in ("reduce_and", "reduce_or"):
            x = rng.random(shape) < (0.8 if name == "reduce_and" else 0.2)
        elif name == "reduce_prod":    # moderate magnitudes, away from zero
            x = (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)
        else:                          # distinct values: no ties for max/min
            x = rng.standard_normal(shape).astype(dtype)
        return [x], {"axes": axes}
    spec = {"sample": sample}
    if name in ("reduce_and", "reduce_or"):
        spec["nondiff"] = True
    return spec


def _np_sum(x, axis):
    return np.sum(x, axis=axis, dtype=x.dtype) if axis else x


def _np_prod(x, axis):
    return np.prod(x, axis=axis, dtype=x.dtype) if axis else x


def _np_max(x, axis):
    return np.max(x, axis=axis) if axis else x


def _np_min(x, axis):
    return np.min(x, axis=axis) if axis else x


def _np_all(x, axis):
    return np.all(x, axis=axis) if axis else x


def _np_any(x, axis):
    return np.any(x, axis=axis) if axis else x


reduce_sum_p = _reduction("reduce_sum", _np_sum, "num")
reduce_prod_p = _reduction("reduce_prod", _np_prod, "num")
reduce_max_p = _reduction("reduce_max", _np_max, "any")
reduce_min_p = _reduction("reduce_min", _np_min, "any")
reduce_and_p = _reduction("reduce_and", _np_all, "bool")
reduce_or_p = _reduction("reduce_or", _np_any, "bool")


def _sum_transpose(ct, x, *, axes):
    if type(ct) is Zero:
        return [None]
    from .structural import broadcast_in_dim
    shape = x.aval.shape
    keep = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, keep)]


ad.deflinear(reduce_sum_p, _sum_transpose)


def _minmax_jvp(prim):
    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        if type(t) is Zero:
            return ans, Zero.from_value(ans)
        from .elementwise import convert_element_type, div, eq, mul
        from .structural import broadcast_in_dim
        shape = get_aval(x).shape
        keep = tuple(i for i in range(len(shape)) if i not in axes)
        mask = convert_element_type(eq(x, broadcast_in_dim(ans, shape, keep)), get_aval(t).dtype)
        num = reduce_sum(mul(t, mask), axes)
        den = reduce_sum(mask, axes)
        return ans, div(num, den)
    return rule


reduce_max_p.jvp = _minmax_jvp(reduce_max_p)
reduce_min_p.jvp = _minmax_jvp(reduce_min_p)
ad.defjvp(reduce_and_p, None)
ad.defjvp(reduce_or_p, None)


def _prod_jvp(primals, tangents, *, axes):
    """d prod = sum_i t_i * prod_{j != i} x_j, computed with exclusive cumulative products
    (exact at zeros)."""
    (x,), (t,) = primals, tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    if type(t) is Zero:
        return ans, Zero.from_value(ans)
    from .elementwise import mul
    from .structural import reshape, transpose
    aval = get_aval(x)
    keep = [i for i in range(aval.ndim) if i not in axes]
    perm = keep + list(axes)
    kshape = tuple(aval.shape[i] for i in keep)
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    xr = reshape(transpose(x, perm), kshape + (n,))
    tr = reshape(transpose(t, perm), kshape + (n,))
    others = _exclusive_products(xr)
    return ans, reduce_sum(mul(tr, others), (len(kshape),))


def _exclusive_products(x):
    """``out[..., i] = prod_{j != i} x[..., j]`` along the last axis."""
    from .cumulative import cumprod
    from .elementwise import mul
    from .structural import concatenate, full, rev, slice as lslice
    aval = get_aval(x)
    n = aval.shape[-1]
    one = full(aval.shape[:-1] + (1,), 1, aval.dtype)
    nd = aval.ndim
    if n == 1:
        return full(aval.shape, 1, aval.dtype)
    head = lslice(x, (0,) * nd, aval.shape[:-1] + (n - 1,))
    tail = lslice(x, (0,) * (nd - 1) + (1,), aval.shape)
    before = concatenate([one, cumprod(head, nd - 1)], nd - 1)
    after = concatenate([rev(cumprod(rev(tail, (nd - 1,)), nd - 1), (nd - 1,)), one], nd - 1)
    return mul(before, after)


reduce_prod_p.jvp = _prod_jvp


def _norm_axes(x, axes):
    nd = x._value.ndim if type(x) is Array else get_aval(x).ndim
    try:
        key = (axes, nd)
        r = _NORM_AXES.get(key)
    except TypeError:     # a list: not cached
        r = key = None
    if r is None:
        r = _norm_axes_uncached(nd, axes)
        if key is not None:
            if len(_NORM_AXES) >= 1024:
                _NORM_AXES.clear()
            _NORM_AXES[key] = r
    return r


_NORM_AXES = {}   # valid (axes, ndim) -> sorted canonical axes


def _norm_axes_uncached(nd, axes):
    if axes is None:
        return tuple(range(nd))
    if isinstance(axes, int):
        axes = (axes,)
    return tuple(sorted({canonicalize_axis(a, nd) for a in axes}))


def reduce_sum(x, axes=None):
    """Sum over ``axes``."""
    axes = _norm_axes(x, axes)
    return reduce_sum_p.bind(x, axes=axes) if axes else x


def reduce_prod(x, axes=None):
    """Product over ``axes`` (all axes when None).

    >>> lax.reduce_prod(np.ones((2, 3), np.float32), (1,))
    Array([1., 1.], dtype=float32)
    """
    axes = _norm_axes(x, axes)
    return reduce_prod_p.bind(x, axes=axes) if axes else x


def reduce_max(x, axes=None):
    """Maximum (ties share the derivative evenly) over ``axes`` (all axes when None).

    >>> lax.reduce_max(np.ones((2, 3), np.float32), (1,))
    Array([1., 1.], dtype=float32)
    """
    axes = _norm_axes(x, axes)
    return reduce_max_p.bind(x, axes=axes) if axes else x


def reduce_min(x, axes=None):
    """Minimum (ties share the derivative evenly) over ``axes`` (all axes when None).

    >>> lax.reduce_min(np.ones((2, 3), np.float32), (1,))
    Array([1., 1.], dtype=float32)
    """
    axes = _norm_axes(x, axes)
    return reduce_min_p.bind(x, axes=axes) if axes else x


def reduce_and(x, axes=None):
    """Logical and over ``axes`` (all axes when None).

    >>> lax.reduce_and(np.array([[True, False], [True, True]]), (1,))
    Array([False,  True], dtype=bool)
    """
    axes = _norm_axes(x, axes)
    return reduce_and_p.bind(x, axes=axes) if axes else x


def reduce_or(x, axes=None):
    """Logical or over ``axes`` (all axes when None).

    >>> lax.reduce_or(np.array([[True, False], [True, True]]), (1,))
    Array([ True,  True], dtype=bool)
    """
    axes = _norm_axes(x, axes)
    return reduce_or_p.bind(x, axes=axes) if axes else x


# ----------------------------------------------------------------------------- argmax / argmin

def _arg_reduction(name, kernel):
    p = Primitive(name)

    @p.def_impl
    def _impl(x, *, axes, index_dtype):
        return kernel(x, axis=axes[0]).astype(index_dtype, copy=False)

    @p.def_abstract_eval
    def _abstract(x, *, axes, index_dtype):
        check_dtype(name, x, "realnum")
        if len(axes) != 1:
            raise TypeError(f"{name} reduces exactly one axis, got {axes}")
        _check_axes(name, x, axes)
        if x.shape[axes[0]] == 0:
            raise ValueError(f"{name} of an empty axis (shape {x.shape}, axis {axes[0]})")
        return ShapedArray(_reduced_shape(x.shape, axes), index_dtype, False)

    def _batch(args, dims, *, axes, index_dtype):
        (x,), (d,) = args, dims
        ax = _batch_axes(axes, d)
        return p.bind(x, axes=ax, index_dtype=index_dtype), _out_bdim(ax, d)

    p.batch = _batch
    ad.defjvp(p, None)
    p.test_spec = {"nondiff": True, "sample": lambda rng, dtype: (
        [rng.standard_normal((3, 4)).astype(dtype)],
        {"axes": (int(rng.integers(2)),), "index_dtype": np.dtype(np.int32)})}
    return p


argmax_p = _arg_reduction("argmax", np.argmax)
argmin_p = _arg_reduction("argmin", np.argmin)


def argmax(x, axis, index_dtype=np.int32):
    """Index of the first maximum along ``axis``."""
    ax = canonicalize_axis(axis, get_aval(x).ndim)
    return argmax_p.bind(x, axes=(ax,), index_dtype=np.dtype(index_dtype))


def argmin(x, axis, index_dtype=np.int32):
    """Index of the first minimum along ``axis``."""
    ax = canonicalize_axis(axis, get_aval(x).ndim)
    return argmin_p.bind(x, axes=(ax,), index_dtype=np.dtype(index_dtype))


__all__ = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or", "argmax", "argmin"]
