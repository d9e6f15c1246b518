"""Three-layer CNN with two ReLU layers (doc/formulations.md §8).

Branch ``j`` has its own convolution filters ``u_{jt}``, global average pooling, a scalar fully
connected layer with weights ``w1_{jt}``, a second ReLU and an output weight ``w2_j``::

    f(x) = sum_j ( sum_t w1_{jt} mean_k (x_k . u_{jt})_+ )_+ w2_j ,
    ||u_{jt}||_2 <= 1 ,   penalty  beta/2 sum_j (||w1_j||_1^2 + w2_j^2) .

The l1 norm on the middle layer is what makes the problem well posed for unbounded width
(§8.1). The exact program (§8.2) has one group per (output sign ``s``, second-layer pattern
``l``, first-layer pattern ``i``)::

    min  loss( sum_{s,l} s D'_l sum_i M_i (a_sli - b_sli) ) + beta sum ||a_sli|| + ||b_sli||
    s.t. a_sli, b_sli in C_i                                   (first ReLU layer)
         (2 D'_l - I) sum_i M_i (a_sli - b_sli) >= 0           (second ReLU layer)

The second-layer patterns ``D'_l`` are sign patterns in ``R^n``: all ``2^n`` of them are used
when that is at most ``n_patterns`` (exhaustive, hence exact for the first-layer patterns), and
otherwise the patterns of random branches are sampled, a restriction whose optimum is still
attained by the recovered network.
"""

import operator
from dataclasses import dataclass

import numpy as np

from .._losses import loss_value
from .._network import Network, neuron_penalty, relu_map
from .._patterns import (
    all_sign_patterns,
    check_sampled_bound,
    enumerate_gates,
    first_of_each_pattern,
    sample_gates,
)
from .._resources import check_program_memory
from ._pruning import RESIDUE, with_objective
from .two_layer import average_blocks

# Largest number of first-layer filters in a random branch that samples a second-layer pattern.
_MAX_BRANCH_WIDTH = 4
# Most samples whose 2^n second-layer patterns are ever all used (exhaustive, hence exact).
_MAX_EXHAUSTIVE_SAMPLES = 20
# Largest number of pattern pairs (second-layer x first-layer patterns, four groups each:
# the parts a and b, the output signs) enumerated exactly.
_MAX_EXACT_PAIRS = 20_000


def _check_exact_pairs(n_samples, n_first_layer=None):
    """ValueError where all ``2^n_samples`` second-layer patterns for each first-layer
    pattern (``n_first_layer`` of them, at least one where not known yet) make more than
    ``_MAX_EXACT_PAIRS`` pattern pairs."""
    if (
        n_samples > _MAX_EXHAUSTIVE_SAMPLES
        or 2**n_samples * (1 if n_first_layer is None else n_first_layer) > _MAX_EXACT_PAIRS
    ):
        each = (
            "each first-layer pattern"
            if n_first_layer is None
            else f"each of the {n_first_layer} first-layer patterns"
        )
        raise ValueError(
            f"n_patterns='exact' with architecture='three_layer' needs all 2^{n_samples} "
            f"second-layer patterns for {each}, more than the limit of {_MAX_EXACT_PAIRS} "
            "pattern pairs, of four groups each (doc/formulations.md §8.3). Pass an int "
            "n_patterns=<int> to sample the patterns instead."
        )


@dataclass
class ThreeLayerProgram:
    """The program of doc/formulations.md §8.2 for one output.

    Attributes
    ----------
    pieces : ndarray of shape (n_patterns, n_samples, patch_size)
        ``M_i``: the pooled first-layer neuron is ``M_i u`` for ``u`` in cone ``i``.
    cones : ndarray of shape (n_patterns, n_rows, patch_size)
        ``G_i``: cone ``i`` is ``{u : G_i u >= 0}``.
    outer_masks : ndarray of bool, shape (n_outer_patterns, n_samples)
        Second-layer patterns ``D'_l``.
    gates : ndarray of shape (patch_size, n_patterns), default=None
        A point of each cone (its first-layer gate); the solver's cutting planes start from the
        rows nearest to it.

    A point ``coef`` has shape (2, 2, n_outer_patterns, n_patterns, patch_size):
    ``coef[0]`` the groups ``a``, ``coef[1]`` the groups ``b``; axis 1 is the output sign
    (``+``, ``-``).
    """

    pieces: np.ndarray
    cones: np.ndarray
    outer_masks: np.ndarray
    gates: np.ndarray | None = None

    @property
    def n_patterns(self):
        return self.pieces.shape[0]

    def hidden_values(self, coef):
        """Second-layer pre-activations ``z_sl``, shape (2, n_outer_patterns, n_samples)."""
        return np.einsum("pnh,slph->sln", self.pieces, coef[0] - coef[1])

    def fit_values(self, coef):
        """``sum_{s,l} s D'_l z_sl``."""
        z = self.hidden_values(coef) * self.outer_masks
        return z[0].sum(axis=0) - z[1].sum(axis=0)

    def group_norms(self, coef):
        """``||a_sli||`` and ``||b_sli||``, shape (2, 2, n_outer_patterns, n_patterns)."""
        return np.linalg.norm(coef, axis=-1)

    def regularizer(self, coef):
        """``sum ||a_sli|| + ||b_sli||``."""
        return float(self.group_norms(coef).sum())

    def second_layer_slacks(self, coef):
        """``(2 D'_l - I) z_sl``, at least zero where the second layer's rows hold, shape
        (2 * n_outer_patterns, n_samples): the branches ``(+, l)``, then ``(-, l)``."""
        signs = 2.0 * self.outer_masks - 1.0
        return (signs[None] * self.hidden_values(coef)).reshape(-1, self.pieces.shape[1])

    def second_layer_violations(self, coef):
        """The largest violation ``max(-(2 D'_l - I) z_sl)`` of each branch, shape
        (2, n_outer_patterns)."""
        violations = np.max(-self.second_layer_slacks(coef), axis=-1, initial=0.0)
        return violations.reshape(2, -1)


def clean_three_layer(program, solution, y, *, beta, loss):
    """``solution`` without its solver residue: groups below ``RESIDUE`` times the largest norm
    set to zero, but in the branches where that would violate the second ReLU layer's rows
    more than the point does; the objective recomputed and the gap moved by as much.

    The network keeps every other group. Dropped from the network everywhere (as it once
    did), the residue moved branches' pre-activations across zero where those rows are
    tight, and the network's objective missed the solution's by up to 1.6e-4 of it.
    """
    coef = np.array(solution.coef, dtype=float)
    norms = program.group_norms(coef)
    residue = (norms > 0) & (norms <= RESIDUE * norms.max(initial=0.0))
    cleaned = np.where(residue[..., None], 0.0, coef)
    before, after = program.second_layer_violations(coef), program.second_layer_violations(cleaned)
    worse = after > before  # (sign, outer): keep their residue
    residue &= ~worse[None, :, :, None]
    coef[residue] = 0.0
    f = program.fit_values(coef) + solution.intercept
    objective = float(loss_value(loss, f, y) + beta * program.regularizer(coef))
    return with_objective(solution, coef, objective)


@dataclass(repr=False)  # (Network.__repr__)
class ThreeLayerCNN(Network):
    """``f(x) = sum_j w2_j (sum_t w1_t mean_k (x_k . u_t)_+ )_+ + b`` over branches ``j``.

    Parameters
    ----------
    filters : ndarray of shape (n_filters, patch_size)
        Unit-norm first-layer filters ``u_t`` of all branches.
    middle_weights : ndarray of shape (n_filters,)
        ``w1_t``: weight of filter ``t`` in its branch's second-layer unit.
    branches : ndarray of int, shape (n_filters,)
        Branch of each filter.
    output_weights : ndarray of shape (n_branches, n_outputs)
        ``w2_j``.
    intercept : ndarray of shape (n_outputs,)
    """

    filters: np.ndarray
    middle_weights: np.ndarray
    branches: np.ndarray
    output_weights: np.ndarray
    intercept: np.ndarray

    @property
    def n_neurons(self):
        """First-layer filters: the width of the ReLU map at each patch."""
        return self.filters.shape[0]

    @property
    def n_branches(self):
        return self.output_weights.shape[0]

    def _branch_matrix(self):
        matrix = np.zeros((len(self.branches), self.n_branches))
        matrix[np.arange(len(self.branches)), self.branches] = self.middle_weights
        return matrix

    def _readout(self, patches):
        pooled = relu_map(patches, self.filters).mean(axis=1)
        return np.maximum(pooled @ self._branch_matrix(), 0.0) @ self.output_weights

    def check_assigned(self, field, value):
        """Unit-norm filters (the penalty counts their scale in the middle weights) and
        branches in ``[0, n_branches)``."""
        if field == "filters":
            norms = np.linalg.norm(value, axis=1)
            if not np.allclose(norms, 1.0, rtol=0.0, atol=1e-6):
                raise ValueError(
                    "filters_ of a three-layer CNN have unit norm (its penalty counts their "
                    "scale in middle_weights_), got norms from "
                    f"{norms.min():.7g} to {norms.max():.7g}: divide each filter by its norm "
                    "and multiply its middle weight by it."
                )
        if (
            field == "branches"
            and len(value)
            and not (0 <= value.min() and value.max() < self.n_branches)
        ):
            raise ValueError(
                f"branches_ must hold branch indices from 0 to {self.n_branches - 1} (rows of "
                f"output_weights_), got values from {value.min()} to {value.max()}."
            )

    def penalty(self):
        """``0.5 * sum_j (||w1_j||_1^2 + ||w2_j||^2)``, with ``||w2_j||_1`` across outputs
        (:func:`~.._network.neuron_penalty`); the filters are norm-constrained."""
        return neuron_penalty(np.abs(self._branch_matrix()).sum(axis=0), self.output_weights)


def _pooled(patches, gates):
    """``mean_k (X_k g)_+`` for every gate, shape (n_samples, n_gates)."""
    return np.maximum(patches @ gates, 0.0).mean(axis=1)


def _sample_outer_masks(patches, gates, n_patterns, random_state):
    """Second-layer patterns ``D'_l``, shape (n_outer_patterns, n_samples) bool: all ``2^n``
    of them when ``2^n_samples <= n_patterns``, else the distinct patterns of ``n_patterns``
    random branches over the first-layer ``gates`` (and the all-ones pattern)."""
    n_samples = patches.shape[0]
    if n_samples <= _MAX_EXHAUSTIVE_SAMPLES and 2**n_samples <= n_patterns:
        return all_sign_patterns(n_samples)
    pooled = _pooled(patches, gates)
    widths = random_state.randint(1, min(_MAX_BRANCH_WIDTH, gates.shape[1]) + 1, n_patterns)
    weights = random_state.standard_normal((gates.shape[1], n_patterns))
    for branch, width in enumerate(widths):
        # a random branch of `width` filters: zero the other weights
        unused = random_state.permutation(gates.shape[1])[width:]
        weights[unused, branch] = 0.0
    masks = np.vstack([np.ones(n_samples, bool), (pooled @ weights >= 0).T])
    return masks[first_of_each_pattern(masks.T)]


class ThreeLayerFormulation:
    """Convex program and recovery of the three-layer CNN with two ReLU layers.

    :meth:`sample_gates` and :meth:`enumerate_gates` also set ``outer_masks_``, the
    second-layer patterns of the training data, which :meth:`program` then uses: the
    formulation is stateful, and a fit keeps it with its gates (warm starts reuse both).
    """

    is_exact = True  # (doc/formulations.md §8.2)
    region_sizes = None  # (no read-out per region: see check_program_memory)
    prunable = False  # (only two-layer ReLU CNNs: doc/formulations.md §2.4)
    certifiable = False
    # (second-layer patterns of the training samples: outer_masks_)
    groups_from_samples = True

    def finishing(self, patches, gates, *, prune):
        """How each output's solution is finished after its solve: the fields of
        :class:`~.._outputs.Finishing` (``prune`` does not apply). The solver's residue
        dropped where that keeps the second layer's rows (:func:`clean_three_layer`), and
        every group kept in the network; the gaps of CVXPY's points are ``loose``."""
        return {"residue": "clean", "loose": True}

    def check_program_memory(self, patches_shape, n_patterns, *, solver, exact, at_once):
        """MemoryError, naming the fix, where the program would not fit in memory
        (:func:`~.._resources.check_program_memory`), as
        :meth:`.two_layer.PooledSumFormulation.check_program_memory`: held as the native
        solver's arrays for ``solver="native"``, else as CVXPY's program."""
        kind = "three_layer_native" if solver == "native" else "three_layer"
        check_program_memory(
            *patches_shape, n_patterns, kind=kind, solver=solver, exact=exact, at_once=at_once,
            regions=self.region_sizes,
        )  # fmt: skip

    def sample_gates(self, patches, n_patterns, random_state):
        """First-layer gates, as for two layers; sets ``outer_masks_``, the second-layer
        patterns (:func:`_sample_outer_masks`) that :meth:`program` uses.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        n_patterns : int
        random_state : RandomState

        Returns
        -------
        gates : ndarray of shape (patch_size, n_unique)
        """
        n_patterns = operator.index(n_patterns)  # (a bool too, as the constraints admit)
        gates = sample_gates(patches, n_patterns, random_state)
        self.outer_masks_ = _sample_outer_masks(patches, gates, n_patterns, random_state)
        return gates

    def check_enumeration(self, rows_at, n_samples, n_rows):
        """Refuse ``n_patterns='exact'`` before the patches are cut where :meth:`enumerate_gates`
        would refuse it: too many samples for all their second-layer patterns, or a spread
        sample of the ``n_rows`` patch rows (``rows_at(indices)``) with too many first-layer
        patterns (:func:`~.._patterns.check_sampled_bound`). The first, from 15 samples on,
        refuses whatever the first layer's patterns, and so before they are counted: its
        message does not give their number."""
        _check_exact_pairs(n_samples)
        check_sampled_bound(rows_at, n_rows)

    def enumerate_gates(self, patches):
        """Every first-layer pattern (:func:`~.._patterns.enumerate_gates`); sets
        ``outer_masks_`` to all ``2^n`` second-layer sign patterns: the program is then the
        training problem itself.

        Raises
        ------
        ValueError
            If ``2^n_samples`` times the number of first-layer patterns exceeds 20,000.
        """
        n_samples = patches.shape[0]
        _check_exact_pairs(n_samples)  # (before the first layer's enumeration)
        gates = enumerate_gates(patches)
        _check_exact_pairs(n_samples, gates.shape[1])
        self.outer_masks_ = all_sign_patterns(n_samples)
        return gates

    def program(self, patches, gates):
        """The :class:`ThreeLayerProgram` over the first-layer patterns of ``gates``: the
        pieces and cones of the two-layer program with average pooling, and ``outer_masks_``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        """
        _, pieces, cones = average_blocks(patches, gates, 1.0 / patches.shape[1])
        return ThreeLayerProgram(pieces, cones, self.outer_masks_, np.asarray(gates))

    def network(self, solutions, patches, gates):
        """The recovered network (doc/formulations.md §8.2), one group of branches per output.

        Each non-zero ``(s, l)`` is a branch: filters ``a/||a||`` with ``w1 = +||a||`` and
        ``b/||b||`` with ``w1 = -||b||``, then balanced by the branch cost
        ``c = sum ||a|| + ||b||``: ``w1 <- w1 / sqrt(c)``, ``w2 = s sqrt(c)``. Every non-zero
        group is kept: the solver residue is zeroed before (:func:`clean_three_layer`).

        Parameters
        ----------
        solutions : list of Solution
        patches, gates : ndarray
            The program's patches and gates (unused here: the groups say all).

        Returns
        -------
        network : ThreeLayerCNN
        """
        n_outputs = len(solutions)
        patch_size = solutions[0].coef.shape[-1]
        filters, middle, branches, outputs = [], [], [], []
        for output, solution in enumerate(solutions):
            coef = solution.coef
            norms = np.linalg.norm(coef, axis=-1)
            keep = norms > 0
            for sign in range(2):
                for outer in range(coef.shape[2]):
                    kept = keep[:, sign, outer]  # (2, n_patterns)
                    if not kept.any():
                        continue
                    cost = norms[:, sign, outer][kept].sum()
                    part, pattern = np.nonzero(kept)
                    groups = coef[part, sign, outer, pattern]
                    group_norms = norms[part, sign, outer, pattern]
                    filters.append(groups / group_norms[:, None])
                    middle.append(np.where(part == 0, 1.0, -1.0) * group_norms / np.sqrt(cost))
                    branches.append(np.full(len(part), len(outputs)))
                    column = np.zeros(n_outputs)
                    column[output] = np.sqrt(cost) if sign == 0 else -np.sqrt(cost)
                    outputs.append(column)
        if not outputs:
            return ThreeLayerCNN(
                np.zeros((0, patch_size)),
                np.zeros(0),
                np.zeros(0, int),
                np.zeros((0, n_outputs)),
                np.array([solution.intercept for solution in solutions]),
            )
        return ThreeLayerCNN(
            filters=np.concatenate(filters),
            middle_weights=np.concatenate(middle),
            branches=np.concatenate(branches),
            output_weights=np.array(outputs),
            intercept=np.array([solution.intercept for solution in solutions]),
        )
