"""``funcgrad.numpy``: the NumPy API over funcgrad arrays, written only on ``lax``.

>>> import funcgrad.numpy as fnp
>>> fnp.sum(fnp.arange(4.0) ** 2)
Array(14., dtype=float32)
"""
import numpy as _np

from ..core.array import Array as ndarray  # noqa: F401
from ._scalar_types import (bool_, complex64, complex128, float16, float32,  # noqa: F401
                            float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64)
from . import _array_methods  # noqa: F401  (installs operators)
from ._creation import *  # noqa: F401,F403
from ._creation import (arange, array, asarray, empty, empty_like, eye, full,  # noqa: F401
                        full_like, identity, linspace, meshgrid, ones, ones_like, tri,
                        zeros, zeros_like)
from ._indexing import diagonal, nonzero  # noqa: F401
from ._products import (dot, einsum, inner, kron, matmul, outer, tensordot, trace,  # noqa: F401
                        vdot)
from ._reductions import (all, amax, amin, any, argmax, argmin, average,  # noqa: F401
                          count_nonzero, cumprod, cumsum, cumulative_sum, max, mean, min, prod,
                          ptp, std, sum, var)
from ._shape import (atleast_1d, atleast_2d, atleast_3d, broadcast_arrays,  # noqa: F401
                     broadcast_to, column_stack, concatenate, dstack, expand_dims, hstack,
                     matrix_transpose, moveaxis, ndim, permute_dims, ravel, reshape, row_stack,
                     shape, size, squeeze, stack, swapaxes, transpose, vstack)
from ._ufuncs import (abs, absolute, add, arccos, arccosh, arcsin, arcsinh, arctan,  # noqa: F401
                      arctan2, arctanh, around, bitwise_and, bitwise_not, bitwise_or,
                      bitwise_xor, cbrt, ceil, clip, copysign, cos, cosh, deg2rad, degrees,
                      divide, equal, exp, exp2, expm1, fix, float_power, floor, floor_divide,
                      fmod, greater, greater_equal, heaviside, hypot, invert, isfinite, isinf,
                      isnan, less, less_equal, log, log1p, log2, log10, logaddexp, logical_and,
                      logical_not, logical_or, logical_xor, maximum, minimum, mod, multiply,
                      negative, nextafter, not_equal, positive, power, rad2deg, radians,
                      reciprocal, remainder, rint, round, sign, signbit, sin, sinc, sinh, sqrt,
                      square, subtract, tan, tanh, true_divide, trunc, where)
from ._more import *  # noqa: F401,F403
from ._advanced import *  # noqa: F401,F403
from ._sorting import *  # noqa: F401,F403
from . import linalg  # noqa: F401

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
dtype = _np.dtype
iinfo = _np.iinfo
finfo = _np.finfo
issubdtype = _np.issubdtype
floating = _np.floating
integer = _np.integer
inexact = _np.inexact
number = _np.number
signedinteger = _np.signedinteger
unsignedinteger = _np.unsignedinteger
complexfloating = _np.complexfloating

from . import _more as _more_mod  # noqa: E402

#: Dense mesh grids from slice notation: ``fnp.mgrid[0:2, 0:3].shape == (2, 2, 3)``.
mgrid = _more_mod.mgrid
#: Open (sparse) mesh grids from slice notation: ``fnp.ogrid[0:2, 0:3]`` gives shapes (2, 1), (1, 3).
ogrid = _more_mod.ogrid

from ..lax.conv import register_window_computation as _reg_window  # noqa: E402

for _fn, _kind in ((add, "sum"), (maximum, "max"), (minimum, "min")):  # noqa: F405
    _reg_window(_fn, _kind)
del _fn, _kind, _reg_window
