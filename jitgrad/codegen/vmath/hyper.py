"""sinh, cosh, the inverse hyperbolics, pow, and the libm fallbacks."""
from __future__ import annotations

from .base import *  # noqa: F401,F403  (numpy, numba, the typed constants, the intrinsics)
from .base import _jit
from .explog import *  # noqa: F401,F403


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
