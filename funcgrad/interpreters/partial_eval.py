"""Partial evaluation: split a computation into a known part (run now) and an unknown part
(staged into a jaxpr).

Online (``PartialEvalTrace``): used by ``linearize``; values that are known are plain
lower-level values, unknown ones are ``PartialEvalTracer``s that remember the recipe that
made them, from which ``tracers_to_jaxpr`` builds the unknown jaxpr.

Offline (``partial_eval_jaxpr``): splits an existing jaxpr equation by equation; used
for primitives that hold jaxprs (jit calls, checkpoint, control flow).
"""
from __future__ import annotations

import itertools

from ..core.abstract import ShapedArray
from ..core.ir import ClosedJaxpr, DropVar, Eqn, Jaxpr, Literal, Var
from ..core.trace import Trace, Tracer, get_aval


class PartialEvalTracer(Tracer):
    """An unknown value (``recipe`` says how it is built) or a known one (``const``)."""

    __slots__ = ("_aval", "const", "recipe")

    def __init__(self, trace, aval, const=None, recipe=None):
        self._trace = trace
        self._aval = aval
        self.const = const
        self.recipe = recipe

    @property
    def aval(self):
        return self._aval

    @property
    def is_known(self):
        return self.recipe is None

    @staticmethod
    def new_arg(trace, aval):
        return PartialEvalTracer(trace, aval, None, ("arg",))

    def full_lower(self):
        if self.recipe is None:
            c = self.const
            return c.full_lower() if isinstance(c, Tracer) else c
        return self


_recipe_counter = itertools.count()

# (elementwise primitive, operand avals) -> output aval, for parameterless primitives
_ELEMENTWISE_AVALS = {}


class _EqnRecipe:
    __slots__ = ("prim", "in_tracers", "params", "out_refs", "source", "order")

    def __init__(self, prim, in_tracers, params, source=None):
        self.prim = prim
        self.in_tracers = in_tracers
        self.params = params
        self.out_refs = []
        self.source = source
        self.order = next(_recipe_counter)


class PartialEvalTrace(Trace):
    __slots__ = ()

    def pure(self, val):
        return PartialEvalTracer(self, get_aval(val), val, None)

    lift = pure

    def instantiate_const(self, t):
        """An unknown tracer standing for the known value of ``t`` (a residual)."""
        if t.recipe is not None:
            return t
        # t._aval is get_aval(t.const), computed when t was made
        return PartialEvalTracer(self, t._aval, None, ("const", t.const))

    def process_primitive(self, prim, tracers, params):
        for t in tracers:
            if t.recipe is not None:
                break
        else:
            return prim.bind(*[t.const for t in tracers], **params)
        if prim.partial_eval is not None:
            return prim.partial_eval(self, tracers, **params)
        return self.default_process(prim, tracers, params)

    def default_process(self, prim, tracers, params, out_avals=None):
        ins = [t if t.recipe is not None else
               PartialEvalTracer(self, t._aval, None, ("const", t.const)) for t in tracers]
        if out_avals is None:
            avals = tuple([t._aval for t in ins])
            if prim.elementwise and not params and not prim.multiple_results:
                # elementwise shape rules depend only on the operand types: memoize them
                key = (prim, avals)
                out = _ELEMENTWISE_AVALS.get(key)
                if out is None:
                    out = prim.abstract_eval(*avals)
                    if len(_ELEMENTWISE_AVALS) < 4096:
                        _ELEMENTWISE_AVALS[key] = out
                out_avals = [out]
            else:
                out = prim.abstract_eval(*avals, **params)
                out_avals = out if prim.multiple_results else [out]
        recipe = _EqnRecipe(prim, ins, params)
        outs = [PartialEvalTracer(self, a, None, recipe) for a in out_avals]
        recipe.out_refs = outs
        return outs if prim.multiple_results else outs[0]

    def to_concrete(self, tracer, what):
        if tracer.recipe is None:
            c = tracer.const
            return c._concrete(what) if isinstance(c, Tracer) else c
        return super().to_concrete(tracer, what)


def _recipe_order(r):
    return r.order


def tracers_to_jaxpr(in_tracers, out_tracers):
    """Build the unknown jaxpr reaching ``out_tracers`` from ``in_tracers``.

    Returns ``(jaxpr, consts)``; consts are the residuals (known values the jaxpr reads).
    Equations come out in the order their recipes were created (a topological order).
    """
    var_of = {}
    invars = []
    for t in in_tracers:
        v = Var(t._aval)
        var_of[id(t)] = v
        invars.append(v)
    # collect the recipes reachable from the outputs
    recipes = {}
    consts_t = {}
    stack = list(out_tracers)
    pop, extend = stack.pop, stack.extend
    seen = set()
    while stack:
        t = pop()
        i = id(t)
        if i in seen:
            continue
        seen.add(i)
        r = t.recipe
        if type(r) is _EqnRecipe:
            ri = id(r)
            if ri not in recipes:
                recipes[ri] = r
                extend(r.in_tracers)
        elif r is None or r[0] == "const":
            if i not in var_of:
                consts_t[i] = t
    constvars, consts = [], []
    for i, t in consts_t.items():
        v = Var(t._aval)
        var_of[i] = v
        constvars.append(v)
        consts.append(t.const if t.recipe is None else t.recipe[1])
    eqns = []
    append = eqns.append
    for r in sorted(recipes.values(), key=_recipe_order):
        outs = r.out_refs
        if len(outs) == 1:
            o = outs[0]
            v = Var(o._aval)
            var_of[id(o)] = v
            outvars = [v]
        else:
            outvars = []
            for o in outs:
                v = Var(o._aval)
                var_of[id(o)] = v
                outvars.append(v)
        try:
            ins = [var_of[id(x)] for x in r.in_tracers]
        except KeyError:
            raise ValueError("partial eval: an input tracer was not listed as an input") from None
        append(Eqn(r.prim, ins, outvars, r.params, r.source))
    outvars = [var_of[id(t)] for t in out_tracers]
    return Jaxpr(constvars, invars, outvars, eqns), consts


# ----------------------------------------------------------------------------- offline PE

def partial_eval_jaxpr(closed: ClosedJaxpr, in_unknowns, instantiate=False, recompute=False):
    """Split ``closed`` given which inputs are unknown.

    Returns ``(known, unknown, out_unknowns, num_res)`` where
      known:   ClosedJaxpr  known_ins -> known_outs + residuals
      unknown: ClosedJaxpr  residuals + unknown_ins -> unknown_outs
    ``instantiate`` (bool or list) forces outputs to be unknown.  With ``recompute``
    (checkpoint), the residuals are the known *inputs* and the unknown side recomputes
    every known equation it needs.
    """
    jaxpr = closed.jaxpr
    n_in = len(jaxpr.invars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * len(jaxpr.outvars)
    unknown = set()
    for v, u in zip(jaxpr.invars, in_unknowns):
        if u:
            unknown.add(v)

    def is_unknown(v):
        return type(v) is not Literal and v in unknown

    known_eqns, unknown_eqns = [], []
    for e in jaxpr.eqns:
        unk_ins = [is_unknown(v) for v in e.invars]
        if not any(unk_ins):
            known_eqns.append(e)
            continue
        sub = _pe_eqn_rule(e, unk_ins)
        if sub is not None:
            e_known, e_unknown, out_unk = sub
            if e_known is not None:
                known_eqns.append(e_known)
            unknown_eqns.append(e_unknown)
            for v, u in zip(e.outvars, out_unk):
                if u:
                    unknown.add(v)
        else:
            unknown_eqns.append(e)
            for v in e.outvars:
                unknown.add(v)

    out_unknowns = [is_unknown(v) or inst for v, inst in zip(jaxpr.outvars, instantiate)]

    if recompute:
        # the unknown side re-runs the known equations it needs, from the known inputs
        needed = _needed_vars(unknown_eqns, [v for v, u in zip(jaxpr.outvars, out_unknowns) if u])
        recomputed = _dce_eqns(known_eqns, needed)
        res_vars = [v for v, u in zip(jaxpr.invars, in_unknowns) if not u]
        res_vars += [v for v in jaxpr.constvars]
        unknown_eqns = recomputed + unknown_eqns
        # the known side only produces the known outputs
    else:
        defined_known = set(v for v in jaxpr.constvars) | {
            v for v, u in zip(jaxpr.invars, in_unknowns) if not u}
        for e in known_eqns:
            defined_known.update(e.outvars)
        res_set = []
        seen = set()
        for e in unknown_eqns:
            for v in e.invars:
                if type(v) is not Literal and v not in unknown and v in defined_known \
                        and v not in seen:
                    seen.add(v)
                    res_set.append(v)
        for v, u in zip(jaxpr.outvars, out_unknowns):
            if u and type(v) is not Literal and v not in unknown and v not in seen:
                seen.add(v)
                res_set.append(v)
        res_vars = res_set

    known_outs = [v for v, u in zip(jaxpr.outvars, out_unknowns) if not u]
    known_jaxpr = Jaxpr(jaxpr.constvars,
                        [v for v, u in zip(jaxpr.invars, in_unknowns) if not u],
                        known_outs + res_vars, known_eqns)
    known_jaxpr = dce_jaxpr(known_jaxpr)
    # rename residual vars in the unknown jaxpr to fresh binders
    res_binders = [Var(v.aval) for v in res_vars]
    sub = dict(zip(res_vars, res_binders))
    unk_in = [v for v, u in zip(jaxpr.invars, in_unknowns) if u]
    unk_outs = [sub.get(v, v) if type(v) is not Literal else v
                for v, u in zip(jaxpr.outvars, out_unknowns) if u]
    unknown_jaxpr = Jaxpr([], res_binders + unk_in, unk_outs,
                          [_subst_eqn(e, sub) for e in unknown_eqns])
    unknown_jaxpr = dce_jaxpr(unknown_jaxpr)
    return (ClosedJaxpr(known_jaxpr, closed.consts), ClosedJaxpr(unknown_jaxpr, []),
            out_unknowns, len(res_vars))


def _pe_eqn_rule(e, unk_ins):
    """A primitive holding jaxprs may split one equation into a known and an unknown one:
    ``prim.partial_eval_jaxpr(eqn, unk_ins) -> (eqn_known or None, eqn_unknown, out_unknowns)``;
    the known equation's extra outputs that the unknown one reads become residuals."""
    rule = e.primitive.partial_eval_jaxpr
    return None if rule is None else rule(e, unk_ins)


def _subst_eqn(e, sub):
    if not sub:
        return e
    return e.replace(invars=[sub.get(v, v) if type(v) is not Literal else v for v in e.invars])


def _needed_vars(eqns, outs):
    needed = set(v for v in outs if type(v) is not Literal)
    for e in reversed(eqns):
        for v in e.invars:
            if type(v) is not Literal:
                needed.add(v)
    return needed


def _dce_eqns(eqns, needed):
    needed = set(needed)
    kept = []
    for e in reversed(eqns):
        if any(o in needed for o in e.outvars):
            kept.append(e)
            for v in e.invars:
                if type(v) is not Literal:
                    needed.add(v)
    return kept[::-1]


def has_effect(e) -> bool:
    return e.primitive.effectful


def dce_eqns(eqns, live):
    """The equations of ``eqns`` needed for the variables in ``live`` (a set, updated in
    place with everything they read).  Effectful equations stay; a primitive with a
    ``dce_rule`` (``scan``) is rewritten to compute only its outputs that are read."""
    kept = []
    for e in reversed(eqns):
        used = [type(o) is not DropVar and o in live for o in e.outvars]
        if not (any(used) or has_effect(e)):
            continue
        ins_used = None
        rule = e.primitive.dce_rule
        if rule is not None and not all(used):
            e, ins_used = rule(e, used)
        kept.append(e)
        for k, v in enumerate(e.invars):
            if type(v) is not Literal and (ins_used is None or ins_used[k]):
                live.add(v)
    kept.reverse()
    return kept


def dce_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """Drop equations whose outputs are not needed (inputs are kept)."""
    live = set(v for v in jaxpr.outvars if type(v) is not Literal)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, dce_eqns(jaxpr.eqns, live))


def dce_jaxpr_outputs(jaxpr: Jaxpr, used_outputs):
    """``(jaxpr with only the used outputs and the equations they need, used_inputs)``:
    the inputs stay (``used_inputs[i]`` says whether input ``i`` is still read)."""
    outvars = [v for v, u in zip(jaxpr.outvars, used_outputs) if u]
    live = set(v for v in outvars if type(v) is not Literal)
    eqns = dce_eqns(jaxpr.eqns, live)
    return (Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns),
            [v in live for v in jaxpr.invars])


def unknown_aval(aval) -> ShapedArray:
    return aval
