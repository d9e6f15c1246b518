"""What both solvers of the three-layer program (doc/formulations.md §8.2) share: the rows of
its first-layer cones, which both add as cutting planes, and its certificate.

* :func:`nearest_rows`: the rows that each cone's cutting planes start from;
* :func:`violated_rows`: the rows a point violates, the most violated first;
* :func:`three_layer_prices`: the prices of the groups, given the multipliers of the second
  ReLU layer's constraints; :func:`three_layer_gap`: the duality gap they certify.

The CVXPY back-end (:func:`._cvxpy.solve_program`) and the native solver
(:mod:`._three_layer`) differ in how they solve the restricted programs.
"""

import numpy as np

from .._formulations._program import GroupProgram
from .._formulations._pruning import RESIDUE
from .._optimality import cone_prices, dual_point, most_violated, scaled_dual_objective

# Rows of each first-layer cone that the cutting planes start from (nearest to the gate), and
# the most violated rows added per cone and round.
START_ROWS = 40
ROWS_PER_ROUND = 20


def nearest_rows(program, count):
    """The ``count`` rows of each first-layer cone nearest to its gate (none without gates)."""
    n_patterns, n_rows, _ = program.cones.shape
    if program.gates is None:
        return [np.zeros(0, dtype=int) for _ in range(n_patterns)]
    margins = np.einsum("prh,hp->pr", program.cones, program.gates)
    norms = np.linalg.norm(program.cones, axis=2)
    margins = np.where(norms > 0, margins / np.where(norms > 0, norms, 1.0), np.inf)
    count = min(count, n_rows)
    nearest = np.argpartition(margins, count - 1, axis=1)[:, :count]
    return [np.sort(r[np.isfinite(margins[i, r])]) for i, r in enumerate(nearest)]


def violated_rows(program, coef, rows, row_norms, tol):
    """Per first-layer cone, the rows not in ``rows`` that some group (residue aside) violates
    beyond ``tol`` relative to the group's and the row's norms, the most violated
    ``ROWS_PER_ROUND``."""
    violated = []
    largest = np.linalg.norm(coef, axis=-1).max(initial=0.0)
    for i, cone in enumerate(program.cones):
        groups = coef[..., i, :].reshape(-1, coef.shape[-1])
        norms = np.linalg.norm(groups, axis=1)
        kept = norms > RESIDUE * largest
        groups, norms = groups[kept], norms[kept]
        if not len(groups):
            violated.append(np.zeros(0, dtype=int))
            continue
        slack = ((cone @ groups.T) / norms).min(axis=1)
        worst = slack / np.where(row_norms[i] > 0, row_norms[i], np.inf)  # (zero rows: 0 >= 0)
        worst[rows[i]] = 0.0
        violated.append(most_violated(worst, -tol, ROWS_PER_ROUND))
    return violated


def three_layer_gap(program, solution, multipliers, y, *, beta, loss, fit_intercept):
    """The duality gap of a point of the three-layer program, from its dual vector ``v`` and
    multipliers ``mu`` of the second layer's cone constraints.

    The dual of doc/formulations.md §8.2 is ``max -L*(-v)`` subject to
    ``||Proj_{C_i}(+-M_i^T (s D'_l v + (2 D'_l - I) mu_sl))|| <= beta`` for every branch
    ``(s, l)`` and first-layer pattern ``i`` (and ``sum(v) = 0`` with an intercept), for some
    ``mu >= 0``: the Lagrangian of the primal, term by term as for two layers. The constraints
    are homogeneous in ``(v, mu)`` together, so scaling both by ``beta`` over the largest
    price gives a dual feasible point for any ``mu >= 0``, and a lower bound on the optimum;
    the solver's multipliers make it tight.

    Parameters
    ----------
    program : ThreeLayerProgram
    solution : Solution
    multipliers : ndarray of shape (2 * n_outer_patterns, n_samples)
        ``mu_sl``, branches in the order ``(+, l)`` then ``(-, l)``.
    y : ndarray of shape (n_samples,)
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool

    Returns
    -------
    gap : float
    """
    f = program.fit_values(solution.coef) + solution.intercept
    v = dual_point(loss, f, y, fit_intercept)
    top = float(three_layer_prices(program, v, multipliers, beta=beta).max(initial=0.0))
    dual = scaled_dual_objective(loss, v, y, fit_intercept, beta=beta, top=top)
    return solution.objective - dual


def three_layer_prices(program, v, multipliers, *, beta=None):
    """The prices ``||Proj_{C_i}(+-M_i^T w_sl)||`` of every group of the three-layer program,
    ``w_sl = s D'_l v + (2 D'_l - I) mu_sl`` (:func:`three_layer_gap`).

    Parameters
    ----------
    program : ThreeLayerProgram
    v : ndarray of shape (n_samples,)
    multipliers : ndarray of shape (2 * n_outer_patterns, n_samples)
        ``mu_sl``, branches in the order ``(+, l)`` then ``(-, l)``.
    beta : float, default=None
        When given, prices at most ``beta`` are upper bounds, also at most ``beta``; those above
        it are exact where their cutting planes converged (within the 100 rounds of
        :func:`~.._optimality.cone_prices`), upper bounds otherwise.

    Returns
    -------
    prices : ndarray of shape (2, 2, n_outer_patterns, n_patterns)
        In the layout of the program's points: part (``a``: ``+M_i``, ``b``: ``-M_i``), output
        sign, second-layer pattern, first-layer pattern.
    """
    n_patterns, _, h = program.pieces.shape
    n_outer = program.outer_masks.shape[0]
    masks = np.vstack([program.outer_masks, program.outer_masks]).astype(float)
    signs = np.repeat([1.0, -1.0], n_outer)[:, None]
    branch_duals = signs * masks * v + (2 * masks - 1) * multipliers  # (branches, n)
    correlations = np.einsum("pnh,bn->bph", program.pieces, branch_duals)
    vectors = np.concatenate([correlations, -correlations]).reshape(-1, h)
    index = np.tile(np.arange(n_patterns), 2 * len(masks))
    first_layer = GroupProgram(program.pieces, program.cones)
    prices, _, _ = cone_prices(first_layer, index, vectors, beta=beta)
    return prices.reshape(2, 2, n_outer, n_patterns)
