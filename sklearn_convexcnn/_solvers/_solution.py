import math
from dataclasses import dataclass, replace

import numpy as np

# Statuses of a solve that spent the iterations the user allowed (the native solvers',
# CVXPY's): returned as they are (an estimator returns its last iterate then), not handed to
# another solver. (SCS, the last of "auto"'s CVXPY solvers, says 'optimal_inaccurate' at
# max_iter; its point is handed over: max_iter is sized for interior points, and SCS needs
# thousands.)
ITERATIONS_SPENT = ("max_iter reached", "user_limit")
# The relative duality gap to which CVXPY's conic solvers certify their solutions, at best:
# Clarabel's come to about 1e-6 (1.3e-6 in one of scikit-learn's checks).
CVXPY_ACCURACY = 1e-5
# Exponents of two between which the sizes of inputs and targets are kept as given (unit_of)
AS_GIVEN = (-5, 15)


def units(row_scale, y, *, loss, fit_intercept):
    """Powers of two ``(x_unit, y_unit)`` that bring ``row_scale`` (the largest row of the
    inputs' patches) and the spread of the targets ``y`` (about the intercept, where it is
    fitted; the logistic loss's labels are not scaled: ``y_unit = 1``) between ``2**-5`` and
    ``2**15`` (:func:`unit_of`).

    The native solver solves each program in these units (:func:`~._native.solve_native`),
    and pattern generation runs its gradient seeds in them: powers of two scale exactly, so
    that data times ``2**(20 k)`` are solved as the data themselves.
    """
    x_unit = unit_of(row_scale)
    if loss != "squared":
        return x_unit, 1.0
    return x_unit, unit_of(float(np.std(y) if fit_intercept else np.sqrt(np.mean(y**2))))


def unit_of(size):
    """The power of ``2**20`` that brings ``size`` between ``2**-5`` and ``2**15``
    (:data:`AS_GIVEN`): 1 where it is there already, or zero, or not finite."""
    if not 0 < size < np.inf:
        return 1.0
    low, high = AS_GIVEN
    # (the exponent of size's leading bit, floor(log2(size)), exactly: math.log2 rounds sizes
    # just below a power of two up to it)
    exponent = math.frexp(size)[1] - 1
    return math.ldexp(1.0, -(high - low) * math.floor((exponent - low) / (high - low)))


def cleaned_if_no_worse(coef, cleaned, value, slack):
    """``cleaned`` (``coef`` with its residue groups set to zero) where that raises
    ``value(coef)`` by at most ``slack`` of it; ``coef`` otherwise.

    Solvers leave residue, groups whose cost ``beta ||c_j||`` is below their accuracy, and
    every group is residue where the optimum is the empty network. But at a tiny ``beta``
    every group costs that little, however much it fits: dropped unchecked, at ``beta=1e-12``
    they left a regressor without neurons at 5 times a constant model's objective (Clarabel),
    and the native solver's restricted optima at ``1e-13`` were the empty network at every
    iteration, with the intercept fitted along with the dropped groups.
    """
    if np.array_equal(cleaned, coef):
        return coef
    kept = value(coef)
    return cleaned if value(cleaned) <= kept + slack * abs(kept) else coef


def rounding_floor(y):
    """The smallest duality gap worth asking for: that of a fit exact to rounding.

    The gap is relative to the objective, but an exact fit (a constant ``y`` and its
    intercept) leaves residuals at the rounding of ``y``, ``|r_i| <~ eps |y_i|``: an objective
    and a gap of order ``(eps ||y||)^2`` (``1e-32``), which no relative tolerance reaches.
    (Not ``eps`` times the loss at zero, which grows with an offset of ``y`` that the
    intercept absorbs: 66 for ``y + 1e8``, which called the empty network optimal at twice
    the optimum.)
    """
    return 16 * (np.finfo(float).eps * np.linalg.norm(y)) ** 2


def certifiable_gap(y, objective):
    """The smallest duality gap that can be certified for the targets ``y`` at ``objective``.

    The dual objective is computed to about ``eps ||y||^2``: its term ``y . v``, with
    ``v = y - f`` rounded to ``eps |y_i|`` in each sample where the fit is close. A gap below
    ``16`` times that, plus the :func:`rounding_floor` of an exact fit, cannot be told from
    rounding. Asked for less, a solve stalled and warned: four inputs of size 1e6 at
    ``beta=1e-3``, an objective of 2.2e-9 whose gap stayed at 3e-16 against
    ``tol`` times it, 2.2e-16. The rounding counts for at most ``CVXPY_ACCURACY`` of the
    objective: a larger gap is no certificate, whatever its cause (``16 eps ||y||^2`` of targets
    of size 1e8 without an intercept can be 3.5 % of an objective).
    """
    rounding = 16 * np.finfo(float).eps * float(y @ y)
    return min(rounding, CVXPY_ACCURACY * abs(objective)) + rounding_floor(y)


def target_gap(y, objective, tol):
    """The duality gap that certifies ``objective`` to ``tol``: ``tol`` times it, or the
    smallest gap that can be certified at all (:func:`certifiable_gap`) where that is larger."""
    return max(tol * abs(objective), certifiable_gap(y, objective))


def relative_to(value, objective):
    """``value`` (a gap, a target) relative to ``objective``, as progress lines print it."""
    return value / max(abs(objective), 1e-300)


def gap_in_words(gap, objective):
    """``gap`` and its value relative to ``objective``, as a fit's or a path's progress line
    prints them. A gap below zero is said to be zero to the solver's accuracy where it is
    within ``CVXPY_ACCURACY`` of the objective (a lower bound past the objective by rounding,
    at the optimum), and a point outside its program beyond that (which a warning says too).
    """
    said = f"{gap:.1e} (relative {relative_to(gap, objective):.1e}"
    if gap >= 0:
        return said + ")"
    if -gap <= CVXPY_ACCURACY * abs(objective):
        return said + ": zero to the solver's accuracy)"
    return said + ": below zero, the point is outside its program)"


def lower_of(first, second, target):
    """Of two points of the same program, the one of the lower objective (``first`` where
    equal), certified by the better of their dual bounds (both bound the same optimum):
    optimal where that gap is at most ``target(objective)``."""
    bound = max(point.objective - point.duality_gap for point in (first, second))
    lower = first if first.objective <= second.objective else second
    gap = lower.objective - bound
    if gap <= target(lower.objective):
        return replace(lower, duality_gap=gap, converged=True, status="optimal")
    return replace(lower, duality_gap=gap)


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
    tried : frozenset of {"native", "cvxpy"}
        The solvers that ``solver="auto"`` ran on the program through those hand-overs (the
        native solver, CVXPY's), which the warnings' advice leaves out; the words of
        ``handovers`` are for people.
    multipliers : ndarray of shape (2 * n_outer_patterns, n_samples) or None
        Three-layer programs solved through CVXPY only: the solver's multipliers of the second
        ReLU layer's constraints, at data scale, which certified ``duality_gap``. A hand-over
        to the native solver starts from them (and not from zero, whose certificate is
        nearly empty).
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
    multipliers: np.ndarray | None = None
    tried: frozenset = frozenset()
