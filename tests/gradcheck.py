"""One finite-difference gradient checker for every gradient test.

`check_grads(fn, inputs)` compares, in float64, the directional derivative of the scalar
<fn(x), u> along a random direction d (central differences) with <grad, d> from
record()/backward() and from autograd.grad(). With order=2 it does the same one level up: the
gradient of <first-order grad, w> (recorded through autograd.grad(create_graph=True)) against
central differences of the first-order gradient itself.
"""
from __future__ import annotations

import numpy as np

from jitgrad import autograd, nd
from jitgrad.ir import live


def _arrays(xs, attach: bool):
    arrays = [nd.array(x, dtype=np.float64) for x in xs]
    if attach:
        for a in arrays:
            a.attach_grad()
    return arrays


def _value(fn, xs) -> np.ndarray:
    return fn(*_arrays(xs, attach=False)).asnumpy()


def _first_grads(fn, xs, u) -> list[np.ndarray]:
    """d<fn(x), u>/dx through record() and backward()."""
    arrays = _arrays(xs, attach=True)
    with autograd.record():
        y = fn(*arrays)
    y.backward(nd.array(u, dtype=y.dtype))
    return [a.grad.asnumpy() for a in arrays]


def _shifted(xs, ds, step):
    return [x + step * d for x, d in zip(xs, ds, strict=True)]


def _directional(f, xs, ds, eps):
    """Central difference of f (returning a float) at xs along ds."""
    return (f(_shifted(xs, ds, eps)) - f(_shifted(xs, ds, -eps))) / (2 * eps)


def _dot(a_list, b_list) -> float:
    return float(sum(np.vdot(a, b) for a, b in zip(a_list, b_list, strict=True)))


def _assert_close(what, analytic, numeric, rtol, atol):
    if not abs(analytic - numeric) <= atol + rtol * max(abs(analytic), abs(numeric)):
        raise AssertionError(f"{what}: analytic {analytic!r} vs finite differences {numeric!r} "
                             f"(difference {analytic - numeric:.3g})")


def check_grads(fn, inputs, order: int = 1, eps: float = 1e-6, rtol: float = 1e-6,
                atol: float = 1e-8, seed: int = 0) -> None:
    """Check first (and, with order=2, second) derivatives of `fn` at `inputs`.

    `fn` maps float64 NDArrays (one per entry of `inputs`, numpy arrays) to one NDArray; anything
    that should not be differentiated is closed over in `fn`.
    """
    rng = np.random.default_rng(seed)
    xs = [np.asarray(x, dtype=np.float64) for x in inputs]
    u = rng.standard_normal(_value(fn, xs).shape)
    ds = [rng.standard_normal(x.shape) for x in xs]

    grads = _first_grads(fn, xs, u)
    numeric = _directional(lambda p: float(np.vdot(_value(fn, p), u)), xs, ds, eps)
    _assert_close("first order (backward)", _dot(grads, ds), numeric, rtol, atol)

    arrays = _arrays(xs, attach=True)
    with autograd.record():
        y = fn(*arrays)
    via_grad = autograd.grad(y, arrays, head_grads=nd.array(u, dtype=y.dtype))
    for g_backward, g_grad in zip(grads, via_grad, strict=True):
        np.testing.assert_allclose(g_grad.asnumpy(), g_backward, rtol=1e-12, atol=1e-12,
                                   err_msg="autograd.grad disagrees with backward")
    if order < 2:
        return

    ws = [rng.standard_normal(x.shape) for x in xs]
    arrays = _arrays(xs, attach=True)
    with autograd.record():
        y = fn(*arrays)
        first = autograd.grad(y, arrays, head_grads=nd.array(u, dtype=y.dtype), create_graph=True)
        for g_recorded, g_plain in zip(first, grads, strict=True):
            np.testing.assert_allclose(g_recorded.asnumpy(), g_plain, rtol=1e-12, atol=1e-12,
                                       err_msg="create_graph=True changed the first-order gradient")
        h = sum(((g * nd.array(w, dtype=np.float64)).sum() for g, w in zip(first, ws, strict=True)),
                start=nd.zeros((1,), dtype=np.float64))
    if live(h._entry) is None:
        # The first-order gradient does not depend on the inputs (a linear fn): the Hessian is 0.
        second = [np.zeros_like(x) for x in xs]
    else:
        second = [g.asnumpy() for g in autograd.grad(h, arrays)]
    numeric = _directional(lambda p: _dot(_first_grads(fn, p, u), ws), xs, ds, eps)
    _assert_close("second order (grad of grad)", _dot(second, ds), numeric, rtol, atol)
