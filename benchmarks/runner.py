"""Time one benchmark case (a workload at one size) in this process; run by `python -m benchmarks`
as `python -m benchmarks.runner W1 1000000 --out case.json ...`, one process per case.

For every implementation: build, warm up (the first calls are timed separately: they trace and
compile), check against the numpy reference, then time all implementations interleaved round-robin
(the starting implementation rotates each round), each sample a batch of calls long enough to time
and preceded by an idle gap, so that one implementation's spinning worker threads (OpenBLAS spins
about 100 ms after a BLAS call, OpenMP runtimes too) do not steal the cores from the next one's, then
by untimed calls of the same implementation (`warm` seconds): after the gap a halted second vCPU
wakes slowly, and for 50 to 300 ms a parallel implementation here runs at about its one-thread speed
(measured: W1 value_and_grad at 1e6, 0.87 ms per call with 50 ms of warm calls, 0.59 ms with 300 ms,
0.57 ms with no gap at all; a serial loop shows no such ramp), which a loop calling back to back
never sees;
and finally check again and measure peak memory of one call. Exit status 3 on a mismatch.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import sys
import time
import tracemalloc
import traceback

import numpy as np

from .workloads import IMPLS, WORKLOADS, Mismatch, Skip, build_numpy, check, count_ops

WARMUP_CALLS = 3


# ---- memory -------------------------------------------------------------------------------------

def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")       # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)   # give freed heap pages back, so reuse is counted
    except (OSError, AttributeError):
        pass


def peak_memory(step) -> dict:
    """Peak RSS growth over one call (all allocators: numpy, Numba, torch, XLA), and the peak of
    Python/numpy allocations seen by tracemalloc (numpy and jitgrad only are meaningful there)."""
    out = {"rss_peak_delta": None, "tracemalloc_peak": None}
    _trim()
    base = _status("VmRSS")
    if base is not None and _reset_peak():
        r = step()
        hwm = _status("VmHWM")
        del r
        out["rss_peak_delta"] = max(0, hwm - base) if hwm is not None else None
    _trim()
    tracemalloc.start()
    r = step()
    out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    del r
    tracemalloc.stop()
    return out


# ---- timing -------------------------------------------------------------------------------------

def _time_calls(step, k: int) -> float:
    t0 = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - t0) / k


def run_case(workload: str, size: int, impls: list[str], rounds: int, sample: float,
             bandwidth: float | None, gap: float = 0.15, warm: float = 0.25, log=print) -> dict:
    wl = WORKLOADS[workload]
    data = wl.make(size, 0)
    ref_step, ref_fetch = build_numpy(wl, data)
    want = ref_fetch(ref_step())
    in_bytes = sum(v.nbytes for v in data.values())
    out_bytes = 4 + sum(np.asarray(g).nbytes for g in want[1])
    result = {"workload": workload, "size": size, "title": wl.title, "describe": wl.describe(size),
              "unit": wl.unit, "bytes": in_bytes + out_bytes,
              "floor_s": (in_bytes + out_bytes) / bandwidth if bandwidth and wl.roofline else None,
              "impls": {}, "skipped": {}, "errors": {}}

    live = {}
    for name in impls:
        impl = IMPLS[name]
        try:
            step, fetch = impl.build(wl, data)
            first = []
            out = None
            for _ in range(WARMUP_CALLS):
                t0 = time.perf_counter()
                out = step()
                first.append(time.perf_counter() - t0)
            got = fetch(out)
            del out
        except Skip as e:
            result["skipped"][name] = str(e)
            log(f"  {name}: skipped: {e}")
            continue
        except Exception as e:  # noqa: BLE001
            if impl.peer:
                msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
                result["skipped"][name] = f"failed to run here: {msg}"
                log(f"  {name}: skipped, it failed to run: {msg}")
                continue
            raise
        check(wl, name, got, want)          # Mismatch propagates: a loud failure
        per_call = _time_calls(step, 1)
        k = max(1, min(100_000, math.ceil(sample / max(per_call, 1e-9))))
        live[name] = (step, fetch, k, max(1, min(100_000, math.ceil(warm / max(per_call, 1e-9)))))
        result["impls"][name] = {"first_calls_s": first, "k": k, "samples_s": []}
        if impl.counts_ops:
            result["impls"][name]["ops_per_call"] = count_ops(step)

    names = list(live)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)] if names else []
        for name in order:
            step, _, k, k_warm = live[name]
            time.sleep(gap)   # let the previous runtime's spinning threads (OpenBLAS, OpenMP) go idle
            _time_calls(step, k_warm)   # then wake this one's cores (see the module doc)
            result["impls"][name]["samples_s"].append(_time_calls(step, k))

    for name in names:
        step, fetch, _, _ = live[name]
        check(wl, name, fetch(step()), want)  # still right after the timed calls
        rec = result["impls"][name]
        s = np.array(rec["samples_s"])
        rec["median_s"] = float(np.median(s))
        rec["min_s"] = float(s.min())
        rec["warmup_excess_s"] = float(max(0.0, sum(rec["first_calls_s"]) - WARMUP_CALLS * rec["min_s"]))
        rec.update(peak_memory(step))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("size", type=int)
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--sample", type=float, default=0.05, help="seconds per timed sample (a batch)")
    p.add_argument("--gap", type=float, default=0.15, help="idle seconds before each sample")
    p.add_argument("--warm", type=float, default=0.25, help="seconds of untimed calls after the gap")
    p.add_argument("--bandwidth", type=float, default=None, help="copy bandwidth, bytes/s")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    impls = [i for i in a.impls.split(",") if i]
    status = 0
    try:
        res = run_case(a.workload, a.size, impls, a.rounds, a.sample, a.bandwidth, a.gap, a.warm,
                       log=lambda m: print(m, flush=True))
    except Mismatch as e:
        res = {"workload": a.workload, "size": a.size, "mismatch": str(e)}
        print(f"MISMATCH: {e}", file=sys.stderr, flush=True)
        status = 3
    except Exception as e:  # noqa: BLE001
        res = {"workload": a.workload, "size": a.size,
               "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        traceback.print_exc()
        status = 4
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
