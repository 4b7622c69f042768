"""Abstract values: what tracing knows about an array (shape, dtype, weak type)."""
from __future__ import annotations

import numpy as np

from . import dtypes


class ShapedArray:
    """The type of an array: ``ShapedArray((3,), float32)`` prints as ``f32[3]``."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = shape if type(shape) is tuple else tuple(int(d) for d in shape)
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> "ShapedArray":
        return self if not self.weak_type else ShapedArray(self.shape, self.dtype, False)

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak' if self.weak_type else ''})"

    __str__ = str_short

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        h = self._hash
        if h is None:
            h = self._hash = hash((self.shape, self.dtype, self.weak_type))
        return h

    def same_type(self, other) -> bool:
        """Equal up to weak type."""
        return self.shape == other.shape and self.dtype == other.dtype


def tangent_dtype(dtype):
    """The dtype of tangents of a value of ``dtype`` (float0-like: None for ints/bools)."""
    return dtype if dtypes.is_inexact(dtype) else None


def raise_to_shaped(aval) -> ShapedArray:
    return aval
