"""Tracing: run a Python function on real values while every `apply` is also written into a Graph.

Because tracing computes real values, Python control flow just works; converting a traced value to
Python (asscalar, bool, float, int, asnumpy) records a guard: the trace stays valid only while that
value comes out the same. Arrays the function reads but did not create (globals, closures, attributes)
become inputs read by reference at every call; arrays it creates from Python values are literals.
"""
from __future__ import annotations

import numpy as np

from .ir.graph import Graph, Value
from .state import STATE, TRACES


class Guard:
    """A traced value that was converted to Python, and what it was."""
    __slots__ = ("value", "expected", "eqn_count")

    def __init__(self, value: Value, expected: np.ndarray, eqn_count: int):
        self.value, self.expected, self.eqn_count = value, expected, eqn_count

    def holds(self, data: np.ndarray) -> bool:
        return data.shape == self.expected.shape and np.array_equal(data, self.expected, equal_nan=True)


class Tracer:
    def __init__(self):
        self.graph = Graph()
        self._known: dict[int, tuple] = {}   # id(NDArray) -> (NDArray, Value); keeps the arrays alive
        self._by_data: dict[int, tuple] = {}  # id(numpy buffer) -> (buffer, Value): backward rules
        #                                       see forward values through new NDArray handles
        self.arguments: list = []            # NDArrays bound as inputs, in order
        self.externals: list = []            # NDArrays read by reference, after the arguments
        self.guards: list[Guard] = []
        self.unsupported: str | None = None  # why this trace cannot be replayed

    # ---- values ----------------------------------------------------------------------------------
    def _bind(self, x, v: Value) -> Value:
        self._known[id(x)] = (x, v)
        self._by_data[id(x._data)] = (x._data, v)
        return v

    def add_argument(self, x) -> Value:
        self.arguments.append(x)
        return self._bind(x, self.graph.add_input(x.shape, x._data.dtype))

    def literal(self, x) -> None:
        """`x` was made inside the trace from Python or numpy values: a constant of the program."""
        self._bind(x, self.graph.add_literal(x._data))

    def value_of(self, x) -> Value:
        hit = self._known.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        hit = self._by_data.get(id(x._data))
        if hit is not None and hit[0] is x._data:
            return hit[1]
        self.externals.append(x)  # captured: read by reference at each call
        return self._bind(x, self.graph.add_input(x.shape, x._data.dtype))

    def alias(self, new, old) -> None:
        """`new` is another handle on `old`'s value (detach)."""
        self._known[id(new)] = (new, self.value_of(old))

    def is_input(self, x) -> bool:
        hit = self._known.get(id(x))
        return hit is not None and hit[0] is x and any(v is hit[1] for v in self.graph.inputs)

    # ---- hooks called by dispatch and NDArray ----------------------------------------------------
    def record(self, prim, inputs, attrs: dict, result) -> None:
        values = [self.value_of(x) for x in inputs]
        self._bind(result, self.graph.add_eqn(prim, values, attrs, result.shape, result._data.dtype))

    def guard(self, x) -> None:
        self.guards.append(Guard(self.value_of(x), x._data.copy(), len(self.graph.eqns)))

    def write(self, target, value, whole: bool) -> None:
        """An in-place write during tracing: a whole overwrite of a value made inside the trace just
        renames it; anything else changes state the trace cannot replay."""
        if not whole or self.is_input(target) or id(target) not in self._known:
            self.unsupported = "an in-place write to an input, a captured array or part of an array"
            return
        old = self._known[id(target)][1]
        if old.index in self.graph.literals:  # the literal keeps the data it had when it was used
            self.graph.literals[old.index] = self.graph.literals[old.index].copy()
        new = self.value_of(value)
        if new.shape != target.shape:
            from . import ops
            new = self.graph.add_eqn(ops.PRIMITIVES["broadcast_to"], [new], {"shape": target.shape},
                                     target.shape, new.dtype)
        self._known[id(target)] = (target, new)
        self._by_data[id(target._data)] = (target._data, new)

    def impure(self, reason: str) -> None:
        self.unsupported = reason


class tracing:
    """Context manager installing a Tracer on this thread (tracers do not nest: the outer one records)."""

    def __init__(self, tracer: Tracer):
        self.tracer = tracer

    def __enter__(self) -> Tracer:
        TRACES.add(1)
        self._previous = STATE.tracer
        STATE.tracer = self.tracer
        return self.tracer

    def __exit__(self, *exc) -> None:
        STATE.tracer = self._previous
        TRACES.add(-1)
