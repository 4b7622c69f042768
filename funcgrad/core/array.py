"""The immutable ``Array``: a concrete value outside any transformation.

Operators, indexing and ``.at[]`` are installed by ``funcgrad.numpy`` (the layer that
knows the numpy API); the core only defines storage and the protocol.
"""
from __future__ import annotations

import numpy as np

from . import dtypes, trace as _trace
from .abstract import ShapedArray
from .backend import device_of_raw


class Array:
    """An immutable n-dimensional array on a device (numpy CPU or cupy GPU).

    >>> import funcgrad.numpy as fnp
    >>> x = fnp.array([1.0, 2.0])
    >>> (x * 2).tolist()
    [2.0, 4.0]
    """

    __slots__ = ("_value", "_weak", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None   # numpy defers binary operators to us

    def __init__(self, value, weak_type: bool = False):
        if type(value) is not np.ndarray:
            value = _as_raw(value)
        self._value = value
        self._weak = weak_type

    # --- metadata
    @property
    def aval(self) -> ShapedArray:
        v = self._value
        return ShapedArray(v.shape, v.dtype, self._weak)

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return self._value.size

    @property
    def weak_type(self) -> bool:
        return self._weak

    @property
    def nbytes(self):
        return self._value.nbytes

    @property
    def device(self):
        """The ``Device`` holding this array."""
        return device_of_raw(self._value)

    def devices(self):
        return {self.device}

    def block_until_ready(self):
        """Wait for pending device work (a no-op on the numpy backend); returns self."""
        v = self._value
        if type(v) is not np.ndarray and hasattr(v, "device"):
            v.device.synchronize()
        return self

    # --- conversion
    def __array__(self, dtype=None, copy=None):
        v = self._value
        if type(v) is not np.ndarray:
            v = v.get()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        view = v.view()
        view.flags.writeable = False
        return view

    def tolist(self):
        return np.asarray(self).tolist()

    def item(self, *args):
        return np.asarray(self).item(*args)

    def __bool__(self):
        return bool(self._value)

    def __int__(self):
        return int(self._value)

    def __float__(self):
        return float(self._value)

    def __complex__(self):
        return complex(self._value)

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer arrays can be used as an index, not {self.dtype}")
        return int(self._value)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (Array(v) for v in self._value)

    def __hash__(self):
        raise TypeError("unhashable type: 'Array'; use tuple(x.tolist()) as a key")

    def __setitem__(self, idx, value):
        raise TypeError(
            "funcgrad arrays are immutable and do not support item assignment; "
            "use x = x.at[idx].set(value) instead")

    def __delitem__(self, idx):
        raise TypeError("funcgrad arrays are immutable: deletion is not supported")

    def __repr__(self):
        v = np.asarray(self)
        body = np.array2string(v, separator=", ", prefix="Array(")
        return f"Array({body}, dtype={v.dtype}{', weak_type=True' if self._weak else ''})"

    def __str__(self):
        return str(np.asarray(self))

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (_rebuild, (np.asarray(self).copy(), self._weak))

    def copy(self):
        return self


def _rebuild(value, weak):
    return Array(value, weak)


def _as_raw(value):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    mod = type(value).__module__
    if mod.startswith("cupy"):
        return value
    return np.asarray(value)


_trace._Array = Array


def aval_of(x) -> ShapedArray:
    """Abstract value of a constant: ``Array``, NumPy array/scalar or Python scalar."""
    if type(x) is Array:
        return x.aval
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), dtypes.check_supported(x.dtype, "funcgrad"), False)
    if isinstance(x, (bool, int, float, complex)):
        dt = dtypes.python_scalar_dtype(x)
        return ShapedArray((), dt, not isinstance(x, bool))
    if isinstance(x, _trace.Tracer):
        return x.aval
    if hasattr(x, "__cuda_array_interface__"):
        return ShapedArray(x.shape, x.dtype, False)
    raise TypeError(f"{type(x).__name__} is not a valid funcgrad array type; pass arrays, "
                    "NumPy arrays or Python scalars (under jit, mark other arguments static "
                    "with static_argnums or static_argnames)")


_trace._aval_of[0] = aval_of
