"""Testing helpers: numerical gradient checks and tolerant comparisons.

``check_grads`` compares funcgrad's forward mode (``jvp``) and reverse mode (``vjp``)
against central finite differences along random directions (fixed seed, so a failure
reproduces), recursively to any order, like ``jax.test_util.check_grads``:

>>> import funcgrad.numpy as fnp
>>> from funcgrad.test_util import check_grads
>>> import numpy as np
>>> check_grads(fnp.tanh, (np.array([0.1, -0.7, 1.3]),), order=2)   # passes silently
>>> check_grads(lambda p: fnp.sum(p["w"] * p["b"] ** 2),               # pytrees are fine
...             ({"w": np.ones(3), "b": np.arange(3.0)},), order=1, modes=("rev",))

A mismatch raises ``AssertionError`` naming the mode (JVP/VJP), the order, the largest
absolute and relative errors and the tolerances used.  Integer (and boolean) arguments
cannot be differentiated and are rejected with a ``TypeError``: close over them instead
(``check_grads(lambda x: f(x, n), (x,), 1)``).

Default step sizes and tolerances depend on the dtype (see ``default_tolerance`` and
``default_eps``): float64 is checked tightly; float32 (the library's default dtype) and
float16 are checked more loosely, as finite differences in low precision are noisy.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import _api
from ..core import pytree

__all__ = ["check_grads", "check_jvp", "check_vjp", "check_close", "numerical_jvp",
           "default_tolerance", "default_eps"]

_f16, _f32, _f64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
_c64, _c128 = np.dtype(np.complex64), np.dtype(np.complex128)

#: atol = rtol used by ``check_grads`` for each dtype (the loosest dtype involved wins).
_GRAD_TOL = {_f16: 5e-2, _f32: 5e-3, _f64: 1e-5, _c64: 5e-3, _c128: 1e-5}
#: tolerance of ``check_close`` when none is given.
_CLOSE_TOL = {_f16: 1e-3, _f32: 1e-6, _f64: 1e-12, _c64: 1e-6, _c128: 1e-12}
#: finite-difference step for each dtype.
_EPS = {_f16: 1e-2, _f32: 1e-3, _f64: 1e-5, _c64: 1e-3, _c128: 1e-5}

_SEED = 1729


def default_tolerance(dtype, kind="grad"):
    """The default ``atol``/``rtol`` for ``dtype``: ``kind="grad"`` (finite-difference
    checks) or ``kind="close"`` (``check_close``).  Non-float dtypes compare exactly.

    >>> default_tolerance(np.float32), default_tolerance(np.float64)
    (0.005, 1e-05)
    """
    table = _GRAD_TOL if kind == "grad" else _CLOSE_TOL
    return table.get(np.dtype(dtype), 0.0)


def default_eps(dtype):
    """The default finite-difference step for ``dtype`` (``1e-3`` for float32, ``1e-5``
    for float64).

    >>> default_eps(np.float64)
    1e-05
    """
    return _EPS.get(np.dtype(dtype), 1e-3)


# ----------------------------------------------------------------------------- helpers

def _np(x, python_defaults=True):
    """A NumPy array for a leaf (funcgrad Array, cupy array, NumPy, Python scalar).

    Python scalars get funcgrad's default dtypes (float32 ...) when ``python_defaults``
    (they are function arguments), else NumPy's (float64: they are expected values)."""
    if hasattr(x, "_value") and not isinstance(x, np.ndarray):
        v = x._value
        if type(v) is not np.ndarray and hasattr(v, "get"):
            v = v.get()
        return np.asarray(v)
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if not python_defaults or isinstance(x, np.generic):
        return np.asarray(x)
    if isinstance(x, float):
        from ..core import dtypes
        return np.asarray(x, dtypes.default_float_dtype())
    if isinstance(x, complex):
        from ..core import dtypes
        return np.asarray(x, dtypes.default_complex_dtype())
    if isinstance(x, bool):
        return np.asarray(x)
    if isinstance(x, int):
        from ..core import dtypes
        return np.asarray(x, dtypes.default_int_dtype())
    try:
        return np.asarray(x)
    except Exception as e:  # pragma: no cover - a tracer or something odd
        raise TypeError(f"funcgrad.test_util: cannot read a value of type "
                        f"{type(x).__name__} ({e})") from None


def _inexact(dt):
    return np.dtype(dt).kind in "fc"


def _leaf_dtypes(tree, python_defaults=True):
    return [_np(x, python_defaults).dtype for x in pytree.tree_leaves(tree)]


def _tol_for(dtypes_, given, kind="grad"):
    if given is not None:
        return float(given)
    tols = [default_tolerance(d, kind) for d in dtypes_ if _inexact(d)]
    return max(tols) if tols else default_tolerance(_f32, kind) if kind == "grad" else 0.0


def _eps_for(dtypes_, given):
    if given is not None:
        return float(given)
    es = [default_eps(d) for d in dtypes_ if _inexact(d)]
    return max(es) if es else 1e-3


def _to_array(x):
    return _api.device_put(np.array(x))


def _rand_like(rng, x):
    x = _np(x)
    if x.dtype.kind == "c":
        v = rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
    else:
        v = rng.standard_normal(x.shape)
    return np.asarray(v, x.dtype)


def _check_diff_args(args, fname, what="argument"):
    for path, leaf in pytree.tree_flatten_with_path(args)[0]:
        dt = _np(leaf).dtype
        if not _inexact(dt):
            where = pytree.keystr(path) if path else ""
            raise TypeError(
                f"{fname}: {what} args{where} has dtype {dt.name}; only floating-point "
                f"(or complex) arguments can be differentiated. Close over integer and "
                f"boolean arguments (e.g. check_grads(lambda x: f(x, n), (x,), order)) or "
                f"cast them to a float dtype.")


def _fmt(x):
    return f"{x:.3g}"


def _compare(actual, expected, atol, rtol, what, noise=None):
    """Return None if close, else a message with the max abs/rel error.

    ``noise`` (a list of arrays or floats, one per leaf) widens the allowed error
    elementwise: the rounding noise of a finite difference."""
    a_leaves, a_tree = pytree.tree_flatten(actual)
    e_leaves, e_tree = pytree.tree_flatten(expected)
    noise = [0.0] * len(e_leaves) if noise is None else list(noise)
    if a_tree != e_tree:
        return (f"{what}: structures differ: got {a_tree}, expected {e_tree}")
    max_abs = max_rel = 0.0
    bad = False
    shape_msg = None
    for i, (a, e, nz) in enumerate(zip(a_leaves, e_leaves, noise)):
        a, e = _np(a, False), _np(e, False)
        if a.shape != e.shape:
            shape_msg = f"leaf {i}: shape {a.shape} != expected shape {e.shape}"
            bad = True
            continue
        if a.size == 0:
            continue
        if a.dtype.kind == "b" or e.dtype.kind == "b":
            if not np.array_equal(a, e):
                bad = True
                max_abs = max(max_abs, float(np.sum(a != e)))
            continue
        a64 = a.astype(np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c"
                       else np.float64)
        e64 = e.astype(a64.dtype)
        both_nan = np.isnan(a64) & np.isnan(e64)
        same_inf = np.isinf(a64) & np.isinf(e64) & (a64 == e64)
        skip = both_nan | same_inf
        err = np.where(skip, 0.0, np.abs(a64 - e64))
        err = np.where(np.isnan(err), np.inf, err)
        mag = np.abs(e64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(err == 0, 0.0, err / np.where(mag == 0, np.inf, mag))
            rel = np.where((err > 0) & (mag == 0), np.inf, rel)
        max_abs = max(max_abs, float(np.max(err)))
        max_rel = max(max_rel, float(np.max(rel)))
        if np.any(err > atol + rtol * np.where(np.isfinite(mag), mag, 0.0) + nz):
            bad = True
    if not bad:
        return None
    msg = (f"{what}: max abs error {_fmt(max_abs)}, max rel error {_fmt(max_rel)} "
           f"(atol={atol:g}, rtol={rtol:g})")
    if shape_msg:
        msg += f"; {shape_msg}"
    if len(a_leaves) == 1 and _np(a_leaves[0], False).size <= 16 and not shape_msg:
        msg += (f"\n  actual:   {np.array2string(_np(a_leaves[0], False), precision=6)}"
                f"\n  expected: {np.array2string(_np(e_leaves[0], False), precision=6)}")
    return msg


def _is_single_leaf(x):
    return pytree.tree_structure(x).num_leaves == 1 and not isinstance(x, (list, tuple, dict))


def _align_sequences(a, b):
    """Compare an array with a (nested) list of numbers as arrays, like NumPy would."""
    for x, y in ((a, b), (b, a)):
        if _is_single_leaf(x) and isinstance(y, (list, tuple)) and not hasattr(y, "_fields"):
            try:
                conv = np.asarray([_np(v, False) for v in y] if y else y)
            except Exception:   # noqa: BLE001 - ragged or not numeric: compare as trees
                return a, b
            if conv.dtype.kind in "biufc":
                return (x, conv) if x is a else (conv, x)
    return a, b


def check_close(a, b, atol=None, rtol=None, err_msg=""):
    """Assert that two pytrees of arrays are elementwise close:
    ``|a - b| <= atol + rtol * |b|`` leaf by leaf (NaNs in the same places are equal).

    Default tolerances depend on the dtypes (``default_tolerance(dt, "close")``: 1e-6
    for float32, 1e-12 for float64, exact for integers).  Raises ``AssertionError`` with
    the largest absolute and relative errors.

    >>> check_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-14]))
    >>> check_close({"a": 1.0}, {"a": 1.001}, atol=1e-2)
    """
    a, b = _align_sequences(a, b)
    dts = _leaf_dtypes(a, False) + _leaf_dtypes(b, False)
    atol = _tol_for(dts, atol, "close")
    rtol = _tol_for(dts, rtol, "close")
    msg = _compare(a, b, atol, rtol, err_msg or "check_close")
    if msg is not None:
        raise AssertionError(msg)


def _inner(xs, ys):
    """Real inner product of two pytrees (float leaves only)."""
    tot = 0.0
    for x, y in zip(pytree.tree_leaves(xs), pytree.tree_leaves(ys)):
        x, y = _np(x), _np(y)
        if not (_inexact(x.dtype) and _inexact(y.dtype)) or x.size == 0:
            continue
        tot += float(np.real(np.vdot(x.astype(np.complex128).ravel(),
                                     y.astype(np.complex128).ravel())))
    return tot


def _perturbed(args, tangents, eps):
    """``(args + eps t, args - eps t, t_eff)``: the points in the args' dtype, and the
    tangent actually realized after rounding, ``(x+ - x-) / (2 eps)``."""
    plus, minus, t_eff = [], [], []
    for x, t in zip(pytree.tree_leaves(args), pytree.tree_leaves(tangents)):
        x = _np(x)
        t = _np(t)
        hi = np.complex128 if x.dtype.kind == "c" else np.float64
        xp = np.asarray(x.astype(hi) + eps * t.astype(hi), x.dtype)
        xm = np.asarray(x.astype(hi) - eps * t.astype(hi), x.dtype)
        plus.append(xp)
        minus.append(xm)
        t_eff.append(np.asarray((xp.astype(hi) - xm.astype(hi)) / (2 * eps), x.dtype))
    tree = pytree.tree_structure(args)
    return (pytree.tree_unflatten(tree, plus), pytree.tree_unflatten(tree, minus),
            pytree.tree_unflatten(tree, t_eff))


def _call(f, args):
    return f(*pytree.tree_map(_to_array, args))


def _numerical_jvp(f, args, tangents, eps):
    """``(jvp, noise)``: the central difference of each output leaf (float64/complex128;
    zeros for integer outputs) and an estimate of its rounding noise,
    ``16 * finfo(dtype).eps * max(|f(x+)|, |f(x-)|) / (2 eps)``."""
    plus, minus, _ = _perturbed(args, tangents, eps)
    fp, fm = _call(f, plus), _call(f, minus)
    lp, tree = pytree.tree_flatten(fp)
    lm = pytree.tree_leaves(fm)
    diffs, noise = [], []
    for a, b in zip(lp, lm):
        a, b = _np(a), _np(b)
        if not _inexact(a.dtype):
            diffs.append(np.zeros(a.shape, np.float64))
            noise.append(np.zeros(a.shape, np.float64))
            continue
        hi = np.complex128 if a.dtype.kind == "c" else np.float64
        diffs.append(np.asarray((a.astype(hi) - b.astype(hi)) / (2 * eps)))
        mag = np.maximum(np.abs(a.astype(hi)), np.abs(b.astype(hi)))
        mag = np.where(np.isfinite(mag), mag, 0.0)
        noise.append(16 * np.finfo(a.dtype).eps * mag / (2 * eps))
    return pytree.tree_unflatten(tree, diffs), noise


def numerical_jvp(f, args, tangents, eps):
    """Central difference ``(f(args + eps t) - f(args - eps t)) / (2 eps)`` (float64 result
    for each inexact output leaf; zeros for integer outputs).

    >>> round(float(numerical_jvp(lambda x: x ** 2, (np.array(3.0),), (np.array(1.0),),
    ...                           1e-5)), 6)
    6.0
    """
    return _numerical_jvp(f, args, tangents, eps)[0]


def _directions(args, rng, eps):
    """A random tangent for ``args``, realized exactly by the perturbation of size eps."""
    t = pytree.tree_map(lambda x: _rand_like(rng, x), args)
    return _perturbed(args, t, eps)[2]


def _label(mode, order, err_msg):
    name = {"fwd": "JVP", "rev": "VJP"}[mode]
    return f"{name} (mode {mode!r}, order {order})" + (f" of {err_msg}" if err_msg else "")


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=None, err_msg="", _order=1,
              seed=_SEED):
    """Check ``f_jvp(primals, tangents) -> (out, tangent_out)`` (usually
    ``functools.partial(fg.jvp, f)``) against ``f`` and central finite differences along a
    random direction.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, functools
    >>> check_jvp(fnp.sin, functools.partial(fg.jvp, fnp.sin), (np.array([0.3, 1.0]),))
    """
    args = tuple(args)
    _check_diff_args(args, "check_jvp")
    dts = _leaf_dtypes(args)
    eps = _eps_for(dts, eps)
    rng = np.random.default_rng(seed)
    tangents = _directions(args, rng, eps)
    out, t_out = f_jvp(pytree.tree_map(_to_array, args), pytree.tree_map(_to_array, tangents))
    expected = _call(f, args)
    label = _label("fwd", _order, err_msg)
    out_dts = _leaf_dtypes(expected)
    atol_ = _tol_for(dts + out_dts, atol)
    rtol_ = _tol_for(dts + out_dts, rtol)
    msg = _compare(out, expected, atol_, rtol_, f"{label}: primal output differs from f(*args)")
    if msg:
        raise AssertionError(msg)
    t_expected, noise = _numerical_jvp(f, args, tangents, eps)
    # integer outputs have no tangent: compare only the inexact ones
    t_out_l, t_tree = pytree.tree_flatten(t_out)
    exp_l, e_tree = pytree.tree_flatten(t_expected)
    if t_tree != e_tree:
        raise AssertionError(f"{label}: tangent output structure {t_tree} differs from the "
                             f"output structure {e_tree}")
    keep = [i for i, o in enumerate(pytree.tree_leaves(expected)) if _inexact(_np(o).dtype)]
    msg = _compare([t_out_l[i] for i in keep], [exp_l[i] for i in keep], atol_, rtol_,
                   f"{label}: tangent differs from finite differences (eps={eps:g})",
                   noise=[noise[i] for i in keep])
    if msg:
        raise AssertionError(msg)


def _int_safe_ct(out, ct_fn):
    """A cotangent pytree for ``out``: ``ct_fn(leaf)`` for inexact leaves, zeros otherwise."""
    def one(o):
        o = _np(o)
        return ct_fn(o) if _inexact(o.dtype) else np.zeros(o.shape, o.dtype)
    return pytree.tree_map(one, out)


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=None, err_msg="", _order=1,
              seed=_SEED):
    """Check ``f_vjp(*primals) -> (out, vjp_fun)`` (usually ``functools.partial(fg.vjp,
    f)``): ``<vjp_fun(ct), t>`` must equal ``<ct, J t>`` with ``J t`` from central finite
    differences along a random ``t`` and a random cotangent ``ct``.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, functools
    >>> check_vjp(fnp.exp, functools.partial(fg.vjp, fnp.exp), (np.array([0.3, 1.0]),))
    """
    args = tuple(args)
    _check_diff_args(args, "check_vjp")
    dts = _leaf_dtypes(args)
    eps = _eps_for(dts, eps)
    rng = np.random.default_rng(seed + 1)
    out, vjp_fun = f_vjp(*pytree.tree_map(_to_array, args))
    expected = _call(f, args)
    label = _label("rev", _order, err_msg)
    out_dts = _leaf_dtypes(expected)
    atol_ = _tol_for(dts + out_dts, atol)
    rtol_ = _tol_for(dts + out_dts, rtol)
    msg = _compare(out, expected, atol_, rtol_, f"{label}: primal output differs from f(*args)")
    if msg:
        raise AssertionError(msg)
    tangents = _directions(args, rng, eps)
    t_num, noise = _numerical_jvp(f, args, tangents, eps)
    ct = _int_safe_ct(out, lambda o: _rand_like(rng, o))
    # JAX's convention: vjp_fun is the transpose (not the adjoint) of the linear map, so
    # <t, conj(vjp(conj(ct)))> == <J t, ct> with <a, b> = Re(sum(conj(a) * b)).
    ct_in = pytree.tree_map(lambda c: _to_array(np.conj(c)), ct)
    ct_out = vjp_fun(ct_in)
    if isinstance(ct_out, tuple) and len(ct_out) == len(args):
        pass
    else:
        raise AssertionError(f"{label}: vjp_fun returned {type(ct_out).__name__} "
                             f"{ct_out!r}, expected a tuple of {len(args)} cotangents")
    for i, (c, a) in enumerate(zip(ct_out, args)):
        if pytree.tree_structure(c) != pytree.tree_structure(a):
            raise AssertionError(f"{label}: cotangent {i} has structure "
                                 f"{pytree.tree_structure(c)}, argument {i} has "
                                 f"{pytree.tree_structure(a)}")
        for cl, al in zip(pytree.tree_leaves(c), pytree.tree_leaves(a)):
            if _np(cl).shape != _np(al).shape:
                raise AssertionError(f"{label}: cotangent {i} has shape {_np(cl).shape}, "
                                     f"argument {i} has shape {_np(al).shape}")
    ip = _inner(tangents, pytree.tree_map(lambda c: np.conj(_np(c)), ct_out))
    ip_expected = _inner(t_num, ct)
    ip_noise = _inner(noise, pytree.tree_map(lambda c: np.abs(_np(c)), ct))
    msg = _compare(np.float64(ip), np.float64(ip_expected), atol_, rtol_,
                   f"{label}: <t, vjp(ct)> differs from <J t, ct> by finite differences "
                   f"(eps={eps:g})", noise=[ip_noise])
    if msg:
        raise AssertionError(msg)


def check_grads(f, args, order, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check the derivatives of ``f`` at ``args`` to ``order``, in forward (``"fwd"``:
    ``fg.jvp``) and/or reverse (``"rev"``: ``fg.vjp``) mode, against central finite
    differences along random directions (fixed seed).

    ``args`` is a tuple (or list) of positional arguments; each may be a pytree of float
    or complex arrays (NumPy arrays, funcgrad Arrays or Python floats).  With ``order=2``
    the derivative functions themselves are checked: ``(p, t) -> jvp(f, p, t)`` and
    ``p -> vjp(f, p)[1](f(p))``, and so on recursively for higher orders.

    ``atol``/``rtol`` default by dtype (``5e-3`` for float32, ``1e-5`` for float64; the
    loosest dtype among inputs and outputs wins); ``eps`` (the finite-difference step)
    defaults to ``1e-3`` for float32 and ``1e-5`` for float64.

    Raises ``AssertionError`` naming the mode, the order, the maximum absolute and
    relative errors and the tolerances; ``TypeError`` for integer/boolean arguments.

    >>> import funcgrad.numpy as fnp
    >>> check_grads(lambda x, y: fnp.sin(x) * y, (np.array([0.5, 1.5]), np.array(2.0)),
    ...             order=2)
    >>> check_grads(fnp.exp, (np.array([1.0]),), order=3, modes=("fwd",))
    """
    if isinstance(modes, str):
        modes = (modes,)
    modes = tuple(modes)
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; modes are 'fwd' and 'rev'")
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise ValueError(f"check_grads: order must be a non-negative int, got {order!r}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"check_grads: args must be a tuple of arguments, e.g. (x,), got "
                        f"{type(args).__name__}")
    args = tuple(args)
    _check_diff_args(args, "check_grads")

    order_total = order

    def _check(f, args, order, what):
        if order == 0:
            return
        level = order_total - order + 1
        if "fwd" in modes:
            check_jvp(f, functools.partial(_api.jvp, f), args, atol, rtol, eps,
                      err_msg=what, _order=level)
            if order > 1:
                _check(functools.partial(_api.jvp, f), (args, args), order - 1,
                       f"the JVP of {what}")
        if "rev" in modes:
            check_vjp(f, functools.partial(_api.vjp, f), args, atol, rtol, eps,
                      err_msg=what, _order=level)
            if order > 1:
                def f_vjp(*primals):
                    out, vjp_fun = _api.vjp(f, *primals)
                    ct = pytree.tree_map(
                        lambda o: o if _inexact(_np_dtype(o)) else
                        _to_array(np.zeros(np.shape(o), _np_dtype(o))), out)
                    return vjp_fun(ct)
                _check(f_vjp, args, order - 1, f"the VJP of {what}")

    _check(f, args, order, getattr(f, "__name__", None) or type(f).__name__)


def _np_dtype(x):
    dt = getattr(x, "dtype", None)
    if dt is not None:
        return np.dtype(dt)
    return _np(x).dtype


def __getattr__(name):
    # ``funcgrad.test_util.strategies`` without importing hypothesis at funcgrad import time
    if name == "strategies":
        import importlib
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
