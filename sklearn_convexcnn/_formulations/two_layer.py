"""Two-layer ReLU CNN with global pooling by a (weighted) sum (formulations.md §2, §6.2).

``f(x) = sum_j w_j sum_k alpha_k (x_k . u_j)_+``. On the cell of pattern ``i`` the neuron is
linear with piece ``A_i = sum_k alpha_k D_i^k X_k``, and the cell is
``{u : (2 D_i^k - I) X_k u >= 0 for all k}``. Average pooling is ``alpha_k = 1/K``.
"""

import numpy as np

from ._program import GroupProgram


class AveragePooling:
    """Global average pooling: the mean of the ReLU map over all patches."""

    name = "average"

    def pool(self, activations):
        """Map activations of shape (n, K, m) to pooled features of shape (n, m)."""
        return activations.mean(axis=1)

    def program(self, patches, gates):
        """The :class:`GroupProgram` over the patterns of ``gates``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        """
        n_patches = patches.shape[1]
        masks = patches @ gates >= 0
        pieces = np.einsum("nkh,nkp->pnh", patches, masks) / n_patches
        signs = np.where(masks, 1.0, -1.0)
        cones = np.einsum("nkp,nkh->pnkh", signs, patches)
        return GroupProgram(pieces, cones.reshape(gates.shape[1], -1, patches.shape[2]))


POOLINGS = {"average": AveragePooling}
