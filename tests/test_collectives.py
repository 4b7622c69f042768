"""Collectives over named vmap axes: values vs NumPy, nesting, grad, jit and control flow."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import UnboundAxisNameError
from funcgrad.test_util import check_grads

X = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)


def test_psum_pmean_pmax_pmin_values():
    x = X[0]
    np.testing.assert_allclose(fg.vmap(lambda v: v / lax.psum(v, "i"), axis_name="i")(x),
                               x / x.sum())
    np.testing.assert_allclose(fg.vmap(lambda v: lax.pmean(v, "i"), axis_name="i")(x),
                               np.full(3, x.mean()))
    np.testing.assert_allclose(fg.vmap(lambda v: lax.pmax(v, "i"), axis_name="i")(x),
                               np.full(3, x.max()))
    np.testing.assert_allclose(fg.vmap(lambda v: lax.pmin(v, "i"), axis_name="i")(x),
                               np.full(3, x.min()))


def test_unbatched_operand_and_pytrees():
    out = fg.vmap(lambda v: lax.psum(1.0, "i"), axis_name="i")(X[0])
    np.testing.assert_allclose(out, [3.0, 3.0, 3.0])
    out = fg.vmap(lambda v: lax.psum({"a": v, "b": 2 * v}, "i"), axis_name="i")(X[0])
    np.testing.assert_allclose(out["b"], np.full(3, 2 * X[0].sum()))


def test_all_gather_and_axis_index():
    g = fg.vmap(lambda v: lax.all_gather(v, "i"), axis_name="i")(X)
    assert g.shape == (2, 2, 3)
    np.testing.assert_allclose(g[1], X)
    t = fg.vmap(lambda v: lax.all_gather(v, "i", tiled=True), axis_name="i")(X)
    np.testing.assert_allclose(t[0], X.reshape(-1))
    np.testing.assert_array_equal(
        fg.vmap(lambda v: lax.axis_index("i"), axis_name="i")(X[0]), [0, 1, 2])


def test_nested_axes_outer_from_inner():
    inner_sum = fg.vmap(fg.vmap(lambda v: lax.psum(v, "j"), axis_name="j"), axis_name="i")(X)
    np.testing.assert_allclose(inner_sum, np.repeat(X.sum(1, keepdims=True), 3, 1))
    outer_sum = fg.vmap(fg.vmap(lambda v: lax.psum(v, "i"), axis_name="j"), axis_name="i")(X)
    np.testing.assert_allclose(outer_sum, np.repeat(X.sum(0, keepdims=True), 2, 0))
    both = fg.vmap(fg.vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"),
                   axis_name="i")(X)
    np.testing.assert_allclose(both, np.full((2, 3), X.sum()))


def test_grad_through_collectives(x64):
    def f(x):
        return fnp.sum(fg.vmap(lambda v: v / lax.psum(v, "i"), axis_name="i")(x) ** 2)
    check_grads(f, (X[0].astype(np.float64),), order=2)

    def g(x):
        return fnp.sum(fg.vmap(lambda v: v * lax.pmax(v, "i"), axis_name="i")(x))
    check_grads(g, (np.array([1.0, 3.0, 2.0]),), order=1)

    def h(x):
        return fnp.sum(fg.vmap(lambda v: lax.all_gather(v, "i") * v, axis_name="i")(x))
    check_grads(h, (np.array([1.0, 3.0, 2.0]),), order=1, modes=("fwd",))


def test_collectives_inside_jit_scan_cond_under_named_vmap():
    x = X[0]
    np.testing.assert_allclose(
        fg.vmap(fg.jit(lambda v: v / lax.psum(v, "i")), axis_name="i")(x), x / x.sum())
    np.testing.assert_allclose(fg.vmap(fg.jit(lambda v: lax.psum(1.0, "i")), axis_name="i")(x),
                               [3.0, 3.0, 3.0])
    out = fg.vmap(lambda v: lax.scan(lambda c, y: (c + lax.psum(y, "i"), None), 0.0,
                                     fnp.ones(3) * v)[0], axis_name="i")(x)
    np.testing.assert_allclose(out, np.full(3, 3 * x.sum()))
    out = fg.vmap(lambda v: lax.cond(v > 1.5, lambda u: lax.psum(u, "i"), lambda u: u, v),
                  axis_name="i")(x)
    np.testing.assert_allclose(out, [1.0, 6.0, 6.0])
    np.testing.assert_allclose(
        fg.jit(fg.vmap(lambda v: v - lax.pmean(v, "i"), axis_name="i"))(x), x - x.mean())


def test_unbound_axis_name_errors():
    with pytest.raises(NameError, match="unbound axis name"):
        lax.psum(fnp.ones(3), "k")
    with pytest.raises(UnboundAxisNameError, match="'i'"):
        fg.vmap(lambda v: lax.psum(v, "k"), axis_name="i")(X[0])
    with pytest.raises(NameError):
        fg.jit(lambda v: lax.pmean(v, "z"))(X[0])
