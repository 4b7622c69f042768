"""Performance lowerings of the numpy backend: split (threaded, planned-buffer) window ops,
conv results written into reused buffers, channels-last conv outputs, widening
conversions sunk into their consumer's group.  Each must agree with eager evaluation bit
for bit, keep the gradient conventions (first arg-max) and compose with grad/vmap."""
import importlib

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.compiler import runtime
from funcgrad.test_util import check_grads

conv_mod = importlib.import_module("funcgrad.lax.conv")


def bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype.kind == "f":
        np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))
    else:
        np.testing.assert_array_equal(a, b)


def tree_bits_equal(x, y):
    lx, ly = fg.tree_util.tree_leaves(x), fg.tree_util.tree_leaves(y)
    assert len(lx) == len(ly)
    for a, b in zip(lx, ly):
        bits_equal(a, b)


def pool_input(shape, seed=0):
    """Values with exact ties, signed zeros and a NaN inside some windows."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::7] = 0.0
    x.reshape(-1)[3::11] = -0.0
    x.reshape(-1)[5::13] = x.reshape(-1)[4::13][:x.reshape(-1)[5::13].size]
    x.reshape(-1)[17] = np.nan
    return x


def maxpool(x, window=(2, 2), strides=None, padding="VALID"):
    strides = strides or window
    return lax.reduce_window_max(x, (1,) + window + (1,), (1,) + strides + (1,), padding)


@pytest.fixture
def split_small(monkeypatch):
    """Split window ops even when small, over two threads."""
    monkeypatch.setattr(runtime, "NUM_THREADS", 2)
    monkeypatch.setattr(runtime, "SPLIT_MIN_ELEMENTS", 1)
    monkeypatch.setattr(runtime, "SPLIT_CHUNK_BYTES", 1)


# ----------------------------------------------------------------------------- window ops

@pytest.mark.parametrize("window,strides,padding", [
    ((2, 2), (2, 2), "VALID"),
    ((3, 3), (2, 2), "SAME"),
    ((2, 3), (1, 2), "VALID"),
])
def test_split_pool_matches_eager(split_small, window, strides, padding):
    x = pool_input((5, 9, 8, 3))
    g = np.random.default_rng(1).standard_normal(
        np.asarray(maxpool(x, window, strides, padding)).shape).astype(np.float32)

    def f(x):
        return fnp.sum(maxpool(x, window, strides, padding) * g)

    src = fg.jit(fg.grad(f)).lower(x).compile().as_text()
    assert "_window_select_split" in src and "threads" in src
    if padding == "VALID":
        assert "_window_scatter_split" in src
    tree_bits_equal(fg.jit(f)(x), f(x))
    tree_bits_equal(fg.jit(fg.grad(f))(x), fg.grad(f)(x))
    tree_bits_equal(fg.jit(fg.value_and_grad(f))(x), fg.value_and_grad(f)(x))


def test_split_pool_single_thread_matches(monkeypatch):
    monkeypatch.setattr(runtime, "NUM_THREADS", 1)
    x = pool_input((4, 6, 6, 2))
    f = lambda x: fnp.sum(maxpool(x) ** 2)  # noqa: E731
    src = fg.jit(fg.grad(f)).lower(x).compile().as_text()
    assert "_window_select_split" in src and "_run_chunks" not in src
    tree_bits_equal(fg.jit(fg.grad(f))(x), fg.grad(f)(x))


def test_first_argmax_convention(split_small):
    # all four taps tie: the gradient goes to the first one (row-major window order)
    x = np.zeros((2, 4, 4, 1), np.float32)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 1.0      # tie between taps 1 and 2 of window (0, 0)
    grad = fg.jit(fg.grad(lambda x: fnp.sum(maxpool(x))))(x)
    expect = np.zeros_like(x)
    expect[:, ::2, ::2] = 1.0
    expect[0, 0, 0, 0] = 0.0
    expect[0, 0, 1, 0] = 1.0
    np.testing.assert_array_equal(np.asarray(grad), expect)
    tree_bits_equal(grad, fg.grad(lambda x: fnp.sum(maxpool(x)))(x))


def test_window_select_kernel_reference():
    # the rewritten index arithmetic, also with an int32 index (more than 127 taps)
    rng = np.random.default_rng(3)
    for window in ((1, 2, 2, 1), (1, 12, 12, 1)):
        x = rng.integers(-3, 3, (2, 12, 12, 2)).astype(np.float32)
        x[0, 0, 0, 0] = np.nan
        params = dict(window_dimensions=window, window_strides=window,
                      padding=((0, 0),) * 4, base_dilation=(1,) * 4, window_dilation=(1,) * 4)
        best, idx = conv_mod.window_select_p.impl(x, select="max", **params)
        wh, ww = window[1:3]
        r = x.reshape(2, 12 // wh, wh, 12 // ww, ww, 2).transpose(0, 1, 3, 5, 2, 4)
        r = r.reshape(r.shape[:4] + (-1,))
        ref_best = r.max(-1)
        ref_idx = np.argmax(r == ref_best[..., None], axis=-1)   # first occurrence, 0 if none
        np.testing.assert_array_equal(best, ref_best)
        np.testing.assert_array_equal(idx, ref_idx)
        assert idx.dtype == (np.int8 if wh * ww <= 127 else np.int32)
        # the split kernel writes the same bits into given buffers, on any sub-batch
        b2, i2 = np.empty_like(best), np.empty_like(idx)
        kern = conv_mod._window_select_split(dict(params, select="max"))
        kern(x[:1], b2[:1], i2[:1])
        kern(x[1:], b2[1:], i2[1:])
        bits_equal(b2, best)
        bits_equal(i2, idx)


def test_split_pool_grads_and_vmap(split_small):
    x = pool_input((3, 6, 6, 2), seed=4)
    x = np.where(np.isnan(x), 0.5, x) + np.linspace(0, 1, x.size, dtype=np.float32).reshape(
        x.shape)          # well-separated maxima for finite differences
    f = fg.jit(lambda x: fnp.sum(fnp.sin(maxpool(x))))
    check_grads(f, (x,), order=2, modes=("rev",))
    xs = np.stack([x, x[::-1] * 2.0])
    batched = fg.jit(fg.vmap(fg.grad(f)))(xs)
    looped = np.stack([np.asarray(fg.jit(fg.grad(f))(xi)) for xi in xs])
    bits_equal(batched, looped)


# ----------------------------------------------------------------------------- convs

def _conv(x, k):
    return lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def test_conv_single_channel_is_channels_last():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 9, 9, 1)).astype(np.float32)
    k = rng.standard_normal((3, 3, 1, 8)).astype(np.float32)
    out = np.asarray(_conv(x, k))
    assert out.flags.c_contiguous
    ref = np.zeros((4, 9, 9, 8))
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    for i in range(3):
        for j in range(3):
            ref += xp[:, i:i + 9, j:j + 9, :] @ k[i, j].astype(np.float64)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_conv_results_in_reused_buffers():
    rng = np.random.default_rng(1)
    k1 = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    k2 = rng.standard_normal((3, 3, 4, 6)).astype(np.float32)

    def f(k1, k2, x):
        h = fnp.maximum(_conv(x, k1), 0.0)
        h = maxpool(h)
        return fnp.sum(_conv(h, k2) ** 2)

    step = fg.jit(fg.value_and_grad(f, argnums=(0, 1)))
    src = step.lower(k1, k2, np.ones((2, 8, 8, 1), np.float32)).compile().as_text()
    assert "out_holder=" in src
    xs = [rng.standard_normal((2, 8, 8, 1)).astype(np.float32) for _ in range(3)]
    first = step(k1, k2, xs[0])
    keep = [np.array(a) for a in fg.tree_util.tree_leaves(first)]
    for x in xs:
        tree_bits_equal(step(k1, k2, x), fg.value_and_grad(f, argnums=(0, 1))(k1, k2, x))
    # results of an earlier call are not overwritten by later calls
    for a, b in zip(fg.tree_util.tree_leaves(first), keep):
        bits_equal(a, b)
    # a conv result that is itself an output gets a fresh array every call
    g = fg.jit(lambda x: _conv(x, k1))
    r1 = g(xs[0])
    r1_copy = np.array(r1)
    g(xs[1])
    bits_equal(r1, r1_copy)


# ----------------------------------------------------------------------------- sinking

def test_relu_mask_conversion_sunk_into_backward_group():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((256, 300)).astype(np.float32)
    x[0, :4] = [0.0, -0.0, np.inf, np.nan]
    w1 = rng.standard_normal((300, 400)).astype(np.float32)
    w2 = rng.standard_normal((400, 5)).astype(np.float32)

    def f(x):
        # relu between two matmuls: its mask is computed in the forward group and used
        # by the backward group (the matmuls are opaque, so the groups are separate)
        return fnp.sum(fg.nn.relu(x @ w1 + 1.0) @ w2)

    src = fg.jit(fg.grad(f)).lower(x).compile().as_text()
    groups = [ln for ln in src.splitlines() if ln.strip().startswith("# group")]
    conv_groups = [ln for ln in groups if "convert_element_type" in ln]
    assert conv_groups, groups
    # the conversion runs in the group that consumes it, not where the mask is computed
    for ln in conv_groups:
        assert "gt" not in ln.split(":", 1)[1], ln
    tree_bits_equal(fg.jit(fg.grad(f))(x), fg.grad(f)(x))
    tree_bits_equal(fg.jit(fg.value_and_grad(f))(x), fg.value_and_grad(f)(x))


def test_sunk_conversion_used_twice_and_as_output():
    x = np.linspace(-2, 2, 3000, dtype=np.float32).reshape(30, 100)

    def f(x):
        m = (x > 0.5).astype(np.float32)
        return fnp.exp(x) * m + m, m

    def g(x):
        m = (x > 0.5).astype(np.float32)
        return fnp.sum(fnp.exp(x) * m) + fnp.sum(fnp.cos(x) * m)

    tree_bits_equal(fg.jit(f)(x), f(x))
    tree_bits_equal(fg.jit(g)(x), g(x))
    tree_bits_equal(fg.jit(fg.grad(lambda x: fnp.sum(fnp.maximum(x, 0.0) ** 3)))(x),
                    fg.grad(lambda x: fnp.sum(fnp.maximum(x, 0.0) ** 3))(x))


# ----------------------------------------------------------------------------- min/max

@pytest.mark.parametrize("n", [7, 1000, 300_001])
def test_fused_minmax_with_literal(n):
    # literal operands of fused maximum/minimum become constant arrays: same bits,
    # including signed zeros and NaN payloads, chunked or not
    x = np.random.default_rng(5).standard_normal(n).astype(np.float32)
    x[::5] = -0.0
    x[1::7] = 0.0
    x.view(np.uint32)[2::11] = 0x7FC00123       # NaN with a payload
    x.view(np.uint32)[3::13] = 0xFFC00001

    def f(x):
        y = x * 2.0
        return (lax.max(y, np.float32(0.0)), lax.min(np.float32(-0.0), y),
                lax.max(np.float32(np.nan), y), fnp.maximum(y + 1.0, 0.0))

    src = fg.jit(f).lower(x).compile().as_text()
    if n >= 1 << 14:
        assert "_F" in src
    tree_bits_equal(fg.jit(f)(x), f(x))


@pytest.mark.parametrize("shape", [(64, 20, 20, 16), (2, 70000, 4), (5, 3, 40000)])
def test_chunked_bias_tiled(shape):
    # broadcast operands constant along the chunked axes are tiled once per call into a
    # chunk-shaped buffer (also for inner-axis chunking and tail chunks): same bits
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[-1]).astype(np.float32)
    c = rng.standard_normal((shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)

    def f(x, b, c):
        return fnp.maximum(x + b, 0.0) * 3.0 - b, fnp.sin(x * c + b)

    src = fg.jit(f).lower(x, b, c).compile().as_text()
    assert "chunks of" in src and "_copyto(_R" in src
    tree_bits_equal(fg.jit(f)(x, b, c), f(x, b, c))
    tree_bits_equal(fg.jit(fg.grad(lambda x, b: fnp.sum(f(x, b, c)[1])))(x, b),
                    fg.grad(lambda x, b: fnp.sum(f(x, b, c)[1]))(x, b))


# ----------------------------------------------------------------------------- outer products

@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("size", ["small", "big"])
def test_outer_product_dot_matches_eager_and_matmul(batched, size):
    """Size-1 contractions run as a broadcast multiply (small) or an einsum (at least
    ``OUTER_EINSUM_MIN`` output elements); eager and jit use the same one."""
    _dot = importlib.import_module("funcgrad.lax.dot")
    rng = np.random.default_rng(3)
    m, n = (8, 16) if size == "small" else (256, 160)
    b = 3 if batched else None
    lshape = (b, m) if batched else (m,)
    rshape = (b, n) if batched else (n,)
    x = rng.standard_normal(lshape).astype(np.float32)
    y = rng.standard_normal(rshape).astype(np.float32)
    x.flat[0] = -0.0
    x.flat[1] = np.nan
    y.flat[2] = np.inf
    assert ((m * n * (b or 1)) >= _dot.OUTER_EINSUM_MIN) == (size == "big")
    if batched:
        f = lambda a, c: lax.dot_general(a[:, :, None], c[:, None, :],   # noqa: E731
                                         (((2,), (1,)), ((0,), (0,))))
    else:
        f = lambda a, c: lax.dot_general(a[:, None], c[None, :],   # noqa: E731
                                         (((1,), (0,)), ((), ())))
    with np.errstate(invalid="ignore"):      # inf * 0
        eager = np.asarray(f(fnp.asarray(x), fnp.asarray(y)))
        jitted = np.asarray(fg.jit(f)(x, y))
        want = (x[:, :, None] * y[:, None, :]) if batched else np.outer(x, y)
    assert eager.dtype == np.float32
    np.testing.assert_array_equal(eager.view(np.uint32), jitted.view(np.uint32))
    np.testing.assert_array_equal(eager, want)   # equal values (signed zeros may differ)
