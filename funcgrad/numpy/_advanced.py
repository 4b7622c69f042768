"""Advanced indexing (integer arrays, boolean masks), ``x.at[idx]`` updates and the
index-based numpy functions (``take``, ``take_along_axis``, ``nonzero`` with ``size=`` ...).

Rules for out-of-range indices (as JAX, except where NumPy can check statically):

* ``x[idx]``: Python ints and NumPy/list indices are checked and raise ``IndexError``
  (as NumPy).  funcgrad arrays and traced indices cannot be checked under ``jit``; they
  are *clamped* into range (negative ones wrap once first), as in JAX.
* ``x.at[idx].set/add/...``: updates at out-of-range indices are dropped
  (``mode="clip"`` clamps instead).  ``x.at[idx].get(mode="fill", fill_value=...)``
  returns ``fill_value`` there.
* Boolean masks must be concrete (their count decides the result's shape); use
  ``fnp.where(mask, x, y)`` or ``fnp.nonzero(mask, size=...)`` for traced masks.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer, get_aval
from ..lax._util import canonicalize_axis
from ..lax.indexing import (GatherDimensionNumbers, ScatterDimensionNumbers, _canon_mode,
                            _static_fill, dynamic_slice_p, gather_p, scatter_add_p,
                            scatter_max_p, scatter_min_p, scatter_mul_p, scatter_p)
from ._promote import asarray, broadcast_shapes

_INDEX_HELP = ("only integers, slices (`:`), ellipsis (`...`), None (`fnp.newaxis`) and "
               "integer or boolean arrays are valid indices")

# ----------------------------------------------------------------------------- parsing


def _leaves(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _leaves(e)
    else:
        yield x


def _static_int(v, what):
    if v is None:
        return None
    if isinstance(v, Tracer):
        raise IndexError(f"{what}: slice bounds must be static Python ints, got a traced "
                         f"value ({v.aval.str_short()}). Use lax.dynamic_slice(x, starts, "
                         "sizes) for a traced start with a static size.")
    try:
        return operator.index(v)
    except TypeError:
        raise IndexError(f"slice indices must be integers or None, got {v!r}") from None


def _classify(e):
    """One index entry as a tagged tuple (see ``_parse``)."""
    if e is None:
        return ("none",)
    if e is Ellipsis:
        return ("ellipsis",)
    if isinstance(e, slice):
        return ("slice", slice(_static_int(e.start, "indexing"), _static_int(e.stop, "indexing"),
                               _static_int(e.step, "indexing")))
    if isinstance(e, (bool, np.bool_)):
        return ("bool0", bool(e))
    if isinstance(e, (int, np.integer)):
        return ("int", int(e))
    if isinstance(e, (list, tuple)):
        if any(isinstance(v, (Tracer, Array)) for v in _leaves(e)):
            e = asarray(e, where="indexing")
        else:
            e = np.asarray(e)
            if e.size == 0 and e.dtype.kind == "f":
                e = e.astype(np.intp)
    if isinstance(e, (np.ndarray, np.generic)):
        e = np.asarray(e)
        if e.dtype == np.bool_:
            return ("bool0", bool(e)) if e.ndim == 0 else ("mask", e)
        if e.dtype.kind in "iu":
            return ("arr", e, True)
        raise IndexError(f"{_INDEX_HELP}; got an array of dtype {e.dtype}")
    if isinstance(e, Array):
        if e.dtype == np.bool_:
            v = np.asarray(e)
            return ("bool0", bool(v)) if v.ndim == 0 else ("mask", v)
        if e.dtype.kind in "iu":
            return ("arr", e, False)
        raise IndexError(f"{_INDEX_HELP}; got an array of dtype {e.dtype}")
    if isinstance(e, Tracer):
        dt = e.aval.dtype
        if dt == np.bool_:
            raise TypeError(
                f"boolean mask indexing needs a concrete mask, but the mask is a traced value "
                f"({e.aval.str_short()}): the result's shape would depend on its values. Use "
                "fnp.where(mask, x, fill) to keep the shape, fnp.nonzero(mask, size=n) for a "
                "static number of hits, or pass the mask as a concrete (static) value.")
        if dt.kind in "iu":
            return ("arr", e, False)
        raise IndexError(f"{_INDEX_HELP}; got a traced array of dtype {dt}")
    raise IndexError(f"{_INDEX_HELP}; got {type(e).__name__}")


def _parse(x, idx, check):
    """Normalize an index: returns ``(x, entries, new_axes)``.

    ``entries`` has one item per index position after expanding ``...``, boolean masks
    (into their ``nonzero`` arrays) and scalar booleans (a new axis of ``x`` indexed by
    ``[0]`` or ``[]``; those axes are listed in ``new_axes``).  Items are ``("none",)``,
    ``("slice", slice)``, ``("int", i)`` or ``("arr", value, from_mask)``, with negative
    integers wrapped once (``check``: out-of-range Python ints / NumPy arrays raise
    IndexError).
    """
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = [_classify(e) for e in idx]
    nd = get_aval(x).ndim
    n_ell = sum(1 for it in items if it[0] == "ellipsis")
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(it[1].ndim if it[0] == "mask" else 1 for it in items
               if it[0] in ("mask", "int", "arr", "slice"))
    if used > nd:
        raise IndexError(f"too many indices for array: array is {nd}-dimensional, but "
                         f"{used} were indexed")
    full = []
    for it in items:
        if it[0] == "ellipsis":
            full.extend([("slice", slice(None))] * (nd - used))
        else:
            full.append(it)
    if not n_ell:
        full.extend([("slice", slice(None))] * (nd - used))
    shape = get_aval(x).shape
    # masks -> integer arrays; scalar booleans -> new axes
    entries, new_axes = [], []
    dim = 0      # dim of the original x
    xdim = 0     # dim of x after inserting the scalar-boolean axes
    for it in full:
        kind = it[0]
        if kind == "mask":
            m = it[1]
            sub = shape[dim:dim + m.ndim]
            if sub != m.shape:
                bad = next(i for i in range(m.ndim) if sub[i] != m.shape[i])
                raise IndexError(
                    f"boolean index did not match indexed array along axis {dim + bad}; size "
                    f"of axis is {sub[bad]} but size of corresponding boolean axis is "
                    f"{m.shape[bad]}")
            for comp in np.nonzero(m):
                entries.append(("arr", comp.astype(np.int64), True, "mask"))
            dim += m.ndim
            xdim += m.ndim
        elif kind == "bool0":
            new_axes.append(xdim)
            entries.append(("arr", np.arange(1 if it[1] else 0, dtype=np.int64), True, "mask"))
            xdim += 1
        elif kind == "none":
            entries.append(it)
        else:
            entries.append(it)
            dim += 1
            xdim += 1
    if new_axes:
        x = lax.expand_dims(x, new_axes)
    xshape = get_aval(x).shape
    out, d = [], 0
    for it in entries:
        if it[0] == "none":
            out.append(it)
            continue
        n = xshape[d]
        if it[0] == "int":
            j = it[1]
            if check and not -n <= j < n:
                raise IndexError(f"index {j} is out of bounds for axis {d} with size {n}")
            out.append(("int", j + n if j < 0 else j))
        elif it[0] == "arr":
            out.append(("arr", _wrap(it[1], n, check and it[2], d), len(it) > 3))
        else:
            out.append(it)
        d += 1
    return x, out, new_axes


def _wrap(v, n, check, axis):
    """Wrap negative indices once (``i + n``); check bounds of NumPy indices if asked."""
    if isinstance(v, Array):
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        if check and v.size:
            bad = v[(v < -n) | (v >= n)]
            if bad.size:
                raise IndexError(f"index {bad.flat[0]} is out of bounds for axis {axis} with "
                                 f"size {n}")
        if v.dtype.kind == "u":
            return v
        return np.where(v < 0, v + n, v)
    aval = get_aval(v)
    if aval.dtype.kind == "u":
        return v
    zero = np.zeros((), aval.dtype)[()]
    nn = np.asarray(n, aval.dtype)[()] if n <= np.iinfo(aval.dtype).max else None
    if nn is None:
        return v
    return lax.select(lax.lt(v, zero), lax.add(v, nn), v)


# ----------------------------------------------------------------------------- plan

class _Plan:
    """A gather/scatter equivalent to an index (see ``_make_plan``)."""

    __slots__ = ("indices", "dnums", "slice_sizes", "gshape", "fshape", "batch_size",
                 "adv_dims", "unique")

    def scatter_dnums(self):
        g = self.dnums
        return ScatterDimensionNumbers(g.offset_dims, g.collapsed_slice_dims,
                                       g.start_index_map)


def _idx_shape(v):
    return np.shape(v) if isinstance(v, np.ndarray) else get_aval(v).shape


def _make_plan(xshape, entries):
    """Turn normalized entries into gather parameters.

    Advanced entries (ints, arrays) broadcast together to ``S`` and are placed as NumPy
    does (where they stand if adjacent, else first).  Unit-step slices become windows
    (offset dims); strided slices become their own batch dims of the index array.
    """
    adv_pos = [i for i, e in enumerate(entries) if e[0] in ("int", "arr")]
    try:
        adv_shape = tuple(np.broadcast_shapes(*[_idx_shape(entries[i][1]) if entries[i][0] ==
                                                "arr" else () for i in adv_pos]))
    except ValueError:
        shapes = " ".join(str(_idx_shape(entries[i][1])) for i in adv_pos
                          if entries[i][0] == "arr")
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {shapes}") from None
    dim_of, d = {}, 0
    for i, e in enumerate(entries):
        if e[0] != "none":
            dim_of[i] = d
            d += 1
    tag_of = {}
    for i, e in enumerate(entries):
        if e[0] == "none":
            tag_of[i] = ("new",)
        elif e[0] == "slice":
            n = xshape[dim_of[i]]
            start, stop, step = e[1].indices(n)
            length = len(range(start, stop, step))
            if length == 0:
                tag_of[i] = ("win", dim_of[i], 0, 0)
            elif step == 1 or length == 1:
                tag_of[i] = ("win", dim_of[i], start, length)
            else:
                tag_of[i] = ("sl", dim_of[i], start, step, length)
    adv_tags = [("adv", k) for k in range(len(adv_shape))]
    if not adv_pos:
        tags = [tag_of[i] for i in range(len(entries))]
    elif adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1)):
        tags = ([tag_of[i] for i in range(adv_pos[0])] + adv_tags
                + [tag_of[i] for i in range(adv_pos[-1] + 1, len(entries))])
    else:
        tags = adv_tags + [tag_of[i] for i in range(len(entries)) if i not in adv_pos]
    real = [t for t in tags if t[0] != "new"]

    def size(t):
        return adv_shape[t[1]] if t[0] == "adv" else t[-1]

    batch_tags = [t for t in real if t[0] in ("adv", "sl")]
    batch_shape = tuple(size(t) for t in batch_tags)
    offset_dims = tuple(p for p, t in enumerate(real) if t[0] == "win")
    adv_dims = {dim_of[i]: entries[i] for i in adv_pos}
    sl_dims = {t[1]: t for t in real if t[0] == "sl"}
    win_dims = {t[1]: t for t in real if t[0] == "win"}
    nd = len(xshape)
    start_map, comps = [], []
    adv_at = next((p for p, t in enumerate(batch_tags) if t[0] == "adv"), 0)
    for d in range(nd):
        if d in adv_dims:
            e = adv_dims[d]
            v = e[1] if e[0] == "arr" else np.asarray(e[1])
            r = len(_idx_shape(v))
            bdims = tuple(adv_at + len(adv_shape) - r + j for j in range(r))
            start_map.append(d)
            comps.append((v, bdims))
        elif d in sl_dims:
            _, _, start, step, length = sl_dims[d]
            p = batch_tags.index(sl_dims[d])
            start_map.append(d)
            comps.append((np.arange(start, start + step * length, step)[:length], (p,)))
        elif d in win_dims:
            _, _, start, length = win_dims[d]
            if start != 0 or length != xshape[d]:
                start_map.append(d)
                comps.append((np.asarray(start), ()))
    collapsed = tuple(sorted(set(adv_dims) | set(sl_dims)))
    sizes = tuple(1 if (d in adv_dims or d in sl_dims) else win_dims[d][3] for d in range(nd))
    plan = _Plan()
    plan.indices = _stack_indices(comps, batch_shape, xshape)
    plan.dnums = GatherDimensionNumbers(offset_dims, collapsed, tuple(start_map))
    plan.slice_sizes = sizes
    plan.gshape = tuple(size(t) for t in real)
    plan.fshape = tuple(1 if t[0] == "new" else size(t) for t in tags)
    plan.batch_size = int(np.prod(batch_shape, dtype=np.int64))
    plan.adv_dims = tuple(sorted(adv_dims))
    # ints, slices and boolean masks never address an element twice
    plan.unique = all(e[0] != "arr" or e[2] for e in entries)
    return plan


def _stack_indices(comps, batch_shape, xshape):
    """The ``batch_shape + (k,)`` index array from per-dimension components."""
    traced = [v for v, _ in comps if not isinstance(v, np.ndarray)]
    wide = any(n >= 2 ** 31 - 1 for n in xshape) or any(
        get_aval(v).dtype.itemsize == 8 for v in traced)
    idt = np.dtype(np.int64 if wide else np.int32)
    info = np.iinfo(idt)
    nb = len(batch_shape)
    if not traced:
        cols = []
        for v, bdims in comps:
            v = np.clip(v, info.min, info.max).astype(idt)
            cols.append(_np_bcast(v, batch_shape, bdims))
        if not cols:
            return np.zeros(batch_shape + (0,), idt)
        return np.stack(cols, axis=-1)
    cols = []
    for v, bdims in comps:
        if isinstance(v, np.ndarray):
            v = np.clip(v, info.min, info.max).astype(idt)
            cols.append(_np_bcast(v, batch_shape, bdims)[..., None])
        else:
            v = lax.convert_element_type(v, idt)
            v = lax.broadcast_in_dim(v, batch_shape, bdims)
            cols.append(lax.expand_dims(v, (nb,)))
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, nb)


def _np_bcast(v, shape, bdims):
    inter = [1] * len(shape)
    for i, d in enumerate(bdims):
        inter[d] = v.shape[i]
    return np.broadcast_to(v.reshape(inter), shape)


# ----------------------------------------------------------------------------- getitem

def advanced_getitem(x, idx):
    """``x[idx]`` for any index NumPy accepts (integer arrays, concrete boolean masks,
    mixed with ints, slices, None and ``...``), following NumPy's rules for where the
    advanced-index dimensions go.  Out-of-range Python ints and NumPy indices raise
    ``IndexError``; funcgrad/traced indices are clamped (JAX's rule, see the module doc).

    >>> x = fnp.arange(12).reshape(3, 4)
    >>> advanced_getitem(x, ([0, 2], slice(None, None, 2)))
    Array([[ 0,  2],
           [ 8, 10]])
    """
    from ._indexing import basic_getitem
    x = asarray(x)
    x, entries, _ = _parse(x, idx, check=True)
    if not any(e[0] == "arr" for e in entries):
        return basic_getitem(x, tuple(e[1] if e[0] != "none" else None for e in entries))
    # static slices first (cheap, exact gradients); then one gather for the rest
    basic = tuple(e[1] if e[0] == "slice" else slice(None) for e in entries if e[0] != "none")
    if any(s != slice(None) for s in basic):
        x = basic_getitem(x, basic)
        entries = [("slice", slice(None)) if e[0] == "slice" else e for e in entries]
    xshape = get_aval(x).shape
    plan = _make_plan(xshape, entries)
    if any(xshape[d] == 0 for d in plan.adv_dims):
        if plan.batch_size == 0:
            return lax.full(plan.fshape, 0, get_aval(x).dtype)
        d = next(d for d in plan.adv_dims if xshape[d] == 0)
        raise IndexError(f"index is out of bounds for axis {d} with size 0")
    adv = [e for e in entries if e[0] in ("int", "arr")]
    if all(len(_idx_shape(e[1])) == 0 if e[0] == "arr" else True for e in adv):
        return _scalar_take(x, entries, plan.fshape)
    out = gather_p.bind(x, plan.indices, dimension_numbers=plan.dnums,
                        slice_sizes=plan.slice_sizes, indices_are_sorted=False,
                        unique_indices=False, mode="clip", fill_value=None)
    return lax.reshape(out, plan.fshape)


def _scalar_take(x, entries, fshape):
    """Scalar (possibly traced) indices: one ``dynamic_slice`` (clamped like gather)."""
    xshape = get_aval(x).shape
    starts, sizes, d = [], [], 0
    for e in entries:
        if e[0] == "none":
            continue
        if e[0] in ("int", "arr"):
            v = e[1]
            if isinstance(v, (int, np.integer, np.ndarray)):
                v = np.asarray(np.clip(v, -2 ** 31, 2 ** 31 - 1), np.int32)[()]
            starts.append(v)
            sizes.append(1)
        else:
            starts.append(np.int32(0))
            sizes.append(xshape[d])
        d += 1
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes))
    return lax.reshape(out, fshape)


# ----------------------------------------------------------------------------- .at[]

def _update_plan(x, idx):
    x, entries, new_axes = _parse(x, idx, check=False)
    xshape = get_aval(x).shape
    plan = _make_plan(xshape, entries)
    empty = any(xshape[d] == 0 for d in plan.adv_dims + plan.dnums.collapsed_slice_dims)
    return x, plan, new_axes, empty


def _prepare_values(values, plan, dtype, what):
    v = asarray(values, where=what)
    vshape = get_aval(v).shape
    target = plan.fshape
    if len(vshape) > len(target):
        extra = len(vshape) - len(target)
        if any(s != 1 for s in vshape[:extra]):
            raise TypeError(f"{what}: values of shape {vshape} cannot be broadcast to the "
                            f"indexed shape {target}")
        v = lax.reshape(v, vshape[extra:])
        vshape = vshape[extra:]
    try:
        bshape = broadcast_shapes(vshape, target, where=what)
    except TypeError:
        bshape = None
    if bshape != tuple(target):
        raise TypeError(f"{what}: values of shape {vshape} cannot be broadcast to the "
                        f"indexed shape {tuple(target)}")
    if get_aval(v).dtype != dtype:
        v = lax.convert_element_type(v, dtype)
    if vshape != tuple(target):
        nd = len(target)
        v = lax.broadcast_in_dim(v, tuple(target), tuple(range(nd - len(vshape), nd)))
    return lax.reshape(v, plan.gshape)


def _scatter_update(x, idx, values, prim, what, indices_are_sorted=False,
                    unique_indices=False, mode=None):
    x = asarray(x)
    x0 = x
    x, plan, new_axes, empty = _update_plan(x, idx)
    dtype = get_aval(x).dtype
    v = _prepare_values(values, plan, dtype, what)
    if empty or plan.batch_size == 0:
        return x0
    out = prim.bind(x, plan.indices, v, dimension_numbers=plan.scatter_dnums(),
                    indices_are_sorted=bool(indices_are_sorted),
                    unique_indices=bool(unique_indices) or plan.unique,
                    mode=_canon_mode(mode, True))
    if new_axes:
        out = lax.squeeze(out, new_axes)
    return out


def _gather_update_plan(x, idx, mode, fill_value, indices_are_sorted=False,
                        unique_indices=False):
    x = asarray(x)
    x, plan, _, empty = _update_plan(x, idx)
    mode = _canon_mode(mode, False)
    if empty:
        if plan.batch_size == 0:
            return lax.full(plan.fshape, 0, get_aval(x).dtype)
        if mode == "fill":
            from ..lax.indexing import _default_fill
            fv = _default_fill(get_aval(x).dtype) if fill_value is None else fill_value
            return lax.full(plan.fshape, fv, get_aval(x).dtype)
        raise IndexError(f"cannot index an empty axis of an array of shape "
                         f"{get_aval(x).shape} with mode='clip'")
    out = gather_p.bind(x, plan.indices, dimension_numbers=plan.dnums,
                        slice_sizes=plan.slice_sizes,
                        indices_are_sorted=bool(indices_are_sorted),
                        unique_indices=bool(unique_indices), mode=mode,
                        fill_value=_static_fill(fill_value, "at[].get"))
    return lax.reshape(out, plan.fshape)


class _IndexUpdateRef:
    """``x.at[idx]``: functional updates of ``x`` at ``idx`` (see ``AtIndexer``)."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None):
        """``x[idx]``; ``mode="fill"`` gives ``fill_value`` at out-of-range indices.

        >>> fnp.arange(3.).at[fnp.array([0, 5])].get(mode="fill", fill_value=-1.)
        Array([ 0., -1.])
        """
        if mode is None and fill_value is None:
            from ._indexing import getitem
            return getitem(self.array, self.index)
        return _gather_update_plan(self.array, self.index, mode, fill_value,
                                   indices_are_sorted, unique_indices)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = values`` as a new array (the last write wins on repeats).

        >>> fnp.zeros(3).at[1].set(5.)
        Array([0., 5., 0.])
        """
        return _scatter_update(self.array, self.index, values, scatter_p, "at[].set",
                               indices_are_sorted, unique_indices, mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] += values``; repeated indices accumulate (like ``np.add.at``).

        >>> fnp.zeros(3).at[fnp.array([0, 0, 2])].add(1.)
        Array([2., 0., 1.])
        """
        return _scatter_update(self.array, self.index, values, scatter_add_p, "at[].add",
                               indices_are_sorted, unique_indices, mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False,
                 mode=None):
        """``x[idx] *= values``; repeated indices accumulate.

        >>> fnp.ones(3).at[1].multiply(4.)
        Array([1., 4., 1.])
        """
        return _scatter_update(self.array, self.index, values, scatter_mul_p,
                               "at[].multiply", indices_are_sorted, unique_indices, mode)

    mul = multiply

    def _ones_scaled(self, values, what, **kw):
        from ._creation import ones_like
        return _scatter_update(ones_like(asarray(self.array)), self.index, values,
                               scatter_mul_p, what, **kw)

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] /= values`` (integer arrays use floor division and keep their dtype).

        >>> fnp.ones(3).at[1].divide(4.)
        Array([1.  , 0.25, 1.  ])
        """
        from . import _ufuncs
        x = asarray(self.array)
        den = self._ones_scaled(values, "at[].divide", indices_are_sorted=indices_are_sorted,
                                unique_indices=unique_indices, mode=mode)
        if dtypes.is_inexact(get_aval(x).dtype):
            return lax.div(x, den)
        return _ufuncs.floor_divide(x, den)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] **= values``.

        >>> fnp.full(3, 2.).at[1].power(3.)
        Array([2., 8., 2.])
        """
        from . import _ufuncs
        x = asarray(self.array)
        ex = self._ones_scaled(values, "at[].power", indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, mode=mode)
        return _ufuncs.power(x, ex)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = minimum(x[idx], values)``, accumulating over repeats.

        >>> fnp.ones(3).at[1].min(-2.)
        Array([ 1., -2.,  1.])
        """
        return _scatter_update(self.array, self.index, values, scatter_min_p, "at[].min",
                               indices_are_sorted, unique_indices, mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = maximum(x[idx], values)``, accumulating over repeats.

        >>> fnp.ones(3).at[1].max(5.)
        Array([1., 5., 1.])
        """
        return _scatter_update(self.array, self.index, values, scatter_max_p, "at[].max",
                               indices_are_sorted, unique_indices, mode)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """``x[idx] = func(x[idx])`` (applied once per indexed element, even on repeats).

        >>> fnp.arange(3.).at[1:].apply(lambda v: v * 10)
        Array([ 0., 10., 20.])
        """
        cur = _gather_update_plan(self.array, self.index, "clip", None,
                                  indices_are_sorted, unique_indices)
        return self.set(func(cur), indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=mode)


class AtIndexer:
    """The ``x.at`` property: ``x.at[idx].set(v)``, ``.add``, ``.multiply``, ``.divide``,
    ``.power``, ``.min``, ``.max``, ``.apply``, ``.get`` return new arrays.

    >>> x = fnp.zeros(4)
    >>> x.at[fnp.array([1, 1, 3])].add(1.)
    Array([0., 2., 0., 1.])

    Any index that ``x[idx]`` accepts works.  Out-of-range updates are dropped
    (``mode="clip"`` clamps them instead).
    """

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.array, idx)

    def __repr__(self):
        return f"AtIndexer({self.array!r})"


# ----------------------------------------------------------------------------- take & co

def _index_arg(indices, where):
    """Indices as a NumPy int array (concrete) or a traced/Array integer operand."""
    if isinstance(indices, (Array, Tracer)):
        dt = get_aval(indices).dtype
        if dt.kind not in "iu":
            raise TypeError(f"{where}: indices must be integers, got dtype {dt}")
        return indices
    if isinstance(indices, (list, tuple)) and any(isinstance(v, (Array, Tracer))
                                                   for v in _leaves(indices)):
        return _index_arg(asarray(indices, where=where), where)
    v = np.asarray(indices)
    if v.size == 0 and v.dtype.kind == "f":
        v = v.astype(np.int32)
    if v.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got dtype {v.dtype}")
    return v


def _concrete(v):
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, Array):
        return np.asarray(v)
    return None


def _apply_mode(idx, n, mode, where):
    """Apply NumPy's ``take`` modes; returns ``(indices, gather_mode)``."""
    if mode is None:
        mode = "fill"
    if mode not in ("fill", "clip", "wrap", "raise", "drop", "promise_in_bounds"):
        raise ValueError(f"{where}: mode must be 'fill', 'clip', 'wrap' or 'raise', got "
                         f"{mode!r}")
    c = _concrete(idx)
    if mode == "raise":
        if c is None:
            raise NotImplementedError(
                f"{where}: mode='raise' needs concrete indices (it cannot raise inside jit); "
                "use mode='fill', 'clip' or 'wrap'")
        bad = c[(c < -n) | (c >= n)]
        if bad.size:
            raise IndexError(f"{where}: index {bad.flat[0]} is out of bounds for axis with "
                             f"size {n}")
        mode = "fill"
    if mode == "wrap":
        if c is not None:
            return np.mod(c, n), "clip"
        from ._ufuncs import remainder
        return remainder(idx, np.asarray(n, get_aval(idx).dtype)[()]), "clip"
    if mode == "clip":
        if c is not None:
            return np.clip(c, 0, n - 1), "clip"
        return lax.clamp(np.asarray(0, get_aval(idx).dtype)[()], idx,
                         np.asarray(n - 1, get_aval(idx).dtype)[()]), "clip"
    if mode == "promise_in_bounds":
        return _wrap(idx if c is None else c, n, False, 0), "clip"
    return _wrap(idx if c is None else c, n, False, 0), "fill"


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (flattened when ``axis=None``).

    ``mode``: ``"fill"`` (default, as JAX: out-of-range indices give ``fill_value``, NaN
    for floats), ``"clip"``, ``"wrap"`` or ``"raise"`` (concrete indices only).  Negative
    indices count from the end (except with ``"clip"``, as NumPy).

    >>> take(fnp.array([[1., 2.], [3., 4.]]), fnp.array([1, 0]), axis=1)
    Array([[2., 1.],
           [4., 3.]], dtype=float32)
    """
    if out is not None:
        raise TypeError("fnp.take: out= is not supported (funcgrad arrays are immutable)")
    a = asarray(a, where="fnp.take")
    idx = _index_arg(indices, "fnp.take")
    if axis is None:
        a = lax.reshape(a, (get_aval(a).size,))
        axis = 0
    nd = get_aval(a).ndim
    axis = canonicalize_axis(axis, nd) if nd else 0
    if nd == 0:
        raise TypeError("fnp.take: cannot take along an axis of a 0-d array")
    shape = get_aval(a).shape
    n = shape[axis]
    ishape = _idx_shape(idx)
    out_shape = shape[:axis] + ishape + shape[axis + 1:]
    if n == 0:
        if int(np.prod(ishape)) == 0:
            return lax.full(out_shape, 0, get_aval(a).dtype)
        raise IndexError(f"fnp.take: cannot do a non-empty take from an empty axis {axis} "
                         f"(array shape {shape})")
    idx, gmode = _apply_mode(idx, n, mode, "fnp.take")
    if isinstance(idx, np.ndarray):
        info = np.iinfo(np.int32)
        idx = np.clip(idx, info.min, info.max).astype(np.int32)[..., None]
    else:
        idx = lax.expand_dims(idx, (len(ishape),))
    k = len(ishape)
    offset = tuple(range(axis)) + tuple(range(axis + k, axis + k + nd - 1 - axis))
    dn = GatherDimensionNumbers(offset, (axis,), (axis,))
    sizes = tuple(1 if d == axis else s for d, s in enumerate(shape))
    return gather_p.bind(a, idx, dimension_numbers=dn, slice_sizes=sizes,
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices), mode=gmode,
                         fill_value=_static_fill(fill_value, "fnp.take"))


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """``arr`` picked at ``indices`` along ``axis`` (NumPy's ``take_along_axis``).

    Other dims broadcast; negative indices count from the end; out-of-range indices give
    ``fill_value`` (``mode="fill"``, the default, as JAX) or are clamped (``"clip"``).

    >>> x = fnp.array([[10., 30., 20.]])
    >>> take_along_axis(x, fnp.argsort(x, axis=1), axis=1)
    Array([[10., 20., 30.]], dtype=float32)
    """
    arr = asarray(arr, where="fnp.take_along_axis")
    idx = _index_arg(indices, "fnp.take_along_axis")
    if axis is None:
        if len(_idx_shape(idx)) != 1:
            raise TypeError("fnp.take_along_axis: with axis=None, indices must be 1-D, got "
                            f"shape {_idx_shape(idx)}")
        arr = lax.reshape(arr, (get_aval(arr).size,))
        axis = 0
    nd = get_aval(arr).ndim
    if len(_idx_shape(idx)) != nd:
        raise TypeError(f"fnp.take_along_axis: indices (shape {_idx_shape(idx)}) and arr "
                        f"(shape {get_aval(arr).shape}) must have the same number of "
                        "dimensions")
    axis = canonicalize_axis(axis, nd)
    n = get_aval(arr).shape[axis]
    if n == 0:
        return lax.take_along_axis(arr, idx if not isinstance(idx, np.ndarray) else
                                   idx.astype(np.int32), axis)
    idx, gmode = _apply_mode(idx, n, mode, "fnp.take_along_axis")
    if isinstance(idx, np.ndarray):
        info = np.iinfo(np.int32)
        idx = np.clip(idx, info.min, info.max).astype(np.int32)
    return lax.take_along_axis(arr, idx, axis, mode=gmode, fill_value=fill_value)


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """A copy of ``arr`` with ``values`` written at ``indices`` along ``axis``.

    funcgrad arrays are immutable: pass ``inplace=False`` (as in JAX).  Out-of-range
    indices are dropped; negative ones count from the end.

    >>> put_along_axis(fnp.zeros((2, 3)), fnp.array([[2], [0]]), 1., axis=1, inplace=False)
    Array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    if inplace:
        raise ValueError("fnp.put_along_axis: funcgrad arrays are immutable, so the update "
                         "cannot happen in place; pass inplace=False to get a new array")
    arr = asarray(arr, where="fnp.put_along_axis")
    shape0 = get_aval(arr).shape
    idx = _index_arg(indices, "fnp.put_along_axis")
    if axis is None:
        arr = lax.reshape(arr, (get_aval(arr).size,))
        axis = 0
    a_shape = get_aval(arr).shape
    nd = len(a_shape)
    ishape = _idx_shape(idx)
    if len(ishape) != nd:
        raise TypeError(f"fnp.put_along_axis: indices (shape {ishape}) and arr (shape "
                        f"{a_shape}) must have the same number of dimensions")
    axis = canonicalize_axis(axis, nd)
    bshape = tuple(ishape[d] if d == axis else a_shape[d] for d in range(nd))
    for d in range(nd):
        if d != axis and ishape[d] not in (1, a_shape[d]):
            raise TypeError(f"fnp.put_along_axis: indices shape {ishape} does not broadcast "
                            f"to arr shape {a_shape} outside axis {axis}")
    n = a_shape[axis]
    idx = _wrap(idx if _concrete(idx) is None else _concrete(idx), n, False, axis)
    if isinstance(idx, np.ndarray):
        idx = np.broadcast_to(np.clip(idx, -2 ** 31, 2 ** 31 - 1).astype(np.int32), bshape)
    elif ishape != bshape:
        idx = lax.broadcast_in_dim(idx, bshape, tuple(range(nd)))
    v = asarray(values, where="fnp.put_along_axis")
    vshape = get_aval(v).shape
    if broadcast_shapes(vshape, bshape, where="fnp.put_along_axis") != bshape:
        raise TypeError(f"fnp.put_along_axis: values of shape {vshape} do not broadcast to "
                        f"the indices' shape {bshape}")
    v = lax.convert_element_type(v, get_aval(arr).dtype)
    if vshape != bshape:
        v = lax.broadcast_in_dim(v, bshape, tuple(range(nd - len(vshape), nd)))
    if n == 0 or int(np.prod(bshape)) == 0:
        return lax.reshape(arr, shape0)
    others = tuple(d for d in range(nd) if d != axis)
    dn = ScatterDimensionNumbers((), (axis,), (axis,), others, others)
    idx = idx[..., None] if isinstance(idx, np.ndarray) else lax.expand_dims(idx, (nd,))
    out = scatter_p.bind(arr, idx, v, dimension_numbers=dn, indices_are_sorted=False,
                         unique_indices=False, mode=_canon_mode(mode, True))
    return lax.reshape(out, shape0)


# ----------------------------------------------------------------------------- nonzero & co

def nonzero_static(a, size, fill_value=None):
    """``fnp.nonzero(a, size=size, fill_value=...)``: indices of the first ``size``
    nonzero elements, padded with ``fill_value`` (default 0); works under ``jit``.

    >>> nonzero_static(fnp.array([0, 3, 0, 5]), size=3, fill_value=-1)
    (Array([ 1,  3, -1]),)
    """
    a = asarray(a, where="fnp.nonzero")
    aval = get_aval(a)
    if aval.ndim == 0:
        raise ValueError("fnp.nonzero: calling nonzero on a 0-d array is not allowed; use "
                         "fnp.atleast_1d(a) first")
    try:
        size = operator.index(size)
    except TypeError:
        raise TypeError(f"fnp.nonzero: size must be a static int, got {size!r}") from None
    if size < 0:
        raise ValueError(f"fnp.nonzero: size must be non-negative, got {size}")
    shape = aval.shape
    nd = len(shape)
    fills = fill_value if isinstance(fill_value, (tuple, list)) else (fill_value,) * nd
    if len(fills) != nd:
        raise ValueError(f"fnp.nonzero: fill_value has {len(fills)} entries for an array of "
                         f"rank {nd}")
    idt = np.dtype(np.int32)
    fills = [np.zeros((), idt)[()] if f is None else
             (lax.convert_element_type(f, idt) if isinstance(f, (Tracer, Array))
              else np.asarray(f, idt)[()]) for f in fills]
    n = aval.size
    if n == 0 or size == 0:
        return tuple(lax.full((size,), f, idt) for f in fills)
    zero = np.zeros((), aval.dtype)[()]
    mask = lax.reshape(lax.ne(a, zero), (n,))
    mi = lax.convert_element_type(mask, idt)
    pos = lax.sub(lax.cumsum(mi, 0), np.int32(1))
    target = lax.select(mask, pos, lax.full((n,), size, idt))
    flat = lax.iota(idt, n)
    dn = ScatterDimensionNumbers((), (0,), (0,))
    slots = scatter_p.bind(lax.full((size,), 0, idt), lax.expand_dims(target, (1,)), flat,
                           dimension_numbers=dn, indices_are_sorted=True,
                           unique_indices=True, mode="drop")
    count = lax.reduce_sum(mi, (0,))
    valid = lax.lt(lax.iota(idt, size), lax.broadcast_in_dim(count, (size,), ()))
    outs = []
    stride = n
    for d in range(nd):
        stride //= shape[d]
        c = lax.div(slots, np.int32(stride)) if stride != 1 else slots
        c = lax.rem(c, np.int32(shape[d])) if d else c
        f = fills[d]
        fb = lax.broadcast_in_dim(f, (size,), ()) if get_aval(f).ndim == 0 else f
        outs.append(lax.select(valid, c, fb))
    return tuple(outs)


def argwhere(a, *, size=None, fill_value=None):
    """Indices of nonzero elements, one row per element (``(N, a.ndim)``); needs a concrete
    array or a static ``size``.

    >>> argwhere(fnp.array([[0, 1], [2, 0]]))
    Array([[0, 1],
           [1, 0]], dtype=int32)
    """
    from ._shape import stack
    if size is None:
        if isinstance(a, Tracer):
            raise TypeError("fnp.argwhere of a traced array has a data-dependent shape; pass "
                            "size=... (and fill_value)")
        return Array(np.argwhere(np.asarray(a)).astype(np.int32))
    a = asarray(a, where="fnp.argwhere")
    if get_aval(a).ndim == 0:
        a = lax.reshape(a, (1,))
        return lax.slice(lax.expand_dims(nonzero_static(a, size, fill_value)[0], (1,)),
                         (0, 0), (size, 0))
    return stack(nonzero_static(a, size, fill_value), axis=1)


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements of ``ravel(a)``.

    >>> flatnonzero(fnp.array([[0, 1], [2, 0]]))
    Array([1, 2], dtype=int32)
    """
    from ._indexing import nonzero
    a = asarray(a, where="fnp.flatnonzero")
    return nonzero(lax.reshape(a, (get_aval(a).size,)), size=size, fill_value=fill_value)[0]


def compress(condition, a, axis=None, *, size=None, fill_value=0):
    """Slices of ``a`` along ``axis`` where the concrete 1-D ``condition`` is true.

    >>> compress([False, True, True], fnp.array([1., 2., 3.]))
    Array([2., 3.], dtype=float32)
    """
    if isinstance(condition, Tracer):
        raise TypeError("fnp.compress: the condition must be concrete (it decides the "
                        "result's shape); use fnp.where for a traced condition")
    cond = np.asarray(condition).astype(bool)
    if cond.ndim != 1:
        raise TypeError(f"fnp.compress: condition must be 1-D, got shape {cond.shape}")
    a = asarray(a, where="fnp.compress")
    if axis is None:
        a = lax.reshape(a, (get_aval(a).size,))
        axis = 0
    axis = canonicalize_axis(axis, get_aval(a).ndim)
    n = get_aval(a).shape[axis]
    if cond.size > n and cond[n:].any():
        raise IndexError(f"fnp.compress: condition has {cond.size} entries but axis {axis} "
                         f"has size {n}")
    sel = np.nonzero(cond[:n])[0]
    if size is not None:
        sel = np.concatenate([sel, np.full(max(size - sel.size, 0), n)])[:size]
        return take(a, sel, axis=axis, mode="fill", fill_value=fill_value)
    return take(a, sel, axis=axis, mode="clip")


def extract(condition, arr, *, size=None, fill_value=0):
    """Elements of ``ravel(arr)`` where ``ravel(condition)`` is nonzero (concrete).

    >>> extract(fnp.array([1, 0, 1]) > 0, fnp.array([5., 6., 7.]))
    Array([5., 7.], dtype=float32)
    """
    if isinstance(condition, Tracer):
        raise TypeError("fnp.extract: the condition must be concrete; use fnp.where for a "
                        "traced condition")
    cond = np.asarray(condition).ravel() != 0
    return compress(cond, arr, axis=None, size=size, fill_value=fill_value)


def choose(a, choices, out=None, mode="raise"):
    """``choices[a[i]][i]`` elementwise, all broadcast together.

    ``mode``: ``"raise"`` (needs a concrete ``a``), ``"wrap"`` or ``"clip"``.

    >>> choose(fnp.array([0, 1, 0]), [fnp.zeros(3), fnp.ones(3)])
    Array([0., 1., 0.], dtype=float32)
    """
    from ._promote import promote
    from ._shape import stack
    if out is not None:
        raise TypeError("fnp.choose: out= is not supported (funcgrad arrays are immutable)")
    choices = list(choices)
    m = len(choices)
    if m == 0:
        raise ValueError("fnp.choose: choices must not be empty")
    idx = _index_arg(a, "fnp.choose")
    c = _concrete(idx)
    if c is None and mode == "raise":
        raise TypeError("fnp.choose: mode='raise' needs a concrete index array; it cannot "
                        "raise inside jit/vmap. Use mode='wrap' or mode='clip'.")
    if mode == "raise":
        if c.size and (c.min() < 0 or c.max() >= m):
            raise ValueError(f"fnp.choose: invalid entry in choice array (indices must lie in "
                             f"[0, {m}))")
    elif mode == "wrap":
        idx = np.mod(c, m) if c is not None else lax.rem(
            lax.add(lax.rem(idx, np.asarray(m, get_aval(idx).dtype)[()]),
                    np.asarray(m, get_aval(idx).dtype)[()]), np.asarray(m, get_aval(idx).dtype)[()])
    elif mode == "clip":
        idx = np.clip(c, 0, m - 1) if c is not None else lax.clamp(
            np.asarray(0, get_aval(idx).dtype)[()], idx, np.asarray(m - 1, get_aval(idx).dtype)[()])
    else:
        raise ValueError(f"fnp.choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    cs = promote("fnp.choose", *choices)
    shape = broadcast_shapes(_idx_shape(idx), *[get_aval(x).shape for x in cs],
                             where="fnp.choose")
    from ._promote import broadcast_to_shape
    cs = [broadcast_to_shape(x, shape) for x in cs]
    st = stack(cs, axis=0)
    if isinstance(idx, np.ndarray):
        idx = np.broadcast_to(idx.astype(np.int32), shape)[None]
    else:
        idx = lax.expand_dims(broadcast_to_shape(lax.convert_element_type(idx, np.int32),
                                                 shape), (0,))
    return lax.reshape(lax.take_along_axis(st, idx, 0), shape)


def select(condlist, choicelist, default=0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, else
    ``default`` (NumPy's ``select``).

    >>> x = fnp.arange(4.)
    >>> select([x < 1, x > 2], [x, x * 10], default=-1.)
    Array([ 0., -1., -1., 30.], dtype=float32)
    """
    from ._ufuncs import where
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"fnp.select: condlist has {len(condlist)} entries but choicelist "
                         f"has {len(choicelist)}")
    if not condlist:
        raise ValueError("fnp.select: condlist must not be empty")
    for i, c in enumerate(condlist):
        c = asarray(c, where="fnp.select")
        if get_aval(c).dtype != np.bool_:
            raise TypeError(f"fnp.select: condlist entry {i} has dtype {get_aval(c).dtype}; "
                            "conditions must be boolean")
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(c, v, out)
    shape = broadcast_shapes(*[get_aval(asarray(v)).shape for v in condlist + choicelist],
                             get_aval(asarray(default)).shape, where="fnp.select")
    if get_aval(out).shape != shape:
        from ._promote import broadcast_to_shape
        out = broadcast_to_shape(out, shape)
    return out


def _int_arrays(*arrs):
    return tuple(Array(np.asarray(v).astype(dtypes.default_int_dtype())) for v in arrs)


def diag_indices(n, ndim=2):
    """Indices of the main diagonal of an ``(n,) * ndim`` array.

    >>> diag_indices(2)
    (Array([0, 1], dtype=int32), Array([0, 1], dtype=int32))
    """
    return _int_arrays(*np.diag_indices(operator.index(n), operator.index(ndim)))


def diag_indices_from(arr):
    """``diag_indices`` for a square array ``arr``.

    >>> diag_indices_from(fnp.zeros((2, 2)))[0]
    Array([0, 1], dtype=int32)
    """
    shape = get_aval(asarray(arr)).shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(f"fnp.diag_indices_from: needs a square array of rank >= 2, got "
                         f"shape {shape}")
    return diag_indices(shape[0], len(shape))


def tril_indices(n, k=0, m=None):
    """Row and column indices of the lower triangle of an ``(n, m)`` array.

    >>> tril_indices(2)
    (Array([0, 1, 1], dtype=int32), Array([0, 0, 1], dtype=int32))
    """
    return _int_arrays(*np.tril_indices(operator.index(n), operator.index(k), m))


def triu_indices(n, k=0, m=None):
    """Row and column indices of the upper triangle of an ``(n, m)`` array.

    >>> triu_indices(2)
    (Array([0, 0, 1], dtype=int32), Array([0, 1, 1], dtype=int32))
    """
    return _int_arrays(*np.triu_indices(operator.index(n), operator.index(k), m))


def tril_indices_from(arr, k=0):
    """``tril_indices`` for the last two dims of ``arr``.

    >>> tril_indices_from(fnp.zeros((2, 2)))[1]
    Array([0, 0, 1], dtype=int32)
    """
    shape = get_aval(asarray(arr)).shape
    if len(shape) != 2:
        raise ValueError(f"fnp.tril_indices_from: arr must be 2-D, got shape {shape}")
    return tril_indices(shape[0], k, shape[1])


def triu_indices_from(arr, k=0):
    """``triu_indices`` for the last two dims of ``arr``.

    >>> triu_indices_from(fnp.zeros((2, 2)))[1]
    Array([0, 1, 1], dtype=int32)
    """
    shape = get_aval(asarray(arr)).shape
    if len(shape) != 2:
        raise ValueError(f"fnp.triu_indices_from: arr must be 2-D, got shape {shape}")
    return triu_indices(shape[0], k, shape[1])


def ix_(*args):
    """Open-mesh index arrays: ``x[ix_(rows, cols)]`` picks a sub-grid.

    >>> x = fnp.arange(9).reshape(3, 3)
    >>> x[ix_([0, 2], [1])]
    Array([[1],
           [7]], dtype=int32)
    """
    n = len(args)
    out = []
    for i, a in enumerate(args):
        if isinstance(a, Tracer):
            aval = a.aval
            if aval.dtype == np.bool_:
                raise TypeError("fnp.ix_: boolean arguments must be concrete")
            if aval.ndim != 1:
                raise ValueError(f"fnp.ix_: arguments must be 1-D, got shape {aval.shape}")
            shape = [1] * n
            shape[i] = aval.shape[0]
            out.append(lax.reshape(a, tuple(shape)))
            continue
        v = np.asarray(a)
        if v.ndim != 1:
            raise ValueError(f"fnp.ix_: arguments must be 1-D, got shape {v.shape}")
        if v.dtype == np.bool_:
            v = np.nonzero(v)[0]
        elif v.size == 0:
            v = v.astype(np.intp)
        elif v.dtype.kind not in "iu":
            raise TypeError(f"fnp.ix_: arguments must be integer or boolean, got {v.dtype}")
        shape = [1] * n
        shape[i] = v.shape[0]
        dt = v.dtype if isinstance(a, Array) else dtypes.default_int_dtype()
        out.append(Array(v.reshape(shape).astype(dt)))
    return tuple(out)


__all__ = ["take", "take_along_axis", "put_along_axis", "argwhere", "flatnonzero",
           "compress", "extract", "choose", "select", "diag_indices", "diag_indices_from",
           "tril_indices", "tril_indices_from", "triu_indices", "triu_indices_from", "ix_"]
