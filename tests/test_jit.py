"""``jit``: caching per abstract signature, static and donated arguments, composition with
grad/vmap, lowering text, thread safety and memory of fused programs."""
import collections
import threading
import tracemalloc

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.compiler import DonatedArrayError


def bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True)


def tree_bits_equal(a, b):
    la, ta = fg.tree_util.tree_flatten(a)
    lb, tb = fg.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        bits_equal(x, y)


def arr(*shape, seed=0):
    return fnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# ============================================================================ caching

class TestCaching:
    def test_trace_once_per_signature(self):
        f = fg.jit(lambda x, y: x * y + 1.0)
        x = arr(3)
        for _ in range(5):
            f(x, x)
        assert f.trace_count == 1
        f(arr(3, seed=1), arr(3, seed=2))          # same signature, new values
        assert f.trace_count == 1
        f(arr(4), arr(4))                           # new shape
        assert f.trace_count == 2
        f(x.astype(np.float64), x.astype(np.float64))   # new dtype
        assert f.trace_count == 3
        f(arr(3), arr(3))
        assert f.trace_count == 3

    def test_weak_type_is_part_of_the_signature(self):
        f = fg.jit(lambda x: x)
        r1 = f(3.0)
        r2 = f(fnp.asarray(np.float32(3.0)))
        assert f.trace_count == 2
        assert r1.weak_type and not r2.weak_type
        f(4.0)
        assert f.trace_count == 2
        g = fg.jit(lambda x: x * 2.0 + 1.0)
        weak = fg.Array(np.asarray(3.0, np.float32), True)
        assert g(3.0).weak_type == (weak * 2.0 + 1.0).weak_type
        strong = fnp.asarray(np.float32(3.0))
        assert g(strong).weak_type == (strong * 2.0 + 1.0).weak_type

    def test_pytree_structure_is_part_of_the_signature(self):
        f = fg.jit(lambda t: fg.tree_util.tree_reduce(lambda a, b: a + b, t))
        a = arr(2)
        f((a, a))
        f([a, a])
        f({"x": a, "y": a})
        f({"x": a, "z": a})
        assert f.trace_count == 4
        f((a, a))
        f({"y": a, "x": a})
        assert f.trace_count == 4

    def test_namedtuples_and_none(self):
        P = collections.namedtuple("P", "a b")
        f = fg.jit(lambda p, n: (p.a * 2.0, None, {"k": p.b}))
        out = f(P(arr(2), arr(2, seed=1)), None)
        out = f(P(arr(2), arr(2, seed=1)), None)
        assert f.trace_count == 1
        assert out[1] is None
        bits_equal(out[2]["k"], arr(2, seed=1))

    def test_numpy_and_scalar_arguments(self):
        f = fg.jit(lambda x, s: x * s)
        r = f(np.arange(3, dtype=np.float32), 2.0)
        np.testing.assert_array_equal(np.asarray(r), [0.0, 2.0, 4.0])
        r = f(np.arange(3, dtype=np.float32), 3.0)
        np.testing.assert_array_equal(np.asarray(r), [0.0, 3.0, 6.0])
        assert f.trace_count == 1
        f(np.arange(3, dtype=np.float32), np.float32(3.0))    # NumPy scalar: not weak
        assert f.trace_count == 2
        r = f(np.arange(3, dtype=np.float64), 2)
        assert r.dtype == np.float64

    def test_config_flags_retrace(self, x64):
        f = fg.jit(lambda x: x + 1.0)
        f(1.0)
        assert f.trace_count == 1

    def test_clear_cache(self):
        f = fg.jit(lambda x: x + 1.0)
        f(arr(2))
        f.clear_cache()
        f(arr(2))
        assert f.trace_count == 2


# ============================================================================ static args

class TestStatic:
    def test_static_argnums(self):
        def f(x, n):
            for _ in range(n):
                x = x * 2.0
            return x
        g = fg.jit(f, static_argnums=1)
        x = arr(3)
        bits_equal(g(x, 3), f(x, 3))
        g(x, 3)
        assert g.trace_count == 1
        bits_equal(g(x, 2), f(x, 2))
        assert g.trace_count == 2

    def test_static_argnames(self):
        def f(x, mode="a"):
            return x + 1.0 if mode == "a" else x - 1.0
        g = fg.jit(f, static_argnames="mode")
        x = arr(3)
        bits_equal(g(x, "b"), f(x, "b"))
        bits_equal(g(x, "a"), f(x))
        assert g.trace_count == 2

        def h(x, *, mode):
            return x * 2.0 if mode == "double" else x
        gh = fg.jit(h, static_argnames="mode")
        bits_equal(gh(x, mode="double"), x * 2.0)
        bits_equal(gh(x, mode="same"), x)
        gh(x, mode="same")
        assert gh.trace_count == 2

    def test_unhashable_static_argument(self):
        g = fg.jit(lambda x, s: x, static_argnums=1)
        with pytest.raises(TypeError, match="hashable"):
            g(arr(2), [1, 2])

    def test_invalid_argument_type(self):
        with pytest.raises(TypeError, match="not a valid"):
            fg.jit(lambda x, s: x)(arr(2), "text")

    def test_kwargs(self):
        g = fg.jit(lambda x, y=1.0: x * y)
        x = arr(3)
        bits_equal(g(x, y=fnp.asarray(2.0)), x * 2.0)
        bits_equal(g(x, y=fnp.asarray(3.0)), x * 3.0)
        assert g.trace_count == 1


# ============================================================================ donation

class TestDonate:
    def test_donate_argnums(self):
        @fg.jit
        def plain(p, g):
            return p - 0.1 * g
        upd = fg.jit(lambda p, g: p - 0.1 * g, donate_argnums=(0,))
        p = fnp.asarray(np.linspace(0, 1, 1000, dtype=np.float32))
        g = arr(1000)
        expect = plain(p, g)
        p2 = fnp.asarray(np.array(p))
        ptr = p2._value.__array_interface__["data"][0]
        out = upd(p2, g)
        bits_equal(out, expect)
        assert out._value.__array_interface__["data"][0] == ptr
        with pytest.raises(DonatedArrayError, match="donated to a jit call"):
            p2 + 1
        bits_equal(g, arr(1000))          # not donated: untouched and usable

    def test_donated_pytree(self):
        upd = fg.jit(lambda ps, gs: [p - g for p, g in zip(ps, gs)], donate_argnums=0)
        ps = [arr(5), arr(6)]
        gs = [arr(5, seed=1), arr(6, seed=1)]
        expect = [np.asarray(p) - np.asarray(g) for p, g in zip(ps, gs)]
        out = upd(ps, gs)
        for o, e in zip(out, expect):
            np.testing.assert_array_equal(np.asarray(o), e)
        for p in ps:
            with pytest.raises(DonatedArrayError):
                p.shape


# ============================================================================ composition

class TestComposition:
    def test_disable_jit(self):
        calls = []

        def f(x):
            calls.append(type(x).__name__)
            return x * 2.0
        g = fg.jit(f)
        fg.config.update("disable_jit", True)
        g(arr(2))
        g(arr(2))
        assert calls == ["Array", "Array"]
        fg.config.update("disable_jit", False)
        g(arr(2))
        assert calls[-1] != "Array"

    def test_jit_of_grad_and_grad_of_jit(self):
        def loss(w, x):
            return fnp.sum(fnp.tanh(x @ w) ** 2)
        w, x = arr(3, 4), arr(5, 3, seed=1)
        g_eager = fg.grad(loss)(w, x)
        bits_equal(fg.jit(fg.grad(loss))(w, x), g_eager)
        bits_equal(fg.grad(fg.jit(loss))(w, x), g_eager)
        bits_equal(fg.jit(fg.grad(fg.jit(loss)))(w, x), g_eager)

    def test_vmap_of_jit_stays_one_pjit(self):
        f = fg.jit(lambda x: fnp.sin(x) * 2.0 + fnp.sum(x))
        xs = arr(4, 3)
        closed = fg.make_jaxpr(fg.vmap(f))(xs)
        assert [e.primitive.name for e in closed.eqns] == ["pjit"]
        out = fg.vmap(f)(xs)
        ref = np.stack([np.asarray(f(xs[i])) for i in range(4)])
        np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6)

    def test_jit_inside_jit_is_inlined(self):
        inner = fg.jit(lambda x: fnp.exp(x) * 2.0)
        outer = fg.jit(lambda x: inner(x) + inner(x * 3.0))
        x = arr(5)
        bits_equal(outer(x), inner(x) + inner(x * 3.0))
        src = outer.lower(x).compile().as_text()
        assert "pjit" not in src.split("def _run")[0]

    def test_jvp_and_value_and_grad_through_jit(self):
        f = fg.jit(lambda x: fnp.sum(fnp.sin(x) * x))
        x = arr(6)
        v, g = fg.value_and_grad(f)(x)
        v2, g2 = fg.value_and_grad(lambda x: fnp.sum(fnp.sin(x) * x))(x)
        bits_equal(v, v2)
        bits_equal(g, g2)
        p, t = fg.jvp(f, (x,), (fnp.ones(6),))
        bits_equal(p, v2)

    def test_checkpoint_inside_jit(self):
        def f(x):
            return fnp.sum(fg.checkpoint(lambda y: fnp.sin(y) * y)(x))
        x = arr(7)
        bits_equal(fg.jit(fg.grad(f))(x), fg.grad(f)(x))


# ============================================================================ lowering text

class TestLowering:
    def test_lower_and_compile_text(self):
        f = fg.jit(lambda x: fnp.tanh(x) * 2.0)
        low = f.lower(fnp.ones(3))
        text = low.as_text()
        assert "tanh" in text and "mul" in text and "lambda" in text
        src = low.compile().as_text()
        assert "def _body" in src and "tanh" in src
        assert "# group f32[3]: tanh mul" in src
        compiled = low.compile()
        bits_equal(compiled(fnp.ones(3))[0], f(fnp.ones(3)))


# ============================================================================ threads

def test_concurrent_calls_share_one_trace():
    f = fg.jit(lambda x, y: fnp.tanh(x @ y) + fnp.sum(x))
    xs = [arr(20, 20, seed=i) for i in range(6)]
    expect = [f(x, x) for x in xs]
    errors = []
    barrier = threading.Barrier(6)

    def work(i):
        try:
            barrier.wait()
            for _ in range(30):
                bits_equal(f(xs[i], xs[i]), expect[i])
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert f.trace_count == 1


def test_concurrent_first_calls():
    f = fg.jit(lambda x: fnp.exp(x) * 3.0)
    errors = []

    def work(i):
        try:
            x = arr(10 + i % 3)
            bits_equal(f(x), fnp.exp(x) * 3.0)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(9)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


# ============================================================================ memory

def test_fused_chain_allocates_only_the_output():
    n = 4 * 1024 * 1024
    x = arr(n)

    def chain(x):
        return fnp.tanh(x) * (1 / (1 + fnp.exp(-x))) + 0.5 * x * x - \
            fnp.exp(-fnp.abs(x)) / (1 + x * x)
    f = fg.jit(chain)
    f(x)
    f(x)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = f(x)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    out_bytes = n * 4
    assert peak <= out_bytes + 2 * 1024 * 1024, peak
    bits_equal(out, chain(x))
