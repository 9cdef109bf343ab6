"""Run the jitgrad benchmark suite: `python -m benchmarks [--quick] [--workloads W1,W3] [--docs]`.

Each case (a workload at one size) runs in its own subprocess (`benchmarks.runner`); the results
(Markdown table, JSON, PNG plot) go to benchmarks/results/<timestamp>/. See docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from . import report
from .workloads import IMPLS, WORKLOADS, cases, have

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def copy_bandwidth(nbytes: int = 256 * 2 ** 20, repeat: int = 10) -> float:
    """Bytes moved per second by np.copyto of a large float32 array, counting one read and one
    write per element (the convention of the memory floor); best of `repeat`."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)   # fault the pages in
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeat))
    return 2 * nbytes / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def environment() -> dict:
    env = {"python": platform.python_version(), "platform": platform.platform(),
           "cpus": os.cpu_count(), "cpu": _cpu_model(), "numpy": np.__version__,
           "env": {k: v for k, v in os.environ.items()
                   if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_", "JITGRAD", "XLA_", "TORCH"))}}
    import numba
    env["numba"] = numba.__version__
    import jitgrad
    env["jitgrad"] = jitgrad.__version__
    try:
        env["git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "jitgrad"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        env["git_dirty_jitgrad"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    for mod in ("torch", "jax", "matplotlib"):
        if have(mod):
            try:
                env[mod] = __import__(mod).__version__
            except Exception as e:  # noqa: BLE001
                env[mod] = f"import failed: {e}"
    try:
        cfg = np.show_config(mode="dicts")
        env["blas"] = cfg.get("Build Dependencies", {}).get("blas", {}).get("name")
    except Exception:  # noqa: BLE001
        pass
    return env


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="7 rounds of short samples (about a minute "
                   "plus compile time); the full run uses 15 rounds of 50 ms samples")
    p.add_argument("--workloads", default="", help="comma-separated subset, e.g. W1,W5")
    p.add_argument("--impls", default="", help="comma-separated subset of: " + ", ".join(IMPLS))
    p.add_argument("--rounds", type=int, default=None, help="rounds (at least 7)")
    p.add_argument("--gap", type=float, default=0.15, help="idle seconds before each timed sample "
                   "(lets other runtimes' spinning threads go idle)")
    p.add_argument("--warm", type=float, default=None, help="seconds of untimed calls of the same "
                   "implementation after the gap, before the timed sample (0.25; 0.05 with --quick)")
    p.add_argument("--out", default=str(HERE / "results"), help="results folder (a timestamped "
                   "subfolder is made in it)")
    p.add_argument("--docs", action="store_true", help="also update docs/performance.md and "
                   "docs/performance.png with this run")
    a = p.parse_args(argv)

    rounds = max(7, a.rounds or (7 if a.quick else 15))
    sample = 0.01 if a.quick else 0.05
    a.warm = a.warm if a.warm is not None else (0.05 if a.quick else 0.25)
    wanted = [w.strip().upper() for w in a.workloads.split(",") if w.strip()] or list(WORKLOADS)
    impls = [i.strip() for i in a.impls.split(",") if i.strip()] or list(IMPLS)
    for i in impls:
        if i not in IMPLS:
            p.error(f"unknown implementation {i!r}")
    if "numpy" not in impls:
        impls.insert(0, "numpy")   # the reference is always timed

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = Path(a.out) / stamp
    outdir.mkdir(parents=True, exist_ok=True)
    env = environment()
    print(f"jitgrad benchmarks -> {outdir}")
    print(f"  {env['cpu']}, {env['cpus']} cpus; python {env['python']}, numpy {env['numpy']}, "
          f"numba {env['numba']}" + "".join(f", {m} {env[m]}" for m in ("torch", "jax") if m in env))
    for note in report.environment_notes(env, impls):
        print("  note: " + note)
    bw = copy_bandwidth()
    print(f"  copy bandwidth (np.copyto, read+write): {bw / 1e9:.1f} GB/s")

    run = {"timestamp": stamp, "quick": a.quick, "rounds": rounds, "sample_s": sample, "gap_s": a.gap, "warm_s": a.warm,
           "bandwidth_Bps": bw, "environment": env, "cases": []}
    failures = []
    for wl_name, size in cases():
        if wl_name not in wanted:
            continue
        wl = WORKLOADS[wl_name]
        print(f"{wl_name} {wl.describe(size)}: {wl.title}", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            case_json = tmp.name
        cmd = [sys.executable, "-m", "benchmarks.runner", wl_name, str(size), "--impls", ",".join(impls),
               "--rounds", str(rounds), "--sample", str(sample), "--gap", str(a.gap), "--warm", str(a.warm), "--bandwidth", str(bw),
               "--out", case_json]
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT)
        try:
            with open(case_json) as f:
                res = json.load(f)
        except (OSError, ValueError):
            res = {"workload": wl_name, "size": size, "error": f"runner exited {proc.returncode} "
                   "without results"}
        finally:
            try:
                os.unlink(case_json)
            except OSError:
                pass
        res["wall_s"] = time.perf_counter() - t0
        res["loadavg_before"] = load0
        run["cases"].append(res)
        if "mismatch" in res or "error" in res or proc.returncode:
            failures.append(res)
            print("!" * 78 + f"\n{wl_name} {size}: " + res.get("mismatch", res.get("error", "failed"))
                  + "\n" + "!" * 78, file=sys.stderr, flush=True)
            if "mismatch" in res:
                break        # a wrong answer: stop, loudly
            continue
        print(report.case_line(res), flush=True)

    (outdir / "results.json").write_text(json.dumps(run, indent=1))
    md = report.markdown(run)
    (outdir / "results.md").write_text(md)
    plot_note = report.plot(run, outdir / "performance.png")
    if plot_note:
        print("note: " + plot_note)
    print()
    print(md)
    if a.docs and not failures:
        report.update_docs(run, md, outdir / "performance.png", ROOT / "docs")
        print("updated docs/performance.md" + ("" if plot_note else " and docs/performance.png"))
    if failures:
        print(f"FAILED: {len(failures)} case(s) failed; see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
