"""Multinomial logistic regression on scikit-learn's digits, eager and compiled.

    python examples/logistic_regression.py [--epochs 40] [--out DIR]

A linear layer 64 -> 10 and softmax cross-entropy, trained with Adam on 75 % of the 1797 bundled
8x8 digit images (no download). The full run reaches a test accuracy of at least 0.95 on the other
25 % (it exits with an error otherwise); it prints the time per epoch eagerly and compiled and
writes logistic_regression_loss.png. Needs `pip install "jitgrad[examples]"` (scikit-learn, tqdm,
matplotlib).
"""
from __future__ import annotations

import example_utils as ex

EPOCHS, TARGET = 40, 0.95


def loss(W, b, x, y):
    from jitgrad import nd
    return nd.softmax_cross_entropy(nd.FullyConnected(x, W, b), y) / x.shape[0]


def train(X_train, y_train, X_test, y_test, epochs: int = EPOCHS, compiled: bool = True,
          progress=ex.Quiet) -> dict:
    """Train on (X_train, y_train); returns losses, epoch times and the test accuracy."""
    import jitgrad as jg
    from jitgrad import nd
    classes = int(y_train.max()) + 1
    W, b = jg.init.xavier((classes, X_train.shape[1]), seed=0), jg.init.zeros(classes)
    opt = jg.optim.Adam([W, b], lr=0.01, compiled=compiled)
    metrics = ex.fit(loss, [W, b], opt, X_train, y_train, epochs=epochs, batch_size=64,
                     compiled=compiled, progress=progress, desc="compiled" if compiled else "eager")
    logits = nd.FullyConnected(nd.array(X_test), W, b)
    return dict(metrics, test_accuracy=ex.accuracy(logits, y_test))


def main(argv=None) -> dict:
    return ex.classification_main(__import__(__name__), argv, "logistic regression on digits, Adam",
                                  "logistic_regression_loss.png")


if __name__ == "__main__":
    main()
