"""The libraries on top of the core, exposed on the ``funcgrad`` package:
``fg.random``, ``fg.nn``, ``fg.losses``, ``fg.checkpoints`` with ``fg.save`` and
``fg.load``, and -- when present -- ``fg.layers`` and ``fg.optim``."""
import importlib as _importlib

from . import checkpoints, losses, nn, random  # noqa: F401
from .checkpoints import load, save  # noqa: F401

__all__ = ["random", "nn", "losses", "checkpoints", "save", "load"]

for _name in ("layers", "optim"):
    try:
        globals()[_name] = _importlib.import_module(f"{__package__}.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__package__}.{_name}":
            raise
    else:
        __all__.append(_name)
del _name
