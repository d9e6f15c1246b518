"""Regional versus global pooling versus MLPClassifier on a held-out split of digits.

Usage::

    python benchmarks/pooling_digits.py [--n-train N] [--n-patterns P] [--beta B]
        [--regional-beta B [B ...]] [--solver S] [--n-jobs J] [--skip-max] [--loss L]

All models see the same stratified split of ``load_digits`` (pixels / 16):
``train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)``, trained on the
first ``n_train`` images of the 75 % training part (default: all 1347) and scored on the whole
25 % test part (450 images). The ConvexCNN models use 3x3 filters, ``n_patterns`` sampled
filters, ``solver`` and ``n_jobs`` (one-vs-rest classes solved in parallel); the global models
set ``pool_size=None, readout="sum"`` explicitly (so the rows do not move when the defaults do)
with ``beta`` (default 0.1) and 0.01, the 2x2-region models ``pool_size=3, readout="dense"``
with average pooling at every ``regional_beta`` (default 1.0 and 0.1; ``n_patterns`` defaults
to 32) and with max pooling at the first. ``--skip-max`` leaves out regional max pooling,
whose programs are dense. ``--loss`` is the classifiers' one-vs-rest loss (default
``"squared"``; the README demo uses ``"logistic"``). Prints one line per model as it
finishes, then an reST table (test accuracy, fit time, neurons,
``duality_gap_ / objective_``), the fit times over MLPClassifier's and every warning raised
during the fits.
"""

import argparse
import os
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_convexcnn import ConvexCNNClassifier

HEADER = ("model", "test accuracy", "fit (s)", "neurons", "gap / objective", "warnings")


def build_models(n_patterns, beta, regional_betas, solver, n_jobs, skip_max, loss):
    common = dict(
        input_shape=(8, 8), kernel_size=3, n_patterns=n_patterns, random_state=0,
        solver=solver, n_jobs=n_jobs, loss=loss,
    )  # fmt: skip
    glob = dict(pooling="average", pool_size=None, readout="sum", **common)
    regions = dict(pool_size=3, readout="dense", **common)
    models = {
        f"ConvexCNN, global average (readout='sum'), beta={beta}": ConvexCNNClassifier(
            beta=beta, **glob
        ),
        # 10x less regularization than the default row: the gap to regional pooling is not beta's
        "ConvexCNN, global average (readout='sum'), beta=0.01": ConvexCNNClassifier(
            beta=0.01, **glob
        ),
    }
    for regional_beta in regional_betas:
        models[f"ConvexCNN, 2x2 regions, average (readout='dense'), beta={regional_beta}"] = (
            ConvexCNNClassifier(pooling="average", beta=regional_beta, **regions)
        )
    if not skip_max:
        models[f"ConvexCNN, 2x2 regions, max (readout='dense'), beta={regional_betas[0]}"] = (
            ConvexCNNClassifier(pooling="max", beta=regional_betas[0], **regions)
        )
    models["MLPClassifier(max_iter=500, random_state=0)"] = MLPClassifier(
        max_iter=500, random_state=0
    )
    return models


def main(n_train, n_patterns, beta, regional_betas, solver, n_jobs, skip_max, loss):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, stratify=y, random_state=0
    )
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    print(
        f"n_train={len(X_train)}, n_test={len(X_test)}, n_patterns={n_patterns}, "
        f"solver={solver!r}, n_jobs={n_jobs}, loss={loss!r}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    models = build_models(n_patterns, beta, regional_betas, solver, n_jobs, skip_max, loss)
    rows, caught_all = [], []
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = model.score(X_test, y_test)
        if isinstance(model, ConvexCNNClassifier):
            neurons = str(model.filters_.shape[0])
            gap = f"{model.duality_gap_ / model.objective_:.1e}"
        else:
            neurons, gap = "", ""
        rows.append((name, f"{accuracy:.3f}", f"{seconds:.1f}", neurons, gap, str(len(caught))))
        caught_all += [(name, w) for w in caught]
        print(*rows[-1], f"load average {os.getloadavg()[0]:.2f}", sep=" | ", flush=True)
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(len(HEADER))]
    rule = "  ".join("=" * w for w in widths)
    print()
    print(rule)
    print("  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip())
    print(rule)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(rule)
    mlp = float(rows[-1][2])
    print("\nfit time / MLPClassifier's: " + ", ".join(
        f"{row[0].split(',', 1)[-1].strip()} {float(row[2]) / mlp:.1f}x" for row in rows[:-1]
    ))  # fmt: skip
    print(f"\n{len(caught_all)} warning(s)")
    for name, w in caught_all:
        print(f"  {name}: {w.category.__name__}: {w.message}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n-train", type=int, default=None, help="default: all 1347")
    parser.add_argument("--n-patterns", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.1, help="of the global models")
    parser.add_argument("--regional-beta", type=float, nargs="+", default=[1.0, 0.1])
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--skip-max", action="store_true")
    parser.add_argument("--loss", default="squared", choices=["squared", "logistic"])
    args = parser.parse_args()
    main(
        args.n_train, args.n_patterns, args.beta, args.regional_beta, args.solver, args.n_jobs,
        args.skip_max, args.loss,
    )  # fmt: skip
