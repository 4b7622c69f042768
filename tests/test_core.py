"""Core: the jaxpr printer (golden text), the type checker, dtypes and promotion, the
immutable ``Array`` and ``config``."""
from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core import dtypes as D
from funcgrad.core.abstract import ShapedArray
from funcgrad.core.ir import (ClosedJaxpr, DropVar, Eqn, Jaxpr, JaxprTypeError, Literal, Var,
                              check_jaxpr)
from funcgrad.lax.elementwise import add_p, convert_element_type_p, mul_p, sin_p
from funcgrad.lax.reductions import reduce_sum_p


def _text(f, *args):
    return str(fg.make_jaxpr(f)(*args))


# ----------------------------------------------------------------------------- printer

def test_print_single_equation():
    assert _text(fnp.sin, fnp.ones(3)) == "{ lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) }"


def test_print_multi_equation_with_literal():
    expected = (
        "{ lambda ; a:f32[3] b:f32[3]. let\n"
        "    c:f32[3] = sin a\n"
        "    d:f32[3] = mul c b\n"
        "    e:f32[3] = add d 2.0:f32[]\n"
        "  in (e,) }")
    assert _text(lambda x, y: fnp.sin(x) * y + 2.0, fnp.ones(3), fnp.ones(3)) == expected


def test_print_constvars():
    c = np.arange(3.0, dtype=np.float32)
    assert _text(lambda x: x * c, fnp.ones(3)) == \
        "{ lambda a:f32[3] ; b:f32[3]. let c:f32[3] = mul b a in (c,) }"


def test_print_params_and_dtypes():
    assert _text(lambda x: lax.reduce_sum(x, (0,)), fnp.ones((2, 3))) == \
        "{ lambda ; a:f32[2,3]. let b:f32[3] = reduce_sum[axes=(0,)] a in (b,) }"
    assert _text(lambda x: x > 0, 1) == "{ lambda ; a:i32[]. let b:bool[] = gt a 0:i32[] in (b,) }"


def test_print_multiple_outputs_and_passthrough():
    expected = (
        "{ lambda ; a:f64[2]. let\n"
        "    b:i32[2] = convert_element_type[new_dtype=int32 weak_type=False] a\n"
        "  in (a, b) }")
    assert _text(lambda x: (x, x.astype(fnp.int32)), np.ones(2)) == expected


def test_print_no_equations():
    assert _text(lambda x, y: (y, x), 1.0, 2.0) == "{ lambda ; a:f32[] b:f32[]. let in (b, a) }"


def test_print_pjit_sub_jaxpr():
    def f(x):
        return fg.jit(lambda y: fnp.cos(y) + 1.0)(x) * 2

    expected = (
        "{ lambda ; a:f32[3]. let\n"
        "    b:f32[3] = pjit[donated=(False,) jaxpr={ lambda ; c:f32[3]. let\n"
        "      d:f32[3] = cos c\n"
        "      e:f32[3] = add d 1.0:f32[]\n"
        "    in (e,) } name=<lambda>] a\n"
        "    f:f32[3] = mul b 2.0:f32[]\n"
        "  in (f,) }")
    assert _text(f, fnp.ones(3)) == expected


def test_print_checkpoint_sub_jaxpr():
    assert _text(lambda x: fg.checkpoint(fnp.sin)(x), 1.0) == (
        "{ lambda ; a:f32[]. let\n"
        "    b:f32[] = checkpoint[jaxpr={ lambda ; c:f32[]. let d:f32[] = sin c in (d,) } "
        "name=sin] a\n"
        "  in (b,) }")


def test_print_grad_program():
    text = _text(fg.grad(lambda y: fnp.sin(y) * y), 1.0)
    assert text.startswith("{ lambda ; a:f32[]. let\n")
    assert "cos a" in text and "add_any" in text and text.endswith("in (h,) }")


def test_jaxpr_properties():
    closed = fg.make_jaxpr(lambda x, y: (x + y, x * 2.0))(fnp.ones(2), fnp.ones(2))
    assert isinstance(closed, ClosedJaxpr)
    assert [a.str_short() for a in closed.in_avals] == ["f32[2]", "f32[2]"]
    assert [a.str_short() for a in closed.out_avals] == ["f32[2]", "f32[2]"]
    assert [e.primitive.name for e in closed.eqns] == ["add", "mul"]
    assert str(closed) == str(closed.jaxpr)


def test_make_jaxpr_static_argnums_and_pytrees():
    closed = fg.make_jaxpr(lambda x, n: x ** n, static_argnums=1)(fnp.ones(2), 3)
    assert "integer_pow" in str(closed) and "y=3" in str(closed)
    closed = fg.make_jaxpr(lambda d: {"s": d["a"] + d["b"]})({"a": 1.0, "b": fnp.ones(2)})
    assert len(closed.in_avals) == 2 and closed.out_avals[0].shape == (2,)


# ----------------------------------------------------------------------------- type checker

f32_3 = ShapedArray((3,), np.float32)
f32_ = ShapedArray((), np.float32)


def test_check_jaxpr_accepts_traced_programs():
    for f, args in [(lambda x: fnp.sin(x) * 2.0, (fnp.ones(3),)),
                    (lambda x: fnp.sum(x @ x.T), (fnp.ones((2, 3)),)),
                    (fg.grad(lambda x: fnp.sum(fnp.tanh(x))), (fnp.ones(3),))]:
        check_jaxpr(fg.make_jaxpr(f)(*args).jaxpr)


def test_check_jaxpr_use_before_def():
    a, b, c = Var(f32_3), Var(f32_3), Var(f32_3)
    j = Jaxpr([], [a], [c], [Eqn(sin_p, [b], [c], {})])
    with pytest.raises(JaxprTypeError, match="used before it is defined"):
        check_jaxpr(j)


def test_check_jaxpr_double_definition():
    a, b = Var(f32_3), Var(f32_3)
    j = Jaxpr([], [a], [b], [Eqn(sin_p, [a], [b], {}), Eqn(sin_p, [a], [b], {})])
    with pytest.raises(JaxprTypeError, match="defined twice"):
        check_jaxpr(j)
    with pytest.raises(JaxprTypeError, match="defined twice"):
        check_jaxpr(Jaxpr([], [a, a], [a], []))


def test_check_jaxpr_wrong_binder_type():
    a, b = Var(f32_3), Var(ShapedArray((3,), np.int32))
    j = Jaxpr([], [a], [b], [Eqn(sin_p, [a], [b], {})])
    with pytest.raises(JaxprTypeError, match="binder has type i32\\[3\\]"):
        check_jaxpr(j)
    b2 = Var(ShapedArray((4,), np.float32))
    with pytest.raises(JaxprTypeError, match="f32\\[3\\]"):
        check_jaxpr(Jaxpr([], [a], [b2], [Eqn(sin_p, [a], [b2], {})]))


def test_check_jaxpr_wrong_arity():
    a, b, c = Var(f32_3), Var(f32_3), Var(f32_3)
    # two binders for a single-result primitive
    with pytest.raises(JaxprTypeError, match="2 binders for 1 outputs"):
        check_jaxpr(Jaxpr([], [a], [b], [Eqn(sin_p, [a], [b, c], {})]))
    # too many operands: the shape rule rejects them
    with pytest.raises(JaxprTypeError, match="shape rule rejected"):
        check_jaxpr(Jaxpr([], [a], [b], [Eqn(reduce_sum_p, [a, a], [b], {"axes": ()})]))


def test_check_jaxpr_elementwise_arity():
    a, b = Var(f32_3), Var(f32_3)
    with pytest.raises(JaxprTypeError):
        check_jaxpr(Jaxpr([], [a], [b], [Eqn(add_p, [a, a, a], [b], {})]))


def test_check_jaxpr_operand_types():
    a, b = Var(f32_3), Var(ShapedArray((4,), np.float32))
    out = Var(f32_3)
    with pytest.raises(JaxprTypeError, match="add"):
        check_jaxpr(Jaxpr([], [a, b], [out], [Eqn(add_p, [a, b], [out], {})]))


def test_check_jaxpr_literals_and_dropvars():
    a, b = Var(f32_3), Var(f32_3)
    lit = Literal(np.float32(2.0), f32_)
    check_jaxpr(Jaxpr([], [a], [b], [Eqn(mul_p, [a, lit], [b], {})]))
    bad = Literal(np.ones(2, np.float32), f32_)
    with pytest.raises(JaxprTypeError, match="literal"):
        check_jaxpr(Jaxpr([], [a], [b], [Eqn(mul_p, [a, bad], [b], {})]))
    check_jaxpr(Jaxpr([], [a], [a], [Eqn(sin_p, [a], [DropVar(f32_3)], {})]))


def test_check_jaxpr_params():
    a, b = Var(f32_3), Var(ShapedArray((3,), np.int32))
    eqn = Eqn(convert_element_type_p, [a], [b], {"new_dtype": np.dtype(np.int32),
                                                 "weak_type": False})
    check_jaxpr(Jaxpr([], [a], [b], [eqn]))
    eqn = Eqn(convert_element_type_p, [a], [b], {"new_dtype": np.dtype(np.int64),
                                                 "weak_type": False})
    with pytest.raises(JaxprTypeError):
        check_jaxpr(Jaxpr([], [a], [b], [eqn]))


def test_check_jaxpr_outvars_defined():
    a, b = Var(f32_3), Var(f32_3)
    with pytest.raises(JaxprTypeError, match="used before"):
        check_jaxpr(Jaxpr([], [a], [b], []))


# ----------------------------------------------------------------------------- dtypes

_T = {"b": D.bool_, "i8": D.int8, "i16": D.int16, "i32": D.int32, "i64": D.int64,
      "u8": D.uint8, "u16": D.uint16, "u32": D.uint32, "u64": D.uint64, "f16": D.float16,
      "f32": D.float32, "f64": D.float64, "c64": D.complex64, "c128": D.complex128}

# JAX's promotion table (strong types), read off its lattice
_STRONG_CASES = [
    ("b", "b", "b"), ("b", "i8", "i8"), ("b", "u8", "u8"), ("b", "f32", "f32"),
    ("i8", "u8", "i16"), ("i8", "i16", "i16"), ("i8", "u16", "i32"), ("i16", "u16", "i32"),
    ("u8", "u16", "u16"), ("u8", "i32", "i32"), ("u32", "i32", "i64"), ("u32", "u64", "u64"),
    ("i32", "i64", "i64"), ("i32", "f16", "f16"), ("i64", "f16", "f16"), ("u64", "f32", "f32"),
    ("i32", "f32", "f32"), ("i8", "f64", "f64"), ("f16", "f32", "f32"), ("f32", "f64", "f64"),
    ("f32", "c64", "c64"), ("f64", "c64", "c128"), ("c64", "c128", "c128"),
    ("f16", "c64", "c64"), ("i64", "c64", "c64"), ("u8", "f16", "f16"),
]


@pytest.mark.parametrize("a,b,want", _STRONG_CASES)
def test_promote_strong(a, b, want):
    assert D.promote_types((_T[a], False), (_T[b], False)) == (_T[want], False)
    assert D.promote_types((_T[b], False), (_T[a], False)) == (_T[want], False)
    assert D.result_type(_T[a], _T[b]) == _T[want]


def test_promote_weak_python_scalars():
    # a weakly-typed scalar adopts the strong operand's type when of the same kind or lower
    assert D.promote_types((D.int8, False), (D.int32, True)) == (D.int8, False)
    assert D.promote_types((D.uint8, False), (D.int32, True)) == (D.uint8, False)
    assert D.promote_types((D.float16, False), (D.float32, True)) == (D.float16, False)
    assert D.promote_types((D.bfloat16 if hasattr(D, "bfloat16") else D.float16, False),
                           (D.int32, True))[1] is False
    # a weak float with a strong int gives a weak default float
    assert D.promote_types((D.int32, False), (D.float32, True)) == (D.float32, True)
    assert D.promote_types((D.int64, False), (D.float32, True)) == (D.float32, True)
    # weak complex with strong float32 -> complex64
    assert D.promote_types((D.float32, False), (D.complex64, True)) == (D.complex64, False)
    assert D.promote_types((D.float64, False), (D.complex64, True)) == (D.complex128, False)
    # all weak: the weak result keeps the widest weak dtype of its kind
    assert D.promote_types((D.int32, True), (D.float32, True)) == (D.float32, True)
    assert D.promote_types((D.float64, True), (D.int32, True)) == (D.float64, True)
    # bool is never weak
    assert D.promote_types((D.bool_, False), (D.int32, True)) == (D.int32, True)


def test_promote_weak_follows_x64(x64):
    assert D.promote_types((D.int32, False), (D.float64, True)) == (D.float64, True)
    assert D.promote_types((D.uint64, False), (D.int64, False))[0] == D.float64


def test_promotion_lattice_laws():
    """Commutative, associative, idempotent, and bool is the bottom element."""
    weak_dts = (D.int32, D.int64, D.float32, D.float64, D.complex64, D.complex128)
    nodes = [(dt, False) for dt in D.SUPPORTED] + [(dt, True) for dt in weak_dts]
    for a in nodes:
        assert D.promote_types(a, a)[0] == a[0]
        assert D.promote_types((D.bool_, False), a)[0] == a[0]
        for b in nodes:
            assert D.promote_types(a, b) == D.promote_types(b, a), (a, b)
    strong = [(dt, False) for dt in D.SUPPORTED]
    for a, b, c in itertools.product(strong, repeat=3):
        assert D.promote_types(D.promote_types(a, b), c) == D.promote_types(a, D.promote_types(b, c))


def test_promotion_weak_int8_uint8_commutes():
    a, b = (D.int8, True), (D.uint8, True)
    assert D.promote_types(a, b) == D.promote_types(b, a)


def test_promotion_in_operations():
    assert (fnp.ones(2, fnp.int8) + 1).dtype == np.int8
    assert (fnp.ones(2, fnp.float16) * 2.0).dtype == np.float16
    assert (fnp.ones(2, fnp.int32) * 2.0).dtype == np.float32
    assert (fnp.ones(2, fnp.float32) + np.ones(2)).dtype == np.float64   # numpy keeps f64
    assert (fnp.ones(2, fnp.int8) + fnp.ones(2, fnp.uint8)).dtype == np.int16
    assert (fnp.ones(2, fnp.float32) + fnp.ones(2, fnp.int64)).dtype == np.float32


def test_default_dtypes_and_canonicalize(x64):
    assert fnp.array([1.0]).dtype == np.float64 and fnp.array([1]).dtype == np.int64
    assert D.canonicalize_dtype(np.float64) == np.float64
    fg.config.update("enable_x64", False)
    assert fnp.array([1.0]).dtype == np.float32 and fnp.array([1]).dtype == np.int32
    assert D.canonicalize_dtype(np.float64) == np.float32
    assert D.canonicalize_dtype(np.uint64) == np.uint32
    assert D.canonicalize_dtype(np.int8) == np.int8


def test_dtype_predicates_and_names():
    assert D.is_float(np.float16) and not D.is_float(np.int32)
    assert D.is_inexact(np.complex64) and D.is_complex(np.complex128)
    assert D.is_integer(np.uint8) and D.is_bool(np.bool_)
    assert [D.short_name(np.dtype(n)) for n in ("float32", "int32", "bool", "uint8", "complex64")] \
        == ["f32", "i32", "bool", "u8", "c64"]
    assert D.python_scalar_dtype(True) == D.bool_
    assert D.python_scalar_dtype(1) == D.int32 and D.python_scalar_dtype(1.0) == D.float32


def test_unsupported_dtype_named():
    with pytest.raises(TypeError, match="float128|longdouble"):
        D.check_supported(np.longdouble if np.dtype(np.longdouble).itemsize > 8 else "f16x")
    with pytest.raises(TypeError, match="not a dtype"):
        D.check_supported("float8")
    assert D.check_supported("float32") == np.float32


def test_shaped_array():
    a = ShapedArray((2, 3), np.float32, weak_type=True)
    assert a.str_short() == "f32[2,3]" and a.ndim == 2 and a.size == 6
    assert a.strip_weak_type() == ShapedArray((2, 3), np.float32)
    assert a != ShapedArray((2, 3), np.float32) and a.same_type(ShapedArray([2, 3], "float32"))
    assert hash(a) == hash(ShapedArray((2, 3), np.float32, True))
    assert a.update(shape=(3,)).shape == (3,)


# ----------------------------------------------------------------------------- Array

def test_array_immutable():
    x = fnp.ones(3)
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        x[0] = 1
    with pytest.raises(TypeError, match="immutable"):
        del x[0]
    y = x.at[0].set(5.0)
    assert y.tolist() == [5.0, 1.0, 1.0] and x.tolist() == [1.0, 1.0, 1.0]


def test_array_numpy_view_is_read_only():
    x = fnp.arange(3.0)
    a = np.asarray(x)
    assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 2.0
    b = np.array(x)              # an explicit copy is writable and independent
    b[0] = 7.0
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_array_unhashable():
    with pytest.raises(TypeError, match="unhashable"):
        hash(fnp.ones(2))
    with pytest.raises(TypeError):
        {fnp.ones(2): 1}


def test_array_repr_and_str():
    assert repr(fnp.array([1.0, 2.0])).startswith("Array([1., 2.]")
    assert "weak_type=True" in repr(fg.grad(lambda x: x ** 2)(3.0))
    assert "dtype=float64" in repr(fnp.asarray(np.ones(2)))
    assert "dtype=int8" in repr(fnp.ones(2, fnp.int8))
    assert str(fnp.array([1.0, 2.0])) == "[1. 2.]"
    assert f"{fnp.array(1.5):.2f}" == "1.50"


def test_array_repr_matches_jax():
    assert repr(fnp.array([1.0, 2.0])) == "Array([1., 2.], dtype=float32)"


def test_array_properties():
    x = fnp.ones((2, 3), fnp.float32)
    assert x.shape == (2, 3) and x.dtype == np.float32 and x.ndim == 2 and x.size == 6
    assert x.nbytes == 24 and x.T.shape == (3, 2) and not x.weak_type
    assert x.aval == ShapedArray((2, 3), np.float32)
    assert x.block_until_ready() is x
    assert x.device == fg.devices()[0] and x.devices() == {x.device}
    assert fg.default_backend() == "numpy"
    assert fg.block_until_ready({"a": x})["a"] is x


def test_array_python_protocol():
    x = fnp.arange(3)
    assert len(x) == 3 and [int(v) for v in x] == [0, 1, 2]
    assert float(fnp.array(2.5)) == 2.5 and int(fnp.array(3)) == 3
    assert bool(fnp.array(True)) and x.item(1) == 1 and x.tolist() == [0, 1, 2]
    assert [1, 2, 3][fnp.array(1)] == 2          # __index__ for integer arrays
    with pytest.raises(TypeError):
        [1, 2][fnp.array(1.0)]
    with pytest.raises(TypeError, match="0-d"):
        len(fnp.array(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(fnp.array(1.0))


def test_array_copy_pickle():
    x = fnp.arange(3.0)
    assert copy.copy(x) is x and copy.deepcopy(x) is x and x.copy() is x
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, fg.Array) and y.tolist() == x.tolist() and y.dtype == x.dtype
    w = pickle.loads(pickle.dumps(fg.grad(lambda v: v * 2)(1.0)))
    assert w.weak_type


def test_device_put():
    x = fg.device_put(np.arange(3.0))
    assert isinstance(x, fg.Array) and x.dtype == np.float64
    tree = fg.device_put({"a": np.ones(2), "b": [1.0, np.int8(3)]})
    assert isinstance(tree["a"], fg.Array) and tree["b"][1].dtype == np.int8
    assert fg.device_put(x) is x
    assert fg.device_put(np.ones(2), "numpy").device == fg.devices()[0]
    with pytest.raises(TypeError, match="complex256|not supported"):
        if hasattr(np, "complex256"):
            fg.device_put(np.ones(1, np.complex256))
        else:
            fg.device_put(np.ones(1, "U1"))


# ----------------------------------------------------------------------------- config

def test_config_update_and_values():
    assert fg.config.enable_x64 is False
    fg.config.update("enable_x64", True)
    assert fg.config.enable_x64 is True and fg.config.values()["enable_x64"] is True
    assert fnp.array(1.0).dtype == np.float64
    fg.config.update("jax_enable_x64", False)       # JAX-style name
    assert fg.config.enable_x64 is False
    with pytest.raises(ValueError, match="unknown config option 'nope'"):
        fg.config.update("nope", 1)
    with pytest.raises(ValueError, match="default_backend"):
        fg.config.update("default_backend", "tpu")
    assert "enable_x64" in repr(fg.config)


def test_config_disable_jit():
    calls = []

    @fg.jit
    def f(x):
        calls.append(1)
        return x * 2

    f(1.0)
    f(2.0)
    assert len(calls) == 1          # traced once, cached
    fg.config.update("disable_jit", True)
    assert float(f(3.0)) == 6.0
    f(4.0)
    assert len(calls) == 3          # runs the Python function each time


def test_config_x64_retraces_jit():
    f = fg.jit(lambda x: x + 1.0)
    assert f(1.0).dtype == np.float32
    fg.config.update("enable_x64", True)
    assert f(1.0).dtype == np.float64


def test_debug_nans():
    fg.config.update("debug_nans", True)
    with np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError, match="log"):
            fnp.log(fnp.array(-1.0))
        fg.config.update("debug_nans", False)
        assert np.isnan(float(fnp.log(fnp.array(-1.0))))
