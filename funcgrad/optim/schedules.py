"""Learning-rate schedules: functions ``count -> value`` (work on ints and traced counts).

>>> s = warmup_cosine_decay_schedule(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
>>> float(s(100))
0.001
"""
from __future__ import annotations

import numpy as np

from .. import numpy as fnp


def _f(x):
    from ..core import dtypes
    return fnp.asarray(x, dtype=dtypes.default_float_dtype())


def constant_schedule(value):
    """Always ``value``."""
    return lambda count: _f(value)


def exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0,
                      staircase=False, end_value=None):
    """``init_value * decay_rate ** ((count - transition_begin) / transition_steps)``,
    held at ``init_value`` before ``transition_begin``, clipped at ``end_value``."""
    if transition_steps <= 0:
        raise ValueError("exponential_decay: transition_steps must be positive")

    def schedule(count):
        c = fnp.maximum(_f(count) - transition_begin, 0.0)
        p = c / transition_steps
        if staircase:
            p = fnp.floor(p)
        v = init_value * fnp.power(_f(decay_rate), p)
        if end_value is not None:
            v = fnp.maximum(v, end_value) if decay_rate < 1 else fnp.minimum(v, end_value)
        return v
    return schedule


def piecewise_constant_schedule(init_value, boundaries_and_scales=None):
    """Multiply the value by ``scale`` at each ``boundary`` step ({boundary: scale})."""
    items = sorted((boundaries_and_scales or {}).items())

    def schedule(count):
        v = _f(init_value)
        c = fnp.asarray(count)
        for b, s in items:
            v = fnp.where(c >= b, v * s, v)
        return v
    return schedule


def polynomial_schedule(init_value, end_value, power, transition_steps, transition_begin=0):
    """Polynomial decay from ``init_value`` to ``end_value`` over ``transition_steps``."""
    def schedule(count):
        c = fnp.clip(_f(count) - transition_begin, 0.0, float(max(transition_steps, 1)))
        frac = 1.0 - c / max(transition_steps, 1)
        return (init_value - end_value) * frac ** power + end_value
    return schedule


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0):
    """Linear interpolation from ``init_value`` to ``end_value``."""
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0, exponent=1.0):
    """Cosine decay to ``alpha * init_value`` over ``decay_steps``."""
    if decay_steps <= 0:
        raise ValueError("cosine_decay_schedule: decay_steps must be positive")

    def schedule(count):
        c = fnp.minimum(_f(count), float(decay_steps))
        cosine = 0.5 * (1 + fnp.cos(np.pi * c / decay_steps))
        decayed = (1 - alpha) * cosine ** exponent + alpha
        return init_value * decayed
    return schedule


def join_schedules(schedules, boundaries):
    """Use ``schedules[i]`` between ``boundaries[i-1]`` and ``boundaries[i]``, each one
    restarted at its boundary."""
    def schedule(count):
        c = fnp.asarray(count)
        out = schedules[0](c)
        for b, s in zip(boundaries, schedules[1:]):
            out = fnp.where(c < b, out, s(c - b))
        return out
    return schedule


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps,
                                 end_value=0.0, exponent=1.0):
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value`` at ``decay_steps``."""
    alpha = 0.0 if peak_value == 0 else end_value / peak_value
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps),
         cosine_decay_schedule(peak_value, max(decay_steps - warmup_steps, 1), alpha,
                               exponent)],
        [warmup_steps])


def warmup_exponential_decay_schedule(init_value, peak_value, warmup_steps, transition_steps,
                                      decay_rate, transition_begin=0, staircase=False,
                                      end_value=None):
    """Linear warmup to ``peak_value`` over ``warmup_steps``, then exponential decay."""
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps),
         exponential_decay(peak_value, transition_steps, decay_rate, transition_begin,
                           staircase, end_value)], [warmup_steps])


__all__ = ["constant_schedule", "exponential_decay", "piecewise_constant_schedule",
           "polynomial_schedule", "linear_schedule", "cosine_decay_schedule",
           "join_schedules", "warmup_cosine_decay_schedule",
           "warmup_exponential_decay_schedule"]
