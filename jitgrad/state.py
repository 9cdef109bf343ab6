"""Per-thread autograd flags (MXNet's two thread-local booleans). Default: not recording, not training."""
from __future__ import annotations

import threading


class _State(threading.local):
    def __init__(self):
        self.recording = False
        self.training = False
        self.tracer = None      # a jitgrad.trace.Tracer while a compiled function is being traced


STATE = _State()


class _Traces:
    """How many tracers are installed, over all threads. While none is, no thread's STATE.tracer needs
    reading: every op would read it, and a thread-local read costs about five times a plain one."""
    __slots__ = ("active", "_lock")

    def __init__(self):
        self.active = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.active += n


TRACES = _Traces()


def current_tracer():
    """This thread's tracer, or None."""
    return STATE.tracer if TRACES.active else None


def set_flags(recording=None, training=None) -> tuple[bool, bool]:
    """Set the flags that are not None; return the previous (recording, training)."""
    flags = STATE.__dict__   # this thread's: one thread-local lookup for both flags
    previous = (flags["recording"], flags["training"])
    if recording is not None:
        flags["recording"] = bool(recording)
    if training is not None:
        flags["training"] = bool(training)
    return previous
