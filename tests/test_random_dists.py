"""Tests for the rejection-sampled distributions of ``funcgrad.random``: gamma, loggamma,
beta, dirichlet, chisquare, t and poisson.

Their streams are not JAX's (only the distributions agree), so there are no golden values:
moments and supports for fixed seeds (deterministic), determinism and independence of
keys, jit == eager, vmap == a Python loop, broadcasting, errors, and the implicit
reparameterisation gradient of gamma samples with respect to the concentration.
"""
import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax, random

F32 = np.float32
K0, K1 = random.key(0), random.key(1)
N = 20000


def _a(x):
    return np.asarray(x)


def _trigamma(a):
    """psi'(a) by recurrence and the asymptotic series."""
    s = 0.0
    while a < 20:
        s += 1 / a ** 2
        a += 1
    return s + 1 / a + 1 / (2 * a ** 2) + 1 / (6 * a ** 3) - 1 / (30 * a ** 5) + 1 / (42 * a ** 7)


# ----------------------------------------------------------------------------- moments

@pytest.mark.parametrize("a", [0.2, 1.0, 3.5, 40.0])
def test_gamma_moments_and_support(a):
    x = _a(random.gamma(random.key(2), a, (N,)))
    assert x.dtype == F32 and x.shape == (N,)
    assert np.all(x >= 0) and np.all(np.isfinite(x))
    if a >= 1:
        assert np.all(x > 0)
    se = math.sqrt(a / N)
    assert abs(x.mean() - a) < 5 * se
    assert abs(x.var() / a - 1) < 0.07
    # loggamma is the log of the same draws
    lx = _a(random.loggamma(random.key(2), a, (N,)))
    pos = x > 1e-30
    np.testing.assert_allclose(np.exp(lx[pos]), x[pos], rtol=2e-5)


def test_gamma_small_a_and_special_values():
    lx = _a(random.loggamma(K0, 1e-3, (2000,)))
    assert np.all(np.isfinite(lx))
    # E[log X] = digamma(a) ~ -1/a - 0.5772 for tiny a
    assert abs(lx.mean() / (-1000 - 0.5772) - 1) < 0.1
    a = np.array([0.0, -1.0, np.nan, np.inf], F32)
    np.testing.assert_array_equal(_a(random.gamma(K0, a)), [0.0, np.nan, np.nan, np.inf])
    np.testing.assert_array_equal(_a(random.loggamma(K0, a)), [-np.inf, np.nan, np.nan, np.inf])
    big = _a(random.gamma(K0, 1e6, (2000,)))
    assert abs(big.mean() / 1e6 - 1) < 1e-4 and abs(big.std() / 1e3 - 1) < 0.1


def test_gamma_dtypes(x64):
    assert random.gamma(K0, 2.0, (3,)).dtype == np.float64      # default under x64
    x = _a(random.gamma(K0, 2.0, (N,), np.float64))
    assert abs(x.mean() - 2) < 0.05
    h = random.gamma(K0, 2.0, (10,), np.float16)
    assert h.dtype == np.float16 and np.all(_a(h) > 0)


def test_beta_moments_and_support():
    a, b = 2.0, 5.0
    x = _a(random.beta(random.key(3), a, b, (N,)))
    assert x.dtype == F32 and np.all((x >= 0) & (x <= 1))
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(x.mean() - mean) < 0.005 and abs(x.var() / var - 1) < 0.05
    # tiny parameters: mass at the ends, but no NaN (computed in log space)
    s = _a(random.beta(random.key(3), 1e-3, 1e-3, (1000,)))
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert abs(np.mean(s > 0.5) - 0.5) < 0.06


def test_dirichlet_moments_and_support():
    alpha = np.array([0.5, 2.0, 4.0], F32)
    x = _a(random.dirichlet(random.key(4), alpha, (N,)))
    assert x.shape == (N, 3) and np.all(x >= 0)
    np.testing.assert_allclose(x.sum(-1), 1.0, atol=1e-5)
    a0 = alpha.sum()
    np.testing.assert_allclose(x.mean(0), alpha / a0, atol=0.005)
    var = alpha * (a0 - alpha) / (a0 ** 2 * (a0 + 1))
    np.testing.assert_allclose(x.var(0) / var, 1, atol=0.06)
    small = _a(random.dirichlet(random.key(4), np.full(4, 1e-3, F32), (100,)))
    assert np.all(np.isfinite(small))
    np.testing.assert_allclose(small.sum(-1), 1.0, atol=1e-5)


def test_chisquare_and_t_moments():
    c = _a(random.chisquare(random.key(5), 4.0, (N,)))
    assert np.all(c > 0) and abs(c.mean() - 4) < 0.1 and abs(c.var() / 8 - 1) < 0.07
    t = _a(random.t(random.key(6), 6.0, (N,)))
    assert abs(t.mean()) < 0.04 and abs(t.var() / 1.5 - 1) < 0.1
    t1 = _a(random.t(random.key(6), 1.0, (N,)))           # Cauchy: check the quartiles
    np.testing.assert_allclose(np.percentile(t1, [25, 75]), [-1, 1], atol=0.06)


@pytest.mark.parametrize("lam", [0.7, 4.0, 12.0, 300.0])
def test_poisson_moments_and_support(lam):
    k = _a(random.poisson(random.key(7), lam, (N,)))
    assert k.dtype == np.int32 and np.all(k >= 0)
    se = math.sqrt(lam / N)
    assert abs(k.mean() - lam) < 5 * se
    assert abs(k.var() / lam - 1) < 0.07
    if lam < 5:
        freq = np.bincount(k, minlength=6)[:6] / N
        pmf = [math.exp(-lam) * lam ** i / math.factorial(i) for i in range(6)]
        np.testing.assert_allclose(freq, pmf, atol=0.012)


def test_poisson_special_values_and_dtypes():
    lam = np.array([0.0, -1.0, np.nan, np.inf, 1e7], F32)
    k = _a(random.poisson(K0, lam))
    np.testing.assert_array_equal(k[:4], [0, -1, -1, -1])
    assert abs(k[4] - 1e7) < 2e4
    k8 = random.poisson(K0, 5.0, (100,), np.int8)
    assert k8.dtype == np.int8 and np.all(_a(k8) >= 0)
    assert random.poisson(K0, 1e6, (3,), np.int8).tolist() == [127, 127, 127]   # clipped


# ----------------------------------------------------------------------------- keys

SAMPLERS = {
    "gamma": lambda k: random.gamma(k, np.array([0.3, 1.0, 2.5, 60.0], F32)),
    "loggamma": lambda k: random.loggamma(k, 0.1, (3,)),
    "beta": lambda k: random.beta(k, 2.0, np.array([0.5, 3.0], F32), (2, 2)),
    "dirichlet": lambda k: random.dirichlet(k, np.array([0.5, 1.0, 3.0], F32), (2,)),
    "chisquare": lambda k: random.chisquare(k, 3.0, (3,)),
    "t": lambda k: random.t(k, 4.0, (3,)),
    "poisson": lambda k: random.poisson(k, np.array([0.5, 3.0, 15.0, 200.0], F32)),
}


def test_key_determinism_and_independence():
    for name in ("gamma", "dirichlet", "poisson"):
        f = SAMPLERS[name]
        np.testing.assert_array_equal(_a(f(K0)), _a(f(K0)), err_msg=name)
        assert not np.array_equal(_a(f(K0)), _a(f(K1))), name
    ka, kb = random.split(random.key(8))
    x = _a(random.gamma(ka, 2.0, (N,)))
    y = _a(random.gamma(kb, 2.0, (N,)))
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.03
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.03
    p = _a(random.poisson(kb, 20.0, (N,)))
    assert abs(np.corrcoef(x, p)[0, 1]) < 0.03


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_jit_and_vmap_over_keys(name):
    f = SAMPLERS[name]
    eager = _a(f(K0))
    np.testing.assert_array_equal(_a(fg.jit(f)(K0)), eager)
    keys = random.split(random.key(11), 2)
    loop = np.stack([_a(f(k)) for k in keys])
    np.testing.assert_array_equal(_a(fg.vmap(f)(keys)), loop)
    if name in ("gamma", "poisson"):
        np.testing.assert_array_equal(_a(fg.jit(fg.vmap(f))(keys)), loop)
        np.testing.assert_array_equal(_a(fg.vmap(f, in_axes=1)(_a(keys).T)), loop)


def test_vmap_over_parameters():
    cases = [
        (lambda a: random.gamma(K0, a, (3,)), np.array([0.3, 1.0, 50.0], F32)),
        (lambda a: random.beta(K0, a, 2.0), np.array([0.5, 4.0], F32)),
        (lambda a: random.dirichlet(K0, a), np.array([[1.0, 2.0], [0.2, 0.3]], F32)),
        (lambda lam: random.poisson(K0, lam, (4,)), np.array([1.0, 9.0, 11.0, 500.0], F32)),
        (lambda df: random.t(K0, df), np.array([1.0, 5.0], F32)),
    ]
    for i, (f, params) in enumerate(cases):
        loop = np.stack([_a(f(p)) for p in params])
        np.testing.assert_array_equal(_a(fg.vmap(f)(params)), loop)
        if i in (0, 3):
            np.testing.assert_array_equal(_a(fg.jit(fg.vmap(f))(params)), loop)
    # keys and parameters batched together
    keys = random.split(K0, 3)
    a = np.array([0.5, 2.0, 9.0], F32)
    out = fg.vmap(lambda k, a: random.gamma(k, a, (2,)))(keys, a)
    np.testing.assert_array_equal(_a(out), np.stack([_a(random.gamma(k, x, (2,)))
                                                     for k, x in zip(keys, a)]))


# ----------------------------------------------------------------------------- shapes, errors

def test_parameter_broadcasting():
    a = np.array([1.0, 2.0, 3.0], F32)
    assert random.gamma(K0, a).shape == (3,)
    assert random.gamma(K0, a, (4, 3)).shape == (4, 3)
    assert random.gamma(K0, 2.0).shape == ()
    assert random.beta(K0, a, np.ones((2, 1), F32)).shape == (2, 3)
    assert random.beta(K0, 1.0, 2.0, (5,)).shape == (5,)
    assert random.dirichlet(K0, np.ones((2, 4), F32)).shape == (2, 4)
    assert random.dirichlet(K0, np.ones((2, 4), F32), (3, 2)).shape == (3, 2, 4)
    assert random.poisson(K0, a, (2, 3)).shape == (2, 3)
    assert random.chisquare(K0, a).shape == (3,)
    assert random.t(K0, 3.0).shape == () and random.t(K0, a).shape == (3,)
    # a row of parameters: each column has its own distribution
    cols = _a(random.gamma(K0, np.array([0.5, 50.0], F32), (N, 2)))
    np.testing.assert_allclose(cols.mean(0), [0.5, 50.0], rtol=0.03)
    # an int / bool parameter array is converted to the float dtype
    assert random.gamma(K0, np.array([1, 2]), dtype=np.float32).dtype == F32


def test_errors():
    with pytest.raises(ValueError, match=r"random\.gamma: parameter shapes"):
        random.gamma(K0, np.ones(3, F32), (2,))
    with pytest.raises(ValueError, match=r"random\.beta: parameter shapes"):
        random.beta(K0, np.ones(3, F32), np.ones(4, F32))
    with pytest.raises(ValueError, match=r"random\.gamma: dtype must be a floating"):
        random.gamma(K0, 1.0, dtype=np.int32)
    with pytest.raises(ValueError, match=r"random\.t: dtype must be a floating"):
        random.t(K0, 1.0, dtype=np.int32)
    with pytest.raises(ValueError, match=r"random\.poisson: dtype must be an integer"):
        random.poisson(K0, 1.0, dtype=np.float32)
    with pytest.raises(TypeError, match=r"random\.gamma: cannot safely cast a"):
        random.gamma(K0, np.array([1 + 1j]))
    with pytest.raises(TypeError, match=r"random\.chisquare: df must be a real"):
        random.chisquare(K0, 1j)
    with pytest.raises(ValueError, match=r"random\.dirichlet: alpha must have at least one"):
        random.dirichlet(K0, 1.0)
    with pytest.raises(ValueError, match=r"random\.dirichlet: shape \(3,\) must be"):
        random.dirichlet(K0, np.ones((2, 4), F32), (3,))
    with pytest.raises(TypeError, match="uint32"):
        random.gamma(np.array([0, 1], np.int32), 1.0)
    with pytest.raises(ValueError, match="vmap"):
        random.poisson(random.split(K0, 2), 1.0)
    with pytest.raises(TypeError, match="static_argnums"):
        fg.jit(lambda k, n: random.gamma(k, 1.0, (n,)))(K0, 3)


# ----------------------------------------------------------------------------- gradients

_GL = np.polynomial.legendre.leggauss(300)


def _gamma_cdf(a, x):
    """P(a, x) by Gauss-Legendre quadrature, independent of funcgrad's series: for a >= 1
    of the density over [0, x]; for a < 1 of P = x**a / Gamma(a + 1) *
    int_0^1 exp(-x s**(1/a)) ds (substituting t = x s**(1/a) removes the singularity)."""
    s, w = _GL
    s = (s + 1) / 2
    if a >= 5:
        t = x * s
        dens = np.exp((a - 1) * np.log(t) - t - math.lgamma(a))
        return 0.5 * x * np.sum(w * dens)
    integral = 0.5 * np.sum(w * np.exp(-x * s ** (1 / a)))
    return math.exp(a * math.log(x) - math.lgamma(a + 1)) * integral


@pytest.mark.parametrize("a", [0.6, 1.0, 2.0, 7.5, 30.0])
def test_gamma_grad_matches_cdf_formula(a):
    """d sample / d a = -(dP/da)(a, x) / p(x; a), with dP/da by central differences of
    an independent quadrature of the CDF."""
    x = _a(random.gamma(random.key(9), np.float64(a), (6,), np.float64))
    g = _a(fg.grad(lambda a: fnp.sum(random.gamma(random.key(9), a, (6,), np.float64)))(
        np.full(6, a)))
    h = 1e-5 * a
    for xi, gi in zip(x, g):
        dP = (_gamma_cdf(a + h, xi) - _gamma_cdf(a - h, xi)) / (2 * h)
        pdf = math.exp((a - 1) * math.log(xi) - xi - math.lgamma(a))
        assert abs(gi - (-dP / pdf)) < 1e-5 * max(1.0, abs(gi)), (a, xi, gi, -dP / pdf)


@pytest.mark.parametrize("a", [0.3, 2.0, 2000.0])
def test_gamma_grad_monte_carlo(a):
    """Pathwise gradients are unbiased: E[dX/da] = dE[X]/da = 1 and
    E[d log X/da] = d digamma(a)/da = trigamma(a)."""
    key = random.key(10)
    n = 4000
    g = _a(fg.grad(lambda a: fnp.sum(random.gamma(key, a, (n,), np.float64)) / n)(a))
    assert abs(g - 1) < 0.05
    gl = _a(fg.grad(lambda a: fnp.sum(random.loggamma(key, a, (n,), np.float64)) / n)(a))
    assert abs(gl / _trigamma(a) - 1) < 0.05


def test_grad_float32_jit_vmap_and_derived_distributions():
    f = lambda a: fnp.sum(random.gamma(K0, a, (5,)))
    g = fg.grad(f)(2.0)
    assert g.dtype == F32 and np.isfinite(_a(g))
    np.testing.assert_allclose(_a(fg.jit(fg.grad(f))(2.0)), _a(g), rtol=1e-6)
    per = fg.vmap(fg.grad(lambda a: random.gamma(K0, a)))(np.array([0.5, 2.0, 3000.0], F32))
    assert np.all(_a(per) > 0)
    # forward mode agrees with reverse mode
    _, t = fg.jvp(lambda a: random.gamma(K0, a, (5,)), (np.float32(2.0),), (np.float32(1.0),))
    np.testing.assert_allclose(float(fnp.sum(t)), float(g), rtol=1e-5)
    # tiny a underflows to 0 in gamma (zero gradient there), stays finite in loggamma
    assert np.isfinite(_a(fg.grad(lambda a: fnp.sum(random.gamma(K0, a, (5,))))(1e-3)))
    assert np.isfinite(_a(fg.grad(lambda a: fnp.sum(random.loggamma(K0, a, (5,))))(1e-3)))
    # beta: E[X] = a / (a + b), so dE/da = b / (a + b)**2
    a, b, n = 2.0, 3.0, 4000
    gb = fg.grad(lambda a: fnp.mean(random.beta(K1, a, b, (n,), np.float64)))(a)
    assert abs(float(gb) / (b / (a + b) ** 2) - 1) < 0.05
    # dirichlet: E[X_0] = alpha_0 / sum(alpha)
    alpha = np.array([1.0, 2.0, 3.0])
    gd = _a(fg.grad(lambda al: fnp.mean(random.dirichlet(K1, al, (n,), np.float64)[:, 0]))(
        alpha))
    expect = np.array([5.0, -1.0, -1.0]) / 36
    np.testing.assert_allclose(gd, expect, atol=0.005)
    # chisquare: E[X] = df
    gc = fg.grad(lambda df: fnp.mean(random.chisquare(K1, df, (n,), np.float64)))(3.0)
    assert abs(float(gc) - 1) < 0.05


def test_docstring_examples():
    import doctest
    import funcgrad
    names = ["gamma", "loggamma", "beta", "dirichlet", "chisquare", "t", "poisson"]
    globs = {"fg": fg, "funcgrad": funcgrad, "fnp": fnp, "np": np, "random": random}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for name in names:
        assert ">>>" in getattr(random, name).__doc__, name
        for t in doctest.DocTestFinder().find(getattr(random, name), f"random.{name}",
                                              globs=dict(globs)):
            runner.run(t)
    assert runner.summarize(verbose=False).failed == 0
