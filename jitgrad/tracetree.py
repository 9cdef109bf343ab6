"""The trace tree: a traced program cut at its guards into segments, paths sharing their prefixes.

Each segment is a Graph over an environment of values (keyed by value index). After a segment runs,
its guard's value picks the child segment; a value never seen before is a guard failure, and the
caller traces the function again to learn the new path. Segments run through the numpy reference
interpreter until they are compiled (at once for the first path, once hot for later ones).
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from .ir.graph import Graph, interpret

log = logging.getLogger("jitgrad")


def outcome(data: np.ndarray) -> tuple:
    """What a guard saw, as a dictionary key."""
    return data.shape, data.dtype.str, data.tobytes()


class Segment:
    """Equations between two guards (or the end of the program)."""

    def __init__(self, graph: Graph, externals: list, guard, fingerprint: tuple):
        self.graph = graph
        self.in_keys = [v.index for v in graph.inputs]
        self.out_keys = [v.index for v in graph.outputs]
        self.externals = externals      # [(value index, NDArray)] captured arrays first read here
        self.guard = guard              # trace.Guard, or None for the last segment of a path
        self.fingerprint = fingerprint  # equality of structure when another trace shares this prefix
        self.children: dict = {}
        self.leaf = None                # on the last segment: what the path returns (see Leaf)
        self.runs = 0
        self.program = None             # compiled; None runs the interpreter
        self.consts: list[tuple[int, np.ndarray]] = []  # (value index, data) literals the walk reads directly
        self.lock = threading.Lock()

    def fresh_keys(self) -> set:
        """Values the compiled program allocated afresh in the last run and returned once."""
        return {self.out_keys[i] for i in getattr(self.program, "fresh_outputs", ())}

    def run(self, env: dict) -> None:
        for key, array in self.externals:
            env[key] = array._data
        env.update(self.consts)
        arrays = [env[k] for k in self.in_keys]
        outs = self.program(arrays) if self.program is not None else interpret(self.graph, arrays)
        env.update(zip(self.out_keys, outs))
        self.runs += 1


class Leaf:
    """The end of a path: which values to return, and how (plus the backward program, if any)."""

    def __init__(self, result_keys: list, rebuild, extra=None):
        self.result_keys = result_keys
        self.rebuild = rebuild   # list of arrays -> the function's return structure
        self.extra = extra       # per mode: e.g. the backward Graph and the inputs it differentiates
        self.literals: dict = {}  # result values that are literals: {value index: data}


class GuardMiss(Exception):
    """A guard saw a value no trace has seen: the path from here is unknown."""


def split(graph: Graph, guards: list, externals: dict, result_keys: list, later_keys=()) -> list:
    """Cut `graph` at its guards into segment graphs. `externals` maps value index -> NDArray of the
    captured arrays; `later_keys` are values needed after the path (e.g. by a backward program)."""
    bounds = [g.eqn_count for g in guards] + [len(graph.eqns)]
    chunks, start = [], 0
    for end in bounds:
        chunks.append(graph.eqns[start:end])
        start = end
    needed = set(result_keys) | set(later_keys)
    needed_after: list[set[int]] = [set()] * len(chunks)
    for i in reversed(range(len(chunks))):  # what runs after chunk i reads (the env keeps it)
        needed_after[i] = set(needed)
        needed |= {v.index for eq in chunks[i] for v in eq.inputs}
        if i < len(guards):
            needed.add(guards[i].value.index)
    segments, seen = [], set[int]()
    for i, eqns in enumerate(chunks):
        guard = guards[i] if i < len(guards) else None
        direct = {guard.value.index} if guard else set()  # read by the walk itself, not by eqns
        if i == len(chunks) - 1:
            direct |= set(result_keys) | set(later_keys)
        seg_graph = _chunk_graph(graph, eqns, needed_after[i] | direct)
        wanted = [v.index for v in seg_graph.inputs] + sorted(direct)
        ext = [(k, externals[k]) for k in dict.fromkeys(wanted) if k in externals and k not in seen]
        seen.update(k for k, _ in ext)
        fingerprint = tuple((eq.prim.name, tuple(v.index for v in eq.inputs), _attr_key(eq.attrs))
                            for eq in eqns) + ((guard.value.index,) if guard else ())
        segment = Segment(seg_graph, ext, guard, fingerprint)
        segment.consts = [(k, graph.literals[k]) for k in sorted(direct) if k in graph.literals]
        segments.append(segment)
    return segments


def _chunk_graph(graph: Graph, eqns: list, keep: set) -> Graph:
    produced = {eq.out.index: eq.out for eq in eqns}
    chunk = graph.part()
    chunk.eqns = list(eqns)
    inputs, seen = [], set()
    for eq in eqns:
        for v in eq.inputs:
            if v.index in graph.literals:
                chunk.literals[v.index] = graph.literals[v.index]
            elif v.index not in produced and v.index not in seen:
                seen.add(v.index)
                inputs.append(v)
    chunk.inputs = inputs
    chunk.outputs = [produced[k] for k in sorted(keep) if k in produced]
    return chunk


def _attr_key(attrs: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in attrs.items()))


def insert(root: Segment | None, segments: list, guard_values: list, leaf: Leaf) -> tuple:
    """Add a path to the tree rooted at `root` (None: a new tree). Returns (root, new segments).
    Shared prefixes are kept; a prefix whose structure differs is replaced (logged)."""
    new = []
    if root is None or root.fingerprint != segments[0].fingerprint:
        if root is not None:
            log.warning("jitgrad: a new trace differs from the cached one before its first guard; "
                        "replacing the cached paths")
        root = segments[0]
        new.append(root)
    node = root
    for i, seg in enumerate(segments[1:], 1):
        key = outcome(guard_values[i - 1])
        child = node.children.get(key)
        if child is None or child.fingerprint != seg.fingerprint:
            node.children[key] = seg
            child = seg
            new.append(seg)
        node = child
    node.leaf = leaf
    return root, new


def walk(root: Segment, env: dict) -> list:
    """Run the path the guards choose; returns its segments (raises GuardMiss off the tree)."""
    seg, path = root, []
    while True:
        seg.run(env)
        path.append(seg)
        if seg.guard is None:
            return path
        child = seg.children.get(outcome(env[seg.guard.value.index]))
        if child is None:
            raise GuardMiss(seg)
        seg = child


def count_paths(root: Segment | None) -> int:
    if root is None:
        return 0
    return (root.leaf is not None and root.guard is None) + sum(
        count_paths(c) for c in root.children.values())
