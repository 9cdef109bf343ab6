"""The catalogue of bad inputs, by category. Each case asserts a clear exception (naming the op, the
shapes and dtypes) or the documented behaviour, and that nothing is left half-updated: a failed
backward leaves `.grad` and the graph as they were, a failed trace or compile leaves the compiled
function usable.

Cases that live next to the feature they test (cited, not repeated):
- mixed float32/float64 operands of every binary primitive: test_primitives.py
  test_mixed_dtypes_raise_naming_op_and_dtypes; of nd functions: test_nd.py test_mixed_float32_float64_raises
- nd-level messages (elemwise_add, batch_dot, axis out of range): test_nd.py test_error_messages;
  MXNet reshape codes: test_nd.py test_bad_reshape_codes_raise; take(mode='raise'): test_nd.py
- head-gradient list length: test_autograd.py test_head_grad_length_mismatch; backward of an
  unrecorded array: test_backward_on_unrecorded_array; backward twice and through a partly freed
  graph: test_second_backward_needs_retain_graph, test_backward_through_a_partly_freed_graph_raises
- unknown grad_req, attach_grad of integers: test_autograd.py test_unknown_grad_req_and_integer_arrays;
  autograd.grad w.r.t. an array without a gradient: test_grad_argument_errors
- in-place writes inside record(): test_autograd.py test_inplace_on_recorded_arrays_raises_inside_record;
  saved inputs are references (a write outside record() is seen by backward): test_saved_inputs_are_references
- Function misuse: test_autograd.py test_function_single_use_and_outside_record,
  test_function_wrong_gradient_count_raises_synchronously
"""
import math

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.errors import AutogradError, DTypeError, ShapeError
from jitgrad.ir.graph import Graph
from jitgrad.ops import PRIMITIVES, call
from jitgrad.state import STATE

BACKENDS = ["interpret", "numba"]


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **kw)


def attached(values, req="write"):
    x = nd.array(values, dtype=np.float64)
    x.attach_grad(req)
    return x


# ---- shape mismatches ---------------------------------------------------------------------------

BINARY = sorted(n for n, p in PRIMITIVES.items() if p.kind == "elementwise" and n not in ("where", "cast")
                and p.expr and "{1}" in p.expr)


@pytest.mark.parametrize("name", BINARY)
def test_binary_shape_mismatch_names_op_and_shapes(name):
    with pytest.raises(ShapeError, match=rf"{name}: .*\(2, 3\).*\(4,\).*float32 \(2, 3\), float32 \(4,\)"
                       r".*\[at .*test_bad_inputs.py:\d+\]"):
        call(name, nd.ones((2, 3)), nd.ones((4,)))


@pytest.mark.parametrize("make, message", [
    (lambda: nd.dot(nd.ones((2, 3)), nd.ones((2, 3))), r"dot: inner dimensions differ.*float32 \(2, 3\)"),
    (lambda: nd.dot(nd.ones((2, 3)), nd.ones((4,))), r"dot: inner dimensions differ: 3 .* vs 4"),
    (lambda: nd.ones((2, 3)).reshape((4,)), r"reshape: 6 elements do not fit shape \(4,\)"),
    (lambda: call("reshape", nd.ones((2, 3)), shape=(5,)), r"reshape: cannot reshape 6 elements"),
    (lambda: nd.concat(nd.ones((2, 3)), nd.ones((2, 4)), dim=0),
     r"concat: shapes differ outside axis 0.*float32 \(2, 3\), float32 \(2, 4\)"),
    (lambda: nd.concat(nd.ones((2, 3)), nd.ones((3,)), dim=0), r"concat: shapes differ"),
    (lambda: nd.where(nd.ones((2,)), nd.ones((2, 3)), nd.ones((2, 3))), r"where: .*\(2,\)"),
    (lambda: nd.broadcast_to(nd.ones((2, 3)), (3, 3)), r"broadcast_to: shapes \(2, 3\) and \(3, 3\) cannot"),
    (lambda: call("transpose", nd.ones((2, 3)), axes=(0, 0)), r"transpose: axes \(0, 0\)"),
], ids=["dot", "dot-vector", "reshape", "reshape-primitive", "concat", "concat-rank", "where", "broadcast_to",
        "transpose"])
def test_shape_mismatch_in_structural_ops(make, message):
    with pytest.raises(ShapeError, match=message):
        make()


@pytest.mark.parametrize("backend", BACKENDS)
def test_shape_error_inside_a_compiled_function_leaves_it_usable(backend):
    f = jg.compile(lambda a, b: a + b, backend=backend)
    with pytest.raises(ShapeError, match=r"add: .*\(2, 3\) and \(4,\)"):
        f(nd.ones((2, 3)), nd.ones((4,)))
    assert STATE.tracer is None
    for _ in range(2):
        close(f(nd.ones((2, 3)), nd.ones((3,))), np.full((2, 3), 2.0))


# ---- dtypes and what can be differentiated ------------------------------------------------------

FLOAT_ONLY = sorted(n for n, p in PRIMITIVES.items() if p.kind == "elementwise" and p.differentiable
                    and "{1}" not in (p.expr or "{1}") and n not in ("negative", "abs", "relu", "cast"))


@pytest.mark.parametrize("name", FLOAT_ONLY)
def test_integer_input_to_a_float_op_raises(name):
    with pytest.raises(DTypeError, match=rf"{name}: expects floating-point input.*int32 \(2,\)"):
        call(name, nd.array([1, 2], dtype="int32"))


def test_integer_arrays_have_no_gradients_anywhere():
    ints = nd.array([1, 2], dtype="int32")
    with pytest.raises(DTypeError, match=r"value_and_grad: argument 0 has dtype int32"):
        jg.value_and_grad(lambda x: nd.sum(x))(ints)
    with pytest.raises(DTypeError, match="attach_grad.*int32"):
        ints.attach_grad()
    f = jg.compile(lambda x: x * 2 + 1)  # integer arithmetic itself compiles and stays integer
    for _ in range(2):
        y = f(ints)
    assert y.dtype == np.int32 and y.asnumpy().tolist() == [3, 5]


def test_gradient_of_a_non_attached_array_is_an_error_and_changes_nothing():
    x, c = attached([1.0, 2.0]), nd.array([3.0, 4.0], dtype=np.float64)
    with autograd.record():
        y = x * c
    with pytest.raises(AutogradError, match="1-th variable because it does not require gradient"):
        autograd.grad(y, [c])
    y.backward()  # the failed grad freed nothing
    close(x.grad, [3, 4])
    with pytest.raises(TypeError, match="value_and_grad: argument 1 must be an NDArray"):
        jg.value_and_grad(lambda a, k: nd.sum(a * k), argnums=1)(x, 2.0)


# ---- failed backward leaves .grad and the graph intact ------------------------------------------

@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_wrong_head_gradient_leaves_grad_untouched(compiled):
    f = jg.compile(lambda a: a * a, backend="interpret") if compiled else (lambda a: a * a)
    x = attached([1.0, 2.0], "add")
    x.grad[:] = 7.0
    with autograd.record():
        y = f(x)
    with pytest.raises(ShapeError, match=r"backward: head gradient has shape \(3,\).*\(2,\)"):
        y.backward(nd.ones((3,), dtype=np.float64))
    with pytest.raises(DTypeError, match=r"backward: head gradient dtype.*float64 \(2,\), float32 \(2,\)"):
        y.backward(nd.ones((2,)))
    with pytest.raises(TypeError, match="head gradient must be an NDArray"):
        y.backward(np.ones(2))
    close(x.grad, [7, 7])
    y.backward()
    close(x.grad, [9, 11])
    with pytest.raises(AutogradError, match="retain_graph=True"):  # backward twice
        y.backward()
    close(x.grad, [9, 11])


class Failing(autograd.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g):
        raise RuntimeError("backward failed")


def test_a_backward_that_raises_half_way_leaves_grad_and_flags_intact():
    x = attached([1.0, 2.0], "add")
    x.grad[:] = 1.0
    with autograd.record():
        z = nd.sum(x * x) + nd.sum(Failing()(x))  # the x*x branch is differentiated first
    with pytest.raises(RuntimeError, match="backward failed"):
        z.backward()
    close(x.grad, [1, 1])
    assert not autograd.is_recording() and not autograd.is_training()
    with pytest.raises(RuntimeError, match="backward failed"):  # the graph was not freed either
        z.backward()


# ---- in-place updates of recorded arrays --------------------------------------------------------

def test_rejected_inplace_writes_leave_the_data_unchanged():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = x * 2
        for write in (lambda: y.__iadd__(1), lambda: y.__setitem__(0, 5.0), lambda: x.__setitem__(
                slice(None), 3.0)):
            with pytest.raises(AutogradError, match="already in a computational graph"):
                write()
    close(y, [2, 4])
    close(x, [1, 2])
    y.backward()
    close(x.grad, [2, 2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_update_of_an_argument_inside_a_compiled_function_runs_eagerly(backend, caplog):
    def bump(a):
        a += 1
        return a * 2

    f = jg.compile(bump, backend=backend)
    x = nd.array([1.0, 2.0])
    close(f(x), [4, 6])
    close(f(x), [6, 8])  # replayed, the write would be lost; eagerly, it happens on every call
    close(x, [3, 4])
    assert "runs eagerly" in caplog.text


# ---- arguments of compiled functions ------------------------------------------------------------

@pytest.mark.parametrize("arg", [[1.0, 2.0], np.ones(2), None, "text", {"a": 1}],
                         ids=["list", "numpy", "None", "str", "dict"])
def test_non_ndarray_arguments_raise_naming_the_argument(arg):
    f = jg.compile(lambda x, y: x * 2)
    with pytest.raises(TypeError, match=rf"<lambda>: argument 1 is a {type(arg).__name__}; compiled "
                       "functions take NDArrays and Python scalars"):
        f(nd.ones(2), arg)
    close(f(nd.ones(2), 3.0), [2, 2])  # the function is still usable


def test_keyword_arguments_and_unhashable_static_arguments():
    f = jg.compile(lambda x, scale=1.0: x * scale, static_argnums=("scale",))
    x = nd.array([1.0, 2.0])
    close(f(x, scale=3.0), [3, 6])
    close(f(x=x), [1, 2])
    with pytest.raises(TypeError, match="static argument 'scale' must be hashable, got list"):
        f(x, scale=[1.0])
    with pytest.raises(TypeError, match="argument 'x' is a str"):
        f(x="text")


def test_a_changed_number_of_arguments_is_a_new_signature_or_a_clear_python_error():
    f = jg.compile(lambda *xs: sum(xs[1:], xs[0]))
    x = nd.array([1.0, 2.0])
    for _ in range(2):
        close(f(x), [1, 2])
        close(f(x, x, x), [3, 6])
    assert f.cache_info()["signatures"] == 2
    g = jg.compile(lambda a: a * 2)
    with pytest.raises(TypeError, match=r"takes 1 positional argument but 2 were given"):
        g(x, x)
    with pytest.raises(TypeError, match=r"missing 1 required positional argument"):
        g()
    close(g(x), [2, 4])


# ---- what compiled functions return -------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_return_structures(backend):
    f = jg.compile(lambda x: {"double": x * 2, "pair": (x + 1, [x - 1]), "same": x}, backend=backend)
    for _ in range(2):
        out = f(nd.array([1.0]))
    close(out["double"], [2])
    close(out["pair"][0], [2])
    assert isinstance(out["pair"][1], list)
    close(out["pair"][1][0], [0])
    close(out["same"], [1])


@pytest.mark.parametrize("result", [3.0, None, "text", (1, 2)], ids=["float", "None", "str", "tuple of ints"])
def test_returning_non_arrays_raises(result):
    f = jg.compile(lambda x: result if not isinstance(result, tuple) else (x, result[0]))
    with pytest.raises(TypeError, match="a compiled function must return NDArrays"):
        f(nd.array([1.0]))
    assert STATE.tracer is None


def test_value_and_grad_needs_one_array_result():
    x = nd.array([1.0])
    for result in (lambda a: 3.0, lambda a: (a, a), lambda a: {"a": a}):
        with pytest.raises(TypeError, match="value_and_grad: the function must return one NDArray"):
            jg.value_and_grad(result)(x)
        assert not autograd.is_recording() and STATE.tracer is None


# ---- failures while tracing or compiling --------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_function_that_raises_while_tracing_stays_usable(backend):
    state = {"fail": True}

    def body(x):
        y = x * 2
        if state["fail"]:
            raise RuntimeError("half-way")
        return y

    f = jg.compile(body, backend=backend)
    with autograd.record():
        with pytest.raises(RuntimeError, match="half-way"):
            f(nd.array([1.0]))
        assert autograd.is_recording() and STATE.tracer is None
    state["fail"] = False
    close(f(nd.array([1.0])), [2])
    close(f(nd.array([1.0])), [2])


def test_a_failed_compile_leaves_no_half_built_entry(monkeypatch):
    """Regression: a compile that raised left the trace cached without a program; later calls
    alternated between the interpreter and the failing compile."""
    import jitgrad.codegen.program as program

    def broken(graph, name, cause=None):
        raise RuntimeError("code generation failed")
    f = jg.compile(lambda x: x * 2)
    x = nd.array([1.0, 2.0])
    monkeypatch.setattr(program, "build_program", broken)
    for _ in range(3):  # every call reports the failure; none returns from a half-built entry
        with pytest.raises(RuntimeError, match="code generation failed"):
            f(x)
    assert f.cache_info()["paths"] == 0
    monkeypatch.undo()
    for _ in range(2):
        close(f(x), [2, 4])
    assert f.cache_info()["paths"] == 1


# ---- empty and 0-d arrays -----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_arrays(backend):
    f = jg.compile(lambda x, w: (x * w + 1, nd.sum(nd.exp(x) * w)), backend=backend)
    vg = jg.value_and_grad(lambda x, w: nd.sum(nd.tanh(x * w)), argnums=(0, 1), backend=backend)
    x, w = nd.zeros((0, 3)), nd.ones((3,))
    for _ in range(2):
        y, s = f(x, w)
        value, (gx, gw) = vg(x, w)
    assert y.shape == (0, 3) and s.asnumpy().tolist() == [0.0]
    assert value.asnumpy().tolist() == [0.0] and gx.shape == (0, 3) and gw.asnumpy().tolist() == [0, 0, 0]
    with pytest.raises(ShapeError, match=r"max: zero-size array.*float32 \(0, 3\)"):
        nd.max(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_dimensional_arrays(backend):
    x = nd.array(np.array(0.5), dtype=np.float64)
    assert x.shape == ()
    f = jg.compile(lambda a: nd.exp(a) * a, backend=backend)
    for _ in range(2):
        y = f(x)
        g = jg.grad(lambda a: nd.exp(a) * a, backend=backend)(x)
    assert y.shape == () and g.shape == ()
    close(y, np.exp(0.5) * 0.5, rtol=1e-15)
    close(g, np.exp(0.5) * 1.5, rtol=1e-15)
    xv = attached(np.array(0.5))
    with autograd.record():
        z = nd.exp(xv) * xv
    z.backward()
    close(xv.grad, np.exp(0.5) * 1.5, rtol=1e-15)


# ---- NaN and inf --------------------------------------------------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e30, -1e30, 1.0])


def special_program(x):
    return (nd.exp(x), nd.log(x), nd.sqrt(x), nd.tanh(x), nd.maximum(x, 0.0), nd.sigmoid(x), x / x,
            nd.sum(x * 2), nd.max(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_propagate_as_in_numpy(backend, dtype):
    x = nd.array(SPECIAL, dtype=dtype)
    with np.errstate(all="ignore"):
        want = [o.asnumpy() for o in special_program(x)]
        f = jg.compile(special_program, backend=backend)
        for _ in range(2):
            got = [o.asnumpy() for o in f(x)]
        vg = jg.value_and_grad(lambda a: nd.sum(nd.tanh(a) * a), backend=backend)
        for _ in range(2):
            value, grad = vg(x)
    for i, (g, w) in enumerate(zip(got, want)):
        close(g, w, rtol=1e-6, err_msg=f"output {i}")  # nan == nan, inf == inf here
    assert np.isnan(value.asnumpy()).all() and np.isnan(grad.asnumpy()[0])
    assert np.isnan(grad.asnumpy()[1])  # d/dx x tanh x at inf: tanh(inf) + inf * 0 = nan, as numpy gives


# ---- large arrays: index arithmetic -------------------------------------------------------------

def test_generated_index_arithmetic_is_64_bit():
    """A sum over 2**31 + 3 elements of a zero-strided view (8 bytes of memory): a 32-bit loop
    index would wrap. The graph is built directly, since tracing would run numpy on the full size."""
    from jitgrad.codegen.program import build_program
    n = 2 ** 31 + 3
    g = Graph()
    a = g.add_input((n,), np.float64)
    two = g.add_literal(np.asarray(2.0, np.float64))
    m = g.add_eqn(PRIMITIVES["multiply"], [a, two], {}, (n,), np.float64)
    s = g.add_eqn(PRIMITIVES["sum"], [m], {"axes": (0,), "keepdims": False}, (1,), np.float64)
    g.outputs = [s]
    program = build_program(g, "large")
    (total,) = program([np.broadcast_to(np.float64(1.0), (n,))])
    assert total.tolist() == [float(np.float64(2.0 * n))]
    (step,) = [st for st in program.steps if hasattr(st, "compiled")]
    (types,) = step.compiled.entries
    assert step.parallel and types[:5] == ("int64",) * 5  # the chunk range, finish0, n0: 64-bit sizes
    assert math.prod(step.rendered.sizes) == n


# ---- recursion through compiled functions -------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_functions_calling_compiled_functions(backend):
    inner = jg.compile(lambda x: x * 3, backend=backend)
    outer = jg.compile(lambda x: inner(x) + inner(x * 2), backend=backend)
    for _ in range(2):
        close(outer(nd.array([1.0, 2.0])), [9, 18])


@pytest.mark.parametrize("backend", BACKENDS)
def test_recursive_compiled_function(backend):
    @jg.compile(backend=backend)
    def power_tower(x, n):  # n is a Python int: static, one trace per value
        return x if n == 0 else power_tower(x * 1.5, n - 1) + 1

    x = nd.array([1.0, 2.0], dtype=np.float64)
    for _ in range(2):
        close(power_tower(x, 30), x.asnumpy() * 1.5 ** 30 + 30, rtol=1e-12)
    w = attached([1.0, 2.0])
    vg = jg.value_and_grad(lambda a: nd.sum(power_tower(a, 5) * a), backend=backend)
    for _ in range(2):
        with autograd.record():
            y = nd.sum(power_tower(w, 5) * w)
        y.backward()
        value, grad = vg(w)
    close(value, y, rtol=1e-12)
    close(grad, w.grad, rtol=1e-12)
    close(grad, 2 * w.asnumpy() * 1.5 ** 5 + 5, rtol=1e-12)
