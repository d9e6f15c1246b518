from dataclasses import dataclass

import numpy as np


class SolverFailed(RuntimeError):
    """The solver returned no usable point (infeasible, unbounded or an internal error)."""


@dataclass
class Solution:
    """A solved :class:`GroupProgram`.

    Attributes
    ----------
    coef : ndarray of shape (2, n_patterns, patch_size)
        Groups ``c_i`` (``coef[0]``) and ``c'_i`` (``coef[1]``).
    intercept : float
    objective : float
        The program's optimal value as the solver reports it.
    converged : bool
        False when the solver stopped at ``max_iter`` or reported an inaccurate solution.
    status : str
    n_iter : int
    solver : str
    duality_gap : float or None
        Certified duality gap of the returned point (objective minus a dual lower bound), when
        the solver computes one.
    """

    coef: np.ndarray
    intercept: float
    objective: float
    converged: bool
    status: str
    n_iter: int
    solver: str
    duality_gap: float | None = None
