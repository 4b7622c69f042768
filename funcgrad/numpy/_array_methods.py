"""Operators and methods of ``Array`` and of tracers (installed on both classes)."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core.array import Array
from ..core.trace import Tracer, get_aval
from . import _creation, _products, _reductions, _shape, _ufuncs
from ._indexing import getitem


def _rev(f):
    return lambda self, other: f(other, self)


def _defer(f):
    def op(self, other):
        if isinstance(other, (list, tuple, dict, set, str)) or other is None:
            return NotImplemented
        return f(self, other)
    return op


def _astype(self, dtype, copy=False):
    from ..core import dtypes
    from ._promote import dtype_arg
    return lax.convert_element_type(self, dtype_arg(dtype, "astype"))


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return _shape.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return _shape.transpose(self, axes or None)


def _at(self):
    from ._advanced import AtIndexer
    return AtIndexer(self)


_METHODS = {
    "__add__": _defer(_ufuncs._fast_binary(np.add, _ufuncs.add)),
    "__radd__": _defer(_rev(_ufuncs.add)),
    "__sub__": _defer(_ufuncs._fast_binary(np.subtract, _ufuncs.subtract)),
    "__rsub__": _defer(_rev(_ufuncs.subtract)),
    "__mul__": _defer(_ufuncs._fast_binary(np.multiply, _ufuncs.multiply)),
    "__rmul__": _defer(_rev(_ufuncs.multiply)),
    "__truediv__": _defer(_ufuncs.true_divide),
    "__rtruediv__": _defer(_rev(_ufuncs.true_divide)),
    "__floordiv__": _defer(_ufuncs.floor_divide),
    "__rfloordiv__": _defer(_rev(_ufuncs.floor_divide)),
    "__mod__": _defer(_ufuncs.remainder),
    "__rmod__": _defer(_rev(_ufuncs.remainder)),
    "__divmod__": _defer(lambda a, b: (_ufuncs.floor_divide(a, b), _ufuncs.remainder(a, b))),
    "__pow__": _defer(_ufuncs.power),
    "__rpow__": _defer(_rev(_ufuncs.power)),
    "__matmul__": _defer(_products.matmul),
    "__rmatmul__": _defer(_rev(_products.matmul)),
    "__and__": _defer(_ufuncs.bitwise_and),
    "__rand__": _defer(_rev(_ufuncs.bitwise_and)),
    "__or__": _defer(_ufuncs.bitwise_or),
    "__ror__": _defer(_rev(_ufuncs.bitwise_or)),
    "__xor__": _defer(_ufuncs.bitwise_xor),
    "__rxor__": _defer(_rev(_ufuncs.bitwise_xor)),
    "__eq__": _defer(_ufuncs.equal),
    "__ne__": _defer(_ufuncs.not_equal),
    "__lt__": _defer(_ufuncs.less),
    "__le__": _defer(_ufuncs.less_equal),
    "__gt__": _defer(_ufuncs.greater),
    "__ge__": _defer(_ufuncs.greater_equal),
    "__neg__": _ufuncs.negative,
    "__pos__": _ufuncs.positive,
    "__abs__": _ufuncs.absolute,
    "__invert__": _ufuncs.invert,
    "__getitem__": getitem,
    "astype": _astype,
    "reshape": _reshape,
    "transpose": _transpose,
    "ravel": lambda self, order="C": _shape.ravel(self),
    "flatten": lambda self, order="C": _shape.ravel(self),
    "squeeze": lambda self, axis=None: _shape.squeeze(self, axis),
    "swapaxes": lambda self, a, b: _shape.swapaxes(self, a, b),
    "sum": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw:
        _reductions.sum(self, axis, dtype, keepdims=keepdims, **kw),
    "prod": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw:
        _reductions.prod(self, axis, dtype, keepdims=keepdims, **kw),
    "mean": lambda self, axis=None, dtype=None, out=None, keepdims=False:
        _reductions.mean(self, axis, dtype, keepdims=keepdims),
    "var": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        _reductions.var(self, axis, dtype, ddof=ddof, keepdims=keepdims),
    "std": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        _reductions.std(self, axis, dtype, ddof=ddof, keepdims=keepdims),
    "max": lambda self, axis=None, out=None, keepdims=False, **kw:
        _reductions.max(self, axis, keepdims=keepdims, **kw),
    "min": lambda self, axis=None, out=None, keepdims=False, **kw:
        _reductions.min(self, axis, keepdims=keepdims, **kw),
    "argmax": lambda self, axis=None, out=None, keepdims=False:
        _reductions.argmax(self, axis, keepdims=keepdims),
    "argmin": lambda self, axis=None, out=None, keepdims=False:
        _reductions.argmin(self, axis, keepdims=keepdims),
    "all": lambda self, axis=None, out=None, keepdims=False:
        _reductions.all(self, axis, keepdims=keepdims),
    "any": lambda self, axis=None, out=None, keepdims=False:
        _reductions.any(self, axis, keepdims=keepdims),
    "cumsum": lambda self, axis=None, dtype=None: _reductions.cumsum(self, axis, dtype),
    "cumprod": lambda self, axis=None, dtype=None: _reductions.cumprod(self, axis, dtype),
    "clip": lambda self, min=None, max=None: _ufuncs.clip(self, min, max),
    "round": lambda self, decimals=0: _ufuncs.round(self, decimals),
    "dot": lambda self, b: _products.dot(self, b),
    "conj": lambda self: self,
    "conjugate": lambda self: self,
    "diagonal": lambda self, offset=0, axis1=0, axis2=1: __import__(
        "funcgrad.numpy._indexing", fromlist=["diagonal"]).diagonal(self, offset, axis1, axis2),
}

_PROPS = {
    "T": property(lambda self: _shape.transpose(self)),
    "mT": property(lambda self: _shape.matrix_transpose(self)),
    "at": property(_at),
    "real": property(lambda self: self),
}


def install():
    for cls in (Array, Tracer):
        for k, v in _METHODS.items():
            setattr(cls, k, v)
        for k, v in _PROPS.items():
            setattr(cls, k, v)
    # an Array compared with == is an array; keep identity hashing refused
    Array.__hash__ = Array.__hash__
    Tracer.__hash__ = Tracer.__hash__


install()
del _creation, get_aval
