"""``funcgrad.lax``: the primitives (with their rules) and structured control flow.

Every primitive is defined, with its shape rule, eager kernel, JVP, transpose (if
linear) and batching rule, in the module of its family.
"""
from .elementwise import *  # noqa: F401,F403
from .structural import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .cumulative import *  # noqa: F401,F403
from .dot import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .control_flow import *  # noqa: F401,F403
from .collectives import *  # noqa: F401,F403
from .random_bits import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403

# jax.lax-style aliases
bitwise_not = bitwise_not  # noqa: F405
not_ = bitwise_not  # noqa: F405
and_ = bitwise_and  # noqa: F405
or_ = bitwise_or  # noqa: F405
xor = bitwise_xor  # noqa: F405
