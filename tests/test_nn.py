"""Tests for ``funcgrad.nn`` (activations, softmax family, one_hot) and
``funcgrad.nn.initializers``.

Reference values: NumPy formulas (float64) and, for a few, numbers produced by JAX 0.10.2
(``jax.nn``) that are hard-coded below (JAX is never imported).
"""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn, random
from funcgrad.nn import initializers
from funcgrad.test_util import check_grads

# fmt: off
INIT_GOLDEN = {'glorot_uniform': [[0.32235187292099, 0.8788197040557861, -0.36506277322769165,
                     -0.10376865416765213],
                    [0.4275188744068146, 0.24243448674678802, -0.09526625275611877,
                     -0.1639050841331482],
                    [-0.7966422438621521, -0.7596684098243713, -0.23850280046463013,
                     0.6318743228912354]],
 'glorot_normal': [[0.2609083652496338, 1.0177783966064453, -0.2981925904750824,
                    -0.08172425627708435],
                   [0.35486385226249695, 0.19358323514461517, -0.07499244064092636,
                    -0.12967485189437866],
                   [-0.8172140717506409, -0.7505244016647339, -0.1903381645679474,
                    0.5696313977241516]],
 'he_normal_conv': [[[[0.34514930844306946, 1.3463943004608154, -0.3944717347621918]],
                     [[-0.10811103135347366, 0.469440758228302, 0.2560865581035614]]],
                    [[[-0.09920568019151688, -0.17154370248317719, -1.0810726881027222]],
                     [[-0.9928504824638367, -0.2517937421798706, 0.7535515427589417]]]],
 'lecun_uniform': [[0.34817981719970703, 0.9492337703704834, -0.39431285858154297,
                    -0.11208295822143555],
                   [0.461773157119751, 0.2618591785430908, -0.10289931297302246,
                    -0.17703771591186523],
                   [-0.8604719638824463, -0.8205356597900391, -0.2576124668121338,
                    0.682502269744873]],
 'normal': [0.22561757266521454, 0.9767254590988159, -0.25811973214149475, -0.07047014683485031,
            0.30774834752082825],
 'uniform': [1.348179817199707, 1.9492337703704834, 0.605687141418457, 0.8879170417785645,
             1.461773157119751]}
NN_JAX = {'relu': [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 3.0],
 'relu6': [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 3.0],
 'sigmoid': [0.04742587357759476, 0.2689414322376251, 0.3775406777858734, 0.5, 0.622459352016449,
             0.7310585975646973, 0.9525741338729858],
 'log_sigmoid': [-3.0485873222351074, -1.3132617473602295, -0.9740769863128662, -0.6931471824645996,
                 -0.4740769863128662, -0.3132616877555847, -0.04858735203742981],
 'softplus': [0.04858735203742981, 0.3132616877555847, 0.4740769863128662, 0.6931471824645996,
              0.9740769863128662, 1.3132617473602295, 3.0485873222351074],
 'soft_sign': [-0.75, -0.5, -0.3333333432674408, 0.0, 0.3333333432674408, 0.5, 0.75],
 'silu': [-0.14227762818336487, -0.2689414322376251, -0.1887703388929367, 0.0, 0.3112296760082245,
          0.7310585975646973, 2.857722282409668],
 'hard_tanh': [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0],
 'hard_sigmoid': [0.0, 0.3333333432674408, 0.4166666865348816, 0.5, 0.5833333730697632,
                  0.6666666865348816, 1.0],
 'hard_silu': [-0.0, -0.3333333432674408, -0.2083333432674408, 0.0, 0.2916666865348816,
               0.6666666865348816, 3.0],
 'selu': [-1.670568823814392, -1.1113307476043701, -0.6917582154273987, 0.0, 0.5253505110740662,
          1.0507010221481323, 3.1521029472351074],
 'elu': [-0.9502129554748535, -0.6321205496788025, -0.39346933364868164, 0.0, 0.5, 1.0, 3.0],
 'celu': [-0.9502129554748535, -0.6321205496788025, -0.39346933364868164, 0.0, 0.5, 1.0, 3.0],
 'leaky_relu': [-0.029999999329447746, -0.009999999776482582, -0.004999999888241291, 0.0, 0.5, 1.0,
                3.0],
 'gelu': [-0.003637343645095825, -0.15880796313285828, -0.1542859971523285, 0.0, 0.3457140028476715,
          0.8411920070648193, 2.9963626861572266],
 'gelu_exact': [-0.0040496960282325745, -0.15865527093410492, -0.1542687714099884, 0.0,
                0.3457312285900116, 0.8413447141647339, 2.995950222015381],
 'softmax': [0.0018804080318659544, 0.013894440606236458, 0.022908059880137444,
             0.037769004702568054, 0.06227055937051773, 0.10266679525375366, 0.758610725402832],
 'log_softmax': [-6.276266574859619, -4.276266574859619, -3.776266574859619, -3.276266574859619,
                 -2.776266574859619, -2.276266574859619, -0.27626651525497437],
 'glu': [-1.4621171951293945, -0.8807970285415649, 0.0]}
# fmt: on

F32 = np.float32


def _a(x):
    return np.asarray(x)


def _sig(x):
    return 1 / (1 + np.exp(-x))


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
REF = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "sigmoid": (nn.sigmoid, _sig),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    "tanh": (nn.tanh, np.tanh),
    "softplus": (nn.softplus, lambda x: np.logaddexp(0, x)),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "silu": (nn.silu, lambda x: x * _sig(x)),
    "swish": (nn.swish, lambda x: x * _sig(x)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "celu": (lambda x: nn.celu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(np.minimum(x, 0) / 2))),
    "selu": (nn.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0)))),
    "leaky_relu": (lambda x: nn.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "gelu": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: x * 0.5 * (1 + np.vectorize(__import__("math").erf)(x / np.sqrt(2)))),
}
GRID = np.array([-20.0, -5.0, -1.3, -0.4, 0.0, 0.3, 1.1, 4.0, 20.0])


@pytest.mark.parametrize("name", sorted(REF))
def test_activation_values(name):
    f, ref = REF[name]
    out = f(GRID.astype(F32))
    assert out.dtype == np.float32 and out.shape == GRID.shape
    np.testing.assert_allclose(_a(out), ref(GRID), rtol=2e-6, atol=2e-6)
    out64 = f(GRID)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(_a(out64), ref(GRID), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(set(NN_JAX) - {"softmax", "log_softmax", "glu"}))
def test_activation_values_match_jax(name):
    x = np.array([-3., -1., -0.5, 0., 0.5, 1., 3.], F32)
    f = {"gelu_exact": lambda v: nn.gelu(v, approximate=False)}.get(name, getattr(nn, name, None))
    np.testing.assert_allclose(_a(f(x)), np.asarray(NN_JAX[name], F32), rtol=1e-6, atol=1e-7)


# away from kinks (0 for relu-likes, +-1 for hard_tanh, -3/3 for hard_sigmoid, 6 for relu6)
GRAD_X = np.array([-2.2, -0.7, 0.35, 1.6, 2.4])


@pytest.mark.parametrize("name", sorted(REF))
def test_activation_grads(name):
    f, _ = REF[name]
    smooth = name not in ("relu", "relu6", "leaky_relu", "hard_tanh", "hard_sigmoid",
                          "hard_silu", "elu", "selu", "celu")
    check_grads(f, (GRAD_X,), order=2 if smooth else 1, modes=("fwd", "rev"))


def test_kink_conventions():
    d = lambda f, x: float(fg.grad(f)(x))
    assert d(nn.relu, 0.0) == 0.0 and d(nn.relu, 1.0) == 1.0 and d(nn.relu, -1.0) == 0.0
    assert d(nn.relu6, 0.0) == 0.0 and d(nn.relu6, 6.0) == 0.0 and d(nn.relu6, 3.0) == 1.0
    assert d(nn.leaky_relu, 0.0) == 1.0 and abs(d(nn.leaky_relu, -1.0) - 0.01) < 1e-7
    assert d(nn.softplus, 0.0) == 0.5
    # relu keeps integer inputs integer
    assert nn.relu(fnp.array([-1, 2])).dtype == np.int32


BIG = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], F32)
STABLE = {
    "sigmoid": nn.sigmoid, "log_sigmoid": nn.log_sigmoid, "softplus": nn.softplus,
    "silu": nn.silu, "gelu": nn.gelu, "gelu_exact": lambda x: nn.gelu(x, approximate=False),
    "elu": nn.elu, "celu": nn.celu, "selu": nn.selu, "soft_sign": nn.soft_sign,
    "tanh": nn.tanh, "relu": nn.relu, "leaky_relu": nn.leaky_relu, "hard_silu": nn.hard_silu,
    "softmax": lambda x: nn.softmax(x), "log_softmax": lambda x: nn.log_softmax(x),
    "logsumexp": lambda x: nn.logsumexp(x), "standardize": nn.standardize,
}


@pytest.mark.parametrize("name", sorted(STABLE))
def test_stable_at_extremes(name):
    f = STABLE[name]
    y = _a(f(BIG))
    assert np.all(np.isfinite(y)), (name, y)
    g = _a(fg.grad(lambda x: fnp.sum(f(x) * fnp.arange(1.0, 8.0)))(BIG))
    assert np.all(np.isfinite(g)), (name, g)


def test_extreme_values():
    np.testing.assert_array_equal(_a(nn.sigmoid(BIG))[[0, -1]], [0.0, 1.0])
    np.testing.assert_allclose(_a(nn.softplus(BIG)), np.logaddexp(0, BIG.astype(float)), rtol=1e-6,
                               atol=1e-37)
    np.testing.assert_allclose(_a(nn.log_sigmoid(BIG)), -np.logaddexp(0, -BIG.astype(float)), atol=1e-37,
                               rtol=1e-6)
    np.testing.assert_allclose(_a(nn.log_softmax(BIG)), BIG - 1e4, rtol=1e-6)
    np.testing.assert_allclose(float(nn.logsumexp(BIG)), 1e4, rtol=1e-7)
    np.testing.assert_allclose(_a(fg.grad(lambda x: nn.logsumexp(x))(BIG)),
                               [0, 0, 0, 0, 0, 0, 1], atol=1e-7)
    assert float(fg.grad(lambda x: nn.log_sigmoid(x))(-1e4)) == 1.0


# ----------------------------------------------------------------------------- softmax family

def _np_logsumexp(a, axis=None, b=None, keepdims=False):
    a = np.asarray(a, float)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(a - m) if b is None else b * np.exp(a - m)
    s = np.sum(e, axis=axis, keepdims=True)
    out = np.log(np.abs(s)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def test_softmax_and_log_softmax():
    x = np.random.default_rng(0).normal(size=(3, 4, 5)) * 3
    for axis in (-1, 0, 1, (0, 2), None):
        ax = axis
        ref = np.exp(x - _np_logsumexp(x, axis=ax if not isinstance(ax, tuple) else ax,
                                       keepdims=True))
        np.testing.assert_allclose(_a(nn.softmax(x, axis)), ref, rtol=1e-12)
        np.testing.assert_allclose(_a(nn.log_softmax(x, axis)), np.log(ref), rtol=1e-12,
                                   atol=1e-12)
    np.testing.assert_allclose(_a(nn.softmax(x.astype(F32))).sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(_a(nn.softmax(np.array([-3., -1., -0.5, 0., 0.5, 1., 3.], F32))),
                               NN_JAX["softmax"], rtol=1e-6)
    np.testing.assert_allclose(_a(nn.log_softmax(np.array([-3., -1., -0.5, 0., 0.5, 1., 3.], F32))),
                               NN_JAX["log_softmax"], rtol=1e-6)
    y = _a(nn.softmax(np.array([0.0, -np.inf, 1.0])))
    assert y[1] == 0 and np.isclose(y.sum(), 1)
    g = _a(fg.grad(lambda v: nn.softmax(v)[0])(np.array([0.0, -np.inf, 1.0])))
    assert np.all(np.isfinite(g))
    check_grads(lambda v: nn.softmax(v, axis=1), (x[:2, :3, 0],), order=2)
    check_grads(lambda v: nn.log_softmax(v, axis=0), (x[:2, :3, 0],), order=2)


def test_logsumexp():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 4))
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            np.testing.assert_allclose(_a(nn.logsumexp(a, axis=axis, keepdims=keepdims)),
                                       _np_logsumexp(a, axis, keepdims=keepdims), rtol=1e-12)
    b = rng.uniform(0.5, 2, size=(3, 4))
    np.testing.assert_allclose(_a(nn.logsumexp(a, axis=1, b=b)), _np_logsumexp(a, 1, b),
                               rtol=1e-12)
    out, sign = nn.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0]), return_sign=True)
    np.testing.assert_allclose(float(out), np.log(np.e ** 2 - np.e), rtol=1e-12)
    assert float(sign) == -1.0
    assert np.isnan(float(nn.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0]))))
    assert float(nn.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    assert float(nn.logsumexp(np.array([np.inf, 0.0]))) == np.inf
    check_grads(lambda v: nn.logsumexp(v, axis=0), (a,), order=2)
    check_grads(lambda v, w: nn.logsumexp(v, axis=1, b=w), (a, b), order=1)


def test_standardize_glu_one_hot():
    x = np.random.default_rng(2).normal(size=(4, 6)) * 5 + 3
    s = _a(nn.standardize(x, axis=1))
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(s, ref, rtol=1e-10)
    assert nn.normalize is nn.standardize
    check_grads(lambda v: nn.standardize(v, axis=0), (x[:3, :2],), order=1)
    g = _a(nn.glu(np.arange(6.0, dtype=F32) - 2))
    np.testing.assert_allclose(g, NN_JAX["glu"], rtol=1e-6)
    np.testing.assert_allclose(_a(nn.glu(x, axis=0)), x[:2] * _sig(x[2:]), rtol=1e-12)
    with pytest.raises(ValueError, match="even"):
        nn.glu(np.ones(3))
    oh = nn.one_hot(fnp.array([0, 2, -1, 5]), 3)
    assert oh.dtype == np.float32
    np.testing.assert_array_equal(_a(oh), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    oh0 = nn.one_hot(fnp.array([[1, 0]]), 2, dtype=np.int32, axis=0)
    assert oh0.shape == (2, 1, 2) and oh0.dtype == np.int32
    np.testing.assert_array_equal(_a(oh0)[:, 0, :], [[0, 1], [1, 0]])
    with pytest.raises(TypeError, match="integer"):
        nn.one_hot(np.array([0.0, 1.0]), 2)
    # one_hot under jit and vmap
    np.testing.assert_array_equal(_a(fg.jit(lambda i: nn.one_hot(i, 4))(fnp.array([3, 1]))),
                                  np.eye(4)[[3, 1]])
    np.testing.assert_array_equal(_a(fg.vmap(lambda i: nn.one_hot(i, 4))(fnp.array([3, 1]))),
                                  np.eye(4)[[3, 1]])


ALL = dict({k: v[0] for k, v in REF.items()},
           softmax=nn.softmax, log_softmax=nn.log_softmax,
           logsumexp=lambda x: nn.logsumexp(x, axis=-1), standardize=nn.standardize,
           glu=nn.glu)


@pytest.mark.parametrize("name", sorted(ALL))
def test_jit_and_vmap(name):
    f = ALL[name]
    x = np.random.default_rng(3).normal(size=(3, 4)).astype(F32) * 3
    eager = _a(f(x))
    np.testing.assert_allclose(_a(fg.jit(f)(x)), eager, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_a(fg.vmap(f)(x)), np.stack([_a(f(r)) for r in x]),
                               rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- initializers

@pytest.mark.parametrize("name,init,shape", [
    ("glorot_uniform", initializers.glorot_uniform(), (3, 4)),
    ("glorot_normal", initializers.glorot_normal(), (3, 4)),
    ("he_normal_conv", initializers.he_normal(), (2, 2, 1, 3)),
    ("lecun_uniform", initializers.lecun_uniform(), (3, 4)),
    ("normal", initializers.normal(0.5), (5,)),
    ("uniform", initializers.uniform(2.0), (5,)),
])
def test_initializers_match_jax(name, init, shape):
    out = init(random.key(7), shape)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_array_equal(_a(out), np.asarray(INIT_GOLDEN[name], F32))


def _fans(shape):
    rf = int(np.prod(shape[:-2]))
    return shape[-2] * rf, shape[-1] * rf


@pytest.mark.parametrize("shape", [(400, 300), (3, 3, 64, 48)])
@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_uniform", 1.0, "avg"), ("glorot_normal", 1.0, "avg"),
    ("he_uniform", 2.0, "in"), ("he_normal", 2.0, "in"),
    ("lecun_uniform", 1.0, "in"), ("lecun_normal", 1.0, "in"),
])
def test_initializer_std_matches_fan_formula(shape, name, scale, mode):
    w = _a(getattr(initializers, name)()(random.key(1), shape))
    assert w.shape == shape and w.dtype == np.float32
    fan_in, fan_out = _fans(shape)
    n = fan_in if mode == "in" else (fan_in + fan_out) / 2
    expected = np.sqrt(scale / n)
    assert abs(w.std() / expected - 1) < 0.03, (w.std(), expected)
    assert abs(w.mean()) < 0.05 * expected
    if "normal" in name:      # truncated at 2 standard deviations (before rescaling)
        assert np.abs(w).max() <= 2 * expected / 0.87962566103423978 + 1e-6
    else:
        assert np.abs(w).max() <= np.sqrt(3) * expected + 1e-6


def test_variance_scaling_modes_and_axes():
    vs = initializers.variance_scaling
    w = _a(vs(3.0, "fan_out", "normal")(random.key(2), (200, 500)))
    assert abs(w.std() / np.sqrt(3.0 / 500) - 1) < 0.03
    w = _a(vs(1.0, "fan_geo_avg", "uniform")(random.key(2), (100, 400)))
    assert abs(w.std() / np.sqrt(1.0 / 200) - 1) < 0.03
    # custom axes: kernel (out, in) with in_axis=1, out_axis=0
    w = _a(vs(1.0, "fan_in", "normal", in_axis=1, out_axis=0)(random.key(2), (50, 800)))
    assert abs(w.std() / np.sqrt(1.0 / 800) - 1) < 0.04
    assert initializers.xavier_uniform is initializers.glorot_uniform
    assert initializers.kaiming_normal is initializers.he_normal
    w16 = initializers.he_normal(dtype=np.float16)(random.key(2), (4, 4))
    assert w16.dtype == np.float16
    assert initializers.glorot_uniform()(random.key(2), (4, 4), np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="mode"):
        vs(1.0, "fan_middle", "normal")
    with pytest.raises(ValueError, match="distribution"):
        vs(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="in_axis"):
        initializers.glorot_uniform()(random.key(2), (5,))
    with pytest.raises(ValueError, match="floating"):
        initializers.glorot_uniform()(random.key(2), (3, 3), np.int32)


def test_zeros_ones_constant_orthogonal():
    k = random.key(3)
    z = initializers.zeros(k, (2, 3))
    assert z.shape == (2, 3) and z.dtype == np.float32 and not _a(z).any()
    o = initializers.ones(k, (2,), np.int32)
    assert o.dtype == np.int32 and _a(o).tolist() == [1, 1]
    c = initializers.constant(-0.5)(k, (2, 2))
    np.testing.assert_array_equal(_a(c), np.full((2, 2), -0.5, F32))
    for shape in [(5, 5), (6, 3), (3, 6), (3, 3, 4, 8)]:
        q = _a(initializers.orthogonal(scale=2.0)(k, shape)).reshape(-1, shape[-1])
        small = min(q.shape)
        gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)
    q = initializers.orthogonal(column_axis=0)(k, (4, 6))
    assert q.shape == (4, 6)
    np.testing.assert_allclose(_a(q) @ _a(q).T, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="2-d"):
        initializers.orthogonal()(k, (4,))
    # initializers work under jit (shape static) and vmap over keys
    f = fg.jit(lambda key: initializers.he_uniform()(key, (3, 2)))
    np.testing.assert_array_equal(_a(f(k)), _a(initializers.he_uniform()(k, (3, 2))))
    ks = random.split(k, 2)
    v = fg.vmap(lambda key: initializers.lecun_normal()(key, (3, 2)))(ks)
    np.testing.assert_array_equal(_a(v)[1], _a(initializers.lecun_normal()(ks[1], (3, 2))))
