"""Memory: training loops keep RSS flat, backward releases the tape and the values it saved, and the
in-memory compile cache is bounded (least recently used signatures evicted first).
The eager tape's own release is also checked in test_autograd.py (test_tape_is_freed_after_backward).
"""
import gc
import os
import weakref

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd

linux_only = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth_over(step, n=10_000, warmup=1000) -> int:
    for _ in range(warmup):
        step()
    gc.collect()
    before = rss_bytes()
    for _ in range(n):
        step()
    gc.collect()
    return rss_bytes() - before


def loss(w, x):
    return ((nd.tanh(x * w) - 0.5) ** 2).sum()


def sgd_setup():
    w = nd.array(np.ones(256))
    w.attach_grad()
    return w, nd.array(np.linspace(0, 1, 256))


# A leaked tape or program environment keeps at least one 1 KiB buffer per step: over 10 MB in 10,000.
BOUND = 4 << 20


@linux_only
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_record_backward_loop_memory_is_flat(mode):
    w, x = sgd_setup()
    f = jg.compile(loss) if mode == "compiled" else loss

    def step():
        with autograd.record():
            value = f(w, x)
        value.backward()
        w[:] = w - 0.01 * w.grad

    growth = growth_over(step)
    assert growth < BOUND, f"RSS grew by {growth} bytes over 10,000 {mode} steps"
    if mode == "compiled":
        assert f.cache_info()["traces"] == 1


@linux_only
def test_value_and_grad_loop_memory_is_flat():
    w, x = sgd_setup()
    vg = jg.value_and_grad(loss, argnums=0)

    def step():
        _, g = vg(w, x)
        w[:] = w - 0.01 * g

    growth = growth_over(step)
    assert growth < BOUND, f"RSS grew by {growth} bytes over 10,000 value_and_grad steps"
    assert vg.cache_info()["traces"] == 1


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_compiled_tape_node_and_saved_values_are_released_after_backward(backend):
    f = jg.compile(lambda w, x: nd.sum(nd.dot(x, w) ** 2), backend=backend)  # dot saves residuals
    w = nd.array(np.ones((3, 2)))
    w.attach_grad()
    x = nd.array(np.ones((4, 3)))
    with autograd.record():
        f(w, x).backward()   # the trace: an eager tape (checked in the test below)
    with autograd.record():
        y = f(w, x)          # a cached call: one node whose backward runs the compiled program
    node = y._entry
    buffers = [a if a.base is None else a.base for a in node.fn.residuals]
    made = [a for a in buffers if a is not x._data and a is not w._data]
    assert made, "the backward reads a value the forward program made (dot's result)"
    saved = [weakref.ref(a) for a in made]
    del made, buffers
    y.backward()
    gc.collect()             # y (and so its node) stays alive: backward itself must let go
    assert node.freed and node.fn is None
    assert all(r() is None for r in saved), "saved values outlived backward"
    np.testing.assert_allclose(w.grad.asnumpy(), 2 * x.asnumpy().T @ (x.asnumpy() @ w.asnumpy()), rtol=1e-6)


def test_eager_saved_values_are_released_after_backward():
    w = nd.array([1.0, 2.0])
    w.attach_grad()
    with autograd.record():
        h = nd.exp(w)           # exp saves its output for the gradient
        y = nd.sum(h * h)
    saved = weakref.ref(h._data)
    del h
    y.backward()             # y stays alive: backward itself must let go
    gc.collect()
    assert saved() is None and y._entry.freed


# ---- the bounded compile cache ------------------------------------------------------------------

def test_least_recently_used_signatures_are_evicted():
    runs = []
    f = jg.compile(lambda x: (runs.append(x.shape), x * 2)[1], max_signatures=2, backend="interpret")
    a, b, c = nd.ones(1), nd.ones(2), nd.ones(3)
    for x in (a, b, a, c):   # c evicts b, the least recently used
        f(x)
    info = f.cache_info()
    assert info["signatures"] == 2 and info["evictions"] == 1
    f(a)
    assert runs == [(1,), (2,), (3,)]   # a stayed cached
    f(b)
    assert runs[-1] == (2,) and f.cache_info()["evictions"] == 2
    np.testing.assert_array_equal(f(b).asnumpy(), [2, 2])


def test_evicted_traces_are_freed():
    f = jg.compile(lambda x: x + 1, max_signatures=1, backend="interpret")
    f(nd.ones(1))
    root = weakref.ref(next(iter(f._roots.values())))
    f(nd.ones(2))
    gc.collect()
    assert root() is None and f.cache_info()["signatures"] == 1


def test_cache_bound_from_the_environment(monkeypatch):
    monkeypatch.setenv("JITGRAD_MAX_SIGNATURES", "3")
    f = jg.compile(lambda x: x * 2, backend="interpret")
    vg = jg.value_and_grad(lambda x: nd.sum(x), backend="interpret")
    for n in range(1, 6):
        f(nd.ones(n))
        vg(nd.ones(n))
    assert f.max_signatures == vg.max_signatures == 3
    assert f.cache_info()["signatures"] == 3 and f.cache_info()["evictions"] == 2
    assert jg.compile(lambda x: x, max_signatures=7).max_signatures == 7  # the argument wins
