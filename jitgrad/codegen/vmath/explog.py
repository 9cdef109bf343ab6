"""exp, expm1, log, log1p, log2, log10, tanh and sigmoid."""
from __future__ import annotations

from .base import *  # noqa: F401,F403  (numpy, numba, the typed constants, the intrinsics)
from .base import _f32s, _jit, _taylor


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
    """e^x, float32. Cephes method (Cody-Waite reduction, degree-7 minimax polynomial); max error 1.02
    ULP (over every float32; 22 inputs above 1 ULP)."""
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
# tanh and sigmoid from expm1 / exp of -|x| (never overflows), the sign restored at the end. float32 uses
# versions of expm1 and exp for arguments <= 0 only: one clamp, no overflow step, and n = rint(u / ln2) from the
# rounding of u log2(e) + 1.5 * 2^23, whose low mantissa bits are n, so 2^n is built from those bits without a
# float-to-int conversion. The clamp lets nan through, and nan propagates through the arithmetic (the integer
# part only ever sees its bits), so no select puts it back.

MAGIC_F32 = F32(1.5 * 2.0 ** 23)       # x + MAGIC rounds x to an integer, for |x| < 2^22
# expm1(r) = r + r^2/2 + r^3 Q(r), Q minimax (relative error of expm1, Lawson's iteration in float64 on
# |r| <= ln2/2, coefficients rounded to float32): error 2^-29.8, two terms fewer than the Taylor series of
# EXPM1_P_F32
EXPM1_Q_F32 = _f32s(1.982413e-4, 1.3933245e-3, 8.333419e-3, 4.166648e-2, 1.6666666e-1)
# e^r = 1 + r + r^2 P(r), P minimax as above: error 2^-28.0 (Cephes' EXP_P_F32, one degree more: 2^-29.8)
EXP_Q_F32 = _f32s(1.3814613e-3, 8.36871e-3, 4.166839e-2, 1.6666521e-1, 4.9999994e-1)
EXP_OFFSET_F32 = 64                    # exp_neg_f32 scales by 2^(n + 64) 2^-64: two steps, for the subnormals
TWO_M64_F32 = F32(2.0 ** -EXP_OFFSET_F32)


@_jit
def reduce_neg_f32(u, lo):
    """(r, t) with u = n ln2 + r, |r| <= ln2/2, and t = n + MAGIC_F32 (n in its low bits), for u clamped to
    [lo, 0]; nan stays nan."""
    u = lo if u < lo else u                                # not max(): nan passes
    t = mad(u, LOG2E_F32, MAGIC_F32)
    n = t - MAGIC_F32
    return mad(n, -LN2_LO_F32, mad(n, -LN2_HI_F32, u)), t


@_jit
def expm1_neg_f32(u):
    """e^u - 1 for u <= 0 (below EXPM1_LO_F32 it is -1): 2^n expm1(r) + (2^n - 1) as expm1_f32."""
    r, t = reduce_neg_f32(u, EXPM1_LO_F32)
    r2 = r * r
    p = mad(horner(r, EXPM1_Q_F32), r2 * r, mad(r2, HALF_F32, r))
    scale = i32_as_f32(I32((f32_as_i32(t) + BIAS_F32) << MANT_BITS_F32))      # 2^n: the bits of MAGIC shift out
    return mad(scale, p, scale - ONE_F32)


@_jit
def exp_neg_f32(u):
    """e^u for u <= 0, down through the subnormals to 0: p 2^(n + 64) is exact, the product with 2^-64 rounds
    once."""
    r, t = reduce_neg_f32(u, EXP_LO_F32)
    p = mad(horner(r, EXP_Q_F32), r * r, r) + ONE_F32
    scale = i32_as_f32(I32((f32_as_i32(t) + (BIAS_F32 + EXP_OFFSET_F32)) << MANT_BITS_F32))
    return (p * scale) * TWO_M64_F32


@_jit
def tanh_f32(x):
    """tanh, float32: -t / (t + 2) with t = expm1(-2|x|), sign of x; max error 3 ULP (measured 2.62 over every
    float32)."""
    t = expm1_neg_f32(-TWO_F32 * abs(x))
    return np.copysign(-t / (t + TWO_F32), x)


@_jit
def tanh_f64(x):
    """tanh, float64: -t / (t + 2) with t = expm1(-2|x|), sign of x; max error 2 ULP."""
    t = expm1_f64(-TWO_F64 * abs(x))
    return np.copysign(-t / (t + TWO_F64), x)


@_jit
def sigmoid_f32(x):
    """1 / (1 + e^-x), float32, stably: with e = exp(-|x|), 1/(1+e) for x >= 0 and e/(1+e) below, so large
    negative x gives e^x (down through the subnormals) rather than 1/inf. One division, the numerator
    selected. Max error 3 ULP (measured 2.40 over every float32)."""
    e = exp_neg_f32(-abs(x))
    return (ONE_F32 if x >= ZERO_F32 else e) / (ONE_F32 + e)         # nan: e is nan


@_jit
def sigmoid_f64(x):
    """1 / (1 + e^-x), float64, stably (see sigmoid_f32). Max error 2 ULP."""
    e = exp_f64(-abs(x))
    r = ONE_F64 / (ONE_F64 + e)
    return r if x >= ZERO_F64 else e * r



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
