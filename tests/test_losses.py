"""Tests for ``funcgrad.losses``: values vs hand-written NumPy, reductions, gradients
(also for extreme logits), jit/vmap and errors."""
import collections

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import losses
from funcgrad.test_util import check_grads

F32 = np.float32
rng = np.random.default_rng(0)
P = rng.normal(size=(4, 3))
T = rng.normal(size=(4, 3))
LOGITS = rng.normal(size=(4, 5)) * 2
LABELS = np.array([0, 3, 4, 1])
ONEHOT = np.eye(5)[LABELS]
PROBS_T = rng.dirichlet(np.ones(5), size=4)
BIN_T = (rng.uniform(size=(4, 3)) > 0.5).astype(float)
PROB = rng.uniform(0.05, 0.95, size=(4, 3))


def _a(x):
    return np.asarray(x)


def _lse(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(x - m).sum(axis))


def _huber(e, d=1.0):
    a = np.abs(e)
    return np.where(a <= d, 0.5 * e ** 2, d * (a - 0.5 * d))


# name -> (loss call, elementwise NumPy reference before the per-example mean)
CASES = {
    "mse": (lambda r: losses.mean_squared_error(P, T, reduction=r), (P - T) ** 2),
    "mae": (lambda r: losses.mean_absolute_error(P, T, reduction=r), np.abs(P - T)),
    "huber": (lambda r: losses.huber_loss(P, T, reduction=r), _huber(P - T)),
    "huber_d": (lambda r: losses.huber_loss(P, T, delta=0.3, reduction=r), _huber(P - T, 0.3)),
    "bce": (lambda r: losses.binary_cross_entropy(PROB, BIN_T, reduction=r),
            -(BIN_T * np.log(PROB) + (1 - BIN_T) * np.log(1 - PROB))),
    "sigmoid_bce": (lambda r: losses.sigmoid_binary_cross_entropy(P, BIN_T, reduction=r),
                    -(BIN_T * np.log(1 / (1 + np.exp(-P)))
                      + (1 - BIN_T) * np.log(1 - 1 / (1 + np.exp(-P))))),
    "softmax_ce": (lambda r: losses.softmax_cross_entropy(LOGITS, PROBS_T, reduction=r),
                   -(PROBS_T * (LOGITS - _lse(LOGITS)[:, None])).sum(-1)),
    "softmax_ce_onehot": (lambda r: losses.softmax_cross_entropy(LOGITS, ONEHOT, reduction=r),
                          _lse(LOGITS) - LOGITS[np.arange(4), LABELS]),
    "softmax_ce_int": (lambda r: losses.softmax_cross_entropy_with_integer_labels(
        LOGITS, LABELS, reduction=r), _lse(LOGITS) - LOGITS[np.arange(4), LABELS]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_reductions(name):
    fn, elem = CASES[name]
    per_example = elem.reshape(elem.shape[0], -1).mean(1) if elem.ndim > 1 else elem
    np.testing.assert_allclose(_a(fn("none")), per_example, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(fn("mean")), per_example.mean(), rtol=1e-10)
    np.testing.assert_allclose(float(fn("sum")), per_example.sum(), rtol=1e-10)
    assert fn("mean").shape == () and fn("none").shape == (4,)
    with pytest.raises(ValueError, match="reduction"):
        fn("avg")


def test_float32_and_default_dtypes():
    out = losses.mean_squared_error(fnp.array([1.0, 2.0]), fnp.array([1.0, 4.0]))
    assert out.dtype == np.float32 and float(out) == 2.0
    # Python lists and ints are accepted (promoted to float)
    assert float(losses.mean_absolute_error([1, 2, 3], [1, 1, 1])) == 1.0
    x = losses.softmax_cross_entropy_with_integer_labels(LOGITS.astype(F32), LABELS)
    assert x.dtype == np.float32


def test_per_example_means_over_trailing_axes():
    p = rng.normal(size=(2, 3, 4))
    t = rng.normal(size=(2, 3, 4))
    none = _a(losses.mean_squared_error(p, t, reduction="none"))
    np.testing.assert_allclose(none, ((p - t) ** 2).mean((1, 2)), rtol=1e-12)
    np.testing.assert_allclose(float(losses.mean_squared_error(p, t, reduction="sum")),
                               none.sum(), rtol=1e-12)
    # sequence classification (batch, time, classes) + integer labels (batch, time)
    lg = rng.normal(size=(2, 3, 5))
    lb = rng.integers(0, 5, size=(2, 3))
    ce = _a(losses.softmax_cross_entropy_with_integer_labels(lg, lb, reduction="none"))
    ref = (_lse(lg) - np.take_along_axis(lg, lb[..., None], -1)[..., 0]).mean(1)
    np.testing.assert_allclose(ce, ref, rtol=1e-12)
    # targets broadcast against predictions; 0-d inputs stay 0-d with "none"
    assert losses.mean_squared_error(np.ones((3, 2)), 0.5, reduction="none").shape == (3,)
    assert losses.huber_loss(2.0, 0.0, reduction="none").shape == ()


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "bce", "sigmoid_bce"])
def test_gradients(name):
    f = {
        "mse": losses.mean_squared_error, "mae": losses.mean_absolute_error,
        "huber": losses.huber_loss, "bce": losses.binary_cross_entropy,
        "sigmoid_bce": losses.sigmoid_binary_cross_entropy,
    }[name]
    x = PROB if name == "bce" else P
    t = BIN_T if "bce" in name else T
    check_grads(lambda a, b: f(a, b), (x, t), order=1 if name in ("mae", "huber") else 2)


def test_cross_entropy_gradients():
    check_grads(lambda z, y: losses.softmax_cross_entropy(z, y), (LOGITS, PROBS_T), order=2)
    check_grads(lambda z: losses.softmax_cross_entropy_with_integer_labels(z, LABELS),
                (LOGITS,), order=2)
    # gradient = softmax - onehot (mean reduction divides by the batch)
    g = _a(fg.grad(lambda z: losses.softmax_cross_entropy_with_integer_labels(z, LABELS))(LOGITS))
    sm = np.exp(LOGITS - _lse(LOGITS)[:, None])
    np.testing.assert_allclose(g, (sm - ONEHOT) / 4, rtol=1e-10, atol=1e-12)
    gs = _a(fg.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, BIN_T, reduction="sum"))(P))
    np.testing.assert_allclose(gs, (1 / (1 + np.exp(-P)) - BIN_T) / 3, rtol=1e-10)


def test_large_logits_stay_finite():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], F32)
    y = np.array([1, 1])
    v = losses.softmax_cross_entropy_with_integer_labels(z, y, reduction="none")
    np.testing.assert_allclose(_a(v), [2e4, 0.0], rtol=1e-6)
    g = _a(fg.grad(lambda q: losses.softmax_cross_entropy_with_integer_labels(q, y))(z))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-6)
    oh = np.eye(3, dtype=F32)[y]
    g2 = _a(fg.grad(lambda q: losses.softmax_cross_entropy(q, oh))(z))
    np.testing.assert_allclose(g2, g, atol=1e-6)
    b = np.array([1e4, -1e4, 1e4, -1e4], F32)
    t = np.array([1.0, 0.0, 0.0, 1.0], F32)
    v = _a(losses.sigmoid_binary_cross_entropy(b, t, reduction="none"))
    np.testing.assert_allclose(v, [0, 0, 1e4, 1e4], rtol=1e-6)
    gb = _a(fg.grad(lambda q: losses.sigmoid_binary_cross_entropy(q, t, reduction="sum"))(b))
    np.testing.assert_allclose(gb, [0, 0, 1, -1], atol=1e-6)
    # probabilities of exactly 0 and 1 are clipped: finite values and gradients
    p = np.array([0.0, 1.0, 0.5], F32)
    tt = np.array([1.0, 0.0, 1.0], F32)
    assert np.isfinite(float(losses.binary_cross_entropy(p, tt)))
    assert np.all(np.isfinite(_a(fg.grad(lambda q: losses.binary_cross_entropy(q, tt))(p))))
    # -inf logits with zero probability targets are fine
    zi = np.array([[0.0, -np.inf, 1.0]])
    yi = np.array([[0.5, 0.0, 0.5]])
    assert np.isfinite(float(losses.softmax_cross_entropy(zi, yi)))
    assert np.all(np.isfinite(_a(fg.grad(lambda q: losses.softmax_cross_entropy(q, yi))(zi))[:, [0, 2]]))


def test_integer_label_errors():
    f = losses.softmax_cross_entropy_with_integer_labels
    with pytest.raises(TypeError, match="integer class indices"):
        f(LOGITS, LABELS.astype(float))
    with pytest.raises(TypeError, match="shape"):
        f(LOGITS, LABELS[:3])
    with pytest.raises(TypeError, match="shape"):
        f(LOGITS, ONEHOT.astype(np.int32))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        f(LOGITS, np.array([0, 1, 2, 5]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        f(LOGITS, np.array([0, -1, 2, 3]))
    with pytest.raises(TypeError, match="do not match"):
        losses.softmax_cross_entropy(LOGITS, ONEHOT[:, :4])
    with pytest.raises(TypeError, match="broadcast"):
        losses.mean_squared_error(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="delta"):
        losses.huber_loss(P, T, delta=0.0)


def test_penalties():
    Params = collections.namedtuple("Params", "w b")
    tree = {"layer": Params(w=np.array([[1.0, -2.0], [3.0, -4.0]]), b=np.array([0.5, -0.5])),
            "extra": [np.array(-1.5), None]}
    assert float(losses.l1_penalty(tree)) == 1 + 2 + 3 + 4 + 0.5 + 0.5 + 1.5
    assert float(losses.l2_penalty(tree)) == 1 + 4 + 9 + 16 + 0.25 + 0.25 + 2.25
    assert float(losses.l2_penalty({})) == 0.0
    g = fg.grad(losses.l2_penalty)(tree)
    np.testing.assert_allclose(_a(g["layer"].w), 2 * tree["layer"].w)
    g1 = fg.grad(losses.l1_penalty)({"a": np.array([-2.0, 0.0, 3.0])})
    np.testing.assert_array_equal(_a(g1["a"]), [-1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="array"):
        losses.l1_penalty({"a": "string"})
    # typical use: data loss + coefficient * penalty, all under jit
    loss = fg.jit(lambda w: losses.mean_squared_error(w * 2.0, 1.0) + 1e-3 * losses.l2_penalty(w))
    assert np.isfinite(float(loss(fnp.ones(3))))


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_and_vmap(name):
    fn, _ = CASES[name]
    np.testing.assert_allclose(_a(fg.jit(lambda: fn("none"))()), _a(fn("none")), rtol=1e-12)
    f = {
        "mse": losses.mean_squared_error, "mae": losses.mean_absolute_error,
        "huber": losses.huber_loss,
        "sigmoid_bce": losses.sigmoid_binary_cross_entropy,
    }.get(name)
    if f is not None:
        per_row = fg.vmap(lambda a, b: f(a, b))(P, T)
        np.testing.assert_allclose(_a(per_row), [float(f(a, b)) for a, b in zip(P, T)],
                                   rtol=1e-12)
    v = fg.vmap(lambda z, y: losses.softmax_cross_entropy_with_integer_labels(z, y))(
        LOGITS[:, None, :], LABELS[:, None])
    np.testing.assert_allclose(_a(v), _lse(LOGITS) - LOGITS[np.arange(4), LABELS], rtol=1e-12)
