"""The on-disk kernel cache: where it is, what it holds, and `python -m jitgrad.cache {info,clear}`.

The cache directory holds one subdirectory per environment key (`env-<hash>/`: the versions of jitgrad,
Python, numpy, Numba and llvmlite, and the CPU; its `key.json` lists them). Each holds the generated kernel
sources `k_<hash>.py` and their machine code (`*.native`, loaded without Numba; with JITGRAD_NATIVE=0,
Numba's compiled code in `__pycache__` instead). JITGRAD_CACHE_DIR chooses the
directory; set to the empty string it turns the disk cache off (kernels are then compiled in memory, once per
process), and so does a directory that cannot be written (with a warning).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings

_warned: set[str] = set()


def cache_dir() -> str | None:
    """The cache directory, created if needed; None when disabled or not writable."""
    path = os.environ.get("JITGRAD_CACHE_DIR")
    if path is None:
        path = os.path.join(os.path.expanduser("~"), ".cache", "jitgrad")
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
        return path
    except OSError as e:
        if path not in _warned:  # once per directory and process
            _warned.add(path)
            warnings.warn(f"jitgrad: the kernel cache directory {path} cannot be written ({e}); kernels "
                          "are compiled in memory (set JITGRAD_CACHE_DIR to a writable directory, or to "
                          "the empty string to turn the disk cache off)", UserWarning, stacklevel=2)
        return None


def keys(path: str) -> list[str]:
    """The environment-key subdirectories of the cache directory."""
    return sorted(d for d in os.listdir(path)
                  if d.startswith("env-") and os.path.isdir(os.path.join(path, d)))


def entries(path: str) -> list[str]:
    """Every file the cache holds: kernel sources, key files and Numba's compiled code for them (also
    those of the older layout, kernels directly in the cache directory)."""
    found = [os.path.join(path, f) for f in os.listdir(path) if f.startswith("k_")]
    for sub in keys(path) + ["__pycache__"]:
        for root, _, files in os.walk(os.path.join(path, sub)):
            found += [os.path.join(root, f) for f in files]
    return found


def info() -> str:
    path = cache_dir()
    if path is None:
        return "jitgrad cache: disabled (JITGRAD_CACHE_DIR is empty or not writable)"
    lines = [f"jitgrad cache: {path}"]
    files = entries(path)
    kernels = sum(1 for f in files if os.path.basename(f).startswith("k_") and f.endswith(".py"))
    native = sum(1 for f in files if f.endswith(".native"))
    size = sum(os.path.getsize(f) for f in files)
    lines.append(f"  {kernels} kernel sources, {native} stored kernels (machine code), "
                 f"{len(files)} files, {size / 1e6:.1f} MB")
    for key in keys(path):
        try:
            with open(os.path.join(path, key, "key.json")) as f:
                parts = json.load(f)
            described = ", ".join(f"{k} {v}" for k, v in sorted(parts.items()))
        except (OSError, ValueError):
            described = "no readable key.json"
        lines.append(f"  {key}: {described}")
    return "\n".join(lines)


def clear() -> str:
    path = cache_dir()
    if path is None:
        return "jitgrad cache: disabled, nothing to clear"
    files = entries(path)
    for f in files:
        if os.path.dirname(f) == path:
            os.remove(f)
    for sub in keys(path) + ["__pycache__"]:
        shutil.rmtree(os.path.join(path, sub), ignore_errors=True)
    return f"jitgrad cache: removed {len(files)} files from {path}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitgrad.cache", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["info", "clear"])
    args = parser.parse_args(argv)
    print(info() if args.command == "info" else clear())
    return 0
