"""Render a fused kernel (passes.fusion.Kernel) to readable Python source for Numba.

Each kernel becomes a module with one function, `kernel(start0, stop0, chunks0, finish0, n0, ..., inputs,
outputs)`: the outermost range is cut into `chunks0` chunks, and a call runs the loop nest over chunks
`start0` to `stop0`, accumulating reductions into row `c0` of their accumulators; the call with `finish0`
set combines the rows into the outputs. A serial run is one call (0, 1, 1, 1); a parallel one runs its
chunks on jitgrad's threads (threads.py) and then finishes. One function, not a chain of jitted
calls: every jitted callee is typed, optimized and emitted on its own and again inside each caller it is
linked into, which made the first compile of a kernel 1.5 to 2 times slower (kernels that call float32
trig functions pay that on purpose, for the second optimization it brings: numbajit.reoptimized). The
first line names the graph and the kernel; the rest depends only on the structure, so it is what the
compile cache is keyed on.
Sizes come from arguments (n0, n1, ...), never from the source, so one compiled kernel serves every size
with the same structure; what is baked in is the structure: dtypes, ranks and which dimensions are
broadcast (size 1).

Two loop forms:
- flat: every input is either the full iteration shape or a single element, and every reduction covers
  all elements. Arrays are passed flattened; the range is cut into blocks with zero-based local views,
  and reduction terms go to a per-block buffer summed by a vectorized helper, so nothing in the
  elementwise loop carries a float dependency from one iteration to the next.
- nd: a loop nest over the iteration shape; inputs read through row views (0 for broadcast dimensions),
  reductions over the last axis go through a row buffer, others accumulate into rows of the
  accumulator (float32 column sums in stages: `staged`).
Local names: the kernel's values are named `a`, `b`, ... by position (inputs first), so two kernels
of the same structure have the same source and share one compiled function; the first line maps the
names back to the graph's. Everything the renderer adds has a digit or an underscore, which value
names never have.
"""
from __future__ import annotations

import builtins
import keyword
import math
import re
from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Value, name as value_name
from ..passes.fusion import Kernel
from ..passes.rows import RowKernel
from .catalog import CACHE_TAG, REDUCERS, accumulator_dtype, function_source

BLOCK = 4096
STAGE_ROWS = 8   # rows whose float32 column-sum terms are added in float32 before the float64 add
RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"np"}
CALL = re.compile(r"\b([a-z][a-z0-9_]*)\(")
SHORT = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "int8": "i8",
         "uint8": "u8", "bool": "b"}


def constructor(dtype: np.dtype) -> str:
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


@dataclass
class Arg:
    """One kernel argument and how the program prepares it from a numpy array."""
    role: str        # "input" | "output" | "reduction"
    value: Value
    form: tuple      # the shape the array is reshaped to before the call


@dataclass
class RenderedKernel:
    name: str
    source: str
    flat: bool
    sizes: tuple     # n0, n1, ... for this graph's shapes
    args: list
    scratch: list    # (dtype, shape after the chunks dimension) of each work array, passed last


def nested_loops(array: str, dims) -> tuple[list[str], str, str]:
    """Source of loops `for z<d> in range(array.shape[d])`, nested, one per d in `dims`: the lines,
    the index ("z1, z2") and the indent of the innermost body."""
    loops = ["    " * i + f"for z{d} in range({array}.shape[{d}]):" for i, d in enumerate(dims)]
    return loops, ", ".join(f"z{d}" for d in dims), "    " * len(dims)


class KernelRenderer:
    def __init__(self, kernel: Kernel | RowKernel, graph: Graph, kname: str, graph_name: str):
        self.k, self.graph, self.kname, self.graph_name = kernel, graph, kname, graph_name
        self.shape = kernel.shape
        self.ndim = len(self.shape)
        self.scalars = [v for v in kernel.inputs if math.prod(v.shape) == 1]
        self.arrays = [v for v in kernel.inputs if math.prod(v.shape) != 1]
        self.flat = all(self.padded(v) == self.shape for v in self.arrays) and all(
            all(n == 1 or a in r.attrs["axes"] for a, n in enumerate(self.shape)) for r in kernel.reductions)
        self.calls: dict[str, str] = {}  # generated alias -> (name, dtype) lookups
        self.scratch: list[tuple[str, np.dtype, tuple]] = []   # see work_array
        # kernel-local names by position, so kernels of the same structure render (and hash) the
        # same; the first line of the source maps them back to the graph's names
        ordered = list(kernel.inputs) + [e.out for e in kernel.all_eqns()]
        self.names: dict[int, str] = {}
        for v in ordered:
            self.names.setdefault(v.index, value_name(len(self.names)))

    def local(self, v: Value) -> str:
        n = self.names[v.index]
        return n + "_" if n in RESERVED else n

    def padded(self, v: Value) -> tuple:
        return (1,) * (self.ndim - len(v.shape)) + tuple(v.shape)

    def work_array(self, name: str, dtype, dims: list[str]) -> str:
        """A work array with one row per chunk, e.g. `acc_x` of ["chunks0", "n1"], which the program
        passes in: a kernel allocates nothing, since Numba compiles np.empty's implementation once per
        process and signature (about 80 ms each, more than a small kernel's own compile)."""
        sizes = dict(zip(("n0",) if self.flat else [f"n{d}" for d in range(self.ndim)], self.size_values()))
        shape = tuple(min(BLOCK, sizes["n0"]) if d == "BLOCK" else sizes[d] if d in sizes else int(d)
                      for d in dims[1:])
        self.scratch.append((name, np.dtype(dtype), shape))
        return name

    # ---- expressions -------------------------------------------------------------------------
    def expression(self, eq) -> str:
        operands = [self.local(v) for v in eq.inputs]
        if eq.prim.name == "broadcast_to":
            return operands[0]
        dtype = eq.inputs[-1].dtype

        def alias(match):
            fname = match.group(1)
            short = f"{fname}_{SHORT[dtype.name]}"
            self.calls[short] = f'function("{fname}", "{dtype.name}")'
            return short + "("
        body = CALL.sub(alias, eq.prim.expr).format(*operands)
        return f"{constructor(eq.out.dtype)}({body})"

    def body_lines(self, elem_index: str, views: dict) -> list[str]:
        """Loads of row inputs, the equations, stores and reduction terms, inside the innermost loop."""
        lines = [f"{self.local(v)} = {views[v.index]}[{elem_index}]" for v in self.arrays if v.index in views]
        lines += [f"{self.local(e.out)} = {self.expression(e)}" for e in self.k.eqns]
        lines += [f"{self.local(v)}_[{elem_index}] = {self.local(v)}" for v in self.k.outputs]
        for r in self.k.reductions:
            src, out = self.local(r.inputs[0]), self.local(r.out)
            if self.flat or self.ndim - 1 in r.attrs["axes"]:
                lines.append(f"{out}_buf[{elem_index}] = {src}")
            elif self.staged(r):
                lines.append(f"{out}_s[{elem_index}] = {out}_s[{elem_index}] + {src}")
            else:
                combine = REDUCERS[r.prim.name][1].format(f"{out}_[{elem_index}]", src)
                lines.append(f"{out}_[{elem_index}] = {combine}")
        return lines

    # ---- column sums in stages ---------------------------------------------------------------
    def staged(self, r) -> bool:
        """Whether r, a sum over the rows of a 2-d loop of float32 terms, adds them into a float32 row
        first, which is added into r's float64 accumulator every STAGE_ROWS rows: per term one float32
        add instead of a widening one at half the vector width (W6's gradient: 0.3 of 3 ms on one
        thread), for at most STAGE_ROWS - 1 float32 roundings of a partial sum per term."""
        return (not self.flat and self.ndim == 2 and r.prim.name == "sum"
                and tuple(r.attrs["axes"]) == (0,) and r.inputs[0].dtype == np.float32)

    def stage_row(self, r) -> list[str]:
        """Chunk c0's float32 row of staged column sum r, set to 0 (before the loop over rows)."""
        out = self.local(r.out)
        rows = self.work_array(f"{out}_stages", r.inputs[0].dtype, ["chunks0", "n1"])
        return [f"{out}_s = {rows}[c0]", "for i1 in range(n1):", f"    {out}_s[i1] = 0.0"]

    def stage_fold(self, r) -> list[str]:
        """At the end of row i0: every STAGE_ROWS rows, and after the chunk's last, the staged row added
        into the accumulator and set to 0."""
        out = self.local(r.out)
        return [f"if (i0 - lo0) % {STAGE_ROWS} == {STAGE_ROWS - 1} or i0 == hi0 - 1:",
                f"    {out}_ = acc_{out}[c0, 0]",
                "    for i1 in range(n1):",
                f"        {out}_[i1] = {out}_[i1] + {out}_s[i1]",
                f"        {out}_s[i1] = 0.0"]

    # ---- loop forms --------------------------------------------------------------------------
    def flat_range(self) -> list[str]:
        lines = [f"{self.local(r.out)}_buf = {self.row_buffer(r, 'BLOCK')}[c0]" for r in self.k.reductions]
        lines += ["for s0 in range(lo0, hi0, BLOCK):", "    m0 = hi0 - s0 if hi0 - s0 < BLOCK else BLOCK"]
        views = {v.index: f"{self.local(v)}_" for v in self.arrays}
        lines += [f"    {self.local(v)}_ = in_{self.local(v)}[s0:s0 + m0]" for v in self.arrays]
        lines += [f"    {self.local(v)}_ = out_{self.local(v)}[s0:s0 + m0]" for v in self.k.outputs]
        lines.append("    for i0 in range(m0):")
        lines += ["        " + s for s in self.body_lines("i0", views)]
        for r in self.k.reductions:
            out = self.local(r.out)
            block, combine = REDUCERS[r.prim.name][:2]
            lines.append(f"    acc_{out}[c0, 0] = " + combine.format(f"acc_{out}[c0, 0]",
                                                                     f"{block}({out}_buf, m0)"))
        return lines

    def nd_range(self) -> list[str]:
        last, inner = self.ndim - 1, f"i{self.ndim - 1}"
        lines = [f"{self.local(r.out)}_buf = {self.row_buffer(r, f'n{last}')}[c0]"
                 for r in self.k.reductions if last in r.attrs["axes"]]
        staged = [r for r in self.k.reductions if self.staged(r)]
        lines += [s for r in staged for s in self.stage_row(r)]
        depth = ""
        for d in range(last):
            lines.append(f"{depth}for i{d} in range({'lo0, hi0' if d == 0 else f'n{d}'}):")
            depth += "    "
        lead = ", ".join(f"i{d}" for d in range(last))
        views = {}
        for v in self.arrays:
            subscripts = [("0" if n == 1 else f"i{d}") for d, n in enumerate(self.padded(v))]
            if self.padded(v)[last] == 1:
                lines.append(f"{depth}{self.local(v)} = in_{self.local(v)}[{', '.join(subscripts)}]")
            else:
                views[v.index] = f"{self.local(v)}_"
                lines.append(f"{depth}{self.local(v)}_ = in_{self.local(v)}[{', '.join(subscripts[:-1])}]")
        lines += [f"{depth}{self.local(v)}_ = out_{self.local(v)}[{lead}]" for v in self.k.outputs]
        for r in self.k.reductions:
            if last not in r.attrs["axes"] and r not in staged:
                idx = ", ".join("0" if d in r.attrs["axes"] else f"i{d}" for d in range(last))
                lines.append(f"{depth}{self.local(r.out)}_ = acc_{self.local(r.out)}[c0, {idx}]")
        lines.append(f"{depth}for {inner} in range(n{last}):")
        lines += [depth + "    " + s for s in self.body_lines(inner, views)]
        for r in self.k.reductions:
            if last in r.attrs["axes"]:
                out = self.local(r.out)
                idx = ", ".join(["c0"] + ["0" if d in r.attrs["axes"] else f"i{d}" for d in range(self.ndim)])
                block, combine = REDUCERS[r.prim.name][:2]
                lines.append(f"{depth}acc_{out}[{idx}] = " + combine.format(
                    f"acc_{out}[{idx}]", f"{block}({out}_buf, n{last})"))
        lines += [depth + s for r in staged for s in self.stage_fold(r)]
        return lines

    def row_buffer(self, r, size: str) -> str:
        """The per-chunk buffers of reduction r's terms."""
        return self.work_array(f"{self.local(r.out)}_bufs", buffer_dtype(r.inputs[0].dtype), ["chunks0", size])

    # ---- the module --------------------------------------------------------------------------
    def accumulator_dims(self, r) -> list[str]:
        """The per-chunk accumulator's shape, as source: chunks first."""
        if self.flat:
            return ["chunks0", "1"]
        return ["chunks0"] + ["1" if d in r.attrs["axes"] else f"n{d}" for d in range(self.ndim)]

    def combine_accumulators(self, pairs) -> list[str]:
        """Fold the per-chunk rows of each accumulator into its output (flat, in C order). Loops,
        not a reshape: Numba compiles reshape's helper anew for every kernel (about 0.3 s)."""
        body = []
        for r, out in pairs:
            acc = f"acc_{self.local(r.out)}"
            loops, index, pad = nested_loops(acc, range(1, len(self.accumulator_dims(r))))
            combine = REDUCERS[r.prim.name][1].format("t0", f"{acc}[c1, {index}]")
            body += ["j0 = 0", *loops, f"{pad}t0 = {acc}[0, {index}]",
                     f"{pad}for c1 in range(1, {acc}.shape[0]):", f"{pad}    t0 = {combine}",
                     f"{pad}{out}[j0] = t0", f"{pad}j0 += 1"]
        return body

    def accumulators(self, reductions) -> list[str]:
        """Chunk c0's rows of the accumulators (work arrays) set to the identity, by loops, not np.full:
        Numba compiles each numpy function once per process (see work_array)."""
        lines = []
        for r in reductions:
            dims = self.accumulator_dims(r)
            acc = self.work_array(f"acc_{self.local(r.out)}", accumulator_dtype(r.inputs[0].dtype), dims)
            loops, index, pad = nested_loops(acc, range(1, len(dims)))
            lines += [*loops, f"{pad}{acc}[c0, {index}] = {identity(r)}"]
        return lines

    def chunk_loop(self, reductions) -> list[str]:
        """The loop over this call's chunks, start0 to stop0 of chunks0 (rows lo0 to hi0 of dimension
        0 each); each chunk starts its accumulator rows at the identity."""
        return (["for c0 in range(start0, stop0):",
                 "    lo0, hi0 = c0 * n0 // chunks0, (c0 + 1) * n0 // chunks0"]
                + ["    " + s for s in self.accumulators(reductions)])

    def finish(self, pairs) -> list[str]:
        """The combine of the accumulators, in the call with finish0 set (after every chunk ran)."""
        combine = self.combine_accumulators(pairs)
        return ["if finish0:"] + ["    " + s for s in combine] if combine else []

    def render(self) -> RenderedKernel:
        k = self.k
        sizes = ("n0",) if self.flat else tuple(f"n{d}" for d in range(self.ndim))
        ins = [f"in_{self.local(v)}" for v in self.scalars + self.arrays]
        outs = [f"out_{self.local(v)}" for v in k.outputs] + [f"out_{self.local(r.out)}" for r in k.reductions]
        body = [f"{self.local(v)} = in_{self.local(v)}[0]" for v in self.scalars]
        body += self.chunk_loop(k.reductions)
        body += ["    " + s for s in (self.flat_range() if self.flat else self.nd_range())]
        body += self.finish(zip(k.reductions, outs[len(k.outputs):], strict=True))
        return self.module(sizes, ins, outs, body)

    def module(self, sizes, ins, outs, body) -> RenderedKernel:
        lines = self.header()
        lines += [f"{alias} = {lookup}" for alias, lookup in sorted(self.calls.items())]
        work = [name for name, _, _ in self.scratch]
        params = ", ".join(["start0", "stop0", "chunks0", "finish0", *sizes, *ins, *outs, *work])
        lines += ["", "", f"def kernel({params}):"]
        lines += ["    " + s for s in body]
        return RenderedKernel(self.kname, "\n".join(lines) + "\n", self.flat, self.size_values(),
                              self.arguments(), [(dtype, shape) for _, dtype, shape in self.scratch])

    def form_name(self) -> str:
        return f"{self.ndim}-d loop nest"

    def written(self) -> list[Value]:
        return self.k.outputs + [r.out for r in self.k.reductions]

    def header(self) -> list[str]:
        form = f"flat, blocks of {BLOCK}" if self.flat else self.form_name()
        eqn_lines = []
        for e in self.k.all_eqns():
            args = " ".join(self.local(v) for v in e.inputs)
            attrs = "".join(f"[{a}={e.attrs[a]!r}]" for a in sorted(e.attrs)
                            if e.prim.name not in ("broadcast_to", "reshape"))  # sizes: not structure
            eqn_lines.append(f"#   {self.local(e.out)} = {e.prim.name}{attrs} {args}")
        dims = ",".join("1" if n == 1 else f"n{d}" for d, n in enumerate(self.shape))
        math_from = sorted({f"{a}: {function_source(*_split(lookup))}" for a, lookup in self.calls.items()})
        return ([f"# jitgrad kernel {self.kname} of graph {self.graph_name!r}: {len(self.k.eqns)} elementwise "
                 f"equations and {len(self.k.reductions)} reductions over [{dims}] ({form}); graph "
                 f"names: {', '.join(f'{n}={value_name(i)}' for i, n in self.names.items())}"]
                + eqn_lines
                + [f"# reads {' '.join(self.local(v) for v in self.k.inputs) or '-'}; writes "
                   f"{' '.join(self.local(v) for v in self.written())}",
                   f"# scalar math from {', '.join(math_from) or '-'}; {CACHE_TAG}",
                   "import numpy as np",
                   "from jitgrad.codegen.helpers import (function, maximum, minimum, larger, smaller, sum_block,",
                   "                                     prod_block, max_block, min_block)",
                   "", f"BLOCK = {BLOCK}"])

    # ---- how the program calls it ------------------------------------------------------------
    def size_values(self) -> tuple:
        return (math.prod(self.shape),) if self.flat else tuple(self.shape)

    def arguments(self) -> list[Arg]:
        full = (math.prod(self.shape),) if self.flat else self.shape
        args = [Arg("input", v, (1,)) for v in self.scalars]
        args += [Arg("input", v, full if self.flat else self.padded(v)) for v in self.arrays]
        args += [Arg("output", v, full) for v in self.k.outputs]
        args += [Arg("reduction", r.out, (math.prod(r.out.shape),)) for r in self.k.reductions]
        return args


def buffer_dtype(dtype: np.dtype) -> np.dtype:
    """Terms are buffered in their own float dtype (the loop stays at full vector width); the block
    reducers accumulate them in float64. Integer terms are widened to int64 on the way in."""
    return dtype if dtype.kind == "f" else accumulator_dtype(dtype)


def identity(r) -> str:
    floats, ints = REDUCERS[r.prim.name][2:]
    return floats if accumulator_dtype(r.inputs[0].dtype).kind == "f" else ints


def _split(lookup: str) -> tuple:
    fname, dtype = re.findall(r'"([^"]+)"', lookup)
    return fname, dtype


def render_kernel(kernel: Kernel, graph: Graph, kname: str, graph_name: str = "f") -> RenderedKernel:
    return KernelRenderer(kernel, graph, kname, graph_name).render()
