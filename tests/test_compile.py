"""jitgrad.compile semantics: caching, guards, captured arrays, the tape, value_and_grad.

These run on both backends: 'interpret' (the numpy reference interpreter: fast to start) and
'numba' (generated, fused kernels). Kernels are shared by structure, so most tests here reuse a
handful of compiled kernels.
"""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from test_compile_table import eager_grads

BACKENDS = ["interpret", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def close(a, b, rtol=1e-6, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, **kw)


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return nd.array(rng.uniform(-1, 1, n)), nd.array(rng.uniform(0, 1, n))


def elementwise_loss(w, b, x, y):
    return nd.sum((nd.tanh(x * w + b) - y) ** 2)


class Counter:
    """Wraps a function and counts how often its Python body runs."""

    def __init__(self, fn):
        self.fn, self.runs = fn, 0

    def __call__(self, *args, **kwargs):
        self.runs += 1
        return self.fn(*args, **kwargs)


def test_body_runs_only_when_tracing(backend):
    body = Counter(elementwise_loss)
    loss = jg.compile(body, backend=backend)
    x, y = data()
    w, b = nd.array([0.5]), nd.array([0.1])
    first = loss(w, b, x, y).asnumpy()
    for _ in range(3):
        close(loss(w, b, x, y), first)
    assert body.runs == 1
    info = loss.cache_info()
    assert info["traces"] == 1 and info["hits"] == 3 and info["misses"] == 1
    close(first, elementwise_loss(w, b, x, y))


def test_new_shapes_retrace_and_old_ones_hit(backend):
    body = Counter(elementwise_loss)
    loss = jg.compile(body, backend=backend)
    w, b = nd.array([0.5]), nd.array([0.1])
    for n in (8, 16, 8, 16, 8):
        x, y = data(n)
        close(loss(w, b, x, y), elementwise_loss(w, b, x, y))
    assert body.runs == 2
    x64, y64 = nd.array(x, dtype="float64"), nd.array(y, dtype="float64")
    loss(nd.array([0.5], dtype="float64"), nd.array([0.1], dtype="float64"), x64, y64)
    assert body.runs == 3 and loss.cache_info()["signatures"] == 3


def test_python_scalars_are_static(backend):
    body = Counter(lambda x, k: x * k + 1)
    f = jg.compile(body, backend=backend)
    x = nd.array([1.0, 2.0])
    for k in (2.0, 3.0, 2.0):
        close(f(x, k), x.asnumpy() * k + 1)
    assert body.runs == 2


def test_captured_arrays_are_read_at_every_call(backend):
    W = nd.array([1.0, 2.0])

    @jg.compile(backend=backend)
    def f(x):
        return x * W

    x = nd.array([3.0, 3.0])
    close(f(x), [3, 6])
    W[:] = nd.array([10.0, 20.0])
    close(f(x), [30, 60])


def test_captured_attached_array_receives_its_gradient(backend):
    W = nd.array([1.0, 2.0])
    W.attach_grad()

    @jg.compile(backend=backend)
    def f(x):
        return nd.sum(x * W * W)

    x = nd.array([3.0, 5.0])
    for step in range(3):
        with autograd.record():
            loss = f(x)
        loss.backward()
        close(W.grad, 2 * x.asnumpy() * W.asnumpy())
        W[:] = W - 0.1 * W.grad  # an SGD step outside record(): seen by the next call


def test_record_backward_matches_eager(backend):
    loss = jg.compile(elementwise_loss, backend=backend)
    x, y = data()
    want_value, (want_w, want_b) = eager_grads(elementwise_loss, [nd.array([0.5]), nd.array([0.1]), x, y],
                                               (0, 1))
    w, b = nd.array([0.5]), nd.array([0.1])
    w.attach_grad()
    b.attach_grad()
    for _ in range(3):  # the trace, then cached calls through the compiled backward
        with autograd.record():
            value = loss(w, b, x, y)
        value.backward()
        close(value, want_value)
        close(w.grad, want_w, rtol=1e-5)
        close(b.grad, want_b, rtol=1e-5)
    assert loss.cache_info()["hits"] == 2


def test_a_loss_backward_stores_the_gradients_its_call_computed(backend, monkeypatch):
    """backward() of a compiled loss stores the gradients its forward program computed, without the
    engine's walk: the same results as the walk (forced here by an explicit head gradient), for
    'write' and 'add' variables; the graph is freed after either."""
    loss = jg.compile(elementwise_loss, backend=backend)
    x, y = data()
    _, (want_w, want_b) = eager_grads(elementwise_loss, [nd.array([0.5], dtype="float64"),
                                                         nd.array([0.1], dtype="float64"),
                                                         x.astype("float64"), y.astype("float64")], (0, 1))
    results, walks, toposort = {}, {"stored": 0, "walked": 0}, autograd._toposort
    for how in ("stored", "walked"):
        def counted(*args, **kwargs):
            walks[how] += 1
            return toposort(*args, **kwargs)
        monkeypatch.setattr(autograd, "_toposort", counted)
        w, b = nd.array([0.5], dtype="float64"), nd.array([0.1], dtype="float64")
        w.attach_grad()
        b.attach_grad("add")
        xs, ys = x.astype("float64"), y.astype("float64")
        for _ in range(3):
            with autograd.record():
                value = loss(w, b, xs, ys)
            value.backward(None if how == "stored" else nd.ones_like(value))
            with pytest.raises(jg.errors.AutogradError):
                value.backward()
        results[how] = (w.grad.asnumpy(), b.grad.asnumpy())
    np.testing.assert_array_equal(results["stored"][0], results["walked"][0])
    np.testing.assert_array_equal(results["stored"][1], results["walked"][1])
    close(results["stored"][0], want_w, rtol=1e-12)
    close(results["stored"][1], 3 * want_b, rtol=1e-12)     # 'add': three backwards
    assert walks["stored"] < walks["walked"] == 3   # stored from the first compiled call on


def test_a_loss_backward_through_one_variable_twice_or_a_null_one_walks_the_tape(backend):
    loss = jg.compile(lambda a, b: nd.sum(nd.tanh(a * b) * a), backend=backend)
    w = nd.array([0.25, -0.5], dtype="float64")
    w.attach_grad()
    for _ in range(3):
        with autograd.record():
            value = loss(w, w)            # one variable in two places: its gradients add up
        value.backward()
        t = np.tanh(w.asnumpy() ** 2)
        close(w.grad, t + 2 * w.asnumpy() ** 2 * (1 - t ** 2), rtol=1e-12)
    v = nd.array([1.0, 2.0], dtype="float64")
    v.attach_grad("null")
    for _ in range(3):
        with autograd.record():
            value = loss(w, v)
        value.backward()
        t = np.tanh(w.asnumpy() * v.asnumpy())
        close(w.grad, t + w.asnumpy() * v.asnumpy() * (1 - t ** 2), rtol=1e-12)
        assert v.grad is None


def test_compiled_call_composes_with_the_tape(backend):
    inner = jg.compile(lambda a, b: a * b + nd.exp(a), backend=backend)
    x = nd.array([0.5, 1.5], dtype="float64")
    x.attach_grad("add")
    for _ in range(2):
        x.grad[:] = 0
        for call in range(2):
            with autograd.record():
                u = x * 3                    # eager op before
                v = inner(u, x)              # compiled, its inputs a recorded node and a variable
                z = nd.sum(v * v)            # eager op after
            z.backward(nd.array([2.0], dtype="float64"), retain_graph=True)
            z.backward(nd.array([1.0], dtype="float64"))
    # z = sum((3x*x + e^{3x})^2); dz/dx = 2 v (6x + 3 e^{3x}); applied 3 times per call, 2 calls
    xv = x.asnumpy()
    v = 3 * xv * xv + np.exp(3 * xv)
    close(x.grad, 2 * 3 * 2 * v * (6 * xv + 3 * np.exp(3 * xv)), rtol=1e-10)


def test_autograd_grad_through_a_compiled_call(backend):
    f = jg.compile(lambda a: nd.sin(a) * a, backend=backend)
    x = nd.array([0.3, 1.2], dtype="float64")
    x.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = f(x)
        (g,) = autograd.grad(y, [x])
        xv = x.asnumpy()
        close(g, np.cos(xv) * xv + np.sin(xv), rtol=1e-12)


def test_second_order_through_a_compiled_call(backend):
    f = jg.compile(lambda a: nd.sin(a) * a, backend=backend)
    x = nd.array([0.3, 1.2], dtype="float64")
    x.attach_grad()
    xv = x.asnumpy()
    for _ in range(2):
        with autograd.record():
            y = f(x) * 2
            (g,) = autograd.grad(y, [x], create_graph=True)
        g.backward()
        close(g, 2 * (np.cos(xv) * xv + np.sin(xv)), rtol=1e-12)
        close(x.grad, 2 * (2 * np.cos(xv) - xv * np.sin(xv)), rtol=1e-12)


def test_value_and_grad(backend):
    vg = jg.value_and_grad(elementwise_loss, argnums=(0, 1), backend=backend)
    x, y = data(16)
    want_value, (want_w, want_b) = eager_grads(elementwise_loss, [nd.array([0.5]), nd.array([0.1]), x, y],
                                               (0, 1))
    for _ in range(3):
        value, (gw, gb) = vg(nd.array([0.5]), nd.array([0.1]), x, y)
        close(value, want_value)
        close(gw, want_w, rtol=1e-5)
        close(gb, want_b, rtol=1e-5)
    single = jg.value_and_grad(elementwise_loss, argnums=0, backend=backend)
    value, gw = single(nd.array([0.5]), nd.array([0.1]), x, y)
    assert isinstance(gw, jg.NDArray)
    close(gw, want_w, rtol=1e-5)
    only = jg.grad(elementwise_loss, argnums=1, backend=backend)
    close(only(nd.array([0.5]), nd.array([0.1]), x, y), want_b, rtol=1e-5)


def tutorial(a):
    b = a * 2
    while (nd.norm(b) < 1000).asscalar():
        b = b * 2
    if (nd.sum(b) > 0).asscalar():
        c = b
    else:
        c = 100 * b
    return c


def test_tutorial_while_loop_equals_eager_call_after_call(backend):
    f = jg.compile(tutorial, backend=backend)
    rng = np.random.default_rng(5)
    head = nd.array([0.01, 1.0, 0.1])
    for i in range(12):
        values = rng.normal(size=3) * 10.0 ** rng.integers(-2, 2)
        a = nd.array(values)
        a.attach_grad()
        with autograd.record():
            c = f(a)
        c.backward(head)
        got_c, got_grad = c.asnumpy(), a.grad.asnumpy()
        with autograd.record():
            ce = tutorial(a)
        ce.backward(head)
        assert np.array_equal(got_c, ce.asnumpy()), i
        assert np.array_equal(got_grad, a.grad.asnumpy()), i


def test_alternating_paths_reuse_their_traces(backend):
    body = Counter(lambda x: x * 2 if (nd.sum(x) > 0).asscalar() else x * -3)
    f = jg.compile(body, backend=backend)
    pos, neg = nd.array([1.0, 2.0]), nd.array([-1.0, -2.0])
    for _ in range(4):
        close(f(pos), [2, 4])
        close(f(neg), [3, 6])
    assert body.runs == 2
    info = f.cache_info()
    assert info["paths"] == 2 and info["guard_failures"] == 1 and info["hits"] == 6


def test_bound_on_cached_paths(backend, caplog):
    body = Counter(tutorial)
    f = jg.compile(body, max_paths=3, backend=backend)
    for scale in (1.0, 10.0, 100.0, 1000.0, 0.1, 1.0):
        a = nd.array([scale, 0.0, 0.0])
        close(f(a), tutorial(a))
    assert f.cache_info()["paths"] == 3
    assert "max_paths" in caplog.text


def test_random_numbers_fall_back_to_eager(backend, caplog):
    f = jg.compile(lambda x: nd.Dropout(x, p=0.5, mode="always"), backend=backend)
    x = nd.ones(1000)
    a, b = f(x).asnumpy(), f(x).asnumpy()
    assert not np.array_equal(a, b)  # a replayed trace would repeat the mask
    assert set(np.unique(a)) <= {0.0, 2.0}
    assert "runs eagerly" in caplog.text




def test_keyword_and_static_arguments(backend):
    body = Counter(lambda x, mode="sq": x * x if mode == "sq" else x + x)
    f = jg.compile(body, static_argnums=("mode",), backend=backend)
    x = nd.array([3.0])
    close(f(x, mode="sq"), [9])
    close(f(x, mode="add"), [6])
    close(f(x=x, mode="sq"), [9])
    assert body.runs == 3  # a keyword array is a different signature from a positional one


def test_logsumexp_value_and_grad_is_one_loop_over_rows():
    """sum(logsumexp(x*w, axis=1)) and its gradient for w: x is read in one loop over rows (max, exp-sum
    and the gradient's column sum are stages of it), and the result equals the hand-derived numpy one."""
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((6, 5)), rng.standard_normal(5)
    vg = jg.value_and_grad(lambda x, w: nd.sum(nd.logsumexp(x * w, axis=1)), argnums=1)
    x, w = nd.array(x_np, dtype=np.float64), nd.array(w_np, dtype=np.float64)
    vg(x, w)
    value, grad = vg(x, w)
    z = x_np * w_np
    soft = np.exp(z - z.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    np.testing.assert_allclose(value.asnumpy(), [np.log(np.exp(z).sum(1)).sum()], rtol=1e-12)
    np.testing.assert_allclose(grad.asnumpy(), (soft * x_np).sum(0), rtol=1e-12)
    text = jg.explain(vg, x, w)
    assert "(1 kernels)" in text and "row kernel over [6, 5]" in text, text


def test_a_scalar_loss_computes_its_gradients_in_the_forward_program():
    """One program: the loss and its gradients at cotangent 1; backward scales them by the head gradient,
    gives each retained backward arrays of its own, and agrees with the eager tape."""
    rng = np.random.default_rng(3)
    x, y = (nd.array(rng.standard_normal(7), dtype=np.float64) for _ in range(2))

    def loss(w, b):
        return nd.sum((nd.tanh(x * w + b) - y) ** 2)
    f = jg.compile(loss)

    def grads(fn, head=None, twice=False):
        w, b = nd.array([0.3], dtype=np.float64), nd.array([-0.2], dtype=np.float64)
        w.attach_grad(grad_req="add"), b.attach_grad(grad_req="add")
        with autograd.record():
            out = fn(w, b)
        out.backward(head, retain_graph=twice)
        if twice:
            first = autograd.grad(out, [w], retain_graph=True)[0]
            second = autograd.grad(out, [w])[0]
            assert first._data is not second._data
            np.testing.assert_array_equal(first.asnumpy(), second.asnumpy())
        return w.grad.asnumpy(), b.grad.asnumpy()
    for _ in range(2):
        grads(f)                                   # trace, then compile
    for head, twice in ((None, False), (nd.array([3.0], dtype=np.float64), False), (None, True)):
        for got, want in zip(grads(f, head, twice), grads(loss, head, twice)):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    w, b = nd.array([0.3], dtype=np.float64), nd.array([-0.2], dtype=np.float64)
    w.attach_grad(), b.attach_grad()
    with autograd.record():
        text = jg.explain(f, w, b)
    assert "gradients at cotangent 1" in text and "(1 kernels)" in text, text


def test_repeated_cached_calls_read_the_current_arguments():
    """From the third call on, a one-segment signature takes the direct call: it must still read each
    call's data, pass inputs through, count hits, and forget itself on clear_cache and eviction."""
    def loss(x, y, k):
        return nd.sum(nd.tanh(x * y) * k)
    vg = jg.value_and_grad(loss, argnums=(0, 1), max_signatures=1)
    both = jg.compile(lambda x, y: (nd.tanh(x * y), x, nd.array(3.0)))
    r = np.random.default_rng(0)
    for n in (5, 5, 5, 5, 7, 7, 5):    # trace, first run, direct calls; a new size evicts the other
        x, y = (nd.array(r.standard_normal(n), dtype=np.float64) for _ in range(2))
        v, (gx, gy) = vg(x, y, 2.0)
        t = np.tanh(x.asnumpy() * y.asnumpy())
        np.testing.assert_allclose(v.asnumpy(), 2 * t.sum(), rtol=1e-12)
        np.testing.assert_allclose(gx.asnumpy(), 2 * (1 - t * t) * y.asnumpy(), rtol=1e-12)
        np.testing.assert_allclose(gy.asnumpy(), 2 * (1 - t * t) * x.asnumpy(), rtol=1e-12)
        th, passed, three = both(x, y)   # an output, an input passed through, a literal
        np.testing.assert_allclose(th.asnumpy(), t, rtol=1e-12)
        np.testing.assert_array_equal(passed.asnumpy(), x.asnumpy())
        assert three.asnumpy() == 3.0
    info = vg.cache_info()
    assert (info["traces"], info["hits"], info["evictions"]) == (3, 4, 2)
    vg.clear_cache()
    vg(x, y, 2.0)
    assert vg.cache_info()["traces"] == 1


def test_recorded_direct_calls_with_several_outputs_and_a_repeated_variable():
    """The direct call under record() for a function with three outputs (one an input passed
    through), a Python constant, and the same variable passed twice: gradients as the math says."""
    f = jg.compile(lambda a, b, x: (nd.sum(a * x + b) * 2.0, nd.tanh(a), x))
    r = np.random.default_rng(2)
    a, b = (nd.array(r.standard_normal(5), dtype=np.float64) for _ in range(2))
    a.attach_grad(), b.attach_grad()
    for step in range(4):    # trace, first run, then direct calls
        x = nd.array(r.standard_normal(5), dtype=np.float64)
        with autograd.record():
            s, t, passed = f(a, b, x)
            total = s + nd.sum(t * t)
        total.backward()
        ta = np.tanh(a.asnumpy())
        np.testing.assert_allclose(a.grad.asnumpy(), 2 * x.asnumpy() + 2 * ta * (1 - ta * ta), rtol=1e-12)
        np.testing.assert_allclose(b.grad.asnumpy(), np.full(5, 2.0), rtol=1e-12)
        np.testing.assert_array_equal(passed.asnumpy(), x.asnumpy())
        with autograd.record():
            s, _, _ = f(a, a, x)        # a twice: its two gradients add up
        s.backward()
        np.testing.assert_allclose(a.grad.asnumpy(), 2 * x.asnumpy() + 2, rtol=1e-12)
    assert len(f._fast) == 1 and f.cache_info()["hits"] == 7   # one signature, direct from the 3rd call


def test_direct_calls_check_the_layouts_their_signature_leaves_open():
    """A direct call skips the layout check of arguments its signature fixes as C-contiguous, not of
    strided ones: views and copies, alternating, give numpy's values."""
    f = jg.compile(lambda x, y: nd.sum(nd.tanh(x) * y))
    base = nd.array(np.random.default_rng(4).standard_normal(20), dtype=np.float64)
    pairs = [(base[::2], base[1::2]), (base[:10], base[10:]), (base[::2], base[10:])]
    assert [(x._data.strides, y._data.strides) for x, y in pairs] == [((16,), (16,)), ((8,), (8,)),
                                                                      ((16,), (8,))]
    for _ in range(4):      # trace, first run, then direct calls
        for x, y in pairs:
            want = np.sum(np.tanh(x.asnumpy()) * y.asnumpy())
            np.testing.assert_allclose(f(x, y).asnumpy(), want, rtol=1e-12)
    assert len(f._fast) == 3


def test_repeated_recorded_calls_put_the_right_node_on_the_tape():
    """The direct call under record(): each step's gradients, and a second order through it."""
    f = jg.compile(lambda w, x: nd.sum(nd.tanh(x * w) ** 2))
    r = np.random.default_rng(1)
    w = nd.array(r.standard_normal(6), dtype=np.float64)
    w.attach_grad()
    for _ in range(5):
        x = nd.array(r.standard_normal(6), dtype=np.float64)
        with autograd.record():
            loss = f(w, x)
        loss.backward()
        t = np.tanh(x.asnumpy() * w.asnumpy())
        np.testing.assert_allclose(w.grad.asnumpy(), 2 * t * (1 - t * t) * x.asnumpy(), rtol=1e-12)
    assert f.cache_info()["hits"] == 4
    with autograd.record():
        (g,) = autograd.grad(f(w, x), [w], create_graph=True)
        total = nd.sum(g)
    total.backward()
    xs, ws = x.asnumpy(), w.asnumpy()
    t = np.tanh(xs * ws)
    np.testing.assert_allclose(w.grad.asnumpy(), 2 * xs * xs * (1 - t * t) * (1 - 3 * t * t), rtol=1e-10)


def test_a_trace_on_one_thread_leaves_other_threads_eager(backend):
    """While one thread traces, another thread's recorded ops and backward give their eager results;
    once the traces end (one of them by raising) no tracer is counted."""
    import threading
    from jitgrad.state import TRACES
    inside, release = threading.Event(), threading.Event()

    def traced(a):
        inside.set()
        release.wait(10)
        return nd.sum(a * a)
    f = jg.compile(traced, backend=backend)
    a = nd.array([1.0, 2.0, 3.0], dtype="float64")
    worker = threading.Thread(target=lambda: f(a))
    worker.start()
    assert inside.wait(10)
    w = nd.array([0.5, -1.0], dtype="float64")
    w.attach_grad()
    with autograd.record():
        loss = nd.sum(nd.exp(w) * w)
    loss.backward()
    release.set()
    worker.join(10)
    close(w.grad, np.exp([0.5, -1.0]) * (1 + np.array([0.5, -1.0])), rtol=1e-12)
    close(f(a), [14.0], rtol=1e-12)
    assert TRACES.active == 0

    def broken(a):
        raise RuntimeError("inside the trace")
    with pytest.raises(RuntimeError, match="inside the trace"):
        jg.compile(broken, backend=backend)(a)
    assert TRACES.active == 0
