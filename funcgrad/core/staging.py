"""Staging: trace a Python function into a ``ClosedJaxpr``; evaluate jaxprs.

``trace_to_jaxpr(fun, in_avals)`` pushes a *dynamic* ``JaxprTrace`` so that every
primitive applied inside ``fun`` (even on constants) is recorded as an equation.
Values closed over from outer transformations become ``constvars`` whose values (the
``consts`` of the ``ClosedJaxpr``) may themselves be tracers of those outer traces.
"""
from __future__ import annotations

import numpy as np

from . import trace as tr
from .abstract import ShapedArray
from .array import Array, aval_of
from .config import config
from .ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from .trace import Trace, Tracer, new_main


class JaxprTracer(Tracer):
    __slots__ = ("_aval",)

    def __init__(self, trace, aval):
        self._trace = trace
        self._aval = aval

    @property
    def aval(self):
        return self._aval


class _Builder:
    def __init__(self):
        self.eqns = []
        self.tracer_to_var = {}      # id(tracer) -> Var | Literal
        self.tracers = []            # keep tracers alive so ids stay unique
        self.const_ids = {}          # id(const value) -> tracer
        self.constvar_vals = []      # (Var, value)

    def new_tracer(self, trace, aval, var=None):
        t = JaxprTracer(trace, aval)
        self.tracers.append(t)
        self.tracer_to_var[id(t)] = var if var is not None else Var(aval)
        return t

    def getvar(self, t):
        return self.tracer_to_var[id(t)]


def _is_literal_const(val):
    if isinstance(val, (bool, int, float, complex)):
        return True
    if isinstance(val, np.generic):
        return True
    if isinstance(val, np.ndarray) and val.ndim == 0:
        return True
    if type(val) is Array and val.ndim == 0 and type(val._value) is np.ndarray:
        return True
    return False


class JaxprTrace(Trace):
    """Records primitives as equations of a jaxpr under construction."""

    __slots__ = ()

    @property
    def builder(self) -> _Builder:
        return self.main.payload["builder"]

    def new_arg(self, aval):
        return self.builder.new_tracer(self, aval)

    def pure(self, val):
        b = self.builder
        key = id(val)
        t = b.const_ids.get(key)
        if t is not None:
            return t
        aval = aval_of(val)
        if _is_literal_const(val):
            raw = val._value if type(val) is Array else val
            lit = Literal(np.asarray(raw, aval.dtype)[()] if not isinstance(val, bool) else val,
                          aval)
            t = b.new_tracer(self, aval, lit)
        else:
            t = b.new_tracer(self, aval)
            b.constvar_vals.append((b.getvar(t), val))
        b.const_ids[key] = t
        b.tracers.append(val)  # keep the constant alive so its id is not reused
        return t

    lift = pure

    def process_primitive(self, prim, tracers, params):
        b = self.builder
        avals = [t._aval for t in tracers]
        try:
            out = prim.abstract_eval(*avals, **params)
        except TypeError:
            raise
        outs = out if prim.multiple_results else [out]
        out_tracers = [b.new_tracer(self, a) for a in outs]
        src = tr.user_source() if tr._DEBUG[0] else None
        b.eqns.append(Eqn(prim, [b.getvar(t) for t in tracers],
                          [b.getvar(t) for t in out_tracers], params, src))
        return out_tracers if prim.multiple_results else out_tracers[0]


def trace_to_jaxpr(fun, in_avals, name: str = "", instantiate=True):
    """Trace ``fun(*tracers) -> list`` of flat arguments into ``(ClosedJaxpr, out_avals)``.

    ``fun`` takes and returns flat lists of arrays.
    """
    with new_main(JaxprTrace, {"builder": _Builder()}, dynamic=True, name=name) as main:
        trace = main.trace
        in_tracers = [trace.new_arg(a) for a in in_avals]
        outs = fun(*in_tracers)
        out_tracers = [trace.full_raise(o) for o in outs]
        jaxpr, consts = _to_jaxpr(main.payload["builder"], in_tracers, out_tracers)
    return ClosedJaxpr(jaxpr, consts)


def _to_jaxpr(b: _Builder, in_tracers, out_tracers):
    invars = [b.getvar(t) for t in in_tracers]
    outvars = [b.getvar(t) for t in out_tracers]
    constvars = [v for v, _ in b.constvar_vals]
    consts = [c for _, c in b.constvar_vals]
    jaxpr = Jaxpr(constvars, invars, outvars, b.eqns)
    return jaxpr, consts


# ----------------------------------------------------------------------------- evaluation

def eval_jaxpr(jaxpr: Jaxpr, consts, *args):
    """Interpret ``jaxpr`` by binding each equation under the current transformations."""
    env = {}
    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.invars, args):
        env[v] = x

    def read(v):
        return v.val if type(v) is Literal else env[v]

    for e in jaxpr.eqns:
        ins = [read(v) for v in e.invars]
        out = e.primitive.bind(*ins, **e.params)
        if e.primitive.multiple_results:
            for v, o in zip(e.outvars, out):
                env[v] = o
        else:
            env[e.outvars[0]] = out
    return [read(v) for v in jaxpr.outvars]


def jaxpr_as_fun(closed: ClosedJaxpr):
    """A function ``(*args) -> list`` that evaluates ``closed``."""
    def fun(*args):
        return eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return fun


def convert_constvars_to_invars(closed: ClosedJaxpr):
    """``(jaxpr_with_consts_as_leading_invars, consts)``: for binding a jaxpr as a call."""
    j = closed.jaxpr
    return Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns), list(closed.consts)


def closed_from_open(jaxpr: Jaxpr) -> ClosedJaxpr:
    return ClosedJaxpr(jaxpr, [])


def shaped_abstractify(x) -> ShapedArray:
    """The abstract value of a user argument (weak types kept)."""
    if isinstance(x, Tracer):
        return x.aval
    return aval_of(x)


def is_concrete(x) -> bool:
    return not isinstance(x, Tracer)


__all__ = ["JaxprTrace", "JaxprTracer", "trace_to_jaxpr", "eval_jaxpr", "jaxpr_as_fun",
           "convert_constvars_to_invars", "shaped_abstractify", "Array", "config"]


# ----------------------------------------------------------------------------- executables

_compile_hook = [None]   # set by funcgrad.compiler: (ClosedJaxpr) -> callable(*args) -> list


def set_compile_hook(fn):
    """Called by the compiler so that lower layers can run sub-jaxprs compiled."""
    _compile_hook[0] = fn


def jaxpr_executable(closed: ClosedJaxpr):
    """A callable ``(*args) -> list`` running ``closed``: compiled when the compiler is
    loaded (control-flow primitives run their bodies through this), else interpreted."""
    hook = _compile_hook[0]
    if hook is not None:
        return hook(closed)
    return jaxpr_as_fun(closed)
