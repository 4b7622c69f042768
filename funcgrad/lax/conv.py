"""Convolutions (``conv_general_dilated``) and windowed reductions (``reduce_window``).

Convolution
-----------
``conv_general_dilated_p`` has normalized params: ``window_strides``, ``padding`` (explicit
``(lo, hi)`` pairs, negative crops), ``lhs_dilation``, ``rhs_dilation`` (tuples),
``dimension_numbers`` (a ``ConvDimensionNumbers`` of axis permutations: lhs ``(batch,
feature, spatial...)``, rhs ``(out feature, in feature, spatial...)``, out ``(batch,
feature, spatial...)``), ``feature_group_count``, ``batch_group_count``, ``precision``
(always None: ignored on these backends) and ``preferred_element_type``.

Group semantics (as XLA/JAX): with ``feature_group_count=G`` the lhs features and the rhs
output features are split group-major into G groups and group g of the output sees group
g of the input. With ``batch_group_count=B`` the lhs batch is split group-major into B
groups (the output batch is N // B) and output-feature group b sees batch group b.

The eager kernel works on strided views: the lhs is padded and lhs-dilated into one
buffer, ``as_strided`` exposes every window without a copy, and one copy ("im2col", in
cache-sized chunks) lays the patches out for a single BLAS matmul per group.  The copy
order and matmul orientation follow the operand's declared layout (channels-last inputs
copy channel runs; channel-major ones copy spatial runs and multiply from the other
side), so the kernel is fast for NHWC and NCHW alike and for the transposed convolutions
that gradients produce.  Other paths: stride-1 channels-last convs with few output
features run one matmul per kernel tap on row-shifted views (no patch copy); depthwise
convs multiply-accumulate per tap; lhs-dilated (transposed) convs are split into
``prod(lhs_dilation)`` ordinary convs with sub-sampled kernels instead of multiplying the
inserted zeros.  All choices depend on shapes and params only, never on the operands'
actual memory layout, so results are bitwise reproducible (eager == jit).

JVP is bilinear.  The transposes are themselves ``conv_general_dilated``: wrt the lhs a
convolution of the cotangent with the spatially flipped kernel (features swapped, lhs
dilation = window strides); wrt the rhs a convolution of the lhs with the cotangent
(batch and feature roles swapped).  So they stay fast and are differentiable again.

Windowed reductions
-------------------
``reduce_window_sum_p`` (linear; its transpose is a windowed sum of the strided-dilated
cotangent, i.e. col2im), ``reduce_window_max_p`` and ``reduce_window_min_p``.  The
derivative of a max/min window picks the tangent at the window's arg-max/arg-min; ties go
to the FIRST occurrence in row-major window order (unlike ``reduce_max``, which splits
ties).  It is built from three helper primitives: ``window_select`` (value and in-window
index), ``window_gather`` (tangent at those indices; linear) and its transpose
``window_scatter`` (scatter-add of the cotangent to the chosen positions).  The in-window
index is int8 for windows of up to 127 taps.
"""
from __future__ import annotations

import functools
import itertools
import threading
from typing import NamedTuple

import numpy as np

from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.primitive import Primitive
from ..core.trace import Tracer, get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ..interpreters.batching import bdim_at_front
from ._util import check_dtype

_stride_tricks = np.lib.stride_tricks


def _xp(x):
    """The array module (numpy or cupy) of a raw array."""
    if type(x).__module__.startswith("cupy"):
        import cupy
        return cupy
    return np


def _as_strided(xp, x, shape, strides):
    if xp is np:
        return _stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _dilate_dim(n, d):
    return 0 if n == 0 else (n - 1) * d + 1


def _tuple(v, n, name, what):
    if v is None:
        return (1,) * n
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(i) for i in v)
    if len(t) != n:
        raise TypeError(f"{name}: {what} {t} needs {n} entries (one per spatial dimension)")
    if any(i < 1 for i in t):
        raise TypeError(f"{name}: {what} {t} must be positive")
    return t


def _operand(x):
    if isinstance(x, (Tracer, Array, np.ndarray, np.generic)):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return x
    return np.asarray(x)


# ----------------------------------------------------------------------------- dimension numbers

class ConvDimensionNumbers(NamedTuple):
    """Axis permutations of a convolution's operands.

    ``lhs_spec = (batch, feature, spatial...)``, ``rhs_spec = (out feature, in feature,
    spatial...)``, ``out_spec = (batch, feature, spatial...)``.

    >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def _spec_from_string(spec, chars, spatial_order, what):
    a, b = chars
    if spec.count(a) != 1 or spec.count(b) != 1 or len(set(spec)) != len(spec):
        raise TypeError(f"conv dimension_numbers: {what} spec {spec!r} must name each "
                        f"dimension once and contain {a!r} and {b!r}")
    spatial = [c for c in spec if c not in chars]
    if sorted(spatial) != sorted(spatial_order):
        raise TypeError(f"conv dimension_numbers: {what} spec {spec!r} has spatial "
                        f"dimensions {''.join(spatial)!r} but the kernel spec has "
                        f"{''.join(spatial_order)!r}")
    return (spec.index(a), spec.index(b)) + tuple(spec.index(c) for c in spatial_order)


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """Normalize ``dimension_numbers`` to a ``ConvDimensionNumbers``.

    Accepts None (``NCHW``/``OIHW``/``NCHW``-style), three layout strings such as
    ``("NHWC", "HWIO", "NHWC")`` or ``("NWC", "WIO", "NWC")``, or three permutations.

    >>> conv_dimension_numbers((1, 3, 5), (2, 3, 3), None)
    ConvDimensionNumbers(lhs_spec=(0, 1, 2), rhs_spec=(0, 1, 2), out_spec=(0, 1, 2))
    """
    lhs_shape, rhs_shape = tuple(lhs_shape), tuple(rhs_shape)
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise TypeError(f"conv: lhs and rhs must have the same rank, got shapes {lhs_shape} "
                        f"and {rhs_shape}")
    if nd < 2:
        raise TypeError(f"conv: operands need rank >= 2 (batch and feature dimensions), got "
                        f"shapes {lhs_shape} and {rhs_shape}")
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        dn = dimension_numbers
    else:
        try:
            lhs, rhs, out = dimension_numbers
        except (TypeError, ValueError):
            raise TypeError("conv: dimension_numbers must be None, a ConvDimensionNumbers or a "
                            f"triple of specs, got {dimension_numbers!r}") from None
        if all(isinstance(s, str) for s in (lhs, rhs, out)):
            if not len(lhs) == len(rhs) == len(out) == nd:
                raise TypeError(f"conv: dimension_numbers {dimension_numbers} must have one "
                                f"letter per dimension of the rank-{nd} operands (shapes "
                                f"{lhs_shape} and {rhs_shape})")
            sp = [c for c in rhs if c not in "OI"]
            rspec = _spec_from_string(rhs, "OI", sp, "rhs")
            lspec = _spec_from_string(lhs, "NC", sp, "lhs")
            ospec = _spec_from_string(out, "NC", sp, "out")
            return ConvDimensionNumbers(lspec, rspec, ospec)
        if any(isinstance(s, str) for s in (lhs, rhs, out)):
            raise TypeError(f"conv: dimension_numbers {dimension_numbers!r} mixes strings "
                            "and permutations")
        dn = ConvDimensionNumbers(tuple(lhs), tuple(rhs), tuple(out))
    dn = ConvDimensionNumbers(*(tuple(int(i) for i in s) for s in dn))
    for s, what in zip(dn, ("lhs_spec", "rhs_spec", "out_spec")):
        if sorted(s) != list(range(nd)):
            raise TypeError(f"conv: dimension_numbers.{what}={s} is not a permutation of the "
                            f"{nd} dimensions of shapes {lhs_shape} and {rhs_shape}")
    return dn


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """Explicit ``(lo, hi)`` pads for ``"SAME"``, ``"SAME_LOWER"`` or ``"VALID"``.

    ``SAME`` gives ``ceil(in / stride)`` outputs (the extra pad goes to the high side).

    >>> padtype_to_pads((5, 5), (3, 3), (2, 2), "SAME")
    [(1, 1), (1, 1)]
    """
    if not isinstance(padding, str):
        return [tuple(int(v) for v in p) for p in padding]
    mode = padding.upper()
    if mode == "VALID":
        return [(0, 0)] * len(in_shape)
    if mode in ("SAME", "SAME_LOWER"):
        out = []
        for n, w, s in zip(in_shape, window_shape, window_strides):
            o = -(-n // s)
            total = max((o - 1) * s + w - n, 0)
            lo = total // 2 if mode == "SAME" else total - total // 2
            out.append((lo, total - lo))
        return out
    raise ValueError(f"unknown padding {padding!r}: use 'SAME', 'SAME_LOWER', 'VALID' or a "
                     "sequence of (low, high) pairs")


def _norm_padding(padding, n, name):
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: padding must be 'SAME', 'VALID' or a sequence of (low, high) "
                        f"pairs, got {padding!r}") from None
    if len(pads) != n:
        raise TypeError(f"{name}: padding {pads} needs {n} (low, high) pairs, one per "
                        "spatial dimension")
    return pads


# ----------------------------------------------------------------------------- shared kernels

_scratch = threading.local()


def _scratch_empty(xp, shape, dtype, slot):
    """A temporary array backed by a per-thread buffer reused across calls (numpy only).

    Big temporaries (padded inputs, patch matrices) otherwise come fresh from the OS on
    every call and cost a page fault per 4 KiB.  Only for arrays that never escape the
    kernel; each ``slot`` holds one live temporary at a time.
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if xp is not np or n < (64 << 10) or n > _SCRATCH_MAX:
        return xp.empty(shape, dtype)
    buf = getattr(_scratch, slot, None)
    if buf is None or buf.nbytes < n:
        buf = np.empty(max(n, 1 << 20), np.uint8)
        setattr(_scratch, slot, buf)
    return buf[:n].view(dtype).reshape(shape)


_SCRATCH_MAX = 32 << 20


def _layout_order(x):
    """Axes of raw ``x`` from the largest stride to the smallest (its memory order)."""
    return sorted(range(x.ndim), key=lambda i: -abs(x.strides[i]) if x.shape[i] > 1 else 0)


def _empty_in_layout(xp, shape, dtype, order, fill=None, slot=None):
    """A new array of ``shape`` whose memory order follows the axis ``order`` (from the
    scratch ``slot`` when given: a temporary)."""
    pshape = tuple(shape[i] for i in order)
    if slot is not None:
        buf = _scratch_empty(xp, pshape, dtype, slot)
        if fill is not None:
            buf.fill(fill)
    elif fill is None:
        buf = xp.empty(pshape, dtype)
    elif fill == 0:
        buf = xp.zeros(pshape, dtype)
    else:
        buf = xp.full(pshape, fill, dtype=dtype)
    return buf.transpose(np.argsort(order))


def _pad_dilate(x, config, fill, slot=None, order=None, force=False):
    """Pad/dilate raw ``x``: ``config[i] = (lo, hi, dilation)`` (negative lo/hi crop).

    One allocation and one strided copy.  The buffer's memory order is ``order`` (axes
    from outermost to innermost), by default ``x``'s own layout so later windows over it
    read the way ``x`` did.  ``force`` copies even without padding.
    """
    if not force and all(lo == 0 and hi == 0 and d == 1 for lo, hi, d in config):
        return x
    xp = _xp(x)
    shape = tuple(lo + hi + _dilate_dim(n, d) for n, (lo, hi, d) in zip(x.shape, config))
    if any(s < 0 for s in shape):
        raise ValueError(f"padding {config} removes more than the shape {x.shape}")
    buf = _empty_in_layout(xp, shape, x.dtype, _layout_order(x) if order is None else order,
                           fill, slot)
    src, dst = [], []
    for n, (lo, hi, d), size in zip(x.shape, config, shape):
        j0 = 0 if lo >= 0 else -(lo // d)          # ceil(-lo / d)
        j1 = n if size == 0 else min(n, (size - 1 - lo) // d + 1)
        j1 = max(j1, j0)
        src.append(slice(j0, j1))
        start = j0 * d + lo
        dst.append(slice(start, start + (j1 - j0 - 1) * d + 1 if j1 > j0 else start, d))
    if all(s.stop > s.start for s in src):
        buf[tuple(dst)] = x[tuple(src)]
    return buf


def _unpad_dilate(buf, config, in_shape):
    """Inverse selection of ``_pad_dilate``: the entries of ``buf`` at the original
    positions (zero where the original element was cropped away)."""
    if all(lo == 0 and hi == 0 and d == 1 for lo, hi, d in config):
        return buf
    xp = _xp(buf)
    src, dst, full = [], [], True
    for n, (lo, hi, d), size in zip(in_shape, config, buf.shape):
        j0 = 0 if lo >= 0 else -(lo // d)
        j1 = n if size == 0 else min(n, (size - 1 - lo) // d + 1)
        j1 = max(j1, j0)
        full = full and j0 == 0 and j1 == n
        dst.append(slice(j0, j1))
        start = j0 * d + lo
        src.append(slice(start, start + (j1 - j0 - 1) * d + 1 if j1 > j0 else start, d))
    if full:
        return buf[tuple(src)]
    out = _empty_in_layout(xp, in_shape, buf.dtype, _layout_order(buf), 0)
    if all(s.stop > s.start for s in dst):
        out[tuple(dst)] = buf[tuple(src)]
    return out


def _window_out_shape(name, in_shape, window, strides, padding, base_dil, win_dil):
    """Output sizes of sliding windows; a window larger than the padded operand gives a
    size-0 dimension (as XLA/JAX)."""
    out = []
    for n, w, s, (lo, hi), bd, wd in zip(in_shape, window, strides, padding, base_dil, win_dil):
        padded = _dilate_dim(n, bd) + lo + hi
        wdil = _dilate_dim(w, wd)
        if padded < 0:
            raise TypeError(
                f"{name}: padding {tuple(padding)} crops more than the operand of shape "
                f"{tuple(in_shape)} (a dimension of size {n} padded by {(lo, hi)} has size "
                f"{padded}); use less negative padding.")
        out.append(max(0, (padded - wdil) // s + 1) if padded >= wdil else 0)
    return tuple(out)


# ============================================================================= convolution

conv_general_dilated_p = Primitive("conv_general_dilated")

# Patch buffers above this many bytes are processed in chunks (bounds memory; chunks of a
# few MB also keep the copy+matmul pipeline in cache).
_CHUNK_BYTES = 2 << 20


def _run_length(axes):
    """Contiguous run (in elements) at the end of an axis order ``[(size, stride), ...]``
    whose strides are in units of elements."""
    run = 1
    for size, st in reversed(axes):
        if size == 1:
            continue
        if st != run:
            break
        run *= size
    return run


def _out_empty(xp, shape, dtype, holder):
    """A new array for a kernel's result; from ``holder`` (a one-element list owned by a
    compiled program: the buffer is kept and reused by later calls, so big results do not
    page-fault fresh memory every time) when given (numpy only)."""
    if holder is None or xp is not np:
        return xp.empty(shape, dtype)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = holder[0]
    if buf is None or buf.nbytes < n:
        buf = holder[0] = np.empty(max(n, 1), np.uint8)
    return buf[:n].view(dtype).reshape(shape)


def _conv_kernel(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                 dimension_numbers, feature_group_count, batch_group_count, precision=None,
                 preferred_element_type=None, out_holder=None):
    """Eager kernel of ``conv_general_dilated`` on raw numpy/cupy arrays (see the module
    docstring for the paths it chooses between).  ``out_holder`` (compiled code only): a
    one-element list whose buffer the result may be written into (``_out_empty``)."""
    xp = _xp(lhs)
    lspec, rspec, ospec = dimension_numbers
    nsp = lhs.ndim - 2
    G = feature_group_count * batch_group_count   # at most one of them is > 1
    pet = preferred_element_type
    if pet is not None and lhs.dtype != pet:
        lhs, rhs = lhs.astype(pet), rhs.astype(pet)
    if _PHASES_ENABLED and any(d > 1 for d in lhs_dilation) and all(
            s == 1 and r == 1 for d, s, r in zip(lhs_dilation, window_strides, rhs_dilation)
            if d > 1):
        return _conv_phases(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                            dimension_numbers, feature_group_count, batch_group_count)
    # lhs as (N, S..., C), padded and lhs-dilated.  Every choice below (copy order, matmul
    # orientation, per-tap path) depends only on shapes and params, through the strides
    # the operand has when contiguous in its declared layout, never on its actual memory
    # layout: so the result is bitwise the same however the input happens to be laid out
    # (eager views vs jit buffers).  An unusual actual layout only costs a slower copy.
    xaxes = (lspec[0],) + tuple(lspec[2:]) + (lspec[1],)
    x = lhs.transpose(xaxes)
    order = [xaxes.index(a) for a in range(lhs.ndim)]     # x axes in declared memory order
    cfg = [(0, 0, 1)] + [(lo, hi, d) for (lo, hi), d in zip(padding, lhs_dilation)] + [(0, 0, 1)]
    x = _pad_dilate(x, cfg, 0, "pad", order=order)
    lx = _logical_strides(x.shape, order)                # element strides, declared layout
    N, C = x.shape[0], x.shape[-1]
    w = rhs.transpose((rspec[0], rspec[1]) + tuple(rspec[2:]))   # (O, I, K...)
    O = w.shape[0]
    K = w.shape[2:]
    T = tuple((p - _dilate_dim(k, rd)) // s + 1 if p >= _dilate_dim(k, rd) else 0
              for p, k, rd, s in zip(x.shape[1:-1], K, rhs_dilation, window_strides))
    Og = O // G
    if batch_group_count > 1:
        Nb, Cg = N // G, C
    else:
        Nb, Cg = N, C // G
    out_dtype = np.result_type(x.dtype, w.dtype)
    canon_shape = (Nb,) + T + (O,)
    if 0 in canon_shape or Cg == 0 or any(k == 0 for k in K):
        res = xp.zeros(canon_shape, out_dtype)
        return _canon_to_out(res, ospec, nsp, pet)

    it = x.itemsize

    def view_axes(sx):
        # axes of the patch view: group, then rows (batch, T...), cols (K..., C)
        g_ax = (G, Nb * sx[0]) if batch_group_count > 1 else (G, Cg * sx[-1])
        rows = [(Nb, sx[0])] + [(t, sx[1 + i] * window_strides[i]) for i, t in enumerate(T)]
        cols = [(k, sx[1 + i] * rhs_dilation[i]) for i, k in enumerate(K)] + [(Cg, sx[-1])]
        return g_ax, rows, cols

    g_ax, rows, cols = view_axes(lx)                  # declared layout: decides
    g_act, rows_act, cols_act = view_axes(x.strides)  # actual layout (bytes): reads
    # rhs as (G, Og, I, K...) axes; cols map to rhs axes: K_i -> 2 + i, C -> 1 (I)
    wg = w.reshape((G, Og) + w.shape[1:])
    col_rhs_axis = [3 + i for i in range(nsp)] + [2]

    if batch_group_count == 1 and G > 1 and Cg == 1 and int(np.prod(K)) <= 64:
        res = _depthwise(x, wg, T, K, window_strides, rhs_dilation, G, Og, out_dtype)
        return _canon_to_out(res, ospec, nsp, pet)
    if batch_group_count > 1 and Nb == 1 and int(np.prod(T)) * Og <= 64:
        res = _depthwise_wgrad(x, wg, T, K, window_strides, rhs_dilation, G, Og, out_dtype,
                               order)
        return _canon_to_out(res, ospec, nsp, pet)
    if G == 1 and _FLAT_ENABLED and _flat_ok(x.shape, lx, window_strides) and \
            _flat_cost(K, C, O) < _im2col_cost(K, C, O):
        if tuple(x.strides) != tuple(st * it for st in lx) and x.size > 1:
            x = _pad_dilate(x, [(0, 0, 1)] * x.ndim, 0, "pad", order=order, force=True)
        res = _conv_flat(x, w, T, K, rhs_dilation, out_dtype, out_holder)
        return _canon_to_out(res, ospec, nsp, pet)

    def order_block(block, idx):
        # stable sort by stride, largest first (size-1 axes do not matter)
        return sorted(idx, key=lambda i: -abs(block[i][1]) if block[i][0] > 1 else 0)

    r_ord = order_block(rows, list(range(len(rows))))
    c_ord = order_block(cols, list(range(len(cols))))
    run_cols_last = _run_length([cols[i] for i in c_ord])
    run_rows_last = _run_length([rows[i] for i in r_ord])
    rows_last = run_rows_last > run_cols_last
    R = int(np.prod([r[0] for r in rows]))
    Cc = int(np.prod([c[0] for c in cols]))

    # the strided view in copy order: (G, first block..., second block...)
    blocks = ([("c", i) for i in c_ord] + [("r", i) for i in r_ord]) if rows_last else (
        [("r", i) for i in r_ord] + [("c", i) for i in c_ord])
    v_shape = [g_ax[0]] + [(rows if k == "r" else cols)[i][0] for k, i in blocks]
    v_strides = [g_act[1]] + [(rows_act if k == "r" else cols_act)[i][1] for k, i in blocks]
    view = _as_strided(xp, x, tuple(v_shape), tuple(v_strides))

    # rhs matrix with the columns in the same order: (G, Cc, Og) or (G, Og, Cc)
    wperm = [0] + [col_rhs_axis[i] for i in c_ord] + [1]
    # rows_last with one group computes the transposed product (R, Og) = p.T @ w.T (the
    # result comes out channels-last, the canonical layout), so w is wanted as (Cc, Og)
    rows_t = rows_last and G == 1
    if rows_last and not rows_t:
        wperm = [0, 1] + [col_rhs_axis[i] for i in c_ord]
        wm = _copy_scratch(xp, wg.transpose(wperm), "wmat").reshape(G, Og, Cc)
    else:
        wm = _copy_scratch(xp, wg.transpose(wperm), "wmat").reshape(G, Cc, Og)
    if wm.dtype != out_dtype:
        wm = wm.astype(out_dtype)

    # chunk (groups, then the outermost copy axis) so a patch block stays cache-sized
    first = v_shape[1]
    per_group = R * Cc * it
    if per_group >= _CHUNK_BYTES:
        gstep = 1
        step = -(-first // max(1, min(first, per_group // _CHUNK_BYTES)))
    else:
        gstep = max(1, min(G, _CHUNK_BYTES // max(per_group, 1)))
        step = first
    chunked = gstep < G or step < first
    if rows_t:
        out = None
        if chunked:
            outT = _out_empty(xp, (R, Og), out_dtype, out_holder)
            outT.fill(0)
    elif rows_last:
        out = None
        if chunked:
            out = _out_empty(xp, (G, Og, R), out_dtype, out_holder)
            out.fill(0)
    else:
        out = _out_empty(xp, (G, R, Og), out_dtype, out_holder) if chunked else None
    tmp = None
    for g0 in range(0, G, gstep):
        g1 = min(G, g0 + gstep)
        for c0 in range(0, first, step):
            c1 = min(first, c0 + step)
            part = view[g0:g1, c0:c1] if chunked else view
            p = _scratch_empty(xp, part.shape, part.dtype, "patch")
            p[...] = part
            if p.dtype != out_dtype:
                p = p.astype(out_dtype)
            if rows_t:
                # (R, Og) = p.T @ w.T: the result comes out channels-last (the canonical
                # layout), so the elementwise ops that usually follow (bias, activation)
                # stream through it instead of reading across channel planes, and w is
                # read in the (Cc, Og) order a kernel gradient has (no transposing copy).
                # (A choice by shape only, like every other one here.)
                per = Cc // first
                p = p.reshape(per * (c1 - c0), R)
                wpart = wm[0, c0 * per:c1 * per]
                if not chunked:
                    out = xp.matmul(p.T, wpart,
                                    out=_out_empty(xp, (R, Og), out_dtype, out_holder)).T[None]
                else:
                    if tmp is None:
                        tmp = _scratch_empty(xp, (R, Og), out_dtype, "acc")
                    xp.matmul(p.T, wpart, out=tmp)
                    outT += tmp
            elif rows_last:
                # the first block is columns: accumulate partial contractions
                per = Cc // first
                p = p.reshape(g1 - g0, per * (c1 - c0), R)
                wpart = wm[g0:g1, :, c0 * per:c1 * per]
                if not chunked:
                    out = xp.matmul(wpart, p)
                elif step == first:
                    xp.matmul(wpart, p, out=out[g0:g1])
                else:
                    if tmp is None:
                        tmp = xp.empty((g1 - g0, Og, R), out_dtype)
                    xp.matmul(wpart, p, out=tmp[:g1 - g0])
                    out[g0:g1] += tmp[:g1 - g0]
            else:
                per = R // first
                p = p.reshape(g1 - g0, per * (c1 - c0), Cc)
                if not chunked and G == 1:
                    out = xp.matmul(p[0], wm[0],
                                    out=_out_empty(xp, (R, Og), out_dtype, out_holder))[None]
                elif not chunked:
                    out = xp.matmul(p, wm)
                else:
                    xp.matmul(p, wm[g0:g1], out=out[g0:g1, c0 * per:c1 * per])
    if rows_t and chunked:
        out = outT.T[None]
    # back to canonical (Nb, T..., G, Og)
    r_sizes = [rows[i][0] for i in r_ord]
    if rows_last:
        res = out.reshape([G, Og] + r_sizes)
        # axes: 0=G, 1=Og, 2+j = rows[r_ord[j]]
        pos = {r_ord[j]: 2 + j for j in range(len(r_ord))}
        perm = [pos[i] for i in range(len(rows))] + [0, 1]
    else:
        res = out.reshape([G] + r_sizes + [Og])
        pos = {r_ord[j]: 1 + j for j in range(len(r_ord))}
        perm = [pos[i] for i in range(len(rows))] + [0, len(r_sizes) + 1]
    res = res.transpose(perm).reshape(canon_shape)
    return _canon_to_out(res, ospec, nsp, pet)


_FLAT_ENABLED = True
_PHASES_ENABLED = True


def _conv_phases(lhs, rhs, strides, padding, ldil, rdil, dn, fgc, bgc):
    """A conv of an lhs-dilated input (transposed conv) without multiplying the holes.

    Along a dimension dilated by ``d`` (window stride 1, no rhs dilation), outputs ``t``
    with ``t % d == p`` only meet input samples through the kernel taps ``k0(p) + j*d``:
    each phase ``p`` is an ordinary undilated convolution with a sub-sampled kernel, whose
    result fills ``out[p::d]``.  ``d**n`` small convs instead of one ``d**n`` times larger.
    """
    xp = _xp(lhs)
    lspec, rspec, ospec = dn
    nsp = lhs.ndim - 2
    S = [lhs.shape[i] for i in lspec[2:]]
    K = [rhs.shape[i] for i in rspec[2:]]
    T = [max(0, (_dilate_dim(n, d) + lo + hi - _dilate_dim(k, r)) // s + 1)
         if _dilate_dim(n, d) + lo + hi >= _dilate_dim(k, r) else 0
         for n, d, (lo, hi), k, r, s in zip(S, ldil, padding, K, rdil, strides)]
    N = lhs.shape[lspec[0]] // bgc
    O = rhs.shape[rspec[0]]
    shape = [0] * lhs.ndim
    shape[ospec[0]], shape[ospec[1]] = N, O
    for i in range(nsp):
        shape[ospec[2 + i]] = T[i]
    out = None
    dt = np.result_type(lhs.dtype, rhs.dtype)
    for phase in itertools.product(*[range(d) for d in ldil]):
        pads = list(padding)
        ksl = [slice(None)] * rhs.ndim
        osl = [slice(None)] * lhs.ndim
        empty = False
        for i in range(nsp):
            if ldil[i] == 1:
                continue
            plan = _phase_plan(S[i], K[i], ldil[i], padding[i][0], T[i], phase[i])
            if plan is None:
                empty = True
                break
            pads[i], ksl[rspec[2 + i]], osl[ospec[2 + i]] = plan
        if empty:
            continue
        r = _conv_kernel(lhs, rhs[tuple(ksl)], window_strides=strides, padding=tuple(pads),
                         lhs_dilation=(1,) * nsp, rhs_dilation=rdil, dimension_numbers=dn,
                         feature_group_count=fgc, batch_group_count=bgc)
        if out is None:
            # the first phase fixes the memory layout of the result
            out = _empty_in_layout(xp, shape, dt, _layout_order(r), 0)
        out[tuple(osl)] = r
    if out is None:
        out = xp.zeros(shape, dt)
    return out


def _phase_plan(n, k, d, lo, t, p):
    """One output phase of a stride-1 window over an input of size ``n`` dilated by ``d``
    and padded by ``lo`` at the start: outputs ``p, p + d, ...`` (of ``t``) see input
    samples only through the taps ``k0, k0 + d, ...`` (of ``k``).  Returns the padding of
    the equivalent undilated problem, the tap slice and the output slice (None: no
    output or no tap in this phase)."""
    k0 = (lo - p) % d
    if p >= t or k <= k0:
        return None
    tp = -(-(t - p) // d)
    kp = -(-(k - k0) // d)
    lo2 = -((p + k0 - lo) // d)
    return (lo2, tp + kp - 1 - n - lo2), slice(k0, None, d), slice(p, None, d)


def _logical_strides(shape, order):
    """Element strides of a C-contiguous array of ``shape`` whose axes are stored in
    ``order`` (outermost first)."""
    st = [0] * len(shape)
    acc = 1
    for a in reversed(order):
        st[a] = acc
        acc *= shape[a]
    return st


def _flat_ok(shape, st, strides):
    """Stride-1 conv over a channels-last (N, P..., C) layout (element strides ``st``)
    whose (N, P...) axes collapse to rows."""
    if any(s != 1 for s in strides) or len(shape) < 3 or st[-1] != 1:
        return False
    if st[-2] < shape[-1]:
        return False
    for i in range(len(shape) - 2, 0, -1):
        if st[i - 1] != st[i] * shape[i] and shape[i - 1] > 1:
            return False
    return True


def _flat_cost(K, C, O):
    """Memory traffic (elements per output row) of the per-tap matmul path.  When both
    matmul dimensions are wide (C >= 64 inputs, O >= 32 outputs) one big im2col matmul
    with a ``taps`` times longer contraction runs much closer to peak than the per-tap
    ones with their accumulation passes (measured: the input gradient of a 3x3 32->64
    conv, ~20% faster), so the per-tap path is not taken there."""
    taps = int(np.prod(K))
    if C >= 64 and O >= 32 and taps > 1:
        return float("inf")
    return taps * C + (3 * taps - 2) * O


def _im2col_cost(K, C, O):
    """Memory traffic (elements per output row) of the im2col path (patch copy)."""
    taps = int(np.prod(K))
    return 3 * taps * C + O


def _conv_flat(x, w, T, K, rdil, out_dtype, out_holder=None):
    """Stride-1 conv as one matmul per kernel tap on row-shifted views (no patch copy).

    The padded channels-last buffer is viewed as a (rows, C) matrix; tap ``k`` reads the
    rows shifted by its flat offset.  Outputs are computed for every buffer row (the few
    rows past the valid region are ignored) and the valid ones are returned as a view.
    Rows are processed in cache-sized blocks, all taps per block.
    """
    xp = _xp(x)
    N, P, C = x.shape[0], x.shape[1:-1], x.shape[-1]
    O = w.shape[0]
    it = x.itemsize
    rows = N * int(np.prod(P))
    X = _as_strided(xp, x, (rows, C), (x.strides[-2], it))
    pstr = [int(np.prod(P[i + 1:])) for i in range(len(P))]
    taps = list(itertools.product(*[range(k) for k in K]))
    offs = [sum(k[i] * rdil[i] * pstr[i] for i in range(len(P))) for k in taps]
    L = rows - max(offs)
    wk = [xp.ascontiguousarray(w[(slice(None), slice(None)) + k].T).astype(out_dtype, copy=False)
          for k in taps]                                                     # (C, O) each
    out = _out_empty(xp, (rows, O), out_dtype, out_holder)
    blk = max(256, _FLAT_BLOCK_BYTES // max(1, (C + 2 * O) * it))
    tmp = _scratch_empty(xp, (min(blk, L), O), out_dtype, "tmp")
    for r0 in range(0, L, blk):
        r1 = min(L, r0 + blk)
        o = out[r0:r1]
        t = tmp[:r1 - r0]
        for j, (off, W) in enumerate(zip(offs, wk)):
            src = X[r0 + off:r1 + off]
            if j == 0:
                xp.matmul(src, W, out=o)
            else:
                xp.matmul(src, W, out=t)
                o += t
    res = out.reshape((N,) + tuple(P) + (O,))
    return res[(slice(None),) + tuple(slice(0, t) for t in T)]


_FLAT_BLOCK_BYTES = 1 << 20


def _depthwise(x, wg, T, K, strides, rdil, G, Og, out_dtype):
    """Depthwise conv (one input feature per group): multiply-accumulate per kernel tap,
    in cache-sized blocks of output rows (all taps per block).

    ``x`` is (N, P..., C=G) padded; ``wg`` is (G, Og, 1, K...).  Returns (N, T..., G*Og).
    """
    xp = _xp(x)
    N = x.shape[0]
    T = tuple(T)
    out = xp.empty((N,) + T + (G, Og), out_dtype)
    wk = xp.moveaxis(wg[:, :, 0], (0, 1), (-2, -1)).astype(out_dtype, copy=False)  # K.., G, Og
    taps = list(itertools.product(*[range(k) for k in K]))
    row = int(np.prod(T[1:], dtype=np.int64)) * G * Og * out.itemsize   # one t0 row
    t0_blk = max(1, min(T[0], _FLAT_BLOCK_BYTES // max(row, 1))) if T else 1
    n_blk = max(1, _FLAT_BLOCK_BYTES // max(row * (T[0] if T else 1), 1)) if t0_blk == (
        T[0] if T else 1) else 1
    tmp = None
    for n0 in range(0, N, n_blk):
        n1 = min(N, n0 + n_blk)
        for a in range(0, T[0] if T else 1, t0_blk):
            b = min(T[0], a + t0_blk) if T else 1
            ob = out[n0:n1, a:b] if T else out[n0:n1]               # (n, t.., G, Og)
            if tmp is None or tmp.shape != ob.shape[:-1]:
                tmp = xp.empty(ob.shape[:-1], out_dtype)
            for m in range(Og):
                o = ob[..., m]                          # inner loop over G (not Og)
                for j, kk in enumerate(taps):
                    sl = [slice(n0, n1)]
                    for i, (k, rd, t, s) in enumerate(zip(kk, rdil, T, strides)):
                        lo, hi = (a, b) if i == 0 else (0, t)
                        st = k * rd + lo * s
                        sl.append(slice(st, st + (hi - lo - 1) * s + 1, s))
                    xs = x[tuple(sl) + (slice(None),)]              # (n, t.., G)
                    if j == 0:
                        np.multiply(xs, wk[kk][:, m], out=o)
                    else:
                        np.multiply(xs, wk[kk][:, m], out=tmp)
                        o += tmp
    return out.reshape((N,) + T + (G * Og,))


def _depthwise_wgrad(x, wg, T, K, strides, rdil, G, Og, out_dtype, order):
    """Batch-grouped conv with one lhs batch entry per group and few outputs: the kernel
    gradient of a depthwise conv.  Per output tap, a product of two strided views reduced
    over the window and the features, in cache-sized blocks (no patch matrix, whose size
    would be the input's times the number of kernel taps).

    ``x`` is (G, P..., C') padded, ``order`` its declared memory order (the products are
    laid out and summed in that order whatever ``x``'s actual layout, for reproducible
    bits); ``wg`` is (G, Og, C', K...).  Returns (1, T..., G*Og).
    """
    xp = _xp(x)
    Cp = x.shape[-1]
    T = tuple(T)
    nsp = len(T)
    acc = xp.zeros((G,) + T + (Og,), out_dtype)
    w = xp.moveaxis(wg, 2, -1)                                   # (G, Og, K..., C')
    # block over C' and the first window dimension (K0) so both factors stay in cache
    row = int(np.prod(K[1:], dtype=np.int64)) * G * x.itemsize if nsp else G * x.itemsize
    c_blk = max(1, min(Cp, _FLAT_BLOCK_BYTES // max(row * (K[0] if nsp else 1), 1)))
    k_blk = (K[0] if nsp else 1) if c_blk > 1 else max(1, min(K[0] if nsp else 1,
                                                            _FLAT_BLOCK_BYTES // max(row, 1)))
    red = tuple(range(1, nsp + 2))
    tmp = None
    for c0 in range(0, Cp, c_blk):
        c1 = min(Cp, c0 + c_blk)
        for k0 in range(0, K[0] if nsp else 1, k_blk):
            k1 = min(K[0], k0 + k_blk) if nsp else 1
            for tt in itertools.product(*[range(t) for t in T]):
                sl = [slice(None)]
                for i, (t, s, rd, k) in enumerate(zip(tt, strides, rdil, K)):
                    lo, hi = (k0, k1) if i == 0 else (0, k)
                    st = t * s + lo * rd
                    sl.append(slice(st, st + (hi - lo - 1) * rd + 1, rd))
                xs = x[tuple(sl) + (slice(c0, c1),)]                # (G, K.., c)
                if tmp is None or tmp.shape != xs.shape:
                    tmp = _empty_in_layout(xp, xs.shape, out_dtype, order)
                for m in range(Og):
                    wsl = (slice(None), m) + ((slice(k0, k1),) if nsp else ()) + (
                        (slice(None),) * (nsp - 1) if nsp else ()) + (slice(c0, c1),)
                    np.multiply(xs, w[wsl], out=tmp)
                    acc[(slice(None),) + tt + (m,)] += tmp.sum(axis=red)
    return xp.moveaxis(acc, 0, -2).reshape((1,) + T + (G * Og,))


def _canon_to_out(res, ospec, nsp, pet):
    """(N, T..., O) -> the out_spec layout (a view)."""
    perm = [0] * (nsp + 2)
    perm[ospec[0]] = 0
    perm[ospec[1]] = nsp + 1
    for i in range(nsp):
        perm[ospec[2 + i]] = 1 + i
    res = res.transpose(perm)
    if pet is not None and res.dtype != pet:
        res = res.astype(pet)
    return res


conv_general_dilated_p.impl = _conv_kernel


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision=None,
                   preferred_element_type=None):
    name = "conv_general_dilated"
    check_dtype(name, lhs, "num")
    check_dtype(name, rhs, "num")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{name} requires lhs and rhs of the same dtype, got {lhs.dtype.name} "
                        f"(shape {lhs.shape}) and {rhs.dtype.name} (shape {rhs.shape}); convert "
                        "one of them with .astype(...)")
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(f"{name}: lhs and rhs need the same rank >= 2, got shapes {lhs.shape} "
                        f"and {rhs.shape}")
    lspec, rspec, ospec = dimension_numbers
    nsp = lhs.ndim - 2
    for v, what in ((window_strides, "window_strides"), (lhs_dilation, "lhs_dilation"),
                    (rhs_dilation, "rhs_dilation"), (padding, "padding")):
        if len(v) != nsp:
            raise TypeError(f"{name}: {what}={v} needs {nsp} entries for shapes {lhs.shape} "
                            f"and {rhs.shape}")
    fg, bg = feature_group_count, batch_group_count
    if fg < 1 or bg < 1 or (fg > 1 and bg > 1):
        raise TypeError(f"{name}: feature_group_count={fg} and batch_group_count={bg} must be "
                        ">= 1 and at most one of them > 1")
    N, C = lhs.shape[lspec[0]], lhs.shape[lspec[1]]
    O, I = rhs.shape[rspec[0]], rhs.shape[rspec[1]]
    dn_txt = f"dimension_numbers={tuple(dimension_numbers)}"
    if C % fg or C // fg != I:
        raise TypeError(
            f"{name}: the lhs feature dimension (size {C}, lhs shape {lhs.shape}) must equal "
            f"the rhs input-feature dimension (size {I}, rhs shape {rhs.shape}) times "
            f"feature_group_count={fg}; {dn_txt}. Check the kernel layout "
            "(e.g. 'HWIO' vs 'OIHW') and the number of input channels.")
    if O % fg:
        raise TypeError(f"{name}: the rhs output-feature dimension (size {O}, rhs shape "
                        f"{rhs.shape}) must be a multiple of feature_group_count={fg}")
    if bg > 1 and (N % bg or O % bg):
        raise TypeError(f"{name}: batch_group_count={bg} must divide the lhs batch size "
                        f"{N} (lhs shape {lhs.shape}) and the output features {O} (rhs shape "
                        f"{rhs.shape})")
    S = [lhs.shape[i] for i in lspec[2:]]
    K = [rhs.shape[i] for i in rspec[2:]]
    T = _window_out_shape(f"{name} (lhs shape {lhs.shape}, rhs shape {rhs.shape}, spatial "
                          "dimensions only)",
                          [_dilate_dim(n, d) for n, d in zip(S, lhs_dilation)], K,
                          window_strides, padding, (1,) * nsp, rhs_dilation)
    shape = [0] * lhs.ndim
    shape[ospec[0]] = N // bg
    shape[ospec[1]] = O
    for i in range(nsp):
        shape[ospec[2 + i]] = T[i]
    dt = preferred_element_type if preferred_element_type is not None else lhs.dtype
    return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)


# ----------------------------------------------------------------------------- conv rules

def _regroup(x, src, dst, groups):
    """Split axis ``src`` into ``(groups, rest)`` and merge ``groups`` into axis ``dst`` as
    its major part.  Same rank; ``shape[src] //= groups``, ``shape[dst] *= groups``."""
    from .structural import reshape, transpose
    if groups == 1:
        return x
    shape = list(get_aval(x).shape)
    split = shape[:src] + [groups, shape[src] // groups] + shape[src + 1:]
    x = reshape(x, split)
    d = dst if dst < src else dst + 1          # position of dst in the split array
    order = [i for i in range(len(split)) if i != src]
    order.insert(order.index(d), src)
    x = transpose(x, order)
    new = list(shape)
    new[src] //= groups
    new[dst] *= groups
    return reshape(x, new)


def _fold(x, bdim, dst, groups=1):
    """Merge the vmap axis ``bdim`` of ``x`` into axis ``dst`` (of the unbatched layout),
    ordered ``(groups, vmap, dst // groups)``."""
    from .structural import moveaxis, reshape
    x = moveaxis(x, bdim, dst)
    shape = list(get_aval(x).shape)
    B, D = shape[dst], shape[dst + 1]
    if groups > 1:
        x = reshape(x, shape[:dst] + [B, groups, D // groups] + shape[dst + 2:])
        x = moveaxis(x, dst, dst + 1)
    return reshape(x, shape[:dst] + [B * D] + shape[dst + 2:])


def _unfold(y, dst, B, groups=1):
    """Split axis ``dst`` ordered ``(groups, B, rest)`` into a vmap axis ``B`` at ``dst``
    followed by ``groups * rest``."""
    from .structural import moveaxis, reshape
    shape = list(get_aval(y).shape)
    D = shape[dst]
    if groups > 1:
        y = reshape(y, shape[:dst] + [groups, B, D // (groups * B)] + shape[dst + 1:])
        y = moveaxis(y, dst + 1, dst)
    return reshape(y, shape[:dst] + [B, D // B] + shape[dst + 1:])


def _conv_bind(lhs, rhs, **params):
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def _transpose_lhs(ct, rhs, lhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type):
    from .structural import rev
    lspec, rspec, ospec = dimension_numbers
    nsp = len(window_strides)
    S = [lhs_aval.shape[i] for i in lspec[2:]]
    rshape = get_aval(rhs).shape
    K = [rshape[i] for i in rspec[2:]]
    T = [get_aval(ct).shape[i] for i in ospec[2:]]
    pads = []
    for i in range(nsp):
        kd = _dilate_dim(K[i], rhs_dilation[i])
        ld = _dilate_dim(S[i], lhs_dilation[i])
        qd = _dilate_dim(T[i], window_strides[i])
        lo = kd - 1 - padding[i][0]
        pads.append((lo, ld + kd - 1 - qd - lo))
    G = max(feature_group_count, batch_group_count)
    kern = _regroup(rhs, rspec[0], rspec[1], G)
    kern = rev(kern, tuple(rspec[2:]))
    t_rspec = (rspec[1], rspec[0]) + tuple(rspec[2:])
    dn = ConvDimensionNumbers(ospec, t_rspec, lspec)
    out = _conv_bind(ct, kern, window_strides=tuple(lhs_dilation), padding=tuple(pads),
                     lhs_dilation=tuple(window_strides), rhs_dilation=tuple(rhs_dilation),
                     dimension_numbers=dn, feature_group_count=G, batch_group_count=1,
                     precision=None, preferred_element_type=None)
    if batch_group_count > 1:
        out = _regroup(out, lspec[1], lspec[0], batch_group_count)
    return out


def _transpose_rhs(ct, lhs, rhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type):
    lspec, rspec, ospec = dimension_numbers
    nsp = len(window_strides)
    lshape = get_aval(lhs).shape
    S = [lshape[i] for i in lspec[2:]]
    K = [rhs_aval.shape[i] for i in rspec[2:]]
    T = [get_aval(ct).shape[i] for i in ospec[2:]]
    pads = []
    for i in range(nsp):
        kd = _dilate_dim(K[i], rhs_dilation[i])
        ld = _dilate_dim(S[i], lhs_dilation[i])
        qd = _dilate_dim(T[i], window_strides[i])
        lo = padding[i][0]
        pads.append((lo, qd - ld + kd - lo - 1))
    if batch_group_count > 1:
        fgc, bgc = batch_group_count, 1
    else:
        fgc, bgc = 1, feature_group_count
    swap = lambda s: (s[1], s[0]) + tuple(s[2:])  # noqa: E731
    dn = ConvDimensionNumbers(swap(lspec), swap(ospec), swap(rspec))
    return _conv_bind(lhs, ct, window_strides=tuple(rhs_dilation), padding=tuple(pads),
                      lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(window_strides),
                      dimension_numbers=dn, feature_group_count=fgc, batch_group_count=bgc,
                      precision=None, preferred_element_type=None)


def _conv_transpose_rule(ct, lhs, rhs, **params):
    if type(ct) is Zero:
        return [None, None]
    from .elementwise import convert_element_type
    if ad.is_undefined_primal(lhs) and ad.is_undefined_primal(rhs):
        raise TypeError("conv_general_dilated: both operands depend linearly on the input")
    if ad.is_undefined_primal(lhs):
        aval, other = lhs.aval, rhs
    else:
        aval, other = rhs.aval, lhs
    odt = get_aval(other).dtype
    if get_aval(ct).dtype != odt:
        ct = convert_element_type(ct, odt)
    if ad.is_undefined_primal(lhs):
        r = _transpose_lhs(ct, rhs, aval, **params)
    else:
        r = _transpose_rhs(ct, lhs, aval, **params)
    if get_aval(r).dtype != aval.dtype:
        r = convert_element_type(r, aval.dtype)
    res = [None, r] if ad.is_undefined_primal(rhs) else [r, None]
    return res


ad.defjvp(conv_general_dilated_p,
          lambda g, lhs, rhs, **p: _conv_bind(g, rhs, **p),
          lambda g, lhs, rhs, **p: _conv_bind(lhs, g, **p))
conv_general_dilated_p.transpose = _conv_transpose_rule
conv_general_dilated_p.linear = True


def _conv_batch(args, dims, **params):
    lhs, rhs = args
    ld, rd = dims
    lspec, rspec, ospec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    p = dict(params)
    if ld is not None and rd is not None:
        B = get_aval(lhs).shape[ld]
        if bgc > 1:
            new_lhs = _fold(lhs, ld, lspec[0])
            p["batch_group_count"] = B * bgc
        else:
            new_lhs = _fold(lhs, ld, lspec[1])
            p["feature_group_count"] = B * fgc
        new_rhs = _fold(rhs, rd, rspec[0])
        out = _conv_bind(new_lhs, new_rhs, **p)
        return _unfold(out, ospec[1], B), ospec[1]
    if ld is not None:
        B = get_aval(lhs).shape[ld]
        new_lhs = _fold(lhs, ld, lspec[0], groups=bgc)
        out = _conv_bind(new_lhs, rhs, **p)
        return _unfold(out, ospec[0], B), ospec[0]
    B = get_aval(rhs).shape[rd]
    g = max(fgc, bgc)
    new_rhs = _fold(rhs, rd, rspec[0], groups=g)
    out = _conv_bind(lhs, new_rhs, **p)
    return _unfold(out, ospec[1], B, groups=g), ospec[1]


conv_general_dilated_p.batch = _conv_batch
conv_general_dilated_p.lowering = {"kind": "conv",
                                  # the kernel takes ``out_holder=[buffer or None]``
                                  "out_holder": True}


def _conv_sample(rng, dtype):
    lhs = rng.standard_normal((2, 5, 4, 4)).astype(dtype)      # NHWC
    rhs = rng.standard_normal((2, 3, 2, 6)).astype(dtype)      # HWIO, 2 feature groups
    dn = ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    params = dict(window_strides=(2, 1), padding=((1, 0), (1, 1)), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 2), dimension_numbers=dn, feature_group_count=2,
                  batch_group_count=1, precision=None, preferred_element_type=None)
    return [lhs, rhs], params


conv_general_dilated_p.test_spec = {"sample": _conv_sample}


# ----------------------------------------------------------------------------- public conv API

def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """General n-d convolution (``jax.lax.conv_general_dilated``); really a correlation.

    ``padding`` is ``"SAME"``, ``"VALID"`` or ``[(lo, hi), ...]`` per spatial dimension
    (negative values crop); ``lhs_dilation`` inserts holes in the input (transposed
    convolution), ``rhs_dilation`` in the kernel (atrous convolution);
    ``dimension_numbers`` e.g. ``("NHWC", "HWIO", "NHWC")`` (default NCHW/OIHW/NCHW).
    ``precision`` is accepted and ignored.

    >>> x = fnp.ones((1, 5, 5, 3)); k = fnp.ones((3, 3, 3, 8))
    >>> conv_general_dilated(x, k, (1, 1), "SAME",
    ...                      dimension_numbers=("NHWC", "HWIO", "NHWC")).shape
    (1, 5, 5, 8)
    """
    lhs, rhs = _operand(lhs), _operand(rhs)
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = la.ndim - 2
    name = "conv_general_dilated"
    strides = _tuple(window_strides, nsp, name, "window_strides")
    ldil = _tuple(lhs_dilation, nsp, name, "lhs_dilation")
    rdil = _tuple(rhs_dilation, nsp, name, "rhs_dilation")
    if isinstance(padding, str):
        in_sp = [_dilate_dim(la.shape[i], d) for i, d in zip(dn.lhs_spec[2:], ldil)]
        k_sp = [_dilate_dim(ra.shape[i], d) for i, d in zip(dn.rhs_spec[2:], rdil)]
        padding = padtype_to_pads(in_sp, k_sp, strides, padding)
    pads = _norm_padding(padding, nsp, name)
    pet = None if preferred_element_type is None else np.dtype(preferred_element_type)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=ldil, rhs_dilation=rdil,
                  dimension_numbers=dn, feature_group_count=int(feature_group_count),
                  batch_group_count=int(batch_group_count), precision=None,
                  preferred_element_type=pet)
    _conv_abstract(la, ra, **params)    # shape errors now, also eagerly
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """Convolution of an NCHW input with an OIHW kernel (``jax.lax.conv``).

    >>> conv(fnp.ones((1, 3, 5, 5)), fnp.ones((8, 3, 3, 3)), (1, 1), "VALID").shape
    (1, 8, 3, 3)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """NCHW/OIHW convolution with explicit padding and dilations (``jax.lax``'s name).

    >>> conv_with_general_padding(fnp.ones((1, 1, 4, 4)), fnp.ones((1, 1, 2, 2)), (1, 1),
    ...                           [(0, 0), (0, 0)], (1, 1), (2, 2)).shape
    (1, 1, 2, 2)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
    """(lo, hi) padding of the dilated input that makes conv_transpose the gradient-style
    transposed convolution for ``"SAME"`` / ``"VALID"``."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError(f"conv_transpose: padding must be 'SAME', 'VALID' or explicit pairs, "
                         f"got {padding!r}")
    return lo, total - lo


_TRANSPOSE_DEFAULT_DN = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                         4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """Transposed ("deconvolution") convolution, as ``jax.lax.conv_transpose``.

    The input is dilated by ``strides``; ``"SAME"`` gives ``in * stride`` outputs.  Default
    layouts are channels-last (``NHWC``/``HWIO``).  With ``transpose_kernel=True`` the
    kernel is flipped and its in/out features swapped (the exact gradient of a conv).

    >>> conv_transpose(fnp.ones((1, 4, 4, 2)), fnp.ones((3, 3, 2, 5)), (2, 2), "SAME").shape
    (1, 8, 8, 5)
    """
    lhs, rhs = _operand(lhs), _operand(rhs)
    la, ra = get_aval(lhs), get_aval(rhs)
    nd = la.ndim
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_DEFAULT_DN:
            raise ValueError(f"conv_transpose: no default dimension_numbers for rank {nd} "
                             f"operands (shapes {la.shape}, {ra.shape}); pass them explicitly")
        dimension_numbers = _TRANSPOSE_DEFAULT_DN[nd]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = nd - 2
    strides = _tuple(strides, nsp, "conv_transpose", "strides")
    rdil = _tuple(rhs_dilation, nsp, "conv_transpose", "rhs_dilation")
    if isinstance(padding, str):
        ks = [_dilate_dim(ra.shape[i], d) for i, d in zip(dn.rhs_spec[2:], rdil)]
        pads = [_conv_transpose_padding(k, s, padding.upper()) for k, s in zip(ks, strides)]
    else:
        pads = padding
    if transpose_kernel:
        from .structural import rev, transpose
        rhs = rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = perm[dn.rhs_spec[1]], perm[dn.rhs_spec[0]]
        rhs = transpose(rhs, perm)
    return conv_general_dilated(lhs, rhs, (1,) * nsp, pads, lhs_dilation=strides,
                                rhs_dilation=rdil, dimension_numbers=dn, precision=precision,
                                preferred_element_type=preferred_element_type)


# ============================================================================= windows

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")


def _window_config(padding, base_dilation):
    return [(lo, hi, d) for (lo, hi), d in zip(padding, base_dilation)]


def _window_slices(out_shape, window, strides, wdil):
    """One strided slice of the padded operand per window offset (row-major order)."""
    return [tuple(slice(o * wd, o * wd + (n - 1) * s + 1, s) if n > 0 else slice(0, 0)
                  for o, wd, n, s in zip(offs, wdil, out_shape, strides))
            for offs in itertools.product(*[range(w) for w in window])]


def _index_dtype(window):
    """In-window index dtype: int8 for up to 127 taps (less memory traffic), else int32."""
    return np.dtype(np.int8) if int(np.prod(window)) <= 127 else np.dtype(np.int32)


def _copy_scratch(xp, v, slot):
    """``ascontiguousarray(v)``, copying (when needed) into the per-thread scratch
    ``slot``: a temporary, reused across calls."""
    if v.flags.c_contiguous:
        return v
    out = _scratch_empty(xp, v.shape, v.dtype, slot)
    out[...] = v
    return out


def _copy_k(xp, v, dtype=None):
    """A fresh copy of view ``v`` keeping its memory order (so later ops stream)."""
    out = xp.empty_like(v, dtype=dtype)
    out[...] = v
    return out


def _identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return dtype.type(0)
    if dtype.kind == "b":
        return np.bool_(kind == "min")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return dtype.type(info.min if kind == "max" else info.max)
    return dtype.type(-np.inf if kind == "max" else np.inf)


def _window_view(buf, out_shape, window, strides, wdil):
    """(out..., window...) strided view of the padded operand (no copy)."""
    xp = _xp(buf)
    st = buf.strides
    shape = tuple(out_shape) + tuple(window)
    strides_ = tuple(s * t for s, t in zip(st, strides)) + tuple(s * d for s, d in zip(st, wdil))
    return _as_strided(xp, buf, shape, strides_)


_LOOP_MAX_TAPS = 64


def _reduce_window_kernel(kind):
    ufunc = {"sum": np.add, "max": np.maximum, "min": np.minimum}[kind]
    reducer = {"sum": None, "max": np.max, "min": np.min}[kind]

    def kernel(x, *, window_dimensions, window_strides, padding, base_dilation,
               window_dilation):
        xp = _xp(x)
        fill = _identity(kind, x.dtype)
        if kind == "sum" and any(d > 1 for d in base_dilation) and all(
                s == 1 and wd == 1 for d, s, wd in zip(base_dilation, window_strides,
                                                       window_dilation) if d > 1):
            return _sum_phases(kernel, x, window_dimensions, window_strides, padding,
                               base_dilation, window_dilation)
        buf = _pad_dilate(x, _window_config(padding, base_dilation), fill, "pad")
        out_shape = _window_out_shape("reduce_window", x.shape, window_dimensions,
                                      window_strides, padding, base_dilation, window_dilation)
        taps = int(np.prod(window_dimensions))
        if 0 in out_shape:
            return xp.zeros(out_shape, x.dtype)
        if taps == 0:
            return xp.full(out_shape, fill, x.dtype)
        if taps > _LOOP_MAX_TAPS and kind != "sum":
            # max/min are exact in any order; sums always add the taps in row-major window
            # order (below) so the bits do not depend on the memory layout
            v = _window_view(buf, out_shape, window_dimensions, window_strides, window_dilation)
            return reducer(v, axis=tuple(range(len(out_shape), 2 * len(out_shape))))
        sls = _window_slices(out_shape, window_dimensions, window_strides, window_dilation)
        out = _copy_k(xp, buf[sls[0]])
        for sl in sls[1:]:
            ufunc(out, buf[sl], out=out)
        return out
    return kernel


def _sum_phases(kernel, x, window, strides, padding, bdil, wdil):
    """Windowed sum of a base-dilated operand (the transpose of a strided sum pooling,
    i.e. col2im) as ``prod(base_dilation)`` undilated windowed sums with smaller windows,
    one per output phase, instead of summing the inserted zeros.  Taps are still added in
    row-major window order, so the bits match the direct computation."""
    xp = _xp(x)
    out_shape = _window_out_shape("reduce_window", x.shape, window, strides, padding, bdil,
                                  wdil)
    out = None
    for phase in itertools.product(*[range(d) for d in bdil]):
        win, pads, osl = list(window), list(padding), [slice(None)] * x.ndim
        empty = False
        for i, d in enumerate(bdil):
            if d == 1:
                continue
            plan = _phase_plan(x.shape[i], window[i], d, padding[i][0], out_shape[i],
                               phase[i])
            if plan is None:
                empty = True
                break
            pads[i], tap, osl[i] = plan
            win[i] = len(range(window[i])[tap])
        if empty:
            continue
        r = kernel(x, window_dimensions=tuple(win), window_strides=strides,
                   padding=tuple(pads), base_dilation=(1,) * x.ndim, window_dilation=wdil)
        if out is None:
            out = _empty_in_layout(xp, out_shape, x.dtype, _layout_order(r), 0)
        out[tuple(osl)] = r
    return xp.zeros(out_shape, x.dtype) if out is None else out


def _rw_abstract(name, kinds):
    def rule(x, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        check_dtype(name, x, kinds)
        for v, what in zip((window_dimensions, window_strides, padding, base_dilation,
                            window_dilation), _WINDOW_PARAMS):
            if len(v) != x.ndim:
                raise TypeError(f"{name}: {what}={tuple(v)} needs one entry per dimension of "
                                f"the operand of shape {x.shape}")
        shape = _window_out_shape(name, x.shape, window_dimensions, window_strides, padding,
                                  base_dilation, window_dilation)
        return ShapedArray(shape, x.dtype, x.weak_type)
    return rule


def _insert_window_dim(params, d, extra=None):
    p = dict(params)
    for k, v in (("window_dimensions", 1), ("window_strides", 1), ("padding", (0, 0)),
                 ("base_dilation", 1), ("window_dilation", 1)):
        t = list(p[k])
        t.insert(d, v)
        p[k] = tuple(t)
    if extra:
        for k, v in extra.items():
            t = list(p[k])
            t.insert(d, v)
            p[k] = tuple(t)
    return p


def _window_batch(prim):
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **_insert_window_dim(params, d)), d
    return rule


def _window_sample(rng, dtype):
    x = rng.standard_normal((3, 5, 4)).astype(dtype)
    params = dict(window_dimensions=(1, 2, 3), window_strides=(1, 2, 1),
                  padding=((0, 0), (1, 0), (1, 1)), base_dilation=(1, 1, 1),
                  window_dilation=(1, 1, 1))
    return [x], params


def _window_sample_dilated(rng, dtype):
    x = rng.standard_normal((2, 5, 4)).astype(dtype)
    params = dict(window_dimensions=(1, 2, 2), window_strides=(1, 1, 2),
                  padding=((0, 0), (0, 1), (1, 0)), base_dilation=(1, 2, 1),
                  window_dilation=(1, 1, 2))
    return [x], params


# ----------------------------------------------------------------------------- reduce_window_sum

reduce_window_sum_p = Primitive("reduce_window_sum")
reduce_window_sum_p.impl = _reduce_window_kernel("sum")
reduce_window_sum_p.abstract_eval = _rw_abstract("reduce_window_sum", "num")


def _rw_sum_transpose(ct, x, *, window_dimensions, window_strides, padding, base_dilation,
                      window_dilation):
    if type(ct) is Zero:
        return [None]
    in_shape = x.aval.shape
    out_shape = get_aval(ct).shape
    pads = []
    for n, w, s, (lo, _), bd, wd, t in zip(in_shape, window_dimensions, window_strides,
                                          padding, base_dilation, window_dilation, out_shape):
        kd = _dilate_dim(w, wd)
        ld = _dilate_dim(n, bd)
        qd = _dilate_dim(t, s)
        plo = kd - 1 - lo
        pads.append((plo, ld + kd - 1 - qd - plo))
    r = reduce_window_sum_p.bind(ct, window_dimensions=window_dimensions,
                                 window_strides=base_dilation, padding=tuple(pads),
                                 base_dilation=window_strides, window_dilation=window_dilation)
    return [r]


ad.deflinear(reduce_window_sum_p, _rw_sum_transpose)
reduce_window_sum_p.batch = _window_batch(reduce_window_sum_p)
reduce_window_sum_p.test_spec = {"sample": _window_sample}
reduce_window_sum_p.lowering = {"kind": "window"}


# ------------------------------------------------------------------------ select / gather / scatter

window_select_p = Primitive("window_select", multiple_results=True)


@window_select_p.def_impl
def _window_select_impl(x, *, select, window_dimensions, window_strides, padding,
                        base_dilation, window_dilation):
    """The max (min) of each window and the in-window index of its first occurrence."""
    xp = _xp(x)
    kind = "max" if select == "max" else "min"
    buf = _pad_dilate(x, _window_config(padding, base_dilation), _identity(kind, x.dtype),
                      "pad")
    out_shape = _window_out_shape("window_select", x.shape, window_dimensions, window_strides,
                                  padding, base_dilation, window_dilation)
    idt = _index_dtype(window_dimensions)
    if 0 in out_shape:
        return [xp.zeros(out_shape, x.dtype), xp.zeros(out_shape, idt)]
    sls = _window_slices(out_shape, window_dimensions, window_strides, window_dilation)
    best = xp.empty_like(buf[sls[0]])
    idx = xp.empty_like(best, dtype=idt)
    _select_core(buf, sls, best, idx, select)
    return [best, idx]


def _select_core(buf, sls, best, idx, select):
    """Write the max (min) over the taps ``buf[sl]`` into ``best`` and the index of the
    first tap equal to it into ``idx`` (0 where none is: NaN windows)."""
    xp = _xp(buf)
    ufunc = np.maximum if select == "max" else np.minimum
    if len(sls) == 1:
        best[...] = buf[sls[0]]
    else:
        ufunc(buf[sls[0]], buf[sls[1]], out=best)
    for sl in sls[2:]:
        ufunc(best, buf[sl], out=best)
    # index of the first tap equal to the result: walk the taps backwards, each match
    # overwrites (branch-free bit arithmetic on the index: masked copies are much slower)
    idt = idx.dtype
    last = len(sls) - 1
    eq = xp.empty_like(best, dtype=np.bool_)
    if best.dtype.kind == "f":
        # the result is one of the taps unless a tap is NaN (then it is NaN and no tap
        # equals it: index 0), so "no earlier tap matches" means the last one does
        np.isnan(best, out=eq)
        np.logical_not(eq, out=eq)
    else:
        np.equal(buf[sls[last]], best, out=eq)
    if idt == np.int8:
        np.multiply(eq.view(np.int8), np.int8(last), out=idx)
    else:
        np.multiply(eq, idt.type(last), out=idx)
    if last == 0:
        return
    m = xp.empty_like(best, dtype=idt)
    t = xp.empty_like(best, dtype=idt)
    for k in range(last - 1, -1, -1):
        np.equal(buf[sls[k]], best, out=eq)
        if idt == np.int8:
            np.negative(eq.view(np.int8), out=m)               # 0 / -1 (all bits set)
        else:
            np.negative(eq, out=m, dtype=idt, casting="unsafe")
        if k:
            np.bitwise_xor(idx, idt.type(k), out=t)             # idx = eq ? k : idx
            np.bitwise_and(t, m, out=t)
            np.bitwise_xor(idx, t, out=idx)
        else:
            np.bitwise_not(m, out=m)                            # idx = eq ? 0 : idx
            np.bitwise_and(idx, m, out=idx)


def _batch_axis_free(params):
    """Whether windows never span axis 0 (size-1 window, stride 1, no padding or
    dilation there): the op then runs independently on any range of axis 0."""
    return (params["window_dimensions"][0] == 1 and params["window_strides"][0] == 1
            and tuple(params["padding"][0]) == (0, 0) and params["base_dilation"][0] == 1
            and params["window_dilation"][0] == 1)


def _window_select_into(x, best, idx, *, select, window_dimensions, window_strides, padding,
                        base_dilation, window_dilation):
    """``window_select`` writing into given ``best``/``idx`` arrays (bitwise the same as
    the kernel; used by the compiler to run sub-ranges of axis 0 in parallel)."""
    kind = "max" if select == "max" else "min"
    buf = _pad_dilate(x, _window_config(padding, base_dilation), _identity(kind, x.dtype),
                      "pad")
    if best.size == 0:
        return
    sls = _window_slices(best.shape, window_dimensions, window_strides, window_dilation)
    _select_core(buf, sls, best, idx, select)


def _window_select_split(params):
    """For the compiler: a kernel writing into its outputs that may run on sub-ranges of
    axis 0, or None."""
    if not _batch_axis_free(params):
        return None
    return functools.partial(_window_select_into, **params)


@window_select_p.def_abstract_eval
def _window_select_abstract(x, *, select, **params):
    out = _rw_abstract("window_select", "realnum")(x, **params)
    return [out, ShapedArray(out.shape, _index_dtype(params["window_dimensions"]), False)]


def _window_select_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    val, idx = window_select_p.bind(x, **params)
    wparams = {k: params[k] for k in _WINDOW_PARAMS}
    if type(t) is Zero:
        tv = Zero.from_value(val)
    else:
        tv = window_gather_p.bind(t, idx, **wparams)
    return [val, idx], [tv, Zero.from_value(idx)]


def _window_select_batch(args, dims, *, select, **params):
    (x,), (d,) = args, dims
    outs = window_select_p.bind(x, select=select, **_insert_window_dim(params, d))
    return outs, [d, d]


window_select_p.jvp = _window_select_jvp
window_select_p.batch = _window_select_batch
def _select_sample(rng, dtype):
    args, params = _window_sample(rng, dtype)
    return args, dict(params, select="max")


window_select_p.test_spec = {"sample": _select_sample, "nondiff": True}


window_gather_p = Primitive("window_gather")


@window_gather_p.def_impl
def _window_gather_impl(t, idx, *, window_dimensions, window_strides, padding, base_dilation,
                        window_dilation):
    """``out[w] = t_padded[start(w) + offset(idx[w])]``: the tangent at each window's pick
    (exact, also for non-finite entries: masks are applied to the bits)."""
    xp = _xp(t)
    buf = _pad_dilate(t, _window_config(padding, base_dilation), 0, "pad")
    out = xp.zeros_like(idx, dtype=t.dtype)
    if out.size == 0:
        return out
    masker = _BitMask(xp, idx.shape, idx, t.dtype)
    tmp = xp.empty_like(out)
    for k, sl in enumerate(_window_slices(idx.shape, window_dimensions, window_strides,
                                          window_dilation)):
        masker.select(buf[sl], k, out if k == 0 else tmp)
        if k:
            masker.combine(out, tmp)
    return out


class _BitMask:
    """Branch-free exact masking: ``select(x, k, out)`` writes ``x`` where ``idx == k`` and
    zero elsewhere by AND-ing the bits (numpy's masked copies are ~10x slower; multiplying
    by the mask would turn an unpicked inf into NaN).  ``combine(out, t)`` merges two
    disjointly masked arrays exactly (OR of the bits)."""

    _INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}

    def __init__(self, xp, shape, idx, dtype):
        self.idx = idx
        self.eq = xp.empty_like(idx, dtype=np.bool_)
        self.ity = self._INT.get(np.dtype(dtype).itemsize) if np.dtype(dtype).kind != "b" \
            else None
        self.m = xp.empty_like(idx, dtype=self.ity) if self.ity is not None else None

    def select(self, x, k, out):
        np.equal(self.idx, k, out=self.eq)
        if self.ity is None:
            np.multiply(x, self.eq, out=out)
            return
        np.negative(self.eq.view(np.int8), out=self.m)          # 0 / -1 (all bits set)
        np.bitwise_and(x.view(self.ity), self.m, out=out.view(self.ity))

    def combine(self, out, t):
        if self.ity is None:
            out += t
        else:
            np.bitwise_or(out.view(self.ity), t.view(self.ity), out=out.view(self.ity))


@window_gather_p.def_abstract_eval
def _window_gather_abstract(t, idx, **params):
    out = _rw_abstract("window_gather", "num")(t, **params)
    if idx.shape != out.shape or idx.dtype.kind not in "iu":
        raise TypeError(f"window_gather: index of type {idx.str_short()} must be an integer "
                        f"array of the window output shape {out.shape}")
    return out


def _window_gather_jvp(primals, tangents, **params):
    (t, idx), (tt, _) = primals, tangents
    out = window_gather_p.bind(t, idx, **params)
    if type(tt) is Zero:
        return out, Zero.from_value(out)
    return out, window_gather_p.bind(tt, idx, **params)


def _window_gather_transpose(ct, t, idx, **params):
    if type(ct) is Zero:
        return [None, None]
    return [window_scatter_p.bind(ct, idx, operand_shape=t.aval.shape, **params), None]


def _window_pair_batch(prim, shape_param=False):
    def rule(args, dims, **params):
        (a, idx), (da, di) = args, dims
        size = get_aval(a).shape[da] if da is not None else get_aval(idx).shape[di]
        a = bdim_at_front(a, da, size)
        idx = bdim_at_front(idx, di, size)
        extra = {"operand_shape": size} if shape_param else None
        return prim.bind(a, idx, **_insert_window_dim(params, 0, extra)), 0
    return rule


def _gather_sample(rng, dtype):
    (x,), params = _window_sample(rng, dtype)
    out_shape = _window_out_shape("", x.shape, params["window_dimensions"],
                                  params["window_strides"], params["padding"],
                                  params["base_dilation"], params["window_dilation"])
    idx = rng.integers(0, int(np.prod(params["window_dimensions"])), out_shape).astype(np.int32)
    return [x, idx], params


window_gather_p.jvp = _window_gather_jvp
window_gather_p.transpose = _window_gather_transpose
window_gather_p.linear = True
window_gather_p.batch = _window_pair_batch(window_gather_p)
window_gather_p.test_spec = {"sample": _gather_sample, "nondiff_args": (1,)}


window_scatter_p = Primitive("window_scatter")


@window_scatter_p.def_impl
def _window_scatter_impl(ct, idx, *, operand_shape, window_dimensions, window_strides, padding,
                         base_dilation, window_dilation):
    """Scatter-add ``ct[w]`` to each window's picked position (the transpose of gather)."""
    xp = _xp(ct)
    cfg = _window_config(padding, base_dilation)
    padded = tuple(lo + hi + _dilate_dim(n, d) for n, (lo, hi, d) in zip(operand_shape, cfg))
    disjoint, tiles = _scatter_kind(ct.shape, padded, window_dimensions, window_strides,
                                    window_dilation)
    order = _layout_order(ct) if ct.ndim else []
    buf = _empty_in_layout(xp, padded, ct.dtype, order, None if tiles and ct.size else 0)
    if ct.size:
        _scatter_core(ct, idx, buf, window_dimensions, window_strides, window_dilation,
                      disjoint)
    return _unpad_dilate(buf, cfg, tuple(operand_shape))


def _scatter_kind(ct_shape, padded, window_dimensions, window_strides, window_dilation):
    """(windows are disjoint, windows tile the padded operand exactly)."""
    disjoint = all(s >= _dilate_dim(w, wd) for s, w, wd in
                   zip(window_strides, window_dimensions, window_dilation))
    # windows that tile the padded operand exactly write every element: no zero fill needed
    tiles = disjoint and all(
        s == _dilate_dim(w, wd) and n == t * s for s, w, wd, n, t in
        zip(window_strides, window_dimensions, window_dilation, padded, ct_shape))
    return disjoint, tiles


def _scatter_core(ct, idx, buf, window_dimensions, window_strides, window_dilation, disjoint):
    """Scatter-add into the (zeroed unless the windows tile it) padded buffer ``buf``."""
    xp = _xp(ct)
    masker = _BitMask(xp, idx.shape, idx, ct.dtype)
    tmp = None if disjoint else xp.empty_like(ct)
    for k, sl in enumerate(_window_slices(idx.shape, window_dimensions, window_strides,
                                          window_dilation)):
        if disjoint:
            masker.select(ct, k, buf[sl])
        else:
            masker.select(ct, k, tmp)
            buf[sl] += tmp


def _window_scatter_into(ct, idx, out, *, operand_shape, window_dimensions, window_strides,
                         padding, base_dilation, window_dilation):
    """``window_scatter`` writing into ``out`` (no padding or base dilation); bitwise the
    same as the kernel, on any range of axis 0 (see ``_window_scatter_split``)."""
    disjoint, tiles = _scatter_kind(ct.shape, out.shape, window_dimensions, window_strides,
                                    window_dilation)
    if not (tiles and ct.size):
        out.fill(0)
    if ct.size:
        _scatter_core(ct, idx, out, window_dimensions, window_strides, window_dilation,
                      disjoint)


def _window_scatter_split(params):
    """For the compiler: a kernel writing into its output that may run on sub-ranges of
    axis 0 (windows off axis 0, no padding or base dilation), or None."""
    if not _batch_axis_free(params) or any(
            tuple(p) != (0, 0) for p in params["padding"]) or any(
            d != 1 for d in params["base_dilation"]):
        return None
    p = {k: v for k, v in params.items() if k != "operand_shape"}
    return functools.partial(_window_scatter_into, operand_shape=None, **p)


@window_scatter_p.def_abstract_eval
def _window_scatter_abstract(ct, idx, *, operand_shape, **params):
    check_dtype("window_scatter", ct, "num")
    out = _rw_abstract("window_scatter", "num")(ShapedArray(operand_shape, ct.dtype), **params)
    if out.shape != ct.shape or idx.shape != ct.shape:
        raise TypeError(f"window_scatter: cotangent {ct.str_short()} and index "
                        f"{idx.str_short()} must have the window output shape {out.shape}")
    return ShapedArray(operand_shape, ct.dtype, ct.weak_type)


def _window_scatter_jvp(primals, tangents, **params):
    (c, idx), (tc, _) = primals, tangents
    out = window_scatter_p.bind(c, idx, **params)
    if type(tc) is Zero:
        return out, Zero.from_value(out)
    return out, window_scatter_p.bind(tc, idx, **params)


def _window_scatter_transpose(ct, c, idx, *, operand_shape, **params):
    if type(ct) is Zero:
        return [None, None]
    return [window_gather_p.bind(ct, idx, **params), None]


def _scatter_sample(rng, dtype):
    (x, idx), params = _gather_sample(rng, dtype)
    ct = rng.standard_normal(idx.shape).astype(dtype)
    return [ct, idx], dict(params, operand_shape=x.shape)


window_scatter_p.jvp = _window_scatter_jvp
window_scatter_p.transpose = _window_scatter_transpose
window_scatter_p.linear = True
window_scatter_p.batch = _window_pair_batch(window_scatter_p, shape_param=True)
window_scatter_p.test_spec = {"sample": _scatter_sample, "nondiff_args": (1,)}
for _p in (window_select_p, window_gather_p, window_scatter_p):
    _p.lowering = {"kind": "window"}
# kernels writing into preallocated outputs, runnable on sub-ranges of axis 0 (the compiler
# splits big ones over its thread pool): ``split(params)`` -> kernel or None
window_select_p.lowering["split"] = _window_select_split
window_scatter_p.lowering["split"] = _window_scatter_split


# ----------------------------------------------------------------------------- max / min

def _chooser(kind):
    p = Primitive(f"reduce_window_{kind}")
    p.impl = _reduce_window_kernel(kind)
    p.abstract_eval = _rw_abstract(f"reduce_window_{kind}", "realnum")

    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        if type(t) is Zero:
            out = p.bind(x, **params)
            return out, Zero.from_value(out)
        val, idx = window_select_p.bind(x, select=kind, **params)
        return val, window_gather_p.bind(t, idx, **params)

    p.jvp = jvp
    p.batch = _window_batch(p)
    p.test_spec = {"sample": _window_sample_dilated if kind == "min" else _window_sample}
    p.lowering = {"kind": "window"}
    return p


reduce_window_max_p = _chooser("max")
reduce_window_min_p = _chooser("min")


# ----------------------------------------------------------------------------- public window API

def _window_params(name, operand, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    shape = get_aval(operand).shape
    nd = len(shape)
    wd = tuple(int(w) for w in window_dimensions)
    if len(wd) != nd:
        raise TypeError(f"{name}: window_dimensions {wd} needs one entry per dimension of the "
                        f"operand of shape {shape}")
    if any(w < 0 for w in wd):
        raise TypeError(f"{name}: window_dimensions {wd} must be non-negative")
    ws = _tuple(window_strides, nd, name, "window_strides")
    bd = _tuple(base_dilation, nd, name, "base_dilation")
    wdl = _tuple(window_dilation, nd, name, "window_dilation")
    if isinstance(padding, str):
        padding = padtype_to_pads([_dilate_dim(n, d) for n, d in zip(shape, bd)],
                                  [_dilate_dim(w, d) for w, d in zip(wd, wdl)], ws, padding)
    pads = _norm_padding(padding, nd, name)
    _window_out_shape(name, shape, wd, ws, pads, bd, wdl)   # shape errors now, also eagerly
    return dict(window_dimensions=wd, window_strides=ws, padding=pads, base_dilation=bd,
                window_dilation=wdl)


def _bind_window(prim, name, operand, window_dimensions, window_strides, padding,
                 base_dilation, window_dilation):
    operand = _operand(operand)
    p = _window_params(name, operand, window_dimensions, window_strides, padding,
                       base_dilation, window_dilation)
    return prim.bind(operand, **p)


def reduce_window_sum(operand, window_dimensions, window_strides=None, padding="VALID",
                      base_dilation=None, window_dilation=None):
    """Sum over sliding windows (padding counts as 0).

    >>> reduce_window_sum(fnp.arange(5.0), (2,), (1,), "VALID")
    Array([1., 3., 5., 7.], dtype=float32)
    """
    return _bind_window(reduce_window_sum_p, "reduce_window_sum", operand,
                        window_dimensions, window_strides, padding, base_dilation,
                        window_dilation)


def reduce_window_max(operand, window_dimensions, window_strides=None, padding="VALID",
                      base_dilation=None, window_dilation=None):
    """Max over sliding windows (padding counts as -inf).  Gradient: the first arg-max.

    >>> reduce_window_max(fnp.array([1., 3., 2., 0.]), (2,), (2,), "VALID")
    Array([3., 2.], dtype=float32)
    """
    return _bind_window(reduce_window_max_p, "reduce_window_max", operand,
                        window_dimensions, window_strides, padding, base_dilation,
                        window_dilation)


def reduce_window_min(operand, window_dimensions, window_strides=None, padding="VALID",
                      base_dilation=None, window_dilation=None):
    """Min over sliding windows (padding counts as +inf).  Gradient: the first arg-min.

    >>> reduce_window_min(fnp.array([1., 3., 2., 0.]), (2,), (2,), "VALID")
    Array([1., 0.], dtype=float32)
    """
    return _bind_window(reduce_window_min_p, "reduce_window_min", operand,
                        window_dimensions, window_strides, padding, base_dilation,
                        window_dilation)


_EXTRA_COMPUTATIONS = {}   # id(fn) -> kind, registered by layers above (funcgrad.numpy)


def register_window_computation(fn, kind):
    """Let ``reduce_window`` accept ``fn`` (e.g. ``fnp.add``) as the computation ``kind``
    ("sum", "max" or "min"); called by higher layers so that lax need not import them."""
    if kind not in ("sum", "max", "min"):
        raise ValueError(f"kind must be 'sum', 'max' or 'min', got {kind!r}")
    _EXTRA_COMPUTATIONS[id(fn)] = kind


def _computation_kind(computation):
    from . import elementwise as ew
    table = {id(ew.add): "sum", id(ew.max): "max", id(ew.min): "min",
             id(ew.add_p): "sum", id(ew.max_p): "max", id(ew.min_p): "min"}
    table.update(_EXTRA_COMPUTATIONS)
    kind = table.get(id(computation))
    if kind is None:
        raise TypeError(
            f"reduce_window: computation {getattr(computation, '__name__', computation)!r} is "
            "not supported; pass lax.add, lax.max or lax.min (e.g. reduce_window(x, 0., "
            "lax.add, ...) for sum pooling, reduce_window(x, -inf, lax.max, ...) for max "
            "pooling)")
    return kind


def _is_identity(init_value, kind, dtype):
    if isinstance(init_value, Tracer):
        return False
    try:
        v = np.asarray(init_value._value if isinstance(init_value, Array) else init_value)
    except Exception:
        return False
    if v.ndim != 0:
        raise TypeError(f"reduce_window: init_value must be a scalar, got shape {v.shape}")
    ident = _identity(kind, dtype)
    if kind == "sum":
        return bool(v == 0)
    return bool(v == ident)


def reduce_window(operand, init_value, computation, window_dimensions, window_strides,
                  padding, base_dilation=None, window_dilation=None):
    """Reduce sliding windows of ``operand`` with ``lax.add``, ``lax.max`` or ``lax.min``.

    ``init_value`` starts every window and fills the padding (as XLA's ReduceWindow); pass
    the identity (``0`` for add, ``-inf`` for max, ``inf`` for min) for plain pooling.

    >>> x = fnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> reduce_window(x, -fnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")[0, ..., 0]
    Array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    operand = _operand(operand)
    kind = _computation_kind(computation)
    aval = get_aval(operand)
    p = _window_params("reduce_window", operand, window_dimensions, window_strides, padding,
                       base_dilation, window_dilation)
    prim = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
            "min": reduce_window_min_p}[kind]
    if _is_identity(init_value, kind, aval.dtype):
        return prim.bind(operand, **p)
    # non-identity init: pad explicitly with it, reduce, then combine it once per window
    from . import elementwise as ew
    from .structural import pad
    init = init_value
    if isinstance(init, Tracer) or isinstance(init, Array):
        if get_aval(init).ndim != 0:
            raise TypeError(f"reduce_window: init_value must be a scalar, got shape "
                            f"{get_aval(init).shape}")
        if get_aval(init).dtype != aval.dtype:
            init = ew.convert_element_type(init, aval.dtype)
    else:
        init = np.asarray(init, aval.dtype)[()]
    cfg = [(lo, hi, d - 1) for (lo, hi), d in zip(p["padding"], p["base_dilation"])]
    x = pad(operand, init, cfg)
    nd = aval.ndim
    q = dict(p, padding=((0, 0),) * nd, base_dilation=(1,) * nd)
    r = prim.bind(x, **q)
    if kind == "sum":
        return ew.add(r, init)
    # max/min with the init value (a select: the window's value wins ties)
    keep = ew.ge(r, init) if kind == "max" else ew.le(r, init)
    return ew.select(keep, r, init)


__all__ = ["conv_general_dilated", "conv", "conv_with_general_padding", "conv_transpose",
           "ConvDimensionNumbers", "conv_dimension_numbers", "padtype_to_pads",
           "reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "conv_general_dilated_p", "reduce_window_sum_p", "reduce_window_max_p",
           "reduce_window_min_p"]
