from dataclasses import dataclass

import numpy as np

# The relative duality gap to which CVXPY's conic solvers certify their solutions, at best:
# Clarabel's come to about 1e-6 (1.3e-6 in one of scikit-learn's checks).
CVXPY_ACCURACY = 1e-5


class SolverFailed(RuntimeError):
    """The solver returned no usable point (infeasible, unbounded or an internal error)."""


@dataclass
class Solution:
    """One output's solved convex program, whatever the back-end.

    Attributes
    ----------
    coef : ndarray
        The program's variables: for a :class:`GroupProgram` of shape
        (2, n_patterns, patch_size), groups ``c_i`` (``coef[0]``) and ``c'_i`` (``coef[1]``);
        (2, 2, n_outer_patterns, n_patterns, patch_size) for three-layer programs;
        (patch_size, n_patches) for nuclear-norm ones.
    intercept : float
    objective : float
        The program's objective at the returned point (not the solver's own report).
    converged : bool
        False when the solver stopped at ``max_iter``, stalled, reported an inaccurate solution
        or left cone rows violated (``status`` says which).
    status : str
    n_iter : int
    solver : str
    duality_gap : float or None
        Certified duality gap of the returned point (objective minus a dual lower bound), when
        the solver computes one.
    handovers : tuple of str
        What ``solver="auto"`` tried before this point, and why it went on: a solver that
        failed or stopped short. Said in verbose lines, and in the warning of a point that
        does not converge; a hand-over that ends at a certified point is no warning.
    """

    coef: np.ndarray
    intercept: float
    objective: float
    converged: bool
    status: str
    n_iter: int
    solver: str
    duality_gap: float | None = None
    handovers: tuple = ()
