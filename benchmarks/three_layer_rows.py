"""Three-layer programs through CVXPY: every cone row against cutting planes over the rows.

Usage::

    python benchmarks/three_layer_rows.py

Each line builds one three-layer program (formulations.md §8.2: ``n`` Gaussian signals of
length 32, ``kernel_size=5``, ``P`` sampled first-layer patterns and the second-layer patterns
they sample, ``beta=0.1``, squared loss, intercept) and solves it twice with Clarabel in the
same process: with every row of every first-layer cone, as before, and by the cutting planes
of :func:`~sklearn_convexcnn._solvers._layers._solve_three_layer_with`. It prints both times,
their ratio, both objectives and both certified gaps
(:func:`~sklearn_convexcnn._solvers._layers.three_layer_gap`).
"""

import time

import numpy as np

from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import _layers

PROBLEMS = [(100, 16), (200, 16), (300, 16)]
_GAP_OPTIONS = ("beta", "loss", "fit_intercept")


def _program(n, n_patterns):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, 32))
    y = np.sin(X[:, :3].sum(axis=1)) + 0.1 * rng.standard_normal(n)
    patches = extract_patches(X, resolve_geometry(None, 5, 1, 32))
    formulation = ThreeLayerFormulation()
    gates = formulation.sample_gates(patches, n_patterns, rng)
    return formulation.program(patches, gates), y


def main():
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-7, max_iter=500)
    for n, n_patterns in PROBLEMS:
        program, y = _program(n, n_patterns)
        n_cones, n_rows, _ = program.cones.shape
        n_groups = 4 * program.outer_masks.shape[0] * n_cones
        start = time.perf_counter()
        every, multipliers = _layers._solve_three_layer_rows(
            "CLARABEL", program, y, [np.arange(n_rows)] * n_cones, verbose=0, **options
        )
        every_time = time.perf_counter() - start
        every_gap = _layers.three_layer_gap(
            program, every, multipliers, y, **{k: options[k] for k in _GAP_OPTIONS}
        )
        start = time.perf_counter()
        planes = _layers._solve_three_layer_with("CLARABEL", program, y, **options)
        planes_time = time.perf_counter() - start
        print(
            f"n={n:4d} P={n_patterns:3d} ({n_groups} groups x {n_rows} rows): every row "
            f"{every_time:7.2f} s, cutting planes {planes_time:6.2f} s ({planes.status}); "
            f"ratio {every_time / planes_time:5.1f}; objectives {every.objective:.9f} / "
            f"{planes.objective:.9f}; gap / objective {every_gap / every.objective:.1e} / "
            f"{planes.duality_gap / planes.objective:.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
