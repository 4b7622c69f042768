"""Pieces shared by the interpreters: symbolic zeros, ``add_any`` and hooks into lax.

The interpreters know no concrete primitive.  The few array operations they need
(zeros, moving a batch axis, broadcasting a new axis) are registered here by
``funcgrad.lax`` when it is imported (``set_hooks``).
"""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval


class Zero:
    """A symbolic zero tangent or cotangent of type ``aval``."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"

    @staticmethod
    def from_value(x):
        return Zero(get_aval(x).strip_weak_type())


class _Hooks:
    """Array operations provided by lax: ``zeros(aval)``, ``moveaxis(x, src, dst)``,
    ``broadcast_axis(x, size, axis)``, ``convert(x, dtype)``."""

    def zeros(self, aval):
        return np.zeros(aval.shape, aval.dtype)

    moveaxis = None
    broadcast_axis = None
    convert = None


hooks = _Hooks()


def set_hooks(**kw):
    for k, v in kw.items():
        setattr(hooks, k, v)


def instantiate(t):
    """A concrete (or traced) array for a tangent that may be a symbolic ``Zero``."""
    return hooks.zeros(t.aval) if type(t) is Zero else t


def zeros_like(x):
    return hooks.zeros(get_aval(x).strip_weak_type())


add_any_p = Primitive("add_any")
add_any_p.elementwise = True
add_any_p.lowering = {"ufunc": np.add, "cuda": "({0} + {1})"}


@add_any_p.def_impl
def _add_any_impl(x, y):
    return np.add(x, y)


@add_any_p.def_abstract_eval
def _add_any_abstract(x, y):
    if x.shape != y.shape or x.dtype != y.dtype:
        raise TypeError(f"add_any: operands must have equal types, got {x.str_short()} "
                        f"and {y.str_short()}")
    return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


def add_tangents(a, b):
    """Sum two tangents/cotangents, either of which may be a symbolic ``Zero``."""
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    return add_any_p.bind(a, b)


def _add_any_jvp(primals, tangents):
    return add_any_p.bind(*primals), add_tangents(*tangents)


add_any_p.jvp = _add_any_jvp
add_any_p.transpose = lambda ct, x, y: [ct, ct]
add_any_p.linear = True


def _add_any_batch(args, dims):
    x, y = args
    dx, dy = dims
    if dx == dy:
        return add_any_p.bind(x, y), dx
    size = (x.shape[dx] if dx is not None else y.shape[dy])
    x = hooks.broadcast_axis(x, size, 0) if dx is None else hooks.moveaxis(x, dx, 0)
    y = hooks.broadcast_axis(y, size, 0) if dy is None else hooks.moveaxis(y, dy, 0)
    return add_any_p.bind(x, y), 0


add_any_p.batch = _add_any_batch
add_any_p.test_spec = {"nargs": 2, "same_shape": True}
