"""Property-based tests: any input either fits an exact model or fails with a documented error."""

import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor


def _documented_refusals(params, n_features, n_classes=None):
    """Patterns of the ValueErrors these inputs call for, worked out here from the geometry and
    the targets alone; empty when the inputs are valid and the fit must succeed."""
    reasons = []
    if n_classes is not None and n_classes < 2:
        reasons.append(r"needs samples of at least 2 classes in y")
    shape = params["input_shape"] or (n_features,)
    spatial = tuple(shape[:2]) if len(shape) == 3 else tuple(shape)
    kernel = params["kernel_size"]
    # (the strategy draws kernel and stride tuples of the right length)
    if any(k > s for k, s in zip(np.broadcast_to(kernel, len(spatial)), spatial, strict=True)):
        reasons.append(
            rf"kernel_size={re.escape(repr(kernel))} does not fit in inputs of spatial shape "
            rf"{re.escape(repr(spatial))}"
        )
    return reasons


@st.composite
def problems(draw):
    ndim = draw(st.sampled_from([1, 2, 3]))
    if ndim == 1:
        input_shape = (draw(st.integers(1, 10)),)
    elif ndim == 2:
        input_shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    else:
        input_shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 2)))
    sizes = input_shape[:2]  # the spatial shape
    # kernels that fit the input in four draws of five: valid inputs are the ones that
    # exercise the solvers (with kernels of 1-4 anywhere, over half the examples were refused)
    fits = draw(st.integers(0, 4)) > 0
    largest = [min(size, 4) if fits else 4 for size in sizes]
    kernel = draw(
        st.one_of(
            st.integers(1, min(largest)),
            st.tuples(*[st.integers(1, k) for k in largest]),
        )
    )
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * len(sizes))))
    n_samples = draw(st.integers(2, 14))
    n_features = int(np.prod(input_shape))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, bool]))
    magnitude = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * (1.0 if dtype is bool else magnitude)
    if draw(st.booleans()):
        X[:, rng.integers(n_features)] = 1.0  # a constant feature
    if draw(st.booleans()):
        X[-1] = X[0]  # a duplicate row
    X = (X > 0) if dtype is bool else X.astype(dtype)
    use_shape = draw(st.booleans()) or ndim > 1
    return dict(
        X=X,
        seed=seed,
        params=dict(
            input_shape=input_shape if use_shape else None,
            kernel_size=kernel,
            stride=stride,
            beta=draw(st.sampled_from([1e-3, 0.1, 10.0])),
            n_patterns=draw(st.integers(1, 12)),
            fit_intercept=draw(st.booleans()),
            random_state=0,
        ),
    )


def _fit_or_documented_error(estimator, X, y, n_classes=None):
    refusals = _documented_refusals(estimator.get_params(), X.shape[1], n_classes)
    if refusals:
        with pytest.raises(ValueError) as error:
            estimator.fit(X, y)
        assert any(re.search(reason, str(error.value)) for reason in refusals), (
            refusals,
            error.value,
        )
        event("refused with a documented ValueError")
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)  # valid inputs: any error is a bug
    event("fitted")
    _assert_exact(estimator, X, y, caught)
    return estimator


def _assert_exact(estimator, X, y, caught):
    """The recovered network attains ``objective_``, certified optimal, without a warning
    (but a stall at the rounding of large inputs, below).

    The gap check found a group dropped as residue (network and ``objective_`` 2.844 against
    an optimum of 2.457, ``duality_gap_`` 0.39, no warning) and CVXPY fallbacks that reported
    'optimal' with a gap of 12 % of the objective and no warning (now a ConvergenceWarning).
    A ConvergenceWarning fails too: exempting the fits that warned let a solver stopped after
    one iteration pass (a test review). One of CI's 60 examples stalls at rounding (5e-6 of
    the objective) and is the only exemption; other seeds exempt up to one example in ten,
    all on inputs of size 1e6.
    """
    value = estimator.regularized_objective(X, y)
    assert value == pytest.approx(estimator.objective_, rel=1e-6, abs=1e-9)
    warned = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    # but one: a native stall at the rounding of large inputs (size 1e6, beta=1e-3, no
    # intercept, whose fits cancel terms of size 40 to fit targets of size 0.1), certified
    # to 1e-5 of the objective or better, and said so; well-scaled inputs are not exempt
    rounding = [m for m in warned if "closer than CVXPY's solvers certify" in m]
    if np.abs(X).max() < 1e4:
        rounding = []
    if rounding:
        event("stalled at the rounding of large inputs, certified to 1e-5")
    warned = [m for m in warned if m not in rounding]
    assert not warned, warned
    assert estimator.duality_gap_ <= 1e-5 * abs(estimator.objective_) + 1e-12


# CI runs the same 60 examples every time, so that a failure reproduces. To explore others:
# ``FUZZ_EXPLORE=1 pytest tests/test_fuzz.py --hypothesis-seed=N``. Seeds 1-45 passed at
# commit 65dfe8b, seeds 1-30 with the gap check at 9a71f4d; random runs found the bugs that
# tests in test_native_solver, test_faces, test_pruning and test_solver_failures pin.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_EXPLORE"),
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(problems())
def test_regressor_fits_exactly_or_refuses(problem):
    X = problem["X"]
    y = np.random.default_rng(problem["seed"]).standard_normal(len(X))
    reg = _fit_or_documented_error(ConvexCNNRegressor(**problem["params"]), X, y)
    if reg is not None:
        assert np.all(np.isfinite(reg.predict(X)))


@FUZZ
@given(problems(), st.integers(1, 3))
def test_classifier_fits_exactly_or_refuses(problem, n_classes):
    X = problem["X"]
    y = np.arange(len(X)) % n_classes
    clf = _fit_or_documented_error(ConvexCNNClassifier(**problem["params"]), X, y, n_classes)
    if clf is not None:
        assert set(clf.predict(X)) <= set(y)
        assert np.all(np.isfinite(clf.decision_function(X)))
