"""The rest of ``funcgrad.numpy``: splitting, tiling, flips, rolls, padding, NaN-aware
reductions, set-like and comparison helpers, polynomials, statistics and histograms,
written only with ``lax`` and the other ``funcgrad.numpy`` modules.

Functions that need a concrete value to decide a shape (``histogram`` with data-dependent
edges is fine; ``bincount`` without ``length=``, ``argwhere``, ``delete`` with array
indices ...) say so in their docstring and raise a clear error on traced inputs.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer, get_aval
from . import _creation as _C
from . import _reductions as _R
from . import _shape as _S
from . import _ufuncs as _U
from ._promote import dtype_arg as _dtype_arg, is_python_scalar
from ._promote import (asarray as _asarray, broadcast_shapes as _bshapes,
                       broadcast_to_shape as _bto, promote as _promote,
                       result_dtype as _result_dtype, scalar_like as _scalar)

_bmax, _bmin, _bsum, _babs, _bround = builtins.max, builtins.min, builtins.sum, builtins.abs, \
    builtins.round
_SCALARS = (bool, int, float, complex)
_is_py = is_python_scalar


# ============================================================================ helpers

def _arr(x, name):
    return _asarray(x, where=f"fnp.{name}")


def _aval(x):
    return get_aval(x)


def _ax(axis, nd, name):
    a = int(axis)
    if not -nd <= a < _bmax(nd, 1):
        raise ValueError(f"fnp.{name}: axis {a} is out of bounds for an array of rank {nd}")
    return a % nd if nd else 0


def _is_concrete(x):
    return not isinstance(x, Tracer)


def _concrete(x, name, what):
    """The NumPy value of ``x``; a clear error when it is traced."""
    if isinstance(x, Tracer):
        raise TypeError(f"fnp.{name}: {what} must be concrete (its value decides the shape "
                        f"of the result), got a traced value of type {x.aval.str_short()}. "
                        "Pass it as a static argument (jit(..., static_argnums=...)) or use "
                        "the size=/length= argument where the function has one.")
    if isinstance(x, (list, tuple)):
        if any(isinstance(e, Tracer) for e in _leaves(x)):
            raise TypeError(f"fnp.{name}: {what} must be concrete, got traced values")
        return np.asarray([np.asarray(e) if isinstance(e, Array) else e for e in x]) \
            if any(isinstance(e, Array) for e in x) else np.asarray(x)
    return np.asarray(x)


def _leaves(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _leaves(e)
    else:
        yield x


def _inexact(x):
    if _aval(x).dtype.kind in "fc":
        return x
    return lax.convert_element_type(x, dtypes.default_float_dtype())


def _float_dtype_of(x):
    dt = _aval(x).dtype
    return dt if dt.kind in "fc" else dtypes.default_float_dtype()


def _full(shape, value, dt):
    return lax.full(tuple(shape), value, dt)


def _slice_axis(x, start, stop, axis, stride=1):
    return lax.slice_in_dim(x, int(start), int(stop), int(stride), axis)


def _promote_dt(name, *xs, inexact=False):
    """Convert to one dtype (JAX's promotion) without broadcasting shapes."""
    xs = [_arr(x, name) for x in xs]
    dt, weak = _result_dtype(*xs)
    if inexact and dt.kind not in "fc":
        dt = dtypes.default_float_dtype()
    return [x if _aval(x).dtype == dt else lax.convert_element_type(x, dt, weak) for x in xs]


def _scalar_operand(v, x, name):
    """``v`` as an array of the dtype it promotes to with ``x`` (Python scalars exact)."""
    if _is_py(v):
        dt, _ = _result_dtype(x, v)
        return _asarray(v, dt, where=f"fnp.{name}")
    return _arr(v, name)


def _take_static(x, idx, axis):
    """``x`` indexed along ``axis`` with a concrete integer array ``idx`` (in bounds).

    Lowered to slices (stride runs, reversed runs, repeated single elements) joined by
    ``concatenate``; many short runs fall back to a gather through ``fnp.take``.
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    av = _aval(x)
    n = av.shape[axis]
    if idx.size == 0:
        shape = list(av.shape)
        shape[axis] = 0
        return lax.slice_in_dim(x, 0, 0, 1, axis) if n else lax.reshape(x, shape)
    if idx.size == n and np.array_equal(idx, np.arange(n)):
        return x
    runs = []
    i = 0
    while i < idx.size:
        j = i + 1
        if j < idx.size:
            step = int(idx[j] - idx[i])
            while j + 1 < idx.size and idx[j + 1] - idx[j] == step:
                j += 1
            j += 1
        else:
            step = 1
        runs.append((int(idx[i]), step, j - i))
        i = j
    if len(runs) > 32:
        from ._advanced import take
        return take(x, Array(idx.astype(np.int32)), axis=axis)
    pieces = []
    for start, step, cnt in runs:
        if step == 0 or cnt == 1:
            p = _slice_axis(x, start, start + 1, axis)
            if cnt > 1:
                shape = list(_aval(p).shape)
                shape[axis] = cnt
                p = lax.broadcast_in_dim(p, tuple(shape), tuple(range(len(shape))))
        elif step > 0:
            p = _slice_axis(x, start, start + step * (cnt - 1) + 1, axis, step)
        else:
            last = start + step * (cnt - 1)
            p = lax.rev(_slice_axis(x, last, start + 1, axis, -step), (axis,))
        pieces.append(p)
    return lax.concatenate(pieces, axis) if len(pieces) > 1 else pieces[0]


def _take_traced(x, idx, axis):
    """Gather with (possibly traced) in-bounds integer indices along ``axis``."""
    from ._advanced import take
    return take(x, idx, axis=axis)


def _moveaxis_last(x, axis):
    nd = _aval(x).ndim
    if axis == nd - 1:
        return x
    perm = [i for i in range(nd) if i != axis] + [axis]
    return lax.transpose(x, perm)


def _expand_last(x, n):
    """``x[..., None]`` broadcast to ``x.shape + (n,)``."""
    sh = _aval(x).shape
    return lax.broadcast_in_dim(x, sh + (n,), tuple(range(len(sh))))


# ============================================================================ splitting

def _split_points(n, indices_or_sections, name, even):
    if isinstance(indices_or_sections, (int, np.integer)) and not isinstance(
            indices_or_sections, bool):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"fnp.{name}: number of sections must be larger than 0, got {k}")
        if even and n % k:
            raise ValueError(f"fnp.{name}: array split does not result in an equal division "
                             f"(axis of size {n} into {k} sections); use fnp.array_split")
        each, extra = builtins.divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        return list(np.cumsum([0] + sizes))
    pts = [int(i) for i in _concrete(indices_or_sections, name, "the split indices").reshape(-1)]
    return [0] + pts + [n]


def _split(name, ary, indices_or_sections, axis, even):
    x = _arr(ary, name)
    av = _aval(x)
    if av.ndim == 0:
        raise ValueError(f"fnp.{name}: cannot split a 0-d array")
    axis = _ax(axis, av.ndim, name)
    n = av.shape[axis]
    pts = _split_points(n, indices_or_sections, name, even)
    out = []
    for a, b in zip(pts[:-1], pts[1:]):
        a = _bmin(_bmax(a + n if a < 0 else a, 0), n)
        b = _bmin(_bmax(b + n if b < 0 else b, 0), n)
        b = _bmax(a, b)
        out.append(_slice_axis(x, a, b, axis))
    return out


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections (an int) or at the given indices along ``axis``.

    >>> [a.shape for a in fnp.split(fnp.arange(6), 3)]
    [(2,), (2,), (2,)]
    """
    return _split("split", ary, indices_or_sections, axis, True)


def array_split(ary, indices_or_sections, axis=0):
    """Like ``split``, but the sections may differ in size by one.

    >>> [a.shape for a in fnp.array_split(fnp.arange(5), 2)]
    [(3,), (2,)]
    """
    return _split("array_split", ary, indices_or_sections, axis, False)


def hsplit(ary, indices_or_sections):
    """Split horizontally (axis 1, or axis 0 for 1-D arrays).

    >>> len(fnp.hsplit(fnp.ones((2, 4)), 2))
    2
    """
    x = _arr(ary, "hsplit")
    if _aval(x).ndim == 0:
        raise ValueError("fnp.hsplit only works on arrays of 1 or more dimensions")
    return _split("hsplit", x, indices_or_sections, 1 if _aval(x).ndim > 1 else 0, True)


def vsplit(ary, indices_or_sections):
    """Split vertically (axis 0) an array of rank >= 2.

    >>> len(fnp.vsplit(fnp.ones((4, 2)), 2))
    2
    """
    x = _arr(ary, "vsplit")
    if _aval(x).ndim < 2:
        raise ValueError("fnp.vsplit only works on arrays of 2 or more dimensions")
    return _split("vsplit", x, indices_or_sections, 0, True)


def dsplit(ary, indices_or_sections):
    """Split along the third axis an array of rank >= 3.

    >>> len(fnp.dsplit(fnp.ones((1, 1, 4)), 2))
    2
    """
    x = _arr(ary, "dsplit")
    if _aval(x).ndim < 3:
        raise ValueError("fnp.dsplit only works on arrays of 3 or more dimensions")
    return _split("dsplit", x, indices_or_sections, 2, True)


def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis``, as a tuple.

    >>> len(fnp.unstack(fnp.ones((3, 2))))
    3
    """
    x = _arr(x, "unstack")
    av = _aval(x)
    if av.ndim == 0:
        raise ValueError("fnp.unstack needs an array of rank >= 1")
    axis = _ax(axis, av.ndim, "unstack")
    return tuple(lax.index_in_dim(x, i, axis, keepdims=False) for i in range(av.shape[axis]))


# ============================================================================ tiling

def tile(A, reps):
    """Repeat the whole array ``reps`` times along each axis.

    >>> fnp.tile(fnp.array([1, 2]), 2).tolist()
    [1, 2, 1, 2]
    """
    x = _arr(A, "tile")
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(
        int(r) for r in _concrete(reps, "tile", "reps").reshape(-1))
    if any(r < 0 for r in reps):
        raise ValueError(f"fnp.tile: negative repetitions {reps}")
    sh = _aval(x).shape
    nd = _bmax(len(reps), len(sh))
    reps = (1,) * (nd - len(reps)) + tuple(int(r) for r in reps)
    sh = (1,) * (nd - len(sh)) + sh
    x = lax.reshape(x, sh)
    big = tuple(v for r, s in zip(reps, sh) for v in (r, s))
    y = lax.broadcast_in_dim(x, big, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(y, tuple(r * s for r, s in zip(reps, sh)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Repeat each element ``repeats`` times (an int, or one count per element).

    Traced ``repeats`` need ``total_repeat_length`` (the static output length; extra
    values are dropped, a shortfall repeats the last element, as in JAX).

    >>> fnp.repeat(fnp.array([1, 2]), 2).tolist()
    [1, 1, 2, 2]
    """
    x = _arr(a, "repeat")
    if axis is None:
        x = lax.reshape(x, (_aval(x).size,))
        axis = 0
    av = _aval(x)
    if av.ndim == 0:
        x = lax.reshape(x, (1,))
        av = _aval(x)
    axis = _ax(axis, av.ndim, "repeat")
    n = av.shape[axis]
    if isinstance(repeats, Tracer):
        if total_repeat_length is None:
            raise TypeError("fnp.repeat: traced `repeats` decide the output shape; pass "
                            "total_repeat_length=<static int>")
        reps = lax.convert_element_type(repeats, np.int32)
        if _aval(reps).ndim == 0:
            reps = lax.broadcast_in_dim(reps, (n,), ())
        L = int(total_repeat_length)
        ends = lax.cumsum(reps, 0)                                 # (n,)
        pos = lax.iota(np.int32, L)
        # index of the element covering output position p: #{ends <= p}
        cmp = lax.le(lax.broadcast_in_dim(ends, (L, n), (1,)),
                     lax.broadcast_in_dim(pos, (L, n), (0,)))
        idx = lax.reduce_sum(lax.convert_element_type(cmp, np.int32), (1,))
        idx = lax.min(idx, np.int32(_bmax(n - 1, 0)))
        return _take_traced(x, idx, axis)
    reps = _concrete(repeats, "repeat", "repeats").astype(np.int64)
    if (reps < 0).any():
        raise ValueError(f"fnp.repeat: negative repeats {reps}")
    if reps.ndim == 0 or reps.size == 1:
        r = int(reps.reshape(()))
        if total_repeat_length is None:
            sh = av.shape
            big = sh[:axis + 1] + (r,) + sh[axis + 1:]
            dims = tuple(i if i <= axis else i + 1 for i in range(av.ndim))
            y = lax.broadcast_in_dim(x, big, dims)
            return lax.reshape(y, sh[:axis] + (n * r,) + sh[axis + 1:])
        reps = np.full(n, r)
    if reps.shape != (n,):
        raise ValueError(f"fnp.repeat: repeats of shape {reps.shape} do not match axis "
                         f"{axis} of size {n}")
    idx = np.repeat(np.arange(n), reps)
    if total_repeat_length is not None:
        L = int(total_repeat_length)
        if idx.size >= L:
            idx = idx[:L]
        else:
            idx = np.concatenate([idx, np.full(L - idx.size, idx[-1] if idx.size else 0)])
    return _take_static(x, idx, axis)


def resize(a, new_shape):
    """A new array of ``new_shape`` filled by repeating ``a`` (flattened).

    >>> fnp.resize(fnp.array([1, 2, 3]), (2, 2)).tolist()
    [[1, 2], [3, 1]]
    """
    x = _S.ravel(_arr(a, "resize"))
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(
        int(s) for s in new_shape)
    total = int(np.prod(new_shape, dtype=np.int64))
    n = _aval(x).size
    if n == 0 or total == 0:
        return _C.zeros(new_shape, _aval(x).dtype)
    k = -(-total // n)
    return lax.reshape(lax.slice(tile(x, k), (0,), (total,)), new_shape)


# ============================================================================ flips and rolls

def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default).

    >>> fnp.flip(fnp.array([1, 2, 3])).tolist()
    [3, 2, 1]
    """
    x = _arr(m, "flip")
    nd = _aval(x).ndim
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(_ax(a, nd, "flip") for a in ((axis,) if isinstance(
            axis, (int, np.integer)) else axis))
    return lax.rev(x, axes) if axes else x


def fliplr(m):
    """Reverse along axis 1.

    >>> fnp.fliplr(fnp.eye(2)).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    x = _arr(m, "fliplr")
    if _aval(x).ndim < 2:
        raise ValueError("fnp.fliplr: input must be >= 2-d")
    return lax.rev(x, (1,))


def flipud(m):
    """Reverse along axis 0.

    >>> fnp.flipud(fnp.array([1, 2])).tolist()
    [2, 1]
    """
    x = _arr(m, "flipud")
    if _aval(x).ndim < 1:
        raise ValueError("fnp.flipud: input must be >= 1-d")
    return lax.rev(x, (0,))


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``.

    >>> fnp.rot90(fnp.array([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    x = _arr(m, "rot90")
    nd = _aval(x).ndim
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("fnp.rot90: len(axes) must be 2")
    a0, a1 = _ax(axes[0], nd, "rot90"), _ax(axes[1], nd, "rot90")
    if a0 == a1:
        raise ValueError("fnp.rot90: axes must be different")
    k = int(k) % 4
    if k == 0:
        return x
    if k == 2:
        return lax.rev(x, tuple(sorted((a0, a1))))
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return lax.transpose(lax.rev(x, (a1,)), perm)
    return lax.rev(lax.transpose(x, perm), (a1,))


def roll(a, shift, axis=None):
    """Shift elements cyclically along ``axis`` (the flattened array by default).

    ``shift`` and ``axis`` may be tuples; a traced shift lowers to a gather.

    >>> fnp.roll(fnp.array([1, 2, 3]), 1).tolist()
    [3, 1, 2]
    """
    x = _arr(a, "roll")
    if axis is None:
        sh = _aval(x).shape
        return lax.reshape(roll(lax.reshape(x, (_aval(x).size,)), shift, 0), sh)
    nd = _aval(x).ndim
    if isinstance(shift, Tracer) or (isinstance(shift, (list, tuple)) and any(
            isinstance(s, Tracer) for s in shift)):
        shifts = _S.ravel(lax.convert_element_type(_arr(shift, "roll"), np.int32)) \
            if not isinstance(shift, (list, tuple)) else _S.stack(
                [lax.convert_element_type(_arr(s, "roll"), np.int32) for s in shift])
        axes = np.atleast_1d(np.asarray(axis))
        k = _bmax(_aval(shifts).shape[0], axes.size)
        if _aval(shifts).shape[0] == 1 and k > 1:
            shifts = lax.broadcast_in_dim(lax.reshape(shifts, ()), (k,), ())
        axes = np.broadcast_to(axes, (k,))
        for i, ax in enumerate(axes):
            ax = _ax(ax, nd, "roll")
            n = _aval(x).shape[ax]
            if n == 0:
                continue
            s = lax.reshape(lax.slice(shifts, (i,), (i + 1,)), ())
            idx = _U.remainder(lax.sub(lax.iota(np.int32, n), s), np.int32(n))
            x = _take_traced(x, idx, ax)
        return x
    sh_arr, ax_arr = np.broadcast_arrays(np.asarray(_concrete(shift, "roll", "shift")),
                                         np.asarray(axis))
    total = {}
    for s, ax in zip(sh_arr.reshape(-1), ax_arr.reshape(-1)):
        ax = _ax(ax, nd, "roll")
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = _aval(x).shape[ax]
        if n == 0:
            continue
        s %= n
        if s:
            x = lax.concatenate([_slice_axis(x, n - s, n, ax), _slice_axis(x, 0, n - s, ax)],
                                ax)
    return x


def rollaxis(a, axis, start=0):
    """Roll ``axis`` backwards until it lies before ``start`` (prefer ``moveaxis``).

    >>> fnp.rollaxis(fnp.ones((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    x = _arr(a, "rollaxis")
    nd = _aval(x).ndim
    axis = _ax(axis, nd, "rollaxis")
    if not -nd <= start <= nd:
        raise ValueError(f"fnp.rollaxis: start {start} out of range for rank {nd}")
    start = start % (nd + 1) if start < 0 else start
    if axis < start:
        start -= 1
    if axis == start:
        return x
    return _S.moveaxis(x, axis, start)


# ============================================================================ pad

def _pad_widths(pad_width, nd, name="pad", what="pad_width"):
    pw = _concrete(pad_width, name, what)
    if pw.dtype.kind not in "iu":
        if pw.dtype.kind == "f" and np.all(pw == np.round(pw)):
            pw = pw.astype(np.int64)
        else:
            raise TypeError(f"fnp.{name}: `{what}` must be of integral type, got {pw.dtype}")
    try:
        pw = np.broadcast_to(pw.astype(np.int64), (nd, 2))
    except ValueError:
        raise ValueError(f"fnp.{name}: {what} of shape {np.shape(pad_width)} cannot be "
                         f"broadcast to ({nd}, 2)") from None
    if (pw < 0).any():
        raise ValueError(f"fnp.{name}: index can't contain negative values ({what}="
                         f"{pw.tolist()})")
    return [(int(a), int(b)) for a, b in pw]


def _pad_values(vals, nd, dt):
    """Per-axis (before, after) values: Python/NumPy scalars or traced scalars."""
    if isinstance(vals, (Tracer, Array)) and _aval(vals).ndim == 0:
        return [(vals, vals)] * nd
    if isinstance(vals, (Tracer, Array)):
        v = vals
        sh = _aval(v).shape
        if len(sh) == 1:
            v = lax.reshape(v, (1,) + sh)
        b = _S.broadcast_to(v, (nd, 2))
        return [(lax.reshape(lax.slice(b, (i, 0), (i + 1, 1)), ()),
                 lax.reshape(lax.slice(b, (i, 1), (i + 1, 2)), ())) for i in range(nd)]
    arr = np.asarray(vals)
    b = np.broadcast_to(arr if arr.ndim != 1 else arr.reshape(1, -1), (nd, 2))
    return [(b[i, 0][()], b[i, 1][()]) for i in range(nd)]


def _as_fill(v, dt):
    if isinstance(v, (Tracer, Array)):
        return lax.convert_element_type(v, dt)
    return np.asarray(v).astype(dt)[()]


def _pad_block(x, axis, width, value):
    shape = list(_aval(x).shape)
    shape[axis] = width
    dt = _aval(x).dtype
    v = _as_fill(value, dt)
    if isinstance(v, (Tracer, Array)):
        return lax.broadcast_in_dim(v, tuple(shape), ())
    return lax.full(tuple(shape), v, dt)


def _pad_reflect(x, axis, lo, hi, odd, include_edge, n0):
    """NumPy's iterative reflect/symmetric padding (handles pads wider than the axis)."""
    eo = 1 if include_edge else 0
    cur = x
    while lo > 0 or hi > 0:
        L = _aval(cur).shape[axis]
        if include_edge:
            old = L // n0 * n0
        else:
            old = (L - 1) // (n0 - 1) * (n0 - 1) + 1 - 1
        if lo > 0:
            c = _bmin(old, lo)
            chunk = lax.rev(_slice_axis(cur, 1 - eo, c + 1 - eo, axis), (axis,))
            if odd:
                edge = _slice_axis(cur, 0, 1, axis)
                chunk = _U.subtract(_U.multiply(2, _bto(edge, _aval(chunk).shape)), chunk)
            cur = lax.concatenate([chunk, cur], axis)
            lo -= c
        if hi > 0:
            c = _bmin(old, hi)
            L = _aval(cur).shape[axis]
            chunk = lax.rev(_slice_axis(cur, L - 1 - c + eo, L - 1 + eo, axis), (axis,))
            if odd:
                edge = _slice_axis(cur, L - 1, L, axis)
                chunk = _U.subtract(_U.multiply(2, _bto(edge, _aval(chunk).shape)), chunk)
            cur = lax.concatenate([cur, chunk], axis)
            hi -= c
    return cur


def _stat_len(stat_length, nd):
    if stat_length is None:
        return [(None, None)] * nd
    return [(a, b) for a, b in _pad_widths(stat_length, nd, "pad", "stat_length")]


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array (NumPy's ``np.pad``).

    ``pad_width``: an int, ``(before, after)``, or one pair per axis. Modes ``constant``
    (``constant_values``, may be traced), ``edge``, ``reflect`` and ``symmetric``
    (``reflect_type='even'|'odd'``), ``wrap``, ``linear_ramp`` (``end_values``),
    ``maximum``/``minimum``/``mean`` (``stat_length``) and ``empty`` (zeros).

    >>> fnp.pad(fnp.array([1, 2]), 1, mode='edge').tolist()
    [1, 1, 2, 2]
    """
    x = _arr(array, "pad")
    av = _aval(x)
    nd = av.ndim
    widths = _pad_widths(pad_width, nd)
    allowed = {"constant": {"constant_values"}, "edge": set(), "wrap": set(),
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "linear_ramp": {"end_values"}, "maximum": {"stat_length"},
               "minimum": {"stat_length"}, "mean": {"stat_length"}, "empty": set()}
    if callable(mode) or mode not in allowed:
        raise NotImplementedError(f"fnp.pad: mode {mode!r} is not supported; use one of "
                                  f"{sorted(allowed)}")
    bad = set(kwargs) - allowed[mode]
    if bad:
        raise ValueError(f"fnp.pad: unsupported keyword arguments for mode {mode!r}: "
                         f"{sorted(bad)}")
    if mode in ("constant", "empty"):
        cv = kwargs.get("constant_values", 0) if mode == "constant" else 0
        if _is_py(cv) or (isinstance(cv, (np.ndarray, np.generic, Array,
                                                          Tracer)) and np.ndim(cv) == 0
                                         if not isinstance(cv, Tracer) else
                                         _aval(cv).ndim == 0):
            if not any(a or b for a, b in widths):
                return x
            pv = _as_fill(cv, av.dtype)
            return lax.pad(x, pv, [(a, b, 0) for a, b in widths])
        vals = _pad_values(cv, nd, av.dtype)
        for ax, ((a, b), (va, vb)) in enumerate(zip(widths, vals)):
            parts = ([_pad_block(x, ax, a, va)] if a else []) + [x] + (
                [_pad_block(x, ax, b, vb)] if b else [])
            x = lax.concatenate(parts, ax) if len(parts) > 1 else x
        return x
    for ax, (a, b) in enumerate(widths):
        if (a or b) and av.shape[ax] == 0:
            raise ValueError(f"fnp.pad: can't extend empty axis {ax} using modes other than "
                             f"'constant' or 'empty' (shape {av.shape})")
    if mode in ("edge", "wrap"):
        for ax, (a, b) in enumerate(widths):
            if a or b:
                n = _aval(x).shape[ax]
                idx = np.pad(np.arange(n), (a, b), mode=mode)
                x = _take_static(x, idx, ax)
        return x
    if mode in ("reflect", "symmetric"):
        rt = kwargs.get("reflect_type", "even")
        if rt not in ("even", "odd"):
            raise ValueError(f"fnp.pad: reflect_type must be 'even' or 'odd', got {rt!r}")
        for ax, (a, b) in enumerate(widths):
            if not (a or b):
                continue
            n = _aval(x).shape[ax]
            if n == 1:
                x = _take_static(x, np.zeros(a + b + 1, np.int64), ax)
                continue
            x = _pad_reflect(x, ax, a, b, rt == "odd", mode == "symmetric", n)
        return x
    if mode == "linear_ramp":
        ev = _pad_values(kwargs.get("end_values", 0), nd, av.dtype)
        for ax, ((a, b), (va, vb)) in enumerate(zip(widths, ev)):
            n = _aval(x).shape[ax]
            parts = []
            if a:
                parts.append(_ramp(x, ax, a, va, _slice_axis(x, 0, 1, ax), False))
            parts.append(x)
            if b:
                parts.append(_ramp(x, ax, b, vb, _slice_axis(x, n - 1, n, ax), True))
            x = lax.concatenate(parts, ax) if len(parts) > 1 else x
        return x
    # maximum / minimum / mean
    red = {"maximum": _R.max, "minimum": _R.min, "mean": _R.mean}[mode]
    sl = _stat_len(kwargs.get("stat_length"), nd)
    for ax, ((a, b), (la, lb)) in enumerate(zip(widths, sl)):
        if not (a or b):
            continue
        n = _aval(x).shape[ax]
        parts = []
        for width, length, left in ((a, la, True), (b, lb, False)):
            if not width:
                continue
            k = n if length is None else _bmax(1, _bmin(int(length), n))
            region = _slice_axis(x, 0, k, ax) if left else _slice_axis(x, n - k, n, ax)
            s = red(region, axis=ax, keepdims=True)
            if mode == "mean" and av.dtype.kind in "iu":
                s = lax.convert_element_type(_U.rint(s), av.dtype)
            elif _aval(s).dtype != av.dtype:
                s = lax.convert_element_type(s, av.dtype)
            shape = list(_aval(x).shape)
            shape[ax] = width
            parts.append((left, lax.broadcast_in_dim(s, tuple(shape), tuple(range(nd)))))
        x = lax.concatenate([p for left, p in parts if left] + [x] +
                            [p for left, p in parts if not left], ax)
    return x


def _ramp(x, ax, width, end, edge, right):
    """``linear_ramp``: ``linspace(end, edge, width, endpoint=False)`` as NumPy."""
    dt = _aval(x).dtype
    ft = dt if dt.kind in "fc" else dtypes.default_float_dtype()
    edge = lax.convert_element_type(edge, ft)
    e = _as_fill(end, ft)
    shape = list(_aval(x).shape)
    shape[ax] = width
    eb = _bto(edge, tuple(shape))
    step = _U.true_divide(_U.subtract(eb, e), np.asarray(width, ft)[()])
    tb = lax.broadcasted_iota(ft, tuple(shape), ax)
    ramp = _U.add(_U.multiply(tb, step), e)
    if right:
        ramp = lax.rev(ramp, (ax,))
    if dt.kind in "iu":
        ramp = lax.convert_element_type(_U.floor(ramp), dt)
    elif dt != ft:
        ramp = lax.convert_element_type(ramp, dt)
    return ramp


# ============================================================================ elementwise extras

def fmax(x1, x2, /):
    """Elementwise maximum that ignores NaNs (NaN only where both are NaN).

    >>> fnp.fmax(fnp.array([1.0, fnp.nan]), 0.0).tolist()
    [1.0, 0.0]
    """
    a, b = _promote("fnp.fmax", x1, x2)
    if _aval(a).dtype.kind not in "fc":
        return lax.max(a, b)
    return lax.select(lax.ne(b, b), a, lax.select(lax.ne(a, a), b, lax.max(a, b)))


def fmin(x1, x2, /):
    """Elementwise minimum that ignores NaNs.

    >>> fnp.fmin(fnp.array([1.0, fnp.nan]), 0.0).tolist()
    [0.0, 0.0]
    """
    a, b = _promote("fnp.fmin", x1, x2)
    if _aval(a).dtype.kind not in "fc":
        return lax.min(a, b)
    return lax.select(lax.ne(b, b), a, lax.select(lax.ne(a, a), b, lax.min(a, b)))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the
    largest finite values of the dtype).

    >>> fnp.nan_to_num(fnp.array([fnp.nan, fnp.inf])).tolist()[0]
    0.0
    """
    x = _arr(x, "nan_to_num")
    dt = _aval(x).dtype
    if dt.kind not in "fc":
        return x
    fi = np.finfo(dt)
    posinf = fi.max if posinf is None else posinf
    neginf = fi.min if neginf is None else neginf
    x = lax.select(lax.ne(x, x), _full(_aval(x).shape, nan, dt), x)
    inf = _scalar(np.inf, x)
    x = lax.select(lax.eq(x, inf), _full(_aval(x).shape, posinf, dt), x)
    return lax.select(lax.eq(x, lax.neg(inf)), _full(_aval(x).shape, neginf, dt), x)


def isneginf(x, /):
    """True where ``x`` is negative infinity.

    >>> fnp.isneginf(fnp.array([-fnp.inf, 0.0])).tolist()
    [True, False]
    """
    x = _arr(x, "isneginf")
    if _aval(x).dtype.kind not in "fc":
        return _full(_aval(x).shape, False, np.bool_)
    return lax.eq(x, _scalar(-np.inf, x))


def isposinf(x, /):
    """True where ``x`` is positive infinity.

    >>> fnp.isposinf(fnp.array([fnp.inf, 0.0])).tolist()
    [True, False]
    """
    x = _arr(x, "isposinf")
    if _aval(x).dtype.kind not in "fc":
        return _full(_aval(x).shape, False, np.bool_)
    return lax.eq(x, _scalar(np.inf, x))


def isreal(x, /):
    """True for elements with no imaginary part (every element of a real array).

    >>> fnp.isreal(fnp.ones(2)).tolist()
    [True, True]
    """
    x = _arr(x, "isreal")
    if _aval(x).dtype.kind == "c":
        raise NotImplementedError("fnp.isreal: complex arrays are not supported")
    return _full(_aval(x).shape, True, np.bool_)


def iscomplex(x, /):
    """True for elements with a nonzero imaginary part (none in a real array).

    >>> fnp.iscomplex(fnp.ones(2)).tolist()
    [False, False]
    """
    x = _arr(x, "iscomplex")
    if _aval(x).dtype.kind == "c":
        raise NotImplementedError("fnp.iscomplex: complex arrays are not supported")
    return _full(_aval(x).shape, False, np.bool_)


def isrealobj(x, /):
    """True unless ``x`` has a complex dtype (a Python bool).

    >>> fnp.isrealobj(fnp.ones(2))
    True
    """
    return _aval(_arr(x, "isrealobj")).dtype.kind != "c"


def iscomplexobj(x, /):
    """True if ``x`` has a complex dtype (a Python bool).

    >>> fnp.iscomplexobj(fnp.ones(2))
    False
    """
    return _aval(_arr(x, "iscomplexobj")).dtype.kind == "c"


def isscalar(element):
    """True for Python/NumPy scalars and 0-d arrays, as ``jnp.isscalar``.

    >>> fnp.isscalar(1.0), fnp.isscalar(fnp.ones(2))
    (True, False)
    """
    if isinstance(element, (Array, Tracer)):
        return _aval(element).ndim == 0
    return bool(np.isscalar(element))


def _real_only(name, x):
    x = _arr(x, name)
    if _aval(x).dtype.kind == "c":
        raise NotImplementedError(f"fnp.{name}: complex arrays are not supported")
    return x


def real(val, /):
    """The real part (the array itself for real dtypes).

    >>> fnp.real(fnp.array([1.0])).tolist()
    [1.0]
    """
    return _real_only("real", val)


def imag(val, /):
    """The imaginary part (zeros for real dtypes).

    >>> fnp.imag(fnp.array([1.0])).tolist()
    [0.0]
    """
    x = _real_only("imag", val)
    return lax.mul(x, _scalar(0, x))


def conjugate(x, /):
    """The complex conjugate (the array itself for real dtypes).

    >>> fnp.conj(fnp.array([1.0])).tolist()
    [1.0]
    """
    return _real_only("conjugate", x)


conj = conjugate


def angle(z, deg=False):
    """The argument of ``z`` (0 or pi for real inputs).

    >>> fnp.angle(fnp.array([-1.0, 1.0]))
    Array([3.1415927, 0.       ], dtype=float32)
    """
    x = _inexact(_real_only("angle", z))
    r = lax.atan2(_C.zeros_like(x), x)
    return lax.mul(r, _scalar(180 / np.pi, r)) if deg else r


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)`` computed stably.

    >>> float(fnp.logaddexp2(1.0, 1.0))
    2.0
    """
    a, b = _promote("fnp.logaddexp2", x1, x2, to_inexact=True)
    ln2 = _scalar(np.log(2), a)
    return _U._keep_weak(lax.div(_U.logaddexp(lax.mul(a, ln2), lax.mul(b, ln2)), ln2), x1, x2)


def ldexp(x1, x2, /):
    """``x1 * 2**x2`` (``x2`` integer).

    >>> float(fnp.ldexp(3.0, 2))
    12.0
    """
    x = _inexact(_arr(x1, "ldexp"))
    e = _arr(x2, "ldexp")
    if _aval(e).dtype.kind not in "iub":
        raise TypeError(f"fnp.ldexp: the exponent must be an integer array, got "
                        f"{_aval(e).dtype}")
    a, b = _promote("fnp.ldexp", x, lax.convert_element_type(e, _aval(x).dtype))
    return lax.mul(a, lax.exp2(b))


def modf(x, /):
    """Fractional and integral parts, both with the sign of ``x``.

    >>> [v.tolist() for v in fnp.modf(fnp.array([1.5, -2.25]))]
    [[0.5, -0.25], [1.0, -2.0]]
    """
    x = _inexact(_arr(x, "modf"))
    i = _U.trunc(x)
    return lax.sub(x, i), i


def divmod(x1, x2, /):
    """``(x1 // x2, x1 % x2)`` with NumPy's sign conventions.

    >>> [v.tolist() for v in fnp.divmod(fnp.array([7, -7]), 2)]
    [[3, -4], [1, 1]]
    """
    return _U.floor_divide(x1, x2), _U.remainder(x1, x2)


_GCD_STEPS = {1: 12, 2: 24, 4: 47, 8: 93}


def gcd(x1, x2, /):
    """Greatest common divisor of integers (elementwise, non-negative).

    >>> fnp.gcd(fnp.array([12, 18]), 8).tolist()
    [4, 2]
    """
    a, b = _promote("fnp.gcd", x1, x2)
    dt = _aval(a).dtype
    if dt.kind not in "iu":
        raise TypeError(f"fnp.gcd: integer arguments required, got {dt}")
    shape = _bshapes(_aval(a).shape, _aval(b).shape)
    a, b = _bto(_U.absolute(a), shape), _bto(_U.absolute(b), shape)
    zero, one = _scalar(0, a), _scalar(1, a)
    for _ in range(_GCD_STEPS[dt.itemsize]):   # Euclid needs at most this many steps
        nz = lax.ne(b, zero)
        r = lax.rem(a, lax.select(nz, b, _full(shape, one, dt)))
        a, b = lax.select(nz, b, a), lax.select(nz, r, b)
    return a


def lcm(x1, x2, /):
    """Least common multiple of integers (elementwise, non-negative).

    >>> fnp.lcm(fnp.array([4, 6]), 6).tolist()
    [12, 6]
    """
    a, b = _promote("fnp.lcm", x1, x2)
    g = gcd(a, b)
    shape = _aval(g).shape
    a, b = _bto(_U.absolute(a), shape), _bto(_U.absolute(b), shape)
    zero = _scalar(0, g)
    safe = lax.select(lax.eq(g, zero), _full(shape, 1, _aval(g).dtype), g)
    return lax.select(lax.eq(g, zero), g, lax.mul(lax.div(a, safe), b))


def float_power(x1, x2, /):
    """``x1 ** x2`` computed in floating point.

    >>> float(fnp.float_power(2, 3))
    8.0
    """
    a, b = _promote("fnp.float_power", x1, x2, to_inexact=True)
    return lax.pow(a, b)


# Array API spellings
acos, acosh, asin, asinh, atan, atanh = (_U.arccos, _U.arccosh, _U.arcsin, _U.arcsinh,
                                         _U.arctan, _U.arctanh)
atan2 = _U.arctan2
bitwise_invert = _U.invert


def pow(x1, x2, /):
    """``x1 ** x2`` (Array API name of ``power``).

    >>> float(fnp.pow(2.0, 3))
    8.0
    """
    return _U.power(x1, x2)


def concat(arrays, /, *, axis=0):
    """Join arrays along an existing axis (Array API name of ``concatenate``).

    >>> fnp.concat([fnp.ones(2), fnp.zeros(1)]).shape
    (3,)
    """
    return _S.concatenate(arrays, axis)


def astype(x, dtype, /, *, copy=False, device=None):
    """``x`` converted to ``dtype``.

    >>> fnp.astype(fnp.array([1.5]), 'int32').tolist()
    [1]
    """
    x = _arr(x, "astype")
    return lax.convert_element_type(x, _dtype_arg(dtype, "fnp.astype"))


def copy(a, order=None):
    """A copy of ``a`` (arrays are immutable, so this is ``asarray``).

    >>> fnp.copy(fnp.ones(2)).shape
    (2,)
    """
    return _arr(a, "copy")


def ascontiguousarray(a, dtype=None):
    """``asarray`` (every array is contiguous).

    >>> fnp.ascontiguousarray([1.0]).shape
    (1,)
    """
    return _S.atleast_1d(_asarray(a, dtype, where="fnp.ascontiguousarray"))


# ============================================================================ NaN-aware reductions

def _nan_replace(a, name, value):
    x = _arr(a, name)
    if _aval(x).dtype.kind not in "fc":
        return x, None
    mask = lax.ne(x, x)
    return lax.select(mask, _full(_aval(x).shape, value, _aval(x).dtype), x), mask


def _valid(x, where, name):
    """Mask of the non-NaN elements of ``x`` (and of ``where``), or ``where``."""
    if _aval(x).dtype.kind not in "fc":
        return where
    ok = lax.eq(x, x)
    if where is None:
        return ok
    w = _arr(where, name)
    w = w if _aval(w).dtype == np.bool_ else lax.ne(w, _scalar(0, w))
    return lax.bitwise_and(ok, _bto(w, _aval(x).shape))


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum treating NaN as zero.

    >>> float(fnp.nansum(fnp.array([1.0, fnp.nan, 2.0])))
    3.0
    """
    _R._no_out(out, "nansum")
    x = _arr(a, "nansum")
    return _R.sum(x, axis, dtype, keepdims=keepdims, initial=initial,
                  where=_valid(x, where, "nansum"))


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product treating NaN as one.

    >>> float(fnp.nanprod(fnp.array([2.0, fnp.nan, 3.0])))
    6.0
    """
    _R._no_out(out, "nanprod")
    x = _arr(a, "nanprod")
    return _R.prod(x, axis, dtype, keepdims=keepdims, initial=initial,
                   where=_valid(x, where, "nanprod"))


def _nan_extreme(name, red, fill, a, axis, out, keepdims, initial, where):
    _R._no_out(out, name)
    x = _arr(a, name)
    if _aval(x).dtype.kind not in "fc":
        return red(x, axis, keepdims=keepdims, initial=initial, where=where)
    valid = _valid(x, where, name)
    filled = lax.select(valid, x, _full(_aval(x).shape, fill, _aval(x).dtype))
    r = red(filled, axis, keepdims=keepdims, initial=initial)
    if initial is not None:
        return r
    none = lax.bitwise_not(_R.any(valid, axis, keepdims=keepdims))
    return lax.select(none, _full(_aval(r).shape, np.nan, _aval(r).dtype), r)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum ignoring NaNs (NaN where every element is NaN).

    >>> float(fnp.nanmax(fnp.array([1.0, fnp.nan])))
    1.0
    """
    return _nan_extreme("nanmax", _R.max, -np.inf, a, axis, out, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum ignoring NaNs (NaN where every element is NaN).

    >>> float(fnp.nanmin(fnp.array([1.0, fnp.nan])))
    1.0
    """
    return _nan_extreme("nanmin", _R.min, np.inf, a, axis, out, keepdims, initial, where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Mean ignoring NaNs (NaN where every element is NaN).

    >>> float(fnp.nanmean(fnp.array([1.0, fnp.nan, 3.0])))
    2.0
    """
    _R._no_out(out, "nanmean")
    x = _arr(a, "nanmean")
    if dtype is not None:
        x = lax.convert_element_type(x, _dtype_arg(dtype, "fnp.nanmean"))
    x = _inexact(x)
    return _R.mean(x, axis, keepdims=keepdims, where=_valid(x, where, "nanmean"))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Variance ignoring NaNs (NaN where fewer than ``ddof + 1`` values remain).

    >>> float(fnp.nanvar(fnp.array([1.0, fnp.nan, 3.0])))
    1.0
    """
    _R._no_out(out, "nanvar")
    x = _arr(a, "nanvar")
    if dtype is not None:
        x = lax.convert_element_type(x, _dtype_arg(dtype, "fnp.nanvar"))
    x = _inexact(x)
    valid = _valid(x, where, "nanvar")
    r = _R.var(x, axis, ddof=ddof, keepdims=keepdims, where=valid)
    n = _R._count(x, axis, keepdims, valid, "fnp.nanvar")
    bad = lax.le(n, _scalar(ddof, n)) if not isinstance(n, int) else None
    if bad is None:
        return r if n - ddof > 0 else _U.multiply(r, np.nan)
    return lax.select(bad, _full(_aval(r).shape, np.nan, _aval(r).dtype), r)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Standard deviation ignoring NaNs.

    >>> float(fnp.nanstd(fnp.array([1.0, fnp.nan, 3.0])))
    1.0
    """
    return _U.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where))


def nanargmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum ignoring NaNs (-1 where every element is NaN).

    >>> int(fnp.nanargmax(fnp.array([1.0, fnp.nan, 3.0])))
    2
    """
    x, mask = _nan_replace(a, "nanargmax", -np.inf)
    r = _R.argmax(x, axis, keepdims=keepdims)
    if mask is None:
        return r
    allnan = _R.all(mask, axis, keepdims=keepdims)
    return lax.select(allnan, _full(_aval(r).shape, -1, _aval(r).dtype), r)


def nanargmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum ignoring NaNs (-1 where every element is NaN).

    >>> int(fnp.nanargmin(fnp.array([1.0, fnp.nan, 0.0])))
    2
    """
    x, mask = _nan_replace(a, "nanargmin", np.inf)
    r = _R.argmin(x, axis, keepdims=keepdims)
    if mask is None:
        return r
    allnan = _R.all(mask, axis, keepdims=keepdims)
    return lax.select(allnan, _full(_aval(r).shape, -1, _aval(r).dtype), r)


def nancumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum treating NaN as zero.

    >>> fnp.nancumsum(fnp.array([1.0, fnp.nan, 2.0])).tolist()
    [1.0, 1.0, 3.0]
    """
    x, _ = _nan_replace(a, "nancumsum", 0)
    return _R.cumsum(x, axis, dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product treating NaN as one.

    >>> fnp.nancumprod(fnp.array([2.0, fnp.nan, 2.0])).tolist()
    [2.0, 2.0, 4.0]
    """
    x, _ = _nan_replace(a, "nancumprod", 1)
    return _R.cumprod(x, axis, dtype)


# ============================================================================ comparisons

def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|a - b| <= atol + rtol * |b|`` elementwise (infinities equal only to themselves).

    >>> fnp.isclose(fnp.array([1.0, 2.0]), 1.0).tolist()
    [True, False]
    """
    a, b = _promote("fnp.isclose", a, b)
    dt = _aval(a).dtype
    if dt.kind not in "fc":
        if dt.kind == "b":
            return lax.eq(a, b)
        a, b = _inexact(a), _inexact(b)
        dt = _aval(a).dtype
    diff = lax.abs(lax.sub(a, b))
    tol = lax.add(_scalar(atol, a), lax.mul(_scalar(rtol, b), lax.abs(b)))
    close = lax.le(diff, tol)
    fin = lax.bitwise_and(lax.is_finite(a), lax.is_finite(b))
    res = lax.bitwise_or(lax.bitwise_and(close, fin), lax.eq(a, b))
    if equal_nan:
        res = lax.bitwise_or(res, lax.bitwise_and(lax.ne(a, a), lax.ne(b, b)))
    return res


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True (a 0-d bool array) if every pair of elements ``isclose``.

    >>> bool(fnp.allclose(fnp.ones(2), 1.0 + 1e-9))
    True
    """
    return _R.all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True (a 0-d bool array) if both have the same shape and elements.

    >>> bool(fnp.array_equal(fnp.ones(2), fnp.ones(2)))
    True
    """
    x, y = _arr(a1, "array_equal"), _arr(a2, "array_equal")
    if _aval(x).shape != _aval(y).shape:
        return Array(np.bool_(False))
    x, y = _promote("fnp.array_equal", x, y)
    eq = lax.eq(x, y)
    if equal_nan and _aval(x).dtype.kind in "fc":
        eq = lax.bitwise_or(eq, lax.bitwise_and(lax.ne(x, x), lax.ne(y, y)))
    return _R.all(eq)


def array_equiv(a1, a2):
    """True (a 0-d bool array) if the arrays broadcast together and are equal.

    >>> bool(fnp.array_equiv(fnp.ones((2, 2)), fnp.ones(2)))
    True
    """
    x, y = _arr(a1, "array_equiv"), _arr(a2, "array_equiv")
    try:
        _bshapes(_aval(x).shape, _aval(y).shape)
    except TypeError:
        return Array(np.bool_(False))
    return _R.all(_U.equal(x, y))


def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """True where ``element`` is in ``test_elements`` (compares all pairs).

    >>> fnp.isin(fnp.array([1, 2, 3]), [2, 5]).tolist()
    [False, True, False]
    """
    e = _arr(element, "isin")
    t = _S.ravel(_arr(test_elements, "isin"))
    e, t = _promote_dt("isin", e, t)
    m = _aval(t).shape[0]
    sh = _aval(e).shape
    if m == 0:
        r = _full(sh, False, np.bool_)
    else:
        eq = lax.eq(_expand_last(e, m), lax.broadcast_in_dim(t, sh + (m,), (len(sh),)))
        r = lax.reduce_or(eq, (len(sh),))
    return lax.bitwise_not(r) if invert else r


# ============================================================================ differences

def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``not_equal`` for booleans).

    >>> fnp.diff(fnp.array([1, 4, 9])).tolist()
    [3, 5]
    """
    x = _arr(a, "diff")
    nd = _aval(x).ndim
    if nd == 0:
        raise ValueError("fnp.diff requires input that is at least one dimensional")
    n = int(n)
    if n < 0:
        raise ValueError(f"fnp.diff: order must be non-negative but got {n}")
    axis = _ax(axis, nd, "diff")
    if n == 0:
        return x
    parts = []
    for v in (prepend, None, append):
        if v is None:
            continue
        v = _scalar_operand(v, x, "diff")
        if _aval(v).ndim == 0:
            shape = list(_aval(x).shape)
            shape[axis] = 1
            v = lax.broadcast_in_dim(v, tuple(shape), ())
        parts.append(v)
    if prepend is not None or append is not None:
        seq = ([parts.pop(0)] if prepend is not None else []) + [x] + (
            [parts.pop(0)] if append is not None else [])
        x = _S.concatenate(seq, axis)
    for _ in range(n):
        m = _aval(x).shape[axis]
        hi, lo = _slice_axis(x, 1, _bmax(m, 1), axis), _slice_axis(x, 0, _bmax(m - 1, 0), axis)
        x = lax.ne(hi, lo) if _aval(x).dtype == np.bool_ else lax.sub(hi, lo)
    return x


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences between consecutive elements of the flattened array.

    >>> fnp.ediff1d(fnp.array([1, 2, 4]), to_begin=0).tolist()
    [0, 1, 2]
    """
    x = _S.ravel(_arr(ary, "ediff1d"))
    n = _aval(x).shape[0]
    d = lax.sub(_slice_axis(x, 1, _bmax(n, 1), 0), _slice_axis(x, 0, _bmax(n - 1, 0), 0))
    parts = []
    if to_begin is not None:
        parts.append(lax.convert_element_type(_S.ravel(_arr(to_begin, "ediff1d")),
                                              _aval(d).dtype))
    parts.append(d)
    if to_end is not None:
        parts.append(lax.convert_element_type(_S.ravel(_arr(to_end, "ediff1d")),
                                              _aval(d).dtype))
    return lax.concatenate(parts, 0) if len(parts) > 1 else d


def _grad_axis(f, axis, h, edge_order):
    n = _aval(f).shape[axis]
    if n < edge_order + 1:
        raise ValueError(f"fnp.gradient: shape {_aval(f).shape} too small to calculate a "
                         f"numerical gradient along axis {axis}; at least (edge_order + 1) "
                         "elements are required")
    nd = _aval(f).ndim

    def s(a, b):
        return _slice_axis(f, a if a >= 0 else n + a, b if b > 0 else n + b, axis)

    def along(v):   # 1-D spacing array -> broadcastable along axis
        shape = [1] * nd
        shape[axis] = _aval(v).shape[0]
        return lax.reshape(v, tuple(shape))

    if isinstance(h, (Array, Tracer)) and _aval(h).ndim == 1:
        if _aval(h).shape[0] != n:
            raise ValueError(f"fnp.gradient: spacing array of length {_aval(h).shape[0]} "
                             f"does not match axis {axis} of size {n}")
        x = lax.convert_element_type(h, _aval(f).dtype)
        dx = lax.sub(lax.slice(x, (1,), (n,)), lax.slice(x, (0,), (n - 1,)))
        dx1, dx2 = lax.slice(dx, (0,), (n - 2,)), lax.slice(dx, (1,), (n - 1,))
        a = _U.true_divide(lax.neg(dx2), lax.mul(dx1, lax.add(dx1, dx2)))
        b = _U.true_divide(lax.sub(dx2, dx1), lax.mul(dx1, dx2))
        c = _U.true_divide(dx1, lax.mul(dx2, lax.add(dx1, dx2)))
        inner = _U.add(_U.add(_U.multiply(along(a), s(0, -2)), _U.multiply(along(b), s(1, -1))),
                       _U.multiply(along(c), s(2, n)))
        d0 = lax.slice(dx, (0,), (1,))
        dl = lax.slice(dx, (n - 2,), (n - 1,))
        if edge_order == 1:
            first = _U.true_divide(_U.subtract(s(1, 2), s(0, 1)), along(d0))
            last = _U.true_divide(_U.subtract(s(n - 1, n), s(n - 2, n - 1)), along(dl))
        else:
            d1 = lax.slice(dx, (1,), (2,))
            a0 = _U.true_divide(lax.neg(lax.add(lax.add(d0, d0), d1)), lax.mul(d0, lax.add(d0, d1)))
            b0 = _U.true_divide(lax.add(d0, d1), lax.mul(d0, d1))
            c0 = _U.true_divide(lax.neg(d0), lax.mul(d1, lax.add(d0, d1)))
            first = _U.add(_U.add(_U.multiply(along(a0), s(0, 1)), _U.multiply(along(b0), s(1, 2))),
                           _U.multiply(along(c0), s(2, 3)))
            dm = lax.slice(dx, (n - 3,), (n - 2,))
            an = _U.true_divide(dl, lax.mul(dm, lax.add(dm, dl)))
            bn = _U.true_divide(lax.neg(lax.add(dl, dm)), lax.mul(dm, dl))
            cn = _U.true_divide(lax.add(lax.add(dl, dl), dm), lax.mul(dl, lax.add(dm, dl)))
            last = _U.add(_U.add(_U.multiply(along(an), s(n - 3, n - 2)),
                                 _U.multiply(along(bn), s(n - 2, n - 1))),
                          _U.multiply(along(cn), s(n - 1, n)))
        return lax.concatenate([first, inner, last], axis)
    hh = _arr(h, "gradient")
    if _aval(hh).ndim:
        raise ValueError("fnp.gradient: distances must be scalars or 1-D coordinate arrays")
    hh = lax.convert_element_type(hh, _aval(f).dtype)
    inner = _U.true_divide(_U.subtract(s(2, n), s(0, -2)), _U.multiply(2, hh))
    if edge_order == 1:
        first = _U.true_divide(_U.subtract(s(1, 2), s(0, 1)), hh)
        last = _U.true_divide(_U.subtract(s(n - 1, n), s(n - 2, n - 1)), hh)
    else:
        first = _U.true_divide(_U.add(_U.add(_U.multiply(-1.5, s(0, 1)), _U.multiply(2.0, s(1, 2))),
                                      _U.multiply(-0.5, s(2, 3))), hh)
        last = _U.true_divide(_U.add(_U.add(_U.multiply(0.5, s(n - 3, n - 2)),
                                            _U.multiply(-2.0, s(n - 2, n - 1))),
                                     _U.multiply(1.5, s(n - 1, n))), hh)
    return lax.concatenate([first, inner, last], axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """Second-order central differences inside, one-sided (order ``edge_order``) at the
    ends; spacings are scalars or 1-D coordinate arrays, as ``np.gradient``.

    >>> fnp.gradient(fnp.array([1.0, 2.0, 4.0])).tolist()
    [1.0, 1.5, 2.0]
    """
    x = _inexact(_arr(f, "gradient"))
    nd = _aval(x).ndim
    if edge_order not in (1, 2):
        raise ValueError("fnp.gradient: edge_order must be 1 or 2")
    axes = list(range(nd)) if axis is None else [
        _ax(a, nd, "gradient") for a in ((axis,) if isinstance(axis, (int, np.integer))
                                         else axis)]
    if not varargs:
        hs = [1.0] * len(axes)
    elif len(varargs) == 1 and len(axes) > 1 and np.ndim(varargs[0]) == 0:
        hs = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        hs = list(varargs)
    else:
        raise TypeError(f"fnp.gradient: {len(varargs)} spacings given for {len(axes)} axes")
    hs = [h if _is_py(h) or np.ndim(h) == 0 and not isinstance(h, (Array, Tracer))
          else _arr(h, "gradient") for h in hs]
    out = [_grad_axis(x, ax, h, edge_order) for ax, h in zip(axes, hs)]
    return out[0] if len(out) == 1 else out


# ============================================================================ triangles and diagonals

def _tri_mask(shape, k, lower):
    n, m = shape[-2], shape[-1]
    r = lax.broadcasted_iota(np.int32, (n, m), 0)
    c = lax.broadcasted_iota(np.int32, (n, m), 1)
    mask = lax.ge(lax.add(r, np.int32(k)), c) if lower else lax.le(lax.add(r, np.int32(k)), c)
    return lax.broadcast_in_dim(mask, tuple(shape), (len(shape) - 2, len(shape) - 1))


def _tri(name, m, k, lower):
    x = _arr(m, name)
    av = _aval(x)
    if av.ndim == 0:
        raise ValueError(f"fnp.{name}: input must be at least 1-d")
    if av.ndim == 1:
        x = lax.broadcast_in_dim(x, (av.shape[0],) * 2, (1,))
        av = _aval(x)
    mask = _tri_mask(av.shape, int(k), lower)
    return lax.select(mask, x, _full(av.shape, 0, av.dtype))


def tril(m, k=0):
    """The lower triangle (of the last two axes), zero above the ``k``-th diagonal.

    >>> fnp.tril(fnp.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _tri("tril", m, k, True)


def triu(m, k=0):
    """The upper triangle (of the last two axes), zero below the ``k``-th diagonal.

    >>> fnp.triu(fnp.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return _tri("triu", m, k, False)


def _diagonal(x, k):
    """The ``k``-th diagonal of the last two axes (a strided slice of the flattening)."""
    sh = _aval(x).shape
    n, m = sh[-2], sh[-1]
    if k >= 0:
        cnt = _bmax(0, _bmin(n, m - k))
        start = k
    else:
        cnt = _bmax(0, _bmin(n + k, m))
        start = -k * m
    flat = lax.reshape(x, sh[:-2] + (n * m,))
    lead = len(sh) - 2
    if cnt == 0:
        return lax.slice(flat, (0,) * (lead + 1), sh[:-2] + (0,))
    return lax.slice(flat, (0,) * lead + (start,), sh[:-2] + (start + (cnt - 1) * (m + 1) + 1,),
                     (1,) * lead + (m + 1,))


def diag(v, k=0):
    """The ``k``-th diagonal of a 2-D array, or a 2-D array with 1-D ``v`` on it.

    >>> fnp.diag(fnp.array([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    x = _arr(v, "diag")
    av = _aval(x)
    k = int(k)
    if av.ndim == 2:
        return _diagonal(x, k)
    if av.ndim != 1:
        raise ValueError(f"fnp.diag: input must be 1-d or 2-d, got shape {av.shape}")
    n = av.shape[0]
    N = n + _babs(k)
    if k >= 0:
        vp = lax.pad(x, _scalar(0, x), [(0, k, 0)])
        full = lax.broadcast_in_dim(vp, (N, N), (0,))
    else:
        vp = lax.pad(x, _scalar(0, x), [(0, -k, 0)])
        full = lax.broadcast_in_dim(vp, (N, N), (1,))
    r = lax.broadcasted_iota(np.int32, (N, N), 0)
    c = lax.broadcasted_iota(np.int32, (N, N), 1)
    mask = lax.eq(lax.add(r, np.int32(k)), c)
    return lax.select(mask, full, _full((N, N), 0, av.dtype))


def diagflat(v, k=0):
    """A 2-D array with the flattened ``v`` on the ``k``-th diagonal.

    >>> fnp.diagflat(fnp.array([[1, 2]])).shape
    (2, 2)
    """
    return diag(_S.ravel(_arr(v, "diagflat")), k)


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """``a`` with its main diagonal set to ``val`` (needs ``inplace=False``: arrays are
    immutable).

    >>> fnp.fill_diagonal(fnp.zeros((2, 2)), 1.0, inplace=False).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if inplace:
        raise ValueError("fnp.fill_diagonal: funcgrad arrays are immutable; call it with "
                         "inplace=False and use the returned array")
    x = _arr(a, "fill_diagonal")
    av = _aval(x)
    if av.ndim < 2:
        raise ValueError("fnp.fill_diagonal: array must be at least 2-d")
    if av.ndim > 2 and len(set(av.shape)) != 1:
        raise ValueError("fnp.fill_diagonal: all dimensions of input must be of equal length")
    total = av.size
    if av.ndim == 2:
        step = av.shape[1] + 1
        end = total if wrap else _bmin(total, av.shape[1] * av.shape[1])
    else:
        step = 1 + int(np.cumprod(av.shape[:-1]).sum())
        end = total
    pos = np.arange(0, end, step)
    mask_np = np.zeros(total, bool)
    mask_np[pos] = True
    v = _S.ravel(_asarray(val, av.dtype, where="fnp.fill_diagonal"))
    nv = _aval(v).shape[0]
    src = np.zeros(total, np.int64)
    src[pos] = np.arange(pos.size) % _bmax(nv, 1)
    vals = _take_static(v, src, 0) if nv > 1 else lax.broadcast_in_dim(
        lax.reshape(v, ()), (total,), ())
    flat = lax.select(Array(mask_np), vals, lax.reshape(x, (total,)))
    return lax.reshape(flat, av.shape)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x`` (columns are powers of ``x``).

    >>> fnp.vander(fnp.array([1, 2]), 3).tolist()
    [[1, 1, 1], [4, 2, 1]]
    """
    x = _arr(x, "vander")
    if _aval(x).ndim != 1:
        raise ValueError("fnp.vander: x must be a one-dimensional array")
    n = _aval(x).shape[0]
    N = n if N is None else int(N)
    if N < 0:
        raise ValueError("fnp.vander: N must be nonnegative")
    if N == 0:
        return _full((n, 0), 0, _aval(x).dtype)
    xb = lax.broadcast_in_dim(x, (n, _bmax(N - 1, 0)), (0,))
    ones = _full((n, 1), 1, _aval(x).dtype)
    cols = lax.concatenate([ones, lax.cumprod(xb, 1)], 1) if N > 1 else ones
    return cols if increasing else lax.rev(cols, (1,))


# ============================================================================ insert, delete, append

def append(arr, values, axis=None):
    """``values`` appended to the end of ``arr`` (flattened when ``axis`` is None).

    >>> fnp.append(fnp.array([1, 2]), 3).tolist()
    [1, 2, 3]
    """
    x, v = _arr(arr, "append"), _arr(values, "append")
    if axis is None:
        return _S.concatenate([_S.ravel(x), _S.ravel(v)], 0)
    return _S.concatenate([x, v], axis)


def _obj_indices(obj, n, name):
    if isinstance(obj, slice):
        return np.arange(*obj.indices(n)), False
    idx = _concrete(obj, name, "the indices `obj`")
    return idx, idx.ndim == 0


def delete(arr, obj, axis=None):
    """``arr`` without the entries ``obj`` (an int, slice, index or mask array; concrete).

    >>> fnp.delete(fnp.array([1, 2, 3]), 1).tolist()
    [1, 3]
    """
    x = _arr(arr, "delete")
    if axis is None:
        x = _S.ravel(x)
        axis = 0
    av = _aval(x)
    axis = _ax(axis, av.ndim, "delete")
    n = av.shape[axis]
    idx, _ = _obj_indices(obj, n, "delete")
    keep = np.ones(n, bool)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise ValueError(f"fnp.delete: boolean array argument obj to delete must be one "
                             f"dimensional and match the axis length of {n}")
        keep = ~idx
    else:
        if idx.size and idx.dtype.kind not in "iu":
            raise IndexError("fnp.delete: arrays used as indices must be of integer type")
        idx = idx.astype(np.int64).reshape(-1)
        if ((idx < -n) | (idx >= n)).any():
            raise IndexError(f"fnp.delete: index {idx[(idx < -n) | (idx >= n)][0]} is out of "
                             f"bounds for axis {axis} with size {n}")
        keep[idx % n if n else idx] = False
    return _take_static(x, np.nonzero(keep)[0], axis)


def insert(arr, obj, values, axis=None):
    """``values`` inserted before the indices ``obj`` (concrete) along ``axis``.

    >>> fnp.insert(fnp.array([1, 2]), 1, 9).tolist()
    [1, 9, 2]
    """
    x = _arr(arr, "insert")
    if axis is None:
        x = _S.ravel(x)
        axis = 0
    av = _aval(x)
    nd = av.ndim
    axis = _ax(axis, nd, "insert")
    n = av.shape[axis]
    idx, scalar = _obj_indices(obj, n, "insert")
    if idx.dtype == np.bool_:
        raise IndexError("fnp.insert: boolean indices are not supported; use integers")
    if idx.ndim > 1:
        raise ValueError("fnp.insert: index array argument obj to insert must be one "
                         "dimensional or scalar")
    if idx.size and idx.dtype.kind not in "iu":
        raise IndexError("fnp.insert: arrays used as indices must be of integer type")
    idx = idx.astype(np.int64)
    v = _asarray(values, av.dtype, where="fnp.insert")
    if idx.size == 1:
        i = int(idx.reshape(()))
        if not -n <= i <= n:
            raise IndexError(f"fnp.insert: index {i} is out of bounds for axis {axis} with "
                             f"size {n}")
        if i < 0:
            i += n
        vs = _aval(v).shape
        if len(vs) < nd:
            v = lax.reshape(v, (1,) * (nd - len(vs)) + vs)
        if scalar:
            v = _S.moveaxis(v, 0, axis)
        num = _aval(v).shape[axis]
        target = list(av.shape)
        target[axis] = num
        v = _S.broadcast_to(v, tuple(target))
        pieces = [_slice_axis(x, 0, i, axis), v, _slice_axis(x, i, n, axis)]
        return lax.concatenate(pieces, axis)
    idx = idx.reshape(-1)
    if ((idx < -n) | (idx > n)).any():
        raise IndexError(f"fnp.insert: index out of bounds for axis {axis} with size {n}")
    idx = np.where(idx < 0, idx + n, idx)
    num = idx.size
    order = np.argsort(idx, kind="stable")
    pos = idx.copy()
    pos[order] += np.arange(num)
    target = list(av.shape)
    target[axis] = num
    v = _S.broadcast_to(v, tuple(target))
    combined = lax.concatenate([x, v], axis)
    src = np.empty(n + num, np.int64)
    old = np.ones(n + num, bool)
    old[pos] = False
    src[old] = np.arange(n)
    src[pos] = n + np.arange(num)
    return _take_static(combined, src, axis)


def trim_zeros(filt, trim="fb"):
    """A 1-D array without leading (``'f'``) and/or trailing (``'b'``) zeros (concrete).

    >>> fnp.trim_zeros(fnp.array([0, 1, 0, 2, 0])).tolist()
    [1, 0, 2]
    """
    x = _arr(filt, "trim_zeros")
    v = _concrete(x, "trim_zeros", "the input")
    nz = np.nonzero(v)[0]
    lo = int(nz[0]) if nz.size and "f" in trim.lower() else (0 if nz.size or "f" not in
                                                           trim.lower() else v.shape[0])
    hi = int(nz[-1]) + 1 if nz.size and "b" in trim.lower() else (
        v.shape[0] if nz.size or "b" not in trim.lower() else lo)
    hi = _bmax(hi, lo)
    return _slice_axis(x, lo, hi, 0)


# ============================================================================ creation

def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``.

    >>> fnp.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    dt = _dtype_arg(dtype, "fnp.logspace") if dtype is not None else None
    y = _C.linspace(start, stop, num, endpoint, dtype=None, axis=axis)
    r = _U.power(_asarray(base, _aval(y).dtype) if _is_py(base) else base, y)
    return r if dt is None else _cast_round(r, dt)


def _cast_round(x, dt):
    if dt.kind in "iu" and _aval(x).dtype.kind == "f":
        x = _U.floor(x)
    return lax.convert_element_type(x, dt)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Numbers spaced evenly on a log scale (a geometric progression); ``start`` and
    ``stop`` must be nonzero and of the same sign.

    >>> fnp.geomspace(1, 8, 4).tolist()
    [1.0, 2.0, 4.0, 8.0]
    """
    dt = _dtype_arg(dtype, "fnp.geomspace") if dtype is not None else None
    s, e = _promote("fnp.geomspace", start, stop, to_inexact=True)
    s, e = _asarray(s), _asarray(e)
    if _is_concrete(s) and _is_concrete(e):
        if np.any(np.asarray(s) == 0) or np.any(np.asarray(e) == 0):
            raise ValueError("fnp.geomspace: geometric sequence cannot include zero")
    sign = lax.sign(s)
    ls, le = lax.log(lax.abs(s)), lax.log(lax.abs(e))
    y = _C.linspace(ls, le, num, endpoint, axis=0)
    r = lax.exp(y)
    av = _aval(s)
    if num > 0:
        first = lax.reshape(lax.abs(s), (1,) + av.shape)
        if num > 1:
            r = lax.concatenate([first, lax.slice_in_dim(r, 1, num, 1, 0)], 0)
            if endpoint:
                from ._indexing import _set_last
                r = _set_last(r, lax.abs(e))
        else:
            r = first
    r = _U.multiply(r, sign)
    if axis != 0 and av.ndim:
        r = _S.moveaxis(r, 0, axis)
    return r if dt is None else _cast_round(r, dt)


def indices(dimensions, dtype=None, sparse=False):
    """An array of grid indices for an array of shape ``dimensions``.

    >>> fnp.indices((2, 3)).shape
    (2, 2, 3)
    """
    dims = tuple(int(d) for d in dimensions)
    dt = _dtype_arg(dtype, "fnp.indices") if dtype is not None else \
        dtypes.default_int_dtype()
    n = len(dims)
    outs = []
    for i, d in enumerate(dims):
        if sparse:
            shape = tuple(d if j == i else 1 for j in range(n))
            outs.append(lax.broadcasted_iota(dt, shape, i))
        else:
            outs.append(lax.broadcasted_iota(dt, dims, i))
    if sparse:
        return tuple(outs)
    if not outs:
        return _full((0,), 0, dt)
    return _S.stack(outs)


class _Grid:
    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        for k in keys:
            for v in ((k.start, k.stop, k.step) if isinstance(k, slice) else (k,)):
                if isinstance(v, Tracer):
                    raise TypeError("fnp.mgrid/ogrid need concrete slice bounds")
        r = np.ogrid[key] if self.sparse else np.mgrid[key]
        conv = (lambda a: Array(np.asarray(a).astype(
            dtypes.default_float_dtype() if np.asarray(a).dtype.kind == "f"
            else dtypes.default_int_dtype())))
        if isinstance(r, (list, tuple)):
            return [conv(a) for a in r]
        return conv(r)


#: Dense mesh grids from slice notation: ``fnp.mgrid[0:2, 0:3].shape == (2, 2, 3)``.
mgrid = _Grid(False)
mgrid.__doc__ = """Dense mesh grids from slice notation: ``fnp.mgrid[0:2, 0:3].shape == (2, 2, 3)``."""
#: Open (sparse) mesh grids from slice notation: ``fnp.ogrid[0:2, 0:3]``.
ogrid = _Grid(True)
ogrid.__doc__ = """Open (sparse) mesh grids from slice notation."""


def fromfunction(function, shape, *, dtype=None, **kwargs):
    """``function(*indices(shape))``: the function receives coordinate arrays.

    >>> fnp.fromfunction(lambda i, j: i + j, (2, 2)).tolist()
    [[0.0, 1.0], [1.0, 2.0]]
    """
    dt = _dtype_arg(dtype, "fnp.fromfunction") if dtype is not None else \
        dtypes.default_float_dtype()
    shape = tuple(int(d) for d in shape)
    args = [lax.broadcasted_iota(dt, shape, i) for i in range(len(shape))]
    return function(*args, **kwargs)


def _window(name, M, fn):
    M = int(M)
    if M < 1:
        return _full((0,), 0, dtypes.default_float_dtype())
    if M == 1:
        return _full((1,), 1, dtypes.default_float_dtype())
    n = lax.iota(dtypes.default_float_dtype(), M)
    return fn(n, M)


def hanning(M):
    """The Hann window of length ``M``.

    >>> fnp.hanning(3).tolist()
    [0.0, 1.0, 0.0]
    """
    return _window("hanning", M, lambda n, M: _U.subtract(
        0.5, _U.multiply(0.5, _U.cos(_U.multiply(n, 2 * np.pi / (M - 1))))))


def hamming(M):
    """The Hamming window of length ``M``.

    >>> fnp.hamming(3).round(2)
    Array([0.08, 1.  , 0.08], dtype=float32)
    """
    return _window("hamming", M, lambda n, M: _U.subtract(
        0.54, _U.multiply(0.46, _U.cos(_U.multiply(n, 2 * np.pi / (M - 1))))))


def blackman(M):
    """The Blackman window of length ``M``.

    >>> fnp.blackman(3)[1].round(6)
    Array(1., dtype=float32)
    """
    def f(n, M):
        c1 = _U.cos(_U.multiply(n, 2 * np.pi / (M - 1)))
        c2 = _U.cos(_U.multiply(n, 4 * np.pi / (M - 1)))
        return _U.add(_U.subtract(0.42, _U.multiply(0.5, c1)), _U.multiply(0.08, c2))
    return _window("blackman", M, f)


def bartlett(M):
    """The Bartlett (triangular) window of length ``M``.

    >>> fnp.bartlett(3).tolist()
    [0.0, 1.0, 0.0]
    """
    return _window("bartlett", M, lambda n, M: _U.subtract(
        1.0, _U.absolute(_U.subtract(_U.multiply(n, 2.0 / (M - 1)), 1.0))))


# ============================================================================ searching and counting

def _searchsorted(a, v, side="left"):
    """Insertion indices of ``v`` in the sorted 1-D ``a`` (compares all pairs)."""
    a = _arr(a, "searchsorted")
    if _aval(a).ndim != 1:
        raise ValueError(f"searchsorted: the sorted array must be 1-D, got shape "
                         f"{_aval(a).shape}")
    a, v = _promote_dt("searchsorted", a, v)
    m = _aval(a).shape[0]
    sh = _aval(v).shape
    if m == 0:
        return _full(sh, 0, dtypes.default_int_dtype())
    ab = lax.broadcast_in_dim(a, sh + (m,), (len(sh),))
    vb = _expand_last(v, m)
    if side == "left":
        c = lax.lt(ab, vb)
    elif side == "right":
        c = lax.le(ab, vb)
    else:
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if _aval(a).dtype.kind in "fc":   # NaNs sort to the end
        c = lax.bitwise_or(c, lax.bitwise_and(lax.ne(vb, vb), lax.eq(ab, ab)))
    return lax.reduce_sum(lax.convert_element_type(c, dtypes.default_int_dtype()),
                          (len(sh),))


def digitize(x, bins, right=False):
    """Index of the bin each value of ``x`` falls in (``bins`` monotonic, 1-D).

    >>> fnp.digitize(fnp.array([0.5, 1.5]), fnp.array([0.0, 1.0, 2.0])).tolist()
    [1, 2]
    """
    b = _arr(bins, "digitize")
    if _aval(b).ndim != 1:
        raise ValueError(f"fnp.digitize: bins must be a 1-D array, got shape {_aval(b).shape}")
    n = _aval(b).shape[0]
    if n == 0:
        return _full(_aval(_arr(x, "digitize")).shape, 0, dtypes.default_int_dtype())
    side = "left" if right else "right"
    inc = _searchsorted(b, x, side)
    dec = lax.sub(np.asarray(n, dtypes.default_int_dtype())[()],
                  _searchsorted(lax.rev(b, (0,)), x, side))
    up = lax.ge(lax.slice(b, (n - 1,), (n,)), lax.slice(b, (0,), (1,)))
    return lax.select(lax.broadcast_in_dim(lax.reshape(up, ()), _aval(inc).shape, ()),
                      inc, dec)


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed ``weights``) of each non-negative integer in 1-D ``x``.

    ``length`` fixes the output size (needed for traced ``x``); values outside
    ``[0, length)`` are dropped.

    >>> fnp.bincount(fnp.array([0, 1, 1, 3])).tolist()
    [1, 2, 0, 1]
    """
    xs = _arr(x, "bincount")
    if _aval(xs).dtype.kind not in "iub":
        raise TypeError(f"fnp.bincount: x must be an integer array, got {_aval(xs).dtype}")
    if _aval(xs).ndim != 1:
        raise ValueError(f"fnp.bincount: x must be 1-D, got shape {_aval(xs).shape}")
    if length is None:
        v = _concrete(xs, "bincount", "x (without length=)")
        if v.size and v.min() < 0:
            raise ValueError("fnp.bincount: x must contain non-negative integers")
        length = _bmax(int(minlength), int(v.max()) + 1 if v.size else 0)
    length = int(length)
    n = _aval(xs).shape[0]
    xs = lax.convert_element_type(xs, np.int32)
    eq = lax.eq(lax.broadcast_in_dim(xs, (n, length), (0,)),
                lax.broadcasted_iota(np.int32, (n, length), 1))
    if weights is None:
        return lax.reduce_sum(lax.convert_element_type(eq, dtypes.default_int_dtype()), (0,))
    w = _arr(weights, "bincount")
    if _aval(w).shape != (n,):
        raise ValueError(f"fnp.bincount: weights of shape {_aval(w).shape} must match x of "
                         f"shape {(n,)}")
    if _aval(w).dtype.kind == "b":
        w = lax.convert_element_type(w, dtypes.default_int_dtype())
    wb = lax.broadcast_in_dim(w, (n, length), (0,))
    return lax.reduce_sum(lax.select(eq, wb, _full((n, length), 0, _aval(w).dtype)), (0,))


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The bin edges ``histogram`` would use.

    >>> fnp.histogram_bin_edges(fnp.array([0.0, 1.0]), bins=2).tolist()
    [0.0, 0.5, 1.0]
    """
    x = _S.ravel(_inexact(_arr(a, "histogram_bin_edges")))
    if not isinstance(bins, (int, np.integer)):
        b = _arr(bins, "histogram_bin_edges")
        if _aval(b).ndim != 1:
            raise ValueError("fnp.histogram: bins must be an int or a 1-D array of edges")
        if _is_concrete(b) and np.any(np.diff(np.asarray(b)) < 0):
            raise ValueError("fnp.histogram: bins must increase monotonically")
        return _inexact(b)
    bins = int(bins)
    if bins < 1:
        raise ValueError("fnp.histogram: `bins` must be positive")
    dt = _aval(x).dtype
    if range is None:
        if _aval(x).size == 0:
            lo, hi = np.asarray(0, dt)[()], np.asarray(1, dt)[()]
        else:
            lo, hi = _R.min(x), _R.max(x)
    else:
        lo, hi = range
        if _is_concrete(lo) and _is_concrete(hi) and float(lo) > float(hi):
            raise ValueError("fnp.histogram: max must be larger than min in range parameter")
        lo = _asarray(lo, dt)
        hi = _asarray(hi, dt)
    lo, hi = _asarray(lo, dt), _asarray(hi, dt)
    eq = lax.eq(lo, hi)
    lo = lax.select(eq, lax.sub(lo, _scalar(0.5, lo)), lo)
    hi = lax.select(eq, lax.add(hi, _scalar(0.5, hi)), hi)
    return _C.linspace(lo, hi, bins + 1, dtype=dt)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """Counts of ``a`` in ``bins`` (an int or the edges); returns ``(hist, bin_edges)``.

    Edges may be data-dependent (min/max of ``a``); everything is traceable.

    >>> fnp.histogram(fnp.array([0.0, 0.2, 1.0]), bins=2)[0].tolist()
    [2, 1]
    """
    x = _S.ravel(_inexact(_arr(a, "histogram")))
    edges = histogram_bin_edges(x, bins, range)
    edges, x = _promote_dt("histogram", edges, x)
    nb = _aval(edges).shape[0] - 1
    idx = lax.sub(_searchsorted(edges, x, "right"), np.asarray(1, dtypes.default_int_dtype())[()])
    last = lax.reshape(lax.slice(edges, (nb,), (nb + 1,)), ())
    idx = lax.select(lax.eq(x, lax.broadcast_in_dim(last, _aval(x).shape, ())),
                     _full(_aval(idx).shape, nb - 1, _aval(idx).dtype), idx)
    inside = lax.bitwise_and(lax.ge(idx, _scalar(0, idx)), lax.lt(idx, _scalar(nb, idx)))
    idx = lax.select(inside, idx, _full(_aval(idx).shape, nb, _aval(idx).dtype))
    if weights is None:
        w = lax.convert_element_type(inside, dtypes.default_int_dtype())
    else:
        w = _S.ravel(_arr(weights, "histogram"))
        if _aval(w).shape != _aval(x).shape:
            raise ValueError(f"fnp.histogram: weights of shape {_aval(_arr(weights, 'histogram')).shape} "
                             f"must match a")
        w = lax.select(inside, w, _C.zeros_like(w))
    hist = lax.slice(bincount(idx, w, length=nb + 1), (0,), (nb,))
    if density:
        hist = _inexact(hist)
        widths = diff(edges)
        hist = _U.true_divide(hist, _U.multiply(_R.sum(hist), widths))
    return hist, edges


def interp(x, xp, fp, left=None, right=None, period=None):
    """One-dimensional piecewise-linear interpolation (``xp`` increasing).

    >>> fnp.interp(fnp.array([0.5, 1.5]), fnp.array([0.0, 1.0, 2.0]), fnp.array([0.0, 2.0, 4.0])).tolist()
    [1.0, 3.0]
    """
    xv = _inexact(_arr(x, "interp"))
    xp_ = _arr(xp, "interp")
    fp_ = _arr(fp, "interp")
    if _aval(xp_).ndim != 1 or _aval(fp_).ndim != 1:
        raise ValueError("fnp.interp: xp and fp must be one-dimensional")
    if _aval(xp_).shape != _aval(fp_).shape:
        raise ValueError(f"fnp.interp: fp and xp are not of the same length "
                         f"({_aval(fp_).shape[0]} and {_aval(xp_).shape[0]})")
    if _aval(xp_).shape[0] == 0:
        raise ValueError("fnp.interp: array of sample points is empty")
    xv, xp_ = _promote_dt("interp", xv, _inexact(xp_))
    fp_ = _inexact(fp_)
    if period is not None:
        p = _asarray(period, _aval(xv).dtype) if _is_py(period) else period
        if _is_concrete(p) and float(np.asarray(p)) == 0:
            raise ValueError("fnp.interp: period must be a non-zero value")
        p = lax.abs(_asarray(p, _aval(xv).dtype))
        xv = _U.remainder(xv, p)
        xpm = _U.remainder(xp_, p)
        xpm, fps = _promote_dt("interp", xpm, fp_)
        xpm, fps = lax.sort((xpm, fps), dimension=0, num_keys=1)
        m = _aval(xpm).shape[0]
        xp_ = lax.concatenate([lax.sub(lax.slice(xpm, (m - 1,), (m,)), lax.reshape(p, (1,))),
                               xpm, lax.add(lax.slice(xpm, (0,), (1,)), lax.reshape(p, (1,)))], 0)
        fp_ = lax.concatenate([lax.slice(fps, (m - 1,), (m,)), fps, lax.slice(fps, (0,), (1,))],
                              0)
        left = right = None
    xp_, fp_ = _promote_dt("interp", xp_, fp_)
    xv = lax.convert_element_type(xv, _aval(xp_).dtype)
    m = _aval(xp_).shape[0]
    sh = _aval(xv).shape
    if m == 1:
        out = lax.broadcast_in_dim(fp_, sh + (1,), (len(sh),))
        out = lax.reshape(out, sh)
    else:
        i = _searchsorted(xp_, xv, "right")
        i = lax.clamp(np.asarray(1, _aval(i).dtype)[()], i, np.asarray(m - 1, _aval(i).dtype)[()])
        im = lax.sub(i, _scalar(1, i))
        xi, xim = _take_traced(xp_, i, 0), _take_traced(xp_, im, 0)
        fi, fim = _take_traced(fp_, i, 0), _take_traced(fp_, im, 0)
        dx = lax.sub(xi, xim)
        df = lax.sub(fi, fim)
        delta = lax.sub(xv, xim)
        eps = np.spacing(np.finfo(_aval(dx).dtype).eps)
        dx0 = lax.le(lax.abs(dx), _scalar(eps, dx))
        safe = lax.select(dx0, _full(sh, 1, _aval(dx).dtype), dx)
        out = lax.select(dx0, fim, lax.add(fim, lax.mul(lax.div(delta, safe), df)))
    if period is None:
        x0 = lax.reshape(lax.slice(xp_, (0,), (1,)), ())
        x1 = lax.reshape(lax.slice(xp_, (m - 1,), (m,)), ())
        f0 = lax.reshape(lax.slice(fp_, (0,), (1,)), ())
        f1 = lax.reshape(lax.slice(fp_, (m - 1,), (m,)), ())
        lv = f0 if left is None else _asarray(left, _aval(out).dtype)
        rv = f1 if right is None else _asarray(right, _aval(out).dtype)
        out = lax.select(lax.lt(xv, lax.broadcast_in_dim(x0, sh, ())),
                         lax.broadcast_in_dim(lax.convert_element_type(lv, _aval(out).dtype), sh, ()),
                         out)
        out = lax.select(lax.gt(xv, lax.broadcast_in_dim(x1, sh, ())),
                         lax.broadcast_in_dim(lax.convert_element_type(rv, _aval(out).dtype), sh, ()),
                         out)
    return out


# ============================================================================ signal and calculus

def _conv_full(a, v):
    """Full 1-D convolution by the skew trick: outer product, pad, reshape, sum."""
    n, m = _aval(a).shape[0], _aval(v).shape[0]
    if n < m:
        a, v, n, m = v, a, m, n
    # rows: the shorter input (m), columns: the longer (n)
    outer_ = lax.mul(lax.broadcast_in_dim(v, (m, n), (0,)), lax.broadcast_in_dim(a, (m, n), (1,)))
    L = n + m - 1
    p = lax.pad(outer_, _scalar(0, outer_), [(0, 0, 0), (0, m, 0)])     # (m, n + m)
    flat = lax.reshape(p, (m * (n + m),))
    flat = lax.slice(flat, (0,), (m * L,))
    return lax.reduce_sum(lax.reshape(flat, (m, L)), (0,))


def _conv_mode(name, a, v, mode, correlate_):
    x, y = _promote_dt(name, a, v)
    if _aval(x).ndim != 1 or _aval(y).ndim != 1:
        raise ValueError(f"fnp.{name}: a and v must be 1-D, got shapes {_aval(x).shape} and "
                         f"{_aval(y).shape}")
    n, m = _aval(x).shape[0], _aval(y).shape[0]
    if n == 0 or m == 0:
        raise ValueError(f"fnp.{name}: inputs cannot be empty")
    if _aval(x).dtype == np.bool_:
        x = lax.convert_element_type(x, np.int32)
        y = lax.convert_element_type(y, np.int32)
    if correlate_:
        y = lax.rev(y, (0,))
    full = _conv_full(x, y)
    lo, hi = _bmin(n, m), _bmax(n, m)
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2 if not correlate_ or n >= m else n // 2
        if not correlate_:
            start = (lo - 1) // 2
        return lax.slice(full, (start,), (start + hi,))
    if mode == "valid":
        return lax.slice(full, (lo - 1,), (hi,))
    raise ValueError(f"fnp.{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def convolve(a, v, mode="full"):
    """Discrete linear convolution of two 1-D sequences (modes full/same/valid).

    >>> fnp.convolve(fnp.array([1.0, 2.0]), fnp.array([1.0, 1.0])).tolist()
    [1.0, 3.0, 2.0]
    """
    return _conv_mode("convolve", a, v, mode, False)


def correlate(a, v, mode="valid"):
    """Cross-correlation of two 1-D sequences, ``c[k] = sum_n a[n + k] * v[n]``.

    >>> fnp.correlate(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0])).tolist()
    [2.0, 3.0]
    """
    return _conv_mode("correlate", a, v, mode, True)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (or 2-vectors) along the given axes, with broadcasting.

    >>> fnp.cross(fnp.array([1.0, 0, 0]), fnp.array([0.0, 1, 0])).tolist()
    [0.0, 0.0, 1.0]
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = _promote_dt("cross", a, b)
    x = _S.moveaxis(x, _ax(axisa, _aval(x).ndim, "cross"), -1)
    y = _S.moveaxis(y, _ax(axisb, _aval(y).ndim, "cross"), -1)
    dx, dy = _aval(x).shape[-1], _aval(y).shape[-1]
    if dx not in (2, 3) or dy not in (2, 3):
        raise ValueError(f"fnp.cross: incompatible dimensions for cross product (dimension "
                         f"must be 2 or 3), got {dx} and {dy}")

    def comp(v, i, d):
        if i >= d:
            return None
        return lax.index_in_dim(v, i, _aval(v).ndim - 1, keepdims=False)

    a0, a1, a2 = comp(x, 0, dx), comp(x, 1, dx), comp(x, 2, dx)
    b0, b1, b2 = comp(y, 0, dy), comp(y, 1, dy), comp(y, 2, dy)
    mul, sub = _U.multiply, _U.subtract
    if dx == 2 and dy == 2:
        return sub(mul(a0, b1), mul(a1, b0))
    if dx == 2:
        c0 = mul(a1, b2)
        c1 = _U.negative(mul(a0, b2))
        c2 = sub(mul(a0, b1), mul(a1, b0))
    elif dy == 2:
        c0 = _U.negative(mul(a2, b1))
        c1 = mul(a2, b0)
        c2 = sub(mul(a0, b1), mul(a1, b0))
    else:
        c0 = sub(mul(a1, b2), mul(a2, b1))
        c1 = sub(mul(a2, b0), mul(a0, b2))
        c2 = sub(mul(a0, b1), mul(a1, b0))
    c0, c1, c2 = _S.broadcast_arrays(c0, c1, c2)
    r = _S.stack([c0, c1, c2], axis=-1)
    return _S.moveaxis(r, -1, _ax(axisc, _aval(r).ndim, "cross"))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` along ``axis`` by the trapezoidal rule.

    >>> float(fnp.trapezoid(fnp.array([1.0, 2.0, 3.0])))
    4.0
    """
    yv = _inexact(_arr(y, "trapezoid"))
    nd = _aval(yv).ndim
    axis = _ax(axis, nd, "trapezoid")
    n = _aval(yv).shape[axis]
    if x is None:
        d = dx
    else:
        xv = _inexact(_arr(x, "trapezoid"))
        if _aval(xv).ndim == 1:
            d = lax.sub(lax.slice(xv, (1,), (_bmax(n, 1),)), lax.slice(xv, (0,), (_bmax(n - 1, 0),)))
            shape = [1] * nd
            shape[axis] = _aval(d).shape[0]
            d = lax.reshape(d, tuple(shape))
        else:
            d = diff(xv, axis=axis)
    ys = _U.add(_slice_axis(yv, 1, _bmax(n, 1), axis), _slice_axis(yv, 0, _bmax(n - 1, 0), axis))
    return _R.sum(_U.true_divide(_U.multiply(d, ys), 2.0), axis)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
        dtype=None):
    """Covariance matrix of the variables in the rows of ``m`` (columns if not
    ``rowvar``), with optional frequency and analytic weights, as ``np.cov``.

    >>> fnp.cov(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError("fnp.cov: ddof must be integer")
    X = _arr(m, "cov")
    if _aval(X).ndim > 2:
        raise ValueError("fnp.cov: m has more than 2 dimensions")
    X = _S.atleast_2d(X)
    if not rowvar and _aval(X).shape[0] != 1:
        X = lax.transpose(X, (1, 0))
    if _aval(X).shape[0] == 0:
        return _full((0, 0), np.nan, _float_dtype_of(X))
    if y is not None:
        Y = _S.atleast_2d(_arr(y, "cov"))
        if not rowvar and _aval(Y).shape[0] != 1:
            Y = lax.transpose(Y, (1, 0))
        X = _S.concatenate([X, Y], 0)
    X = _inexact(X) if dtype is None else lax.convert_element_type(
        X, _dtype_arg(dtype, "fnp.cov"))
    dt = _aval(X).dtype
    ddof = (0 if bias else 1) if ddof is None else int(ddof)
    n = _aval(X).shape[1]
    w = None
    if fweights is not None:
        fw = _arr(fweights, "cov")
        if _aval(fw).ndim != 1 or _aval(fw).shape[0] != n:
            raise ValueError("fnp.cov: fweights must be 1-D with one entry per observation")
        if _aval(fw).dtype.kind not in "iub":
            raise TypeError("fnp.cov: fweights must be integer")
        w = lax.convert_element_type(fw, dt)
    if aweights is not None:
        aw = lax.convert_element_type(_arr(aweights, "cov"), dt)
        if _aval(aw).ndim != 1 or _aval(aw).shape[0] != n:
            raise ValueError("fnp.cov: aweights must be 1-D with one entry per observation")
        w = aw if w is None else lax.mul(w, aw)
    if w is None:
        avg = _R.mean(X, axis=1)
        w_sum = np.asarray(n, dt)[()]
        fact = np.asarray(n - ddof, dt)[()]
    else:
        w_sum = _R.sum(w)
        avg = lax.div(_R.sum(lax.mul(X, lax.broadcast_in_dim(w, _aval(X).shape, (1,))), 1),
                      lax.broadcast_in_dim(w_sum, (_aval(X).shape[0],), ()))
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = lax.sub(w_sum, _scalar(ddof, w_sum))
        else:
            aw = lax.convert_element_type(_arr(aweights, "cov"), dt)
            fact = lax.sub(w_sum, lax.div(lax.mul(_scalar(ddof, w_sum), _R.sum(lax.mul(w, aw))),
                                          w_sum))
    Xc = lax.sub(X, lax.broadcast_in_dim(avg, _aval(X).shape, (0,)))
    Xw = Xc if w is None else lax.mul(Xc, lax.broadcast_in_dim(w, _aval(X).shape, (1,)))
    c = lax.dot_general(Xw, Xc, (((1,), (1,)), ((), ())))
    c = lax.div(c, lax.broadcast_in_dim(fact, _aval(c).shape, ()) if not isinstance(
        fact, np.generic) else fact)
    if _aval(c).shape == (1, 1):
        return lax.reshape(c, ())
    return c


def corrcoef(x, y=None, rowvar=True, dtype=None):
    """Pearson correlation coefficients (``cov`` normalized, clipped to [-1, 1]).

    >>> fnp.corrcoef(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if _aval(c).ndim == 0:
        return lax.div(c, c)
    d = _diagonal(c, 0)
    sd = lax.sqrt(d)
    n = _aval(d).shape[0]
    c = lax.div(c, lax.broadcast_in_dim(sd, (n, n), (0,)))
    c = lax.div(c, lax.broadcast_in_dim(sd, (n, n), (1,)))
    return _U.clip(c, -1, 1)


# ============================================================================ polynomials

def polyval(p, x):
    """Evaluate the polynomial with coefficients ``p`` (highest power first) at ``x``.

    >>> float(fnp.polyval(fnp.array([1.0, 0.0, -1.0]), 3.0))
    8.0
    """
    pv = _arr(p, "polyval")
    if _aval(pv).ndim != 1:
        raise ValueError("fnp.polyval: p must be 1-D")
    xv = _arr(x, "polyval")
    dt, _ = _result_dtype(pv, xv)
    pv, xv = lax.convert_element_type(pv, dt), lax.convert_element_type(xv, dt)
    n = _aval(pv).shape[0]
    y = _C.zeros_like(xv)
    for i in range(n):
        c = lax.reshape(lax.slice(pv, (i,), (i + 1,)), ())
        y = _U.add(_U.multiply(y, xv), c)
    return y


def _poly1d(p, name):
    v = _S.atleast_1d(_arr(p, name))
    if _aval(v).ndim != 1:
        raise ValueError(f"fnp.{name}: polynomial coefficients must be 1-D")
    return v


def polyadd(a1, a2):
    """Sum of two polynomials (coefficients, highest power first).

    >>> fnp.polyadd(fnp.array([1, 2]), fnp.array([1, 0, 0])).tolist()
    [1, 1, 2]
    """
    a, b = _poly1d(a1, "polyadd"), _poly1d(a2, "polyadd")
    n, m = _aval(a).shape[0], _aval(b).shape[0]
    if n < m:
        a = lax.pad(a, _scalar(0, a), [(m - n, 0, 0)])
    elif m < n:
        b = lax.pad(b, _scalar(0, b), [(n - m, 0, 0)])
    return _U.add(a, b)


def polysub(a1, a2):
    """Difference of two polynomials.

    >>> fnp.polysub(fnp.array([1, 2]), fnp.array([1, 0, 0])).tolist()
    [-1, 1, 2]
    """
    return polyadd(a1, _U.negative(_poly1d(a2, "polysub")))


def polymul(a1, a2):
    """Product of two polynomials.

    >>> fnp.polymul(fnp.array([1, 1]), fnp.array([1, -1])).tolist()
    [1, 0, -1]
    """
    return convolve(_poly1d(a1, "polymul"), _poly1d(a2, "polymul"))


def polyder(p, m=1):
    """The ``m``-th derivative of a polynomial.

    >>> fnp.polyder(fnp.array([1, 1, 1])).tolist()
    [2, 1]
    """
    v = _poly1d(p, "polyder")
    m = int(m)
    if m < 0:
        raise ValueError("fnp.polyder: order of derivative must be positive")
    for _ in range(m):
        n = _aval(v).shape[0]
        if n <= 1:
            v = _full((0,), 0, _aval(v).dtype)
            continue
        k = lax.convert_element_type(lax.rev(lax.add(lax.iota(np.int32, n - 1), np.int32(1)),
                                             (0,)), _aval(v).dtype)
        v = lax.mul(lax.slice(v, (0,), (n - 1,)), k)
    return v


def polyint(p, m=1, k=None):
    """The ``m``-th antiderivative of a polynomial, integration constants ``k``.

    >>> fnp.polyint(fnp.array([3.0, 2.0, 1.0])).tolist()
    [1.0, 1.0, 1.0, 0.0]
    """
    v = _inexact(_poly1d(p, "polyint"))
    m = int(m)
    if m < 0:
        raise ValueError("fnp.polyint: order of integral must be positive")
    ks = np.zeros(m) if k is None else np.broadcast_to(np.asarray(k, float).reshape(-1), (m,)) \
        if np.ndim(k) == 0 or np.size(k) == 1 else np.asarray(k, float)
    if len(ks) < m:
        raise ValueError("fnp.polyint: k must be a scalar or a sequence of length m")
    for i in range(m):
        n = _aval(v).shape[0]
        div = lax.convert_element_type(lax.rev(lax.add(lax.iota(np.int32, n), np.int32(1)), (0,)),
                                       _aval(v).dtype)
        v = lax.concatenate([lax.div(v, div), lax.full((1,), ks[i], _aval(v).dtype)], 0)
    return v


# ============================================================================ selection helpers

def piecewise(x, condlist, funclist, *args, **kw):
    """Apply ``funclist[i]`` where ``condlist[i]`` holds (the last function, if one
    extra, where none does); every function is evaluated on all of ``x``.

    >>> fnp.piecewise(fnp.array([-1.0, 1.0]), [fnp.array([True, False])], [0.0, lambda v: v]).tolist()
    [0.0, 1.0]
    """
    xv = _arr(x, "piecewise")
    if isinstance(condlist, (Array, Tracer)) and _aval(condlist).ndim == _aval(xv).ndim:
        condlist = [condlist]
    condlist = [_arr(c, "piecewise") for c in condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"fnp.piecewise: with {n} condition(s), either {n} or {n + 1} "
                         f"functions are expected")
    if len(funclist) == n + 1:
        none = lax.bitwise_not(_R.any(_S.stack([_U.logical_and(c, True) for c in condlist]), 0)
                               ) if n else _full(_aval(xv).shape, True, np.bool_)
        condlist = condlist + [none]
    out = _C.zeros_like(xv)
    for c, f in zip(condlist, funclist):
        val = f(xv, *args, **kw) if callable(f) else f
        val = lax.convert_element_type(_arr(val, "piecewise"), _aval(xv).dtype)
        out = _U.where(c, val, out)
    return out


def unravel_index(indices, shape):
    """Convert flat indices into a tuple of coordinate arrays for ``shape``.

    >>> [int(v) for v in fnp.unravel_index(5, (2, 3))]
    [1, 2]
    """
    idx = _arr(indices, "unravel_index")
    if _aval(idx).dtype.kind not in "iu":
        raise TypeError(f"fnp.unravel_index: indices must be integers, got {_aval(idx).dtype}")
    shape = tuple(int(s) for s in ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    if _is_concrete(idx):
        v = np.asarray(idx)
        total = int(np.prod(shape, dtype=np.int64))
        if v.size and (v.min() < -total or v.max() >= total):
            raise ValueError(f"fnp.unravel_index: index out of bounds for shape {shape}")
    out = []
    rem = idx
    total = int(np.prod(shape, dtype=np.int64))
    rem = _U.remainder(rem, _bmax(total, 1))
    for i in range(len(shape)):
        stride = int(np.prod(shape[i + 1:], dtype=np.int64))
        out.append(_U.floor_divide(rem, stride) if stride != 1 else rem)
        rem = _U.remainder(rem, stride) if stride != 1 else rem
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices from a tuple of coordinate arrays (``mode``: raise/wrap/clip).

    >>> int(fnp.ravel_multi_index((1, 2), (2, 3)))
    5
    """
    if order != "C":
        raise NotImplementedError("fnp.ravel_multi_index supports order='C' only")
    dims = tuple(int(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"fnp.ravel_multi_index: parameter multi_index must be a sequence "
                         f"of length {len(dims)}")
    idxs = [_arr(i, "ravel_multi_index") for i in multi_index]
    for i in idxs:
        if _aval(i).dtype.kind not in "iu":
            raise TypeError("fnp.ravel_multi_index: only int indices permitted")
    out = None
    for i, (ix, d) in enumerate(zip(idxs, dims)):
        if mode == "raise":
            if _is_concrete(ix):
                v = np.asarray(ix)
                if v.size and (v.min() < 0 or v.max() >= d):
                    raise ValueError("fnp.ravel_multi_index: invalid entry in coordinates array")
        elif mode == "wrap":
            ix = _U.remainder(ix, d)
        elif mode == "clip":
            ix = _U.clip(ix, 0, d - 1)
        else:
            raise ValueError(f"fnp.ravel_multi_index: invalid mode {mode!r}")
        stride = int(np.prod(dims[i + 1:], dtype=np.int64))
        term = _U.multiply(ix, stride)
        out = term if out is None else _U.add(out, term)
    return out


def block(arrays):
    """Assemble an array from nested lists of blocks.

    >>> fnp.block([[fnp.ones((1, 1)), fnp.zeros((1, 1))]]).tolist()
    [[1.0, 0.0]]
    """
    def depth(x):
        if isinstance(x, list):
            if not x:
                raise ValueError("fnp.block: lists cannot be empty")
            ds = {depth(e) for e in x}
            if len(ds) != 1:
                raise ValueError("fnp.block: list depths are mismatched")
            return 1 + ds.pop()
        if isinstance(x, tuple):
            raise TypeError("fnp.block: tuples are not allowed; use lists")
        return 0

    d = depth(arrays)
    leaves = [_arr(e, "block") for e in _leaves(arrays)]
    nd = _bmax([d] + [_aval(v).ndim for v in leaves])

    def rec(x, level):
        if not isinstance(x, list):
            v = _arr(x, "block")
            k = _aval(v).ndim
            return lax.reshape(v, (1,) * (nd - k) + _aval(v).shape) if k < nd else v
        parts = [rec(e, level + 1) for e in x]
        return _S.concatenate(parts, axis=-(d - level))

    return rec(arrays, 0)


def broadcast_shapes(*shapes):
    """The shape that arrays of ``shapes`` broadcast to (``TypeError`` if incompatible).

    >>> fnp.broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(int(d) for d in s)
              for s in shapes]
    return _bshapes(*shapes, where="fnp.broadcast_shapes")


# ============================================================================ dtypes

def _dtype_and_weak(x):
    if _is_py(x):
        return dtypes.python_scalar_dtype(x), not isinstance(x, bool)
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic)):
        a = _aval(x) if isinstance(x, (Array, Tracer)) else None
        if a is not None:
            return a.dtype, a.weak_type
        return dtypes.check_supported(x.dtype, "fnp.result_type"), False
    if x in (float, int, complex, bool):
        return dtypes.python_scalar_dtype(x(0)), x is not bool
    return dtypes.check_supported(x, "fnp.result_type"), False


def promote_types(a, b):
    """The dtype two (strong) dtypes promote to, by JAX's lattice.

    >>> fnp.promote_types('int8', 'uint8')
    dtype('int16')
    """
    return dtypes.result_type(dtypes.check_supported(a, "fnp.promote_types"),
                              dtypes.check_supported(b, "fnp.promote_types"))


def can_cast(from_, to, casting="safe"):
    """NumPy's ``can_cast`` on dtypes (a Python bool).

    >>> fnp.can_cast('int32', 'float64')
    True
    """
    f = _dtype_and_weak(from_)[0] if not isinstance(from_, (str, np.dtype, type)) else from_
    return bool(np.can_cast(np.dtype(f), np.dtype(to), casting))


def result_type(*args):
    """Result dtype of an operation on ``args`` (arrays, scalars or dtypes) by JAX's
    promotion rules with weak Python scalars.

    >>> fnp.result_type(fnp.ones(2, 'float32'), 1.0)
    dtype('float32')
    """
    if not args:
        raise ValueError("at least one array or dtype is required")
    return dtypes.promote_types(*[_dtype_and_weak(a) for a in args])[0]


# ============================================================================ functional helpers

def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """Apply ``func1d`` to 1-D slices along ``axis`` (vectorized with ``vmap``).

    >>> fnp.apply_along_axis(fnp.sum, 1, fnp.ones((2, 3))).tolist()
    [3.0, 3.0]
    """
    from .._api import vmap
    x = _arr(arr, "apply_along_axis")
    nd = _aval(x).ndim
    axis = _ax(axis, nd, "apply_along_axis")
    x = _S.moveaxis(x, axis, -1)
    f = lambda v: _asarray(func1d(v, *args, **kwargs))  # noqa: E731
    for _ in range(nd - 1):
        f = vmap(f)
    r = f(x)
    nb = nd - 1
    core = _aval(r).ndim - nb
    perm = list(range(axis)) + list(range(nb, nb + core)) + list(range(axis, nb))
    return lax.transpose(r, perm) if perm != list(range(nb + core)) else r


def apply_over_axes(func, a, axes):
    """Apply ``func(a, axis)`` repeatedly over ``axes``, keeping dimensions.

    >>> fnp.apply_over_axes(fnp.sum, fnp.ones((2, 3)), [0, 1]).shape
    (1, 1)
    """
    x = _arr(a, "apply_over_axes")
    for ax in ((axes,) if isinstance(axes, (int, np.integer)) else axes):
        nd = _aval(x).ndim
        r = func(x, ax)
        if _aval(r).ndim == nd - 1:
            r = _S.expand_dims(r, ax % nd)
        elif _aval(r).ndim != nd:
            raise ValueError("fnp.apply_over_axes: function is not returning an array of the "
                             "correct shape")
        x = r
    return x


def _parse_gufunc_signature(sig):
    import re
    sig = sig.replace(" ", "")
    m = re.fullmatch(r"((?:\((?:\w+(?:,\w+)*)?\),?)*)->((?:\((?:\w+(?:,\w+)*)?\),?)*)", sig)
    if not m:
        raise ValueError(f"fnp.vectorize: not a valid gufunc signature: {sig!r}")

    def parts(s):
        return [tuple(d for d in g.split(",") if d) for g in re.findall(r"\(([^)]*)\)", s)]
    return parts(m.group(1)), parts(m.group(2))


class vectorize:
    """Vectorize a function over array arguments with ``vmap`` (NumPy broadcasting of
    the loop dimensions; ``signature='(n),(n)->()'`` names core dimensions).

    >>> fnp.vectorize(lambda a, b: a + b)(fnp.ones(3), 1.0).shape
    (3,)
    """

    def __init__(self, pyfunc, otypes=None, doc=None, excluded=None, cache=False,
                 signature=None):
        self.pyfunc = pyfunc
        self.excluded = set(excluded or ())
        self.signature = signature
        self.__doc__ = doc or getattr(pyfunc, "__doc__", None)

    def __call__(self, *args, **kwargs):
        from .._api import vmap
        excluded = {i for i in self.excluded if isinstance(i, int)}
        exkw = {k: v for k, v in kwargs.items() if k in self.excluded}
        kw = {k: v for k, v in kwargs.items() if k not in self.excluded}
        names = list(kw)
        pos = [i for i in range(len(args)) if i not in excluded]
        vals = [_arr(args[i], "vectorize") for i in pos] + [_arr(kw[k], "vectorize")
                                                             for k in names]
        if self.signature is not None:
            ins, outs = _parse_gufunc_signature(self.signature)
            if len(ins) != len(vals):
                raise TypeError(f"fnp.vectorize: signature {self.signature!r} has {len(ins)} "
                                f"inputs but {len(vals)} were given")
        else:
            ins, outs = [()] * len(vals), None
        sizes = {}
        loops = []
        for v, core in zip(vals, ins):
            sh = _aval(v).shape
            if len(sh) < len(core):
                raise ValueError(f"fnp.vectorize: input with shape {sh} has fewer dimensions "
                                 f"than the core dimensions {core}")
            for name, d in zip(core, sh[len(sh) - len(core):]):
                if sizes.setdefault(name, d) != d:
                    raise ValueError(f"fnp.vectorize: inconsistent size for core dimension "
                                     f"{name!r}: {sizes[name]} vs {d}")
            loops.append(sh[:len(sh) - len(core)])
        loop = _bshapes(*loops, where="fnp.vectorize")
        nl = len(loop)
        bvals = []
        for v, core, ls in zip(vals, ins, loops):
            sh = _aval(v).shape
            target = loop + sh[len(ls):]
            bvals.append(_S.broadcast_to(v, target))

        def call(*vs):
            a = list(args)
            for i, v in zip(pos, vs[:len(pos)]):
                a[i] = v
            k = dict(exkw)
            k.update(zip(names, vs[len(pos):]))
            return self.pyfunc(*a, **k)

        f = call
        for _ in range(nl):
            f = vmap(f)
        return f(*bvals)


# ============================================================================ more reductions and products

def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """Cumulative product (Array API); ``include_initial`` prepends ones.

    >>> fnp.cumulative_prod(fnp.array([1, 2, 3])).tolist()
    [1, 2, 6]
    """
    return _R._cumulative("cumulative_prod", _R.cumprod, x, axis, dtype, include_initial, 1)


def vecdot(x1, x2, /, *, axis=-1):
    """Vector dot product along ``axis`` with broadcasting.

    >>> float(fnp.vecdot(fnp.array([1.0, 2.0]), fnp.array([3.0, 4.0])))
    11.0
    """
    a, b = _promote("fnp.vecdot", x1, x2)
    a, b = _asarray(a), _asarray(b)
    nd = _aval(a).ndim
    if nd == 0:
        raise ValueError("fnp.vecdot: inputs must be at least 1-d")
    return _R.sum(_U.multiply(a, b), axis=_ax(axis, nd, "vecdot"))


def matvec(x1, x2, /):
    """Matrix-vector product with broadcasting of the leading dimensions.

    >>> fnp.matvec(fnp.eye(2), fnp.array([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    from ._products import matmul
    r = matmul(x1, _S.expand_dims(x2, -1))
    return lax.squeeze(r, (_aval(r).ndim - 1,))


def vecmat(x1, x2, /):
    """Vector-matrix product with broadcasting of the leading dimensions.

    >>> fnp.vecmat(fnp.array([1.0, 2.0]), fnp.eye(2)).tolist()
    [1.0, 2.0]
    """
    from ._products import matmul
    r = matmul(_S.expand_dims(x1, -2), x2)
    return lax.squeeze(r, (_aval(r).ndim - 2,))


# ============================================================================ order statistics

# ============================================================================ set routines

def _unique(*a, **k):
    from ._sorting import unique as _u
    return _u(*a, **k)


def unique_values(x, /):
    """Sorted unique values (Array API).

    >>> fnp.unique_values(fnp.array([2, 1, 2])).tolist()
    [1, 2]
    """
    return _unique(x)


def unique_counts(x, /):
    """``(values, counts)`` of the unique elements (Array API).

    >>> [v.tolist() for v in fnp.unique_counts(fnp.array([2, 1, 2]))]
    [[1, 2], [1, 2]]
    """
    return _unique(x, return_counts=True)


def unique_inverse(x, /):
    """``(values, inverse_indices)`` with the inverse shaped like ``x`` (Array API).

    >>> [v.tolist() for v in fnp.unique_inverse(fnp.array([2, 1, 2]))]
    [[1, 2], [1, 0, 1]]
    """
    xv = _arr(x, "unique_inverse")
    return _unique(xv, return_inverse=True)


def unique_all(x, /):
    """``(values, indices, inverse_indices, counts)`` (Array API).

    >>> len(fnp.unique_all(fnp.array([2, 1, 2])))
    4
    """
    xv = _arr(x, "unique_all")
    return _unique(xv, return_index=True, return_inverse=True, return_counts=True)


def _set_concrete(name, *arrays):
    return [_concrete(_arr(a, name), name, "the inputs") for a in arrays]


def union1d(ar1, ar2):
    """Sorted unique values in either array (concrete inputs).

    >>> fnp.union1d(fnp.array([1, 3]), fnp.array([2, 3])).tolist()
    [1, 2, 3]
    """
    return _unique(_S.concatenate([_S.ravel(_arr(ar1, "union1d")), _S.ravel(_arr(ar2, "union1d"))]))


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    """Sorted values in both arrays (concrete inputs).

    >>> fnp.intersect1d(fnp.array([1, 3]), fnp.array([2, 3])).tolist()
    [3]
    """
    a, b = _set_concrete("intersect1d", ar1, ar2)
    vals, i1, i2 = np.intersect1d(a, b, assume_unique=assume_unique, return_indices=True)
    r = _take_static(_S.ravel(_arr(ar1, "intersect1d")), i1, 0)
    if return_indices:
        idt = dtypes.default_int_dtype()
        return r, Array(i1.astype(idt)), Array(i2.astype(idt))
    return r


def setdiff1d(ar1, ar2, assume_unique=False):
    """Sorted unique values of ``ar1`` not in ``ar2`` (concrete inputs).

    >>> fnp.setdiff1d(fnp.array([1, 2, 3]), fnp.array([2])).tolist()
    [1, 3]
    """
    a, b = _set_concrete("setdiff1d", ar1, ar2)
    a = a.reshape(-1)
    u, idx = np.unique(a, return_index=True)
    keep = ~np.isin(u, b)
    return _take_static(_S.ravel(_arr(ar1, "setdiff1d")), idx[keep], 0)


def setxor1d(ar1, ar2, assume_unique=False):
    """Sorted values in exactly one of the arrays (concrete inputs).

    >>> fnp.setxor1d(fnp.array([1, 2]), fnp.array([2, 3])).tolist()
    [1, 3]
    """
    a, b = _set_concrete("setxor1d", ar1, ar2)
    both = _S.concatenate([_S.ravel(_arr(ar1, "setxor1d")), _S.ravel(_arr(ar2, "setxor1d"))])
    ab = np.concatenate([a.reshape(-1), b.reshape(-1)])
    u, idx = np.unique(ab, return_index=True)
    keep = np.isin(u, np.setxor1d(a, b))
    return _take_static(both, idx[keep], 0)


__all__ = [
    'split', 'array_split', 'hsplit', 'vsplit', 'dsplit', 'unstack', 'tile', 'repeat',
    'resize', 'flip', 'fliplr', 'flipud', 'rot90', 'roll', 'rollaxis', 'pad', 'fmax',
    'fmin', 'nan_to_num', 'isneginf', 'isposinf', 'isreal', 'iscomplex', 'isrealobj',
    'iscomplexobj', 'isscalar', 'real', 'imag', 'conjugate', 'conj', 'angle', 'logaddexp2',
    'ldexp', 'modf', 'divmod', 'gcd', 'lcm', 'float_power', 'acos', 'acosh', 'asin',
    'asinh', 'atan', 'atanh', 'atan2', 'bitwise_invert', 'pow', 'concat', 'astype', 'copy',
    'ascontiguousarray', 'nansum', 'nanprod', 'nanmax', 'nanmin', 'nanmean', 'nanvar',
    'nanstd', 'nanargmax', 'nanargmin', 'nancumsum', 'nancumprod', 'isclose', 'allclose',
    'array_equal', 'array_equiv', 'isin', 'diff', 'ediff1d', 'gradient', 'tril',
    'triu', 'diag', 'diagflat', 'fill_diagonal', 'vander', 'append', 'delete', 'insert',
    'trim_zeros', 'logspace', 'geomspace', 'indices', 'mgrid', 'ogrid', 'fromfunction',
    'hanning', 'hamming', 'blackman', 'bartlett', 'digitize', 'bincount',
    'histogram_bin_edges', 'histogram', 'interp', 'convolve', 'correlate', 'cross',
    'trapezoid', 'cov', 'corrcoef', 'polyval', 'polyadd', 'polysub', 'polymul', 'polyder',
    'polyint', 'piecewise', 'unravel_index', 'ravel_multi_index', 'block',
    'broadcast_shapes', 'promote_types', 'can_cast', 'apply_along_axis', 'apply_over_axes',
    'vectorize', 'cumulative_prod', 'vecdot', 'matvec', 'vecmat', 'unique_values',
    'unique_counts', 'unique_inverse', 'unique_all', 'union1d', 'intersect1d', 'setdiff1d',
    'setxor1d', 'result_type',
]
