"""Linear algebra primitives: cholesky, triangular_solve, lu, qr, eigh, svd.

Every primitive works on stacks of matrices: operands have shape ``(..., m, n)`` and the
leading axes are batch axes (the kernels are vectorized over them).  Batching rules move
the vmapped axis to the front and reuse the same primitive.

Dtypes: float32 and float64.  Complex matrices are refused with a clear error for now
(``funcgrad.lax`` has no ``conj`` primitive to write the complex rules with).

Differentiation (all rules are written with lax operations, so they compose to any
order and transpose into reverse mode):

* ``cholesky``: ``L' = L Phi(L^-1 A' L^-T)``; ``Phi`` keeps the lower triangle and halves
  the diagonal.  The kernel reads only the lower triangle of its operand, so the rule
  uses the symmetric tangent ``tril(A') + tril(A', -1)^T`` (the wrapper symmetrizes).
* ``triangular_solve``: linear in ``b`` (with a transpose rule); in ``a``,
  ``x' = -op(a)^-1 op(a') x`` (left) or ``-x op(a') op(a)^-1`` (right).
* ``lu``: with ``X = L^-1 P A' U^-1`` (padded to square for rectangular inputs),
  ``L' = L tril(X, -1)`` and ``U' = triu(X) U``.  Pivots are piecewise constant.
* ``qr``: the standard rule for ``m >= n`` (reduced) or square; wide matrices split
  ``A = Q [R1 R2]``.  ``full_matrices=True`` with ``m > n`` has no unique derivative
  (the extra columns of Q are arbitrary) and raises ``NotImplementedError``.
* ``eigh``: ``w' = diag(V^T A' V)``, ``V' = V (F o V^T A' V)`` with
  ``F_ij = 1/(w_j - w_i)``.  Degenerate eigenvalues: the eigenvectors are not unique and
  have no derivative; where two eigenvalues are *exactly* equal ``F_ij`` is set to 0,
  which gives the right answer for functions invariant to rotations inside the
  eigenspace (e.g. ``V diag(f(w)) V^T`` with equal ``f`` on the cluster, or sums of
  eigenvalues), and finite values otherwise.  Near-degenerate eigenvalues give large
  eigenvector derivatives (that is the true derivative).
* ``svd``: the standard rule with ``F_ij = 1/(s_j^2 - s_i^2)`` (0 where exactly equal)
  and ``1/s`` taken as 0 where ``s == 0``.  Singular vectors are defined up to a joint
  sign flip of ``(u_i, v_i)``; only gauge-invariant functions (``s``, ``U diag(s) V^T``,
  ``u_i v_i^T``, ``|U|``...) have meaningful derivatives.  ``full_matrices=True`` with
  ``compute_uv=True`` on a non-square matrix raises ``NotImplementedError``.
"""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ..interpreters.batching import axis_size_of, bdim_at_front

# ----------------------------------------------------------------------------- helpers


def _xp(x):
    """The array module of a raw array (numpy, or cupy on the GPU backend)."""
    if type(x).__module__.startswith("cupy"):
        from ..core.backend import cupy_module
        return cupy_module()
    return np


def _check_matrix(name, aval, square=True, what="operand"):
    if aval.dtype.kind == "c":
        raise TypeError(f"{name}: complex matrices ({aval.dtype}) are not supported yet; "
                        "use float32 or float64")
    if aval.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name}: {what} dtype {aval.dtype} is not supported; linear algebra "
                        "needs float32 or float64. Convert with x.astype(fnp.float32) first.")
    if aval.ndim < 2:
        raise TypeError(f"{name}: expected a matrix (or a stack of matrices) of shape "
                        f"(..., m, n), got {what} shape {aval.shape}")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise TypeError(f"{name}: expected a square matrix (or a stack of them) of shape "
                        f"(..., n, n), got {what} shape {aval.shape}")


def _bind(prim, *args, **params):
    """Bind after running the shape rule, so bad inputs get clear errors eagerly too."""
    prim.abstract_eval(*[get_aval(a) for a in args], **params)
    return prim.bind(*args, **params)


def _batch_rule(prim):
    """All linalg primitives are batch-polymorphic over leading axes: vmap = front axis."""
    def rule(args, dims, **params):
        size = axis_size_of(args, dims)
        args = [bdim_at_front(a, d, size) for a, d in zip(args, dims)]
        out = prim.bind(*args, **params)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return rule


def _mT(x):
    from .structural import transpose
    nd = get_aval(x).ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mm(a, b):
    """Batched matmul of ``(..., m, k)`` and ``(..., k, n)`` with equal batch axes."""
    from .dot import dot_general
    nd = get_aval(a).ndim
    bd = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (bd, bd)))


def _zeros(shape, dtype):
    from .structural import full
    return full(shape, 0, dtype)


def _tri_mask(shape, k, lower):
    """Boolean ``(..., m, n)`` mask of ``col <= row + k`` (lower) / ``col >= row + k``."""
    from .elementwise import add, ge, le
    from .structural import broadcasted_iota
    nd = len(shape)
    row = broadcasted_iota(np.int32, shape, nd - 2)
    col = broadcasted_iota(np.int32, shape, nd - 1)
    shifted = add(row, np.int32(k))
    return le(col, shifted) if lower else ge(col, shifted)


def _tril(x, k=0):
    from .elementwise import select_n
    a = get_aval(x)
    return select_n(_tri_mask(a.shape, k, True), _zeros(a.shape, a.dtype), x)


def _triu(x, k=0):
    from .elementwise import select_n
    a = get_aval(x)
    return select_n(_tri_mask(a.shape, k, False), _zeros(a.shape, a.dtype), x)


def _eye(shape, dtype):
    """Identity matrices of ``shape`` (..., m, n) (ones where row == col)."""
    from .elementwise import convert_element_type, eq
    from .structural import broadcasted_iota
    nd = len(shape)
    return convert_element_type(eq(broadcasted_iota(np.int32, shape, nd - 2),
                                   broadcasted_iota(np.int32, shape, nd - 1)), dtype)


def _diag(x):
    """The diagonal of square ``(..., n, n)`` matrices, shape ``(..., n)``."""
    from .elementwise import mul
    from .reductions import reduce_sum
    a = get_aval(x)
    return reduce_sum(mul(x, _eye(a.shape, a.dtype)), (a.ndim - 1,))


def _rows(v, n):
    """``(..., k)`` -> ``(..., n, k)``: every row is ``v`` (``[i, j] = v[j]``)."""
    from .structural import broadcast_in_dim
    a = get_aval(v)
    nd = a.ndim
    return broadcast_in_dim(v, a.shape[:-1] + (n, a.shape[-1]), tuple(range(nd - 1)) + (nd,))


def _cols(v, n):
    """``(..., k)`` -> ``(..., k, n)``: ``[i, j] = v[i]``."""
    from .structural import broadcast_in_dim
    a = get_aval(v)
    nd = a.ndim
    return broadcast_in_dim(v, a.shape + (n,), tuple(range(nd)))


def _safe_reciprocal(d):
    """``1/d`` where ``d != 0`` and 0 where ``d == 0`` (no inf/NaN, also in derivatives)."""
    from .elementwise import div, eq, select_n
    from .structural import full
    a = get_aval(d)
    zero = eq(d, full(a.shape, 0, a.dtype))
    one = full(a.shape, 1, a.dtype)
    return select_n(zero, div(one, select_n(zero, d, one)), full(a.shape, 0, a.dtype))


def _pad_last2(x, rows, cols):
    """Zero-pad (or crop) the last two axes of ``x`` to ``rows x cols``."""
    from .structural import pad
    a = get_aval(x)
    cfg = [(0, 0, 0)] * (a.ndim - 2) + [(0, rows - a.shape[-2], 0),
                                         (0, cols - a.shape[-1], 0)]
    return pad(x, np.zeros((), a.dtype)[()], cfg)


# ----------------------------------------------------------------------------- cholesky

cholesky_p = Primitive("cholesky")


@cholesky_p.def_impl
def _cholesky_impl(a):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        # not positive definite somewhere: NaNs for the failing matrices (as LAPACK-based
        # libraries under jit do), the factor for the others
        flat = a.reshape((int(np.prod(a.shape[:-2], dtype=np.int64)),) + a.shape[-2:])
        out = _xp(a).empty_like(flat)
        for i in range(flat.shape[0]):
            try:
                out[i] = np.linalg.cholesky(flat[i])
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out.reshape(a.shape)


@cholesky_p.def_abstract_eval
def _cholesky_abstract(a):
    _check_matrix("cholesky", a)
    return ShapedArray(a.shape, a.dtype, False)


def _sym_from_triangle(x, lower):
    """The symmetric matrix that a kernel reading only one triangle of ``x`` sees."""
    from .elementwise import add
    if lower:
        return add(_tril(x), _mT(_tril(x, -1)))
    return add(_triu(x), _mT(_triu(x, 1)))


def _cholesky_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    L = cholesky_p.bind(a)
    if type(t) is Zero:
        return L, Zero.from_value(L)
    from .elementwise import mul, sub
    from .structural import full
    aval = get_aval(L)
    s = _sym_from_triangle(t, True)
    tmp = triangular_solve(L, s, left_side=True, lower=True)
    tmp = triangular_solve(L, tmp, left_side=False, lower=True, transpose_a=True)
    # Phi: lower triangle with the diagonal halved
    half = sub(full(aval.shape, 1, aval.dtype), mul(_eye(aval.shape, aval.dtype),
                                                    full(aval.shape, 0.5, aval.dtype)))
    phi = mul(_tril(tmp), half)
    return L, _mm(L, phi)


def _spd_sample(rng, dtype, shape=(2, 3, 3)):
    m = rng.normal(size=shape)
    n = shape[-1]
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


cholesky_p.jvp = _cholesky_jvp
cholesky_p.batch = _batch_rule(cholesky_p)
cholesky_p.test_spec = {"sample": lambda rng, dtype: ([_spd_sample(rng, dtype)], {})}


def cholesky(x, symmetrize_input=True):
    """Lower Cholesky factor ``L`` of a symmetric positive-definite ``x = L @ L.T``.

    Works on stacks ``(..., n, n)``.  With ``symmetrize_input`` the input is replaced by
    ``(x + x.T) / 2`` first (so gradients are symmetric); otherwise only the lower
    triangle is read.  A matrix that is not positive definite gives NaNs.

    >>> lax.linalg.cholesky(fnp.array([[4., 2.], [2., 5.]]))
    Array([[2., 0.], [1., 2.]], dtype=float32)
    """
    _check_matrix("lax.linalg.cholesky", get_aval(x))
    if symmetrize_input:
        x = _symmetrize(x)
    return _bind(cholesky_p, x)


def _symmetrize(x):
    from .elementwise import add, mul
    return mul(add(x, _mT(x)), np.asarray(0.5, get_aval(x).dtype)[()])


# ----------------------------------------------------------------------------- triangular_solve

triangular_solve_p = Primitive("triangular_solve")

_BLOCK = 64


def _lower_left_solve(L, c, unit):
    """Solve ``L x = c`` by forward substitution; only the lower triangle of L is read.

    Blocked: each block of rows is first updated with one matmul against the solved
    rows, then substituted row by row.  Vectorized over leading (batch) axes.
    """
    n = L.shape[-1]
    dtype = np.result_type(L.dtype, c.dtype)
    batch = np.broadcast_shapes(L.shape[:-2], c.shape[:-2])
    x = _xp(c).empty(batch + c.shape[-2:], dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for s in range(0, n, _BLOCK):
            e = min(s + _BLOCK, n)
            r = c[..., s:e, :]
            if s:
                r = r - np.matmul(L[..., s:e, :s], x[..., :s, :])
            for i in range(s, e):
                ri = r[..., i - s, :]
                if i > s:
                    ri = ri - np.matmul(L[..., i:i + 1, s:i], x[..., s:i, :])[..., 0, :]
                if not unit:
                    ri = ri / L[..., i, i][..., None]
                x[..., i, :] = ri
    return x


@triangular_solve_p.def_impl
def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                           unit_diagonal):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    b = np.asarray(b) if not hasattr(b, "ndim") else b
    m, low, c = a, lower, b
    if conjugate_a and np.iscomplexobj(m):
        m = np.conj(m)
    if transpose_a:
        m, low = np.swapaxes(m, -1, -2), not low
    if not left_side:   # x op(a) = b  <=>  op(a)^T x^T = b^T
        m, low, c = np.swapaxes(m, -1, -2), not low, np.swapaxes(c, -1, -2)
    if not low:         # reverse rows and columns: upper becomes lower
        m, c = m[..., ::-1, ::-1], c[..., ::-1, :]
    y = _lower_left_solve(m, c, unit_diagonal)
    if not low:
        y = y[..., ::-1, :]
    if not left_side:
        y = np.swapaxes(y, -1, -2)
    return np.ascontiguousarray(y)


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract(a, b, *, left_side, lower, transpose_a, conjugate_a,
                               unit_diagonal):
    _check_matrix("triangular_solve", a, what="a")
    _check_matrix("triangular_solve", b, square=False, what="b")
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have the same dtype, got "
                        f"{a.dtype} and {b.dtype}")
    if a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        raise TypeError(f"triangular_solve: a {a.shape} and b {b.shape} must have the same "
                        "rank and the same leading (batch) dimensions")
    m = a.shape[-1]
    k = b.shape[-2] if left_side else b.shape[-1]
    if k != m:
        side = "rows" if left_side else "columns"
        raise TypeError(f"triangular_solve: a has shape {a.shape} but b {b.shape} has {k} "
                        f"{side}; with left_side={left_side} they must match ({m})")
    return ShapedArray(b.shape, b.dtype, False)


def _ts_jvp_a(g, ans, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    from .elementwise import neg
    if unit_diagonal:
        g = _tril(g, -1) if lower else _triu(g, 1)
    else:
        g = _tril(g) if lower else _triu(g)
    ga = _mT(g) if transpose_a else g
    tmp = _mm(ga, ans) if left_side else _mm(ans, ga)
    return neg(triangular_solve_p.bind(
        a, tmp, left_side=left_side, lower=lower, transpose_a=transpose_a,
        conjugate_a=conjugate_a, unit_diagonal=unit_diagonal))


def _ts_jvp_b(g, ans, a, b, **params):
    return triangular_solve_p.bind(a, g, **params)


def _ts_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    if ad.is_undefined_primal(a):
        raise TypeError("triangular_solve: the matrix a cannot depend linearly on the "
                        "differentiated input here; it is only linear in b")
    if type(ct) is Zero:
        return [None, None]
    # x = M^-1 b (left) or b M^-1 (right): the transpose solves with M^T
    return [None, triangular_solve_p.bind(
        a, ct, left_side=left_side, lower=lower, transpose_a=not transpose_a,
        conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)]


def _tri_sample(rng, dtype):
    n = 4
    a = rng.normal(size=(2, n, n)) * 0.3
    a[:, np.arange(n), np.arange(n)] = rng.uniform(1.5, 2.5, (2, n))
    b = rng.normal(size=(2, n, 3))
    return [a.astype(dtype), b.astype(dtype)], dict(
        left_side=True, lower=True, transpose_a=False, conjugate_a=False, unit_diagonal=False)


ad.defjvp2(triangular_solve_p, _ts_jvp_a, _ts_jvp_b)
triangular_solve_p.transpose = _ts_transpose
triangular_solve_p.linear = True    # in b (with a fixed), like dot_general
triangular_solve_p.linear_args = (1,)
triangular_solve_p.batch = _batch_rule(triangular_solve_p)
triangular_solve_p.test_spec = {"sample": _tri_sample}


def triangular_solve(a, b, left_side=False, lower=False, transpose_a=False,
                     conjugate_a=False, unit_diagonal=False):
    """Solve ``op(a) @ x = b`` (``left_side=True``) or ``x @ op(a) = b`` for triangular ``a``.

    ``op(a)`` is ``a`` or ``a.T`` (``transpose_a``); only the ``lower`` (or upper) triangle
    of ``a`` is read, and its diagonal is taken as ones with ``unit_diagonal``.  ``a`` is
    ``(..., m, m)`` and ``b`` ``(..., m, n)`` (left) or ``(..., n, m)`` (right), with equal
    batch axes.  Defaults follow ``jax.lax.linalg.triangular_solve``.

    >>> a = fnp.array([[2., 0.], [1., 1.]])
    >>> lax.linalg.triangular_solve(a, fnp.array([[2.], [3.]]), left_side=True, lower=True)
    Array([[1.], [2.]], dtype=float32)
    """
    return _bind(triangular_solve_p, a, b, left_side=bool(left_side), lower=bool(lower),
                 transpose_a=bool(transpose_a), conjugate_a=bool(conjugate_a),
                 unit_diagonal=bool(unit_diagonal))


# ----------------------------------------------------------------------------- lu

lu_p = Primitive("lu", multiple_results=True)


@lu_p.def_impl
def _lu_impl(a):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    shape = a.shape
    m, n = shape[-2:]
    k = min(m, n)
    xp = _xp(a)
    B = int(np.prod(shape[:-2], dtype=np.int64))
    x = xp.array(a, copy=True).reshape((B, m, n))
    pivots = xp.zeros((B, k), np.int32)
    perm = xp.broadcast_to(xp.arange(m, dtype=np.int32), (B, m)).copy()
    rows = xp.arange(B)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(k):
            p = j + xp.argmax(xp.abs(x[:, j:, j]), axis=1)
            pivots[:, j] = p
            swap = p != j
            if bool(swap.any()):
                rj = x[rows, j, :].copy()
                x[rows, j, :] = x[rows, p, :]
                x[rows, p, :] = rj
                pj = perm[rows, j].copy()
                perm[rows, j] = perm[rows, p]
                perm[rows, p] = pj
            piv = x[:, j, j]
            l = x[:, j + 1:, j] / xp.where(piv == 0, 1, piv)[:, None]
            x[:, j + 1:, j] = l
            if j + 1 < n:
                x[:, j + 1:, j + 1:] -= l[:, :, None] * x[:, j, None, j + 1:]
    batch = shape[:-2]
    return [x.reshape(shape), pivots.reshape(batch + (k,)), perm.reshape(batch + (m,))]


@lu_p.def_abstract_eval
def _lu_abstract(a):
    _check_matrix("lu", a, square=False)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    return [ShapedArray(a.shape, a.dtype, False),
            ShapedArray(batch + (min(m, n),), np.int32, False),
            ShapedArray(batch + (m,), np.int32, False)]


def _permutation_matrix(perm, dtype):
    """``P`` with ``P[..., i, j] = (perm[..., i] == j)``, so ``P @ A = A[perm]``."""
    from .elementwise import convert_element_type, eq
    from .structural import broadcast_in_dim, broadcasted_iota
    a = get_aval(perm)
    m = a.shape[-1]
    shape = a.shape + (m,)
    pb = broadcast_in_dim(perm, shape, tuple(range(a.ndim)))
    return convert_element_type(eq(pb, broadcasted_iota(np.int32, shape, a.ndim)), dtype)


def _lu_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    lu_, piv, perm = lu_p.bind(a)
    outs = [lu_, piv, perm]
    zeros = [Zero.from_value(o) for o in outs]
    if type(t) is Zero:
        return outs, zeros
    from .elementwise import add
    aval = get_aval(a)
    m, n = aval.shape[-2:]
    k = min(m, n)
    batch = aval.shape[:-2]
    dt = aval.dtype
    t_p = _mm(_permutation_matrix(perm, dt), t)              # P A'
    # square padded factors: L~ (m x m, unit lower), U~ (n x n, upper)
    l_sq = add(_tril(_pad_last2(lu_, m, m), -1), _eye(batch + (m, m), dt))
    from .elementwise import bitwise_and, convert_element_type, eq, ge
    from .structural import broadcasted_iota
    sq = batch + (n, n)
    row = broadcasted_iota(np.int32, sq, len(batch))
    col = broadcasted_iota(np.int32, sq, len(batch) + 1)
    u_diag = convert_element_type(bitwise_and(eq(row, col), ge(row, np.int32(k))), dt)
    u_sq = add(_triu(_pad_last2(lu_, n, n)), u_diag)      # ones on the padded diagonal
    la = triangular_solve(l_sq, t_p, left_side=True, lower=True, unit_diagonal=True)
    x = triangular_solve(u_sq, la, left_side=False, lower=False)
    l_dot = _mm(l_sq, _tril(x, -1))
    u_dot = _mm(_triu(x), u_sq)
    zeros[0] = add(l_dot, u_dot)
    return outs, zeros


def _lu_sample(rng, dtype):
    return [rng.normal(size=(2, 4, 4)).astype(dtype)], {}


lu_p.jvp = _lu_jvp
lu_p.batch = _batch_rule(lu_p)
lu_p.test_spec = {"sample": _lu_sample, "gauge_invariant": (0,)}


def lu(x):
    """LU decomposition with partial pivoting: ``x[..., perm, :] = L @ U``.

    Returns ``(lu, pivots, permutation)``: ``lu`` holds ``U`` on and above the diagonal
    and the unit-lower ``L`` below it; ``pivots[i]`` is the row swapped with row ``i``;
    ``permutation`` is the resulting row order (int32).  ``x`` may be rectangular.

    >>> lu, piv, perm = lax.linalg.lu(fnp.array([[1., 2.], [3., 4.]]))
    >>> perm
    Array([1, 0], dtype=int32)
    """
    lu_, piv, perm = _bind(lu_p, x)
    return lu_, piv, perm


# ----------------------------------------------------------------------------- qr

qr_p = Primitive("qr", multiple_results=True)


@qr_p.def_impl
def _qr_impl(a, *, full_matrices):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [q, r]


@qr_p.def_abstract_eval
def _qr_abstract(a, *, full_matrices):
    _check_matrix("qr", a, square=False)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = a.shape[:-2]
    return [ShapedArray(batch + (m, k), a.dtype, False),
            ShapedArray(batch + (k, n), a.dtype, False)]


def _qr_square_jvp(q, r, dx):
    """Tangents of ``q (m x n), r (n x n)`` for ``m >= n``, given ``dx (m x n)``."""
    from .elementwise import add, sub
    dx_rinv = triangular_solve(r, dx, left_side=False, lower=False)     # dx R^-1
    c = _mm(_mT(q), dx_rinv)                                             # Q^T dx R^-1
    low = _tril(c, -1)
    omega = sub(low, _mT(low))                                           # skew part
    dq = add(_mm(q, sub(omega, c)), dx_rinv)
    dr = _mm(sub(c, omega), r)
    return dq, dr


def _qr_jvp(primals, tangents, *, full_matrices):
    (a,), (t,) = primals, tangents
    q, r = qr_p.bind(a, full_matrices=full_matrices)
    if type(t) is Zero:
        return [q, r], [Zero.from_value(q), Zero.from_value(r)]
    aval = get_aval(a)
    m, n = aval.shape[-2:]
    if m >= n:
        if full_matrices and m > n:
            raise NotImplementedError(
                f"qr: the derivative of a full_matrices=True QR of a tall {m}x{n} matrix "
                "is not unique (the extra columns of Q are arbitrary); use "
                "full_matrices=False (mode='reduced')")
        dq, dr = _qr_square_jvp(q, r, t)
        return [q, r], [dq, dr]
    # wide: A = Q [R1 R2] with R1 square
    from .elementwise import sub
    from .structural import concatenate, slice_in_dim
    nd = aval.ndim
    r1 = slice_in_dim(r, 0, m, 1, nd - 1)
    r2 = slice_in_dim(r, m, n, 1, nd - 1)
    dx = slice_in_dim(t, 0, m, 1, nd - 1)
    dy = slice_in_dim(t, m, n, 1, nd - 1)
    dq, dr1 = _qr_square_jvp(q, r1, dx)
    dr2 = _mm(_mT(q), sub(dy, _mm(dq, r2)))
    return [q, r], [dq, concatenate([dr1, dr2], nd - 1)]


def _qr_sample(rng, dtype):
    return [rng.normal(size=(2, 4, 3)).astype(dtype)], {"full_matrices": False}


qr_p.jvp = _qr_jvp
qr_p.batch = _batch_rule(qr_p)
qr_p.test_spec = {"sample": _qr_sample}


def qr(x, full_matrices=True):
    """QR decomposition ``x = q @ r`` of ``(..., m, n)`` matrices.

    ``full_matrices=True`` gives ``q (m, m)``, ``r (m, n)``; ``False`` gives
    ``q (m, k)``, ``r (k, n)`` with ``k = min(m, n)``.  Signs follow LAPACK (the diagonal
    of ``r`` is not normalized), as NumPy.

    >>> q, r = lax.linalg.qr(fnp.eye(2), full_matrices=False)
    """
    q, r = _bind(qr_p, x, full_matrices=bool(full_matrices))
    return q, r


# ----------------------------------------------------------------------------- eigh

eigh_p = Primitive("eigh", multiple_results=True)


@eigh_p.def_impl
def _eigh_impl(a, *, lower):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v, w]


@eigh_p.def_abstract_eval
def _eigh_abstract(a, *, lower):
    _check_matrix("eigh", a)
    return [ShapedArray(a.shape, a.dtype, False), ShapedArray(a.shape[:-1], a.dtype, False)]


def _pairwise_inverse_gaps(w):
    """``F[..., i, j] = 1 / (w_j - w_i)``, and 0 where ``w_i == w_j`` (incl. the diagonal)."""
    from .elementwise import sub
    n = get_aval(w).shape[-1]
    return _safe_reciprocal(sub(_rows(w, n), _cols(w, n)))


def _eigh_jvp(primals, tangents, *, lower):
    (a,), (t,) = primals, tangents
    v, w = eigh_p.bind(a, lower=lower)
    if type(t) is Zero:
        return [v, w], [Zero.from_value(v), Zero.from_value(w)]
    from .elementwise import mul
    s = _sym_from_triangle(t, lower)
    vsv = _mm(_mT(v), _mm(s, v))
    w_dot = _diag(vsv)
    v_dot = _mm(v, mul(_pairwise_inverse_gaps(w), vsv))
    return [v, w], [v_dot, w_dot]


def _eigh_sample(rng, dtype):
    n = 4
    q, _ = np.linalg.qr(rng.normal(size=(2, n, n)))
    w = np.array([-1.0, 0.5, 2.0, 3.5])
    a = q @ (w[:, None] * np.swapaxes(q, -1, -2))
    return [a.astype(dtype)], {"lower": True}


def _eigh_gauge(outs):
    v, w = outs
    from .elementwise import mul
    return [mul(v, v), w]      # eigenvectors are defined up to sign: square them


eigh_p.jvp = _eigh_jvp
eigh_p.batch = _batch_rule(eigh_p)
# outputs (v, w): w is gauge-invariant; v only up to the sign of each column
eigh_p.test_spec = {"sample": _eigh_sample, "gauge_invariant": (1,),
                    "grad_transform": _eigh_gauge}


def eigh(x, lower=True, symmetrize_input=True):
    """Eigendecomposition of symmetric ``(..., n, n)`` matrices: returns ``(v, w)``.

    ``w`` holds the eigenvalues in ascending order and the columns of ``v`` the
    eigenvectors (``x @ v = v * w``), as ``jax.lax.linalg.eigh``.  With
    ``symmetrize_input`` the input is ``(x + x.T) / 2``; otherwise only the ``lower``
    (or upper) triangle is read.  See the module notes for degenerate eigenvalues.

    >>> v, w = lax.linalg.eigh(fnp.array([[2., 1.], [1., 2.]]))
    >>> w
    Array([1., 3.], dtype=float32)
    """
    _check_matrix("lax.linalg.eigh", get_aval(x))
    if symmetrize_input:
        x = _symmetrize(x)
    v, w = _bind(eigh_p, x, lower=bool(lower))
    return v, w


# ----------------------------------------------------------------------------- svd

svd_p = Primitive("svd", multiple_results=True)


@svd_p.def_impl
def _svd_impl(a, *, full_matrices, compute_uv):
    a = np.asarray(a) if not hasattr(a, "ndim") else a
    if compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices, compute_uv=True)
        return [s, u, vh]
    return [np.linalg.svd(a, compute_uv=False)]


@svd_p.def_abstract_eval
def _svd_abstract(a, *, full_matrices, compute_uv):
    _check_matrix("svd", a, square=False)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    s = ShapedArray(batch + (k,), a.dtype, False)
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray(batch + (m, ku), a.dtype, False),
            ShapedArray(batch + (kv, n), a.dtype, False)]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (a,), (t,) = primals, tangents
    aval = get_aval(a)
    m, n = aval.shape[-2:]
    if type(t) is Zero:
        outs = svd_p.bind(a, full_matrices=full_matrices, compute_uv=compute_uv)
        return outs, [Zero.from_value(o) for o in outs]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"svd: the derivative of the singular vectors of a {m}x{n} matrix with "
            "full_matrices=True is not unique (the extra columns are arbitrary); use "
            "full_matrices=False")
    from .elementwise import add, mul, sub
    s, u, vh = svd_p.bind(a, full_matrices=False, compute_uv=True)
    v = _mT(vh)
    dp = _mm(_mT(u), _mm(t, v))              # U^T A' V  (k x k)
    ds = _diag(dp)
    if not compute_uv:
        return [s], [ds]
    k = min(m, n)
    s_row = _rows(s, k)                      # [i, j] = s_j
    s_col = _cols(s, k)                      # [i, j] = s_i
    f = _safe_reciprocal(mul(add(s_row, s_col), sub(s_row, s_col)))   # 1/(s_j^2 - s_i^2)
    dss = mul(dp, s_row)                     # dP S
    sds = mul(s_col, dp)                     # S dP
    du = _mm(u, mul(f, add(dss, _mT(dss))))
    dv = _mm(v, mul(f, add(sds, _mT(sds))))
    if m > n:
        dav = _mm(t, v)
        du = add(du, mul(sub(dav, _mm(u, _mm(_mT(u), dav))), _rows(_safe_reciprocal(s), m)))
    if n > m:
        datu = _mm(_mT(t), u)
        dv = add(dv, mul(sub(datu, _mm(v, _mm(vh, datu))), _rows(_safe_reciprocal(s), n)))
    return [s, u, vh], [ds, du, _mT(dv)]


def _svd_sample(rng, dtype):
    m, n = 4, 3
    u, _ = np.linalg.qr(rng.normal(size=(2, m, n)))
    v, _ = np.linalg.qr(rng.normal(size=(2, n, n)))
    s = np.array([3.0, 2.0, 0.7])
    a = (u * s) @ np.swapaxes(v, -1, -2)
    return [a.astype(dtype)], {"full_matrices": False, "compute_uv": True}


def _svd_gauge(outs):
    s, u, vh = outs
    from .elementwise import mul
    return [s, mul(u, u), mul(vh, vh)]   # (u_i, v_i) are defined up to a joint sign


svd_p.jvp = _svd_jvp
svd_p.batch = _batch_rule(svd_p)
# outputs (s, u, vh): s is gauge-invariant; u, vh only up to joint column/row signs
svd_p.test_spec = {"sample": _svd_sample, "gauge_invariant": (0,),
                   "grad_transform": _svd_gauge}


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition of ``(..., m, n)`` matrices.

    Returns ``(u, s, vh)`` with ``x = u[..., :k] * s @ vh[..., :k, :]`` (``s`` descending),
    or only ``s`` when ``compute_uv=False``; as ``jax.lax.linalg.svd``.  See the module
    notes for the gauge (sign) freedom of the singular vectors.

    >>> lax.linalg.svd(fnp.array([[3., 0.], [0., 4.]]), compute_uv=False)
    Array([4., 3.], dtype=float32)
    """
    outs = _bind(svd_p, x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if compute_uv:
        s, u, vh = outs
        return u, s, vh
    return outs[0]


__all__ = ["cholesky", "triangular_solve", "lu", "qr", "eigh", "svd"]
