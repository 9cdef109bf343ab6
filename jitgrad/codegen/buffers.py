"""Large arrays a program allocates, recycled once nobody else holds them.

Fresh memory page-faults on first touch (about 4 ms per 100 MB on these machines), so a program that
returns a new 40 MB gradient on every call spends more time faulting than computing. A `Recycler`
keeps the last few arrays it handed out for one value of one program. On the next call it hands one
back only if its reference count shows that the recycler alone holds it: the caller dropped the
result, and no view, memoryview or wrapper of it is alive (each of those holds a reference). The
check and the hand-out happen under one lock, so two threads never get the same array.

Only arrays of at least `RECYCLE_MIN_BYTES` are recycled (small ones come cheaply from malloc's heap),
and all recyclers together keep at most `BUDGET_BYTES` (`JITGRAD_RECYCLE_BYTES`, 1 GiB), the least
recently used letting go first. `JITGRAD_RECYCLE=0` turns recycling off. On a free-threaded Python,
where reference counts are not exact, it is off.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

from .. import autograd

RECYCLE_MIN_BYTES = 1 << 20
KEEP = 2          # a loop `g = f(x)` holds the previous result while the next call runs


def _free_count() -> int:
    """The reference count `Recycler.take` sees for an array that only its list holds."""
    held = [np.empty(1)]
    for a in held:
        return sys.getrefcount(a)
    raise AssertionError


_FREE = _free_count()
ENABLED = os.environ.get("JITGRAD_RECYCLE", "1") != "0" and autograd.EXACT_REFCOUNTS


_KEEPER: dict[int, weakref.ref] = {}   # id(array) -> the Recycler keeping it (see kept_by_recycler)
# All recyclers together keep at most BUDGET_BYTES (JITGRAD_RECYCLE_BYTES, default 1 GiB): a process
# that meets many large shapes would otherwise keep two arrays per output of every cached program.
# Past the budget, the least recently used recyclers let go of their arrays.
BUDGET_BYTES = int(os.environ.get("JITGRAD_RECYCLE_BYTES", 1 << 30))
_RECENT: OrderedDict[int, weakref.ref] = OrderedDict()   # recyclers keeping arrays, oldest use first
_KEPT = [0]                     # bytes the recyclers keep
_BUDGET = threading.RLock()     # reentrant: a recycler's finalizer may run while it is held


class Recycler:
    __slots__ = ("shape", "dtype", "nbytes", "held", "lock", "__weakref__")

    def __init__(self, shape: tuple, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.nbytes = self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64))
        self.held: list[np.ndarray] = []
        self.lock = threading.Lock()
        weakref.finalize(self, _forget, self.held, self.nbytes, id(self))

    def take(self) -> np.ndarray:
        added = 0
        with self.lock:
            for a in self.held:
                if sys.getrefcount(a) == _FREE:
                    break
            else:
                a = np.empty(self.shape, self.dtype)
                if len(self.held) < KEEP:
                    self.held.append(a)
                    _KEEPER[id(a)] = weakref.ref(self)
                    added = self.nbytes
        _used(self, added)
        return a

    def release(self) -> None:
        """Stop keeping any array (those in use stay alive through their users' references)."""
        with self.lock:
            held = list(self.held)
            self.held.clear()     # the finalizer keeps this list: it must stay the same object
        _forget(held, self.nbytes, id(self))


def _used(recycler: Recycler, added: int) -> None:
    """Mark `recycler` recently used, count `added` kept bytes, and trim to the budget."""
    victims = []
    with _BUDGET:
        key = id(recycler)
        if key in _RECENT:
            _RECENT.move_to_end(key)
        else:
            _RECENT[key] = weakref.ref(recycler)
        _KEPT[0] += added
        over = _KEPT[0] - BUDGET_BYTES
        for ref in list(_RECENT.values()):
            other = ref()
            if over <= 0:
                break
            if other is not None and other is not recycler:
                victims.append(other)
                over -= other.nbytes * len(other.held)
    for other in victims:
        other.release()


def _forget(held: list, nbytes: int, key: int) -> None:
    with _BUDGET:
        for a in held:
            _KEEPER.pop(id(a), None)
        _KEPT[0] -= nbytes * len(held)
        _RECENT.pop(key, None)


def kept_bytes() -> int:
    """Bytes all recyclers keep now."""
    return _KEPT[0]


def kept_by_recycler(a: np.ndarray) -> bool:
    """Whether a live recycler holds `a` (one reference to it that is not a user's)."""
    ref = _KEEPER.get(id(a))
    keeper = ref() if ref is not None else None
    return keeper is not None and any(x is a for x in keeper.held)


autograd.register_buffer_keeper(kept_by_recycler)   # a .grad buffer a recycler made is still sole


def recyclable(shape: tuple, dtype) -> bool:
    nbytes = np.dtype(dtype).itemsize
    for n in shape:
        nbytes *= n
    return ENABLED and nbytes >= RECYCLE_MIN_BYTES
