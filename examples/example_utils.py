"""What the examples share: optional packages, the progress bar, timing, the loss-curve plot, data.

The training code of each example takes numpy data and returns its metrics, and needs jitgrad only;
tqdm, matplotlib and scikit-learn are used by the examples' `main()`, which loads the data, shows
progress and plots (`pip install "jitgrad[examples]"`).
"""
from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path

# The examples' matrices are at most 128 wide: BLAS threads cost more than they save there, and on
# a busy machine their spinning makes each small matrix product 10-20x slower. Set before numpy
# loads BLAS; an explicit OPENBLAS_NUM_THREADS wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

INSTALL = 'pip install "jitgrad[examples]"'


def require(module: str, package: str):
    """Import `module`, or exit with status 1 saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"This example needs {package}, which is not installed. Install the "
                         f"examples' extras with:  {INSTALL}") from None


class Quiet:
    """The progress interface without output (tests, and loops run for timing only)."""

    def __init__(self, iterable, **kwargs):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **kwargs) -> None:
        pass


def tqdm_bar():
    """A progress-bar factory: tqdm, which main() requires."""
    return require("tqdm", "tqdm").tqdm


class EpochTimer:
    """Wall time per epoch."""

    def __init__(self):
        self.times: list[float] = []
        self._start = None

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.times.append(time.perf_counter() - self._start)


def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of a shuffled pass over n samples (the last batch may be smaller)."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple:
    """(X_train, y_train, X_test, y_test), shuffled with `seed`."""
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def load_digits() -> tuple:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), pixels scaled to [0, 1]."""
    datasets = require("sklearn.datasets", "scikit-learn")
    digits = datasets.load_digits()
    return digits.data.astype(np.float32) / 16.0, digits.target.astype(np.int64)


def parser(description: str, epochs: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs}; "
                   "the accuracy target is checked at the default or more)")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for the loss-curve PNG "
                   "(default: the current folder)")
    return p


def report_times(results: dict) -> None:
    """Print the time per epoch of each mode; the first compiled epoch includes the compile."""
    for mode, metrics in results.items():
        times = metrics["epoch_times"]
        later = times[1:] or times
        print(f"{mode:>9}: first epoch {times[0]:.3f} s, then {1e3 * np.median(later):.1f} ms per "
              f"epoch (median)")


def save_loss_curve(results: dict, path: Path, title: str) -> Path:
    """A PNG of the loss per epoch of each mode (matplotlib's Agg backend: no display needed)."""
    matplotlib = require("matplotlib", "matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, metrics in results.items():
        eager = mode == "eager"  # drawn wide below the compiled curve, which usually covers it
        ax.plot(range(1, len(metrics["losses"]) + 1), metrics["losses"], label=mode,
                linestyle="-" if eager else "--", linewidth=4 if eager else 1.5,
                alpha=0.5 if eager else 1.0)
    ax.set(xlabel="epoch", ylabel="training loss", title=title, yscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fit(loss, params: list, optimizer, X: np.ndarray, y: np.ndarray, *, epochs: int,
        batch_size: int, compiled: bool, seed: int = 0, progress=Quiet, desc: str = "") -> dict:
    """Minibatch training of `loss(*params, x_batch, y_batch)` (a scalar NDArray).

    compiled=True wraps the loss in jitgrad.compile: inside record() the call is one tape node whose
    backward runs the compiled backward program. Returns the mean training loss and the wall time
    of every epoch."""
    import jitgrad as jg
    from jitgrad import autograd, nd
    step_loss = jg.compile(loss) if compiled else loss
    rng = np.random.default_rng(seed)
    losses, timer = [], EpochTimer()
    bar = progress(range(epochs), desc=desc, unit="epoch")
    for _ in bar:
        with timer:
            total = 0.0
            for idx in minibatches(len(X), batch_size, rng):
                xb, yb = nd.array(X[idx]), nd.array(y[idx])
                with autograd.record():
                    value = step_loss(*params, xb, yb)
                value.backward()
                optimizer.step()
                total += float(value) * len(idx)
        losses.append(total / len(X))
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    return {"losses": losses, "epoch_times": timer.times}


def accuracy(logits, labels: np.ndarray) -> float:
    """The fraction of rows whose largest logit is at the label."""
    return float((np.asarray(logits).argmax(axis=1) == labels).mean())


def classification_main(module, argv, title: str, png: str) -> dict:
    """main() of the digits examples: load, train eagerly and compiled, report, plot, check."""
    args = parser(module.__doc__.splitlines()[0], module.EPOCHS).parse_args(argv)
    bar = tqdm_bar()
    X_train, y_train, X_test, y_test = split(*load_digits(), test_fraction=0.25, seed=0)
    results = {mode: module.train(X_train, y_train, X_test, y_test, args.epochs,
                                  compiled=mode == "compiled", progress=bar)
               for mode in ("eager", "compiled")}
    report_times(results)
    for mode, metrics in results.items():
        print(f"{mode:>9}: test accuracy {metrics['test_accuracy']:.4f} "
              f"({len(y_test)} test images)")
    print("saved", save_loss_curve(results, args.out / png, title))
    if args.epochs >= module.EPOCHS and results["compiled"]["test_accuracy"] < module.TARGET:
        raise SystemExit(f"test accuracy {results['compiled']['test_accuracy']:.4f} is below the "
                         f"target {module.TARGET} stated in the docstring")
    return results
