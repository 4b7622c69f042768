"""Indexing primitives: ``gather``, the ``scatter`` family, ``dynamic_slice`` and
``dynamic_update_slice``, with their rules next to each definition.

Semantics follow XLA/JAX (``jax.lax.gather`` / ``jax.lax.scatter``):

* ``start_indices`` has shape ``batch_shape + (K,)``: the last axis is the index vector,
  whose component ``k`` is a start position along operand dim ``start_index_map[k]``.
* A *window* (slice) of ``slice_sizes`` is taken (gather) or written (scatter) at each
  start.  ``collapsed_slice_dims`` / ``inserted_window_dims`` are size-1 window dims that
  do not appear in the result / updates.  ``operand_batching_dims`` pair an operand dim
  with a batch dim of the indices (``start_indices_batching_dims``): batch element ``b``
  reads/writes only at position ``b`` of that operand dim (this is what ``vmap`` uses).
* Out-of-bound starts: ``mode="clip"`` clamps each start so the whole window fits (the
  default for ``gather``, as numpy-style indexing in JAX); ``mode="fill"`` (gather) fills
  a window that does not fit with ``fill_value`` and ``mode="drop"`` (the default for
  scatters) skips an update window that does not fit.  Negative indices are *not*
  wrapped here: ``funcgrad.numpy`` indexing wraps them first.

Derivatives: ``gather`` is linear in the operand (transpose: ``scatter_add``);
``scatter_add`` is linear in operand and updates (transpose: the cotangent itself and a
``gather`` of it); ``scatter`` (replace) is linear in (operand, updates) and its transpose
is exact even for repeated indices (the update that won a position gets its cotangent,
the others get zero); ``scatter_mul`` differentiates through products (zero-safe);
``scatter_min``/``scatter_max`` send the tangent to the winning value, split evenly on
ties (the library's max/min convention).  Index operands are not differentiable.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.backend import cupy_module
from ..core.primitive import Primitive
from ..core.trace import Tracer, get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero, add_tangents
from ..interpreters.batching import axis_size_of, bdim_at_front, moveaxis as _bmoveaxis
from ._util import canonicalize_axis

# ----------------------------------------------------------------------------- dimension numbers


class GatherDimensionNumbers(NamedTuple):
    """How ``gather`` maps indices and windows (as ``jax.lax.GatherDimensionNumbers``).

    >>> dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
    ...                             start_index_map=(0,))
    """
    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    """How ``scatter*`` maps indices and update windows (as ``jax.lax.ScatterDimensionNumbers``).

    >>> dn = ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    """
    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


def _tup(x):
    return tuple(int(i) for i in x)


def _canon_gdn(dn) -> GatherDimensionNumbers:
    if isinstance(dn, dict):
        dn = GatherDimensionNumbers(**dn)
    return GatherDimensionNumbers(*(_tup(f) for f in dn))


def _canon_sdn(dn) -> ScatterDimensionNumbers:
    if isinstance(dn, dict):
        dn = ScatterDimensionNumbers(**dn)
    return ScatterDimensionNumbers(*(_tup(f) for f in dn))


def _canon_mode(mode, for_scatter):
    """``"clip"``, or ``"fill"`` (gather) / ``"drop"`` (scatter)."""
    if mode is None:
        return "drop" if for_scatter else "clip"
    m = getattr(mode, "name", mode)
    m = str(m).lower()
    if m in ("clip", "promise_in_bounds"):
        return "clip"
    if m in ("fill", "drop", "fill_or_drop"):
        return "drop" if for_scatter else "fill"
    raise ValueError(f"{'scatter' if for_scatter else 'gather'}: unknown mode {mode!r}; use "
                     "'clip', 'fill' (gather) or 'drop' (scatter)")


def _static_fill(fill_value, name):
    if fill_value is None:
        return None
    if isinstance(fill_value, Tracer):
        raise TypeError(f"{name}: fill_value must be a static Python scalar, not a traced "
                        "value; use fnp.where on the result instead")
    v = np.asarray(fill_value)
    if v.ndim:
        raise TypeError(f"{name}: fill_value must be a scalar, got shape {v.shape}")
    return v.item()


def _default_fill(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    return True


# ----------------------------------------------------------------------------- numpy kernels

def _xp(*xs):
    for x in xs:
        if type(x).__module__.startswith("cupy"):
            return cupy_module()
    return np


def _window_key(xp, op_shape, idx, index_map, op_bdims, idx_bdims, sizes, mode):
    """A NumPy advanced index addressing every window.

    ``idx`` has shape ``B + (K,)``.  Returns ``(perm, key, valid)`` such that
    ``operand.transpose(perm)[key]`` has shape ``(prod(B),) + sizes[perm]``; ``valid``
    (``None`` in clip mode) marks the windows that lie fully inside the operand.
    """
    batch = idx.shape[:-1]
    nb = int(np.prod(batch, dtype=np.int64))
    flat = idx.reshape(nb, idx.shape[-1]).astype(np.int64)
    starts = {}
    valid = None
    for k, d in enumerate(index_map):
        s = flat[:, k]
        hi = op_shape[d] - sizes[d]
        if mode == "clip":
            s = xp.clip(s, 0, hi)
        else:
            ok = (s >= 0) & (s <= hi)
            valid = ok if valid is None else valid & ok
            s = xp.where(ok, s, 0)
        starts[d] = s
    if op_bdims:
        pos = xp.arange(nb)
        strides = np.cumprod((1,) + tuple(batch[::-1]))[::-1][1:]
        for od, ib in zip(op_bdims, idx_bdims):
            starts[od] = (pos // int(strides[ib])) % batch[ib]
    if not starts:
        starts[0] = xp.zeros(nb, np.int64)
    ind = sorted(starts)
    rest = [d for d in range(len(op_shape)) if d not in starts]
    n_ind = len(ind)
    key = []
    for j, d in enumerate(ind):
        a = starts[d].reshape((nb,) + (1,) * n_ind)
        if sizes[d] != 1:
            sh = [1] * (n_ind + 1)
            sh[j + 1] = sizes[d]
            a = a + xp.arange(sizes[d]).reshape(sh)
        key.append(a)
    key.extend(slice(0, sizes[d]) for d in rest)
    return ind + rest, tuple(key), valid


def _gather_impl(operand, start_indices, *, dimension_numbers, slice_sizes,
                 indices_are_sorted=False, unique_indices=False, mode="clip", fill_value=None):
    xp = _xp(operand, start_indices)
    operand = xp.asarray(operand)
    idx = xp.asarray(start_indices)
    dn = dimension_numbers
    batch = idx.shape[:-1]
    if operand.ndim == 0:
        return xp.array(xp.broadcast_to(operand, batch))
    nd = operand.ndim
    perm, key, valid = _window_key(xp, operand.shape, idx, dn.start_index_map,
                                   dn.operand_batching_dims, dn.start_indices_batching_dims,
                                   slice_sizes, mode)
    res = xp.transpose(operand, perm)[key]                       # (nb,) + sizes[perm]
    if valid is not None:
        fv = _default_fill(operand.dtype) if fill_value is None else fill_value
        res = xp.where(valid.reshape((-1,) + (1,) * nd), res,
                       xp.asarray(fv).astype(operand.dtype))
    inv = [0] + [1 + perm.index(d) for d in range(nd)]
    res = xp.transpose(res, inv)                                  # (nb,) + sizes
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    offs = tuple(slice_sizes[d] for d in range(nd) if d not in drop)
    res = res.reshape(batch + offs)
    return xp.transpose(res, _out_perm(len(batch), dn.offset_dims))


def _out_perm(n_batch, offset_dims):
    """Permutation taking ``batch + offsets`` to the interleaved gather layout."""
    rank = n_batch + len(offset_dims)
    perm, b = [], 0
    for p in range(rank):
        if p in offset_dims:
            perm.append(n_batch + offset_dims.index(p))
        else:
            perm.append(b)
            b += 1
    return perm


def _ufunc_at(xp, name, a, key, vals):
    """``np.<name>.at(a, key, vals)``, with fallbacks for cupy."""
    uf = getattr(xp, name)
    try:
        uf.at(a, key, vals)
        return a
    except (AttributeError, NotImplementedError, TypeError):
        if xp is np:
            raise
    import cupyx  # pragma: no cover - GPU only
    fn = {"add": "scatter_add", "maximum": "scatter_max", "minimum": "scatter_min"}.get(name)
    if fn is not None:  # pragma: no cover
        getattr(cupyx, fn)(a, key, vals)
        return a
    host = a.get()  # pragma: no cover
    getattr(np, name).at(host, tuple(k.get() if hasattr(k, "get") else k for k in key),
                         vals.get())
    a[...] = xp.asarray(host)
    return a


def _scatter_kernel(kind):
    def impl(operand, scatter_indices, updates, *, dimension_numbers,
             indices_are_sorted=False, unique_indices=False, mode="drop"):
        xp = _xp(operand, scatter_indices, updates)
        operand = xp.asarray(operand)
        idx = xp.asarray(scatter_indices)
        upd = xp.asarray(updates).astype(operand.dtype, copy=False)
        dn = dimension_numbers
        shape0 = operand.shape
        sizes = _window_sizes(operand.ndim, dn, upd.shape)
        out = xp.array(operand, copy=True)
        if out.ndim == 0:
            out = out.reshape(1)
            sizes = (1,)
        batch = idx.shape[:-1]
        nb = int(np.prod(batch, dtype=np.int64))
        uw = dn.update_window_dims
        sd = [p for p in range(upd.ndim) if p not in uw]
        u = xp.transpose(upd, sd + list(uw)).reshape((nb,) + tuple(sizes))
        perm, key, valid = _window_key(xp, out.shape, idx, dn.scatter_dims_to_operand_dims,
                                       dn.operand_batching_dims,
                                       dn.scatter_indices_batching_dims, sizes, mode)
        u = xp.transpose(u, [0] + [1 + d for d in perm])
        if valid is not None:
            u = u[valid]
            key = tuple(k[valid] if not isinstance(k, slice) else k for k in key)
        view = xp.transpose(out, perm)
        if kind == "set":
            view[key] = u
        else:
            _ufunc_at(xp, kind, view, key, u)
        return out.reshape(shape0)
    return impl


def _window_sizes(op_ndim, dn, upd_shape):
    """Window size per operand dim of a scatter (1 for inserted and batching dims)."""
    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes, j = [], 0
    for d in range(op_ndim):
        if d in skip:
            sizes.append(1)
        else:
            sizes.append(upd_shape[dn.update_window_dims[j]] if j < len(
                dn.update_window_dims) else 1)
            j += 1
    return tuple(sizes)


# ----------------------------------------------------------------------------- shape checks

def _check_dims(name, what, dims, bound):
    if len(set(dims)) != len(dims) or any(not 0 <= d < bound for d in dims):
        raise TypeError(f"{name}: {what} {dims} must be distinct dims in [0, {bound})")


def _check_indices(name, idx, operand):
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must have an integer dtype, got {idx.dtype.name}; "
                        "convert them with .astype(int32)")
    if idx.ndim < 1:
        raise TypeError(f"{name}: indices must have rank >= 1 (the last axis is the index "
                        f"vector), got shape {idx.shape}")


def _check_batching(name, operand, idx, op_bdims, idx_bdims, what):
    if len(op_bdims) != len(idx_bdims):
        raise TypeError(f"{name}: operand_batching_dims {op_bdims} and {what} {idx_bdims} "
                        "must have the same length")
    _check_dims(name, what, idx_bdims, idx.ndim - 1)
    for od, ib in zip(op_bdims, idx_bdims):
        if operand.shape[od] != idx.shape[ib]:
            raise TypeError(f"{name}: operand batching dim {od} (size {operand.shape[od]}) "
                            f"and index batching dim {ib} (size {idx.shape[ib]}) differ; "
                            f"operand shape {operand.shape}, indices shape {idx.shape}")


def _gather_abstract(operand, start_indices, *, dimension_numbers, slice_sizes,
                     indices_are_sorted=False, unique_indices=False, mode="clip",
                     fill_value=None):
    name = "gather"
    dn = dimension_numbers
    idx = start_indices
    _check_indices(name, idx, operand)
    nd = operand.ndim
    if len(slice_sizes) != nd:
        raise TypeError(f"{name}: slice_sizes {slice_sizes} needs one entry per operand "
                        f"dimension (operand shape {operand.shape})")
    for d, (s, n) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= s <= n:
            raise TypeError(f"{name}: slice size {s} along dim {d} does not fit operand "
                            f"shape {operand.shape}")
    if idx.shape[-1] != len(dn.start_index_map):
        raise TypeError(f"{name}: the index vector (last axis of indices, shape {idx.shape}) "
                        f"must have length len(start_index_map)={len(dn.start_index_map)}")
    _check_dims(name, "start_index_map", dn.start_index_map, nd)
    _check_dims(name, "collapsed_slice_dims", dn.collapsed_slice_dims, nd)
    _check_dims(name, "operand_batching_dims", dn.operand_batching_dims, nd)
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise TypeError(f"{name}: collapsed_slice_dims {dn.collapsed_slice_dims} and "
                        f"operand_batching_dims {dn.operand_batching_dims} overlap")
    if set(dn.start_index_map) & set(dn.operand_batching_dims):
        raise TypeError(f"{name}: start_index_map {dn.start_index_map} and "
                        f"operand_batching_dims {dn.operand_batching_dims} overlap")
    for d in dn.collapsed_slice_dims + dn.operand_batching_dims:
        if slice_sizes[d] != 1:
            raise TypeError(f"{name}: collapsed/batching dim {d} must have slice size 1, got "
                            f"slice_sizes {slice_sizes}")
    _check_batching(name, operand, idx, dn.operand_batching_dims,
                    dn.start_indices_batching_dims, "start_indices_batching_dims")
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    offs = [slice_sizes[d] for d in range(nd) if d not in drop]
    if len(offs) != len(dn.offset_dims):
        raise TypeError(f"{name}: offset_dims {dn.offset_dims} must have one entry per "
                        f"non-collapsed operand dim ({len(offs)})")
    batch = idx.shape[:-1]
    rank = len(batch) + len(offs)
    if list(dn.offset_dims) != sorted(set(dn.offset_dims)) or any(
            not 0 <= d < rank for d in dn.offset_dims):
        raise TypeError(f"{name}: offset_dims {dn.offset_dims} must be sorted, distinct and "
                        f"within the output rank {rank}")
    shape, b, j = [], 0, 0
    for p in range(rank):
        if p in dn.offset_dims:
            shape.append(offs[j])
            j += 1
        else:
            shape.append(batch[b])
            b += 1
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _scatter_abstract(name):
    def rule(operand, scatter_indices, updates, *, dimension_numbers,
             indices_are_sorted=False, unique_indices=False, mode="drop"):
        dn = dimension_numbers
        idx = scatter_indices
        _check_indices(name, idx, operand)
        nd = operand.ndim
        if updates.dtype != operand.dtype:
            raise TypeError(f"{name}: updates dtype {updates.dtype.name} differs from "
                            f"operand dtype {operand.dtype.name}; convert the updates first")
        if idx.shape[-1] != len(dn.scatter_dims_to_operand_dims):
            raise TypeError(f"{name}: the index vector (last axis of indices, shape "
                            f"{idx.shape}) must have length "
                            f"len(scatter_dims_to_operand_dims)="
                            f"{len(dn.scatter_dims_to_operand_dims)}")
        _check_dims(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims, nd)
        _check_dims(name, "inserted_window_dims", dn.inserted_window_dims, nd)
        _check_dims(name, "operand_batching_dims", dn.operand_batching_dims, nd)
        _check_dims(name, "update_window_dims", dn.update_window_dims, updates.ndim)
        if list(dn.update_window_dims) != sorted(dn.update_window_dims):
            raise TypeError(f"{name}: update_window_dims {dn.update_window_dims} must be "
                            "sorted")
        if set(dn.inserted_window_dims) & set(dn.operand_batching_dims):
            raise TypeError(f"{name}: inserted_window_dims and operand_batching_dims overlap")
        _check_batching(name, operand, idx, dn.operand_batching_dims,
                        dn.scatter_indices_batching_dims, "scatter_indices_batching_dims")
        n_win = nd - len(dn.inserted_window_dims) - len(dn.operand_batching_dims)
        batch = idx.shape[:-1]
        if len(dn.update_window_dims) != n_win or updates.ndim != n_win + len(batch):
            raise TypeError(
                f"{name}: updates of shape {updates.shape} do not match: expected "
                f"{n_win} window dims (update_window_dims={dn.update_window_dims}) plus the "
                f"{len(batch)} scatter dims of indices shape {idx.shape}")
        sd = [p for p in range(updates.ndim) if p not in dn.update_window_dims]
        if tuple(updates.shape[p] for p in sd) != batch:
            raise TypeError(f"{name}: the scatter dims of updates (shape {updates.shape}) must "
                            f"equal the batch shape {batch} of indices {idx.shape}")
        sizes = _window_sizes(nd, dn, updates.shape)
        for d, (s, n) in enumerate(zip(sizes, operand.shape)):
            if s > n:
                raise TypeError(f"{name}: update window size {s} along operand dim {d} "
                                f"exceeds operand shape {operand.shape}")
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)
    return rule


# ----------------------------------------------------------------------------- gather

gather_p = Primitive("gather")
gather_p.impl = _gather_impl
gather_p.abstract_eval = _gather_abstract


def _gather_jvp(primals, tangents, **params):
    op, idx = primals
    t = tangents[0]
    out = gather_p.bind(op, idx, **params)
    if type(t) is Zero:
        return out, Zero.from_value(out)
    p = dict(params)
    if p["mode"] == "fill":
        p["fill_value"] = 0
    return out, gather_p.bind(t, idx, **p)


def _gather_transpose(ct, operand, start_indices, *, dimension_numbers, slice_sizes,
                      indices_are_sorted=False, unique_indices=False, mode="clip",
                      fill_value=None):
    if type(ct) is Zero or not ad.is_undefined_primal(operand):
        return [None, None]
    from .structural import full
    aval = operand.aval
    dn = dimension_numbers
    sdn = ScatterDimensionNumbers(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
                                  dn.operand_batching_dims, dn.start_indices_batching_dims)
    zeros = full(aval.shape, 0, aval.dtype)
    res = scatter_add_p.bind(zeros, start_indices, ct, dimension_numbers=sdn,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices,
                             mode="clip" if mode == "clip" else "drop")
    return [res, None]


def _shift(dims, k=1):
    return tuple(d + k for d in dims)


def _gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
    op, idx = args
    dop, didx = dims
    dn = dimension_numbers
    size = axis_size_of(args, dims)
    if didx is None:
        op = _bmoveaxis(op, dop, 0)
        dn2 = GatherDimensionNumbers((0,) + _shift(dn.offset_dims),
                                     _shift(dn.collapsed_slice_dims),
                                     _shift(dn.start_index_map),
                                     _shift(dn.operand_batching_dims),
                                     dn.start_indices_batching_dims)
        sizes = (size,) + tuple(slice_sizes)
    elif dop is None:
        idx = _bmoveaxis(idx, didx, 0)
        dn2 = GatherDimensionNumbers(_shift(dn.offset_dims), dn.collapsed_slice_dims,
                                     dn.start_index_map, dn.operand_batching_dims,
                                     _shift(dn.start_indices_batching_dims))
        sizes = tuple(slice_sizes)
    else:
        op = _bmoveaxis(op, dop, 0)
        idx = _bmoveaxis(idx, didx, 0)
        dn2 = GatherDimensionNumbers(_shift(dn.offset_dims), _shift(dn.collapsed_slice_dims),
                                     _shift(dn.start_index_map),
                                     (0,) + _shift(dn.operand_batching_dims),
                                     (0,) + _shift(dn.start_indices_batching_dims))
        sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(op, idx, dimension_numbers=dn2, slice_sizes=sizes, **params), 0


def _gather_sample(rng, dtype):
    op = rng.standard_normal((5, 4, 3)).astype(dtype)
    idx = rng.integers(0, 4, size=(2, 3, 2)).astype(np.int32)
    dn = GatherDimensionNumbers(offset_dims=(2, 3), collapsed_slice_dims=(1,),
                                start_index_map=(0, 1))
    return [op, idx], dict(dimension_numbers=dn, slice_sizes=(2, 1, 3),
                           indices_are_sorted=False, unique_indices=False, mode="clip",
                           fill_value=None)


gather_p.jvp = _gather_jvp
gather_p.transpose = _gather_transpose
gather_p.linear = True
gather_p.batch = _gather_batch
gather_p.test_spec = {"sample": _gather_sample, "nondiff_args": (1,)}


def _bind(prim, *args, **params):
    """Bind, checking shapes first when running eagerly (the trace checks them otherwise)."""
    if not any(isinstance(a, Tracer) for a in args):
        prim.abstract_eval(*[get_aval(a) for a in args], **params)
    return prim.bind(*args, **params)


def _index_operand(x, name):
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        x = np.asarray(x, np.int32)
    if get_aval(x).dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {get_aval(x).dtype}")
    return x


def gather(operand, start_indices, dimension_numbers, slice_sizes, *,
           indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
    """Gather windows of ``operand`` at ``start_indices`` (``jax.lax.gather``).

    >>> x = fnp.arange(12.).reshape(4, 3)
    >>> dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
    ...                             start_index_map=(0,))
    >>> gather(x, fnp.array([[2], [0]]), dn, (1, 3))      # rows 2 and 0
    Array([[6., 7., 8.],
           [0., 1., 2.]], dtype=float32)

    ``mode="clip"`` (default) clamps starts so the window fits; ``mode="fill"`` returns
    ``fill_value`` (NaN for floats by default) for windows that do not fit.
    """
    idx = _index_operand(start_indices, "gather")
    return _bind(gather_p, operand, idx, dimension_numbers=_canon_gdn(dimension_numbers),
                         slice_sizes=_tup(slice_sizes),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices),
                         mode=_canon_mode(mode, False),
                         fill_value=_static_fill(fill_value, "gather"))


# ----------------------------------------------------------------------------- scatter family

def _scatter_prim(name, kind):
    p = Primitive(name)
    p.impl = _scatter_kernel(kind)
    p.abstract_eval = _scatter_abstract(name)
    return p


scatter_p = _scatter_prim("scatter", "set")
scatter_add_p = _scatter_prim("scatter_add", "add")
scatter_mul_p = _scatter_prim("scatter_mul", "multiply")
scatter_min_p = _scatter_prim("scatter_min", "minimum")
scatter_max_p = _scatter_prim("scatter_max", "maximum")


def _gather_windows(x, idx, dn, upd_shape, mode, indices_are_sorted=False,
                    unique_indices=False, fill_value=0):
    """Read back, from operand-shaped ``x``, the windows a scatter with ``dn`` writes:
    the result has the shape of the updates."""
    nd = get_aval(x).ndim
    sizes = _window_sizes(nd, dn, upd_shape)
    gdn = GatherDimensionNumbers(dn.update_window_dims, dn.inserted_window_dims,
                                 dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
                                 dn.scatter_indices_batching_dims)
    return gather_p.bind(x, idx, dimension_numbers=gdn, slice_sizes=sizes,
                         indices_are_sorted=indices_are_sorted,
                         unique_indices=unique_indices,
                         mode="clip" if mode == "clip" else "fill", fill_value=fill_value)


def _zeros(aval, dtype=None):
    from .structural import full
    return full(aval.shape, 0, aval.dtype if dtype is None else dtype)


def _scatter_batch(prim):
    def rule(args, dims, *, dimension_numbers, **params):
        op, idx, upd = args
        dop, didx, dupd = dims
        dn = dimension_numbers
        size = axis_size_of(args, dims)
        op = bdim_at_front(op, dop, size)
        upd = bdim_at_front(upd, dupd, size)
        if didx is None:
            dn2 = ScatterDimensionNumbers((0,) + _shift(dn.update_window_dims),
                                          _shift(dn.inserted_window_dims),
                                          _shift(dn.scatter_dims_to_operand_dims),
                                          _shift(dn.operand_batching_dims),
                                          dn.scatter_indices_batching_dims)
        else:
            idx = _bmoveaxis(idx, didx, 0)
            dn2 = ScatterDimensionNumbers(_shift(dn.update_window_dims),
                                          _shift(dn.inserted_window_dims),
                                          _shift(dn.scatter_dims_to_operand_dims),
                                          (0,) + _shift(dn.operand_batching_dims),
                                          (0,) + _shift(dn.scatter_indices_batching_dims))
        return prim.bind(op, idx, upd, dimension_numbers=dn2, **params), 0
    return rule


for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _p.batch = _scatter_batch(_p)


# scatter_add: linear in operand and updates

def _scatter_add_jvp(primals, tangents, **params):
    op, idx, upd = primals
    top, _, tupd = tangents
    out = scatter_add_p.bind(op, idx, upd, **params)
    if type(top) is Zero and type(tupd) is Zero:
        return out, Zero.from_value(out)
    if type(tupd) is Zero:
        return out, top
    top = ad.instantiate(top)
    return out, scatter_add_p.bind(top, idx, tupd, **params)


def _scatter_add_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted=False, unique_indices=False, mode="drop"):
    if type(ct) is Zero:
        return [None, None, None]
    ct_op = ct if ad.is_undefined_primal(operand) else None
    ct_upd = None
    if ad.is_undefined_primal(updates):
        ct_upd = _gather_windows(ct, indices, dimension_numbers, updates.aval.shape, mode,
                                 indices_are_sorted, unique_indices)
    return [ct_op, None, ct_upd]


scatter_add_p.jvp = _scatter_add_jvp
scatter_add_p.transpose = _scatter_add_transpose
scatter_add_p.linear = True


# scatter (replace): linear in (operand, updates) jointly

def _scatter_jvp(primals, tangents, **params):
    op, idx, upd = primals
    top, _, tupd = tangents
    out = scatter_p.bind(op, idx, upd, **params)
    if type(top) is Zero and type(tupd) is Zero:
        return out, Zero.from_value(out)
    return out, scatter_p.bind(ad.instantiate(top), idx, ad.instantiate(tupd), **params)


def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers,
                       indices_are_sorted=False, unique_indices=False, mode="drop"):
    """Operand: ct with the written positions zeroed.  Updates: the cotangent at the
    position each update was written to, or zero for an update that lost to a later
    update at the same position (found by scattering update ids)."""
    if type(ct) is Zero:
        return [None, None, None]
    dn = dimension_numbers
    params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    upd_aval = updates.aval if ad.is_undefined_primal(updates) else get_aval(updates)
    ct_op = ct_upd = None
    if ad.is_undefined_primal(operand):
        ct_op = scatter_p.bind(ct, indices, _zeros(upd_aval, get_aval(ct).dtype), **params)
    if ad.is_undefined_primal(updates):
        got = _gather_windows(ct, indices, dn, upd_aval.shape, mode, indices_are_sorted,
                              unique_indices)
        if not unique_indices:
            from .elementwise import add, eq, select_n
            from .structural import broadcasted_iota, full, reshape
            op_shape = (operand.aval if ad.is_undefined_primal(operand)
                        else get_aval(operand)).shape
            n = int(np.prod(upd_aval.shape, dtype=np.int64))
            idt = np.int32 if n < 2 ** 31 - 1 else np.int64
            ids = add(reshape(broadcasted_iota(idt, (n,), 0), upd_aval.shape),
                      np.asarray(1, idt)[()])
            owner = scatter_p.bind(full(op_shape, 0, idt), indices, ids, **params)
            won = eq(_gather_windows(owner, indices, dn, upd_aval.shape, mode,
                                     indices_are_sorted, unique_indices), ids)
            got = select_n(won, _zeros(get_aval(got)), got)
        ct_upd = got
    return [ct_op, None, ct_upd]


scatter_p.jvp = _scatter_jvp
scatter_p.transpose = _scatter_transpose
scatter_p.linear = True


# scatter_mul: operand enters linearly; updates through a zero-safe product rule

def _scatter_mul_jvp(primals, tangents, **params):
    """d out = scatter_mul(t_op, idx, upd)
             + op * scatter_add(0, idx, t_upd * prod(other updates at the same place)).

    Exact at zeros to first order; second derivatives with respect to the updates are
    exact unless two or more zero updates land on the same element."""
    from .elementwise import convert_element_type, div, eq, mul, select_n
    from .structural import full
    op, idx, upd = primals
    top, _, tupd = tangents
    out = scatter_mul_p.bind(op, idx, upd, **params)
    t = Zero.from_value(out)
    if type(top) is not Zero:
        t = scatter_mul_p.bind(top, idx, upd, **params)
    if type(tupd) is not Zero:
        dn, mode = params["dimension_numbers"], params["mode"]
        op_aval, upd_aval = get_aval(op), get_aval(upd)
        dt = upd_aval.dtype
        is_zero = eq(upd, np.zeros((), dt)[()])
        ones_u = full(upd_aval.shape, 1, dt)
        safe = select_n(is_zero, upd, ones_u)
        prod_nz = scatter_mul_p.bind(full(op_aval.shape, 1, dt), idx, safe, **params)
        n_zero = scatter_add_p.bind(full(op_aval.shape, 0, dt), idx,
                                    convert_element_type(is_zero, dt), **params)
        prod_all = scatter_mul_p.bind(full(op_aval.shape, 1, dt), idx, upd, **params)
        gp = _gather_windows(prod_nz, idx, dn, upd_aval.shape, mode)
        ga = _gather_windows(prod_all, idx, dn, upd_aval.shape, mode)
        gz = _gather_windows(n_zero, idx, dn, upd_aval.shape, mode)
        zero_u = full(upd_aval.shape, 0, dt)
        # a nonzero update: (product of all) / itself -- smooth in the others, zeros too;
        # a zero update: the product of the others if it is the only zero there, else 0
        excl = select_n(is_zero, div(ga, safe), select_n(eq(gz, ones_u), zero_u, gp))
        spread = scatter_add_p.bind(_zeros(op_aval), idx, mul(tupd, excl), **params)
        t = add_tangents(t, mul(op, spread))
    return out, t


def _scatter_mul_transpose(ct, operand, indices, updates, **params):
    if ad.is_undefined_primal(updates):
        raise NotImplementedError("scatter_mul: transposing with respect to the updates is "
                                  "not defined (scatter_mul is not linear in them)")
    if type(ct) is Zero:
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


scatter_mul_p.jvp = _scatter_mul_jvp
scatter_mul_p.transpose = _scatter_mul_transpose   # linear in the operand only


# scatter_min / scatter_max: the tangent follows the winner, ties split evenly

def _scatter_ext_jvp(prim):
    def rule(primals, tangents, **params):
        from .elementwise import add, convert_element_type, div, eq, mul
        op, idx, upd = primals
        top, _, tupd = tangents
        out = prim.bind(op, idx, upd, **params)
        if type(top) is Zero and type(tupd) is Zero:
            return out, Zero.from_value(out)
        dn, mode = params["dimension_numbers"], params["mode"]
        dt = get_aval(out).dtype
        upd_shape = get_aval(upd).shape
        op_win = convert_element_type(eq(op, out), dt)
        fill = np.nan if dt.kind in "fc" else 0
        upd_win = convert_element_type(
            eq(upd, _gather_windows(out, idx, dn, upd_shape, mode, fill_value=fill)), dt)
        count = add(op_win, scatter_add_p.bind(_zeros(get_aval(out)), idx, upd_win, **params))
        num = Zero.from_value(out)
        if type(top) is not Zero:
            num = mul(top, op_win)
        if type(tupd) is not Zero:
            num = add_tangents(num, scatter_add_p.bind(_zeros(get_aval(out)), idx,
                                                       mul(tupd, upd_win), **params))
        return out, div(num, count)
    return rule


scatter_min_p.jvp = _scatter_ext_jvp(scatter_min_p)
scatter_max_p.jvp = _scatter_ext_jvp(scatter_max_p)


def _scatter_sample(unique):
    def sample(rng, dtype):
        op = rng.standard_normal((5, 3)).astype(dtype)
        if unique:
            idx = rng.permutation(5)[:3].reshape(3, 1).astype(np.int32)
        else:
            idx = np.array([[1], [3], [1], [0]], np.int32)
        upd = rng.standard_normal((idx.shape[0], 3)).astype(dtype)
        dn = ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
        return [op, idx, upd], dict(dimension_numbers=dn, indices_are_sorted=False,
                                    unique_indices=unique, mode="drop")
    return sample


scatter_p.test_spec = {"sample": _scatter_sample(False), "nondiff_args": (1,)}
scatter_add_p.test_spec = {"sample": _scatter_sample(False), "nondiff_args": (1,)}
scatter_mul_p.test_spec = {"sample": _scatter_sample(False), "nondiff_args": (1,)}
scatter_min_p.test_spec = {"sample": _scatter_sample(False), "nondiff_args": (1,)}
scatter_max_p.test_spec = {"sample": _scatter_sample(False), "nondiff_args": (1,)}


def _scatter_fn(prim, doc):
    def fn(operand, scatter_indices, updates, dimension_numbers, *,
           indices_are_sorted=False, unique_indices=False, mode=None):
        idx = _index_operand(scatter_indices, prim.name)
        from ._util import operands
        operand, updates = operands(operand, updates)
        return _bind(prim, operand, idx, updates,
                         dimension_numbers=_canon_sdn(dimension_numbers),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices), mode=_canon_mode(mode, True))
    fn.__name__ = prim.name
    fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


_SCATTER_DOC = """{what} (``jax.lax.{name}``).

    Update windows that do not fit inside ``operand`` are dropped (``mode="drop"``, the
    default); ``mode="clip"`` clamps their starts instead.{extra}

    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> {name}(fnp.ones(4), fnp.array([[1], [3], [1]]), fnp.array([2., 3., 4.]), dn)
    {example}
    """
scatter = _scatter_fn(scatter_p, _SCATTER_DOC.format(
    what="Write ``updates`` into windows of ``operand``", name="scatter",
    extra=" With repeated indices the last update wins.",
    example="Array([1., 4., 1., 3.], dtype=float32)"))
scatter_add = _scatter_fn(scatter_add_p, _SCATTER_DOC.format(
    what="Add ``updates`` into windows of ``operand``", name="scatter_add",
    extra=" Repeated indices accumulate (like ``np.add.at``).",
    example="Array([1., 7., 1., 4.], dtype=float32)"))
scatter_mul = _scatter_fn(scatter_mul_p, _SCATTER_DOC.format(
    what="Multiply windows of ``operand`` by ``updates``", name="scatter_mul",
    extra=" Repeated indices accumulate.",
    example="Array([1., 8., 1., 3.], dtype=float32)"))
scatter_min = _scatter_fn(scatter_min_p, _SCATTER_DOC.format(
    what="Elementwise minimum of windows of ``operand`` and ``updates``", name="scatter_min",
    extra="", example="Array([1., 1., 1., 1.], dtype=float32)"))
scatter_max = _scatter_fn(scatter_max_p, _SCATTER_DOC.format(
    what="Elementwise maximum of windows of ``operand`` and ``updates``", name="scatter_max",
    extra="", example="Array([1., 4., 1., 3.], dtype=float32)"))


# ----------------------------------------------------------------------------- dynamic_slice

dynamic_slice_p = Primitive("dynamic_slice")


def _clamped_starts(shape, starts, sizes):
    return [int(min(max(int(s), 0), n - z)) for s, n, z in zip(starts, shape, sizes)]


@dynamic_slice_p.def_impl
def _dynamic_slice_impl(operand, *starts, slice_sizes):
    xp = _xp(operand)
    operand = xp.asarray(operand)
    st = _clamped_starts(operand.shape, starts, slice_sizes)
    return operand[tuple(slice(a, a + z) for a, z in zip(st, slice_sizes))]


def _check_starts(name, operand, starts):
    if len(starts) != operand.ndim:
        raise TypeError(f"{name}: got {len(starts)} start indices for an operand of shape "
                        f"{operand.shape}; pass one scalar per dimension")
    for s in starts:
        if s.ndim != 0 or s.dtype.kind not in "iu":
            raise TypeError(f"{name}: start indices must be integer scalars, got "
                            f"{s.str_short()}")


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract(operand, *starts, slice_sizes):
    _check_starts("dynamic_slice", operand, starts)
    if len(slice_sizes) != operand.ndim or any(
            not 0 <= z <= n for z, n in zip(slice_sizes, operand.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must have one entry per "
                        f"dimension and fit inside operand shape {operand.shape}")
    return ShapedArray(slice_sizes, operand.dtype, operand.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    op, *starts = primals
    out = dynamic_slice_p.bind(op, *starts, slice_sizes=slice_sizes)
    t = tangents[0]
    if type(t) is Zero:
        return out, Zero.from_value(out)
    return out, dynamic_slice_p.bind(t, *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, operand, *starts, slice_sizes):
    if type(ct) is Zero or not ad.is_undefined_primal(operand):
        return [None] * (1 + len(starts))
    zeros = _zeros(operand.aval)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _stack_starts(starts, dims, size):
    """A ``(size, N)`` index array from scalar starts (batched or not)."""
    from .elementwise import convert_element_type
    from .structural import broadcast_in_dim, concatenate, reshape
    idt = np.int64 if any(get_aval(s).dtype.itemsize == 8 for s in starts) else np.int32
    cols = []
    for s, d in zip(starts, dims):
        s = convert_element_type(s, idt)
        s = broadcast_in_dim(s, (size,), ()) if d is None else _bmoveaxis(s, d, 0)
        cols.append(reshape(s, (size, 1)))
    if not cols:
        return np.zeros((size, 0), idt)
    return concatenate(cols, 1) if len(cols) > 1 else cols[0]


def _dynamic_slice_batch(args, dims, *, slice_sizes):
    op, *starts = args
    dop, *dstarts = dims
    size = axis_size_of(args, dims)
    nd = len(slice_sizes)
    if all(d is None for d in dstarts):
        op = _bmoveaxis(op, dop, 0)
        zero = np.zeros((), get_aval(starts[0]).dtype if starts else np.int32)[()]
        return dynamic_slice_p.bind(op, zero, *starts, slice_sizes=(size,) + slice_sizes), 0
    idx = _stack_starts(starts, dstarts, size)
    if dop is None:
        dn = GatherDimensionNumbers(tuple(range(1, nd + 1)), (), tuple(range(nd)))
        sizes = slice_sizes
    else:
        op = _bmoveaxis(op, dop, 0)
        dn = GatherDimensionNumbers(tuple(range(1, nd + 1)), (), tuple(range(1, nd + 1)),
                                    (0,), (0,))
        sizes = (1,) + slice_sizes
    return gather_p.bind(op, idx, dimension_numbers=dn, slice_sizes=sizes,
                         indices_are_sorted=False, unique_indices=False, mode="clip",
                         fill_value=None), 0


def _dynamic_slice_sample(rng, dtype):
    op = rng.standard_normal((5, 4)).astype(dtype)
    return [op, np.asarray(3, np.int32), np.asarray(-1, np.int32)], dict(slice_sizes=(2, 3))


dynamic_slice_p.jvp = _dynamic_slice_jvp
dynamic_slice_p.transpose = _dynamic_slice_transpose
dynamic_slice_p.linear = True
dynamic_slice_p.batch = _dynamic_slice_batch
dynamic_slice_p.test_spec = {"sample": _dynamic_slice_sample, "nondiff_args": (1, 2)}


# ----------------------------------------------------------------------------- dynamic_update_slice

dynamic_update_slice_p = Primitive("dynamic_update_slice")


@dynamic_update_slice_p.def_impl
def _dus_impl(operand, update, *starts):
    xp = _xp(operand, update)
    out = xp.array(operand, copy=True)
    update = xp.asarray(update)
    st = _clamped_starts(out.shape, starts, update.shape)
    out[tuple(slice(a, a + z) for a, z in zip(st, update.shape))] = update
    return out


@dynamic_update_slice_p.def_abstract_eval
def _dus_abstract(operand, update, *starts):
    _check_starts("dynamic_update_slice", operand, starts)
    if update.ndim != operand.ndim or any(u > n for u, n in zip(update.shape, operand.shape)):
        raise TypeError(f"dynamic_update_slice: update shape {update.shape} must have the "
                        f"operand's rank and fit inside operand shape {operand.shape}")
    if update.dtype != operand.dtype:
        raise TypeError(f"dynamic_update_slice: update dtype {update.dtype.name} differs "
                        f"from operand dtype {operand.dtype.name}")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _dus_jvp(primals, tangents):
    op, upd, *starts = primals
    top, tupd = tangents[:2]
    out = dynamic_update_slice_p.bind(op, upd, *starts)
    if type(top) is Zero and type(tupd) is Zero:
        return out, Zero.from_value(out)
    return out, dynamic_update_slice_p.bind(ad.instantiate(top), ad.instantiate(tupd),
                                            *starts)


def _dus_transpose(ct, operand, update, *starts):
    if type(ct) is Zero:
        return [None] * (2 + len(starts))
    upd_aval = update.aval if ad.is_undefined_primal(update) else get_aval(update)
    ct_op = ct_upd = None
    if ad.is_undefined_primal(operand):
        ct_op = dynamic_update_slice_p.bind(ct, _zeros(upd_aval, get_aval(ct).dtype), *starts)
    if ad.is_undefined_primal(update):
        ct_upd = dynamic_slice_p.bind(ct, *starts, slice_sizes=upd_aval.shape)
    return [ct_op, ct_upd] + [None] * len(starts)


def _dus_batch(args, dims):
    op, upd, *starts = args
    dop, dupd, *dstarts = dims
    size = axis_size_of(args, dims)
    op = bdim_at_front(op, dop, size)
    upd = bdim_at_front(upd, dupd, size)
    nd = len(starts)
    if all(d is None for d in dstarts):
        zero = np.zeros((), get_aval(starts[0]).dtype if starts else np.int32)[()]
        return dynamic_update_slice_p.bind(op, upd, zero, *starts), 0
    idx = _stack_starts(starts, dstarts, size)
    dn = ScatterDimensionNumbers(tuple(range(1, nd + 1)), (), tuple(range(1, nd + 1)),
                                 (0,), (0,))
    return scatter_p.bind(op, idx, upd, dimension_numbers=dn, indices_are_sorted=True,
                          unique_indices=True, mode="clip"), 0


def _dus_sample(rng, dtype):
    op = rng.standard_normal((5, 4)).astype(dtype)
    upd = rng.standard_normal((2, 3)).astype(dtype)
    return [op, upd, np.asarray(4, np.int32), np.asarray(1, np.int32)], {}


dynamic_update_slice_p.jvp = _dus_jvp
dynamic_update_slice_p.transpose = _dus_transpose
dynamic_update_slice_p.linear = True
dynamic_update_slice_p.batch = _dus_batch
dynamic_update_slice_p.test_spec = {"sample": _dus_sample, "nondiff_args": (2, 3)}


def _start_index(i, n, name):
    """A start index as an operand: negative values wrap once (``i + n``), like JAX."""
    if isinstance(i, (bool, np.bool_)):
        raise TypeError(f"{name}: start indices must be integers, got {i!r}")
    if isinstance(i, (int, np.integer)):
        i = int(i)
        if i < 0:
            i += n
        return np.asarray(i, np.int32 if -2 ** 31 <= i < 2 ** 31 else np.int64)[()]
    aval = get_aval(i)
    if aval.ndim != 0 or aval.dtype.kind not in "iu":
        raise TypeError(f"{name}: start indices must be integer scalars, got "
                        f"{aval.str_short()}")
    if aval.dtype.kind == "u":
        return i
    from .elementwise import add, lt, select
    zero = np.zeros((), aval.dtype)[()]
    return select(lt(i, zero), add(i, np.asarray(n, aval.dtype)[()]), i)


def _split_starts(start_indices, nd, name):
    if isinstance(start_indices, (Tracer, Array, np.ndarray)):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise TypeError(f"{name}: start_indices must be a sequence of scalars or a 1-D "
                            f"array, got shape {aval.shape}")
        if isinstance(start_indices, np.ndarray):
            start_indices = list(start_indices)
        else:
            from .structural import reshape, slice_in_dim
            start_indices = [reshape(slice_in_dim(start_indices, i, i + 1), ())
                             for i in range(aval.shape[0])]
    starts = list(start_indices)
    if len(starts) != nd:
        raise TypeError(f"{name}: got {len(starts)} start indices for an operand of rank "
                        f"{nd}; pass one per dimension")
    return starts


def dynamic_slice(operand, start_indices, slice_sizes):
    """``operand[s0:s0+z0, s1:s1+z1, ...]`` with traced starts (``jax.lax.dynamic_slice``).

    Negative starts wrap once; then starts are clamped so the slice fits.

    >>> dynamic_slice(fnp.arange(6.), [4], [3])
    Array([3., 4., 5.], dtype=float32)
    """
    aval = get_aval(operand)
    sizes = _tup(slice_sizes)
    starts = _split_starts(start_indices, aval.ndim, "dynamic_slice")
    starts = [_start_index(s, n, "dynamic_slice") for s, n in zip(starts, aval.shape)]
    return _bind(dynamic_slice_p, operand, *starts, slice_sizes=sizes)


def dynamic_update_slice(operand, update, start_indices):
    """``operand`` with ``update`` written at traced ``start_indices`` (clamped to fit).

    >>> dynamic_update_slice(fnp.zeros(5), fnp.ones(2), [1])
    Array([0., 1., 1., 0., 0.], dtype=float32)
    """
    from ._util import operands
    operand, update = operands(operand, update)
    aval = get_aval(operand)
    starts = _split_starts(start_indices, aval.ndim, "dynamic_update_slice")
    starts = [_start_index(s, n, "dynamic_update_slice") for s, n in zip(starts, aval.shape)]
    return _bind(dynamic_update_slice_p, operand, update, *starts)


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0):
    """``dynamic_slice`` along one ``axis``.

    >>> dynamic_slice_in_dim(fnp.arange(6.), 1, 2)
    Array([1., 2.], dtype=float32)
    """
    aval = get_aval(operand)
    axis = canonicalize_axis(axis, aval.ndim)
    starts = [0] * aval.ndim
    sizes = list(aval.shape)
    starts[axis], sizes[axis] = start_index, int(slice_size)
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True):
    """Element ``index`` along ``axis`` (a traced index is fine).

    >>> dynamic_index_in_dim(fnp.arange(6.).reshape(3, 2), 2, keepdims=False)
    Array([4., 5.], dtype=float32)
    """
    axis = canonicalize_axis(axis, get_aval(operand).ndim)
    r = dynamic_slice_in_dim(operand, index, 1, axis)
    if keepdims:
        return r
    from .structural import squeeze
    return squeeze(r, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis):
    """``dynamic_update_slice`` along one ``axis``.

    >>> dynamic_update_slice_in_dim(fnp.zeros(4), fnp.ones(1), 2, 0)
    Array([0., 0., 1., 0.], dtype=float32)
    """
    aval = get_aval(operand)
    axis = canonicalize_axis(axis, aval.ndim)
    starts = [0] * aval.ndim
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis):
    """Write ``update`` (missing the ``axis`` dim, or with it of size 1) at ``index``.

    >>> dynamic_update_index_in_dim(fnp.zeros((2, 2)), fnp.ones(2), 1, 0)
    Array([[0., 0.],
           [1., 1.]], dtype=float32)
    """
    aval = get_aval(operand)
    axis = canonicalize_axis(axis, aval.ndim)
    if get_aval(update).ndim == aval.ndim - 1:
        from .structural import expand_dims
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis)


# ----------------------------------------------------------------------------- take_along_axis

def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """``arr`` picked along ``axis`` at ``indices`` (same rank; other dims broadcast).

    A lax-level helper: indices are not wrapped when negative; out-of-range ones are
    clamped (``mode="clip"``, default) or give ``fill_value`` (``mode="fill"``).
    ``fnp.take_along_axis`` adds NumPy's negative-index handling.

    >>> take_along_axis(fnp.array([[10., 20.], [30., 40.]]), fnp.array([[1], [0]]), 1)
    Array([[20.],
           [30.]], dtype=float32)
    """
    from .structural import broadcast_in_dim, expand_dims
    a_aval, i_aval = get_aval(arr), get_aval(indices)
    nd = a_aval.ndim
    if i_aval.ndim != nd:
        raise TypeError(f"take_along_axis: indices (shape {i_aval.shape}) must have the same "
                        f"rank as arr (shape {a_aval.shape})")
    if i_aval.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got {i_aval.dtype}")
    axis = canonicalize_axis(axis, nd)
    a_shape, i_shape = list(a_aval.shape), list(i_aval.shape)
    for d in range(nd):
        if d == axis or a_shape[d] == i_shape[d]:
            continue
        if a_shape[d] == 1:
            a_shape[d] = i_shape[d]
        elif i_shape[d] == 1:
            i_shape[d] = a_shape[d]
        else:
            raise TypeError(f"take_along_axis: arr shape {a_aval.shape} and indices shape "
                            f"{i_aval.shape} do not broadcast outside axis {axis}")
    if tuple(a_shape) != a_aval.shape:
        arr = broadcast_in_dim(arr, tuple(a_shape), tuple(range(nd)))
    if tuple(i_shape) != i_aval.shape:
        indices = broadcast_in_dim(indices, tuple(i_shape), tuple(range(nd)))
    if a_shape[axis] == 0:
        if int(np.prod(i_shape)) == 0:
            from .structural import full
            return full(tuple(i_shape), 0, a_aval.dtype)
        raise IndexError(f"take_along_axis: cannot take from an empty axis {axis} "
                         f"(arr shape {a_aval.shape})")
    others = tuple(d for d in range(nd) if d != axis)
    dn = GatherDimensionNumbers((), (axis,), (axis,), others, others)
    return gather_p.bind(arr, expand_dims(indices, (nd,)), dimension_numbers=dn,
                         slice_sizes=(1,) * nd, indices_are_sorted=False,
                         unique_indices=False, mode=_canon_mode(mode, False),
                         fill_value=_static_fill(fill_value, "take_along_axis"))


__all__ = ["gather", "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
           "dynamic_slice", "dynamic_update_slice", "dynamic_slice_in_dim",
           "dynamic_update_slice_in_dim", "dynamic_index_in_dim",
           "dynamic_update_index_in_dim", "take_along_axis", "GatherDimensionNumbers",
           "ScatterDimensionNumbers", "gather_p", "scatter_p", "scatter_add_p",
           "scatter_mul_p", "scatter_min_p", "scatter_max_p", "dynamic_slice_p",
           "dynamic_update_slice_p"]
