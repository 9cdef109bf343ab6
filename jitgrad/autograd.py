"""Define-by-run autograd with MXNet's semantics: scopes, backward, grad, mark_variables, Function.

Backward walks the graph from the heads once, in reverse topological order, and calls each primitive's
gradient rules from the table. With `create_graph=True` it runs them while recording, so the
gradients are graph values themselves and can be differentiated again.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import AutogradError, DTypeError, ShapeError, op_error
from .ir import Node, Variable, by_creation, live
from .ndarray import NDArray, call, check_grad_req, fresh
from .ops.movement import unbroadcast
from .state import STATE, current_tracer, set_flags

NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. If you "
    "want to differentiate the same graph twice, you need to pass retain_graph=True to backward.")
NOTHING_TO_DIFFERENTIATE = "There are no inputs in computation graph that require gradients."


# ---- flags and scopes -----------------------------------------------------------------------------

def set_recording(is_recording: bool) -> bool:
    """Turn recording on or off; returns the previous value."""
    return set_flags(recording=is_recording)[0]


def set_training(train_mode: bool) -> bool:
    """Turn training mode on or off; returns the previous value."""
    return set_flags(training=train_mode)[1]


def is_recording() -> bool:
    """Whether operations are being recorded for backward."""
    return STATE.recording


def is_training() -> bool:
    """Whether training mode is on (it changes what Dropout and similar layers do)."""
    return STATE.training


class _RecordingStateScope:
    """Sets the flags that are not None on entry; on exit restores each flag it set. (Through the
    thread's own dict of STATE: one thread-local lookup for both flags, in every record() block of
    a training step.)"""
    __slots__ = ("_record", "_train", "_prev_record", "_prev_train")

    def __init__(self, is_record: bool | None, train_mode: bool | None):
        self._record = None if is_record is None else bool(is_record)
        self._train = None if train_mode is None else bool(train_mode)
        self._prev_record = self._prev_train = False

    def __enter__(self):
        flags = STATE.__dict__
        self._prev_record, self._prev_train = flags["recording"], flags["training"]
        if self._record is not None:
            flags["recording"] = self._record
        if self._train is not None:
            flags["training"] = self._train
        return self

    def __exit__(self, *exc) -> None:
        flags = STATE.__dict__
        if self._record is not None:
            flags["recording"] = self._prev_record
        if self._train is not None:
            flags["training"] = self._prev_train


def record(train_mode: bool = True) -> _RecordingStateScope:
    """Record operations for backward; training mode unless train_mode=False."""
    return _RecordingStateScope(True, train_mode)


def pause(train_mode: bool = False) -> _RecordingStateScope:
    """Stop recording inside a record() block; predict mode unless train_mode=True."""
    return _RecordingStateScope(False, train_mode)


def train_mode() -> _RecordingStateScope:
    """Training mode on inside the block; recording unchanged."""
    return _RecordingStateScope(None, True)


def predict_mode() -> _RecordingStateScope:
    """Training mode off inside the block; recording unchanged."""
    return _RecordingStateScope(None, False)


# ---- variables ------------------------------------------------------------------------------------

def mark_variables(variables: NDArray | Sequence[NDArray], gradients: NDArray | Sequence[NDArray],
                   grad_reqs: str | Sequence[str] = "write") -> None:
    """Make each variable a leaf whose gradient buffer is the given gradient array (shared).

    Args:
        variables: an array or a list of arrays.
        gradients: one buffer per variable, of its shape and dtype; backward writes into them.
        grad_reqs: `'write'`, `'add'` or `'null'`, for all variables or one per variable.
    """
    if isinstance(variables, NDArray):
        if not isinstance(gradients, NDArray):
            raise TypeError("mark_variables: gradients must be an NDArray when variables is one")
        variables, gradients = [variables], [gradients]
    reqs = [grad_reqs] * len(variables) if isinstance(grad_reqs, str) else list(grad_reqs)
    if not len(variables) == len(gradients) == len(reqs):
        raise ValueError(f"mark_variables: {len(variables)} variables, {len(gradients)} gradients, "
                         f"{len(reqs)} grad_reqs")
    for var, grad, req in zip(variables, gradients, reqs):
        check_grad_req(req, var)
        if grad.shape != var.shape or grad.dtype != var.dtype:
            raise op_error(ShapeError, "mark_variables", "gradient buffer must match the variable",
                           var, grad)
        var._entry, var._index = Variable(grad._data, req), 0


# ---- backward -------------------------------------------------------------------------------------

def backward(heads: NDArray | Sequence[NDArray],
             head_grads: NDArray | Sequence[NDArray | None] | None = None, retain_graph: bool = False,
             train_mode: bool = True) -> None:
    """Accumulate d(heads)/d(variable) into the gradient buffer of every variable in the graph.

    Args:
        heads: an array or a list of arrays; the gradients of all heads add up.
        head_grads: the gradient of each head (ones when None, or for a None entry); each has its
            head's shape and dtype.
        retain_graph: keep the graph, so that backward can run through it again.
        train_mode: the training flag while the gradients are computed.
    """
    if head_grads is None and not retain_graph and isinstance(heads, NDArray) and stored_unit_grads(heads):
        return
    roots = _roots(heads, head_grads)
    order = _toposort([entry for entry, _, _ in roots])
    wanted, null, functions = [], False, False
    for e in order:
        if type(e) is Variable:
            if e.req != "null":
                wanted.append(e)
            else:
                null = True
        elif e.fn is not None:
            functions = True
    if not wanted:
        raise AutogradError(NOTHING_TO_DIFFERENTIATE)
    # Without 'null' variables and custom functions (whose nodes may have no input in a graph),
    # every node leads to a wanted variable: apply() links a node only to inputs in a graph.
    needs = _needs(order, wanted) if null or functions else None
    # only a custom function's backward offers buffers (a compiled call's): else none to collect
    with _offering(None if retain_graph else set()) if functions else _NO_OFFERS as offered:
        cts = _run(roots, order, set(wanted), needs, create_graph=False, train_mode=train_mode)
    for var in wanted:
        ct = cts.get((var, 0))
        _store(var, None if ct is None else _data(ct), offered)
    if not retain_graph:
        _free(order)


def stored_unit_grads(head: NDArray) -> bool:
    """The backward of a loss that one compiled call computed from variables, at head gradient 1:
    the call's forward program computed these gradients already (tape.CompiledBackward), so they
    are stored and the graph freed, with no walk (which gives the same, in about three times the
    time of a small cached call). False, doing nothing, for any other head."""
    node = head._entry
    if type(node) is not Node or node.freed:
        return False
    unit = getattr(node.fn, "unit_gradients", None)
    grads = None if unit is None else unit(head._index)
    if grads is None:
        return False
    variables: list = []
    for v, _ in node.parents:   # distinct variables that want a gradient (`in`: by identity)
        if type(v) is not Variable or v.req == "null" or v in variables:
            return False
        variables.append(v)
    offered = {id(g) for g in node.fn.adoptable(grads)} if EXACT_REFCOUNTS and node.fn.adopt else None
    for var, g in zip(variables, grads):
        _store(var, g, offered)
    node.free()
    return True


def grad(heads: NDArray | Sequence[NDArray], variables: NDArray | Sequence[NDArray],
         head_grads: NDArray | Sequence[NDArray | None] | None = None, retain_graph: bool | None = None,
         create_graph: bool = False, train_mode: bool = True) -> list[NDArray]:
    """Gradients of heads with respect to variables, as new arrays (variable.grad is untouched).

    Args:
        heads: an array or a list of arrays, as for `backward`.
        variables: an array or a list of arrays with gradient buffers (`attach_grad`).
        head_grads: as for `backward`.
        retain_graph: keep the graph afterwards; defaults to `create_graph`.
        create_graph: record the gradient computation, so the results can be differentiated again.
        train_mode: the training flag while the gradients are computed.

    Returns:
        One gradient per variable, as a list (also for a single variable, as MXNet does).
    """
    variables = [variables] if isinstance(variables, NDArray) else list(variables)
    if not variables:
        raise ValueError("variables cannot be an empty list.")
    for i, v in enumerate(variables, 1):
        if not isinstance(v, NDArray) or not isinstance(live(v._entry), Variable):
            raise AutogradError(f"Cannot differentiate with respect to the {i}-th variable because it "
                                "does not require gradient (call attach_grad() on it first).")
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads, order = gradients(_roots(heads, head_grads), variables, create_graph, train_mode)
    if not retain_graph:
        _free(order)
    return grads


def gradients(roots, inputs, create_graph: bool, train_mode: bool) -> tuple[list, list]:
    """(d(roots)/d(x) for each array x in `inputs`, zeros where no path leads to it; the traversed
    entries). The walk stops at the inputs, which may be variables or recorded results."""
    wanted = {x._entry for x in inputs}
    order = _toposort([entry for entry, _, _ in roots], stop=wanted)
    with _offering(None):     # the gradients go to the caller: nothing may be adopted
        found = _run(roots, order, wanted, _needs(order, wanted), create_graph=create_graph,
                     train_mode=train_mode)
    grads = []
    for x in inputs:
        ct = found.get((x._entry, x._index))
        grads.append(fresh(np.zeros_like(x._data)) if ct is None else
                     ct if isinstance(ct, NDArray) else NDArray(ct))
    return grads, order


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _roots(heads, head_grads) -> list:
    """(entry, output index, head gradient) per head, with the head gradients checked."""
    if isinstance(heads, NDArray) and (head_grads is None or isinstance(head_grads, NDArray)):
        pairs: Any = ((heads, head_grads),)   # (the usual call, without the lists)
    else:
        heads = _as_list(heads)
        head_grads = [None] * len(heads) if head_grads is None else _as_list(head_grads)
        if len(heads) != len(head_grads):
            raise ValueError(f"heads and head_grads must be lists of the same length: {len(heads)} "
                             f"vs. {len(head_grads)}")
        pairs = zip(heads, head_grads)
    roots = []
    for head, hg in pairs:
        if not isinstance(head, NDArray):
            raise TypeError(f"backward: heads must be NDArrays, got {type(head).__name__}")
        entry = live(head._entry)
        if entry is None:
            raise AutogradError(NOT_IN_GRAPH)
        roots.append((entry, head._index, _head_grad(head, hg)))
    return roots


_ONES: dict = {}   # (shape, dtype) -> ones, copied for each single-element head's gradient


def _head_grad(head: NDArray, hg) -> NDArray:
    if hg is None:   # (a copy costs 0.1 us, np.ones 0.8 and np.ones_like 2.5)
        data = head._data
        key = (data.shape, data.dtype)
        ones = _ONES.get(key)
        if ones is None:
            ones = np.ones(data.shape, data.dtype)
            if data.size == 1 and len(_ONES) < 64:
                _ONES[key] = ones
        return fresh(ones.copy())
    if not isinstance(hg, NDArray):
        raise TypeError(f"backward: head gradient must be an NDArray, got {type(hg).__name__}")
    if hg.shape != head.shape and not hg.size == head.size == 1:  # (1,) and () both mean "a scalar"
        raise op_error(ShapeError, "backward", f"head gradient has shape {hg.shape} but the head has "
                       f"shape {head.shape}", head, hg)
    if hg.dtype != head.dtype:
        raise op_error(DTypeError, "backward", "head gradient dtype differs from the head's", head, hg)
    return hg if hg.shape == head.shape else call("reshape", hg, shape=head.shape)


def _toposort(entries, stop=frozenset()) -> list:
    """Every entry reachable from `entries` without passing through `stop`, each after all of its
    inputs (in the order they were made: ir.by_creation)."""
    seen = set(entries)
    stack = list(seen)
    while stack:
        entry = stack.pop()
        if type(entry) is Node and entry not in stop:
            if entry.freed:  # reached through a node recorded before an earlier backward freed it
                raise AutogradError(NOT_IN_GRAPH)
            for p in entry.parents:
                if p is not None and (parent := p[0]) not in seen:
                    seen.add(parent)
                    stack.append(parent)
    return sorted(seen, key=by_creation)


# False: every backward runs the rules on NDArrays, through the dispatcher (so a dispatcher that
# counts or logs ops sees the backward's too: the benchmarks count a step's ops this way)
PLAIN_RULES = True


def _run(roots, order, wanted, needs: set | None, create_graph: bool, train_mode: bool) -> dict:
    """Cotangents of the wanted entries: {(entry, output index): cotangent}, sent only to the
    entries in `needs` (those that lead to a wanted one; None: all do). Wanted entries are not
    propagated further (for variables that changes nothing; for a compiled function's inputs it
    keeps the backward inside the function).

    A backward that is neither recorded (create_graph) nor traced is plain: its cotangents are
    numpy arrays, and the rules compute on numpy arrays (see jitgrad.ops), with no NDArray made
    for each value and no dispatch for each operator."""
    plain = PLAIN_RULES and not create_graph and current_tracer() is None
    cts: dict = {}
    for entry, index, hg in roots:   # (heads may share an entry: their gradients add up)
        key, hg = (entry, index), hg._data if plain else hg
        cts[key] = hg if key not in cts else cts[key] + hg
    previous = set_flags(create_graph, train_mode)
    try:
        for node in reversed(order):
            if type(node) is not Node or needs is not None and node not in needs or node in wanted:
                continue
            if node.fn is not None:
                _propagate_function(node, cts, needs, create_graph, plain)
                continue
            g = cts.pop((node, 0), None)
            if g is not None:
                _propagate(node, g, cts, needs, create_graph, plain)
    finally:
        set_flags(*previous)
    return cts


def _needs(order, wanted) -> set:
    """The entries in `order` from which a path leads to a wanted entry."""
    needs = set()
    for entry in order:   # every input comes before its node in `order`
        if entry in wanted:
            needs.add(entry)
        elif type(entry) is Node:
            for p in entry.parents:
                if p is not None and p[0] in needs:
                    needs.add(entry)
                    break
    return needs


def _propagate(node: Node, g, cts: dict, needs: set | None, create_graph: bool, plain: bool) -> None:
    """Send the cotangent g of a primitive's output to those of its inputs that lead to a wanted
    entry, through the primitive's gradient rules."""
    parents, in_data, attrs, prim = node.parents, node.in_data, node.attrs, node.prim
    wrapped = not plain or g.dtype.kind != "f"   # (integers: numpy's `/` is not jitgrad's divide)
    if not wrapped:
        out, inputs = node.out_data[0], in_data
    elif create_graph:   # the rules' results are recorded: inputs and output keep their entries
        inputs = [NDArray(d) if p is None else NDArray(d, p[0], p[1]) for d, p in zip(in_data, parents)]
        out = NDArray(node.out_data[0], node, 0)
    else:
        out, inputs, g = NDArray(node.out_data[0]), tuple(map(NDArray, in_data)), _array(g)
    rules = prim.grads if type(prim.grads) is tuple else None   # (else: variadic, or none)
    for i, p in enumerate(parents):
        if p is None or needs is not None and p[0] not in needs:
            continue
        rule = rules[i] if rules is not None else prim.grad_rule(i)
        if rule is not None:
            ct = rule(g, out, *inputs, **attrs) if attrs else rule(g, out, *inputs)
            if ct is not None:
                if plain and type(ct) is not np.ndarray:
                    ct = _data(ct)
                _send(cts, p, ct, in_data[i], node)


def _propagate_function(node: Node, cts: dict, needs: set | None, create_graph: bool,
                        plain: bool) -> None:
    """The same for a custom function's node, through its backward (which takes NDArrays)."""
    out_grads = [cts.pop((node, i), None) for i in range(len(node.out_data))]
    if all(g is None for g in out_grads):
        return
    if plain:
        out_grads = [None if g is None else NDArray(g) for g in out_grads]
    if create_graph and hasattr(node.fn, "backward_recorded"):
        in_grads = node.fn.backward_recorded(_filled(node, out_grads))
    else:
        in_grads = _function_backward(node, out_grads)
    for x, p, ct in zip(node.in_data, node.parents, in_grads):
        if ct is not None and p is not None and (needs is None or p[0] in needs):
            _send(cts, p, ct._data if plain else ct, x, node)


def _send(cts: dict, key: tuple, ct, x: np.ndarray, node: Node) -> None:
    """Add the cotangent ct (an NDArray, or numpy data in a plain backward) of node's input data x
    to cts[key], at x's shape: broadcast elementwise operands are summed back here."""
    data = ct if type(ct) is np.ndarray else ct._data
    if data.shape != x.shape:
        if node.fn is not None or node.prim.kind != "elementwise":
            raise op_error(ShapeError, f"{node.name} (gradient)", f"gradient of shape {data.shape} for "
                           f"an input of shape {x.shape}", data, x)
        ct = unbroadcast(ct, x.shape)
        data = ct if type(ct) is np.ndarray else ct._data
    if data.dtype is not x.dtype and data.dtype != x.dtype:   # (builtin dtypes: one object each)
        raise op_error(DTypeError, f"{node.name} (gradient)", "gradient dtype differs from the input's",
                       data, x)
    old = cts.get(key)
    cts[key] = ct if old is None else old + ct


def _data(ct) -> np.ndarray:
    """The numpy array of a cotangent: an NDArray's data; numpy data as an array (a rule on 0-d
    arrays may give a numpy scalar)."""
    if type(ct) is np.ndarray:
        return ct
    return ct._data if isinstance(ct, NDArray) else np.asarray(ct)


def _array(ct) -> NDArray:
    return ct if isinstance(ct, NDArray) else NDArray(_data(ct))


def _store(var: Variable, ct, offered=None) -> None:
    """Write or add a variable's cotangent (an array) into its buffer; a 'write' variable with no path
    (ct None) gets 0."""
    if var.req == "write":
        if ct is None:
            var.grad[...] = 0
        elif not (offered and _adopt(var, ct, offered)):
            var.grad[...] = ct
    elif ct is not None:
        var.grad += ct
    var.fresh = True


# Buffers a node's backward hands over: used by nothing else once the graph is freed (a compiled
# call's gradients, computed by its forward program for this call alone). Instead of copying one into
# a 'write' variable's buffer (at 1e6 float32 elements, a copy from memory costs as much as the whole
# fused loss and gradient), the variable may take it as its buffer, if nothing else holds the old
# one: an NDArray from `.grad`, a view or a memoryview of it would not see the swap, and each of those
# holds a reference, so the reference count tells (besides the Variable, only a registered keeper,
# such as the recycler that made it, may hold it; see codegen/buffers.py).
_OFFERED = threading.local()


_KEEPERS: list = []   # functions counting the references to a buffer that their module keeps


def register_buffer_keeper(count) -> None:
    """`count(array) -> int`: references to `array` held by a cache of reusable buffers (such as the
    compiled programs' recyclers) that do not make the buffer in use."""
    _KEEPERS.append(count)


def offer_buffers(arrays) -> None:
    """Let the running backward make these arrays gradient buffers (see above); for a node's backward
    that will never read them again once the graph is freed."""
    ids = getattr(_OFFERED, "ids", None)
    if ids is not None and EXACT_REFCOUNTS:   # None: no backward runs, or it retains the graph
        ids.update(id(a) for a in arrays)


class _offering:
    """Collect the buffers offered while a backward runs into `ids` (None: accept none). (A class:
    a generator-based context manager costs a microsecond more per backward.)"""
    __slots__ = ("ids", "previous")

    def __init__(self, ids: set | None):
        self.ids, self.previous = ids, None

    def __enter__(self) -> set | None:
        self.previous = getattr(_OFFERED, "ids", None)
        _OFFERED.ids = self.ids
        return self.ids

    def __exit__(self, *exc) -> None:
        _OFFERED.ids = self.previous


_NO_OFFERS = contextlib.nullcontext(None)   # (entering _offering costs about half a rule op)


def _adopt(var: Variable, a: np.ndarray, offered: set) -> bool:
    old = var.grad
    if id(a) not in offered or a.shape != old.shape or a.dtype != old.dtype or a.strides != old.strides \
            or not a.flags.writeable or sys.getrefcount(old) != _SOLE + sum(k(old) for k in _KEEPERS):
        return False
    offered.discard(id(a))    # one variable per buffer
    var.grad = a
    return True


def _sole_count() -> int:
    """The reference count `_adopt` sees for a gradient buffer that only its Variable holds."""
    var = Variable(np.empty(1), "write")
    old = var.grad
    return sys.getrefcount(old)


_SOLE = _sole_count()
EXACT_REFCOUNTS = getattr(sys, "_is_gil_enabled", lambda: True)()   # not so on free-threaded Python


def _free(order) -> None:
    for entry in order:
        if isinstance(entry, Node):
            entry.free()
        elif entry.req == "null":
            entry.freed = True


# ---- custom functions -----------------------------------------------------------------------------

class Function:
    """A custom differentiable function: subclass and define forward(*inputs) and backward(*grads).

    forward runs with recording off; inside record() the call is recorded as one node whose gradient
    is whatever backward returns, one NDArray per input."""

    def __init__(self) -> None:
        self._used = False
        self.saved_tensors = ()

    def save_for_backward(self, *args: Any) -> None:
        """Keep values for backward, in `self.saved_tensors`."""
        self.saved_tensors = args

    def forward(self, *inputs: NDArray) -> Any:
        """Compute the outputs (an NDArray or a tuple of them) from the inputs; define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def backward(self, *output_grads: NDArray) -> Any:
        """Return the gradient of each input (one NDArray, or a tuple) from the gradient of each
        output; define it."""
        raise NotImplementedError(f"{type(self).__name__} must define backward()")

    def __call__(self, *inputs: NDArray) -> Any:
        if self._used:
            raise AutogradError("Each Function instance can only be called once. Please create "
                                "another instance.")
        self._used = True
        for x in inputs:
            if not isinstance(x, NDArray):
                raise TypeError(f"{type(self).__name__}: inputs must be NDArrays, got "
                                f"{type(x).__name__}")
        with pause(train_mode=STATE.training):
            outputs = self.forward(*inputs)
        if not STATE.recording:
            return outputs
        single = isinstance(outputs, NDArray)
        outs = [outputs] if single else list(outputs)
        if not all(isinstance(o, NDArray) for o in outs):
            raise TypeError(f"{type(self).__name__}.forward must return NDArrays")
        outs = [NDArray(o._data) if any(o is x for x in inputs) else o for o in outs]
        parents = tuple(None if live(x._entry) is None else (x._entry, x._index) for x in inputs)
        node = Node(None, {}, parents, tuple(x._data for x in inputs), tuple(o._data for o in outs),
                    fn=self)
        for i, o in enumerate(outs):
            o._entry, o._index = node, i
        return outs[0] if single else type(outputs)(outs) if isinstance(outputs, tuple) else outs


def _filled(node: Node, out_grads: list) -> list:
    """One gradient per output of a custom node, zeros where none arrived."""
    return [g if g is not None else fresh(np.zeros_like(d)) for g, d in zip(out_grads, node.out_data)]


def _function_backward(node: Node, out_grads: list) -> list:
    fn = node.fn
    grads = _filled(node, out_grads)
    if STATE.recording:
        with pause(train_mode=STATE.training):
            result = fn.backward(*grads)
    else:   # the engine's usual state already: nothing to pause
        result = fn.backward(*grads)
    results = [result] if isinstance(result, NDArray) else list(result)
    if len(results) != len(node.in_data):
        raise AutogradError(f"{type(fn).__name__}.backward returned {len(results)} gradients for "
                            f"{len(node.in_data)} inputs")
    for r in results:
        if not isinstance(r, NDArray):
            raise TypeError(f"{type(fn).__name__}.backward must return NDArrays, got {type(r).__name__}")
    return results
