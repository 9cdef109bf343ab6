"""Graph entries. A recorded op is a `Node`; a leaf that receives gradients is a `Variable`.

The tape is nothing but these nodes linked through their parents: an NDArray points at the entry that
produced it, and backward walks from the heads. Nodes keep the numpy buffers their gradient rules read
(references, not copies: an in-place write outside `record()` is seen by a later backward).
"""
from __future__ import annotations

import itertools
from operator import attrgetter

# Every entry is numbered when it is made. A node's parents exist before it, so sorting entries by
# number puts each after all of its inputs: a topological order with no depth-first bookkeeping.
_numbers = itertools.count()
by_creation = attrgetter("number")


class Variable:
    """A leaf with a gradient buffer. `req` is 'write', 'add' or 'null'."""
    __slots__ = ("grad", "req", "fresh", "freed", "number")

    def __init__(self, grad, req: str):
        self.number = next(_numbers)
        self.grad = grad        # numpy buffer; NDArray.grad shares its storage
        self.req = req
        self.fresh = False      # set when a backward wrote this gradient
        self.freed = False      # a 'null' variable leaves the graph after a backward over it

    def __repr__(self) -> str:
        return f"<Variable req={self.req} shape={self.grad.shape}>"


class Node:
    """One recorded application of a primitive (or of a custom Function, through `fn`)."""
    __slots__ = ("prim", "attrs", "parents", "in_data", "out_data", "fn", "freed", "number", "__weakref__")

    def __init__(self, prim, attrs: dict, parents: tuple, in_data: tuple, out_data: tuple, fn=None):
        self.number = next(_numbers)
        self.prim = prim
        self.attrs = attrs
        self.parents = parents    # per input: (entry, output index), or None for a constant
        self.in_data = in_data    # per input: the numpy buffer
        self.out_data = out_data  # per output: the numpy buffer
        self.fn = fn              # an autograd.Function instance for custom nodes
        self.freed = False

    def free(self) -> None:
        """Drop everything backward would need; later use of this node reports a freed graph."""
        self.freed = True
        self.parents = self.in_data = self.out_data = ()
        self.fn = None

    @property
    def name(self) -> str:
        return type(self.fn).__name__ if self.fn is not None else self.prim.name

    def __repr__(self) -> str:
        return f"<Node {self.name}{' (freed)' if self.freed else ''}>"


def live(entry):
    """The entry if it is still part of a graph, else None."""
    return None if entry is None or entry.freed else entry
