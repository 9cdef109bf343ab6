"""What rendering a kernel needs to know about the compiled helpers, without compiling them.

Rendering runs on every new program, compiling only when a kernel is not cached, so this module
imports neither Numba nor the helpers: the block reducers, the accumulator dtypes, which scalar
functions vmath implements (helpers.function picks them from here), and the tag that ties a kernel's
source to the versions of Numba, vmath and helpers.py (any edit to them changes every kernel's source,
hence its cache entries).
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from .native import numba_version

HERE = os.path.dirname(os.path.abspath(__file__))

# vmath's functions by kind: vmath.FUNCTIONS holds <name>_f32 and <name>_f64 (<name>_any for GENERIC)
VMATH_UNARY = ["exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh",
               "tanh", "asinh", "acosh", "atanh", "sigmoid", "sign", "round"]
VMATH_LIBM = ["asin", "acos", "atan", "erf", "cbrt"]
VMATH_BINARY = ["pow", "mod"]
VMATH_GENERIC = ["sqrt", "abs", "floor", "ceil", "rint", "trunc", "max", "min"]
VMATH_NAMES = frozenset(VMATH_UNARY + VMATH_LIBM + VMATH_BINARY + VMATH_GENERIC)


def from_vmath(name: str, dtype) -> bool:
    """Whether the scalar function `name` at `dtype` is vmath's (else one of helpers.SCALAR)."""
    return name in VMATH_NAMES and np.dtype(dtype).kind == "f"


def function_source(name: str, dtype) -> str:
    """Where helpers.function(name, dtype) comes from, for the kernel header."""
    return "vmath" if from_vmath(name, dtype) else "helpers"


REDUCERS = {  # name: (block function, combine template, identity for floats, identity for integers)
    "sum": ("sum_block", "{0} + {1}", "0.0", "0"),
    "prod": ("prod_block", "{0} * {1}", "1.0", "1"),
    "max": ("max_block", "maximum({0}, {1})", "-np.inf", str(-2 ** 63)),
    "min": ("min_block", "minimum({0}, {1})", "np.inf", str(2 ** 63 - 1)),
}


def accumulator_dtype(dtype: np.dtype) -> np.dtype:
    """Reductions accumulate floats in float64 and integers in int64 (numpy's sum does the same)."""
    return np.dtype(np.float64 if np.dtype(dtype).kind == "f" else np.int64)


def _digest(paths: list[str]) -> str:
    digest = hashlib.sha1()
    for path in paths:
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:10]


_VMATH = os.path.join(HERE, "vmath")
VMATH_VERSION = _digest([os.path.join(_VMATH, n) for n in sorted(os.listdir(_VMATH)) if n.endswith(".py")])
CACHE_TAG = (f"numba {numba_version()}, vmath {VMATH_VERSION}, helpers "
             + _digest([os.path.join(HERE, "helpers.py")]))
