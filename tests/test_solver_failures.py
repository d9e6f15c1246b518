"""Every way a conic solver can fail has a documented outcome, never a silently wrong model.

The failure paths are forced by patching CVXPY's ``Problem.solve``; the other paths are real
solves.
"""

import cvxpy as cp
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNRegressor


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((14, 8)), rng.standard_normal(14)


def _force(monkeypatch, failing, *, status=None, value=None, exception=None):
    """Make the solvers in ``failing`` end with ``status``/``value`` or raise ``exception``."""
    original = cp.Problem.solve

    def solve(problem, *args, solver=None, **kwargs):
        result = original(problem, *args, solver=solver, **kwargs)
        if solver in failing:
            if exception is not None:
                raise exception
            problem._status = status
            if value is not None:
                problem._value = value
        return result

    monkeypatch.setattr(cp.Problem, "solve", solve)


def _regressor(**params):
    return ConvexCNNRegressor(beta=0.1, n_patterns=8, random_state=0, **params)


@pytest.mark.parametrize(
    "failure, message",
    [
        (dict(status=cp.INFEASIBLE), "CLARABEL returned status 'infeasible'"),
        (dict(status=cp.UNBOUNDED), "CLARABEL returned status 'unbounded'"),
        (dict(status=cp.INFEASIBLE_INACCURATE), "status 'infeasible_inaccurate'"),
        (dict(status=cp.OPTIMAL, value=np.nan), "CLARABEL returned status 'optimal'"),
        (dict(exception=cp.error.SolverError("KKT solve failed")), "KKT solve failed"),
        (dict(exception=ArithmeticError("overflow")), "overflow"),
    ],
)
def test_explicit_solver_failure_is_an_error(monkeypatch, data, failure, message):
    X, y = data
    _force(monkeypatch, {"CLARABEL"}, **failure)
    with pytest.raises(RuntimeError, match=rf"could not be solved \(.*{message}.*Try another"):
        _regressor(solver="clarabel").fit(X, y)


def test_auto_falls_back_to_the_next_solver(monkeypatch, data):
    X, y = data
    reference = _regressor(solver="ecos").fit(X, y)
    _force(monkeypatch, {"CLARABEL"}, status=cp.INFEASIBLE)
    with pytest.warns(RuntimeWarning, match="CLARABEL returned status 'infeasible'; trying ECOS"):
        reg = _regressor(solver="auto").fit(X, y)
    assert reg.objective_ == pytest.approx(reference.objective_, rel=1e-6)
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6)


def test_auto_reports_every_failure_when_all_fail(monkeypatch, data):
    X, y = data
    _force(monkeypatch, {"CLARABEL", "ECOS", "SCS"}, status=cp.INFEASIBLE)
    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(
            RuntimeError, match="CLARABEL: .*infeasible.*; ECOS: .*infeasible.*; SCS: .*infeasible"
        ),
    ):
        _regressor(solver="auto").fit(X, y)


def test_inaccurate_solution_is_a_convergence_warning(monkeypatch, data):
    X, y = data
    _force(monkeypatch, {"CLARABEL"}, status=cp.OPTIMAL_INACCURATE)
    with pytest.warns(ConvergenceWarning, match="status 'optimal_inaccurate'"):
        reg = _regressor(solver="clarabel").fit(X, y)
    assert np.all(np.isfinite(reg.predict(X)))


def test_failed_fit_keeps_the_previous_model(monkeypatch, data):
    X, y = data
    reg = _regressor(solver="clarabel").fit(X, y)
    before = reg.predict(X)
    _force(monkeypatch, {"CLARABEL"}, status=cp.INFEASIBLE)
    with pytest.raises(RuntimeError, match="could not be solved"):
        reg.set_params(beta=0.2).fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_failed_first_fit_leaves_the_estimator_unfitted(monkeypatch, data):
    from sklearn.exceptions import NotFittedError

    X, y = data
    _force(monkeypatch, {"CLARABEL"}, status=cp.INFEASIBLE)
    reg = _regressor(solver="clarabel")
    with pytest.raises(RuntimeError):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        reg.predict(X)


def test_failed_refit_on_other_data_keeps_the_feature_count(monkeypatch, data):
    X, y = data
    reg = _regressor(solver="clarabel").fit(X, y)
    _force(monkeypatch, {"CLARABEL"}, status=cp.INFEASIBLE)
    with pytest.raises(RuntimeError):
        reg.fit(np.hstack([X, X]), y)
    assert reg.n_features_in_ == 8
    assert reg.predict(X).shape == (14,)
