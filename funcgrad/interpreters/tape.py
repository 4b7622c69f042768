"""Eager reverse mode: a tape of backward steps, one per primitive.

``vjp`` of a function called with concrete inputs and no transformation active (plain
``grad(f)(x)`` at top level) does not need a jaxpr: each primitive runs its eager kernel
at once and records how to send a cotangent back to its inputs.  That is what autograd
and PyTorch do, and it costs a few microseconds per operation where linearize (JVP over
partial evaluation, then ``tracers_to_jaxpr`` and ``backward_pass``) costs about twenty.

A node's backward step comes from the primitive's own rules, chosen when it is recorded:

1. no derivative (``defjvp`` with only ``None``, e.g. ``floor``, ``stop_gradient``): no node;
2. elementwise with per-argument JVP functions (``ad.defjvp``/``defjvp2``) and
   differentiated operands of the output's shape and dtype: a pointwise linear map is its
   own transpose, so the JVP function applied to the cotangent *is* the VJP;
3. ``linear`` primitives (in the differentiated operands, see ``Primitive.linear_args``):
   the transpose rule, once per differentiated operand with the others fixed;
4. anything else (control flow, ``pjit``, custom rules, linalg ...): ``ad.vjp_flat`` of
   that one primitive, the general linearize + transpose path.

Backward steps are written with ``bind``, so the backward pass is itself differentiable
and can run under ``vmap`` (``jacrev``) or ``jit``.  Transformations started *inside* the
taped function (``grad`` of ``grad``, ``vmap``, ``jvp``) use the general path with their
operations recorded on this tape.  ``config.update("eager_tape", False)`` turns the tape
off (every ``vjp`` then uses linearize + transpose).
"""
from __future__ import annotations

from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.config import config
from ..core import errors
from ..core import trace as tr
from ..core.trace import Trace, Tracer, get_aval, new_main
from . import ad
from .ad_util import Zero, add_any_p

_DERIVED, _TRANSPOSE, _GENERAL = 0, 1, 2   # node kinds (rules 2, 3, 4)


class TapeTracer(ad.PrimalTracer):
    """A value recorded on the tape: its concrete ``primal`` (always an ``Array``) and its
    slot ``idx`` in the tape."""

    __slots__ = ("idx",)

    def __init__(self, trace, primal, idx):
        self._trace = trace
        self.primal = primal
        self.idx = idx
        self._aval = None

    # metadata straight from the concrete value (no abstract value built per operation)
    @property
    def dtype(self):
        return self.primal._value.dtype

    @property
    def shape(self):
        return self.primal._value.shape

    @property
    def weak_type(self):
        return self.primal._weak


class _Tape:
    __slots__ = ("nodes", "count")

    def __init__(self):
        self.nodes = []
        self.count = 0


def _is_float(x):
    dt = getattr(x, "dtype", None)
    return dt is not None and dt.kind in "fc"


def _plain_aval(x):
    a = get_aval(x)
    return ShapedArray(a.shape, a.dtype)


class TapeTrace(Trace):
    __slots__ = ()

    def pure(self, val):
        return TapeTracer(self, val, -1)

    lift = pure

    def to_concrete(self, tracer, what):
        return tracer.primal

    def _new(self, val):
        if type(val) is not Array:
            val = Array(val)
        tape = self.main.payload
        i = tape.count
        tape.count = i + 1
        return TapeTracer(self, val, i)

    def _wrap(self, prim, out):
        if prim.multiple_results:
            idxs, res = [], []
            for o in out:
                if _is_float(o):
                    t = self._new(o)
                    res.append(t)
                    idxs.append(t.idx)
                else:
                    res.append(o)
                    idxs.append(-1)
            return res, idxs
        if not _is_float(out):
            return out, None
        t = self._new(out)
        return t, t.idx

    def full_raise(self, val):
        # constants enter process_primitive as they are (no wrapper per operand)
        if not isinstance(val, Tracer):
            return val
        return Trace.full_raise(self, val)

    def process_primitive(self, prim, tracers, params):
        info = _RULES.get(prim)
        if info is None:
            info = _rules_of(prim)
        derived = info[0]
        vals, pos, ins = [], [], []
        s0 = d0 = None
        consts = False
        i = 0
        for t in tracers:
            if type(t) is TapeTracer:
                p = t.primal
                vals.append(p)
                if t.idx >= 0:
                    pos.append(i)
                    ins.append(t.idx)
                    if derived:
                        r = p._value
                        if s0 is None:
                            s0, d0 = r.shape, r.dtype
                        elif r.shape != s0 or r.dtype != d0:
                            derived = False
                else:
                    consts = True
            else:
                vals.append(t)
                consts = True
            i += 1
        if not pos:
            return prim.bind(*vals, **params)
        fns = prim.jvp_fns
        if fns is not None:
            f0 = fns[0]
            for i in pos:
                if f0[i] is not None:
                    break
            else:
                return tr.eval_primitive(prim, vals, params)   # rule 1: no derivative
        if derived and consts:
            # rule 2 also needs the other operands of that shape, or scalars
            for v in vals:
                s = v._value.shape if type(v) is Array else getattr(v, "shape", ())
                if s != s0 and s != ():
                    derived = False
                    break
        tape = self.main.payload
        if derived:
            out = tr.eval_primitive(prim, vals, params)
            o = out._value if type(out) is Array else out
            if o.dtype.kind not in "fc":
                return out
            if o.shape != s0 or o.dtype != d0:
                # the output must have the operands' type too (rare: else the general rule)
                return self._general(prim, vals, pos, ins, params)
            if type(out) is not Array:
                out = Array(out)
            j = tape.count
            tape.count = j + 1
            tape.nodes.append((_DERIVED, f0, fns[1], vals, out if fns[1] else None, params,
                               pos, ins, j))
            return TapeTracer(self, out, j)
        if not info[1] or (prim.linear_args is not None and
                           not all(i in prim.linear_args for i in pos)):
            return self._general(prim, vals, pos, ins, params)
        out = tr.eval_primitive(prim, vals, params)
        res, out_idx = self._wrap(prim, out)
        if out_idx is None or (prim.multiple_results and max(out_idx) < 0):
            return res
        avals = [_plain_aval(vals[i]) for i in pos]
        out_avals = [_plain_aval(o) for o in out] if prim.multiple_results else None
        tape.nodes.append((_TRANSPOSE, prim, vals, avals, out_avals, params, pos, ins,
                           out_idx))
        return res

    def _general(self, prim, vals, pos, ins, params):
        def one(*xs):
            args = list(vals)
            for i, x in zip(pos, xs):
                args[i] = x
            out = prim.bind(*args, **params)
            return list(out) if prim.multiple_results else [out]
        outs, vjp_fun = ad.vjp_flat(one, [vals[i] for i in pos], name=prim.name)
        out = outs if prim.multiple_results else outs[0]
        res, out_idx = self._wrap(prim, out)
        if out_idx is None or (prim.multiple_results and max(out_idx) < 0):
            return res
        out_avals = [_plain_aval(o) for o in outs]
        self.main.payload.nodes.append(
            (_GENERAL, vjp_fun, out_avals, ins, out_idx if prim.multiple_results
             else [out_idx]))
        return res


_RULES = {}   # prim -> (derived rule possible, transpose rule possible)


def _rules_of(prim):
    r = _RULES.get(prim)
    if r is None:
        r = _RULES[prim] = (
            prim.jvp_fns is not None and prim.elementwise and not prim.multiple_results,
            prim.linear and prim.transpose is not None and prim.batch_with_axis is None)
    return r


# ----------------------------------------------------------------------------- backward

def _add(prev, ct):
    return ct if prev is None else add_any_p.bind(prev, ct)


def _backward(nodes, env):
    """Run the tape backward; ``env`` maps slots to cotangents and is updated in place."""
    get, pop = env.get, env.pop
    for node in reversed(nodes):
        kind = node[0]
        if kind == _DERIVED:
            _, fns, with_ans, vals, ans, params, pos, ins, out_idx = node
            ct = pop(out_idx, None)
            if ct is None:
                continue
            for i, slot in zip(pos, ins):
                fn = fns[i]
                if fn is None:
                    continue
                c = fn(ct, ans, *vals, **params) if with_ans else fn(ct, *vals, **params)
                prev = get(slot)
                env[slot] = c if prev is None else add_any_p.bind(prev, c)
        elif kind == _TRANSPOSE:
            _, prim, vals, avals, out_avals, params, pos, ins, out_idx = node
            if out_avals is not None:
                cts = [pop(j, None) if j >= 0 else None for j in out_idx]
                if all(c is None for c in cts):
                    continue
                ct = [Zero(a) if c is None else c for c, a in zip(cts, out_avals)]
            else:
                ct = pop(out_idx, None)
                if ct is None:
                    continue
            for i, slot, aval in zip(pos, ins, avals):
                args = list(vals)
                args[i] = ad.UndefinedPrimal(aval)
                c = prim.transpose(ct, *args, **params)[i]
                if c is not None and type(c) is not Zero:
                    env[slot] = _add(get(slot), c)
        else:
            _, vjp_fun, out_avals, ins, out_idx = node
            cts = [pop(j, None) if j >= 0 else None for j in out_idx]
            if all(c is None for c in cts):
                continue
            cts = [Zero(a) if c is None else c for c, a in zip(cts, out_avals)]
            for slot, c in zip(ins, vjp_fun(cts)):
                if c is not None and type(c) is not Zero:
                    env[slot] = _add(get(slot), c)
    return env


# ----------------------------------------------------------------------------- entry point

def tape_vjp_flat(fun, primals, name="vjp"):
    """``ad.vjp_flat`` by recording a tape: ``(primal_outs, vjp_fun)`` (flat lists)."""
    tape = _Tape()
    with new_main(TapeTrace, payload=tape, name=name) as main:
        trace = main.trace
        ins = [trace._new(p) for p in primals]
        outs = fun(*ins)
        p_out, out_idx = [], []
        for o in outs:
            if isinstance(o, TapeTracer) and o._trace.main is main:
                p_out.append(o.primal)
                out_idx.append(o.idx)
            elif isinstance(o, Tracer):
                raise errors.UnexpectedTracerError(tr.escaped_message(o))
            else:
                p_out.append(o)
                out_idx.append(-1)
    in_avals = [_plain_aval(p) for p in primals]
    nodes = tape.nodes

    def vjp_fun(cts):
        env = {}
        for j, c in zip(out_idx, cts):
            if j >= 0 and c is not None and type(c) is not Zero:
                env[j] = _add(env.get(j), c)
        _backward(nodes, env)
        return [env.get(i) if env.get(i) is not None else Zero(a)
                for i, a in enumerate(in_avals)]

    return p_out, vjp_fun


def vjp_flat(fun, primals, name="vjp"):
    """``vjp`` on flat lists: the eager tape at top level, else linearize + transpose."""
    if config.eager_tape and tr.trace_state_clean():
        for p in primals:
            if isinstance(p, Tracer):
                break
        else:
            return tape_vjp_flat(fun, primals, name)
    return ad.vjp_flat(fun, primals, name)


__all__ = ["TapeTrace", "TapeTracer", "tape_vjp_flat", "vjp_flat"]
