"""
=======================================================
Tuning beta: validation curve and the number of neurons
=======================================================

``beta`` is the weight-decay strength of the network and, in the convex program, the strength
of a group-lasso penalty over activation patterns. It therefore sets two things at once: how
smooth the fitted function is, and how many neurons the optimal network has. Because the fit is
a global optimum, both are deterministic functions of ``beta`` (for fixed sampled patterns):
no restart noise blurs the curve.

We tune ``beta`` with :class:`~sklearn.model_selection.GridSearchCV` on generated 1-D signals
whose targets come from a planted ReLU CNN with two filters plus noise, draw the validation
curve with scikit-learn's :class:`~sklearn.model_selection.ValidationCurveDisplay`, and plot
the width of the optimal network against ``beta``. The number of neurons is recorded during
the grid search itself, by a scoring function that reads ``filters_`` of each fitted model.
Finally :func:`~sklearn_convexcnn.convex_cnn_path` traces the optima of the whole data along a
fine grid of ``beta`` in one call.
"""

# %%
# Data and grid search
# --------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold, ValidationCurveDisplay

from sklearn_convexcnn import ConvexCNNRegressor, convex_cnn_path

rng = np.random.default_rng(0)
n_samples, length, kernel_size = 120, 16, 4
X = rng.standard_normal((n_samples, length))
patches = np.lib.stride_tricks.sliding_window_view(X, kernel_size, axis=1)
planted = rng.standard_normal((2, kernel_size))
signal = np.maximum(patches @ planted.T, 0).mean(axis=1) @ [2.0, -2.0]
y = signal + 0.3 * signal.std() * rng.standard_normal(n_samples)


def n_neurons(estimator, X, y):
    """Width of the fitted network (a 'score' that only records it)."""
    return estimator.filters_.shape[0]


betas = np.logspace(-3, 1, 7)
search = GridSearchCV(
    # tol=1e-6: model selection needs no more
    ConvexCNNRegressor(kernel_size=kernel_size, n_patterns=32, tol=1e-6, random_state=0),
    {"beta": betas},
    scoring={"r2": "r2", "n_neurons": n_neurons},
    refit="r2",
    cv=KFold(3, shuffle=True, random_state=0),
    return_train_score=True,
)
start = time.perf_counter()
search.fit(X, y)
print(f"{len(betas)} values of beta x 3 folds in {time.perf_counter() - start:.1f} s")
print(f"best beta {search.best_params_['beta']:.3g}, cross-validated R^2 {search.best_score_:.3f}")

# %%
# Validation curve and width of the optimal network
# -------------------------------------------------
# Small ``beta`` fits the noise of the training folds (training R^2 near 1, lower validation
# R^2) with many neurons; large ``beta`` switches neurons off until the network is too small
# (both R^2 fall). Note that the best ``beta`` keeps more neurons than the two planted
# filters: the penalty also shrinks the weights of the neurons it keeps, and a ``beta`` large
# enough to leave only two neurons shrinks them so much that the fit suffers. The width is
# chosen by the regularizer, not set by hand, and it is not the "true" width.
results = search.cv_results_
# cv_results_ holds one array per fold and score, under keys like "split0_test_r2"
folds = range(search.n_splits_)
train_scores = np.column_stack([results[f"split{i}_train_r2"] for i in folds])
test_scores = np.column_stack([results[f"split{i}_test_r2"] for i in folds])

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
display = ValidationCurveDisplay(
    param_name="beta",
    param_range=betas,
    train_scores=train_scores,
    test_scores=test_scores,
    score_name="$R^2$",
)
display.plot(ax=left)
left.set_xscale("log")
left.axvline(search.best_params_["beta"], color="grey", linestyle=":", label="best beta")
left.legend(loc="lower left")
left.set_title("validation curve (3-fold cross-validation)")

widths = np.column_stack([results[f"split{i}_test_n_neurons"] for i in folds])
right.errorbar(betas, widths.mean(axis=1), yerr=widths.std(axis=1), marker="o", capsize=3)
right.axhline(2, color="black", linestyle="--", label="planted network (2 filters)")
right.set_xscale("log")
right.set_ylim(bottom=0)  # (a linear axis: at the largest beta some folds keep no neuron)
right.set_xlabel("beta")
right.set_ylabel("neurons of the optimal network")
right.set_title("width against beta (mean and std over folds)")
right.legend()
fig.tight_layout()
plt.show()

# %%
# The path of optima on the whole data
# ------------------------------------
# :func:`~sklearn_convexcnn.convex_cnn_path` solves the program of the whole data along a
# decreasing ``beta``, like :func:`~sklearn.linear_model.lasso_path`: it starts at
# ``beta_max``, the smallest ``beta`` whose optimum is the network without neurons, and starts
# each solve from the previous optimum, which makes a fine grid cheap. Every point is the
# optimum over the same 32 sampled patterns as the estimators above (the same
# ``random_state``), certified by its duality gap. Neurons enter a few at a time as
# ``beta`` decreases, and now and then one leaves: the width is not monotone in ``beta``.
start = time.perf_counter()
# eps=1e-4 is beta_min / beta_max, as in lasso_path: the path ends at 1e-4 * beta_max; the
# two values skipped (_) are the intercepts and the gates of the groups
path_betas, coefs, _, objectives, gaps, _ = convex_cnn_path(
    X, y, n_betas=30, eps=1e-4, kernel_size=kernel_size, n_patterns=32, tol=1e-6, random_state=0
)
print(
    f"{len(path_betas)} values of beta in {time.perf_counter() - start:.1f} s, "
    f"largest certified gap {np.max(gaps / objectives):.1e} of the objective"
)
# a neuron is a nonzero group: coefs holds, at each beta, the groups c_i and c'_i
path_neurons = np.count_nonzero(np.linalg.norm(coefs, axis=-1), axis=(1, 2))

fig, ax = plt.subplots(figsize=(6, 4))
ax.step(path_betas, path_neurons, where="post", label="convex_cnn_path, all 120 signals")
ax.axvline(search.best_params_["beta"], color="grey", linestyle=":", label="best beta")
ax.set_xscale("log")
ax.set_xlabel("beta")
ax.set_ylabel("neurons of the optimal network")
ax.set_title("width along the path of optima")
ax.legend()
fig.tight_layout()
plt.show()
