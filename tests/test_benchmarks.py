"""Every benchmark workload, at a tiny size, through every implementation available here (numpy,
jitgrad eager / compiled / value_and_grad; torch and jax when installed) matches the hand-derived
numpy reference. No timings are asserted: `python -m benchmarks` does the timing."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import report
from benchmarks.workloads import IMPLS, WORKLOADS, Skip, build_numpy, check, count_ops

CASES = [(w, i) for w in WORKLOADS for i in IMPLS if i != "numpy"]


@pytest.mark.parametrize("workload,impl", CASES, ids=[f"{w}-{i}" for w, i in CASES])
def test_matches_numpy_reference(workload, impl):
    wl = WORKLOADS[workload]
    data = wl.make(wl.tiny, 1)
    ref_step, ref_fetch = build_numpy(wl, data)
    want = ref_fetch(ref_step())
    try:
        step, fetch = IMPLS[impl].build(wl, data)
    except Skip as e:
        pytest.skip(str(e))
    for _ in range(3):            # trace, compile, then a cached call: all must be right
        check(wl, impl, fetch(step()), want)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_reference_gradients_by_finite_differences(workload):
    """The hand-derived numpy gradients are the gradients of the numpy value (float64 differences)."""
    wl = WORKLOADS[workload]
    data = {k: (v if k == "label" else v.astype(np.float64)) for k, v in wl.make(wl.tiny, 2).items()}
    _, grads = wl.numpy(*[data[a] for a in wl.args])
    rng = np.random.default_rng(0)
    for name, g in zip(wl.diff, grads):
        p = data[name]
        for idx in {tuple(int(rng.integers(0, s)) for s in p.shape) for _ in range(3)}:
            old, eps = p[idx], 1e-6 * max(1.0, abs(p[idx]))
            p[idx] = old + eps
            hi = float(wl.numpy(*[data[a] for a in wl.args])[0])
            p[idx] = old - eps
            lo = float(wl.numpy(*[data[a] for a in wl.args])[0])
            p[idx] = old
            np.testing.assert_allclose(g[idx], (hi - lo) / (2 * eps), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{workload} d/d{name}{list(idx)}")


def test_check_rejects_a_wrong_gradient():
    wl = WORKLOADS["W1"]
    data = wl.make(wl.tiny, 0)
    want = build_numpy(wl, data)[1](build_numpy(wl, data)[0]())
    wrong = (want[0], [want[1][0] * 1.01, want[1][1]])
    with pytest.raises(AssertionError, match="grad w"):
        check(wl, "wrong", wrong, want)


def test_report_of_a_small_run(tmp_path):
    """The table, the targets and the docs block render from a run's JSON (made-up numbers)."""
    def case(wl, size, times, floor=None):
        return {"workload": wl, "size": size, "describe": WORKLOADS[wl].describe(size),
                "title": WORKLOADS[wl].title, "unit": WORKLOADS[wl].unit, "bytes": 8 * size,
                "floor_s": floor, "skipped": {"jax.jit": "jax is not installed"},
                "impls": {n: {"median_s": t, "min_s": t, "first_calls_s": [t, t, t], "warmup_excess_s": 0.0,
                              "rss_peak_delta": 0, "tracemalloc_peak": 0} for n, t in times.items()}}
    run = {"timestamp": "t", "rounds": 7, "sample_s": 0.01, "bandwidth_Bps": 5e10,
           "environment": {"cpu": "cpu", "cpus": 2, "python": "3", "numpy": "2", "numba": "0"},
           "cases": [case("W1", 10 ** 7, {"numpy": 40e-3, "jg value_and_grad": 5e-3, "jg compile": 8e-3},
                          floor=4e-3),
                     case("W5", 16, {"numpy": 5e-6, "jg value_and_grad": 4e-6, "jg eager": 40e-6})]}
    run["cases"][1]["impls"]["jg eager"]["ops_per_call"] = 16
    md = report.markdown(run)
    assert "| W1 N=1e7 (ms) | 40 | - | 8 (5.00x) | 5 (8.00x) |" in md
    status = {t["target"]: t["status"] for t in report.targets(run)}
    assert status["W1 N=1e7: value_and_grad >= 4x faster than numpy"] == "met"
    assert status["W1 N=1e7: value_and_grad within 1.3x of the memory floor"] == "met"
    assert status["W1 N=1e7: value_and_grad >= 1.5x faster than jax.jit"] == "n/a"
    eager = [t for t in report.targets(run) if t["target"].startswith("W5: eager")]
    assert [(t["status"], t["measured"]) for t in eager] == [
        ("met", "jg eager 40.0 us for 16 ops: 2.50 us per op (numpy's step here 5.0 us, 4.9 us on the "
                "host the targets were set on)")]
    (tmp_path / "performance.md").write_text("# P\n\nprose\n\n<!-- results:begin -->\nold\n<!-- results:end -->\n")
    report.update_docs(run, md, tmp_path / "none.png", tmp_path)
    text = (tmp_path / "performance.md").read_text()
    assert "prose" in text and "old" not in text and "W1 N=1e7" in text


def test_count_ops_counts_each_primitive_once():
    from jitgrad import nd
    x, y = nd.array([1.0, 2.0]), nd.array([3.0, 4.0])
    assert count_ops(lambda: nd.sum(x * y + 1.0)) == 3     # multiply, add, sum
    assert (x * y).sum().asnumpy().tolist() in (11.0, [11.0])   # the dispatcher is back in place


def test_count_ops_counts_the_backward_rules_too():
    from jitgrad import autograd, nd
    w, x = nd.array([1.0, 2.0]), nd.array([3.0, 4.0])
    w.attach_grad()

    def step():
        with autograd.record():
            loss = nd.sum(x * w)
        loss.backward()
    # multiply, sum; backward: broadcast_to (sum's rule), multiply (g * x for w)
    assert count_ops(step) == 4
    assert autograd.PLAIN_RULES   # plain backward again afterwards
    np.testing.assert_array_equal(w.grad.asnumpy(), [3.0, 4.0])
