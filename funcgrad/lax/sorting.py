"""Sorting primitives: ``sort`` (multi-operand, lexicographic keys) and ``top_k``.

``sort_p`` sorts every operand by the first ``num_keys`` operands, lexicographically,
along ``dimension``.  The kernel is always stable (``is_stable`` is accepted for
``jax.lax`` compatibility), and NaNs sort to the end, as in NumPy.

Differentiation follows the permutation: the tangent of every output is the tangent of
its operand, permuted exactly like the operand.  The JVP gets that permutation for free
by sorting the tangents *along with the primal keys* (``sort_p`` with the keys plus the
tangents as extra operands).  ``sort_p`` is therefore linear in its non-key operands,
and its transpose rule un-permutes cotangents by sorting them by the permutation
(itself obtained by sorting an iota with the keys).  No gather is needed anywhere.
"""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero, instantiate
from ..interpreters.batching import bdim_at_front, moveaxis as _moveaxis
from ._util import canonicalize_axis

# ----------------------------------------------------------------------------- sort

sort_p = Primitive("sort", multiple_results=True)


@sort_p.def_impl
def _sort_impl(*operands, dimension, is_stable=True, num_keys=1):
    ops = [np.asarray(o) if not hasattr(o, "ndim") else o for o in operands]
    keys = ops[:num_keys]
    if len(ops) == 1:
        return [np.sort(ops[0], axis=dimension, kind="stable")]
    perm = _lex_argsort(keys, dimension)
    return [np.take_along_axis(o, perm, axis=dimension) for o in ops]


def _lex_argsort(keys, axis):
    """Stable argsort by ``keys[0]``, ties broken by ``keys[1]``, ... (NaNs last)."""
    if len(keys) == 1:
        return np.argsort(keys[0], axis=axis, kind="stable")
    if all(isinstance(k, np.ndarray) for k in keys):
        return np.lexsort(tuple(reversed(keys)), axis=axis)   # the last key is primary
    return _lex_argsort_portable(keys, axis)


def _lex_argsort_portable(keys, axis):
    """``_lex_argsort`` with argsort/take_along_axis only (works on cupy arrays too):
    stable sorts from the least significant key up."""
    perm = np.argsort(keys[-1], axis=axis, kind="stable")
    for k in reversed(keys[:-1]):
        kk = np.take_along_axis(k, perm, axis=axis)
        perm = np.take_along_axis(perm, np.argsort(kk, axis=axis, kind="stable"), axis=axis)
    return perm


@sort_p.def_abstract_eval
def _sort_abstract(*operands, dimension, is_stable=True, num_keys=1):
    if not operands:
        raise TypeError("sort needs at least one operand")
    shape = operands[0].shape
    for o in operands[1:]:
        if o.shape != shape:
            raise TypeError(f"sort: all operands must have the same shape, got "
                            f"{[tuple(o.shape) for o in operands]}. Broadcast them first.")
    if len(shape) == 0:
        raise TypeError("sort: operands must have rank >= 1, got a scalar (shape ()). "
                        "Reshape it to (1,) first.")
    if not 0 <= dimension < len(shape):
        raise TypeError(f"sort: dimension {dimension} is out of range for shape {shape}")
    if not 1 <= num_keys <= len(operands):
        raise TypeError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                        f"operands ({len(operands)})")
    for o in operands[:num_keys]:
        if o.dtype.kind not in "biufc":
            raise TypeError(f"sort: cannot sort keys of dtype {o.dtype}")
    return [ShapedArray(o.shape, o.dtype, o.weak_type) for o in operands]


def _sort_jvp(primals, tangents, *, dimension, is_stable=True, num_keys=1):
    outs = sort_p.bind(*primals, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    live = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    t_out = [Zero.from_value(o) for o in outs]
    if live:
        # permute the tangents exactly like the primals: sort them along with the keys
        moved = sort_p.bind(*primals[:num_keys], *[tangents[i] for i in live],
                            dimension=dimension, is_stable=is_stable, num_keys=num_keys)
        for i, t in zip(live, moved[num_keys:]):
            t_out[i] = t
    return outs, t_out


def _permutation(keys, dimension, num_keys):
    """``perm`` such that ``sorted[..., i, ...] = operand[..., perm[i], ...]``."""
    from .structural import broadcasted_iota
    shape = get_aval(keys[0]).shape
    iota = broadcasted_iota(np.int32, shape, dimension)
    return sort_p.bind(*keys, iota, dimension=dimension, is_stable=True,
                       num_keys=num_keys)[-1]


def _sort_transpose(cts, *operands, dimension, is_stable=True, num_keys=1):
    keys = operands[:num_keys]
    if any(ad.is_undefined_primal(k) for k in keys):
        raise TypeError("sort: the sort keys cannot depend linearly on the differentiated "
                        "input here; sort is only linear in its non-key operands")
    res = [None] * len(operands)
    want = [i for i in range(num_keys, len(operands))
            if ad.is_undefined_primal(operands[i]) and type(cts[i]) is not Zero]
    if not want:
        return res
    perm = _permutation(keys, dimension, num_keys)
    # sorting by the permutation puts ct[i] back at position perm[i]
    back = sort_p.bind(perm, *[instantiate(cts[i]) for i in want], dimension=dimension,
                       is_stable=True, num_keys=1)
    for i, b in zip(want, back[1:]):
        res[i] = b
    return res


def _sort_batch(args, dims, *, dimension, is_stable=True, num_keys=1):
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
    args = [bdim_at_front(a, d, size) for a, d in zip(args, dims)]
    outs = sort_p.bind(*args, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


def _sort_sample(rng, dtype):
    # distinct keys, so finite differences never cross a tie
    keys = rng.permutation(15).reshape(3, 5).astype(dtype) + rng.uniform(0, 0.3, (3, 5))
    vals = rng.normal(size=(3, 5))
    return [keys.astype(dtype), vals.astype(dtype)], {"dimension": 1, "is_stable": True,
                                                      "num_keys": 1}


sort_p.jvp = _sort_jvp
# linear in the non-key operands (keys fixed); not flagged ``linear`` because the sorted
# keys it also returns are not (tests/test_sorting.py checks this transpose)
sort_p.transpose = _sort_transpose
sort_p.batch = _sort_batch
sort_p.test_spec = {"sample": _sort_sample}


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort ``operand`` (or a tuple of operands, by the first ``num_keys``) along ``dimension``.

    NaNs sort to the end. With a tuple, every operand is permuted like the keys.

    >>> lax.sort(fnp.array([3., 1., 2.]))
    Array([1., 2., 3.], dtype=float32)
    >>> lax.sort((fnp.array([2, 1]), fnp.array([10., 20.])), num_keys=1)[1]
    Array([20., 10.], dtype=float32)
    """
    single = not isinstance(operand, (tuple, list))
    ops = [operand] if single else list(operand)
    if not ops:
        raise TypeError("lax.sort: needs at least one operand")
    nd = get_aval(ops[0]).ndim
    if nd == 0:
        raise TypeError("lax.sort: operand must have rank >= 1, got a scalar (shape ())")
    dim = canonicalize_axis(dimension, nd, "dimension")
    params = dict(dimension=dim, is_stable=bool(is_stable), num_keys=int(num_keys))
    _sort_abstract(*[get_aval(o) for o in ops], **params)    # clear errors, also eagerly
    outs = sort_p.bind(*ops, **params)
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """Sort ``keys`` along ``dimension`` and permute ``values`` the same way.

    >>> k, v = lax.sort_key_val(fnp.array([2., 1.]), fnp.array([0, 1]))
    >>> v
    Array([1, 0], dtype=int32)
    """
    k, v = sort((keys, values), dimension, is_stable, num_keys=1)
    return k, v


def argsort(operand, dimension=-1, is_stable=True, index_dtype=np.int32):
    """Indices that sort ``operand`` along ``dimension`` (stable; NaNs last).

    >>> lax.argsort(fnp.array([3., 1., 2.]))
    Array([1, 2, 0], dtype=int32)
    """
    from .structural import broadcasted_iota
    aval = get_aval(operand)
    if aval.ndim == 0:
        raise TypeError("lax.argsort: operand must have rank >= 1, got a scalar")
    dim = canonicalize_axis(dimension, aval.ndim, "dimension")
    iota = broadcasted_iota(np.dtype(index_dtype), aval.shape, dim)
    return sort_p.bind(operand, iota, dimension=dim, is_stable=bool(is_stable), num_keys=1)[1]


# ----------------------------------------------------------------------------- top_k

top_k_p = Primitive("top_k", multiple_results=True)


def _descending_order(x):
    """Stable argsort for descending order along the last axis; NaNs count as largest."""
    k = x.dtype.kind
    if k == "f":
        return _lex_argsort([~np.isnan(x), -x], -1)
    if k in "iub":
        return np.argsort(np.invert(x), axis=-1, kind="stable")
    return np.argsort(-x, axis=-1, kind="stable")


@top_k_p.def_impl
def _top_k_impl(x, *, k):
    x = np.asarray(x) if not hasattr(x, "ndim") else x
    idx = _descending_order(x)[..., :k]
    return [np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)]


@top_k_p.def_abstract_eval
def _top_k_abstract(x, *, k):
    if x.ndim == 0:
        raise TypeError("top_k: operand must have rank >= 1, got a scalar")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"top_k: operand dtype {x.dtype} is not a real numeric type")
    if not 0 <= k <= x.shape[-1]:
        raise TypeError(f"top_k: k={k} must be between 0 and the size of the last axis "
                        f"({x.shape[-1]}) of the operand of shape {x.shape}")
    shape = x.shape[:-1] + (k,)
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, np.int32, False)]


def take_along_last(x, idx):
    """``x[..., idx[..., j]]`` along the last axis, differentiable in ``x``.

    Uses ``lax.indexing.take_along_axis`` when it exists; otherwise a one-hot selection
    (``O(k * n)`` work per row; exact, inf/NaN-safe since it selects, not multiplies).
    """
    try:
        from .indexing import take_along_axis
    except ImportError:
        take_along_axis = None
    if take_along_axis is not None and not _FORCE_ONE_HOT[0]:
        return take_along_axis(x, idx, get_aval(x).ndim - 1)
    return _one_hot_take(x, idx)


_FORCE_ONE_HOT = [False]   # tests flip this to exercise the fallback


def _one_hot_take(x, idx):
    from .elementwise import convert_element_type, eq, select_n
    from .reductions import reduce_sum
    from .structural import broadcast_in_dim, broadcasted_iota, full
    xa, ia = get_aval(x), get_aval(idx)
    lead, n, k = xa.shape[:-1], xa.shape[-1], ia.shape[-1]
    nd = len(lead)
    shape3 = lead + (k, n)
    ib = broadcast_in_dim(convert_element_type(idx, np.int32), shape3, tuple(range(nd + 1)))
    hit = eq(ib, broadcasted_iota(np.int32, shape3, nd + 1))
    xb = broadcast_in_dim(x, shape3, tuple(range(nd)) + (nd + 1,))
    return reduce_sum(select_n(hit, full(shape3, 0, xa.dtype), xb), (nd + 1,))


def _top_k_jvp(primals, tangents, *, k):
    (x,), (t,) = primals, tangents
    vals, idx = top_k_p.bind(x, k=k)
    if type(t) is Zero:
        return [vals, idx], [Zero.from_value(vals), Zero.from_value(idx)]
    return [vals, idx], [take_along_last(t, idx), Zero.from_value(idx)]


def _top_k_batch(args, dims, *, k):
    (x,), (d,) = args, dims
    nd = get_aval(x).ndim
    if d == nd - 1:
        x, d = _moveaxis(x, d, 0), 0
    outs = top_k_p.bind(x, k=k)
    return outs, [d, d]


def _top_k_sample(rng, dtype):
    x = rng.permutation(18).reshape(3, 6) + rng.uniform(0, 0.3, (3, 6))
    return [x.astype(dtype)], {"k": 3}


top_k_p.jvp = _top_k_jvp
top_k_p.batch = _top_k_batch
top_k_p.test_spec = {"sample": _top_k_sample}


def top_k(operand, k):
    """The ``k`` largest entries along the last axis, in descending order, and their
    int32 indices (ties: the lower index first; NaNs count as largest).

    >>> vals, idx = lax.top_k(fnp.array([1., 5., 3.]), 2)
    >>> vals, idx
    (Array([5., 3.], dtype=float32), Array([1, 2], dtype=int32))
    """
    try:
        k = int(k)
    except TypeError:
        raise TypeError("lax.top_k: k must be a static Python int (it decides the output "
                        "shape); mark it static with static_argnums") from None
    _top_k_abstract(get_aval(operand), k=k)                   # clear errors, also eagerly
    vals, idx = top_k_p.bind(operand, k=k)
    return vals, idx


__all__ = ["sort", "sort_key_val", "argsort", "top_k", "sort_p", "top_k_p"]
