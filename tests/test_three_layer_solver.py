"""The native solver of three-layer programs (doc/formulations.md §8.2) against Clarabel on every
cone row, and its certificate checked on its own terms: the point is feasible for every row of
both ReLU layers, its objective is recomputed here, and its lower bound does not undercut
Clarabel's point."""

import dataclasses
import functools
import types
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
from sklearn_convexcnn._optimality import dual_point
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._solvers import _cvxpy, _three_layer, _three_layer_rows
from sklearn_convexcnn._solvers._solution import SolverFailed
from sklearn_convexcnn._solvers._three_layer import solve_three_layer

from ._cones import SOLVER_RTOL, assert_groups_in_cones, assert_nonnegative
from ._reference import planted_targets


def _program(seed, loss, n=24, length=7, kernel=3, n_patterns=5):
    """A target that rectifies a difference of two pooled features (two ReLU layers fit it)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, length))
    y = np.maximum(np.maximum(X[:, :3], 0).mean(1) - np.maximum(X[:, 3:], 0).mean(1), 0)
    y += 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    patches = extract_patches(X, resolve_geometry(None, kernel, 1, length))
    formulation = ThreeLayerFormulation()
    gates = formulation.sample_gates(patches, n_patterns, np.random.RandomState(seed))
    return formulation.program(patches, gates), y


def _objective(program, coef, intercept, y, beta, loss):
    f = program.fit_values(coef) + intercept
    if loss == "squared":
        value = 0.5 * np.sum((f - y) ** 2)
    else:
        value = np.sum(np.logaddexp(0.0, -y * f))
    return value + beta * np.linalg.norm(coef, axis=-1).sum()


def _assert_feasible(program, coef, per_branch=True):
    """Every first-layer cone row for every group, every second-layer row for every branch
    (relative to the largest ``|z|`` of all branches where not ``per_branch``)."""
    # the solver's feasibility tolerance (_three_layer._FEASIBILITY_TOL, relative to
    # ||row|| ||c|| as here)
    assert_groups_in_cones(program.cones, coef, rtol=SOLVER_RTOL, what="first layer")
    # second layer: (2 D'_l - I) z_sl >= 0, relative to the branch's largest |z_sl| as the
    # solver measures it (_Groups.add_violated_samples). 1e-8, not the solver's 1e-9: the
    # point of test_native_three_layer_adds_the_cone_rows_it_needs leaves branch (1, 1) at
    # -1.7e-9 (a branch of small groups, -4.7e-12 of the largest |z| of all branches)
    hidden = program.hidden_values(coef)  # (sign, outer, n)
    signs = 2.0 * program.outer_masks - 1.0
    for sign, outer in np.ndindex(hidden.shape[:2]):
        z = hidden[sign, outer]
        what = f"branch ({sign}, {outer})"
        scale = np.abs(z if per_branch else hidden).max()
        assert_nonnegative(signs[outer] * z, rtol=1e-8, scale=scale, what=what)


def _every_row(program, y, options):
    n_patterns, n_rows, _ = program.cones.shape
    solution, _ = _cvxpy._solve_three_layer_rows(
        "CLARABEL", program, y, [np.arange(n_rows)] * n_patterns, verbose=0, **options
    )
    return solution


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_native_three_layer_agrees_with_clarabel_on_every_row(seed, loss, fit_intercept):
    program, y = _program(seed, loss)
    options = dict(beta=0.1, loss=loss, fit_intercept=fit_intercept, tol=1e-8, max_iter=500)
    native = solve_three_layer(program, y, **options)
    reference = _every_row(program, y, options)
    assert native.converged, native.status
    assert native.objective == pytest.approx(reference.objective, rel=1e-6)
    assert native.objective == pytest.approx(
        _objective(program, native.coef, native.intercept, y, 0.1, loss), rel=1e-12
    )
    _assert_feasible(program, native.coef)
    assert native.coef.any()
    # certified: a gap within tol, and a lower bound that Clarabel's point does not undercut
    assert -1e-12 <= native.duality_gap <= 1e-8 * native.objective
    assert native.objective - native.duality_gap <= reference.objective * (1 + 1e-9)


def test_native_three_layer_adds_the_cone_rows_it_needs():
    # without gates the first-layer rows start empty: the cutting planes add every one needed
    program, y = _program(2, "squared", n=30, length=8)
    options = dict(beta=0.05, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    native = solve_three_layer(dataclasses.replace(program, gates=None), y, **options)
    assert native.converged
    _assert_feasible(program, native.coef)
    assert native.objective == pytest.approx(_every_row(program, y, options).objective, rel=1e-6)


def test_the_second_layer_multipliers_are_what_certifies(monkeypatch):
    # without them (mu = 0) the groups that the second ReLU layer keeps at zero price above
    # beta, and the gap of the optimal point cannot close
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=30)
    prices = _three_layer_rows.three_layer_prices
    monkeypatch.setattr(
        _three_layer,
        "three_layer_prices",
        lambda program, v, multipliers, **kw: prices(program, v, 0 * multipliers, **kw),
    )
    without = solve_three_layer(program, y, **options)
    monkeypatch.undo()
    native = solve_three_layer(program, y, **options)
    assert native.converged
    assert not without.converged
    assert without.duality_gap > 1e-6 * without.objective


def _tiny_exact_program(seed):
    """3 signals of 2x3, 2x2 filters and every pattern of both layers (52 and 8): many branches,
    most without a group at the optimum."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 6))
    y = rng.standard_normal(3)
    patches = extract_patches(X, resolve_geometry((2, 3), 2, 1, 6))
    formulation = ThreeLayerFormulation()
    return formulation.program(patches, formulation.enumerate_gates(patches)), y


@pytest.mark.parametrize(("seed", "beta"), [(0, 0.2), (2, 0.05)])
def test_native_three_layer_certifies_tiny_exact_programs(seed, beta):
    # with the restricted problems' multipliers alone (zero for a branch without a group in
    # the set), both stalled at 4.5e-7 of the objective, above tol
    program, y = _tiny_exact_program(seed)
    options = dict(beta=beta, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100)
    native = solve_three_layer(program, y, **options)
    assert native.converged, native.status
    assert -1e-12 <= native.duality_gap <= 1e-7 * native.objective
    reference = _every_row(program, y, dict(options, tol=1e-8, max_iter=500))
    assert native.objective == pytest.approx(reference.objective, rel=1e-6)
    # (a point certified without the polish meets the kept rows to the interior point's
    # absolute accuracy: -3.4e-8 of the largest |z| of branch (1, 6), a branch 1/260 the size
    # of the largest, at seed 0)
    _assert_feasible(program, native.coef, per_branch=False)


def test_a_point_certified_before_any_polish_is_returned_polished():
    # certified by the interior point's multipliers, the point met the second layer's kept
    # rows to the interior point's accuracy only (z at -2.9e-8 of its branch's largest on a
    # row that must be >= 0): polished, it meets every row of both layers to rounding, and
    # certifies as well
    program, y = _tiny_exact_program(3)
    native = solve_three_layer(
        program, y, beta=0.05, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100
    )
    assert native.converged
    assert 0.0 <= native.duality_gap <= 1e-7 * native.objective
    keys = np.argwhere(np.linalg.norm(native.coef, axis=-1) > 0)
    groups = _three_layer._Groups(program, fit_intercept=False)
    groups.add(keys, native.coef[tuple(keys.T)])
    values, allowed = groups.slacks(groups.coef)
    assert np.all(values >= -allowed)


@pytest.mark.parametrize("beta", [0.05, 0.2])
def test_the_polish_leaves_the_interior_points_residue_off_its_face(beta):
    # the interior point leaves groups that are zero at the optimum at 1e-6 and 2.3e-6 of the
    # largest. With them on the polish's face and in the refined multipliers' equations (whose
    # least squares then priced nonzero groups up to 5 % above beta on 4 signals), the point
    # certified before the polish was returned, at 8.6e-9 and 2.2e-8 of the objective (on 4
    # signals, benchmarks/three_layer_exact.py, -5.5e-8: below the optimum). Without them,
    # the polished point certifies to rounding
    program, y = _tiny_exact_program(0)
    native = solve_three_layer(
        program, y, beta=beta, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100
    )
    assert native.converged
    assert abs(native.duality_gap) <= 1e-12 * native.objective
    _assert_feasible(program, native.coef)
    norms = np.linalg.norm(native.coef, axis=-1)
    assert norms[norms > 0].min() > 1e-5 * norms.max()


def test_a_point_certified_before_any_polish_is_repriced_only_where_it_is_polished(
    monkeypatch,
):
    # where the polish of a point certified before any polish fails, that point is returned
    # as it is: pricing it again with refined multipliers would be work for nothing (a review)
    program, y = _tiny_exact_program(3)
    priced = []
    refined_prices = _three_layer._refined_prices
    monkeypatch.setattr(_three_layer, "_polished", lambda *args, **kwargs: None)
    monkeypatch.setattr(_three_layer._Groups, "feasible", lambda self, coef: False)
    monkeypatch.setattr(
        _three_layer,
        "_refined_prices",
        lambda *a, **kw: priced.append(1) or refined_prices(*a, **kw),
    )
    most_violating, rounds_without_candidates = _three_layer._most_violating, []

    def counted(*args, **kwargs):
        candidates = most_violating(*args, **kwargs)
        rounds_without_candidates.extend([] if candidates else [1])
        return candidates

    monkeypatch.setattr(_three_layer, "_most_violating", counted)
    native = solve_three_layer(
        program, y, beta=0.05, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100
    )
    assert native.converged
    assert len(priced) == len(rounds_without_candidates)


def test_native_three_layer_lowers_to_beta_not_below_it():
    # 4 signals of length 6, every pattern: lowered to beta (1 - 1e-6), below the least
    # largest price of branch 13 (beta (1 - 3.7e-8)), the sum of squared excesses left it
    # 3.6e-7 above beta (0.36 of the distance to the target, at every target below), and at
    # tol=1e-10 (qp_tol 1e-12 from the start) the solve stalled at 3.2e-7 of the objective
    rng = np.random.default_rng(104)
    X = rng.standard_normal((4, 6))
    y = rng.standard_normal(4)
    y -= y.mean()
    patches = extract_patches(X, resolve_geometry(None, 2, 1, 6))
    formulation = ThreeLayerFormulation()
    program = formulation.program(patches, formulation.enumerate_gates(patches))
    options = dict(beta=0.02, loss="squared", fit_intercept=True, tol=1e-10, max_iter=100)
    native = solve_three_layer(program, y, **options)
    assert native.converged, (native.status, native.duality_gap / native.objective)
    reference = _every_row(program, y, dict(options, tol=1e-9, max_iter=500))
    assert native.objective - native.duality_gap <= reference.objective * (1 + 1e-9)


def _tiny_optimum(seed=2, beta=0.05):
    """A tiny exact program, Clarabel's point on every row, its dual vector and multipliers."""
    program, y = _tiny_exact_program(seed)
    options = dict(beta=beta, loss="squared", fit_intercept=False)
    point, multipliers = _cvxpy._solve_three_layer_rows(
        "CLARABEL", program, y, [np.arange(program.cones.shape[1])] * len(program.cones),
        verbose=0, tol=1e-8, max_iter=500, **options,
    )  # fmt: skip
    v = dual_point("squared", program.fit_values(point.coef), y, False)
    return program, y, options, point, v, multipliers


def _branch_tops(program, v, multipliers):
    """The largest price of each branch."""
    prices = _three_layer_rows.three_layer_prices(program, v, multipliers)
    return prices.max(axis=(0, 3)).reshape(len(multipliers))


def test_lowered_multipliers_certify_an_optimum_that_zero_multipliers_do_not():
    program, y, options, point, v, multipliers = _tiny_optimum()
    gap = functools.partial(_three_layer_rows.three_layer_gap, program, point, y=y, **options)
    assert gap(multipliers) <= 1e-7 * point.objective  # (Clarabel's multipliers certify it)
    zero = np.zeros_like(multipliers)
    assert gap(zero) > 1e-3 * point.objective
    beta = options["beta"]
    above = np.flatnonzero(_branch_tops(program, v, zero) > beta)
    lowered, stopped_at = _three_layer_rows.lowered_multipliers(
        program, v, zero, above, target=beta * (1 - 1e-6), limit=beta * (1 + 1e-4)
    )
    assert stopped_at is None
    assert np.all(lowered >= 0)
    assert np.all(lowered[np.setdiff1d(np.arange(len(zero)), above)] == 0)  # (only those)
    assert gap(lowered) <= 1e-7 * point.objective


def test_lowered_multipliers_never_raise_a_branch_largest_price():
    # below the optimal prices no multipliers reach the target: the sum of squared excesses
    # falls, and without the check the largest price of a branch rose by 4.7e-6
    program, _, options, _, v, multipliers = _tiny_optimum()
    before = _branch_tops(program, v, multipliers)
    lowered, stopped_at = _three_layer_rows.lowered_multipliers(
        program, v, multipliers, np.arange(len(multipliers)), target=0.4 * options["beta"],
        limit=np.inf,
    )  # fmt: skip
    assert stopped_at is None  # (limit=inf: every branch is tried)
    after = _branch_tops(program, v, lowered)
    assert np.all(after <= before * (1 + 1e-12))
    assert np.any(after < before * (1 - 1e-9))  # (some branch was lowered)


def test_three_layer_prices_of_some_branches():
    program, y = _tiny_exact_program(2)
    multipliers = np.abs(np.random.default_rng(0).standard_normal((2 * 8, 3)))
    every = _three_layer_rows.three_layer_prices(program, y, multipliers, beta=0.05)
    others = np.full_like(every, -1.0)
    some = _three_layer_rows.three_layer_prices(
        program, y, multipliers, beta=0.05, branches=[3, 9], prices=others
    )
    np.testing.assert_array_equal(some[:, 0, 3], every[:, 0, 3])  # branch 3: (+, 3)
    np.testing.assert_array_equal(some[:, 1, 1], every[:, 1, 1])  # branch 9: (-, 1)
    assert np.count_nonzero(some == -1.0) == every.size - 2 * every[:, 0, 3].size
    assert np.all(others == -1.0)  # (not modified)
    with pytest.raises(ValueError, match="needs the other branches' prices"):
        _three_layer_rows.three_layer_prices(program, y, multipliers, branches=[3])


def test_lowered_multipliers_stop_at_the_first_branch_above_limit():
    program, _, options, _, v, _ = _tiny_optimum()
    zero = np.zeros((2 * len(program.outer_masks), len(v)))
    branches = np.argsort(-_branch_tops(program, v, zero))[:3]
    beta = options["beta"]
    lowered, stopped_at = _three_layer_rows.lowered_multipliers(
        program, v, zero, branches, target=0.4 * beta, limit=0.0
    )
    assert stopped_at == branches[0]
    assert np.any(lowered[branches[0]] > 0)
    assert not np.any(lowered[branches[1:]])  # (not tried)


def test_native_three_layer_stopped_by_max_iter_reports_its_gap():
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8)
    stopped = solve_three_layer(program, y, max_iter=1, **options)
    assert not stopped.converged
    assert stopped.status == "max_iter reached"
    assert stopped.n_iter == 1
    assert stopped.duality_gap > 1e-8 * stopped.objective
    _assert_feasible(program, stopped.coef)
    assert stopped.objective == pytest.approx(
        _objective(program, stopped.coef, stopped.intercept, y, 0.1, "squared"), rel=1e-12
    )


def test_native_three_layer_warm_start_from_its_optimum(monkeypatch):
    monkeypatch.setattr(_three_layer, "_GROUPS_PER_ROUND", 4)  # a cold start of a few rounds
    program, y = _program(1, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    cold = solve_three_layer(program, y, **options)
    warm = solve_three_layer(
        program, y, coef_init=cold.coef, intercept_init=cold.intercept, **options
    )
    assert warm.converged
    # fewer rounds, not one: the set starts without the groups at zero, whose prices only the
    # second layer's multipliers keep below beta, and those multipliers need them in the set
    assert warm.n_iter < cold.n_iter
    assert warm.objective == pytest.approx(cold.objective, rel=1e-8)


def test_the_polish_returns_a_point_off_the_optimum_on_its_face_to_it():
    # the interior point leaves the optimality conditions at ~1e-6; Newton's method on the
    # face (tight rows of both layers held) is what certifies to rounding. Scaling every
    # group by 1.001 stays on the face (cones are cones, each branch keeps its signs)
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-10, max_iter=500)
    optimum = solve_three_layer(program, y, **options)
    keys = np.argwhere(np.linalg.norm(optimum.coef, axis=-1) > 0)
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add(keys, 1.001 * optimum.coef[tuple(keys.T)])
    off = _objective(program, groups.full_coef(), optimum.intercept, y, 0.1, "squared")
    assert off > optimum.objective * (1 + 1e-7)
    coef, intercept = _three_layer._polished(groups, y, optimum.intercept, beta=0.1, loss="squared")
    groups.coef = coef
    polished = _objective(program, groups.full_coef(), intercept, y, 0.1, "squared")
    assert polished == pytest.approx(optimum.objective, rel=1e-12)
    _assert_feasible(program, groups.full_coef())


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_a_restricted_optimum_at_zero_is_returned_as_zero(loss):
    # with beta this large every group is optimal at zero; the interior point leaves them at
    # ~1e-12, where a relative residue test sees nothing to drop, and the cutting planes then
    # chased the rows of that residue (25,000 rows, 56 s on a logistic program of n=100)
    program, y = _program(0, loss)
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add([(0, 0, 0, 0), (1, 0, 0, 1), (0, 1, 0, 2)])
    rows = [np.zeros(0, dtype=int)] * program.n_patterns
    multipliers = np.zeros((2 * program.outer_masks.shape[0], len(y)))
    _three_layer._restricted_solve(
        groups, y, 0.0, rows, multipliers, beta=100.0, loss=loss, qp_tol=1e-9
    )
    assert not groups.coef.any()


def test_a_tiny_beta_keeps_the_groups_that_fit():
    # at beta=1e-12 every group costs less than the QP resolves: all were dropped as residue,
    # and the fit ended at the empty network, its objective 2e9 times Clarabel's
    program, y = _program(0, "squared")
    empty = 0.5 * np.sum((y - y.mean()) ** 2)
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add([(0, 0, 0, 0), (1, 0, 0, 1), (0, 1, 0, 2)])
    rows = [np.zeros(0, dtype=int)] * program.n_patterns
    multipliers = np.zeros((2 * program.outer_masks.shape[0], len(y)))
    b = _three_layer._restricted_solve(
        groups, y, 0.0, rows, multipliers, beta=1e-12, loss="squared", qp_tol=1e-9
    )
    fit = program.fit_values(groups.full_coef()) + b
    assert 0.5 * np.sum((fit - y) ** 2) < 0.9 * empty
    solution = solve_three_layer(
        program, y, beta=1e-12, loss="squared", fit_intercept=True, tol=1e-7, max_iter=50
    )
    assert solution.objective < 1e-6 * empty


def test_cone_rows_still_violated_are_reported_not_certified(monkeypatch):
    # one feasibility round from no rows at all cannot make the point feasible: the solve
    # stops there, with the only point it certified, the first (no group)
    program, y = _program(2, "squared", n=30, length=8)
    program = dataclasses.replace(program, gates=None)
    options = dict(beta=0.05, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    optimum = solve_three_layer(program, y, **options)
    monkeypatch.setattr(_three_layer, "_MAX_ROW_ROUNDS", 1)
    stopped = solve_three_layer(program, y, **options)
    assert not stopped.converged
    assert stopped.status == "cone rows still violated after 1 rounds"
    assert not stopped.coef.any() and stopped.duality_gap > 1e-3 * stopped.objective
    assert stopped.objective == pytest.approx(
        _objective(program, stopped.coef, stopped.intercept, y, 0.05, "squared"), rel=1e-12
    )
    # warm started, its first point has groups: nothing certified, no gap
    warm = solve_three_layer(program, y, coef_init=optimum.coef, **options)
    assert warm.status == "cone rows still violated after 1 rounds"
    assert warm.coef.any() and warm.duality_gap is None
    assert warm.objective == pytest.approx(
        _objective(program, warm.coef, warm.intercept, y, 0.05, "squared"), rel=1e-12
    )


def test_cone_rows_violated_late_return_the_best_certified_point(monkeypatch):
    # a restricted point still violating rows after its rounds ended the solve without a
    # gap, though earlier iterations had certified points (a review)
    program, y = _program(2, "squared", n=30, length=8)
    options = dict(beta=0.05, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    feasible_point, calls, fail_at = _three_layer._feasible_restricted_point, [], [None]

    def infeasible_late(*args, **kwargs):
        calls.append(1)
        b, rows, feasible = feasible_point(*args, **kwargs)
        return b, rows, feasible and len(calls) != fail_at[0]

    monkeypatch.setattr(_three_layer, "_feasible_restricted_point", infeasible_late)
    optimum = solve_three_layer(program, y, **options)
    assert len(calls) >= 2
    fail_at[0] = len(calls)  # now the last restricted point is infeasible
    calls.clear()
    stopped = solve_three_layer(program, y, **options)
    assert not stopped.converged
    assert stopped.status == "cone rows still violated after 100 rounds"
    _assert_feasible(program, stopped.coef)
    assert stopped.objective == pytest.approx(
        _objective(program, stopped.coef, stopped.intercept, y, 0.05, "squared"), rel=1e-12
    )
    assert stopped.objective - stopped.duality_gap <= optimum.objective * (1 + 1e-12)


def test_large_targets_are_solved_at_unit_scale():
    # targets of size 1000 at beta=0.1 are the unit-scale program at beta=1e-4; solved as
    # given, the restricted QP failed (InsufficientProgress) on a program like this one
    program, y = _program(0, "squared", n=25)
    options = dict(loss="squared", fit_intercept=True, tol=1e-7, max_iter=500)
    large = solve_three_layer(program, 1000 * y, beta=0.1, **options)
    unit = solve_three_layer(program, y, beta=1e-4, **options)
    assert large.converged, large.status
    assert large.objective == pytest.approx(1e6 * unit.objective, rel=1e-7)


@pytest.mark.parametrize("x_scale, y_scale", [(1.0, 1000.0), (1e-3, 1.0), (1e3, 1e-3)])
def test_scaled_data_give_the_scaled_optimum(x_scale, y_scale):
    # the program is homogeneous: pieces s A and targets t y give the groups (t / s) c at
    # beta s t, and t^2 times the objective. Solved as given, targets of size 1000 stalled
    # at 2.5e-4 of the objective (the interior point's tolerances are partly absolute)
    program, y = _program(0, "squared")
    options = dict(loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    base = solve_three_layer(program, y, beta=0.1, **options)
    scaled_program = dataclasses.replace(program, pieces=program.pieces * x_scale)
    scaled = solve_three_layer(scaled_program, y * y_scale, beta=0.1 * x_scale * y_scale, **options)
    assert scaled.converged, scaled.status
    assert scaled.objective == pytest.approx(base.objective * y_scale**2, rel=1e-8)
    assert scaled.duality_gap <= 1e-8 * scaled.objective
    # (the fit is unique, the groups need not be)
    fit = program.fit_values(base.coef) + base.intercept
    scaled_fit = scaled_program.fit_values(scaled.coef) + scaled.intercept
    np.testing.assert_allclose(scaled_fit / y_scale, fit, atol=1e-6 * np.abs(fit).max())


def test_a_failed_restricted_solve_returns_a_certified_point(monkeypatch):
    # the interior point can fail (InsufficientProgress on targets of size 1000 before the
    # solves were at unit scale): a failed solve is tried again in units of the coefficients'
    # size, and where that fails too, the points certified so far must not be lost
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    solve, calls, fail_from = _three_layer._restricted_solve, [], [np.inf]

    def failing(*args, **kwargs):
        calls.append(kwargs["in_units"])
        if len(calls) >= fail_from[0]:
            raise SolverFailed("InsufficientProgress")
        return solve(*args, **kwargs)

    monkeypatch.setattr(_three_layer, "_restricted_solve", failing)
    optimum = solve_three_layer(program, y, **options)
    fail_from[0], n_calls = len(calls), len(calls)  # now the last solve fails, and its retry
    calls.clear()
    stopped = solve_three_layer(program, y, **options)
    assert calls[-2:] == [False, True] and len(calls) == n_calls + 1
    assert not stopped.converged
    assert stopped.status == "stalled"
    _assert_feasible(program, stopped.coef)
    assert stopped.coef.any()
    assert stopped.objective == pytest.approx(
        _objective(program, stopped.coef, stopped.intercept, y, 0.1, "squared"), rel=1e-12
    )
    # a valid bound: the gap covers the distance to the optimum
    assert stopped.objective - stopped.duality_gap <= optimum.objective * (1 + 1e-12)
    calls.clear()
    fail_from[0] = 1  # the first solve fails: the point without groups, with its bound
    first = solve_three_layer(program, y, **options)
    assert first.status == "stalled" and not first.coef.any()
    assert first.objective - first.duality_gap <= optimum.objective * (1 + 1e-12)
    calls.clear()  # from a warm start there is no such point: the failure is raised
    with pytest.raises(SolverFailed, match="^InsufficientProgress$"):  # the solve's own error
        solve_three_layer(program, y, coef_init=optimum.coef, **options)


def test_a_restricted_solve_that_fails_once_is_solved_again_in_units(monkeypatch):
    # a failed solve no longer ends the solve: tried again in units of the coefficients'
    # size, the solve goes on from it and certifies the optimum
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    solve, calls = _three_layer._restricted_solve, []

    def failing_once(*args, **kwargs):
        calls.append(kwargs["in_units"])
        if len(calls) == 2:
            raise SolverFailed("InsufficientProgress")
        return solve(*args, **kwargs)

    optimum = solve_three_layer(program, y, **options)
    monkeypatch.setattr(_three_layer, "_restricted_solve", failing_once)
    retried = solve_three_layer(program, y, **options)
    assert calls[1:3] == [False, True]
    assert retried.converged and retried.status == "optimal"
    assert retried.objective == pytest.approx(optimum.objective, rel=1e-7)


def test_a_solve_that_stops_short_returns_its_lowest_point():
    # inputs of size 1000 at beta=1e-4: stopped after 4 iterations, the solve's last point is
    # above its lowest (3.097190e-5 against 3.097176e-5 after 3), and returning the last point
    # a solve stopped at max_iter=4 was above the one stopped at 3. (Seed 5 of before, which
    # stalled at 1.04e-7 of its objective, now certifies: the test above)
    from sklearn_convexcnn import ConvexCNNClassifier

    rng = np.random.default_rng(40)
    X = 1000 * rng.standard_normal((11, 7))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    params = dict(
        beta=1e-4, architecture="three_layer", kernel_size=2, n_patterns=8, solver="native",
        fit_intercept=False, random_state=7,
    )  # fmt: skip
    fits = []
    for max_iter in (3, 4):
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            fits.append(ConvexCNNClassifier(max_iter=max_iter, **params).fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fits.append(ConvexCNNClassifier(**params).fit(X, y))
    assert fits[2].n_iter_ > fits[1].n_iter_ > fits[0].n_iter_
    assert fits[2].objective_ <= fits[1].objective_ <= fits[0].objective_
    for stopped in fits[:2]:
        assert stopped.regularized_objective(X, y) == pytest.approx(stopped.objective_, rel=1e-6)


# inputs of size 1000 at beta=1e-4: the unit-scale program at an effective beta of 8e-8
_LARGE_INPUTS = dict(
    beta=1e-4, architecture="three_layer", kernel_size=2, n_patterns=8, solver="native",
    fit_intercept=False, random_state=7,
)  # fmt: skip


def _large_inputs(seed):
    """11 Gaussian signals of 7 samples of size 1000, and a linear rule's labels."""
    X = 1000 * np.random.default_rng(seed).standard_normal((11, 7))
    return X, (X[:, 0] + X[:, 2] > 0).astype(int)


def _certified_large_inputs_fit(seed, **params):
    """A native three-layer classifier of :func:`_large_inputs`, refused if it warns."""
    from sklearn_convexcnn import ConvexCNNClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return ConvexCNNClassifier(**dict(_LARGE_INPUTS, **params)).fit(*_large_inputs(seed))


def test_a_fit_that_interpolates_from_large_terms_is_certified_past_its_rounding():
    # inputs of size 1000 at beta=1e-4: the fit sums terms of 300-650 to targets of one, and
    # v = y - f carries their rounding. With the point polished to rounding, its nonzero
    # groups priced beta (1 +- 1e-7), and the gap stalled at 1.04e-7 of the objective (at
    # tol=1e-9, 7 of 7 such draws at 8e-9 to 1e-7); corrected with the refined multipliers
    # (_refined_multipliers), v certifies it to 5e-14
    clf = _certified_large_inputs_fit(5, tol=1e-9)
    assert 0 <= clf.duality_gap_ <= 1e-9 * clf.objective_


@pytest.mark.parametrize("seed", [8, 12, 39, 43])
def test_a_fit_at_a_tiny_effective_beta_is_priced_at_the_fit_of_its_multipliers(seed):
    # inputs of size 1000 at beta=1e-4, an effective beta of 8e-8: the restricted points'
    # residue (groups at 1e-8 to 1e-6 of the largest) moved their fit by more than beta
    # resolves as it was zeroed, and priced at that fit with the multipliers of the fit
    # before, the set's groups priced up to 2500 times beta. Lowered to beta with them, the
    # optimum's missing groups priced below it, and the solves stalled 0.3 % to 46 % above
    # the optimum (seed 8: 1.2376e-5 against 8.4899e-6, Clarabel on every row at 1e-12),
    # warning. Priced at the fit before the residue is zeroed, they enter, and the fits
    # certify at the optimum, below Clarabel's objective
    from sklearn_convexcnn import ConvexCNNClassifier

    X, y = _large_inputs(seed)
    native = _certified_large_inputs_fit(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # (Clarabel's warns on seed 8)
        clarabel = ConvexCNNClassifier(**dict(_LARGE_INPUTS, solver="clarabel")).fit(X, y)
    assert 0 <= native.duality_gap_ <= native.tol * native.objective_
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-9)
    assert native.objective_ <= clarabel.objective_ * (1 + 1e-9)
    assert native.objective_ - native.duality_gap_ <= clarabel.objective_


def _certified_planted_fit(seed, n_filters, beta):
    """A native three-layer fit of 300 noise-free planted targets (inputs of size 100),
    refused if it warns."""
    from sklearn_convexcnn import ConvexCNNRegressor

    X, y = planted_targets(np.random.default_rng(seed), 300, 5, n_filters, scale=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return ConvexCNNRegressor(
            architecture="three_layer", kernel_size=3, beta=beta, fit_intercept=False,
            n_patterns=4, tol=1e-7, random_state=0, solver="native",
        ).fit(X, y)  # fmt: skip


def test_a_three_layer_fit_whose_restricted_qp_fails_is_certified_by_its_retry_in_units():
    # noise-free targets of a two-filter ReLU CNN, 300 signals of 5 samples of size 100 at
    # beta=1e-6 (an effective beta of 4e-9): a QP of the second restricted solve, of
    # coefficients of 4e2, ended 'InsufficientProgress', and the SolverFailed stopped the
    # solve after 2 iterations at 4.1 times Clarabel's objective, its gap the whole
    # objective; solved again in units of the coefficients' size (step 6), the QPs are
    # 'Solved' and the fit certifies to 1.2e-8, below Clarabel's objective (which warns)
    reg = _certified_planted_fit(seed=109, n_filters=2, beta=1e-6)
    assert 0 <= reg.duality_gap_ <= 1e-7 * reg.objective_


def test_a_fit_with_more_samples_than_variables_is_certified_by_centred_qps():
    # _restricted._clarabel_qp's centred QPs with at least as many samples as variables:
    # noise-free targets of a one-filter ReLU CNN, 300 signals of 5 samples of size 100 at
    # beta=1e-3. Posed as min 0.5 x^T M^T M x - y^T M x, the solve stalled at 2.2 times
    # Clarabel's objective, its gap the whole objective; centred on y's fit in the range of M
    # (r = R x - Q^T y) it certifies
    reg = _certified_planted_fit(seed=100, n_filters=1, beta=1e-3)
    assert 0 <= reg.duality_gap_ <= 1e-7 * reg.objective_


def test_a_three_layer_fit_at_a_tiny_effective_beta_is_certified_by_qps_in_units():
    # inputs of size 100 at beta=1e-3: Clarabel solved the restricted QPs of coefficients far
    # above unit size inaccurately, and the solve stalled after 4 iterations with a
    # ConvergenceWarning; in units of the coefficients' size it certified to 6.7e-10. (Its
    # QPs centred, that fit certifies without them; inputs of size 1000 at beta=1e-4 still
    # need them: test_the_round_that_switches_to_qps_in_units_is_an_iteration)
    clf = _certified_large_inputs_fit(3)
    assert 0 <= clf.duality_gap_ <= clf.tol * clf.objective_


def test_a_three_layer_solves_qps_in_units_are_of_its_coefficients_size(monkeypatch):
    # step 6's QPs in units: the unit is the power of two above the size of the point's
    # coefficients, of either sign (inputs of size 1000 at beta=1e-4, which reach it: the
    # inputs of size 100 above did too until the QPs were centred, and now certify without)
    from sklearn_convexcnn import ConvexCNNClassifier

    proximal_newton, calls = _three_layer.proximal_newton, []

    def recording(M, y, x, *, unit=1.0, **kwargs):
        calls.append((np.abs(x).max(initial=0.0), unit))  # (no intercept: x is the groups)
        return proximal_newton(M, y, x, unit=unit, **kwargs)

    monkeypatch.setattr(_three_layer, "proximal_newton", recording)
    rng = np.random.default_rng(3)
    X = 1000 * rng.standard_normal((11, 7))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    ConvexCNNClassifier(
        beta=1e-4, architecture="three_layer", kernel_size=2, n_patterns=8, solver="native",
        fit_intercept=False, random_state=7,
    ).fit(X, y)  # fmt: skip
    in_units = [(size, unit) for size, unit in calls if unit != 1.0]
    assert in_units  # (the premise)
    assert all(unit / 2 <= size <= unit for size, unit in in_units)


def test_the_round_that_switches_to_qps_in_units_is_an_iteration(monkeypatch):
    # step 6: where the most exact rounds would stall (inputs of size 1000 at beta=1e-4, at
    # 2.5e-3 of the objective after 5 iterations), the solve switches to QPs in units, once,
    # and goes on. The round that switches is an iteration like any other, its bookkeeping
    # done: one restricted solve an iteration. (A mutant that went on right after the switch,
    # with a 'continue', survived the suite: it counts 5 iterations for 6 restricted solves)
    from sklearn_convexcnn import ConvexCNNClassifier

    feasible_restricted_point, calls = _three_layer._feasible_restricted_point, []

    def recording(*args, qp_tol, in_units, **kwargs):
        calls.append((qp_tol, in_units))
        return feasible_restricted_point(*args, qp_tol=qp_tol, in_units=in_units, **kwargs)

    monkeypatch.setattr(_three_layer, "_feasible_restricted_point", recording)
    rng = np.random.default_rng(3)
    X = 1000 * rng.standard_normal((11, 7))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    params = dict(
        beta=1e-4, architecture="three_layer", kernel_size=2, n_patterns=8, solver="native",
        fit_intercept=False, random_state=7,
    )  # fmt: skip
    clf = ConvexCNNClassifier(**params).fit(X, y)
    in_units = [units for _, units in calls]
    assert True in in_units  # (the premise)
    switched = in_units.index(True)
    # once, after a round as exact as the QPs get, and for good
    assert switched > 0
    assert calls[switched - 1] == (1e-12, False)
    assert all(in_units[switched:])
    assert clf.n_iter_ == len(calls)
    assert 0 <= clf.duality_gap_ <= clf.tol * clf.objective_
    # stopped before the switch, the same solve stands far above its target
    calls.clear()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        early = ConvexCNNClassifier(max_iter=switched, **params).fit(X, y)
    assert not any(units for _, units in calls)
    assert early.n_iter_ == len(calls) == switched
    assert early.duality_gap_ > 1e3 * clf.tol * early.objective_
    assert clf.objective_ <= early.objective_


def test_a_warm_start_that_empties_the_network_at_a_tiny_tol():
    # the second layer's multipliers were refined over no nonzero group: np.vstack([]) raised
    program, y = _program(0, "squared")
    shape = (2, 2, program.outer_masks.shape[0], *program.pieces.shape[::2])
    start = 0.01 * np.random.default_rng(0).standard_normal(shape)
    solution = solve_three_layer(
        program, y, beta=10.0, loss="squared", fit_intercept=True, tol=1e-16, max_iter=20,
        coef_init=start,
    )  # fmt: skip
    assert not solution.coef.any()
    assert solution.intercept == pytest.approx(np.mean(y))


@pytest.mark.parametrize("loss", ["logistic", "squared"])
def test_a_handover_from_cvxpy_starts_from_its_multipliers(loss, monkeypatch):
    """solver="auto" hands a CVXPY point certified worse than 1e-5 to the native solver with
    the multipliers that certified it: from zero ones its certificate was nearly empty (98 %
    of the objective), and column generation added groups for iterations only to recover
    them (4 and 5 iterations here; 107 iterations and 197 s on 7 signals with every
    pattern). Targets of size 1000 check that the multipliers are scaled with the data (a
    review: scaled wrongly, 6 iterations). Clarabel solves to 1e-7 here, the value of
    AUTO_INTERIOR_TOL before 1e-9, at which its points need no hand-over."""
    from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor, _outputs

    monkeypatch.setattr(_outputs, "AUTO_INTERIOR_TOL", 1e-7)

    rng = np.random.RandomState(3)
    X = rng.randn(6, 5)
    if loss == "logistic":
        y = np.where(rng.rand(6) > 0.5, 1, 0)
        model = ConvexCNNClassifier(beta=0.03, loss="logistic")
    else:
        y = 1000 * rng.randn(6)
        model = ConvexCNNRegressor(beta=30.0)
    model.set_params(architecture="three_layer", n_patterns=20, fit_intercept=False, random_state=0)
    model.fit(X, y)
    assert model.n_iter_ <= 1  # (Clarabel's point is optimal: its multipliers certify it)
    assert model.duality_gap_ <= 1e-7 * model.objective_
    assert model.regularized_objective(X, y) == pytest.approx(model.objective_, rel=1e-6)


def test_an_intercept_init_without_fit_intercept_is_ignored():
    # without an intercept the fit has none: a warm start's intercept must not enter it, not
    # even at the first point (the empty network, which max_iter=0 returns, of objective
    # 0.5 ||y||^2) nor where that point is optimal (beta far above the correlations)
    program, y = _program(0, "squared")
    options = dict(loss="squared", fit_intercept=False, tol=1e-8, intercept_init=5.0)
    first = solve_three_layer(program, y, beta=0.1, max_iter=0, **options)
    assert first.intercept == 0.0 and not first.coef.any()
    assert first.objective == pytest.approx(0.5 * np.sum(y**2), rel=1e-12)
    empty = solve_three_layer(program, y, beta=1e6, max_iter=50, **options)
    assert empty.converged and empty.intercept == 0.0 and not empty.coef.any()
    assert empty.objective == pytest.approx(0.5 * np.sum(y**2), rel=1e-12)
    fit = solve_three_layer(program, y, beta=0.1, max_iter=500, **options)
    assert fit.converged and fit.intercept == 0.0
    assert fit.objective == pytest.approx(
        _objective(program, fit.coef, 0.0, y, 0.1, "squared"), rel=1e-12
    )


def test_the_duality_gap_of_scaled_targets_is_scaled_as_the_objective():
    # targets t y (and beta t) are the same unit-scale program: the objective and its gap are
    # t^2 times those of y, also for a solve stopped with a gap far from zero
    program, y = _program(0, "squared")
    options = dict(loss="squared", fit_intercept=True, tol=1e-8, max_iter=1)
    unit = solve_three_layer(program, y, beta=0.1, **options)
    scaled = solve_three_layer(program, 1000.0 * y, beta=100.0, **options)
    assert not unit.converged and unit.duality_gap > 1e-3 * unit.objective
    assert scaled.objective == pytest.approx(1e6 * unit.objective, rel=1e-9)
    assert scaled.duality_gap == pytest.approx(1e6 * unit.duality_gap, rel=1e-6)


def test_the_cutting_planes_start_from_the_rows_nearest_to_each_gate():
    # rows by their margin g . r / ||r|| to the cone's gate g: the nearest `count`, all of
    # them where `count` is more than the cone has, never a zero row (0 >= 0 always holds),
    # and none without gates
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    cones = np.array(
        [
            [[1.0, 0.0], [0.5, 2.0], [1.0, 1.0], [3.0, -1.0], [0.0, 0.0]],
            [[1.0, 0.0], [0.5, 2.0], [1.0, 1.0], [3.0, -1.0], [0.0, 1.0]],
        ]
    )  # margins to g = (1, 1): 1, 1.21, 1.41, 0.63 and (zero row) none, or 1
    gates = np.ones((2, 2))
    program = ThreeLayerProgram(np.zeros((2, 3, 2)), cones, np.ones((1, 3), bool), gates)
    nearest = _three_layer_rows.nearest_rows(program, 2)
    np.testing.assert_array_equal(nearest[0], [0, 3])
    assert set(nearest[1]) in ({0, 3}, {3, 4})  # (rows 0 and 4 tie at 1)
    everything = _three_layer_rows.nearest_rows(program, 10)
    np.testing.assert_array_equal(everything[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(everything[1], [0, 1, 2, 3, 4])
    without = _three_layer_rows.nearest_rows(dataclasses.replace(program, gates=None), 2)
    assert [len(rows) for rows in without] == [0, 0]


def test_the_groups_that_enter_are_those_priced_above_beta_the_largest_first():
    # any price above beta violates the dual constraint, however little (1e-6 of beta here);
    # the working set's own groups never enter again; at most _GROUPS_PER_ROUND per round
    program, _ = _program(0, "squared")
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add([(0, 0, 0, 0)])
    prices = np.zeros((2, 2, program.outer_masks.shape[0], program.n_patterns))
    prices[0, 0, 0, 0] = 5.0  # (in the set)
    prices[1, 0, 0, 1] = 0.1 * (1 + 1e-6)
    prices[0, 1, 0, 2] = 0.3
    prices[1, 1, 0, 3] = 0.1  # (at beta: dual feasible)
    entering = _three_layer._most_violating(prices, groups, 0.1)
    assert [tuple(int(i) for i in key) for key in entering] == [(0, 1, 0, 2), (1, 0, 0, 1)]
    assert prices[0, 0, 0, 0] == 0.0  # (zeroed in place)
    many = np.full_like(prices, 1.0)
    assert len(_three_layer._most_violating(many, groups, 0.1)) == _three_layer._GROUPS_PER_ROUND


def test_a_stopped_solve_reports_its_gap_to_the_largest_dual_bound(monkeypatch):
    # every iteration's dual objective is a lower bound on the optimum: the gap is to the
    # largest of them, not to the last (made 1000 lower here, still a valid bound)
    program, y = _program(0, "squared")
    dual_objective, duals = _three_layer._dual_objective, []

    def lower_after_the_first(*args, **kwargs):
        duals.append(dual_objective(*args, **kwargs))
        return duals[-1] - (1000.0 if len(duals) > 1 else 0.0)

    monkeypatch.setattr(_three_layer, "_dual_objective", lower_after_the_first)
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=1)
    stopped = solve_three_layer(program, y, **options)
    assert len(duals) >= 2 and not stopped.converged
    _, y_scale, _ = _cvxpy.unit_scales(program.pieces, y, 0.1, "squared")
    expected = stopped.objective - y_scale**2 * max(duals[0], max(duals[1:]) - 1000.0)
    assert stopped.duality_gap == pytest.approx(expected, rel=1e-9)


def test_negative_handed_over_multipliers_count_as_zero():
    # mu >= 0 is what makes a price a dual bound: a handover's negative entries (a CVXPY
    # dual's rounding, or worse) are clipped, so they start the solve as no multipliers do
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=3)
    negative = -np.ones((2 * program.outer_masks.shape[0], len(y)))
    handed = solve_three_layer(program, y, multipliers_init=negative, **options)
    cold = solve_three_layer(program, y, **options)
    assert handed.n_iter == cold.n_iter
    assert handed.objective == cold.objective
    assert handed.duality_gap == cold.duality_gap


def test_a_branch_in_the_working_set_prices_with_its_own_multipliers_only():
    # a handover's multipliers start each branch, until the restricted problem gives the
    # branch its own: then those of its rows not kept are zero, not the handover's (any
    # mu >= 0 bounds the optimum, but these are far from the optimum's and keep the gap open)
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    cold = solve_three_layer(program, y, **options)
    far = np.full((2 * program.outer_masks.shape[0], len(y)), 10.0)
    handed = solve_three_layer(program, y, multipliers_init=far, **options)
    assert handed.converged, handed.status
    assert handed.objective == pytest.approx(cold.objective, rel=1e-7)
    assert handed.duality_gap <= 1e-8 * handed.objective


def test_a_warm_start_begins_with_its_nonzero_groups_only(capsys):
    # coef_init's nonzero groups are the initial working set (its zero ones would make every
    # restricted problem of the program's size): the first iteration counts them
    program, y = _program(1, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    cold = solve_three_layer(program, y, **options)
    capsys.readouterr()
    n_nonzero = int(np.count_nonzero(np.linalg.norm(cold.coef, axis=-1)))
    assert 0 < n_nonzero < cold.coef[..., 0].size
    solve_three_layer(program, y, coef_init=cold.coef, verbose=1, **options)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("[native] three-layer iteration 0: ")
    assert f", {n_nonzero} groups, " in first


def _second_restricted_point_made_worse(monkeypatch):
    """Every group of the solve's second feasible restricted point scaled by 3 (still
    feasible: cones are cones, and each branch keeps its signs); the list of its calls."""
    feasible_point, calls = _three_layer._feasible_restricted_point, []

    def worse_second(groups, *args, **kwargs):
        b, rows, feasible = feasible_point(groups, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            groups.coef = 3.0 * groups.coef
        return b, rows, feasible

    monkeypatch.setattr(_three_layer, "_feasible_restricted_point", worse_second)
    return calls


def test_a_solve_stopped_at_max_iter_returns_its_lowest_point_not_its_last(monkeypatch):
    # its last restricted point made worse (every group scaled by 3: still feasible, as cones
    # are cones and each branch keeps its signs): the answer is the lowest point certified
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8)
    one = solve_three_layer(program, y, max_iter=1, **options)
    calls = _second_restricted_point_made_worse(monkeypatch)
    stopped = solve_three_layer(program, y, max_iter=2, **options)
    assert len(calls) == 2 and not stopped.converged
    assert stopped.objective <= one.objective * (1 + 1e-12)
    assert stopped.objective == pytest.approx(
        _objective(program, stopped.coef, stopped.intercept, y, 0.1, "squared"), rel=1e-12
    )


def test_rows_violated_only_by_the_solvers_residue_are_not_added():
    # groups below RESIDUE times the largest are dropped from the network: rows that only
    # they violate are no cutting planes (the chase of such rows took 25,000 of them); the
    # rows a group above it violates are reported
    from sklearn_convexcnn._formulations._pruning import RESIDUE
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    cones = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]] * 2)  # c >= 0, one pattern each
    program = ThreeLayerProgram(np.zeros((2, 3, 2)), cones, np.ones((1, 3), bool))
    row_norms = np.linalg.norm(cones, axis=2)
    none = [np.zeros(0, dtype=int)] * 2
    coef = np.zeros((2, 2, 1, 2, 2))  # (part, sign, outer, pattern, h)
    coef[0, 0, 0, 0] = [1.0, 2.0]  # inside its cone
    coef[1, 0, 0, 1] = 0.1 * RESIDUE * np.array([-1.0, 0.0])  # residue, violating row 0
    violated = _three_layer_rows.violated_rows(program, coef, none, row_norms, 1e-9)
    assert [len(rows) for rows in violated] == [0, 0]
    coef[1, 0, 0, 1] = 1e-3 * np.array([-1.0, -2.0])  # not residue: every row
    violated = _three_layer_rows.violated_rows(program, coef, none, row_norms, 1e-9)
    assert len(violated[0]) == 0
    np.testing.assert_array_equal(np.sort(violated[1]), [0, 1, 2])
    kept = [np.zeros(0, dtype=int), np.array([1])]  # (rows kept already are not reported)
    violated = _three_layer_rows.violated_rows(program, coef, kept, row_norms, 1e-9)
    np.testing.assert_array_equal(np.sort(violated[1]), [0, 2])


def _two_cone_program(cones):
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    return ThreeLayerProgram(np.zeros((2, 3, 2)), cones, np.ones((1, 3), bool))


def test_violated_rows_are_measured_relative_to_the_groups_and_the_rows_norms():
    # mutants that left out either norm survived (the test above has rows of norm 1 and
    # violations far beyond tol): a row of norm 1000, and a group 1e-4 of the largest
    cones = np.array([[[1.0, 0.0], [0.0, 1000.0]]] * 2)
    program = _two_cone_program(cones)
    row_norms = np.linalg.norm(cones, axis=2)
    none = [np.zeros(0, dtype=int)] * 2
    coef = np.zeros((2, 2, 1, 2, 2))
    # cone 0: 1e-7 of the group's norm into the row, 1e-4 absolute: 1e-7 of the row's norm
    coef[0, 0, 0, 0] = [1.0, -1e-7]
    # cone 1: a group of norm 1e-4 across the row by its whole norm, 1e-4 absolute
    coef[0, 0, 0, 1] = [1.0, 0.0]
    coef[1, 0, 0, 1] = 1e-4 * np.array([1.0, -1e-3]) / np.hypot(1.0, 1e-3)
    violated = _three_layer_rows.violated_rows(program, coef, none, row_norms, 1e-6)
    assert len(violated[0]) == 0
    np.testing.assert_array_equal(violated[1], [1])


def test_the_residue_is_measured_against_the_largest_group():
    # a mutant that measured it against the groups' mean norm survived: with most groups zero
    # the mean is far below the largest, and a group of half the residue's threshold counted
    from sklearn_convexcnn._formulations._pruning import RESIDUE

    cones = np.array([[[1.0, 0.0], [0.0, 1.0]]] * 2)
    program = _two_cone_program(cones)
    row_norms = np.linalg.norm(cones, axis=2)
    none = [np.zeros(0, dtype=int)] * 2
    coef = np.zeros((2, 2, 1, 2, 2))
    coef[0, 0, 0, 0] = [1.0, 0.0]
    coef[1, 1, 0, 1] = 0.5 * RESIDUE * np.array([-1.0, 0.0])  # (violates row 0 of cone 1)
    violated = _three_layer_rows.violated_rows(program, coef, none, row_norms, 1e-9)
    assert [len(rows) for rows in violated] == [0, 0]
    coef[1, 1, 0, 1] *= 4.0  # (above it: reported)
    violated = _three_layer_rows.violated_rows(program, coef, none, row_norms, 1e-9)
    np.testing.assert_array_equal(violated[1], [0])


def test_the_second_layer_rows_added_are_the_most_violated_of_each_branch():
    # _ROWS_PER_BRANCH rows a branch and round at most, the most violated first, all of them
    # where that many are violated (no more); rows the point satisfies (at zero, above zero,
    # or below zero by less than _FEASIBILITY_TOL of the branch's largest |z|) and rows kept
    # already are none. One piece, one outer pattern: branch (0, 0) has z = values, and a
    # group on -M of branch (1, 0) gives it z = -values
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    cap = _three_layer._ROWS_PER_BRANCH
    # z of branch (0, 0): cap + 1 violated rows; of (1, 0): cap - 1 and 1e-7 of |z| = cap + 1
    # (the tolerance's 4e-8 of it: violated), not 3e-8, 1e-11 nor 0
    values = np.concatenate([-np.arange(1.0, cap + 2), np.arange(1.0, cap), [1e-7, 3e-8, 1e-11, 0]])
    n = len(values)
    program = ThreeLayerProgram(values[None, :, None], np.ones((1, 1, 1)), np.ones((1, n), bool))
    groups = _three_layer._Groups(program, fit_intercept=False)
    coef = np.zeros((2, 2, 1, 1, 1))  # (part, sign, outer, pattern, h)
    coef[0, 0, 0, 0] = coef[1, 1, 0, 0] = 1.0
    assert groups.add_violated_samples(coef) == 2 * cap
    np.testing.assert_array_equal(np.flatnonzero(groups.samples[0]), np.arange(1, cap + 1))
    np.testing.assert_array_equal(
        np.flatnonzero(groups.samples[1]), np.arange(cap + 1, 2 * cap + 1)
    )
    assert groups.add_violated_samples(coef) == 1  # (the least violated, -1, left over)
    np.testing.assert_array_equal(np.flatnonzero(groups.samples[0]), np.arange(cap + 1))
    assert groups.add_violated_samples(coef) == 0


def test_a_polished_point_is_checked_on_the_rows_of_both_layers():
    # _Groups.feasible is what rejects a polish that left the face: a group across a row of
    # its first-layer cone (c >= 0 here), or a branch's z across a second-layer row (every
    # z >= 0 here, one outer pattern of ones), by 1e-6 of their norms, is infeasible; by
    # 1e-14, rounding, it is not
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    pieces = np.array([[[1.0, 5.0], [2.0, -1.0], [-1e-6, 1e-6]], [[1.0, 0.0]] * 3])
    cones = np.array([np.eye(2)] * 2)
    program = ThreeLayerProgram(pieces, cones, np.ones((1, 3), bool))
    first, second = _three_layer._Groups(program, False), _three_layer._Groups(program, False)
    first.add([(0, 0, 0, 1)])  # (z = c_0 on every sample: the second layer always holds)
    second.add([(0, 0, 0, 0)])  # (z = (c_0 + 5 c_1, 2 c_0 - c_1, 1e-6 (c_1 - c_0)))
    assert first.feasible(np.array([[1.0, 0.0]]))
    assert first.feasible(np.array([[1.0, -1e-14]]))
    assert not first.feasible(np.array([[1.0, -1e-6]]))
    assert second.feasible(np.array([[1.0, 1.0]]))
    assert second.feasible(np.array([[1.0, 1.0 - 1e-8]]))  # (z_2 = -1e-14, of |z| = 5.99)
    assert not second.feasible(np.array([[1.0, 0.0]]))  # (z_2 = -1e-6)


def _optimum_groups(seed, beta=0.1):
    """The program, targets, optimum at ``beta`` and a working set of its nonzero groups."""
    program, y = _program(seed, "squared")
    options = dict(beta=beta, loss="squared", fit_intercept=True, tol=1e-10, max_iter=500)
    optimum = solve_three_layer(program, y, **options)
    keys = np.argwhere(np.linalg.norm(optimum.coef, axis=-1) > 0)
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add(keys, optimum.coef[tuple(keys.T)])
    return program, y, optimum, groups


def test_a_polish_that_crosses_a_row_off_its_face_holds_the_first_row_it_meets():
    # the face holds the tight rows only: Newton's method on it can cross the others. From
    # the optimum at beta=0.1 (seed 15), the optimum of the face at beta=0.05 lies outside the
    # first-layer cones. The polish goes back to where the segment meets the first of those
    # rows, and on from there on the face that holds it
    # (test_the_polish_from_a_crossed_row_ends_at_the_optimum_of_the_face_that_holds_it):
    # feasible, lower, and at zero on a row that had slack. (The optimum is not unique: seed
    # 0's, which crossed, is another point since the QPs were centred, and its polish does not)
    program, y, optimum, groups = _optimum_groups(15)
    start = _objective(program, groups.full_coef(), optimum.intercept, y, 0.05, "squared")
    options = dict(beta=0.05, loss="squared")
    coef, intercept = _three_layer._polished(groups, y, optimum.intercept, **options)
    polished = _objective(program, groups.full_coef(coef), intercept, y, 0.05, "squared")
    assert polished < start * (1 - 1e-3)
    _assert_feasible(program, groups.full_coef(coef))
    every_group = np.arange(len(groups))
    before, _ = groups.slacks(groups.coef, every_group)
    after, allowed = groups.slacks(coef, every_group)
    reached = (np.abs(after) <= allowed) & (before > 1e-3)
    assert reached.any()


def test_the_polish_holds_a_second_layer_row_that_its_start_violates():
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    # one group c in the cone c >= 0; sample 0 is on (z_0 = c_0 fits y_0 = 1), sample 1 off
    # (z_1 = c_0 - c_1 <= 0). The optimum is on that row, c = (t, t) with t = 1 - sqrt(2)
    # beta. From a start across it by 1e-4 of the branch's largest |z| (the interior point's
    # residue dropped can leave that), the row is tight (at most 1e-5) only as a signed slack:
    # measured by |z| it was left off the face, Newton's point crossed it further, and the
    # polish failed (a sweep's program stalled so, polishing no face at all)
    program = ThreeLayerProgram(
        np.array([[[1.0, 0.0], [1.0, -1.0]]]), np.array([np.eye(2)]), np.array([[True, False]])
    )
    beta = 0.1
    t = 1 - np.sqrt(2) * beta
    groups = _three_layer._Groups(program, False)
    groups.add([(0, 0, 0, 0)], np.array([[t * (1 + 1e-4), t]]))
    coef, _ = _three_layer._polished(groups, np.array([1.0, 0.0]), 0.0, beta=beta, loss="squared")
    np.testing.assert_allclose(coef, [[t, t]], rtol=1e-12)


def test_the_feasible_fraction_of_a_segment_is_where_it_crosses_the_first_row():
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram

    # one group in the cone c >= 0 (one sample, z = c_0 + c_1 >= 0 always holds here)
    program = ThreeLayerProgram(np.ones((1, 1, 2)), np.array([np.eye(2)]), np.ones((1, 1), bool))
    groups = _three_layer._Groups(program, False)
    groups.add([(0, 0, 0, 0)])
    fraction = functools.partial(_three_layer._feasible_fraction, groups)
    assert fraction(np.array([[1.0, 2.0]]), np.array([[3.0, 1.0]])) == 1.0
    # c_0 = 1 - 3 t crosses zero at 1/3, before c_1 = 2 - 4 t at 1/2
    assert fraction(np.array([[1.0, 2.0]]), np.array([[-2.0, -2.0]])) == pytest.approx(1 / 3)
    assert fraction(np.array([[4.0, 2.0]]), np.array([[1.0, -2.0]])) == pytest.approx(0.5)
    # a start already across the crossed row: no step
    assert fraction(np.array([[-1.0, 2.0]]), np.array([[-2.0, 1.0]])) == 0.0
    # ... also where the segment does not move that row (0/0, a nan and a RuntimeWarning),
    # or moves it back towards zero without reaching it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fraction(np.array([[-1.0, 2.0]]), np.array([[-1.0, 3.0]])) == 0.0
        assert fraction(np.array([[-2.0, 2.0]]), np.array([[-1.0, 3.0]])) == 0.0


def test_a_polish_whose_start_violates_a_row_it_does_not_move_warns_of_nothing():
    # 3 signals of 2x3 (every pattern, beta=0.1): a polish's start violated a first-layer row
    # that its segment left unchanged, and the feasible fraction divided 0 by 0 (a nan, and
    # "invalid value encountered in divide" from the solve); no step is taken there
    program, y = _tiny_exact_program(112)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        native = solve_three_layer(
            program, y, beta=0.1, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100
        )
    assert native.converged
    assert -1e-12 <= native.duality_gap <= 1e-7 * native.objective


def test_the_polish_holds_no_second_layer_row_that_is_rounding_on_its_face():
    # on 3 signals of 2x3 (every pattern, beta=0.2), the tight second-layer rows vanish on the
    # face but for rounding (they are combinations of tight first-layer rows). Ranked against
    # their own norm, that residue cut the face down to a subspace that the point (the optimum
    # scaled by 1.001, on the true face) is not on: a polish of None
    program, y = _tiny_exact_program(2)
    options = dict(beta=0.2, loss="squared", fit_intercept=False)
    optimum = solve_three_layer(program, y, tol=1e-7, max_iter=100, **options)
    assert optimum.converged
    keys = np.argwhere(np.linalg.norm(optimum.coef, axis=-1) > 0)
    groups = _three_layer._Groups(program, fit_intercept=False)
    groups.add(keys, 1.001 * optimum.coef[tuple(keys.T)])
    coef, _ = _three_layer._polished(groups, y, 0.0, beta=0.2, loss="squared")
    polished = _objective(program, groups.full_coef(coef), 0.0, y, 0.2, "squared")
    assert polished <= optimum.objective * (1 + 1e-12)
    assert polished >= (optimum.objective - optimum.duality_gap) * (1 - 1e-12)
    _assert_feasible(program, groups.full_coef(coef))


def test_a_polish_that_does_not_lower_the_objective_is_rejected(monkeypatch):
    # Newton's answer doubled: still on the face and feasible (cones are cones, each branch
    # keeps its signs), but worse than the point it started from
    program, y, optimum, groups = _optimum_groups(0)
    newton = _three_layer.newton_on_blocks
    monkeypatch.setattr(_three_layer, "newton_on_blocks", lambda *a, **kw: 2.0 * newton(*a, **kw))
    assert _three_layer._polished(groups, y, optimum.intercept, beta=0.1, loss="squared") is None


def test_the_polish_moves_the_intercept_too():
    # the optimum's groups with an intercept 0.1 off: the intercept is free on the face, and
    # the polished point is the optimum with its own intercept (not the one it started from)
    program, y, optimum, groups = _optimum_groups(0)
    coef, intercept = _three_layer._polished(
        groups, y, optimum.intercept + 0.1, beta=0.1, loss="squared"
    )
    assert intercept == pytest.approx(optimum.intercept, abs=1e-6)
    groups.coef = coef
    polished = _objective(program, groups.full_coef(), intercept, y, 0.1, "squared")
    assert polished == pytest.approx(optimum.objective, rel=1e-10)


def test_the_polish_holds_the_rows_the_interior_point_leaves_near_zero():
    # the restricted interior point leaves tight rows at up to ~1e-7 of the branch's largest
    # |z| (or of ||row|| ||c||); _POLISH_TIGHT must count them as tight, or Newton's method moves
    # along them and off the cone (seed 2: a polish of None at _POLISH_TIGHT=1e-9)
    program, y, optimum, groups = _optimum_groups(2)
    groups.coef[:] = 0.0  # (the restricted problem over the optimum's groups, from zero)
    rows = _three_layer_rows.nearest_rows(program, _three_layer_rows.START_ROWS)
    row_norms = np.linalg.norm(program.cones, axis=2)
    multipliers = np.zeros((2 * program.outer_masks.shape[0], len(y)))
    b, _, feasible = _three_layer._feasible_restricted_point(
        groups, y, 0.0, rows, row_norms, multipliers, beta=0.1, loss="squared", qp_tol=1e-9
    )
    assert feasible
    interior = _objective(program, groups.full_coef(), b, y, 0.1, "squared")
    coef, intercept = _three_layer._polished(groups, y, b, beta=0.1, loss="squared")
    groups.coef = coef
    polished = _objective(program, groups.full_coef(), intercept, y, 0.1, "squared")
    assert polished <= interior
    assert polished == pytest.approx(optimum.objective, rel=1e-10)
    _assert_feasible(program, groups.full_coef())


def test_the_polish_goes_on_from_a_crossed_row_on_its_face_while_no_higher(monkeypatch):
    # _polished_on: where Newton's point crosses a row that was not tight, the point cut back
    # to it is polished again on its own face (an active-set step), each face's point no
    # higher than the last, up to _POLISH_FACES faces
    program, y = _program(0, "squared")
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add([(0, 0, 0, 0)], np.ones((1, program.pieces.shape[2])))
    calls = []

    def faces_of(values, crossed):
        def newton_on_face(groups, coef, y, b, active, *, beta, loss):
            k = len(calls)
            calls.append((float(coef[0, 0]), b))
            if k >= len(values):
                return None
            return coef + 1.0, b + 1.0, values[k], crossed[k]

        return newton_on_face

    def polished(values, crossed):
        calls.clear()
        monkeypatch.setattr(_three_layer, "_newton_on_face", faces_of(values, crossed))
        return _three_layer._polished_on(groups, y, 0.0, [0], beta=0.1, loss="squared")

    # crossed twice, then a face's optimum: three faces, each from the last one's point and
    # intercept
    coef, b, value = polished([3.0, 2.0, 1.0, 0.5], [True, True, False, False])
    assert calls == [(1.0, 0.0), (2.0, 1.0), (3.0, 2.0)]
    assert value == 1.0 and coef[0, 0] == 4.0 and b == 3.0
    # a higher point on the next face: the last one stands
    coef, b, value = polished([3.0, 4.0], [True, True])
    assert calls == [(1.0, 0.0), (2.0, 1.0)] and value == 3.0 and coef[0, 0] == 2.0 and b == 1.0
    # crossing on every face: at most _POLISH_FACES of them
    polished([1.0] * 10, [True] * 10)
    assert len(calls) == _three_layer._POLISH_FACES
    # the first face fails: no polish
    assert polished([], []) is None


def test_the_polish_from_a_crossed_row_ends_at_the_optimum_of_the_face_that_holds_it():
    # from the optimum at beta=0.1 (seed 15), Newton's point on the face at beta=0.05 crosses a
    # first-layer row: cut back to it, 1.251344. _polished_on goes on, from that point and its
    # intercept, on the face that holds the row, to 1.247155: that face's optimum (Newton's
    # method from it neither lowers it nor crosses a row), with the row still at zero. (With
    # the first face's rows it ends at the cut point; on seed 0's optimum of before, with the
    # first face's intercept, it ended 1e-6 higher)
    program, y, optimum, groups = _optimum_groups(15)
    active = np.flatnonzero(np.linalg.norm(groups.coef, axis=1) > 0)
    options = dict(beta=0.05, loss="squared")
    start = groups.coef, y, optimum.intercept, active
    cut, cut_b, cut_value, crossed = _three_layer._newton_on_face(groups, *start, **options)
    assert crossed
    # (the next face, from the cut point and its intercept)
    _, _, next_value, _ = _three_layer._newton_on_face(groups, cut, y, cut_b, active, **options)
    coef, b, value = _three_layer._polished_on(groups, y, optimum.intercept, active, **options)
    assert value < cut_value * (1 - 1e-4) and value <= next_value * (1 + 1e-14)
    assert value == pytest.approx(
        _objective(program, groups.full_coef(coef), b, y, 0.05, "squared"), rel=1e-13
    )
    _, _, again, crossed_again = _three_layer._newton_on_face(groups, coef, y, b, active, **options)
    assert not crossed_again and again == pytest.approx(value, rel=1e-12)
    every_group = np.arange(len(groups))
    before, _ = groups.slacks(groups.coef, every_group)
    at_cut, allowed_at_cut = groups.slacks(cut, every_group)
    after, allowed = groups.slacks(coef, every_group)
    reached = (np.abs(at_cut) <= allowed_at_cut) & (before > 1e-3)
    assert reached.any() and np.all(np.abs(after[reached]) <= allowed[reached])
    _assert_feasible(program, groups.full_coef(coef))


def _sweep_program(k):
    """Program ``k`` of benchmarks/three_layer_sweep.py (its ``_program``, whose draws this
    repeats): the program, targets, solver options and ``tol``."""
    rng = np.random.default_rng(1000 + k)
    n = int(rng.choice([3, 4]))
    scale = float(rng.choice([1, 0.01, 100]))
    X = rng.standard_normal((n, 6)) * scale
    if rng.random() < 0.5:
        groups = rng.integers(0, 3, n)  # (drawn first, as there)
        y = rng.standard_normal(3)[groups]
    else:
        y = rng.standard_normal(n)
    fit_intercept = bool(rng.random() < 0.5)
    if fit_intercept:
        y = y - y.mean()
    beta = float(rng.choice([1e-3, 1e-2, 0.1])) * float(np.abs(y).max())
    tol = float(rng.choice([1e-7, 1e-9]))
    patches = extract_patches(X, resolve_geometry((2, 3), 2, 1, 6))
    formulation = ThreeLayerFormulation()
    program = formulation.program(patches, formulation.enumerate_gates(patches))
    return program, y, dict(beta=beta, loss="squared", fit_intercept=fit_intercept), tol


@pytest.mark.parametrize(
    "k, draws",
    [
        # 3 signals of 2x3 times 100, no intercept, tol=1e-9: Newton's point on the polish's
        # face crossed a second-layer row, and cut back there the solve stalled 3.3e-9 above
        # the optimum (its gap 5.1e-2 of the objective). Polished on from the cut point (the
        # row held on the next face), it certifies in 15 iterations
        (32, (3, False, 1e-9)),
        # 4 signals of 2x3 times 100, an intercept, tol=1e-7: the optimum has one group, the
        # interior point left others at 1e-4 of it and below. Neither the face of the groups
        # above 1e-5 of the largest nor that of all of them is the optimum's, and the solve
        # stalled outside the program, its network 2.4e-8 above the optimum (its gap 2.4e-4
        # of the objective); the face above the widest gap in the norms certifies it
        (39, (4, True, 1e-7)),
    ],
)
def test_sweep_programs_that_the_polish_certifies(k, draws):
    program, y, options, tol = _sweep_program(k)
    assert (len(y), options["fit_intercept"], tol) == draws  # (the sweep's draws)
    with threadpool_limits(1):  # (as the sweep solves them: the path follows BLAS's rounding)
        native = solve_three_layer(program, y, tol=tol, max_iter=200, **options)
    assert native.converged, native.status
    assert -1e-12 * native.objective <= native.duality_gap <= tol * native.objective
    _assert_feasible(program, native.coef)


def test_the_polish_of_a_working_set_at_zero_is_none():
    # no nonzero group, no face (face_coordinates cannot stack zero bases)
    program, y = _program(0, "squared")
    groups = _three_layer._Groups(program, fit_intercept=True)
    groups.add([(0, 0, 0, 0), (1, 1, 0, 1)])
    assert _three_layer._polished(groups, y, float(np.mean(y)), beta=0.1, loss="squared") is None


def test_the_refined_multipliers_are_clipped_at_zero():
    # any mu >= 0 gives a dual bound, a negative one none: the least-squares multipliers of
    # a point that is not optimal at the beta asked (the optimum at 0.1 refined at 0.3) are
    # negative on a tight row of seed 2 (-0.24), and clipped
    from sklearn_convexcnn._optimality import dual_point

    program, y, optimum, _ = _optimum_groups(2)
    v = dual_point("squared", program.fit_values(optimum.coef) + optimum.intercept, y, True)
    multipliers = np.zeros((2 * program.outer_masks.shape[0], len(y)))
    refined = _three_layer._refined_multipliers(program, optimum.coef, v, multipliers, 0.3)
    assert refined.min() >= 0.0
    assert not refined.any()  # (that row is the only tight one: zero, not |-0.24|)


@pytest.mark.parametrize("seed", [0, 2])
def test_the_refined_multipliers_of_a_branch_are_on_its_tight_rows_only(seed):
    # a branch with a nonzero group gets multipliers on its tight rows (|z| at most _POLISH_TIGHT of
    # its largest; complementary slackness: mu z = 0 at the optimum) and zero elsewhere; the
    # other branches keep theirs (here ones: any mu >= 0 is a bound). Seed 0's branches have
    # rows at 1e-5 to 1e-2 of their largest |z|, seed 2's a tight one
    program, y, optimum, _ = _optimum_groups(seed)
    v = y - program.fit_values(optimum.coef) - optimum.intercept
    n_outer = program.outer_masks.shape[0]
    multipliers = np.ones((2 * n_outer, len(y)))
    refined = _three_layer._refined_multipliers(program, optimum.coef, v, multipliers, 0.1)
    hidden = program.hidden_values(optimum.coef).reshape(2 * n_outer, -1)
    nonzero = np.linalg.norm(optimum.coef, axis=-1).any(axis=(0, 3)).reshape(-1)  # (sign, outer)
    assert 0 < nonzero.sum() < len(nonzero)
    for branch in np.flatnonzero(nonzero):
        z = np.abs(hidden[branch])
        assert not refined[branch, z > _three_layer._POLISH_TIGHT * z.max()].any()
    np.testing.assert_array_equal(refined[~nonzero], 1.0)


def test_a_certificate_that_cannot_close_stalls_at_the_most_exact_restricted_solves(
    monkeypatch,
):
    # priced without the second layer's multipliers the gap stays open once no group is left
    # to add: the restricted solves are made more exact (qp_tol down to 1e-12), and then the
    # solve stops as stalled, long before max_iter, rather than re-solving at 1e-12 until then
    program, y = _program(0, "squared")
    prices = _three_layer_rows.three_layer_prices
    monkeypatch.setattr(
        _three_layer,
        "three_layer_prices",
        lambda program, v, multipliers, **kw: prices(program, v, 0 * multipliers, **kw),
    )
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=30)
    stalled = solve_three_layer(program, y, **options)
    assert stalled.status == "stalled" and stalled.n_iter < 10


@pytest.mark.parametrize(
    "closing, status",
    [(0.5, "optimal"), (0.9, "stalled"), (0.999, "stalled")],
    ids=["closes", "creeps", "closes-at-rounding"],
)
def test_the_most_exact_restricted_solves_go_on_while_each_round_closes_the_gap(
    monkeypatch, closing, status
):
    # a bound that closes by a factor per call still stands when the restricted solves reach
    # qp_tol=1e-12 and run out of groups: at half a call (about 8x a round) the solve goes on
    # and is certified, where it stalled there (a sweep's program, 6.2e-2 above the optimum,
    # was certified two iterations later); at a tenth or 0.1 % a call (a fifth or 0.2 % a
    # round, where _EXACT_PROGRESS asks for half) it stalls as before, long before max_iter:
    # a bound that creeps would cost a restricted solve a round until then
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=60)
    optimum = solve_three_layer(program, y, **options)
    dual_objective = _three_layer._dual_objective
    calls = []

    def closing_bound(*args, **kwargs):
        calls.append(None)
        return dual_objective(*args, **kwargs) - 0.1 * optimum.objective * closing ** len(calls)

    monkeypatch.setattr(_three_layer, "_dual_objective", closing_bound)
    solution = solve_three_layer(program, y, **options)
    assert solution.status == status
    if status == "optimal":
        assert solution.n_iter > optimum.n_iter + 5
        assert solution.objective == pytest.approx(optimum.objective, rel=1e-8)
    else:
        assert solution.n_iter < 10


def _solved_with_a_creeping_bound(monkeypatch, network_above, max_iter):
    """The solve of ``_program(0)`` whose bound creeps (0.9 a call, which stalls in the test
    above) and whose network stands ``0.1 * network_above(k)`` of the optimum's objective above
    the point at the ``k``-th call (no polish: a polished point is its own network)."""
    program, y = _program(0, "squared")
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=max_iter)
    optimum = solve_three_layer(program, y, **options)
    dual_objective = _three_layer._dual_objective
    bounds, networks = [], []

    def creeping_bound(*args, **kwargs):
        bounds.append(None)
        return dual_objective(*args, **kwargs) - 0.1 * optimum.objective * 0.9 ** len(bounds)

    def network(program, coef, b, y, primal, **kwargs):
        networks.append(None)
        return primal + 0.1 * optimum.objective * network_above(len(networks))

    monkeypatch.setattr(_three_layer, "_dual_objective", creeping_bound)
    monkeypatch.setattr(_three_layer, "_realized", network)
    monkeypatch.setattr(_three_layer, "_polished", lambda *args, **kwargs: None)
    return solve_three_layer(program, y, **options)


def test_the_most_exact_restricted_solves_go_on_while_each_round_lowers_the_network(
    monkeypatch,
):
    # the bound creeps, but each point's network is lower than the last, by far more than the
    # target (halved a call): the rounds go on while they lower it (sweep program 74, whose
    # new groups lowered its network while its gap stood, stalled 3e-5 above the optimum, and
    # went on to 5e-7)
    solution = _solved_with_a_creeping_bound(monkeypatch, lambda k: 0.5**k, max_iter=60)
    # (it stalls once the network is lowered by no more than 1e-8 of the objective a round,
    # after 23 iterations: 48 where any lowering went on)
    assert solution.status == "stalled" and 20 <= solution.n_iter <= 30


def test_the_most_exact_restricted_solves_stall_on_a_network_that_creeps_down(monkeypatch):
    # as above, but the network is lowered by 3e-8 of the objective a call, just above the
    # target (1e-8 of it): every round lowers it by more than the target, and without a cap
    # the rounds went on to max_iter (a restricted solve each), where the code before
    # b0b04a7 stalled after 6 iterations
    solution = _solved_with_a_creeping_bound(monkeypatch, lambda k: 1 - 3e-7 * k, max_iter=200)
    assert solution.status == "stalled"
    assert solution.n_iter < 200


def test_the_most_exact_restricted_solves_stall_on_a_network_that_stays_uncertified(
    monkeypatch,
):
    # a point outside the program can sit below the bound (a negative gap) while its network
    # stays above it: what stands open is the network's gap, and where it does not close the
    # solve stalls, rather than re-solving at qp_tol=1e-12 until max_iter
    program, y = _program(0, "squared")
    dual_objective = _three_layer._dual_objective

    def above_the_point(*args, **kwargs):  # (a bound above the point: a negative gap)
        bound = dual_objective(*args, **kwargs)
        return bound + 1e-4 * abs(bound)

    def above_the_bound(program, coef, b, y, primal, **kwargs):  # (the network's objective)
        return 1.01 * primal

    monkeypatch.setattr(_three_layer, "_dual_objective", above_the_point)
    monkeypatch.setattr(_three_layer, "_realized", above_the_bound)
    monkeypatch.setattr(_three_layer, "_polished", lambda *args, **kwargs: None)
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=30)
    stalled = solve_three_layer(program, y, **options)
    assert stalled.status == "stalled" and stalled.n_iter < 10 and stalled.duality_gap < 0


def test_an_intercept_init_is_taken_at_the_datas_scale():
    # the solve runs at unit scale: a warm start's intercept is scaled in and its answer out
    # again. At max_iter=0 the answer is the first point: the empty network at that intercept.
    # Its bound is still the optimum's (beta is far above every price: the empty network at
    # the mean is optimal), from the residual centred as the intercept's dual constraint asks
    program, y = _program(0, "squared")
    options = dict(beta=1e4, loss="squared", fit_intercept=True, tol=1e-8, max_iter=0)
    first = solve_three_layer(program, 1000.0 * y, intercept_init=123.0, **options)
    assert first.intercept == pytest.approx(123.0, rel=1e-12) and not first.coef.any()
    assert first.objective == pytest.approx(0.5 * np.sum((1000.0 * y - 123.0) ** 2), rel=1e-12)
    optimum = 0.5 * np.sum((1000.0 * (y - np.mean(y))) ** 2)
    assert first.objective - first.duality_gap == pytest.approx(optimum, rel=1e-9)


def test_a_cold_start_begins_at_the_best_intercept_of_the_empty_network():
    # with beta far above every price the empty network is optimal, and the first point,
    # which has no group to solve for, is it only at the mean of y (the squared loss's best
    # intercept): certified at iteration 0, without a restricted solve
    program, y = _program(0, "squared")
    options = dict(beta=1e3, loss="squared", fit_intercept=True, tol=1e-8, max_iter=0)
    empty = solve_three_layer(program, 1000.0 * y, **options)
    assert empty.converged and empty.n_iter == 0 and not empty.coef.any()
    assert empty.intercept == pytest.approx(1000.0 * np.mean(y), rel=1e-12)


def test_inexact_restricted_multipliers_are_refined_to_certify(monkeypatch):
    # the interior point's multipliers satisfy the KKT conditions to its accuracy only (made
    # 1 % off here): once no group is left to add, the multipliers solved from the nonzero
    # groups' KKT equations certify the point to rounding, where the handed ones stall
    program, y = _program(2, "squared")
    solve = _three_layer._restricted_solve

    def inexact(groups, y, b, rows, multipliers, **kwargs):
        b = solve(groups, y, b, rows, multipliers, **kwargs)
        multipliers *= 1.01
        return b

    monkeypatch.setattr(_three_layer, "_restricted_solve", inexact)
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=50)
    solution = solve_three_layer(program, y, **options)
    assert solution.converged, solution.status
    assert solution.duality_gap <= 1e-8 * solution.objective


def test_a_stopped_solve_reports_the_gap_of_the_point_it_returns(monkeypatch):
    # its last point made worse (every group scaled by 3), the lowest point is returned, and
    # its gap to the best bound with it, not the last point's
    program, y = _program(0, "squared")
    calls = _second_restricted_point_made_worse(monkeypatch)
    dual_objective, duals = _three_layer._dual_objective, []

    def recorded(*args, **kwargs):
        duals.append(dual_objective(*args, **kwargs))
        return duals[-1]

    monkeypatch.setattr(_three_layer, "_dual_objective", recorded)
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=2)
    stopped = solve_three_layer(program, y, **options)
    assert len(calls) == 2 and not stopped.converged
    _, y_scale, _ = _cvxpy.unit_scales(program.pieces, y, 0.1, "squared")
    expected = stopped.objective - y_scale**2 * max(duals)
    assert stopped.duality_gap == pytest.approx(expected, rel=1e-9)


def test_a_native_fit_is_attained_by_its_network_and_not_below_clarabels_bound():
    # an audit: zeroing a restricted solve's residue moved a branch 1/40,000 the size of the
    # largest 8e-7 across a kept second-layer row, and the point certified before the polish
    # was returned: a gap of -3.8e-7 of the objective, 7.3e-7 below Clarabel's lower bound,
    # and a network 7.6e-7 above it. The polish now leaves such residue off its face, and
    # the polished point is returned
    from sklearn_convexcnn import ConvexCNNRegressor

    rng = np.random.default_rng(1)
    rng.standard_normal(49)  # (the audit's draws before these)
    X, y = rng.standard_normal((6, 18)), rng.standard_normal(6)
    params = dict(
        architecture="three_layer", input_shape=(3, 3, 2), kernel_size=2, beta=0.1,
        n_patterns=16, random_state=0,
    )  # fmt: skip
    native = ConvexCNNRegressor(solver="native", **params).fit(X, y)
    clarabel = ConvexCNNRegressor(solver="clarabel", **params).fit(X, y)
    assert -1e-12 * native.objective_ <= native.duality_gap_ <= 1e-7 * native.objective_
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-9)
    assert native.objective_ >= clarabel.lower_bound_


def test_the_polish_keeps_an_optimums_small_groups_at_a_tiny_beta():
    # a review: at an effective beta of 6e-6, groups of the optimum are below 1e-5 of the
    # largest. The face without them (383a259) polished to a point 1.1e-4 above the face with
    # them, and the stalled solve returned its unpolished point instead, 5.3e-7 of a branch's
    # largest |z| outside a second-layer row. Both faces are tried; the lower point stands
    rng = np.random.default_rng(1134)  # (the review's draws, in its order)
    rng.random(2), rng.integers(7, 11), rng.integers(5), rng.choice(4)
    X = rng.standard_normal((int(rng.choice([8, 12, 16])), 7))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 7))
    formulation = ThreeLayerFormulation()
    gates = formulation.sample_gates(patches, 5, np.random.RandomState(134))
    program = formulation.program(patches, gates)
    big, tiny = (
        np.maximum(np.maximum(X @ rng.standard_normal((7, 3)), 0) @ rng.standard_normal(3), 0)
        for _ in range(2)
    )
    y = big / np.abs(big).max() + 10.0 ** -rng.integers(4, 8) * tiny / np.abs(tiny).max()
    beta = rng.choice([1e-3, 1e-5, 1e-7, 1e-9])
    y = (y - y.mean()) * rng.choice([1.0, 100.0])
    beta *= np.abs(y).max()
    assert len(y) == 12 and beta == pytest.approx(6.415170375051715e-06, rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = solve_three_layer(
            program, y, beta=beta, loss="squared", fit_intercept=True, tol=1e-7, max_iter=200
        )
    _assert_feasible(program, native.coef)


def _planted_program(seed):
    """3 signals of 2x3 times 100, every pattern, and the fit of three random groups as the
    target (a sweep's draws): an effective beta of 1e-5 to 1e-4, which the interior point
    meets on the small branches' rows only to its absolute accuracy."""
    rng = np.random.default_rng(seed)
    X = 100.0 * rng.standard_normal((3, 6))
    patches = extract_patches(X, resolve_geometry((2, 3), 2, 1, 6))
    formulation = ThreeLayerFormulation()
    program = formulation.program(patches, formulation.enumerate_gates(patches))
    rng.random()  # (the sweep's draw of the kind of target)
    coef = np.zeros((2, 2, *program.outer_masks.shape[:1], *program.pieces.shape[::2]))
    for _ in range(3):
        group = tuple(rng.integers(size) for size in coef.shape[:4])
        coef[group] = rng.standard_normal(4)
    return program, program.fit_values(coef)


def _converged_planted_solve(seed, fraction, fit_intercept, tol=1e-7):
    """:func:`_planted_program` solved natively at ``beta`` the ``fraction`` of its largest
    target, checked converged and inside its program: the program, targets, options and
    solution."""
    program, y = _planted_program(seed)
    options = dict(
        beta=fraction * np.abs(y).max(), loss="squared", fit_intercept=fit_intercept, tol=tol,
        max_iter=200,
    )  # fmt: skip
    native = solve_three_layer(program, y, **options)
    assert native.converged, native.status
    _assert_feasible(program, native.coef)
    return program, y, options, native


def test_a_point_certified_outside_its_program_gives_way_to_one_inside_it():
    # the restricted point certified at -8.1e-9 of its objective against tol=1e-9, below the
    # dual bound: a branch's kept second-layer row crossed by 8.9e-8 of its largest |z| as
    # the interior point's residue was dropped, its network 1.3e-8 of the objective above the
    # bound. The solve went on, and stalled at a point inside the program, 1.3e-8 above the
    # bound too; every branch's multipliers lowered (those with groups too) certify it
    program, y, options, native = _converged_planted_solve(7020, 1e-2, False, tol=1e-9)
    assert 0.0 <= native.duality_gap <= 1e-9 * native.objective
    reference = _every_row(program, y, dict(options, max_iter=500))
    assert native.objective == pytest.approx(reference.objective, rel=1e-8)


def test_a_point_whose_dual_vector_is_too_far_off_is_certified_by_the_conic_dual():
    # an effective beta of 1e-4: the point was optimal (5.6e-12 below Clarabel's objective on
    # every row) with its fit 4e-8 off, and so v = y - f 4e-6 of ||v|| off, enough that no
    # multipliers priced the zero groups of 4 branches below beta (1.2e-6 above it at best):
    # the solve stalled at 2.4e-6 of its objective. The dual vector and those branches'
    # multipliers by one conic program (_conic_dual) certify it
    program, y, options, native = _converged_planted_solve(7041, 0.01, False)
    assert 0.0 <= native.duality_gap <= 1e-7 * native.objective
    assert native.objective == pytest.approx(
        _objective(program, native.coef, native.intercept, y, options["beta"], "squared"),
        rel=1e-12,
    )
    reference = _every_row(program, y, dict(options, tol=1e-10, max_iter=500))
    assert native.objective - native.duality_gap <= reference.objective * (1 + 1e-12)
    assert native.objective <= reference.objective * (1 + 1e-7)


def test_a_stalled_solve_returns_its_best_network_not_its_lowest_objective(monkeypatch):
    # at a tiny effective beta the solve stalls (at 2.4e-7 of its objective); its lowest
    # objective was a point outside the program (second-layer rows crossed), whose network was
    # higher than a later point's inside it: that later point is the answer. (Programs 7062,
    # whose QPs were not centred, and 7041 at beta=1e-2 max|y|, whose dual vector was too far
    # off for any multipliers, no longer stall; nor does this one where its groups are priced
    # at the fit that the multipliers belong to, before the residue is zeroed: priced after,
    # as then, it stalls as it did)
    offer, offers = _three_layer._Best.offer, []

    def recording(self, coef, b, primal, dual, realized=None):
        offers.append((primal, primal if realized is None else realized, dual))
        return offer(self, coef, b, primal, dual, realized)

    restricted_solve = _three_layer._restricted_solve

    def priced_without_residue(groups, *args, **kwargs):
        b = restricted_solve(groups, *args, **kwargs)
        groups.restricted_fit = None  # (priced at the fit of groups.coef)
        return b

    monkeypatch.setattr(_three_layer._Best, "offer", recording)
    monkeypatch.setattr(_three_layer, "_restricted_solve", priced_without_residue)
    program, y = _planted_program(7068)
    beta = 1e-3 * np.abs(y).max()
    options = dict(beta=beta, loss="squared", fit_intercept=False, tol=1e-7, max_iter=200)
    native = solve_three_layer(program, y, **options)
    assert native.status == "stalled"
    primal, realized, dual = np.array(offers).T
    lowest, best = np.argmin(primal), np.argmin(realized)
    assert realized[lowest] > realized[best]  # (the premise)
    # the point of the lowest network is returned (the solve runs at unit scale: objectives
    # are compared as ratios to the best bound)
    bound = native.objective - native.duality_gap
    assert native.objective / bound == pytest.approx(primal[best] / dual.max(), rel=1e-12)
    assert primal[lowest] < primal[best] * (1 - 1e-11)
    _assert_feasible(program, native.coef)
    assert 0.0 <= native.duality_gap


def test_the_polish_tries_each_distinct_face_once_and_returns_the_lowest_point(monkeypatch):
    # _polished: the faces of the groups above _POLISH_ZERO of the largest, of every nonzero
    # group, and above the widest gaps (10x or more) in the norms, each once (a Newton solve
    # each); the lowest point stands, whichever face it is on
    norms = np.array([1.0, 0.5, 2e-2, 3e-6, 0.0])  # (gaps 2, 25, 6.7e3)
    groups = types.SimpleNamespace(coef=norms[:, None] * np.array([0.6, 0.8]))
    values = {(0, 1, 2): 2.0, (0, 1, 2, 3): 1.0, (0, 1): 3.0}
    tried = []

    def polished_on(groups, y, b, active, *, beta, loss):
        tried.append(tuple(active.tolist()))
        return f"coef on {tried[-1]}", len(tried), values[tried[-1]]

    monkeypatch.setattr(_three_layer, "_polished_on", polished_on)
    polished = _three_layer._polished(groups, None, 0.0, beta=0.1, loss="squared")
    assert tried == [(0, 1, 2), (0, 1, 2, 3), (0, 1)]
    assert polished == ("coef on (0, 1, 2, 3)", 2)
    values[(0, 1)] = 0.5  # (the gap face's point is the lowest)
    tried.clear()
    assert _three_layer._polished(groups, None, 0.0, beta=0.1, loss="squared")[1] == 3


def test_the_polish_on_the_widest_gap_in_the_norms_certifies_a_planted_program():
    # the program above: polished also on the faces above the widest gaps in the groups'
    # norms (as the two-layer polish is), it certifies in 5 iterations, at an objective
    # 1.2e-7 below Clarabel's on every row (tol=1e-8; its point is the one off here)
    program, y, options, native = _converged_planted_solve(7062, 0.1, True)
    assert -1e-12 * native.objective <= native.duality_gap <= 1e-7 * native.objective
    reference = _every_row(program, y, dict(options, tol=1e-8, max_iter=500))
    assert native.objective <= reference.objective * (1 + 1e-7)


def test_the_best_point_is_that_of_the_lowest_network():
    # a point outside the program can have the lower objective and the higher network
    best = _three_layer._Best()
    best.offer("inside", 0.0, 2.0, 1.0)
    best.offer("outside", 0.0, 1.5, 1.2, realized=2.5)
    assert best.point == ("inside", 0.0, 2.0) and best.dual == 1.2
    best.offer("outside, lower", 0.0, 1.4, 1.1, realized=1.9)
    assert best.point == ("outside, lower", 0.0, 1.4) and best.dual == 1.2


def test_a_point_certifies_only_where_its_network_does():
    # benchmarks/three_layer_exact.py's (3, 3, 0.2) was certified at 7.9e-8 of its objective
    # against tol=1e-7 at a point 2.3e-7 below the optimum, outside a second-layer row; its
    # network was 3.5e-7 above the bound. Now the solve goes on, and certifies to rounding
    program, y = _tiny_exact_program(3)
    options = dict(beta=0.2, loss="squared", fit_intercept=False, tol=1e-7, max_iter=100)
    native = solve_three_layer(program, y, **options)
    assert native.converged
    # (to rounding: -1.9e-16 of the objective; the certificate of before stood 2.3e-7 below)
    assert -1e-14 * native.objective <= native.duality_gap <= 1e-7 * native.objective
    reference = _every_row(program, y, dict(options, tol=1e-9, max_iter=500))
    assert native.objective == pytest.approx(reference.objective, rel=1e-8)
    _assert_feasible(program, native.coef)
