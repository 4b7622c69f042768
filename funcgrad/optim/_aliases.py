"""Optimizers as chains of transformations (optax's aliases and defaults)."""
from __future__ import annotations

from ._base import GradientTransformation, chain, identity
from ._transforms import (add_decayed_weights, scale_by_adadelta, scale_by_adam,
                          scale_by_adamax, scale_by_learning_rate, scale_by_lion, scale_by_rms,
                          scale_by_rss, scale_by_stddev, scale_by_trust_ratio, trace)


def sgd(learning_rate, momentum=None, nesterov=False, accumulator_dtype=None
        ) -> GradientTransformation:
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    >>> opt = sgd(0.1, momentum=0.9)
    """
    return chain(trace(momentum, nesterov, accumulator_dtype) if momentum is not None
                 else identity(), scale_by_learning_rate(learning_rate))


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad."""
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def adadelta(learning_rate=None, rho=0.9, eps=1e-6, weight_decay=0.0) -> GradientTransformation:
    """AdaDelta (``learning_rate=None`` means 1.0)."""
    return chain(add_decayed_weights(weight_decay), scale_by_adadelta(rho, eps),
                 scale_by_learning_rate(1.0 if learning_rate is None else learning_rate))


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, centered=False,
            momentum=None, nesterov=False) -> GradientTransformation:
    """RMSProp (optionally centered, with momentum)."""
    s = (scale_by_stddev(decay, eps, initial_scale) if centered
         else scale_by_rms(decay, eps, initial_scale))
    return chain(s, scale_by_learning_rate(learning_rate),
                 trace(momentum, nesterov) if momentum is not None else identity())


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
         nesterov=False) -> GradientTransformation:
    """Adam.

    >>> opt = adam(1e-3)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov),
                 scale_by_learning_rate(learning_rate))


def nadam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None
          ) -> GradientTransformation:
    """Adam with Nesterov momentum."""
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=True)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
          weight_decay=1e-4, mask=None, nesterov=False) -> GradientTransformation:
    """Adam with decoupled weight decay (``mask`` selects the decayed parameters)."""
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


def adamax(learning_rate, b1=0.9, b2=0.999, eps=1e-8) -> GradientTransformation:
    """Adamax."""
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def lamb(learning_rate, b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0,
         mask=None) -> GradientTransformation:
    """LAMB: Adam moments with a per-layer trust ratio."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))


def lion(learning_rate, b1=0.9, b2=0.99, mu_dtype=None, weight_decay=1e-3, mask=None
         ) -> GradientTransformation:
    """Lion (sign of an interpolated momentum), with decoupled weight decay."""
    return chain(scale_by_lion(b1, b2, mu_dtype), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


__all__ = ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "nadam", "adamw", "adamax", "lamb",
           "lion"]
