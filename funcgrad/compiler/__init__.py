"""The jit compiler: passes over jaxprs, fusion planning and code generation.

``compile_jaxpr(closed, donated)`` optimizes a ``ClosedJaxpr`` (``passes``), partitions it
into fused groups (``fusion``) and generates one Python function for the whole program
(``codegen_numpy``; ``codegen_cupy`` for the GPU).  Executables are cached by the identity
of the jaxpr (weakly), so compiling the same program again is free.

At import the compiler registers itself:

* ``funcgrad.core.staging.set_compile_hook``: control-flow primitives run their bodies
  compiled (``jaxpr_executable(closed)`` returns an ``Executable``);
* ``jit_p.impl``: a ``pjit`` equation evaluated eagerly (e.g. by ``eval_jaxpr``) runs its
  compiled code.  Nested ``pjit`` equations inside a program being compiled are inlined.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> closed = fg.make_jaxpr(lambda x: fnp.tanh(x) * 2.0)(fnp.ones(3))
>>> exe = compile_jaxpr(closed)
>>> exe(fnp.ones(3))[0]
Array([1.5231884, 1.5231884, 1.5231884], dtype=float32)
>>> "def _body" in exe.source
True
"""
from __future__ import annotations

import itertools
import linecache
import threading
import weakref
from collections import OrderedDict

import numpy as np

from ..core.array import Array
from ..core.config import config
from ..core.ir import ClosedJaxpr, DropVar, Jaxpr, Literal
from ..core.staging import set_compile_hook
from ..interpreters.call import jit_p
from . import passes, runtime
from .codegen_numpy import generate as _generate_numpy
from .layout import axis_order, is_c_order
from .runtime import DonatedArrayError, mark_donated

__all__ = ["compile_jaxpr", "Executable", "mark_donated", "DonatedArrayError", "passes",
           "runtime", "Array", "jit_p", "clear_cache"]

_file_ids = itertools.count()


class Executable:
    """A compiled program.

    ``exe(*flat_args)`` takes ``Array``s, NumPy arrays, NumPy scalars or Python scalars
    and returns a list of ``Array``s (with the program's weak types); ``exe.call_raw``
    takes and returns raw arrays.  ``source`` is the generated code; ``jaxpr`` the
    optimized program it was generated from; ``groups`` the fused groups.
    """

    def __init__(self, closed: ClosedJaxpr, donated=(), debug=False, backend="numpy",
                 name="jit"):
        self.in_avals = list(closed.in_avals)
        self.out_avals = list(closed.out_avals)
        self.backend = backend
        self.donated = tuple(bool(d) for d in donated) if donated else ()
        self._filenames = []
        opt = passes.optimize(closed)
        self.jaxpr = ClosedJaxpr(opt.jaxpr, opt.consts)
        self._out_weak = [a.weak_type for a in closed.out_avals]
        self._debug = debug
        self._name = name
        self._variants = {}
        self._lock = threading.Lock()
        ns, prog = self._build(None)
        self.groups = prog.groups
        self.arena_bytes = prog.arena_bytes
        self.scratch_bytes = prog.scratch_bytes
        self.source = prog.source
        self._ns = ns
        self._fn = ns["_run"]
        self._raw = ns["_run_raw"]

    def _build(self, in_orders):
        opt = self.jaxpr
        if self.backend == "cupy":
            from .codegen_cupy import generate as _generate_cupy
            prog = _generate_cupy(opt.jaxpr, opt.consts, self._out_weak, self.donated)
        else:
            prog = _generate_numpy(opt.jaxpr, opt.consts, self._out_weak, self.donated,
                                   self._debug, in_orders)
        filename = f"<funcgrad-jit-{self._name}-{next(_file_ids)}>"
        lines = prog.source.splitlines(True)
        linecache.cache[filename] = (len(prog.source), None, lines, filename)
        self._filenames.append(filename)
        ns = prog.namespace
        ns["_relayout"] = self._relayout
        exec(compile(prog.source, filename, "exec"), ns)
        return ns, prog

    def _relayout(self, raw, xs):
        """Inputs not in C order: run a variant compiled for their memory order (eager
        layouts, hence float reductions, depend on it)."""
        orders = []
        for x in xs:
            v = getattr(x, "_value", x)
            if isinstance(v, np.ndarray) and sum(1 for d in v.shape if d > 1) >= 2:
                o = axis_order(v)
                orders.append(None if is_c_order(o) else o)
            else:
                orders.append(None)
        key = tuple(orders)
        if not any(o is not None for o in key):
            ns = self._ns
        else:
            ns = self._variants.get(key)
            if ns is None:
                with self._lock:
                    ns = self._variants.get(key)
                    if ns is None:
                        ns = self._variants[key] = self._build(list(key))[0]
        return ns["_run_raw_nc" if raw else "_run_nc"](*xs)

    def __call__(self, *args):
        return self._fn(*args)

    def call_raw(self, *args):
        """Run on raw arrays; returns a list of raw arrays (NumPy scalars for rank 0)."""
        return self._raw(*args)

    def __del__(self):
        try:
            for f in self._filenames:
                linecache.cache.pop(f, None)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self):
        return (f"Executable({len(self.jaxpr.eqns)} equations, {len(self.groups)} fused "
                f"groups, backend={self.backend})")


_cache = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()
# structurally equal programs (control-flow bodies and call splits traced again on every
# eager call) share one executable; bounded, least recently used first out
_struct_cache = OrderedDict()
STRUCT_CACHE_SIZE = 512
STRUCT_CACHE_CONST_BYTES = 1 << 16


def _const_raw(c):
    return c._value if type(c) is Array else c


def _knobs():
    """The tuning knobs read while compiling (a change compiles anew)."""
    return (runtime.CHUNK_BYTES, runtime.NUM_THREADS, runtime.PARALLEL_MIN_ELEMENTS,
            runtime.SPLIT_MIN_ELEMENTS, runtime.SPLIT_CHUNK_BYTES, passes.FOLD_MAX_ELEMENTS)


def structure_key(closed: ClosedJaxpr):
    """``(key, keep)``: a hashable description of ``closed`` that is equal for two
    programs only if they compile to the same code (variables numbered in order of
    appearance; types, literals and scalar parameters by value; anything else, such as
    constants, functions or arrays in parameters, by identity, kept alive in ``keep``)."""
    names = {}
    keep = []

    def atom(v):
        if type(v) is Literal:
            a = np.asarray(v.val)
            return ("L", a.dtype.str, a.tobytes(), v.aval.weak_type)
        if type(v) is DropVar:
            return ("_", aval(v.aval))
        n = names.get(v)
        if n is None:
            n = names[v] = len(names)
            return (n, aval(v.aval))
        return n

    def aval(a):
        shape = getattr(a, "shape", None)
        if shape is None:
            keep.append(a)
            return ("id", id(a))
        return (tuple(shape), a.dtype.str, bool(a.weak_type))

    def param(x):
        t = type(x)
        if x is None or t is bool or t is int or t is float or t is str:
            return (t.__name__, repr(x))
        if t is tuple or t is list:
            return (t.__name__,) + tuple(param(y) for y in x)
        if t is dict:
            return ("dict",) + tuple((k, param(x[k])) for k in sorted(x, key=repr))
        if isinstance(x, np.dtype):
            return ("dtype", x.str)
        if isinstance(x, np.generic):
            return ("np", x.dtype.str, x.tobytes())
        if t is ClosedJaxpr:
            return ("closed", program(x))
        if t is Jaxpr:
            return ("jaxpr", body(x))
        keep.append(x)
        return ("id", id(x))

    def body(j):
        return (tuple(atom(v) for v in j.constvars), tuple(atom(v) for v in j.invars),
                tuple((e.primitive.name, id(e.primitive), tuple(atom(v) for v in e.invars),
                       tuple(atom(v) for v in e.outvars),
                       tuple((k, param(e.params[k])) for k in sorted(e.params)), e.source)
                      for e in j.eqns),
                tuple(atom(v) for v in j.outvars))

    def program(c):
        keep.extend(c.consts)
        return (body(c.jaxpr), tuple(id(x) for x in c.consts))

    return program(closed), keep


def compile_jaxpr(closed: ClosedJaxpr, donated=(), backend=None, name="jit") -> Executable:
    """Compile ``closed`` (for ``backend``, default ``config.default_backend``); returns an
    ``Executable``.  Cached by the identity of ``closed`` (and the donation mask, backend
    and the ``debug_nans``/``debug_infs`` flags), so repeated compiles are free; a program
    equal in structure to one compiled before (``structure_key``: a control-flow body traced
    again by an eager call) reuses that executable.

    >>> closed = fg.make_jaxpr(lambda x: x + 1.0)(1.0)
    >>> exe = compile_jaxpr(closed)
    >>> exe is compile_jaxpr(closed)   # cached
    True
    """
    backend = backend or config.default_backend
    debug = bool(config.debug_nans or config.debug_infs)
    key = (tuple(bool(d) for d in donated) if any(donated) else (), backend, debug)
    d = _cache.get(closed)
    if d is not None:
        exe = d.get(key)
        if exe is not None:
            return exe
    skey = None
    if sum(getattr(_const_raw(c), "nbytes", 0) for c in closed.consts) <= STRUCT_CACHE_CONST_BYTES:
        # (programs holding big constants are not kept alive by the structural cache)
        try:
            skey, keep = structure_key(closed)
            skey = (skey, key, name, _knobs())
            hash(skey)
        except TypeError:          # an unhashable piece: compile by identity only
            skey = None
    exe = None
    if skey is not None:
        with _cache_lock:
            hit = _struct_cache.get(skey)
            if hit is not None:
                _struct_cache.move_to_end(skey)
                exe = hit[0]
    if exe is None:
        exe = Executable(closed, key[0], debug, backend, name)
        if skey is not None:
            with _cache_lock:
                _struct_cache[skey] = (exe, keep)
                while len(_struct_cache) > STRUCT_CACHE_SIZE:
                    _struct_cache.popitem(last=False)
    with _cache_lock:
        d = _cache.get(closed)
        if d is None:
            d = _cache[closed] = {}
        exe = d.setdefault(key, exe)
    return exe


def clear_cache():
    """Forget every compiled executable."""
    with _cache_lock:
        _cache.clear()
        _struct_cache.clear()


# ----------------------------------------------------------------------------- registration

def _pjit_impl(*args, jaxpr, **params):
    return compile_jaxpr(jaxpr, name=params.get("name") or "pjit").call_raw(*args)


jit_p.impl = _pjit_impl
set_compile_hook(compile_jaxpr)
