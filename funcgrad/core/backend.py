"""Backends and devices: ``"numpy"`` (CPU, default) and ``"cupy"`` (NVIDIA GPU)."""
from __future__ import annotations

import functools

import numpy as np

from .config import config


class Device:
    """A place where arrays live: ``Device("numpy", 0)`` is the CPU."""

    __slots__ = ("backend", "id")

    def __init__(self, backend: str, id: int = 0):
        self.backend = backend
        self.id = id

    @property
    def platform(self) -> str:
        return "cpu" if self.backend == "numpy" else "gpu"

    def __repr__(self):
        return f"{'CpuDevice' if self.backend == 'numpy' else 'CudaDevice'}(id={self.id})"

    def __eq__(self, other):
        return isinstance(other, Device) and (self.backend, self.id) == (other.backend, other.id)

    def __hash__(self):
        return hash((self.backend, self.id))


CPU = Device("numpy", 0)


@functools.lru_cache(maxsize=None)
def cupy_module():
    """The ``cupy`` module, or None when cupy or a GPU is missing."""
    try:
        import cupy  # noqa: F401
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:
        return None


def cupy_available() -> bool:
    return cupy_module() is not None


def devices(backend: str | None = None):
    """The devices of ``backend`` (default: the default backend).

    >>> funcgrad.devices("numpy")
    [CpuDevice(id=0)]
    """
    backend = backend or default_backend()
    if backend in ("numpy", "cpu"):
        return [CPU]
    if backend in ("cupy", "gpu", "cuda"):
        cp = cupy_module()
        if cp is None:
            raise RuntimeError("the cupy backend needs cupy and an NVIDIA GPU; install "
                               "funcgrad[gpu] or use the 'numpy' backend")
        return [Device("cupy", i) for i in range(cp.cuda.runtime.getDeviceCount())]
    raise ValueError(f"unknown backend {backend!r}; use 'numpy' or 'cupy'")


def default_backend() -> str:
    """``"numpy"`` or ``"cupy"``: set by ``FUNCGRAD_BACKEND`` or ``config.update("default_backend", ...)``."""
    b = config.default_backend
    if b == "cupy" and not cupy_available():
        raise RuntimeError("FUNCGRAD_BACKEND=cupy but cupy or a GPU is not available")
    return b


def default_device() -> Device:
    return devices()[0]


def xp_for(backend: str):
    """The array module (``numpy`` or ``cupy``) of a backend."""
    return np if backend == "numpy" else cupy_module()


def device_of_raw(v) -> Device:
    """The device holding a raw array."""
    if isinstance(v, (np.ndarray, np.generic)):
        return CPU
    mod = type(v).__module__
    if mod.startswith("cupy"):
        return Device("cupy", v.device.id)
    return CPU


def to_device_raw(v, device: Device):
    """Move a raw array to ``device`` (a copy only when it changes place)."""
    if device.backend == "numpy":
        if isinstance(v, np.ndarray):
            return v
        if hasattr(v, "get"):
            return v.get()
        return np.asarray(v)
    cp = cupy_module()
    with cp.cuda.Device(device.id):
        return cp.asarray(v)
