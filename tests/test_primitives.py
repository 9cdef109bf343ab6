"""Table-driven tests of the primitive table: every entry of `jitgrad.ops.PRIMITIVES` is covered.

For each primitive, CASES lists concrete inputs and attributes. Differentiable primitives are checked
against float64 central finite differences (first and second order); every case also checks the
shape/dtype rule against the numpy implementation. A primitive added to the table without cases fails
`test_every_primitive_has_cases`; a `test_attrs` entry no case exercises fails
`test_every_table_attr_is_exercised`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from gradcheck import check_grads
from jitgrad import autograd, nd
from jitgrad.errors import DTypeError
from jitgrad.ops import PRIMITIVES, call

COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")
UNARY_SHAPES = ((3, 4), (5,), ())
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((), (2, 3)), ((2, 3), ()))
REDUCTION_SHAPES = ((3, 4), (2, 3, 4))


@dataclass
class Case:
    """Inputs of one application: `shapes` are sampled from the primitive's domain unless `values`
    gives an input explicitly; gradients are checked with respect to the inputs in `wrt`."""
    shapes: tuple
    attrs: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)   # input index -> fixed numpy array
    wrt: tuple | None = None                     # None: every input that has a gradient rule

    def inputs(self, prim, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        out = []
        for i, shape in enumerate(self.shapes):
            if i in self.values:
                out.append(np.asarray(self.values[i]).astype(dtype))
            else:
                lo, hi = prim.domain_of(i)
                out.append(rng.uniform(lo, hi, shape).astype(dtype))
        return out

    def differentiated(self, prim) -> tuple:
        if self.wrt is not None:
            return self.wrt
        return tuple(i for i in range(len(self.shapes)) if prim.grad_rule(i) is not None)

    def label(self) -> str:
        return f"{self.shapes}-{self.attrs}"


def arity(prim) -> int:
    return len(prim.grads)


def elementwise_cases(prim) -> list:
    shapes = UNARY_SHAPES if arity(prim) == 1 else BINARY_SHAPES
    return [Case(s if arity(prim) > 1 else (s,)) for s in shapes]


def reduction_cases(prim) -> list:
    return [Case((s,), attrs) for s in REDUCTION_SHAPES for attrs in prim.test_attrs]


ROW_COND = np.array([[1.0], [0.0], [1.0]])
IDX_REPEATED = np.array([0.0, 2.0, 0.0, 0.0])

SPECIAL_CASES = {
    # the condition is 0/1 data (the domain would make it nonzero almost everywhere)
    "where": [Case(((3, 4), (3, 4), (3, 4)), values={0: np.tile([[1.0, 0.0]], (3, 2))}),
              Case(((3, 1), (1, 4), (3, 4)), values={0: ROW_COND}),
              Case(((3, 1), (), (4,)), values={0: ROW_COND})],
    # float64 -> float64 by finite differences; float64 -> float32 in test_cast_gradient_is_exact
    "cast": [Case(((3, 4),), {"dtype": "float64"})],
    # mod's own domain keeps floor(x / y) == 0; this case has floor(x / y) == 1
    "mod": elementwise_cases(PRIMITIVES["mod"]) + [
        Case(((3, 4), (3, 4)), values={0: np.linspace(2.3, 2.9, 12).reshape(3, 4),
                                       1: np.linspace(1.9, 1.5, 12).reshape(3, 4)})],
    "dot": [Case(((2, 3), (3, 4))), Case(((3,), (3,))), Case(((3,), (3, 4))), Case(((2, 3), (3,))),
            Case(((2, 2, 3), (3, 4))), Case(((2, 3), (3, 2, 2)))],
    "batch_dot": [Case(((2, 3, 4), (2, 4, 5)))],
    "reshape": [Case(((3, 4),), a) for a in PRIMITIVES["reshape"].test_attrs],
    "transpose": [Case(((3, 4),), {"axes": (1, 0)}), Case(((2, 3, 4),), {"axes": (2, 0, 1)})],
    "broadcast_to": [Case((s,), {"shape": (3, 2, 3)}) for s in ((2, 1), (1, 3), (3,), (2, 3), (3, 1, 1))],
    "concat": [Case(((2, 3), (2, 1), (2, 2)), {"axis": 1}), Case(((1, 3), (2, 3)), {"axis": 0})],
    "index": [Case(((3, 4),), {"key": (("s", None, None, -1), 1)}),
              Case(((5, 2),), {"key": (("s", -1, 0, -2), "...")}),
              Case(((2, 3),), {"key": (None, 1, ("s", 1, None, None))}),
              # gather with repeated indices (the gradient must add up)
              Case(((3, 2), (4,)), {"key": (("a", 0),)}, values={1: IDX_REPEATED}, wrt=(0,)),
              Case(((3, 4), (2,), (2,)), {"key": (("a", 0), ("a", 1))},
                   values={1: np.array([2.0, 2.0]), 2: np.array([1.0, 3.0])}, wrt=(0,))],
    "index_add": [Case(((3, 3),), {"key": (("s", 1, None, None),), "shape": (4, 3)}),
                  Case(((4, 2), (4,)), {"key": (("a", 0),), "shape": (3, 2)},
                       values={1: IDX_REPEATED}, wrt=(0,))],
}
KIND_CASES = {"elementwise": elementwise_cases, "reduction": reduction_cases}
# (name, attrs) from test_attrs that dedicated tests below check instead of finite differences
DEDICATED = {("cast", (("dtype", "float32"),))}


def cases_of(name) -> list:
    prim = PRIMITIVES[name]
    if name in SPECIAL_CASES:
        return SPECIAL_CASES[name]
    return KIND_CASES[prim.kind](prim) if prim.kind in KIND_CASES else []


ALL_CASES = [(name, case) for name in PRIMITIVES for case in cases_of(name)]
GRAD_CASES = [(n, c) for n, c in ALL_CASES if PRIMITIVES[n].differentiable]


def ids(pairs):
    return [f"{n}-{c.label()}" for n, c in pairs]


# ---- coverage of the table --------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_every_primitive_has_cases(name):
    assert cases_of(name), f"primitive {name!r} has no test cases: add it to SPECIAL_CASES"


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_every_table_attr_is_exercised(name):
    used = [c.attrs for c in cases_of(name)]
    for attrs in PRIMITIVES[name].test_attrs:
        if (name, tuple(sorted(attrs.items()))) not in DEDICATED:
            assert attrs in used, f"{name}: test_attrs entry {attrs} is not exercised by any case"


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_differentiable_flag_matches_rules(name):
    prim = PRIMITIVES[name]
    if callable(prim.grads) or prim.grads is None:
        assert prim.differentiable == callable(prim.grads)
    else:
        assert prim.differentiable == any(r is not None for r in prim.grads)
    if prim.kind == "elementwise" and name != "where":
        assert prim.expr is not None, f"{name}: elementwise primitives need a codegen expression"


# ---- gradients ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_gradients_match_finite_differences(name, case):
    prim = PRIMITIVES[name]
    values = case.inputs(prim)
    wrt = case.differentiated(prim)
    assert wrt, f"{name}: a differentiable case with nothing to differentiate"

    def fn(*variables):
        args = [nd.array(v, dtype=np.float64) for v in values]
        for i, var in zip(wrt, variables, strict=True):
            args[i] = var
        return call(name, *args, **case.attrs)

    check_grads(fn, [values[i] for i in wrt], order=2, rtol=prim.tol, atol=prim.tol * 1e-2)


def first_gradients(name, case, values, wrt, create_graph):
    args = [nd.array(v, dtype=v.dtype) for v in values]
    for i in wrt:
        args[i].attach_grad()
    with autograd.record():
        y = call(name, *args, **case.attrs)
    head = nd.array(np.linspace(-3.0, 6.0, y.size).reshape(y.shape), dtype=y.dtype)
    grads = autograd.grad(y, [args[i] for i in wrt], head_grads=head, create_graph=create_graph)
    return [g.asnumpy() for g in grads]


@pytest.mark.parametrize("name,case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_plain_and_recorded_backward_agree_exactly(name, case):
    # A plain backward runs the rules on numpy arrays, a recorded one on NDArrays: the same ops on
    # the same float32 values, so the same bits.
    prim = PRIMITIVES[name]
    values = case.inputs(prim, np.float32)
    wrt = case.differentiated(prim)
    plain = first_gradients(name, case, values, wrt, create_graph=False)
    recorded = first_gradients(name, case, values, wrt, create_graph=True)
    for i, a, b in zip(wrt, plain, recorded, strict=True):
        assert a.dtype == b.dtype == np.float32 and a.shape == values[i].shape
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: input {i}")


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["negative", "abs", "relu", "add", "subtract", "multiply", "divide",
                                  "maximum", "minimum"])
def test_integer_cotangents_keep_integer_semantics(name, create_graph):
    # Integer ops between a cast and an integer head carry integer cotangents. jitgrad's integer
    # division truncates (numpy's `/` gives floats): a plain backward runs such rules on NDArrays too.
    prim = PRIMITIVES[name]
    x = nd.array([7.0, -5.0, 3.0, 9.0])
    x.attach_grad()
    other = nd.array([2, 3, -2, 4], dtype=np.int32)
    with autograd.record():
        xi = x.astype("int32")
        y = call(name, xi, other) if arity(prim) == 2 else call(name, xi)
    head = nd.array([-3, 0, 3, 6], dtype=np.int32)
    (grad,) = autograd.grad(y, [x], head_grads=head, create_graph=create_graph)
    g, xs, ys = np.array([-3, 0, 3, 6]), x.asnumpy().astype(np.int32), other.asnumpy()
    expected = {"negative": -g, "abs": g * np.sign(xs), "relu": g * (xs > 0), "add": g, "subtract": g,
                "multiply": g * ys, "divide": np.fix(g / ys), "maximum": g * (xs >= ys),
                "minimum": g * (xs <= ys)}[name]
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad.asnumpy(), expected)


def test_cast_gradient_is_exact():
    # float64 -> float32: the cotangent comes back cast to the input's dtype, unchanged otherwise
    x = nd.array(np.linspace(-1, 1, 6).reshape(2, 3), dtype=np.float64)
    x.attach_grad()
    head = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    with autograd.record():
        y = call("cast", x, dtype="float32")
    assert y.dtype == np.float32
    y.backward(nd.array(head))
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.asnumpy(), head.astype(np.float64))


# ---- shape and dtype rules ------------------------------------------------------------------------

RULE_CASES = ALL_CASES + [("cast", Case(((3, 4),), {"dtype": "float32"}))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,case", RULE_CASES, ids=ids(RULE_CASES))
def test_shape_rule_matches_impl(name, case, dtype):
    prim = PRIMITIVES[name]
    arrays = case.inputs(prim, dtype)
    shape, out_dtype = prim.shape_rule(*arrays, **case.attrs)
    out = np.asarray(prim.impl(*arrays, **case.attrs))
    assert out.shape == tuple(shape)
    assert out.dtype == np.dtype(out_dtype), f"{name}: impl gives {out.dtype}, rule says {out_dtype}"
    if name == "cast":
        assert out.dtype == np.dtype(case.attrs["dtype"])
    else:  # argmax/argmin too: indices in the input's dtype (MXNet's convention)
        assert out.dtype == dtype, f"{name}: {dtype.__name__} input gave {out.dtype}"


BINARIES = [n for n, p in PRIMITIVES.items() if p.kind == "elementwise" and n != "cast" and arity(p) > 1]


@pytest.mark.parametrize("name", BINARIES)
def test_mixed_dtypes_raise_naming_op_and_dtypes(name):
    args = [nd.ones((2,)), nd.ones((2,), dtype=np.float64)]
    if name == "where":  # the condition may have any dtype; x and y must agree
        args = [nd.ones((2,), dtype=np.float64)] + args
    with pytest.raises(DTypeError, match=f"{name}.*float32.*float64"):
        call(name, *args)


# ---- comparisons and non-differentiable primitives -------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_are_zero_one_in_input_dtype(name, dtype):
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]], dtype)
    y = np.array([2.0, 2.0, 2.0], dtype)  # ties in the first row
    expected = {"equal": x == y, "not_equal": x != y, "greater": x > y, "greater_equal": x >= y,
                "less": x < y, "less_equal": x <= y}[name].astype(dtype)
    out = call(name, nd.array(x, dtype=dtype), nd.array(y, dtype=dtype))
    assert out.dtype == dtype and out.shape == (2, 3)
    np.testing.assert_array_equal(out.asnumpy(), expected)


NO_GRAD_INPUTS = [(n, c, i) for n, c in ALL_CASES for i in range(len(c.shapes))
                  if i not in (c.differentiated(PRIMITIVES[n]) if PRIMITIVES[n].differentiable else ())]


@pytest.mark.parametrize("name,case,i", NO_GRAD_INPUTS,
                         ids=[f"{n}-{c.label()}-input{i}" for n, c, i in NO_GRAD_INPUTS])
def test_inputs_without_rules_get_zero_gradient(name, case, i):
    prim = PRIMITIVES[name]
    values = case.inputs(prim)
    args = [nd.array(v, dtype=np.float64) for v in values]
    args[i].attach_grad()
    args[i].grad[...] = 7.0  # 'write' must overwrite the stale value with zeros
    with autograd.record():
        y = call(name, *args, **case.attrs)
    y.backward()
    np.testing.assert_array_equal(args[i].grad.asnumpy(), np.zeros(values[i].shape))
    if not callable(prim.grads):
        assert prim.grad_rule(i) is None
