"""Warm starts against cold fits, in the same process and on the same data.

Usage::

    python benchmarks/warm_starts.py

Two problems, each solved by the native solver with one BLAS thread (CPU seconds, which the
machine's noise moves less than wall time):

* **digits, one class**: ``ConvexCNNRegressor`` on +-1 targets of digit 3 (the 1347 training
  images of the README demo's split, pixels / 16, 3x3 filters, ``2x2`` regions with
  ``readout="dense"``, 32 sampled patterns). Cold fits at ``beta`` = 1, 0.3 and 0.1; the same
  path refitted with ``warm_start=True``; and a refit at ``beta=0.1`` from its own optimum.
* **the user guide's warm-start block**: ``ConvexCNNClassifier(input_shape=(8, 8))`` with its
  defaults (global average pooling, 64 patterns) on four digits classes, refitted at ``beta``
  = 1, 0.3 and 0.1 with ``warm_start=True`` against cold fits.
* **signals, a path**: :func:`~sklearn_convexcnn.convex_cnn_path` over 10 values of ``beta``
  (1-D Gaussian signals of ``bench_native.py``, n=1000, 64 patterns) against the same 10 solves
  started cold.

Every warm objective is printed next to the cold one (they must agree to ``tol``).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (before numpy is imported)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sklearn_convexcnn import (  # noqa: E402
    ConvexCNNClassifier,
    ConvexCNNRegressor,
    convex_cnn_path,
)

BETAS = (1.0, 0.3, 0.1)


def _timed(function, *args, **kwargs):
    start = time.process_time()
    result = function(*args, **kwargs)
    return result, time.process_time() - start


def _warm_against_cold(Estimator, options, X, y):
    """Cold fits of ``Estimator(**options)`` at each of :data:`BETAS` and the same path refitted
    with ``warm_start=True``, a line each; returns the warm estimator and the last cold time."""
    warm = Estimator(beta=BETAS[0], warm_start=True, **options)
    cold_total = warm_total = 0.0
    for beta in BETAS:
        cold, cold_time = _timed(Estimator(beta=beta, **options).fit, X, y)
        _, warm_time = _timed(warm.set_params(beta=beta).fit, X, y)
        cold_total += cold_time
        warm_total += warm_time
        print(
            f"  beta={beta:<4}  cold {cold_time:6.2f} s ({cold.n_iter_:2d} iterations)  "
            f"warm {warm_time:6.2f} s ({warm.n_iter_:2d})  objectives {cold.objective_:.9f} / "
            f"{warm.objective_:.9f}"
        )
    print(f"  path {BETAS}: cold {cold_total:.2f} s, warm {warm_total:.2f} s, "
          f"warm / cold {warm_total / cold_total:.2f}")  # fmt: skip
    return warm, cold_time


def digits():
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    target = np.where(y_train == 3, 1.0, -1.0)
    options = dict(
        input_shape=(8, 8), kernel_size=3, pool_size=3, readout="dense", n_patterns=32,
        random_state=0,
    )  # fmt: skip
    print("digits, class 3 (1347 images, 2x2 regions, 32 patterns), CPU seconds:")
    warm, cold_time = _warm_against_cold(ConvexCNNRegressor, options, X_train, target)
    _, again_time = _timed(warm.fit, X_train, target)
    print(
        f"  refit at beta={BETAS[-1]} from its own optimum: {again_time:.2f} s "
        f"({warm.n_iter_} iterations; {again_time / cold_time:.2f} of the cold fit), "
        f"objective {warm.objective_:.9f}"
    )


def user_guide_block():
    X, y = load_digits(n_class=4, return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16, y, random_state=0)
    print("the user guide's block (4 digits classes, global pooling, 64 patterns), CPU seconds:")
    _warm_against_cold(
        ConvexCNNClassifier, dict(input_shape=(8, 8), random_state=0), X_train, y_train
    )


def signals(n=1000, n_patterns=64, n_betas=10):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20))
    filters = rng.standard_normal((3, 5))
    patches = np.lib.stride_tricks.sliding_window_view(X, 5, axis=1)  # (n, 16, 5)
    y = np.maximum(patches @ filters.T, 0).mean(axis=1) @ [1.0, -1.0, 0.5]
    y += 0.1 * rng.standard_normal(n)
    options = dict(kernel_size=5, n_patterns=n_patterns, random_state=0)
    (betas, _, _, warm, _, _), warm_time = _timed(convex_cnn_path, X, y, n_betas=n_betas, **options)
    cold_time, cold = 0.0, []
    for beta in betas:
        (_, _, _, objective, _, _), seconds = _timed(convex_cnn_path, X, y, betas=[beta], **options)
        cold_time += seconds
        cold.append(objective[0])
    largest = np.max(np.abs(np.array(cold) - warm) / np.abs(warm))
    print(
        f"signals (n={n}, 64 patterns), convex_cnn_path over {n_betas} betas: "
        f"warm {warm_time:.2f} s, cold {cold_time:.2f} s, warm / cold "
        f"{warm_time / cold_time:.2f}; largest relative difference of the objectives "
        f"{largest:.1e}"
    )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # (--help)
    digits()
    user_guide_block()
    signals()
