"""Pytrees: nested tuples, lists, dicts, None, namedtuples and registered classes.

>>> leaves, treedef = tree_flatten({"w": 1.0, "b": (2.0, None)})
>>> leaves
[2.0, 1.0]
>>> tree_unflatten(treedef, [3.0, 4.0])
{'b': (3.0, None), 'w': 4.0}
"""
from __future__ import annotations

import collections
import dataclasses
import functools

_registry: dict = {}


class _Node:
    __slots__ = ("flatten", "unflatten", "name")

    def __init__(self, flatten, unflatten, name):
        self.flatten = flatten
        self.unflatten = unflatten
        self.name = name


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Register ``nodetype`` as a pytree node.

    ``flatten_func(x) -> (children, aux_data)``; ``unflatten_func(aux_data, children) -> x``.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> _ = register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    >>> fg.tree.leaves(Pair(1, [2, 3]))
    [1, 2, 3]
    """
    if nodetype in _registry:
        raise ValueError(f"{nodetype.__name__} is already registered as a pytree node")
    _registry[nodetype] = _Node(flatten_func, unflatten_func, nodetype.__name__)
    return nodetype


def register_pytree_node_class(cls):
    """Class decorator: ``cls`` defines ``tree_flatten(self)`` and classmethod ``tree_unflatten``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(cls=None, data_fields=None, meta_fields=None):
    """Register a dataclass: ``data_fields`` are children, ``meta_fields`` static aux data.

    Usable as a plain decorator (every field a child unless its metadata has ``static=True``).

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: object
    ...     b: object
    """
    if cls is None:
        return functools.partial(register_dataclass, data_fields=data_fields,
                                 meta_fields=meta_fields)
    if data_fields is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"register_dataclass: {cls.__name__} is not a dataclass; pass "
                            "data_fields and meta_fields explicitly")
        fields = [f for f in dataclasses.fields(cls) if f.init]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields or ())

    def flatten(x):
        return ([getattr(x, n) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def unflatten(meta, children):
        kw = dict(zip(data_fields, children))
        kw.update(zip(meta_fields, meta))
        return cls(**kw)

    register_pytree_node(cls, flatten, unflatten)
    _registry[cls].name = data_fields     # child names, for tree_flatten_with_path
    return cls


def _dict_flatten(d):
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


def _dict_unflatten(keys, children):
    return dict(zip(keys, children))


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda l: (l, None), lambda _, c: list(c))
register_pytree_node(dict, _dict_flatten, _dict_unflatten)
register_pytree_node(type(None), lambda n: ((), None), lambda _, c: None)
register_pytree_node(
    collections.OrderedDict,
    lambda d: (list(d.values()), tuple(d.keys())),
    lambda keys, c: collections.OrderedDict(zip(keys, c)))
register_pytree_node(
    collections.defaultdict,
    lambda d: (_dict_flatten(d)[0], (d.default_factory, _dict_flatten(d)[1])),
    lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c)))


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _get_node(x):
    t = type(x)
    node = _registry.get(t)
    if node is not None:
        return t, node
    if _is_namedtuple(x):
        return t, _NAMEDTUPLE
    return None, None


_NAMEDTUPLE = _Node(lambda t: (tuple(t), None), None, "namedtuple")


class PyTreeDef:
    """The structure of a pytree, with its leaves taken out.  Hashable and comparable."""

    __slots__ = ("node_type", "node_data", "children", "num_leaves", "_hash")

    def __init__(self, node_type, node_data, children):
        self.node_type = node_type
        self.node_data = node_data
        self.children = tuple(children)
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in self.children)
        self._hash = None

    @property
    def num_nodes(self):
        return 1 + sum(c.num_nodes for c in self.children)

    def unflatten(self, leaves):
        """Rebuild a tree of this structure from ``leaves``."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"tree structure {self} expects {self.num_leaves} leaves, "
                             f"got {len(leaves)}")
        it = iter(leaves)
        return self._build(it)

    def _build(self, it):
        t = self.node_type
        if t is None:
            return next(it)
        kids = [c._build(it) for c in self.children]
        if t is type(None):
            return None
        if t is tuple:
            return tuple(kids)
        if t is list:
            return kids
        node = _registry.get(t)
        if node is None:  # namedtuple
            return t(*kids)
        return node.unflatten(self.node_data, kids)

    def flatten_up_to(self, tree):
        """The subtrees of ``tree`` at this structure's leaves (this is a prefix of tree)."""
        out = []
        self._up_to(tree, out, "")
        return out

    def _up_to(self, tree, out, path):
        t = self.node_type
        if t is None:
            out.append(tree)
            return
        tt, node = _get_node(tree)
        if tt is not t:
            raise ValueError(f"pytree structure mismatch at {path or 'the root'}: expected "
                             f"{_type_name(t)}, got {type(tree).__name__}")
        kids, data = node.flatten(tree)
        kids = list(kids)
        if data != self.node_data or len(kids) != len(self.children):
            raise ValueError(f"pytree structure mismatch at {path or 'the root'}: expected "
                             f"{self}, got a node with {len(kids)} children ({data})")
        for i, (c, k) in enumerate(zip(self.children, kids)):
            c._up_to(k, out, f"{path}[{data[i]!r}]" if isinstance(data, tuple)
                     and len(data) == len(kids) else f"{path}[{i}]")

    def __eq__(self, other):
        if self is other:
            return True
        return (isinstance(other, PyTreeDef) and self.node_type is other.node_type
                and self.node_data == other.node_data and self.children == other.children)

    def __hash__(self):
        h = self._hash
        if h is None:
            try:
                h = hash((self.node_type, self.node_data, self.children))
            except TypeError:
                h = hash((self.node_type, self.children))
            self._hash = h
        return h

    def __repr__(self):
        return f"PyTreeDef({self._str()})"

    def _str(self):
        t = self.node_type
        if t is None:
            return "*"
        kids = [c._str() for c in self.children]
        if t is tuple:
            return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
        if t is list:
            return "[" + ", ".join(kids) + "]"
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.node_data, kids)) + "}"
        if t is type(None):
            return "None"
        return f"{t.__name__}(" + ", ".join(kids) + ")"


def _type_name(t):
    return "a leaf" if t is None else t.__name__


_LEAF = PyTreeDef(None, None, ())


def _flatten(x, leaves, is_leaf):
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    t = type(x)
    if t is tuple or t is list:
        return PyTreeDef(t, None, [_flatten(c, leaves, is_leaf) for c in x])
    node = _registry.get(t)
    if node is None:
        if _is_namedtuple(x):
            return PyTreeDef(t, None, [_flatten(c, leaves, is_leaf) for c in x])
        leaves.append(x)
        return _LEAF
    kids, data = node.flatten(x)
    return PyTreeDef(t, data, [_flatten(c, leaves, is_leaf) for c in kids])


def tree_flatten(tree, is_leaf=None):
    """Return ``(leaves, treedef)``."""
    leaves = []
    td = _flatten(tree, leaves, is_leaf)
    return leaves, td


def tree_unflatten(treedef: PyTreeDef, leaves):
    """Inverse of ``tree_flatten``."""
    return treedef.unflatten(leaves)


def tree_leaves(tree, is_leaf=None):
    """The leaves of ``tree`` in flattening order."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> PyTreeDef:
    """The ``PyTreeDef`` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f, tree, *rest, is_leaf=None):
    """Apply ``f`` leafwise: ``tree_map(lambda x, y: x + y, t1, t2)``.

    >>> tree_map(lambda x: x * 2, {"a": 1, "b": [2, 3]})
    {'a': 2, 'b': [4, 6]}
    """
    leaves, td = tree_flatten(tree, is_leaf)
    if not rest:
        return td.unflatten([f(x) for x in leaves])
    others = []
    for i, r in enumerate(rest):
        try:
            others.append(td.flatten_up_to(r))
        except ValueError as e:
            raise ValueError(f"tree_map: argument {i + 1} does not have the structure of the "
                             f"first tree ({td}): {e}") from None
    return td.unflatten([f(*xs) for xs in zip(leaves, *others)])


def tree_all(tree) -> bool:
    """Whether every leaf is truthy.

    >>> fg.tree.all({"a": True, "b": [1, 2]})
    True
    """
    return all(tree_leaves(tree))


def tree_reduce(f, tree, initializer=None, is_leaf=None):
    """Fold ``f`` over the leaves: ``tree_reduce(operator.add, {"a": 1, "b": 2}) == 3``."""
    leaves = tree_leaves(tree, is_leaf)
    return functools.reduce(f, leaves) if initializer is None else functools.reduce(
        f, leaves, initializer)


def treedef_children(td: PyTreeDef):
    """The structures of the children of the root node."""
    return list(td.children)


def treedef_is_leaf(td: PyTreeDef) -> bool:
    """Whether the structure is a single leaf."""
    return td.node_type is None


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    """Turn a tree of trees (outer of inner) into an inner tree of outer trees."""
    flat = outer_treedef.flatten_up_to(pytree_to_transpose)
    lol = [inner_treedef.flatten_up_to(x) for x in flat]
    transposed = list(zip(*lol)) if lol else [()] * inner_treedef.num_leaves
    return inner_treedef.unflatten([outer_treedef.unflatten(col) for col in transposed])


def _key_flatten(x, path, out, is_leaf):
    if is_leaf is not None and is_leaf(x):
        out.append((path, x))
        return
    t, node = _get_node(x)
    if node is None:
        out.append((path, x))
        return
    kids, data = node.flatten(x)
    kids = list(kids)
    if t in (dict, collections.OrderedDict):
        keys = [f"[{k!r}]" for k in data]
    elif t is collections.defaultdict:
        keys = [f"[{k!r}]" for k in data[1]]
    elif node is _NAMEDTUPLE:
        keys = [f".{f}" for f in t._fields]
    elif isinstance(node.name, tuple):
        keys = [f".{n}" for n in node.name]
    else:
        keys = [f"[{i}]" for i in range(len(kids))]
    for k, c in zip(keys, kids):
        _key_flatten(c, path + (k,), out, is_leaf)


def tree_flatten_with_path(tree, is_leaf=None):
    """``([(path, leaf)], treedef)`` where a path is a tuple of strings like ``"['w']"``."""
    out = []
    _key_flatten(tree, (), out, is_leaf)
    return out, tree_structure(tree, is_leaf)


def keystr(path) -> str:
    """Join a path from ``tree_flatten_with_path`` into one string."""
    return "".join(path)


def all_leaves(iterable) -> bool:
    """Whether every element of ``iterable`` is a leaf (not a container)."""
    return all(tree_structure(x) == _LEAF for x in iterable)
