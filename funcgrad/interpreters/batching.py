"""Batching (``vmap``): each value carries the position of its batch dimension.

A ``BatchTracer`` holds a value whose axis ``bdim`` is the batch (``None``: not batched).
Primitives move or keep that axis through their ``batch`` rule; values that are not
batched stay unbatched.  Collectives (``psum`` ...) use ``batch_with_axis``, which also
sees the axis name and size.
"""
from __future__ import annotations

from ..core import errors
from ..core.abstract import ShapedArray
from ..core.trace import Trace, Tracer, _state, get_aval, new_main
from .ad_util import hooks


class AxisData:
    __slots__ = ("size", "name", "main")

    def __init__(self, size, name):
        self.size = size
        self.name = name
        self.main = None


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self):
        a = get_aval(self.val)
        if self.bdim is None:
            return a
        shape = a.shape[:self.bdim] + a.shape[self.bdim + 1:]
        return ShapedArray(shape, a.dtype, a.weak_type)

    def full_lower(self):
        if self.bdim is None:
            v = self.val
            return v.full_lower() if isinstance(v, Tracer) else v
        return self


class BatchTrace(Trace):
    __slots__ = ()

    @property
    def axis(self) -> AxisData:
        return self.main.payload

    def pure(self, val):
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        if prim.batch_with_axis is None and all(d is None for d in dims):
            return prim.bind(*vals, **params)
        rules_axis = _rules_axis
        rules_axis.append(self.axis)   # sub-jaxprs batched inside the rule see our axis name
        try:
            if prim.batch_with_axis is not None:
                out, out_dim = prim.batch_with_axis(self.axis, vals, dims, **params)
            else:
                rule = prim.batch
                if rule is None:
                    raise NotImplementedError(
                        f"batching rule for '{prim.name}' not implemented")
                out, out_dim = rule(vals, dims, **params)
        finally:
            rules_axis.pop()
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)

    def to_concrete(self, tracer, what):
        if tracer.bdim is None:
            v = tracer.val
            return v._concrete(what) if isinstance(v, Tracer) else v
        raise errors.ConcretizationTypeError(
            f"a vmapped value of type {tracer.aval.str_short()} was used as a Python {what} "
            f"inside {self.main.name or 'a vmapped function'}; its value differs across the "
            "batch. Use lax.cond / fnp.where for data-dependent choices.")


_rules_axis = []   # the axes whose batching rules are running (innermost last)


def current_rule_axis_name():
    """The name of the vmap axis whose batching rule is running (None outside rules)."""
    return _rules_axis[-1].name if _rules_axis else None


def find_axis(name):
    """The ``AxisData`` of the innermost active ``vmap`` named ``name``, else NameError."""
    for m in reversed(_state.stack):
        if isinstance(m.trace, BatchTrace) and m.payload.name == name:
            return m.payload
    names = [m.payload.name for m in _state.stack if isinstance(m.trace, BatchTrace)
             and m.payload.name is not None]
    raise errors.UnboundAxisNameError(
        f"unbound axis name: {name!r}. Collectives need an enclosing vmap(..., axis_name="
        f"{name!r}); the axis names in scope are {names or 'none'}.")


def raise_to_axis(x, axis: AxisData):
    """Make ``x`` a tracer of the vmap that binds ``axis`` (so collectives see it)."""
    return axis.main.trace.full_raise(x)


def vmap_flat(fun, in_dims, axis_size, axis_name, args, name="vmap"):
    """Run ``fun`` on flat ``args`` batched along ``in_dims``; returns ``(outs, out_dims)``."""
    ad = AxisData(axis_size, axis_name)
    with new_main(BatchTrace, ad, name=name) as main:
        ad.main = main
        trace = main.trace
        ins = [BatchTracer(trace, a, d) if d is not None else a for a, d in zip(args, in_dims)]
        outs = fun(*ins)
        res, dims = [], []
        for o in outs:
            o = trace.full_raise(o)
            res.append(o.val)
            dims.append(o.bdim)
    return res, dims


def moveaxis(x, src, dst):
    if src == dst:
        return x
    return hooks.moveaxis(x, src, dst)


def bdim_at_front(x, bdim, size):
    """Move the batch axis of ``x`` to 0, broadcasting if ``x`` is unbatched."""
    if bdim is None:
        return hooks.broadcast_axis(x, size, 0)
    return moveaxis(x, bdim, 0)


def matchaxis(x, src, dst, size):
    """Put the batch axis of ``x`` at ``dst`` (``None``: must be unbatched)."""
    if src == dst:
        return x
    if dst is None:
        raise ValueError("vmap: cannot make a batched value unbatched (out_axes=None for a "
                         "value that depends on the batch)")
    if src is None:
        return hooks.broadcast_axis(x, size, dst)
    return hooks.moveaxis(x, src, dst)


def axis_size_of(vals, dims):
    for v, d in zip(vals, dims):
        if d is not None:
            return get_aval(v).shape[d]
    raise ValueError("no batched operand")
