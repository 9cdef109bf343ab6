"""Exception classes. Messages name the operation, the shapes and dtypes involved, and the user's line."""
from __future__ import annotations

import os
import sys
from types import FrameType

import numpy as np

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class JitgradError(Exception):
    """Base class of every error jitgrad raises on purpose."""


class ShapeError(JitgradError, ValueError):
    """Operands whose shapes do not fit the operation."""


class DTypeError(JitgradError, TypeError):
    """Operands whose dtypes do not fit the operation."""


class IndexingError(JitgradError, IndexError):
    """Indices out of range or of a kind the operation does not take."""


class DivisionByZeroError(JitgradError, ZeroDivisionError):
    """Integer division by zero (floats follow IEEE and give inf or nan)."""


class AutogradError(JitgradError, RuntimeError):
    """Misuse of the recorded graph: not recorded, freed, in-place writes, missing gradients."""


class CheckError(JitgradError, AssertionError):
    """A compiled program disagrees with the eager reference (raised in checking mode)."""


def user_line() -> str:
    """'file:line' of the innermost frame outside the jitgrad package, or '' when there is none."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


def describe(value) -> str:
    """'float32 (2, 3)' for an array-like, the repr for anything else."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is None or dtype is None:
        return repr(value)
    try:
        dtype = np.dtype(dtype).name
    except TypeError:
        pass
    return f"{dtype} {tuple(shape)}"


def op_error(cls: type, op: str, message: str, *operands) -> JitgradError:
    """An exception of class `cls` saying which op failed, on which operands, called from where."""
    text = f"{op}: {message}"
    if operands:
        text += " (operands: " + ", ".join(describe(v) for v in operands) + ")"
    where = user_line()
    if where:
        text += f" [at {where}]"
    return cls(text)
