"""A program's steps as one generated Python function: the glue of a cached call, without loops.

A program is built for one signature, so every shape, dtype, reshape and serial/parallel choice of its
steps is known when it is built. `launcher(program)` writes them out as straight-line Python, e.g.

    def launch(v0, v1, v2, v3):
        v7 = np.empty((16,), d7)
        v8 = r8()
        k0(1, 16, v0, v1, v2, v3, v7, v8)
        v9 = asarray(f1(v7, **a1))
        return [v7, v9]

which costs a few hundred nanoseconds where walking the steps' argument lists cost microseconds
(measured: the cached call of W1 at 16 elements). Large arrays come from the program's recyclers
(`r8`, see buffers.py). Calls that pass output buffers take the general path.
"""
from __future__ import annotations

import numba
import numpy as np


def launcher(program):
    names: dict = {"np": np, "asarray": np.asarray, "threads": numba.get_num_threads}
    inputs = [f"v{v.index}" for v in program.graph.inputs]
    lines = [f"def launch({', '.join(inputs)}):"]
    for index, data in program.literals.items():
        names[f"L{index}"] = data
        lines.append(f"    v{index} = L{index}")
    for i, step in enumerate(program.steps):
        lines += ["    " + s for s in (_kernel(i, step, names, program) if hasattr(step, "rendered")
                                       else _fallback(i, step, names))]
    lines.append(f"    return [{', '.join(f'v{v.index}' for v in program.graph.outputs)}]")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<jitgrad launcher {program.name}>", "exec"), names)
    return names["launch"], source


def _kernel(i: int, step, names: dict, program) -> list[str]:
    lines, call = [], []
    for role, index, shape, dtype, form in step.args:
        if role != "input" and index in program.recyclers:
            names[f"r{index}"] = program.recyclers[index].take
            lines.append(f"v{index} = r{index}()")
        elif role != "input":
            names[f"d{index}"] = dtype
            lines.append(f"v{index} = np.empty({shape!r}, d{index})")
        call.append(f"v{index}" if tuple(shape) == tuple(form) else f"v{index}.reshape({form!r})")
    names[f"k{i}"] = step.compiled.parallel if step.parallel else step.compiled.serial
    chunks = "threads()" if step.parallel else "1"
    sizes = ", ".join(str(n) for n in step.rendered.sizes)
    lines.append(f"k{i}({chunks}, {sizes}, {', '.join(call)})")
    return lines


def _fallback(i: int, step, names: dict) -> list[str]:
    eq = step.eqn
    names[f"f{i}"], names[f"a{i}"] = eq.prim.impl, eq.attrs
    operands = ", ".join(f"v{v.index}" for v in eq.inputs)
    return [f"v{eq.out.index} = asarray(f{i}({operands}, **a{i}))"]
