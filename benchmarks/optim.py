"""Time one optimizer step, eager vs compiled, for a few model sizes (float32, two-layer-MLP shapes).

    python -m benchmarks.optim [--repeat 20]

'eager' runs the update rule op by op (numpy calls with temporaries), 'compiled' runs it as one fused
program (jitgrad.compile), 'numpy in-place' is a hand-written in-place numpy update (PyTorch-style
foreach loop) for scale. 'first 2 calls' is the compiled step's first two calls: trace, then Numba
compiling the kernels (kernels are shared between sizes and cached on disk, so later rows and later
runs pay less). Each number is the best of --repeat batches of calls: on
a shared machine the best is the least disturbed. This is where COMPILE_MIN_ELEMENTS comes from.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import jitgrad as jg
from jitgrad import nd

HIDDEN = [4, 32, 512, 4096]   # an MLP 64 -> hidden -> 10: about 75 * hidden parameters


def mlp_params(hidden: int) -> list:
    shapes = [(hidden, 64), (hidden,), (10, hidden), (10,)]
    params = [nd.array(np.random.default_rng(0).normal(size=s) * 0.1) for s in shapes]
    for p in params:
        p.attach_grad()
        p.grad[:] = 0.01
    return params


def numpy_adam(params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """The same rule written in place with numpy, as a reference point."""
    data = [np.asarray(p) for p in params]
    grads = [p.grad.asnumpy() for p in params]
    m = [np.zeros_like(d) for d in data]
    v = [np.zeros_like(d) for d in data]
    state = {"t": 0}

    def step():
        state["t"] += 1
        t = state["t"]
        for d, g, mi, vi in zip(data, grads, m, v):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            vi += (1 - b2) * g * g
            denom = np.sqrt(vi)
            denom /= np.sqrt(1 - b2 ** t)
            denom += eps
            d -= (lr / (1 - b1 ** t)) * mi / denom
    return step


def best_per_call(step, repeat: int) -> float:
    step()
    calls = 1
    while True:  # a batch long enough to time
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        if time.perf_counter() - t0 > 0.02:
            break
        calls *= 2
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def measure(name: str, make, hidden: int, repeat: int) -> dict:
    row = {"optimizer": name, "elements": sum(p.size for p in mlp_params(hidden))}
    for mode, compiled in (("eager", False), ("compiled", True)):
        params = mlp_params(hidden)
        opt = make(params, compiled)
        t0 = time.perf_counter()
        opt.step()  # traces (and runs eagerly)
        opt.step()  # Numba compiles the kernels on their first run
        if compiled:
            row["first calls"] = time.perf_counter() - t0
        row[mode] = best_per_call(opt.step, repeat)
    if name == "Adam":
        row["numpy in-place"] = best_per_call(numpy_adam(mlp_params(hidden)), repeat)
    return row


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    optimizers = {"SGD momentum": lambda ps, c: jg.optim.SGD(ps, lr=1e-3, momentum=0.9, compiled=c),
                  "Adam": lambda ps, c: jg.optim.Adam(ps, lr=1e-3, compiled=c)}
    rows = [measure(name, make, h, args.repeat) for name, make in optimizers.items() for h in HIDDEN]
    print(f"{'optimizer':<14}{'elements':>10}{'eager':>12}{'compiled':>12}{'speed-up':>10}"
          f"{'numpy in-place':>16}{'first 2 calls':>15}")
    for r in rows:
        numpy_time = f"{1e6 * r['numpy in-place']:.1f} us" if "numpy in-place" in r else ""
        print(f"{r['optimizer']:<14}{r['elements']:>10}{1e6 * r['eager']:>9.1f} us"
              f"{1e6 * r['compiled']:>9.1f} us{r['eager'] / r['compiled']:>9.1f}x{numpy_time:>16}"
              f"{r['first calls']:>13.2f} s")
    return rows


if __name__ == "__main__":
    main()
