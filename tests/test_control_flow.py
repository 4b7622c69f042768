"""Structured control flow: cond, switch, while_loop, fori_loop, scan, map.

Values against Python references, gradients with ``check_grads`` (second order, both
modes where defined), ``vmap`` against a Python loop, ``jit`` against eager, nested
control flow, pytree carries, and the error messages.
"""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.test_util import check_close, check_grads


def _np(x):
    return np.asarray(x)


def close(a, b, tol=1e-10):
    for x, y in zip(fg.tree.leaves(a), fg.tree.leaves(b)):
        np.testing.assert_allclose(_np(x), _np(y), rtol=tol, atol=tol)


def same(a, b):
    """Bit-for-bit equality of two pytrees (eager vs jit)."""
    la, lb = fg.tree.leaves(a), fg.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = _np(x), _np(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def r():
    return np.random.default_rng(1)


# ============================================================================ cond / switch

def test_cond_values_and_pytrees(r):
    x = r.normal(size=3)
    t = lambda a, b: {"s": fnp.sin(a), "p": (a * b, b)}
    f = lambda a, b: {"s": a ** 2, "p": (a + b, -b)}
    for pred in (True, False):
        out = lax.cond(pred, t, f, x, 2.0)
        ref = t(x, 2.0) if pred else f(x, 2.0)
        close(out, ref)
        assert set(out) == {"s", "p"}
    # no operands, Python predicates and NumPy booleans
    assert float(lax.cond(np.bool_(True), lambda: 1.0, lambda: 2.0)) == 1.0
    assert int(lax.cond(False, lambda: 1, lambda: 2)) == 2


def test_cond_weak_scalar_branch():
    out = lax.cond(False, lambda x: x * 2, lambda x: 1.0, np.float64(3.0))
    assert out.dtype == np.float64 and float(out) == 1.0


def test_switch_values_and_clamping(r):
    x = r.normal(size=4)
    brs = [lambda a: fnp.sin(a), lambda a: a * a, lambda a: fnp.exp(a)]
    refs = [np.sin(x), x * x, np.exp(x)]
    for i, k in [(-3, 0), (0, 0), (1, 1), (2, 2), (3, 2), (100, 2)]:
        close(lax.switch(i, brs, x), refs[k])
        close(fg.jit(lambda i, x: lax.switch(i, brs, x))(i, x), refs[k])
    assert float(lax.switch(5, [lambda: 7.0])) == 7.0


def test_cond_grads(r):
    def f(x, y):
        return lax.cond(fnp.sum(x) > 0, lambda a, b: fnp.sin(a) * b,
                        lambda a, b: a ** 3 + fnp.cos(b), x, y)
    y = r.normal(size=3)
    for s in (1.0, -1.0):
        x = s * (np.abs(r.normal(size=3)) + 0.1)
        check_grads(f, (x, y), order=2)
        check_grads(fg.jit(f), (x, y), order=2)


def test_switch_grads(r):
    x = r.normal(size=3)
    brs = [lambda a, c: fnp.sin(a) * c, lambda a, c: a * a, lambda a, c: fnp.exp(a) + c]
    for i in (0, 1, 2):
        check_grads(lambda a, c: lax.switch(i, brs, a, c), (x, 0.7), order=2)


def test_cond_grad_closed_over_and_residual_free_branch(r):
    w = r.normal(size=3)

    def loss(w, x):
        # the false branch does not use w at all; the true one closes over it
        return fnp.sum(lax.cond(x > 0, lambda: fnp.tanh(w) * x, lambda: fnp.ones_like(w) * x))

    check_grads(loss, (w, 0.5), order=2)
    check_grads(loss, (w, -0.5), order=2)
    g = fg.grad(loss)(w, -0.5)
    np.testing.assert_array_equal(_np(g), np.zeros(3))


def test_cond_vmap_batched_predicate(r):
    def f(x):
        return lax.cond(x[0] > 0, lambda a: (fnp.sin(a), a[0]), lambda a: (a * 2, -a[1]), x)
    xs = r.normal(size=(6, 3))
    xs[0, 0], xs[1, 0] = 1.0, -1.0
    out = fg.vmap(f)(xs)
    ref = [f(x) for x in xs]
    close(out[0], np.stack([_np(o[0]) for o in ref]))
    close(out[1], np.stack([_np(o[1]) for o in ref]))
    # gradients through the select
    g = fg.vmap(fg.grad(lambda x: fnp.sum(f(x)[0]) + f(x)[1]))(xs)
    gref = np.stack([_np(fg.grad(lambda x: fnp.sum(f(x)[0]) + f(x)[1])(x)) for x in xs])
    close(g, gref)
    check_grads(lambda xs: fg.vmap(f)(xs), (xs,), order=2)


def test_cond_vmap_unbatched_predicate(r):
    xs = r.normal(size=(5, 3))
    f = lambda p, x: lax.cond(p, lambda a: a * 3.0, lambda a: fnp.zeros_like(a), x)
    for p in (True, False):
        out = fg.vmap(f, in_axes=(None, 0))(p, xs)
        close(out, np.stack([_np(f(p, x)) for x in xs]))


def test_switch_vmap_batched_index(r):
    brs = [lambda a: fnp.sin(a), lambda a: a * a, lambda a: fnp.exp(a)]
    idx = np.array([0, 1, 2, 5, -2], np.int32)
    xs = r.normal(size=(5, 3))
    out = fg.vmap(lambda i, x: lax.switch(i, brs, x))(idx, xs)
    close(out, np.stack([_np(lax.switch(i, brs, x)) for i, x in zip(idx, xs)]))


def test_cond_jit_matches_eager(r):
    x = r.normal(size=(4,)).astype(np.float32)
    f = lambda x: lax.cond(fnp.max(x) > 0, lambda a: fnp.tanh(a) * 2, lambda a: a - 1, x)
    same(f(x), fg.jit(f)(x))
    same(f(-np.abs(x)), fg.jit(f)(-np.abs(x)))


def test_cond_forward_mode(r):
    x = r.normal(size=3)
    f = lambda x: lax.cond(True, fnp.sin, fnp.cos, x)
    y, t = fg.jvp(f, (x,), (np.ones(3),))
    close(t, np.cos(x))
    check_grads(f, (x,), order=2, modes=("fwd",))


# ============================================================================ scan

def test_scan_values_against_python(r):
    xs = r.normal(size=(7, 3))
    W = r.normal(size=(3, 3)) * 0.5

    def body(c, x):
        h, n = c
        h = fnp.tanh(h @ W + x)
        return (h, n + 1), {"h": h, "s": fnp.sum(h)}

    (h, n), ys = lax.scan(body, (np.zeros(3), 0), xs)
    hr, hs = np.zeros(3), []
    for x in xs:
        hr = np.tanh(hr @ W + x)
        hs.append(hr)
    close(h, hr)
    assert int(n) == 7
    close(ys["h"], np.stack(hs))
    close(ys["s"], np.stack(hs).sum(1))


def test_scan_reverse(r):
    xs = r.normal(size=(5, 2))
    c, ys = lax.scan(lambda c, x: (c * 0.5 + x, c), np.zeros(2), xs, reverse=True)
    cr, yr = np.zeros(2), [None] * 5
    for i in reversed(range(5)):
        yr[i] = cr
        cr = cr * 0.5 + xs[i]
    close(c, cr)
    close(ys, np.stack(yr))


def test_scan_length_only_and_none_outputs():
    c, ys = lax.scan(lambda c, _: (c * 2, None), 1.0, None, length=5)
    assert float(c) == 32.0 and ys is None
    c, ys = lax.scan(lambda c, _: (c + 1, c), 0, None, length=3)
    np.testing.assert_array_equal(_np(ys), [0, 1, 2])


def test_scan_zero_length(r):
    xs = np.zeros((0, 3))
    c, ys = lax.scan(lambda c, x: (c + x, c * x), np.ones(3), xs)
    np.testing.assert_array_equal(_np(c), np.ones(3))
    assert _np(ys).shape == (0, 3)
    f = lambda c0: fnp.sum(lax.scan(lambda c, x: (fnp.sin(c) + x, c), c0, xs)[0])
    close(fg.grad(f)(np.arange(3.0)), np.ones(3))
    check_grads(f, (np.arange(3.0),), order=2)
    same(f(np.arange(3.0)), fg.jit(f)(np.arange(3.0)))
    out = fg.vmap(lambda c0: lax.scan(lambda c, x: (c + x, c), c0, xs)[1])(np.ones((2, 3)))
    assert _np(out).shape == (2, 0, 3)


def test_scan_grads(r):
    xs = r.normal(size=(5, 3))
    W = r.normal(size=(3, 3)) * 0.5

    def f(h0, W, xs):
        def body(h, x):
            h = fnp.tanh(h @ W + x)
            return h, fnp.sum(h ** 2)
        h, ys = lax.scan(body, h0, xs)
        return fnp.sum(h) + fnp.sum(ys)

    h0 = r.normal(size=3)
    check_grads(f, (h0, W, xs), order=2)
    check_grads(fg.jit(f), (h0, W, xs), order=2)


def test_scan_grads_reverse_and_pytree(r):
    xs = {"a": r.normal(size=(4, 2)), "b": r.normal(size=(4,))}
    p = r.normal(size=2)

    def f(p, xs):
        def body(c, x):
            u, v = c
            u2 = u * fnp.cos(x["a"]) + v * p
            v2 = fnp.sin(u) * x["b"]
            return (u2, v2), u2 * v2
        (u, v), ys = lax.scan(body, (p, p[::-1]), xs, reverse=True)
        return fnp.sum(u * v) + fnp.sum(ys ** 2)

    check_grads(f, (p, xs), order=2)


def test_scan_grad_only_through_consts(r):
    # the carry does not depend on the differentiated value; only ys do
    w = r.normal(size=3)
    f = lambda w: fnp.sum(lax.scan(lambda c, x: (c + 1.0, fnp.sin(w * x)), 0.0,
                                   np.arange(4.0))[1])
    check_grads(f, (w,), order=2)


def test_scan_hessian(r):
    xs = r.normal(size=(4,))

    def f(w):
        return lax.scan(lambda c, x: (fnp.sin(c * w[0] + x * w[1]), None), 0.3, xs)[0]

    w = r.normal(size=2)
    H = fg.hessian(f)(w)
    Hf = fg.jacfwd(fg.jacfwd(f))(w)
    close(H, Hf, 1e-8)


def test_scan_vmap(r):
    W = r.normal(size=(3, 3)) * 0.5

    def f(h0, xs, W):
        return lax.scan(lambda h, x: (fnp.tanh(h @ W + x), fnp.sum(h)), h0, xs)

    h0 = r.normal(size=(4, 3))
    xs = r.normal(size=(4, 6, 3))
    Ws = r.normal(size=(4, 3, 3))
    for axes, args in [((0, 0, None), (h0, xs, W)), ((None, 0, None), (h0[0], xs, W)),
                       ((0, None, None), (h0, xs[0], W)), ((None, None, 0), (h0[0], xs[0], Ws)),
                       ((0, 1, None), (h0, np.swapaxes(xs, 0, 1), W))]:
        out = fg.vmap(f, in_axes=axes)(*args)
        refs = []
        for i in range(4):
            a = [x if ax is None else np.take(x, i, axis=ax) for x, ax in zip(args, axes)]
            refs.append(f(*a))
        close(out[0], np.stack([_np(o[0]) for o in refs]))
        close(out[1], np.stack([_np(o[1]) for o in refs]))


def test_scan_grad_of_vmap_and_vmap_of_grad(r):
    W = r.normal(size=(3, 3)) * 0.5
    xs = r.normal(size=(4, 5, 3))

    def loss(W, xs):
        h, _ = lax.scan(lambda h, x: (fnp.tanh(h @ W + x), None), fnp.zeros_like(xs[0]), xs)
        return fnp.sum(h ** 2)

    g = fg.vmap(fg.grad(loss), in_axes=(None, 0))(W, xs)
    gref = np.stack([_np(fg.grad(loss)(W, x)) for x in xs])
    close(g, gref)
    check_grads(lambda W: fnp.sum(fg.vmap(loss, in_axes=(None, 0))(W, xs)), (W,), order=2)


def test_scan_jit_matches_eager(r):
    xs = r.normal(size=(6, 3)).astype(np.float32)
    W = (r.normal(size=(3, 3)) * 0.5).astype(np.float32)

    def f(W, xs):
        h, ys = lax.scan(lambda h, x: (fnp.tanh(h @ W + x), h * 2), fnp.zeros(3), xs)
        return h, ys

    same(f(W, xs), fg.jit(f)(W, xs))
    g = lambda W, xs: fg.grad(lambda W: fnp.sum(f(W, xs)[1]))(W)
    same(g(W, xs), fg.jit(g)(W, xs))


def test_scan_checkpointed_body(r):
    W = r.normal(size=(3, 3)) * 0.5
    xs = r.normal(size=(6, 3))

    def body(h, x):
        for _ in range(3):
            h = fnp.tanh(h @ W + x)
        return h, None

    def loss(W, body):
        def b(h, x):
            for _ in range(3):
                h = fnp.tanh(h @ W + x)
            return h, None
        h, _ = lax.scan(body(b), fnp.ones_like(xs[0]), xs)
        return fnp.sum(h ** 2)

    g_plain = fg.grad(loss)(W, lambda b: b)
    g_remat = fg.grad(loss)(W, fg.checkpoint)
    close(g_plain, g_remat, 1e-12)
    check_grads(lambda W: loss(W, fg.checkpoint), (W,), order=2)
    close(fg.jit(fg.grad(loss), static_argnums=1)(W, fg.checkpoint), g_plain, 1e-12)
    # the residuals stacked by the forward scan: only the body inputs with checkpoint
    jp = fg.make_jaxpr(fg.grad(lambda W: loss(W, fg.checkpoint)))(W)
    jn = fg.make_jaxpr(fg.grad(lambda W: loss(W, lambda b: b)))(W)

    def stacked_elems(j):
        e = next(e for e in j.jaxpr.eqns if e.primitive.name == "scan")
        return sum(int(np.prod(v.aval.shape)) for v in e.outvars[1:])

    assert stacked_elems(jp) < stacked_elems(jn)


def test_scan_closed_over_tracers(r):
    # values closed over from an outer jit / grad become explicit operands
    xs = r.normal(size=(4, 2))

    def f(a):
        return fnp.sum(lax.scan(lambda c, x: (c * a + x, c), fnp.zeros_like(xs[0]), xs)[0])

    check_grads(f, (0.7,), order=2)
    close(fg.jit(f)(0.7), f(0.7), 1e-6)
    jaxpr = fg.make_jaxpr(f)(0.7)
    eqn = next(e for e in jaxpr.jaxpr.eqns if e.primitive.name == "scan")
    assert not eqn.params["jaxpr"].consts


def test_map(r):
    xs = {"a": r.normal(size=(5, 2)), "b": r.normal(size=(5,))}
    out = lax.map(lambda d: fnp.sum(d["a"]) * d["b"], xs)
    close(out, xs["a"].sum(1) * xs["b"])
    check_grads(lambda a: fnp.sum(lax.map(lambda x: fnp.sin(x) ** 2, a)), (xs["a"],), order=2)


# ============================================================================ while / fori

def test_while_values():
    assert int(lax.while_loop(lambda x: x < 10, lambda x: x * 2, 1)) == 16
    # pytree carry
    out = lax.while_loop(lambda c: c["i"] < 5, lambda c: {"i": c["i"] + 1, "s": c["s"] + c["i"]},
                         {"i": 0, "s": 0.0})
    assert int(out["i"]) == 5 and float(out["s"]) == 10.0
    # zero trips
    out = lax.while_loop(lambda c: c[0] > 100, lambda c: (c[0] + 1, c[1] * 2), (0, fnp.ones(2)))
    assert int(out[0]) == 0 and np.all(_np(out[1]) == 1)
    # max_steps bounds the trip count
    assert int(lax.while_loop(lambda x: x < 1000, lambda x: x + 1, 0, max_steps=7)) == 7
    assert int(lax.while_loop(lambda x: x < 3, lambda x: x + 1, 0, max_steps=7)) == 3


def test_while_jit_matches_eager(r):
    x = r.normal(size=3).astype(np.float32)
    f = lambda x: lax.while_loop(lambda c: fnp.sum(c ** 2) < 100.0, lambda c: c * 1.5 + 0.1, x)
    same(f(x), fg.jit(f)(x))


def test_while_forward_mode(r):
    x = r.normal(size=3)

    def f(x, a):
        return lax.while_loop(lambda c: c[1] < 5,
                              lambda c: (fnp.sin(c[0]) * a + 0.1, c[1] + 1), (x, 0))[0]

    check_grads(f, (x, 1.3), order=2, modes=("fwd",))
    check_grads(fg.jit(f), (x, 1.3), order=2, modes=("fwd",))
    # linearize (forward) works too
    y, f_jvp = fg.linearize(lambda x: f(x, 1.3), x)
    close(f_jvp(np.ones(3)), fg.jvp(lambda x: f(x, 1.3), (x,), (np.ones(3),))[1])


def test_while_reverse_mode_error():
    f = lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)
    with pytest.raises(ValueError, match="max_steps"):
        fg.grad(f)(1.0)
    with pytest.raises(ValueError, match="fori_loop"):
        fg.grad(fg.jit(f))(1.0)
    # traced fori_loop bounds give a while_loop: same message
    g = fg.jit(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 1.1, x))
    with pytest.raises(ValueError, match="max_steps"):
        fg.grad(g)(1.0, 3)


def test_while_max_steps_reverse_mode(r):
    def f(x, a):
        def body(c):
            v, i = c
            return fnp.sin(v) * a + 0.5, i + 1
        return lax.while_loop(lambda c: (fnp.sum(c[0]) < 3.0) & (c[1] < 6), body, (x, 0),
                              max_steps=10)[0]

    x = r.normal(size=3) * 0.1
    check_grads(f, (x, 1.2), order=2)
    check_grads(fg.jit(f), (x, 1.2), order=2)
    # against the same loop written as a Python loop
    def py(x, a):
        i = 0
        while float(fnp.sum(x)) < 3.0 and i < 6:
            x, i = fnp.sin(x) * a + 0.5, i + 1
        return x
    close(f(x, 1.2), py(x, 1.2))
    g = fg.grad(lambda x: fnp.sum(f(x, 1.2)))(x)
    close(g, fg.grad(lambda x: fnp.sum(py(x, 1.2)))(x))
    # zero trips under reverse mode: identity
    g0 = fg.grad(lambda x: fnp.sum(lax.while_loop(lambda c: False, lambda c: c * 3.0, x,
                                                   max_steps=4)))(x)
    close(g0, np.ones(3))


def test_while_vmap_batched_predicate(r):
    def f(x, lim):
        return lax.while_loop(lambda c: fnp.sum(c[0]) < lim,
                              lambda c: (c[0] * 2.0, c[1] + 1), (x, 0))

    xs = np.abs(r.normal(size=(5, 3))) + 0.1
    lims = np.array([1.0, 10.0, 100.0, 0.0, 5.0])
    out = fg.vmap(f)(xs, lims)
    refs = [f(x, l) for x, l in zip(xs, lims)]
    close(out[0], np.stack([_np(o[0]) for o in refs]))
    np.testing.assert_array_equal(_np(out[1]), [int(o[1]) for o in refs])
    # unbatched predicate, batched carry
    g = lambda x: lax.while_loop(lambda c: c[1] < 4, lambda c: (c[0] * 1.5, c[1] + 1), (x, 0))[0]
    close(fg.vmap(g)(xs), np.stack([_np(g(x)) for x in xs]))
    # forward mode under vmap
    jv = fg.vmap(lambda x, l: fg.jvp(lambda x: f(x, l)[0], (x,), (fnp.ones(3),))[1])(xs, lims)
    close(jv, np.stack([_np(fg.jvp(lambda x: f(x, l)[0], (x,), (fnp.ones(3),))[1])
                        for x, l in zip(xs, lims)]))


def test_while_max_steps_vmap_grad(r):
    def f(x):
        return fnp.sum(lax.while_loop(lambda c: fnp.sum(c) < 4.0, lambda c: c * 1.7, x,
                                      max_steps=20))

    xs = np.abs(r.normal(size=(4, 2))) + 0.2
    g = fg.vmap(fg.grad(f))(xs)
    close(g, np.stack([_np(fg.grad(f)(x)) for x in xs]))


def test_fori_loop_static_and_traced(r):
    assert int(lax.fori_loop(0, 5, lambda i, s: s + i, 0)) == 10
    assert int(lax.fori_loop(3, 1, lambda i, s: s + i, 7)) == 7          # zero trips
    jf = fg.jit(lambda lo, hi: lax.fori_loop(lo, hi, lambda i, s: s + i * i, 0))
    assert int(jf(2, 5)) == 4 + 9 + 16
    assert int(jf(5, 2)) == 0
    # static bounds inside jit: a scan (reverse-differentiable)
    x = r.normal(size=3)
    f = lambda x: lax.fori_loop(0, 4, lambda i, c: fnp.sin(c) * (i + 1.0), x)
    jaxpr = fg.make_jaxpr(f)(x)
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns] == ["scan"]
    check_grads(f, (x,), order=2)
    check_grads(fg.jit(f), (x,), order=2)
    same(f(x), fg.jit(f)(x))
    out = fg.vmap(f)(np.stack([x, x * 2]))
    close(out, np.stack([_np(f(x)), _np(f(x * 2))]))


def test_fori_loop_traced_bounds_forward_mode(r):
    x = r.normal(size=2)
    f = fg.jit(lambda x, n: lax.fori_loop(0, n, lambda i, c: fnp.sin(c) * 1.1, x))
    y, t = fg.jvp(lambda x: f(x, 3), (x,), (np.ones(2),))
    g = lambda x: lax.fori_loop(0, 3, lambda i, c: fnp.sin(c) * 1.1, x)
    close(t, fg.jvp(g, (x,), (np.ones(2),))[1])


# ============================================================================ nesting

def _nested(W, xs, flag):
    def inner(c, x):
        return fnp.tanh(c @ W + x), fnp.sum(c)

    def outer(c, x):
        c2 = lax.cond(flag * fnp.sum(x) > 0,
                      lambda c: lax.scan(inner, c, fnp.stack([x, x * 0.5]))[0],
                      lambda c: c * 0.9 + fnp.sin(x),
                      c)
        return c2, fnp.sum(c2 ** 2)

    c, ys = lax.scan(outer, fnp.zeros_like(xs[0]), xs)
    return fnp.sum(c) + fnp.sum(ys)


def _nested_py(W, xs, flag):
    c, tot = np.zeros(3), 0.0
    for x in xs:
        if flag * x.sum() > 0:
            for xx in (x, x * 0.5):
                c = np.tanh(c @ W + xx)
        else:
            c = c * 0.9 + np.sin(x)
        tot += np.sum(c ** 2)
    return c.sum() + tot


def test_nested_scan_cond_scan(r):
    W = r.normal(size=(3, 3)) * 0.5
    xs = r.normal(size=(5, 3))
    for flag in (1.0, -1.0):
        close(_nested(W, xs, flag), _nested_py(W, xs, flag))
        close(fg.jit(_nested)(W, xs, flag), _nested_py(W, xs, flag))
    check_grads(lambda W, xs: _nested(W, xs, 1.0), (W, xs), order=2)
    check_grads(fg.jit(lambda W, xs: _nested(W, xs, 1.0)), (W, xs), order=1)
    flags = np.array([1.0, -1.0, 1.0])
    out = fg.vmap(_nested, in_axes=(None, None, 0))(W, xs, flags)
    close(out, np.array([_nested_py(W, xs, f) for f in flags]))
    gv = fg.vmap(fg.grad(_nested), in_axes=(None, None, 0))(W, xs, flags)
    close(gv, np.stack([_np(fg.grad(_nested)(W, xs, f)) for f in flags]))


def test_nested_while_in_scan_forward(r):
    def f(x):
        def body(c, _):
            c = lax.while_loop(lambda v: fnp.sum(v) < 2.0, lambda v: v * 1.3 + 0.01, c)
            return c * 0.5, None
        return lax.scan(body, x, None, length=3)[0]

    x = np.abs(r.normal(size=2)) + 0.1
    check_grads(f, (x,), order=1, modes=("fwd",))
    close(fg.vmap(f)(np.stack([x, x * 2])), np.stack([_np(f(x)), _np(f(x * 2))]))


# ============================================================================ errors

def test_error_branch_types_name_the_leaf():
    with pytest.raises(TypeError, match=r"output\[1\]\['b'\].*f32\[3\].*f32\[2\]"):
        lax.cond(True, lambda: (1.0, {"b": fnp.zeros(3)}), lambda: (1.0, {"b": fnp.zeros(2)}))
    with pytest.raises(TypeError, match="same pytree structure"):
        lax.cond(True, lambda: (1.0, 2.0), lambda: [1.0, 2.0])
    with pytest.raises(TypeError, match=r"branch 2 .*i32\[\]"):
        lax.switch(0, [lambda: fnp.zeros(()), lambda: fnp.zeros(()),
                       lambda: fnp.zeros((), np.int32)])


def test_error_predicates():
    with pytest.raises(TypeError, match="scalar"):
        lax.cond(fnp.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="boolean"):
        lax.cond(fnp.array(1.0), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="boolean"):
        fg.jit(lambda p: lax.cond(p, lambda: 1.0, lambda: 2.0))(3)
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c + 1.0, 1.0)
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c < fnp.ones(2), lambda c: c + 1.0, 1.0)
    with pytest.raises(TypeError, match="integer"):
        lax.switch(1.0, [lambda: 1.0, lambda: 2.0])


def test_error_carry_type_changes_name_the_leaf():
    with pytest.raises(TypeError, match=r"carry\['h'\].*f32\[3\].*f32\[1,3\]"):
        lax.scan(lambda c, x: ({"h": c["h"][None]}, None), {"h": fnp.zeros(3)}, None, length=2)
    with pytest.raises(TypeError, match=r"carry\[0\].*i32\[\].*f32\[\]"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] * np.float32(1.5), c[1]),
                       (np.int32(0), 1.0))
    with pytest.raises(TypeError, match="pytree structure"):
        lax.scan(lambda c, x: ((c, c), x), 0.0, fnp.zeros(3))
    with pytest.raises(TypeError, match=r"pair \(carry, y\)"):
        lax.scan(lambda c, x: c, 0.0, fnp.zeros(3))


def test_error_scan_lengths():
    with pytest.raises(ValueError, match=r"xs\['a'\]"):
        lax.scan(lambda c, x: (c, None), 0.0, {"a": fnp.zeros(3), "b": fnp.zeros(4)})
    with pytest.raises(ValueError, match="length"):
        lax.scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match="length=5"):
        lax.scan(lambda c, x: (c, None), 0.0, fnp.zeros(3), length=5)


def test_weak_carry_promotes():
    c, _ = lax.scan(lambda c, x: (c + x, None), 0.0, np.arange(3.0))   # f64 xs
    assert _np(c).dtype == np.float64 and float(c) == 3.0
    c = lax.fori_loop(0, 3, lambda i, c: c + np.float32(0.5), 0.0)
    assert _np(c).dtype == np.float32 and float(c) == 1.5


def test_jaxpr_form():
    f = lambda x: lax.cond(x > 0, lambda: x * 2, lambda: x)
    j = fg.make_jaxpr(f)(1.0)
    e = j.jaxpr.eqns[-1]
    assert e.primitive is lax.cond_p
    assert all(not b.consts for b in e.params["branches"])
    assert "cond[" in str(j)
    j2 = fg.make_jaxpr(lambda x: lax.while_loop(lambda c: c < x, lambda c: c + 1.0, 0.0))(3.0)
    assert "while[" in str(j2)


# ============================================================================ residuals / misc

def test_scan_loop_invariant_residuals_not_stacked(r):
    W = r.normal(size=(4, 4)) * 0.3
    xs = r.normal(size=(20, 4))

    def loss(W):
        def body(h, x):
            Wt = fnp.exp(W).T          # depends on W only: computed once, not per step
            return fnp.tanh(h @ Wt + x), None
        h, _ = lax.scan(body, fnp.zeros_like(xs[0]), xs)
        return fnp.sum(h ** 2)

    check_grads(loss, (W,), order=1)
    j = fg.make_jaxpr(fg.grad(loss))(W)
    fwd = next(e for e in j.jaxpr.eqns if e.primitive.name == "scan")
    stacked = [v.aval.shape for v in fwd.outvars[1:]]
    assert (20, 4, 4) not in stacked, stacked
    # the same through jit (offline partial evaluation)
    close(fg.grad(fg.jit(loss))(W), fg.grad(loss)(W))


def test_scan_linearize_jacobians(r):
    xs = r.normal(size=(5, 2))

    def f(p):
        c, ys = lax.scan(lambda c, x: (c * fnp.cos(p) + x, fnp.sin(c) * p[0]), p, xs)
        return c, ys

    p = r.normal(size=2)
    y, f_jvp = fg.linearize(f, p)
    close(f_jvp(np.ones(2)), fg.jvp(f, (p,), (np.ones(2),))[1])
    close(fg.jacrev(f)(p), fg.jacfwd(f)(p), 1e-9)


def test_jit_of_grad_through_control_flow(r):
    x = r.normal(size=3)

    def f(x):
        y = lax.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v), lambda v: v ** 2, x)
        y = lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 1.1 + 0.1, c[1] + 1), (y, 0),
                           max_steps=5)[0]
        return fnp.sum(lax.scan(lambda c, v: (c + v, c * v), 0.0, y)[1])

    g = fg.grad(f)
    close(fg.jit(g)(x), g(x), 1e-12)
    close(fg.jit(g)(-x), g(-x), 1e-12)
    check_grads(f, (x,), order=2)


def test_while_max_steps_zero():
    out = lax.while_loop(lambda c: c < 5.0, lambda c: c + 1.0, 0.0, max_steps=0)
    assert float(out) == 0.0
    g = fg.grad(lambda x: lax.while_loop(lambda c: c < 5.0, lambda c: c * 2.0, x,
                                         max_steps=0))(1.0)
    assert float(g) == 1.0


def test_eager_goes_through_the_primitive(r):
    calls = []
    orig = lax.scan_p.impl

    def spy(*a, **k):
        calls.append(k["length"])
        return orig(*a, **k)

    lax.scan_p.impl = spy
    try:
        lax.scan(lambda c, x: (c + x, None), 0.0, np.arange(3.0))
    finally:
        lax.scan_p.impl = orig
    assert calls == [3]


def test_stacked_outputs_are_never_shared(r):
    # big stacked outputs come from a pool of reusable buffers: one that is still
    # referenced (directly or through a view) must never be handed out again
    xs = r.normal(size=(40, 64, 16)).astype(np.float32)       # 160 KiB of ys
    f = lambda k: lax.scan(lambda c, x: (c, x * k), 0.0, xs)[1]
    a = f(2.0)
    view = _np(f(3.0))[5]
    for k in (4.0, 5.0, 6.0):
        f(k)
    np.testing.assert_array_equal(_np(a), xs * 2)
    np.testing.assert_array_equal(view, xs[5] * 3)
    jf = fg.jit(f)
    b = jf(7.0)
    for k in (8.0, 9.0):
        jf(k)
    np.testing.assert_array_equal(_np(b), xs * 7)


def test_map_vmap_and_jit(r):
    xs = r.normal(size=(3, 4, 2)).astype(np.float32)
    f = lambda xs: lax.map(lambda x: fnp.sum(fnp.sin(x) * x), xs)
    same(f(xs[0]), fg.jit(f)(xs[0]))
    close(fg.vmap(f)(xs), np.stack([_np(f(x)) for x in xs]), 1e-6)


def test_transposed_scan_hoists_constant_cotangent_sums(r, monkeypatch):
    # dW = sum_t h_t^T dz_t is computed by one contraction after the backward loop
    from funcgrad.lax import control_flow as cf
    W = r.normal(size=(3, 4)) * 0.5
    U = r.normal(size=(4, 3)) * 0.5
    b = r.normal(size=4)
    xs = r.normal(size=(6, 2, 3))

    def loss(W, U, b, xs):
        def body(h, x):
            z = fnp.tanh((h + x) @ W + b)
            return z @ U, fnp.sum(z)
        h, ys = lax.scan(body, fnp.zeros(xs.shape[1:], xs.dtype), xs)
        return fnp.sum(h ** 2) + fnp.sum(ys)

    g = fg.grad(loss, argnums=(0, 1, 2, 3))(W, U, b, xs)
    j = fg.make_jaxpr(fg.grad(loss, argnums=(0, 1, 2)))(W, U, b, xs)
    bwd = [e for e in j.jaxpr.eqns if e.primitive.name == "scan"][-1]
    assert bwd.params["num_carry"] == 1          # only the carry cotangent is carried
    monkeypatch.setattr(cf, "FISSION_MAX_BYTES", -1)
    cf._scan_t_cache.clear()
    g_loop = fg.grad(loss, argnums=(0, 1, 2, 3))(W, U, b, xs)
    close(g, g_loop, 1e-12)
    check_grads(loss, (W, U, b, xs), order=2)
    # zero-length: cotangents of the constants are zeros
    gz = fg.grad(loss, argnums=(0, 1, 2))(W, U, b, xs[:0])
    for gi in gz:
        np.testing.assert_array_equal(_np(gi), 0)


# ----------------------------------------------------------------------------- scan DCE

def _scan_eqn(closed):
    return [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]


def test_scan_dce_drops_unread_outputs_and_dead_carries():
    from funcgrad.compiler import passes
    w = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)

    def f(x, w, use_counter=False, use_zs=False):
        def body(c, xi):
            h, counter, feeds_h = c
            h2 = fnp.tanh(h @ w + xi + feeds_h)      # feeds_h: a carry h needs
            return (h2, counter + fnp.sum(xi), feeds_h * 0.5), (h2 * 2.0, fnp.sin(xi))
        (h, counter, _), (ys, zs) = lax.scan(body, (fnp.zeros(4), 0.0, fnp.ones(4)), x)
        out = h + ys[-1]
        if use_counter:
            out = out + counter
        if use_zs:
            out = out + zs[0]
        return out

    for uc in (False, True):
        for uz in (False, True):
            g = lambda x, w: f(x, w, uc, uz)   # noqa: E731
            closed = fg.make_jaxpr(g)(x, w)
            (e,) = _scan_eqn(passes.dce(closed))
            # h and feeds_h always stay (h is read, feeds_h feeds h); counter only if read
            assert e.params["num_carry"] == 2 + uc
            assert len(e.outvars) == e.params["num_carry"] + 1 + uz
            np.testing.assert_array_equal(fg.jit(g)(x, w), g(x, w))
            check_close(fg.jit(fg.grad(lambda x, w: fnp.sum(g(x, w)), argnums=1))(x, w),
                        fg.grad(lambda x, w: fnp.sum(g(x, w)), argnums=1)(x, w),
                        atol=1e-5, rtol=1e-5)


def test_scan_dce_drops_unread_consts_and_xs_and_keeps_effects():
    from funcgrad.compiler import passes
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    y = np.ones((3, 2), np.float32)

    def f(x, y, c):
        def body(carry, xy):
            xi, yi = xy
            return carry + xi, (yi * c, xi)
        total, (unused, xs) = lax.scan(body, fnp.zeros(2), (x, y))
        return total + xs[0]

    closed = fg.make_jaxpr(f)(x, y, np.float32(3.0))
    (e,) = _scan_eqn(passes.dce(closed))
    assert e.params["num_consts"] == 0           # c was only read by the dropped output
    assert len(e.invars) == 2                    # init and x; y is gone
    np.testing.assert_array_equal(fg.jit(f)(x, y, 3.0), f(x, y, 3.0))

    from funcgrad.core.primitive import Primitive
    noisy_p = Primitive("test_noisy", register=False)   # an effect (e.g. a host callback)
    noisy_p.impl = lambda v: v
    noisy_p.abstract_eval = lambda a: a
    noisy_p.effectful = True

    def g(x):
        def body(c, xi):
            noisy_p.bind(xi)
            return c + xi, xi * 2.0
        return lax.scan(body, fnp.zeros(2), x)[0]

    closed = fg.make_jaxpr(g)(x)
    (e,) = _scan_eqn(passes.dce(closed))
    assert len(e.outvars) == 2                   # an effectful body is left whole


def test_eager_control_flow_reuses_compiled_bodies(monkeypatch):
    """Eager scan/cond (and grad through them) trace their bodies on every call; a body
    equal in structure to one compiled before reuses its executable."""
    import funcgrad.compiler as compiler
    w = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32) * 0.3
    xs = np.random.default_rng(1).standard_normal((6, 2, 4)).astype(np.float32)

    def loss(w, xs):
        def cell(h, x):                    # a new closure on every call
            h = fnp.tanh(h @ w + x)
            return h, h
        _, hs = lax.scan(cell, fnp.zeros((2, 4)), xs)
        return lax.cond(fnp.sum(hs) > 0, lambda v: fnp.sum(v ** 2), lambda v: fnp.sum(v), hs)

    first = (loss(w, xs), fg.grad(loss)(w, xs))
    built = []
    real = compiler.Executable
    monkeypatch.setattr(compiler, "Executable",
                        lambda *a, **k: built.append(1) or real(*a, **k))
    again = (loss(w, xs), fg.grad(loss)(w, xs))
    assert not built, f"{len(built)} bodies compiled again"
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    w2 = w * 2.0                           # new values, same program: still no compile
    loss(w2, xs)
    assert not built
