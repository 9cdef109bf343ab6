"""The direct call of a cached signature whose one segment is compiled and has no guard.

Such a call needs no walk of the trace tree: `direct_call` resolves, once, where each program input
and each result comes from (an argument, a program output or a constant), and writes the call out
as a small Python function, e.g. inside `record()`

    def call(args):
        a0 = args[0]
        a1 = args[1]
        a2 = args[2]
        outs = launch(a0._data, a1._data, a2._data)
        node = Node(None, NO_ATTRS, ((a0._entry, a0._index), (a1._entry, a1._index)),
                    (a0._data, a1._data), (outs[0],),
                    CompiledBackward(info, [outs[1], outs[2]], owner, (args, NO_KWARGS), adopt))
        stats["hits"] += 1
        return NDArray(outs[0], node, 0)

which runs the program's launcher, wraps the outputs and puts the call's node on the tape (what
tape.attach does on the general path). The differentiated inputs need no check that they are still
in a graph: the signature that selected this call says so (its graph roles), as it fixes which
arguments are C-contiguous (their layout checks are left out of the launcher it calls). Measured
for W1 at 1e3 elements, signature included: a recorded call costs 5.3 us, 14.6 on the general path.
"""
from __future__ import annotations

from . import tape
from .ndarray import NDArray


def only(outs: list):
    """The rebuild of a function's result that is one array (a direct call returns it unwrapped)."""
    return outs[0]


def direct_call(seg, args, positions: list, owner):
    """The direct call for segment `seg` (`args`: a call's arguments, `positions`: where its arrays
    are), or None when the segment does not qualify. `owner` is the CompiledFunction (its hit count,
    the tape node's)."""
    program, leaf = seg.program, seg.leaf
    if getattr(program, "ran", False) is not True or seg.guard is not None or seg.externals \
            or leaf is None:
        return None
    extra = leaf.extra if leaf.extra is not None and leaf.extra.boundary else None
    if extra is not None and (any(kind != "arg" for kind, _ in extra.boundary)
                              or extra.unit_grad_keys is None and extra.program is None):
        return None
    where: dict = {k: ("arg", positions[k]) for k in range(len(positions))}
    where.update((k, ("const", d)) for k, d in seg.consts)
    where.update((k, ("out", i)) for i, k in enumerate(seg.out_keys))
    where.update((k, ("const", d)) for k, d in leaf.literals.items())
    keys = [] if extra is None else extra.kept_keys
    if any(k not in where for k in [*seg.in_keys, *leaf.result_keys, *keys]):
        return None
    sources = [where[k] for k in seg.in_keys]
    contiguous = frozenset(i for i, (kind, w) in enumerate(sources)   # fixed by the signature
                           if (args[w]._data if kind == "arg" else w).flags.c_contiguous)
    names = {"launch": program.launch_assuming(contiguous), "rebuild": leaf.rebuild,
             "stats": owner._stats, "owner": owner,
             "NDArray": NDArray, "Node": tape.Node, "CompiledBackward": tape.CompiledBackward,
             "NO_ATTRS": {}, "NO_KWARGS": {}}
    value = _Values(names)
    inputs = ", ".join(value(source) for source in sources)
    lines = [f"    outs = launch({inputs})"]
    results = [value(where[k]) for k in leaf.result_keys]
    if extra is None:
        wrapped = [f"NDArray({r})" for r in results]
    else:
        names["info"], names["adopt"] = extra, tape.adopt_flags(seg, extra)
        diff = [value.arg(positions[w]) for _, w in extra.boundary]
        backward = (f"CompiledBackward(info, [{', '.join(value(where[k]) for k in keys)}], owner, "
                    "(args, NO_KWARGS), adopt)")
        lines.append(f"    node = Node(None, NO_ATTRS, {_tuple(f'({a}._entry, {a}._index)' for a in diff)}, "
                     f"{_tuple(f'{a}._data' for a in diff)}, {_tuple(results)}, {backward})")
        wrapped = [f"NDArray({r}, node, {i})" for i, r in enumerate(results)]
    result = wrapped[0] if leaf.rebuild is only else f"rebuild([{', '.join(wrapped)}])"
    lines += ['    stats["hits"] += 1', f"    return {result}"]
    source = "\n".join(["def call(args):", *value.bindings, *lines]) + "\n"
    exec(compile(source, f"<jitgrad direct call {owner.__name__}>", "exec"), names)
    return names["call"]


class _Values:
    """Python expressions for ("arg", position), ("out", program output) and ("const", data)."""

    def __init__(self, names: dict):
        self.names, self.bindings = names, list[str]()
        self.bound: set = set()

    def __call__(self, source) -> str:
        kind, w = source
        if kind == "out":
            return f"outs[{w}]"
        if kind == "const":
            name = f"C{len(self.names)}"
            self.names[name] = w
            return name
        return f"{self.arg(w)}._data"

    def arg(self, position: int) -> str:
        """The argument at `position`, bound to a local once."""
        if position not in self.bound:
            self.bound.add(position)
            self.bindings.append(f"    a{position} = args[{position}]")
        return f"a{position}"


def _tuple(items) -> str:
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"  # () when empty
