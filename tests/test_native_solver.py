"""The native solver against CVXPY + Clarabel, and its certificate checked independently.

The independent check solves the *dual* program with CVXPY (the Lagrangian form of the KKT test,
``||+-A_i^T v + G_i^T lam|| <= beta`` with ``lam >= 0``), so a native objective below the dual
optimum, or a reported gap smaller than its distance to the dual optimum, would fail, to
CVXPY's accuracy (about 1e-9 of the objective); a negative gap fails to rounding.
"""

import pickle
import tracemalloc
import types
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor, convex_cnn_path
from sklearn_convexcnn._formulations._operator import (
    DenseOperator,
    PatchOperator,
    StackedOperator,
)
from sklearn_convexcnn._formulations._program import GroupNorm, GroupProgram
from sklearn_convexcnn._formulations.circular import CircularFormulation, spectral_blocks
from sklearn_convexcnn._formulations.two_layer import make_formulation, patch_pools
from sklearn_convexcnn._optimality import (
    _block_price,
    cone_prices,
    cone_projections,
    dual_objective,
    dual_point,
    duality_gap,
    max_pattern_price,
    pattern_prices,
    project_onto_cone,
)
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import SolverFailed, _faces, _native, _restricted, solve_cvxpy
from sklearn_convexcnn._solvers._native import _price, _PriceMemory, solve_native
from sklearn_convexcnn._solvers._solution import Solution, certifiable_gap, lower_of, target_gap

from ._cones import (
    ROUNDING_RTOL,
    SOLVER_RTOL,
    assert_groups_in_cones,
    assert_in_cone,
    assert_operator_point_feasible,
)
from ._reference import planted_targets


def _problem(seed, loss, n=30, length=8, kernel=3, n_patterns=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, length))
    patches = extract_patches(X, resolve_geometry(None, kernel, 1, length))
    filters = rng.standard_normal((2, kernel))
    y = np.maximum(patches @ filters.T, 0).mean(axis=1) @ [1.0, -1.0]
    y = y + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    gates = formulation.sample_gates(patches, n_patterns, rng)
    return patches, gates, y, formulation


def _beta(program, loss, y, fit_intercept, fraction=0.2):
    """``fraction`` of the smallest beta whose optimum is the empty network."""
    f = np.zeros(len(y))
    if fit_intercept:
        f += y.mean() if loss == "squared" else np.log((1 + y.mean()) / (1 - y.mean()))
    return fraction * pattern_prices(program, dual_point(loss, f, y, fit_intercept)).max()


def _dual_optimum(program, loss, y, beta, fit_intercept):
    """The dual program solved by CVXPY: an independent lower bound on the optimum."""
    n_patterns, n_samples, _ = program.pieces.shape
    v = cp.Variable(n_samples)
    constraints = []
    for i in range(n_patterns):
        for sign in (1.0, -1.0):
            lam = cp.Variable(program.cones.shape[1], nonneg=True)
            constraints.append(
                cp.norm(sign * program.pieces[i].T @ v + program.cones[i].T @ lam) <= beta
            )
    if fit_intercept:
        constraints.append(cp.sum(v) == 0)
    if loss == "squared":
        objective = y @ v - 0.5 * cp.sum_squares(v)
    else:
        p = cp.multiply(y, v)
        objective = cp.sum(cp.entr(p) + cp.entr(1 - p))
    problem = cp.Problem(cp.Maximize(objective), constraints)
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return problem.value


def _reference(program, y, beta, loss, fit_intercept):
    for solver in ("clarabel", "ecos", "scs"):
        try:
            return solve_cvxpy(
                program,
                y,
                beta=beta,
                loss=loss,
                fit_intercept=fit_intercept,
                solver=solver,
                tol=1e-9,
                max_iter=200 if solver != "scs" else 200_000,
            )
        except SolverFailed:  # (some conic solvers fail on exponential cones; bugs raise)
            continue
    pytest.fail("no CVXPY solver solved the reference program")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_matches_cvxpy_and_dual(seed, loss, fit_intercept):
    patches, gates, y, formulation = _problem(seed, loss)
    program = formulation.program(patches, gates)
    operator = formulation.operator(patches, gates)
    beta = _beta(program, loss, y, fit_intercept)
    tol = 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        native = solve_native(
            operator, y, beta=beta, loss=loss, fit_intercept=fit_intercept, tol=tol, max_iter=200
        )
    assert native.converged
    reference = _reference(program, y, beta, loss, fit_intercept)
    assert native.objective == pytest.approx(reference.objective, rel=1e-6)

    # the returned point is feasible and its objective is what the solver reports
    norms = np.linalg.norm(native.coef, axis=2)
    assert np.count_nonzero(norms) >= 1
    assert_groups_in_cones(program.cones, native.coef, rtol=SOLVER_RTOL)
    f = program.fit_values(native.coef) + native.intercept
    if loss == "squared":
        value = 0.5 * np.sum((f - y) ** 2)
    else:
        value = np.sum(np.logaddexp(0, -y * f))
    value += beta * norms.sum()
    assert value == pytest.approx(native.objective, rel=1e-12)

    # certificate: the dual optimum (computed independently) lies within the reported gap
    dual = _dual_optimum(program, loss, y, beta, fit_intercept)
    assert native.objective >= dual - 1e-7 * abs(dual)
    assert native.objective - dual <= native.duality_gap + 1e-7 * abs(dual)
    gap, lower = duality_gap(
        program, loss, f, y, beta=beta, primal=native.objective, fit_intercept=fit_intercept
    )
    assert lower <= dual + 1e-7 * abs(dual)
    # (CVXPY's dual is accurate to about 1e-9 of the objective only: it cannot resolve tol.)
    # The solver's gap and duality_gap's, from its own pricing of every pattern, are both
    # non-negative up to rounding (a dual bound above the optimum is a negative gap) and
    # certify the point to tol
    for certified in (native.duality_gap, gap):
        assert -1e-12 * native.objective <= certified <= tol * native.objective


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_gap_of_an_unfinished_native_solve_bounds_the_dual_optimum(monkeypatch, loss):
    # the solves above end at rounding, where a gap of 0 would pass too (a helper's mutation):
    # one stopped early has a gap to certify, and it must reach below the dual optimum
    monkeypatch.setattr(_native, "_groups_per_round", lambda work: 1)
    patches, gates, y, formulation = _problem(1, loss, n_patterns=16)
    program = formulation.program(patches, gates)
    beta = _beta(program, loss, y, True, fraction=0.05)
    native = solve_native(
        formulation.operator(patches, gates), y, beta=beta, loss=loss, fit_intercept=True,
        tol=1e-9, max_iter=1,
    )  # fmt: skip
    dual = _dual_optimum(program, loss, y, beta, True)
    assert not native.converged
    assert native.objective - dual > 1e-3 * abs(dual)
    assert native.objective - native.duality_gap <= dual + 1e-8 * abs(dual)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_without_candidate_rows_matches_cvxpy(loss):
    # the problems above never reach the feasibility rounds (their candidate rows hold every
    # row the optimum needs): without candidates, the rounds must find the rows
    patches, gates, y, formulation = _problem(0, loss)
    program = formulation.program(patches, gates)
    operator = formulation.operator(patches, gates, with_candidates=False)
    beta = _beta(program, loss, y, True)
    native = solve_native(
        operator, y, beta=beta, loss=loss, fit_intercept=True, tol=1e-9, max_iter=200
    )
    assert native.converged
    assert_groups_in_cones(program.cones, native.coef, rtol=SOLVER_RTOL)
    reference = _reference(program, y, beta, loss, True)
    assert native.objective == pytest.approx(reference.objective, rel=1e-6)


def test_native_point_is_feasible_on_degenerate_binary_images():
    # found by test_fuzz: 0/1 images with repeated rows and beta=0.001, where Newton steps
    # over faces left the kept rows' cones (relative slack -0.16) and the native solver
    # reported a negative duality gap; the face method checks its point and hands over, and
    # the cause (blocked steps on a singular Hessian) is fixed in _faces._BlockedSteps
    X = np.array(
        [
            [1, 0, 0, 0, 0, 1, 1, 1],
            [0, 0, 1, 1, 1, 0, 0, 1],
            [0, 1, 1, 0, 0, 1, 1, 1],
            [1, 0, 1, 1, 1, 0, 0, 1],
            [0, 0, 0, 0, 1, 0, 1, 1],
            [1, 1, 1, 0, 0, 0, 1, 1],
            [0, 0, 0, 0, 0, 0, 0, 1],
        ],
        dtype=float,
    )
    y = np.where(np.arange(7) % 3 == 0, 1.0, -1.0)
    geometry = resolve_geometry((4, 1, 2), (4, 1), 1, 8)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("average", None, "sum", geometry.grid_shape)
    gates = formulation.sample_gates(patches, 12, np.random.RandomState(0))
    program = formulation.program(patches, gates)
    options = dict(beta=0.001, loss="squared", fit_intercept=True)
    solution = solve_native(
        formulation.operator(patches, gates), y, tol=1e-7, max_iter=500, **options
    )
    assert_groups_in_cones(program.cones, solution.coef, rtol=SOLVER_RTOL)
    assert solution.duality_gap >= -1e-12 * solution.objective
    reference = _reference(program, y, **options)
    assert solution.objective == pytest.approx(reference.objective, rel=1e-6)


def test_native_solver_runs_past_the_stall_window_while_it_makes_progress(monkeypatch):
    # one group per round: more working-set iterations than the stall window, every one of
    # them decreasing the objective (the first version of the rule compared with inf - inf)
    monkeypatch.setattr(_native, "_groups_per_round", lambda work: 1)
    patches, gates, y, formulation = _problem(2, "squared", n=60, n_patterns=64)
    operator = formulation.operator(patches, gates)
    beta = _beta(operator, "squared", y, True, fraction=0.01)
    solution = solve_native(
        operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500
    )
    assert solution.converged
    assert solution.n_iter > _native._STALL_ITERATIONS


@pytest.mark.parametrize(
    "n_patterns, pool_size, most",
    [(64, None, 12), (16, 4, 8)],  # K P / (16 h): 16 * 64 / 80 = 12; 4 * 64 / 80 = 3, so 8
)
def test_a_working_set_of_many_groups_grows_by_half_its_size_a_round(
    monkeypatch, n_patterns, pool_size, most
):
    # every round is a pass over all the signs: 8 groups a round took 44 rounds where a fit
    # ends with 236 neurons (4 regions, 30,000 signals), half the set a round 19; where the
    # pass is cheap (few patches and patterns a sample), 8 stay the most
    original, added = _native._add_candidates, []

    def recording(work, memory, candidates):
        added.append((len(work), len(candidates)))
        return original(work, memory, candidates)

    monkeypatch.setattr(_native, "_add_candidates", recording)
    rng = np.random.default_rng(0)
    X, filters = rng.standard_normal((100, 20)), rng.standard_normal((2, 5))
    y = np.maximum(X[:, 2:7] @ filters[0], 0) - np.maximum(X[:, 11:16] @ filters[1], 0)
    reg = ConvexCNNRegressor(
        beta=0.003, kernel_size=5, pool_size=pool_size, readout="dense", random_state=0,
        n_patterns=n_patterns, solver="native",
    )  # fmt: skip
    reg.fit(X, y)
    assert reg.duality_gap_ <= reg.tol * reg.objective_
    assert all(count <= max(8, min(size // 2, most)) for size, count in added)
    assert max(count for _, count in added) == most
    assert max(size for size, _ in added) >= 2 * most + 2  # (the premise: sets large enough)


def _small_solve():
    """The native solve of a small problem at ``beta=0.01``, and the problem."""
    patches, gates, y, formulation = _problem(0, "squared")
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.01, loss="squared",
        fit_intercept=True, tol=1e-8, max_iter=500,
    )  # fmt: skip
    return solution, (patches, gates, y, formulation)


def _objective_of(solution, problem, beta=0.01):
    """The objective of ``solution``'s point in ``problem``, from the dense program."""
    patches, gates, y, formulation = problem
    pieces = formulation.program(patches, gates).pieces
    f = np.einsum("pnh,ph->n", pieces, solution.coef[0] - solution.coef[1]) + solution.intercept
    return 0.5 * np.sum((f - y) ** 2) + beta * np.linalg.norm(solution.coef, axis=2).sum()


def _unmoved(work, y, b, *args, feasibility=True, **kwargs):
    """A ``_restricted_then_feasible`` whose solves never move the point."""
    return b, feasibility or not _native._violated_rows(work)


def test_interior_points_outside_their_kept_rows_are_put_back(monkeypatch):
    # the feasibility rounds check only the rows not kept yet: a restricted QP whose point
    # leaves its kept rows (Clarabel's 'AlmostSolved' allows 1e-4) was taken for feasible,
    # and the solve stalled at a point outside its cones, below the optimum
    solve_qp = _restricted.solve_qp

    def leaving_qp(M, weights, gram, linear, beta, h, kept_rows, *args, **kwargs):
        x, multipliers = solve_qp(M, weights, gram, linear, beta, h, kept_rows, *args, **kwargs)
        x = x.copy()
        for j, rows in enumerate(kept_rows):
            c = x[j * h : (j + 1) * h]
            if len(rows) and c.any():  # across its tightest kept row by 1e-5 of its norm
                row = rows[np.argmin(rows @ c / np.linalg.norm(rows, axis=1))]
                c -= 1e-5 * np.linalg.norm(c) * row / np.linalg.norm(row)
        return x, multipliers

    def no_faces(*args, **kwargs):
        raise _native.FacesFailed("the interior point's turn")

    reference, problem = _small_solve()
    monkeypatch.setattr(_restricted, "solve_qp", leaving_qp)
    monkeypatch.setattr(_native, "solve_on_faces", no_faces)
    monkeypatch.setattr(_native, "polish", lambda *args, **kwargs: None)
    solution, _ = _small_solve()
    patches, gates, _, formulation = problem
    assert solution.status == "optimal"
    assert_operator_point_feasible(
        formulation.operator(patches, gates), solution.coef, rtol=SOLVER_RTOL
    )
    assert solution.objective == pytest.approx(reference.objective, rel=1e-8)
    assert _objective_of(solution, problem) == pytest.approx(solution.objective, rel=1e-12)


def test_restricted_qps_on_small_inputs_are_solved_again_in_the_datas_units(monkeypatch):
    # an exactness fuzzer, with the face method off: on inputs of size 1e-3 every QP of the
    # interior point ended 'AlmostSolved' and the solve stalled 0.9 % above the optimum (on
    # another problem a QP failed and the solve returned the empty network, 3.2x above it)
    rng = np.random.default_rng(84)
    length, kernel = int(rng.integers(5, 10)), int(rng.integers(2, 4))
    X = 1e-3 * rng.standard_normal((20, length))
    patches = extract_patches(X, resolve_geometry((length,), kernel, 1, length))
    y = np.maximum(patches @ rng.standard_normal((2, kernel)).T, 0).mean(axis=1) @ [1.0, -1.0]
    y = y + 0.1 * np.std(y) * rng.standard_normal(20)
    y = y / np.std(y)
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    gates = formulation.sample_gates(patches, 11, rng)
    operator = formulation.operator(patches, gates)
    beta = 0.0117 * pattern_prices(operator, dual_point("squared", np.full(20, y.mean()), y, True))
    options = dict(beta=beta.max(), loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    reference = solve_native(operator, y, **options)

    def no_faces(*args, **kwargs):
        raise _native.FacesFailed("the interior point's turn")

    monkeypatch.setattr(_native, "solve_on_faces", no_faces)
    solution = solve_native(operator, y, **options)
    assert reference.status == solution.status == "optimal"
    assert solution.objective == pytest.approx(reference.objective, rel=1e-9)


@pytest.mark.parametrize("scale, tried", [(1e-3, 2), (100.0, 1)])
def test_only_qps_of_small_entries_are_tried_again_in_the_datas_units(monkeypatch, scale, tried):
    # scaled down, the QPs of logistic signals of size 100 were 'AlmostSolved' again, and
    # one that failed as given (which ends the proximal Newton steps) went on for 13 more:
    # bad_scales.py's row took 17 s against 2 s, and ended further from its certificate
    rng = np.random.default_rng(0)
    n, h = 30, 3
    M = np.hstack([scale * rng.standard_normal((n, 2 * h)), np.ones((n, 1))])
    y = M[:, :h] @ [1.0, -2.0, 0.5] / scale + 0.1 * rng.standard_normal(n)
    calls = []

    def almost(*args, **kwargs):
        calls.append(args[4])
        return "AlmostSolved", np.zeros(M.shape[1]), np.zeros(0)

    monkeypatch.setattr(_restricted, "_clarabel_qp", almost)
    kept_rows = [np.zeros((0, h))] * 2
    _restricted.solve_qp(
        M, np.ones(n), M.T @ M, -(M.T @ y), 0.1, h, kept_rows, 1e-10, np.eye(h)[None]
    )
    assert len(calls) == tried


def test_cone_rows_that_keep_coming_stall_the_solve(monkeypatch):
    # a group whose violated rows never run out (a degenerate cone) ended the feasibility
    # rounds after 1000, its point taken for feasible and certified
    monkeypatch.setattr(_native, "_violated_rows", lambda work: [(0, np.array([0]))])
    solution, _ = _small_solve()
    assert solution.status == "stalled"
    assert not solution.converged


def test_native_solver_stops_when_the_objective_stops_decreasing(monkeypatch):
    # restricted solves that never move: pricing keeps finding groups, the objective stays
    monkeypatch.setattr(_native, "_restricted_then_feasible", _unmoved)
    solution, (patches, gates, y, formulation) = _small_solve()
    assert solution.status == "stalled"
    assert solution.duality_gap > 0
    # (lost, far from its certificate, it tried again from larger betas, stalling there too)
    options = dict(loss="squared", fit_intercept=True, tol=1e-8, max_iter=500, verbose=0)
    first = _native._solve(formulation.operator(patches, gates), y, beta=0.01, **options)
    assert first.status == "stalled"
    assert first.n_iter == _native._STALL_ITERATIONS < solution.n_iter


def _separable_labels():
    """A path fuzz's problem where a cold start at beta = 1e-5 beta_max got lost: nearly
    separable labels, the faces cycled and the interior point ran out of iterations from
    filters of norm 1e3, stalling at 0.1809, 97 % of it above its certificate (Clarabel after
    it: 0.1078); the path from larger betas certifies 0.0805868. The faces cycled because
    their line search refused Newton steps below 1e-12 (:func:`~._faces._shortest`); with
    that floor the cold start is lost still."""
    rng = np.random.default_rng(4)
    X, w = rng.standard_normal((30, 36)), rng.standard_normal(3)
    y = np.maximum(X[:, 2:5] @ w, 0) - np.maximum(X[:, 5:8] @ w[::-1], 0)
    y = y + 0.3 * rng.standard_normal(30)
    y = np.where(y > np.median(y), 1.0, -1.0)
    params = dict(
        kernel_size=(2, 2), input_shape=(6, 6), n_patterns=16, random_state=4, pool_size=2,
        loss="logistic", fit_intercept=False,
    )  # fmt: skip
    return X, y, params, 5.247993997175879e-05


def test_newton_steps_far_shorter_than_their_direction_find_a_lost_cold_start():
    X, y, params, beta = _separable_labels()
    clf = ConvexCNNClassifier(beta=beta, solver="native", **params).fit(X, y)
    operator = clf._fitted_program.formulation.operator(
        extract_patches(X, clf.geometry_), clf.gates_
    )
    options = dict(beta=beta, loss="logistic", fit_intercept=False, tol=1e-7, max_iter=500)
    first = _native._solve(operator, y, verbose=0, **options)
    assert first.status == "optimal"
    assert first.objective == pytest.approx(clf.objective_, rel=1e-7)


def test_a_cold_start_lost_at_a_small_beta_is_solved_again_from_larger_betas(monkeypatch):
    # lost with the faces' line search as it was (the test above), proximal Newton's first
    # step taken whole (since a line search on it from a feasible start, the cold start is
    # not lost) and the logistic model's targets as far as they go (since _LARGEST_MOVE, the
    # steps after that first one are solved): what the second try is for
    monkeypatch.setattr(_faces, "_shortest", lambda *args: 1e-12)
    monkeypatch.setattr(_restricted, "_feasible", lambda *args: False)
    monkeypatch.setattr(_restricted, "_LARGEST_MOVE", np.inf)
    X, y, params, beta = _separable_labels()
    path = convex_cnn_path(X, y, betas=beta * np.array([1e4, 1e3, 1e2, 10, 1]), **params)
    clf = ConvexCNNClassifier(beta=beta, solver="native", **params).fit(X, y)
    assert clf.objective_ == pytest.approx(path[3][-1], rel=1e-7)
    assert clf.duality_gap_ <= 1e-7 * clf.objective_
    # the first solve alone is lost: what the second try is for
    formulation = clf._fitted_program.formulation
    operator = formulation.operator(extract_patches(X, clf.geometry_), clf.gates_)
    options = dict(beta=beta, loss="logistic", fit_intercept=False, tol=1e-7, max_iter=500)
    first = _native._solve(operator, y, verbose=0, **options)
    assert first.status == "stalled" and first.duality_gap > 0.5 * first.objective
    # a warm start from no neuron (the path from beta=10) is a cold start, and tries again
    # (a review: it did not, and ended at 0.1809 with a warning)
    empty_first = convex_cnn_path(X, y, betas=np.array([10.0, beta]), **params)
    assert empty_first[3][-1] == pytest.approx(path[3][-1], rel=1e-7)
    # the second try within max_iter: where that runs out, the advice is more iterations,
    # not a stall's (12 certify it)
    short = ConvexCNNClassifier(beta=beta, solver="native", max_iter=11, **params)
    with pytest.warns(ConvergenceWarning, match="'max_iter reached' after 11 iterations.*max_iter"):
        short.fit(X, y)


def test_the_second_try_certifies_the_lower_point_by_the_better_bound(monkeypatch):
    # the lost point is the lower one, and the second try's dual bound certifies it (a
    # review: the point came back 'stalled', unconverged, with a gap of 0)
    def point(objective, gap, status="stalled"):
        return Solution(np.zeros((2, 1, 2)), 0.0, objective, False, status, 3, "native", gap)

    answers = iter([point(1.0, 0.9), point(0.0, 0.0, "optimal"), point(0.5, 0.1), point(1.2, 0.2)])
    monkeypatch.setattr(_native, "_solve", lambda *args, **kwargs: next(answers))
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-7, max_iter=500)
    patches, gates, y, formulation = _problem(0, "squared")
    solution = solve_native(formulation.operator(patches, gates), y, **options)
    assert solution.objective == 1.0 and solution.duality_gap == 0.0
    assert solution.converged and solution.status == "optimal"
    assert solution.n_iter == 12


def test_a_failed_restricted_solve_returns_the_last_certified_point(monkeypatch):
    # logistic loss on inputs of size 1e3 at beta=0.01: the interior point, the last resort,
    # stopped with InsufficientProgress, and the error lost a point certified to 5e-7
    original, points = _native._restricted_then_feasible, []

    def failing_after_the_first(*args, feasibility=True, in_units=False, verbose=0):
        # (every solve makes its point feasible: the rows do not wait, so that the first
        # point, of one group, is certified and short of the optimum)
        if points:
            raise _native.SolverFailed("the restricted problem stopped with InsufficientProgress")
        points.append(original(*args, in_units=in_units))
        return points[-1]

    monkeypatch.setattr(_native, "_restricted_then_feasible", failing_after_the_first)
    # (one group a round: iterations enough to fail in)
    monkeypatch.setattr(_native, "_groups_per_round", lambda work: 1)
    solution, problem = _small_solve()
    assert solution.status == "stalled" and len(points) == 1
    assert solution.intercept == points[0][0]
    assert np.any(solution.coef) and 0 < solution.duality_gap < np.inf
    # the returned point is the one its objective and gap were computed for
    assert solution.objective == pytest.approx(_objective_of(solution, problem), rel=1e-12)


def test_a_warm_start_whose_first_solve_fails_starts_cold(monkeypatch, capsys):
    # the warm start's restricted solve raised, where the empty network is a start too
    reference, (patches, gates, y, formulation) = _small_solve()
    original, calls = _native._restricted_then_feasible, []

    def failing_first(*args, **kwargs):
        calls.append(len(args[0]))  # (the working set's size)
        if len(calls) == 1:
            raise _native.SolverFailed("the restricted problem stopped with InsufficientProgress")
        return original(*args, **kwargs)

    monkeypatch.setattr(_native, "_restricted_then_feasible", failing_first)
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.01, loss="squared", fit_intercept=True,
        tol=1e-8, max_iter=500, coef_init=reference.coef, intercept_init=reference.intercept,
        verbose=1,
    )  # fmt: skip
    assert calls[0] == np.count_nonzero(np.linalg.norm(reference.coef, axis=2))
    assert calls[1] <= _native._GROUPS_PER_ROUND  # (from the empty network)
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(reference.objective, rel=1e-8)
    assert "the warm start failed (the restricted problem stopped with Insuff" in (
        capsys.readouterr().out
    )


def test_verbose_says_when_the_interior_point_takes_over_from_the_faces(monkeypatch, capsys):
    # a fit whose face solves fail is several times slower (a digits class before fa33eb8:
    # 13 s, where it now takes 1.6 s), and nothing said why
    reference, (patches, gates, y, formulation) = _small_solve()

    def failing(*args, **kwargs):
        raise _native.FacesFailed("the face changed 60 times")

    monkeypatch.setattr(_native, "solve_on_faces", failing)
    operator = formulation.operator(patches, gates)
    options = dict(beta=0.01, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    solve_native(operator, y, **options)
    assert capsys.readouterr().out == ""
    solution = solve_native(operator, y, verbose=1, **options)
    assert solution.objective == pytest.approx(reference.objective, rel=1e-8)
    assert (
        "[native] the face method stopped (the face changed 60 times): the restricted problem "
        "by the interior point\n"
    ) in capsys.readouterr().out


def test_a_solve_that_stops_short_returns_its_lowest_point(monkeypatch):
    # inputs of size 100 at beta=0.001: after the faces had settled at 30.14, the interior
    # point's restricted solve ended at 31.22, and the solver returned that
    original, objectives = _native._restricted_then_feasible, []

    def worse_from_the_third_time(
        work, y, b, beta, loss, *args, feasibility=True, in_units=False, verbose=0
    ):
        # (the rows do not wait)
        b, feasible = original(work, y, b, beta, loss, *args, in_units=in_units)
        if len(objectives) >= 2:  # still in the cones (they are cones), but further from y
            work.coef = 0.5 * work.coef
        coef = work.coef
        f = work.design(intercept=True) @ np.append(coef.ravel(), b)
        objectives.append(0.5 * np.sum((f - y) ** 2) + beta * np.linalg.norm(coef, axis=1).sum())
        return b, feasible

    monkeypatch.setattr(_native, "_restricted_then_feasible", worse_from_the_third_time)
    monkeypatch.setattr(_native, "_groups_per_round", lambda work: 1)
    solution, problem = _small_solve()
    assert solution.status == "stalled"
    assert objectives[-1] > min(objectives)
    assert solution.objective == pytest.approx(min(objectives), rel=1e-12)
    assert solution.objective == pytest.approx(_objective_of(solution, problem), rel=1e-12)


def test_duality_gap_is_to_the_best_dual_point_so_far(monkeypatch):
    # every scaled dual point bounds the same optimum; a worse one later (here made worse on
    # purpose, from the second call on) must not undo the certificate of an earlier one
    monkeypatch.setattr(_native, "_restricted_then_feasible", _unmoved)
    original, values = _native.scaled_dual_objective, []

    def scaled_dual_objective(*args, **kwargs):
        values.append(original(*args, **kwargs) - (1.0 if values else 0.0))
        return values[-1]

    monkeypatch.setattr(_native, "scaled_dual_objective", scaled_dual_objective)
    solution, _ = _small_solve()
    assert len(values) > 2
    assert solution.duality_gap == pytest.approx(solution.objective - values[0], rel=1e-12)


def test_face_method_settles_on_pixels_of_0_to_255(monkeypatch):
    # 3x3 patches of digits scaled to 0-255 are large and nearly collinear: the gradients
    # round to about 1e-7 while the KKT test asked for 1e-8 (1e-7 * beta). The face method
    # then stopped as if it cycled, and the interior point took over (ten times slower)
    from sklearn.datasets import load_digits

    from sklearn_convexcnn._solvers import _faces

    calls, failures = [], []

    def solve_on_faces(*args, **kwargs):
        calls.append(1)
        try:
            return _faces.solve_on_faces(*args, **kwargs)
        except _faces.FacesFailed as exc:
            failures.append(str(exc))
            raise

    monkeypatch.setattr(_native, "solve_on_faces", solve_on_faces)
    X, y = load_digits(return_X_y=True)
    model = ConvexCNNRegressor(
        input_shape=(8, 8), n_patterns=16, beta=0.1, solver="native", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X[:300] * 16, np.where(y[:300] == 2, 1.0, -1.0))
    assert calls and failures == []
    assert model.duality_gap_ <= model.tol * model.objective_


def test_nearly_separable_digits_take_newton_steps_far_shorter_than_their_direction(
    monkeypatch,
):
    # 3s against 8s at beta=0.01: nearly singular face Hessians ask for Newton directions
    # far longer than the point, whose steps (down to 8e-19 of them) the line search refused
    # below 1e-12; the faces then changed 60 times and the interior point took over
    from sklearn.datasets import load_digits

    calls, original = [], _native.proximal_newton

    def proximal_newton(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_native, "proximal_newton", proximal_newton)
    X, y = load_digits(return_X_y=True)
    X, y = X[np.isin(y, [3, 8])], y[np.isin(y, [3, 8])]
    chosen = np.random.default_rng(1).permutation(len(y))[:200]
    clf = ConvexCNNClassifier(
        beta=0.01, loss="logistic", kernel_size=3, input_shape=(8, 8), n_patterns=32,
        random_state=1,
    ).fit(X[chosen], y[chosen])  # fmt: skip
    assert calls == []
    assert clf.duality_gap_ <= clf.tol * clf.objective_


def test_squared_loss_faces_use_the_design_where_samples_are_fewer_than_coordinates(
    monkeypatch,
):
    # a step's product with the Gram costs the square of the working set's coordinates, with
    # the design n times the face's dimension: on 600 digits with 5x5 filters (up to 1,750
    # coordinates) the Gram's took twice the time (benchmarks/README.md)
    routes, original = [], _native.solve_on_faces

    def solve_on_faces(M, gram, y, *args, **kwargs):
        routes.append((len(y) < M.shape[1], gram is None))
        return original(M, gram, y, *args, **kwargs)

    monkeypatch.setattr(_native, "solve_on_faces", solve_on_faces)
    patches, gates, y, formulation = _problem(0, "squared", n=30, n_patterns=16)
    operator = formulation.operator(patches, gates)
    beta = _beta(formulation.program(patches, gates), "squared", y, True, fraction=0.02)
    solution = _native.solve_native(
        operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-9, max_iter=200
    )
    assert {fewer for fewer, _ in routes} == {False, True}  # (working sets of both kinds)
    assert all(fewer == from_design for fewer, from_design in routes)
    assert solution.converged and solution.duality_gap <= 1e-9 * solution.objective
    reference = _dual_optimum(formulation.program(patches, gates), "squared", y, beta, True)
    assert solution.objective == pytest.approx(reference, rel=1e-6)


def test_face_method_settles_where_many_rows_block_its_steps(monkeypatch):
    # 4x4 filters (16 coordinates a group, about 50 kept rows each) on 600 digits: after a
    # feasibility round, Newton's steps met one row after another, 1e-8 of the point apart,
    # and ran out of iterations short of the face's optimum; the descent released those rows
    # and Newton met them again. The face changed 57 times (two BLAS threads; 14 s), or 60
    # and the interior point took over (one thread; 8 s), where it now changes at most 10
    # times (1-2 s). (:func:`~sklearn_convexcnn._solvers._faces._newton`)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from sklearn_convexcnn._solvers import _faces

    failures, changes = [], []
    solve, newton = _faces.solve_on_faces, _faces._newton

    def solve_on_faces(*args, **kwargs):
        changes.append(0)
        try:
            return solve(*args, **kwargs)
        except _faces.FacesFailed as exc:
            failures.append(str(exc))
            raise

    def counted_newton(*args, **kwargs):
        changes[-1] += 1
        return newton(*args, **kwargs)

    monkeypatch.setattr(_native, "solve_on_faces", solve_on_faces)
    monkeypatch.setattr(_faces, "_newton", counted_newton)
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    model = ConvexCNNClassifier(
        beta=0.1, input_shape=(8, 8), kernel_size=4, pool_size=3, readout="dense",
        n_patterns=32, loss="logistic", solver="native", random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X_train[:600], y_train[:600] == 8)
    assert failures == []
    assert max(changes) <= 20
    assert model.duality_gap_ <= model.tol * model.objective_


def test_native_solver_certifies_large_integers_that_it_interpolates():
    # found by test_fuzz: integers of size 1e6 and beta=0.001 interpolate the targets, the
    # objective (1e-9) far below y^T y = 3.4. The face method's KKT test (1e-7 * beta) was
    # below the rounding of the gradients at that scale: it cycled for 500 working-set
    # iterations of about 1 s, then stopped as "stalled", until it allowed for that rounding
    X = np.array(
        [
            [-481598, 328265, -1701534, -335840, -320471, -297176],
            [773826, -591057, 940794, -1199254, -164004, -500324],
            [-416554, -381614, -1123484, 209268, -2250259, -1684960],
            [1446720, -233581, -971173, 1438515, 1001465, 1532851],
            [364358, 763677, 560545, 481755, -1422402, 387555],
            [1509808, -910393, -358059, 1456069, 2019182, -189640],
            [-912526, 510651, 2016841, -1218300, -429297, 321267],
            [1665819, -602534, 879961, -1061965, 1642070, -1623081],
        ],
        dtype=float,
    ).reshape(4, 12)
    y = np.array(
        [-0.4815983417371372, 0.3282655076890719, -1.7015343023294713, -0.3358407780499301]
    )
    geometry = resolve_geometry((3, 4, 1), 3, 1, 12)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("average", None, "sum", geometry.grid_shape)
    gates = formulation.sample_gates(patches, 12, np.random.RandomState(0))
    # with entries of 1e6 the Newton systems have a condition of about 1e12, and the gap
    # they reach depends on the machine's BLAS kernels: below 1e-7 of the objective on the
    # earlier development machines, 1.35e-7 and 1.2e-6 on two AMD EPYCs (OpenBLAS 0.3.31).
    # The last is within the rounding of the dual bound (y^T y = 3.4 against an objective of
    # 1.6e-9), which is what the solver certifies to where tol asks for less
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.001, loss="squared",
        fit_intercept=False, tol=1e-6, max_iter=60,
    )  # fmt: skip
    assert solution.converged and solution.n_iter < 20  # (not 500 cycling iterations)
    allowed = target_gap(y, solution.objective, 1e-6)
    assert allowed <= 1e-5 * solution.objective  # (the rounding allowance stays small)
    assert 0 <= solution.duality_gap <= allowed


def test_the_target_gap_is_the_larger_of_tol_and_rounding_not_their_sum():
    # a mutant that added the rounding allowance to tol times the objective survived: the
    # tests compare gaps with target_gap itself. Where the two are equal a solve would stop
    # at twice the gap that either allows
    y = np.array([1.0, -2.0, 3.0])
    rounding = certifiable_gap(y, 1.0)
    assert 0 < rounding < 1e-12
    assert target_gap(y, 1.0, rounding) == rounding
    assert target_gap(y, 2.0, 1e-3) == 2e-3
    assert target_gap(y, 2.0, 0.0) == certifiable_gap(y, 2.0)


def test_operator_matches_dense_program():
    patches, gates, y, formulation = _problem(0, "squared", n=12)
    dense = DenseOperator(formulation.program(patches, gates))
    lazy = PatchOperator(patches, gates, np.full(patches.shape[1], 1 / patches.shape[1]), 64)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(len(y))
    np.testing.assert_allclose(lazy.correlations(v), dense.correlations(v), atol=1e-12)
    index = [0, 3, 5]
    np.testing.assert_allclose(lazy.pieces(index), dense.pieces(index), atol=1e-12)
    U = rng.standard_normal((3, patches.shape[2]))
    np.testing.assert_allclose(lazy.cone_products(U, index), dense.cone_products(U, index))
    repeated = [5, 5, 0]  # (the dense products are one per cone, on views: a cone twice)
    np.testing.assert_allclose(lazy.cone_products(U, repeated), dense.cone_products(U, repeated))
    assert dense.cone_products(U[:0], []).shape == (0, lazy.n_rows)
    np.testing.assert_allclose(lazy.cone_rows(3, [0, 4, 7]), dense.cone_rows(3, [0, 4, 7]))


@pytest.mark.parametrize("chunk_size", [7, 300, 2**22])
@pytest.mark.parametrize("n_patterns", [8, 80])
def test_packed_operator_matches_dense_program(n_patterns, chunk_size):
    """Bits packed in chunks, rows not a multiple of 8, zero patches."""
    patches, gates, y, formulation = _problem(4, "squared", n=13, n_patterns=n_patterns)
    patches[2, :3] = 0.0  # zero rows: 1[0 >= 0] = 1 in every pattern
    assert (patches.shape[0] * patches.shape[1]) % 8 != 0
    dense = DenseOperator(formulation.program(patches, gates))
    weights = np.full(patches.shape[1], 1 / patches.shape[1])
    lazy = PatchOperator(patches, gates, weights, chunk_size)
    n_found = gates.shape[1]
    rng = np.random.default_rng(1)
    v = rng.standard_normal(len(y))
    np.testing.assert_allclose(lazy.correlations(v), dense.correlations(v), atol=1e-12)
    index = np.arange(n_found)
    np.testing.assert_allclose(lazy.pieces(index), dense.pieces(index), atol=1e-12)
    U = rng.standard_normal((n_found, patches.shape[2]))
    np.testing.assert_allclose(lazy.cone_products(U, index), dense.cone_products(U, index))
    rows = np.arange(lazy.n_rows)
    for i in (0, n_found - 1):
        np.testing.assert_array_equal(lazy.cone_rows(i, rows), dense.cone_rows(i, rows))
        # candidates: the rows whose hyperplanes pass nearest the gate, zero rows excluded
        with np.errstate(invalid="ignore"):
            margins = np.abs(lazy.rows @ gates[:, i]) / np.linalg.norm(lazy.rows, axis=1)
        finite = np.flatnonzero(np.isfinite(margins))
        kept = len(lazy.candidate_rows(i))
        # fewer than n_candidates only where chunk_size limits them (many patterns)
        expected = min(lazy.n_candidates, len(finite))
        assert kept == expected if chunk_size == 2**22 else 2 * patches.shape[2] <= kept <= expected
        nearest = finite[np.argsort(margins[finite], kind="stable")[:kept]]
        np.testing.assert_array_equal(lazy.candidate_rows(i), np.sort(nearest))


def test_packed_signs_count_a_product_of_zero_as_active():
    # D_i^k = diag(1[X_k g_i >= 0]): a nonzero patch orthogonal to the gate is active, its
    # piece counts it and its cone row keeps its sign (integer data and gates: exact zeros),
    # by the definition computed here
    patches = np.array([[[1.0, -1.0], [2.0, 1.0]], [[-1.0, 1.0], [0.0, 3.0]]])
    gates = np.array([[1.0, 0.0], [1.0, -1.0]])  # gate 0 orthogonal to rows 0 and 2
    operator = PatchOperator(patches, gates, np.full(2, 0.5))
    rows = patches.reshape(4, 2)
    active = rows @ gates >= 0
    assert (rows @ gates == 0).sum() == 2  # (the premise)
    for i in range(2):
        expected = 0.5 * np.einsum("nk,nkh->nh", active[:, i].reshape(2, 2), patches)
        np.testing.assert_array_equal(operator.pieces([i])[0], expected)
        signs = np.where(active[:, i], 1.0, -1.0)[:, None]
        np.testing.assert_array_equal(operator.cone_rows(i, np.arange(4)), signs * rows)


@pytest.mark.parametrize("chunk_size", [24, 48, 120, 2**22])
def test_candidates_break_ties_by_row_whatever_the_chunks(chunk_size):
    # digits repeat patches: rows of equal margins, of which the lower ones must be the
    # candidates in every chunking (the first chunk's argpartition once chose among them)
    rng = np.random.default_rng(0)
    distinct = rng.integers(-2, 3, size=(10, 4, 3)).astype(float)  # (exact products)
    patches = np.concatenate([distinct, -distinct[::-1], 2 * distinct])  # (ties in threes)
    patches[3, 1] = 0.0  # a zero row: never a candidate
    gates = rng.integers(-3, 4, size=(3, 3)).astype(float)
    operator = PatchOperator(patches, gates, np.full(4, 0.25), chunk_size)
    # (chunk sizes 24 and 48: 8 and 16 candidates, in 5 and 3 chunks of rows)
    n_best = min(operator.n_candidates, max(2 * 3, chunk_size // 3))
    norms = np.linalg.norm(operator.rows, axis=1)
    for i in range(gates.shape[1]):
        with np.errstate(invalid="ignore"):
            margins = np.abs(operator.rows @ gates[:, i]) / norms
        finite = np.flatnonzero(np.isfinite(margins))
        order = finite[np.lexsort((finite, margins[finite]))]
        assert margins[order[n_best - 1]] == margins[order[n_best]]  # (the premise: a tie)
        np.testing.assert_array_equal(operator.candidate_rows(i), np.sort(order[:n_best]))


@pytest.mark.parametrize("chunk_size", [2**22, 40])
def test_operator_without_candidates_has_the_same_signs(chunk_size):
    # what pattern generation's oracle builds for every ascent step: the signs only
    patches, gates, y, formulation = _problem(4, "squared", n=13, n_patterns=30)
    weights = np.full(patches.shape[1], 1 / patches.shape[1])
    full = PatchOperator(patches, gates, weights, chunk_size)
    bare = PatchOperator(patches, gates, weights, chunk_size, with_candidates=False)
    np.testing.assert_array_equal(bare.signs, full.signs)
    v = np.random.default_rng(2).standard_normal(len(y))
    np.testing.assert_array_equal(bare.correlations(v), full.correlations(v))
    assert all(len(bare.candidate_rows(i)) == 0 for i in range(bare.n_patterns))
    assert all(len(full.candidate_rows(i)) > 0 for i in range(full.n_patterns))
    # every formulation's operator passes the choice on (the grid: 6 patches of length 3)
    for readout in ("sum", "dense"):
        pooled = make_formulation("average", pool_size=(3,), readout=readout, grid_shape=(6,))
        operator = pooled.operator(patches, gates, with_candidates=False)
        assert all(len(operator.candidate_rows(i)) == 0 for i in range(operator.n_patterns))
    operator = formulation.operator(patches, gates, with_candidates=False)
    assert all(len(operator.candidate_rows(i)) == 0 for i in range(operator.n_patterns))


def test_pickled_operator_carries_its_patches_once():
    # what every worker of n_jobs receives for every solve: the rows, and the patches as a
    # view of them rather than a second copy
    patches, gates, y, formulation = _problem(4, "squared", n=13, n_patterns=30)
    weights = np.full(patches.shape[1], 1 / patches.shape[1])
    operator = PatchOperator(patches[:, ::-1], gates, weights)  # (patches not contiguous)
    pickled = pickle.dumps(operator)
    assert len(pickle.dumps(vars(operator))) - len(pickled) >= 0.9 * operator.patches.nbytes
    restored = pickle.loads(pickled)
    np.testing.assert_array_equal(restored.patches, patches[:, ::-1])
    v = np.random.default_rng(3).standard_normal(len(y))
    np.testing.assert_array_equal(restored.correlations(v), operator.correlations(v))
    np.testing.assert_array_equal(restored.pieces([0, 7]), operator.pieces([0, 7]))
    assert [list(c) for c in restored.candidates] == [list(c) for c in operator.candidates]


def test_operator_of_all_zero_patches_has_no_candidates():
    # found by hypothesis: with every row zero no row is a candidate of any pattern
    patches = np.zeros((2, 3, 2))
    gates = np.array([[1.0, -1.0], [0.5, 2.0]])
    operator = PatchOperator(patches, gates, np.full(3, 1 / 3))
    assert [len(operator.candidate_rows(i)) for i in range(2)] == [0, 0]
    np.testing.assert_array_equal(operator.correlations(np.ones(2)), np.zeros((2, 2)))


def test_stacked_operator_forwards_each_blocks_candidate_rows():
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((6, 4, 3))
    first = PatchOperator(patches, rng.standard_normal((3, 2)), np.full(4, 0.25))
    second = PatchOperator(patches[:, :2], rng.standard_normal((3, 3)), np.full(2, 0.5))
    dense = DenseOperator(GroupProgram(np.zeros((1, 6, 3)), np.ones((1, 5, 3))))
    stacked = StackedOperator([first, second, dense])
    for i in range(2):
        np.testing.assert_array_equal(stacked.candidate_rows(i), first.candidate_rows(i))
    for i in range(3):
        np.testing.assert_array_equal(stacked.candidate_rows(2 + i), second.candidate_rows(i))
    assert len(stacked.candidate_rows(5)) == 0  # a block without candidates


def test_cone_rows_of_many_cones_are_each_cones_rows():
    # gathered at once for pricing's projections; a block with fewer rows pads with zeros
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((6, 4, 3))
    first = PatchOperator(patches, rng.standard_normal((3, 2)), np.full(4, 0.25))
    second = PatchOperator(patches[:, :2], rng.standard_normal((3, 3)), np.full(2, 0.5))
    dense = DenseOperator(GroupProgram(np.zeros((1, 6, 3)), rng.standard_normal((1, 24, 3))))
    stacked = StackedOperator([first, second, dense])
    index = np.array([4, 0, 2, 5, 1, 3])
    rows = [np.array([0, 13, 23]), np.array([], dtype=int), np.array([1, 2, 11]), np.arange(24),
            np.array([7]), np.array([5, 12, 20])]  # fmt: skip
    for operator, chosen in ((stacked, index), (first, [1, 0, 1]), (dense, [0, 0])):
        wanted = [rows[j][rows[j] < operator.n_rows] for j in range(len(chosen))]
        found = operator.cone_rows_of(chosen, wanted)
        assert len(found) == len(chosen)
        for i, r, block in zip(chosen, wanted, found, strict=True):
            np.testing.assert_array_equal(block, operator.cone_rows(i, r).reshape(len(r), 3))


def test_prices_carried_along_the_last_projection_are_tight():
    # a projection's multipliers, scaled, bound the price of a nearby correlation: of a
    # multiple of the last one exactly, where the Lipschitz bound adds all of the move
    patches, gates, y, formulation = _problem(5, "squared", n_patterns=16)
    operator = formulation.operator(patches, gates)
    v = dual_point("squared", np.full(len(y), y.mean()), y, True)
    exact = pattern_prices(operator, v)
    memory = _PriceMemory()
    beta = 1e-9 * exact.max()
    _price(operator, operator.correlations(v), beta, memory, 1000)
    G = operator.correlations(v)
    keys = [(p, s) for s in range(2) for p in range(operator.n_patterns)]
    moved = 3.0 * np.concatenate([G, -G])
    carried = memory.carried(keys, moved, operator.norm)
    np.testing.assert_allclose(carried, 3.0 * exact.ravel(), rtol=1e-9, atol=1e-12)
    lipschitz = np.array([memory.bounds[key][0] for key in keys]) + 2.0 * np.linalg.norm(
        np.concatenate([G, -G]), axis=1
    )
    assert np.all(carried <= lipschitz)
    # a polar part of zero or of denormal size (no multiplier to scale) leaves the others
    memory.polar[keys[0]] = np.zeros(G.shape[1])
    memory.polar[keys[1]] = np.full(G.shape[1], 5e-324)
    carried = memory.carried(keys[:2], moved[:2], operator.norm)
    np.testing.assert_allclose(carried, lipschitz[:2], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_dual_norm_is_the_largest_dual_norm(seed):
    patches, gates, y, formulation = _problem(seed, "squared", n=40, n_patterns=60)
    v = dual_point("squared", np.full(len(y), y.mean()), y, True)
    for program in (formulation.operator(patches, gates), formulation.program(patches, gates)):
        expected = pattern_prices(program, v, max_rounds=1000).max()
        assert max_pattern_price(program, v, max_rounds=1000, batch=3) == pytest.approx(
            expected, rel=1e-12
        )


@pytest.mark.parametrize("wanted", [3, None])
def test_prices_carried_between_iterations_stay_upper_bounds(wanted):
    # the native solver prices many dual vectors in a row; bounds carried from the last one
    # (plus how far each correlation moved) must never fall below the exact price, and the
    # prices that decide (above beta) must be exact
    patches, gates, y, formulation = _problem(5, "squared", n_patterns=16)
    operator = formulation.operator(patches, gates)
    rng = np.random.default_rng(0)
    v = dual_point("squared", np.full(len(y), y.mean()), y, True)
    beta = 0.5 * max_pattern_price(operator, v)
    memory = _PriceMemory()
    for _ in range(6):
        exact = pattern_prices(operator, v)
        prices = _price(operator, operator.correlations(v), beta, memory, 1000, wanted)
        assert np.all(prices >= exact * (1 - 1e-9))
        deciding = prices > beta
        if wanted is None:
            np.testing.assert_allclose(prices[deciding], exact[deciding], rtol=1e-9)
        else:  # the ``wanted`` largest, the candidates, are exact
            top = np.argsort(-prices.ravel())[:wanted]
            top = top[prices.ravel()[top] > beta]
            np.testing.assert_allclose(prices.ravel()[top], exact.ravel()[top], rtol=1e-9)
        v = v + 0.05 * np.linalg.norm(v) / np.sqrt(len(v)) * rng.standard_normal(len(v))


def test_projection_of_a_polar_vector_settles_at_zero():
    """``g`` in the polar cone projects to 0: settled by its tiny bound, not after max_rounds."""
    rows = np.random.default_rng(5).standard_normal((400, 4)) + [3.0, 0, 0, 0]
    g = -rows[:50].sum(axis=0)  # minus a combination of the rows: in the polar cone
    program = GroupProgram(np.zeros((1, 0, 4)), rows[None])
    calls = []
    operator = DenseOperator(program)
    products = operator.cone_products
    operator.cone_products = lambda U, index: calls.append(1) or products(U, index)
    U, _, _ = cone_projections(operator, [0], g[None], max_rounds=100)
    assert np.linalg.norm(U) <= 1e-12 * np.linalg.norm(g)
    assert len(calls) < 100


def test_projection_survives_scipys_nnls_at_its_iteration_limit(monkeypatch):
    from sklearn_convexcnn import _optimality

    rng = np.random.default_rng(4)
    rows, g = rng.standard_normal((30, 5)) + [2.0, 0, 0, 0, 0], 3 * rng.standard_normal(5)
    expected, _ = _optimality.nnls_projection(rows, g)

    def stopped(*args, **kwargs):
        raise RuntimeError("Maximum number of iterations reached.")

    monkeypatch.setattr(_optimality, "nnls", stopped)
    projection, multipliers = _optimality.nnls_projection(rows, g)
    assert np.all(multipliers >= 0)
    np.testing.assert_allclose(projection, expected, atol=1e-10 * np.linalg.norm(g))


def test_project_onto_cone_matches_qp():
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((40, 4)) + [2.0, 0, 0, 0]  # a cone with interior around e_1
    for _ in range(3):
        g = 3 * rng.standard_normal(4)
        u = cp.Variable(4)
        cp.Problem(cp.Minimize(cp.sum_squares(u - g)), [rows @ u >= 0]).solve(solver="CLARABEL")
        projection = project_onto_cone(rows, g)
        np.testing.assert_allclose(projection, u.value, atol=1e-6)
        # exact but for rounding, relative to g (a projection of g in the polar cone is
        # zero up to rounding of g, not of itself)
        assert_in_cone(rows, projection, rtol=ROUNDING_RTOL, size=np.linalg.norm(g))


def test_project_onto_cone_is_in_the_cone_when_cutting_planes_stop_short(monkeypatch):
    from sklearn_convexcnn import _optimality

    # one round of cutting planes adds 2h rows, too few for this cone: the relaxed point
    # left its rows violated and was returned as the projection
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((300, 4)) + [0.5, 0, 0, 0]
    g = 3 * rng.standard_normal(4)
    projection = project_onto_cone(rows, g, max_rounds=1)
    assert_in_cone(rows, projection, rtol=ROUNDING_RTOL, size=np.linalg.norm(g))
    np.testing.assert_allclose(projection, project_onto_cone(rows, g), atol=1e-12)
    # and where NNLS on every row ends outside the cone (scipy/scipy#25389), BVLS corrects it
    expected = project_onto_cone(rows, g)
    monkeypatch.setattr(_optimality, "nnls", lambda A, b, maxiter: (np.zeros(A.shape[1]), 0.0))
    np.testing.assert_allclose(project_onto_cone(rows, g, max_rounds=1), expected, atol=1e-12)


def test_dual_objective_is_the_conjugate():
    """``-L*(-v) = min_f L(f) + v f`` checked by minimizing over a fine grid of f."""
    grid = np.linspace(-30, 30, 200_001)
    for loss, y, v in [("squared", 0.7, 0.3), ("logistic", 1.0, 0.25), ("logistic", -1.0, -0.6)]:
        if loss == "squared":
            values = 0.5 * (grid - y) ** 2 + v * grid
        else:
            values = np.logaddexp(0, -y * grid) + v * grid
        expected = values.min()
        actual = dual_objective(loss, np.array([v]), np.array([y]), fit_intercept=False)
        assert actual == pytest.approx(expected, abs=1e-8)
    assert dual_objective("logistic", np.array([-0.5]), np.array([1.0]), False) == -np.inf
    assert dual_objective("squared", np.array([1.0, 0.5]), np.array([0.0, 0.0]), True) == -np.inf


def test_warm_start_gives_the_cold_solution():
    patches, gates, y, formulation = _problem(1, "squared", n=40)
    operator = formulation.operator(patches, gates)
    beta = _beta(operator, "squared", y, True, fraction=0.1)  # (a cold solve needs an iteration)
    options = dict(loss="squared", fit_intercept=True, tol=1e-10, max_iter=100)
    cold = solve_native(operator, y, beta=beta, **options)
    warm = solve_native(
        operator,
        y,
        beta=0.8 * beta,
        coef_init=cold.coef,
        intercept_init=cold.intercept,
        **options,
    )
    again = solve_native(operator, y, beta=0.8 * beta, **options)
    assert warm.objective == pytest.approx(again.objective, rel=1e-9)
    assert warm.n_iter < again.n_iter  # (the warm start was used: 0 against 1)


def test_warm_start_from_the_optimum_keeps_the_rows_it_sits_on(monkeypatch):
    # the start's groups keep the rows tight there: one restricted solve, already feasible,
    # and no iteration (started without rows, the restricted solution left the cones and
    # the feasibility rounds took a refit of one digits class from 3 s to 55 s)
    patches, gates, y, formulation = _problem(2, "squared", n=60, n_patterns=12)
    operator = formulation.operator(patches, gates)
    beta = _beta(operator, "squared", y, True, fraction=0.1)
    options = dict(loss="squared", fit_intercept=True, tol=1e-9, max_iter=100)
    cold = solve_native(operator, y, beta=beta, **options)
    solves = []
    restricted = _native._restricted_solve
    monkeypatch.setattr(
        _native,
        "_restricted_solve",
        lambda work, *a, **k: solves.append(1) or restricted(work, *a, **k),
    )
    warm = solve_native(
        operator, y, beta=beta, coef_init=cold.coef, intercept_init=cold.intercept, **options
    )
    assert np.count_nonzero(np.linalg.norm(cold.coef, axis=2)) >= 3  # (rows matter here)
    assert len(solves) == 1 and warm.n_iter == 0
    assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
    assert warm.duality_gap <= 1e-9 * warm.objective


def test_a_warm_start_keeps_the_rows_that_hold_its_groups(monkeypatch):
    # the user guide's warm-start block, one class: started with every row nearly tight there
    # (every blank patch where a filter is zero: 4,712 rows for 12 groups, where a cold solve
    # ends with 747 for 15), warm fits took 2-3 times as long as cold ones (a review). Now
    # each group keeps the rows of its multipliers, at most h, and its candidate rows
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=4, return_X_y=True)
    X, y = X[:540] / 16, np.where(y[:540] == 3, 1.0, -1.0)
    params = dict(input_shape=(8, 8), random_state=0)
    reg = ConvexCNNRegressor(beta=1.0, warm_start=True, **params).fit(X, y)
    started = []
    restricted = _native._restricted_then_feasible

    def recording(work, *args, **kwargs):
        if not started:  # (the warm start's solve, before any iteration)
            operator = work.operator
            started.extend(
                (len(rows), operator.patch_size + len(operator.candidate_rows(pattern)))
                for (pattern, _), rows in zip(work.groups, work.rows, strict=True)
            )
        return restricted(work, *args, **kwargs)

    monkeypatch.setattr(_native, "_restricted_then_feasible", recording)
    reg.set_params(beta=0.3).fit(X, y)
    assert len(started) >= 5  # (the groups of the fit at beta=1)
    assert all(kept <= most for kept, most in started), started
    cold = ConvexCNNRegressor(beta=0.3, **params).fit(X, y)
    assert reg.objective_ == pytest.approx(cold.objective_, rel=1e-9)


def _bars(n=200, side=10):
    """``bench_patterns.py``'s bar images (noise with a horizontal or vertical bar), copied
    rather than imported (tests do not import the benchmarks): the stored gates of
    ``data/bars_generated.npz`` were generated on exactly these images."""
    rng = np.random.default_rng(0)
    X = 0.3 * rng.standard_normal((n, side, side))
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    for image, label in zip(X, y, strict=True):
        start, line = rng.integers(0, side - 3), rng.integers(0, side)
        if label > 0:
            image[line, start : start + 4] += 1.0
        else:
            image[start : start + 4, line] += 1.0
    return extract_patches(X.reshape(n, -1), resolve_geometry((side, side), 3, 1, side**2)), y


def _stored_bars_program():
    """The re-solve of pattern generation stored in ``data/bars_generated.npz``: its operator,
    targets, beta and start point, and the problem tuple of :func:`_objective_of`."""
    patches, y = _bars()
    stored = np.load(Path(__file__).parent / "data" / "bars_generated.npz")
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    operator = formulation.operator(patches, stored["gates"])
    start = dict(coef_init=stored["coef_init"], intercept_init=float(stored["intercept_init"]))
    problem = (patches, stored["gates"], y, formulation)
    return operator, y, float(stored["beta"]), start, problem


# The optimum of the stored bars program as CVXPY + Clarabel put it (52 s and 128 s, too slow
# to run here): the primal program of solve_cvxpy at tol 1e-9 ended at _BARS_PRIMAL, the dual
# program of _dual_optimum at tol 1e-10 at _BARS_DUAL ('optimal_inaccurate', as at tol 1e-9,
# where it ended 1.3e-9 higher: not a strict bound). The bracket is 1.4e-7 wide, relative;
# the native solver certifies its own gap far tighter.
_BARS_PRIMAL, _BARS_DUAL = 43.46061024730936, 43.46060426656788


def _assert_bars_optimum(solution, operator, problem, beta):
    """``solution`` is a feasible point of the bars program whose objective is its own, no
    worse than CVXPY's primal and not below CVXPY's dual (up to that dual's accuracy)."""
    assert_operator_point_feasible(operator, solution.coef, rtol=SOLVER_RTOL)
    assert solution.objective == pytest.approx(_objective_of(solution, problem, beta), rel=1e-12)
    assert _BARS_DUAL * (1 - 1e-8) <= solution.objective <= _BARS_PRIMAL * (1 + 1e-12)


@pytest.mark.parametrize("warm", [False, True])
def test_prices_of_the_working_set_start_from_its_kept_rows(warm):
    # A re-solve of pattern generation (its 35 gates and start point stored): the kept rows
    # of the groups in the set bound their prices, where the rows of their last projections
    # left bounds 1e-5 above beta, so that an optimal point stalled uncertified (gap 8.7e-6
    # cold, 2.2e-4 warm, against 4.3e-6), and a group kept at zero re-entered every iteration.
    operator, y, beta, start, problem = _stored_bars_program()
    solution = solve_native(
        operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-7, max_iter=500,
        **(start if warm else {}),
    )  # fmt: skip
    assert solution.status == "optimal"
    assert solution.duality_gap <= 1e-7 * solution.objective
    _assert_bars_optimum(solution, operator, problem, beta)
    # (stalled after 12 and 18 before; one of these iterations makes the point feasible; 9
    # cold before the growth phase's guides, test_growth_solves_are_guides_...)
    # (11 cold where SciPy's NNLS rounds as 1.10's does, against 10 with 1.14 and 1.17)
    assert solution.n_iter <= (3 if warm else 11)


def _signals(n=60, n_features=12):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n_features)), rng.standard_normal(n)


def test_warm_start_refit_reaches_the_cold_optimum_in_fewer_iterations():
    X, y = _signals()
    reg = ConvexCNNRegressor(beta=1.0, random_state=0, warm_start=True).fit(X, y)
    gates = reg.gates_.copy()
    reg.set_params(beta=0.3).fit(X, y)
    cold = ConvexCNNRegressor(beta=0.3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(reg.gates_, gates)
    assert reg.objective_ == pytest.approx(cold.objective_, rel=1e-6)
    assert reg.duality_gap_ <= reg.tol * reg.objective_
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-9)
    assert reg.n_iter_ < cold.n_iter_  # 2 against 4 working-set rounds on these data


def test_warm_start_without_a_seed_keeps_the_patterns():
    # (the warm_start docstring's promise: random_state=None does not draw new patterns)
    X, y = _signals()
    reg = ConvexCNNRegressor(beta=1.0, random_state=None, warm_start=True).fit(X, y)
    gates = reg.gates_.copy()
    reg.set_params(beta=0.3).fit(X, y)
    np.testing.assert_array_equal(reg.gates_, gates)
    # and a cold refit without a seed draws others
    reg.set_params(warm_start=False).fit(X, y)
    assert not np.array_equal(reg.gates_, gates)


def test_warm_start_starts_cold_when_the_program_changes():
    X, y = _signals()
    reg = ConvexCNNRegressor(random_state=0, warm_start=True).fit(X, y)
    reg.set_params(kernel_size=2).fit(X, y)  # another patch geometry: new patterns
    cold = ConvexCNNRegressor(kernel_size=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(reg.gates_, cold.gates_)
    assert reg.objective_ == pytest.approx(cold.objective_, rel=1e-9)
    reg.fit(X[:, :9], y)  # fewer features: starts cold, no error
    assert reg.n_features_in_ == 9
    # other patterns asked for: n_patterns, random_state (a warm start would keep the old ones)
    for change in [{"n_patterns": 16}, {"random_state": 5}]:
        reg = ConvexCNNRegressor(random_state=0, warm_start=True).fit(X, y)
        reg.set_params(**change).fit(X, y)
        cold = ConvexCNNRegressor(**{"random_state": 0, **change}).fit(X, y)
        np.testing.assert_array_equal(reg.gates_, cold.gates_)
    # without warm_start a refit samples its patterns anew
    other = ConvexCNNRegressor(random_state=0).fit(X, y)
    first_gates = other.gates_.copy()
    other.set_params(random_state=1).fit(X, y)
    assert other.gates_.shape == first_gates.shape
    assert not np.array_equal(other.gates_, first_gates)


def test_estimator_native_is_exact_and_certified():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 10))
    y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    reg = ConvexCNNRegressor(
        beta=0.1, n_patterns=16, solver="native", random_state=0, tol=1e-8
    ).fit(X, y)
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6)
    assert -1e-13 * reg.objective_ <= reg.duality_gap_ <= 1e-8 * reg.objective_
    reference = ConvexCNNRegressor(beta=0.1, n_patterns=16, solver="clarabel", random_state=0)
    reference.fit(X, y)
    assert reg.objective_ == pytest.approx(reference.objective_, rel=1e-6)


def test_classifier_native_logistic_multiclass():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((45, 9))
    y = np.repeat([0, 1, 2], 15)
    X[y == 1, 3:6] += 1.5
    X[y == 2, 3:6] -= 1.5
    clf = ConvexCNNClassifier(beta=0.5, loss="logistic", solver="native", random_state=0)
    clf.fit(X, y)
    assert clf.regularized_objective(X, y) == pytest.approx(clf.objective_, rel=1e-6)
    assert clf.duality_gap_ <= clf.tol * clf.objective_
    assert clf.score(X, y) > 0.8


def test_max_iter_too_small_warns_with_the_gap():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 10))
    y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    reg = ConvexCNNRegressor(beta=0.05, solver="native", max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Duality gap: \d\.\d+e[+-]\d+, tolerance"):
        reg.fit(X, y)
    assert reg.duality_gap_ > reg.tol * reg.objective_


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_path_matches_cold_starts(loss):
    from sklearn_convexcnn import convex_cnn_path

    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 8))
    y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    betas, coefs, intercepts, objectives, gaps, gates = convex_cnn_path(
        X, y, n_betas=4, eps=0.05, n_patterns=12, loss=loss, tol=1e-9, random_state=0
    )
    assert np.all(np.diff(betas) < 0)
    assert np.all(coefs[0] == 0)  # beta_max: the empty network
    assert np.all(gaps <= 1e-9 * objectives)
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 8))
    formulation = make_formulation("average", None, "sum", (patches.shape[1],))
    operator = formulation.operator(patches, gates)
    # beta_max is the largest dual norm at the empty network's fit (its intercept alone)
    mean = y.mean()
    f = np.full(len(y), mean if loss == "squared" else np.log((1 + mean) / (1 - mean)))
    empty = dual_point(loss, f, y, fit_intercept=True)
    assert betas[0] == pytest.approx(pattern_prices(operator, empty).max(), rel=1e-12)
    for beta, objective in zip(betas[1:], objectives[1:], strict=True):
        cold = solve_native(
            operator, y, beta=beta, loss=loss, fit_intercept=True, tol=1e-9, max_iter=100
        )
        assert objective == pytest.approx(cold.objective, rel=1e-8)


@pytest.mark.parametrize(
    "options",
    [
        dict(pooling="max"),
        dict(pool_size=2, readout="dense"),
        dict(pooling="max", pool_size=2, readout="dense"),
        dict(pooling="none"),
    ],
)
def test_path_solves_the_estimators_program_for_every_pooling(options):
    from sklearn_convexcnn import convex_cnn_path

    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 36))
    y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    shared = dict(n_patterns=8, input_shape=(6, 6), tol=1e-9, random_state=0, **options)
    betas, coefs, _, objectives, gaps, gates, regions = convex_cnn_path(
        X, y, n_betas=3, eps=0.1, return_regions=True, **shared
    )
    assert np.all(gaps <= 1e-9 * objectives)
    assert gates.shape[1] == coefs.shape[2] == len(regions)
    assert np.all(np.diff(regions) >= 0)
    for beta, coef, objective in zip(betas[1:], coefs[1:], objectives[1:], strict=True):
        cold = ConvexCNNRegressor(beta=beta, solver="native", **shared).fit(X, y)
        # every group's gate is one of the sampled gates, each of which some group uses
        matches = np.all(gates[:, :, None] == cold.gates_[:, None, :], axis=0)
        assert np.all(matches.sum(axis=1) == 1) and np.all(matches.any(axis=0))
        assert objective == pytest.approx(cold.objective_, rel=1e-8)
        assert np.any(coef)
    if options.get("pooling") == "max":
        return  # (its cones also fix each pool's winner, not built here; test_certificate.py
        # certifies max-pooling optima)
    # average pooling: every group lies in the cone of its gate's pattern on its region's patches
    patches = extract_patches(X, resolve_geometry((6, 6), 3, 1, 36))
    pools = patch_pools((4, 4), options.get("pool_size", 1))
    for sign in range(2):
        for group in np.flatnonzero(np.linalg.norm(coefs[-1, sign], axis=1)):
            region = patches[:, pools[regions[group]]]
            signs = np.where(region @ gates[:, group] >= 0, 1.0, -1.0)
            rows = (signs[..., None] * region).reshape(-1, region.shape[-1])
            # 1e-10 relative to ||row|| ||c|| (rows of norm up to 5.1): the check asked 1e-9
            # of ||c|| alone, tighter than the solver's tolerance; the worst slack is -7e-17
            assert_in_cone(rows, coefs[-1, sign, group], rtol=1e-10)


@pytest.mark.parametrize("residue", [1e-9, 1e-5])
def test_polish_drops_interior_point_residue_and_reaches_the_kkt_point(residue):
    # Group lasso without cone rows: the optimum has exact KKT prices ||A_j^T v|| = beta on the
    # active groups and <= beta on the zero ones. An interior point leaves the zero groups at a
    # small norm (1e-9 typical, 1e-5 next to near-degenerate ones); on a Newton face that keeps
    # them, their beta/||c|| curvature leaves the active prices ~1e-6 off, which the certificate
    # cannot close (it stalled the native solver on regional and generated programs).
    from sklearn_convexcnn._solvers._restricted import polish, solve_qp

    rng = np.random.default_rng(0)
    n, n_groups, h = 40, 6, 3
    M = np.hstack([rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = M[:, :h] @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(n)
    beta = 2.0
    kept_rows = [np.zeros((0, h))] * n_groups
    x, _ = solve_qp(M, np.ones(n), M.T @ M, -(M.T @ y), beta, h, kept_rows, 1e-10, np.eye(h)[None])
    coef = x[:-1].reshape(n_groups, h)
    zero = np.linalg.norm(coef, axis=1) < 1e-6
    assert 1 <= zero.sum() < n_groups  # some groups active, some not
    coef[zero] = residue * rng.standard_normal((zero.sum(), h))
    start = np.concatenate([coef.ravel(), x[-1:]])

    polished = polish(
        M, y, start, beta=beta, loss="squared", fit_intercept=True, n_groups=n_groups, h=h,
        kept_rows=kept_rows,
    )  # fmt: skip
    assert polished is not None
    result = polished[:-1].reshape(n_groups, h)
    np.testing.assert_array_equal(result[zero], 0.0)
    v = y - M @ polished
    prices = np.linalg.norm((M[:, :-1].T @ v).reshape(n_groups, h), axis=1)
    np.testing.assert_allclose(prices[~zero], beta, rtol=1e-10)
    assert np.all(prices[zero] < beta)


def test_working_set_drops_zero_groups_and_rebuilds_its_design():
    from sklearn_convexcnn._solvers._native import _WorkingSet

    rng = np.random.default_rng(0)
    pieces, cones = rng.standard_normal((4, 10, 3)), rng.standard_normal((4, 5, 3))
    operator = DenseOperator(GroupProgram(pieces, cones))
    work = _WorkingSet(operator)
    for pattern, sign, rows in [(0, 0, [1]), (2, 1, [0, 3]), (3, 0, [])]:
        work.add(pattern, sign, rows)
    work.coef = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    work.gram(intercept=True)  # cached
    np.testing.assert_allclose(  # (the fit without the design)
        work.fit(0.5), pieces[0] @ [1.0, 0.0, 2.0] + pieces[3] @ [0.5, 0.5, 0.5] + 0.5
    )
    work.drop_zero_groups()
    assert work.groups == [(0, 0), (3, 0)]
    np.testing.assert_array_equal(work.coef, [[1.0, 0.0, 2.0], [0.5, 0.5, 0.5]])
    assert [list(r) for r in work.rows] == [[1], []]
    assert sorted(work._pieces) == [0, 3]  # (the dropped pattern's piece not held)
    work.coef[1] = 0.0
    work.drop_zero_groups(protected={(3, 0)})  # (kept at zero)
    assert work.groups == [(0, 0), (3, 0)]
    # as many groups as before the drop, but other ones: the design must not be the cached one
    work.add(1, 1, [])
    design = work.design(intercept=True)
    expected = np.hstack([pieces[0], pieces[3], -pieces[1], np.ones((10, 1))])
    np.testing.assert_array_equal(design, expected)
    np.testing.assert_allclose(work.gram(intercept=True), expected.T @ expected)
    # emptied, the set's design and Gram are empty, not the last cached ones
    work.coef[:] = 0.0
    work.drop_zero_groups()
    assert work.design().shape == (10, 0) and work.gram().shape == (0, 0)


# --------------------------------------------------------------------------------------------
# block group norms: the spectral l1 norm of circular CNNs (doc/formulations.md §7)


@pytest.mark.parametrize("length, n_layers", [(7, 3), (8, 3), (8, 4)])
def test_group_norm_dual_is_the_conic_dual(length, n_layers):
    blocks = spectral_blocks(length, n_layers)
    norm = GroupNorm(blocks)
    rng = np.random.default_rng(length + n_layers)
    U = rng.standard_normal((3, length))
    expected = [np.abs(np.fft.fft(u)).sum() / length for u in U]  # ||F u||_1 / d at L = 3
    if n_layers == 3:
        np.testing.assert_allclose(norm(U), expected, rtol=1e-12)
    for g in rng.standard_normal((3, length)):
        u = cp.Variable(length)
        problem = cp.Problem(cp.Maximize(g @ u), [sum(cp.norm(block @ u) for block in blocks) <= 1])
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11)
        assert norm.dual(g) == pytest.approx(problem.value, rel=1e-7)
    assert GroupNorm().dual(U) == pytest.approx(np.linalg.norm(U, axis=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_block_prices_are_the_conic_programs_value(seed):
    # p(g) = max {g.u : G u >= 0, R(u) <= 1}, solved here by CVXPY over every row of G
    rng = np.random.default_rng(seed)
    length, n_rows = 8, 40
    blocks = spectral_blocks(length, 3)
    cones = rng.standard_normal((2, n_rows, length))
    inside = rng.standard_normal((2, length))  # a direction in each cone: not just {0}
    cones *= np.sign(np.einsum("crh,ch->cr", cones, inside))[:, :, None]
    program = GroupProgram(np.zeros((2, 1, length)), cones, blocks)
    G = rng.standard_normal((2, length))
    prices, exact, _ = cone_prices(program, [0, 1], G, max_rounds=100)
    relaxed, _, _ = cone_prices(program, [0, 1], G, max_rounds=0, rows=[[0, 1], [2]])
    for j in range(2):
        u = cp.Variable(length)
        problem = cp.Problem(
            cp.Maximize(G[j] @ u),
            [cones[j] @ u >= 0, sum(cp.norm(block @ u) for block in blocks) <= 1],
        )
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11)
        assert exact[j]
        assert prices[j] == pytest.approx(problem.value, rel=1e-6, abs=1e-9)
        assert prices[j] >= problem.value - 1e-9  # an upper bound, never below
        assert relaxed[j] >= prices[j] - 1e-9  # fewer rows: a larger cone


@pytest.mark.parametrize("length", [1, 2, 3, 8, 9])
@pytest.mark.parametrize("n_layers", [3, 5])
def test_spectral_blocks_are_sparse_in_their_orthogonal_form(length, n_layers):
    # the block prices are solved in these coordinates: with the dense real Fourier rows in
    # every block, prices certifying rows of 128 features took 11.4 s against 1.8 s
    blocks = spectral_blocks(length, n_layers)
    Q, D = GroupNorm(blocks).orthogonal_form
    np.testing.assert_allclose(Q @ Q.T, np.eye(length), atol=1e-12)
    assert np.count_nonzero(D) == length  # (one entry of v = Q u a row)
    U = np.random.default_rng(length).standard_normal((3, length))
    np.testing.assert_allclose(
        np.einsum("brh,nh->nbr", D, U @ Q.T),
        np.einsum("brh,nh->nbr", blocks, U),
        rtol=1e-12,
        atol=1e-12 * np.abs(blocks).max(),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_block_prices_of_blocks_that_are_not_orthogonal(seed):
    # (solved as they are: no orthogonal form)
    rng = np.random.default_rng(seed)
    blocks = rng.standard_normal((2, 2, 4))
    norm = GroupNorm(blocks)
    assert norm.orthogonal_form is None
    rows, g = rng.standard_normal((5, 4)), rng.standard_normal(4)
    rows *= np.sign(rows @ rng.standard_normal(4))[:, None]  # (a direction inside the cone)
    price, u, _ = _block_price(rows, g, norm)
    v = cp.Variable(4)
    problem = cp.Problem(
        cp.Maximize(g @ v), [rows @ v >= 0, sum(cp.norm(block @ v) for block in blocks) <= 1]
    )
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11)
    assert price == pytest.approx(problem.value, rel=1e-6, abs=1e-9)
    assert g @ u == pytest.approx(problem.value, rel=1e-6, abs=1e-9)


def _circular_problem(seed, loss, n_layers, activation, n=30, length=8, n_patterns=16):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, length))
    y = X[:, 0] ** 2 + X[:, 1] + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    formulation = CircularFormulation(n_layers, activation)
    patches = X[:, None, :]
    gates = formulation.sample_gates(patches, n_patterns, np.random.RandomState(seed))
    return formulation.program(patches, gates), y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("n_layers, activation", [(3, "relu"), (4, "relu"), (4, "linear")])
def test_native_matches_cvxpy_on_circular_programs(n_layers, activation, loss, fit_intercept):
    program, y = _circular_problem(n_layers, loss, n_layers, activation)
    beta = 0.05
    options = dict(beta=beta, loss=loss, fit_intercept=fit_intercept)
    native = solve_native(program, y, tol=1e-7, max_iter=200, **options)
    assert native.converged
    reference = _reference(program, y, beta, loss, fit_intercept)
    assert native.objective == pytest.approx(reference.objective, rel=1e-6)
    f = program.fit_values(native.coef) + native.intercept
    value = 0.5 * np.sum((f - y) ** 2) if loss == "squared" else np.sum(np.logaddexp(0, -y * f))
    assert value + beta * program.regularizer(native.coef) == pytest.approx(
        native.objective, rel=1e-10
    )
    # the certificate: a lower bound that CVXPY's (feasible) point does not undercut
    assert 0 <= native.duality_gap <= 1e-7 * native.objective
    assert native.objective - native.duality_gap <= reference.objective * (1 + 1e-9)


def test_circular_logistic_fit_on_separable_data_is_solved():
    # far from the boundary the logistic loss's Hessian weights underflow to zero, and the
    # restricted problems' quadratic models were unbounded (DualInfeasible): the fit stopped at
    # its empty start, 20.7 against an optimum of 0.0333 (found by a numerical review)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    y = (X[:, 0] + X[:, 1] - X[:, 3] > 0).astype(int)
    common = dict(beta=1e-3, architecture="circular", loss="logistic", n_patterns=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        native = ConvexCNNClassifier(solver="native", tol=1e-6, **common).fit(3 * X, y)
    reference = ConvexCNNClassifier(solver="clarabel", **common).fit(3 * X, y)
    assert native.objective_ <= reference.objective_ * (1 + 1e-6)
    assert 0 <= native.duality_gap_ <= 1e-6 * native.objective_


def test_circular_fit_at_a_tiny_effective_beta_is_certified():
    # inputs of size 1e4 at beta=1: the restricted QPs' coefficients were of size 4e4 in the
    # solver's units, where Clarabel left the fit 4e-4 off at every tolerance and the dual
    # vector's prices at twice beta; the solve stalled at 0.39 of the objective (its last
    # QPs are now solved in units of the coefficients' size)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 5))
    y = 100 * (np.maximum(X @ rng.standard_normal(5), 0.0) + 0.1 * rng.standard_normal(40))
    common = dict(architecture="circular", beta=1.0, n_patterns=2, tol=1e-7, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        native = ConvexCNNRegressor(solver="native", **common).fit(1e4 * X, y)
    assert 0 <= native.duality_gap_ <= 1e-7 * native.objective_
    reference = ConvexCNNRegressor(solver="clarabel", **common).fit(1e4 * X, y)
    assert native.objective_ <= reference.objective_ * (1 + 1e-9)


def test_only_a_circular_solves_last_qps_are_in_units_of_its_groups_coefficients(monkeypatch):
    # the units are a last step before a stall (applied always, they broke a passing
    # circular classifier), and their size is the groups' coefficients' and the targets'
    # over the groups' columns, not the intercept's column of ones. (Seed 3 with n_patterns=2
    # of before, whose QPs have more samples than variables, certifies without them since
    # those QPs are centred: _restricted._clarabel_qp; and this fit is certified before the
    # units by the restricted problem's dual, which is left out here)
    monkeypatch.setattr(_native, "_restricted_dual_bound", lambda *args, **kwargs: -np.inf)
    rng = np.random.default_rng(13)
    X = rng.standard_normal((40, 5))
    y = 100 * (np.maximum(X @ rng.standard_normal(5), 0.0) + 0.1 * rng.standard_normal(40))
    units, columns = [], []
    proximal_newton, coefficient_unit = _native.proximal_newton, _native._coefficient_unit

    def recording_units(*args, unit=1.0, **kwargs):
        units.append((kwargs["qp_tol"], unit))
        return proximal_newton(*args, unit=unit, **kwargs)

    def recording_columns(M, y, coef):
        columns.append((M.shape[1], coef.size))
        return coefficient_unit(M, y, coef)

    monkeypatch.setattr(_native, "proximal_newton", recording_units)
    monkeypatch.setattr(_native, "_coefficient_unit", recording_columns)
    params = dict(architecture="circular", beta=1.0, n_patterns=4, tol=1e-7, random_state=0)
    ConvexCNNRegressor(solver="native", **params).fit(1e4 * X, y)
    assert units[-1][1] > 1.0  # (the premise: the solve reached the units)
    # (only after the finest tolerance: the tolerance goes 1e-9, 1e-11, 1e-12)
    assert all(unit == 1.0 for qp_tol, unit in units if qp_tol > 1e-12)
    assert units[0][0] > 1e-12
    assert columns and all(n_columns == n_coef for n_columns, n_coef in columns)


def test_restricted_qp_in_units_of_its_coefficients_is_the_same_qp():
    from sklearn_convexcnn._solvers._restricted import solve_qp

    rng = np.random.default_rng(1)
    n, n_groups, h = 30, 3, 3
    M = np.hstack([rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = M[:, :h] @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(n)
    cones = [rng.standard_normal((4, h)) for _ in range(n_groups)]
    blocks = spectral_blocks(h, 3)
    qp = (M, np.ones(n), M.T @ M, -(M.T @ y), 0.5, h, cones, 1e-10, blocks)
    as_given, _ = solve_qp(*qp)
    for unit in (2.0**-10, 2.0**10):
        np.testing.assert_allclose(solve_qp(*qp, unit=unit)[0], as_given, atol=1e-6)


def test_restricted_qp_with_coupling_rows_in_units_is_the_same_qp_and_multipliers():
    # (a three-layer QP's second-layer rows span the groups: in units, their columns are
    # scaled with the groups', and the multipliers come back as they are; rows left in the
    # given units would be other rows, another QP)
    from sklearn_convexcnn._solvers._restricted import solve_qp

    rng = np.random.default_rng(1)
    n, n_groups, h = 40, 4, 3
    M = np.hstack([rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = M[:, : 2 * h] @ rng.standard_normal(2 * h) + 0.1 * rng.standard_normal(n)
    K = np.hstack([rng.standard_normal((5, n_groups * h)), np.zeros((5, 1))])
    blocks = [np.zeros((0, h))] * n_groups
    qp = (M, np.ones(n), None, -(M.T @ y), 0.5, h, blocks, 1e-10, np.eye(h)[None], K)
    as_given, mu = solve_qp(*qp)
    assert mu.max() > 1e-2  # (the premise: coupling rows that bind)
    for unit in (2.0**-6, 2.0**6):
        x, mu_units = solve_qp(*qp, unit=unit)
        np.testing.assert_allclose(x, as_given, atol=1e-6)
        np.testing.assert_allclose(mu_units, mu, atol=1e-6)


def test_a_coefficient_unit_is_the_next_power_of_two_above_one():
    # (coefficient_unit) Clarabel is accurate on coefficients of unit size and less: sizes
    # of at most one keep the given units (a fit's of 0.02 in units of 0.03 stalled), larger
    # ones go to the power of two above them (an exact scaling, no rounding)
    from sklearn_convexcnn._solvers._restricted import coefficient_unit

    for size in (0.0, 0.02, 1.0, np.inf, np.nan):
        assert coefficient_unit(size) == 1.0
    assert coefficient_unit(1.5) == 2.0
    assert coefficient_unit(3.0) == 4.0
    assert coefficient_unit(4e4) == 2.0**16


def test_a_circular_qps_unit_is_the_larger_of_its_point_and_the_targets_spread():
    # (_native._coefficient_unit) the coefficients expected: the current point's largest, or
    # the targets' spread over the largest entry of the groups' columns where that is larger
    # (a cold start's point is zero)
    M = np.array([[-0.5, 0.25], [0.1, 0.0]])
    y = np.array([-3.0, 7.0])  # (a spread of 10, over the largest entry's 0.5: 20)
    assert _native._coefficient_unit(M, y, np.zeros((1, 2))) == 32.0
    assert _native._coefficient_unit(M, y, np.array([[-100.0, 1.0]])) == 128.0
    assert _native._coefficient_unit(np.zeros((2, 2)), y, np.zeros((1, 2))) == 1.0


def test_restricted_qp_with_few_samples_lifts_the_fit():
    # 10 samples, 19 variables: the fit becomes a variable of its own. Zero rows add nothing
    # to the objective and make the same QP dense (30 samples): both must agree.
    from sklearn_convexcnn._solvers._restricted import solve_qp

    rng = np.random.default_rng(0)
    n, n_groups, h = 10, 6, 3
    M = np.hstack([rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = M[:, :h] @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(n)
    cones = [rng.standard_normal((4, h)) for _ in range(n_groups)]
    padded = np.vstack([M, np.zeros((20, M.shape[1]))])
    solutions = [
        solve_qp(A, np.ones(len(A)), None, -(M.T @ y), 0.5, h, cones, 1e-10, np.eye(h)[None])[0]
        for A in (M, padded)
    ]
    np.testing.assert_allclose(solutions[0], solutions[1], atol=1e-6)
    for j, rows in enumerate(cones):
        # the QP's accuracy, relative to its whole point: groups of norm 1e-12 are interior-point
        # residue whose directions mean nothing (relative slacks of -2.5e-2 on their own norm)
        c = solutions[0][j * h : (j + 1) * h]
        assert_in_cone(rows, c, rtol=SOLVER_RTOL, size=np.linalg.norm(solutions[0]))


@pytest.mark.parametrize("n", [40, 8])  # with a dense Hessian, and with the fit lifted
def test_restricted_qp_multipliers_of_coupling_rows_satisfy_the_kkt_conditions(n):
    # rows over several groups (a three-layer branch's second layer): x optimal iff
    # M^T (M x - y) + beta u_j = K^T mu on each nonzero group, mu >= 0, mu . K x = 0
    from sklearn_convexcnn._solvers._restricted import solve_qp

    rng = np.random.default_rng(1)
    n_groups, h = 4, 3
    M = np.hstack([rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = M[:, : 2 * h] @ rng.standard_normal(2 * h) + 0.1 * rng.standard_normal(n)
    K = np.hstack([rng.standard_normal((5, n_groups * h)), np.zeros((5, 1))])
    blocks = [np.zeros((0, h))] * n_groups
    x, mu = solve_qp(M, np.ones(n), None, -(M.T @ y), 0.5, h, blocks, 1e-10, np.eye(h)[None], K)
    assert mu.shape == (5,)
    assert np.all(mu >= -1e-9)
    assert_in_cone(K, x, rtol=SOLVER_RTOL)
    assert abs(mu @ (K @ x)) <= 1e-7
    assert mu.max() > 1e-3  # (some row binds: the test means something)
    stationarity = M.T @ (M @ x - y) - K.T @ mu
    coef = x[:-1].reshape(n_groups, h)
    active = np.linalg.norm(coef, axis=1) > 1e-6
    assert active.any()
    for j in np.flatnonzero(active):
        unit = coef[j] / np.linalg.norm(coef[j])
        np.testing.assert_allclose(stationarity[j * h : (j + 1) * h], -0.5 * unit, atol=1e-5)
    assert abs(stationarity[-1]) <= 1e-5  # the intercept


@pytest.mark.parametrize("n", [40, 8])
@pytest.mark.parametrize("m_scale, y_scale", [(1.0, 1e-4), (100.0, 1e-3)])
def test_restricted_qp_multipliers_are_in_the_problems_units_at_any_scale(n, m_scale, y_scale):
    # solve_qp first solves a QP of small objective in the data's units (columns over their
    # largest entry, objective over its size): the coupling rows' multipliers it returns are
    # the given problem's, which the three-layer pricing and certificate use as they are
    from sklearn_convexcnn._solvers._restricted import _objective_size, solve_qp

    rng = np.random.default_rng(1)
    n_groups, h = 4, 3
    M = np.hstack([m_scale * rng.standard_normal((n, n_groups * h)), np.ones((n, 1))])
    y = y_scale * (M[:, : 2 * h] @ rng.standard_normal(2 * h) / m_scale)
    y += y_scale * 0.1 * rng.standard_normal(n)
    beta = 0.5 * y_scale * m_scale
    K = np.hstack([rng.standard_normal((5, n_groups * h)), np.zeros((5, 1))])
    blocks = [np.zeros((0, h))] * n_groups
    linear = -(M.T @ y)
    assert _objective_size(M, np.ones(n), None, linear, beta) < 1e-3  # (the premise)
    x, mu = solve_qp(M, np.ones(n), None, linear, beta, h, blocks, 1e-10, np.eye(h)[None], K)
    assert np.all(mu >= -1e-9 * beta) and mu.max() > 1e-3 * beta
    stationarity = M.T @ (M @ x - y) - K.T @ mu
    coef = x[:-1].reshape(n_groups, h)
    norms = np.linalg.norm(coef, axis=1)
    active = np.flatnonzero(norms > 1e-6 * norms.max())
    assert len(active)
    for j in active:
        np.testing.assert_allclose(
            stationarity[j * h : (j + 1) * h], -beta * coef[j] / norms[j], atol=1e-4 * beta
        )
    assert abs(stationarity[-1]) <= 1e-4 * beta  # the intercept


def _recording_feasibility(monkeypatch):
    """Record the target, the ``feasibility`` and the end objective of every restricted solve."""
    original, calls = _native._restricted_then_feasible, []

    def recording(work, y, b, beta, loss, *args, feasibility=True, in_units=False, verbose=0):
        b, feasible = original(
            work, y, b, beta, loss, *args, feasibility=feasibility, in_units=in_units
        )
        coef = work.coef
        design = work.design(intercept=True)
        f = design[:, : coef.size] @ coef.ravel() + b
        calls.append((y.tobytes(), feasibility, _restricted.objective(loss, f, y, beta, coef)))
        return b, feasible

    monkeypatch.setattr(_native, "_restricted_then_feasible", recording)
    return calls


def test_cone_rows_wait_until_the_groups_settle(monkeypatch):
    # half the restricted solves of a digits class re-solved the working set after rows were
    # added, for working sets that the next groups replaced: the rows now wait, the groups
    # are found on the kept rows alone, and the answer is the same certified optimum
    calls = _recording_feasibility(monkeypatch)
    operator, y, beta, _, problem = _stored_bars_program()
    solution = solve_native(
        operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-7, max_iter=500
    )
    assert solution.status == "optimal"
    assert solution.duality_gap <= 1e-7 * solution.objective
    _assert_bars_optimum(solution, operator, problem, beta)
    deferred = [feasibility for _, feasibility, _ in calls]
    assert deferred.count(False) >= 3 and deferred[-1]


def test_growth_solves_are_guides_settled_where_they_satisfy_every_row(monkeypatch):
    # while pricing adds groups, a restricted point only guides it to the next ones: the face
    # method stops after its first change of face (the README demo: 1,132 Newton systems
    # against 1,476). A guide that satisfies every row may be certified at once, so it is
    # solved to the restricted optimum first
    operator, y, beta, _, problem = _stored_bars_program()
    options = dict(beta=beta, loss="squared", fit_intercept=True, tol=1e-7, max_iter=500)
    solve_on_faces, violated_rows, events = _native.solve_on_faces, _native._violated_rows, []

    def recording_solve(*args, guide=False, **kwargs):
        events.append(("guide" if guide else "solve", None))
        return solve_on_faces(*args, guide=guide, **kwargs)

    def recording_rows(work):
        violations = violated_rows(work)
        events.append(("rows", bool(violations)))
        return violations

    face_system, systems = _faces._face_system, []

    def counting_systems(*args, **kwargs):
        systems.append(1)  # (a Hessian formed and factorized)
        return face_system(*args, **kwargs)

    monkeypatch.setattr(_native, "solve_on_faces", recording_solve)
    monkeypatch.setattr(_native, "_violated_rows", recording_rows)
    monkeypatch.setattr(_faces, "_face_system", counting_systems)
    solution = solve_native(operator, y, **options)
    with_guides, guided = len(systems), list(events)

    def never_guides(*args, guide=False, **kwargs):
        return recording_solve(*args, **kwargs)

    monkeypatch.setattr(_native, "solve_on_faces", never_guides)
    systems.clear()
    reference = solve_native(operator, y, **options)
    assert solution.status == reference.status == "optimal"
    assert solution.objective == pytest.approx(reference.objective, rel=1e-9)
    assert with_guides < len(systems)
    guides = [k for k, (kind, _) in enumerate(guided) if kind == "guide"]
    assert len(guides) >= 3
    # each guide's rows are checked; one that violates none is settled by a solve at once
    settled = 0
    for k in guides:
        assert guided[k + 1][0] == "rows"
        if not guided[k + 1][1]:
            assert guided[k + 2] == ("solve", None)
            settled += 1
    assert settled >= 1


def test_a_solve_stopped_while_rows_wait_returns_a_feasible_point():
    # max_iter ends the solve among the deferred solves: the answer must still satisfy every
    # row of its cones, and its objective and gap must be its own
    operator, y, beta, _, problem = _stored_bars_program()
    for max_iter in (1, 2, 3):
        solution = solve_native(
            operator, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-7,
            max_iter=max_iter,
        )  # fmt: skip
        assert not solution.converged and 0 < solution.duality_gap < np.inf
        assert_operator_point_feasible(operator, solution.coef, rtol=SOLVER_RTOL)
        objective = _objective_of(solution, problem, beta)
        assert solution.objective == pytest.approx(objective, rel=1e-12)


def test_feasible_points_of_a_max_pooling_solve_only_go_down(monkeypatch):
    # while the rows waited, the groups of a feasible point could leave the set: on a
    # max-pooling program (its rows fix each pool's winner; seed 7) the feasible objectives of
    # class 0 went 3.66, 1.55, 0.95, 1.12, 2.45, ... and the solve stalled at a gap of 0.23.
    # The groups of the last feasible point now stay until the next one. (Since the growth
    # phase's guides, seed 7 gives two feasible points a class; on seed 0, three, which go up
    # and down without the anchors)
    calls = _recording_feasibility(monkeypatch)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((15, 16)), np.arange(15) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        clf = ConvexCNNClassifier(
            beta=0.05, input_shape=(4, 4), kernel_size=2, pooling="max", pool_size=2,
            n_patterns=12, random_state=0, solver="native",
        ).fit(X, y)  # fmt: skip
    assert clf.duality_gap_ <= clf.tol * clf.objective_
    by_class = {}
    for target, feasibility, value in calls:
        if feasibility:
            by_class.setdefault(target, []).append(value)
    assert len(by_class) == 3 and max(map(len, by_class.values())) >= 3
    for values in by_class.values():
        assert np.all(np.diff(values) <= 1e-9 * np.abs(values[:-1]))


def test_operator_of_many_patterns_on_large_images_works_in_bounded_chunks():
    # a block of rows holds whole samples and whole bytes, lcm(K, 8) = 1352 rows on 28x28
    # images: 20,000 patterns took (20000, 1352) arrays at once (216 MB each, 815 MiB in
    # all for a fit of 20 images) until the patterns came in blocks as well
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((2, 676, 9))
    gates = rng.standard_normal((9, 20000))
    tracemalloc.start()
    try:
        operator = PatchOperator(patches, gates, np.full(676, 1 / 676))
        operator.correlations(rng.standard_normal(2))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the signs (3.4 MB) and candidates, plus chunks of 2**22 entries (products, ranks)
    assert peak < 120 * 2**20


def test_pieces_and_cleaning_of_many_groups_work_in_bounded_chunks():
    # pruning 248 groups of 3000 signals of 196 patches took 1.3 GB where the solve had taken
    # 110 MB: the pieces' weighted masks, and the cone products of every group, all at once
    from sklearn_convexcnn._formulations._pruning import clean_groups

    rng = np.random.default_rng(0)
    patches = rng.standard_normal((200, 196, 5))
    gates = rng.standard_normal((5, 1000))
    operator = PatchOperator(patches, gates, np.full(196, 1 / 196), with_candidates=False)
    coef = np.zeros((2, 1000, 5))
    coef[0] = gates.T  # (a gate lies in its own cone: nothing to project)
    tracemalloc.start()
    try:
        pieces = operator.pieces(np.arange(1000))
        cleaned = clean_groups(operator, coef)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(cleaned, coef)
    dense = np.einsum(
        "pnk,nkh->pnh", operator.masks(np.arange(3)).reshape(3, 200, 196) / 196, patches
    )
    np.testing.assert_allclose(pieces[:3], dense, rtol=1e-12)
    # the pieces take 8 MB, their chunks of 2**22 entries (float64, and a transposed copy for
    # BLAS) 67 MB; all at once, 344 MiB (pieces) and 385 MiB (cleaning)
    assert peak < 128 * 2**20


@pytest.mark.parametrize("pooling", ["none", "average"])
def test_a_tiny_beta_keeps_the_groups_that_carry_the_fit(pooling):
    # a review: the residue rule beta ||c_j|| <= 1e-14 * loss(constant) zeroed every group of
    # the restricted optimum at beta=1e-13 (7 groups of norms up to 1.3, a point of 0.997)
    # and kept the intercept fitted along with them: 16.29, above the empty network's 15.95,
    # iteration after iteration, then the empty network; average pooling ended at 1.27.
    # Residue is now dropped only where the objective allows (as the CVXPY back-ends do)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X @ rng.standard_normal(8), 0) + 0.3 * rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        beta=1e-13, kernel_size=3, n_patterns=8, pooling=pooling, solver="native",
        random_state=0, max_iter=3,
    )  # fmt: skip
    with warnings.catch_warnings():  # (max_iter; such a beta is below what rounding certifies)
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    constant = 0.5 * np.sum((y - y.mean()) ** 2)  # 15.95
    assert reg.filters_.shape[0] > 0
    assert reg.objective_ < 1e-6 * constant  # 2.9e-12 and 3.2e-10
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 2])
def test_the_squared_loss_at_a_small_beta_converges_on_faces(monkeypatch, seed):
    # random walks (patches of norm up to 52) at beta=1e-3: the Gram's correlations cancel
    # from terms 1e7 times the prices, and the face method stopped at a point whose prices
    # overshot beta by 2e-6 (the residual's say). Finer tolerances changed nothing, and the
    # interior point, in half the fit's time, closed the gap for seed 0 (4.0e-8 of the
    # objective) but not for seed 2 (3.0e-7, warned); now Newton's last steps take the
    # residual's correlations (iterative refinement)
    from sklearn_convexcnn._solvers import _native

    interior_points = []
    proximal_newton = _native.proximal_newton

    def counted(*args, **kwargs):
        interior_points.append(1)
        return proximal_newton(*args, **kwargs)

    monkeypatch.setattr(_native, "proximal_newton", counted)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 32)).cumsum(axis=1)
    y = (X[:, -1] > 0).astype(int)
    clf = ConvexCNNClassifier(beta=1e-3, kernel_size=5, n_patterns=32, random_state=seed)
    clf.fit(X, y)  # (a ConvergenceWarning is an error here)
    assert not interior_points
    assert clf.duality_gap_ <= clf.tol * clf.objective_


def test_small_inputs_and_beta_certify_within_tol():
    # inputs of size 1e-2 and beta 2e-5, no intercept: the face method's last correction of
    # the kept rows' rounding decides such fits near tol. Deciding which groups to correct
    # from slacks rounded otherwise than the correction's own test left this one stalled at
    # 1.14 tol (a fuzz, 1 of 380 problems). So near tol, the result is the BLAS's rounding:
    # 0.84-0.93 tol with two threads, a stall at 1.19, 1.35 and 1.17 tol with one, three and
    # four (a review), warned. What holds on every machine: within tol, or a stall warned as
    # one at the restricted problems' accuracy, not far from tol
    rng = np.random.default_rng(389805)
    rng.random()  # (the fuzz's draw of the kind of signal: random walks)
    X = rng.standard_normal((148, 40)).cumsum(axis=1) / np.sqrt(40)
    Z = np.lib.stride_tricks.sliding_window_view(X, 5, axis=1) @ rng.standard_normal(5)
    t = np.maximum(Z, 0).mean(1) - 0.3 * np.maximum(-Z, 0).max(1) + 0.1 * rng.standard_normal(148)
    y = (t > np.median(t)).astype(int)
    est = ConvexCNNClassifier(
        beta=2.2047418611520035e-05, kernel_size=5, pool_size=2, n_patterns=38,
        fit_intercept=False, solver="native", random_state=805,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X * 0.009006807813049886, y)
    ratio = est.duality_gap_ / (est.tol * est.objective_)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    if ratio <= 1:
        assert not messages, messages
    else:
        assert ratio < 2, ratio
        assert len(messages) == 1 and "cannot be solved more accurately" in messages[0]


def test_restricted_solves_get_finer_down_to_1e_12_then_leave_the_faces():
    # the ladder a solve climbs when pricing finds nothing to add (_finer): the interior
    # point's tolerance a hundredth at a time down to 1e-12, then, at 1e-12 itself, the
    # interior point instead of the faces, then nothing (the solve has stalled). A ladder
    # that stays at 1e-12 with the faces never reaches the interior point nor the stall
    hundredth = pytest.approx(1e-11, rel=1e-12)
    assert _native._finer(1e-9, True, False, True) == (hundredth, True, False)
    assert _native._finer(1e-11, True, False, True) == (1e-12, True, False)
    assert _native._finer(1e-12, True, False, True) == (1e-12, False, False)
    assert _native._finer(1e-12, False, False, True) is None
    # (without faces: the tolerance only)
    assert _native._finer(1e-9, False, False, True) == (hundredth, False, False)
    # other group norms (no faces, no polish): the QPs in their coefficients' units last
    assert _native._finer(1e-12, False, False, False) == (1e-12, False, True)
    assert _native._finer(1e-12, False, True, False) is None


def test_cone_rows_wait_no_longer_than_max_iter_or_a_stall_allows():
    # _rows_due: rows wait while groups are added, but the solve that max_iter's last
    # iteration runs must add them (its point is returned, and must be feasible), and so
    # must the one _STALL_ITERATIONS after the last decrease of the objective
    stall = _native._STALL_ITERATIONS
    lowest = _native._Lowest(iteration=3)
    candidates = [(0, 0)]

    def due(n_iter, max_iter=100, defer_rows=True, added=candidates):
        return _native._rows_due(added, defer_rows, n_iter, max_iter, lowest)

    assert not due(4)
    assert due(4, defer_rows=False) and due(4, added=[])
    assert not due(9, max_iter=10) and due(10, max_iter=10) and due(11, max_iter=10)
    assert not due(3 + stall - 1) and due(3 + stall)


def test_the_best_groups_come_largest_first_ties_by_index():
    # _best ranks the candidates of a pricing round and the groups to relax: largest first
    # and, among equal values (digits repeat patches, so prices tie), the lower index first,
    # whether it ranks some values (argpartition) or all (a stable sort)
    values = np.array([1.0, 3.0, 1.0, 3.0, 2.0, 3.0])
    np.testing.assert_array_equal(_native._best(values, 2), [1, 3])
    np.testing.assert_array_equal(_native._best(values, 4), [1, 3, 5, 4])
    np.testing.assert_array_equal(_native._best(values, 6), [1, 3, 5, 4, 0, 2])
    np.testing.assert_array_equal(_native._best(values, 10), [1, 3, 5, 4, 0, 2])


def test_a_cold_solve_that_max_iter_stopped_is_not_said_to_have_stalled(monkeypatch, capsys):
    # _lost: a stalled cold solve far from its certificate is solved again along the
    # continuation, said with verbose; one that max_iter stopped, however far from its
    # certificate, has spent its iterations and is returned as it is, not called a stall
    def point(status, gap, n_iter=5):
        return Solution(np.zeros((2, 1, 2)), 0.0, 1.0, False, status, n_iter, "native", gap)

    assert _native._lost(point("stalled", 0.9))
    assert not _native._lost(point("stalled", 1e-4))
    assert not _native._lost(point("max_iter reached", 0.9))
    calls = []

    def stopped(*args, **kwargs):
        calls.append(kwargs["beta"])
        return point("max_iter reached", 0.9)

    monkeypatch.setattr(_native, "_solve", stopped)
    patches, gates, y, formulation = _problem(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-7, max_iter=5)
    solution = solve_native(formulation.operator(patches, gates), y, verbose=1, **options)
    assert len(calls) == 1
    assert solution.status == "max_iter reached" and solution.n_iter == 5
    assert "stalled" not in capsys.readouterr().out


def test_progress_lines_count_the_working_sets_groups_and_rows(capsys):
    # verbose's line of an iteration: "1 group" but "2 groups", and the kept rows of all
    # groups summed; a point on the kept rows alone says so instead of a gap
    class Work(list):
        rows = ()

    one, two = Work([(0, 0)]), Work([(0, 0), (3, 1)])
    one.rows, two.rows = [np.arange(3)], [np.arange(3), np.arange(4)]
    _native._print_iteration(1, 2.5, None, 1e-7, one, start_time=0.0)
    _native._print_iteration(2, 2.5, 1e-3, 1e-7, two, start_time=0.0)
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("[native] iteration 1: objective 2.5 (on the kept cone rows), ")
    assert ", 1 group, 3 rows, " in first
    assert second.startswith("[native] iteration 2: objective 2.5, gap 1.00e-03 (relative ")
    assert ", 2 groups, 7 rows, " in second


def test_interior_point_residue_is_negligible_relative_to_the_largest_group_or_the_loss():
    # _restricted.clean zeroes a group on either rule: a norm at most 1e-10 of the largest
    # group's, or a penalty beta ||c|| at most 1e-14 of the loss's scale; a copy
    norm = GroupNorm()
    coef = np.array([[3.0, 4.0], [3e-11, 4e-11], [0.0, 1e-3]])  # norms 5, 5e-11, 1e-3
    given = coef.copy()
    relative = _restricted.clean(coef, 1.0, 1.0, norm)  # (penalties 5e-11 and 1e-3: not tiny)
    np.testing.assert_array_equal(relative, [[3.0, 4.0], [0.0, 0.0], [0.0, 1e-3]])
    absolute = _restricted.clean(coef[[0, 2]], 1e-12, 1.0, norm)  # (a penalty of 1e-15)
    np.testing.assert_array_equal(absolute, [[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(coef, given)


def test_a_scaled_operator_is_the_operator_of_the_scaled_program():
    # ScaledOperator(op, s) (solve_native's units) must answer as the operator of the program
    # of s X: every piece and cone row times s, its row_scale too (the feasibility rounds'
    # tolerance is relative to it), the same candidate rows
    rng = np.random.default_rng(0)
    pieces, cones = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4, 2))
    scaled = _native.ScaledOperator(DenseOperator(GroupProgram(pieces, cones)), 2.0**20)
    direct = DenseOperator(GroupProgram(2.0**20 * pieces, 2.0**20 * cones))
    assert scaled.row_scale == direct.row_scale
    assert (scaled.n_patterns, scaled.n_samples, scaled.patch_size, scaled.n_rows) == (3, 5, 2, 4)
    v, U, index, rows = rng.standard_normal(5), rng.standard_normal((2, 2)), [2, 0], [1, 3]
    np.testing.assert_array_equal(scaled.correlations(v), direct.correlations(v))
    np.testing.assert_array_equal(scaled.pieces(index), direct.pieces(index))
    np.testing.assert_array_equal(scaled.cone_products(U, index), direct.cone_products(U, index))
    np.testing.assert_array_equal(scaled.cone_rows(1, rows), direct.cone_rows(1, rows))
    for a, b in zip(
        scaled.cone_rows_of(index, [rows, [0]]), direct.cone_rows_of(index, [rows, [0]]),
        strict=True,
    ):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scaled.candidate_rows(1), direct.candidate_rows(1))


def test_face_coordinates_and_back_are_the_groups_coefficients():
    # the polish's face (_restricted.face_coordinates) and its way back (from_face): each
    # active group's coordinates in the null space of its tight rows, consecutive, a block
    # as long as its basis; the face's design times them is the working set's fit
    rng = np.random.default_rng(0)
    h, n_groups = 3, 3
    M = rng.standard_normal((8, n_groups * h))
    coef = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [0.3, -1.0, 2.0]])
    cones = [np.array([[1.0, 0.0, -2.0], [1.0, 1.0, 1.0]]), np.eye(h),
             np.array([[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])]  # fmt: skip
    active = np.array([0, 2])
    bases, B, w = _restricted.face_coordinates(M, coef, active, cones, tight=1e-6)
    assert [basis.shape[1] for basis in bases] == [2, 1]  # (one tight row, and two)
    back = _restricted.from_face(w, active, bases, coef.shape)
    np.testing.assert_allclose(back, coef, atol=1e-14)
    np.testing.assert_allclose(B @ w, M @ coef.ravel(), atol=1e-13)
    shifted = _restricted.from_face(np.append(w, 7.0), active, bases, coef.shape)
    np.testing.assert_array_equal(shifted, back)  # (an intercept after them is ignored)


def test_feasibility_rounds_that_never_end_fail_after_1000_with_a_reason(monkeypatch):
    # _restricted_then_feasible: rows that keep coming (a degenerate cone) end the rounds
    # after 1000 restricted solves with a SolverFailed that says why, which the warm start's
    # verbose line quotes (the solve itself then stalls:
    # test_native_solver_stops_when_the_objective_stops_decreasing)
    solves = []

    def unmoved(work, y, b, **kwargs):
        solves.append(1)
        return work.coef, b

    monkeypatch.setattr(_native, "_restricted_solve", unmoved)
    monkeypatch.setattr(_native, "_violated_rows", lambda work: [(0, np.array([0]))])
    patches, gates, y, formulation = _problem(0, "squared")
    work = _native._WorkingSet(formulation.operator(patches, gates))
    work.add(0, 0, [])
    with pytest.raises(
        SolverFailed, match=r"^cone rows of the working set still violated after 1000 rounds$"
    ):
        _native._restricted_then_feasible(work, y, 0.0, 0.1, "squared", True, 1e-9, True)
    assert len(solves) == 1000


def test_the_polish_tries_faces_above_the_widest_gaps_of_ten_times_or_more():
    # _restricted.gap_faces: the interior point leaves near-degenerate groups at 1e-6 to
    # 1e-4 of the active ones; a gap of 10x or more in the sorted norms tells them apart,
    # the widest gaps first, zero groups never on a face
    gap_faces = _restricted.gap_faces
    faces = gap_faces(np.array([1.0, 0.8, 0.02, 0.0, 0.019]))  # (gaps 1.25, 40, 1.05)
    np.testing.assert_array_equal(faces, [[True, True, False, False, False]])
    np.testing.assert_array_equal(gap_faces(np.array([10.0, 1.0])), [[True, False]])
    assert gap_faces(np.array([9.0, 1.0])) == []
    faces = gap_faces(np.array([1e-6, 1.0, 1e-2]))  # (gaps 100 and 1e4: the wider first)
    np.testing.assert_array_equal(faces, [[False, True, True], [False, True, False]])


def test_a_qps_objective_size_is_its_one_dimensional_models_value_or_one():
    # _restricted._objective_size decides the units of the interior point's QPs:
    # max(|linear|, beta)^2 over the largest curvature, and 1 where that is no positive,
    # finite number (a zero QP, or one without curvature, whose quotient overflows)
    size = _restricted._objective_size
    M, weights = np.array([[2.0, 0.0], [0.0, 1.0]]), np.ones(2)
    assert size(M, weights, None, np.array([3.0, -1.0]), 1.0) == 9.0 / 4.0
    assert size(M, weights, M.T @ M, np.array([0.5, 0.0]), 1.0) == 1.0 / 4.0  # (beta's)
    assert size(M, weights, None, np.zeros(2), 0.0) == 1.0
    assert size(np.zeros((2, 2)), weights, None, np.array([1e5, 0.0]), 1.0) == 1.0
    # (a square past the largest float is that too, not Python's OverflowError of 1e200 ** 2)
    assert size(M, weights, None, np.array([1e200, 0.0]), 1.0) == 1.0


def test_an_operators_row_scale_is_its_largest_cone_row_or_one_without_any():
    # row_scale (the units of solve_native, the feasibility rounds' tolerance): the largest
    # norm of a cone row, and 1, not 0, for a program whose rows are all zero
    cones = np.zeros((2, 3, 2))
    cones[1, 2] = [3.0, 4.0]
    cones[0, 1] = [1.0, 1.0]
    assert DenseOperator(GroupProgram(np.ones((2, 4, 2)), cones)).row_scale == 5.0
    assert DenseOperator(GroupProgram(np.ones((2, 4, 2)), np.zeros((2, 3, 2)))).row_scale == 1.0
    patches = np.zeros((2, 3, 2))
    gates = np.array([[1.0, -1.0], [0.5, 2.0]])
    assert PatchOperator(patches, gates, np.full(3, 1 / 3)).row_scale == 1.0
    patches[1, 2] = [3.0, 4.0]
    assert PatchOperator(patches, gates, np.full(3, 1 / 3)).row_scale == 5.0


def test_stacked_and_scaled_operators_keep_their_blocks_row_scale_and_candidates():
    # a regional read-out's stacked operator: the largest row of any block (its feasibility
    # tolerance's unit), not its first block's; a scaled operator forwards the candidate rows
    # of the operator it scales (a dense one has none to compare with)
    rng = np.random.default_rng(0)
    patches = rng.standard_normal((6, 4, 3))
    small = PatchOperator(patches, rng.standard_normal((3, 2)), np.full(4, 0.25))
    large = PatchOperator(10.0 * patches[:, :2], rng.standard_normal((3, 3)), np.full(2, 0.5))
    norms = np.linalg.norm(10.0 * patches[:, :2], axis=2)
    assert StackedOperator([small, large]).row_scale == pytest.approx(norms.max(), rel=1e-15)
    scaled = _native.ScaledOperator(small, 2.0**20)
    for i in range(small.n_patterns):
        assert len(small.candidate_rows(i)) > 0  # (the premise)
        np.testing.assert_array_equal(scaled.candidate_rows(i), small.candidate_rows(i))


def test_a_cone_row_counts_as_violated_relative_to_the_largest_row():
    # _violated_rows: a slack counts as violated below -1e-9 ||c|| row_scale (the interior
    # point's accuracy, relative to the program's largest row), not relative to ||c|| alone:
    # on inputs of size 100 rows at -5e-8 ||c|| are rounding, kept out of the feasibility rounds
    cones = np.array([[[100.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    operator = DenseOperator(GroupProgram(np.ones((1, 4, 2)), cones))
    assert operator.row_scale == 100.0
    work = _native._WorkingSet(operator)
    work.add(0, 0, [])
    work.coef = np.array([[-5e-10, 1.0]])  # (row 0's slack: -0.5e-9 ||c|| row_scale)
    assert _native._violated_rows(work) == []
    work.coef = np.array([[-2e-9, 1.0]])  # (-2e-9 ||c|| row_scale: beyond the tolerance)
    [(group, rows)] = _native._violated_rows(work)
    assert group == 0 and list(rows) == [0]
    work.rows[0] = np.array([0])
    assert _native._violated_rows(work) == []  # (a kept row is not added again)


def test_the_working_sets_design_asks_for_memory_for_its_designs_and_hessians(monkeypatch):
    # _WorkingSet.design: a working set whose arrays need more than _CHECKED_WORKING_SET_BYTES
    # is checked against the free memory for three designs (its own and the face method's
    # two, each at most as large) and nine Hessians of the design's width squared (more
    # samples than columns: the squared loss's Gram and its copies), with the remedy that
    # names beta; a smaller one is not checked
    asked = []
    monkeypatch.setattr(_native, "check_memory", lambda *args: asked.append(args))
    patches, gates, y, formulation = _problem(0, "squared")
    work = _native._WorkingSet(formulation.operator(patches, gates))
    work.add(0, 0, [])
    work.add(3, 1, [])
    n, h = len(y), patches.shape[2]
    work.design(intercept=True)
    assert asked == []
    monkeypatch.setattr(_native, "_CHECKED_WORKING_SET_BYTES", 24 * (2 * h + 1) * (n + 2 * h + 1))
    work.add(5, 0, [])  # (a new design: the set changed)
    M = work.design(intercept=True)
    assert M.shape == (n, 3 * h + 1)
    [(required, what, remedies)] = asked
    assert n >= M.shape[1] and required == 3 * M.nbytes + 9 * 8 * M.shape[1] ** 2
    assert what == f"The native solver's working set (3 groups of {h} coefficients on {n} samples)"
    assert remedies == "Use a larger beta (fewer neurons), fewer samples or fewer n_patterns."


def test_fit_values_count_groups_whose_norm_underflows():
    # _operator.fit_values takes the pieces of the nonzero groups only, nonzero by their
    # largest entry: a group of entries 1e-170, whose norm underflows to zero, still fits
    from sklearn_convexcnn._formulations._operator import fit_values

    rng = np.random.default_rng(0)
    program = GroupProgram(rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4, 2)))
    coef = np.zeros((2, 3, 2))
    coef[1, 2] = [1e-170, -3e-170]
    coef[0, 0] = [1.0, 2.0]
    assert np.linalg.norm(coef[:, 2]) == 0.0  # (the premise)
    expected = 0.5 + program.pieces[0] @ coef[0, 0] - program.pieces[2] @ coef[1, 2]
    np.testing.assert_allclose(fit_values(program, coef, 0.5), expected, rtol=1e-15)
    tiny = np.zeros((2, 3, 2))
    tiny[1, 2] = coef[1, 2]
    f = fit_values(program, tiny, 0.0)
    np.testing.assert_allclose(f, -(program.pieces[2] @ coef[1, 2]), rtol=1e-14, atol=0.0)
    assert np.all(f != 0.0)


def test_a_solve_of_targets_times_2_to_the_20_is_the_solve_of_the_targets_as_given():
    # solve_native solves in units of powers of 2**20 (_solution.units): the program of
    # (X, s y) at s beta is that of (X, y) at beta, with groups and intercept times s and
    # objective and gap times s**2, so with s = 2**20 every number comes back exactly scaled,
    # warm starts (coef_init, intercept_init: in the caller's units) too
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    options = dict(loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    s = 2.0**20
    given = solve_native(operator, y, beta=0.01, **options)
    scaled = solve_native(operator, s * y, beta=s * 0.01, **options)
    assert given.status == scaled.status == "optimal" and given.n_iter == scaled.n_iter
    np.testing.assert_array_equal(scaled.coef, s * given.coef)
    assert scaled.intercept == s * given.intercept
    assert scaled.objective == s**2 * given.objective
    assert scaled.duality_gap == s**2 * given.duality_gap
    warm = dict(options, beta=0.008, max_iter=0)  # (the start itself: no iteration)
    start = solve_native(operator, y, coef_init=given.coef, intercept_init=given.intercept, **warm)
    start_scaled = solve_native(
        operator, s * y, coef_init=s * given.coef, intercept_init=s * given.intercept,
        **{**warm, "beta": s * 0.008},
    )  # fmt: skip
    np.testing.assert_array_equal(start_scaled.coef, s * start.coef)
    assert start_scaled.intercept == s * start.intercept
    assert start_scaled.objective == s**2 * start.objective


def test_a_beta_whose_units_overflow_is_solved_as_given():
    # solve_native: where beta in the solver's units would overflow (a beta near float64's
    # largest, targets of size 2**-30 whose unit is 2**40), the program is solved as given:
    # at such a beta the optimum is the empty network at the best intercept
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    small = 2.0**-30 * y
    solution = solve_native(
        operator, small, beta=1e300, loss="squared", fit_intercept=True, tol=1e-8, max_iter=50
    )
    assert solution.status == "optimal"
    assert not solution.coef.any()
    assert solution.intercept == pytest.approx(small.mean(), rel=1e-12, abs=0.0)
    expected = 0.5 * np.sum((small - small.mean()) ** 2)
    assert solution.objective == pytest.approx(expected, rel=1e-9, abs=0.0)


def test_an_intercept_init_is_ignored_without_an_intercept():
    # _started: intercept_init starts the intercept only where one is fitted; without one the
    # intercept is 0 whatever the warm start says
    reference, (patches, gates, y, formulation) = _small_solve()
    options = dict(beta=0.01, loss="squared", fit_intercept=False, tol=1e-8, max_iter=500)
    operator = formulation.operator(patches, gates)
    for max_iter in (0, 500):  # (0: the warm start's own point is the answer)
        options["max_iter"] = max_iter
        plain = solve_native(operator, y, coef_init=reference.coef, **options)
        with_b = solve_native(operator, y, coef_init=reference.coef, intercept_init=3.0, **options)
        assert plain.intercept == with_b.intercept == 0.0
        assert with_b.objective == pytest.approx(plain.objective, rel=1e-9)
        assert with_b.n_iter == plain.n_iter


def test_a_warm_start_that_fails_starts_cold_at_the_best_intercept(monkeypatch):
    # _started: where the warm start's solve fails, the start is the empty network at the
    # best intercept (the mean of y for the squared loss), not at intercept_init: with
    # max_iter=0 that start is the answer
    reference, (patches, gates, y, formulation) = _small_solve()

    def failing(*args, **kwargs):
        raise _native.SolverFailed("the restricted problem stopped with InsufficientProgress")

    monkeypatch.setattr(_native, "_restricted_then_feasible", failing)
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.01, loss="squared", fit_intercept=True,
        tol=1e-8, max_iter=0, coef_init=reference.coef, intercept_init=reference.intercept + 5.0,
    )  # fmt: skip
    assert solution.status == "max_iter reached"
    assert not solution.coef.any()
    assert solution.intercept == pytest.approx(np.mean(y), rel=1e-12)


def test_the_groups_a_round_adds_are_half_the_set_within_a_16th_of_a_samples_pass():
    # _groups_per_round: half the working set, but at least _GROUPS_PER_ROUND and at most
    # K P / (16 h) (a pass's entries a sample, over 16 times the patch size; the operator's
    # cone rows are n K a pattern)
    class Work(list):
        operator = types.SimpleNamespace(n_rows=40, n_patterns=200, n_samples=10, patch_size=2)

    cap = 4 * 200 // (16 * 2)  # 25 (K = 4)
    assert _native._groups_per_round(Work(range(4))) == _native._GROUPS_PER_ROUND
    assert _native._groups_per_round(Work(range(40))) == 20
    assert _native._groups_per_round(Work(range(60))) == cap


def test_a_lost_cold_start_says_how_far_it_stalled_and_which_betas_it_tries(monkeypatch, capsys):
    # _solve_with_restarts: a cold solve that stalls beyond _LOST says so with verbose, with
    # its relative gap and the path it takes next, 100 beta, 10 beta and beta
    def point(status, gap):
        return Solution(np.zeros((2, 1, 2)), 0.0, 1.0, False, status, 1, "native", gap)

    answers = iter([point("stalled", 0.9)] + [point("optimal", 0.0)] * 3)
    calls = []

    def solve(*args, **kwargs):
        calls.append(kwargs["beta"])
        return next(answers)

    monkeypatch.setattr(_native, "_solve", solve)
    patches, gates, y, formulation = _problem(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-7, max_iter=50)
    solve_native(formulation.operator(patches, gates), y, verbose=1, **options)
    assert calls == pytest.approx([0.1, 10.0, 1.0, 0.1], rel=1e-15)
    assert capsys.readouterr().out == (
        "[native] stalled at 9.0e-01 of the objective from a cold start: solving again from "
        "larger betas (100 beta, 10 beta, 1 beta)\n"
    )


def test_progress_lines_of_points_on_the_kept_rows_alone_give_no_gap(monkeypatch, capsys):
    # _solve's progress line: a point that satisfies only the kept cone rows (a guide while
    # groups are added) bounds nothing, so its line says so instead of a gap; every guide
    # here is taken for such a point
    original, guides = _native._restricted_then_feasible, []

    def on_kept_rows_only(*args, feasibility=True, **kwargs):
        b, feasible = original(*args, feasibility=feasibility, **kwargs)
        if not feasibility:
            guides.append(len(guides))
            return b, False
        return b, feasible

    monkeypatch.setattr(_native, "_restricted_then_feasible", on_kept_rows_only)
    patches, gates, y, formulation = _problem(0, "squared")
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.01, loss="squared", fit_intercept=True,
        tol=1e-8, max_iter=500, verbose=1,
    )  # fmt: skip
    assert solution.status == "optimal" and guides  # (the premise: guides were solved)
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if line.startswith("[native] iteration ")]
    on_rows = [line for line in iterations if "(on the kept cone rows), " in line]
    assert len(on_rows) == len(guides)
    assert not any("gap" in line for line in on_rows)
    assert ", gap " in iterations[0] and ", gap " in iterations[-1]  # (feasible points)


def test_the_polish_tries_at_most_the_three_widest_gaps():
    # _restricted.gap_faces: of the gaps of 10x or more, the three widest (n_faces), widest
    # first: each face is a Newton solve of its own
    norms = np.array([1.0, 1e-2, 1e-5, 1e-9, 1e-14])  # (gaps 1e2, 1e3, 1e4, 1e5)
    faces = _restricted.gap_faces(norms)
    expected = [norms >= 1e-9, norms >= 1e-5, norms >= 1e-2]
    np.testing.assert_array_equal(faces, expected)


def test_distinct_faces_drops_repeats_and_keeps_the_order():
    # _restricted.distinct_faces: each face is a Newton solve of its own, tried once, in the
    # order given (the two-layer polish returns the first face that succeeds)
    a, b, c = np.array([True, False, True]), np.array([True, True, True]), np.array([1, 0, 0]) > 0
    faces = _restricted.distinct_faces([a, b, a.copy(), c, b])
    assert [face.tolist() for face in faces] == [a.tolist(), b.tolist(), c.tolist()]
    assert _restricted.distinct_faces([]) == []


def test_the_two_layer_polish_tries_the_gap_faces_then_the_residue_cut_then_every_group(
    monkeypatch,
):
    # _restricted.polish: the faces above the widest gaps (widest first), that above RESIDUE
    # of the largest norm (here the first gap face's, tried once) and that of every nonzero
    # group; the first that succeeds stands (none here)
    tried = []
    monkeypatch.setattr(
        _restricted, "newton_on_face", lambda M, y, x, active, *args: tried.append(list(active))
    )
    norms = np.array([1.0, 0.5, 2e-2, 3e-7, 0.0])  # (gaps 2, 25, 6.7e4)
    coef = norms[:, None] * np.array([0.6, 0.8])
    M = np.random.default_rng(0).standard_normal((4, coef.size))
    options = dict(beta=0.1, loss="squared", fit_intercept=False, n_groups=5, h=2)
    assert _restricted.polish(M, np.ones(4), coef.ravel(), kept_rows=[None] * 5, **options) is None
    assert tried == [[0, 1, 2], [0, 1], [0, 1, 2, 3]]


def test_the_polish_zeroes_residue_that_no_gap_sets_apart():
    # _restricted.polish: a group below RESIDUE of the largest norm is left off a face of its
    # own, where no gap of 10x sets it apart from the active groups (norms 1, 0.3, 2e-6 and
    # the residue 8e-7: the one gap face leaves out an active group, whose price rejects it).
    # With M = I each group's optimum is y_j (1 - beta / ||y_j||)_+, the last zero; on the
    # face of every nonzero group Newton's steps take the residue through zero instead
    unit, beta = np.array([0.6, 0.8]), 1.0
    y = (np.array([2.0, 1.3, 1.0 + 2e-6, 0.5])[:, None] * unit).ravel()
    optimum = (np.array([1.0, 0.3, 2e-6, 0.0])[:, None] * unit).ravel()
    x = optimum * (1 + 1e-9)
    x[6:] = 8e-7 * unit  # (interior-point residue)
    polished = _restricted.polish(
        np.eye(8), y, x, beta=beta, loss="squared", fit_intercept=False, n_groups=4, h=2,
        kept_rows=[np.zeros((0, 2))] * 4,
    )  # fmt: skip
    assert polished is not None and not polished[6:].any()
    np.testing.assert_allclose(polished, optimum, rtol=0, atol=1e-15)


def test_newton_on_blocks_gives_up_where_a_block_is_zero():
    # _restricted.newton_on_blocks: the norm is not smooth at zero, so a start with a zero
    # block has no Newton step: None, for the polish to try another face
    rng = np.random.default_rng(0)
    B, y = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w = np.array([1.0, -0.5, 0.0, 0.0])
    assert _restricted.newton_on_blocks(B, y, w, [2, 2], beta=0.1, loss="squared") is None
    w[2] = 0.3  # (every block nonzero: a step)
    x = _restricted.newton_on_blocks(B, y, w, [2, 2], beta=0.1, loss="squared")
    assert x is not None and np.all(np.isfinite(x))


def test_newton_on_blocks_ends_with_full_steps_while_they_halve_the_gradient():
    # _restricted.newton_on_blocks: once a step's decrease is below what the objective
    # resolves (1e-14, here at objectives of 1e-4), no line search can judge the steps; full
    # steps go on while each at least halves the gradient. One alone left it at 5.5e-11 of
    # beta on this program, and a three-layer solve stalled at 2.4e-9 of its objective
    rng = np.random.default_rng(0)
    B, y, beta = rng.standard_normal((6, 4)), 1e-2 * rng.standard_normal(6), 1e-3
    w = np.array([1e-3, 1e-3, 1e-3, -1e-3])
    x = _restricted.newton_on_blocks(B, y, w, [2, 2], beta=beta, loss="squared")
    gradient = -B.T @ (y - B @ x)
    gradient += beta * np.concatenate(
        [x[:2] / np.linalg.norm(x[:2]), x[2:] / np.linalg.norm(x[2:])]
    )
    assert np.linalg.norm(gradient) <= 1e-13 * beta


def test_newton_on_blocks_judges_a_full_step_at_its_last_iteration_too(monkeypatch):
    # _restricted.newton_on_blocks: a full step is taken back where it raised the gradient, a
    # test made at the next iteration's start. The 30th iteration has none: here 29 short
    # steps (a thousandth of Newton's, each accepted by the line search), then a 30th far along
    # a direction orthogonal to the gradient, with a decrease of about 8e-14: below what the
    # objective (17) resolves, 1.7e-13, so a full step. (The decrease is computed from terms
    # of about 200, to a rounding of 1e-14: a decrease of 2e-14 came out at 7e-15, and at zero
    # or above on 40 of 200 seeds, where the step is not taken and the test passes whatever
    # the judgement.) Unjudged, it was returned, at 52 times the start's objective
    rng = np.random.default_rng(0)
    B, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    w = np.array([0.5, -0.5, 0.5, 0.5])
    newton_step, calls, decreases = _restricted.newton_step, [], []

    def step(hessian, gradient):
        calls.append(None)
        if len(calls) < 30:
            return 1e-3 * newton_step(hessian, gradient)
        across = rng.standard_normal(len(gradient))
        across -= (across @ gradient) / (gradient @ gradient) * gradient
        full = 10 * across / np.linalg.norm(across) - 8e-14 * gradient / (gradient @ gradient)
        decreases.append(gradient @ full)
        return full

    monkeypatch.setattr(_restricted, "newton_step", step)
    x = _restricted.newton_on_blocks(B, y, w, [2, 2], beta=0.1, loss="squared")

    def value(x):
        return 0.5 * np.sum((B @ x - y) ** 2) + 0.1 * (
            np.linalg.norm(x[:2]) + np.linalg.norm(x[2:])
        )

    assert len(calls) == 30
    assert -1e-13 < decreases[0] < 0.0  # (a full step, as the test means: not judged by value)
    assert value(x) < value(w)


def test_newton_on_blocks_and_the_polish_return_a_start_at_the_optimum():
    # _restricted.newton_on_blocks: None only where a block reaches zero; a start at which
    # Newton's step does not descend (here the exact optimum, a zero gradient) is returned as
    # it is, and the polish keeps it. With B = I the optimum is y (1 - beta / ||y||)
    y, beta = np.array([2.0, 0.0, 0.0, 3.0]), 1.0
    optimum = np.array([1.0, 0.0, 0.0, 2.0])
    x = _restricted.newton_on_blocks(np.eye(4), y, optimum, [2, 2], beta=beta, loss="squared")
    np.testing.assert_array_equal(x, optimum)
    polished = _restricted.polish(
        np.eye(4), y, optimum, beta=beta, loss="squared", fit_intercept=False, n_groups=2, h=2,
        kept_rows=[np.zeros((0, 2))] * 2,
    )  # fmt: skip
    np.testing.assert_array_equal(polished, optimum)


def test_newton_on_blocks_takes_back_a_full_step_that_raised_the_gradient_mid_loop(monkeypatch):
    # _restricted.newton_on_blocks: the judgement at the next iteration's start (the test
    # above has the one after the loop). The first step, far along a direction orthogonal to
    # the gradient with a decrease of 8e-14 (below what the objective resolves: a full step),
    # raises the gradient: the start is returned, not the step's point
    rng = np.random.default_rng(0)
    B, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    w = np.array([0.5, -0.5, 0.5, 0.5])
    calls = []

    def step(hessian, gradient):
        calls.append(None)
        across = rng.standard_normal(len(gradient))
        across -= (across @ gradient) / (gradient @ gradient) * gradient
        return 10 * across / np.linalg.norm(across) - 8e-14 * gradient / (gradient @ gradient)

    monkeypatch.setattr(_restricted, "newton_step", step)
    x = _restricted.newton_on_blocks(B, y, w, [2, 2], beta=0.1, loss="squared")
    assert len(calls) == 1  # (then the judgement ends it)
    np.testing.assert_array_equal(x, w)


def test_newton_on_blocks_keeps_a_full_step_at_its_last_iteration_that_lowers_the_gradient(
    monkeypatch,
):
    # _restricted.newton_on_blocks: the judgement after the loop keeps a full step that lowered
    # the gradient (taking every last full step back passed the test above). 28 short steps,
    # a 29th to 1e-8 off the optimum (a decrease the line search judges), and the 30th, Newton's
    # own there, a full step (a decrease of about 1e-16) that takes the gradient from 1e-8 to
    # rounding
    rng = np.random.default_rng(0)
    B, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    w = np.array([0.5, -0.5, 0.5, 0.5])
    options = dict(beta=0.1, loss="squared")
    optimum = _restricted.newton_on_blocks(B, y, w, [2, 2], **options)
    off = optimum + 1e-8 * rng.standard_normal(4)
    newton_step, points = _restricted.newton_step, [w.copy()]

    def gradient_at(x):
        return -B.T @ (y - B @ x) + 0.1 * np.concatenate(
            [x[:2] / np.linalg.norm(x[:2]), x[2:] / np.linalg.norm(x[2:])]
        )

    def step(hessian, gradient):
        # (each step so far taken whole: the line search accepted the short ones at once)
        np.testing.assert_allclose(gradient, gradient_at(points[-1]), rtol=1e-10, atol=1e-12)
        if len(points) < 29:
            points.append(points[-1] + 1e-3 * newton_step(hessian, gradient))
        elif len(points) == 29:
            points.append(off)
        else:
            points.append(points[-1] + newton_step(hessian, gradient))
        return points[-1] - points[-2]

    monkeypatch.setattr(_restricted, "newton_step", step)
    x = _restricted.newton_on_blocks(B, y, w, [2, 2], **options)
    assert len(points) == 31
    assert np.linalg.norm(gradient_at(off)) > 1e-9
    np.testing.assert_allclose(x, points[-1], rtol=0, atol=1e-12)  # (the last full step, kept)
    assert np.linalg.norm(gradient_at(x)) <= 1e-3 * np.linalg.norm(gradient_at(off))


def test_newton_on_blocks_keeps_the_split_between_blocks_of_the_same_fit():
    # two blocks with the same column: moving weight from one to the other changes neither the
    # loss nor the sum of norms, so the Newton steps (least-norm) leave their difference where
    # it starts; rows off the face judged feasible there (a three-layer branch's second layer)
    # stay so. A Cholesky factor that succeeded by rounding (11 of these 50 data) moved it.
    for seed in range(50):
        rng = np.random.default_rng(seed)
        b = rng.standard_normal(20)
        y = 2 * b + 0.1 * rng.standard_normal(20)
        x = _restricted.newton_on_blocks(
            np.column_stack([b, b]), y, np.array([1.0, 0.5]), [1, 1], beta=0.1, loss="squared"
        )
        assert x[0] - x[1] == pytest.approx(0.5, abs=1e-8)


def test_groups_zeroed_by_the_polish_must_each_be_optimal_at_zero():
    # _restricted._optimal_at_zero: every zeroed group's price on its kept rows at most
    # beta (to 1e-12), not only the first's
    rng = np.random.default_rng(0)
    h = 2
    M, y = rng.standard_normal((8, 2 * h)), rng.standard_normal(8)
    f = np.zeros(8)  # (v = y for the squared loss)
    kept_rows = [np.zeros((0, h)), np.zeros((0, h))]  # (no rows: the price is ||M_j^T y||)
    prices = [np.linalg.norm(M[:, j * h : (j + 1) * h].T @ y) for j in range(2)]
    beta = 0.5 * (prices[0] + prices[1])
    low, high = np.argsort(prices)
    at_zero = _restricted._optimal_at_zero
    assert at_zero(M, f, y, np.array([low]), "squared", beta, h, kept_rows)
    assert not at_zero(M, f, y, np.array([high]), "squared", beta, h, kept_rows)
    assert not at_zero(M, f, y, np.array([low, high]), "squared", beta, h, kept_rows)
    assert at_zero(M, f, y, np.array([high]), "squared", prices[high], h, kept_rows)


def test_a_group_at_1e_9_of_the_largest_is_not_residue():
    # _restricted.clean: the relative rule zeroes norms up to 1e-10 of the largest, no more:
    # a group at 1e-9 of it whose penalty is not negligible stays
    coef = np.array([[3.0, 4.0], [3e-9, 4e-9], [3e-11, 4e-11]])
    cleaned = _restricted.clean(coef, 1.0, 1.0, GroupNorm())
    np.testing.assert_array_equal(cleaned, [[3.0, 4.0], [3e-9, 4e-9], [0.0, 0.0]])


def test_a_qp_in_the_datas_units_is_the_same_qp_scaled():
    # _restricted._in_data_units: the groups' columns in units of one over their largest
    # entry (beta, a coefficient of the penalty on them, too), then the objective over its
    # size there; the intercept's column as given
    rng = np.random.default_rng(0)
    n_coef = 4  # (two groups of two)
    M = np.hstack([1e-3 * rng.standard_normal((6, n_coef)), np.ones((6, 1))])
    weights, linear, beta = np.ones(6), rng.standard_normal(n_coef + 1), 0.3
    (M_s, w_s, gram_s, linear_s, beta_s, _), units, size = _restricted._in_data_units(
        M, weights, M.T @ M, linear, beta, None, n_coef
    )
    largest = np.abs(M[:, :n_coef]).max()
    expected_units = np.append(np.full(n_coef, 1 / largest), 1.0)
    np.testing.assert_allclose(units, expected_units, rtol=1e-15)
    np.testing.assert_allclose(M_s, M * expected_units, rtol=1e-15)
    assert size == _restricted._objective_size(
        M * expected_units, weights, None, linear * expected_units, beta / largest
    )
    assert beta_s == pytest.approx(beta / largest / size, rel=1e-15)
    np.testing.assert_allclose(linear_s, linear * expected_units / size, rtol=1e-15)
    np.testing.assert_allclose(w_s, weights / size, rtol=1e-15)
    np.testing.assert_allclose(gram_s, (M * expected_units).T @ (M * expected_units) / size,
                               rtol=1e-12)  # fmt: skip


def test_a_face_solve_whose_factorization_fails_falls_back_to_the_interior_point(monkeypatch):
    # _restricted_solve: a LinAlgError from the face method (a Cholesky factor of a singular
    # face Hessian, potrf failing) is a failed face solve like FacesFailed: the interior point
    # takes over, and the solve reaches the same certified optimum
    reference, (patches, gates, y, formulation) = _small_solve()
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise np.linalg.LinAlgError("not positive definite (potrf: 2)")

    monkeypatch.setattr(_native, "solve_on_faces", failing)
    solution = solve_native(
        formulation.operator(patches, gates), y, beta=0.01, loss="squared", fit_intercept=True,
        tol=1e-8, max_iter=500,
    )  # fmt: skip
    assert calls and solution.status == "optimal"
    assert solution.objective == pytest.approx(reference.objective, rel=1e-8)


def test_an_interior_point_that_cannot_be_put_back_on_its_rows_fails_with_a_reason(monkeypatch):
    # _restricted_solve: where the interior point's answer cannot be projected back onto its
    # kept rows, the restricted solve fails as a SolverFailed that names what failed and why
    # (the working-set loop then returns its last certified point)
    def failing(kept_rows, coef, kept_row_norms=None):
        raise _native.FacesFailed("inaccurate projection onto a cone")

    monkeypatch.setattr(_native, "onto_kept_rows", failing)
    patches, gates, y, formulation = _problem(0, "squared")
    work = _native._WorkingSet(formulation.operator(patches, gates))
    work.add(0, 0, [])
    with pytest.raises(
        SolverFailed, match=r"^the restricted problem's point: inaccurate projection onto a cone$"
    ):
        _native._restricted_solve(
            work, y, 0.0, beta=0.01, loss="squared", fit_intercept=True, qp_tol=1e-9, faces=False
        )


def test_the_polish_tries_every_nonzero_group_where_zeroing_the_small_ones_is_not_optimal():
    # _restricted.polish: a group at 1e-9 of the others is below a gap and the residue
    # threshold, but its price at zero exceeds beta: the faces that zero it are rejected, and
    # the face of every nonzero group reaches the group lasso's optimum (no rows here):
    # c_j = y_j (1 - beta / ||y_j||) for M = I
    M, y, beta = np.eye(4), np.array([3.0, 4.0, 1.0, 1.0]), 0.5
    x = np.array([3.0, 4.0, 1e-9, 1e-9])
    no_rows = [np.zeros((0, 2)), np.zeros((0, 2))]
    polished = _restricted.polish(
        M, y, x, beta=beta, loss="squared", fit_intercept=False, n_groups=2, h=2,
        kept_rows=no_rows,
    )  # fmt: skip
    expected = np.concatenate([y[:2] * (1 - beta / 5.0), y[2:] * (1 - beta / np.sqrt(2.0))])
    assert polished is not None
    np.testing.assert_allclose(polished, expected, rtol=1e-10)


def test_newton_on_a_face_refuses_an_end_point_outside_the_groups_slack_rows():
    # _restricted.newton_on_face: Newton's method on the face ignores the rows that are not
    # tight at the start, so its end point is checked against them: None where it leaves the
    # cone, the point where it does not. Here the face's optimum is y (1 - beta / ||y||) with
    # y = (2, -2): outside the row c_2 >= 0, inside c_1 >= 0
    M, y, beta, x = np.eye(2), np.array([2.0, -2.0]), 0.1, np.array([1.0, 0.5])
    options = dict(loss="squared", beta=beta, fit_intercept=False, h=2)
    refused = _restricted.newton_on_face(
        M, y, x, np.array([0]), kept_rows=[np.array([[0.0, 1.0]])], **options
    )
    assert refused is None
    kept = _restricted.newton_on_face(
        M, y, x, np.array([0]), kept_rows=[np.array([[1.0, 0.0]])], **options
    )
    np.testing.assert_allclose(kept, y * (1 - beta / np.sqrt(8.0)), rtol=1e-12)


def test_the_polish_frees_a_row_whose_slack_is_far_above_the_interior_points_accuracy():
    # _restricted.polish: the face holds only the rows within 1e-6 of tight (an interior
    # point's tight rows are at about 1e-8); a row at a slack of 1e-4 of the group's norm is
    # not on it, and Newton's steps go on to the optimum inside the cone, y (1 - beta / ||y||)
    # with M = I (held at zero slack instead, the point would stay at c_2 = 0)
    M, y, beta = np.eye(2), np.array([2.0, 1.0]), 0.1
    x = np.array([1.9, 1.9e-4])
    polished = _restricted.polish(
        M, y, x, beta=beta, loss="squared", fit_intercept=False, n_groups=1, h=2,
        kept_rows=[np.array([[0.0, 1.0]])],
    )  # fmt: skip
    assert polished is not None
    np.testing.assert_allclose(polished, y * (1 - beta / np.sqrt(5.0)), rtol=1e-12)


def test_the_polish_keeps_no_face_point_worse_than_its_start():
    # _restricted.polish: the face holds the rows within 1e-6 of tight at zero; where the
    # start's small slack on such a row was worth more (here 3e-7 of the objective), the face
    # point is worse than the start beyond rounding and is not kept: None
    M, y, beta = np.eye(2), np.array([2.0, 1.0]), 0.1
    rows = [np.array([[0.0, 1.0]])]
    x = np.array([1.9, 3e-7])  # (row 0 at a slack of 1.6e-7 ||c||: tight for the face)
    options = dict(beta=beta, loss="squared", fit_intercept=False, n_groups=1, h=2, kept_rows=rows)
    face_point = np.array([2.0 - beta, 0.0])  # (the optimum on c_2 = 0)
    start = _restricted.objective("squared", x, y, beta, x[None, :])
    on_face = _restricted.objective("squared", face_point, y, beta, face_point[None, :])
    assert 1e-7 < on_face - start < 1e-6  # (the premise: worse, by more than rounding)
    assert _restricted.polish(M, y, x, **options) is None


def test_proximal_newton_floors_the_logistic_weights_of_its_models(monkeypatch):
    # _restricted.proximal_newton: samples classified by a wide margin have Hessian weights
    # that underflow to zero; every model's weights are floored at _WEIGHT_FLOOR times the
    # largest, so that no QP is unbounded below
    from sklearn_convexcnn._solvers._linalg import hessian_weights

    M, y, x = np.array([[1.0], [-1.0], [100.0]]), np.array([1.0, -1.0, 1.0]), np.array([10.0])
    seen = []

    def recording(
        M, weights, gram, linear, beta, patch_size, kept_rows, tol, blocks, coupling, unit=1.0,
        target=None,
    ):  # fmt: skip
        seen.append(weights)
        return x, np.zeros(0)  # (no step: the models are those of x)

    monkeypatch.setattr(_restricted, "solve_qp", recording)
    _restricted.proximal_newton(
        M, y, x, beta=0.1, loss="logistic", gram=None, kept_rows=[np.zeros((0, 1))],
        patch_size=1, norm=GroupNorm(), qp_tol=1e-9,
    )  # fmt: skip
    raw = hessian_weights("logistic", M @ x, y)
    assert raw[2] == 0.0 and raw.max() > 0  # (the premise: one weight underflows)
    expected = np.maximum(raw, _restricted._WEIGHT_FLOOR * raw.max())
    assert seen and all(np.array_equal(weights, expected) for weights in seen)


def test_proximal_newton_solves_the_squared_loss_by_one_qp(monkeypatch):
    # _restricted.proximal_newton: the squared loss is its own quadratic model, so the first
    # QP's minimizer is the restricted optimum and the only QP solved (the non-Euclidean norms'
    # and the faces' fallback restricted solves would otherwise pay for two), with the QP's
    # multipliers and the objective at that point
    rng = np.random.default_rng(0)
    M = np.hstack([rng.standard_normal((20, 4)), np.ones((20, 1))])
    y = M[:, :2] @ [1.0, -2.0] + 0.1 * rng.standard_normal(20)
    kept_rows = [rng.standard_normal((3, 2))] * 2
    calls, original = [], _restricted.solve_qp

    def counted(*args, **kwargs):
        calls.append(original(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(_restricted, "solve_qp", counted)
    x, value, _ = _restricted.proximal_newton(
        M, y, np.zeros(5), beta=0.5, loss="squared", gram=M.T @ M, kept_rows=kept_rows,
        patch_size=2, norm=GroupNorm(), qp_tol=1e-9,
    )  # fmt: skip
    assert len(calls) == 1
    np.testing.assert_array_equal(x, calls[0][0])
    coef = x[:4].reshape(2, 2)
    assert value == _restricted.objective("squared", M @ x, y, 0.5, coef)


def test_proximal_newton_searches_along_logistic_steps_that_overshoot():
    # _restricted.proximal_newton: on log(1 + e^-x) + log(1 + e^x) a full Newton step goes
    # from x to x - sinh(x), past the minimizer 0 and further out wherever |x| > 2.2. From 3
    # a full step reaches -7, and the next 544, where the curvature underflows: only the
    # backtracking line search (halving, a few times, until the objective decreases enough)
    # reaches the optimum
    M, y = np.array([[1.0], [1.0]]), np.array([1.0, -1.0])
    x, value, _ = _restricted.proximal_newton(
        M, y, np.array([3.0]), beta=1e-3, loss="logistic", gram=None,
        kept_rows=[np.zeros((0, 1))], patch_size=1, norm=GroupNorm(), qp_tol=1e-9,
    )  # fmt: skip
    assert abs(x[0]) <= 1e-6
    assert value == pytest.approx(2 * np.log(2), rel=1e-12)


def test_proximal_newton_searches_along_its_first_step_from_a_feasible_start():
    # _restricted.proximal_newton took its first step whole, to restore rows that the start
    # may violate. From a start that keeps them it is searched like the others: two equal
    # samples of opposite labels with an intercept, from (4, 4), stepped whole to -23, where
    # the Hessian weights of 7.6e-11 left the next QP unbounded (SolverFailed, a mutation
    # testing's finding)
    M, y = np.ones((2, 2)), np.array([1.0, -1.0])
    x, value, _ = _restricted.proximal_newton(
        M, y, np.array([4.0, 4.0]), beta=1e-3, loss="logistic", gram=None,
        kept_rows=[np.ones((1, 1))], patch_size=1, norm=GroupNorm(), qp_tol=1e-9,
    )  # fmt: skip
    assert np.abs(x).max() <= 1e-6
    assert value == pytest.approx(2 * np.log(2), rel=1e-12)


def test_proximal_newton_takes_a_first_step_without_descent_and_stops_at_a_later_one(
    monkeypatch,
):
    # _restricted.proximal_newton: from a conic solver's point the QP's model can find no
    # descent (its point better than the QP's accuracy). The first step still goes to the
    # QP's point, where the next QP is posed (kept, the start came back unchanged and the
    # polish stalled); a later step without descent ends the search. QPs that return their
    # start (a decrease of exactly zero) from a feasible start: two QPs, then the end
    rng = np.random.default_rng(0)
    M, y = rng.standard_normal((8, 2)), np.array([1.0, -1.0] * 4)
    start, calls = np.array([0.5, -0.25]), []
    solve_qp = _restricted.solve_qp

    def returning_the_start(*args, **kwargs):
        z, multipliers = solve_qp(*args, **kwargs)
        calls.append(z)
        return (start.copy() if len(calls) <= 2 else z), multipliers

    monkeypatch.setattr(_restricted, "solve_qp", returning_the_start)
    x, value, _ = _restricted.proximal_newton(
        M, y, start, beta=1e-3, loss="logistic", gram=None, kept_rows=[np.zeros((0, 2))],
        patch_size=2, norm=GroupNorm(), qp_tol=1e-9,
    )  # fmt: skip
    assert len(calls) == 2
    np.testing.assert_array_equal(x, start)


def test_an_almost_solved_qp_is_kept_over_a_later_try_that_fails(monkeypatch):
    # _restricted.solve_qp: of its two tries (in the data's units first where the objective
    # is small, then as given), a QP 'AlmostSolved' (Clarabel's reduced tolerances) is still a
    # step, and a second try that fails does not replace it; its x is in the caller's units
    rng = np.random.default_rng(0)
    n, h = 30, 3
    M = np.hstack([1e-3 * rng.standard_normal((n, 2 * h)), np.ones((n, 1))])
    y = 1e-3 * rng.standard_normal(n)  # (an objective far below one: the data's units first)
    answers = iter(["AlmostSolved", "InsufficientProgress"])
    calls = []

    def clarabel(M_posed, *args):
        calls.append(M_posed)
        return next(answers), np.ones(M.shape[1]), np.zeros(0)

    monkeypatch.setattr(_restricted, "_clarabel_qp", clarabel)
    kept_rows = [np.zeros((0, h))] * 2
    x, _ = _restricted.solve_qp(
        M, np.ones(n), M.T @ M, -(M.T @ y), 1e-4, h, kept_rows, 1e-10, np.eye(h)[None]
    )
    assert len(calls) == 2 and not np.array_equal(calls[0], M)  # (the data's units, first)
    largest = np.abs(M[:, : 2 * h]).max()
    np.testing.assert_allclose(x, np.append(np.full(2 * h, 1 / largest), 1.0), rtol=1e-15)


def test_a_failed_first_try_of_a_qp_gives_way_to_an_almost_solved_second(monkeypatch):
    # _restricted.solve_qp: where the first try (in the data's units) fails and the second
    # (as given) ends 'AlmostSolved', the second is the step: no SolverFailed for the first
    # try's status (the reverse order is the test above)
    rng = np.random.default_rng(0)
    n, h = 30, 3
    M = np.hstack([1e-3 * rng.standard_normal((n, 2 * h)), np.ones((n, 1))])
    y = 1e-3 * rng.standard_normal(n)  # (an objective far below one: the data's units first)
    answers = iter([("NumericalError", 2.0), ("AlmostSolved", 3.0)])

    def clarabel(*args):
        status, value = next(answers)
        return status, np.full(M.shape[1], value), np.zeros(0)

    monkeypatch.setattr(_restricted, "_clarabel_qp", clarabel)
    kept_rows = [np.zeros((0, h))] * 2
    x, _ = _restricted.solve_qp(
        M, np.ones(n), M.T @ M, -(M.T @ y), 1e-4, h, kept_rows, 1e-10, np.eye(h)[None]
    )
    np.testing.assert_array_equal(x, np.full(M.shape[1], 3.0))  # (as given: in its units)


def test_a_qp_of_objective_size_one_is_tried_as_given_first(monkeypatch):
    # _restricted.solve_qp: only an objective below unit size is tried in the data's units
    # first; one of size 1 (here _objective_size's fallback, a QP without a linear term or
    # beta) is tried as given, and, Solved, only so
    rng = np.random.default_rng(0)
    n, h = 30, 3
    M = np.hstack([1e-3 * rng.standard_normal((n, 2 * h)), np.ones((n, 1))])
    linear = np.zeros(M.shape[1])
    assert _restricted._objective_size(M, np.ones(n), M.T @ M, linear, 0.0) == 1.0
    calls = []

    def clarabel(M_posed, *args):
        calls.append(M_posed)
        return "Solved", np.zeros(M.shape[1]), np.zeros(0)

    monkeypatch.setattr(_restricted, "_clarabel_qp", clarabel)
    kept_rows = [np.zeros((0, h))] * 2
    _restricted.solve_qp(M, np.ones(n), M.T @ M, linear, 0.0, h, kept_rows, 1e-10, np.eye(h)[None])
    assert len(calls) == 1 and np.array_equal(calls[0], M)


def test_a_group_keeps_its_face_without_the_loosest_of_the_rows_that_pin_it_to_zero():
    # _restricted.face_coordinates: a nonzero group lies on its own face, so where its rows
    # within `tight` of its norm leave only zero, the loosest of them is not tight at all. It
    # is left out, and the face is the tighter row's null space, which holds the group (it
    # was None, and a three-layer solve stalled with its point at the optimum)
    M = np.eye(2)
    c = np.array([[1.0, 0.0]])
    rows = np.array([[1e-7, 1.0], [1e-8, -1.0]])  # (both within 1e-6 of c = e1, independent)
    bases, B, w = _restricted.face_coordinates(M, c, [0], [rows], tight=1e-6)
    assert bases[0].shape == (2, 1) and B.shape == (2, 1)
    assert rows[1] @ bases[0][:, 0] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(_restricted.from_face(w, [0], bases, c.shape), c, atol=1e-8)
    # one of them alone leaves a direction: it is kept, tight or not by a wide margin
    bases, B, w = _restricted.face_coordinates(M, c, [0], [rows[:1]], tight=1e-6)
    assert abs(rows[0] @ bases[0][:, 0]) < 1e-15


def test_a_face_holds_its_group_where_nearly_parallel_tight_rows_leave_another_direction():
    # all three rows are within 1e-6 of c = e1, and all three leave only zero; the two tightest
    # leave the direction (1, 0, -1) / sqrt(2), 45 degrees from c, which is not c's face (a
    # helper's review found that face taken). The tightest alone leaves {e1, e3}, which holds c
    c = np.array([[1.0, 0.0, 0.0]])
    rows = np.array([[0.0, 1.0, 0.0], [5e-7, 1.0, 5e-7], [6e-7, 0.0, 1.0]])
    bases, _, w = _restricted.face_coordinates(np.eye(3), c, [0], [rows], tight=1e-6)
    assert bases[0].shape == (3, 2)
    np.testing.assert_allclose(_restricted.from_face(w, [0], bases, c.shape), c, atol=1e-12)
    assert rows[0] @ bases[0] == pytest.approx([0.0, 0.0], abs=1e-15)


def test_a_face_holds_its_group_to_its_tightness_not_to_a_thousandth():
    # as above, with the two rows' common direction (5e-4, 0, -5e-7), 1e-3 radians from c = e1:
    # c is 1e-3 of its norm off that line, far beyond 10 times `tight`, so the face is the
    # tighter row's alone, {e1, e3}, and its coordinates give c back to rounding (on the line,
    # the polish would start a thousandth of the group away from its point)
    c = np.array([[1.0, 0.0, 0.0]])
    rows = np.array([[0.0, 1.0, 0.0], [5e-7, 1.0, 5e-4]])  # (slacks 0 and 5e-7: both tight)
    bases, _, w = _restricted.face_coordinates(np.eye(3), c, [0], [rows], tight=1e-6)
    assert bases[0].shape == (3, 2)
    np.testing.assert_allclose(_restricted.from_face(w, [0], bases, c.shape), c, atol=1e-12)


def test_a_face_keeps_the_most_of_thousands_of_tight_rows_that_still_hold_its_group():
    # the rows left out are the fewest, loosest first (found by bisection): of 2000 rows in
    # R^3 within 1e-6 of c = e1, the two tightest (slack 0) leave the line of e1, which holds
    # c, and any third (slack 1e-7 or more, of unit norm) leaves nothing
    rng = np.random.default_rng(0)
    c = np.array([[1.0, 0.0, 0.0]])
    angles = rng.uniform(0.0, 2 * np.pi, 1998)
    loose = np.column_stack([rng.uniform(1e-7, 5e-7, 1998), np.cos(angles), np.sin(angles)])
    rows = rng.permutation(np.vstack([[[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]], loose]))
    bases, _, w = _restricted.face_coordinates(np.eye(3), c, [0], [rows], tight=1e-6)
    assert bases[0].shape == (3, 1)
    np.testing.assert_allclose(np.abs(bases[0][:, 0]), [1.0, 0.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(_restricted.from_face(w, [0], bases, c.shape), c, atol=1e-12)


def test_the_polish_of_the_empty_network_is_none():
    # _restricted.polish: a point without a nonzero group has no face to polish
    M, y = np.eye(4), np.array([3.0, 4.0, 1.0, 1.0])
    no_rows = [np.zeros((0, 2)), np.zeros((0, 2))]
    polished = _restricted.polish(
        M, y, np.zeros(4), beta=0.5, loss="squared", fit_intercept=False, n_groups=2, h=2,
        kept_rows=no_rows,
    )  # fmt: skip
    assert polished is None


def test_the_interior_points_residue_is_dropped_within_the_qp_tolerance(monkeypatch):
    # _restricted_solve: the interior point's residue is zeroed where that raises the
    # restricted objective by at most qp_tol of it (_without_residue), the accuracy the QPs
    # were solved to, not only where it raises it by nothing
    slacks = []
    original = _native.cleaned_if_no_worse

    def recording(coef, cleaned, value, slack):
        slacks.append(slack)
        return original(coef, cleaned, value, slack)

    monkeypatch.setattr(_native, "cleaned_if_no_worse", recording)
    patches, gates, y, formulation = _problem(0, "squared")
    work = _native._WorkingSet(formulation.operator(patches, gates))
    work.add(0, 0, [])
    work.add(3, 1, [])
    _native._restricted_solve(
        work, y, 0.0, beta=0.01, loss="squared", fit_intercept=True, qp_tol=1e-10, faces=False
    )
    assert slacks == [1e-10]


def test_a_warm_starts_groups_are_priced_from_the_rows_they_keep():
    # _started: after the warm start's restricted solve, the price memory starts every group
    # of the set from its kept rows (_PriceMemory.remember), as after every iteration: from
    # no rows their bounds stay above beta and they would enter again
    reference, (patches, gates, y, formulation) = _small_solve()
    work, memory, _ = _native._started(
        formulation.operator(patches, gates), y, reference.coef, reference.intercept,
        beta=0.01, loss="squared", fit_intercept=True, qp_tol=1e-9, faces=True, verbose=0,
    )  # fmt: skip
    assert len(work) == np.count_nonzero(np.linalg.norm(reference.coef, axis=2))
    assert set(memory.rows) == set(work.groups)
    for group, rows in zip(work.groups, work.rows, strict=True):
        np.testing.assert_array_equal(memory.rows[group], rows)


def test_entering_groups_keep_their_last_projections_rows_and_the_candidates():
    # _add_candidates: a group enters the working set with the rows likely tight at the next
    # point, its last projection's (the price memory's) and the operator's candidate rows
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    work, memory = _native._WorkingSet(operator), _native._PriceMemory()
    memory.rows[(2, 1)] = np.array([7, 0, 11])
    _native._add_candidates(work, memory, [(2, 1), (4, 0)])
    assert work.groups == [(2, 1), (4, 0)]
    np.testing.assert_array_equal(work.rows[0], np.union1d([0, 7, 11], operator.candidate_rows(2)))
    np.testing.assert_array_equal(work.rows[1], np.union1d([], operator.candidate_rows(4)))
    assert not work.coef.any() and work.coef.shape == (2, operator.patch_size)


def test_a_stall_a_hundredth_from_its_certificate_is_lost():
    # _lost: rounding stalls at 1e-7 to 1e-5 of the objective, a lost start far above it (97 %
    # on nearly separable labels): 1 % or 0.2 % is no rounding, and the second try is due
    def point(gap):
        return Solution(np.zeros((2, 1, 2)), 0.0, 1.0, False, "stalled", 5, "native", gap)

    assert _native._lost(point(1e-2)) and _native._lost(point(2e-3))
    assert not _native._lost(point(5e-4))


def test_a_feasibility_round_adds_the_40_most_violated_rows_of_a_group():
    # _violated_rows: a round adds at most 40 rows a group, the most violated ones; fewer a
    # round, a group whose point leaves many rows (a warm start without its rows, a cold
    # solve without candidate rows) takes as many more restricted solves to become feasible
    cones = -np.arange(1.0, 51.0)[None, :, None] * np.array([1.0, 0.0])  # (slack -1 to -50)
    operator = DenseOperator(GroupProgram(np.ones((1, 4, 2)), cones))
    work = _native._WorkingSet(operator)
    work.add(0, 0, [])
    work.coef = np.array([[1.0, 0.0]])
    [(group, rows)] = _native._violated_rows(work)
    assert group == 0 and sorted(rows) == list(range(10, 50))
    work.rows[0] = rows
    [(_, rows)] = _native._violated_rows(work)
    assert sorted(rows) == list(range(10))  # (the rest, the next round)


def test_pricing_certifies_with_exact_prices_only_where_its_few_rounds_cannot(monkeypatch):
    # _price_groups: the candidates' few cutting-plane rounds rank the groups; exact prices of
    # every group (_CERTIFYING_ROUNDS, a projection each) are worth their cost only at a
    # feasible point whose gap those rounds neither close nor leave a group to add to
    rounds = []

    def price(operator, correlations, beta, memory, max_rounds, wanted, skip):
        rounds.append(max_rounds)
        return np.zeros((2, operator.n_patterns))  # (every group at most beta)

    monkeypatch.setattr(_native, "_price", price)
    monkeypatch.setattr(_native, "scaled_dual_objective", lambda *args, **kwargs: 0.9)
    rng = np.random.default_rng(0)
    operator = DenseOperator(GroupProgram(rng.standard_normal((3, 4, 2)), np.zeros((3, 1, 2))))
    work, memory = _native._WorkingSet(operator), _native._PriceMemory()

    def priced(target, certify=True):
        rounds.clear()
        violation, best_dual = _native._price_groups(
            work, memory, np.ones(4), np.ones(4), beta=0.1, loss="squared", fit_intercept=False,
            primal=1.0, target=target, certify=certify, best_dual=-np.inf, wanted=8,
        )  # fmt: skip
        assert not violation.any() and best_dual == 0.9
        return rounds

    few, exact = _native._PRICING_ROUNDS, _native._CERTIFYING_ROUNDS
    assert priced(0.2) == [few]  # (certified by the few rounds' dual point)
    assert priced(0.05) == [few, exact]
    assert priced(0.05, certify=False) == [few]  # (an infeasible point: not certified)


def test_a_feasible_point_lower_by_more_than_rounding_is_the_lowest():
    # _Lowest.offer: a decrease counts beyond rounding (1e-12 of the objective), not only
    # beyond a tolerance: a solve asked for tol=1e-9 progresses by less than 1e-6, and must
    # return (and count its stall window from) its lowest point
    rng = np.random.default_rng(0)
    operator = DenseOperator(GroupProgram(rng.standard_normal((2, 4, 2)), np.zeros((2, 1, 2))))
    work = _native._WorkingSet(operator)
    work.add(1, 0, [])
    lowest = _native._Lowest()
    work.coef = np.array([[1.0, 2.0]])
    assert lowest.offer(1.0, 3, work, 0.5)
    assert not lowest.offer(1.0 - 1e-14, 4, work, 0.5)  # (rounding)
    work.coef = np.array([[1.0, 3.0]])
    assert lowest.offer(1.0 - 1e-9, 5, work, 0.25)
    assert lowest.objective == 1.0 - 1e-9 and lowest.iteration == 5 and lowest.intercept == 0.25
    np.testing.assert_array_equal(lowest.coef[0, 1], [1.0, 3.0])


def _solved_with(monkeypatch, operator, y, price_groups, restricted_then_feasible):
    """``_native._solve`` (tol 1e-8) with its pricing and restricted solves stood in."""
    monkeypatch.setattr(_native, "_price_groups", price_groups)
    monkeypatch.setattr(_native, "_restricted_then_feasible", restricted_then_feasible)
    return _native._solve(
        operator, y, beta=0.01, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500,
        verbose=0,
    )  # fmt: skip


def test_an_infeasible_point_settled_to_tol_adds_its_rows_not_groups(monkeypatch):
    # the working-set loop: at a point on the kept rows alone whose gap is within the target,
    # groups priced above beta by rounding would enter, stay at zero and leave, iteration
    # after iteration, while the rows waited; none enters, and the next solve adds the rows
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    prices, solves, added = [], [], []

    def price_groups(work, memory, v, y, *, beta, primal, **kwargs):
        prices.append(1)
        violation = np.zeros((2, operator.n_patterns))
        if len(prices) == 1:  # (the empty network: a group to add, no certificate)
            violation[0, 0] = 2 * beta
            return violation, -np.inf
        violation[0, 1] = beta * (1 + 1e-12)  # (by rounding, at a point certified to tol)
        return violation, primal

    def restricted_then_feasible(work, y, b, *args, feasibility=True, in_units=False, verbose=0):
        solves.append(feasibility)
        return b, feasibility  # (the point does not move: on the kept rows alone, infeasible)

    original = _native._add_candidates

    def add_candidates(work, memory, candidates):
        added.append(list(candidates))
        return original(work, memory, candidates)

    monkeypatch.setattr(_native, "_add_candidates", add_candidates)
    solution = _solved_with(monkeypatch, operator, y, price_groups, restricted_then_feasible)
    assert solution.status == "optimal"
    assert solves == [False, True]
    assert added == [[(0, 0)], []]


@pytest.mark.parametrize("tol, qp_tol", [(1e-8, 1e-10), (1e-5, 1e-9), (1e-13, 1e-12)])
def test_restricted_problems_start_a_hundred_times_finer_than_tol(monkeypatch, tol, qp_tol):
    # _solve: a restricted solution accurate to tol itself leaves the gap's budget to its
    # error, and the solve then climbs _finer's ladder (more solves) to certify: the restricted
    # problems start at 1e-2 tol, within the interior point's 1e-9 to 1e-12
    started = []

    class Started(Exception):
        pass

    def recording(*args, qp_tol, faces, **kwargs):
        started.append(qp_tol)
        raise Started  # (the start is what is pinned)

    monkeypatch.setattr(_native, "_started", recording)
    patches, gates, y, formulation = _problem(0, "squared")
    with pytest.raises(Started):
        _native._solve(
            formulation.operator(patches, gates), y, beta=0.01, loss="squared",
            fit_intercept=True, tol=tol, max_iter=5, verbose=0,
        )  # fmt: skip
    assert started == [pytest.approx(qp_tol, rel=1e-12)]


def test_a_feasible_point_that_does_not_go_down_ends_the_wait_of_the_rows(monkeypatch):
    # the working-set loop: rows wait while groups are added, for as long as every feasible
    # point is lower than the last; one that is not (here a guide that satisfies every row
    # at the same objective) says the groups added meanwhile did not help: from then on each
    # solve adds its rows, and does not wait out the stall window on the kept rows alone
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    solves = []

    def price_groups(work, memory, v, y, *, beta, **kwargs):
        violation = np.zeros((2, operator.n_patterns))
        violation[0, len(solves) % operator.n_patterns] = 2 * beta  # (a group to add)
        return violation, -np.inf  # (never certified)

    def restricted_then_feasible(work, y, b, *args, feasibility=True, in_units=False, verbose=0):
        solves.append(feasibility)
        return b, True  # (the point does not move, and satisfies every row)

    solution = _solved_with(monkeypatch, operator, y, price_groups, restricted_then_feasible)
    assert solution.status == "stalled"
    assert solves[0] is False  # (the empty network was the lowest: the rows waited)
    assert len(solves) >= 3 and all(solves[1:])


def test_the_lower_of_two_points_of_equal_objectives_is_the_first():
    # lower_of: the second try of a lost cold start passes its own point first, the lost one
    # second; on a tie the first comes back, certified by the better bound of the two
    def point(coef, objective, gap):
        return Solution(coef, 0.0, objective, False, "stalled", 3, "native", gap)

    first, second = point(np.ones((2, 1, 2)), 1.0, 0.5), point(np.zeros((2, 1, 2)), 1.0, 0.1)
    lower = lower_of(first, second, lambda value: 1e-9 * value)
    assert lower.coef is first.coef
    assert lower.duality_gap == pytest.approx(0.1) and lower.status == "stalled"


def test_candidates_get_relaxed_prices_in_batches_of_64():
    # _best_first: before the candidates' cutting planes, a batch of the best-bounded groups
    # gets a relaxed price (on their start rows, no pass over the data): batches of `wanted`
    # alone took hundreds of rounds, each ranking every group, on 10,000 groups
    batches = []

    class Bounds:
        beta = 0.0
        values = np.arange(100.0, 0.0, -1.0)
        relaxed, cut = np.zeros(100, dtype=bool), np.zeros(100, dtype=bool)

        def relax(self, index):
            batches.append(sorted(index))
            self.relaxed[index] = True

        def cut_planes(self, index):
            self.cut[index] = True

    bounds = Bounds()
    _native._best_first(bounds, np.ones(100, dtype=bool), 2)
    assert batches == [list(range(64))]
    assert list(np.flatnonzero(bounds.cut)) == [0, 1]


def test_restricted_residue_goes_only_where_it_costs_at_most_qp_tol(monkeypatch):
    # _restricted_then_feasible: residue groups of a restricted solution are set to zero only
    # where that raises its objective by at most qp_tol of it (the restricted problems'
    # accuracy): more would leave the point short of the optimum it is certified at
    rng = np.random.default_rng(0)
    pieces = rng.standard_normal((2, 10, 2))
    operator = DenseOperator(GroupProgram(pieces, np.zeros((2, 1, 2))))  # (no row binds)
    coef = np.array([[1.0, 0.5], [0.01, 0.0]])
    y = pieces[0] @ coef[0] + pieces[1] @ coef[1]  # (an exact fit: group 1 does fit)
    beta = 1e-3

    def value(c):  # (the objective, loss and group norms)
        residual = pieces[0] @ c[0] + pieces[1] @ c[1] - y
        return 0.5 * residual @ residual + beta * np.linalg.norm(c, axis=1).sum()

    cleaned = np.array([coef[0], [0.0, 0.0]])
    rise = value(cleaned) / value(coef) - 1.0
    assert rise > 0
    monkeypatch.setattr(_native, "_restricted_solve", lambda work, y, b, **kwargs: (coef, b))
    monkeypatch.setattr(_native, "clean", lambda c, *args: cleaned)
    for qp_tol, kept in [(0.1 * rise, coef), (10 * rise, cleaned)]:
        work = _native._WorkingSet(operator)
        work.add(0, 0, [0])
        work.add(1, 0, [0])
        _native._restricted_then_feasible(work, y, 0.0, beta, "squared", False, qp_tol, True)
        np.testing.assert_array_equal(work.coef, kept)


def test_a_warm_start_starts_from_its_intercept(monkeypatch):
    # _started: a warm start is the point (coef_init, intercept_init): its first restricted
    # solve, and the rows it keeps (at that point's dual vector), start from its intercept,
    # not from the cold start's best intercept
    patches, gates, y, formulation = _problem(0, "squared")
    operator = formulation.operator(patches, gates)
    coef_init = np.zeros((2, operator.n_patterns, operator.patch_size))
    coef_init[0, 3] = [0.5, -0.2, 0.1]
    starts = []

    def recording(work, y, b, *args, **kwargs):
        starts.append(b)
        return b, True

    monkeypatch.setattr(_native, "_restricted_then_feasible", recording)
    _native._started(
        operator, y, coef_init, 0.75, beta=0.01, loss="squared", fit_intercept=True,
        qp_tol=1e-9, faces=True, verbose=0,
    )  # fmt: skip
    assert starts == [0.75]


def test_circular_fit_that_nearly_interpolates_is_certified():
    # _restricted.solve_qp's target: the restricted QPs of this fit (inputs of size 100,
    # beta=1, 39 signals of 11 samples: random_programs.py's seed 6082) fit y to 4e-2 against
    # ||y|| = 588, and as min 0.5 x^T M^T M x - y^T M x their objective is -0.5 ||y||^2 plus
    # the program's, so Clarabel's relative gaps left the dual vector's prices 4e-7 above
    # beta at tol=1e-12; the fit stalled at 4.4e-7 of its objective against tol=1e-7.
    # Centred on y (the lifted fit r = M x - y) the QPs are the program's, and it certifies.
    rng = np.random.default_rng(6082)  # (random_programs.draw's draws, in its order)
    rng.choice(["two_layer"] * 6 + ["circular"] * 2 + ["three_layer"])
    rng.integers(8, 81), rng.integers(5, 13), rng.choice([1e-2, 1.0, 1e2])
    X = 100.0 * rng.standard_normal((39, 11))
    rng.choice([1e-2, 0.1, 1.0]), rng.integers(2), rng.integers(2, 13), rng.choice([3, 4])
    rng.random()
    w = rng.standard_normal(11)
    y = np.maximum(X @ w, 0.0) + 10.0 * rng.standard_normal(39)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=1.0, fit_intercept=False, n_patterns=7, tol=1e-7,
        random_state=6082, solver="native",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.duality_gap_ <= 1e-7 * reg.objective_


def test_circular_fit_with_more_samples_than_variables_is_certified():
    # _restricted._clarabel_qp's centred QPs with at least as many samples as variables:
    # noise-free targets of a one-filter ReLU CNN, 300 signals of 6 samples of size 100 at
    # beta=1e-6 (at most 48 variables). Posed as min 0.5 x^T M^T M x - y^T M x, 6 of their 24
    # QPs ended other than 'Solved' and the fit stalled at 0.43 of its objective; centred
    # on y's fit in the range of M (r = R x - Q^T y), every one was 'Solved' and it certifies
    X, y = planted_targets(np.random.default_rng(130), 300, 6, 1, scale=100.0)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=1e-6, fit_intercept=False, n_patterns=4, tol=1e-7,
        random_state=0, solver="native",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    assert 0 <= reg.duality_gap_ <= 1e-7 * reg.objective_


@pytest.mark.parametrize(
    "seed, n_samples, n_features, n_filters, scale, beta, n_patterns, fit_intercept",
    [(13, 80, 8, 2, 10.0, 1e-5, 16, False), (23, 40, 8, 3, 100.0, 1e-6, 8, True)],
)
def test_circular_fit_of_noise_free_targets_is_certified_by_its_restricted_dual(
    seed, n_samples, n_features, n_filters, scale, beta, n_patterns, fit_intercept
):
    # _native._restricted_dual_bound: noise-free targets of a planted ReLU CNN (filters of
    # width 3, average pooling) fitted nearly exactly, so v = y - f is small, and the interior
    # points (no polish for block norms) are exact to about 1e-6 only: the nonzero groups'
    # prices at v came to beta (1 +- 5e-6) and the fits stalled at 2.1e-6 and 3.1e-7 of
    # their objectives against tol=1e-7. The restricted problem's dual vector certifies them.
    X, y = planted_targets(np.random.default_rng(seed), n_samples, n_features, n_filters, scale)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=beta, fit_intercept=fit_intercept,
        n_patterns=n_patterns, tol=1e-7, random_state=0, solver="native",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.duality_gap_ <= 1e-7 * reg.objective_


def _certified_planted_labels_fit(seed, n_samples, n_filters, scale, beta):
    """A native circular logistic fit of the labels of noise-free planted targets (split at
    their median: nearly separable at small betas), refused if it warns."""
    X, targets = planted_targets(np.random.default_rng(seed), n_samples, 8, n_filters, scale)
    clf = ConvexCNNClassifier(
        architecture="circular", loss="logistic", beta=beta, n_patterns=8, tol=1e-7,
        random_state=0, solver="native",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return clf.fit(X, targets > np.median(targets))


@pytest.mark.parametrize(
    "seed, n_samples, n_filters, scale, beta", [(1, 40, 3, 100.0, 1e-6), (4, 60, 2, 10.0, 1e-5)]
)
def test_circular_logistic_fit_of_planted_labels_is_certified_by_its_restricted_dual(
    seed, n_samples, n_filters, scale, beta
):
    # _native._restricted_dual_bound with the logistic loss: labels of noise-free planted
    # targets (split at their median), nearly separable at these betas, so the objective is
    # a sum of tiny losses and v = y expit(-y f) carries the interior points' error, as the
    # squared loss's residual does. The fits stalled at 2.8e-6 and 2.0e-7 of their objectives
    # against tol=1e-7; the restricted problem's dual vector (an entropy over exponential
    # cones) certifies them.
    clf = _certified_planted_labels_fit(seed, n_samples, n_filters, scale, beta)
    assert 0 <= clf.duality_gap_ <= 1e-7 * clf.objective_


@pytest.mark.parametrize(
    "seed, n_samples, n_filters, beta", [(0, 40, 3, 1e-6), (2, 80, 2, 1e-6), (3, 60, 2, 1e-5)]
)
def test_circular_logistic_fit_of_separable_labels_leaves_no_sample_to_a_runaway_model(
    seed, n_samples, n_filters, beta
):
    # _restricted._LARGEST_MOVE: the first proximal Newton step after new cone rows went all
    # the way to its QP's point, which misclassified a sample by a margin of 43. There the
    # logistic loss is nearly linear, and its model's target f + v / w moved that sample's
    # fit by 3.7e11 among targets of 1e2: Clarabel called every restricted QP after it
    # 'PrimalInfeasible' (at beta, 100 beta and 10 beta alike), and the fits ended at the
    # empty network, n log 2 with a relative gap of 1 or 0.97 (CVXPY + Clarabel stopped up
    # to 1.6 times the optimum, uncertified). With the curvature that keeps those targets
    # within 1e4 of the fit the QPs are 'Solved' and the fits certified.
    clf = _certified_planted_labels_fit(seed, n_samples, n_filters, 100.0, beta)
    assert len(clf.filters_) > 0
    assert 0 <= clf.duality_gap_ <= 1e-7 * clf.objective_


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_restricted_dual_bound_is_a_lower_bound_whatever_the_working_set(fit_intercept, loss):
    # the restricted problem's dual vector, scaled by its prices over the full program, bounds
    # the optimum from below however few groups and rows the working set holds, and with
    # every group and row (the program itself) it is the optimum's own
    program, y = _circular_problem(3, loss, 3, "relu")
    beta = 0.05
    reference = _reference(program, y, beta, loss, fit_intercept)
    n_patterns, n_rows = program.pieces.shape[0], program.cones.shape[1]
    every_group = [(pattern, sign) for sign in (0, 1) for pattern in range(n_patterns)]
    bounds = []
    for groups, rows in [([(0, 0), (3, 1)], []), (every_group, np.arange(n_rows))]:
        work = _native._WorkingSet(DenseOperator(program))
        for pattern, sign_index in groups:
            work.add(pattern, sign_index, rows)
        bounds.append(
            _native._restricted_dual_bound(
                work, _PriceMemory(), y, beta=beta, loss=loss, fit_intercept=fit_intercept
            )
        )
    assert 0 < bounds[0] <= reference.objective * (1 + 1e-9)
    assert bounds[1] == pytest.approx(reference.objective, rel=1e-6)
    assert bounds[1] <= reference.objective * (1 + 1e-6)
