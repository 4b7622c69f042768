"""``custom_jvp`` and ``custom_vjp``: user-defined differentiation rules.

Both trace the function to a jaxpr and bind a primitive that carries the user's rule as
a Python callable on flat lists.  Under ``vmap`` the rule itself is vmapped; under
``jit`` the primitive is staged and its rule applied when the jaxpr is differentiated.
"""
from __future__ import annotations

import functools
import inspect

from ..core import pytree
from ..core.primitive import Primitive
from ..core.staging import eval_jaxpr, shaped_abstractify, trace_to_jaxpr
from ..core.trace import Tracer, _state
from . import ad, batching
from .ad_util import Zero, instantiate
from .call import hoist_consts


def _resolve_args(fun, args, kwargs):
    if not kwargs:
        return args
    sig = inspect.signature(fun)
    ba = sig.bind(*args, **kwargs)
    ba.apply_defaults()
    return ba.args


def _needs_trace(flat):
    return _state.dynamic is not None or any(isinstance(x, Tracer) for x in flat)


def _split_nondiff(args, nondiff_argnums):
    nondiff = [args[i] for i in nondiff_argnums]
    diff_idx = [i for i in range(len(args)) if i not in nondiff_argnums]
    return nondiff, diff_idx, [args[i] for i in diff_idx]


def _rebuild_args(nargs, nondiff_argnums, nondiff, diff_idx, diff):
    out = [None] * nargs
    for i, v in zip(nondiff_argnums, nondiff):
        out[i] = v
    for i, v in zip(diff_idx, diff):
        out[i] = v
    return out


def _check_const_tangents(tangents, num_consts, what):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise TypeError(
            f"{what}: the function closes over a value that is being differentiated. "
            "Pass that value as an explicit argument of the decorated function instead.")


def _batch_everything(args, dims):
    size = batching.axis_size_of(args, dims)
    return size, [batching.bdim_at_front(a, d, size) for a, d in zip(args, dims)]


def _vmap_flat_fn(fn, size):
    """Batch a flat-list function whose every input and output is batched at 0 (over the
    axis whose batching rule is running, so collectives inside see its name)."""
    name = batching.current_rule_axis_name()

    def batched(*args):
        outs, dims = batching.vmap_flat(lambda *a: fn(*a), [0] * len(args), size,
                                        name, args)
        return [batching.matchaxis(o, d, 0, size) for o, d in zip(outs, dims)]
    return batched


# ----------------------------------------------------------------------------- custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.call_jaxpr_params = ("call_jaxpr",)


@custom_jvp_call_p.def_impl
def _cjvp_impl(*args, call_jaxpr, jvp_fun, num_consts):
    return eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


@custom_jvp_call_p.def_abstract_eval
def _cjvp_abstract(*avals, call_jaxpr, jvp_fun, num_consts):
    return list(call_jaxpr.out_avals)


def _cjvp_jvp(primals, tangents, *, call_jaxpr, jvp_fun, num_consts):
    _check_const_tangents(tangents, num_consts, "custom_jvp")
    p = primals[num_consts:]
    t = [instantiate(x) for x in tangents[num_consts:]]
    consts = primals[:num_consts]
    outs, t_outs = jvp_fun(consts, p, t)
    return outs, t_outs


custom_jvp_call_p.jvp = _cjvp_jvp


def _cjvp_batch(args, dims, *, call_jaxpr, jvp_fun, num_consts):
    from .call import batch_jaxpr
    size, args = _batch_everything(args, dims)
    jc, consts, _ = batch_jaxpr(call_jaxpr, size, [True] * len(args), out_force=True)

    def batched_jvp(cs, ps, ts):
        n_c, n_p = len(cs), len(ps)

        def flat(*a):
            o, to = jvp_fun(list(a[:n_c]), list(a[n_c:n_c + n_p]), list(a[n_c + n_p:]))
            return list(o) + list(to)
        res = _vmap_flat_fn(flat, size)(*cs, *ps, *ts)
        n_out = len(res) // 2
        return res[:n_out], res[n_out:]

    outs = custom_jvp_call_p.bind(*args, call_jaxpr=_inline_consts(jc, consts),
                                  jvp_fun=batched_jvp, num_consts=num_consts)
    return outs, [0] * len(outs)


def _inline_consts(jc, consts):
    from ..core.ir import ClosedJaxpr, Jaxpr
    if not consts:
        return jc
    j = jc.jaxpr
    n = len(consts)
    return ClosedJaxpr(Jaxpr(j.invars[:n], j.invars[n:], j.outvars, j.eqns), consts)


custom_jvp_call_p.batch = _cjvp_batch
custom_jvp_call_p.test_spec = {"skip": "covered by tests/test_custom.py"}


class custom_jvp:
    """Give ``fun`` a custom JVP rule.

    >>> @custom_jvp
    ... def f(x):
    ...     return fnp.sin(x)
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return f(x), fnp.cos(x) * t
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp, symbolic_zeros=False):
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *tangent_fns):
        """Set one ``fn(tangent, primal_out, *primals)`` per argument (None = zero)."""
        def jvp(primals, tangents):
            out = self(*primals)
            acc = None
            for fn, t in zip(tangent_fns, tangents):
                if fn is None:
                    continue
                piece = fn(t, out, *primals)
                acc = piece if acc is None else pytree.tree_map(lambda a, b: a + b, acc, piece)
            if acc is None:
                acc = pytree.tree_map(lambda o: o * 0, out)
            return out, acc
        self.jvp = jvp
        return jvp

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(f"custom_jvp function {self.__name__} has no JVP rule; "
                                 "define one with @{0}.defjvp".format(self.__name__))
        args = _resolve_args(self.fun, args, kwargs)
        nondiff, diff_idx, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = pytree.tree_flatten(diff)
        if not _needs_trace(flat):
            return self.fun(*args)
        for x in nondiff:
            if any(isinstance(l, Tracer) for l in pytree.tree_leaves(x)):
                raise TypeError("custom_jvp: a traced value was passed in a nondiff_argnums "
                                "position; those arguments must be static Python values")
        out_tree = []
        nargs = len(args)
        fun, jvp_user, nd_nums = self.fun, self.jvp, self.nondiff_argnums

        def flat_fun(*xs):
            d = pytree.tree_unflatten(in_tree, xs)
            out = fun(*_rebuild_args(nargs, nd_nums, nondiff, diff_idx, d))
            o, t = pytree.tree_flatten(out)
            out_tree[:] = [t]
            return o

        closed = trace_to_jaxpr(flat_fun, [shaped_abstractify(x) for x in flat],
                                name=self.__name__)
        jc, consts = hoist_consts(closed)

        def jvp_fun(cs, ps, ts):
            del cs
            pd = pytree.tree_unflatten(in_tree, ps)
            td = pytree.tree_unflatten(in_tree, ts)
            # JAX's signature: jvp(*nondiff_args, primals, tangents)
            out, tout = jvp_user(*nondiff, tuple(pd), tuple(td))
            o, t1 = pytree.tree_flatten(out)
            to, t2 = pytree.tree_flatten(tout)
            if t1 != out_tree[0] or t2 != out_tree[0]:
                raise TypeError(f"custom_jvp rule of {self.__name__} returned outputs of "
                                f"structure {t1} and tangents {t2}, expected {out_tree[0]}")
            return o, to

        outs = custom_jvp_call_p.bind(*consts, *flat, call_jaxpr=jc, jvp_fun=jvp_fun,
                                      num_consts=len(consts))
        return pytree.tree_unflatten(out_tree[0], outs)


# ----------------------------------------------------------------------------- custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.call_jaxpr_params = ("call_jaxpr",)
custom_lin_p = Primitive("custom_lin", multiple_results=True)


@custom_vjp_call_p.def_impl
def _cvjp_impl(*args, call_jaxpr, fwd, bwd, num_consts):
    return eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


@custom_vjp_call_p.def_abstract_eval
def _cvjp_abstract(*avals, call_jaxpr, fwd, bwd, num_consts):
    return list(call_jaxpr.out_avals)


def _cvjp_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts):
    _check_const_tangents(tangents, num_consts, "custom_vjp")
    ps = primals[num_consts:]
    outs, res = fwd(*ps)
    ts = [instantiate(t) for t in tangents[num_consts:]]
    t_out = custom_lin_p.bind(*res, *ts, num_res=len(res), bwd=bwd,
                              out_avals=tuple(a.strip_weak_type() for a in call_jaxpr.out_avals))
    return outs, t_out


custom_vjp_call_p.jvp = _cvjp_jvp


def _cvjp_batch(args, dims, *, call_jaxpr, fwd, bwd, num_consts):
    from .call import batch_jaxpr
    size, args = _batch_everything(args, dims)
    jc, consts, _ = batch_jaxpr(call_jaxpr, size, [True] * len(args), out_force=True)
    n_out = len(call_jaxpr.out_avals)
    nres = []

    def bfwd(*ps):
        def flat(*a):
            o, r = fwd(*a)
            nres[:] = [len(r)]
            return list(o) + list(r)
        res = _vmap_flat_fn(flat, size)(*ps)
        return res[:n_out], res[n_out:]

    def bbwd(res, cts):
        nr = len(res)
        return _vmap_flat_fn(lambda *a: bwd(list(a[:nr]), list(a[nr:])), size)(*res, *cts)

    outs = custom_vjp_call_p.bind(*args, call_jaxpr=_inline_consts(jc, consts), fwd=bfwd,
                                  bwd=bbwd, num_consts=num_consts)
    return outs, [0] * len(outs)


custom_vjp_call_p.batch = _cvjp_batch
custom_vjp_call_p.test_spec = {"skip": "covered by tests/test_custom.py"}


@custom_lin_p.def_impl
def _custom_lin_impl(*args, num_res, bwd, out_avals):
    raise TypeError("forward-mode differentiation (jvp, jacfwd, hessian's inner jacfwd) of a "
                    "custom_vjp function is not supported; use custom_jvp for a rule that "
                    "works in both modes, or jacrev/grad")


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract(*avals, num_res, bwd, out_avals):
    return list(out_avals)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res = args[:num_res]
    cts = [instantiate(c) for c in cts]
    cts_in = bwd(list(res), cts)
    return [None] * num_res + [Zero.from_value(a) if c is None else c
                               for a, c in zip(args[num_res:], cts_in)]


custom_lin_p.transpose = _custom_lin_transpose
custom_lin_p.linear = True


def _custom_lin_batch(args, dims, *, num_res, bwd, out_avals):
    from ..core.abstract import ShapedArray
    size, args = _batch_everything(args, dims)

    def bbwd(res, cts):
        nr = len(res)
        return _vmap_flat_fn(lambda *a: bwd(list(a[:nr]), list(a[nr:])), size)(*res, *cts)

    avals = tuple(ShapedArray((size,) + a.shape, a.dtype) for a in out_avals)
    outs = custom_lin_p.bind(*args, num_res=num_res, bwd=bbwd, out_avals=avals)
    return outs, [0] * len(outs)


custom_lin_p.batch = _custom_lin_batch
# forward mode through a custom_vjp is unsupported (as JAX): say so clearly
custom_lin_p.jvp = lambda primals, tangents, **params: _custom_lin_impl(*primals, **params)
custom_lin_p.test_spec = {"skip": "internal to custom_vjp"}


class custom_vjp:
    """Give ``fun`` a custom VJP: ``fwd(*args) -> (out, residuals)``,
    ``bwd(residuals, cotangent) -> tuple of cotangents, one per argument``.

    >>> @custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> _ = clip_grad.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1, 1),))
    >>> funcgrad.grad(lambda x: 5.0 * clip_grad(x))(2.0)   # cotangent 5 clipped to 1
    Array(1., dtype=float32, weak_type=True)
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd, symbolic_zeros=False):
        """Set the forward and backward functions."""
        self.fwd, self.bwd = fwd, bwd
        return self

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"custom_vjp function {self.__name__} has no VJP rule; "
                                 f"define it with {self.__name__}.defvjp(fwd, bwd)")
        args = _resolve_args(self.fun, args, kwargs)
        nondiff, diff_idx, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = pytree.tree_flatten(diff)
        if not _needs_trace(flat):
            return self.fun(*args)
        nargs, nd_nums = len(args), self.nondiff_argnums
        fun, fwd_user, bwd_user, name = self.fun, self.fwd, self.bwd, self.__name__
        out_tree, res_tree = [], []

        def flat_fun(*xs):
            d = pytree.tree_unflatten(in_tree, xs)
            o, t = pytree.tree_flatten(fun(*_rebuild_args(nargs, nd_nums, nondiff, diff_idx, d)))
            out_tree[:] = [t]
            return o

        closed = trace_to_jaxpr(flat_fun, [shaped_abstractify(x) for x in flat], name=name)
        jc, consts = hoist_consts(closed)

        def fwd_flat(*ps):
            d = pytree.tree_unflatten(in_tree, ps)
            res = fwd_user(*_rebuild_args(nargs, nd_nums, nondiff, diff_idx, d))
            if not (isinstance(res, tuple) and len(res) == 2):
                raise TypeError(f"custom_vjp fwd of {name} must return (output, residuals), "
                                f"got {type(res).__name__}")
            out, r = res
            o, t = pytree.tree_flatten(out)
            if t != out_tree[0]:
                raise TypeError(f"custom_vjp fwd of {name} returned output structure {t}, "
                                f"but the function returns {out_tree[0]}")
            rl, rt = pytree.tree_flatten(r)
            res_tree[:] = [rt]
            return o, rl

        def bwd_flat(res, cts):
            r = pytree.tree_unflatten(res_tree[0], res)
            ct = pytree.tree_unflatten(out_tree[0], cts)
            out = bwd_user(*nondiff, r, ct) if nondiff else bwd_user(r, ct)
            if not isinstance(out, tuple) or len(out) != len(diff):
                raise TypeError(f"custom_vjp bwd of {name} must return a tuple with one "
                                f"cotangent per differentiable argument ({len(diff)}), got "
                                f"{type(out).__name__}"
                                f"{' of length %d' % len(out) if isinstance(out, tuple) else ''}")
            flat_ct = []
            for arg, c in zip(diff, out):
                leaves = pytree.tree_leaves(arg)
                if c is None:
                    flat_ct.extend([None] * len(leaves))
                else:
                    flat_ct.extend(pytree.tree_structure(arg).flatten_up_to(c))
            return flat_ct

        outs = custom_vjp_call_p.bind(*consts, *flat, call_jaxpr=jc, fwd=fwd_flat, bwd=bwd_flat,
                                      num_consts=len(consts))
        return pytree.tree_unflatten(out_tree[0], outs)
