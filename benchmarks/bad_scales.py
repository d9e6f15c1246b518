"""The native solver on inputs of a large scale or at a small beta, where rounding decides.

Usage::

    python benchmarks/bad_scales.py [--only NAME [NAME ...]]

The fit of ``s * X`` at ``beta`` is the fit of ``X`` at ``beta / s`` (filters and output
weights shrink by ``sqrt(s)``), so large inputs are small effective betas: near-interpolating
fits whose gradients round above the solver's KKT tolerance. Every problem is solved with
``solver="auto"``, one after the other in one process; each line gives the fit time, the
objective, the certified ``duality_gap_ / objective_``, and the warnings raised (a gap above
``tol`` is a ConvergenceWarning, which names any hand-over to CVXPY; until 2 Dec 2026 a
hand-over was a RuntimeWarning of its own).

Problems: 300 random walks of length 32 (``kernel_size=5``, 32 sampled patterns) with a planted
ReLU target, at input scales 1 and 100, squared and logistic loss, global and regional pooling
(7 regions with a dense read-out); and 400 digits at pixels of 0 to 1 and of 0 to 255 (16
patterns, ``beta=0.1``, global pooling), ``ConvexCNNClassifier(n_jobs=2)``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor

WALKS = {
    "walks, beta=1": dict(beta=1.0),
    "walks x100, beta=1": dict(beta=1.0, scale=100),
    "walks x100, beta=0.001": dict(beta=0.001, scale=100),
    "walks, logistic, beta=0.01": dict(beta=0.01, loss="logistic"),
    "walks x100, logistic, beta=0.01": dict(beta=0.01, loss="logistic", scale=100),
    "walks x100, 7 regions (dense), beta=0.1": dict(
        beta=0.1, pool_size=4, readout="dense", scale=100
    ),
}
DIGITS = {
    "digits 0-1, beta=0.1": 1 / 16,
    "digits 0-255, beta=0.1": 16.0,
}


def _walks(scale):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 32)).cumsum(axis=1)
    y = np.maximum(X[:, :5].mean(axis=1), 0) - 0.5 * np.maximum(-X[:, -5:].mean(axis=1), 0)
    return scale * X, y + 0.1 * rng.standard_normal(len(y))


def _fit(name):
    if name in DIGITS:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X * DIGITS[name], y, test_size=0.25, stratify=y, random_state=0
        )
        model = ConvexCNNClassifier(
            input_shape=(8, 8), n_patterns=16, beta=0.1, random_state=0, n_jobs=2
        )
        X, y = X_train[:400], y_train[:400]
    else:
        params = dict(WALKS[name])
        X, y = _walks(params.pop("scale", 1.0))
        if params.get("loss") == "logistic":
            y = (y > np.median(y)).astype(int)
            model = ConvexCNNClassifier(kernel_size=5, n_patterns=32, random_state=0, **params)
        else:
            model = ConvexCNNRegressor(kernel_size=5, n_patterns=32, random_state=0, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    kinds = sorted({w.category.__name__ for w in caught}) or ["-"]
    gap = model.duality_gap_ / abs(model.objective_)
    return (
        f"{name:42s} {seconds:7.2f} s  objective {model.objective_:<14.9g} "
        f"gap/objective {gap:.1e}  warnings: {', '.join(kinds)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[*WALKS, *DIGITS])
    for name in parser.parse_args().only or [*WALKS, *DIGITS]:
        print(_fit(name), flush=True)


if __name__ == "__main__":
    main()
