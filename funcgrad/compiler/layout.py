"""Memory-layout inference: which axis order would eager evaluation give each value?

NumPy's ufuncs allocate their outputs in the memory order of their inputs ("K" order), so
eagerly ``(x.T * 3.0).sum(0)`` reduces an F-ordered array, and a pairwise float sum
depends on the memory order.  To agree bit for bit with eager mode, the compiler
allocates every materialized value in the layout eager mode would have given it, and
runs reductions on register (C-ordered) temporaries only when that layout is C order.

The inference is exact because it runs the primitives' own kernels on tiny *shadow*
arrays: every dimension longer than 2 shrunk to 2, strides in the same order.  Unknown
(opaque) primitives are assumed to return C-ordered arrays.

>>> import numpy as np
>>> axis_order(np.ones((3, 4)).T)
(1, 0)
"""
from __future__ import annotations

import warnings

import numpy as np

from ..core.ir import DropVar, Literal, Var

__all__ = ["shrink", "axis_order", "is_c_order", "shadow_for", "infer_layouts",
           "empty_in_order"]


def shrink(shape):
    return tuple(d if d <= 1 else 2 for d in shape)


def axis_order(a) -> tuple:
    """The axes of ``a`` that are longer than 1, from the largest |stride| to the smallest
    (ties keep axis order): the order in which memory is laid out."""
    shape, strides = a.shape, a.strides
    axes = [i for i in range(len(shape)) if shape[i] > 1]
    return tuple(sorted(axes, key=lambda i: -abs(strides[i])))


def is_c_order(order) -> bool:
    return all(order[i] < order[i + 1] for i in range(len(order) - 1))


def full_perm(shape, order):
    """A permutation of all axes of ``shape`` putting the non-unit axes in ``order`` (unit
    axes keep their places relative to the start)."""
    order = list(order)
    units = [i for i in range(len(shape)) if shape[i] <= 1]
    perm = []
    it = iter(order)
    for i in range(len(shape)):
        if shape[i] <= 1:
            perm.append(i)
        else:
            perm.append(next(it))
    del units
    return tuple(perm)


def empty_in_order(shape, dtype, order):
    """An uninitialized array of ``shape`` laid out with its non-unit axes in ``order``."""
    if is_c_order(order):
        return np.empty(shape, dtype)
    perm = full_perm(shape, order)
    base = np.empty(tuple(shape[p] for p in perm), dtype)
    return base.transpose(tuple(int(i) for i in np.argsort(perm)))


def shadow_for(aval, order=None):
    """A small array of ``aval``'s dtype laid out in ``order`` (default C order)."""
    shape = shrink(aval.shape)
    if order is None or is_c_order(order):
        return np.ones(shape, aval.dtype)
    a = empty_in_order(shape, aval.dtype, order)
    a[...] = 1
    return a


_VIEW_LIKE = {"transpose", "squeeze", "expand_dims", "rev", "broadcast_in_dim",
              "stop_gradient"}


def _nonunit(shape):
    return [d for d in shape if d > 1]


def _shadow_eqn(e, ins):
    p = e.primitive
    name = p.name
    outs = e.outvars
    if p.multiple_results or len(outs) != 1 or type(outs[0]) is DropVar:
        return None
    oa = outs[0].aval
    params = e.params
    try:
        if p.elementwise:
            r = p.impl(*ins, **params)
        elif name == "broadcast_in_dim":
            r = p.impl(ins[0], shape=shrink(params["shape"]),
                       broadcast_dimensions=params["broadcast_dimensions"])
        elif name in _VIEW_LIKE:
            r = p.impl(*ins, **params)
        elif name == "reshape":
            x = ins[0]
            if params.get("dimensions") is None and _nonunit(x.shape) == _nonunit(
                    shrink(oa.shape)) and not is_c_order(axis_order(x)):
                r = np.reshape(x, shrink(oa.shape))
            else:
                return None
        elif "reduce" in (p.lowering or {}) or name in ("argmax", "argmin"):
            r = p.impl(*ins, **params)
        else:
            return None
    except Exception:  # noqa: BLE001 - any failure: assume C order
        return None
    r = np.asarray(r)
    if r.shape != shrink(oa.shape):
        return None
    return r


def infer_layouts(jaxpr, in_orders=None):
    """``{var: axis order}`` for every variable of ``jaxpr`` (inputs in ``in_orders``,
    default C order), as eager evaluation would lay them out."""
    shadows = {}
    for i, v in enumerate(jaxpr.invars):
        order = None if in_orders is None else in_orders[i]
        shadows[v] = shadow_for(v.aval, order)
    for v in jaxpr.constvars:
        shadows[v] = shadow_for(v.aval)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for e in jaxpr.eqns:
            ins = []
            for v in e.invars:
                if type(v) is Literal:
                    ins.append(v.val)
                else:
                    s = shadows.get(v)
                    ins.append(s if s is not None else shadow_for(v.aval))
            r = _shadow_eqn(e, ins)
            for o in e.outvars:
                if type(o) is Var:
                    shadows[o] = r if r is not None and len(e.outvars) == 1 else \
                        shadow_for(o.aval)
    return {v: axis_order(s) for v, s in shadows.items()}
