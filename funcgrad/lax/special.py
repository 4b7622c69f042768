"""NumPy kernels for special functions that NumPy lacks (erf, erfc, erf_inv, lgamma,
digamma, polygamma).  Each takes an array and an optional ``out=`` like a ufunc."""
from __future__ import annotations

import math

import numpy as np

_erf_u = np.frompyfunc(math.erf, 1, 1)
_erfc_u = np.frompyfunc(math.erfc, 1, 1)
_lgamma_u = np.frompyfunc(lambda v: math.lgamma(v) if v != 0 and not (v < 0 and v == int(v))
                          else math.inf, 1, 1)


def _finish(r, x, out):
    r = np.asarray(r, dtype=x.dtype)
    if out is not None:
        np.copyto(out, r)
        return out
    return r


def erf(x, out=None):
    x = np.asarray(x)
    return _finish(np.asarray(_erf_u(x.astype(np.float64)), dtype=np.float64), x, out)


def erfc(x, out=None):
    x = np.asarray(x)
    return _finish(np.asarray(_erfc_u(x.astype(np.float64)), dtype=np.float64), x, out)


def lgamma(x, out=None):
    x = np.asarray(x)
    return _finish(np.asarray(_lgamma_u(x.astype(np.float64)), dtype=np.float64), x, out)


def _polygamma64(m, x):
    """psi^(m)(x) for float64 x > 0 via recurrence and the asymptotic series."""
    x = np.array(x, dtype=np.float64, copy=True)
    acc = np.zeros_like(x)
    # reflection is not needed for x > 0; for x <= 0 use recurrence upward too
    shift = np.zeros_like(x)
    small = x < 10.0
    while small.any():
        if m == 0:
            acc = np.where(small, acc - 1.0 / x, acc)
        else:
            acc = np.where(small, acc + (-1) ** (m + 1) * math.factorial(m) / x ** (m + 1), acc)
        x = np.where(small, x + 1.0, x)
        shift += small
        small = x < 10.0
    # asymptotic expansion at x >= 10
    b2k = [1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6,
           -3617.0 / 510]
    if m == 0:
        s = np.log(x) - 0.5 / x
        x2 = x * x
        p = np.ones_like(x)
        for k, b in enumerate(b2k, start=1):
            p = p * x2
            s = s - b / (2 * k * p)
        return acc + s
    # m >= 1: psi^(m)(x) ~ (-1)^(m+1) [ (m-1)!/x^m + m!/(2 x^(m+1))
    #                                  + sum_k B_2k (2k+m-1)!/((2k)! x^(2k+m)) ]
    sgn = (-1) ** (m + 1)
    s = math.factorial(m - 1) / x ** m + math.factorial(m) / (2 * x ** (m + 1))
    for k, b in enumerate(b2k, start=1):
        s = s + b * math.factorial(2 * k + m - 1) / math.factorial(2 * k) / x ** (2 * k + m)
    return acc + sgn * s


def digamma(x, out=None):
    x = np.asarray(x)
    xf = x.astype(np.float64)
    neg = xf <= 0
    if neg.any():
        # reflection: psi(1-x) - psi(x) = pi cot(pi x)
        r = _polygamma64(0, np.where(neg, 1.0 - xf, xf))
        with np.errstate(divide="ignore", invalid="ignore"):
            refl = r - np.pi / np.tan(np.pi * xf)
        r = np.where(neg, np.where(xf == np.floor(xf), np.nan, refl), r)
    else:
        r = _polygamma64(0, xf)
    return _finish(r, x, out)


def polygamma(m, x, out=None):
    x = np.asarray(x)
    xf = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        r = np.where(xf > 0, _polygamma64(int(m), np.where(xf > 0, xf, 1.0)), np.nan)
    return _finish(r, x, out)


def erf_inv(x, out=None):
    x = np.asarray(x)
    xf = x.astype(np.float64)
    # Giles' single-precision approximation, refined by Newton steps on erf
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - xf) * (1.0 + xf))
        w1 = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p1 = p1 * w1 + c
        w2 = np.sqrt(w) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p2 = p2 * w2 + c
        y = np.where(w < 5.0, p1, p2) * xf
        fin = np.isfinite(y) & (np.abs(xf) < 1)
        for _ in range(3):
            e = erf(np.where(fin, y, 0.0)) - xf
            y = np.where(fin, y - e / (2.0 / np.sqrt(np.pi) * np.exp(-y * y)), y)
        y = np.where(xf == 1, np.inf, np.where(xf == -1, -np.inf, y))
        y = np.where(np.abs(xf) > 1, np.nan, y)
    return _finish(y, x, out)


def logistic(x, out=None):
    """1 / (1 + exp(-x)): exact 0/1 saturation, no NaN, good relative accuracy in both tails
    up to exp's overflow (as JAX's definition)."""
    with np.errstate(over="ignore"):
        if out is None:
            x = np.asarray(x)
            if x.ndim == 0:
                return np.reciprocal(np.exp(-x) + x.dtype.type(1))
            out = np.empty_like(x)
        r = np.negative(x, out=out)
        np.exp(r, out=r)
        np.add(r, 1, out=r)
        return np.reciprocal(r, out=r)


def rsqrt(x, out=None):
    r = np.sqrt(x, out=out)
    return np.reciprocal(r, out=r if out is not None else r)


def is_finite(x, out=None):
    return np.isfinite(x, out=out)


def round_half_away(x, out=None):
    """lax.round's default: round half away from zero."""
    r = np.trunc(np.add(x, np.copysign(np.asarray(0.5, x.dtype), x)))
    if out is not None:
        np.copyto(out, r)
        return out
    return r
