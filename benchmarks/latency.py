"""Compile latency and the persistent cache: `python -m benchmarks.latency [--repeat 3]`.

Every measurement runs in a fresh subprocess with its own temporary cache directory (cold), or in a
second subprocess sharing the directory a first one filled (warm). Times start after `import jitgrad`:
- first result: the first call (it traces the function and builds the program; its result is the
  traced, eager one);
- compiled result: the first and the second call, i.e. until the compiled kernels have run once
  (Numba compiles, or loads from the disk cache, lazily, on a kernel's first call);
- all cold: also the Numba cache of the vectorized math and helpers (NUMBA_CACHE_DIR in a temporary
  directory), as on the first use of a fresh install;
- new size: in a warm process, the first call with a new input size (a trace and a lookup).
Medians over --repeat runs; targets from the cache issue are printed beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_w1(n: int) -> dict:
    start = time.perf_counter()
    import jitgrad as jg
    from jitgrad import nd
    from benchmarks.workloads import make_w1, nd_w1
    imported = time.perf_counter()
    data = make_w1(n)
    args = [nd.array(data[k]) for k in ("w", "b", "x", "y")]
    vg = jg.value_and_grad(nd_w1, argnums=(0, 1))
    t0 = time.perf_counter()
    vg(*args)
    t1 = time.perf_counter()
    vg(*args)[0].asnumpy()
    t2 = time.perf_counter()
    bigger = make_w1(n + n // 2 + 1)
    new_args = [nd.array(bigger[k]) for k in ("w", "b", "x", "y")]
    t3 = time.perf_counter()
    vg(*new_args)
    t4 = time.perf_counter()
    vg(*new_args)[0].asnumpy()
    t5 = time.perf_counter()
    return {"import": imported - start, "first": t1 - t0, "compiled": t2 - t0, "new_size": t4 - t3,
            "new_size_compiled": t5 - t3, **_stats()}


def child_mlp(batch: int) -> dict:
    import jitgrad as jg
    from jitgrad import nd
    from benchmarks.workloads import make_w4, nd_w4
    data = make_w4(batch)
    args = [nd.array(data[k]) for k in ("W1", "b1", "W2", "b2", "X", "label")]
    vg = jg.value_and_grad(nd_w4, argnums=(0, 1, 2, 3))
    t0 = time.perf_counter()
    vg(*args)
    t1 = time.perf_counter()
    vg(*args)[0].asnumpy()
    t2 = time.perf_counter()
    return {"first": t1 - t0, "compiled": t2 - t0, **_stats()}


def child_import() -> dict:
    start = time.perf_counter()
    import jitgrad  # noqa: F401
    return {"import": time.perf_counter() - start}


def _stats() -> dict:
    from jitgrad.codegen.compile import STATS
    return {"numba_compiles": STATS["numba_compiles"], "disk_loads": STATS["disk_loads"]}


CHILDREN = {"w1": child_w1, "mlp": child_mlp, "import": child_import}


def run_child(case: str, arg, cache: str, numba_cache: str | None = None) -> dict:
    """`numba_cache`: a NUMBA_CACHE_DIR for every cache=True function, so the vectorized math and
    helpers compile too (otherwise their Numba cache in the package directory is usually warm)."""
    env = dict(os.environ, JITGRAD_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # an installed package has its bytecode compiled
    if numba_cache:
        env["NUMBA_CACHE_DIR"] = numba_cache
    env.pop("JITGRAD_LOG", None)
    cmd = [sys.executable, "-m", "benchmarks.latency", "--child", case] + ([str(arg)] if arg else [])
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(repeat: int) -> list[tuple]:
    """(label, median seconds, target seconds or None, compiles/loads note) rows."""
    runs = {k: [] for k in ("w1 cold", "w1 warm", "w1 all cold", "mlp cold", "mlp warm", "import")}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as numba_cache:
            runs["w1 all cold"].append(run_child("w1", 1000, cache, numba_cache))
        with tempfile.TemporaryDirectory() as cache:
            runs["w1 cold"].append(run_child("w1", 1000, cache))
            runs["w1 warm"].append(run_child("w1", 1000, cache))
        with tempfile.TemporaryDirectory() as cache:
            runs["mlp cold"].append(run_child("mlp", 8, cache))
            runs["mlp warm"].append(run_child("mlp", 8, cache))
        runs["import"].append(run_child("import", None, ""))

    def med(case, field):
        return statistics.median(r[field] for r in runs[case])

    def note(case):
        r = runs[case][-1]
        return f"{r['numba_compiles']} compiles, {r['disk_loads']} disk loads"
    return [
        ("W1 N=1e3, cold cache: first result", med("w1 cold", "first"), 1.0, note("w1 cold")),
        ("W1 N=1e3, cold cache: first compiled result", med("w1 cold", "compiled"), 1.0, ""),
        ("W1 N=1e3, cold cache and cold vmath: first compiled result", med("w1 all cold", "compiled"),
         1.0, note("w1 all cold")),
        ("W1 N=1e3, new process, warm cache: first result", med("w1 warm", "first"), 0.05, note("w1 warm")),
        ("W1 N=1e3, new process, warm cache: first compiled result", med("w1 warm", "compiled"), 0.05, ""),
        ("W1 new size in the same process: first call", med("w1 warm", "new_size"), 0.005, ""),
        ("W1 new size in the same process: first compiled call", med("w1 warm", "new_size_compiled"),
         0.005, ""),
        ("MLP 784-512-10 batch 8, cold cache: first compiled result", med("mlp cold", "compiled"), 1.5,
         note("mlp cold")),
        ("MLP 784-512-10 batch 8, warm cache: first compiled result", med("mlp warm", "compiled"), None,
         note("mlp warm")),
        ("import jitgrad", med("import", "import"), 0.3, ""),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, *rest = args.child
        print(json.dumps(CHILDREN[case](*map(int, rest))))
        return 0
    rows = measure(args.repeat)
    print(f"| measurement (median of {args.repeat}) | time | target | |\n|---|---:|---:|---|")
    for label, seconds, target, note in rows:
        goal = f"< {target * 1e3:.0f} ms" if target else ""
        print(f"| {label} | {seconds * 1e3:.1f} ms | {goal} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
