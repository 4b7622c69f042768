"""Counter-based random bits: the Threefry-2x32 block cipher as a primitive.

``threefry2x32_p`` hashes pairs of 32-bit counters ``(x0, x1)`` under a 64-bit key
``(k0, k1)`` with 20 rounds of Threefry-2x32 (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3", SC 2011), using the rotation constants and key schedule of JAX's
``threefry2x32`` (so the same key and counters give the same words as JAX).

All four operands are ``uint32`` arrays that broadcast against each other (NumPy
broadcasting); both outputs have the broadcast shape.  Arithmetic wraps modulo 2**32.
The primitive is elementwise (its batching rule only aligns the batch axes), has a
zero derivative, and runs eagerly, under ``jit`` and on every backend (the kernel uses
only array operators, so it runs on NumPy or CuPy arrays alike).

>>> import numpy as np
>>> from funcgrad import lax
>>> y0, y1 = lax.threefry2x32(np.uint32(0), np.uint32(0), np.uint32(0), np.uint32(0))
>>> hex(int(y0)), hex(int(y1))
('0x6b200159', '0x99ba4efe')

Helpers built on it:

* ``threefry_2x32(key, counts)``: JAX's ``threefry_2x32`` (hash a flat counter array
  split in two halves) -- used by ``fold_in``.
* ``iota_2x32_shape(shape)``: the row-major index of each element of ``shape`` as
  ``(hi, lo)`` 32-bit words (JAX's ``iota_2x32_shape``).
* ``threefry_random_bits(key, bit_width, shape)``: uniformly random unsigned integers of
  ``bit_width`` (8/16/32/64) bits, as JAX's ``threefry_random_bits`` with
  ``jax_threefry_partitionable=True`` (the default since JAX 0.5).
"""
from __future__ import annotations

import math

import numpy as np

from ..core.abstract import ShapedArray
from ..core.primitive import Primitive
from ..core.trace import get_aval
from ..interpreters.ad_util import Zero

_U32 = np.dtype(np.uint32)
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA

threefry2x32_p = Primitive("threefry2x32", multiple_results=True)


def _rotl(x, r):
    """``x <<< r`` on a uint32 array we own: ``(x << r) | (x >> (32 - r))``."""
    hi = x << np.uint32(r)
    x >>= np.uint32(32 - r)
    x |= hi
    return x


def _threefry_kernel(k0, k1, x0, x1):
    """Threefry-2x32, 20 rounds, on flat uint32 arrays (keys may have one element)."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(_PARITY))
    x0 = x0 + ks[0]          # fresh arrays: the inputs are never modified
    x1 = x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 += x1
            x1 = _rotl(x1, r)
            x1 ^= x0
        x0 += ks[(i + 1) % 3]
        x1 += ks[(i + 2) % 3]
        x1 += np.uint32(i + 1)
    return x0, x1


def _array_module(*args):
    for a in args:
        if type(a).__module__.startswith("cupy"):
            import cupy
            return cupy
    return np


@threefry2x32_p.def_impl
def _threefry2x32_impl(k0, k1, x0, x1):
    xp = _array_module(k0, k1, x0, x1)
    args = [xp.asarray(a) for a in (k0, k1, x0, x1)]
    # eager calls skip the shape rule: run it for its dtype and shape checks
    shape = _threefry2x32_abstract(*[ShapedArray(a.shape, a.dtype) for a in args])[0].shape
    n = math.prod(shape)
    if n == 0:
        return [xp.zeros(shape, _U32), xp.zeros(shape, _U32)]
    # flat 1-d arrays (0-d NumPy arithmetic would give scalars that warn when they wrap)
    keys = [a.reshape(1) if a.size == 1 else xp.broadcast_to(a, shape).reshape(-1)
            for a in args[:2]]
    xs = [xp.broadcast_to(a, shape).reshape(-1) for a in args[2:]]
    y0, y1 = _threefry_kernel(keys[0], keys[1], xs[0], xs[1])
    return [y0.reshape(shape), y1.reshape(shape)]


@threefry2x32_p.def_abstract_eval
def _threefry2x32_abstract(k0, k1, x0, x1):
    avals = (k0, k1, x0, x1)
    if any(a.dtype != _U32 for a in avals):
        raise TypeError("threefry2x32: all four operands (k0, k1, x0, x1) must be uint32, "
                        f"got {', '.join(a.dtype.name for a in avals)}. Convert with "
                        "lax.convert_element_type(x, np.uint32).")
    try:
        shape = np.broadcast_shapes(*[a.shape for a in avals])
    except ValueError:
        raise TypeError("threefry2x32: operand shapes "
                        f"{', '.join(str(a.shape) for a in avals)} do not broadcast") from None
    out = ShapedArray(shape, _U32, False)
    return [out, out]


def _threefry2x32_jvp(primals, tangents):
    outs = threefry2x32_p.bind(*primals)
    return outs, [Zero.from_value(o) for o in outs]


def _threefry2x32_batch(args, dims):
    from .structural import reshape
    from ..interpreters.batching import moveaxis
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
    # rank of the broadcast result without the batch axis
    ranks = [get_aval(a).ndim - (d is not None) for a, d in zip(args, dims)]
    r = max(ranks)
    new = []
    for a, d, k in zip(args, dims, ranks):
        if d is None:
            new.append(a)   # broadcasts from the right against (size, ...)
            continue
        a = moveaxis(a, d, 0)
        sh = get_aval(a).shape
        if k < r:   # put the batch axis in front of the broadcast dimensions
            a = reshape(a, (size,) + (1,) * (r - k) + sh[1:])
        new.append(a)
    outs = threefry2x32_p.bind(*new)
    return outs, [0, 0]


def _sample(rng, dtype):
    u = lambda shape: rng.integers(0, 2 ** 32, size=shape, dtype=np.uint64).astype(np.uint32)
    return [u(()), u(()), u((3, 4)), u((3, 4))], {}


threefry2x32_p.jvp = _threefry2x32_jvp
threefry2x32_p.batch = _threefry2x32_batch
threefry2x32_p.test_spec = {"sample": _sample, "nondiff": True}


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash of counters ``(x0, x1)`` under key ``(k0, k1)``.

    All operands are ``uint32`` and broadcast together; returns two ``uint32`` arrays.
    """
    return threefry2x32_p.bind(*[_as_u32(v, "threefry2x32") for v in (k0, k1, x0, x1)])


def _as_u32(v, where):
    if isinstance(v, (bool, float, complex)):
        raise TypeError(f"{where}: expected a uint32 array, got {type(v).__name__}")
    if isinstance(v, int):
        if not 0 <= v < 2 ** 32:
            raise ValueError(f"{where}: {v} does not fit in uint32")
        return np.uint32(v)
    return v


# ----------------------------------------------------------------------------- helpers

def key_words(key):
    """The two uint32 words ``(k0, k1)`` of a raw key of shape ``(2,)``."""
    from .structural import index_in_dim
    return index_in_dim(key, 0, 0, False), index_in_dim(key, 1, 0, False)


def iota_2x32_shape(shape):
    """The row-major flat index of every position of ``shape`` as ``(hi, lo)`` uint32 words.

    ``hi`` is returned as a scalar (0) when every index fits in 32 bits, which is always
    the case in practice (arrays with 2**32 elements or more raise ``NotImplementedError``).
    """
    from .structural import iota, reshape
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    if n > 2 ** 32:
        raise NotImplementedError(f"random bits for {n} elements (more than 2**32) are not "
                                  "supported; split the key and draw in blocks")
    if len(shape) == 0:
        return np.uint32(0), np.asarray(0, _U32)[()]
    lo = iota(_U32, n)
    if len(shape) > 1:
        lo = reshape(lo, shape)
    return np.uint32(0), lo


def threefry_2x32(key, counts):
    """JAX's ``threefry_2x32(keypair, count)``: hash a flat uint32 counter array.

    The counters are split into a first and a second half (padded with a zero when odd),
    hashed as pairs, and the two output halves concatenated back into ``counts``' shape.
    """
    from .structural import concatenate, reshape, slice as lslice
    k0, k1 = key_words(key)
    aval = get_aval(counts)
    n = aval.size
    flat = reshape(counts, (n,))
    odd = n % 2
    if odd:
        flat = concatenate([flat, np.zeros((1,), _U32)], 0)
    h = (n + odd) // 2
    x0 = lslice(flat, (0,), (h,))
    x1 = lslice(flat, (h,), (2 * h,))
    y0, y1 = threefry2x32_p.bind(k0, k1, x0, x1)
    out = concatenate([y0, y1], 0)
    if odd:
        out = lslice(out, (0,), (n,))
    return reshape(out, aval.shape)


_UINT = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: _U32, 64: np.dtype(np.uint64)}


def threefry_random_bits(key, bit_width, shape):
    """Uniform random unsigned integers of ``bit_width`` bits with ``shape``.

    As JAX's partitionable threefry: element ``i`` (row-major) is
    ``threefry2x32(key, (hi(i), lo(i)))``; 32-bit draws are ``y0 ^ y1``, 64-bit draws
    ``y0 << 32 | y1``, 8/16-bit draws the low bits of ``y0 ^ y1``.
    """
    from .elementwise import bitwise_or, bitwise_xor, convert_element_type, mul
    bit_width = int(bit_width)
    if bit_width not in _UINT:
        raise TypeError(f"threefry_random_bits: bit_width must be 8, 16, 32 or 64, got {bit_width}")
    shape = tuple(int(d) for d in shape)
    k0, k1 = key_words(key)
    hi, lo = iota_2x32_shape(shape)
    y0, y1 = threefry2x32_p.bind(k0, k1, hi, lo)
    if bit_width == 64:
        u64 = _UINT[64]
        top = mul(convert_element_type(y0, u64), np.asarray(2 ** 32, u64)[()])
        return bitwise_or(top, convert_element_type(y1, u64))
    bits = bitwise_xor(y0, y1)
    if bit_width < 32:
        bits = convert_element_type(bits, _UINT[bit_width])
    return bits


__all__ = ["threefry2x32", "threefry2x32_p", "threefry_2x32", "iota_2x32_shape",
           "threefry_random_bits"]
