"""The logistic loss through CVXPY: how often the conic solvers fail, and how far off they end.

Usage::

    python benchmarks/cvxpy_logistic.py [--n-programs N]

Draws ``N`` small random two-layer programs (``n`` 10-39 signals of length 6-10, a linear
target's sign plus noise, ``kernel_size=2``, 4, 8 or 16 sampled patterns, ``beta`` 0.01, 0.1 or
1, with an intercept) and fits each with the logistic loss by the native solver and by CVXPY
with Clarabel and with ECOS (``tol=1e-7``, the default). For each CVXPY solver it prints how
many fits raised an error, how many warned (ConvergenceWarning), and of the others how far
their objective lies above the native one (the native point is certified to ``tol``: a
CVXPY point above it by more is CVXPY's inaccuracy, not a better optimum elsewhere).

Through CVXPY the logistic loss needs exponential cones, which interior-point solvers handle
less robustly than the squared loss's second-order cones: this is the measurement behind the
``loss`` parameter's documentation.
"""

import argparse
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNClassifier


def programs(n_programs):
    for seed in range(n_programs):
        rng = np.random.default_rng(seed)
        n, d = int(rng.integers(10, 40)), int(rng.integers(6, 11))
        X = rng.standard_normal((n, d))
        y = (X[:, :3] @ [1.0, 1.0, -1.0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
        if len(np.unique(y)) < 2:
            continue
        params = dict(
            beta=float(rng.choice([0.01, 0.1, 1.0])),
            n_patterns=int(rng.choice([4, 8, 16])),
            kernel_size=2,
            loss="logistic",
            random_state=seed,
        )
        yield seed, X, y, params


def fit(X, y, params, solver):
    """``(objective, warned)``, or ``(None, error message)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            clf = ConvexCNNClassifier(solver=solver, **params).fit(X, y)
        except RuntimeError as exc:
            return None, str(exc)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return clf.objective_, warned


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-programs", type=int, default=60)
    args = parser.parse_args()
    results = {"clarabel": [], "ecos": []}
    n_fits = 0
    for _, X, y, params in programs(args.n_programs):
        native, native_warned = fit(X, y, params, "native")
        if native is None or native_warned:
            print(f"native did not certify {params}: skipped")
            continue
        n_fits += 1
        for solver, outcomes in results.items():
            objective, status = fit(X, y, params, solver)
            above = None if objective is None else (objective - native) / abs(native)
            outcomes.append((above, status))
    print(f"{n_fits} programs, each certified to tol by the native solver")
    for solver, outcomes in results.items():
        errors = sum(above is None for above, _ in outcomes)
        warned = sum(above is not None and status for above, status in outcomes)
        quiet = np.array([above for above, status in outcomes if above is not None and not status])
        above = (
            f": relative objective above native median {np.median(quiet):.1e}, "
            f"max {quiet.max():.1e}, above 1e-6 in {int(np.sum(quiet > 1e-6))}"
            if len(quiet)
            else ""  # (every fit failed or warned: nothing to compare; max() raised here)
        )
        print(
            f"{solver:9s} errors {errors}/{len(outcomes)}, warned {warned}, "
            f"unwarned {len(quiet)}{above}"
        )


if __name__ == "__main__":
    main()
