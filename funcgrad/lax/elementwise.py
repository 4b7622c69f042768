"""Elementwise primitives: unary math, binary arithmetic and comparisons, select_n,
clamp and convert_element_type.  Each primitive's rules sit right after it."""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters import ad
from ..interpreters.ad_util import Zero, instantiate
from . import special
from ._util import (broadcasting_shape, check_dtype, elementwise, elementwise_batch_rule,
                    operands, unbroadcast_scalar)

_POS = {"domain": "positive"}
_UNIT = {"domain": "unit"}        # (-1, 1)
_GT1 = {"domain": "gt1"}          # (1, inf)
_NONZERO = {"domain": "nonzero"}
_NODIFF = {"nondiff": True}       # piecewise constant: gradient tests skipped


def _full_like(x, v):
    a = get_aval(x)
    return np.asarray(v, a.dtype)[()]


# ----------------------------------------------------------------------------- unary

neg_p = elementwise("neg", np.negative, "num", "(-{0})")
sign_p = elementwise("sign", np.sign, "num", "(({0} > 0) - ({0} < 0))", test_spec=_NODIFF)
floor_p = elementwise("floor", np.floor, "real", "floor({0})", test_spec=_NODIFF)
ceil_p = elementwise("ceil", np.ceil, "real", "ceil({0})", test_spec=_NODIFF)
round_p = elementwise("round", special.round_half_away, "real", "round({0})",
                      test_spec=_NODIFF)
round_even_p = elementwise("round_even", np.rint, "real", "rint({0})", test_spec=_NODIFF)
is_finite_p = elementwise("is_finite", special.is_finite, "real", "isfinite({0})",
                          out_dtype=np.bool_, test_spec=_NODIFF)
exp_p = elementwise("exp", np.exp, "float", "exp({0})")
exp2_p = elementwise("exp2", np.exp2, "float", "exp2({0})")
log_p = elementwise("log", np.log, "float", "log({0})", test_spec=_POS)
log1p_p = elementwise("log1p", np.log1p, "float", "log1p({0})", test_spec=_POS)
expm1_p = elementwise("expm1", np.expm1, "float", "expm1({0})")
tanh_p = elementwise("tanh", np.tanh, "float", "tanh({0})")
logistic_p = elementwise("logistic", special.logistic, "float", "(1 / (1 + exp(-{0})))")
sin_p = elementwise("sin", np.sin, "float", "sin({0})")
cos_p = elementwise("cos", np.cos, "float", "cos({0})")
tan_p = elementwise("tan", np.tan, "float", "tan({0})", test_spec=_UNIT)
asin_p = elementwise("asin", np.arcsin, "float", "asin({0})", test_spec=_UNIT)
acos_p = elementwise("acos", np.arccos, "float", "acos({0})", test_spec=_UNIT)
atan_p = elementwise("atan", np.arctan, "float", "atan({0})")
sinh_p = elementwise("sinh", np.sinh, "float", "sinh({0})")
cosh_p = elementwise("cosh", np.cosh, "float", "cosh({0})")
asinh_p = elementwise("asinh", np.arcsinh, "float", "asinh({0})")
acosh_p = elementwise("acosh", np.arccosh, "float", "acosh({0})", test_spec=_GT1)
atanh_p = elementwise("atanh", np.arctanh, "float", "atanh({0})", test_spec=_UNIT)
sqrt_p = elementwise("sqrt", np.sqrt, "float", "sqrt({0})", test_spec=_POS)
rsqrt_p = elementwise("rsqrt", special.rsqrt, "float", "rsqrt({0})", test_spec=_POS)
cbrt_p = elementwise("cbrt", np.cbrt, "real", "cbrt({0})", test_spec=_POS)
abs_p = elementwise("abs", np.abs, "num", "abs({0})", test_spec=_NONZERO)
erf_p = elementwise("erf", special.erf, "real", "erf({0})")
erfc_p = elementwise("erfc", special.erfc, "real", "erfc({0})")
erf_inv_p = elementwise("erf_inv", special.erf_inv, "real", "erfinv({0})", test_spec=_UNIT)
lgamma_p = elementwise("lgamma", special.lgamma, "real", "lgamma({0})", test_spec=_POS)
digamma_p = elementwise("digamma", special.digamma, "real", "digamma({0})", test_spec=_POS)
not_p = elementwise("not", np.invert, "intbool", "(~{0})", test_spec=_NODIFF)
square_p = elementwise("square", np.square, "num", "({0} * {0})")


def neg(x): return neg_p.bind(x)
def sign(x): return sign_p.bind(x)
def floor(x): return floor_p.bind(x)
def ceil(x): return ceil_p.bind(x)


def round(x, rounding_method=0):
    """Round half away from zero (``rounding_method=0``) or to nearest even (1)."""
    return (round_even_p if int(rounding_method) == 1 else round_p).bind(x)


def is_finite(x): return is_finite_p.bind(x)
def exp(x): return exp_p.bind(x)
def exp2(x): return exp2_p.bind(x)
def log(x): return log_p.bind(x)
def log1p(x): return log1p_p.bind(x)
def expm1(x): return expm1_p.bind(x)
def tanh(x): return tanh_p.bind(x)
def logistic(x): return logistic_p.bind(x)
def sin(x): return sin_p.bind(x)
def cos(x): return cos_p.bind(x)
def tan(x): return tan_p.bind(x)
def asin(x): return asin_p.bind(x)
def acos(x): return acos_p.bind(x)
def atan(x): return atan_p.bind(x)
def sinh(x): return sinh_p.bind(x)
def cosh(x): return cosh_p.bind(x)
def asinh(x): return asinh_p.bind(x)
def acosh(x): return acosh_p.bind(x)
def atanh(x): return atanh_p.bind(x)
def sqrt(x): return sqrt_p.bind(x)
def rsqrt(x): return rsqrt_p.bind(x)
def cbrt(x): return cbrt_p.bind(x)
def abs(x): return abs_p.bind(x)
def erf(x): return erf_p.bind(x)
def erfc(x): return erfc_p.bind(x)
def erf_inv(x): return erf_inv_p.bind(x)
def lgamma(x): return lgamma_p.bind(x)
def digamma(x): return digamma_p.bind(x)
def bitwise_not(x): return not_p.bind(x)
def square(x): return square_p.bind(x)


ad.deflinear(neg_p, lambda ct, x: [None if type(ct) is Zero else neg(ct)])
for _p in (sign_p, floor_p, ceil_p, round_p, round_even_p, is_finite_p, not_p):
    ad.defjvp(_p, None)
ad.defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
ad.defjvp2(exp2_p, lambda g, ans, x: mul(g, mul(ans, _full_like(ans, np.log(2)))))
ad.defjvp(log_p, lambda g, x: div(g, x))
ad.defjvp(log1p_p, lambda g, x: div(g, add(x, _full_like(x, 1))))
ad.defjvp2(expm1_p, lambda g, ans, x: mul(g, add(ans, _full_like(ans, 1))))
ad.defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(_full_like(ans, 1), mul(ans, ans))))
ad.defjvp2(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(_full_like(ans, 1), ans))))
ad.defjvp(sin_p, lambda g, x: mul(g, cos(x)))
ad.defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
ad.defjvp2(tan_p, lambda g, ans, x: mul(g, add(_full_like(ans, 1), mul(ans, ans))))
ad.defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_full_like(x, 1), mul(x, x)))))
ad.defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_full_like(x, 1), mul(x, x))))))
ad.defjvp(atan_p, lambda g, x: div(g, add(_full_like(x, 1), mul(x, x))))
ad.defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
ad.defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
ad.defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(mul(x, x), _full_like(x, 1)))))
ad.defjvp(acosh_p, lambda g, x: mul(g, rsqrt(mul(sub(x, _full_like(x, 1)),
                                                   add(x, _full_like(x, 1))))))
ad.defjvp(atanh_p, lambda g, x: div(g, sub(_full_like(x, 1), mul(x, x))))
ad.defjvp2(sqrt_p, lambda g, ans, x: div(g, mul(ans, _full_like(ans, 2))))
ad.defjvp2(rsqrt_p, lambda g, ans, x: mul(g, mul(_full_like(x, -0.5), div(ans, x))))
ad.defjvp2(cbrt_p, lambda g, ans, x: mul(g, div(ans, mul(x, _full_like(x, 3)))))
# abs'(0) = 0: the derivative of abs is sign(x), which is 0 at 0 (as JAX)
ad.defjvp(abs_p, lambda g, x: mul(g, sign(x)))
ad.defjvp(erf_p, lambda g, x: mul(g, mul(_full_like(x, 2 / np.sqrt(np.pi)), exp(neg(mul(x, x))))))
ad.defjvp(erfc_p, lambda g, x: mul(g, mul(_full_like(x, -2 / np.sqrt(np.pi)),
                                           exp(neg(mul(x, x))))))
ad.defjvp2(erf_inv_p, lambda g, ans, x: mul(g, mul(_full_like(x, np.sqrt(np.pi) / 2),
                                                   exp(mul(ans, ans)))))
ad.defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))
ad.defjvp(digamma_p, lambda g, x: mul(g, polygamma(1, x)))
ad.defjvp(square_p, lambda g, x: mul(g, mul(x, _full_like(x, 2))))


# polygamma(m, x): m is a static integer parameter
polygamma_p = Primitive("polygamma")
polygamma_p.elementwise = True
polygamma_p.impl = lambda x, *, m, out=None: special.polygamma(m, x, out=out)
polygamma_p.lowering = {"ufunc": None, "cuda": None}


@polygamma_p.def_abstract_eval
def _polygamma_abstract(x, *, m):
    check_dtype("polygamma", x, "real")
    return x


polygamma_p.batch = lambda args, dims, *, m: (polygamma_p.bind(args[0], m=m), dims[0])
ad.defjvp(polygamma_p, lambda g, x, *, m: mul(g, polygamma(m + 1, x)))
polygamma_p.test_spec = {"nargs": 1, "kinds": "real", "domain": "positive", "params": {"m": 1}}


def polygamma(m, x):
    """The ``m``-th derivative of digamma (``m`` a static int), for ``x > 0``.

    >>> lax.polygamma(1, np.array([1.0, 2.0], np.float32))
    Array([1.644934  , 0.64493406], dtype=float32)
    """
    return polygamma_p.bind(x, m=int(m))


# integer_pow(x, y): y a static Python int
integer_pow_p = Primitive("integer_pow")
integer_pow_p.elementwise = True


def _integer_pow_impl(x, *, y, out=None):
    if y == 2:
        return np.multiply(x, x, out=out)
    if y < 0 and np.asarray(x).dtype.kind in "iu":
        raise ValueError("integer_pow of an integer array to a negative power")
    return np.power(x, np.asarray(y, dtype=x.dtype) if y >= 0 else np.asarray(y, x.dtype), out=out)


integer_pow_p.impl = _integer_pow_impl
integer_pow_p.lowering = {"ufunc": None, "cuda": None}


@integer_pow_p.def_abstract_eval
def _integer_pow_abstract(x, *, y):
    check_dtype("integer_pow", x, "num")
    return x


integer_pow_p.batch = lambda args, dims, *, y: (integer_pow_p.bind(args[0], y=y), dims[0])


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return mul(g, _full_like(x, 0))
    if y == 1:
        return g
    return mul(g, mul(_full_like(x, y), integer_pow(x, y - 1)))


ad.defjvp(integer_pow_p, _integer_pow_jvp)
def _sample_integer_pow(rng, dtype):
    y = int(rng.choice([-2, 0, 2, 3, 5]))
    x = rng.uniform(0.3, 1.5, (2, 3)) * rng.choice([-1, 1], (2, 3))   # |x| >= 0.3
    return [x.astype(dtype)], {"y": y}


integer_pow_p.test_spec = {"sample": _sample_integer_pow}


def integer_pow(x, y):
    """``x ** y`` for a static Python integer ``y``."""
    if int(y) == 1:
        return x
    return integer_pow_p.bind(x, y=int(y))


# ----------------------------------------------------------------------------- binary

add_p = elementwise("add", np.add, "num", "({0} + {1})", nargs=2)
sub_p = elementwise("sub", np.subtract, "num", "({0} - {1})", nargs=2)
mul_p = elementwise("mul", np.multiply, "any", "({0} * {1})", nargs=2)


def _div_kernel(x, y, out=None):
    if x.dtype.kind in "iu":
        # C-style (truncating) integer division, as lax.div
        q = np.floor_divide(x, y)
        fix = (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
        r = q + fix
        if out is not None:
            np.copyto(out, r)
            return out
        return r.astype(x.dtype, copy=False)
    return np.true_divide(x, y, out=out)


def _rem_kernel(x, y, out=None):
    return np.fmod(x, y, out=out)


div_p = elementwise("div", _div_kernel, "num", "({0} / {1})", nargs=2, test_spec=_NONZERO)
rem_p = elementwise("rem", _rem_kernel, "num", "fmod({0}, {1})", nargs=2,
                    test_spec={"domain": "nonzero", "nondiff_args": (1,)})
pow_p = elementwise("pow", np.power, "float", "pow({0}, {1})", nargs=2, test_spec=_POS)
max_p = elementwise("max", np.maximum, "any", "max({0}, {1})", nargs=2)
min_p = elementwise("min", np.minimum, "any", "min({0}, {1})", nargs=2)
atan2_p = elementwise("atan2", np.arctan2, "real", "atan2({0}, {1})", nargs=2,
                      test_spec=_NONZERO)
nextafter_p = elementwise("nextafter", np.nextafter, "real", "nextafter({0}, {1})", nargs=2,
                          test_spec=_NODIFF)
and_p = elementwise("and", np.bitwise_and, "intbool", "({0} & {1})", nargs=2, test_spec=_NODIFF)
or_p = elementwise("or", np.bitwise_or, "intbool", "({0} | {1})", nargs=2, test_spec=_NODIFF)
xor_p = elementwise("xor", np.bitwise_xor, "intbool", "({0} ^ {1})", nargs=2, test_spec=_NODIFF)
eq_p = elementwise("eq", np.equal, "any", "({0} == {1})", nargs=2, out_dtype=np.bool_,
                   test_spec=_NODIFF)
ne_p = elementwise("ne", np.not_equal, "any", "({0} != {1})", nargs=2, out_dtype=np.bool_,
                   test_spec=_NODIFF)
lt_p = elementwise("lt", np.less, "realnum", "({0} < {1})", nargs=2, out_dtype=np.bool_,
                   test_spec=_NODIFF)
le_p = elementwise("le", np.less_equal, "realnum", "({0} <= {1})", nargs=2, out_dtype=np.bool_,
                   test_spec=_NODIFF)
gt_p = elementwise("gt", np.greater, "realnum", "({0} > {1})", nargs=2, out_dtype=np.bool_,
                   test_spec=_NODIFF)
ge_p = elementwise("ge", np.greater_equal, "realnum", "({0} >= {1})", nargs=2,
                   out_dtype=np.bool_, test_spec=_NODIFF)
mul_p.test_spec["kinds"] = "num"
max_p.test_spec.update(kinds="realnum", domain="distinct")
min_p.test_spec.update(kinds="realnum", domain="distinct")


def add(x, y): return add_p.bind(*operands(x, y))
def sub(x, y): return sub_p.bind(*operands(x, y))
def mul(x, y): return mul_p.bind(*operands(x, y))
def div(x, y): return div_p.bind(*operands(x, y))
def rem(x, y): return rem_p.bind(*operands(x, y))
def pow(x, y): return pow_p.bind(*operands(x, y))
def max(x, y): return max_p.bind(*operands(x, y))
def min(x, y): return min_p.bind(*operands(x, y))
def atan2(x, y): return atan2_p.bind(*operands(x, y))
def nextafter(x, y): return nextafter_p.bind(*operands(x, y))
def bitwise_and(x, y): return and_p.bind(*operands(x, y))
def bitwise_or(x, y): return or_p.bind(*operands(x, y))
def bitwise_xor(x, y): return xor_p.bind(*operands(x, y))
def eq(x, y): return eq_p.bind(*operands(x, y))
def ne(x, y): return ne_p.bind(*operands(x, y))
def lt(x, y): return lt_p.bind(*operands(x, y))
def le(x, y): return le_p.bind(*operands(x, y))
def gt(x, y): return gt_p.bind(*operands(x, y))
def ge(x, y): return ge_p.bind(*operands(x, y))


def _bcast_to(ct, aval):
    return unbroadcast_scalar(ct, aval)


def _linear_binary_transpose(sign_y):
    def rule(ct, x, y):
        if type(ct) is Zero:
            return [None, None]
        cx = _bcast_to(ct, x.aval) if ad.is_undefined_primal(x) else None
        cy = None
        if ad.is_undefined_primal(y):
            cy = _bcast_to(neg(ct) if sign_y < 0 else ct, y.aval)
        return [cx, cy]
    return rule


def _addsub_jvp(prim, sign_y):
    def rule(primals, tangents):
        x, y = primals
        out = prim.bind(x, y)
        tx, ty = tangents
        if type(tx) is Zero and type(ty) is Zero:
            return out, Zero.from_value(out)
        oshape = get_aval(out).shape
        if type(tx) is Zero:
            t = neg(ty) if sign_y < 0 else ty
        elif type(ty) is Zero:
            t = tx
        else:
            t = prim.bind(tx, ty)
        if get_aval(t).shape != oshape:
            from .structural import broadcast_in_dim
            t = broadcast_in_dim(t, oshape, ())
        return out, t
    return rule


add_p.jvp = _addsub_jvp(add_p, 1)
add_p.transpose = _linear_binary_transpose(1)
add_p.linear = True
sub_p.jvp = _addsub_jvp(sub_p, -1)
sub_p.transpose = _linear_binary_transpose(-1)
sub_p.linear = True


def _mul_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    if ad.is_undefined_primal(x) and ad.is_undefined_primal(y):
        raise TypeError("mul: both operands depend linearly on the input; the product is "
                        "not linear")
    if ad.is_undefined_primal(x):
        return [_bcast_to(mul(ct, y), x.aval), None]
    return [None, _bcast_to(mul(x, ct), y.aval)]


ad.defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))
mul_p.transpose = _mul_transpose
mul_p.linear = True   # linear in each argument separately


def _div_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    if ad.is_undefined_primal(y):
        raise TypeError("div: the divisor depends linearly on the input; not linear")
    return [_bcast_to(div(ct, y), x.aval), None]


ad.defjvp(div_p, lambda g, x, y: div(g, y),
          lambda g, x, y: neg(mul(g, div(x, mul(y, y)))))
div_p.transpose = _div_transpose
div_p.linear = True
div_p.linear_args = (0,)   # the numerator only


def _trunc(x):
    return mul(sign(x), floor(abs(x)))


ad.defjvp(rem_p, lambda g, x, y: _bcast_g(g, x, y),
          lambda g, x, y: mul(neg(g), _trunc(div(x, y))))


def _bcast_g(g, x, y):
    from .structural import broadcast_in_dim
    shape = broadcasting_shape("rem", get_aval(x), get_aval(y))
    return g if get_aval(g).shape == shape else broadcast_in_dim(g, shape, ())


def _pow_jvp_x(g, x, y):
    # y * x^(y-1), defined as 0 where y == 0
    yv = y
    r = mul(yv, pow(x, sub(yv, _full_like(yv, 1))))
    r = select_n(eq(yv, _full_like(yv, 0)), r, mul(r, _full_like(r, 0)))
    return mul(g, r)


def _pow_jvp_y(g, x, y):
    ans = pow(x, y)
    # log(x) * x^y, defined as 0 where x == 0
    safe = select_n(eq(x, _full_like(x, 0)), x, add(x, _full_like(x, 1)))
    r = select_n(eq(x, _full_like(x, 0)), mul(log(safe), ans), mul(ans, _full_like(ans, 0)))
    return mul(g, r)


ad.defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced(which, x, y):
    """1 where ``which`` picks x, 1/2 on ties (ties split evenly between operands)."""
    from .structural import full
    shape = broadcasting_shape("max/min", get_aval(x), get_aval(y))
    dt = get_aval(x).dtype    # select_n needs cases of the selector's shape
    one, half, zero = full(shape, 1, dt), full(shape, 0.5, dt), full(shape, 0, dt)
    strict = select_n(which(x, y), zero, one)
    return add(strict, select_n(eq(x, y), zero, half))


def _minmax_jvp(which):
    def fx(g, x, y):
        return mul(g, _bcast_mask(_balanced(which, x, y), g))

    def fy(g, x, y):
        return mul(g, _bcast_mask(_balanced(which, y, x), g))
    return fx, fy


def _bcast_mask(m, g):
    return m


ad.defjvp(max_p, *_minmax_jvp(gt))
ad.defjvp(min_p, *_minmax_jvp(lt))


def _atan2_jx(g, x, y):
    return mul(g, div(y, add(mul(x, x), mul(y, y))))


def _atan2_jy(g, x, y):
    return mul(g, neg(div(x, add(mul(x, x), mul(y, y)))))


ad.defjvp(atan2_p, _atan2_jx, _atan2_jy)
for _p in (nextafter_p, and_p, or_p, xor_p, eq_p, ne_p, lt_p, le_p, gt_p, ge_p):
    ad.defjvp(_p, None, None)


# ----------------------------------------------------------------------------- select_n, clamp

select_n_p = Primitive("select_n")
select_n_p.elementwise = True


def _select_n_kernel(which, *cases, out=None):
    if len(cases) == 2:
        return np.where(which, cases[1], cases[0]) if out is None else np.copyto(
            out, np.where(which, cases[1], cases[0])) or out
    r = np.choose(np.asarray(which, np.int32), cases)
    if out is not None:
        np.copyto(out, r)
        return out
    return r


select_n_p.impl = _select_n_kernel
select_n_p.lowering = {"ufunc": _select_n_kernel, "cuda": None}


@select_n_p.def_abstract_eval
def _select_n_abstract(which, *cases):
    if not cases:
        raise TypeError("select_n needs at least one case")
    if which.dtype.kind not in "bi":
        raise TypeError(f"select_n: the selector must be boolean or int32, got {which.dtype}")
    if which.dtype.kind == "b" and len(cases) > 2:
        raise TypeError("select_n: a boolean selector picks between exactly two cases")
    dt = cases[0].dtype
    for c in cases[1:]:
        if c.dtype != dt:
            raise TypeError(f"select_n: cases must have the same dtype, got "
                            f"{[c.dtype.name for c in cases]}")
    shape = broadcasting_shape("select_n", *cases)
    if which.ndim and which.shape != shape:
        raise TypeError(f"select_n: selector shape {which.shape} does not match case shape "
                        f"{shape}")
    return ShapedArray(shape, dt, all(c.weak_type for c in cases))


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n_p.bind(which, *cases)
    ts = tangents[1:]
    if all(type(t) is Zero for t in ts):
        return out, Zero.from_value(out)
    ts = [instantiate(t) if type(t) is Zero else t for t in ts]
    oshape = get_aval(out).shape
    from .structural import broadcast_in_dim
    ts = [broadcast_in_dim(t, oshape, ()) if get_aval(t).shape != oshape else t for t in ts]
    return out, select_n_p.bind(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if ad.is_undefined_primal(which):
        raise TypeError("select_n: the selector cannot be differentiated")
    if type(ct) is Zero:
        return [None] * (1 + len(cases))
    zeros = mul(ct, _full_like(ct, 0))
    res = [None]
    for i, c in enumerate(cases):
        if ad.is_undefined_primal(c):
            picks = [zeros] * len(cases)
            picks[i] = ct
            res.append(_bcast_to(select_n_p.bind(which, *picks), c.aval))
        else:
            res.append(None)
    return res


select_n_p.jvp = _select_n_jvp
select_n_p.transpose = _select_n_transpose
select_n_p.linear = True
_select_n_generic_batch = elementwise_batch_rule(select_n_p)


def _select_n_batch(args, dims):
    # a batched selector cannot broadcast over unbatched rank-0 cases: materialize them
    which, *cases = args
    if dims[0] is not None and any(d is None and get_aval(c).ndim == 0
                                   for c, d in zip(cases, dims[1:])):
        from .structural import broadcast_in_dim
        shape = get_aval(which).shape
        cases = [broadcast_in_dim(c, shape, ()) if d is None and get_aval(c).ndim == 0 else c
                 for c, d in zip(cases, dims[1:])]
        dims = [dims[0]] + [dims[0] if d is None and get_aval(c).ndim == 0 else d
                            for c, d in zip(args[1:], dims[1:])]
        args = [which] + cases
    return _select_n_generic_batch(args, dims)


select_n_p.batch = _select_n_batch
def _sample_select_n(rng, dtype):
    shape = (2, 3)
    case = lambda: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    kind = int(rng.integers(3))
    if kind == 0:       # boolean selector, two cases
        return [rng.random(shape) < 0.5, case(), case()], {}
    if kind == 1:       # int32 selector, three cases
        return [rng.integers(0, 3, shape).astype(np.int32), case(), case(), case()], {}
    # scalar selector; a rank-0 case broadcasts
    return [np.asarray(rng.random() < 0.5), case(), np.asarray(rng.standard_normal(), dtype)], {}


select_n_p.test_spec = {"sample": _sample_select_n, "nondiff_args": (0,)}


def select_n(which, *cases):
    """``cases[which]`` elementwise; a boolean ``which`` picks ``cases[1]`` where True."""
    cases = operands(*cases)
    return select_n_p.bind(which, *cases)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (``lax.select``)."""
    return select_n(pred, on_false, on_true)


clamp_p = Primitive("clamp")
clamp_p.elementwise = True


def _clamp_kernel(lo, x, hi, out=None):
    return np.minimum(np.maximum(x, lo), hi, out=out)


clamp_p.impl = _clamp_kernel
clamp_p.lowering = {"ufunc": _clamp_kernel, "cuda": "min(max({1}, {0}), {2})"}


@clamp_p.def_abstract_eval
def _clamp_abstract(lo, x, hi):
    for a in (lo, hi):
        if a.ndim and a.shape != x.shape:
            raise TypeError(f"clamp: bounds must be scalars or have the operand's shape "
                            f"{x.shape}, got {a.shape}")
        if a.dtype != x.dtype:
            raise TypeError(f"clamp: bounds dtype {a.dtype} differs from operand dtype "
                            f"{x.dtype}")
    return x


def _clamp_jvp_x(g, lo, x, hi):
    inside = bitwise_and(ge(x, _b(lo, x)), le(x, _b(hi, x)))
    return select_n(inside, mul(g, _full_like(g, 0)), g)


def _b(v, x):
    from .structural import broadcast_in_dim
    a, b = get_aval(v), get_aval(x)
    return broadcast_in_dim(v, b.shape, ()) if a.shape != b.shape else v


def _clamp_jvp_lo(g, lo, x, hi):
    r = select_n(lt(x, _b(lo, x)), mul(_b(g, x), _full_like(x, 0)), _b(g, x))
    return r


def _clamp_jvp_hi(g, lo, x, hi):
    return select_n(gt(x, _b(hi, x)), mul(_b(g, x), _full_like(x, 0)), _b(g, x))


ad.defjvp(clamp_p, _clamp_jvp_lo, _clamp_jvp_x, _clamp_jvp_hi)
clamp_p.batch = elementwise_batch_rule(clamp_p)
def _sample_clamp(rng, dtype):
    shape = (3, 4)
    lo = np.asarray(-0.5) if rng.random() < 0.5 else rng.uniform(-1.0, -0.4, shape)
    hi = np.asarray(0.6) if rng.random() < 0.5 else rng.uniform(0.4, 1.0, shape)
    x = rng.uniform(-2.0, 2.0, shape)
    # stay away from the kinks at the bounds (the derivative jumps there)
    x = np.where(np.abs(x - lo) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x - hi) < 0.05, x - 0.1, x)
    return [lo.astype(dtype), x.astype(dtype), hi.astype(dtype)], {}


clamp_p.test_spec = {"sample": _sample_clamp}


def clamp(min, x, max):
    """Clip ``x`` to ``[min, max]`` (``lax.clamp`` argument order)."""
    lo, x, hi = operands(min, x, max)
    return clamp_p.bind(lo, x, hi)


# ----------------------------------------------------------------------------- convert

convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.elementwise = True


def _convert_kernel(x, *, new_dtype, weak_type=False, out=None):
    if out is not None:
        np.copyto(out, x, casting="unsafe")
        return out
    return np.asarray(x).astype(new_dtype)


convert_element_type_p.impl = _convert_kernel
convert_element_type_p.lowering = {"ufunc": None, "cuda": None}


@convert_element_type_p.def_abstract_eval
def _convert_abstract(x, *, new_dtype, weak_type=False):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or not dtypes.is_inexact(new_dtype) or not dtypes.is_inexact(
            get_aval(x).dtype):
        return out, Zero(get_aval(out).strip_weak_type())
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=False)


def _convert_transpose(ct, x, *, new_dtype, weak_type=False):
    if type(ct) is Zero:
        return [None]
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=False)]


convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.transpose = _convert_transpose
convert_element_type_p.linear = True
convert_element_type_p.batch = lambda args, dims, **p: (convert_element_type_p.bind(
    args[0], **p), dims[0])
def _sample_convert(rng, dtype):
    new = np.dtype(rng.choice(["float32", "float64"]))
    return [rng.standard_normal((2, 3)).astype(dtype)], {"new_dtype": new, "weak_type": False}


# grad_order 1: through a float32 intermediate, second-order finite differences in float64
# see float32 rounding (the map is linear, so its higher derivatives are zero anyway)
convert_element_type_p.test_spec = {"sample": _sample_convert, "grad_order": 1}


def convert_element_type(x, new_dtype, weak_type=False):
    """Cast ``x`` to ``new_dtype`` (a no-op when it already has that type)."""
    new_dtype = dtypes.check_supported(new_dtype, "convert_element_type")
    if not hasattr(x, "dtype") or isinstance(x, np.generic) or isinstance(x, np.ndarray):
        if isinstance(x, (bool, int, float, complex)):
            return np.asarray(x, new_dtype)[()]
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


# ----------------------------------------------------------------------------- docstrings

_UNARY_DOCS = {
    "neg": "``-x``", "sign": "the sign of ``x`` (-1, 0 or 1)", "floor": "rounding down",
    "ceil": "rounding up", "is_finite": "whether ``x`` is finite", "exp": "``e ** x``",
    "exp2": "``2 ** x``", "log": "the natural logarithm", "log1p": "``log(1 + x)``, accurate "
    "near 0", "expm1": "``exp(x) - 1``, accurate near 0", "tanh": "the hyperbolic tangent",
    "logistic": "the logistic sigmoid ``1 / (1 + exp(-x))``", "sin": "the sine",
    "cos": "the cosine", "tan": "the tangent", "asin": "the arcsine", "acos": "the arccosine",
    "atan": "the arctangent", "sinh": "the hyperbolic sine", "cosh": "the hyperbolic cosine",
    "asinh": "the inverse hyperbolic sine", "acosh": "the inverse hyperbolic cosine",
    "atanh": "the inverse hyperbolic tangent", "sqrt": "the square root",
    "rsqrt": "``1 / sqrt(x)``", "cbrt": "the cube root", "abs": "``|x|`` (derivative 0 at 0)",
    "erf": "the error function", "erfc": "``1 - erf(x)``", "erf_inv": "the inverse of erf",
    "lgamma": "``log |Gamma(x)|``", "digamma": "the derivative of lgamma",
    "bitwise_not": "bitwise (or logical) not", "square": "``x * x``",
}
_BINARY_DOCS = {
    "add": "``x + y``", "sub": "``x - y``", "mul": "``x * y``",
    "div": "``x / y`` (integers: rounding toward zero)", "rem": "the remainder of ``x / y`` with "
    "the sign of ``x`` (C's fmod)", "pow": "``x ** y``", "max": "the elementwise maximum (a tie "
    "splits the derivative evenly)", "min": "the elementwise minimum (ties split evenly)",
    "atan2": "the arctangent of ``x / y`` in the right quadrant",
    "nextafter": "the next float after ``x`` towards ``y``", "bitwise_and": "``x & y``",
    "bitwise_or": "``x | y``", "bitwise_xor": "``x ^ y``", "eq": "``x == y``",
    "ne": "``x != y``", "lt": "``x < y``", "le": "``x <= y``", "gt": "``x > y``",
    "ge": "``x >= y``",
}
_INT_OPS = {"bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor"}
# what each docstring example (set by _set_docs below) prints
_DOC_OUTPUTS = {"neg": "Array([-0.5 , -0.75], dtype=float32)",
    "sign": "Array([1., 1.], dtype=float32)", "floor": "Array([0., 0.], dtype=float32)",
    "ceil": "Array([1., 1.], dtype=float32)", "is_finite": "Array([ True,  True], dtype=bool)",
    "exp": "Array([1.6487212, 2.117    ], dtype=float32)",
    "exp2": "Array([1.4142135, 1.6817929], dtype=float32)",
    "log": "Array([-0.6931472, -0.2876821], dtype=float32)",
    "log1p": "Array([0.40546513, 0.5596158 ], dtype=float32)",
    "expm1": "Array([0.6487213, 1.117    ], dtype=float32)",
    "tanh": "Array([0.4621172, 0.635149 ], dtype=float32)",
    "logistic": "Array([0.62245935, 0.6791787 ], dtype=float32)",
    "sin": "Array([0.47942555, 0.6816388 ], dtype=float32)",
    "cos": "Array([0.87758255, 0.73168886], dtype=float32)",
    "tan": "Array([0.5463025 , 0.93159646], dtype=float32)",
    "asin": "Array([0.5235988 , 0.84806216], dtype=float32)",
    "acos": "Array([1.0471976, 0.7227342], dtype=float32)",
    "atan": "Array([0.4636476, 0.6435011], dtype=float32)",
    "sinh": "Array([0.5210953 , 0.82231677], dtype=float32)",
    "cosh": "Array([1.1276261, 1.2946833], dtype=float32)",
    "asinh": "Array([0.4812118, 0.6931472], dtype=float32)",
    "acosh": "Array([0.9624236, 1.316958 ], dtype=float32)",
    "atanh": "Array([0.54930615, 0.97295505], dtype=float32)",
    "sqrt": "Array([0.70710677, 0.8660254 ], dtype=float32)",
    "rsqrt": "Array([1.4142135, 1.1547005], dtype=float32)",
    "cbrt": "Array([0.7937005 , 0.90856034], dtype=float32)",
    "abs": "Array([0.5 , 0.75], dtype=float32)",
    "erf": "Array([0.5204999 , 0.71115565], dtype=float32)",
    "erfc": "Array([0.47950011, 0.28884438], dtype=float32)",
    "erf_inv": "Array([0.47693628, 0.8134198 ], dtype=float32)",
    "lgamma": "Array([0.5723649 , 0.20328096], dtype=float32)",
    "digamma": "Array([-1.96351  , -1.0858608], dtype=float32)",
    "bitwise_not": "Array([-4, -6], dtype=int32)",
    "square": "Array([0.25  , 0.5625], dtype=float32)", "add": "Array([2., 4.], dtype=float32)",
    "sub": "Array([-1.,  0.], dtype=float32)", "mul": "Array([0.75, 4.  ], dtype=float32)",
    "div": "Array([0.33333334, 1.        ], dtype=float32)",
    "rem": "Array([0.5, 0. ], dtype=float32)",
    "pow": "Array([0.35355338, 4.        ], dtype=float32)",
    "max": "Array([1.5, 2. ], dtype=float32)", "min": "Array([0.5, 2. ], dtype=float32)",
    "atan2": "Array([0.32175058, 0.7853981 ], dtype=float32)",
    "nextafter": "Array([0.50000006, 2.        ], dtype=float32)",
    "bitwise_and": "Array([2, 4], dtype=int32)", "bitwise_or": "Array([7, 5], dtype=int32)",
    "bitwise_xor": "Array([5, 1], dtype=int32)", "eq": "Array([False,  True], dtype=bool)",
    "ne": "Array([ True, False], dtype=bool)", "lt": "Array([ True, False], dtype=bool)",
    "le": "Array([ True,  True], dtype=bool)", "gt": "Array([False, False], dtype=bool)",
    "ge": "Array([False,  True], dtype=bool)"}


def _set_docs():
    g = globals()
    for name, what in _UNARY_DOCS.items():
        arg = "np.array([3, 5], np.int32)" if name in _INT_OPS else "np.array([0.5, 0.75], np.float32)"
        if name == "acosh":                                  # defined for x >= 1
            arg = "np.array([1.5, 2.0], np.float32)"
        g[name].__doc__ = (f"Elementwise {what}: a lax primitive (no implicit promotion).\n\n"
                           f">>> lax.{name}({arg})\n{_DOC_OUTPUTS[name]}")
    for name, what in _BINARY_DOCS.items():
        args = ("np.array([3, 5], np.int32), np.array([6, 4], np.int32)" if name in _INT_OPS
                else "np.array([0.5, 2.0], np.float32), np.array([1.5, 2.0], np.float32)")
        g[name].__doc__ = (f"Elementwise {what}.  Operands need equal shapes (or be scalars) and "
                           f"equal dtypes; ``funcgrad.numpy`` broadcasts and promotes.\n\n"
                           f">>> lax.{name}({args})\n{_DOC_OUTPUTS[name]}")


_set_docs()


__all__ = ["neg", "sign", "floor", "ceil", "round", "is_finite", "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "erf", "erfc", "erf_inv", "lgamma", "digamma", "bitwise_not", "square", "polygamma", "integer_pow", "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter", "bitwise_and", "bitwise_or", "bitwise_xor", "eq", "ne", "lt", "le", "gt", "ge", "select_n", "select", "clamp", "convert_element_type"]
