"""The native three-layer solver on many tiny exact programs: how many it certifies.

Usage::

    python benchmarks/three_layer_sweep.py [--programs N]

Program ``k`` (``numpy.random.default_rng(1000 + k)``) holds 3 or 4 Gaussian signals of 2x3
times 0.01, 1 or 100, 2x2 filters, *every* first-layer pattern and the second-layer patterns
they give (doc/formulations.md §8.2), the squared loss, ``beta`` 1e-3, 1e-2 or 0.1 of the
largest target, with or without an intercept (the targets then centred), ``tol`` 1e-7 or
1e-9; the targets are Gaussian, or three Gaussian values shared by groups of signals
(program 40 draws one value for all its signals: with an intercept its targets are then
zero and ``beta`` 0, and the solve is certified at once). Each is solved by
:func:`~sklearn_convexcnn._solvers._three_layer.solve_three_layer` and, for reference, by
Clarabel through CVXPY on every cone row at ``tol=1e-10``. It prints each program that the
native solver did not certify (its status and its distance above Clarabel's objective,
relative), the count of certified ones and the native solves' time. Programs of inputs x100
reach the smallest effective ``beta`` (at unit scale), where the native solver is weakest
(benchmarks/README.md). About 7 minutes on a 2-core machine, with one BLAS thread.
"""

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import _cvxpy
from sklearn_convexcnn._solvers._three_layer import solve_three_layer


def _program(k):
    rng = np.random.default_rng(1000 + k)
    n = int(rng.choice([3, 4]))
    scale = float(rng.choice([1, 0.01, 100]))
    X = rng.standard_normal((n, 6)) * scale
    if rng.random() < 0.5:
        groups = rng.integers(0, 3, n)  # (drawn first: the README's numbers are of this order)
        y = rng.standard_normal(3)[groups]
    else:
        y = rng.standard_normal(n)
    fit_intercept = bool(rng.random() < 0.5)
    if fit_intercept:
        y = y - y.mean()
    beta = float(rng.choice([1e-3, 1e-2, 0.1])) * float(np.abs(y).max())
    tol = float(rng.choice([1e-7, 1e-9]))
    patches = extract_patches(X, resolve_geometry((2, 3), 2, 1, 6))
    formulation = ThreeLayerFormulation()
    program = formulation.program(patches, formulation.enumerate_gates(patches))
    options = dict(beta=beta, loss="squared", fit_intercept=fit_intercept)
    return program, y, options, tol, scale


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=127)
    args = parser.parse_args()
    certified, seconds = 0, 0.0
    for k in range(args.programs):
        program, y, options, tol, scale = _program(k)
        n_cones, n_rows, _ = program.cones.shape
        reference, _ = _cvxpy._solve_three_layer_rows(
            "CLARABEL", program, y, [np.arange(n_rows)] * n_cones, verbose=0, tol=1e-10,
            max_iter=200, **options,
        )  # fmt: skip
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            native = solve_three_layer(program, y, tol=tol, max_iter=200, **options)
        seconds += time.perf_counter() - start
        if native.converged:
            certified += 1
            continue
        above = (native.objective - reference.objective) / abs(reference.objective)
        print(
            f"program {k:3d} (inputs x{scale:g}, tol {tol:g}): {native.status}, "
            f"{above:.1e} above Clarabel's objective",
            flush=True,
        )
    print(f"certified {certified} of {args.programs}; native solves {seconds:.1f} s in all")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
