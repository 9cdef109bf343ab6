"""jitgrad's worker threads: a parallel kernel's chunks run on them, one chunk per thread.

Kernels are compiled without Numba's `parallel=True` (render.py): a kernel call runs a range of its
chunks with the GIL released, so the calling thread runs chunk 0 while persistent worker threads run
the others, and a last call combines the chunks' accumulators. Measured on this VM: handing chunks to
the workers costs about what a Numba prange launch does (a sum over 1e5 floats in two chunks: 99 us
against 94; at 1e6 both 472 us against 827 serial), while Numba's parfor passes made each parallel
kernel's compile 2 to 3 times longer (0.17 against 0.56 s, 0.31 against 0.88 s for the MLP's) and
loading one from disk needed Numba and its threading layer. Nor does an OpenMP runtime spin on the
second core after a call.

The thread count is `JITGRAD_NUM_THREADS`, else the CPUs this process may run on; set_num_threads
changes it. A call that finds the workers busy (another thread of the program is using them) runs its
chunks itself, serially: nothing waits on a pool another caller holds.
"""
from __future__ import annotations

import os
import threading


def _default_threads() -> int:
    value = os.environ.get("JITGRAD_NUM_THREADS", "")
    if value:
        count = int(value) if value.isdigit() else 0
        if count < 1:
            raise ValueError(f"JITGRAD_NUM_THREADS must be a positive integer, not {value!r}")
        return count
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:        # not Linux
        return os.cpu_count() or 1


_threads = _default_threads()


def get_num_threads() -> int:
    """The number of threads (and chunks) a parallel kernel runs on."""
    return _threads


def set_num_threads(count: int) -> None:
    """Run parallel kernels on `count` threads from now on (1: every kernel serially)."""
    global _threads
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads: the thread count must be a positive int, not {count!r}")
    _threads = count


class _Worker:
    """A daemon thread that runs one job at a time: a kernel entry and its arguments."""

    def __init__(self):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.job: tuple = ()
        self.error: BaseException | None = None
        threading.Thread(target=self._serve, name="jitgrad-worker", daemon=True).start()

    def _serve(self):
        while True:
            self.go.acquire()
            entry, args = self.job
            try:
                entry(*args)
            except BaseException as e:   # re-raised by the caller, in its thread
                self.error = e
            del entry, args   # no reference to the arrays while idle (buffers.py counts references)
            self.done.release()

    def start(self, entry, args: tuple):
        self.job, self.error = (entry, args), None
        self.go.release()

    def wait(self):
        self.done.acquire()
        self.job, error, self.error = (), self.error, None
        if error is not None:
            raise error


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()    # held by the one call using the workers
        self.workers: list[_Worker] = []

    def run(self, entry, chunks: int, args: tuple):
        """entry(start, stop, chunks, finish, *args) over all chunks, then the finishing call."""
        resolve = getattr(entry, "resolve", None)    # a launcher's entry before its first call
        if resolve is not None:
            entry = resolve()
        if chunks == 1 or not self.lock.acquire(blocking=False):
            entry(0, chunks, chunks, 1, *args)
            return
        try:
            while len(self.workers) < chunks - 1:
                self.workers.append(_Worker())
            busy = self.workers[:chunks - 1]
            for c, worker in enumerate(busy, 1):
                worker.start(entry, (c, c + 1, chunks, 0, *args))
            try:
                entry(0, 1, chunks, 0, *args)
            finally:
                _wait_all(busy)
        finally:
            self.lock.release()
        entry(chunks, chunks, chunks, 1, *args)


def _wait_all(workers: list) -> None:
    """Wait for every worker, even after one failed; then raise the first failure."""
    errors = []
    for worker in workers:
        try:
            worker.wait()
        except BaseException as e:
            errors.append(e)
    if errors:
        raise errors[0]


_pool = _Pool()


def run_chunks(entry, chunks: int, *args) -> None:
    """Run a kernel entry over its `chunks` chunks on the workers, then combine (see the module doc)."""
    _pool.run(entry, chunks, args)


def _after_fork() -> None:
    global _pool        # a forked child has none of the parent's threads
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
