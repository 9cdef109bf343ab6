"""Render a RowKernel (passes.rows): one loop over the rows of (n0, n1), its stages run in turn per row.

Inside `for i0 in range(lo0, hi0)`: an inner stage is a loop over the row's n1 elements; a full value a
later stage reads is stored to a row buffer (`x_row`) and loaded from it there; a row reduction is folded
from its term buffer when the stage's loop ends and is a plain local from then on, like every per-row
value (row stages are scalar code). Reductions over axis 0 accumulate per chunk (`acc_x[c0, ...]`) and
are combined after the loop, as in a plain kernel. Names, header and argument conventions are
KernelRenderer's.
"""
from __future__ import annotations

import math

from ..ir.graph import Value
from ..passes.fusion import Kernel, unique
from ..passes.rows import RowKernel
from .catalog import REDUCERS
from .render import Arg, KernelRenderer, buffer_dtype, constructor, identity


class RowRenderer(KernelRenderer):
    def __init__(self, group: RowKernel, graph, kname: str, graph_name: str):
        super().__init__(group, graph, kname, graph_name)
        self.group = group
        self.flat = False
        self.stage_of = {e.out.index: i for i, s in enumerate(group.stages) for e in s.all_eqns()}
        self.late = group.late()
        self.output_keys = {v.index for v in group.outputs}
        inner = [s for s in group.stages if group.is_inner(s)]
        self.inner_reads = {v.index for s in inner for e in s.all_eqns() for v in e.inputs}
        self.buffered = {v.index for i, s in enumerate(group.stages) if group.is_inner(s)
                         for e in s.all_eqns() for v in e.inputs
                         if self.stage_of.get(v.index, i) < i and v.shape == group.shape}

    def form(self, v: Value) -> tuple:
        """The 2-d shape an outside array is passed as: per-row arrays of row stages are (n0, 1)."""
        return self.padded(v) if v.index in self.inner_reads else (self.shape[0], 1)

    def form_name(self) -> str:
        return f"loop over rows, {len(self.group.stages)} stages"

    def written(self) -> list[Value]:
        return self.k.outputs

    # ---- one row ---------------------------------------------------------------------------
    def row_loads(self) -> list[str]:
        lines = []
        for v in self.arrays:
            form, x = self.form(v), self.local(v)
            row = "0" if form[0] == 1 else "i0"
            lines.append(f"{x} = in_{x}[{row}, 0]" if form[1] == 1 else f"{x}_ = in_{x}[{row}]")
        lines += [f"{self.local(v)}_ = out_{self.local(v)}[i0]" for v in self.k.outputs
                  if v.shape == self.shape]
        return lines

    def inner_stage(self, i: int, stage: Kernel) -> list[str]:
        outputs = self.output_keys
        arrays = {v.index for v in self.arrays}
        reads = unique(v for e in stage.all_eqns() for v in e.inputs)
        body = [f"{self.local(v)} = {self.local(v)}_[i1]" for v in reads
                if v.index in arrays and self.form(v)[1] != 1]
        body += [f"{self.local(v)} = {self.local(v)}_row[i1]" for v in reads
                 if v.index in self.buffered and self.stage_of[v.index] < i]
        loads = len(body)
        body += [f"{self.local(e.out)} = {self.expression(e)}" for e in stage.eqns]
        body += [f"{self.local(e.out)}_[i1] = {self.local(e.out)}" for e in stage.eqns if e.out.index in outputs]
        body += [f"{self.local(e.out)}_row[i1] = {self.local(e.out)}" for e in stage.eqns
                 if e.out.index in self.buffered]
        before, after = [], []
        for r in stage.reductions:
            src, out = self.local(r.inputs[0]), self.local(r.out)
            block, combine = REDUCERS[r.prim.name][:2]
            if self.staged(r):                        # a column sum: one term per element
                body.append(f"{out}_s[i1] = {out}_s[i1] + {src}")
                after += self.stage_fold(r)
                continue
            if tuple(r.attrs["axes"]) == (0,):        # other column accumulators
                before.append(f"{out}_ = acc_{out}[c0, 0]")
                body.append(f"{out}_[i1] = " + combine.format(f"{out}_[i1]", src))
                continue
            if self.running(r):   # the extreme folded as the terms are made: one pass less
                before.append(f"{out}_run = {constructor(r.out.dtype)}({identity(r)})")
                extreme = "larger" if r.prim.name == "max" else "smaller"
                body.append(f"{out}_run = {extreme}({out}_run, {src})")
                value = f"{out}_run"
            else:
                terms = self.terms(r)
                if terms == f"{out}_buf":
                    body.append(f"{out}_buf[i1] = {src}")
                if r.out.index in self.late:            # over both axes
                    after.append(f"acc_{out}[c0, 0, 0] = " + combine.format(f"acc_{out}[c0, 0, 0]",
                                                                             f"{block}({terms}, n1)"))
                    continue
                value = f"{constructor(r.out.dtype)}({block}({terms}, n1))"
            after.append(f"{out} = {value}")                # over the row: usable by the next stage
            if r.out.index in outputs:
                after.append(f"out_{out}[i0] = {out}")
        loop = ["for i1 in range(n1):"] + ["    " + s for s in body] if len(body) > loads else []
        return before + loop + after

    def running(self, r) -> bool:
        """Whether row reduction r is a float max or min over the row, kept as a running value in the
        stage's loop (exact in any order, and LLVM vectorizes the llvm.maximum/minimum it is made of),
        not folded from a buffer after it."""
        return (r.prim.name in ("max", "min") and r.inputs[0].dtype.kind == "f"
                and r.inputs[0].dtype == r.out.dtype and r.out.index not in self.late)

    def row_array(self, v: Value) -> str:
        """The per-chunk rows of value v, kept for a later stage."""
        return self.work_array(f"{self.local(v)}_rows", v.dtype, ["chunks0", "n1"])

    def terms(self, r) -> str:
        """Where a row's reduction terms are: the row of an input array or the row buffer of a value
        kept for a later stage (when their dtype is the terms' dtype), else a buffer of their own."""
        src = r.inputs[0]
        if buffer_dtype(src.dtype) == src.dtype:
            if src.index in self.buffered:
                return f"{self.local(src)}_row"
            if any(v.index == src.index for v in self.arrays) and self.form(src) == self.shape:
                return f"{self.local(src)}_"
        return f"{self.local(r.out)}_buf"

    def row_stage(self, stage) -> list[str]:
        outputs = self.output_keys
        eqns = stage.eqns if isinstance(stage, Kernel) else [stage.eqn]   # or a row reshape: a rename
        lines = [f"{self.local(e.out)} = " + (self.local(e.inputs[0]) if e.prim.name == "reshape"
                                              else self.expression(e)) for e in eqns]
        lines += [f"out_{self.local(e.out)}[i0] = {self.local(e.out)}" for e in eqns if e.out.index in outputs]
        for r in getattr(stage, "reductions", []):
            out = self.local(r.out)
            index = ", ".join(["c0"] + ["0"] * len(r.inputs[0].shape))
            combine = REDUCERS[r.prim.name][1]
            lines.append(f"acc_{out}[{index}] = " + combine.format(f"acc_{out}[{index}]", self.local(r.inputs[0])))
        return lines

    # ---- the module --------------------------------------------------------------------------
    def late_reductions(self) -> list:
        return [r for r in self.k.reductions   # each is an output: nothing in the group can read it
                if r.out.index in self.late and r.out.index in self.output_keys]

    def accumulator_dims(self, r) -> list[str]:
        shape = r.inputs[0].shape
        return ["chunks0"] + ["1" if d in r.attrs["axes"] or shape[d] == 1 else f"n{d}"
                              for d in range(len(shape))]

    def render(self):
        ins = [f"in_{self.local(v)}" for v in self.scalars + self.arrays]
        outs = [f"out_{self.local(v)}" for v in self.k.outputs]
        body = [f"{self.local(v)} = in_{self.local(v)}[0]" for v in self.scalars]
        body += self.chunk_loop(self.late_reductions())
        scratch = [f"{self.local(e.out)}_row = {self.row_array(e.out)}[c0]" for e in self.k.all_eqns()
                   if e.out.index in self.buffered]
        scratch += [f"{self.local(r.out)}_buf = {self.row_buffer(r, 'n1')}[c0]"
                    for s in self.group.stages if self.group.is_inner(s) for r in s.reductions
                    if tuple(r.attrs["axes"]) != (0,) and not self.running(r)
                    and self.terms(r).endswith("_buf")]
        scratch += [s for st in self.group.stages if self.group.is_inner(st) for r in st.reductions
                    if self.staged(r) for s in self.stage_row(r)]
        row = self.row_loads()
        for i, stage in enumerate(self.group.stages):
            row += self.inner_stage(i, stage) if self.group.is_inner(stage) else self.row_stage(stage)
        body += ["    " + s for s in scratch + ["for i0 in range(lo0, hi0):"] + ["    " + s for s in row]]
        index = {v.index: f"out_{self.local(v)}" for v in self.k.outputs}
        body += self.finish((r, index[r.out.index]) for r in self.late_reductions())
        return self.module(("n0", "n1"), ins, outs, body)

    # ---- how the program calls it ------------------------------------------------------------
    def arguments(self) -> list[Arg]:
        args = [Arg("input", v, (1,)) for v in self.scalars]
        args += [Arg("input", v, self.form(v)) for v in self.arrays]
        for v in self.k.outputs:
            full = v.shape == self.shape and v.index not in self.late
            args.append(Arg("output", v, self.shape if full else (math.prod(v.shape),)))
        return args


def render_rows(group: RowKernel, graph, kname: str, graph_name: str = "f"):
    return RowRenderer(group, graph, kname, graph_name).render()
