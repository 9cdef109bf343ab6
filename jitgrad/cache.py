"""The on-disk kernel cache: where it is, what it holds, and `python -m jitgrad.cache {info,clear}`.

Generated kernel sources are files `k_<hash>.py` in the cache directory, and Numba keeps their
compiled code beside them (`__pycache__`). JITGRAD_CACHE_DIR chooses the directory; set to the empty
string it turns the disk cache off (kernels are then compiled in memory, once per process).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile


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
    except OSError:
        return None


def entries(path: str) -> list[str]:
    """Every file the cache holds: kernel sources and Numba's compiled code for them."""
    found = []
    for root, _, files in os.walk(path):
        found += [os.path.join(root, f) for f in files
                  if f.startswith("k_") or root.endswith("__pycache__")]
    return found


def info() -> str:
    path = cache_dir()
    if path is None:
        return "jitgrad cache: disabled (JITGRAD_CACHE_DIR is empty or not writable)"
    files = entries(path)
    kernels = sum(1 for f in files if os.path.basename(f).endswith(".py"))
    size = sum(os.path.getsize(f) for f in files)
    return f"jitgrad cache: {path}\n  {kernels} kernel sources, {len(files)} files, {size / 1e6:.1f} MB"


def clear() -> str:
    path = cache_dir()
    if path is None:
        return "jitgrad cache: disabled, nothing to clear"
    files = entries(path)
    for f in files:
        if os.path.basename(f).endswith(".py"):
            os.remove(f)
    shutil.rmtree(os.path.join(path, "__pycache__"), ignore_errors=True)
    return f"jitgrad cache: removed {len(files)} files from {path}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitgrad.cache", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["info", "clear"])
    args = parser.parse_args(argv)
    print(info() if args.command == "info" else clear())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
