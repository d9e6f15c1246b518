"""Solvers for :class:`~sklearn_convexcnn._formulations.GroupProgram`: arrays in, a
:class:`Solution` out. Nothing here imports scikit-learn."""

from ._cvxpy import CVXPY_SOLVERS, solve_cvxpy
from ._solution import Solution, SolverFailed

__all__ = ["CVXPY_SOLVERS", "Solution", "SolverFailed", "solve_cvxpy"]
