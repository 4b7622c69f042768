"""The compiler: passes (one by one), fusion planning, layouts, NumPy code generation,
buffers and donation, debug checks, the CuPy source generator and the registration hooks."""
import gc
import threading

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.compiler import (Executable, compile_jaxpr, fusion, layout, passes, runtime,
                               DonatedArrayError, mark_donated)
from funcgrad.compiler.codegen_cupy import cuda_literal, generate as cupy_generate
from funcgrad.core.ir import Literal, check_jaxpr
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import jaxpr_executable


def prims(closed):
    return [e.primitive.name for e in closed.eqns]


def bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind == "f":
        assert np.array_equal(a.view(f"u{a.dtype.itemsize}"), b.view(f"u{b.dtype.itemsize}")), \
            (a, b)
    else:
        assert np.array_equal(a, b), (a, b)


def run_both(f, *args):
    eager = fg.tree_util.tree_leaves(f(*args))
    jitted = fg.tree_util.tree_leaves(fg.jit(f)(*args))
    assert len(eager) == len(jitted)
    for e, j in zip(eager, jitted):
        bits_equal(e, j)
        assert e.weak_type == j.weak_type
    return jitted


def arr(*shape, seed=0, dtype=np.float32):
    return fnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ============================================================================ passes

class TestPasses:
    def test_dce_removes_unused_keeps_effects(self):
        c = fg.make_jaxpr(lambda x: (fnp.sin(x), fnp.cos(x))[1])(1.0)
        assert prims(c) == ["sin", "cos"]
        d = passes.dce(c)
        assert prims(d) == ["cos"]
        check_jaxpr(d.jaxpr)
        eff = Primitive("test_effect_dce", register=False)
        eff.effectful = True
        e0 = c.eqns[0].replace(primitive=eff)
        from funcgrad.core.ir import ClosedJaxpr, Jaxpr
        c2 = ClosedJaxpr(Jaxpr([], c.jaxpr.invars, c.jaxpr.outvars, [e0, c.eqns[1]]), [])
        assert [e.primitive.name for e in passes.dce(c2).eqns] == ["test_effect_dce", "cos"]

    def test_dce_unchanged_returns_same_object(self):
        c = fg.make_jaxpr(lambda x: fnp.sin(x))(1.0)
        assert passes.dce(c) is c

    def test_cse_merges_equal_equations(self):
        c = fg.make_jaxpr(lambda x: fnp.sin(x) * fnp.sin(x) + fnp.sum(x * 2.0) +
                          fnp.sum(x * 2.0))(fnp.ones(3))
        d = passes.dce(passes.cse(c))
        assert prims(d).count("sin") == 1
        assert prims(d).count("reduce_sum") == 1
        check_jaxpr(d.jaxpr)

    def test_cse_params_compared_structurally(self):
        c = fg.make_jaxpr(lambda x: fnp.sum(x, axis=0) + fnp.sum(x, axis=1))(fnp.ones((3, 3)))
        assert prims(passes.cse(c)).count("reduce_sum") == 2
        c = fg.make_jaxpr(lambda x: fnp.transpose(x, (1, 0)) + fnp.transpose(x, [1, 0]))(
            fnp.ones((3, 3)))
        assert prims(passes.dce(passes.cse(c))).count("transpose") == 1

    def test_cse_distinguishes_literals(self):
        c = fg.make_jaxpr(lambda x: x * 2.0 + x * 3.0)(1.0)
        assert prims(passes.cse(c)).count("mul") == 2

    def test_cse_skips_random_and_effectful(self):
        rnd = Primitive("random_test_cse", register=False)
        rnd.impl = lambda x: x
        rnd.abstract_eval = lambda x: x
        c = fg.make_jaxpr(lambda x: fnp.sin(x))(1.0)
        e = c.eqns[0]
        from funcgrad.core.ir import ClosedJaxpr, Jaxpr, Var
        o1, o2 = Var(e.outvars[0].aval), Var(e.outvars[0].aval)
        eqns = [e.replace(primitive=rnd, outvars=[o1]), e.replace(primitive=rnd, outvars=[o2])]
        c2 = ClosedJaxpr(Jaxpr([], c.jaxpr.invars, [o1, o2], eqns), [])
        assert len(passes.cse(c2).eqns) == 2

    def test_fold_constants(self):
        c = fg.make_jaxpr(lambda x: x * (fnp.asarray(2.0, dtype=np.float32) + fnp.exp(fnp.asarray(0.0, dtype=np.float32))))(
            fnp.ones(3))
        assert "exp" in prims(c)
        d = passes.fold_constants(c)
        assert prims(d) == ["mul"]
        lit = [v for v in d.eqns[0].invars if type(v) is Literal][0]
        assert float(lit.val) == 3.0 and lit.aval.dtype == np.float32
        bits_equal(fg.jit(lambda x: x * (fnp.asarray(2.0, dtype=np.float32) + fnp.exp(fnp.asarray(0.0, dtype=np.float32))))(
            fnp.ones(3)), fnp.ones(3) * 3.0)

    def test_fold_constant_arrays_become_consts(self):
        k = np.arange(6, dtype=np.float32).reshape(2, 3)
        c = fg.make_jaxpr(lambda x: x + fnp.sum(fnp.asarray(k) * 2.0, axis=0))(fnp.ones(3))
        d = passes.fold_constants(c)
        assert prims(d) == ["add"]
        assert len(d.consts) == 1 and not d.consts[0].flags.writeable
        np.testing.assert_array_equal(d.consts[0], (k * 2).sum(0))

    def test_fold_leaves_big_results(self):
        k = np.ones((100, 100), np.float32)
        c = fg.make_jaxpr(lambda x: x + fnp.asarray(k) * 2.0)(fnp.ones((100, 100)))
        assert "mul" in prims(passes.fold_constants(c))

    @pytest.mark.parametrize("f,expected", [
        (lambda x: x * 1.0, []),
        (lambda x: 1.0 * x, []),
        (lambda x: x / 1.0, []),
        (lambda x: x - 0.0, []),
        (lambda x: -(-x), []),
        (lambda x: x + 0.0, ["add"]),          # -0.0 + 0.0 is +0.0: not exact for floats
        (lambda x: fnp.transpose(fnp.transpose(x, (1, 0, 2)), (1, 0, 2)), []),
        (lambda x: fnp.transpose(fnp.transpose(x, (1, 0, 2)), (0, 2, 1)), ["transpose"]),
        (lambda x: x.reshape(6, 4).reshape(24), ["reshape"]),
        (lambda x: x.reshape(6, 4).reshape(2, 3, 4), []),
        (lambda x: x.astype(np.float32), []),
        (lambda x: lax.stop_gradient(x) * 2.0, ["mul"]),
    ])
    def test_simplify(self, f, expected):
        x = arr(2, 3, 4)
        c = fg.make_jaxpr(f)(x)
        d = passes.simplify(c)
        assert prims(d) == expected
        check_jaxpr(d.jaxpr)
        run_both(f, x)

    def test_simplify_int_add_zero(self):
        c = fg.make_jaxpr(lambda x: x + 0)(fnp.arange(3))
        assert prims(passes.simplify(c)) == []

    def test_simplify_scalar_broadcast_becomes_scalar(self):
        def f(x, s):
            return x * lax.broadcast_in_dim(s, (3, 4), ()) + lax.broadcast_in_dim(
                np.float32(2.0), (3, 4), ())
        x = arr(3, 4)
        c = fg.make_jaxpr(f)(x, 1.5)
        assert prims(c).count("broadcast_in_dim") == 2
        d = passes.simplify(c)
        assert "broadcast_in_dim" not in prims(d)
        check_jaxpr(d.jaxpr)
        run_both(f, x, fnp.asarray(1.5, dtype=np.float32))

    def test_simplify_keeps_broadcast_when_everything_is_scalar(self):
        def f(s):
            return lax.broadcast_in_dim(s, (3,), ()) * 2.0
        c = fg.make_jaxpr(f)(1.5)
        d = passes.simplify(c)
        assert d.out_avals[0].shape == (3,)
        check_jaxpr(d.jaxpr)

    def test_simplify_grad_broadcast_of_one(self):
        # grad produces mul(broadcast(1.0), ...) which vanishes
        c = fg.make_jaxpr(fg.grad(lambda x: fnp.sum(fnp.tanh(x))))(fnp.ones(4))
        d = passes.optimize(c)
        assert "broadcast_in_dim" not in prims(d)

    def test_fold_transposes_into_dot(self):
        def f(a, b):
            return fnp.transpose(a) @ b
        a, b = arr(5, 3), arr(5, 4, seed=1)
        c = fg.make_jaxpr(f)(a, b)
        assert prims(c) == ["transpose", "dot_general"]
        d = passes.fold_transposes_into_dot(c)
        assert prims(d) == ["dot_general"]
        assert d.eqns[0].params["dimension_numbers"][0] == ((0,), (0,))
        check_jaxpr(d.jaxpr)
        run_both(f, a, b)

    def test_fold_transposes_rhs_and_batched(self):
        def f(a, b):
            return fnp.einsum("bij,bkj->bik", a, b) + a @ fnp.swapaxes(b, 1, 2)
        a, b = arr(2, 3, 4), arr(2, 5, 4, seed=2)
        run_both(f, a, b)
        d = passes.optimize(fg.make_jaxpr(f)(a, b))
        assert "transpose" not in prims(d)

    def test_fold_transposes_not_when_free_dims_reorder(self):
        def f(a, b):
            return lax.dot_general(fnp.transpose(a, (1, 0, 2)), b, (((2,), (0,)), ((), ())))
        a, b = arr(2, 3, 4), arr(4, 5, seed=3)
        d = passes.fold_transposes_into_dot(fg.make_jaxpr(f)(a, b))
        assert "transpose" in prims(d)
        run_both(f, a, b)

    def test_inline_nested_pjit(self):
        g = fg.jit(lambda x: fnp.sin(x) * 2.0)
        c = fg.make_jaxpr(lambda x: g(g(x)) + 1.0)(fnp.ones(3))
        assert prims(c) == ["pjit", "pjit", "add"]
        d = passes.inline_calls(c)
        assert prims(d) == ["sin", "mul", "sin", "mul", "add"]
        check_jaxpr(d.jaxpr)

    def test_inline_custom_jvp(self):
        @fg.custom_jvp
        def f(x):
            return fnp.exp(x) * 2.0

        @f.defjvp
        def f_jvp(p, t):
            return f(p[0]), t[0]
        c = fg.make_jaxpr(lambda x: f(x) + 1.0)(fnp.ones(3))
        assert "custom_jvp_call" in prims(c)
        assert prims(passes.inline_calls(c)) == ["exp", "mul", "add"]
        run_both(lambda x: f(x) + 1.0, arr(3))

    def test_optimize_reaches_fixed_point(self):
        c = fg.make_jaxpr(lambda x: fnp.exp(x) * 1.0 + fnp.exp(x))(fnp.ones(3))
        d = passes.optimize(c)
        assert prims(d) == ["exp", "add"]
        assert passes.optimize(d).eqns == d.eqns


# ============================================================================ fusion

class TestFusion:
    def test_one_group_for_a_chain(self):
        c = fg.make_jaxpr(lambda x: fnp.tanh(x) * (1 / (1 + fnp.exp(-x))) + 0.5 * x * x)(
            fnp.ones(10))
        items = fusion.schedule(c.jaxpr)
        assert len(items) == 1 and type(items[0]) is fusion.Group
        assert len(items[0].members) == len(c.eqns)

    def test_reduction_closes_group(self):
        c = fg.make_jaxpr(lambda x: fnp.sum(fnp.exp(x) * 2.0, axis=1) + 1.0)(fnp.ones((4, 5)))
        items = fusion.schedule(c.jaxpr)
        g = items[0]
        assert [e.primitive.name for e in g.members] == ["exp", "mul"]
        assert [e.primitive.name for e in g.closers] == ["reduce_sum"]
        assert type(items[1]) is fusion.Group and items[1].shape == (4,)

    def test_matmul_epilogue(self):
        c = fg.make_jaxpr(lambda x, w, b: fnp.tanh(x @ w + b))(
            fnp.ones((4, 3)), fnp.ones((3, 5)), fnp.ones(5))
        groups = [i for i in fusion.schedule(c.jaxpr) if type(i) is fusion.Group]
        assert len(groups) == 1
        assert groups[0].head.primitive.name == "dot_general"
        assert [e.primitive.name for e in groups[0].members] == ["add", "tanh"]

    def test_independent_chains_of_one_shape_share_a_group(self):
        c = fg.make_jaxpr(lambda x, y: (fnp.sin(x) * 2.0, fnp.cos(y) + 1.0))(
            fnp.ones(5), fnp.ones(5))
        items = fusion.schedule(c.jaxpr)
        assert len(items) == 1

    def test_schedule_respects_dependencies(self):
        def f(x):
            s = fnp.sum(fnp.exp(x))
            return fnp.exp(x) / s + x.T.sum()
        c = fg.make_jaxpr(f)(fnp.ones((3, 3)))
        items = fusion.schedule(c.jaxpr)
        seen = set(c.jaxpr.invars)
        for it in items:
            eqns = it.eqns if type(it) is fusion.Group else [it]
            inner = set()
            for e in eqns:
                for v in e.invars:
                    if type(v) is not Literal:
                        assert v in seen or v in inner
                if type(it) is fusion.Group and e not in it.closers:
                    inner.update(e.outvars)
            seen.update(o for e in eqns for o in e.outvars)
        assert sum(len(i.eqns) if type(i) is fusion.Group else 1 for i in items) == len(c.eqns)

    def test_no_fusion_schedule_is_program_order(self):
        c = fg.make_jaxpr(lambda x: fnp.sin(x) + 1.0)(fnp.ones(3))
        assert fusion.schedule(c.jaxpr, fuse=False) == c.eqns


# ============================================================================ layouts

class TestLayout:
    def test_axis_order(self):
        a = np.ones((3, 4, 5))
        assert layout.axis_order(a) == (0, 1, 2)
        assert layout.axis_order(a.transpose(2, 0, 1)) == (1, 2, 0)
        assert layout.axis_order(np.ones((3, 1, 4))) == (0, 2)

    def test_empty_in_order(self):
        a = layout.empty_in_order((3, 4, 5), np.float32, (1, 2, 0))
        assert a.shape == (3, 4, 5)
        assert layout.axis_order(a) == (1, 2, 0)
        assert a.base.flags.c_contiguous

    def test_infer_follows_numpy(self):
        def f(x):
            y = fnp.exp(fnp.transpose(x, (2, 0, 1)))
            return fnp.sum(y, axis=1), y * 2.0, x + 1.0
        c = fg.make_jaxpr(f)(fnp.ones((3, 4, 5)))
        orders = layout.infer_layouts(c.jaxpr)
        xs = np.ones((3, 4, 5), np.float32)
        y = np.exp(xs.transpose(2, 0, 1))
        outs = [np.sum(y, axis=1), y * np.float32(2), xs + np.float32(1)]
        for v, o in zip(c.jaxpr.outvars, outs):
            assert orders[v] == layout.axis_order(o)

    def test_reduction_of_transposed_values_is_bitwise_eager(self):
        x = arr(300, 700)
        run_both(lambda a: fnp.sum(a.T * 3.0, axis=0), x)
        run_both(lambda a: fnp.sum(fnp.exp(a.T) + 1.0, axis=1), x)
        run_both(lambda a: fnp.sum(fnp.exp(a.T)), x)

    @pytest.mark.parametrize("make", [
        lambda a: a.T, lambda a: a[::2], lambda a: a[:, ::-1], lambda a: fnp.asarray(a),
    ])
    def test_non_c_inputs(self, make):
        x = arr(64, 48)
        f = fg.jit(lambda a, b: (fnp.sum(a * 2.0 + b, axis=0), a * b))
        xi = make(x)
        out = f(xi, xi)
        ref = (fnp.sum(xi * 2.0 + xi, axis=0), xi * xi)
        for o, r in zip(out, ref):
            bits_equal(o, r)
            assert layout.axis_order(o._value) == layout.axis_order(r._value)


# ============================================================================ codegen

def _elementwise_samples():
    out = []
    for name, p in sorted(Primitive.registry.items()):
        spec = p.test_spec or {}
        if not p.elementwise or "nargs" not in spec or p.multiple_results:
            continue
        out.append(name)
    return out


@pytest.mark.parametrize("name", _elementwise_samples())
def test_every_elementwise_primitive_bitwise(name):
    p = Primitive.registry[name]
    spec = p.test_spec
    rng = np.random.default_rng(0)
    kinds = spec.get("kinds", "float")
    dt = np.float32 if kinds in ("float", "real", "num", "any", "realnum", "signed") else (
        np.int32 if kinds in ("int",) else np.bool_ if kinds == "bool" else np.int32)
    n = spec["nargs"]
    dom = spec.get("domain")

    def sample(shape):
        if dt is np.bool_:
            return rng.random(shape) > 0.5
        if np.dtype(dt).kind == "i":
            v = rng.integers(-20, 20, shape).astype(dt)
            return np.where(v == 0, 3, v).astype(dt) if dom in ("nonzero", "positive") else v
        v = rng.standard_normal(shape).astype(dt)
        if dom == "positive":
            v = np.abs(v) + 0.1
        elif dom == "unit":
            v = np.tanh(v) * 0.9
        elif dom == "gt1":
            v = np.abs(v) + 1.1
        elif dom == "nonzero":
            v = np.where(np.abs(v) < 0.1, 0.5, v)
        return v.astype(dt)

    params = spec.get("params", {})
    for shape in ((7,), (300, 700)):
        args = [fnp.asarray(sample(shape)) for _ in range(n)]
        if name == "convert_element_type":
            f = lambda *a: lax.convert_element_type(a[0] * 2, np.float64) + 1  # noqa: E731
        else:
            def f(*a):
                out = p.bind(*a, **params)
                return out, fnp.sin(a[0] * 0.5) if np.dtype(dt).kind == "f" else a[0]
        with np.errstate(all="ignore"):
            run_both(f, *args)


class TestCodegen:
    def test_source_is_one_function_with_out_buffers(self):
        f = fg.jit(lambda x: fnp.tanh(x) * 2.0 + x)
        src = f.lower(fnp.ones(100)).compile().as_text()
        assert "def _body" in src and "def _run" in src
        assert src.count("out=") + src.count(", v") >= 1
        assert "for " not in src.split("def _run")[0]     # small: no chunk loop

    def test_registers_are_reused(self):
        def chain(x):
            return fnp.tanh(x) * (1 / (1 + fnp.exp(-x))) + 0.5 * x * x - \
                fnp.exp(-fnp.abs(x)) / (1 + x * x)
        exe = fg.jit(chain).lower(fnp.ones(1000)).compile()._exe
        # 16 elementwise equations need only 3 scratch registers
        assert exe.scratch_bytes == 3 * 1000 * 4
        assert exe.arena_bytes == 0

    def test_large_group_is_chunked(self):
        n = 1 << 20
        src = fg.jit(lambda x: fnp.exp(x) * 2.0 + 1.0).lower(fnp.ones(n)).compile().as_text()
        assert "for i in range" in src and "chunks of" in src
        run_both(lambda x: fnp.exp(x) * 2.0 + 1.0, arr(n))

    def test_chunking_inner_axis(self):
        x = arr(3, 200001)
        src = fg.jit(lambda a: fnp.sin(a) * 2.0).lower(x).compile().as_text()
        assert "along axis 1" in src
        run_both(lambda a: fnp.sin(a) * 2.0, x)
        run_both(lambda a: fnp.sum(fnp.sin(a) * 2.0, axis=1), x)
        run_both(lambda a: fnp.sum(fnp.sin(a) * 2.0, axis=0), x)

    def test_chunked_reductions(self):
        x = arr(1000, 300)
        for f in (lambda a: fnp.sum(fnp.exp(a), axis=1), lambda a: fnp.max(a * 2.0, axis=1),
                  lambda a: fnp.sum(fnp.exp(a), axis=0), lambda a: fnp.sum(fnp.exp(a)),
                  lambda a: (fnp.min(a + 1.0, axis=1), fnp.prod(a * 0.5 + 1.0, axis=1))):
            run_both(f, x)

    def test_threads_off_and_on_agree(self, monkeypatch):
        x = arr(1 << 20)
        f = lambda a: fnp.exp(-fnp.abs(a)) / (1.0 + a * a)  # noqa: E731
        monkeypatch.setattr(runtime, "NUM_THREADS", 1)
        one = fg.jit(f)(x)
        monkeypatch.setattr(runtime, "NUM_THREADS", 2)
        two = fg.jit(f)(x)
        bits_equal(one, two)
        bits_equal(one, f(x))

    def test_no_write_into_inputs(self):
        x = arr(1 << 18)
        raw = x._value.copy()
        run_both(lambda a: (fnp.sin(a) * 2.0, a.reshape(512, 512).T + 1.0, a[::2] * 3.0), x)
        np.testing.assert_array_equal(x._value, raw)

    def test_outputs_do_not_alias_arena(self):
        f = fg.jit(lambda a: (fnp.exp(a) * 2.0).reshape(10, 10).T + 0.0 * fnp.sum(a))
        x = arr(100)
        r1 = f(x)
        keep = np.array(r1._value)
        f(arr(100, seed=5))
        np.testing.assert_array_equal(r1._value, keep)

    def test_intermediates_reuse_buffers(self):
        def f(x):
            for _ in range(6):
                x = fnp.sum(fnp.tanh(x), axis=0, keepdims=True) * fnp.ones((50, 1)) + x.T
            return x
        exe = fg.jit(f).lower(arr(50, 50)).compile()._exe
        # many intermediates of the same size share a few arena slots
        assert exe.arena_bytes <= 4 * 50 * 50 * 4
        run_both(f, arr(50, 50))

    def test_dot_epilogue_in_place(self):
        f = fg.jit(lambda x, w, b: fnp.tanh(x @ w + b))
        src = f.lower(arr(4, 3), arr(3, 5), arr(5)).compile().as_text()
        body = src.split("def _run")[0]
        assert "_empty(" not in body      # written over the matmul result
        run_both(lambda x, w, b: fnp.tanh(x @ w + b), arr(4, 3), arr(3, 5), arr(5))

    def test_debug_nans_names_primitive_and_line(self):
        fg.config.update("debug_nans", True)
        f = fg.jit(lambda x: fnp.log(x) * 2.0)   # THE LOG LINE
        with pytest.raises(FloatingPointError, match=r"'log'.*test_compiler.py"):
            with np.errstate(all="ignore"):
                f(fnp.asarray([-1.0, 2.0]))
        fg.config.update("debug_nans", False)
        with np.errstate(all="ignore"):
            assert np.isnan(np.asarray(f(fnp.asarray([-1.0, 2.0])))[0])

    def test_debug_infs(self):
        fg.config.update("debug_infs", True)
        with pytest.raises(FloatingPointError, match="inf produced by primitive 'div'"):
            with np.errstate(all="ignore"):
                fg.jit(lambda x: 1.0 / x)(fnp.zeros(3))

    def test_elementwise_kernel_without_out_runs_standalone(self):
        p = Primitive("test_twice_no_out", register=False)
        p.elementwise = True
        p.impl = lambda x: x * 2
        p.abstract_eval = lambda x: x
        f = lambda x: p.bind(fnp.sin(x)) + 1.0  # noqa: E731
        run_both(f, arr(10))
        assert fusion.is_fusible(fg.make_jaxpr(f)(arr(10)).eqns[0])
        assert not fusion.is_fusible(fg.make_jaxpr(f)(arr(10)).eqns[1])

    def test_literal_and_input_outputs(self):
        out = fg.jit(lambda x: (x, 2.0, x * 2))(fnp.ones(2))
        assert out[1].weak_type and float(out[1]) == 2.0
        bits_equal(out[0], fnp.ones(2))

    def test_python_scalar_and_numpy_inputs(self):
        exe = compile_jaxpr(fg.make_jaxpr(lambda x, y: x * y + 1.0)(1.0, np.ones(3, np.float32)))
        r = exe(2.0, np.arange(3, dtype=np.float32))
        np.testing.assert_array_equal(np.asarray(r[0]), [1.0, 3.0, 5.0])
        r = exe(np.float32(2.0), fnp.arange(3.0))
        np.testing.assert_array_equal(np.asarray(r[0]), [1.0, 3.0, 5.0])
        raw = exe.call_raw(np.float32(2.0), np.arange(3, dtype=np.float32))
        assert type(raw[0]) is np.ndarray

    def test_generated_code_in_tracebacks(self):
        f = fg.jit(lambda x: x @ x)
        with pytest.raises(Exception) as ei:
            f.lower(fnp.ones((2, 3)))
        del ei

    def test_compile_cache_by_identity_and_structure(self):
        c = fg.make_jaxpr(lambda x: fnp.sin(x))(1.0)
        e1 = compile_jaxpr(c)
        assert compile_jaxpr(c) is e1
        assert compile_jaxpr(c, donated=(True,)) is not e1
        # the same program traced again (an eager control-flow body) reuses the executable
        c2 = fg.make_jaxpr(lambda x: fnp.sin(x))(1.0)
        assert c2 is not c and compile_jaxpr(c2) is e1
        # ... but any difference in types, literals (even the sign of zero), parameters or
        # constants compiles anew
        others = [fg.make_jaxpr(lambda x: fnp.sin(x))(fnp.ones(2)),
                  fg.make_jaxpr(lambda x: fnp.cos(x))(1.0),
                  fg.make_jaxpr(lambda x: fnp.sin(x))(np.float64(1.0)),
                  fg.make_jaxpr(lambda x: x + 0.0)(1.0),
                  fg.make_jaxpr(lambda x: x + -0.0)(1.0),
                  fg.make_jaxpr(lambda x: fnp.sum(x, axis=0))(fnp.ones((2, 3))),
                  fg.make_jaxpr(lambda x: fnp.sum(x, axis=1))(fnp.ones((2, 3)))]
        exes = [compile_jaxpr(o) for o in others]
        assert len({id(e) for e in exes + [e1]}) == len(exes) + 1
        x = fnp.array(-0.0)
        assert np.signbit(np.asarray(exes[3](x)[0])) == np.signbit(np.float32(-0.0 + 0.0))
        assert np.signbit(np.asarray(exes[4](x)[0])) == np.signbit(np.float32(-0.0 + -0.0))
        k = fg.make_jaxpr(lambda x: x * fnp.arange(3.0))(fnp.ones(3))
        k2 = fg.make_jaxpr(lambda x: x * fnp.arange(3.0))(fnp.ones(3))
        if k.consts:   # constants count by identity: a fresh one compiles anew
            assert compile_jaxpr(k) is not compile_jaxpr(k2) or k.consts[0] is k2.consts[0]

    def test_compile_cache_is_weak(self):
        import weakref
        c = fg.make_jaxpr(lambda x: fnp.sin(x) + 1.0)(1.0)
        compile_jaxpr(c)
        ref = weakref.ref(c)
        del c
        gc.collect()
        assert ref() is None

    def test_executable_repr_and_groups(self):
        exe = compile_jaxpr(fg.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3)))
        assert isinstance(exe, Executable)
        assert "1 fused groups" in repr(exe)


# ============================================================================ donation

class TestDonation:
    def test_donated_buffer_is_reused_and_array_dies(self):
        f = fg.jit(lambda p, g: p - 0.5 * g, donate_argnums=0)
        g = fnp.ones(1 << 16)
        p = fnp.asarray(np.arange(1 << 16, dtype=np.float32))
        for _ in range(3):
            ptr = p._value.__array_interface__["data"][0]
            old = p
            p = f(p, g)
            assert p._value.__array_interface__["data"][0] == ptr
            with pytest.raises(DonatedArrayError, match="donated to a jit call"):
                old.shape
            with pytest.raises(DonatedArrayError):
                np.asarray(old)
            with pytest.raises(DonatedArrayError):
                f(old, g)
        np.testing.assert_array_equal(np.asarray(p)[:3], [-1.5, -0.5, 0.5])

    def test_donation_with_threaded_chunks(self):
        f = fg.jit(lambda p, g: p * 0.5 - g, donate_argnums=0)
        g = fnp.ones(1 << 20)
        p = fnp.asarray(np.full(1 << 20, 4.0, np.float32))
        for _ in range(3):
            ptr = p._value.__array_interface__["data"][0]
            p = f(p, g)
            assert p._value.__array_interface__["data"][0] == ptr
        np.testing.assert_array_equal(np.asarray(p)[:2], [-1.25, -1.25])

    def test_donation_skipped_when_buffer_is_shared(self):
        f = fg.jit(lambda p: p * 2.0, donate_argnums=0)
        base = np.arange(8, dtype=np.float32)
        p = fg.Array(base)          # the NumPy array is still held by the caller
        out = f(p)
        np.testing.assert_array_equal(base, np.arange(8))
        assert not np.shares_memory(out._value, base)
        q = fnp.arange(8.0)
        view = np.asarray(q)        # a read-only view keeps the buffer alive
        f(q)
        np.testing.assert_array_equal(view, np.arange(8.0))

    def test_same_array_twice(self):
        f = fg.jit(lambda a, b: a + b, donate_argnums=0)
        x = fnp.arange(4.0)
        out = f(x, x)
        np.testing.assert_array_equal(np.asarray(out), [0, 2, 4, 6])

    def test_mark_donated(self):
        x = fnp.ones(3)
        mark_donated(x)
        with pytest.raises(DonatedArrayError):
            repr(x)
        with pytest.raises(DonatedArrayError):
            x + 1


# ============================================================================ hooks

class TestHooks:
    def test_compile_hook_registered(self):
        c = fg.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(1.0)
        exe = jaxpr_executable(c)
        assert isinstance(exe, Executable)
        r = exe(fnp.asarray(0.5, dtype=np.float32))
        bits_equal(r[0], fnp.sin(fnp.asarray(0.5, dtype=np.float32)) * 2.0)

    def test_pjit_impl_runs_compiled(self):
        from funcgrad.core.staging import eval_jaxpr
        g = fg.jit(lambda x: fnp.tanh(x) * 3.0)
        c = fg.make_jaxpr(lambda x: g(x) + 1.0)(fnp.ones(4))
        assert prims(c)[0] == "pjit"
        inner = c.eqns[0].params["jaxpr"]
        out = eval_jaxpr(c.jaxpr, c.consts, arr(4))
        bits_equal(out[0], fnp.tanh(arr(4)) * 3.0 + 1.0)
        assert any(isinstance(e, Executable) for d in [__import__(
            "funcgrad.compiler", fromlist=["_cache"])._cache.get(inner, {})] for e in d.values())

    def test_concurrent_compiles_and_calls(self):
        f = fg.jit(lambda x: fnp.sum(fnp.exp(x) * 2.0, axis=0))
        xs = [arr(300, 50, seed=i) for i in range(8)]
        expect = [fnp.sum(fnp.exp(x) * 2.0, axis=0) for x in xs]
        errors = []

        def work(i):
            try:
                for _ in range(20):
                    bits_equal(f(xs[i]), expect[i])
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors


# ============================================================================ cupy source

class TestCupySource:
    def test_elementwise_and_reduction_kernels(self):
        def f(x, w, b):
            h = fnp.tanh(x @ w + b)
            return fnp.sum(h * h, axis=1), fnp.where(h > 0, h, 0.5 * h)
        c = fg.make_jaxpr(f)(fnp.ones((4, 3)), fnp.ones((3, 5)), fnp.ones(5))
        exe = compile_jaxpr(c, backend="cupy")
        src = exe.source
        assert "ElementwiseKernel" in src and "ReductionKernel" in src
        assert "tanh(t0)" in src
        assert "float t" in src
        assert "_cp.dot(" in src
        assert "(t3 ? t1 : t4)" in src
        assert "identity: 0.0f" in src
        compile(src, "<cupy>", "exec")

    def test_literals_are_exact(self):
        assert cuda_literal(np.float32(0.1), np.float32) == "0.10000000149011612f"
        assert cuda_literal(np.inf, np.float32) == "__int_as_float(0x7f800000)"
        assert cuda_literal(np.nan, np.float64).startswith("__longlong_as_double(0x7ff8")
        assert cuda_literal(3, np.int64) == "((long long)3LL)"
        assert cuda_literal(True, np.bool_) == "true"

    def test_templates_for_conversions_and_powers(self):
        c = fg.make_jaxpr(lambda x: (x ** 3).astype(np.int32) + 1)(fnp.ones(3))
        src = cupy_generate(c.jaxpr, c.consts, [False]).source
        assert "(x0 * x0 * x0)" in src and "((int)(" in src

    def test_kernels_are_built_lazily(self):
        import sys
        c = fg.make_jaxpr(lambda x: fnp.exp(x) + 1.0)(fnp.ones(3))
        had = "cupy" in sys.modules
        cupy_generate(c.jaxpr, c.consts, [False])
        assert ("cupy" in sys.modules) == had


# ----------------------------------------------------------------------------- padded sums

def _merge_count(closed):
    from funcgrad.compiler import passes
    return sum(e.primitive.name == "concatenate" for e in passes.optimize(closed).jaxpr.eqns)


def test_merge_padded_sums_is_bit_exact():
    """The transpose of several slices of one array (pads summed with add_any) becomes one
    concatenate + 0.0 under jit: eager and jit agree bit for bit, -0.0 and NaN included."""
    from funcgrad.interpreters.ad_util import add_any_p
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    c = rng.standard_normal((3, 3)).astype(np.float32)
    a[0, 0], b[1, 1], c[2, 0] = -0.0, np.nan, -np.inf
    zero = np.float32(0.0)

    def f(a, b, c):   # blocks [2:6), [9:11) and [6:9) of 12 columns; gaps at both ends
        pa = lax.pad(a, zero, [(0, 0, 0), (2, 6, 0)])
        pb = lax.pad(b, zero, [(0, 0, 0), (9, 1, 0)])
        pc = lax.pad(c, zero, [(0, 0, 0), (6, 3, 0)])
        return add_any_p.bind(add_any_p.bind(pa, pb), pc)

    closed = fg.make_jaxpr(f)(a, b, c)
    assert _merge_count(closed) == 1
    eager = np.asarray(f(fnp.asarray(a), fnp.asarray(b), fnp.asarray(c)))
    jitted = np.asarray(fg.jit(f)(a, b, c))
    np.testing.assert_array_equal(eager.view(np.uint32), jitted.view(np.uint32))
    assert not np.signbit(jitted[0, 2])          # -0.0 + 0.0 = +0.0, as the sum gives


def test_merge_padded_sums_leaves_other_sums_alone():
    from funcgrad.interpreters.ad_util import add_any_p
    a = np.ones((2, 3), np.float32)
    z = np.float32(0.0)
    cases = {
        "overlap": lambda x: add_any_p.bind(lax.pad(x, z, [(0, 0, 0), (0, 2, 0)]),
                                            lax.pad(x, z, [(0, 0, 0), (1, 1, 0)])),
        "two axes": lambda x: add_any_p.bind(lax.pad(x, z, [(1, 0, 0), (0, 3, 0)]),
                                             lax.pad(x, z, [(0, 1, 0), (3, 0, 0)])),
        "nonzero fill": lambda x: add_any_p.bind(
            lax.pad(x, np.float32(1.0), [(0, 0, 0), (0, 3, 0)]),
            lax.pad(x, z, [(0, 0, 0), (3, 0, 0)])),
        "interior": lambda x: add_any_p.bind(lax.pad(x, z, [(0, 0, 0), (0, 2, 1)]),
                                             lax.pad(x, z, [(0, 0, 0), (2, 0, 1)])),
    }
    for name, f in cases.items():
        assert _merge_count(fg.make_jaxpr(f)(a)) == 0, name
        np.testing.assert_array_equal(fg.jit(f)(a), f(fnp.asarray(a)), err_msg=name)


def test_grad_of_gate_slices_matches_eager():
    H = 5
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 4 * H)).astype(np.float32)

    def f(z):
        i, fg_, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        return fnp.sum(fnp.tanh(i) * fnp.sin(g) + o * fg.nn.sigmoid(fg_))

    closed = fg.make_jaxpr(fg.grad(f))(z)
    assert _merge_count(closed) == 1
    np.testing.assert_array_equal(np.asarray(fg.jit(fg.grad(f))(z)).view(np.uint32),
                                  np.asarray(fg.grad(f)(z)).view(np.uint32))
