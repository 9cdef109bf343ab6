"""Differential fuzzing: random programs drawn from the primitive table, checked three ways.

A program is a list of steps over values v0, v1, ... (the inputs first): elementwise primitives with
broadcasting (inputs squashed into the table's test domain), reductions with axes and keepdims, dot
against a new input, reshape, transpose, slicing, gathers with repeated indices, concat, where,
Python and array constants, and Python control flow on data (an `if` and a `while` on traced
values: guards). For each program:
1. eager first and second-order gradients equal float64 central finite differences (gradcheck);
2. the compiled forward equals eager, and so do the compiled record()/backward() gradients;
3. value_and_grad equals record()/backward().
Most programs run on the 'interpret' backend (the compiled pipeline without Numba: cheap to start);
one in four on 'numba'. A failure found here becomes a named regression test beside its fix
(docs/reliability.md lists them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, note, strategies as st

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.ops import PRIMITIVES, call
from gradcheck import check_grads

UNARY = ["negative", "exp", "expm1", "log", "log1p", "sqrt", "sin", "cos", "tan", "arctan", "sinh",
         "cosh", "tanh", "arcsinh", "arctanh", "sigmoid", "erf", "abs", "relu", "log2", "cbrt"]
GROWING = {"exp", "expm1", "sinh", "cosh"}   # fed tanh(x) * 2: a chain of them stays finite
BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "mod"]
BASE_SHAPES = [(3, 4), (2, 3), (4,), (2, 2, 3), (1,)]
CONSTANTS = [0.5, 2.0, -1.5, 3]
KINDS = ["unary", "unary", "binary", "binary", "scalar", "literal", "reduce", "mean", "dot", "reshape",
         "transpose", "slice", "take", "concat", "where", "if", "while"]


@dataclass(frozen=True)
class Step:
    op: str
    args: tuple          # value numbers
    attrs: tuple = ()    # (name, value) pairs

    def text(self, out: int) -> str:
        args = ", ".join(f"v{a}" for a in self.args)
        attrs = "".join(f", {k}={v!r}" for k, v in self.attrs)
        return f"v{out} = {self.op}({args}{attrs})"


@dataclass(frozen=True)
class Program:
    shapes: tuple        # input shapes
    steps: tuple
    dtype: str
    backend: str
    seed: int

    def __repr__(self) -> str:
        lines = [f"Program(dtype={self.dtype}, backend={self.backend}, seed={self.seed})"]
        lines += [f"  v{i}: input {s}" for i, s in enumerate(self.shapes)]
        lines += [f"  {s.text(len(self.shapes) + i)}" for i, s in enumerate(self.steps)]
        return "\n".join(lines)

    @property
    def smooth(self) -> bool:
        """No max/min reductions: a broadcast value has exact ties there, whose gradient is MXNet's
        rule (every tied element gets all of it), not the derivative finite differences see."""
        return not any(s.op == "reduce" and dict(s.attrs)["name"] in ("max", "min") for s in self.steps)


# ---- running a program --------------------------------------------------------------------------

def squash(h, lo, hi):
    """h mapped smoothly into (lo, hi): every primitive sees values in its test domain."""
    return nd.sigmoid(h) * (hi - lo) + lo


def unary_input(name, h):
    if name in GROWING:
        return nd.tanh(h) * 2
    lo, hi = PRIMITIVES[name].domain_of(0)
    return h if (lo, hi) == (-2.0, 2.0) else squash(h, lo, hi)


def binary_inputs(name, a, b):
    prim = PRIMITIVES[name]
    if prim.domain == ((-2.0, 2.0),):
        return a, b
    return squash(a, *prim.domain_of(0)), squash(b, *prim.domain_of(1))


def apply_step(step: Step, vals: list, const_seed: int):
    attrs = dict(step.attrs)
    a = vals[step.args[0]]
    op = step.op
    if op == "unary":
        return call(attrs["name"], unary_input(attrs["name"], a))
    if op == "binary":
        return call(attrs["name"], *binary_inputs(attrs["name"], a, vals[step.args[1]]))
    if op == "scalar":         # a Python constant on either side
        c = attrs["value"]
        return a * c + 1 if attrs["left"] else c - a
    if op == "literal":        # an array made inside the function: a literal of the trace
        rng = np.random.default_rng(const_seed + len(vals))
        return a * nd.array(rng.uniform(0.5, 1.5, a.shape), dtype=a.dtype)
    if op == "reduce":
        return call(attrs["name"], a, axes=attrs["axes"], keepdims=attrs["keepdims"])
    if op == "mean":
        return nd.mean(a, axis=attrs["axes"], keepdims=attrs["keepdims"])
    if op == "dot":
        return nd.dot(a, vals[step.args[1]])
    if op == "reshape":
        return a.reshape(attrs["shape"])
    if op == "transpose":
        return nd.transpose(a, axes=attrs["axes"])
    if op == "slice":
        return a[attrs["key"]]
    if op == "take":           # a gather with repeated indices (an integer array made inside)
        return nd.take(a, nd.array(attrs["indices"], dtype="int32"), axis=attrs["axis"])
    if op == "concat":
        return nd.concat(a, vals[step.args[1]], dim=attrs["axis"])
    if op == "where":
        b = vals[step.args[1]]
        return nd.where(a > b, a * 2, b)
    if op == "if":             # Python control flow on data: a guard
        return nd.sin(a) if (nd.sum(a) > 0).asscalar() else nd.cos(a) * 3
    if op == "while":          # a data-dependent trip count: one guard per test
        h, trips = a, 0
        while (nd.max(nd.abs(h)) > 1).asscalar() and trips < 8:
            h, trips = h * 0.5, trips + 1
        return h
    raise AssertionError(op)


def run(program: Program, *xs):
    """The program's output: its last value plus the sums of values no later step read."""
    vals = list(xs)
    n_inputs = len(program.shapes) - sum(s.op == "dot" for s in program.steps)
    vals = vals[:n_inputs]
    extra = iter(xs[n_inputs:])          # dot operands, in step order
    read = set()
    for step in program.steps:
        if step.op == "dot":
            vals.append(next(extra))
            step = Step("dot", (step.args[0], len(vals) - 1))
        read.update(step.args)
        vals.append(apply_step(step, vals, program.seed))
    out = vals[-1]
    for i, v in enumerate(vals[:-1]):
        if i not in read and i >= n_inputs:
            out = out + nd.sum(v) * 0.25
    return out


# ---- drawing programs ---------------------------------------------------------------------------

def broadcast_variant(draw, shape):
    """A shape that broadcasts against `shape`: some dims set to 1, maybe fewer leading dims."""
    dims = [1 if draw(st.booleans()) else n for n in shape]
    drop = draw(st.integers(0, len(dims) - 1)) if dims else 0
    return tuple(dims[drop:]) or (1,)


def broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def reshape_targets(shape):
    size = math.prod(shape)
    targets = {(size,), tuple(reversed(shape)), (1, size)}
    for d in (2, 3):
        if size % d == 0 and size > d:
            targets.add((d, size // d))
    return sorted(t for t in targets if t != tuple(shape)) or [(size,)]


def slice_keys(shape):
    keys = [(slice(None, None, -1),)]
    if shape[0] > 1:
        keys += [(slice(1, None),), (0,)]
    if len(shape) > 1 and shape[-1] > 1:
        keys += [(Ellipsis, slice(None, None, 2)), (slice(None), -1)]
    return keys


@st.composite
def programs(draw, max_steps=7):
    base = draw(st.sampled_from(BASE_SHAPES))
    shapes = [base] + [broadcast_variant(draw, base) for _ in range(draw(st.integers(0, 2)))]
    cur = list(shapes)                  # shape of each value
    steps, dot_shapes = [], []
    for _ in range(draw(st.integers(1, max_steps))):
        i = len(cur) - 1 if draw(st.integers(0, 3)) else draw(st.integers(0, len(cur) - 1))
        s = cur[i]
        kind = draw(st.sampled_from(KINDS))
        partners = [j for j, t in enumerate(cur) if broadcasts(s, t)]
        if kind == "unary":
            step, shape = Step("unary", (i,), (("name", draw(st.sampled_from(UNARY))),)), s
        elif kind in ("binary", "where"):
            j = draw(st.sampled_from(partners))
            attrs = (("name", draw(st.sampled_from(BINARY))),) if kind == "binary" else ()
            step, shape = Step(kind, (i, j), attrs), np.broadcast_shapes(s, cur[j])
        elif kind == "scalar":
            step = Step("scalar", (i,), (("value", draw(st.sampled_from(CONSTANTS))),
                                         ("left", draw(st.booleans()))))
            shape = s
        elif kind in ("reduce", "mean"):
            axes = tuple(sorted(draw(st.sets(st.integers(0, len(s) - 1), min_size=1))))
            keepdims = draw(st.booleans())
            attrs = (("axes", axes), ("keepdims", keepdims))
            if kind == "reduce":
                attrs = (("name", draw(st.sampled_from(["sum", "sum", "max", "min", "prod"]))),) + attrs
            step = Step(kind, (i,), attrs)
            kept = tuple(1 if d in axes else n for d, n in enumerate(s)) if keepdims else \
                tuple(n for d, n in enumerate(s) if d not in axes)
            shape = kept or (1,)
        elif kind == "dot":
            m = draw(st.sampled_from([(2,), (3,), (1,), (2, 2)]))
            operand = (s[-1],) + m if m != (1,) or draw(st.booleans()) else (s[-1],)
            dot_shapes.append(operand)
            step = Step("dot", (i,), (("rhs", operand),))
            shape = (s[:-1] + operand[1:]) or (1,)
        elif kind == "reshape":
            shape = draw(st.sampled_from(reshape_targets(s)))
            step = Step("reshape", (i,), (("shape", shape),))
        elif kind == "transpose":
            axes = tuple(draw(st.permutations(range(len(s)))))
            step, shape = Step("transpose", (i,), (("axes", axes),)), tuple(s[a] for a in axes)
        elif kind == "slice":
            key = draw(st.sampled_from(slice_keys(s)))
            step, shape = Step("slice", (i,), (("key", key),)), np.empty(s)[key].shape or (1,)
        elif kind == "take":
            axis = draw(st.integers(0, len(s) - 1))
            indices = tuple(draw(st.lists(st.integers(0, s[axis] - 1), min_size=1, max_size=4)))
            step = Step("take", (i,), (("indices", indices), ("axis", axis)))
            shape = s[:axis] + (len(indices),) + s[axis + 1:]
        elif kind == "concat":
            axis = draw(st.integers(0, len(s) - 1))
            same = [j for j, t in enumerate(cur) if len(t) == len(s) and
                    all(a == b for d, (a, b) in enumerate(zip(t, s)) if d != axis)]
            j = draw(st.sampled_from(same))
            shape = s[:axis] + (s[axis] + cur[j][axis],) + s[axis + 1:]
            step = Step("concat", (i, j), (("axis", axis),))
        else:
            step, shape = Step(kind, (i,)), s
        steps.append(step)
        if kind == "dot":
            cur.append(dot_shapes[-1])   # the new input is a value too
        cur.append(tuple(shape))
    return Program(tuple(shapes + dot_shapes), tuple(steps), draw(st.sampled_from(["float64", "float32"])),
                   "numba" if draw(st.integers(0, 3)) == 0 else "interpret", draw(st.integers(0, 2 ** 16)))


# ---- the checks ---------------------------------------------------------------------------------

TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


def arr(x):
    return nd.array(x, dtype=x.dtype)  # nd.array alone makes float32, MXNet's default


def inputs_of(program: Program, dtype):
    rng = np.random.default_rng(program.seed)
    return [rng.uniform(-1.5, 1.5, s).astype(dtype) for s in program.shapes]


def assert_close(got, want, dtype, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape)
    tol = TOL[dtype]
    scale = max(1.0, float(np.nanmax(np.abs(want), initial=0)))
    np.testing.assert_allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=what)


def recorded_grads(fn, xs, head):
    """(value, gradients of <fn(xs), head>) through record()/backward()."""
    arrays = [arr(x) for x in xs]
    for a in arrays:
        a.attach_grad()
    with autograd.record():
        y = fn(*arrays)
    y.backward(arr(head))
    return y.asnumpy(), [a.grad.asnumpy() for a in arrays]


def check_program(program: Program) -> None:
    note(repr(program))
    fn = lambda *xs: run(program, *xs)  # noqa: E731
    if program.smooth:  # 1. eager gradients, first and second order, against finite differences
        check_grads(fn, inputs_of(program, np.float64), order=2, rtol=1e-5, atol=1e-7)
    dtype = program.dtype
    xs = inputs_of(program, dtype)
    want = fn(*map(arr, xs)).asnumpy()
    head = np.random.default_rng(1).uniform(0.5, 1.5, want.shape).astype(dtype)
    want_value, want_grads = recorded_grads(fn, xs, head)
    assert_close(want_value, want, dtype, "record() changed the value")

    compiled = jg.compile(fn, backend=program.backend)  # 2. compiled forward and record()/backward()
    for _ in range(2):   # the first call traces (eager), the second runs the program
        assert_close(compiled(*map(arr, xs)).asnumpy(), want, dtype, "compiled forward")
    for _ in range(2):
        value, grads = recorded_grads(compiled, xs, head)
    assert_close(value, want, dtype, "compiled value under record()")
    for i, (g, w) in enumerate(zip(grads, want_grads)):
        assert_close(g, w, dtype, f"compiled record()/backward() gradient of input {i}")

    head_array = arr(head)        # 3. value_and_grad equals record()/backward()
    vg = jg.value_and_grad(lambda *a: nd.sum(fn(*a) * head_array), argnums=tuple(range(len(xs))),
                           backend=program.backend)
    for _ in range(2):
        value, grads = vg(*map(arr, xs))
    assert_close(value.asnumpy(), np.sum(want * head, dtype=dtype).reshape(1), dtype, "value_and_grad value")
    for i, (g, w) in enumerate(zip(grads, want_grads)):
        assert_close(g.asnumpy(), w, dtype, f"value_and_grad gradient of input {i}")


@given(programs())
def test_random_programs(program):
    check_program(program)
