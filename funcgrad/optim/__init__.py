"""``funcgrad.optim``: optax-style gradient transformations, optimizers and schedules.

>>> import funcgrad as fg
>>> from funcgrad import optim
>>> opt = optim.adam(1e-3)
>>> state = opt.init(params)
>>> grads = fg.grad(loss)(params, batch)
>>> updates, state = opt.update(grads, state, params)
>>> params = optim.apply_updates(params, updates)

State is a pytree of NamedTuples, so it works under ``jit`` and can be saved with
``funcgrad.save``.  Numerics follow optax's definitions and defaults.
"""
from ._aliases import *  # noqa: F401,F403
from ._base import (EmptyState, GradientTransformation, apply_updates, chain,  # noqa: F401
                    global_norm, identity)
from ._transforms import *  # noqa: F401,F403
from .schedules import *  # noqa: F401,F403
