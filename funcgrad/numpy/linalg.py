"""``funcgrad.numpy.linalg``: NumPy's linear algebra over traced values.

Everything is written with ``funcgrad.lax`` (``lax.linalg`` primitives, ``dot_general``,
elementwise ops), so it works eagerly, under ``jit``, ``vmap`` and ``grad``.  Stacks of
matrices ``(..., m, n)`` are supported wherever NumPy supports them.  Integer inputs are
promoted to the default float dtype; complex matrices are not supported yet.

Notes on derivatives:

* ``norm`` (2-norm / Frobenius) has gradient 0 at the zero vector/matrix instead of NaN
  (the subgradient of smallest norm).
* ``solve``/``inv``/``det``/``slogdet`` go through the LU factorization; their
  derivatives are NaN/inf at exactly singular matrices.
* ``eigh``/``svd``: see ``funcgrad.lax.linalg`` for degenerate eigen/singular values and
  the sign freedom of the vectors.
* ``pinv`` has its own rule (valid while the rank is locally constant), so it is also
  differentiable with repeated singular values.
"""
from __future__ import annotations

import collections

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.trace import get_aval
from ..lax import linalg as _lin
from ._promote import asarray as _asarray, broadcast_shapes

LinAlgError = np.linalg.LinAlgError

EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = collections.namedtuple("QRResult", ["Q", "R"])
SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
EighResult.__doc__ = "``(eigenvalues, eigenvectors)`` from ``fnp.linalg.eigh`` (ascending)."
QRResult.__doc__ = "``(Q, R)`` from ``fnp.linalg.qr``."
SlogdetResult.__doc__ = "``(sign, logabsdet)`` from ``fnp.linalg.slogdet``."
SVDResult.__doc__ = "``(U, S, Vh)`` from ``fnp.linalg.svd`` (``A = U @ diag(S) @ Vh``)."


# ----------------------------------------------------------------------------- helpers

def _inexact(x, where):
    x = _asarray(x, where=where)
    dt = get_aval(x).dtype
    if dt.kind == "c":
        raise TypeError(f"{where}: complex matrices ({dt}) are not supported yet")
    if dt.kind in "biu":
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    if dt.itemsize < 4:
        return lax.convert_element_type(x, np.float32)
    return x


def _matrix(x, where, square=False):
    x = _inexact(x, where)
    a = get_aval(x)
    if a.ndim < 2:
        raise TypeError(f"{where}: expected an array of at least 2 dimensions (..., m, n), got "
                        f"shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise TypeError(f"{where}: last 2 dimensions of the array must be square, got shape "
                        f"{a.shape}")
    return x


def _mT(x):
    return _lin._mT(x)


def _sc(v, x):
    return np.asarray(v, get_aval(x).dtype)[()]


def _bcast_batch(x, batch):
    a = get_aval(x)
    if a.shape[:-2] == batch:
        return x
    nb = len(batch)
    return lax.broadcast_in_dim(x, batch + a.shape[-2:], tuple(range(nb - (a.ndim - 2), nb + 2)))


def _mm(a, b):
    """Matmul with NumPy broadcasting of the batch axes (both at least 2-D)."""
    aa, ba = get_aval(a), get_aval(b)
    batch = broadcast_shapes(aa.shape[:-2], ba.shape[:-2], where="fnp.linalg")
    return _lin._mm(_bcast_batch(a, batch), _bcast_batch(b, batch))


def _eye(n, dtype, batch=()):
    return _lin._eye(batch + (n, n), dtype)


def _reduce_sum(x, axes):
    return lax.reduce_sum(x, tuple(a % get_aval(x).ndim for a in axes))


def _safe_sqrt(s):
    """``sqrt(s)`` for ``s >= 0`` with derivative 0 (not inf/NaN) at ``s == 0``."""
    pos = lax.gt(s, _sc(0, s))
    one = lax.full(get_aval(s).shape, 1, get_aval(s).dtype)
    r = lax.sqrt(lax.select(pos, s, one))
    return lax.select(pos, r, lax.full(get_aval(s).shape, 0, get_aval(s).dtype))


def _lu_parts(a):
    lu_, piv, perm = _lin.lu(a)
    return lu_, piv, perm


def _parity_sign(piv, dtype):
    """``(-1) ** (number of row swaps)`` from LU pivots."""
    a = get_aval(piv)
    if a.shape[-1] == 0:
        return lax.full(a.shape[:-1], 1, dtype)
    swaps = lax.ne(piv, lax.broadcasted_iota(np.int32, a.shape, a.ndim - 1))
    n = lax.reduce_sum(lax.convert_element_type(swaps, np.int32), (a.ndim - 1,))
    odd = lax.convert_element_type(lax.rem(n, np.int32(2)), dtype)
    return lax.sub(lax.full(a.shape[:-1], 1, dtype), lax.mul(odd, _sc(2, odd)))


# ----------------------------------------------------------------------------- solve / inv

def solve(a, b):
    """Solve ``a @ x = b`` for square ``a`` (stacks broadcast, as NumPy 2).

    ``b`` is a vector ``(m,)`` when 1-D, else a stack of matrices ``(..., m, k)``.

    >>> fnp.linalg.solve(fnp.array([[2., 0.], [0., 4.]]), fnp.array([2., 4.]))
    Array([1., 1.], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.solve", square=True)
    b = _inexact(b, "fnp.linalg.solve")
    dt = np.promote_types(get_aval(a).dtype, get_aval(b).dtype)
    a = lax.convert_element_type(a, dt)
    b = lax.convert_element_type(b, dt)
    aa, ba = get_aval(a), get_aval(b)
    m = aa.shape[-1]
    vec = ba.ndim == 1
    if vec:
        b = lax.reshape(b, (ba.shape[0], 1))
        ba = get_aval(b)
    if ba.ndim < 2 or ba.shape[-2] != m:
        raise TypeError(f"fnp.linalg.solve: a has shape {aa.shape} but b has shape "
                        f"{get_aval(b).shape if not vec else (ba.shape[0],)}; b must be (m,) or "
                        f"(..., m, k) with m = {m}")
    batch = broadcast_shapes(aa.shape[:-2], ba.shape[:-2], where="fnp.linalg.solve")
    a = _bcast_batch(a, batch)
    b = _bcast_batch(b, batch)
    x = _lu_solve(a, b)
    if vec:
        x = lax.reshape(x, get_aval(x).shape[:-1])
    return x


def _lu_solve(a, b):
    lu_, _, perm = _lu_parts(a)
    bp = _lin._mm(_lin._permutation_matrix(perm, get_aval(b).dtype), b)
    y = _lin.triangular_solve(lu_, bp, left_side=True, lower=True, unit_diagonal=True)
    return _lin.triangular_solve(lu_, y, left_side=True, lower=False)


def inv(a):
    """Inverse of square matrices (stacks allowed).

    >>> fnp.linalg.inv(fnp.array([[2., 0.], [0., 4.]]))
    Array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.inv", square=True)
    aa = get_aval(a)
    eye = _eye(aa.shape[-1], aa.dtype, aa.shape[:-2])
    return _lu_solve(a, eye)


# ----------------------------------------------------------------------------- det / slogdet

def det(a):
    """Determinant of square matrices, via LU (stacks allowed).

    >>> fnp.linalg.det(fnp.array([[2., 1.], [1., 3.]]))
    Array(5., dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.det", square=True)
    aa = get_aval(a)
    lu_, piv, _ = _lu_parts(a)
    d = lax.reduce_prod(_lin._diag(lu_), (aa.ndim - 2,))
    return lax.mul(_parity_sign(piv, aa.dtype), d)


def slogdet(a):
    """Sign and natural log of the absolute determinant: ``SlogdetResult(sign, logabsdet)``.

    A singular matrix gives ``sign = 0`` and ``logabsdet = -inf``, as NumPy.

    >>> fnp.linalg.slogdet(fnp.array([[1., 2.], [3., 4.]])).sign
    Array(-1., dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.slogdet", square=True)
    aa = get_aval(a)
    lu_, piv, _ = _lu_parts(a)
    diag = _lin._diag(lu_)
    ax = (aa.ndim - 2,)
    sign = lax.mul(_parity_sign(piv, aa.dtype), lax.reduce_prod(lax.sign(diag), ax))
    ad = lax.abs(diag)
    zero = lax.eq(ad, _sc(0, ad))
    shape = get_aval(ad).shape
    logs = lax.log(lax.select(zero, lax.full(shape, 1, aa.dtype), ad))
    logs = lax.select(zero, lax.full(shape, -np.inf, aa.dtype), logs)
    logabs = lax.reduce_sum(logs, ax)
    return SlogdetResult(sign, logabs)


# ----------------------------------------------------------------------------- factorizations

def cholesky(a, /, *, upper=False, symmetrize_input=True):
    """Cholesky factor: lower ``L`` with ``a = L @ L.T`` (``upper=True``: ``U = L.T``).

    The input is symmetrized as ``(a + a.T) / 2`` (so gradients are symmetric); pass
    ``symmetrize_input=False`` to read only the lower triangle, like NumPy.  Not positive
    definite: NaNs.

    >>> fnp.linalg.cholesky(fnp.array([[4., 2.], [2., 5.]]))
    Array([[2., 0.], [1., 2.]], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.cholesky", square=True)
    L = _lin.cholesky(a, symmetrize_input=symmetrize_input)
    return _mT(L) if upper else L


def qr(a, mode="reduced"):
    """QR decomposition; ``mode`` is ``'reduced'``, ``'complete'`` or ``'r'``.

    >>> q, r = fnp.linalg.qr(fnp.ones((3, 2)))
    >>> q.shape, r.shape
    ((3, 2), (2, 2))
    """
    a = _matrix(a, "fnp.linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"fnp.linalg.qr: unsupported mode {mode!r}; use 'reduced', "
                         "'complete' or 'r'")
    q, r = _lin.qr(a, full_matrices=(mode == "complete"))
    if mode == "r":
        return r
    return QRResult(q, r)


def eigh(a, UPLO="L", symmetrize_input=True):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices:
    ``EighResult(eigenvalues, eigenvectors)``.

    With ``symmetrize_input`` (default, as JAX) ``a`` is replaced by ``(a + a.T) / 2``;
    otherwise only the ``UPLO`` triangle is read (NumPy's behaviour).

    >>> w, v = fnp.linalg.eigh(fnp.array([[2., 1.], [1., 2.]]))
    >>> w
    Array([1., 3.], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.eigh", square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"fnp.linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = _lin.eigh(a, lower=(UPLO == "L"), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L"):
    """Eigenvalues (ascending) of symmetric matrices.

    >>> fnp.linalg.eigvalsh(fnp.array([[2., 1.], [1., 2.]]))
    Array([1., 3.], dtype=float32)
    """
    return eigh(a, UPLO).eigenvalues


def _hermitian_svd(a, compute_uv):
    """SVD of symmetric ``a`` from its eigendecomposition: ``s = |w|`` descending."""
    v, w = _lin.eigh(a, lower=True, symmetrize_input=False)
    aw = get_aval(w)
    key = lax.neg(lax.abs(w))
    if not compute_uv:
        return lax.neg(lax.sort(key, dimension=-1))
    n = aw.shape[-1]
    key_rows = _lin._rows(key, n)                                  # [i, j] = key_j
    w_sorted = lax.sort((key, w), dimension=-1, num_keys=1)[1]
    u = lax.sort((key_rows, v), dimension=-1, num_keys=1)[1]       # columns reordered
    s = lax.abs(w_sorted)
    vh = _mT(lax.mul(u, _lin._rows(lax.sign(w_sorted), n)))
    return u, s, vh


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition: ``SVDResult(U, S, Vh)`` (or ``S`` alone) with
    ``a = U[..., :k] * S @ Vh[..., :k, :]`` and ``S`` descending.

    ``hermitian=True`` uses ``eigh`` (``a`` must be symmetric).

    >>> fnp.linalg.svd(fnp.array([[3., 0.], [0., 4.]]), compute_uv=False)
    Array([4., 3.], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.svd", square=hermitian)
    if hermitian:
        r = _hermitian_svd(a, compute_uv)
        return SVDResult(*r) if compute_uv else r
    if not compute_uv:
        return _lin.svd(a, full_matrices=False, compute_uv=False)
    u, s, vh = _lin.svd(a, full_matrices=full_matrices, compute_uv=True)
    return SVDResult(u, s, vh)


def svdvals(x, /):
    """Singular values, descending (``svd(x, compute_uv=False)``).

    >>> fnp.linalg.svdvals(fnp.eye(2))
    Array([1., 1.], dtype=float32)
    """
    return svd(x, compute_uv=False)


# ----------------------------------------------------------------------------- pinv / rank / lstsq

def _cutoff(rcond, rtol, m, n, dtype, where):
    if rcond is not None and rtol is not _NOVALUE:
        raise ValueError(f"{where}: pass only one of rcond and rtol")
    if rcond is not None:
        return rcond
    if rtol is _NOVALUE:
        return 1e-15
    if rtol is None:
        return max(m, n) * float(np.finfo(dtype).eps)
    return rtol


class _NoValue:
    def __repr__(self):
        return "<no value>"


_NOVALUE = _NoValue()


def _pinv_impl(a, cut):
    u, s, vh = _lin.svd(a, full_matrices=False, compute_uv=True)
    sa = get_aval(s)
    smax = lax.reduce_max(s, (sa.ndim - 1,)) if sa.shape[-1] else lax.full(sa.shape[:-1], 0,
                                                                              sa.dtype)
    cut = lax.convert_element_type(_asarray(cut), sa.dtype)
    thresh = lax.mul(_broadcast_to(cut, sa.shape[:-1]), smax)
    keep = lax.gt(s, lax.broadcast_in_dim(thresh, sa.shape, tuple(range(sa.ndim - 1))))
    zeros = lax.full(sa.shape, 0, sa.dtype)
    sinv = lax.select(keep, lax.div(lax.full(sa.shape, 1, sa.dtype),
                                    lax.select(keep, s, lax.full(sa.shape, 1, sa.dtype))),
                      zeros)
    # V diag(1/s) U^T
    return _lin._mm(_mT(vh), lax.mul(_lin._cols(sinv, get_aval(u).shape[-2]), _mT(u)))


def _broadcast_to(x, shape):
    a = get_aval(x)
    if a.shape == tuple(shape):
        return x
    return lax.broadcast_in_dim(x, tuple(shape), tuple(range(len(shape) - a.ndim, len(shape))))


def _make_pinv():
    from .._api import custom_jvp

    @custom_jvp
    def _pinv(a, cut):
        return _pinv_impl(a, cut)

    @_pinv.defjvp
    def _pinv_jvp(primals, tangents):
        # d(A+) for locally constant rank (Golub & Pereyra); the cutoff is not differentiated
        (a, cut), (da, _) = primals, tangents
        p = _pinv(a, cut)
        aa = get_aval(a)
        m, n = aa.shape[-2:]
        batch = aa.shape[:-2]
        dat = _mT(da)
        pda = _lin._mm(p, _lin._mm(da, p))
        t2 = _lin._mm(_lin._mm(p, _mT(p)),
                      _lin._mm(dat, lax.sub(_eye(m, aa.dtype, batch), _lin._mm(a, p))))
        t3 = _lin._mm(lax.sub(_eye(n, aa.dtype, batch), _lin._mm(p, a)),
                      _lin._mm(dat, _lin._mm(_mT(p), p)))
        return p, lax.add(lax.sub(t2, pda), t3)

    return _pinv


_pinv_fn = []


def pinv(a, rcond=None, hermitian=False, *, rtol=_NOVALUE):
    """Moore-Penrose pseudo-inverse via SVD; singular values ``<= rcond * max(s)`` are
    dropped (NumPy's defaults: ``rcond=1e-15``; ``rtol=None`` means ``max(m, n) * eps``).

    >>> fnp.linalg.pinv(fnp.array([[2., 0.], [0., 0.]]))
    Array([[0.5, 0. ],
           [0. , 0. ]], dtype=float32)
    """
    a = _matrix(a, "fnp.linalg.pinv")
    aa = get_aval(a)
    cut = _cutoff(rcond, rtol, aa.shape[-2], aa.shape[-1], aa.dtype, "fnp.linalg.pinv")
    if not isinstance(cut, (int, float, np.generic, np.ndarray)):
        try:
            cut = np.asarray(cut)
        except Exception:
            raise TypeError("fnp.linalg.pinv: rcond/rtol must be a concrete value, not a "
                            "traced array") from None
    cut = np.asarray(cut, aa.dtype)
    if not _pinv_fn:
        _pinv_fn.append(_make_pinv())
    return _pinv_fn[0](a, cut)


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """Number of singular values above ``tol`` (default ``max(s) * max(m, n) * eps``).

    >>> fnp.linalg.matrix_rank(fnp.array([[1., 2.], [2., 4.]]))
    Array(1, dtype=int32)
    """
    A = _inexact(A, "fnp.linalg.matrix_rank")
    aa = get_aval(A)
    idt = dtypes.default_int_dtype()
    if aa.ndim < 2:
        nz = lax.reduce_or(lax.ne(A, _sc(0, A)), tuple(range(aa.ndim))) if aa.ndim else \
            lax.ne(A, _sc(0, A))
        return lax.convert_element_type(nz, idt)
    s = svd(A, compute_uv=False, hermitian=hermitian)
    if hermitian:
        s = lax.abs(s)
    sa = get_aval(s)
    k = sa.ndim - 1
    if sa.shape[-1] == 0:
        return lax.full(sa.shape[:-1], 0, idt)
    smax = lax.reduce_max(s, (k,))
    if tol is None:
        r = rtol if rtol is not None else max(aa.shape[-2:]) * float(np.finfo(aa.dtype).eps)
        tol = lax.mul(smax, lax.convert_element_type(_asarray(r), sa.dtype))
    else:
        tol = lax.convert_element_type(_asarray(tol), sa.dtype)
    tol = _broadcast_to(tol, sa.shape[:-1])
    big = lax.gt(s, lax.broadcast_in_dim(tol, sa.shape, tuple(range(k))))
    return lax.reduce_sum(lax.convert_element_type(big, idt), (k,))


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a @ x = b``: returns ``(x, residuals, rank, s)``.

    ``x = pinv(a, rcond) @ b`` with NumPy's default ``rcond = max(m, n) * eps``.
    ``residuals`` (squared 2-norms of ``b - a @ x`` per column) has shape ``(k,)`` when
    ``m > n`` and ``(0,)`` otherwise; unlike NumPy it is also returned for rank-deficient
    ``a`` (its shape cannot depend on the data under jit).

    >>> x, res, rank, s = fnp.linalg.lstsq(fnp.array([[1., 0.], [0., 1.], [0., 0.]]),
    ...                                    fnp.array([1., 2., 3.]))
    >>> x
    Array([1., 2.], dtype=float32)
    """
    a = _inexact(a, "fnp.linalg.lstsq")
    b = _inexact(b, "fnp.linalg.lstsq")
    aa, ba = get_aval(a), get_aval(b)
    if aa.ndim != 2:
        raise TypeError(f"fnp.linalg.lstsq: a must be 2-D, got shape {aa.shape}")
    if ba.ndim not in (1, 2) or ba.shape[0] != aa.shape[0]:
        raise TypeError(f"fnp.linalg.lstsq: incompatible shapes a {aa.shape} and b {ba.shape}; "
                        f"b must be ({aa.shape[0]},) or ({aa.shape[0]}, k)")
    dt = np.promote_types(aa.dtype, ba.dtype)
    a = lax.convert_element_type(a, dt)
    b = lax.convert_element_type(b, dt)
    m, n = aa.shape
    if rcond is None:
        rcond = max(m, n) * float(np.finfo(dt).eps)
    vec = ba.ndim == 1
    b2 = lax.reshape(b, (m, 1)) if vec else b
    x = _lin._mm(pinv(a, rcond), b2)
    s = svd(a, compute_uv=False)
    rank = matrix_rank(a, tol=lax.mul(lax.reduce_max(s, (0,)), _sc(rcond, s))
                       if min(m, n) else None)
    if m > n:
        r = lax.sub(b2, _lin._mm(a, x))
        resid = lax.reduce_sum(lax.mul(r, r), (0,))
    else:
        resid = lax.full((0,), 0, dt)
    if vec:
        x = lax.reshape(x, (n,))
        if m > n:
            resid = lax.reshape(resid, (1,))
    return x, resid, rank, s


# ----------------------------------------------------------------------------- products

def matrix_power(a, n):
    """``a`` raised to the integer power ``n`` (``n < 0`` inverts first; ``n = 0``: identity).

    >>> fnp.linalg.matrix_power(fnp.array([[1., 1.], [0., 1.]]), 3)
    Array([[1., 3.], [0., 1.]], dtype=float32)
    """
    try:
        n = int(n)
    except TypeError:
        raise TypeError("fnp.linalg.matrix_power: the exponent must be a static Python int") \
            from None
    x = _asarray(a, where="fnp.linalg.matrix_power")
    xa = get_aval(x)
    if xa.ndim < 2 or xa.shape[-1] != xa.shape[-2]:
        raise TypeError(f"fnp.linalg.matrix_power: last 2 dimensions of the array must be "
                        f"square, got shape {xa.shape}")
    if n == 0:
        return _eye(xa.shape[-1], xa.dtype, xa.shape[:-2])
    if n < 0:
        x = inv(x)
        n = -n
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else _lin._mm(result, base)
        n >>= 1
        if n:
            base = _lin._mm(base, base)
    return result


def multi_dot(arrays, *, out=None):
    """Product of a chain of matrices, multiplied in the cheapest order.

    The first array may be 1-D (a row vector) and the last 1-D (a column vector).

    >>> fnp.linalg.multi_dot([fnp.ones((2, 3)), fnp.ones((3, 4)), fnp.ones(4)]).shape
    (2,)
    """
    arrs = [_asarray(x, where="fnp.linalg.multi_dot") for x in arrays]
    if len(arrs) < 2:
        raise ValueError("fnp.linalg.multi_dot: expecting at least two arrays")
    from ._products import dot
    if len(arrs) == 2:
        return dot(arrs[0], arrs[1])
    first_vec = get_aval(arrs[0]).ndim == 1
    last_vec = get_aval(arrs[-1]).ndim == 1
    if first_vec:
        arrs[0] = lax.reshape(arrs[0], (1, get_aval(arrs[0]).shape[0]))
    if last_vec:
        arrs[-1] = lax.reshape(arrs[-1], (get_aval(arrs[-1]).shape[0], 1))
    for i, x in enumerate(arrs):
        if get_aval(x).ndim != 2:
            raise TypeError(f"fnp.linalg.multi_dot: array {i} has shape {get_aval(x).shape}; "
                            "only the first and last arrays may be 1-D, the others must be 2-D")
    dims = [get_aval(arrs[0]).shape[0]] + [get_aval(x).shape[1] for x in arrs]
    for i in range(len(arrs) - 1):
        if get_aval(arrs[i]).shape[1] != get_aval(arrs[i + 1]).shape[0]:
            raise TypeError(f"fnp.linalg.multi_dot: shapes {get_aval(arrs[i]).shape} and "
                            f"{get_aval(arrs[i + 1]).shape} (arrays {i} and {i + 1}) are not "
                            "aligned")
    order = _chain_order(dims)

    def build(i, j):
        if i == j:
            return arrs[i]
        k = order[i][j]
        return dot(build(i, k), build(k + 1, j))

    r = build(0, len(arrs) - 1)
    if first_vec:
        r = lax.squeeze(r, (0,))
    if last_vec:
        r = lax.squeeze(r, (get_aval(r).ndim - 1,))
    return r


def _chain_order(dims):
    """Matrix-chain dynamic programming: split points of the cheapest parenthesization."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j] = c
                    split[i][j] = k
    return split


def outer(x1, x2, /):
    """Outer product of two 1-D arrays.

    >>> fnp.linalg.outer(fnp.array([1., 2.]), fnp.array([3., 4.]))
    Array([[3., 4.], [6., 8.]], dtype=float32)
    """
    for x in (x1, x2):
        if get_aval(_asarray(x)).ndim != 1:
            raise TypeError(f"fnp.linalg.outer: inputs must be 1-D, got shape "
                            f"{get_aval(_asarray(x)).shape}")
    from ._products import outer as _outer
    return _outer(x1, x2)


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the diagonal of the last two axes (array-API ``linalg.trace``).

    >>> fnp.linalg.trace(fnp.eye(3))
    Array(3., dtype=float32)
    """
    from ._products import trace as _trace
    nd = get_aval(_asarray(x)).ndim
    if nd < 2:
        raise TypeError(f"fnp.linalg.trace: expected at least 2-D input, got {nd}-D")
    return _trace(x, offset, nd - 2, nd - 1, dtype)


def matrix_transpose(x, /):
    """Swap the last two axes.

    >>> fnp.linalg.matrix_transpose(fnp.ones((2, 3))).shape
    (3, 2)
    """
    x = _asarray(x, where="fnp.linalg.matrix_transpose")
    if get_aval(x).ndim < 2:
        raise TypeError(f"fnp.linalg.matrix_transpose: expected at least 2-D input, got shape "
                        f"{get_aval(x).shape}")
    return _mT(x)


# ----------------------------------------------------------------------------- norms

def _axes_tuple(axis, nd, where):
    if isinstance(axis, (list, tuple)):
        axs = tuple(axis)
    else:
        axs = (axis,)
    out = []
    for a in axs:
        a = int(a)
        if not -nd <= a < nd:
            raise ValueError(f"{where}: axis {a} is out of bounds for an array of rank {nd}")
        out.append(a % nd)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: duplicate axes in {axis!r}")
    return tuple(out)


def _vector_norm(x, axes, ord):
    ax = tuple(sorted(axes))
    if ord is None or ord == 2:
        return _safe_sqrt(lax.reduce_sum(lax.mul(x, x), ax))
    if isinstance(ord, str):
        raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for vectors")
    ord = float(ord)
    ab = lax.abs(x)
    if ord == np.inf:
        return lax.reduce_max(ab, ax)
    if ord == -np.inf:
        return lax.reduce_min(ab, ax)
    if ord == 0:
        nz = lax.convert_element_type(lax.ne(x, _sc(0, x)), get_aval(x).dtype)
        return lax.reduce_sum(nz, ax)
    if ord == 1:
        return lax.reduce_sum(ab, ax)
    s = lax.reduce_sum(lax.pow(ab, _sc(ord, ab)), ax)
    if ord > 0:
        # safe root: derivative 0 instead of NaN at the zero vector
        pos = lax.gt(s, _sc(0, s))
        one = lax.full(get_aval(s).shape, 1, get_aval(s).dtype)
        r = lax.pow(lax.select(pos, s, one), _sc(1.0 / ord, s))
        return lax.select(pos, r, lax.full(get_aval(s).shape, 0, get_aval(s).dtype))
    return lax.pow(s, _sc(1.0 / ord, s))


def _matrix_norm(x, axes, ord):
    r, c = axes
    if ord is None or ord == "fro":
        return _safe_sqrt(lax.reduce_sum(lax.mul(x, x), tuple(sorted(axes))))
    if ord in ("nuc", 2, -2):
        from ._shape import moveaxis
        y = moveaxis(x, (r, c), (-2, -1))
        s = _lin.svd(y, full_matrices=False, compute_uv=False)
        last = (get_aval(s).ndim - 1,)
        if ord == "nuc":
            return lax.reduce_sum(s, last)
        return lax.reduce_max(s, last) if ord == 2 else lax.reduce_min(s, last)
    if ord in (1, -1, np.inf, -np.inf):
        ab = lax.abs(x)
        if ord in (1, -1):          # max/min over columns of the column sums
            sums = lax.reduce_sum(ab, (r,))
            cc = c - 1 if c > r else c
        else:                       # max/min over rows of the row sums
            sums = lax.reduce_sum(ab, (c,))
            cc = r - 1 if r > c else r
        return lax.reduce_max(sums, (cc,)) if ord in (1, np.inf) else lax.reduce_min(sums,
                                                                                     (cc,))
    raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for matrices; use 'fro', "
                     "'nuc', 1, -1, 2, -2, inf or -inf")


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    Vectors: ``ord`` in ``None/2, 1, inf, -inf, 0`` or any real ``p``.  Matrices (a 2-D
    input or a 2-tuple ``axis``): ``None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf``.  The
    2-norm and Frobenius norm have gradient 0 (not NaN) at zero.

    >>> fnp.linalg.norm(fnp.array([3., 4.]))
    Array(5., dtype=float32)
    """
    x = _inexact(x, "fnp.linalg.norm")
    xa = get_aval(x)
    nd = xa.ndim
    if axis is None:
        if ord is None:
            r = _vector_norm(lax.reshape(x, (xa.size,)), (0,), None)
            return lax.reshape(r, (1,) * nd) if keepdims else r
        if nd == 1:
            axes = (0,)
        elif nd == 2:
            axes = (0, 1)
        else:
            raise ValueError(f"fnp.linalg.norm: improper number of dimensions to norm: shape "
                             f"{xa.shape} with ord={ord!r}; pass axis")
    else:
        axes = _axes_tuple(axis, nd, "fnp.linalg.norm")
    if len(axes) == 1:
        r = _vector_norm(x, axes, ord)
    elif len(axes) == 2:
        r = _matrix_norm(x, axes, ord)
    else:
        raise ValueError(f"fnp.linalg.norm: improper number of dimensions to norm (axis="
                         f"{axis!r})")
    if keepdims:
        r = lax.reshape(r, tuple(1 if i in axes else d for i, d in enumerate(xa.shape)))
    return r


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Vector norm over ``axis`` (all axes when None), array-API style.

    >>> fnp.linalg.vector_norm(fnp.ones((2, 2)))
    Array(2., dtype=float32)
    """
    x = _inexact(x, "fnp.linalg.vector_norm")
    xa = get_aval(x)
    axes = tuple(range(xa.ndim)) if axis is None else _axes_tuple(axis, xa.ndim,
                                                                  "fnp.linalg.vector_norm")
    if not axes:
        return lax.abs(x)
    r = _vector_norm(x, axes, ord)
    if keepdims:
        r = lax.reshape(r, tuple(1 if i in axes else d for i, d in enumerate(xa.shape)))
    return r


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Matrix norm over the last two axes, array-API style.

    >>> fnp.linalg.matrix_norm(fnp.eye(2), ord="nuc")
    Array(2., dtype=float32)
    """
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def cond(x, p=None):
    """Condition number: ``max(s) / min(s)`` for ``p`` None/2/-2, else
    ``norm(x, p) * norm(inv(x), p)``.

    >>> fnp.linalg.cond(fnp.array([[2., 0.], [0., 1.]]))
    Array(2., dtype=float32)
    """
    x = _matrix(x, "fnp.linalg.cond")
    if p in (None, 2, -2):
        s = svd(x, compute_uv=False)
        k = (get_aval(s).ndim - 1,)
        hi, lo = lax.reduce_max(s, k), lax.reduce_min(s, k)
        return lax.div(hi, lo) if p != -2 else lax.div(lo, hi)
    return lax.mul(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "solve", "det", "slogdet", "cholesky",
           "qr", "svd", "svdvals", "eigh", "eigvalsh", "pinv", "matrix_rank", "lstsq",
           "matrix_power", "multi_dot", "outer", "trace", "matrix_transpose", "cond",
           "LinAlgError", "EighResult", "QRResult", "SlogdetResult", "SVDResult"]
