"""The cupy backend on an NVIDIA GPU.  Every test here is marked ``gpu`` and skips cleanly
when cupy or a GPU is missing (CI has none); run them on a GPU machine with
``FUNCGRAD_BACKEND=cupy python -m pytest -q -m gpu tests/test_gpu.py``."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax, random
from funcgrad.core.backend import cupy_available

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not cupy_available(), reason="needs cupy and an NVIDIA GPU")]


@pytest.fixture
def gpu():
    return fg.devices("cupy")[0]


def _on_gpu(x):
    return type(x._value).__module__.startswith("cupy")


def test_device_put_and_placement(gpu):
    x = fg.device_put(np.arange(6.0, dtype=np.float32), gpu)
    assert x.device == gpu and _on_gpu(x)
    y = fnp.sin(x) * 2 + 1
    assert _on_gpu(y) and y.device == gpu                     # results stay on the GPU
    np.testing.assert_allclose(np.asarray(y), np.sin(np.arange(6.0)) * 2 + 1, rtol=1e-6)
    back = fg.device_put(y, fg.devices("numpy")[0])
    assert back.device.platform == "cpu"


def test_mixing_devices_is_an_error(gpu):
    x = fg.device_put(np.ones(3, np.float32), gpu)
    with pytest.raises((TypeError, ValueError)):
        x + np.ones(3, np.float32)


def test_jit_grad_vmap_on_gpu(gpu):
    w = fg.device_put(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), gpu)
    x = fg.device_put(np.ones((5, 4), np.float32), gpu)

    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    g_gpu = fg.jit(fg.grad(loss))(w, x)
    g_cpu = fg.grad(loss)(np.asarray(w), np.asarray(x))
    assert _on_gpu(g_gpu)
    np.testing.assert_allclose(np.asarray(g_gpu), np.asarray(g_cpu), rtol=1e-5, atol=1e-6)
    pe = fg.vmap(fg.grad(loss), in_axes=(None, 0))(w, x[:, None])
    assert pe.shape == (5, 4, 3) and _on_gpu(pe)


def test_fused_kernel_source_is_cuda(gpu):
    x = fg.device_put(np.ones(1024, np.float32), gpu)
    src = fg.jit(lambda v: fnp.tanh(v) * 0.5 + v * v).lower(x).compile().as_text()
    assert "ElementwiseKernel" in src or "__global__" in src or "tanh" in src


def test_control_flow_on_gpu(gpu):
    x = fg.device_put(np.arange(4.0, dtype=np.float32), gpu)
    c, ys = lax.scan(lambda c, v: (c + v, c * v), fnp.zeros((), fnp.float32), x)
    np.testing.assert_allclose(float(c), 6.0)
    out = lax.cond(fnp.sum(x) > 0, lambda v: v * 2, lambda v: v, x)
    assert _on_gpu(out)


def test_random_bits_match_cpu(gpu):
    key = random.key(42)
    cpu = np.asarray(random.normal(key, (1000,)))
    gkey = fg.device_put(key, gpu)
    g = random.normal(gkey, (1000,))
    assert _on_gpu(g)
    np.testing.assert_array_equal(np.asarray(random.bits(gkey, (64,))),
                                  np.asarray(random.bits(key, (64,))))
    np.testing.assert_allclose(np.asarray(g), cpu, rtol=1e-6, atol=1e-6)
