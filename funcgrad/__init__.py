"""funcgrad: composable function transformations (grad, vmap, jit) over NumPy and CuPy.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.ones(3))
"""
from .core.config import config  # noqa: F401
from .core.array import Array  # noqa: F401
from .core.errors import (ConcretizationTypeError, TracerBoolConversionError,  # noqa: F401
                          TracerIntegerConversionError, UnexpectedTracerError)
from .core.ir import ClosedJaxpr, Jaxpr  # noqa: F401
from .core.abstract import ShapedArray  # noqa: F401
from . import lax  # noqa: F401
from . import numpy  # noqa: F401
from . import compiler as _compiler  # noqa: F401
from . import tree, tree_util  # noqa: F401
from ._api import (ShapeDtypeStruct, block_until_ready, checkpoint, custom_jvp,  # noqa: F401
                   custom_vjp, default_backend, device_put, devices, eval_shape, grad, hessian,
                   jacfwd, jacrev, jit, jvp, linearize, make_jaxpr, remat, stop_gradient, value_and_grad,
                   vjp, vmap)
from ._libs import *  # noqa: F401,F403

__version__ = "0.1.0"
