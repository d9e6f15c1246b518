"""The recovered non-convex network: forward pass and regularised training objective.

This is the model the estimators predict with. It evaluates real ReLUs; the activation patterns
of the convex program play no part here, which is what makes the exactness tests meaningful.
"""

from dataclasses import dataclass

import numpy as np

from ._losses import loss_value


class Network:
    """What the recovered networks share: the output ``f = readout + intercept`` and the
    regularised objective. A subclass defines ``_readout(patches)`` and ``penalty()``."""

    def forward(self, patches):
        """Network output for patches of shape (n_samples, n_patches, patch_size).

        Returns
        -------
        f : ndarray of shape (n_samples, n_outputs)
        """
        return self._readout(patches) + self.intercept

    def objective(self, patches, Y, beta, loss):
        """Regularised training objective ``loss(f(X), Y) + beta * penalty``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        Y : ndarray of shape (n_samples, n_outputs)
            Regression targets, or ±1 per class for classification.
        beta : float
        loss : {"squared", "logistic"}
        """
        return loss_value(loss, self.forward(patches), Y) + beta * self.penalty()


def weight_decay(filters, output_weights):
    """``0.5 * (||filters||^2 + ||output_weights||^2)``, the squared norms summed over neurons."""
    return 0.5 * float(np.sum(filters**2) + np.sum(output_weights**2))


@dataclass
class TwoLayerCNN(Network):
    """``f(x) = sum_j output_weights[j] * pool_k((x_k . filters[j])_+) + intercept``.

    Parameters
    ----------
    filters : ndarray of shape (n_neurons, patch_size)
        First-layer filters ``u_j``, flattened as the patches are.
    output_weights : ndarray of shape (n_neurons, n_outputs)
        Output weights ``w_j``.
    intercept : ndarray of shape (n_outputs,)
    pooling : object
        Pooling of the ReLU map; its ``pool(activations)`` maps ``(n, K, m)`` to ``(n, m)``.
    """

    filters: np.ndarray
    output_weights: np.ndarray
    intercept: np.ndarray
    pooling: object

    @property
    def n_neurons(self):
        return self.filters.shape[0]

    def _readout(self, patches):
        return self.pooling.pool(np.maximum(patches @ self.filters.T, 0.0)) @ self.output_weights

    def penalty(self):
        """Weight decay ``0.5 * sum_j (||u_j||^2 + ||w_j||^2)``; the intercept is free."""
        return weight_decay(self.filters, self.output_weights)


@dataclass
class RegionalCNN(TwoLayerCNN):
    """``f(x) = sum_j sum_l output_weights[j, l] * region_l((x_k . filters[j])_+) + intercept``.

    The ReLU map is pooled into regions (``pooling.regions`` maps ``(n, K, m)`` to
    ``(n, Q, m)``) and every region has its own output weight, as in a classic small CNN whose
    pooled map feeds a fully connected layer (formulations.md §6.3; §5.3 when every patch is its
    own region). The penalty is ``||w_j||_1^2``, not weight decay: see :meth:`penalty`.

    Parameters
    ----------
    filters : ndarray of shape (n_neurons, patch_size)
        First-layer filters ``u_j``, flattened as the patches are.
    output_weights : ndarray of shape (n_neurons, n_regions, n_outputs)
        ``output_weights[j, l, o]`` weighs region ``l`` of neuron ``j`` in output ``o``.
    intercept : ndarray of shape (n_outputs,)
    pooling : object
        Its ``regions(activations)`` maps ``(n, K, m)`` to ``(n, Q, m)``.
    """

    def _readout(self, patches):
        regions = self.pooling.regions(np.maximum(patches @ self.filters.T, 0.0))
        return np.einsum("nlm,mlo->no", regions, self.output_weights)

    def penalty(self):
        """``0.5 * sum_j (||u_j||_2^2 + ||W_j||_1^2)``, ``W_j`` all output weights of neuron j.

        The squared l1 norm makes a neuron cost ``||u_j|| * sum |W_j|`` at the balanced scale,
        the cost of one neuron per region: the convex program decouples over regions
        (formulations.md §5.3). Plain weight decay ``||W_j||_2^2`` does not decouple and has no
        known exact program of polynomial size (§5.2). The intercept is free.
        """
        return weight_decay(self.filters, np.abs(self.output_weights).sum(axis=(1, 2)))
