"""Three-layer programs with every pattern of both layers: the native solver's certificate.

Usage::

    python benchmarks/three_layer_exact.py [--signals 3 4] [--seeds 6]

Each line builds the three-layer program (doc/formulations.md §8.2) of a few Gaussian images of
2x3 with 2x2 filters, every first-layer pattern and all ``2^n`` second-layer ones (52 and 8 at
3 signals, 128 and 16 at 4), a Gaussian target, no intercept, ``beta`` 0.05 and 0.2, and solves
it with the native solver (``tol=1e-7``, one after the other in one process). Such programs
have many branches without a group at the optimum, whose second-layer multipliers the
certificate must find (:func:`~sklearn_convexcnn._solvers._three_layer_rows.lowered_multipliers`).
It prints the time, the column-generation iterations, the status and the certified gap over
the objective of each, and the totals.
"""

import argparse
import time

import numpy as np

from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers._three_layer import solve_three_layer


def _program(n_signals, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_signals, 6))
    y = rng.standard_normal(n_signals)
    patches = extract_patches(X, resolve_geometry((2, 3), 2, 1, 6))
    formulation = ThreeLayerFormulation()
    return formulation.program(patches, formulation.enumerate_gates(patches)), y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    seconds, iterations, stalled = 0.0, 0, []
    for n_signals in args.signals:
        for seed in range(args.seeds):
            program, y = _program(n_signals, seed)
            for beta in (0.05, 0.2):
                start = time.perf_counter()
                solution = solve_three_layer(
                    program, y, beta=beta, loss="squared", fit_intercept=False, tol=1e-7,
                    max_iter=200,
                )  # fmt: skip
                elapsed = time.perf_counter() - start
                seconds += elapsed
                iterations += solution.n_iter
                if not solution.converged:
                    stalled.append((n_signals, seed, beta))
                print(
                    f"n={n_signals} seed={seed} beta={beta:4.2f}: {elapsed:6.2f} s, "
                    f"{solution.n_iter:3d} iterations, {solution.status}, gap / objective "
                    f"{solution.duality_gap / solution.objective:.1e}",
                    flush=True,
                )
    print(f"total: {seconds:.1f} s, {iterations} iterations, not converged: {stalled}")


if __name__ == "__main__":
    main()
