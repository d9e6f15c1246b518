from dataclasses import dataclass

import numpy as np


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
    """

    pieces: np.ndarray
    cones: np.ndarray

    @property
    def n_patterns(self):
        return self.pieces.shape[0]

    def fit_values(self, coef):
        """``sum_i A_i (c_i - c'_i)`` for ``coef`` of shape (2, n_patterns, patch_size)."""
        return np.einsum("pnh,ph->n", self.pieces, coef[0] - coef[1])

    @staticmethod
    def regularizer(coef):
        """``sum_i ||c_i|| + ||c'_i||``."""
        return float(np.linalg.norm(coef, axis=2).sum())


def recover_neurons(coef, rtol=1e-6):
    """Neurons of the non-convex network from the convex groups (formulations.md §2.4).

    A group ``c`` becomes ``u = c / sqrt(||c||)`` with output weight ``±sqrt(||c||)``, which has
    the same fit and pays the same weight decay ``(||u||^2 + w^2) / 2 = ||c||``. Groups below
    ``rtol`` times the largest are solver residue: their directions are inaccurate and they are
    dropped.

    Parameters
    ----------
    coef : ndarray of shape (2, n_patterns, patch_size)
        ``coef[0]`` holds the groups ``c_i`` (positive output weight), ``coef[1]`` the ``c'_i``.
    rtol : float

    Returns
    -------
    filters : ndarray of shape (n_neurons, patch_size)
    weights : ndarray of shape (n_neurons,)
    patterns : ndarray of int, shape (n_neurons,)
        The pattern index of each neuron.
    """
    norms = np.linalg.norm(coef, axis=2)
    keep = norms > rtol * norms.max(initial=0.0)
    sign_index, patterns = np.nonzero(keep)
    scale = np.sqrt(norms[keep])
    filters = coef[keep] / scale[:, None]
    weights = np.where(sign_index == 0, scale, -scale)
    return filters, weights, patterns
