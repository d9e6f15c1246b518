"""Three-layer programs: every cone row and cutting planes through CVXPY, and the native solver.

Usage::

    python benchmarks/three_layer_rows.py [--loss logistic] [--no-every-row]

Each line builds one three-layer program (doc/formulations.md §8.2: ``n`` Gaussian signals of
length 32, ``kernel_size=5``, ``P`` sampled first-layer patterns and the second-layer patterns
they sample, ``beta=0.1``, intercept; the logistic loss on the sign of the target about its
median) and solves it up to three times in the same process: with Clarabel on every row of
every first-layer cone, as before f30b2af (``--no-every-row`` skips it: 300 s at ``n=300``);
with Clarabel by the cutting planes of
:func:`~sklearn_convexcnn._solvers._cvxpy._solve_three_layer_with`; and by the native solver
(:func:`~sklearn_convexcnn._solvers._three_layer.solve_three_layer`). It prints the times,
the ratios to the cutting planes, the objectives and the certified gaps
(:func:`~sklearn_convexcnn._solvers._three_layer_rows.three_layer_gap` for CVXPY's points).
"""

import argparse
import time

import numpy as np

from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import _cvxpy
from sklearn_convexcnn._solvers._three_layer import solve_three_layer
from sklearn_convexcnn._solvers._three_layer_rows import three_layer_gap

PROBLEMS = [(100, 16), (200, 16), (300, 16)]
_GAP_OPTIONS = ("beta", "loss", "fit_intercept")


def _program(n, n_patterns, loss="squared"):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, 32))
    y = np.sin(X[:, :3].sum(axis=1)) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    patches = extract_patches(X, resolve_geometry(None, 5, 1, 32))
    formulation = ThreeLayerFormulation()
    gates = formulation.sample_gates(patches, n_patterns, rng)
    return formulation.program(patches, gates), y


def _timed(solve, *args, **kwargs):
    start = time.perf_counter()
    result = solve(*args, **kwargs)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=["squared", "logistic"], default="squared")
    parser.add_argument("--no-every-row", action="store_true")
    args = parser.parse_args()
    options = dict(beta=0.1, loss=args.loss, fit_intercept=True, tol=1e-7, max_iter=500)
    gap_options = {k: options[k] for k in _GAP_OPTIONS}
    for n, n_patterns in PROBLEMS:
        program, y = _program(n, n_patterns, args.loss)
        n_cones, n_rows, _ = program.cones.shape
        n_groups = 4 * program.outer_masks.shape[0] * n_cones
        line = f"n={n:4d} P={n_patterns:3d} ({n_groups} groups x {n_rows} rows):"
        results = {}
        if not args.no_every_row:
            every_row = [np.arange(n_rows)] * n_cones
            (every, multipliers), seconds = _timed(
                _cvxpy._solve_three_layer_rows,
                "CLARABEL", program, y, every_row, verbose=0, **options,
            )  # fmt: skip
            gap = three_layer_gap(program, every, multipliers, y, **gap_options)
            results["every row"] = (every, gap, seconds)
        planes, seconds = _timed(_cvxpy._solve_three_layer_with, "CLARABEL", program, y, **options)
        results["cutting planes"] = (planes, planes.duality_gap, seconds)
        native, seconds = _timed(solve_three_layer, program, y, **options)
        results["native"] = (native, native.duality_gap, seconds)
        baseline = results["cutting planes"][2]
        for name, (solution, gap, seconds) in results.items():
            line += (
                f"\n    {name:14s} {seconds:7.2f} s ({seconds / baseline:5.2f}x planes), "
                f"{solution.status}, objective {solution.objective:.9f}, "
                f"gap / objective {gap / solution.objective:.1e}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
