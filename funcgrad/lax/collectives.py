"""Collectives over a named ``vmap`` axis: psum, pmean, pmax, pmin, all_gather, axis_index.

``vmap(f, axis_name="i")`` binds the name ``"i"``; inside ``f``, ``psum(x, "i")`` sums
``x`` over the mapped axis (every example sees the total).  Names of outer vmaps can be
used from inner functions.  A name that no enclosing vmap binds raises ``NameError``.
"""
from __future__ import annotations

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import Tracer, get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero
from ..interpreters.batching import find_axis, moveaxis as _moveaxis


def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _raise_to(x, axis):
    """Make ``x`` visible to the vmap that binds ``axis`` (if it is not already above it)."""
    if isinstance(x, Tracer) and x._trace.main.level >= axis.main.level:
        return x
    return axis.main.trace.full_raise(x)


class CollectivePrimitive(Primitive):
    """A primitive over a named vmap axis: binding it first raises its operands to the trace
    of the vmap that binds the name, so it is batched there even when its operands do not
    depend on that vmap (and also when it is replayed from a jaxpr)."""

    __slots__ = ()

    def bind(self, *args, **params):
        ax = find_axis(params["axis_name"])
        return super().bind(*[_raise_to(a, ax) for a in args], **params)


def _collective(name):
    p = CollectivePrimitive(name)

    @p.def_impl
    def _impl(*args, axis_name, **params):
        raise NameError(f"{name}: unbound axis name {axis_name!r}; use it inside "
                        f"vmap(..., axis_name={axis_name!r})")

    p.test_spec = {"skip": "collectives need a named vmap axis: tests/test_collectives.py"}
    return p


def _pass_through(p, axis, vals, dims, params):
    """A collective over another (outer) axis: keep our batch dim, let that axis reduce."""
    target = find_axis(params["axis_name"])
    vals = [_raise_to(v, target) for v in vals]
    out = p.bind(*vals, **params)
    return out, dims[0]


# ----------------------------------------------------------------------------- psum

psum_p = _collective("psum")
psum_p.abstract_eval = lambda x, *, axis_name: x


def _psum_batch(axis, vals, dims, *, axis_name):
    if axis_name != axis.name:
        return _pass_through(psum_p, axis, vals, dims, dict(axis_name=axis_name))
    (x,), (d,) = vals, dims
    from .reductions import reduce_sum
    from .elementwise import mul
    if d is None:
        return mul(x, np.asarray(axis.size, get_aval(x).dtype)[()]), None
    return reduce_sum(x, (d,)), None


psum_p.batch_with_axis = _psum_batch
ad.deflinear(psum_p, lambda ct, x, *, axis_name: [
    None if type(ct) is Zero else psum_p.bind(ct, axis_name=axis_name)])


def psum(x, axis_name):
    """Sum ``x`` over the vmapped axis ``axis_name`` (a name or a tuple of names); pytrees ok.

    >>> vmap(lambda x: x / psum(x, "i"), axis_name="i")(fnp.arange(1.0, 4.0))
    Array([0.16666667, 0.33333334, 0.5       ], dtype=float32)
    """
    from ..core import pytree

    def one(v):
        for n in _names(axis_name):
            ax = find_axis(n)
            v = psum_p.bind(_raise_to(v, ax), axis_name=n)
        return v
    return pytree.tree_map(one, x)


def pmean(x, axis_name):
    """Mean of ``x`` over the vmapped axis ``axis_name``."""
    from ..core import pytree
    from .elementwise import div

    def one(v):
        size = 1
        for n in _names(axis_name):
            size *= find_axis(n).size
        s = psum(v, axis_name)
        return div(s, np.asarray(size, get_aval(s).dtype)[()])
    return pytree.tree_map(one, x)


# ----------------------------------------------------------------------------- pmax / pmin

def _extreme(name, reducer):
    p = _collective(name)
    p.abstract_eval = lambda x, *, axis_name: x

    def batch(axis, vals, dims, *, axis_name):
        if axis_name != axis.name:
            return _pass_through(p, axis, vals, dims, dict(axis_name=axis_name))
        (x,), (d,) = vals, dims
        if d is None:
            return x, None
        return reducer()(x, (d,)), None

    p.batch_with_axis = batch

    def jvp(primals, tangents, *, axis_name):
        (x,), (t,) = primals, tangents
        out = p.bind(x, axis_name=axis_name)
        if type(t) is Zero:
            return out, Zero.from_value(out)
        from .elementwise import convert_element_type, div, eq, mul
        mask = convert_element_type(eq(x, out), get_aval(t).dtype)
        return out, div(psum_p.bind(mul(t, mask), axis_name=axis_name),
                        psum_p.bind(mask, axis_name=axis_name))

    p.jvp = jvp
    return p


def _rmax():
    from .reductions import reduce_max
    return reduce_max


def _rmin():
    from .reductions import reduce_min
    return reduce_min


pmax_p = _extreme("pmax", _rmax)
pmin_p = _extreme("pmin", _rmin)


def pmax(x, axis_name):
    """Maximum of ``x`` over the vmapped axis ``axis_name`` (ties share the gradient)."""
    from ..core import pytree

    def one(v):
        for n in _names(axis_name):
            v = pmax_p.bind(_raise_to(v, find_axis(n)), axis_name=n)
        return v
    return pytree.tree_map(one, x)


def pmin(x, axis_name):
    """Minimum of ``x`` over the vmapped axis ``axis_name``."""
    from ..core import pytree

    def one(v):
        for n in _names(axis_name):
            v = pmin_p.bind(_raise_to(v, find_axis(n)), axis_name=n)
        return v
    return pytree.tree_map(one, x)


# ----------------------------------------------------------------------------- all_gather

all_gather_p = _collective("all_gather")


@all_gather_p.def_abstract_eval
def _all_gather_abstract(x, *, axis_name, axis, tiled, axis_size):
    shape = list(x.shape)
    if tiled:
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _all_gather_batch(ax, vals, dims, *, axis_name, axis, tiled, axis_size):
    (x,), (d,) = vals, dims
    params = dict(axis_name=axis_name, axis=axis, tiled=tiled, axis_size=axis_size)
    if axis_name != ax.name:
        target = find_axis(axis_name)
        x = _raise_to(x, target)
        # our batch dim sits at d in x; the gathered axis is inserted relative to the
        # per-example shape, so move our dim to the front and shift the axis by one
        x = _moveaxis(x, d, 0) if d is not None else x
        p = dict(params, axis=axis + (1 if d is not None else 0))
        return all_gather_p.bind(x, **p), (0 if d is not None else None)
    from .structural import broadcast_in_dim, reshape
    if d is None:
        a = get_aval(x)
        shape = list(a.shape)
        shape.insert(axis, ax.size)
        out = broadcast_in_dim(x, tuple(shape), tuple(i for i in range(len(shape)) if i != axis))
    else:
        out = _moveaxis(x, d, axis)
    if tiled:
        s = list(get_aval(out).shape)
        n = s.pop(axis)
        s[axis] *= n
        out = reshape(out, tuple(s))
    return out, None


all_gather_p.batch_with_axis = _all_gather_batch


def _all_gather_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    out = all_gather_p.bind(x, **params)
    if type(t) is Zero:
        return out, Zero.from_value(out)
    return out, all_gather_p.bind(t, **params)


def _all_gather_transpose(ct, x, *, axis_name, axis, tiled, axis_size):
    if type(ct) is Zero:
        return [None]
    from .indexing import dynamic_slice_in_dim
    from .structural import squeeze
    summed = psum_p.bind(ct, axis_name=axis_name)
    idx = axis_index(axis_name)
    n = get_aval(x.aval if ad.is_undefined_primal(x) else x).shape[axis] if tiled else 1
    from .elementwise import mul
    piece = dynamic_slice_in_dim(summed, mul(idx, np.int32(n)), n, axis)
    return [piece if tiled else squeeze(piece, (axis,))]


all_gather_p.jvp = _all_gather_jvp
all_gather_p.transpose = _all_gather_transpose
all_gather_p.linear = True


def all_gather(x, axis_name, *, axis=0, tiled=False):
    """Every example sees the stack of ``x`` over the vmapped axis (inserted at ``axis``).

    >>> vmap(lambda x: all_gather(x, "i"), axis_name="i")(fnp.arange(3.0))[0]
    Array([0., 1., 2.], dtype=float32)
    """
    from ..core import pytree

    def one(v):
        ax = find_axis(axis_name)
        nd = get_aval(v).ndim
        a = axis % (nd + (0 if tiled else 1)) if nd or not tiled else 0
        return all_gather_p.bind(_raise_to(v, ax), axis_name=axis_name, axis=a,
                                 tiled=bool(tiled), axis_size=ax.size)
    return pytree.tree_map(one, x)


# ----------------------------------------------------------------------------- axis_index

axis_index_p = _collective("axis_index")
axis_index_p.abstract_eval = lambda *, axis_name: ShapedArray((), np.int32, False)


def _axis_index_batch(axis, vals, dims, *, axis_name):
    if axis_name != axis.name:
        return axis_index_p.bind(axis_name=axis_name), None
    from .structural import iota
    return iota(np.int32, axis.size), 0


axis_index_p.batch_with_axis = _axis_index_batch
axis_index_p.jvp = lambda primals, tangents, **p: (axis_index_p.bind(**p),
                                                   Zero(ShapedArray((), np.int32)))


def axis_index(axis_name):
    """The position of the current example along the vmapped axis ``axis_name``."""
    ax = find_axis(axis_name)
    # bind through the named axis' trace even though there are no operands
    return ax.main.trace.process_primitive(axis_index_p, [], dict(axis_name=axis_name)
                                           ).full_lower()


__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "axis_index"]
