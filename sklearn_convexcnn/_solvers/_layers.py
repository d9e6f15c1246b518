"""CVXPY back-ends of the programs that are not a :class:`GroupProgram`.

* :func:`_solve_three_layer_with`: the three-layer program (doc/formulations.md §8.2), whose
  second-layer cone constraints couple the groups of a branch, by cutting planes over the
  first-layer cone rows and certified by :func:`three_layer_gap`;
* :func:`_solve_nuclear_with`: the linear CNN without pooling, a nuclear-norm program (§5.1)
  that needs a solver with PSD cones (Clarabel or SCS).

Both are vectorised (a few matrix expressions, no Python loop over groups) and solve at unit
scale like :func:`~._cvxpy.solve_with`. :func:`solve_program` routes any program to its solver
through :func:`~._cvxpy.solve_cvxpy`, so all share its fallback and failure semantics.
"""

import dataclasses

import numpy as np

from .._formulations._program import GroupProgram
from .._formulations.linear import NuclearProgram
from .._formulations.three_layer import ThreeLayerProgram
from .._optimality import cone_prices, dual_point, most_violated, scaled_dual_objective
from ._cvxpy import _loss_expression, _run, _solution, _unit_cones, _unit_scales, solve_cvxpy


def solve_program(program, y, *, solver, **options):
    """Solve any program of the formulations with the CVXPY back-end for its shape."""
    if isinstance(program, NuclearProgram):
        options.update(solve_one=_solve_nuclear_with, psd=True)
    elif isinstance(program, ThreeLayerProgram):
        options.update(solve_one=_solve_three_layer_with)
    return solve_cvxpy(program, y, solver=solver, **options)


# Rows of each first-layer cone that the cutting planes start from (nearest to the gate), and
# the most violated rows added per cone and round.
_START_ROWS = 40
_ROWS_PER_ROUND = 20
_MAX_ROUNDS = 30
# Groups below this times the largest norm are interior-point residue, which the recovered
# network drops too (ThreeLayerFormulation.network): their rows are not checked.
_RESIDUE = 1e-6


def _solve_three_layer_with(
    name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0
):
    """The three-layer program of doc/formulations.md §8.2 with the CVXPY solver ``name``, by
    cutting planes over the first-layer cone rows.

    Every group of every branch has the ``n K`` rows of its first-layer cone: 35 million rows
    for 300 samples of 28 patches, 32 first-layer and 33 second-layer patterns, a fit of
    552 s. Few of them are tight, so the program is solved over a subset of each cone's rows
    (the nearest to its gate first), and the rows its solution violates are added until it
    violates none. The last solution is then feasible for the whole program and optimal for a
    relaxation of it, hence optimal for it.
    """
    rows = _nearest_rows(program, _START_ROWS)
    row_norms = np.linalg.norm(program.cones, axis=2)
    for round_ in range(_MAX_ROUNDS):
        solution, multipliers = _solve_three_layer_rows(
            name, program, y, rows, beta=beta, loss=loss, fit_intercept=fit_intercept,
            tol=tol, max_iter=max_iter, verbose=verbose,
        )  # fmt: skip
        violated = _violated_rows(program, solution.coef, rows, row_norms, tol)
        if verbose:
            print(
                f"[{name}] three-layer cutting planes, round {round_}: objective "
                f"{solution.objective:.10g}, {sum(map(len, rows))} rows kept, "
                f"{sum(map(len, violated))} violated",
                flush=True,
            )
        if not any(len(v) for v in violated):
            break
        rows = [np.union1d(kept, new) for kept, new in zip(rows, violated, strict=True)]
    else:  # infeasible for the whole program: no gap to certify
        return dataclasses.replace(
            solution,
            converged=False,
            status=f"cone rows still violated after {_MAX_ROUNDS} rounds",
        )
    gap = three_layer_gap(
        program, solution, multipliers, y, beta=beta, loss=loss, fit_intercept=fit_intercept
    )
    return dataclasses.replace(solution, duality_gap=gap)


def _nearest_rows(program, count):
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


def _violated_rows(program, coef, rows, row_norms, tol):
    """Per first-layer cone, the rows not in ``rows`` that some group (residue aside) violates
    beyond ``tol`` relative to the group's and the row's norms, the most violated
    ``_ROWS_PER_ROUND``."""
    violated = []
    largest = np.linalg.norm(coef, axis=-1).max(initial=0.0)
    for i, cone in enumerate(program.cones):
        groups = coef[..., i, :].reshape(-1, coef.shape[-1])
        norms = np.linalg.norm(groups, axis=1)
        kept = norms > _RESIDUE * largest
        groups, norms = groups[kept], norms[kept]
        if not len(groups):
            violated.append(np.zeros(0, dtype=int))
            continue
        slack = ((cone @ groups.T) / norms).min(axis=1)
        worst = slack / np.where(row_norms[i] > 0, row_norms[i], np.inf)  # (zero rows: 0 >= 0)
        worst[rows[i]] = 0.0
        violated.append(most_violated(worst, -tol, _ROWS_PER_ROUND))
    return violated


def _solve_three_layer_rows(
    name, program, y, rows, *, beta, loss, fit_intercept, tol, max_iter, verbose
):
    """The three-layer program with only the rows ``rows[i]`` of each first-layer cone ``i``.

    Rows ``r = (s, l)`` of the variables are the branches (output sign ``s``, second-layer
    pattern ``l``); columns hold the ``n_patterns`` first-layer groups of ``patch_size``.
    """
    import cvxpy as cp

    n_patterns, _, patch_size = program.pieces.shape
    n_outer = program.outer_masks.shape[0]
    n_branches = 2 * n_outer
    size = n_patterns * patch_size
    x_scale, y_scale, unit_beta = _unit_scales(program.pieces, y, beta, loss)
    n_samples = program.pieces.shape[1]
    pieces = program.pieces.transpose(1, 0, 2).reshape(n_samples, size) / x_scale
    cones = _unit_cones(program.cones, rows)
    masks = np.vstack([program.outer_masks, program.outer_masks]).astype(float)
    signs = np.repeat([1.0, -1.0], n_outer)[:, None]
    outer_signs = 2 * masks - 1

    positive = cp.Variable((n_branches, size))
    negative = cp.Variable((n_branches, size))
    intercept = cp.Variable() if fit_intercept else 0.0
    hidden = (positive - negative) @ pieces.T  # (branches, n): second-layer pre-activations
    fit = cp.sum(cp.multiply(signs * masks, hidden), axis=0) + intercept

    def group_norms(v):
        groups = cp.reshape(v, (n_branches * n_patterns, patch_size), order="C")
        return cp.sum(cp.norm(groups, 2, axis=1))

    objective = _loss_expression(loss, fit, y / y_scale) + unit_beta * (
        group_norms(positive) + group_norms(negative)
    )
    constraints = [cp.multiply(outer_signs, hidden) >= 0]
    if cones.shape[0]:
        constraints += [cones @ positive.T >= 0, cones @ negative.T >= 0]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    _run(problem, name, tol, max_iter, verbose)
    coef = np.stack([positive.value, negative.value])
    coef = coef.reshape(2, 2, n_outer, n_patterns, patch_size)
    residue = unit_beta * np.linalg.norm(coef, axis=-1) <= 1e-2 * tol * abs(problem.value)
    coef[residue] = 0.0
    coef *= y_scale / x_scale
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    solution = _solution(name, problem, program, coef, intercept, y, beta, loss)
    # the unit-scale program is the data-scale one with y / y_scale: so are its multipliers
    # (none reported: zero, which still gives a valid, looser bound)
    multipliers = constraints[0].dual_value
    if multipliers is None:
        multipliers = np.zeros((n_branches, len(y)))
    return solution, y_scale * np.maximum(multipliers, 0.0)


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
        it are exact (:func:`~.._optimality.cone_projections`).

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


def _solve_nuclear_with(name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0):
    """The nuclear-norm program of doc/formulations.md §5.1 with the CVXPY solver ``name``."""
    import cvxpy as cp

    n_samples, n_patches, patch_size = program.patches.shape
    x_scale, y_scale, unit_beta = _unit_scales(program.patches, y, beta, loss)
    # fit_t = sum_{k,h} X[t, k, h] Z[h, k]: one matrix product on vec(Z) in row-major order
    design = program.patches.transpose(0, 2, 1).reshape(n_samples, -1) / x_scale
    Z = cp.Variable((patch_size, n_patches))
    intercept = cp.Variable() if fit_intercept else 0.0
    fit = design @ cp.reshape(Z, (patch_size * n_patches,), order="C") + intercept
    objective = _loss_expression(loss, fit, y / y_scale) + unit_beta * cp.normNuc(Z)
    problem = cp.Problem(cp.Minimize(objective))
    _run(problem, name, tol, max_iter, verbose)
    coef = Z.value * (y_scale / x_scale)
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    return _solution(name, problem, program, coef, intercept, y, beta, loss)
