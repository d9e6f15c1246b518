"""Linear CNNs with average pooling (a group lasso): the native solver against Clarabel.

Usage::

    python benchmarks/linear_cnns.py

A linear two-layer CNN with global average pooling is one group without a cone
(doc/formulations.md §9): ``min loss(Xbar z + b) + beta ||z||``. ``solver="auto"`` gives it to
the native solver; this script fits the same estimators with ``solver="native"`` and
``solver="clarabel"``, one after the other in one process, and prints the fit time, the
objective and the certified ``duality_gap_ / objective_`` of each: the digits (all 1797 images,
3x3 filters, ten one-vs-rest logistic fits, ``beta`` 0.1 and 1), 60 Gaussian signals of length
8 with a noisy sign target (``kernel_size=3``, logistic loss, ``beta=1``) and 300 random walks
of length 32 (``kernel_size=5``, squared loss, ``beta`` 0.1 and 10).
"""

import time

import numpy as np
from sklearn.datasets import load_digits

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor


def _problems():
    X, y = load_digits(return_X_y=True)
    digits = dict(input_shape=(8, 8), kernel_size=3, loss="logistic")
    for beta in (0.1, 1.0):
        yield (
            f"digits, logistic, beta={beta}",
            ConvexCNNClassifier,
            X / 16,
            y,
            dict(digits, beta=beta),
        )
    # (tests/test_architectures.py's data, where Clarabel's gap was largest)
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((60, 8))
    labels = (signals[:, 0] + 0.3 * rng.standard_normal(60) > 0).astype(int)
    yield (
        "60 signals, logistic, beta=1",
        ConvexCNNClassifier,
        signals,
        labels,
        dict(kernel_size=3, loss="logistic", beta=1.0),
    )
    rng = np.random.default_rng(0)
    walks = rng.standard_normal((300, 32)).cumsum(axis=1)
    target = walks[:, :5].mean(axis=1) + 0.1 * rng.standard_normal(300)
    for beta in (0.1, 10.0):
        yield (
            f"walks, squared, beta={beta}",
            ConvexCNNRegressor,
            walks,
            target,
            dict(kernel_size=5, beta=beta),
        )


def main():
    for name, Estimator, X, y, params in _problems():
        print(name)
        for solver in ("native", "clarabel"):
            start = time.perf_counter()
            fit = Estimator(activation="linear", solver=solver, **params).fit(X, y)
            elapsed = time.perf_counter() - start
            print(
                f"    {solver:8s} {elapsed:6.2f} s, objective {fit.objective_:.10g}, "
                f"gap / objective {fit.duality_gap_ / fit.objective_:.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
