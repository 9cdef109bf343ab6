"""Programs (simplify -> fuse -> render -> Numba) against the reference interpreter.

Graphs are built by hand from (primitive, operands, attrs) lists. Numba compile time dominates, so the
graphs are arranged to need few distinct kernels (every elementwise primitive of a dtype in one kernel)
and the shapes are tiny; `cache=True` makes reruns fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from jitgrad.codegen import compile as jcompile
from jitgrad.codegen.program import FallbackStep, KernelStep, build_program
from jitgrad.ir.graph import Graph, interpret
from jitgrad.ops import PRIMITIVES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fused_w1 import w1_graph  # noqa: E402

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def build(inputs, ops, outputs=None) -> Graph:
    """inputs: [(shape, dtype)]; ops: [(prim name, operands, attrs)] where an operand is an int (a value
    made earlier: inputs first, then each op's result) or a numpy array (a literal). Outputs default to
    the last op."""
    g = Graph()
    values = [g.add_input(shape, dtype) for shape, dtype in inputs]
    for prim_name, operands, attrs in ops:
        prim = PRIMITIVES[prim_name]
        ins = [values[o] if isinstance(o, int) else g.add_literal(np.asarray(o)) for o in operands]
        stand_ins = [np.broadcast_to(np.zeros((), v.dtype), v.shape) for v in ins]
        shape, dtype = prim.shape_rule(*stand_ins, **attrs)
        values.append(g.add_eqn(prim, ins, attrs, shape, dtype))
    g.outputs = [values[i] for i in (outputs if outputs is not None else [-1])]
    return g


def check(graph, arrays, program=None):
    program = program or build_program(graph, "test")
    got = program(arrays)
    want = interpret(graph, arrays)
    assert len(got) == len(want)
    for g, w, v in zip(got, want, graph.outputs, strict=True):
        assert g.shape == v.shape and g.dtype == v.dtype, (g.shape, g.dtype, v)
        tol = TOL.get(v.dtype, 0)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * 1e-3)
    return program


def kernels(program):
    return [s for s in program.steps if isinstance(s, KernelStep)]


def sample(domain, shape, dtype, seed):
    lo, hi = domain
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


ELEMENTWISE = [p for p in PRIMITIVES.values() if p.kind == "elementwise" and p.name != "cast"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_elementwise_primitive_in_one_kernel(dtype):
    """One kernel per dtype computes every elementwise primitive; each result is an output."""
    n = 9
    domains = sorted({p.domain_of(i) for p in ELEMENTWISE for i in range(3)})
    # one input u in [0, 1); each domain's operand is lo + (hi - lo) * u, so all of it is one kernel
    ops = [op for lo, hi in domains for op in
           (("multiply", [0, np.asarray(hi - lo, dtype)], {}), ("add", [None, np.asarray(lo, dtype)], {}))]
    for i in range(1, len(ops), 2):
        ops[i][1][0] = i                     # the add reads the multiply just before it
    operand = {d: 2 + 2 * k for k, d in enumerate(domains)}
    outputs = []
    for p in ELEMENTWISE:
        arity = len(p.grads) if isinstance(p.grads, tuple) else 1
        ops.append((p.name, [operand[p.domain_of(i)] for i in range(arity)], {}))
        outputs.append(len(ops))
    ops.append(("cast", [2], {"dtype": "float64" if dtype == np.float32 else "float32"}))
    outputs.append(len(ops))
    graph = build([((n,), dtype)], ops, outputs)
    u = sample((0, 1), (n,), dtype, 0)
    arrays = [u]
    program = check(graph, arrays)
    assert len(kernels(program)) == 1 and len(program.steps) == 1
    ties = build([((4,), dtype)], [(name, [0], {}) for name in ("round", "rint")], [1, 2])
    check(ties, [np.array([0.5, -1.5, 2.5, -0.5], dtype)])


def test_integer_kernel():
    ops = [("add", [0, 1], {}), ("multiply", [2, 1], {}), ("mod", [3, 1], {}), ("maximum", [4, 0], {}),
           ("negative", [5], {}), ("abs", [6], {}), ("sum", [7], {"axes": (0,), "keepdims": False})]
    graph = build([((6,), np.int32), ((6,), np.int32)], ops, [6, 7, 8])
    a = np.array([1, -2, 3, 7, -9, 0], np.int32)
    b = np.array([2, 3, -4, 0, 5, 1], np.int32)
    check(graph, [a, b])


@pytest.mark.parametrize("shapes", [((5,), (1,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), ()), ((2, 3), ())])
def test_broadcasting_patterns(shapes):
    graph = build([(s, np.float64) for s in shapes],
                  [("multiply", [0, 1], {}), ("add", [2, 0], {}), ("tanh", [3], {})], [2, 4])
    check(graph, [sample((-2, 2), s, np.float64, i) for i, s in enumerate(shapes)])


AXES = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]


def test_reductions_over_every_axis_set_in_one_kernel():
    ops = [("multiply", [0, 0], {})]
    for axes in AXES:
        for keepdims in (False, True):
            ops.append(("sum", [1], {"axes": axes, "keepdims": keepdims}))
    for kind in ("max", "min", "prod"):          # last axis, a leading axis, and everything
        ops += [(kind, [1], {"axes": axes, "keepdims": True}) for axes in ((2,), (0,), (0, 1, 2))]
    graph = build([((2, 3, 4), np.float32)], ops, list(range(2, len(ops) + 1)))
    x = sample((0.5, 1.5), (2, 3, 4), np.float32, 0)
    program = check(graph, [x])
    assert len(kernels(program)) == 1 and len(kernels(program)[0].kernel.reductions) == len(ops) - 1
    check(graph, [np.asfortranarray(x)], program)


def test_non_contiguous_inputs():
    graph = build([((3, 4), np.float64), ((4,), np.float64)],
                  [("multiply", [0, 1], {}), ("exp", [2], {}), ("sum", [3], {"axes": (1,), "keepdims": True}),
                   ("sum", [3], {"axes": (0,), "keepdims": False})], [3, 4, 5])
    base = sample((-1, 1), (4, 3), np.float64, 1)
    wide = sample((-1, 1), (8,), np.float64, 2)
    program = check(graph, [base.T, wide[::2]])         # transposed and strided
    check(graph, [np.ascontiguousarray(base.T), wide[:4]], program)
    flat = build([((6,), np.float64), ((6,), np.float64)], [("subtract", [0, 1], {}),
                                                            ("sum", [2], {"axes": (0,), "keepdims": False})],
                 [2, 3])
    check(flat, [wide[::-1][:6], sample((0, 1), (12,), np.float64, 3)[1::2]])


def test_w1_value_and_grad_is_one_kernel():
    graph = w1_graph(10)
    program = build_program(graph, "w1")
    assert [type(s) for s in program.steps] == [KernelStep]
    (step,) = program.steps
    assert step.rendered.flat
    assert sorted(r.prim.name for r in step.kernel.reductions) == ["sum", "sum", "sum"]
    assert step.kernel.outputs == []                        # nothing elementwise is materialized
    assert {v.index for v in step.kernel.inputs} - set(program.graph.literals) == \
        {v.index for v in graph.inputs}                     # x and y are read once, by this loop
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(10).astype(np.float32), rng.standard_normal(10).astype(np.float32),
            np.array([0.7], np.float32), np.array([-0.2], np.float32)]
    check(graph, args, program)
    name, source, eqns = program.kernels[0]
    assert source.startswith("# jitgrad kernel w1_k0 of graph 'w1'") and "tanh" in source
    assert "w1_k0" in program.describe()


def test_out_buffers_are_written_in_place():
    graph = w1_graph(7)
    program = build_program(graph)
    args = [np.linspace(-1, 1, 7, dtype=np.float32), np.linspace(0, 1, 7, dtype=np.float32),
            np.array([0.5], np.float32), np.array([0.1], np.float32)]
    dw, db = np.full(1, np.nan, np.float32), np.full(1, np.nan, np.float32)
    loss, dw_out, db_out = program(args, {1: dw, 2: db})
    assert dw_out is dw and db_out is db
    want = interpret(graph, args)
    np.testing.assert_allclose([loss, dw, db], want, rtol=1e-5)
    # a strided buffer for an elementwise output, and one for an output computed by numpy
    g2 = build([((3, 4), np.float64)], [("exp", [0], {}), ("transpose", [1], {"axes": (1, 0)})], [1, 2])
    x = sample((-1, 1), (3, 4), np.float64, 4)
    out1, out2 = np.zeros((4, 3)).T, np.zeros((3, 8))[:, ::2].T
    r = build_program(g2)([x], {0: out1, 1: out2})
    assert r[0] is out1 and r[1] is out2
    np.testing.assert_allclose(out1, np.exp(x), rtol=1e-10)
    np.testing.assert_allclose(out2, np.exp(x).T, rtol=1e-10)


def test_fallback_steps_between_kernels():
    # softmax-like: a reduction result feeds later elementwise work; dot and reshape run as numpy
    ops = [("dot", [0, 1], {}), ("tanh", [2], {}), ("max", [3], {"axes": (1,), "keepdims": True}),
           ("broadcast_to", [4], {"shape": (3, 4)}), ("subtract", [3, 5], {}), ("exp", [6], {}),
           ("sum", [7], {"axes": (1,), "keepdims": True}), ("divide", [7, 8], {}),
           ("reshape", [9], {"shape": (12,)})]
    graph = build([((3, 5), np.float64), ((5, 4), np.float64)], ops, [10, 8])
    program = check(graph, [sample((-1, 1), (3, 5), np.float64, 5), sample((-1, 1), (5, 4), np.float64, 6)])
    kinds = [s.eqn.prim.name if isinstance(s, FallbackStep) else "kernel" for s in program.steps]
    assert kinds == ["dot", "kernel", "reshape"], kinds   # max | exp, sum | divide: stages of one row loop
    assert "row kernel" in program.steps[1].describe()
    assert "fallback dot" in program.describe()


def test_same_structure_compiles_once():
    before = jcompile.STATS["modules"]
    small, large = build_program(w1_graph(5)), build_program(w1_graph(13))
    assert small.steps[0].compiled is large.steps[0].compiled
    assert jcompile.STATS["modules"] - before <= 1
    for n, program in ((5, small), (13, large)):
        args = [np.ones(n, np.float32), np.zeros(n, np.float32), np.ones(1, np.float32),
                np.zeros(1, np.float32)]
        check(w1_graph(n), args, program)
    assert list(small.steps[0].compiled.entries) == [small.steps[0].types]   # one serves both


def test_one_program_takes_contiguous_and_strided_inputs():
    """The launcher calls the entry typed for C-contiguous arrays; a strided view (a new layout for the
    same program, e.g. a head gradient passed to backward) takes the entry for any layout instead."""
    n = 9
    program = build_program(w1_graph(n))
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (2, 2 * n)).astype(np.float32)
    w, b = np.array([0.7], np.float32), np.array([-0.2], np.float32)
    for xs, ys in ((x[:n].copy(), y[:n].copy()), (x[::2], y[1::2]), (x[:n].copy(), y[::2])):
        check(w1_graph(n), [xs, ys, w, b], program)
    layouts = sorted({t[2] for types in kernels(program)[0].compiled.entries for t in types
                      if isinstance(t, tuple)})
    assert layouts == ["A", "C"]


def test_kernels_calling_trig_are_optimized_twice():
    """A kernel calling float32 sin, cos or tan compiles through a caller that LLVM optimizes again
    (numbajit.reoptimized); its results, small and large arguments alike, match the interpreter's."""
    import types

    from jitgrad.codegen import numbajit, vmath
    with_sin, with_tanh = types.ModuleType("a"), types.ModuleType("b")
    with_sin.sin_f32, with_tanh.tanh_f32 = vmath.FUNCTIONS["sin"][0], vmath.FUNCTIONS["tanh"][0]
    assert numbajit.reoptimized(with_sin) and not numbajit.reoptimized(with_tanh)
    graph = build([((7,), np.float32)], [("sin", [0], {}), ("cos", [1], {}), ("multiply", [2, 0], {})])
    x = np.array([0.3, -2.0, 1e3, 3e6, 2e9, -7e12, 0.0], np.float32)   # fast path and both tails
    check(graph, [x])


def test_parallel_variant_matches(monkeypatch):
    from jitgrad.codegen import program as jprogram
    monkeypatch.setattr(jprogram, "PARALLEL_MIN", 8)
    graph = build([((40, 3), np.float64), ((3,), np.float64)],
                  [("multiply", [0, 1], {}), ("sum", [2], {"axes": (0,), "keepdims": False}),
                   ("max", [2], {"axes": (1,), "keepdims": False})], [3, 4])
    program = build_program(graph)
    assert kernels(program)[0].parallel
    check(graph, [sample((-1, 1), (40, 3), np.float64, 7), sample((-1, 1), (3,), np.float64, 8)], program)


# ---- row kernels: stages over (n0, n1) and its rows in one loop over rows ----------------------------

def row_graph(n0, n1, dtype=np.float64):
    """Every way a stage reads and writes: row inputs (n0,) and (n0, 1), a column input, a scalar; row
    reductions of each kind used by later stages; column and full reductions; full, per-row and column
    values needed outside."""
    S = {"axes": (1,), "keepdims": True}
    ops = [("multiply", [0, 2], {}),                                   # 5 full
           ("max", [5], S), ("min", [5], S),                           # 6, 7 row
           ("subtract", [5, 6], {}), ("exp", [8], {}),                 # 8, 9 full
           ("sum", [9], S), ("prod", [8], S),                          # 10, 11 row
           ("log", [10], {}), ("add", [12, 6], {}),                    # 12, 13 row
           ("reshape", [13], {"shape": (n0,)}), ("add", [14, 1], {}),  # 14, 15 row (n0,)
           ("sum", [15], {"axes": (0,), "keepdims": False}),           # 16 full reduction of rows
           ("divide", [9, 10], {}), ("multiply", [17, 3], {}),         # 17, 18 full
           ("sum", [18], {"axes": (0,), "keepdims": True}),            # 19 column
           ("sum", [18], {"axes": (0, 1), "keepdims": False}),         # 20 full
           ("add", [7, 11], {}), ("multiply", [21, 4], {})]            # 21, 22 row, (n0, 1) input
    inputs = [((n0, n1), dtype), ((n0,), dtype), ((n1,), dtype), ((1,), dtype), ((n0, 1), dtype)]
    return build(inputs, ops, [16, 19, 20, 17, 22, 13])


def row_arrays(n0, n1, dtype=np.float64, seed=0):
    shapes = [(n0, n1), (n0,), (n1,), (1,), (n0, 1)]
    return [sample((-1, 1), s, dtype, seed + i) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_kernel_runs_every_stage_kind_in_one_loop(dtype):
    program = check(row_graph(5, 7, dtype), row_arrays(5, 7, dtype))
    rows = [s for s in program.steps if isinstance(s, KernelStep) and "row kernel" in s.describe()]
    assert len(rows) == 1 and len(program.steps) == 1, program.describe()


def test_a_row_kernel_serves_every_size_of_its_structure():
    small = check(row_graph(3, 4), row_arrays(3, 4))
    large = check(row_graph(9, 33), row_arrays(9, 33, seed=3))
    assert small.steps[0].compiled is large.steps[0].compiled


def test_row_max_and_min_propagate_nan_and_keep_integers_exact():
    x = sample((-1, 1), (4, 6), np.float64, 1)
    x[2, 3] = np.nan
    ops = [("max", [0], {"axes": (1,), "keepdims": True}), ("subtract", [0, 1], {}),
           ("min", [2], {"axes": (1,), "keepdims": True}), ("add", [1, 3], {})]
    got = check(build([((4, 6), np.float64)], ops, [4]), [x])([x])[0]
    assert np.isnan(got[2, 0]) and np.isfinite(np.delete(got, 2, 0)).all()
    big = np.array([[2 ** 62 + 1, -5, 2 ** 62], [7, 2 ** 62 + 3, 1]], np.int64)
    check(build([((2, 3), np.int64)], ops, [4]), [big])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_running_row_max_and_min_keep_zeros_infinities_and_nan(dtype):
    """Row max/min are folded while their stage's loop runs (not from a buffer after it): the same
    values as numpy's with zeros of both signs, infinities and NaN, and the terms still feed the next
    stage. (Which zero a max of -0.0 and 0.0 gives depends on the order in numpy; not compared.)"""
    x = np.array([[-0.0, 0.0, -0.0], [0.0, -0.0, -0.0], [-np.inf, -np.inf, -np.inf],
                  [np.inf, 1.0, -np.inf], [2.0, np.nan, 3.0]], dtype)
    ops = [("multiply", [0, 0], {}), ("subtract", [0, 1], {}),          # 1, 2: terms feed the next stage
           ("max", [2], {"axes": (1,), "keepdims": True}), ("min", [2], {"axes": (1,), "keepdims": True}),
           ("subtract", [2, 3], {}), ("sum", [5], {"axes": (1,), "keepdims": True})]
    graph = build([((5, 3), dtype)], ops, [3, 4, 6])
    program = build_program(graph, "test")
    source = kernels(program)[0].rendered.source
    assert "_run = larger(" in source and "_run = smaller(" in source and "max_block(" not in source
    with np.errstate(invalid="ignore"):
        got, want = program([x]), interpret(graph, [x])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_a_stage_never_reads_a_reduction_over_axis_0_of_its_own_loop():
    # c = x - colsum(x) needs the column sums of every row before its first row: two loops
    ops = [("sum", [0], {"axes": (1,), "keepdims": True}), ("subtract", [0, 1], {}),
           ("sum", [2], {"axes": (0,), "keepdims": True}), ("subtract", [2, 3], {}),
           ("sum", [4], {"axes": (1,), "keepdims": True})]
    program = check(build([((4, 5), np.float64)], ops, [5]), [sample((-1, 1), (4, 5), np.float64, 2)])
    assert len([s for s in program.steps if isinstance(s, KernelStep)]) == 2, program.describe()


def test_an_outside_vector_is_never_both_per_row_and_a_column_of_one_row_loop():
    # v of shape (4,) with x of (4, 4): per-row in the (4,) stage, a column in the (4, 4) stages
    S = {"axes": (1,), "keepdims": False}
    ops = [("sum", [0], S), ("add", [2, 1], {}),                      # 2, 3: rows (4,)
           ("reshape", [3], {"shape": (4, 1)}), ("subtract", [0, 4], {}),   # 4, 5
           ("multiply", [5, 1], {}), ("sum", [6], S)]                  # 6: v read along axis 1
    graph = build([((4, 4), np.float64), ((4,), np.float64)], ops, [7])
    check(graph, [sample((-1, 1), (4, 4), np.float64, 8), sample((-1, 1), (4,), np.float64, 9)])


@pytest.mark.parametrize("rows", [2, 8, 21])
def test_float32_column_sums_add_stages_of_rows_in_float32_then_in_float64(monkeypatch, rows):
    """A row kernel's and a 2-d loop's column sums of float32 terms (render.staged): every row added
    once, also when three chunks of rows run in parallel, as close to float64 sums as float64
    accumulation is."""
    from jitgrad.codegen import program as jprogram, threads
    monkeypatch.setattr(jprogram, "PARALLEL_MIN", 8)
    monkeypatch.setattr(threads, "_threads", 3)
    S, C = {"axes": (1,), "keepdims": True}, {"axes": (0,), "keepdims": False}
    row_ops = [("max", [0], S), ("subtract", [0, 1], {}), ("exp", [2], {}), ("sum", [3], S),
               ("divide", [3, 4], {}), ("multiply", [5, 0], {}), ("sum", [6], C)]
    plain_ops = [("multiply", [0, 0], {}), ("sum", [1], C)]
    x = sample((-3, 3), (rows, 37), np.float32, rows)
    for ops in (row_ops, plain_ops):
        program = build_program(build([((rows, 37), np.float32)], ops), "test")
        step = kernels(program)[0]
        assert "_stages" in step.rendered.source and step.parallel, program.describe()
        got = program([x])[0]
        want = interpret(build([((rows, 37), np.float64)], ops), [x.astype(np.float64)])[0]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
