"""Second-order gradients (forward and reverse mode, float64) of every differentiable
``funcgrad.numpy`` function, checked against finite differences with
``funcgrad.test_util.check_grads``.  Arguments avoid kinks and discontinuities."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.test_util import check_grads

GRADS = []


def _rng(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def R(name, *shape, lo=-2.0, hi=2.0):
    return _rng(name + str(shape)).uniform(lo, hi, size=shape)


def D(name, *shape, lo=0.3, hi=2.0):
    """Distinct values with gaps (no ties for max/min/sort), random signs."""
    n = int(np.prod(shape, dtype=np.int64))
    v = np.linspace(lo, hi, n) * _rng(name).choice([-1.0, 1.0], size=n)
    return _rng(name + "p").permutation(v).reshape(shape)


def grad_case(name, f, *args, order=2, label="", modes=("fwd", "rev"), **kw):
    GRADS.append(pytest.param(f, args, order, modes, kw, id=name + (f"-{label}" if label else "")))


# --- elementwise, unary (domain chosen per function)
_UNARY = {
    "abs": (0.3, 2), "absolute": (0.3, 2), "negative": (-2, 2), "positive": (-2, 2),
    "square": (-2, 2), "reciprocal": (0.5, 2), "sqrt": (0.3, 3), "cbrt": (0.3, 3),
    "exp": (-2, 2), "exp2": (-2, 2), "expm1": (-2, 2), "log": (0.3, 3), "log1p": (-0.5, 2),
    "log2": (0.3, 3), "log10": (0.3, 3), "sin": (-2, 2), "cos": (-2, 2), "tan": (-1, 1),
    "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8), "arctan": (-2, 2), "sinh": (-2, 2),
    "cosh": (-2, 2), "tanh": (-2, 2), "arcsinh": (-2, 2), "arccosh": (1.2, 3),
    "arctanh": (-0.8, 0.8), "acos": (-0.8, 0.8), "asin": (-0.8, 0.8), "atan": (-2, 2),
    "acosh": (1.2, 3), "asinh": (-2, 2), "atanh": (-0.8, 0.8), "deg2rad": (-2, 2),
    "rad2deg": (-2, 2), "degrees": (-2, 2), "radians": (-2, 2), "sinc": (0.2, 2),
    "real": (-2, 2), "conj": (-2, 2), "conjugate": (-2, 2), "nan_to_num": (-2, 2),
    "copy": (-2, 2), "asarray": (-2, 2), "array": (-2, 2), "ascontiguousarray": (-2, 2),
    "ravel": (-2, 2), "atleast_1d": (-2, 2), "atleast_2d": (-2, 2), "atleast_3d": (-2, 2),
    "fliplr": (-2, 2), "flipud": (-2, 2), "matrix_transpose": (-2, 2), "transpose": (-2, 2),
    "imag": (-2, 2), "angle": (0.3, 2),
}
for _n, (_lo, _hi) in _UNARY.items():
    grad_case(_n, getattr(fnp, _n), R(_n, 2, 3, lo=_lo, hi=_hi))
for _n in ("floor", "ceil", "trunc", "fix", "rint", "round", "around"):
    grad_case(_n, getattr(fnp, _n), np.array([0.3, 1.4, -2.6, -0.2]), order=1)
grad_case("sinc", fnp.sinc, np.array([0.0, 0.5]), label="zero", order=1)
grad_case("modf", lambda x: fnp.modf(x), np.array([0.3, 1.4, -2.6]))
grad_case("astype", lambda x: fnp.astype(x, np.float32).astype(np.float64), R("astype", 3),
          order=1, atol=1e-3, rtol=1e-3, eps=1e-2)

# --- elementwise, binary
_BIN = {
    "add": {}, "subtract": {}, "multiply": {}, "divide": dict(lo2=0.5), "true_divide": dict(lo2=0.5),
    "power": dict(lo=0.5), "pow": dict(lo=0.5), "float_power": dict(lo=0.5), "arctan2": {},
    "atan2": {}, "hypot": {}, "logaddexp": {}, "logaddexp2": {},
}
for _n, _kw in _BIN.items():
    a = R(_n + "a", 2, 3, lo=_kw.get("lo", -2), hi=2)
    b = R(_n + "b", 3, lo=_kw.get("lo2", _kw.get("lo", -2)), hi=2)
    grad_case(_n, getattr(fnp, _n), a, b)
    grad_case(_n, lambda x, _n=_n: getattr(fnp, _n)(x, 1.5), a, label="scalar")
for _n in ("maximum", "minimum", "fmax", "fmin"):
    grad_case(_n, getattr(fnp, _n), D(_n + "a", 2, 3), D(_n + "b", 2, 3, lo=0.35, hi=2.05))
grad_case("fmax", lambda x: fnp.fmax(x, np.array([np.nan, 0.0, np.nan])), D("fmaxn", 3),
          label="nan")
grad_case("copysign", lambda x: fnp.copysign(x, np.array([-1.0, 2.0, -0.5])), R("cs", 3))
grad_case("ldexp", lambda x: fnp.ldexp(x, np.array([1, -2, 0])), R("ld", 3))
for _n in ("remainder", "mod", "fmod"):
    grad_case(_n, getattr(fnp, _n), np.array([2.3, -1.7, 0.4]), np.array([0.7, 0.9, -1.3]))
grad_case("divmod", lambda a, b: fnp.divmod(a, b)[1], np.array([2.3, -1.7]),
          np.array([0.7, 0.9]))
grad_case("heaviside", lambda x: fnp.heaviside(x, 0.5), np.array([-1.0, 2.0]), order=1)
grad_case("where", lambda x, y: fnp.where(np.array([True, False, True]), x, y), R("w1", 3),
          R("w2", 2, 3))
grad_case("clip", lambda x: fnp.clip(x, -1.0, 1.0), np.array([-1.5, -0.5, 0.3, 1.7]))
grad_case("clip", lambda x, lo, hi: fnp.clip(x, lo, hi), np.array([-1.5, 0.3, 1.7]),
          np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0]), label="arrays")
grad_case("interp", lambda x, fp: fnp.interp(x, np.array([-1.0, 0.0, 2.0]), fp),
          np.array([-1.5, -0.4, 0.7, 1.9, 2.5]), R("fp", 3))
grad_case("interp", lambda x, xp: fnp.interp(x, xp, np.array([1.0, -1.0, 3.0])),
          np.array([-0.4, 0.7]), np.array([-1.0, 0.0, 2.0]), label="xp")
grad_case("interp", lambda x, fp: fnp.interp(x, np.array([10.0, 170.0, 200.0]), fp, period=360),
          np.array([-40.0, 100.0, 400.0]), R("fpp", 3), label="period")


# --- reductions
def _red(n, **kw):
    return lambda x: getattr(fnp, n)(x, **kw)


for _n in ("sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "ptp", "average",
           "median", "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd",
           "nanmedian"):
    x = D(_n, 3, 4)
    grad_case(_n, getattr(fnp, _n), x)
    grad_case(_n, _red(_n, axis=0), x, label="axis0")
    grad_case(_n, _red(_n, axis=-1, keepdims=True), x, label="keepdims")
for _n in ("var", "std", "nanvar", "nanstd"):
    grad_case(_n, _red(_n, axis=1, ddof=1), D(_n + "d", 3, 4), label="ddof")
grad_case("sum", _red("sum", axis=(0, 2)), R("s3", 2, 3, 2), label="tuple")
grad_case("max", _red("max", axis=1, initial=-1.0), D("mi", 3, 4), label="initial")
grad_case("average", lambda x, w: fnp.average(x, axis=1, weights=w), D("avg", 3, 4),
          R("avgw", 4, lo=0.5, hi=2), label="weights")
_MASK = np.array([[True, False, False, False], [False, False, True, False],
                  [False, True, False, False]])
for _n in ("nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "nanmedian",
           "nancumsum", "nancumprod"):
    grad_case(_n, lambda x, _n=_n: getattr(fnp, _n)(fnp.where(_MASK, np.nan, x), axis=1),
              D(_n + "m", 3, 4), label="nan")
grad_case("nanquantile", lambda x: fnp.nanquantile(fnp.where(_MASK, np.nan, x), 0.3, axis=1),
          D("nq", 3, 4))
grad_case("nanpercentile", lambda x: fnp.nanpercentile(fnp.where(_MASK, np.nan, x), 70, axis=1),
          D("np", 3, 4))
for _n in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
    grad_case(_n, _red(_n, axis=1), D(_n, 3, 4))
    grad_case(_n, getattr(fnp, _n), D(_n + "f", 2, 3), label="flat")
grad_case("cumulative_sum", lambda x: fnp.cumulative_sum(x, axis=1, include_initial=True),
          R("cus", 2, 3))
grad_case("cumulative_prod", lambda x: fnp.cumulative_prod(x, axis=0), D("cup", 3, 2))
grad_case("quantile", lambda x: fnp.quantile(x, np.array([0.2, 0.75]), axis=0), D("q", 5, 2))
grad_case("quantile", lambda x, q: fnp.quantile(x, q), D("qq", 5), np.array(0.3), label="q")
grad_case("percentile", lambda x: fnp.percentile(x, 40.0, axis=-1), D("pc", 2, 5))

# --- shapes
_SHAPE = {
    "reshape": lambda x: fnp.reshape(x, (4, 3)),
    "transpose": lambda x: fnp.transpose(x, (1, 0)),
    "permute_dims": lambda x: fnp.permute_dims(x, (1, 0)),
    "moveaxis": lambda x: fnp.moveaxis(x, 0, -1),
    "swapaxes": lambda x: fnp.swapaxes(x, 0, 1),
    "rollaxis": lambda x: fnp.rollaxis(x, 1),
    "squeeze": lambda x: fnp.squeeze(fnp.expand_dims(x, 0)),
    "expand_dims": lambda x: fnp.expand_dims(x, (0, 2)),
    "broadcast_to": lambda x: fnp.broadcast_to(x, (2, 3, 4)),
    "broadcast_arrays": lambda x: fnp.broadcast_arrays(x, np.ones((2, 1, 1))),
    "split": lambda x: fnp.split(x, [1, 2], axis=1),
    "array_split": lambda x: fnp.array_split(x, 3, axis=1),
    "hsplit": lambda x: fnp.hsplit(x, 2),
    "vsplit": lambda x: fnp.vsplit(x, 3),
    "unstack": lambda x: fnp.unstack(x, axis=1),
    "tile": lambda x: fnp.tile(x, (2, 1, 2)),
    "repeat": lambda x: fnp.repeat(x, 2, axis=0),
    "resize": lambda x: fnp.resize(x, (5, 3)),
    "flip": lambda x: fnp.flip(x, 1),
    "rot90": lambda x: fnp.rot90(x, 3),
    "roll": lambda x: fnp.roll(x, (1, -2), axis=(0, 1)),
    "append": lambda x: fnp.append(x, x[:1], axis=0),
    "insert": lambda x: fnp.insert(x, [0, 2, 2], x[:, :1] * 2, axis=1),
    "delete": lambda x: fnp.delete(x, [0, 3], axis=1),
    "diagonal": lambda x: fnp.diagonal(x, 1),
    "diag": lambda x: fnp.diag(x, -1),
    "diagflat": lambda x: fnp.diagflat(x[:2], 1),
    "tril": lambda x: fnp.tril(x, 1),
    "triu": lambda x: fnp.triu(x, -1),
    "trace": lambda x: fnp.trace(x, 1),
    "fill_diagonal": lambda x: fnp.fill_diagonal(x, 0.5, inplace=False),
    "diff": lambda x: fnp.diff(x, 2, axis=1),
    "ediff1d": lambda x: fnp.ediff1d(x, to_begin=1.0),
    "gradient": lambda x: fnp.gradient(x, 0.5, axis=1, edge_order=2),
    "trapezoid": lambda x: fnp.trapezoid(x, axis=0, dx=0.3),
    "apply_along_axis": lambda x: fnp.apply_along_axis(lambda v: v * fnp.sum(v ** 2), 1, x),
    "apply_over_axes": lambda x: fnp.apply_over_axes(fnp.sum, x, [0]),
    "vectorize": lambda x: fnp.vectorize(lambda a: fnp.sin(a) * a)(x),
    "take": lambda x: fnp.take(x, np.array([2, 0, 2]), axis=0),
    "take_along_axis": lambda x: fnp.take_along_axis(x, np.array([[0], [3], [1]]), axis=1),
    "sort": lambda x: fnp.sort(x, axis=1),
    "compress": lambda x: fnp.compress([True, False, True], x, axis=0),
    "extract": lambda x: fnp.extract(np.arange(12).reshape(3, 4) % 3 == 0, x),
    "partition": lambda x: fnp.partition(x, 2, axis=1)[:, 2],
    "cov": lambda x: fnp.cov(x),
    "corrcoef": lambda x: fnp.corrcoef(x),
    "polyval": lambda x: fnp.polyval(x[0], x[1]),
    "polyder": lambda x: fnp.polyder(x[0], 2),
    "polyint": lambda x: fnp.polyint(x[0], 2, k=[1.0, 2.0]),
    "vander": lambda x: fnp.vander(x[0], 3),
    "cross": lambda x: fnp.cross(x[:, :3], x[::-1, 1:]),
}
for _n, _f in _SHAPE.items():
    if _f is not None:
        grad_case(_n, _f, D(_n, 3, 4))
    if _n == "vsplit":
        GRADS[-1] = pytest.param(_f, (D(_n, 3, 4),), 2, ("fwd", "rev"), {}, id=_n)
for _n, _f in {"hstack": fnp.hstack, "vstack": fnp.vstack, "row_stack": fnp.row_stack,
               "dstack": fnp.dstack, "column_stack": fnp.column_stack, "stack": fnp.stack,
               "concatenate": fnp.concatenate, "concat": fnp.concat}.items():
    grad_case(_n, lambda a, b, _f=_f: _f([a, b]), R(_n + "a", 2, 3), R(_n + "b", 2, 3))
grad_case("dsplit", lambda x: fnp.dsplit(x, 2), R("ds", 1, 2, 4))
grad_case("block", lambda a, b: fnp.block([[a, b], [b, a]]), R("bla", 2, 2), R("blb", 2, 2))
grad_case("repeat", lambda x: fnp.repeat(x, [1, 0, 3], axis=0), R("rc", 3, 2), label="counts")
grad_case("repeat", lambda x: fnp.repeat(x, fg.lax.convert_element_type(x * 0, np.int32) + 2,
                                          total_repeat_length=5), R("rt", 3), label="traced")
grad_case("roll", lambda x: fnp.roll(x, fg.lax.convert_element_type(fnp.sum(x) * 0, np.int32) + 1),
          R("rl", 4), label="traced_shift")
for _mode in ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum",
              "minimum", "mean"):
    grad_case("pad", lambda x, _m=_mode: fnp.pad(x, ((1, 2), (4, 0)), mode=_m),
              D("pad" + _mode, 2, 3), label=_mode)
grad_case("pad", lambda x: fnp.pad(x, 5, mode="reflect", reflect_type="odd"), R("pado", 3),
          label="odd")
grad_case("pad", lambda x, c: fnp.pad(x, 1, constant_values=c), R("padc", 2), np.array(0.5),
          label="traced_value")

# --- products
grad_case("dot", fnp.dot, R("d1", 2, 3), R("d2", 3, 4))
grad_case("matmul", fnp.matmul, R("m1", 2, 2, 3), R("m2", 3, 2))
grad_case("vdot", fnp.vdot, R("v1", 2, 3), R("v2", 2, 3))
grad_case("inner", fnp.inner, R("i1", 2, 3), R("i2", 4, 3))
grad_case("outer", fnp.outer, R("o1", 3), R("o2", 2))
grad_case("kron", fnp.kron, R("k1", 2, 2), R("k2", 2, 3))
grad_case("tensordot", lambda a, b: fnp.tensordot(a, b, ([1, 2], [0, 1])), R("t1", 2, 3, 2),
          R("t2", 3, 2, 2))
grad_case("vecdot", fnp.vecdot, R("vd1", 2, 3), R("vd2", 3))
grad_case("matvec", fnp.matvec, R("mv1", 2, 3), R("mv2", 3))
grad_case("vecmat", fnp.vecmat, R("vm1", 2), R("vm2", 2, 3))
for _spec, _shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
                       ("...ij,...jk", [(2, 2, 3), (3, 2)]), ("ijk,kl,lm->im", [(2, 3, 2), (2, 2), (2, 3)]),
                       ("i,j", [(2,), (3,)]), ("ij,ij->", [(2, 3), (2, 3)])]:
    grad_case("einsum", lambda *a, _s=_spec: fnp.einsum(_s, *a),
              *[R("es" + _spec + str(i), *s) for i, s in enumerate(_shapes)], label=_spec)
grad_case("cross", fnp.cross, R("c1", 2, 3), R("c2", 3), label="args")
for _mode in ("full", "same", "valid"):
    grad_case("convolve", lambda a, v, _m=_mode: fnp.convolve(a, v, _m), R("cv1", 5), R("cv2", 3),
              label=_mode)
    grad_case("correlate", lambda a, v, _m=_mode: fnp.correlate(a, v, _m), R("cr1", 3),
              R("cr2", 5), label=_mode)
for _n in ("polyadd", "polysub", "polymul"):
    grad_case(_n, getattr(fnp, _n), R(_n + "1", 3), R(_n + "2", 2))
grad_case("polyval", fnp.polyval, R("pv1", 3), R("pv2", 4), label="args")
grad_case("trapezoid", lambda y, x: fnp.trapezoid(y, x), R("tz1", 2, 4),
          np.array([0.0, 0.3, 1.0, 1.4]), label="x")
grad_case("gradient", lambda f, x: fnp.gradient(f, x), R("gr1", 5), np.array([0.0, 0.4, 1.0, 1.3, 2.0]),
          label="coords")
grad_case("cov", lambda m, aw: fnp.cov(m, aweights=aw), R("cw1", 2, 4), R("cw2", 4, lo=0.5, hi=2),
          label="aweights")
grad_case("linspace", lambda a, b: fnp.linspace(a, b, 5), np.array(0.3), np.array(2.0))
grad_case("logspace", lambda a, b: fnp.logspace(a, b, 4), np.array(0.3), np.array(1.0))
grad_case("geomspace", lambda a, b: fnp.geomspace(a, b, 4), np.array(0.5), np.array(3.0))
grad_case("histogram", lambda w: fnp.histogram(np.array([0.1, 0.5, 0.7, 0.9]), bins=2, weights=w,
                                               density=True)[0], R("hw", 4, lo=0.5, hi=2))
grad_case("bincount", lambda w: fnp.bincount(np.array([0, 2, 2, 1]), w, length=4), R("bw", 4))
grad_case("piecewise", lambda x: fnp.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, fnp.sin]),
          np.array([-1.5, 0.5, 1.2]))
grad_case("select", lambda x: fnp.select([x < 0, x > 1], [x ** 2, fnp.exp(x)], 0.5),
          np.array([-1.5, 0.5, 1.2]))
grad_case("choose", lambda a, b: fnp.choose(np.array([0, 1, 1]), [a, b]), R("ch1", 3), R("ch2", 3))
grad_case("put_along_axis", lambda x, v: fnp.put_along_axis(x, np.array([[1], [0]]), v, axis=1,
                                                            inplace=False), R("pa1", 2, 3),
          R("pa2", 2, 1))
grad_case("fromfunction", lambda s: fnp.fromfunction(lambda i, j: fnp.sin(i * s + j), (2, 3)),
          np.array(0.7), order=1)


@pytest.mark.parametrize("f,args,order,modes,kw", GRADS)
def test_grads(f, args, order, modes, kw):
    check_grads(f, args, order, modes=modes, **kw)


_NOT_DIFFERENTIABLE = {
    # boolean, integer or index results, or inputs that are only shapes/dtypes
    "all", "any", "allclose", "isclose", "array_equal", "array_equiv", "argmax", "argmin",
    "nanargmax", "nanargmin", "argsort", "argpartition", "argwhere", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert", "invert", "count_nonzero",
    "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "isfinite",
    "isinf", "isnan", "isneginf", "isposinf", "isreal", "iscomplex", "isin", "logical_and",
    "logical_or", "logical_xor", "logical_not", "signbit", "sign", "floor_divide", "gcd", "lcm",
    "nonzero", "flatnonzero", "searchsorted", "digitize", "lexsort", "unique", "unique_all",
    "unique_counts", "unique_inverse", "unique_values", "union1d", "intersect1d", "setdiff1d",
    "setxor1d", "shape", "ndim", "size", "isscalar", "isrealobj", "iscomplexobj",
    "broadcast_shapes", "promote_types", "can_cast", "result_type", "unravel_index",
    "ravel_multi_index", "indices", "ix_", "tril_indices", "triu_indices", "tril_indices_from",
    "triu_indices_from", "diag_indices", "diag_indices_from", "trim_zeros", "histogram_bin_edges",
    "nextafter", "spacing",
    # creation from shapes (no array inputs)
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
    "arange", "eye", "identity", "tri", "hanning", "hamming", "blackman", "bartlett",
    "meshgrid",
}


def test_every_differentiable_function_is_checked():
    checked = {g.id.split("-")[0] for g in GRADS}
    missing = []
    for n in dir(fnp):
        v = getattr(fnp, n)
        if n.startswith("_") or not callable(v) or (isinstance(v, type) and v is not fnp.vectorize):
            continue
        if n in ("dtype", "iinfo", "finfo", "issubdtype", "ndarray"):
            continue
        if n in _NOT_DIFFERENTIABLE or n in checked:
            continue
        if getattr(v, "__module__", "").startswith(("funcgrad.numpy._advanced",
                                                    "funcgrad.numpy._sorting",
                                                    "funcgrad.numpy.linalg")):
            continue
        missing.append(n)
    assert not missing, f"differentiable functions without a gradient check: {missing}"
