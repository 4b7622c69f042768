"""Every script in examples/ runs in --quick mode, so that none of them rots.

Each example is imported by path and its ``main(argv)`` called in this process (funcgrad,
scikit-learn and matplotlib are imported once for the whole file). Examples that need
scikit-learn (bundled data sets) or hypothesis are skipped when those are missing;
matplotlib is optional in the examples themselves (no plot without it). Plots and
checkpoints go to pytest's ``tmp_path``, never into the source tree.
"""
import importlib.util
import math
import os
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

# example -> (packages it needs besides funcgrad, takes --out-dir)
SCRIPTS = {
    "quadratic": ((), False),
    "linear_regression": ((), False),
    "logistic_regression": (("sklearn",), True),
    "mnist_mlp": (("sklearn",), True),
    "cnn": (("sklearn",), True),
    "regularization": ((), True),
    "kfold_regression": (("sklearn",), True),
    "lstm": ((), True),
    "per_example_gradients": ((), False),
    "hessian_vector_product": ((), False),
    "maml": ((), True),
    "property_tests": (("hypothesis",), False),
}


def _has(module):
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


HAVE_MPL = _has("matplotlib")


def load(name):
    """Import ``examples/<name>.py`` as a fresh module."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"funcgrad_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, tmp_path, *extra):
    needs, out_dir = SCRIPTS[name]
    for pkg in needs:
        pytest.importorskip(pkg)
    argv = ["--quick", "--seed", "0", *extra]
    if out_dir:
        argv += ["--out-dir", str(tmp_path)]
    return load(name).main(argv)


def check_plot(result, tmp_path, filename):
    if HAVE_MPL:
        assert result["plot"] == os.path.join(str(tmp_path), filename)
        assert (tmp_path / filename).stat().st_size > 1000
    else:
        assert result["plot"] is None


def test_every_example_is_covered():
    on_disk = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert on_disk == set(SCRIPTS), "add new examples to SCRIPTS in tests/test_examples.py"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help(name, capsys):
    for pkg in SCRIPTS[name][0]:
        if pkg == "hypothesis":              # imported at module level by that example
            pytest.importorskip(pkg)
    with pytest.raises(SystemExit) as e:
        load(name).main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--seed" in out


def test_quadratic(tmp_path, capsys):
    x = run("quadratic", tmp_path)
    assert 0 < x < 5
    assert "x =" in capsys.readouterr().out


def test_linear_regression(tmp_path, capsys):
    w, b = run("linear_regression", tmp_path)
    assert math.isfinite(float(w)) and math.isfinite(float(b))
    out = capsys.readouterr().out
    assert "cost" in out and "W =" in out and "b =" in out


def test_logistic_regression(tmp_path):
    r = run("logistic_regression", tmp_path)
    assert r["test_accuracy"] > 0.9
    check_plot(r, tmp_path, "logistic_regression.png")


def test_mnist_mlp(tmp_path, capsys):
    r = run("mnist_mlp", tmp_path)
    assert r["test_accuracy"] > 0.8
    assert (tmp_path / "mnist_mlp.fgz").exists()
    assert "reloaded OK" in capsys.readouterr().out
    check_plot(r, tmp_path, "mnist_mlp.png")


def test_mnist_mlp_early_stopping(tmp_path, capsys):
    # with lr = 0 the validation loss never improves after epoch 1: patience 1 stops at 2
    r = run("mnist_mlp", tmp_path, "--patience", "1", "--lr", "0", "--no-plot")
    assert (r["best_epoch"], r["epochs"]) == (1, 2)
    assert "early stopping" in capsys.readouterr().out
    assert r["plot"] is None


def test_cnn(tmp_path):
    r = run("cnn", tmp_path)
    assert r["test_accuracy"] > 0.3           # 2 quick epochs; chance is 0.1
    check_plot(r, tmp_path, "cnn.png")


def test_regularization(tmp_path):
    r = run("regularization", tmp_path)
    assert len(r["results"]) == 5
    for res in r["results"].values():
        assert math.isfinite(res["best_val_loss"]) and 1 <= res["best_epoch"] <= 2
    check_plot(r, tmp_path, "regularization.png")


def test_kfold_regression(tmp_path):
    r = run("kfold_regression", tmp_path)
    assert len(r["fold_mae"]) == 2
    assert all(math.isfinite(m) and m > 0 for m in r["fold_mae"])
    check_plot(r, tmp_path, "kfold_regression.png")


def test_lstm(tmp_path):
    r = run("lstm", tmp_path)
    assert len(r["val_mse"]) == 2 and all(math.isfinite(v) for v in r["val_mse"])
    check_plot(r, tmp_path, "lstm.png")


def test_per_example_gradients(tmp_path):
    r = run("per_example_gradients", tmp_path)
    assert r["max_abs_err"] < 1e-5
    assert 0 <= r["test_accuracy"] <= 1


def test_hessian_vector_product(tmp_path):
    r = run("hessian_vector_product", tmp_path)
    assert max(r["small_errors"].values()) < 1e-4


def test_maml(tmp_path):
    r = run("maml", tmp_path)
    assert all(math.isfinite(v) for v in r["meta_loss"])
    check_plot(r, tmp_path, "maml.png")


def test_property_tests(tmp_path):
    r = run("property_tests", tmp_path)
    assert r["failed"] == 0 and r["passed"] == 7


def test_property_tests_report_a_failure(tmp_path, capsys):
    r = run("property_tests", tmp_path, "--show-failure", "-k", "buggy")
    assert r["failed"] == 1 and r["passed"] == 0
    assert "AssertionError" in capsys.readouterr().out
