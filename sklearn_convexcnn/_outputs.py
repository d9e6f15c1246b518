"""One output's convex program, solved as the estimator's ``solver`` says, here or in a worker,
then certified and rid of solver residue where it was solved (:class:`Finishing`). It sits
between the estimators and :mod:`._solvers` (arrays in, a solution out): it uses the
formulations' pruning and the certificate, which the solvers do not.

Nothing here imports scikit-learn, and the package imports its estimators lazily, so the worker
processes of ``n_jobs`` import only NumPy, SciPy and the solvers: importing scikit-learn about
doubles a worker's start-up, which is comparable to a whole small fit. The estimator keeps what
needs scikit-learn: the ``ConvergenceWarning`` of a solve that stopped short is issued in the
estimator's process (:func:`._convergence.unconverged_message`).
"""

import contextlib
import dataclasses
import enum
import functools
import io
import os
import sys
import threading
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from ._certificate import solution_with_gap
from ._convergence import (
    gap_tolerance,
    outside_its_program,
    uncertified_message,
)
from ._formulations._program import GroupProgram
from ._formulations._pruning import RESIDUE, clean_solution, prune_solution
from ._formulations.linear import LinearFormulation, NuclearProgram
from ._formulations.three_layer import ThreeLayerProgram, clean_three_layer
from ._losses import best_intercept, centred_targets, loss_value
from ._optimality import dual_point, max_pattern_price, scaled_dual_objective
from ._resources import check_program_memory
from ._solvers._cvxpy import CVXPY_SOLVERS, INTERIOR_POINT_SOLVERS, solve_program
from ._solvers._native import solve_native
from ._solvers._solution import (
    CVXPY_ACCURACY,
    ITERATIONS_SPENT,
    Solution,
    SolverFailed,
    lower_of,
)
from ._solvers._three_layer import solve_three_layer
from ._solvers._three_layer_rows import three_layer_prices

# The tolerance, where ``tol`` is looser, to which solver="auto" has Clarabel and ECOS solve
# the programs it gives CVXPY first (circular and three-layer CNNs). Their points, certified
# by their dual vectors, come out looser than the solver's own tolerance, and a loose point
# leaves the native polish (solve_and_finish) many groups to work through; solved tighter,
# fewer fits end above tol, in less time overall (benchmarks/README.md, 'solver="auto" on
# circular and three-layer programs').
AUTO_INTERIOR_TOL = 1e-9


class NotSolved(RuntimeError):
    """No solver returned a point for an output's program."""


class Route(enum.Enum):
    """The solvers that solve an output's program, in turn: the first, then the one it hands
    over to where the first fails or stops short (:func:`solve_output`,
    :func:`solve_and_finish`)."""

    NATIVE = enum.auto()  # solver="native"
    # solver="auto" on two-layer ReLU CNNs, and on a linear CNN with average pooling (one group
    # without a cone, which the native solver certifies to tol in milliseconds, where CVXPY's
    # own dual point certifies it only to its accuracy)
    NATIVE_THEN_CVXPY = enum.auto()
    CVXPY_THEN_NATIVE = enum.auto()  # solver="auto" on circular and three-layer CNNs
    # a CVXPY solver; solver="auto" on a linear CNN without pooling (a nuclear norm, which the
    # native solver does not take)
    CVXPY = enum.auto()


@dataclasses.dataclass(frozen=True)
class SolveOptions:
    """The estimator's parameters that a solve reads, and the name its log lines carry."""

    beta: float
    loss: str
    fit_intercept: bool
    tol: float
    max_iter: int
    solver: str
    verbose: int = 0
    name: str = "ConvexCNN"
    # the solvers that solver="auto" has solve the program, in turn (:class:`Route`); the
    # estimators set it from their architecture (_BaseConvexCNN._auto_route), and the default
    # is a two-layer ReLU CNN's
    auto_route: Route = Route.NATIVE_THEN_CVXPY
    # whether solver="native" takes the program (all but linear CNNs without pooling), for
    # advice
    native_supported: bool = True
    # why ``tol`` is tighter than the user's, where it is (then no advice says to loosen it)
    tol_reason: str = ""

    def log(self, message):
        if self.verbose:
            print(f"[{self.name}] {message}", flush=True)

    @property
    def route(self):
        """The solvers that solve the program, in turn (:class:`Route`): ``solver``'s alone,
        or with ``solver="auto"`` those of ``auto_route``."""
        if self.solver == "auto":
            return self.auto_route
        return Route.NATIVE if self.solver == "native" else Route.CVXPY

    @property
    def solver_options(self):
        """The keyword arguments that ``solve_native`` and ``solve_program`` share."""
        names = ("beta", "loss", "fit_intercept", "tol", "max_iter", "verbose")
        return {name: getattr(self, name) for name in names}


class DenseProgram:
    """The dense program over ``gates``, built on the first call and kept.

    The CVXPY fallback of ``solver="auto"``: built only when the native solver stops short
    and the program fits in memory. A class, not a closure, so that it travels to workers.
    """

    def __init__(self, formulation, patches, gates, exact=False):
        self.formulation, self.patches, self.gates = formulation, patches, gates
        self.exact = exact  # (whether the gates are n_patterns="exact"'s, for the remedy)
        self._program = None

    def __getstate__(self):
        # without the program built here: after a hand-over in the fitting process, every
        # later call to a worker would pickle it, where the worker builds its own
        return {**self.__dict__, "_program": None}

    def __call__(self):
        if self._program is None:
            check_program_memory(
                *self.patches.shape,
                self.gates.shape[1],
                kind="dense",
                solver="auto",
                exact=self.exact,
                regions=self.formulation.region_sizes,
            )
            self._program = self.formulation.program(self.patches, self.gates)
        return self._program


@dataclasses.dataclass(frozen=True, eq=False)  # (arrays: compared by identity)
class Finishing:
    """What every output's solution goes through after its solve, where it was solved.

    With ``n_jobs`` that is in the workers, in parallel: pruning takes a sizeable share of a
    fit of several outputs (``benchmarks/digits_history.md``), and a CVXPY point's certificate
    can cost more than its solve.

    Attributes
    ----------
    formulation, patches, gates
        Those of the program, for :func:`~._certificate.solution_with_gap` (``certify``).
    certify : bool
        Give a certified duality gap to a solution whose solver reports none (CVXPY's).
    polish : bool
        See :func:`~._certificate.solution_with_gap`.
    residue : {"prune", "clean", None}
        Remove the solver's residue (:func:`~._formulations._pruning.clean_solution`;
        :func:`~._formulations.three_layer.clean_three_layer` for three-layer programs), and
        with ``"prune"`` also prune to at most ``n + 1`` groups (``prune_solution``), where
        the pruned network attains the pruned objective (:meth:`_attains`), and only clean
        where it does not.
    loose : bool
        Whether the gaps of CVXPY's points come from the solver's own dual point (circular,
        three-layer and linear programs: :func:`._convergence.gap_tolerance`).
    """

    formulation: object = None
    patches: object = None
    gates: object = None
    certify: bool = False
    polish: bool = True
    residue: str = None
    loose: bool = False

    def __call__(self, program, solution, y, options):
        """The finished solution.

        Its objective and gap are evaluated on the targets and the intercept centred, as the
        solver saw them (:func:`solve_output`): on targets far from zero, ``f - y`` rounded to
        ``eps |y|`` would put a pruned point's objective above its network's.
        """
        _, offset = centred_targets(y, options.loss, options.fit_intercept)
        centred = y - offset  # (not zeroed where constant: the residuals of y itself)
        solution = dataclasses.replace(solution, intercept=solution.intercept - offset)
        if self.certify and solution.duality_gap is None:
            solution = solution_with_gap(
                self.formulation, self.patches, self.gates, program, solution, centred,
                beta=options.beta, loss=options.loss, fit_intercept=options.fit_intercept,
                polish=self.polish,
            )  # fmt: skip
        elif self.certify and self.residue is None:
            # a point kept as it is (a linear CNN's) is priced at the intercept rounded near
            # the offset, as dropping the residue prices the others': at the exact intercept
            # its objective lies below the network's on targets far from zero. Both dual
            # bounds bound the same optimum: the better is kept
            repriced = solution_with_gap(
                self.formulation, self.patches, self.gates, program, solution, centred,
                beta=options.beta, loss=options.loss, fit_intercept=options.fit_intercept,
                polish=False,
            )  # fmt: skip
            bound = max(point.objective - point.duality_gap for point in (solution, repriced))
            solution = dataclasses.replace(repriced, duality_gap=repriced.objective - bound)
        solution = _empty_if_no_worse(solution, centred, options, offset)
        # (of y itself: centred, it lost the rounding of an intercept near the offset, which
        # the finished point pays and the solver's did not)
        tolerance = gap_tolerance(solution, y, options, loose=self.loose)
        if solution.solver == "native" and solution.converged and solution.duality_gap is not None:
            # the native solver certified its point to tol: dropping the residue may cost only
            # what keeps it there (held to LOOSE_GAP, a cleaned point could leave tol without
            # a warning)
            tight = gap_tolerance(solution, y, options, tight=True)
            tolerance = max(tight - max(solution.duality_gap, 0.0), 0.0)
        solution = self._without_residue(program, solution, centred, options, tolerance)
        solution = dataclasses.replace(solution, intercept=solution.intercept + offset)
        return _converged_if_certified(solution, y, options, loose=self.loose)

    def _without_residue(self, program, solution, y, options, tolerance):
        if self.residue is None:
            return solution
        if isinstance(program, ThreeLayerProgram):
            return clean_three_layer(program, solution, y, beta=options.beta, loss=options.loss)
        # the residue dropped, or where that costs more than the certified tolerance, the
        # groups only put in their cones (rtol=0): on badly scaled columns, groups tiny next
        # to the largest can carry fits that cancel others, and dropping them ruins the point
        for rtol in (RESIDUE, 0.0):
            kept = functools.partial(self._keeps, solution, tolerance, options)
            if self.residue == "prune":
                pruned = prune_solution(
                    program, solution, y, beta=options.beta, loss=options.loss, rtol=rtol
                )
                # (quiet: the cleaned point shares its objective, and says so once)
                if self._attains(pruned, y, options) and kept(pruned, say=False):
                    return pruned
            clean = clean_solution(
                program, solution, y, beta=options.beta, loss=options.loss, rtol=rtol
            )
            if kept(clean, say=rtol > 0.0):
                return clean
        return clean

    def _keeps(self, solution, tolerance, options, finished, *, say):
        """Whether ``finished``, ``solution`` without its residue, keeps its objective to
        ``tolerance``, that of a certified gap (:func:`._convergence.gap_tolerance`); where not, and
        ``say``, says so in a ``verbose`` line."""
        if finished.objective <= solution.objective + tolerance:
            return True
        if say:
            options.log(
                f"dropping the solver's residue took the objective from {solution.objective:.9g}"
                f" to {finished.objective:.9g}: the groups are only put in their cones"
            )
        return False

    def _attains(self, pruned, y, options):
        """Whether the network of ``pruned``, with real ReLUs, attains its objective
        (doc/formulations.md §2.4); pruned and cleaned points share it (the same fit and
        regularizer), so the cleaned one is the fallback. One output's network is its
        share of the estimator's (every neuron reads out to one output)."""
        network = self.formulation.network([pruned], self.patches, self.gates)
        value = network.objective(self.patches, y[:, None], options.beta, options.loss)
        if value <= pruned.objective + 1e-7 * abs(pruned.objective):
            return True
        options.log(
            f"pruning skipped: the pruned network's objective {value:.9g} is above the pruned "
            f"point's {pruned.objective:.9g}; the point is kept unpruned"
        )
        return False


def _converged_if_certified(solution, y, options, *, loose):
    """A finished point that did not converge, converged where its certified gap is within
    tolerance (status kept): :func:`._convergence.gap_tolerance` for a point its conic solver called
    inaccurate before ``max_iter``, as for a point called optimal; ``tol`` itself (and the
    gap's rounding) for any other.

    Clarabel ends circular fits at the default ``tol`` as 'optimal_inaccurate', certified to
    about 1e-5 of the objective, where a point it calls optimal counts as certified up to
    ``LOOSE_GAP``: otherwise every such fit would warn that it did not converge. A native
    point that stalled just short of ``tol`` can come within it once its residue is dropped
    (the objective lower, the dual bound the same), and then converged.
    """
    if (
        solution.converged
        or solution.duality_gap is None
        or outside_its_program(solution, y, options)
    ):
        return solution
    inaccurate = solution.status == "optimal_inaccurate"
    # (a point that spent max_iter stopped short of tol, and is held to tol, not LOOSE_GAP:
    # otherwise it could pass as converged well above the optimum)
    spent = solution.n_iter >= options.max_iter
    # (within tol on both sides: a gap further below zero than tol is a point outside its
    # program by more than tol, which the infeasibility test above admits, as it allows
    # CVXPY's points their accuracy)
    if abs(solution.duality_gap) > gap_tolerance(
        solution, y, options, loose=loose, tight=spent or not inaccurate
    ):
        return solution
    said = "inaccurate point" if inaccurate else f"point (status {solution.status!r})"
    options.log(
        f"{solution.solver}'s {said} is certified to a duality gap of "
        f"{solution.duality_gap:.3e}: converged"
    )
    return dataclasses.replace(solution, converged=True)


def _empty_if_no_worse(solution, y, options, offset=0.0):
    """The network without neurons (its best intercept alone) where it is no worse than
    ``solution``.

    Where that network is optimal (``beta`` at least its largest useful value, or targets that
    the intercept fits exactly) a conic solver leaves tiny neurons that cost as much as they
    fit; on a constant target their gap is the whole objective, and would be warned about.

    ``y`` is centred on ``offset`` (:class:`Finishing`), as the returned intercept is.
    """
    b, _, value = _empty_network(y, options, offset)
    if value > solution.objective:  # (and where coef is zero, b is the best intercept)
        return solution
    gap = solution.duality_gap
    return dataclasses.replace(
        solution,
        coef=np.zeros_like(solution.coef),
        intercept=b,
        objective=value,
        duality_gap=None if gap is None else gap + value - solution.objective,
    )


def _empty_network(y, options, offset=0.0):
    """The network without neurons: its best intercept, its fit and its objective.

    For ``y`` centred on ``offset``, the intercept is the one the network will carry,
    ``offset`` added to it in floats and taken away again (exact near the offset): the
    exact one would put ``objective_`` below the network's at large offsets.
    """
    b = float(best_intercept(options.loss, y)) if options.fit_intercept else 0.0
    b = (b + offset) - offset
    f = np.full(len(y), b)
    return b, f, float(loss_value(options.loss, f, y))


def solve_output(program, y, label, options, dense_program=None, **warm_start):
    """Solve one output's program by the first solver of ``options.route``; with
    ``Route.NATIVE_THEN_CVXPY`` a native solve that fails or stops short hands over to CVXPY
    on ``dense_program()``, when that fits in memory. ``label`` names the output in messages:
    its number, or a classifier's class (the estimators' labels).

    Returns
    -------
    solution : Solution
        Converged or not: :func:`._convergence.unconverged_message` says what the caller
        should warn.

    Raises
    ------
    NotSolved
        If no solver returned a point (a RuntimeError).
    """
    start = time.perf_counter()
    y, offset = centred_targets(y, options.loss, options.fit_intercept)
    if warm_start.get("intercept_init") is not None:
        warm_start = {**warm_start, "intercept_init": warm_start["intercept_init"] - offset}
    native = options.route in (Route.NATIVE, Route.NATIVE_THEN_CVXPY)
    solution, failure = None, None
    try:
        if native and isinstance(program, ThreeLayerProgram):
            # (its solver works at unit scale, where beta=1.7e308 overflows to inf and the
            # empty network's gap to nan)
            solution = _empty_if_optimal(program, y, options) or solve_three_layer(
                program, y, **options.solver_options, **warm_start
            )
        elif native:
            solution = solve_native(program, y, **options.solver_options, **warm_start)
        else:
            solution = _empty_if_optimal(program, y, options) or _solve_cvxpy(program, y, options)
    except SolverFailed as exc:
        failure = exc
    can_hand_over = options.route is Route.NATIVE_THEN_CVXPY and dense_program is not None
    if can_hand_over and _stopped_short(solution):
        solution, failure = _cvxpy_fallback(solution, failure, dense_program, y, options)
    if solution is None:
        raise NotSolved(
            f"The convex program for output {label} could not be solved ({failure}). Try "
            + _other_solvers(options.solver, options.native_supported, options.loss)
            + f"a larger max_iter (it was {options.max_iter}"
            + ("; SCS needs thousands" if options.solver == "scs" else "")
            + "), a larger beta or fewer n_patterns; verbose=2 prints the solver's log."
        ) from failure
    options.log(  # (the line's output is said before it: lines_of_output)
        f"objective {solution.objective:.6g}, "
        f"{solution.solver} {solution.status} in {solution.n_iter} "
        f"iteration{'' if solution.n_iter == 1 else 's'}, "
        f"{time.perf_counter() - start:.2f} s"
        + (f", {blas_threads()} BLAS thread(s)" if options.verbose >= 2 else "")
    )
    return dataclasses.replace(solution, intercept=solution.intercept + offset)


def _empty_if_optimal(program, y, options):
    """The network without neurons where it is optimal, else None: checked before a conic
    solve (and the native three-layer solve) of a two-layer program, by the prices of the
    patterns at that network (the native solver's first step) or, for circular CNNs, a bound
    on them (:func:`_price_bound`), of a three-layer program, by its groups' prices with the
    second layer's multipliers at zero (:func:`_three_layer_price`), or of a linear CNN without
    pooling, by the spectral norm of its correlations (the dual norm of the nuclear norm).

    Far above ``beta_max``, where the answer is known, the conic solvers fail numerically
    (Clarabel and ECOS on logistic programs, the nuclear-norm program) or print errors (SCS
    on a circular program at ``beta=1e308``).
    """
    if isinstance(program, NuclearProgram):
        _, n_patches, patch_size = program.patches.shape
        coef = np.zeros((patch_size, n_patches))
        price = NuclearProgram.dual_norm
    elif isinstance(program, GroupProgram):
        n_patterns, _, patch_size = program.pieces.shape
        coef = np.zeros((2, n_patterns, patch_size))
        price = max_pattern_price if program.norm.is_euclidean else _price_bound
    elif isinstance(program, ThreeLayerProgram):
        n_patterns, _, patch_size = program.pieces.shape
        coef = np.zeros((2, 2, len(program.outer_masks), n_patterns, patch_size))
        price = functools.partial(_three_layer_price, beta=options.beta)
    else:
        return None
    b, f, objective = _empty_network(y, options)
    v = dual_point(options.loss, f, y, options.fit_intercept)
    top = price(program, v)
    if top > options.beta:
        return None
    dual = scaled_dual_objective(
        options.loss, v, y, options.fit_intercept, beta=options.beta, top=top
    )
    options.log(
        f"the network without neurons is optimal (the largest price at it, at most {top:.4g}, "
        "is at most beta): no conic solve"
    )
    return Solution(
        coef=coef,
        intercept=b,
        objective=objective,
        converged=True,
        status="optimal",
        n_iter=0,
        solver="empty network",  # (no solver ran: "objective ..., empty network optimal")
        duality_gap=max(objective - dual, 0.0),
    )


def _price_bound(program, v):
    """An upper bound on the largest price of a program whose group norm is not Euclidean
    (circular CNNs' spectral l1): the dual norm of each pattern's correlation, the price
    without its cone (which only narrows the filters that it is a maximum over)."""
    return float(program.norm.dual(np.einsum("pnh,n->ph", program.pieces, v)).max(initial=0.0))


def _three_layer_price(program, v, *, beta):
    """An upper bound on the largest price of a three-layer program's groups at the dual
    vector ``v``: their prices with the second layer's multipliers at zero, any of which
    scale ``v`` into the dual feasible set (:mod:`._solvers._three_layer`, item 4), exact
    above ``beta``. At most ``beta``, it certifies the empty network, far faster than CVXPY
    finds it on a program of every pattern.
    """
    multipliers = np.zeros((2 * len(program.outer_masks), len(v)))
    return float(three_layer_prices(program, v, multipliers, beta=beta).max(initial=0.0))


def _stopped_short(solution):
    """Whether a native solve that ended at ``solution`` (``None``: it failed) is handed over
    to CVXPY by ``solver="auto"``."""
    if solution is None:
        return True
    # CVXPY cannot improve on a point certified to its own accuracy (a native point stalled
    # at its rounding), and can take far longer than the native solve to end above it
    gap = solution.duality_gap
    certified = gap is not None and gap <= CVXPY_ACCURACY * abs(solution.objective)
    # not at max_iter: the iterations the user allowed are spent (an estimator returns its
    # last iterate then); a conic solver given the same max_iter ends at an infeasible iterate
    return not (solution.converged or certified or solution.status in ITERATIONS_SPENT)


# Solution.tried of a point after a hand-over between the native solver and CVXPY's
_BOTH = frozenset({"native", "cvxpy"})


def _cvxpy_fallback(stopped, failure, dense_program, y, options):
    """CVXPY on ``dense_program()`` where the native solve stopped short at ``stopped`` or
    failed (``stopped`` None, ``failure`` its error).

    Returns the point to keep and CVXPY's failure (``None`` if it solved): the lower of the two
    points where both exist (:func:`_lower_after_handover`), else the one there is (``None``
    if neither), with what was tried in its ``handovers``; ``(stopped, failure)`` as they were
    where the dense program does not fit in memory.
    """
    reason = failure or f"status {stopped.status!r}, duality gap {stopped.duality_gap:.3e}"
    try:
        dense = dense_program()
    except MemoryError as exc:
        options.log(f"no CVXPY fallback: {exc}")
        return stopped, failure
    handover = (
        f"the native solver stopped short ({reason}); solving the full program with CVXPY instead"
    )
    options.log(handover)
    cvxpy, failure = None, None
    try:
        cvxpy = _solve_cvxpy(dense, y, options)
    except SolverFailed as exc:
        failure = exc
    tried = (handover, *(() if cvxpy is None else cvxpy.handovers))
    if stopped is None:
        kept = cvxpy
    elif cvxpy is None:
        kept = stopped
        tried += (f"CVXPY could not solve it either ({failure}): the native point is kept",)
    else:
        kept = _lower_after_handover(stopped, cvxpy, dense_program, y, options)
        # (so that a warning that names the native point after "solving the full program with
        # CVXPY instead" does not read as if CVXPY's had been kept)
        tried += (f"{kept.solver}'s point is the lower, and is kept",)
    if kept is not None:
        kept = dataclasses.replace(kept, handovers=tried, tried=_BOTH)
    return kept, failure


def _solve_cvxpy(program, y, options):
    """``solve_program`` with ``options.solver``, its hand-overs from one CVXPY solver to the
    next said in verbose lines; where the native solver comes next (``Route.CVXPY_THEN_NATIVE``),
    Clarabel and ECOS solve to :data:`AUTO_INTERIOR_TOL` where ``tol`` is looser."""
    native_next = options.route is Route.CVXPY_THEN_NATIVE
    interior_tol = min(options.tol, AUTO_INTERIOR_TOL) if native_next else None
    solution = solve_program(
        program, y, solver=options.solver, interior_tol=interior_tol, **options.solver_options
    )
    for handover in solution.handovers:
        options.log(handover)
    return solution


def _other_solvers(solver, native_supported=True, loss="squared"):
    """The solvers a failure of ``solver`` could still try, as advice ("" for "auto", which
    tries the native solver and CVXPY's). ``native_supported`` as in :class:`SolveOptions`:
    where it is false (a linear CNN without pooling, a nuclear-norm program) neither the
    native solver nor ECOS takes the program (naming them would lead to their refusals);
    where it is true the native solver takes it (a linear CNN with average pooling too). ECOS
    is not named for the logistic loss either: it often fails on its exponential cones where
    Clarabel and SCS do not."""
    if solver == "auto":
        return ""
    takes_ecos = native_supported and loss != "logistic"
    others = ", ".join(
        repr(name) for name in CVXPY_SOLVERS if name != solver and (takes_ecos or name != "ecos")
    )
    if solver == "native":
        return f"a CVXPY solver ({others}), "
    if not native_supported:
        return f"another CVXPY solver ({others}), " if others else ""
    return f"another solver ('native', or {others}), "


def solve_and_finish(program, y, label, options, dense_program, warm_start, finishing):
    """:func:`solve_output`, then ``finishing`` (:class:`Finishing`).

    With ``Route.CVXPY_THEN_NATIVE`` a CVXPY solve that fails, or whose finished point is not
    converged or not certified to ``tol`` (not the ``LOOSE_GAP`` that ``finishing`` allows a
    CVXPY point of its own), hands over to the native solver, started from that point (a verbose
    line, and ``handovers`` on the solution: :func:`._convergence._tried`). Why: CVXPY's points
    of these programs can be certified only to 1e-6 to 4e-4 of the objective, some above the
    optimum, and the native solver started from them certifies them to ``tol`` in about the
    time of the conic solve, several times faster than cold (benchmarks/README.md,
    'solver="auto" on circular and three-layer programs'); where CVXPY fails (Clarabel and
    ECOS on some logistic programs, SCS stopping far short), the native solver solves from
    scratch.

    Where the native solver cannot bring a point that would have passed without it
    (converged, certified to ``CVXPY_ACCURACY``) within ``tol``, the lower point is kept
    without a warning, as that point was. Of two unconverged points the lower is kept,
    certified by the better of their dual bounds (:func:`_lower_unconverged`).

    Returns
    -------
    solution : Solution
        The finished point kept, with what was tried in its ``handovers``.

    Raises
    ------
    NotSolved
        If no solver returned a point.
    """
    try:
        solution = solve_output(program, y, label, options, dense_program, **warm_start)
    except NotSolved as failure:
        if options.route is not Route.CVXPY_THEN_NATIVE:
            raise
        return _natively(program, y, label, options, warm_start, finishing, failure)
    solution = finishing(program, solution, y, options)
    if options.route is not Route.CVXPY_THEN_NATIVE:
        return solution
    if solution.status in ITERATIONS_SPENT and not _tightened(solution, options):
        return solution
    accepted = solution.converged and uncertified_message(solution, y, label, options) is None
    if accepted and (
        solution.duality_gap is None
        or solution.duality_gap <= gap_tolerance(solution, y, options, tight=True)
    ):
        return solution
    polished = _natively(program, y, label, options, warm_start, finishing, solution)
    if accepted and not polished.converged:
        # the native solver could not bring the point within tol: the lower point is accepted
        # as CVXPY's was, within CVXPY_ACCURACY (where it is not, it warns)
        kept = dataclasses.replace(polished, converged=True)
        if uncertified_message(kept, y, label, options) is None:
            return kept
    return polished


def _tightened(solution, options):
    """Whether ``solution`` is the point of a conic solver that "auto" had solve to
    :data:`AUTO_INTERIOR_TOL`, tighter than ``tol``: at ``max_iter`` it spent the iterations
    that the user allowed on that tighter tolerance, not on ``tol``, and goes on to the
    native solver as an uncertified point does (kept as it is, it would be warned about,
    with advice to loosen ``tol``, where the native solver can certify it to ``tol``).
    Under "auto", ``max_iter`` bounds each solver's iterations, not their sum."""
    return solution.solver in INTERIOR_POINT_SOLVERS and options.tol > AUTO_INTERIOR_TOL


def _natively(program, y, label, options, warm_start, finishing, cvxpy):
    """The native solver's finished point where CVXPY's failed (``cvxpy`` the NotSolved)
    or stopped short (``cvxpy`` its finished point): :func:`solve_and_finish`."""
    failed = isinstance(cvxpy, NotSolved)
    if failed:
        what = f"CVXPY could not solve it ({cvxpy.__cause__ or cvxpy})"
        tried = ()
    else:
        gap = (
            "" if cvxpy.duality_gap is None else f", certified duality gap {cvxpy.duality_gap:.3e}"
        )
        what = f"CVXPY's point is not certified to tol (status {cvxpy.status!r}{gap})"
        tried = cvxpy.handovers
        warm_start = {"coef_init": cvxpy.coef, "intercept_init": cvxpy.intercept}
        if cvxpy.multipliers is not None:  # (three layers: the multipliers that certified it)
            warm_start["multipliers_init"] = cvxpy.multipliers
    start = "instead" if failed else "from that point"
    tried += (f"{what}; solving the program with the native solver {start}",)
    options.log(tried[-1])
    native_options = dataclasses.replace(options, solver="native")
    try:
        solution = solve_output(program, y, label, native_options, **warm_start)
    except NotSolved as exc:
        native_failure = exc.__cause__ or exc
        if failed:
            raise NotSolved(
                f"The convex program for output {label} could not be solved: CVXPY "
                f"({cvxpy.__cause__ or cvxpy}), nor the native solver ({native_failure}). Try "
                f"a larger max_iter (it was {options.max_iter}), a larger beta or fewer "
                "n_patterns."
            ) from exc
        tried += (f"the native solver failed ({native_failure}): the CVXPY point is kept",)
        options.log(tried[-1])
        return dataclasses.replace(cvxpy, handovers=tried, tried=_BOTH)
    solution = finishing(program, solution, y, options)
    if not (failed or solution.converged):
        stalled = solution
        solution = _lower_unconverged(solution, cvxpy, y, options)
        # (the warning of the point kept says so: otherwise it read as if the native solve,
        # the last thing tried, had not been run or had been kept)
        tried += (
            f"the native solver stopped short too (status {stalled.status!r}); "
            f"{solution.solver}'s point is kept",
        )
    # (the native solve itself hands over to nothing; CVXPY's own hand-overs are in tried)
    return dataclasses.replace(solution, handovers=tried, tried=_BOTH)


def _lower_unconverged(native, cvxpy, y, options):
    """Of the native solver's and CVXPY's finished, unconverged points of one program, the
    one of the lower objective, certified by the better of their dual bounds
    (:func:`lower_of`); a point without a gap, or outside its program (:func:`outside_its_program`),
    only where the other is too (then the native one).

    The smaller gap alone can keep the higher point, where the lower one's dual bound is
    the worse; the lower point with the better bound has both. A point below the other's
    bound is outside its program too, however its own bound puts it (kept, it would have a
    gap below zero and be called optimal).

    Neither counts as converged but by that bound, within ``tol``: CVXPY's point was handed
    over for a gap above ``tol`` even where its solver called it optimal, and kept with that
    word it would pass the check of CVXPY's own points (``LOOSE_GAP``) without a warning
    (:func:`solve_and_finish` accepts the point kept within ``CVXPY_ACCURACY`` where CVXPY's
    was).
    """
    native, cvxpy = (
        dataclasses.replace(point, converged=False) if point.converged else point
        for point in (native, cvxpy)
    )
    inside = [
        point
        for point in (native, cvxpy)
        if point.duality_gap is not None and not outside_its_program(point, y, options)
    ]
    if len(inside) == 2:
        bound = max(point.objective - point.duality_gap for point in inside)
        inside = [
            point
            for point in inside
            if point.objective - bound >= -gap_tolerance(point, y, options)
        ]
    if len(inside) < 2:
        return inside[0] if inside else native
    lower = lower_of(native, cvxpy, lambda objective: options.tol * abs(objective))
    options.log(f"{lower.solver}'s point is the lower; duality gap {lower.duality_gap:.3e}")
    return lower


# Held while a worker process's solve has its warnings recorded and its BLAS limited: both are
# the process's state, and a dask worker runs tasks in threads; two outputs interleaved there
# can leave the worker's warnings silenced for good.
_WORKER_STATE = threading.Lock()


def solve_in_worker(
    program,
    y,
    n_outputs,
    options,
    dense_program,
    warm_start,
    finishing,
    caller,
    label,
):
    """:func:`solve_and_finish` of the output that its errors call ``label``;
    returns the finished solution and the warnings to issue again, as ``(message, category)``
    pairs.

    In a worker process (not the process ``caller``, a process id) the BLAS threads are
    limited to one (as :func:`._parallel.blas_limited` does) and the warnings recorded, as
    they would otherwise never reach the caller. In the caller's own process (sequential, or
    joblib's threading backend) neither: both are process-wide state that concurrent threads
    would corrupt (a thread restoring the filters another one replaced leaves every later
    warning of the process silenced), and the warnings reach the caller as they are raised.
    A worker process with several threads (a dask worker's) solves one output at a time.
    Progress lines say whose output they are (:func:`lines_of_output`).
    """
    solve = functools.partial(
        solve_and_finish, program, y, label, options, dense_program, warm_start
    )
    if os.getpid() == caller:
        with lines_of_output(label, n_outputs) if options.verbose else contextlib.nullcontext():
            return solve(finishing), []
    with (
        _WORKER_STATE,
        warnings.catch_warnings(record=True) as caught,
        threadpool_limits(limits=1, user_api="blas"),
        lines_of_output(label, n_outputs),
    ):
        warnings.simplefilter("always")
        try:
            finished = solve(finishing)
        except NotSolved as exc:  # (the caller issues them before the error: caught_warnings)
            exc.caught_warnings = [(w.message, w.category) for w in caught]
            raise
    return finished, [(w.message, w.category) for w in caught]


@contextlib.contextmanager
def lines_of_output(label, n_outputs):
    """Each line printed in the block after ``[output <label>] ``, where there are several
    outputs: the workers' lines interleave, and a solver's own lines do not say whose they
    are. ``label`` is the output's name in warnings (its number, and a classifier's class).

    Only in a process's main thread: ``sys.stdout`` is the process's, and fits in other
    threads (joblib's threading backend, a dask worker) restoring it in another order than
    they replaced it would leave it prefixed for good.
    """
    if n_outputs == 1 or threading.current_thread() is not threading.main_thread():
        yield
        return
    # (closing the stream writes out a last line without its newline)
    with _Prefixed(sys.stdout, f"[output {label}] ") as prefixed:
        with contextlib.redirect_stdout(prefixed):
            yield


class _Prefixed(io.TextIOBase):
    """A text stream that writes each line to ``stream`` after ``prefix``."""

    def __init__(self, stream, prefix):
        self.stream, self.prefix, self._line = stream, prefix, ""

    def write(self, text):
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            self.stream.write(f"{self.prefix}{line}\n")
        return len(text)

    def flush(self):
        if self._line:
            self.stream.write(self.prefix + self._line)
            self._line = ""
        self.stream.flush()


def _lower_after_handover(native, cvxpy, dense_program, y, options):
    """Of a stopped native point and CVXPY's point for the same program, the one of the
    lower objective, certified by the better of their dual bounds.

    On badly scaled data CVXPY can end far above where the native solver stopped; where it
    ends below, its dual bound may still be the worse one, or the better
    (benchmarks/README.md, "Inputs of a large scale or at a small beta"). Both bound the
    same optimum.

    CVXPY's point is compared once its groups are put in their cones: an interior point that
    stopped early can leave them, and its objective is then below the optimum, where the
    point put in its cones can be far above it.
    """
    dense = dense_program()  # (built already: kept)
    cvxpy = solution_with_gap(
        dense_program.formulation,
        dense_program.patches,
        dense_program.gates,
        dense,
        cvxpy,
        y,
        beta=options.beta,
        loss=options.loss,
        fit_intercept=options.fit_intercept,
        # (a linear CNN's group lasso has no pattern to polish over: one group and no gate,
        # which the polish would index; its own finishing does not polish it either)
        polish=not isinstance(dense_program.formulation, LinearFormulation),
    )
    cvxpy = clean_solution(dense, cvxpy, y, beta=options.beta, loss=options.loss)
    lower = lower_of(native, cvxpy, lambda objective: options.tol * abs(objective))
    options.log(f"{lower.solver}'s point is the lower; duality gap {lower.duality_gap:.3e}")
    return lower


def blas_threads():
    """Threads of the BLAS libraries loaded in this process (the largest pool)."""
    pools = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(pools, default=1)
