"""NumPy code generation: one straight-line Python function per program.

The generated module defines

* ``_body(a0, ..., [d_i ...], R)``: the program on raw arrays (``R`` is a scratch arena),
* ``_run(x0, ...)``: unwraps ``Array`` arguments, handles donation, runs ``_body`` and wraps
  the results as ``Array`` objects with the program's weak types,
* ``_run_raw(x0, ...)``: the same on raw arrays, returning raw arrays (used by the eager
  ``pjit`` kernel and by control-flow bodies).

Kernels and constants are globals of the generated module.  A fused group writes through
``out=`` into planned buffers: program outputs get fresh arrays, intermediate values live
in a per-executable arena (reused across calls, with liveness-based sharing), a value may
be written in place over a dying input of its group (a matmul result, an arena buffer, or
a donated argument).  Above ``runtime.CHUNK_BYTES`` per operand a group runs as a loop over
cache-sized chunks (temporaries are chunk-sized scratch registers), optionally split over
the runtime thread pool.  Every kernel is the primitive's own (eager) kernel, so results
agree bit for bit with eager evaluation.

Opaque equations avoid fresh memory too (a fresh multi-MB array page-faults on every call,
~3 us per 4 KiB page here): a primitive with ``lowering["split"]`` (max pooling and its
gradient) gets a kernel that writes into planned buffers and, when big, runs blocks of
axis 0 on the thread pool; one with ``lowering["out_holder"]`` (convolutions) is passed a
one-element list in the arena whose buffer it may build its result in (kept across calls;
only when the result cannot escape the program).  Fused ``maximum``/``minimum`` with a
literal operand read it as a chunk-shaped constant array (NumPy's loops are 2x faster
than with a 0-d operand, and compute the same bits).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ..core.array import Array
from ..core.ir import Literal, Var
from ..core.trace import check_nans
from . import runtime
from .fusion import Group, schedule
from .specialize import dot_code, fused_kernel, reduce_ufunc
from .layout import axis_order, empty_in_order, full_perm, infer_layouts, is_c_order

__all__ = ["generate", "GeneratedProgram"]

_INF = 1 << 60

# reductions that may run chunk by chunk (over axes that are not chunked); the ufunc's
# ``reduce`` is exactly what the eager kernel calls (np.sum -> np.add.reduce, ...)
_CHUNK_REDUCE = {"reduce_sum": (np.add, True), "reduce_prod": (np.multiply, True),
                 "reduce_max": (np.maximum, False), "reduce_min": (np.minimum, False)}


_UINT = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32),
         8: np.dtype(np.uint64)}


def _select_bits(m):
    """The unsigned dtype for an exact bit select of ``select_n(bool, c0, c1)``, or None."""
    if len(m.invars) != 3 or m.invars[0].aval.dtype != np.bool_:
        return None
    dt = np.dtype(m.outvars[0].aval.dtype)
    if dt.kind not in "fiub" or any(v.aval.dtype != dt for v in m.invars[1:]):
        return None
    return _UINT.get(dt.itemsize)


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


# fused maximum/minimum with a literal operand: below this many elements per chunk the
# literal stays a 0-d operand (the constant array would not pay)
_MINMAX_FULL_MIN = 1 << 14

_RESERVED = {"_body", "_run", "_run_raw", "_run_nc", "_run_raw_nc", "_new_arena", "_arenas",
             "_relayout"}


def _ident(name):
    return "".join(c if c.isalnum() else "_" for c in name)


class GeneratedProgram:
    """The result of code generation: ``source``, the module namespace and facts about
    the plan (``groups``, ``arena_bytes``)."""

    def __init__(self, source, namespace, groups, arena_bytes, scratch_bytes):
        self.source = source
        self.namespace = namespace
        self.groups = groups
        self.arena_bytes = arena_bytes
        self.scratch_bytes = scratch_bytes


class _Gen:
    def __init__(self, jaxpr, consts, out_weak, donated, debug, in_orders=None):
        self.j = jaxpr
        self.in_orders = in_orders
        self.consts = consts
        self.out_weak = out_weak
        self.donated = tuple(donated) if donated else (False,) * len(jaxpr.invars)
        if len(self.donated) != len(jaxpr.invars):
            self.donated = (False,) * len(jaxpr.invars)
        self.debug = debug
        self.ns = {"_np": np, "_A": Array, "_nd": np.ndarray, "_asarray": np.asarray,
                   "_empty": np.empty, "_reshape": np.reshape, "_transpose": np.transpose,
                   "_broadcast_to": np.broadcast_to, "_squeeze": np.squeeze,
                   "_run_chunks": runtime.run_chunks, "_donate": runtime.donate,
                   "_ndindex": np.ndindex, "_chk": check_nans,
                   "_empty_in_order": empty_in_order, "_dot": np.dot, "_matmul": np.matmul,
                   "_where": np.where, "_copyto": np.copyto, "_negative": np.negative,
                   "_bitwise_and": np.bitwise_and, "_bitwise_xor": np.bitwise_xor}
        self.names = {}
        self.lines = []
        self._kernel_ids = {}
        self._lit_ids = {}
        self._dtype_names = {}
        self._counter = itertools.count()

    # ------------------------------------------------------------------ naming
    def glob(self, prefix, value):
        name = f"{prefix}{next(self._counter)}"
        self.ns[name] = value
        return name

    def dtype_name(self, dt):
        dt = np.dtype(dt)
        n = self._dtype_names.get(dt)
        if n is None:
            n = self._dtype_names[dt] = f"_dt_{_ident(dt.name)}"
            self.ns[n] = dt
        return n

    def kernel(self, fn, hint):
        key = id(fn)
        ent = self._kernel_ids.get(key)
        if ent is not None and ent[0] is fn:
            return ent[1]
        name = f"_{_ident(hint)}"
        if name in self.ns or name in _RESERVED:
            name = f"{name}_{next(self._counter)}"
        self.ns[name] = fn
        self._kernel_ids[key] = (fn, name)
        return name

    def prim_kernel(self, e, fused):
        """(global name, is a numpy ufunc) of the kernel running equation ``e``."""
        p = e.primitive
        low = p.lowering or {}
        if e.params:
            fn = functools.partial(p.impl, **e.params)
            return self.glob(f"_{_ident(p.name)}_p", fn), False
        fn = low.get("ufunc") if fused else None
        if fn is None:
            fn = p.impl
        return self.kernel(fn, p.name), isinstance(fn, np.ufunc)

    def atom0(self, v):
        """Like ``atom`` but literals as 0-d arrays (faster as ufunc operands)."""
        if type(v) is Literal:
            key = ("0d", type(v.val), np.asarray(v.val).dtype.str,
                   np.asarray(v.val).tobytes())
            n = self._lit_ids.get(key)
            if n is None:
                arr = np.asarray(v.val)
                arr.flags.writeable = False
                n = self._lit_ids[key] = self.glob("_L", arr)
            return n
        return self.names[v]

    def atom(self, v):
        if type(v) is Literal:
            key = (type(v.val), np.asarray(v.val).dtype.str, np.asarray(v.val).tobytes())
            n = self._lit_ids.get(key)
            if n is None:
                n = self._lit_ids[key] = self.glob("_L", v.val)
            return n
        return self.names[v]

    def var_name(self, v):
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = f"v{next(self._counter)}"
        return n

    def emit(self, line, indent=1):
        self.lines.append("    " * indent + line)

    # ------------------------------------------------------------------ analysis
    def analyse(self):
        j = self.j
        for i, v in enumerate(j.invars):
            self.names[v] = f"a{i}"
        for v, c in zip(j.constvars, self.consts):
            raw = c._value if type(c) is Array else c
            self.names[v] = self.glob("_K", raw)
        self.orders = infer_layouts(j, self.in_orders)
        self.items = schedule(j, fuse=not self.debug)
        users = {}
        last = {}
        for k, it in enumerate(self.items):
            for v in self.reads(it):
                users.setdefault(v, set()).add(k)
                last[v] = k
            if type(it) is Group:
                # values computed and read inside the group: last use here, unless later
                for e in it.eqns:
                    for v in e.invars:
                        if type(v) is Var and last.get(v, -1) < k:
                            last[v] = k
        for v in j.outvars:
            if type(v) is Var:
                last[v] = _INF
                users.setdefault(v, set()).add(_INF)
        self.users = users
        self.last = last

    @staticmethod
    def reads(it):
        if type(it) is Group:
            inner = set()
            out = []
            for e in it.eqns:
                for v in e.invars:
                    if type(v) is Var and v not in inner:
                        out.append(v)
                for o in e.outvars:
                    if type(o) is Var:
                        inner.add(o)
            return out
        return [v for v in it.invars if type(v) is Var]

    # ------------------------------------------------------------------ group plans
    def plan_group(self, g, k):
        S = g.shape
        size = _prod(S)
        member_outs = [m.outvars[0] for m in g.members]
        inner = set(member_outs)
        if g.head is not None:
            inner.add(g.head.outvars[0])
        dts = [o.aval.dtype for o in member_outs]
        dts += [v.aval.dtype for m in g.members for v in m.invars if v.aval.shape == S]
        if g.head is not None:
            dts.append(g.head.outvars[0].aval.dtype)
        itemsize = max([np.dtype(d).itemsize for d in dts] + [1])
        chunk_elems = max(1, runtime.CHUNK_BYTES // itemsize)
        plan = {"S": S, "size": size, "k": k}
        chunked = size > chunk_elems and len(S) >= 1 and size > 0
        kx = rows = None
        if chunked:
            kx = 0
            while kx < len(S) - 1 and _prod(S[kx + 1:]) > chunk_elems:
                kx += 1
            rows = max(1, chunk_elems // max(1, _prod(S[kx + 1:])))
            if rows >= S[kx] and kx == 0:
                chunked = False
        if (not chunked and runtime.NUM_THREADS > 1 and size >= runtime.PARALLEL_MIN_ELEMENTS
                and len(S) >= 1 and S[0] >= 2 and not self.debug):
            # small enough for one chunk, big enough to split across the threads
            chunked, kx = True, 0
            rows = -(-S[0] // runtime.NUM_THREADS)
        plan["chunked"] = chunked
        plan["kx"], plan["rows"] = kx, rows
        # which member outputs need a full buffer
        external = {}
        for o in member_outs:
            us = self.users.get(o, ())
            external[o] = any(u != k for u in us)
        closer_mode = []
        for c in g.closers:
            src = c.invars[0]
            axes = tuple(c.params["axes"])
            c_order = is_c_order(self.orders.get(src, ()))
            if chunked:
                ok = (c.primitive.name in _CHUNK_REDUCE and all(a > kx for a in axes)
                      and c_order)
                mode = "chunk" if ok else "post"
                if not ok and src in external:
                    external[src] = True
            else:
                mode = "post"
                if not c_order and src in external:
                    external[src] = True
            closer_mode.append(mode)
        plan["external"] = external
        plan["closer_mode"] = closer_mode
        plan["inner"] = inner
        # register allocation over the members (chunk-local temporaries)
        n = len(g.members)
        last_in = {}
        for idx, m in enumerate(g.members):
            for v in m.invars:
                if type(v) is Var and v in inner:
                    last_in[v] = idx
        for c, mode in zip(g.closers, closer_mode):
            src = c.invars[0]
            if mode == "chunk" or not chunked:
                last_in[src] = n
        free = {}
        count = {}
        value_reg = {}
        kinds = {}
        bound = set()
        extra = {}

        def take(dt):
            fl = free.get(dt)
            if fl:
                return fl.pop()
            r = count.get(dt, 0)
            count[dt] = r + 1
            return r
        for idx, m in enumerate(g.members):
            kind = fused_kernel(m)
            kinds[m] = kind
            o = m.outvars[0]
            dying = []
            for v in m.invars:
                if type(v) is Var and v in value_reg and last_in.get(v) == idx and v not in dying:
                    dying.append(v)
            if kind[0] == "where":
                bits = _select_bits(m)
                extra[m] = None
                if bits is not None:
                    # exact bit select: mask and temporary registers of an unsigned type
                    extra[m] = (bits, take(bits), take(bits))
                elif chunked and not external[o]:
                    # copyto-based select: the destination must not alias an operand
                    dt = np.dtype(o.aval.dtype)
                    r = take(dt)
                    value_reg[o] = (dt, r)
                    if o not in last_in:
                        free.setdefault(dt, []).append(r)
                    for v in dying:
                        dt, r = value_reg[v]
                        free.setdefault(dt, []).append(r)
                    continue
                if bits is not None:
                    for v in dying:
                        dt, r = value_reg[v]
                        free.setdefault(dt, []).append(r)
                    if not external[o]:
                        dt = np.dtype(o.aval.dtype)
                        value_reg[o] = (dt, take(dt))
                        if o not in last_in:
                            free.setdefault(dt, []).append(value_reg[o][1])
                    _, r1, r2 = extra[m]
                    free.setdefault(bits, []).extend([r1, r2])
                    continue
            for v in dying:
                dt, r = value_reg[v]
                free.setdefault(dt, []).append(r)
            if kind[0] == "where" and not external[o]:
                bound.add(o)
                continue
            if not external[o]:
                dt = np.dtype(o.aval.dtype)
                r = take(dt)
                value_reg[o] = (dt, r)
                if o not in last_in:
                    free.setdefault(dt, []).append(r)
        plan["value_reg"] = value_reg
        plan["kinds"] = kinds
        plan["bound"] = bound
        plan["extra"] = extra
        plan["reg_count"] = count
        plan["last_in"] = last_in
        workers = 1
        if (chunked and kx == 0 and size >= runtime.PARALLEL_MIN_ELEMENTS
                and runtime.NUM_THREADS > 1):
            workers = max(1, min(runtime.NUM_THREADS, -(-S[0] // rows)))
        plan["workers"] = workers
        return plan

    # ------------------------------------------------------------------ buffers
    def plan_buffers(self):
        j = self.j
        self.splits = {}
        for it in self.items:
            if type(it) is not Group:
                sp = self.split_plan(it)
                if sp is not None:
                    self.splits[id(it)] = sp
        roots = {}
        for i, v in enumerate(j.invars):
            roots[v] = frozenset([("in", i)])
        for v in j.constvars:
            roots[v] = frozenset([("const",)])
        self.plans = {}
        for k, it in enumerate(self.items):
            if type(it) is Group:
                plan = self.plan_group(it, k)
                self.plans[k] = plan
                if it.head is not None:
                    h = it.head.outvars[0]
                    roots[h] = frozenset([("dot", h)])
                for m in it.members:
                    o = m.outvars[0]
                    if plan["external"][o]:
                        roots[o] = frozenset([("g", o)])
                for c, mode in zip(it.closers, plan["closer_mode"]):
                    o = c.outvars[0]
                    roots[o] = frozenset([("g", o)]) if mode == "chunk" else frozenset(
                        [("fresh", o)])
                continue
            e = it
            ins = frozenset().union(*[roots.get(v, frozenset()) for v in e.invars
                                      if type(v) is Var]) if e.invars else frozenset()
            name = e.primitive.name
            if id(e) in self.splits:
                for o in e.outvars:
                    if type(o) is Var:
                        roots[o] = frozenset([("g", o)])
                continue
            if name == "dot_general":
                r = frozenset([("fresh", e)])
            elif name in ("broadcast_in_dim", "reshape", "transpose", "squeeze",
                          "expand_dims", "rev", "slice", "stop_gradient"):
                r = ins
            else:
                r = ins | {("opaque", id(e))}
            for o in e.outvars:
                if type(o) is Var:
                    roots[o] = r
        self.roots = roots
        out_roots = set()
        for v in j.outvars:
            if type(v) is Var:
                out_roots |= roots.get(v, frozenset())
        self.out_roots = out_roots
        # buffers that may be seen outside the program: its outputs and whatever an
        # effectful equation (a host callback) is given
        escape = set(out_roots)
        for e in j.eqns:
            if e.primitive.effectful:
                for v in e.invars:
                    if type(v) is Var:
                        escape |= roots.get(v, frozenset())
        self.escape_roots = escape
        sym_last = {}
        for v, rs in roots.items():
            lu = self.last.get(v, -1)
            for r in rs:
                if sym_last.get(r, -1) < lu:
                    sym_last[r] = lu
        self.sym_last = sym_last

        # assign physical buffers, in schedule order
        phys_of = {}          # root -> phys id
        phys_kind = {}        # phys id -> "slot" | "fresh" | "dot" | "donated"
        phys_end = {}
        slot_bytes = {}       # slot phys id -> bytes
        self.buffer_expr = {}  # value -> code expression creating/choosing its buffer
        self.slot_views = []   # (name, slot, dtype, shape)
        pid_counter = itertools.count()
        for i, v in enumerate(j.invars):
            if self.donated[i]:
                p = next(pid_counter)
                phys_of[("in", i)] = p
                phys_kind[p] = "donated"
                phys_end[p] = sym_last.get(("in", i), -1)

        def new_slot(nbytes, k, end):
            best = None
            for p, b in slot_bytes.items():
                if phys_end[p] < k and (best is None or (b >= nbytes and (
                        slot_bytes[best] < nbytes or b < slot_bytes[best])) or (
                        b < nbytes and slot_bytes[best] < b)):
                    best = p
            if best is None:
                best = next(pid_counter)
                phys_kind[best] = "slot"
                slot_bytes[best] = nbytes
            else:
                slot_bytes[best] = max(slot_bytes[best], nbytes)
            phys_end[best] = end
            return best

        def alloc(o, k, victims, min_end=-1):
            root = ("g", o)
            end = max(sym_last.get(root, -1), min_end)
            need_fresh = root in out_roots
            for vic in victims:
                u, vroot, allowed_after = vic
                if (u.aval.dtype != o.aval.dtype or u.aval.shape != o.aval.shape
                        or self.orders.get(u) != self.orders.get(o)):
                    continue
                if not allowed_after(o):
                    continue
                p = phys_of.get(vroot)
                if p is None:
                    continue
                kind = phys_kind[p]
                if need_fresh and kind == "slot":
                    continue
                victims.remove(vic)
                phys_of[root] = p
                phys_end[p] = max(phys_end[p], end)
                if kind == "donated":
                    i = vroot[1]
                    self.buffer_expr[o] = f"a{i} if d{i} else {self.empty_expr(o)}"
                else:
                    self.buffer_expr[o] = ("same", u)
                return
            nbytes = _prod(o.aval.shape) * np.dtype(o.aval.dtype).itemsize
            if need_fresh or self.debug:
                p = next(pid_counter)
                phys_kind[p] = "fresh"
                phys_end[p] = end
                phys_of[root] = p
                self.buffer_expr[o] = self.empty_expr(o)
                return
            p = new_slot(nbytes, k, end)
            phys_of[root] = p
            name = f"_B{next(self._counter)}"
            self.slot_views.append((name, p, np.dtype(o.aval.dtype), tuple(o.aval.shape),
                                    self.orders.get(o, ())))
            self.buffer_expr[o] = ("slot", name)

        for k, it in enumerate(self.items):
            if type(it) is not Group:
                if id(it) in self.splits:
                    # every output is written at step k (even one nobody reads):
                    # they must not share a buffer
                    for o in it.outvars:
                        if type(o) is Var:
                            alloc(o, k, [], min_end=k)
                continue
            plan = self.plans[k]
            if it.head is not None:
                h = it.head.outvars[0]
                p = next(pid_counter)
                phys_of[("dot", h)] = p
                phys_kind[p] = "dot"
                phys_end[p] = sym_last.get(("dot", h), -1)
            victims = self.victims(it, k, plan, phys_of)
            for idx, m in enumerate(it.members):
                o = m.outvars[0]
                if not plan["external"][o]:
                    continue
                if (plan["kinds"][m][0] == "where" and not plan["chunked"]
                        and plan["extra"].get(m) is None):
                    # np.where allocates: its result is the value's (fresh) buffer
                    p = next(pid_counter)
                    phys_kind[p] = "dot"
                    phys_end[p] = sym_last.get(("g", o), -1)
                    phys_of[("g", o)] = p
                    self.buffer_expr[o] = ("bind",)
                    continue
                alloc(o, k, victims if plan["kinds"][m][0] != "where" or plan["extra"].get(m)
                      else [])
            for c, mode in zip(it.closers, plan["closer_mode"]):
                if mode == "chunk":
                    alloc(c.outvars[0], k, [])
        self.slot_bytes = slot_bytes

    def empty_expr(self, o):
        shape = tuple(o.aval.shape)
        order = self.orders.get(o, ())
        if is_c_order(order):
            return f"_empty({shape!r}, {self.dtype_name(o.aval.dtype)})"
        return f"_empty_in_order({shape!r}, {self.dtype_name(o.aval.dtype)}, {order!r})"

    def victims(self, g, k, plan, phys_of):
        """Group inputs whose buffer dies here and may be overwritten by an output."""
        S = g.shape
        reads_by_member = {}
        for idx, m in enumerate(g.members):
            for v in m.invars:
                if type(v) is Var:
                    reads_by_member[v] = idx
        closer_reads = {c.invars[0] for c in g.closers}
        member_index = {m.outvars[0]: idx for idx, m in enumerate(g.members)}
        cands = []
        if g.head is not None:
            cands.append(g.head.outvars[0])
        for m in g.members:
            for v in m.invars:
                if type(v) is Var and v not in plan["inner"] and v not in cands:
                    cands.append(v)
        group_reads = [v for v in self.reads(g)]
        out = []
        for u in cands:
            if u.aval.shape != S or u in closer_reads:
                continue
            rs = self.roots.get(u, frozenset())
            if len(rs) != 1:
                continue
            (r,) = rs
            if r[0] == "in":
                if not self.donated[r[1]] or self.j.invars[r[1]] is not u:
                    continue
            elif r[0] in ("g", "dot"):
                if r[1] is not u:
                    continue
            else:
                continue
            if self.sym_last.get(r, _INF) != k or r not in phys_of:
                continue
            if any(w is not u and r in self.roots.get(w, ()) for w in group_reads):
                continue
            last_read = reads_by_member.get(u, -1)

            def allowed(o, last_read=last_read):
                return member_index[o] >= last_read
            out.append((u, r, allowed))
        return out

    # ------------------------------------------------------------------ emission
    def plan_broadcasts(self):
        """Broadcasts whose consumers can all rely on NumPy's implicit broadcasting (the
        members of unchunked groups) are not materialized as views."""
        self.implicit = {}
        self.explicit_bcast = set()
        item_of = {}
        for k, it in enumerate(self.items):
            if type(it) is Group:
                continue
            e = it
            if (e.primitive.name == "broadcast_in_dim" and type(e.outvars[0]) is Var
                    and type(e.invars[0]) is Var and e.invars[0] not in self.const_set):
                src = e.invars[0]
                inter = self.bcast_inter(e)
                nd = src.aval.ndim
                lead = len(inter) - nd
                trailing = (lead >= 0 and tuple(inter[lead:]) == tuple(src.aval.shape)
                            and all(d == 1 for d in inter[:lead]))
                self.implicit[e.outvars[0]] = (src, inter, trailing)
                item_of[e.outvars[0]] = k
        for v in list(self.implicit):
            for u in self.users.get(v, ()):
                it = self.items[u] if u < len(self.items) else None
                ok = (type(it) is Group and not self.plans[u]["chunked"]
                      and (it.head is None or v not in it.head.invars)
                      and all(c.invars[0] is not v for c in it.closers))
                if not ok:
                    self.explicit_bcast.add(v)
                    break

    def generate(self):
        self.const_set = set(self.j.constvars)
        self.analyse()
        self.plan_buffers()
        self.plan_broadcasts()
        j = self.j
        n_in = len(j.invars)
        don = [i for i in range(n_in) if self.donated[i]]
        # scratch registers: [worker][dtype] -> list of element counts
        self.reg_need = {}
        self.reg_views = []   # (name, worker, dtype, reg, shape)
        self.tuple_views = []  # (name, [(worker, dtype, reg, shape)])
        self.holder_views = []  # names of one-element lists holding kernel result buffers
        body = []
        self.lines = body
        for k, it in enumerate(self.items):
            if type(it) is Group:
                self.emit_group(it, k)
            else:
                self.emit_eqn(it)
        outs = [self.atom(v) for v in j.outvars]
        body.append("    return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")

        arena_names = [n for n, *_ in self.slot_views] + [n for n, *_ in self.reg_views] + [
            n for n, _ in self.tuple_views] + list(self.holder_views)
        params = [f"a{i}" for i in range(n_in)] + [f"d{i}" for i in don] + ["R"]
        head = []
        n_groups = sum(1 for it in self.items if type(it) is Group)
        head.append(f"# funcgrad jit (numpy): {len(j.eqns)} equations, {n_groups} fused groups, "
                    f"{len(self.items)} steps")
        head.append("def _body(" + ", ".join(params) + "):")
        if arena_names:
            head.append("    (" + ", ".join(arena_names) + ("," if len(arena_names) == 1
                                                          else "") + ") = R")
        src = "\n".join(head + body)
        self.ns["_new_arena"] = self.arena_builder()
        self.ns["_arenas"] = []
        use_arena = bool(arena_names)

        wrap = []
        xs = [f"x{i}" for i in range(n_in)]
        call_args = [f"a{i}" for i in range(n_in)] + [f"d{i}" for i in don]
        # inputs whose memory order decides eager layouts (rank >= 2)
        guarded = [i for i, v in enumerate(j.invars)
                   if sum(1 for d in v.aval.shape if d > 1) >= 2]
        for raw in (False, True):
            for checked in (True, False):
                fname = "_run" + ("_raw" if raw else "") + ("" if checked else "_nc")
                wrap.append(f"def {fname}(" + ", ".join(xs) + "):")
                for i, v in enumerate(j.invars):
                    dt = self.dtype_name(v.aval.dtype)
                    if raw:
                        wrap.append(f"    a{i} = x{i} if x{i}.__class__ is _nd else "
                                    f"_asarray(getattr(x{i}, '_value', x{i}), {dt})")
                    else:
                        wrap.append(f"    a{i} = x{i}._value if x{i}.__class__ is _A else "
                                    f"_asarray(x{i}, {dt})")
                if checked and guarded:
                    if self.in_orders is None:
                        cond = " and ".join(f"a{i}.flags.c_contiguous" for i in guarded)
                    else:
                        def expect(i):
                            o = self.in_orders[i]
                            if o is None:
                                o = tuple(d for d, n in enumerate(j.invars[i].aval.shape)
                                          if n > 1)
                            return tuple(o)
                        cond = " and ".join(f"_axis_order(a{i}) == {expect(i)!r}"
                                            for i in guarded)
                    wrap.append(f"    if not ({cond}):")
                    wrap.append(f"        return _relayout({raw}, ({', '.join(xs)}"
                                f"{',' if len(xs) == 1 else ''}))")
                for i in don:
                    wrap.append(f"    d{i} = False" if raw else f"    d{i} = _donate(x{i}, a{i})")
                wrap += self._arena_call(call_args, use_arena)
                if raw:
                    wrap.append("    return list(r)")
                else:
                    res = ", ".join(f"_A(r[{i}], {bool(w)})"
                                    for i, w in enumerate(self.out_weak))
                    wrap.append(f"    return [{res}]")
                wrap.append("")
        self.ns["_axis_order"] = axis_order
        self.ns["_relayout"] = None   # set by the Executable
        source = src + "\n\n\n" + "\n".join(wrap) + "\n"
        groups = [it for it in self.items if type(it) is Group]
        arena_bytes = sum(self.slot_bytes.values())
        scratch = sum(n * np.dtype(dt).itemsize for (w, dt), regs in self.reg_need.items()
                      for n in regs)
        return GeneratedProgram(source, self.ns, groups, arena_bytes, scratch)

    def _arena_call(self, call_args, use_arena):
        out = []
        if use_arena:
            out.append("    try:")
            out.append("        R = _arenas.pop()")
            out.append("    except IndexError:")
            out.append("        R = _new_arena()")
            out.append("    r = _body(" + ", ".join(call_args + ["R"]) + ")")
            out.append("    if len(_arenas) < 4:")
            out.append("        _arenas.append(R)")
        else:
            out.append("    r = _body(" + ", ".join(call_args + ["None"]) + ")")
        return out

    def arena_builder(self):
        slot_bytes = dict(self.slot_bytes)
        slot_views = list(self.slot_views)
        reg_need = {key: list(v) for key, v in self.reg_need.items()}
        reg_views = list(self.reg_views)
        tuple_views = list(self.tuple_views)
        n_holders = len(self.holder_views)

        def new_arena():
            raws = {p: np.empty(-(-b // 16), np.complex128).view(np.uint8)
                    for p, b in slot_bytes.items()}
            regs = {}
            for (w, dt), sizes in reg_need.items():
                regs[(w, dt)] = [np.empty(max(s, 1), dt) for s in sizes]
            res = []
            for name, p, dt, shape, order in slot_views:
                nb = _prod(shape) * dt.itemsize
                flat = raws[p][:nb].view(dt)
                if is_c_order(order):
                    res.append(flat.reshape(shape))
                else:
                    perm = full_perm(shape, order)
                    res.append(flat.reshape(tuple(shape[q] for q in perm)).transpose(
                        tuple(int(q) for q in np.argsort(perm))))
            for name, w, dt, r, shape in reg_views:
                res.append(regs[(w, dt)][r][:_prod(shape)].reshape(shape))
            for name, specs in tuple_views:
                res.append(tuple(regs[(w, dt)][r][:_prod(shape)].reshape(shape)
                                 for w, dt, r, shape in specs))
            res.extend([None] for _ in range(n_holders))
            return tuple(res)

        return new_arena

    def need_reg(self, w, dt, r, n):
        lst = self.reg_need.setdefault((w, np.dtype(dt)), [])
        while len(lst) <= r:
            lst.append(0)
        lst[r] = max(lst[r], n)

    # ------------------------------------------------------------------ single equations
    def reduce_code(self, e, src):
        """Code reducing ``src`` as equation ``e`` does (``ufunc.reduce`` when exact)."""
        spec = reduce_ufunc(e)
        axes = tuple(e.params["axes"])
        if spec is not None:
            uf, with_dtype = spec
            red = self.kernel(uf.reduce, uf.__name__ + "_reduce")
            if with_dtype:
                return f"{red}({src}, {axes!r}, {self.dtype_name(e.invars[0].aval.dtype)})"
            return f"{red}({src}, {axes!r})"
        kn, _ = self.prim_kernel(e, fused=False)
        return f"{kn}({src})"

    def elementwise_code(self, e, args):
        """Code evaluating an elementwise equation (no ``out=``), as its kernel does."""
        kind, fn, extra = fused_kernel(e)
        if kind == "kw":
            kn, _ = self.prim_kernel(e, fused=False)
            return f"{kn}({', '.join(args)})"
        kn = self.kernel(fn, e.primitive.name)
        if kind == "ufunc":
            return f"{kn}({', '.join(args)})"
        if kind == "square":
            return f"{kn}({args[0]}, {args[0]})"
        if kind == "power":
            return f"{kn}({args[0]}, {self.glob('_P', extra)})"
        if kind == "where":
            return f"_where({args[0]}, {args[2]}, {args[1]})"
        raise AssertionError(kind)

    def emit_eqn(self, e):
        p = e.primitive
        name = p.name
        ins = e.invars
        outs = e.outvars
        # views of compile-time constants are evaluated now
        if name in ("broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims",
                    "rev", "slice") and all(type(v) is Literal or v in self.const_set
                                           for v in ins) and type(outs[0]) is Var:
            vals = [v.val if type(v) is Literal else self.ns[self.names[v]] for v in ins]
            try:
                val = p.impl(*vals, **e.params)
            except Exception:  # noqa: BLE001
                val = None
            if val is not None:
                if isinstance(val, np.ndarray) and val.flags.writeable:
                    val = val.view()
                    val.flags.writeable = False
                self.names[outs[0]] = self.glob("_G", val)
                return
        if name == "broadcast_in_dim" and type(outs[0]) is Var and outs[0] in self.implicit \
                and outs[0] not in self.explicit_bcast:
            return   # every consumer broadcasts implicitly
        if self.emit_split(e):
            return
        lhs = [self.var_name(o) if type(o) is Var else "_" for o in outs]
        code = None
        nd = [getattr(v.aval, "ndim", 0) for v in ins]
        if name == "reshape" and e.params.get("dimensions") is None:
            a = self.atom(ins[0])
            code = (f"{a}.reshape({tuple(e.params['new_sizes'])!r})" if nd[0] >= 1 else
                    f"_reshape({a}, {tuple(e.params['new_sizes'])!r})")
        elif name == "transpose":
            code = f"{self.atom(ins[0])}.transpose({tuple(e.params['permutation'])!r})"
        elif name == "broadcast_in_dim":
            shape = tuple(e.params["shape"])
            inter = self.bcast_inter(e)
            code = f"_broadcast_to(_reshape({self.atom(ins[0])}, {inter!r}), {shape!r})"
        elif name == "stop_gradient":
            code = self.atom(ins[0])
        elif name == "dot_general" and not self.debug:
            code = dot_code(e, self.atom(ins[0]), self.atom(ins[1]))
        elif p.lowering and "reduce" in p.lowering and e.params.get("axes"):
            code = self.reduce_code(e, self.atom(ins[0]))
        elif p.elementwise and not p.multiple_results:
            code = self.elementwise_code(e, [self.atom0(v) for v in ins])
        if code is None:
            kn, _ = self.prim_kernel(e, fused=False)
            args = [self.atom(v) for v in ins]
            if ((p.lowering or {}).get("out_holder") and not self.debug
                    and ("opaque", id(e)) not in self.escape_roots):
                # the kernel may write its result into a buffer kept in the arena (reused
                # by later calls: no fresh pages); the result never leaves the program
                hn = f"_H{next(self._counter)}"
                self.holder_views.append(hn)
                args.append(f"out_holder={hn}")
            code = f"{kn}({', '.join(args)})"
        if p.multiple_results:
            if lhs:
                self.emit(f"{', '.join(lhs)}{',' if len(lhs) == 1 else ''} = {code}")
            else:
                self.emit(code)
        else:
            self.emit(f"{lhs[0]} = {code}")
        if self.debug:
            chk = [n for n in lhs if n != "_"]
            if chk:
                self.emit(f"_chk({name!r}, ({', '.join(chk)},), {e.source!r})")

    def split_plan(self, e):
        """``(kernel, rows, workers)`` for an equation whose primitive offers
        ``lowering["split"]`` (a kernel writing into preallocated outputs that may run on
        any range of axis 0, e.g. max pooling and its gradient); big ones run as blocks of
        axis 0 on the thread pool (``workers > 1``).  None: the primitive's own kernel."""
        if self.debug:
            return None
        p = e.primitive
        split = (p.lowering or {}).get("split")
        if split is None or p.effectful or not e.outvars:
            return None
        avs = [v.aval for v in e.invars] + [o.aval for o in e.outvars]
        if any(getattr(a, "ndim", 0) < 1 for a in avs):
            return None
        n = e.outvars[0].aval.shape[0]
        if any(a.shape[0] != n for a in avs):
            return None
        try:
            kern = split(dict(e.params))
        except Exception:  # noqa: BLE001 - no split for these params
            kern = None
        if kern is None:
            return None
        if (n < 2 or runtime.NUM_THREADS <= 1
                or max(_prod(a.shape) for a in avs) < runtime.SPLIT_MIN_ELEMENTS):
            return kern, n, 1
        # few big blocks: a block costs ~20 NumPy calls of fixed overhead
        row_bytes = max(_prod(a.shape[1:]) * np.dtype(a.dtype).itemsize for a in avs)
        rows = max(1, runtime.SPLIT_CHUNK_BYTES // max(row_bytes, 1),
                   -(-n // runtime.NUM_THREADS))
        workers = min(runtime.NUM_THREADS, -(-n // rows))
        if workers <= 1:
            return kern, n, 1
        return kern, rows, workers

    def emit_split(self, e):
        """Emit a split equation (``split_plan``): its outputs are planned buffers (arena
        slots, reused across calls: no page faults), written block by block by the pool.
        Every element is computed by the same code as the eager kernel, so the bits
        agree."""
        plan = self.splits.get(id(e))
        if plan is None:
            return False
        kern, rows, workers = plan
        p = e.primitive
        n = e.outvars[0].aval.shape[0]
        kn = self.glob(f"_{_ident(p.name)}_split", kern)
        names = []
        for o in e.outvars:
            if type(o) is Var:
                nm = self.var_name(o)
                expr = self.buffer_expr.get(o)
                if isinstance(expr, tuple):
                    expr = self.names[expr[1]] if expr[0] == "same" else expr[1]
                elif expr is None:
                    expr = self.empty_expr(o)
            else:
                nm = f"u{next(self._counter)}"
                expr = self.empty_expr(o)
            names.append(nm)
            self.emit(f"{nm} = {expr}")
        if workers == 1:
            self.emit(f"{kn}({', '.join([self.atom(v) for v in e.invars] + names)})")
            return True
        args = [f"{self.atom(v)}[lo:hi]" for v in e.invars] + [f"{nm}[lo:hi]" for nm in names]
        fn = f"_s{next(self._counter)}"
        self.emit(f"# {p.name}: blocks of {rows} along axis 0, {workers} threads")
        self.emit(f"def {fn}(lo, hi, T):")
        self.emit(f"{kn}({', '.join(args)})", 2)
        self.emit(f"_run_chunks({fn}, {n}, {rows}, {(None,) * workers!r})")
        return True

    @staticmethod
    def bcast_inter(e):
        shape = tuple(e.params["shape"])
        inter = [1] * len(shape)
        for i, d in enumerate(e.params["broadcast_dimensions"]):
            inter[d] = e.invars[0].aval.shape[i]
        return tuple(inter)

    # ------------------------------------------------------------------ groups
    def emit_group(self, g, k):
        plan = self.plans[k]
        S = plan["S"]
        chunked = plan["chunked"]
        desc = str(g)
        if chunked:
            desc += (f"  [chunks of {plan['rows']} along axis {plan['kx']}"
                     f"{', %d threads' % plan['workers'] if plan['workers'] > 1 else ''}]")
        self.emit(f"# {desc}")
        if g.head is not None:
            h = g.head
            code = dot_code(h, self.atom(h.invars[0]), self.atom(h.invars[1]))
            if code is None:
                kn, _ = self.prim_kernel(h, fused=False)
                code = f"{kn}({', '.join(self.atom(v) for v in h.invars)})"
            self.emit(f"{self.var_name(h.outvars[0])} = {code}")
        # output buffers
        ext_outs = [m.outvars[0] for m in g.members if plan["external"][m.outvars[0]]]
        red_outs = [c.outvars[0] for c, mode in zip(g.closers, plan["closer_mode"])
                    if mode == "chunk"]
        for o in ext_outs + red_outs:
            expr = self.buffer_expr[o]
            name = self.var_name(o)
            if isinstance(expr, tuple):
                if expr[0] == "bind":
                    continue
                if expr[0] == "same":
                    self.emit(f"{name} = {self.names[expr[1]]}")
                else:
                    self.emit(f"{name} = {expr[1]}")
            else:
                self.emit(f"{name} = {expr}")
        full_names = {}   # value -> name of its full-size array
        if g.head is not None:
            full_names[g.head.outvars[0]] = self.names[g.head.outvars[0]]
        for o in ext_outs:
            full_names[o] = self.names[o]
        # full-shaped operands from outside the group
        full_inputs = []
        for m in g.members:
            for v in m.invars:
                if (type(v) is Var and v not in plan["inner"] and v.aval.shape == S
                        and v not in full_inputs and len(S) > 0):
                    full_inputs.append(v)
        value_reg = plan["value_reg"]
        all_regs = list(value_reg.values()) + [
            (ex[0], r) for ex in plan["extra"].values() if ex is not None for r in ex[1:]]
        if not chunked:
            regs = {}
            for dt, r in all_regs:
                key = (dt, r)
                if key not in regs:
                    nm = f"_R{next(self._counter)}"
                    regs[key] = nm
                    self.need_reg(0, dt, r, plan["size"])
                    self.reg_views.append((nm, 0, dt, r, S))
            operand = {}
            for v in full_inputs:
                imp = self.implicit.get(v)
                if imp is not None:
                    src, inter, trailing = imp
                    a = self.atom0(src)
                    if trailing or getattr(src.aval, "shape", ()) == inter:
                        operand[v] = a
                    else:
                        nm = f"w{next(self._counter)}"
                        self.emit(f"{nm} = _reshape({a}, {inter!r})")
                        operand[v] = nm
                else:
                    operand[v] = self.atom(v)
            for v, nm in full_names.items():
                operand[v] = nm
            for v, key in value_reg.items():
                operand[v] = regs[key]
            self.reg_names = regs
            self.lit_full = (self.minmax_literals(g, S) if plan["size"] * 4 <= runtime.CHUNK_BYTES
                             else {})
            self.emit_members(g, plan, operand, indent=1, chunked=False)
            self.lit_full = {}
            for c in g.closers:
                self.emit(f"{self.var_name(c.outvars[0])} = "
                          f"{self.reduce_code(c, operand[c.invars[0]])}")
            return
        # chunked loop
        kx, rows, workers = plan["kx"], plan["rows"], plan["workers"]
        reg_shape = (rows,) + tuple(S[kx + 1:])
        reg_keys = sorted(set(all_regs), key=lambda t: (t[0].str, t[1]))
        reg_local = {key: f"t{i}" for i, key in enumerate(reg_keys)}
        tnames = []
        for w in range(workers):
            specs = []
            for (dt, r) in reg_keys:
                self.need_reg(w, dt, r, _prod(reg_shape))
                specs.append((w, dt, r, reg_shape))
            nm = f"_T{next(self._counter)}"
            self.tuple_views.append((nm, specs))
            tnames.append(nm)
        # broadcast operands constant along the chunked axes (a bias): tiled once per call
        # into a chunk-shaped buffer, so the loops run over long contiguous rows instead
        # of the broadcast's short inner runs (2x faster; an elementwise op gives the
        # same bits either way)
        tiles = {}
        if _prod(reg_shape) >= _MINMAX_FULL_MIN:
            for v in full_inputs:
                imp = self.implicit.get(v)
                if imp is None or any(imp[1][a] != 1 for a in range(kx + 1)):
                    continue
                dt = np.dtype(v.aval.dtype)
                self._tile_count = getattr(self, "_tile_count", 0) + 1
                r = self._tile_count
                self.need_reg(-1, dt, r, _prod(reg_shape))
                nm = f"_R{next(self._counter)}"
                self.reg_views.append((nm, -1, dt, r, reg_shape))
                first = "0:%d" % rows if kx == 0 else ", ".join(["0"] * kx + ["0:%d" % rows])
                self.emit(f"_copyto({nm}, {self.atom(v)}[{first}])")
                tiles[v] = nm
        fn = f"_g{k}"
        self.emit(f"def {fn}(lo, hi, T):")
        if reg_keys:
            self.emit("(" + ", ".join(reg_local[key] for key in reg_keys) + ",) = T", 2)
        ind = 2
        if kx > 0:
            self.emit(f"for o in _ndindex({tuple(S[:kx])!r}):", ind)
            ind += 1
        self.emit(f"for i in range(lo, hi, {rows}):", ind)
        ind += 1
        self.emit(f"j = i + {rows}", ind)
        self.emit("if j > hi:", ind)
        self.emit("j = hi", ind + 1)
        ix = "i:j" if kx == 0 else "ix"
        if kx > 0:
            self.emit("ix = o + (slice(i, j),)", ind)
        operand = {}
        if reg_keys:
            self.emit(f"if j - i == {rows}:", ind)
            self.emit("; ".join(f"r{reg_local[key][1:]} = {reg_local[key]}" for key in reg_keys),
                      ind + 1)
            self.emit("else:", ind)
            self.emit("m = j - i; " + "; ".join(
                f"r{reg_local[key][1:]} = {reg_local[key]}[:m]" for key in reg_keys), ind + 1)
        for v in full_inputs:
            nm = f"c{next(self._counter)}"
            if v in tiles:
                self.emit(f"{nm} = {tiles[v]} if j - i == {rows} else {tiles[v]}[:j - i]", ind)
            else:
                self.emit(f"{nm} = {self.atom(v)}[{ix}]", ind)
            operand[v] = nm
        for v, full in full_names.items():
            if v in operand:
                continue
            nm = f"c{next(self._counter)}"
            self.emit(f"{nm} = {full}[{ix}]", ind)
            operand[v] = nm
        for v, key in value_reg.items():
            operand[v] = f"r{reg_local[key][1:]}"
        self.reg_names = {key: f"r{reg_local[key][1:]}" for key in reg_keys}
        self.lit_full = {}
        for key, full in self.minmax_literals(g, reg_shape).items():
            nm = f"k{next(self._counter)}"
            self.emit(f"{nm} = {full} if j - i == {rows} else {full}[:j - i]", ind)
            self.lit_full[key] = nm
        self.emit_members(g, plan, operand, indent=ind, chunked=True)
        self.lit_full = {}
        post = []
        for c, mode in zip(g.closers, plan["closer_mode"]):
            if mode == "chunk":
                uf, with_dtype = _CHUNK_REDUCE[c.primitive.name]
                red = self.kernel(uf.reduce, uf.__name__ + "_reduce")
                axes = tuple(a - kx for a in c.params["axes"])
                dt = self.dtype_name(c.invars[0].aval.dtype) if with_dtype else "None"
                self.emit(f"{red}({operand[c.invars[0]]}, {axes!r}, {dt}, "
                          f"{self.names[c.outvars[0]]}[{ix}])", ind)
            else:
                post.append(c)
        if workers > 1:
            self.emit(f"_run_chunks({fn}, {S[0]}, {rows}, ({', '.join(tnames)},))")
        else:
            self.emit(f"{fn}({0}, {S[kx]}, {tnames[0]})")
        for c in post:
            src = full_names.get(c.invars[0], None) or self.names[c.invars[0]]
            self.emit(f"{self.var_name(c.outvars[0])} = {self.reduce_code(c, src)}")

    def bits_of(self, v, name, un):
        """Code for the unsigned-integer view of operand ``v`` (named ``name``)."""
        if type(v) is Literal:
            arr = np.asarray(v.val, v.aval.dtype).view(self.ns[un])
            return self.glob("_L", arr)
        return f"{name}.view({un})"

    @staticmethod
    def literal_bits_zero(v):
        a = np.asarray(v.val, v.aval.dtype)
        return not a.tobytes().strip(b"\x00")

    def minmax_literals(self, g, shape):
        """``{(member index, operand index): global name}``: literal operands of fused
        ``maximum``/``minimum`` as constant arrays of the chunk's ``shape`` (NumPy's
        min/max loops with a broadcast 0-d operand are 2x slower than with two arrays;
        the results are the same bits: the same elementwise function)."""
        out = {}
        if not shape or _prod(shape) < _MINMAX_FULL_MIN:
            return out
        for idx, m in enumerate(g.members):
            kind, fn, _ = fused_kernel(m)
            if kind != "ufunc" or fn not in (np.maximum, np.minimum):
                continue
            dt = np.dtype(m.outvars[0].aval.dtype)
            for pos, v in enumerate(m.invars):
                if type(v) is Literal and np.asarray(v.val).dtype == dt:
                    key = ("full", tuple(shape), dt.str, np.asarray(v.val).tobytes())
                    nm = self._lit_ids.get(key)
                    if nm is None:
                        arr = np.full(shape, v.val, dt)
                        arr.flags.writeable = False
                        nm = self._lit_ids[key] = self.glob("_F", arr)
                    out[(idx, pos)] = nm
        return out

    def emit_members(self, g, plan, operand, indent, chunked):
        kinds = plan["kinds"]
        bound = plan["bound"]
        lit_full = getattr(self, "lit_full", {})
        for midx, m in enumerate(g.members):
            kind, fn, extra = kinds[m]
            o = m.outvars[0]
            args = []
            for pos, v in enumerate(m.invars):
                if (midx, pos) in lit_full:
                    args.append(lit_full[(midx, pos)])
                elif type(v) is Literal:
                    args.append(self.atom0(v) if kind != "kw" else self.atom(v))
                elif v in operand:
                    args.append(operand[v])
                else:
                    args.append(self.atom(v))
            if o in bound:
                nm = f"w{next(self._counter)}"
                operand[o] = nm
                self.emit(f"{nm} = _where({args[0]}, {args[2]}, {args[1]})", indent)
                continue
            dest = operand[o]
            if kind == "kw":
                kn, _ = self.prim_kernel(m, fused=True)
                self.emit(f"{kn}({', '.join(args)}, out={dest})", indent)
                continue
            kn = self.kernel(fn, m.primitive.name)
            if kind == "ufunc" and fn in (np.maximum, np.minimum):
                self.emit(f"{kn}({', '.join(args)}, out={dest})", indent)
            elif kind == "ufunc":
                self.emit(f"{kn}({', '.join(args)}, {dest})", indent)
            elif kind == "square":
                self.emit(f"{kn}({args[0]}, {args[0]}, {dest})", indent)
            elif kind == "power":
                self.emit(f"{kn}({args[0]}, {self.glob('_P', extra)}, {dest})", indent)
            elif kind == "where" and plan["extra"].get(m) is not None:
                bits, rm, rt = plan["extra"][m]
                mask, tmp = self.reg_names[(bits, rm)], self.reg_names[(bits, rt)]
                un = self.dtype_name(bits)
                which, c0, c1 = m.invars
                b0 = self.bits_of(c0, args[1], un)
                b1 = self.bits_of(c1, args[2], un)
                self.emit(f"_negative({args[0]}, out={mask}, dtype={un}, casting='unsafe')",
                          indent)
                if type(c0) is Literal and self.literal_bits_zero(c0):
                    self.emit(f"_bitwise_and({b1}, {mask}, {dest}.view({un}))", indent)
                else:
                    self.emit(f"_bitwise_xor({b0}, {b1}, {tmp}); "
                              f"_bitwise_and({tmp}, {mask}, {tmp}); "
                              f"_bitwise_xor({b0}, {tmp}, {dest}.view({un}))", indent)
            elif kind == "where":
                if self.buffer_expr.get(o) == ("bind",):
                    self.emit(f"{dest} = _where({args[0]}, {args[2]}, {args[1]})", indent)
                elif chunked:
                    self.emit(f"_copyto({dest}, {args[1]}); "
                              f"_copyto({dest}, {args[2]}, where={args[0]})", indent)
                else:
                    self.emit(f"_copyto({dest}, _where({args[0]}, {args[2]}, {args[1]}))",
                              indent)
            else:
                raise AssertionError(kind)


def generate(jaxpr, consts, out_weak, donated=(), debug=False, in_orders=None
             ) -> GeneratedProgram:
    """Generate the NumPy program for an (optimized) jaxpr.

    ``out_weak`` gives the weak type of each output; ``donated`` one bool per input;
    ``debug`` turns off fusion and checks every equation's outputs for NaN/inf;
    ``in_orders`` the memory order of each input (default: C order).

    >>> prog = generate(closed.jaxpr, closed.consts, [False])
    >>> "def _body" in prog.source
    True
    """
    g = _Gen(jaxpr, consts, out_weak, donated, debug, in_orders)
    return g.generate()
