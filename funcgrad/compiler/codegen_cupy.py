"""CuPy code generation: one CUDA kernel per fused group.

The program is scheduled and grouped exactly as for NumPy (``fusion.schedule``); then

* an elementwise group becomes one ``cupy.ElementwiseKernel`` whose body is built from
  each primitive's ``lowering["cuda"]`` expression template (``{0}``, ``{1}`` are the
  operands), one statement per equation, typed temporaries, literals inlined exactly;
* each reduction closing a group becomes a ``cupy.ReductionKernel`` whose map expression
  is a ``__device__`` function (in the kernel's preamble) evaluating the group's
  expressions up to the reduced value;
* ``dot_general`` runs through ``cupy.matmul``/``cupy.dot`` (cuBLAS) with the same
  transpose/reshape plan as the eager kernel; other equations call the primitive's own
  kernel (NumPy functions dispatch to CuPy through ``__array_function__``).

Kernels are built lazily on first use and cached by their source text, so generating
code (``Executable.source``, shown by ``jit(f).lower(...).compile().as_text()``) needs
neither CuPy nor a GPU.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> closed = fg.make_jaxpr(lambda x: fnp.tanh(x) * 2.0)(fnp.ones(3))
>>> print(generate(closed.jaxpr, closed.consts, [False]).source)   # doctest: +ELLIPSIS
# ---- CUDA kernels ...
"""
from __future__ import annotations

import functools
import itertools
import math
import struct
import threading

import numpy as np

from ..core.array import Array
from ..core.ir import Literal, Var
from .codegen_numpy import GeneratedProgram
from .fusion import Group, schedule
from .specialize import dot_code

__all__ = ["generate", "cuda_type", "cuda_literal", "elementwise_kernel_source",
           "kernel_cache"]

_CUDA_TYPES = {
    "bool": "bool", "int8": "signed char", "uint8": "unsigned char", "int16": "short",
    "uint16": "unsigned short", "int32": "int", "uint32": "unsigned int",
    "int64": "long long", "uint64": "unsigned long long", "float16": "float16",
    "float32": "float", "float64": "double", "complex64": "complex<float>",
    "complex128": "complex<double>",
}

# templates for primitives whose lowering has no "cuda" entry
_EXTRA_TEMPLATES = {
    "add_any": "({0} + {1})",
}

_REDUCE_EXPR = {"reduce_sum": "a + b", "reduce_prod": "a * b", "reduce_max": "max(a, b)",
                "reduce_min": "min(a, b)", "reduce_and": "a && b", "reduce_or": "a || b"}


def cuda_type(dtype) -> str:
    """The CUDA C type of a NumPy dtype (``float32`` -> ``float``)."""
    return _CUDA_TYPES[np.dtype(dtype).name]


def cuda_literal(value, dtype) -> str:
    """An exact CUDA literal of ``dtype`` for ``value`` (bit patterns for nan/inf)."""
    dt = np.dtype(dtype)
    v = np.asarray(value, dt)[()]
    if dt.kind == "b":
        return "true" if bool(v) else "false"
    if dt.kind in "iu":
        suffix = {1: "", 2: "", 4: "" if dt.kind == "i" else "u",
                  8: "LL" if dt.kind == "i" else "ULL"}[dt.itemsize]
        if dt.kind == "i" and int(v) == np.iinfo(dt).min:
            return f"({int(v) + 1}{suffix} - 1)"
        return f"(({cuda_type(dt)}){int(v)}{suffix})"
    if dt.kind == "f":
        f = float(v)
        if dt.itemsize == 4:
            if math.isfinite(f):
                return f"{f!r}f"
            bits = struct.unpack("<I", struct.pack("<f", f))[0]
            return f"__int_as_float(0x{bits:08x})"
        if dt.itemsize == 8:
            if math.isfinite(f):
                return repr(f)
            bits = struct.unpack("<Q", struct.pack("<d", f))[0]
            return f"__longlong_as_double(0x{bits:016x}LL)"
        return f"((float16){float(v)!r}f)"
    if dt.kind == "c":
        ct = cuda_type(dt)
        return f"{ct}({float(v.real)!r}, {float(v.imag)!r})"
    raise TypeError(f"no CUDA literal for dtype {dt}")


def _identity(prim_name, dtype) -> str:
    dt = np.dtype(dtype)
    if prim_name == "reduce_sum":
        return cuda_literal(0, dt)
    if prim_name == "reduce_prod":
        return cuda_literal(1, dt)
    if prim_name == "reduce_and":
        return "true"
    if prim_name == "reduce_or":
        return "false"
    if dt.kind == "f":
        return cuda_literal(-np.inf if prim_name == "reduce_max" else np.inf, dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return cuda_literal(info.min if prim_name == "reduce_max" else info.max, dt)
    if dt.kind == "b":
        return "false" if prim_name == "reduce_max" else "true"
    raise TypeError(f"{prim_name}: no identity for {dt}")


def _template(e):
    """A CUDA expression template over ``{0}``, ``{1}``, ... for equation ``e`` or None."""
    p = e.primitive
    name = p.name
    params = e.params
    if name == "convert_element_type":
        new = np.dtype(params["new_dtype"])
        if new.kind == "b":
            return "({0} != 0)"
        return f"(({cuda_type(new)})({{0}}))"
    if name == "integer_pow":
        y = int(params["y"])
        if y == 0:
            return cuda_literal(1, e.invars[0].aval.dtype)
        body = " * ".join(["{0}"] * abs(y))
        if y < 0:
            return f"({cuda_literal(1, e.invars[0].aval.dtype)} / ({body}))"
        return f"({body})"
    if name == "select_n":
        n = len(e.invars) - 1
        if n == 1:
            return "({1})"
        if e.invars[0].aval.dtype.kind == "b":
            return "({0} ? {2} : {1})"
        expr = "{%d}" % n
        for i in range(n - 2, -1, -1):
            expr = f"(({{0}} == {i}) ? {{{i + 1}}} : {expr})"
        return expr
    low = p.lowering or {}
    t = low.get("cuda")
    if t:
        return t
    return _EXTRA_TEMPLATES.get(name)


def _cuda_fusible(e) -> bool:
    return (e.primitive.elementwise and not e.primitive.multiple_results
            and _template(e) is not None)


def elementwise_kernel_source(name, in_params, out_params, operation, preamble=""):
    """The CUDA text CuPy compiles for an ``ElementwiseKernel`` (as shown in ``.source``)."""
    head = f"// {name}: in({in_params}) out({out_params})"
    return "\n".join(x for x in (head, preamble, operation) if x)


# ----------------------------------------------------------------------------- kernel cache

kernel_cache = {}
_kernel_lock = threading.Lock()


class _LazyKernel:
    """A CuPy kernel built on first call and cached by its source text."""

    __slots__ = ("spec", "kernel")

    def __init__(self, spec):
        self.spec = spec
        self.kernel = None

    def _build(self):
        k = kernel_cache.get(self.spec)
        if k is None:
            import cupy
            kind = self.spec[0]
            if kind == "elementwise":
                _, in_p, out_p, op, name, preamble = self.spec
                k = cupy.ElementwiseKernel(in_p, out_p, op, name, preamble=preamble)
            else:
                _, in_p, out_p, map_e, red_e, post, ident, name, preamble = self.spec
                k = cupy.ReductionKernel(in_p, out_p, map_e, red_e, post, ident, name,
                                         preamble=preamble)
            with _kernel_lock:
                k = kernel_cache.setdefault(self.spec, k)
        self.kernel = k
        return k

    def __call__(self, *args, **kw):
        k = self.kernel or self._build()
        return k(*args, **kw)


# ----------------------------------------------------------------------------- generator

class _CupyGen:
    def __init__(self, jaxpr, consts, out_weak, donated):
        self.j = jaxpr
        self.consts = consts
        self.out_weak = out_weak
        self.ns = {"_A": Array, "_cp": None, "_np": np, "_lazy_cupy": _lazy_cupy}
        self.names = {}
        self.lines = []
        self.kernels = []     # (name, source text)
        self._counter = itertools.count()

    def glob(self, prefix, value):
        name = f"{prefix}{next(self._counter)}"
        self.ns[name] = value
        return name

    def var(self, v):
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = f"v{next(self._counter)}"
        return n

    def atom(self, v):
        if type(v) is Literal:
            return self.glob("_L", v.val)
        return self.names[v]

    def emit(self, line, indent=1):
        self.lines.append("    " * indent + line)

    def generate(self):
        j = self.j
        for i, v in enumerate(j.invars):
            self.names[v] = f"a{i}"
        const_names = []
        for v, c in zip(j.constvars, self.consts):
            raw = c._value if type(c) is Array else c
            self.names[v] = f"k{len(const_names)}"
            const_names.append(self.glob("_K", raw))
        if const_names:
            # constants are uploaded to the device once, on the first call
            self.ns["_dev_consts"] = []
            self.emit("if not _dev_consts:")
            self.emit(f"_dev_consts.append(tuple(_to_dev(c) for c in ({', '.join(const_names)},)))",
                      2)
            ks = [self.names[v] for v in j.constvars]
            self.emit(f"({', '.join(ks)},) = _dev_consts[0]")
        items = schedule(j)
        users = {}
        for k, it in enumerate(items):
            eqns = it.eqns if type(it) is Group else [it]
            inner = set()
            for e in eqns:
                for v in e.invars:
                    if type(v) is Var and v not in inner:
                        users.setdefault(v, set()).add(k)
                for o in e.outvars:
                    if type(o) is Var:
                        inner.add(o)
        for v in j.outvars:
            if type(v) is Var:
                users.setdefault(v, set()).add(-1)
        self.users = users
        groups = []
        for k, it in enumerate(items):
            if type(it) is Group:
                groups.append(it)
                self.emit_group(it, k)
            else:
                self.emit_eqn(it)
        outs = [self.atom(v) for v in j.outvars]
        self.emit("return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")
        n = len(j.invars)
        xs = [f"x{i}" for i in range(n)]
        body = ["def _body(" + ", ".join(f"a{i}" for i in range(n)) + "):",
                "    _cp = _lazy_cupy()", "    _to_dev = _cp.asarray"] + self.lines
        wrap = ["def _run(" + ", ".join(xs) + "):"]
        for i in range(n):
            wrap.append(f"    a{i} = x{i}._value if x{i}.__class__ is _A else x{i}")
        wrap.append("    r = _body(" + ", ".join(f"a{i}" for i in range(n)) + ")")
        wrap.append("    return [" + ", ".join(f"_A(r[{i}], {bool(w)})"
                                            for i, w in enumerate(self.out_weak)) + "]")
        wrap += ["", "def _run_raw(" + ", ".join(xs) + "):"]
        for i in range(n):
            wrap.append(f"    a{i} = getattr(x{i}, '_value', x{i})")
        wrap.append("    return list(_body(" + ", ".join(f"a{i}" for i in range(n)) + "))")
        kern = ["# ---- CUDA kernels (cupy.ElementwiseKernel / cupy.ReductionKernel) ----"]
        for name, text in self.kernels:
            kern.append(f"# [{name}]")
            kern += ["#   " + line for line in text.splitlines()]
        if not self.kernels:
            kern.append("# (none)")
        source = "\n".join(kern) + "\n\n" + "\n".join(body) + "\n\n\n" + "\n".join(wrap) + "\n"
        for a in ("_run_nc", "_run_raw_nc"):
            self.ns[a] = None
        return GeneratedProgram(source, self.ns, groups, 0, 0)

    # ------------------------------------------------------------------ equations
    def emit_eqn(self, e):
        p = e.primitive
        name = p.name
        ins = [self.atom(v) for v in e.invars]
        lhs = [self.var(o) if type(o) is Var else "_" for o in e.outvars]
        code = None
        if name == "reshape" and e.params.get("dimensions") is None:
            code = f"_cp.reshape({ins[0]}, {tuple(e.params['new_sizes'])!r})"
        elif name == "transpose":
            code = f"_cp.transpose({ins[0]}, {tuple(e.params['permutation'])!r})"
        elif name == "broadcast_in_dim":
            shape = tuple(e.params["shape"])
            inter = [1] * len(shape)
            for i, d in enumerate(e.params["broadcast_dimensions"]):
                inter[d] = e.invars[0].aval.shape[i]
            code = f"_cp.broadcast_to(_cp.reshape({ins[0]}, {tuple(inter)!r}), {shape!r})"
        elif name == "stop_gradient":
            code = ins[0]
        elif name == "dot_general":
            code = dot_code(e, ins[0], ins[1])
            if code is not None:
                code = code.replace("_matmul(", "_cp.matmul(").replace("_dot(", "_cp.dot(")
                code = code.replace("_np.dtype", "_cp.dtype")
        if code is None:
            fn = functools.partial(p.impl, **e.params) if e.params else p.impl
            code = f"{self.glob('_k_' + name + '_', fn)}({', '.join(ins)})"
        if p.multiple_results:
            self.emit(f"{', '.join(lhs)}{',' if len(lhs) == 1 else ''} = {code}" if lhs
                      else code)
        else:
            self.emit(f"{lhs[0]} = {code}")

    # ------------------------------------------------------------------ groups
    def emit_group(self, g, k):
        if g.head is not None:
            self.emit_eqn(g.head)
        members = g.members
        if any(not _cuda_fusible(m) for m in members):
            # a primitive without a CUDA template: run the group equation by equation
            for m in members:
                self.emit_eqn(m)
            for c in g.closers:
                self.emit_eqn(c)
            return
        inner = {m.outvars[0] for m in members}
        inputs = []
        for m in members:
            for v in m.invars:
                if type(v) is Var and v not in inner and v not in inputs:
                    inputs.append(v)
        external = [m.outvars[0] for m in members
                    if any(u != k for u in self.users.get(m.outvars[0], ()))]
        pname = {v: f"x{i}" for i, v in enumerate(inputs)}
        stmts = []
        tname = {}
        for idx, m in enumerate(members):
            args = []
            for v in m.invars:
                if type(v) is Literal:
                    args.append(cuda_literal(v.val, v.aval.dtype))
                elif v in tname:
                    args.append(tname[v])
                else:
                    args.append(pname[v])
            o = m.outvars[0]
            t = f"t{idx}"
            tname[o] = t
            expr = _template(m).format(*args)
            stmts.append(f"{cuda_type(o.aval.dtype)} {t} = {expr};")
        in_params = ", ".join(f"{v.aval.dtype.name} {pname[v]}" for v in inputs)
        if external:
            out_params = ", ".join(f"{o.aval.dtype.name} y{i}" for i, o in enumerate(external))
            op = "\n".join(stmts + [f"y{i} = {tname[o]};" for i, o in enumerate(external)])
            kname = f"fg_fused_{k}"
            spec = ("elementwise", in_params, out_params, op, kname, "")
            kn = self.glob("_EK", _LazyKernel(spec))
            self.kernels.append((kname, elementwise_kernel_source(kname, in_params,
                                                                  out_params, op)))
            lhs = [self.var(o) for o in external]
            args = [self.names[v] for v in inputs]
            self.emit(f"# {g}")
            self.emit(f"{', '.join(lhs)} = {kn}({', '.join(args)})")
        for ci, c in enumerate(g.closers):
            src = c.invars[0]
            cname = c.primitive.name
            out = c.outvars[0]
            if src in tname:
                # the part of the group that computes ``src``
                needed = set()
                stack = [src]
                while stack:
                    v = stack.pop()
                    if v in needed or v not in tname:
                        continue
                    needed.add(v)
                    m = next(mm for mm in members if mm.outvars[0] is v)
                    stack += [w for w in m.invars if type(w) is Var]
                body = [s for m, s in zip(members, stmts) if m.outvars[0] in needed]
                used_in = [v for v in inputs if any(
                    v in m.invars for m in members if m.outvars[0] in needed)]
                fn = f"fg_map_{k}_{ci}"
                ret = tname[src]
                pre = (f"__device__ {cuda_type(src.aval.dtype)} {fn}("
                       + ", ".join(f"{cuda_type(v.aval.dtype)} {pname[v]}" for v in used_in)
                       + ") {\n  " + "\n  ".join(body) + f"\n  return {ret};\n}}")
                map_expr = f"{fn}(" + ", ".join(pname[v] for v in used_in) + ")"
                cin = ", ".join(f"{v.aval.dtype.name} {pname[v]}" for v in used_in)
                call_args = [self.names[v] for v in used_in]
            else:
                pre = ""
                map_expr = "x0"
                cin = f"{src.aval.dtype.name} x0"
                call_args = [self.atom(src)]
            if cname not in _REDUCE_EXPR:
                self.emit_eqn(c)
                continue
            rname = f"fg_reduce_{k}_{ci}"
            spec = ("reduction", cin, f"{out.aval.dtype.name} y", map_expr,
                    _REDUCE_EXPR[cname], "y = a", _identity(cname, out.aval.dtype), rname,
                    pre)
            kn = self.glob("_RK", _LazyKernel(spec))
            self.kernels.append((rname, "\n".join([
                f"// {rname}: ReductionKernel in({cin}) out({out.aval.dtype.name} y)",
                pre, f"// map: {map_expr}   reduce: {_REDUCE_EXPR[cname]}   "
                f"identity: {spec[6]}"])))
            axes = tuple(c.params["axes"])
            self.emit(f"{self.var(out)} = {kn}({', '.join(call_args)}, axis={axes!r})")


@functools.lru_cache(maxsize=None)
def _lazy_cupy():
    import cupy
    return cupy


def generate(jaxpr, consts, out_weak, donated=()) -> GeneratedProgram:
    """Generate the CuPy driver and CUDA kernels for an (optimized) jaxpr; building the
    kernels (and importing CuPy) happens on the first call."""
    return _CupyGen(jaxpr, consts, out_weak, donated).generate()
