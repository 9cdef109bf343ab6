"""Group consecutive steps over the rows of one (n0, n1) shape into a single loop over rows.

`logsumexp`, `softmax` and their gradients are chains of kernels over (n0, n1) separated by reductions
along axis 1 and by per-row work over (n0, 1): each kernel would read and write whole (n0, n1) arrays
in memory. A `RowKernel` runs them as stages inside one loop over rows: a row's values that a later
stage needs stay in a row buffer (n1 elements, in cache), a row reduction is complete when its stage
ends, so the next stage can use it at once, and per-row work is scalar code between stages. What a
stage may read from the group: full values of earlier stages, and per-row values; never a reduction
over axis 0 (it is complete only after the last row: those are outputs only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Equation, Value, name
from .fusion import Fallback, Kernel, unique


@dataclass(eq=False)
class RowKernel:
    shape: tuple                                       # (n0, n1)
    stages: list = field(default_factory=list)         # Kernels over shape or its rows; row reshapes
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)  # values of the group needed outside
    deps: set = field(default_factory=set)

    @property
    def rows(self) -> set:
        return {(self.shape[0],), (self.shape[0], 1)}

    @property
    def eqns(self) -> list[Equation]:
        return [e for s in self.stages for e in (s.eqns if isinstance(s, Kernel) else [s.eqn])]

    @property
    def reductions(self) -> list[Equation]:
        return [r for s in self.stages if isinstance(s, Kernel) for r in s.reductions]

    def is_inner(self, stage) -> bool:
        return isinstance(stage, Kernel) and stage.shape == self.shape

    def all_eqns(self) -> list[Equation]:
        return [e for s in self.stages for e in s.all_eqns()]

    def late(self) -> set:
        """Reductions over axis 0: complete only after the last row."""
        return {r.out.index for s in self.stages if isinstance(s, Kernel) for r in s.reductions
                if 0 in r.attrs["axes"] or not self.is_inner(s)}

    def describe(self) -> str:
        ins = " ".join(name(v.index) for v in self.inputs)
        outs = " ".join(name(v.index) for v in self.outputs)
        stages = "; ".join(", ".join(e.prim.name for e in s.all_eqns()) for s in self.stages)
        return f"row kernel over {list(self.shape)} ({stages}): reads {ins} -> writes {outs}"


def starts_group(step) -> bool:
    return isinstance(step, Kernel) and len(step.shape) == 2 and min(step.shape) > 1 and bool(
        step.reductions) and all(set(r.attrs["axes"]) <= {0, 1} for r in step.reductions)


def joins(group: RowKernel, step) -> bool:
    made = {e.out.index: e for e in group.all_eqns()}
    inputs = [v for e in step.all_eqns() for v in e.inputs if v.index in made]
    if any(v.index in group.late() for v in inputs):
        return False
    if isinstance(step, Fallback):
        eq = step.eqn
        return eq.prim.name == "reshape" and eq.inputs[0].index in made and \
            eq.inputs[0].shape in group.rows and eq.out.shape in group.rows
    if not isinstance(step, Kernel):
        return False
    if group.is_inner(step):
        # per-row values enter an inner stage as (n0, 1): an (n0,) value would broadcast along axis 1
        return all(v.shape == group.shape or v.shape == (group.shape[0], 1) for v in inputs) and \
            all(set(r.attrs["axes"]) <= {0, 1} for r in step.reductions) and \
            not _outside_row_conflict(group, step)
    if step.shape not in group.rows:
        return False
    return all(v.shape in group.rows for v in inputs) and all(
        0 in r.attrs["axes"] for r in step.reductions) and not _outside_row_conflict(group, step)


def _outside_row_conflict(group: RowKernel, step: Kernel) -> bool:
    """An outside (n0,) array is per-row in a row stage but a column (1, n1) in an inner one (n0 == n1):
    one argument cannot be both."""
    n0 = group.shape[0]
    made = {e.out.index for e in group.all_eqns()}

    def reads(stages) -> set:
        return {v.index for s in stages for e in s.all_eqns() for v in e.inputs
                if v.index not in made and v.shape == (n0,)}
    inner = group.is_inner(step)
    mine = reads([step])
    theirs = reads([s for s in group.stages if group.is_inner(s) != inner and isinstance(s, Kernel)])
    return bool(mine & theirs)


def reads_from(step, group: RowKernel) -> bool:
    return any(s in step.deps for s in group.stages)


def group_rows(steps: list, graph) -> list:
    """`steps` (fusion's, in order) with runs of row-compatible steps replaced by RowKernels."""
    out, group = [], None
    for step in steps:
        if group is not None and joins(group, step):
            group.stages.append(step)
        elif group is not None and not reads_from(step, group):
            out.insert(out.index(group), step)     # independent of the group: it can run before it
        else:
            group = None
            if starts_group(step):
                group = RowKernel(step.shape, [step])
            out.append(group or step)
    return [finish(s, out, graph) if isinstance(s, RowKernel) else s for s in out]


def finish(group: RowKernel, steps: list, graph):
    """The group's inputs, outputs and dependencies; a group of one stage stays a plain kernel."""
    if len(group.stages) == 1:
        return group.stages[0]
    members = set(group.stages)
    made = {e.out.index for e in group.all_eqns()}
    group.inputs = unique(v for e in group.all_eqns() for v in e.inputs if v.index not in made)
    needed = {v.index for s in steps if s is not group and s not in members
              for e in s.all_eqns() for v in e.inputs} | {v.index for v in graph.outputs}
    group.outputs = [e.out for e in group.all_eqns() if e.out.index in needed]
    group.deps = set().union(*(s.deps for s in group.stages)) - members
    for s in steps:
        if s.deps & members:
            s.deps = (s.deps - members) | {group}
    return group
