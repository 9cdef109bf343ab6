"""Per-thread autograd flags (MXNet's two thread-local booleans). Default: not recording, not training."""
from __future__ import annotations

import threading


class _State(threading.local):
    def __init__(self):
        self.recording = False
        self.training = False
        self.tracer = None      # a jitgrad.trace.Tracer while a compiled function is being traced


STATE = _State()


def set_flags(recording=None, training=None) -> tuple[bool, bool]:
    """Set the flags that are not None; return the previous (recording, training)."""
    previous = (STATE.recording, STATE.training)
    if recording is not None:
        STATE.recording = bool(recording)
    if training is not None:
        STATE.training = bool(training)
    return previous
