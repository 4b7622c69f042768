"""The IR: ``Var``, ``Literal``, ``Eqn``, ``Jaxpr``, ``ClosedJaxpr``, the printer and the type checker.

A jaxpr is a typed, first-order program::

    { lambda c:f32[3]; a:f32[3]. let
        b:f32[3] = sin a
        d:f32[3] = mul b c
      in (d,) }

``constvars`` come before ``;``, ``invars`` after it.
"""
from __future__ import annotations

import itertools

import numpy as np

from .abstract import ShapedArray


class Var:
    """A variable of a jaxpr; identity is the object itself."""

    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self):
        return f"Var({self.count}:{self.aval.str_short()})"


class Literal:
    """A scalar constant inlined into an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return f"Literal({self.val})"

    def str_val(self) -> str:
        v = self.val.item() if hasattr(self.val, "item") else self.val
        if isinstance(v, bool):
            return "True" if v else "False"
        return repr(v)


class DropVar:
    """An output variable that nobody reads (printed ``_``)."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval


class Eqn:
    """``outvars = primitive[params](invars)``; ``source`` is the user's file:line or None."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source")

    def __init__(self, primitive, invars, outvars, params, source=None):
        self.primitive = primitive
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.params = params
        self.source = source

    def replace(self, **kw) -> "Eqn":
        d = dict(primitive=self.primitive, invars=self.invars, outvars=self.outvars,
                 params=self.params, source=self.source)
        d.update(kw)
        return Eqn(**d)

    def __repr__(self):
        return f"Eqn({self.primitive.name}, {self.invars} -> {self.outvars})"


class Jaxpr:
    """An open program: ``constvars``, ``invars``, ``eqns`` and ``outvars`` (vars or literals)."""

    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars, invars, outvars, eqns):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def __str__(self):
        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A ``Jaxpr`` together with the values of its ``constvars``."""

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts):
        self.jaxpr = jaxpr
        self.consts = list(consts)
        assert len(self.consts) == len(jaxpr.constvars)

    @property
    def in_avals(self):
        return self.jaxpr.in_avals

    @property
    def out_avals(self):
        return self.jaxpr.out_avals

    @property
    def eqns(self):
        return self.jaxpr.eqns

    def __str__(self):
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__

    def to_dot(self, fusion_groups=None) -> str:
        """Graphviz DOT text of this program (see ``funcgrad.core.graph``)."""
        from .graph import jaxpr_to_dot
        return jaxpr_to_dot(self, fusion_groups)


# ----------------------------------------------------------------------------- printer

def _names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            yield "".join(combo)


class _Namer:
    def __init__(self):
        self.names = {}
        self.gen = _names()

    def __call__(self, v):
        if isinstance(v, Literal):
            return f"{v.str_val()}:{v.aval.str_short()}"
        if isinstance(v, DropVar):
            return "_"
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = next(self.gen)
        return n


def _pp_param(v, namer, indent) -> str:
    if isinstance(v, ClosedJaxpr):
        return _pp(v.jaxpr, namer, indent + 2)
    if isinstance(v, Jaxpr):
        return _pp(v, namer, indent + 2)
    if isinstance(v, (tuple, list)) and v and all(isinstance(x, (ClosedJaxpr, Jaxpr)) for x in v):
        return "(" + ", ".join(_pp_param(x, namer, indent) for x in v) + ")"
    if isinstance(v, np.dtype):
        return v.name
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return str(v)


def _pp_eqn(e: Eqn, namer, indent) -> str:
    lhs = " ".join(f"{namer(v)}:{v.aval.str_short()}" if not isinstance(v, DropVar) else "_"
                   for v in e.outvars)
    params = ""
    shown = {k: v for k, v in e.params.items() if not k.startswith("_")}
    if shown:
        params = "[" + " ".join(f"{k}={_pp_param(v, namer, indent)}"
                                for k, v in sorted(shown.items())) + "]"
    rhs = " ".join(namer(v) for v in e.invars)
    return f"{lhs} = {e.primitive.name}{params} {rhs}".rstrip()


def _pp(jaxpr: Jaxpr, namer, indent=0) -> str:
    consts = " ".join(f"{namer(v)}:{v.aval.str_short()}" for v in jaxpr.constvars)
    ins = " ".join(f"{namer(v)}:{v.aval.str_short()}" for v in jaxpr.invars)
    head = f"{{ lambda {consts}{' ' if consts else ''}; {ins}. let"
    eqns = [_pp_eqn(e, namer, indent) for e in jaxpr.eqns]
    outs = "(" + ", ".join(namer(v) for v in jaxpr.outvars) + ("," if len(jaxpr.outvars) == 1 else "") + ")"
    if len(eqns) <= 1 and "\n" not in "".join(eqns) and len(head) + sum(map(len, eqns)) < 80:
        body = f" {eqns[0]}" if eqns else ""
        return f"{head}{body} in {outs} }}"
    pad = " " * (indent + 4)
    lines = [head] + [pad + l for l in eqns] + [" " * (indent + 2) + f"in {outs} }}"]
    return "\n".join(lines)


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    """Print a jaxpr in JAX's text form."""
    return _pp(jaxpr, _Namer())


# ----------------------------------------------------------------------------- type checker

class JaxprTypeError(TypeError):
    """A malformed jaxpr: a variable used before definition, or types that disagree."""


def check_jaxpr(jaxpr: Jaxpr) -> None:
    """Check that every variable is defined once before use and that types agree.

    Each equation's output types must equal its primitive's shape rule applied to its
    input types.  Raises ``JaxprTypeError`` naming the equation.
    """
    env = set()

    def define(v, where):
        if isinstance(v, DropVar):
            return
        if not isinstance(v, Var):
            raise JaxprTypeError(f"{where}: binder {v!r} is not a Var")
        if v in env:
            raise JaxprTypeError(f"{where}: variable {v!r} defined twice")
        env.add(v)

    def read(v, where):
        if isinstance(v, Literal):
            if np.shape(v.val) != v.aval.shape:
                raise JaxprTypeError(f"{where}: literal {v.val!r} does not have type {v.aval}")
            return v.aval
        if v not in env:
            raise JaxprTypeError(f"{where}: variable {v!r} used before it is defined")
        return v.aval

    for v in jaxpr.constvars:
        define(v, "constvars")
    for v in jaxpr.invars:
        define(v, "invars")
    for i, e in enumerate(jaxpr.eqns):
        where = f"equation {i} ({e.primitive.name})"
        in_avals = [read(v, where) for v in e.invars]
        try:
            out = e.primitive.abstract_eval(*in_avals, **e.params)
        except Exception as err:
            raise JaxprTypeError(f"{where}: shape rule rejected inputs "
                                 f"{[a.str_short() for a in in_avals]}: {err}") from err
        outs = out if e.primitive.multiple_results else [out]
        if len(outs) != len(e.outvars):
            raise JaxprTypeError(f"{where}: {len(e.outvars)} binders for {len(outs)} outputs")
        for v, a in zip(e.outvars, outs):
            if not v.aval.same_type(a):
                raise JaxprTypeError(f"{where}: binder has type {v.aval.str_short()} "
                                     f"but the primitive produces {a.str_short()}")
            define(v, where)
    for v in jaxpr.outvars:
        read(v, "outvars")
