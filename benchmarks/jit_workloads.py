"""Workloads for ``benchmarks/run.py``: each returns a dict of named callables to time
(funcgrad, hand-written NumPy and, when importable, JAX / PyTorch / autograd).

Every implementation of one workload computes the same thing from the same data; the
runner checks that their results agree before timing them.
"""
from __future__ import annotations

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def _try_import(name):
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


def optional_frameworks():
    """``{"jax": module or None, "torch": ..., "autograd": ...}``."""
    out = {}
    jax = _try_import("jax")
    if jax is not None:
        try:
            jax.config.update("jax_platforms", "cpu")
        except Exception:  # noqa: BLE001
            pass
    out["jax"] = jax
    out["torch"] = _try_import("torch")
    out["autograd"] = _try_import("autograd")
    return out


# ============================================================================ (a) chain

def chain_fnp(x):
    """``tanh(x)*sigmoid(x) + 0.5*x*x - exp(-abs(x))/(1+x*x)`` (sigmoid written out, as in
    the hand-written NumPy version)."""
    return fnp.tanh(x) * (1 / (1 + fnp.exp(-x))) + 0.5 * x * x - fnp.exp(-fnp.abs(x)) / (1 + x * x)


def chain_workload(n, fw):
    rng = np.random.default_rng(0)
    xn = rng.standard_normal(n).astype(np.float32)
    x = fnp.asarray(xn)
    one, half = np.float32(1), np.float32(0.5)

    def numpy_chain():
        return np.tanh(xn) * (one / (one + np.exp(-xn))) + half * xn * xn - \
            np.exp(-np.abs(xn)) / (one + xn * xn)

    jitted = fg.jit(chain_fnp)
    impls = {"funcgrad jit": lambda: jitted(x),
             "numpy (hand)": numpy_chain,
             "funcgrad eager": lambda: chain_fnp(x)}
    jax = fw.get("jax")
    if jax is not None:
        import jax.numpy as jnp
        jf = jax.jit(lambda v: jnp.tanh(v) * jax.nn.sigmoid(v) + 0.5 * v * v
                     - jnp.exp(-jnp.abs(v)) / (1 + v * v))
        xj = jnp.asarray(xn)
        impls["jax jit"] = lambda: jf(xj).block_until_ready()
    torch = fw.get("torch")
    if torch is not None:
        xt = torch.from_numpy(xn.copy())

        def torch_chain():
            with torch.no_grad():
                return torch.tanh(xt) * torch.sigmoid(xt) + 0.5 * xt * xt - \
                    torch.exp(-torch.abs(xt)) / (1 + xt * xt)
        impls["torch eager"] = torch_chain
    return impls


# ============================================================================ MLP helpers

def init_mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        W = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        params.append((W, np.zeros(b, np.float32)))
    return params


def _relu(h):
    nn = getattr(fg, "nn", None)
    if nn is not None and hasattr(nn, "relu"):
        return nn.relu(h)
    return fnp.where(h > 0, h, 0.0)


def mlp_apply(params, x):
    for W, b in params[:-1]:
        x = _relu(x @ W + b)
    W, b = params[-1]
    return x @ W + b


def xent_loss(params, x, labels_onehot):
    """Softmax cross-entropy with ``nn.log_softmax``, as the JAX step uses
    ``jax.nn.log_softmax`` (both keep the max shift out of the gradient)."""
    logits = mlp_apply(params, x)
    return -fnp.mean(fnp.sum(fg.nn.log_softmax(logits, axis=1) * labels_onehot, axis=1))


# ============================================================================ (b) MLP SGD

def mlp_sgd_workload(fw, sizes=(784, 512, 512, 10), batch=128, lr=0.01):
    rng = np.random.default_rng(1)
    params_np = init_mlp(sizes)
    xn = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], size=batch)
    yn = np.eye(sizes[-1], dtype=np.float32)[labels]
    lr32 = np.float32(lr)

    @fg.jit
    def step(params, x, y):
        g = fg.grad(xent_loss)(params, x, y)
        return [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, g)]

    params = [(fnp.asarray(W), fnp.asarray(b)) for W, b in params_np]
    x, y = fnp.asarray(xn), fnp.asarray(yn)

    def fg_step():
        return step(params, x, y)

    def numpy_step():
        acts = [xn]
        pre = []
        a = xn
        for W, b in params_np[:-1]:
            z = a @ W + b
            pre.append(z)
            a = np.maximum(z, 0)
            acts.append(a)
        W, b = params_np[-1]
        logits = a @ W + b
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        p = e / e.sum(axis=1, keepdims=True)
        d = (p - yn) * np.float32(1.0 / batch)
        new = [None] * len(params_np)
        for li in range(len(params_np) - 1, -1, -1):
            W, b = params_np[li]
            gW = acts[li].T @ d
            gb = d.sum(axis=0)
            if li:
                d = (d @ W.T) * (pre[li - 1] > 0)
            new[li] = (W - lr32 * gW, b - lr32 * gb)
        return new

    impls = {"funcgrad jit": fg_step, "numpy (hand)": numpy_step}
    jax = fw.get("jax")
    if jax is not None:
        import jax.numpy as jnp

        def jloss(params, x, y):
            h = x
            for W, b in params[:-1]:
                h = jax.nn.relu(h @ W + b)
            W, b = params[-1]
            logits = h @ W + b
            return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * y, axis=1))

        @jax.jit
        def jstep(params, x, y):
            g = jax.grad(jloss)(params, x, y)
            return [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, g)]

        jp = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params_np]
        jx, jy = jnp.asarray(xn), jnp.asarray(yn)
        impls["jax jit"] = lambda: jax.block_until_ready(jstep(jp, jx, jy))
    torch = fw.get("torch")
    if torch is not None:
        tp = [(torch.from_numpy(W.copy()).requires_grad_(), torch.from_numpy(b.copy())
               .requires_grad_()) for W, b in params_np]
        tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)

        def torch_step():
            h = tx
            for W, b in tp[:-1]:
                h = torch.relu(h @ W + b)
            W, b = tp[-1]
            loss = -(torch.log_softmax(h @ W + b, dim=1) * ty).sum(1).mean()
            grads = torch.autograd.grad(loss, [t for pair in tp for t in pair])
            with torch.no_grad():
                return [t - lr * g for t, g in zip([t for pair in tp for t in pair], grads)]
        impls["torch eager"] = torch_step
    ag = fw.get("autograd")
    if ag is not None:
        import autograd
        import autograd.numpy as anp

        def aloss(params, x, y):
            h = x
            for W, b in params[:-1]:
                h = anp.maximum(h @ W + b, 0)
            W, b = params[-1]
            logits = h @ W + b
            m = anp.max(logits, axis=1, keepdims=True)
            z = logits - m
            return -anp.mean(anp.sum((z - anp.log(anp.sum(anp.exp(z), axis=1,
                                                              keepdims=True))) * y, axis=1))
        agrad = autograd.grad(aloss)

        def ag_step():
            g = agrad(params_np, xn, yn)
            return [(W - lr32 * gW, b - lr32 * gb) for (W, b), (gW, gb) in zip(params_np, g)]
        impls["autograd"] = ag_step
    return impls, (step, params, x, y)


# ============================================================================ (c) small Adam

def adam_fnp(params, m, v, t, x, y, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    def loss(p):
        return fnp.mean((mlp_apply(p, x) - y) ** 2)
    g = fg.grad(loss)(params)
    t = t + 1
    tm = fg.tree_util.tree_map
    m = tm(lambda m, g: b1 * m + (1 - b1) * g, m, g)
    v = tm(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
    c1 = 1 - b1 ** t
    c2 = 1 - b2 ** t
    params = tm(lambda p, m, v: p - lr * (m / c1) / (fnp.sqrt(v / c2) + eps), params, m, v)
    return params, m, v, t


def adam_workload(fw, sizes=(8, 32, 32, 1), batch=16):
    rng = np.random.default_rng(2)
    params_np = init_mlp(sizes, seed=3)
    xn = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    yn = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    step = fg.jit(adam_fnp)
    tm = fg.tree_util.tree_map
    st = {"s": ([(fnp.asarray(W), fnp.asarray(b)) for W, b in params_np],
                [(fnp.zeros(W.shape), fnp.zeros(b.shape)) for W, b in params_np],
                [(fnp.zeros(W.shape), fnp.zeros(b.shape)) for W, b in params_np],
                fnp.asarray(0.0))}
    x, y = fnp.asarray(xn), fnp.asarray(yn)
    del tm

    def fg_step():
        st["s"] = step(*st["s"], x, y)
        return st["s"]

    hp = [[W.copy(), b.copy()] for W, b in params_np]
    hm = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params_np]
    hv = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params_np]
    ht = [0]
    f32 = np.float32

    def numpy_step():
        acts, pre = [xn], []
        a = xn
        for W, b in hp[:-1]:
            z = a @ W + b
            pre.append(z)
            a = np.maximum(z, 0)
            acts.append(a)
        W, b = hp[-1]
        out = a @ W + b
        d = (out - yn) * f32(2.0 / out.size)
        grads = [None] * len(hp)
        for li in range(len(hp) - 1, -1, -1):
            W = hp[li][0]
            grads[li] = (acts[li].T @ d, d.sum(0))
            if li:
                d = (d @ W.T) * (pre[li - 1] > 0)
        ht[0] += 1
        t = ht[0]
        c1, c2 = f32(1 - 0.9 ** t), f32(1 - 0.999 ** t)
        for li in range(len(hp)):
            for k in range(2):
                g = grads[li][k]
                m = hm[li][k] = f32(0.9) * hm[li][k] + f32(0.1) * g
                v = hv[li][k] = f32(0.999) * hv[li][k] + f32(0.001) * g * g
                hp[li][k] = hp[li][k] - f32(1e-3) * (m / c1) / (np.sqrt(v / c2) + f32(1e-8))
        return hp

    impls = {"funcgrad jit": fg_step, "numpy (hand)": numpy_step}
    jax = fw.get("jax")
    if jax is not None:
        import jax.numpy as jnp

        def jloss(p, x, y):
            h = x
            for W, b in p[:-1]:
                h = jax.nn.relu(h @ W + b)
            W, b = p[-1]
            return jnp.mean((h @ W + b - y) ** 2)

        @jax.jit
        def jstep(p, m, v, t, x, y):
            g = jax.grad(jloss)(p, x, y)
            t = t + 1
            m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
            v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
            c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
            p = jax.tree_util.tree_map(
                lambda p, m, v: p - 1e-3 * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), p, m, v)
            return p, m, v, t

        js = {"s": ([(jnp.asarray(W), jnp.asarray(b)) for W, b in params_np],
                    [(jnp.zeros(W.shape), jnp.zeros(b.shape)) for W, b in params_np],
                    [(jnp.zeros(W.shape), jnp.zeros(b.shape)) for W, b in params_np],
                    jnp.asarray(0.0))}
        jx, jy = jnp.asarray(xn), jnp.asarray(yn)

        def jax_step():
            js["s"] = jax.block_until_ready(jstep(*js["s"], jx, jy))
            return js["s"]
        impls["jax jit"] = jax_step
    torch = fw.get("torch")
    if torch is not None:
        tparams = [t for W, b in params_np for t in
                   (torch.from_numpy(W.copy()).requires_grad_(),
                    torch.from_numpy(b.copy()).requires_grad_())]
        opt = torch.optim.Adam(tparams, lr=1e-3)
        tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)

        def torch_step():
            h = tx
            for i in range(0, len(tparams) - 2, 2):
                h = torch.relu(h @ tparams[i] + tparams[i + 1])
            loss = ((h @ tparams[-2] + tparams[-1] - ty) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return tparams
        impls["torch eager (optim.Adam)"] = torch_step
    ag = fw.get("autograd")
    if ag is not None:
        import autograd
        import autograd.numpy as anp

        def aloss(p, x, y):
            h = x
            for W, b in p[:-1]:
                h = anp.maximum(h @ W + b, 0)
            W, b = p[-1]
            return anp.mean((h @ W + b - y) ** 2)
        agrad = autograd.grad(aloss)
        ap = [[W.copy(), b.copy()] for W, b in params_np]
        am = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params_np]
        av = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params_np]
        at = [0]

        def ag_step():
            g = agrad(ap, xn, yn)
            at[0] += 1
            t = at[0]
            c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
            for i in range(len(ap)):
                for k in range(2):
                    am[i][k] = 0.9 * am[i][k] + 0.1 * g[i][k]
                    av[i][k] = 0.999 * av[i][k] + 0.001 * g[i][k] ** 2
                    ap[i][k] = ap[i][k] - 1e-3 * (am[i][k] / c1) / (
                        np.sqrt(av[i][k] / c2) + 1e-8)
            return ap
        impls["autograd"] = ag_step
    return impls


# ============================================================================ (d) compile latency

def compile_latency_workload(fw, hidden_layers):
    sizes = (784,) + (512,) * hidden_layers + (10,)
    rng = np.random.default_rng(4)
    params_np = init_mlp(sizes, seed=5)
    xn = rng.standard_normal((128, 784)).astype(np.float32)
    yn = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    params = [(fnp.asarray(W), fnp.asarray(b)) for W, b in params_np]
    x, y = fnp.asarray(xn), fnp.asarray(yn)

    def fg_trace_compile():
        def step(params, x, y):
            g = fg.grad(xent_loss)(params, x, y)
            return [(W - 0.01 * gW, b - 0.01 * gb) for (W, b), (gW, gb) in zip(params, g)]
        return fg.jit(step).lower(params, x, y).compile()

    impls = {"funcgrad trace+compile": fg_trace_compile}
    jax = fw.get("jax")
    if jax is not None:
        import jax.numpy as jnp
        jp = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params_np]
        jx, jy = jnp.asarray(xn), jnp.asarray(yn)

        def jax_first_call():
            def jloss(params, x, y):
                h = x
                for W, b in params[:-1]:
                    h = jax.nn.relu(h @ W + b)
                W, b = params[-1]
                return -jnp.mean(jnp.sum(jax.nn.log_softmax(h @ W + b) * y, axis=1))

            def jstep(params, x, y):
                g = jax.grad(jloss)(params, x, y)
                return [(W - 0.01 * gW, b - 0.01 * gb) for (W, b), (gW, gb) in zip(params, g)]
            return jax.block_until_ready(jax.jit(jstep)(jp, jx, jy))

        def jax_trace_compile():
            def jloss(params, x, y):
                h = x
                for W, b in params[:-1]:
                    h = jax.nn.relu(h @ W + b)
                W, b = params[-1]
                return -jnp.mean(jnp.sum(jax.nn.log_softmax(h @ W + b) * y, axis=1))

            def jstep(params, x, y):
                g = jax.grad(jloss)(params, x, y)
                return [(W - 0.01 * gW, b - 0.01 * gb) for (W, b), (gW, gb) in zip(params, g)]
            return jax.jit(jstep).lower(jp, jx, jy).compile()
        impls["jax first call"] = jax_first_call
        impls["jax trace+compile"] = jax_trace_compile
    return impls


# ============================================================================ (e) eager dispatch

def eager_dispatch_workload(fw, n=1000):
    xs = fnp.arange(8.0)
    ys = fnp.ones(8)
    xn, yn = np.arange(8.0, dtype=np.float32), np.ones(8, np.float32)

    def fg_adds():
        x = xs
        for _ in range(n):
            x = x + ys
        return x

    def np_adds():
        x = xn
        for _ in range(n):
            x = x + yn
        return x

    impls = {"funcgrad eager": fg_adds, "numpy": np_adds}
    jax = fw.get("jax")
    if jax is not None:
        import jax.numpy as jnp
        jx, jy = jnp.asarray(xn), jnp.asarray(yn)

        def jax_adds():
            x = jx
            for _ in range(n):
                x = x + jy
            return x.block_until_ready()
        impls["jax eager"] = jax_adds
    torch = fw.get("torch")
    if torch is not None:
        tx, ty = torch.from_numpy(xn), torch.from_numpy(yn)

        def torch_adds():
            x = tx
            for _ in range(n):
                x = x + ty
            return x
        impls["torch eager"] = torch_adds
    return impls
