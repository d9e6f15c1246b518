"""The reference back-end: the whole program handed to a conic solver through CVXPY.

The program is built from a handful of vectorized expressions (one matrix product for the fit,
one block-sparse product per sign for the cones), so compiling it stays cheap next to solving.
:func:`solve_program` routes each kind of program to its CVXPY formulation:

* :func:`solve_with`: a :class:`GroupProgram` (every two-layer and circular CNN);
* :func:`_solve_three_layer_with`: the three-layer program (doc/formulations.md §8.2), whose
  second-layer cone constraints couple the groups of a branch, by cutting planes over the
  first-layer cone rows, certified by :func:`._three_layer_rows.three_layer_gap`;
* :func:`_solve_nuclear_with`: the linear CNN without pooling, a nuclear-norm program (§5.1)
  that needs a solver with PSD cones (Clarabel or SCS).

All go through :func:`solve_cvxpy`, so all share its fallback and failure semantics.
"""

import contextlib
import dataclasses
import re
import threading
import warnings

import numpy as np
import scipy.sparse as sp

from .._formulations.linear import NuclearProgram
from .._formulations.three_layer import ThreeLayerProgram
from .._losses import loss_value
from ._solution import Solution, SolverFailed, cleaned_if_no_worse
from ._three_layer_rows import START_ROWS, nearest_rows, three_layer_gap, violated_rows

# Most accurate and fastest first (measured in doc/notes/solver-measurements.md).
CVXPY_SOLVERS = ("clarabel", "ecos", "scs")
# Those of them that are interior-point methods, whose cost grows only with log(1 / tol)
INTERIOR_POINT_SOLVERS = ("CLARABEL", "ECOS")

# CVXPY's words around a solver's failure: they repeat the solver's name and advise CVXPY's
# own verbose=True (the estimators' is verbose=2); the error says which solver failed already
_CVXPY_ADVICE = re.compile(
    r"\s*(Solver '\w+' failed\.)?\s*Try another solver, or solve with verbose=True for more "
    r"information\."
)


def _solver_options(solver, tol, max_iter):
    # a larger max_iter means no limit, as it does for the native solver: the conic solvers
    # take a 32-bit count (Clarabel failed on 10**18 with "out of range integral type")
    max_iter = min(max_iter, 2**31 - 1)
    if solver == "CLARABEL":
        return {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": max_iter}
    if solver == "ECOS":
        return {"abstol": tol, "reltol": tol, "feastol": tol, "max_iters": max_iter}
    if solver == "SCS":
        return {"eps_abs": tol, "eps_rel": tol, "max_iters": max_iter}
    return {}


def candidate_solvers(solver, psd=False):
    """CVXPY names to try in order: ``solver`` itself, or every installed one for ``"auto"``;
    with ``psd``, only those with a PSD cone (not ECOS)."""
    import cvxpy as cp

    installed = set(cp.installed_solvers())
    if solver == "auto":
        names = [name.upper() for name in CVXPY_SOLVERS if name.upper() in installed]
        if not names:
            raise SolverFailed(
                f"none of the solvers {CVXPY_SOLVERS} is installed; pip install clarabel"
            )
    elif solver.upper() not in installed:
        raise SolverFailed(
            f"solver={solver!r} is not installed; pip install {solver} or use solver='auto'."
        )
    else:
        names = [solver.upper()]
    if psd:
        names = [name for name in names if name != "ECOS"]
        if not names:
            raise SolverFailed(
                f"solver={solver!r} cannot handle the nuclear norm (no PSD cone); use "
                "solver='clarabel' or solver='scs'."
            )
    return names


def _loss_expression(loss, fit, y):
    import cvxpy as cp

    if loss == "squared":
        return 0.5 * cp.sum_squares(fit - y)
    return cp.sum(cp.logistic(-cp.multiply(y, fit)))


def solve_cvxpy(program, y, *, solver, solve_one=None, psd=False, interior_tol=None, **options):
    """Solve a :class:`GroupProgram` for one output with a CVXPY conic solver.

    With ``solver="auto"`` a solver that fails (an exception, or a status without a usable
    point) hands over to the next installed one of :data:`CVXPY_SOLVERS`, which the solution's
    ``handovers`` record; a solver named explicitly is the only one tried. Keyword ``options``
    are those of :func:`solve_with`. Other programs pass the function that solves them with
    one named solver as ``solve_one`` (same signature as :func:`solve_with`), and ``psd=True``
    if they need a PSD cone. ``interior_tol``, where given, replaces ``tol`` for the
    :data:`INTERIOR_POINT_SOLVERS` (not SCS, which would spend ``max_iter`` on a tighter one).

    Raises
    ------
    SolverFailed
        If every solver tried failed; the message lists each failure.
    """
    names = candidate_solvers(solver, psd)
    failures = []
    for name in names:
        tol = interior_tol if interior_tol is not None and name in INTERIOR_POINT_SOLVERS else None
        try:
            solution = (solve_one or solve_with)(
                name, program, y, **(options if tol is None else {**options, "tol": tol})
            )
        except SolverFailed as exc:
            failures.append(str(exc))  # (each message starts with the solver's name)
            continue
        handovers = tuple(
            f"{failure}; trying {names[k + 1]} instead" for k, failure in enumerate(failures)
        )
        return dataclasses.replace(solution, handovers=handovers)
    raise SolverFailed("; ".join(failures))


def solve_with(name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0):
    """Solve a :class:`GroupProgram` for one output with the CVXPY solver ``name``.

    Parameters
    ----------
    name : str
        Upper-case CVXPY name of an installed solver.
    program : GroupProgram
    y : ndarray of shape (n_samples,)
    beta : float
    loss : {"squared", "logistic"}
    fit_intercept : bool
    tol : float
        Feasibility and duality-gap tolerance passed to the solver.
    max_iter : int
    verbose : int

    Returns
    -------
    solution : Solution

    Raises
    ------
    SolverFailed
        If the solver fails or returns no point.
    """
    import cvxpy as cp

    n_patterns, _, patch_size = program.pieces.shape
    size = n_patterns * patch_size
    x_scale, y_scale, unit_beta = unit_scales(program.pieces, y, beta, loss)
    pieces, cones = _unit_blocks(program, x_scale)
    positive, negative = cp.Variable(size), cp.Variable(size)
    intercept = cp.Variable() if fit_intercept else 0.0
    fit = pieces @ (positive - negative) + intercept

    def group_norms(v):
        groups = cp.reshape(v, (n_patterns, patch_size), order="C")
        if program.norm_blocks is not None:
            # R(c) = sum_b ||T_b c||: one row of block vectors per group, then one per block
            n_blocks, block_size, _ = program.norm_blocks.shape
            blocks = groups @ program.norm_blocks.reshape(-1, patch_size).T
            groups = cp.reshape(blocks, (n_patterns * n_blocks, block_size), order="C")
        return cp.sum(cp.norm(groups, 2, axis=1))

    objective = _loss_expression(loss, fit, y / y_scale) + unit_beta * (
        group_norms(positive) + group_norms(negative)
    )
    problem = cp.Problem(cp.Minimize(objective), [cones @ positive >= 0, cones @ negative >= 0])
    _run(problem, name, tol, max_iter, verbose)
    coef = np.stack([positive.value, negative.value]).reshape(2, n_patterns, patch_size)
    residue = unit_beta * program.group_norms(coef) <= 1e-2 * tol * abs(problem.value)
    coef *= y_scale / x_scale
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    coef = _without_residue(coef, residue, tol, program, intercept, y, beta, loss)
    return _solution(name, problem, program, coef, intercept, y, beta, loss)


def unit_scales(pieces, y, beta, loss):
    """``x_scale``, ``y_scale`` and ``beta`` at unit scale.

    The programs are homogeneous: if the pieces are s * A and (squared loss) y = t * y~, then
    c = (t / s) c~ where c~ solves the program on (A, y~) with beta / (s t), at t^2 times the
    objective; cone rows can be scaled freely. The solver sees unit-scale data whatever the
    units of X and y, which keeps it accurate on data scaled by 1e-6 or 1e6.
    """
    x_scale = float(np.abs(pieces).max()) or 1.0
    y_scale = (float(np.abs(y).max()) or 1.0) if loss == "squared" else 1.0
    return x_scale, y_scale, beta / (x_scale * y_scale)


def _unit_blocks(program, x_scale):
    """The pieces as one (n_samples, n_patterns * patch_size) matrix divided by ``x_scale``, and
    the cones as one block-diagonal sparse matrix with unit rows: group ``i`` occupies entries
    ``[i * h, (i + 1) * h)`` of a variable."""
    n_patterns, n_samples, patch_size = program.pieces.shape
    pieces = program.pieces.transpose(1, 0, 2).reshape(n_samples, n_patterns * patch_size)
    return pieces / x_scale, _unit_cones(program.cones)


def _unit_cones(cones, rows=None):
    """The rows ``rows[i]`` (by default all) of every cone ``i`` of ``cones`` (shape
    (n_patterns, n_rows, h)), scaled to unit norm, as one sparse matrix on the groups side by
    side: group ``i`` occupies entries ``[i * h, (i + 1) * h)`` of a variable."""
    n_patterns, n_rows, h = cones.shape
    if rows is None:
        rows = [np.arange(n_rows)] * n_patterns
    stacked = np.concatenate([cones[i, r] for i, r in enumerate(rows)] or [np.zeros((0, h))])
    norms = np.linalg.norm(stacked, axis=1, keepdims=True)
    stacked = stacked / np.where(norms > 0, norms, 1.0)
    pattern = np.repeat(np.arange(n_patterns), [len(r) for r in rows])
    row_index = np.repeat(np.arange(len(stacked)), h)
    column_index = (pattern[:, None] * h + np.arange(h)).ravel()
    return sp.csr_matrix(
        (stacked.ravel(), (row_index, column_index)), shape=(len(stacked), n_patterns * h)
    )


@contextlib.contextmanager
def _inaccurate_ignored():
    """CVXPY's "Solution may be inaccurate" ignored, as the caller turns an inaccurate status
    into a ConvergenceWarning of its own (and CVXPY 1.5's notice on ECOS); in the main thread
    only, since ``warnings.catch_warnings`` swaps process-wide state that concurrent threads
    (joblib's threading backend) corrupt: there both warnings are issued."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        # CVXPY 1.5 warns at every solve that names ECOS that 1.6 no longer installs it: this
        # package requires ecos itself, so the warning only alarms (and fails warnings-as-errors)
        warnings.filterwarnings(
            "ignore",
            message=r"\s*You specified your problem should be solved by ECOS",
            category=FutureWarning,
        )
        yield


def _run(problem, name, tol, max_iter, verbose):
    """Solve ``problem`` with ``name``; raise :class:`SolverFailed` unless it has a usable point."""
    import cvxpy as cp

    try:
        with _inaccurate_ignored():
            problem.solve(solver=name, verbose=verbose > 1, **_solver_options(name, tol, max_iter))
    except (cp.error.SolverError, ArithmeticError, ValueError) as exc:
        size = sum(variable.size for variable in problem.variables())
        reason = _CVXPY_ADVICE.sub("", str(exc)).strip() or "a numerical failure"
        if name == "ECOS" and cp.logistic in problem.atoms():
            # (16 of 16 two-layer ReLU logistic programs at beta=0.3 end in "NUMERICAL
            # PROBLEMS" after 21 of 500 iterations, which Clarabel and SCS solve)
            reason += (
                " (ECOS often fails on the logistic loss's exponential cones, where Clarabel "
                "and SCS do not)"
            )
        raise SolverFailed(f"{name} failed on a program of {size} variables: {reason}") from exc
    # USER_LIMIT is max_iter: an unconverged iterate, returned like scikit-learn's solvers do
    usable = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.USER_LIMIT)
    no_point = any(variable.value is None for variable in problem.variables())
    if problem.status not in usable or no_point or not np.isfinite(problem.value):
        raise SolverFailed(f"{name} returned status {problem.status!r}")


def _without_residue(coef, residue, tol, program, intercept, y, beta, loss):
    """``coef`` with its ``residue`` groups (an interior point's, whose cost is far below the
    solver's accuracy on the objective) set to zero where that raises the objective by at
    most ``1e-2 * tol`` of it (:func:`~._solution.cleaned_if_no_worse`)."""

    def value(c):
        return _objective(program, c, intercept, y, beta, loss)

    cleaned = np.where(residue[..., None], 0.0, coef)
    return cleaned_if_no_worse(coef, cleaned, value, 1e-2 * tol)


def _objective(program, coef, intercept, y, beta, loss):
    """The objective of ``program`` at ``coef`` and ``intercept`` (at data scale)."""
    value = loss_value(loss, program.fit_values(coef) + intercept, y)
    return value + beta * program.regularizer(coef)


def _solution(name, problem, program, coef, intercept, y, beta, loss):
    """The :class:`Solution` of ``problem`` at ``coef`` and ``intercept`` (at data scale)."""
    import cvxpy as cp

    # the objective of the point we return, not the solver's estimate of the optimum
    objective = _objective(program, coef, intercept, y, beta, loss)
    return Solution(
        coef=coef,
        intercept=intercept,
        objective=objective,
        converged=problem.status == cp.OPTIMAL,
        status=problem.status,
        n_iter=int(problem.solver_stats.num_iters or 0),
        solver=name,
    )


def solve_program(program, y, *, solver, **options):
    """Solve any program of the formulations with the CVXPY back-end for its shape."""
    if isinstance(program, NuclearProgram):
        options.update(solve_one=_solve_nuclear_with, psd=True)
    elif isinstance(program, ThreeLayerProgram):
        options.update(solve_one=_solve_three_layer_with)
    return solve_cvxpy(program, y, solver=solver, **options)


# Cutting-plane rounds of the three-layer program before it is given up as infeasible.
_MAX_ROUNDS = 30


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
    relaxation of it, hence optimal for it. A round that ``max_iter`` stops ends the rounds
    (an unconverged point, without a gap where it violates rows).
    """
    import cvxpy as cp

    rows = nearest_rows(program, START_ROWS)
    row_norms = np.linalg.norm(program.cones, axis=2)
    for round_ in range(_MAX_ROUNDS):
        solution, multipliers = _solve_three_layer_rows(
            name, program, y, rows, beta=beta, loss=loss, fit_intercept=fit_intercept,
            tol=tol, max_iter=max_iter, verbose=verbose,
        )  # fmt: skip
        violated = violated_rows(program, solution.coef, rows, row_norms, tol)
        if verbose:
            print(
                f"[{name}] three-layer cutting planes, round {round_}: objective "
                f"{solution.objective:.10g}, {sum(map(len, rows))} rows kept, "
                f"{sum(map(len, violated))} violated",
                flush=True,
            )
        if not any(len(v) for v in violated):
            break
        if solution.status == cp.USER_LIMIT or solution.n_iter >= max_iter:
            # (max_iter stopped the solver; SCS then says 'optimal_inaccurate') the next rounds'
            # points would stop as short: max_iter=1 ran 12-15 rounds, 3 s, and SCS at the
            # default 500 ran 14 rounds, 140 s on 20 signals, for fits warned as unconverged
            # all the same. Outside the cones: no gap
            return solution
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
    return dataclasses.replace(solution, duality_gap=gap, multipliers=multipliers)


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
    x_scale, y_scale, unit_beta = unit_scales(program.pieces, y, beta, loss)
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
    coef *= y_scale / x_scale
    intercept = y_scale * float(intercept.value) if fit_intercept else 0.0
    coef = _without_residue(coef, residue, tol, program, intercept, y, beta, loss)
    solution = _solution(name, problem, program, coef, intercept, y, beta, loss)
    # the unit-scale program is the data-scale one with y / y_scale: so are its multipliers
    # (none reported: zero, which still gives a valid, looser bound)
    multipliers = constraints[0].dual_value
    if multipliers is None:
        multipliers = np.zeros((n_branches, len(y)))
    return solution, y_scale * np.maximum(multipliers, 0.0)


def _solve_nuclear_with(name, program, y, *, beta, loss, fit_intercept, tol, max_iter, verbose=0):
    """The nuclear-norm program of doc/formulations.md §5.1 with the CVXPY solver ``name``."""
    import cvxpy as cp

    n_samples, n_patches, patch_size = program.patches.shape
    x_scale, y_scale, unit_beta = unit_scales(program.patches, y, beta, loss)
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
