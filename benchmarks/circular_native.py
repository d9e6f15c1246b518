"""The native solver against CVXPY + Clarabel on circular programs (doc/formulations.md §7).

Usage::

    python benchmarks/circular_native.py

Each line solves one three-layer circular program (spectral l1 norm, ``beta=0.1``, squared
loss, intercept) twice in the same process, on the same data and patterns: by
``solve_native`` (``tol=1e-7``) and by Clarabel through CVXPY (``tol=1e-8``). It prints both
times, their ratio, both objectives and the native solver's certified gap. Problems: ``n``
Gaussian signals of length ``d`` with ``P`` sampled patterns.

Why the native solver is not the default there (``solver="auto"`` uses CVXPY): full-length
filters make every group ``d``-dimensional with ``n`` cone rows, and at these sizes 11-69 % of
the groups are active at the optimum. The working set then holds much of the program, each
restricted problem is an interior-point solve of its own and each price a small cone program.
"""

import argparse
import time

import numpy as np

from sklearn_convexcnn._formulations.circular import CircularFormulation
from sklearn_convexcnn._solvers._cvxpy import solve_with
from sklearn_convexcnn._solvers._native import solve_native

PROBLEMS = [(50, 16, 256), (100, 16, 128), (200, 32, 64)]


def _program(n, length, n_patterns):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, length))
    y = np.sin(X[:, :3].sum(axis=1)) + 0.1 * rng.standard_normal(n)
    formulation = CircularFormulation(3, "relu")
    patches = X[:, None, :]
    gates = formulation.sample_gates(patches, n_patterns, rng)
    return formulation.program(patches, gates), y


def main():
    options = dict(beta=0.1, loss="squared", fit_intercept=True)
    for n, length, n_patterns in PROBLEMS:
        program, y = _program(n, length, n_patterns)
        start = time.perf_counter()
        native = solve_native(program, y, tol=1e-7, max_iter=200, **options)
        native_time = time.perf_counter() - start
        start = time.perf_counter()
        clarabel = solve_with("clarabel", program, y, tol=1e-8, max_iter=500, **options)
        clarabel_time = time.perf_counter() - start
        active = np.count_nonzero(np.abs(native.coef).max(axis=2))
        print(
            f"n={n:4d} d={length:3d} P={n_patterns:4d}: native {native_time:6.2f} s "
            f"({native.status}, gap/objective {native.duality_gap / native.objective:.1e}, "
            f"{active} of {2 * n_patterns} groups active), clarabel {clarabel_time:6.2f} s; "
            f"native/clarabel time {native_time / clarabel_time:5.1f}; objectives "
            f"{native.objective:.9f} / {clarabel.objective:.9f}",
            flush=True,
        )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # (--help)
    main()
