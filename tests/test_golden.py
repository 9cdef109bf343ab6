"""Golden snapshots of traced IR: a change in what tracing records shows up as a readable diff.
Set JITGRAD_UPDATE_GOLDEN=1 to rewrite the snapshots after an intended change."""
import os
import pathlib

import pytest

import jitgrad as jg
from jitgrad import nd
from jitgrad.jit import trace_graph

GOLDEN = pathlib.Path(__file__).parent / "golden"


def elementwise_loss(w, b, x, y):
    return nd.sum((nd.tanh(x * w + b) - y) ** 2)


def logistic(w, b, X, y):
    p = nd.sigmoid(nd.dot(X, w) + b)
    return -nd.mean(y * nd.log(p) + (1 - y) * nd.log(1 - p))


def tutorial(a):
    b = a * 2
    while (nd.norm(b) < 1000).asscalar():
        b = b * 2
    return b if (nd.sum(b) > 0).asscalar() else 100 * b


PROGRAMS = {
    "elementwise_loss": lambda: trace_graph(elementwise_loss, nd.ones(4), nd.ones(1), nd.ones(4),
                                            nd.ones(4)),
    "elementwise_loss_value_and_grad": lambda: trace_graph(
        jg.value_and_grad(elementwise_loss, argnums=(0, 1)), nd.ones(1), nd.ones(1), nd.ones(4),
        nd.ones(4)),
    "logistic_value_and_grad": lambda: trace_graph(
        jg.value_and_grad(logistic, argnums=(0, 1)), nd.ones(3), nd.ones(1), nd.ones((5, 3)),
        nd.ones(5)),
    "tutorial_while_loop": lambda: trace_graph(tutorial, nd.array([100.0, 200.0, 300.0])),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_printed_ir_matches_snapshot(name):
    text = str(PROGRAMS[name]()) + "\n"
    path = GOLDEN / f"{name}.ir.txt"
    if os.environ.get("JITGRAD_UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text()


def kernel_sources(fn, *args) -> str:
    """The generated source of every kernel of a compiled call, minus the line naming tool versions
    (it changes with Numba and with the math library, not with what the generator writes)."""
    compiled = getattr(fn, "compiled", fn)
    compiled(*args)
    root = next(iter(compiled._roots.values()))
    text = "".join(source for _, source, _ in root.program.kernels)
    return "\n".join(line for line in text.splitlines() if not line.startswith("# scalar math from"))


SOURCES = {
    "elementwise_loss_value_and_grad": lambda: kernel_sources(
        jg.value_and_grad(elementwise_loss, argnums=(0, 1)), nd.ones(1), nd.ones(1), nd.ones(4),
        nd.ones(4)),
    "logsumexp_rows": lambda: kernel_sources(
        jg.compile(lambda x: nd.logsumexp(x, axis=1)), nd.ones((3, 5))),
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_generated_source_matches_snapshot(name):
    text = SOURCES[name]() + "\n"
    path = GOLDEN / f"{name}.source.txt"
    if os.environ.get("JITGRAD_UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text()
