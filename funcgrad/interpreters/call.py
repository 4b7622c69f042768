"""Call primitives: ``pjit`` (a jitted call) and ``checkpoint`` (rematerialization).

Both hold a ``ClosedJaxpr`` without constants (constants are hoisted to leading
arguments by ``bind_call``).  Their rules transform the inner jaxpr, so a jitted function
stays one compiled call under ``grad``, ``vmap`` and ``jit``.  The compiler replaces
``pjit``'s eager ``impl`` with compiled code.
"""
from __future__ import annotations

import weakref

from ..core.abstract import ShapedArray
from ..core.ir import ClosedJaxpr, Eqn, Jaxpr, Var
from ..core.primitive import Primitive
from ..core.staging import convert_constvars_to_invars, eval_jaxpr, jaxpr_as_fun, trace_to_jaxpr
from ..core.trace import get_aval
from . import ad, batching, partial_eval as pe
from .ad_util import Zero, instantiate

# ----------------------------------------------------------------------------- jaxpr transforms

_jvp_cache = weakref.WeakKeyDictionary()
_batch_cache = weakref.WeakKeyDictionary()
_transpose_cache = weakref.WeakKeyDictionary()
_pe_cache = weakref.WeakKeyDictionary()


def _cached(cache, closed, key, build):
    d = cache.get(closed)
    if d is None:
        d = cache[closed] = {}
    r = d.get(key)
    if r is None:
        r = d[key] = build()
    return r


def partial_eval_jaxpr_cached(closed: ClosedJaxpr, unknowns, recompute):
    """``pe.partial_eval_jaxpr`` remembered per jaxpr and unknowns pattern, so the known
    and unknown jaxprs of a call are the same objects every time (their compiled code and
    transposes are then cached too: ``grad(jit(f))`` does not recompile per call)."""
    return _cached(_pe_cache, closed, (tuple(unknowns), recompute),
                   lambda: pe.partial_eval_jaxpr(closed, list(unknowns), recompute=recompute))


def hoist_consts(closed: ClosedJaxpr):
    """``(ClosedJaxpr with the constants turned into leading inputs, consts)``."""
    if not closed.consts:
        return closed, []
    j, consts = convert_constvars_to_invars(closed)
    return ClosedJaxpr(j, []), consts


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros, instantiate_out=False):
    """``(jvp_closed, out_nonzeros)``: ``jvp_closed(*primals, *nonzero_tangents)`` returns
    ``primal_outs + nonzero tangent outs``."""
    nonzeros = tuple(nonzeros)
    key = (nonzeros, instantiate_out)

    def build():
        n = len(closed.in_avals)
        avals = list(closed.in_avals) + [a.strip_weak_type() for a, nz in
                                         zip(closed.in_avals, nonzeros) if nz]
        out_nz = []

        def f(*args):
            primals, tans = args[:n], iter(args[n:])
            tangents = [next(tans) if nz else Zero(a.strip_weak_type())
                        for a, nz in zip(closed.in_avals, nonzeros)]
            p_out, t_out = ad.jvp_flat(jaxpr_as_fun(closed), primals, tangents)
            out_nz[:] = [instantiate_out or type(t) is not Zero for t in t_out]
            return list(p_out) + [instantiate(t) for t, nz in zip(t_out, out_nz) if nz]

        jc = trace_to_jaxpr(f, avals, name="jvp")
        return hoist_consts(jc), tuple(out_nz)

    (jc, consts), out_nz = _cached(_jvp_cache, closed, key, build)
    return jc, consts, out_nz


def batch_jaxpr(closed: ClosedJaxpr, axis_size, in_batched, out_force=False, axis_name="inherit"):
    """``(batched_closed, consts, out_batched)``; batched inputs and outputs at axis 0.

    ``axis_name`` is the name of the vmap being applied, so collectives inside the jaxpr
    (``psum(x, name)``) see it.
    """
    if axis_name == "inherit":
        axis_name = batching.current_rule_axis_name()
    in_batched = tuple(in_batched)
    key = (axis_size, in_batched, out_force if not isinstance(out_force, list) else
           tuple(out_force), axis_name)

    def build():
        avals = [ShapedArray((axis_size,) + a.shape, a.dtype, a.weak_type) if b else a
                 for a, b in zip(closed.in_avals, in_batched)]
        out_b = []

        def f(*args):
            outs, dims = batching.vmap_flat(jaxpr_as_fun(closed),
                                            [0 if b else None for b in in_batched],
                                            axis_size, axis_name, args)
            force = out_force if isinstance(out_force, (list, tuple)) else [out_force] * len(outs)
            out_b[:] = [d is not None or fo for d, fo in zip(dims, force)]
            return [batching.matchaxis(o, d, 0, axis_size) if b else o
                    for o, d, b in zip(outs, dims, out_b)]

        jc = trace_to_jaxpr(f, avals, name="vmap")
        return hoist_consts(jc), tuple(out_b)

    (jc, consts), out_b = _cached(_batch_cache, closed, key, build)
    return jc, consts, out_b


def transpose_jaxpr(closed: ClosedJaxpr, linear):
    """A jaxpr ``(*nonlinear_ins, *cts_out) -> cts for the linear inputs``."""
    linear = tuple(linear)

    def build():
        lin_avals = [a for a, l in zip(closed.in_avals, linear) if l]
        nonlin_avals = [a for a, l in zip(closed.in_avals, linear) if not l]
        ct_avals = [a.strip_weak_type() for a in closed.out_avals]

        def f(*args):
            nl, cts = args[:len(nonlin_avals)], args[len(nonlin_avals):]
            it = iter(nl)
            ins = [ad.UndefinedPrimal(a) if l else next(it)
                   for a, l in zip(closed.in_avals, linear)]
            res = ad.backward_pass(closed.jaxpr, closed.consts, ins, list(cts))
            return [instantiate(c) for c, l in zip(res, linear) if l]

        jc = trace_to_jaxpr(f, nonlin_avals + ct_avals, name="transpose")
        del lin_avals
        return hoist_consts(jc)

    return _cached(_transpose_cache, closed, linear, build)


# ----------------------------------------------------------------------------- call primitives

def uses_axis(closed, name) -> bool:
    """Whether a collective inside ``closed`` (at any depth) names the axis ``name``."""
    if name is None:
        return False
    for e in closed.jaxpr.eqns:
        if e.params.get("axis_name") == name or (
                isinstance(e.params.get("axis_name"), tuple) and name in e.params["axis_name"]):
            return True
        for k, v in e.params.items():
            subs = v if isinstance(v, (tuple, list)) else (v,)
            for sub in subs:
                if isinstance(sub, ClosedJaxpr) and uses_axis(sub, name):
                    return True
    return False


def bind_call(prim, closed: ClosedJaxpr, args, **params):
    """Bind a call primitive, passing the jaxpr's constants as leading arguments."""
    jc, consts = hoist_consts(closed)
    return prim.bind(*consts, *args, jaxpr=jc, **params)


def _make_call_primitive(name, recompute):
    p = Primitive(name, multiple_results=True)
    p.call_jaxpr_params = ("jaxpr",)

    @p.def_impl
    def _impl(*args, jaxpr, **params):
        return eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)

    @p.def_abstract_eval
    def _abstract(*avals, jaxpr, **params):
        return list(jaxpr.out_avals)

    def _jvp(primals, tangents, *, jaxpr, **params):
        nonzeros = [type(t) is not Zero for t in tangents]
        jc, consts, out_nz = jvp_jaxpr(jaxpr, nonzeros)
        outs = p.bind(*consts, *primals, *[t for t in tangents if type(t) is not Zero],
                      jaxpr=jc, **params)
        n = len(jaxpr.out_avals)
        p_out, t_nz = outs[:n], iter(outs[n:])
        t_out = [next(t_nz) if nz else Zero(a.strip_weak_type())
                 for a, nz in zip(jaxpr.out_avals, out_nz)]
        return p_out, t_out

    p.jvp = _jvp

    def _batch(axis, args, dims, *, jaxpr, **params):
        if all(d is None for d in dims):
            if not any(uses_axis(jaxpr, axis.name) for _ in (0,)):
                return p.bind(*args, jaxpr=jaxpr, **params), [None] * len(jaxpr.out_avals)
        size = axis.size
        args = [batching.moveaxis(a, d, 0) if d is not None else a for a, d in zip(args, dims)]
        jc, consts, out_b = batch_jaxpr(jaxpr, size, [d is not None for d in dims],
                                        axis_name=axis.name)
        outs = p.bind(*consts, *args, jaxpr=jc, **params)
        return outs, [0 if b else None for b in out_b]

    p.batch_with_axis = _batch

    def _partial_eval(trace, tracers, *, jaxpr, **params):
        unknowns = [not t.is_known for t in tracers]
        known, unknown, out_unk, num_res = partial_eval_jaxpr_cached(jaxpr, unknowns,
                                                                     recompute)
        known_j, known_consts = _cached(_pe_cache, known, "hoisted",
                                        lambda: hoist_consts(known))
        known_ins = [t.const for t in tracers if t.is_known]
        known_outs = p.bind(*known_consts, *known_ins, jaxpr=known_j, **params)
        n_known_out = len(known_outs) - num_res
        k_outs, residuals = known_outs[:n_known_out], known_outs[n_known_out:]
        res_tracers = [trace.instantiate_const(trace.pure(r)) for r in residuals]
        unk_in = [t for t in tracers if not t.is_known]
        unk_avals = [a for a, u in zip(jaxpr.out_avals, out_unk) if u]
        unk_outs = trace.default_process(p, res_tracers + unk_in,
                                         dict(params, jaxpr=unknown), out_avals=unk_avals)
        k_it, u_it = iter(k_outs), iter(unk_outs)
        return [next(u_it) if u else next(k_it) for u in out_unk]

    p.partial_eval = _partial_eval

    def _partial_eval_jaxpr(eqn, unk_ins):
        jaxpr = eqn.params["jaxpr"]
        known, unknown, out_unk, num_res = partial_eval_jaxpr_cached(jaxpr, unk_ins,
                                                                     recompute)
        res_vars = [Var(a) for a in known.out_avals[len(known.out_avals) - num_res:]]
        known_outvars = [v for v, u in zip(eqn.outvars, out_unk) if not u]
        e_known = Eqn(p, [v for v, u in zip(eqn.invars, unk_ins) if not u],
                      known_outvars + res_vars, dict(eqn.params, jaxpr=known), eqn.source)
        e_unknown = Eqn(p, res_vars + [v for v, u in zip(eqn.invars, unk_ins) if u],
                        [v for v, u in zip(eqn.outvars, out_unk) if u],
                        dict(eqn.params, jaxpr=unknown), eqn.source)
        return e_known, e_unknown, out_unk

    p.partial_eval_jaxpr = _partial_eval_jaxpr

    def _transpose(cts, *args, jaxpr, **params):
        linear = [ad.is_undefined_primal(a) for a in args]
        jt, consts = transpose_jaxpr(jaxpr, linear)
        cts = [instantiate(c) if type(c) is Zero else c for c in cts]
        nonlin = [a for a in args if not ad.is_undefined_primal(a)]
        res = p.bind(*consts, *nonlin, *cts, jaxpr=jt, **params)
        it = iter(res)
        return [next(it) if l else None for l in linear]

    p.transpose = _transpose
    p.test_spec = {"skip": "call primitive: covered by jit/checkpoint tests"}
    return p


jit_p = _make_call_primitive("pjit", recompute=False)
remat_p = _make_call_primitive("checkpoint", recompute=True)
