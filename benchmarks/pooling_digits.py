"""Regional versus global pooling versus MLPClassifier on a held-out split of digits.

Usage: python benchmarks/pooling_digits.py [n_train] [n_patterns] [solver]

All models see the same stratified split of ``load_digits`` (pixels / 16): ``n_train`` training
images drawn from the 75 % training part of ``train_test_split(..., random_state=0)``, scored on
the whole 25 % test part (450 images). All ConvexCNN models use ``beta=0.1`` (one row also
0.01), 3x3 filters and ``n_patterns`` sampled filters. Prints an reST table with test accuracy
and fit time.
"""

import sys
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_convexcnn import ConvexCNNClassifier

HEADER = ("model", "test accuracy", "fit (s)", "notes")


def main(n_train=300, n_patterns=8, solver="clarabel"):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, stratify=y, random_state=0
    )
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    common = dict(
        input_shape=(8, 8), kernel_size=3, n_patterns=n_patterns, beta=0.1, random_state=0,
        solver=solver,
    )  # fmt: skip
    models = {
        "ConvexCNN, global average pooling (readout='sum')": ConvexCNNClassifier(**common),
        # the same with 10x less regularisation: the gap to regional pooling is not beta's
        "ConvexCNN, global average pooling, beta=0.01": ConvexCNNClassifier(
            **{**common, "beta": 0.01}
        ),
        "ConvexCNN, 2x2 regions, average (pool_size=3, readout='dense')": ConvexCNNClassifier(
            pooling="average", pool_size=3, readout="dense", **common
        ),
        "ConvexCNN, 2x2 regions, max (pool_size=3, readout='dense')": ConvexCNNClassifier(
            pooling="max", pool_size=3, readout="dense", **common
        ),
        "MLPClassifier(max_iter=500, random_state=0)": MLPClassifier(max_iter=500, random_state=0),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = model.score(X_test, y_test)
        note = f"{len(caught)} warning(s)" if caught else ""
        rows.append((name, f"{accuracy:.3f}", f"{seconds:.1f}", note))
        print(name, rows[-1][1:], flush=True)
    widths = [max(len(r[i]) for r in rows + [HEADER])
              for i in range(4)]  # fmt: skip
    rule = "  ".join("=" * w for w in widths)
    print(f"\nn_train={len(X_train)}, n_test={len(X_test)}, n_patterns={n_patterns}\n")
    print(rule)
    print("  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)))
    print(rule)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(rule)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 300,
        int(args[1]) if len(args) > 1 else 8,
        args[2] if len(args) > 2 else "clarabel",
    )
