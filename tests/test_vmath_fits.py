"""The minimax polynomials of jitgrad.codegen.vmath fitted for it: refit each (relative error, Lawson's
iteration on Chebyshev points, float64) and check that the stored float32 coefficients are the fit's, to a
few float32 ULP, and that their error in float64 is within the bound the source states."""
import math

import numpy as np
import pytest

from jitgrad.codegen.vmath import explog, trig


def lawson(columns, target, weight, iters=400):
    """Coefficients c minimizing max |weight (columns @ c - target)|, approximately (Lawson: least squares
    reweighted by the error, so the weights concentrate on the extrema)."""
    a, y = columns * weight[:, None], target * weight
    w = np.full(y.size, 1 / y.size)
    for _ in range(iters):
        s = np.sqrt(w)
        c = np.linalg.lstsq(a * s[:, None], y * s, rcond=None)[0]
        w = w * np.abs(a @ c - y)
        w /= w.sum()
    return c


def chebyshev(lo, hi, n=4000):
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def fit(case):
    """The fitted coefficients (highest degree first, rounded to float32) of case's polynomial Q in
    f(x) = lead(x) + scale(x) Q(var(x)), the relative error of f minimized."""
    stored, x, f, lead, scale, var = case
    cols = np.stack([var(x) ** k for k in range(len(stored))], 1)
    return lawson(cols, (f(x) - lead(x)) / scale(x), np.abs(scale(x) / f(x)))[::-1].astype(np.float32)


def rel_error(case, coeffs):
    _, x, f, lead, scale, var = case
    fitted = lead(x) + scale(x) * np.polyval(coeffs.astype(np.float64), var(x))
    return np.max(np.abs(fitted - f(x)) / np.abs(f(x)))


HALF_LN2 = math.log(2) / 2
REDUCED = chebyshev(-HALF_LN2, HALF_LN2)
REDUCED = REDUCED[np.abs(REDUCED) > 1e-4]
ANGLES = chebyshev(1e-3, 0.83)
CASES = {
    # name: (stored coefficients, points, f, lead, scale, variable of Q)
    "expm1": (explog.EXPM1_Q_F32, REDUCED, np.expm1, lambda x: x + x * x / 2, lambda x: x ** 3, lambda x: x),
    "exp": (explog.EXP_Q_F32, REDUCED, np.exp, lambda x: 1 + x, lambda x: x * x, lambda x: x),
    "sin": (trig.SIN_S_F32, ANGLES, np.sin, lambda x: x, lambda x: x ** 3, lambda x: x * x),
    "cos": (trig.COS_C_F32, ANGLES, np.cos, lambda x: 1 - x * x / 2, lambda x: x ** 4, lambda x: x * x),
}
STATED_LOG2_ERROR = {"expm1": -29.8, "exp": -28.0, "sin": -26.7, "cos": -30.2}


@pytest.mark.parametrize("name", sorted(CASES))
def test_stored_coefficients_are_the_fit(name):
    case = CASES[name]
    stored = np.array(case[0], np.float32)
    got = fit(case)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - stored.view(np.int32))
    assert (ulps <= 4).all(), (name, got, stored)
    assert np.log2(rel_error(case, stored)) <= STATED_LOG2_ERROR[name] + 0.05
