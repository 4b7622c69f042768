"""``funcgrad.layers``: stateless, stax-style layers.

A layer is a pair ``(init_fun, apply_fun)``::

    init_fun(rng, input_shape) -> (output_shape, params)
    apply_fun(params, inputs, *, rng=None, train=False) -> outputs

Shapes use ``-1`` for the batch dimension.  Layers with running statistics (``BatchNorm``)
keep them in an explicit *state* pytree: ``init_state(init_fun, input_shape)`` builds it,
and ``apply_fun(params, x, state=state, train=...)`` then returns ``(outputs, new_state)``.
Without ``state=``, layers keep the plain stax signature.

>>> init, apply = serial(Dense(32), Relu, Dense(10), LogSoftmax)
>>> out_shape, params = init(random.key(0), (-1, 784))
>>> logits = apply(params, x)

Conventions (API.md): ``Dense`` params ``(W, b)`` with ``W`` of shape ``(in, out)``;
``Conv`` kernels HWIO on NHWC inputs, ``Conv1D`` WIO on NWC; ``Dropout(rate)`` takes the
probability of *dropping* a unit and is the identity at ``train=False``; ``Reshape(shape)``
excludes the batch dimension; average pooling with SAME padding does not count padding;
recurrent layers take batch-major ``(batch, time, features)`` inputs and return the whole
sequence unless ``return_sequences=False``.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import lax, nn
from . import numpy as fnp
from . import random
from .core import pytree
from .nn import initializers as init

# ----------------------------------------------------------------------------- plumbing


def _layer(name, init_fun, apply_fun, init_state=None, children=None):
    """Attach metadata used by ``summary`` and ``init_state`` and return the pair.

    Functions shared between layers (``_identity_init`` serves every activation layer,
    ``Identity`` and ``Dropout``) are wrapped first, so that one layer's metadata never
    overwrites another's."""
    if hasattr(init_fun, "layer_name"):
        init_fun = functools.wraps(init_fun)(lambda rng, input_shape, _f=init_fun:
                                             _f(rng, input_shape))
    if hasattr(apply_fun, "layer_name"):
        apply_fun = functools.wraps(apply_fun)(lambda params, inputs, _f=apply_fun, **kw:
                                               _f(params, inputs, **kw))
    init_fun.layer_name = name
    init_fun.init_state = init_state
    init_fun.children = children
    apply_fun.layer_name = name
    apply_fun.stateful = init_state is not None
    return init_fun, apply_fun


def _call(apply_fun, params, x, state, **kw):
    """Call a layer; returns ``(out, new_state)``; stateless layers keep ``state``."""
    if getattr(apply_fun, "stateful", False):
        return apply_fun(params, x, state=state, **kw)
    return apply_fun(params, x, **kw), state


def init_state(init_fun, input_shape):
    """The state pytree (running statistics) of a layer; ``()`` when it has none.

    >>> bn_init, bn_apply = BatchNorm()
    >>> state = init_state(bn_init, (-1, 10))
    """
    f = getattr(init_fun, "init_state", None)
    return () if f is None else f(input_shape)


def _split(rng, n):
    if rng is None:
        return [None] * n
    return list(random.split(rng, n))


def _shape_str(s):
    if isinstance(s, list):
        return "[" + ", ".join(_shape_str(t) for t in s) + "]"
    if isinstance(s, tuple) and any(isinstance(d, (tuple, list)) for d in s):
        return "(" + ", ".join(_shape_str(t) for t in s) + ")"
    return "(" + ", ".join("None" if d == -1 else str(d) for d in s) + ")"


def _check_rank(name, shape, rank):
    if len(shape) != rank:
        raise TypeError(f"{name} expects inputs of rank {rank} (including the batch dim), got "
                        f"input shape {_shape_str(shape)}")


# ----------------------------------------------------------------------------- dense

def Dense(out_dim, W_init=None, b_init=None):
    """Fully connected layer ``x @ W + b`` with ``W: (in, out)``.

    >>> init, apply = Dense(10)
    """
    W_init = W_init or init.glorot_normal()
    b_init = b_init or init.normal()

    def init_fun(rng, input_shape):
        if len(input_shape) < 1:
            raise TypeError("Dense expects inputs with a feature axis")
        k1, k2 = random.split(rng)
        W = W_init(k1, (input_shape[-1], out_dim))
        b = b_init(k2, (out_dim,))
        return tuple(input_shape[:-1]) + (out_dim,), (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        x = fnp.asarray(inputs)
        if x.shape[-1] != W.shape[0]:
            raise TypeError(f"Dense: input feature size {x.shape[-1]} (shape {x.shape}) does "
                            f"not match the weight matrix {W.shape}")
        return fnp.matmul(x, W) + b

    return _layer(f"Dense({out_dim})", init_fun, apply_fun)


# ----------------------------------------------------------------------------- convolutions

def _conv_general(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                  W_init=None, b_init=None, name="Conv"):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = len(lhs_spec) - 2
    filter_shape = _ntuple(filter_shape, nsp, name, "filter_shape")
    one = (1,) * nsp
    strides = _ntuple(strides, nsp, name, "strides") if strides is not None else one
    W_init = W_init or init.glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))
    b_init = b_init or init.normal(1e-6)

    def init_fun(rng, input_shape):
        _check_rank(name, input_shape, len(lhs_spec))
        filter_shape_iter = iter(filter_shape)
        in_chan = input_shape[lhs_spec.index("C")]
        kernel_shape = [out_chan if c == "O" else in_chan if c == "I" else next(filter_shape_iter)
                        for c in rhs_spec]
        out_shape = _conv_out_shape(input_shape, kernel_shape, strides, padding,
                                    dimension_numbers)
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = random.split(rng)
        return out_shape, (W_init(k1, tuple(kernel_shape)), b_init(k2, tuple(bias_shape)))

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        x = fnp.asarray(inputs)
        _check_rank(name, x.shape, len(lhs_spec))
        y = lax.conv_general_dilated(x, W, strides, padding, one, one, dimension_numbers)
        return y + b

    return _layer(f"{name}({out_chan}, {tuple(filter_shape)})", init_fun, apply_fun)


def _ntuple(v, n, name, what):
    """``v`` as an ``n``-tuple of ints (an int is repeated)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(d) for d in v)
    if len(v) != n:
        raise ValueError(f"{name}: {what} needs {n} entries, got {v}")
    return v


def _conv_out_shape(input_shape, kernel_shape, strides, padding, dn):
    lhs_spec, rhs_spec, out_spec = dn
    spatial_in = [input_shape[i] for i, c in enumerate(lhs_spec) if c not in "NC"]
    spatial_k = [kernel_shape[i] for i, c in enumerate(rhs_spec) if c not in "IO"]
    if isinstance(padding, str):
        if padding.upper() == "SAME":
            spatial_out = [-(-n // s) for n, s in zip(spatial_in, strides)]
        elif padding.upper() == "VALID":
            spatial_out = [(n - k) // s + 1 for n, k, s in zip(spatial_in, spatial_k, strides)]
        else:
            raise ValueError(f"padding must be 'SAME', 'VALID' or pairs, got {padding!r}")
    else:
        spatial_out = [(n + lo + hi - k) // s + 1 for n, k, s, (lo, hi) in
                       zip(spatial_in, spatial_k, strides, padding)]
    it = iter(spatial_out)
    out_chan = kernel_shape[rhs_spec.index("O")]
    return tuple(input_shape[lhs_spec.index("N")] if c == "N" else out_chan if c == "C"
                 else next(it) for c in out_spec)


def Conv(out_chan, filter_shape, strides=None, padding="VALID", W_init=None, b_init=None):
    """2-D convolution on NHWC inputs with an HWIO kernel.

    >>> init, apply = Conv(32, (3, 3), padding="SAME")
    """
    return _conv_general(("NHWC", "HWIO", "NHWC"), out_chan, filter_shape, strides, padding,
                         W_init, b_init, "Conv")


def Conv1D(out_chan, filter_shape, strides=None, padding="VALID", W_init=None, b_init=None):
    """1-D convolution on NWC inputs with a WIO kernel."""
    return _conv_general(("NWC", "WIO", "NWC"), out_chan, filter_shape, strides, padding,
                         W_init, b_init, "Conv1D")


def ConvTranspose(out_chan, filter_shape, strides=None, padding="VALID", W_init=None,
                  b_init=None):
    """Transposed 2-D convolution (NHWC, HWIO) as stax's: ``lax.conv_transpose`` with
    ``transpose_kernel=False``; output shapes are those of the gradient of a strided
    ``Conv`` (``SAME``: ``in * stride``)."""
    dn = ("NHWC", "HWIO", "NHWC")
    filter_shape = _ntuple(filter_shape, 2, "ConvTranspose", "filter_shape")
    strides = _ntuple(strides, 2, "ConvTranspose", "strides") if strides is not None else (1, 1)
    W_init = W_init or init.glorot_normal(2, 3)
    b_init = b_init or init.normal(1e-6)

    def init_fun(rng, input_shape):
        _check_rank("ConvTranspose", input_shape, 4)
        kernel_shape = tuple(filter_shape) + (input_shape[3], out_chan)
        spatial = []
        for n, k, s in zip(input_shape[1:3], filter_shape, strides):
            if isinstance(padding, str) and padding.upper() == "SAME":
                spatial.append(n * s)
            elif isinstance(padding, str):
                spatial.append(n * s + max(k - s, 0))
            else:
                raise ValueError("ConvTranspose: padding must be 'SAME' or 'VALID'")
        k1, k2 = random.split(rng)
        return ((input_shape[0],) + tuple(spatial) + (out_chan,),
                (W_init(k1, kernel_shape), b_init(k2, (1, 1, 1, out_chan))))

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        x = fnp.asarray(inputs)
        _check_rank("ConvTranspose", x.shape, 4)
        return lax.conv_transpose(x, W, strides, padding, dimension_numbers=dn) + b

    return _layer(f"ConvTranspose({out_chan}, {tuple(filter_shape)})", init_fun, apply_fun)


# ----------------------------------------------------------------------------- pooling

def _pool(name, reducer, window_shape, strides, padding, spec, average=False):
    window_shape = tuple(window_shape)
    nsp = len(window_shape)
    strides = tuple(strides) if strides is not None else window_shape
    if len(strides) != nsp:
        raise ValueError(f"{name}: strides {strides} and window {window_shape} need the same "
                         f"length")
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"{name}: padding must be 'SAME', 'VALID' or (lo, hi) pairs for "
                             f"each spatial dim, got {padding!r}")
        padding = padding.upper()
    else:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        if len(padding) != nsp:
            raise ValueError(f"{name}: explicit padding needs one (lo, hi) pair per spatial "
                             f"dim ({nsp}), got {padding}")

    def check_rank(shape):
        if len(shape) != nsp + 2:
            raise TypeError(f"{name}: window {window_shape} needs inputs of rank {nsp + 2} "
                            f"(batch, {nsp} spatial dims, channels), got shape "
                            f"{_shape_str(tuple(shape))}")

    def dims(ndim):
        """Full-rank window, strides and padding (the 'SAME'/'VALID' string as is)."""
        if spec is None:
            non_spatial = (0, ndim - 1)
        else:
            non_spatial = (spec.index("N"), spec.index("C"))
        w, st, pad = [1] * ndim, [1] * ndim, [(0, 0)] * ndim
        spatial = [i for i in range(ndim) if i not in non_spatial]
        for j, i in enumerate(spatial):
            w[i], st[i] = window_shape[j], strides[j]
            if not isinstance(padding, str):
                pad[i] = padding[j]
        return tuple(w), tuple(st), (padding if isinstance(padding, str) else tuple(pad))

    def init_fun(rng, input_shape):
        check_rank(input_shape)
        w, s, pad = dims(len(input_shape))
        out = []
        for i, (n, k, st) in enumerate(zip(input_shape, w, s)):
            if n == -1 or (k == 1 and st == 1):
                out.append(n)
            elif pad == "SAME":
                out.append(-(-n // st))
            elif pad == "VALID":
                out.append((n - k) // st + 1)
            else:
                out.append((n + pad[i][0] + pad[i][1] - k) // st + 1)
        return tuple(out), ()

    def apply_fun(params, inputs, **kwargs):
        x = fnp.asarray(inputs)
        check_rank(x.shape)
        w, s, pad = dims(x.ndim)
        if reducer == "max":
            init_v = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            return lax.reduce_window(x, np.asarray(init_v, x.dtype)[()], lax.max, w, s, pad)
        out = lax.reduce_window(x, np.asarray(0, x.dtype)[()], lax.add, w, s, pad)
        if not average:
            return out
        if pad == "VALID":
            return out / np.asarray(np.prod(w), x.dtype)[()]
        # SAME or explicit padding: divide by the number of real (non-padding) elements in
        # each window.  Shapes are static, so the counts are a NumPy constant.
        return out / _window_counts(x.shape, w, s, pad, out.shape, x.dtype)

    return _layer(f"{name}({window_shape})", init_fun, apply_fun)


def _window_counts(in_shape, window, strides, padding, out_shape, dtype):
    """Number of in-bounds elements of every pooling window (1 along unpooled dims)."""
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(in_shape, window, strides, padding)
    counts = np.ones((), dtype)
    for i, (n, k, st, (lo, _), m) in enumerate(zip(in_shape, window, strides, padding,
                                                     out_shape)):
        start = np.arange(m) * st - lo
        c = (np.minimum(start + k, n) - np.maximum(start, 0)).astype(dtype)
        shape = [1] * len(in_shape)
        shape[i] = m
        counts = counts * c.reshape(shape)
    return counts


def MaxPool(window_shape, strides=None, padding="VALID", spec=None):
    """Max pooling over the spatial dims of NHWC (or ``spec``) inputs."""
    return _pool("MaxPool", "max", window_shape, strides, padding, spec)


def SumPool(window_shape, strides=None, padding="VALID", spec=None):
    """Sum pooling."""
    return _pool("SumPool", "sum", window_shape, strides, padding, spec)


def AvgPool(window_shape, strides=None, padding="VALID", spec=None):
    """Average pooling; with SAME padding the padding is not counted."""
    return _pool("AvgPool", "sum", window_shape, strides, padding, spec, average=True)


# ----------------------------------------------------------------------------- shape layers

def _flatten_init(rng, input_shape):
    return (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64))), ()


def _flatten_apply(params, inputs, **kwargs):
    x = fnp.asarray(inputs)
    return fnp.reshape(x, (x.shape[0], -1))


#: Flatten every example to a vector: ``(batch, ...) -> (batch, prod(...))``.
Flatten = _layer("Flatten", _flatten_init, _flatten_apply)


def Reshape(shape):
    """Reshape every example to ``shape`` (the batch dimension is kept)."""
    shape = tuple(shape)

    def init_fun(rng, input_shape):
        n = int(np.prod(input_shape[1:], dtype=np.int64))
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        out = tuple(n // known if d == -1 else d for d in shape)
        if int(np.prod(out, dtype=np.int64)) != n:
            raise TypeError(f"Reshape{shape}: cannot reshape examples of shape "
                            f"{_shape_str(input_shape[1:])}")
        return (input_shape[0],) + out, ()

    def apply_fun(params, inputs, **kwargs):
        x = fnp.asarray(inputs)
        return fnp.reshape(x, (x.shape[0],) + shape)

    return _layer(f"Reshape({shape})", init_fun, apply_fun)


def _identity_init(rng, input_shape):
    return input_shape, ()


#: The identity layer (no parameters): passes its input through unchanged.
Identity = _layer("Identity", _identity_init, lambda params, inputs, **kw: inputs)


def elementwise(fun, name=None, **fun_kwargs):
    """A parameterless layer applying ``fun`` elementwise."""
    return _layer(name or getattr(fun, "__name__", "elementwise"), _identity_init,
                  lambda params, inputs, **kw: fun(inputs, **fun_kwargs))


#: ``max(x, 0)`` elementwise (``nn.relu``).
Relu = elementwise(nn.relu, "Relu")
#: ``tanh(x)`` elementwise.
Tanh = elementwise(fnp.tanh, "Tanh")
#: The logistic sigmoid ``1 / (1 + exp(-x))`` elementwise (``nn.sigmoid``).
Sigmoid = elementwise(nn.sigmoid, "Sigmoid")
#: Softmax over the last axis (``nn.softmax``).
Softmax = elementwise(nn.softmax, "Softmax", axis=-1)
#: Log-softmax over the last axis (``nn.log_softmax``).
LogSoftmax = elementwise(nn.log_softmax, "LogSoftmax", axis=-1)
#: GELU elementwise, tanh approximation as JAX (``nn.gelu``).
Gelu = elementwise(nn.gelu, "Gelu")
#: ELU elementwise (``nn.elu``).
Elu = elementwise(nn.elu, "Elu")
#: Leaky ReLU elementwise (``nn.leaky_relu``, slope 0.01).
LeakyRelu = elementwise(nn.leaky_relu, "LeakyRelu")
#: ``log(1 + exp(x))`` elementwise, computed stably (``nn.softplus``).
Softplus = elementwise(nn.softplus, "Softplus")
#: SiLU / swish ``x * sigmoid(x)`` elementwise (``nn.silu``).
Silu = elementwise(nn.silu, "Silu")


# ----------------------------------------------------------------------------- dropout

def Dropout(rate, mode=None):
    """Drop each unit with probability ``rate`` during training (inverted scaling);
    the identity when ``train=False``.  Needs ``rng=`` when training.

    >>> init, apply = Dropout(0.5)
    >>> apply((), fnp.ones(6), rng=random.key(0), train=True)   # kept units scaled by 2
    Array([0., 0., 2., 2., 0., 2.], dtype=float32)
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Dropout: rate is the probability of dropping a unit and must be in "
                         f"[0, 1), got {rate}")
    if mode is not None:
        raise TypeError("Dropout(rate) takes train=True/False at apply time, not a mode "
                        "(stax's Dropout took the keep probability and a mode; funcgrad's takes "
                        "the drop probability)")

    def apply_fun(params, inputs, *, rng=None, train=False, **kwargs):
        if not train or rate == 0.0:
            return inputs
        if rng is None:
            raise ValueError("Dropout needs a PRNG key when training: call apply_fun(params, "
                             "x, rng=key, train=True) (or train=False to disable dropout)")
        x = fnp.asarray(inputs)
        keep = random.bernoulli(rng, 1.0 - rate, x.shape)
        return fnp.where(keep, x / (1.0 - rate), fnp.zeros_like(x))

    return _layer(f"Dropout({rate})", _identity_init, apply_fun)


# ----------------------------------------------------------------------------- normalization

def BatchNorm(axis=None, epsilon=1e-5, momentum=0.99, center=True, scale=True,
              beta_init=None, gamma_init=None):
    """Batch normalization over all axes but the feature axis (``axis`` = reduced axes,
    default all but the last).  Running mean/variance live in the state pytree
    (``init_state``); ``train=True`` normalizes with batch statistics and updates them,
    ``train=False`` uses them.
    """
    beta_init = beta_init or init.zeros
    gamma_init = gamma_init or init.ones

    def red_axes(ndim):
        if axis is None:
            return tuple(range(ndim - 1))
        return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))

    def feat_shape(input_shape):
        ax = red_axes(len(input_shape))
        return tuple(1 if i in ax else d for i, d in enumerate(input_shape))

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(feat_shape(input_shape))
                      if i not in red_axes(len(input_shape)))
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return input_shape, (beta, gamma)

    def state_fun(input_shape):
        shape = tuple(d for i, d in enumerate(input_shape)
                      if i not in red_axes(len(input_shape)))
        return {"mean": fnp.zeros(shape), "var": fnp.ones(shape)}

    def apply_fun(params, x, *, state=None, train=False, **kwargs):
        beta, gamma = params
        x = fnp.asarray(x)
        ax = red_axes(x.ndim)
        keep = tuple(i for i in range(x.ndim) if i not in ax)

        def expand(v):
            return lax.broadcast_in_dim(v, x.shape, keep)

        feat = tuple(x.shape[i] for i in keep)
        for name, v, used in (("beta", beta, center), ("gamma", gamma, scale)):
            if used and tuple(np.shape(v)) != feat:
                raise TypeError(f"BatchNorm: {name} of shape {np.shape(v)} does not match the "
                                f"feature shape {feat} of inputs {x.shape}; were the params "
                                f"made for this input shape?")
        if train or state is None:
            mean = fnp.mean(x, axis=ax)
            var = fnp.var(x, axis=ax)
        else:
            mean, var = state["mean"], state["var"]
            if np.shape(mean) != feat:
                raise TypeError(f"BatchNorm: running statistics of shape {np.shape(mean)} do "
                                f"not match the feature shape {feat} of inputs {x.shape}")
            # running statistics keep their own dtype; normalize in the input's dtype
            mean = fnp.asarray(mean).astype(x.dtype)
            var = fnp.asarray(var).astype(x.dtype)
        z = (x - expand(mean)) / fnp.sqrt(expand(var) + epsilon)
        if scale:
            z = z * expand(gamma)
        if center:
            z = z + expand(beta)
        if state is None:
            if not train:
                raise ValueError("BatchNorm at train=False needs its running statistics: pass "
                                 "state=init_state(init_fun, input_shape) (and keep the "
                                 "returned state from training)")
            return z
        if train:
            # the update keeps the state's dtype, so a jitted step sees one signature
            def upd(old, new):
                old = fnp.asarray(old)
                new = lax.stop_gradient(new).astype(old.dtype)
                return momentum * old + (1 - momentum) * new

            state = {"mean": upd(state["mean"], mean), "var": upd(state["var"], var)}
        return z, state

    return _layer("BatchNorm", init_fun, apply_fun, init_state=state_fun)


def LayerNorm(axis=-1, epsilon=1e-5, center=True, scale=True):
    """Layer normalization over ``axis`` (per example) with learned scale and offset."""
    def init_fun(rng, input_shape):
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        shape = tuple(input_shape[a] for a in axes)
        return input_shape, (fnp.zeros(shape) if center else (),
                             fnp.ones(shape) if scale else ())

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        x = fnp.asarray(x)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(a % x.ndim for a in axes)
        mean = fnp.mean(x, axis=axes, keepdims=True)
        var = fnp.var(x, axis=axes, keepdims=True)
        z = (x - mean) / fnp.sqrt(var + epsilon)
        shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
        if scale:
            z = z * fnp.reshape(gamma, shape)
        if center:
            z = z + fnp.reshape(beta, shape)
        return z

    return _layer("LayerNorm", init_fun, apply_fun)


def Embedding(vocab_size, features, embedding_init=None):
    """Look up ``features``-dimensional vectors for integer ids in ``[0, vocab_size)``."""
    embedding_init = embedding_init or init.normal(1.0)

    def init_fun(rng, input_shape):
        return tuple(input_shape) + (features,), embedding_init(rng, (vocab_size, features))

    def apply_fun(params, inputs, **kwargs):
        ids = fnp.asarray(inputs)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding expects integer ids, got dtype {ids.dtype}")
        return fnp.take(params, ids, axis=0)

    return _layer(f"Embedding({vocab_size}, {features})", init_fun, apply_fun)


# ----------------------------------------------------------------------------- recurrent

def _recurrent(name, hidden, n_gates, cell, return_sequences, W_init, b_init):
    W_init = W_init or init.glorot_uniform()
    b_init = b_init or init.zeros

    def init_fun(rng, input_shape):
        _check_rank(name, input_shape, 3)
        k1, k2, k3 = random.split(rng, 3)
        params = (W_init(k1, (input_shape[2], n_gates * hidden)),
                  init.orthogonal()(k2, (hidden, n_gates * hidden)) if n_gates > 1
                  else W_init(k2, (hidden, hidden)),
                  b_init(k3, (n_gates * hidden,)))
        out = ((input_shape[0], input_shape[1], hidden) if return_sequences
               else (input_shape[0], hidden))
        return out, params

    def apply_fun(params, inputs, **kwargs):
        W, U, b = params
        x = fnp.asarray(inputs)
        if x.ndim != 3:
            raise TypeError(f"{name} expects (batch, time, features) inputs, got shape "
                            f"{x.shape}")
        if x.shape[2] != W.shape[0]:
            raise TypeError(f"{name}: input feature size {x.shape[2]} (inputs {x.shape}) does "
                            f"not match the input weights {W.shape}")
        batch = x.shape[0]
        xw = fnp.matmul(x, W) + b                     # input projections for all steps
        xs = fnp.swapaxes(xw, 0, 1)                   # time-major for the scan
        carry0 = cell.init(batch, hidden, x.dtype)

        def step(carry, xt):
            carry, h = cell.step(carry, xt, U, hidden)
            return carry, h

        _, hs = lax.scan(step, carry0, xs)
        return fnp.swapaxes(hs, 0, 1) if return_sequences else hs[-1]

    return _layer(f"{name}({hidden})", init_fun, apply_fun)


class _SimpleCell:
    @staticmethod
    def init(batch, hidden, dtype):
        return fnp.zeros((batch, hidden), dtype)

    @staticmethod
    def step(h, xt, U, hidden):
        h = fnp.tanh(xt + h @ U)
        return h, h


class _LSTMCell:
    @staticmethod
    def init(batch, hidden, dtype):
        return (fnp.zeros((batch, hidden), dtype), fnp.zeros((batch, hidden), dtype))

    @staticmethod
    def step(carry, xt, U, hidden):
        h, c = carry
        z = xt + h @ U
        i = nn.sigmoid(z[:, :hidden])
        f = nn.sigmoid(z[:, hidden:2 * hidden])
        g = fnp.tanh(z[:, 2 * hidden:3 * hidden])
        o = nn.sigmoid(z[:, 3 * hidden:])
        c = f * c + i * g
        h = o * fnp.tanh(c)
        return (h, c), h


class _GRUCell:
    @staticmethod
    def init(batch, hidden, dtype):
        return fnp.zeros((batch, hidden), dtype)

    @staticmethod
    def step(h, xt, U, hidden):
        hu = h @ U
        r = nn.sigmoid(xt[:, :hidden] + hu[:, :hidden])
        z = nn.sigmoid(xt[:, hidden:2 * hidden] + hu[:, hidden:2 * hidden])
        n = fnp.tanh(xt[:, 2 * hidden:] + r * hu[:, 2 * hidden:])
        h = (1 - z) * n + z * h
        return h, h


def SimpleRNN(hidden, return_sequences=True, W_init=None, b_init=None):
    """Elman RNN ``h = tanh(x W + h U + b)`` over ``(batch, time, features)`` inputs."""
    return _recurrent("SimpleRNN", hidden, 1, _SimpleCell, return_sequences, W_init, b_init)


def LSTM(hidden, return_sequences=True, W_init=None, b_init=None):
    """LSTM (gates i, f, g, o) over ``(batch, time, features)`` inputs, via ``lax.scan``."""
    return _recurrent("LSTM", hidden, 4, _LSTMCell, return_sequences, W_init, b_init)


def GRU(hidden, return_sequences=True, W_init=None, b_init=None):
    """GRU (gates r, z and candidate n) over ``(batch, time, features)`` inputs."""
    return _recurrent("GRU", hidden, 3, _GRUCell, return_sequences, W_init, b_init)


# ----------------------------------------------------------------------------- combinators

def serial(*layers):
    """Compose layers in sequence.

    >>> init, apply = serial(Dense(64), Relu, Dense(10))
    """
    if not layers:
        raise ValueError("serial needs at least one layer")
    init_funs, apply_funs = zip(*layers)
    stateful = any(getattr(a, "stateful", False) for a in apply_funs)

    def init_fun(rng, input_shape):
        params = []
        for f in init_funs:
            rng, sub = random.split(rng)
            input_shape, p = f(sub, input_shape)
            params.append(p)
        return input_shape, tuple(params)

    def state_fun(input_shape):
        states = []
        shape = input_shape
        for f in init_funs:
            states.append(init_state(f, shape))
            shape, _ = _shape_only(f, shape)
        return tuple(states)

    def apply_fun(params, inputs, *, rng=None, state=None, **kwargs):
        if len(params) != len(apply_funs):
            raise ValueError(f"serial: got {len(params)} parameter groups for "
                             f"{len(apply_funs)} layers; were the params made by this "
                             "layer's init_fun?")
        rngs = _split(rng, len(apply_funs))
        if state is None or _empty_state(state, stateful):
            for f, p, r in zip(apply_funs, params, rngs):
                if getattr(f, "stateful", False):
                    inputs = f(p, inputs, rng=r, state=None, **kwargs)
                else:
                    inputs = f(p, inputs, rng=r, **kwargs)
            return inputs if state is None else (inputs, state)
        new = []
        states = _child_states("serial", state, len(apply_funs))
        for f, p, s, r in zip(apply_funs, params, states, rngs):
            inputs, s = _call(f, p, inputs, s, rng=r, **kwargs)
            new.append(s)
        return inputs, tuple(new)

    return _layer("serial", init_fun, apply_fun, state_fun if stateful else None,
                  children=list(layers))


def _empty_state(state, stateful):
    """``state=()`` given to a stateless combinator (what ``init_state`` returns for it):
    apply it as stateless and hand the ``()`` back unchanged."""
    return not stateful and isinstance(state, tuple) and len(state) == 0


def _child_states(name, state, n):
    """Validate a combinator's state: one entry per child."""
    if not isinstance(state, (tuple, list)) or len(state) != n:
        got = (f"{len(state)} entries" if isinstance(state, (tuple, list))
               else type(state).__name__)
        raise ValueError(f"{name}: state must be the pytree built by init_state(init_fun, "
                         f"input_shape), one entry per layer ({n}); got {got}")
    return state


def _shape_only(init_fun, input_shape):
    return init_fun(random.key(0), input_shape)


def parallel(*layers):
    """Apply layers to the matching elements of a tuple input (e.g. after ``FanOut``).
    Stateful children (``BatchNorm``) get their entries of ``state=`` as in ``serial``."""
    if not layers:
        raise ValueError("parallel needs at least one layer")
    init_funs, apply_funs = zip(*layers)
    stateful = any(getattr(a, "stateful", False) for a in apply_funs)
    n = len(layers)

    def check(what, value):
        if not isinstance(value, (tuple, list)) or len(value) != n:
            got = (repr(value) if what == "input shapes" else
                   f"{len(value)} inputs" if isinstance(value, (tuple, list))
                   else type(value).__name__)
            raise TypeError(f"parallel of {n} layers needs a tuple of {n} {what}, got {got}")

    def init_fun(rng, input_shape):
        check("input shapes", input_shape)
        rngs = random.split(rng, n)
        res = [f(r, s) for f, r, s in zip(init_funs, rngs, input_shape)]
        return tuple(r[0] for r in res), tuple(r[1] for r in res)

    def state_fun(input_shape):
        return tuple(init_state(f, s) for f, s in zip(init_funs, input_shape))

    def apply_fun(params, inputs, *, rng=None, state=None, **kwargs):
        check("inputs", inputs)
        rngs = _split(rng, n)
        if state is None or _empty_state(state, stateful):
            out = tuple(f(p, x, rng=r, **kwargs)
                        for f, p, x, r in zip(apply_funs, params, inputs, rngs))
            return out if state is None else (out, state)
        states = _child_states("parallel", state, n)
        res = [_call(f, p, x, s, rng=r, **kwargs)
               for f, p, x, s, r in zip(apply_funs, params, inputs, states, rngs)]
        return tuple(r[0] for r in res), tuple(r[1] for r in res)

    return _layer("parallel", init_fun, apply_fun, state_fun if stateful else None,
                  children=list(layers))


def FanOut(num):
    """Copy the input ``num`` times (a tuple)."""
    return _layer(f"FanOut({num})", lambda rng, s: ([s] * num, ()),
                  lambda params, inputs, **kw: [inputs] * num)


def _fanin_sum_init(rng, input_shape):
    return input_shape[0], ()


#: Sum a tuple (or list) of inputs of one shape, e.g. the branches of a residual
#: block: ``serial(FanOut(2), parallel(f, Identity), FanInSum)``.
FanInSum = _layer("FanInSum", _fanin_sum_init,
                  lambda params, inputs, **kw: functools.reduce(lambda a, b: a + b, inputs))


def FanInConcat(axis=-1):
    """Concatenate a tuple of inputs along ``axis``."""
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        concat = sum(s[ax] for s in input_shape)
        return tuple(input_shape[0][:ax]) + (concat,) + tuple(input_shape[0][ax + 1:]), ()

    return _layer("FanInConcat", init_fun,
                  lambda params, inputs, **kw: fnp.concatenate(inputs, axis))


# ----------------------------------------------------------------------------- summary

def _count(params):
    return sum(int(np.prod(np.shape(x), dtype=np.int64)) for x in pytree.tree_leaves(params))


def summary(init_fun, input_shape, rng=None, print_fn=print):
    """Print a Keras-like table of layers, output shapes and parameter counts; returns the
    total parameter count.

    >>> summary(serial(Dense(32), Relu, Dense(10))[0], (-1, 784))
    -------------------------------------
    Layer      Output shape      Params
    =====================================
    Dense(32)  (None, 32)        25,120
    Relu       (None, 32)             0
    Dense(10)  (None, 10)           330
    =====================================
    Total params: 25,450
    -------------------------------------
    25450
    """
    rng = random.key(0) if rng is None else rng
    rows = []

    def walk(f, shape, key, depth):
        kids = getattr(f, "children", None)
        if getattr(f, "layer_name", "") == "serial" and kids:
            for child in kids:
                key, sub = random.split(key)
                shape = walk(child[0], shape, sub, depth)
            return shape
        out, params = f(key, shape)
        rows.append((getattr(f, "layer_name", "layer"), out, _count(params)))
        return out

    walk(init_fun, tuple(input_shape), rng, 0)
    w1 = max([len("Layer")] + [len(r[0]) for r in rows]) + 2
    w2 = max([len("Output shape")] + [len(_shape_str(r[1])) for r in rows]) + 2
    line = "-" * (w1 + w2 + 12)
    print_fn(line)
    print_fn(f"{'Layer':<{w1}}{'Output shape':<{w2}}{'Params':>10}")
    print_fn("=" * (w1 + w2 + 12))
    total = 0
    for name, out, n in rows:
        s = _shape_str(out)
        print_fn(f"{name:<{w1}}{s:<{w2}}{n:>10,}")
        total += n
    print_fn("=" * (w1 + w2 + 12))
    print_fn(f"Total params: {total:,}")
    print_fn(line)
    return total


__all__ = ["serial", "parallel", "FanOut", "FanInSum", "FanInConcat", "Dense", "Conv",
           "Conv1D", "ConvTranspose", "MaxPool", "AvgPool", "SumPool", "Flatten", "Reshape",
           "Dropout", "BatchNorm", "LayerNorm", "Embedding", "SimpleRNN", "LSTM", "GRU",
           "Identity", "Relu", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Gelu", "Elu",
           "LeakyRelu", "Softplus", "Silu", "elementwise", "summary", "init_state"]
del math
