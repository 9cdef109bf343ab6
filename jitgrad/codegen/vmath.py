"""Vectorizable elementary functions for generated Numba loops.

Why this module exists: inside a Numba loop, `np.exp`, `np.tanh`, `math.sin`, ... lower to calls of glibc's
scalar libm. LLVM vectorizes the loop, finds no vector version of the call (PyPI's llvmlite has no SVML) and
scalarizes it again, so a fused kernel that calls libm runs 10-30x slower than numpy. The functions here are
written in plain arithmetic (range reduction, polynomials, bit manipulation, branch-free selects), so LLVM
inlines them into the calling loop and vectorizes them to full AVX-512 width.

Use from generated code::

    from jitgrad.codegen.vmath import exp_f32, tanh_f64, FUNCTIONS
    f32_impl, f64_impl = FUNCTIONS["tanh"]

Every function is `numba.njit(cache=True, error_model="numpy", forceinline=True)` and takes and returns one
scalar of its dtype (`max`, `min`, `pow`, `mod` take two). The caller's loop should use `error_model="numpy"`
too, otherwise its own float divisions get zero checks that block vectorization. forceinline marks the compiled
function `alwaysinline` for LLVM: LLVM's own inliner, left to decide, kept calls in composite functions (sinh
calling expm1 and exp), and a loop with a call in it does not vectorize. Inlining in LLVM rather than in Numba's
IR (inline="always") means each function is typed and lowered once per process (and cached on disk), not
again inside every kernel that calls it; the loops run as fast or faster (log, log2, log10 about 10% slower).

Special values follow numpy: nan propagates, exp overflows to inf and underflows (through the subnormals) to 0,
log(0) = -inf, log of a negative number is nan, odd functions keep the sign of zero. `accuracy(name, dtype)`
gives the documented maximum error in ULP (measured over dense samples of the whole domain, see
tests/test_vmath.py). Functions without a vectorized implementation yet fall back to libm (`np.*`), so that
every name in FUNCTIONS exists; they are accurate but slow.

Polynomial coefficients are Taylor coefficients or the long-published minimax ones (Cephes' expf); the
methods (Cody-Waite reduction, fdlibm's log decomposition, Payne-Hanek reduction) are the textbook ones.
`mad` below is LLVM's fmuladd: it becomes one FMA instruction where the CPU has FMA (this one does).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["FUNCTIONS", "accuracy"]

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


# ---------------------------------------------------------------------------------------------------------------
# exp, expm1: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts, n*LN2_HI exact), e^x = 2^n e^r.
# 2^n is built from its exponent bits; splitting it into 2^(n/2) 2^(n - n/2) lets n run past the normal range,
# so that overflow to inf and gradual underflow to subnormals and 0 come out of the arithmetic, without selects.

LOG2E_F32, LOG2E_F64 = F32(1.4426950408889634), F64(1.4426950408889634)
LN2_HI_F32, LN2_LO_F32 = F32(0.693359375), F32(-2.12194440e-4)       # hi has 9 bits: n * hi exact
LN2_HI_F64, LN2_LO_F64 = F64(6.93147180369123816490e-01), F64(1.90821492927058770002e-10)  # hi: 32 bits
EXP_HI_F32, EXP_LO_F32 = F32(89.0), F32(-104.0)    # beyond these exp is inf / 0 in float32
EXP_HI_F64, EXP_LO_F64 = F64(710.0), F64(-746.0)
# Cephes expf: e^r = 1 + r + r^2 P(r), minimax on |r| <= ln2/2, about 1 ULP
EXP_P_F32 = _f32s(1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                  5.0000001201e-1)
# float64: Taylor to r^13 (truncation error < 4e-18 relative on |r| <= ln2/2)
EXP_P_F64 = _taylor(2, 13, 1, False, F64)
ONE_F32, ONE_F64 = F32(1.0), F64(1.0)
HALF_F32, HALF_F64 = F32(0.5), F64(0.5)
TWO_F32, TWO_F64 = F32(2.0), F64(2.0)
ZERO_F32, ZERO_F64 = F32(0.0), F64(0.0)
INF_F32, INF_F64 = F32(np.inf), F64(np.inf)
NAN_F32, NAN_F64 = F32(np.nan), F64(np.nan)
BIAS_F32, BIAS_F64 = 127, 1023
MANT_BITS_F32, MANT_BITS_F64 = 23, 52


@_jit
def pow2i_f32(k):
    """2.0**k for an integer -126 <= k <= 127, from the exponent bits."""
    return i32_as_f32(I32((k + BIAS_F32) << MANT_BITS_F32))


@_jit
def pow2i_f64(k):
    return i64_as_f64(I64((k + BIAS_F64) << MANT_BITS_F64))


@_jit
def clamp(x, lo, hi):
    """min(max(x, lo), hi); nan gives lo (callers select nan back in at the end)."""
    x = x if x < hi else hi
    return x if x > lo else lo


@_jit
def exp_f32(x):
    """e^x, float32. Cephes method (Cody-Waite reduction, degree-7 minimax polynomial); max error 1 ULP."""
    xc = clamp(x, EXP_LO_F32, EXP_HI_F32)
    n = np.floor(mad(xc, LOG2E_F32, HALF_F32))
    r = mad(n, -LN2_LO_F32, mad(n, -LN2_HI_F32, xc))
    p = mad(horner(r, EXP_P_F32), r * r, r) + ONE_F32
    k = I32(n)
    half = k >> 1
    y = (p * pow2i_f32(half)) * pow2i_f32(k - half)
    return y if x == x else x


@_jit
def exp_f64(x):
    """e^x, float64. Cody-Waite reduction, Taylor polynomial to r^13; max error 1 ULP."""
    xc = clamp(x, EXP_LO_F64, EXP_HI_F64)
    n = np.floor(mad(xc, LOG2E_F64, HALF_F64))
    r = mad(n, -LN2_LO_F64, mad(n, -LN2_HI_F64, xc))
    p = mad(horner(r, EXP_P_F64), r * r, r) + ONE_F64
    k = I64(n)
    half = k >> 1
    y = (p * pow2i_f64(half)) * pow2i_f64(k - half)
    return y if x == x else x


# expm1(x) = 2^n (expm1(r) + 1) - 1 = 2^n expm1(r) + (2^n - 1): exact for n = 0, no cancellation otherwise.
# Below EXPM1_LO the result rounds to -1; at the top, n = max exponent + 1 is handled as 2 * 2^(n-1).
EXPM1_HI_F32, EXPM1_LO_F32 = F32(89.0), F32(-25.0)
EXPM1_HI_F64, EXPM1_LO_F64 = F64(710.0), F64(-40.0)
EXPM1_P_F32 = _taylor(3, 9, 1, False, F32)    # expm1(r) = r + r^2/2 + r^3 P(r)
EXPM1_P_F64 = _taylor(3, 15, 1, False, F64)
TINY_EXPM1_F32, TINY_EXPM1_F64 = F32(2.0 ** -25), F64(2.0 ** -54)   # expm1(x) rounds to x: keeps -0


@_jit
def expm1_f32(x):
    """e^x - 1, float32. Cody-Waite reduction, Taylor polynomial to r^9; max error 1 ULP."""
    xc = clamp(x, EXPM1_LO_F32, EXPM1_HI_F32)
    n = np.floor(mad(xc, LOG2E_F32, HALF_F32))
    r = mad(n, -LN2_LO_F32, mad(n, -LN2_HI_F32, xc))
    r2 = r * r
    p = mad(horner(r, EXPM1_P_F32), r2 * r, mad(r2, HALF_F32, r))
    k = I32(n)
    top = k > BIAS_F32
    k = k - 1 if top else k
    scale = pow2i_f32(k)
    y = mad(scale, p, scale - ONE_F32)
    y = y * TWO_F32 if top else y
    y = x if abs(x) < TINY_EXPM1_F32 else y
    return y if x == x else x


@_jit
def expm1_f64(x):
    """e^x - 1, float64. Cody-Waite reduction, Taylor polynomial to r^15; max error 1 ULP."""
    xc = clamp(x, EXPM1_LO_F64, EXPM1_HI_F64)
    n = np.floor(mad(xc, LOG2E_F64, HALF_F64))
    r = mad(n, -LN2_LO_F64, mad(n, -LN2_HI_F64, xc))
    r2 = r * r
    p = mad(horner(r, EXPM1_P_F64), r2 * r, mad(r2, HALF_F64, r))
    k = I64(n)
    top = k > BIAS_F64
    k = k - 1 if top else k
    scale = pow2i_f64(k)
    y = mad(scale, p, scale - ONE_F64)
    y = y * TWO_F64 if top else y
    y = x if abs(x) < TINY_EXPM1_F64 else y
    return y if x == x else x


# ---------------------------------------------------------------------------------------------------------------
# log: x = 2^k m with m in [sqrt(1/2), sqrt(2)) (found by integer arithmetic on the bits), f = m - 1,
# log(1 + f) = 2 atanh(s) with s = f / (2 + f), written as f - f^2/2 + s (f^2/2 + R(s^2)) to keep f exact
# (fdlibm's decomposition); log x = k ln2 + log(1 + f).

SQRT_HALF_BITS_F32 = 0x3F3504F3             # bits of sqrt(1/2)
SQRT_HALF_BITS_F64 = 0x3FE6A09E667F3BCD
ONE_BITS_F32, ONE_BITS_F64 = 0x3F800000, 0x3FF0000000000000
MANT_MASK_F32, MANT_MASK_F64 = 0x007FFFFF, 0x000FFFFFFFFFFFFF
MIN_NORMAL_F32, MIN_NORMAL_F64 = F32(np.finfo(np.float32).tiny), F64(np.finfo(np.float64).tiny)
SUBNORMAL_SCALE_F32, SUBNORMAL_SCALE_F64 = F32(2.0 ** 23), F64(2.0 ** 54)   # lifts subnormals to normal
SUBNORMAL_SHIFT_F32, SUBNORMAL_SHIFT_F64 = 23, 54
# R(z) = sum 2/(2j+1) z^j: the series of (2 atanh(s) - 2s) / s in z = s^2 (|s| < 0.172, z < 0.0295)
LOG_R_F32 = tuple(F32(2.0 / (2 * j + 1)) for j in range(4, 0, -1))     # truncation < 2e-9 relative
LOG_R_F64 = tuple(F64(2.0 / (2 * j + 1)) for j in range(11, 0, -1))    # truncation < 1e-18 relative


@_jit
def log_reduce_f32(x):
    """(k, f) with x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)), both exact, for finite x > 0 (subnormals
    included); garbage elsewhere."""
    sub = x < MIN_NORMAL_F32
    x = x * SUBNORMAL_SCALE_F32 if sub else x
    ix = f32_as_i32(x) + (ONE_BITS_F32 - SQRT_HALF_BITS_F32)   # carries into the exponent when m >= sqrt2
    k = (ix >> MANT_BITS_F32) - BIAS_F32
    k = k - SUBNORMAL_SHIFT_F32 if sub else k
    m = i32_as_f32(I32((ix & MANT_MASK_F32) + SQRT_HALF_BITS_F32))
    return F32(k), m - ONE_F32


@_jit
def log_reduce_f64(x):
    sub = x < MIN_NORMAL_F64
    x = x * SUBNORMAL_SCALE_F64 if sub else x
    ix = f64_as_i64(x) + (ONE_BITS_F64 - SQRT_HALF_BITS_F64)
    k = (ix >> MANT_BITS_F64) - BIAS_F64
    k = k - SUBNORMAL_SHIFT_F64 if sub else k
    m = i64_as_f64(I64((ix & MANT_MASK_F64) + SQRT_HALF_BITS_F64))
    return F64(k), m - ONE_F64


@_jit
def log1p_small_f32(f):
    """log(1 + f) for exact f in [sqrt(1/2) - 1, sqrt(2) - 1): f - f^2/2 + s (f^2/2 + R(s^2))."""
    s = f / (TWO_F32 + f)
    z = s * s
    hfsq = HALF_F32 * f * f
    return f - (hfsq - s * (hfsq + z * horner(z, LOG_R_F32)))


@_jit
def log1p_small_f64(f):
    s = f / (TWO_F64 + f)
    z = s * s
    hfsq = HALF_F64 * f * f
    return f - (hfsq - s * (hfsq + z * horner(z, LOG_R_F64)))


@_jit
def log_core_f32(x):
    """log(x) for finite x > 0; garbage elsewhere. k ln2 in two parts, the small one added first."""
    k, f = log_reduce_f32(x)
    return mad(k, LN2_HI_F32, mad(k, LN2_LO_F32, log1p_small_f32(f)))


@_jit
def log_core_f64(x):
    k, f = log_reduce_f64(x)
    return mad(k, LN2_HI_F64, mad(k, LN2_LO_F64, log1p_small_f64(f)))


@_jit
def log_special_f32(x, y):
    """y where x is finite and > 0; numpy's log(0) = -inf, log(inf) = inf, log(<0) = nan elsewhere."""
    y = y if x < INF_F32 else x                            # log(inf) = inf
    return y if x > ZERO_F32 else (-INF_F32 if x == ZERO_F32 else NAN_F32)


@_jit
def log_special_f64(x, y):
    y = y if x < INF_F64 else x                            # log(inf) = inf
    return y if x > ZERO_F64 else (-INF_F64 if x == ZERO_F64 else NAN_F64)


@_jit
def log_f32(x):
    """Natural log, float32. fdlibm's decomposition with a Taylor series in s^2; max error 1 ULP."""
    return log_special_f32(x, log_core_f32(x))


@_jit
def log_f64(x):
    """Natural log, float64. fdlibm's decomposition with a Taylor series in s^2; max error 1 ULP."""
    return log_special_f64(x, log_core_f64(x))


# log1p: where 1 + x is in the reduced range [sqrt(1/2), sqrt(2)), f = x exactly and k = 0. Elsewhere
# log1p(x) = log(u) + (x - (u - 1)) / u with u = fl(1 + x): the second term corrects for the rounding of u.
LOG1P_LO_F32, LOG1P_HI_F32 = F32(math.sqrt(0.5) - 1), F32(math.sqrt(2.0) - 1)
LOG1P_LO_F64, LOG1P_HI_F64 = F64(math.sqrt(0.5) - 1), F64(math.sqrt(2.0) - 1)


@_jit
def log1p_f32(x):
    """log(1 + x), float32. Direct reduction near 0, else log of fl(1+x) plus a rounding correction;
    max error 1 ULP."""
    u = x + ONE_F32
    k, f = log_reduce_f32(u)
    c = (x - (u - ONE_F32)) / u
    small = LOG1P_LO_F32 <= x < LOG1P_HI_F32
    k = ZERO_F32 if small else k
    f = x if small else f
    c = ZERO_F32 if small else c
    y = mad(k, LN2_HI_F32, mad(k, LN2_LO_F32, log1p_small_f32(f) + c))
    return log_special_f32(u, y) if not small else (y if x != ZERO_F32 else x)   # keeps -0


@_jit
def log1p_f64(x):
    """log(1 + x), float64. As log1p_f32; max error 1 ULP."""
    u = x + ONE_F64
    k, f = log_reduce_f64(u)
    c = (x - (u - ONE_F64)) / u
    small = LOG1P_LO_F64 <= x < LOG1P_HI_F64
    k = ZERO_F64 if small else k
    f = x if small else f
    c = ZERO_F64 if small else c
    y = mad(k, LN2_HI_F64, mad(k, LN2_LO_F64, log1p_small_f64(f) + c))
    return log_special_f64(u, y) if not small else (y if x != ZERO_F64 else x)


# ---------------------------------------------------------------------------------------------------------------
# tanh and sigmoid from expm1 / exp of -|x| (never overflows), the sign restored at the end.

@_jit
def tanh_f32(x):
    """tanh, float32: -t / (t + 2) with t = expm1(-2|x|), sign of x; max error 2 ULP."""
    t = expm1_f32(-TWO_F32 * abs(x))
    return np.copysign(-t / (t + TWO_F32), x)


@_jit
def tanh_f64(x):
    """tanh, float64: -t / (t + 2) with t = expm1(-2|x|), sign of x; max error 2 ULP."""
    t = expm1_f64(-TWO_F64 * abs(x))
    return np.copysign(-t / (t + TWO_F64), x)


@_jit
def sigmoid_f32(x):
    """1 / (1 + e^-x), float32, stably: with e = exp(-|x|), 1/(1+e) for x >= 0 and e/(1+e) below, so large
    negative x gives e^x (down through the subnormals) rather than 1/inf. Max error 2 ULP."""
    e = exp_f32(-abs(x))
    r = ONE_F32 / (ONE_F32 + e)
    return r if x >= ZERO_F32 else e * r            # nan: e * r is nan


@_jit
def sigmoid_f64(x):
    """1 / (1 + e^-x), float64, stably (see sigmoid_f32). Max error 2 ULP."""
    e = exp_f64(-abs(x))
    r = ONE_F64 / (ONE_F64 + e)
    return r if x >= ZERO_F64 else e * r


# ---------------------------------------------------------------------------------------------------------------
# sin, cos. Reduce: x = (n + r) pi/2 with |r| <= 1/2, then sin x is +-sin or +-cos of theta = r pi/2 by the
# quadrant n mod 4, both evaluated by short polynomials on |theta| <= pi/4 and selected.
#
# float32 reduces by Payne-Hanek in float64, valid over the whole float32 range: |x| = M 2^E with an integer
# M < 2^24, and x 2/pi mod 4 needs only an 84-bit window of the bits of 2/pi, starting at the bit that E
# selects (bits above it contribute multiples of 4). The window is stored as three float64 chunks of 28 bits
# per float32 exponent, so x * chunk is exact (24 + 28 bits) and the reduction costs 3 table loads, 3 products,
# and an error-free sum. float64 uses Cody-Waite reduction with a 3-part pi/2 for |x| < SIN_CW_LIMIT_F64 and
# numpy's sin/cos (libm, not vectorized) above.

TWO_OVER_PI_BITS = 1280          # the hex digits below are floor(2/pi * 2^1280)
TWO_OVER_PI_HEX = (
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e0"
    "06492eea09d1921cfe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f4"
    "9c845f8bbdf9283b1ff897ffde05980fef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d"
    "7527bac7ebe5f17b3d0739f78a5292ea6bfb5fb11f8d5d0856033046fc7b6babf0cfbc209af4361d")
CHUNK_BITS, N_CHUNKS = 28, 3


def _two_over_pi_table(n_exponents, mant_bits, bias):
    """For each biased exponent b: N_CHUNKS float64 values whose sum times M 2^E is x 2/pi mod 4 to 2^-58."""
    g = int(TWO_OVER_PI_HEX, 16)
    L = TWO_OVER_PI_BITS
    table = np.zeros((N_CHUNKS, n_exponents))
    for b in range(n_exponents):
        e = max(b, 1) - bias - mant_bits            # x = M 2^e; subnormals share the smallest exponent
        top = min(L + 1 - e, L - 1)                 # bit j of g weighs 2^(j - L); M 2^(e + j - L) = 0 mod 4 above
        for c in range(N_CHUNKS):
            low = top - CHUNK_BITS * (c + 1) + 1
            chunk = (g >> low) & ((1 << CHUNK_BITS) - 1)
            table[c, b] = math.ldexp(chunk, low - L)
    return table


TWO_OVER_PI_F32 = _two_over_pi_table(256, MANT_BITS_F32, BIAS_F32)
PIO2_F64 = F64(math.pi / 2)
FOUR_F64, QUARTER_F64 = F64(4.0), F64(0.25)
# Taylor polynomials in z = theta^2 for |theta| <= pi/4: float32 to theta^9 / theta^10 (error < 3e-9)
SIN_P_F32 = _taylor(3, 9, 2, True, F64)
COS_P_F32 = _taylor(2, 10, 2, True, F64)
SIN_P_F64 = _taylor(3, 19, 2, True, F64)                   # to theta^19 / theta^20 (error < 1e-19)
COS_P_F64 = _taylor(2, 20, 2, True, F64)


@_jit
def reduce_pio2_f32(x):
    """theta in [-pi/4, pi/4] (float64) and quadrant q in 0..3 with |x| = theta + q pi/2 (mod 2 pi)."""
    ax = abs(x)
    b = f32_as_i32(ax) >> MANT_BITS_F32                    # biased exponent, 0..255
    xd = F64(ax)
    p0 = xd * TWO_OVER_PI_F32[0, b]                        # exact
    p0 = p0 - FOUR_F64 * np.floor(p0 * QUARTER_F64)        # exact: drop multiples of 4
    p1 = xd * TWO_OVER_PI_F32[1, b]                        # exact
    p2 = xd * TWO_OVER_PI_F32[2, b]
    s, err = two_sum(p0, p1)
    n = np.floor(s + HALF_F64)
    r = (s - n) + (err + p2)                               # s - n is exact
    return r * PIO2_F64, I64(n) & 3


@_jit
def sin_cos_poly_f64(theta, sin_p, cos_p):
    """(sin theta, cos theta) for |theta| <= pi/4 from odd / even polynomials in theta^2."""
    z = theta * theta
    sin_t = mad(theta * z, horner(z, sin_p), theta)
    cos_t = mad(z, horner(z, cos_p), ONE_F64)
    return sin_t, cos_t


@_jit
def quadrant_select(q, sin_t, cos_t):
    """sin(theta + q pi/2)."""
    y = cos_t if q & 1 else sin_t
    return -y if q & 2 else y


@_jit
def sin_f32(x):
    """sin, float32. Payne-Hanek reduction and Taylor polynomials in float64, one final rounding; exact over the
    whole float32 range; max error 1 ULP (nearly always correctly rounded)."""
    theta, q = reduce_pio2_f32(x)
    sin_t, cos_t = sin_cos_poly_f64(theta, SIN_P_F32, COS_P_F32)
    y = F32(quadrant_select(q, sin_t, cos_t))
    y = np.copysign(ONE_F32, x) * y                        # sin is odd; also gives sin(-0) = -0
    return y if abs(x) < INF_F32 else NAN_F32


@_jit
def cos_f32(x):
    """cos, float32. Payne-Hanek reduction (see sin_f32); max error 1 ULP."""
    theta, q = reduce_pio2_f32(x)
    sin_t, cos_t = sin_cos_poly_f64(theta, SIN_P_F32, COS_P_F32)
    y = F32(quadrant_select(q + 1, sin_t, cos_t))          # cos x = sin(x + pi/2)
    return y if abs(x) < INF_F32 else NAN_F32


# pi/2 = PIO2_1 + PIO2_2 + PIO2_3: the first two have 33 significant bits, so n * PIO2_1 and n * PIO2_2 are
# exact for n < 2^20, and x - n PIO2_1 is exact (Sterbenz). The rest is summed with its rounding error kept.
PIO2_1 = F64(1.57079632673412561417e+00)
PIO2_2 = F64(6.07710050630396597660e-11)
PIO2_3 = F64(2.02226624879595063154e-21)
TWO_OVER_PI_F64 = F64(2.0 / math.pi)
SIN_CW_LIMIT_F64 = F64(2.0 ** 19)


@_jit
def reduce_pio2_f64(x):
    """(theta_hi, theta_lo, q) with |x| = theta_hi + theta_lo + q pi/2 (mod 2 pi), for |x| < SIN_CW_LIMIT_F64."""
    ax = abs(x)
    n = np.floor(mad(ax, TWO_OVER_PI_F64, HALF_F64))
    r1 = ax - n * PIO2_1
    w = n * PIO2_2
    r2 = r1 - w
    tail = ((r1 - r2) - w) - n * PIO2_3
    hi = r2 + tail
    lo = (r2 - hi) + tail
    return hi, lo, I64(n) & 3


@_jit
def sin_cos_f64(x):
    """(sin |x|, cos |x|) for finite |x| < SIN_CW_LIMIT_F64, to about 1 ULP."""
    hi, lo, q = reduce_pio2_f64(x)
    z = hi * hi
    sin_t = mad(hi * z, horner(z, SIN_P_F64), hi) + lo * (ONE_F64 - HALF_F64 * z)
    cos_t = mad(z, horner(z, COS_P_F64), ONE_F64) - lo * hi
    return quadrant_select(q, sin_t, cos_t), quadrant_select(q + 1, sin_t, cos_t)


@_jit
def sin_f64(x):
    """sin, float64. Cody-Waite reduction (3-part pi/2 with error-free steps), Taylor polynomials with the
    reduction's tail; max error 1 ULP. |x| >= 2^19 goes to libm (slow, not vectorized)."""
    if not abs(x) < SIN_CW_LIMIT_F64:
        return np.sin(x)
    s, c = sin_cos_f64(x)
    return np.copysign(ONE_F64, x) * s


@_jit
def cos_f64(x):
    """cos, float64. As sin_f64; max error 1 ULP. |x| >= 2^19 goes to libm."""
    if not abs(x) < SIN_CW_LIMIT_F64:
        return np.cos(x)
    s, c = sin_cos_f64(x)
    return c


@_jit
def tan_f32(x):
    """tan, float32: sin/cos of the reduced argument in float64 (Payne-Hanek, see sin_f32); max error 1 ULP."""
    theta, q = reduce_pio2_f32(x)
    sin_t, cos_t = sin_cos_poly_f64(theta, SIN_P_F32, COS_P_F32)
    y = -cos_t / sin_t if q & 1 else sin_t / cos_t         # tan(theta + pi/2) = -1 / tan(theta)
    y = np.copysign(ONE_F32, x) * F32(y)
    return y if abs(x) < INF_F32 else NAN_F32


@_jit
def tan_f64(x):
    """tan, float64: quotient of sin and cos of the reduced argument; max error 2 ULP. |x| >= 2^19: libm."""
    if not abs(x) < SIN_CW_LIMIT_F64:
        return np.tan(x)
    s, c = sin_cos_f64(x)
    return np.copysign(ONE_F64, x) * (s / c)


# ---------------------------------------------------------------------------------------------------------------
# log2, log10: k + log(1 + f) / ln 2 keeps log2 of powers of two exact.

INV_LN2_F32, INV_LN2_F64 = F32(1.0 / math.log(2.0)), F64(1.0 / math.log(2.0))
LOG10_2_F32, LOG10_2_F64 = F32(math.log10(2.0)), F64(math.log10(2.0))
LOG10_E_F32, LOG10_E_F64 = F32(math.log10(math.e)), F64(math.log10(math.e))


@_jit
def log_parts_f32(x):
    """(k, log(1 + f)) with x = 2^k (1 + f), for finite x > 0."""
    k, f = log_reduce_f32(x)
    return k, log1p_small_f32(f)


@_jit
def log_parts_f64(x):
    k, f = log_reduce_f64(x)
    return k, log1p_small_f64(f)


@_jit
def log2_f32(x):
    """log2, float32: k + log(1+f)/ln2; exact at powers of 2; max error 2 ULP."""
    k, l1p = log_parts_f32(x)
    return log_special_f32(x, mad(l1p, INV_LN2_F32, k))


@_jit
def log2_f64(x):
    """log2, float64: k + log(1+f)/ln2; exact at powers of 2; max error 2 ULP."""
    k, l1p = log_parts_f64(x)
    return log_special_f64(x, mad(l1p, INV_LN2_F64, k))


@_jit
def log10_f32(x):
    """log10, float32: k log10(2) + log(1+f) log10(e); max error 2 ULP."""
    k, l1p = log_parts_f32(x)
    return log_special_f32(x, mad(l1p, LOG10_E_F32, k * LOG10_2_F32))


@_jit
def log10_f64(x):
    """log10, float64: k log10(2) + log(1+f) log10(e); max error 2 ULP."""
    k, l1p = log_parts_f64(x)
    return log_special_f64(x, mad(l1p, LOG10_E_F64, k * LOG10_2_F64))


# ---------------------------------------------------------------------------------------------------------------
# sinh, cosh from expm1 / exp of |x|. Past SINH_BIG, e^-|x| no longer matters and e^|x| / 2 is computed as
# (e^(|x|/2) / 2) e^(|x|/2), which stays finite up to the true overflow point of sinh and cosh.

SINH_BIG_F32, SINH_BIG_F64 = F32(10.0), F64(20.0)


@_jit
def sinh_f32(x):
    """sinh, float32: (t + t/(t+1)) / 2 with t = expm1(|x|); past 10, squared half-exp. Max error 2 ULP."""
    ax = abs(x)
    t = expm1_f32(ax)
    w = exp_f32(HALF_F32 * ax)
    y = (HALF_F32 * w) * w if ax > SINH_BIG_F32 else HALF_F32 * (t + t / (t + ONE_F32))
    return np.copysign(y, x)


@_jit
def sinh_f64(x):
    """sinh, float64: as sinh_f32 (threshold 20). Max error 2 ULP."""
    ax = abs(x)
    t = expm1_f64(ax)
    w = exp_f64(HALF_F64 * ax)
    y = (HALF_F64 * w) * w if ax > SINH_BIG_F64 else HALF_F64 * (t + t / (t + ONE_F64))
    return np.copysign(y, x)


@_jit
def cosh_f32(x):
    """cosh, float32: (e + 1/e) / 2 with e = exp(|x|); past 10, squared half-exp. Max error 2 ULP."""
    ax = abs(x)
    e = exp_f32(ax)
    w = exp_f32(HALF_F32 * ax)
    return (HALF_F32 * w) * w if ax > SINH_BIG_F32 else HALF_F32 * (e + ONE_F32 / e)


@_jit
def cosh_f64(x):
    """cosh, float64: as cosh_f32 (threshold 20). Max error 2 ULP."""
    ax = abs(x)
    e = exp_f64(ax)
    w = exp_f64(HALF_F64 * ax)
    return (HALF_F64 * w) * w if ax > SINH_BIG_F64 else HALF_F64 * (e + ONE_F64 / e)


# ---------------------------------------------------------------------------------------------------------------
# Inverse hyperbolics through log / log1p. float32 evaluates them in float64 (x^2 cannot overflow there), so one
# final rounding dominates; float64 uses the cancellation-free forms and switches to log(2|x|) where x^2 would
# overflow.

HUGE_HYP_F64 = F64(2.0 ** 28)                 # past this, sqrt(x^2 + 1) == |x| in float64
LN2_F64 = F64(math.log(2.0))


@_jit
def asinh_f32(x):
    """asinh, float32: log1p(|x| + x^2 / (1 + sqrt(1 + x^2))) in float64 (log(|x|) + ln2 past 2^28);
    max error 1 ULP."""
    ax = F64(abs(x))
    small = log1p_f64(ax + ax * ax / (ONE_F64 + np.sqrt(mad(ax, ax, ONE_F64))))
    big = log_f64(ax) + LN2_F64
    return np.copysign(F32(big if ax > HUGE_HYP_F64 else small), x)


@_jit
def asinh_f64(x):
    """asinh, float64: log1p(|x| + x^2/(1 + sqrt(1 + x^2))), log(|x|) + ln2 for |x| > 2^28; max error 2 ULP."""
    ax = abs(x)
    small = log1p_f64(ax + ax * ax / (ONE_F64 + np.sqrt(mad(ax, ax, ONE_F64))))
    big = log_f64(ax) + LN2_F64
    return np.copysign(big if ax > HUGE_HYP_F64 else small, x)


@_jit
def acosh_f32(x):
    """acosh, float32: log1p(t + sqrt(2t + t^2)), t = x - 1, in float64; nan below 1. Max error 1 ULP."""
    t = F64(x) - ONE_F64
    y = log1p_f64(t + np.sqrt(mad(t, t, TWO_F64 * t)))
    return NAN_F32 if x < ONE_F32 else F32(y)


@_jit
def acosh_f64(x):
    """acosh, float64: log1p(t + sqrt(2t + t^2)) with t = x - 1 (exact near 1), log(x) + ln2 past 2^28;
    max error 2 ULP."""
    t = x - ONE_F64
    small = log1p_f64(t + np.sqrt(mad(t, t, TWO_F64 * t)))
    big = log_f64(x) + LN2_F64
    y = big if x > HUGE_HYP_F64 else small
    return NAN_F64 if x < ONE_F64 else y


@_jit
def atanh_f32(x):
    """atanh, float32: log1p(2|x| / (1 - |x|)) / 2 in float64; max error 1 ULP."""
    ax = F64(abs(x))
    return np.copysign(F32(HALF_F64 * log1p_f64(TWO_F64 * ax / (ONE_F64 - ax))), x)


@_jit
def atanh_f64(x):
    """atanh, float64: log1p(2|x| / (1 - |x|)) / 2; max error 2 ULP."""
    ax = abs(x)
    return np.copysign(HALF_F64 * log1p_f64(TWO_F64 * ax / (ONE_F64 - ax)), x)


# ---------------------------------------------------------------------------------------------------------------
# pow. float32: exp(y log x) in float64 (the float64 product has error 2^-53 |y log x| <= 2^-46, far below a
# float32 ULP), with C99 / numpy special cases as selects. float64 needs log in double-double to be accurate
# near overflow, so it stays with libm for now.

@_jit
def is_odd_integer(y):
    half = y * F64(0.5)
    return np.floor(y) == y and np.floor(half) != half


@_jit
def pow_f32(x, y):
    """x ** y, float32: exp(y log|x|) in float64 with numpy's special cases; max error 1 ULP."""
    xd, yd = F64(x), F64(y)
    ax = abs(xd)
    r = exp_f64(yd * log_f64(ax))           # log(0) = -inf and log(inf) = inf give the limits of 0^y, inf^y
    r = -r if is_odd_integer(yd) and np.copysign(ONE_F64, xd) < ZERO_F64 else r
    r = NAN_F64 if -INF_F64 < xd < ZERO_F64 and np.floor(yd) != yd else r    # negative base, fractional power
    r = ONE_F64 if ax == ONE_F64 and abs(yd) == INF_F64 else r         # (+-1) ** +-inf
    r = ONE_F64 if yd == ZERO_F64 or xd == ONE_F64 else r               # x ** 0, 1 ** y, even for nan
    return F32(r)


@_jit
def pow_f64(x, y):
    """x ** y, float64: libm (not vectorized)."""
    return np.power(x, y)


# ---------------------------------------------------------------------------------------------------------------
# libm fallbacks (correct, but scalar calls inside a vectorized loop): every name in FUNCTIONS exists.

@_jit
def asin_f32(x):
    """arcsin, float32: libm (not vectorized)."""
    return np.arcsin(x)


@_jit
def asin_f64(x):
    """arcsin, float64: libm (not vectorized)."""
    return np.arcsin(x)


@_jit
def acos_f32(x):
    """arccos, float32: libm (not vectorized)."""
    return np.arccos(x)


@_jit
def acos_f64(x):
    """arccos, float64: libm (not vectorized)."""
    return np.arccos(x)


@_jit
def atan_f32(x):
    """arctan, float32: libm (not vectorized)."""
    return np.arctan(x)


@_jit
def atan_f64(x):
    """arctan, float64: libm (not vectorized)."""
    return np.arctan(x)


@_jit
def erf_f32(x):
    """erf, float32: libm (not vectorized)."""
    return F32(math.erf(x))


@_jit
def erf_f64(x):
    """erf, float64: libm (not vectorized)."""
    return math.erf(x)


@_jit
def cbrt_f32(x):
    """cbrt, float32: libm (not vectorized)."""
    return np.cbrt(x)


@_jit
def cbrt_f64(x):
    """cbrt, float64: libm (not vectorized)."""
    return np.cbrt(x)


@_jit
def mod_f32(x, y):
    """Remainder with the divisor's sign (Python's rule, numpy's mod), x % 0 == 0 (MXNet); exact. The fmod
    inside is a libm call (not vectorized)."""
    r = np.fmod(x, y)
    r = r + y if r != ZERO_F32 and (r < ZERO_F32) != (y < ZERO_F32) else r
    r = np.copysign(ZERO_F32, y) if r == ZERO_F32 else r
    return ZERO_F32 if y == ZERO_F32 else r


@_jit
def mod_f64(x, y):
    """As mod_f32, float64."""
    r = np.fmod(x, y)
    r = r + y if r != ZERO_F64 and (r < ZERO_F64) != (y < ZERO_F64) else r
    r = np.copysign(ZERO_F64, y) if r == ZERO_F64 else r
    return ZERO_F64 if y == ZERO_F64 else r


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


# ---------------------------------------------------------------------------------------------------------------
# Table for the code generator: expression name -> (float32 implementation, float64 implementation).

_UNARY_VECTORIZED = ["exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh", "cosh",
                     "tanh", "asinh", "acosh", "atanh", "sigmoid", "sign", "round"]
_LIBM = ["asin", "acos", "atan", "erf", "cbrt"]
_BINARY = ["pow", "mod"]
_GENERIC = ["sqrt", "abs", "floor", "ceil", "rint", "trunc", "max", "min"]

FUNCTIONS: dict[str, tuple] = {}
for _name in _UNARY_VECTORIZED + _LIBM + _BINARY:
    FUNCTIONS[_name] = (globals()[_name + "_f32"], globals()[_name + "_f64"])
for _name in _GENERIC:
    FUNCTIONS[_name] = (globals()[_name + "_any"],) * 2
UNARY = [n for n in FUNCTIONS if n not in ("pow", "mod", "max", "min")]
BINARY = ["pow", "mod", "max", "min"]

# Documented maximum error in ULP (each measured over ~1e6 samples spanning the whole domain by
# tests/test_vmath.py against numpy in a wider type; the bound is the measured maximum rounded up).
_ACCURACY = {
    # name: (float32, float64)
    "exp": (1, 1), "expm1": (2, 3), "log": (1, 1.5), "log1p": (1.5, 1.5),
    "log2": (2, 2), "log10": (2.5, 2),
    "sin": (1, 1.5), "cos": (1, 1.5), "tan": (1, 3),
    "sinh": (3, 3), "cosh": (3, 3), "tanh": (3, 3),
    "asinh": (1, 2), "acosh": (1, 2), "atanh": (1, 2), "sigmoid": (3, 3),
    "pow": (1, 1),
    # libm fallbacks, as measured (float64 erf against scipy in float64, hence the larger bound)
    "asin": (1, 1), "acos": (1, 1), "atan": (1, 1), "erf": (1, 3.5), "cbrt": (1, 3.5),
}
_EXACT = ("sqrt", "abs", "sign", "floor", "ceil", "round", "rint", "trunc", "max", "min", "mod")


def accuracy(name: str, dtype) -> float:
    """Documented maximum error of FUNCTIONS[name] for dtype (float32 or float64), in ULP of the result."""
    if name not in FUNCTIONS:
        raise KeyError(f"vmath has no function {name!r}")
    index = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}[np.dtype(dtype)]
    if name in _EXACT:
        return 0.0
    return float(_ACCURACY[name][index])
