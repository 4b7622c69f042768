"""Linear algebra: the lax.linalg primitives (cholesky, triangular_solve, lu, qr, eigh, svd)
and funcgrad.numpy.linalg.

Values against NumPy (or reconstructions); jit against eager; vmap against a Python loop;
gradients with ``check_grads`` (order 2, forward and reverse, float64).  Eigen- and
singular vectors are only defined up to sign, so their gradients are checked through
gauge-invariant functions.
"""
import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.lax import linalg as L
from funcgrad.test_util import check_grads

LA = fnp.linalg


def A(x):
    return np.asarray(x)


def spd(rng, shape):
    m = rng.normal(size=shape)
    n = shape[-1]
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def sym_distinct(rng, n, batch=()):
    q, _ = np.linalg.qr(rng.normal(size=batch + (n, n)))
    w = np.linspace(-2.0, 3.0, n)
    return q @ (w[:, None] * np.swapaxes(q, -1, -2))


def distinct_sv(rng, m, n, batch=()):
    k = min(m, n)
    u, _ = np.linalg.qr(rng.normal(size=batch + (m, k)))
    v, _ = np.linalg.qr(rng.normal(size=batch + (n, k)))
    s = np.linspace(3.0, 0.6, k)
    return (u * s) @ np.swapaxes(v, -1, -2)


def tri_well_conditioned(rng, shape):
    a = rng.normal(size=shape) * 0.3
    n = shape[-1]
    a[..., np.arange(n), np.arange(n)] = rng.uniform(1.5, 2.5, shape[:-1])
    return a


def vmap_vs_loop(f, x, axis=0, tol=1e-12):
    got = fg.vmap(f, in_axes=axis)(x)
    got = got if isinstance(got, (tuple, list)) else (got,)
    for i in range(x.shape[axis]):
        want = f(np.take(x, i, axis))
        want = want if isinstance(want, (tuple, list)) else (want,)
        for g, w in zip(got, want):
            np.testing.assert_allclose(A(g)[i], A(w), rtol=tol, atol=tol)


def jit_vs_eager(f, *args, tol=1e-12):
    a = f(*args)
    b = fg.jit(f)(*args)
    a = a if isinstance(a, (tuple, list)) else (a,)
    b = b if isinstance(b, (tuple, list)) else (b,)
    for x, y in zip(a, b):
        np.testing.assert_allclose(A(y), A(x), rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- cholesky


def test_cholesky_values_batch_jit_vmap(rng):
    a = spd(rng, (2, 3, 4, 4))
    np.testing.assert_allclose(A(L.cholesky(a)), np.linalg.cholesky(a), rtol=1e-12)
    np.testing.assert_allclose(A(L.cholesky(a.astype(np.float32))), np.linalg.cholesky(a),
                               rtol=1e-4)
    jit_vs_eager(L.cholesky, a)
    vmap_vs_loop(L.cholesky, a, axis=1)
    vmap_vs_loop(L.cholesky, np.moveaxis(a[0], 0, -1), axis=-1)


def test_cholesky_not_pd_gives_nan(rng):
    a = np.stack([spd(rng, (3, 3)), -np.eye(3)])
    out = A(L.cholesky(a))
    np.testing.assert_allclose(out[0], np.linalg.cholesky(a[0]))
    assert np.all(np.isnan(out[1]))


def test_cholesky_grads(rng):
    a = spd(rng, (2, 3, 3))
    check_grads(L.cholesky, (a,), order=2)
    # lower-triangle semantics without symmetrization (what the kernel reads)
    check_grads(lambda a: L.cholesky(a, symmetrize_input=False), (a,), order=2)
    check_grads(lambda a: LA.cholesky(a, upper=True), (a,), order=2)


def test_cholesky_errors():
    with pytest.raises(TypeError, match=r"square.*\(3, 4\)"):
        L.cholesky(np.ones((3, 4)))
    with pytest.raises(TypeError, match=r"square.*\(3, 4\)"):
        LA.cholesky(np.ones((3, 4)))
    with pytest.raises(TypeError, match="complex"):
        L.cholesky(np.eye(2, dtype=np.complex128))
    with pytest.raises(TypeError, match=r"\(3,\)"):
        L.cholesky(np.ones(3))


# ----------------------------------------------------------------------------- triangular_solve


def _tri_reference(a, b, left, lower, trans, unit):
    n = a.shape[-1]
    strict = np.tril(a, -1) if lower else np.triu(a, 1)
    diag = np.eye(n) if unit else np.eye(n) * np.diagonal(a, axis1=-2, axis2=-1)[..., None, :]
    m = strict + diag
    m = np.swapaxes(m, -1, -2) if trans else m
    if left:
        return np.linalg.solve(m, b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(m, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)


@pytest.mark.parametrize("left,lower,trans,unit",
                         list(itertools.product([True, False], repeat=4)))
def test_triangular_solve_all_flags(rng, left, lower, trans, unit):
    a = tri_well_conditioned(rng, (2, 4, 4))
    b = rng.normal(size=(2, 4, 3) if left else (2, 3, 4))
    f = lambda a, b: L.triangular_solve(a, b, left, lower, trans, False, unit)  # noqa: E731
    np.testing.assert_allclose(A(f(a, b)), _tri_reference(a, b, left, lower, trans, unit),
                               rtol=1e-10, atol=1e-12)
    check_grads(f, (a, b), order=1)


def test_triangular_solve_grads_jit_vmap(rng):
    a = tri_well_conditioned(rng, (3, 4, 4))
    b = rng.normal(size=(3, 4, 2))
    f = lambda a, b: L.triangular_solve(a, b, left_side=True, lower=True)  # noqa: E731
    check_grads(f, (a, b), order=2)
    g = lambda a, b: L.triangular_solve(a, b, left_side=False, lower=False,  # noqa: E731
                                        transpose_a=True)
    check_grads(g, (a, np.swapaxes(b, -1, -2)), order=2)
    jit_vs_eager(f, a, b)
    for axes in [(0, 0), (None, 0), (0, None), (1, 2)]:
        aa = a[0] if axes[0] is None else np.moveaxis(a, 0, axes[0])
        bb = b[0] if axes[1] is None else np.moveaxis(b, 0, axes[1])
        got = fg.vmap(f, in_axes=axes)(aa, bb)
        for i in range(3):
            want = A(f(a[0] if axes[0] is None else a[i], b[0] if axes[1] is None else b[i]))
            np.testing.assert_allclose(A(got)[i], want, rtol=1e-12)


def test_triangular_solve_large_blocked(rng):
    n = 150   # more than one 64-row block
    a = rng.normal(size=(n, n)) * 0.05 + 3 * np.eye(n)
    b = rng.normal(size=(n, 2))
    for lower in (True, False):
        ref = np.linalg.solve(np.tril(a) if lower else np.triu(a), b)
        np.testing.assert_allclose(A(L.triangular_solve(a, b, left_side=True, lower=lower)),
                                   ref, rtol=1e-9)


def test_triangular_solve_errors():
    with pytest.raises(TypeError, match="must match"):
        L.triangular_solve(np.eye(3), np.ones((2, 3)), left_side=True)
    with pytest.raises(TypeError, match="batch"):
        L.triangular_solve(np.eye(3), np.ones((2, 3, 3)))
    with pytest.raises(TypeError, match="same dtype"):
        L.triangular_solve(np.eye(3), np.ones((3, 3), np.float32))


# ----------------------------------------------------------------------------- lu


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4, 4), (0, 0), (2, 0, 3)])
def test_lu_reconstructs(rng, shape):
    x = rng.normal(size=shape)
    lu, piv, perm = L.lu(x)
    lu, piv, perm = A(lu), A(piv), A(perm)
    m, n = shape[-2:]
    k = min(m, n)
    assert piv.shape == shape[:-2] + (k,) and perm.shape == shape[:-2] + (m,)
    assert piv.dtype == np.int32 and perm.dtype == np.int32
    lo = np.tril(lu, -1)[..., :, :k] + np.eye(m, k)
    up = np.triu(lu)[..., :k, :]
    np.testing.assert_allclose(np.take_along_axis(x, perm[..., None], -2), lo @ up, atol=1e-12)
    # pivots and permutation agree
    if x.size == 0:
        return
    p = np.broadcast_to(np.arange(m), shape[:-2] + (m,)).copy().reshape(-1, m)
    for b, row in enumerate(piv.reshape(-1, k)):
        for i, j in enumerate(row):
            p[b, [i, j]] = p[b, [j, i]]
    np.testing.assert_array_equal(p.reshape(perm.shape), perm)


def test_lu_singular_and_pivoting():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    lu, piv, perm = L.lu(x)
    np.testing.assert_array_equal(A(perm), [1, 0])
    lu, _, _ = L.lu(np.zeros((3, 3)))
    assert np.all(A(lu) == 0)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 3)])
def test_lu_grads(rng, shape):
    x = rng.normal(size=shape)
    check_grads(lambda x: L.lu(x)[0], (x,), order=2)


def test_lu_jit_vmap(rng):
    x = rng.normal(size=(3, 4, 4))
    jit_vs_eager(L.lu, x)
    vmap_vs_loop(L.lu, x, axis=0)
    vmap_vs_loop(L.lu, x, axis=2)


# ----------------------------------------------------------------------------- qr


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 2)])
@pytest.mark.parametrize("full", [False, True])
def test_qr_values(rng, shape, full):
    x = rng.normal(size=shape)
    q, r = L.qr(x, full_matrices=full)
    q0, r0 = np.linalg.qr(x, mode="complete" if full else "reduced")
    np.testing.assert_allclose(A(q), q0, atol=1e-12)
    np.testing.assert_allclose(A(r), r0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 2)])
def test_qr_grads(rng, shape):
    x = rng.normal(size=shape)
    check_grads(lambda x: L.qr(x, full_matrices=False), (x,), order=2)


def test_qr_full_tall_grad_not_unique(rng):
    x = rng.normal(size=(4, 2))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        fg.jvp(lambda x: L.qr(x, full_matrices=True), (x,), (x,))
    # square full_matrices is fine
    check_grads(lambda x: L.qr(x, full_matrices=True), (x[:2],), order=1)


def test_qr_jit_vmap(rng):
    x = rng.normal(size=(3, 4, 2))
    f = lambda x: L.qr(x, full_matrices=False)  # noqa: E731
    jit_vs_eager(f, x)
    vmap_vs_loop(f, x, axis=0)
    vmap_vs_loop(f, x, axis=1)


# ----------------------------------------------------------------------------- eigh


def test_eigh_values(rng):
    a = sym_distinct(rng, 4, (2,))
    v, w = L.eigh(a)
    w0 = np.linalg.eigvalsh(a)
    np.testing.assert_allclose(A(w), w0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A(a) @ A(v), A(v) * A(w)[..., None, :], atol=1e-12)
    # one triangle only, without symmetrization
    junk = np.tril(a) + np.triu(rng.normal(size=a.shape), 1)
    _, w_lower = L.eigh(junk, lower=True, symmetrize_input=False)
    np.testing.assert_allclose(A(w_lower), w0, atol=1e-12)
    junk = np.triu(a) + np.tril(rng.normal(size=a.shape), -1)
    _, w_upper = L.eigh(junk, lower=False, symmetrize_input=False)
    np.testing.assert_allclose(A(w_upper), w0, atol=1e-12)


def test_eigh_grads_gauge_invariant(rng):
    a = sym_distinct(rng, 4, (2,))
    check_grads(lambda a: L.eigh(a)[1], (a,), order=2)
    # V diag(f(w)) V^T does not depend on the sign of the eigenvectors
    def matfun(a):
        v, w = L.eigh(a)
        return fnp.matmul(v * fnp.sin(w)[..., None, :], fnp.swapaxes(v, -1, -2))
    check_grads(matfun, (a,), order=2)
    check_grads(lambda a: L.eigh(a)[0] ** 2, (a,), order=2)
    check_grads(lambda a: L.eigh(a, symmetrize_input=False)[1], (a,), order=2)


def test_eigh_degenerate_gradients_finite():
    a = np.eye(3)
    g = fg.grad(lambda a: fnp.sum(L.eigh(a)[1] * np.array([1.0, 2.0, 3.0])))(a)
    assert np.all(np.isfinite(A(g)))
    # a function invariant to rotations in the eigenspace: exact gradient (identity)
    def f(a):
        v, w = L.eigh(a)
        return fnp.trace(fnp.matmul(v * w[None, :], v.T))
    np.testing.assert_allclose(A(fg.grad(f)(2 * np.eye(3))), np.eye(3), atol=1e-12)


def test_eigh_jit_vmap(rng):
    a = sym_distinct(rng, 3, (4,))
    f = lambda a: L.eigh(a)[1]  # noqa: E731
    jit_vs_eager(f, a)
    vmap_vs_loop(f, a, axis=0)
    vmap_vs_loop(lambda a: fnp.abs(L.eigh(a)[0]), a, axis=0)


# ----------------------------------------------------------------------------- svd


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 2)])
def test_svd_values(rng, shape):
    x = rng.normal(size=shape)
    for full in (False, True):
        u, s, vh = L.svd(x, full_matrices=full)
        u0, s0, vh0 = np.linalg.svd(x, full_matrices=full)
        assert A(u).shape == u0.shape and A(vh).shape == vh0.shape
        np.testing.assert_allclose(A(s), s0, rtol=1e-12)
        k = s0.shape[-1]
        rec = (A(u)[..., :, :k] * A(s)[..., None, :]) @ A(vh)[..., :k, :]
        np.testing.assert_allclose(rec, x, atol=1e-12)
    np.testing.assert_allclose(A(L.svd(x, compute_uv=False)),
                               np.linalg.svd(x, compute_uv=False), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_svd_grads(rng, shape):
    x = distinct_sv(rng, *shape[-2:], batch=shape[:-2])
    check_grads(lambda x: L.svd(x, compute_uv=False), (x,), order=2)

    def gauge_free(x):
        u, s, vh = L.svd(x, full_matrices=False)
        # U f(S) V^T, and squared entries: invariant to the joint sign of (u_i, v_i)
        return fnp.matmul(u * fnp.sin(s)[..., None, :], vh), u * u, vh * vh
    check_grads(gauge_free, (x,), order=2)


def test_svd_full_matrices_grad_errors(rng):
    x = rng.normal(size=(4, 3))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        fg.jvp(lambda x: L.svd(x, full_matrices=True), (x,), (x,))
    # singular values alone are fine
    check_grads(lambda x: L.svd(x, full_matrices=True, compute_uv=False), (x,), order=1)
    check_grads(lambda x: L.svd(x[:3], full_matrices=True)[1], (x,), order=1)


def test_svd_zero_singular_values_finite(rng):
    x = np.outer(rng.normal(size=4), rng.normal(size=3))   # rank 1
    g = fg.grad(lambda x: fnp.sum(L.svd(x, full_matrices=False)[1]))(x)
    assert np.all(np.isfinite(A(g)))


def test_svd_jit_vmap(rng):
    x = rng.normal(size=(3, 4, 2))
    f = lambda x: L.svd(x, compute_uv=False)  # noqa: E731
    jit_vs_eager(f, x)
    vmap_vs_loop(f, x, axis=0)
    vmap_vs_loop(f, x, axis=2)
    g = lambda x: [fnp.abs(o) for o in L.svd(x, full_matrices=False)]  # noqa: E731
    vmap_vs_loop(g, x, axis=1)


# ----------------------------------------------------------------------------- fnp.linalg: norm


MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]
VECTOR_ORDS = [None, 1, 2, np.inf, -np.inf, 0, 3, 0.5, -1]


def test_norm_matches_numpy(rng):
    x = rng.normal(size=(5, 3))
    for o in MATRIX_ORDS:
        np.testing.assert_allclose(A(LA.norm(x, o)), np.linalg.norm(x, o), rtol=1e-12)
        got = LA.norm(x, o, axis=(1, 0), keepdims=True)
        np.testing.assert_allclose(A(got), np.linalg.norm(x, o, axis=(1, 0), keepdims=True),
                                   rtol=1e-12)
    t = rng.normal(size=(2, 4, 3))
    for o in MATRIX_ORDS:
        np.testing.assert_allclose(A(LA.norm(t, o, axis=(0, 2))),
                                   np.linalg.norm(t, o, axis=(0, 2)), rtol=1e-12)
    for o in VECTOR_ORDS:
        np.testing.assert_allclose(A(LA.norm(x, o, axis=0)), np.linalg.norm(x, o, axis=0),
                                   rtol=1e-12)
        np.testing.assert_allclose(A(LA.norm(x[:, 0], o)), np.linalg.norm(x[:, 0], o),
                                   rtol=1e-12)
    np.testing.assert_allclose(A(LA.norm(t)), np.linalg.norm(t), rtol=1e-12)
    np.testing.assert_allclose(A(LA.norm(t, keepdims=True)), np.linalg.norm(t, keepdims=True))
    assert A(LA.norm(np.array([3, 4]))).dtype == np.float32
    np.testing.assert_allclose(A(LA.vector_norm(t, axis=(0, 1))),
                               np.linalg.vector_norm(t, axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(A(LA.matrix_norm(t, ord="nuc")),
                               np.linalg.matrix_norm(t, ord="nuc"), rtol=1e-12)


def test_norm_errors():
    with pytest.raises(ValueError, match="vectors"):
        LA.norm(np.ones(3), "fro")
    with pytest.raises(ValueError, match="matrices"):
        LA.norm(np.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="dimensions"):
        LA.norm(np.ones((2, 2, 2)), 2)


def test_norm_grads(rng):
    x = distinct_sv(rng, 4, 3)
    for o in MATRIX_ORDS:
        check_grads(lambda x: LA.norm(x, o), (x,), order=2)
    for o in [None, 1, np.inf, 3, -1]:
        check_grads(lambda x: LA.norm(x, o, axis=1), (x,), order=2)


def test_norm_gradient_at_zero_is_zero():
    for f in (LA.norm, lambda x: LA.norm(x, 3), lambda x: LA.norm(x.reshape(2, 2), "fro")):
        g = A(fg.grad(f)(np.zeros(4)))
        np.testing.assert_array_equal(g, np.zeros(4))
    h = A(fg.hessian(LA.norm)(np.zeros(3)))
    assert np.all(np.isfinite(h))


def test_norm_jit_vmap(rng):
    x = rng.normal(size=(3, 4, 2))
    for o in ("fro", "nuc", 2, np.inf):
        f = lambda x: LA.norm(x, o)  # noqa: E731
        jit_vs_eager(f, x[0])
        vmap_vs_loop(f, x, axis=1)


# ----------------------------------------------------------------- fnp.linalg: solve family


def test_solve_inv_det_values(rng):
    a = rng.normal(size=(3, 4, 4))
    b = rng.normal(size=(3, 4, 2))
    v = rng.normal(size=4)
    np.testing.assert_allclose(A(LA.solve(a, b)), np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(A(LA.solve(a[0], v)), np.linalg.solve(a[0], v), rtol=1e-10)
    np.testing.assert_allclose(A(LA.solve(a, b[0])), np.linalg.solve(a, b[0]), rtol=1e-10)
    np.testing.assert_allclose(A(LA.inv(a)), np.linalg.inv(a), rtol=1e-10)
    np.testing.assert_allclose(A(LA.det(a)), np.linalg.det(a), rtol=1e-10)
    s, l = LA.slogdet(a)
    s0, l0 = np.linalg.slogdet(a)
    np.testing.assert_allclose(A(s), s0)
    np.testing.assert_allclose(A(l), l0, rtol=1e-12)
    s, l = LA.slogdet(np.zeros((2, 2)))
    assert float(A(s)) == 0.0 and float(A(l)) == -np.inf
    np.testing.assert_allclose(A(LA.det(np.zeros((0, 0)))), 1.0)
    assert A(LA.inv(np.eye(2, dtype=np.float32))).dtype == np.float32
    np.testing.assert_allclose(A(LA.det(np.array([[1, 2], [3, 4]]))), -2.0, rtol=1e-6)


def test_solve_family_grads(rng):
    a = rng.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=(2, 3, 2))
    check_grads(LA.solve, (a, b), order=2)
    check_grads(lambda a, v: LA.solve(a[0], v), (a, b[0, :, 0]), order=2)
    check_grads(LA.inv, (a,), order=2)
    check_grads(LA.det, (a,), order=2)
    check_grads(lambda a: LA.slogdet(a).logabsdet, (a,), order=2)
    # d det / dA = det * inv(A)^T
    g = A(fg.grad(lambda a: LA.det(a))(a[0]))
    np.testing.assert_allclose(g, np.linalg.det(a[0]) * np.linalg.inv(a[0]).T, rtol=1e-10)


def test_solve_family_jit_vmap(rng):
    a = rng.normal(size=(3, 4, 4))
    b = rng.normal(size=(3, 4))
    jit_vs_eager(LA.solve, a, b[..., None], tol=1e-10)
    got = fg.vmap(LA.solve)(a, b)
    np.testing.assert_allclose(A(got), [np.linalg.solve(a[i], b[i]) for i in range(3)],
                               rtol=1e-10)
    got = fg.vmap(LA.solve, in_axes=(None, 0))(a[0], b)
    np.testing.assert_allclose(A(got), [np.linalg.solve(a[0], b[i]) for i in range(3)],
                               rtol=1e-10)
    c = rng.normal(size=(3, 3, 3))
    for f in (LA.inv, LA.det, lambda x: LA.slogdet(x)):
        jit_vs_eager(f, a, tol=1e-10)
        vmap_vs_loop(f, c, axis=2, tol=1e-10)


def test_solve_errors():
    with pytest.raises(TypeError, match=r"square.*\(3, 4\)"):
        LA.inv(np.ones((3, 4)))
    with pytest.raises(TypeError, match=r"\(3, 3\).*\(2,\)"):
        LA.solve(np.eye(3), np.ones(2))
    with pytest.raises(TypeError, match="square"):
        LA.det(np.ones((2, 3)))


# ---------------------------------------------------------------- fnp.linalg: decompositions


def test_fnp_decompositions(rng):
    x = rng.normal(size=(5, 3))
    q, r = LA.qr(x)
    q0, r0 = np.linalg.qr(x)
    np.testing.assert_allclose(A(q), q0, atol=1e-12)
    assert A(LA.qr(x, "complete").Q).shape == (5, 5)
    np.testing.assert_allclose(A(LA.qr(x, "r")), np.linalg.qr(x, "r"), atol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        LA.qr(x, "raw")
    u, s, vh = LA.svd(x)
    assert A(u).shape == (5, 5) and A(vh).shape == (3, 3)
    np.testing.assert_allclose(A(LA.svd(x, compute_uv=False)), np.linalg.svd(x,
                               compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(A(LA.svdvals(x)), np.linalg.svdvals(x), rtol=1e-12)
    a = sym_distinct(rng, 4)
    w, v = LA.eigh(a)
    np.testing.assert_allclose(A(w), np.linalg.eigvalsh(a), atol=1e-12)
    np.testing.assert_allclose(A(LA.eigvalsh(a, UPLO="U")), np.linalg.eigvalsh(a, UPLO="U"),
                               atol=1e-12)
    res = LA.eigh(a)
    assert res.eigenvalues is res[0]
    c = spd(rng, (4, 4))
    np.testing.assert_allclose(A(LA.cholesky(c)), np.linalg.cholesky(c), rtol=1e-12)
    np.testing.assert_allclose(A(LA.cholesky(c, upper=True)), np.linalg.cholesky(c).T,
                               rtol=1e-12)


def test_svd_hermitian(rng):
    a = sym_distinct(rng, 4, (2,))
    u, s, vh = LA.svd(a, hermitian=True)
    u0, s0, vh0 = np.linalg.svd(a, hermitian=True)
    np.testing.assert_allclose(A(s), s0, rtol=1e-12)
    np.testing.assert_allclose((A(u) * A(s)[..., None, :]) @ A(vh), a, atol=1e-12)
    np.testing.assert_allclose(np.abs(A(u)), np.abs(u0), atol=1e-10)
    np.testing.assert_allclose(A(LA.svd(a, compute_uv=False, hermitian=True)), s0, rtol=1e-12)
    check_grads(lambda a: LA.svd(a, hermitian=True, compute_uv=False), (a,), order=2)


# ----------------------------------------------------------------------------- pinv / rank / lstsq


def test_pinv_values_and_grads(rng):
    p = rng.normal(size=(4, 6))
    np.testing.assert_allclose(A(LA.pinv(p)), np.linalg.pinv(p), rtol=1e-10)
    r = rng.normal(size=(5, 2)) @ rng.normal(size=(2, 4))     # rank 2
    np.testing.assert_allclose(A(LA.pinv(r)), np.linalg.pinv(r), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(A(LA.pinv(r, rtol=None)), np.linalg.pinv(r, rtol=None),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(A(LA.pinv(np.stack([p, 2 * p]))),
                               np.linalg.pinv(np.stack([p, 2 * p])), rtol=1e-10)
    check_grads(LA.pinv, (p,), order=2)
    check_grads(LA.pinv, (p.T,), order=2)
    jit_vs_eager(LA.pinv, p, tol=1e-10)
    vmap_vs_loop(LA.pinv, np.stack([p, p + 1]), axis=0, tol=1e-10)
    with pytest.raises(ValueError, match="only one"):
        LA.pinv(p, rcond=1e-3, rtol=1e-3)


def test_matrix_rank_and_lstsq(rng):
    r = rng.normal(size=(5, 2)) @ rng.normal(size=(2, 4))
    assert int(A(LA.matrix_rank(r))) == np.linalg.matrix_rank(r) == 2
    assert int(A(fg.jit(LA.matrix_rank)(r))) == 2
    assert int(A(LA.matrix_rank(np.zeros(3)))) == 0
    assert int(A(LA.matrix_rank(np.eye(3), tol=0.5))) == 3
    np.testing.assert_array_equal(A(LA.matrix_rank(np.stack([r[:4], np.eye(4)]))), [2, 4])
    a = rng.normal(size=(6, 3))
    b = rng.normal(size=(6, 2))
    for got, ref in zip(LA.lstsq(a, b), np.linalg.lstsq(a, b)):
        np.testing.assert_allclose(A(got), ref, rtol=1e-10)
    for got, ref in zip(LA.lstsq(a, b[:, 0]), np.linalg.lstsq(a, b[:, 0])):
        np.testing.assert_allclose(A(got), ref, rtol=1e-10)
    x, res, rank, s = LA.lstsq(a.T, b[:3, 0])
    np.testing.assert_allclose(A(x), np.linalg.lstsq(a.T, b[:3, 0])[0], rtol=1e-10)
    assert A(res).shape == (0,)
    check_grads(lambda a, b: LA.lstsq(a, b)[0], (a, b), order=1)


# ----------------------------------------------------------------------------- products


def test_matrix_power_multi_dot_misc(rng):
    a = rng.normal(size=(2, 3, 3)) + 2 * np.eye(3)
    for n in (0, 1, 2, 3, 5, -1, -2):
        np.testing.assert_allclose(A(LA.matrix_power(a, n)), np.linalg.matrix_power(a, n),
                                   rtol=1e-9)
    check_grads(lambda a: LA.matrix_power(a, 3), (a,), order=2)
    with pytest.raises(TypeError, match="square"):
        LA.matrix_power(np.ones((2, 3)), 2)
    ms = [rng.normal(size=3), rng.normal(size=(3, 7)), rng.normal(size=(7, 2)),
          rng.normal(size=2)]
    np.testing.assert_allclose(A(LA.multi_dot(ms)), np.linalg.multi_dot(ms), rtol=1e-10)
    ms2 = [rng.normal(size=(10, 2)), rng.normal(size=(2, 9)), rng.normal(size=(9, 3))]
    np.testing.assert_allclose(A(LA.multi_dot(ms2)), np.linalg.multi_dot(ms2), rtol=1e-10)
    check_grads(lambda *ms: LA.multi_dot(ms), tuple(ms2), order=1)
    with pytest.raises(TypeError, match="aligned"):
        LA.multi_dot([np.ones((2, 3)), np.ones((4, 2)), np.ones(2)])
    np.testing.assert_allclose(A(LA.outer(np.ones(2), np.arange(3.0))),
                               np.outer(np.ones(2), np.arange(3.0)))
    np.testing.assert_allclose(A(LA.trace(a)), np.linalg.trace(a), rtol=1e-12)
    assert A(LA.matrix_transpose(np.ones((2, 3, 4)))).shape == (2, 4, 3)
    np.testing.assert_allclose(A(LA.cond(a)), np.linalg.cond(a), rtol=1e-10)
    np.testing.assert_allclose(A(LA.cond(a, "fro")), np.linalg.cond(a, "fro"), rtol=1e-10)
    np.testing.assert_allclose(A(LA.cond(a, -2)), np.linalg.cond(a, -2), rtol=1e-10)
