"""Elementwise functions of ``funcgrad.numpy`` (NumPy names, broadcasting, promotion)."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core.trace import _state, get_aval
from ._promote import asarray, promote, scalar_like


def _unary(name, lax_fn, inexact=False, doc=None):
    def f(x, /):
        x = asarray(x, where=f"fnp.{name}")
        if inexact and get_aval(x).dtype.kind not in "fc":
            x = lax.convert_element_type(x, dtypes.default_float_dtype()
                                         if get_aval(x).weak_type or True else None)
        return lax_fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc or f"Elementwise ``{name}`` (NumPy semantics).\n\n>>> fnp.{name}(fnp.array([0.5, 1.0]))"
    return f


def _binary(name, lax_fn, inexact=False, doc=None):
    def f(x1, x2, /):
        a, b = promote(f"fnp.{name}", x1, x2, to_inexact=inexact)
        return lax_fn(a, b)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc or (f"Elementwise ``{name}`` with broadcasting and type promotion.\n\n"
                        f">>> fnp.{name}(fnp.array([1.0, 2.0]), 3.0)")
    return f


# --- arithmetic
add = _binary("add", lax.add)
subtract = _binary("subtract", lax.sub)
multiply = _binary("multiply", lax.mul)
true_divide = _binary("true_divide", lax.div, inexact=True)
divide = true_divide
divide.__name__ = "divide"
maximum = _binary("maximum", lax.max)
minimum = _binary("minimum", lax.min)
arctan2 = _binary("arctan2", lax.atan2, inexact=True)
nextafter = _binary("nextafter", lax.nextafter)
equal = _binary("equal", lax.eq)
not_equal = _binary("not_equal", lax.ne)
less = _binary("less", lax.lt)
less_equal = _binary("less_equal", lax.le)
greater = _binary("greater", lax.gt)
greater_equal = _binary("greater_equal", lax.ge)
bitwise_and = _binary("bitwise_and", lax.bitwise_and)
bitwise_or = _binary("bitwise_or", lax.bitwise_or)
bitwise_xor = _binary("bitwise_xor", lax.bitwise_xor)


def _bool_binary(name, lax_fn):
    def f(x1, x2, /):
        a = asarray(x1, where=f"fnp.{name}")
        b = asarray(x2, where=f"fnp.{name}")
        a = a if get_aval(a).dtype == np.bool_ else not_equal(a, 0)
        b = b if get_aval(b).dtype == np.bool_ else not_equal(b, 0)
        a, b = promote(f"fnp.{name}", a, b)
        return lax_fn(a, b)
    f.__name__ = name
    f.__doc__ = f"Elementwise logical ``{name}``."
    return f


logical_and = _bool_binary("logical_and", lax.bitwise_and)
logical_or = _bool_binary("logical_or", lax.bitwise_or)
logical_xor = _bool_binary("logical_xor", lax.bitwise_xor)


def logical_not(x, /):
    """Elementwise logical not."""
    x = asarray(x, where="fnp.logical_not")
    if get_aval(x).dtype != np.bool_:
        x = not_equal(x, 0)
    return lax.bitwise_not(x)


def invert(x, /):
    """Bitwise not (logical not for booleans)."""
    return lax.bitwise_not(asarray(x, where="fnp.invert"))


bitwise_not = invert


def floor_divide(x1, x2, /):
    """``x1 // x2`` rounding toward minus infinity (NumPy semantics)."""
    a, b = promote("fnp.floor_divide", x1, x2)
    if get_aval(a).dtype.kind in "iu":
        q = lax.div(a, b)
        r = lax.rem(a, b)
        zero = scalar_like(0, r)
        fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)))
        return lax.select(fix, lax.sub(q, scalar_like(1, q)), q)
    return lax.floor(lax.div(a, b))


def remainder(x1, x2, /):
    """``x1 % x2`` with the sign of ``x2`` (NumPy semantics)."""
    a, b = promote("fnp.remainder", x1, x2)
    r = lax.rem(a, b)
    zero = scalar_like(0, r)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)))
    return lax.select(fix, lax.add(r, b), r)


mod = remainder


def fmod(x1, x2, /):
    """C-style remainder (sign of ``x1``)."""
    a, b = promote("fnp.fmod", x1, x2)
    return lax.rem(a, b)


def power(x1, x2, /):
    """``x1 ** x2``; integer exponents given as Python ints use repeated multiplication."""
    if isinstance(x2, int) and not isinstance(x2, bool):
        x = asarray(x1, where="fnp.power")
        if x2 >= 0 or get_aval(x).dtype.kind in "fc":
            return lax.integer_pow(x, x2)
    a, b = promote("fnp.power", x1, x2)
    if get_aval(a).dtype.kind in "iu":
        return _int_power(a, b)
    return lax.pow(a, b)


def _int_power(a, b):
    # exponentiation by squaring on integer arrays, with a fixed 32/64 step loop
    bits = get_aval(b).dtype.itemsize * 8
    acc = lax.full(get_aval(lax.add(a, b)).shape, 1, get_aval(a).dtype) if get_aval(
        a).shape or get_aval(b).shape else scalar_like(1, a)
    base = a
    e = b
    one = scalar_like(1, e)
    for _ in range(bits):
        bit = lax.ne(lax.bitwise_and(e, one), scalar_like(0, e))
        acc = lax.select(bit, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.div(e, scalar_like(2, e))
    return acc


float_power = power


def negative(x, /):
    """``-x``."""
    return lax.neg(asarray(x, where="fnp.negative"))


def positive(x, /):
    return asarray(x, where="fnp.positive")


def absolute(x, /):
    """``|x|``."""
    x = asarray(x, where="fnp.abs")
    if get_aval(x).dtype.kind in "ub":
        return x
    return lax.abs(x)


abs = absolute


def sign(x, /):
    """-1, 0 or 1."""
    return lax.sign(asarray(x, where="fnp.sign"))


def reciprocal(x, /):
    """``1 / x``."""
    x = asarray(x, where="fnp.reciprocal")
    return lax.div(scalar_like(1, x), x)


def square(x, /):
    """``x * x``."""
    x = asarray(x, where="fnp.square")
    return lax.mul(x, x)


def _float_unary(name, fn):
    return _unary(name, fn, inexact=True)


sqrt = _float_unary("sqrt", lax.sqrt)
cbrt = _float_unary("cbrt", lax.cbrt)
exp = _float_unary("exp", lax.exp)
exp2 = _float_unary("exp2", lax.exp2)
expm1 = _float_unary("expm1", lax.expm1)
log = _float_unary("log", lax.log)
log1p = _float_unary("log1p", lax.log1p)
sin = _float_unary("sin", lax.sin)
cos = _float_unary("cos", lax.cos)
tan = _float_unary("tan", lax.tan)
arcsin = _float_unary("arcsin", lax.asin)
arccos = _float_unary("arccos", lax.acos)
arctan = _float_unary("arctan", lax.atan)
sinh = _float_unary("sinh", lax.sinh)
cosh = _float_unary("cosh", lax.cosh)
tanh = _float_unary("tanh", lax.tanh)
arcsinh = _float_unary("arcsinh", lax.asinh)
arccosh = _float_unary("arccosh", lax.acosh)
arctanh = _float_unary("arctanh", lax.atanh)


def log2(x, /):
    """Base-2 logarithm."""
    x = log(x)
    return lax.div(x, scalar_like(np.log(2), x))


def log10(x, /):
    """Base-10 logarithm."""
    x = log(x)
    return lax.div(x, scalar_like(np.log(10), x))


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` computed stably."""
    a, b = promote("fnp.logaddexp", x1, x2, to_inexact=True)
    m = lax.max(a, b)
    m = lax.stop_gradient(lax.select(lax.is_finite(m), m, lax.mul(m, scalar_like(0, m))))
    return lax.add(m, lax.log(lax.add(lax.exp(lax.sub(a, m)), lax.exp(lax.sub(b, m)))))


def hypot(x1, x2, /):
    a, b = promote("fnp.hypot", x1, x2, to_inexact=True)
    return lax.sqrt(lax.add(lax.mul(a, a), lax.mul(b, b)))


def floor(x, /):
    x = asarray(x, where="fnp.floor")
    return x if get_aval(x).dtype.kind in "iub" else lax.floor(x)


def ceil(x, /):
    x = asarray(x, where="fnp.ceil")
    return x if get_aval(x).dtype.kind in "iub" else lax.ceil(x)


def trunc(x, /):
    x = asarray(x, where="fnp.trunc")
    if get_aval(x).dtype.kind in "iub":
        return x
    return lax.mul(lax.sign(x), lax.floor(lax.abs(x)))


fix = trunc


def rint(x, /):
    x = asarray(x, where="fnp.rint")
    return x if get_aval(x).dtype.kind in "iub" else lax.round(x, 1)


def round(a, decimals=0, out=None):
    """Round to ``decimals`` places, halves to even (NumPy semantics)."""
    x = asarray(a, where="fnp.round")
    if get_aval(x).dtype.kind in "iub":
        return x
    if decimals == 0:
        return lax.round(x, 1)
    f = scalar_like(10.0 ** decimals, x)
    return lax.div(lax.round(lax.mul(x, f), 1), f)


around = round


def isfinite(x, /):
    x = asarray(x, where="fnp.isfinite")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, True, np.bool_)
    return lax.is_finite(x)


def isnan(x, /):
    x = asarray(x, where="fnp.isnan")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, False, np.bool_)
    return lax.ne(x, x)


def isinf(x, /):
    x = asarray(x, where="fnp.isinf")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, False, np.bool_)
    return lax.eq(lax.abs(x), scalar_like(np.inf, x))


def signbit(x, /):
    x = asarray(x, where="fnp.signbit")
    return lax.lt(x, scalar_like(0, x))


def copysign(x1, x2, /):
    a, b = promote("fnp.copysign", x1, x2, to_inexact=True)
    return lax.select(signbit(b), lax.neg(lax.abs(a)), lax.abs(a))


def deg2rad(x, /):
    x = asarray(x, dtype=None)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    return lax.mul(x, scalar_like(np.pi / 180, x))


def rad2deg(x, /):
    x = asarray(x)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    return lax.mul(x, scalar_like(180 / np.pi, x))


radians, degrees = deg2rad, rad2deg


def sinc(x, /):
    x = asarray(x)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    px = lax.mul(x, scalar_like(np.pi, x))
    safe = lax.select(lax.eq(x, scalar_like(0, x)), lax.add(px, scalar_like(1, x)), px)
    return lax.select(lax.eq(x, scalar_like(0, x)), lax.add(lax.mul(x, scalar_like(0, x)),
                      scalar_like(1, x)), lax.div(lax.sin(safe), safe))


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y`` (with broadcasting).  The one-argument form
    (``nonzero``) needs a concrete condition."""
    if x is None and y is None:
        from ._indexing import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise TypeError("fnp.where takes one or three arguments")
    c = asarray(condition, where="fnp.where")
    if get_aval(c).dtype != np.bool_:
        c = not_equal(c, 0)
    a, b = promote("fnp.where", x, y)
    from ._promote import broadcast_shapes, broadcast_to_shape
    shape = broadcast_shapes(get_aval(c).shape, get_aval(a).shape, get_aval(b).shape,
                             where="fnp.where")
    c, a, b = (broadcast_to_shape(v, shape) for v in (c, a, b))
    return lax.select(c, a, b)


def clip(a, a_min=None, a_max=None, /, *, min=None, max=None):
    """Clip values to ``[a_min, a_max]`` (either may be None)."""
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    x = asarray(a, where="fnp.clip")
    if lo is not None:
        x = maximum(x, lo)
    if hi is not None:
        x = minimum(x, hi)
    return x


def heaviside(x1, x2, /):
    a, b = promote("fnp.heaviside", x1, x2, to_inexact=True)
    zero = scalar_like(0, a)
    return lax.select(lax.lt(a, zero), lax.mul(a, zero), lax.select(
        lax.gt(a, zero), lax.add(lax.mul(a, zero), scalar_like(1, a)), b))


def fast_add(a, b):
    """Eager fast path for ``Array + Array`` of one dtype and shape."""
    return add(a, b)


def _fast_binary(np_fn, slow):
    """``Array op Array`` of equal type outside any transformation: call NumPy directly."""
    from ..core import trace as tr

    def op(a, b):
        if type(b) is Array and type(a) is Array and _state.dynamic is None and not tr._DEBUG[0]:
            va, vb = a._value, b._value
            if va.dtype is vb.dtype and va.shape == vb.shape and not (a._weak or b._weak) \
                    and type(va) is np.ndarray:
                return Array(np_fn(va, vb))
        return slow(a, b)
    return op
