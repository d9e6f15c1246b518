"""Digits demo: ``python -m sklearn_convexcnn.demo``.

Trains a two-layer ReLU CNN to global optimality (over its sampled patterns) on all of
scikit-learn's 8x8 digits (a stratified 75/25 split) and prints accuracy, fit time, the convex
optimum, the recovered network's objective and its width, next to an MLP trained by gradient
descent on the same split.
"""

import argparse
import math
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_convexcnn import ConvexCNNClassifier


def _argument(convert, accept, what):
    """An argparse type: ``convert(text)``, refused as "<text> is not <what>" unless
    ``accept(value)`` (the estimator's own refusal of a bad value came as a traceback, and a
    negative --n-train sliced the training set from its end)."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


_positive_int = _argument(int, lambda value: value >= 1, "a positive int")
_positive_float = _argument(float, lambda value: 0.0 < value < math.inf, "a positive number")
_n_jobs = _argument(int, lambda value: value != 0, "a non-zero int (-1: every core)")
_seed = _argument(int, lambda value: 0 <= value < 2**32, "a seed in [0, 2**32 - 1]")


def main(argv=None):
    # (prog: run as ``python -m``, argparse named it "demo.py", which is no command to type)
    # (the description: the docstring's paragraph, not its reST title)
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_convexcnn.demo",
        description=" ".join(__doc__.split("\n\n")[1].split()),
    )
    parser.add_argument(
        "--n-train", type=_positive_int, default=None, help="training images (default: all 1347)"
    )
    parser.add_argument(
        "--n-patterns", type=_positive_int, default=32, help="sampled patterns (default: 32)"
    )
    parser.add_argument(
        "--beta", type=_positive_float, default=0.1, help="regularization strength (default: 0.1)"
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=-1,
        help="classes solved at once (default: -1, every core)",
    )
    parser.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        help="seed of the patterns and of the MLP (default: 0)",
    )
    parser.add_argument(
        "--solver",
        default="auto",
        choices=["auto", "native"],  # ("auto" is "native" here)
        help="default: auto. CVXPY's solvers are not offered: each class's dense program would "
        "take about 9 GiB, and Clarabel fails on many logistic ones (ConvexCNNClassifier's loss "
        "docs)",
    )
    parser.add_argument(
        "--loss",
        default="logistic",
        choices=["logistic", "squared"],
        help="one-vs-rest loss (default: logistic)",
    )
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    X_train, y_train = X_train[: args.n_train], y_train[: args.n_train]
    if len(set(y_train)) < 2:  # (the classifier's own refusal comes as a traceback)
        parser.error(
            f"argument --n-train: the first {args.n_train} training image(s) show only the "
            f"digit {y_train[0]}; pass a larger --n-train"
        )
    print(f"digits: {len(X_train)} training and {len(X_test)} test images of 8x8 pixels")

    clf = ConvexCNNClassifier(
        beta=args.beta,
        input_shape=(8, 8),
        kernel_size=3,
        pool_size=3,  # the 6x6 patch grid in 2x2 regions,
        readout="dense",  # each region with its own output weight
        n_patterns=args.n_patterns,
        loss=args.loss,
        solver=args.solver,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    print(
        f"ConvexCNNClassifier  test accuracy {clf.score(X_test, y_test):.3f}  fit {fit_time:.1f} s"
    )
    print(f"  convex optimum           {clf.objective_:.6f}")
    print(f"  recovered network        {clf.regularized_objective(X_train, y_train):.6f}")
    print(f"  certified duality gap    {clf.duality_gap_:.1e}")
    print(
        f"  neurons                  {clf.filters_.shape[0]} "
        f"({clf.n_patterns_} sampled pattern{'s' if clf.n_patterns_ != 1 else ''}, "
        f"{len(clf.classes_)} classes, {args.loss} loss, "
        "3x3 filters, 2x2 regions of the 6x6 patch grid)"
    )

    mlp = MLPClassifier(max_iter=500, random_state=args.random_state)
    start = time.perf_counter()
    mlp.fit(X_train, y_train)
    print(
        f"MLPClassifier(100,)   test accuracy {mlp.score(X_test, y_test):.3f}  "
        f"fit {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
