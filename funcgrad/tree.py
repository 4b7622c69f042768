"""``funcgrad.tree``: pytree utilities with short names (``tree.map``, ``tree.flatten`` ...).

>>> from funcgrad import tree
>>> tree.map(lambda x: x + 1, {"a": 1, "b": (2, 3)})
{'a': 2, 'b': (3, 4)}
"""
from .core.pytree import (PyTreeDef, register_dataclass, register_pytree_node,  # noqa: F401
                          register_pytree_node_class, tree_all as all, tree_flatten as flatten,
                          tree_flatten_with_path as flatten_with_path, tree_leaves as leaves,
                          tree_map as map, tree_reduce as reduce, tree_structure as structure,
                          tree_transpose as transpose, tree_unflatten as unflatten)
from .core.pytree import (tree_flatten, tree_leaves, tree_map, tree_structure,  # noqa: F401
                          tree_unflatten)
