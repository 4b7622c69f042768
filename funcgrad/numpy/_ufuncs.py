"""Elementwise functions of ``funcgrad.numpy`` (NumPy names, broadcasting, promotion)."""
from __future__ import annotations

import numpy as np

from .. import lax
from ..core import dtypes
from ..core.array import Array
from ..core import trace as _trace
from ..core.trace import Tracer, _state, get_aval
from ..lax import elementwise as _ew
from ._promote import _BSHAPES, _broadcast_pair, asarray, promote, result_dtype, scalar_like


def _unary(name, lax_fn, inexact=False, doc=None):
    where = f"fnp.{name}"

    def f(x, /):
        x = asarray(x, where=where)
        if inexact and x.dtype.kind not in "fc":
            x = lax.convert_element_type(x, dtypes.default_float_dtype()
                                         if get_aval(x).weak_type or True else None)
        return lax_fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc or (f"Elementwise ``{name}`` (NumPy semantics; integers are computed as "
                        f"floats).\n\n>>> fnp.{name}(fnp.array([0.5, 0.75])).shape\n(2,)")
    return f


def _maybe_weak(x):
    t = type(x)
    if t is float or t is int or t is complex:
        return True
    if t is Array:
        return x._weak
    return isinstance(x, Tracer) and x.aval.weak_type


def _keep_weak(r, *args):
    """Where JAX's lattice gives a weak type (only weak operands, or e.g. an integer array
    with a Python float) the result is weakly typed; Python scalars enter lax as strong
    NumPy literals, so the flag is restored here."""
    weak_seen = False
    for a in args:
        t = type(a)
        if t is float or t is int or t is complex:
            weak_seen = True
        elif t is Array:
            if a._weak:
                weak_seen = True
            elif a._value.dtype.kind in "fc":
                return r      # a strong inexact operand makes the result strong
        elif isinstance(a, Tracer):
            if a.weak_type:
                weak_seen = True
            elif a.dtype.kind in "fc":
                return r
    if not weak_seen:
        return r              # strong operands give a strong result: nothing to restore
    av = get_aval(r)
    if av.weak_type or av.dtype == np.bool_:
        return r
    if result_dtype(*args)[1]:
        return lax.convert_element_type(r, av.dtype, weak_type=True)
    return r


_DEBUG = _trace._DEBUG
_ufunc = np.ufunc


def _eager_binary(ufunc, kinds, name, x1, x2, inexact):
    """``prim`` applied eagerly to a strong ``Array`` ``x1`` and an operand that needs no
    type promotion (a strong ``Array`` of the same dtype, a Python scalar of the array's
    kind, a NumPy scalar of its dtype): the primitive's own ufunc on the raw values, with
    NumPy broadcasting in place of ``broadcast_in_dim`` views (the same values and dtype;
    shapes are validated as ``promote`` does).  ``None`` when the general path is needed."""
    if x1._weak or _DEBUG[0] or _state.dynamic is not None:
        return None
    va = x1._value
    if type(va) is not np.ndarray:
        return None
    dt = va.dtype
    k = dt.kind
    if k == "b" or k not in kinds or (inexact and k not in "fc"):
        return None
    t2 = type(x2)
    if t2 is Array:
        vb = x2._value
        if x2._weak or type(vb) is not np.ndarray or vb.dtype != dt:
            return None
        sa, sb = va.shape, vb.shape
        if sa != sb and _BSHAPES.get((sa, sb)) is None:
            _broadcast_pair(x1, x2, sa, sb, name)    # validates (and caches) the shapes
            return None
        return Array(ufunc(va, vb))
    if t2 is float:
        if k not in "fc":
            return None
    elif t2 is int:
        if k not in "iufc":
            return None
    elif isinstance(x2, np.generic):
        if x2.dtype != dt:
            return None
        return Array(ufunc(va, x2))
    else:
        return None
    return Array(ufunc(va, np.asarray(x2, dt)[()]))


def _traced_binary(prim, x1, x2, inexact):
    """``prim`` bound on a strong traced operand with a same-typed strong traced operand
    or a Python float (either side): the binds ``promote`` + the lax function make, without
    the layers.  ``None`` when the general path is needed."""
    if isinstance(x1, Tracer):
        t, other = x1, x2
    elif isinstance(x2, Tracer) and type(x1) is float:
        t, other = x2, x1
    else:
        return None
    if t.weak_type:
        return None
    dt = t.dtype
    k = dt.kind
    if k == "b" or (inexact and k not in "fc"):
        return None
    if type(other) is float:
        if k not in "fc":
            return None
        c = np.asarray(other, dt)[()]
        return prim.bind(x1, c) if t is x1 else prim.bind(c, x2)
    if isinstance(other, Tracer) and not other.weak_type and other.dtype == dt and (
            other.shape == t.shape):
        return prim.bind(x1, x2)
    return None


def _binary(name, lax_fn, inexact=False, doc=None, prim=None, ufunc=None):
    where = f"fnp.{name}"
    if prim is not None and ufunc is None and type(prim.impl) is _ufunc:
        ufunc = prim.impl
    kinds = prim.lowering["kinds"] if prim is not None else ""

    def f(x1, x2, /):
        if prim is not None:
            if type(x1) is Array:
                r = None if ufunc is None else _eager_binary(ufunc, kinds, where, x1, x2,
                                                               inexact)
            else:
                r = _traced_binary(prim, x1, x2, inexact)
            if r is not None:
                return r
        a, b = promote(where, x1, x2, to_inexact=inexact)
        return _keep_weak(lax_fn(a, b), x1, x2)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc or (f"Elementwise ``{name}`` with broadcasting and type promotion.\n\n"
                        f">>> fnp.{name}(fnp.array([[1], [2]]), fnp.array([3, 4, 5])).shape\n"
                        f"(2, 3)")
    return f


# --- arithmetic
def _bool_or(fn, bool_fn):
    # NumPy: add/multiply of booleans are logical or/and
    return lambda a, b: bool_fn(a, b) if a.dtype == np.bool_ else fn(a, b)


add = _binary("add", _bool_or(lax.add, lax.bitwise_or), prim=_ew.add_p)
subtract = _binary("subtract", lax.sub, prim=_ew.sub_p)
multiply = _binary("multiply", _bool_or(lax.mul, lax.bitwise_and), prim=_ew.mul_p)
# div's kernel is np.true_divide for the floating dtypes (the only ones taken eagerly)
true_divide = _binary("true_divide", lax.div, inexact=True, prim=_ew.div_p,
                      ufunc=np.true_divide)
divide = true_divide
divide.__name__ = "divide"
maximum = _binary("maximum", lax.max, prim=_ew.max_p)
minimum = _binary("minimum", lax.min, prim=_ew.min_p)
arctan2 = _binary("arctan2", lax.atan2, inexact=True)
nextafter = _binary("nextafter", lax.nextafter, inexact=True)
equal = _binary("equal", lax.eq, prim=_ew.eq_p)
not_equal = _binary("not_equal", lax.ne, prim=_ew.ne_p)
less = _binary("less", lax.lt, prim=_ew.lt_p)
less_equal = _binary("less_equal", lax.le, prim=_ew.le_p)
greater = _binary("greater", lax.gt, prim=_ew.gt_p)
greater_equal = _binary("greater_equal", lax.ge, prim=_ew.ge_p)
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
    f.__doc__ = (f"Elementwise logical ``{name}`` (nonzero is True).\n\n"
                 f">>> fnp.{name}(fnp.array([True, False]), 1.0).tolist()\n"
                 f"{[bool(getattr(np, name)(True, 1.0)), bool(getattr(np, name)(False, 1.0))]}")
    return f


logical_and = _bool_binary("logical_and", lax.bitwise_and)
logical_or = _bool_binary("logical_or", lax.bitwise_or)
logical_xor = _bool_binary("logical_xor", lax.bitwise_xor)


def logical_not(x, /):
    """Elementwise logical not.

    >>> fnp.logical_not(fnp.array([0, 2])).tolist()
    [True, False]
    """
    x = asarray(x, where="fnp.logical_not")
    if get_aval(x).dtype != np.bool_:
        x = not_equal(x, 0)
    return lax.bitwise_not(x)


def invert(x, /):
    """Bitwise not (logical not for booleans).

    >>> fnp.invert(fnp.array([True, False])).tolist()
    [False, True]
    """
    return lax.bitwise_not(asarray(x, where="fnp.invert"))


bitwise_not = invert


def floor_divide(x1, x2, /):
    """``x1 // x2`` rounding toward minus infinity (NumPy semantics, also for floats:
    ``1.0 // 0.1 == 9.0``).

    >>> fnp.floor_divide(fnp.array([7, -7]), 2).tolist()
    [3, -4]
    """
    a, b = promote("fnp.floor_divide", x1, x2)
    if get_aval(a).dtype.kind in "iu":
        q = lax.div(a, b)
        r = lax.rem(a, b)
        zero = scalar_like(0, r)
        fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)))
        return lax.select(fix, lax.sub(q, scalar_like(1, q)), q)
    if get_aval(a).dtype.kind == "b":
        raise TypeError("fnp.floor_divide: not supported for booleans; use fnp.logical_and")
    # NumPy's npy_divmod: exact quotient of (a - fmod(a, b)) / b, then rounded
    from ._promote import broadcast_shapes, broadcast_to_shape
    shape = broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    a, b = broadcast_to_shape(asarray(a), shape), broadcast_to_shape(asarray(b), shape)
    zero, one = scalar_like(0, a), scalar_like(1, a)
    mod = lax.rem(a, b)
    div = lax.div(lax.sub(a, mod), b)
    fix = lax.bitwise_and(lax.ne(mod, zero), lax.ne(lax.lt(b, zero), lax.lt(mod, zero)))
    div = lax.select(fix, lax.sub(div, one), div)
    fl = lax.floor(div)
    fl = lax.select(lax.gt(lax.sub(div, fl), scalar_like(0.5, a)), lax.add(fl, one), fl)
    return lax.select(lax.eq(b, zero), lax.div(a, b), fl)


def remainder(x1, x2, /):
    """``x1 % x2`` with the sign of ``x2`` (NumPy semantics).

    >>> fnp.remainder(fnp.array([7, -7]), 2).tolist()
    [1, 1]
    """
    a, b = promote("fnp.remainder", x1, x2)
    r = lax.rem(a, b)
    zero = scalar_like(0, r)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)))
    return lax.select(fix, lax.add(r, b), r)


mod = remainder


def fmod(x1, x2, /):
    """C-style remainder (sign of ``x1``).

    >>> fnp.fmod(fnp.array([7, -7]), 2).tolist()
    [1, -1]
    """
    a, b = promote("fnp.fmod", x1, x2)
    return lax.rem(a, b)


def power(x1, x2, /):
    """``x1 ** x2``; integer exponents given as Python ints use repeated multiplication.

    >>> fnp.power(fnp.array([2, 3]), 2).tolist()
    [4, 9]
    """
    if isinstance(x2, int) and not isinstance(x2, (bool, np.generic)):
        x = asarray(x1, where="fnp.power")
        if x2 >= 0 or get_aval(x).dtype.kind in "fc":
            return lax.integer_pow(x, x2)
        raise ValueError(f"fnp.power: integers to negative integer powers are not allowed "
                         f"({get_aval(x).dtype} ** {x2}); use a float base")
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
    """``-x``.

    >>> fnp.negative(fnp.array([1, -2])).tolist()
    [-1, 2]
    """
    return lax.neg(asarray(x, where="fnp.negative"))


def positive(x, /):
    """NumPy's ``positive``.

    >>> fnp.positive(fnp.array([1, -2])).tolist()
    [1, -2]
    """
    return asarray(x, where="fnp.positive")


def absolute(x, /):
    """``|x|``.

    >>> fnp.abs(fnp.array([-1.5, 2.0])).tolist()
    [1.5, 2.0]
    """
    x = asarray(x, where="fnp.abs")
    if get_aval(x).dtype.kind in "ub":
        return x
    return lax.abs(x)


abs = absolute


def sign(x, /):
    """-1, 0 or 1.

    >>> fnp.sign(fnp.array([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return lax.sign(asarray(x, where="fnp.sign"))


def reciprocal(x, /):
    """``1 / x``.

    >>> fnp.reciprocal(fnp.array([2.0, 4.0])).tolist()
    [0.5, 0.25]
    """
    x = asarray(x, where="fnp.reciprocal")
    return lax.div(scalar_like(1, x), x)


def square(x, /):
    """``x * x``.

    >>> fnp.square(fnp.array([2, -3])).tolist()
    [4, 9]
    """
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
    """Base-2 logarithm.

    >>> fnp.log2(fnp.array([1.0, 8.0])).tolist()
    [0.0, 3.0]
    """
    x = log(x)
    return lax.div(x, scalar_like(np.log(2), x))


def log10(x, /):
    """Base-10 logarithm.

    >>> fnp.log10(fnp.array([1.0, 100.0])).tolist()
    [0.0, 2.0]
    """
    x = log(x)
    return lax.div(x, scalar_like(np.log(10), x))


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` computed stably.

    >>> fnp.logaddexp(fnp.array([0.0, 1e4]), 0.0)
    Array([6.931472e-01, 1.000000e+04], dtype=float32)
    """
    a, b = promote("fnp.logaddexp", x1, x2, to_inexact=True)
    m = lax.max(a, b)
    m = lax.stop_gradient(lax.select(lax.is_finite(m), m, lax.mul(m, scalar_like(0, m))))
    return _keep_weak(
        lax.add(m, lax.log(lax.add(lax.exp(lax.sub(a, m)), lax.exp(lax.sub(b, m))))), x1, x2)


def hypot(x1, x2, /):
    """NumPy's ``hypot``.

    >>> fnp.hypot(3.0, fnp.array([4.0])).tolist()
    [5.0]
    """
    a, b = promote("fnp.hypot", x1, x2, to_inexact=True)
    return lax.sqrt(lax.add(lax.mul(a, a), lax.mul(b, b)))


def floor(x, /):
    """NumPy's ``floor``.

    >>> fnp.floor(fnp.array([-1.5, 1.2])).tolist()
    [-2.0, 1.0]
    """
    x = asarray(x, where="fnp.floor")
    return x if get_aval(x).dtype.kind in "iub" else lax.floor(x)


def ceil(x, /):
    """NumPy's ``ceil``.

    >>> fnp.ceil(fnp.array([-1.5, 1.2])).tolist()
    [-1.0, 2.0]
    """
    x = asarray(x, where="fnp.ceil")
    return x if get_aval(x).dtype.kind in "iub" else lax.ceil(x)


def trunc(x, /):
    """NumPy's ``trunc``.

    >>> fnp.trunc(fnp.array([-1.5, 1.7])).tolist()
    [-1.0, 1.0]
    """
    x = asarray(x, where="fnp.trunc")
    if get_aval(x).dtype.kind in "iub":
        return x
    return lax.mul(lax.sign(x), lax.floor(lax.abs(x)))


fix = trunc


def rint(x, /):
    """Round to the nearest integer, halves to even (integers become floats, as NumPy).

    >>> fnp.rint(fnp.array([0.5, 1.5])).tolist()
    [0.0, 2.0]
    """
    x = asarray(x, where="fnp.rint")
    if get_aval(x).dtype.kind in "iub":
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    return lax.round(x, 1)


def round(a, decimals=0, out=None):
    """Round to ``decimals`` places, halves to even (NumPy semantics).

    >>> fnp.round(fnp.array([0.5, 1.5, 2.675]), 2).tolist()
    [0.5, 1.5, 2.680000066757202]
    """
    x = asarray(a, where="fnp.round")
    if get_aval(x).dtype.kind in "iub":
        if decimals >= 0 or get_aval(x).dtype.kind == "b":
            return x
        f = 10 ** (-int(decimals))
        q = floor_divide(x, f)
        r = lax.sub(x, lax.mul(q, scalar_like(f, q)))
        half = scalar_like(f // 2, r)
        odd = lax.ne(lax.rem(q, scalar_like(2, q)), scalar_like(0, q))
        up = lax.bitwise_or(lax.gt(r, half), lax.bitwise_and(lax.eq(r, half), odd))
        q = lax.select(up, lax.add(q, scalar_like(1, q)), q)
        return lax.mul(q, scalar_like(f, q))
    if decimals == 0:
        return lax.round(x, 1)
    f = scalar_like(10.0 ** decimals, x)
    return lax.div(lax.round(lax.mul(x, f), 1), f)


around = round


def isfinite(x, /):
    """NumPy's ``isfinite``.

    >>> fnp.isfinite(fnp.array([1.0, fnp.inf, fnp.nan])).tolist()
    [True, False, False]
    """
    x = asarray(x, where="fnp.isfinite")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, True, np.bool_)
    return lax.is_finite(x)


def isnan(x, /):
    """NumPy's ``isnan``.

    >>> fnp.isnan(fnp.array([1.0, fnp.nan])).tolist()
    [False, True]
    """
    x = asarray(x, where="fnp.isnan")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, False, np.bool_)
    return lax.ne(x, x)


def isinf(x, /):
    """NumPy's ``isinf``.

    >>> fnp.isinf(fnp.array([1.0, -fnp.inf, fnp.nan])).tolist()
    [False, True, False]
    """
    x = asarray(x, where="fnp.isinf")
    if get_aval(x).dtype.kind not in "fc":
        return lax.full(get_aval(x).shape, False, np.bool_)
    return lax.eq(lax.abs(x), scalar_like(np.inf, x))


def signbit(x, /):
    """True where the sign bit is set (``-0.0`` included).

    >>> fnp.signbit(fnp.array([-0.0, 0.0, -1.0])).tolist()
    [True, False, True]
    """
    x = asarray(x, where="fnp.signbit")
    neg = lax.lt(x, scalar_like(0, x))
    if get_aval(x).dtype.kind != "f":
        return neg
    zero = lax.eq(x, scalar_like(0, x))
    one = lax.add(lax.mul(x, scalar_like(0, x)), scalar_like(1, x))
    safe = lax.select(zero, x, one)
    # atan2(0, -0.0) = pi, atan2(0, +0.0) = 0: detects the sign of zero without infinities
    negzero = lax.gt(lax.atan2(lax.abs(lax.mul(safe, scalar_like(0, x))), safe),
                     scalar_like(0, x))
    return lax.bitwise_or(neg, lax.bitwise_and(zero, negzero))


def copysign(x1, x2, /):
    """``|x1|`` with the sign of ``x2``.

    >>> fnp.copysign(fnp.array([1.0, 2.0]), -1.0).tolist()
    [-1.0, -2.0]
    """
    a, b = promote("fnp.copysign", x1, x2, to_inexact=True)
    a, b = asarray(a), asarray(b)
    from ._promote import broadcast_shapes, broadcast_to_shape
    shape = broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    neg = broadcast_to_shape(signbit(b), shape)
    mag = broadcast_to_shape(lax.abs(a), shape)
    return lax.select(neg, lax.neg(mag), mag)


def deg2rad(x, /):
    """NumPy's ``deg2rad``.

    >>> fnp.deg2rad(fnp.array([180.0])).tolist()
    [3.1415927410125732]
    """
    x = asarray(x, dtype=None)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    return lax.mul(x, scalar_like(np.pi / 180, x))


def rad2deg(x, /):
    """NumPy's ``rad2deg``.

    >>> fnp.rad2deg(fnp.array([0.0, 1.0])).round(3).tolist()
    [0.0, 57.29600143432617]
    """
    x = asarray(x)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    return lax.mul(x, scalar_like(180 / np.pi, x))


radians, degrees = deg2rad, rad2deg


def sinc(x, /):
    """NumPy's ``sinc``.

    >>> fnp.sinc(fnp.array([0.0, 1.0])).round(6).tolist()
    [1.0, -0.0]
    """
    x = asarray(x)
    x = x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(
        x, dtypes.default_float_dtype())
    px = lax.mul(x, scalar_like(np.pi, x))
    safe = lax.select(lax.eq(x, scalar_like(0, x)), lax.add(px, scalar_like(1, x)), px)
    return lax.select(lax.eq(x, scalar_like(0, x)), lax.add(lax.mul(x, scalar_like(0, x)),
                      scalar_like(1, x)), lax.div(lax.sin(safe), safe))


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y`` (with broadcasting).  The one-argument form
    (``nonzero``) needs a concrete condition.

    >>> fnp.where(fnp.array([True, False]), 1.0, fnp.array([5.0, 6.0])).tolist()
    [1.0, 6.0]
    """
    if x is None and y is None:
        from ._indexing import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise TypeError("fnp.where takes one or three arguments")
    c = asarray(condition, where="fnp.where")
    if (c._value.dtype if type(c) is Array else get_aval(c).dtype) != np.bool_:
        c = not_equal(c, 0)
    a, b = promote("fnp.where", x, y)
    if type(c) is Array and type(a) is Array and type(b) is Array and \
            c._value.shape == a._value.shape == b._value.shape:
        return lax.select(c, a, b)     # nothing to broadcast
    from ._promote import broadcast_shapes, broadcast_to_shape
    shape = broadcast_shapes(get_aval(c).shape, get_aval(a).shape, get_aval(b).shape,
                             where="fnp.where")
    c, a, b = (broadcast_to_shape(v, shape) for v in (c, a, b))
    return lax.select(c, a, b)


def clip(a, a_min=None, a_max=None, /, *, min=None, max=None):
    """Clip values to ``[a_min, a_max]`` (either may be None).

    >>> fnp.clip(fnp.array([-2, 0, 5]), -1, 3).tolist()
    [-1, 0, 3]
    """
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    x = asarray(a, where="fnp.clip")
    if lo is not None:
        x = maximum(x, lo)
    if hi is not None:
        x = minimum(x, hi)
    return x


def heaviside(x1, x2, /):
    """NumPy's ``heaviside``.

    >>> fnp.heaviside(fnp.array([-1.0, 0.0, 2.0]), 0.5).tolist()
    [-0.0, 0.5, 1.0]
    """
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
                    and type(va) is np.ndarray and va.dtype.kind != "b":
                return Array(np_fn(va, vb))
        return slow(a, b)
    return op


def _weak_wrap(fn):
    import functools

    @functools.wraps(fn)
    def wrapped(x1, x2, /):
        return _keep_weak(fn(x1, x2), x1, x2)
    return wrapped


floor_divide = _weak_wrap(floor_divide)
remainder = mod = _weak_wrap(remainder)
fmod = _weak_wrap(fmod)
power = _weak_wrap(power)
