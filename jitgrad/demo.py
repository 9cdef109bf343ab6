"""The MXNet autograd tutorial (Straight Dope, chapter 1, "autograd"), run on jitgrad.

Run it with ``python -m jitgrad.demo``. Every step prints the code it runs, then runs that code in a
namespace shared by all the steps and prints the output. The random generator is seeded, so the output
is the same on every run.
"""
from __future__ import annotations

import textwrap

SETUP = """
import numpy as np
import jitgrad as jg
from jitgrad import nd, autograd
jg.random.seed(1)
"""

STEPS = [
    ("Attach a gradient buffer, record the computation, call backward", """
x = nd.array([[1, 2], [3, 4]])
x.attach_grad()
with autograd.record():
    y = x * 2
    z = y * x
z.backward()
print(x.grad)
"""),
    ("z = 2 * x * x, so dz/dx = 4 * x (comparisons give 1 where true)", """
print(x.grad == 4 * x)
"""),
    ("Head gradients: backward(g) computes the vector-Jacobian product g . dz/dx", """
with autograd.record():
    y = x * 2
    z = y * x
head_gradient = nd.array([[10, 1.], [.1, .01]])
z.backward(head_gradient)
print(x.grad)
"""),
    ("Python control flow: only the operations that actually run are recorded", """
a = nd.random_normal(shape=3)
a.attach_grad()
with autograd.record():
    b = a * 2
    while (nd.norm(b) < 1000).asscalar():
        b = b * 2
    if (nd.sum(b) > 0).asscalar():
        c = b
    else:
        c = 100 * b
head_gradient = nd.array([0.01, 1.0, .1])
c.backward(head_gradient)
print(a.grad)
"""),
    ("c is a times a constant, so dc/da = c / a and a.grad = head_gradient * c / a", """
print(head_gradient * c / a)
print(np.allclose(a.grad.asnumpy(), (head_gradient * c / a).asnumpy()))
"""),
    ("autograd.grad with create_graph=True: the gradient can be differentiated again", """
x = nd.array([1])
x.attach_grad()
with autograd.record():
    z = nd.exp(x) + x
dx = autograd.grad(z, [x], create_graph=True)
print(dx)  # d/dx (exp(x) + x) = e + 1
dx[0].backward()
print(x.grad)  # d2/dx2 (exp(x) + x) = e
"""),
    ("A custom autograd.Function: a sigmoid that never overflows", """
class StableSigmoid(autograd.Function):
    def forward(self, x):
        e = nd.exp(-nd.abs(x))  # never overflows: at most 1
        big, small = 1 / (1 + e), e / (1 + e)
        y = nd.where(x >= 0, big, small)
        self.save_for_backward(y, nd.where(x >= 0, small, big))  # y and 1 - y
        return y

    def backward(self, dy):
        y, one_minus_y = self.saved_tensors
        return dy * y * one_minus_y

x = nd.array([-30., -3., 0., 3., 30.])
x.attach_grad()
with autograd.record():
    y = StableSigmoid()(x)
y.backward()
custom = x.grad.copy()
print(custom)
"""),
    ("The built-in nd.sigmoid gives the same gradient, to float32 precision", """
with autograd.record():
    y = nd.sigmoid(x)
y.backward()
print(x.grad)  # at x=30, 1 - y rounds to 0 in float32, so this gradient is 0
print(np.allclose(custom.asnumpy(), x.grad.asnumpy()))
"""),
]


def show(code: str) -> None:
    print(textwrap.indent(code, "    "))
    print()


def main() -> dict:
    """Print and run every step; returns the namespace the steps ran in."""
    namespace: dict = {}
    setup = SETUP.strip("\n")
    print("# Automatic differentiation with jitgrad (MXNet's autograd tutorial)\n")
    show(setup)
    exec(compile(setup, "<demo setup>", "exec"), namespace)
    for number, (title, code) in enumerate(STEPS, 1):
        code = code.strip("\n")
        print(f"## {number}. {title}\n")
        show(code)
        exec(compile(code, f"<demo step {number}>", "exec"), namespace)
        print()
    return namespace


if __name__ == "__main__":
    main()
