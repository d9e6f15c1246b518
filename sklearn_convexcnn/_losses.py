"""Training losses, summed over samples and outputs (the paper's scaling, not averaged).

Each loss gives its value and the *dual vector* ``v = -dloss/df``: the residual ``y - f`` for
the squared loss. ``v`` is what the optimality conditions test against every pattern
(doc/formulations.md §2.3).
"""

import numpy as np
from scipy.special import expit


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


def loss_value(loss, f, y):
    return LOSSES[loss][0](f, y)


def dual_vector(loss, f, y):
    return LOSSES[loss][1](f, y)
