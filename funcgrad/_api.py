"""The public transformations: grad, value_and_grad, vjp, jvp, linearize, jacfwd, jacrev,
hessian, vmap, jit, make_jaxpr, checkpoint, device_put.

They flatten pytrees, check arguments and call the interpreters on flat lists.
"""
from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict

import numpy as np

from .core import dtypes, pytree
from .core.abstract import ShapedArray
from .core.array import Array
from .core.backend import Device, default_backend, devices, to_device_raw  # noqa: F401
from .core.config import config
from .core.ir import ClosedJaxpr
from .core.staging import shaped_abstractify, trace_to_jaxpr
from .core.trace import Tracer, _state, get_aval
from .interpreters import ad, batching, tape
from .interpreters.ad_util import Zero, instantiate
from .interpreters.call import bind_call, jit_p, remat_p
from .interpreters.custom import custom_jvp, custom_vjp  # noqa: F401
from .lax.misc import stop_gradient  # noqa: F401
from .compiler.dispatch import fast_key as _fast_key, make_fast_call as _make_fast_call


def _fun_name(f) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _as_array(x, where):
    """Turn a Python scalar/NumPy leaf into an ``Array`` (tracers and Arrays pass)."""
    if isinstance(x, (Tracer, Array)):
        return x
    if isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic):
        dt = dtypes.python_scalar_dtype(x)
        return Array(np.asarray(x, dt), weak_type=not isinstance(x, bool))
    if isinstance(x, (np.ndarray, np.generic)):
        dtypes.check_supported(x.dtype, where)
        return Array(np.array(x))
    if hasattr(x, "__cuda_array_interface__"):
        return Array(x)
    raise TypeError(f"{where}: argument of type {type(x).__name__} is not a valid array; "
                    "pass funcgrad/NumPy arrays, Python scalars, or pytrees of them")


def _argnums_tuple(argnums, nargs, fname, what="argnums"):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not isinstance(a, int):
            raise TypeError(f"{fname}: {what} must be ints, got {a!r}")
        if not -nargs <= a < nargs:
            raise ValueError(f"{fname}: {what}={argnums} but the function was called with "
                             f"{nargs} positional argument(s)")
    return single, tuple(a % nargs for a in nums)


def _check_float_inputs(leaves, fname, argnums):
    for x in leaves:
        dt = get_aval(x).dtype
        if not dtypes.is_inexact(dt):
            raise TypeError(
                f"{fname} requires real- or complex-valued (floating-point) inputs to "
                f"differentiate, but argument(s) {argnums} contain a value of dtype {dt.name}. "
                "Cast it with x.astype(fnp.float32), or exclude it from argnums.")


# ----------------------------------------------------------------------------- grad family

def _vjp_setup(fun, args, kwargs, argnums, has_aux, fname):
    nargs = len(args)
    single, nums = _argnums_tuple(argnums, nargs, fname)
    diff = [pytree.tree_map(lambda x: _as_array(x, fname), args[i]) for i in nums]
    flat, in_tree = pytree.tree_flatten(diff)
    out_info = {}

    def flat_fun(*xs):
        d = pytree.tree_unflatten(in_tree, xs)
        new = list(args)
        for i, v in zip(nums, d):
            new[i] = v
        out = fun(*new, **kwargs)
        aux_leaves = []
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                got = (f"a single array of shape {get_aval(out).shape}"
                       if isinstance(out, (Tracer, Array)) else type(out).__name__)
                raise TypeError(
                    f"{fname} of {_fun_name(fun)} with has_aux=True: the function must return "
                    f"a pair (output, aux), got {got}")
            out, aux = out
            aux_leaves, out_info["aux_tree"] = pytree.tree_flatten(aux)
        o, t = pytree.tree_flatten(out)
        out_info["tree"] = t
        out_info["n"] = len(o)
        return list(o) + list(aux_leaves)

    return single, nums, flat, in_tree, flat_fun, out_info


def vjp(fun, *primals, has_aux=False):
    """``(out, vjp_fun)``; ``vjp_fun(cotangent)`` returns one cotangent per primal.

    >>> y, f_vjp = vjp(fnp.sin, 0.5)
    >>> f_vjp(1.0)   # (cos(0.5),)
    (Array(0.87758255, dtype=float32, weak_type=True),)
    """
    fname = f"vjp of {_fun_name(fun)}"
    _, nums, flat, in_tree, flat_fun, info = _vjp_setup(
        fun, primals, {}, tuple(range(len(primals))), has_aux, "vjp")
    outs, vjp_flat = tape.vjp_flat(flat_fun, flat, name=fname)
    n = info["n"]
    out = pytree.tree_unflatten(info["tree"], outs[:n])

    def vjp_fun(ct):
        ct_leaves, ct_tree = pytree.tree_flatten(ct)
        if ct_tree != info["tree"]:
            raise TypeError(f"vjp: the cotangent has structure {ct_tree} but the function's "
                            f"output has structure {info['tree']}")
        cts = []
        for c, o in zip(ct_leaves, outs[:n]):
            oa, ca = get_aval(o), get_aval(c)
            if oa.shape != ca.shape:
                raise TypeError(f"vjp: cotangent of shape {ca.shape} for an output of shape "
                                f"{oa.shape}")
            cts.append(_as_array(c, "vjp") if not isinstance(c, (Array, Tracer)) else c)
        cts += [Zero(get_aval(a).strip_weak_type()) for a in outs[n:]]
        g = vjp_flat(cts)
        g = [instantiate(x) for x in g]
        return tuple(pytree.tree_unflatten(in_tree, g))

    if has_aux:
        aux = pytree.tree_unflatten(info["aux_tree"], outs[n:])
        return out, vjp_fun, aux
    return out, vjp_fun


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return a function computing ``(fun(*args), grad)`` (``((value, aux), grad)`` with aux).

    >>> value_and_grad(lambda x: x ** 2)(3.0)
    (Array(9., dtype=float32, weak_type=True), Array(6., dtype=float32, weak_type=True))
    """
    fname = f"grad({_fun_name(fun)})"

    @functools.wraps(fun)
    def vg(*args, **kwargs):
        single, nums, flat, in_tree, flat_fun, info = _vjp_setup(
            fun, args, kwargs, argnums, has_aux, fname)
        _check_float_inputs(flat, fname, argnums)
        outs, vjp_flat = tape.vjp_flat(flat_fun, flat, name=fname)
        n = info["n"]
        if n != 1 or info["tree"] != pytree.tree_structure(0):
            shapes = [get_aval(o).shape for o in outs[:n]]
            raise TypeError(f"{fname}: grad requires a scalar output, got {n} outputs of "
                            f"shapes {shapes}. Use vjp or jacrev for non-scalar outputs, or "
                            "reduce the output (e.g. .sum()).")
        out = outs[0]
        aval = get_aval(out)
        if aval.shape != ():
            raise TypeError(f"{fname}: grad requires a scalar output, got shape {aval.shape} "
                            f"(dtype {aval.dtype.name}). Reduce it (e.g. .sum() or .mean()) or "
                            "use vjp/jacrev.")
        if not dtypes.is_inexact(aval.dtype):
            raise TypeError(f"{fname}: grad requires a floating-point output, got "
                            f"{aval.dtype.name}")
        ct = np.ones((), aval.dtype)[()]
        cts = [ct] + [Zero(get_aval(a).strip_weak_type()) for a in outs[1:]]
        g = [instantiate(x) for x in vjp_flat(cts)]
        g = [_restore_weak(gx, x) for gx, x in zip(g, flat)]
        grads = pytree.tree_unflatten(in_tree, g)
        grads = grads[0] if single else tuple(grads)
        if has_aux:
            aux = pytree.tree_unflatten(info["aux_tree"], outs[1:])
            return (out, aux), grads
        return out, grads

    return vg


def _restore_weak(g, x):
    if isinstance(g, (np.ndarray, np.generic)):   # a cotangent that flowed straight through
        g = Array(np.asarray(g))
    if type(g) is Array and get_aval(x).weak_type and not g._weak:
        return Array(g._value, True)
    return g


def grad(fun, argnums=0, has_aux=False):
    """The gradient of a scalar function with respect to ``argnums``.

    >>> grad(lambda x: x ** 3)(2.0)
    Array(12., dtype=float32, weak_type=True)
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def g(*args, **kwargs):
        if has_aux:
            (_, aux), gr = vg(*args, **kwargs)
            return gr, aux
        return vg(*args, **kwargs)[1]

    return g


def jvp(fun, primals, tangents, has_aux=False):
    """Forward mode: ``(fun(*primals), directional derivative along tangents)``.

    >>> jvp(fnp.sin, (0.0,), (1.0,))
    (Array(0., ...), Array(1., ...))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, e.g. "
                        "jvp(f, (x,), (t,))")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    p_flat, p_tree = pytree.tree_flatten(list(primals))
    t_flat, t_tree = pytree.tree_flatten(list(tangents))
    if p_tree != t_tree:
        raise TypeError(f"jvp: primal structure {p_tree} and tangent structure {t_tree} differ")
    p_flat = [_as_array(p, "jvp") for p in p_flat]
    t_in = []
    for p, t in zip(p_flat, t_flat):
        t = _as_array(t, "jvp")
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise TypeError(f"jvp: tangent shape {ta.shape} does not match primal shape "
                            f"{pa.shape}")
        if dtypes.is_inexact(pa.dtype) and ta.dtype != pa.dtype:
            t = t.astype(pa.dtype) if hasattr(t, "astype") else t
        t_in.append(t if dtypes.is_inexact(pa.dtype) else Zero(pa))
    info = {}

    def flat_fun(*xs):
        out = fun(*pytree.tree_unflatten(p_tree, xs))
        aux_l = []
        if has_aux:
            out, aux = out
            aux_l, info["aux"] = pytree.tree_flatten(aux)
        o, info["tree"] = pytree.tree_flatten(out)
        info["n"] = len(o)
        return list(o) + list(aux_l)

    po, to = ad.jvp_flat(flat_fun, p_flat, t_in, name=f"jvp of {_fun_name(fun)}")
    n = info["n"]
    to = [instantiate(t) for t in to[:n]]
    out = pytree.tree_unflatten(info["tree"], po[:n])
    tan = pytree.tree_unflatten(info["tree"], to)
    if has_aux:
        return out, tan, pytree.tree_unflatten(info["aux"], po[n:])
    return out, tan


def linearize(fun, *primals):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the linearization."""
    from .core.staging import eval_jaxpr
    p_flat, p_tree = pytree.tree_flatten(list(primals))
    p_flat = [_as_array(p, "linearize") for p in p_flat]
    info = {}

    def flat_fun(*xs):
        o, info["tree"] = pytree.tree_flatten(fun(*pytree.tree_unflatten(p_tree, xs)))
        return o

    outs, jaxpr, residuals, known = ad.linearize_flat(flat_fun, p_flat)
    out = pytree.tree_unflatten(info["tree"], outs)

    def f_jvp(*tangents):
        t_flat, t_tree = pytree.tree_flatten(list(tangents))
        if t_tree != p_tree:
            raise TypeError(f"linearize: tangents have structure {t_tree}, expected {p_tree}")
        t_flat = [_as_array(t, "linearize") for t in t_flat]
        for t, p in zip(t_flat, p_flat):
            if get_aval(t).shape != get_aval(p).shape:
                raise TypeError(f"linearize: tangent of shape {get_aval(t).shape} for a primal "
                                f"of shape {get_aval(p).shape}")
        lin = iter(eval_jaxpr(jaxpr, residuals, *t_flat))
        res = [instantiate(k) if k is not None else next(lin) for k in known]
        return pytree.tree_unflatten(info["tree"], res)

    return out, f_jvp


def _std_basis(flat):
    """Identity matrices over all input leaves, shaped ``(total, *leaf.shape)`` per leaf."""
    sizes = [get_aval(x).size for x in flat]
    total = sum(sizes)
    out, start = [], 0
    for x, s in zip(flat, sizes):
        a = get_aval(x)
        eye = np.zeros((total, s), a.dtype)
        eye[start:start + s] = np.eye(s, dtype=a.dtype)
        out.append(Array(eye.reshape((total,) + a.shape)))
        start += s
    return out, total


def jacfwd(fun, argnums=0, has_aux=False):
    """Jacobian by forward mode (vmap of jvp): ``out.shape + in.shape`` per leaf pair."""
    @functools.wraps(fun)
    def jac(*args):
        single, nums = _argnums_tuple(argnums, len(args), "jacfwd")
        diff = [pytree.tree_map(lambda x: _as_array(x, "jacfwd"), args[i]) for i in nums]
        flat, in_tree = pytree.tree_flatten(diff)
        _check_float_inputs(flat, "jacfwd", argnums)
        basis, total = _std_basis(flat)
        info = {}

        def f_flat(*xs):
            d = pytree.tree_unflatten(in_tree, xs)
            new = list(args)
            for i, v in zip(nums, d):
                new[i] = v
            out = fun(*new)
            aux_l = []
            if has_aux:
                out, aux = out
                aux_l, info["aux"] = pytree.tree_flatten(aux)
            o, info["tree"] = pytree.tree_flatten(out)
            info["n"] = len(o)
            return list(o) + aux_l

        def push(*ts):
            po, to = ad.jvp_flat(f_flat, flat, list(ts))
            n = info["n"]
            return [instantiate(t) for t in to[:n]] + list(po)

        res, dims = batching.vmap_flat(push, [0] * len(basis), total, None, basis)
        n = info["n"]
        res = [batching.matchaxis(r, d, 0, total) for r, d in zip(res[:n], dims[:n])]
        return _assemble_jac(res, flat, in_tree, info, single, fwd=True, args=args,
                             has_aux=has_aux, fun=f_flat)

    return jac


def _assemble_jac(res, flat, in_tree, info, single, fwd, args, has_aux, fun):
    """Split stacked JVP rows ``(total, *out_shape)`` into per-input ``out + in`` blocks."""
    from .lax import reshape, slice_in_dim, transpose
    in_avals = [get_aval(x) for x in flat]
    jac_per_out = []
    for r in res:
        out_shape = get_aval(r).shape[1:]
        pieces, start = [], 0
        for a in in_avals:
            piece = reshape(slice_in_dim(r, start, start + a.size, 1, 0), a.shape + out_shape)
            nd_in, nd_out = len(a.shape), len(out_shape)
            pieces.append(transpose(piece, tuple(range(nd_in, nd_in + nd_out)) +
                                    tuple(range(nd_in))))
            start += a.size
        tree_in = pytree.tree_unflatten(in_tree, pieces)
        jac_per_out.append(tree_in[0] if single else tuple(tree_in))
    out = pytree.tree_unflatten(info["tree"], jac_per_out)
    if has_aux:
        outs = fun(*flat)
        return out, pytree.tree_unflatten(info["aux"], outs[info["n"]:])
    return out


def jacrev(fun, argnums=0, has_aux=False):
    """Jacobian by reverse mode (vmap of vjp): ``out.shape + in.shape`` per leaf pair."""
    @functools.wraps(fun)
    def jac(*args):
        from .lax import reshape, slice_in_dim
        single, nums = _argnums_tuple(argnums, len(args), "jacrev")
        diff = [pytree.tree_map(lambda x: _as_array(x, "jacrev"), args[i]) for i in nums]
        flat, in_tree = pytree.tree_flatten(diff)
        _check_float_inputs(flat, "jacrev", argnums)
        info = {}

        def f_flat(*xs):
            d = pytree.tree_unflatten(in_tree, xs)
            new = list(args)
            for i, v in zip(nums, d):
                new[i] = v
            out = fun(*new)
            aux_l = []
            if has_aux:
                out, aux = out
                aux_l, info["aux"] = pytree.tree_flatten(aux)
            o, info["tree"] = pytree.tree_flatten(out)
            info["n"] = len(o)
            return list(o) + aux_l

        outs, vjp_fn = tape.vjp_flat(f_flat, flat, name=f"jacrev({_fun_name(fun)})")
        n = info["n"]
        basis, total = _std_basis(outs[:n])

        def pull(*cts):
            full_cts = list(cts) + [Zero(get_aval(a).strip_weak_type()) for a in outs[n:]]
            return [instantiate(g) for g in vjp_fn(full_cts)]

        rows, dims = batching.vmap_flat(pull, [0] * n, total, None, basis)
        rows = [batching.matchaxis(r, d, 0, total) for r, d in zip(rows, dims)]
        out_avals = [get_aval(o) for o in outs[:n]]
        jac_per_out = []
        start = 0
        for oa in out_avals:
            pieces = []
            for r, x in zip(rows, flat):
                piece = slice_in_dim(r, start, start + oa.size, 1, 0)
                pieces.append(reshape(piece, oa.shape + get_aval(x).shape))
            tree_in = pytree.tree_unflatten(in_tree, pieces)
            jac_per_out.append(tree_in[0] if single else tuple(tree_in))
            start += oa.size
        out = pytree.tree_unflatten(info["tree"], jac_per_out)
        if has_aux:
            return out, pytree.tree_unflatten(info["aux"], outs[n:])
        return out

    return jac


def hessian(fun, argnums=0, has_aux=False):
    """The Hessian: ``jacfwd(jacrev(fun))``."""
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


# ----------------------------------------------------------------------------- vmap

def _flatten_axes(what, tree_def, axes, fname):
    """Broadcast an axes prefix tree to the leaves of ``tree_def``."""
    try:
        proxy = pytree.tree_unflatten(tree_def, [object()] * tree_def.num_leaves)
        leaves_axes = []
        ax_leaves, ax_tree = pytree.tree_flatten(axes, is_leaf=lambda x: x is None)
        subtrees = ax_tree.flatten_up_to(proxy)
        for a, sub in zip(ax_leaves, subtrees):
            n = pytree.tree_structure(sub).num_leaves
            leaves_axes.extend([a] * n)
        return leaves_axes
    except ValueError as e:
        raise ValueError(
            f"{fname}: {what} specification {axes!r} must be a tree prefix of the "
            f"corresponding value, whose structure is {tree_def}: {e}") from None


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None):
    """Vectorize ``fun`` over a batch axis of its arguments.

    >>> xs, w = fnp.ones((5, 3)), fnp.ones((3, 2))
    >>> vmap(lambda x, w: x @ w, in_axes=(0, None))(xs, w).shape
    (5, 2)
    """
    fname = f"vmap({_fun_name(fun)})"
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple, dict)) or
            pytree.tree_structure(in_axes).num_leaves >= 0):
        raise TypeError(f"{fname}: in_axes must be an int, None or a tuple, got {in_axes!r}")

    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"{fname}: in_axes is a tuple of length {len(in_axes)} but the function was "
                f"called with {len(args)} positional argument(s); in_axes must have one entry "
                "per positional argument (or be a single int/None)")
        flat_args, in_tree = pytree.tree_flatten(args)
        axes = _flatten_axes("in_axes", in_tree, in_axes if isinstance(in_axes, tuple)
                             else (in_axes,) * len(args), fname) if args else []
        kw_flat, kw_tree = pytree.tree_flatten(kwargs)
        flat = flat_args + kw_flat
        axes = list(axes) + [0] * len(kw_flat)
        # normalize, validate, find the size
        sizes = {}
        norm = []
        paths = [p for p, _ in pytree.tree_flatten_with_path(args)[0]] + [
            p for p, _ in pytree.tree_flatten_with_path(kwargs)[0]]
        for i, (x, a) in enumerate(zip(flat, axes)):
            if a is None:
                norm.append(None)
                continue
            if not isinstance(a, int):
                raise TypeError(f"{fname}: in_axes entries must be ints or None, got {a!r}")
            nd = get_aval(x).ndim if not isinstance(x, (list, tuple)) else 0
            if not -nd <= a < nd:
                where = ("argument " + pytree.keystr(paths[i])) if i < len(paths) else "argument"
                raise ValueError(
                    f"{fname}: in_axes={a} is out of range for {where} of rank {nd} "
                    f"(shape {get_aval(x).shape}); use an axis in [-{nd}, {nd})"
                    if nd else f"{fname}: in_axes={a} given for {where}, a scalar (rank 0) "
                    "which has no axis to map over; use in_axes=None for it")
            a = a % nd
            norm.append(a)
            sizes.setdefault(get_aval(x).shape[a], []).append(
                pytree.keystr(paths[i]) if i < len(paths) else f"arg{i}")
        if len(sizes) > 1:
            detail = "; ".join(f"size {s} for {', '.join(ps)}" for s, ps in sizes.items())
            raise ValueError(f"{fname} got inconsistent sizes for the mapped axis: {detail}")
        if sizes:
            n = next(iter(sizes))
            if axis_size is not None and axis_size != n:
                raise ValueError(f"{fname}: axis_size={axis_size} but the mapped inputs have "
                                 f"size {n}")
        elif axis_size is not None:
            n = axis_size
        else:
            raise ValueError(f"{fname}: no argument is mapped (all in_axes are None); give "
                             "axis_size to say how many times to map")
        flat = [_as_array(x, fname) if a is not None else x for x, a in zip(flat, norm)]
        info = {}

        def flat_fun(*xs):
            a_part = pytree.tree_unflatten(in_tree, xs[:len(flat_args)])
            k_part = pytree.tree_unflatten(kw_tree, xs[len(flat_args):])
            o, info["tree"] = pytree.tree_flatten(fun(*a_part, **k_part))
            return o

        outs, dims = batching.vmap_flat(flat_fun, norm, n, axis_name, flat, name=fname)
        oax = _flatten_axes("out_axes", info["tree"], out_axes, fname)
        res = []
        for o, d, a in zip(outs, dims, oax):
            if a is None:
                if d is not None:
                    raise ValueError(f"{fname}: out_axes=None for an output that depends on "
                                     "the mapped axis; only unbatched outputs can have "
                                     "out_axes=None")
                res.append(o)
                continue
            nd = get_aval(o).ndim + (1 if d is None else 0)
            a = a % nd if nd else 0
            res.append(batching.matchaxis(o, d, a, n))
        return pytree.tree_unflatten(info["tree"], res)

    return batched


# ----------------------------------------------------------------------------- make_jaxpr / jit

def _split_static(fun, args, kwargs, static_argnums, static_argnames, fname, optional=()):
    nargs = len(args)
    static_idx = set()
    for i in static_argnums:
        if i in optional and i >= nargs:
            continue      # a static_argnames parameter not passed by position
        if not -nargs <= i < nargs:
            raise ValueError(f"{fname}: static_argnums={static_argnums} but the function was "
                             f"called with {nargs} positional argument(s)")
        static_idx.add(i % nargs)
    statics = tuple((i, args[i]) for i in sorted(static_idx))
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static_idx)
    skw = tuple(sorted((k, v) for k, v in kwargs.items() if k in static_argnames))
    dkw = {k: v for k, v in kwargs.items() if k not in static_argnames}
    for _, v in statics + skw:
        try:
            hash(v)
        except TypeError:
            raise TypeError(
                f"{fname}: static argument {v!r} of type {type(v).__name__} is not hashable; "
                "static arguments must be hashable (use a tuple instead of a list, or pass "
                "arrays as regular arguments)") from None
    return statics, dyn_args, skw, dkw


def _rebuild(args_dyn, statics, n):
    out, it = [], iter(args_dyn)
    sd = dict(statics)
    for i in range(n):
        out.append(sd[i] if i in sd else next(it))
    return out


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    """Trace ``fun`` and return a function giving its ``ClosedJaxpr``.

    >>> print(make_jaxpr(fnp.sin)(fnp.ones(3)))
    { lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) }
    """
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun)
    def mk(*args, **kwargs):
        statics, dyn, _, dkw = _split_static(fun, args, kwargs, static_argnums, (),
                                             "make_jaxpr")
        flat, in_tree = pytree.tree_flatten((dyn, dkw))
        info = {}

        def flat_fun(*xs):
            d, k = pytree.tree_unflatten(in_tree, xs)
            o, info["tree"] = pytree.tree_flatten(fun(*_rebuild(d, statics, len(args)), **k))
            return o

        closed = trace_to_jaxpr(flat_fun, [shaped_abstractify(x) for x in flat],
                                name=_fun_name(fun))
        if return_shape:
            shapes = pytree.tree_unflatten(info["tree"], closed.out_avals)
            return closed, shapes
        return closed

    return mk


def _leaf_key(x):
    t = type(x)
    if t is Array:
        v = x._value
        return (v.shape, v.dtype, x._weak)
    if t is np.ndarray:
        return (x.shape, x.dtype, False)
    if t in (float, int, bool, complex):
        return t
    if isinstance(x, Tracer):
        return x.aval
    return (get_aval(x).shape, get_aval(x).dtype, False)


class _CacheEntry:
    __slots__ = ("closed", "out_tree", "executable", "cacheable", "lock", "donated")

    def __init__(self, closed, out_tree, cacheable, donated):
        self.closed = closed
        self.out_tree = out_tree
        self.executable = None
        self.cacheable = cacheable
        self.lock = threading.Lock()
        self.donated = donated


class Lowered:
    """The traced program of one ``jit`` signature: ``as_text()`` shows the jaxpr."""

    def __init__(self, entry, name):
        self._entry = entry
        self._name = name

    def as_text(self) -> str:
        return str(self._entry.closed)

    @property
    def jaxpr(self) -> ClosedJaxpr:
        return self._entry.closed

    def compile(self):
        return Compiled(self._entry, self._name)


class Compiled:
    """A compiled program: ``as_text()`` shows the generated source."""

    def __init__(self, entry, name):
        self._entry = entry
        self._name = name
        self._exe = _executable(entry)

    def as_text(self) -> str:
        return self._exe.source

    def __call__(self, *flat_args):
        return self._exe(*flat_args)


def _executable(entry):
    exe = entry.executable
    if exe is None:
        with entry.lock:
            if entry.executable is None:
                from .compiler import compile_jaxpr
                entry.executable = compile_jaxpr(entry.closed, entry.donated)
            exe = entry.executable
    return exe


_PY_SCALARS = (bool, int, float, complex)


class JitWrapped:
    """A jit-compiled function (see ``jit``)."""

    def __init__(self, fun, static_argnums, static_argnames, donate_argnums, cache_size=256):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._static_argnums = tuple(static_argnums)
        self._static_argnames = tuple(static_argnames)
        self._donate = tuple(donate_argnums)
        self._cache = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._name = _fun_name(fun)
        self._fast = {}   # fast signature -> call(flat) (see funcgrad.compiler.dispatch)
        self._optional_static = frozenset()
        self.trace_count = 0

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def _entry(self, args, kwargs):
        if self._static_argnums or self._static_argnames:
            statics, dyn, skw, dkw = _split_static(self._fun, args, kwargs, self._static_argnums,
                                                   self._static_argnames, f"jit({self._name})",
                                                   self._optional_static)
        else:
            statics, dyn, skw, dkw = (), args, (), kwargs
        flat, in_tree = pytree.tree_flatten((dyn, dkw))
        key = (in_tree, tuple(_leaf_key(x) for x in flat), statics, skw,
               config.enable_x64, config.debug_nans, config.debug_infs, config.default_backend)
        try:
            entry = self._cache.get(key)
        except TypeError:
            raise TypeError(f"jit({self._name}): arguments must be arrays or pytrees of arrays; "
                            "pass other values through static_argnums") from None
        if entry is not None:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
            return entry, flat
        entry = self._trace(flat, in_tree, statics, skw, len(args))
        if entry.cacheable:
            with self._lock:
                self._cache[key] = entry
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return entry, flat

    def _trace(self, flat, in_tree, statics, skw, nargs):
        info = {}
        fun = self._fun

        def flat_fun(*xs):
            d, k = pytree.tree_unflatten(in_tree, xs)
            k = dict(k, **dict(skw))
            o, info["tree"] = pytree.tree_flatten(fun(*_rebuild(d, statics, nargs), **k))
            return o

        for x in flat:
            if not isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float,
                                  complex)) and not hasattr(x, "__cuda_array_interface__"):
                raise TypeError(
                    f"jit({self._name}): argument of type {type(x).__name__} is not a valid "
                    "array type; mark it static with static_argnums/static_argnames")
        self.trace_count += 1
        closed = trace_to_jaxpr(flat_fun, [shaped_abstractify(x) for x in flat],
                                name=f"jit({self._name})")
        cacheable = not any(isinstance(c, Tracer) for c in closed.consts)
        donated = self._donated_mask(in_tree, statics, nargs)
        return _CacheEntry(closed, info["tree"], cacheable, donated)

    def _donated_mask(self, in_tree, statics, nargs):
        n = in_tree.num_leaves
        if not self._donate:
            return (False,) * n
        # dynamic positional args come first in the flat list, in order
        (dyn_tree, kw_tree) = in_tree.children
        mask = []
        static_idx = {i for i, _ in statics}
        dyn_positions = [i for i in range(nargs) if i not in static_idx]
        for pos, sub in zip(dyn_positions, dyn_tree.children):
            mask.extend([pos in self._donate] * sub.num_leaves)
        mask.extend([False] * kw_tree.num_leaves)
        return tuple(mask)

    def __call__(self, *args, **kwargs):
        if config.disable_jit:
            return self._fun(*args, **kwargs)
        fkey = None
        if not kwargs and _state.dynamic is None:
            # thin path of a cached call (funcgrad.compiler.dispatch)
            fflat = []
            fkey = _fast_key(args, self._static_argnums, fflat)
            if fkey is not None:
                hit = self._fast.get(fkey)
                if hit is not None:
                    return hit(fflat)
        entry, flat = self._entry(args, kwargs)
        st = _state
        if st.dynamic is None and not any(isinstance(x, Tracer) for x in flat):
            exe = entry.executable or _executable(entry)
            if fkey is not None and entry.cacheable:
                if len(self._fast) >= self._cache_size:
                    self._fast.clear()
                self._fast[fkey] = _make_fast_call(exe._fn, entry.out_tree)
            outs = exe(*flat)
        else:
            outs = bind_call(jit_p, entry.closed, flat, name=self._name, donated=entry.donated)
        return pytree.tree_unflatten(entry.out_tree, outs)

    def lower(self, *args, **kwargs) -> Lowered:
        """Trace for these arguments; ``.as_text()`` is the jaxpr, ``.compile()`` compiles."""
        entry, _ = self._entry(args, kwargs)
        return Lowered(entry, self._name)

    def clear_cache(self):
        with self._lock:
            self._cache.clear()
            self._fast.clear()

    def _cache_size_now(self):
        return len(self._cache)


def jit(fun=None, static_argnums=(), static_argnames=(), donate_argnums=()):
    """Compile ``fun``: traced once per abstract signature, run as generated fused code.

    >>> f = jit(lambda x: fnp.tanh(x) * 2.0)
    >>> f(fnp.ones(3))
    Array([1.5231884, 1.5231884, 1.5231884], dtype=float32)
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, donate_argnums=donate_argnums)
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    if isinstance(donate_argnums, int):
        donate_argnums = (donate_argnums,)
    if not callable(fun):
        raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
    try:
        params = [n for n, p in inspect.signature(fun).parameters.items()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    # a static argument may be passed by position or by name: know both
    from_names = {params.index(n) for n in static_argnames if n in params} - set(static_argnums)
    static_argnums = tuple(sorted(set(static_argnums) | from_names))
    static_argnames = tuple(sorted(set(static_argnames) | {
        params[i] for i in static_argnums if 0 <= i < len(params)}))
    w = JitWrapped(fun, static_argnums, static_argnames, donate_argnums)
    w._optional_static = frozenset(from_names)
    return w


# ----------------------------------------------------------------------------- checkpoint

def checkpoint(fun, prevent_cse=True, policy=None, static_argnums=()):
    """Recompute ``fun``'s forward values during the backward pass instead of storing them.

    >>> loss = lambda p, x: fnp.sum(checkpoint(mlp)(p, x))
    """
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun)
    def remat_fun(*args, **kwargs):
        statics, dyn, _, dkw = _split_static(fun, args, kwargs, static_argnums, (),
                                             "checkpoint")
        flat, in_tree = pytree.tree_flatten((dyn, dkw))
        if _state.dynamic is None and not any(isinstance(x, Tracer) for x in flat):
            return fun(*args, **kwargs)
        info = {}

        def flat_fun(*xs):
            d, k = pytree.tree_unflatten(in_tree, xs)
            o, info["tree"] = pytree.tree_flatten(fun(*_rebuild(d, statics, len(args)), **k))
            return o

        closed = trace_to_jaxpr(flat_fun, [shaped_abstractify(x) for x in flat],
                                name=f"checkpoint({_fun_name(fun)})")
        outs = bind_call(remat_p, closed, flat, name=_fun_name(fun))
        return pytree.tree_unflatten(info["tree"], outs)

    return remat_fun


remat = checkpoint


# ----------------------------------------------------------------------------- devices

def device_put(x, device=None):
    """Place every leaf of ``x`` on ``device`` (default: the default device).

    >>> device_put(np.arange(3)).device
    CpuDevice(id=0)
    """
    if isinstance(device, str):
        device = devices(device)[0]
    dev = device or devices()[0]
    if not isinstance(dev, Device):
        raise TypeError(f"device_put: expected a Device, got {type(device).__name__}")

    def put(leaf):
        if isinstance(leaf, Tracer):
            return leaf
        if type(leaf) is Array:
            if leaf.device == dev:
                return leaf
            return Array(to_device_raw(leaf._value, dev), leaf._weak)
        a = _as_array(leaf, "device_put")
        return Array(to_device_raw(a._value, dev), a._weak)

    return pytree.tree_map(put, x)


def block_until_ready(x):
    """Wait for every array leaf of ``x``; returns ``x``."""
    for leaf in pytree.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def eval_shape(fun, *args, **kwargs):
    """Output shapes/dtypes of ``fun`` without running it (a pytree of ``ShapedArray``)."""
    return make_jaxpr(fun, return_shape=True)(*args, **kwargs)[1]


ShapeDtypeStruct = ShapedArray
