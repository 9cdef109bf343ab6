"""The benchmark workloads and their implementations.

Every workload is one value + gradient evaluation in float32. Each has
- `make(size, seed)`: the inputs as numpy arrays (a dict) plus which of them are differentiated;
- a numpy implementation with gradients derived by hand: the reference every other one must match;
- the same loss written for jitgrad (`nd`), PyTorch and JAX.

An *implementation* turns (workload, data) into a `step()` callable that runs one full evaluation
(value and every gradient materialised) and a `fetch(out)` that converts what `step` returned into
`(value: float, grads: list[np.ndarray])` outside the timed region.

Used by the runner (`python -m benchmarks`) and by tests/test_benchmarks.py.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from jitgrad import nd   # (imported here, not in each loss: an import costs 0.4 us per call)

F32 = np.float32

# ---- workloads ----------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    title: str
    args: tuple[str, ...]            # argument order of every implementation's loss function
    diff: tuple[str, ...]            # the arguments differentiated, in the order grads are returned
    make: Callable[[int, int], dict]  # (size, seed) -> {name: np.ndarray}
    sizes: tuple[int, ...]           # benchmark sizes
    tiny: int                        # size used by the correctness test
    numpy: Callable                  # (**data) -> (value, [grads in `diff` order])
    nd: Callable                     # jitgrad loss, positional in `args` order
    torch: Callable | None = None    # torch loss (takes a `torch` module first)
    jax: Callable | None = None      # jax loss (takes `jnp`, `jax` first)
    roofline: bool = False           # print the memory floor beside it
    unit: str = "ms"
    describe: Callable[[int], str] = field(default=lambda n: f"N={_count(n)}")

    @property
    def argnums(self) -> tuple[int, ...]:
        return tuple(self.args.index(d) for d in self.diff)


def _count(n: int) -> str:
    k = len(str(n)) - 1
    return f"1e{k}" if n >= 1000 and n == 10 ** k else str(n)


def _rng(seed):
    return np.random.default_rng(seed)


# -- W1 / W5: sum((tanh(x*w+b)-y)**2) -------------------------------------------------------------

def make_w1(n, seed=0):
    r = _rng(seed)
    return {"w": (0.5 + 0.1 * r.standard_normal(n, F32)).astype(F32),
            "b": (0.1 * r.standard_normal(n, F32)).astype(F32),
            "x": r.standard_normal(n, F32), "y": r.standard_normal(n, F32)}


def numpy_w1(w, b, x, y):
    t = np.tanh(x * w + b)
    r = t - y
    d = 2 * r * (1 - t * t)
    return np.sum(r * r), [d * x, d]


def nd_w1(w, b, x, y):
    return nd.sum((nd.tanh(x * w + b) - y) ** 2)


def torch_w1(torch, w, b, x, y):
    return torch.sum((torch.tanh(x * w + b) - y) ** 2)


def jax_w1(jnp, jax, w, b, x, y):
    return jnp.sum((jnp.tanh(x * w + b) - y) ** 2)


# -- W2: a chain of 16 elementwise ops, then a sum ------------------------------------------------
# t1 = x*w  t2 = t1+.5  t3 = sin t2  t4 = t3*x  t5 = tanh t4  t6 = t5+t1  t7 = sigmoid t6
# t8 = exp t7  t9 = t8*t5  t10 = |t9|  t11 = t10+1  t12 = sqrt t11  t13 = sin t12  t14 = t13*t7
# t15 = tanh t14  t16 = t15+x  loss = sum t16.   Gradients for x (N) and w (1,).

def make_w2(n, seed=0):
    r = _rng(seed)
    return {"x": r.standard_normal(n, F32), "w": np.array([0.7], F32)}


def _chain(ops, x, w):
    sin, tanh, sigmoid, exp, abs_, sqrt = ops
    t1 = x * w
    t3 = sin(t1 + 0.5)
    t5 = tanh(t3 * x)
    t7 = sigmoid(t5 + t1)
    t9 = exp(t7) * t5
    t13 = sin(sqrt(abs_(t9) + 1))
    return tanh(t13 * t7) + x


def numpy_w2(x, w):
    t1 = x * w
    t2 = t1 + F32(0.5)
    t3 = np.sin(t2)
    t4 = t3 * x
    t5 = np.tanh(t4)
    t7 = 1 / (1 + np.exp(-(t5 + t1)))
    t8 = np.exp(t7)
    t9 = t8 * t5
    t12 = np.sqrt(np.abs(t9) + 1)
    t13 = np.sin(t12)
    t15 = np.tanh(t13 * t7)
    value = np.sum(t15 + x)
    g14 = 1 - t15 * t15
    g7 = g14 * t13
    g9 = g14 * t7 * np.cos(t12) * (F32(0.5) / t12) * np.sign(t9)
    g5 = g9 * t8
    g7 += g9 * t5 * t8
    g6 = g7 * t7 * (1 - t7)
    g4 = (g5 + g6) * (1 - t5 * t5)
    g1 = g6 + g4 * x * np.cos(t2)
    gx = 1 + g4 * t3 + g1 * w
    return value, [gx, np.sum(g1 * x).reshape(1)]


def nd_w2(x, w):
    return nd.sum(_chain((nd.sin, nd.tanh, nd.sigmoid, nd.exp, nd.abs, nd.sqrt), x, w))


def torch_w2(torch, x, w):
    return torch.sum(_chain((torch.sin, torch.tanh, torch.sigmoid, torch.exp, torch.abs, torch.sqrt),
                            x, w))


def jax_w2(jnp, jax, x, w):
    return jnp.sum(_chain((jnp.sin, jnp.tanh, jax.nn.sigmoid, jnp.exp, jnp.abs, jnp.sqrt), x, w))


# -- W3: logistic regression, mean binary cross-entropy -------------------------------------------

def make_w3(n, seed=0, features=256):
    r = _rng(seed)
    return {"w": (0.1 * r.standard_normal((features, 1))).astype(F32), "b": np.array([0.05], F32),
            "X": r.standard_normal((n, features), F32),
            "y": (r.random((n, 1)) < 0.5).astype(F32)}


def numpy_w3(w, b, X, y):
    z = X @ w + b
    value = np.mean(np.logaddexp(F32(0), z) - y * z)
    dz = (1 / (1 + np.exp(-z)) - y) / F32(z.shape[0])
    return value, [X.T @ dz, np.sum(dz).reshape(1)]


def nd_w3(w, b, X, y):
    z = nd.dot(X, w) + b
    return nd.mean(nd.Activation(z, act_type="softrelu") - y * z)


def torch_w3(torch, w, b, X, y):
    return torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y)


def jax_w3(jnp, jax, w, b, X, y):
    z = X @ w + b
    return jnp.mean(jax.nn.softplus(z) - y * z)


# -- W4: MLP 784-512-10, relu, softmax cross-entropy ----------------------------------------------

def make_w4(batch, seed=0, sizes=(784, 512, 10)):
    r = _rng(seed)
    i, h, o = sizes
    return {"W1": (r.standard_normal((i, h)) * np.sqrt(2 / i)).astype(F32),
            "b1": (0.01 * r.standard_normal(h)).astype(F32),
            "W2": (r.standard_normal((h, o)) * np.sqrt(1 / h)).astype(F32),
            "b2": (0.01 * r.standard_normal(o)).astype(F32),
            "X": r.standard_normal((batch, i), F32),
            "label": r.integers(0, o, batch).astype(F32)}


def numpy_w4(W1, b1, W2, b2, X, label):
    a = X @ W1 + b1
    h = np.maximum(a, 0)
    logits = h @ W2 + b2
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(X.shape[0])
    lab = label.astype(np.intp)
    value = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, lab])
    g = e / s
    g[rows, lab] -= 1
    g /= F32(X.shape[0])
    gh = (g @ W2.T) * (a > 0)
    return value, [X.T @ gh, gh.sum(axis=0), h.T @ g, g.sum(axis=0)]


def nd_w4(W1, b1, W2, b2, X, label):
    h = nd.relu(nd.dot(X, W1) + b1)
    logits = nd.dot(h, W2) + b2
    return nd.softmax_cross_entropy(logits, label) / X.shape[0]


def torch_w4(torch, W1, b1, W2, b2, X, label):
    h = torch.relu(X @ W1 + b1)
    return torch.nn.functional.cross_entropy(h @ W2 + b2, label)


def jax_w4(jnp, jax, W1, b1, W2, b2, X, label):
    h = jax.nn.relu(X @ W1 + b1)
    logp = jax.nn.log_softmax(h @ W2 + b2, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, label[:, None], axis=1))


# -- W6: sum(logsumexp(x*w, axis=1)), x: rows x cols, w: (cols,) ----------------------------------

def make_w6(rows, seed=0, cols=1024):
    r = _rng(seed)
    return {"x": r.standard_normal((rows, cols), F32), "w": r.standard_normal(cols, F32)}


def numpy_w6(x, w):
    z = x * w
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    value = np.sum(np.log(s) + m)
    e /= s
    e *= x
    return value, [e.sum(axis=0)]


def nd_w6(x, w):
    return nd.sum(nd.logsumexp(x * w, axis=1))


def torch_w6(torch, x, w):
    return torch.sum(torch.logsumexp(x * w, dim=1))


def jax_w6(jnp, jax, x, w):
    return jnp.sum(jax.scipy.special.logsumexp(x * w, axis=1))


WORKLOADS = {
    "W1": Workload("W1", "elementwise loss sum((tanh(x*w+b)-y)**2)", ("w", "b", "x", "y"), ("w", "b"),
                   make_w1, (10 ** 3, 10 ** 5, 10 ** 6, 10 ** 7), 1000, numpy_w1, nd_w1, torch_w1, jax_w1,
                   roofline=True),
    "W2": Workload("W2", "chain of 16 elementwise ops, then sum", ("x", "w"), ("x", "w"), make_w2,
                   (10 ** 6,), 1000, numpy_w2, nd_w2, torch_w2, jax_w2, roofline=True),
    "W3": Workload("W3", "logistic regression, mean BCE", ("w", "b", "X", "y"), ("w", "b"), make_w3,
                   (20000,), 64, numpy_w3, nd_w3, torch_w3, jax_w3, describe=lambda n: f"{n}x256"),
    "W4": Workload("W4", "MLP 784-512-10, relu, softmax CE", ("W1", "b1", "W2", "b2", "X", "label"),
                   ("W1", "b1", "W2", "b2"), make_w4, (256,), 8, numpy_w4, nd_w4, torch_w4, jax_w4,
                   describe=lambda n: f"batch {n}"),
    "W5": Workload("W5", "dispatch: W1 at N=16", ("w", "b", "x", "y"), ("w", "b"), make_w1, (16,), 16,
                   numpy_w1, nd_w1, torch_w1, jax_w1, unit="us"),
    "W6": Workload("W6", "sum(logsumexp(x*w, axis=1))", ("x", "w"), ("w",), make_w6, (4096,), 16,
                   numpy_w6, nd_w6, torch_w6, jax_w6, roofline=True, describe=lambda n: f"{n}x1024"),
}


def cases(quick: bool = False):
    """(workload name, size) pairs of a benchmark run."""
    out = []
    for name, wl in WORKLOADS.items():
        for n in wl.sizes:
            out.append((name, n))
    return out


# ---- implementations ----------------------------------------------------------------------------

class Skip(Exception):
    """A peer that cannot run here (not installed, or its compiler refused): skipped with a note."""


@dataclass
class Impl:
    name: str
    build: Callable          # (workload, data) -> (step, fetch)
    peer: bool = False       # True: failures to build/compile are skips, not errors
    compiled: bool = False
    counts_ops: bool = False  # its steps go op by op through jitgrad's dispatcher (count_ops)


def _scalar(v) -> float:
    return float(np.asarray(v, dtype=np.float64).reshape(-1)[0])


def build_numpy(wl: Workload, data: dict):
    args = [data[a] for a in wl.args]

    def step():
        return wl.numpy(*args)

    def fetch(out):
        v, gs = out
        return _scalar(v), [np.array(g) for g in gs]
    return step, fetch


def _nd_args(wl, data):
    arrays = {k: nd.array(v, dtype=v.dtype) for k, v in data.items()}
    return arrays, [arrays[a] for a in wl.args]


def _build_recorded(wl: Workload, data: dict, fn):
    from jitgrad import autograd
    arrays, args = _nd_args(wl, data)
    params = [arrays[d] for d in wl.diff]
    for p in params:
        p.attach_grad()

    def step():
        with autograd.record():
            loss = fn(*args)
        loss.backward()
        return loss

    def fetch(loss):
        return _scalar(loss.asnumpy()), [p.grad.asnumpy().copy() for p in params]
    return step, fetch


def build_jg_eager(wl, data):
    return _build_recorded(wl, data, wl.nd)


def build_jg_compiled(wl, data):
    import jitgrad as jg
    return _build_recorded(wl, data, jg.compile(wl.nd))


def build_jg_vg(wl, data):
    import jitgrad as jg
    _, args = _nd_args(wl, data)
    vg = jg.value_and_grad(wl.nd, argnums=wl.argnums)

    def step():
        return vg(*args)

    def fetch(out):
        v, gs = out
        return _scalar(v.asnumpy()), [g.asnumpy().copy() for g in gs]
    return step, fetch


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _torch_args(wl, data):
    import torch
    out = {}
    for k, v in data.items():
        t = torch.from_numpy(v.copy())
        if k == "label":
            t = t.long()
        out[k] = t
    return torch, out


def _build_torch(wl, data, compiled: bool):
    torch, tensors = _torch_args(wl, data)
    params = [tensors[d].requires_grad_(True) for d in wl.diff]
    args = [tensors[a] for a in wl.args]

    def loss_fn(*a):
        return wl.torch(torch, *a)
    fn = torch.compile(loss_fn, dynamic=False) if compiled else loss_fn

    def step():
        for p in params:
            p.grad = None
        loss = fn(*args)
        loss.backward()
        return loss

    def fetch(loss):
        return _scalar(loss.detach().numpy()), [p.grad.numpy().copy() for p in params]
    return step, fetch


def build_torch_eager(wl, data):
    if not have("torch"):
        raise Skip("torch is not installed (pip install '.[bench]')")
    return _build_torch(wl, data, compiled=False)


def build_torch_compile(wl, data):
    if not have("torch"):
        raise Skip("torch is not installed (pip install '.[bench]')")
    return _build_torch(wl, data, compiled=True)


def build_torch_compile_func(wl, data):
    """torch.compile(torch.func.grad_and_value(loss)): forward and backward in one graph."""
    if not have("torch"):
        raise Skip("torch is not installed (pip install '.[bench]')")
    torch, tensors = _torch_args(wl, data)
    args = [tensors[a] for a in wl.args]

    def loss_fn(*a):
        return wl.torch(torch, *a)
    fn = torch.compile(torch.func.grad_and_value(loss_fn, argnums=wl.argnums), dynamic=False)

    def step():
        return fn(*args)

    def fetch(out):
        gs, v = out
        return _scalar(v.detach().numpy()), [g.detach().numpy().copy() for g in gs]
    return step, fetch


def build_jax(wl, data):
    if not (have("jax") and have("jaxlib")):
        raise Skip("jax is not installed (pip install '.[bench]')")
    import jax
    import jax.numpy as jnp
    arrays = {k: jnp.asarray(v.astype(np.int32) if k == "label" else v) for k, v in data.items()}
    args = [arrays[a] for a in wl.args]
    fn = jax.jit(jax.value_and_grad(lambda *a: wl.jax(jnp, jax, *a), argnums=wl.argnums))

    def step():
        return jax.block_until_ready(fn(*args))

    def fetch(out):
        v, gs = out
        return _scalar(np.asarray(v)), [np.asarray(g).copy() for g in gs]
    return step, fetch


def count_ops(step) -> int:
    """How many primitive operations one call of `step` applies: those of the forward and those the
    gradient rules apply in backward (counted at the dispatcher, with the rules run on NDArrays)."""
    from jitgrad import autograd, ops
    apply = ops._dispatch[0]
    count = 0

    def counted(prim, *inputs, **attrs):
        nonlocal count
        count += 1
        return apply(prim, *inputs, **attrs)
    ops.install_dispatcher(counted)
    autograd.PLAIN_RULES = False
    try:
        step()
    finally:
        ops.install_dispatcher(apply)
        autograd.PLAIN_RULES = True
    return count


IMPLS = {
    "numpy": Impl("numpy", build_numpy),
    "jg eager": Impl("jg eager", build_jg_eager, counts_ops=True),
    "jg compile": Impl("jg compile", build_jg_compiled, compiled=True),
    "jg value_and_grad": Impl("jg value_and_grad", build_jg_vg, compiled=True),
    "torch eager": Impl("torch eager", build_torch_eager, peer=True),
    "torch.compile": Impl("torch.compile", build_torch_compile, peer=True, compiled=True),
    "torch.compile(func)": Impl("torch.compile(func)", build_torch_compile_func, peer=True,
                                compiled=True),
    "jax.jit": Impl("jax.jit", build_jax, peer=True, compiled=True),
}
JITGRAD_IMPLS = ("jg eager", "jg compile", "jg value_and_grad")


# ---- the reference check ------------------------------------------------------------------------

class Mismatch(AssertionError):
    pass


def check(wl: Workload, impl: str, got, want, tol: float = 2e-3) -> None:
    """Raise Mismatch unless `got` matches the numpy reference `want` (value and every gradient):
    max |got - want| <= tol * max(|want|, 1) elementwise-scaled per array."""
    (gv, gg), (wv, wg) = got, want
    problems = []
    if not np.isfinite(gv) or abs(gv - wv) > tol * max(abs(wv), 1e-6):
        problems.append(f"value {gv!r} != {wv!r}")
    if len(gg) != len(wg):
        problems.append(f"{len(gg)} gradients, expected {len(wg)}")
    for name, g, r in zip(wl.diff, gg, wg):
        g = np.asarray(g)
        r = np.asarray(r)
        if g.shape != r.shape:
            problems.append(f"grad {name}: shape {g.shape} != {r.shape}")
            continue
        scale = max(float(np.max(np.abs(r))), 1e-12)
        err = float(np.max(np.abs(g.astype(np.float64) - r))) if g.size else 0.0
        if not np.all(np.isfinite(g)) or err > tol * scale:
            problems.append(f"grad {name}: max abs error {err:.3g} > {tol} * {scale:.3g}")
    if problems:
        raise Mismatch(f"{wl.name} {impl}: does not match the numpy reference: " + "; ".join(problems))
