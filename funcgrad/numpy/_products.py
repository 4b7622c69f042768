"""Products: dot, matmul, vdot, tensordot, einsum, outer, inner, kron, trace."""
from __future__ import annotations

from .. import lax
from ..core.array import Array
from ..core.trace import get_aval
from ..lax.dot import dot_general_p as _dot_general_p
from ._promote import asarray, promote


def _prep(name, a, b):
    a, b = asarray(a, where=f"fnp.{name}"), asarray(b, where=f"fnp.{name}")
    from ._promote import result_dtype
    dt, weak = result_dtype(a, b)
    if get_aval(a).dtype != dt:
        a = lax.convert_element_type(a, dt, weak)
    if get_aval(b).dtype != dt:
        b = lax.convert_element_type(b, dt, weak)
    return a, b


def _bool_via_int(fn):
    """Products of booleans are computed in int32 and compared with zero (NumPy gives
    bool results: logical or of ands)."""
    import functools
    import numpy as np

    @functools.wraps(fn)
    def wrapped(a, b, *args, **kwargs):
        a, b = asarray(a, where=f"fnp.{fn.__name__}"), asarray(b, where=f"fnp.{fn.__name__}")
        if get_aval(a).dtype == np.bool_ and get_aval(b).dtype == np.bool_:
            r = fn(lax.convert_element_type(a, np.int32), lax.convert_element_type(b, np.int32),
                   *args, **kwargs)
            return lax.ne(r, np.int32(0))
        return fn(a, b, *args, **kwargs)
    return wrapped


_MM_DN = {1: (((0,), (0,)), ((), ())), 2: (((1,), (0,)), ((), ()))}


def matmul(a, b, /):
    """Matrix product with NumPy's broadcasting of leading (batch) dimensions.

    >>> fnp.matmul(fnp.ones((2, 3)), fnp.ones((3, 4))).shape
    (2, 4)
    """
    if type(a) is Array and type(b) is Array:
        # the common eager case (1-d/2-d operands of one numeric dtype) goes straight to
        # the dot_general the general path below would bind
        va, vb = a._value, b._value
        sa, sb = va.shape, vb.shape
        if va.dtype == vb.dtype and va.dtype.kind in "iufc" and 0 < len(sa) <= 2 and \
                0 < len(sb) <= 2 and sa[-1] == sb[0]:
            return _dot_general_p.bind(a, b, dimension_numbers=_MM_DN[len(sa)],
                                       precision=None, preferred_element_type=None)
    return _matmul(a, b)


@_bool_via_int
def _matmul(a, b, /):
    a, b = _prep("matmul", a, b)
    aa, ba = get_aval(a), get_aval(b)
    if aa.ndim == 0 or ba.ndim == 0:
        raise ValueError("fnp.matmul: operands must not be scalars (use * or fnp.multiply)")
    if aa.ndim == 1 and ba.ndim == 1:
        if aa.shape != ba.shape:
            raise TypeError(f"fnp.matmul: incompatible shapes {aa.shape} and {ba.shape}")
        return lax.dot_general(a, b, (((0,), (0,)), ((), ())))
    if aa.ndim <= 2 and ba.ndim <= 2:
        if aa.shape[-1] != ba.shape[0 if ba.ndim == 1 else -2]:
            raise TypeError(f"fnp.matmul: incompatible shapes {aa.shape} and {ba.shape}: "
                            f"contracting dimensions {aa.shape[-1]} and "
                            f"{ba.shape[0 if ba.ndim == 1 else -2]} differ")
        return lax.dot_general(a, b, (((aa.ndim - 1,), (0,)), ((), ())))
    if ba.ndim == 2 and aa.ndim > 2:
        # (..., m, k) @ (k, n): one contraction, no broadcasting of b
        if aa.shape[-1] != ba.shape[0]:
            raise TypeError(f"fnp.matmul: incompatible shapes {aa.shape} and {ba.shape}: "
                            f"contracting dimensions {aa.shape[-1]} and {ba.shape[0]} differ")
        return lax.dot_general(a, b, (((aa.ndim - 1,), (0,)), ((), ())))
    # batched: broadcast batch dims
    a1 = aa.ndim == 1
    b1 = ba.ndim == 1
    if a1:
        a = lax.expand_dims(a, (0,))
    if b1:
        b = lax.expand_dims(b, (1,))
    aa, ba = get_aval(a), get_aval(b)
    if aa.shape[-1] != ba.shape[-2]:
        raise TypeError(f"fnp.matmul: incompatible shapes {aa.shape} and {ba.shape}: "
                        f"contracting dimensions {aa.shape[-1]} and {ba.shape[-2]} differ")
    from ._promote import broadcast_shapes
    batch = broadcast_shapes(aa.shape[:-2], ba.shape[:-2], where="fnp.matmul")
    nb = len(batch)
    if aa.ndim == 2 and not a1:
        # (m,k) @ (..., k, n): contract without broadcasting a
        r = lax.dot_general(b, a, (((ba.ndim - 2,), (1,)), ((), ())))  # (..., n, m)
        r = lax.moveaxis(r, -1, -2)
    else:
        if aa.shape[:-2] != batch:
            a = lax.broadcast_in_dim(a, batch + aa.shape[-2:],
                                     tuple(range(nb - (aa.ndim - 2), nb + 2)))
        if ba.shape[:-2] != batch:
            b = lax.broadcast_in_dim(b, batch + ba.shape[-2:],
                                     tuple(range(nb - (ba.ndim - 2), nb + 2)))
        bd = tuple(range(nb))
        r = lax.dot_general(a, b, (((nb + 1,), (nb,)), (bd, bd)))
    if a1:
        r = lax.squeeze(r, (get_aval(r).ndim - 2,))
    if b1:
        r = lax.squeeze(r, (get_aval(r).ndim - 1,))
    return r


@_bool_via_int
def dot(a, b):
    """NumPy's ``dot``: matmul for 2-D, sum-product over last/second-to-last axes for N-D.

    >>> fnp.dot(fnp.array([[1, 2], [3, 4]]), fnp.array([1, 1])).tolist()
    [3, 7]
    """
    a, b = _prep("dot", a, b)
    aa, ba = get_aval(a), get_aval(b)
    if aa.ndim == 0 or ba.ndim == 0:
        return lax.mul(a, b)
    if ba.ndim == 1:
        if aa.shape[-1] != ba.shape[0]:
            raise TypeError(f"fnp.dot: shapes {aa.shape} and {ba.shape} not aligned")
        return lax.dot_general(a, b, (((aa.ndim - 1,), (0,)), ((), ())))
    if aa.shape[-1] != ba.shape[-2]:
        raise TypeError(f"fnp.dot: shapes {aa.shape} and {ba.shape} not aligned: "
                        f"{aa.shape[-1]} (dim {aa.ndim - 1}) != {ba.shape[-2]} (dim {ba.ndim - 2})")
    return lax.dot_general(a, b, (((aa.ndim - 1,), (ba.ndim - 2,)), ((), ())))


@_bool_via_int
def vdot(a, b):
    """Dot product of flattened arrays.

    >>> int(fnp.vdot(fnp.array([[1, 2]]), fnp.array([[3, 4]])))
    11
    """
    from ._shape import ravel
    return dot(ravel(a), ravel(b))


@_bool_via_int
def inner(a, b):
    """Sum-product over the last axes.

    >>> int(fnp.inner(fnp.array([1, 2]), fnp.array([3, 4])))
    11
    """
    a, b = _prep("inner", a, b)
    aa, ba = get_aval(a), get_aval(b)
    if aa.ndim == 0 or ba.ndim == 0:
        return lax.mul(a, b)
    return lax.dot_general(a, b, (((aa.ndim - 1,), (ba.ndim - 1,)), ((), ())))


@_bool_via_int
def outer(a, b):
    """Outer product of flattened inputs.

    >>> fnp.outer(fnp.array([1, 2]), fnp.array([1, 10])).tolist()
    [[1, 10], [2, 20]]
    """
    from ._shape import ravel
    a, b = _prep("outer", ravel(a), ravel(b))
    return lax.dot_general(lax.expand_dims(a, (1,)), lax.expand_dims(b, (0,)),
                           (((1,), (0,)), ((), ())))


@_bool_via_int
def tensordot(a, b, axes=2):
    """Sum-product over the given axes.

    >>> fnp.tensordot(fnp.ones((2, 3, 4)), fnp.ones((3, 4, 5))).shape
    (2, 5)
    """
    a, b = _prep("tensordot", a, b)
    aa, ba = get_aval(a), get_aval(b)
    if isinstance(axes, int):
        ax_a = tuple(range(aa.ndim - axes, aa.ndim))
        ax_b = tuple(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, int) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, int) else tuple(ax_b)
        ax_a = tuple(x % aa.ndim for x in ax_a)
        ax_b = tuple(x % ba.ndim for x in ax_b)
    return lax.dot_general(a, b, ((ax_a, ax_b), ((), ())))


def einsum(subscripts, *operands, optimize=None, precision=None):
    """Einstein summation, lowered pairwise to ``dot_general`` and reductions (explicit or
    implicit output, ``...``, repeated labels, any number of operands).

    >>> fnp.einsum("ij,jk->ik", fnp.ones((2, 3)), fnp.ones((3, 4))).shape
    (2, 4)
    """
    from ._einsum import einsum as _einsum
    return _einsum(subscripts, *operands)


@_bool_via_int
def kron(a, b):
    """NumPy's ``kron``.

    >>> fnp.kron(fnp.array([1, 2]), fnp.array([1, 10])).tolist()
    [1, 10, 2, 20]
    """
    a, b = _prep("kron", a, b)
    aa, ba = get_aval(a), get_aval(b)
    nd = max(aa.ndim, ba.ndim)
    a = lax.reshape(a, (1,) * (nd - aa.ndim) + aa.shape)
    b = lax.reshape(b, (1,) * (nd - ba.ndim) + ba.shape)
    aa, ba = get_aval(a), get_aval(b)
    ae = lax.reshape(a, tuple(x for d in aa.shape for x in (d, 1)))
    be = lax.reshape(b, tuple(x for d in ba.shape for x in (1, d)))
    shape = tuple(x for p, q in zip(aa.shape, ba.shape) for x in (p, q))
    r = lax.mul(lax.broadcast_in_dim(ae, shape, tuple(range(2 * nd))),
                lax.broadcast_in_dim(be, shape, tuple(range(2 * nd))))
    return lax.reshape(r, tuple(p * q for p, q in zip(aa.shape, ba.shape)))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """Sum along a diagonal.

    >>> int(fnp.trace(fnp.array([[1, 2], [3, 4]])))
    5
    """
    from ._indexing import diagonal
    from ._reductions import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


del promote
