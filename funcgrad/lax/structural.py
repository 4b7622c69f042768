"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, expand_dims, rev, pad,
concatenate, slice, copy and iota.  Rules sit next to each primitive."""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.abstract import ShapedArray
from ..core import trace as _trace
from ..core.array import Array
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero, set_hooks
from ..interpreters.batching import bdim_at_front, moveaxis as _moveaxis
from ._util import canonicalize_axis

_pyslice = slice


def _shape_tuple(shape, name):
    try:
        t = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shape {shape!r} must be a tuple of Python ints; a traced "
                        "value cannot be a shape (make it static with static_argnums)") from None
    if any(d < 0 for d in t):
        raise ValueError(f"{name}: negative dimension in shape {t}")
    return t


# ----------------------------------------------------------------------------- broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")


@broadcast_in_dim_p.def_impl
def _bid_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x) if not hasattr(x, "ndim") else x
    if type(x) is np.ndarray or isinstance(x, np.generic):
        r = _bid_view(x, shape, broadcast_dimensions)
        if r is not None:
            return r
    inter = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        inter[d] = x.shape[i]
    return np.broadcast_to(np.reshape(x, inter), shape)


_ndarray = np.ndarray


def _bid_view(x, shape, broadcast_dimensions):
    """The read-only view ``np.broadcast_to`` would give (same values, zero strides on the
    broadcast axes), built directly on ``x``'s buffer (several times cheaper); ``None``
    when ``x`` does not export a contiguous buffer (then ``np.broadcast_to`` is used)."""
    strides = [0] * len(shape)
    xs, xst = x.shape, x.strides
    for i, d in enumerate(broadcast_dimensions):
        if xs[i] != 1:
            strides[d] = xst[i]
    try:
        r = _ndarray(shape, x.dtype, x, 0, tuple(strides))
    except (TypeError, ValueError, BufferError):
        return None
    r.setflags(write=False)
    return r


@broadcast_in_dim_p.def_abstract_eval
def _bid_abstract(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"have one entry per operand dimension (operand shape {x.shape})")
    if len(set(broadcast_dimensions)) != len(broadcast_dimensions) or any(
            not 0 <= d < len(shape) for d in broadcast_dimensions) or list(
            broadcast_dimensions) != sorted(broadcast_dimensions):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"be strictly increasing and within the output rank {len(shape)}")
    for i, d in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: operand shape {x.shape} is incompatible with "
                            f"output shape {shape} (dimension {i} maps to {d})")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _bid_transpose(ct, x, *, shape, broadcast_dimensions):
    if type(ct) is Zero:
        return [None]
    from .reductions import reduce_sum
    in_shape = x.aval.shape
    new_dims = tuple(d for d in range(len(shape)) if d not in broadcast_dimensions)
    expanded = tuple(d for i, d in enumerate(broadcast_dimensions)
                     if in_shape[i] == 1 and shape[d] != 1)
    r = reduce_sum(ct, tuple(sorted(new_dims + expanded)))
    if expanded:
        r = reshape(r, in_shape)
    return [r]


def _bid_batch(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    x = _moveaxis(x, d, 0)
    size = get_aval(x).shape[0]
    out = broadcast_in_dim_p.bind(x, shape=(size,) + tuple(shape),
                                  broadcast_dimensions=(0,) + tuple(b + 1 for b in broadcast_dimensions))
    return out, 0


ad.deflinear(broadcast_in_dim_p, _bid_transpose)
broadcast_in_dim_p.batch = _bid_batch
def _sample_bid(rng, dtype):
    x_shape, shape, dims = [((3,), (2, 3), (1,)), ((3, 1), (3, 4), (0, 1)),
                            ((), (2, 3), ()), ((2, 3), (2, 4, 3), (0, 2)),
                            ((1, 3), (2, 1, 3), (1, 2))][rng.integers(5)]
    return [rng.standard_normal(x_shape).astype(dtype)], {
        "shape": shape, "broadcast_dimensions": dims}


broadcast_in_dim_p.test_spec = {"sample": _sample_bid}


_BID_CHECKED = {}   # eager broadcast_in_dim: validated (shape, dims) per operand shape


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """Broadcast ``x`` to ``shape``; operand dim ``i`` becomes output dim ``broadcast_dimensions[i]``."""
    if type(x) is Array and _trace._state.dynamic is None and not _trace._DEBUG[0]:
        # eager: validate once per (operand shape, shape, dims), then build the view
        v = x._value
        try:
            key = (v.shape, shape, broadcast_dimensions)
            hit = _BID_CHECKED.get(key)
        except TypeError:     # lists, tracers in the shape: the general path
            hit = key = None
        if hit is None and key is not None:
            shape_ = _shape_tuple(shape, "broadcast_in_dim")
            bd_ = tuple(int(d) for d in broadcast_dimensions)
            if not (v.shape == shape_ and bd_ == tuple(range(len(shape_)))):
                _bid_abstract(ShapedArray(v.shape, v.dtype, x._weak), shape=shape_,
                              broadcast_dimensions=bd_)
            hit = (shape_, bd_, v.shape == shape_ and bd_ == tuple(range(len(shape_))))
            if len(_BID_CHECKED) >= 2048:
                _BID_CHECKED.clear()
            _BID_CHECKED[key] = hit
        if hit is not None:
            if hit[2]:
                return x
            if type(v) is np.ndarray:
                r = _bid_view(v, hit[0], hit[1])
                if r is not None:
                    return Array(r, x._weak)
            return broadcast_in_dim_p.bind(x, shape=hit[0], broadcast_dimensions=hit[1])
    shape = _shape_tuple(shape, "broadcast_in_dim")
    bd = tuple(int(d) for d in broadcast_dimensions)
    if isinstance(x, (bool, int, float, complex)):
        from ._util import as_operand
        x = as_operand(x)          # a Python scalar takes the default dtype, as when traced
    aval = get_aval(x)
    if aval.shape == shape and bd == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


def broadcast(x, sizes):
    """Add leading dimensions ``sizes`` to ``x``."""
    aval = get_aval(x)
    sizes = tuple(sizes)
    return broadcast_in_dim(x, sizes + aval.shape,
                            tuple(range(len(sizes), len(sizes) + aval.ndim)))


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value``."""
    shape = _shape_tuple(shape, "full")
    if dtype is None:
        dtype = get_aval(fill_value).dtype
    dtype = dtypes.check_supported(dtype, "full")
    fv = fill_value
    if isinstance(fv, (bool, int, float, complex, np.generic, np.ndarray)):
        fv = np.asarray(fv, dtype)
        if fv.ndim:
            raise TypeError(f"full: fill_value must be a scalar, got shape {fv.shape}")
        if _trace._state.dynamic is None and not _trace._DEBUG[0] and type(fv) is np.ndarray:
            # eager: what binding broadcast_in_dim on the constant gives (a strong array)
            r = _bid_view(fv, shape, ())
            if r is not None:
                return Array(r, False)
        fv = fv[()]
    else:
        from .elementwise import convert_element_type
        if get_aval(fv).ndim:
            raise TypeError(f"full: fill_value must be a scalar, got shape {get_aval(fv).shape}")
        fv = convert_element_type(fv, dtype)
    return broadcast_in_dim_p.bind(fv, shape=shape, broadcast_dimensions=())


def zeros_like_aval(aval):
    return full(aval.shape, 0, aval.dtype)


# ----------------------------------------------------------------------------- reshape

reshape_p = Primitive("reshape")


@reshape_p.def_impl
def _reshape_impl(x, *, new_sizes, dimensions=None):
    if dimensions is not None:
        x = np.transpose(x, dimensions)
    return np.reshape(x, new_sizes)


@reshape_p.def_abstract_eval
def _reshape_abstract(x, *, new_sizes, dimensions=None):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} ({x.size} "
                        f"elements) into shape {tuple(new_sizes)}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_transpose(ct, x, *, new_sizes, dimensions=None):
    if type(ct) is Zero:
        return [None]
    if dimensions is None:
        return [reshape(ct, x.aval.shape)]
    perm_shape = tuple(x.aval.shape[d] for d in dimensions)
    return [transpose(reshape(ct, perm_shape), tuple(np.argsort(dimensions)))]


def _reshape_batch(args, dims, *, new_sizes, dimensions=None):
    (x,), (d,) = args, dims
    if dimensions is not None:
        x = transpose(_moveaxis(x, d, 0), (0,) + tuple(p + 1 for p in dimensions))
    else:
        x = _moveaxis(x, d, 0)
    size = get_aval(x).shape[0]
    return reshape_p.bind(x, new_sizes=(size,) + tuple(new_sizes), dimensions=None), 0


ad.deflinear(reshape_p, _reshape_transpose)
reshape_p.batch = _reshape_batch
def _sample_reshape(rng, dtype):
    x_shape, new, dims = [((2, 3, 4), (6, 4), None), ((6,), (2, 3), None),
                          ((2, 3), (3, 2), (1, 0)), ((2, 3, 2), (4, 3), (2, 0, 1)),
                          ((1, 4), (4,), None)][rng.integers(5)]
    return [rng.standard_normal(x_shape).astype(dtype)], {"new_sizes": new, "dimensions": dims}


reshape_p.test_spec = {"sample": _sample_reshape}


_RESHAPE_CHECKED = {}   # eager reshape: validated new_sizes per operand shape


def reshape(x, new_sizes, dimensions=None):
    """Reshape ``x`` (row-major); ``dimensions`` permutes first, as ``lax.reshape``."""
    if dimensions is None and type(x) is Array and _trace._state.dynamic is None and \
            not _trace._DEBUG[0]:
        # eager, no permutation: validate once per (shape, new_sizes), then reshape
        v = x._value
        try:
            key = (v.shape, new_sizes)
            ns = _RESHAPE_CHECKED.get(key)
        except TypeError:     # lists, tracers in the shape: the general path
            ns = key = None
        if ns is None and key is not None:
            ns = _shape_tuple(new_sizes, "reshape")
            if v.shape != ns:
                _reshape_abstract(ShapedArray(v.shape, v.dtype, x._weak), new_sizes=ns)
            if len(_RESHAPE_CHECKED) >= 2048:
                _RESHAPE_CHECKED.clear()
            _RESHAPE_CHECKED[key] = ns
        if ns is not None:
            if v.shape == ns:
                return x
            if type(v) is np.ndarray:
                return Array(_reshape_impl(v, new_sizes=ns), x._weak)
            return reshape_p.bind(x, new_sizes=ns, dimensions=None)
    new_sizes = _shape_tuple(new_sizes, "reshape")
    aval = get_aval(x)
    if dimensions is None and aval.shape == new_sizes:
        return x
    dims = None if dimensions is None else tuple(int(d) for d in dimensions)
    if dims is not None and dims == tuple(range(aval.ndim)):
        dims = None
    return reshape_p.bind(x, new_sizes=new_sizes, dimensions=dims)


# ----------------------------------------------------------------------------- transpose

transpose_p = Primitive("transpose")


@transpose_p.def_impl
def _transpose_impl(x, *, permutation):
    return np.transpose(x, permutation)


@transpose_p.def_abstract_eval
def _transpose_abstract(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"{x.ndim} axes of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_transpose(ct, x, *, permutation):
    if type(ct) is Zero:
        return [None]
    return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    perm = (d,) + tuple(p if p < d else p + 1 for p in permutation)
    return transpose_p.bind(x, permutation=perm), 0


ad.deflinear(transpose_p, _transpose_transpose)
transpose_p.batch = _transpose_batch
def _sample_transpose(rng, dtype):
    shape = [(2, 3), (2, 3, 4), (3, 1, 2)][rng.integers(3)]
    perm = tuple(int(i) for i in rng.permutation(len(shape)))
    return [rng.standard_normal(shape).astype(dtype)], {"permutation": perm}


transpose_p.test_spec = {"sample": _sample_transpose}


def transpose(x, permutation):
    """Permute the axes of ``x``."""
    perm = tuple(int(p) for p in permutation)
    if perm == tuple(range(len(perm))):
        return x
    return transpose_p.bind(x, permutation=perm)


def moveaxis(x, src, dst):
    """Move axis ``src`` of ``x`` to position ``dst``.

    >>> lax.moveaxis(np.ones((2, 3, 4), np.float32), 0, -1).shape
    (3, 4, 2)
    """
    nd = get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, perm)


# ----------------------------------------------------------------------------- squeeze / expand_dims

squeeze_p = Primitive("squeeze")


@squeeze_p.def_impl
def _squeeze_impl(x, *, dimensions):
    return np.squeeze(x, axis=dimensions) if dimensions else x


@squeeze_p.def_abstract_eval
def _squeeze_abstract(x, *, dimensions):
    for d in dimensions:
        if not 0 <= d < x.ndim or x.shape[d] != 1:
            raise TypeError(f"squeeze: dimension {d} of shape {x.shape} is not of size 1")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dimensions),
                       x.dtype, x.weak_type)


def _squeeze_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = _moveaxis(x, d, 0)
    return squeeze_p.bind(x, dimensions=tuple(e + 1 for e in dimensions)), 0


ad.deflinear(squeeze_p, lambda ct, x, *, dimensions: [None if type(ct) is Zero else
                                                      reshape(ct, x.aval.shape)])
squeeze_p.batch = _squeeze_batch
def _sample_squeeze(rng, dtype):
    shape, dims = [((1, 3, 1), (0, 2)), ((1, 3, 1), (2,)), ((3, 1), (1,)),
                   ((1,), (0,))][rng.integers(4)]
    return [rng.standard_normal(shape).astype(dtype)], {"dimensions": dims}


squeeze_p.test_spec = {"sample": _sample_squeeze}


def squeeze(x, dimensions):
    """Remove the size-1 axes ``dimensions``."""
    nd = get_aval(x).ndim
    dims = tuple(sorted({canonicalize_axis(d, nd) for d in dimensions}))
    if not dims:
        return x
    return squeeze_p.bind(x, dimensions=dims)


expand_dims_p = Primitive("expand_dims")


def _expanded_shape(shape, dimensions):
    out = list(shape)
    for d in sorted(dimensions):
        out.insert(d, 1)
    return tuple(out)


@expand_dims_p.def_impl
def _expand_dims_impl(x, *, dimensions):
    return np.reshape(x, _expanded_shape(np.shape(x), dimensions))


@expand_dims_p.def_abstract_eval
def _expand_dims_abstract(x, *, dimensions):
    nd = x.ndim + len(dimensions)
    if any(not 0 <= d < nd for d in dimensions) or len(set(dimensions)) != len(dimensions):
        raise TypeError(f"expand_dims: dimensions {dimensions} invalid for result rank {nd}")
    return ShapedArray(_expanded_shape(x.shape, dimensions), x.dtype, x.weak_type)


def _expand_dims_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    x = _moveaxis(x, d, 0)
    return expand_dims_p.bind(x, dimensions=tuple(e + 1 for e in dimensions)), 0


ad.deflinear(expand_dims_p, lambda ct, x, *, dimensions: [
    None if type(ct) is Zero else reshape(ct, x.aval.shape)])
expand_dims_p.batch = _expand_dims_batch
def _sample_expand_dims(rng, dtype):
    shape, dims = [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 3)), ((3,), (1,)),
                   ((), (0,))][rng.integers(5)]
    return [rng.standard_normal(shape).astype(dtype)], {"dimensions": dims}


expand_dims_p.test_spec = {"sample": _sample_expand_dims}


def expand_dims(x, dimensions):
    """Insert size-1 axes at ``dimensions`` (positions in the result)."""
    nd = get_aval(x).ndim + len(tuple(dimensions))
    dims = tuple(sorted(canonicalize_axis(d, nd) for d in dimensions))
    if not dims:
        return x
    return expand_dims_p.bind(x, dimensions=dims)


# ----------------------------------------------------------------------------- rev

rev_p = Primitive("rev")


@rev_p.def_impl
def _rev_impl(x, *, dimensions):
    return np.flip(x, dimensions) if dimensions else x


@rev_p.def_abstract_eval
def _rev_abstract(x, *, dimensions):
    if any(not 0 <= d < x.ndim for d in dimensions):
        raise TypeError(f"rev: dimensions {dimensions} out of range for shape {x.shape}")
    return x


ad.deflinear(rev_p, lambda ct, x, *, dimensions: [None if type(ct) is Zero else
                                                  rev(ct, dimensions)])
rev_p.batch = lambda args, dims, *, dimensions: (rev_p.bind(args[0], dimensions=tuple(
    d if d < dims[0] else d + 1 for d in dimensions)), dims[0])
def _sample_rev(rng, dtype):
    shape = [(4,), (2, 3), (2, 3, 4)][rng.integers(3)]
    dims = tuple(i for i in range(len(shape)) if rng.random() < 0.6) or (len(shape) - 1,)
    return [rng.standard_normal(shape).astype(dtype)], {"dimensions": dims}


rev_p.test_spec = {"sample": _sample_rev}


def rev(x, dimensions):
    """Reverse ``x`` along ``dimensions``."""
    nd = get_aval(x).ndim
    dims = tuple(sorted({canonicalize_axis(d, nd) for d in dimensions}))
    return x if not dims else rev_p.bind(x, dimensions=dims)


# ----------------------------------------------------------------------------- pad

pad_p = Primitive("pad")


def _pad_out_shape(shape, config):
    out = []
    for n, (lo, hi, interior) in zip(shape, config):
        core = n + max(n - 1, 0) * interior
        out.append(lo + hi + core)
    return tuple(out)


@pad_p.def_impl
def _pad_impl(x, padding_value, *, padding_config):
    """One allocation: fill the output, then write the (strided, cropped) operand into it."""
    x = np.asarray(x) if not hasattr(x, "shape") else x
    out_shape = _pad_out_shape(x.shape, padding_config)
    out = np.full(out_shape, padding_value, dtype=x.dtype) if type(x) is np.ndarray else \
        _full_like_module(x, out_shape, padding_value)
    dst, src = [], []
    for n, L, (lo, hi, it) in zip(x.shape, out_shape, padding_config):
        step = it + 1
        j_min = max(0, -(lo // step) if lo < 0 else 0)
        while j_min < n and lo + j_min * step < 0:
            j_min += 1
        j_max = min(n - 1, (L - 1 - lo) // step) if L > 0 else -1
        if n == 0 or j_min > j_max:
            return out
        dst.append(_pyslice(lo + j_min * step, lo + j_max * step + 1, step))
        src.append(_pyslice(j_min, j_max + 1))
    out[tuple(dst)] = x[tuple(src)]
    return out


def _full_like_module(x, shape, value):
    import sys
    mod = sys.modules[type(x).__module__.split(".")[0]]
    return mod.full(shape, value, dtype=x.dtype)


@pad_p.def_abstract_eval
def _pad_abstract(x, pv, *, padding_config):
    if pv.ndim != 0:
        raise TypeError(f"pad: padding_value must be a scalar, got shape {pv.shape}")
    if pv.dtype != x.dtype:
        raise TypeError(f"pad: padding_value dtype {pv.dtype} differs from operand {x.dtype}")
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config has {len(padding_config)} entries for an "
                        f"operand of rank {x.ndim}")
    if any(i < 0 for _, _, i in padding_config):
        raise TypeError("pad: interior padding must be non-negative")
    shape = _pad_out_shape(x.shape, padding_config)
    if any(d < 0 for d in shape):
        raise TypeError(f"pad: negative padding {padding_config} removes more than the "
                        f"operand shape {x.shape}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_transpose(ct, x, pv, *, padding_config):
    if type(ct) is Zero:
        return [None, None]

    def core():
        # the cotangent of the operand's own positions: undo negative padding by
        # zero-padding, then take the strided core
        zero = np.zeros((), get_aval(ct).dtype)[()]
        unneg = [(max(-lo, 0), max(-hi, 0), 0) for lo, hi, _ in padding_config]
        t = pad(ct, zero, unneg) if any(a or b for a, b, _ in unneg) else ct
        shape = get_aval(t).shape
        starts = [max(lo, 0) for lo, _, _ in padding_config]
        limits = [shape[i] - max(hi, 0) for i, (_, hi, _) in enumerate(padding_config)]
        strides = [i + 1 for _, _, i in padding_config]
        return slice(t, starts, limits, strides)

    res = [None, None]
    x_ct = core() if ad.is_undefined_primal(x) or ad.is_undefined_primal(pv) else None
    if ad.is_undefined_primal(x):
        res[0] = x_ct
    if ad.is_undefined_primal(pv):
        # the padding value fills every position that is not the operand's (whether or
        # not the operand is linear too)
        from .reductions import reduce_sum
        from .elementwise import sub
        total = reduce_sum(ct, tuple(range(get_aval(ct).ndim)))
        inner = reduce_sum(x_ct, tuple(range(get_aval(x_ct).ndim)))
        res[1] = sub(total, inner)
    return res


def _pad_batch(args, dims, *, padding_config):
    x, pv = args
    dx, dp = dims
    if dp is None:
        cfg = list(padding_config)
        cfg.insert(dx, (0, 0, 0))
        return pad_p.bind(x, pv, padding_config=tuple(cfg)), dx
    # batched padding value: pad with zero, then select the padding positions
    from .elementwise import select_n
    size = get_aval(pv).shape[dp]
    x = bdim_at_front(x, dx, size)
    pv = _moveaxis(pv, dp, 0)
    zero = np.zeros((), get_aval(x).dtype)[()]
    cfg = ((0, 0, 0),) + tuple(padding_config)
    padded = pad_p.bind(x, zero, padding_config=cfg)
    ones = full(get_aval(x).shape, True, np.bool_)
    mask = pad_p.bind(ones, np.bool_(False), padding_config=cfg)
    out_shape = get_aval(padded).shape
    pvb = broadcast_in_dim(pv, out_shape, (0,))
    return select_n(mask, pvb, padded), 0


pad_p.jvp = lambda primals, tangents, *, padding_config: (
    pad_p.bind(*primals, padding_config=padding_config),
    Zero.from_value(pad_p.bind(*primals, padding_config=padding_config))
    if all(type(t) is Zero for t in tangents) else
    pad_p.bind(*[ad.instantiate(t) for t in tangents], padding_config=padding_config))
pad_p.transpose = _pad_transpose
pad_p.linear = True
pad_p.batch = _pad_batch
def _sample_pad(rng, dtype):
    shape, cfg = [((3, 4), ((1, 2, 0), (0, -1, 1))), ((5,), ((-2, 1, 0),)),
                  ((2, 3), ((0, 0, 2), (2, -1, 0))), ((4,), ((1, 1, 1),))][rng.integers(4)]
    x = rng.standard_normal(shape).astype(dtype)
    return [x, np.asarray(rng.standard_normal(), dtype)], {"padding_config": cfg}


pad_p.test_spec = {"sample": _sample_pad}


def pad(x, padding_value, padding_config):
    """Pad with ``(low, high, interior)`` per axis; negative low/high crop."""
    from ._util import operands
    x, padding_value = operands(x, padding_value)
    cfg = tuple((int(a), int(b), int(c)) for a, b, c in padding_config)
    return pad_p.bind(x, padding_value, padding_config=cfg)


# ----------------------------------------------------------------------------- concatenate

concatenate_p = Primitive("concatenate")


@concatenate_p.def_impl
def _concat_impl(*xs, dimension):
    return np.concatenate(xs, axis=dimension)


@concatenate_p.def_abstract_eval
def _concat_abstract(*xs, dimension):
    if not xs:
        raise TypeError("concatenate needs at least one operand")
    x0 = xs[0]
    if not 0 <= dimension < max(x0.ndim, 1) or x0.ndim == 0:
        raise TypeError(f"concatenate: dimension {dimension} out of range for rank {x0.ndim}")
    for x in xs[1:]:
        if x.ndim != x0.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, x0.shape))
                                    if i != dimension):
            raise TypeError(f"concatenate: shapes {[x.shape for x in xs]} must agree except "
                            f"along dimension {dimension}")
        if x.dtype != x0.dtype:
            raise TypeError(f"concatenate: dtypes {[x.dtype.name for x in xs]} differ")
    shape = list(x0.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, x0.dtype, all(x.weak_type for x in xs))


def _concat_transpose(ct, *xs, dimension):
    if type(ct) is Zero:
        return [None] * len(xs)
    out, start = [], 0
    shape = get_aval(ct).shape
    for x in xs:
        n = (x.aval if ad.is_undefined_primal(x) else get_aval(x)).shape[dimension]
        if ad.is_undefined_primal(x):
            lo = [0] * len(shape)
            hi = list(shape)
            lo[dimension], hi[dimension] = start, start + n
            out.append(slice(ct, lo, hi))
        else:
            out.append(None)
        start += n
    return out


def _concat_batch(args, dims, *, dimension):
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
    args = [bdim_at_front(a, d, size) for a, d in zip(args, dims)]
    return concatenate_p.bind(*args, dimension=dimension + 1), 0


ad.deflinear(concatenate_p, _concat_transpose)
concatenate_p.batch = _concat_batch
def _sample_concatenate(rng, dtype):
    dim = int(rng.integers(2))
    sizes = [int(n) for n in rng.integers(1, 4, int(rng.integers(2, 4)))]
    shapes = [(n, 3) if dim == 0 else (2, n) for n in sizes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes], {"dimension": dim}


concatenate_p.test_spec = {"sample": _sample_concatenate}


def concatenate(operands, dimension):
    """Join ``operands`` along ``dimension``."""
    operands = list(operands)
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


# ----------------------------------------------------------------------------- slice

slice_p = Primitive("slice")


@slice_p.def_impl
def _slice_impl(x, *, start_indices, limit_indices, strides=None):
    if strides is None:
        return x[tuple(_pyslice(a, b) for a, b in zip(start_indices, limit_indices))]
    return x[tuple(_pyslice(a, b, s) for a, b, s in zip(start_indices, limit_indices, strides))]


@slice_p.def_abstract_eval
def _slice_abstract(x, *, start_indices, limit_indices, strides=None):
    if len(start_indices) != x.ndim or len(limit_indices) != x.ndim:
        raise TypeError(f"slice: start {start_indices} / limit {limit_indices} need one entry "
                        f"per dimension of shape {x.shape}")
    strides = strides or (1,) * x.ndim
    shape = []
    for n, a, b, s in zip(x.shape, start_indices, limit_indices, strides):
        if not 0 <= a <= b <= n or s < 1:
            raise TypeError(f"slice: indices start={start_indices} limit={limit_indices} "
                            f"strides={strides} invalid for shape {x.shape}")
        shape.append((b - a + s - 1) // s)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides=None):
    if type(ct) is Zero:
        return [None]
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    ct_shape = get_aval(ct).shape
    cfg = []
    for n, a, s, m in zip(shape, start_indices, strides, ct_shape):
        hi = n - (a + (m - 1) * s + 1) if m > 0 else n - a
        cfg.append((a, hi, s - 1))
    zero = np.zeros((), get_aval(ct).dtype)[()]
    return [pad(ct, zero, cfg)]


def _slice_batch(args, dims, *, start_indices, limit_indices, strides=None):
    (x,), (d,) = args, dims
    n = get_aval(x).shape[d]
    st = list(start_indices)
    li = list(limit_indices)
    st.insert(d, 0)
    li.insert(d, n)
    sr = None
    if strides is not None:
        sr = list(strides)
        sr.insert(d, 1)
        sr = tuple(sr)
    return slice_p.bind(x, start_indices=tuple(st), limit_indices=tuple(li), strides=sr), d


ad.deflinear(slice_p, _slice_transpose)
slice_p.batch = _slice_batch
def _sample_slice(rng, dtype):
    shape, start, limit, strides = [((5, 4), (1, 0), (4, 3), None),
                                    ((6,), (0,), (6,), (2,)),
                                    ((4, 5), (1, 1), (4, 5), (2, 3)),
                                    ((3, 4), (0, 2), (3, 2), None)][rng.integers(4)]
    return [rng.standard_normal(shape).astype(dtype)], {
        "start_indices": start, "limit_indices": limit, "strides": strides}


slice_p.test_spec = {"sample": _sample_slice}


def slice(x, start_indices, limit_indices, strides=None):
    """Static slice ``x[start:limit:stride]`` per axis."""
    st = tuple(int(i) for i in start_indices)
    li = tuple(int(i) for i in limit_indices)
    sr = None if strides is None or all(int(s) == 1 for s in strides) else tuple(
        int(s) for s in strides)
    if st == (0,) * len(st) and li == get_aval(x).shape and sr is None:
        return x
    return slice_p.bind(x, start_indices=st, limit_indices=li, strides=sr)


def slice_in_dim(x, start, limit, stride=1, axis=0):
    """``x[start:limit:stride]`` along ``axis`` (static bounds).

    >>> lax.slice_in_dim(np.arange(6.0), 1, 5, 2)
    Array([1., 3.], dtype=float64)
    """
    aval = get_aval(x)
    axis = canonicalize_axis(axis, aval.ndim)
    st = [0] * aval.ndim
    li = list(aval.shape)
    sr = [1] * aval.ndim
    st[axis], li[axis], sr[axis] = start, limit, stride
    return slice(x, st, li, sr)


def index_in_dim(x, index, axis=0, keepdims=True):
    """Element ``index`` along ``axis`` (static), keeping the axis unless ``keepdims=False``.

    >>> lax.index_in_dim(np.arange(6.0).reshape(2, 3), 1, axis=1, keepdims=False)
    Array([1., 4.], dtype=float64)
    """
    r = slice_in_dim(x, index, index + 1, 1, axis)
    return r if keepdims else squeeze(r, (axis,))


# ----------------------------------------------------------------------------- copy

copy_p = Primitive("copy")
copy_p.impl = lambda x: np.array(x, copy=True)
copy_p.abstract_eval = lambda x: x
ad.deflinear(copy_p, lambda ct, x: [None if type(ct) is Zero else copy_p.bind(ct)])
copy_p.batch = lambda args, dims: (copy_p.bind(args[0]), dims[0])
copy_p.test_spec = {"nargs": 1, "kinds": "any"}


def copy(x):
    """A copy of ``x`` (a distinct buffer; values unchanged).

    >>> lax.copy(np.ones(2, np.float32))
    Array([1., 1.], dtype=float32)
    """
    return copy_p.bind(x)


# ----------------------------------------------------------------------------- iota

iota_p = Primitive("iota")


@iota_p.def_impl
def _iota_impl(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=dtype)
    sh = [1] * len(shape)
    sh[dimension] = shape[dimension]
    return np.broadcast_to(r.reshape(sh), shape)


@iota_p.def_abstract_eval
def _iota_abstract(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise TypeError(f"iota: dimension {dimension} out of range for shape {shape}")
    return ShapedArray(shape, dtype, False)


iota_p.jvp = lambda primals, tangents, **p: (iota_p.bind(**p), Zero(iota_p.abstract_eval(**p)))
iota_p.batch = lambda args, dims, **p: (iota_p.bind(**p), None)
def _sample_iota(rng, dtype):
    shape, dim = [((5,), 0), ((3, 4), 1), ((2, 3), 0)][rng.integers(3)]
    return [], {"dtype": np.dtype(rng.choice(["int32", dtype])), "shape": shape,
                "dimension": dim}


iota_p.test_spec = {"sample": _sample_iota, "nondiff": True}


def iota(dtype, size):
    """``[0, 1, ..., size-1]``."""
    return iota_p.bind(dtype=dtypes.check_supported(dtype, "iota"), shape=(int(size),),
                       dimension=0)


def broadcasted_iota(dtype, shape, dimension):
    """An array of ``shape`` whose values count along ``dimension``.

    >>> lax.broadcasted_iota(np.int32, (2, 3), 1)
    Array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    shape = _shape_tuple(shape, "broadcasted_iota")
    return iota_p.bind(dtype=dtypes.check_supported(dtype, "iota"), shape=shape,
                       dimension=canonicalize_axis(dimension, len(shape)))


def _broadcast_axis(x, size, axis):
    aval = get_aval(x)
    shape = list(aval.shape)
    shape.insert(axis, size)
    dims = tuple(i if i < axis else i + 1 for i in range(aval.ndim))
    return broadcast_in_dim_p.bind(x, shape=tuple(shape), broadcast_dimensions=dims)


set_hooks(zeros=zeros_like_aval, moveaxis=moveaxis, broadcast_axis=_broadcast_axis)


__all__ = ["broadcast_in_dim", "broadcast", "full", "reshape", "transpose", "moveaxis", "squeeze", "expand_dims", "rev", "pad", "concatenate", "slice", "slice_in_dim", "index_in_dim", "copy", "iota", "broadcasted_iota"]
