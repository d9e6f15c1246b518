"""Two-layer ReLU CNN with global pooling by a (weighted) sum (doc/formulations.md §2, §6.2).

``f(x) = sum_j w_j sum_k alpha_k (x_k . u_j)_+``. On the cell of pattern ``i`` the neuron is
linear with piece ``A_i = sum_k alpha_k D_i^k X_k``, and the cell is
``{u : (2 D_i^k - I) X_k u >= 0 for all k}``. Average pooling is ``alpha_k = 1/K``.
"""

import numpy as np

from .._patterns import MAX_EXACT_PATTERNS, enumerate_gates, joint_signs, sample_gates
from ._operator import PatchOperator
from ._program import GroupProgram, summed_network
from .pooling import average_blocks, make_pooled_formulation


class AveragePooling:
    """Global average pooling: the mean of the ReLU map over all patches."""

    def pool(self, activations):
        """Map activations of shape (n, K, m) to pooled features of shape (n, m)."""
        return activations.mean(axis=1)


class TwoLayerFormulation:
    """Convex program and network recovery of a two-layer CNN with the given pooling.

    Parameters
    ----------
    pooling : AveragePooling
    """

    def __init__(self, pooling):
        self.pooling = pooling

    def sample_gates(self, patches, n_patterns, random_state):
        """Gates of the sampled patterns (see :func:`~.._patterns.sample_gates`)."""
        return sample_gates(patches, n_patterns, random_state)

    def enumerate_gates(self, patches, max_patterns=MAX_EXACT_PATTERNS):
        """Gates of every joint pattern (see :func:`~.._patterns.enumerate_gates`).

        Raises
        ------
        ValueError
            If the Cover bound on the number of patterns exceeds ``max_patterns``.
        """
        return enumerate_gates(patches, max_patterns)

    def pattern_keys(self, patches, gates):
        """The patterns of ``gates``, one column each: the signs of every patch."""
        return joint_signs(patches, gates)

    def program(self, patches, gates):
        """The :class:`GroupProgram` over the patterns of ``gates``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        """
        _, pieces, cones = average_blocks(patches, gates, 1.0 / patches.shape[1])
        return GroupProgram(pieces, cones)

    matrix_free = True  # (as the other formulations say whether :meth:`operator` is)

    def operator(self, patches, gates, with_candidates=True):
        """The same program as :meth:`program`, matrix-free: patterns recomputed from the gates.

        What the native solver uses; memory grows with ``n * K * h``, not ``n * K * P * h``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        with_candidates : bool, default=True
            Whether the operator finds the candidate rows that the solvers start from
            (:class:`~._operator.PatchOperator`); ``False`` for correlations alone.

        Returns
        -------
        operator : PatchOperator
        """
        n_patches = patches.shape[1]
        weights = np.full(n_patches, 1.0 / n_patches)
        return PatchOperator(patches, gates, weights, with_candidates=with_candidates)

    def network(self, solutions, patches, gates):
        """The recovered network, one group of neurons per output.

        Parameters
        ----------
        solutions : list of Solution
            One solved program per output.
        patches, gates : ndarray
            The program's patches and gates (unused here: the groups say all).

        Returns
        -------
        network : TwoLayerCNN
        """
        return summed_network(solutions, self.pooling)


POOLINGS = ("average", "max", "none")
READOUTS = ("sum", "dense")


def make_formulation(pooling, pool_size=None, readout="sum", grid_shape=None):
    """The formulation for the estimators' parameters.

    Global average pooling with a summed read-out is :class:`TwoLayerFormulation`; local and
    max pooling, regional read-out and no pooling are in :mod:`.pooling`, which need
    ``grid_shape`` (the patch grid) to cut the pools.
    """
    if pooling == "average" and pool_size is None and readout == "sum":
        return TwoLayerFormulation(AveragePooling())
    return make_pooled_formulation(pooling, pool_size, readout, grid_shape)
