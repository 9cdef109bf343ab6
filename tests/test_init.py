"""jg.init: attached arrays with the documented scales, fans, dtypes and seeding."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitgrad as jg
from jitgrad.errors import DTypeError

BIG = (400, 300)  # 120000 values: sample standard deviations within about 0.5 %


def test_results_are_attached_float32_by_default():
    for x in (jg.init.normal(BIG), jg.init.uniform(5), jg.init.xavier((3, 2)), jg.init.he((3, 2)),
              jg.init.zeros((2, 2)), jg.init.constant(3, 0.5), jg.init.parameter([1, 2])):
        assert x.dtype == np.float32 and x.grad is not None and not x.grad.asnumpy().any()
    assert jg.init.he((3, 2), dtype="float64").dtype == np.float64
    assert jg.init.zeros(3, grad_req="add")._entry.req == "add"


def test_fans_of_matrices_and_kernels():
    assert jg.init.fans((10, 64)) == (64, 10)
    assert jg.init.fans((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match=r"init.he: .*at least 2 dimensions.*\(5,\)"):
        jg.init.he(5)


@pytest.mark.parametrize("make,std", [
    (lambda: jg.init.normal(BIG, std=0.2, mean=1.0), 0.2),
    (lambda: jg.init.uniform(BIG, -0.3, 0.3), 0.3 / math.sqrt(3)),
    (lambda: jg.init.xavier(BIG), math.sqrt(2 / 700)),
    (lambda: jg.init.xavier(BIG, gain=2.0, distribution="normal"), 2 * math.sqrt(2 / 700)),
    (lambda: jg.init.he(BIG), math.sqrt(2 / 300)),
    (lambda: jg.init.he(BIG, mode="fan_out", nonlinearity="tanh", distribution="uniform"),
     5 / 3 / math.sqrt(400)),
])
def test_standard_deviations(make, std):
    values = make().asnumpy().astype(np.float64)
    assert abs(values.std() / std - 1) < 0.01


def test_uniform_xavier_bound():
    values = jg.init.xavier((30, 20), seed=0).asnumpy()
    bound = math.sqrt(6 / 50)
    assert values.max() <= bound and values.min() >= -bound and values.max() > 0.9 * bound


def test_seeding():
    a = jg.init.he((4, 3), seed=7).asnumpy()
    np.testing.assert_array_equal(a, jg.init.he((4, 3), seed=7).asnumpy())
    np.testing.assert_array_equal(a, jg.init.he((4, 3), rng=np.random.default_rng(7)).asnumpy())
    jg.random.seed(3)
    b = jg.init.normal(6).asnumpy()
    jg.random.seed(3)
    np.testing.assert_array_equal(b, jg.init.normal(6).asnumpy())


def test_parameter_copies():
    source = jg.nd.array([1.0, 2.0], dtype="float64")
    p = jg.init.parameter(source)
    p[:] = 0
    assert p.dtype == np.float64 and source.asnumpy().tolist() == [1.0, 2.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="std must be positive"):
        jg.init.normal(3, std=0)
    with pytest.raises(ValueError, match="distribution must be"):
        jg.init.xavier((2, 2), distribution="cauchy")
    with pytest.raises(ValueError, match="mode must be"):
        jg.init.he((2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="seed or rng, not both"):
        jg.init.normal(3, seed=1, rng=np.random.default_rng())
    with pytest.raises(DTypeError, match="attach_grad"):
        jg.init.zeros(3, dtype="int32")
