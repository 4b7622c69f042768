"""Helpers for defining primitives: shape rules, elementwise families, batching helpers."""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.primitive import Primitive
from ..core.trace import Tracer, get_aval

_KINDS = {
    "float": "fc", "real": "f", "num": "iufc", "int": "iu", "bool": "b", "intbool": "iub",
    "any": "biufc", "realnum": "iuf", "signed": "ifc",
}
_KIND_NAMES = {"fc": "floating-point", "f": "real floating-point", "iufc": "numeric",
               "iu": "integer", "b": "boolean", "iub": "integer or boolean",
               "biufc": "any", "iuf": "real numeric", "ifc": "signed numeric"}


def check_dtype(name, aval, kinds):
    ks = _KINDS[kinds]
    if aval.dtype.kind not in ks:
        raise TypeError(f"{name} does not accept dtype {aval.dtype.name}; it needs a "
                        f"{_KIND_NAMES[ks]} dtype. Convert with x.astype(...) first.")


def canonicalize_axis(axis, ndim, name="axis"):
    a = int(axis)
    if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
        raise ValueError(f"{name} {axis} is out of bounds for an array of rank {ndim}")
    return a % ndim if ndim else 0


def broadcasting_shape(name, *avals):
    """Elementwise operands: equal shapes, or rank-0 operands that broadcast."""
    shape = None
    for a in avals:
        if a.ndim == 0:
            continue
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise TypeError(
                f"{name} got incompatible shapes {', '.join(str(x.shape) for x in avals)}; "
                "lax elementwise operations need equal shapes (or scalars). Use "
                "funcgrad.numpy functions for NumPy broadcasting, or lax.broadcast_in_dim.")
    return shape if shape is not None else ()


def same_dtype(name, *avals):
    dt = avals[0].dtype
    for a in avals[1:]:
        if a.dtype != dt:
            raise TypeError(
                f"{name} requires arguments to have the same dtype, got "
                f"{', '.join(a.dtype.name for a in avals)}. Convert with "
                "lax.convert_element_type (or use funcgrad.numpy, which promotes).")
    return dt


def elementwise_batch_rule(prim):
    """Batch an n-ary elementwise primitive: align batch dims; broadcast unbatched arrays."""
    from ..interpreters.batching import moveaxis
    from .structural import broadcast_in_dim

    def rule(args, dims, **params):
        ranks = [get_aval(a).ndim for a, d in zip(args, dims)]
        bd = next(d for d in dims if d is not None)
        if all(d == bd or (d is None and r == 0) for d, r in zip(dims, ranks)):
            # batched operands agree; unbatched ones are scalars
            same = {get_aval(a).shape for a, d in zip(args, dims) if d is not None}
            if len(same) == 1:
                return prim.bind(*args, **params), bd
        size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
        new = []
        ex_shape = ()   # per-example output shape: unbatched operands count too
        for a, d in zip(args, dims):
            if d is not None:
                a = moveaxis(a, d, 0)
            sh = get_aval(a).shape if d is None else get_aval(a).shape[1:]
            if len(sh) > len(ex_shape):
                ex_shape = sh
            new.append((a, d))
        out_shape = (size,) + tuple(ex_shape)
        res = []
        for a, d in new:
            sh = get_aval(a).shape
            if d is None:
                if len(sh) == 0:
                    res.append(a)
                    continue
                a = broadcast_in_dim(a, out_shape, tuple(range(1, len(out_shape))))
            elif sh != out_shape:
                a = broadcast_in_dim(a, out_shape, tuple(range(len(sh))))
            res.append(a)
        return prim.bind(*res, **params), 0
    return rule


def elementwise(name, kernel, kinds="any", cuda=None, nargs=1, out_dtype=None,
                weak_out=True, test_spec=None):
    """Define an elementwise primitive with its shape rule, eager kernel and batching.

    ``kernel`` is NumPy-ufunc-like (supports ``out=``); it runs eagerly and inside fused
    jit kernels.  ``cuda`` is a CUDA expression template over ``{0}``, ``{1}`` ...
    """
    p = Primitive(name)
    p.elementwise = True
    p.impl = kernel
    p.lowering = {"ufunc": kernel, "cuda": cuda, "kinds": _KINDS[kinds]}

    def abstract(*avals, **params):
        if len(avals) != nargs:
            raise TypeError(f"{name} takes {nargs} operand(s), got {len(avals)}")
        for a in avals:
            check_dtype(name, a, kinds)
        shape = broadcasting_shape(name, *avals)
        dt = same_dtype(name, *avals) if nargs > 1 else avals[0].dtype
        if out_dtype is not None:
            dt = np.dtype(out_dtype)
        weak = weak_out and out_dtype is None and all(a.weak_type for a in avals)
        return ShapedArray(shape, dt, weak)

    p.abstract_eval = abstract
    p.batch = elementwise_batch_rule(p)
    p.test_spec = dict(test_spec or {}, nargs=nargs, kinds=kinds)
    return p


_OPERAND_TYPES = (Tracer, Array, np.ndarray, np.generic)


def as_operand(x, like=None):
    """Turn Python scalars into NumPy scalars of ``like``'s dtype (or the default dtype)."""
    if isinstance(x, (Tracer, Array, np.ndarray, np.generic)):
        return x
    if isinstance(x, (bool, int, float, complex)):
        if like is not None:
            dt = get_aval(like).dtype
            return np.asarray(x, dt)[()]
        return np.asarray(x, dtypes.python_scalar_dtype(x))[()]
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    return x


def operands(*xs):
    """Make Python scalars match the dtype of the first array operand."""
    for x in xs:
        if not isinstance(x, _OPERAND_TYPES):
            break
    else:
        return list(xs)   # nothing to convert
    like = next((x for x in xs if isinstance(x, (Tracer, Array, np.ndarray, np.generic))), None)
    return [as_operand(x, like) for x in xs]


def unbroadcast_scalar(ct, aval):
    """Cotangent of an operand that was a scalar broadcast against a larger shape."""
    from .reductions import reduce_sum
    if aval.ndim == 0 and get_aval(ct).ndim != 0:
        return reduce_sum(ct, tuple(range(get_aval(ct).ndim)))
    return ct
