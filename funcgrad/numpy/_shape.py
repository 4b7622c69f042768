"""Shape manipulation: reshape ravel transpose moveaxis swapaxes squeeze expand_dims
broadcast_to broadcast_arrays concatenate stack hstack vstack (more in helpers below)."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core.trace import get_aval
from ._promote import asarray, broadcast_shapes, promote


def _ax(a, nd, where):
    a = int(a)
    if not -nd <= a < max(nd, 1):
        raise ValueError(f"{where}: axis {a} is out of bounds for an array of rank {nd}")
    return a % nd if nd else 0


def shape(a):
    """NumPy's ``shape``.

    >>> fnp.shape(fnp.ones((2, 3)))
    (2, 3)
    """
    return get_aval(asarray(a)).shape


def ndim(a):
    """NumPy's ``ndim``.

    >>> fnp.ndim(fnp.ones((2, 3)))
    2
    """
    return get_aval(asarray(a)).ndim


def size(a, axis=None):
    """NumPy's ``size``.

    >>> fnp.size(fnp.ones((2, 3)))
    6
    """
    s = get_aval(asarray(a)).shape
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def reshape(a, shape=None, order="C", *, newshape=None):
    """Give ``a`` a new shape; one dimension may be -1.

    >>> fnp.reshape(fnp.arange(6), (2, -1)).shape
    (2, 3)
    """
    if shape is None:
        shape = newshape
    if order != "C":
        raise NotImplementedError("fnp.reshape supports order='C' only")
    x = asarray(a, where="fnp.reshape")
    av = get_aval(x)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"fnp.reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or av.size % known:
            raise TypeError(f"fnp.reshape: cannot reshape array of shape {av.shape} (size "
                            f"{av.size}) into shape {shape}")
        shape = tuple(av.size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != av.size:
        raise TypeError(f"fnp.reshape: cannot reshape array of shape {av.shape} (size "
                        f"{av.size}) into shape {shape}")
    return lax.reshape(x, shape)


def ravel(a, order="C"):
    """Flatten to 1-D.

    >>> fnp.ravel(fnp.array([[1, 2], [3, 4]])).tolist()
    [1, 2, 3, 4]
    """
    x = asarray(a, where="fnp.ravel")
    return lax.reshape(x, (get_aval(x).size,))


def transpose(a, axes=None):
    """Permute axes (reverse them by default).

    >>> fnp.transpose(fnp.ones((2, 3))).shape
    (3, 2)
    """
    x = asarray(a, where="fnp.transpose")
    nd = get_aval(x).ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    axes = tuple(_ax(i, nd, "fnp.transpose") for i in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"fnp.transpose: axes {axes} are not a permutation of {nd} axes")
    return lax.transpose(x, axes)


def permute_dims(a, axes=None):
    """NumPy's ``permute_dims``.

    >>> fnp.permute_dims(fnp.ones((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return transpose(a, axes)


def matrix_transpose(x):
    """NumPy's ``matrix_transpose``.

    >>> fnp.matrix_transpose(fnp.ones((5, 2, 3))).shape
    (5, 3, 2)
    """
    nd = get_aval(asarray(x)).ndim
    return swapaxes(x, nd - 2, nd - 1)


def moveaxis(a, source, destination):
    """Move axes to new positions.

    >>> fnp.moveaxis(fnp.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = asarray(a, where="fnp.moveaxis")
    nd = get_aval(x).ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_ax(s, nd, "fnp.moveaxis") for s in src]
    dst = [_ax(d, nd, "fnp.moveaxis") for d in dst]
    if len(src) != len(dst):
        raise ValueError("fnp.moveaxis: source and destination need the same number of axes")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(x, order)


def swapaxes(a, axis1, axis2):
    """Exchange two axes.

    >>> fnp.swapaxes(fnp.ones((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    x = asarray(a, where="fnp.swapaxes")
    nd = get_aval(x).ndim
    p = list(range(nd))
    i, j = _ax(axis1, nd, "fnp.swapaxes"), _ax(axis2, nd, "fnp.swapaxes")
    p[i], p[j] = p[j], p[i]
    return lax.transpose(x, p)


def squeeze(a, axis=None):
    """Remove size-1 axes.

    >>> fnp.squeeze(fnp.ones((1, 3, 1))).shape
    (3,)
    """
    x = asarray(a, where="fnp.squeeze")
    av = get_aval(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(av.shape) if d == 1)
    else:
        axes = tuple(_ax(i, av.ndim, "fnp.squeeze") for i in
                     ((axis,) if isinstance(axis, int) else axis))
        for i in axes:
            if av.shape[i] != 1:
                raise ValueError(f"fnp.squeeze: cannot select an axis to squeeze out which "
                                 f"has size not equal to one (axis {i} of shape {av.shape})")
    return lax.squeeze(x, axes)


def expand_dims(a, axis):
    """Insert size-1 axes at ``axis`` (positions in the result).

    >>> fnp.expand_dims(fnp.ones(3), (0, -1)).shape
    (1, 3, 1)
    """
    x = asarray(a, where="fnp.expand_dims")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = get_aval(x).ndim + len(axes)
    return lax.expand_dims(x, tuple(_ax(i, nd, "fnp.expand_dims") for i in axes))


def broadcast_to(array, shape):
    """Broadcast to ``shape`` with NumPy's rules.

    >>> fnp.broadcast_to(fnp.array([1, 2]), (2, 2)).tolist()
    [[1, 2], [1, 2]]
    """
    x = asarray(array, where="fnp.broadcast_to")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    av = get_aval(x)
    bs = broadcast_shapes(av.shape, shape, where="fnp.broadcast_to")
    if bs != shape:
        raise ValueError(f"fnp.broadcast_to: cannot broadcast shape {av.shape} to {shape}")
    from ._promote import broadcast_to_shape
    return broadcast_to_shape(x, shape)


def broadcast_arrays(*args):
    """NumPy's ``broadcast_arrays``.

    >>> [a.shape for a in fnp.broadcast_arrays(fnp.ones(3), fnp.ones((2, 1)))]
    [(2, 3), (2, 3)]
    """
    xs = [asarray(a) for a in args]
    shape = broadcast_shapes(*[get_aval(x).shape for x in xs], where="fnp.broadcast_arrays")
    return [broadcast_to(x, shape) for x in xs]


def concatenate(arrays, axis=0, dtype=None):
    """Join arrays along an existing axis (``axis=None`` flattens first).

    >>> fnp.concatenate([fnp.array([1]), fnp.array([2, 3])]).tolist()
    [1, 2, 3]
    """
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays)
    if not arrays:
        raise ValueError("fnp.concatenate needs at least one array")
    xs = _unbroadcast_promote(arrays, "fnp.concatenate")
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    nd = get_aval(xs[0]).ndim
    if nd == 0:
        raise ValueError("fnp.concatenate: zero-dimensional arrays cannot be concatenated")
    for x in xs:
        if get_aval(x).ndim != nd:
            raise ValueError(f"fnp.concatenate: all inputs need the same rank, got shapes "
                             f"{[get_aval(x).shape for x in xs]}")
    r = lax.concatenate(xs, _ax(axis, nd, "fnp.concatenate"))
    return r if dtype is None else lax.convert_element_type(r, dtype)


def _unbroadcast_promote(arrays, where):
    xs = [asarray(a) for a in arrays]
    if len(xs) > 1:
        from ._promote import result_dtype
        dt, weak = result_dtype(*xs)
        xs = [lax.convert_element_type(x, dt) if get_aval(x).dtype != dt else x for x in xs]
    return xs


def stack(arrays, axis=0, dtype=None):
    """Join arrays along a new axis.

    >>> fnp.stack([fnp.ones(2), fnp.zeros(2)], axis=1).shape
    (2, 2)
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("fnp.stack needs at least one array")
    xs = _unbroadcast_promote(arrays, "fnp.stack")
    shapes = {get_aval(x).shape for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"fnp.stack: all input arrays must have the same shape, got "
                         f"{[get_aval(x).shape for x in xs]}")
    nd = get_aval(xs[0]).ndim + 1
    ax = _ax(axis, nd, "fnp.stack")
    xs = [lax.expand_dims(x, (ax,)) for x in xs]
    r = lax.concatenate(xs, ax)
    return r if dtype is None else lax.convert_element_type(r, dtype)


def atleast_1d(*arys):
    """NumPy's ``atleast_1d``.

    >>> fnp.atleast_1d(1.0).shape
    (1,)
    """
    res = [asarray(a) for a in arys]
    res = [lax.reshape(x, (1,)) if get_aval(x).ndim == 0 else x for x in res]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys):
    """NumPy's ``atleast_2d``.

    >>> fnp.atleast_2d(fnp.ones(3)).shape
    (1, 3)
    """
    res = []
    for a in arys:
        x = asarray(a)
        nd = get_aval(x).ndim
        if nd == 0:
            x = lax.reshape(x, (1, 1))
        elif nd == 1:
            x = lax.expand_dims(x, (0,))
        res.append(x)
    return res[0] if len(res) == 1 else res


def atleast_3d(*arys):
    """NumPy's ``atleast_3d``.

    >>> fnp.atleast_3d(fnp.ones(3)).shape
    (1, 3, 1)
    """
    res = []
    for a in arys:
        x = asarray(a)
        nd = get_aval(x).ndim
        if nd == 0:
            x = lax.reshape(x, (1, 1, 1))
        elif nd == 1:
            x = lax.reshape(x, (1, get_aval(x).shape[0], 1))
        elif nd == 2:
            x = lax.expand_dims(x, (2,))
        res.append(x)
    return res[0] if len(res) == 1 else res


def hstack(tup, dtype=None):
    """Stack horizontally (along axis 1, or 0 for 1-D inputs).

    >>> fnp.hstack([fnp.array([1]), fnp.array([2, 3])]).tolist()
    [1, 2, 3]
    """
    xs = atleast_1d(*tup)
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0 if get_aval(xs[0]).ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """Stack vertically (rows).

    >>> fnp.vstack([fnp.array([1, 2]), fnp.array([3, 4])]).tolist()
    [[1, 2], [3, 4]]
    """
    xs = atleast_2d(*tup)
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 0, dtype=dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    """NumPy's ``dstack``.

    >>> fnp.dstack([fnp.ones(2), fnp.zeros(2)]).shape
    (1, 2, 2)
    """
    xs = atleast_3d(*tup)
    xs = xs if isinstance(xs, list) else [xs]
    return concatenate(xs, 2, dtype=dtype)


def column_stack(tup):
    """NumPy's ``column_stack``.

    >>> fnp.column_stack([fnp.array([1, 2]), fnp.array([3, 4])]).tolist()
    [[1, 3], [2, 4]]
    """
    xs = []
    for a in tup:
        x = asarray(a)
        if get_aval(x).ndim < 2:
            x = lax.reshape(x, (get_aval(x).size, 1))
        xs.append(x)
    return concatenate(xs, 1)
