"""jitgrad.optim against numpy re-implementations of PyTorch's documented update rules, eager and
compiled, over several steps; state saving; errors."""
from __future__ import annotations

import numpy as np
import pytest

from jitgrad import autograd, nd
from jitgrad.errors import AutogradError, DTypeError, ShapeError
from jitgrad.ir import Variable
from jitgrad.optim import SGD, Adam, AdamW
from jitgrad.optim.base import PROGRAM

SHAPES = [(3, 4), (4,)]
STEPS = 4


# ---- the reference: PyTorch's formulas, in numpy, one parameter at a time -----------------------

def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    b = None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def adam_reference(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled=False):
    (b1, b2), m, v = betas, np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


CASES = [
    (SGD, dict(lr=0.1), sgd_reference),
    (SGD, dict(lr=0.1, momentum=0.9), sgd_reference),  # the first buffer is the gradient itself
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.05), sgd_reference),
    (SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), sgd_reference),
    (Adam, dict(lr=0.01), adam_reference),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), adam_reference),
    (AdamW, dict(lr=0.01, weight_decay=0.1), lambda p, g, **kw: adam_reference(p, g, decoupled=True,
                                                                              **kw)),
]
IDS = ["sgd", "sgd-momentum", "sgd-momentum-dampening-decay", "sgd-nesterov", "adam", "adam-l2", "adamw"]


def make_params(dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    params = [nd.array(rng.normal(size=s), dtype=dtype) for s in SHAPES]
    for p in params:
        p.attach_grad()
    return params


def gradient_sequence(seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]


def run(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad[:] = g.astype(p.dtype)
        opt.step()
    return [p.asnumpy() for p in params]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("cls,options,reference", CASES, ids=IDS)
def test_matches_reference(cls, options, reference, compiled):
    params, grads = make_params(), gradient_sequence()
    start = [p.asnumpy() for p in params]
    got = run(cls(params, compiled=compiled, **options), params, grads)
    for i, (p0, value) in enumerate(zip(start, got)):
        want = reference(p0, [g[i] for g in grads], **options)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-14)
        assert not np.allclose(value, p0)  # the parameters moved


def test_float32_and_float64_parameters_in_one_compiled_step():
    """Each dtype gets its own 0-d hyperparameter arrays (jitgrad never mixes dtypes)."""
    pair = [make_params("float32")[0], make_params("float64")[1]]
    grads = gradient_sequence()
    start = [p.asnumpy().astype(np.float64) for p in pair]
    got = run(Adam(pair, lr=0.01, compiled=True), pair, grads)
    assert got[0].dtype == np.float32 and got[1].dtype == np.float64
    for i, rtol in enumerate((2e-5, 1e-12)):
        want = adam_reference(start[i], [g[i].astype(got[i].dtype) for g in grads], lr=0.01)
        np.testing.assert_allclose(got[i], want, rtol=rtol, atol=1e-6 if i == 0 else 1e-14)


def test_scalar_and_transposed_parameters():
    """0-d parameters and non-contiguous ones (a transposed view) give the reference values."""
    rng = np.random.default_rng(3)
    results = []
    for compiled in (False, True):
        params = [nd.array(np.float64(1.5), dtype="float64"),
                  nd.array(np.asfortranarray(rng.normal(size=(3, 4))), dtype="float64")]
        for p in params:
            p.attach_grad()
        start = [p.asnumpy() for p in params]
        opt = Adam(params, lr=0.1, compiled=compiled)
        grads = [[np.float64(0.5 * t), np.full((3, 4), 0.1 * t)] for t in range(1, 4)]
        for step in grads:
            for p, g in zip(params, step):
                p.grad[...] = g
            opt.step()
        for i, p in enumerate(params):
            want = adam_reference(start[i], [g[i] for g in grads], lr=0.1)
            np.testing.assert_allclose(p.asnumpy(), want, rtol=1e-12)
        results.append(params[1]._data.flags["C_CONTIGUOUS"])
    assert results == [False, False]  # the parameters kept their layout


def test_learning_rate_changes_do_not_retrace():
    params, grads = make_params(), gradient_sequence()
    opt = Adam(params, lr=0.01, compiled=True)
    run(opt, params, grads[:2])
    traces = PROGRAM.cache_info()["traces"]
    opt.lr = 0.001
    run(opt, params, grads[2:])
    assert PROGRAM.cache_info()["traces"] == traces


def test_training_with_autograd_reduces_the_loss():
    """Least squares y = X w: Adam over recorded gradients reaches the numpy solution."""
    rng = np.random.default_rng(2)
    X, w_true = rng.normal(size=(32, 3)), np.array([1.5, -2.0, 0.5])
    x, y = nd.array(X), nd.array(X @ w_true)
    w = nd.zeros(3)
    w.attach_grad()
    opt = Adam([w], lr=0.1)
    for _ in range(300):
        with autograd.record():
            loss = nd.mean((nd.dot(x, w) - y) ** 2)
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.asnumpy(), w_true, atol=1e-3)


def test_step_writes_in_place():
    params = make_params()
    view = np.asarray(params[0])  # shares the parameter's memory
    run(SGD(params, lr=0.1), params, gradient_sequence()[:1])
    np.testing.assert_array_equal(view, params[0].asnumpy())


def test_step_inside_record():
    """Inside record(), step() still updates in place and leaves the parameters leaves."""
    params = make_params()
    start = params[0].asnumpy()
    opt = SGD(params, lr=0.1, compiled=True)
    with autograd.record():
        loss = nd.sum(params[0] * params[0])
        loss.backward()
        opt.step()
    np.testing.assert_allclose(params[0].asnumpy(), start - 0.1 * 2 * start, rtol=1e-15)
    assert all(isinstance(p._entry, Variable) for p in params)


def test_zero_grad():
    params = make_params()
    for p in params:
        p.grad[:] = 3.0
    SGD(params, lr=0.1).zero_grad()
    assert all(not p.grad.asnumpy().any() for p in params)


@pytest.mark.parametrize("cls,options", [(SGD, dict(lr=0.1, momentum=0.9)), (AdamW, dict(lr=0.01))],
                         ids=["sgd", "adamw"])
def test_state_dict_round_trip_through_savez(cls, options, tmp_path):
    grads = gradient_sequence()
    straight_params = make_params()
    straight = run(cls(straight_params, **options), straight_params, grads)

    params = make_params()
    first = cls(params, **options)
    run(first, params, grads[:2])
    np.savez(tmp_path / "opt.npz", **first.state_dict())
    second = cls(params, **dict(options, lr=123.0))  # the file's lr replaces this one
    with np.load(tmp_path / "opt.npz") as saved:
        second.load_state_dict(saved)
    assert second.step_count == 2 and second.lr == options["lr"]
    resumed = run(second, params, grads[2:])
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_plain_numpy():
    params = make_params()
    state = Adam(params).state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    assert state["exp_avg.0"].shape == SHAPES[0] and int(state["step"]) == 0


# ---- errors -------------------------------------------------------------------------------------

def test_load_rejects_mismatched_state():
    params = make_params()
    opt = Adam(params)
    state = opt.state_dict()
    bad_shape = dict(state, **{"exp_avg.1": np.zeros(5)})
    with pytest.raises(ShapeError, match=r"exp_avg.1.*shape \(5,\).*\(4,\)"):
        opt.load_state_dict(bad_shape)
    with pytest.raises(DTypeError, match="float32"):
        opt.load_state_dict(dict(state, **{"exp_avg.1": np.zeros(4, np.float32)}))
    with pytest.raises(KeyError, match="missing keys \\['exp_avg_sq.0'\\]"):
        opt.load_state_dict({k: v for k, v in state.items() if k != "exp_avg_sq.0"})
    with pytest.raises(ValueError, match="lr must be"):
        opt.load_state_dict(dict(state, lr=np.array(-1.0)))
    assert opt.lr == 1e-3  # a failed load changes nothing


def test_parameters_must_be_attached_ndarrays():
    with pytest.raises(AutogradError, match=r"SGD: parameter 1 is not attached.*float32 \(2,\)"):
        SGD([make_params()[0], nd.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    p = make_params()[0]
    with pytest.raises(ValueError, match="more than once"):
        Adam([p, p])


@pytest.mark.parametrize("make,message", [
    (lambda ps: SGD(ps, lr=-0.1), "SGD: lr must be finite and in"),
    (lambda ps: SGD(ps, lr=float("nan")), "lr must be finite"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-1), "momentum"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), r"betas\[1\] must be finite and in \[0.0, 1.0\)"),
    (lambda ps: Adam(ps, eps=-1e-8), "eps"),
    (lambda ps: AdamW(ps, weight_decay=-0.01), "weight_decay"),
])
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(make_params())


def test_bad_hyperparameter_set_later_fails_at_step():
    params = make_params()
    opt = SGD(params, lr=0.1)
    opt.lr = -1.0
    with pytest.raises(ValueError, match="SGD.step: lr"):
        opt.step()
    with pytest.raises(TypeError, match="betas must be a pair"):
        Adam(params, betas=0.9)
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD(params, lr="0.1")
