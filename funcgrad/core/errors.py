"""Exceptions raised by the core, with messages that say what to do."""
from __future__ import annotations


class FuncgradTypeError(TypeError):
    """Base of funcgrad's own type errors."""


class ConcretizationTypeError(FuncgradTypeError):
    """A traced (abstract) value was used where Python needs a concrete one."""


class TracerBoolConversionError(ConcretizationTypeError):
    """A traced value was used as a Python ``bool`` (``if x > 0:`` inside jit): use
    ``lax.cond``, ``fnp.where`` or a static argument."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """A traced value was used as a Python ``int`` or index (a shape, ``range(n)``): make it
    static with ``static_argnums``, or use ``lax.dynamic_slice``/``fnp.take``."""


class UnexpectedTracerError(FuncgradTypeError):
    """A tracer escaped the transformation that created it."""


class UnboundAxisNameError(NameError):
    """A collective named an axis that no enclosing ``vmap`` binds."""
