"""The restricted problem by Newton's method over faces (``_solvers/_faces.py``).

Checked against CVXPY on the restricted problem itself (group lasso with cone rows), from cold,
warm and infeasible starts, on degenerate rows; and the native solver is checked to reach the
same optimum when every face solve fails and the interior point takes over.
"""

import types
import warnings

import cvxpy as cp
import numpy as np
import pytest
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor, _optimality
from sklearn_convexcnn._losses import dual_vector, loss_value
from sklearn_convexcnn._optimality import nnls_projection
from sklearn_convexcnn._solvers import _faces, _native
from sklearn_convexcnn._solvers._faces import (
    _TIGHT,
    FacesFailed,
    _face_system,
    _Faces,
    _zero_negative_slacks,
    onto_kept_rows,
    solve_on_faces,
)

from ._cones import (
    ROUNDING_RTOL,
    SOLVER_RTOL,
    assert_in_cone,
    assert_nonnegative,
    assert_tight,
    relative_slacks,
)


def _restricted(seed, loss, fit_intercept, n=40, n_groups=6, h=4, n_rows=8):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n_groups * h))
    if fit_intercept:
        M = np.hstack([M, np.ones((n, 1))])
    y = M[:, :h] @ rng.standard_normal(h) + 0.3 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    # every cone contains a random direction, so no cone is {0}
    kept_rows = []
    for _ in range(n_groups):
        inside = rng.standard_normal(h)
        rows = rng.standard_normal((n_rows, h))
        rows[rows @ inside < 0] *= -1
        kept_rows.append(rows)
    beta = 0.2 * np.max([np.linalg.norm(M[:, j * h : (j + 1) * h].T @ y) for j in range(n_groups)])
    return M, y, kept_rows, beta


def _cvxpy_optimum(M, y, kept_rows, beta, loss, fit_intercept):
    h = kept_rows[0].shape[1]
    coef = [cp.Variable(h) for _ in kept_rows]
    f = sum(M[:, j * h : (j + 1) * h] @ c for j, c in enumerate(coef))
    if fit_intercept:
        f = f + cp.Variable()
    if loss == "squared":
        data = 0.5 * cp.sum_squares(f - y)
    else:
        data = cp.sum(cp.logistic(-cp.multiply(y, f)))
    problem = cp.Problem(
        cp.Minimize(data + beta * sum(cp.norm(c) for c in coef)),
        [rows @ c >= 0 for rows, c in zip(kept_rows, coef, strict=True)],
    )
    problem.solve(solver="CLARABEL")
    return problem.value


def _check_kkt_point(M, y, kept_rows, beta, loss, coef, b):
    """Feasible, zero groups priced at most beta, nonzero groups stationary in their cone."""
    h = kept_rows[0].shape[1]
    f = M[:, : coef.size] @ coef.ravel() + b
    v = dual_vector(loss, f, y)
    for j, rows in enumerate(kept_rows):
        correlation = M[:, j * h : (j + 1) * h].T @ v
        norm = np.linalg.norm(coef[j])
        if norm == 0:
            projection, _ = nnls_projection(rows, correlation)
            assert np.linalg.norm(projection) <= beta * (1 + 1e-7)
            continue
        # the face method's point lies on a face: its tight rows at zero slack to rounding.
        # 1e-14, tighter than ROUNDING_RTOL: the check asked 1e-14 of the largest row (the
        # points meet it, the worst relative slack measured is 0)
        assert_in_cone(rows, coef[j], rtol=1e-14, what=f"group {j}")
        # -gradient = correlation - beta u must be in the normal cone of the active rows (the
        # rows the face method itself counts as tight)
        active = relative_slacks(rows, coef[j]) <= _TIGHT
        descent, _ = nnls_projection(rows[active], correlation - beta * coef[j] / norm)
        assert np.linalg.norm(descent) <= 1e-6 * beta


def _objective(M, y, kept_rows, beta, loss, coef, b):
    f = M[:, : coef.size] @ coef.ravel() + b
    return loss_value(loss, f, y) + beta * np.linalg.norm(coef, axis=1).sum()


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_face_system_is_the_objectives_derivatives_on_the_face(loss, fit_intercept):
    """Gradient and Hessian in the face's coordinates match central differences of the
    objective along the face: nonzero groups move in the null space of their tight rows."""
    M, y, kept_rows, beta = _restricted(3, loss, fit_intercept)
    rng = np.random.default_rng(3)
    h, n_groups = kept_rows[0].shape[1], len(kept_rows)
    coef = rng.standard_normal((n_groups, h))
    coef[[1, 4]] = 0.0  # two groups off the face
    counts = {0: 1, 2: 0, 3: 2, 5: 3}  # tight rows of the nonzero groups
    for j, tight_count in counts.items():
        # rows at zero slack at coef[j], and slack rows
        rows = kept_rows[j]
        rows[rows @ coef[j] < 0] *= -1
        rows[:tight_count] -= np.outer(rows[:tight_count] @ coef[j], coef[j]) / (coef[j] @ coef[j])
    faces = _Faces(
        M, M.T @ M if loss == "squared" else None, y, kept_rows,
        beta=beta, loss=loss, fit_intercept=fit_intercept, kkt_tol=1e-9,
    )  # fmt: skip
    b = 0.3 if fit_intercept else 0.0
    tight = faces.tight_rows(coef)
    norms = np.linalg.norm(coef, axis=1)
    active = np.flatnonzero(norms)
    assert {j: int(tight[j].sum()) for j in active} == counts
    f = faces.image(coef, b)  # (M x, or M^T M x for the squared loss)
    if loss == "logistic":
        np.testing.assert_allclose(f, M[:, : coef.size] @ coef.ravel() + b)
    else:
        np.testing.assert_allclose(f, M.T @ (M[:, : coef.size] @ coef.ravel() + b))
    gradient, hessian, padded, valid, _ = _face_system(faces, coef, b, f, tight, active, norms)
    assert hessian.shape == (len(gradient), len(gradient))
    # exactly symmetric: the steps' projections (and a badly scaled fit's certificate, 3e-10
    # against 3.9e-6 of the objective in test_solver_failures) rely on it
    np.testing.assert_array_equal(hessian, hessian.T)
    assert valid.sum() == len(active) * h - sum(counts.values())

    def objective(t):
        step = np.zeros(valid.size)
        step[valid] = t[: valid.sum()]
        moved = coef.copy()
        moved[active] += np.einsum("aik,ak->ai", padded, step.reshape(len(active), h))
        return _objective(M, y, kept_rows, beta, loss, moved, b + (t[-1] if fit_intercept else 0))

    def numerical_gradient(t, eps=1e-5):
        steps = eps * np.eye(len(t))
        return np.array([(objective(t + e) - objective(t - e)) / (2 * eps) for e in steps])

    origin = np.zeros(len(gradient))
    np.testing.assert_allclose(gradient, numerical_gradient(origin), rtol=1e-6, atol=1e-6)
    eps = 1e-4
    columns = [
        (numerical_gradient(origin + eps * e) - numerical_gradient(origin - eps * e)) / (2 * eps)
        for e in np.eye(len(gradient))
    ]
    np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-4, atol=1e-4)
    # the tight rows stay tight along the face
    for i, j in enumerate(active):
        basis = padded[i][:, valid.reshape(len(active), h)[i]]
        assert_tight(kept_rows[j][tight[j]], basis, rtol=ROUNDING_RTOL, what=f"group {j}")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_faces_reach_the_restricted_optimum_from_zero(seed, loss, fit_intercept):
    M, y, kept_rows, beta = _restricted(seed, loss, fit_intercept)
    gram = M.T @ M if loss == "squared" else None
    start = np.zeros((len(kept_rows), kept_rows[0].shape[1]))
    coef, b = solve_on_faces(
        M, gram, y, start, 0.0, kept_rows, beta=beta, loss=loss, fit_intercept=fit_intercept,
        kkt_tol=1e-9,
    )  # fmt: skip
    assert np.count_nonzero(np.linalg.norm(coef, axis=1)) >= 1
    if not fit_intercept:
        assert b == 0.0
    _check_kkt_point(M, y, kept_rows, beta, loss, coef, b)
    reference = _cvxpy_optimum(M, y, kept_rows, beta, loss, fit_intercept)
    assert _objective(M, y, kept_rows, beta, loss, coef, b) == pytest.approx(reference, rel=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
def test_faces_start_from_an_infeasible_point(seed):
    # after new rows are added, the previous solution violates them: it is projected first
    M, y, kept_rows, beta = _restricted(seed, "squared", True)
    rng = np.random.default_rng(seed + 10)
    start = rng.standard_normal((len(kept_rows), kept_rows[0].shape[1]))
    assert any(np.min(rows @ c) < 0 for rows, c in zip(kept_rows, start, strict=True))
    coef, b = solve_on_faces(
        M, M.T @ M, y, start, 3.0, kept_rows, beta=beta, loss="squared", fit_intercept=True,
        kkt_tol=1e-9,
    )  # fmt: skip
    _check_kkt_point(M, y, kept_rows, beta, "squared", coef, b)
    reference = _cvxpy_optimum(M, y, kept_rows, beta, "squared", True)
    assert _objective(M, y, kept_rows, beta, "squared", coef, b) == pytest.approx(
        reference, rel=1e-7
    )


@pytest.mark.parametrize("gram", [None, np.eye(2)])
def test_faces_release_a_row_wherever_the_descent_exceeds_kkt_tol(gram):
    # solve_on_faces: a nonzero group leaves a tight row wherever the projection of its
    # negative gradient onto the tangent cone is above beta * kkt_tol. With M = I the optimum
    # y (1 - beta / ||y||) is inside the row c_2 >= 0 by 9.5e-7; from the start (1.9, 0), on
    # the row, the descent is 1e-6 = 10 beta * kkt_tol: the row is released and the optimum
    # reached (at a KKT point to kkt_tol, as the contract says, not to 100 times it)
    M, y, beta = np.eye(2), np.array([2.0, 1e-6]), 0.1
    coef, _ = solve_on_faces(
        M, gram, y, np.array([[1.9, 0.0]]), 0.0, [np.array([[0.0, 1.0]])], beta=beta,
        loss="squared", fit_intercept=False, kkt_tol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(coef[0], y * (1 - beta / np.linalg.norm(y)), rtol=1e-12)


def test_faces_handle_duplicate_and_dependent_rows():
    # digits' cones repeat rows (equal patches) and have rows that vanish on the same face
    # as others without being blocked on: a descent direction must not cross them
    M, y, kept_rows, beta = _restricted(3, "squared", True, n_rows=6)
    degenerate = []
    for rows in kept_rows:
        combination = rows[0] + 0.5 * rows[1]  # zero wherever rows 0 and 1 are
        degenerate.append(np.vstack([rows, rows[:3], combination, np.zeros(rows.shape[1])]))
    coef, b = solve_on_faces(
        M, M.T @ M, y, np.zeros((len(kept_rows), kept_rows[0].shape[1])), 0.0, degenerate,
        beta=beta, loss="squared", fit_intercept=True, kkt_tol=1e-9,
    )  # fmt: skip
    _check_kkt_point(M, y, degenerate, beta, "squared", coef, b)
    reference = _cvxpy_optimum(M, y, degenerate, beta, "squared", True)
    assert _objective(M, y, degenerate, beta, "squared", coef, b) == pytest.approx(
        reference, rel=1e-7
    )


def test_faces_let_a_group_leave_through_zero():
    # started with every group nonzero at a large beta, most must shrink to exactly zero
    M, y, kept_rows, beta = _restricted(4, "squared", True)
    beta *= 3
    start = np.stack([nnls_projection(rows, np.ones(rows.shape[1]))[0] for rows in kept_rows])
    start[~np.any(start, axis=1)] = 0.0
    coef, b = solve_on_faces(
        M, M.T @ M, y, start, 0.0, kept_rows, beta=beta, loss="squared", fit_intercept=True,
        kkt_tol=1e-9,
    )  # fmt: skip
    zero = ~np.any(coef, axis=1)
    assert zero.sum() > np.sum(~np.any(start, axis=1))
    _check_kkt_point(M, y, kept_rows, beta, "squared", coef, b)
    reference = _cvxpy_optimum(M, y, kept_rows, beta, "squared", True)
    assert _objective(M, y, kept_rows, beta, "squared", coef, b) == pytest.approx(
        reference, rel=1e-7
    )


def test_faces_zero_a_group_whose_norm_underflows():
    # a digits class left a group at 1e-181 after a step: its squares underflow, so its norm
    # is 0 while its entries are not, and the descent's beta * c / ||c|| was NaN
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    start = np.zeros((len(kept_rows), kept_rows[0].shape[1]))
    inside = nnls_projection(kept_rows[1], np.ones(kept_rows[1].shape[1]))[0]
    start[1] = 1e-181 * inside / np.abs(inside).max()
    assert np.any(start[1]) and np.linalg.norm(start[1]) == 0.0
    coef, b = solve_on_faces(
        M, M.T @ M, y, start, 0.0, kept_rows, beta=beta, loss="squared", fit_intercept=True,
        kkt_tol=1e-9,
    )  # fmt: skip
    norms = np.linalg.norm(coef, axis=1)
    assert np.all(np.any(coef, axis=1) == (norms > 0))
    _check_kkt_point(M, y, kept_rows, beta, "squared", coef, b)
    reference = _cvxpy_optimum(M, y, kept_rows, beta, "squared", True)
    assert _objective(M, y, kept_rows, beta, "squared", coef, b) == pytest.approx(
        reference, rel=1e-7
    )


def test_faces_fail_loudly_when_out_of_changes():
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    start = np.zeros((len(kept_rows), kept_rows[0].shape[1]))
    with pytest.raises(FacesFailed, match="the face changed 1 times"):
        solve_on_faces(
            M, M.T @ M, y, start, 0.0, kept_rows, beta=beta, loss="squared", fit_intercept=True,
            kkt_tol=1e-9, max_changes=1,
        )  # fmt: skip


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_native_solver_falls_back_to_the_interior_point(monkeypatch, loss):
    # the interior-point path must stay exact on its own: it takes over wherever faces fail
    from .test_native_solver import _beta, _problem

    patches, gates, y, formulation = _problem(0, loss)
    operator = formulation.operator(patches, gates)
    beta = _beta(formulation.program(patches, gates), loss, y, True)
    options = dict(beta=beta, loss=loss, fit_intercept=True, tol=1e-9, max_iter=200)
    with_faces = _native.solve_native(operator, y, **options)

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise FacesFailed("forced")

    monkeypatch.setattr(_native, "solve_on_faces", failing)
    without = _native.solve_native(operator, y, **options)
    assert calls
    assert with_faces.converged and without.converged
    assert without.objective == pytest.approx(with_faces.objective, rel=1e-8)
    assert without.duality_gap <= 1e-9 * without.objective


def test_descent_does_not_cross_dependent_rows_at_zero_slack():
    # At c = e3 the rows e1 and e2 are tight (blocked on) and e1 - e2 is at zero slack only
    # because of them. The negative gradient (1, 2, 0) lies in the tangent cone of the first
    # two but crosses the third: the descent direction must respect all three.
    from sklearn_convexcnn._solvers._faces import _descent, _Faces

    beta = 0.5
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, -1.0, 0.0]])
    y = np.array([1.0, 2.0, 1.0 + beta])  # -gradient = y - c - beta e3 = (1, 2, 0)
    coef = np.array([[0.0, 0.0, 1.0]])
    faces = _Faces(np.eye(3), np.eye(3), y, [rows], beta=beta, loss="squared",
                   fit_intercept=False, kkt_tol=1e-9)  # fmt: skip
    tight = faces.tight_rows(coef)
    tight[0][2] = False  # as left by a step that blocked on rows 0 and 1 only
    direction = _descent(faces, coef, y - coef[0], tight, faces.rounding(coef, 0.0))
    assert direction is not None
    assert_in_cone(rows, direction[0], rtol=ROUNDING_RTOL)
    np.testing.assert_allclose(direction[0], [1.5, 1.5, 0.0])


def test_crossing_finds_the_group_a_step_takes_through_zero():
    from sklearn_convexcnn._solvers._faces import _crossing

    coef = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    dcoef = np.array([[-2.0, -2.0], [-1.0, 0.5], [0.0, 0.0]])  # group 0 hits zero at 0.5
    active = np.array([0, 1])
    group, at = _crossing(coef, dcoef, active, 1.0)
    assert (group, at) == (0, pytest.approx(0.5))
    assert _crossing(coef, dcoef, active, 0.4) is None  # not within the step
    assert _crossing(coef[1:], dcoef[1:], np.array([0]), 1.0) is None  # passes far from zero


def test_blocked_steps_minimise_the_model_on_the_smaller_face():
    # After rows are added, the reused factorization must give the exact minimizer of the same
    # quadratic model on the face the rows leave: -Z (Z^T K Z)^{-1} Z^T g, Z its null space.
    from sklearn_convexcnn._solvers._faces import _BlockedSteps
    from sklearn_convexcnn._solvers._linalg import null_space

    rng = np.random.default_rng(0)
    h, active = 3, np.array([0, 1])
    root = rng.standard_normal((6, 6))
    K = root @ root.T + 0.1 * np.eye(6)
    g = rng.standard_normal(6)
    blocked = _BlockedSteps(K, active, np.stack([np.eye(h)] * 2), np.ones(6, dtype=bool))
    np.testing.assert_allclose(blocked.step(g), -np.linalg.solve(K, g))
    rows = [(0, rng.standard_normal(h)), (1, rng.standard_normal(h)), (0, rng.standard_normal(h))]
    A = np.zeros((0, 6))
    for group, row in rows:
        blocked.add_row(group, row, h)
        added = np.zeros(6)
        added[group * h : (group + 1) * h] = row
        A = np.vstack([A, added])
        Z = null_space(A, 6)
        expected = -Z @ np.linalg.solve(Z.T @ K @ Z, Z.T @ g)
        step = blocked.step(g)
        np.testing.assert_allclose(step, expected, atol=1e-12)
        assert_tight(A, step, rtol=ROUNDING_RTOL)


@pytest.mark.parametrize("seed", range(3))
def test_steps_that_rows_block_do_not_count_against_newtons_max_iter(seed):
    # Counted, 100 iterations ran out amid 100 rows met one after the other (4x4 filters on
    # digits), before Newton's method reached the face's optimum: the face changed 60 times
    # and the interior point took over. Here one iteration is allowed and several rows block.
    M, y, kept_rows, beta = _restricted(seed, "squared", True)
    start = onto_kept_rows(kept_rows, np.random.default_rng(seed).standard_normal((6, 4)))
    ends = []
    for max_iter in (1, 100):
        faces = _Faces(M, M.T @ M, y, kept_rows, beta=beta, loss="squared", fit_intercept=True,
                       kkt_tol=1e-9)  # fmt: skip
        tight = faces.tight_rows(start)
        n_tight = np.count_nonzero(faces.tight)
        coef, b = _faces._newton(faces, start.copy(), 0.0, tight, max_iter=max_iter)
        ends.append((coef, b, faces.tight.copy()))
    assert np.count_nonzero(ends[0][2]) - n_tight >= 5  # (rows that blocked a step)
    np.testing.assert_array_equal(ends[0][2], ends[1][2])
    np.testing.assert_allclose(ends[0][0], ends[1][0], rtol=1e-12, atol=1e-14)
    assert ends[0][1] == pytest.approx(ends[1][1], rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_blocked_steps_keep_added_rows_tight_on_a_singular_hessian(seed):
    # Two groups with the same fit make the face's Hessian singular: moving weight from one to
    # the other leaves the loss and the sum of norms unchanged (found by test_fuzz on 0/1
    # images). The Schur complement A K^{-1} A^T then had a condition of 1e14, a truncated
    # least-squares solve let the added rows drift to slacks of -0.2 ||c||, and the face
    # method returned points outside the cone.
    from sklearn_convexcnn._solvers._faces import _BlockedSteps

    rng = np.random.default_rng(seed)
    n, h, beta = 6, 5, 1e-3
    M = rng.standard_normal((n, h))
    unit = rng.standard_normal(h)
    unit /= np.linalg.norm(unit)
    gram = M.T @ M

    def norm_curvature(size):
        return beta / size * (np.eye(h) - np.outer(unit, unit))

    K = np.block([[gram + norm_curvature(2.0), gram], [gram, gram + norm_curvature(0.5)]])
    assert np.linalg.norm(K @ np.concatenate([unit, -unit])) < 1e-12 * np.linalg.norm(K)
    g = K @ rng.standard_normal(2 * h)
    blocked = _BlockedSteps(K, np.array([0, 1]), np.stack([np.eye(h)] * 2), np.ones(2 * h, bool))
    A = np.zeros((4, 2 * h))
    for k, row in enumerate(rng.standard_normal((4, h))):
        blocked.add_row(k % 2, row, h)
        A[k, (k % 2) * h : (k % 2 + 1) * h] = row
    step = blocked.step(g)
    assert g @ step < 0
    # not to rounding: the Hessian is singular and the step goes through a Schur complement of
    # condition 1e14. 1e-10 is the check's 1e-9 of max|A| max|step|, made relative to the
    # rows' and the step's norms (at most sqrt(5 * 10) times those) without loosening it
    assert_tight(A, step, rtol=1e-10)


def test_cone_checks_fail_on_violated_points():
    """The shared checks of ``tests/_cones.py`` fail where they must, scale-free, and name the
    row: a row at -2e-9 relative slack passes the solver's tolerance only when loosened."""
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    unit = np.array([1.0, 0.0])
    # row 1 of the scaled point at relative slack -2e-9 (the point is of norm ~1 + 2e-18)
    outside = np.array([1.0, -2e-9])
    for scale in (1e-6, 1.0, 1e6):
        assert_in_cone(scale * rows, scale * unit, rtol=ROUNDING_RTOL)
        with pytest.raises(AssertionError, match=r"group 3: row 1 has relative slack -2\.000e-09"):
            assert_in_cone(scale * rows, scale * outside, rtol=SOLVER_RTOL, what="group 3")
        assert_in_cone(scale * rows, scale * outside, rtol=1e-8)
    np.testing.assert_allclose(relative_slacks(rows, outside), [1.0, -2e-9, (1 - 2e-9) / 2**0.5])
    assert np.all(relative_slacks(rows, np.zeros(2)) == 0.0)  # the origin is in every cone
    # the projection of a polar vector, at rounding's size: relative to the input's norm
    residue = np.array([-1e-15, 1e-16])
    with pytest.raises(AssertionError, match="row 0 has relative slack"):
        assert_in_cone(rows, residue, rtol=ROUNDING_RTOL)
    assert_in_cone(rows, residue, rtol=ROUNDING_RTOL, size=1.0)
    # tight rows: |rows @ d| small relative to ||row|| ||d||, per column of a basis
    basis = np.array([[0.0, 0.0], [1.0, 2.0]])
    assert_tight(rows[:1], basis, rtol=ROUNDING_RTOL)
    with pytest.raises(AssertionError, match=r"row 0 \(point 1\) has relative slack 1\.000e-10"):
        assert_tight(rows[:1], basis + [[0.0, 2e-10], [0.0, 0.0]], rtol=ROUNDING_RTOL)
    with pytest.raises(AssertionError, match=r"row 0 has relative slack -1\.000e-09"):
        assert_tight(rows[:1], np.array([-1e-9, 1.0]), rtol=ROUNDING_RTOL)
    # values relative to a scale of their own (a branch's largest pre-activation)
    assert_nonnegative(np.zeros(3), rtol=SOLVER_RTOL, scale=0.0)
    with pytest.raises(AssertionError, match=r"branch \(1, 0\): row 2 has relative slack -2"):
        assert_nonnegative([4.0, 0.0, -8e-9], rtol=SOLVER_RTOL, scale=4.0, what="branch (1, 0)")


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("scale", [1.0, 1e6])
def test_descent_steps_move_the_point_at_every_scale_of_the_data(monkeypatch, loss, scale):
    # the line search stopped at an absolute step of 1e-12, in units of the coefficients over
    # the gradient's: on data of size 1e6 every descent step returned the point unchanged
    original, moved = _faces._descent_step, []

    def recording(faces, coef, b, f, current, direction, tight):
        out = original(faces, coef, b, f, current, direction, tight)
        moved.append(out is not coef)
        return out

    monkeypatch.setattr(_faces, "_descent_step", recording)
    for seed in range(60):  # (descent steps are rare: 8 and 4 in these 60 problems)
        M, y, kept_rows, beta = _restricted(seed, loss, True, n_rows=20)
        M[:, :-1] *= scale
        h = kept_rows[0].shape[1]
        gram = M.T @ M if loss == "squared" else None
        solve_on_faces(
            M, gram, y, np.zeros((len(kept_rows), h)), 0.0, kept_rows, beta=beta * scale, loss=loss,
            fit_intercept=True, kkt_tol=1e-7,
        )  # fmt: skip
    assert moved and all(moved)


def test_newton_stops_relative_to_the_objective_however_small(monkeypatch):
    # an absolute floor of 1e-14 stopped Newton early on objectives far below 1 (targets of
    # size 1e-6): its steps then differed from those at targets of size 1 (100 Newton solves
    # against 74 once; 28 each now)
    calls = []
    original = _faces._newton

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_faces, "_newton", counting)
    counts = {}
    for size in (1.0, 1e-6):
        calls.clear()
        for seed in range(20):
            M, y, kept_rows, beta = _restricted(seed, "squared", True)
            h = kept_rows[0].shape[1]
            solve_on_faces(
                M, M.T @ M, size * y, np.zeros((len(kept_rows), h)), 0.0, kept_rows,
                beta=size * beta, loss="squared", fit_intercept=True, kkt_tol=1e-7,
            )  # fmt: skip
        counts[size] = len(calls)
    assert counts[1.0] > 0  # (Newton ran at all)
    assert counts[1e-6] == counts[1.0]


def test_a_fit_survives_scipys_nnls_at_its_iteration_limit(monkeypatch):
    # scipy's NNLS raises RuntimeError at its iteration limit: that aborted the whole fit
    # (from pricing or the certificate), or handed the faces over to the interior point
    from sklearn_convexcnn import _optimality

    calls = []

    def stopped(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Maximum number of iterations reached.")

    monkeypatch.setattr(_optimality, "nnls", stopped)
    X = np.random.default_rng(0).standard_normal((30, 8))
    reg = ConvexCNNRegressor(beta=0.1, n_patterns=8, random_state=0, solver="native", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, X[:, 0])
    assert calls  # every projection by bounded least squares, and the optimum certified
    assert reg.duality_gap_ <= 1e-7 * reg.objective_
    assert reg.certify(X, X[:, 0], max_patterns=1).relative_gap <= 1e-7


# An exactness fuzzer's problems (pooling="none", sparse inputs, squared loss): the face
# system of a nearly degenerate working set asked a group to move 1e12 times its size; the
# ratio test's tiny limit took a row at a slack of 0.75 of the group for tight, and the point
# that stopped there for a KKT point. The native solver stalled 1.4e-5 and 2e-6 above the
# optimum (with a ConvergenceWarning), and solver="auto" kept the second point.
_SPARSE_ENTRIES = {
    (0, 4): -0.0009178860092576899, (0, 5): 0.00012129206981900955,
    (1, 2): 1.1141907501136921e-05, (2, 5): -0.0016245881612147175,
    (3, 0): -0.0003895861843069188, (3, 3): 0.00047705493945163734,
    (3, 5): 0.00024164808128440056, (3, 6): -0.00040480246720880924,
    (4, 0): -0.000288772209921905, (4, 2): 0.0009686090771879235,
    (5, 4): 0.0011902570426393449, (7, 2): -0.001391138589468332,
    (7, 4): -0.0011544469682311998, (7, 6): -0.0014376244717643233,
    (8, 4): 0.0007916746033487815, (8, 5): 0.00035799973924317103,
}  # fmt: skip


def _sparse_problem(case):
    if case == "small inputs":
        X = np.zeros((9, 7))
        for index, value in _SPARSE_ENTRIES.items():
            X[index] = value
        y = np.array([1.0, 1, 1, 1, -1, -1, -1, 1, -1])
        params = dict(beta=4.152682625689058e-06, kernel_size=3, stride=2, n_patterns=4)
        return X, y, dict(params, random_state=309)
    rng = np.random.default_rng(282)  # (the fuzzer's draws, in its order)
    n, d = int(rng.integers(8, 30)), int(rng.integers(6, 12))
    rng.integers(2, 4), rng.choice([1, 2])
    scale = 10 ** rng.uniform(-4, 3)
    X = rng.standard_normal((n, d)) * scale
    rng.random()
    X[rng.random(X.shape) < rng.uniform(0.3, 0.8)] = 0.0
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return X, y, dict(beta=0.16016175765269364, kernel_size=2, n_patterns=8, random_state=898)


@pytest.mark.parametrize("case", ["small inputs", "unit inputs"])
def test_a_huge_newton_step_does_not_make_a_slack_row_tight(case):
    X, y, params = _sparse_problem(case)
    common = dict(pooling="none", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        native = ConvexCNNRegressor(solver="native", tol=1e-7, **common).fit(X, y)
    reference = ConvexCNNRegressor(solver="clarabel", tol=1e-9, **common).fit(X, y)
    assert 0 <= native.duality_gap_ <= 1e-7 * native.objective_
    assert native.objective_ <= reference.objective_ * (1 + 1e-9)
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-9)


def test_a_newton_step_survives_lapacks_svd_failing_to_converge(monkeypatch):
    # a review: on a finite Hessian of condition 1e18 (beta=1e-10 on the regressor
    # docstring's data) gelsd raised "SVD did not converge" out of fit; a pivoted QR solves it
    from sklearn_convexcnn._solvers import _linalg

    def failing(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge in Linear Least Squares")

    hessian = np.diag([1.0, 1e-3, 0.0])  # singular: Cholesky's step is refused
    gradient = np.array([1.0, 1.0, 0.0])
    monkeypatch.setattr(_linalg.np.linalg, "lstsq", failing)
    np.testing.assert_allclose(_linalg.newton_step(hessian, gradient), [-1.0, -1e3, 0.0])


def test_a_hessian_singular_to_rounding_gets_the_least_norm_step_though_cholesky_succeeds():
    # two coordinates with the same fit: Cholesky factors this Hessian (its last pivot is one
    # ulp) and its step, [-1, 0] or [0, -1] as the gradient's last bit goes, ends anywhere
    # along the null direction; a three-layer polish so moved weight between twin groups and
    # out of the second layer's cone on NumPy 1.26 and not on NumPy 2.4
    from sklearn_convexcnn._solvers import _linalg

    hessian = np.array([[1.0, 1.0], [1.0, 1.0 + 2.0**-52]])
    scipy.linalg.cho_factor(hessian)  # (succeeds)
    for gradient in ([1.0, 1.0], [1.0, 1.0 + 2.0**-52]):
        step = _linalg.newton_step(hessian, np.array(gradient))
        np.testing.assert_allclose(step, [-0.5, -0.5], atol=1e-12)


def test_a_newton_step_keeps_cholesky_for_a_positive_definite_hessian_of_any_scale(monkeypatch):
    # the pivot test is against each pivot's own diagonal entry: a diagonal from 1e-20 to
    # 1e20 is no dependence (against the largest entry, or with no Cholesky at all, the
    # least-squares step, truncated at 1e-14 of the largest singular value, drops the small
    # entries' coordinates)
    from sklearn_convexcnn._solvers import _linalg

    def refused(*args, **kwargs):
        raise AssertionError("least squares on a positive definite Hessian")

    monkeypatch.setattr(_linalg.np.linalg, "lstsq", refused)
    diagonal = np.logspace(-20, 20, 9)
    step = _linalg.newton_step(np.diag(diagonal), np.ones(9))
    np.testing.assert_allclose(step, -1 / diagonal, rtol=1e-12)


def test_a_least_norm_newton_step_has_no_part_along_a_null_direction_of_unequal_diagonal():
    # twin groups (the same two columns) at norms 10 and 0.1 along u: their penalties'
    # curvature, beta / ||c_j|| (I - u u^T), makes the diagonal entries along the null
    # direction (u, -u) unequal; least norm in the coordinates of a unit diagonal (8d145d9,
    # reverted) went 0.15 of the step along it, and moved three-layer polishes out of the
    # second layer's cone as in 4627b09 (a review)
    from sklearn_convexcnn._solvers import _linalg

    rng = np.random.default_rng(0)
    b, u = rng.standard_normal((20, 2)), np.array([0.6, 0.8])
    curvature, loss = np.eye(2) - np.outer(u, u), b.T @ b
    hessian = np.block([[loss + 0.1 * curvature, loss], [loss, loss + 10.0 * curvature]])
    gradient = np.tile(rng.standard_normal(2), 2)  # (the twins': orthogonal to (u, -u))
    step = _linalg.newton_step(hessian, gradient)
    assert abs(step @ np.concatenate([u, -u])) <= 1e-12 * np.linalg.norm(step)
    np.testing.assert_allclose(hessian @ step, -gradient, atol=1e-12)


@pytest.mark.parametrize("where", ["hessian", "gradient"])
def test_a_newton_step_on_a_nan_is_no_step(where, capfd):
    # LAPACK's least squares printed "illegal value" on a NaN Hessian and returned a step
    # (here [-1, 0]); with a twin pair beside the NaN it never returned
    from sklearn_convexcnn._solvers import _linalg

    hessian, gradient = np.eye(2), np.ones(2)
    if where == "hessian":
        hessian[1, 1] = np.nan
    else:
        gradient[1] = np.nan
    np.testing.assert_array_equal(_linalg.newton_step(hessian, gradient), [0.0, 0.0])
    assert "illegal value" not in capfd.readouterr().err


def test_onto_kept_rows_survives_an_nnls_that_ends_outside_the_cone(monkeypatch):
    # SciPy's NNLS can end off its minimizer without a word (scipy/scipy#25389; 0/1 images,
    # whose rows repeat, slacks of -0.08): BVLS then, not the interior point's fallback
    rng = np.random.default_rng(0)
    rows, start = rng.standard_normal((12, 4)), rng.standard_normal((1, 4))
    exact = nnls_projection(rows, start[0])[0]
    assert np.any(rows @ start[0] < 0)  # (a projection to make)
    monkeypatch.setattr(_optimality, "nnls", lambda A, b, maxiter: (np.zeros(A.shape[1]), 0.0))
    projected = onto_kept_rows([rows], start)
    np.testing.assert_allclose(projected[0], exact, atol=1e-12)
    assert np.all(rows @ projected[0] >= -1e-12)


def test_the_shortest_newton_step_is_relative_to_the_point_and_positive():
    norms, b = np.array([2.0, 1.0]), 0.5
    assert _faces._shortest(norms, b, np.full((2, 3), 0.1), 0.0) == 1e-12
    long = np.zeros((2, 3))
    long[0, 0] = 2e8  # (a direction 1e8 times the point: the step it allows is 1e-8 of it)
    assert _faces._shortest(norms, b, long, 0.0) == pytest.approx(1e-20)
    # never 0, from which halving never ends (a review): a norm that overflows, or a ratio
    # that underflows
    with np.errstate(over="ignore"):
        assert _faces._shortest(norms, b, np.full((2, 3), 1e155), 0.0) == 1e-12
    tiny = _faces._shortest(np.array([1e-200]), 0.0, np.full((1, 1), 1e120), 0.0)
    assert tiny == np.finfo(float).tiny
    assert _faces._shortest(np.zeros(2), 0.0, long, 0.0) == 1e-12  # (from zero)


def _moved_off_a_tight_row(by, rng):
    """A cone's rows, their norms, and a point on one of its faces moved across a tight row
    by ``by`` times ``||r|| ||c||``."""
    h = 4
    inside = rng.standard_normal(h)
    rows = rng.standard_normal((8, h))
    rows[rows @ inside < 0] *= -1
    c, _ = nnls_projection(rows, rng.standard_normal(h))  # (a point on a face of the cone)
    row_norms = np.linalg.norm(rows, axis=1)
    tight = np.flatnonzero(np.abs(rows @ c) <= 1e-12 * np.linalg.norm(c) * row_norms)
    assert len(tight) >= 1 and np.linalg.norm(c) > 0.1  # (the premise)
    r = rows[tight[0]]
    return rows, row_norms, c - by * np.linalg.norm(c) * r / np.linalg.norm(r)


def test_drifted_slacks_are_put_back_on_the_kept_rows():
    # a tight row drifted to a slack of -1e-12 ||r|| ||c|| (many steps' rounding) is put back
    # to the rounding of r @ c itself, the point moved by rounding only (a mutation audit: the
    # solvers' tests look at slacks to 1e-9, and skipping the correction passed them all)
    rng = np.random.default_rng(0)
    rows, row_norms, drifted = _moved_off_a_tight_row(1e-12, rng)
    h = rows.shape[1]
    far = np.abs(rng.standard_normal(h)) + 1.0  # (a second group, strictly inside its cone)
    faces = types.SimpleNamespace(
        kept_rows=[rows, np.eye(h)], h=h, kept_row_norms=[row_norms, np.ones(h)]
    )
    coef = np.stack([drifted, far])
    limit = -h * np.finfo(float).eps * np.linalg.norm(drifted) * row_norms
    assert np.any(rows @ drifted < limit)  # (the premise: a violation beyond rounding)
    fixed = _zero_negative_slacks(faces, coef)
    assert np.all(rows @ fixed[0] >= limit)
    assert np.linalg.norm(fixed[0] - drifted) <= 1e-8 * np.linalg.norm(drifted)
    np.testing.assert_array_equal(fixed[1], far)
    np.testing.assert_array_equal(coef[0], drifted)  # (a copy: the input left alone)


def test_a_violation_beyond_rounding_is_left_for_the_cone_check():
    # _zero_negative_slacks corrects rounding only: a slack of -1e-6 ||r|| ||c|| (steps that
    # left the cone, not drift) would move the group by 1e-6 of its norm, so the group keeps
    # its coefficients and _on_kept_rows fails the face method (the interior point takes
    # over) rather than return a point moved off its face without a word
    rows, row_norms, outside = _moved_off_a_tight_row(1e-6, np.random.default_rng(0))
    faces = types.SimpleNamespace(kept_rows=[rows], h=rows.shape[1], kept_row_norms=[row_norms])
    np.testing.assert_array_equal(_zero_negative_slacks(faces, outside[None, :])[0], outside)
    faces.inside = lambda coef: all(map(_faces._inside, [rows], coef, [row_norms]))
    with pytest.raises(FacesFailed, match="^the steps left the cone of the kept rows$"):
        _faces._on_kept_rows(faces, outside[None, :])


def test_null_spaces_are_computed_once_and_kept_within_their_limit():
    rng = np.random.default_rng(0)
    rows = [rng.standard_normal((k, 5)) for k in (1, 2, 3, 1)]
    size = sum(r.nbytes for r in rows[:3]) + 3 * 8 * 5 * 5  # (keys and 5 x 5 bases)
    spaces = _faces.NullSpaces(limit=size)
    bases = [spaces.of(r, 5) for r in rows[:3]]
    for r, basis in zip(rows[:3], bases, strict=True):
        assert basis.shape == (5, 5 - len(r))
        np.testing.assert_allclose(r @ basis, 0.0, atol=1e-12)
        assert spaces.of(r.copy(), 5) is basis  # (by content: a copy is the same rows)
    assert len(spaces) == 3 and spaces.nbytes == size
    spaces.of(rows[3], 5)  # one more would pass the limit: the kept ones are forgotten
    assert len(spaces) == 1 and spaces.nbytes <= size
    assert spaces.of(rows[0], 5) is not bases[0]


def test_a_projected_start_leaves_the_callers_coefficients_alone():
    # onto_kept_rows returns a copy, and solve_on_faces projects its start without writing
    # into it: the start is the working set's coef, which the native solver falls back on
    # (the interior point's start) where the faces fail
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    rng = np.random.default_rng(10)
    start = rng.standard_normal((len(kept_rows), kept_rows[0].shape[1]))
    outside = [np.min(rows @ c) < 0 for rows, c in zip(kept_rows, start, strict=True)]
    assert any(outside)  # (the premise: projections to make)
    given = start.copy()
    projected = onto_kept_rows(kept_rows, start)
    np.testing.assert_array_equal(start, given)
    for rows, c, was_outside, g in zip(kept_rows, projected, outside, given, strict=True):
        if was_outside:
            np.testing.assert_allclose(c, nnls_projection(rows, g)[0], atol=1e-12)
        else:
            np.testing.assert_array_equal(c, g)
    solve_on_faces(
        M, M.T @ M, y, start, 3.0, kept_rows, beta=beta, loss="squared", fit_intercept=True,
        kkt_tol=1e-9,
    )  # fmt: skip
    np.testing.assert_array_equal(start, given)


def test_the_line_search_tries_steps_down_to_the_shortest_and_no_shorter():
    # Armijo's backtracking halves from the first step; a step equal to `shortest` is still
    # tried, the next half is not (None: the search gives up)
    def along(alpha):  # decreases only for steps of at most 1/4
        return 1.0 - 0.5 * alpha if alpha <= 0.25 else 2.0

    assert _faces._backtracking(along, 1.0, 1.0, -1.0, 0.25) == (0.25, 0.875)
    assert _faces._backtracking(along, 1.0, 1.0, -1.0, 0.3) is None
    # a value that does not fall by 1e-4 of the predicted decrease is refused
    assert _faces._backtracking(lambda alpha: 1.0 - 1e-5 * alpha, 1.0, 1.0, -1.0, 0.2) is None
    assert _faces._backtracking(lambda alpha: 1.0 - 1e-4 * alpha, 1.0, 1.0, -1.0, 0.2) == (
        1.0,
        1.0 - 1e-4,
    )


def test_a_step_leaves_a_group_only_where_it_passes_within_a_hundredth_of_zero():
    # _crossing: the group leaves the face where the step takes its norm below 1e-2 of its
    # own (the norm's kink, where Newton's model is wrong); a group that only shrinks to a
    # twentieth stays for the line search
    from sklearn_convexcnn._solvers._faces import _crossing

    coef = np.array([[1.0, 0.0], [1.0, 0.0]])
    near = 0.005  # (the sideways part: the closest point has a norm of about 0.005)
    dcoef = np.array([[-1.0, 0.05], [-1.0, near]])
    assert _crossing(coef[:1], dcoef[:1], np.array([0]), 2.0) is None  # (0.0499 of its norm)
    group, at = _crossing(coef, dcoef, np.array([0, 1]), 2.0)
    assert group == 1 and at == pytest.approx(1 / (1 + near**2))
    assert _crossing(coef, dcoef, np.array([0, 1]), 2.0, ratio=0.1)[0] == 0  # (the earlier one)


def test_groups_collapse_at_a_norm_of_1e_12_of_the_largest_or_when_every_norm_underflows():
    # _collapsed: a nonzero group at most _COLLAPSE times the largest norm leaves the face,
    # the bound included; and where every nonzero group's norm underflows to zero (entries of
    # 1e-181, whose squares do), the largest is zero and all of them leave: no group of norm
    # zero may stay on the face (its beta * c / ||c|| is NaN)
    coef = np.array([[1.0, 0.0], [_faces._COLLAPSE, 0.0], [0.0, 2 * _faces._COLLAPSE], [0, 0]])
    np.testing.assert_array_equal(
        _faces._collapsed(coef, _faces._norms(coef)), [False, True, False, False]
    )
    tiny = np.array([[1e-181, 0.0], [0.0, 0.0], [0.0, -1e-170]])
    norms = _faces._norms(tiny)
    assert not norms.any()  # (the premise: every norm underflows)
    np.testing.assert_array_equal(_faces._collapsed(tiny, norms), [True, False, True])


def test_cholesky_raises_the_diagonal_only_where_the_factor_shows_a_singular_hessian():
    # _cholesky: a factorization that succeeds by rounding on a singular Hessian (two
    # collinear coordinates: a last pivot of 1e-15 against its entry of 1) is redone with
    # every diagonal entry raised by _SHIFT times itself; a well-posed one of condition 1e9
    # is factorized as it is (a shift there moved face solves off their KKT test)
    singular = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-15]])
    shifted = singular + np.diag(_faces._SHIFT * np.diag(singular))
    np.testing.assert_array_equal(
        _faces._cholesky(singular), scipy.linalg.cholesky(shifted, lower=True)
    )
    # nor one whose groups differ in scale: each pivot is judged against its own diagonal
    # entry (against the largest pivot, this one was shifted)
    for conditioned in (np.array([[1e9, 0.5], [0.5, 1.0]]), np.diag(np.logspace(-20, 20, 5))):
        np.testing.assert_array_equal(
            _faces._cholesky(conditioned), scipy.linalg.cholesky(conditioned, lower=True)
        )
    # and a dependence among large entries beside a small one is judged against its own
    # (caught neither a comparison with sqrt(diagonal) nor with the smallest entry: a review)
    wide = scipy.linalg.block_diag(1e-10, 1e10 * singular)
    shifted = wide + np.diag(_faces._SHIFT * np.diag(wide))
    np.testing.assert_array_equal(
        _faces._cholesky(wide), scipy.linalg.cholesky(shifted, lower=True)
    )


def test_the_ratio_test_never_allows_a_negative_step():
    # _Faces.ratio_test: a falling row that rounding left at a slightly negative slack (not
    # yet counted tight) limits the step to 0 and blocks it, never to a negative step, which
    # would move the point backwards along the direction
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    faces = _Faces(
        M, M.T @ M, y, kept_rows, beta=beta, loss="squared", fit_intercept=True, kkt_tol=1e-9
    )
    h = kept_rows[0].shape[1]
    coef = np.zeros((len(kept_rows), h))
    row = kept_rows[0][0]
    start = np.random.default_rng(1).standard_normal(h)
    coef[0] = start - (row @ start + 1e-6) * row / (row @ row)  # (row 0's slack: -1e-6)
    assert row @ coef[0] == pytest.approx(-1e-6) and not faces.tight.any()
    dcoef = np.zeros_like(coef)
    dcoef[0] = -row  # (falling on row 0)
    limit, blocking = faces.ratio_test(coef, dcoef)
    assert limit == 0.0 and blocking == (0, 0)


def test_a_zero_group_enters_only_where_its_price_exceeds_beta_beyond_rounding():
    # _entering: a zero group enters where its price exceeds beta (1 + kkt_tol) plus the
    # rounding of its correlations (_Faces.rounding); a price above beta by less than that
    # rounding cannot be told from beta (large, nearly collinear patches), and such groups
    # entering made the face method stop as if it cycled
    faces = types.SimpleNamespace(h=2, beta=1.0, kkt_tol=1e-9, kept_rows=[np.eye(2)] * 3)
    coef = np.zeros((3, 2))
    coef[2] = [1.0, 0.0]  # (nonzero: never entering)
    correlations = np.array([1 + 1e-6, 0.0, 1 + 1e-6, 0.0, 5.0, 0.0])
    entering = _faces._entering(faces, coef, correlations, np.array([1e-5, 1e-7, 0.0]))
    [(group, direction, price)] = entering
    assert group == 1 and price == pytest.approx(1 + 1e-6, rel=1e-15)
    np.testing.assert_allclose(direction, [1.0, 0.0], rtol=1e-15)


def test_the_polish_zeroes_a_group_only_where_its_price_is_at_most_beta_to_rounding():
    # _restricted._optimal_at_zero: a group left out of the polished face must be optimal at
    # zero, its price at most beta, up to a relative 1e-12 of rounding
    from sklearn_convexcnn._solvers import _restricted

    M, kept_rows = np.eye(2), [np.eye(2)]

    def optimal(price):  # (the squared loss at f = 0: v = y, the correlation of M = I)
        y = np.array([price, -3.0])
        return _restricted._optimal_at_zero(M, np.zeros(2), y, [0], "squared", 1.0, 2, kept_rows)

    assert optimal(1.0) and optimal(1 + 1e-13)
    assert not optimal(1 + 1e-11)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_curvature_bound_is_the_losss_largest_second_derivative_along_the_fit(loss):
    # _Faces.curvature_bound: ||M d||^2 times the largest second derivative of the loss in f,
    # 1 for the squared loss and 1/4 for the logistic (sigmoid' <= 1/4), so that its quadratic
    # model bounds the loss from above and its minimizer is a safe step (entering groups,
    # descent steps)
    M, y, kept_rows, beta = _restricted(0, loss, True)
    gram = M.T @ M if loss == "squared" else None
    faces = _Faces(M, gram, y, kept_rows, beta=beta, loss=loss, fit_intercept=True, kkt_tol=1e-9)
    d = np.random.default_rng(1).standard_normal((len(kept_rows), kept_rows[0].shape[1]))
    fit = M[:, : d.size] @ d.ravel()
    expected = (1.0 if loss == "squared" else 0.25) * (fit @ fit)
    assert faces.curvature_bound(d) == pytest.approx(expected, rel=1e-12)
    # (a direction without a fit: the floor, never a division by zero)
    assert faces.curvature_bound(np.zeros_like(d)) == (1.0 if loss == "squared" else 0.25) * 1e-300


@pytest.mark.parametrize(
    "loss, from_residual", [("squared", False), ("squared", True), ("logistic", False)]
)
def test_the_line_is_the_objective_along_the_direction(loss, from_residual):
    # _Faces.line: what the line searches compare, the objective at (coef, b) + alpha (d, db);
    # the squared loss's from the point's value and the exact quadratic change (its slope
    # from the Gram or, with from_residual, from the residual's correlations)
    M, y, kept_rows, beta = _restricted(0, loss, True)
    gram = M.T @ M if loss == "squared" else None
    faces = _Faces(M, gram, y, kept_rows, beta=beta, loss=loss, fit_intercept=True, kkt_tol=1e-9)
    faces.from_residual = from_residual
    rng = np.random.default_rng(1)
    coef, d = rng.standard_normal((2, len(kept_rows), kept_rows[0].shape[1]))
    b, db = 0.3, -0.2
    f = faces.image(coef, b)
    line = faces.line(coef, b, d, db, f, faces.value(coef, b, f))
    for alpha in (0.0, 0.25, 1.0, 3.0):
        c, intercept = coef + alpha * d, b + alpha * db
        expected = loss_value(loss, M[:, : c.size] @ c.ravel() + intercept, y)
        expected += beta * np.linalg.norm(c, axis=1).sum()
        assert line(alpha) == pytest.approx(expected, rel=1e-12)


def test_a_point_that_the_corrections_cannot_put_back_in_its_cone_fails_with_a_reason():
    # _on_kept_rows: a point outside its kept rows by more than rounding (the steps left the
    # cone) is not corrected silently, but ends the face method with a reason
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    faces = _Faces(
        M, M.T @ M, y, kept_rows, beta=beta, loss="squared", fit_intercept=True, kkt_tol=1e-9
    )
    rows = kept_rows[0]
    coef = np.zeros((len(kept_rows), rows.shape[1]))
    coef[0] = -rows[0]  # (row 0's slack: -||row 0||^2)
    with pytest.raises(FacesFailed, match="^the steps left the cone of the kept rows$"):
        _faces._on_kept_rows(faces, coef)


def test_a_projection_that_stays_outside_its_cone_fails_with_a_reason(monkeypatch):
    # onto_kept_rows checks its projections: one that ends outside the cone beyond the
    # tolerance of _tight raises FacesFailed, which says what went wrong
    rng = np.random.default_rng(0)
    rows, start = rng.standard_normal((12, 4)), rng.standard_normal((1, 4))
    assert np.any(rows @ start[0] < 0)  # (a projection to make)
    monkeypatch.setattr(_faces, "checked_projection", lambda rows, c, tol: c)
    with pytest.raises(FacesFailed, match="^inaccurate projection onto a cone$"):
        onto_kept_rows([rows], start)


def test_the_shortest_newton_step_counts_the_intercept_in_the_points_size():
    # _shortest: the point's size is the largest of its groups' norms and |b|: from zero groups
    # with an intercept of 0.5, a direction of length 2e8 may move it by 1e-12 of 0.5
    long = np.zeros((2, 3))
    long[0, 0] = 2e8
    shortest = _faces._shortest(np.zeros(2), 0.5, long, 0.0)
    assert shortest == pytest.approx(1e-12 * 0.5 / 2e8, rel=1e-15, abs=0.0)
    assert _faces._shortest(np.array([0.25, 0.0]), -0.5, long, 3e8) == pytest.approx(
        1e-12 * 0.5 / 3e8, rel=1e-15, abs=0.0
    )


def _one_coordinate_faces(m, y, beta, rows):
    """A restricted problem of one group of one coordinate, its column ``m`` (no intercept)."""
    M = np.asarray(m, dtype=float)[:, None]
    return _Faces(
        M, M.T @ M, np.asarray(y, dtype=float), [np.asarray(rows, dtype=float).reshape(-1, 1)],
        beta=beta, loss="squared", fit_intercept=False, kkt_tol=1e-9,
    )  # fmt: skip


def test_a_descent_step_where_the_loss_is_nearly_flat_moves_a_thousand_times_the_point():
    # _descent_step: where the loss barely curves along the direction, its upper bound's
    # step (here 1e8, the exact minimizer along it) is no guide; the step moves the
    # coefficients by at most a thousand times their size, here from 1 to 1001
    faces = _one_coordinate_faces([1e-4, 0.0, 0.0], [1.0, 0.0, 0.0], 0.0, np.zeros((0, 1)))
    coef = np.array([[1.0]])
    f = faces.image(coef, 0.0)
    direction = faces.correlations(coef, 0.0, f).reshape(1, 1)  # (the negative gradient)
    assert direction[0, 0] > 0  # (the premise: it grows the group)
    tight = faces.tight_rows(coef)
    moved = _faces._descent_step(faces, coef, 0.0, f, faces.value(coef, 0.0, f), direction, tight)
    assert moved[0, 0] == pytest.approx(1001.0, rel=1e-12)


def test_a_descent_step_that_a_row_stops_makes_the_row_tight():
    # _descent_step: a step cut short by a kept row (the ratio test's limit) ends on that
    # row, which is tight from then on: the next descent must not cross it
    faces = _one_coordinate_faces([1e-4, 0.0, 0.0], [0.0, 0.0, 0.0], 1.0, [[1.0]])
    coef = np.array([[1.0]])
    f = faces.image(coef, 0.0)
    tight = faces.tight_rows(coef)
    assert not tight[0][0]
    direction = faces.correlations(coef, 0.0, f).reshape(1, 1) - 1.0  # (-grad: beta pulls)
    moved = _faces._descent_step(faces, coef, 0.0, f, faces.value(coef, 0.0, f), direction, tight)
    assert abs(moved[0, 0]) <= 1e-15
    assert tight[0][0]


def test_groups_that_enter_together_share_the_step_of_the_quadratic_bound(monkeypatch):
    # solve_on_faces: groups priced above beta enter along their projections, each by the
    # step that minimizes the loss's quadratic upper bound along its direction divided by the
    # number entering: two groups of the same columns then land at the minimizer along their
    # joint direction, (price - beta)^2 / (2 ||M_j u||^2) below the start, where a full step
    # each would overshoot back to the start's objective. (Newton's steps after them left out)
    monkeypatch.setattr(_faces, "_newton", lambda faces, coef, b, tight: (coef, b))
    rng = np.random.default_rng(0)
    h = 3
    A, y = rng.standard_normal((10, h)), rng.standard_normal(10)
    g = A.T @ y
    rows = np.diag(np.sign(g))
    rows[0] *= -1  # (an orthant that holds g's last two coordinates: a projection to make)
    M = np.hstack([A, A])
    price, projection = _optimality.price_at_zero(rows, g, 0.0)
    assert 0 < price < np.linalg.norm(g)  # (the premise)
    beta = 0.5 * price
    unit = projection / price
    curvature = float(np.sum((A @ unit) ** 2))
    coef, b = solve_on_faces(
        M, M.T @ M, y, np.zeros((2, h)), 0.0, [rows, rows], beta=beta, loss="squared",
        fit_intercept=False, kkt_tol=1e-9, guide=True,
    )  # fmt: skip
    step = (price - beta) / (2 * curvature)
    np.testing.assert_allclose(coef, [step * unit, step * unit], rtol=1e-12)
    start = _objective(M, y, [rows, rows], beta, "squared", np.zeros((2, h)), 0.0)
    end = _objective(M, y, [rows, rows], beta, "squared", coef, b)
    assert start - end == pytest.approx((price - beta) ** 2 / (2 * curvature), rel=1e-9)


def test_a_correction_that_pushes_another_row_out_is_corrected_again():
    # _zero_negative_slacks corrects up to three times: putting row 0 back (a drift of 1e-9)
    # pushes row 1, nearly orthogonal to it and at zero slack, to -1e-14, beyond rounding;
    # the second correction puts it back too, moving row 0 by rounding only
    h = 3
    rows = np.array([[1.0, 0.0, 0.0], [-1e-5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    row_norms = np.linalg.norm(rows, axis=1)
    drifted = np.array([-1e-9, -1e-14, 1.0])
    limit = -h * np.finfo(float).eps * np.linalg.norm(drifted) * row_norms
    assert list(np.flatnonzero(rows @ drifted < limit)) == [0]  # (the premise)
    faces = types.SimpleNamespace(kept_rows=[rows], h=h, kept_row_norms=[row_norms])
    fixed = _zero_negative_slacks(faces, drifted[None, :])[0]
    assert np.all(rows @ fixed >= -h * np.finfo(float).eps * np.linalg.norm(fixed) * row_norms)
    assert np.linalg.norm(fixed - drifted) <= 1e-8 * np.linalg.norm(drifted)


def test_the_rounding_of_the_correlations_counts_the_targets():
    # _Faces.rounding: M^T v is computed to eps ||M_i|| (sum_j ||M_j|| |x_j| + ||y||) per
    # column (plus sqrt(n) |b| for the intercept's column of ones); at x = 0 and b = 0 it is
    # the targets' term alone, the group's norm of it
    M, y, kept_rows, beta = _restricted(0, "squared", True)
    faces = _Faces(
        M, M.T @ M, y, kept_rows, beta=beta, loss="squared", fit_intercept=True, kkt_tol=1e-9
    )
    h, n_groups = kept_rows[0].shape[1], len(kept_rows)
    columns = np.linalg.norm(M[:, : n_groups * h], axis=0)
    expected = np.linalg.norm(
        (np.finfo(float).eps * columns * np.linalg.norm(y)).reshape(n_groups, h), axis=1
    )
    coef = np.zeros((n_groups, h))
    np.testing.assert_allclose(faces.rounding(coef, 0.0), expected, rtol=1e-12)
    with_b = np.linalg.norm(
        (np.finfo(float).eps * columns * (np.linalg.norm(y) + np.sqrt(len(y)) * 2.0)).reshape(
            n_groups, h
        ),
        axis=1,
    )
    np.testing.assert_allclose(faces.rounding(coef, -2.0), with_b, rtol=1e-12)


def test_the_factorization_of_a_face_without_coordinates_gives_an_empty_step():
    # _triangular_solve: a face of no coordinates (no nonzero group, no intercept) has an
    # empty Cholesky factor, and its steps are empty, not LAPACK's illegal-argument error
    factor = _faces._cholesky(np.zeros((0, 0)))
    assert factor.shape == (0, 0)
    for trans in (0, 1):
        assert _faces._triangular_solve(factor, np.zeros(0), trans=trans).shape == (0,)
    blocked = _faces._BlockedSteps(
        np.zeros((0, 0)), np.zeros(0, dtype=int), np.zeros((0, 3, 3)), np.zeros(0, dtype=bool)
    )
    assert blocked.step(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_newton_direction_that_overflows_warns_nothing(seed):
    # an audit: max pooling in regions, logistic loss, beta=1e-3, three classes: the nearly
    # singular face Hessians gave Newton directions whose squared norms overflow, in the line
    # search's shortest step (seed 1) and at the point where a group leaves (seed 0). Those
    # steps were refused, as they still are (the same fit), but numpy's "overflow encountered
    # in multiply" escaped from fit.
    X = np.random.default_rng(seed).standard_normal((25, 36))
    y = np.digitize(X[:, 14] + X[:, 20], [-0.5, 0.5])
    clf = ConvexCNNClassifier(
        kernel_size=2,
        stride=2,
        pooling="max",
        pool_size=2,
        loss="logistic",
        beta=1e-3,
        n_patterns=8,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf.fit(X, y)
    assert 0 <= clf.duality_gap_ <= 1e-7 * clf.objective_
    assert clf.regularized_objective(X, y) == pytest.approx(clf.objective_, rel=1e-9)
