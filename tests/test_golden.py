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
