"""Differential testing: random programs (chains of elementwise ops, broadcasts,
reductions, reshapes, transposes and dots over random shapes) give bit-for-bit the same
results under ``jit`` as eagerly.  Some examples shrink the chunk size and the threading
threshold so that blocked and multi-threaded loops run on small arrays."""
import random

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.compiler import runtime


def _safe(v):
    return fnp.tanh(v)


UNARY = [
    lambda v: fnp.sin(v), lambda v: fnp.exp(_safe(v)), lambda v: fnp.tanh(v),
    lambda v: fnp.abs(v), lambda v: -v, lambda v: fnp.sqrt(fnp.abs(v)),
    lambda v: fnp.log1p(fnp.abs(v)), lambda v: v * v, lambda v: v ** 3,
    lambda v: fnp.floor(v * 3.0), lambda v: 1.0 / (1.0 + fnp.exp(-v)),
    lambda v: fnp.where(v > 0, v, 0.1 * v), lambda v: v.astype(np.float64) * 0.5,
    lambda v: fnp.maximum(v, 0.25), lambda v: (v * 4.0).astype(np.int32).astype(v.dtype),
]

BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
    lambda a, b: a / (fnp.abs(b) + 1.0), lambda a, b: fnp.maximum(a, b),
    lambda a, b: fnp.minimum(a, b), lambda a, b: fnp.where(a > b, a, b * 2.0),
    lambda a, b: fnp.arctan2(a, b + 3.0),
]


def _shape(v):
    return tuple(v.shape)


def _build(spec, scalars=True):
    """A function of the input arrays following the op list ``spec``."""
    def f(*inputs):
        vals = list(inputs)
        for code, seed in spec:
            r = random.Random(seed)
            a = vals[r.randrange(len(vals))]
            kind = code % 13
            if kind == 0:
                vals.append(UNARY[r.randrange(len(UNARY))](a))
            elif kind == 1:
                same = [v for v in vals if _shape(v) == _shape(a) and v.dtype == a.dtype]
                b = same[r.randrange(len(same))]
                if r.random() < 0.2 and scalars:
                    b = fnp.asarray(r.uniform(-2, 2), dtype=a.dtype)
                vals.append(BINARY[r.randrange(len(BINARY))](a, b))
            elif kind == 2 and a.ndim >= 1:
                ax = r.randrange(a.ndim)
                red = [fnp.sum, fnp.max, fnp.min, fnp.mean][r.randrange(4)]
                vals.append(red(a, axis=ax, keepdims=r.random() < 0.5))
            elif kind == 3 and a.ndim <= 2:
                vals.append(fnp.broadcast_to(a, (r.randrange(1, 4),) + _shape(a)) * 1.5)
            elif kind == 4 and a.ndim >= 2:
                perm = list(range(a.ndim))
                r.shuffle(perm)
                vals.append(fnp.transpose(a, perm))
            elif kind == 5 and a.ndim >= 1:
                if r.random() < 0.5:
                    vals.append(a.reshape(-1))
                else:
                    vals.append(a.reshape(_shape(a)[::-1]))
            elif kind == 6 and a.ndim == 2:
                vals.append(a @ fnp.transpose(a) if r.random() < 0.5 else
                            fnp.transpose(a) @ a)
            elif kind == 7 and a.ndim >= 1:
                # a value combined with a reduction of itself (softmax-like)
                ax = a.ndim - 1
                m = fnp.max(a, axis=ax, keepdims=True)
                e = fnp.exp(a - m)
                vals.append(e / fnp.sum(e, axis=ax, keepdims=True))
            elif kind == 8:
                vals.append(fnp.sum(a * a) + a)
            elif kind == 9 and a.ndim >= 1 and _shape(a)[0] >= 2:
                vals.append(a[::2] * 3.0 if r.random() < 0.5 else a[1:] - 1.0)
            elif kind == 10 and a.ndim == 3:
                vals.append(fnp.matmul(a, fnp.swapaxes(a, 1, 2)))
            elif kind == 11:
                m = (a > 0.3).astype(np.int32) * 3 - (a < -0.3).astype(np.int32)
                vals.append(fnp.where(m > 0, a, (m * 2).astype(a.dtype)))
            elif kind == 12 and a.ndim >= 1:
                vals.append(fnp.concatenate([a, a * 2.0], axis=0) + 1.0)
            else:
                vals.append(a * 2.0 + 1.0)
        return vals[-1], vals[len(inputs):][:3]
    return f


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind == "f":
        a_nan, b_nan = np.isnan(a), np.isnan(b)
        assert np.array_equal(a_nan, b_nan)
        assert np.array_equal(a.view(f"u{a.dtype.itemsize}")[~a_nan],
                              b.view(f"u{b.dtype.itemsize}")[~b_nan])
    else:
        assert np.array_equal(a, b)


shapes = st.lists(st.sampled_from([1, 2, 3, 4, 5, 7, 16]), min_size=0, max_size=3)
specs = st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 2 ** 20)), min_size=1,
                 max_size=9)


@given(shape=shapes, spec=specs, n_inputs=st.integers(1, 3), small_chunks=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float32, np.float64]))
def test_random_programs_jit_equals_eager(shape, spec, n_inputs, small_chunks, dtype):
    rng = np.random.default_rng(len(spec) * 7 + n_inputs)
    inputs = [fnp.asarray(rng.standard_normal(shape).astype(dtype)) for _ in range(n_inputs)]
    f = _build(spec)
    with np.errstate(all="ignore"):
        expect = f(*inputs)
    old = (runtime.CHUNK_BYTES, runtime.PARALLEL_MIN_ELEMENTS)
    if small_chunks:
        runtime.CHUNK_BYTES, runtime.PARALLEL_MIN_ELEMENTS = 32, 8
    try:
        with np.errstate(all="ignore"):
            got = fg.jit(f)(*inputs)
    finally:
        runtime.CHUNK_BYTES, runtime.PARALLEL_MIN_ELEMENTS = old
    le, te = fg.tree_util.tree_flatten(expect)
    lg, tg = fg.tree_util.tree_flatten(got)
    assert te == tg
    for e, g in zip(le, lg):
        _bits_equal(e, g)
        assert e.weak_type == g.weak_type


@given(spec=specs, seed=st.integers(0, 100))
def test_random_programs_under_grad(spec, seed):
    rng = np.random.default_rng(seed)
    x = fnp.asarray(rng.standard_normal((3, 4)).astype(np.float32))
    f = _build(spec)

    def loss(x):
        out, _ = f(x)
        return fnp.sum(fnp.tanh(out.astype(np.float32)))
    with np.errstate(all="ignore"):
        g_eager = fg.grad(loss)(x)
        g_jit = fg.jit(fg.grad(loss))(x)
    _bits_equal(g_eager, g_jit)


@pytest.mark.parametrize("shape", [(70000,), (3, 40000), (257, 300)])
def test_large_programs_with_default_chunks(shape):
    rng = np.random.default_rng(0)
    x = fnp.asarray(rng.standard_normal(shape).astype(np.float32))
    y = fnp.asarray(rng.standard_normal(shape).astype(np.float32))

    def f(x, y):
        z = fnp.tanh(x) * (1 / (1 + fnp.exp(-y))) + 0.5 * x * y
        return z, fnp.sum(z * z, axis=-1), fnp.max(fnp.abs(z), axis=0), fnp.sum(z)
    with np.errstate(all="ignore"):
        expect = f(x, y)
        got = fg.jit(f)(x, y)
    for e, g in zip(expect, got):
        _bits_equal(e, g)
