"""``dot_general``: contraction with batch dimensions (matmul, einsum-like products).

``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``; the
result's axes are: batch dims, then lhs free dims, then rhs free dims (as XLA/JAX).
The kernel transposes and reshapes both operands to ``(batch, m, k)`` and ``(batch, k, n)``
and calls ``matmul`` (BLAS); the plan is computed once per shape.
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ._util import check_dtype

dot_general_p = Primitive("dot_general")


def _free(ndim, contract, batch):
    s = set(contract) | set(batch)
    return [i for i in range(ndim) if i not in s]


@functools.lru_cache(maxsize=4096)
def dot_plan(lshape, rshape, dimension_numbers):
    """How to compute one dot_general with a single matmul: permutations and shapes."""
    (lc, rc), (lb, rb) = dimension_numbers
    lf = _free(len(lshape), lc, lb)
    rf = _free(len(rshape), rc, rb)
    lperm = tuple(lb) + tuple(lf) + tuple(lc)
    rperm = tuple(rb) + tuple(rc) + tuple(rf)
    B = int(np.prod([lshape[i] for i in lb], dtype=np.int64))
    M = int(np.prod([lshape[i] for i in lf], dtype=np.int64))
    K = int(np.prod([lshape[i] for i in lc], dtype=np.int64))
    N = int(np.prod([rshape[i] for i in rf], dtype=np.int64))
    out_shape = tuple(lshape[i] for i in lb) + tuple(lshape[i] for i in lf) + tuple(
        rshape[i] for i in rf)
    lperm = None if lperm == tuple(range(len(lshape))) else lperm
    rperm = None if rperm == tuple(range(len(rshape))) else rperm
    return lperm, rperm, (B, M, K), (B, K, N), out_shape, bool(lb)


#: outer products (size-1 contractions) with at least this many output elements use einsum
OUTER_EINSUM_MIN = 1 << 15


def dot_general_kernel(lhs, rhs, *, dimension_numbers, precision=None,
                       preferred_element_type=None, out=None):
    lperm, rperm, l3, r3, out_shape, batched = dot_plan(lhs.shape, rhs.shape, dimension_numbers)
    a = lhs if lperm is None else lhs.transpose(lperm)
    b = rhs if rperm is None else rhs.transpose(rperm)
    if l3[2] == 1 and (batched or l3[1] > 1 or r3[2] > 1):
        # contraction of size 1 (outer products, e.g. per-example gradients): several
        # times faster than matmul as a broadcast multiply, or for big outputs as an einsum
        # (whose product loop runs over whole rows; it adds the products to 0, so a -0
        # product comes out +0 as from matmul)
        if l3[0] * l3[1] * r3[2] >= OUTER_EINSUM_MIN:
            if batched:
                r = np.einsum("bi,bj->bij", a.reshape(l3[:2]), b.reshape((r3[0], r3[2])),
                              order="C")
            else:
                r = np.einsum("i,j->ij", a.reshape(l3[1]), b.reshape(r3[2]), order="C")
        elif batched:
            r = np.multiply(a.reshape(l3), b.reshape(r3))
        else:
            r = np.multiply(a.reshape(l3[1:]), b.reshape(r3[1:]))
    elif batched:
        r = np.matmul(a.reshape(l3), b.reshape(r3))
    else:
        r = np.dot(a.reshape(l3[1:]), b.reshape(r3[1:]))
    r = r.reshape(out_shape)
    if preferred_element_type is not None and r.dtype != preferred_element_type:
        r = r.astype(preferred_element_type)
    if out is not None:
        np.copyto(out, r)
        return out
    return r


dot_general_p.impl = dot_general_kernel


@dot_general_p.def_abstract_eval
def _dot_abstract(lhs, rhs, *, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    check_dtype("dot_general", lhs, "num")
    check_dtype("dot_general", rhs, "num")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general requires equal dtypes, got {lhs.dtype.name} and "
                        f"{rhs.dtype.name}; convert one operand first")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: dimension_numbers {dimension_numbers} pair unequal "
                        "numbers of dimensions")
    for a, b, kind in [(x, y, "contracting") for x, y in zip(lc, rc)] + [
            (x, y, "batch") for x, y in zip(lb, rb)]:
        if not (0 <= a < lhs.ndim and 0 <= b < rhs.ndim):
            raise TypeError(f"dot_general: {kind} dimensions {dimension_numbers} out of range "
                            f"for shapes {lhs.shape} and {rhs.shape}")
        if lhs.shape[a] != rhs.shape[b]:
            raise TypeError(
                f"dot_general: incompatible shapes {lhs.shape} and {rhs.shape}: {kind} "
                f"dimension {a} of lhs has size {lhs.shape[a]} but dimension {b} of rhs has "
                f"size {rhs.shape[b]}")
    lf = _free(lhs.ndim, lc, lb)
    rf = _free(rhs.ndim, rc, rb)
    shape = tuple(lhs.shape[i] for i in lb) + tuple(lhs.shape[i] for i in lf) + tuple(
        rhs.shape[i] for i in rf)
    dt = preferred_element_type if preferred_element_type is not None else lhs.dtype
    return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)


def _ranges_like(*xs):
    start = 0
    for x in xs:
        n = len(x)
        yield list(range(start, start + n))
        start += n


def _transpose_lhs(g, x_aval, y, dimension_numbers, preferred_element_type, swap_ans=False):
    from .structural import transpose
    (xc, yc), (xb, yb) = dimension_numbers
    x_ndim = x_aval.ndim
    y_ndim = get_aval(y).ndim
    x_kept = _free(x_ndim, xc, xb)
    y_kept = _free(y_ndim, yc, yb)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    dims = ((tuple(ans_y), tuple(y_kept)), (tuple(ans_batch), tuple(yb)))
    xc_sorted_by_y = [xc[i] for i in np.argsort(yc)]
    out_axes = tuple(int(i) for i in np.argsort(list(xb) + x_kept + xc_sorted_by_y))
    # dot(y, g) orders its result (batch, contracted-by-y, kept) instead of (batch, kept,
    # contracted-by-y); when that is already x's layout (e.g. a weight gradient x.T @ g),
    # use it and skip the transpose
    swapped_axes = tuple(int(i) for i in np.argsort(list(xb) + xc_sorted_by_y + x_kept))
    if out_axes != tuple(range(x_ndim)) and swapped_axes == tuple(range(x_ndim)):
        sdims = ((tuple(y_kept), tuple(ans_y)), (tuple(yb), tuple(ans_batch)))
        r = dot_general(y, g, sdims, preferred_element_type=None)
    else:
        r = dot_general(g, y, dims, preferred_element_type=None)
        r = transpose(r, out_axes)
    if get_aval(r).dtype != x_aval.dtype:
        from .elementwise import convert_element_type
        r = convert_element_type(r, x_aval.dtype)
    return r


def _dot_transpose(ct, lhs, rhs, *, dimension_numbers, precision=None,
                   preferred_element_type=None):
    if type(ct) is Zero:
        return [None, None]
    (lc, rc), (lb, rb) = dimension_numbers
    if ad.is_undefined_primal(lhs) and ad.is_undefined_primal(rhs):
        raise TypeError("dot_general: both operands depend linearly on the input")
    if ad.is_undefined_primal(lhs):
        return [_transpose_lhs(ct, lhs.aval, rhs, dimension_numbers, preferred_element_type),
                None]
    swapped = ((rc, lc), (rb, lb))
    return [None, _transpose_lhs(ct, rhs.aval, lhs, swapped, preferred_element_type,
                                 swap_ans=True)]


ad.defjvp(dot_general_p,
          lambda g, x, y, **p: dot_general_p.bind(g, y, **p),
          lambda g, x, y, **p: dot_general_p.bind(x, g, **p))
dot_general_p.transpose = _dot_transpose
dot_general_p.linear = True


def _dot_batch(args, dims, *, dimension_numbers, precision=None, preferred_element_type=None):
    from ..interpreters.batching import moveaxis
    lhs, rhs = args
    ld, rd = dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(precision=precision, preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        lhs, rhs = moveaxis(lhs, ld, 0), moveaxis(rhs, rd, 0)
        sh = lambda t: tuple(i + 1 for i in t)  # noqa: E731
        dn = ((sh(lc), sh(rc)), ((0,) + sh(lb), (0,) + sh(rb)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), 0
    if ld is not None:
        sh = lambda t: tuple(i if i < ld else i + 1 for i in t)  # noqa: E731
        dn = ((sh(lc), rc), (sh(lb), rb))
        nd = get_aval(lhs).ndim
        free = _free(nd, dn[0][0], dn[1][0])
        out_d = len(lb) + free.index(ld)
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), out_d
    sh = lambda t: tuple(i if i < rd else i + 1 for i in t)  # noqa: E731
    dn = ((lc, sh(rc)), (lb, sh(rb)))
    nd = get_aval(rhs).ndim
    free = _free(nd, dn[0][1], dn[1][1])
    l_free = get_aval(lhs).ndim - len(lc) - len(lb)
    out_d = len(lb) + l_free + free.index(rd)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), out_d


dot_general_p.batch = _dot_batch
def _sample_dot_general(rng, dtype):
    lhs, rhs, dn = [((2, 3), (3, 4), (((1,), (0,)), ((), ()))),           # matmul
                    ((2, 2, 3), (2, 3, 4), (((2,), (1,)), ((0,), (0,)))),  # batched matmul
                    ((3,), (3,), (((0,), (0,)), ((), ()))),               # inner product
                    ((2,), (3,), (((), ()), ((), ()))),                   # outer product
                    ((3, 2, 4), (4, 3), (((0, 2), (1, 0)), ((), ()))),    # two contractions
                    ((3, 2), (2, 3, 4), (((0,), (1,)), ((1,), (0,))))     # batch not leading
                    ][rng.integers(6)]
    return [rng.standard_normal(lhs).astype(dtype), rng.standard_normal(rhs).astype(dtype)], {
        "dimension_numbers": dn, "precision": None, "preferred_element_type": None}


dot_general_p.test_spec = {"sample": _sample_dot_general}
dot_general_p.lowering = {"kind": "dot"}


_DN = {}   # dimension_numbers as given -> normalized (tuples of Python ints)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """General tensor contraction (``jax.lax.dot_general``)."""
    try:
        dn = _DN.get(dimension_numbers)
    except TypeError:     # lists: not cached
        dn = None
    if dn is None:
        (lc, rc), (lb, rb) = dimension_numbers
        dn = ((tuple(int(i) for i in lc), tuple(int(i) for i in rc)),
              (tuple(int(i) for i in lb), tuple(int(i) for i in rb)))
        if type(dimension_numbers) is tuple:
            if len(_DN) >= 1024:
                _DN.clear()
            _DN[dimension_numbers] = dn
    pet = None if preferred_element_type is None else np.dtype(preferred_element_type)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, precision=None,
                              preferred_element_type=pet)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix product: contracts the last axis of lhs with the first of rhs."""
    la, ra = get_aval(lhs), get_aval(rhs)
    if la.ndim == 0 or ra.ndim == 0:
        from .elementwise import mul
        return mul(lhs, rhs)
    return dot_general(lhs, rhs, (((la.ndim - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)


__all__ = ["dot_general", "dot", "dot_general_p"]
