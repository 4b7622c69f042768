"""Convolutions and windowed reductions: values against slow loop references, jit, vmap,
gradients (to second order, both modes) and error messages."""
import importlib
import itertools

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import lax
conv_mod = importlib.import_module("funcgrad.lax.conv")   # the module (lax.conv is a function)
from funcgrad.test_util import check_grads

# ----------------------------------------------------------------------------- references


def _np(x):
    return np.asarray(x)


def ref_conv(lhs, rhs, strides, padding, lhs_dil, rhs_dil, dn, fgc=1, bgc=1):
    """Loop-based reference convolution (XLA semantics) in float64."""
    lspec, rspec, ospec = dn
    x = np.transpose(np.asarray(lhs, np.float64), lspec)          # (N, C, S...)
    w = np.transpose(np.asarray(rhs, np.float64), rspec)          # (O, I, K...)
    N, C, S = x.shape[0], x.shape[1], x.shape[2:]
    O, K = w.shape[0], w.shape[2:]
    nsp = len(S)
    # lhs dilation
    Sd = tuple((n - 1) * d + 1 if n else 0 for n, d in zip(S, lhs_dil))
    xd = np.zeros((N, C) + Sd)
    xd[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in lhs_dil)] = x
    # padding (negative crops)
    for i, (lo, hi) in enumerate(padding):
        ax = 2 + i
        if lo < 0:
            xd = np.take(xd, range(-lo, xd.shape[ax]), axis=ax)
            lo = 0
        if hi < 0:
            xd = np.take(xd, range(0, xd.shape[ax] + hi), axis=ax)
            hi = 0
        cfg = [(0, 0)] * xd.ndim
        cfg[ax] = (lo, hi)
        xd = np.pad(xd, cfg)
    P = xd.shape[2:]
    Kd = [(k - 1) * r + 1 for k, r in zip(K, rhs_dil)]
    T = [max(0, (p - kd) // s + 1) for p, kd, s in zip(P, Kd, strides)]
    groups = max(fgc, bgc)
    Og = O // groups
    Cg = C // fgc
    Nb = N // bgc
    out = np.zeros((Nb, O) + tuple(T))
    for n in range(Nb):
        for o in range(O):
            g = o // Og
            n_in = g * Nb + n if bgc > 1 else n
            c0 = g * Cg if fgc > 1 else 0
            for t in itertools.product(*[range(v) for v in T]):
                acc = 0.0
                for ci in range(w.shape[1]):
                    for k in itertools.product(*[range(v) for v in K]):
                        pos = tuple(t[i] * strides[i] + k[i] * rhs_dil[i] for i in range(nsp))
                        acc += xd[(n_in, c0 + ci) + pos] * w[(o, ci) + k]
                out[(n, o) + t] = acc
    return np.transpose(out, np.argsort(ospec))


def ref_reduce_window(x, kind, window, strides, padding, base_dil, win_dil, init=None):
    x = np.asarray(x, np.float64)
    ident = {"sum": 0.0, "max": -np.inf, "min": np.inf}[kind]
    fill = ident if init is None else init
    Sd = tuple((n - 1) * d + 1 for n, d in zip(x.shape, base_dil))
    xd = np.full(Sd, fill)
    xd[tuple(slice(None, None, d) for d in base_dil)] = x
    for ax, (lo, hi) in enumerate(padding):
        if lo < 0:
            xd = np.take(xd, range(-lo, xd.shape[ax]), axis=ax)
            lo = 0
        if hi < 0:
            xd = np.take(xd, range(0, xd.shape[ax] + hi), axis=ax)
            hi = 0
        cfg = [(0, 0)] * xd.ndim
        cfg[ax] = (lo, hi)
        xd = np.pad(xd, cfg, constant_values=fill)
    Wd = [(w - 1) * d + 1 for w, d in zip(window, win_dil)]
    T = [max(0, (p - wd) // s + 1) for p, wd, s in zip(xd.shape, Wd, strides)]
    op = {"sum": lambda a, b: a + b, "max": max, "min": min}[kind]
    out = np.zeros(T)
    for t in itertools.product(*[range(v) for v in T]):
        acc = ident if init is None else init
        for k in itertools.product(*[range(v) for v in window]):
            pos = tuple(t[i] * strides[i] + k[i] * win_dil[i] for i in range(x.ndim))
            acc = op(acc, xd[pos])
        out[t] = acc
    return out


def _layout_shape(spec, sizes):
    """Shape of an operand laid out by a spec string; ``sizes`` maps letters to sizes."""
    return tuple(sizes[c] for c in spec)


def _make(rng, dn, N, C, S, O, I, K, dtype=np.float64):
    lspec, rspec, _ = dn
    sp = [c for c in rspec if c not in "OI"]
    lsz = {"N": N, "C": C, **{c: s for c, s in zip(sp, S)}}
    rsz = {"O": O, "I": I, **{c: k for c, k in zip(sp, K)}}
    lhs = rng.standard_normal(_layout_shape(lspec, lsz)).astype(dtype)
    rhs = rng.standard_normal(_layout_shape(rspec, rsz)).astype(dtype)
    return lhs, rhs


# (name, dn strings, N, C, S, O, K, strides, padding, lhs_dil, rhs_dil, fgc, bgc)
CONFIGS = [
    ("1d_nwc_same_s2", ("NWC", "WIO", "NWC"), 2, 3, (7,), 4, (3,), (2,), "SAME", None, None,
     1, 1),
    ("1d_ncw_valid_rd2", ("NCW", "OIW", "NCW"), 2, 2, (9,), 3, (3,), (1,), "VALID", None, (2,),
     1, 1),
    ("2d_nhwc_same", ("NHWC", "HWIO", "NHWC"), 2, 3, (6, 5), 4, (3, 3), (1, 1), "SAME", None,
     None, 1, 1),
    ("2d_nhwc_rhs_dil", ("NHWC", "HWIO", "NHWC"), 2, 5, (7, 6), 2, (2, 3), (1, 1),
     [(2, 0), (1, 1)], None, (2, 1), 1, 1),
    ("2d_nchw_explicit_s21", ("NCHW", "OIHW", "NCHW"), 2, 3, (7, 6), 2, (3, 2), (2, 1),
     [(1, 2), (0, 1)], None, None, 1, 1),
    ("2d_nchw_negpad", ("NCHW", "OIHW", "NCHW"), 1, 2, (7, 6), 3, (2, 2), (1, 1),
     [(-1, 1), (1, -2)], None, None, 1, 1),
    ("2d_lhs_dil", ("NHWC", "HWIO", "NHWC"), 2, 2, (4, 3), 3, (3, 2), (1, 1),
     [(1, 1), (2, 0)], (2, 3), None, 1, 1),
    ("2d_lhs_rhs_dil_stride", ("NCHW", "OIHW", "NCHW"), 1, 2, (5, 4), 2, (2, 2), (2, 1),
     [(2, 1), (1, 1)], (2, 1), (1, 2), 1, 1),
    ("2d_groups2", ("NHWC", "HWIO", "NHWC"), 2, 4, (5, 5), 6, (3, 3), (1, 2), "SAME", None,
     None, 2, 1),
    ("2d_depthwise_mult2", ("NHWC", "HWIO", "NHWC"), 2, 3, (5, 4), 6, (3, 3), (1, 1), "SAME",
     None, None, 3, 1),
    ("2d_depthwise_nchw", ("NCHW", "OIHW", "NCHW"), 2, 4, (5, 5), 4, (2, 3), (2, 1), "VALID",
     None, (1, 1), 4, 1),
    ("2d_batch_groups", ("NHWC", "HWIO", "NHWC"), 4, 3, (5, 4), 4, (2, 2), (1, 1), "VALID",
     None, None, 1, 2),
    ("2d_batch_groups_nchw", ("NCHW", "OIHW", "NCHW"), 6, 2, (4, 4), 6, (2, 2), (2, 1),
     [(1, 0), (0, 1)], None, (1, 2), 1, 3),
    ("2d_batch_groups_nb1", ("NHWC", "HWIO", "NHWC"), 4, 3, (5, 4), 8, (2, 3), (2, 1), "SAME",
     None, (1, 2), 1, 4),
    ("2d_mixed_layouts", ("NCHW", "HWIO", "NHWC"), 2, 3, (5, 6), 4, (2, 3), (1, 1), "SAME",
     None, None, 1, 1),
    ("2d_stride_gt_kernel", ("NHWC", "OIHW", "NCHW"), 2, 2, (8, 7), 3, (2, 2), (3, 3), "VALID",
     None, None, 1, 1),
    ("3d_ndhwc", ("NDHWC", "DHWIO", "NDHWC"), 1, 2, (4, 5, 3), 3, (2, 3, 2), (1, 2, 1), "SAME",
     None, None, 1, 1),
    ("3d_ncdhw_groups", ("NCDHW", "OIDHW", "NCDHW"), 2, 4, (3, 4, 4), 2, (2, 2, 2), (1, 1, 2),
     [(0, 1), (1, 0), (1, 1)], None, (1, 1, 1), 2, 1),
]


def _normalize(cfg, lhs, rhs):
    name, dns, N, C, S, O, K, strides, padding, ldil, rdil, fgc, bgc = cfg
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dns)
    nsp = len(S)
    ldil = ldil or (1,) * nsp
    rdil = rdil or (1,) * nsp
    if isinstance(padding, str):
        ins = [(lhs.shape[i] - 1) * d + 1 for i, d in zip(dn.lhs_spec[2:], ldil)]
        ks = [(rhs.shape[i] - 1) * d + 1 for i, d in zip(dn.rhs_spec[2:], rdil)]
        padding = lax.padtype_to_pads(ins, ks, strides, padding)
    return dn, ldil, rdil, padding


def _case(cfg, rng, dtype=np.float64):
    name, dns, N, C, S, O, K, strides, padding, ldil, rdil, fgc, bgc = cfg
    lhs, rhs = _make(rng, dns, N, C, S, O, C // fgc, K, dtype)

    def f(a, b):
        return lax.conv_general_dilated(a, b, strides, padding, lhs_dilation=ldil,
                                        rhs_dilation=rdil, dimension_numbers=dns,
                                        feature_group_count=fgc, batch_group_count=bgc)
    return f, lhs, rhs


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_conv_matches_reference(cfg, rng):
    f, lhs, rhs = _case(cfg, rng)
    dn, ldil, rdil, pads = _normalize(cfg, lhs, rhs)
    want = ref_conv(lhs, rhs, cfg[7], pads, ldil, rdil, dn, cfg[11], cfg[12])
    got = f(lhs, rhs)
    assert got.shape == want.shape
    np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-10)
    # float32 too
    got32 = f(lhs.astype(np.float32), rhs.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(_np(got32), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c[0] in (
    "2d_nhwc_same", "2d_nchw_explicit_s21", "2d_groups2", "2d_batch_groups_nchw")],
    ids=lambda c: c[0])
@pytest.mark.parametrize("chunk", [64, 1024])
def test_conv_chunked_kernel(cfg, chunk, rng, monkeypatch):
    """The chunked patch copy (used for big inputs) gives the same values."""
    f, lhs, rhs = _case(cfg, rng)
    full = _np(f(lhs, rhs))
    monkeypatch.setattr(conv_mod, "_CHUNK_BYTES", chunk)
    np.testing.assert_allclose(_np(f(lhs, rhs)), full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("path", ["flat", "im2col"])
@pytest.mark.parametrize("cfg", [c for c in CONFIGS if all(v == 1 for v in c[7]) and c[11] == 1
                                 and c[12] == 1], ids=lambda c: c[0])
def test_conv_kernel_paths(cfg, path, rng, monkeypatch):
    """Stride-1 convs: the per-tap matmul path and the im2col path agree with the reference
    (the kernel picks one by a traffic estimate; here each is forced)."""
    if path == "flat":
        monkeypatch.setattr(conv_mod, "_flat_cost", lambda K, C, O: -1)
        monkeypatch.setattr(conv_mod, "_FLAT_BLOCK_BYTES", 64)      # several row blocks
    else:
        monkeypatch.setattr(conv_mod, "_FLAT_ENABLED", False)
    f, lhs, rhs = _case(cfg, rng)
    dn, ldil, rdil, pads = _normalize(cfg, lhs, rhs)
    want = ref_conv(lhs, rhs, cfg[7], pads, ldil, rdil, dn, cfg[11], cfg[12])
    np.testing.assert_allclose(_np(f(lhs, rhs)), want, rtol=1e-10, atol=1e-10)
    # the transposed convolutions of the gradient take the forced path too
    check_grads(f, (lhs, rhs), order=1, modes=("rev",))


@pytest.mark.parametrize("phases", [True, False])
def test_conv_lhs_dilation_paths(phases, rng, monkeypatch):
    """Transposed convs: the per-phase decomposition and the materialized dilation agree."""
    monkeypatch.setattr(conv_mod, "_PHASES_ENABLED", phases)
    dn = ("NHWC", "HWIO", "NHWC")
    for (S, K, d, pads) in [((4, 5), (3, 3), (2, 2), [(2, 2), (1, 1)]),
                            ((3, 4), (4, 2), (3, 2), [(0, 3), (-1, 2)]),
                            ((5, 3), (2, 3), (2, 1), [(1, 0), (3, 1)]),
                            ((2, 2), (1, 5), (4, 3), [(0, 0), (4, 4)])]:
        x = rng.standard_normal((2,) + S + (3,))
        k = rng.standard_normal(K + (3, 4))
        got = _np(lax.conv_general_dilated(x, k, (1, 1), pads, lhs_dilation=d,
                                           dimension_numbers=dn))
        want = ref_conv(x, k, (1, 1), pads, d, (1, 1),
                        lax.conv_dimension_numbers(x.shape, k.shape, dn))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # groups under the phase path
    x = rng.standard_normal((2, 4, 3, 4))
    k = rng.standard_normal((3, 2, 2, 6))
    got = _np(lax.conv_general_dilated(x, k, (1, 1), [(1, 2), (0, 1)], lhs_dilation=(2, 3),
                                       dimension_numbers=dn, feature_group_count=2))
    want = ref_conv(x, k, (1, 1), [(1, 2), (0, 1)], (2, 3), (1, 1),
                    lax.conv_dimension_numbers(x.shape, k.shape, dn), 2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # the input gradient of a strided conv uses it
    x = rng.standard_normal((2, 7, 6, 3))
    k = rng.standard_normal((3, 3, 3, 2))
    check_grads(lambda a: lax.conv_general_dilated(a, k, (2, 3), "SAME", dimension_numbers=dn),
                (x,), order=1, modes=("rev",))


def _layouts(x):
    """The same values in several memory layouts."""
    yield np.ascontiguousarray(x)
    yield np.asfortranarray(x)
    perm = tuple(reversed(range(x.ndim)))
    yield np.ascontiguousarray(x.transpose(perm)).transpose(perm)
    flip = tuple(slice(None, None, -1) for _ in range(x.ndim))
    yield np.ascontiguousarray(x[flip])[flip]
    big = np.zeros(tuple(2 * n for n in x.shape), x.dtype)
    view = big[tuple(slice(None, None, 2) for _ in range(x.ndim))]
    view[...] = x
    yield view


@pytest.mark.parametrize("name", ["2d_nhwc_same", "2d_nchw_explicit_s21", "2d_groups2",
                                  "2d_lhs_dil", "2d_batch_groups_nchw", "2d_depthwise_mult2",
                                  "2d_batch_groups_nb1"])
def test_conv_bitwise_independent_of_memory_layout(name, rng):
    """The kernel picks copy orders and paths from shapes and params only: any memory
    layout of the same values gives bitwise the same result (so eager == jit even when
    they hand the kernel differently laid out buffers)."""
    cfg = next(c for c in CONFIGS if c[0] == name)
    f, lhs, rhs = _case(cfg, rng, np.float32)
    want = _np(f(lhs, rhs))
    for a in _layouts(lhs):
        for b in _layouts(rhs):
            np.testing.assert_array_equal(_np(f(a, b)), want)
    # the per-tap (flat) path of a small-output stride-1 conv, and its gradients
    x = rng.standard_normal((3, 9, 8, 16)).astype(np.float32)
    k = rng.standard_normal((3, 3, 16, 2)).astype(np.float32)
    g = lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "SAME",  # noqa: E731
                                              dimension_numbers=("NHWC", "HWIO", "NHWC"))
    want = _np(g(x, k))
    for a in _layouts(x):
        np.testing.assert_array_equal(_np(g(a, k)), want)


def test_conv_int_and_preferred_type(rng):
    x = rng.integers(-3, 4, (1, 2, 5, 5)).astype(np.int32)
    k = rng.integers(-2, 3, (3, 2, 2, 2)).astype(np.int32)
    got = lax.conv(x, k, (1, 1), "VALID")
    assert got.dtype == np.int32
    want = ref_conv(x, k, (1, 1), [(0, 0)] * 2, (1, 1), (1, 1), lax.conv_dimension_numbers(
        x.shape, k.shape, None))
    np.testing.assert_array_equal(_np(got), want.astype(np.int32))
    xf, kf = x.astype(np.float32), k.astype(np.float32)
    got64 = lax.conv_general_dilated(xf, kf, (1, 1), "VALID", preferred_element_type=np.float64)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(_np(got64), want)


def test_conv_dimension_numbers_forms(rng):
    x = rng.standard_normal((2, 5, 6, 3))
    k = rng.standard_normal((2, 3, 3, 4))
    dn = lax.conv_dimension_numbers(x.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    a = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    b = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=dn)
    c = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=tuple(map(tuple, dn)))
    np.testing.assert_array_equal(_np(a), _np(b))
    np.testing.assert_array_equal(_np(a), _np(c))
    # spatial letters are matched by name: "NWHC" input with an "HWIO" kernel
    xt = x.transpose(0, 2, 1, 3)
    d = lax.conv_general_dilated(xt, k, (1, 1), "SAME", dimension_numbers=("NWHC", "HWIO", "NHWC"))
    np.testing.assert_allclose(_np(d), _np(a), rtol=1e-12)
    # default: NCHW / OIHW
    assert lax.conv_dimension_numbers((1, 2, 3), (4, 2, 1), None) == \
        lax.ConvDimensionNumbers((0, 1, 2), (0, 1, 2), (0, 1, 2))


def test_padtype_to_pads():
    assert lax.padtype_to_pads((5, 6), (3, 3), (2, 2), "SAME") == [(1, 1), (0, 1)]
    assert lax.padtype_to_pads((4,), (2,), (1,), "SAME") == [(0, 1)]
    assert lax.padtype_to_pads((4,), (2,), (1,), "SAME_LOWER") == [(1, 0)]
    assert lax.padtype_to_pads((4, 4), (2, 2), (1, 1), "VALID") == [(0, 0), (0, 0)]
    with pytest.raises(ValueError, match="unknown padding"):
        lax.padtype_to_pads((4,), (2,), (1,), "FULL")


def test_conv_helpers(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    k = rng.standard_normal((4, 3, 3, 2))
    dn = lax.conv_dimension_numbers(x.shape, k.shape, None)
    want = ref_conv(x, k, (2, 1), [(0, 0), (0, 0)], (1, 1), (1, 1), dn)
    np.testing.assert_allclose(_np(lax.conv(x, k, (2, 1), "VALID")), want, rtol=1e-10)
    want = ref_conv(x, k, (1, 1), [(1, 0), (2, 1)], (2, 1), (1, 2), dn)
    got = lax.conv_with_general_padding(x, k, (1, 1), [(1, 0), (2, 1)], (2, 1), (1, 2))
    np.testing.assert_allclose(_np(got), want, rtol=1e-10)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_transpose(padding, stride, rng):
    x = rng.standard_normal((2, 4, 5, 3))          # NHWC
    k = rng.standard_normal((3, 2, 3, 6))          # HWIO
    y = lax.conv_transpose(x, k, (stride, stride), padding)
    kh, kw = 3, 2
    if padding == "SAME":
        assert y.shape == (2, 4 * stride, 5 * stride, 6)
    else:
        assert y.shape == (2, 4 * stride + max(kh - stride, 0), 5 * stride + max(kw - stride, 0),
                           6)
    # the definition: a conv of the stride-dilated input
    dn = lax.conv_dimension_numbers(x.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
    pads = [conv_mod._conv_transpose_padding(kk, stride, padding) for kk in (kh, kw)]
    want = ref_conv(x, k, (1, 1), pads, (stride, stride), (1, 1), dn)
    np.testing.assert_allclose(_np(y), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_transpose_kernel_is_conv_gradient(stride, rng):
    """transpose_kernel=True gives the gradient of the forward conv wrt its input."""
    x = rng.standard_normal((2, 8, 6, 3))          # sizes divisible by the stride
    k = rng.standard_normal((3, 3, 3, 4))
    dn = ("NHWC", "HWIO", "NHWC")
    for padding in ("SAME", "VALID"):
        if padding == "VALID" and stride == 2:
            continue   # VALID with stride 2 drops a row; its shape then differs
        y, vjp = fg.vjp(lambda a: lax.conv_general_dilated(a, k, (stride, stride), padding,
                                                            dimension_numbers=dn), x)
        ct = rng.standard_normal(y.shape)
        (gx,) = vjp(ct)
        got = lax.conv_transpose(ct, k, (stride, stride), padding, dimension_numbers=dn,
                                 transpose_kernel=True)
        np.testing.assert_allclose(_np(got), _np(gx), rtol=1e-10, atol=1e-10)


def test_conv_transpose_1d_default_layout(rng):
    x = rng.standard_normal((2, 5, 3))            # NHC
    k = rng.standard_normal((4, 3, 2))            # HIO
    y = lax.conv_transpose(x, k, (2,), "SAME")
    assert y.shape == (2, 10, 2)


# ----------------------------------------------------------------------------- jit / vmap

JIT_CASES = ["2d_nhwc_same", "2d_nchw_explicit_s21", "2d_lhs_dil", "2d_groups2",
             "2d_depthwise_mult2", "2d_batch_groups", "3d_ndhwc", "1d_nwc_same_s2"]


@pytest.mark.parametrize("name", JIT_CASES)
def test_conv_jit_matches_eager_bitwise(name, rng):
    cfg = next(c for c in CONFIGS if c[0] == name)
    f, lhs, rhs = _case(cfg, rng, np.float32)
    eager = _np(f(lhs, rhs))
    jitted = _np(fg.jit(f)(lhs, rhs))
    assert eager.dtype == jitted.dtype == np.float32
    np.testing.assert_array_equal(jitted, eager)
    # grads too
    g = lambda a, b: fg.numpy.sum(f(a, b) ** 2)  # noqa: E731
    ge = fg.grad(g, argnums=(0, 1))(lhs, rhs)
    gj = fg.jit(fg.grad(g, argnums=(0, 1)))(lhs, rhs)
    for a, b in zip(ge, gj):
        np.testing.assert_array_equal(_np(a), _np(b))


VMAP_CASES = ["2d_nhwc_same", "2d_nchw_explicit_s21", "2d_groups2", "2d_depthwise_nchw",
              "2d_batch_groups", "2d_batch_groups_nchw", "2d_batch_groups_nb1", "1d_ncw_valid_rd2",
              "2d_lhs_dil", "2d_mixed_layouts"]


@pytest.mark.parametrize("name", VMAP_CASES)
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (2, 1), (None, -1), (-1, None)])
def test_conv_vmap_matches_loop(name, axes, rng):
    cfg = next(c for c in CONFIGS if c[0] == name)
    f, lhs, rhs = _case(cfg, rng)
    B = 3
    lb = np.stack([lhs + i for i in range(B)], axes[0]) if axes[0] is not None else lhs
    rb = np.stack([rhs * (i + 1) for i in range(B)], axes[1]) if axes[1] is not None else rhs
    got = _np(fg.vmap(f, in_axes=axes)(lb, rb))
    want = np.stack([_np(f(np.take(lb, i, axes[0]) if axes[0] is not None else lb,
                           np.take(rb, i, axes[1]) if axes[1] is not None else rb))
                     for i in range(B)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv_vmap_of_grad_per_example(rng):
    """Per-example gradients (vmap of grad) match a loop."""
    x = rng.standard_normal((4, 6, 6, 2))
    k = rng.standard_normal((3, 3, 2, 3))

    def loss(k, xi):
        y = lax.conv_general_dilated(xi[None], k, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fg.numpy.sum(fg.numpy.tanh(y))

    got = _np(fg.vmap(fg.grad(loss), in_axes=(None, 0))(k, x))
    want = np.stack([_np(fg.grad(loss)(k, x[i])) for i in range(4)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv_nested_vmap(rng):
    x = rng.standard_normal((2, 3, 1, 2, 5))     # vmap, vmap, N, C, W
    k = rng.standard_normal((3, 2, 4, 2, 2))     # vmap(3 at axis 0), vmap(2 at axis 1)
    f = lambda a, b: lax.conv(a, b, (1,), "SAME")  # noqa: E731
    got = _np(fg.vmap(fg.vmap(f, in_axes=(0, 0)), in_axes=(1, 0))(x, k))
    want = np.stack([np.stack([_np(f(x[j, i], k[i, j])) for j in range(2)]) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- gradients

GRAD_CASES = ["1d_nwc_same_s2", "2d_nchw_explicit_s21", "2d_nchw_negpad", "2d_lhs_rhs_dil_stride",
              "2d_groups2", "2d_depthwise_nchw", "2d_batch_groups", "2d_batch_groups_nb1",
              "2d_mixed_layouts"]


@pytest.mark.parametrize("name", GRAD_CASES)
def test_conv_grads(name, rng):
    cfg = next(c for c in CONFIGS if c[0] == name)
    f, lhs, rhs = _case(cfg, rng)
    check_grads(f, (lhs, rhs), order=2, modes=("fwd", "rev"))


def test_conv_hessian_composes(rng):
    x = rng.standard_normal((1, 4, 4, 2))
    k = rng.standard_normal((2, 2, 2, 2))

    def loss(k):
        y = lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fg.numpy.sum(fg.numpy.tanh(y))

    h = _np(fg.hessian(loss)(k))
    assert h.shape == k.shape + k.shape
    np.testing.assert_allclose(h.reshape(16, 16), h.reshape(16, 16).T, atol=1e-10)
    hj = _np(fg.jit(fg.hessian(loss))(k))
    np.testing.assert_allclose(hj, h, rtol=1e-10, atol=1e-12)


def test_conv_jaxpr():
    x = np.ones((1, 5, 5, 2), np.float32)
    k = np.ones((3, 3, 2, 4), np.float32)
    jp = fg.make_jaxpr(lambda a, b: lax.conv_general_dilated(
        a, b, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))(x, k)
    text = str(jp)
    assert "conv_general_dilated" in text and "f32[1,5,5,4]" in text


# ----------------------------------------------------------------------------- errors

def test_conv_errors_name_shapes():
    x = np.ones((1, 5, 5, 3), np.float32)
    k = np.ones((3, 3, 4, 8), np.float32)
    with pytest.raises(TypeError, match=r"\(1, 5, 5, 3\).*\(3, 3, 4, 8\)"):
        lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    with pytest.raises(TypeError, match="same dtype"):
        lax.conv_general_dilated(x, np.ones((3, 3, 3, 8)), (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    with pytest.raises(TypeError, match="window_strides"):
        lax.conv_general_dilated(x, np.ones((3, 3, 3, 8), np.float32), (1, 1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    with pytest.raises(TypeError, match="spec"):
        lax.conv_general_dilated(x, np.ones((3, 3, 3, 8), np.float32), (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHDC"))
    with pytest.raises(TypeError, match="same rank"):
        lax.conv(np.ones((1, 3, 5), np.float32), np.ones((2, 3, 3, 3), np.float32), (1,), "SAME")
    with pytest.raises(TypeError, match=r"\(1, 3, 2, 2\).*crops more"):
        lax.conv_with_general_padding(np.ones((1, 3, 2, 2), np.float32),
                                      np.ones((2, 3, 1, 1), np.float32), (1, 1),
                                      [(-2, -1), (0, 0)], None, None)
    # a window larger than the input gives an empty output (as JAX)
    assert lax.conv(np.ones((1, 3, 2, 2), np.float32), np.ones((2, 3, 3, 3), np.float32),
                    (1, 1), "VALID").shape == (1, 2, 0, 0)
    with pytest.raises(TypeError, match="feature_group_count"):
        lax.conv_general_dilated(np.ones((1, 4, 5, 5), np.float32),
                                 np.ones((3, 2, 3, 3), np.float32), (1, 1), "SAME",
                                 feature_group_count=2)


# ----------------------------------------------------------------------------- reduce_window

RW_CONFIGS = [
    # shape, window, strides, padding, base_dil, win_dil
    ((2, 6, 6, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None, None),
    ((2, 5, 7, 3), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", None, None),
    ((7,), (3,), (1,), [(1, 2)], None, None),
    ((5, 6), (2, 3), (2, 1), [(0, 1), (2, 0)], None, (2, 1)),
    ((4, 5), (2, 2), (1, 2), [(1, 0), (0, 1)], (2, 1), None),
    ((6, 5), (2, 2), (1, 1), [(-1, 0), (0, -1)], None, None),
    ((2, 9, 9, 2), (1, 9, 9, 1), (1, 1, 1, 1), [(0, 0), (1, 0), (0, 1), (0, 0)], None, None),
]


def _rw_fn(kind, window, strides, padding, bd, wd, init=None):
    comp = {"sum": lax.add, "max": lax.max, "min": lax.min}[kind]
    ident = {"sum": 0.0, "max": -np.inf, "min": np.inf}[kind] if init is None else init

    def f(x):
        return lax.reduce_window(x, ident, comp, window, strides, padding, base_dilation=bd,
                                 window_dilation=wd)
    return f


def _rw_pads(shape, window, strides, padding, bd, wd):
    if not isinstance(padding, str):
        return padding
    bd = bd or (1,) * len(shape)
    wd = wd or (1,) * len(shape)
    return lax.padtype_to_pads([(n - 1) * d + 1 for n, d in zip(shape, bd)],
                               [(w - 1) * d + 1 for w, d in zip(window, wd)], strides, padding)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("ci", range(len(RW_CONFIGS)))
def test_reduce_window_matches_reference(kind, ci, rng):
    shape, window, strides, padding, bd, wd = RW_CONFIGS[ci]
    x = rng.standard_normal(shape)
    f = _rw_fn(kind, window, strides, padding, bd, wd)
    pads = _rw_pads(shape, window, strides, padding, bd, wd)
    want = ref_reduce_window(x, kind, window, strides, pads, bd or (1,) * len(shape),
                             wd or (1,) * len(shape))
    got = _np(f(x))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(_np(fg.jit(f)(x)), got)
    got32 = f(x.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(_np(got32), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,init", [("sum", 1.5), ("max", 0.0), ("min", 0.25)])
def test_reduce_window_non_identity_init(kind, init, rng):
    x = rng.standard_normal((5, 6))
    window, strides, padding = (2, 3), (1, 2), [(1, 1), (0, 2)]
    f = _rw_fn(kind, window, strides, padding, None, None, init)
    want = ref_reduce_window(x, kind, window, strides, padding, (1, 1), (1, 1), init=init)
    np.testing.assert_allclose(_np(f(x)), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(fg.jit(f)(x)), want, rtol=1e-12, atol=1e-12)
    check_grads(f, (x,), order=1, modes=("fwd", "rev"))


def test_reduce_window_int_and_helpers(rng):
    x = rng.integers(-9, 9, (4, 6)).astype(np.int32)
    got = lax.reduce_window(x, np.iinfo(np.int32).min, lax.max, (2, 2), (2, 2), "SAME")
    want = ref_reduce_window(x, "max", (2, 2), (2, 2), [(0, 0), (0, 0)], (1, 1), (1, 1))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(_np(got), want.astype(np.int32))
    s = lax.reduce_window(x, 0, lax.add, (2, 3), (1, 1), "VALID")
    assert s.dtype == np.int32
    np.testing.assert_array_equal(_np(s), ref_reduce_window(x, "sum", (2, 3), (1, 1),
                                                            [(0, 0)] * 2, (1, 1), (1, 1)))
    xf = x.astype(np.float64)
    np.testing.assert_array_equal(_np(lax.reduce_window_sum(xf, (2, 2), (1, 2))),
                                  _np(lax.reduce_window(xf, 0.0, lax.add, (2, 2), (1, 2),
                                                        "VALID")))
    np.testing.assert_array_equal(_np(lax.reduce_window_max(xf, (2, 2), (2, 2), "SAME")),
                                  _np(lax.reduce_window(xf, -np.inf, lax.max, (2, 2), (2, 2),
                                                        "SAME")))
    np.testing.assert_array_equal(_np(lax.reduce_window_min(xf, (3, 1))),
                                  _np(lax.reduce_window(xf, np.inf, lax.min, (3, 1), (1, 1),
                                                        "VALID")))
    # the numpy-level functions are accepted as computations too
    np.testing.assert_array_equal(
        _np(lax.reduce_window(xf, -np.inf, fg.numpy.maximum, (2, 2), (1, 1), "VALID")),
        _np(lax.reduce_window_max(xf, (2, 2))))


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("ci", range(len(RW_CONFIGS)))
def test_reduce_window_grads(kind, ci, rng):
    shape, window, strides, padding, bd, wd = RW_CONFIGS[ci]
    if len(shape) == 4:
        shape = (1,) + shape[1:3] + (2,)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)
    f = _rw_fn(kind, window, strides, padding, bd, wd)
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))


def test_maxpool_tie_goes_to_first():
    x = np.ones((1, 4, 4, 1))
    g = _np(fg.grad(lambda x: fg.numpy.sum(lax.reduce_window(
        x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")))(x))
    want = np.zeros((4, 4))
    want[::2, ::2] = 1
    np.testing.assert_array_equal(g[0, :, :, 0], want)
    # overlapping windows: every window's first maximum receives the cotangent
    y = np.array([3.0, 1.0, 3.0, 2.0])
    g = _np(fg.grad(lambda y: fg.numpy.sum(lax.reduce_window(y, -np.inf, lax.max, (2,), (1,),
                                                             "VALID")))(y))
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0, 0.0])
    gmin = _np(fg.grad(lambda y: fg.numpy.sum(lax.reduce_window(y, np.inf, lax.min, (3,), (1,),
                                                                "VALID")))(y))
    np.testing.assert_array_equal(gmin, [0.0, 2.0, 0.0, 0.0])


def test_maxpool_derivatives_exact_with_non_finite_values():
    """Only the picked position sees the tangent/cotangent: an inf elsewhere stays out."""
    x = np.array([[1.0, 5.0, 2.0, 3.0, 0.0, -1.0]])
    f = lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 2), (1, 2), "VALID")  # noqa: E731
    t = np.array([[np.inf, 2.0, -np.inf, 7.0, np.nan, 1.0]])
    _, tan = fg.jvp(f, (x,), (t,))
    np.testing.assert_array_equal(_np(tan), [[2.0, 7.0, np.nan]])
    _, vjp = fg.vjp(f, x)
    (g,) = vjp(np.array([[np.inf, -2.0, 3.0]]))
    np.testing.assert_array_equal(_np(g), [[0.0, np.inf, 0.0, -2.0, 3.0, 0.0]])
    # overlapping windows (scatter-add path)
    f2 = lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 3), (1, 1), "VALID")  # noqa: E731
    _, vjp = fg.vjp(f2, x)
    (g,) = vjp(np.array([[1.0, np.inf, 2.0, 4.0]]))
    np.testing.assert_array_equal(_np(g), [[0.0, np.inf, 0.0, 6.0, 0.0, 0.0]])


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1, 3])
def test_reduce_window_vmap(kind, axis, rng):
    shape, window, strides, padding, bd, wd = RW_CONFIGS[1]
    f = _rw_fn(kind, window, strides, padding, bd, wd)
    xs = rng.standard_normal((3,) + shape)
    xb = np.moveaxis(xs, 0, axis)
    got = _np(fg.vmap(f, in_axes=axis)(xb))
    want = np.stack([_np(f(xs[i])) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # vmap of grad, and grad of vmap
    gf = fg.grad(lambda x: fg.numpy.sum(f(x) ** 2))
    got = _np(fg.vmap(gf, in_axes=axis)(xb))
    want = np.stack([_np(gf(xs[i])) for i in range(3)])
    np.testing.assert_allclose(np.moveaxis(got, 0, 0), want, rtol=1e-12)
    gv = _np(fg.grad(lambda x: fg.numpy.sum(fg.vmap(f, in_axes=axis)(x) ** 2))(xb))
    np.testing.assert_allclose(np.moveaxis(gv, axis, 0), want, rtol=1e-12)


def test_maxpool_jit_grad_bitwise(rng):
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)

    def loss(x):
        y = lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return fg.numpy.sum(y * y)

    np.testing.assert_array_equal(_np(fg.jit(fg.grad(loss))(x)), _np(fg.grad(loss)(x)))


def test_reduce_window_errors():
    x = np.ones((4, 4), np.float32)
    with pytest.raises(TypeError, match="computation"):
        lax.reduce_window(x, 0.0, lambda a, b: a * b, (2, 2), (1, 1), "VALID")
    with pytest.raises(TypeError, match=r"window_dimensions.*\(4, 4\)"):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1,), "VALID")
    with pytest.raises(TypeError, match=r"crops more.*\(4, 4\)"):
        lax.reduce_window(x, 0.0, lax.add, (1, 1), (1, 1), [(-3, -2), (0, 0)])
    assert lax.reduce_window(x, 0.0, lax.add, (5, 1), (1, 1), "VALID").shape == (0, 4)
    assert lax.reduce_window(x, -np.inf, lax.max, (5, 1), (1, 1), "VALID").shape == (0, 4)


# ----------------------------------------------------------------------------- a small CNN

def test_small_cnn_training_step(rng):
    """Conv + relu + maxpool + dense, value_and_grad under jit: loss decreases."""
    fnp = fg.numpy
    x = rng.standard_normal((8, 10, 10, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 8)
    params = [rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3,
              rng.standard_normal((5 * 5 * 4, 3)).astype(np.float32) * 0.1]
    dn = ("NHWC", "HWIO", "NHWC")

    def loss(params, x):
        k, w = params
        h = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=dn)
        h = fnp.where(h > 0, h, 0.0)
        h = lax.reduce_window(h, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        logits = h.reshape(8, -1) @ w
        logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
        return -fnp.mean(logp[np.arange(8), labels])

    step = fg.jit(fg.value_and_grad(loss))
    l0, _ = step(params, x)
    for _ in range(20):
        l, g = step(params, x)
        params = [p - 0.1 * _np(gi) for p, gi in zip(params, g)]
    assert float(l) < float(l0)
