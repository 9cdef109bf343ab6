"""Time jitgrad.codegen.vmath against numpy and against Numba calling libm, over 1e7 float32 elements.

    python benchmarks/vmath_speed.py [--threads N] [--rounds R] [--range LO HI] [name ...]

Columns: numpy's ufunc (into a preallocated output, one thread), a Numba prange loop calling the vmath
function, and the same loop calling numpy's function (which Numba lowers to a scalar libm call). Each is the
best of REPEATS runs: on a shared 2-core machine, medians of parallel loops mostly measure who else is running
(a descheduled thread shows up as a whole 4 ms scheduler tick). --threads 1 compares per core with numpy.
--rounds R repeats the three measurements R times, interleaved, and keeps each one's best, so that a burst
of load from other processes does not hit one column only. --range LO HI draws the inputs from [LO, HI)
instead of the function's default domain (sin, cos and tan take a different path for |x| >= 2^32).
"""
import sys
import time

import numba
import numpy as np

from jitgrad.codegen import vmath as vm

N = 10 ** 7
REPEATS = 15
NUMPY = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
         "log10": np.log10, "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "tan": np.tan, "sinh": np.sinh,
         "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh}
DOMAIN = {"log": (0.01, 100), "log2": (0.01, 100), "log10": (0.01, 100), "log1p": (-0.9, 100),
          "acosh": (1, 100), "atanh": (-0.99, 0.99), "sigmoid": (-20, 20)}


def numpy_sigmoid(x, out):
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


def loop_for(fn):
    @numba.njit(parallel=True, error_model="numpy")
    def loop(x, out):
        for i in numba.prange(x.size):
            out[i] = fn(x[i])
    return loop


@numba.njit(inline="always")
def libm_sigmoid(x):
    return np.float32(1) / (np.float32(1) + np.exp(-x))


def libm_for(name):
    if name == "sigmoid":
        return libm_sigmoid
    ufunc = NUMPY[name]

    @numba.njit(inline="always")
    def f(x):
        return ufunc(x)
    return f


def best_ms(run):
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 1e3 * min(times)


def main(names, rounds=1, domain=None):
    rng = np.random.default_rng(0)
    print(f"{N:.0e} float32 elements, {numba.get_num_threads()} threads, best of {REPEATS} (ms)")
    print(f"{'function':10s} {'numpy':>9s} {'vmath':>9s} {'numba+libm':>11s} {'numpy/vmath':>12s}")
    for name in names:
        lo, hi = domain or DOMAIN.get(name, (-10, 10))
        x = rng.uniform(lo, hi, N).astype(np.float32)
        out = np.empty_like(x)
        fast = loop_for(vm.FUNCTIONS[name][0])
        slow = loop_for(libm_for(name))
        fast(x, out)
        slow(x, out)
        t_np = t_fast = t_slow = np.inf
        for _ in range(rounds):
            if name == "sigmoid":
                t_np = min(t_np, best_ms(lambda: numpy_sigmoid(x, out)))
            else:
                t_np = min(t_np, best_ms(lambda: NUMPY[name](x, out=out)))
            t_fast = min(t_fast, best_ms(lambda: fast(x, out)))
            t_slow = min(t_slow, best_ms(lambda: slow(x, out)))
        print(f"{name:10s} {t_np:9.2f} {t_fast:9.2f} {t_slow:11.2f} {t_np / t_fast:11.1f}x")


if __name__ == "__main__":
    args = sys.argv[1:]
    rounds, domain = 1, None
    while args[:1] and args[0].startswith("--"):
        if args[0] == "--threads":
            numba.set_num_threads(int(args[1]))
            args = args[2:]
        elif args[0] == "--rounds":
            rounds = int(args[1])
            args = args[2:]
        elif args[0] == "--range":
            domain = (float(args[1]), float(args[2]))
            args = args[3:]
        else:
            sys.exit(f"unknown option {args[0]}")
    main(args or ["exp", "expm1", "log", "log1p", "tanh", "sigmoid", "sin", "cos", "tan", "log2",
                          "log10", "sinh", "cosh", "asinh", "acosh", "atanh"], rounds, domain)
