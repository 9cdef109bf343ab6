"""Checking mode (jitgrad/check.py): a wrong code generation rule, injected on purpose, is caught on the
first call and the error names the IR node it broke; a correct program passes and runs as usual."""
import dataclasses

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd, ops
from jitgrad.errors import CheckError


@pytest.fixture
def wrong_rule(monkeypatch):
    """Replace the codegen expression of one primitive (its numpy implementation, the eager
    reference, stays right)."""
    def inject(name, expr):
        monkeypatch.setitem(ops.PRIMITIVES, name, dataclasses.replace(ops.PRIMITIVES[name], expr=expr))
    return inject


def loss(w, x):
    return nd.sum(nd.tanh(x * w) + 1)


def test_a_correct_program_passes_the_check():
    f = jg.compile(loss, check=True)
    vg = jg.value_and_grad(loss, argnums=0, check=True)
    w, x = nd.array([0.5]), nd.array([0.1, 0.2, -0.3])
    for _ in range(2):
        np.testing.assert_allclose(f(w, x).asnumpy(), loss(w, x).asnumpy(), rtol=1e-6)
        vg(w, x)
    assert f.cache_info()["traces"] == 1 and f.cache_info()["hits"] == 1


def test_a_wrong_forward_rule_is_named(wrong_rule):
    wrong_rule("tanh", "({0} * 0.5)")
    f = jg.compile(loss, check=True)
    with pytest.raises(CheckError, match=r"tanh: compiled value of node d = tanh c in 'loss' differs from "
                       r"eager: largest difference .* \(operands: float32 \(3,\)\)"):
        f(nd.array([0.5]), nd.array([0.1, 0.2, -0.3]))


def test_a_wrong_gradient_rule_is_named_in_value_and_grad(wrong_rule):
    wrong_rule("negative", "{0}")   # d(x - y)/dy = -g: only the gradient uses negative
    vg = jg.value_and_grad(lambda x, y: nd.sum((x - y) * x), argnums=(0, 1), check=True)
    with pytest.raises(CheckError, match=r"negative: compiled value of node \w+ = negative \w+"):
        vg(nd.array([1.0, 2.0]), nd.array([0.5, 0.5]))


@pytest.mark.parametrize("reduce, where", [
    (False, r"in the backward program of '<lambda>'"),   # not a single element: a backward program
    (True, r"in '<lambda>'"),                             # a loss: its gradients are in the forward
])
def test_a_wrong_gradient_rule_is_named_under_record(wrong_rule, reduce, where):
    wrong_rule("negative", "{0}")
    f = jg.compile(lambda x, y: nd.sum((x - y) * x) if reduce else (x - y) * x, check=True)
    x, y = nd.array([1.0, 2.0]), nd.array([0.5, 0.5])
    x.attach_grad()
    y.attach_grad()
    with autograd.record():
        with pytest.raises(CheckError, match=r"negative: compiled value of node \w+ = negative \w+ " + where):
            f(x, y)


def test_environment_variable_turns_checking_on(monkeypatch, wrong_rule):
    monkeypatch.setenv("JITGRAD_CHECK", "1")
    wrong_rule("tanh", "({0} * 0.5)")
    with pytest.raises(CheckError, match="tanh"):
        jg.compile(loss)(nd.array([0.5]), nd.array([0.1, 0.2, -0.3]))
    monkeypatch.setenv("JITGRAD_CHECK", "0")
    jg.compile(loss)(nd.array([0.5]), nd.array([0.1, 0.2, -0.3]))  # off: not checked, no error


def test_paths_after_a_guard_are_checked_when_traced(wrong_rule):
    def branchy(x):
        return nd.tanh(x) if (nd.sum(x) > 0).asscalar() else x * 2
    f = jg.compile(branchy, check=True)
    f(nd.array([-1.0, -2.0]))           # the multiply path: right
    wrong_rule("tanh", "({0} * 0.5)")
    with pytest.raises(CheckError, match="tanh"):
        f(nd.array([1.0, 2.0]))         # a new path, compiled and checked as it is traced
