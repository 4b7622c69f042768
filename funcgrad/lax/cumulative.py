"""Cumulative primitives: cumsum, cumprod, cummax, cummin along one axis."""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ._util import canonicalize_axis, check_dtype


def _cum(name, kernel, kinds):
    p = Primitive(name)

    @p.def_impl
    def _impl(x, *, axis, reverse):
        if reverse:
            return np.flip(kernel(np.flip(x, axis), axis=axis), axis)
        return kernel(x, axis=axis)

    @p.def_abstract_eval
    def _abstract(x, *, axis, reverse):
        check_dtype(name, x, kinds)
        if not 0 <= axis < x.ndim:
            raise TypeError(f"{name}: axis {axis} out of range for shape {x.shape}")
        return x

    p.batch = lambda args, dims, *, axis, reverse: (
        p.bind(args[0], axis=axis + (1 if dims[0] <= axis else 0), reverse=reverse), dims[0])
    p.test_spec = {"sample": _cum_sampler(name)}
    return p


def _cum_sampler(name):
    def sample(rng, dtype):
        shape = [(5,), (3, 4), (2, 3, 2)][rng.integers(3)]
        axis = int(rng.integers(len(shape)))
        if name == "cumprod":   # moderate magnitudes, away from zero
            x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        else:                   # distinct values: no ties for cummax/cummin
            x = rng.standard_normal(shape)
        return [x.astype(dtype)], {"axis": axis, "reverse": bool(rng.random() < 0.5)}
    return sample


def _np_cumsum(x, axis):
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _np_cumprod(x, axis):
    return np.cumprod(x, axis=axis, dtype=x.dtype)


def _np_cummax(x, axis):
    return np.maximum.accumulate(x, axis=axis)


def _np_cummin(x, axis):
    return np.minimum.accumulate(x, axis=axis)


cumsum_p = _cum("cumsum", _np_cumsum, "num")
cumprod_p = _cum("cumprod", _np_cumprod, "num")
cummax_p = _cum("cummax", _np_cummax, "realnum")
cummin_p = _cum("cummin", _np_cummin, "realnum")

ad.deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [
    None if type(ct) is Zero else cumsum_p.bind(ct, axis=axis, reverse=not reverse)])


def _cumprod_jvp(primals, tangents, *, axis, reverse):
    """d cumprod_i = sum_{j<=i} t_j prod_{k<=i, k!=j} x_k: computed as an (n x n) masked
    product, exact when x has zeros (n is the scanned length)."""
    (x,), (t,) = primals, tangents
    ans = cumprod_p.bind(x, axis=axis, reverse=reverse)
    if type(t) is Zero:
        return ans, Zero.from_value(ans)
    from .elementwise import mul, select_n
    from .reductions import reduce_prod, reduce_sum
    from .structural import broadcast_in_dim, broadcasted_iota, full, moveaxis
    aval = get_aval(x)
    n = aval.shape[axis]
    xm = moveaxis(x, axis, -1)
    tm = moveaxis(t, axis, -1)
    lead = get_aval(xm).shape[:-1]
    nd = len(lead)
    # X[..., i, j, k] = x_k where k<=i and k!=j, else 1  (j,k over the axis)
    shape3 = lead + (n, n, n)
    xk = broadcast_in_dim(xm, shape3, tuple(range(nd)) + (nd + 2,))
    i = broadcasted_iota(np.int32, shape3, nd)
    j = broadcasted_iota(np.int32, shape3, nd + 1)
    k = broadcasted_iota(np.int32, shape3, nd + 2)
    from .elementwise import bitwise_and, ge, le, lt, ne
    i2 = broadcasted_iota(np.int32, lead + (n, n), nd)
    j2 = broadcasted_iota(np.int32, lead + (n, n), nd + 1)
    if reverse:
        keep = bitwise_and(ge(k, i), ne(k, j))
        contrib = ge(j2, i2)
    else:
        keep = bitwise_and(le(k, i), ne(k, j))
        contrib = le(j2, i2)
    ones = full(shape3, 1, aval.dtype)
    others = reduce_prod(select_n(keep, ones, xk), (nd + 2,))      # [..., i, j]
    tj = broadcast_in_dim(tm, lead + (n, n), tuple(range(nd)) + (nd + 1,))
    zeros = full(lead + (n, n), 0, aval.dtype)
    terms = select_n(contrib, zeros, mul(others, tj))
    dt = reduce_sum(terms, (nd + 1,))
    return ans, moveaxis(dt, -1, axis)


cumprod_p.jvp = _cumprod_jvp


def _cumext_jvp(prim):
    def rule(primals, tangents, *, axis, reverse):
        """The tangent follows the element that currently holds the running extreme
        (the latest one on ties)."""
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axis=axis, reverse=reverse)
        if type(t) is Zero:
            return ans, Zero.from_value(ans)
        from .elementwise import eq, max as lmax, min as lmin, select_n
        from .structural import broadcasted_iota
        from .indexing import take_along_axis
        aval = get_aval(x)
        idx = broadcasted_iota(np.int32, aval.shape, axis)
        from .elementwise import convert_element_type
        is_ext = eq(x, ans)
        cand = select_n(is_ext, convert_element_type(
            full_like_int(idx, -1 if not reverse else aval.shape[axis]), np.int32), idx)
        src = cummax_p.bind(cand, axis=axis, reverse=reverse) if not reverse else \
            cummin_p.bind(cand, axis=axis, reverse=reverse)
        del lmax, lmin
        return ans, take_along_axis(t, src, axis)
    return rule


def full_like_int(x, v):
    from .structural import full
    return full(get_aval(x).shape, v, np.int32)


cummax_p.jvp = _cumext_jvp(cummax_p)
cummin_p.jvp = _cumext_jvp(cummin_p)


def _mk(p):
    def f(x, axis=0, reverse=False):
        ax = canonicalize_axis(axis, get_aval(x).ndim)
        return p.bind(x, axis=ax, reverse=bool(reverse))
    f.__name__ = p.name
    f.__doc__ = f"``{p.name}`` of ``x`` along ``axis`` (``reverse=True`` runs from the end)."
    return f


cumsum = _mk(cumsum_p)
cumprod = _mk(cumprod_p)
cummax = _mk(cummax_p)
cummin = _mk(cummin_p)


__all__ = ["cumsum", "cumprod", "cummax", "cummin"]
