"""Scalar types ``fnp.float32`` ...: usable as ``dtype=`` arguments and callable like
NumPy's (``fnp.float32(2)`` is a 0-d float32 ``Array``)."""
from __future__ import annotations

import numpy as np


class _ScalarMeta(type):
    def __repr__(cls):
        return f"<class 'funcgrad.numpy.{cls.__name__}'>"

    def __eq__(cls, other):
        try:
            return np.dtype(cls.dtype) == np.dtype(other)
        except TypeError:
            return False

    def __hash__(cls):
        return hash(cls.dtype)


def _scalar_type(name, dt):
    dt = np.dtype(dt)

    def __new__(cls, x=0):
        from ._promote import asarray
        return asarray(x, dtype=dt)

    shown = {"b": "True", "c": "2.+0.j", "f": "2."}.get(dt.kind, "2")   # repr of {name}(2)
    doc = (f"The {dt.name} scalar type: ``dtype={name}`` works wherever a dtype is expected, "
           f"and ``{name}(x)`` makes a 0-d {dt.name} Array.\n\n>>> fnp.{name}(2)\n"
           f"Array({shown}, dtype={dt.name})")
    return _ScalarMeta(name, (), {"dtype": dt, "__new__": __new__, "__doc__": doc})


bool_ = _scalar_type("bool_", np.bool_)
int8 = _scalar_type("int8", np.int8)
int16 = _scalar_type("int16", np.int16)
int32 = _scalar_type("int32", np.int32)
int64 = _scalar_type("int64", np.int64)
uint8 = _scalar_type("uint8", np.uint8)
uint16 = _scalar_type("uint16", np.uint16)
uint32 = _scalar_type("uint32", np.uint32)
uint64 = _scalar_type("uint64", np.uint64)
float16 = _scalar_type("float16", np.float16)
float32 = _scalar_type("float32", np.float32)
float64 = _scalar_type("float64", np.float64)
complex64 = _scalar_type("complex64", np.complex64)
complex128 = _scalar_type("complex128", np.complex128)

__all__ = ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"]
