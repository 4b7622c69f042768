"""Run-time support for generated code: the chunk thread pool, scratch arenas and buffer
donation.

Tuning knobs (module attributes, read when a program is compiled):

``CHUNK_BYTES``       bytes per operand in one chunk of a blocked (numexpr-style) loop
``NUM_THREADS``       threads that run chunks of one large fused group (1 = no pool)
``PARALLEL_MIN_ELEMENTS``  groups smaller than this never use the pool
``SPLIT_MIN_ELEMENTS``  splittable opaque ops (pooling) smaller than this run whole
``SPLIT_CHUNK_BYTES``   minimum bytes of the largest operand per block of a split op
"""
from __future__ import annotations

import functools
import itertools
import os
import sys
import threading

import numpy as np

from ..core.array import Array

__all__ = ["CHUNK_BYTES", "NUM_THREADS", "PARALLEL_MIN_ELEMENTS", "SPLIT_MIN_ELEMENTS",
           "SPLIT_CHUNK_BYTES", "mark_donated",
           "DonatedArrayError", "run_chunks", "donate"]

#: Bytes per operand of one chunk of a large fused group (chunks stay in cache).
CHUNK_BYTES = 256 * 1024
#: Threads that may run the chunks of one large fused group (numpy releases the GIL).
NUM_THREADS = max(1, min(int(os.environ.get("FUNCGRAD_JIT_THREADS", os.cpu_count() or 1)), 8))
#: Fused groups smaller than this many elements run on one thread.
PARALLEL_MIN_ELEMENTS = 1 << 20
#: Opaque ops with a split kernel (``lowering["split"]``, e.g. max pooling) whose largest
#: operand has fewer elements run whole on one thread.
SPLIT_MIN_ELEMENTS = 1 << 20
#: Minimum bytes of the largest operand per block of axis 0 when such an op is split (by
#: default each thread gets one block).
SPLIT_CHUNK_BYTES = 1 << 20


# ----------------------------------------------------------------------------- thread pool

class _Pool:
    """A tiny pool of daemon worker threads (numpy releases the GIL in its loops)."""

    def __init__(self, n):
        import queue
        self.q = queue.SimpleQueue()
        self.threads = []
        for i in range(n):
            t = threading.Thread(target=self._work, name=f"funcgrad-jit-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def _work(self):
        q = self.q
        while True:
            job = q.get()
            try:
                job()
            except BaseException:  # noqa: BLE001 - jobs report their own errors
                pass
            job = None   # drop the closure (it holds the program's arrays)


_pool = None
_pool_lock = threading.Lock()


def _get_pool():
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = _Pool(max(NUM_THREADS - 1, 1))
    return _pool


def run_chunks(fn, n, step, scratch):
    """Run ``fn(lo, hi, scratch[w])`` over the rows ``[0, n)`` in blocks of ``step`` rows.

    With one scratch set it runs in the calling thread.  Otherwise the caller and
    ``len(scratch) - 1`` pool threads claim blocks from a shared counter until none is
    left (dynamic self-scheduling: a worker that starts late, e.g. on a busy machine, just
    finds the work done).  Returns when every block is finished; re-raises the first
    error."""
    workers = len(scratch)
    nblocks = -(-n // step)
    if workers <= 1 or nblocks <= 1:
        fn(0, n, scratch[0])
        return
    claim = itertools.count().__next__
    finished = [0]
    errors = []
    lock = threading.Lock()
    all_done = threading.Event()
    ctx = [fn, scratch]   # cleared at the end: a late worker must not keep arrays alive

    def loop(w):
        while True:
            c = claim()
            if c >= nblocks:
                return
            lo = c * step
            try:
                ctx[0](lo, min(lo + step, n), ctx[1][w])
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
            with lock:
                finished[0] += 1
                if finished[0] == nblocks:
                    all_done.set()

    q = _get_pool().q
    for w in range(1, workers):
        q.put(functools.partial(loop, w))
    loop(0)
    all_done.wait()
    ctx.clear()
    if errors:
        raise errors[0]


# ----------------------------------------------------------------------------- donation

class DonatedArrayError(RuntimeError):
    """Raised when an ``Array`` whose buffer was donated to a jit call is used again."""


_DONATED_MSG = ("this Array was donated to a jit call (donate_argnums) and its buffer may "
                "have been reused; it can no longer be used. Keep the jit call's result "
                "instead, or do not donate this argument.")


class _DonatedBuffer:
    """Stands in for the raw buffer of a donated ``Array``: any use raises."""

    __slots__ = ()

    def _fail(self, *a, **k):
        raise DonatedArrayError(_DONATED_MSG)

    def __getattr__(self, name):
        raise DonatedArrayError(_DONATED_MSG)

    __array__ = __bool__ = __len__ = __iter__ = __float__ = __int__ = __index__ = _fail
    __complex__ = __getitem__ = __add__ = __radd__ = __mul__ = __rmul__ = _fail
    __sub__ = __rsub__ = __truediv__ = __rtruediv__ = __neg__ = _fail

    def __repr__(self):
        return "<donated buffer>"

    @property
    def __array_interface__(self):
        raise DonatedArrayError(_DONATED_MSG)

    @property
    def __array_struct__(self):
        raise DonatedArrayError(_DONATED_MSG)


DONATED = _DonatedBuffer()


def mark_donated(arr: Array) -> None:
    """Make ``arr`` unusable: every later access raises ``DonatedArrayError``
    ("this Array was donated to a jit call").

    >>> x = fnp.ones(3); mark_donated(x); x.shape
    Traceback (most recent call last):
    funcgrad.compiler.runtime.DonatedArrayError: this Array was donated to a jit call ...
    """
    if type(arr) is Array:
        arr._value = DONATED


def _donate_check(x, a):
    # ``a`` is referenced by x._value, the caller's local, this frame and getrefcount
    return sys.getrefcount(a)


def _calibrate():
    x = Array(np.empty(4, np.float32))
    a0 = x._value
    return _donate_check(x, a0)


_DONATE_REFS = _calibrate()


def donate(x, a) -> bool:
    """Called by generated code for a donated argument ``x`` with raw value ``a``: marks
    ``x`` deleted and says whether ``a`` may be overwritten (nobody else can see it: no
    other Array, view or NumPy reference holds it, it owns its memory, is writeable and
    C-contiguous)."""
    if x.__class__ is not Array:
        return False
    ok = (sys.getrefcount(a) <= _DONATE_REFS and a.__class__ is np.ndarray and a.base is None
          and a.flags.writeable and a.flags.c_contiguous)
    x._value = DONATED
    return ok
