"""The on-disk kernel cache: its directory, `python -m jitgrad.cache info|clear`, and turning it off."""
import os
import subprocess
import sys

import numpy as np

import jitgrad as jg
from jitgrad import cache, nd


def test_cache_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path / "kernels"))
    assert jg.cache_dir() == str(tmp_path / "kernels") and os.path.isdir(tmp_path / "kernels")
    monkeypatch.setenv("JITGRAD_CACHE_DIR", "")
    assert jg.cache_dir() is None
    assert "disabled" in cache.info()


def test_kernels_are_written_then_cleared(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    # a structure no other test compiles, so this process has not loaded it yet
    f = jg.compile(lambda x: nd.arctan(nd.cosh(x) * 0.375) - x * 0.625)
    x = nd.array([0.5, -1.5, 2.0])
    for _ in range(2):
        y = f(x)
    np.testing.assert_allclose(y.asnumpy(), np.arctan(np.cosh(x.asnumpy()) * 0.375) - x.asnumpy() * 0.625,
                               rtol=1e-6)
    assert "1 kernel sources" in cache.info()
    assert "removed" in cache.clear()
    assert "0 kernel sources" in cache.info()


def test_command_line(tmp_path):
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "jitgrad.cache", "info"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert str(tmp_path) in out and "0 kernel sources" in out
