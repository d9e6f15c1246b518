"""Where the README demo's fit spends its work: operation counts and CPU time by part.

Usage::

    python benchmarks/digits_profile.py [--n-patterns P] [--beta B]

Fits the README demo's model (``python -m sklearn_convexcnn.demo``: 3x3 filters, 2x2 regions
with their own output weights, 32 sampled patterns, ``beta=0.1``, one-vs-rest logistic loss)
on the demo's 1347 training images, in this process (``n_jobs=1``) with one BLAS thread, and
prints, for the ten classes together:

* the CPU time of the whole fit and of the native solver's parts: pricing (``_price``), the
  restricted solves (``_restricted_solve``), the feasibility passes over all cone rows
  (``_violated_rows``) and each class's certification and pruning (``Finishing``);
* how often the solver did its costly steps: restricted solves, Newton systems of the face
  method (``_face_system``: a Hessian formed and factorized), Newton steps
  (``_face_gradient``), NNLS projections (scipy's ``nnls``, every cone projection's kernel);
* each class's CPU time, iterations and objective.

The counts do not vary from run to run, unlike the times (one process, one thread: CPU
time varies by about 15 % from run to run on the 2-core development machine), so they are the
measure to compare two versions of the solver by, on one machine: they depend on the BLAS
kernels OpenBLAS picks for the CPU, whose roundings steer the solver's ties
(benchmarks/README.md). The parts are timed by wrapping the solver's private functions: this
script follows their names.
"""

import argparse
import collections
import functools
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import sklearn_convexcnn._optimality as optimality
import sklearn_convexcnn._outputs as outputs
import sklearn_convexcnn._solvers._faces as faces
import sklearn_convexcnn._solvers._native as native
from sklearn_convexcnn import ConvexCNNClassifier

TIMED = [(native, "_price"), (native, "_restricted_solve"), (native, "_violated_rows")]
COUNTED = [(faces, "_face_system"), (faces, "_face_gradient"), (optimality, "nnls")]


def instrument(cpu, calls):
    """Wrap the timed and counted functions in their modules (for the rest of the process)."""

    def wrap(module, name, timed):
        function = getattr(module, name)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            calls[name] += 1
            if not timed:
                return function(*args, **kwargs)
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[name] += time.process_time() - start

        setattr(module, name, wrapper)

    for module, name in TIMED:
        wrap(module, name, timed=True)
    for module, name in COUNTED:
        wrap(module, name, timed=False)
    wrap(outputs.Finishing, "__call__", timed=True)

    classes = []
    solve_output = outputs.solve_output

    @functools.wraps(solve_output)
    def timed_solve_output(*args, **kwargs):
        start = time.process_time()
        solution = solve_output(*args, **kwargs)
        classes.append((time.process_time() - start, solution.n_iter, solution.objective))
        return solution

    outputs.solve_output = timed_solve_output
    return classes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patterns", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.1)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    clf = ConvexCNNClassifier(
        beta=args.beta, input_shape=(8, 8), kernel_size=3, pool_size=3, readout="dense",
        n_patterns=args.n_patterns, loss="logistic", solver="native", n_jobs=1, random_state=0,
    )  # fmt: skip
    cpu, calls = collections.Counter(), collections.Counter()
    classes = instrument(cpu, calls)
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.process_time()
        clf.fit(X_train, y_train)
        total = time.process_time() - start

    neurons = clf.filters_.shape[0]
    print(f"fit: {total:.2f} s CPU, objective {clf.objective_:.9f}, {neurons} neurons")
    for name in ("_price", "_restricted_solve", "_violated_rows", "__call__"):
        label = "Finishing" if name == "__call__" else name
        print(f"  {label:20s} {cpu[name]:6.2f} s  ({cpu[name] / total:4.0%})  {calls[name]} calls")
    print(
        f"restricted solves {calls['_restricted_solve']}, Newton systems "
        f"{calls['_face_system']}, Newton steps {calls['_face_gradient']}, NNLS projections "
        f"{calls['nnls']}"
    )
    for label, (seconds, n_iter, objective) in zip(clf.classes_, classes, strict=True):
        print(
            f"  class {label}: {seconds:5.2f} s CPU, {n_iter:2d} iterations, "
            f"objective {objective:.6f}"
        )


if __name__ == "__main__":
    main()
