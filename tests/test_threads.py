"""Threads: recording state is per thread, compiled functions are shared safely, and every cache
(signatures, trace trees, kernel modules) traces or compiles an entry once under concurrent first calls.
Per-thread flags and scopes are also covered in test_autograd.py (test_recording_state_is_per_thread).
"""
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.codegen import compile as kernel_cache

N_THREADS = 8


def in_threads(worker, n=N_THREADS):
    """Run worker(i) in n threads released together; re-raise the first exception of any of them."""
    start, errors, results = threading.Barrier(n), [], [None] * n

    def run(i):
        try:
            start.wait()
            results[i] = worker(i)
        except BaseException as e:  # a thread's exception would otherwise be lost
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


class Counter:
    def __init__(self, fn):
        self.fn, self.runs, self.lock = fn, 0, threading.Lock()

    def __call__(self, *args):
        with self.lock:
            self.runs += 1
        return self.fn(*args)


def loss(w, x):
    return nd.sum((nd.tanh(x * w) - 0.5) ** 2)


def test_recording_in_one_thread_does_not_record_in_another():
    def worker(i):
        x = nd.array([1.0, 2.0], dtype=np.float64)
        x.attach_grad()
        if i % 2:
            with autograd.record():
                assert autograd.is_recording()
                y = nd.sum(x * x * i)
            y.backward()
            return x.grad.asnumpy()
        y = nd.sum(x * x)   # this thread never records: nothing to differentiate
        assert not autograd.is_recording() and y._entry is None
        return None
    for i, g in enumerate(in_threads(worker)):
        if i % 2:
            np.testing.assert_array_equal(g, [2.0 * i, 4.0 * i])
        else:
            assert g is None


def test_a_shared_compiled_function_in_eight_threads(backend="numba"):
    """Eight concurrent first calls over two signatures and both modes: each (signature, mode) is
    traced once and compiled once, and every call gives the eager answer."""
    body = Counter(loss)
    f = jg.compile(body, backend=backend)
    data = {n: nd.array(np.linspace(-1, 1, n)) for n in (8, 16)}
    w0 = np.array([0.5], np.float32)

    def worker(i):
        x = data[8 if i % 2 else 16]
        out = []
        for _ in range(5):
            w = nd.array(w0)
            if i % 4 < 2:
                out.append((f(w, x).asnumpy(), None))
            else:
                w.attach_grad()
                with autograd.record():
                    y = f(w, x)
                y.backward()
                out.append((y.asnumpy(), w.grad.asnumpy()))
        return x.shape[0], out

    for n, out in in_threads(worker):
        w = nd.array(w0)
        w.attach_grad()
        with autograd.record():
            want = loss(w, data[n])
        want.backward()
        for value, grad in out:
            np.testing.assert_allclose(value, want.asnumpy(), rtol=1e-6)
            if grad is not None:
                np.testing.assert_allclose(grad, w.grad.asnumpy(), rtol=1e-5)
    info = f.cache_info()
    assert body.runs == 4 and info["traces"] == 4 and info["signatures"] == 4  # 2 shapes x 2 modes
    assert info["compiles"] == 4   # one program per signature (a recorded loss has its gradients in it)
    assert info["hits"] == N_THREADS * 5 - 4


def test_value_and_grad_shared_by_threads():
    body = Counter(loss)
    vg = jg.value_and_grad(body, argnums=0)
    x = nd.array(np.linspace(-1, 1, 8))
    results = in_threads(lambda i: [vg(nd.array([0.5]), x)[1].asnumpy() for _ in range(3)])
    w = nd.array([0.5])
    w.attach_grad()
    with autograd.record():
        y = loss(w, x)
    y.backward()
    for grads in results:
        for g in grads:
            np.testing.assert_allclose(g, w.grad.asnumpy(), rtol=1e-5)
    assert body.runs == 1 and vg.cache_info()["compiles"] == 1


def test_concurrent_first_loads_of_a_kernel_module_share_one(tmp_path, monkeypatch):
    """Regression: threads loading the same new kernel each made their own module and Numba
    dispatchers (compiling it once per thread), all writing the same temporary file."""
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    source = (f"# kernel for a thread test\n# {uuid.uuid4().hex}\n"
              "def kernel(chunks0, n0):\n    return chunks0 * n0\n")
    loaded = in_threads(lambda i: kernel_cache.load(source))
    assert all(k is loaded[0] for k in loaded)
    assert loaded[0].dispatcher(2, 21) == 42
    folder = Path(loaded[0].path).parent     # the environment key's directory in the cache
    assert folder.parent == tmp_path
    assert [p.name for p in folder.iterdir() if p.suffix == ".py"] == [f"k_{loaded[0].key}.py"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---- jitgrad's worker threads: a parallel kernel's chunks ----------------------------------------

def test_parallel_kernels_agree_with_numpy_on_any_thread_count(monkeypatch):
    """A flat kernel (full sums) and a row kernel (a row max, a column sum) cut into 1, 2 and 3
    chunks: the worker threads run all but the first, the last call combines the chunks."""
    from jitgrad.codegen import program as jprogram, threads
    monkeypatch.setattr(jprogram, "PARALLEL_MIN", 8)
    run, seen = threads._Pool.run, []

    def counted(pool, entry, chunks, args):
        seen.append(chunks)
        return run(pool, entry, chunks, args)
    monkeypatch.setattr(threads._Pool, "run", counted)
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-1, 1, (37, 5)), rng.uniform(-1, 1, (5,))
    flat = jg.value_and_grad(lambda w, x: nd.sum(nd.tanh(x * w) ** 2))
    rows = jg.compile(lambda w, x: (nd.max(x * w, axis=1), nd.sum(nd.exp(x * w), axis=0)))
    t = np.tanh(x * w)
    expected = (np.sum(t ** 2), np.sum(2 * t * (1 - t ** 2) * x, axis=0),
                np.max(x * w, axis=1), np.sum(np.exp(x * w), axis=0))
    before = jg.get_num_threads()
    try:
        for count in (1, 2, 3):
            jg.set_num_threads(count)
            for _ in range(2):     # traced, then compiled
                args = nd.array(w, dtype=np.float64), nd.array(x, dtype=np.float64)
                value, grad = flat(*args)
                row_max, col_sum = rows(*args)
            results = [a.asnumpy() for a in (value, grad, row_max, col_sum)]
            for got, want in zip(results, expected):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            assert seen.count(count) >= 2, seen     # the kernels of both ran in `count` chunks
            seen.clear()
    finally:
        jg.set_num_threads(before)


def test_concurrent_parallel_calls_each_get_their_result(monkeypatch):
    """Callers that find the workers busy run their chunks themselves: every result is right."""
    from jitgrad.codegen import program as jprogram
    monkeypatch.setattr(jprogram, "PARALLEL_MIN", 8)
    f = jg.compile(lambda x, s: nd.sum(x * s, axis=0))
    x = np.arange(600.0).reshape(200, 3)

    def run(i):
        return f(nd.array(x, dtype=np.float64), nd.array(float(i), dtype=np.float64)).asnumpy()
    run(1), run(1)
    results = in_threads(lambda i: [run(i) for _ in range(20)])
    for i, runs in enumerate(results):
        for r in runs:
            np.testing.assert_array_equal(r, x.sum(axis=0) * i)


def test_run_chunks_gives_each_worker_one_chunk_then_finishes():
    from jitgrad.codegen import threads
    calls, lock = [], threading.Lock()

    def entry(start, stop, chunks, finish, tag):
        with lock:
            calls.append((start, stop, chunks, finish, tag, threading.current_thread().name))
    threads.run_chunks(entry, 3, "t")
    me = threading.current_thread().name
    assert sorted(c[:5] for c in calls) == [(0, 1, 3, 0, "t"), (1, 2, 3, 0, "t"), (2, 3, 3, 0, "t"),
                                            (3, 3, 3, 1, "t")]
    assert calls[-1][5] == me and {c[5] for c in calls if c[0] in (1, 2)} == {"jitgrad-worker"}


def test_busy_workers_leave_the_chunks_to_the_caller():
    from jitgrad.codegen import threads
    calls = []
    with threads._pool.lock:      # another caller holds the workers
        threads.run_chunks(lambda *a: calls.append(a), 2, "x")
    assert calls == [(0, 2, 2, 1, "x")]


def test_an_error_in_a_worker_reaches_the_caller_and_the_workers_survive_it():
    from jitgrad.codegen import threads

    def entry(start, stop, chunks, finish):
        if start == 1 and not finish:
            raise ZeroDivisionError("chunk 1 failed")
    with pytest.raises(ZeroDivisionError, match="chunk 1 failed"):
        threads.run_chunks(entry, 2)
    done = []
    threads.run_chunks(lambda *a: done.append(a), 2)
    assert sorted(done) == [(0, 1, 2, 0), (1, 2, 2, 0), (2, 2, 2, 1)]


def test_thread_counts_are_checked(monkeypatch):
    from jitgrad.codegen import threads
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: the thread count must be a positive int"):
            jg.set_num_threads(bad)
    monkeypatch.setenv("JITGRAD_NUM_THREADS", "3")
    assert threads._default_threads() == 3
    for bad in ("0", "two", "-2"):
        monkeypatch.setenv("JITGRAD_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="JITGRAD_NUM_THREADS must be a positive integer"):
            threads._default_threads()


def _parallel_sum_in_child(queue):
    f = jg.compile(lambda x: nd.sum(x * 2.0, axis=0))
    x = np.arange(600.0).reshape(200, 3)
    queue.put([f(nd.array(x, dtype=np.float64)).asnumpy().tolist() for _ in range(2)][1])


def test_a_forked_child_runs_parallel_kernels(monkeypatch):
    """The child of a fork has none of its parent's worker threads: it starts its own."""
    import multiprocessing
    from jitgrad.codegen import program as jprogram, threads
    monkeypatch.setattr(jprogram, "PARALLEL_MIN", 8)
    threads.run_chunks(lambda *a: None, 2)       # the parent's workers exist
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_parallel_sum_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(result, (np.arange(600.0).reshape(200, 3) * 2).sum(axis=0))
