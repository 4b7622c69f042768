"""The trace stack, ``Tracer``, ``Trace`` and ``bind``.

Every transformation pushes a ``MainTrace`` at a new level.  ``bind`` finds the highest
level among its arguments' tracers (or the *dynamic* trace, used while staging a whole
function into a jaxpr) and lets that trace process the primitive; with no tracer and no
dynamic trace it runs the primitive's eager kernel directly (the fast path).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from . import errors
from .abstract import ShapedArray
from .config import config
from .primitive import Primitive as _Primitive


class MainTrace:
    """One active transformation: its level, its ``Trace`` and per-transform data."""

    __slots__ = ("level", "trace", "payload", "alive", "name")

    def __init__(self, level, trace_type, payload=None, name=""):
        self.level = level
        self.payload = payload
        self.alive = True
        self.name = name
        self.trace = trace_type(self)

    def __repr__(self):
        return f"MainTrace({self.level}, {type(self.trace).__name__})"


class _TraceState(threading.local):
    def __init__(self):
        self.stack = []
        self.dynamic = None   # the staging trace that captures even constant-only ops


_state = _TraceState()


@contextlib.contextmanager
def new_main(trace_type, payload=None, dynamic=False, name=""):
    """Push a new transformation on the trace stack for the duration of the block."""
    st = _state
    main = MainTrace(len(st.stack) + 1, trace_type, payload, name)
    st.stack.append(main)
    prev_dynamic = st.dynamic
    if dynamic:
        st.dynamic = main
    try:
        yield main
    finally:
        main.alive = False
        st.dynamic = prev_dynamic
        st.stack.pop()


def current_level() -> int:
    return len(_state.stack)


def dynamic_main():
    return _state.dynamic


def trace_state_clean() -> bool:
    return not _state.stack and _state.dynamic is None


class Tracer:
    """A value flowing through a transformation; ``aval`` is its abstract type."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    __array_ufunc__ = None

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError("Tracer subclasses define aval")

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return self.aval.ndim

    @property
    def size(self):
        return self.aval.size

    @property
    def weak_type(self):
        return self.aval.weak_type

    def full_lower(self):
        return self

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def _concrete(self, what):
        return self._trace.to_concrete(self, what)

    def __bool__(self):
        return bool(self._concrete("bool"))

    def __int__(self):
        return int(self._concrete("int"))

    def __float__(self):
        return float(self._concrete("float"))

    def __complex__(self):
        return complex(self._concrete("complex"))

    def __index__(self):
        return int(self._concrete("index"))

    def __array__(self, dtype=None, copy=None):
        v = np.asarray(self._concrete("numpy array"))
        return v.astype(dtype) if dtype is not None else v

    def __hash__(self):
        raise TypeError(f"unhashable type: traced array ({self.aval.str_short()}); "
                        "use it as a dict key only outside transformations")

    def __setitem__(self, idx, value):
        raise TypeError(
            "funcgrad arrays are immutable and do not support item assignment; "
            "use x = x.at[idx].set(value) instead")

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


def _concretization_error(tracer, what, main):
    name = main.name or "the function"
    hint = {
        "bool": "Python control flow on a traced value needs lax.cond / lax.while_loop, "
                "or fnp.where for elementwise choices",
        "int": "use a static argument (jit(..., static_argnums=...)) for values that "
               "decide shapes",
        "index": "index with lax.dynamic_slice or fnp.take, or make the index static "
                 "(jit(..., static_argnums=...))",
    }.get(what, "keep it as an array, or make the argument static "
                "(jit(..., static_argnums=...))")
    cls = (errors.TracerBoolConversionError if what == "bool" else
           errors.TracerIntegerConversionError if what in ("int", "index") else
           errors.ConcretizationTypeError)
    return cls(
        f"a traced value of type {tracer.aval.str_short()} was used as a Python {what} "
        f"while tracing {name}. Its value is not known at trace time. Fix: {hint}, or "
        f"mark the argument static with static_argnums.")


class Trace:
    """Processes primitives for one ``MainTrace``; subclasses define the interpreter."""

    __slots__ = ("main",)

    def __init__(self, main):
        self.main = main

    def pure(self, val):
        raise NotImplementedError

    def lift(self, tracer):
        return self.pure(tracer)

    def full_raise(self, val):
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if main.level < self.main.level:
            return self.lift(val)
        raise errors.UnexpectedTracerError(escaped_message(val))

    def process_primitive(self, prim, tracers, params):
        raise NotImplementedError

    def to_concrete(self, tracer, what):
        raise _concretization_error(tracer, what, self.main)


def escaped_message(tracer) -> str:
    return (f"a tracer of type {tracer.aval.str_short()} from a transformation that has "
            f"already finished ({type(tracer._trace).__name__}, "
            f"{tracer._trace.main.name or 'anonymous'}) was used. A traced value escaped "
            "its function, e.g. stored in a global or a closure during jit/grad/vmap. "
            "Return values from the transformed function instead of storing them.")


# ----------------------------------------------------------------------------- eager eval

_DEBUG = [False]   # debug_nans or debug_infs on


def _on_config(key):
    _DEBUG[0] = config.debug_nans or config.debug_infs


config._listeners.append(_on_config)
_on_config(None)

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_source():
    """The innermost stack frame outside funcgrad, as ``file:line (function)``."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR) and "contextlib" not in fn:
            return f"{fn}:{f.f_lineno} ({f.f_code.co_name})"
        f = f.f_back
    return None


def check_nans(prim_name, outs, source=None, phase=""):
    """Raise ``FloatingPointError`` if ``debug_nans``/``debug_infs`` is on and outs has any."""
    for o in outs:
        v = getattr(o, "_value", o)
        if not hasattr(v, "dtype") or v.dtype.kind not in "fc":
            continue
        where = source or user_source() or "unknown location"
        if config.debug_nans and bool(np.isnan(v).any()):
            raise FloatingPointError(
                f"NaN produced by primitive '{prim_name}'{phase} at {where}. Use "
                "config.update('debug_nans', False) to turn this check off.")
        if config.debug_infs and bool(np.isinf(v).any()):
            raise FloatingPointError(
                f"inf produced by primitive '{prim_name}'{phase} at {where}. Use "
                "config.update('debug_infs', False) to turn this check off.")


_Array = None  # set by array.py (avoids an import cycle)
_ABSTRACT_CACHE = {}   # eval_primitive's memo of shape-rule results (bounded)


def eval_primitive(prim, args, params):
    """Run a primitive's eager kernel on concrete values and wrap the results.

    The shape rule runs first (so eager and jit reject the same programs), except for the
    common elementwise case whose operands already agree in shape and dtype.
    """
    Array = _Array
    if len(args) == 2 and prim.elementwise and not params:
        # two operands of one dtype, the second an array of the same shape or a NumPy
        # scalar: the common binary op, nothing for the shape rule to check
        a, b = args
        if type(a) is Array and not a._weak:
            va = a._value
            tb = type(b)
            if tb is Array:
                if not b._weak:
                    vb = b._value
                    if vb.dtype == va.dtype and vb.shape == va.shape and (
                            va.dtype.kind in prim.lowering.get("kinds", "biufc")):
                        res = Array(prim.impl(va, vb))
                        if _DEBUG[0]:
                            check_nans(prim.name, [res])
                        return res
            elif isinstance(b, np.generic) and b.dtype == va.dtype and (
                    va.dtype.kind in prim.lowering.get("kinds", "biufc")):
                res = Array(prim.impl(va, b))
                if _DEBUG[0]:
                    check_nans(prim.name, [res])
                return res
    if len(args) == 1 and prim.elementwise and not params:
        # one operand, no parameters: the common unary math op
        a = args[0]
        if type(a) is Array and not a._weak and a._value.dtype.kind in prim.lowering.get(
                "kinds", "biufc"):
            res = Array(prim.impl(a._value))
            if _DEBUG[0]:
                check_nans(prim.name, [res])
            return res
    if not prim.elementwise and not prim.call_jaxpr_params and not _DEBUG[0]:
        # shape ops, reductions, dots on eager Arrays: the shape rule's answer is remembered
        # per (operand types, params); on a miss the general path below computes it
        key = [prim, prim.abstract_eval]
        vals = []
        for a in args:
            if type(a) is not Array:
                break
            v = a._value
            vals.append(v)
            key.append((v.shape, v.dtype, a._weak))
        else:
            if params:
                key.append(tuple(params.items()))
            try:
                out_aval = _ABSTRACT_CACHE.get(tuple(key))
            except TypeError:     # unhashable params
                out_aval = None
            if out_aval is not None:
                out = prim.impl(*vals, **params)
                if prim.multiple_results:
                    return [Array(o, w.weak_type) for o, w in zip(out, out_aval)]
                return Array(out, out_aval.weak_type)
    vals = []
    weak = False
    for a in args:
        if type(a) is Array:
            vals.append(a._value)
            weak = weak or a._weak
        else:
            vals.append(a)
    check = weak or not prim.elementwise or bool(params.get("weak_type")) or len(vals) == 1
    if not check and len(vals) > 1:
        v0 = vals[0]
        s0, d0 = getattr(v0, "shape", ()), getattr(v0, "dtype", None)
        if d0 is None or d0.kind not in prim.lowering.get("kinds", "biufc"):
            check = True
        for v in vals[1:]:
            s = getattr(v, "shape", ())
            if (s != s0 and s != () and s0 != ()) or getattr(v, "dtype", None) != d0:
                check = True
                break
    out_aval = None
    if check:
        # the shape rule depends only on the operands' (shape, dtype, weak type) and the
        # params: remember its answers (successes only, so errors are raised every time)
        key = None
        if not prim.call_jaxpr_params:
            key = [prim, prim.abstract_eval]
            for a in args:
                t = type(a)
                if t is Array:
                    v = a._value
                    key.append((v.shape, v.dtype, a._weak))
                elif t is np.ndarray or isinstance(a, np.generic):
                    key.append((a.shape, a.dtype))
                else:
                    key = None
                    break
        if key is not None:
            if params:
                key.append(tuple(params.items()))
            key = tuple(key)
            try:
                out_aval = _ABSTRACT_CACHE.get(key)
            except TypeError:     # unhashable params
                key = None
        if out_aval is None:
            avals = [x.aval if type(x) is Array else _aval_of_const(x) for x in args]
            out_aval = prim.abstract_eval(*avals, **params)
            if key is not None:
                if len(_ABSTRACT_CACHE) >= 4096:
                    _ABSTRACT_CACHE.clear()
                _ABSTRACT_CACHE[key] = out_aval
    out = prim.impl(*vals, **params)
    if out_aval is not None:
        if prim.multiple_results:
            res = [Array(o, w.weak_type) for o, w in zip(out, out_aval)]
        else:
            res = Array(out, out_aval.weak_type)
    elif prim.multiple_results:
        res = [Array(o) for o in out]
    else:
        res = Array(out)
    if _DEBUG[0]:
        check_nans(prim.name, res if prim.multiple_results else [res])
    return res


def _aval_of_const(x) -> ShapedArray:
    return _aval_of[0](x)


_aval_of = [None]   # array.aval_of, set by array.py (avoids an import cycle)


def bind(prim, *args, **params):
    """Apply ``prim`` to ``args`` under the active transformations."""
    st = _state
    top = st.dynamic
    for a in args:
        if isinstance(a, Tracer):
            m = a._trace.main
            if not m.alive:
                raise errors.UnexpectedTracerError(escaped_message(a))
            if top is None or m.level > top.level:
                top = m
    if top is None:
        return eval_primitive(prim, args, params)
    trace = top.trace
    tracers = [a if isinstance(a, Tracer) and a._trace.main is top else trace.full_raise(a)
               for a in args]
    out = trace.process_primitive(prim, tracers, params)
    if prim.multiple_results:
        return [o.full_lower() if isinstance(o, Tracer) else o for o in out]
    return out.full_lower() if isinstance(out, Tracer) else out


def get_aval(x) -> ShapedArray:
    """The abstract value of a tracer, ``Array``, NumPy array or Python scalar."""
    if type(x) is _Array:
        v = x._value
        return ShapedArray(v.shape, v.dtype, x._weak)
    if isinstance(x, Tracer):
        return x.aval
    return _aval_of[0](x)


def _primitive_bind(self, *args, **params):
    return bind(self, *args, **params)


_primitive_bind.__doc__ = "Apply this primitive under the current transformations."
_Primitive.bind = _primitive_bind
