"""A program's steps as one generated Python function: the glue of a cached call, without loops.

A program is built for one signature, so every shape, dtype, reshape and serial/parallel choice of its
steps is known when it is built. `launcher(program)` writes them out as straight-line Python, e.g.

    def launch(v0, v1, v2, v3):
        v7 = np.empty((16,), d7)
        v8 = r8()
        w0_0 = np.empty((1, 1), e0_0)
        if v0.flags.c_contiguous and v1.flags.c_contiguous:
            k0(0, 1, 1, 1, 16, v0, v1, v2, v3, v7, v8, w0_0)
        else:
            s0(1, v0, v1, v2, v3, v7, v8, w0_0)
        v9 = asarray(f1(v7, **a1))
        return [v7, v9]

which costs a few hundred nanoseconds where walking the steps' argument lists cost microseconds
(measured: the cached call of W1 at 16 elements). `k0` is the kernel's entry for C-contiguous
arguments, called with no type dispatch (compile.py) over its one chunk, finishing (render.py; a
parallel step hands `k0` and its thread count of chunks to threads.run_chunks); inputs of more than
one element are checked, since a view may be strided, and take the step's any-layout call `s0` if
one is not. `w0_0` is a work array of the kernel (an accumulator with one row per chunk, see
render.work_array). Large arrays come from the program's recyclers (`r8`, see buffers.py). Calls
that pass output buffers take the general path.
"""
from __future__ import annotations

import math

import numpy as np

from .threads import get_num_threads, run_chunks


def launcher(program, contiguous: frozenset = frozenset()):
    """(launch function, its source) for `program`; `contiguous`: indices of program inputs known
    to be C-contiguous (a direct call's arguments, whose layout its signature fixes), which are not
    checked again (nor are contiguous literals)."""
    known = contiguous | {i for i, d in program.literals.items() if d.flags.c_contiguous}
    names: dict = {"np": np, "asarray": np.asarray, "threads": get_num_threads, "run_chunks": run_chunks}
    inputs = [f"v{v.index}" for v in program.graph.inputs]
    lines = [f"def launch({', '.join(inputs)}):"]
    for index, data in program.literals.items():
        names[f"L{index}"] = data
        lines.append(f"    v{index} = L{index}")
    for i, step in enumerate(program.steps):
        lines += ["    " + s for s in (_kernel(i, step, names, program, known) if hasattr(step, "rendered")
                                       else _fallback(i, step, names))]
    lines.append(f"    return [{', '.join(f'v{v.index}' for v in program.graph.outputs)}]")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<jitgrad launcher {program.name}>", "exec"), names)
    return names["launch"], source


def _kernel(i: int, step, names: dict, program, known: frozenset) -> list[str]:
    lines, call, checked = [], [], []
    for role, index, shape, dtype, form in step.args:
        if role != "input" and index in program.recyclers:
            names[f"r{index}"] = program.recyclers[index].take
            lines.append(f"v{index} = r{index}()")
        elif role != "input":
            names[f"d{index}"] = dtype
            lines.append(f"v{index} = np.empty({shape!r}, d{index})")
        arg = f"v{index}" if tuple(shape) == tuple(form) else f"v{index}.reshape({form!r})"
        if index in program.literals and arg != f"v{index}":
            arg = _reshaped_literal(program.literals[index], form, arg, names, f"L{index}_{i}")
        if role == "input" and math.prod(form) > 1 and index not in known:   # may be strided: checked
            if arg != f"v{index}":
                lines.append(f"x{index} = {arg}")
                arg = f"x{index}"
            checked.append(arg)
        call.append(arg)
    chunks = "1"
    if step.parallel:
        chunks = f"c{i}"
        lines.append(f"c{i} = threads()")
    for j, (dtype, shape) in enumerate(step.scratch):   # work arrays, one row per chunk
        names[f"e{i}_{j}"] = dtype
        lines.append(f"w{i}_{j} = np.empty(({chunks}, {', '.join(map(str, shape))}), e{i}_{j})")
        call.append(f"w{i}_{j}")
    names[f"k{i}"] = _FirstCall(step, names, f"k{i}")
    names[f"s{i}"] = step.call
    args = ", ".join(call)
    sizes = ", ".join(str(n) for n in step.rendered.sizes)
    fast = (f"run_chunks(k{i}, {chunks}, {sizes}, {args})" if step.parallel
            else f"k{i}(0, 1, 1, 1, {sizes}, {args})")
    if not checked:
        return lines + [fast]
    test = " and ".join(f"{a}.flags.c_contiguous" for a in checked)
    return lines + [f"if {test}:", f"    {fast}", "else:", f"    s{i}({chunks}, {args})"]


def _reshaped_literal(data, form, arg: str, names: dict, name: str) -> str:
    """A constant reshaped once, when that gives a view (a copy would hide later writes to it)."""
    reshaped = data.reshape(form)
    if reshaped.size and not np.shares_memory(reshaped, data):
        return arg
    names[name] = reshaped
    return name


class _FirstCall:
    """Stands for a step's entry in the launcher until its first call, which resolves the entry (a
    compile or a load) and puts it in the launcher's place, so later calls go straight to it."""

    def __init__(self, step, names: dict, name: str):
        self.step, self.names, self.name = step, names, name

    def __call__(self, *args):
        return self.resolve()(*args)

    def resolve(self):
        """The entry, in the calling thread (run_chunks resolves it before its workers start)."""
        entry = self.names[self.name] = self.step.entry()
        return entry


def _fallback(i: int, step, names: dict) -> list[str]:
    eq = step.eqn
    names[f"f{i}"], names[f"a{i}"] = eq.prim.impl, eq.attrs
    operands = ", ".join(f"v{v.index}" for v in eq.inputs)
    return [f"v{eq.out.index} = asarray(f{i}({operands}, **a{i}))"]
