"""The on-disk kernel cache: its directory and key, `python -m jitgrad.cache info|clear`, turning it off,
loading in a second process, and what happens to corrupted files and unwritable directories.

Cross-process tests run small programs in subprocesses that share a temporary cache directory; each
reports, as JSON, its result and the compile counters of `jitgrad.codegen.compile.STATS`."""
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jitgrad as jg
from jitgrad import cache, nd
from jitgrad.codegen import compile as jcompile, diskcache, numbacache

ROOT = Path(__file__).resolve().parents[1]

# A loss of its own (no other test compiles this structure), run twice: trace, then the compiled program.
PROGRAM = """
import json, sys, warnings
import numpy as np
import jitgrad as jg
from jitgrad import nd
from jitgrad.codegen.compile import STATS
warnings.simplefilter("always")
vg = jg.value_and_grad(lambda w, x: nd.sum(nd.sinh(x * w) * 0.4375 - x), argnums=0)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
x = nd.array(np.linspace(-0.5, 1.5, n)); w = nd.array([0.75])
for _ in range(2):
    value, grad = vg(w, x)
print(json.dumps({"value": value.asnumpy().tolist(), "grad": grad.asnumpy().tolist(), **STATS}))
"""


def expected(n=7):
    x, w = np.linspace(-0.5, 1.5, n), 0.75
    return [float(np.sum(np.sinh(x * w) * 0.4375 - x))], [float(np.sum(np.cosh(x * w) * x * 0.4375))]


def run_program(cache_dir, *args, wait=True, **variables):
    """`variables`: more environment variables, e.g. JITGRAD_NATIVE="0" (Numba's cache for
    the kernels)."""
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(cache_dir), JITGRAD_LOG="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **variables)
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, *map(str, args)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return finish(proc, *args) if wait else proc


def finish(proc, n=7):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    value, grad = expected(n)
    np.testing.assert_allclose(report["value"], value, rtol=1e-5)
    np.testing.assert_allclose(report["grad"], grad, rtol=1e-5)
    return report, err


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache directory filled by one process, and that process's report and log."""
    path = tmp_path_factory.mktemp("warm")
    report, err = run_program(path)
    return path, report, err


NUMBA_CACHE = {"JITGRAD_NATIVE": "0"}   # kernels in Numba's disk cache, not as machine code


@pytest.fixture(scope="module")
def warm_numba_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("warm_numba")
    report, err = run_program(path, **NUMBA_CACHE)
    return path, report, err


def copy_of(warm_cache, tmp_path):
    shutil.copytree(warm_cache[0], tmp_path / "cache")
    return tmp_path / "cache"


def cache_files(path, pattern):
    return glob.glob(os.path.join(path, "env-*", pattern))


def tiny_kernel(tag: str) -> str:
    """The source of a kernel module that no other test loads."""
    return f"# a kernel for {tag}\n# {tag}\ndef kernel(chunks0, n0):\n    return chunks0 + n0\n"


# ---- in-process --------------------------------------------------------------------------------

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
    assert f"numba {diskcache.key_parts()['numba']}" in cache.info()
    assert "removed" in cache.clear()
    assert "0 kernel sources" in cache.info() and not os.listdir(tmp_path)


def test_command_line(tmp_path):
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "jitgrad.cache", "info"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert str(tmp_path) in out and "0 kernel sources" in out


def test_the_key_holds_versions_and_cpu():
    import llvmlite
    import numba
    parts = diskcache.key_parts()
    assert parts["numba"] == numba.__version__ and parts["llvmlite"] == llvmlite.__version__
    assert parts["numpy"] == np.__version__ and parts["jitgrad"] == jg.__version__
    assert parts["cpu"] and parts["cpu_features"] and parts["python"].startswith(f"{sys.version_info[0]}.")
    assert diskcache.key_name(dict(parts, numba="0.0.1")) != diskcache.key_name(parts)


def test_a_miss_names_the_key_parts_that_changed(tmp_path):
    old = tmp_path / diskcache.key_name(dict(diskcache.key_parts(), numba="0.0.1"))
    old.mkdir()
    (old / "key.json").write_text(json.dumps(dict(diskcache.key_parts(), numba="0.0.1")))
    (old / "k_abc.py").write_text("")
    assert diskcache.why_missing(str(tmp_path), "k_abc.py") == \
        f"cached under another key: numba 0.0.1 -> {diskcache.key_parts()['numba']}"
    assert diskcache.why_missing(str(tmp_path), "k_other.py") == "a new kernel"


def test_a_new_size_reuses_the_compiled_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    f = jg.compile(lambda x: nd.arcsinh(x * 0.8125) + 1.5)
    for n in (3, 3, 11, 11, 26):
        if n == 11:
            compiles, modules = jcompile.STATS["numba_compiles"], jcompile.STATS["modules"]
        x = np.linspace(0, 1, n)
        np.testing.assert_allclose(f(nd.array(x)).asnumpy(), np.arcsinh(x * 0.8125) + 1.5, rtol=1e-5)
    assert (jcompile.STATS["numba_compiles"], jcompile.STATS["modules"]) == (compiles, modules)
    assert f.cache_info()["signatures"] == 3


def test_an_unwritable_cache_directory_falls_back_to_memory(tmp_path, monkeypatch):
    # tests may run as root, which ignores permission bits: a path under a regular file is never writable
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with pytest.warns(UserWarning, match="cannot be written"):
        assert jg.cache_dir() is None
    f = jg.compile(lambda x: nd.arccosh(x + 1.25) * 0.5625)
    x = np.linspace(0, 1, 4)
    for _ in range(2):
        np.testing.assert_allclose(f(nd.array(x)).asnumpy(), np.arccosh(x + 1.25) * 0.5625, rtol=1e-5)
    assert jcompile.load(tiny_kernel("memory")).path is None


def test_an_unwritable_key_directory_falls_back_to_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    (tmp_path / diskcache.key_name(diskcache.key_parts())).write_text("a file where the directory goes")
    with pytest.warns(diskcache.CacheWarning, match="cannot write the kernel cache"):
        kernel = jcompile.load(tiny_kernel("unwritable key"))
    assert kernel.path is None and kernel.dispatcher(1, 2) == 3


# ---- across processes --------------------------------------------------------------------------

def test_the_first_process_compiles_and_logs_why(warm_cache):
    path, report, err = warm_cache
    assert report["numba_compiles"] >= 1 and report["disk_loads"] == 0
    assert "building a program for a new structure (first call)" in err
    assert "(cause: <lambda>: a new structure (first call); disk cache: a new kernel)" in err
    assert len(cache_files(path, "k_*.py")) == report["modules"]


def test_a_second_process_loads_and_compiles_nothing(warm_cache, tmp_path):
    report, err = run_program(copy_of(warm_cache, tmp_path))
    assert report["numba_compiles"] == 0 and report["disk_loads"] >= 1
    assert (report["value"], report["grad"]) == (warm_cache[1]["value"], warm_cache[1]["grad"])
    assert "from the disk cache in" in err and "jitgrad: compiled" not in err and "CacheWarning" not in err


def test_a_new_size_in_a_second_process_loads_too(warm_cache, tmp_path):
    report, _ = run_program(copy_of(warm_cache, tmp_path), 9)
    assert report["numba_compiles"] == 0


@pytest.mark.parametrize("damage", ["truncate", "garble"])
@pytest.mark.parametrize("pattern", ["k_*.py", "k_*.native", "__pycache__/*.nbi", "__pycache__/*.nbc"])
def test_a_damaged_cache_file_is_detected_with_a_warning(warm_cache, warm_numba_cache, tmp_path, pattern,
                                                         damage):
    in_numba = pattern.startswith("__pycache__")   # Numba's own files: kernels kept there
    variables = NUMBA_CACHE if in_numba else {}
    path = copy_of(warm_numba_cache if in_numba else warm_cache, tmp_path)
    victim = cache_files(path, pattern)[0]
    data = bytearray(Path(victim).read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x5A
    Path(victim).write_bytes(bytes(data))
    report, err = run_program(path, **variables)   # the results are checked: never a wrong kernel
    assert "CacheWarning" in err and os.path.basename(victim) in err
    if pattern != "k_*.py":                  # a rewritten source is identical, so its code still loads
        assert report["numba_compiles"] >= 1
    again, err = run_program(path, **variables)    # repaired: the next process loads
    assert again["numba_compiles"] == 0 and "CacheWarning" not in err


def test_a_second_process_loads_machine_code_without_numba(warm_cache, tmp_path):
    program = PROGRAM.replace("print(json.dumps({", "print(json.dumps({'numba': 'numba' in sys.modules, ")
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(copy_of(warm_cache, tmp_path)), JITGRAD_LOG="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", program], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["numba"] is False and report["numba_compiles"] == 0 and report["disk_loads"] >= 1
    assert (report["value"], report["grad"]) == (warm_cache[1]["value"], warm_cache[1]["grad"])
    assert "machine code from the disk cache" in out.stderr


def test_a_file_another_process_reused_for_another_signature_is_not_loaded(tmp_path):
    index = numbacache.CheckedIndexDataCacheFile(str(tmp_path), "k_x.kernel-1.py311", "stamp")
    index.save("key A", "code for A")
    assert index.load("key A") == "code for A"
    index._save_data(index._load_index()["key A"], ("key B", "code for B"))  # B's writer won the race
    with pytest.raises(diskcache.CorruptCacheFile, match="another signature"):
        index.load("key A")


def test_two_processes_fill_one_cache_at_once(tmp_path):
    procs = [run_program(tmp_path, wait=False) for _ in range(2)]
    for proc in procs:
        _, err = finish(proc)
        assert "CacheWarning" not in err
    report, _ = run_program(tmp_path)
    assert report["numba_compiles"] == 0 and report["disk_loads"] >= 1
    assert not glob.glob(os.path.join(tmp_path, "**", "*.tmp*"), recursive=True)


def test_compile_logs_go_to_the_jitgrad_logger(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    f = jg.compile(lambda x: nd.arctanh(x * 0.3125) - 0.25, hot=2)
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        for _ in range(2):
            f(nd.array([0.5, -0.25]))
    text = caplog.text
    assert "building a program for a new structure" in text
    assert "disk cache miss for k_" in text and "a new kernel" in text
    assert "compiled k_" in text and "(cause: <lambda>: a new structure" in text


def test_a_path_is_compiled_once_it_turns_hot_and_the_log_says_so(caplog):
    f = jg.compile(lambda x: x * 2 if (nd.sum(x) > 0).asscalar() else x * 3, hot=3, backend="interpret")
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        f(nd.array([1.0]))
        assert "building a program for a new structure (first call)" in caplog.text
        builds = f.cache_info()["compiles"]
        for _ in range(4):
            assert f(nd.array([-1.0])).asnumpy().tolist() == [-3.0]
    assert f.cache_info()["compiles"] == builds + 1
    assert "building a program for a guard path turned hot (3 runs)" in caplog.text


def test_the_cause_of_a_build_names_what_changed(caplog):
    f = jg.compile(lambda x: x * 2, backend="interpret")
    with caplog.at_level(logging.INFO, logger="jitgrad"):
        for shape, dtype in [(3, np.float32), (3, np.float64), (5, np.float64), ((2, 2), np.float64)]:
            f(nd.array(np.ones(shape), dtype=dtype))
    builds = [r.getMessage().split("building a program for ")[1] for r in caplog.records
              if "building a program" in r.getMessage()]
    assert builds == ["a new structure (first call)", "a new dtype (float32 -> float64)",
                      "a new shape or layout ((3,) -> (5,))", "a new structure"]


def test_a_failed_save_warns_and_the_compiled_kernel_still_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("JITGRAD_NATIVE", "0")     # the kernel in Numba's cache
    kernel = jcompile.load(tiny_kernel("failed save"))
    # the cache's __pycache__ replaced by a regular file after the kernel was set up: saving fails
    pycache = Path(kernel.dispatcher._cache.cache_path)
    shutil.rmtree(pycache)
    pycache.write_text("")
    with pytest.warns(diskcache.CacheWarning, match="cannot save"):
        assert kernel.dispatcher(1, 2) == 3


def test_a_failed_save_of_machine_code_warns_and_the_kernel_still_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    kernel = jcompile.load(tiny_kernel("failed native save"))
    types = (jcompile.SIZE, jcompile.SIZE)
    def full_disk(path, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(diskcache, "write_atomic", full_disk)
    with pytest.warns(diskcache.CacheWarning, match="cannot save machine code"):
        assert kernel.entry(types)(1, 2) == 3


def test_machine_code_stored_for_other_types_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    kernel = jcompile.load(tiny_kernel("other types"))
    ints = (jcompile.SIZE, jcompile.SIZE)
    floats = (jcompile.SIZE, jcompile.array_type("float64", 1, True, True))
    kernel.entry(ints)
    shutil.copy(kernel.native_path(ints), kernel.native_path(floats))   # as if two names collided
    kernel.entries.clear()
    with pytest.warns(diskcache.CacheWarning, match="written for other argument types"):
        assert kernel._load_native(floats) is None
    assert not os.path.exists(kernel.native_path(floats))


MIXED = """
import json, sys
import numpy as np
import jitgrad as jg
from jitgrad import nd
from jitgrad.codegen.compile import STATS
vg = jg.value_and_grad(lambda w, x: nd.sum(nd.sinh(x * w) * 0.4375 - x), argnums=0)
x = nd.array(np.linspace(-0.5, 1.5, 7)); w = nd.array([0.75])
first = [[a.asnumpy().tolist() for a in vg(w, x)] for _ in range(2)][1]   # traced, then compiled
before = "numba" in sys.modules
f = jg.compile(lambda a: nd.cosh(a) * 0.5 + 3.0)           # a new kernel: Numba compiles it here
new = [f(x).asnumpy().tolist() for _ in range(2)][1]
again = [a.asnumpy().tolist() for a in vg(w, x)]
print(json.dumps({"numba_before": before, "first": first, "again": again, "new": new, **STATS}))
"""


def test_numba_imported_after_machine_code_was_loaded(warm_cache, tmp_path):
    """A process that loaded kernels without Numba and then compiles a new one: both run right."""
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(copy_of(warm_cache, tmp_path)),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", MIXED], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    value, grad = expected()
    assert report["numba_before"] is False and report["numba_compiles"] >= 1
    for result in (report["first"], report["again"]):
        np.testing.assert_allclose(result[0], value, rtol=1e-5)
        np.testing.assert_allclose(result[1], grad, rtol=1e-5)
    x = np.linspace(-0.5, 1.5, 7)
    np.testing.assert_allclose(report["new"], np.cosh(x) * 0.5 + 3.0, rtol=1e-6)



def test_machine_code_loads_in_process_and_is_refused_when_a_symbol_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    kernel = jcompile.load(tiny_kernel("native in process"))
    ints = (jcompile.SIZE, jcompile.SIZE)
    compiles = jcompile.STATS["numba_compiles"]
    assert kernel.entry(ints)(1, 2) == 3 and jcompile.STATS["numba_compiles"] == compiles + 1
    loaded = kernel._load_native(ints)           # linked from the file, as another process would
    assert loaded is not None and loaded is not kernel.entries[ints] and loaded(20, 22) == 42
    # LLVM aborts the process on a symbol it cannot resolve: the loader must refuse such code first
    monkeypatch.setattr(jcompile.native, "undefined_symbols", lambda obj: ["jitgrad_no_such_symbol"])
    with pytest.warns(diskcache.CacheWarning, match="unresolved symbols jitgrad_no_such_symbol"):
        assert kernel._load_native(ints) is None
