"""The examples: their training code on small data (jitgrad only), eager against compiled, and their
scripts' main() where the optional packages are installed (`pip install "jitgrad[examples]"`)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import control_flow  # noqa: E402
import example_utils as ex  # noqa: E402
import linear_regression  # noqa: E402
import logistic_regression  # noqa: E402
import mlp  # noqa: E402


def blobs(n=300, features=64, classes=10, seed=0):
    """Well-separated Gaussian clusters, split 3:1 like the digits examples."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, features))
    y = rng.integers(0, classes, n)
    X = (centres[y] + 0.3 * rng.normal(size=(n, features))).astype(np.float32)
    return ex.split(X, y, test_fraction=0.25, seed=seed)


def test_linear_regression_reaches_its_target():
    X, y, w_true, b_true = linear_regression.make_data()
    fit = linear_regression.train(X, y)
    assert np.abs(fit["w"] - w_true).max() < 0.02 and abs(fit["b"] - b_true) < 0.02
    assert fit["losses"][-1] < 1.05 * linear_regression.NOISE ** 2


def test_linear_regression_eager_and_compiled_agree():
    X, y, _, _ = linear_regression.make_data(n=200)
    eager, fast = (linear_regression.train(X, y, epochs=3, compiled=c) for c in (False, True))
    np.testing.assert_allclose(fast["losses"], eager["losses"], rtol=1e-5)
    np.testing.assert_allclose(fast["w"], eager["w"], rtol=1e-5, atol=1e-6)
    assert eager["losses"][-1] < eager["losses"][0] / 5 and len(eager["epoch_times"]) == 3


@pytest.mark.parametrize("example", [logistic_regression, mlp], ids=["logistic", "mlp"])
def test_classifiers_learn_and_modes_agree(example):
    data = blobs()
    eager, fast = (example.train(*data, epochs=3, compiled=c) for c in (False, True))
    np.testing.assert_allclose(fast["losses"], eager["losses"], rtol=1e-4)
    assert fast["test_accuracy"] == eager["test_accuracy"] >= 0.9
    assert eager["losses"][-1] < eager["losses"][0]


def test_control_flow_compiled_matches_eager():
    result = control_flow.run(verbose=False)
    for row in result["rows"]:
        for got, want in zip(row["compiled"], row["eager"]):
            np.testing.assert_array_equal(got, want)
    first = result["rows"][0]["compiled"]
    np.testing.assert_array_equal(first[0], 512 * np.array([0.5, -1, 2], np.float32))
    np.testing.assert_allclose(first[1], 512 * np.array(control_flow.HEAD), rtol=1e-6)
    assert result["cache_info"]["paths"] == 3  # two loop lengths, and the negative branch


def test_accuracy():
    assert ex.accuracy(np.array([[0, 1.0], [2, 1], [0, 3]]), np.array([1, 0, 0])) == 2 / 3


def run_script(name, *args, prelude=""):
    """Run examples/NAME.py as a script with this checkout's jitgrad."""
    code = f"{prelude}import runpy, sys; sys.argv = [{name!r}, *{list(args)!r}]; " \
           f"runpy.run_path({str(ROOT / 'examples' / name)!r}, run_name='__main__')"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "examples")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_missing_optional_package_exits_with_the_install_line():
    done = run_script("linear_regression.py", prelude="import sys; sys.modules['tqdm'] = None; ")
    assert done.returncode == 1
    assert 'needs tqdm' in done.stderr and 'pip install "jitgrad[examples]"' in done.stderr


def test_control_flow_script():
    done = run_script("control_flow.py")
    assert done.returncode == 0, done.stderr
    assert "same as eager: False" not in done.stdout and done.stdout.count("same as eager: True") == 4


# ---- with the optional packages --------------------------------------------------------------------

@pytest.fixture
def extras():
    for module in ("tqdm", "matplotlib"):
        pytest.importorskip(module)


def test_linear_regression_main(extras, tmp_path, capsys):
    results = linear_regression.main(["--epochs", "2", "--out", str(tmp_path)])
    assert (tmp_path / "linear_regression_loss.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "eager: first epoch" in out and "compiled: first epoch" in out
    assert set(results) == {"eager", "compiled"}


@pytest.mark.parametrize("example,png", [(logistic_regression, "logistic_regression_loss.png"),
                                         (mlp, "mlp_loss.png")], ids=["logistic", "mlp"])
def test_digits_main(example, png, extras, tmp_path, capsys):
    pytest.importorskip("sklearn")
    results = example.main(["--epochs", "1", "--out", str(tmp_path)])
    assert (tmp_path / png).stat().st_size > 1000
    assert "test accuracy" in capsys.readouterr().out
    assert results["compiled"]["test_accuracy"] > 0.5


def test_logistic_regression_reaches_its_target_on_digits():
    pytest.importorskip("sklearn")
    data = ex.split(*ex.load_digits(), test_fraction=0.25, seed=0)
    result = logistic_regression.train(*data)
    assert result["test_accuracy"] >= logistic_regression.TARGET
