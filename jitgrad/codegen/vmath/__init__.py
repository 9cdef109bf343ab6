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

Polynomial coefficients are Taylor coefficients, the long-published minimax ones (Cephes' expf), or minimax
fits of our own (relative error, Lawson's iteration in float64, coefficients rounded to float32; redone and
checked by tests/test_vmath_fits.py); the methods (Cody-Waite reduction, fdlibm's log decomposition,
Payne-Hanek reduction) are the textbook ones.
`mad` below is LLVM's fmuladd: it becomes one FMA instruction where the CPU has FMA (this one does).
"""
from __future__ import annotations

import numpy as np

from ..catalog import VMATH_BINARY, VMATH_GENERIC, VMATH_LIBM, VMATH_UNARY
from .base import *  # noqa: F401,F403
from .exact import *  # noqa: F401,F403
from .explog import *  # noqa: F401,F403
from .hyper import *  # noqa: F401,F403
from .trig import *  # noqa: F401,F403

# ---------------------------------------------------------------------------------------------------------------
# Table for the code generator: expression name -> (float32 implementation, float64 implementation).

# The names by kind live in ..catalog (rendering a kernel consults them without compiling vmath).

FUNCTIONS: dict[str, tuple] = {}
for _name in VMATH_UNARY + VMATH_LIBM + VMATH_BINARY:
    FUNCTIONS[_name] = (globals()[_name + "_f32"], globals()[_name + "_f64"])
for _name in VMATH_GENERIC:
    FUNCTIONS[_name] = (globals()[_name + "_any"],) * 2
# float32 functions whose vector versions are calls that the loop vectorizer leaves in the loop (the
# trig tails): a kernel calling one is optimized once more after vectorizing (numbajit.reoptimized)
VECTOR_CALLS = frozenset(FUNCTIONS[_name][0] for _name in ("sin", "cos", "tan"))
UNARY = [n for n in FUNCTIONS if n not in ("pow", "mod", "max", "min")]
BINARY = ["pow", "mod", "max", "min"]

# Documented maximum error in ULP (each measured over ~1e6 samples spanning the whole domain by
# tests/test_vmath.py against numpy in a wider type; the bound is the measured maximum rounded up).
# float32 exp, sin, cos, tanh and sigmoid were also checked on every float32: exp 1.0103 ULP at most
# (22 inputs above 1), sin 0.904, cos 0.901, tanh 2.614, sigmoid 2.402.
_ACCURACY = {
    # name: (float32, float64)
    "exp": (1.5, 1), "expm1": (2, 3), "log": (1, 1.5), "log1p": (1.5, 1.5),
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
