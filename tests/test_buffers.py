"""Recycled output buffers: a large array a program returned is reused only once nothing else holds
it, never while the caller, a view, a memoryview or another thread still does."""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.codegen import buffers
from jitgrad.tape import ADOPT_MIN_BYTES

from test_threads import in_threads

N = buffers.RECYCLE_MIN_BYTES // 4      # float32 elements of the smallest recycled array


def loss(w, x):
    return nd.sum(nd.tanh(x * w) ** 2)


def expected(w, x):
    w, x = w.astype(np.float64), x.astype(np.float64)
    t = np.tanh(x * w)
    return 2 * t * (1 - t * t) * x


def data(seed):
    r = np.random.default_rng(seed)
    return nd.array(r.standard_normal(N, np.float32)), nd.array(r.standard_normal(N, np.float32))


def pointer(a):
    return np.asarray(a).__array_interface__["data"][0]


@pytest.fixture
def vg():
    f = jg.value_and_grad(loss)
    f(*data(99))     # the first call traces; the program runs from the second on
    f(*data(99))
    return f


def test_a_dropped_result_is_reused(vg):
    w, x = data(0)
    _, g = vg(w, x)
    first = pointer(g)
    del g
    _, g = vg(w, x)
    assert pointer(g) == first
    np.testing.assert_allclose(g.asnumpy(), expected(w.asnumpy(), x.asnumpy()), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("keep", ["result", "view", "numpy view", "memoryview"])
def test_a_held_result_is_never_overwritten(vg, keep):
    w, x = data(1)
    _, g = vg(w, x)
    held = {"result": lambda: g, "view": lambda: g[10:20], "numpy view": lambda: np.asarray(g)[::2],
            "memoryview": lambda: memoryview(np.asarray(g))}[keep]()
    before = g.asnumpy().copy()
    del g
    for seed in (2, 3):           # more calls than the recycler keeps arrays
        w2, x2 = data(seed)
        _, g2 = vg(w2, x2)
        np.testing.assert_allclose(g2.asnumpy(), expected(w2.asnumpy(), x2.asnumpy()), rtol=1e-4, atol=1e-5)
    kept = np.asarray(held.asnumpy() if hasattr(held, "asnumpy") else held)
    want = {"result": before, "view": before[10:20], "numpy view": before[::2],
            "memoryview": before}[keep]
    np.testing.assert_array_equal(kept, want)


def test_threads_never_share_a_buffer(vg):
    inputs = [data(10 + i) for i in range(4)]
    want = [expected(w.asnumpy(), x.asnumpy()) for w, x in inputs]

    def worker(i):
        out = []
        for _ in range(5):
            w, x = inputs[i]
            out.append(vg(w, x)[1].asnumpy().copy())
            np.testing.assert_allclose(out[-1], want[i], rtol=1e-4, atol=1e-5)
        return out
    for i, results in enumerate(in_threads(worker, 4)):
        for got in results:
            np.testing.assert_allclose(got, want[i], rtol=1e-4, atol=1e-5)


def test_recorded_gradients_survive_the_next_step():
    """Under record(), unit gradients saved by the forward program are recycled only after backward
    has consumed them; grads copied out of one step stay as they were."""
    f = jg.compile(loss)
    w, x = data(4)
    w.attach_grad()
    seen = []
    for seed in (5, 6, 7):
        w2, x2 = data(seed)
        w[:] = w2
        with autograd.record():
            first = f(w, x2)
        with autograd.record():   # a second pending tape node of the same program
            second = f(w, x2) * 2
        second.backward()
        np.testing.assert_allclose(w.grad.asnumpy(), 2 * expected(w2.asnumpy(), x2.asnumpy()),
                                   rtol=1e-4, atol=1e-5)
        first.backward()
        np.testing.assert_allclose(w.grad.asnumpy(), expected(w2.asnumpy(), x2.asnumpy()),
                                   rtol=1e-4, atol=1e-5)
        seen.append(w.grad.asnumpy().copy())
    assert not np.array_equal(seen[0], seen[1])


def test_recyclers_keep_no_more_than_the_budget(monkeypatch):
    """Many large shapes: the least recently used recyclers let go, and results stay right."""
    monkeypatch.setattr(buffers, "BUDGET_BYTES", 3 * buffers.RECYCLE_MIN_BYTES)
    f = jg.value_and_grad(loss)
    r = np.random.default_rng(3)
    for extra in range(6):
        n = N + 1024 * extra      # a new signature each time, every gradient >= 1 MiB
        w, x = (nd.array(r.standard_normal(n, np.float32)) for _ in range(2))
        for _ in range(3):
            _, g = f(w, x)
            np.testing.assert_allclose(g.asnumpy(), expected(w.asnumpy(), x.asnumpy()),
                                       rtol=1e-4, atol=1e-5)
        assert buffers.kept_bytes() <= buffers.BUDGET_BYTES + 2 * (n * 4)
    del g
    assert buffers.kept_bytes() <= buffers.BUDGET_BYTES + 2 * (n * 4)


def test_only_large_arrays_are_recycled():
    assert buffers.recyclable((N,), np.float32) == buffers.ENABLED
    assert not buffers.recyclable((N - 1,), np.float32)
    assert not buffers.recyclable((N // 2,), np.float16)


# ---- gradient buffers: a compiled call's gradients become the .grad buffer instead of being copied --

def grad_pointer(x):
    return x._entry.grad.__array_interface__["data"][0]


def w1(w, b, x):
    return nd.sum((nd.tanh(x * w + b) - 0.5) ** 2)


def w1_grads(w, b, x):
    w, b, x = (a.asnumpy().astype(np.float64) for a in (w, b, x))
    t = np.tanh(x * w + b)
    d = 2 * (t - 0.5) * (1 - t * t)
    return d * x, d


@pytest.fixture(params=[16, N], ids=["small", "recycled"])
def w1_case(request):
    n = request.param
    r = np.random.default_rng(n)
    w, b = nd.array(r.standard_normal(n, np.float32)), nd.array(r.standard_normal(n, np.float32))
    w.attach_grad()
    b.attach_grad()
    return jg.compile(w1), w, b, n


def steps(f, w, b, n, count=4, seed=0):
    r = np.random.default_rng(seed)
    for _ in range(count):
        x = nd.array(r.standard_normal(n, np.float32))
        with autograd.record():
            loss = f(w, b, x)
        loss.backward()
        yield x


def test_gradients_are_taken_over_when_nothing_holds_the_buffers(w1_case):
    f, w, b, n = w1_case
    pointers = set()
    for x in steps(f, w, b, n):
        gw, gb = w1_grads(w, b, x)
        np.testing.assert_allclose(w.grad.asnumpy(), gw, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b.grad.asnumpy(), gb, rtol=1e-4, atol=1e-5)
        pointers.add(grad_pointer(w))
    adopted = n * 4 >= ADOPT_MIN_BYTES   # smaller gradients are copied: cheaper than the checks
    assert (len(pointers) > 1) == adopted


@pytest.mark.parametrize("hold", ["grad", "numpy view", "slice"])
def test_a_held_gradient_buffer_is_written_in_place(w1_case, hold):
    """`g = w.grad` (or a view of it) taken before backward must show every later gradient."""
    f, w, b, n = w1_case
    g = {"grad": lambda: w.grad, "numpy view": lambda: np.asarray(w.grad), "slice": lambda: w.grad[1:]}[hold]()
    for x in steps(f, w, b, n):
        gw, _ = w1_grads(w, b, x)
        got = g.asnumpy() if hasattr(g, "asnumpy") else g
        want = gw[1:] if hold == "slice" else gw
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_retained_graphs_and_add_requests_still_copy(w1_case):
    f, w, b, n = w1_case
    for _ in steps(f, w, b, n, count=2):   # the first call traces; compiled calls from the second
        pass
    x = nd.array(np.random.default_rng(7).standard_normal(n, np.float32))
    with autograd.record():
        loss = f(w, b, x)
    loss.backward(retain_graph=True)
    first = w.grad.asnumpy().copy()
    w.grad[:] = 0                       # must not reach the retained node's saved gradients
    loss.backward()
    np.testing.assert_array_equal(w.grad.asnumpy(), first)
    b.attach_grad("add")
    for _ in range(2):
        with autograd.record():
            loss = f(w, b, x)
        loss.backward()
    np.testing.assert_allclose(b.grad.asnumpy(), 2 * w1_grads(w, b, x)[1], rtol=1e-4, atol=1e-5)


def test_no_buffer_is_shared_between_variables_or_with_an_input():
    """d/dw sum(x*w) is x itself, and d/da = d/db for sum((a+b)**2): neither may become a .grad
    buffer that aliases an input or another variable's gradient."""
    f = jg.compile(lambda a, b, w, x: nd.sum((a + b) ** 2) + nd.sum(x * w))
    a, b, w, x = (nd.array(np.arange(4.0) + i) for i in range(4))
    for v in (a, b, w):
        v.attach_grad()
    for _ in range(3):
        with autograd.record():
            loss = f(a, b, w, x)
        loss.backward()
    np.testing.assert_array_equal(w.grad.asnumpy(), x.asnumpy())
    np.testing.assert_array_equal(a.grad.asnumpy(), b.grad.asnumpy())
    a.grad[:] = -1
    w.grad[:] = -1
    np.testing.assert_array_equal(b.grad.asnumpy(), 2 * (a + b).asnumpy())
    np.testing.assert_array_equal(x.asnumpy(), np.arange(4.0) + 3)
