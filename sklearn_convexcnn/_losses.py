"""Training losses, summed over samples and outputs (the paper's scaling, not averaged).

Each loss gives its value and the *dual vector* ``v = -dloss/df``: the residual ``y - f`` for
the squared loss. ``v`` is what the optimality conditions test against every pattern
(doc/formulations.md §2.3). A classifier's logistic scores are read as probabilities here
too (:func:`logistic_proba`).
"""

import math

import numpy as np
from scipy.special import expit, log_expit, logsumexp


def squared_loss(f, y):
    """``0.5 * sum((f - y) ** 2)``."""
    return 0.5 * float(np.sum((f - y) ** 2))


def squared_dual(f, y):
    return y - f


def logistic_loss(f, y):
    """``sum(log(1 + exp(-y * f)))`` for targets ``y`` in {-1, +1}."""
    return float(np.sum(np.logaddexp(0.0, -y * f)))


def logistic_dual(f, y):
    return y * expit(-y * f)


LOSSES = {
    "squared": (squared_loss, squared_dual),
    "logistic": (logistic_loss, logistic_dual),
}


def logistic_proba(scores):
    """Class probabilities of a classifier's logistic scores, shape (n_samples, n_classes):
    ``expit`` of a binary classifier's 1-D scores; one-vs-rest ``expit`` of each class,
    normalized over the classes."""
    if scores.ndim == 1:
        positive = expit(scores)
        return np.column_stack([1 - positive, positive])
    # normalized in log space: far from the data every expit underflows to 0 (0 / 0)
    return np.exp(_normalised_log_expit(scores))


def logistic_log_proba(scores):
    """The logarithm of :func:`logistic_proba`, computed from the scores: finite where the
    probabilities round to 0."""
    if scores.ndim == 1:
        return np.column_stack([log_expit(-scores), log_expit(scores)])
    return _normalised_log_expit(scores)


def _normalised_log_expit(scores):
    """Log-probabilities of one-vs-rest scores, shape (n_samples, n_classes): each class's
    ``log expit``, normalized over the classes."""
    log_proba = log_expit(scores)
    return log_proba - logsumexp(log_proba, axis=1, keepdims=True)


def loss_value(loss, f, y):
    return LOSSES[loss][0](f, y)


def dual_vector(loss, f, y):
    return LOSSES[loss][1](f, y)


def mean(y):
    """The mean of ``y`` (1-D, finite) to about an ulp: its sum correctly rounded
    (``math.fsum``), then divided (within an ulp for constant ``y``, about 1.3 ulps at worst
    on random ``y``). ``np.mean`` of ``np.full(100, v)`` was 3-5 ulps from
    ``v`` for 13 % of ``v``, and an intercept near a large offset pays for each ulp."""
    return math.fsum(y) / len(y) if len(y) else math.nan


def target_means(Y):
    """:func:`mean` of each column of ``Y``, shape (n_outputs,)."""
    return np.array([mean(column) for column in np.asarray(Y).T])


def best_intercept(loss, y):
    """The optimal output bias of the network without neurons."""
    if loss == "squared":
        return mean(y)
    positive = np.clip(np.mean(y > 0), 1e-12, 1 - 1e-12)
    return float(np.log(positive / (1 - positive)))


def centred_targets(y, loss, fit_intercept):
    """``(y - offset, offset)``: with the squared loss and an intercept, ``y`` centred.

    The intercept absorbs the mean, and centred targets spare every solver the cancellation
    of an offset (uncentred, on ``y + 1e8`` Clarabel ended at 55 times the optimum, the CVXPY
    three-layer and circular fits at 47 and 5,000 times it without a warning, and the native
    solver, whose Gram-based objective cancels ``y^T y``, stalled). Equal targets are
    constant: what is left of them is the mean's rounding (:func:`mean`, about an ulp),
    which the solvers would scale to unit size (CVXPY's then called the program unbounded).
    Targets that differ are not, however close: below ``n eps |mean|`` 2,000 targets
    ``1e8 + 2e-5 x`` were constant, below ``64 eps |mean|`` 12 targets ``1e12 + 1e-3 x``
    (8 ulps apart, fitted 46 times above the optimum), and below 4 ulps targets all equal
    but one 4 ulps off (29 % above it), without a warning.
    """
    if loss != "squared" or not fit_intercept:
        return y - 0.0, 0.0  # (a copy, as centred targets are)
    offset = mean(y)
    if len(y) == 0 or np.all(y == y[0]):
        return np.zeros_like(y, dtype=float), offset
    return y - offset, offset


# scikit-learn's names of the two losses (SGDClassifier's, the gradient-boosting models';
# "log" and "squared_loss" before scikit-learn 1.3), which its message, listing this
# package's names only, does not translate
SCIKIT_LEARN_LOSSES = {
    "log_loss": "logistic",
    "log": "logistic",
    "squared_error": "squared",
    "squared_loss": "squared",
}


def loss_named_by_scikit_learn(loss):
    """This package's name of the loss ``loss`` where it is one of its names or scikit-learn's
    (:data:`SCIKIT_LEARN_LOSSES`), else ``None``."""
    if not isinstance(loss, str):
        return None
    return loss if loss in ("squared", "logistic") else SCIKIT_LEARN_LOSSES.get(loss)
