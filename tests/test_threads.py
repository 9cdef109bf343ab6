"""Threads: recording state is per thread, compiled functions are shared safely, and every cache
(signatures, trace trees, kernel modules) traces or compiles an entry once under concurrent first calls.
Per-thread flags and scopes are also covered in test_autograd.py (test_recording_state_is_per_thread).
"""
import threading
import uuid
from pathlib import Path

import numpy as np

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
    assert loaded[0].serial(2, 21) == 42
    folder = Path(loaded[0].path).parent     # the environment key's directory in the cache
    assert folder.parent == tmp_path
    assert [p.name for p in folder.iterdir() if p.suffix == ".py"] == [f"k_{loaded[0].key}.py"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
