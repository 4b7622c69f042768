"""Hypothesis strategies for property-based tests of funcgrad code.

Modelled on ``hypothesis.extra.numpy``; every argument is optional.  The strategies draw
plain NumPy arrays (funcgrad functions accept them and keep their dtype).

>>> from hypothesis import given
>>> import funcgrad.numpy as fnp
>>> from funcgrad.test_util import check_grads
>>> from funcgrad.test_util import strategies as fst
>>> @given(fst.arrays(dtype=np.float64, domain="positive"))
... def test_log_grads(x):
...     check_grads(fnp.log, (x,), order=2)

Domains (``arrays(domain=...)``) keep values finite, of moderate magnitude and away from
the singularities of common functions:

============  =========================================  ===========================
domain        floats                                     ints
============  =========================================  ===========================
``None``      ``[-3, 3]``                                ``[-10, 10]``
``bounded``   ``[-1, 1]``                                ``[-3, 3]``
``positive``  ``[0.1, 3]``                               ``[1, 10]``
``nonzero``   ``[-3, -0.1] U [0.1, 3]``                  ``[-10, -1] U [1, 10]``
``unit``      ``[-0.9, 0.9]`` (inside ``(-1, 1)``)        ``[-1, 1]`` (``0, 1`` if unsigned)
``gt1``       ``[1.1, 4]``                               ``[2, 10]``
============  =========================================  ===========================

This module needs ``hypothesis`` (``pip install hypothesis``); importing ``funcgrad``
itself never does.
"""
from __future__ import annotations

import numpy as np

try:
    import hypothesis.strategies as st
    import hypothesis.extra.numpy as hnp
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "funcgrad.test_util.strategies needs the 'hypothesis' package, which is not "
        "installed; install it with `pip install hypothesis` (funcgrad itself does not "
        "need it)") from _e

__all__ = ["dtypes", "shapes", "broadcastable_shapes", "mutually_broadcastable_shapes",
           "arrays", "pytrees", "elements", "DOMAINS", "KINDS"]

#: dtype kinds accepted by ``dtypes(kinds=...)``.
KINDS = {
    "float": ("float32", "float64"),
    "float16": ("float16",),
    "float32": ("float32",),
    "float64": ("float64",),
    "int": ("int32", "int64"),
    "signed": ("int8", "int16", "int32", "int64"),
    "uint": ("uint8", "uint16", "uint32", "uint64"),
    "bool": ("bool",),
    "complex": ("complex64", "complex128"),
}
KINDS["inexact"] = KINDS["float"] + KINDS["complex"]
KINDS["integer"] = KINDS["signed"] + KINDS["uint"]
KINDS["numeric"] = KINDS["float"] + KINDS["int"]
KINDS["all"] = KINDS["float"] + KINDS["integer"] + KINDS["bool"] + KINDS["complex"]

#: the value ranges of each domain: ``(float intervals, int intervals)``.
DOMAINS = {
    None: ([(-3.0, 3.0)], [(-10, 10)]),
    "bounded": ([(-1.0, 1.0)], [(-3, 3)]),
    "positive": ([(0.1, 3.0)], [(1, 10)]),
    "nonzero": ([(-3.0, -0.1), (0.1, 3.0)], [(-10, -1), (1, 10)]),
    "unit": ([(-0.9, 0.9)], [(-1, 1)]),
    "gt1": ([(1.1, 4.0)], [(2, 10)]),
}


def _kind_names(kinds):
    if isinstance(kinds, str):
        kinds = (kinds,)
    names = []
    for k in kinds:
        if k in KINDS:
            names.extend(KINDS[k])
        else:
            try:
                names.append(np.dtype(k).name)
            except TypeError:
                raise ValueError(f"dtypes: unknown kind {k!r}; use one of {sorted(KINDS)} "
                                 "or a dtype name") from None
    out = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


def dtypes(kinds="float"):
    """Draw NumPy dtypes of the given ``kinds`` (a kind or dtype name, or a sequence of
    them): ``"float"`` (float32, float64), ``"int"``, ``"signed"``, ``"uint"``,
    ``"bool"``, ``"complex"``, ``"inexact"``, ``"integer"``, ``"numeric"``, ``"all"``.

    >>> dtypes().example() in (np.dtype("float32"), np.dtype("float64"))
    True
    >>> dtypes(("int", "bool")).example().kind in "ib"
    True
    """
    return st.sampled_from([np.dtype(n) for n in _kind_names(kinds)])


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=5):
    """Draw array shapes (tuples) with ``min_dims..max_dims`` axes of sizes
    ``min_side..max_side``.

    >>> len(shapes(min_dims=2, max_dims=2).example())
    2
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(shape=(), min_dims=0, max_dims=None, min_side=1, max_side=None):
    """Draw shapes that broadcast against ``shape`` (NumPy rules).

    >>> s = broadcastable_shapes((2, 3)).example()
    >>> np.broadcast_shapes(s, (2, 3)) is not None
    True
    """
    return hnp.broadcastable_shapes(tuple(shape), min_dims=min_dims, max_dims=max_dims,
                                    min_side=min_side, max_side=max_side)


def mutually_broadcastable_shapes(num_shapes=2, base_shape=(), min_dims=0, max_dims=None,
                                  min_side=1, max_side=None):
    """Draw ``num_shapes`` shapes that broadcast together (and with ``base_shape``).

    The result is hypothesis' ``BroadcastableShapes(input_shapes, result_shape)``.

    >>> b = mutually_broadcastable_shapes(3).example()
    >>> np.broadcast_shapes(*b.input_shapes) == b.result_shape
    True
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, base_shape=tuple(base_shape), min_dims=min_dims,
        max_dims=max_dims, min_side=min_side, max_side=max_side)


def _float_in(lo, hi, width):
    if width < 64:
        ft = np.float16 if width == 16 else np.float32
        # bounds must be exactly representable in the width; round them inwards
        lo_w, hi_w = ft(lo), ft(hi)
        if float(lo_w) < lo:
            lo_w = np.nextafter(lo_w, ft(np.inf))
        if float(hi_w) > hi:
            hi_w = np.nextafter(hi_w, ft(-np.inf))
        lo, hi = float(lo_w), float(hi_w)
    return st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False)


def elements(dtype, domain=None):
    """A strategy for scalar elements of ``dtype`` within ``domain`` (see the module
    docstring's table).

    >>> -0.9 <= elements(np.float64, "unit").example() <= 0.9
    True
    """
    dtype = np.dtype(dtype)
    if domain not in DOMAINS:
        raise ValueError(f"arrays: unknown domain {domain!r}; use one of "
                         f"{[d for d in DOMAINS]}")
    f_ints, i_ints = DOMAINS[domain]
    k = dtype.kind
    if k == "b":
        return st.booleans()
    if k in "iu":
        info = np.iinfo(dtype)
        parts = []
        for lo, hi in i_ints:
            lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
            if lo <= hi:
                parts.append(st.integers(lo, hi))
        if not parts:   # e.g. unsigned with a negative-only range
            parts = [st.integers(0, min(1, int(info.max)))]
        return st.one_of(*parts) if len(parts) > 1 else parts[0]
    if k == "f":
        width = dtype.itemsize * 8
        parts = [_float_in(lo, hi, width) for lo, hi in f_ints]
        return st.one_of(*parts) if len(parts) > 1 else parts[0]
    if k == "c":
        width = dtype.itemsize * 4
        parts = [_float_in(lo, hi, width) for lo, hi in f_ints]
        real = st.one_of(*parts) if len(parts) > 1 else parts[0]
        # keep |z| inside the domain's scale: imaginary parts are small and bounded
        imag = _float_in(-0.5, 0.5, width) if domain in (None, "bounded") else \
            _float_in(-0.05, 0.05, width)
        return st.builds(complex, real, imag)
    raise TypeError(f"arrays: dtype {dtype} is not supported")


def arrays(dtype=None, shape=None, *, elements=None, domain=None, unique=False):
    """Draw NumPy arrays.

    * ``dtype``: a dtype, or a strategy for one (default: ``dtypes()``, float32/float64).
    * ``shape``: a shape, an int, or a strategy for one (default: ``shapes()``).
    * ``elements``: a strategy for the values (overrides ``domain``).
    * ``domain``: ``None``, ``"bounded"``, ``"positive"``, ``"nonzero"``, ``"unit"`` or
      ``"gt1"``: finite values of moderate magnitude in that range (see the module
      docstring).
    * ``unique``: all elements distinct (useful for max/min/sort tests).

    >>> x = arrays(np.float32, (2, 3), domain="positive").example()
    >>> x.shape, x.dtype, bool((x > 0).all())
    ((2, 3), dtype('float32'), True)
    """
    dt = dtypes() if dtype is None else dtype
    shp = shapes() if shape is None else shape
    el = elements
    elements_fn = globals()["elements"]
    if domain not in DOMAINS:
        raise ValueError(f"arrays: unknown domain {domain!r}; use one of "
                         f"{[d for d in DOMAINS]}")

    if not isinstance(dt, st.SearchStrategy):
        dt = st.just(np.dtype(dt))
    if isinstance(shp, int):
        shp = (shp,)
    if not isinstance(shp, st.SearchStrategy):
        shp = st.just(tuple(shp))

    def draw_array(pair):
        d, s = pair
        e = el if el is not None else elements_fn(d, domain)
        return hnp.arrays(d, s, elements=e, unique=unique)

    return st.tuples(dt, shp).flatmap(draw_array)


def pytrees(leaves=None, max_depth=2, max_children=3, none=False):
    """Draw pytrees: nested dicts (string keys), lists and tuples of ``leaves`` (a
    strategy; default ``arrays()``), at most ``max_depth`` containers deep with at most
    ``max_children`` children each; ``none=True`` also puts ``None`` subtrees in.

    >>> import funcgrad as fg
    >>> t = pytrees(arrays(np.float64, (2,))).example()
    >>> all(l.shape == (2,) for l in fg.tree.leaves(t))
    True
    """
    leaf = arrays() if leaves is None else leaves

    def tree(depth):
        if depth <= 0:
            return leaf
        sub = tree(depth - 1)
        opts = [
            leaf,
            st.lists(sub, min_size=0, max_size=max_children),
            st.lists(sub, min_size=0, max_size=max_children).map(tuple),
            st.dictionaries(st.sampled_from("abcdefgh"), sub, max_size=max_children),
        ]
        if none:
            opts.append(st.none())
        return st.one_of(*opts)

    return tree(max_depth)
