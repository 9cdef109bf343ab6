"""Accuracy and special values of jitgrad.codegen.vmath against numpy.

Every function is compiled once, inside one loop kernel per dtype and arity (cache=True: reruns skip the Numba
compile), and run over dense samples of its whole domain: float32 bit patterns at a stride (subnormals, +-0,
huge and tiny included), float64 bit patterns at a stride plus uniform samples where the functions vary.
The error is measured in ULP of the result against numpy in the next wider type (float64 for float32,
long double for float64), and must stay within vmath.accuracy(); special values must match numpy exactly,
the sign of zero included.
"""
import types

import numba
import numpy as np
import pytest

from jitgrad.codegen import vmath as vm
from jitgrad.codegen.catalog import VMATH_VERSION

UNARY = vm.UNARY
BINARY = vm.BINARY


def unary_kernel(x, out):
    for i in range(x.size):
        v = x[i]
        out[0, i] = f0(v)
        out[1, i] = f1(v)
        out[2, i] = f2(v)
        out[3, i] = f3(v)
        out[4, i] = f4(v)
        out[5, i] = f5(v)
        out[6, i] = f6(v)
        out[7, i] = f7(v)
        out[8, i] = f8(v)
        out[9, i] = f9(v)
        out[10, i] = f10(v)
        out[11, i] = f11(v)
        out[12, i] = f12(v)
        out[13, i] = f13(v)
        out[14, i] = f14(v)
        out[15, i] = f15(v)
        out[16, i] = f16(v)
        out[17, i] = f17(v)
        out[18, i] = f18(v)
        out[19, i] = f19(v)
        out[20, i] = f20(v)
        out[21, i] = f21(v)
        out[22, i] = f22(v)
        out[23, i] = f23(v)
        out[24, i] = f24(v)
        out[25, i] = f25(v)
        out[26, i] = f26(v)
        out[27, i] = f27(v)
        out[28, i] = f28(v)


def binary_kernel(x, y, out):
    for i in range(x.size):
        out[0, i] = f0(x[i], y[i])
        out[1, i] = f1(x[i], y[i])
        out[2, i] = f2(x[i], y[i])
        out[3, i] = f3(x[i], y[i])


def _bind(kernel, names, dtype_index):
    """`kernel` compiled with f0, f1, .. bound to the vmath functions `names` as globals. Not a closure: Numba
    keys its disk cache on the pickled closure cells, and a dispatcher pickles differently in every process,
    so closures over vmath functions were compiled afresh on every run. The name carries vmath's version:
    the compiled kernel has the vmath code inlined, and Numba's cache only checks this file for changes. The
    float32 and float64 bindings share one cache file; their signatures tell them apart."""
    assert kernel is not unary_kernel or len(names) == 29, "update unary_kernel when vmath.UNARY changes"
    bound = {f"f{i}": vm.FUNCTIONS[name][dtype_index] for i, name in enumerate(names)}
    name = f"{kernel.__name__}_{VMATH_VERSION}"
    fn = types.FunctionType(kernel.__code__, {**kernel.__globals__, **bound}, name)
    fn.__qualname__ = name
    return numba.njit(cache=True, error_model="numpy")(fn)


UNARY_F32, UNARY_F64 = _bind(unary_kernel, UNARY, 0), _bind(unary_kernel, UNARY, 1)
BINARY_F32, BINARY_F64 = _bind(binary_kernel, BINARY, 0), _bind(binary_kernel, BINARY, 1)
KERNELS = {np.float32: (UNARY_F32, BINARY_F32), np.float64: (UNARY_F64, BINARY_F64)}


def sigmoid_ref(x):
    return np.exp(-np.logaddexp(x.dtype.type(0), -x))


def erf_ref(x):
    from scipy.special import erf
    return erf(x.astype(np.float64)).astype(x.dtype) if x.dtype == np.longdouble else erf(x)


def rint_ref(x):
    low = np.floor(x)
    return np.where(x - low > 0.5, np.ceil(x), low)


def round_ref(x):
    t = np.trunc(x)
    return np.where(np.abs(x - t) == 0.5, t + np.sign(x), np.rint(x))


def mod_ref(a, b):
    return np.where(b == 0, a.dtype.type(0), np.mod(a, b))


REFERENCE = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
    "sqrt": np.sqrt, "cbrt": np.cbrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "sigmoid": sigmoid_ref, "erf": erf_ref,
    "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": round_ref, "rint": rint_ref,
    "trunc": np.trunc, "max": np.maximum, "min": np.minimum, "pow": np.power, "mod": mod_ref,
}
WIDER = {np.float32: np.float64, np.float64: np.longdouble}
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, -3.0, 1e-30,
            -1e-30, 1e30, -1e30, 88.75, -88.75, 89.5, -104.0, 710.0, -746.0, 1000.0, -1000.0]


def samples(dtype):
    """About 1e6 values over the whole range of dtype, plus the special values."""
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        bits = np.arange(0, 2 ** 32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
        dense = rng.uniform(-20, 20, 200_000).astype(np.float32)
    else:
        bits = np.arange(0, 2 ** 64 - 2 ** 50, 2 ** 50 + 12345, dtype=np.uint64).view(np.float64)
        dense = np.concatenate([rng.uniform(-20, 20, 400_000), rng.uniform(-1, 1, 100_000),
                                np.exp(rng.uniform(-50, 50, 100_000))])
    near_pio2 = (np.arange(1, 2000) * (np.pi / 2)).astype(dtype)   # argument reduction with cancellation
    x = np.concatenate([bits, dense.astype(dtype), near_pio2, -near_pio2, np.array(SPECIALS, dtype)])
    return x.astype(dtype)


def ulp_error(got, ref, dtype):
    """|got - ref| in units of dtype's ULP at ref (ref in a wider type); 0 where both are equal or both nan."""
    info = np.finfo(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        rounded = ref.astype(dtype)
        ref = ref.astype(np.longdouble)
        got = got.astype(np.longdouble)
    mag = np.abs(ref)
    _, e = np.frexp(np.where(np.isfinite(mag) & (mag > 0), mag, 1))
    ulp = np.ldexp(np.longdouble(1), np.maximum(e - info.nmant - 1, info.minexp - info.nmant))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - ref) / ulp
    # equal to the reference rounded to dtype: exact, and for a reference beyond the range, the same inf
    same = (got == ref) | (got == rounded) | (np.isnan(got) & np.isnan(ref))
    err = np.where(same, 0, np.where(np.isnan(err), np.inf, err))
    return err.astype(np.float64)


@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["float32", "float64"])
def unary_results(request):
    dtype = request.param
    x = samples(dtype)
    out = np.empty((len(UNARY), x.size), dtype)
    KERNELS[dtype][0](x, out)
    return dtype, x, {name: out[i] for i, name in enumerate(UNARY)}


def reference(name, x, dtype):
    with np.errstate(all="ignore"):
        wide = x.astype(WIDER[dtype])
        return REFERENCE[name](wide)


@pytest.mark.parametrize("name", UNARY)
def test_unary_accuracy(unary_results, name):
    dtype, x, got = unary_results
    got = got[name]
    bound = vm.accuracy(name, dtype)
    if bound == 0:      # exact functions: compare with numpy in the same dtype
        with np.errstate(all="ignore"):
            ref = REFERENCE[name](x)
    else:
        ref = reference(name, x, dtype)
    err = ulp_error(got, ref, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= bound, (f"{name} {np.dtype(dtype)}: {err[worst]:.3g} ULP at x={x[worst]!r}: "
                                 f"got {got[worst]!r}, want {ref[worst]!r}")


@pytest.mark.parametrize("name", UNARY)
def test_unary_special_values(unary_results, name):
    dtype, x, got = unary_results
    special = np.isin(np.arange(x.size), np.arange(x.size - len(SPECIALS), x.size))
    xs, gs = x[special], got[name][special]
    with np.errstate(all="ignore"):
        want = REFERENCE[name](xs)
    # exactly special results (inf, nan, zero) must match, with the sign of a zero or an inf
    is_special = ~np.isfinite(want) | (want == 0) | ~np.isfinite(gs) | (gs == 0)
    same = (np.isnan(gs) & np.isnan(want)) | ((gs == want) & (np.signbit(gs) == np.signbit(want)))
    bad = is_special & ~same
    assert not bad.any(), f"{name}: x={xs[bad]} got {gs[bad]} want {want[bad]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_binary(dtype):
    rng = np.random.default_rng(1)
    n = 200_000
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1e-30,
                        1e30], dtype)
    sx, sy = np.meshgrid(special, special)
    x = np.concatenate([rng.uniform(-10, 10, n), np.exp(rng.uniform(-80, 80, n)), sx.ravel()]).astype(dtype)
    y = np.concatenate([rng.uniform(-10, 10, n), rng.uniform(-20, 20, n), sy.ravel()]).astype(dtype)
    y[: n // 4] = np.round(y[: n // 4])               # integer exponents, for pow of negative bases
    out = np.empty((len(BINARY), x.size), dtype)
    KERNELS[dtype][1](x, y, out)
    for i, name in enumerate(BINARY):
        with np.errstate(all="ignore"):
            want = REFERENCE[name](x, y)
            wide = REFERENCE[name](x.astype(WIDER[dtype]), y.astype(WIDER[dtype]))
        got = out[i]
        same = (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))
        is_special = ~np.isfinite(want) | (want == 0)
        bad = is_special & ~same
        assert not bad.any(), f"{name}: x={x[bad][:5]} y={y[bad][:5]} got {got[bad][:5]} want {want[bad][:5]}"
        bound = vm.accuracy(name, dtype)
        err = ulp_error(got, wide if bound else want, dtype)
        worst = int(np.argmax(err))
        assert err[worst] <= bound, f"{name}: {err[worst]} ULP at x={x[worst]!r}, y={y[worst]!r}"


def test_table_covers_the_primitives():
    from jitgrad.ops import PRIMITIVES
    names = set()
    for prim in PRIMITIVES.values():
        expr = prim.expr or ""
        for fn in vm.FUNCTIONS:
            if f"{fn}(" in expr:
                names.add(fn)
    assert names <= set(vm.FUNCTIONS)
    for name, (f32, f64) in vm.FUNCTIONS.items():
        assert vm.accuracy(name, np.float32) >= 0 and vm.accuracy(name, "float64") >= 0
        assert f32.__doc__ is None or isinstance(f32.__doc__, str)


def compiled_loop(fn):
    """`out[i] = fn(x[i])` over float32 arrays, compiled (by one call), to inspect its code."""
    @numba.njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])
    x = np.ones(64, np.float32)
    loop(x, np.empty_like(x))
    return loop


def test_vectorizes():
    """The point of the module: a loop calling exp_f32 compiles to SIMD code (ymm: AVX2, zmm: AVX-512)."""
    loop = compiled_loop(vm.exp_f32)
    asm = loop.inspect_asm(loop.signatures[0])
    assert "ymm" in asm or "zmm" in asm, "exp_f32 did not vectorize"


def _around(points, width=2000):
    """`width` consecutive float32 on each side of each point, both signs."""
    bits = np.concatenate([np.float32(p).view(np.int32) + np.arange(-width, width, dtype=np.int32)
                           for p in points])
    x = bits.view(np.float32)
    return np.concatenate([x, -x])


# where the float32 tanh and sigmoid switch: n = rint(u / ln2) leaving 0 (u = -2|x| for tanh, -|x| for
# sigmoid), the clamps of expm1 (u = -25) and exp (u = -104), the first subnormal result of sigmoid, and
# x = 0 (sigmoid selects its numerator by sign)
SWITCHES = {"tanh": [float(np.log(2) / 4), 12.5, 9.0, 1e-3, 1e-20],
            "sigmoid": [float(np.log(2) / 2), 104.0, 87.33655, 103.28, 1e-3, 1e-20]}


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_f32_branch_switches(name):
    x = _around(SWITCHES[name])
    out = np.empty_like(x)
    compiled_loop(vm.FUNCTIONS[name][0])(x, out)
    ref = reference(name, x, np.float32)
    err = ulp_error(out, ref, np.float32)
    worst = int(np.argmax(err))
    assert err[worst] <= vm.accuracy(name, np.float32), f"{name}: {err[worst]:.3g} ULP at x={x[worst]!r}"
    big = np.abs(x) >= 9.1
    if name == "tanh":      # saturates to exactly +-1
        assert np.array_equal(out[big], np.sign(x[big]))
    else:                   # goes to 0 through the subnormals, monotonically
        y = out[x < -80][np.argsort(x[x < -80])]
        assert (np.diff(y) >= 0).all() and y[0] == 0 and (0 < y[y > 0]).all()
        assert ((y > 0) & (y < np.finfo(np.float32).tiny)).any()
        assert np.array_equal(out[x >= 104], np.ones((x >= 104).sum(), np.float32))
