"""``funcgrad.random``: explicit, splittable, counter-based pseudo-random numbers.

A *key* is a ``uint32`` array of shape ``(2,)`` -- JAX's raw ``PRNGKey``.  Nothing is
hidden in global state: every function takes a key and is a pure function of it, so
it works eagerly, under ``jit``, under ``vmap`` (also over a batch of keys) and inside
``grad`` (samples depend differentiably on float parameters such as ``minval`` or the
bounds of ``truncated_normal``; keys themselves are not differentiable).  Never reuse a
key for two draws that should be independent: ``split`` it.

>>> import funcgrad as fg
>>> from funcgrad import random
>>> key = random.key(0)
>>> key
Array([0, 0], dtype=uint32)
>>> k1, k2 = random.split(key)
>>> random.uniform(k1, (3,))
Array([0.8423141 , 0.18237865, 0.2271781 ])
>>> fg.vmap(lambda k: random.normal(k, (2,)))(random.split(key, 4)).shape
(4, 2)

Streams (agreement with JAX)
----------------------------
The generator is Threefry-2x32 (20 rounds, ``lax.threefry2x32``) used exactly as JAX's
default ``threefry2x32`` implementation with ``jax_threefry_partitionable=True``, the
default since JAX 0.5; the golden values in ``tests/test_random.py`` were produced with
**JAX 0.10.2 on CPU**.  For the same seed these agree bit for bit with JAX:

* ``key``/``PRNGKey`` (also JAX's seed truncation: without ``enable_x64`` a Python int
  seed keeps only its low 32 bits), ``split``, ``fold_in``, ``bits`` (8/16/32/64 bit),
* ``uniform`` (float16/32/64; a float32 range other than ``[0, 1)`` is computed with a
  fused multiply-add as XLA does),
* ``normal`` in float32/float16: the inverse error function is XLA's (Giles'
  single-precision polynomial evaluated with fused multiply-adds, on XLA's CPU
  ``log1p``/``log`` approximations, all reproduced here in float32), so the samples
  equal ``jax.random.normal`` on a CPU bit for bit (checked on 10**5 samples),
* ``randint``, ``bernoulli``, ``gumbel``, ``categorical``, ``exponential``, ``laplace``,
  ``logistic`` (float32; they use the same reproduced ``log``/``log1p``),
* ``permutation`` and ``choice`` (same sort-based shuffle with the same sort keys),
* the ``funcgrad.nn.initializers`` built on them (``orthogonal`` up to QR rounding).

Where the streams differ from JAX:

* ``truncated_normal`` agrees to about an ulp (largest difference seen: 7e-7 on
  values of order 1), not bit for bit: it maps ``erf`` of the bounds, and XLA's
  float32 ``erf`` is a polynomial (funcgrad's ``lax.erf`` is correctly rounded);
  besides, XLA's result for this sampler depends on how it fuses the computation
  (JAX's own eager and jitted pipelines disagree in the last bit).
* float64 ``normal``/``truncated_normal``/``gumbel``/``exponential``/... use funcgrad's
  own accurate ``erf_inv``/``log``/``log1p`` (XLA uses other float64 approximations):
  normals agree with JAX's to about 4e-13, the others to a few ulp; a float64
  ``uniform`` with a range other than ``[0, 1)`` rounds ``u*(max-min)+min`` twice
  where XLA fuses it (an ulp).  The float64 streams of bits, ``uniform`` on [0, 1),
  ``randint``, ``split``... are bit-exact.
* ``gamma``, ``loggamma``, ``beta``, ``dirichlet``, ``chisquare``, ``t`` and ``poisson``
  follow JAX's algorithms (Marsaglia-Tsang with the ``a < 1`` boost; beta and dirichlet
  from log-gamma draws; Knuth's method below ``lam = 10`` and Hörmann's transformed
  rejection above it for poisson) and JAX's signatures, shapes and special values, but
  **not its streams**: JAX draws each element with its own split key in a per-element
  loop, funcgrad runs one vectorised rejection loop over the batch (and does the
  arithmetic in float64), so the same key gives other, equally distributed, numbers.
  Gradients with respect to ``a``/``alpha``/``df`` use implicit reparameterisation as in
  JAX (``dx/da = -(dP(a, x)/da) / p(x; a)``).
* Explicit ``dtype=float64`` is honoured without ``enable_x64`` (JAX would silently
  give float32), following funcgrad's "NumPy dtypes are kept" rule.
* Results computed on a GPU by JAX use other ``log``/``erf_inv`` kernels (JAX itself
  is not bit-identical across its backends); funcgrad gives the same numbers on every
  backend.

Cost: reproducing XLA's float32 ``log``/``erf_inv`` takes about a hundred elementwise
operations, so ``normal`` runs at roughly 0.5 microseconds per sample on the NumPy
backend (``uniform`` and ``bits`` at a few hundredths of that).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from . import lax
from . import numpy as fnp
from .core import dtypes
from .core.config import config
from .core.array import Array
from .core.trace import Tracer, get_aval
from .interpreters.custom import custom_jvp
from .lax.random_bits import key_words as _key_words
from .lax.random_bits import iota_2x32_shape as _iota_2x32_shape
from .lax.random_bits import threefry_random_bits as _random_bits
from .lax.random_bits import threefry2x32_p as _threefry2x32_p

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "uniform", "normal",
           "truncated_normal", "bernoulli", "categorical", "randint", "permutation",
           "choice", "gumbel", "exponential", "laplace", "logistic", "rademacher",
           "key_data", "gamma", "loggamma", "beta", "dirichlet", "chisquare", "t",
           "poisson"]

_U32 = np.dtype(np.uint32)


# ----------------------------------------------------------------------------- checks

def _is_array(x):
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic))


def _check_key(name, key):
    """Validate a raw key: a uint32 array of shape (2,)."""
    if not _is_array(key):
        raise TypeError(
            f"random.{name}: expected a PRNG key (a uint32 array of shape (2,) made by "
            f"random.key(seed) or random.split), got {type(key).__name__}")
    aval = get_aval(key)
    if aval.dtype != _U32:
        raise TypeError(
            f"random.{name}: a PRNG key must have dtype uint32, got {aval.dtype.name} "
            f"(shape {aval.shape}). Make keys with random.key(seed); do not pass a seed "
            "or an integer array where a key is expected.")
    if aval.shape != (2,):
        if aval.ndim >= 2 and aval.shape[-1] == 2:
            raise ValueError(
                f"random.{name} takes a single key of shape (2,), but got a batch of "
                f"keys of shape {aval.shape}. Map over the keys with vmap, e.g. "
                f"fg.vmap(lambda k: random.{name}(k, ...))(keys).")
        raise ValueError(
            f"random.{name}: a PRNG key has shape (2,), got shape {aval.shape}. Make "
            "keys with random.key(seed).")
    if isinstance(key, np.generic):
        key = np.asarray(key)
    return key


def _shape(shape, name, what="shape"):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    if isinstance(shape, (Array, Tracer)):
        raise TypeError(f"random.{name}: {what} must be a tuple of Python ints, got an "
                        "array; shapes are static (use static_argnums under jit)")
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"random.{name}: {what} must be a tuple of non-negative Python "
                        f"ints, got {shape!r}; a traced value cannot be a shape (make "
                        "it static with static_argnums)") from None
    if any(d < 0 for d in out):
        raise ValueError(f"random.{name}: negative dimension in {what} {out}")
    return out


def _float_dtype(dtype, name, allow_complex=False):
    dt = dtypes.default_float_dtype() if dtype is None else dtypes.check_supported(
        dtype, f"random.{name}")
    if dt.kind != "f" and not (allow_complex and dt.kind == "c"):
        raise ValueError(f"random.{name}: dtype must be a floating-point dtype"
                         f"{' (or complex)' if allow_complex else ''}, got {dt.name}")
    return dt


def _check_param_shapes(name, shape, *params):
    """Parameter shapes must broadcast to exactly ``shape`` (as JAX's _check_shape)."""
    pshapes = [get_aval(p).shape for p in params]
    try:
        b = np.broadcast_shapes(shape, *pshapes)
    except ValueError:
        b = None
    if b != tuple(shape):
        raise ValueError(
            f"random.{name}: parameter shapes {', '.join(str(s) for s in pshapes)} must "
            f"broadcast to the requested shape {tuple(shape)} (broadcasting them with "
            f"it gives {b if b is not None else 'an error'})")


def _param(v, dtype, name):
    """A float parameter converted to ``dtype`` (Python scalars become NumPy scalars)."""
    if isinstance(v, (bool, int, float)):
        return np.asarray(v, dtype)[()]
    if isinstance(v, complex):
        raise TypeError(f"random.{name}: complex parameter {v!r}")
    v = fnp.asarray(v)
    if get_aval(v).dtype != dtype:
        v = lax.convert_element_type(v, dtype)
    return v


def _canon_axis(axis, ndim, name):
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise ValueError(f"random.{name}: axis {axis} is out of bounds for an array of "
                         f"rank {ndim}")
    return a % ndim


def _const(v, dtype):
    return np.asarray(v, dtype)[()]


# ----------------------------------------------------------------------------- keys

def key(seed):
    """A PRNG key from an integer seed: a uint32 array ``[hi, lo]`` of shape ``(2,)``.

    Same words as JAX's raw ``jax.random.PRNGKey(seed)``: the seed's high and low 32
    bits.  Without ``enable_x64`` a Python int seed is first truncated to int32 (its
    low 32 bits; ``hi`` is 0), as JAX does.  Integer arrays (also traced ones, e.g.
    under ``vmap`` over seeds) are accepted; they must be scalars.

    >>> random.key(42)
    Array([ 0, 42], dtype=uint32)
    >>> random.key(-1)
    Array([         0, 4294967295], dtype=uint32)
    """
    if isinstance(seed, bool) or isinstance(seed, (float, complex)):
        raise TypeError(f"random.key: the seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        s = seed % (2 ** 64)
        if not config.enable_x64:
            s %= 2 ** 32
        return Array(np.array([s >> 32, s & 0xFFFFFFFF], dtype=_U32))
    if not _is_array(seed):
        raise TypeError(f"random.key: the seed must be an integer, got "
                        f"{type(seed).__name__}")
    aval = get_aval(seed)
    if aval.ndim:
        raise TypeError(f"random.key takes a scalar seed, got an array of shape "
                        f"{aval.shape}. Make several keys with fg.vmap(random.key)(seeds) "
                        "or random.split.")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"random.key: the seed must be an integer, got dtype "
                        f"{aval.dtype.name}")
    if isinstance(seed, np.generic):
        seed = np.asarray(seed)
    if aval.dtype.itemsize <= 4:
        hi = np.zeros((1,), _U32)
        lo = lax.convert_element_type(seed, _U32)
    else:
        u = lax.convert_element_type(seed, np.uint64)
        hi = lax.convert_element_type(lax.div(u, _const(2 ** 32, np.uint64)), _U32)
        lo = lax.convert_element_type(u, _U32)
        hi = lax.reshape(hi, (1,))
    return lax.concatenate([hi, lax.reshape(lo, (1,))], 0)


PRNGKey = key


def key_data(keys):
    """The raw uint32 words of a key (keys already are raw arrays: the identity)."""
    return keys


def _stack_words(y0, y1):
    nd = get_aval(y0).ndim
    return lax.concatenate([lax.expand_dims(y0, (nd,)), lax.expand_dims(y1, (nd,))], nd)


def split(key, num=2):
    """Split a key into ``num`` new keys: an array of shape ``(num, 2)``.

    ``num`` may be a tuple of ints (shape of the key array).  Agrees bit for bit with
    ``jax.random.split`` (partitionable threefry).

    >>> random.split(random.key(0))
    Array([[1797259609, 2579123966],
           [ 928981903, 3453687069]], dtype=uint32)
    """
    key = _check_key("split", key)
    shape = _shape(num, "split", "num")
    k0, k1 = _key_words(key)
    hi, lo = _iota_2x32_shape(shape)
    y0, y1 = _threefry2x32_p.bind(k0, k1, hi, lo)
    return _stack_words(y0, y1)


def fold_in(key, data):
    """A new key derived from ``key`` and a 32-bit integer ``data`` (e.g. a step number).

    >>> random.fold_in(random.key(0), 7)
    Array([2716826189,  292468403], dtype=uint32)
    """
    key = _check_key("fold_in", key)
    if isinstance(data, bool) or isinstance(data, (float, complex)):
        raise TypeError(f"random.fold_in: data must be an integer, got {data!r}")
    if isinstance(data, int):
        if not 0 <= data < 2 ** 32:
            raise ValueError(f"random.fold_in: data {data} does not fit in uint32 "
                             "(0 <= data < 2**32)")
        d = _const(data, _U32)
    else:
        if not _is_array(data):
            raise TypeError(f"random.fold_in: data must be an integer, got "
                            f"{type(data).__name__}")
        aval = get_aval(data)
        if aval.ndim:
            raise TypeError(f"random.fold_in takes scalar data, got shape {aval.shape}; "
                            "use vmap to fold in several values")
        if aval.dtype.kind not in "iu":
            raise TypeError(f"random.fold_in: data must be an integer, got dtype "
                            f"{aval.dtype.name}")
        d = lax.convert_element_type(data, _U32)
    k0, k1 = _key_words(key)
    y0, y1 = _threefry2x32_p.bind(k0, k1, _const(0, _U32), d)
    return _stack_words(y0, y1)


def bits(key, shape=(), dtype=None):
    """Uniform random bits as unsigned integers (``uint32`` by default; ``uint64``
    with ``enable_x64``).

    >>> random.bits(random.key(0), (2,))
    Array([4070199207, 4202968722], dtype=uint32)
    """
    key = _check_key("bits", key)
    if dtype is None:
        dt = np.dtype(np.uint64) if config.enable_x64 else _U32
    else:
        dt = dtypes.check_supported(dtype, "random.bits")
    if dt.kind != "u":
        raise ValueError(f"random.bits: dtype must be an unsigned integer dtype, got "
                         f"{dt.name}")
    return _random_bits(key, dt.itemsize * 8, _shape(shape, "bits"))


# ----------------------------------------------------------------------------- XLA float32 math
# XLA (on CPU) evaluates log, log1p and erf_inv with its own approximations and fuses
# multiply-adds.  To reproduce JAX's float32 samples bit for bit they are replayed here
# in float32 with lax operations; a fused multiply-add is a float64 product and sum
# rounded once to float32 (exact product; the sum's double rounding differs from a true
# FMA only with probability ~2**-29).

_F64 = np.dtype(np.float64)


def _f64(v):
    return np.float64(v) if isinstance(v, np.generic) else lax.convert_element_type(v, _F64)


def _fma32(a, b, c):
    """float32 fused multiply-add ``a * b + c`` (one rounding)."""
    return lax.convert_element_type(lax.add(lax.mul(_f64(a), _f64(b)), _f64(c)), _F32)


_F32 = np.dtype(np.float32)
_LOG_P = [np.float32(v) for v in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)]


def _frexp32(t):
    """``t = m * 2**e`` with ``m`` in [0.5, 1) for positive normal float32 ``t``
    (exact: only multiplications by powers of two)."""
    e = lax.full(get_aval(t).shape, 0, _F32)
    for k in (64, 32, 16, 8, 4, 2, 1):          # scale up values below 0.5
        c = lax.lt(t, np.float32(2.0 ** -k))
        t = lax.select(c, lax.mul(t, np.float32(2.0 ** k)), t)
        e = lax.select(c, lax.sub(e, np.float32(k)), e)
    for k in (64, 64, 32, 16, 8, 4, 2, 1):      # scale down values >= 1
        c = lax.ge(t, np.float32(2.0 ** (k - 1)))
        t = lax.select(c, lax.mul(t, np.float32(2.0 ** -k)), t)
        e = lax.select(c, lax.add(e, np.float32(k)), e)
    return t, e


def _xla_log32(x):
    """XLA's CPU float32 ``log`` (Cephes ``logf`` with fused multiply-adds), for x > 0."""
    t = lax.max(x, np.float32(np.finfo(np.float32).tiny))
    t, e = _frexp32(t)
    mask = lax.lt(t, np.float32(0.707106781186547524))
    tmp1 = lax.select(mask, t, np.float32(0))
    t = lax.sub(t, np.float32(1))
    e = lax.sub(e, lax.convert_element_type(mask, _F32))
    t = lax.add(t, tmp1)
    x2 = lax.mul(t, t)
    x3 = lax.mul(x2, t)
    P = _LOG_P
    y = _fma32(t, P[0], P[1])
    y1 = _fma32(t, P[3], P[4])
    y2 = _fma32(t, P[6], P[7])
    y = _fma32(y, t, P[2])
    y1 = _fma32(y1, t, P[5])
    y2 = _fma32(y2, t, P[8])
    y = _fma32(y, x3, y1)
    y = _fma32(y, x3, y2)
    y = _fma32(y, x3, lax.mul(np.float32(-2.12194440e-4), e))
    t = lax.sub(t, lax.mul(np.float32(0.5), x2))
    t = lax.add(t, y)
    t = lax.add(t, lax.mul(np.float32(0.693359375), e))
    # log(0) = -inf, log(inf) = inf, log(<0 or nan) = nan
    t = lax.select(lax.eq(x, np.float32(0)), np.float32(-np.inf), t)
    t = lax.select(lax.eq(x, np.float32(np.inf)), np.float32(np.inf), t)
    bad = lax.bitwise_not(lax.ge(x, np.float32(0)))     # negative or nan
    return lax.select(bad, np.float32(np.nan), t)


_LOG1P_DEN = (1., 1.5062909083469192043167e1, 8.3047565967967209469434e1,
              2.2176239823732856465394e2, 3.0909872225312059774938e2,
              2.1642788614495947685003e2, 6.0118660497603843919306e1)
_LOG1P_NUM = (4.5270000862445199635215e-5, 4.9854102823193375972212e-1,
              6.5787325942061044846969e0, 2.9911919328553073277375e1,
              6.0949667980987787057556e1, 5.7112963590585538103336e1,
              2.0039553499201281259648e1)


def _horner_fma32(x, coeffs):
    r = lax.full(get_aval(x).shape, coeffs[0], _F32)
    for c in coeffs[1:]:
        r = _fma32(r, x, np.float32(c))
    return r


def _xla_log1p32(x):
    """XLA's float32 ``log1p``: a Cephes rational function for |x| < sqrt(2)-1, else
    ``log(1 + x)``."""
    large = _xla_log32(lax.add(x, np.float32(1)))
    x2 = lax.mul(x, x)
    s = lax.div(_horner_fma32(x, _LOG1P_NUM), _horner_fma32(x, _LOG1P_DEN))
    s = lax.mul(lax.mul(x, x2), s)
    s = lax.add(lax.mul(np.float32(-0.5), x2), s)
    s = lax.add(x, s)
    small = lax.lt(lax.abs(x), np.float32(0.41421356237309504880))
    return lax.select(small, s, large)


_ERFINV_LT5 = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
               0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_GT5 = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _xla_erf_inv32_impl(x):
    w = lax.neg(_xla_log1p32(lax.neg(lax.mul(x, x))))
    lt = lax.lt(w, np.float32(5))

    shape = get_aval(x).shape

    def coef(i):
        return lax.select(lt, lax.full(shape, _ERFINV_LT5[i], _F32),
                          np.float32(_ERFINV_GT5[i]))

    w = lax.select(lt, lax.sub(w, np.float32(2.5)), lax.sub(lax.sqrt(w), np.float32(3)))
    p = coef(0)
    for i in range(1, 9):
        p = _fma32(p, w, coef(i))
    r = lax.mul(p, x)
    return lax.select(lax.eq(lax.abs(x), np.float32(1)), lax.mul(x, np.float32(np.inf)), r)


@custom_jvp
def _erf_inv32(x):
    return _xla_erf_inv32_impl(x)


@_erf_inv32.defjvp
def _erf_inv32_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    ans = _erf_inv32(x)
    d = lax.mul(np.float32(np.sqrt(np.pi) / 2), lax.exp(lax.mul(ans, ans)))
    return ans, lax.mul(t, d)


def _erf_inv(x):
    dt = get_aval(x).dtype
    if dt == _F32:
        return _erf_inv32(x)
    if dt == np.float16:
        return lax.convert_element_type(_erf_inv32(lax.convert_element_type(x, _F32)), dt)
    return lax.erf_inv(x)


def _erf(x):
    # lax.erf's kernel fails on 0-d operands (reported); go through shape (1,)
    if get_aval(x).ndim == 0:
        return lax.reshape(lax.erf(lax.reshape(x, (1,))), ())
    return lax.erf(x)


def _log(x):
    dt = get_aval(x).dtype
    if dt == _F32:
        return _xla_log32(x)
    return lax.log(x)


def _log1p(x):
    dt = get_aval(x).dtype
    if dt == _F32:
        return _xla_log1p32(x)
    return lax.log1p(x)


# ----------------------------------------------------------------------------- samplers

def _uniform01(key, shape, dtype):
    """Floats in [0, 1): random mantissa bits with exponent 0, minus 1 (exactly JAX's
    bit trick, written as ``(bits >> (nbits - nmant)) * 2**-nmant``)."""
    fi = np.finfo(dtype)
    nbits, nmant = fi.bits, fi.nmant
    b = _random_bits(key, nbits, shape)
    udt = get_aval(b).dtype
    m = lax.div(b, _const(1 << (nbits - nmant), udt))
    return lax.mul(lax.convert_element_type(m, dtype), _const(2.0 ** -nmant, dtype))


def _uniform(key, shape, dtype, minval, maxval):
    f = _uniform01(key, shape, dtype)
    if (isinstance(minval, np.generic) and isinstance(maxval, np.generic)
            and minval == 0 and maxval == 1 and not np.signbit(minval)):
        return f    # f * 1 + 0 == f exactly
    span = fnp.subtract(maxval, minval)
    if dtype == _F32:
        span = fnp.broadcast_to(span, shape)
        lo = fnp.broadcast_to(fnp.asarray(minval), shape)
        r = _fma32(f, span, lo)       # XLA fuses floats * (max - min) + min
    else:
        r = fnp.add(fnp.multiply(f, span), minval)
    return fnp.broadcast_to(fnp.maximum(minval, r), shape)


def uniform(key, shape=(), dtype=None, minval=0., maxval=1.):
    """Uniform samples in ``[minval, maxval)`` (float32 by default).

    ``minval``/``maxval`` may be arrays broadcasting to ``shape``; gradients flow to them.

    >>> random.uniform(random.key(0), (2,), minval=-1.0, maxval=1.0).dtype
    dtype('float32')
    """
    key = _check_key("uniform", key)
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    minval = _param(minval, dtype, "uniform")
    maxval = _param(maxval, dtype, "uniform")
    _check_param_shapes("uniform", shape, minval, maxval)
    return _uniform(key, shape, dtype, minval, maxval)


def _normal_real(key, shape, dtype):
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))[()]
    u = _uniform(key, shape, dtype, lo, _const(1.0, dtype))
    return lax.mul(_const(np.sqrt(2), dtype), _erf_inv(u))


def normal(key, shape=(), dtype=None):
    """Standard normal samples (``sqrt(2) * erf_inv(u)``, ``u`` uniform in (-1, 1)).

    Complex dtypes give ``(re + 1j*im) / sqrt(2)`` from two split keys, as JAX.

    >>> random.normal(random.key(0), (3,))
    Array([ 1.6226422 ,  2.0252647 , -0.43359444], dtype=float32)
    """
    key = _check_key("normal", key)
    dtype = _float_dtype(dtype, "normal", allow_complex=True)
    shape = _shape(shape, "normal")
    if dtype.kind == "c":
        real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
        kr, ki = split(key)
        re = lax.convert_element_type(_normal_real(kr, shape, real), dtype)
        im = lax.convert_element_type(_normal_real(ki, shape, real), dtype)
        z = lax.add(re, lax.mul(im, _const(1j, dtype)))
        return lax.div(z, _const(np.sqrt(2), dtype))
    return _normal_real(key, shape, dtype)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal samples truncated to the open interval ``(lower, upper)``.

    ``lower``/``upper`` may be arrays (and ``-inf``/``inf``); ``shape`` defaults to
    their broadcast shape.  Samples are differentiable in the bounds.

    >>> x = random.truncated_normal(random.key(0), -2.0, 2.0, (1000,))
    >>> bool((x > -2).all() and (x < 2).all())
    True
    """
    key = _check_key("truncated_normal", key)
    dtype = _float_dtype(dtype, "truncated_normal")
    lower = _param(lower, dtype, "truncated_normal")
    upper = _param(upper, dtype, "truncated_normal")
    if shape is None:
        shape = np.broadcast_shapes(get_aval(lower).shape, get_aval(upper).shape)
    else:
        shape = _shape(shape, "truncated_normal")
        _check_param_shapes("truncated_normal", shape, lower, upper)
    sqrt2 = _const(np.sqrt(2), dtype)
    a = _erf(fnp.divide(lower, sqrt2))
    b = _erf(fnp.divide(upper, sqrt2))
    u = _uniform(key, shape, dtype, a, b)
    out = lax.mul(sqrt2, _erf_inv(u))
    lo = fnp.nextafter(lax.stop_gradient(lower), _const(np.inf, dtype))
    hi = fnp.nextafter(lax.stop_gradient(upper), _const(-np.inf, dtype))
    return fnp.minimum(fnp.maximum(out, lo), hi)


def bernoulli(key, p=0.5, shape=None):
    """Boolean samples that are True with probability ``p`` (``uniform < p``).

    >>> random.bernoulli(random.key(0), 0.3, (4,)).dtype
    dtype('bool')
    """
    key = _check_key("bernoulli", key)
    p = fnp.asarray(p)
    dt = get_aval(p).dtype
    if dt.kind != "f":
        raise TypeError(f"random.bernoulli: the probability p must have a floating "
                        f"dtype, got {dt.name}")
    if shape is None:
        shape = get_aval(p).shape
    else:
        shape = _shape(shape, "bernoulli")
        _check_param_shapes("bernoulli", shape, p)
    return fnp.less(_uniform01(key, shape, dt), p)


def gumbel(key, shape=(), dtype=None, mode="low"):
    """Standard Gumbel samples ``-log(-log(u))``.

    ``mode="high"`` uses two uniforms per sample for a wider tail in float32 (as JAX).
    """
    key = _check_key("gumbel", key)
    dtype = _float_dtype(dtype, "gumbel")
    shape = _shape(shape, "gumbel")
    return _gumbel(key, shape, dtype, mode)


def _gumbel(key, shape, dtype, mode):
    fi = np.finfo(dtype)
    if mode == "low":
        u = _uniform(key, shape, dtype, _const(fi.tiny, dtype), _const(1.0, dtype))
        return lax.neg(_log(lax.neg(_log(u))))
    if mode == "high":
        both = _uniform01(key, (2,) + tuple(shape), dtype)
        high = lax.index_in_dim(both, 0, 0, False)
        low = lax.index_in_dim(both, 1, 0, False)
        x = lax.add(lax.add(high, lax.mul(_const(2.0 ** -fi.nmant, dtype), low)),
                    _const(fi.tiny, dtype))
        x = lax.select(lax.ge(high, _const(0.5, dtype)), high, x)
        return lax.neg(_log(lax.neg(_log1p(lax.neg(x)))))
    raise ValueError(f"random.gumbel: mode must be 'low' or 'high', got {mode!r}")


def exponential(key, shape=(), dtype=None):
    """Standard exponential samples ``-log1p(-u)``."""
    key = _check_key("exponential", key)
    dtype = _float_dtype(dtype, "exponential")
    u = _uniform01(key, _shape(shape, "exponential"), dtype)
    return lax.neg(_log1p(lax.neg(u)))


def laplace(key, shape=(), dtype=None):
    """Standard Laplace samples (density ``exp(-|x|) / 2``)."""
    key = _check_key("laplace", key)
    dtype = _float_dtype(dtype, "laplace")
    u = _uniform(key, _shape(shape, "laplace"), dtype,
                 _const(-1.0 + np.finfo(dtype).epsneg, dtype), _const(1.0, dtype))
    return lax.mul(lax.sign(u), _log1p(lax.neg(lax.abs(u))))


def logistic(key, shape=(), dtype=None):
    """Standard logistic samples ``log(u) - log1p(-u)``."""
    key = _check_key("logistic", key)
    dtype = _float_dtype(dtype, "logistic")
    u = _uniform(key, _shape(shape, "logistic"), dtype,
                 _const(np.finfo(dtype).tiny, dtype), _const(1.0, dtype))
    return lax.sub(_log(u), _log1p(lax.neg(u)))


def rademacher(key, shape=(), dtype=None):
    """Samples of -1 or +1 with equal probability (int32 by default)."""
    key = _check_key("rademacher", key)
    dt = dtypes.default_int_dtype() if dtype is None else dtypes.check_supported(
        dtype, "random.rademacher")
    b = bernoulli(key, 0.5, _shape(shape, "rademacher"))
    return lax.convert_element_type(lax.sub(lax.mul(lax.convert_element_type(b, dt),
                                                    _const(2, dt)), _const(1, dt)), dt)


def categorical(key, logits, axis=-1, shape=None, replace=True):
    """Sample category indices from unnormalized log-probabilities (Gumbel-max trick).

    The result has shape ``shape`` (default: ``logits.shape`` without ``axis``);
    ``shape`` may add leading sample dimensions.  ``replace=False`` draws distinct
    categories (Gumbel top-k).

    >>> logits = fnp.log(fnp.array([0.1, 0.2, 0.7]))
    >>> random.categorical(random.key(0), logits, shape=(5,)).shape
    (5,)
    """
    key = _check_key("categorical", key)
    logits = fnp.asarray(logits)
    aval = get_aval(logits)
    if aval.dtype.kind != "f":
        logits = lax.convert_element_type(logits, dtypes.default_float_dtype())
        aval = get_aval(logits)
    if aval.ndim == 0:
        raise ValueError("random.categorical: logits must have at least one dimension")
    ax = _canon_axis(axis, aval.ndim, "categorical")
    batch_shape = tuple(d for i, d in enumerate(aval.shape) if i != ax)
    if shape is None:
        shape = batch_shape
    else:
        shape = _shape(shape, "categorical")
        try:
            ok = np.broadcast_shapes(shape, batch_shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"random.categorical: shape {shape} must be broadcast-"
                             f"compatible with the batch shape {batch_shape} (logits "
                             f"shape {aval.shape} without axis {axis})")
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        neg_axis = ax - aval.ndim
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(neg_axis % aval.ndim, aval.shape[ax])
        g = _gumbel(key, (*prefix, *logits_shape), aval.dtype, "low")
        lg = lax.expand_dims(logits, tuple(range(len(prefix)))) if prefix else logits
        return fnp.argmax(fnp.add(g, lg), axis=neg_axis)
    k = math.prod(prefix)
    n = aval.shape[ax]
    if k > n:
        raise ValueError(f"random.categorical: cannot draw {k} samples without "
                         f"replacement from {n} categories")
    g = fnp.add(logits, _gumbel(key, aval.shape, aval.dtype, "low"))
    _, idx = lax.top_k(fnp.moveaxis(g, ax, -1), k)     # batch_shape + (k,)
    nd = get_aval(idx).ndim
    idx = lax.transpose(idx, (nd - 1,) + tuple(range(nd - 1)))
    return lax.reshape(idx, shape)


def _convert_and_clip_integer(v, dtype):
    """Convert integer ``v`` to ``dtype``, clipping to its range instead of wrapping."""
    vdt = get_aval(v).dtype
    lo = max(int(np.iinfo(dtype).min), int(np.iinfo(vdt).min))
    hi = min(int(np.iinfo(dtype).max), int(np.iinfo(vdt).max))
    v = lax.clamp(_const(lo, vdt), v, _const(hi, vdt))
    return lax.convert_element_type(v, dtype)


def _int_param(v, name):
    v = fnp.asarray(v)
    if get_aval(v).dtype.kind not in "iu":
        v = lax.convert_element_type(v, dtypes.default_int_dtype())
    return v


def _urem(x, span):
    """``x % span`` for unsigned ints, with ``x % 0 == x`` (as XLA)."""
    zero = lax.eq(span, _const(0, get_aval(span).dtype))
    safe = lax.select(zero, _const(1, get_aval(span).dtype), span)
    return lax.select(zero, x, lax.rem(x, safe))


def randint(key, shape, minval, maxval, dtype=None):
    """Uniform random integers in ``[minval, maxval)`` (int32 by default).

    Same algorithm and numbers as ``jax.random.randint`` (two 32-bit draws per value,
    a modulus; ``maxval <= minval`` gives ``minval``).

    >>> random.randint(random.key(0), (4,), 0, 10)
    Array([9, 0, 2, 3], dtype=int32)
    """
    key = _check_key("randint", key)
    dt = dtypes.default_int_dtype() if dtype is None else dtypes.check_supported(
        dtype, "random.randint")
    if dt.kind not in "iu":
        raise TypeError(f"random.randint: dtype must be an integer dtype, got {dt.name}")
    shape = _shape(shape, "randint")
    minval = _int_param(minval, "randint")
    maxval = _int_param(maxval, "randint")
    _check_param_shapes("randint", shape, minval, maxval)
    info = np.iinfo(dt)
    if info.bits < 32:
        # sample in 32 bits to reduce the modulus bias, then cast (as JAX)
        i32 = np.dtype(np.int32)
        mn = fnp.clip(lax.convert_element_type(minval, i32), int(info.min), int(info.max))
        mx = fnp.clip(lax.convert_element_type(maxval, i32), int(info.min),
                      int(info.max) + 1)
        return lax.convert_element_type(_randint(key, shape, mn, mx, i32), dt)
    return _randint(key, shape, minval, maxval, dt)


def _randint(key, shape, minval, maxval, dtype):
    nbits = np.iinfo(dtype).bits
    udt = np.dtype(f"uint{nbits}")
    mx_dt = get_aval(maxval).dtype
    top = _convert_and_clip_integer(fnp.asarray(np.asarray(np.iinfo(dtype).max, dtype)),
                                    mx_dt)
    maxval_out_of_range = fnp.greater(maxval, top)
    minval = _convert_and_clip_integer(minval, dtype)
    maxval = _convert_and_clip_integer(maxval, dtype)
    minval = fnp.broadcast_to(minval, shape)
    maxval = fnp.broadcast_to(maxval, shape)
    maxval_out_of_range = fnp.broadcast_to(maxval_out_of_range, shape)
    k1, k2 = (lax.index_in_dim(split(key), i, 0, False) for i in (0, 1))
    higher = _random_bits(k1, nbits, shape)
    lower = _random_bits(k2, nbits, shape)
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    one = _const(1, udt)
    span = lax.select(lax.le(maxval, minval), one, span)
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, one), span)
    multiplier = _urem(lax.full(shape, 2 ** (nbits // 2), udt), span)
    multiplier = _urem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(_urem(higher, span), multiplier), _urem(lower, span))
    offset = _urem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


# ----------------------------------------------------------------------------- shuffles

def _shuffle(key, x, axis):
    """Shuffle ``x`` along ``axis`` by stable sorts on random 32-bit keys (JAX's
    algorithm: enough rounds that all sort keys are distinct with high probability)."""
    size = get_aval(x).size
    num_rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(num_rounds):
        ks = split(key)
        key = lax.index_in_dim(ks, 0, 0, False)
        sub = lax.index_in_dim(ks, 1, 0, False)
        sort_keys = _random_bits(sub, 32, get_aval(x).shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (int ``x``) or of ``x`` along ``axis``.

    ``independent=True`` shuffles each slice along ``axis`` independently.

    >>> sorted(random.permutation(random.key(0), 5).tolist())
    [0, 1, 2, 3, 4]
    """
    key = _check_key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        n = int(x)
        if n < 0:
            raise ValueError(f"random.permutation: x must be non-negative, got {n}")
        return _shuffle(key, fnp.arange(n), 0)
    x = fnp.asarray(x)
    aval = get_aval(x)
    if aval.ndim == 0:
        if aval.dtype.kind not in "iu":
            raise TypeError("random.permutation: x must be an integer or an array with "
                            "at least one dimension")
        if isinstance(x, Tracer):
            raise TypeError("random.permutation: an integer x sets the output size and "
                            "must be concrete (a Python int), not a traced value")
        return _shuffle(key, fnp.arange(int(x)), 0)
    ax = _canon_axis(axis, aval.ndim, "permutation")
    if independent or aval.ndim == 1:
        return _shuffle(key, x, ax)
    ind = _shuffle(key, fnp.arange(aval.shape[ax]), 0)
    return fnp.take(x, ind, axis=ax)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Random samples from ``a`` (an array, or ``arange(a)`` for an int).

    ``replace=False`` draws distinct elements; ``p`` gives the probabilities of the
    entries of ``a`` along ``axis``.

    >>> random.choice(random.key(0), 10, (3,), replace=False).shape
    (3,)
    """
    key = _check_key("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"random.choice: shape must be a sequence of ints, got {shape!r}")
    shape = _shape(shape, "choice")
    arr = fnp.asarray(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        if isinstance(arr, Tracer):
            raise TypeError("random.choice: an integer a (the population size) must be "
                            "concrete, not a traced value")
        n_inputs = int(arr)
    else:
        axis = _canon_axis(axis, aval.ndim, "choice")
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, dtype=aval.dtype)
    if n_inputs <= 0:
        raise ValueError("random.choice: a must be greater than 0 unless no samples are "
                         "taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"random.choice: cannot take a larger sample (size {n_draws}) "
                         f"than the population (size {n_inputs}) when replace=False")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if aval.ndim == 0 else fnp.take(arr, ind, axis=axis)
        else:
            if aval.ndim == 0:
                perm = permutation(key, n_inputs)
                result = lax.slice_in_dim(perm, 0, n_draws, 1, 0)
            else:
                perm = permutation(key, arr, axis)
                result = lax.slice_in_dim(perm, 0, n_draws, 1, axis)
    else:
        p_arr = fnp.asarray(p)
        if get_aval(p_arr).dtype.kind != "f":
            p_arr = lax.convert_element_type(p_arr, dtypes.default_float_dtype())
        if get_aval(p_arr).shape != (n_inputs,):
            raise ValueError(f"random.choice: p must be None or a 1-d vector with the same "
                             f"size as a.shape[axis] ({n_inputs}), got shape "
                             f"{get_aval(p_arr).shape}")
        pdt = get_aval(p_arr).dtype
        if replace:
            p_cuml = fnp.cumsum(p_arr)
            total = lax.index_in_dim(p_cuml, n_inputs - 1, 0, False)
            r = fnp.multiply(total, fnp.subtract(_const(1, pdt),
                                                 _uniform01(key, shape, pdt)))
            # searchsorted(p_cuml, r, side="left") = #{i : p_cuml[i] < r}
            less = fnp.less(p_cuml, fnp.expand_dims(r, -1))
            ind = fnp.sum(lax.convert_element_type(less, np.int32), axis=-1)
            ind = lax.convert_element_type(ind, dtypes.default_int_dtype())
        else:
            g = fnp.add(_gumbel(key, (n_inputs,), pdt, "low"), fnp.log(p_arr))
            ind = lax.convert_element_type(lax.top_k(g, n_draws)[1],
                                           dtypes.default_int_dtype())
        result = ind if aval.ndim == 0 else fnp.take(arr, ind, axis=axis)
    out_shape = shape if aval.ndim == 0 else (aval.shape[:axis] + tuple(shape)
                                              + aval.shape[axis + 1:])
    return fnp.reshape(result, out_shape)


# ----------------------------------------------------------------------------- gamma family
# gamma, loggamma, beta, dirichlet, chisquare, t and poisson use rejection samplers (a
# ``lax.while_loop`` over the whole batch with a per-element "accepted" mask; every round
# draws fresh normals/uniforms for all elements from a key split off the loop's key, and
# accepted elements keep their value).  Element ``i`` therefore depends only on the key,
# its parameter and its flat position, so ``vmap`` over keys or parameters gives the same
# numbers as a Python loop.  The arithmetic runs in float64 (the random draws are float32
# for float16/float32 results) and the result is rounded to ``dtype`` once.  These streams
# are *not* JAX's (JAX draws per element with its own key splitting).

def _dist_param(v, dtype, name, what):
    """A real distribution parameter converted to ``dtype`` (complex ones are refused,
    as JAX refuses unsafe casts)."""
    if isinstance(v, complex) or (not isinstance(v, (bool, int, float)) and not _is_array(v)
                                  and not isinstance(v, (list, tuple))):
        raise TypeError(f"random.{name}: {what} must be a real number or array, got "
                        f"{type(v).__name__}")
    if not isinstance(v, (bool, int, float)):
        v = fnp.asarray(v)
        kind = get_aval(v).dtype.kind
        if kind not in "biuf":
            raise TypeError(f"random.{name}: cannot safely cast {what} of dtype "
                            f"{get_aval(v).dtype.name} to {np.dtype(dtype).name}; {what} "
                            "must be real")
    return _param(v, dtype, name)


def _dist_shape(name, shape, *params):
    """``shape`` checked against the parameter shapes, or their broadcast if None."""
    if shape is None:
        pshapes = [get_aval(p).shape for p in params]
        try:
            return tuple(np.broadcast_shapes(*pshapes))
        except ValueError:
            raise ValueError(f"random.{name}: parameter shapes "
                             f"{', '.join(str(s) for s in pshapes)} do not broadcast "
                             "together") from None
    shape = _shape(shape, name)
    _check_param_shapes(name, shape, *params)
    return shape


def _bcast(v, shape):
    return v if get_aval(v).shape == tuple(shape) else fnp.broadcast_to(v, shape)


def _draw_dtype(dtype):
    """Dtype of the random draws: float32 for results of at most 32 bits, else float64."""
    return _F32 if np.dtype(dtype).itemsize <= 4 else _F64


def _c64(v):
    return np.float64(v)


def _split_n(key, n):
    ks = split(key, n)
    return [lax.index_in_dim(ks, i, 0, False) for i in range(n)]


def _gamma_impl(key, a, log_space, draw):
    """Marsaglia-Tsang gamma samples for float64 ``a`` (any shape); the sample, or its
    log with ``log_space``.  ``a < 1`` is boosted: Gamma(a) = Gamma(a + 1) * U**(1/a)."""
    shape = get_aval(a).shape
    one = _c64(1.0)
    valid = fnp.logical_and(lax.gt(a, _c64(0)), lax.lt(a, _c64(np.inf)))
    boost = fnp.logical_and(valid, lax.lt(a, one))
    alpha = lax.select(boost, lax.add(a, one), a)
    alpha = lax.select(valid, alpha, lax.full(shape, 1.0, _F64))
    d = lax.sub(alpha, _c64(1 / 3))
    c = lax.div(_c64(1 / 3), lax.sqrt(d))
    k_loop, k_boost = _split_n(key, 2)

    def cond(state):
        return fnp.any(lax.bitwise_not(state[2]))

    def body(state):
        k, V, acc = state
        k, kx, ku = _split_n(k, 3)
        x = _f64(_normal_real(kx, shape, draw))
        u = lax.sub(one, _f64(_uniform01(ku, shape, draw)))         # in (0, 1]
        v = lax.add(one, lax.mul(c, x))
        pos = lax.gt(v, _c64(0))
        v = lax.select(pos, v, lax.full(shape, 1.0, _F64))
        v3 = lax.mul(lax.mul(v, v), v)
        x2 = lax.mul(x, x)
        squeeze = lax.lt(u, lax.sub(one, lax.mul(_c64(0.0331), lax.mul(x2, x2))))
        bound = lax.add(lax.mul(_c64(0.5), x2),
                        lax.mul(d, lax.add(lax.sub(one, v3),
                                           lax.mul(_c64(3.0), lax.log(v)))))
        ok = fnp.logical_and(pos, fnp.logical_or(squeeze, lax.lt(lax.log(u), bound)))
        V = lax.select(fnp.logical_and(ok, lax.bitwise_not(acc)), v3, V)
        return k, V, fnp.logical_or(acc, ok)

    init = (k_loop, lax.full(shape, 1.0, _F64), lax.bitwise_not(valid))
    _, V, _ = lax.while_loop(cond, body, init)
    ub = lax.sub(one, _f64(_uniform01(k_boost, shape, draw)))        # in (0, 1]
    a_safe = lax.select(valid, a, lax.full(shape, 1.0, _F64))
    if log_space:
        out = lax.add(lax.log(d), lax.log(V))
        out = lax.select(boost, lax.add(out, lax.div(lax.log(ub), a_safe)), out)
    else:
        out = lax.mul(d, V)
        out = lax.select(boost, lax.mul(out, lax.pow(ub, lax.div(one, a_safe))), out)
    # a == 0 -> 0 (-inf in log space), a == inf -> inf, a < 0 or nan -> nan (as JAX)
    special = lax.select(lax.eq(a, _c64(0)),
                         lax.full(shape, -np.inf if log_space else 0.0, _F64),
                         lax.full(shape, np.inf, _F64))
    bad = lax.bitwise_not(lax.ge(a, _c64(0)))
    special = lax.select(bad, lax.full(shape, np.nan, _F64), special)
    return lax.select(valid, out, special)


def _dlogx_da(a, logx):
    """``d log(x) / d a`` of a Gamma(a) sample ``x`` at a fixed value of its CDF
    ``P(a, x)`` (implicit reparameterisation: ``dx/da = -(dP/da) / p(x; a)``), float64.

    ``x < a + 1``: the series ``P = x**a e**-x / Gamma(a+1) * sum_n x**n / (a+1)...(a+n)``
    differentiated term by term; ``x >= a + 1``: Legendre's continued fraction for
    ``Q = 1 - P`` differentiated along Lentz's recurrence; ``a >= 1000``: the derivative
    of the Wilson-Hilferty approximation ``P ~ Phi(3 sqrt(a) ((x/a)**(1/3) - 1 + 1/(9a)))``
    (relative error about 1e-6 at a = 1000, decreasing like 1/a**2).  Each loop freezes
    an element once it has converged."""
    shape = get_aval(a).shape
    full = lambda v: lax.full(shape, v, _F64)
    one = _c64(1.0)
    ok = fnp.logical_and(fnp.logical_and(lax.gt(a, _c64(0)), lax.lt(a, _c64(np.inf))),
                         fnp.isfinite(logx))
    a = lax.select(ok, a, full(1.0))
    logx = lax.select(ok, logx, full(0.0))
    x = lax.exp(logx)
    wh = lax.ge(a, _c64(1000.0))
    use_cf = fnp.logical_and(lax.bitwise_not(wh), lax.ge(x, lax.add(a, one)))
    use_se = fnp.logical_and(lax.bitwise_not(wh), lax.bitwise_not(use_cf))

    # series (x < a + 1): t_n = t_{n-1} x / (a + n), S = sum t_n, S' = dS/da
    a_s = lax.select(use_se, a, full(1.0))
    x_s = lax.select(use_se, x, full(0.5))

    def se_body(st):
        n, t, h, S, Sp, done = st
        n = lax.add(n, one)
        apn = lax.add(a_s, n)
        t2 = lax.mul(t, lax.div(x_s, apn))
        h2 = lax.add(h, lax.div(one, apn))
        S2 = lax.add(S, t2)
        Sp2 = lax.sub(Sp, lax.mul(t2, h2))
        keep = lambda old, new: lax.select(done, old, new)
        done2 = fnp.logical_or(done, lax.le(t2, lax.mul(_c64(1e-17), S2)))
        return n, keep(t, t2), keep(h, h2), keep(S, S2), keep(Sp, Sp2), done2

    se_cond = lambda st: fnp.logical_and(fnp.any(lax.bitwise_not(st[5])),
                                         lax.lt(st[0], _c64(5000)))
    _, _, _, S, Sp, _ = lax.while_loop(se_cond, se_body, (
        _c64(0), full(1.0), full(0.0), full(1.0), full(0.0), lax.bitwise_not(use_se)))
    g_se = lax.neg(lax.div(lax.add(lax.mul(S, lax.sub(logx, lax.digamma(lax.add(a, one)))),
                                   Sp), a))

    # continued fraction (x >= a + 1), modified Lentz with forward-mode derivatives in a
    a_c = lax.select(use_cf, a, full(1.0))
    x_c = lax.select(use_cf, x, full(3.0))
    b0 = lax.sub(lax.add(x_c, one), a_c)
    tiny = _c64(1e-300)

    def cf_body(st):
        i, b, c, dc, d, dd, h, dh, done = st
        i = lax.add(i, one)
        an = lax.mul(lax.neg(i), lax.sub(i, a_c))
        dan = i
        b2 = lax.add(b, _c64(2.0))
        D = lax.add(lax.mul(an, d), b2)
        dD = lax.sub(lax.add(lax.mul(dan, d), lax.mul(an, dd)), one)
        D = lax.select(lax.lt(lax.abs(D), tiny), full(1e-300), D)
        C = lax.add(b2, lax.div(an, c))
        dC = lax.sub(lax.sub(lax.div(dan, c), lax.mul(lax.div(an, c), lax.div(dc, c))), one)
        C = lax.select(lax.lt(lax.abs(C), tiny), full(1e-300), C)
        d2 = lax.div(one, D)
        dd2 = lax.neg(lax.mul(dD, lax.mul(d2, d2)))
        de = lax.mul(d2, C)
        dde = lax.add(lax.mul(dd2, C), lax.mul(d2, dC))
        h2 = lax.mul(h, de)
        dh2 = lax.add(lax.mul(dh, de), lax.mul(h, dde))
        keep = lambda old, new: lax.select(done, old, new)
        # the value may converge (even terminate, for integer a) before its derivative
        conv = fnp.logical_and(
            lax.lt(lax.abs(lax.sub(de, one)), _c64(1e-15)),
            lax.le(lax.abs(lax.mul(h, dde)), lax.mul(_c64(1e-15), lax.abs(dh2))))
        done2 = fnp.logical_or(done, conv)
        return (i, keep(b, b2), keep(c, C), keep(dc, dC), keep(d, d2), keep(dd, dd2),
                keep(h, h2), keep(dh, dh2), done2)

    cf_cond = lambda st: fnp.logical_and(fnp.any(lax.bitwise_not(st[8])),
                                         lax.lt(st[0], _c64(5000)))
    d0 = lax.div(one, b0)
    dd0 = lax.mul(d0, d0)
    st = lax.while_loop(cf_cond, cf_body, (
        _c64(0), b0, full(1e300), full(0.0), d0, dd0, d0, dd0, lax.bitwise_not(use_cf)))
    F, dF = st[6], st[7]
    g_cf = lax.add(lax.mul(F, lax.sub(logx, lax.digamma(a))), dF)

    # Wilson-Hilferty (a >= 200)
    r = lax.exp(lax.div(lax.sub(logx, lax.log(a)), _c64(3.0)))
    g_wh = lax.neg(lax.div(lax.sub(lax.sub(lax.mul(_c64(0.5), r), _c64(1.5)),
                                   lax.div(one, lax.mul(_c64(6.0), a))), lax.mul(a, r)))
    g = lax.select(wh, g_wh, lax.select(use_cf, g_cf, g_se))
    return lax.select(ok, g, full(0.0))


def _gamma_core(key, a, log_space, draw):
    return _gamma_impl(key, a, log_space, draw)


_gamma_core = custom_jvp(_gamma_core, nondiff_argnums=(2, 3))


@_gamma_core.defjvp
def _gamma_core_jvp(log_space, draw, primals, tangents):
    key, a = primals
    ta = tangents[1]
    out = _gamma_core(key, a, log_space, draw)
    if log_space:
        dout = _dlogx_da(a, out)
    else:
        pos = lax.gt(out, _c64(0))
        safe = lax.select(pos, out, lax.full(get_aval(out).shape, 1.0, _F64))
        g = _dlogx_da(a, lax.log(safe))
        dout = lax.select(pos, lax.mul(out, g), lax.full(get_aval(out).shape, 0.0, _F64))
    return out, lax.mul(ta, dout)


def _gamma(key, a, shape, dtype, log_space):
    """Gamma samples (or their logs) of ``dtype`` and ``shape`` for a parameter ``a``
    already converted to ``dtype`` and broadcast-compatible with ``shape``."""
    a64 = _f64(_bcast(a, shape))
    out = _gamma_core(key, a64, bool(log_space), _draw_dtype(dtype))
    return lax.convert_element_type(out, dtype)


def gamma(key, a, shape=None, dtype=None):
    """Standard gamma samples (density ``x**(a-1) exp(-x) / Gamma(a)``, ``a > 0``).

    ``a`` may be an array broadcasting to ``shape`` (default: ``a``'s shape).  Divide by a
    rate (or multiply by a scale) for other gamma distributions.  Marsaglia-Tsang
    rejection sampling (``a < 1`` via ``Gamma(a + 1) * U**(1/a)``), vectorised as one
    ``lax.while_loop`` with a per-element accepted mask; works eagerly, under ``jit`` and
    ``vmap``.  Samples are differentiable in ``a`` by implicit reparameterisation (as
    JAX): ``dx/da = -(dP(a, x)/da) / p(x; a)`` with the CDF derivative from its series /
    continued fraction.  ``a == 0`` gives 0, ``a < 0`` or NaN gives NaN.  The stream is
    not JAX's (same distribution, other numbers).

    >>> x = random.gamma(random.key(0), 2.0, (1000,))
    >>> x.shape, bool((x > 0).all()), abs(float(x.mean()) - 2.0) < 0.2
    ((1000,), True, True)
    >>> mean_x = lambda a: fnp.mean(random.gamma(random.key(0), a, (1000,)))
    >>> round(float(fg.grad(mean_x)(2.0)), 2)      # d E[x] / d a = 1
    1.01
    """
    key = _check_key("gamma", key)
    dtype = _float_dtype(dtype, "gamma")
    a = _dist_param(a, dtype, "gamma", "a")
    shape = _dist_shape("gamma", shape, a)
    return _gamma(key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None):
    """Logarithms of standard gamma samples, computed in log space.

    ``exp(loggamma(key, a))`` equals ``gamma(key, a)`` (up to rounding), but for small
    ``a`` (where gamma samples underflow to 0) the logs stay finite and accurate.
    Differentiable in ``a`` like ``gamma``; not JAX's stream.

    >>> lx = random.loggamma(random.key(0), 1e-3, (3,))
    >>> bool(fnp.isfinite(lx).all())
    True
    """
    key = _check_key("loggamma", key)
    dtype = _float_dtype(dtype, "loggamma")
    a = _dist_param(a, dtype, "loggamma", "a")
    shape = _dist_shape("loggamma", shape, a)
    return _gamma(key, a, shape, dtype, True)


def beta(key, a, b, shape=None, dtype=None):
    """Beta(``a``, ``b``) samples in [0, 1] (density ``∝ x**(a-1) (1-x)**(b-1)``).

    Computed as ``Ga / (Ga + Gb)`` from two independent log-gamma draws (in log space,
    as JAX, so that small ``a``/``b`` do not give 0/0).  ``shape`` defaults to the
    broadcast shape of ``a`` and ``b``; differentiable in both.  Not JAX's stream.

    >>> x = random.beta(random.key(0), 2.0, fnp.array([1.0, 5.0]), (500, 2))
    >>> bool(((x >= 0) & (x <= 1)).all()), x.shape
    (True, (500, 2))
    """
    key = _check_key("beta", key)
    dtype = _float_dtype(dtype, "beta")
    a = _dist_param(a, dtype, "beta", "a")
    b = _dist_param(b, dtype, "beta", "b")
    shape = _dist_shape("beta", shape, a, b)
    ka, kb = _split_n(key, 2)
    la = _gamma(ka, a, shape, dtype, True)
    lb = _gamma(kb, b, shape, dtype, True)
    m = lax.stop_gradient(lax.max(la, lb))
    ea = lax.exp(lax.sub(la, m))
    eb = lax.exp(lax.sub(lb, m))
    return lax.div(ea, lax.add(ea, eb))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(``alpha``) samples: vectors along the last axis, positive, summing to 1.

    ``alpha`` has shape ``(..., k)``; the result has shape ``shape + (k,)`` where
    ``shape`` (default ``alpha.shape[:-1]``) must be broadcast-compatible with
    ``alpha.shape[:-1]``.  A softmax of log-gamma draws (as JAX); differentiable in
    ``alpha``.  Not JAX's stream.

    >>> x = random.dirichlet(random.key(0), fnp.array([1.0, 2.0, 3.0]), (4,))
    >>> x.shape, bool(fnp.allclose(x.sum(-1), 1.0))
    ((4, 3), True)
    """
    key = _check_key("dirichlet", key)
    dtype = _float_dtype(dtype, "dirichlet")
    alpha = _dist_param(alpha, dtype, "dirichlet", "alpha")
    ashape = get_aval(alpha).shape
    if len(ashape) < 1:
        raise ValueError("random.dirichlet: alpha must have at least one dimension (the "
                         f"categories, shape (..., k)), got alpha.ndim == {len(ashape)}")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = _shape(shape, "dirichlet")
        try:
            ok = tuple(np.broadcast_shapes(shape, ashape[:-1])) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"random.dirichlet: shape {shape} must be broadcast-"
                             f"compatible with alpha's batch shape {ashape[:-1]} (alpha.shape "
                             f"{ashape} without its last axis) and equal their broadcast")
    lg = _gamma(key, alpha, tuple(shape) + ashape[-1:], dtype, True)
    m = lax.stop_gradient(fnp.max(lg, axis=-1, keepdims=True))
    e = lax.exp(lax.sub(lg, fnp.broadcast_to(m, get_aval(lg).shape)))
    return fnp.divide(e, fnp.sum(e, axis=-1, keepdims=True))


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square samples with ``df`` degrees of freedom (``2 * Gamma(df / 2)``).

    ``shape`` defaults to ``df``'s shape; differentiable in ``df``.  Not JAX's stream.

    >>> x = random.chisquare(random.key(0), 3.0, (2000,))
    >>> abs(float(x.mean()) - 3.0) < 0.3
    True
    """
    key = _check_key("chisquare", key)
    dtype = _float_dtype(dtype, "chisquare")
    df = _dist_param(df, dtype, "chisquare", "df")
    shape = _dist_shape("chisquare", shape, df)
    half = fnp.divide(df, _const(2.0, dtype)) if _is_array(df) else _const(df / 2, dtype)
    lg = _gamma(key, half, shape, dtype, True)
    return lax.mul(lax.exp(lg), _const(2.0, dtype))


def t(key, df, shape=None, dtype=None):
    """Student's t samples with ``df`` degrees of freedom (``n * sqrt(df/2 / g)`` with
    ``n`` standard normal and ``g ~ Gamma(df/2)``, as JAX).

    ``shape`` defaults to ``df``'s shape (JAX's current signature); differentiable in
    ``df``.  Not JAX's stream.

    >>> random.t(random.key(0), 5.0, (2, 3)).shape
    (2, 3)
    """
    key = _check_key("t", key)
    dtype = _float_dtype(dtype, "t")
    df = _dist_param(df, dtype, "t", "df")
    shape = _dist_shape("t", shape, df)
    kn, kg = _split_n(key, 2)
    n = _normal_real(kn, shape, dtype)
    half = fnp.divide(df, _const(2.0, dtype)) if _is_array(df) else _const(df / 2, dtype)
    g = _gamma(kg, half, shape, dtype, False)
    return lax.mul(n, lax.sqrt(lax.div(_bcast(fnp.asarray(half), shape), g)))


def _poisson_knuth(key, lam, shape, draw):
    """Knuth: count uniforms until their product drops below ``exp(-lam)``, minus one."""
    one = _c64(1.0)
    neg_lam = lax.neg(lam)

    def cond(st):
        return fnp.any(lax.gt(st[2], neg_lam))

    def body(st):
        k, cnt, logp = st
        k, sub = _split_n(k, 2)
        active = lax.gt(logp, neg_lam)
        u = lax.sub(one, _f64(_uniform01(sub, shape, draw)))        # in (0, 1]
        cnt = lax.select(active, lax.add(cnt, one), cnt)
        logp = lax.select(active, lax.add(logp, lax.log(u)), logp)
        return k, cnt, logp

    _, cnt, _ = lax.while_loop(cond, body, (key, lax.full(shape, 0.0, _F64),
                                            lax.full(shape, 0.0, _F64)))
    return lax.sub(cnt, one)


def _poisson_rejection(key, lam, shape, draw):
    """Hörmann's transformed rejection (PTRS) for ``lam >= 10``, as JAX/TensorFlow."""
    c = _c64
    full = lambda v: lax.full(shape, v, _F64)
    log_lam = lax.log(lam)
    b = lax.add(c(0.931), lax.mul(c(2.53), lax.sqrt(lam)))
    a = lax.add(c(-0.059), lax.mul(c(0.02483), b))
    inv_alpha = lax.add(c(1.1239), lax.div(c(1.1328), lax.sub(b, c(3.4))))
    v_r = lax.sub(c(0.9277), lax.div(c(3.6224), lax.sub(b, c(2.0))))

    def cond(st):
        return fnp.any(lax.bitwise_not(st[2]))

    def body(st):
        key, k_out, acc = st
        key, k0, k1 = _split_n(key, 3)
        u = lax.sub(_f64(_uniform01(k0, shape, draw)), c(0.5))
        v = lax.sub(c(1.0), _f64(_uniform01(k1, shape, draw)))      # in (0, 1]
        us = lax.sub(c(0.5), lax.abs(u))
        us_ok = lax.gt(us, c(0.0))
        us = lax.select(us_ok, us, full(0.5))
        k = lax.floor(lax.add(lax.mul(lax.add(lax.div(lax.mul(c(2.0), a), us), b), u),
                              lax.add(lam, c(0.43))))
        s = lax.log(lax.div(lax.mul(v, inv_alpha), lax.add(lax.div(a, lax.mul(us, us)), b)))
        k_safe = lax.select(lax.ge(k, c(0.0)), k, full(0.0))
        tt = lax.sub(lax.add(lax.neg(lam), lax.mul(k_safe, log_lam)),
                     lax.lgamma(lax.add(k_safe, c(1.0))))
        accept1 = fnp.logical_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        reject = fnp.logical_or(lax.lt(k, c(0.0)),
                                fnp.logical_and(lax.lt(us, c(0.013)), lax.gt(v, us)))
        ok = fnp.logical_or(accept1,
                            fnp.logical_and(lax.bitwise_not(reject), lax.le(s, tt)))
        ok = fnp.logical_and(ok, us_ok)
        k_out = lax.select(fnp.logical_and(ok, lax.bitwise_not(acc)), k, k_out)
        return key, k_out, fnp.logical_or(acc, ok)

    init = (key, full(-1.0), lax.full(shape, False, np.bool_))
    _, k, _ = lax.while_loop(cond, body, init)
    return k


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(``lam``) samples: non-negative integers (int32 by default).

    ``lam`` may be an array broadcasting to ``shape`` (default: its shape); it is used in
    float32 as JAX does.  Knuth's multiplication method for ``lam < 10``, Hörmann's
    transformed rejection (PTRS) above, as JAX and NumPy.  ``lam == 0`` gives 0; a
    negative, NaN or infinite ``lam`` gives -1.  Not JAX's stream.

    >>> k = random.poisson(random.key(0), fnp.array([0.5, 3.0, 50.0]), (1000, 3))
    >>> k.dtype, bool((k >= 0).all())
    (dtype('int32'), True)
    """
    key = _check_key("poisson", key)
    dt = dtypes.default_int_dtype() if dtype is None else dtypes.check_supported(
        dtype, "random.poisson")
    if dt.kind not in "iu":
        raise ValueError(f"random.poisson: dtype must be an integer dtype, got {dt.name}")
    lam = _dist_param(lam, _F32, "poisson", "lam")
    shape = _dist_shape("poisson", shape, lam)
    lam = _f64(fnp.broadcast_to(lam, shape))
    full = lambda v: lax.full(shape, v, _F64)
    valid = fnp.logical_and(lax.ge(lam, _c64(0)), lax.lt(lam, _c64(np.inf)))
    knuth = fnp.logical_and(valid, lax.lt(lam, _c64(10.0)))
    rej = fnp.logical_and(valid, lax.bitwise_not(knuth))
    k1 = _poisson_knuth(key, lax.select(knuth, lam, full(0.0)), shape, _F32)
    k2 = _poisson_rejection(key, lax.select(rej, lam, full(1e5)), shape, _F32)
    k = lax.select(knuth, k1, k2)
    k = lax.select(lax.eq(lam, _c64(0)), full(0.0), k)
    k = lax.select(valid, k, full(-1.0))
    k = lax.min(k, _c64(float(np.iinfo(dt).max)))
    if dt.kind == "u":
        k = lax.max(k, _c64(0.0))
    return lax.convert_element_type(k, dt)
