"""Tests for ``funcgrad.random`` and the ``threefry2x32`` primitive.

Golden values were produced with JAX 0.10.2 on CPU (``jax_threefry_partitionable=True``,
its default) by ``jax.random`` with the same seeds; they are hard-coded here (JAX is never
imported).  ``crc_*`` entries are CRC-32s of the raw bytes of large draws.
"""
import math
import zlib

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax, random
from funcgrad.test_util import check_grads

# fmt: off
GOLDEN = {'key_0': [0, 0],
 'key_42': [0, 42],
 'key_m1': [0, 4294967295],
 'key_big': [0, 5],
 'split_42_3': [[1832780943, 270669613], [64467757, 2916123636], [2465931498, 255383827]],
 'split_0_2x2': [[[1797259609, 2579123966], [928981903, 3453687069]],
                 [[4146024105, 2718843009], [2467461003, 3840466878]]],
 'fold_42_7': [2547012911, 1371500959],
 'fold_0_max': [743310391, 3789761811],
 'bits_42_u32': [2098992034, 2919706841, 2646866425, 2409546199, 1935504149, 2516274904],
 'bits_42_u8': [162, 217, 249, 215],
 'bits_42_u16': [5026, 12505, 63993, 49623],
 'uniform_42': [0.48870956897735596, 0.6797971725463867, 0.6162714958190918, 0.5610160827636719,
                0.4506446123123169, 0.58586585521698],
 'uniform_42_f16': [0.076171875, 0.1904296875, 0.9755859375, 0.7568359375],
 'uniform_42_range': [3.630643367767334, 6.496957778930664, 5.544072151184082, 4.715241432189941,
                      3.059669017791748, 5.087987899780273],
 'normal_42': [-0.02830461598932743, 0.4671318531036377, 0.2957029640674591, 0.15354591608047485,
               -0.12403281778097153, 0.21692314743995667, -1.440878987312317, 0.755859911441803],
 'normal_0_2x3': [[1.622642159461975, 2.0252647399902344, -0.4335944354534149],
                  [-0.07861734926700592, 0.17609089612960815, -0.9720892310142517]],
 'normal_42_f16': [-1.4296875, -0.87548828125, 1.974609375, 0.69677734375],
 'normal_42_c64': [[0.05368746072053909, -0.34389618039131165, 0.9123944640159607],
                   [0.4283398389816284, 0.5650094747543335, -0.6427084803581238]],
 'truncated_normal_42': [0.16821713745594025, 0.6018943190574646, 0.4491138160228729,
                         0.32439231872558594, 0.08785588294267654, 0.37974435091018677],
 'bernoulli_42': [False, False, False, False, False, False, True, False, False, False, False,
                  False],
 'gumbel_42': [0.3340933918952942, 0.952019453048706, 0.7255305647850037, 0.5481715202331543,
               0.2268049567937851],
 'exponential_42': [0.670817494392395, 1.1388006210327148, 0.9578199982643127, 0.8232924938201904,
                    0.5990096926689148],
 'laplace_42': [0.022839652374386787, -0.4456535577774048, -0.2646729052066803, -0.1301453858613968,
                0.10392900556325912],
 'logistic_42': [-0.0451694130897522, 0.7528398036956787, 0.47375231981277466, 0.245286762714386,
                 -0.19806653261184692],
 'randint_42': [4, 4, 1, 9, 9, 9, 7, 7, 4, 6],
 'randint_42_wide': [38848551, 50504059, 39623393, 16867316, 105204654, 6087320],
 'randint_42_u8': [196, 18, 183, 193, 141, 107],
 'categorical_42': [3, 3, 3, 3, 3, 3, 1, 1, 1, 1],
 'permutation_42': [7, 4, 2, 5, 3, 6, 8, 9, 0, 1],
 'permutation_42_2d': [[2, 3, 0, 1], [6, 7, 4, 5], [10, 11, 8, 9]],
 'choice_42': [4, 4, 1, 9, 9],
 'choice_42_noreplace': [7, 4, 2, 5, 3],
 'choice_42_p': [2, 2, 2, 2, 2, 2, 3, 1],
 'crc_bits_0_100k': 2518341235,
 'crc_uniform_0_100k': 1790955619,
 'crc_normal_0_100k': 786919929,
 'crc_normal_7_300x300': 3124379472,
 'crc_uniform_range_1_100k': 2756564061,
 'x64_key_m1': [4294967295, 4294967295],
 'x64_key_big': [1, 5],
 'x64_bits_42_u64': [7871734211187709741, 276886910877598708, 10591095138341673235],
 'x64_uniform_42_f64': [0.4267275666499091, 0.015010069515314584, 0.5741444178995352,
                        0.7298188969046309],
 'x64_randint_42_i64': [1035216336437, 739902740158, 138006711447, 1022492192815]}
# fmt: on

F32 = np.float32


def _a(x):
    return np.asarray(x)


def _crc(x):
    return zlib.crc32(np.ascontiguousarray(np.asarray(x)).tobytes())


K0, K42 = random.key(0), random.key(42)
LOGITS4 = np.log(np.array([0.1, 0.2, 0.3, 0.4], F32))

# name -> (function producing the value, expected dtype)
CASES = {
    "key_0": (lambda: random.key(0), np.uint32),
    "key_42": (lambda: random.PRNGKey(42), np.uint32),
    "key_m1": (lambda: random.key(-1), np.uint32),
    "key_big": (lambda: random.key(2 ** 32 + 5), np.uint32),
    "split_42_3": (lambda: random.split(K42, 3), np.uint32),
    "split_0_2x2": (lambda: random.split(K0, (2, 2)), np.uint32),
    "fold_42_7": (lambda: random.fold_in(K42, 7), np.uint32),
    "fold_0_max": (lambda: random.fold_in(K0, 2 ** 32 - 1), np.uint32),
    "bits_42_u32": (lambda: random.bits(K42, (6,)), np.uint32),
    "bits_42_u8": (lambda: random.bits(K42, (4,), np.uint8), np.uint8),
    "bits_42_u16": (lambda: random.bits(K42, (4,), np.uint16), np.uint16),
    "uniform_42": (lambda: random.uniform(K42, (6,)), np.float32),
    "uniform_42_f16": (lambda: random.uniform(K42, (4,), np.float16), np.float16),
    "uniform_42_range": (lambda: random.uniform(K42, (6,), minval=-3.7, maxval=11.3),
                         np.float32),
    "normal_42": (lambda: random.normal(K42, (8,)), np.float32),
    "normal_0_2x3": (lambda: random.normal(K0, (2, 3)), np.float32),
    "normal_42_f16": (lambda: random.normal(K42, (4,), np.float16), np.float16),
    "bernoulli_42": (lambda: random.bernoulli(K42, 0.3, (12,)), np.bool_),
    "gumbel_42": (lambda: random.gumbel(K42, (5,)), np.float32),
    "exponential_42": (lambda: random.exponential(K42, (5,)), np.float32),
    "laplace_42": (lambda: random.laplace(K42, (5,)), np.float32),
    "logistic_42": (lambda: random.logistic(K42, (5,)), np.float32),
    "randint_42": (lambda: random.randint(K42, (10,), 0, 10), np.int32),
    "randint_42_wide": (lambda: random.randint(K42, (6,), -1000, 123456789), np.int32),
    "randint_42_u8": (lambda: random.randint(K42, (6,), 0, 256, np.uint8), np.uint8),
    "categorical_42": (lambda: random.categorical(K42, LOGITS4, shape=(10,)), np.int32),
    "permutation_42": (lambda: random.permutation(K42, 10), np.int32),
    "permutation_42_2d": (lambda: random.permutation(K42, fnp.arange(12).reshape(3, 4),
                                                     axis=1), np.int32),
    "choice_42": (lambda: random.choice(K42, 10, (5,)), np.int32),
    "choice_42_noreplace": (lambda: random.choice(K42, 10, (5,), replace=False), np.int32),
    "choice_42_p": (lambda: random.choice(K42, 4, (8,), p=np.array([0.1, 0.2, 0.3, 0.4],
                                                                     F32)), np.int32),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bit_exact(name):
    fn, dt = CASES[name]
    out = fn()
    assert isinstance(out, fg.Array)
    assert out.dtype == np.dtype(dt), (name, out.dtype)
    np.testing.assert_array_equal(_a(out), np.asarray(GOLDEN[name], dtype=dt))


def test_golden_complex_normal():
    z = random.normal(K42, (3,), np.complex64)
    assert z.dtype == np.complex64
    re, im = GOLDEN["normal_42_c64"]
    np.testing.assert_array_equal(_a(z).real, np.asarray(re, F32))
    np.testing.assert_array_equal(_a(z).imag, np.asarray(im, F32))


def test_golden_truncated_normal_close():
    # XLA's erf(bound) and fusion choices make JAX's own stream depend on context: agree
    # to a few ulp, not bit for bit (see the module docstring of funcgrad.random).
    out = random.truncated_normal(K42, -1.0, 2.5, (6,))
    np.testing.assert_allclose(_a(out), np.asarray(GOLDEN["truncated_normal_42"], F32),
                               rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name,fn", [
    ("crc_bits_0_100k", lambda: random.bits(K0, (100000,))),
    ("crc_uniform_0_100k", lambda: random.uniform(K0, (100000,))),
    ("crc_normal_0_100k", lambda: random.normal(K0, (100000,))),
    ("crc_normal_7_300x300", lambda: random.normal(random.key(7), (300, 300))),
    ("crc_uniform_range_1_100k", lambda: random.uniform(random.key(1), (100000,),
                                                        minval=-2.5, maxval=0.75)),
])
def test_golden_large_streams(name, fn):
    assert _crc(fn()) == GOLDEN[name]


def test_golden_x64(x64):
    np.testing.assert_array_equal(_a(random.key(-1)), GOLDEN["x64_key_m1"])
    np.testing.assert_array_equal(_a(random.key(2 ** 32 + 5)), GOLDEN["x64_key_big"])
    b = random.bits(K42, (3,))
    assert b.dtype == np.uint64
    np.testing.assert_array_equal(_a(b), np.asarray(GOLDEN["x64_bits_42_u64"], np.uint64))
    u = random.uniform(K42, (4,))
    assert u.dtype == np.float64
    np.testing.assert_array_equal(_a(u), np.asarray(GOLDEN["x64_uniform_42_f64"]))
    r = random.randint(K42, (4,), 0, 2 ** 40, np.int64)
    np.testing.assert_array_equal(_a(r), np.asarray(GOLDEN["x64_randint_42_i64"], np.int64))


# ----------------------------------------------------------------------------- the primitive

@pytest.mark.parametrize("key,ctr,expected", [
    # Known-answer tests of Random123 (threefry2x32, 20 rounds)
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_known_answers(key, ctr, expected):
    u = np.uint32
    y0, y1 = lax.threefry2x32(u(key[0]), u(key[1]), u(ctr[0]), u(ctr[1]))
    assert (int(y0), int(y1)) == expected
    assert y0.dtype == np.uint32 and y0.shape == ()


def test_threefry_broadcasting_jit_vmap():
    rng = np.random.default_rng(0)
    ks = rng.integers(0, 2 ** 32, (5, 2), dtype=np.uint64).astype(np.uint32)
    x = rng.integers(0, 2 ** 32, (2, 7), dtype=np.uint64).astype(np.uint32)
    loop = [lax.threefry2x32(k[0], k[1], x[0], x[1]) for k in ks]
    f = lambda k: lax.threefry2x32(k[0], k[1], x[0], x[1])
    v0, v1 = fg.vmap(f)(ks)
    np.testing.assert_array_equal(_a(v0), np.stack([_a(a) for a, _ in loop]))
    np.testing.assert_array_equal(_a(v1), np.stack([_a(b) for _, b in loop]))
    j0, j1 = fg.jit(f)(ks[0])
    np.testing.assert_array_equal(_a(j0), _a(loop[0][0]))
    # scalar counters broadcast against an array of keys
    y0, _ = lax.threefry2x32(ks[:, 0], ks[:, 1], np.uint32(3), np.uint32(4))
    assert y0.shape == (5,)
    assert "threefry2x32" in str(fg.make_jaxpr(lambda k: random.bits(k, (3,)))(K0))


def test_threefry_errors_and_zero_derivative():
    with pytest.raises(TypeError, match="uint32"):
        lax.threefry2x32(np.int32(0), np.uint32(0), np.uint32(0), np.uint32(0))
    with pytest.raises(TypeError, match="broadcast"):
        lax.threefry2x32(np.uint32(0), np.uint32(0), np.zeros(3, np.uint32),
                         np.zeros(4, np.uint32))
    with pytest.raises(TypeError, match="bit_width"):
        lax.threefry_random_bits(K0, 12, (3,))
    # keys are not differentiable; a sample is a constant w.r.t. float inputs it ignores
    g = fg.grad(lambda x: x * random.uniform(K0))(1.0)
    assert float(g) == float(random.uniform(K0))


# ----------------------------------------------------------------------------- keys

def test_key_errors():
    with pytest.raises(TypeError, match="uint32"):
        random.uniform(np.array([0, 1], np.int32))
    with pytest.raises(TypeError, match="PRNG key"):
        random.normal([0, 1])
    with pytest.raises(ValueError, match="vmap"):
        random.normal(random.split(K0, 3))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        random.uniform(np.zeros(3, np.uint32))
    with pytest.raises(TypeError, match="scalar seed"):
        random.key(np.arange(3))
    with pytest.raises(TypeError, match="integer"):
        random.key(1.5)
    with pytest.raises(TypeError, match="integer"):
        random.key(np.float32(1))
    with pytest.raises(ValueError, match="uint32"):
        random.fold_in(K0, -1)
    with pytest.raises(TypeError, match="scalar"):
        random.fold_in(K0, np.arange(2))


def test_key_from_arrays_and_traced_seeds():
    np.testing.assert_array_equal(_a(random.key(np.int8(-3))), [0, 2 ** 32 - 3])
    np.testing.assert_array_equal(_a(random.key(np.uint32(4000000000))), [0, 4000000000])
    np.testing.assert_array_equal(_a(random.key(np.int64(2 ** 32 + 5))), [1, 5])
    seeds = np.array([0, 1, 42, -1], np.int32)
    batch = fg.vmap(random.key)(seeds)
    np.testing.assert_array_equal(_a(batch), np.stack([_a(random.key(int(s))) for s in seeds]))
    np.testing.assert_array_equal(_a(fg.jit(random.key)(np.int32(-5))), [0, 2 ** 32 - 5])
    # a numpy uint32 array works as a key
    np.testing.assert_array_equal(_a(random.uniform(np.array([0, 42], np.uint32), (6,))),
                                  _a(random.uniform(K42, (6,))))


def test_split_and_fold_in_properties():
    ks = random.split(K0, 4)
    assert ks.shape == (4, 2) and ks.dtype == np.uint32
    assert len({tuple(k) for k in _a(ks).tolist()}) == 4
    assert random.split(K0, ()).shape == (2,)
    assert random.split(K0, (2, 3)).shape == (2, 3, 2)
    # split is deterministic; the first of split(k, 2) equals split(k, 3)[0] (counter-based)
    np.testing.assert_array_equal(_a(random.split(K0, 2))[0], _a(random.split(K0, 3))[0])
    folds = {tuple(_a(random.fold_in(K0, i)).tolist()) for i in range(20)}
    assert len(folds) == 20
    d = fg.vmap(lambda i: random.fold_in(K0, i))(np.arange(5, dtype=np.uint32))
    np.testing.assert_array_equal(_a(d), np.stack([_a(random.fold_in(K0, i)) for i in range(5)]))


def test_split_keys_give_uncorrelated_streams():
    k1, k2 = random.split(random.key(123))
    a = _a(random.normal(k1, (20000,)))
    b = _a(random.normal(k2, (20000,)))
    c = _a(random.normal(random.fold_in(k1, 0), (20000,)))
    for x, y in ((a, b), (a, c), (b, c)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.03
    # neighbouring keys (seed, seed+1) are unrelated too
    u = _a(random.uniform(random.key(1), (20000,)))
    v = _a(random.uniform(random.key(2), (20000,)))
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.03
    assert np.mean(u == v) < 1e-3
    # lag-1 autocorrelation within one stream
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.03


# ----------------------------------------------------------------------------- moments

N = 40000


def test_uniform_moments_and_range():
    u = _a(random.uniform(random.key(1), (N,)))
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    v = _a(random.uniform(random.key(1), (N,), minval=-2.0, maxval=3.0))
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.05
    w = random.uniform(random.key(1), (3, 4), minval=fnp.arange(4.0),
                       maxval=fnp.arange(4.0) + 0.5)
    assert w.shape == (3, 4)
    assert np.all((_a(w) >= np.arange(4)) & (_a(w) < np.arange(4) + 0.5))
    h = random.uniform(random.key(1), (100,), np.float16)
    assert h.dtype == np.float16 and 0 <= _a(h).min() and _a(h).max() < 1


def test_normal_moments():
    z = _a(random.normal(random.key(2), (N,)))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.mean(z ** 3)) < 0.05 and abs(np.mean(z ** 4) - 3) < 0.15
    assert np.all(np.isfinite(z))
    z64 = random.normal(random.key(2), (1000,), np.float64)
    assert z64.dtype == np.float64
    c = _a(random.normal(random.key(2), (N,), np.complex64))
    assert abs(np.mean(np.abs(c) ** 2) - 1) < 0.03


def _tn_moments(a, b):
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    Phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))
    Z = Phi(b) - Phi(a)
    mean = (phi(a) - phi(b)) / Z
    var = 1 + (a * phi(a) - b * phi(b)) / Z - mean ** 2
    return mean, var


@pytest.mark.parametrize("lo,hi", [(-2.0, 2.0), (-1.0, 2.5), (0.5, 3.0), (-np.inf, 0.0)])
def test_truncated_normal_moments(lo, hi):
    x = _a(random.truncated_normal(random.key(3), lo, hi, (N,)))
    assert x.min() > lo and x.max() < hi
    a = -30.0 if np.isinf(lo) else lo
    mean, var = _tn_moments(a, hi)
    assert abs(x.mean() - mean) < 0.02 and abs(x.var() - var) < 0.02


def test_truncated_normal_array_bounds_and_default_shape():
    lo = fnp.array([-1.0, 0.0, 1.0])
    x = random.truncated_normal(random.key(3), lo, lo + 0.5)
    assert x.shape == (3,)
    assert np.all((_a(x) > _a(lo)) & (_a(x) < _a(lo) + 0.5))
    y = random.truncated_normal(random.key(3), lo, 2.0, (5, 3))
    assert y.shape == (5, 3)


def test_bernoulli_categorical_randint_moments():
    b = _a(random.bernoulli(random.key(4), 0.3, (N,)))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.01
    p = _a(random.bernoulli(random.key(4), fnp.array([0.0, 1.0, 0.5])))
    assert p[0] == False and p[1] == True  # noqa: E712
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    c = _a(random.categorical(random.key(5), np.log(probs).astype(F32), shape=(N,)))
    freq = np.bincount(c, minlength=4) / N
    np.testing.assert_allclose(freq, probs, atol=0.01)
    r = _a(random.randint(random.key(6), (N,), 3, 10))
    assert r.min() == 3 and r.max() == 9 and r.dtype == np.int32
    np.testing.assert_allclose(np.bincount(r - 3) / N, np.full(7, 1 / 7), atol=0.01)
    assert np.all(_a(random.randint(random.key(6), (5,), 4, 4)) == 4)   # empty range -> minval
    r8 = _a(random.randint(random.key(6), (N,), -128, 128, np.int8))
    assert r8.dtype == np.int8 and r8.min() == -128 and r8.max() == 127


def test_other_distributions_moments():
    e = _a(random.exponential(random.key(7), (N,)))
    assert e.min() >= 0 and abs(e.mean() - 1) < 0.03
    g = _a(random.gumbel(random.key(7), (N,)))
    assert abs(g.mean() - 0.5772) < 0.03 and abs(g.var() - np.pi ** 2 / 6) < 0.1
    gh = _a(random.gumbel(random.key(7), (N,), mode="high"))
    assert abs(gh.mean() - 0.5772) < 0.03
    lp = _a(random.laplace(random.key(7), (N,)))
    assert abs(lp.mean()) < 0.03 and abs(lp.var() - 2) < 0.1
    lg = _a(random.logistic(random.key(7), (N,)))
    assert abs(lg.var() - np.pi ** 2 / 3) < 0.15
    rd = _a(random.rademacher(random.key(7), (1000,)))
    assert set(np.unique(rd).tolist()) == {-1, 1}


# ----------------------------------------------------------------------------- shuffles

def test_permutation_is_a_permutation():
    for n in (1, 7, 50, 2000):
        p = _a(random.permutation(random.key(8), n))
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    x = fnp.arange(20.0).reshape(4, 5)
    rows = _a(random.permutation(random.key(8), x))          # rows shuffled, kept intact
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, _a(x).tolist()))
    cols = _a(random.permutation(random.key(8), x, axis=1))
    np.testing.assert_array_equal(np.sort(cols, axis=1), _a(x))
    assert all(np.all(np.diff(cols[:, j]) == 5) for j in range(5))   # columns move together
    ind = _a(random.permutation(random.key(8), x, axis=1, independent=True))
    np.testing.assert_array_equal(np.sort(ind, axis=1), _a(x))
    firsts = {tuple(_a(random.permutation(random.key(s), 6)).tolist()) for s in range(30)}
    assert len(firsts) > 25


def test_choice():
    c = _a(random.choice(random.key(9), 10, (6,), replace=False))
    assert len(set(c.tolist())) == 6 and c.min() >= 0 and c.max() < 10
    big = _a(random.choice(random.key(9), 1000, (500,), replace=False))
    assert len(np.unique(big)) == 500
    p = np.array([0.0, 0.5, 0.0, 0.5], F32)
    w = _a(random.choice(random.key(9), 4, (200,), p=p))
    assert set(np.unique(w).tolist()) <= {1, 3}
    wn = _a(random.choice(random.key(9), 4, (2,), replace=False, p=p))
    assert sorted(wn.tolist()) == [1, 3]
    arr = fnp.arange(12).reshape(3, 4)
    s = random.choice(random.key(9), arr, (2,), axis=1)
    assert s.shape == (3, 2)
    assert random.choice(random.key(9), 5, (2, 3)).shape == (2, 3)
    assert random.choice(random.key(9), 5, (0,)).shape == (0,)
    with pytest.raises(ValueError, match="larger sample"):
        random.choice(random.key(9), 3, (4,), replace=False)
    with pytest.raises(ValueError, match="p must"):
        random.choice(random.key(9), 3, (2,), p=np.ones(4, F32) / 4)


# ----------------------------------------------------------------------------- transformations

SAMPLERS = {
    "bits": lambda k: random.bits(k, (3, 2)),
    "split": lambda k: random.split(k, 3),
    "fold_in": lambda k: random.fold_in(k, 17),
    "uniform": lambda k: random.uniform(k, (4,), minval=-1.0, maxval=2.0),
    "normal": lambda k: random.normal(k, (2, 3)),
    "truncated_normal": lambda k: random.truncated_normal(k, -1.0, 1.5, (4,)),
    "bernoulli": lambda k: random.bernoulli(k, 0.4, (5,)),
    "categorical": lambda k: random.categorical(k, LOGITS4, shape=(6,)),
    "randint": lambda k: random.randint(k, (5,), -3, 9),
    "permutation": lambda k: random.permutation(k, 8),
    "permutation_array": lambda k: random.permutation(k, fnp.arange(12.0).reshape(3, 4), 1),
    "choice": lambda k: random.choice(k, 10, (4,)),
    "choice_noreplace": lambda k: random.choice(k, 10, (4,), replace=False),
    "choice_p": lambda k: random.choice(k, 4, (4,), p=np.array([0.1, 0.2, 0.3, 0.4], F32)),
    "gumbel": lambda k: random.gumbel(k, (3,)),
    "exponential": lambda k: random.exponential(k, (3,)),
    "laplace": lambda k: random.laplace(k, (3,)),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_jit_and_vmap_over_keys(name):
    f = SAMPLERS[name]
    eager = _a(f(K42))
    np.testing.assert_array_equal(_a(fg.jit(f)(K42)), eager)
    keys = random.split(random.key(11), 3)
    loop = np.stack([_a(f(k)) for k in keys])
    np.testing.assert_array_equal(_a(fg.vmap(f)(keys)), loop)
    np.testing.assert_array_equal(_a(fg.jit(fg.vmap(f))(keys)), loop)
    # keys batched along axis 1
    np.testing.assert_array_equal(_a(fg.vmap(f, in_axes=1)(_a(keys).T)), loop)


def test_vmap_over_parameters():
    lo = fnp.array([-1.0, 0.0, 2.0])
    f = lambda m: random.uniform(K0, (3,), minval=m, maxval=m + 1.0)
    out = fg.vmap(f)(lo)
    np.testing.assert_array_equal(_a(out), np.stack([_a(f(m)) for m in lo]))
    g = lambda p: random.bernoulli(K0, p, (4,))
    ps = fnp.array([0.1, 0.5, 0.9])
    np.testing.assert_array_equal(_a(fg.vmap(g)(ps)), np.stack([_a(g(p)) for p in ps]))


def test_gradients_through_parameters():
    check_grads(lambda a, b: random.uniform(K0, (5,), minval=a, maxval=b),
                (np.float64(-1.0), np.float64(2.0)), order=1, modes=("fwd", "rev"))
    check_grads(lambda a, b: random.truncated_normal(K0, a, b, (5,), np.float64),
                (np.float64(-1.0), np.float64(1.5)), order=1, modes=("fwd", "rev"))
    # float32 through the XLA-compatible erf_inv (custom_jvp with the exact derivative)
    g = fg.grad(lambda b: fnp.sum(random.truncated_normal(K0, -1.0, b, (50,))))(1.5)
    eps = 1e-3
    fd = (float(fnp.sum(random.truncated_normal(K0, -1.0, 1.5 + eps, (50,))))
          - float(fnp.sum(random.truncated_normal(K0, -1.0, 1.5 - eps, (50,))))) / (2 * eps)
    assert abs(float(g) - fd) < 1e-2 * max(1, abs(fd))


def test_sampler_errors():
    with pytest.raises(ValueError, match="floating"):
        random.uniform(K0, (2,), np.int32)
    with pytest.raises(ValueError, match="broadcast"):
        random.uniform(K0, (2,), minval=np.zeros(3, F32))
    with pytest.raises(ValueError, match="unsigned"):
        random.bits(K0, (2,), np.int32)
    with pytest.raises(TypeError, match="integer"):
        random.randint(K0, (2,), 0, 5, np.float32)
    with pytest.raises(TypeError, match="floating"):
        random.bernoulli(K0, 1)
    with pytest.raises(TypeError, match="shape"):
        random.normal(K0, (2.5,))
    with pytest.raises(ValueError, match="cannot draw"):
        random.categorical(K0, LOGITS4, shape=(5,), replace=False)
    with pytest.raises(TypeError, match="static_argnums"):
        fg.jit(lambda k, n: random.normal(k, (n,)))(K0, 3)


def test_no_hidden_state():
    a = _a(random.normal(K0, (5,)))
    _ = random.normal(random.key(99), (100,))
    np.testing.assert_array_equal(_a(random.normal(K0, (5,))), a)
