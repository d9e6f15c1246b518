"""CVXPY back-ends of the programs that are not a :class:`GroupProgram`.

* :func:`solve_three_layer`: the three-layer program (formulations.md §8.2), whose
  second-layer cone constraints couple the groups of a branch;
* :func:`solve_nuclear`: the linear CNN without pooling, a nuclear-norm program (§5.1) that
  needs a solver with PSD cones (Clarabel or SCS).

Both are vectorised (a few matrix expressions, no Python loop over groups) and solve at unit
scale like :func:`~._cvxpy.solve_with`. :func:`solve_program` routes any program to its solver.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from .._formulations.linear import NuclearProgram
from .._losses import loss_value
from ._cvxpy import _loss_expression, _solver_options, candidate_solvers, solve_cvxpy
from ._solution import Solution, SolverFailed


def solve_program(program, y, *, solver, **options):
    """Solve any program of the formulations with the CVXPY back-end for its shape."""
    if isinstance(program, NuclearProgram):
        return _try_solvers(_solve_nuclear_with, program, y, solver, options, psd=True)
    if hasattr(program, "outer_masks"):
        return _try_solvers(_solve_three_layer_with, program, y, solver, options)
    return solve_cvxpy(program, y, solver=solver, **options)


def _try_solvers(function, program, y, solver, options, psd=False):
    names = candidate_solvers(solver)
    if psd:
        # ECOS has no PSD cone
        names = [name for name in names if name != "ECOS"]
        if not names:
            raise SolverFailed(
                f"solver={solver!r} cannot handle the nuclear norm (no PSD cone); use "
                "solver='clarabel' or solver='scs'."
            )
    failures = []
    for name in names:
        try:
            return function(name, program, y, **options)
        except SolverFailed as exc:
            failures.append(f"{name}: {exc}")
    raise SolverFailed("; ".join(failures))


def _run(problem, name, size, tol, max_iter, verbose):
    import cvxpy as cp

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=name, verbose=verbose > 1, **_solver_options(name, tol, max_iter))
    except (cp.error.SolverError, ArithmeticError, ValueError) as exc:
        raise SolverFailed(f"{name} failed on a program of {size} variables: {exc}") from exc
    usable = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.USER_LIMIT)
    if problem.status not in usable or not np.isfinite(problem.value):
        raise SolverFailed(f"{name} returned status {problem.status!r}")


def _scales(pieces, y, beta, loss):
    x_scale = float(np.abs(pieces).max()) or 1.0
    y_scale = (float(np.abs(y).max()) or 1.0) if loss == "squared" else 1.0
    return x_scale, y_scale, beta / (x_scale * y_scale)


def _solution(program, coef, intercept, y, beta, loss, problem, name):
    import cvxpy as cp

    objective = loss_value(loss, program.fit_values(coef) + intercept, y)
    objective += beta * program.regularizer(coef)
    return Solution(
        coef=coef,
        intercept=intercept,
        objective=objective,
        converged=problem.status == cp.OPTIMAL,
        status=problem.status,
        n_iter=int(problem.solver_stats.num_iters or 0),
        solver=name,
    )


def _solve_three_layer_with(
    name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0
):
    """The three-layer program of formulations.md §8.2 with the CVXPY solver ``name``.

    Rows ``r = (s, l)`` of the variables are the branches (output sign ``s``, second-layer
    pattern ``l``); columns hold the ``n_patterns`` first-layer groups of ``patch_size``.
    """
    import cvxpy as cp

    n_patterns, n_samples, patch_size = program.pieces.shape
    n_outer = program.outer_masks.shape[0]
    n_branches = 2 * n_outer
    x_scale, y_scale, unit_beta = _scales(program.pieces, y, beta, loss)
    row_norms = np.linalg.norm(program.cones, axis=2, keepdims=True)
    unit_cones = program.cones / np.where(row_norms > 0, row_norms, 1.0)
    n_rows = unit_cones.shape[1]
    size = n_patterns * patch_size

    pieces = program.pieces.transpose(1, 0, 2).reshape(n_samples, size) / x_scale
    cones = sp.bsr_matrix(
        (unit_cones, np.arange(n_patterns), np.arange(n_patterns + 1)),
        shape=(n_patterns * n_rows, size),
    ).tocsr()
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
    constraints = [
        cones @ positive.T >= 0,
        cones @ negative.T >= 0,
        cp.multiply(outer_signs, hidden) >= 0,
    ]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    _run(problem, name, 2 * n_branches * size, tol, max_iter, verbose)
    if positive.value is None:
        raise SolverFailed(f"{name} returned no point")

    coef = np.stack([positive.value, negative.value])
    coef = coef.reshape(2, 2, n_outer, n_patterns, patch_size)
    residue = unit_beta * np.linalg.norm(coef, axis=-1) <= 1e-2 * tol * abs(problem.value)
    coef[residue] = 0.0
    coef *= y_scale / x_scale
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    return _solution(program, coef, intercept, y, beta, loss, problem, name)


def _solve_nuclear_with(name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0):
    """The nuclear-norm program of formulations.md §5.1 with the CVXPY solver ``name``."""
    import cvxpy as cp

    n_samples, n_patches, patch_size = program.patches.shape
    x_scale, y_scale, unit_beta = _scales(program.patches, y, beta, loss)
    # fit_t = sum_{k,h} X[t, k, h] Z[h, k]: one matrix product on vec(Z) in row-major order
    design = program.patches.transpose(0, 2, 1).reshape(n_samples, -1) / x_scale
    Z = cp.Variable((patch_size, n_patches))
    intercept = cp.Variable() if fit_intercept else 0.0
    fit = design @ cp.reshape(Z, (patch_size * n_patches,), order="C") + intercept
    objective = _loss_expression(loss, fit, y / y_scale) + unit_beta * cp.normNuc(Z)
    problem = cp.Problem(cp.Minimize(objective))
    _run(problem, name, Z.size, tol, max_iter, verbose)
    if Z.value is None:
        raise SolverFailed(f"{name} returned no point")
    coef = Z.value * (y_scale / x_scale)
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    return _solution(program, coef, intercept, y, beta, loss, problem, name)
