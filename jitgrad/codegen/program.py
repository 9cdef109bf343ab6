"""Graph -> Program: simplify, fuse, group row stages, render and compile each kernel, and run the steps
in order (through the straight-line launcher of launch.py).

`build_program(graph, name)` returns a `Program`; calling it with numpy arrays (matching `graph.inputs`,
any layout) returns the outputs, exactly the shapes and dtypes of `graph.outputs`. `out_buffers` maps an
output position to a preallocated array the program writes into instead of allocating (gradients go
straight into `.grad` buffers this way). Kernels run serially below `PARALLEL_MIN` elements and in
chunks on jitgrad's threads above (threads.py; threads cost more than they save on small arrays).
Measured on this VM (a sum in two chunks): serial 83 us at 1e5 elements against 99 in two threads,
248 us at 3e5 against 172, so two threads break even near 1.4e5 (handing a chunk over costs about
57 us, mostly the idle second core waking up; Numba's prange measured the same). At break-even
serial is the better choice, as it leaves the second core to others (OpenBLAS threads spinning
after a dot, for one: W4's kernels of 256x512 elements ran 2.40 against 2.48 ms serially).
`JITGRAD_PARALLEL_MIN` overrides the threshold.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..ir.graph import Graph, name as value_name
from ..passes.fusion import Fallback, Kernel, fuse
from ..passes.simplify import simplify
from ..passes.rows import RowKernel, group_rows
from . import compileahead
from .buffers import Recycler, recyclable
from .compile import SIZE, array_type, compile_cause, load, log
from .launch import launcher
from .threads import get_num_threads, run_chunks
from .render import render_kernel
from .rows import render_rows

PARALLEL_MIN = int(os.environ.get("JITGRAD_PARALLEL_MIN", 1 << 18))  # elements; see the module doc


class KernelStep:
    def __init__(self, kernel: Kernel | RowKernel, graph: Graph, kname: str, graph_name: str):
        self.kernel = kernel
        if isinstance(kernel, RowKernel):
            self.rendered = render_rows(kernel, graph, kname, graph_name)
        else:
            self.rendered = render_kernel(kernel, graph, kname, graph_name)
        self.compiled = load(self.rendered.source)
        total = math.prod(kernel.shape)
        self.parallel = total >= PARALLEL_MIN and self.rendered.sizes[0] > 1
        self.args = [(a.role, a.value.index, a.value.shape, a.value.dtype, a.form)
                     for a in self.rendered.args]
        self.scratch = self.rendered.scratch     # work arrays: (dtype, shape after the chunks)
        # the entry's argument types when every array is C-contiguous (launcher-allocated ones always are):
        # start0, stop0, chunks0, finish0, the sizes, the arrays
        self.size_types = (SIZE,) * (4 + len(self.rendered.sizes))
        self.array_types = tuple(array_type(dtype, len(form), True, role == "input")
                                 for role, _, _, dtype, form in self.args) + tuple(
            array_type(dtype, 1 + len(shape), True, False) for dtype, shape in self.scratch)
        self.types = self.size_types + self.array_types

    def entry(self):
        """The compiled function for all-C-contiguous arguments (compiled or loaded on first use)."""
        return self.compiled.entry(self.types)

    def work_arrays(self, chunks: int) -> list:
        return [np.empty((chunks, *shape), dtype) for dtype, shape in self.scratch]

    def call(self, chunks: int, *arrays):
        """Run the kernel in `chunks` chunks on arrays of any layout (the entry for theirs), work arrays
        included."""
        types = self.size_types + tuple(
            t if a.flags.c_contiguous else (t[0], t[1], "A", t[3]) for t, a in zip(self.array_types, arrays))
        run_chunks(self.compiled.entry(types), chunks, *self.rendered.sizes, *arrays)

    def run(self, env: dict, buffers: dict, recyclers: dict):
        call, copies = [], []
        for role, index, shape, dtype, form in self.args:
            if role == "input":
                a = env[index]
                call.append(a if a.shape == form else a.reshape(form))
                continue
            out = buffers.get(index)
            if out is None:  # fresh, so C-contiguous
                r = recyclers.get(index)
                out = env[index] = r.take() if r else np.empty(shape, dtype)
                call.append(out if shape == form else out.reshape(form))
                continue
            env[index] = out
            flags = out.flags
            if (flags.c_contiguous or form == out.shape) and flags.writeable and flags.aligned:
                call.append(out.reshape(form))
            else:             # strided, read-only or unaligned: write a temporary, copy after the call
                tmp = np.empty(form, dtype)
                copies.append((out, tmp))
                call.append(tmp)
        chunks = get_num_threads() if self.parallel else 1
        self.call(chunks, *call, *self.work_arrays(chunks))
        for out, tmp in copies:
            np.copyto(out, tmp.reshape(out.shape))

    def describe(self) -> str:
        return f"{self.rendered.name}: {self.kernel.describe()}"


class FallbackStep:
    """An op the code generator has no loop for: its numpy implementation runs here (a graph break)."""

    def __init__(self, step: Fallback, graph_name: str):
        self.eqn = step.eqn
        kind = step.eqn.prim.kind
        log.debug("jitgrad: %s: %s runs its numpy implementation (%s)", graph_name, step.eqn.prim.name,
                  "BLAS through numpy" if kind == "contraction" else f"no generated loop for {kind} ops"
                  if kind != "elementwise" else "its dtype or operands are not fused")

    def run(self, env: dict, buffers: dict, recyclers: dict):
        eq = self.eqn
        result = np.asarray(eq.prim.impl(*(env[v.index] for v in eq.inputs), **eq.attrs))
        out = buffers.get(eq.out.index)
        if out is not None:
            np.copyto(out, result)
            result = out
        env[eq.out.index] = result

    def describe(self) -> str:
        return Fallback(self.eqn).describe()


class Program:
    def __init__(self, graph: Graph, name: str = "f", cause: str = "a new program"):
        self.name = name
        self.source_graph = graph
        self.graph = simplify(graph)
        self.plan = group_rows(fuse(self.graph), self.graph)
        self.steps: list[KernelStep | FallbackStep] = []
        for step in self.plan:
            if isinstance(step, (Kernel, RowKernel)):
                self.steps.append(KernelStep(step, self.graph, f"{name}_k{len(self.kernels)}", name))
            else:
                self.steps.append(FallbackStep(step, name))
        self.literals = {i: np.asarray(d) for i, d in self.graph.literals.items()}
        allocated = {index: (shape, dtype) for s in self.steps if isinstance(s, KernelStep)
                     for role, index, shape, dtype, _ in s.args if role != "input"}   # by the launcher
        self.recyclers = {index: Recycler(shape, dtype) for index, (shape, dtype) in allocated.items()
                          if recyclable(shape, dtype)}
        self.launch, self.launch_source = launcher(self)
        self._launchers: dict[frozenset, Any] = {}
        keys = [v.index for v in self.graph.outputs]
        # output positions whose array the launcher allocates afresh on each call, returned once
        self.fresh_outputs = frozenset(i for i, k in enumerate(keys) if k in allocated and keys.count(k) == 1)
        self.cause = f"{name}: {cause}"
        self.ran = False

    @property
    def kernels(self) -> list:
        """(kernel name, generated source, equations covered) for each fused kernel."""
        return [(s.rendered.name, s.rendered.source, s.kernel.all_eqns())
                for s in getattr(self, "steps", []) if isinstance(s, KernelStep)]

    def __call__(self, arrays: list, out_buffers: dict | None = None) -> list:
        if self.ran:
            return self.run(arrays, out_buffers)
        with compile_cause(self.cause):   # the first run, where Numba compiles or loads the kernels
            self.compile_ahead()
            results = self.run(arrays, out_buffers)
        self.ran = True
        return results

    def compile_ahead(self) -> None:
        """Let a helper process compile some of the kernels this first run will need (compileahead.py)."""
        jobs: dict[tuple, tuple] = {}
        for s in self.steps:
            if isinstance(s, KernelStep) and s.compiled.needs_compile(s.types):
                jobs.setdefault((id(s.compiled), s.types), (s.compiled, s.types))
        compileahead.plan(list(jobs.values()))

    def run(self, arrays: list, out_buffers: dict | None) -> list:
        if not out_buffers:
            return self.launch(*arrays)
        env = dict(self.literals)
        for v, a in zip(self.graph.inputs, arrays, strict=True):
            env[v.index] = np.asarray(a)
        buffers: dict[int, np.ndarray] = {}
        for position, buf in (out_buffers or {}).items():
            buffers.setdefault(self.graph.outputs[position].index, buf)
        for step in self.steps:
            step.run(env, buffers, self.recyclers)
        results = [env[v.index] for v in self.graph.outputs]
        for position, buf in (out_buffers or {}).items():
            if results[position] is not buf:
                np.copyto(buf, results[position])
                results[position] = buf
        return results

    def launch_assuming(self, contiguous: frozenset):
        """The launcher for calls whose inputs at these positions are C-contiguous (direct calls)."""
        indices = frozenset(self.graph.inputs[i].index for i in contiguous)
        if not indices:
            return self.launch     # nothing settled: the launcher every call takes
        if indices not in self._launchers:
            self._launchers[indices] = launcher(self, indices)[0]
        return self._launchers[indices]

    def describe(self) -> str:
        before, after = len(self.source_graph.eqns), len(self.graph.eqns)
        lines = [f"program {self.name}: {before} equations, {after} after simplify, {len(self.steps)} steps "
                 f"({len(self.kernels)} kernels)"]
        lines += [f"  {i}. {s.describe()}" for i, s in enumerate(self.steps)]
        outs = ", ".join(value_name(v.index) for v in self.graph.outputs)
        lines.append(f"  outputs: {outs}")
        return "\n".join(lines)


def build_program(graph: Graph, name: str = "f", cause: str = "a new program") -> Program:
    """`cause` says why the program is built (logged with the compiles it leads to)."""
    return Program(graph, name, cause)
