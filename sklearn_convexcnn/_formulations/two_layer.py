"""Two-layer ReLU CNNs: global or local, average or max pooling, regional read-out, no pooling.

Every variant is an instance of Lemma B (doc/formulations.md §1) and only changes the pieces
``A_i`` and the cones ``C_i``; the convex regularizer stays the group ``l2`` norm. The
estimators' default, global average pooling with a summed read-out, is the program of §2:
``f(x) = sum_j w_j sum_k alpha_k (x_k . u_j)_+`` with ``alpha_k = 1/K``, whose piece on the
cell of pattern ``i`` is ``A_i = sum_k alpha_k D_i^k X_k``.

The ReLU map ``(X_k u)_+`` lives on the patch grid (``K`` positions). It is cut into pools
``S_1, ..., S_Q`` (``pool_size`` positions along each grid axis, non-overlapping; the last pool
along an axis is smaller when the grid does not divide evenly). Each pool is reduced by its mean
or its maximum, and the ``Q`` pooled values are read out in one of two ways:

``readout="sum"``
    The pooled values are summed and every neuron has one output weight ``w_j``, with weight
    decay ``(beta/2)(||u_j||^2 + w_j^2)``: §6.2 (local average pooling, a rescaling of the
    patches) and §6.1 (max pooling: pieces from the argmax of each pool, extra cone rows that
    say which patch wins). Global pooling is the case ``Q = 1``.

``readout="dense"``
    Every pool (region) has its own output weight, ``w_j`` in ``R^Q``, with the penalty
    ``(beta/2)(||u_j||^2 + ||w_j||_1^2)`` (§6.3, §5.3). By Lemma A a neuron then costs
    ``||u_j|| * sum_l |w_jl|``, which is the cost of ``Q`` neurons with the same filter, each
    reading out one region: the program decouples into one group-lasso block per region.
    No pooling (``pooling="none"``) is the case of one patch per region: a locally connected
    layer (§5.3).

The ``l1^2`` penalty of the dense read-out is not weight decay on the output layer: with
``||w_j||_2^2`` the neuron costs ``||u_j|| * ||w_j||_2``, which does not split over regions; that
is the vector-output problem of §5.2, for which no polynomial-size exact program is known
(Sahiner et al. show it is copositive). ``||w_j||_1^2`` is the penalty whose convex counterpart is
exactly the decoupled group lasso solved here, as in the authors' multi-class code.
"""

import functools
import math

import numpy as np

from .._network import RegionalCNN
from .._patches import IMAGES_FIX, invalid_entries
from .._patterns import (
    MAX_EXACT_PATTERNS,
    TooManyPatterns,
    arrangement_bound,
    arrangement_gates,
    check_sampled_bound,
    enumerate_gates,
    first_of_each,
    joint_signs,
    key_bytes,
    pattern_masks,
    random_gates,
)
from .._resources import check_memory, check_program_memory
from .._warnings import warn
from ._operator import DenseOperator, PatchOperator, StackedOperator
from ._program import GroupProgram, recover_neurons, summed_network

# --------------------------------------------------------------------------------------------
# Pools on the patch grid


def patch_pools(grid_shape, pool_size):
    """Indices of the patches in every pool, pools in row-major order over the grid.

    Parameters
    ----------
    grid_shape : tuple of int
        Patch positions along each spatial axis (``PatchGeometry.grid_shape``).
    pool_size : None, int or tuple of int
        Pool extent along each grid axis; ``None`` is one pool over the whole grid. Pools do not
        overlap; the last pool along an axis is smaller when the grid does not divide evenly,
        and a ``pool_size`` larger than the grid gives a single pool along that axis.

    Returns
    -------
    pools : list of ndarray of int
        Flat patch indices (the order of :func:`~.._patches.extract_patches`) of each pool.

    Raises
    ------
    ValueError
        If ``pool_size`` has an entry that is not a positive integer, or a number of entries
        other than the number of grid axes.
    """
    grid = np.arange(int(np.prod(grid_shape))).reshape(grid_shape)
    if pool_size is None:
        return [grid.ravel()]
    if invalid := invalid_entries(pool_size):
        raise ValueError(
            f"pool_size={pool_size!r} is not valid: {invalid[0]!r} is not a positive integer; "
            f"pass None, a positive int or a tuple of {len(grid_shape)} positive int(s)."
        )
    size = tuple(pool_size) if np.iterable(pool_size) else (pool_size,) * len(grid_shape)
    if len(size) != len(grid_shape):
        raise ValueError(
            f"pool_size={pool_size!r} does not match the patch grid of shape {tuple(grid_shape)}"
            # (not "with input_shape=None": the grid is 1-D with input_shape=(L,) as well)
            + (
                f" (each row of X is a 1-D signal: {IMAGES_FIX})"
                if len(size) > len(grid_shape) == 1
                else ""
            )
            + f": pass a positive int or a tuple of {len(grid_shape)} positive int(s)."
        )
    # (a size past the grid is the grid's: one pool, and no overflow of 2**70 in NumPy; int:
    # a NumPy unsigned size does not index)
    size = tuple(min(int(s), n) for s, n in zip(size, grid_shape, strict=True))
    starts = [range(0, n, s) for n, s in zip(grid_shape, size, strict=True)]
    pools = []
    for corner in np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(size)):
        block = tuple(slice(c, c + s) for c, s in zip(corner, size, strict=True))
        pools.append(grid[block].ravel())
    return pools


class PatchPooling:
    """Mean or maximum of the ReLU map over each pool.

    Parameters
    ----------
    pools : list of ndarray of int
        Patch indices of every pool (:func:`patch_pools`).
    mode : {"average", "max"}
    """

    def __init__(self, pools, mode):
        self.pools = [np.asarray(pool, dtype=int) for pool in pools]
        self.mode = mode

    @property
    def n_regions(self):
        return len(self.pools)

    def _reduce(self, activations):
        return (np.mean if self.mode == "average" else np.max)(activations, axis=1)

    def regions(self, activations):
        """Map activations of shape (n, K, m) to pooled regions of shape (n, Q, m)."""
        return np.stack([self._reduce(activations[:, pool]) for pool in self.pools], axis=1)

    def pool(self, activations):
        """Sum of the pooled regions, shape (n, m): the ``readout="sum"`` network."""
        if len(self.pools) == 1:  # one pool over every patch: the ReLU map is not copied
            return self._reduce(activations)
        return self.regions(activations).sum(axis=1)


# --------------------------------------------------------------------------------------------
# Pieces and cones of one pool


def average_blocks(patches, gates, weight):
    """Pattern keys, pieces and cones of ``weight * sum_k D^k X_k`` over the given patches.

    ``patches`` holds the pool's patches, shape (n, S, h). The pattern is the joint sign of all
    of them (doc/formulations.md §3). Returns ``keys`` (n * S, n_gates) bool, ``pieces``
    (n_gates, n, h) and ``cones`` (n_gates, n * S, h).
    """
    masks = pattern_masks(patches, gates)  # (n, S, F)
    pieces = weight * np.einsum("nkh,nkf->fnh", patches, masks)
    signs = np.where(masks, 1.0, -1.0)
    cones = np.einsum("nkf,nkh->fnkh", signs, patches)
    n_gates = gates.shape[1]
    return masks.reshape(-1, n_gates), pieces, cones.reshape(n_gates, -1, patches.shape[2])


def _max_blocks(patches, gates, cones=None):
    """Pattern keys, pieces and cones of ``max_k (X_k u)_+`` over the given patches (§6.1);
    the cones written into ``cones`` where given (a view of shape (n_gates, n * S, h): a
    slice of the program's, which then holds no block of its own).

    Where sample ``t``'s maximum is non-negative and attained at patch ``a_t``, the pool is
    ``x_{t,a_t} . u``: the cone rows are ``x_{t,a_t} - x_{t,k}`` for ``k != a_t`` (the winner
    stays the winner) and ``x_{t,a_t}`` in the winner's own slot (it stays non-negative).
    Where the maximum is negative the pool is 0 whichever patch wins, and the rows are
    ``-x_{t,k}`` for every ``k``: one cone for all the winners, the union of theirs, so gates
    that differ only in the winners of negative pools are one pattern (:func:`_max_keys`).
    """
    n_samples, n_patches, patch_size = patches.shape
    winner, positive = _winners(patches @ gates)
    chosen = patches[np.arange(n_samples)[:, None], winner].transpose(1, 0, 2)  # (F, n, h)
    pieces = np.where(positive.T[:, :, None], chosen, 0.0)
    # the rows built in place, in the program's layout (F, n, S, h): a new array at each step
    # would hold 2.2 times the program's arrays at once
    shape = (gates.shape[1], n_samples, n_patches, patch_size)
    if cones is None:
        cones = np.empty((shape[0], n_samples * n_patches, patch_size))
    # (a view, never a copy: splitting an axis needs none, whatever the strides of the slice
    # of the program's cones that ``cones`` may be; NumPy 2.5 deprecates setting ``shape``)
    rows = cones.reshape(shape)
    np.subtract(chosen[:, :, None], patches, out=rows)
    own = np.arange(n_patches) == winner.T[:, :, None]  # (F, n, S)
    np.copyto(rows, chosen[:, :, None], where=own[..., None])
    np.copyto(rows, -patches, where=~positive.T[:, :, None, None])
    return _max_keys(winner, positive, n_patches), pieces, cones


def _winners(values):
    """Winning patch ``(n, F)`` of pool values ``(n, S, F)``, and whether its value is
    non-negative ``(n, F)``."""
    winner = values.argmax(axis=1)
    positive = np.take_along_axis(values, winner[:, None], axis=1)[:, 0] >= 0
    return winner, positive


def _max_keys(winner, positive, n_patches):
    """The pattern of each (sample, gate) of a max pool: ``1 + a_t`` where the maximum is
    non-negative, 0 where it is negative (any winner: the pool is 0)."""
    # (in the smallest type that every pool of this size fits: 8 bytes an entry in the keys
    # otherwise, and the type of keys compared across calls must not vary)
    keys = np.where(positive, winner + 1, 0)
    return keys.astype(np.min_scalar_type(n_patches))


def _blocks(mode, patches, gates, cones=None):
    """:func:`_max_blocks` or :func:`average_blocks`, the cones written into ``cones`` where
    given (in place for max pooling)."""
    if mode == "max":
        return _max_blocks(patches, gates, cones)
    keys, pieces, block = average_blocks(patches, gates, 1.0 / patches.shape[1])
    if cones is None:
        return keys, pieces, block
    cones[...] = block
    return keys, pieces, cones


def _pattern_keys(mode, patches, gates):
    """The keys of :func:`_blocks` alone, without its pieces and cones (which are ``P n S h``
    numbers: what de-duplicating the gates does not need)."""
    if mode == "max":
        return _max_keys(*_winners(patches @ gates), patches.shape[1])
    return joint_signs(patches, gates)


def _joint_keys(mode, pools, patches, gates):
    """:func:`_pattern_keys` of every pool, stacked: one column per gate."""
    return np.concatenate(
        [_pattern_keys(mode, patches[:, pool], gates).reshape(-1, gates.shape[1]) for pool in pools]
    )


# --------------------------------------------------------------------------------------------
# Exact enumeration (small filters)


def _smaller_arrangement(mode):
    """What a refused enumeration suggests besides fewer samples: max pooling's arrangement
    also holds the differences of each pool's patches (on 12 signals of 8 with filters of 3,
    a Cover bound of 63,254 where average pooling's has 5,114 patterns)."""
    if mode == "max":
        return (
            "a smaller kernel_size; or smaller pools (pool_size) or pooling='average': max "
            "pooling's arrangement also holds the differences of each pool's patches"
        )
    return "a smaller kernel_size"


def _exact_gates(patches, pools, mode, max_patterns):
    """One gate in every cell of the arrangement whose cells refine the patterns.

    Average pooling: the hyperplanes of the patch rows (doc/formulations.md §3). Max pooling: those
    and the ``x_{t,k} - x_{t,k'}`` of every pair of patches in the same pool, where the winner of
    the pool changes (§6.1). Cells are enumerated by :func:`~.._patterns.arrangement_gates`.
    """
    rows = _arrangement_rows(patches, pools, mode)
    return arrangement_gates(rows, max_patterns, shorter=_smaller_arrangement(mode))


def _regional_exact_gates(patches, pools, mode, max_patterns):
    """One gate in every cell of each region's own arrangement (:func:`_exact_gates` of its
    patches and pool), or of the arrangement of all the patch rows where its Cover bound is
    the smaller; refused where the smaller is above ``max_patterns``.

    A region's patterns depend on its patches alone (§6.3), so its arrangement has ``n * K_l``
    patch rows, not all ``n * K``: 8 images of 4x4 with 2x2 filters and no pooling have a
    Cover bound of 128 a patch, 1,152 in all, where the arrangement of every patch row has
    119,424. Both refine every region's patterns; where the regions share their hyperplanes
    (binary images: at most 15 distinct 2x2 patches, in every region), the regions' bounds
    count a hyperplane once a region and the whole arrangement's once: the whole's is then
    the smaller.
    """
    whole = _whole_bound(patches, pools, mode, max_patterns)
    rows, bounds, total = [], [], 0
    for pool in pools:  # (summed only until they pass the whole's or the limit)
        rows.append(_arrangement_rows(patches[:, pool], [np.arange(len(pool))], mode))
        bounds.append(arrangement_bound(rows[-1]))
        total += bounds[-1]
        if total > whole:
            return _exact_gates(patches, pools, mode, max_patterns)
        if total > max_patterns:
            break
    _check_regions_bound(bounds, len(pools), max_patterns, pooled=_pooled(pools))
    shorter = _smaller_arrangement(mode)
    gates = [arrangement_gates(region, max_patterns, shorter=shorter) for region in rows]
    return np.concatenate(gates, axis=1)


def _whole_bound(patches, pools, mode, max_patterns):
    """The Cover bound of all of :func:`_arrangement_rows`; ``inf`` where a sample of their
    patch rows already has a bound above ``max_patterns`` (or rows nearly parallel: refused).

    A subset's bound is at most the whole's (but where the sample leaves out a row so large
    that others count as zero beside it, :data:`~.._patterns._ZERO_ROW`): spread samples of
    the patch rows, four times larger each time, refuse without a pass over every row where
    one's bound is above the limit (200 signals of 2,000 values: 1.2 s for the bound of all
    399,600 patch rows, 8 ms for 3,000 of them). Only where none is (few distinct rows) are
    all the rows counted, as soon as a sample's bound is that of the one before (20,000
    binary images of 16 x 16: the samples of up to 4,194,304 of the 4,500,000 rows of 2 x 2
    took 10 s, the whole's 8 s).
    """
    flat = patches.reshape(-1, patches.shape[2])
    try:
        size, last = 1024, None
        while size < len(flat):
            spread = np.linspace(0, len(flat) - 1, size).astype(int)
            bound = arrangement_bound(flat[spread])
            if bound > max_patterns:
                return math.inf
            if bound == last:  # (no new hyperplane in four times the rows: few distinct rows)
                break
            size, last = 4 * size, bound
        bound = arrangement_bound(_arrangement_rows(patches, pools, mode))
    except TooManyPatterns:  # (rows of two regions nearly parallel: the regions may do)
        return math.inf
    return bound


def _check_regions_bound(bounds, n_regions, max_patterns, among="", pooled=True):
    """TooManyPatterns as soon as the regions' Cover ``bounds`` (an iterable, one a region)
    sum above ``max_patterns``; ``among`` says where a sample of rows gave them. ``pooled``:
    whether a region holds several patches, so that a smaller ``pool_size`` can help (not
    with ``pooling="none"``, which ignores it)."""
    total = 0
    for counted, bound in enumerate(bounds, start=1):
        total += bound
        if total > max_patterns:
            raise TooManyPatterns(
                f"n_patterns='exact' would enumerate up to {total} activation patterns or "
                f"more (the Cover bounds of {counted} of the {n_regions} regions' "
                f"arrangements, summed{among}), more than the limit of {max_patterns}. Pass an "
                "int n_patterns=<int> (e.g. n_patterns=256) to sample the patterns instead, or "
                + (
                    "use fewer samples, shorter patches (a smaller kernel_size) or smaller "
                    "regions (a smaller pool_size)."
                    if pooled
                    else "use fewer samples or shorter patches (a smaller kernel_size)."
                )
            )


def _pooled(pools):
    """Whether a pool holds several patches: where none does (``pooling="none"``, which
    ignores ``pool_size``, or ``pool_size=1``), no smaller ``pool_size`` is left to advise."""
    return max(map(len, pools)) > 1


def _arrangement_rows(patches, pools, mode):
    """The normals of :func:`_exact_gates`' arrangement: the patch rows, and for max pooling
    the in-pool differences."""
    h = patches.shape[2]
    normals = [patches.reshape(-1, h)]
    if mode == "max":
        n_pairs = sum(len(pool) * (len(pool) - 1) // 2 for pool in pools)
        check_memory(
            8 * patches.shape[0] * n_pairs * h,
            f"The enumeration of max pooling's patterns ({patches.shape[0]} samples x "
            f"{n_pairs} pairs of patches in a pool, of size {h})",
            "Sample the patterns (an int n_patterns) or pool over smaller regions (pool_size).",
        )
        for pool in pools:
            block = patches[:, pool]
            first, second = np.triu_indices(len(pool), k=1)
            normals.append((block[:, first] - block[:, second]).reshape(-1, h))
    return np.concatenate(normals)


# --------------------------------------------------------------------------------------------
# Formulations


class _PooledFormulation:
    """What the formulations of pooled ReLU maps share: the pools, their reduction, and gates
    sampled as random filters of which :meth:`_unique` keeps those with new patterns.

    Parameters
    ----------
    pools : list of ndarray of int
        Patch indices of every pool (:func:`patch_pools`).
    mode : {"average", "max"}
    """

    is_exact = True  # (the program's optimum is the network's: doc/formulations.md §2, §6)
    # one group per pattern and sign (what the memory estimates count); a read-out per
    # region has one per pattern and region (:attr:`RegionalFormulation.region_sizes`)
    region_sizes = None
    # solutions pruned to at most n + 1 neurons (doc/formulations.md §2.4)
    prunable = True
    # the estimators' certify applies: a dual bound over every pattern (§2.3)
    certifiable = True
    # whether the program's groups are built from the training samples, so that they mean
    # something else on other data (a warm start's key then holds the data)
    groups_from_samples = False

    def __init__(self, pools, mode):
        self.pooling = PatchPooling(pools, mode)
        self.pools = self.pooling.pools
        self.mode = mode

    def sample_gates(self, patches, n_patterns, random_state):
        """Gates of ``n_patterns`` random Gaussian filters, those that ``_unique`` keeps.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        n_patterns : int
        random_state : numpy.random.Generator or RandomState

        Returns
        -------
        gates : ndarray of shape (patch_size, n_kept)
        """
        return self._unique(patches, random_gates(patches.shape[2], n_patterns, random_state))

    def check_enumeration(self, rows_at, n_samples, n_rows):
        """Refuse ``n_patterns='exact'`` before the patches are cut, where a spread sample of
        their ``n_rows`` stacked rows (``rows_at(indices)``) is refused
        (:func:`~.._patterns.check_sampled_bound`): the arrangement of :meth:`enumerate_gates`
        holds these rows (and, for max pooling, their in-pool differences, which the sample
        leaves out: its refusal counts the patch rows, the enumeration's the differences too,
        and it comes before the differences' memory is checked)."""
        check_sampled_bound(rows_at, n_rows)

    def finishing(self, patches, gates, *, prune):
        """How each output's solution is finished after its solve: the fields of
        :class:`~.._outputs.Finishing`. A certified duality gap, and the solver's residue
        dropped; with ``prune`` also pruned to at most ``n + 1`` groups, where the pruned
        network attains its objective (doc/formulations.md §2.4)."""
        residue = "prune" if prune else "clean"
        return {
            "formulation": self, "patches": patches, "gates": gates, "certify": True,
            "residue": residue,
        }  # fmt: skip

    def check_program_memory(self, patches_shape, n_patterns, *, solver, exact, at_once):
        """MemoryError, naming the fix, where the program over ``n_patterns`` patterns of
        patches of shape ``patches_shape`` would not fit in memory
        (:func:`~.._resources.check_program_memory`): held as the native solver's operator
        where it solves first (``solver`` "auto" or "native"), else as CVXPY's dense program.
        ``exact``: the patterns are an enumeration's; ``at_once``: the outputs' programs held
        at the same time."""
        if solver in ("auto", "native"):
            kind = "operator" if self.matrix_free else "dense_operator"
        else:
            kind = "dense"
        check_program_memory(
            *patches_shape, n_patterns, kind=kind, solver=solver, exact=exact, at_once=at_once,
            regions=self.region_sizes,
        )  # fmt: skip

    def neuron_gates(self, solutions, patches, gates):
        """The gate of every neuron of :meth:`network`, in its order: a column of ``gates``.

        A neuron lies in its gate's cell, often on the cell's boundary (tight cone rows,
        products of order 1e-16), where its own pattern is at the mercy of rounding; the gate
        is an interior point, whose pattern is the neuron's group's (but for a region's
        group whose gate came from another region's enumeration and lies on one of this
        region's hyperplanes, on structured data: a valid pattern, of a lower-dimensional
        cone). The certificates re-solve over these.

        Returns
        -------
        index : ndarray of int, shape (n_neurons,)
        """
        groups = np.concatenate([recover_neurons(solution.coef)[2] for solution in solutions])
        return self._group_gates(patches, gates)[groups]


class PooledSumFormulation(_PooledFormulation):
    """Average or max pooling, global or local, pooled values summed, one output weight per
    neuron (doc/formulations.md §2, §6.1, §6.2).

    ``f(x) = sum_j w_j sum_l pool_{k in S_l} (x_k . u_j)_+`` with weight decay
    ``(beta/2) sum_j (||u_j||^2 + w_j^2)``.

    * Average: ``sum_l mean_{k in S_l}`` is ``sum_k alpha_k`` with ``alpha_k = 1/|S_k's pool|``
      (``1/K`` for one global pool, the estimators' default), the program of §2 on rescaled
      patches; the patterns are those of §2, the joint signs of every patch, whatever the pools.
    * Max: on the cone where every (sample, pool) has a fixed winning patch with a
      non-negative value, or a negative maximum, the neuron is linear; the pattern of a gate
      is the tuple of its pools' keys (:func:`_max_keys`).

    Parameters
    ----------
    pools : list of ndarray of int
        Patch indices of every pool (:func:`patch_pools`).
    mode : {"average", "max"}
    """

    def _unique(self, patches, gates):
        return gates[:, first_of_each(key_bytes(self.pattern_keys, patches, gates))]

    def _group_gates(self, patches, gates):
        return np.arange(gates.shape[1])  # (a group per gate)

    def pattern_keys(self, patches, gates):
        """The patterns of ``gates``, one column each, equal iff the patterns are: the signs
        of every patch (average), the winners of the non-negative pools (max)."""
        if self.mode == "average":
            return joint_signs(patches, gates)
        return _joint_keys(self.mode, self.pools, patches, gates)

    def enumerate_gates(self, patches, max_patterns=MAX_EXACT_PATTERNS):
        """Gates of every pattern (exact enumeration).

        With average pooling those of :func:`~.._patterns.enumerate_gates`. With max pooling
        the cells are those of the larger arrangement that includes the differences of the
        patches of each pool, so there are more of them; they are merged where they agree on
        every pool's winner, or the pool is negative (:func:`_max_keys`).

        Raises
        ------
        ValueError
            If the Cover bound of the arrangement exceeds ``max_patterns``.
        """
        if self.mode == "average":
            return enumerate_gates(patches, max_patterns)
        gates = _exact_gates(patches, self.pools, self.mode, max_patterns)
        return self._unique(patches, gates)

    def program(self, patches, gates):
        """The :class:`GroupProgram` over the patterns of ``gates``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        """
        # each pool's cone rows written into the program's, not concatenated: the pools'
        # blocks and the program would be held at once, twice its largest array
        starts = len(patches) * np.cumsum([0] + [len(pool) for pool in self.pools])
        cones = np.empty((gates.shape[1], starts[-1], patches.shape[2]))
        pieces = 0.0
        for pool, start, stop in zip(self.pools, starts[:-1], starts[1:], strict=True):
            _, piece, _ = _blocks(self.mode, patches[:, pool], gates, cones[:, start:stop])
            pieces = pieces + piece
        return GroupProgram(pieces, cones)

    @property
    def matrix_free(self):
        """Whether :meth:`operator` avoids the dense program (average pooling)."""
        return self.mode != "max"

    def operator(self, patches, gates, with_candidates=True):
        """The same program as :meth:`program` for the native solver: matrix-free for average
        pooling (patterns recomputed from the gates, memory growing with ``n * K * h``, not
        ``n * K * P * h``), else dense.

        Average pooling is ``sum_k alpha_k (X_k u)_+``, the program of
        :class:`~._operator.PatchOperator` with the pooling weights ``alpha_k``.

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        with_candidates : bool, default=True
            Whether the operator finds the candidate rows that the solvers start from
            (:class:`~._operator.PatchOperator`); ``False`` for correlations alone.

        Returns
        -------
        operator : PatchOperator or DenseOperator
        """
        if not self.matrix_free:
            return DenseOperator(self.program(patches, gates))
        weights = np.zeros(patches.shape[1])
        for pool in self.pools:
            weights[pool] += 1.0 / len(pool)
        return PatchOperator(patches, gates, weights, with_candidates=with_candidates)

    def network(self, solutions, patches, gates):
        """The recovered :class:`TwoLayerCNN` (one group of neurons per output).

        Parameters
        ----------
        solutions : list of Solution
        patches, gates : ndarray
            The program's patches and gates (unused here: the groups say all).
        """
        return summed_network(solutions, self.pooling)


class RegionalFormulation(_PooledFormulation):
    """Pooling into regions, every region read out with its own weight (§6.3, §5.3).

    ``f(x) = sum_j sum_l w_jl pool_{k in S_l} (x_k . u_j)_+`` with
    ``(beta/2) sum_j (||u_j||^2 + ||w_j||_1^2)``, which decouples into one group-lasso block per
    region: groups ``(l, i)`` with the pieces and cones of pool ``l`` alone under pattern ``i``
    (average: joint signs of the region's patches; max: :func:`_max_keys`). A group
    becomes a neuron whose output weight is non-zero in its own region only.

    Gates are shared by all regions: each region keeps the first gate of each of its distinct
    patterns, so a program over ``P`` gates has at most ``Q * P`` groups per sign.

    Parameters
    ----------
    pools : list of ndarray of int
    mode : {"average", "max"}
    """

    groups_from_samples = True  # (one group per pattern that occurs in a region)

    @property
    def region_sizes(self):
        """The number of patches of each region: the program has a group per pattern and
        region (what the memory estimates count)."""
        return [len(pool) for pool in self.pools]

    def _region_keys(self, patches, gates):
        """Each region's keys of ``gates`` (:func:`~.._patterns.key_bytes`)."""
        keys = functools.partial(_pattern_keys, self.mode)
        for pool in self.pools:
            yield key_bytes(keys, patches[:, pool], gates)

    def pattern_keys(self, patches, gates):
        """The joint patterns of ``gates`` over all regions, one column each (a gate's groups
        are those of its pattern in each region)."""
        return _joint_keys(self.mode, self.pools, patches, gates)

    def _unique(self, patches, gates):
        keep = np.zeros(gates.shape[1], dtype=bool)
        for keys in self._region_keys(patches, gates):
            keep[first_of_each(keys)] = True
        return gates[:, keep]

    def enumerate_gates(self, patches, max_patterns=MAX_EXACT_PATTERNS):
        """Gates of every pattern of every region (exact enumeration).

        The cells of each region's arrangement (its patch rows and, for max pooling, their
        differences) are its patterns; the gates of all regions are pooled, each region
        keeping the first gate of each of its patterns.

        Where the arrangement of all the patch rows has the smaller Cover bound (regions
        that share their hyperplanes), its cells are enumerated instead: they refine every
        region's.

        Raises
        ------
        ValueError
            If the smaller of the two bounds (the regions' summed, all the rows') is above
            ``max_patterns``.
        """
        gates = _regional_exact_gates(patches, self.pools, self.mode, max_patterns)
        return self._unique(patches, gates)

    def check_enumeration(self, rows_at, n_samples, n_rows):
        """Refuse ``n_patterns='exact'`` before the patches are cut, where both arrangements
        that :meth:`enumerate_gates` may enumerate are refused: all the rows' (a spread
        sample of them, :func:`~.._patterns.check_sampled_bound`, which passes where there
        are few), and the regions' (``rows_at(indices)``; a spread sample of a region's
        where it has more), whose bounds are summed region by region, so that only the rows
        of the regions counted so far are cut. The in-pool differences of max pooling are
        left out, as the base class leaves them."""
        try:
            check_sampled_bound(rows_at, n_rows)
            return
        except TooManyPatterns:
            pass
        n_patches = n_rows // n_samples
        sample = 2 * MAX_EXACT_PATTERNS + 1

        def bounds():
            for pool in self.pools:
                rows = (np.arange(n_samples)[:, None] * n_patches + pool).ravel()
                if rows.size > sample:
                    rows = rows[np.linspace(0, rows.size - 1, sample).astype(int)]
                yield arrangement_bound(rows_at(rows))

        _check_regions_bound(
            bounds(),
            len(self.pools),
            MAX_EXACT_PATTERNS,
            ", of their patch rows",
            pooled=_pooled(self.pools),
        )

    def _group_gates(self, patches, gates):
        return self.groups(patches, gates)[1]

    def groups(self, patches, gates):
        """Region and gate of every group of the program, in program order.

        Returns
        -------
        regions, gate_index : ndarray of int, shape (n_groups,)
        """
        regions, index = [], []
        for region, keys in enumerate(self._region_keys(patches, gates)):
            first = first_of_each(keys)
            regions.append(np.full(len(first), region))
            index.append(first)
        return np.concatenate(regions), np.concatenate(index)

    def program(self, patches, gates, groups=None):
        """The :class:`GroupProgram`: all regions' groups side by side.

        Regions with fewer patches than the largest pad their cones with zero rows (``0 >= 0``).

        Parameters
        ----------
        patches : ndarray of shape (n_samples, n_patches, patch_size)
        gates : ndarray of shape (patch_size, n_patterns)
        groups : tuple of two ndarray of int, default=None
            The program's groups as ``(regions, gate_index)``, sorted by region: every
            region's distinct patterns (:meth:`groups`) by default. The certificates re-solve
            over the neurons' own groups, one region each.
        """
        regions, index = self.groups(patches, gates) if groups is None else groups
        n_samples, _, patch_size = patches.shape
        n_rows = n_samples * max(len(pool) for pool in self.pools)
        # each region's groups written into the program's arrays, not concatenated: the
        # regions' blocks and the program would be held at once, 2.2 times its arrays
        pieces = np.empty((len(index), n_samples, patch_size))
        cones = np.zeros((len(index), n_rows, patch_size))
        start = 0
        for region, pool in enumerate(self.pools):
            mine = index[regions == region]
            if len(mine) == 0:  # (given groups may leave a region out)
                continue
            stop = start + len(mine)
            block = cones[start:stop, : n_samples * len(pool)]
            _, piece, _ = _blocks(self.mode, patches[:, pool], gates[:, mine], block)
            pieces[start:stop] = piece
            start = stop
        return GroupProgram(pieces, cones)

    @property
    def matrix_free(self):
        """Whether :meth:`operator` avoids the dense program (average pooling, no pooling)."""
        return self.mode != "max"

    def operator(self, patches, gates, with_candidates=True, groups=None):
        """The program for the native solver: matrix-free for average pooling, else dense.

        Region ``l``'s block is the program of ``sum_{k in S_l} (X_k u)_+ / |S_l|`` over the
        gates of its groups, a :class:`~._operator.PatchOperator` on the region's patches;
        the blocks stand side by side in the order of :meth:`program`, whose ``groups`` this
        takes too.
        """
        if not self.matrix_free:
            return DenseOperator(self.program(patches, gates, groups))
        regions, index = self.groups(patches, gates) if groups is None else groups
        return StackedOperator(
            [
                PatchOperator(
                    patches[:, pool],
                    gates[:, index[regions == region]],
                    np.full(len(pool), 1.0 / len(pool)),
                    with_candidates=with_candidates,
                )
                for region, pool in enumerate(self.pools)
            ]
        )

    def network(self, solutions, patches, gates):
        """The recovered :class:`RegionalCNN` (one group of neurons per output).

        Parameters
        ----------
        solutions : list of Solution
        patches, gates : ndarray
            The program's patches and gates: each group's region (:meth:`groups`).
        """
        n_outputs, n_regions = len(solutions), self.pooling.n_regions
        recovered = [recover_neurons(solution.coef) for solution in solutions]
        n_neurons = sum(len(output_weights) for _, output_weights, _ in recovered)
        # every neuron has a weight per region and output, zero but for its own output's: the
        # array grows with the square of the outputs (2.6 GiB at 200 outputs)
        check_memory(
            8 * n_neurons * n_regions * n_outputs,
            f"The output weights of {n_neurons} neurons x {n_regions} regions x {n_outputs} "
            "outputs",
            "Fit the outputs in groups (an estimator for each), a larger beta (fewer neurons) "
            + (
                "or readout='sum'."
                if _pooled(self.pools)
                # (pooling='none' reads out every patch whatever the read-out)
                else "or pooling='average' or 'max' with readout='sum'."
            ),
        )
        group_regions, _ = self.groups(patches, gates)
        filters, weights = [], []
        for output, (output_filters, output_weights, patterns) in enumerate(recovered):
            block = np.zeros((len(output_weights), n_regions, n_outputs))
            block[np.arange(len(patterns)), group_regions[patterns], output] = output_weights
            filters.append(output_filters)
            weights.append(block)
        return RegionalCNN(
            filters=np.concatenate(filters),
            output_weights=np.concatenate(weights),
            intercept=np.array([solution.intercept for solution in solutions]),
            pooling=self.pooling,
        )


POOLINGS = ("average", "max", "none")
READOUTS = ("sum", "dense")


def warn_pool_size_ignored(pool_size):
    """Warn that ``pool_size``, unless ``None``, does not apply to ``pooling="none"``."""
    if pool_size is not None:
        warn(
            f"pool_size={pool_size!r} does not apply to pooling='none', which reads out "
            "every patch with its own weight; it is ignored. Leave pool_size=None, or "
            "pool with pooling='average' or 'max'.",
            UserWarning,
        )


def make_formulation(pooling, pool_size, readout, grid_shape):
    """The formulation of ``pooling`` in :data:`POOLINGS` with the given read-out.

    ``pooling="none"`` reads out every patch with its own weight (``readout`` does not apply,
    ``pool_size`` is ignored with a warning); otherwise the ReLU map is cut into pools of
    ``pool_size`` on the patch grid ``grid_shape`` (``None``: one global pool) and read out by
    ``readout`` in :data:`READOUTS`.
    """
    if pooling == "none":
        warn_pool_size_ignored(pool_size)
        n_patches = int(np.prod(grid_shape))
        return RegionalFormulation([np.array([k]) for k in range(n_patches)], "average")
    pools = patch_pools(grid_shape, pool_size)
    if readout == "dense":
        return RegionalFormulation(pools, pooling)
    return PooledSumFormulation(pools, pooling)
