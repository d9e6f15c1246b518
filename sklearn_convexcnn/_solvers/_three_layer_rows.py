"""What both solvers of the three-layer program (doc/formulations.md §8.2) share: the rows of
its first-layer cones, which both add as cutting planes, and its certificate.

* :func:`nearest_rows`: the rows that each cone's cutting planes start from;
* :func:`violated_rows`: the rows a point violates, the most violated first;
* :func:`three_layer_prices`: the prices of the groups, given the multipliers of the second
  ReLU layer's constraints; :func:`three_layer_gap`: the duality gap they certify;
  :func:`lowered_multipliers`: multipliers that lower a branch's prices.

The CVXPY back-end (:func:`._cvxpy.solve_program`) and the native solver
(:mod:`._three_layer`) differ in how they solve the restricted programs.
"""

import numpy as np
import scipy.optimize

from .._formulations._program import GroupProgram
from .._formulations._pruning import RESIDUE
from .._optimality import (
    cone_prices,
    cone_projections,
    dual_point,
    most_violated,
    scaled_dual_objective,
)

# Rows of each first-layer cone that the cutting planes start from (nearest to the gate), and
# the most violated rows added per cone and round.
START_ROWS = 40
ROWS_PER_ROUND = 20
# L-BFGS-B iterations per branch in lowered_multipliers: the branches that reached their target
# on the programs of _three_layer's docstring took 1 to 43.
_MULTIPLIER_ITERATIONS = 100


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


def _branch_duals(program, v, multipliers):
    """``w_sl = s D'_l v + (2 D'_l - I) mu_sl`` of every branch, shape (branches, n_samples)."""
    masks = np.vstack([program.outer_masks, program.outer_masks]).astype(float)
    signs = np.repeat([1.0, -1.0], program.outer_masks.shape[0])[:, None]
    return signs * masks * v + (2 * masks - 1) * multipliers


def three_layer_prices(program, v, multipliers, *, beta=None, branches=None, prices=None):
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
    branches : array of int, default=None
        Only these branches' prices (``s * n_outer_patterns + l``), the others taken from
        ``prices``.
    prices : ndarray of shape (2, 2, n_outer_patterns, n_patterns), default=None
        With ``branches``: the other branches' prices (not modified).

    Returns
    -------
    prices : ndarray of shape (2, 2, n_outer_patterns, n_patterns)
        In the layout of the program's points: part (``a``: ``+M_i``, ``b``: ``-M_i``), output
        sign, second-layer pattern, first-layer pattern.
    """
    n_patterns, _, h = program.pieces.shape
    n_outer = program.outer_masks.shape[0]
    if branches is None:
        branches = np.arange(2 * n_outer)
        prices = np.zeros((2, 2, n_outer, n_patterns))
    elif prices is None:
        raise ValueError("three_layer_prices(branches=...) needs the other branches' prices")
    branches = np.asarray(branches, dtype=int)
    duals = _branch_duals(program, v, multipliers)[branches]
    correlations = np.einsum("pnh,bn->bph", program.pieces, duals)
    vectors = np.concatenate([correlations, -correlations]).reshape(-1, h)
    index = np.tile(np.arange(n_patterns), 2 * len(branches))
    found = np.linalg.norm(vectors, axis=1)  # (at least the price: bounds the ones <= beta)
    projected = found > beta if beta is not None else np.ones(len(found), dtype=bool)
    first_layer = GroupProgram(program.pieces, program.cones)
    found[projected] = cone_prices(first_layer, index[projected], vectors[projected], beta=beta)[0]
    prices = np.array(prices, dtype=float)
    sign, outer = np.divmod(branches, n_outer)
    prices[:, sign, outer] = found.reshape(2, len(branches), n_patterns)
    return prices


def lowered_multipliers(program, v, multipliers, branches, *, target, limit):
    """Multipliers that lower the prices of the ``branches``' groups to ``target`` where they
    can, from ``multipliers`` (:func:`three_layer_prices`); the first branch whose prices stay
    above ``limit`` ends the search, as the certificate can then be no better than its.

    A branch's multipliers ``mu_sl >= 0`` minimize ``sum max(0, p - target)^2 / 2`` over the
    prices ``p = ||Proj_{C_i}(+-M_i^T w_sl)||`` of its groups, by L-BFGS-B. A price is the
    distance of ``+-M_i^T w_sl`` to the polar cone of ``C_i``: convex in ``mu_sl``, with
    gradient ``+-(2 D'_l - I) M_i Proj / p``. The sum is then convex and differentiable, and
    zero exactly where every price is at most ``target``. Any ``mu >= 0`` gives a valid bound
    (:func:`three_layer_gap`), so an inexact minimum costs tightness, not validity.

    Parameters
    ----------
    program : ThreeLayerProgram
    v : ndarray of shape (n_samples,)
    multipliers : ndarray of shape (2 * n_outer_patterns, n_samples)
        The start; not modified.
    branches : array of int
        The branches ``s * n_outer_patterns + l`` to lower, in order.
    target, limit : float

    Returns
    -------
    multipliers : ndarray of shape (2 * n_outer_patterns, n_samples)
        ``multipliers`` with the lowered branches' rows replaced.
    stopped_at : int or None
        The branch whose prices stayed above ``limit``, or ``None`` where every branch's are
        now at most ``limit``.
    """
    n_samples = program.pieces.shape[1]
    duals = _branch_duals(program, v, np.zeros_like(multipliers))
    lowered = np.array(multipliers, dtype=float)
    for branch in branches:
        outer_signs = 2.0 * program.outer_masks[branch % len(program.outer_masks)] - 1.0
        excess = _BranchExcess(program, duals[branch], outer_signs, target)
        top = excess.top(lowered[branch])
        start = excess(lowered[branch])[0]
        if start > 0:
            # at the start's scale: L-BFGS-B's tests are in part absolute, and the excesses
            # of a nearly optimal point (1e-7 of beta) stopped it at its first step
            excess.scale = 1.0 / start
            result = scipy.optimize.minimize(
                excess, lowered[branch], jac=True, method="L-BFGS-B",
                bounds=[(0.0, None)] * n_samples,
                options=dict(maxiter=_MULTIPLIER_ITERATIONS, ftol=0.0, gtol=0.0),
            )  # fmt: skip
            # (the sum of squared excesses can fall while the largest price rises)
            mu = np.maximum(result.x, 0.0)
            top_at_mu = excess.top(mu)
            if top_at_mu < top:
                lowered[branch], top = mu, top_at_mu
        if top > limit:
            return lowered, branch
    return lowered, None


class _BranchExcess:
    """``sum max(0, p - target)^2 / 2`` over a branch's prices, and its gradient, as a
    function of the branch's multipliers (:func:`lowered_multipliers`)."""

    def __init__(self, program, fixed, outer_signs, target):
        self.pieces = program.pieces
        self.first_layer = GroupProgram(program.pieces, program.cones)
        self.index = np.tile(np.arange(program.pieces.shape[0]), 2)
        self.fixed = fixed  # s D'_l v
        self.outer_signs = outer_signs  # the diagonal of 2 D'_l - I
        self.target = target
        self.scale = 1.0  # of the returned value and gradient
        # each evaluation's projections start from the last one's tight rows
        self.tight = [np.zeros(0, dtype=int) for _ in self.index]

    def _projections(self, mu):
        """The branch's vectors, projected where their norm exceeds ``target`` (upper bounds
        of the projections), and their norms."""
        correlations = np.einsum("pnh,n->ph", self.pieces, self.fixed + self.outer_signs * mu)
        U = np.concatenate([correlations, -correlations])
        prices = np.linalg.norm(U, axis=1)
        above = np.flatnonzero(prices > self.target)  # (the others' excess is zero)
        U[above], _, rows = cone_projections(
            self.first_layer, self.index[above], U[above], beta=self.target,
            rows=[self.tight[j] for j in above],
        )  # fmt: skip
        for j, r in zip(above, rows, strict=True):
            self.tight[j] = r
        prices[above] = np.linalg.norm(U[above], axis=1)
        return U, prices

    def top(self, mu):
        """The largest price at ``mu`` (an upper bound where at most ``target``)."""
        return float(self._projections(mu)[1].max(initial=0.0))

    def __call__(self, mu):
        U, prices = self._projections(mu)
        excess = np.maximum(prices - self.target, 0.0)
        weights = np.divide(excess, prices, out=np.zeros_like(excess), where=excess > 0)
        directions = (weights[:, None] * U).reshape(2, -1, U.shape[1])
        gradient = np.einsum("pnh,ph->n", self.pieces, directions[0] - directions[1])
        return self.scale * 0.5 * excess @ excess, self.scale * self.outer_signs * gradient
