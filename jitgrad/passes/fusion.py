"""Partition a graph's equations into steps: fused kernels and single-equation fallbacks.

A kernel is a group of elementwise equations (kind 'elementwise' with a codegen template, plus
`broadcast_to`) that all produce values of one iteration shape, grown by merging each equation into the
kernels of the operands it reads (or of the kernels that read the same operands), with reductions (`sum`, `prod`, `max`, `min`) of the kernel's values
attached at the end as extra outputs. A merge is refused when it would create a cycle between steps (a
kernel that needs, through another step, a value it produces itself); a reduction's result never feeds
the kernel that computes it. Values used only inside a kernel are never materialized. Everything else
(contractions, movement, arg-reductions, integer division and power, which raise) runs as a fallback step
calling `prim.impl`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Equation, Graph, Value, name

FUSED_REDUCTIONS = ("sum", "prod", "max", "min")


@dataclass(eq=False)
class Kernel:
    shape: tuple                                             # the iteration shape
    eqns: list[Equation] = field(default_factory=list)       # elementwise, in graph order
    reductions: list[Equation] = field(default_factory=list)  # of values of `shape`, run at the end
    inputs: list[Value] = field(default_factory=list)        # read from outside the kernel
    outputs: list[Value] = field(default_factory=list)       # elementwise values needed outside
    deps: set = field(default_factory=set)                   # steps this one reads from

    def all_eqns(self) -> list[Equation]:
        return self.eqns + self.reductions

    def describe(self) -> str:
        ins = " ".join(name(v.index) for v in self.inputs)
        outs = " ".join(name(v.index) for v in self.outputs + [r.out for r in self.reductions])
        kinds = ", ".join(e.prim.name for e in self.all_eqns())
        return f"kernel over {list(self.shape)} ({kinds}): reads {ins} -> writes {outs}"


@dataclass(eq=False)
class Fallback:
    eqn: Equation
    deps: set = field(default_factory=set)

    def all_eqns(self) -> list[Equation]:
        return [self.eqn]

    def describe(self) -> str:
        ins = " ".join(name(v.index) for v in self.eqn.inputs)
        return f"fallback {self.eqn.prim.name} (numpy): {ins} -> {name(self.eqn.out.index)}"


def fusable(eq: Equation) -> bool:
    prim = eq.prim
    if eq.out.dtype.kind not in "fiub" or any(v.dtype.kind not in "fiub" for v in eq.inputs):
        return False
    if prim.name == "broadcast_to":
        return True
    if prim.kind != "elementwise" or prim.expr is None:
        return False
    return not (prim.name in ("divide", "power") and eq.out.dtype.kind != "f")


SIDE_BY_SIDE = 4  # how many of the latest steps an unrelated op may join (bounds the cycle checks)


class Partition:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.steps: list = []
        self.step_of: dict[int, object] = {}   # value index -> the step computing it
        self.reduced: set[int] = set()          # values computed by a kernel's reduction
        self.order: dict[int, int] = {}         # equation out index -> position in the graph

    def run(self) -> list:
        for position, eq in enumerate(self.graph.eqns):
            self.order[eq.out.index] = position
            if fusable(eq):
                self.add_elementwise(eq)
            elif eq.prim.name in FUSED_REDUCTIONS and eq.inputs[0].dtype.kind in "fiu":
                self.add_reduction(eq)
            else:
                self.place(Fallback(eq), eq)
        return self.finish()

    # ---- growing kernels ---------------------------------------------------------------------
    def producers(self, eq: Equation) -> set:
        return {self.step_of[v.index] for v in eq.inputs if v.index in self.step_of}

    def siblings(self, eq: Equation) -> list:
        """Kernels that already read one of `eq`'s operands from outside: joining them reads it once."""
        operands = {v.index for v in eq.inputs if v.index not in self.reduced
                    and v.index not in self.graph.literals}
        return [s for s in self.steps if isinstance(s, Kernel)
                and any(v.index in operands for e in s.all_eqns() for v in e.inputs)]

    def place(self, step, eq: Equation, is_reduction=False):
        if step not in self.steps:
            self.steps.append(step)
        step.deps |= self.producers(eq) - {step}
        self.step_of[eq.out.index] = step
        if is_reduction:
            self.reduced.add(eq.out.index)

    def add_elementwise(self, eq: Equation):
        shape = eq.out.shape
        blocked = {self.step_of[v.index] for v in eq.inputs if v.index in self.reduced}
        candidates = [s for s in self.steps if s in self.producers(eq) | set(self.siblings(eq))
                      and isinstance(s, Kernel) and s.shape == shape and s not in blocked]
        for group in [candidates] + [[c] for c in candidates]:
            if group and not self.creates_cycle(group, eq):
                kernel = self.merge(group)
                kernel.eqns.append(eq)
                return self.place(kernel, eq)
        # unrelated work over the same shape runs side by side in a recent kernel: fewer loops to
        # launch and to compile (independent ops of a traced program would otherwise each get one)
        recent = [s for s in self.steps[-SIDE_BY_SIDE:] if isinstance(s, Kernel) and s.shape == shape
                  and s not in blocked]
        for kernel in reversed(recent):
            if not self.creates_cycle([kernel], eq):
                kernel.eqns.append(eq)
                return self.place(kernel, eq)
        kernel = Kernel(shape)
        kernel.eqns.append(eq)
        self.place(kernel, eq)

    def add_reduction(self, eq: Equation):
        source = eq.inputs[0]
        step = self.step_of.get(source.index)
        if not (isinstance(step, Kernel) and source.index not in self.reduced):
            step = next((s for s in self.siblings(eq) if isinstance(s, Kernel) and s.shape == source.shape
                         and not self.creates_cycle([s], eq)), None) or Kernel(source.shape)
        step.reductions.append(eq)
        self.place(step, eq, is_reduction=True)

    def creates_cycle(self, group: list, eq: Equation) -> bool:
        """Would one kernel made of `group` and `eq` depend on itself through another step?"""
        members = set(group)
        reduced_here = {r.out.index for m in members for r in m.reductions}
        readers = [eq] + [e for m in members for e in m.all_eqns()]
        if any(v.index in reduced_here for e in readers for v in e.inputs):
            return True          # a reduction's result is complete only after the kernel's loop
        outside_inputs = self.producers(eq) - members
        upstream = self.reach(outside_inputs | set().union(*(m.deps for m in members)) - members,
                              lambda s: s.deps, members)
        downstream = self.reach({s for s in self.steps if s.deps & members} - members,
                                lambda s: {t for t in self.steps if s in t.deps}, members)
        return bool(upstream & downstream)

    @staticmethod
    def reach(start: set, next_of, stop: set) -> set:
        seen, todo = set(), list(start)
        while todo:
            s = todo.pop()
            if s not in seen and s not in stop:
                seen.add(s)
                todo.extend(next_of(s))
        return seen

    def merge(self, group: list) -> Kernel:
        keep, *rest = group
        for other in rest:
            keep.eqns += other.eqns
            keep.reductions += other.reductions
            keep.deps |= other.deps
            self.steps.remove(other)
            for s in self.steps:
                if other in s.deps:
                    s.deps = (s.deps - {other}) | {keep}
            for index, s in list(self.step_of.items()):
                if s is other:
                    self.step_of[index] = keep
        keep.deps -= set(group)
        keep.eqns.sort(key=lambda e: self.order[e.out.index])
        keep.reductions.sort(key=lambda e: self.order[e.out.index])
        return keep

    # ---- the result --------------------------------------------------------------------------
    def finish(self) -> list:
        consumers: dict[int, set] = {}
        for step in self.steps:
            for eq in step.all_eqns():
                for v in eq.inputs:
                    consumers.setdefault(v.index, set()).add(step)
        outputs = {v.index for v in self.graph.outputs}
        for step in self.steps:
            if isinstance(step, Kernel):
                made = {e.out.index for e in step.all_eqns()}
                step.inputs = unique(v for e in step.all_eqns() for v in e.inputs if v.index not in made)
                step.outputs = [e.out for e in step.eqns if e.out.index in outputs
                                or consumers.get(e.out.index, set()) - {step}]
        return topological(self.steps, key=lambda s: min(self.order[e.out.index] for e in s.all_eqns()))


def unique(values) -> list:
    seen, out = set(), []
    for v in values:
        if v.index not in seen:
            seen.add(v.index)
            out.append(v)
    return out


def topological(steps: list, key) -> list:
    done, out = set[object](), []
    pending = sorted(steps, key=key)
    while pending:
        ready = next(s for s in pending if s.deps <= done)
        pending.remove(ready)
        done.add(ready)
        out.append(ready)
    return out


def fuse(graph: Graph) -> list:
    """The graph's steps, in an order that respects their dependencies."""
    return Partition(graph).run()
