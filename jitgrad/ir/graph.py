"""A traced program: SSA values, equations (one primitive application each), inputs and outputs.

Printed in a jaxpr-like form:  { lambda a:f32[3] b:f32[1] ; let c:f32[3] = multiply a b  in (c) }
"""
from __future__ import annotations

import string

import numpy as np


class Value:
    """One SSA value: a graph input, or the output of an equation."""
    __slots__ = ("index", "shape", "dtype")

    def __init__(self, index: int, shape: tuple, dtype: np.dtype):
        self.index, self.shape, self.dtype = index, tuple(shape), np.dtype(dtype)

    def __repr__(self) -> str:
        return f"{name(self.index)}:{type_text(self)}"


class Equation:
    __slots__ = ("prim", "inputs", "attrs", "out")

    def __init__(self, prim, inputs: tuple, attrs: dict, out: Value):
        self.prim, self.inputs, self.attrs, self.out = prim, tuple(inputs), attrs, out


class Graph:
    """Inputs in call order (arguments first, then captured arrays), equations in execution order.

    Literals are values known when the graph is built (Python scalars and other immutable constants):
    they are not inputs; a program receives their data once, when it is built."""

    def __init__(self):
        self.inputs: list[Value] = []
        self.literals: dict[int, np.ndarray] = {}   # Value.index -> data
        self.eqns: list[Equation] = []
        self.outputs: list[Value] = []
        self._count = 0

    def part(self) -> "Graph":
        """An empty graph for a subset of this one's equations: it shares the values, so new values
        (made by passes) must be numbered after all of this graph's."""
        g = Graph()
        g._count = self._count
        return g

    def new_value(self, shape, dtype) -> Value:
        v = Value(self._count, shape, dtype)
        self._count += 1
        return v

    def add_input(self, shape, dtype) -> Value:
        v = self.new_value(shape, dtype)
        self.inputs.append(v)
        return v

    def add_literal(self, data: np.ndarray) -> Value:
        v = self.new_value(data.shape, data.dtype)
        self.literals[v.index] = data
        return v

    def add_eqn(self, prim, inputs, attrs: dict, shape, dtype) -> Value:
        out = self.new_value(shape, dtype)
        self.eqns.append(Equation(prim, inputs, attrs, out))
        return out

    def __str__(self) -> str:
        return render(self)


DTYPE_SHORT = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool": "bool",
               "int8": "i8", "uint8": "u8", "float16": "f16"}


def name(index: int) -> str:
    """a, b, ..., z, ba, bb, ... (jaxpr's naming, readable in long programs)."""
    letters = string.ascii_lowercase
    out = letters[index % 26]
    index //= 26
    while index:
        out = letters[index % 26] + out
        index //= 26
    return out


def type_text(v: Value) -> str:
    return f"{DTYPE_SHORT.get(v.dtype.name, v.dtype.name)}[{','.join(str(n) for n in v.shape)}]"


def attr_text(attrs: dict) -> str:
    if not attrs:
        return ""
    return "[" + " ".join(f"{k}={v!r}" for k, v in sorted(attrs.items())) + "]"


def operand_text(graph: Graph, v: Value) -> str:
    """A value's name, or a literal's value when it is a scalar."""
    data = graph.literals.get(v.index)
    if data is not None and data.size == 1:
        return f"{data.reshape(-1)[0].item()!r}:{DTYPE_SHORT.get(v.dtype.name, v.dtype.name)}"
    return name(v.index)


def render(graph: Graph) -> str:
    ins = " ".join(repr(v) for v in graph.inputs)
    lines = [f"{{ lambda {ins} ."]
    for i, eq in enumerate(graph.eqns):
        args = " ".join(operand_text(graph, v) for v in eq.inputs)
        head = "  let " if i == 0 else "      "
        lines.append(f"{head}{eq.out!r} = {eq.prim.name}{attr_text(eq.attrs)} {args}")
    outs = ", ".join(name(v.index) for v in graph.outputs)
    lines.append(f"  in ({outs}) }}")
    return "\n".join(lines)


def interpret(graph: Graph, arrays: list) -> list:
    """Evaluate `graph` on numpy arrays with the table's reference implementations."""
    env = dict(graph.literals)
    env.update((v.index, a) for v, a in zip(graph.inputs, arrays, strict=True))
    for eq in graph.eqns:
        env[eq.out.index] = np.asarray(eq.prim.impl(*(env[v.index] for v in eq.inputs), **eq.attrs))
    return [env[v.index] for v in graph.outputs]
