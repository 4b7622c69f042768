"""Exceptions raised by the core, with messages that say what to do."""
from __future__ import annotations


class FuncgradTypeError(TypeError):
    """Base of funcgrad's own type errors."""


class ConcretizationTypeError(FuncgradTypeError):
    """A traced (abstract) value was used where Python needs a concrete one."""


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(ConcretizationTypeError):
    pass


class UnexpectedTracerError(FuncgradTypeError):
    """A tracer escaped the transformation that created it."""


class UnboundAxisNameError(NameError):
    """A collective named an axis that no enclosing ``vmap`` binds."""
