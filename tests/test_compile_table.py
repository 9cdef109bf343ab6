"""Compiled equals eager, walking the primitive table and a set of composite programs.

Cases from test_primitives with the same input shapes are applied side by side in one compiled
function, so each group costs one trace and a few kernels rather than one per primitive.
The first call of a compiled function is its (eager) trace: the comparisons use the second.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.ops import PRIMITIVES, call
from test_primitives import ALL_CASES

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def groups() -> dict:
    by_shapes = defaultdict(list)
    for name, case in ALL_CASES:
        if name == "cast":  # its dtype attribute changes the output dtype: covered on its own below
            continue
        by_shapes[tuple(case.shapes)].append((name, case))
    return by_shapes


GROUPS = groups()


def build(members, dtype):
    """(program, loss, flat inputs, positions of differentiated inputs) for a group of cases."""
    inputs, slices, wrt = [], [], []
    for name, case in members:
        arrays = case.inputs(PRIMITIVES[name], dtype)
        start = len(inputs)
        inputs += [nd.array(a, dtype=dtype) for a in arrays]
        slices.append((start, len(inputs)))
        wrt += [start + i for i in case.differentiated(PRIMITIVES[name])]
    weights = []
    rng = np.random.default_rng(1)

    def program(*flat):
        return tuple(call(name, *flat[lo:hi], **case.attrs)
                     for (name, case), (lo, hi) in zip(members, slices))

    for out in program(*inputs):
        weights.append(nd.array(rng.uniform(0.5, 1.5, out.shape), dtype=dtype))

    def loss(*flat):
        total = None
        for out, w, (name, _) in zip(program(*flat), weights, members):
            if PRIMITIVES[name].differentiable:
                term = nd.sum(out * w)
                total = term if total is None else total + term
        return total
    return program, loss, inputs, tuple(wrt)


def eager_grads(loss, inputs, wrt):
    copies = [nd.array(x) for x in inputs]
    for i in wrt:
        copies[i].attach_grad()
    with autograd.record():
        value = loss(*copies)
    value.backward()
    return value.asnumpy(), [copies[i].grad.asnumpy() for i in wrt]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", sorted(GROUPS, key=repr), ids=repr)
def test_compiled_forward_and_gradients_equal_eager(shapes, dtype):
    members = GROUPS[shapes]
    program, loss, inputs, wrt = build(members, dtype)
    compiled = jg.compile(program)
    want = [o.asnumpy() for o in program(*inputs)]
    for _ in range(2):
        got = [o.asnumpy() for o in compiled(*inputs)]
    for (name, _), g, w in zip(members, got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=name)
    if not wrt:
        return
    want_value, want_grads = eager_grads(loss, inputs, wrt)
    vg = jg.value_and_grad(loss, argnums=wrt)
    for _ in range(2):
        value, grads = vg(*inputs)
    np.testing.assert_allclose(value.asnumpy(), want_value, **TOL[dtype])
    for i, g, w in zip(wrt, grads, want_grads):
        np.testing.assert_allclose(g.asnumpy(), w, **TOL[dtype], err_msg=f"input {i}")


def test_cast_compiled():
    f = jg.compile(lambda x: (x.astype("float64") * 2).astype("float32"))
    x = nd.array([1.5, -2.25])
    for _ in range(2):
        y = f(x)
    assert y.dtype is np.float32 and np.array_equal(y.asnumpy(), [3.0, -4.5])


# ---- composite programs -------------------------------------------------------------------------

def chain(x, w):
    h = x * w + 0.5
    h = nd.exp(-h * h)
    h = nd.sin(h * 3) + h
    h = nd.tanh(h) * nd.sigmoid(h - 0.2)
    h = nd.sqrt(nd.abs(h) + 1) - h / 4
    return nd.sum(h * h)


def logistic(w, b, X, y):
    p = nd.sigmoid(nd.dot(X, w) + b)
    return -nd.mean(y * nd.log(p + 1e-7) + (1 - y) * nd.log(1 - p + 1e-7))


def mlp(W1, b1, W2, b2, X, labels):
    h = nd.relu(nd.dot(X, W1) + b1)
    return nd.softmax_cross_entropy(nd.dot(h, W2) + b2, labels) / X.shape[0]


def lse(x, w):
    return nd.sum(nd.logsumexp(x * w, axis=1))


def composite_inputs(name, dtype):
    rng = np.random.default_rng(3)

    def a(*shape, scale=1.0):
        return nd.array(rng.normal(size=shape) * scale, dtype=dtype)
    if name == "chain":
        return chain, [a(64), a(1)], (0, 1)
    if name == "logistic":
        X = a(50, 8)
        y = nd.array(rng.integers(0, 2, 50), dtype=dtype)
        return logistic, [a(8, scale=0.3), a(1), X, y], (0, 1)
    if name == "mlp":
        labels = nd.array(rng.integers(0, 5, 16), dtype=dtype)
        return mlp, [a(12, 20, scale=0.3), a(20), a(20, 5, scale=0.3), a(5), a(16, 12), labels], (0, 1, 2, 3)
    return lse, [a(6, 10), a(10)], (0, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["chain", "logistic", "mlp", "lse"])
def test_composite_programs(name, dtype):
    fn, inputs, wrt = composite_inputs(name, dtype)
    want_value, want_grads = eager_grads(fn, inputs, wrt)
    tol = TOL[dtype] if dtype is np.float64 else dict(rtol=1e-4, atol=1e-6)
    vg = jg.value_and_grad(fn, argnums=wrt)
    for _ in range(2):
        value, grads = vg(*inputs)
    np.testing.assert_allclose(value.asnumpy(), want_value, **tol)
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(g.asnumpy(), w, **tol)
    compiled = jg.compile(fn)
    params = [nd.array(x) for x in inputs]
    for i in wrt:
        params[i].attach_grad()
    for _ in range(2):
        with autograd.record():
            value = compiled(*params)
        value.backward()
    np.testing.assert_allclose(value.asnumpy(), want_value, **tol)
    for i, w in zip(wrt, want_grads):
        np.testing.assert_allclose(params[i].grad.asnumpy(), w, **tol)
