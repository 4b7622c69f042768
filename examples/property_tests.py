"""Property-based gradient tests for your own funcgrad code, with hypothesis,
``funcgrad.test_util.check_grads`` and ``funcgrad.test_util.strategies``.

Each ``test_*`` function below is an ordinary hypothesis test: ``@given`` draws inputs from
funcgrad's strategies (arrays in a safe domain, shapes, broadcastable shape pairs, pytrees)
and the body checks a property, usually that funcgrad's derivatives agree with finite
differences (``check_grads``, forward and reverse mode, to a given order). Run this file as a
script to run them all and print a pass/fail table, or collect it with pytest:

    python examples/property_tests.py                  # 25 examples per test
    python examples/property_tests.py --examples 100 --seed 1
    python examples/property_tests.py --show-failure    # what a failing check looks like
    python -m pytest examples/property_tests.py        # the same tests under pytest

Needs ``hypothesis`` (``pip install hypothesis``; the project's ``test`` extra).
"""
import argparse
import sys
import time
import traceback

import numpy as np
from hypothesis import given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import layers, losses, nn, random
from funcgrad.test_util import check_close, check_grads
from funcgrad.test_util import strategies as fst

# float64 inputs make the finite differences precise enough for tight tolerances
f64_arrays = fst.arrays(np.float64, fst.shapes(min_dims=1, max_dims=2, max_side=4))


# ----------------------------------------------------------------------------- the tests

@fg.custom_jvp
def softplus(x):
    """log(1 + exp(x)), with a hand-written derivative (sigmoid)."""
    return fnp.logaddexp(x, 0.0)


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), nn.sigmoid(x) * t


@fg.custom_jvp
def buggy_softplus(x):
    return fnp.logaddexp(x, 0.0)


@buggy_softplus.defjvp
def _buggy_softplus_jvp(primals, tangents):      # wrong on purpose: sigmoid(2x), not sigmoid(x)
    (x,), (t,) = primals, tangents
    return buggy_softplus(x), nn.sigmoid(2.0 * x) * t


def make_failing_test(max_examples=10):
    """What a failure looks like (``--show-failure``): a custom rule with a bug."""
    @settings(max_examples=max_examples, deadline=None)
    @given(fst.arrays(np.float64, fst.shapes(min_dims=1, max_dims=2)))
    def test_buggy_custom_jvp_rule(x):
        check_grads(buggy_softplus, (x,), order=1)
    return test_buggy_custom_jvp_rule


init_mlp, apply_mlp = layers.serial(layers.Dense(5), layers.Tanh, layers.Dense(3))


def make_tests(max_examples=10):
    """The tests, each with ``max_examples`` examples and no deadline (the first example of
    a test traces its functions, which is slower than the rest). They are built by a
    function so that ``main()`` can make them with another number of examples; pytest
    collects the module-level copies made below."""
    check = settings(max_examples=max_examples, deadline=None)

    @check
    @given(f64_arrays)
    def test_tanh_sin_second_order(x):
        """A composite elementwise function: jvp and vjp to second order."""
        check_grads(lambda x: fnp.sum(fnp.tanh(x) * fnp.sin(2.0 * x)), (x,), order=2)

    @check
    @given(fst.arrays(np.float64, fst.shapes(min_dims=1, max_dims=2), domain="positive"))
    def test_log_sqrt_on_positive_domain(x):
        """``domain="positive"`` keeps the inputs away from log's and sqrt's singularity."""
        check_grads(lambda x: fnp.log(x) * fnp.sqrt(x), (x,), order=2)

    @check
    @given(fst.mutually_broadcastable_shapes(2, max_dims=3, max_side=4), st.data())
    def test_broadcasting_product(shapes, data):
        """Gradients of a broadcasting op are summed back to each operand's shape."""
        a = data.draw(fst.arrays(np.float64, shapes.input_shapes[0]))
        b = data.draw(fst.arrays(np.float64, shapes.input_shapes[1], domain="nonzero"))
        out = a * fnp.exp(-b)
        assert out.shape == shapes.result_shape
        check_close(out, a * np.exp(-b))
        ga, gb = fg.grad(lambda a, b: fnp.sum(a * fnp.exp(-b)), argnums=(0, 1))(a, b)
        assert ga.shape == a.shape and gb.shape == b.shape
        check_grads(lambda a, b: a * fnp.exp(-b), (a, b), order=1)

    @check
    @given(fst.pytrees(fst.arrays(np.float64, fst.shapes(min_dims=1, max_dims=2, max_side=3)),
                       max_depth=2).filter(lambda t: len(fg.tree.leaves(t)) > 0))
    def test_gradient_of_a_pytree(params):
        """``grad`` returns a pytree shaped like its input, whatever the nesting."""
        def loss(p):
            return sum(fnp.sum(fnp.cos(leaf) ** 2) for leaf in fg.tree.leaves(p))
        g = fg.grad(loss)(params)
        assert fg.tree.structure(g) == fg.tree.structure(params)
        check_grads(loss, (params,), order=1, modes=("rev",))

    @check
    @given(st.integers(0, 2 ** 31 - 1), st.integers(1, 4))
    def test_mlp_loss_gradients(seed, batch):
        """A model's loss: gradients with respect to every parameter (a tuple of tuples)."""
        k1, k2 = random.split(random.key(seed))
        _, params = init_mlp(k1, (-1, 4))
        params = fg.tree.map(lambda p: np.asarray(p, np.float64), params)
        x = np.asarray(random.normal(k2, (batch, 4)), np.float64)
        labels = np.arange(batch) % 3

        def loss(params):
            return losses.softmax_cross_entropy_with_integer_labels(apply_mlp(params, x),
                                                                    labels)
        check_grads(loss, (params,), order=2, modes=("rev",))

    @check
    @given(fst.arrays(np.float64, (3,)),
           fst.arrays(np.float64, st.integers(1, 5).map(lambda n: (n, 3))))
    def test_vmap_grad_matches_a_loop(w, xs):
        """Per-example gradients: ``vmap(grad(f))`` equals a Python loop over ``grad(f)``."""
        def f(w, x):
            return fnp.tanh(fnp.dot(w, x)) ** 2
        batched = fg.vmap(fg.grad(f), in_axes=(None, 0))(w, xs)
        looped = np.stack([np.asarray(fg.grad(f)(w, x)) for x in xs])
        check_close(batched, looped, atol=1e-12, rtol=1e-12)

    @check
    @given(fst.arrays(np.float64, fst.shapes(min_dims=1, max_dims=2),
                      elements=st.floats(-20, 20)))
    def test_custom_jvp_rule(x):
        """A custom derivative rule is checked like any other function, and under jit."""
        check_grads(softplus, (x,), order=2)
        check_close(fg.jit(fg.grad(lambda x: fnp.sum(softplus(x))))(x), 1 / (1 + np.exp(-x)),
                    atol=1e-12, rtol=1e-10)

    return [test_tanh_sin_second_order, test_log_sqrt_on_positive_domain,
            test_broadcasting_product, test_gradient_of_a_pytree, test_mlp_loss_gradients,
            test_vmap_grad_matches_a_loop, test_custom_jvp_rule]


# module-level tests for pytest (``python -m pytest examples/property_tests.py``)
(test_tanh_sin_second_order, test_log_sqrt_on_positive_domain, test_broadcasting_product,
 test_gradient_of_a_pytree, test_mlp_loss_gradients, test_vmap_grad_matches_a_loop,
 test_custom_jvp_rule) = make_tests()


# ----------------------------------------------------------------------------- the runner

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--examples", type=int, default=25, help="hypothesis examples per test")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (reproducible draws)")
    p.add_argument("-k", dest="select", default="", help="run only tests whose name has this")
    p.add_argument("--show-failure", action="store_true",
                   help="also run a test of a deliberately wrong derivative rule")
    p.add_argument("--quick", action="store_true", help="3 examples per test (used by tests)")
    args = p.parse_args(argv)
    n = 3 if args.quick else args.examples

    results = []
    tests = make_tests(n) + ([make_failing_test(n)] if args.show_failure else [])
    tests = [t for t in tests if args.select in t.__name__]
    t_all = time.perf_counter()
    for i, test in enumerate(tests, 1):
        run = hypothesis_seed(args.seed)(test)      # reproducible draws, no example database
        t0 = time.perf_counter()
        try:
            run()
            status, detail = "PASS", ""
        except Exception as e:    # AssertionError from check_grads, or anything unexpected
            status = "FAIL"
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            detail = detail.split("\nExplanation:")[0]     # keep hypothesis' falsifying example
        dt = time.perf_counter() - t0
        results.append((test.__name__, status, dt, detail))
        filled = int(round(20 * i / len(tests)))
        print(f"[{'#' * filled}{'.' * (20 - filled)}] {i}/{len(tests)} {status}  "
              f"{test.__name__:<36} {dt:6.2f}s")
        if detail:
            print("    " + detail.replace("\n", "\n    "))
    failed = [r for r in results if r[1] == "FAIL"]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed "
          f"({n} examples each, seed {args.seed}) in {time.perf_counter() - t_all:.1f}s")
    return {"passed": len(results) - len(failed), "failed": len(failed),
            "results": results}


if __name__ == "__main__":
    sys.exit(1 if main()["failed"] else 0)
