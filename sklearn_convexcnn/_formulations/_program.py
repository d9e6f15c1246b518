from dataclasses import dataclass

import numpy as np

from .._network import TwoLayerCNN


@dataclass
class GroupProgram:
    """The convex program of Lemma B (formulations.md §1) for one output::

        min_{c, c'}  loss(sum_i A_i (c_i - c'_i) + b, y) + beta * sum_i (R(c_i) + R(c'_i))
        s.t.         G_i c_i >= 0,  G_i c'_i >= 0      for every pattern i

    Attributes
    ----------
    pieces : ndarray of shape (n_patterns, n_samples, patch_size)
        ``A_i``: the neuron's output on the training data is ``A_i u`` for ``u`` in cone ``i``.
    cones : ndarray of shape (n_patterns, n_rows, patch_size)
        ``G_i``: the rows whose non-negativity defines cone ``i``.
    norm_blocks : ndarray of shape (n_blocks, block_size, patch_size) or None
        The group norm ``R(c) = sum_b ||T_b c||_2``; ``None`` (the default) is the plain
        ``R(c) = ||c||_2``. The spectral l1 norm of circular CNNs (formulations.md §7) is one
        2-row block (real and imaginary part of a DFT coefficient) per frequency.
    """

    pieces: np.ndarray
    cones: np.ndarray
    norm_blocks: np.ndarray | None = None

    @property
    def n_patterns(self):
        return self.pieces.shape[0]

    def fit_values(self, coef):
        """``sum_i A_i (c_i - c'_i)`` for ``coef`` of shape (2, n_patterns, patch_size)."""
        return np.einsum("pnh,ph->n", self.pieces, coef[0] - coef[1])

    def group_norms(self, coef):
        """``R(c_i)`` and ``R(c'_i)``, shape (2, n_patterns), for ``coef`` of shape
        (2, n_patterns, patch_size)."""
        if self.norm_blocks is None:
            return np.linalg.norm(coef, axis=2)
        blocks = np.einsum("brh,sph->spbr", self.norm_blocks, coef)
        return np.linalg.norm(blocks, axis=3).sum(axis=2)

    def regularizer(self, coef):
        """``sum_i R(c_i) + R(c'_i)``."""
        return float(self.group_norms(coef).sum())


def recover_neurons(coef):
    """Neurons of the non-convex network from the convex groups (formulations.md §2.4).

    A group ``c`` becomes ``u = c / sqrt(||c||)`` with output weight ``±sqrt(||c||)``, which has
    the same fit and pays the same weight decay ``(||u||^2 + w^2) / 2 = ||c||``. Every non-zero
    group becomes a neuron: solver residue is dropped before, where the data tell it apart
    (:func:`~._pruning.clean_groups`), as a small norm alone does not.

    Parameters
    ----------
    coef : ndarray of shape (2, n_patterns, patch_size)
        ``coef[0]`` holds the groups ``c_i`` (positive output weight), ``coef[1]`` the ``c'_i``.

    Returns
    -------
    filters : ndarray of shape (n_neurons, patch_size)
    weights : ndarray of shape (n_neurons,)
    patterns : ndarray of int, shape (n_neurons,)
        The pattern index of each neuron.
    """
    norms = np.linalg.norm(coef, axis=2)
    keep = norms > 0
    sign_index, patterns = np.nonzero(keep)
    scale = np.sqrt(norms[keep])
    filters = coef[keep] / scale[:, None]
    weights = np.where(sign_index == 0, scale, -scale)
    return filters, weights, patterns


def summed_network(solutions, pooling):
    """The :class:`~.._network.TwoLayerCNN` of one output weight per neuron, recovered from
    every output's solution: the neurons of output ``o`` have output weights in column ``o``
    only (outputs, e.g. classes in one-vs-rest, are separate programs).

    Parameters
    ----------
    solutions : list of Solution
        One solved program per output.
    pooling : object
        The network's pooling (``pool(activations)``).
    """
    n_outputs = len(solutions)
    filters, weights = [], []
    for output, solution in enumerate(solutions):
        output_filters, output_weights, _ = recover_neurons(solution.coef)
        column = np.zeros((len(output_weights), n_outputs))
        column[:, output] = output_weights
        filters.append(output_filters)
        weights.append(column)
    return TwoLayerCNN(
        filters=np.concatenate(filters),
        output_weights=np.concatenate(weights),
        intercept=np.array([solution.intercept for solution in solutions]),
        pooling=pooling,
    )
