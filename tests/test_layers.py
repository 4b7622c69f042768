"""Tests of ``funcgrad.layers``: every layer and combinator of API.md against hand-written
NumPy references, parameter/output shapes from ``init_fun``, gradients (``check_grads`` in
float64), ``jit`` and ``vmap`` of every ``apply_fun``, Dropout and BatchNorm semantics,
``summary`` and error messages."""
import functools
import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import layers as L
from funcgrad import random, tree
from funcgrad.test_util import check_grads

KEY = random.key(0)


def _np(t):
    return tree.map(np.asarray, t)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _same_pads(in_sp, k, s):
    pads = []
    for n, kk, ss in zip(in_sp, k, s):
        o = -(-n // ss)
        total = max((o - 1) * ss + kk - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


# ----------------------------------------------------------------------------- references

def np_conv(x, w, strides, padding):
    """Loop-based channels-last convolution (cross-correlation): x (N, *sp, C), w (*k, C, O)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    nsp = x.ndim - 2
    ks = w.shape[:nsp]
    if padding == "SAME":
        pads = _same_pads(x.shape[1:-1], ks, strides)
    elif padding == "VALID":
        pads = [(0, 0)] * nsp
    else:
        pads = list(padding)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out_sp = [(xp.shape[1 + i] - ks[i]) // strides[i] + 1 for i in range(nsp)]
    out = np.zeros((x.shape[0], *out_sp, w.shape[-1]))
    for o in np.ndindex(*out_sp):
        for kk in np.ndindex(*ks):
            src = tuple(o[i] * strides[i] + kk[i] for i in range(nsp))
            out[(slice(None),) + o] += xp[(slice(None),) + src] @ w[kk]
    return out


def np_conv_transpose(x, w, strides, padding):
    """Scatter form of JAX/stax ``conv_transpose`` (kernel not flipped,
    ``transpose_kernel=False``): input pixel i feeds output ``i*s + lo - a`` through
    ``w[a]``, where ``lo`` is JAX's low padding of the dilated input."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    ks = w.shape[:2]
    los, lens = [], []
    for n, k, s in zip(x.shape[1:3], ks, strides):
        if padding == "SAME":
            total = k + s - 2
            lo = k - 1 if s > k - 1 else -(-total // 2)
        else:
            total = k + s - 2 + max(k - s, 0)
            lo = k - 1
        los.append(lo)
        lens.append((n - 1) * s + 1 + total - k + 1)
    out = np.zeros((x.shape[0], *lens, w.shape[-1]))
    for i, j in np.ndindex(*x.shape[1:3]):
        for a, b in np.ndindex(*ks):
            oi, oj = i * strides[0] + los[0] - a, j * strides[1] + los[1] - b
            if 0 <= oi < lens[0] and 0 <= oj < lens[1]:
                out[:, oi, oj] += x[:, i, j] @ w[a, b]
    return out


def np_pool(x, window, strides, padding, kind):
    """Loop-based pooling over the spatial dims of channels-last ``x``; padding is NaN and
    ignored, so average pooling divides by the number of real elements."""
    x = np.asarray(x, np.float64)
    nsp = x.ndim - 2
    if padding == "SAME":
        pads = _same_pads(x.shape[1:-1], window, strides)
    elif padding == "VALID":
        pads = [(0, 0)] * nsp
    else:
        pads = list(padding)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=np.nan)
    out_sp = [(xp.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(nsp)]
    out = np.zeros((x.shape[0], *out_sp, x.shape[-1]))
    red = {"max": np.nanmax, "avg": np.nanmean, "sum": np.nansum}[kind]
    for o in np.ndindex(*out_sp):
        sl = tuple(slice(o[i] * strides[i], o[i] * strides[i] + window[i]) for i in range(nsp))
        win = xp[(slice(None),) + sl]
        out[(slice(None),) + o] = red(win.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return out


def np_rnn(kind, params, x, hidden, return_sequences=True):
    """Python-loop SimpleRNN / LSTM (gates i, f, g, o) / GRU (r, z, n; reset after U)."""
    W, U, b = (np.asarray(p, np.float64) for p in params)
    x = np.asarray(x, np.float64)
    B, T, _ = x.shape
    h = np.zeros((B, hidden))
    c = np.zeros((B, hidden))
    hs = []
    for t in range(T):
        xt = x[:, t] @ W + b
        if kind == "simple":
            h = np.tanh(xt + h @ U)
        elif kind == "lstm":
            i, f, g, o = np.split(xt + h @ U, 4, axis=1)
            c = _sig(f) * c + _sig(i) * np.tanh(g)
            h = _sig(o) * np.tanh(c)
        else:
            xr, xz, xn = np.split(xt, 3, axis=1)
            hr, hz, hn = np.split(h @ U, 3, axis=1)
            r, z = _sig(xr + hr), _sig(xz + hz)
            n = np.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, 1) if return_sequences else hs[-1]


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_layernorm(p, x, eps=1e-5):
    beta, gamma = p
    m = x.mean(-1, keepdims=True)
    v = x.var(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


def np_batchnorm(p, x, mean=None, var=None, eps=1e-5):
    beta, gamma = p
    ax = tuple(range(x.ndim - 1))
    mean = x.mean(ax) if mean is None else mean
    var = x.var(ax) if var is None else var
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


# ----------------------------------------------------------------------------- the cases
# name -> (layer, input shape (concrete batch), reference(params, x), expected param shapes)

def _dense_ref(p, x):
    return x @ p[0] + p[1]


CASES = {
    "Dense": (lambda: L.Dense(5), (3, 4), _dense_ref, ((4, 5), (5,))),
    "Dense_rank3": (lambda: L.Dense(2), (2, 3, 4), _dense_ref, ((4, 2), (2,))),
    "Conv_valid": (lambda: L.Conv(4, (3, 3)), (2, 6, 5, 3),
                   lambda p, x: np_conv(x, p[0], (1, 1), "VALID") + p[1],
                   ((3, 3, 3, 4), (1, 1, 1, 4))),
    "Conv_same_strided": (lambda: L.Conv(3, (3, 2), strides=(2, 2), padding="SAME"),
                          (2, 7, 6, 2),
                          lambda p, x: np_conv(x, p[0], (2, 2), "SAME") + p[1],
                          ((3, 2, 2, 3), (1, 1, 1, 3))),
    "Conv_explicit_pad": (lambda: L.Conv(2, (2, 2), padding=((1, 0), (0, 2))), (1, 4, 4, 2),
                          lambda p, x: np_conv(x, p[0], (1, 1), [(1, 0), (0, 2)]) + p[1],
                          ((2, 2, 2, 2), (1, 1, 1, 2))),
    "Conv1D": (lambda: L.Conv1D(4, 3, padding="SAME"), (2, 7, 3),
               lambda p, x: np_conv(x, p[0], (1,), "SAME") + p[1], ((3, 3, 4), (1, 1, 4))),
    "Conv1D_strided": (lambda: L.Conv1D(2, (2,), strides=(2,)), (2, 7, 3),
                       lambda p, x: np_conv(x, p[0], (2,), "VALID") + p[1],
                       ((2, 3, 2), (1, 1, 2))),
    "ConvTranspose_valid": (lambda: L.ConvTranspose(3, (3, 3), strides=(2, 2)), (2, 3, 4, 2),
                            lambda p, x: np_conv_transpose(x, p[0], (2, 2), "VALID") + p[1],
                            ((3, 3, 2, 3), (1, 1, 1, 3))),
    "ConvTranspose_same": (lambda: L.ConvTranspose(2, (3, 3), strides=(2, 2), padding="SAME"),
                           (2, 3, 3, 2),
                           lambda p, x: np_conv_transpose(x, p[0], (2, 2), "SAME") + p[1],
                           ((3, 3, 2, 2), (1, 1, 1, 2))),
    "ConvTranspose_s1": (lambda: L.ConvTranspose(2, (2, 2)), (1, 3, 3, 2),
                         lambda p, x: np_conv_transpose(x, p[0], (1, 1), "VALID") + p[1],
                         ((2, 2, 2, 2), (1, 1, 1, 2))),
    "MaxPool": (lambda: L.MaxPool((2, 2)), (2, 6, 5, 3),
                lambda p, x: np_pool(x, (2, 2), (2, 2), "VALID", "max"), ()),
    "MaxPool_same_strided": (lambda: L.MaxPool((3, 3), (2, 2), "SAME"), (2, 5, 6, 2),
                             lambda p, x: np_pool(x, (3, 3), (2, 2), "SAME", "max"), ()),
    "AvgPool": (lambda: L.AvgPool((2, 2), (1, 1)), (2, 4, 5, 3),
                lambda p, x: np_pool(x, (2, 2), (1, 1), "VALID", "avg"), ()),
    "AvgPool_same": (lambda: L.AvgPool((3, 3), (2, 2), "SAME"), (2, 5, 6, 2),
                     lambda p, x: np_pool(x, (3, 3), (2, 2), "SAME", "avg"), ()),
    "AvgPool_explicit_pad": (lambda: L.AvgPool((2, 2), (1, 1), ((1, 1), (0, 1))), (1, 3, 3, 2),
                             lambda p, x: np_pool(x, (2, 2), (1, 1), [(1, 1), (0, 1)], "avg"),
                             ()),
    "AvgPool_1d": (lambda: L.AvgPool((3,), (1,), "SAME"), (2, 5, 3),
                   lambda p, x: np_pool(x, (3,), (1,), "SAME", "avg"), ()),
    "Flatten": (lambda: L.Flatten, (2, 3, 4, 2), lambda p, x: x.reshape(2, -1), ()),
    "Reshape": (lambda: L.Reshape((-1, 4)), (2, 3, 4, 2), lambda p, x: x.reshape(2, 6, 4), ()),
    "Identity": (lambda: L.Identity, (2, 3), lambda p, x: x, ()),
    "Relu": (lambda: L.Relu, (2, 5), lambda p, x: np.maximum(x, 0), ()),
    "Tanh": (lambda: L.Tanh, (2, 5), lambda p, x: np.tanh(x), ()),
    "Sigmoid": (lambda: L.Sigmoid, (2, 5), lambda p, x: _sig(x), ()),
    "Softmax": (lambda: L.Softmax, (2, 5), lambda p, x: np_softmax(x), ()),
    "LogSoftmax": (lambda: L.LogSoftmax, (2, 5), lambda p, x: np.log(np_softmax(x)), ()),
    "Gelu": (lambda: L.Gelu, (2, 5), lambda p, x: np_gelu(x), ()),
    "Dropout_eval": (lambda: L.Dropout(0.5), (2, 5), lambda p, x: x, ()),
    "LayerNorm": (lambda: L.LayerNorm(), (3, 6), np_layernorm, ((6,), (6,))),
    "BatchNorm_train": (lambda: L.BatchNorm(), (6, 4), np_batchnorm, ((4,), (4,))),
    "BatchNorm_train_nhwc": (lambda: L.BatchNorm(), (3, 2, 2, 4), np_batchnorm, ((4,), (4,))),
    "SimpleRNN": (lambda: L.SimpleRNN(3), (2, 4, 3),
                  lambda p, x: np_rnn("simple", p, x, 3), ((3, 3), (3, 3), (3,))),
    "LSTM": (lambda: L.LSTM(3), (2, 4, 2), lambda p, x: np_rnn("lstm", p, x, 3),
             ((2, 12), (3, 12), (12,))),
    "LSTM_last": (lambda: L.LSTM(3, return_sequences=False), (2, 4, 2),
                  lambda p, x: np_rnn("lstm", p, x, 3, False), ((2, 12), (3, 12), (12,))),
    "GRU": (lambda: L.GRU(3), (2, 4, 2), lambda p, x: np_rnn("gru", p, x, 3),
            ((2, 9), (3, 9), (9,))),
    "GRU_last": (lambda: L.GRU(2, return_sequences=False), (2, 3, 2),
                 lambda p, x: np_rnn("gru", p, x, 2, False), ((2, 6), (2, 6), (6,))),
    "serial": (lambda: L.serial(L.Dense(4), L.Relu, L.Dense(3)), (3, 2),
               lambda p, x: _dense_ref(p[2], np.maximum(_dense_ref(p[0], x), 0)),
               (((2, 4), (4,)), (), ((4, 3), (3,)))),
    "residual_FanOut_parallel_FanInSum": (
        lambda: L.serial(L.FanOut(2), L.parallel(L.Dense(2), L.Identity), L.FanInSum),
        (3, 2), lambda p, x: _dense_ref(p[1][0], x) + x, ((), (((2, 2), (2,)), ()), ())),
    "FanOut_parallel_FanInConcat": (
        lambda: L.serial(L.FanOut(2), L.parallel(L.Dense(2), L.Tanh), L.FanInConcat()),
        (3, 4), lambda p, x: np.concatenate([_dense_ref(p[1][0], x), np.tanh(x)], -1),
        ((), (((4, 2), (2,)), ()), ())),
    "nested_serial_cnn": (
        lambda: L.serial(L.serial(L.Conv(2, (3, 3), padding="SAME"), L.Relu),
                         L.MaxPool((2, 2)), L.Flatten, L.Dense(3)),
        (2, 4, 4, 1),
        lambda p, x: _dense_ref(p[3], np_pool(np.maximum(np_conv(x, p[0][0][0], (1, 1), "SAME")
                                                         + p[0][0][1], 0), (2, 2), (2, 2),
                                              "VALID", "max").reshape(2, -1)),
        ((((3, 3, 1, 2), (1, 1, 1, 2)), ()), (), (), ((8, 3), (3,)))),
}

INT_CASES = {  # integer inputs
    "Embedding": (lambda: L.Embedding(7, 3), (2, 5), lambda p, x: np.asarray(p)[x], (7, 3)),
}

GRAD_CASES = [n for n, c in CASES.items() if tree.leaves(c[3])] + [
    "MaxPool_same_strided", "AvgPool_same", "AvgPool_explicit_pad", "Relu", "Gelu",
    "Softmax", "LogSoftmax", "Sigmoid", "Tanh", "Flatten"]


def _make(name, dtype=np.float32, seed=0):
    make, shape, ref, pshapes = CASES[name]
    init_fun, apply_fun = make()
    out_shape, params = init_fun(KEY, shape)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return init_fun, apply_fun, out_shape, params, x, ref, pshapes


def _kwargs(name):
    return {"train": True} if name.startswith("BatchNorm_train") else {}


# ----------------------------------------------------------------------------- shapes and values

@pytest.mark.parametrize("name", list(CASES))
def test_shapes_and_values(name):
    init_fun, apply_fun, out_shape, params, x, ref, pshapes = _make(name)
    assert tree.map(np.shape, params) == pshapes
    y = apply_fun(params, x, **_kwargs(name))
    assert tuple(y.shape) == tuple(out_shape)
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.asarray(y), ref(_np(params), x.astype(np.float64)),
                               rtol=2e-5, atol=2e-5)
    # with the batch dimension left symbolic (-1), init gives the same shapes
    shape = CASES[name][1]
    out2, params2 = init_fun(KEY, (-1,) + tuple(shape[1:]))
    assert tuple(out2) == (-1,) + tuple(out_shape[1:])
    assert tree.map(np.shape, params2) == tree.map(np.shape, params)


@pytest.mark.parametrize("name", list(INT_CASES))
def test_integer_input_layers(name):
    make, shape, ref, pshape = INT_CASES[name]
    init_fun, apply_fun = make()
    out_shape, params = init_fun(KEY, shape)
    assert np.shape(params) == pshape
    ids = np.random.default_rng(0).integers(0, 7, shape).astype(np.int32)
    y = apply_fun(params, ids)
    assert tuple(y.shape) == out_shape
    np.testing.assert_array_equal(np.asarray(y), ref(params, ids))
    np.testing.assert_array_equal(np.asarray(fg.jit(apply_fun)(params, ids)), np.asarray(y))
    yv = fg.vmap(lambda i: apply_fun(params, i[None])[0])(ids)
    np.testing.assert_array_equal(np.asarray(yv), np.asarray(y))
    # gradients flow into the table (ids are closed over)
    g = fg.grad(lambda p: fnp.sum(apply_fun(p, ids) ** 2))(params)
    expect = np.zeros((7, 3))
    np.add.at(expect, ids, 2 * np.asarray(params)[ids])
    np.testing.assert_allclose(np.asarray(g), expect, rtol=1e-6)


def test_embedding_grads_x64(x64):
    init_fun, apply_fun = L.Embedding(5, 2)
    _, params = init_fun(KEY, (2, 3))
    ids = np.array([[0, 4, 4], [1, 0, 3]])
    check_grads(lambda p: apply_fun(p, ids), (params,), order=1)


def test_parallel_and_fanout_directly():
    init_fun, apply_fun = L.parallel(L.Dense(3), L.Relu, L.Dense(2))
    out, params = init_fun(KEY, ((-1, 4), (-1, 2), (-1, 5)))
    assert out == ((-1, 3), (-1, 2), (-1, 2))
    rng = np.random.default_rng(1)
    xs = (rng.standard_normal((2, 4)).astype(np.float32), rng.standard_normal((2, 2)),
          rng.standard_normal((2, 5)).astype(np.float32))
    ys = apply_fun(params, xs)
    assert isinstance(ys, tuple) and len(ys) == 3
    p = _np(params)
    np.testing.assert_allclose(np.asarray(ys[0]), _dense_ref(p[0], xs[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ys[1]), np.maximum(xs[1], 0))
    np.testing.assert_allclose(np.asarray(ys[2]), _dense_ref(p[2], xs[2]), rtol=1e-5, atol=1e-6)
    yj = fg.jit(apply_fun)(params, xs)
    for a, b in zip(yj, ys):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="parallel"):
        apply_fun(params, xs[:2])

    fo_init, fo_apply = L.FanOut(3)
    shapes, p = fo_init(KEY, (-1, 4))
    assert list(shapes) == [(-1, 4)] * 3 and p == ()
    outs = fo_apply((), xs[0])
    assert len(outs) == 3 and all(np.array_equal(np.asarray(o), xs[0]) for o in outs)

    s_init, s_apply = L.FanInSum
    assert s_init(KEY, [(-1, 4), (-1, 4)]) == ((-1, 4), ())
    np.testing.assert_allclose(np.asarray(s_apply((), [xs[0], 2 * xs[0]])), 3 * xs[0])
    c_init, c_apply = L.FanInConcat(axis=1)
    assert c_init(KEY, [(-1, 4), (-1, 5)]) == ((-1, 9), ())
    np.testing.assert_array_equal(np.asarray(c_apply((), [xs[0], xs[2]])),
                                  np.concatenate([xs[0], xs[2]], 1))


# ----------------------------------------------------------------------------- jit and vmap

@pytest.mark.parametrize("name", list(CASES))
def test_jit_matches_eager(name):
    _, apply_fun, _, params, x, _, _ = _make(name, seed=1)
    kw = _kwargs(name)
    y = apply_fun(params, x, **kw)
    yj = fg.jit(functools.partial(apply_fun, **kw))(params, x)
    np.testing.assert_allclose(np.asarray(yj), np.asarray(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("BatchNorm_train")])
def test_vmap_over_examples(name):
    """vmap of the per-example call (batch of one inside) equals the batched call."""
    _, apply_fun, _, params, x, _, _ = _make(name, seed=2)
    y = apply_fun(params, x)
    yv = fg.vmap(lambda xi: apply_fun(params, xi[None])[0])(x)
    np.testing.assert_allclose(np.asarray(yv), np.asarray(y), rtol=1e-5, atol=1e-6)
    # params passed through vmap unbatched (in_axes=None), under jit
    yvj = fg.jit(fg.vmap(lambda p, xi: apply_fun(p, xi[None])[0], in_axes=(None, 0)))(params, x)
    np.testing.assert_allclose(np.asarray(yvj), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_vmap_dense_without_batch_dim_and_over_params():
    init_fun, apply_fun = L.Dense(3)
    _, params = init_fun(KEY, (-1, 4))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fg.vmap(lambda xi: apply_fun(params, xi))(x)),
                               np.asarray(apply_fun(params, x)), rtol=1e-6, atol=1e-6)
    # an ensemble: vmap over stacked parameters
    keys = random.split(KEY, 3)
    stacked = fg.vmap(lambda k: init_fun(k, (-1, 4))[1])(keys)
    ys = fg.vmap(apply_fun, in_axes=(0, None))(stacked, x)
    for i in range(3):
        _, p_i = init_fun(keys[i], (-1, 4))
        np.testing.assert_allclose(np.asarray(ys[i]), np.asarray(apply_fun(p_i, x)),
                                   rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("name", GRAD_CASES)
def test_check_grads(name, x64):
    _, apply_fun, _, params, x, _, _ = _make(name, dtype=np.float64, seed=3)
    assert all(np.asarray(p).dtype == np.float64 for p in tree.leaves(params))
    kw = _kwargs(name)
    if "MaxPool" in name:   # keep window maxima well separated from the runners-up
        x = np.random.default_rng(3).permutation(x.size).reshape(x.shape) / x.size
    check_grads(lambda p, xx: apply_fun(p, xx, **kw), (params, x), order=1)


def test_check_grads_second_order_dense_lstm(x64):
    for name in ("serial", "LSTM_last"):
        _, apply_fun, _, params, x, _, _ = _make(name, dtype=np.float64, seed=4)
        check_grads(lambda p: fnp.sum(apply_fun(p, x) ** 2), (params,), order=2,
                    modes=("rev",))


def test_batchnorm_eval_grads(x64):
    init_fun, apply_fun = L.BatchNorm()
    _, params = init_fun(KEY, (-1, 3))
    state = {"mean": fnp.array([0.5, -1.0, 0.0]), "var": fnp.array([2.0, 0.5, 1.0])}
    x = np.random.default_rng(0).standard_normal((4, 3))
    check_grads(lambda p, xx: apply_fun(p, xx, state=state, train=False)[0], (params, x), 1)


# ----------------------------------------------------------------------------- dropout

def test_dropout_rate_is_drop_probability_and_scaling():
    init_fun, apply_fun = L.Dropout(0.3)
    out, params = init_fun(KEY, (-1, 400, 250))
    assert out == (-1, 400, 250) and params == ()
    x = np.ones((1, 400, 250), np.float32)
    y = np.asarray(apply_fun(params, x, rng=random.key(1), train=True))
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01, dropped             # rate = probability of dropping
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)  # inverted scaling
    assert abs(y.mean() - 1.0) < 0.02                     # mean preserved
    # deterministic in the key
    y2 = np.asarray(apply_fun(params, x, rng=random.key(1), train=True))
    np.testing.assert_array_equal(y, y2)
    y3 = np.asarray(apply_fun(params, x, rng=random.key(2), train=True))
    assert not np.array_equal(y, y3)
    # jit gives the same mask
    yj = fg.jit(lambda xx, k: apply_fun((), xx, rng=k, train=True))(x, random.key(1))
    np.testing.assert_array_equal(np.asarray(yj), y)


def test_dropout_identity_at_eval_and_errors():
    _, apply_fun = L.Dropout(0.5)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(apply_fun((), x)), x)
    np.testing.assert_array_equal(np.asarray(apply_fun((), x, rng=KEY, train=False)), x)
    with pytest.raises(ValueError, match="PRNG key"):
        apply_fun((), x, train=True)
    with pytest.raises(ValueError, match="probability of dropping"):
        L.Dropout(1.0)
    with pytest.raises(ValueError, match="probability of dropping"):
        L.Dropout(-0.1)
    with pytest.raises(TypeError, match="drop probability"):
        L.Dropout(0.5, mode="train")
    # rate 0 is the identity even when training
    np.testing.assert_array_equal(np.asarray(L.Dropout(0.0)[1]((), x, train=True)), x)


def test_dropout_gradient_and_serial_rng():
    _, apply_fun = L.Dropout(0.5)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    k = random.key(3)
    y = np.asarray(apply_fun((), x, rng=k, train=True))
    g = np.asarray(fg.grad(lambda xx: fnp.sum(apply_fun((), xx, rng=k, train=True)))(x))
    np.testing.assert_allclose(g, np.where(y != 0, 2.0, 0.0))
    # serial threads (split) keys; without rng a training serial with Dropout fails clearly
    init_fun, s_apply = L.serial(L.Dense(8), L.Dropout(0.5), L.Relu, L.Dropout(0.5))
    _, params = init_fun(KEY, (-1, 6))
    a = s_apply(params, x, rng=k, train=True)
    b = fg.jit(lambda p, xx, kk: s_apply(p, xx, rng=kk, train=True))(params, x, k)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    ev = s_apply(params, x)
    p = _np(params)
    np.testing.assert_allclose(np.asarray(ev), np.maximum(_dense_ref(p[0], x), 0),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="PRNG key"):
        s_apply(params, x, train=True)


# ----------------------------------------------------------------------------- batchnorm

def test_batchnorm_train_updates_running_stats():
    init_fun, apply_fun = L.BatchNorm(momentum=0.9)
    _, params = init_fun(KEY, (-1, 3))
    state = L.init_state(init_fun, (-1, 3))
    np.testing.assert_array_equal(np.asarray(state["mean"]), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(state["var"]), np.ones(3))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3)) * [1.0, 2.0, 0.5] + [3.0, -1.0, 0.0]).astype(np.float32)
    y, new = apply_fun(params, x, state=state, train=True)
    y = np.asarray(y)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)          # batch statistics
    np.testing.assert_allclose(y.var(0), 1, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(new["mean"]), 0.1 * x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(new["var"]), 0.9 + 0.1 * x.var(0), rtol=1e-5)
    assert new["mean"].dtype == np.float32 and new["var"].dtype == np.float32
    # no gradient flows into the statistics
    g = fg.grad(lambda xx: fnp.sum(apply_fun(params, xx, state=state, train=True)[1]["mean"]))(x)
    np.testing.assert_array_equal(np.asarray(g), 0)
    # eval mode uses the running statistics and leaves them alone
    ye, same = apply_fun(params, x, state=new, train=False)
    np.testing.assert_allclose(np.asarray(ye), np_batchnorm(_np(params), x, np.asarray(new["mean"]),
                                                            np.asarray(new["var"])),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(same["mean"]), np.asarray(new["mean"]))
    # eval mode is per example: vmap over examples (batch of one inside) = the batched call
    yv = fg.vmap(lambda xi: apply_fun(params, xi[None], state=new)[0][0])(x)
    np.testing.assert_allclose(np.asarray(yv), np.asarray(ye), rtol=1e-6, atol=1e-6)


def test_batchnorm_eval_without_state_is_a_clear_error():
    init_fun, apply_fun = L.BatchNorm()
    _, params = init_fun(KEY, (-1, 3))
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="running statistics.*init_state"):
        apply_fun(params, x)
    s_init, s_apply = L.serial(L.Dense(3), L.BatchNorm())
    _, sp = s_init(KEY, (-1, 3))
    with pytest.raises(ValueError, match="init_state"):
        s_apply(sp, x, train=False)


def test_batchnorm_options_and_nhwc():
    init_fun, apply_fun = L.BatchNorm(axis=(0, 1, 2), center=False)
    _, params = init_fun(KEY, (-1, 4, 4, 5))
    assert params[0] == () and np.shape(params[1]) == (5,)
    x = np.random.default_rng(0).standard_normal((3, 4, 4, 5)).astype(np.float32) * 3 + 1
    y = np.asarray(apply_fun(params, x, train=True))
    np.testing.assert_allclose(y.mean((0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var((0, 1, 2)), 1, rtol=1e-3)
    with pytest.raises(TypeError, match="feature shape"):
        apply_fun(params, x[..., :4], train=True)


def test_batchnorm_under_jit_threaded_through_serial():
    init_fun, apply_fun = L.serial(L.Dense(6), L.BatchNorm(momentum=0.5), L.Relu, L.Dense(2),
                                   L.BatchNorm(momentum=0.5))
    _, params = init_fun(KEY, (-1, 4))
    state = L.init_state(init_fun, (-1, 4))
    assert state[0] == () and state[2] == () and set(state[1]) == {"mean", "var"}
    assert L.init_state(L.Dense(3)[0], (-1, 4)) == ()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((8, 4)).astype(np.float32) + 2 for _ in range(3)]

    train = fg.jit(lambda p, s, x: apply_fun(p, x, state=s, train=True))
    evaluate = fg.jit(lambda p, s, x: apply_fun(p, x, state=s, train=False))
    s_eager, s_jit = state, state
    for x in xs:
        y_e, s_eager = apply_fun(params, x, state=s_eager, train=True)
        y_j, s_jit = train(params, s_jit, x)
        np.testing.assert_allclose(np.asarray(y_j), np.asarray(y_e), rtol=1e-5, atol=1e-5)
        assert tree.structure(s_jit) == tree.structure(state)
    for a, b in zip(tree.leaves(s_jit), tree.leaves(s_eager)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # the first BatchNorm's running mean moved towards the data (momentum 0.5, 3 steps)
    assert not np.allclose(np.asarray(s_jit[1]["mean"]), 0)
    y_eval, s_after = evaluate(params, s_jit, xs[0])
    for a, b in zip(tree.leaves(s_after), tree.leaves(s_jit)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # eval of the first BatchNorm = normalization by the running statistics
    h = _dense_ref(_np(params[0]), xs[0])
    bn = np_batchnorm(_np(params[1]), h, np.asarray(s_jit[1]["mean"]),
                      np.asarray(s_jit[1]["var"]))
    h2 = _dense_ref(_np(params[3]), np.maximum(bn, 0))
    expect = np_batchnorm(_np(params[4]), h2, np.asarray(s_jit[4]["mean"]),
                          np.asarray(s_jit[4]["var"]))
    np.testing.assert_allclose(np.asarray(y_eval), expect, rtol=1e-4, atol=1e-5)
    # gradients through the stateful model under jit
    def loss(p, s, x):
        y, s = apply_fun(p, x, state=s, train=True)
        return fnp.mean(y ** 2), s
    (l, s2), g = fg.jit(fg.value_and_grad(loss, has_aux=True))(params, state, xs[0])
    assert np.isfinite(float(l)) and tree.structure(g) == tree.structure(params)
    with pytest.raises(ValueError, match="one entry per layer"):
        apply_fun(params, xs[0], state=state[:3], train=True)


def test_stateless_model_accepts_its_empty_state():
    init_fun, apply_fun = L.serial(L.Dense(3), L.Relu)
    _, params = init_fun(KEY, (-1, 2))
    state = L.init_state(init_fun, (-1, 2))
    assert state == ()
    x = np.ones((2, 2), np.float32)
    y, s = apply_fun(params, x, state=state)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(apply_fun(params, x)))
    assert s == ()


def test_batchnorm_inside_parallel_threads_state():
    init_fun, apply_fun = L.serial(L.FanOut(2), L.parallel(L.BatchNorm(), L.Identity),
                                   L.FanInSum)
    _, params = init_fun(KEY, (-1, 3))
    state = L.init_state(init_fun, (-1, 3))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y, new = fg.jit(lambda p, s, xx: apply_fun(p, xx, state=s, train=True))(params, state, x)
    np.testing.assert_allclose(np.asarray(y), np_batchnorm(_np(params[1][0]), x) + x,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(new[1][0]["mean"]), 0.01 * x.mean(0), rtol=1e-4,
                               atol=1e-7)
    y_eval, _ = apply_fun(params, x, state=new)
    np.testing.assert_allclose(np.asarray(y_eval),
                               np_batchnorm(_np(params[1][0]), x, np.asarray(new[1][0]["mean"]),
                                            np.asarray(new[1][0]["var"])) + x,
                               rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- summary

def test_summary_table_and_counts():
    lines = []
    model = L.serial(L.Conv(8, (3, 3)), L.Relu, L.MaxPool((2, 2)), L.BatchNorm(), L.Flatten,
                     L.Dropout(0.5), L.Dense(10), L.LogSoftmax)
    total = L.summary(model[0], (-1, 8, 8, 1), print_fn=lines.append)
    text = "\n".join(lines)
    conv = 3 * 3 * 1 * 8 + 8
    bn = 2 * 8
    dense = 3 * 3 * 8 * 10 + 10
    assert total == conv + bn + dense == 826
    assert f"Total params: {total:,}" in text

    def row(name):
        found = [ln for ln in lines if ln.startswith(name)]
        assert len(found) == 1, (name, text)
        return found[0]

    assert "(None, 6, 6, 8)" in row("Conv(8, (3, 3))") and row("Conv(8").rstrip().endswith("80")
    assert row("Relu").rstrip().endswith(" 0")
    assert "(None, 3, 3, 8)" in row("MaxPool")
    assert row("BatchNorm").rstrip().endswith("16")
    assert "(None, 72)" in row("Flatten")
    assert row("Dropout(0.5)").rstrip().endswith(" 0")
    assert "(None, 10)" in row("Dense(10)") and row("Dense(10)").rstrip().endswith("730")
    assert "(None, 10)" in row("LogSoftmax")
    assert "Layer" in text and "Output shape" in text and "Params" in text


def test_summary_recurrent_and_branches():
    lines = []
    model = L.serial(L.Embedding(100, 16), L.LSTM(32), L.GRU(8, return_sequences=False),
                     L.FanOut(2), L.parallel(L.Dense(4), L.Dense(4)), L.FanInSum)
    total = L.summary(model[0], (-1, 12), print_fn=lines.append)
    lstm = 4 * 32 * (16 + 32) + 4 * 32
    gru = 3 * 8 * (32 + 8) + 3 * 8
    assert total == 100 * 16 + lstm + gru + 2 * (8 * 4 + 4)
    text = "\n".join(lines)
    assert "(None, 12, 32)" in text and "(None, 8)" in text
    assert "[(None, 8), (None, 8)]" in text and "-1" not in text


# ----------------------------------------------------------------------------- errors

def test_errors_for_wrong_ranks_and_shapes():
    x3 = np.zeros((6, 6, 3), np.float32)
    c_init, c_apply = L.Conv(4, (3, 3))
    with pytest.raises(TypeError, match="Conv expects inputs of rank 4"):
        c_init(KEY, (6, 6, 3))
    _, cp = c_init(KEY, (-1, 6, 6, 3))
    with pytest.raises(TypeError, match="Conv expects inputs of rank 4"):
        c_apply(cp, x3)
    with pytest.raises(TypeError, match="feature dimension"):
        c_apply(cp, np.zeros((1, 6, 6, 2), np.float32))
    with pytest.raises(TypeError, match="Conv1D expects inputs of rank 3"):
        L.Conv1D(2, 3)[0](KEY, (-1, 5, 6, 2))
    with pytest.raises(TypeError, match="ConvTranspose expects inputs of rank 4"):
        L.ConvTranspose(2, (2, 2))[0](KEY, (-1, 5, 2))
    p_init, p_apply = L.MaxPool((2, 2))
    for bad in ((6, 6, 3), (1, 6, 6, 3, 3)):
        with pytest.raises(TypeError, match="MaxPool.*rank 4"):
            p_init(KEY, bad)
        with pytest.raises(TypeError, match="MaxPool.*rank 4"):
            p_apply((), np.zeros(bad, np.float32))
    with pytest.raises(TypeError, match="AvgPool.*rank 4"):
        L.AvgPool((2, 2))[1]((), x3)
    d_init, d_apply = L.Dense(3)
    _, dp = d_init(KEY, (-1, 4))
    with pytest.raises(TypeError, match="Dense: input feature size 5"):
        d_apply(dp, np.zeros((2, 5), np.float32))
    for layer in (L.LSTM(3), L.GRU(3), L.SimpleRNN(3)):
        r_init, r_apply = layer
        with pytest.raises(TypeError, match="rank 3"):
            r_init(KEY, (-1, 4))
        _, rp = r_init(KEY, (-1, 5, 4))
        with pytest.raises(TypeError, match=r"\(batch, time, features\)"):
            r_apply(rp, np.zeros((5, 4), np.float32))
        with pytest.raises(TypeError, match="input feature size 3"):
            r_apply(rp, np.zeros((2, 5, 3), np.float32))
    with pytest.raises(TypeError, match="cannot reshape"):
        L.Reshape((5,))[0](KEY, (-1, 2, 3))
    e_init, e_apply = L.Embedding(10, 3)
    _, ep = e_init(KEY, (-1, 4))
    with pytest.raises(TypeError, match="integer ids"):
        e_apply(ep, np.zeros((2, 4), np.float32))
    s_init, s_apply = L.serial(L.Dense(3), L.Relu)
    _, sp = s_init(KEY, (-1, 4))
    with pytest.raises(ValueError, match="parameter groups"):
        s_apply(sp[:1], np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="at least one layer"):
        L.serial()
    with pytest.raises(ValueError, match="padding"):
        L.MaxPool((2, 2), padding="FULL")


def test_int_strides_and_filter_shapes():
    i1, a1 = L.Conv(2, 3, strides=2, padding="SAME")
    out, (w, b) = i1(KEY, (-1, 5, 5, 1))
    assert out == (-1, 3, 3, 2) and w.shape == (3, 3, 1, 2)
    x = np.random.default_rng(0).standard_normal((1, 5, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(a1((w, b), x)),
                               np_conv(x, w, (2, 2), "SAME") + np.asarray(b), rtol=1e-5,
                               atol=1e-6)
    out, _ = L.Conv1D(2, 3, strides=2)[0](KEY, (-1, 9, 1))
    assert out == (-1, 4, 2)
    out, _ = L.ConvTranspose(2, 3, strides=2, padding="SAME")[0](KEY, (-1, 4, 4, 1))
    assert out == (-1, 8, 8, 2)


def test_layers_are_pairs_and_parameterless_layers_are_not_constructors():
    for layer in (L.Relu, L.Tanh, L.Sigmoid, L.Softmax, L.LogSoftmax, L.Gelu, L.Flatten,
                  L.Identity, L.FanInSum):
        assert isinstance(layer, tuple) and len(layer) == 2
        assert all(callable(f) for f in layer)
    names = {L.Relu[0].layer_name, L.Tanh[0].layer_name, L.Identity[0].layer_name,
             L.Dropout(0.1)[0].layer_name, L.Gelu[0].layer_name}
    assert len(names) == 5          # shared init functions keep their own names
    assert math.isclose(float(L.Softmax[1]((), np.zeros((1, 4), np.float32)).sum()), 1.0,
                        rel_tol=1e-6)
