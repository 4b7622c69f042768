"""The thin per-call path of a cached ``jit`` call.

``fast_key(args, static_argnums, flat)`` walks the positional arguments once, collecting
the array leaves into ``flat`` and returning a hashable signature (tree structure, shape,
dtype and weak type of each leaf, static values, config flags); ``None`` when an argument
is something the fast path does not know (a tracer, a namedtuple, a registered pytree
class), in which case ``jit`` takes its ordinary path.

``make_fast_call(executable, out_tree)`` generates a function ``call(flat)`` that runs the
compiled program and builds the output pytree with straight-line code.

>>> flat = []
>>> key = fast_key((fnp.ones(3), {"b": 1.0}), (), flat)
>>> len(flat)
2
"""
from __future__ import annotations

import numpy as np

from ..core.array import Array
from ..core.config import config
from ..core.pytree import PyTreeDef

__all__ = ["fast_key", "make_fast_call"]

_Array = Array
_nd = np.ndarray
_generic = np.generic
_SCALARS = (float, int, bool, complex)


def _walk(x, flat, key):
    t = x.__class__
    if t is _Array:
        v = x._value
        flat.append(x)
        key.append((v.shape, v.dtype, x._weak))
        return True
    if t is tuple or t is list:
        key.append(t)
        key.append(len(x))
        for c in x:
            if not _walk(c, flat, key):
                return False
        return True
    if t is dict:
        try:
            ks = sorted(x)
        except TypeError:
            return False
        key.append(dict)
        key.append(tuple(ks))
        for k in ks:
            if not _walk(x[k], flat, key):
                return False
        return True
    if x is None:
        key.append(None)
        return True
    if t is _nd:
        flat.append(x)
        key.append((x.shape, x.dtype, False))
        return True
    if t in _SCALARS:
        flat.append(x)
        key.append(t)
        return True
    if isinstance(x, _generic):
        flat.append(x)
        key.append(((), x.dtype, False))
        return True
    return False


def fast_key(args, static_argnums, flat):
    """The call signature of positional ``args`` (leaves appended to ``flat``), or None."""
    key = [config.enable_x64, config.debug_nans, config.debug_infs, len(args)]
    if static_argnums:
        for i, a in enumerate(args):
            if i in static_argnums:
                key.append(("static", a))
            elif not _walk(a, flat, key):
                return None
    else:
        for a in args:
            if not _walk(a, flat, key):
                return None
    key = tuple(key)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _builder_expr(td, it, ns):
    t = td.node_type
    if t is None:
        return f"r[{next(it)}]"
    kids = [_builder_expr(c, it, ns) for c in td.children]
    if t is tuple:
        return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(kids) + "]"
    if t is type(None):
        return "None"
    if t is dict:
        keys = td.node_data
        knames = []
        for k in keys:
            n = f"_key{len(ns)}"
            ns[n] = k
            knames.append(n)
        return "{" + ", ".join(f"{kn}: {v}" for kn, v in zip(knames, kids)) + "}"
    n = f"_node{len(ns)}"
    ns[n] = td
    return f"_unflat({n}, [{', '.join(kids)}])"


def _unflat_node(td, kids):
    return PyTreeDef(td.node_type, td.node_data,
                     [PyTreeDef(None, None, ()) for _ in kids]).unflatten(kids)


def make_fast_call(fn, out_tree: PyTreeDef):
    """``call(flat) -> output pytree`` running ``fn(*flat)`` (which returns a list)."""
    ns = {"_fn": fn, "_unflat": _unflat_node}
    try:
        expr = _builder_expr(out_tree, iter(range(out_tree.num_leaves)), ns)
    except Exception:  # noqa: BLE001 - unusual trees: use the generic unflatten
        ns["_td"] = out_tree
        expr = "_td.unflatten(r)"
    src = f"def call(flat):\n    r = _fn(*flat)\n    return {expr}\n"
    exec(compile(src, "<funcgrad-jit-dispatch>", "exec"), ns)
    return ns["call"]
