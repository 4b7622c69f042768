"""Indexing: ``x[idx]`` and ``x.at[idx].set/add/...``.

Basic indexing (ints, slices with steps, ``None``, ``...``) lowers to static
``slice``/``rev``/``reshape``; advanced indexing (integer arrays, concrete boolean masks)
lowers to ``gather``; ``.at`` updates lower to ``scatter``.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core.array import Array
from ..core.trace import Tracer, get_aval
from ._promote import asarray


def _is_basic(idx):
    return idx is None or idx is Ellipsis or isinstance(idx, (slice, int, np.integer)) and \
        not isinstance(idx, bool)


def _expand_ellipsis(idx, ndim):
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if sum(1 for i in idx if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but "
                         f"{n_real} were indexed")
    out = []
    for i in idx:
        if i is Ellipsis:
            out.extend([slice(None)] * (ndim - n_real))
        else:
            out.append(i)
    if Ellipsis not in idx:
        out.extend([slice(None)] * (ndim - n_real))
    return out


def basic_getitem(x, idx):
    """Static indexing with ints, slices, None and Ellipsis."""
    av = get_aval(x)
    idx = _expand_ellipsis(idx, av.ndim)
    starts, limits, strides, rev_dims, squeeze_dims, out_shape_new = [], [], [], [], [], []
    dim = 0
    final = []  # ('keep', d) or ('new',)
    for i in idx:
        if i is None:
            final.append(None)
            continue
        n = av.shape[dim]
        if isinstance(i, (int, np.integer)):
            j = int(i)
            if not -n <= j < n:
                raise IndexError(f"index {j} is out of bounds for axis {dim} with size {n}")
            j %= n
            starts.append(j)
            limits.append(j + 1)
            strides.append(1)
            squeeze_dims.append(dim)
        else:
            st, sp, step = i.indices(n)
            if step > 0:
                cnt = max(0, (sp - st + step - 1) // step)
                starts.append(st)
                limits.append(st + (cnt - 1) * step + 1 if cnt else st)
                strides.append(step)
            else:
                cnt = max(0, (st - sp + (-step) - 1) // (-step))
                last = st + (cnt - 1) * step if cnt else st
                # take [last, st] with stride -step, then reverse
                starts.append(last if cnt else 0)
                limits.append(st + 1 if cnt else 0)
                strides.append(-step)
                rev_dims.append(dim)
            final.append(dim)
        dim += 1
    r = lax.slice(x, starts, limits, strides)
    if rev_dims:
        r = lax.rev(r, rev_dims)
    if squeeze_dims:
        r = lax.squeeze(r, squeeze_dims)
    if any(f is None for f in final):
        pos = [i for i, f in enumerate(final) if f is None]
        r = lax.expand_dims(r, pos)
    return r


def getitem(x, idx):
    """``x[idx]``."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    if all(_is_basic(i) for i in idx):
        return basic_getitem(x, idx)
    from ._advanced import advanced_getitem
    return advanced_getitem(x, idx)


def _set_last(x, v):
    """``x`` with its last element along axis 0 replaced by ``v``."""
    n = get_aval(x).shape[0]
    head = lax.slice_in_dim(x, 0, n - 1, 1, 0)
    v = lax.convert_element_type(asarray(v), get_aval(x).dtype)
    v = lax.expand_dims(v, (0,))
    return lax.concatenate([head, v], 0)


def nonzero(a, size=None, fill_value=None):
    """Indices of nonzero elements; needs a concrete array (or ``size=`` under jit)."""
    if isinstance(a, Tracer) and size is None:
        raise TypeError("fnp.nonzero of a traced array has a data-dependent shape; pass "
                        "size=... (and fill_value) or use fnp.where(cond, x, y)")
    if size is not None:
        from ._advanced import nonzero_static
        return nonzero_static(a, size, fill_value)
    v = np.asarray(a)
    return tuple(Array(i.astype(np.int32)) for i in np.nonzero(v))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of the ``axis1``/``axis2`` planes, as the last axis."""
    from ._shape import moveaxis
    x = asarray(a)
    nd = get_aval(x).ndim
    x = moveaxis(x, (axis1 % nd, axis2 % nd), (-2, -1))
    sh = get_aval(x).shape
    n, m = sh[-2], sh[-1]
    if offset >= 0:
        k = max(0, min(n, m - offset))
        rows = np.arange(k)
        cols = rows + offset
    else:
        k = max(0, min(n + offset, m))
        cols = np.arange(k)
        rows = cols - offset
    flat = lax.reshape(x, sh[:-2] + (n * m,))
    from ._advanced import take
    return take(flat, Array((rows * m + cols).astype(np.int32)), axis=-1)
