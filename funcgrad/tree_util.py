"""``funcgrad.tree_util``: pytree utilities (JAX's ``jax.tree_util`` names)."""
from .core.pytree import (PyTreeDef, all_leaves, keystr, register_dataclass,  # noqa: F401
                          register_pytree_node, register_pytree_node_class, tree_all,
                          tree_flatten, tree_flatten_with_path, tree_leaves, tree_map,
                          tree_reduce, tree_structure, tree_transpose, tree_unflatten,
                          treedef_children, treedef_is_leaf)

Partial = None
del Partial
