"""Compiled helpers that generated kernels call: scalar functions with the table's exact semantics, and
block reducers.

`function(name, dtype)` resolves a name used in a primitive's `expr` template ("tanh", "max", "round",
...) to a compiled scalar function: the vectorizable one from `vmath.FUNCTIONS` when that module exists
and has it, else one below (numpy / math semantics, scalar libm calls: correct, but they do not
vectorize). Block reducers fold a per-block buffer of terms: the sums are compiled with reassociation
(so LLVM vectorizes them; NaN and inf still propagate, since neither `nnan` nor `ninf` is set), which
keeps the elementwise loop itself free of loop-carried float dependencies.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from . import vmath
from .catalog import from_vmath

JIT = dict(cache=True, nogil=True, error_model="numpy")
REASSOC = {"reassoc", "contract", "arcp", "nsz"}


# ---- scalar functions (the table's numpy semantics) ----------------------------------------------

@numba.njit(**JIT)
def maximum(a, b):   # np.maximum: NaN wins
    return a if a >= b or a != a else b


@numba.njit(**JIT)
def minimum(a, b):
    return a if a <= b or a != a else b


@numba.njit(**JIT)
def sign(x):
    return (x > 0) - (x < 0) if x == x else x


@numba.njit(**JIT)
def round_half_away(x):   # C's round()
    t = np.trunc(x)
    return t + sign(x) if abs(x - t) == 0.5 else np.rint(x)


@numba.njit(**JIT)
def round_half_down(x):   # MXNet's rint: n.5 -> n
    low = np.floor(x)
    return np.ceil(x) if x - low > 0.5 else low


@numba.njit(**JIT)
def mod(a, b):            # Python's sign rule; x % 0 is 0
    return a - a if b == 0 else a % b


@numba.njit(**JIT)
def sigmoid(x):           # exp(-logaddexp(0, -x)), stable on both sides
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _wrap(fn):
    return numba.njit(**JIT)(fn)


SCALAR = {  # one lambda per line: Numba's disk cache tells functions apart by line
    "exp": _wrap(lambda x: np.exp(x)),
    "expm1": _wrap(lambda x: np.expm1(x)),
    "log": _wrap(lambda x: np.log(x)),
    "log2": _wrap(lambda x: np.log2(x)),
    "log10": _wrap(lambda x: np.log10(x)),
    "log1p": _wrap(lambda x: np.log1p(x)),
    "sqrt": _wrap(lambda x: np.sqrt(x)),
    "cbrt": _wrap(lambda x: np.cbrt(x)),
    "sin": _wrap(lambda x: np.sin(x)),
    "cos": _wrap(lambda x: np.cos(x)),
    "tan": _wrap(lambda x: np.tan(x)),
    "asin": _wrap(lambda x: np.arcsin(x)),
    "acos": _wrap(lambda x: np.arccos(x)),
    "atan": _wrap(lambda x: np.arctan(x)),
    "sinh": _wrap(lambda x: np.sinh(x)),
    "cosh": _wrap(lambda x: np.cosh(x)),
    "tanh": _wrap(lambda x: np.tanh(x)),
    "asinh": _wrap(lambda x: np.arcsinh(x)),
    "acosh": _wrap(lambda x: np.arccosh(x)),
    "atanh": _wrap(lambda x: np.arctanh(x)),
    "erf": _wrap(lambda x: math.erf(x)),
    "abs": _wrap(lambda x: abs(x)),
    "floor": _wrap(lambda x: np.floor(x)),
    "ceil": _wrap(lambda x: np.ceil(x)),
    "trunc": _wrap(lambda x: np.trunc(x)),
    "pow": _wrap(lambda a, b: np.power(a, b)),
    "sigmoid": sigmoid, "max": maximum, "min": minimum, "sign": sign, "round": round_half_away,
    "rint": round_half_down, "mod": mod,
}


def function(name: str, dtype: np.dtype):
    """The compiled scalar function for `name` at `dtype` (vmath's when it has one)."""
    dtype = np.dtype(dtype)
    if from_vmath(name, dtype):
        return vmath.FUNCTIONS[name][0 if dtype.itemsize == 4 else 1]
    return SCALAR[name]


# ---- block reducers: (combine expression, identity, block function) ------------------------------

def sum_block(buf, m):
    """The sum of buf[:m]: float64 for float buffers, int64 for integer ones (compiled per dtype
    below; kernels call it, Python does not)."""
    raise TypeError("sum_block runs inside compiled kernels only")


STAGE = 256   # float32 terms added in float32 before each float64 add


@overload(sum_block, jit_options=dict(fastmath=REASSOC, **JIT), prefer_literal=False)
def _sum_block(buf, m):
    if buf.dtype == types.float32:
        def staged(buf, m):   # 2.8x faster than widening every term; LLVM vectorizes the inner
            s = 0.0           # loop into 32 float32 partial sums of 8 terms: 12 roundings per term
            j = 0
            while j + STAGE <= m:
                t = np.float32(0.0)
                for i in range(j, j + STAGE):
                    t += buf[i]
                s += t
                j += STAGE
            for i in range(j, m):
                s += buf[i]
            return s
        return staged

    def widened(buf, m):      # int 0: float64 for float64 terms, int64 for integer ones
        s = 0
        for i in range(m):
            s += buf[i]
        return s
    return widened


@numba.njit(fastmath=REASSOC, **JIT)
def prod_block(buf, m):
    s = 1
    for i in range(m):
        s *= buf[i]
    return s


def _extreme(name: str):
    """`name` of two values of one type ("max" or "min") as one LLVM intrinsic: llvm.maximum/minimum for
    floats (NaN propagates, as in np.max), llvm.smax/umax/smin/umin for integers. The loop vectorizer turns
    a loop of these into vector operations; the compare-and-select of `maximum` it leaves scalar (a row
    max of 1024 floats: 7x slower, with or without fast-math flags)."""
    @intrinsic
    def extreme(typingctx, a, b):
        if a != b or not isinstance(a, (types.Float, types.Integer, types.Boolean)):
            return None

        def codegen(context, builder, signature, args):
            ty = args[0].type
            kind = ("llvm." + name + "imum" if isinstance(a, types.Float)
                    else f"llvm.{'s' if getattr(a, 'signed', False) else 'u'}{name}")
            fn = builder.module.declare_intrinsic(kind, [ty], ir.FunctionType(ty, [ty, ty]))
            return builder.call(fn, args)
        return a(a, b), codegen
    return extreme


larger, smaller = _extreme("max"), _extreme("min")


@numba.njit(**JIT)
def max_block(buf, m):
    s = buf[0]
    for i in range(m):
        s = larger(s, buf[i])
    return s


@numba.njit(**JIT)
def min_block(buf, m):
    s = buf[0]
    for i in range(m):
        s = smaller(s, buf[i])
    return s

