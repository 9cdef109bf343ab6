"""Graph clean-up before fusion: what tracing eager gradient rules leaves behind.

One forward walk over the equations, in order, with a replacement map (value index -> value):
- identities disappear: x*1, 1*x, x/1, x+0, 0+x, x-0, x**1, reshape/broadcast_to/cast to what x already
  is, identity transposes, stop_gradient (only where the result has x's shape and dtype);
- x**2 becomes x*x; a reshape of a reshape reads the first input;
- an elementwise operand that is `broadcast_to(u)` reads `u` directly when the other operands still
  broadcast to the result's shape (the kernel broadcasts it for free);
- constant folding: an equation whose inputs are all literals is evaluated with `prim.impl` and becomes a
  literal, unless its result is larger than its inputs (a broadcast of a scalar stays a broadcast); an
  elementwise equation of uniform constants (literals, or broadcasts of them) becomes a broadcast of the
  folded scalar;
- CSE: the same primitive, inputs and attributes give the same value (equal small literals are merged
  first, so `x*2` and `x*2` from two rules meet).
Dead equations and unused literals are dropped at the end. Inputs are kept (they are the call signature).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.graph import Equation, Graph, Value
from ..ops import PRIMITIVES
from ..shapes import broadcast_shapes

FOLD_LIMIT = 1 << 16   # literals larger than this are never created by folding
IDENTITY_OPERAND = {"multiply": (1, 1), "add": (0, 0), "subtract": (None, 0), "divide": (None, 1),
                    "power": (None, 1)}   # op: (identity value as left operand, as right operand)
SHAPE_OPS = ("reshape", "broadcast_to", "stop_gradient", "cast", "transpose")


class Simplifier:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.out = Graph()
        self.out.inputs = list(graph.inputs)
        self.out._count = graph._count
        self.replace: dict[int, Value] = {}
        self.producer: dict[int, Equation] = {}
        self.seen: dict[tuple, Value] = {}
        self.literal_keys: dict[tuple, Value] = {}
        for index, data in graph.literals.items():
            self.replace[index] = self.literal(np.asarray(data), Value(index, data.shape, data.dtype))

    # ---- constants ---------------------------------------------------------------------------
    def literal(self, data: np.ndarray, value: Value | None = None) -> Value:
        key = (data.dtype.str, data.shape, data.tobytes()) if data.size <= 16 else None
        if key in self.literal_keys:
            return self.literal_keys[key]
        if value is None:
            value = self.out.new_value(data.shape, data.dtype)
        self.out.literals[value.index] = data
        if key is not None:
            self.literal_keys[key] = value
        return value

    def uniform(self, v: Value):
        """The scalar every element of `v` equals, if `v` is a literal or a broadcast/reshape of one."""
        data = self.out.literals.get(v.index)
        if data is not None:
            flat = data.reshape(-1)
            return flat[0] if flat.size and np.all(flat == flat[0]) else None
        eq = self.producer.get(v.index)
        if eq is not None and eq.prim.name in ("broadcast_to", "reshape"):
            return self.uniform(eq.inputs[0])
        return None

    # ---- the walk ----------------------------------------------------------------------------
    def run(self) -> Graph:
        for eq in self.graph.eqns:
            inputs = tuple(self.replace.get(v.index, v) for v in eq.inputs)
            result = self.rewrite(Equation(eq.prim, inputs, eq.attrs, eq.out))
            if result is not eq.out:
                self.replace[eq.out.index] = result
        self.out.outputs = [self.replace.get(v.index, v) for v in self.graph.outputs]
        return eliminate_dead_code(self.out)

    def emit(self, eq: Equation) -> Value:
        key = (eq.prim.name, tuple(v.index for v in eq.inputs), repr(sorted(eq.attrs.items())))
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = eq.out
        self.producer[eq.out.index] = eq
        self.out.eqns.append(eq)
        return eq.out

    def rewrite(self, eq: Equation) -> Value:
        name, out, ins = eq.prim.name, eq.out, eq.inputs
        if all(v.index in self.out.literals for v in ins) and foldable(out, ins):
            try:
                data = np.asarray(eq.prim.impl(*(self.out.literals[v.index] for v in ins), **eq.attrs))
                return self.literal(data.astype(out.dtype, copy=False).reshape(out.shape))
            except Exception:  # e.g. integer division by zero: let it raise when the program runs
                return self.emit(eq)
        if name in SHAPE_OPS and same_type(ins[0], out) and (name != "transpose" or is_identity(eq)):
            return ins[0]
        if name == "reshape" and ins[0].index in self.producer \
                and self.producer[ins[0].index].prim.name == "reshape":
            return self.emit(Equation(eq.prim, self.producer[ins[0].index].inputs, eq.attrs, out))
        if eq.prim.kind != "elementwise":
            return self.emit(eq)
        constants = [self.uniform(v) for v in ins]
        if name in IDENTITY_OPERAND:
            for side, other in ((0, 1), (1, 0)):
                identity = IDENTITY_OPERAND[name][side]
                if identity is not None and constants[side] == identity and same_type(ins[other], out):
                    return ins[other]
            if name == "power" and constants[1] == 2:
                return self.emit(Equation(PRIMITIVES["multiply"], (ins[0], ins[0]), {}, out))
        if all(c is not None for c in constants) and not (name == "divide" and out.dtype.kind != "f"):
            scalar = np.asarray(eq.prim.impl(*(np.asarray(c, v.dtype) for c, v in zip(constants, ins,
                                                                                         strict=True))))
            lit = self.literal(scalar.astype(out.dtype).reshape(()))
            return self.emit(Equation(PRIMITIVES["broadcast_to"], (lit,), {"shape": out.shape}, out))
        return self.emit(Equation(eq.prim, self.unbroadcast_operands(ins, out), eq.attrs, out))

    def unbroadcast_operands(self, ins: tuple, out: Value) -> tuple:
        ins = list(ins)
        for i, v in enumerate(ins):
            eq = self.producer.get(v.index)
            if eq is not None and eq.prim.name == "broadcast_to":
                trial = ins[:i] + [eq.inputs[0]] + ins[i + 1:]
                if broadcast_shapes("fuse", *(u.shape for u in trial)) == out.shape:
                    ins = trial
        return tuple(ins)


def same_type(a: Value, b: Value) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def is_identity(eq: Equation) -> bool:
    return tuple(eq.attrs["axes"]) == tuple(range(len(eq.attrs["axes"])))


def foldable(out: Value, ins: tuple) -> bool:
    """Fold only when the result is no larger than the inputs (and small)."""
    size = math.prod(out.shape)
    return size <= FOLD_LIMIT and size <= max([math.prod(v.shape) for v in ins] + [1])


def eliminate_dead_code(graph: Graph) -> Graph:
    needed = {v.index for v in graph.outputs}
    kept = []
    for eq in reversed(graph.eqns):
        if eq.out.index in needed:
            kept.append(eq)
            needed.update(v.index for v in eq.inputs)
    graph.eqns = kept[::-1]
    graph.literals = {i: d for i, d in graph.literals.items() if i in needed}
    return graph


def simplify(graph: Graph) -> Graph:
    """A new, equivalent graph (the input graph is not modified); value names are kept."""
    return Simplifier(graph).run()
