"""simplify and fusion on hand-built graphs: structure only (no Numba), checked against `interpret`."""
from __future__ import annotations

import numpy as np

from jitgrad.ir.graph import interpret
from jitgrad.passes.fusion import Fallback, Kernel, fuse
from jitgrad.passes.simplify import simplify
from test_codegen import build, w1_graph


def names(graph):
    return [eq.prim.name for eq in graph.eqns]


def same_results(graph, simplified, arrays):
    for a, b in zip(interpret(graph, arrays), interpret(simplified, arrays), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert a.shape == b.shape and a.dtype == b.dtype


def test_identities_folding_cse_and_dce():
    one, zero, two = np.float64(1.0), np.float64(0.0), np.float64(2.0)
    ops = [("multiply", [0, one], {}),                       # 1: x*1 -> x
           ("add", [zero, 1], {}),                           # 2: 0+x -> x
           ("power", [2, two], {}),                          # 3: x**2 -> x*x
           ("subtract", [two, one], {}),                     # 4: folded to a literal
           ("power", [3, 4], {}),                            # 5: y**1 -> y
           ("reshape", [5], {"shape": (4,)}),                # 6: same shape -> y
           ("exp", [0], {}), ("exp", [0], {}),               # 7, 8: CSE
           ("add", [7, 8], {}), ("tanh", [0], {}),           # 9; 10 is dead
           ("multiply", [6, 9], {})]
    graph = build([((4,), np.float64)], ops)
    simplified = simplify(graph)
    assert names(simplified) == ["multiply", "exp", "add", "multiply"], str(simplified)
    same_results(graph, simplified, [np.linspace(0.1, 1, 4)])
    assert len(graph.eqns) == len(ops)                       # the input graph is left alone


def test_broadcast_of_constants_stays_small():
    # the traced seed of a gradient: broadcast_to(reshape(ones)) times a literal
    ops = [("reshape", [np.ones(1)], {"shape": (1,)}), ("broadcast_to", [1], {"shape": (5,)}),
           ("multiply", [2, np.float64(3.0)], {}), ("multiply", [3, 0], {})]
    graph = build([((5,), np.float64)], ops)
    simplified = simplify(graph)
    assert names(simplified) == ["multiply"] and all(d.size == 1 for d in simplified.literals.values())
    same_results(graph, simplified, [np.arange(5.0)])


def test_w1_simplifies_and_fuses_into_one_kernel():
    graph = simplify(w1_graph(16))
    assert "power" not in names(graph) and "reshape" not in names(graph) and "broadcast_to" not in names(graph)
    (kernel,) = fuse(graph)
    assert isinstance(kernel, Kernel) and kernel.shape == (16,)
    assert [r.prim.name for r in kernel.reductions] == ["sum"] * 3 and kernel.outputs == []
    assert {r.out.index for r in kernel.reductions} == {v.index for v in graph.outputs}


def test_a_merge_that_would_create_a_cycle_is_refused():
    # b = exp(a); c = dot(b, w); d = b * c: d cannot join b's kernel, which runs before the dot
    ops = [("exp", [0], {}), ("dot", [2, 1], {}), ("multiply", [2, 3], {})]
    graph = build([((3, 3), np.float64), ((3, 3), np.float64)], ops, [4])
    steps = fuse(graph)
    assert [type(s) for s in steps] == [Kernel, Fallback, Kernel]
    assert steps[2].inputs[0].index in {v.index for v in steps[0].outputs}


def test_reduction_results_feed_a_later_kernel():
    ops = [("sum", [0], {"axes": (1,), "keepdims": True}), ("broadcast_to", [1], {"shape": (3, 4)}),
           ("subtract", [0, 2], {}), ("sum", [0], {"axes": (0, 1), "keepdims": False})]
    steps = fuse(build([((3, 4), np.float64)], ops, [3, 4]))
    assert [type(s) for s in steps] == [Kernel, Kernel]
    assert not steps[0].eqns and len(steps[0].reductions) == 2      # both sums of x in the first pass
    assert [e.prim.name for e in steps[1].eqns] == ["broadcast_to", "subtract"]


def test_siblings_reading_the_same_input_share_a_kernel():
    ops = [("exp", [0], {}), ("sin", [0], {}), ("sum", [0], {"axes": (0,), "keepdims": False})]
    steps = fuse(build([((8,), np.float64)], ops, [1, 2, 3]))
    assert len(steps) == 1 and len(steps[0].outputs) == 2 and len(steps[0].reductions) == 1


def test_fallbacks_for_non_fusable_equations():
    ops = [("transpose", [0], {"axes": (1, 0)}), ("argmax", [1], {"axis": 1, "keepdims": False}),
           ("divide", [0, 0], {})]                            # integer division raises: not fused
    steps = fuse(build([((2, 2), np.int32)], ops, [2, 3]))
    assert all(isinstance(s, Fallback) for s in steps)
