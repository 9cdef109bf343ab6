"""sin, cos and tan."""
from __future__ import annotations

from .base import *  # noqa: F401,F403  (numpy, numba, the typed constants, the intrinsics)
from .base import _jit, _taylor
from .explog import *  # noqa: F401,F403  (the constants of the float formats and exp)


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
