from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._network import TwoLayerCNN


class GroupNorm:
    """The group norm ``R(c) = sum_b ||T_b c||_2`` of a :class:`GroupProgram`, and its dual.

    Parameters
    ----------
    blocks : ndarray of shape (n_blocks, block_size, patch_size), default=None
        The blocks ``T_b``; ``None`` is the Euclidean norm ``R(c) = ||c||_2``. The stacked
        nonzero rows must be linearly independent (the spectral blocks of circular CNNs are
        the real Fourier basis): :meth:`dual` is then exact.
    """

    def __init__(self, blocks=None):
        self.blocks = None if blocks is None else np.asarray(blocks, dtype=float)
        if self.blocks is not None:
            n_blocks, size, h = self.blocks.shape
            # T^T w = g has one solution on T's (independent) nonzero rows; the minimum-norm
            # one puts zero on the zero rows, where any other weight only adds to ||w_b||
            self._dual_map = np.linalg.pinv(self.blocks.reshape(-1, h).T).reshape(n_blocks, size, h)
        self.orthogonal_form = None if self.blocks is None else _orthogonal_form(self.blocks)

    @property
    def is_euclidean(self):
        return self.blocks is None

    def __call__(self, coef):
        """``R`` of every vector along the last axis of ``coef``."""
        if self.blocks is None:
            return np.linalg.norm(coef, axis=-1)
        return np.linalg.norm(np.einsum("brh,...h->...br", self.blocks, coef), axis=-1).sum(-1)

    def dual(self, g):
        """The dual norm ``R*(g) = max {g.u : R(u) <= 1}`` along the last axis of ``g``.

        ``g.u = w^T T u <= sum_b ||w_b|| ||T_b u|| <= max_b ||w_b|| R(u)`` for any ``w`` with
        ``T^T w = g``, with equality for the one solution. So ``max_b ||w_b||`` is the dual
        norm, and an upper bound on it for blocks that are not independent.
        """
        if self.blocks is None:
            return np.linalg.norm(g, axis=-1)
        return np.linalg.norm(np.einsum("brh,...h->...br", self._dual_map, g), axis=-1).max(-1)

    def conic_blocks(self, patch_size):
        """The blocks ``T_b`` (the identity for the Euclidean norm), for conic solvers."""
        if self.blocks is None:
            return np.eye(patch_size)[None]
        return self.blocks


def _orthogonal_form(blocks):
    """``(Q, D)`` where the nonzero rows of ``blocks`` are ``h`` orthogonal vectors: ``Q``,
    shape (h, h), those rows normalized, in order, and ``D`` the blocks in the coordinates
    ``v = Q u`` (``T_b u = D_b v``: one nonzero an entry); None for other blocks.

    The spectral blocks of circular CNNs are the real Fourier basis, scaled: in its
    coordinates a conic solver's blocks hold 2 nonzeros each instead of dense rows of ``h``:
    the prices that certify a fit of 100 signals of 128 features took 1.1-1.8 s against
    8.4-11.4 s (two sittings; :func:`~.._optimality._block_price`).
    """
    h = blocks.shape[2]
    flat = blocks.reshape(-1, h)
    norms = np.linalg.norm(flat, axis=1)
    nonzero = norms > 0
    if nonzero.sum() != h:
        return None
    Q = flat[nonzero] / norms[nonzero, None]
    # (the rounding of the Fourier rows' products grows with h: 1.7e-13 at h = 4096)
    if not np.allclose(Q @ Q.T, np.eye(len(Q)), rtol=0.0, atol=1e-14 * max(h, 100)):
        return None
    D = np.zeros_like(flat)
    D[nonzero] = norms[nonzero, None] * np.eye(len(Q))
    return Q, D.reshape(blocks.shape)


@dataclass
class GroupProgram:
    """The convex program of Lemma B (doc/formulations.md §1) for one output::

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
        ``R(c) = ||c||_2``. The spectral l1 norm of circular CNNs (doc/formulations.md §7) is one
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

    @cached_property
    def norm(self):
        """The :class:`GroupNorm` ``R``."""
        return GroupNorm(self.norm_blocks)

    def group_norms(self, coef):
        """``R(c_i)`` and ``R(c'_i)``, shape (2, n_patterns), for ``coef`` of shape
        (2, n_patterns, patch_size)."""
        return self.norm(coef)

    def regularizer(self, coef):
        """``sum_i R(c_i) + R(c'_i)``."""
        return float(self.group_norms(coef).sum())


def recover_neurons(coef):
    """Neurons of the non-convex network from the convex groups (doc/formulations.md §2.4).

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
