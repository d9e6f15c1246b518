"""Linear-activation CNNs (doc/formulations.md §9, §5.1): the convex programs without patterns.

* Two-layer linear CNN with global average pooling: ``f = sum_j w_j mean_k (x_k . u_j)``. With
  ``z = sum_j w_j u_j`` it is ``min loss(Xbar z) + beta ||z||_2`` (``Xbar = mean_k X_k``): a
  :class:`GroupProgram` with one piece, no cone, and one neuron recovered.
* Two-layer linear CNN without pooling, one output weight per patch ``w_j in R^K`` and weight
  decay ``(||u_j||^2 + ||w_j||^2) / 2``: ``min loss(sum_k X_k Z e_k) + beta ||Z||_*`` over
  ``Z = sum_j u_j w_j^T`` (§5.1), recovered from the SVD ``Z = P S Q^T`` as
  ``u_r = sqrt(s_r) p_r``, ``w_r = sqrt(s_r) q_r``.

The linear circular CNN is :class:`~.circular.CircularFormulation` with ``activation="linear"``.
"""

from dataclasses import dataclass

import numpy as np

from .._network import Network, neuron_penalty
from .._resources import check_nuclear_program_memory
from ._program import GroupProgram, recover_neurons


@dataclass
class NuclearProgram:
    """``min loss(sum_k X_k Z e_k) + beta ||Z||_*`` over ``Z`` of shape (patch_size, n_patches).

    Attributes
    ----------
    patches : ndarray of shape (n_samples, n_patches, patch_size)
    """

    patches: np.ndarray

    def fit_values(self, Z):
        """``sum_k X_k Z e_k``, shape (n_samples,)."""
        return np.einsum("nkh,hk->n", self.patches, Z)

    @staticmethod
    def regularizer(Z):
        """The nuclear norm ``||Z||_*``."""
        return float(np.linalg.svd(Z, compute_uv=False).sum())

    def dual_norm(self, v):
        """``||sum_k X_k^T v e_k^T||_2``, the spectral norm (the nuclear norm's dual) of the
        adjoint at ``v``: the dual vector ``v`` is feasible where it is at most ``beta``."""
        return float(np.linalg.norm(np.einsum("nkh,n->hk", self.patches, v), 2))


@dataclass(repr=False)  # (Network.__repr__)
class LinearCNN(Network):
    """``f(x) = sum_j w_j mean_k (x_k . u_j) + b`` (pooled), or, with ``output_weights`` of
    shape (n_neurons, n_patches, n_outputs), ``sum_j sum_k w_jk (x_k . u_j) + b`` (no pooling).

    Parameters
    ----------
    filters : ndarray of shape (n_neurons, patch_size)
    output_weights : ndarray of shape (n_neurons, n_outputs) or (n_neurons, n_patches, n_outputs)
    intercept : ndarray of shape (n_outputs,)
    """

    filters: np.ndarray
    output_weights: np.ndarray
    intercept: np.ndarray

    @property
    def n_neurons(self):
        return self.filters.shape[0]

    def _readout(self, patches):
        maps = patches @ self.filters.T
        if self.output_weights.ndim == 3:
            return np.einsum("nkm,mko->no", maps, self.output_weights)
        return maps.mean(axis=1) @ self.output_weights

    def penalty(self):
        """Weight decay ``0.5 * sum_j (||u_j||^2 + ||w_j||^2)``, with ``||w_j||`` the l1 norm
        across outputs of the per-output norms (:func:`~.._network.neuron_penalty`); the
        intercept is free."""
        weights = self.output_weights
        if weights.ndim == 3:  # (neurons, patches, outputs): l2 over the patches
            weights = np.linalg.norm(weights, axis=1)
        return neuron_penalty(self.filters, weights)


class LinearFormulation:
    """Convex program and recovery of a two-layer linear CNN.

    Parameters
    ----------
    pooling : {"average", "none"}
    """

    is_exact = True
    region_sizes = None  # (no read-out per region: see check_program_memory)
    prunable = False  # (only two-layer ReLU CNNs: doc/formulations.md §2.4)
    certifiable = False
    groups_from_samples = False

    def __init__(self, pooling="average"):
        self.pooling = pooling

    def finishing(self, patches, gates, *, prune):
        """How each output's solution is finished after its solve: the fields of
        :class:`~.._outputs.Finishing` (``prune`` does not apply). A duality gap certified
        from the point's own dual point (the native solver's group lasso to ``tol``, CVXPY's
        points ``loose``, as circular CNNs'), and the point kept as it is: no pattern to
        prune or polish over."""
        return {
            "formulation": self, "patches": patches, "gates": gates, "certify": True,
            "polish": False, "loose": True,
        }  # fmt: skip

    def check_program_memory(self, patches_shape, n_patterns, *, solver, exact, at_once):
        """MemoryError, naming the fix, where the nuclear-norm program (no pooling) would not
        fit in memory (:func:`~.._resources.check_nuclear_program_memory`); ``n_patterns``
        and ``exact`` do not apply (no patterns), and the pooled program, a group lasso of
        one group, holds ``n * h`` numbers only."""
        if self.pooling == "none":
            check_nuclear_program_memory(*patches_shape[1:], solver, at_once=at_once)

    def sample_gates(self, patches, n_patterns, random_state):
        """No activation patterns: no gate."""
        return np.zeros((patches.shape[2], 0))

    def check_enumeration(self, rows_at, n_samples, n_rows):
        """No activation patterns: nothing to refuse."""

    def enumerate_gates(self, patches):
        """No activation patterns: no gate."""
        return np.zeros((patches.shape[2], 0))

    def program(self, patches, gates):
        """:class:`GroupProgram` (pooled) or :class:`NuclearProgram` (no pooling)."""
        if self.pooling == "none":
            return NuclearProgram(patches)
        piece = patches.mean(axis=1)
        return GroupProgram(piece[None], np.zeros((1, 1, patches.shape[2])))

    def network(self, solutions, patches, gates, rtol=1e-9):
        """The recovered linear network, one group of neurons per output.

        Parameters
        ----------
        solutions : list of Solution
        patches, gates : ndarray
            The program's patches and gates (unused here: the groups say all).
        rtol : float
            Without pooling, a singular component is dropped where both its singular value
            and its fit are below ``rtol`` times the largest: solver residue. (Not by its
            singular value alone: on inputs whose scales differ by 1e12, one of 1e-10 of the
            largest carried a fit of 359.)

        Returns
        -------
        network : LinearCNN
        """
        n_outputs = len(solutions)
        intercept = np.array([solution.intercept for solution in solutions])
        filters, weights = [], []
        for output, solution in enumerate(solutions):
            if self.pooling == "none":
                P, S, Qt = np.linalg.svd(solution.coef, full_matrices=False)
                # each component's fit: sum_k X_k p q_k s, on the samples
                fits = np.linalg.norm(np.einsum("nkh,hc,ck->nc", patches, P, Qt) * S, axis=0)
                keep = (S > rtol * S.max(initial=0.0)) | (fits > rtol * fits.max(initial=0.0))
                keep &= S > 0
                root = np.sqrt(S[keep])
                filters.append((P[:, keep] * root).T)
                block = np.zeros((keep.sum(), Qt.shape[1], n_outputs))
                block[:, :, output] = Qt[keep] * root[:, None]
            else:
                # one group and no cone: c and c' are interchangeable, keep their difference
                merged = np.stack([solution.coef[0] - solution.coef[1], 0 * solution.coef[1]])
                output_filters, output_weights, _ = recover_neurons(merged)
                filters.append(output_filters)
                block = np.zeros((len(output_weights), n_outputs))
                block[:, output] = output_weights
            weights.append(block)
        return LinearCNN(np.concatenate(filters), np.concatenate(weights), intercept)
