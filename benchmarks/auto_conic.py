"""solver="auto" on circular and three-layer programs, against "native" and "clarabel".

Usage::

    python benchmarks/auto_conic.py [--seeds FIRST STOP] [--tol TOL] [--interior-tol T]

"auto" gives these programs to Clarabel first, solved to ``AUTO_INTERIOR_TOL`` (or ``tol``
where tighter), and polishes a point certified above ``tol`` with the native solver. This
fits the circular and three-layer draws of ``random_programs.py`` in ``--seeds`` with each
solver, in turn, and prints for each: the time of all fits together and its ratio to
"auto"'s (the same run), the fits certified above ``tol`` without a ConvergenceWarning, the
fits warned, and the median and largest unwarned relative gap. ``--interior-tol`` replaces
``AUTO_INTERIOR_TOL`` for the run (1e-7, its value before 9f07870, to compare).
"""

import argparse
import time
import warnings

import numpy as np
from random_programs import draw
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import _outputs

SOLVERS = ("auto", "native", "clarabel")


def run(problems, solver, tol):
    """Total seconds and, for each fit, its relative gap and whether it warned."""
    seconds, fits = 0.0, []
    for estimator, params, X, y in problems:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model = estimator(**dict(params, tol=tol, solver=solver)).fit(X, y)
            seconds += time.perf_counter() - start
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        gap = model.duality_gap_ / model.objective_ if model.objective_ else 0.0
        fits.append((gap, warned))
    return seconds, fits


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(5000, 5300), metavar=("A", "B"))
    parser.add_argument("--tol", type=float, default=1e-7)
    parser.add_argument("--interior-tol", type=float, default=None)
    args = parser.parse_args(argv)
    if args.interior_tol is not None:
        _outputs.AUTO_INTERIOR_TOL = args.interior_tol
    problems = [draw(seed) for seed in range(*args.seeds)]
    problems = [p for p in problems if p[1]["architecture"] != "two_layer"]
    print(
        f"{len(problems)} circular and three-layer programs, tol={args.tol:g}, "
        f"AUTO_INTERIOR_TOL={_outputs.AUTO_INTERIOR_TOL:g}"
    )
    times = {}
    for solver in SOLVERS:
        times[solver], fits = run(problems, solver, args.tol)
        unwarned = np.array([gap for gap, warned in fits if not warned])
        print(
            f"{solver:>9}: {times[solver]:6.1f} s ({times[solver] / times['auto']:.2f}x auto), "
            f"{np.sum(unwarned > args.tol)} above tol unwarned, "
            f"{sum(warned for _, warned in fits)} warned, median gap {np.median(unwarned):.1e}, "
            f"largest unwarned {unwarned.max(initial=0.0):.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
