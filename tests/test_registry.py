"""The registry invariant (DESIGN.md "Invariants that keep it honest").

Every registered primitive must carry all of its rules and a ``test_spec``; every one then
gets a generated property test from its spec (docs/internals.md "Registry test",
docs/testing.md):

(a) eager value == evaluating ``make_jaxpr`` of the same call (and the jaxpr type-checks,
    and the eager output has the type the shape rule promises),
(b) ``jit`` == eager (bit for bit for elementwise primitives),
(c) ``vmap`` == a Python loop, with the batch at axis 0, at the last axis, at a middle
    axis, and with each operand unbatched in turn,
(d) ``check_grads`` to ``grad_order`` (default 2) in both modes, in float64,
(e) linear primitives: transpose consistency ``<ct, f(t)> == <f^T(ct), t>``.

New primitives are picked up automatically: the parametrization walks
``Primitive.registry`` after importing every ``funcgrad`` module.  Samples come from
seeded ``numpy.random.Generator``s (deterministic).
"""
from __future__ import annotations

import importlib
import pkgutil
import zlib

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.core.abstract import ShapedArray
from funcgrad.core.ir import ClosedJaxpr, Jaxpr, check_jaxpr
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import eval_jaxpr
from funcgrad.interpreters import ad
from funcgrad.interpreters.ad_util import Zero
from funcgrad.test_util import check_close, check_grads


# ----------------------------------------------------------------------------- load everything

def _import_all():
    """Import every funcgrad module so all primitives register; returns import failures."""
    failures = {}
    for mod in pkgutil.walk_packages(fg.__path__, "funcgrad."):
        try:
            importlib.import_module(mod.name)
        except ImportError as e:   # optional dependencies (cupy, hypothesis) may be absent
            if getattr(e, "name", None) and not str(e.name).startswith("funcgrad"):
                continue
            failures[mod.name] = repr(e)
        except Exception as e:  # noqa: BLE001 - reported by test_all_modules_import
            failures[mod.name] = repr(e)
    return failures


_IMPORT_FAILURES = _import_all()
PRIMS = sorted(Primitive.registry)

SPEC_KEYS = {"sample", "nargs", "kinds", "domain", "params", "same_shape", "nondiff",
             "nondiff_args", "grad_order", "rtol", "atol", "eps", "modes", "linear", "skip",
             "gauge_invariant", "grad_transform"}
DOMAINS = (None, "positive", "unit", "gt1", "nonzero", "distinct", "bounded")


def test_all_modules_import():
    assert not _IMPORT_FAILURES, "funcgrad modules failed to import: " + "; ".join(
        f"{k}: {v}" for k, v in _IMPORT_FAILURES.items())


def test_registry_is_populated():
    for name in ("add", "sin", "dot_general", "reduce_sum", "broadcast_in_dim", "add_any"):
        assert name in Primitive.registry


# ----------------------------------------------------------------------------- completeness

def missing_rules(prim: Primitive):
    """The rules/spec entries ``prim`` lacks, as a list of short descriptions."""
    missing = []
    if prim.impl is None:
        missing.append("an eager impl (def_impl)")
    if prim.abstract_eval is None:
        missing.append("a shape rule (def_abstract_eval)")
    if prim.jvp is None:
        missing.append("a jvp rule (ad.defjvp / prim.jvp)")
    if prim.batch is None and prim.batch_with_axis is None:
        missing.append("a batching rule (prim.batch or prim.batch_with_axis)")
    if prim.linear and prim.transpose is None:
        missing.append("a transpose rule (it is marked linear)")
    spec = prim.test_spec
    if spec is None:
        missing.append("a test_spec (see docs/internals.md 'Registry test')")
    elif not isinstance(spec, dict):
        missing.append(f"a dict test_spec (got {type(spec).__name__})")
    else:
        if "skip" in spec:
            if not isinstance(spec["skip"], str) or not spec["skip"].strip():
                missing.append("a reason for its 'skip' test_spec (a non-empty string)")
        elif "custom" in spec:
            missing.append(f"a real test_spec: {{'custom': {spec['custom']!r}}} is a "
                           "placeholder; give a 'sample' function fn(rng, dtype) -> "
                           "(args, params)")
        elif "sample" in spec:
            if not callable(spec["sample"]):
                missing.append("a callable 'sample' in its test_spec")
        elif "nargs" not in spec:
            missing.append("a test_spec with 'sample', the elementwise shorthand 'nargs' "
                           "or 'skip'")
        unknown = set(spec) - SPEC_KEYS - {"custom"}
        if unknown:
            missing.append(f"known test_spec keys only (unknown: {sorted(unknown)}; "
                           f"allowed: {sorted(SPEC_KEYS)})")
        if "grad_transform" in spec and not callable(spec["grad_transform"]):
            missing.append("a callable 'grad_transform' (outs -> outs)")
        if spec.get("domain") not in DOMAINS:
            missing.append(f"a known domain (got {spec.get('domain')!r}; allowed {DOMAINS})")
    return missing


def _where(prim):
    fn = prim.impl or prim.abstract_eval
    return getattr(fn, "__module__", "?")


@pytest.mark.parametrize("name", PRIMS)
def test_rules_complete(name):
    prim = Primitive.registry[name]
    missing = missing_rules(prim)
    assert not missing, (f"primitive {name!r} (from {_where(prim)}) lacks: "
                         + "; ".join(missing))


def test_completeness_check_names_the_primitive():
    """A primitive without rules or spec is reported by name (guards the check itself)."""
    p = Primitive("registry_test_dummy", register=False)
    p.impl = lambda x: x
    msg = "; ".join(missing_rules(p))
    assert "shape rule" in msg and "jvp rule" in msg and "batching rule" in msg
    assert "test_spec" in msg
    p.test_spec = {"skip": ""}
    assert any("reason" in m for m in missing_rules(p))
    p.linear = True
    assert any("transpose" in m for m in missing_rules(p))
    p.test_spec = {"custom": "x"}
    assert any("placeholder" in m for m in missing_rules(p))


def test_lowerings_complete():
    """Every primitive has a lowering for each backend, once the compiler says how to ask."""
    has_lowering = getattr(fg._compiler, "has_lowering", None)
    if has_lowering is None:
        pytest.skip("funcgrad.compiler does not expose has_lowering(prim, backend) yet")
    backends = getattr(fg._compiler, "BACKENDS", ("numpy", "cupy"))
    bad = [f"{n} ({b})" for n in PRIMS for b in backends
           if "skip" not in (Primitive.registry[n].test_spec or {})
           and not has_lowering(Primitive.registry[n], b)]
    assert not bad, f"primitives without a lowering: {', '.join(bad)}"


# ----------------------------------------------------------------------------- sampling

_FLOAT_KINDS = ("float", "real", "num", "any", "realnum", "signed")


def _values(rng, shape, dtype, domain, grid=False):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo = 1 if domain in ("positive", "nonzero", "gt1") else (0 if dtype.kind == "u" else -5)
        v = rng.integers(lo, 6, shape)
        if domain == "nonzero" and dtype.kind == "i":
            v = v * rng.choice([-1, 1], shape)
        return v.astype(dtype)
    if domain == "positive":
        v = rng.uniform(0.2, 3.0, shape)
    elif domain == "unit":
        v = rng.uniform(-0.9, 0.9, shape)
    elif domain == "gt1":
        v = rng.uniform(1.2, 4.0, shape)
    elif domain == "nonzero":
        v = rng.uniform(0.2, 3.0, shape) * rng.choice([-1, 1], shape)
    elif domain == "bounded":
        v = rng.uniform(-1.0, 1.0, shape)
    elif grid:   # piecewise-constant ops: hit integers, halves and ties
        v = rng.integers(-6, 7, shape) / 2.0
    else:
        v = np.clip(rng.standard_normal(shape), -3, 3)
    if dtype.kind == "c":
        v = v + 0.1j * rng.uniform(-1, 1, shape)
    return np.asarray(v, dtype)


def _shorthand_sampler(spec):
    """The sampler for the elementwise shorthand ``{"nargs", "kinds", "domain", ...}``."""
    nargs = spec["nargs"]
    kinds = spec.get("kinds", "any")
    domain = spec.get("domain")

    def sample(rng, dtype):
        if kinds in _FLOAT_KINDS:
            dt = dtype
        elif kinds == "int":
            dt = np.dtype(np.int32)
        elif kinds == "intbool":
            dt = np.dtype(np.int32) if rng.random() < 0.5 else np.dtype(np.bool_)
        elif kinds == "bool":
            dt = np.dtype(np.bool_)
        else:
            raise ValueError(f"unknown kinds {kinds!r} in the shorthand spec")
        shape = [(3,), (2, 3), (2, 1, 3)][rng.integers(3)]
        grid = bool(spec.get("nondiff")) and domain is None
        args = [_values(rng, shape, dt, domain, grid) for _ in range(nargs)]
        if domain == "distinct" and nargs == 2 and dt.kind == "f":
            a, b = args
            args[1] = np.where(np.abs(a - b) < 0.1, a + 0.3, b).astype(dt)
        if nargs >= 2 and not spec.get("same_shape") and rng.random() < 0.35:
            i = int(rng.integers(nargs))
            args[i] = np.asarray(args[i].reshape(-1)[0])   # a rank-0 operand broadcasts
        return args, dict(spec.get("params", {}))

    return sample


def _spec(prim):
    spec = prim.test_spec or {}
    if "skip" in spec:
        pytest.skip(f"{prim.name}: {spec['skip']}")
    if "custom" in spec or not ("sample" in spec or "nargs" in spec):
        pytest.fail(f"primitive {prim.name!r} has no usable test_spec: {spec!r}")
    return spec


def _seed(name, k):
    return (zlib.crc32(name.encode()) * 7919 + k) % (2 ** 32)


def sample(prim, dtype, k=0):
    """``(args, params)`` for ``prim``: the ``k``-th seeded draw of its sampler."""
    spec = _spec(prim)
    sampler = spec["sample"] if "sample" in spec else _shorthand_sampler(spec)
    rng = np.random.default_rng(_seed(prim.name, k))
    args, params = sampler(rng, np.dtype(dtype))
    return [np.asarray(a) for a in args], dict(params)


def _caller(prim, params):
    def call(*xs):
        return prim.bind(*xs, **params)
    call.__name__ = prim.name
    return call


def _outs(prim, out):
    return list(out) if prim.multiple_results else [out]


def _np(x):
    return np.asarray(x)


def _assert_bitwise(a, b, what):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (
        f"{what}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
    same = (a == b) | ((a != a) & (b != b))
    assert np.all(same), f"{what}: values differ (max abs diff " \
        f"{np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.size else 0})"


def _close_tol(dtype):
    dt = np.dtype(dtype)
    return (1e-5 if dt in (np.float32, np.complex64) else 1e-12) if dt.kind in "fc" else 0.0


DTYPES = [np.float32, np.float64]
N_SAMPLES = 2


# ----------------------------------------------------------------------------- (a) eager vs jaxpr

@pytest.mark.parametrize("name", PRIMS)
def test_eager_matches_jaxpr(name):
    prim = Primitive.registry[name]
    for dtype in DTYPES:
        for k in range(N_SAMPLES):
            args, params = sample(prim, dtype, k)
            call = _caller(prim, params)
            eager = _outs(prim, call(*[fg.Array(a) for a in args]))
            closed = fg.make_jaxpr(call)(*args)
            assert isinstance(closed, ClosedJaxpr)
            check_jaxpr(closed.jaxpr)
            assert any(e.primitive is prim for e in closed.eqns), \
                f"{name}: make_jaxpr did not record the primitive:\n{closed}"
            avals = closed.out_avals
            assert len(avals) == len(eager), f"{name}: {len(avals)} outputs in the jaxpr, " \
                f"{len(eager)} eagerly"
            for o, a in zip(eager, avals):
                assert _np(o).shape == a.shape and _np(o).dtype == a.dtype, (
                    f"{name}: the shape rule promises {a.str_short()} but the eager kernel "
                    f"returned {_np(o).dtype}{list(_np(o).shape)} (params {params})")
            evaluated = eval_jaxpr(closed.jaxpr, closed.consts, *args)
            for i, (o, e) in enumerate(zip(eager, evaluated)):
                _assert_bitwise(e, o, f"{name} output {i}: eval_jaxpr vs eager")


# ----------------------------------------------------------------------------- (b) jit vs eager

@pytest.mark.parametrize("name", PRIMS)
def test_jit_matches_eager(name):
    prim = Primitive.registry[name]
    for dtype in DTYPES:
        args, params = sample(prim, dtype, 0)
        call = _caller(prim, params)
        eager = _outs(prim, call(*[fg.Array(a) for a in args]))
        jitted = _outs(prim, fg.jit(call)(*args))
        assert len(jitted) == len(eager)
        for i, (j, e) in enumerate(zip(jitted, eager)):
            if prim.elementwise:
                _assert_bitwise(j, e, f"{name} output {i}: jit vs eager")
            else:
                assert _np(j).dtype == _np(e).dtype, f"{name}: jit changed the dtype"
                tol = _close_tol(_np(e).dtype)
                check_close(j, e, atol=tol, rtol=tol, err_msg=f"{name} output {i}: jit vs eager")


# ----------------------------------------------------------------------------- (c) vmap vs loop

_B = 3


def _param_key(params):
    def key(v):
        if isinstance(v, (ClosedJaxpr, Jaxpr)):
            return str(v)
        if isinstance(v, (tuple, list)):
            return tuple(key(x) for x in v)
        if isinstance(v, dict):
            return tuple(sorted((k, key(x)) for k, x in v.items()))
        return repr(v)
    return tuple(sorted((k, key(v)) for k, v in params.items()))


def _batch_members(prim, dtype):
    """``_B`` samples with the same shapes, dtypes and params (so they can be stacked)."""
    args0, params0 = sample(prim, dtype, 0)
    sig = [(a.shape, a.dtype) for a in args0]
    pkey = _param_key(params0)
    members = [args0]
    k = 1
    while len(members) < _B and k < 40:
        args, params = sample(prim, dtype, 1000 + k)
        if [(a.shape, a.dtype) for a in args] == sig and _param_key(params) == pkey:
            members.append(args)
        k += 1
    rng = np.random.default_rng(_seed(prim.name, 77))
    while len(members) < _B:
        # fallback: small multiplicative noise keeps signs, zeros and (mostly) domains
        members.append([a * np.asarray(1 + 0.01 * rng.uniform(-1, 1, a.shape), a.dtype)
                        if a.dtype.kind in "fc" else a for a in args0])
    return members, params0


def _vmap_cases(nargs, ranks):
    cases = [("batch at axis 0", [0] * nargs), ("batch at the last axis", [-1] * nargs),
             ("batch at a middle axis", [r // 2 for r in ranks])]
    if nargs >= 2:
        for i in range(nargs):
            axes = [0] * nargs
            axes[i] = None
            cases.append((f"operand {i} unbatched", axes))
    return cases


@pytest.mark.parametrize("name", PRIMS)
def test_vmap_matches_loop(name):
    prim = Primitive.registry[name]
    members, params = _batch_members(prim, np.float64)
    nargs = len(members[0])
    if nargs == 0:
        pytest.skip(f"{name} takes no operands: nothing to batch")
    call = _caller(prim, params)
    ranks = [a.ndim + 1 for a in members[0]]
    for label, axes in _vmap_cases(nargs, ranks):
        batched = []
        for i in range(nargs):
            if axes[i] is None:
                batched.append(members[0][i])
            else:
                batched.append(np.stack([m[i] for m in members], axis=axes[i]))
        loop = []
        for b in range(_B):
            argsb = [members[0][i] if axes[i] is None else members[b][i] for i in range(nargs)]
            loop.append(_outs(prim, call(*[fg.Array(a) for a in argsb])))
        try:
            got = _outs(prim, fg.vmap(call, in_axes=tuple(axes))(*batched))
        except Exception as e:
            raise AssertionError(f"{name}: vmap with {label} (in_axes={tuple(axes)}, operand "
                                 f"shapes {[a.shape for a in batched]}, params {params}) "
                                 f"raised {type(e).__name__}: {e}") from e
        transform = (prim.test_spec or {}).get("grad_transform")
        if transform is not None:   # outputs defined up to a gauge: compare invariants
            got = list(transform(got))
            loop = [list(transform(lo)) for lo in loop]
        for j, g in enumerate(got):
            want = np.stack([_np(lo[j]) for lo in loop], 0)
            assert _np(g).shape == want.shape and _np(g).dtype == want.dtype, (
                f"{name}: vmap with {label}: output {j} is {_np(g).dtype}"
                f"{list(_np(g).shape)}, the loop gives {want.dtype}{list(want.shape)}")
            tol = _close_tol(want.dtype)
            check_close(g, want, atol=tol, rtol=tol,
                        err_msg=f"{name}: vmap with {label} (in_axes={tuple(axes)}) vs a loop, "
                                f"output {j}")


# ----------------------------------------------------------------------------- (d) gradients

def _diff_indices(prim, args, spec):
    nd = set(spec.get("nondiff_args", ()))
    return [i for i, a in enumerate(args) if a.dtype.kind in "fc" and i not in nd]


def _gauge_fixed(prim, spec, f):
    """``f`` with its outputs made gauge-invariant for differentiation: the spec's
    ``grad_transform(outs) -> outs``, else only the ``gauge_invariant`` outputs."""
    transform, keep = spec.get("grad_transform"), spec.get("gauge_invariant")
    if transform is None and keep is None:
        return f

    def g(*d):
        outs = _outs(prim, f(*d))
        return list(transform(outs)) if transform is not None else [outs[i] for i in keep]
    g.__name__ = getattr(f, "__name__", "f")
    return g


def _partial(call, args, idx):
    def f(*d):
        full = list(args)
        for i, v in zip(idx, d):
            full[i] = v
        return call(*full)
    f.__name__ = getattr(call, "__name__", "f")
    return f


@pytest.mark.parametrize("name", PRIMS)
def test_grads(name):
    prim = Primitive.registry[name]
    spec = _spec(prim)
    for k in range(N_SAMPLES):
        args, params = sample(prim, np.float64, k)
        idx = _diff_indices(prim, args, spec)
        call = _caller(prim, params)
        if not idx:
            if k == 0 and not spec.get("nondiff"):
                pytest.skip(f"{name}: no floating-point operand to differentiate")
            continue
        f = _partial(call, args, idx)
        dargs = tuple(args[i] for i in idx)
        if spec.get("nondiff"):
            # not differentiable (piecewise constant, integer-valued ...): the jvp rule must
            # still run and give zero tangents for elementwise primitives
            rng = np.random.default_rng(1)
            ts = tuple(rng.standard_normal(a.shape).astype(a.dtype) for a in dargs)
            _, tan = fg.jvp(f, dargs, ts)
            for t in (tan if prim.multiple_results else [tan]):
                t = _np(t)
                if prim.elementwise and t.dtype.kind in "fc":
                    assert np.all(t == 0), f"{name}: nondiff primitive has a nonzero tangent"
            continue
        f = _gauge_fixed(prim, spec, f)
        try:
            check_grads(f, dargs, order=spec.get("grad_order", 2),
                        modes=spec.get("modes", ("fwd", "rev")), atol=spec.get("atol"),
                        rtol=spec.get("rtol"), eps=spec.get("eps"))
        except AssertionError as e:
            raise AssertionError(f"{name} (params {params}, operand shapes "
                                 f"{[a.shape for a in args]}, differentiating operands "
                                 f"{idx}): {e}") from None


# ----------------------------------------------------------------------------- (e) transpose

def _linear_in(f, avals, rng):
    """Whether ``f(*ts)`` is (numerically) linear in its arguments."""
    t1 = [rng.standard_normal(s).astype(d) for s, d in avals]
    t2 = [rng.standard_normal(s).astype(d) for s, d in avals]
    a, b = 0.7, -1.3
    lhs = _outs_any(f(*[np.asarray(a * x + b * y, x.dtype) for x, y in zip(t1, t2)]))
    r1, r2 = _outs_any(f(*t1)), _outs_any(f(*t2))
    for x, y, z in zip(lhs, r1, r2):
        x, y, z = _np(x), _np(y), _np(z)
        if x.dtype.kind not in "fc":
            return False
        want = a * y.astype(np.float64) + b * z.astype(np.float64)
        tol = 1e-4 if x.dtype == np.float32 else 1e-9
        if not np.allclose(x, want, atol=tol, rtol=tol):
            return False
    return True


def _outs_any(o):
    return list(o) if isinstance(o, (list, tuple)) else [o]


def _check_transpose(prim, args, params, idx, rng):
    """``<ct, f(t)> == sum_i <f^T(ct)_i, t_i>`` for ``f`` linear in operands ``idx``."""
    name = prim.name
    call = _caller(prim, params)
    ts = [rng.standard_normal(args[i].shape).astype(args[i].dtype) for i in idx]
    out = _outs(prim, _partial(call, args, idx)(*ts))
    cts = [rng.standard_normal(_np(o).shape).astype(_np(o).dtype) for o in out]
    ins = [fg.Array(a) for a in args]
    for i in idx:
        ins[i] = ad.UndefinedPrimal(ShapedArray(args[i].shape, args[i].dtype))
    ct_arg = [fg.Array(c) for c in cts] if prim.multiple_results else fg.Array(cts[0])
    res = prim.transpose(ct_arg, *ins, **params)
    assert len(res) == len(args), f"{name}: transpose returned {len(res)} cotangents " \
        f"for {len(args)} operands"
    rhs = 0.0
    for i, t in zip(idx, ts):
        ct_in = res[i]
        if ct_in is None or type(ct_in) is Zero:
            continue   # no cotangent flows to this operand: it contributes zero
        assert _np(ct_in).shape == args[i].shape, (
            f"{name}: cotangent for operand {i} has shape {_np(ct_in).shape}, the operand "
            f"{args[i].shape}")
        assert _np(ct_in).dtype == args[i].dtype, (
            f"{name}: cotangent for operand {i} has dtype {_np(ct_in).dtype}, the operand "
            f"{args[i].dtype}")
        rhs += float(np.vdot(_np(ct_in).astype(np.float64), t.astype(np.float64)))
    lhs = sum(float(np.vdot(c.astype(np.float64), _np(o).astype(np.float64)))
              for c, o in zip(cts, out))
    tol = 1e-4 if any(_np(o).dtype == np.float32 for o in out) else 1e-10
    assert abs(lhs - rhs) <= tol * (1 + abs(lhs)), (
        f"{name}: <ct, f(t)> = {lhs!r} but <f^T(ct), t> = {rhs!r} (linear operands {idx}, "
        f"params {params})")
    # a symbolic zero cotangent transposes to no cotangent
    zct = ([Zero(ShapedArray(_np(o).shape, _np(o).dtype)) for o in out]
           if prim.multiple_results else Zero(ShapedArray(_np(out[0]).shape,
                                                          _np(out[0]).dtype)))
    zres = prim.transpose(zct, *ins, **params)
    assert all(z is None or type(z) is Zero or not np.any(_np(z)) for z in zres), \
        f"{name}: transposing a Zero cotangent gave a nonzero cotangent"


@pytest.mark.parametrize("name", [n for n in PRIMS if Primitive.registry[n].linear])
def test_transpose_consistent(name):
    """Linear primitives: jointly linear in all float operands (add, concatenate, pad ...)
    or linear in each one with the others fixed (mul, div's numerator, dot_general)."""
    prim = Primitive.registry[name]
    spec = _spec(prim)
    args, params = sample(prim, np.float64, 0)
    call = _caller(prim, params)
    rng = np.random.default_rng(_seed(name, 5))
    idx = _diff_indices(prim, args, spec)
    avals = [(args[i].shape, args[i].dtype) for i in idx]
    checked = []
    if idx and _linear_in(_partial(call, args, idx), avals, rng):
        _check_transpose(prim, args, params, idx, rng)
        checked.append(tuple(idx))
    if len(idx) > 1 or not checked:
        for i in idx:
            if _linear_in(_partial(call, args, [i]), [(args[i].shape, args[i].dtype)], rng):
                _check_transpose(prim, args, params, [i], rng)
                checked.append((i,))
    assert checked, (f"{name} is marked linear but its sample is not linear in its "
                     f"floating-point operands {idx}, jointly or one at a time (params {params})")
