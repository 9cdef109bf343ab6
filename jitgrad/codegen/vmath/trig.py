"""sin, cos and tan."""
from __future__ import annotations

import hashlib

from llvmlite import ir
from numba.core import cgutils

from .base import *  # noqa: F401,F403  (numpy, numba, the typed constants, the intrinsics)
from .base import _f32s, _f64s, _jit, _taylor
from .explog import *  # noqa: F401,F403  (the constants of the float formats and exp)


# ---------------------------------------------------------------------------------------------------------------
# sin, cos. Reduce: x = (n + r) pi/2 with |r| <= 1/2, then sin x is +-sin or +-cos of theta = r pi/2 by the
# quadrant n mod 4, both evaluated by short polynomials on |theta| <= pi/4 and selected.
#
# sin_ph_f32, cos_ph_f32, tan_ph_f32 (what the float32 functions of the last section use for |x| >=
# FAST_LIMIT_F32) reduce by Payne-Hanek in float64, valid over the whole float32 range: |x| = M 2^E with an
# integer M < 2^24, and x 2/pi mod 4 needs only an 84-bit window of the bits of 2/pi, starting at the bit that
# E selects (bits above it contribute multiples of 4). The window is stored as three float64 chunks of 28 bits
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
def sin_ph_f32(x):
    """sin, float32, for any x: Payne-Hanek reduction and Taylor polynomials in float64, one final rounding;
    max error 1 ULP (nearly always correctly rounded). sin_f32 uses it for |x| >= FAST_LIMIT_F32."""
    theta, q = reduce_pio2_f32(x)
    sin_t, cos_t = sin_cos_poly_f64(theta, SIN_P_F32, COS_P_F32)
    y = F32(quadrant_select(q, sin_t, cos_t))
    y = np.copysign(ONE_F32, x) * y                        # sin is odd; also gives sin(-0) = -0
    return y if abs(x) < INF_F32 else NAN_F32


@_jit
def cos_ph_f32(x):
    """cos, float32, for any x; as sin_ph_f32."""
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
def tan_ph_f32(x):
    """tan, float32, for any x: sin/cos of the Payne-Hanek reduced argument in float64; max error 1 ULP."""
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
# float32 sin, cos, tan. sin and cos: Cody-Waite reduction and polynomials in float32 for |x| <
# SINCOS_LIMIT_F32 (next section), in float64 up to FAST_LIMIT_F32, Payne-Hanek (above) beyond; the last two
# only for the lanes that need them. tan: float64 up to FAST_LIMIT_F32, Payne-Hanek beyond.
#
# The float64 path of sin and cos reduces by pi: x = n pi + r with |r| <= pi/2, sin x = (-1)^n sin r, and
# cos x = (-1)^m sin r for x = (m - 1/2) pi + r, so both evaluate one odd polynomial. tan reduces by pi/2 and
# evaluates a rational function. pi (and pi/2) is split into two float64 parts: n * PI_HI needs more than 53
# bits, but the fma x - n * PI_HI rounds only once and its exact value is a multiple of ulp(PI_HI) below 2, so
# it is exact; the truncation n * (pi - PI_HI - PI_LO) < 2^-75 leaves r far more accurate than the result needs
# even where x is close to a multiple of pi (every float32 0 <= |x| < 2^32 was checked: max error 0.60 ULP for
# sin and cos, 0.50 for tan). n comes from the rounding of x/pi + 1.5 * 2^52, whose low mantissa bit is the
# parity of n.
#
# Payne-Hanek costs three table gathers and about twice the arithmetic; as a select it would be paid by every
# lane of a vectorized loop (sin took 20 ms per 1e7 elements with it, 4.5 without). Instead the fast result y
# goes through a call, `_tail(x, y)`, that the loop vectorizer can vectorize: the scalar function carries
# LLVM's "vector-function-abi-variant" attribute, naming vector versions for 4, 8 and 16 lanes (see
# _tail_vfs). A vector version tests |x| >= its limit on its lanes and returns y unchanged when none is
# (a compare, a test and a branch: the common case), else runs the slower function on those lanes one by one,
# out of line. Where the loop is optimized again after vectorizing (jitgrad's kernels that call these
# functions are: numbajit.reoptimized), the vector version is inlined and only that branch stays in the
# loop. The scalar function also tests first, so a loop that does not vectorize pays a call per element
# but no Payne-Hanek. Inputs mostly beyond the limit pay
# about 10 ns per element that way (sin of uniform(-1e10, 1e10): 120 ms per 1e7 elements, 96 while only the
# lanes beyond 2^32 left the loop; 20 with Payne-Hanek vectorized on every lane, 112 for numpy), and so do sin
# and cos between SINCOS_LIMIT_F32 and 2^32 (uniform(-1e8, 1e8): 69 ms, 4.5 while the float64 path was the
# vectorized one). The functions are defined linkonce_odr in every module that uses
# them, named with a hash of this file so that code compiled from another version of it never binds to them.

FAST_LIMIT_F32 = F32(2.0 ** 32)
SINCOS_LIMIT_F32 = F32(2.0 ** 20)     # sin, cos: float32 arithmetic below (see the last section)
MAGIC_F64 = F64(1.5 * 2.0 ** 52)       # x + MAGIC rounds x to an integer, for |x| < 2^51
INV_PI_F64, INV_PIO2_F64 = F64(1 / math.pi), F64(2 / math.pi)
PI_HI_F64 = F64(math.pi)
PI_LO_F64 = F64(1.2246467991473532e-16)            # pi - PI_HI, rounded
PIO2_HI_F64, PIO2_LO_F64 = F64(math.pi / 2), F64(6.123233995736766e-17)
# minimax (relative error) polynomials in z = r^2, highest degree first, ending in the constant 1:
# sin r = r P(z) on |r| <= pi/2 (error 2^-27.3); tan r = r P(z) / Q(z) on |r| <= pi/4 (2^-35.4)
SIN_PI_F32 = _f64s(2.6057800525201047e-06, -0.00019809602663290805, 0.008333066243205355,
                   -0.16666659550331495, 1.0)
TAN_P_F32 = _f64s(0.001075153090207703, -0.11136141643395858, 1.0000000000220761)
TAN_Q_F32 = _f64s(0.015973382517095656, -0.4446947481061691, 1.0)
with open(__file__, "rb") as _source:
    _TAIL_TAG = hashlib.sha1(_source.read()).hexdigest()[:12]


def _tail_vfs(context):
    """The vector widths to offer. On AMD's AVX-512 CPUs, which LLVM gives 512-bit vectors, 16 and 4: offered
    8 too, the vectorizer picks 8 (twice the calls, sin 5% slower). Elsewhere 4, 8 and 16: the vectorizer
    picks 8 for Intel's AVX-512 CPUs (256-bit vectors by LLVM's default) and 4 for AVX2 (checked with
    NUMBA_CPU_NAME=skylake-avx512 and haswell)."""
    codegen = context.codegen()
    try:
        cpu, features = codegen._get_host_cpu_name(), codegen._get_host_cpu_features()
    except AttributeError:          # another Numba: offer all
        return (4, 8, 16)
    return (4, 16) if cpu.startswith("znver") and "+avx512f" in features else (4, 8, 16)


def _tail_function(context, builder, kind, impl, limit):
    """The scalar tail function of `kind` in builder's module (defined on first use), and its vector
    versions; they call impl where |x| >= limit."""
    module = builder.module
    name = f"jitgrad_vmath_{kind}_tail_f32_{_TAIL_TAG}"
    if name in module.globals:
        return module.globals[name]
    f32 = ir.FloatType()
    sig = types.float32(types.float32)
    cres = context.compile_subroutine(builder, impl, sig)

    # impl once, out of line: the vector versions and the scalar function call it (inlined into each of the
    # lanes of the vector versions it made each kernel's code 20x larger and its compile slower)
    ph = ir.Function(module, ir.FunctionType(f32, [f32]), f"{name}_ph")
    ph.linkage = "linkonce_odr"
    ph.attributes.add("noinline")
    ph.attributes.add("nounwind")
    b = ir.IRBuilder(ph.append_basic_block("entry"))
    _, result = context.call_internal_no_propagate(b, cres.fndesc, sig, [ph.args[0]])
    b.ret(result)

    def call_impl(b, value):
        return b.call(ph, [value])

    def is_big(b, x):
        """|x| finite and >= limit, for a float or a vector of floats."""
        n = getattr(x.type, "count", None)
        ity = ir.IntType(32) if n is None else ir.VectorType(ir.IntType(32), n)
        const = (lambda v: ir.Constant(ity, v)) if n is None else (lambda v: ir.Constant(ity, [v] * n))
        ax = b.and_(b.bitcast(x, ity), const(0x7FFFFFFF))
        low, inf = int(np.float32(limit).view(np.int32)), 0x7F800000
        return b.and_(b.icmp_signed(">=", ax, const(low)), b.icmp_signed("<", ax, const(inf)))

    variants, vector_fns = [], []
    for vf in _tail_vfs(context):
        vty, mty = ir.VectorType(f32, vf), ir.VectorType(ir.IntType(1), vf)
        # the lanes of the mask one by one, out of line so that the variant itself needs no stack frame
        lanes = ir.Function(module, ir.FunctionType(vty, [vty, vty, mty]), f"{name}_lanes{vf}")
        lanes.linkage = "linkonce_odr"
        lanes.attributes.add("noinline")
        b = ir.IRBuilder(lanes.append_basic_block("entry"))
        x, y, mask = lanes.args
        out = cgutils.alloca_once_value(b, y)
        for i in range(vf):
            lane = ir.Constant(ir.IntType(32), i)
            with b.if_then(b.extract_element(mask, lane)):
                yi = call_impl(b, b.extract_element(x, lane))
                b.store(b.insert_element(b.load(out), yi, lane), out)
        b.ret(b.load(out))
        vname = f"{name}_N{vf}"
        fn = ir.Function(module, ir.FunctionType(vty, [vty, vty]), vname)
        fn.linkage = "linkonce_odr"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        x, y = fn.args
        mask = is_big(b, x)
        anyb = b.icmp_unsigned("!=", b.bitcast(mask, ir.IntType(vf)), ir.Constant(ir.IntType(vf), 0))
        with b.if_then(anyb, likely=False):
            b.ret(b.call(lanes, [x, y, mask]))
        b.ret(y)
        variants.append(f"_ZGV_LLVM_N{vf}vv_{name}({vname})")
        vector_fns.append(fn)
    fn = ir.Function(module, ir.FunctionType(f32, [f32, f32]), name)
    fn.linkage = "linkonce_odr"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    # a string attribute: not in llvmlite's list of known ones, so past its check
    set.add(fn.attributes, '"vector-function-abi-variant"="%s"' % ",".join(variants))
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x, y = fn.args
    with b.if_then(is_big(b, x), likely=False):
        b.ret(call_impl(b, x))
    b.ret(y)
    # the vector variants are referenced only by the attribute: keep them from being dropped as unused
    i8p = ir.IntType(8).as_pointer()
    members = [f.bitcast(i8p) for f in vector_fns]
    used = module.globals.get("llvm.compiler.used")
    if used is None:
        used = ir.GlobalVariable(module, ir.ArrayType(i8p, len(members)), "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
    else:                   # a function that calls two of the tails: one list in its module
        members = list(used.initializer.constant) + members
        used.value_type = ir.ArrayType(i8p, len(members))
    used.initializer = ir.Constant(used.value_type, members)
    return fn


def _tail_intrinsic(kind, impl, limit):
    @intrinsic
    def tail(typingctx, x, y):
        """y, or impl(x) where |x| is finite and >= limit: a call the loop vectorizer vectorizes."""
        if not (x == y == types.float32):
            return None

        def codegen(context, builder, signature, args):
            return builder.call(_tail_function(context, builder, kind, impl, limit), args)
        return types.float32(types.float32, types.float32), codegen
    return tail


def _sin_tail_impl(x):
    return sin_cw_f32(x) if abs(x) < FAST_LIMIT_F32 else sin_ph_f32(x)


def _cos_tail_impl(x):
    return cos_cw_f32(x) if abs(x) < FAST_LIMIT_F32 else cos_ph_f32(x)


def _tan_tail_impl(x):
    return tan_ph_f32(x)


_sin_tail = _tail_intrinsic("sin", _sin_tail_impl, SINCOS_LIMIT_F32)
_cos_tail = _tail_intrinsic("cos", _cos_tail_impl, SINCOS_LIMIT_F32)
_tan_tail = _tail_intrinsic("tan", _tan_tail_impl, FAST_LIMIT_F32)


# ---------------------------------------------------------------------------------------------------------------
# float32 sin and cos in float32 arithmetic, for |x| < SINCOS_LIMIT_F32: |x| = n pi/2 + r with |r| <= pi/4
# (about), the quadrant n mod 4 selects +-sin r or +-cos r, both evaluated (a vector lane cannot branch).
#
# Reduction in float32 alone must keep r to more than 24 bits: rounded to a float32, r alone costs up to
# 0.87 ULP more (where sin r < 1/2 <= r), so r = hi + lo. pi/2 = PIO2_A + PIO2_B + PIO2_C + PIO2_D, the first
# two rounded down (positive remainders), so:
# - r1 = |x| - n PIO2_A (one fma) is exact: both are multiples of 2^-23 (|x| >= 1; below 1, n <= 1 and
#   Sterbenz applies) and |r1| < 1 for n < 2^21.
# - n PIO2_B is rounded to a multiple of 2^-23 by adding and subtracting 1.5 (p1), so hi = r1 - p1 is exact,
#   and p1 - n PIO2_B is exact (it has fewer than 24 bits); lo = that - n PIO2_C - n PIO2_D, |lo| < 2^-23.9.
# The residual n (pi/2 - A - B - C - D) < 2^-83 is far below any r.
# n = rint(|x| 2/pi) comes from the rounding of |x| 2/pi + 1.5 * 2^23, whose low mantissa bits are n mod 4;
# 2/pi rounded to float32 (2.6e-8 off) can make n off by one where |x| 2/pi is within |x| 2.6e-8 of a half
# integer, so |r| <= pi/4 + 2^20 2.6e-8 pi/2 < 0.83 for |x| < 2^20: the polynomials are fitted on |r| <= 0.83.
# sin r = hi + (lo + hi z S(z)), cos r = 1 + z (-1/2 + z C(z)), z = hi^2 + 2 hi lo: minimax (relative error,
# Lawson's iteration in float64, coefficients rounded to float32), degree 7 (error 2^-26.7) and 8 (2^-30.2).
# Max error over every float32 |x| < 2^20: 0.90 ULP (the float64 path: 0.60), at results near 1/sqrt(2).

INV_PIO2_F32 = F32(2 / math.pi)
PIO2_A_F32, PIO2_B_F32 = F32(1.570796251296997), F32(7.549789415861596e-08)
PIO2_C_F32, PIO2_D_F32 = F32(5.390302953474238e-15), F32(-9.531611942458439e-23)
GRID_MAGIC_F32 = F32(1.5)              # x + 1.5 rounds 0 <= x < 1/2 to a multiple of 2^-23
SIN_S_F32 = _f32s(-1.9477273e-4, 8.33187e-3, -1.666665e-1)
COS_C_F32 = _f32s(2.4389668e-5, -1.3886921e-3, 4.1666638e-2)
SIGN_BIT_I32 = I32(-2 ** 31)


@_jit
def reduce_pio2_fast_f32(ax):
    """(hi, lo, t) with ax = n pi/2 + hi + lo to about 2^-48, |hi + lo| < 0.83, and n mod 4 in the low bits of
    the integer t, for 0 <= ax < SINCOS_LIMIT_F32."""
    t = mad(ax, INV_PIO2_F32, MAGIC_F32)
    n = t - MAGIC_F32
    r1 = mad(n, -PIO2_A_F32, ax)                               # exact
    p1 = mad(n, PIO2_B_F32, GRID_MAGIC_F32) - GRID_MAGIC_F32   # n PIO2_B to a multiple of 2^-23
    lo = mad(n, -PIO2_D_F32, mad(n, -PIO2_C_F32, mad(n, -PIO2_B_F32, p1)))   # p1 - n PIO2_B is exact
    return r1 - p1, lo, f32_as_i32(t)                          # r1 - p1 is exact


@_jit
def sin_cos_fast_f32(hi, lo):
    """(sin r, cos r) for r = hi + lo, |r| < 0.83, |lo| < 2^-23.9."""
    z = mad(hi, hi, (hi + hi) * lo)
    sin_r = hi + mad(hi * z, horner(z, SIN_S_F32), lo)
    cos_r = mad(z, mad(z, horner(z, COS_C_F32), -HALF_F32), ONE_F32)
    return sin_r, cos_r


@_jit
def flip_sign(y, sign):
    """y with its sign bit xor the sign bit of the integer `sign`."""
    return i32_as_f32(I32(f32_as_i32(y) ^ (sign & SIGN_BIT_I32)))


@_jit
def sin_f32(x):
    """sin, float32. For |x| < 2^20 Cody-Waite reduction by pi/2 to a float32 pair and polynomials of degree 7
    and 8 in float32; up to 2^32 as sin_cw_f32, beyond by Payne-Hanek (sin_ph_f32), both only for the lanes
    that need them. Max error 1 ULP (measured 0.90) over the whole float32 range."""
    hi, lo, q = reduce_pio2_fast_f32(abs(x))
    sin_r, cos_r = sin_cos_fast_f32(hi, lo)
    y = flip_sign(cos_r if q & 1 else sin_r, (q << 30) ^ f32_as_i32(x))   # sin(-x) = -sin x; keeps -0
    return _sin_tail(x, y)


@_jit
def cos_f32(x):
    """cos, float32: cos x = sin(|x| + pi/2), reduced and evaluated as in sin_f32; max error 1 ULP (measured
    0.90)."""
    hi, lo, q = reduce_pio2_fast_f32(abs(x))
    sin_r, cos_r = sin_cos_fast_f32(hi, lo)
    y = flip_sign(sin_r if q & 1 else cos_r, (q + 1) << 30)
    return _cos_tail(x, y)


@_jit
def sin_cw_f32(x):
    """sin, float32, for |x| < 2^32: Cody-Waite reduction by pi and a degree-9 polynomial, in float64; max
    error 1 ULP (measured 0.6). sin_f32 uses it for SINCOS_LIMIT_F32 <= |x| < FAST_LIMIT_F32."""
    xd = F64(x)
    t = mad(xd, INV_PI_F64, MAGIC_F64)
    n = t - MAGIC_F64
    r = mad(n, -PI_LO_F64, mad(n, -PI_HI_F64, xd))
    r = i64_as_f64(f64_as_i64(r) ^ (f64_as_i64(t) << 63))     # (-1)^n r
    return F32(r * horner(r * r, SIN_PI_F32))                 # r * P keeps the sign of r = -0


@_jit
def cos_cw_f32(x):
    """cos, float32, for |x| < 2^32: cos x = (-1)^m sin(x - (m - 1/2) pi), reduced and evaluated as in
    sin_cw_f32; max error 1 ULP (measured 0.6)."""
    xd = F64(x)
    t = mad(xd, INV_PI_F64, HALF_F64) + MAGIC_F64
    h = (t - MAGIC_F64) - HALF_F64
    r = mad(h, -PI_LO_F64, mad(h, -PI_HI_F64, xd))
    r = i64_as_f64(f64_as_i64(r) ^ (f64_as_i64(t) << 63))
    return F32(r * horner(r * r, SIN_PI_F32))


@_jit
def tan_f32(x):
    """tan, float32: Cody-Waite reduction by pi/2, tan r or -1/tan r from a minimax rational function in
    float64; Payne-Hanek beyond |x| >= 2^32; max error 1 ULP (measured 0.5)."""
    xd = F64(x)
    t = mad(xd, INV_PIO2_F64, MAGIC_F64)
    n = t - MAGIC_F64
    r = mad(n, -PIO2_LO_F64, mad(n, -PIO2_HI_F64, xd))
    z = r * r
    p = r * horner(z, TAN_P_F32)
    q = horner(z, TAN_Q_F32)
    odd = (f64_as_i64(t) & 1) != 0                          # tan(r + pi/2) = -1 / tan r
    y = F32((-q if odd else p) / (p if odd else q))
    return _tan_tail(x, y)
