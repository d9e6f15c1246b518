"""Sampled versus generated patterns versus the best of 10 PyTorch Adam restarts (issue 9).

Three problem families, one run each, same regularized objective everywhere::

    0.5 * ||f(X) - y||^2 + beta/2 * sum_j (||u_j||^2 + w_j^2),
    f(x) = sum_j w_j * mean_k (x_k . u_j)_+ + b

* ``planted-1d``: Gaussian signals (n=200, length 20), targets from a planted 4-filter CNN
  with filters of length 5 (K=16 patches), plus noise;
* ``digits``: 300 images of ``load_digits`` (8x8, 3x3 filters, K=36), target +1 for digits
  >= 5 and -1 otherwise (the binary classifier's squared-loss objective);
* ``bars``: generated 10x10 images of noise with a horizontal or vertical bar (3x3 filters,
  K=64), target +-1 by orientation.

``beta = 0.1 * beta_max``, where ``beta_max = max_{||u|| <= 1} |(y - mean y)^T g(u)|`` is the
smallest ``beta`` with the zero network optimal (estimated by the dual oracle's search). The
convex fits are the estimators with ``patterns="sampled"`` and ``patterns="generated"``
(``n_patterns`` 128 by default, ``solver="auto"``). The baseline trains the same network in
float64 with Adam (2000 full-batch steps, learning rate 1e-2, 10 random restarts, width
``max(32, fitted width)``); its objective is evaluated at the last step; torch runs on one
thread, as numpy's tiny products do. Prints one table; times are wall-clock seconds on whatever
machine runs it (read the ratios). Results: ``benchmarks/README.md`` (section "Pattern
generation ...").

Run: ``PYTHONPATH=. python benchmarks/bench_patterns.py [--verbose 1] [--n-patterns 128]``
(needs torch; about 6 minutes on a quiet 2-core machine; ``--verbose 1`` prints every round,
``--n-patterns`` is the budget).
"""

import argparse
import sys
import time

import numpy as np

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor
from sklearn_convexcnn._formulations.two_layer import make_formulation
from sklearn_convexcnn._generation import oracle_search
from sklearn_convexcnn._patches import extract_patches, resolve_geometry

N_RESTARTS = 10
ADAM_STEPS = 2000
# the network Adam trains: global average pooling (pinned, whatever the defaults)
GLOBAL = {"pool_size": None, "readout": "sum"}


def planted_1d(rng):
    n, length, h = 200, 20, 5
    X = rng.standard_normal((n, length))
    windows = np.lib.stride_tricks.sliding_window_view(X, h, axis=1)  # (n, K, h)
    filters, weights = rng.standard_normal((4, h)), rng.standard_normal(4)
    y = np.maximum(windows @ filters.T, 0).mean(axis=1) @ weights
    y = y + 0.1 * y.std() * rng.standard_normal(n)
    return X, y, {"kernel_size": 5}, ConvexCNNRegressor


def digits(rng):
    from sklearn.datasets import load_digits

    data = load_digits()
    index = rng.choice(len(data.target), size=300, replace=False)
    X = data.data[index] / 16.0
    y = np.where(data.target[index] >= 5, 1.0, -1.0)
    return X, y, {"kernel_size": 3, "input_shape": (8, 8), **GLOBAL}, ConvexCNNClassifier


def bars(rng):
    n, side = 200, 10
    X = 0.3 * rng.standard_normal((n, side, side))
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    for image, label in zip(X, y, strict=True):
        start, line = rng.integers(0, side - 3), rng.integers(0, side)
        if label > 0:
            image[line, start : start + 4] += 1.0
        else:
            image[start : start + 4, line] += 1.0
    params = {"kernel_size": 3, "input_shape": (side, side), **GLOBAL}
    return X.reshape(n, -1), y, params, ConvexCNNClassifier


def beta_max(X, y, params, rng):
    geometry = resolve_geometry(params.get("input_shape"), params["kernel_size"], 1, X.shape[1])
    patches = extract_patches(X, geometry)
    rows = patches.reshape(-1, patches.shape[2])
    starts = np.vstack(
        [rng.standard_normal((64, patches.shape[2])), rows[rng.choice(len(rows), 64)]]
    )
    formulation = make_formulation("average", None, "sum", geometry.grid_shape)
    _, _, values = oracle_search(formulation, patches, y - y.mean(), starts)
    return float(values.max()), patches


def adam_restarts(patches, y, beta, width, seed):
    import torch

    torch.set_num_threads(1)  # tiny tensors: more threads only contend (7x slower on 2 cores)
    P = torch.tensor(patches)
    t = torch.tensor(y)
    best, start = np.inf, time.perf_counter()
    for restart in range(N_RESTARTS):
        torch.manual_seed(seed + restart)
        h = patches.shape[2]
        U = (torch.randn(width, h, dtype=torch.float64) / np.sqrt(h)).requires_grad_()
        w = (0.1 * torch.randn(width, dtype=torch.float64)).requires_grad_()
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adam([U, w, b], lr=1e-2)

        def objective(U=U, w=w, b=b):
            f = torch.relu(P @ U.T).mean(dim=1) @ w + b
            return 0.5 * ((f - t) ** 2).sum() + 0.5 * beta * ((U**2).sum() + (w**2).sum())

        for _ in range(ADAM_STEPS):
            optimizer.zero_grad()
            value = objective()
            value.backward()
            optimizer.step()
        with torch.no_grad():
            best = min(best, float(objective()))
    return best, time.perf_counter() - start


def main(verbose=0, n_patterns=128):
    print(
        "| problem | n | K | h | beta | sampled: obj / s | generated: obj / s / patterns / "
        "check/beta | best of 10 Adam: obj / s (width) | generated vs Adam |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, make in [("planted-1d", planted_1d), ("digits", digits), ("bars", bars)]:
        rng = np.random.default_rng(0)
        X, y, params, Estimator = make(rng)
        top, patches = beta_max(X, y, params, rng)
        beta = 0.1 * top
        fits = {}
        for patterns in ("sampled", "generated"):
            start = time.perf_counter()
            model = Estimator(
                beta=beta,
                patterns=patterns,
                n_patterns=n_patterns,
                random_state=0,
                verbose=verbose,
                **params,
            ).fit(X, y)
            fits[patterns] = (model, time.perf_counter() - start)
            print(
                f"  {name} {patterns}: {model.objective_:.6g} in {fits[patterns][1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        generated, t_generated = fits["generated"]
        sampled, t_sampled = fits["sampled"]
        width = max(32, generated.filters_.shape[0])
        adam, t_adam = adam_restarts(patches, y, beta, width, seed=0)
        n, K, h = patches.shape
        print(
            f"| {name} | {n} | {K} | {h} | {beta:.4g} | {sampled.objective_:.6g} / "
            f"{t_sampled:.1f} | {generated.objective_:.6g} / {t_generated:.1f} / "
            f"{generated.n_patterns_} / {generated.dual_check_ / beta:.4f} | {adam:.6g} / "
            f"{t_adam:.1f} ({width}) | {(generated.objective_ - adam) / adam:+.2%} |",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", type=int, default=0, help="1: every generation round")
    parser.add_argument("--n-patterns", type=int, default=128, help="the pattern budget")
    args = parser.parse_args()
    main(args.verbose, args.n_patterns)
