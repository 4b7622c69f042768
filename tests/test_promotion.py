"""Dtype rules (API.md): Python data defaults to float32/int32 (float64/int64 with
``enable_x64``); NumPy inputs keep their dtype; weakly typed Python scalars; JAX's
promotion table for pairs of strong dtypes; clear ``TypeError`` for unsupported dtypes."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import dtypes
from funcgrad.numpy import _more

# ---------------------------------------------------------------------------- JAX's table
# From JAX's documented type-promotion lattice (jax.numpy type promotion semantics), with
# 64-bit types enabled; bfloat16 omitted.  Rows and columns in the order of _NAMES;
# i*, f*, c* are weakly typed Python int/float/complex.  An entry ending in "*" is weak.
_NAMES = "b1 u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 c4 c8 i* f* c*".split()
_TABLE = """
b1  b1 u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 c4 c8 i* f* c*
u1  u1 u1 u2 u4 u8 i2 i2 i4 i8 f2 f4 f8 c4 c8 u1 f* c*
u2  u2 u2 u2 u4 u8 i4 i4 i4 i8 f2 f4 f8 c4 c8 u2 f* c*
u4  u4 u4 u4 u4 u8 i8 i8 i8 i8 f2 f4 f8 c4 c8 u4 f* c*
u8  u8 u8 u8 u8 u8 f* f* f* f* f2 f4 f8 c4 c8 u8 f* c*
i1  i1 i2 i4 i8 f* i1 i2 i4 i8 f2 f4 f8 c4 c8 i1 f* c*
i2  i2 i2 i4 i8 f* i2 i2 i4 i8 f2 f4 f8 c4 c8 i2 f* c*
i4  i4 i4 i4 i8 f* i4 i4 i4 i8 f2 f4 f8 c4 c8 i4 f* c*
i8  i8 i8 i8 i8 f* i8 i8 i8 i8 f2 f4 f8 c4 c8 i8 f* c*
f2  f2 f2 f2 f2 f2 f2 f2 f2 f2 f2 f4 f8 c4 c8 f2 f2 c4
f4  f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f8 c4 c8 f4 f4 c4
f8  f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 c8 c8 f8 f8 c8
c4  c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c8 c4 c8 c4 c4 c4
c8  c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8 c8
i*  i* u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 c4 c8 i* f* c*
f*  f* f* f* f* f* f* f* f* f* f2 f4 f8 c4 c8 f* f* c*
c*  c* c* c* c* c* c* c* c* c* c4 c4 c8 c4 c8 c* c* c*
"""
_DT = {"b1": np.bool_, "u1": np.uint8, "u2": np.uint16, "u4": np.uint32, "u8": np.uint64,
       "i1": np.int8, "i2": np.int16, "i4": np.int32, "i8": np.int64, "f2": np.float16,
       "f4": np.float32, "f8": np.float64, "c4": np.complex64, "c8": np.complex128}
_WEAK = {"i*": np.int64, "f*": np.float64, "c*": np.complex128}   # with enable_x64
_ROWS = {line.split()[0]: line.split()[1:] for line in _TABLE.strip().splitlines()}
_PAIRS = [(a, b, _ROWS[a][j]) for a in _NAMES for j, b in enumerate(_NAMES)]


def _expected(code):
    weak = code.endswith("*")
    return np.dtype(_WEAK[code] if weak else _DT[code]), weak


def _pair(code):
    return (np.dtype(_WEAK[code]), True) if code.endswith("*") else (np.dtype(_DT[code]), False)


def test_table_is_symmetric():
    for a, b, r in _PAIRS:
        assert _ROWS[b][_NAMES.index(a)] == r, (a, b)


@pytest.mark.parametrize("a,b,r", _PAIRS, ids=[f"{a}+{b}" for a, b, _ in _PAIRS])
def test_lattice_matches_jax_table(x64, a, b, r):
    got = dtypes.promote_types(_pair(a), _pair(b))
    assert got == _expected(r), f"{a} + {b}: got {got}, JAX's table says {r}"


_STRONG = [n for n in _NAMES if not n.endswith("*")]


@pytest.mark.parametrize("a", _STRONG)
def test_promote_types_and_operators_follow_the_table(x64, a):
    """``fnp.promote_types`` and ``+`` on arrays of every strong pair."""
    for j, b in enumerate(_NAMES):
        r = _ROWS[a][j]
        exp_dt, exp_weak = _expected(r)
        if not b.endswith("*"):
            assert fnp.promote_types(_DT[a], _DT[b]) == exp_dt, (a, b)
            assert _more.result_type(_DT[a], _DT[b]) == exp_dt, (a, b)
            y = fnp.ones(2, _DT[b])
        else:
            y = {"i*": 1, "f*": 1.0, "c*": 1j}[b]
        x = fnp.ones(2, _DT[a])
        out = x + y
        assert out.dtype == exp_dt, f"{a} + {b}: got {out.dtype}, expected {r}"
        assert (y + x).dtype == exp_dt, f"{b} + {a}"
        assert out.weak_type == exp_weak, f"{a} + {b}: weak_type {out.weak_type}"


def test_table_in_32bit_mode():
    """Without x64 the weak kinds default to 32 bits; strong dtypes stay as given."""
    f32, i32, c64 = np.dtype("float32"), np.dtype("int32"), np.dtype("complex64")
    assert dtypes.promote_types((np.dtype(np.int8), False), (np.dtype(np.int64), True)) == \
        (np.dtype(np.int8), False)
    assert dtypes.promote_types((i32, True), (f32, True)) == (f32, True)
    assert dtypes.promote_types((np.dtype(np.bool_), False), (i32, True)) == (i32, True)
    assert dtypes.promote_types((np.dtype(np.int16), False), (f32, True)) == (f32, True)
    assert dtypes.promote_types((np.dtype(np.float16), False), (c64, True)) == (c64, False)
    assert dtypes.result_type(np.float32, np.float64) == np.float64
    assert dtypes.result_type(np.int32, np.uint32) == np.int64


# ---------------------------------------------------------------------------- defaults

def test_python_data_defaults_to_32_bits():
    assert fnp.array([1.0, 2.0]).dtype == np.float32
    assert fnp.array([1, 2]).dtype == np.int32
    assert fnp.array([True]).dtype == np.bool_
    assert fnp.array([1, 2.5]).dtype == np.float32
    assert fnp.array([1j]).dtype == np.complex64
    assert fnp.asarray(3.0).dtype == np.float32
    assert fnp.asarray(3).dtype == np.int32
    assert fnp.zeros(3).dtype == np.float32
    assert fnp.ones((2,), dtype=int).dtype == np.int32
    assert fnp.arange(3).dtype == np.int32
    assert fnp.arange(3.0).dtype == np.float32
    assert fnp.linspace(0, 1, 3).dtype == np.float32
    assert fnp.full(2, 7).dtype == np.int32
    assert fnp.full(2, 7.0).dtype == np.float32
    assert fnp.eye(2).dtype == np.float32
    assert fnp.mean(fnp.array([1, 2])).dtype == np.float32
    assert fnp.sum(fnp.array([True, False])).dtype == np.int32
    assert fnp.sqrt(fnp.array([4])).dtype == np.float32
    assert (fnp.array([1, 2]) / 2).dtype == np.float32


def test_python_data_defaults_to_64_bits_with_x64(x64):
    assert fnp.array([1.0, 2.0]).dtype == np.float64
    assert fnp.array([1, 2]).dtype == np.int64
    assert fnp.zeros(3).dtype == np.float64
    assert fnp.arange(3).dtype == np.int64
    assert fnp.ones(2, dtype=int).dtype == np.int64
    assert fnp.mean(fnp.array([1, 2])).dtype == np.float64
    assert (fnp.ones(2, np.float32) + 1.0).dtype == np.float32   # weak scalars stay weak
    assert (fnp.ones(2, np.int32) + 1).dtype == np.int32


def test_numpy_inputs_keep_their_dtype():
    x64 = np.arange(3.0)                        # float64
    assert fnp.asarray(x64).dtype == np.float64
    assert fnp.sin(x64).dtype == np.float64
    assert fnp.sum(x64).dtype == np.float64
    assert fnp.asarray(np.arange(3)).dtype == np.int64
    assert fnp.asarray(np.float64(2.0)).dtype == np.float64     # NumPy scalars are strong
    assert fg.jit(lambda v: v * 2)(x64).dtype == np.float64
    assert fg.grad(lambda v: fnp.sum(v ** 2))(x64).dtype == np.float64
    f32 = fnp.ones(3)                           # float32 Array
    assert (f32 + x64).dtype == np.float64
    assert (x64 + f32).dtype == np.float64
    assert fnp.add(f32, x64).dtype == np.float64
    assert (f32 + np.float64(1.0)).dtype == np.float64
    assert (fnp.ones(3, np.int32) + np.arange(3, dtype=np.int8)).dtype == np.int32
    assert (fnp.ones(3, np.int8) + np.int16(1)).dtype == np.int16
    assert fnp.concatenate([f32, x64]).dtype == np.float64
    assert fnp.where(True, f32, x64).dtype == np.float64


def test_weak_python_scalars():
    f32, i32 = fnp.ones(3, np.float32), fnp.ones(3, np.int32)
    # (result, dtype, weak): an integer/bool array with a Python float (or a bool array
    # with a Python int) joins to a weak kind on JAX's lattice
    cases = [
        (f32 + 1.0, np.float32, False), (1.0 + f32, np.float32, False),
        (f32 * 2, np.float32, False), (i32 + 1.5, np.float32, True),
        (1.5 * i32, np.float32, True), (i32 + 1, np.int32, False),
        (fnp.ones(3, np.int8) + 1, np.int8, False), (fnp.ones(3, np.uint8) * 3, np.uint8, False),
        (fnp.ones(3, np.float16) + 1.0, np.float16, False),
        (fnp.ones(3, np.bool_) + 1, np.int32, True), (fnp.ones(3, np.bool_) * 1.5, np.float32, True),
        (f32 ** 2, np.float32, False), (2.0 ** f32, np.float32, False),
        (i32 // 2, np.int32, False), (7 % i32, np.int32, False), (i32 / 2, np.float32, False),
        (f32 > 0.5, np.bool_, False), (0.5 < f32, np.bool_, False),
        (fnp.maximum(i32, 2.5), np.float32, True), (fnp.where(f32 > 0, f32, 0.0), np.float32, False),
        (fnp.ones(3, np.float64) + 1.0, np.float64, False), (fnp.clip(i32, 0.5, 2), np.float32, True),
    ]
    for i, (r, dt, weak) in enumerate(cases):
        assert r.dtype == dt, f"case {i}: {r.dtype} != {np.dtype(dt)}"
        assert r.weak_type == weak, f"case {i}: weak_type {r.weak_type}, JAX gives {weak}"
    # scalars only: the result stays weak
    assert fnp.add(1.0, 2.0).weak_type and fnp.add(1.0, 2.0).dtype == np.float32
    assert fnp.add(1, 2).weak_type and fnp.add(1, 2).dtype == np.int32
    assert fnp.add(1, 2.0).dtype == np.float32 and fnp.add(1, 2.0).weak_type
    assert not fnp.add(True, True).weak_type
    w = fnp.asarray(2.0)
    assert w.weak_type
    assert (fnp.ones(2, np.float16) + w).dtype == np.float16
    assert (fnp.ones(2, np.int8) * fnp.asarray(3)).dtype == np.int8


def test_weak_types_under_jit_and_grad():
    f = fg.jit(lambda x: x * 2.5 + 1)
    assert f(fnp.ones(2, np.float16)).dtype == np.float16
    assert f(np.ones(2, np.float64)).dtype == np.float64
    assert f(fnp.ones(2, np.int32)).dtype == np.float32
    g = fg.grad(lambda x: fnp.sum(x * 3.0))(np.ones(2, np.float16))
    assert g.dtype == np.float16
    closed = fg.make_jaxpr(lambda x: x + 1.0)(np.ones(2, np.float32))
    assert "f32[2]" in str(closed) and "f64" not in str(closed)


def test_result_type_follows_jax():
    rt = _more.result_type
    assert rt(np.float16, np.int16) == np.float16          # NumPy would say float32
    assert rt(fnp.ones(2, np.float32), 1.0) == np.float32
    assert rt(fnp.ones(2, np.int32), 1.5) == np.float32
    assert rt(np.int8, np.uint8) == np.int16
    assert rt(1, 1.0) == np.float32
    assert rt(np.bool_, 1) == np.int32
    assert rt(float) == np.float32
    assert fnp.promote_types("int8", "uint8") == np.int16


def test_integer_division_and_means():
    a = fnp.array([7, -7, 7, -7])
    b = fnp.array([2, 2, -2, -2])
    np.testing.assert_array_equal(a // b, np.array([3, -4, -4, 3]))
    np.testing.assert_array_equal(a % b, np.array([1, 1, -1, -1]))
    assert (a // b).dtype == np.int32 and (a % b).dtype == np.int32
    np.testing.assert_allclose(a / b, [3.5, -3.5, -3.5, 3.5])
    assert fnp.mean(fnp.array([1, 2], np.int8)).dtype == np.float32
    assert float(fnp.mean(fnp.array([1, 2]))) == 1.5
    assert fnp.var(fnp.array([1, 2, 3])).dtype == np.float32
    assert fnp.sum(fnp.array([1, 2], np.int8)).dtype == np.int32
    assert fnp.sum(fnp.array([1, 2], np.uint8)).dtype == np.uint32
    assert fnp.sum(fnp.array([1, 2], np.int64)).dtype == np.int64
    assert fnp.cumsum(fnp.array([True, True])).dtype == np.int32
    assert fnp.prod(fnp.array([2, 3], np.int16)).dtype == np.int32


# ---------------------------------------------------------------------------- errors

_BAD = [np.array(["abc"]), np.array([object()], dtype=object),
        np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1], dtype="timedelta64[s]"),
        np.array([b"ab"])]
if np.dtype(np.longdouble).itemsize > 8:
    _BAD.append(np.array([1.0], dtype=np.longdouble))


@pytest.mark.parametrize("bad", _BAD, ids=[str(b.dtype) for b in _BAD])
def test_unsupported_dtypes_raise_type_error(bad):
    name = str(bad.dtype)
    for fn in (fnp.asarray, fnp.array, fnp.sin, lambda v: fnp.ones(1) + v, fg.jit(fnp.sum),
               fnp.sum):
        with pytest.raises(TypeError) as info:
            fn(bad)
        msg = str(info.value)
        assert "not supported" in msg or "not a valid" in msg, msg
        assert name in msg or "object" in msg or "dtype" in msg, msg


@pytest.mark.parametrize("dt", ["U3", np.dtype("U3"), object, "datetime64[ns]", "S2"])
def test_unsupported_dtype_arguments(dt):
    for fn in (lambda: fnp.zeros(3, dtype=dt), lambda: fnp.ones(3).astype(dt),
               lambda: fnp.array([1, 2], dtype=dt), lambda: fnp.sum(fnp.ones(2), dtype=dt),
               lambda: fnp.full(2, 1, dtype=dt), lambda: fnp.promote_types(dt, "int8")):
        with pytest.raises(TypeError, match="not supported|not a dtype"):
            fn()


def test_unsupported_python_objects():
    with pytest.raises(TypeError, match="cannot convert|not a valid"):
        fnp.asarray({"a": 1})
    with pytest.raises(TypeError):
        fnp.sin("abc")


def test_logaddexp_keeps_weak_types_like_jax():
    # JAX: jnp.logaddexp(0.0, 0.0) is weakly typed, as every binary op of Python scalars
    for f in (fnp.logaddexp, fnp.logaddexp2):
        r = f(0.0, 0.0)
        assert r.weak_type and r.dtype == np.float32
        assert not f(fnp.ones(2), 0.0).weak_type
        assert fg.jit(f)(0.0, 0.0).weak_type
