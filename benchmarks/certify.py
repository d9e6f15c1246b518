"""``certify`` against ``fit``, in the same process and on the same data.

Usage::

    python benchmarks/certify.py [--n-train N]

``ConvexCNNClassifier(input_shape=(8, 8))`` on the digits (pixels / 16, 3x3 filters, 10
classes), fitted with the native solver and certified on its training data, for three
read-outs: the default global average pooling, ``2x2`` regions with ``readout="dense"``, and
``pooling="none"``. Then the same fits by Clarabel through CVXPY on a small problem, whose
neurons lie on their cells' boundaries only to the solver's accuracy: their certificates'
gaps against the fits' own ``duality_gap_``.

Times are CPU seconds with one BLAS thread (the machine's noise moves them less than wall
time); the ratio certify / fit is the figure to compare across machines.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (before numpy is imported)

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor  # noqa: E402

ARCHITECTURES = {
    "global average": {},
    "2x2 regions, dense": {"readout": "dense", "pool_size": 2},
    "no pooling": {"pooling": "none"},
}


def _timed(function, *args):
    start = time.process_time()
    result = function(*args)
    return result, time.process_time() - start


def digits(n_train):
    """Fit and certify time of each read-out on the first ``n_train`` digits."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:n_train] / 16.0, y[:n_train]
    print(f"digits, {len(X)} images, native solver (CPU seconds)")
    for name, params in ARCHITECTURES.items():
        model = ConvexCNNClassifier(input_shape=(8, 8), random_state=0, **params)
        _, fit_time = _timed(model.fit, X, y)
        certificate, certify_time = _timed(model.certify, X, y)
        print(
            f"  {name:20s} fit {fit_time:6.2f}  certify {certify_time:6.2f}  "
            f"ratio {certify_time / fit_time:5.2f}  relative gap {certificate.relative_gap:.1e}"
        )


def cvxpy_points():
    """Certificates of Clarabel's fits against their ``duality_gap_``."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 16))
    y = X[:, :4].sum(axis=1) + 0.1 * rng.standard_normal(30)
    print("Clarabel, 30 images of 4x4, 40 sampled patterns: relative gaps")
    for name, params in {**ARCHITECTURES, "global max": {"pooling": "max"}}.items():
        model = ConvexCNNRegressor(
            input_shape=(4, 4), kernel_size=2, beta=0.05, n_patterns=40, random_state=0,
            solver="clarabel", **params,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (Clarabel's inaccurate points: their gaps say)
            model.fit(X, y)
        # the fitted patterns only (max_patterns=1): since f3a2de9 the no-pooling program's
        # patterns are enumerable here, and an exact certificate measures another gap
        certificate = model.certify(X, y, max_patterns=1)
        print(
            f"  {name:20s} duality_gap_ {model.duality_gap_ / model.objective_:.1e}  "
            f"certify {certificate.relative_gap:.1e}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=1797, help="digits images (1797: all)")
    args = parser.parse_args(argv)
    digits(args.n_train)
    cvxpy_points()


if __name__ == "__main__":
    main()
