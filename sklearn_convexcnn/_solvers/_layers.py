"""CVXPY back-ends of the programs that are not a :class:`GroupProgram`.

* :func:`_solve_three_layer_with`: the three-layer program (formulations.md §8.2), whose
  second-layer cone constraints couple the groups of a branch;
* :func:`_solve_nuclear_with`: the linear CNN without pooling, a nuclear-norm program (§5.1)
  that needs a solver with PSD cones (Clarabel or SCS).

Both are vectorised (a few matrix expressions, no Python loop over groups) and solve at unit
scale like :func:`~._cvxpy.solve_with`. :func:`solve_program` routes any program to its solver
through :func:`~._cvxpy.solve_cvxpy`, so all share its fallback and failure semantics.
"""

import numpy as np

from .._formulations.linear import NuclearProgram
from ._cvxpy import _loss_expression, _run, _solution, _unit_blocks, _unit_scales, solve_cvxpy


def solve_program(program, y, *, solver, **options):
    """Solve any program of the formulations with the CVXPY back-end for its shape."""
    if isinstance(program, NuclearProgram):
        options.update(solve_one=_solve_nuclear_with, psd=True)
    elif hasattr(program, "outer_masks"):
        options.update(solve_one=_solve_three_layer_with)
    return solve_cvxpy(program, y, solver=solver, **options)


def _solve_three_layer_with(
    name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0
):
    """The three-layer program of formulations.md §8.2 with the CVXPY solver ``name``.

    Rows ``r = (s, l)`` of the variables are the branches (output sign ``s``, second-layer
    pattern ``l``); columns hold the ``n_patterns`` first-layer groups of ``patch_size``.
    """
    import cvxpy as cp

    n_patterns, _, patch_size = program.pieces.shape
    n_outer = program.outer_masks.shape[0]
    n_branches = 2 * n_outer
    size = n_patterns * patch_size
    x_scale, y_scale, unit_beta = _unit_scales(program.pieces, y, beta, loss)
    pieces, cones = _unit_blocks(program, x_scale)
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
    _run(problem, name, tol, max_iter, verbose)
    coef = np.stack([positive.value, negative.value])
    coef = coef.reshape(2, 2, n_outer, n_patterns, patch_size)
    residue = unit_beta * np.linalg.norm(coef, axis=-1) <= 1e-2 * tol * abs(problem.value)
    coef[residue] = 0.0
    coef *= y_scale / x_scale
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    return _solution(name, problem, program, coef, intercept, y, beta, loss)


def _solve_nuclear_with(name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0):
    """The nuclear-norm program of formulations.md §5.1 with the CVXPY solver ``name``."""
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
