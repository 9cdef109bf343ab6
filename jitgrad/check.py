"""Checking mode: every new trace of a compiled function is run through its compiled programs and
through the eager reference (the table's numpy implementations, interpreted) on the same inputs.

`jg.compile(fn, check=True)`, or JITGRAD_CHECK=1 for every compiled function. When a program's
outputs differ from the reference beyond TOLERANCE, the graph is compiled once more with every
value as an output, and the first equation (in program order) whose value differs is named in a
`CheckError`, with its inputs' shapes and dtypes; gradients of record() calls are checked through
the compiled backward program the same way. Paths are checked as they are traced, so in this mode
a path is compiled when it is traced rather than once it is hot.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import CheckError, op_error
from .ir.graph import Graph, interpret, name
from . import tracetree

TOLERANCE = {"float32": dict(rtol=1e-4, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-13)}


def enabled() -> bool:
    return os.environ.get("JITGRAD_CHECK", "") not in ("", "0")


def verify(compiled, key, args, kwargs) -> None:
    """Check the path this call took through `compiled`'s trace tree for signature `key`."""
    root = compiled._roots.get(key)
    if root is None or root == "eager":
        return
    arrays = compiled.array_args(args, kwargs)
    env = {i: a._data for i, a in enumerate(arrays)}
    seg = root
    while seg is not None:
        for k, array in seg.externals:
            env[k] = array._data
        env.update(seg.consts)
        compiled._compile(seg, "checking mode")
        inputs = [env[k] for k in seg.in_keys]
        want = interpret(seg.graph, inputs)
        _compare(compiled, seg.graph, seg.program, inputs, want, "value")
        env.update(zip(seg.out_keys, want))   # the reference values carry on to the next segment
        extra = seg.leaf.extra if seg.leaf is not None and seg.guard is None else None
        if extra is not None and extra.graph is not None and extra.unit_grad_keys is None:
            compiled._compile_backward(extra, "checking mode")
            _check_backward(compiled, extra, env)
        seg = None if seg.guard is None else seg.children.get(tracetree.outcome(env[seg.guard.value.index]))


def _check_backward(compiled, extra, env) -> None:
    """The backward program on this call's residuals and all-ones cotangents (as it was traced)."""
    n_residuals = len(extra.residual_keys)
    cts = [np.ones(v.shape, v.dtype) for v in extra.graph.inputs[n_residuals:]]
    inputs = [env[k] for k in extra.residual_keys] + cts
    _compare(compiled, extra.graph, extra.program, inputs, interpret(extra.graph, inputs), "gradient")


def _compare(compiled, graph: Graph, program, inputs, want, what: str) -> None:
    if program is None:
        return
    got = program(inputs)
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if not _close(g, w)]
    if not bad:
        return
    where = f"{compiled.__name__!r}" if what == "value" else f"the backward program of {compiled.__name__!r}"
    eqn = _first_bad_eqn(compiled, graph, inputs, where)
    if eqn is not None:
        raise eqn
    v = graph.outputs[bad[0]]
    raise op_error(CheckError, f"check {compiled.__name__}", f"{what} {name(v.index)} (output {bad[0]} of "
                   f"the program) differs from eager: {_difference(got[bad[0]], want[bad[0]])}",
                   want[bad[0]])


def _first_bad_eqn(compiled, graph: Graph, inputs, where: str):
    """The CheckError for the first equation whose compiled value differs, or None."""
    every = graph.part()
    every.inputs, every.literals, every.eqns = graph.inputs, graph.literals, graph.eqns
    every.outputs = [eq.out for eq in graph.eqns]
    got = compiled._build(every, "checking mode: every value an output")(inputs)
    want = interpret(every, inputs)
    reference = dict(graph.literals)
    reference.update((v.index, a) for v, a in zip(graph.inputs, inputs))
    reference.update((eq.out.index, w) for eq, w in zip(graph.eqns, want))
    for eq, g, w in zip(graph.eqns, got, want):
        if not _close(g, w):
            operands = " ".join(name(v.index) for v in eq.inputs)
            return op_error(CheckError, eq.prim.name, f"compiled value of node {name(eq.out.index)} = "
                            f"{eq.prim.name} {operands} in {where} differs from eager: "
                            f"{_difference(g, w)}", *(reference[v.index] for v in eq.inputs))
    return None


def _close(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    tol = TOLERANCE.get(want.dtype.name)
    if tol is None:
        return np.array_equal(got, want, equal_nan=want.dtype.kind in "fc")
    scale = float(np.nanmax(np.abs(want), initial=0.0)) if np.isfinite(want).any() else 0.0
    return bool(np.allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * max(scale, 1.0), equal_nan=True))


def _difference(got, want) -> str:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"got {got.dtype} {got.shape}, eager gives {want.dtype} {want.shape}"
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    err = np.where(np.isnan(err) & ~(np.isnan(got) & np.isnan(want)), np.inf, np.nan_to_num(err, nan=0.0))
    i = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    return f"largest difference {float(err[i]):.3g} at index {tuple(int(n) for n in i)}: " \
           f"compiled {got[i]!r}, eager {want[i]!r}"
