"""W1: value and gradient of sum((tanh(x*w+b)-y)**2) w.r.t. w and b, as the traced graph looks before
simplification, compiled to a Program and timed against numpy written by hand.

    python benchmarks/fused_w1.py [N ...]
"""
from __future__ import annotations

import sys
import time

import numpy as np

from jitgrad.codegen.program import build_program
from jitgrad.ir.graph import Graph, interpret
from jitgrad.ops import PRIMITIVES


def w1_graph(n: int, dtype=np.float32) -> Graph:
    """x, y: [n]; w, b: [1]. Outputs (loss, dw, db), each [1]."""
    g = Graph()
    x, y = g.add_input((n,), dtype), g.add_input((n,), dtype)
    w, b = g.add_input((1,), dtype), g.add_input((1,), dtype)
    two, one = g.add_literal(np.array(2.0, dtype)), g.add_literal(np.array(1.0, dtype))
    ones = g.add_literal(np.ones(1, dtype))

    def op(name, *ins, shape=(n,), **attrs):
        return g.add_eqn(PRIMITIVES[name], ins, attrs, shape, dtype)

    t3 = op("tanh", op("add", op("multiply", x, w), b))
    t4 = op("subtract", t3, y)
    loss = op("sum", op("power", t4, two), axes=(0,), keepdims=False, shape=(1,))
    # backward, as the eager rules trace it: seed, power rule g*y*x**(y-1), tanh rule, unbroadcast
    seed = g.add_eqn(PRIMITIVES["broadcast_to"],
                     (g.add_eqn(PRIMITIVES["reshape"], (ones,), {"shape": (1,)}, (1,), dtype),),
                     {"shape": (n,)}, (n,), dtype)
    d4 = op("multiply", op("multiply", seed, two), op("power", t4, op("subtract", two, one, shape=())))
    d2 = op("multiply", d4, op("subtract", one, op("multiply", t3, t3)))
    d1 = op("multiply", d2, one)
    db = g.add_eqn(PRIMITIVES["reshape"], (op("sum", d2, axes=(0,), keepdims=True, shape=(1,)),),
                   {"shape": (1,)}, (1,), dtype)
    dw = g.add_eqn(PRIMITIVES["reshape"], (op("sum", op("multiply", d1, x), axes=(0,), keepdims=True,
                                                  shape=(1,)),), {"shape": (1,)}, (1,), dtype)
    g.outputs = [loss, dw, db]
    return g


def numpy_w1(x, y, w, b):
    t = np.tanh(x * w + b)
    r = t - y
    d2 = 2 * r * (1 - t * t)
    return np.sum(r * r), np.sum(d2 * x), np.sum(d2)


def median_time(fn, repeat=50):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(sizes):
    rng = np.random.default_rng(0)
    for n in sizes:
        x, y = rng.standard_normal(n, np.float32), rng.standard_normal(n, np.float32)
        w, b = np.array([0.7], np.float32), np.array([0.1], np.float32)
        t0 = time.perf_counter()
        prog = build_program(w1_graph(n), "w1")
        args = [x, y, w, b]
        got = prog(args)
        first = time.perf_counter() - t0
        want = interpret(w1_graph(n), args)
        for a, e in zip(got, want, strict=True):
            np.testing.assert_allclose(a, e, rtol=1e-4)
        bufs = {1: np.empty(1, np.float32), 2: np.empty(1, np.float32)}
        t_prog = median_time(lambda: prog(args))
        t_bufs = median_time(lambda: prog(args, bufs))
        t_np = median_time(lambda: numpy_w1(x, y, w, b))
        print(f"N={n:>9}: build+first call {first:6.2f} s | program {t_prog * 1e3:7.3f} ms | "
              f"into buffers {t_bufs * 1e3:7.3f} ms | numpy {t_np * 1e3:7.3f} ms | "
              f"{len(prog.kernels)} kernel(s)")


if __name__ == "__main__":
    main([int(float(s)) for s in sys.argv[1:]] or [1000, 10 ** 6, 10 ** 7])
