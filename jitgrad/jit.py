"""`jitgrad.compile`, `value_and_grad` and `grad`: signatures, tracing, the trace tree, the tape.

A call computes its signature (shapes, dtypes, layouts, which inputs are in a graph, static and
Python-scalar arguments, the recording and training flags) and walks the trace tree cached for it.
A miss traces the function: it runs eagerly (so the result is right) while its operations are
collected into a Graph, which is cut at its guards into segments and compiled. Three modes:
- forward: the program's outputs are the function's;
- record (called inside autograd.record()): the forward program also keeps what the backward reads,
  and the call appears on the tape as one node whose backward runs the compiled backward program;
- value_and_grad: one program returns the value and the gradients, no tape involved.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import numbers
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np

from . import autograd, check as checking, direct, tape
from .errors import DTypeError
from .ir import Variable, live
from .ir.graph import Graph, interpret
from .ndarray import NDArray, fresh
from .state import STATE, TRACES
from .trace import Tracer, tracing
from . import tracetree
from .tracetree import GuardMiss, Leaf

log = logging.getLogger("jitgrad")

SCALARS = (numbers.Number, np.number, np.bool_)
MISS = object()   # what _cached returns when the call must be traced
MAX_SIGNATURES = 256  # default bound of the in-memory cache per function; JITGRAD_MAX_SIGNATURES overrides


class CompiledFunction:
    """A function compiled per signature; see `jitgrad.compile`."""

    def __init__(self, fn, static_argnums=(), hot: int = 2, max_paths: int = 64, backend: str = "numba",
                 argnums=None, max_signatures: int | None = None, check: bool | None = None):
        functools.update_wrapper(self, fn)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.fn = fn
        self.static_argnums = frozenset((static_argnums,) if isinstance(static_argnums, (int, str))
                                        else static_argnums)
        self.hot, self.max_paths, self.backend = int(hot), int(max_paths), backend
        self.argnums = argnums          # not None: this is a value_and_grad function
        self.max_signatures = int(os.environ.get("JITGRAD_MAX_SIGNATURES", MAX_SIGNATURES)
                                  if max_signatures is None else max_signatures)
        self.check = checking.enabled() if check is None else bool(check)
        self._roots: OrderedDict[tuple, Any] = OrderedDict()  # signature -> root Segment or "eager", LRU first
        self._fast: dict[tuple, Any] = {}  # signature -> direct call (see _offer_fast), a subset of _roots
        self._lock = threading.RLock()
        self._stats: Counter[str] = Counter()

    # ---- public ----------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if TRACES.active and STATE.tracer is not None:  # called while another one traces: inline it
            return self._run_eagerly(args, kwargs)
        key = self._signature(args, kwargs)
        fast = self._fast.get(key)
        if fast is not None:
            return fast(args)
        result = self._cached(key, args, kwargs, first_look=True)
        if result is not MISS:
            return result
        with self._lock:  # one trace at a time: concurrent first calls trace (and compile) once
            result = self._cached(key, args, kwargs, first_look=False)
            return self._trace(key, args, kwargs) if result is MISS else result

    def _cached(self, key, args, kwargs, first_look: bool):
        """The result from the trace tree, or MISS (a new signature or a guard failure)."""
        root = self._roots.get(key)
        if root is not None:
            self._touch(key)
        if root == "eager":
            return self._run_eagerly(args, kwargs)
        if root is None:
            if first_look:
                self._stats["misses"] += 1
                log.info("jitgrad: %s: new signature %s", self.__name__, _short(key))
            return MISS
        arrays = self.array_args(args, kwargs)
        env = {i: a._data for i, a in enumerate(arrays)}
        try:
            path = tracetree.walk(root, env)
            result = self._finish(path[-1], env, arrays, args, kwargs)
        except GuardMiss:
            if first_look:
                self._stats["guard_failures"] += 1
                log.info("jitgrad: %s: guard failed, tracing a new path", self.__name__)
            return MISS
        self._stats["hits"] += 1
        try:
            self._maybe_compile(path)
        except BaseException:
            self._forget(key)
            raise
        if not kwargs and len(path) == 1:
            self._offer_fast(key, path[0], args)
        return result

    def _offer_fast(self, key, seg, args) -> None:
        """Give a signature whose one segment is compiled and has no guard a direct call (direct.py)."""
        positions = [i for i, a in enumerate(args) if i not in self.static_argnums and isinstance(a, NDArray)]
        call = direct.direct_call(seg, args, positions, self)
        if call is not None:
            self._fast[key] = call

    def cache_info(self) -> dict[str, int]:
        """Counts: hits, misses (new signatures), traces, compiles, guard failures, cached paths and
        signatures."""
        with self._lock:
            paths = sum(tracetree.count_paths(r) for r in self._roots.values() if r != "eager")
        return {"hits": self._stats["hits"], "misses": self._stats["misses"],
                "traces": self._stats["traces"], "compiles": self._stats["compiles"],
                "guard_failures": self._stats["guard_failures"], "paths": paths,
                "signatures": len(self._roots), "evictions": self._stats["evictions"]}

    def clear_cache(self) -> None:
        """Forget every trace and reset the counts."""
        with self._lock:
            self._roots.clear()
            self._fast.clear()
            self._stats.clear()

    # ---- signatures and environments -------------------------------------------------------------
    def _signature(self, args, kwargs) -> tuple:
        state, static = STATE, self.static_argnums
        recording = state.recording
        parts: list = []
        append = parts.append
        for i, a in enumerate(args):
            if type(a) is NDArray and i not in static:  # the common case, inlined (it is every call's)
                data = a._data
                append((data.shape, data.dtype, data.strides, _graph_role(a) if recording else None))
            else:
                append(self._arg_key(i, a))
        if kwargs:
            parts += [(name, self._arg_key(name, kwargs[name])) for name in sorted(kwargs)]
        append(recording)
        append(state.training)
        return tuple(parts)

    def _arg_key(self, where, a):
        if where in self.static_argnums:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"{self.__name__}: static argument {where!r} must be hashable, got "
                                f"{type(a).__name__}") from None
            return ("static", a)
        if isinstance(a, NDArray):  # strides: the layout, which Numba specialises on, and more
            data = a._data
            return (data.shape, data.dtype, data.strides, _graph_role(a) if STATE.recording else None)
        if isinstance(a, SCALARS):
            return ("scalar", type(a).__name__, a)
        raise TypeError(f"{self.__name__}: argument {where!r} is a {type(a).__name__}; compiled functions "
                        "take NDArrays and Python scalars (name other arguments in static_argnums)")

    def array_args(self, args, kwargs) -> list:
        """The NDArray arguments in signature order: graph inputs 0, 1, ... of every trace."""
        named = [kwargs[n] for n in sorted(kwargs) if n not in self.static_argnums]
        return [a for i, a in enumerate(args) if i not in self.static_argnums and isinstance(a, NDArray)] \
            + [a for a in named if isinstance(a, NDArray)]


    def outputs_of(self, result) -> list:
        """The arrays `result` (what the function returned) holds, in order."""
        return flatten(result, self.__name__)[0]

    # ---- tracing ---------------------------------------------------------------------------------
    def _run_eagerly(self, args, kwargs):
        if self.argnums is None:
            return self.fn(*args, **kwargs)
        return _value_and_grad_eagerly(self.fn, self.argnums, args, kwargs, None, None)[0]

    def _trace(self, key, args, kwargs):
        self._stats["traces"] += 1
        start = time.perf_counter()
        tracer, result, graph_outputs, rebuild, extra = self._collect(args, kwargs)
        log.info("jitgrad: %s: traced %d ops, %d guards in %.1f ms", self.__name__,
                 len(tracer.graph.eqns), len(tracer.guards), 1e3 * (time.perf_counter() - start))
        self._remember(key, tracer, graph_outputs, rebuild, extra)
        if self.check:
            checking.verify(self, key, args, kwargs)
        return result

    def _collect(self, args, kwargs) -> tuple:
        """Run the function once, tracing: (tracer, result, output values, rebuild, backward info)."""
        tracer = Tracer()
        if self.argnums is not None:
            result, graph_outputs, rebuild, extra = _value_and_grad_eagerly(
                self.fn, self.argnums, args, kwargs, tracer, self.array_args)
        else:
            for a in self.array_args(args, kwargs):
                tracer.add_argument(a)
            with tracing(tracer):
                result = self.fn(*args, **kwargs)
            outs, rebuild = flatten(result, self.__name__)
            graph_outputs = [tracer.value_of(o) for o in outs]
            extra = tape.trace_backward(tracer, outs) if STATE.recording else None
        return tracer, result, graph_outputs, rebuild, extra

    def _remember(self, key, tracer: Tracer, graph_outputs, rebuild, extra) -> None:
        if tracer.unsupported:
            log.warning("jitgrad: %s runs eagerly for this signature: %s", self.__name__,
                        tracer.unsupported)
            self._keep(key, "eager")
            return
        graph = tracer.graph
        result_keys = [v.index for v in graph_outputs]
        externals = {tracer.value_of(x).index: x for x in tracer.externals}
        unit = tape.unit_cotangent(tracer, extra) if extra is not None else None
        if unit is not None:
            # a scalar loss: its gradients at cotangent 1, in the forward's own loops (tape.BackwardInfo)
            extra.unit_grad_keys = [v.index for v in extra.graph.outputs]
            whole = tape.with_unit_cotangent(graph, unit)
            segments = tracetree.split(whole, [], externals, result_keys, extra.unit_grad_keys)
        else:
            n_forward = extra.n_forward if extra is not None else len(graph.eqns)
            later = extra.residual_keys if extra is not None else ()
            segments = tracetree.split(_truncate(graph, n_forward), tracer.guards, externals, result_keys,
                                       later)
        literals = {k: graph.literals[k] for k in result_keys if k in graph.literals}
        leaf = Leaf(result_keys, rebuild, extra)
        leaf.literals = literals
        with self._lock:
            root = self._roots.get(key)
            if root is not None and tracetree.count_paths(root) >= self.max_paths:
                log.warning("jitgrad: %s has %d cached paths for one signature (max_paths); this "
                            "path runs eagerly", self.__name__, self.max_paths)
                return
            first = root is None
            cause = _signature_change(key, self._roots) if first else ""
            root, new = tracetree.insert(root, segments, [g.expected for g in tracer.guards], leaf)
            self._keep(key, root)
            if first:  # the first path is compiled now; later ones once they prove hot
                try:
                    for seg in new:
                        self._compile(seg, cause)
                    if extra is not None:
                        self._compile_backward(extra, cause)
                except BaseException:
                    self._forget(key)
                    raise

    def _touch(self, key) -> None:
        try:
            self._roots.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile
            pass

    def _keep(self, key, root) -> None:
        """Cache `root` for `key`, evicting the least recently used signatures beyond the bound."""
        self._roots[key] = root
        self._roots.move_to_end(key)
        while len(self._roots) > max(self.max_signatures, 1):
            evicted, _ = self._roots.popitem(last=False)
            self._fast.pop(evicted, None)
            self._stats["evictions"] += 1
            log.info("jitgrad: %s: evicted signature %s (max_signatures=%d)", self.__name__,
                     _short(evicted), self.max_signatures)

    def _forget(self, key) -> None:
        """After a compile raised: no half-built cache entry stays; the next call traces afresh."""
        with self._lock:
            self._roots.pop(key, None)
            self._fast.pop(key, None)

    def _maybe_compile(self, path) -> None:
        for seg in path:
            hot = f"a guard path turned hot ({seg.runs} runs)"
            if seg.program is None and seg.runs >= self.hot:
                self._compile(seg, hot)
            leaf = seg.leaf
            if leaf is not None and leaf.extra is not None and leaf.extra.program is None \
                    and seg.runs >= self.hot:
                self._compile_backward(leaf.extra, hot)

    def _compile(self, seg, cause: str) -> None:
        with seg.lock:
            if seg.program is None:
                seg.program = self._build(seg.graph, cause)

    def _compile_backward(self, extra, cause: str) -> None:
        with self._lock:  # a hit in another thread can get here while the trace is compiling it
            if extra.program is None and extra.graph is not None and extra.unit_grad_keys is None:
                extra.program = self._build(extra.graph, f"{cause} (backward)")

    def _build(self, graph: Graph, cause: str):
        """The program for `graph`; `cause` (why it is built) is logged with it and its compiles."""
        self._stats["compiles"] += 1
        log.info("jitgrad: %s: building a program for %s", self.__name__, cause)
        if self.backend == "interpret":
            return functools.partial(interpret, graph)
        from .codegen.program import build_program
        return build_program(graph, self.__name__, cause)

    # ---- cached calls ----------------------------------------------------------------------------
    def _finish(self, seg, env: dict, arrays: list, args, kwargs):
        leaf: Leaf = seg.leaf
        literals = leaf.literals
        outs = [NDArray(literals[k] if k in literals else env[k]) for k in leaf.result_keys]
        extra = leaf.extra
        if extra is not None and extra.boundary:
            if not tape.attach_call(outs, extra, arrays, [env[k] for k in extra.kept_keys], self,
                                    (args, kwargs), tape.adopt_flags(seg, extra)):
                raise GuardMiss(None)  # an input left the graph since the trace: trace again
        return leaf.rebuild(outs)


def _graph_role(a: NDArray):
    """How an argument takes part in the graph: its grad_req if a variable, 'node' if recorded."""
    entry = a._entry   # live(entry), inlined
    if entry is None or entry.freed:
        return None
    return entry.req if type(entry) is Variable else "node"


def _truncate(graph: Graph, n: int) -> Graph:
    if n == len(graph.eqns):
        return graph
    g = graph.part()
    g.inputs, g.literals, g.eqns, g.outputs = graph.inputs, graph.literals, graph.eqns[:n], []
    return g


def _signature_change(key: tuple, known: dict) -> str:
    """What makes signature `key` new: the first call, or a new dtype, shape or structure compared
    with the closest signature already cached (the same arity, fewest differing fields)."""
    def arrays(k):
        return [p for p in k if isinstance(p, tuple) and len(p) == 4 and isinstance(p[1], np.dtype)]
    mine, best = arrays(key), None
    for other in known:
        theirs = arrays(other)
        if len(theirs) != len(mine) or other[len(other) - 2:] != key[len(key) - 2:] \
                or [p for p in other if p not in theirs] != [p for p in key if p not in mine]:
            continue
        diff = [(a, b) for a, b in zip(theirs, mine) if a != b]
        if best is None or _fields(diff) < _fields(best):
            best = diff
    if best is None:
        return "a new structure (first call)" if not known else "a new structure"
    if all(a[0] == b[0] and a[3] == b[3] for a, b in best) and any(a[1] != b[1] for a, b in best):
        return "a new dtype (" + ", ".join(f"{a[1]} -> {b[1]}" for a, b in best if a[1] != b[1]) + ")"
    if all(a[1] == b[1] and a[3] == b[3] and len(a[0]) == len(b[0]) for a, b in best):
        return "a new shape or layout (" + ", ".join(f"{a[0]} -> {b[0]}" for a, b in best) + ")"
    return "a new structure"


def _fields(diff) -> int:
    return sum(x != y for a, b in diff for x, y in zip(a, b))


def _short(key) -> str:
    text = repr(key)
    return text if len(text) < 200 else text[:197] + "..."


# ---- results ------------------------------------------------------------------------------------

def flatten(result, name: str) -> tuple:
    """(list of NDArrays, rebuild function) for an NDArray or a tuple/list/dict of them."""
    if isinstance(result, NDArray):
        return [result], direct.only
    if isinstance(result, (tuple, list)):
        parts = [flatten(r, name) for r in result]
        sizes = [len(p[0]) for p in parts]
        kind = type(result)

        def rebuild(outs):
            pieces, i = [], 0
            for (_, sub), n in zip(parts, sizes):
                pieces.append(sub(outs[i:i + n]))
                i += n
            return kind(pieces)
        return [o for p in parts for o in p[0]], rebuild
    if isinstance(result, dict):
        keys = list(result)
        flat, sub = flatten([result[k] for k in keys], name)
        return flat, lambda outs: dict(zip(keys, sub(outs)))
    raise TypeError(f"{name}: a compiled function must return NDArrays (or tuples, lists or dicts of "
                    f"them), got {type(result).__name__}")


# ---- value_and_grad -----------------------------------------------------------------------------

def _value_and_grad_eagerly(fn, argnums, args, kwargs, tracer: Tracer | None, array_args):
    """Run fn under record() with fresh variables for `argnums` and differentiate it; with a tracer,
    everything is traced (`array_args(args, kwargs)` lists the arrays to register as inputs)."""
    many = not isinstance(argnums, int)
    positions = tuple(argnums) if many else (argnums,)
    args = list(args)
    proxies = {}
    for p in positions:
        if p >= len(args) or not isinstance(args[p], NDArray):
            raise TypeError(f"value_and_grad: argument {p} must be an NDArray to differentiate it")
        if args[p]._data.dtype.kind != "f":
            raise DTypeError(f"value_and_grad: argument {p} has dtype {args[p]._data.dtype}; "
                             "gradients are defined for floating-point arrays only")
        proxy = NDArray(args[p]._data)
        proxy._entry = Variable(np.zeros_like(args[p]._data), "write")
        proxies[p] = proxy
        args[p] = proxy
    if tracer is not None:
        for a in array_args(args, kwargs):
            tracer.add_argument(a)
    with tracing(tracer) if tracer is not None else contextlib.nullcontext():
        with autograd.record(train_mode=STATE.training):
            value = fn(*args, **kwargs)
        if not isinstance(value, NDArray):
            raise TypeError(f"value_and_grad: the function must return one NDArray, got "
                            f"{type(value).__name__}")
        entry = live(value._entry)
        heads = [] if entry is None else [(entry, value._index, fresh(np.ones_like(value._data)))]
        grads, _ = autograd.gradients(heads, [proxies[p] for p in positions], False, STATE.training)
        outs = [value] + grads
        graph_outputs = [tracer.value_of(o) for o in outs] if tracer is not None else None
    plain = [NDArray(o._data) for o in outs]  # the caller gets arrays without the trace's tape

    def rebuild(arrays):
        return arrays[0], (tuple(arrays[1:]) if many else arrays[1])
    return rebuild(plain), graph_outputs, rebuild, None


# ---- public API ---------------------------------------------------------------------------------

@overload
def compile(fn: Callable[..., Any], *, static_argnums: int | Sequence[int | str] = (), hot: int = 2,
            max_paths: int = 64, backend: str = "numba", max_signatures: int | None = None,
            check: bool | None = None) -> CompiledFunction: ...


@overload
def compile(fn: None = None, *, static_argnums: int | Sequence[int | str] = (), hot: int = 2,
            max_paths: int = 64, backend: str = "numba", max_signatures: int | None = None,
            check: bool | None = None) -> Callable[[Callable[..., Any]], CompiledFunction]: ...


def compile(fn: Callable[..., Any] | None = None, *, static_argnums: int | Sequence[int | str] = (),
            hot: int = 2, max_paths: int = 64, backend: str = "numba", max_signatures: int | None = None,
            check: bool | None = None) -> CompiledFunction | Callable[[Callable[..., Any]], CompiledFunction]:
    """Compile `fn` per signature: `@jitgrad.compile` or `@jitgrad.compile(static_argnums=...)`.

    Args:
        fn: a function of NDArrays and Python scalars returning an NDArray or a tuple of them.
        static_argnums: the positions (or keyword names) of arguments whose values are part of the
            signature; every argument that is not an NDArray or a Python scalar must be one.
        hot: how many times a path found after a guard failure runs before it is compiled (the
            first path is compiled at once).
        max_paths: the bound on cached paths per signature; further paths run eagerly.
        backend: `'numba'` (fused, generated loops) or `'interpret'` (the numpy reference
            interpreter, for debugging).
        max_signatures: the bound on cached signatures, least recently used evicted first
            (default `$JITGRAD_MAX_SIGNATURES` or 256).
        check: run the eager reference beside each new trace and raise
            `jitgrad.errors.CheckError` naming the first value that differs (default: `$JITGRAD_CHECK`).

    Returns:
        A `CompiledFunction` (with `cache_info()` and `clear_cache()`), or a decorator making one
            when `fn` is None.
    """
    if fn is None:
        return functools.partial(compile, static_argnums=static_argnums, hot=hot, max_paths=max_paths,
                                 backend=backend, max_signatures=max_signatures, check=check)
    return CompiledFunction(fn, static_argnums, hot, max_paths, backend, max_signatures=max_signatures,
                            check=check)


def value_and_grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   **options: Any) -> CompiledFunction:
    """A compiled function returning (fn(*args), gradients w.r.t. the arguments in `argnums`):
    one NDArray for an int argnums, a tuple for a tuple. `options` are those of `compile`.

    `fn` returns one NDArray; the gradients are those of the sum of its elements (a head gradient
    of ones), as `backward` gives them.
    """
    if isinstance(fn, CompiledFunction):
        fn = fn.fn
    return CompiledFunction(fn, argnums=argnums, **options)


def grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0, **options: Any) -> Callable[..., Any]:
    """Like value_and_grad, returning the gradients only."""
    vg = value_and_grad(fn, argnums, **options)

    @functools.wraps(fn)
    def gradient(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]
    gradient.compiled = vg  # type: ignore[attr-defined]  # _compiled() and explain() look for it
    return gradient


def _compiled(fn) -> CompiledFunction:
    """`fn` as a CompiledFunction: itself, the one behind jg.grad, or a new one for a plain function."""
    compiled = getattr(fn, "compiled", fn)
    return compiled if isinstance(compiled, CompiledFunction) else CompiledFunction(fn)


def trace_graph(fn, *args, **kwargs) -> Graph:
    """The whole traced program of one call of `fn` (a function, or a compiled one), uncached."""
    compiled = _compiled(fn)
    tracer, _, outputs, _, _ = compiled._collect(args, kwargs)
    tracer.graph.outputs = outputs
    return tracer.graph
