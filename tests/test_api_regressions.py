"""Regression tests for API behaviours found during review."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax


def test_static_argnames_passed_by_keyword_default_or_position():
    f = fg.jit(lambda x, mode="a": x * (2.0 if mode == "a" else 3.0), static_argnames="mode")
    np.testing.assert_allclose(f(fnp.ones(2)), [2.0, 2.0])
    np.testing.assert_allclose(f(fnp.ones(2), mode="b"), [3.0, 3.0])
    np.testing.assert_allclose(f(fnp.ones(2), "b"), [3.0, 3.0])


def test_non_array_jit_argument_suggests_static():
    with pytest.raises(TypeError, match="static_argnums"):
        fg.jit(lambda x, s: x)(fnp.ones(2), "text")


def test_scalar_broadcast_takes_default_dtype_eagerly_and_traced():
    assert lax.broadcast_in_dim(2.0, (2,), ()).dtype == np.float32
    assert fg.jit(lambda: lax.broadcast_in_dim(2.0, (2,), ()))().dtype == np.float32


def test_weight_gradient_has_natural_layout_and_value():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(8, 5)), rng.normal(size=(5, 3))
    f = lambda x, w: fnp.sum(fnp.tanh(x @ w))  # noqa: E731
    jaxpr = str(fg.make_jaxpr(fg.grad(f, 1))(x, w))
    assert "transpose" not in jaxpr
    h = np.tanh(x @ w)
    np.testing.assert_allclose(fg.grad(f, 1)(x, w), x.T @ (1 - h ** 2), rtol=1e-12)
    np.testing.assert_array_equal(fg.jit(fg.grad(f, 1))(x, w), fg.grad(f, 1)(x, w))


def test_size_one_contraction_is_exact_and_matches_jit():
    a = np.random.default_rng(1).normal(size=(16, 7)).astype(np.float32)
    b = np.random.default_rng(2).normal(size=(16, 5)).astype(np.float32)
    outer = lambda a, b: lax.dot_general(a[:, :, None], b[:, None, :],  # noqa: E731
                                         (((2,), (1,)), ((0,), (0,))))
    np.testing.assert_array_equal(outer(a, b), np.matmul(a[:, :, None], b[:, None, :]))
    np.testing.assert_array_equal(fg.jit(outer)(a, b), outer(a, b))


def test_eager_elementwise_checks_dtype_kinds_like_jit():
    with pytest.raises(TypeError, match="sin does not accept dtype int32"):
        lax.sin(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="add does not accept dtype bool"):
        lax.add(np.ones(2, bool), np.ones(2, bool))
    assert fnp.nextafter(fnp.arange(2), 5).dtype == np.float32
