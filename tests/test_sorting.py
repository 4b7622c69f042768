"""Sorting: lax.sort / sort_key_val / argsort / top_k and the fnp sorting & order-statistic
functions (sort, argsort, lexsort, partition, searchsorted, unique, quantiles).

Values against NumPy; jit against eager; vmap against a Python loop; gradients with
``check_grads`` (order 2, forward and reverse) on float64.
"""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.interpreters import ad
from funcgrad.core.abstract import ShapedArray
from funcgrad.lax import sorting as lsort
from funcgrad.test_util import check_grads


def distinct(rng, shape, dtype=np.float64):
    """Values with no ties (finite differences never cross one)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) + rng.uniform(0, 0.5, shape)).astype(dtype)


def A(x):
    return np.asarray(x)


# ----------------------------------------------------------------------------- lax.sort


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.bool_])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_matches_numpy(rng, dtype, dim):
    x = (rng.normal(size=(4, 5, 3)) * 3).astype(dtype)
    np.testing.assert_array_equal(A(lax.sort(x, dimension=dim)), np.sort(x, axis=dim))
    np.testing.assert_array_equal(A(lax.argsort(x, dimension=dim)),
                                  np.argsort(x, axis=dim, kind="stable"))


def test_sort_nans_last_and_stable():
    x = np.array([3.0, np.nan, 1.0, np.nan, 1.0, -np.inf])
    np.testing.assert_array_equal(A(lax.sort(x)), np.sort(x))
    # equal keys keep their order (the iota says where each came from)
    k, v = lax.sort_key_val(np.array([1, 0, 1, 0, 1]), np.arange(5.0))
    np.testing.assert_array_equal(A(k), [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(A(v), [1, 3, 0, 2, 4])


def test_sort_multi_operand_num_keys(rng):
    k1 = rng.integers(0, 3, (4, 9))
    k2 = rng.integers(0, 3, (4, 9)).astype(np.float64)
    vals = rng.normal(size=(4, 9))
    s1, s2, sv = lax.sort((k1, k2, vals), dimension=1, num_keys=2)
    perm = np.lexsort((k2, k1), axis=1)
    np.testing.assert_array_equal(A(s1), np.take_along_axis(k1, perm, 1))
    np.testing.assert_array_equal(A(s2), np.take_along_axis(k2, perm, 1))
    np.testing.assert_array_equal(A(sv), np.take_along_axis(vals, perm, 1))
    # a single-operand list returns a tuple
    out = lax.sort([vals], dimension=0)
    assert isinstance(out, tuple) and len(out) == 1


def test_lexicographic_kernel_portable_path(rng):
    keys = [rng.integers(0, 3, (4, 20)), rng.normal(size=(4, 20)).round(),
            rng.integers(0, 2, (4, 20)).astype(float)]
    keys[1][0, 3] = np.nan
    np.testing.assert_array_equal(lsort._lex_argsort_portable(keys, 1),
                                  np.lexsort(tuple(reversed(keys)), axis=1))


def test_sort_errors():
    with pytest.raises(TypeError, match="same shape"):
        lax.sort((np.ones(3), np.ones(4)))
    with pytest.raises(TypeError, match="scalar"):
        lax.sort(np.float32(1.0))
    with pytest.raises(TypeError, match="num_keys"):
        lax.sort((np.ones(3), np.ones(3)), num_keys=3)
    with pytest.raises(ValueError, match="out of bounds"):
        lax.sort(np.ones(3), dimension=2)


def test_sort_jit_matches_eager(rng):
    x, y = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    f = lambda x, y: lax.sort((x, y), dimension=0)  # noqa: E731
    for a, b in zip(fg.jit(f)(x, y), f(x, y)):
        np.testing.assert_array_equal(A(a), A(b))
    assert "sort[" in str(fg.make_jaxpr(f)(x, y))


@pytest.mark.parametrize("in_axes", [(0, 0), (1, 0), (2, None), (None, 1), (-1, 2)])
def test_sort_vmap_matches_loop(rng, in_axes):
    B = 3
    keys = [rng.normal(size=(4, 5)) for _ in range(B)]
    vals = [rng.normal(size=(4, 5)) for _ in range(B)]
    f = lambda k, v: lax.sort((k, v), dimension=0)  # noqa: E731
    kb = keys[0] if in_axes[0] is None else np.stack(keys, in_axes[0])
    vb = vals[0] if in_axes[1] is None else np.stack(vals, in_axes[1])
    got = fg.vmap(f, in_axes=in_axes)(kb, vb)
    for i in range(B):
        want = f(keys[0] if in_axes[0] is None else keys[i],
                 vals[0] if in_axes[1] is None else vals[i])
        for g, w in zip(got, want):
            np.testing.assert_array_equal(A(g)[i], A(w))


def test_sort_grads(rng):
    x = distinct(rng, (3, 5))
    w = rng.normal(size=(3, 5))
    check_grads(lambda x: lax.sort(x, dimension=1) * w, (x,), order=2)
    check_grads(lambda x: lax.sort(x, dimension=0) ** 3, (x,), order=2)
    # values permuted by keys: differentiable in both (keys only through their own output)
    v = rng.normal(size=(3, 5))
    check_grads(lambda k, v: lax.sort_key_val(k, v * k, dimension=1), (x, v), order=2)
    # two keys (second breaks ties of the first)
    k1 = np.array([[1.0, 0.0, 1.0, 0.0]])
    k2 = np.array([[0.3, 0.9, 0.1, 0.2]])
    check_grads(lambda a, b: lax.sort((k1, a, b), num_keys=2), (k2, k2 * 2), order=2)


def test_sort_grad_follows_permutation():
    x = np.array([3.0, 1.0, 2.0])
    g = fg.grad(lambda x: fnp.sum(lax.sort(x) * np.array([1.0, 10.0, 100.0])))(x)
    np.testing.assert_array_equal(A(g), [100.0, 1.0, 10.0])
    h = fg.hessian(lambda x: fnp.sum(lax.sort(x) ** 3 * np.arange(3.0)))(x)
    np.testing.assert_allclose(A(h), np.diag([36.0, 0.0, 12.0]))


def test_sort_transpose_rule(rng):
    """sort is linear in its non-key operands: <ct, P t> == <P^T ct, t>."""
    keys = distinct(rng, (3, 6))
    t = rng.normal(size=(3, 6))
    cts = [fg.Array(rng.normal(size=(3, 6))) for _ in range(2)]
    out = lsort.sort_p.bind(keys, t, dimension=1, is_stable=True, num_keys=1)
    res = lsort.sort_p.transpose(cts, fg.Array(keys), ad.UndefinedPrimal(ShapedArray(
        (3, 6), np.float64)), dimension=1, is_stable=True, num_keys=1)
    assert res[0] is None
    lhs = float(np.vdot(A(cts[1]), A(out[1])))
    rhs = float(np.vdot(A(res[1]), t))
    assert abs(lhs - rhs) < 1e-10
    # gradients through jit and vmap use it
    f = fg.jit(lambda v: fnp.sum(lax.sort_key_val(keys, v)[1] * t))
    np.testing.assert_allclose(A(fg.grad(f)(t)), A(fg.vjp(
        lambda v: lax.sort_key_val(keys, v)[1], t)[1](t)[0]))


def test_sort_grad_under_vmap_and_jit(rng):
    x = distinct(rng, (4, 6))
    w = rng.normal(size=6)
    f = lambda x: fnp.sum(lax.sort(x) * w)  # noqa: E731
    got = fg.jit(fg.vmap(fg.grad(f)))(x)
    for i in range(4):
        np.testing.assert_allclose(A(got[i]), A(fg.grad(f)(x[i])))


# ----------------------------------------------------------------------------- top_k


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_top_k_matches_numpy(rng, dtype):
    x = (rng.normal(size=(3, 8)) * 5).astype(dtype)
    vals, idx = lax.top_k(x, 3)
    order = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[:, :3]
    np.testing.assert_array_equal(A(idx), order)
    np.testing.assert_array_equal(A(vals), np.take_along_axis(x, order, -1))
    assert A(idx).dtype == np.int32 and A(vals).dtype == dtype


def test_top_k_ties_and_nans():
    vals, idx = lax.top_k(np.array([1.0, 5.0, 5.0, np.nan, 2.0]), 3)
    np.testing.assert_array_equal(A(idx), [3, 1, 2])     # NaN largest; ties: lower index
    assert np.isnan(A(vals)[0])
    _, idx = lax.top_k(np.array([True, False, True]), 2)
    np.testing.assert_array_equal(A(idx), [0, 2])


def test_top_k_errors():
    with pytest.raises(TypeError, match="k=4"):
        lax.top_k(np.ones(3), 4)
    with pytest.raises(TypeError, match="scalar"):
        lax.top_k(np.float32(1), 1)
    with pytest.raises(TypeError, match="static"):
        fg.jit(lambda x, k: lax.top_k(x, k))(np.ones(3), 2)


@pytest.mark.parametrize("one_hot", [False, True])
def test_top_k_grads_jit_vmap(rng, one_hot, monkeypatch):
    monkeypatch.setattr(lsort, "_FORCE_ONE_HOT", [one_hot])
    x = distinct(rng, (4, 7))
    check_grads(lambda x: lax.top_k(x, 3)[0] ** 2, (x,), order=2)
    f = lambda x: lax.top_k(x, 2)  # noqa: E731
    for a, b in zip(fg.jit(f)(x), f(x)):
        np.testing.assert_array_equal(A(a), A(b))
    for axis in (0, 1):
        got = fg.vmap(f, in_axes=axis)(x)
        for i in range(x.shape[axis]):
            want = f(np.take(x, i, axis))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(A(g)[i], A(w))


# ----------------------------------------------------------------------------- fnp.sort & co


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_fnp_sort_argsort(rng, axis):
    x = rng.normal(size=(4, 6))
    x[1, 2] = np.nan
    np.testing.assert_array_equal(A(fnp.sort(x, axis)), np.sort(x, axis))
    np.testing.assert_array_equal(A(fnp.argsort(x, axis)), np.argsort(x, axis, kind="stable"))
    np.testing.assert_array_equal(A(fg.jit(lambda x: fnp.sort(x, axis))(x)), np.sort(x, axis))


def test_fnp_descending_is_stable(rng):
    x = rng.integers(0, 3, (4, 9))
    np.testing.assert_array_equal(A(fnp.sort(x, descending=True)), -np.sort(-x, kind="stable"))
    np.testing.assert_array_equal(A(fnp.argsort(x, descending=True)),
                                  np.argsort(-x, kind="stable"))
    assert A(fnp.argsort(x)).dtype == np.int32


def test_fnp_sort_grad(rng):
    x = distinct(rng, (3, 5))
    check_grads(lambda x: fnp.sort(x, axis=0, descending=True) ** 2, (x,), order=2)
    check_grads(lambda x: fnp.sort(x, axis=None)[:4], (x,), order=2)


def test_lexsort(rng):
    keys = (rng.integers(0, 3, 12), rng.integers(0, 2, 12), rng.normal(size=12).round())
    np.testing.assert_array_equal(A(fnp.lexsort(keys)), np.lexsort(keys))
    k2 = np.stack(keys[:2])
    np.testing.assert_array_equal(A(fnp.lexsort(k2)), np.lexsort(k2))
    np.testing.assert_array_equal(A(fg.jit(fnp.lexsort)(keys)), np.lexsort(keys))
    grid = rng.integers(0, 3, (2, 4, 5))
    np.testing.assert_array_equal(A(fnp.lexsort(grid, axis=0)), np.lexsort(grid, axis=0))
    with pytest.raises(TypeError, match="same shape"):
        fnp.lexsort((np.ones(3), np.ones(4)))


def test_partition(rng):
    x = rng.normal(size=(3, 7))
    for kth in (0, 3, 6, -1):
        p = A(fnp.partition(x, kth, axis=1))
        ref = np.partition(x, kth, axis=1)
        np.testing.assert_array_equal(p[:, kth], ref[:, kth])
        assert np.all(p[:, :kth % 7] <= p[:, [kth]]) and np.all(p[:, kth:] >= p[:, [kth]])
        ip = A(fnp.argpartition(x, kth, axis=1))
        np.testing.assert_array_equal(np.take_along_axis(x, ip, 1)[:, kth], ref[:, kth])
    with pytest.raises(ValueError, match="out of bounds"):
        fnp.partition(x, 7, axis=1)


# ----------------------------------------------------------------------------- searchsorted


@pytest.mark.parametrize("method", ["sort", "compare_all"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(rng, method, side):
    a = np.sort(rng.integers(0, 10, 15).astype(np.float64))
    a[-2:] = np.nan
    v = np.array([[0.0, 3.0, 3.5], [np.nan, 10.0, -1.0]])
    want = np.searchsorted(a, v, side=side)
    got = fnp.searchsorted(a, v, side=side, method=method)
    np.testing.assert_array_equal(A(got), want)
    assert A(got).dtype == np.int32
    jitted = fg.jit(lambda a, v: fnp.searchsorted(a, v, side=side, method=method))(a, v)
    np.testing.assert_array_equal(A(jitted), want)
    # vmap over the queries and over the sorted array
    got = fg.vmap(lambda v: fnp.searchsorted(a, v, side=side, method=method))(v)
    np.testing.assert_array_equal(A(got), want)
    aa = np.sort(rng.normal(size=(3, 6)), axis=1)
    got = fg.vmap(lambda a: fnp.searchsorted(a, 0.1, side=side, method=method))(aa)
    np.testing.assert_array_equal(A(got), [np.searchsorted(r, 0.1, side=side) for r in aa])


def test_searchsorted_sorter_and_errors(rng):
    b = rng.normal(size=10)
    v = rng.normal(size=4)
    s = np.argsort(b)
    np.testing.assert_array_equal(A(fnp.searchsorted(b, v, sorter=s)),
                                  np.searchsorted(b, v, sorter=s))
    with pytest.raises(TypeError, match="1-D"):
        fnp.searchsorted(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="side"):
        fnp.searchsorted(b, v, side="middle")


# ----------------------------------------------------------------------------- unique


@pytest.mark.parametrize("flags", [(0, 0, 0), (1, 1, 1), (1, 0, 1), (0, 1, 0)])
def test_unique_concrete_and_sized(rng, flags):
    u = rng.integers(0, 5, (3, 4)).astype(np.float64)
    u[0, 0] = u[1, 1] = np.nan
    ref = np.unique(u, *flags)
    got = fnp.unique(u, *flags)
    nu = len(np.unique(u))
    sized = fg.jit(lambda u: fnp.unique(u, *flags, size=nu))(u)
    if not any(flags):
        ref, got, sized = (ref,), (got,), (sized,)
    for r, g, s in zip(ref, got, sized):
        np.testing.assert_array_equal(A(g), r)
        np.testing.assert_array_equal(A(s), r)


def test_unique_padding_and_errors(rng):
    x = np.array([3, 1, 3, 2, 1], np.int32)
    vals, counts = fg.jit(lambda x: fnp.unique(x, return_counts=True, size=5,
                                               fill_value=-1))(x)
    np.testing.assert_array_equal(A(vals), [1, 2, 3, -1, -1])
    np.testing.assert_array_equal(A(counts), [2, 1, 2, 0, 0])
    small = fg.jit(lambda x: fnp.unique(x, size=2))(x)
    np.testing.assert_array_equal(A(small), [1, 2])
    default_fill = fg.jit(lambda x: fnp.unique(x, size=4))(x)
    np.testing.assert_array_equal(A(default_fill), [1, 2, 3, 1])
    with pytest.raises(fg.ConcretizationTypeError, match="size="):
        fg.jit(fnp.unique)(x)
    with pytest.raises(fg.ConcretizationTypeError, match="size="):
        fg.vmap(fnp.unique)(np.ones((2, 3)))
    # vmap with size works
    rows = np.array([[1, 1, 2], [3, 2, 3]])
    got = fg.vmap(lambda r: fnp.unique(r, size=2))(rows)
    np.testing.assert_array_equal(A(got), [[1, 2], [2, 3]])
    # axis= on concrete input goes to NumPy
    m = np.array([[1, 2], [1, 2], [0, 5]])
    np.testing.assert_array_equal(A(fnp.unique(m, axis=0)), np.unique(m, axis=0))


def test_unique_grad():
    g = fg.grad(lambda u: fnp.sum(fnp.unique(u) * fnp.arange(3.0)))(np.array([2.0, 1.0, 2.0,
                                                                             0.0]))
    np.testing.assert_array_equal(A(g), [2.0, 1.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- quantiles


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_quantile_matches_numpy(rng, method):
    z = rng.normal(size=(5, 4, 3))
    for q in (0.3, [0.0, 0.5, 1.0], np.array([[0.25], [0.75]])):
        for axis in (None, 0, (0, 2), -1):
            for kd in (False, True):
                got = fnp.quantile(z, q, axis, method=method, keepdims=kd)
                want = np.quantile(z, q, axis, method=method, keepdims=kd)
                assert A(got).shape == want.shape
                np.testing.assert_allclose(A(got), want, rtol=1e-12, atol=1e-15)


def test_median_percentile_nan(rng):
    z = rng.normal(size=(5, 4, 3))
    zn = z.copy()
    zn[0, 0, 0] = np.nan
    zn[1, :, 1] = np.nan
    np.testing.assert_allclose(A(fnp.median(z, 1)), np.median(z, 1))
    np.testing.assert_allclose(A(fnp.median(zn, 1)), np.median(zn, 1))
    np.testing.assert_allclose(A(fnp.percentile(z, [10, 90], 1)), np.percentile(z, [10, 90], 1))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        np.testing.assert_allclose(A(fnp.nanmedian(zn, 1)), np.nanmedian(zn, 1))
        np.testing.assert_allclose(A(fnp.nanquantile(zn, [0.1, 0.9], 1)),
                                   np.nanquantile(zn, [0.1, 0.9], 1))
        np.testing.assert_allclose(A(fnp.nanpercentile(zn, 40, 2)), np.nanpercentile(zn, 40, 2))
    np.testing.assert_allclose(A(fnp.median(np.array([1.0, 2.0, np.inf]))), 2.0)
    assert A(fnp.median(np.arange(4, dtype=np.int32))).dtype == np.float32
    assert float(A(fnp.median(np.float32([1, 2, 3, 4])))) == 2.5


def test_quantile_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fnp.quantile(np.ones(3), 1.5)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        fnp.percentile(np.ones(3), -1)
    with pytest.raises(ValueError, match="method"):
        fnp.quantile(np.ones(3), 0.5, method="weird")


def test_quantile_traced_q_jit_vmap(rng):
    z = rng.normal(size=(6, 5))
    qs = np.array([0.1, 0.5, 0.93])
    f = fg.jit(lambda z, q: fnp.quantile(z, q, axis=0))
    np.testing.assert_allclose(A(f(z, qs)), np.quantile(z, qs, axis=0), rtol=1e-12)
    got = fg.vmap(lambda q: fnp.quantile(z, q, axis=1))(qs)
    np.testing.assert_allclose(A(got), np.quantile(z, qs, axis=1), rtol=1e-12)
    got = fg.vmap(lambda r: fnp.median(r), in_axes=1)(z)
    np.testing.assert_allclose(A(got), np.median(z, axis=0), rtol=1e-12)


def test_quantile_grads(rng):
    z = distinct(rng, (5, 4))
    check_grads(lambda z: fnp.quantile(z, [0.3, 0.7], axis=1), (z,), order=2)
    check_grads(lambda q: fnp.quantile(z, q, axis=0), (np.array([0.33, 0.81]),), order=2)
    check_grads(lambda z: fnp.median(z, axis=0), (z,), order=2)
    check_grads(lambda z: fnp.nanmedian(z, axis=1), (z,), order=1)
