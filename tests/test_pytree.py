"""Pytrees: tuples, lists, dicts, None, namedtuples, registered classes, dataclasses."""
from __future__ import annotations

import collections
import dataclasses
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import tree, tree_util
from funcgrad.test_util import strategies as fst

Point = collections.namedtuple("Point", ["x", "y"])


class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __eq__(self, other):
        return type(other) is Pair and self.a == other.a and self.b == other.b


tree.register_pytree_node(Pair, lambda p: ((p.a, p.b), "pair"), lambda aux, c: Pair(*c))


@tree_util.register_pytree_node_class
class Box:
    def __init__(self, v, label):
        self.v, self.label = v, label

    def tree_flatten(self):
        return (self.v,), self.label

    @classmethod
    def tree_unflatten(cls, label, children):
        return cls(children[0], label)


@tree.register_dataclass
@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = dataclasses.field(default="p", metadata={"static": True})


@dataclasses.dataclass
class Explicit:
    scale: float
    x: object
    y: object


tree.register_dataclass(Explicit, data_fields=["x", "y"], meta_fields=["scale"])


def test_basic_flatten_unflatten():
    t = {"w": 1.0, "b": (2.0, None), "l": [3.0, [4.0]]}
    leaves, td = tree.flatten(t)
    assert leaves == [2.0, 3.0, 4.0, 1.0]           # dict keys sorted: b, l, w
    assert td.num_leaves == 4
    assert tree.unflatten(td, leaves) == t
    assert tree.unflatten(td, [5, 6, 7, 8]) == {"b": (5, None), "l": [6, [7]], "w": 8}
    with pytest.raises(ValueError, match="expects 4 leaves, got 3"):
        tree.unflatten(td, [1, 2, 3])


def test_none_is_an_empty_node():
    assert tree.leaves([None, 1, (None,)]) == [1]
    assert tree.structure(None).num_leaves == 0
    assert tree.map(lambda x: x + 1, {"a": None, "b": 1}) == {"a": None, "b": 2}


def test_dict_key_order_sorted_and_insertion_independent():
    a = {"b": 1, "a": 2, "c": 3}
    b = {"c": 3, "a": 2, "b": 1}
    assert tree.leaves(a) == [2, 1, 3]
    assert tree.structure(a) == tree.structure(b) and hash(tree.structure(a)) == hash(
        tree.structure(b))
    assert list(tree.map(lambda x: x, a).keys()) == ["a", "b", "c"]


def test_ordered_and_default_dict():
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    assert tree.leaves(od) == [1, 2]                 # insertion order kept
    back = tree.map(lambda x: x * 10, od)
    assert isinstance(back, collections.OrderedDict) and list(back) == ["z", "a"]
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    back = tree.map(lambda x: -x, dd)
    assert isinstance(back, collections.defaultdict) and back.default_factory is list
    assert dict(back) == {"a": -2, "b": -1}


def test_namedtuple():
    p = Point(1.0, (2.0, 3.0))
    leaves, td = tree.flatten(p)
    assert leaves == [1.0, 2.0, 3.0]
    q = tree.unflatten(td, [4, 5, 6])
    assert type(q) is Point and q == Point(4, (5, 6))
    assert tree.structure(Point(1, 2)) != tree.structure((1, 2))
    paths = [tree_util.keystr(p) for p, _ in tree.flatten_with_path(p)[0]]
    assert paths == [".x", ".y[0]", ".y[1]"]


def test_registered_class():
    t = [Pair(1, Box(2, "lbl")), 3]
    leaves, td = tree.flatten(t)
    assert leaves == [1, 2, 3]
    out = tree.unflatten(td, [10, 20, 30])
    assert isinstance(out[0], Pair) and out[0].a == 10 and isinstance(out[0].b, Box)
    assert out[0].b.v == 20 and out[0].b.label == "lbl"
    assert "Pair" in repr(td)
    with pytest.raises(ValueError, match="already registered"):
        tree.register_pytree_node(Pair, lambda p: ((), None), lambda a, c: Pair(0, 0))
    # aux data is part of the structure
    assert tree.structure(Box(1, "a")) != tree.structure(Box(1, "b"))


def test_register_dataclass():
    p = Params(w=np.ones(2), b=3.0, name="layer")
    leaves, td = tree.flatten(p)
    assert len(leaves) == 2 and leaves[1] == 3.0
    q = tree.unflatten(td, [1, 2])
    assert isinstance(q, Params) and (q.w, q.b, q.name) == (1, 2, "layer")
    assert tree.structure(Params(1, 2, "a")) != tree.structure(Params(1, 2, "b"))
    e = Explicit(scale=2.0, x=1.0, y=[2.0])
    assert tree.leaves(e) == [1.0, 2.0]
    assert tree.map(lambda v: v * 3, e) == Explicit(scale=2.0, x=3.0, y=[6.0])
    with pytest.raises(TypeError, match="not a dataclass"):
        tree.register_dataclass(Pair)


def test_dataclass_through_transformations():
    p = Params(w=fnp.array([1.0, 2.0]), b=fnp.array(0.5))

    def loss(p):
        return fnp.sum(p.w * p.w) + p.b

    g = fg.grad(loss)(p)
    assert isinstance(g, Params) and g.w.tolist() == [2.0, 4.0] and float(g.b) == 1.0
    assert fg.jit(loss)(p) == loss(p)


def test_dataclass_paths_skip_static_fields():
    paths = [tree_util.keystr(p) for p, _ in tree.flatten_with_path(Explicit(1.0, 2.0, 3.0))[0]]
    assert paths == [".x", ".y"]


def test_flatten_with_path_and_keystr():
    t = {"a": [1, (2, 3)], "b": {"c": 4}}
    pl, td = tree.flatten_with_path(t)
    assert [tree_util.keystr(p) for p, _ in pl] == ["['a'][0]", "['a'][1][0]", "['a'][1][1]",
                                                   "['b']['c']"]
    assert [v for _, v in pl] == [1, 2, 3, 4] and td == tree.structure(t)


def test_is_leaf():
    t = {"a": (1, 2), "b": [3]}
    assert tree.leaves(t, is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), 3]
    assert tree.map(lambda x: len(x), t, is_leaf=lambda x: isinstance(x, (tuple, list))) == \
        {"a": 2, "b": 1}


def test_tree_map_multiple_trees():
    a = {"x": 1, "y": [2, 3]}
    b = {"x": 10, "y": [20, 30]}
    assert tree.map(lambda u, v: u + v, a, b) == {"x": 11, "y": [22, 33]}
    # the second tree may be deeper below the first tree's leaves
    assert tree.map(lambda u, v: (u, v), [1, 2], [(1, 2), {"k": 3}]) == [(1, (1, 2)),
                                                                         (2, {"k": 3})]
    with pytest.raises(ValueError, match="argument 1 does not have the structure"):
        tree.map(lambda u, v: u, a, {"x": 1, "y": [2]})


def test_flatten_up_to_errors():
    td = tree.structure({"a": 0, "b": (0, 0)})
    assert td.flatten_up_to({"a": [1, 2], "b": (3, {"k": 4})}) == [[1, 2], 3, {"k": 4}]
    with pytest.raises(ValueError, match=r"mismatch at \['b'\]: expected tuple, got list"):
        td.flatten_up_to({"a": 1, "b": [2, 3]})
    with pytest.raises(ValueError, match="mismatch at the root"):
        td.flatten_up_to([1, 2])
    with pytest.raises(ValueError, match="mismatch"):
        td.flatten_up_to({"a": 1, "c": (2, 3)})
    with pytest.raises(ValueError, match="2 children|mismatch"):
        tree.structure((0, 0, 0)).flatten_up_to((1, 2))


def test_tree_transpose():
    outer = tree.structure([0, 0, 0])
    inner = tree.structure({"a": 0, "b": 0})
    t = [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]
    assert tree.transpose(outer, inner, t) == {"a": [1, 3, 5], "b": [2, 4, 6]}
    with pytest.raises(ValueError):
        tree.transpose(outer, inner, [{"a": 1, "b": 2}, {"a": 3}, {"a": 5, "b": 6}])


def test_treedef_equality_hash_and_repr():
    td = tree.structure((1, [2, {"k": 3}], None))
    assert td == tree.structure((4, [5, {"k": 6}], None))
    assert td != tree.structure((4, [5, {"j": 6}], None))
    assert repr(td) == "PyTreeDef((*, [*, {'k': *}], None))"
    assert td.num_nodes == 7 and td.num_leaves == 3
    assert pickle.loads(pickle.dumps(td.num_leaves)) == 3
    assert {td: 1}[tree.structure((0, [0, {"k": 0}], None))] == 1


def test_tree_reduce_all_and_aliases():
    assert tree.reduce(lambda a, b: a + b, [1, (2, 3)]) == 6
    assert tree.reduce(lambda a, b: a + b, [], 0) == 0
    assert tree.all([True, (1, "x")]) and not tree.all([True, 0])
    assert tree.tree_map is tree_util.tree_map and tree.leaves is not None
    assert tree_util.tree_leaves([1, [2]]) == [1, 2]


def test_arrays_are_leaves():
    x = fnp.ones(3)
    assert tree.leaves({"a": x, "b": np.ones(2)})[0] is x
    assert tree.structure(x).num_leaves == 1


@given(fst.pytrees(st.integers(0, 9), max_depth=3, none=True))
def test_roundtrip_property(t):
    leaves, td = tree.flatten(t)
    assert tree.unflatten(td, leaves) == t
    assert tree.structure(tree.map(lambda x: x + 1, t)) == td
    assert [tree_util.keystr(p) is not None for p, _ in tree.flatten_with_path(t)[0]] == \
        [True] * len(leaves)
