"""Autograd semantics, checked against MXNet 1.9.1's documented behaviour with exact values."""
import gc
import threading
import weakref

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import autograd, nd
from jitgrad.errors import AutogradError, DTypeError, ShapeError


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **kw)


def attached(values, req="write", dtype=None):
    x = nd.array(values, dtype=dtype)
    x.attach_grad(req)
    return x


# ---- flags and scopes -----------------------------------------------------------------------------

FLAG_TABLE = [
    ((), (False, False)),
    ((autograd.record,), (True, True)),
    ((autograd.record, autograd.pause), (False, False)),
    ((autograd.record, lambda: autograd.pause(train_mode=True)), (False, True)),
    ((autograd.record, autograd.predict_mode), (True, False)),
    ((lambda: autograd.record(train_mode=False),), (True, False)),
    ((lambda: autograd.record(train_mode=False), autograd.train_mode), (True, True)),
    ((autograd.train_mode,), (False, True)),
    ((autograd.predict_mode,), (False, False)),
]


@pytest.mark.parametrize("scopes, flags", FLAG_TABLE)
def test_flag_table(scopes, flags):
    def enter(rest):
        if not rest:
            return autograd.is_recording(), autograd.is_training()
        with rest[0]():
            return enter(rest[1:])
    assert enter(list(scopes)) == flags
    assert (autograd.is_recording(), autograd.is_training()) == (False, False)


def test_nested_scopes_restore_only_what_they_changed():
    with autograd.record():
        with autograd.record():
            pass
        assert autograd.is_recording()
        with autograd.pause():
            with autograd.record():
                assert autograd.is_recording()
            assert not autograd.is_recording()
        assert autograd.is_recording()
    assert not autograd.is_recording()


def test_scope_leaves_the_flag_it_does_not_set():
    # train_mode() sets training only: recording switched on inside it stays on after it
    with autograd.train_mode():
        autograd.set_recording(True)
        assert autograd.is_training()
    assert autograd.is_recording() and not autograd.is_training()
    autograd.set_recording(False)
    with autograd.pause(train_mode=True):
        autograd.set_training(False)
    assert not autograd.is_recording() and not autograd.is_training()


def test_scope_exits_on_exception():
    with pytest.raises(KeyError):
        with autograd.record():
            raise KeyError("boom")
    assert not autograd.is_recording() and not autograd.is_training()


def test_set_flags_return_previous():
    assert autograd.set_recording(True) is False
    assert autograd.set_recording(False) is True
    assert autograd.set_training(True) is False
    assert autograd.set_training(False) is True


def test_recording_state_is_per_thread():
    seen = {}

    def worker():
        seen["worker"] = (autograd.is_recording(), autograd.is_training())
        x = attached([1.0, 2.0])
        with autograd.record():
            y = (x * x).sum()
        y.backward()
        seen["grad"] = x.grad.asnumpy()

    with autograd.record():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert autograd.is_recording()
    assert seen["worker"] == (False, False)
    close(seen["grad"], [2.0, 4.0])


# ---- basic backward -------------------------------------------------------------------------------

def test_tutorial_chain_rule_and_head_gradient():
    x = attached([[1, 2], [3, 4]])
    with autograd.record():
        y = x * 2
        z = y * x
    z.backward()
    close(x.grad, [[4, 8], [12, 16]])
    assert str(x.grad) == "\n[[ 4.  8.]\n [12. 16.]]\n<NDArray 2x2 @cpu(0)>"
    with autograd.record():
        z = x * 2 * x
    z.backward(nd.array([[10, 1.0], [0.1, 0.01]]))
    close(x.grad, np.array([[40, 8], [1.2, 0.16]], np.float32))


def test_control_flow_on_data():
    jg.random.seed(1)
    a = nd.random_normal(shape=3)
    a.attach_grad()
    with autograd.record():
        b = a * 2
        while (nd.norm(b) < 1000).asscalar():
            b = b * 2
        c = b if (nd.sum(b) > 0).asscalar() else 100 * b
    head = nd.array([0.01, 1.0, 0.1])
    c.backward(head)
    # b = a * 2**k with the first k that makes |b| >= 1000; c is b, or 100 b when sum(b) <= 0
    k = int(np.ceil(np.log2(1000 / np.linalg.norm(a.asnumpy()))))
    factor = 2.0 ** k * (1 if a.asnumpy().sum() > 0 else 100)
    close(c, a.asnumpy() * factor, rtol=1e-6)
    close(a.grad, head.asnumpy() * factor, rtol=1e-6)


def test_default_head_gradient_is_ones():
    x = attached([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * x
    y.backward()
    close(x.grad, [2, 4, 6])


def test_multiple_heads_sum_and_none_head_grads():
    x = attached([1.0, 2.0])
    with autograd.record():
        a = x * 3
        b = x * x
    autograd.backward([a, b], [None, nd.array([10.0, 1.0])])
    close(x.grad, [3 + 20, 3 + 4])


def test_head_grad_length_mismatch():
    x = attached([1.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(ValueError, match="same length: 1 vs. 2"):
        autograd.backward([y], [None, None])


def test_head_grad_wrong_shape_and_dtype_raise():
    x = attached([[1.0, 2.0], [3.0, 4.0]])
    with autograd.record():
        y = x * 2
    with pytest.raises(ShapeError, match=r"head gradient has shape \(2,\).*\(2, 2\)"):
        y.backward(nd.array([1.0, 2.0]))
    with pytest.raises(DTypeError, match="float64"):
        y.backward(nd.ones((2, 2), dtype="float64"))
    y.backward(nd.ones((2, 2)))  # the graph survived the failed calls
    close(x.grad, np.full((2, 2), 2.0))


def test_backward_on_unrecorded_array():
    x = nd.array([1.0, 2.0])
    with pytest.raises(AutogradError, match="not in a computational graph"):
        (x * 2).backward()
    with autograd.record():
        y = x * 2  # no input is in a graph: nothing recorded
    with pytest.raises(AutogradError, match="not in a computational graph"):
        y.backward()


def test_backward_on_leaf_gives_ones():
    x = attached([1.0, 2.0])
    x.backward()
    close(x.grad, [1, 1])


def test_second_backward_needs_retain_graph():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = x * 2
        z = y * x
    z.backward()
    with pytest.raises(AutogradError, match="retain_graph=True"):
        z.backward()
    with pytest.raises(AutogradError, match="retain_graph=True"):
        y.backward()


def test_backward_through_a_partly_freed_graph_raises():
    x, w = attached([1.0, 2.0]), attached([5.0, 5.0])
    with autograd.record():
        y = x * x
        z = y * w
    y.backward()
    with pytest.raises(AutogradError, match="retain_graph=True"):
        z.backward()
    close(x.grad, [2, 4])
    close(w.grad, [0, 0])


def test_size_one_head_gradient_of_other_rank_is_accepted():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = (x * x).sum()
    y.backward(nd.array(3.0))
    close(x.grad, [6, 12])


def test_retain_graph_allows_repeated_backward():
    x = attached([1.0, 2.0], req="add")
    with autograd.record():
        z = x * x
    z.backward(retain_graph=True)
    z.backward(nd.array([10.0, 10.0]))
    close(x.grad, [2 + 20, 4 + 40])


def test_backward_inside_record_restores_recording():
    x = attached([3.0])
    with autograd.record():
        y = x * x
        y.backward()
        assert autograd.is_recording() and autograd.is_training()
    close(x.grad, [6.0])


# ---- grad_req -------------------------------------------------------------------------------------

def test_write_overwrites_and_add_accumulates():
    w, a = attached([1.0, 2.0]), attached([1.0, 2.0], req="add")
    for _ in range(2):
        with autograd.record():
            y = w * 3 + a * 5
        y.backward()
    close(w.grad, [3, 3])
    close(a.grad, [10, 10])
    a.grad[:] = 0  # .grad shares storage with the buffer
    close(a.grad, [0, 0])


def test_null_variable():
    x = attached([1.0, 2.0], req="null")
    close(x.grad, [0, 0])
    with autograd.record():
        y = x * 2
    with pytest.raises(AutogradError, match="no inputs in computation graph that require"):
        y.backward()
    w = attached([1.0, 1.0])
    with autograd.record():
        y = x * w
    y.backward()
    close(w.grad, [1, 2])
    assert x.grad is None


def test_branches_that_lead_to_no_variable_are_not_differentiated():
    """Neither a 'null' variable's branch nor a custom function of constants gets a gradient rule
    call, in backward and in grad."""
    class NoBackward(autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, dy):
            raise AssertionError("backward of a function whose inputs need no gradient")

    c, w, v = nd.array([1.0, 2.0]), attached([3.0, 4.0]), attached([5.0, 6.0], req="null")
    for how in ("backward", "grad"):
        with autograd.record():
            y = (NoBackward()(c) * w + nd.exp(v) * w).sum()
        if how == "backward":
            y.backward()
            got = w.grad
        else:
            got, = autograd.grad(y, [w])
        close(got, [2.0 + np.exp(5.0), 4.0 + np.exp(6.0)])


def test_unreached_write_variable_keeps_its_gradient():
    x, u = attached([1.0]), attached([5.0])
    with autograd.record():
        y = u * 2
    y.backward()
    with autograd.record():
        y = x * 4
    y.backward()
    close(u.grad, [2.0])
    close(x.grad, [4.0])


def test_variable_reached_only_through_comparison_gets_zeros():
    x, w = attached([1.0, -1.0]), attached([2.0, 2.0])
    x.grad[:] = 7
    with autograd.record():
        y = (x > 0) * w
    y.backward()
    close(x.grad, [0, 0])
    close(w.grad, [1, 0])


def test_unknown_grad_req_and_integer_arrays():
    with pytest.raises(ValueError, match="unknown grad_req 'accumulate'"):
        nd.array([1.0]).attach_grad("accumulate")
    with pytest.raises(DTypeError, match="int32"):
        nd.array([1, 2], dtype="int32").attach_grad()
    nd.array([1, 2], dtype="int32").attach_grad("null")


def test_attach_grad_again_resets_buffer():
    x = attached([1.0])
    with autograd.record():
        y = x * 5
    y.backward()
    x.attach_grad()
    close(x.grad, [0.0])


def test_attach_grad_on_intermediate_cuts_graph():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = x * 2
        y.attach_grad()
        z = y * 3
    z.backward()
    close(y.grad, [3, 3])
    close(x.grad, [0, 0])


def test_fresh_grad_flag():
    x = attached([1.0])
    assert x._fresh_grad is False
    with autograd.record():
        y = x * 2
    y.backward()
    assert x._fresh_grad is True
    x._fresh_grad = False
    assert x._fresh_grad is False


def test_mark_variables_shares_the_buffer():
    x = nd.array([1.0, 2.0])
    buf = nd.full((2,), 100.0)
    autograd.mark_variables(x, buf, "add")
    with autograd.record():
        y = x * 3
    y.backward()
    close(buf, [103, 103])
    close(x.grad, [103, 103])
    xs, gs = [nd.array([1.0]), nd.array([2.0])], [nd.zeros(1), nd.zeros(1)]
    autograd.mark_variables(xs, gs)
    with autograd.record():
        y = xs[0] * xs[1]
    y.backward()
    close(gs[0], [2.0])
    close(gs[1], [1.0])


# ---- detach, stop_gradient, saved references ------------------------------------------------------

def test_detach_shares_storage_without_history():
    x = attached([1.0, 2.0])
    d = x.detach()
    assert d.grad is None
    d[:] = 7
    close(x, [7, 7])
    with autograd.record():
        y = x * d
    y.backward()
    close(x.grad, [7, 7])


def test_stop_gradient_and_blockgrad():
    x = attached([2.0])
    with autograd.record():
        y = nd.stop_gradient(x * x) * x + nd.BlockGrad(x) * x
    y.backward()
    close(x.grad, [4.0 + 2.0])


def test_saved_inputs_are_references():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = x * x
    x[:] = 10  # outside record: allowed, and seen by the backward
    y.backward()
    close(x.grad, [20, 20])


# ---- in-place rules -------------------------------------------------------------------------------

def test_inplace_on_recorded_arrays_raises_inside_record():
    x = attached([1.0, 2.0])
    with autograd.record():
        with pytest.raises(AutogradError, match="already in a computational graph"):
            x += 1
        y = x * 2
        with pytest.raises(AutogradError, match="already in a computational graph"):
            y[0] = 5
        acc = nd.zeros(2)
        with pytest.raises(AutogradError, match="not supported when recording"):
            acc += x
        buf = nd.zeros(2)
        with pytest.raises(AutogradError, match="not supported when recording"):
            buf[0] = y[1]


def test_full_overwrite_of_plain_array_is_recorded():
    x = attached([1.0, 2.0])
    buf = nd.zeros(2)
    with autograd.record():
        buf[:] = x * 3
        z = buf * x
    z.backward()
    close(buf, [3, 6])
    close(x.grad, [6, 12])


def test_inplace_updates_outside_record_keep_the_variable():
    w = attached([1.0, 2.0])
    for _ in range(3):
        with autograd.record():
            loss = (w * w).sum()
        loss.backward()
        w -= 0.25 * w.grad
    close(w, np.array([1.0, 2.0]) * 0.5 ** 3)
    assert w.grad is not None


# ---- autograd.grad and higher order ---------------------------------------------------------------

def test_grad_returns_list_and_leaves_buffers_alone():
    x = attached([1.0, 2.0])
    x.grad[:] = 5
    with autograd.record():
        y = x * x
    gx = autograd.grad(y, x)
    assert isinstance(gx, list) and len(gx) == 1
    close(gx[0], [2, 4])
    close(x.grad, [5, 5])
    with pytest.raises(AutogradError, match="retain_graph"):
        y.backward()


def test_grad_argument_errors():
    x, c = attached([1.0]), nd.array([1.0])
    with autograd.record():
        y = x * c
    with pytest.raises(ValueError, match="empty list"):
        autograd.grad(y, [])
    with pytest.raises(AutogradError, match="2-th variable because it does not require gradient"):
        autograd.grad(y, [x, c])


def test_grad_retain_graph_true_allows_backward():
    x = attached([3.0])
    with autograd.record():
        y = x * x
    close(autograd.grad(y, [x], retain_graph=True)[0], [6.0])
    y.backward()
    close(x.grad, [6.0])


def test_grad_create_graph_exp():
    x = attached([1.0])
    with autograd.record():
        z = nd.exp(x) + x
        dx = autograd.grad(z, [x], create_graph=True)[0]
    close(dx, [np.e + 1], rtol=1e-6)
    dx.backward()
    close(x.grad, [np.e], rtol=1e-6)


SECOND_ORDER = [
    (lambda x: x ** 3, lambda x: 3 * x ** 2, lambda x: 6 * x),
    (nd.sin, np.cos, lambda x: -np.sin(x)),
    (nd.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (lambda x: nd.exp(x) * x, lambda x: np.exp(x) * (x + 1), lambda x: np.exp(x) * (x + 2)),
    (lambda x: x * x * x * x, lambda x: 4 * x ** 3, lambda x: 12 * x ** 2),
]


@pytest.mark.parametrize("f, df, d2f", SECOND_ORDER)
def test_second_derivatives(f, df, d2f):
    values = np.array([-1.3, 0.4, 2.0])
    x = attached(values, dtype="float64")
    with autograd.record():
        y = f(x)
        (dx,) = autograd.grad(y, [x], create_graph=True)
    close(dx, df(values), rtol=1e-12)
    dx.backward()
    close(x.grad, d2f(values), rtol=1e-12)


def test_second_order_through_broadcasting_products():
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[2.0], [-1.0]])
    x, y = attached(a, dtype="float64"), attached(b, dtype="float64")
    with autograd.record():
        z = (x * x * y).sum()
        gx, gy = autograd.grad(z, [x, y], create_graph=True)
        total = (gx * gx).sum() + gy.sum()
    total.backward()
    # gx = 2 x sum(y), gy = sum(x^2) per row: d/dx = 8 x sum(y)^2 + 2x*2, d/dy = 8 sum(x^2) sum(y)
    s = b.sum()
    close(x.grad, 8 * a * s ** 2 + 2 * 2 * a, rtol=1e-12)
    close(y.grad, np.full_like(b, 8 * (a ** 2).sum() * s), rtol=1e-12)


# ---- Function -------------------------------------------------------------------------------------

class Sigmoid(autograd.Function):
    def forward(self, x):
        y = 1 / (1 + nd.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved_tensors
        return dy * y * (1 - y)


def test_function_matches_builtin():
    x = attached([-1.0, 0.0, 2.0])
    with autograd.record():
        z = Sigmoid()(x)
    z.backward()
    custom = x.grad.asnumpy()
    with autograd.record():
        z = nd.sigmoid(x)
    z.backward()
    close(custom, x.grad, rtol=1e-6)


def test_function_single_use_and_outside_record():
    f = Sigmoid()
    y = f(nd.array([0.0]))
    close(y, [0.5])
    with pytest.raises(AutogradError, match="only be called once"):
        f(nd.array([0.0]))


class Mul(autograd.Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        assert not autograd.is_recording()
        return a * b

    def backward(self, dy):
        a, b = self.saved_tensors
        return dy * b, dy * a


def test_function_gives_every_input_its_gradient():
    const, a = nd.array([3.0]), attached([2.0], req="add")
    for _ in range(2):
        with autograd.record():
            y = Mul()(const, a)
        y.backward()
    close(a.grad, [6.0])


class TwoOut(autograd.Function):
    def forward(self, x):
        return x * 2, x * 3

    def backward(self, d2, d3):
        return d2 * 2 + d3 * 3


def test_function_with_two_outputs():
    x = attached([1.0])
    with autograd.record():
        p, q = TwoOut()(x)
        y = p * 10 + q
    y.backward()
    close(x.grad, [23.0])


class BadCount(autograd.Function):
    def forward(self, a, b):
        return a + b

    def backward(self, dy):
        return dy


def test_function_wrong_gradient_count_raises_synchronously():
    a, b = attached([1.0]), attached([2.0])
    with autograd.record():
        y = BadCount()(a, b)
    with pytest.raises(AutogradError, match="returned 1 gradients for 2 inputs"):
        y.backward()


# ---- training mode and memory ---------------------------------------------------------------------

def test_dropout_follows_training_flag():
    x = nd.ones((1000,))
    with autograd.record():
        dropped = nd.Dropout(x, p=0.5)
    with autograd.record(train_mode=False):
        kept = nd.Dropout(x, p=0.5)
    values = dropped.asnumpy()
    assert set(np.unique(values)) <= {0.0, 2.0} and 300 < (values == 0).sum() < 700
    close(kept, x)


def test_tape_is_freed_after_backward():
    x = attached([1.0, 2.0])
    with autograd.record():
        y = x * x
    node = weakref.ref(y._entry)
    y.backward()
    assert node().freed and node().in_data == ()
    del y
    gc.collect()
    assert node() is None
