"""End-to-end training with ``funcgrad.layers`` + ``funcgrad.optim`` + ``funcgrad.losses``
under ``jit``: an MLP on scikit-learn's bundled digits (> 95% test accuracy), a tiny CNN on
the same images, a BatchNorm + Dropout model with its state threaded through the step, and
an LSTM on a toy sequence task."""
import numpy as np
import pytest

import funcgrad as fg
from funcgrad import layers as L
from funcgrad import losses, optim, random


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()          # bundled with scikit-learn: no download
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    n_train = 1400
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _train_step(apply_fun, opt, **kw):
    def loss(params, x, y):
        return losses.softmax_cross_entropy_with_integer_labels(apply_fun(params, x, **kw), y)

    @fg.jit
    def step(params, opt_state, x, y):
        value, grads = fg.value_and_grad(loss)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    return step


def _accuracy(apply_fun, params, x, y, **kw):
    logits = fg.jit(lambda p, xx: apply_fun(p, xx, **kw))(params, x)
    return float(np.mean(np.argmax(np.asarray(logits), -1) == y))


def test_mlp_digits_reaches_95_percent(digits):
    xtr, ytr, xte, yte = digits
    init_fun, apply_fun = L.serial(L.Dense(128), L.Relu, L.Dense(10))
    _, params = init_fun(random.key(0), (-1, 64))
    opt = optim.adam(1e-2)
    opt_state = opt.init(params)
    step = _train_step(apply_fun, opt)
    rng = np.random.default_rng(1)
    batch = 100
    first = None
    for epoch in range(12):
        perm = rng.permutation(len(xtr))
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            params, opt_state, value = step(params, opt_state, xtr[idx], ytr[idx])
            first = float(value) if first is None else first
    assert np.isfinite(float(value)) and float(value) < 0.5 * first
    acc = _accuracy(apply_fun, params, xte, yte)
    assert acc > 0.95, acc


def test_cnn_digits_loss_decreases(digits):
    xtr, ytr, _, _ = digits
    x = xtr[:128].reshape(-1, 8, 8, 1)            # NHWC
    y = ytr[:128]
    init_fun, apply_fun = L.serial(L.Conv(8, (3, 3), padding="SAME"), L.Relu,
                                   L.MaxPool((2, 2)), L.Conv(16, (3, 3), padding="SAME"),
                                   L.Relu, L.AvgPool((2, 2)), L.Flatten, L.Dense(10))
    out_shape, params = init_fun(random.key(1), (-1, 8, 8, 1))
    assert out_shape == (-1, 10)
    opt = optim.adam(1e-2)
    opt_state = opt.init(params)
    step = _train_step(apply_fun, opt)
    values = []
    for _ in range(25):
        params, opt_state, value = step(params, opt_state, x, y)
        values.append(float(value))
    assert all(np.isfinite(values))
    assert values[-1] < 0.6 * values[0], values
    assert _accuracy(apply_fun, params, x, y) > 0.5


def test_batchnorm_dropout_model_with_state(digits):
    """Dropout needs a fresh key per step and BatchNorm's running statistics are threaded
    through the jitted step; evaluation uses train=False and the trained state."""
    xtr, ytr, xte, yte = digits
    init_fun, apply_fun = L.serial(L.Dense(64), L.BatchNorm(), L.Relu, L.Dropout(0.2),
                                   L.Dense(10))
    _, params = init_fun(random.key(2), (-1, 64))
    state = L.init_state(init_fun, (-1, 64))
    opt = optim.adam(1e-2)
    opt_state = opt.init(params)

    def loss(params, state, x, y, key):
        logits, state = apply_fun(params, x, state=state, rng=key, train=True)
        return losses.softmax_cross_entropy_with_integer_labels(logits, y), state

    @fg.jit
    def step(params, state, opt_state, x, y, key):
        (value, state), grads = fg.value_and_grad(loss, has_aux=True)(params, state, x, y, key)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), state, opt_state, value

    key = random.key(3)
    values = []
    for epoch in range(4):
        for i in range(0, len(xtr), 100):
            key, sub = random.split(key)
            params, state, opt_state, value = step(params, state, opt_state,
                                                   xtr[i:i + 100], ytr[i:i + 100], sub)
            values.append(float(value))
    assert np.mean(values[-5:]) < 0.5 * np.mean(values[:5])
    # the running mean is no longer its initial zeros
    assert np.abs(np.asarray(state[1]["mean"])).max() > 1e-3
    logits, _ = fg.jit(lambda p, s, x: apply_fun(p, x, state=s, train=False))(params, state,
                                                                              xte)
    acc = float(np.mean(np.argmax(np.asarray(logits), -1) == yte))
    assert acc > 0.85, acc


def test_lstm_toy_sequence_task_loss_decreases():
    """Predict the mean of a random sequence from the LSTM's last hidden state."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 10, 1)).astype(np.float32)
    y = x.mean(axis=(1, 2))[:, None] * 3.0
    init_fun, apply_fun = L.serial(L.LSTM(16, return_sequences=False), L.Dense(1))
    out_shape, params = init_fun(random.key(0), (-1, 10, 1))
    assert out_shape == (-1, 1)
    opt = optim.adam(2e-2)
    opt_state = opt.init(params)

    @fg.jit
    def step(params, opt_state):
        value, grads = fg.value_and_grad(
            lambda p: losses.mean_squared_error(apply_fun(p, x), y))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    values = []
    for _ in range(40):
        params, opt_state, value = step(params, opt_state)
        values.append(float(value))
    assert all(np.isfinite(values))
    assert values[-1] < 0.3 * values[0], values


def test_gru_sequence_classifier_with_embedding_trains():
    """Embedding -> GRU -> Dense: does token 1 occur in the sequence?"""
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 6, (64, 6)).astype(np.int32)
    labels = rng.integers(0, 2, 64).astype(np.int32)
    pos = rng.integers(0, 6, 64)
    ids[labels == 1, pos[labels == 1]] = 1
    init_fun, apply_fun = L.serial(L.Embedding(6, 8), L.GRU(16, return_sequences=False),
                                   L.Dense(2))
    _, params = init_fun(random.key(0), (-1, 6))
    opt = optim.adam(3e-2)
    opt_state = opt.init(params)
    step = _train_step(apply_fun, opt)
    values = []
    for _ in range(40):
        params, opt_state, value = step(params, opt_state, ids, labels)
        values.append(float(value))
    assert values[-1] < 0.5 * values[0], values
    assert _accuracy(apply_fun, params, ids, labels) > 0.9
