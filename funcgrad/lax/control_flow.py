"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``, ``map``.

Three primitives hold the traced bodies as ``ClosedJaxpr`` params (constants hoisted to
leading operands, so a closed-over traced value is an explicit operand):

==========  ========================================================================
``cond``    ``cond[branches=(j0, j1, ...)] index *operands``: runs ``branches[index]``
``while``   ``while[cond_jaxpr body_jaxpr cond_nconsts body_nconsts max_steps]
            *cond_consts *body_consts *carry``
``scan``    ``scan[jaxpr num_consts num_carry length reverse] *consts *init *xs``; the
            body maps ``(consts, carry, x) -> (carry, y)`` and the ``y`` are stacked
==========  ========================================================================

Eager calls bind the primitives too (eager == jit); their kernels run the bodies through
``jaxpr_executable`` (compiled once per body when the compiler is loaded) in a native
Python loop, writing stacked outputs into preallocated buffers.

Rules: JVP (through the JVP of the bodies), batching (a batched predicate turns ``cond``
into ``select_n`` over all branches and makes ``while`` run until every lane is done,
freezing finished lanes), partial evaluation online (``prim.partial_eval``) and offline
(``prim.partial_eval_jaxpr``) and transposition, so that reverse mode works through
``cond``, ``switch``, ``scan`` and ``fori_loop`` with static bounds.  A scan's residuals
are stacked per iteration by the known (forward) scan and read by the linear scan, whose
transpose is a scan running the other way that accumulates the cotangents of its
constants.  When such a cotangent is a sum over steps of ``dot_general(a_t, b_t)`` (the
weight gradient of a recurrent cell) or ``reduce_sum(a_t)``, the per-step operands are
stacked instead and summed by one large contraction after the loop.  Residuals that are
just a loop constant or a slice of ``xs`` are passed through instead of being stacked,
and residuals computed from loop constants only (say ``W.T``) are computed once outside
the loop.  Big stacked outputs come from a small pool
of reusable buffers (a buffer is reused only when nothing else references it), which
saves the page faults of fresh allocations on every call.

``while_loop`` with a run-time trip count is forward-differentiable only (as in JAX);
``while_loop(..., max_steps=N)`` is also reverse-differentiable: under reverse mode it
becomes a scan of ``N`` steps whose body is ``cond(still_running, body, identity)``, so
finished iterations cost almost nothing (an extension over JAX).
"""
from __future__ import annotations

import builtins
import sys
import threading
import weakref

import numpy as np

from ..core import dtypes, pytree
from ..core.abstract import ShapedArray
from ..core.array import Array
from ..core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from ..core.primitive import Primitive
from ..core.staging import eval_jaxpr, jaxpr_executable, trace_to_jaxpr
from ..core.trace import Tracer, get_aval
from ..interpreters import ad, batching, partial_eval as pe
from ..interpreters.ad_util import Zero, add_any_p, instantiate
from ..interpreters.call import batch_jaxpr, hoist_consts, jit_p, transpose_jaxpr
from .elementwise import clamp, convert_element_type, lt, select_n, add
from .reductions import reduce_or
from .structural import broadcast_in_dim, full

_INT32 = np.dtype(np.int32)

# ============================================================================ helpers


def _raw(x):
    """The raw backend array inside an ``Array`` (other values pass through)."""
    return x._value if type(x) is Array else x


def _is_array_like(x):
    return isinstance(x, (Tracer, Array, np.ndarray, np.generic, bool, int, float, complex)) \
        or hasattr(x, "__cuda_array_interface__")


def _as_operand(x, what):
    """Turn a leaf into something ``bind`` and the kernels take (Arrays and tracers pass)."""
    if isinstance(x, (Tracer, Array)):
        return x
    if isinstance(x, (np.ndarray, np.generic)):     # before float: np.float64 is a float
        dtypes.check_supported(x.dtype, what)
        return Array(np.asarray(x))
    if isinstance(x, (bool, int, float, complex)):
        dt = dtypes.python_scalar_dtype(x)
        return Array(np.asarray(x, dt), weak_type=not isinstance(x, bool))
    if hasattr(x, "__cuda_array_interface__"):
        return Array(x)
    raise TypeError(f"{what}: a leaf of type {type(x).__name__} is not an array; control-flow "
                    "operands, carries and outputs must be arrays, Python scalars or pytrees "
                    "of them")


def _path_str(prefix, path):
    return prefix + pytree.keystr(path) if path else f"the {prefix} (a single leaf)"


def _fun_name(f):
    return getattr(f, "__name__", None) or type(f).__name__


def _trace_flat(fun, in_tree, in_avals, name, what, out_kind="output"):
    """Trace ``fun(*tree_unflatten(in_tree, leaves))``.

    Returns ``(jaxpr, consts, out_tree, out_paths)``: ``jaxpr`` has no constants (they are
    the leading inputs, values in ``consts``)."""
    info = {}

    def flat(*xs):
        args = pytree.tree_unflatten(in_tree, list(xs))
        out = fun(*args)
        leaves_p, tree = pytree.tree_flatten_with_path(out)
        for p, l in leaves_p:
            if not _is_array_like(l):
                raise TypeError(f"{what}: {name} returned a value of type {type(l).__name__} "
                                f"at {_path_str(out_kind, p)}; outputs must be arrays, Python "
                                "scalars or pytrees of them")
        info["tree"] = tree
        info["paths"] = [p for p, _ in leaves_p]
        return [l for _, l in leaves_p]

    closed = trace_to_jaxpr(flat, in_avals, name=f"{what}({name})")
    jc, consts = hoist_consts(closed)
    return jc, consts, info["tree"], info["paths"]


def _reorder(closed, in_perm=None, out_perm=None):
    """A view of ``closed`` with its inputs/outputs permuted (``x[perm[i]]`` at ``i``)."""
    j = closed.jaxpr
    invars = j.invars if in_perm is None else [j.invars[i] for i in in_perm]
    outvars = j.outvars if out_perm is None else [j.outvars[i] for i in out_perm]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, outvars, j.eqns), closed.consts)


def _add_invars(closed, avals, at_end=True):
    """``closed`` with extra (unused) inputs of types ``avals``."""
    j = closed.jaxpr
    extra = [Var(a) for a in avals]
    invars = j.invars + extra if at_end else extra + j.invars
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns), closed.consts)


def _used_vars(jaxpr):
    used = set()
    for e in jaxpr.eqns:
        for v in e.invars:
            if type(v) is not Literal:
                used.add(v)
    for v in jaxpr.outvars:
        if type(v) is not Literal:
            used.add(v)
    return used


def _drop_invars(closed, keep):
    """``closed`` without the inputs where ``keep`` is False (they must be unused)."""
    j = closed.jaxpr
    used = _used_vars(j)
    for v, k in zip(j.invars, keep):
        assert k or v not in used, "dropping a used input"
    return ClosedJaxpr(Jaxpr(j.constvars, [v for v, k in zip(j.invars, keep) if k],
                             j.outvars, j.eqns), closed.consts)


def _const_free(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``closed`` without constants, for equations built offline (which cannot carry
    constant operands): scalar constants become literals; others are not expected."""
    if not closed.consts:
        return closed
    j = closed.jaxpr
    sub = {}
    for v, c in zip(j.constvars, closed.consts):
        if isinstance(c, Tracer) or np.ndim(_raw(c)) != 0:
            raise NotImplementedError("control flow: a transformed body produced an array "
                                      "constant where none is supported")
        sub[v] = Literal(np.asarray(_raw(c), v.aval.dtype)[()], v.aval)
    eqns = [e.replace(invars=[sub.get(x, x) if type(x) is not Literal else x
                              for x in e.invars]) for e in j.eqns]
    outs = [sub.get(x, x) if type(x) is not Literal else x for x in j.outvars]
    return ClosedJaxpr(Jaxpr([], j.invars, outs, eqns), [])


def _join_consts(pairs):
    """Branches ``[(jaxpr_with_leading_consts, consts)]`` -> branches that all take every
    branch's consts first, and the concatenated consts."""
    all_consts = [c for _, cs in pairs for c in cs]
    avals = [[v.aval for v in jc.jaxpr.invars[:len(cs)]] for jc, cs in pairs]
    out = []
    for i, (jc, cs) in enumerate(pairs):
        j = jc.jaxpr
        k = len(cs)
        invars = []
        for i2, av in enumerate(avals):
            if i2 == i:
                invars += j.invars[:k]
            else:
                invars += [Var(a) for a in av]
        invars += j.invars[k:]
        out.append(ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns), jc.consts))
    return tuple(out), all_consts


def _zeros(aval):
    return full(aval.shape, 0, aval.dtype)


def _ct_aval(aval):
    return aval.strip_weak_type()


# ----------------------------------------------------------------------------- executables

def _executable(closed, with_kind=False):
    """A callable running ``closed`` on raw arrays: the compiled executable's ``call_raw``
    when the compiler is loaded (it caches executables by body), else the interpreter
    (whose outputs are ``Array``s).  Fetched once per loop, never per iteration.
    ``with_kind``: also say whether the outputs are raw arrays."""
    exe = jaxpr_executable(closed)
    raw = getattr(exe, "call_raw", None)
    if with_kind:
        return (raw, True) if raw is not None else (exe, False)
    return raw if raw is not None else exe


class _StackPool:
    """Reuses the big stacked-output buffers of ``scan`` from one call to the next.

    Freshly allocated large arrays cost a page fault per 4 KiB page on first write, which
    for the residuals of a recurrent network is a large part of a training step.  A
    buffer is handed out again only when nothing but the pool references it (no
    ``Array``, view or other object holds it), which ``sys.getrefcount`` tells exactly.
    NumPy backend only; small buffers are not pooled; the pool is bounded in bytes.
    """

    MIN_BYTES = 1 << 16
    MAX_BYTES = 256 << 20
    PER_KEY = 64

    def __init__(self):
        self._bufs = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if nbytes < self.MIN_BYTES:
            return np.empty(shape, dtype)
        key = (shape, dtype)
        getrc = sys.getrefcount
        with self._lock:
            lst = self._bufs.get(key)
            if lst is None:
                lst = self._bufs[key] = []
            for b in lst:
                if getrc(b) <= 3:           # the list, the loop variable, the argument
                    return b
            b = np.empty(shape, dtype)
            if len(lst) < self.PER_KEY and self._bytes + nbytes <= self.MAX_BYTES:
                lst.append(b)
                self._bytes += nbytes
            return b

    def clear(self):
        with self._lock:
            self._bufs.clear()
            self._bytes = 0


_stack_pool = _StackPool()


def _xp_of(vals):
    for v in vals:
        if type(v).__module__.startswith("cupy"):
            import cupy
            return cupy
    return np


# ----------------------------------------------------------------------------- cached rules

_jvp_cache = weakref.WeakKeyDictionary()


def _jvp_jaxpr(closed, nonzeros, instantiate_out):
    """``(jvp_jaxpr, consts, out_nonzeros)``; ``jvp_jaxpr(*consts, *primals, *nz_tangents)
    -> primal_outs + nonzero tangent outs``; ``instantiate_out`` is a list of bools."""
    nonzeros = tuple(bool(b) for b in nonzeros)
    instantiate_out = tuple(bool(b) for b in instantiate_out)
    d = _jvp_cache.get(closed)
    if d is None:
        d = _jvp_cache[closed] = {}
    key = (nonzeros, instantiate_out)
    r = d.get(key)
    if r is not None:
        return r
    in_avals = closed.in_avals
    n = len(in_avals)
    avals = list(in_avals) + [_ct_aval(a) for a, nz in zip(in_avals, nonzeros) if nz]
    out_nz = []

    def f(*args):
        primals, tans = args[:n], iter(args[n:])
        tangents = [next(tans) if nz else Zero(_ct_aval(a)) for a, nz in zip(in_avals, nonzeros)]
        p_out, t_out = ad.jvp_flat(lambda *a: eval_jaxpr(closed.jaxpr, closed.consts, *a),
                                   primals, tangents, name="jvp")
        out_nz[:] = [inst or type(t) is not Zero for t, inst in zip(t_out, instantiate_out)]
        return list(p_out) + [instantiate(t) for t, nz in zip(t_out, out_nz) if nz]

    jc, consts = hoist_consts(trace_to_jaxpr(f, avals, name="jvp"))
    r = d[key] = (jc, consts, tuple(out_nz))
    return r


# ============================================================================ cond

cond_p = Primitive("cond", multiple_results=True)
cond_p.call_jaxpr_params = ("branches",)


@cond_p.def_impl
def _cond_impl(index, *ops, branches):
    i = int(index)
    i = 0 if i < 0 else (len(branches) - 1 if i >= len(branches) else i)
    return [_raw(o) for o in _executable(branches[i])(*ops)]


@cond_p.def_abstract_eval
def _cond_abstract(index, *ops, branches):
    if index.shape != () or index.dtype != _INT32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got "
                        f"{index.str_short()}")
    if not branches:
        raise TypeError("cond: needs at least one branch")
    for bi, b in enumerate(branches):
        if len(b.in_avals) != len(ops):
            raise TypeError(f"cond: branch {bi} takes {len(b.in_avals)} operands, got "
                            f"{len(ops)}")
        for k, (a, o) in enumerate(zip(b.in_avals, ops)):
            if not a.same_type(o):
                raise TypeError(f"cond: operand {k} has type {o.str_short()} but branch {bi} "
                                f"expects {a.str_short()}")
    outs0 = branches[0].out_avals
    for b in branches[1:]:
        if len(b.out_avals) != len(outs0):
            raise TypeError("cond: branches return different numbers of outputs")
    res = []
    for k, a in enumerate(outs0):
        weak = a.weak_type
        for bi, b in enumerate(branches[1:], 1):
            o = b.out_avals[k]
            if not o.same_type(a):
                raise TypeError(f"cond: output {k} of branch {bi} has type {o.str_short()} but "
                                f"branch 0 gives {a.str_short()}")
            weak = weak and o.weak_type
        res.append(ShapedArray(a.shape, a.dtype, weak))
    return res


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], primals[1:]
    ops_t = tangents[1:]
    nz = [type(t) is not Zero for t in ops_t]
    nout = len(branches[0].out_avals)
    out_nz = [False] * nout
    for b in branches:
        out_nz = [a or b_ for a, b_ in zip(out_nz, _jvp_jaxpr(b, nz, [False] * nout)[2])]
    pairs = []
    for b in branches:
        jc, consts, _ = _jvp_jaxpr(b, nz, out_nz)
        pairs.append((jc, consts))
    joined, consts = _join_consts(pairs)
    outs = cond_p.bind(index, *consts, *ops, *[t for t in ops_t if type(t) is not Zero],
                       branches=joined)
    p_out, t_it = outs[:nout], iter(outs[nout:])
    t_out = [next(t_it) if z else Zero(_ct_aval(a))
             for z, a in zip(out_nz, branches[0].out_avals)]
    return p_out, t_out


cond_p.jvp = _cond_jvp


def _cond_batch(args, dims, *, branches):
    index, ops = args[0], list(args[1:])
    idx_d, op_d = dims[0], dims[1:]
    size = batching.axis_size_of(args, dims)
    ops = [batching.moveaxis(o, d, 0) if d is not None else o for o, d in zip(ops, op_d)]
    ops_b = tuple(d is not None for d in op_d)
    nout = len(branches[0].out_avals)
    if idx_d is None:
        out_b = [False] * nout
        for b in branches:
            out_b = [x or y for x, y in zip(out_b, batch_jaxpr(b, size, ops_b)[2])]
        pairs = [batch_jaxpr(b, size, ops_b, out_force=tuple(out_b))[:2] for b in branches]
        joined, consts = _join_consts(pairs)
        outs = cond_p.bind(index, *consts, *ops, branches=joined)
        return outs, [0 if b else None for b in out_b]
    # a batched predicate: run every branch on the whole batch and select per lane
    index = batching.moveaxis(index, idx_d, 0)
    results = []
    for b in branches:
        jc, consts, _ = batch_jaxpr(b, size, ops_b, out_force=True)
        results.append(eval_jaxpr(jc.jaxpr, jc.consts, *consts, *ops))
    outs = []
    for k in range(nout):
        cases = [r[k] for r in results]
        shape = get_aval(cases[0]).shape
        which = index if len(shape) == 1 else broadcast_in_dim(index, shape, (0,))
        outs.append(select_n(which, *cases))
    return outs, [0] * nout


cond_p.batch = _cond_batch


def _cond_pe_plan(branches, unk, op_avals):
    """Split every branch given unknown operands.

    Returns ``(known_branches, unknown_branches, out_uk, slots)``: the known branches map
    the known operands to the known outputs followed by one value per ``("res", ...)``
    slot; the unknown branches take one value per slot, then the unknown operands.  A slot
    is ``("op", k)`` (known operand ``k`` forwarded) or ``("res", aval)`` (computed).
    """
    nout = len(branches[0].out_avals)
    out_uk = [False] * nout
    for b in branches:
        out_uk = [x or y for x, y in zip(out_uk, pe.partial_eval_jaxpr(b, unk)[2])]
    splits = [pe.partial_eval_jaxpr(b, unk, instantiate=out_uk) for b in branches]
    k_idx = [i for i, u in enumerate(unk) if not u]
    slots = []
    op_slot = {}
    branch_slots = []   # per branch: slot index of each of its residuals
    res_owner = []      # per slot: (branch, var) for computed residuals, else None
    for bi, (known, _, _, nres) in enumerate(splits):
        kj = known.jaxpr
        n_kout = len(kj.outvars) - nres
        pos = {v: p for p, v in enumerate(kj.invars)}
        mine = []
        for v in kj.outvars[n_kout:]:
            p = pos.get(v)
            if p is not None:
                g = k_idx[p]
                s = op_slot.get(g)
                if s is None:
                    s = op_slot[g] = len(slots)
                    slots.append(("op", g))
                    res_owner.append(None)
            else:
                s = len(slots)
                slots.append(("res", v.aval))
                res_owner.append((bi, v))
            mine.append(s)
        branch_slots.append(mine)
    computed = [s for s, o in enumerate(res_owner) if o is not None]
    known_branches = []
    for bi, (known, _, _, nres) in enumerate(splits):
        kj = known.jaxpr
        n_kout = len(kj.outvars) - nres
        res_of = {s: v for s, v in zip(branch_slots[bi], kj.outvars[n_kout:])}
        extra_eqns, outs = [], list(kj.outvars[:n_kout])
        for s in computed:
            if s in res_of:
                outs.append(res_of[s])
            else:
                aval = slots[s][1]
                z = Var(aval)
                extra_eqns.append(_zeros_eqn(aval, z))
                outs.append(z)
        known_branches.append(ClosedJaxpr(Jaxpr([], kj.invars, outs, kj.eqns + extra_eqns), []))
    unknown_branches = []
    for bi, (_, unknown, _, nres) in enumerate(splits):
        uj = unknown.jaxpr
        mine = dict(zip(branch_slots[bi], uj.invars[:nres]))
        invars = []
        for s, (kind, x) in enumerate(slots):
            v = mine.get(s)
            invars.append(v if v is not None else Var(op_avals[x] if kind == "op" else x))
        unknown_branches.append(
            ClosedJaxpr(Jaxpr([], invars + uj.invars[nres:], uj.outvars, uj.eqns), []))
    return tuple(known_branches), tuple(unknown_branches), out_uk, slots


def _zeros_eqn(aval, outvar):
    from .structural import broadcast_in_dim_p
    lit = Literal(np.zeros((), aval.dtype)[()], ShapedArray((), aval.dtype))
    return Eqn(broadcast_in_dim_p, [lit], [outvar],
               dict(shape=tuple(aval.shape), broadcast_dimensions=()))


def _cond_partial_eval(trace, tracers, *, branches):
    idx_t, ops_t = tracers[0], tracers[1:]
    if not idx_t.is_known:
        return trace.default_process(cond_p, [trace.instantiate_const(t) for t in tracers],
                                     dict(branches=branches))
    unk = [not t.is_known for t in ops_t]
    known_brs, unknown_brs, out_uk, slots = _cond_pe_plan(branches, unk,
                                                           [t.aval for t in ops_t])
    known_ops = [t.const for t, u in zip(ops_t, unk) if not u]
    kouts = cond_p.bind(idx_t.const, *known_ops, branches=known_brs)
    n_kout = sum(1 for u in out_uk if not u)
    k_outs, res_vals = kouts[:n_kout], iter(kouts[n_kout:])
    slot_tracers = []
    for kind, x in slots:
        if kind == "op":
            slot_tracers.append(trace.instantiate_const(ops_t[x]))
        else:
            slot_tracers.append(trace.instantiate_const(trace.pure(next(res_vals))))
    unk_in = [trace.instantiate_const(t) for t in ops_t if not t.is_known]
    out_avals = [a for a, u in zip(_cond_abstract_outs(branches), out_uk) if u]
    if out_avals:
        u_outs = trace.default_process(
            cond_p, [trace.instantiate_const(idx_t)] + slot_tracers + unk_in,
            dict(branches=unknown_brs), out_avals=out_avals)
    else:
        u_outs = []
    k_it, u_it = iter(k_outs), iter(u_outs)
    return [next(u_it) if u else next(k_it) for u in out_uk]


def _cond_abstract_outs(branches):
    return _cond_abstract(ShapedArray((), _INT32), *branches[0].in_avals, branches=branches)


cond_p.partial_eval = _cond_partial_eval


def _cond_partial_eval_jaxpr(eqn, unk_ins):
    if unk_ins[0]:
        return None
    branches = eqn.params["branches"]
    ops = eqn.invars[1:]
    unk = unk_ins[1:]
    known_brs, unknown_brs, out_uk, slots = _cond_pe_plan(branches, unk,
                                                           [v.aval for v in ops])
    res_vars = [Var(x) for kind, x in slots if kind == "res"]
    known_outvars = [v for v, u in zip(eqn.outvars, out_uk) if not u]
    e_known = Eqn(cond_p, [eqn.invars[0]] + [v for v, u in zip(ops, unk) if not u],
                  known_outvars + res_vars, dict(branches=known_brs), eqn.source)
    it = iter(res_vars)
    slot_vars = [ops[x] if kind == "op" else next(it) for kind, x in slots]
    e_unknown = Eqn(cond_p, [eqn.invars[0]] + slot_vars + [v for v, u in zip(ops, unk) if u],
                    [v for v, u in zip(eqn.outvars, out_uk) if u],
                    dict(branches=unknown_brs), eqn.source)
    return e_known, e_unknown, out_uk


cond_p.partial_eval_jaxpr = _cond_partial_eval_jaxpr


def _cond_transpose(cts, index, *ops, branches):
    if ad.is_undefined_primal(index):
        raise TypeError("cond: the branch index cannot be differentiated")
    linear = [ad.is_undefined_primal(o) for o in ops]
    if all(type(c) is Zero for c in cts) or not any(linear):
        return [None] * (1 + len(ops))
    out_avals = _cond_abstract_outs(branches)
    cts = [instantiate(Zero(_ct_aval(a))) if type(c) is Zero else c
           for c, a in zip(cts, out_avals)]
    pairs = [transpose_jaxpr(b, linear) for b in branches]
    joined, consts = _join_consts(pairs)
    res = [o for o in ops if not ad.is_undefined_primal(o)]
    outs = cond_p.bind(index, *consts, *res, *cts, branches=joined)
    it = iter(outs)
    return [None] + [next(it) if l else None for l in linear]


cond_p.transpose = _cond_transpose
cond_p.test_spec = {"skip": "control flow: covered by tests/test_control_flow.py"}


def _check_pred(pred, what):
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"{what}: the predicate must be a scalar, got an array of shape "
                        f"{aval.shape} ({aval.str_short()}). Reduce it first (fnp.all / "
                        "fnp.any), or use fnp.where for an elementwise choice (or vmap).")
    if aval.dtype != np.bool_:
        raise TypeError(f"{what}: the predicate must be boolean, got dtype {aval.dtype.name} "
                        f"({aval.str_short()}). Compare explicitly, e.g. pred != 0.")


def _bind_branches(index, funs, names, operands, what):
    """Trace every branch on ``operands`` and bind ``cond_p``; returns the output pytree."""
    ops_l, in_tree = pytree.tree_flatten(tuple(operands))
    ops_l = [_as_operand(x, what) for x in ops_l]
    in_avals = [get_aval(x) for x in ops_l]
    traced = [_trace_flat(f, in_tree, in_avals, n, what) for f, n in zip(funs, names)]
    tree0, name0 = traced[0][2], names[0]
    for (jc, consts, tree, paths), n in zip(traced[1:], names[1:]):
        if tree != tree0:
            raise TypeError(f"{what}: {name0} and {n} must return the same pytree structure, "
                            f"got {tree0} and {tree}")
    # output types: equal shapes and dtypes; a weakly-typed leaf adopts the other's dtype
    nout = len(traced[0][0].out_avals)
    paths0 = traced[0][3]
    targets = []
    for k in range(nout):
        avs = [t[0].out_avals[k] for t in traced]
        strong = [a for a in avs if not a.weak_type]
        ref = strong[0] if strong else avs[0]
        for bi, a in enumerate(avs):
            if a.shape != ref.shape or (a.dtype != ref.dtype and not a.weak_type):
                other = names[avs.index(ref)]
                raise TypeError(
                    f"{what}: branch outputs must have the same types, but at "
                    f"{_path_str('output', paths0[k])} {names[bi]} returns {a.str_short()} "
                    f"and {other} returns {ref.str_short()}")
        if strong:
            for a in strong:
                if a.dtype != ref.dtype:
                    raise TypeError(
                        f"{what}: branch outputs must have the same types, but at "
                        f"{_path_str('output', paths0[k])} the branches return "
                        f"{', '.join(x.str_short() for x in avs)}")
        targets.append(ref)
    fixed = []
    for (jc, consts, tree, paths), f, n in zip(traced, funs, names):
        if any(a.dtype != t.dtype for a, t in zip(jc.out_avals, targets)):
            def conv(*args, f=f):
                out = f(*args)
                leaves, tr = pytree.tree_flatten(out)
                leaves = [convert_element_type(l, t.dtype, t.weak_type)
                          if get_aval(l).dtype != t.dtype else l
                          for l, t in zip(leaves, targets)]
                return pytree.tree_unflatten(tr, leaves)
            jc, consts, tree, paths = _trace_flat(conv, in_tree, in_avals, n, what)
        fixed.append((jc, consts))
    joined, consts = _join_consts(fixed)
    outs = cond_p.bind(index, *consts, *ops_l, branches=joined)
    return pytree.tree_unflatten(tree0, outs)


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, staged.

    ``pred`` must be a boolean scalar.  Both branches are traced; under ``vmap`` with a
    batched predicate both run and the results are selected per element.  Branches must
    return the same pytree of the same types (weakly-typed scalars adapt).

    >>> import funcgrad.numpy as fnp
    >>> cond(fnp.array(2.0) > 1, lambda x: x * 2, lambda x: -x, fnp.array(3.0))
    Array(6., dtype=float32, weak_type=True)
    >>> funcgrad.grad(lambda x: cond(x > 0, fnp.sin, fnp.cos, x))(1.0)   # cos(1)
    Array(0.5403023, dtype=float32, weak_type=True)
    """
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("cond: true_fun and false_fun must be callables: "
                        "cond(pred, true_fun, false_fun, *operands)")
    pred = _as_operand(pred, "cond") if not isinstance(pred, Tracer) else pred
    _check_pred(pred, "cond")
    index = convert_element_type(pred, _INT32)
    return _bind_branches(index, (false_fun, true_fun), ("false_fun", "true_fun"),
                          operands, "cond")


def switch(index, branches, *operands):
    """``branches[index](*operands)``, staged; ``index`` is clamped to ``[0, len-1]``.

    >>> switch(2, [lambda x: x, lambda x: x * 2, lambda x: x * 3], fnp.array(1.0))
    Array(3., dtype=float32, weak_type=True)
    >>> switch(7, [lambda: 0, lambda: 1])     # clamped, like JAX
    Array(1, dtype=int32, weak_type=True)
    """
    branches = tuple(branches)
    if not branches:
        raise ValueError("switch: needs at least one branch")
    for b in branches:
        if not callable(b):
            raise TypeError(f"switch: branches must be callables, got {type(b).__name__}")
    index = _as_operand(index, "switch") if not isinstance(index, Tracer) else index
    aval = get_aval(index)
    if aval.shape != ():
        raise TypeError(f"switch: the index must be a scalar, got shape {aval.shape}")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"switch: the index must be an integer, got dtype {aval.dtype.name}; "
                        "convert it, e.g. index.astype(fnp.int32)")
    if len(branches) == 1:
        return branches[0](*operands)
    index = convert_element_type(index, _INT32)
    index = clamp(np.int32(0), index, np.int32(len(branches) - 1))
    names = tuple(f"branch {i} ({_fun_name(b)})" for i, b in enumerate(branches))
    return _bind_branches(index, branches, names, operands, "switch")


# ============================================================================ scan

scan_p = Primitive("scan", multiple_results=True)
scan_p.call_jaxpr_params = ("jaxpr",)


@scan_p.def_impl
def _scan_impl(*args, jaxpr, num_consts, num_carry, length, reverse):
    exe, raw_out = _executable(jaxpr, with_kind=True)
    nc, nk = num_consts, num_carry
    xs = args[nc + nk:]
    xp = _xp_of(args)
    empty = _stack_pool.empty if xp is np else xp.empty
    ys = [empty((length,) + a.shape, a.dtype) for a in jaxpr.out_avals[nk:]]
    ins = list(args[:nc + nk]) + [None] * len(xs)     # reused argument list
    x_pos = list(enumerate(xs, nc + nk))
    y_pos = list(enumerate(ys, nk))
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        for j, x in x_pos:
            ins[j] = x[i]
        outs = exe(*ins)
        if not raw_out:
            outs = [_raw(o) for o in outs]
        ins[nc:nc + nk] = outs[:nk]
        for k, buf in y_pos:
            buf[i] = outs[k]
    return ins[nc:nc + nk] + ys


@scan_p.def_abstract_eval
def _scan_abstract(*avals, jaxpr, num_consts, num_carry, length, reverse):
    in_avals = jaxpr.in_avals
    n_x = len(avals) - num_consts - num_carry
    if len(in_avals) != len(avals) or n_x < 0:
        raise TypeError(f"scan: the body takes {len(in_avals)} inputs but got {len(avals)} "
                        "operands")
    for k, (a, b) in enumerate(zip(avals[:num_consts + num_carry], in_avals)):
        if not a.same_type(b):
            raise TypeError(f"scan: operand {k} has type {a.str_short()} but the body expects "
                            f"{b.str_short()}")
    for k, (a, b) in enumerate(zip(avals[num_consts + num_carry:],
                                   in_avals[num_consts + num_carry:])):
        if a.shape != (length,) + b.shape or a.dtype != b.dtype:
            raise TypeError(f"scan: xs operand {k} has type {a.str_short()} but the body "
                            f"expects slices {b.str_short()} stacked {length} times")
    outs = jaxpr.out_avals
    carry_in = in_avals[num_consts:num_consts + num_carry]
    for k, (a, b) in enumerate(zip(outs[:num_carry], carry_in)):
        if not a.same_type(b):
            raise TypeError(f"scan: carry {k} enters the body as {b.str_short()} but leaves "
                            f"it as {a.str_short()}")
    return list(carry_in) + [ShapedArray((length,) + a.shape, a.dtype, a.weak_type)
                             for a in outs[num_carry:]]


def _split3(xs, a, b):
    return list(xs[:a]), list(xs[a:a + b]), list(xs[a + b:])


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    nz = [type(t) is not Zero for t in tangents]
    const_nz, init_nz, xs_nz = _split3(nz, nc, nk)
    ny = len(jaxpr.out_avals) - nk
    carry_nz = list(init_nz)
    for _ in range(nk + 1):
        out_nz = _jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * ny)[2]
        new = [a or b for a, b in zip(carry_nz, out_nz[:nk])]
        if new == carry_nz:
            break
        carry_nz = new
    jc, hconsts, out_nz = _jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz,
                                     carry_nz + [False] * ny)
    nh, nx = len(hconsts), len(primals) - nc - nk
    n_ct, n_kt, n_xt = sum(const_nz), sum(carry_nz), sum(xs_nz)
    P = nh                      # primal inputs start
    T = nh + nc + nk + nx       # tangent inputs start
    in_perm = (list(range(nh)) + list(range(P, P + nc)) + list(range(T, T + n_ct))
               + list(range(P + nc, P + nc + nk)) + list(range(T + n_ct, T + n_ct + n_kt))
               + list(range(P + nc + nk, P + nc + nk + nx))
               + list(range(T + n_ct + n_kt, T + n_ct + n_kt + n_xt)))
    ys_nz = list(out_nz[nk:])
    n_yt = sum(ys_nz)
    Q = nk + ny                 # tangent outputs start
    out_perm = (list(range(nk)) + list(range(Q, Q + n_kt)) + list(range(nk, nk + ny))
                + list(range(Q + n_kt, Q + n_kt + n_yt)))
    body = _reorder(jc, in_perm, out_perm)
    consts, init, xs = _split3(primals, nc, nk)
    c_t, i_t, x_t = _split3(tangents, nc, nk)
    args = (list(hconsts) + consts + [t for t in c_t if type(t) is not Zero]
            + init + [instantiate(t) for t, z in zip(i_t, carry_nz) if z]
            + xs + [t for t in x_t if type(t) is not Zero])
    outs = scan_p.bind(*args, jaxpr=body, num_consts=nh + nc + n_ct, num_carry=nk + n_kt,
                       length=length, reverse=reverse)
    carry, carry_t = outs[:nk], iter(outs[nk:nk + n_kt])
    ys, ys_t = outs[nk + n_kt:nk + n_kt + ny], iter(outs[nk + n_kt + ny:])
    carry_avals = jaxpr.in_avals[nc:nc + nk]
    t_carry = [next(carry_t) if z else Zero(_ct_aval(a)) for z, a in zip(carry_nz, carry_avals)]
    y_avals = jaxpr.out_avals[nk:]
    t_ys = [next(ys_t) if z else Zero(ShapedArray((length,) + a.shape, a.dtype))
            for z, a in zip(ys_nz, y_avals)]
    return list(carry) + list(ys), t_carry + t_ys


scan_p.jvp = _scan_jvp


def _scan_batch(args, dims, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    size = batching.axis_size_of(args, dims)
    cd, kd, xd = _split3(dims, nc, nk)
    const_b = [d is not None for d in cd]
    carry_b = [d is not None for d in kd]
    xs_b = [d is not None for d in xd]
    ny = len(jaxpr.out_avals) - nk
    for _ in range(nk + 1):
        out_b = batch_jaxpr(jaxpr, size, tuple(const_b + carry_b + xs_b),
                            out_force=tuple(carry_b + [False] * ny))[2]
        new = [a or b for a, b in zip(carry_b, out_b[:nk])]
        if new == carry_b:
            break
        carry_b = new
    jc, hconsts, out_b = batch_jaxpr(jaxpr, size, tuple(const_b + carry_b + xs_b),
                                     out_force=tuple(carry_b + [False] * ny))
    consts, init, xs = _split3(args, nc, nk)
    consts = [batching.moveaxis(c, d, 0) if d is not None else c for c, d in zip(consts, cd)]
    init = [batching.bdim_at_front(c, d, size) if b else c
            for c, d, b in zip(init, kd, carry_b)]
    xs = [batching.moveaxis(x, d, 1) if d is not None else x for x, d in zip(xs, xd)]
    outs = scan_p.bind(*hconsts, *consts, *init, *xs, jaxpr=jc,
                       num_consts=len(hconsts) + nc, num_carry=nk, length=length,
                       reverse=reverse)
    out_dims = [0 if b else None for b in carry_b] + [1 if b else None for b in out_b[nk:]]
    return outs, out_dims


scan_p.batch = _scan_batch


class _ScanPlan:
    """How to split one scan given which operands are unknown (see ``_scan_pe_plan``)."""

    __slots__ = ("known", "unknown", "carry_uk", "out_uk", "known_ops", "n_ck", "n_kk",
                 "n_kout", "n_stack", "unknown_ops", "n_cu", "n_ku", "inv", "inv_ops")


def _loop_invariant(jaxpr, n_consts):
    """The variables of ``jaxpr`` computed from its first ``n_consts`` inputs only."""
    inv = set(jaxpr.invars[:n_consts])
    for e in jaxpr.eqns:
        if not e.primitive.effectful and all(type(v) is Literal or v in inv
                                             for v in e.invars):
            inv.update(e.outvars)
    return inv


def _scan_pe_plan(jaxpr, nc, nk, unk):
    """Split the body given which operands are unknown.

    The known scan runs ``known`` on the known operands (``known_ops``: indices) and
    returns its known carries and ys, then ``n_stack`` stacked residuals.  Residuals that
    only depend on the known constants are not stacked: ``inv`` computes them once from
    the known constants ``inv_ops``.  The unknown scan runs ``unknown`` on
    ``unknown_ops``: entries ``("op", i)`` (operand ``i`` of the original scan: a
    forwarded residual or an unknown operand), ``("stack", j)`` (the ``j``-th stacked
    residual) or ``("inv", j)`` (the ``j``-th output of ``inv``)."""
    ny = len(jaxpr.out_avals) - nk
    const_uk, carry_uk, xs_uk = _split3(list(unk), nc, nk)
    for _ in range(nk + 1):
        out_uk = pe.partial_eval_jaxpr(jaxpr, const_uk + carry_uk + xs_uk,
                                       instantiate=carry_uk + [False] * ny)[2]
        new = [a or b for a, b in zip(carry_uk, out_uk[:nk])]
        if new == carry_uk:
            break
        carry_uk = new
    all_uk = const_uk + carry_uk + xs_uk
    known, unknown, out_uk, nres = pe.partial_eval_jaxpr(
        jaxpr, all_uk, instantiate=carry_uk + [False] * ny)
    kj = known.jaxpr
    n_kout = len(kj.outvars) - nres
    known_ops = [i for i, u in enumerate(all_uk) if not u]
    n_ck = sum(1 for u in const_uk if not u)
    n_kk = sum(1 for u in carry_uk if not u)
    pos = {v: p for p, v in enumerate(kj.invars)}
    invariant = _loop_invariant(kj, n_ck)
    uj = unknown.jaxpr
    res_binders = uj.invars[:nres]
    const_res, inv_res, xs_res, stack_res, stacked, inv_vars = [], [], [], [], [], []
    for v, b in zip(kj.outvars[n_kout:], res_binders):
        p = pos.get(v)
        if p is not None and p < n_ck:
            const_res.append((known_ops[p], b))
        elif p is not None and p >= n_ck + n_kk:
            xs_res.append((known_ops[p], b))
        elif p is None and v in invariant:
            inv_res.append((len(inv_vars), b))
            inv_vars.append(v)
        else:
            stack_res.append((len(stacked), b))
            stacked.append(v)
    plan = _ScanPlan()
    plan.known = ClosedJaxpr(pe.dce_jaxpr(Jaxpr([], kj.invars, kj.outvars[:n_kout] + stacked,
                                                 kj.eqns)), [])
    if inv_vars:
        inv_eqns = [e for e in kj.eqns if all(o in invariant for o in e.outvars)]
        plan.inv = ClosedJaxpr(pe.dce_jaxpr(Jaxpr([], kj.invars[:n_ck], inv_vars, inv_eqns)),
                               [])
    else:
        plan.inv = None
    plan.inv_ops = known_ops[:n_ck]
    u_in = uj.invars[nres:]
    n_cu = sum(const_uk)
    n_ku = sum(carry_uk)
    uk_idx = [i for i, u in enumerate(all_uk) if u]
    invars = ([b for _, b in const_res] + [b for _, b in inv_res] + u_in[:n_cu]
              + u_in[n_cu:n_cu + n_ku] + [b for _, b in stack_res] + [b for _, b in xs_res]
              + u_in[n_cu + n_ku:])
    plan.unknown = ClosedJaxpr(Jaxpr([], invars, uj.outvars, uj.eqns), [])
    plan.unknown_ops = ([("op", i) for i, _ in const_res] + [("inv", j) for j, _ in inv_res]
                        + [("op", i) for i in uk_idx[:n_cu]]
                        + [("op", i) for i in uk_idx[n_cu:n_cu + n_ku]]
                        + [("stack", j) for j, _ in stack_res] + [("op", i) for i, _ in xs_res]
                        + [("op", i) for i in uk_idx[n_cu + n_ku:]])
    plan.n_cu = len(const_res) + len(inv_res) + n_cu
    plan.n_ku = n_ku
    plan.carry_uk = carry_uk
    plan.out_uk = list(out_uk)
    plan.known_ops = known_ops
    plan.n_ck, plan.n_kk = n_ck, n_kk
    plan.n_kout = n_kout
    plan.n_stack = len(stacked)
    return plan


def _scan_known_part(plan, length, reverse, known_vals):
    """Run (or stage) the known half: ``(known outs, stacked residuals, invariants)``."""
    kouts = scan_p.bind(*known_vals, jaxpr=plan.known, num_consts=plan.n_ck,
                        num_carry=plan.n_kk, length=length, reverse=reverse)
    inv = []
    if plan.inv is not None:
        inv = eval_jaxpr(plan.inv.jaxpr, [], *known_vals[:plan.n_ck])
    return kouts[:plan.n_kout], kouts[plan.n_kout:], inv


def _scan_partial_eval(trace, tracers, *, jaxpr, num_consts, num_carry, length, reverse):
    unk = [not t.is_known for t in tracers]
    plan = _scan_pe_plan(jaxpr, num_consts, num_carry, unk)
    known_vals = [tracers[i].const for i in plan.known_ops]
    k_outs, stacked, inv = _scan_known_part(plan, length, reverse, known_vals)
    res = {"stack": [trace.instantiate_const(trace.pure(s)) for s in stacked],
           "inv": [trace.instantiate_const(trace.pure(s)) for s in inv]}
    u_in = [trace.instantiate_const(tracers[i]) if kind == "op" else res[kind][i]
            for kind, i in plan.unknown_ops]
    u_avals = _scan_abstract(*[t.aval for t in u_in], jaxpr=plan.unknown,
                             num_consts=plan.n_cu, num_carry=plan.n_ku, length=length,
                             reverse=reverse)
    if u_avals:
        u_outs = trace.default_process(
            scan_p, u_in, dict(jaxpr=plan.unknown, num_consts=plan.n_cu, num_carry=plan.n_ku,
                               length=length, reverse=reverse), out_avals=u_avals)
    else:
        u_outs = []
    k_it, u_it = iter(k_outs), iter(u_outs)
    return [next(u_it) if u else next(k_it) for u in plan.out_uk]


scan_p.partial_eval = _scan_partial_eval


def _scan_partial_eval_jaxpr(eqn, unk_ins):
    p = eqn.params
    plan = _scan_pe_plan(p["jaxpr"], p["num_consts"], p["num_carry"], unk_ins)
    length, reverse = p["length"], p["reverse"]
    s_avals = plan.known.out_avals[plan.n_kout:]
    stacked = [Var(ShapedArray((length,) + a.shape, a.dtype, a.weak_type)) for a in s_avals]
    inv = [Var(a) for a in plan.inv.out_avals] if plan.inv is not None else []
    known_in = [eqn.invars[i] for i in plan.known_ops]
    known_out = [v for v, u in zip(eqn.outvars, plan.out_uk) if not u] + stacked
    known_params = dict(jaxpr=plan.known, num_consts=plan.n_ck, num_carry=plan.n_kk,
                        length=length, reverse=reverse)
    if not inv:
        e_known = Eqn(scan_p, known_in, known_out, known_params, eqn.source)
    else:
        # the loop invariants are computed next to the known scan: wrap both in a call
        def both(*vals):
            k_outs, st, iv = _scan_known_part(plan, length, reverse, list(vals))
            return list(k_outs) + list(st) + list(iv)
        wrapped = _const_free(trace_to_jaxpr(both, [v.aval for v in known_in],
                                             name="scan(known)"))
        e_known = Eqn(jit_p, known_in, known_out + inv,
                      dict(jaxpr=wrapped, name="scan", donated=(False,) * len(known_in)),
                      eqn.source)
    res = {"stack": stacked, "inv": inv}
    e_unknown = Eqn(scan_p, [eqn.invars[i] if kind == "op" else res[kind][i]
                             for kind, i in plan.unknown_ops],
                    [v for v, u in zip(eqn.outvars, plan.out_uk) if u],
                    dict(jaxpr=plan.unknown, num_consts=plan.n_cu, num_carry=plan.n_ku,
                         length=length, reverse=reverse), eqn.source)
    return e_known, e_unknown, plan.out_uk


scan_p.partial_eval_jaxpr = _scan_partial_eval_jaxpr

_scan_t_cache = weakref.WeakKeyDictionary()


def _scan_transpose_body(jaxpr, nc, nk, c_lin, x_lin, ys_nz):
    """The body of the transposed scan:
    ``(res_consts, [ct_consts_acc, ct_carry], [res_xs, ct_ys]) ->
    ([ct_consts_acc', ct_carry_in], ct_xs)``, with its hoisted constants."""
    key = (nc, nk, tuple(c_lin), tuple(x_lin), tuple(ys_nz))
    d = _scan_t_cache.get(jaxpr)
    if d is None:
        d = _scan_t_cache[jaxpr] = {}
    r = d.get(key)
    if r is not None:
        return r
    in_avals = jaxpr.in_avals
    c_avals, k_avals, x_avals = _split3(in_avals, nc, nk)
    y_avals = jaxpr.out_avals[nk:]
    res_c = [a for a, l in zip(c_avals, c_lin) if not l]
    lin_c = [_ct_aval(a) for a, l in zip(c_avals, c_lin) if l]
    res_x = [a for a, l in zip(x_avals, x_lin) if not l]
    ct_k = [_ct_aval(a) for a in k_avals]
    ct_y = [_ct_aval(a) for a, z in zip(y_avals, ys_nz) if z]
    avals = res_c + lin_c + ct_k + res_x + ct_y

    def f(*args):
        rc, acc, ck, rx, cy = _splitn(args, [len(res_c), len(lin_c), len(ct_k), len(res_x)])
        rc_it, rx_it, cy_it = iter(rc), iter(rx), iter(cy)
        ins = ([ad.UndefinedPrimal(a) if l else next(rc_it) for a, l in zip(c_avals, c_lin)]
               + [ad.UndefinedPrimal(a) for a in k_avals]
               + [ad.UndefinedPrimal(a) if l else next(rx_it) for a, l in zip(x_avals, x_lin)])
        cts_out = list(ck) + [next(cy_it) if z else Zero(_ct_aval(a))
                              for a, z in zip(y_avals, ys_nz)]
        cts = ad.backward_pass(jaxpr.jaxpr, jaxpr.consts, ins, cts_out)
        ct_c, ct_kin, ct_x = _split3(cts, nc, nk)
        new_acc = []
        for a, c in zip(acc, [c for c, l in zip(ct_c, c_lin) if l]):
            new_acc.append(a if type(c) is Zero else add_any_p.bind(a, c))
        return (new_acc + [instantiate(c) for c in ct_kin]
                + [instantiate(c) for c, l in zip(ct_x, x_lin) if l])

    jc, consts = hoist_consts(trace_to_jaxpr(f, avals, name="transpose(scan)"))
    r = d[key] = (jc, consts, len(res_c), len(lin_c), len(res_x))
    return r


def _splitn(xs, sizes):
    out, i = [], 0
    for s in sizes:
        out.append(list(xs[i:i + s]))
        i += s
    out.append(list(xs[i:]))
    return out


#: the most extra memory (bytes) that hoisting constant-cotangent sums out of a
#: transposed scan may use for stacking their per-step operands
FISSION_MAX_BYTES = 32 << 20


def _accumulator_fission(body, n_const, n_acc, n_xs_in, length):
    """Find accumulators ``acc' = acc + g`` of the transposed body where ``g`` is
    ``dot_general(a, b)`` (optionally transposed) or ``reduce_sum(a)`` of per-step values:
    ``sum_t g_t`` is then one big contraction over the stacked ``a_t, b_t`` after the loop
    (one large matmul instead of ``length`` small ones).

    Returns ``None`` or ``(new_body, keep, plans, stack)``: ``keep[k]`` says accumulator
    ``k`` stays in the loop; ``plans[k]`` is ``("dot", ia, ib, params, perm)`` or
    ``("sum", ia, axes)`` with ``ia``/``ib`` indices into ``stack``, whose entries are
    ``("xs", i)`` (the ``i``-th xs operand of the scan) or ``("y", i)`` (the ``i``-th new
    stacked output of ``new_body``, after the original outputs)."""
    from .dot import dot_general_p
    from .reductions import reduce_sum_p
    from .structural import transpose_p
    j = body.jaxpr
    acc_vars = j.invars[n_const:n_const + n_acc]
    xs_vars = j.invars[len(j.invars) - n_xs_in:] if n_xs_in else []
    xs_pos = {v: i for i, v in enumerate(xs_vars)}
    defs = {}
    uses = {}
    for e in j.eqns:
        for v in e.outvars:
            defs[v] = e
        for v in e.invars:
            if type(v) is not Literal:
                uses[v] = uses.get(v, 0) + 1
    for v in j.outvars:
        if type(v) is not Literal:
            uses[v] = uses.get(v, 0) + 1
    invariant = _loop_invariant(j, n_const)
    dep_acc = set(acc_vars)
    for e in j.eqns:
        if any(type(v) is not Literal and v in dep_acc for v in e.invars):
            dep_acc.update(e.outvars)

    def per_step(v):
        return type(v) is Var and v not in invariant and v not in dep_acc

    plans = {}
    for k, acc in enumerate(acc_vars):
        e = defs.get(j.outvars[k])
        if e is None or e.primitive is not add_any_p or uses.get(acc, 0) != 1:
            continue
        a0, a1 = e.invars
        g = a1 if a0 is acc else (a0 if a1 is acc else None)
        if type(g) is not Var:
            continue
        ge, perm = defs.get(g), None
        if ge is not None and ge.primitive is transpose_p:
            perm = tuple(ge.params["permutation"])
            ge = defs.get(ge.invars[0]) if type(ge.invars[0]) is Var else None
        if ge is None:
            continue
        if ge.primitive is dot_general_p and all(per_step(v) for v in ge.invars):
            plans[k] = ("dot", ge.invars[0], ge.invars[1], ge.params, perm)
        elif ge.primitive is reduce_sum_p and perm is None and per_step(ge.invars[0]):
            plans[k] = ("sum", ge.invars[0], tuple(ge.params["axes"]))
    if not plans:
        return None
    stack, index = [], {}
    extra = 0

    def slot(v):
        nonlocal extra
        if v not in index:
            if v in xs_pos:
                stack.append(("xs", xs_pos[v]))
            else:
                stack.append(("y", v))
                extra += length * v.aval.size * v.aval.dtype.itemsize
            index[v] = len(stack) - 1
        return index[v]

    out_plans = {}
    for k, pl in plans.items():
        if pl[0] == "dot":
            out_plans[k] = ("dot", slot(pl[1]), slot(pl[2]), pl[3], pl[4])
        else:
            out_plans[k] = ("sum", slot(pl[1]), pl[2])
    if extra > FISSION_MAX_BYTES:
        return None
    keep = [k not in out_plans for k in range(n_acc)]
    new_y = [v for kind, v in stack if kind == "y"]
    stack = [(kind, v) if kind == "xs" else ("y", new_y.index(v)) for kind, v in stack]
    invars = (j.invars[:n_const] + [v for v, kp in zip(acc_vars, keep) if kp]
              + j.invars[n_const + n_acc:])
    outvars = ([v for v, kp in zip(j.outvars[:n_acc], keep) if kp] + j.outvars[n_acc:]
               + new_y)
    new_body = ClosedJaxpr(pe.dce_jaxpr(Jaxpr([], invars, outvars, j.eqns)), [])
    return new_body, keep, out_plans, stack


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    consts, init, xs = _split3(args, nc, nk)
    c_lin = [ad.is_undefined_primal(c) for c in consts]
    x_lin = [ad.is_undefined_primal(x) for x in xs]
    k_lin = [ad.is_undefined_primal(c) for c in init]
    ct_carry, ct_ys = cts[:nk], cts[nk:]
    if all(type(c) is Zero for c in cts) or not (any(c_lin) or any(x_lin) or any(k_lin)):
        return [None] * len(args)
    ys_nz = [type(c) is not Zero for c in ct_ys]
    jc, hconsts, n_rc, n_lc, n_rx = _scan_transpose_body(jaxpr, nc, nk, c_lin, x_lin, ys_nz)
    carry_avals = jaxpr.in_avals[nc:nc + nk]
    ct_carry = [instantiate(Zero(_ct_aval(a))) if type(c) is Zero else c
                for c, a in zip(ct_carry, carry_avals)]
    lin_c_avals = [_ct_aval(a) for a, l in zip(jaxpr.in_avals[:nc], c_lin) if l]
    res_c = [c for c, l in zip(consts, c_lin) if not l]
    scan_xs = [x for x, l in zip(xs, x_lin) if not l] + [c for c in ct_ys if type(c) is not Zero]
    n_const = len(hconsts) + n_rc
    d = _scan_t_cache[jaxpr]
    fkey = ("fission", nc, nk, tuple(c_lin), tuple(x_lin), tuple(ys_nz), length)
    if fkey not in d:
        d[fkey] = _accumulator_fission(jc, n_const, n_lc, len(scan_xs), length)
    fis = d[fkey]
    if fis is None:
        keep, plans, stack, body = [True] * n_lc, {}, [], jc
    else:
        body, keep, plans, stack = fis
    acc0 = [_zeros(a) for a, kp in zip(lin_c_avals, keep) if kp]
    n_keep = len(acc0)
    outs = scan_p.bind(*hconsts, *res_c, *acc0, *ct_carry, *scan_xs,
                       jaxpr=body, num_consts=n_const, num_carry=n_keep + nk,
                       length=length, reverse=not reverse)
    n_lx = sum(x_lin)
    acc_out = iter(outs[:n_keep])
    ct_k = outs[n_keep:n_keep + nk]
    ct_x = iter(outs[n_keep + nk:n_keep + nk + n_lx])
    stacked_y = outs[n_keep + nk + n_lx:]
    stacked = [scan_xs[i] if kind == "xs" else stacked_y[i] for kind, i in stack]
    ct_c = []
    for k in range(n_lc):
        if keep[k]:
            ct_c.append(next(acc_out))
            continue
        pl = plans[k]
        if pl[0] == "dot":
            _, ia, ib, params, perm = pl
            (ca, cb), (ba, bb) = params["dimension_numbers"]
            dn = (((0,) + tuple(d + 1 for d in ca), (0,) + tuple(d + 1 for d in cb)),
                  (tuple(d + 1 for d in ba), tuple(d + 1 for d in bb)))
            from .dot import dot_general_p
            from .structural import transpose
            r = dot_general_p.bind(stacked[ia], stacked[ib], **dict(params, dimension_numbers=dn))
            ct_c.append(transpose(r, perm) if perm is not None else r)
        else:
            _, ia, axes = pl
            from .reductions import reduce_sum
            ct_c.append(reduce_sum(stacked[ia], (0,) + tuple(d + 1 for d in axes)))
    ct_c = iter(ct_c)
    return ([next(ct_c) if l else None for l in c_lin]
            + [c if l else None for c, l in zip(ct_k, k_lin)]
            + [next(ct_x) if l else None for l in x_lin])


scan_p.transpose = _scan_transpose
scan_p.test_spec = {"skip": "control flow: covered by tests/test_control_flow.py"}


def _scan_dce(eqn, used_outputs):
    """Drop the stacked outputs nobody reads, and the carries that neither a read output
    nor another kept carry needs (a fixed point over the body); then the consts and xs
    the smaller body no longer reads."""
    p = eqn.params
    nc, nk = p["num_consts"], p["num_carry"]
    body = p["jaxpr"]
    j = body.jaxpr
    if any(has_effect for has_effect in (e.primitive.effectful for e in j.eqns)):
        return eqn, [True] * len(eqn.invars)
    used_ys = list(used_outputs[nk:])
    keep_carry = list(used_outputs[:nk])
    while True:
        new_j, used_in = pe.dce_jaxpr_outputs(j, keep_carry + used_ys)
        grown = [k or u for k, u in zip(keep_carry, used_in[nc:nc + nk])]
        if grown == keep_carry:
            break
        keep_carry = grown
    keep_in = (used_in[:nc] + keep_carry + used_in[nc + nk:])
    if all(keep_in) and all(keep_carry) and all(used_ys):
        return eqn, [True] * len(eqn.invars)
    invars = [v for v, k in zip(j.invars, keep_in) if k]
    new_body = ClosedJaxpr(Jaxpr([], invars, new_j.outvars, new_j.eqns), [])
    outvars = ([o for o, k in zip(eqn.outvars[:nk], keep_carry) if k]
               + [o for o, k in zip(eqn.outvars[nk:], used_ys) if k])
    params = dict(p, jaxpr=new_body, num_consts=sum(keep_in[:nc]),
                  num_carry=sum(keep_carry))
    new = eqn.replace(invars=[v for v, k in zip(eqn.invars, keep_in) if k],
                      outvars=outvars, params=params)
    return new, [True] * len(new.invars)


scan_p.dce_rule = _scan_dce


# ============================================================================ while

while_p = Primitive("while", multiple_results=True)
while_p.call_jaxpr_params = ("cond_jaxpr", "body_jaxpr")


@while_p.def_impl
def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts, max_steps):
    cexe, bexe = _executable(cond_jaxpr), _executable(body_jaxpr)
    cc = args[:cond_nconsts]
    bc = args[cond_nconsts:cond_nconsts + body_nconsts]
    carry = list(args[cond_nconsts + body_nconsts:])
    i = 0
    while (max_steps is None or i < max_steps) and bool(_raw(cexe(*cc, *carry)[0])):
        carry = [_raw(o) for o in bexe(*bc, *carry)]
        i += 1
    return carry


@while_p.def_abstract_eval
def _while_abstract(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts, max_steps):
    cc, bc, carry = _split3(avals, cond_nconsts, body_nconsts)
    if len(cond_jaxpr.in_avals) != len(cc) + len(carry) or \
            len(body_jaxpr.in_avals) != len(bc) + len(carry):
        raise TypeError("while: operand counts do not match the cond/body jaxprs")
    for k, (a, b) in enumerate(zip(cc + carry, cond_jaxpr.in_avals)):
        if not a.same_type(b):
            raise TypeError(f"while: cond operand {k} has type {a.str_short()} but the cond "
                            f"function expects {b.str_short()}")
    for k, (a, b) in enumerate(zip(bc + carry, body_jaxpr.in_avals)):
        if not a.same_type(b):
            raise TypeError(f"while: body operand {k} has type {a.str_short()} but the body "
                            f"expects {b.str_short()}")
    outs = cond_jaxpr.out_avals
    if len(outs) != 1 or outs[0].shape != () or outs[0].dtype != np.bool_:
        raise TypeError(f"while: cond must return one boolean scalar, got "
                        f"{[a.str_short() for a in outs]}")
    c_in = body_jaxpr.in_avals[len(bc):]
    for k, (a, b) in enumerate(zip(body_jaxpr.out_avals, c_in)):
        if not a.same_type(b):
            raise TypeError(f"while: carry {k} enters the body as {b.str_short()} but leaves "
                            f"it as {a.str_short()}")
    return list(c_in)


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts,
               max_steps):
    ncc, nbc = cond_nconsts, body_nconsts
    nz = [type(t) is not Zero for t in tangents]
    _, bc_nz, init_nz = _split3(nz, ncc, nbc)
    nk = len(primals) - ncc - nbc
    carry_nz = list(init_nz)
    for _ in range(nk + 1):
        out_nz = _jvp_jaxpr(body_jaxpr, bc_nz + carry_nz, carry_nz)[2]
        new = [a or b for a, b in zip(carry_nz, out_nz)]
        if new == carry_nz:
            break
        carry_nz = new
    if not any(carry_nz):
        outs = while_p.bind(*primals, cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr,
                            cond_nconsts=ncc, body_nconsts=nbc, max_steps=max_steps)
        return outs, [Zero(_ct_aval(get_aval(o))) for o in outs]
    jc, hconsts, _ = _jvp_jaxpr(body_jaxpr, bc_nz + carry_nz, carry_nz)
    nh = len(hconsts)
    n_bt, n_kt = sum(bc_nz), sum(carry_nz)
    T = nh + nbc + nk
    in_perm = (list(range(nh + nbc)) + list(range(T, T + n_bt))
               + list(range(nh + nbc, nh + nbc + nk)) + list(range(T + n_bt, T + n_bt + n_kt)))
    body = _reorder(jc, in_perm)
    carry_avals = body_jaxpr.in_avals[nbc:]
    cond = _add_invars(cond_jaxpr, [_ct_aval(a) for a, z in zip(carry_avals, carry_nz) if z])
    cc, bc, init = _split3(primals, ncc, nbc)
    _, bc_t, init_t = _split3(tangents, ncc, nbc)
    args = (cc + list(hconsts) + bc + [t for t in bc_t if type(t) is not Zero] + init
            + [instantiate(t) for t, z in zip(init_t, carry_nz) if z])
    outs = while_p.bind(*args, cond_jaxpr=cond, body_jaxpr=body, cond_nconsts=ncc,
                        body_nconsts=nh + nbc + n_bt, max_steps=max_steps)
    carry, t_it = outs[:nk], iter(outs[nk:])
    return carry, [next(t_it) if z else Zero(_ct_aval(a)) for z, a in zip(carry_nz, carry_avals)]


while_p.jvp = _while_jvp


def _while_batch(args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts,
                 max_steps):
    ncc, nbc = cond_nconsts, body_nconsts
    size = batching.axis_size_of(args, dims)
    ccd, bcd, kd = _split3(dims, ncc, nbc)
    cc_b = [d is not None for d in ccd]
    bc_b = [d is not None for d in bcd]
    carry_b = [d is not None for d in kd]
    nk = len(kd)
    cc, bc, init = _split3(args, ncc, nbc)
    cc = [batching.moveaxis(c, d, 0) if d is not None else c for c, d in zip(cc, ccd)]
    bc = [batching.moveaxis(c, d, 0) if d is not None else c for c, d in zip(bc, bcd)]

    def fix(carry_b):
        for _ in range(nk + 1):
            out_b = batch_jaxpr(body_jaxpr, size, tuple(bc_b + carry_b),
                                out_force=tuple(carry_b))[2]
            new = [a or b for a, b in zip(carry_b, out_b)]
            if new == carry_b:
                break
            carry_b = new
        return carry_b

    carry_b = fix(carry_b)
    pred_b = batch_jaxpr(cond_jaxpr, size, tuple(cc_b + carry_b))[2][0]
    if not pred_b:
        cj, ch, _ = batch_jaxpr(cond_jaxpr, size, tuple(cc_b + carry_b))
        bj, bh, _ = batch_jaxpr(body_jaxpr, size, tuple(bc_b + carry_b),
                                out_force=tuple(carry_b))
        init = [batching.bdim_at_front(c, d, size) if b else c
                for c, d, b in zip(init, kd, carry_b)]
        outs = while_p.bind(*ch, *cc, *bh, *bc, *init, cond_jaxpr=cj, body_jaxpr=bj,
                            cond_nconsts=len(ch) + ncc, body_nconsts=len(bh) + nbc,
                            max_steps=max_steps)
        return outs, [0 if b else None for b in carry_b]
    # a batched predicate: loop while any lane runs; finished lanes keep their carry
    carry_b = [True] * nk
    cj, ch, _ = batch_jaxpr(cond_jaxpr, size, tuple(cc_b + carry_b))
    bj, bh, _ = batch_jaxpr(body_jaxpr, size, tuple(bc_b + carry_b), out_force=True)
    init = [batching.bdim_at_front(c, d, size) for c, d in zip(init, kd)]
    cc_avals = [get_aval(c) for c in cc]
    bc_avals = [get_aval(c) for c in bc]
    carry_avals = [get_aval(c) for c in init]

    def new_cond(*a):
        pred = eval_jaxpr(cj.jaxpr, cj.consts, *ch, *a)[0]
        return [reduce_or(pred, axes=(0,))]

    def new_body(*a):
        cc_, bc_, carry = _split3(a, ncc, nbc)
        pred = eval_jaxpr(cj.jaxpr, cj.consts, *ch, *cc_, *carry)[0]
        new = eval_jaxpr(bj.jaxpr, bj.consts, *bh, *bc_, *carry)
        outs = []
        for old, nw in zip(carry, new):
            shape = get_aval(old).shape
            which = pred if len(shape) == 1 else broadcast_in_dim(pred, shape, (0,))
            outs.append(select_n(which, old, nw))
        return outs

    cjx, cconsts = hoist_consts(trace_to_jaxpr(new_cond, cc_avals + carry_avals,
                                               name="vmap(while cond)"))
    bjx, bconsts = hoist_consts(trace_to_jaxpr(new_body, cc_avals + bc_avals + carry_avals,
                                               name="vmap(while body)"))
    outs = while_p.bind(*cconsts, *cc, *bconsts, *cc, *bc, *init, cond_jaxpr=cjx,
                        body_jaxpr=bjx, cond_nconsts=len(cconsts) + ncc,
                        body_nconsts=len(bconsts) + ncc + nbc, max_steps=max_steps)
    return outs, [0] * nk


while_p.batch = _while_batch


def _while_carry_uk(body_jaxpr, bc_uk, carry_uk):
    nk = len(carry_uk)
    carry_uk = list(carry_uk)
    for _ in range(nk + 1):
        out_uk = pe.partial_eval_jaxpr(body_jaxpr, bc_uk + carry_uk, instantiate=carry_uk)[2]
        new = [a or b for a, b in zip(carry_uk, out_uk)]
        if new == carry_uk:
            break
        carry_uk = new
    return carry_uk


def _cond_reads(cond_jaxpr, ncc, carry_uk):
    used = _used_vars(cond_jaxpr.jaxpr)
    carry_vars = cond_jaxpr.jaxpr.invars[ncc:]
    return any(u and v in used for v, u in zip(carry_vars, carry_uk))


def _while_known_part(cond_jaxpr, body_jaxpr, ncc, nbc, bc_uk, carry_uk):
    """Cond and body restricted to the known carries (and known body consts)."""
    cond_k = _drop_invars(cond_jaxpr, [True] * ncc + [not u for u in carry_uk])
    known, _, _, nres = pe.partial_eval_jaxpr(body_jaxpr, bc_uk + carry_uk,
                                              instantiate=carry_uk)
    kj = known.jaxpr
    body_k = ClosedJaxpr(pe.dce_jaxpr(Jaxpr([], kj.invars, kj.outvars[:len(kj.outvars) - nres],
                                            kj.eqns)), [])
    return cond_k, body_k


_REVERSE_WHILE_MSG = (
    "Reverse-mode differentiation (grad, vjp, jacrev) of lax.while_loop is not supported "
    "when the number of iterations is only known at run time. Pass max_steps=N to "
    "while_loop (an upper bound on the number of iterations; the loop then becomes "
    "reverse-differentiable), or use lax.fori_loop with static (Python int) bounds or "
    "lax.scan. Forward mode (jvp, jacfwd) works as is.")


def _while_partial_eval(trace, tracers, *, cond_jaxpr, body_jaxpr, cond_nconsts,
                        body_nconsts, max_steps):
    ncc, nbc = cond_nconsts, body_nconsts
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=ncc,
                  body_nconsts=nbc, max_steps=max_steps)
    unk = [not t.is_known for t in tracers]
    cc_uk, bc_uk, init_uk = _split3(unk, ncc, nbc)
    carry_uk = _while_carry_uk(body_jaxpr, bc_uk, init_uk)
    if any(cc_uk) or _cond_reads(cond_jaxpr, ncc, carry_uk):
        return trace.default_process(while_p, [trace.instantiate_const(t) for t in tracers],
                                     params)
    if max_steps is not None and any(carry_uk):
        # reverse-differentiable form: a scan of max_steps masked iterations
        return _while_as_scan(cond_jaxpr, body_jaxpr, ncc, nbc, max_steps, list(tracers))
    cc, bc, init = _split3(tracers, ncc, nbc)
    cond_k, body_k = _while_known_part(cond_jaxpr, body_jaxpr, ncc, nbc, bc_uk, carry_uk)
    k_outs = while_p.bind(*[t.const for t in cc],
                          *[t.const for t, u in zip(bc, bc_uk) if not u],
                          *[t.const for t, u in zip(init, carry_uk) if not u],
                          cond_jaxpr=cond_k, body_jaxpr=body_k, cond_nconsts=ncc,
                          body_nconsts=sum(1 for u in bc_uk if not u), max_steps=max_steps)
    if any(carry_uk):
        # the unknown loop recomputes everything (its transpose raises a clear error)
        u_outs = trace.default_process(while_p, [trace.instantiate_const(t) for t in tracers],
                                       params)
    else:
        u_outs = [None] * len(carry_uk)
    k_it = iter(k_outs)
    return [uo if u else next(k_it) for uo, u in zip(u_outs, carry_uk)]


while_p.partial_eval = _while_partial_eval


def _while_partial_eval_jaxpr(eqn, unk_ins):
    p = eqn.params
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
    cc_uk, bc_uk, init_uk = _split3(list(unk_ins), ncc, nbc)
    carry_uk = _while_carry_uk(p["body_jaxpr"], bc_uk, init_uk)
    if any(cc_uk) or _cond_reads(p["cond_jaxpr"], ncc, carry_uk):
        return None
    if p["max_steps"] is not None and any(carry_uk):
        # stage the masked-scan form and split it, each half wrapped in a jit call
        in_avals = [v.aval for v in eqn.invars]
        closed = trace_to_jaxpr(
            lambda *a: _while_as_scan(p["cond_jaxpr"], p["body_jaxpr"], ncc, nbc,
                                      p["max_steps"], list(a)),
            in_avals, name="while_loop(max_steps)")
        closed = _const_free(closed)
        known, unknown, out_uk, nres = pe.partial_eval_jaxpr(closed, unk_ins)
        known, unknown = _const_free(known), _const_free(unknown)
        res_vars = [Var(a) for a in known.out_avals[len(known.out_avals) - nres:]]
        k_in = [v for v, u in zip(eqn.invars, unk_ins) if not u]
        u_in = [v for v, u in zip(eqn.invars, unk_ins) if u]
        e_known = Eqn(jit_p, k_in, [v for v, u in zip(eqn.outvars, out_uk) if not u] + res_vars,
                      dict(jaxpr=known, name="while_loop", donated=(False,) * len(k_in)),
                      eqn.source)
        e_unknown = Eqn(jit_p, res_vars + u_in, [v for v, u in zip(eqn.outvars, out_uk) if u],
                        dict(jaxpr=unknown, name="while_loop",
                             donated=(False,) * (len(res_vars) + len(u_in))), eqn.source)
        return e_known, e_unknown, list(out_uk)
    cond_k, body_k = _while_known_part(p["cond_jaxpr"], p["body_jaxpr"], ncc, nbc, bc_uk,
                                       carry_uk)
    cc, bc, init = _split3(eqn.invars, ncc, nbc)
    e_known = Eqn(while_p, cc + [v for v, u in zip(bc, bc_uk) if not u]
                  + [v for v, u in zip(init, carry_uk) if not u],
                  [v for v, u in zip(eqn.outvars, carry_uk) if not u],
                  dict(p, cond_jaxpr=cond_k, body_jaxpr=body_k,
                       body_nconsts=sum(1 for u in bc_uk if not u)), eqn.source)
    e_unknown = Eqn(while_p, list(eqn.invars),
                    [v if u else Var(v.aval) for v, u in zip(eqn.outvars, carry_uk)],
                    dict(p), eqn.source)
    return e_known, e_unknown, carry_uk


while_p.partial_eval_jaxpr = _while_partial_eval_jaxpr


def _while_transpose(cts, *args, **params):
    raise ValueError(_REVERSE_WHILE_MSG)


while_p.transpose = _while_transpose
while_p.test_spec = {"skip": "control flow: covered by tests/test_control_flow.py"}


def _while_as_scan(cond_jaxpr, body_jaxpr, ncc, nbc, max_steps, args):
    """Bind the loop as a scan of ``max_steps`` iterations whose body is
    ``cond(cond_fun(carry), body, identity)``."""
    cc, bc, init = _split3(args, ncc, nbc)
    carry_avals = body_jaxpr.in_avals[nbc:]
    bc_avals = body_jaxpr.in_avals[:nbc]
    ident_in = [Var(a) for a in bc_avals + list(carry_avals)]
    ident = ClosedJaxpr(Jaxpr([], ident_in, ident_in[nbc:], []), [])
    branches = (ident, body_jaxpr)

    def step(*a):
        cc_, bc_, carry = _split3(a, ncc, nbc)
        pred = eval_jaxpr(cond_jaxpr.jaxpr, cond_jaxpr.consts, *cc_, *carry)[0]
        idx = convert_element_type(pred, _INT32)
        return cond_p.bind(idx, *bc_, *carry, branches=branches)

    avals = list(cond_jaxpr.in_avals[:ncc]) + list(bc_avals) + list(carry_avals)
    jc, consts = hoist_consts(trace_to_jaxpr(step, avals, name="while_loop(max_steps)"))
    return scan_p.bind(*consts, *cc, *bc, *init, jaxpr=jc,
                       num_consts=len(consts) + ncc + nbc, num_carry=len(init),
                       length=int(max_steps), reverse=False)


# ============================================================================ loop tracing


def _trace_carry_fun(fun, carry_tree, carry_paths, carry_avals, extra_tree, extra_avals, name,
                     what, split_out):
    """Trace a loop body whose first argument is the carry; the carry's output must have
    the input's types.  A weakly-typed carry input is promoted to the output's type.

    ``split_out(out) -> (carry_out, other)``; returns ``(jaxpr, consts, carry_avals,
    other_tree, other_avals)``.
    """
    for _ in range(3):
        info = {}

        def flat(*xs):
            nk = len(carry_avals)
            carry = pytree.tree_unflatten(carry_tree, list(xs[:nk]))
            extra = (pytree.tree_unflatten(extra_tree, list(xs[nk:])) if extra_tree is not None
                     else None)
            out = fun(carry, extra) if extra_tree is not None else fun(carry)
            c_out, other = split_out(out)
            c_leaves, c_tree = pytree.tree_flatten(c_out)
            if c_tree != carry_tree:
                raise TypeError(f"{what}: {name} must return a carry with the same pytree "
                                f"structure as its input carry: the input is {carry_tree} "
                                f"but the output is {c_tree}")
            o_leaves_p, o_tree = pytree.tree_flatten_with_path(other)
            for l in c_leaves + [l for _, l in o_leaves_p]:
                if not _is_array_like(l):
                    raise TypeError(f"{what}: {name} returned a value of type "
                                    f"{type(l).__name__}; outputs must be arrays")
            info["other_tree"] = o_tree
            return list(c_leaves) + [l for _, l in o_leaves_p]

        closed = trace_to_jaxpr(flat, list(carry_avals) + list(extra_avals),
                                name=f"{what}({name})")
        out_avals = closed.out_avals
        nk = len(carry_avals)
        new = list(carry_avals)
        changed = False
        for k, (a, b) in enumerate(zip(carry_avals, out_avals[:nk])):
            where = _path_str("carry", carry_paths[k])
            if a.shape != b.shape or (a.dtype != b.dtype and not a.weak_type):
                raise TypeError(
                    f"{what}: the carry must keep its type from one iteration to the next, "
                    f"but {name} turns {where} from {a.str_short()} into {b.str_short()}"
                    f"{' (the initial value is weakly typed)' if a.weak_type else ''}. "
                    "Give the initial value the shape and dtype the body produces "
                    "(e.g. fnp.zeros(shape, dtype) or x.astype(dtype)).")
            if a.dtype != b.dtype or (a.weak_type and not b.weak_type):
                new[k] = ShapedArray(a.shape, b.dtype, b.weak_type)
                changed = True
        if not changed:
            jc, consts = hoist_consts(closed)
            return jc, consts, carry_avals, info["other_tree"], out_avals[nk:]
        carry_avals = new
    raise TypeError(f"{what}: could not settle the carry types of {name}")


def _cast_like(vals, avals):
    out = []
    for v, a in zip(vals, avals):
        va = get_aval(v)
        if va.dtype != a.dtype:
            v = convert_element_type(v, a.dtype, a.weak_type)
        out.append(v)
    return out


# ============================================================================ scan / loops API


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop ``f(carry, x) -> (carry, y)`` over the leading axis of ``xs``; stack the ``y``.

    Semantics (as ``jax.lax.scan``)::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:                      # reversed(xs) with reverse=True
                carry, y = f(carry, x)
                ys.append(y)
            return carry, stack(ys)

    ``init``, ``xs`` and the outputs may be pytrees; ``xs=None`` needs ``length``.  The
    body is traced once and its carry must keep its types.  Differentiable in both modes
    (reverse mode stores per-iteration residuals; wrap the body in ``funcgrad.checkpoint``
    to recompute them instead).  ``unroll`` is accepted for compatibility and ignored: the
    compiled body runs in a native loop.

    >>> import funcgrad.numpy as fnp
    >>> scan(lambda c, x: (c + x, c * x), 0.0, fnp.arange(4.0))
    (Array(6., dtype=float32), Array([0., 0., 2., 9.], dtype=float32))
    """
    if not callable(f):
        raise TypeError(f"scan: f must be callable, got {type(f).__name__}")
    xs_lp, xs_tree = pytree.tree_flatten_with_path(xs)
    xs_flat = [_as_operand(l, "scan") for _, l in xs_lp]
    lengths = {}
    for (p, _), x in zip(xs_lp, xs_flat):
        a = get_aval(x)
        if a.ndim == 0:
            raise TypeError(f"scan: every leaf of xs must have a leading axis to scan over, "
                            f"but {_path_str('xs', p)} is a scalar ({a.str_short()})")
        lengths.setdefault(a.shape[0], []).append(_path_str("xs", p))
    if len(lengths) > 1:
        detail = "; ".join(f"{n} for {', '.join(ps)}" for n, ps in lengths.items())
        raise ValueError(f"scan: the leaves of xs have different leading axis sizes: {detail}")
    if length is not None:
        try:
            length = int(length)
        except TypeError:
            raise TypeError("scan: length must be a static Python int") from None
        if lengths and next(iter(lengths)) != length:
            raise ValueError(f"scan: length={length} but xs has leading axis size "
                             f"{next(iter(lengths))}")
    elif lengths:
        length = next(iter(lengths))
    else:
        raise ValueError("scan: length must be given when xs is None (or has no leaves)")
    if length < 0:
        raise ValueError(f"scan: length must be >= 0, got {length}")
    init_lp, init_tree = pytree.tree_flatten_with_path(init)
    init_flat = [_as_operand(l, "scan") for _, l in init_lp]
    carry_avals = [get_aval(x) for x in init_flat]
    x_avals = [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype, get_aval(x).weak_type)
               for x in xs_flat]

    def split_out(out):
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"scan: f must return a pair (carry, y), got "
                            f"{type(out).__name__}")
        return out[0], out[1]

    jc, consts, carry_avals, y_tree, _ = _trace_carry_fun(
        f, init_tree, [p for p, _ in init_lp], carry_avals, xs_tree, x_avals, _fun_name(f),
        "scan", split_out)
    init_flat = _cast_like(init_flat, carry_avals)
    outs = scan_p.bind(*consts, *init_flat, *xs_flat, jaxpr=jc, num_consts=len(consts),
                       num_carry=len(init_flat), length=length, reverse=bool(reverse))
    nk = len(init_flat)
    return (pytree.tree_unflatten(init_tree, outs[:nk]),
            pytree.tree_unflatten(y_tree, outs[nk:]))


def while_loop(cond_fun, body_fun, init_val, max_steps=None):
    """``while cond_fun(val): val = body_fun(val)``, staged; returns the final ``val``.

    ``cond_fun`` must return a boolean scalar; ``body_fun`` must keep the types of
    ``val`` (a pytree).  Forward-mode differentiable.  With ``max_steps=N`` (a static
    int) at most ``N`` iterations run (the loop stops after ``N`` even if ``cond_fun``
    still holds) and the loop is also reverse-differentiable: under ``grad`` it runs as a
    scan of ``N`` steps that skips the body once ``cond_fun`` is false, storing residuals
    for ``N`` steps (an extension over JAX).  Under ``vmap`` with a batched condition the
    loop runs until every element is done; finished elements keep their values.

    >>> while_loop(lambda x: x < 10, lambda x: x * 2, 1)
    Array(16, dtype=int32, weak_type=True)
    >>> funcgrad.grad(lambda x: while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x,
    ...                                    max_steps=50))(1.5)     # 12 = 1.5 * 8
    Array(8., dtype=float32, weak_type=True)
    """
    if not callable(cond_fun) or not callable(body_fun):
        raise TypeError("while_loop: cond_fun and body_fun must be callables")
    if max_steps is not None:
        if isinstance(max_steps, Tracer) or not isinstance(max_steps, (int, np.integer)) \
                or isinstance(max_steps, bool):
            raise TypeError(f"while_loop: max_steps must be a static Python int or None, got "
                            f"{type(max_steps).__name__}")
        max_steps = int(max_steps)
        if max_steps < 0:
            raise ValueError(f"while_loop: max_steps must be >= 0, got {max_steps}")
    init_lp, init_tree = pytree.tree_flatten_with_path(init_val)
    init_flat = [_as_operand(l, "while_loop") for _, l in init_lp]
    carry_avals = [get_aval(x) for x in init_flat]
    bj, bconsts, carry_avals, _, _ = _trace_carry_fun(
        body_fun, init_tree, [p for p, _ in init_lp], carry_avals, None, [],
        _fun_name(body_fun), "while_loop", lambda out: (out, None))
    init_flat = _cast_like(init_flat, carry_avals)
    cj, cconsts, out_tree, _ = _trace_flat(lambda c: cond_fun(c), pytree.tree_structure(
        (pytree.tree_unflatten(init_tree, [0] * len(init_flat)),)), carry_avals,
        _fun_name(cond_fun), "while_loop")
    outs = cj.out_avals
    if len(outs) != 1 or outs[0].shape != () or outs[0].dtype != np.bool_:
        got = ", ".join(a.str_short() for a in outs) or "nothing"
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, got {got}. "
                        "Reduce an array condition with fnp.all / fnp.any.")
    res = while_p.bind(*cconsts, *bconsts, *init_flat, cond_jaxpr=cj, body_jaxpr=bj,
                       cond_nconsts=len(cconsts), body_nconsts=len(bconsts),
                       max_steps=max_steps)
    return pytree.tree_unflatten(init_tree, res)


def _index_dtype(*bounds):
    dts = []
    for b in bounds:
        if isinstance(b, (Tracer, Array, np.ndarray, np.generic)):
            a = get_aval(b)
            if a.shape != ():
                raise TypeError(f"fori_loop: bounds must be scalars, got shape {a.shape}")
            if a.dtype.kind not in "iu":
                raise TypeError(f"fori_loop: bounds must be integers, got dtype "
                                f"{a.dtype.name}")
            dts.append((a.dtype, a.weak_type))
        elif isinstance(b, (bool, float, complex)) or not isinstance(b, (int, np.integer)):
            raise TypeError(f"fori_loop: bounds must be integers, got {type(b).__name__}")
        else:
            dts.append((np.dtype(np.int32), True))
    dt, _ = dtypes.promote_types(*dts)
    return np.dtype(np.int32) if all(w for _, w in dts) else dt


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns ``val``.

    With concrete bounds (Python ints or concrete arrays) it is a ``scan`` with a static
    trip count, so it is differentiable in both modes; traced bounds give a
    ``while_loop`` (forward mode only).

    >>> fori_loop(0, 5, lambda i, s: s + i, 0)
    Array(10, dtype=int32)
    """
    if not callable(body_fun):
        raise TypeError("fori_loop: body_fun must be callable")
    dt = _index_dtype(lower, upper)
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lo, hi = int(_raw(lower)), int(_raw(upper))
        n = builtins.max(hi - lo, 0)

        def step(carry, _):
            i, val = carry
            return (add(i, np.asarray(1, dt)[()]), body_fun(i, val)), None

        (_, val), _ = scan(step, (Array(np.asarray(lo, dt)), init_val), None, length=n)
        return val
    lower = convert_element_type(_as_operand(lower, "fori_loop"), dt)
    upper = convert_element_type(_as_operand(upper, "fori_loop"), dt)

    def wcond(c):
        return lt(c[0], c[1])

    def wbody(c):
        i, hi, val = c
        return (add(i, np.asarray(1, dt)[()]), hi, body_fun(i, val))

    return while_loop(wcond, wbody, (lower, upper, init_val))[2]


def map(f, xs):
    """``stack([f(x) for x in xs])`` over the leading axis of (a pytree) ``xs``, as a scan.

    >>> map(lambda x: x ** 2, fnp.arange(3.0))
    Array([0., 1., 4.], dtype=float32)
    """
    _, ys = scan(lambda c, x: (c, f(x)), (), xs)
    return ys


__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "cond_p", "while_p",
           "scan_p"]
