"""Shared pieces of the vectorizable math: typed constants, the jit decorator, bit-cast and FMA
intrinsics, polynomial evaluation."""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

F32, F64 = np.float32, np.float64
I32, I64 = np.int32, np.int64


def _jit(fn):
    # error_model="numpy": a float division must not get a ZeroDivisionError branch, which blocks vectorization;
    # forceinline: see the module docstring
    return numba.njit(cache=True, fastmath=False, error_model="numpy", forceinline=True)(fn)


# ---------------------------------------------------------------------------------------------------------------
# Intrinsics: reinterpret bits, fused multiply-add

def _bitcast_intrinsic(src, dst, llvm_type):
    @intrinsic
    def cast(typingctx, value):
        if value != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)
        return dst(src), codegen
    return cast


f32_as_i32 = _bitcast_intrinsic(types.float32, types.int32, ir.IntType(32))
i32_as_f32 = _bitcast_intrinsic(types.int32, types.float32, ir.FloatType())
f64_as_i64 = _bitcast_intrinsic(types.float64, types.int64, ir.IntType(64))
i64_as_f64 = _bitcast_intrinsic(types.int64, types.float64, ir.DoubleType())


@intrinsic
def mad(typingctx, a, b, c):
    """a * b + c as llvm.fmuladd: fused (one rounding) where the target has FMA, else multiply then add."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)
    return a(a, a, a), codegen


@_jit
def horner(x, coeffs):
    """sum(coeffs[i] * x**(n-1-i)): highest degree first. The tuple is a compile-time constant, so the loop
    unrolls completely."""
    acc = coeffs[0]
    for i in range(1, len(coeffs)):
        acc = mad(acc, x, coeffs[i])
    return acc


@_jit
def two_sum(a, b):
    """s, e with s = fl(a + b) and a + b = s + e exactly (Knuth; no ordering of |a|, |b| needed)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _f32s(*values):
    return tuple(F32(v) for v in values)


def _f64s(*values):
    return tuple(F64(v) for v in values)


def _taylor(first, last, step, alternating, cast):
    """Coefficients 1/k! for k = first, first + step, .. last, highest power first; `alternating` gives them
    the signs -, +, -, .. (the series of sin and cos after their first term)."""
    ks = list(range(first, last + 1, step))
    coeffs = [(-1.0) ** (i + 1) / math.factorial(k) if alternating else 1.0 / math.factorial(k)
              for i, k in enumerate(ks)]
    return tuple(cast(c) for c in reversed(coeffs))
