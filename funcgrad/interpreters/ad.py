"""Forward mode (``jvp``), linearize, transposition and ``vjp``.

``vjp = linearize + transpose``: the JVP is traced with primals *known* and tangents
*unknown* (``partial_eval``); the known part runs now, the unknown part is a linear
jaxpr whose transpose is the backward pass.
"""
from __future__ import annotations

from ..core import trace as tr
from ..core.ir import Literal
from ..core.staging import trace_to_jaxpr
from ..core.trace import Trace, Tracer, get_aval, new_main
from . import partial_eval as pe
from .ad_util import Zero, add_any_p, add_tangents, instantiate

# ----------------------------------------------------------------------------- JVP


class PrimalTracer(Tracer):
    """A tracer carrying a ``primal`` value, whose abstract value it computes once."""

    __slots__ = ("primal", "_aval")

    @property
    def aval(self):
        a = self._aval
        if a is None:
            a = self._aval = get_aval(self.primal)
        return a


class JVPTracer(PrimalTracer):
    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = None


class JVPTrace(Trace):
    __slots__ = ()

    def pure(self, val):
        aval = get_aval(val)
        t = JVPTracer(self, val, Zero(aval.strip_weak_type()))
        t._aval = aval
        return t

    lift = pure

    def process_primitive(self, prim, tracers, params):
        primals = []
        tangents = []
        nonzero = False
        for t in tracers:
            primals.append(t.primal)
            tt = t.tangent
            tangents.append(tt)
            if not nonzero and type(tt) is not Zero:
                nonzero = True
        if not nonzero:
            return prim.bind(*primals, **params)
        rule = prim.jvp
        if rule is None:
            raise NotImplementedError(f"differentiation rule for '{prim.name}' not implemented")
        p_out, t_out = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(p_out, t_out)]
        return JVPTracer(self, p_out, t_out)

    def to_concrete(self, tracer, what):
        p = tracer.primal
        if isinstance(p, Tracer):
            return p._concrete(what)
        return p


def jvp_flat(fun, primals, tangents, name="jvp"):
    """Run ``fun`` (flat lists) forward-mode; returns ``(primal_outs, tangent_outs)``.

    Tangents may be ``Zero``; tangent outputs that are symbolically zero come back as ``Zero``.
    """
    with new_main(JVPTrace, name=name) as main:
        trace = main.trace
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*ins)
        p_out, t_out = [], []
        for o in outs:
            o = trace.full_raise(o)
            p_out.append(o.primal)
            t_out.append(o.tangent)
    return p_out, t_out


# ----------------------------------------------------------------------------- helpers for rules

def defjvp(prim, *jvp_fns):
    """JVP from one function per argument: ``fn(g, *primals, **params)`` -> tangent piece.

    ``None`` marks a non-differentiable argument.
    """
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        acc = None
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and type(t) is not Zero:
                piece = fn(t, *primals, **params)
                acc = piece if acc is None else add_any_p.bind(acc, piece)
        return out, Zero.from_value(out) if acc is None else acc
    prim.jvp = rule
    prim.jvp_fns = (jvp_fns, False)
    return rule


def defjvp2(prim, *jvp_fns):
    """Like ``defjvp`` but each ``fn(g, ans, *primals, **params)`` also sees the output."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        acc = None
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and type(t) is not Zero:
                piece = fn(t, out, *primals, **params)
                acc = piece if acc is None else add_any_p.bind(acc, piece)
        return out, Zero.from_value(out) if acc is None else acc
    prim.jvp = rule
    prim.jvp_fns = (jvp_fns, True)
    return rule


def deflinear(prim, transpose_rule):
    """Mark ``prim`` linear in all its arguments: its JVP applies it to the tangents."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            zeros = ([Zero.from_value(o) for o in out] if prim.multiple_results
                     else Zero.from_value(out))
            return out, zeros
        return out, prim.bind(*[instantiate(t) for t in tangents], **params)
    prim.jvp = rule
    prim.transpose = transpose_rule
    prim.linear = True
    return rule


def is_undefined_primal(x) -> bool:
    return type(x) is UndefinedPrimal


class UndefinedPrimal:
    """Stands for a linear input of an equation during transposition."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


# ----------------------------------------------------------------------------- transpose

def backward_pass(jaxpr, consts, args, cts_out):
    """Transpose ``jaxpr`` with respect to its ``UndefinedPrimal`` arguments.

    Equations whose inputs are all known (non-linear recomputation, e.g. from
    ``checkpoint``) are evaluated forward first; the others are transposed in reverse.
    Returns cotangents for every argument (``Zero`` where none flowed).
    """
    primal_env = {}
    penv_get = primal_env.get

    for v, c in zip(jaxpr.constvars, consts):
        primal_env[v] = c
    for v, a in zip(jaxpr.invars, args):
        if type(a) is not UndefinedPrimal:
            primal_env[v] = a

    linear_eqns = []
    for e in jaxpr.eqns:
        ins = [v.val if type(v) is Literal else penv_get(v) for v in e.invars]
        for x in ins:
            if x is None:
                linear_eqns.append(e)
                break
        else:
            out = e.primitive.bind(*ins, **e.params)
            outs = out if e.primitive.multiple_results else [out]
            for v, o in zip(e.outvars, outs):
                primal_env[v] = o

    ct_env = {}
    ct_get = ct_env.get
    ct_pop = ct_env.pop

    def write_ct(v, ct):
        if type(v) is Literal or ct is None or type(ct) is Zero:
            return
        prev = ct_get(v)
        ct_env[v] = ct if prev is None else add_any_p.bind(prev, ct)

    for v, ct in zip(jaxpr.outvars, cts_out):
        write_ct(v, ct)

    for e in reversed(linear_eqns):
        prim = e.primitive
        if prim.multiple_results or len(e.outvars) != 1:
            cts = [ct_pop(v, None) for v in e.outvars]
            if all(c is None for c in cts):
                continue
            cts = [Zero(v.aval) if c is None else c for c, v in zip(cts, e.outvars)]
            ct_arg = cts if prim.multiple_results else cts[0]
        else:
            ct_arg = ct_pop(e.outvars[0], None)
            if ct_arg is None:
                continue
        ins = []
        for v in e.invars:
            if type(v) is Literal:
                ins.append(v.val)
            else:
                x = penv_get(v)
                ins.append(UndefinedPrimal(v.aval) if x is None else x)
        rule = prim.transpose
        if rule is None:
            raise NotImplementedError(
                f"transpose rule for '{prim.name}' not implemented: it was applied "
                "to a value that depends linearly on the differentiated input")
        cts_in = rule(ct_arg, *ins, **e.params)
        for v, x, c in zip(e.invars, ins, cts_in):
            if type(x) is UndefinedPrimal and c is not None and type(c) is not Zero:
                prev = ct_get(v)
                ct_env[v] = c if prev is None else add_any_p.bind(prev, c)

    out = []
    for v, a in zip(jaxpr.invars, args):
        if is_undefined_primal(a):
            c = ct_env.get(v)
            out.append(Zero(a.aval) if c is None else c)
        else:
            out.append(None)
    return out


# ----------------------------------------------------------------------------- linearize / vjp

def linearize_flat(fun, primals, name="linearize"):
    """``(primal_outs, linear_jaxpr, residuals, out_tangent_known)``.

    ``linear_jaxpr`` maps input tangents to output tangents; its constvars are the
    residuals.  Tangent outputs that do not depend on the inputs come back as known values
    (``out_tangent_known[i]``), usually zeros.
    """
    tangent_avals = [get_aval(p).strip_weak_type() for p in primals]

    with new_main(pe.PartialEvalTrace, name=name) as pe_main:
        pe_trace = pe_main.trace
        t_in = [pe.PartialEvalTracer.new_arg(pe_trace, a) for a in tangent_avals]
        p_out, t_out = jvp_flat(fun, primals, t_in, name=name)
        known_outs = []
        t_out_tracers = []
        for t in t_out:
            if type(t) is Zero:
                known_outs.append(t)
                t_out_tracers.append(None)
            elif isinstance(t, pe.PartialEvalTracer) and t._trace.main is pe_main:
                known_outs.append(None)
                t_out_tracers.append(t)
            else:
                known_outs.append(t)
                t_out_tracers.append(None)
        jaxpr, residuals = pe.tracers_to_jaxpr(
            t_in, [t for t in t_out_tracers if t is not None])
    for p in p_out:
        if isinstance(p, pe.PartialEvalTracer) and p._trace.main is pe_main:
            raise TypeError("linearize: a primal output depends on the tangents; the "
                            "function's JVP rule is not linear in its tangents")
    return p_out, jaxpr, residuals, known_outs


def vjp_flat(fun, primals, name="vjp"):
    """Return ``(primal_outs, vjp_fun)`` with ``vjp_fun(cts) -> cts_in`` (flat lists)."""
    p_out, jaxpr, residuals, known = linearize_flat(fun, primals, name)
    in_avals = [get_aval(p).strip_weak_type() for p in primals]

    def vjp_fun(cts):
        lin_cts = [ct for ct, k in zip(cts, known) if k is None]
        undefined = [UndefinedPrimal(a) for a in in_avals]
        cts_in = backward_pass(jaxpr, residuals, undefined, lin_cts)
        return cts_in

    return p_out, vjp_fun


__all__ = ["JVPTrace", "JVPTracer", "jvp_flat", "linearize_flat", "vjp_flat", "backward_pass",
           "UndefinedPrimal", "Zero", "defjvp", "defjvp2", "deflinear", "instantiate",
           "add_tangents", "trace_to_jaxpr", "tr"]
