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

import numpy as np

from ..core.array import Array
from ..core.config import config
from ..core.ir import ClosedJaxpr
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


def compile_jaxpr(closed: ClosedJaxpr, donated=(), backend=None, name="jit") -> Executable:
    """Compile ``closed`` (for ``backend``, default ``config.default_backend``); returns an
    ``Executable``.  Cached by the identity of ``closed`` (and the donation mask, backend
    and the ``debug_nans``/``debug_infs`` flags), so repeated compiles are free.

    >>> exe = compile_jaxpr(fg.make_jaxpr(lambda x: x + 1.0)(1.0))
    >>> exe is compile_jaxpr(closed_same_object)   # cached
    """
    backend = backend or config.default_backend
    debug = bool(config.debug_nans or config.debug_infs)
    key = (tuple(bool(d) for d in donated) if any(donated) else (), backend, debug)
    d = _cache.get(closed)
    if d is not None:
        exe = d.get(key)
        if exe is not None:
            return exe
    exe = Executable(closed, key[0], debug, backend, name)
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


# ----------------------------------------------------------------------------- registration

def _pjit_impl(*args, jaxpr, **params):
    return compile_jaxpr(jaxpr, name=params.get("name") or "pjit").call_raw(*args)


jit_p.impl = _pjit_impl
set_compile_hook(compile_jaxpr)
