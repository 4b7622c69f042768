"""Dtypes, JAX's type-promotion lattice and weak types.

A value's type is a NumPy dtype plus a ``weak_type`` flag.  Python scalars are
*weakly typed*: ``x_f32 + 1.0`` stays float32.  Promotion follows JAX's lattice::

    b1 -> i* -> {u8, i8};  u8 -> {u16, i16};  u16 -> {u32, i32};  u32 -> {u64, i64}
    i8 -> i16 -> i32 -> i64 -> f*;  u64 -> f*;  f* -> {f16, c*};  f16 -> f32 -> f64
    f32 -> c64;  c* -> c64 -> c128;  f64 -> c128

where ``i*``, ``f*`` and ``c*`` stand for weakly typed Python int/float/complex.
"""
from __future__ import annotations

import functools

import numpy as np

from .config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SUPPORTED = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
             float16, float32, float64, complex64, complex128)
_SUPPORTED_SET = frozenset(SUPPORTED)

# Lattice nodes: dtypes plus the three weak kinds.
_I, _F, _C = "i*", "f*", "c*"
_EDGES = {
    bool_: [_I], _I: [uint8, int8],
    uint8: [int16, uint16], uint16: [int32, uint32], uint32: [int64, uint64], uint64: [_F],
    int8: [int16], int16: [int32], int32: [int64], int64: [_F],
    _F: [float16, _C], float16: [float32], float32: [float64, complex64], float64: [complex128],
    _C: [complex64], complex64: [complex128], complex128: [],
}


def _upper_sets():
    ups = {}

    def up(n):
        if n not in ups:
            s = {n}
            for m in _EDGES[n]:
                s |= up(m)
            ups[n] = frozenset(s)
        return ups[n]

    for n in _EDGES:
        up(n)
    return ups


_UP = _upper_sets()


@functools.lru_cache(maxsize=None)
def _join(a, b):
    common = _UP[a] & _UP[b]
    # the least element of the common upper set is the one whose own upper set is all of it
    for n in common:
        if _UP[n] == common:
            return n
    raise TypeError(f"no common type for {a} and {b}")


def default_float_dtype():
    """float64 with ``enable_x64``, else float32."""
    return float64 if config.enable_x64 else float32


def default_int_dtype():
    """int64 with ``enable_x64``, else int32."""
    return int64 if config.enable_x64 else int32


def default_complex_dtype():
    return complex128 if config.enable_x64 else complex64


def _weak_node(dtype):
    k = dtype.kind
    return _I if k in "iu" else _F if k == "f" else _C if k == "c" else dtype


def _node_to_dtype(n):
    if n == _I:
        return default_int_dtype()
    if n == _F:
        return default_float_dtype()
    if n == _C:
        return default_complex_dtype()
    return n


def promote_types(*types):
    """Join ``(dtype, weak_type)`` pairs on the lattice; returns ``(dtype, weak_type)``.

    >>> promote_types((np.dtype('int32'), False), (np.dtype('float32'), True))
    (dtype('float32'), True)
    """
    node = None
    for dt, weak in types:
        n = _weak_node(dt) if weak else dt
        node = n if node is None else _join(node, n)
    if isinstance(node, str):
        # every operand was weak: the result is weak, with the join of their actual dtypes
        dt = None
        for d, _ in types:
            dt = d if dt is None else _join(dt, d)
        if isinstance(dt, str) or _weak_node(dt) != node:
            dt = _node_to_dtype(node)
        return dt, True
    return node, False


def result_type(*dtypes):
    """Promote plain (strong) dtypes: ``result_type(int32, float32) -> float32``."""
    return promote_types(*[(np.dtype(d), False) for d in dtypes])[0]


def check_supported(dtype, where: str = ""):
    """Return ``np.dtype(dtype)`` or raise a ``TypeError`` that names it."""
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{where or 'funcgrad'}: {dtype!r} is not a dtype") from e
    if dt not in _SUPPORTED_SET:
        raise TypeError(
            f"{where or 'funcgrad'}: dtype {dt} is not supported; funcgrad supports "
            f"{', '.join(str(d) for d in SUPPORTED)}")
    return dt


def canonicalize_dtype(dtype):
    """Map 64-bit types to 32-bit ones unless ``enable_x64`` (for Python data and ``dtype=`` args)."""
    dt = np.dtype(dtype)
    if config.enable_x64:
        return dt
    return {int64: int32, uint64: uint32, float64: float32, complex128: complex64}.get(dt, dt)


def python_scalar_dtype(x):
    """The weak dtype of a Python scalar (``bool`` is strong)."""
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return default_int_dtype()
    if isinstance(x, float):
        return default_float_dtype()
    if isinstance(x, complex):
        return default_complex_dtype()
    raise TypeError(f"not a Python scalar: {type(x).__name__}")


def is_float(dt) -> bool:
    return np.dtype(dt).kind == "f"


def is_inexact(dt) -> bool:
    return np.dtype(dt).kind in "fc"


def is_complex(dt) -> bool:
    return np.dtype(dt).kind == "c"


def is_integer(dt) -> bool:
    return np.dtype(dt).kind in "iu"


def is_bool(dt) -> bool:
    return np.dtype(dt).kind == "b"


def finfo(dt):
    return np.finfo(dt)


def iinfo(dt):
    return np.iinfo(dt)


SHORT_NAMES = {bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
               uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
               float16: "f16", float32: "f32", float64: "f64",
               complex64: "c64", complex128: "c128"}


def short_name(dt) -> str:
    """``f32``, ``i32``, ``bool`` ... as in JAX's jaxpr text."""
    return SHORT_NAMES.get(np.dtype(dt), str(dt))
