"""The eager fast paths (broadcasting binary ops, matmul, reductions, broadcast_in_dim /
reshape / full views, the shape-rule memo in eval_primitive, nn.relu) give exactly what
the general path gives: the same bits, dtypes and weak types as the same computation under
``jit``, the same errors with the same messages, and unchanged jaxprs when traced."""
import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.array import Array


def _same(a, b):
    assert type(a) is Array and type(b) is Array, (type(a), type(b))
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.weak_type == b.weak_type, (a.weak_type, b.weak_type)
    assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def _eager_vs_jit(f, *args):
    """Eager and jit agree: the same result, or the same error and message."""
    try:
        want = fg.jit(f)(*args)
    except Exception as e:   # noqa: BLE001
        with pytest.raises(type(e)) as got:
            f(*args)
        assert str(got.value) == str(e)
        return
    _same(f(*args), want)


def _errors_match(f, *args):
    with pytest.raises(Exception) as eager:
        f(*args)
    with pytest.raises(Exception) as jitted:
        fg.jit(f)(*args)
    assert type(eager.value) is type(jitted.value)
    assert str(eager.value) == str(jitted.value)
    return eager.value


_RNG = np.random.default_rng(0)


def _arr(shape, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        v = _RNG.random(shape) < 0.5
    elif dt.kind in "iu":
        v = _RNG.integers(-5, 6, shape).astype(dt)
    else:
        v = _RNG.standard_normal(shape).astype(dt)
    return fnp.asarray(v)


_SHAPE_PAIRS = [((), (3,)), ((3,), ()), ((4, 3), (3,)), ((3,), (4, 3)), ((4, 1), (1, 3)),
                ((4, 3), (4, 1)), ((2, 4, 3), (3,)), ((2, 4, 3), (4, 3)), ((2, 1, 3), (4, 1)),
                ((1,), (2, 4, 3)), ((2, 4, 3), (2, 4, 3)), ((), ())]
_BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "equal",
           "not_equal", "less", "less_equal", "greater", "greater_equal"]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("name", _BINARY)
def test_binary_broadcasting_matches_jit(name, dtype):
    fn = getattr(fnp, name)
    for sa, sb in _SHAPE_PAIRS:
        a, b = _arr(sa, dtype), _arr(sb, dtype)
        if dtype == "bool" and name == "subtract":
            _errors_match(fn, a, b)
            continue
        _eager_vs_jit(fn, a, b)
        _eager_vs_jit(lambda x, y: fn(y, x), a, b)


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__lt__"])
def test_operators_broadcast_and_bool_subtract(op):
    h, b = _arr((4, 3), "float32"), _arr((3,), "float32")
    _eager_vs_jit(lambda x, y: getattr(x, op)(y), h, b)
    _eager_vs_jit(lambda x, y: getattr(x, op)(y), h, h)
    t = _arr((3,), "bool")
    # bool - bool is rejected with lax's message, eagerly as under jit
    err = _errors_match(lambda x: x - x, t)
    assert "sub does not accept dtype bool" in str(err)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("scalar", [2, 2.5, -0.0, True, np.float32(1.5), np.float64(1.5),
                                    np.int32(3)])
def test_scalars_and_weak_types(dtype, scalar):
    x = _arr((3, 2), dtype)
    for name in ["add", "multiply", "maximum", "less", "divide"]:
        fn = getattr(fnp, name)
        for f in (lambda v: fn(v, scalar), lambda v: fn(scalar, v)):
            _eager_vs_jit(f, x)


def test_weak_arrays():
    w = fnp.asarray(2.0)               # a weakly typed 0-d array
    assert w.weak_type
    x32 = _arr((3,), "float32")
    i32 = _arr((3,), "int32")
    for a, b in [(w, w), (w, x32), (x32, w), (w, i32), (i32, w), (w, 3.0), (3, w)]:
        for name in ["add", "multiply", "maximum", "less", "divide"]:
            fn = getattr(fnp, name)
            f = (lambda p, q: fn(p, q))
            args = [v for v in (a, b)]
            _same(f(*args), fg.jit(lambda p, q: fn(p, q))(*args)
                  if not isinstance(b, (int, float)) else fg.jit(lambda p: fn(p, b))(a))


def test_incompatible_shapes_error_matches_jit():
    a, b = _arr((4, 3), "float32"), _arr((2,), "float32")
    for name in ["add", "subtract", "multiply", "divide", "maximum", "less"]:
        err = _errors_match(getattr(fnp, name), a, b)
        assert isinstance(err, TypeError)
        assert "(4, 3)" in str(err) and "(2,)" in str(err)
    _errors_match(lambda x, y: x + y, a, b)


def test_jaxprs_unchanged_by_fast_paths():
    h, b = _arr((4, 3), "float32"), _arr((3,), "float32")

    def explicit(h, b):
        return lax.add(h, lax.broadcast_in_dim(b, (4, 3), (1,)))

    assert str(fg.make_jaxpr(lambda h, b: h + b)(h, b)) == str(fg.make_jaxpr(explicit)(h, b))
    # eager Arrays closed over while staging still become staged equations
    jx = str(fg.make_jaxpr(lambda h: h + b)(h))
    assert "broadcast_in_dim" in jx
    jx = str(fg.make_jaxpr(lambda h: fnp.maximum(h, np.float32(0)))(h))
    assert "max" in jx
    jx = str(fg.make_jaxpr(lambda x, w: x @ w)(_arr((2, 4), "float32"), _arr((4, 3), "float32")))
    assert "dot_general" in jx
    jx = str(fg.make_jaxpr(lambda x: fnp.max(x, axis=-1, keepdims=True))(h))
    assert "reduce_max" in jx and "reshape" in jx


def test_tape_and_grad_agree_with_general_path():
    x = _arr((4, 3), "float32")
    b = _arr((3,), "float32")

    def loss(x, b):
        z = fg.nn.relu(x + b) * 2.0
        return fnp.mean(fnp.sum(fg.nn.log_softmax(z), axis=-1))

    g_eager = fg.grad(loss, argnums=(0, 1))(x, b)
    g_jit = fg.jit(fg.grad(loss, argnums=(0, 1)))(x, b)
    for u, v in zip(g_eager, g_jit):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-6, atol=1e-6)
    fg.config.update("eager_tape", False)
    try:
        g_general = fg.grad(loss, argnums=(0, 1))(x, b)
    finally:
        fg.config.update("eager_tape", True)
    for u, v in zip(g_eager, g_general):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)),
                                   ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
                                   ((5, 2, 3), (5, 3, 4))])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_matmul_matches_jit(sa, sb, dtype):
    a, b = _arr(sa, dtype), _arr(sb, dtype)
    _eager_vs_jit(lambda x, y: x @ y, a, b)
    _eager_vs_jit(fnp.matmul, a, b)


def test_matmul_errors_and_mixed_dtypes():
    a, b = _arr((2, 3), "float32"), _arr((4, 5), "float32")
    _errors_match(lambda x, y: x @ y, a, b)
    _errors_match(lambda x, y: x @ y, _arr((3,), "float32"), _arr((4,), "float32"))
    _errors_match(lambda x, y: x @ y, a, _arr((2,), "float32"))
    _eager_vs_jit(lambda x, y: x @ y, a, _arr((3, 2), "float64"))
    _eager_vs_jit(lambda x, y: x @ y, _arr((2, 3), "int32"), _arr((3, 2), "float32"))
    w = fnp.asarray(np.ones((3, 2), np.float32))
    _eager_vs_jit(lambda x, y: x @ y, a, w)


_AXES = [None, 0, -1, 1, (0, 1), (-1, 0), (), (2,), (0, -3)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "any", "all", "var"])
def test_reductions_match_jit(name, dtype):
    fn = getattr(fnp, name)
    x = _arr((2, 3, 4), dtype)
    for axis, keepdims in itertools.product(_AXES, [False, True]):
        _eager_vs_jit(lambda v: fn(v, axis=axis, keepdims=keepdims), x)
    for shape in [(), (5,)]:
        y = _arr(shape, dtype)
        for axis in [None, 0, -1]:
            for keepdims in [False, True]:
                _eager_vs_jit(lambda v: fn(v, axis=axis, keepdims=keepdims), y)


def test_reduction_errors_match_jit():
    x = _arr((2, 3), "float32")
    for name in ["sum", "mean", "max", "min"]:
        fn = getattr(fnp, name)
        for axis in [2, -3, (0, 0), (0, -2)]:
            err = _errors_match(lambda v: fn(v, axis=axis), x)
            assert isinstance(err, ValueError)
        # an error raised once is raised again (failures are never memoized)
        _errors_match(lambda v: fn(v, axis=5), x)
    _errors_match(lambda v: fnp.max(v, axis=0), _arr((0, 3), "float32"))
    _same(fnp.max(_arr((0, 3), "float32"), axis=0, initial=-1.0),
          fg.jit(lambda v: fnp.max(v, axis=0, initial=-1.0))(_arr((0, 3), "float32")))


def test_lax_reductions_and_views():
    x = _arr((2, 3, 4), "float32")
    for axes in [(0,), (1, 2), (-1,), 2, None]:
        _eager_vs_jit(lambda v: lax.reduce_sum(v, axes), x)
        _eager_vs_jit(lambda v: lax.reduce_max(v, axes), x)
    with pytest.raises(ValueError):
        lax.reduce_sum(x, (3,))
    # broadcast_in_dim: the eager view equals np.broadcast_to and is read-only
    for xs, shape, dims in [((3,), (2, 3), (1,)), ((3, 1), (3, 4), (0, 1)), ((), (2, 3), ()),
                            ((2, 3), (2, 4, 3), (0, 2)), ((1, 3), (2, 1, 3), (1, 2)),
                            ((1,), (0,), (0,))]:
        v = _arr(xs, "float64")
        r = lax.broadcast_in_dim(v, shape, dims)
        _same(r, fg.jit(lambda u: lax.broadcast_in_dim(u, shape, dims))(v))
        assert not np.asarray(r._value).flags.writeable
    # a non-contiguous operand
    t = Array(np.arange(6.0).reshape(2, 3).T)
    _same(lax.broadcast_in_dim(t, (4, 3, 2), (1, 2)),
          Array(np.broadcast_to(np.arange(6.0).reshape(2, 3).T, (4, 3, 2))))
    t = Array(np.arange(12.0).reshape(3, 4)[:, ::2])
    _same(lax.broadcast_in_dim(t, (2, 3, 2), (1, 2)),
          Array(np.broadcast_to(np.arange(12.0).reshape(3, 4)[:, ::2], (2, 3, 2))))
    for bad in [((3,), (2, 4), (1,)), ((3,), (2, 3), (0,)), ((3,), (2, 3), (0, 1)),
                ((2, 3), (2, 3), (1, 0))]:
        v = _arr(bad[0], "float32")
        _errors_match(lambda u: lax.broadcast_in_dim(u, bad[1], bad[2]), v)
    # weak types survive
    w = fnp.asarray(2.0)
    _same(lax.broadcast_in_dim(w, (2,), ()),
          fg.jit(lambda u: lax.broadcast_in_dim(u, (2,), ()))(w))
    # reshape
    _eager_vs_jit(lambda u: lax.reshape(u, (6, 4)), x)
    _eager_vs_jit(lambda u: lax.reshape(u, [4, 6]), x)
    _errors_match(lambda u: lax.reshape(u, (5, 5)), x)
    _errors_match(lambda u: lax.reshape(u, (5, 5)), x)
    _same(lax.reshape(w, (1,)), fg.jit(lambda u: lax.reshape(u, (1,)))(w))
    # full / zeros
    for dt in [np.float32, np.int32, np.bool_, np.float64]:
        _same(lax.full((2, 3), 1, dt), fg.jit(lambda: lax.full((2, 3), 1, dt))())
        _same(fnp.zeros((3,), dt), fg.jit(lambda: fnp.zeros((3,), dt))())
        _same(fnp.zeros_like(x), fg.jit(fnp.zeros_like)(x))


def test_nn_matches_jit():
    for dt in ["float32", "float64"]:
        lg = _arr((5, 3), dt)
        for f in [fg.nn.relu, fg.nn.log_softmax, fg.nn.softmax, fg.nn.logsumexp,
                  lambda v: fg.nn.log_softmax(v, axis=0), fg.nn.gelu]:
            _eager_vs_jit(f, lg)
    _eager_vs_jit(fg.nn.relu, _arr((4,), "int32"))
    assert float(fg.grad(fg.nn.relu)(0.0)) == 0.0
    _eager_vs_jit(fg.nn.log_softmax, fnp.asarray(np.array([[1e4, 0.0, -np.inf]], np.float32)))


def test_where_matches_jit():
    c = _arr((4, 3), "bool")
    a, b = _arr((4, 3), "float32"), _arr((3,), "float32")
    _eager_vs_jit(fnp.where, c, a, a)
    _eager_vs_jit(fnp.where, c, a, b)
    _eager_vs_jit(lambda c_, a_: fnp.where(c_, a_, 0.0), c, a)
    _eager_vs_jit(fnp.where, _arr((4, 3), "int32"), a, a)


def test_debug_nans_still_checks_eager_ops():
    h = fnp.asarray(np.ones((2, 3), np.float32))
    b = fnp.asarray(np.array([1.0, np.nan, 0.0], np.float32))
    fg.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError):
            h + b
        with pytest.raises(FloatingPointError):
            fnp.add(h, b)
        with pytest.raises(FloatingPointError):
            fnp.sum(b)
    finally:
        fg.config.update("debug_nans", False)
    assert np.isnan(np.asarray(h + b)).sum() == 2
