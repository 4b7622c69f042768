"""Fusion planning: order a jaxpr's equations and partition them into fused groups.

A ``Group`` is

* a run of **elementwise** equations that all produce arrays of one shape (rank-0 and
  broadcast operands are fine: broadcasts are cheap views emitted before the group),
* optionally headed by a ``dot_general`` whose result the elementwise part consumes
  (a matmul epilogue: bias add, activation),
* optionally closed by **reductions** of values the run computes (map-then-reduce).

Everything else (dots without an epilogue, structural ops, gathers, sorts, control flow,
scalar arithmetic) is a standalone equation, run with the primitive's own kernel.

The planner is a list scheduler: it walks the program in dependency order and, while a
run of shape ``S`` is open, prefers (1) ready elementwise equations of shape ``S``, (2)
reductions of the run's values, (3) cheap independent equations (views, scalar math),
which are hoisted in front of the group.  A run is a contiguous stretch of the schedule,
so the group graph is acyclic by construction.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> closed = fg.make_jaxpr(lambda x, b: fnp.tanh(x * 2.0 + b).sum())(fnp.ones((4, 3)), 1.0)
>>> [str(item) for item in schedule(closed.jaxpr)]
['group f32[4,3]: mul add tanh -> reduce_sum']
"""
from __future__ import annotations

import heapq
import inspect

import numpy as np

from ..core.ir import Literal, Var

__all__ = ["Group", "schedule", "VIEW_PRIMS", "is_fusible", "is_reduction"]

#: primitives whose eager kernel returns a view of (or the very) input
VIEW_PRIMS = frozenset({"broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims",
                        "rev", "slice", "stop_gradient"})


_OUT_OK = {}


def _accepts_out(fn) -> bool:
    """Whether ``fn`` can write its result through ``out=`` (ufuncs and kernels with an
    ``out`` parameter or ``**kwargs``)."""
    if isinstance(fn, np.ufunc):
        return True
    key = id(fn)
    hit = _OUT_OK.get(key)
    if hit is not None and hit[0] is fn:
        return hit[1]
    try:
        params = inspect.signature(fn).parameters
        ok = "out" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        ok = False
    _OUT_OK[key] = (fn, ok)
    return ok


def _has_kernel(p) -> bool:
    low = p.lowering or {}
    fn = low.get("ufunc") or p.impl
    return fn is not None and _accepts_out(fn if low.get("ufunc") is not None else p.impl)


def is_fusible(e) -> bool:
    """An elementwise equation producing an array of rank >= 1 (fused into groups)."""
    p = e.primitive
    if not p.elementwise or p.multiple_results or len(e.outvars) != 1:
        return False
    if not _has_kernel(p):
        return False
    return e.outvars[0].aval.ndim >= 1


def is_reduction(e) -> bool:
    """A reduction with a plain kernel (``lowering["reduce"]``) over at least one axis."""
    p = e.primitive
    low = p.lowering or {}
    return ("reduce" in low and not p.multiple_results and len(e.invars) == 1
            and bool(e.params.get("axes")) and type(e.invars[0]) is Var)


def _is_widening(e) -> bool:
    """A dtype conversion to a wider type (its input is cheaper to keep than its output)."""
    if e.primitive.name != "convert_element_type" or len(e.invars) != 1:
        return False
    v = e.invars[0]
    if type(v) is not Var or v.aval.shape != e.outvars[0].aval.shape:
        return False
    return np.dtype(v.aval.dtype).itemsize < np.dtype(e.outvars[0].aval.dtype).itemsize


def _is_cheap(e) -> bool:
    p = e.primitive
    if p.effectful or p.call_jaxpr_params:
        return False
    if p.name in VIEW_PRIMS:
        return True
    return p.elementwise and all(o.aval.ndim == 0 for o in e.outvars)


class Group:
    """A fused kernel: optional ``head`` (dot_general), elementwise ``members`` of shape
    ``shape`` (in dependency order) and closing reductions ``closers``."""

    __slots__ = ("head", "members", "closers", "shape", "index")

    def __init__(self, shape, head=None):
        self.shape = tuple(shape)
        self.head = head
        self.members = []
        self.closers = []
        self.index = -1

    @property
    def eqns(self):
        return ([self.head] if self.head is not None else []) + self.members + self.closers

    def __str__(self):
        from ..core import dtypes
        dt = (self.members[0].outvars[0].aval.dtype if self.members
              else self.head.outvars[0].aval.dtype)
        s = f"group {dtypes.short_name(dt)}[{','.join(map(str, self.shape))}]: "
        if self.head is not None:
            s += f"{self.head.primitive.name} ->"
        s += " " + " ".join(e.primitive.name for e in self.members)
        if self.closers:
            s += " -> " + " ".join(e.primitive.name for e in self.closers)
        return s.replace(":  ", ": ")

    __repr__ = __str__


def schedule(jaxpr, fuse=True):
    """Order ``jaxpr``'s equations and group them: a list whose items are ``Group``s or
    single equations (``Eqn``), in an order that respects every dependency (and the
    relative order of effectful equations).  With ``fuse=False`` every equation stands
    alone, in program order."""
    eqns = jaxpr.eqns
    if not fuse:
        return list(eqns)
    n = len(eqns)
    producer = {}
    for i, e in enumerate(eqns):
        for o in e.outvars:
            if type(o) is Var:
                producer[o] = i
    preds = [set() for _ in range(n)]
    last_effect = None
    for i, e in enumerate(eqns):
        for v in e.invars:
            if type(v) is not Literal:
                j = producer.get(v)
                if j is not None:
                    preds[i].add(j)
        if e.primitive.effectful:
            if last_effect is not None:
                preds[i].add(last_effect)
            last_effect = i
    succs = [[] for _ in range(n)]
    for i, ps in enumerate(preds):
        for j in ps:
            succs[j].append(i)
    deps = [len(ps) for ps in preds]

    fusible = [is_fusible(e) for e in eqns]
    cheap = [(not fusible[i]) and _is_cheap(e) for i, e in enumerate(eqns)]
    reduction = [is_reduction(e) for e in eqns]
    shape_of = [e.outvars[0].aval.shape if fusible[i] else None for i, e in enumerate(eqns)]
    # widening conversions (e.g. relu's bool mask -> float for its gradient) are "sunk":
    # scheduled only once a consumer can follow, so that the narrow value is what lives
    # between the forward and the backward group (4x less memory traffic) and the
    # conversion runs chunk by chunk inside the consumer's group
    out_set = {v for v in jaxpr.outvars if type(v) is Var}
    sink = [False] * n
    for i, e in enumerate(eqns):
        if fusible[i] and _is_widening(e) and e.outvars[0] not in out_set and succs[i] and all(
                fusible[u] and shape_of[u] == shape_of[i] for u in succs[i]):
            sink[i] = True
    parked = set()
    n_parked = [0] * n      # parked predecessors of each equation

    ready_heap = []
    ready_fuse = {}
    ready_cheap = set()
    ready_red = set()
    done = [False] * n

    def make_ready(i):
        if sink[i] and i not in parked:
            # wait until a consumer is ready but for its parked inputs
            parked.add(i)
            for u in succs[i]:
                n_parked[u] += 1
            for u in succs[i]:
                if i in parked and deps[u] == n_parked[u]:
                    release(u)     # makes ``i`` ready
            return
        heapq.heappush(ready_heap, i)
        if fusible[i]:
            ready_fuse.setdefault(shape_of[i], set()).add(i)
        elif cheap[i]:
            ready_cheap.add(i)
        elif reduction[i]:
            ready_red.add(i)

    def release(u):
        for j in [j for j in preds[u] if j in parked]:
            parked.discard(j)
            for w in succs[j]:
                n_parked[w] -= 1
            sink[j] = False
            make_ready(j)

    for i in range(n):
        if deps[i] == 0:
            make_ready(i)

    def mark(i):
        done[i] = True
        if fusible[i]:
            ready_fuse[shape_of[i]].discard(i)
        elif cheap[i]:
            ready_cheap.discard(i)
        elif reduction[i]:
            ready_red.discard(i)
        for s in succs[i]:
            deps[s] -= 1
            if deps[s] == 0:
                make_ready(s)
            elif n_parked[s] and deps[s] == n_parked[s]:
                release(s)

    out = []
    run = None          # the open Group
    run_vars = set()    # values computed by the run (members and head)
    run_late = set()    # values computed by its closers (available after the run)
    prologue = []

    def close_run():
        nonlocal run
        out.extend(prologue)
        prologue.clear()
        if not run.members and not run.closers:
            out.append(run.head)
        else:
            out.append(run)
        run = None
        run_vars.clear()
        run_late.clear()

    remaining = n
    while remaining:
        if run is not None:
            # 1. extend the run with a ready elementwise equation of its shape
            cands = ready_fuse.get(run.shape)
            pick = None
            if cands:
                for i in sorted(cands):
                    if not any(type(v) is Var and v in run_late for v in eqns[i].invars):
                        pick = i
                        break
            if pick is not None:
                run.members.append(eqns[pick])
                run_vars.add(eqns[pick].outvars[0])
                mark(pick)
                remaining -= 1
                continue
            # 2. close with a reduction of a value the run computes
            for i in sorted(ready_red):
                if eqns[i].invars[0] in run_vars:
                    pick = i
                    break
            if pick is not None:
                run.closers.append(eqns[pick])
                run_late.add(eqns[pick].outvars[0])
                mark(pick)
                remaining -= 1
                continue
            # 3. hoist a cheap equation that does not depend on the run
            for i in sorted(ready_cheap):
                if not any(type(v) is Var and (v in run_vars or v in run_late)
                           for v in eqns[i].invars):
                    pick = i
                    break
            if pick is not None:
                prologue.append(eqns[pick])
                mark(pick)
                remaining -= 1
                continue
            close_run()
        # no open run: take the earliest ready equation
        while True:
            i = heapq.heappop(ready_heap)
            if not done[i]:
                break
        e = eqns[i]
        if fusible[i]:
            run = Group(shape_of[i])
            run.members.append(e)
            run_vars.add(e.outvars[0])
        elif e.primitive.name == "dot_general" and type(e.outvars[0]) is Var:
            run = Group(e.outvars[0].aval.shape, head=e)
            run_vars.add(e.outvars[0])
        else:
            out.append(e)
        mark(i)
        remaining -= 1
    if run is not None:
        close_run()
    for k, item in enumerate(out):
        if type(item) is Group:
            item.index = k
    return out
