"""Turning user values into operands: dtype promotion (JAX's lattice with weak types)
and NumPy broadcasting, expressed with lax primitives."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer, _state, get_aval

_SCALARS = (bool, int, float, complex)


def is_python_scalar(x) -> bool:
    """A weakly typed Python scalar (NumPy scalars such as ``np.float64(1)`` subclass
    ``float`` but are strongly typed: they keep their dtype)."""
    return isinstance(x, _SCALARS) and not isinstance(x, np.generic)


def dtype_arg(dtype, where="funcgrad.numpy"):
    """A ``dtype=`` argument as a supported NumPy dtype.  The Python types ``int``,
    ``float`` and ``complex`` mean the default widths (32-bit unless ``enable_x64``), as
    in JAX; NumPy dtypes are taken as given.

    >>> dtype_arg(int), dtype_arg('float64')
    (dtype('int32'), dtype('float64'))
    """
    if dtype is int:
        return dtypes.default_int_dtype()
    if dtype is float:
        return dtypes.default_float_dtype()
    if dtype is complex:
        return dtypes.default_complex_dtype()
    if dtype is bool:
        return dtypes.bool_
    return dtypes.check_supported(dtype, where)


def is_arraylike(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic) + _SCALARS) or hasattr(
        x, "__cuda_array_interface__")


def asarray(x, dtype=None, where="funcgrad.numpy"):
    """Make ``x`` an operand: Arrays/tracers pass, Python data becomes an ``Array``."""
    if isinstance(x, (Array, Tracer)):
        if dtype is not None:
            return lax.convert_element_type(x, dtype_arg(dtype, where))
        return x
    if is_python_scalar(x):
        dt = dtype_arg(dtype, where) if dtype is not None else \
            dtypes.python_scalar_dtype(x)
        return Array(np.asarray(x, dt), weak_type=dtype is None and not isinstance(x, bool))
    if isinstance(x, (np.ndarray, np.generic)):
        v = np.array(x, dtype=dtype_arg(dtype, where)) if dtype is not None else np.array(x)
        dtypes.check_supported(v.dtype, where)
        return Array(v)
    if isinstance(x, (list, tuple)):
        if any(isinstance(e, Tracer) for e in _iter_leaves(x)):
            from ._shape import stack
            return stack([asarray(e, dtype, where) for e in x])
        if any(isinstance(e, Array) for e in _iter_leaves(x)):
            v = np.array([np.asarray(e) if isinstance(e, Array) else e for e in x])
            if dtype is None and v.dtype == np.float64 and not any(
                    isinstance(e, Array) and e.dtype == np.float64 for e in _iter_leaves(x)):
                v = v.astype(dtypes.default_float_dtype())
        else:
            v = np.array(x)
        if dtype is not None:
            v = v.astype(dtype_arg(dtype, where))
        else:
            v = _default_python_dtype(v, x)
        dtypes.check_supported(v.dtype, where)
        return Array(v)
    if hasattr(x, "__cuda_array_interface__"):
        return Array(x)
    if hasattr(x, "__array__"):
        return asarray(np.asarray(x), dtype, where)
    raise TypeError(f"{where}: cannot convert {type(x).__name__} to an array")


def _iter_leaves(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _iter_leaves(e)
    else:
        yield x


def _default_python_dtype(v, x):
    """Python lists default to float32/int32 (64-bit with enable_x64)."""
    if any(isinstance(e, (np.ndarray, np.generic)) for e in _iter_leaves(x)):
        return v
    k = v.dtype.kind
    if k == "f":
        return v.astype(dtypes.default_float_dtype())
    if k in "iu":
        return v.astype(dtypes.default_int_dtype())
    if k == "c":
        return v.astype(dtypes.default_complex_dtype())
    return v


def aval_pair(x):
    """``(dtype, weak)`` of an operand without materializing Python scalars."""
    if type(x) is Array:
        return x._value.dtype, x._weak
    if isinstance(x, Tracer):
        a = x.aval
        return a.dtype, a.weak_type
    if is_python_scalar(x):
        return dtypes.python_scalar_dtype(x), not isinstance(x, bool)
    a = get_aval(x)
    return a.dtype, a.weak_type


def result_dtype(*args):
    return dtypes.promote_types(*[aval_pair(a) for a in args])


def broadcast_shapes(*shapes, where="funcgrad.numpy"):
    """NumPy's broadcasting of shapes; ``TypeError`` naming the shapes when incompatible."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        d = 1
        for s in shapes:
            k = i - (nd - len(s))
            if k < 0:
                continue
            n = s[k]
            if n == 1:
                continue
            if d != 1 and n != d:
                raise TypeError(f"{where}: incompatible shapes for broadcasting: "
                                f"{', '.join(str(tuple(s)) for s in shapes)}")
            d = n
        out.append(d)
    return tuple(out)


def broadcast_to_shape(x, shape):
    xs = x._value.shape if type(x) is Array else get_aval(x).shape
    if xs == shape:
        return x
    nd = len(shape)
    dims = tuple(range(nd - len(xs), nd))
    return lax.broadcast_in_dim(x, shape, dims)


def _broadcast_pair(a, b, sa, sb, name):
    """Two operands of one type and different shapes, broadcast as ``promote`` does."""
    shape = _BSHAPES.get((sa, sb))
    if shape is None:
        shape = broadcast_shapes(sa, sb, where=name)
        if len(_BSHAPES) >= 1024:
            _BSHAPES.clear()
        _BSHAPES[(sa, sb)] = shape
    if sa != shape and sa != ():
        a = broadcast_to_shape(a, shape)
    if sb != shape and sb != ():
        b = broadcast_to_shape(b, shape)
    return [a, b]


_BSHAPES = {}   # broadcast_shapes results of compatible shape pairs (bounded)


def _scalar_operand(v, dt, weak):
    """A Python scalar as an operand of dtype ``dt``: a NumPy scalar, or a weakly typed 0-d
    Array when the result is weak (so ``weak_array * 2`` stays weak, as in JAX)."""
    if weak:
        return Array(np.asarray(v, dt), weak_type=True)
    return np.asarray(v, dt)[()]


def _promote_fast(a, b, to_inexact, name="funcgrad.numpy"):
    """The common cases (equal-typed arrays, broadcasting or not; array with a Python
    scalar; an eager array with a NumPy scalar of its dtype) without the lattice."""
    ta, tb = type(a), type(b)
    if ta is Array:
        va = a._value
        if tb is Array:
            vb = b._value
            if va.dtype == vb.dtype and a._weak == b._weak and (
                    not to_inexact or va.dtype.kind in "fc"):
                sa, sb = va.shape, vb.shape
                if sa == sb:
                    return [a, b]
                return _broadcast_pair(a, b, sa, sb, name)
            return None
        if isinstance(b, np.generic):
            # eager only: traced (or staged) operands keep the general path's 0-d constant
            if b.dtype == va.dtype and not a._weak and _state.dynamic is None and (
                    not to_inexact or va.dtype.kind in "fc"):
                return [a, b]
            return None
        if (tb is float and va.dtype.kind in "fc") or (tb is int and va.dtype.kind in "iufc" and (
                not to_inexact or va.dtype.kind in "fc")):
            return [a, _scalar_operand(b, va.dtype, a._weak)]
        return None
    if tb is Array or isinstance(b, Tracer):
        if ta is float or ta is int or (tb is Array and isinstance(a, np.generic)):
            r = _promote_fast(b, a, to_inexact, name)
            return None if r is None else [r[1], r[0]]
        if tb is Array:
            return None
    if isinstance(a, Tracer):
        aa = a.aval
        da = aa.dtype
        if isinstance(b, Tracer) or tb is Array:
            ba = b.aval
            if da == ba.dtype and aa.weak_type == ba.weak_type and (
                    not to_inexact or da.kind in "fc"):
                sa, sb = aa.shape, ba.shape
                if sa == sb:
                    return [a, b]
                return _broadcast_pair(a, b, sa, sb, name)
            return None
        k = da.kind
        if (tb is float and k in "fc") or (tb is int and k in "iufc" and (
                not to_inexact or k in "fc")):
            return [a, _scalar_operand(b, da, aa.weak_type)]
    return None


def promote(name, *args, to_inexact=False):
    """Convert ``args`` to one dtype and one shape (scalars stay scalars)."""
    if len(args) == 2:
        r = _promote_fast(args[0], args[1], to_inexact, name)
        if r is not None:
            return r
    dt, weak = result_dtype(*args)
    if to_inexact and dt.kind not in "fc":
        dt = dtypes.default_float_dtype() if weak or dt.kind in "biu" else dt
        if dt.kind not in "fc":
            dt = dtypes.default_float_dtype()
        weak = False if any(not aval_pair(a)[1] for a in args) else weak
    out = []
    shapes = []
    for a in args:
        if is_python_scalar(a):
            out.append(_scalar_operand(a, dt, weak))
            shapes.append(())
            continue
        if not isinstance(a, (Array, Tracer)):
            a = asarray(a, where=name)
        av = get_aval(a)
        if av.dtype != dt:
            a = lax.convert_element_type(a, dt, weak_type=weak)
        out.append(a)
        shapes.append(av.shape)
    shape = broadcast_shapes(*shapes, where=name)
    if len({s for s in shapes if s != ()}) > 1 or any(
            s != shape and s != () for s in shapes):
        out = [broadcast_to_shape(a, shape) if s != () else a for a, s in zip(out, shapes)]
    return out


def scalar_like(v, x):
    return np.asarray(v, get_aval(x).dtype)[()]
