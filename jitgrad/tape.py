"""A compiled call inside `autograd.record()`: its backward, traced, compiled and put on the tape as one node.

`trace_backward` traces the backward of a call's outputs with respect to the traced inputs that are in
a graph; `backward_graph` keeps the backward equations and the cheap forward ones they need (recomputed
there, not saved); `attach` puts the node on the tape, whose `CompiledBackward` the autograd engine
runs like a custom Function's. `owner` is the `CompiledFunction` that made the call.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from . import autograd
from .ir import Node, live
from .ir.graph import Graph, interpret
from .ndarray import NDArray
from .state import STATE
from .trace import Tracer, tracing


class BackwardInfo:
    """What a path's backward needs: the differentiated inputs, the backward graph and program.

    A path whose one differentiated output has a single element (a loss) and no guards computes its
    gradients at cotangent 1 in the forward program itself, where they share its loops (a second program
    would read the inputs and recompute the forward values again); the backward then scales them by the
    cotangent it receives, which is exact since the gradient is linear in it. `unit_grad_keys` names
    them; otherwise it is None and the backward program reads the residuals."""

    def __init__(self, n_forward, boundary, ct_keys, graph, residual_keys):
        self.n_forward = n_forward
        self.boundary = boundary          # [(kind, position)]: ("arg", i) or ("ext", NDArray)
        self.ct_keys = ct_keys            # per function output: the cotangent input's key, or None
        self.graph = graph                # inputs: residuals then cotangents; outputs: gradients
        self.residual_keys = residual_keys
        self.unit_grad_keys: list[int] | None = None
        self.program: Any = None

    @property
    def kept_keys(self) -> list:
        """The values a call's node keeps: its gradients at cotangent 1, else the backward's residuals."""
        return self.unit_grad_keys or self.residual_keys

    def inputs_of(self, array_args) -> list:
        return [array_args[where] if kind == "arg" else where for kind, where in self.boundary]


def trace_backward(tracer: Tracer, outs: list) -> BackwardInfo | None:
    """Trace the backward of `outs` w.r.t. the traced inputs that are in a graph (args first)."""
    n_forward = len(tracer.graph.eqns)
    candidates = [(("arg", i), x) for i, x in enumerate(tracer.arguments)] + \
        [(("ext", x), x) for x in tracer.externals]
    boundary, entries = [], []
    for where, x in candidates:
        entry = live(x._entry)
        if entry is not None and entry not in entries:
            boundary.append((where, x))
            entries.append(entry)
    roots = [(o, live(o._entry)) for o in outs]
    if not boundary or all(e is None for _, e in roots):
        return BackwardInfo(n_forward, [], [], None, [])
    with tracing(tracer):
        cts = [NDArray(np.ones_like(o._data)) if e is not None else None for o, e in roots]
        ct_keys = [tracer.add_argument(c).index if c is not None else None for c in cts]
        heads = [(e, o._index, c) for (o, e), c in zip(roots, cts) if e is not None]
        found, _ = autograd.gradients(heads, [x for _, x in boundary], False, STATE.training)
        grads = [tracer.value_of(g) for g in found]
    if len(tracer.guards) and tracer.guards[-1].eqn_count > n_forward:
        tracer.impure("the backward converts values to Python")
    graph = backward_graph(tracer.graph, n_forward, [k for k in ct_keys if k is not None], grads)
    residuals = [v.index for v in graph.inputs if v.index not in set(ct_keys)]
    return BackwardInfo(n_forward, [w for w, _ in boundary], ct_keys, graph, residuals)


def unit_cotangent(tracer: Tracer, extra: BackwardInfo):
    """The cotangent input of a guard-free path with one differentiated single-element output, or None."""
    keys = [k for k in extra.ct_keys if k is not None]
    if extra.graph is None or tracer.guards or len(keys) != 1:
        return None
    ct = next(v for v in tracer.graph.inputs if v.index == keys[0])
    return ct if math.prod(ct.shape) == 1 and ct.dtype.kind == "f" else None


def with_unit_cotangent(graph: Graph, ct) -> Graph:
    """The whole trace, forward and backward, with the cotangent input fixed to 1."""
    whole = graph.part()
    whole.eqns = list(graph.eqns)
    whole.literals = dict(graph.literals)
    whole.literals[ct.index] = np.ones(ct.shape, ct.dtype)
    whole.inputs = [v for v in graph.inputs if v.index != ct.index]
    return whole


# Forward values the backward reads are recomputed inside the backward program when they come from
# cheap ops (fused there, they cost no memory traffic of their own); the others are saved.
RECOMPUTED_KINDS = ("elementwise",)
RECOMPUTED_OPS = ("reshape", "broadcast_to", "transpose")


def backward_graph(graph: Graph, n_forward: int, ct_keys: list, grads: list) -> Graph:
    producer = {eq.out.index: i for i, eq in enumerate(graph.eqns)}
    values = {v.index: v for v in graph.inputs}
    values.update((eq.out.index, eq.out) for eq in graph.eqns)
    chosen = set(range(n_forward, len(graph.eqns)))
    pending = [v.index for i in chosen for v in graph.eqns[i].inputs] + [g.index for g in grads]
    while pending:  # pull in the cheap forward eqns the backward depends on
        i = producer.get(pending.pop())
        if i is not None and i not in chosen and _recomputable(graph.eqns[i].prim):
            chosen.add(i)
            pending += [v.index for v in graph.eqns[i].inputs]
    eqns = [graph.eqns[i] for i in sorted(chosen)]
    produced = {eq.out.index for eq in eqns}
    reads = [v.index for eq in eqns for v in eq.inputs] + [g.index for g in grads]
    g = graph.part()
    g.eqns = eqns
    g.literals = {k: graph.literals[k] for k in reads if k in graph.literals}
    residual = [k for k in dict.fromkeys(reads) if k not in produced and k not in g.literals
                and k not in ct_keys]
    g.inputs = [values[k] for k in residual] + [values[k] for k in ct_keys]
    g.outputs = grads
    return g


def _recomputable(prim) -> bool:
    return prim.kind in RECOMPUTED_KINDS or prim.name in RECOMPUTED_OPS


# Below this size copying a gradient into .grad costs less than checking it can be adopted instead.
ADOPT_MIN_BYTES = 1 << 16


class CompiledBackward:
    """The backward of one compiled call, run by the autograd engine like a custom Function's."""
    __slots__ = ("info", "residuals", "owner", "call", "adopt", "retained")

    def __init__(self, info: BackwardInfo, residuals: list, owner, call, adopt=()):
        self.info, self.residuals, self.owner = info, residuals, owner
        self.call = call        # (args, kwargs) of the call
        self.adopt = adopt      # per residual: a variable may adopt it (see adopt_flags); () if none
        self.retained = False

    def backward_recorded(self, out_grads: list) -> list:
        """For create_graph=True: run the function again eagerly, recorded, and differentiate that
        (a compiled program's arrays have no history to differentiate a second time)."""
        args, kwargs = self.call
        result = self.owner.fn(*args, **kwargs)
        outs = self.owner.outputs_of(result)
        roots = [(live(o._entry), o._index, g) for o, g in zip(outs, out_grads) if live(o._entry)]
        diff = self.info.inputs_of(self.owner.array_args(args, kwargs))
        return autograd.gradients(roots, diff, True, STATE.training)[0]

    def unit_gradients(self, index: int) -> list | None:
        """The gradients at cotangent 1 of output `index` for a backward from it alone, or None when
        there are none to give (the engine's general walk then runs this node's backward)."""
        info = self.info
        if info.unit_grad_keys is None or self.retained or info.ct_keys[index] is None:
            return None
        return self.residuals

    def adoptable(self, grads: list) -> list:
        """The gradients a variable may take as its .grad buffer (autograd._adopt): large ones this
        call's program allocated."""
        return [g for g, f in zip(grads, self.adopt) if f]

    def backward(self, *out_grads):
        info = self.info
        cts = [g._data for g, k in zip(out_grads, info.ct_keys) if k is not None]
        if info.unit_grad_keys is not None:   # gradients at cotangent 1, computed by the forward
            (ct,) = cts
            grads = [g.copy() for g in self.residuals] if self.retained else self.residuals
            self.retained = True    # a second backward (retain_graph) gets arrays of its own
            if ct.item() == 1:            # one element: unit_cotangent admits no other
                if grads is self.residuals:   # first use: a freed graph needs them no more
                    autograd.offer_buffers(self.adoptable(grads))
                return [NDArray(g) for g in grads]
            return [NDArray(np.multiply(g, ct.reshape(()), dtype=g.dtype)) for g in grads]
        arrays = self.residuals + cts
        program = info.program or functools.partial(interpret, info.graph)
        return [NDArray(a) for a in program(arrays)]


def adopt_flags(seg, info: BackwardInfo) -> tuple:
    """Per value the node of segment `seg`'s call keeps (info.kept_keys): whether a variable may
    adopt it as its .grad buffer: a gradient at cotangent 1 that the compiled program allocates
    afresh on each call and returns once, large enough for adopting to beat copying. () when none
    may (the common small case)."""
    fresh = seg.fresh_keys() if info.unit_grad_keys else ()
    if not fresh:
        return ()
    outputs = dict(zip(seg.out_keys, seg.program.graph.outputs))
    flags = tuple(k in fresh and math.prod(outputs[k].shape) * outputs[k].dtype.itemsize >= ADOPT_MIN_BYTES
                  for k in info.kept_keys)
    return flags if any(flags) else ()


def attach_call(outs, info: BackwardInfo, arrays, residuals, owner, call, adopt) -> bool:
    """Put the node of a cached compiled call on the tape (`arrays`: its array arguments in signature
    order); False, attaching nothing, when a differentiated input left the graph since the trace."""
    diff = info.inputs_of(arrays)
    if any(live(x._entry) is None for x in diff):
        return False
    attach(outs, diff, info, residuals, owner, call, adopt)
    return True


def attach(outs, diff, info: BackwardInfo, residuals, owner, call, adopt=()) -> None:
    """Put one node on the tape for a compiled call: outputs `outs`, differentiated inputs `diff`;
    `adopt` marks the residuals a variable may adopt (adopt_flags)."""
    node = Node(None, {}, tuple((x._entry, x._index) for x in diff), tuple(x._data for x in diff),
                tuple(o._data for o in outs), fn=CompiledBackward(info, residuals, owner, call, adopt))
    for i, o in enumerate(outs):
        o._entry, o._index = node, i
