"""
===========================================================
Convex training versus gradient descent: the global optimum
===========================================================

Gradient descent on a ReLU network solves a non-convex problem: where it ends depends on the
initial weights. The convex program of Ergen & Pilanci (2021) has the same optimal value as the
non-convex problem, so once it is solved with *every* activation pattern
(``n_patterns="exact"``) its value is the global optimum, a floor that no run of the same
network can go below.

We fit a two-layer ReLU CNN (filters of length 3, global average pooling, weight decay ``beta``)
to a small generated 1-D problem with random targets (no planted network, so the landscape
has room for poor local minima), exactly, and then train the same network, with the same
objective, by full-batch Adam from 40 random initializations and three widths. The gradient
training is plain numpy, so the example needs neither torch nor a GPU.

Exact enumeration is what makes the optimum certain, and it is only affordable on small
problems: 12 signals of length 8 give 72 patch hyperplanes in ``R^3`` and about 5,000
activation patterns.
"""

# %%
# A small problem and its global optimum
# --------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from sklearn_convexcnn import ConvexCNNRegressor
from sklearn_convexcnn.plotting import plot_objectives

rng = np.random.default_rng(0)
n_samples, length, kernel_size, beta = 12, 8, 3, 0.1
X = rng.standard_normal((n_samples, length))
patches = np.lib.stride_tricks.sliding_window_view(X, kernel_size, axis=1)  # (n, K, h)
y = rng.standard_normal(n_samples)

start = time.perf_counter()
reg = ConvexCNNRegressor(beta=beta, kernel_size=kernel_size, n_patterns="exact").fit(X, y)
print(
    f"convex fit: {reg.n_patterns_} activation patterns, optimum {reg.objective_:.6f}, "
    f"{reg.filters_.shape[0]} neurons, {time.perf_counter() - start:.1f} s"
)


def objective(filters, output_weights, intercept):
    """``0.5 * ||f(X) - y||^2 + beta/2 * (||U||^2 + ||w||^2)`` for a batch of networks.

    ``filters`` is (R, m, h), ``output_weights`` (R, m), ``intercept`` (R,): R networks.
    """
    pooled = np.maximum(np.einsum("nkh,rmh->rnkm", patches, filters), 0).mean(axis=2)
    f = np.einsum("rnm,rm->rn", pooled, output_weights) + intercept[:, None]
    penalty = (filters**2).sum(axis=(1, 2)) + (output_weights**2).sum(axis=1)
    return 0.5 * ((f - y) ** 2).sum(axis=1) + 0.5 * beta * penalty


# the same function on the recovered network reproduces the convex optimum
recovered = objective(reg.filters_[None], reg.output_weights_[None, :, 0], reg.intercept_)
print(f"recovered network, evaluated here: {recovered[0]:.6f}")


# %%
# Gradient training of the same network
# -------------------------------------
# Full-batch Adam on all restarts at once; the gradients are written out by hand.
def adam_restarts(width, n_restarts=40, n_steps=3000, learning_rate=0.01, seed=0):
    """Final objectives and the objective curves of ``n_restarts`` Adam runs."""
    rng = np.random.default_rng(seed)
    params = [
        rng.standard_normal((n_restarts, width, kernel_size)) / np.sqrt(kernel_size),
        rng.standard_normal((n_restarts, width)) / np.sqrt(width),
        np.zeros(n_restarts),
    ]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    curve = []
    rows = patches.reshape(-1, kernel_size)  # (n * K, h): the patches as matrix rows
    for step in range(1, n_steps + 1):
        filters, output_weights, intercept = params
        pre = (rows @ filters.transpose(0, 2, 1)).reshape(n_restarts, *patches.shape[:2], width)
        pooled = np.maximum(pre, 0).mean(axis=2)
        residual = np.einsum("rnm,rm->rn", pooled, output_weights) + intercept[:, None] - y
        # d objective / d filters: each active patch, weighted by its sample's residual
        weighted = (pre > 0) * (residual[:, :, None, None] / pre.shape[2])
        grads = [
            (weighted.reshape(n_restarts, -1, width).transpose(0, 2, 1) @ rows)
            * output_weights[:, :, None]
            + beta * filters,
            np.einsum("rnm,rn->rm", pooled, residual) + beta * output_weights,
            residual.sum(axis=1),
        ]
        # Adam's usual constants: beta1 = 0.9 (decay of the mean of the gradients, m1) and
        # beta2 = 0.999 (of their squares, m2), written out with 1 - beta1 = 0.1 and
        # 1 - beta2 = 0.001; eps = 1e-12 (the usual one is 1e-8) keeps the division finite
        for param, grad, (m1, m2) in zip(params, grads, moments, strict=True):
            m1 *= 0.9
            m1 += 0.1 * grad
            m2 *= 0.999
            m2 += 0.001 * grad**2
            param -= (
                learning_rate * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-12)
            )
        if step % 10 == 0:
            curve.append(objective(*params))
    return objective(*params), np.array(curve)


# two widths below the optimum's number of neurons (6 here) and one 5 above it
widths = [2, 5, reg.filters_.shape[0] + 5]
runs = {}
start = time.perf_counter()
for width in widths:
    runs[width] = adam_restarts(width)
print(f"{len(widths)} x 40 Adam runs of 3000 steps: {time.perf_counter() - start:.1f} s")
for width, (final, _) in runs.items():
    excess = final / reg.objective_ - 1
    print(
        f"width {width:2d}: best {final.min():.6f} ({excess.min():+.2%}), "
        f"median {np.median(final):.6f} ({np.median(excess):+.2%}), "
        f"runs within 0.1% of the optimum: {np.mean(excess < 1e-3):.0%}"
    )

# %%
# The spread of gradient descent sits above the convex line
# ---------------------------------------------------------
# Left: the final objective of every restart, one column per width. Right: how the objective
# of the widest network's restarts evolves. No run goes below the dashed line, the optimum the
# convex program certifies. Narrow networks (fewer filters than the optimum uses) stay well
# above it here; wider ones come closer, but their restarts still spread above it. The convex fit
# needs one solve and no restarts.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
plot_objectives(
    [runs[w][0] for w in widths],
    reg.objective_,
    ax=left,
    labels=[f"Adam, {w} filters" for w in widths],
    optimum_label=f"convex optimum ({reg.filters_.shape[0]} filters)",
)
left.set_title("final objective of 40 restarts per width")
curves = runs[widths[-1]][1]
steps = 10 * np.arange(1, len(curves) + 1)
right.plot(steps, curves, color="tab:green", alpha=0.3, linewidth=1)
right.axhline(reg.objective_, color="black", linestyle="--", label="convex optimum")
# the y axis stops at twice the optimum, so the first steps, higher up, are cut off
right.set_ylim(0.95 * reg.objective_, 2.0 * reg.objective_)
right.set_xlabel("Adam step")
right.set_ylabel("regularized training objective")
right.set_title(f"40 Adam runs with {widths[-1]} filters")
right.legend()
fig.tight_layout()
plt.show()
