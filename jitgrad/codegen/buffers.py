"""Large arrays a program allocates, recycled once nobody else holds them.

Fresh memory page-faults on first touch (about 4 ms per 100 MB on these machines), so a program that
returns a new 40 MB gradient on every call spends more time faulting than computing. A `Recycler`
keeps the last few arrays it handed out for one value of one program. On the next call it hands one
back only if its reference count shows that the recycler alone holds it: the caller dropped the
result, and no view, memoryview or wrapper of it is alive (each of those holds a reference). The
check and the hand-out happen under one lock, so two threads never get the same array.

Only arrays of at least `RECYCLE_MIN_BYTES` are recycled (small ones come cheaply from malloc's heap);
`JITGRAD_RECYCLE=0` turns recycling off. On a free-threaded Python, where reference counts are not
exact, it is off.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref

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
ENABLED = os.environ.get("JITGRAD_RECYCLE", "1") != "0" and getattr(sys, "_is_gil_enabled", lambda: True)()


_KEEPER: dict[int, weakref.ref] = {}   # id(array) -> the Recycler keeping it (see kept_by_recycler)


class Recycler:
    __slots__ = ("shape", "dtype", "held", "lock", "__weakref__")

    def __init__(self, shape: tuple, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.held: list[np.ndarray] = []
        self.lock = threading.Lock()
        weakref.finalize(self, _forget, self.held)

    def take(self) -> np.ndarray:
        with self.lock:
            for a in self.held:
                if sys.getrefcount(a) == _FREE:
                    return a
            a = np.empty(self.shape, self.dtype)
            if len(self.held) < KEEP:
                self.held.append(a)
                _KEEPER[id(a)] = weakref.ref(self)
            return a


def _forget(held: list) -> None:
    for a in held:
        _KEEPER.pop(id(a), None)


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
