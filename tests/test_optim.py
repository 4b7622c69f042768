"""funcgrad.optim: every alias follows optax's update formula for 20 steps; schedules;
combinators; jit and pytree state."""
import collections

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import optim

A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
C = np.array([1.0, -2.0, 0.5])


def loss(p):
    w = p["w"]
    return 0.5 * fnp.dot(w, fnp.dot(fnp.asarray(A), w)) - fnp.dot(fnp.asarray(C), w) + \
        fnp.sum(p["b"] ** 2)


def grad_np(w, b):
    return A @ w - C, 2 * b


P0 = {"w": np.array([0.5, -0.3, 0.8]), "b": np.array([0.2, -0.1])}


def run(opt, steps=20, jit=True):
    params = {k: fnp.asarray(v) for k, v in P0.items()}
    state = opt.init(params)

    def step(p, s):
        g = fg.grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s

    step = fg.jit(step) if jit else step
    traj = []
    for _ in range(steps):
        params, state = step(params, state)
        traj.append({k: np.asarray(v) for k, v in params.items()})
    return traj


def reference(update_fn, steps=20):
    """``update_fn(t, g, p, state) -> (update, state)`` on flat numpy vectors."""
    w, b = P0["w"].copy(), P0["b"].copy()
    p = np.concatenate([w, b])
    state = {}
    traj = []
    for t in range(1, steps + 1):
        gw, gb = grad_np(p[:3], p[3:])
        g = np.concatenate([gw, gb])
        u, state = update_fn(t, g, p, state)
        p = p + u
        traj.append({"w": p[:3].copy(), "b": p[3:].copy()})
    return traj


def assert_traj(a, b, rtol=1e-9, atol=1e-12):
    for x, y in zip(a, b):
        for k in ("w", "b"):
            np.testing.assert_allclose(x[k], y[k], rtol=rtol, atol=atol)


@pytest.fixture(autouse=True)
def _x64(x64):
    yield


def test_sgd_plain_and_momentum():
    assert_traj(run(optim.sgd(0.1)), reference(lambda t, g, p, s: (-0.1 * g, s)))

    def mom(t, g, p, s, nesterov=False):
        tr = g + 0.9 * s.get("tr", 0)
        u = (g + 0.9 * tr) if nesterov else tr
        return -0.1 * u, {"tr": tr}
    assert_traj(run(optim.sgd(0.1, momentum=0.9)), reference(mom))
    assert_traj(run(optim.sgd(0.1, momentum=0.9, nesterov=True)),
                reference(lambda *a: mom(*a, nesterov=True)))


def _adam_ref(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, nesterov=False):
    def f(t, g, p, s):
        m = b1 * s.get("m", 0) + (1 - b1) * g
        v = b2 * s.get("v", 0) + (1 - b2) * g * g
        if nesterov:
            mh = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1 ** t)
        else:
            mh = m / (1 - b1 ** t)
        vh = v / (1 - b2 ** t)
        u = mh / (np.sqrt(vh) + eps) + wd * p
        return -lr * u, {"m": m, "v": v}
    return f


def test_adam_family():
    assert_traj(run(optim.adam(0.05)), reference(_adam_ref(0.05)))
    assert_traj(run(optim.nadam(0.05)), reference(_adam_ref(0.05, nesterov=True)))
    assert_traj(run(optim.adamw(0.05, weight_decay=0.1)),
                reference(_adam_ref(0.05, wd=0.1)))


def test_adamax():
    def f(t, g, p, s, b1=0.9, b2=0.999, eps=1e-8):
        m = b1 * s.get("m", 0) + (1 - b1) * g
        u = np.maximum(b2 * s.get("u", 0), np.abs(g))
        return -0.05 * (m / (1 - b1 ** t)) / (u + eps), {"m": m, "u": u}
    assert_traj(run(optim.adamax(0.05)), reference(f))


def test_rmsprop_plain_centered_momentum():
    def f(t, g, p, s, centered=False, momentum=None):
        nu = 0.9 * s.get("nu", 0) + 0.1 * g * g
        mu = 0.9 * s.get("mu", 0) + 0.1 * g
        denom = np.sqrt(nu - mu ** 2 + 1e-8) if centered else np.sqrt(nu + 1e-8)
        u = -0.01 * g / denom
        st = {"nu": nu, "mu": mu}
        if momentum is not None:
            u = u + momentum * s.get("tr", 0)
            st["tr"] = u
        return u, st
    assert_traj(run(optim.rmsprop(0.01)), reference(f))
    assert_traj(run(optim.rmsprop(0.01, centered=True)), reference(lambda *a: f(*a, True)))
    assert_traj(run(optim.rmsprop(0.01, momentum=0.5)),
                reference(lambda *a: f(*a, momentum=0.5)))


def test_adagrad_adadelta():
    def ada(t, g, p, s):
        ss = s.get("ss", 0.1) + g * g
        return -0.1 * g / np.sqrt(ss + 1e-7), {"ss": ss}
    assert_traj(run(optim.adagrad(0.1)), reference(ada))

    def delta(t, g, p, s, rho=0.9, eps=1e-6):
        eg = rho * s.get("eg", 0) + (1 - rho) * g * g
        u = g * np.sqrt(s.get("ex", 0) + eps) / np.sqrt(eg + eps)
        ex = rho * s.get("ex", 0) + (1 - rho) * u * u
        return -1.0 * u, {"eg": eg, "ex": ex}
    assert_traj(run(optim.adadelta(1.0)), reference(delta))


def test_lamb_and_lion():
    def lamb(t, g, p, s, lr=0.05, b1=0.9, b2=0.999, eps=1e-6, wd=0.01):
        m = b1 * s.get("m", 0) + (1 - b1) * g
        v = b2 * s.get("v", 0) + (1 - b2) * g * g
        u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + wd * p
        out = np.empty_like(u)
        for sl in (slice(0, 3), slice(3, 5)):        # trust ratio per parameter leaf
            pn, un = np.linalg.norm(p[sl]), np.linalg.norm(u[sl])
            r = 1.0 if pn == 0 or un == 0 else pn / un
            out[sl] = u[sl] * r
        return -lr * out, {"m": m, "v": v}
    assert_traj(run(optim.lamb(0.05, weight_decay=0.01)), reference(lamb))

    def lion(t, g, p, s, lr=0.01, b1=0.9, b2=0.99, wd=1e-3):
        m = s.get("m", 0)
        u = np.sign((1 - b1) * g + b1 * m) + wd * p
        return -lr * u, {"m": b2 * m + (1 - b2) * g}
    assert_traj(run(optim.lion(0.01)), reference(lion))


def test_clip_and_chain():
    def f(t, g, p, s):
        n = np.sqrt(np.sum(g * g))
        g = g if n < 1.0 else g / n
        return -0.1 * np.clip(g, -0.05, 0.05), s
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.clip(0.05), optim.sgd(0.1))
    assert_traj(run(opt), reference(f))


def test_schedules_values():
    s = optim.exponential_decay(1.0, 10, 0.5)
    assert np.isclose(float(s(0)), 1.0) and np.isclose(float(s(10)), 0.5)
    assert np.isclose(float(s(15)), 0.5 ** 1.5)
    s = optim.exponential_decay(1.0, 10, 0.5, staircase=True, transition_begin=5, end_value=0.3)
    assert [round(float(s(c)), 6) for c in (0, 5, 14, 15, 40)] == [1.0, 1.0, 1.0, 0.5, 0.3]
    s = optim.piecewise_constant_schedule(1.0, {10: 0.5, 20: 0.1})
    assert [float(s(c)) for c in (0, 9, 10, 19, 20)] == pytest.approx([1, 1, .5, .5, .05])
    s = optim.linear_schedule(1.0, 0.0, 10, transition_begin=5)
    assert [float(s(c)) for c in (0, 5, 10, 15, 30)] == pytest.approx([1, 1, .5, 0, 0])
    s = optim.cosine_decay_schedule(1.0, 100, alpha=0.1)
    assert float(s(0)) == pytest.approx(1.0)
    assert float(s(50)) == pytest.approx(0.1 + 0.9 * 0.5)
    assert float(s(100)) == pytest.approx(0.1) and float(s(500)) == pytest.approx(0.1)
    s = optim.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110, end_value=0.1)
    assert float(s(0)) == 0.0 and float(s(5)) == pytest.approx(0.5)
    assert float(s(10)) == pytest.approx(1.0) and float(s(110)) == pytest.approx(0.1)
    s = optim.join_schedules([optim.constant_schedule(1.0), optim.constant_schedule(2.0)], [3])
    assert [float(s(c)) for c in (0, 2, 3, 9)] == [1.0, 1.0, 2.0, 2.0]
    # schedules work on traced counts
    assert float(fg.jit(s)(fnp.asarray(5))) == 2.0


def test_schedule_as_learning_rate():
    sched = optim.exponential_decay(0.1, 5, 0.5)
    traj = run(optim.sgd(sched))
    ref = reference(lambda t, g, p, s: (-0.1 * 0.5 ** ((t - 1) / 5) * g, s))
    assert_traj(traj, ref)


def test_inject_hyperparams_readable_and_editable():
    opt = optim.inject_hyperparams(optim.adam)(learning_rate=0.05)
    params = {k: fnp.asarray(v) for k, v in P0.items()}
    state = opt.init(params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.05)
    g = fg.grad(loss)(params)
    u1, _ = opt.update(g, state, params)
    state.hyperparams["learning_rate"] = fnp.asarray(0.005)
    u2, s2 = opt.update(g, state, params)
    np.testing.assert_allclose(np.asarray(u2["w"]), np.asarray(u1["w"]) / 10, rtol=1e-6)
    assert float(s2.hyperparams["learning_rate"]) == pytest.approx(0.005)
    # matches plain adam under jit
    assert_traj(run(optim.inject_hyperparams(optim.adam)(learning_rate=0.05)),
                reference(_adam_ref(0.05)))


def test_masked_and_multi_transform():
    opt = optim.masked(optim.sgd(0.1), {"w": True, "b": False})
    params = {k: fnp.asarray(v) for k, v in P0.items()}
    g = fg.grad(loss)(params)
    u, _ = opt.update(g, opt.init(params), params)
    np.testing.assert_allclose(np.asarray(u["w"]), -0.1 * np.asarray(g["w"]))
    np.testing.assert_allclose(np.asarray(u["b"]), np.asarray(g["b"]))   # passed through
    # callable mask, as in adamw(mask=...)
    opt = optim.adamw(0.05, weight_decay=0.1, mask=lambda p: {"w": True, "b": False})
    traj = run(opt)

    def f(t, g, p, s):
        u, s = _adam_ref(0.05)(t, g, p, s)
        u[:3] -= 0.05 * 0.1 * p[:3]
        return u, s
    assert_traj(traj, reference(f))
    opt = optim.multi_transform({"a": optim.adam(0.05), "s": optim.sgd(0.1)},
                                {"w": "a", "b": "s"})

    def g2(t, g, p, s):
        u, s = _adam_ref(0.05)(t, g, p, s)
        u[3:] = -0.1 * g[3:]
        return u, s
    assert_traj(run(opt), reference(g2))
    with pytest.raises(ValueError, match="labels"):
        optim.multi_transform({"a": optim.sgd(1.0)}, {"w": "a", "b": "zz"}).init(params)


def test_apply_every_accumulates():
    def f(t, g, p, s):
        acc = (s.get("acc", 0) if (t - 1) % 3 != 0 else 0) + g
        return (-0.1 * acc if t % 3 == 0 else 0 * g), {"acc": acc}
    assert_traj(run(optim.chain(optim.apply_every(3), optim.sgd(0.1))), reference(f))


def test_state_is_a_pytree_of_namedtuples_and_eager_matches_jit():
    params = {k: fnp.asarray(v) for k, v in P0.items()}
    state = optim.adam(1e-3).init(params)
    leaves, treedef = fg.tree.flatten(state)
    assert all(isinstance(l, fg.Array) for l in leaves)
    assert isinstance(state[0], tuple) and hasattr(state[0], "_fields")
    assert_traj(run(optim.adam(0.05), 5, jit=False), run(optim.adam(0.05), 5, jit=True),
                rtol=1e-12)


def test_errors():
    with pytest.raises(TypeError, match="GradientTransformation"):
        optim.chain(optim.sgd(0.1), lambda g: g)
    params = {"w": fnp.ones(2)}
    with pytest.raises(ValueError, match="params"):
        optim.add_decayed_weights(0.1).update(params, optim.EmptyState())
    with pytest.raises(ValueError, match="k must"):
        optim.apply_every(0)


def test_works_with_namedtuple_params():
    P = collections.namedtuple("P", "w b")
    params = P(fnp.ones(3), fnp.zeros(()))
    opt = optim.adam(0.1)
    state = opt.init(params)
    g = fg.grad(lambda p: fnp.sum(p.w ** 2) + p.b ** 2)(params)
    u, state = opt.update(g, state)
    new = optim.apply_updates(params, u)
    assert isinstance(new, P) and new.w.shape == (3,)
