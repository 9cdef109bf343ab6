"""The disk cache's key, its directory, and checked Numba cache files.

Everything that changes the machine code of a kernel other than its source (which names the file,
`k_<hash of source>.py`) is in the **environment key**: the versions of jitgrad, Python, numpy, Numba
and llvmlite, the on-disk format below, and the CPU (name and features, as Numba targets them). Each
key has its own directory `<cache dir>/<key>/`, with the key's parts in `key.json`, so a changed
version or CPU lands somewhere else; when a kernel is missing from the current key's directory but
present under another key, the log names the parts that differ.

Files other than the kernel sources are written `seal`ed (a SHA-256 of the payload precedes it), so a
truncated or garbled file is detected and recompiled, never loaded: Numba's own index and data files
(numbacache.py) and the stored machine code of kernels (`k_<hash>.<types>.native`, native.py).
This module imports no Numba: a process that loads every kernel from the cache never imports it.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
import platform
import time
import warnings

import llvmlite
import llvmlite.binding as llvm
import numpy as np

from .native import numba_version

log = logging.getLogger("jitgrad")
STATS = {"modules": 0, "numba_compiles": 0, "compile_seconds": 0.0, "disk_loads": 0,  # see compile.py
         "helper_compiles": 0}
FORMAT = 1        # of the checked files; bump when it changes
MAGIC = b"jitgrad-numba-cache\n"


class CacheWarning(UserWarning):
    """A disk cache file was unusable (corrupted, truncated, stale) or the directory is not writable."""


class CorruptCacheFile(Exception):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


@functools.lru_cache(maxsize=None)
def key_parts() -> dict:
    """What the machine code depends on besides the kernel source (computed once per process)."""
    import jitgrad
    cpu = os.environ.get("NUMBA_CPU_NAME") or None     # as Numba's config reads them
    features = os.environ.get("NUMBA_CPU_FEATURES", "" if str(cpu).lower() == "generic" else None)
    if features is None:
        features = llvm.get_host_cpu_features().flatten()
    return {"format": FORMAT, "jitgrad": jitgrad.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba_version(), "llvmlite": llvmlite.__version__,
            "cpu": cpu or llvm.get_host_cpu_name(),
            "cpu_features": hashlib.sha256(features.encode()).hexdigest()[:12]}


def key_name(parts: dict) -> str:
    return "env-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def write_atomic(path: str, data: bytes) -> None:
    """Write to a temporary name and rename: a concurrent reader sees the whole file or none."""
    tmp = f"{path}.{os.getpid()}.{time.perf_counter_ns()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # cleanup may race with another process
            os.unlink(tmp)
        raise


def key_directory(root: str) -> str | None:
    """`root/<key>/`, created with its key.json; None (with a warning) when it cannot be written."""
    parts = key_parts()
    path = os.path.join(root, key_name(parts))
    manifest = os.path.join(path, "key.json")
    try:
        if not os.path.exists(manifest):
            os.makedirs(path, exist_ok=True)
            write_atomic(manifest, json.dumps(parts, indent=1, sort_keys=True).encode())
        return path
    except OSError as e:
        if path not in _unwritable:  # once per directory and process
            _unwritable.add(path)
            warnings.warn(f"jitgrad: cannot write the kernel cache in {path} ({e}); kernels are compiled "
                          "in memory", CacheWarning, stacklevel=2)
        return None


_unwritable: set[str] = set()


def why_missing(root: str, filename: str) -> str:
    """Why `filename` is not in the current key's directory: new, or which key parts changed."""
    current = key_parts()
    changes = []
    try:
        others = [d for d in os.listdir(root) if d.startswith("env-") and d != key_name(current)]
    except OSError:
        others = []
    for d in others:
        if not os.path.exists(os.path.join(root, d, filename)):
            continue
        try:
            with open(os.path.join(root, d, "key.json")) as f:
                old = json.load(f)
        except (OSError, ValueError):
            continue
        changes.append(", ".join(f"{k} {old.get(k)} -> {v}" for k, v in current.items() if old.get(k) != v))
    if not changes:
        return "a new kernel"
    return "cached under another key: " + min(changes, key=len)


def check_source(path: str, source: str, digest: str) -> None:
    """Make `path` hold `source`: write it if missing, rewrite it (warning) if it does not hash to
    `digest`, the hash in its name (a truncated or garbled file)."""
    try:
        with open(path, "rb") as f:
            found = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        found = None
    if found is not None:
        if source_digest(found) == digest:
            return
        warnings.warn(f"jitgrad: kernel source {path} is corrupted (its content does not match its name); "
                      "rewriting it", CacheWarning, stacklevel=3)
    write_atomic(path, source.encode())


def source_digest(source: str) -> str:
    """The hash of a kernel's source minus its first line (which names the graph, not the structure)."""
    return hashlib.sha256(source.split("\n", 1)[-1].encode()).hexdigest()[:20]


# ---- checked files: a SHA-256 of the payload precedes it --------------------------------------------

def seal(payload: bytes) -> bytes:
    return MAGIC + hashlib.sha256(payload).digest() + payload


def unseal(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    head = len(MAGIC) + 32
    if not raw.startswith(MAGIC) or len(raw) < head:
        raise CorruptCacheFile(path, "not a jitgrad cache file (truncated or garbled)")
    payload = raw[head:]
    if hashlib.sha256(payload).digest() != raw[len(MAGIC):head]:
        raise CorruptCacheFile(path, "checksum mismatch (truncated or garbled)")
    return payload


def unpickle(path: str, payload: bytes):
    """The object a sealed file's payload pickles; CorruptCacheFile if it does not unpickle (written by
    an incompatible writer)."""
    try:
        return pickle.loads(payload)
    except Exception as e:
        raise CorruptCacheFile(path, f"cannot be read ({type(e).__name__}: {e})") from None


def describe_types(types) -> str:
    """Kernel argument types, short: arrays as dtype[ndim layout], runs of one type counted. Takes
    compile.array_type tuples or Numba's types."""
    names = [f"{t[0]}[{t[1]}d {t[2]}]" if isinstance(t, tuple) else
             f"{t.dtype}[{t.ndim}d {t.layout}]" if hasattr(t, "layout") else str(t) for t in types]
    runs: list[list] = []
    for n in names:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    return ", ".join(n if k == 1 else f"{k} x {n}" for n, k in runs)
