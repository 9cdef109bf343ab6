"""A program's kernels compiled in a helper process while this one compiles the others
(jitgrad/codegen/compileahead.py): results equal eager ones, the helper's kernels are loaded from the
disk cache, and a helper that fails, reports an error or hangs costs only time."""
import itertools
import logging
import sys

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import nd
from jitgrad.codegen import compile as jcompile, compileahead
from test_compile_table import eager_grads


def test_split_gives_the_helper_the_later_kernels_only_where_it_pays():
    mlp = [0.2, 0.4, 0.24, 0.16, 0.33, 0.25]      # about the MLP 784-512-10's kernels, in seconds
    mine = compileahead.split(mlp, numba_started=False)
    assert mine == 3      # 0.33 + 0.84 here against 0.5 + 0.74 in the helper
    assert compileahead.split(mlp, numba_started=True) == 4
    assert compileahead.split([0.3, 0.3], numba_started=False) == 2     # the helper starts too late
    assert compileahead.split([0.1], numba_started=False) == 1


def loss_of_kernels(depth: int):
    """Kernels split by dot, new to this process: `depth` tanh in a row are in the first one's source."""
    def f(a, w):
        h = nd.dot(a, w)
        for _ in range(depth):
            h = nd.tanh(h)
        g = nd.exp(nd.dot(h, w) - 0.5)
        return nd.sum(nd.sin(nd.dot(g, w) + 0.25) ** 2)
    return f


@pytest.fixture
def helper_wanted(monkeypatch):
    """A helper for every program of two or more new kernels, where one can serve."""
    monkeypatch.delenv("JITGRAD_COMPILE_AHEAD", raising=False)
    monkeypatch.setattr(compileahead, "split", lambda costs, numba_started: 1)
    monkeypatch.setattr(compileahead, "enabled", lambda: True)


@pytest.fixture
def always_ahead(tmp_path, monkeypatch, helper_wanted):
    """A fresh cache and a helper for every program of two or more new kernels."""
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))


def run_twice(depth):
    rng = np.random.default_rng(depth)
    a, w = rng.uniform(-0.5, 0.5, (4, 3)), rng.uniform(-0.5, 0.5, (3, 3))
    loss = loss_of_kernels(depth)
    vg = jg.value_and_grad(loss, argnums=1)
    args = nd.array(a, dtype=np.float64), nd.array(w, dtype=np.float64)
    for _ in range(2):         # traced, then compiled
        value, grad = vg(*args)
    want_value, (want_grad,) = eager_grads(loss, args, (1,))
    np.testing.assert_allclose(value.asnumpy(), want_value, rtol=1e-10)
    np.testing.assert_allclose(grad.asnumpy(), want_grad, rtol=1e-10, atol=1e-12)


DEPTHS = itertools.count(1)   # a new structure (new kernel sources) for each test


def new_depth() -> int:
    return next(DEPTHS)


def test_the_helper_compiles_the_later_kernels_into_the_disk_cache(always_ahead, caplog):
    before = dict(jcompile.STATS)
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        run_twice(new_depth())
    messages = [r.getMessage() for r in caplog.records]
    assert any("in a helper process" in m for m in messages)
    helped = jcompile.STATS["helper_compiles"] - before["helper_compiles"]
    assert helped >= 2 and jcompile.STATS["disk_loads"] - before["disk_loads"] >= helped
    assert sum("the helper process compiled" in m for m in messages) == helped


@pytest.mark.parametrize("helper", [
    "import sys; sys.exit(3)",                                                 # dies at once
    "import sys; sys.stdin.read(); print('{\"job\": 0, \"error\": \"boom\"}')",  # fails a job, ends
    "import time; time.sleep(30)",                                             # hangs
])
def test_a_helper_that_fails_costs_only_time(always_ahead, monkeypatch, caplog, helper):
    monkeypatch.setattr(compileahead, "COMMAND", [sys.executable, "-c", helper])
    monkeypatch.setattr(compileahead, "TIMEOUT", 2.0)
    before = jcompile.STATS["helper_compiles"]
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        run_twice(new_depth())
    assert jcompile.STATS["helper_compiles"] == before
    assert any("did not compile" in r.getMessage() and "compiling it here" in r.getMessage()
               for r in caplog.records)


def test_no_helper_without_the_disk_cache(helper_wanted, monkeypatch, caplog):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", "")
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        run_twice(new_depth())
    assert not any("helper process" in r.getMessage() for r in caplog.records)


def test_a_helper_that_cannot_start_costs_nothing(always_ahead, monkeypatch, caplog):
    monkeypatch.setattr(compileahead, "COMMAND", ["/nonexistent/python"])
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        run_twice(new_depth())
    assert any("cannot start a helper process" in r.getMessage() for r in caplog.records)
