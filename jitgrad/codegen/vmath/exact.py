"""Exact functions: sqrt, abs, sign, rounding, max, min, mod."""
from __future__ import annotations

from .base import *  # noqa: F401,F403  (numpy, numba, the typed constants, the intrinsics)
from .base import _jit
from .explog import *  # noqa: F401,F403  (the constants of the float formats and exp)


# ---------------------------------------------------------------------------------------------------------------
# Exact functions: LLVM intrinsics or selects, vectorized as they are. Written once: they are generic in the
# float type (no typed constants needed, or the constants come from the argument).

@_jit
def sqrt_any(x):
    """sqrt (llvm.sqrt, correctly rounded; nan below 0)."""
    return np.sqrt(x)


@_jit
def abs_any(x):
    """|x| (llvm.fabs)."""
    return np.abs(x)


@_jit
def sign_f32(x):
    """numpy's sign: -1, 0 (+0 for both zeros), 1, nan for nan."""
    y = ONE_F32 if x > ZERO_F32 else x - x          # x - x: +0 for a finite x, nan for nan
    return -ONE_F32 if x < ZERO_F32 else y


@_jit
def sign_f64(x):
    """numpy's sign: -1, 0 (+0 for both zeros), 1, nan for nan."""
    y = ONE_F64 if x > ZERO_F64 else x - x
    return -ONE_F64 if x < ZERO_F64 else y


@_jit
def floor_any(x):
    return np.floor(x)


@_jit
def ceil_any(x):
    return np.ceil(x)


@_jit
def trunc_any(x):
    return np.trunc(x)


@_jit
def round_f32(x):
    """Round half away from zero (C's round): trunc, plus +-1 where the dropped fraction is >= 1/2."""
    t = np.trunc(x)
    frac = abs(x - t)                     # exact; nan for +-inf, so the comparison keeps t
    return t + np.copysign(ONE_F32, x) if frac >= HALF_F32 else t


@_jit
def round_f64(x):
    """Round half away from zero (C's round)."""
    t = np.trunc(x)
    frac = abs(x - t)
    return t + np.copysign(ONE_F64, x) if frac >= HALF_F64 else t


@_jit
def rint_any(x):
    """MXNet's rint: n.5 goes down to n; floor unless x - floor(x) > 0.5."""
    low = np.floor(x)
    return np.ceil(x) if x - low > 0.5 else low


@_jit
def max_any(x, y):
    """numpy's maximum: nan if either is nan; on ties (including -0 vs +0) the second operand."""
    return x if x > y or x != x else y


@_jit
def min_any(x, y):
    """numpy's minimum: nan if either is nan; on ties the second operand."""
    return x if x < y or x != x else y
