"""`jitgrad.explain`: what a compiled function runs for given arguments, as text."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .ir.graph import name as value_name
from .jit import _compiled


def explain(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The traces of `fn` for these arguments: IR per segment, guards, fusion steps, kernel sources.
    Runs one call (tracing it if this signature is new)."""
    compiled = _compiled(fn)
    compiled(*args, **kwargs)
    root = compiled._roots.get(compiled._signature(args, kwargs))
    if root == "eager":
        return f"{compiled.__name__}: runs eagerly for this signature (it cannot be replayed)\n"
    lines = [f"{compiled.__name__}: {compiled.cache_info()}"]
    _explain_segment(root, lines, depth=0, label="entry")
    return "\n".join(lines) + "\n"
def _explain_program(program, lines: list, pad: str) -> None:
    """The fusion steps and the generated source of each kernel of a compiled program."""
    if not hasattr(program, "describe"):
        return
    lines += [pad + line for line in program.describe().splitlines()]
    for name, source, _ in program.kernels:
        lines.append(f"{pad}-- source of {name}")
        lines += [pad + "    " + line for line in source.splitlines()]
    lines.append(f"{pad}-- launcher (runs the steps)")
    lines += [pad + "    " + line for line in program.launch_source.splitlines()]


def _explain_segment(seg, lines: list, depth: int, label: str) -> None:
    pad = "    " * depth
    state = "compiled" if seg.program is not None else "interpreted (not hot yet)"
    lines.append(f"{pad}-- segment [{label}]: {len(seg.graph.eqns)} ops, {seg.runs} runs, {state}")
    lines += [pad + line for line in str(seg.graph).splitlines()]
    _explain_program(seg.program, lines, pad)
    if seg.guard is not None:
        lines.append(f"{pad}guard: {seg.guard.value!r} must equal {seg.guard.expected.tolist()}")
    extra = seg.leaf.extra if seg.leaf is not None else None
    if extra is not None and extra.unit_grad_keys is not None:
        lines.append(f"{pad}-- backward: the gradients at cotangent 1 above ("
                     f"{', '.join(value_name(k) for k in extra.unit_grad_keys)}), scaled by the cotangent")
    elif extra is not None and extra.graph is not None:
        lines.append(f"{pad}-- backward ({len(extra.graph.eqns)} ops)")
        lines += [pad + line for line in str(extra.graph).splitlines()]
        _explain_program(extra.program, lines, pad)
    for key, child in seg.children.items():
        shape, dtype, raw = key
        seen = np.frombuffer(raw, dtype=dtype).reshape(shape).tolist()
        _explain_segment(child, lines, depth + 1, f"guard saw {seen}")
