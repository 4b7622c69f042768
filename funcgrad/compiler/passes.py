"""Passes over jaxprs: inlining, DCE, CSE, constant folding, algebraic simplification and
folding transposes into ``dot_general``.

Every pass is a small function ``ClosedJaxpr -> ClosedJaxpr`` that never mutates its
argument (equations are shared where unchanged) and keeps the program's inputs, and the
types of its outputs, as they were.  ``optimize`` runs them all to a fixed point.

Each rewrite keeps results **bit for bit** equal to eager evaluation (the compiled code
runs the same kernels, see ``DESIGN.md``).  That is why ``x + 0.0`` is only removed for
integers (for floats ``-0.0 + 0.0`` is ``+0.0``): ``x + (-0.0)``, ``x - 0.0``, ``x * 1`` and
``x / 1`` are exact and always removed.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> from funcgrad.compiler import passes
>>> closed = fg.make_jaxpr(lambda x: (x * 1.0 + fnp.sin(x)) + fnp.sin(x))(fnp.ones(3))
>>> print(passes.optimize(closed))
{ lambda ; a:f32[3]. let
    b:f32[3] = sin a
    c:f32[3] = add a b
    d:f32[3] = add c b
  in (d,) }
"""
from __future__ import annotations

import numpy as np

from ..core.array import Array
from ..core.ir import ClosedJaxpr, DropVar, Eqn, Jaxpr, Literal, Var
from ..core.trace import Tracer
from ..interpreters.partial_eval import dce_eqns

__all__ = ["inline_calls", "dce", "cse", "fold_constants", "simplify",
           "fold_transposes_into_dot", "merge_padded_sums", "optimize", "FOLD_MAX_ELEMENTS"]

#: equations whose inputs are all known and whose outputs have at most this many
#: elements are evaluated at compile time by ``fold_constants``
FOLD_MAX_ELEMENTS = 4096

_CALL_PARAM = {"pjit": "jaxpr", "checkpoint": "jaxpr", "custom_jvp_call": "call_jaxpr",
               "custom_vjp_call": "call_jaxpr"}

# primitives whose eager kernel is a view or the identity of (one of) its inputs
_VIEW_PRIMS = frozenset({"broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims",
                         "rev", "slice", "stop_gradient"})


def _is_random(prim) -> bool:
    n = prim.name
    return "random" in n or "rng" in n or "threefry" in n


def _has_subjaxpr(prim) -> bool:
    return bool(prim.call_jaxpr_params)


# ----------------------------------------------------------------------------- helpers

def _subst(env, v):
    """Follow the substitution ``env`` (Var -> Var | Literal) to its end."""
    if type(v) is Literal:
        return v
    while True:
        w = env.get(v)
        if w is None:
            return v
        v = w
        if type(v) is Literal:
            return v


def _rebuild(closed, constvars, consts, eqns, env, outvars=None):
    j = closed.jaxpr
    outs = [_subst(env, v) for v in (j.outvars if outvars is None else outvars)]
    return ClosedJaxpr(Jaxpr(constvars, j.invars, outs, eqns), consts)


def _new_eqn(e, invars):
    if all(a is b for a, b in zip(invars, e.invars)):
        return e
    return e.replace(invars=invars)


def _raw(c):
    """The concrete raw array of a constant, or None when it is not concrete."""
    if type(c) is Array:
        return c._value
    if isinstance(c, Tracer):
        return None
    if isinstance(c, (np.ndarray, np.generic, bool, int, float, complex)):
        return c
    return None


def _literal_value(v):
    """A Python/NumPy scalar if ``v`` is a Literal, else None."""
    if type(v) is Literal:
        return v.val
    return None


def _is_scalar_value(v, value) -> bool:
    """``v`` is a literal equal to ``value`` (exactly, with the sign of zero for floats)."""
    lv = _literal_value(v)
    if lv is None:
        return False
    try:
        a = np.asarray(lv)
        if a.dtype.kind == "c":
            return bool(a == value)
        if a.dtype.kind == "f":
            if not a == value:
                return False
            if value == 0:
                return bool(np.signbit(a)) == bool(np.signbit(np.float64(value)))
            return True
        return bool(a == value)
    except Exception:
        return False


# ----------------------------------------------------------------------------- inline

def inline_calls(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Inline nested ``pjit`` / ``checkpoint`` calls and the primal bodies of
    ``custom_jvp_call`` / ``custom_vjp_call`` (recursively), so the whole program is one
    flat list of equations.  Constants of inlined bodies become constants of the result.

    >>> f = fg.jit(lambda x: x * 2.0)
    >>> inline_calls(fg.make_jaxpr(lambda x: f(x) + 1.0)(1.0))  # mul, add
    { lambda ; a:f32[]. let
        b:f32[] = mul a 2.0:f32[]
        c:f32[] = add b 1.0:f32[]
      in (c,) }
    """
    j = closed.jaxpr
    if not any(e.primitive.name in _CALL_PARAM for e in j.eqns):
        return closed
    constvars = list(j.constvars)
    consts = list(closed.consts)
    env = {}
    eqns = []

    def walk(eqn_list, sub):
        for e in eqn_list:
            ins = [_subst(sub, v) if type(v) is not Literal else v for v in e.invars]
            pname = _CALL_PARAM.get(e.primitive.name)
            if pname is None:
                outs = e.outvars
                if sub is not env:
                    outs = []
                    for v in e.outvars:
                        if type(v) is DropVar:
                            outs.append(v)
                        else:
                            nv = Var(v.aval)
                            sub[v] = nv
                            outs.append(nv)
                eqns.append(Eqn(e.primitive, ins, outs, e.params, e.source)
                            if (outs is not e.outvars or any(a is not b for a, b in
                                                              zip(ins, e.invars))) else e)
                continue
            inner = e.params[pname]
            ij = inner.jaxpr
            isub = {}
            for cv, c in zip(ij.constvars, inner.consts):
                nv = Var(cv.aval)
                constvars.append(nv)
                consts.append(c)
                isub[cv] = nv
            for iv, a in zip(ij.invars, ins):
                isub[iv] = a
            walk(ij.eqns, isub)
            for ov, io in zip(e.outvars, ij.outvars):
                if type(ov) is DropVar:
                    continue
                r = _subst(isub, io) if type(io) is not Literal else io
                sub[ov] = r

    walk(j.eqns, env)
    return _rebuild(closed, constvars, consts, eqns, env)


# ----------------------------------------------------------------------------- DCE

def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Remove equations whose outputs are never used (effectful ones stay) and unused
    constants.

    >>> dce(fg.make_jaxpr(lambda x: (fnp.sin(x), x)[1])(1.0)).eqns
    []
    """
    j = closed.jaxpr
    live = {v for v in j.outvars if type(v) is Var}
    kept = dce_eqns(j.eqns, live)
    if (len(kept) == len(j.eqns) and all(a is b for a, b in zip(kept, j.eqns))
            and all(v in live for v in j.constvars)):
        return closed
    cv, cs = [], []
    for v, c in zip(j.constvars, closed.consts):
        if v in live:
            cv.append(v)
            cs.append(c)
    return ClosedJaxpr(Jaxpr(cv, j.invars, j.outvars, kept), cs)


# ----------------------------------------------------------------------------- CSE

class _ById:
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _ById and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def _hashable(v):
    """A structural, hashable key for a parameter value."""
    if isinstance(v, (ClosedJaxpr, Jaxpr)) or callable(v) and not isinstance(v, type):
        return _ById(v)
    if isinstance(v, np.ndarray):
        return ("nd", v.shape, v.dtype.str, v.tobytes())
    if isinstance(v, (list, tuple)):
        return (type(v).__name__,) + tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return ("dict",) + tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, (bool, int, float, complex, np.generic)):
        return (type(v).__name__, v)
    try:
        hash(v)
        return v
    except TypeError:
        return _ById(v)


def _atom_key(v):
    if type(v) is Literal:
        val = np.asarray(v.val)
        return ("lit", val.dtype.str, val.tobytes(), v.aval.weak_type)
    return v


def _params_key(params):
    try:
        return tuple(sorted((k, _hashable(x)) for k, x in params.items()))
    except TypeError:
        return None


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Common-subexpression elimination: an equation with the same primitive, the same
    inputs and structurally equal parameters as an earlier one reuses its outputs.
    Effectful and random-bit equations are never merged.

    >>> cse(fg.make_jaxpr(lambda x: fnp.sin(x) + fnp.sin(x))(1.0))  # one sin
    { lambda ; a:f32[]. let
        b:f32[] = sin a
        c:f32[] = add b b
      in (c,) }
    """
    j = closed.jaxpr
    env = {}
    seen = {}
    eqns = []
    changed = False
    for e in j.eqns:
        ins = [_subst(env, v) for v in e.invars]
        p = e.primitive
        if p.effectful or _is_random(p):
            eqns.append(_new_eqn(e, ins))
            continue
        pk = _params_key(e.params)
        key = None
        if pk is not None:
            key = (p, tuple(_atom_key(v) for v in ins), pk)
            try:
                prev = seen.get(key)
            except TypeError:
                prev, key = None, None
            if prev is not None and all(
                    type(a) is DropVar or type(b) is DropVar or a.aval.same_type(b.aval)
                    for a, b in zip(prev.outvars, e.outvars)):
                ok = True
                for a, b in zip(e.outvars, prev.outvars):
                    if type(a) is DropVar:
                        continue
                    if type(b) is DropVar:
                        ok = False
                        break
                if ok:
                    for a, b in zip(e.outvars, prev.outvars):
                        if type(a) is not DropVar:
                            env[a] = b
                    changed = True
                    continue
        ne = _new_eqn(e, ins)
        if key is not None:
            seen.setdefault(key, ne)
        eqns.append(ne)
    if not changed:
        return closed
    return _rebuild(closed, j.constvars, closed.consts, eqns, env)


# ----------------------------------------------------------------------------- constant folding

def _size(aval) -> int:
    n = 1
    for d in aval.shape:
        n *= d
    return n


def fold_constants(closed: ClosedJaxpr, max_elements: int = FOLD_MAX_ELEMENTS) -> ClosedJaxpr:
    """Evaluate at compile time, with the primitive's own kernel, every equation whose
    inputs are all literals or concrete constants and whose outputs are small.  Scalar
    results become literals, others new constants.  Broadcasts are left alone (the
    simplifier turns broadcast scalars into the scalars themselves), as are effectful,
    random and call/control-flow equations.

    >>> fold_constants(fg.make_jaxpr(lambda x: x * (fnp.float32(2) + 1))(1.0))  # mul by 3.0
    { lambda ; a:f32[]. let b:f32[] = mul a 3.0:f32[] in (b,) }
    """
    j = closed.jaxpr
    known = {}
    for v, c in zip(j.constvars, closed.consts):
        r = _raw(c)
        if r is not None:
            known[v] = r
    env = {}
    constvars, consts = list(j.constvars), list(closed.consts)
    eqns = []
    changed = False
    for e in j.eqns:
        ins = [_subst(env, v) for v in e.invars]
        p = e.primitive
        foldable = (not p.effectful and not _is_random(p) and not _has_subjaxpr(p)
                    and p.impl is not None and p.name not in ("broadcast_in_dim", "iota")
                    and all(type(v) is Literal or v in known for v in ins)
                    and all(type(o) is DropVar or _size(o.aval) <= max_elements
                            for o in e.outvars)
                    and all(_size(v.aval) <= max_elements for v in ins))
        if foldable:
            vals = [v.val if type(v) is Literal else known[v] for v in ins]
            try:
                out = p.impl(*vals, **e.params)
            except Exception:
                out = None
                foldable = False
            if foldable:
                outs = out if p.multiple_results else [out]
                for ov, o in zip(e.outvars, outs):
                    if type(ov) is DropVar:
                        continue
                    o = np.asarray(o)
                    if o.dtype != ov.aval.dtype or o.shape != ov.aval.shape:
                        foldable = False
                if foldable:
                    for ov, o in zip(e.outvars, outs):
                        if type(ov) is DropVar:
                            continue
                        o = np.asarray(o)
                        if o.ndim == 0:
                            env[ov] = Literal(o[()], ov.aval)
                        else:
                            o = o.copy() if not o.flags.owndata else o
                            o.flags.writeable = False
                            nv = Var(ov.aval)
                            constvars.append(nv)
                            consts.append(o)
                            known[nv] = o
                            env[ov] = nv
                    changed = True
                    continue
        eqns.append(_new_eqn(e, ins))
    if not changed:
        return closed
    return dce(_rebuild(closed, constvars, consts, eqns, env))


# ----------------------------------------------------------------------------- simplification

def _same_type(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _compose_perm(p1, p2):
    """``transpose(transpose(x, p1), p2) == transpose(x, compose(p1, p2))``."""
    return tuple(p1[i] for i in p2)


# operands of an elementwise primitive that may be rank-0 while the result is not
def _scalar_ok_positions(prim, n):
    name = prim.name
    if name == "clamp":
        return (0, 2)
    if name in ("convert_element_type", "integer_pow", "polygamma"):
        return ()
    return tuple(range(n))


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Algebraic simplification (exact rewrites only):

    * ``x * 1``, ``1 * x``, ``x / 1``, ``x - 0``, ``x + (-0.0)`` (and ``x + 0`` for integers)
      become ``x``; ``neg(neg(x))`` becomes ``x``;
    * ``transpose(transpose(x))`` composes (and vanishes when the identity);
      ``reshape(reshape(x))`` keeps the last; a reshape to the same shape, a broadcast to
      the same shape, a ``convert_element_type`` to the same dtype, ``stop_gradient`` and
      ``copy`` become ``x``;
    * a broadcast of a scalar consumed by an elementwise equation is replaced by the
      scalar itself (elementwise primitives accept rank-0 operands).

    >>> simplify(fg.make_jaxpr(lambda x: -(-x) * 1.0)(fnp.ones(3))).eqns
    []
    """
    j = closed.jaxpr
    env = {}
    producer = {}          # var -> eqn (in the new program)
    scalar_bcast = {}      # var produced by broadcast_in_dim of a rank-0 atom -> that atom
    eqns = []
    changed = False

    for e in j.eqns:
        ins = [_subst(env, v) for v in e.invars]
        p = e.primitive
        name = p.name
        out = e.outvars[0] if len(e.outvars) == 1 else None
        oa = out.aval if out is not None and type(out) is not DropVar else None
        repl = None
        new = None

        if oa is not None and not p.multiple_results:
            if p.elementwise and scalar_bcast and any(type(v) is Var and v in scalar_bcast
                                                      for v in ins):
                ok_pos = _scalar_ok_positions(p, len(ins))
                cand = list(ins)
                for i in ok_pos:
                    v = cand[i]
                    if type(v) is Var and v in scalar_bcast:
                        cand[i] = scalar_bcast[v]
                full_left = any(getattr(v, "aval", None) is not None and v.aval.shape == oa.shape
                                for v in cand)
                if full_left and (oa.ndim == 0 or any(
                        (v.aval.shape == oa.shape) for v in cand)):
                    if any(a is not b for a, b in zip(cand, ins)):
                        ins = cand
                        changed = True
            if name == "mul" and len(ins) == 2:
                x, y = ins
                if _is_scalar_value(y, 1) and _same_type(x.aval, oa):
                    repl = x
                elif _is_scalar_value(x, 1) and _same_type(y.aval, oa):
                    repl = y
            elif name == "div" and len(ins) == 2:
                x, y = ins
                if _is_scalar_value(y, 1) and _same_type(x.aval, oa):
                    repl = x
            elif name in ("add", "add_any") and len(ins) == 2:
                x, y = ins
                kind = oa.dtype.kind
                for a, b in ((x, y), (y, x)):
                    if not _same_type(a.aval, oa):
                        continue
                    if kind in "iub" and _is_scalar_value(b, 0) or kind in "fc" and (
                            _is_scalar_value(b, -0.0)):
                        repl = a
                        break
            elif name == "sub" and len(ins) == 2:
                x, y = ins
                if _same_type(x.aval, oa) and (_is_scalar_value(y, 0)):
                    repl = x
            elif name == "neg":
                (x,) = ins
                pe = producer.get(x) if type(x) is Var else None
                if pe is not None and pe.primitive.name == "neg":
                    repl = pe.invars[0]
            elif name == "transpose":
                (x,) = ins
                perm = tuple(e.params["permutation"])
                pe = producer.get(x) if type(x) is Var else None
                if perm == tuple(range(len(perm))):
                    repl = x
                elif pe is not None and pe.primitive.name == "transpose":
                    comp = _compose_perm(tuple(pe.params["permutation"]), perm)
                    if comp == tuple(range(len(comp))):
                        repl = pe.invars[0]
                    else:
                        new = e.replace(invars=[pe.invars[0]],
                                        params=dict(e.params, permutation=comp))
            elif name == "reshape":
                (x,) = ins
                if e.params.get("dimensions") is None:
                    if x.aval.shape == oa.shape:
                        repl = x
                    else:
                        pe = producer.get(x) if type(x) is Var else None
                        if (pe is not None and pe.primitive.name == "reshape"
                                and pe.params.get("dimensions") is None):
                            src = pe.invars[0]
                            if src.aval.shape == oa.shape:
                                repl = src
                            else:
                                new = e.replace(invars=[src])
            elif name == "broadcast_in_dim":
                (x,) = ins
                if x.aval.shape == oa.shape and tuple(e.params["broadcast_dimensions"]) == \
                        tuple(range(oa.ndim)):
                    repl = x
            elif name == "convert_element_type":
                (x,) = ins
                if x.aval.dtype == oa.dtype:
                    repl = x
            elif name in ("stop_gradient", "copy"):
                (x,) = ins
                if _same_type(x.aval, oa):
                    repl = x

        if repl is not None:
            env[out] = repl
            changed = True
            continue
        if new is None:
            new = _new_eqn(e, ins)
        else:
            changed = True
        eqns.append(new)
        for o in new.outvars:
            if type(o) is Var:
                producer[o] = new
        if name == "broadcast_in_dim" and oa is not None and new.invars[0].aval.ndim == 0:
            scalar_bcast[out] = new.invars[0]
    if not changed:
        return closed
    return dce(_rebuild(closed, j.constvars, closed.consts, eqns, env))


# ----------------------------------------------------------------------------- dot folding

def _free_dims(ndim, contract, batch):
    s = set(contract) | set(batch)
    return [i for i in range(ndim) if i not in s]


def _fold_side(perm, contract, batch, ndim):
    """Dimension numbers in the un-transposed operand, or None when the free dimensions
    would come out in another order."""
    c2 = tuple(perm[d] for d in contract)
    b2 = tuple(perm[d] for d in batch)
    free_t = _free_dims(ndim, contract, batch)
    mapped = [perm[d] for d in free_t]
    if mapped != sorted(mapped):
        return None
    return c2, b2


def fold_transposes_into_dot(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``dot_general(transpose(x), y)`` becomes ``dot_general(x, y)`` with remapped
    dimension numbers (either operand), whenever the result's axis order is unchanged.
    The dot kernel then builds exactly the same strided view of ``x`` that it built of the
    transposed operand, so results are identical.

    >>> closed = fg.make_jaxpr(lambda a, b: a.T @ b)(fnp.ones((3, 2)), fnp.ones((3, 4)))
    >>> eqns = fold_transposes_into_dot(closed).eqns
    >>> len(eqns), eqns[0].params["dimension_numbers"]  # one dot_general contracting dims (0, 0)
    (1, (((0,), (0,)), ((), ())))
    """
    j = closed.jaxpr
    producer = {}
    eqns = []
    changed = False
    for e in j.eqns:
        if e.primitive.name == "dot_general":
            (lc, rc), (lb, rb) = e.params["dimension_numbers"]
            lhs, rhs = e.invars
            new_l, new_r = lhs, rhs
            pl = producer.get(lhs) if type(lhs) is Var else None
            if pl is not None and pl.primitive.name == "transpose":
                r = _fold_side(pl.params["permutation"], lc, lb, lhs.aval.ndim)
                if r is not None:
                    lc, lb = r
                    new_l = pl.invars[0]
            pr = producer.get(rhs) if type(rhs) is Var else None
            if pr is not None and pr.primitive.name == "transpose":
                r = _fold_side(pr.params["permutation"], rc, rb, rhs.aval.ndim)
                if r is not None:
                    rc, rb = r
                    new_r = pr.invars[0]
            if new_l is not lhs or new_r is not rhs:
                e = e.replace(invars=[new_l, new_r],
                              params=dict(e.params, dimension_numbers=((lc, rc), (lb, rb))))
                changed = True
        eqns.append(e)
        for o in e.outvars:
            if type(o) is Var:
                producer[o] = e
    if not changed:
        return closed
    return dce(ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars, eqns), closed.consts))


# ----------------------------------------------------------------------------- pipeline

# ----------------------------------------------------------------------------- padded sums

def _pad_region(e):
    """``[(operand, axis, start, stop)]`` when the ``pad`` equation ``e`` places its
    operand in a block of zeros (+0.0 padding, no interior padding, along one axis)."""
    x, pv = e.invars
    if not _is_scalar_value(pv, 0) or np.asarray(pv.val).dtype.kind not in "fc":
        return None
    cfg = e.params["padding_config"]
    if any(lo < 0 or hi < 0 or interior for lo, hi, interior in cfg):
        return None
    axes = [i for i, (lo, hi, _) in enumerate(cfg) if lo or hi]
    if len(axes) != 1:
        return None
    k = axes[0]
    lo = cfg[k][0]
    return [(x, k, lo, lo + x.aval.shape[k])]


def merge_padded_sums(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``add_any`` of zero-padded blocks of one axis that do not overlap (the transpose of
    several slices of one array, e.g. an LSTM's gates) becomes one ``concatenate`` of the
    blocks and zero gaps, plus ``0.0``: the same bits (``v + 0.0 + ... = v + 0.0``, which
    turns ``-0.0`` into ``+0.0`` as the sum does), without materializing every padded
    copy.  The padded copies are left for DCE."""
    from ..lax.elementwise import add_p
    from ..lax.structural import broadcast_in_dim_p, concatenate_p
    from ..interpreters.ad_util import add_any_p
    j = closed.jaxpr
    regions = {}
    eqns = []
    changed = False
    for e in j.eqns:
        p = e.primitive
        if p.name == "pad":
            r = _pad_region(e)
            if r is not None:
                regions[e.outvars[0]] = r
        elif p is add_any_p and all(type(v) is Var and v in regions for v in e.invars):
            pieces = regions[e.invars[0]] + regions[e.invars[1]]
            out = e.outvars[0]
            k = pieces[0][1]
            pieces.sort(key=lambda t: t[2])
            if all(t[1] == k for t in pieces) and all(
                    a[3] <= b[2] for a, b in zip(pieces, pieces[1:])) and type(out) is Var:
                regions[out] = pieces
                eqns.extend(_concat_blocks(pieces, out, k, e.source, add_p,
                                           broadcast_in_dim_p, concatenate_p))
                changed = True
                continue
        eqns.append(e)
    if not changed:
        return closed
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars, eqns), closed.consts)


def _concat_blocks(pieces, out, k, source, add_p, bcast_p, concat_p):
    from ..core.abstract import ShapedArray
    shape, dt = out.aval.shape, out.aval.dtype
    zero = Literal(np.zeros((), dt)[()], ShapedArray((), dt))
    new, parts, pos = [], [], 0

    def gap(n):
        gshape = shape[:k] + (n,) + shape[k + 1:]
        v = Var(ShapedArray(gshape, dt))
        new.append(Eqn(bcast_p, [zero], [v], {"shape": gshape, "broadcast_dimensions": ()},
                       source))
        parts.append(v)

    for x, _, start, stop in pieces:
        if start > pos:
            gap(start - pos)
        parts.append(x)
        pos = stop
    if pos < shape[k]:
        gap(shape[k] - pos)
    cat = Var(ShapedArray(shape, dt))
    new.append(Eqn(concat_p, parts, [cat], {"dimension": k}, source))
    new.append(Eqn(add_p, [cat, zero], [out], {}, source))
    return new


def optimize(closed: ClosedJaxpr, max_rounds: int = 4) -> ClosedJaxpr:
    """Inline calls and merge padded sums, then run the other passes until nothing changes:
    simplify, CSE, fold constants, fold transposes into dots, DCE.

    >>> optimize(fg.make_jaxpr(lambda x: fnp.exp(x) * 1.0 + fnp.exp(x))(1.0))
    { lambda ; a:f32[]. let
        b:f32[] = exp a
        c:f32[] = add b b
      in (c,) }
    """
    c = dce(merge_padded_sums(inline_calls(closed)))
    for _ in range(max_rounds):
        before = c
        c = simplify(c)
        c = cse(c)
        c = fold_constants(c)
        c = fold_transposes_into_dot(c)
        c = dce(c)
        if c is before:
            break
    return c
