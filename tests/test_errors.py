"""Error messages: each names the operation, the shapes/dtypes involved and what to do."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.test_util import check_close, check_grads, check_jvp, check_vjp


# ----------------------------------------------------------------------------- grad

def test_grad_of_non_scalar_output_names_the_shape():
    with pytest.raises(TypeError, match=r"scalar output, got shape \(3,\).*vjp|jacrev"):
        fg.grad(lambda x: x * 2)(fnp.ones(3))
    with pytest.raises(TypeError, match=r"2 outputs of shapes \[\(\), \(\)\]"):
        fg.value_and_grad(lambda x: (x, 1.0))(1.0)
    with pytest.raises(TypeError, match="floating-point output, got int32"):
        fg.grad(lambda x: x.astype(fnp.int32).sum())(fnp.ones(2))


def test_grad_wrt_int_input_says_to_cast():
    with pytest.raises(TypeError, match=r"dtype int32.*astype\(fnp\.float32\)"):
        fg.grad(lambda x: x * 2)(3)
    with pytest.raises(TypeError, match="int32"):
        fg.grad(lambda x, y: x * y, argnums=1)(2.0, fnp.arange(3))
    for jac in (fg.jacfwd, fg.jacrev):
        with pytest.raises(TypeError, match="floating-point"):
            jac(lambda x: x * 2)(fnp.arange(3))
    # integer arguments that are not differentiated are fine
    assert float(fg.grad(lambda x, n: x ** n)(2.0, 3)) == 12.0


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"argnums=3 but the function was called with 2"):
        fg.grad(lambda x, y: x * y, argnums=3)(1.0, 2.0)
    with pytest.raises(TypeError, match="argnums must be ints"):
        fg.grad(lambda x: x, argnums=(0.5,))(1.0)


def test_has_aux_misuse():
    with pytest.raises(TypeError, match=r"has_aux=True.*pair \(output, aux\).*single array"):
        fg.grad(lambda x: x * 2, has_aux=True)(3.0)
    with pytest.raises(TypeError, match="pair"):
        fg.value_and_grad(lambda x: [x, x, x], has_aux=True)(3.0)
    with pytest.raises(TypeError, match="pair"):
        fg.vjp(lambda x: 1.0 * x, 3.0, has_aux=True)


def test_jvp_vjp_linearize_argument_errors():
    with pytest.raises(TypeError, match="tuples or lists"):
        fg.jvp(fnp.sin, fnp.ones(3), fnp.ones(3))
    with pytest.raises(TypeError, match=r"tangent shape \(4,\) does not match primal shape \(3,\)"):
        fg.jvp(fnp.sin, (fnp.ones(3),), (fnp.ones(4),))
    with pytest.raises(TypeError, match="2 primals but 1 tangents"):
        fg.jvp(lambda a, b: a, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match="structure"):
        fg.jvp(lambda d: d["a"], ({"a": 1.0},), ({"b": 1.0},))
    _, f_vjp = fg.vjp(fnp.sin, fnp.ones(3))
    with pytest.raises(TypeError, match=r"cotangent of shape \(4,\) for an output of shape \(3,\)"):
        f_vjp(fnp.ones(4))
    with pytest.raises(TypeError, match="structure"):
        f_vjp((fnp.ones(3),))
    _, f_jvp = fg.linearize(fnp.sin, 1.0)
    with pytest.raises(TypeError, match=r"tangent of shape \(2,\) for a primal of shape \(\)"):
        f_jvp(fnp.ones(2))


# ----------------------------------------------------------------------------- vmap

def test_vmap_inconsistent_sizes_names_each_argument():
    with pytest.raises(ValueError, match=r"inconsistent sizes.*size 3 for \[0\].*size 4 for \[1\]"):
        fg.vmap(lambda a, b: a + b)(fnp.ones(3), fnp.ones(4))
    with pytest.raises(ValueError, match=r"size 4 for \[1\]\['k'\]"):
        fg.vmap(lambda a, b: a + b["k"])(fnp.ones(3), {"k": fnp.ones(4)})
    with pytest.raises(ValueError, match="axis_size=5 but the mapped inputs have size 3"):
        fg.vmap(lambda a: a, axis_size=5)(fnp.ones(3))


def test_vmap_in_axes_out_of_range_names_argument_and_rank():
    with pytest.raises(ValueError, match=r"in_axes=2 is out of range for argument \[0\] of rank 2"):
        fg.vmap(lambda a: a, in_axes=2)(fnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"in_axes=-3 is out of range for argument \[1\] of rank 2"):
        fg.vmap(lambda a, b: b, in_axes=(0, -3))(fnp.ones(3), fnp.ones((3, 4)))
    with pytest.raises(ValueError, match="scalar.*in_axes=None"):
        fg.vmap(lambda a: a)(1.0)


def test_vmap_in_axes_structure_mismatch():
    with pytest.raises(ValueError, match="tuple of length 1 but the function was called with 2"):
        fg.vmap(lambda a, b: a, in_axes=(0,))(fnp.ones(3), fnp.ones(3))
    with pytest.raises(ValueError, match="tree prefix.*expected dict, got list"):
        fg.vmap(lambda a: a, in_axes=({"a": 0},))([fnp.ones(3)])
    with pytest.raises(TypeError, match="in_axes entries must be ints or None, got 'a'"):
        fg.vmap(lambda a: a, in_axes="a")(fnp.ones(3))
    with pytest.raises(ValueError, match="no argument is mapped.*axis_size"):
        fg.vmap(lambda a: a, in_axes=None)(fnp.ones(3))
    with pytest.raises(ValueError, match="out_axes=None for an output that depends"):
        fg.vmap(lambda a: a, out_axes=None)(fnp.ones(3))
    with pytest.raises(ValueError, match="out_axes.*tree prefix"):
        fg.vmap(lambda a: (a, a), out_axes=(0, 0, 0))(fnp.ones(3))


# ----------------------------------------------------------------------------- tracers

def test_traced_bool_names_function_and_fixes():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(fg.TracerBoolConversionError) as e:
        fg.jit(f)(1.0)
    msg = str(e.value)
    for needle in ("jit(f)", "lax.cond", "fnp.where", "static_argnums", "bool"):
        assert needle in msg, needle
    with pytest.raises(fg.ConcretizationTypeError, match=r"vmap\(f\).*lax.cond.*fnp.where"):
        fg.vmap(f)(fnp.ones(3))
    with pytest.raises(fg.ConcretizationTypeError, match="bool"):
        fg.make_jaxpr(f)(1.0)
    assert isinstance(e.value, TypeError)


def test_traced_int_and_shape():
    with pytest.raises(fg.TracerIntegerConversionError, match=r"jit\(h\).*static_argnums"):
        def h(x):
            return int(x)
        fg.jit(h)(1.0)
    with pytest.raises(TypeError, match="traced value cannot be a shape.*static_argnums"):
        fg.jit(lambda n: fnp.ones(n))(3)
    with pytest.raises(fg.ConcretizationTypeError, match="numpy array"):
        fg.jit(lambda x: np.asarray(x))(1.0)


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap", "jvp"])
def test_escaped_tracer_raises_unexpected_tracer_error(transform):
    leaked = []

    def f(x):
        leaked.append(x)
        return fnp.sum(x * 2)

    x = fnp.ones(2)
    if transform == "jit":
        fg.jit(f)(x)
    elif transform == "grad":
        fg.grad(f)(x)
    elif transform == "vmap":
        fg.vmap(f)(fnp.ones((3, 2)))
    else:
        fg.jvp(f, (x,), (x,))
    with pytest.raises(fg.UnexpectedTracerError, match="escaped|already finished"):
        fnp.sin(leaked[0])
    with pytest.raises(fg.UnexpectedTracerError):
        leaked[0] + 1.0


def test_escaped_tracer_used_inside_a_new_transformation():
    leaked = []
    fg.jit(lambda x: leaked.append(x) or x)(1.0)
    with pytest.raises(fg.UnexpectedTracerError):
        fg.jit(lambda y: y + leaked[0])(2.0)


# ----------------------------------------------------------------------------- dtypes / shapes

def test_unsupported_dtype_refused_by_name():
    bad = np.longdouble if np.dtype(np.longdouble).itemsize > 8 else None
    if bad is not None:
        name = np.dtype(bad).name
        with pytest.raises(TypeError, match=f"{name} is not supported"):
            fnp.asarray(np.ones(2, bad))
        with pytest.raises(TypeError, match=f"{name} is not supported"):
            fnp.ones(3).astype(bad)
        with pytest.raises(TypeError, match=f"{name} is not supported"):
            fg.device_put(np.ones(2, bad))
    with pytest.raises(TypeError, match="not supported.*float32"):
        fnp.array(np.array(["a"]))
    with pytest.raises(TypeError, match="not supported"):
        fnp.zeros(3, dtype=np.str_)
    with pytest.raises(TypeError, match="not a valid funcgrad array type|not a valid array"):
        fg.jit(lambda x: x)("abc")


def test_incompatible_shapes_name_both_shapes_and_the_operation():
    with pytest.raises(TypeError, match=r"fnp.add.*\(2, 3\).*\(4,\)"):
        fnp.ones((2, 3)) + fnp.ones((4,))
    with pytest.raises(TypeError, match=r"matmul.*\(2, 3\) and \(4, 5\)"):
        fnp.matmul(fnp.ones((2, 3)), fnp.ones((4, 5)))
    with pytest.raises(TypeError, match=r"matmul.*\(2, 3\) and \(4, 5\)"):
        fg.jit(lambda a, b: a @ b)(fnp.ones((2, 3)), fnp.ones((4, 5)))
    with pytest.raises(TypeError, match=r"reshape.*\(6,\).*\(4, 2\)"):
        fnp.reshape(fnp.ones(6), (4, 2))
    with pytest.raises(TypeError, match=r"^add got incompatible shapes \(3,\), \(4,\)"):
        fg.jit(lax.add)(fnp.ones(3), fnp.ones(4))
    with pytest.raises(TypeError, match=r"dot_general.*\(2, 3\) and \(4, 5\)"):
        fg.jit(lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))))(
            fnp.ones((2, 3)), fnp.ones((4, 5)))
    with pytest.raises(TypeError, match="requires arguments to have the same dtype.*float32.*int32"):
        fg.jit(lax.add)(fnp.ones(3), fnp.ones(3, fnp.int32))


def test_eager_lax_shape_errors_are_type_errors():
    with pytest.raises(TypeError, match=r"add.*\(3,\).*\(4,\)"):
        lax.add(fnp.ones(3), fnp.ones(4))
    with pytest.raises(TypeError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        fnp.concatenate([fnp.ones((2, 3)), fnp.ones((2, 4))])


# ----------------------------------------------------------------------------- jit / custom

def test_jit_argument_errors():
    with pytest.raises(TypeError, match="static argument.*list is not hashable.*tuple"):
        fg.jit(lambda x, n: x, static_argnums=1)(1.0, [1])
    with pytest.raises(ValueError, match="static_argnums=.*called with 1"):
        fg.jit(lambda x, n=1: x, static_argnums=1)(1.0)
    with pytest.raises(TypeError, match="jit expects a callable"):
        fg.jit(3)


def test_custom_rule_errors():
    @fg.custom_jvp
    def no_rule(x):
        return x

    with pytest.raises(AttributeError, match="no JVP rule.*defjvp"):
        no_rule(1.0)

    @fg.custom_vjp
    def bad_bwd(x):
        return x

    bad_bwd.defvjp(lambda x: (x, None), lambda r, g: (g, g))
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        fg.grad(bad_bwd)(1.0)

    @fg.custom_vjp
    def bad_fwd(x):
        return x

    bad_fwd.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(TypeError, match=r"must return \(output, residuals\)"):
        fg.grad(bad_fwd)(1.0)

    @fg.custom_jvp
    def bad_jvp(x):
        return (x, x)

    bad_jvp.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(TypeError, match="structure"):
        fg.jvp(bad_jvp, (1.0,), (1.0,))


def test_config_unknown_option():
    with pytest.raises(ValueError, match="unknown config option 'x64'.*enable_x64"):
        fg.config.update("x64", True)


# ----------------------------------------------------------------------------- check_grads

def _wrong_grad(scale):
    @fg.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(p, t):
        return fnp.sin(p[0]), scale * fnp.cos(p[0]) * t[0]
    return f


def test_check_grads_failure_message_names_mode_order_errors_and_tolerances():
    x = np.array([0.1, -0.7, 1.3])
    f = _wrong_grad(1.1)
    with pytest.raises(AssertionError) as e:
        check_grads(f, (x,), order=1, modes=("fwd",))
    msg = str(e.value)
    for needle in ("JVP", "mode 'fwd'", "order 1", "max abs error", "max rel error",
                   "atol=1e-05", "rtol=1e-05"):
        assert needle in msg, (needle, msg)
    with pytest.raises(AssertionError, match=r"VJP \(mode 'rev', order 1\).*max abs error"):
        check_grads(f, (x,), order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="atol=0.1"):
        check_grads(_wrong_grad(3.0), (x,), order=1, modes=("fwd",), atol=0.1, rtol=0.1)
    check_grads(_wrong_grad(1.001), (x,), order=1, atol=1e-2, rtol=1e-2)   # loose passes


def test_check_grads_second_order_failure_is_reported_at_order_2():
    @fg.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(p, t):     # first derivative right, second derivative wrong (stopped)
        return fnp.sin(p[0]), fnp.cos(fg.stop_gradient(p[0])) * t[0]

    x = np.array([0.3, 0.9])
    check_grads(f, (x,), order=1)
    with pytest.raises(AssertionError, match=r"order 2\) of the JVP of f"):
        check_grads(f, (x,), order=2, modes=("fwd",))
    with pytest.raises(AssertionError, match=r"order 2\) of the VJP of f"):
        check_grads(f, (x,), order=2, modes=("rev",))


def test_check_grads_argument_errors():
    with pytest.raises(TypeError, match=r"args\[0\] has dtype int64.*floating-point.*Close over"):
        check_grads(fnp.sin, (np.arange(3),), 1)
    with pytest.raises(TypeError, match=r"args\[1\]\['n'\] has dtype bool"):
        check_grads(lambda x, d: x, (np.ones(2), {"n": np.array(True)}), 1)
    with pytest.raises(ValueError, match="unknown mode 'bwd'"):
        check_grads(fnp.sin, (np.ones(2),), 1, modes=("bwd",))
    with pytest.raises(ValueError, match="order"):
        check_grads(fnp.sin, (np.ones(2),), -1)
    with pytest.raises(TypeError, match="tuple of arguments"):
        check_grads(fnp.sin, np.ones(2), 1)
    with pytest.raises(TypeError, match="floating-point"):
        check_jvp(fnp.sin, lambda p, t: fg.jvp(fnp.sin, p, t), (np.arange(2),))
    with pytest.raises(TypeError, match="floating-point"):
        check_vjp(fnp.sin, lambda *p: fg.vjp(fnp.sin, *p), (np.arange(2),))


def test_check_close_messages():
    with pytest.raises(AssertionError, match=r"max abs error 0.5.*atol=0.1, rtol=0"):
        check_close(np.array([1.0, 2.0]), np.array([1.0, 2.5]), atol=0.1, rtol=0)
    with pytest.raises(AssertionError, match="structures differ"):
        check_close({"a": 1.0}, {"b": 1.0})
    with pytest.raises(AssertionError, match=r"shape \(3,\) != expected shape \(4,\)"):
        check_close(np.ones(3), np.ones(4))
    with pytest.raises(AssertionError, match="my context"):
        check_close(1.0, 2.0, err_msg="my context")
    check_close(np.array([1.0, np.nan]), np.array([1.0, np.nan]))   # NaNs in the same places
    check_close(fnp.ones(3), [1.0, 1.0, 1.0])                       # lists compare as arrays
