"""The eager tape (``funcgrad/interpreters/tape.py``): top-level ``vjp``/``grad`` on concrete
inputs records one backward step per primitive instead of linearizing.

Every primitive's taped VJP must equal the general linearize + transpose VJP, for each
floating operand alone (the others fixed, which exercises transpose rules of jointly linear
primitives with some operands constant) and for all of them at once.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import UnexpectedTracerError
from funcgrad.core.primitive import Primitive
from funcgrad.interpreters import tape
from funcgrad.interpreters.ad_util import Zero
from funcgrad.test_util import check_close, check_grads

from test_registry import PRIMS, _caller, _diff_indices, _outs, _partial, _seed, _spec, sample


def _vjp_both(f, dargs, cts):
    """Cotangents of ``f`` at ``dargs`` with the tape on and off."""
    res = []
    for on in (True, False):
        fg.config.update("eager_tape", on)
        try:
            out, vjp_fun = fg.vjp(f, *dargs)
            res.append((out, vjp_fun(cts)))
        finally:
            fg.config.update("eager_tape", True)
    return res


def _random_cts(out, rng):
    def one(o):
        o = np.asarray(o)
        if o.dtype.kind not in "fc":
            return np.zeros(o.shape, o.dtype)
        return rng.standard_normal(o.shape).astype(o.dtype)
    return [one(o) for o in out] if isinstance(out, (list, tuple)) else one(out)


@pytest.mark.parametrize("name", PRIMS)
def test_tape_matches_linearize(name):
    prim = Primitive.registry[name]
    spec = _spec(prim)
    if spec.get("nondiff"):
        pytest.skip(f"{name}: not differentiable")
    rng = np.random.default_rng(_seed(name, 77))
    checked = False
    for k in range(2):
        args, params = sample(prim, np.float64, k)
        idx = _diff_indices(prim, args, spec)
        if not idx:
            continue
        call = _caller(prim, params)
        subsets = [idx] + ([[i] for i in idx] if len(idx) > 1 else [])
        for sub in subsets:
            f = _partial(call, args, sub)
            dargs = [fg.Array(args[i]) for i in sub]
            out = f(*dargs)
            cts = _random_cts(out, rng)
            (o1, g1), (o2, g2) = _vjp_both(f, dargs, cts)
            for a, b in zip(_outs(prim, o1), _outs(prim, o2)):
                check_close(a, b, atol=0, rtol=0, err_msg=f"{name}: primal outputs")
            for j, (a, b) in enumerate(zip(g1, g2)):
                check_close(a, b, atol=1e-12, rtol=1e-10,
                            err_msg=f"{name}: cotangent of operand {sub[j]} (differentiating "
                                    f"{sub}, params {params})")
            checked = True
    if not checked:
        pytest.skip(f"{name}: no floating-point operand")


# ----------------------------------------------------------------------------- compositions

def _mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = fnp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    return -fnp.mean(fnp.sum(fg.nn.log_softmax(logits) * y, axis=-1))


def _mlp_args(dtype=np.float64):
    r = np.random.default_rng(0)
    params = [(r.standard_normal((4, 5)).astype(dtype), r.standard_normal(5).astype(dtype)),
              (r.standard_normal((5, 3)).astype(dtype), r.standard_normal(3).astype(dtype))]
    x = r.standard_normal((6, 4)).astype(dtype)
    y = np.eye(3, dtype=dtype)[r.integers(0, 3, 6)]
    return params, x, y


def _both(fn):
    fg.config.update("eager_tape", False)
    try:
        want = fn()
    finally:
        fg.config.update("eager_tape", True)
    return fn(), want


def _close_trees(a, b, tol=1e-10):
    la, lb = fg.tree_util.tree_leaves(a), fg.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        check_close(x, y, atol=tol, rtol=tol)


def test_mlp_grad_matches_and_uses_the_tape(x64, monkeypatch):
    params, x, y = _mlp_args()
    got, want = _both(lambda: fg.value_and_grad(_mlp_loss)(params, x, y))
    _close_trees(got, want)
    check_grads(lambda p: _mlp_loss(p, x, y), (params,), order=2)
    calls = []
    real = tape.tape_vjp_flat
    monkeypatch.setattr(tape, "tape_vjp_flat", lambda *a, **k: calls.append(1) or real(*a, **k))
    fg.grad(_mlp_loss)(params, x, y)
    assert calls, "a top-level grad on concrete inputs should record a tape"
    calls.clear()
    fg.jit(fg.grad(_mlp_loss))(params, x, y)
    fg.vmap(fg.grad(lambda x: fnp.sum(fnp.sin(x))))(x)
    assert not calls, "grad under jit/vmap must use linearize + transpose, not the tape"


def test_higher_order_and_nested_transformations(x64):
    f = lambda x: fnp.sum(fnp.sin(x) * fnp.exp(-x * x))   # noqa: E731
    x = np.linspace(-1, 1, 5)
    for fn in [lambda: fg.grad(fg.grad(lambda x: fnp.sum(fnp.sin(x) ** 3)))(0.3),
               lambda: fg.grad(lambda x: fnp.sum(fg.grad(f)(x) ** 2))(x),
               lambda: fg.jacrev(lambda x: fnp.sin(x) * x)(x),
               lambda: fg.hessian(f)(x),
               lambda: fg.grad(lambda x: fnp.sum(fg.vmap(lambda r: fnp.dot(r, r))(
                   fnp.outer(x, x))))(x),
               lambda: fg.grad(lambda x: fnp.sum(fg.jvp(fnp.sin, (x,), (fnp.cos(x),))[1]))(x),
               lambda: fg.grad(fg.jit(f))(x),
               lambda: fg.grad(lambda x: fg.jit(f)(x) * f(x))(x),
               lambda: fg.grad(lambda x: fnp.sum(fg.checkpoint(lambda v: fnp.tanh(v) * v)(x)))(x)]:
        got, want = _both(fn)
        _close_trees(got, want)
    check_grads(f, (x,), order=3)


def test_control_flow_custom_rules_and_python_branches(x64):
    @fg.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -0.1, 0.1),))

    @fg.custom_jvp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * fg.nn.sigmoid(p[0])))

    def f(x):
        if float(fnp.sum(x)) > 0:   # Python control flow on a concrete value
            x = x * 2.0
        y = lax.fori_loop(0, 3, lambda i, c: c * fnp.cos(c), x)
        y = lax.cond(fnp.sum(y) > 0, fnp.sin, fnp.cos, y)
        z, _ = lax.scan(lambda c, v: (c + v * c, None), y[0], y)
        return fnp.sum(clip_grad(y) * softplus(y)) + z

    x = np.array([0.3, -0.2, 0.5])
    got, want = _both(lambda: fg.grad(f)(x))
    _close_trees(got, want)
    assert float(fg.grad(lambda x: fnp.sum(clip_grad(x) * 10.0))(x)[0]) == pytest.approx(0.1)


@given(st.integers(1, 6), st.sampled_from([np.float32, np.float64]),
       st.floats(-2, 2), st.integers(0, 2 ** 16))
def test_random_chains_match(n, dtype, scale, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((3, 4)).astype(dtype)
    w = r.standard_normal((4, 2)).astype(dtype)
    ops = [fnp.sin, fnp.tanh, lambda v: v * scale, lambda v: v + 1.5,
           lambda v: fnp.maximum(v, 0.1), lambda v: v / (1.0 + v * v),
           lambda v: fnp.exp(-fnp.abs(v)), lambda v: v.T.T, lambda v: fnp.cumsum(v, axis=1),
           lambda v: fnp.where(v > 0, v, 0.5 * v), lambda v: v - fnp.mean(v, 0, keepdims=True)]
    picks = r.integers(0, len(ops), n)

    def f(x, w):
        for p in picks:
            x = ops[p](x)
        return fnp.sum((x @ w) ** 2) + fnp.max(x)

    got, want = _both(lambda: fg.grad(f, argnums=(0, 1))(x, w))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    _close_trees(got, want, tol)
    for g, a in zip(got, (x, w)):
        assert np.asarray(g).dtype == a.dtype


def test_outputs_that_do_not_depend_on_inputs_and_aux():
    def f(x):
        return fnp.float32(3.0) * fnp.ones(2), fnp.sum(x)
    out, vjp_fun = fg.vjp(f, fnp.ones(3))
    (g,) = vjp_fun((fnp.ones(2), fnp.float32(2.0)))
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])
    (g,) = vjp_fun((fnp.ones(2), fnp.float32(0.0)))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    # a function that ignores its input
    assert float(fg.grad(lambda x: fnp.float32(1.0))(2.0)) == 0.0
    # identity and reuse of one input many times
    assert float(fg.grad(lambda x: x)(2.0)) == 1.0
    assert float(fg.grad(lambda x: x * x * x + x)(2.0)) == 13.0
    (v, aux), g = fg.value_and_grad(lambda x: (x * x, {"a": x + 1}), has_aux=True)(3.0)
    assert float(g) == 6.0 and float(aux["a"]) == 4.0
    # the vjp function can be called again, and under vmap (jacrev)
    _, vjp_fun = fg.vjp(lambda x: fnp.sin(x) * 2.0, fnp.arange(3.0))
    a = vjp_fun(fnp.ones(3))[0]
    b = vjp_fun(fnp.ones(3))[0]
    np.testing.assert_array_equal(a, b)
    jac = fg.vmap(vjp_fun)(fnp.eye(3))[0]
    np.testing.assert_allclose(jac, np.diag(2 * np.cos(np.arange(3.0))), rtol=1e-6)


def test_escaped_tape_tracer_is_an_error():
    leaked = []

    def f(x):
        leaked.append(x)
        return fnp.sum(x * 2.0)

    fg.grad(f)(fnp.ones(2))
    with pytest.raises(UnexpectedTracerError, match="escaped"):
        fnp.sin(leaked[0])


def test_integer_outputs_and_stop_gradient_record_nothing():
    def f(x):
        k = fnp.argmax(x)
        s = lax.stop_gradient(x * 3.0)
        return fnp.sum(x * s) + fnp.floor(x[k])
    x = fnp.array([0.5, 2.0, 1.0])
    got, want = _both(lambda: fg.grad(f)(x))
    _close_trees(got, want)
    np.testing.assert_allclose(got, 3.0 * np.asarray(x))


def test_zero_cotangent_types():
    out, vjp_fun = fg.vjp(lambda x, y: (x * 2.0, y), fnp.ones(2), fnp.ones(3))
    gx, gy = vjp_fun((fnp.zeros(2), fnp.ones(3)))
    np.testing.assert_array_equal(gx, np.zeros(2, np.float32))
    np.testing.assert_array_equal(gy, np.ones(3, np.float32))
    assert isinstance(gx, fg.Array) and not isinstance(gx, Zero)


def test_grad_of_jit_reuses_its_compiled_pieces(monkeypatch):
    """``grad(jit(f))`` at top level splits the jitted call into known and unknown parts
    once per signature: later calls compile nothing."""
    import funcgrad.compiler as compiler
    f = fg.jit(lambda w, x: fnp.mean(fnp.tanh(x @ w) ** 2))
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    g = fg.grad(f)
    first = g(w, x)
    compiled = []
    real = compiler.Executable
    monkeypatch.setattr(compiler, "Executable",
                        lambda *a, **k: compiled.append(1) or real(*a, **k))
    for _ in range(3):
        np.testing.assert_array_equal(g(w, x), first)
    assert not compiled, f"{len(compiled)} programs compiled on repeated grad(jit(f)) calls"
    want = fg.jit(fg.grad(lambda w, x: fnp.mean(fnp.tanh(x @ w) ** 2)))(w, x)
    check_close(first, want, atol=1e-6, rtol=1e-6)
