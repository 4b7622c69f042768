"""The core: dtypes, abstract values, the IR, primitives, the trace stack, pytrees, Array."""
from . import dtypes, pytree  # noqa: F401
from .abstract import ShapedArray  # noqa: F401
from .array import Array, aval_of  # noqa: F401
from .config import config  # noqa: F401
from .errors import (ConcretizationTypeError, TracerBoolConversionError,  # noqa: F401
                     TracerIntegerConversionError, UnexpectedTracerError,
                     UnboundAxisNameError)
from .ir import (ClosedJaxpr, DropVar, Eqn, Jaxpr, JaxprTypeError, Literal, Var,  # noqa: F401
                 check_jaxpr, pp_jaxpr)
from .primitive import Primitive  # noqa: F401
from .staging import (JaxprTrace, convert_constvars_to_invars, eval_jaxpr,  # noqa: F401
                      jaxpr_as_fun, trace_to_jaxpr)
from .trace import Trace, Tracer, bind, get_aval, new_main  # noqa: F401
