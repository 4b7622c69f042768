"""Indexing: gather/scatter/dynamic_slice primitives, ``x[idx]``, ``x.at[idx]``, take & co.

Values are compared with NumPy (and with slow loop references of XLA's gather/scatter
semantics), ``jit`` with eager, ``vmap`` with a Python loop, gradients with
``check_grads``.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax.indexing import (GatherDimensionNumbers as GDN,
                                   ScatterDimensionNumbers as SDN, dynamic_slice_p,
                                   dynamic_update_slice_p, gather_p, scatter_add_p,
                                   scatter_max_p, scatter_min_p, scatter_mul_p, scatter_p)
from funcgrad.numpy import _advanced as adv
from funcgrad.test_util import check_grads

F64 = np.float64


def A(x):
    return np.asarray(x)


def close(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- references

def _out_pos(rank, offset_dims, b, w_off):
    pos, bi, oi = [], 0, 0
    for p in range(rank):
        if p in offset_dims:
            pos.append(w_off[oi])
            oi += 1
        else:
            pos.append(b[bi])
            bi += 1
    return tuple(pos)


def ref_gather(op, idx, dn, sizes, mode="clip", fill=None):
    """XLA gather, one window at a time."""
    batch = idx.shape[:-1]
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    offs = [d for d in range(op.ndim) if d not in drop]
    rank = len(batch) + len(offs)
    shape = [0] * rank
    for p, v in zip([p for p in range(rank) if p not in dn.offset_dims], batch):
        shape[p] = v
    for p, d in zip(dn.offset_dims, offs):
        shape[p] = sizes[d]
    out = np.zeros(shape, op.dtype)
    for b in np.ndindex(*batch):
        start = [0] * op.ndim
        for k, d in enumerate(dn.start_index_map):
            start[d] = int(idx[b + (k,)])
        for od, ib in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
            start[od] = b[ib]
        oob = any(not 0 <= start[d] <= op.shape[d] - sizes[d] for d in dn.start_index_map)
        start = [min(max(s, 0), n - z) for s, n, z in zip(start, op.shape, sizes)]
        for w in np.ndindex(*sizes):
            v = op[tuple(s + o for s, o in zip(start, w))]
            if mode == "fill" and oob:
                v = np.nan if fill is None else fill
            out[_out_pos(rank, dn.offset_dims, b, [w[d] for d in offs])] = v
    return out


def ref_scatter(op, idx, upd, dn, kind, mode="drop"):
    """XLA scatter, one update element at a time (sequential: last write wins)."""
    out = op.copy()
    batch = idx.shape[:-1]
    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    wdims = [d for d in range(op.ndim) if d not in skip]
    sizes = [1] * op.ndim
    for j, d in enumerate(wdims):
        sizes[d] = upd.shape[dn.update_window_dims[j]]
    for b in np.ndindex(*batch):
        start = [0] * op.ndim
        for k, d in enumerate(dn.scatter_dims_to_operand_dims):
            start[d] = int(idx[b + (k,)])
        for od, ib in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
            start[od] = b[ib]
        oob = any(not 0 <= start[d] <= op.shape[d] - sizes[d]
                  for d in dn.scatter_dims_to_operand_dims)
        if oob and mode == "drop":
            continue
        start = [min(max(s, 0), n - z) for s, n, z in zip(start, op.shape, sizes)]
        for w in np.ndindex(*sizes):
            u = upd[_out_pos(upd.ndim, dn.update_window_dims, b, [w[d] for d in wdims])]
            p = tuple(s + o for s, o in zip(start, w))
            if kind == "set":
                out[p] = u
            elif kind == "add":
                out[p] += u
            elif kind == "mul":
                out[p] *= u
            elif kind == "min":
                out[p] = min(out[p], u)
            else:
                out[p] = max(out[p], u)
    return out


# ----------------------------------------------------------------------------- lax.gather

GATHER_CASES = [
    # (operand shape, indices shape, dnums, slice_sizes)
    ((5, 4), (3, 1), GDN((1,), (0,), (0,)), (1, 4)),                       # rows
    ((5, 4), (3, 2), GDN((), (0, 1), (0, 1)), (1, 1)),                     # points
    ((5, 4, 3), (2, 3, 2), GDN((2, 3), (1,), (0, 1)), (2, 1, 3)),          # windows
    ((5, 4), (2, 1), GDN((0, 1), (), (1,)), (5, 2)),                      # offsets first
    ((3, 4), (3, 2, 1), GDN((), (1,), (1,), (0,), (0,)), (1, 1)),          # batching dims
    ((4,), (0,), GDN((0,), (), ()), (2,)),                                 # empty index vec
]


@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_gather_matches_reference(case, mode):
    rng = np.random.default_rng(case)
    oshape, ishape, dn, sizes = GATHER_CASES[case]
    op = rng.standard_normal(oshape)
    hi = max(oshape) + 2
    idx = rng.integers(-2, hi, size=ishape).astype(np.int32)
    if dn.operand_batching_dims:
        idx = rng.integers(-1, 6, size=ishape).astype(np.int32)
    f = lambda o, i: lax.gather(o, i, dn, sizes, mode=mode)
    expect = ref_gather(op, idx, dn, sizes, mode)
    close(f(op, idx), expect)
    close(fg.jit(f)(op, idx), expect)


def test_gather_fill_value_and_int_default():
    x = np.arange(5, dtype=np.int32)
    dn = GDN((), (0,), (0,))
    idx = np.array([[1], [7], [-1]], np.int32)
    close(lax.gather(x, idx, dn, (1,), mode="fill"),
          [1, np.iinfo(np.int32).min, np.iinfo(np.int32).min])
    close(lax.gather(x, idx, dn, (1,), mode="fill", fill_value=-5), [1, -5, -5])
    close(lax.gather(x, idx, dn, (1,)), [1, 4, 0])            # clip


def test_gather_errors():
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match="slice_sizes"):
        lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (1,))
    with pytest.raises(TypeError, match="index vector"):
        lax.gather(x, np.zeros((2, 2), np.int32), GDN((1,), (0,), (0,)), (1, 4))
    with pytest.raises(TypeError, match="integer"):
        lax.gather(x, np.zeros((2, 1)), GDN((1,), (0,), (0,)), (1, 4))
    with pytest.raises(TypeError, match="does not fit"):
        lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (1, 5))
    with pytest.raises(TypeError, match="slice size 1"):
        lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (2, 4))
    with pytest.raises(ValueError, match="mode"):
        lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (1, 4), mode="x")


@pytest.mark.parametrize("case", [0, 2, 3, 4])
def test_gather_grads(case):
    rng = np.random.default_rng(10 + case)
    oshape, ishape, dn, sizes = GATHER_CASES[case]
    op = rng.standard_normal(oshape)
    idx = rng.integers(0, 3, size=ishape).astype(np.int32)
    for mode in ("clip", "fill"):
        check_grads(lambda o: lax.gather(o, idx, dn, sizes, mode=mode), (op,), 2)


@pytest.mark.parametrize("case", [0, 2, 4])
def test_gather_vmap(case):
    rng = np.random.default_rng(20 + case)
    oshape, ishape, dn, sizes = GATHER_CASES[case]
    ops = rng.standard_normal((3,) + oshape)
    idxs = rng.integers(0, 3, size=(3,) + ishape).astype(np.int32)
    f = lambda o, i: lax.gather(o, i, dn, sizes)
    for axes in [(0, 0), (0, None), (None, 0)]:
        out = fg.vmap(f, in_axes=axes)(ops if axes[0] == 0 else ops[0],
                                       idxs if axes[1] == 0 else idxs[0])
        loop = [f(ops[b] if axes[0] == 0 else ops[0], idxs[b] if axes[1] == 0 else idxs[0])
                for b in range(3)]
        close(out, np.stack([A(v) for v in loop]))
    # batch axis not in front
    out = fg.vmap(f, in_axes=(1, 1))(np.moveaxis(ops, 0, 1), np.moveaxis(idxs, 0, 1))
    close(out, np.stack([A(f(ops[b], idxs[b])) for b in range(3)]))


# ----------------------------------------------------------------------------- lax.scatter*

SCATTER_CASES = [
    # (operand shape, indices shape, updates shape, dnums)
    ((5, 3), (4, 1), (4, 3), SDN((1,), (0,), (0,))),
    ((5, 4), (6, 2), (6,), SDN((), (0, 1), (0, 1))),
    ((5, 4, 3), (2, 2), (2, 2, 3), SDN((1, 2), (1,), (0, 1))),
    ((3, 4), (3, 2, 1), (3, 2), SDN((), (1,), (1,), (0,), (0,))),
    ((4, 5), (2, 1), (3, 2, 2), SDN((0, 2), (), (1,))),
]
SCATTERS = {"set": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
            "min": lax.scatter_min, "max": lax.scatter_max}


@pytest.mark.parametrize("case", range(len(SCATTER_CASES)))
@pytest.mark.parametrize("kind", list(SCATTERS))
@pytest.mark.parametrize("mode", ["drop", "clip"])
def test_scatter_matches_reference(case, kind, mode):
    rng = np.random.default_rng(case)
    oshape, ishape, ushape, dn = SCATTER_CASES[case]
    op = rng.standard_normal(oshape)
    idx = rng.integers(-1, max(oshape) + 1, size=ishape).astype(np.int32)
    upd = rng.standard_normal(ushape)
    f = lambda o, i, u: SCATTERS[kind](o, i, u, dn, mode=mode)
    expect = ref_scatter(op, idx, upd, dn, kind, mode)
    close(f(op, idx, upd), expect, 1e-12)
    close(fg.jit(f)(op, idx, upd), expect, 1e-12)


def test_scatter_repeated_indices_and_ints():
    x = np.zeros(4, np.int32)
    dn = SDN((), (0,), (0,))
    idx = np.array([[1], [1], [3], [9]], np.int32)
    upd = np.array([1, 2, 3, 4], np.int32)
    close(lax.scatter_add(x, idx, upd, dn), [0, 3, 0, 3])
    close(lax.scatter(x, idx, upd, dn), [0, 2, 0, 3])
    close(lax.scatter_add(x, idx, upd, dn, mode="clip"), [0, 3, 0, 7])
    close(lax.scatter_max(x, idx, upd, dn), [0, 2, 0, 3])
    close(lax.scatter_min(np.full(4, 9, np.int32), idx, upd, dn), [9, 1, 9, 3])


def test_scatter_errors():
    x = np.zeros((3, 4))
    dn = SDN((1,), (0,), (0,))
    with pytest.raises(TypeError, match="window size 5 along operand dim 1"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((2, 5)), dn)
    with pytest.raises(TypeError, match="updates of shape"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((2, 4, 1)), dn)
    with pytest.raises(TypeError, match="scatter dims"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((3, 4)), dn)
    with pytest.raises(TypeError, match="dtype"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((2, 4), np.float32), dn)
    with pytest.raises(TypeError, match="integer"):
        lax.scatter_add(x, np.zeros((2, 1)), np.zeros((2, 4)), dn)


@pytest.mark.parametrize("kind", list(SCATTERS))
@pytest.mark.parametrize("case", [0, 2, 3])
def test_scatter_grads(kind, case):
    rng = np.random.default_rng(30 + case)
    oshape, ishape, ushape, dn = SCATTER_CASES[case]
    op = rng.standard_normal(oshape)
    upd = rng.standard_normal(ushape)
    if kind == "mul":
        upd[(0,) * upd.ndim] = 0.0        # exercise the zero-safe product rule
    idx = rng.integers(0, 3, size=ishape).astype(np.int32)   # repeats likely
    f = lambda o, u: SCATTERS[kind](o, idx, u, dn)
    check_grads(f, (op, upd), 2 if kind in ("set", "add", "mul") else 1)


def test_scatter_set_transpose_with_repeats():
    # the update that lost the race gets no gradient
    dn = SDN((), (0,), (0,))
    idx = np.array([[1], [1], [2]], np.int32)
    g = fg.grad(lambda o, u: fnp.sum(lax.scatter(o, idx, u, dn) * np.array([1., 2., 3.])),
                argnums=(0, 1))(np.ones(3), np.array([5., 6., 7.]))
    close(g[0], [1., 0., 0.])
    close(g[1], [0., 2., 3.])


def test_scatter_mul_zero_safe_grad():
    dn = SDN((), (0,), (0,))
    idx = np.array([[0], [0], [1]], np.int32)
    op = np.array([2., 3.])
    u = np.array([0., 5., 4.])
    g = fg.grad(lambda u: fnp.sum(lax.scatter_mul(op, idx, u, dn)))(u)
    close(g, [10., 0., 3.])


def test_scatter_minmax_ties_split():
    dn = SDN((), (0,), (0,))
    idx = np.array([[0], [0]], np.int32)
    g = fg.grad(lambda o, u: fnp.sum(lax.scatter_max(o, idx, u, dn)), argnums=(0, 1))(
        np.array([1.0]), np.array([1.0, 0.5]))
    close(g[0], [0.5])
    close(g[1], [0.5, 0.0])


@pytest.mark.parametrize("kind", list(SCATTERS))
def test_scatter_vmap(kind):
    rng = np.random.default_rng(5)
    oshape, ishape, ushape, dn = SCATTER_CASES[0]
    ops = rng.standard_normal((3,) + oshape)
    idxs = rng.integers(-1, 6, size=(3,) + ishape).astype(np.int32)
    upds = rng.standard_normal((3,) + ushape)
    f = lambda o, i, u: SCATTERS[kind](o, i, u, dn)
    for axes in itertools.product([0, None], repeat=3):
        if axes == (None, None, None):
            continue
        args = [a if ax == 0 else a[0] for a, ax in zip((ops, idxs, upds), axes)]
        out = fg.vmap(f, in_axes=axes)(*args)
        loop = [f(*[a[b] if ax == 0 else a for a, ax in zip(args, axes)]) for b in range(3)]
        close(out, np.stack([A(v) for v in loop]), 1e-12)


# ----------------------------------------------------------------------------- dynamic_slice

@given(st.integers(-8, 8), st.integers(-8, 8), st.integers(0, 5), st.integers(0, 4))
def test_dynamic_slice_matches_numpy(i, j, a, b):
    x = np.arange(20.).reshape(5, 4)
    ii = i + 5 if i < 0 else i
    jj = j + 4 if j < 0 else j
    ii, jj = min(max(ii, 0), 5 - a), min(max(jj, 0), 4 - b)
    expect = x[ii:ii + a, jj:jj + b]
    close(lax.dynamic_slice(x, [i, j], [a, b]), expect)
    f = fg.jit(lambda x, i, j: lax.dynamic_slice(x, (i, j), (a, b)))
    close(f(x, np.int32(i), np.int32(j)), expect)
    u = np.full((a, b), -1.)
    y = x.copy()
    y[ii:ii + a, jj:jj + b] = u
    close(lax.dynamic_update_slice(x, u, [i, j]), y)
    g = fg.jit(lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)))
    close(g(x, u, np.int32(i), np.int32(j)), y)


def test_dynamic_slice_helpers():
    x = np.arange(12.).reshape(3, 4)
    close(lax.dynamic_slice_in_dim(x, 1, 2, axis=1), x[:, 1:3])
    close(lax.dynamic_index_in_dim(x, -1, keepdims=False), x[2])
    close(lax.dynamic_index_in_dim(x, 1, axis=1), x[:, 1:2])
    close(lax.dynamic_update_slice_in_dim(x, np.zeros((3, 1)), 2, 1),
          np.where(np.arange(4) == 2, 0., x))
    close(lax.dynamic_update_index_in_dim(x, np.zeros(4), 1, 0),
          np.where(np.arange(3)[:, None] == 1, 0., x))
    close(lax.dynamic_slice(x, fnp.array([1, 1]), (2, 2)), x[1:3, 1:3])
    with pytest.raises(TypeError, match="start indices"):
        lax.dynamic_slice(x, [1], [1, 1])
    with pytest.raises(TypeError, match="fit"):
        lax.dynamic_slice(x, [0, 0], [4, 1])
    with pytest.raises(TypeError, match="update shape"):
        lax.dynamic_update_slice(x, np.zeros((4, 1)), [0, 0])


def test_dynamic_slice_grads():
    x = np.random.default_rng(0).standard_normal((5, 4))
    u = np.random.default_rng(1).standard_normal((2, 3))
    for i, j in [(1, 2), (4, -1), (-9, 0)]:
        check_grads(lambda x: lax.dynamic_slice(x, (i, j), (2, 3)) ** 2, (x,), 2)
        check_grads(lambda x, u: lax.dynamic_update_slice(x, u * u, (i, j)), (x, u), 2)
    # traced start inside jit and grad
    f = fg.jit(lambda x, i: fnp.sum(lax.dynamic_slice_in_dim(x, i, 2) ** 2))
    g = fg.grad(f)(x, np.int32(3))
    e = np.zeros_like(x)
    e[3:5] = 2 * x[3:5]
    close(g, e, 1e-12)


@pytest.mark.parametrize("axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                  (0, 0, 0), (1, 0, None)])
def test_dynamic_slice_vmap(axes):
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((3, 5, 4))
    i_s = np.array([0, 3, -1], np.int32)
    j_s = np.array([2, -7, 1], np.int32)
    f = lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3))
    args = [xs if axes[0] == 0 else (np.moveaxis(xs, 0, 1) if axes[0] == 1 else xs[0]),
            i_s if axes[1] == 0 else i_s[1], j_s if axes[2] == 0 else j_s[1]]
    out = fg.vmap(f, in_axes=axes)(*args)
    loop = [f(xs[b] if axes[0] is not None else xs[0], i_s[b] if axes[1] == 0 else i_s[1],
              j_s[b] if axes[2] == 0 else j_s[1]) for b in range(3)]
    close(out, np.stack([A(v) for v in loop]))


@pytest.mark.parametrize("axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                  (0, 0, 0), (None, 0, 0)])
def test_dynamic_update_slice_vmap_and_grad(axes):
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((3, 5, 4))
    us = rng.standard_normal((3, 2, 3))
    i_s = np.array([0, 4, -1], np.int32)
    f = lambda x, u, i: lax.dynamic_update_slice(x, u, (i, 1))
    args = [a if ax == 0 else a[0] for a, ax in zip((xs, us, i_s), axes)]
    out = fg.vmap(f, in_axes=axes)(*args)
    loop = [f(*[a[b] if ax == 0 else a for a, ax in zip(args, axes)]) for b in range(3)]
    close(out, np.stack([A(v) for v in loop]))
    # gradient through the batched (gather/scatter lowered) version
    h = lambda x, u: fnp.sum(fg.vmap(f, in_axes=(0, 0, 0))(x, u, i_s) ** 2)
    check_grads(h, (xs, us), 1)
    k = lambda x: fnp.sum(fg.vmap(lambda x, i: lax.dynamic_slice(x, (i, 1), (2, 3)))(
        x, i_s) ** 3)
    check_grads(k, (xs,), 2)


# ----------------------------------------------------------------------------- x[idx]

X = np.arange(60.).reshape(3, 4, 5)
IDX_CASES = [
    (np.array([0, 2]),),
    ([0, 2, 2, 1],),
    ([[0, 1], [2, 2]],),
    (slice(None), [0, 3]),
    (slice(None), [0, 3], [1, 4]),           # adjacent advanced
    ([0, 2], slice(None), [1, 4]),           # separated -> broadcast dims first
    (0, slice(None), [1, 2]),                # int counts as advanced
    (slice(None), 0, [1, 2]),
    ([0], None, [1]),                        # None separates advanced indices
    (slice(None), [1], None, [1]),
    (Ellipsis, [1, -1]),
    ([-1, -3],),
    (slice(None, None, -1), [0, 1]),
    ([1, 2], slice(1, None, 2), slice(None, 2)),
    (X[:, 0, 0] > 10,),
    (X[:, :, 0] > 27,),
    (slice(None), X[0, :, 0] > 7),
    (X > 30,),
    (True,),
    (Ellipsis, False),
    (1, True, [0, 1]),
    (np.array(1),),
    ([np.int64(1), 2], 0),
    (np.array([[0], [2]]), np.array([[1, 3]])),
    ([],),
    (np.zeros((2, 0), np.int32),),
    (None, [1, 0], Ellipsis, None),
]


@pytest.mark.parametrize("i", range(len(IDX_CASES)))
def test_getitem_matches_numpy(i):
    idx = IDX_CASES[i]
    x = fnp.asarray(X)
    expect = X[idx]
    close(x[idx], expect)
    close(fg.jit(lambda x: x[idx])(x), expect)


@pytest.mark.parametrize("i", [0, 3, 4, 5, 6, 8, 11, 13, 23])
def test_getitem_traced_indices(i):
    idx = IDX_CASES[i]
    arrs = [j for j, e in enumerate(idx) if isinstance(e, (list, np.ndarray))]
    vals = [np.asarray(idx[j], np.int32) for j in arrs]

    def f(x, *ind):
        full = list(idx)
        for j, v in zip(arrs, ind):
            full[j] = v
        return x[tuple(full)]
    expect = X[idx]
    close(f(fnp.asarray(X), *[fnp.asarray(v) for v in vals]), expect)
    close(fg.jit(f)(X, *vals), expect)
    check_grads(lambda x: f(x, *vals), (X,), 2)


def test_getitem_scalar_traced_index_uses_dynamic_slice():
    jaxpr = str(fg.make_jaxpr(lambda x, i: x[i, 1:3])(X, np.int32(1)))
    assert "dynamic_slice" in jaxpr and "gather" not in jaxpr
    close(fg.jit(lambda x, i: x[i, 1:3])(X, np.int32(-1)), X[-1, 1:3])
    close(fg.jit(lambda x, i: x[:, i])(X, np.int32(2)), X[:, 2])


@st.composite
def _index_exprs(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    idx = []
    bshape = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    for d in range(nd):
        n = shape[d]
        kind = draw(st.sampled_from(["int", "slice", "arr", "none_then_slice"]))
        if kind == "int":
            idx.append(draw(st.integers(-n, n - 1)))
        elif kind == "arr":
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(bshape)),
                                 max_size=int(np.prod(bshape))))
            idx.append(np.array(vals, np.int32).reshape(bshape))
        else:
            if kind == "none_then_slice":
                idx.append(None)
            a = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            b = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            s = draw(st.sampled_from([None, 1, 2, -1, -2]))
            idx.append(slice(a, b, s))
    if draw(st.booleans()) and len(idx) > 1:
        idx = idx[:draw(st.integers(1, len(idx)))] + [Ellipsis]
    return shape, tuple(idx)


@given(_index_exprs())
def test_getitem_hypothesis(case):
    shape, idx = case
    x = np.arange(int(np.prod(shape)), dtype=F64).reshape(shape)
    expect = x[idx]
    close(fnp.asarray(x)[idx], expect)
    arrs = [j for j, e in enumerate(idx) if isinstance(e, np.ndarray)]

    def f(x, *ind):
        full = list(idx)
        for j, v in zip(arrs, ind):
            full[j] = v
        return x[tuple(full)]
    close(fg.jit(f)(x, *[idx[j] for j in arrs]), expect)
    # .at with the same index: set and get agree with NumPy
    y = x.copy()
    y[idx] = -1.0
    close(fnp.asarray(x).at[idx].set(-1.0), y)
    close(fnp.asarray(x).at[idx].get(mode="clip"), expect)
    if expect.size:
        check_grads(lambda x: f(x, *[idx[j] for j in arrs]) ** 2, (x,), 1)


def test_getitem_vmap():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 5, 3))
    ids = rng.integers(-5, 5, size=(4, 2)).astype(np.int32)
    f = lambda x, i: fnp.asarray(x)[i, 1:]
    g = lambda x, i: fnp.asarray(x)[:, i[0]] + fnp.asarray(x)[i[1], 0]
    for fun in (f, g):
        for axes in [(0, 0), (0, None), (None, 0)]:
            args = [xs if axes[0] == 0 else xs[0], ids if axes[1] == 0 else ids[0]]
            out = fg.vmap(fun, in_axes=axes)(*args)
            loop = [fun(fnp.asarray(args[0][b] if axes[0] == 0 else args[0]),
                        fnp.asarray(args[1][b] if axes[1] == 0 else args[1]))
                    for b in range(4)]
            close(out, np.stack([A(v) for v in loop]), 1e-12)
    # nested vmap + grad
    h = lambda x, i: fnp.sum(fg.vmap(lambda x, i: x[i] ** 2)(x, i))
    gx = fg.grad(h)(xs, ids[:, 0])
    e = np.zeros_like(xs)
    for b in range(4):
        e[b, ids[b, 0]] += 2 * xs[b, ids[b, 0]]
    close(gx, e, 1e-12)


def test_getitem_out_of_bounds_rules():
    x = fnp.asarray(X)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="axis 1 with size 4"):
        x[0, [1, 4]]
    with pytest.raises(IndexError, match="axis 2 with size 5"):
        x[:, :, np.array([-6])]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, [0], 0]
    with pytest.raises(IndexError, match="too many indices"):
        x[X > 1, 0]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., [0], ...]
    with pytest.raises(IndexError, match="valid indices"):
        x[np.array([0.5])]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]
    with pytest.raises(IndexError, match="broadcast"):
        x[[0, 1], [0, 1, 2]]
    # funcgrad arrays / traced indices are clamped (as JAX), eagerly and under jit
    i = fnp.array([5, -1, -7])
    close(x[i], X[[2, 2, 0]])
    close(fg.jit(lambda x, i: x[i])(x, i), X[[2, 2, 0]])
    close(fg.jit(lambda x, i: x[i])(x, fnp.array(9)), X[2])


def test_traced_bool_mask_is_a_clear_error():
    with pytest.raises(TypeError, match="fnp.where"):
        fg.jit(lambda x: x[x > 2])(np.arange(4.))
    with pytest.raises(TypeError, match="concrete"):
        fg.vmap(lambda x, m: x[m])(np.ones((2, 3)), np.ones((2, 3), bool))
    # a concrete mask closed over inside jit is fine
    m = np.array([True, False, True, True])
    close(fg.jit(lambda x: x[m])(np.arange(4.)), np.arange(4.)[m])


def test_getitem_dtypes_and_weak_type():
    x = fnp.arange(6, dtype=fnp.int16)
    assert x[fnp.array([1, 2])].dtype == np.int16
    b = fnp.array([True, False, True])
    close(b[[0, 1]], [True, False])
    u = fnp.asarray(np.arange(5.))
    close(u[np.array([3, 1], np.uint8)], [3., 1.])
    w = fnp.asarray(2.0) + fnp.zeros(3, dtype=fnp.float32)
    assert w[np.array([0])].dtype == np.float32


# ----------------------------------------------------------------------------- x.at[idx]

AT_INDICES = [
    (np.array([0, 2, 0]),),
    (1,),
    (slice(1, None, 2), [0, 3, 3]),
    (Ellipsis, -1),
    ([0, 5, -1, -9],),                       # out of range: dropped
    (X[:, :, 0] > 27,),
    (slice(None, None, -1), None, 2),
    ([1], slice(None), [2]),
]


def _np_at(kind, x, idx, v):
    y = x.copy()
    if kind in ("add", "multiply", "min", "max"):
        idx = _np_filter_oob(x.shape, idx)
        uf = {"add": np.add, "multiply": np.multiply, "min": np.minimum,
              "max": np.maximum}[kind]
        uf.at(y, idx, v)
    elif kind == "set":
        y[_np_filter_oob(x.shape, idx)] = v
    return y


def _np_filter_oob(shape, idx):
    """Drop out-of-range integer-array entries (1-D first-axis index only)."""
    if len(idx) == 1 and isinstance(idx[0], list):
        n = shape[0]
        return ([i for i in idx[0] if -n <= i < n],)
    return idx


@pytest.mark.parametrize("i", range(len(AT_INDICES)))
@pytest.mark.parametrize("kind", ["set", "add", "multiply", "min", "max"])
def test_at_updates_match_numpy(i, kind):
    idx = AT_INDICES[i]
    x = X.copy() - 20.0
    shape = x[_np_filter_oob(x.shape, idx)].shape
    v = np.random.default_rng(i).standard_normal(shape)
    if kind == "set" and len(idx) == 1 and isinstance(idx[0], np.ndarray):
        v = 7.0   # numpy's assignment order with repeats is not ours to compare
    if len(idx) == 1 and isinstance(idx[0], list):
        v = 3.0
    expect = _np_at(kind, x, idx, v)
    f = lambda x, v: getattr(x.at[idx], kind)(v)
    close(f(fnp.asarray(x), v), expect, 1e-12)
    close(fg.jit(f)(x, v), expect, 1e-12)


def test_at_other_methods():
    x = fnp.arange(1., 6.)
    close(x.at[1:3].divide(2.), [1., 1., 1.5, 4., 5.])
    close(x.at[np.array([0, 0])].power(2.), [1., 2., 3., 4., 5.])
    close(x.at[np.array([1, 1])].power(2.), [1., 16., 3., 4., 5.])
    close(x.at[-1].apply(lambda v: v * 10), [1., 2., 3., 4., 50.])
    close(x.at[[0, 9]].get(mode="fill", fill_value=0.), [1., 0.])
    close(x.at[[0, 9]].get(mode="fill"), [1., np.nan])
    close(x.at[[0, 9]].get(mode="clip"), [1., 5.])
    close(x.at[2].get(), 3.)
    close(x.at[[7]].set(0., mode="clip"), [1., 2., 3., 4., 0.])
    xi = fnp.arange(6)
    close(xi.at[2:].divide(2), [0, 1, 1, 1, 2, 2])
    close(xi.at[::2].add(np.array([10, 20, 30])), [10, 1, 22, 3, 34, 5])
    close(xi.at[True].set(-1), np.full(6, -1))
    close(xi.at[False].set(-1), np.arange(6))


def test_at_values_broadcast_and_errors():
    x = fnp.zeros((3, 4))
    close(x.at[:, [1, 2]].set(np.array([[1.], [2.], [3.]])),
          np.array([[0, 1, 1, 0], [0, 2, 2, 0], [0, 3, 3, 0]], float))
    close(x.at[0].set(np.ones((1, 4))), np.vstack([np.ones(4), np.zeros((2, 4))]))
    with pytest.raises(TypeError, match=r"cannot be broadcast to the indexed shape \(4,\)"):
        x.at[0].set(np.ones(3))
    with pytest.raises(TypeError, match="cannot be broadcast"):
        x.at[0].set(np.ones((2, 4)))
    with pytest.raises(TypeError, match="fnp.where"):
        fg.jit(lambda x: x.at[x > 0].set(1.))(x)
    with pytest.raises(TypeError, match="immutable"):
        x[0] = 1.0


def test_at_grads():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    v = rng.standard_normal((3, 3))
    i = np.array([0, 2, 0])
    check_grads(lambda x, v: x.at[i].set(v), (x, v), 2)
    check_grads(lambda x, v: x.at[i].add(v * v), (x, v), 2)
    check_grads(lambda x, v: x.at[i].multiply(v), (x, v), 2)
    check_grads(lambda x, v: x.at[i].min(v), (x, v), 1)
    check_grads(lambda x, v: x.at[i].max(v), (x, v), 1)
    check_grads(lambda x, v: x.at[1:, ::2].set(v[:, :2]), (x, v), 1)
    check_grads(lambda x: x.at[i].divide(x[1:] + 3.0), (x,), 1)
    check_grads(lambda x: (x * x + 1).at[2].power(x[0]), (x,), 1)
    check_grads(lambda x: x.at[:, 1].apply(fnp.sin), (x,), 2)


def test_at_vmap():
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((3, 5))
    vs = rng.standard_normal((3, 2))
    ids = np.array([[0, 4], [1, 1], [3, 9]], np.int32)
    for kind in ("set", "add", "max"):
        f = lambda x, i, v: getattr(fnp.asarray(x).at[i], kind)(v)
        for axes in itertools.product([0, None], repeat=3):
            if axes == (None, None, None):
                continue
            args = [a if ax == 0 else a[0] for a, ax in zip((xs, ids, vs), axes)]
            out = fg.vmap(f, in_axes=axes)(*args)
            loop = [f(*[fnp.asarray(a[b] if ax == 0 else a) for a, ax in zip(args, axes)])
                    for b in range(3)]
            close(out, np.stack([A(v) for v in loop]), 1e-12)
    # scalar traced index inside vmap + jit
    f = fg.jit(fg.vmap(lambda x, i: x.at[i].add(1.0)))
    close(f(xs, np.array([0, 4, 2], np.int32)),
          xs + np.eye(5)[[0, 4, 2]])


# ----------------------------------------------------------------------------- take & co

@given(st.integers(1, 4), st.integers(1, 4), st.integers(-1, 1),
       st.sampled_from(["clip", "wrap", "fill", None]), st.integers(0, 1000))
def test_take_matches_numpy(n, m, axis, mode, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, m))
    size = a.shape[axis] if axis is not None else a.size
    lo = -size if mode in (None, "fill") else -2 * size
    idx = rng.integers(lo, size if mode in (None, "fill") else 2 * size, size=(2, 3))
    ax = None if axis == 1 else axis
    npmode = "raise" if mode in (None, "fill") else mode
    expect = np.take(a, idx, axis=ax, mode=npmode)
    close(fnp.take(a, idx, axis=ax, mode=mode), expect)
    close(fg.jit(lambda a, i: fnp.take(a, i, axis=ax, mode=mode))(a, idx.astype(np.int32)),
          expect)


def test_take_modes_and_grads():
    a = np.arange(5.)
    close(fnp.take(a, np.array([1, 7, -1, -6])), [1., np.nan, 4., np.nan])
    close(fnp.take(a, np.array([7]), fill_value=-1.0), [-1.])
    close(fnp.take(a, np.array([7, -1]), mode="clip"), [4., 0.])
    close(fnp.take(a, np.array([7, -1]), mode="wrap"), [2., 4.])
    close(fnp.take(a, [1, 2], mode="raise"), [1., 2.])
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.take(a, [5], mode="raise")
    with pytest.raises(NotImplementedError, match="raise"):
        fg.jit(lambda i: fnp.take(a, i, mode="raise"))(np.array([1]))
    with pytest.raises(IndexError, match="empty"):
        fnp.take(np.zeros((0, 2)), [0], axis=0)
    close(fnp.take(np.zeros((0, 2)), np.zeros(0, int), axis=0), np.zeros((0, 2)))
    close(fnp.take(a, 3), 3.)
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(lambda x: fnp.take(x, np.array([[0, 3], [3, 3]]), axis=1), (x,), 2)
    check_grads(lambda x: fnp.take(x, np.array([0, 10]), mode="fill"), (x,), 1)
    f = lambda x, i: fnp.take(x, i, axis=0)
    xs = np.random.default_rng(1).standard_normal((2, 3, 4))
    ids = np.array([[0, 2], [1, 1]], np.int32)
    close(fg.vmap(f)(xs, ids), np.stack([xs[b][ids[b]] for b in range(2)]))


def test_take_along_axis():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 2))
    for axis in (0, 1, 2, -1):
        n = a.shape[axis]
        shape = list(a.shape)
        shape[axis] = 5
        idx = rng.integers(-n, n, size=shape)
        expect = np.take_along_axis(a, idx, axis)
        close(fnp.take_along_axis(a, idx, axis), expect)
        close(fg.jit(lambda a, i: fnp.take_along_axis(a, i, axis))(a, idx.astype(np.int32)),
              expect)
        check_grads(lambda a: fnp.take_along_axis(a, idx, axis), (a,), 2)
    # broadcasting of other dims, axis=None, fill for out-of-range
    idx = np.array([[[1], [0], [3], [2]]])
    close(fnp.take_along_axis(a, idx, 1), np.take_along_axis(a, idx, 1))
    close(fnp.take_along_axis(a, np.array([0, 23, -1]), None), a.ravel()[[0, 23, -1]])
    close(fnp.take_along_axis(np.arange(3.), np.array([3]), 0), [np.nan])
    close(lax.take_along_axis(np.arange(3.), np.array([3]), 0), [2.])
    with pytest.raises(TypeError, match="same number of dimensions"):
        fnp.take_along_axis(a, np.zeros((2, 2), int), 0)
    # vmap: batched array, batched indices, both
    i3 = rng.integers(0, 4, size=(3, 4, 2)).astype(np.int32)
    f = lambda a, i: fnp.take_along_axis(a, i, 0)
    for axes in [(0, 0), (0, None), (None, 0)]:
        args = [a if axes[0] == 0 else a[0], i3 if axes[1] == 0 else i3[0]]
        out = fg.vmap(f, in_axes=axes)(*args)
        loop = [f(args[0][b] if axes[0] == 0 else args[0],
                  args[1][b] if axes[1] == 0 else args[1]) for b in range(3)]
        close(out, np.stack([A(v) for v in loop]))


def test_cummax_cummin_grads():
    x = np.array([[0.3, -1.2, 2.0, 0.5], [1., 3., -2., 4.], [0.1, 0.4, 0.2, 0.9]])
    for rev in (False, True):
        check_grads(lambda x: lax.cummax(x, 1, reverse=rev), (x,), 2)
        check_grads(lambda x: lax.cummin(x, 0, reverse=rev), (x,), 2)
    close(fg.vmap(fg.grad(lambda r: fnp.sum(lax.cummax(r, 0))))(x),
          np.stack([A(fg.grad(lambda r: fnp.sum(lax.cummax(r, 0)))(r)) for r in x]))


def test_put_along_axis():
    a = np.zeros((2, 3))
    idx = np.array([[2], [-3]])
    expect = a.copy()
    np.put_along_axis(expect, idx, 5., axis=1)
    close(fnp.put_along_axis(a, idx, 5., axis=1, inplace=False), expect)
    close(fg.jit(lambda a, i: fnp.put_along_axis(a, i, 5., 1, inplace=False))(
        a, idx.astype(np.int32)), expect)
    with pytest.raises(ValueError, match="inplace=False"):
        fnp.put_along_axis(a, idx, 5., axis=1)
    v = np.array([[1.], [2.]])
    check_grads(lambda a, v: fnp.put_along_axis(a, idx, v, 1, inplace=False), (a + 1, v), 2)
    e = np.arange(6.)
    np.put_along_axis(e, np.array([1, 4]), 0., None)
    close(fnp.put_along_axis(np.arange(6.), np.array([1, 4]), 0., None, inplace=False), e)


def test_nonzero_static_and_friends():
    a = np.array([[0, 3, 0], [5, 0, 7]])
    for size, fill in [(2, None), (3, None), (5, -1), (0, None)]:
        out = fnp.nonzero(a, size=size, fill_value=fill)
        nz = np.nonzero(a)
        for o, r in zip(out, nz):
            f = 0 if fill is None else fill
            exp = np.concatenate([r, np.full(max(size - r.size, 0), f)])[:size]
            close(o, exp)
    jitted = fg.jit(lambda a: fnp.nonzero(a, size=4, fill_value=(9, 8)))(a)
    close(jitted[0], [0, 1, 1, 9])
    close(jitted[1], [1, 0, 2, 8])
    vm = fg.vmap(lambda r: fnp.nonzero(r, size=2)[0])(a)
    close(vm, [[1, 0], [0, 2]])
    close(fnp.nonzero(np.zeros((0, 2)), size=2)[1], [0, 0])
    with pytest.raises(TypeError, match="size="):
        fg.jit(lambda a: fnp.nonzero(a))(a)
    close(adv.argwhere(a), np.argwhere(a))
    close(adv.argwhere(a, size=4, fill_value=-1), [[0, 1], [1, 0], [1, 2], [-1, -1]])
    close(fg.jit(lambda a: adv.argwhere(a, size=2))(a), [[0, 1], [1, 0]])
    close(adv.flatnonzero(a), np.flatnonzero(a))
    close(fg.jit(lambda a: adv.flatnonzero(a, size=4))(a), [1, 3, 5, 0])
    with pytest.raises(TypeError, match="size="):
        fg.jit(adv.argwhere)(a)


def test_compress_extract_choose_select():
    a = np.arange(12.).reshape(3, 4)
    close(adv.compress([True, False, True], a, axis=0), np.compress([1, 0, 1], a, axis=0))
    close(adv.compress([False, True], a, axis=1), np.compress([0, 1], a, axis=1))
    close(adv.compress([0, 1, 1, 0, 1], a), np.compress([0, 1, 1, 0, 1], a))
    close(adv.compress([True], a, axis=1, size=3, fill_value=-1.),
          [[0., -1., -1.], [4., -1., -1.], [8., -1., -1.]])
    with pytest.raises(TypeError, match="concrete"):
        fg.jit(lambda c: adv.compress(c, a, axis=0))(np.array([True, False, True]))
    close(adv.extract(a > 6, a), np.extract(a > 6, a))
    check_grads(lambda a: adv.compress([True, False, True], a, axis=0), (a,), 1)
    c = np.array([[0, 1, 2, 1]] * 3)
    chs = [a, -a, a * 10]
    close(adv.choose(c, chs), np.choose(c, chs))
    close(adv.choose(c + 2, chs, mode="wrap"), np.choose(c + 2, chs, mode="wrap"))
    close(adv.choose(c + 1, chs, mode="clip"), np.choose(c + 1, chs, mode="clip"))
    with pytest.raises(ValueError, match="invalid entry"):
        adv.choose(c + 1, chs)
    with pytest.raises(TypeError, match="mode='wrap'"):
        fg.jit(lambda c: adv.choose(c, chs))(c)
    close(fg.jit(lambda c: adv.choose(c, chs, mode="clip"))(c), np.choose(c, chs))
    check_grads(lambda a: adv.choose(c, [a, a * a, -a], mode="clip"), (a,), 2)
    x = np.arange(6.)
    conds, choices = [x < 2, x > 3], [x, x ** 2]
    close(adv.select(conds, choices, default=-1.), np.select(conds, choices, default=-1.))
    close(fg.jit(lambda x: adv.select([x < 2, x > 3], [x, x ** 2]))(x),
          np.select(conds, choices))
    with pytest.raises(TypeError, match="boolean"):
        adv.select([x], [x])
    with pytest.raises(ValueError, match="entries"):
        adv.select([x < 1], [x, x])


def test_index_helpers():
    close(adv.diag_indices(3)[1], np.diag_indices(3)[1])
    close(adv.diag_indices(2, 3)[2], np.diag_indices(2, 3)[2])
    close(adv.diag_indices_from(np.zeros((3, 3)))[0], [0, 1, 2])
    for k in (-1, 0, 2):
        for f, g in [(adv.tril_indices, np.tril_indices), (adv.triu_indices, np.triu_indices)]:
            for r, e in zip(f(4, k, 3), g(4, k, 3)):
                close(r, e)
    close(adv.tril_indices_from(np.zeros((3, 2)))[0], np.tril_indices_from(np.zeros((3, 2)))[0])
    close(adv.triu_indices_from(np.zeros((2, 3)), 1)[1],
          np.triu_indices_from(np.zeros((2, 3)), 1)[1])
    a = np.arange(20.).reshape(4, 5)
    ix = adv.ix_([0, 3], np.array([True, False, True, False, True]))
    close(fnp.asarray(a)[ix], a[np.ix_([0, 3], [True, False, True, False, True])])
    r = fg.jit(lambda a, i: a[adv.ix_(i, [1, 2])])(a, np.array([2, 0], np.int32))
    close(r, a[np.ix_([2, 0], [1, 2])])
    m = np.zeros((3, 3))
    close(fnp.asarray(m).at[adv.diag_indices(3)].set(1.), np.eye(3))


def test_diagonal_uses_take():
    a = np.arange(12.).reshape(3, 4)
    for off in (-1, 0, 2):
        close(fnp.diagonal(a, off), np.diagonal(a, off))
    check_grads(lambda a: fnp.diagonal(a, 1), (a,), 1)


# ----------------------------------------------------------------------------- registry specs

PRIMS = [gather_p, scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p,
         dynamic_slice_p, dynamic_update_slice_p]


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_primitive_test_specs(prim):
    spec = prim.test_spec
    assert "sample" in spec and prim.jvp is not None and prim.batch is not None
    rng = np.random.default_rng(0)
    args, params = spec["sample"](rng, np.float64)
    nondiff = spec.get("nondiff_args", ())
    out = prim.bind(*args, **params)
    aval = prim.abstract_eval(*[fg.core.abstract.ShapedArray(np.shape(a), np.asarray(a).dtype)
                                for a in args], **params)
    assert aval.shape == np.shape(out) and aval.dtype == A(out).dtype
    close(fg.jit(lambda *a: prim.bind(*a, **params))(*args), out)
    diff = [i for i in range(len(args)) if i not in nondiff]

    def f(*d):
        full = list(args)
        for i, v in zip(diff, d):
            full[i] = v
        return prim.bind(*full, **params)
    check_grads(f, tuple(args[i] for i in diff), 2 if prim.linear else 1)
    batched = [np.stack([a, a]) for a in args]
    out_b = fg.vmap(lambda *a: prim.bind(*a, **params))(*batched)
    close(out_b, np.stack([A(out), A(out)]))
