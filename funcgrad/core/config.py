"""Global configuration: ``funcgrad.config.update("enable_x64", True)``.

Flags
-----
enable_x64   Python data defaults to float64/int64 instead of float32/int32.
debug_nans   raise ``FloatingPointError`` at the first primitive producing a NaN.
debug_infs   the same for infinities.
disable_jit  ``jit`` runs the function eagerly (for debugging with print/pdb).
default_backend  ``"numpy"`` or ``"cupy"`` (env var ``FUNCGRAD_BACKEND``).
eager_tape   top-level ``grad``/``vjp`` on concrete inputs records a tape of backward
             steps (fast eager reverse mode); off: always linearize + transpose.
"""
from __future__ import annotations

import os

_FLAGS = {
    "enable_x64": False,
    "debug_nans": False,
    "debug_infs": False,
    "disable_jit": False,
    "eager_tape": True,
    "default_backend": os.environ.get("FUNCGRAD_BACKEND", "numpy"),
}


class Config:
    """Holds the library's global flags; read them as attributes."""

    def __init__(self):
        object.__setattr__(self, "_listeners", [])
        for k, v in _FLAGS.items():
            object.__setattr__(self, k, v)
        if os.environ.get("FUNCGRAD_ENABLE_X64", "").lower() in ("1", "true"):
            object.__setattr__(self, "enable_x64", True)

    def update(self, name: str, value) -> None:
        """Set a flag, e.g. ``config.update("enable_x64", True)``.

        JAX-style names (``"jax_enable_x64"``) are accepted too.
        """
        key = name[4:] if name.startswith("jax_") else name
        if key not in _FLAGS:
            raise ValueError(
                f"unknown config option {name!r}; known options: {sorted(_FLAGS)}")
        if key == "default_backend" and value not in ("numpy", "cupy"):
            raise ValueError(f"default_backend must be 'numpy' or 'cupy', got {value!r}")
        object.__setattr__(self, key, value if key == "default_backend" else bool(value))
        for fn in self._listeners:
            fn(key)

    def __setattr__(self, name, value):
        self.update(name, value)

    def values(self) -> dict:
        """A snapshot of every flag."""
        return {k: getattr(self, k) for k in _FLAGS}

    def __repr__(self):
        return f"Config({self.values()})"


config = Config()
