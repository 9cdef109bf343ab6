"""float32 sin, cos, tan of jitgrad.codegen.vmath: the fast paths (float32 for sin and cos below
SINCOS_LIMIT_F32, float64 up to FAST_LIMIT_F32), the Payne-Hanek tail beyond FAST_LIMIT_F32 and the vector
versions of the tail call that route lanes between them.

The error is measured in ULP of the result against numpy's float64 function, as in tests/test_vmath.py. The
bound there covers a dense sample of the whole range; here: bit patterns at a stride over both signs, values
on both sides of the limit, arrays in which only some lanes of a vector are big (in a loop that vectorizes, a
parallel one and the scalar function), and special values with the sign of zero.
"""
import math
import re

import numba
import numpy as np
import pytest

from jitgrad.codegen import vmath as vm
from jitgrad.codegen.vmath import trig

from test_vmath import compiled_loop

NAMES = ["sin", "cos", "tan"]
LIMIT = float(trig.FAST_LIMIT_F32)
# where each function's lanes change path: the tail call's limit first
LIMITS = {"sin": [float(trig.SINCOS_LIMIT_F32), LIMIT], "cos": [float(trig.SINCOS_LIMIT_F32), LIMIT],
          "tan": [LIMIT]}


def _kernel(fn):
    @numba.njit(error_model="numpy")
    def serial(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])

    @numba.njit(error_model="numpy", parallel=True)
    def parallel(x, out):
        for i in numba.prange(x.size):
            out[i] = fn(x[i])
    return serial, parallel


KERNELS = {name: _kernel(vm.FUNCTIONS[name][0]) for name in NAMES}


def ulp_error(got, x, name):
    with np.errstate(all="ignore"):
        ref = getattr(np, name)(x.astype(np.float64))
    mag = np.abs(ref)
    _, e = np.frexp(np.where(np.isfinite(mag) & (mag > 0), mag, 1))
    ulp = np.ldexp(1.0, np.maximum(e - 24, -149))
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64) - ref) / ulp
    same = (got == ref.astype(np.float32)) | (np.isnan(got) & np.isnan(ref))
    return np.where(same, 0, np.where(np.isnan(err), np.inf, err))


def run(name, x, kind="serial"):
    out = np.empty_like(x)
    KERNELS[name][0 if kind == "serial" else 1](x, out)
    return out


def check(name, x, got):
    err = ulp_error(got, x, name)
    worst = int(np.argmax(err))
    assert err[worst] <= vm.accuracy(name, np.float32), \
        f"{name}: {err[worst]:.3g} ULP at x={x[worst]!r}: got {got[worst]!r}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sign", [0, 0x80000000], ids=["positive", "negative"])
def test_strided_bit_patterns(name, sign):
    """Every 1009th float32 of one sign, subnormals to the largest finite value, and inf and nan."""
    bits = np.arange(0, 0x7F800001 + 1009, 1009, dtype=np.uint64).astype(np.uint32) | np.uint32(sign)
    x = bits.view(np.float32)
    check(name, x, run(name, x))


@pytest.mark.parametrize("name", NAMES)
def test_around_the_limits(name):
    """A few hundred float32 on each side of each limit and near multiples of pi/2 there, both signs."""
    parts = []
    for limit in LIMITS[name]:
        at = np.float32(limit).view(np.int32)
        parts.append(np.arange(at - 300, at + 300, dtype=np.int32).view(np.float32))
        k = np.round(limit / (math.pi / 2)) + np.arange(-2000, 2000)
        parts.append((k * (math.pi / 2)).astype(np.float32))
    x = np.concatenate(parts)
    x = np.concatenate([x, -x])
    check(name, x, run(name, x))


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_float32_path_near_multiples_of_pio2(name):
    """The float32 reduction where it cancels most: the float32 nearest to k pi/2 and its neighbours, for
    every k up to SINCOS_LIMIT_F32 (the limit itself excluded), both signs."""
    limit = float(trig.SINCOS_LIMIT_F32)
    k = np.arange(1, int(limit / (math.pi / 2)) + 1)
    near = (k * (math.pi / 2)).astype(np.float32).view(np.int32)
    x = (near[:, None] + np.arange(-2, 3, dtype=np.int32)).ravel().view(np.float32)
    x = x[np.abs(x) < limit]
    x = np.concatenate([x, -x])
    check(name, x, run(name, x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["serial", "parallel", "scalar"])
def test_some_lanes_big(name, kind):
    """Arrays in which some lanes of a vector are beyond the limit (one, a few, all) give each element its own
    value, whichever way the loop was compiled."""
    rng = np.random.default_rng(0)
    n = 4099
    x = rng.uniform(-10, 10, n).astype(np.float32)
    low = LIMITS[name][0]
    big = np.exp(rng.uniform(math.log(low), 88, n)).astype(np.float32) * rng.choice([-1, 1], n)
    x[::17] = big[::17]
    x[1000:1040] = big[1000:1040]          # whole vectors of big lanes
    x[2000:2003] = [np.inf, -np.inf, np.nan]
    x[3000:3004] = [low, -low, LIMIT, -LIMIT]
    if kind == "scalar":
        fn = vm.FUNCTIONS[name][0]
        got = np.array([fn(v) for v in x[:600]], np.float32)
        x = x[:600]
    else:
        got = run(name, x, kind)
    check(name, x, got)
    # the same values, each alone, agree bit for bit with the vectorized loop
    if kind == "serial":
        fn = vm.FUNCTIONS[name][0]
        alone = np.array([fn(v) for v in x[:300]], np.float32)
        assert np.array_equal(alone.view(np.int32), got[:300].view(np.int32))


@pytest.mark.parametrize("name", NAMES)
def test_special_values(name):
    tiny = np.float32(1e-40)                 # subnormal
    x = np.array([0.0, -0.0, tiny, -tiny, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 3e38, -3e38], np.float32)
    for got in (run(name, x), np.array([vm.FUNCTIONS[name][0](v) for v in x], np.float32)):
        with np.errstate(invalid="ignore"):
            want = getattr(np, name)(x.astype(np.float64)).astype(np.float32)
        assert np.array_equal(np.isnan(got), np.isnan(want)), (x, got, want)
        finite = ~np.isnan(want)
        assert np.array_equal(got[finite], want[finite]), (x, got, want)
        assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite])), (x, got, want)


def test_vectorized_loop_calls_the_vector_version():
    """The point of the tail call: a loop calling sin_f32 vectorizes with one call of a vector version per
    vector, not with Payne-Hanek (table gathers) on every lane."""
    loop = compiled_loop(vm.sin_f32)
    llvm_ir = loop.inspect_llvm(loop.signatures[0])
    body = llvm_ir.split("vector.body", 1)[1].split("middle.block", 1)[0]
    assert re.search(r"call <(8|16) x float> @jitgrad_vmath_sin_tail_f32_\w+_N(8|16)\(", body), \
        "the loop did not call an 8- or 16-lane vector version"
    assert "gather" not in body
