"""Miscellaneous primitives: stop_gradient."""
from __future__ import annotations

from ..core.primitive import Primitive
from ..core import pytree
from ..interpreters.ad_util import Zero

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.impl = lambda x: x
stop_gradient_p.abstract_eval = lambda x: x


def _stop_gradient_jvp(primals, tangents):
    out = stop_gradient_p.bind(primals[0])
    return out, Zero.from_value(out)


stop_gradient_p.jvp = _stop_gradient_jvp
stop_gradient_p.jvp_fns = ((None,), False)   # no derivative: the eager tape records nothing
stop_gradient_p.batch = lambda args, dims: (stop_gradient_p.bind(args[0]), dims[0])
stop_gradient_p.test_spec = {"nargs": 1, "kinds": "float", "nondiff": True}


def stop_gradient(x):
    """The identity, with zero derivative: gradients do not flow through it (pytrees too).

    >>> funcgrad.grad(lambda x: x * stop_gradient(x))(3.0)   # d/dx = stop_gradient(x) = 3
    Array(3., dtype=float32, weak_type=True)
    """
    def one(v):
        from ..core.trace import get_aval
        if get_aval(v).dtype.kind not in "fc":
            return v
        if isinstance(v, (float, complex)):   # keep the weak default dtype, not float64
            from ..core.array import Array
            from ..core.dtypes import python_scalar_dtype
            import numpy as np
            v = Array(np.asarray(v, python_scalar_dtype(v)), weak_type=True)
        return stop_gradient_p.bind(v)
    return pytree.tree_map(one, x)


__all__ = ["stop_gradient"]
