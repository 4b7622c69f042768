"""Call-site specializations of the eager kernels for generated code.

Several lax kernels are small Python wrappers that pick a NumPy routine from the dtype or
from a plan computed from the shapes (``_div_kernel`` -> ``np.true_divide`` for floats,
``dot_general_kernel`` -> transpose/reshape/``np.dot`` by ``dot_plan``, ``np.sum`` ->
``np.add.reduce``).  Shapes and dtypes are static in a compiled program, so the generated
code calls the routine the kernel would have chosen directly.  Each specialization applies
only when the primitive still uses the very kernel it was written for (checked by
identity), so a changed kernel falls back to being called as is; the bit-for-bit
agreement with eager mode is tested in ``tests/test_compiler.py``.
"""
from __future__ import annotations

import importlib

import numpy as np

# (``funcgrad.lax.dot`` the attribute is the function ``dot``: import the modules by name)
_dot = importlib.import_module("funcgrad.lax.dot")
_ew = importlib.import_module("funcgrad.lax.elementwise")
_red = importlib.import_module("funcgrad.lax.reductions")

__all__ = ["fused_kernel", "reduce_ufunc", "dot_code"]

_REDUCE = {}
for _fn, _uf, _with_dtype in ((getattr(_red, "_np_sum", None), np.add, True),
                              (getattr(_red, "_np_prod", None), np.multiply, True),
                              (getattr(_red, "_np_max", None), np.maximum, False),
                              (getattr(_red, "_np_min", None), np.minimum, False)):
    if _fn is not None:
        _REDUCE[_fn] = (_uf, _with_dtype)


def reduce_ufunc(e):
    """``(ufunc, pass_dtype)`` whose ``reduce`` is exactly the reduction kernel of ``e``."""
    low = e.primitive.lowering or {}
    k = low.get("reduce")
    if k is None or e.primitive.impl is None:
        return None
    return _REDUCE.get(k)


def fused_kernel(e):
    """How a fused elementwise equation calls its kernel: ``(kind, fn, extra)``.

    ``kind`` is ``"ufunc"`` (``fn(*args, out)``), ``"kw"`` (``fn(*args, out=out)``),
    ``"square"`` (``fn(x, x, out)``), ``"power"`` (``fn(x, extra, out)``) or
    ``"where"`` (``np.where(which, c1, c0)``, copied into ``out`` when needed).
    """
    p = e.primitive
    name = p.name
    impl = p.impl
    dt = e.invars[0].aval.dtype if e.invars else None
    if name == "div" and impl is getattr(_ew, "_div_kernel", None) and dt.kind in "fc":
        return "ufunc", np.true_divide, None
    if name == "rem" and impl is getattr(_ew, "_rem_kernel", None):
        return "ufunc", np.fmod, None
    if name == "integer_pow" and impl is getattr(_ew, "_integer_pow_impl", None):
        y = e.params["y"]
        if y == 2:
            return "square", np.multiply, None
        if y >= 0 or dt.kind in "fc":
            return "power", np.power, np.asarray(y, dt)
    if (name == "select_n" and impl is getattr(_ew, "_select_n_kernel", None)
            and len(e.invars) == 3):
        return "where", np.where, None
    low = p.lowering or {}
    if e.params:
        import functools
        return "kw", functools.partial(impl, **e.params), None
    fn = low.get("ufunc") or impl
    if isinstance(fn, np.ufunc):
        return "ufunc", fn, None
    return "kw", fn, None


def dot_code(e, lhs, rhs):
    """Python expression computing ``dot_general`` of the named operands exactly as
    ``dot_general_kernel`` does (with its plan resolved now), or None."""
    p = e.primitive
    if p.impl is not getattr(_dot, "dot_general_kernel", None):
        return None
    la, ra = e.invars[0].aval, e.invars[1].aval
    params = e.params
    dn = params["dimension_numbers"]
    try:
        lperm, rperm, l3, r3, out_shape, batched = _dot.dot_plan(la.shape, ra.shape, dn)
    except Exception:  # noqa: BLE001
        return None
    a, ashape = lhs, la.shape
    if lperm is not None:
        a = f"{a}.transpose({tuple(lperm)!r})"
        ashape = tuple(la.shape[i] for i in lperm)
    b, bshape = rhs, ra.shape
    if rperm is not None:
        b = f"{b}.transpose({tuple(rperm)!r})"
        bshape = tuple(ra.shape[i] for i in rperm)
    lt = tuple(l3) if batched else tuple(l3[1:])
    rt = tuple(r3) if batched else tuple(r3[1:])
    outer = lt[-1] == 1 and (batched or lt[0] > 1 or rt[-1] > 1)   # size-1 contraction
    if outer and l3[0] * l3[1] * r3[2] >= _dot.OUTER_EINSUM_MIN:
        # a big outer product: einsum, as dot_general_kernel does
        la2 = lt[:2] if batched else lt[:1]
        rb2 = (rt[0], rt[2]) if batched else rt[1:]
        if tuple(ashape) != la2:
            a = f"{a}.reshape({la2!r})"
        if tuple(bshape) != rb2:
            b = f"{b}.reshape({rb2!r})"
        spec = "bi,bj->bij" if batched else "i,j->ij"
        code = f"_np.einsum({spec!r}, {a}, {b}, order='C')"
    else:
        if tuple(ashape) != lt:
            a = f"{a}.reshape({lt!r})"
        if tuple(bshape) != rt:
            b = f"{b}.reshape({rt!r})"
        if outer:   # a small one: a broadcast multiply, as dot_general_kernel does
            code = f"_np.multiply({a}, {b})"
        else:
            code = f"_matmul({a}, {b})" if batched else f"_dot({a}, {b})"
    rshape = (lt[0], lt[1], rt[2]) if batched else (lt[0], rt[1])
    if tuple(rshape) != tuple(out_shape):
        code = f"{code}.reshape({tuple(out_shape)!r})"
    pet = params.get("preferred_element_type")
    if pet is not None and np.dtype(pet) != np.result_type(la.dtype, ra.dtype):
        code = f"{code}.astype(_np.dtype({np.dtype(pet).name!r}))"
    return code
