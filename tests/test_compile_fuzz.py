"""Random programs from the primitive table: compiled forward and gradients equal eager.

Programs are chains of elementwise ops over broadcasting inputs, optionally reduced. The examples are
derandomized, so the same programs (and kernels, which the disk cache keeps) come back every run.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.ops import call

SAFE_UNARY = ["negative", "exp", "tanh", "sigmoid", "sin", "cos", "arctan", "abs", "relu", "erf",
              "sinh", "log1p"]  # log1p sees |x| < 1 below: every value stays in its domain
BINARY = ["add", "subtract", "multiply", "maximum", "minimum"]
SHAPES = [(4, 3), (1, 3), (4, 1), (3,), (1,)]


@st.composite
def programs(draw):
    n_inputs = draw(st.integers(1, 3))
    shapes = [(4, 3)] + [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs - 1)]
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            steps.append(("unary", draw(st.sampled_from(SAFE_UNARY)), None))
        else:
            steps.append(("binary", draw(st.sampled_from(BINARY)), draw(st.integers(0, n_inputs - 1))))
    reduce = draw(st.sampled_from([None, (0,), (1,), (0, 1)]))
    keepdims = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shapes, steps, reduce, keepdims, dtype


def make(steps, reduce, keepdims):
    def program(*xs):
        h = xs[0]
        for kind, name, operand in steps:
            h = call(name, nd.tanh(h) * 0.9 if name == "log1p" else h) if kind == "unary" else \
                call(name, h, xs[operand])
        if reduce is not None:
            h = call("sum", h, axes=reduce, keepdims=keepdims)
        return nd.sum(h * h)
    return program


@settings(max_examples=25, deadline=None, derandomize=True)
@given(programs())
def test_random_programs_compiled_equal_eager(case):
    shapes, steps, reduce, keepdims, dtype = case
    rng = np.random.default_rng(len(steps))
    inputs = [nd.array(rng.uniform(-1, 1, s), dtype=dtype) for s in shapes]
    program = make(steps, reduce, keepdims)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype is np.float64 else dict(rtol=1e-4, atol=1e-5)
    copies = [nd.array(x) for x in inputs]
    for c in copies:
        c.attach_grad()
    with autograd.record():
        want = program(*copies)
    want.backward()
    vg = jg.value_and_grad(program, argnums=tuple(range(len(inputs))))
    for _ in range(2):  # the first call is the trace; the second runs the compiled program
        value, grads = vg(*inputs)
    np.testing.assert_allclose(value.asnumpy(), want.asnumpy(), **tol)
    for g, c in zip(grads, copies):
        np.testing.assert_allclose(g.asnumpy(), c.grad.asnumpy(), **tol)
