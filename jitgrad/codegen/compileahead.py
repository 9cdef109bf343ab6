"""A program's kernels compiled in two processes at once: this one and a helper it starts.

Numba compiles one function at a time per process (a global lock), 0.1 to 0.4 s per kernel here, so a
cold program of six kernels spends most of its first call compiling one after the other. When a
program runs for the first time and several of its kernels are neither in memory nor on disk,
`plan` gives the later ones (by the order they run) to a helper process, `python -m
jitgrad.codegen.compileahead`, which compiles them into the disk cache while this process compiles
the first ones; when the program reaches a kernel the helper has, it waits for the helper's word and
loads the machine code from disk (compile.CompiledKernel). The helper costs about 0.5 s to start
(Python, Numba and its setup), so it is used only where the estimated finish is earlier by at least
`MIN_SAVING` seconds; the estimate counts source lines (about 6.5 ms of compile per line here).
Measured (benchmarks/latency.py, medians): the MLP 784-512-10's first compiled result, cold, 2098
ms alone and 1405 ms with a helper compiling three of its six kernels.

A helper that fails or dies only costs time: whatever it did not report done is compiled here.
It needs the disk cache, machine-code storage (compile.native_enabled) and two or more threads
(threads.get_num_threads); `JITGRAD_COMPILE_AHEAD=0` turns it off.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from ..cache import cache_dir
from . import compile as jcompile
from .threads import get_num_threads

SECONDS_PER_LINE = 0.0065      # compile time per kernel source line, measured on the MLP's kernels
HELPER_START = 0.5             # s until a helper process can compile: Python, jitgrad, Numba, setup
NUMBA_START = 0.33             # s this process needs first if it has not imported Numba yet
MIN_SAVING = 0.15              # s the helper must save, by the estimate, to be worth starting
TIMEOUT = 300.0                # s to wait for one kernel before compiling it here
COMMAND = [sys.executable, "-m", "jitgrad.codegen.compileahead"]   # the helper


def enabled() -> bool:
    """On unless turned off, with two or more threads, and where sys.executable is a Python that can
    run the helper (not in a frozen application)."""
    return (os.environ.get("JITGRAD_COMPILE_AHEAD", "1") != "0" and get_num_threads() >= 2
            and bool(sys.executable) and not getattr(sys, "frozen", False))


def split(costs: list[float], numba_started: bool) -> int:
    """How many of the kernels (costs in seconds, in the order they run) this process compiles
    itself: the rest go to a helper. len(costs) when a helper would not save MIN_SAVING."""
    start = 0.0 if numba_started else NUMBA_START
    alone = start + sum(costs)
    best, best_finish = len(costs), alone
    for mine in range(1, len(costs)):
        finish = max(start + sum(costs[:mine]), HELPER_START + sum(costs[mine:]))
        if finish < best_finish:
            best, best_finish = mine, finish
    return best if alone - best_finish >= MIN_SAVING else len(costs)


def plan(jobs: list) -> None:
    """`jobs`: (CompiledKernel, argument types) for each kernel entry a program's first run needs that
    is neither in memory nor on disk, in the order they run. Starts a helper for the later ones if it
    pays, registering each with its kernel (kernel.ahead[types])."""
    if len(jobs) < 2 or not enabled():
        return
    costs = [SECONDS_PER_LINE * kernel.source.count("\n") for kernel, _ in jobs]
    mine = split(costs, "numba" in sys.modules)
    if mine == len(jobs):
        return
    theirs = jobs[mine:]
    try:
        helper = Helper([(kernel.source, types) for kernel, types in theirs])
    except OSError as e:       # no process to be had: everything compiles here
        jcompile.log.info("jitgrad: cannot start a helper process to compile kernels (%s)", e)
        return
    jcompile.log.info("jitgrad: compiling %d of %d kernels in a helper process (pid %d) meanwhile",
                   len(theirs), len(jobs), helper.process.pid)
    for i, (kernel, types) in enumerate(theirs):
        kernel.ahead[types] = (helper, i)


class Helper:
    """One helper process, and what it has reported: which of its jobs are done."""

    def __init__(self, jobs: list):
        self.done: dict[int, str | None] = {}     # job -> None, or why the helper could not compile it
        self.ended = False
        self.changed = threading.Condition()
        env = dict(os.environ, JITGRAD_CACHE_DIR=cache_dir() or "", JITGRAD_COMPILE_AHEAD="0")
        env.pop("JITGRAD_LOG", None)
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
        self.process = subprocess.Popen(
            COMMAND, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        threading.Thread(target=self._read, args=(json.dumps([[src, list(t)] for src, t in jobs]),),
                         name="jitgrad-compile-ahead", daemon=True).start()

    def _read(self, request: str):
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(request)
            process.stdin.close()
            for line in process.stdout:
                if line.startswith("{"):
                    report = json.loads(line)
                    with self.changed:
                        self.done[report["job"]] = report["error"]
                        self.changed.notify_all()
        except (OSError, ValueError, KeyError):    # the helper died mid-line: what is left compiles here
            pass
        process.wait()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait(self, job: int) -> str | None:
        """Until the helper reports job `job`: None when it is compiled and stored, else why not."""
        with self.changed:
            if not self.changed.wait_for(lambda: job in self.done or self.ended, TIMEOUT):
                self.process.kill()       # hung: the reader sees it end
                return f"no answer in {TIMEOUT:.0f} s"
            return self.done.get(job, f"the helper process ended (exit code {self.process.returncode})")


def _jobs_from(text: str) -> list:
    def as_type(t):
        return t if isinstance(t, str) else (t[0], t[1], t[2], t[3])
    return [(source, tuple(as_type(t) for t in types)) for source, types in json.loads(text)]


def main() -> int:
    """The helper: compile each job's kernel entry into the disk cache; report each as it is done."""
    for job, (source, types) in enumerate(_jobs_from(sys.stdin.read())):
        error = None
        try:
            with jcompile.compile_cause("compiled ahead for another process"):
                jcompile.load(source).entry(types)
        except Exception as e:     # reported; the parent compiles it itself
            error = f"{type(e).__name__}: {e}"
        print(json.dumps({"job": job, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
