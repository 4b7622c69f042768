"""``funcgrad.numpy`` against NumPy.

A table maps every public function of ``funcgrad.numpy`` to a hypothesis generator of
arguments (shapes, values, dtypes) and a NumPy reference.  Each function is checked
eagerly, through ``make_jaxpr`` + ``eval_jaxpr``, under ``jit`` and under ``vmap`` (against
a Python loop).  ``test_every_public_function_is_tested`` keeps the table complete.
The Array API (operators, methods, conversions, immutability) is tested at the end.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import eval_jaxpr

F32, F64, I32, B = np.float32, np.float64, np.int32, np.bool_
F = (F32, F64)
FI = (F32, F64, I32)
FIB = (F32, F64, I32, B)
IB = (I32, B)
I = (I32,)

N_EXAMPLES = 4          # per function (x 4 execution modes); the table is long


# ============================================================================ generators

def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def X(d, dt, shape=None, lo=-3.0, hi=3.0, min_dims=0, max_dims=3, min_side=1, max_side=4,
      unique=False):
    """Draw a NumPy array of dtype ``dt`` with values in ``[lo, hi]``."""
    if shape is None:
        shape = d(shapes(min_dims, max_dims, min_side, max_side))
    dt = np.dtype(dt)
    if dt.kind == "b":
        el = st.booleans()
    elif dt.kind in "iu":
        el = st.integers(int(np.ceil(lo)), int(np.floor(hi)))
    else:
        f = dt.type
        l, h = f(lo), f(hi)
        l = np.nextafter(l, f(np.inf)) if l < lo else l
        h = np.nextafter(h, f(-np.inf)) if h > hi else h
        el = st.floats(float(l), float(h), width=dt.itemsize * 8, allow_nan=False,
                       allow_infinity=False)
    return d(hnp.arrays(dt, shape, elements=el, unique=unique))


def bshapes(d, n=2, min_dims=0, max_dims=3):
    return d(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims,
                                               max_dims=max_dims, min_side=1,
                                               max_side=3)).input_shapes


def axis_of(d, nd, none=True, tuples=True):
    opts = ([None] if none else []) + list(range(-nd, nd))
    if tuples and nd >= 2:
        opts += [(0, nd - 1), (-1, 0)]
    return d(st.sampled_from(opts)) if opts else None


def with_nans(d, x):
    if x.size and x.dtype.kind == "f":
        m = X(d, B, x.shape)
        x = np.where(m, np.nan, x).astype(x.dtype)
    return x


# ============================================================================ the table

class Case:
    """One function under test.  ``gen(draw, dtype) -> (args, kwargs)``; NumPy arrays
    among ``args`` are the traced inputs, everything else is closed over."""

    def __init__(self, name, gen, ref=None, fn=None, dts=F, tol=None, jit=True, vmap=True,
                 vmap_arg=0, concrete=False, py=False, post=None, label=""):
        self.name, self.gen, self.dts = name, gen, dts
        self.fn = fn if fn is not None else getattr(fnp, name)
        self.ref = ref if ref is not None else (_NP_ALIAS.get(name) or getattr(np, name))
        self.tol, self.jit, self.vmap, self.vmap_arg = tol, jit, vmap, vmap_arg
        self.concrete, self.py, self.post = concrete, py, post
        self.id = name + (f"-{label}" if label else "")


CASES = []


def case(*a, **k):
    CASES.append(Case(*a, **k))


def un(lo=-3.0, hi=3.0, min_side=1):
    return lambda d, dt: ([X(d, dt, lo=lo, hi=hi, min_side=min_side)], {})


def bin_(lo=-3.0, hi=3.0, lo2=None, hi2=None, nonzero2=False, scalar2=False):
    def g(d, dt):
        s1, s2 = bshapes(d)
        a = X(d, dt, s1, lo, hi)
        b = X(d, dt, s2, lo if lo2 is None else lo2, hi if hi2 is None else hi2)
        if nonzero2:
            b = np.where(b == 0, np.ones_like(b), b)
        if scalar2 and d(st.booleans()):
            b = b.reshape(-1)[0].item() if b.size else 1
        return [a, b], {}
    return g


# --- elementwise, unary
_UNARY = {
    "abs": (FIB, -3, 3), "absolute": (FIB, -3, 3), "negative": (FI, -3, 3),
    "positive": (FI, -3, 3), "sign": (FI, -3, 3), "square": (FI, -3, 3),
    "reciprocal": (F, 0.5, 3), "sqrt": (FI, 0, 4), "cbrt": (FI, -3, 3), "exp": (FI, -3, 3),
    "exp2": (FI, -3, 3), "expm1": (FI, -3, 3), "log": (FI, 0.1, 4), "log1p": (FI, -0.5, 3),
    "log2": (FI, 0.1, 4), "log10": (FI, 0.1, 4), "sin": (FI, -3, 3), "cos": (FI, -3, 3),
    "tan": (F, -1.2, 1.2), "arcsin": (F, -0.9, 0.9), "arccos": (F, -0.9, 0.9),
    "arctan": (FI, -3, 3), "sinh": (FI, -3, 3), "cosh": (FI, -3, 3), "tanh": (FI, -3, 3),
    "arcsinh": (FI, -3, 3), "arccosh": (F, 1.1, 4), "arctanh": (F, -0.9, 0.9),
    "floor": (FIB, -3, 3), "ceil": (FIB, -3, 3), "trunc": (FI, -3, 3), "fix": (FI, -3, 3),
    "rint": (FI, -3, 3), "isfinite": (FIB, -3, 3), "isnan": (FIB, -3, 3),
    "isinf": (FIB, -3, 3), "signbit": (FI, -3, 3), "deg2rad": (FI, -3, 3),
    "rad2deg": (FI, -3, 3), "degrees": (FI, -3, 3), "radians": (FI, -3, 3),
    "sinc": (F, -3, 3), "invert": (IB, -3, 3), "bitwise_not": (IB, -3, 3),
    "logical_not": (FIB, -2, 2), "isneginf": (FI, -3, 3), "isposinf": (FI, -3, 3),
    "real": (FI, -3, 3), "imag": (FI, -3, 3), "conj": (FI, -3, 3), "conjugate": (FI, -3, 3),
    "isreal": (FI, -3, 3), "iscomplex": (FI, -3, 3), "angle": (FI, -3, 3),
    "acos": (F, -0.9, 0.9), "asin": (F, -0.9, 0.9), "atan": (F, -3, 3),
    "acosh": (F, 1.1, 4), "asinh": (F, -3, 3), "atanh": (F, -0.9, 0.9),
    "bitwise_invert": (IB, -3, 3),
}
_NP_ALIAS = {"acos": np.arccos, "asin": np.arcsin, "atan": np.arctan, "acosh": np.arccosh,
             "asinh": np.arcsinh, "atanh": np.arctanh, "bitwise_invert": np.invert,
             "atan2": np.arctan2, "pow": np.power, "concat": np.concatenate,
             "row_stack": np.vstack, "trapezoid": getattr(np, "trapezoid", None),
             }
for _n, (_dts, _lo, _hi) in _UNARY.items():
    case(_n, un(_lo, _hi), ref=_NP_ALIAS.get(_n), dts=_dts)
case("signbit", lambda d, dt: ([np.array([-0.0, 0.0, -1.0, 2.0], dt)], {}), label="zeros")
case("nan_to_num", lambda d, dt: ([np.array([np.nan, np.inf, -np.inf, 1.5], dt)],
                                  d(st.sampled_from([{}, {"nan": 2.0, "posinf": 9.0}]))))
case("nan_to_num", un(), dts=IB, label="int")
case("round", lambda d, dt: ([X(d, dt)], {"decimals": d(st.integers(0, 2))}),
     tol=(1e-5, 1e-5))
case("around", lambda d, dt: ([X(d, dt)], {"decimals": d(st.integers(0, 2))}),
     tol=(1e-5, 1e-5))
case("rint", lambda d, dt: ([np.array([0.5, 1.5, 2.5, -0.5, -1.5], dt)], {}), label="half")
case("modf", un(), dts=F)
case("isfinite", lambda d, dt: ([np.array([np.nan, np.inf, -np.inf, 1.0], dt)], {}),
     label="special")
case("isnan", lambda d, dt: ([np.array([np.nan, np.inf, 1.0], dt)], {}), label="special")
case("isinf", lambda d, dt: ([np.array([np.nan, np.inf, -np.inf, 1.0], dt)], {}),
     label="special")

# --- elementwise, binary
_BINARY = {
    "add": (FIB, {}), "subtract": (FI, {}), "multiply": (FIB, {}),
    "divide": (FI, dict(nonzero2=True)), "true_divide": (FI, dict(nonzero2=True)),
    "floor_divide": (FI, dict(nonzero2=True)), "remainder": (FI, dict(nonzero2=True)),
    "mod": (FI, dict(nonzero2=True)), "fmod": (FI, dict(nonzero2=True)),
    "power": (F, dict(lo=0.1, hi=3)), "pow": (F, dict(lo=0.1, hi=3)),
    "float_power": (F, dict(lo=0.1, hi=3)), "maximum": (FIB, {}), "minimum": (FIB, {}),
    "fmax": (FI, {}), "fmin": (FI, {}), "arctan2": (F, {}), "atan2": (F, {}),
    "hypot": (F, {}), "logaddexp": (F, {}), "logaddexp2": (F, {}), "copysign": (F, {}),
    "nextafter": (F, {}), "heaviside": (F, {}), "equal": (FIB, {}), "not_equal": (FIB, {}),
    "less": (FI, {}), "less_equal": (FI, {}), "greater": (FI, {}), "greater_equal": (FI, {}),
    "bitwise_and": (IB, {}), "bitwise_or": (IB, {}), "bitwise_xor": (IB, {}),
    "logical_and": (FIB, {}), "logical_or": (FIB, {}), "logical_xor": (FIB, {}),
    "gcd": (I, dict(lo=-20, hi=20)), "lcm": (I, dict(lo=-12, hi=12)),
    "divmod": (FI, dict(nonzero2=True)),
}
for _n, (_dts, _kw) in _BINARY.items():
    case(_n, bin_(**_kw), ref=_NP_ALIAS.get(_n), dts=_dts)
    if _n in ("add", "multiply", "subtract", "divide", "maximum", "power", "equal", "less",
              "floor_divide", "remainder", "arctan2", "fmax"):
        case(_n, bin_(scalar2=True, **_kw), ref=_NP_ALIAS.get(_n), dts=_dts, label="scalar")
case("power", lambda d, dt: ([X(d, dt, lo=-3, hi=3), d(st.integers(0, 4))], {}), dts=FI,
     label="intexp")
case("power", lambda d, dt: (lambda s: ([X(d, dt, s[0], 0, 3), X(d, dt, s[1], 0, 5)], {}))(
    bshapes(d)), dts=I, label="intarr")
case("fmax", lambda d, dt: ([np.array([np.nan, 1, np.nan, 2], dt),
                            np.array([0, np.nan, np.nan, 3], dt)], {}), label="nan")
case("fmin", lambda d, dt: ([np.array([np.nan, 1, np.nan, 2], dt),
                            np.array([0, np.nan, np.nan, 3], dt)], {}), label="nan")
case("maximum", lambda d, dt: ([np.array([np.nan, 1, 2], dt), np.array([0, np.nan, 3], dt)],
                               {}), label="nan")
case("floor_divide", lambda d, dt: ([np.array([7, -7, 7, -7, 0], dt),
                                    np.array([2, 2, -2, -2, 3], dt)], {}), dts=FI, label="signs")
case("remainder", lambda d, dt: ([np.array([7, -7, 7, -7, 0], dt),
                                 np.array([2, 2, -2, -2, 3], dt)], {}), dts=FI, label="signs")
case("ldexp", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, I32, s[1], -3, 3)], {}))(
    bshapes(d)), dts=F)
case("where", lambda d, dt: (lambda s: ([X(d, B, s[0]), X(d, dt, s[1]), X(d, dt, s[2])],
                                        {}))(bshapes(d, 3)), dts=FIB)
case("where", lambda d, dt: ([X(d, B), 1.5, -1.0], {}), label="scalars")
case("clip", lambda d, dt: ([X(d, dt), -1, 2], {}), dts=FI)
case("clip", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1], -3, 0),
                                        X(d, dt, s[2], 0, 3)], {}))(bshapes(d, 3)),
     label="arrays")
case("clip", lambda d, dt: ([X(d, dt), None, 1.0], {}), label="upper")
case("isclose", lambda d, dt: (lambda a: ([a, a + X(d, dt, a.shape, -1e-6, 1e-6)],
                                          d(st.sampled_from([{}, {"atol": 0.1}]))))(X(d, dt)),
     dts=F)
case("isclose", lambda d, dt: ([np.array([np.nan, np.inf, -np.inf, 1.0], dt),
                               np.array([np.nan, np.inf, np.inf, 1.0], dt)],
                              {"equal_nan": d(st.booleans())}), label="special")
case("allclose", lambda d, dt: (lambda a: ([a, a + X(d, dt, a.shape, -1e-3, 1e-3)], {}))(
    X(d, dt)), dts=F)


# --- reductions
def red(nan=False, ddof=False, keep=True, lo=-3, hi=3, axis_tuples=True, initial=None,
        min_side=1):
    def g(d, dt):
        x = X(d, dt, lo=lo, hi=hi, min_side=min_side)
        if nan:
            x = with_nans(d, x)
        kw = {"axis": axis_of(d, x.ndim, tuples=axis_tuples)}
        if keep:
            kw["keepdims"] = d(st.booleans())
        if ddof:
            kw["ddof"] = d(st.integers(0, 1))
        if initial is not None and d(st.booleans()):
            kw["initial"] = initial
        return [x], kw
    return g


for _n, _dts in [("sum", FIB), ("prod", FIB), ("mean", FIB), ("max", FIB), ("min", FIB),
                 ("amax", FI), ("amin", FI), ("all", FIB), ("any", FIB), ("ptp", FI),
                 ("count_nonzero", FIB)]:
    case(_n, red(lo=-2 if _n == "prod" else -3, hi=2 if _n == "prod" else 3), dts=_dts)
case("sum", red(initial=2), label="initial", dts=FI)
case("max", red(initial=-1.0, min_side=0), label="initial")
case("sum", red(min_side=0), label="empty", dts=FI)
case("mean", lambda d, dt: ([X(d, dt)], {"dtype": np.float64}), label="dtype", dts=FI)
case("var", red(ddof=True), dts=FI, tol=(1e-4, 1e-4))


def red_where(initial=None, ddof=False):
    def g(d, dt):
        x = X(d, dt, lo=-2, hi=2, min_dims=1)
        w = X(d, B, x.shape[d(st.integers(0, x.ndim)):])       # broadcasts against x
        kw = {"axis": axis_of(d, x.ndim), "keepdims": d(st.booleans())}
        if initial is not None:
            kw["initial"] = initial
        if ddof:
            kw["ddof"] = d(st.integers(0, 1))
        return [x, w], kw
    return g


for _n in ("sum", "prod", "mean", "all", "any", "nansum", "nanmean"):
    case(_n, red_where(), dts=FI, label="where",
         fn=lambda x, w, _n=_n, **k: getattr(fnp, _n)(x, where=w, **k),
         ref=lambda x, w, _n=_n, **k: getattr(np, _n)(x, where=w, **k))
for _n in ("var", "std", "nanvar", "nanstd"):
    case(_n, red_where(ddof=True), label="where", tol=(1e-4, 1e-4),
         fn=lambda x, w, _n=_n, **k: getattr(fnp, _n)(x, where=w, **k),
         ref=lambda x, w, _n=_n, **k: getattr(np, _n)(x, where=w, **k))
for _n in ("max", "min", "nanmax", "nanmin"):
    case(_n, red_where(initial=0.5), label="where",
         fn=lambda x, w, _n=_n, **k: getattr(fnp, _n)(x, where=w, **k),
         ref=lambda x, w, _n=_n, **k: getattr(np, _n)(x, where=w, **k))
case("std", red(ddof=True), dts=FI, tol=(1e-4, 1e-4))
for _n in ("argmax", "argmin"):
    case(_n, lambda d, dt: (lambda x: ([x], {"axis": axis_of(d, x.ndim, tuples=False),
                                            "keepdims": d(st.booleans())}))(X(d, dt)), dts=FIB)
case("average", red(keep=False), dts=FI)
case("average", lambda d, dt: (lambda x: ([x, X(d, dt, x.shape, 0.5, 2)],
                                          {"axis": axis_of(d, x.ndim)}))(X(d, dt)),
     fn=lambda x, w, **k: fnp.average(x, weights=w, **k),
     ref=lambda x, w, **k: np.average(x, weights=w, **k), label="weights")
case("average", lambda d, dt: (lambda x: ([x, X(d, dt, x.shape[-1:], 0.5, 2)],
                                          {"axis": -1, "returned": True}))(X(d, dt, min_dims=2)),
     fn=lambda x, w, **k: fnp.average(x, weights=w, **k),
     ref=lambda x, w, **k: np.average(x, weights=w, **k), label="weights1d")
for _n in ("nansum", "nanprod", "nanmax", "nanmin", "nanmean"):
    case(_n, red(nan=_n in ("nansum", "nanprod", "nanmean"), lo=-2, hi=2), dts=FI)
case("nanvar", red(nan=True, ddof=True), tol=(1e-4, 1e-4))
case("nanstd", red(nan=True, ddof=True), tol=(1e-4, 1e-4))
case("nanmax", lambda d, dt: ([np.array([[np.nan, 1.0], [2.0, np.nan]], dt)],
                              {"axis": d(st.sampled_from([None, 0, 1]))}), label="nan")
for _n in ("nanargmax", "nanargmin"):
    case(_n, lambda d, dt: ([np.array([[np.nan, 1.0, 3.0], [2.0, np.nan, -1.0]], dt)],
                            {"axis": d(st.sampled_from([None, 0, 1, -1]))}))
for _n in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
    case(_n, lambda d, dt, _n=_n: (lambda x: ([with_nans(d, x) if _n.startswith("nan") else x],
                                              {"axis": axis_of(d, x.ndim, tuples=False)}))(
        X(d, dt, lo=-2, hi=2)), dts=FIB if not _n.startswith("nan") else F)
case("cumulative_sum", lambda d, dt: ([X(d, dt, max_dims=1, min_dims=1)],
                                      {"include_initial": d(st.booleans())}), dts=FIB,
     ref=getattr(np, "cumulative_sum", None))
case("cumulative_prod", lambda d, dt: (lambda x: ([x], {"axis": x.ndim - 1,
                                                        "include_initial": d(st.booleans())}))(
    X(d, dt, lo=-2, hi=2, min_dims=1)), dts=FI, ref=getattr(np, "cumulative_prod", None))
case("median", red(keep=True), dts=FI)
case("nanmedian", red(nan=True, keep=True, axis_tuples=False))
case("quantile", lambda d, dt: (lambda x: ([x, d(st.sampled_from([0.0, 0.3, 0.5, 1.0]))],
                                           {"axis": axis_of(d, x.ndim)}))(X(d, dt)))
case("quantile", lambda d, dt: ([X(d, dt, min_dims=1), np.array([0.1, 0.9], dt)],
                                {"axis": -1, "method": d(st.sampled_from(
                                    ["linear", "lower", "higher", "midpoint", "nearest"]))}),
     vmap_arg=0, label="vector")
case("percentile", lambda d, dt: ([X(d, dt), d(st.sampled_from([10.0, 50.0, 75.0]))], {}))
case("nanquantile", lambda d, dt: ([with_nans(d, X(d, dt, min_dims=1)), 0.4], {"axis": -1}))
case("nanpercentile", lambda d, dt: ([with_nans(d, X(d, dt, min_dims=1)), 40.0],
                                     {"axis": 0}))


# --- shape manipulation
def _reshape_gen(d, dt):
    x = X(d, dt)
    n = x.size
    divs = [k for k in range(1, n + 1) if n % k == 0]
    k = d(st.sampled_from(divs))
    return [x, d(st.sampled_from([(k, -1), (-1,), (n // k, k), (1, n, 1) if n else (0,)]))], {}


case("reshape", _reshape_gen, dts=FIB)
case("ravel", un(), dts=FIB)
case("transpose", lambda d, dt: (lambda x: ([x, d(st.permutations(range(x.ndim))) if
                                             d(st.booleans()) else None], {}))(X(d, dt)), dts=FIB)
case("permute_dims", lambda d, dt: (lambda x: ([x, tuple(d(st.permutations(range(x.ndim))))],
                                               {}))(X(d, dt)), ref=np.transpose)
case("matrix_transpose", lambda d, dt: ([X(d, dt, min_dims=2)], {}),
     ref=lambda x: np.swapaxes(x, -1, -2))
case("moveaxis", lambda d, dt: (lambda x: ([x, d(st.integers(-x.ndim, x.ndim - 1)),
                                            d(st.integers(-x.ndim, x.ndim - 1))], {}))(
    X(d, dt, min_dims=1)), dts=FIB)
case("moveaxis", lambda d, dt: ([X(d, dt, min_dims=3, max_dims=3), (0, -1), (-1, 1)], {}),
     label="multi")
case("swapaxes", lambda d, dt: (lambda x: ([x, d(st.integers(-x.ndim, x.ndim - 1)),
                                            d(st.integers(-x.ndim, x.ndim - 1))], {}))(
    X(d, dt, min_dims=1)), dts=FIB)
case("rollaxis", lambda d, dt: (lambda x: ([x, d(st.integers(-x.ndim, x.ndim - 1)),
                                            d(st.integers(0, x.ndim))], {}))(
    X(d, dt, min_dims=1)))
case("squeeze", lambda d, dt: ([X(d, dt, d(st.sampled_from([(1, 3, 1), (1,), (2, 1), ()])))],
                               {}), dts=FIB)
case("squeeze", lambda d, dt: ([X(d, dt, (1, 3, 1)), d(st.sampled_from([0, -1, (0, 2)]))], {}),
     label="axis")
case("expand_dims", lambda d, dt: (lambda x: ([x, d(st.sampled_from(
    [0, -1, x.ndim, (0, 1), (0, -1)]))], {}))(X(d, dt)), dts=FIB)
case("broadcast_to", lambda d, dt: (lambda x: ([x, (2,) + x.shape], {}))(X(d, dt)), dts=FIB)
case("broadcast_arrays", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1])], {}))(
    bshapes(d)), dts=FIB)


def _seq_gen(min_dims=1, same=False, n=None):
    def g(d, dt):
        k = n or d(st.integers(1, 3))
        s = d(shapes(min_dims, 3))
        ax = d(st.integers(-len(s), len(s) - 1)) if s else 0
        xs = []
        for _ in range(k):
            t = list(s)
            if not same and s:
                t[ax] = d(st.integers(1, 3))
            xs.append(X(d, dt, tuple(t)))
        return [xs], {"axis": ax}
    return g


def _seq_fn(f):
    return lambda *xs, **k: f(list(xs), **k)


def _seq(name, gen, ref=None, dts=FIB, **kw):
    """Functions taking a sequence of arrays: the arrays are traced one by one."""
    def g(d, dt):
        (xs,), k = gen(d, dt)
        return list(xs), k
    case(name, g, fn=_seq_fn(getattr(fnp, name)),
         ref=_seq_fn(ref or _NP_ALIAS.get(name) or getattr(np, name)), dts=dts, **kw)


_seq("concatenate", _seq_gen())
_seq("concat", _seq_gen())
_seq("stack", _seq_gen(0, same=True))
for _n in ("hstack", "vstack", "row_stack", "dstack", "column_stack"):
    _seq(_n, lambda d, dt: ([[X(d, dt, s) for s in d(st.sampled_from(
        [[(3,), (3,)], [(2, 3), (2, 3)], [(1, 2, 3), (1, 2, 3)], [()], [(2,)]]))]], {}))
case("concatenate", lambda d, dt: ([[X(d, dt, (2, 2)), X(d, dt, (3,))]], {"axis": None}),
     fn=lambda xs, **k: fnp.concatenate(xs, **k), ref=lambda xs, **k: np.concatenate(xs, **k),
     label="none", jit=False, vmap=False)
_seq("concatenate", lambda d, dt: ([[X(d, F32, (2, 2)), X(d, I32, (2, 1))]], {"axis": 1}),
     label="mixed")
for _n in ("atleast_1d", "atleast_2d", "atleast_3d"):
    case(_n, un(), dts=FIB)
case("atleast_2d", lambda d, dt: ([X(d, dt, ()), X(d, dt, (2,))], {}), label="many")
case("split", lambda d, dt: (lambda x: ([x, d(st.sampled_from(
    [k for k in (1, 2, 3) if x.shape[0] % k == 0] + [[1, 2], [0, 2], [-1], [5]]))], {}))(
    X(d, dt, min_dims=1, max_side=6)), dts=FIB)
case("split", lambda d, dt: ([X(d, dt, (2, 4)), 2], {"axis": -1}), label="axis")
case("array_split", lambda d, dt: (lambda x: ([x, d(st.integers(1, 4))],
                                              {"axis": d(st.integers(-x.ndim, x.ndim - 1))}))(
    X(d, dt, min_dims=1, max_side=5)), dts=FIB)
case("hsplit", lambda d, dt: ([X(d, dt, d(st.sampled_from([(4,), (2, 4), (1, 2, 3)])) ), 1],
                              {}))
case("hsplit", lambda d, dt: ([X(d, dt, (2, 4)), 2], {}), label="2")
case("vsplit", lambda d, dt: ([X(d, dt, (4, 2)), 2], {}))
case("dsplit", lambda d, dt: ([X(d, dt, (1, 2, 4)), [1, 3]], {}))
case("unstack", lambda d, dt: (lambda x: ([x], {"axis": d(st.integers(-x.ndim, x.ndim - 1))}))(
    X(d, dt, min_dims=1)), ref=lambda x, axis=0: tuple(np.moveaxis(x, axis, 0)))
case("tile", lambda d, dt: ([X(d, dt), d(st.sampled_from([2, (2, 1), (1, 2, 2), (0,), 1]))],
                            {}), dts=FIB)
case("repeat", lambda d, dt: (lambda x: ([x, d(st.integers(0, 3))],
                                         {"axis": axis_of(d, x.ndim, tuples=False)}))(X(d, dt)),
     dts=FIB)
case("repeat", lambda d, dt: (lambda x: ([x, list(d(st.lists(st.integers(0, 3), min_size=x.shape[0],
                                                             max_size=x.shape[0])))],
                                         {"axis": 0}))(X(d, dt, min_dims=1)), label="counts")
case("repeat", lambda d, dt: ([X(d, dt, (3, 2)), np.array([1, 0, 2], np.int32)],
                              {"axis": 0, "total_repeat_length": 3}), label="traced",
     fn=lambda x, r, **k: fnp.repeat(x, r, **k), ref=lambda x, r, axis, total_repeat_length:
     np.repeat(x, r, axis=axis), vmap=True)
case("resize", lambda d, dt: ([X(d, dt), d(st.sampled_from([(2, 3), 5, (1,), (0,)]))], {}))
case("flip", lambda d, dt: (lambda x: ([x], {"axis": axis_of(d, x.ndim)}))(X(d, dt)), dts=FIB)
case("fliplr", lambda d, dt: ([X(d, dt, min_dims=2)], {}))
case("flipud", lambda d, dt: ([X(d, dt, min_dims=1)], {}))
case("rot90", lambda d, dt: (lambda x: ([x, d(st.integers(-2, 5))],
                                        {"axes": d(st.sampled_from([(0, 1), (1, 0), (-1, 0)]))}))(
    X(d, dt, min_dims=2)), dts=FIB)
case("roll", lambda d, dt: (lambda x: ([x, d(st.integers(-5, 5))],
                                       {"axis": axis_of(d, x.ndim, tuples=False)}))(X(d, dt)),
     dts=FIB)
case("roll", lambda d, dt: ([X(d, dt, (3, 4)), (1, -2, 5)], {"axis": (0, 1, 1)}),
     label="tuple")
case("roll", lambda d, dt: ([X(d, dt, (3, 4)), np.int32(d(st.integers(-5, 5)))], {"axis": 1}),
     fn=lambda x, s, **k: fnp.roll(x, s, **k), label="traced_shift", vmap_arg=None)
_PAD_MODES = ["constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum",
              "minimum", "mean", "empty"]


def _pad_gen(d, dt):
    x = X(d, dt, min_side=1, max_side=3, min_dims=1, max_dims=2)
    mode = d(st.sampled_from(_PAD_MODES))
    pw = d(st.sampled_from([1, (2, 0), ((1, 2),) * x.ndim, 4, ((0, 5),) * x.ndim, 0]))
    kw = {}
    if mode == "constant" and d(st.booleans()):
        kw["constant_values"] = d(st.sampled_from([1.5, (1, 2), ((1, 2),) * x.ndim]))
    if mode in ("reflect", "symmetric"):
        kw["reflect_type"] = d(st.sampled_from(["even", "odd"]))
    if mode == "linear_ramp" and d(st.booleans()):
        kw["end_values"] = d(st.sampled_from([2, (1, -1)]))
    if mode in ("maximum", "minimum", "mean") and d(st.booleans()):
        kw["stat_length"] = d(st.sampled_from([1, 2, (1, 2)]))
    return [x, pw], dict(kw, mode=mode)


case("pad", _pad_gen, dts=FI, post=lambda r, a, k: r if k["mode"] != "empty" else 0 * r)
case("pad", lambda d, dt: ([X(d, dt, (3,)), (1, 2), np.asarray(d(st.floats(-2, 2)), dt)],
                           {}), fn=lambda x, p, c: fnp.pad(x, p, constant_values=c),
     ref=lambda x, p, c: np.pad(x, p, constant_values=c), label="traced_value")
case("shape", un(), py=True)
case("ndim", un(), py=True)
case("size", un(), py=True)
case("append", lambda d, dt: ([X(d, dt), X(d, dt)], {}), dts=FIB)
case("append", lambda d, dt: ([X(d, dt, (2, 3)), X(d, dt, (2, 1))], {"axis": 1}),
     label="axis")
case("insert", lambda d, dt: (lambda x: ([x, d(st.sampled_from([0, 1, -1, [0, 2, 2], slice(0, 2),
                                                                 [-1, 0]])),
                                          X(d, dt, d(st.sampled_from([(), (1,)])))],
                                         {"axis": d(st.sampled_from([None, 0, -1]))}))(
    X(d, dt, min_dims=1, min_side=2)), vmap_arg=0)
case("insert", lambda d, dt: ([X(d, dt, (2, 3)), 1, X(d, dt, (2,))], {"axis": 1}),
     label="column")
case("delete", lambda d, dt: (lambda x: ([x, d(st.sampled_from([0, -1, [0, 1], slice(None, None, 2),
                                                                 [5, 3]]))],
                                         {"axis": None}))(X(d, dt, (2, 3))), dts=FIB)
case("delete", lambda d, dt: (lambda x: ([x, d(st.sampled_from([0, -1, [0, 1], slice(1, None),
                                                                 [True, False]]))],
                                         {"axis": 0}))(X(d, dt, (2, 3))), label="axis")
case("trim_zeros", lambda d, dt: ([X(d, dt, (6,), -1, 1)], {"trim": d(st.sampled_from(
    ["fb", "f", "b"]))}), dts=FI, concrete=True)
case("block", lambda d, dt: ([X(d, dt, (2, 2)), X(d, dt, (2, 1)), X(d, dt, (1, 3))], {}),
     fn=lambda a, b, c: fnp.block([[a, b], [c]]), ref=lambda a, b, c: np.block([[a, b], [c]]))
case("block", lambda d, dt: ([X(d, dt, (2,)), X(d, dt, (3,))], {}),
     fn=lambda a, b: fnp.block([a, b]), ref=lambda a, b: np.block([a, b]), label="1d")

# --- products
case("dot", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1])], {}))(
    d(st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((), (2,)),
                       ((2, 2, 3), (4, 3, 2))]))), dts=FIB)
case("matmul", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1])], {}))(
    d(st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                       ((2, 1, 2, 3), (4, 3, 2)), ((3, 2), (5, 2, 1))]))), dts=FI)
case("vdot", lambda d, dt: (lambda s: ([X(d, dt, s), X(d, dt, s)], {}))(d(shapes(1))), dts=FI)
case("inner", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1])], {}))(
    d(st.sampled_from([((3,), (3,)), ((2, 3), (4, 3)), ((), (2,))]))), dts=FI)
case("outer", lambda d, dt: ([X(d, dt), X(d, dt)], {}), dts=FI)
case("kron", lambda d, dt: ([X(d, dt, max_dims=2), X(d, dt, max_dims=2)], {}), dts=FI)
case("tensordot", lambda d, dt: (lambda ax: ([X(d, dt, (2, 3, 4)), X(d, dt, (3, 4, 2))],
                                             {"axes": ax}))(
    d(st.sampled_from([2, 0, ([1, 2], [0, 1]), ([0], [2]), (1, 0)]))), dts=FI)
case("trace", lambda d, dt: ([X(d, dt, min_dims=2)], {"offset": d(st.integers(-2, 2))}),
     dts=FI)
case("vecdot", lambda d, dt: (lambda s: ([X(d, dt, s[0] + (3,)), X(d, dt, s[1] + (3,))], {}))(
    bshapes(d)), ref=lambda a, b: np.sum(a * b, axis=-1))
case("matvec", lambda d, dt: ([X(d, dt, (2, 2, 3)), X(d, dt, (3,))], {}),
     ref=lambda a, b: a @ b)
case("vecmat", lambda d, dt: ([X(d, dt, (3,)), X(d, dt, (2, 3, 2))], {}),
     ref=lambda a, b: a @ b)
_EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
           ("ij,ij->ij", [(1, 3), (2, 3)]), ("...ij,...jk", [(2, 1, 2, 3), (5, 3, 4)]),
           ("i,i", [(3,), (3,)]), ("i,j", [(3,), (4,)]), ("ijk,kl,lm->im", [(2, 3, 4), (4, 5), (5, 2)]),
           ("iij->j", [(3, 3, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->", [(2, 3)]),
           ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 2)]), ("ii,jj->ij", [(2, 2), (3, 3)]),
           ("ijj->ij", [(2, 3, 3)]), ("ji", [(2, 3)]), ("i...->...", [(2, 3, 4)]),
           ("abc,cd,bd->a", [(2, 3, 4), (4, 5), (3, 5)])]
case("einsum", lambda d, dt: (lambda e: ([X(d, dt, s) for s in e[1]], {"_spec": e[0]}))(
    d(st.sampled_from(_EINSUM))), fn=lambda *a, _spec: fnp.einsum(_spec, *a),
     ref=lambda *a, _spec: np.einsum(_spec, *a), dts=FI)
case("einsum", lambda d, dt: ([X(d, dt, (2, 3)), X(d, dt, (3,))], {}),
     fn=lambda a, b: fnp.einsum(a, [0, 1], b, [1], [0]),
     ref=lambda a, b: np.einsum(a, [0, 1], b, [1], [0]), label="sublists")
case("einsum", lambda d, dt: ([X(d, B, (3,)), X(d, B, (3,))], {}),
     fn=lambda a, b: fnp.einsum("i,i->", a, b), ref=lambda a, b: np.einsum("i,i->", a, b),
     label="bool")
case("cross", lambda d, dt: (lambda s: ([X(d, dt, s[0] + (3,)), X(d, dt, s[1] + (3,))], {}))(
    bshapes(d, max_dims=2)), dts=FI)
case("cross", lambda d, dt: ([X(d, dt, (3, 2)), X(d, dt, (2, 3))], {"axisa": 0, "axisb": -1}),
     label="axes")
case("convolve", lambda d, dt: ([X(d, dt, (d(st.integers(1, 6)),)), X(d, dt, (d(st.integers(1, 6)),))],
                                {"mode": d(st.sampled_from(["full", "same", "valid"]))}), dts=FI)
case("correlate", lambda d, dt: ([X(d, dt, (d(st.integers(1, 6)),)), X(d, dt, (d(st.integers(1, 6)),))],
                                 {"mode": d(st.sampled_from(["full", "same", "valid"]))}), dts=FI)
case("outer", lambda d, dt: ([X(d, B, (2,)), X(d, B, (3,))], {}), dts=(B,), label="bool")

# --- creation (no traced inputs unless an array is passed)
case("array", lambda d, dt: ([X(d, dt)], {}), dts=FIB)
case("array", lambda d, dt: ([[[1, 2], [3, 4]]], {}), dts=(I32,), label="list",
     post=lambda r, a, k: r)
case("asarray", lambda d, dt: ([X(d, dt)], {}), dts=FIB)
case("copy", un(), dts=FIB)
case("ascontiguousarray", un(), dts=FIB)
case("astype", lambda d, dt: ([X(d, dt), d(st.sampled_from([np.float32, np.int32, np.bool_]))],
                              {}), ref=lambda x, t: x.astype(t), dts=FIB)
for _n in ("zeros", "ones", "empty"):
    case(_n, lambda d, dt: ([d(shapes(0, 3, 0))], {"dtype": dt}), dts=FIB,
         post=(lambda r, a, k: 0 * r) if _n == "empty" else None)
case("full", lambda d, dt: ([d(shapes(0, 3, 0)), 2], {"dtype": dt}), dts=FIB)
case("full", lambda d, dt: ([(2, 3), X(d, dt, (3,))], {}), label="array_fill")
for _n in ("zeros_like", "ones_like", "empty_like"):
    case(_n, un(), dts=FIB, post=(lambda r, a, k: 0 * r) if _n == "empty_like" else None)
case("full_like", lambda d, dt: ([X(d, dt), 3], {}), dts=FIB)
case("arange", lambda d, dt: (d(st.sampled_from([[5], [1, 7, 2], [0.5, 3.0], [5, 0, -1],
                                                  [0, 1, 0.25]])), {}), dts=(F32,))
case("linspace", lambda d, dt: ([d(st.floats(-3, 3)), d(st.floats(-3, 3)), d(st.integers(0, 6))],
                                {"endpoint": d(st.booleans())}), dts=(F32,))
case("linspace", lambda d, dt: ([X(d, dt, (2,)), X(d, dt, (2,)), 4], {"axis": d(st.sampled_from([0, 1, -1]))}),
     label="arrays")
case("logspace", lambda d, dt: ([d(st.floats(-2, 2)), d(st.floats(-2, 2)), d(st.integers(1, 6))],
                                {"base": d(st.sampled_from([10.0, 2.0]))}), dts=(F32,))
case("geomspace", lambda d, dt: ([d(st.floats(0.1, 5)), d(st.floats(0.1, 5)), d(st.integers(1, 6))],
                                 {"endpoint": d(st.booleans())}), dts=(F32,))
case("geomspace", lambda d, dt: ([-1.0, -16.0, 5], {}), dts=(F32,), label="negative")
case("eye", lambda d, dt: ([d(st.integers(0, 4))], {"M": d(st.sampled_from([None, 2, 5])),
                                                    "k": d(st.integers(-2, 2)), "dtype": dt}),
     dts=FIB)
case("identity", lambda d, dt: ([d(st.integers(0, 4))], {"dtype": dt}), dts=FIB)
case("tri", lambda d, dt: ([d(st.integers(1, 4))], {"M": d(st.sampled_from([None, 2])),
                                                    "k": d(st.integers(-1, 1))}), dts=(F32,))
case("meshgrid", lambda d, dt: ([X(d, dt, (2,)), X(d, dt, (3,))],
                                {"indexing": d(st.sampled_from(["xy", "ij"])),
                                 "sparse": d(st.booleans())}), vmap=False)
case("indices", lambda d, dt: ([d(st.sampled_from([(2, 3), (3,), (2, 1, 2)]))],
                               {"sparse": d(st.booleans())}), dts=(I32,))
case("fromfunction", lambda d, dt: ([lambda i, j: i * 2 + j, (2, 3)], {}), dts=(F32,))
for _n in ("hanning", "hamming", "blackman", "bartlett"):
    case(_n, lambda d, dt: ([d(st.integers(0, 6))], {}), dts=(F32,), tol=(1e-5, 1e-6))
case("diag", lambda d, dt: ([X(d, dt, d(st.sampled_from([(3,), (2, 3), (3, 3), (4, 2)]))),
                             d(st.integers(-2, 2))], {}), dts=FIB)
case("diagflat", lambda d, dt: ([X(d, dt, (2, 2)), d(st.integers(-1, 1))], {}))
case("diagonal", lambda d, dt: ([X(d, dt, min_dims=2), d(st.integers(-2, 2))], {}), dts=FIB)
case("tril", lambda d, dt: ([X(d, dt, min_dims=1), d(st.integers(-2, 2))], {}), dts=FIB)
case("triu", lambda d, dt: ([X(d, dt, min_dims=1), d(st.integers(-2, 2))], {}), dts=FIB)
case("vander", lambda d, dt: ([X(d, dt, (3,)), d(st.sampled_from([None, 0, 1, 4]))],
                              {"increasing": d(st.booleans())}), dts=FI)
case("fill_diagonal", lambda d, dt: ([X(d, dt, d(st.sampled_from([(3, 3), (5, 2), (2, 2, 2)]))),
                                      d(st.floats(-2, 2)), d(st.booleans())], {}),
     fn=lambda a, v, w: fnp.fill_diagonal(a, v, w, inplace=False),
     ref=lambda a, v, w: (lambda c: (np.fill_diagonal(c, v, w), c)[1])(a.copy()))

# --- comparisons, sets, searching, statistics
case("array_equal", lambda d, dt: (lambda a: ([a, d(st.sampled_from(
    [a, a * 0 + 1, a.reshape(-1)]))], {}))(X(d, dt)), dts=FIB)
case("array_equal", lambda d, dt: ([np.array([np.nan, 1], dt), np.array([np.nan, 1], dt)],
                                   {"equal_nan": d(st.booleans())}), label="nan")
case("array_equiv", lambda d, dt: (lambda a: ([a, d(st.sampled_from([a, a[:1], a * 0]))], {}))(
    X(d, dt, min_dims=1)), dts=FIB)
case("isin", lambda d, dt: ([X(d, dt, lo=-3, hi=3), X(d, dt, lo=-3, hi=3)],
                            {"invert": d(st.booleans())}), dts=(I32,))
case("diff", lambda d, dt: (lambda x: ([x], {"n": d(st.integers(0, 2)),
                                             "axis": d(st.integers(-x.ndim, x.ndim - 1))}))(
    X(d, dt, min_dims=1)), dts=FIB)
case("diff", lambda d, dt: ([X(d, dt, (4,)), 1, -1, 0.5, X(d, dt, (2,))], {}),
     fn=lambda x, n, ax, p, a: fnp.diff(x, n, ax, prepend=p, append=a),
     ref=lambda x, n, ax, p, a: np.diff(x, n, ax, prepend=p, append=a), label="pend")
case("ediff1d", lambda d, dt: ([X(d, dt, min_dims=1)], {"to_begin": d(st.sampled_from([None, 0, [1, 2]])),
                                                         "to_end": d(st.sampled_from([None, 7]))}),
     dts=FI)
case("gradient", lambda d, dt: (lambda x: ([x], {"axis": d(st.sampled_from([None, 0, -1])),
                                                 "edge_order": d(st.sampled_from([1, 2]))}))(
    X(d, dt, min_dims=1, min_side=3)), ref=lambda x, **k: np.gradient(x, **k))
case("gradient", lambda d, dt: ([X(d, dt, (5,)), np.cumsum(X(d, dt, (5,), 0.5, 2))],
                                {"edge_order": d(st.sampled_from([1, 2]))}),
     ref=lambda x, h, **k: np.gradient(x, h, **k), label="coords", tol=(1e-4, 1e-4))
case("gradient", lambda d, dt: ([X(d, dt, (3, 4)), 0.5, 2.0], {}),
     ref=lambda x, *h: np.gradient(x, *h), label="spacing")
case("interp", lambda d, dt: ([X(d, dt, lo=-4, hi=4), np.sort(X(d, dt, (5,), -3, 3, unique=True)),
                               X(d, dt, (5,))],
                              d(st.sampled_from([{}, {"left": -9.0, "right": 9.0}]))),
     dts=F, tol=(1e-4, 1e-4))
case("interp", lambda d, dt: ([X(d, dt, lo=-400, hi=400), np.array([10, 170, -170, 0], dt),
                               np.array([1, 2, 3, 4], dt)], {"period": 360}), label="period",
     tol=(1e-4, 1e-4))
case("digitize", lambda d, dt: ([X(d, dt), np.sort(X(d, dt, (4,), unique=True)) *
                                 d(st.sampled_from([1, -1]))], {"right": d(st.booleans())}),
     dts=FI, vmap_arg=0)
case("bincount", lambda d, dt: ([X(d, I32, (d(st.integers(0, 6)),), 0, 5)],
                                {"minlength": d(st.integers(0, 7))}), dts=(I32,), concrete=True)
case("bincount", lambda d, dt: ([X(d, I32, (5,), 0, 4), X(d, dt, (5,))], {"length": 6}),
     fn=lambda x, w, **k: fnp.bincount(x, w, **k),
     ref=lambda x, w, length: np.bincount(x, w, minlength=length), label="length",
     dts=F, vmap_arg=1)
case("histogram", lambda d, dt: ([X(d, dt, lo=-2, hi=2)],
                                 d(st.sampled_from([{}, {"bins": 3}, {"bins": 4, "range": (-1, 1)},
                                                    {"bins": 3, "density": True},
                                                    {"bins": [-2.0, 0.0, 0.5, 2.0]}]))),
     dts=F)
case("histogram", lambda d, dt: ([X(d, dt, (6,), -2, 2), X(d, dt, (6,), 0, 1)], {"bins": 3}),
     fn=lambda x, w, **k: fnp.histogram(x, weights=w, **k),
     ref=lambda x, w, **k: np.histogram(x, weights=w, **k), label="weights")
case("histogram_bin_edges", lambda d, dt: ([X(d, dt)], {"bins": d(st.integers(1, 5))}))
case("cov", lambda d, dt: ([X(d, dt, d(st.sampled_from([(3,), (2, 4), (3, 5)])))],
                           {"rowvar": d(st.booleans()), "bias": d(st.booleans())}), dts=FI,
     tol=(1e-4, 1e-4))
case("cov", lambda d, dt: ([X(d, dt, (2, 5)), X(d, dt, (5,), 0.5, 2), X(d, I32, (5,), 1, 3)],
                           {"ddof": d(st.sampled_from([None, 0, 2]))}),
     fn=lambda m, aw, fw, **k: fnp.cov(m, aweights=aw, fweights=fw, **k),
     ref=lambda m, aw, fw, **k: np.cov(m, aweights=aw, fweights=fw, **k), label="weights",
     tol=(1e-4, 1e-4))
case("corrcoef", lambda d, dt: ([X(d, dt, (3, 5))], {"rowvar": d(st.booleans())}),
     tol=(1e-4, 1e-4))
case("trapezoid", lambda d, dt: (lambda y: ([y], {"axis": d(st.integers(-y.ndim, y.ndim - 1)),
                                                  "dx": d(st.sampled_from([1.0, 0.5]))}))(
    X(d, dt, min_dims=1)), dts=FI)
case("trapezoid", lambda d, dt: ([X(d, dt, (2, 4)), np.cumsum(X(d, dt, (4,), 0.1, 1))],
                                 {"axis": -1}), label="x",
     fn=lambda y, x, **k: fnp.trapezoid(y, x, **k), ref=lambda y, x, **k: np.trapezoid(y, x, **k))
case("polyval", lambda d, dt: ([X(d, dt, (d(st.integers(1, 4)),)), X(d, dt)], {}), dts=FI,
     tol=(1e-4, 1e-4))
for _n in ("polyadd", "polysub", "polymul"):
    # no trimming of leading zeros (a data-dependent shape), as JAX: polymul = convolve
    case(_n, lambda d, dt: ([X(d, dt, (d(st.integers(1, 4)),)), X(d, dt, (d(st.integers(1, 4)),))],
                            {}), dts=FI, ref=np.convolve if _n == "polymul" else None)
case("polyder", lambda d, dt: ([X(d, dt, (d(st.integers(1, 5)),)), d(st.integers(0, 2))], {}),
     dts=FI)
case("polyint", lambda d, dt: ([X(d, dt, (d(st.integers(1, 4)),)), d(st.integers(0, 2))], {}))
case("select", lambda d, dt: (lambda x: ([[x > 1, x < -1], [x, 2 * x], 0.5], {}))(X(d, dt)),
     fn=lambda c, ch, df: fnp.select(c, ch, df), jit=False, vmap=False)
case("piecewise", lambda d, dt: (lambda x: ([x, [x < 0, x > 1], [lambda v: -v, 2.0, 1.0]], {}))(
    X(d, dt)), vmap_arg=None, jit=False)
case("unravel_index", lambda d, dt: ([X(d, I32, lo=0, hi=23), (2, 3, 4)], {}), dts=(I32,))
case("ravel_multi_index", lambda d, dt: ([[X(d, I32, (3,), 0, 1), X(d, I32, (3,), 0, 2)],
                                          (2, 3)], {}), dts=(I32,), jit=False, vmap=False)
case("apply_along_axis", lambda d, dt: (lambda x: ([lambda v: v * v.sum(), d(st.integers(
    -x.ndim, x.ndim - 1)), x], {}))(X(d, dt, min_dims=1)), vmap_arg=2)
case("apply_along_axis", lambda d, dt: ([lambda v: v[:2] * 2, 1, X(d, dt, (2, 3, 2))], {}),
     vmap_arg=2, label="shape")
case("apply_over_axes", lambda d, dt: ([np.sum, X(d, dt, (2, 3, 4)), [0, 2]], {}),
     fn=lambda f, x, ax: fnp.apply_over_axes(fnp.sum, x, ax), vmap_arg=1)
case("vectorize", lambda d, dt: (lambda s: ([X(d, dt, s[0]), X(d, dt, s[1])], {}))(bshapes(d)),
     fn=lambda a, b: fnp.vectorize(lambda x, y: x * y + 1)(a, b),
     ref=lambda a, b: np.vectorize(lambda x, y: x * y + 1)(a, b))
case("vectorize", lambda d, dt: ([X(d, dt, (2, 3)), X(d, dt, (3,))], {}),
     fn=lambda a, b: fnp.vectorize(lambda x, y: (x * y).sum(), signature="(n),(n)->()")(a, b),
     ref=lambda a, b: np.vectorize(lambda x, y: (x * y).sum(), signature="(n),(n)->()")(a, b),
     label="signature")
case("broadcast_shapes", lambda d, dt: (bshapes(d, 3), {}), py=True)
case("promote_types", lambda d, dt: ([d(st.sampled_from(["int8", "float32", "bool"])),
                                      d(st.sampled_from(["int8", "uint8", "float64"]))], {}),
     py=True)
case("can_cast", lambda d, dt: ([d(st.sampled_from(["int8", "float32"])),
                                 d(st.sampled_from(["int32", "float16"]))], {}), py=True)
case("isscalar", lambda d, dt: ([d(st.sampled_from([1.0, 3, np.float32(1)]))], {}), py=True)
case("isrealobj", un(), py=True)
case("iscomplexobj", un(), py=True)
case("unique_values", lambda d, dt: ([X(d, dt, lo=-2, hi=2)], {}), dts=FI, concrete=True,
     ref=lambda x: np.unique(x))
case("unique_counts", lambda d, dt: ([X(d, dt, lo=-2, hi=2)], {}), dts=FI, concrete=True,
     ref=lambda x: tuple(np.unique(x, return_counts=True)))
case("unique_inverse", lambda d, dt: ([X(d, dt, lo=-2, hi=2)], {}), dts=FI, concrete=True,
     ref=lambda x: tuple(np.unique(x, return_inverse=True)))
case("unique_all", lambda d, dt: ([X(d, dt, lo=-2, hi=2)], {}), dts=FI, concrete=True,
     ref=lambda x: tuple(np.unique(x, return_index=True, return_inverse=True, return_counts=True)))
for _n in ("union1d", "intersect1d", "setdiff1d", "setxor1d"):
    case(_n, lambda d, dt: ([X(d, dt, lo=-3, hi=3), X(d, dt, lo=-3, hi=3)], {}), dts=FI,
         concrete=True)

# --- names owned by the indexing and sorting modules (basic coverage here)
case("take", lambda d, dt: ([X(d, dt, (4, 3)), np.array([3, 0, 0, 2], np.int32)], {"axis": 0}),
     dts=FIB)
case("take_along_axis", lambda d, dt: ([X(d, dt, (3, 4)), np.array([[0], [3], [1]], np.int32)],
                                       {"axis": 1}))
case("put_along_axis", lambda d, dt: ([X(d, dt, (2, 3)), np.array([[2], [0]], np.int32), 5.0],
                                      {"axis": 1}),
     fn=lambda a, i, v, **k: fnp.put_along_axis(a, i, v, inplace=False, **k),
     ref=lambda a, i, v, **k: (lambda c: (np.put_along_axis(c, i, v, **k), c)[1])(a.copy()))
case("nonzero", lambda d, dt: ([X(d, dt, min_dims=1, lo=-1, hi=1)], {}), dts=FIB, concrete=True)
case("argwhere", lambda d, dt: ([X(d, dt, lo=-1, hi=1)], {}), dts=FIB, concrete=True)
case("flatnonzero", lambda d, dt: ([X(d, dt, lo=-1, hi=1)], {}), dts=FIB, concrete=True)
case("compress", lambda d, dt: ([[True, False, True], X(d, dt, (3, 2))], {"axis": 0}),
     vmap_arg=1)
case("extract", lambda d, dt: (lambda x: ([x > 0, x], {}))(X(d, dt)), concrete=True)
case("choose", lambda d, dt: ([X(d, I32, (4,), 0, 2), [X(d, dt, (4,)), X(d, dt, (4,)),
                                                       X(d, dt, (4,))]], {}),
     fn=lambda i, c: fnp.choose(i, c, mode="clip"),
     ref=lambda i, c: np.choose(i, c, mode="clip"), jit=False, vmap=False)
case("ix_", lambda d, dt: ([X(d, I32, (2,), 0, 3), X(d, I32, (3,), 0, 3)], {}), dts=(I32,))
for _n in ("tril_indices", "triu_indices"):
    case(_n, lambda d, dt: ([d(st.integers(1, 4)), d(st.integers(-1, 1))], {}), dts=(I32,))
for _n in ("tril_indices_from", "triu_indices_from"):
    case(_n, lambda d, dt: ([X(d, dt, (3, 4))], {}), vmap=False, concrete=True)
case("diag_indices", lambda d, dt: ([d(st.integers(1, 4)), d(st.integers(1, 3))], {}),
     dts=(I32,))
case("diag_indices_from", lambda d, dt: ([X(d, dt, (3, 3))], {}), vmap=False, concrete=True)
case("sort", lambda d, dt: (lambda x: ([x], {"axis": d(st.sampled_from([None] + list(
    range(-x.ndim, x.ndim))))}))(X(d, dt, min_dims=1)), dts=FI)
case("argsort", lambda d, dt: ([X(d, dt, min_dims=1, unique=True)], {"axis": -1}), dts=FI)
case("lexsort", lambda d, dt: ([(X(d, I32, (5,), 0, 2), X(d, I32, (5,), 0, 2))], {}),
     dts=(I32,), fn=lambda k: fnp.lexsort(k), ref=lambda k: np.lexsort(k), jit=False,
     vmap=False)
case("partition", lambda d, dt: ([X(d, dt, (5,)), 2], {}),
     post=lambda r, a, k: np.asarray(r)[2], vmap=False)
case("argpartition", lambda d, dt: ([X(d, dt, (5,), unique=True), 2], {}),
     post=lambda r, a, k: np.asarray(a[0])[np.asarray(r)][2], vmap=False)
case("searchsorted", lambda d, dt: ([np.sort(X(d, dt, (5,))), X(d, dt)],
                                    {"side": d(st.sampled_from(["left", "right"]))}), dts=FI,
     vmap_arg=1)
case("unique", lambda d, dt: ([X(d, dt, lo=-2, hi=2)], {"return_counts": d(st.booleans())}),
     dts=FI, concrete=True)


# ============================================================================ the runner

_ids = {}
for _c in CASES:
    k = _ids.get(_c.id, 0)
    _ids[_c.id] = k + 1
    if k:
        _c.id = f"{_c.id}-{k}"


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [y for e in x for y in _flat(e)]
    return [x]


def _kind(dt):
    k = np.dtype(dt).kind
    return "i" if k in "iu" else k


def _tol(c, outs):
    if c.tol is not None:
        return c.tol
    lowest = min((np.asarray(o).dtype.itemsize for o in outs
                  if np.asarray(o).dtype.kind == "f"), default=8)
    return (1e-10, 1e-12) if lowest >= 8 else (2e-5, 2e-6)


def _compare(c, got, exp, mode):
    g, e = _flat(got), _flat(exp)
    assert len(g) == len(e), f"{c.id} [{mode}]: {len(g)} outputs, NumPy gives {len(e)}"
    rtol, atol = _tol(c, g)
    for i, (gi, ei) in enumerate(zip(g, e)):
        if mode == "eager" and not np.isscalar(gi):
            assert isinstance(gi, fg.Array), f"{c.id}: output {i} is {type(gi).__name__}"
        ga, ea = np.asarray(gi), np.asarray(ei)
        where = f"{c.id} [{mode}] output {i}: got {ga.dtype}{list(ga.shape)}, " \
                f"NumPy {ea.dtype}{list(ea.shape)}"
        assert ga.shape == ea.shape, where
        assert _kind(ga.dtype) == _kind(ea.dtype), where
        if ga.dtype.kind in "fc" or ea.dtype.kind in "fc":
            np.testing.assert_allclose(ga.astype(np.float64), ea.astype(np.float64),
                                       rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(ga, ea, err_msg=where)


def _ref(c, args, kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        r = c.ref(*args, **kwargs)
    return c.post(r, args, kwargs) if c.post else r


def _post(c, r, args, kwargs):
    return c.post(r, args, kwargs) if c.post else r


def run_case(c, args, kwargs):
    exp = _ref(c, args, kwargs)
    got = c.fn(*args, **kwargs)
    if c.py:
        assert got == exp, f"{c.id}: {got!r} != {exp!r}"
        return
    _compare(c, _post(c, got, args, kwargs), exp, "eager")
    if c.concrete:
        return
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    arrs = [args[i] for i in pos]

    def f(*xs):
        a = list(args)
        for i, v in zip(pos, xs):
            a[i] = v
        return c.fn(*a, **kwargs)

    closed = fg.make_jaxpr(f)(*arrs)
    outs = eval_jaxpr(closed.jaxpr, closed.consts, *arrs)
    _compare(c, _post(c, outs if len(outs) != 1 or isinstance(got, (list, tuple)) else outs[0],
                      args, kwargs), exp, "jaxpr")
    if c.jit:
        _compare(c, _post(c, fg.jit(f)(*arrs), args, kwargs), exp, "jit")
    if c.vmap and c.vmap_arg is not None and c.vmap_arg in pos:
        k = pos.index(c.vmap_arg)
        x = arrs[k]
        x2 = x.reshape(-1)[::-1].reshape(x.shape)
        in_axes = tuple(0 if j == k else None for j in range(len(arrs)))
        batched = list(arrs)
        batched[k] = np.stack([x, x2])
        got_b = _flat(fg.vmap(f, in_axes=in_axes)(*batched))
        loop = [_flat(f(*[xb if j == k else a for j, a in enumerate(arrs)])) for xb in (x, x2)]
        assert len(got_b) == len(loop[0]), f"{c.id} [vmap]: output count differs"
        for j, gb in enumerate(got_b):
            _compare(c, gb, np.stack([np.asarray(loop[0][j]), np.asarray(loop[1][j])]), "vmap")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
@settings(max_examples=N_EXAMPLES)
@given(data=st.data())
def test_against_numpy(c, data):
    dt = data.draw(st.sampled_from(c.dts), label="dtype")
    args, kwargs = c.gen(data.draw, dt)
    run_case(c, args, kwargs)


_NOT_FUNCTIONS = {"dtype", "iinfo", "finfo", "issubdtype", "ndarray"}
_OTHER_OWNERS = ("funcgrad.numpy._advanced", "funcgrad.numpy._sorting", "funcgrad.numpy.linalg")


def test_every_public_function_is_tested():
    tested = {c.name for c in CASES}
    missing = []
    for n in dir(fnp):
        v = getattr(fnp, n)
        if n.startswith("_") or n in _NOT_FUNCTIONS or not callable(v):
            continue
        if isinstance(v, type) and v is not fnp.vectorize:
            continue
        if n == "result_type":   # tested in test_promotion.py
            continue
        if getattr(v, "__module__", "") in _OTHER_OWNERS and n not in tested:
            continue
        if n not in tested:
            missing.append(n)
    assert not missing, f"funcgrad.numpy functions without a NumPy comparison: {missing}"


# ============================================================================ mgrid / ogrid

def test_mgrid_ogrid():
    np.testing.assert_array_equal(fnp.mgrid[0:2, 0:3], np.mgrid[0:2, 0:3])
    np.testing.assert_allclose(fnp.mgrid[0:1:5j], np.mgrid[0:1:5j], rtol=1e-6)
    assert fnp.mgrid[0:2, 0:3].dtype == np.int32 and fnp.mgrid[0:1:3j].dtype == np.float32
    for a, b in zip(fnp.ogrid[0:2, 0:3], np.ogrid[0:2, 0:3]):
        np.testing.assert_array_equal(a, b)


# ============================================================================ the Array API

_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
        operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
        operator.eq, operator.ne]


@settings(max_examples=10)
@given(data=st.data())
def test_operators_with_python_scalars_on_either_side(data):
    dt = data.draw(st.sampled_from([F32, F64, I32]))
    x = X(data.draw, dt, lo=1, hi=3)
    s = data.draw(st.sampled_from([2, 3, 1.5, 0.5]))
    a = fnp.asarray(x)
    for op in _OPS:
        if op is operator.pow and dt == I32 and isinstance(s, float):
            continue
        for got, exp in ((op(a, s), op(x, s)), (op(s, a), op(s, x))):
            assert isinstance(got, fg.Array)
            assert got.shape == np.shape(exp)
            np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(exp, np.float64),
                                       rtol=1e-5, err_msg=f"{op.__name__} {dt} {s}")
            if np.asarray(exp).dtype == np.bool_:
                assert got.dtype == np.bool_
            elif dt != I32 or isinstance(s, int):
                # weak Python scalars never widen an array's dtype
                if op not in (operator.truediv,) or dt != I32:
                    assert got.dtype == dt, (op.__name__, got.dtype, dt)
            else:
                assert got.dtype == np.float32      # int32 array with a Python float
    # array-array operators, matmul, unary operators
    b = fnp.asarray(X(data.draw, dt, x.shape, 1, 3))
    for op in _OPS[:7]:
        np.testing.assert_allclose(np.asarray(op(a, b), np.float64),
                                   np.asarray(op(x, np.asarray(b)), np.float64), rtol=1e-5)
    np.testing.assert_allclose(-a, -x)
    np.testing.assert_allclose(+a, x)
    np.testing.assert_allclose(abs(-a), x)


def test_bitwise_and_matmul_operators():
    i = fnp.array([1, 2, 3])
    assert (i & 1).tolist() == [1, 0, 1] and (1 & i).tolist() == [1, 0, 1]
    assert (i | 4).tolist() == [5, 6, 7] and (i ^ 1).tolist() == [0, 3, 2]
    assert (~i).tolist() == [-2, -3, -4]
    b = fnp.array([True, False])
    assert (~b).tolist() == [False, True] and (b & True).tolist() == [True, False]
    m = fnp.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(m @ np.ones(3), [3.0, 12.0])
    np.testing.assert_allclose(np.ones(2) @ m, [3.0, 5.0, 7.0])
    q, r = divmod(i, 2)
    assert q.tolist() == [0, 1, 1] and r.tolist() == [1, 0, 1]


def test_array_methods_and_properties():
    x = fnp.arange(6.0).reshape(2, 3)
    v = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float32
    np.testing.assert_array_equal(x.T, v.T)
    np.testing.assert_array_equal(x.reshape(3, 2), v.reshape(3, 2))
    np.testing.assert_array_equal(x.reshape((3, 2)), v.reshape(3, 2))
    np.testing.assert_array_equal(x.reshape(-1), v.reshape(-1))
    assert x.astype(np.int32).dtype == np.int32 and x.astype("float64").dtype == np.float64
    np.testing.assert_array_equal(x.sum(axis=0), v.sum(axis=0))
    np.testing.assert_array_equal(x.sum(axis=-1, keepdims=True), v.sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(x.mean(), v.mean())
    np.testing.assert_allclose(x.std(axis=1), v.std(axis=1), rtol=1e-6)
    np.testing.assert_allclose(x.var(ddof=1), v.var(ddof=1), rtol=1e-6)
    assert x.max() == 5 and x.min() == 0 and int(x.argmax()) == 5 and int(x.argmin()) == 0
    np.testing.assert_array_equal(x.cumsum(axis=1), v.cumsum(axis=1))
    np.testing.assert_array_equal(x.prod(axis=0), v.prod(axis=0))
    assert bool(x.any()) and not bool(x.all())
    np.testing.assert_array_equal(x.ravel(), v.ravel())
    np.testing.assert_array_equal(x.flatten(), v.flatten())
    np.testing.assert_array_equal(x.transpose(), v.T)
    np.testing.assert_array_equal(x.transpose(1, 0), v.T)
    np.testing.assert_array_equal(x.swapaxes(0, 1), v.T)
    np.testing.assert_array_equal(x.clip(1, 4), v.clip(1, 4))
    np.testing.assert_array_equal(x.round(), v.round())
    np.testing.assert_array_equal(x.dot(np.ones(3)), v.dot(np.ones(3)))
    np.testing.assert_array_equal(x[None].squeeze(0), v)
    np.testing.assert_array_equal(x.diagonal(), v.diagonal())
    np.testing.assert_array_equal(x.mT, v.T)
    assert x.tolist() == v.tolist() and x[1, 2].item() == 5.0


def test_len_iteration_and_conversions():
    x = fnp.array([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and all(isinstance(r, fg.Array) for r in rows)
    assert rows[1].tolist() == [3.0, 4.0]
    s = fnp.sum(x)
    assert float(s) == 10.0 and int(s) == 10 and bool(s) and complex(s) == 10
    assert f"{s:.1f}" == "10.0"
    with pytest.raises(TypeError):
        len(s)
    with pytest.raises(TypeError):
        iter(s)
    assert [int(i) for i in fnp.arange(3)] == [0, 1, 2]
    assert list(range(10))[fnp.array(3)] == 3            # __index__
    with pytest.raises(TypeError):
        hash(x)


def test_numpy_view_is_read_only():
    x = fnp.arange(3.0)
    v = np.asarray(x)
    assert isinstance(v, np.ndarray) and v.dtype == np.float32
    assert not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 5.0
    assert float(x[0]) == 0.0
    c = np.array(x)               # an explicit copy is writable
    c[0] = 5.0
    assert float(x[0]) == 0.0
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_item_assignment_raises_with_a_hint():
    x = fnp.arange(3.0)
    with pytest.raises(TypeError, match=r"\.at"):
        x[0] = 1
    with pytest.raises(TypeError):
        del x[0]

    def f(y):
        y[0] = 1.0
        return y
    with pytest.raises(TypeError, match=r"\.at"):
        fg.jit(f)(x)
    np.testing.assert_array_equal(x.at[0].set(7.0), [7.0, 1.0, 2.0])
    np.testing.assert_array_equal(x.at[1:].add(1.0), [0.0, 2.0, 3.0])
    assert x.tolist() == [0.0, 1.0, 2.0]


def test_repr():
    r = repr(fnp.array([1.0, 2.0]))
    assert r.startswith("Array([1., 2.]")
    assert "int64" in repr(fnp.asarray(np.arange(2)))
    assert "float64" in repr(fnp.asarray(np.ones(2)))
    assert repr(fnp.array(True)).startswith("Array(True")
    assert str(fnp.array([1, 2])) == "[1 2]"


def test_operators_on_tracers():
    def f(x):
        y = 2.0 * x + 1 - x / 4 + x ** 2 - 3 // (x + 5) + x % 2
        z = (x > 0.5) & (x <= 2.0) | ~(x == 1.0)
        return y, z, x.T.sum(axis=0), x.reshape(-1)[::2], len(x), x.shape
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    eager = f(fnp.asarray(x))
    jitted = fg.jit(lambda v: f(v)[:4])(x)
    for a, b in zip(eager[:4], jitted):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert eager[4] == 3 and eager[5] == (3, 2)
    ref = 2.0 * x + 1 - x / 4 + x ** 2 - 3 // (x + 5) + x % 2
    np.testing.assert_allclose(eager[0], ref, rtol=1e-6)
    batched = fg.vmap(lambda v: f(v)[0])(np.stack([x, x + 1]))
    np.testing.assert_allclose(batched[1], f(fnp.asarray(x + 1))[0], rtol=1e-6)


# ============================================================================ semantics and errors

def test_incompatible_shapes_raise_type_error():
    for fn in (lambda: fnp.add(fnp.ones(2), fnp.ones(3)), lambda: fnp.ones(2) * fnp.ones((3, 1, 4)),
               lambda: fnp.where(np.ones(2, bool), fnp.ones(3), 0.0),
               lambda: fnp.matmul(fnp.ones((2, 3)), fnp.ones((2, 3))),
               lambda: fnp.dot(fnp.ones(3), fnp.ones(4)),
               lambda: fnp.einsum("ij,jk", fnp.ones((2, 3)), fnp.ones((4, 5))),
               lambda: fnp.reshape(fnp.ones(6), (4, 2)),
               lambda: fnp.broadcast_shapes((2,), (3,))):
        with pytest.raises(TypeError) as info:
            fn()
        assert "(" in str(info.value), str(info.value)       # names the shapes


def test_out_arguments_are_refused():
    x = fnp.ones(3)
    for fn in (fnp.sum, fnp.mean, fnp.max, fnp.nansum, fnp.var, fnp.all):
        with pytest.raises(NotImplementedError, match="out="):
            fn(x, out=x)


def test_docstring_examples():
    import doctest
    import sys
    from funcgrad.numpy import (_creation, _einsum, _more, _products, _promote, _reductions,
                                _shape, _ufuncs)
    for mod in (_more, _einsum, _ufuncs, _reductions, _creation, _products, _shape, _promote):
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for t in doctest.DocTestFinder().find(mod, globs={"fnp": fnp, "np": np, "fg": fg,
                                                              "dtype_arg": _promote.dtype_arg}):
                runner.run(t, out=sys.__stdout__.write)
        res = runner.summarize(verbose=False)
        assert res.failed == 0, f"{mod.__name__}: {res.failed} docstring examples fail"


def test_clear_errors():
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(fnp.ones(5), 2)
    with pytest.raises(ValueError, match="axis"):
        fnp.sum(fnp.ones(3), axis=2)
    with pytest.raises(NotImplementedError, match="mode"):
        fnp.pad(fnp.ones(3), 1, mode="median")
    with pytest.raises(TypeError, match="total_repeat_length"):
        fg.jit(lambda r: fnp.repeat(fnp.ones(3), r))(np.array([1, 2, 0]))
    with pytest.raises(TypeError, match="length"):
        fg.jit(lambda x: fnp.bincount(x))(np.array([1, 2]))
    with pytest.raises(ValueError, match="immutable"):
        fnp.fill_diagonal(fnp.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.array([1, 2]) ** -1
    with pytest.raises(ValueError, match="einsum"):
        fnp.einsum("ij->k", fnp.ones((2, 2)))


def test_traced_values_where_concrete_ones_are_optional():
    # repeat with traced repeats and a static total length
    r = fg.jit(lambda x, k: fnp.repeat(x, k, total_repeat_length=5))(
        np.array([1.0, 2.0, 3.0]), np.array([2, 0, 1]))
    np.testing.assert_array_equal(r, [1.0, 1.0, 3.0, 3.0, 3.0])
    # bincount with length, histogram with data-dependent edges, traced roll shift
    np.testing.assert_array_equal(fg.jit(lambda x: fnp.bincount(x, length=4))(np.array([0, 2, 2])),
                                  [1, 0, 2, 0])
    h, e = fg.jit(lambda x: fnp.histogram(x, bins=3))(np.array([0.0, 1.0, 1.5, 3.0]))
    h0, e0 = np.histogram(np.array([0.0, 1.0, 1.5, 3.0]), bins=3)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_allclose(e, e0)
    np.testing.assert_array_equal(fg.jit(fnp.roll)(np.arange(4), np.int32(1)), [3, 0, 1, 2])


def test_empty_and_zero_d_inputs():
    e = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(fnp.sum(e, axis=0), np.zeros(3))
    assert fnp.sum(e).shape == () and float(fnp.sum(e)) == 0.0
    assert np.isnan(float(fnp.mean(np.zeros(0, np.float32))))
    assert fnp.concatenate([e, e]).shape == (0, 3)
    assert fnp.cumsum(e, axis=0).shape == (0, 3)
    with pytest.raises(ValueError, match="zero-size|empty"):
        fnp.max(e, axis=0)
    z = np.float32(2.5)
    assert fnp.sum(z).shape == () and fnp.mean(z, keepdims=True).shape == ()
    assert fnp.atleast_1d(z).shape == (1,)
    assert float(fnp.max(np.array(3.0), axis=0)) == 3.0
    assert fnp.expand_dims(z, 0).shape == (1,)
