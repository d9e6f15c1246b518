"""Digits demo: ``python -m sklearn_convexcnn.demo``.

Trains a two-layer ReLU CNN to global optimality (over its sampled patterns) on
scikit-learn's 8x8 digits and prints accuracy, fit time, the convex optimum, the recovered
network's objective and its width, next to an MLP trained by gradient descent on the same split.
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_convexcnn import ConvexCNNClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n-train",
        type=int,
        default=300,
        help="training images (default 300: the CVXPY solver fits them in about a minute)",
    )
    parser.add_argument("--n-patterns", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.01)
    parser.add_argument("--solver", default="auto")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=args.n_train, test_size=360, stratify=y, random_state=0
    )
    print(f"digits: {len(X_train)} training and {len(X_test)} test images of 8x8 pixels")

    clf = ConvexCNNClassifier(
        beta=args.beta,
        input_shape=(8, 8),
        kernel_size=3,
        stride=2,
        n_patterns=args.n_patterns,
        solver=args.solver,
        random_state=0,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    print(
        f"ConvexCNNClassifier  test accuracy {clf.score(X_test, y_test):.3f}  fit {fit_time:.1f} s"
    )
    print(f"  convex optimum           {clf.objective_:.6f}")
    print(f"  recovered network        {clf.regularized_objective(X_train, y_train):.6f}")
    print(
        f"  neurons                  {clf.filters_.shape[0]} "
        f"({clf.n_patterns_} sampled patterns, {len(clf.classes_)} classes)"
    )

    mlp = MLPClassifier(max_iter=500, random_state=0)
    start = time.perf_counter()
    mlp.fit(X_train, y_train)
    print(
        f"MLPClassifier(100,)   test accuracy {mlp.score(X_test, y_test):.3f}  "
        f"fit {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
