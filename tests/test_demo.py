"""The demo (`python -m jitgrad.demo`) runs and prints the tutorial's numbers."""
from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import demo, nd

F32 = np.float32


@pytest.fixture(scope="module")
def output() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        demo.main()
    return buffer.getvalue()


def block(array: np.ndarray) -> str:
    """How jitgrad prints an NDArray holding `array`."""
    return f"\n{array}\n<NDArray {'x'.join(map(str, array.shape))} @cpu(0)>"


def printed_after(output: str, code_line: str) -> np.ndarray:
    """The values of the first NDArray printed after the code line `code_line`."""
    rest = output[output.index(code_line + "\n"):]
    match = re.search(r"\n\[([^\[\]]*)\]\n<NDArray \d+ @cpu\(0\)>", rest)
    assert match, f"no 1-D NDArray printed after {code_line!r}"
    return np.array(match.group(1).split(), dtype=F32)


def test_first_gradient(output):
    assert "\n[[ 4.  8.]\n [12. 16.]]\n<NDArray 2x2 @cpu(0)>" in output
    assert block(np.ones((2, 2), F32)) in output  # x.grad == 4 * x


def test_head_gradient(output):
    expected = np.array([[40, 8], [1.2, .16]], dtype=F32)
    assert str(expected) == "[[40.    8.  ]\n [ 1.2   0.16]]"
    assert block(expected) in output


def test_control_flow_gradient_is_head_gradient_times_c_over_a(output):
    jg.random.seed(1)
    a = nd.random_normal(shape=3).asnumpy()  # the demo's a: same seed, first draw
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    head_gradient = np.array([0.01, 1.0, .1], dtype=F32)
    grad = printed_after(output, "    print(a.grad)")
    np.testing.assert_allclose(grad, head_gradient * c / a, rtol=1e-6)
    assert "\nTrue\n" in output[output.index("print(np.allclose(a.grad"):]


def test_second_derivative(output):
    # float32 arithmetic as jitgrad does it (numpy's float32 exp may be 1 ulp from the true e)
    e = np.exp(np.ones(1, F32))
    first, second = e + F32(1), e
    np.testing.assert_allclose(first, np.e + 1, rtol=1e-6)
    np.testing.assert_allclose(second, np.e, rtol=1e-6)
    assert "\n[" + block(first) + "]\n" in output  # autograd.grad returns a list
    assert block(second) in output[output.index("    dx[0].backward()"):]


def test_custom_function_matches_builtin_sigmoid(output):
    x = np.array([-30., -3., 0., 3., 30.])
    exact = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    custom = printed_after(output, "    print(custom)")
    np.testing.assert_allclose(custom, exact, rtol=1e-6)
    builtin_part = output[output.index("y = nd.sigmoid(x)"):]
    assert "\nTrue\n" in builtin_part


def test_output_is_deterministic(output):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        demo.main()
    assert buffer.getvalue() == output
