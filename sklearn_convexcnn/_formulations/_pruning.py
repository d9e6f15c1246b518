"""Pruning a solution of a group program to at most ``n + 1`` groups (doc/formulations.md §2.4).

A solution ``c`` of the program of Lemma B is a non-negative combination of unit groups: writing
``c_j = lambda_j d_j`` with ``R(d_j) = 1`` and ``d_j`` in its cone, the fit is
``sum_j lambda_j a_j`` (``a_j = +-A_{i_j} d_j``) and the regularizer is ``sum_j lambda_j``. Any
``delta`` with ``sum_j delta_j a_j = 0`` and ``sum_j delta_j = 0`` moves ``lambda`` without
changing either; moving until one ``lambda_j`` reaches 0 removes a group (Carathéodory). When no
such ``delta`` is left the vectors ``(a_j, 1)`` of ``R^{n+1}`` are independent, so at most
``n + 1`` groups remain, with the same fit, the same regularizer, hence the same objective for
*any* loss and intercept. The directions never change, so every group stays in its cone and the
recovered network with real ReLUs keeps the fit.

Interior-point solvers leave many groups of norm ~1e-8 whose *directions* are inaccurate
(they may leave their cones by far more than the solver's tolerance); pruning could scale such a
group up and break exactness, so they are dropped first (§2.4, §13 item 4), and the remaining groups
are projected onto their cones (:func:`clean_groups`).

Nothing here imports scikit-learn.
"""

import dataclasses

import numpy as np

from .._losses import loss_value
from ._operator import as_operator

# Groups below this times the largest norm are solver residue (an interior point keeps them
# near zero rather than at zero): dropped before recovery, left out of the polishing faces.
RESIDUE = 1e-6


def _group_norms(program, coef):
    """``R(c_i)`` and ``R(c'_i)``, shape (2, n_patterns): the program's norm (block norms of
    the spectrum for circular programs, whether dense or behind an operator; a dense program
    is not wrapped: an operator's construction measures every cone row)."""
    return program.norm(coef)


def _group_fits(operator, coef):
    """``(sign_index, pattern_index, A_i c_i)`` of the non-zero groups, in chunks (the pieces
    of all groups at once can take gigabytes)."""
    sign_index, pattern_index = np.nonzero(np.any(coef, axis=2))
    if not len(pattern_index):
        return
    n_samples, h = operator.pieces(pattern_index[:1]).shape[1:]
    chunk = max(1, 2**23 // (n_samples * h))
    for start in range(0, len(pattern_index), chunk):
        s, i = sign_index[start : start + chunk], pattern_index[start : start + chunk]
        yield s, i, np.einsum("mnh,mh->mn", operator.pieces(i), coef[s, i])


def _fit_norms(operator, coef):
    """``||A_i c_i||`` of every group, shape (2, n_patterns)."""
    norms = np.zeros(coef.shape[:2])
    for s, i, fits in _group_fits(operator, coef):
        norms[s, i] = np.linalg.norm(fits, axis=1)
    return norms


def clean_groups(program, coef, *, rtol=RESIDUE, cone_tol=1e-12):
    """``coef`` without its solver residue: tiny groups dropped, the others put in their cones.

    Parameters
    ----------
    program : GroupProgram or operator
    coef : ndarray of shape (2, n_patterns, patch_size)
    rtol : float, default=1e-6
        Groups whose norm is below ``rtol`` times the largest norm *and* whose fit
        ``||A_i c_i||`` is below ``rtol`` times the largest fit are dropped: their directions
        are unreliable (doc/formulations.md §2.4). The norm alone does not tell residue: a group on
        features of scale 1e6 needs a norm 1e6 times smaller than one on features of scale 1
        for the same fit (by norm alone, a group of relative norm 9.6e-7 whose fit, 0.88, is
        the largest can be dropped, raising the network's objective 16 % above the optimum).
    cone_tol : float, default=1e-12
        Groups whose direction violates a row of its cone by more than ``cone_tol`` times the
        largest row norm are replaced by their projection onto the cone (dropped if it is 0).
        The solver's feasibility tolerance allows violations of about ``1e-9 / ||c||``; the
        projection moves the fit by that much, where dropping such a group (the rule of §2.4)
        cost up to 1e-5 of the objective in our runs, and keeping it unrepaired lets pruning
        scale the violation up.

    Returns
    -------
    coef : ndarray of shape (2, n_patterns, patch_size)
        A copy; every non-zero group lies in its cone.
    """
    from .._optimality import cone_products_by_block, project_onto_cone

    coef = np.array(coef, dtype=float)
    operator = as_operator(program)
    norms = _group_norms(program, coef)
    top = float(norms.max(initial=0.0))
    if top == 0.0:
        return coef
    top_fit = None  # the largest fit, computed when first needed (pieces cost a data pass)

    def drop_residue(coef, norms):
        nonlocal top_fit
        small = np.any(coef, axis=2) & (norms <= rtol * top)
        if small.any():
            fits = _fit_norms(operator, coef)
            if top_fit is None:
                top_fit = float(fits.max())
            coef[small & (fits <= rtol * top_fit)] = 0.0

    drop_residue(coef, norms)
    sign_index, pattern_index = np.nonzero(np.any(coef, axis=2))
    directions = coef[sign_index, pattern_index] / norms[sign_index, pattern_index][:, None]
    worst = np.zeros(len(directions))
    for part, products in cone_products_by_block(
        operator, directions, pattern_index, np.arange(len(directions))
    ):
        worst[part] = products.min(axis=1, initial=0.0)
    outside = worst < -cone_tol * operator.row_scale
    all_rows = np.arange(operator.n_rows)
    for s, i in zip(sign_index[outside], pattern_index[outside], strict=True):
        coef[s, i] = project_onto_cone(operator.cone_rows(i, all_rows), coef[s, i])
    # a group pointing into the polar cone projects to (rounding around) zero: drop it
    drop_residue(coef, _group_norms(program, coef))
    return coef


def _vanishing_at(null, column):
    """Orthonormal rows spanning the combinations of the rows of ``null`` that are 0 at
    ``column``: one row fewer, unless all are exactly 0 there (or there is no row). A
    Householder reflection, so the rows stay orthonormal (null directions to rounding) however
    many groups drop."""
    if not len(null):  # (a move that zeroes several groups at once, ties)
        return null
    x = null[:, column]
    v = x.copy()
    v[-1] += np.copysign(np.linalg.norm(x), x[-1])  # reflects x onto the last axis
    if not v.any():
        return null
    return (null - np.outer(v, (2 / (v @ v)) * (v @ null)))[:-1]


def prune_groups(program, coef, *, rtol=RESIDUE, cone_tol=1e-12, null_tol=1e-12):
    """A solution with the same fit and regularizer and at most ``n + 1`` non-zero groups.

    Parameters
    ----------
    program : GroupProgram or operator
        The program ``coef`` solves (one output); an operator (:mod:`._operator`) is read only
        through ``pieces`` and ``cone_products`` of the non-zero groups.
    coef : ndarray of shape (2, n_patterns, patch_size)
        ``coef[0]`` the groups ``c_i``, ``coef[1]`` the ``c'_i``.
    rtol, cone_tol : float
        Solver residue: see :func:`clean_groups`, applied first.
    null_tol : float, default=1e-12
        Singular values of a block of groups below ``null_tol`` times its largest count as zero
        (so do those of ``n + 1`` or fewer groups whose fits are dependent).

    Returns
    -------
    pruned : ndarray of shape (2, n_patterns, patch_size)
        At most ``n_samples + 1`` non-zero groups (fewer when the fits span less). The fit
        ``sum_i A_i (c_i - c'_i)`` and ``sum_i R(c_i) + R(c'_i)`` equal those of ``coef`` after
        :func:`clean_groups`, to rounding; if a numerical check of that fails, the
        coefficients after dropping only are returned.
    """
    coef = np.asarray(coef, dtype=float)
    operator = as_operator(program)
    dropped = clean_groups(program, coef, rtol=rtol, cone_tol=cone_tol)
    sign_index, pattern_index = np.nonzero(np.abs(dropped).max(axis=2) > 0)
    if len(sign_index) == 0:
        return dropped
    lam = _group_norms(program, dropped)[sign_index, pattern_index]
    directions = dropped[sign_index, pattern_index] / lam[:, None]

    def assemble(weights):
        out = np.zeros_like(coef)
        out[sign_index, pattern_index] = weights[:, None] * directions
        return out

    pieces = operator.pieces(pattern_index)  # (m, n, h)
    signs = np.where(sign_index == 0, 1.0, -1.0)
    fits = signs[:, None] * np.einsum("mnh,mh->mn", pieces, directions)  # a_j
    # the fits scaled to the regularizer's row of ones: the null space is the same, and
    # null_tol then compares like with like (fits of 1e-12, inputs of that size, fell below
    # it next to the ones: every group but one looked dependent and was dropped)
    fit_size = float(np.linalg.norm(fits, axis=1).max()) or 1.0
    system = np.vstack([fits.T / fit_size, np.ones(len(lam))])  # (n + 1, m)
    start = lam.copy()
    # The null directions are sought among a block of the groups, refilled from the others as
    # groups drop out: the V of all m groups would be m^2 numbers when m > n + 1 (31 GB for the
    # 64,444 groups that a Clarabel fit at tol=1e-2 left on 30 samples, a NumPy MemoryError).
    # A block of n + 1 + extra groups has at least `extra` null directions, and each drops a
    # group: one SVD per dropped group (blocks of n + 2) took 4.3 s for 1,000 groups on 200
    # samples. The work per dropped group, (n + 1 + extra)^3 / extra, is least near
    # extra = (n + 1) / 2; at least 32 for small n, where the cost is Python's per SVD.
    rows = system.shape[0]
    block = rows + max(rows // 2, 32)
    order = np.flatnonzero(lam)
    columns, taken = order[:block], block
    while len(columns):
        # only V is needed: the full U would be (n + 1)^2 numbers (29 GB at n = 60,000); with
        # more columns than rows the null directions are outside the thin V, so take it whole
        _, singular, vt = np.linalg.svd(system[:, columns], full_matrices=len(columns) > rows)
        null = vt[np.sum(singular > null_tol * singular[0]) :]
        if not len(null):
            break  # independent (and no group waits): no null direction left
        while len(null):
            delta = null[-1]
            if delta.max() <= 0:
                delta = -delta
            positive = delta > 1e-14 * np.abs(delta).max()
            ratios = lam[columns[positive]] / delta[positive]
            step = ratios.min()
            lam[columns] = np.maximum(lam[columns] - step * delta, 0.0)
            lam[columns[positive][np.argmin(ratios)]] = 0.0
            zeroed = lam[columns] == 0.0
            for column in np.flatnonzero(zeroed):
                null = _vanishing_at(null, column)
            null, columns = null[:, ~zeroed], columns[~zeroed]
        refill = order[taken : taken + block - len(columns)]
        columns, taken = np.concatenate([columns, refill]), taken + len(refill)
    # the moves keep fit and regularizer up to rounding; check, as pruning must never cost,
    # each against its own size (the regularizer's, 1e13 on inputs of 1e-13, hid any change
    # of the fit)
    fit_change = np.abs(fits.T @ (lam - start)).max()
    if not (
        fit_change <= 1e-9 * (np.abs(fits).sum(axis=1) @ start)
        and abs(lam.sum() - start.sum()) <= 1e-9 * start.sum()
    ):
        return dropped
    return assemble(lam)


def prune_solution(program, solution, y, *, beta, loss, rtol=RESIDUE):
    """``solution`` with its groups pruned by :func:`prune_groups`, objective and gap updated.

    The objective is recomputed for the pruned point (it differs from the solver's by the
    dropped residue groups and the groups' projections onto their cones,
    :func:`clean_groups`), and the duality gap moves by the same amount: the dual bound
    behind it does not depend on the primal point.

    Parameters
    ----------
    program : GroupProgram or operator
    solution : Solution
    y : ndarray of shape (n_samples,)
    beta : float
    loss : {"squared", "logistic"}
    rtol : float, default=RESIDUE
        See :func:`clean_groups` (0: no group is residue).

    Returns
    -------
    solution : Solution
        A new object; ``solution`` itself is not modified.
    """
    coef = prune_groups(program, solution.coef, rtol=rtol)
    return _with_coef(program, solution, coef, y, beta=beta, loss=loss)


def clean_solution(program, solution, y, *, beta, loss, rtol=RESIDUE):
    """``solution`` without its residue (:func:`clean_groups`, ``rtol`` its), objective and gap
    updated as in :func:`prune_solution`: what the network is recovered from when pruning is
    off."""
    coef = clean_groups(program, solution.coef, rtol=rtol)
    return _with_coef(program, solution, coef, y, beta=beta, loss=loss)


def _with_coef(program, solution, coef, y, *, beta, loss):
    """``solution`` with ``coef``: its objective recomputed, its gap moved by as much."""
    fit = np.zeros(len(y))
    for s, _, fits in _group_fits(as_operator(program), coef):
        fit += np.where(s == 0, 1.0, -1.0) @ fits
    objective = loss_value(loss, fit + solution.intercept, y) + beta * float(
        _group_norms(program, coef).sum()
    )
    return with_objective(solution, coef, objective)


def with_objective(solution, coef, objective):
    """``solution`` with ``coef`` and its ``objective``, the duality gap moved by as much as
    the objective (the dual bound is that of the solution's point)."""
    gap = solution.duality_gap
    if gap is not None:
        gap = gap + objective - solution.objective
    return dataclasses.replace(solution, coef=coef, objective=objective, duality_gap=gap)
