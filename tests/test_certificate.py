"""The certificate of global optimality: duality_gap_ and certify (doc/formulations.md §2.3)."""

import re
import warnings
from dataclasses import replace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import Certificate, ConvexCNNClassifier, ConvexCNNRegressor
from sklearn_convexcnn._formulations._operator import fit_values
from sklearn_convexcnn._formulations.two_layer import PooledSumFormulation, make_formulation
from sklearn_convexcnn._network import RegionalCNN, TwoLayerCNN
from sklearn_convexcnn._optimality import dual_objective, dual_point, pattern_prices
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._patterns import enumerate_gates
from sklearn_convexcnn._solvers import SolverFailed, solve_cvxpy

from ._reference import naive_objective

# the warning that float64 rounds the outputs near the targets' offset, where only some
# parameters of a test bring the targets within a few ulps of it
_OFFSET_WARNING = r"ignore:The targets \(y\) share an offset:UserWarning"

CASES = [  # (n, d, kernel_size, stride, fit_intercept, solver, seed)
    (10, 7, 2, 1, True, "auto", 0),
    (10, 7, 2, 1, False, "auto", 1),
    (10, 7, 2, 1, True, "clarabel", 2),
    (8, 6, 3, 1, True, "auto", 3),
    (12, 9, 2, 2, False, "clarabel", 4),
]


def _naive_objective(model, X, y):
    """The fitted network's regularized objective by explicit loops (squared loss)."""
    geometry = model.geometry_
    return naive_objective(
        X,
        y[:, None],
        model.filters_,
        model.output_weights_,
        model.intercept_,
        model.beta,
        "squared",
        geometry.spatial_shape,
        geometry.kernel_size,
        geometry.stride,
    )


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@pytest.mark.parametrize("n, d, kernel_size, stride, fit_intercept, solver, seed", CASES)
def test_enumerated_fits_are_certified_and_the_bound_matches_an_independent_solve(
    n, d, kernel_size, stride, fit_intercept, solver, seed
):
    X, y = _data(n, d, seed)
    beta = 0.05
    model = ConvexCNNRegressor(
        beta=beta,
        kernel_size=kernel_size,
        stride=stride,
        n_patterns="exact",
        fit_intercept=fit_intercept,
        solver=solver,
    ).fit(X, y)
    # a gap of zero can round to -1e-16 * objective
    assert -1e-13 * model.objective_ <= model.duality_gap_ <= 1e-5 * model.objective_
    certificate = model.certify(X, y)
    assert certificate.exact and certificate.is_optimal
    assert certificate.n_patterns_checked == model.n_patterns_
    assert certificate.objective == pytest.approx(_naive_objective(model, X, y), rel=1e-10)
    assert 0 <= certificate.gap <= 1e-6 * certificate.objective
    assert certificate.dual_constraint <= beta * (1 + 1e-6)
    # independently: the whole enumerated program handed to Clarabel through CVXPY
    patches = extract_patches(X, model.geometry_)
    formulation = make_formulation("average", None, "sum", model.geometry_.grid_shape)
    program = formulation.program(patches, model.gates_)
    reference = solve_cvxpy(
        program,
        y,
        beta=beta,
        loss="squared",
        fit_intercept=fit_intercept,
        solver="clarabel",
        tol=1e-9,
        max_iter=200,
    ).objective
    assert certificate.lower_bound <= reference * (1 + 1e-8)
    assert certificate.lower_bound == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_classifier_certificate_with_each_loss(loss):
    X, y = _data(10, 7, 5)
    labels = np.where(y > 0, "yes", "no")
    model = ConvexCNNClassifier(
        beta=0.05, kernel_size=2, n_patterns="exact", loss=loss, solver="auto"
    ).fit(X, labels)
    certificate = model.certify(X, labels)
    assert certificate.exact
    # the network's objective by explicit loops, on the +-1 target of class "yes"
    signs = np.where(labels == "yes", 1.0, -1.0)[:, None]
    naive = naive_objective(
        X, signs, model.filters_, model.output_weights_, model.intercept_, 0.05, loss, (7,),
        (2,), (1,),
    )  # fmt: skip
    assert certificate.objective == pytest.approx(naive, rel=1e-9)
    # (at least 0 up to rounding, as Certificate.gap says: -8.9e-16 with SciPy 1.10)
    assert -certificate.rounding_gap <= certificate.gap <= 1e-6 * certificate.objective
    assert certificate.is_optimal


def test_a_poor_fit_is_not_certified():
    # two sampled patterns: optimal over them, far from optimal over all; the check sees it
    X, y = _data(10, 7, 6)
    model = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns=2, random_state=0)
    certificate = model.fit(X, y).certify(X, y)
    assert certificate.exact
    assert certificate.dual_constraint > 0.05 * 1.01
    assert certificate.relative_gap > 1e-2
    # (relative to the objective, not to the bound: a mutation pass)
    assert certificate.relative_gap == certificate.gap / certificate.objective
    assert not certificate.is_optimal
    assert certificate.lower_bound < certificate.objective
    # the bound holds against the optimum found with every pattern
    best = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns="exact").fit(X, y)
    assert certificate.lower_bound <= best.objective_ * (1 + 1e-8)


def test_without_enumeration_only_the_fitted_patterns_are_checked():
    X, y = _data(10, 7, 7)
    model = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns=16, random_state=0)
    certificate = model.fit(X, y).certify(X, y, max_patterns=10)
    assert not certificate.exact and not certificate.is_optimal
    assert certificate.n_patterns_checked == model.n_patterns_
    # optimal over its own patterns: a small gap that proves nothing about the others
    assert certificate.relative_gap <= 1e-6


@pytest.mark.parametrize(
    "params",
    [dict(), dict(pooling="max", pool_size=3), dict(readout="dense", pool_size=3)],
    ids=["average", "max", "regional"],
)
def test_on_the_data_of_an_exact_fit_the_fitted_patterns_are_every_pattern(params):
    # a review: max_patterns=1 on the data of an n_patterns="exact" fit said exact=False,
    # though the fitted patterns, which certify then checks, are every pattern of those data
    X, y = _data(10, 7, 0)
    params = dict(beta=0.05, kernel_size=2, **params)
    model = ConvexCNNRegressor(n_patterns="exact", **params).fit(X, y)
    certificate = model.certify(X, y, max_patterns=1)
    assert certificate.exact and certificate.is_optimal
    assert certificate == model.certify(X, y)  # the enumeration's patterns, the same bound
    assert model.certify(np.asfortranarray(X), y, max_patterns=1).exact  # the same data
    # other data have other patterns: exact only where certify enumerates them itself
    X_other = X + 0.1 * np.random.default_rng(1).standard_normal(X.shape)
    assert not model.certify(X_other, y, max_patterns=1).exact
    assert model.certify(X_other, y).exact


def test_generated_patterns_of_an_exact_fit_are_not_every_pattern():
    X, y = _data(10, 7, 0)
    params = dict(beta=0.05, kernel_size=2, n_patterns="exact", random_state=0)
    exact = ConvexCNNRegressor(**params).fit(X, y)
    generated = ConvexCNNRegressor(patterns="generated", **params).fit(X, y)
    assert generated.n_patterns_ < exact.n_patterns_  # a subset of the enumeration
    assert not generated.certify(X, y, max_patterns=1).exact
    assert generated.certify(X, y).exact


def test_certify_refuses_other_architectures():
    X, y = _data(8, 6, 8)
    model = ConvexCNNRegressor(beta=0.1, architecture="circular", n_patterns=8, random_state=0)
    with pytest.raises(ValueError, match="certify is implemented for two-layer ReLU CNNs"):
        model.fit(X, y).certify(X, y)
    # before the data are checked: the refusal, not a complaint about the features
    with pytest.raises(ValueError, match="certify is implemented for two-layer ReLU CNNs"):
        model.certify(X[:, :3], y)


def test_certify_falls_back_to_the_fitted_patterns_only_for_a_refused_enumeration(monkeypatch):
    # a review: every ValueError of the enumeration read as "too many patterns", and hid it
    X, y = _data(10, 7, 0)
    model = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns=4, random_state=0).fit(X, y)
    assert not model.certify(X, y, max_patterns=10).exact  # refused: the fitted patterns

    def broken(self, patches, max_patterns=None):
        raise ValueError("a bug")

    monkeypatch.setattr(PooledSumFormulation, "enumerate_gates", broken)
    with pytest.raises(ValueError, match="a bug"):
        model.certify(X, y)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_dual_constraint_over_enumerated_patterns_is_the_max_over_all_filters(kernel_size):
    # max_{||u|| = 1} |v^T sum_k (X_k u)_+| / K by brute force over filters, against the max of
    # the cone projections over the enumerated patterns: no pattern may be missing
    X, y = _data(8, 6, 9 + kernel_size)
    model = ConvexCNNRegressor(beta=0.05, kernel_size=kernel_size, n_patterns=3, random_state=0)
    model.fit(X, y)
    patches = extract_patches(X, model.geometry_)
    v = y - model.predict(X)
    v -= v.mean()
    formulation = make_formulation("average", None, "sum", model.geometry_.grid_shape)
    operator = formulation.operator(patches, enumerate_gates(patches))
    enumerated = pattern_prices(operator, v, beta=0.05).max()  # exact where above beta
    if kernel_size == 2:
        angles = np.linspace(0, 2 * np.pi, 1_000_001)
        filters = np.stack([np.cos(angles), np.sin(angles)])
    else:
        filters = np.random.default_rng(0).standard_normal((3, 400_000))
        filters /= np.linalg.norm(filters, axis=0)
    brute = 0.0
    for part in np.array_split(filters, 20, axis=1):
        brute = max(brute, np.abs(v @ np.maximum(patches @ part, 0).mean(axis=1)).max())
    assert brute <= enumerated * (1 + 1e-9)
    assert brute >= enumerated * (1 - (1e-9 if kernel_size == 2 else 1e-3))
    assert enumerated > 0.05  # the poor fit violates the constraint: the check has teeth
    certificate = model.certify(X, y)
    assert certificate.exact and not certificate.is_optimal


@pytest.mark.parametrize(
    "value, n",
    [(0.3, 12), (0.1, 12), (1e8 + 0.1, 12), (0.12428327649956394, 12), (0.3330184750222338, 100)],
)
def test_an_exact_fit_of_a_constant_target_is_certified(value, n):
    # its objective and gap are the rounding of y (1.8e-32 for 0.3), which fit certifies and
    # certify called 100 % of the objective, not optimal (a review); np.mean of the last
    # two was 3 ulps off, and an allowance of 2 ulps refused their fits (a later review)
    X, y = _data(n, 4, 0)[0], np.full(n, value)
    model = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        certificate = model.fit(X, y).certify(X, y)
    assert certificate.gap <= certificate.rounding_gap < 1e-12 * (y @ y)
    assert certificate.exact and certificate.is_optimal


def test_an_exact_output_lends_no_rounding_to_another():
    # rounding_gap gave every output a share of the whole objective: a target of 1e8 fitted
    # exactly covered the other output's gap of 4.3e-6 of the objective (a review)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4)), rng.standard_normal(12)
    certificates = []
    for Y in (np.c_[np.full(12, 1e8), y], y):
        model = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact").fit(X, Y)
        intercept = model.intercept_.copy()
        intercept[-1] += 1.4e-3  # (y's fit off its optimum)
        model.intercept_ = intercept
        certificates.append(model.certify(X, Y, tol=1e-6))
    both, alone = certificates
    assert both.relative_gap == pytest.approx(alone.relative_gap, rel=1e-3)
    assert alone.relative_gap > 1e-6
    assert not both.is_optimal and not alone.is_optimal


def test_a_penalty_dominated_objective_lends_no_rounding_allowance_to_a_real_gap():
    # the rounding allowance is capped by the output's loss, not by its whole objective: with
    # the cap at the objective, 16 eps ||y - mean||^2 (1.3e-10 here) covered a real gap of
    # 5.4e-11 (a mutation audit: no test told the two apart)
    rng = np.random.default_rng(0)
    X = np.abs(rng.standard_normal((12, 4)))
    # a target that one ReLU filter (1, 1) reads exactly on non-negative patches of size 2
    y = 100 * (X[:, :2].sum(1) + X[:, 1:3].sum(1) + X[:, 2:].sum(1)) / 3
    model = ConvexCNNRegressor(beta=1e-5, kernel_size=2, n_patterns="exact", tol=1e-10)
    model.fit(X, y)
    loss = 0.5 * np.sum((model.predict(X) - y) ** 2)
    centred = y - y.mean()
    eps = np.finfo(float).eps
    assert loss < 1e-6 * model.objective_  # (the premise: a penalty-dominated objective)
    assert 1e-5 * loss < 16 * eps * centred @ centred < 1e-5 * model.objective_
    # (tol 1e-8, not less: the fit stops within its solver's rounding allowance, which is not
    # capped by the loss, at a relative gap of 1.4e-9 with OpenBLAS's Haswell kernels)
    fitted = model.certify(X, y, tol=1e-8)
    assert fitted.is_optimal
    # the intercept 3e-6 off its best value costs n d^2 / 2 = 5.4e-11, 3.8e-8 of the objective
    model.intercept_ = model.intercept_ + 3e-6
    certificate = model.certify(X, y, tol=1e-8)
    assert certificate.gap - fitted.gap == pytest.approx(12 * 3e-6**2 / 2, rel=1e-3)
    assert certificate.relative_gap > 3 * 1e-8
    assert not certificate.is_optimal


@pytest.mark.parametrize("step", [1.0, -1.0])
def test_an_intercept_an_ulp_from_its_nearest_float_is_not_optimal(step):
    # the allowance for a float intercept near the offset was up to 2 ulps of it, where the
    # nearest float to the best one is at most half an ulp from it: an intercept moved by an
    # ulp, 4.1 times the fitted network's objective, was called optimal (a review). Moved
    # either way: one side is within an ulp of the best, which an allowance of a whole ulp
    # passed (a mutation pass)
    rng = np.random.default_rng(0)
    ulp = np.spacing(1e12)
    X, y = rng.standard_normal((12, 6)), 1e12 + 3 * ulp * rng.standard_normal(12)
    model = ConvexCNNRegressor(beta=3e-3 * ulp, kernel_size=2, n_patterns="exact").fit(X, y)
    assert model.certify(X, y).is_optimal
    fitted = model.regularized_objective(X, y)
    model.intercept_ = model.intercept_ + step * ulp
    assert model.regularized_objective(X, y) > 1.1 * fitted
    assert not model.certify(X, y).is_optimal


@pytest.mark.parametrize("near_offset", [0, 1])
def test_each_output_near_an_offset_is_allowed_its_own_intercepts_rounding(near_offset):
    """Beside an output of targets near 0, an optimal output of targets near 1e12 is
    certified whichever column it is: its gap, a third of its objective, is what its own
    intercept's half ulp costs (a mutation pass: allowing every output the first output's
    intercept cost survived)."""
    rng = np.random.default_rng(0)
    ulp = np.spacing(1e12)
    X = rng.standard_normal((12, 6))
    near = 1e12 + 3 * ulp * rng.standard_normal(12)
    Y = np.column_stack([near, rng.standard_normal(12)])[:, [near_offset, 1 - near_offset]]
    model = ConvexCNNRegressor(beta=3e-3 * ulp, kernel_size=2, n_patterns="exact").fit(X, Y)
    certificate = model.certify(X, Y)
    gap = certificate.output_gaps[near_offset]
    objective = certificate.output_objectives[near_offset]
    assert gap > 0.1 * objective and certificate.relative_gap > 1e-5  # (no tol covers it)
    assert certificate.output_rounding_gaps[near_offset] == pytest.approx(gap, rel=1e-6)
    assert certificate.is_optimal
    # (the outputs' values add up to the totals, as Certificate says)
    assert sum(certificate.output_objectives) == pytest.approx(certificate.objective, rel=1e-12)
    assert certificate.rounding_gap == sum(certificate.output_rounding_gaps)


def test_an_output_within_rounding_lends_its_allowance_to_no_other():
    # the rounding allowance was summed over outputs: that of a constant column near 1e12
    # covered the other output's gap, 7 % above its optimum (a review)
    base = dict(objective=1e-6, lower_bound=0.9e-6, gap=1e-7, relative_gap=0.1, exact=True)
    base.update(n_patterns_checked=4, dual_constraint=0.1, beta=0.1, tol=1e-6)
    lent = Certificate(
        **base, rounding_gap=3e-7, output_objectives=(5e-7, 5e-7), output_gaps=(0.0, 1e-7)
    )
    assert not replace(lent, output_rounding_gaps=(3e-7, 1e-20)).is_optimal
    assert replace(lent, output_rounding_gaps=(1e-20, 3e-7)).is_optimal
    assert Certificate(**base, rounding_gap=3e-7).is_optimal  # (no outputs' gaps: the totals)
    # each output within tol of its own objective, plus its rounding, as fit certifies it
    mixed = replace(lent, output_rounding_gaps=(3e-7, 1e-20), output_objectives=(5e-7, 0.2))
    assert mixed.is_optimal
    assert not replace(mixed, output_objectives=(5e-7, 0.05)).is_optimal


def test_a_gap_at_its_allowance_is_optimal_and_the_totals_stand_for_missing_outputs():
    """``is_optimal`` allows gaps *at most* their allowance (both comparisons inclusive), and
    a certificate without the outputs' values is judged on its totals, its own objective's
    ``tol`` share plus ``rounding_gap``, not on its lower bound's (a mutation pass: strict
    comparisons, the lower bound's share, and no check at all without outputs survived)."""
    # (every value exact in binary: the boundaries are hit exactly)
    base = dict(objective=1.0, lower_bound=0.5, gap=0.5, exact=True, n_patterns_checked=4)
    base.update(dual_constraint=0.1, beta=0.1, tol=0.25)
    assert Certificate(**base, relative_gap=0.25).is_optimal  # (relative_gap == tol)
    assert not Certificate(**base, relative_gap=0.5).is_optimal
    # the totals: gap == tol * objective + rounding_gap; with 0.25 * lower_bound it is not
    assert Certificate(**base, relative_gap=0.5, rounding_gap=0.25).is_optimal
    assert not Certificate(**base, relative_gap=0.5, rounding_gap=0.125).is_optimal
    # each output's gap == tol times its objective plus its rounding
    outputs = Certificate(
        **base, relative_gap=0.5, rounding_gap=0.125, output_objectives=(0.5, 0.5),
        output_gaps=(0.25, 0.125), output_rounding_gaps=(0.125, 0.0),
    )  # fmt: skip
    assert outputs.is_optimal
    assert not replace(outputs, output_gaps=(0.25, 0.25)).is_optimal


@pytest.mark.parametrize("factor", [1.0, 1.005, 1.02])
def test_the_rounding_allowed_near_an_offset_is_the_intercepts_own(factor):
    # a flat allowance of n (2 ulp)^2 / 2 for an intercept near 1e12 called a network 0.1 %
    # above the optimum (weights x1.005) optimal, its whole gap 6e-8 (a review): only what
    # the intercept's distance to its best value costs, n d^2 / 2, is allowed
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6)), 1e12 + 1e-2 * rng.standard_normal(12)
    with pytest.warns(UserWarning, match=r"The targets \(y\) share an offset of 1e\+12"):
        model = ConvexCNNRegressor(beta=5e-5, kernel_size=2, n_patterns="exact").fit(X, y)
    model.output_weights_ = model.output_weights_ * factor
    certificate = model.certify(X, y)
    assert certificate.is_optimal == (factor == 1.0)
    assert sum(certificate.output_gaps) == pytest.approx(certificate.gap, rel=1e-9)


@pytest.mark.parametrize("network", [TwoLayerCNN, RegionalCNN])
def test_the_penalty_split_by_output_covers_each_outputs_own_cost(network):
    rng = np.random.default_rng(0)
    filters = rng.standard_normal((4, 3))
    shape = (4, 2, 3) if network is RegionalCNN else (4, 3)
    weights = rng.standard_normal(shape) * (rng.random(shape) < 0.6)
    weights[0] = 0.0  # (a neuron without output weights: its term in equal shares)
    model = network(filters, weights, np.zeros(3), pooling=None)
    split = model.penalty_by_output()
    assert split.shape == (3,) and split.sum() == pytest.approx(model.penalty(), rel=1e-12)
    by_output = np.abs(weights).sum(axis=1) if network is RegionalCNN else np.abs(weights)
    filter_norms = np.linalg.norm(filters, axis=1)
    assert np.all(split >= filter_norms @ by_output + filter_norms[0] ** 2 / 6)
    alone = network(filters[:1], weights[:1], np.zeros(3), pooling=None).penalty_by_output()
    np.testing.assert_allclose(alone, np.full(3, filter_norms[0] ** 2 / 6))


@pytest.mark.parametrize("estimator", [ConvexCNNRegressor, ConvexCNNClassifier])
def test_a_network_without_neurons_is_certified(estimator, monkeypatch):
    # beta above every dual constraint: the optimum is the constant fit, no neuron at all
    from sklearn_convexcnn._solvers import _native

    X, y = _data(10, 7, 5)
    if estimator is ConvexCNNClassifier:
        y = np.arange(10) % 3
    model = estimator(beta=100.0, kernel_size=2, n_patterns="exact").fit(X, y)
    assert model.filters_.shape[0] == 0
    solves, solve_native = [], _native.solve_native

    def recording(*args, **kwargs):
        solves.append(args)
        return solve_native(*args, **kwargs)

    monkeypatch.setattr(_native, "solve_native", recording)
    certificate = model.certify(X, y)
    assert solves == []  # (no group to re-solve over: no solve of an empty program)
    assert certificate.exact and certificate.is_optimal
    assert certificate.dual_constraint <= 100.0
    # the intercept alone: the mean of the targets, or of each class's +-1 column (squared loss)
    if estimator is ConvexCNNRegressor:
        assert certificate.objective == pytest.approx(0.5 * np.sum((y - y.mean()) ** 2))
    else:
        Y = np.where(y[:, None] == np.arange(3), 1.0, -1.0)
        assert certificate.objective == pytest.approx(0.5 * np.sum((Y - Y.mean(axis=0)) ** 2))


@pytest.mark.parametrize(
    "params",
    [dict(pooling="max"), dict(pooling="max", pool_size=2), dict(pooling="max", readout="dense")],
)
def test_max_pooling_optima_found_by_cvxpy_are_certified(params):
    # found by a review: filters were matched to gates by their signs alone, so Clarabel's
    # max-pooling optima (2e-9 above the native ones) got gates of other cells and
    # certificates of 2e-4 to 1e-3: the pattern of max pooling holds every pool's winner
    X = np.array(
        [[0, 2, 0, -2, 0], [0, 0, 0, 1, 1], [0, -1, 0, -2, -2], [-1, -1, 0, 2, 0],
         [-1, -2, -1, -2, -2], [1, -1, 0, 3, 0], [0, 0, 0, -1, 0], [1, 0, -1, -1, -1],
         [0, 0, 0, 1, 0]], dtype=float,
    )  # fmt: skip
    y = np.array([0.237, 0.624, -1.916, 1.179, -1.606, -1.181, 0.729, -0.432, 1.729])
    common = dict(beta=0.0473, kernel_size=3, fit_intercept=False, n_patterns="exact", **params)
    if "readout" in params:
        common["pool_size"] = 2
    native = ConvexCNNRegressor(solver="native", **common).fit(X, y)
    clarabel = ConvexCNNRegressor(solver="clarabel", **common).fit(X, y)
    assert clarabel.objective_ == pytest.approx(native.objective_, rel=1e-6)
    certificate = clarabel.certify(X, y)
    assert certificate.exact and certificate.is_optimal
    assert certificate.lower_bound <= native.objective_ * (1 + 1e-12)


@pytest.mark.parametrize("y_first", [True, False])
def test_the_dual_constraint_is_the_largest_over_outputs(y_first):
    # y fitted on two sampled patterns is not optimal over all of them; zero targets (the
    # empty network) are. The certificate must report y's price, whichever column y is in
    X, y = _data(10, 7, 5)
    Y = np.column_stack([y, np.zeros_like(y)] if y_first else [np.zeros_like(y), y])
    params = dict(beta=0.05, kernel_size=2, n_patterns=2, random_state=0)
    certificate = ConvexCNNRegressor(**params).fit(X, Y).certify(X, Y)
    alone = ConvexCNNRegressor(**params).fit(X, y).certify(X, y)
    assert certificate.exact
    assert certificate.dual_constraint > 1.01 * params["beta"]
    assert certificate.dual_constraint == pytest.approx(alone.dual_constraint, rel=1e-9)
    assert not certificate.is_optimal


def test_a_warm_exact_refit_enumerates_the_new_data():
    # the enumeration belongs to the data: a warm start must not keep the previous cells
    X, y = _data(10, 7, 6)
    X_new, y_new = _data(10, 7, 7)
    params = dict(beta=0.05, kernel_size=2, n_patterns="exact")
    warm = ConvexCNNRegressor(warm_start=True, **params).fit(X, y).fit(X_new, y_new)
    cold = ConvexCNNRegressor(**params).fit(X_new, y_new)
    np.testing.assert_array_equal(warm.gates_, cold.gates_)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-9)
    assert warm.certify(X_new, y_new).is_optimal


@pytest.mark.parametrize("majority", [1.0, -1.0])
def test_the_logistic_dual_point_shrinks_the_larger_class_sum_to_balance(majority):
    # with an intercept the dual vector must sum to zero, and stay in the domain 0 <= y v <= 1:
    # only the side with the larger sum is scaled down
    rng = np.random.default_rng(0)
    y = np.where(rng.random(40) < 0.75, majority, -majority)
    f = rng.standard_normal(40)
    raw = dual_point("logistic", f, y, fit_intercept=False)
    v = dual_point("logistic", f, y, fit_intercept=True)
    assert abs(v.sum()) <= 1e-12 * np.abs(v).sum()
    assert np.all((y * v >= 0) & (y * v <= 1))
    larger = (raw > 0) if raw[raw > 0].sum() > -raw[raw < 0].sum() else (raw < 0)
    np.testing.assert_array_equal(v[~larger], raw[~larger])
    assert np.all(np.abs(v[larger]) < np.abs(raw[larger]))
    assert np.isfinite(dual_objective("logistic", v, y, fit_intercept=True))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_an_unbalanced_dual_vector_bounds_nothing_with_an_intercept(loss):
    # with an intercept the dual has the constraint sum(v) = 0: off it there is no bound
    rng = np.random.default_rng(1)
    y = np.where(rng.random(30) < 0.5, 1.0, -1.0)
    v = dual_point(loss, 0.1 * rng.standard_normal(30), y, fit_intercept=True)
    v[np.argmax(y * v)] -= 1e-6 * np.abs(v).sum() * y[np.argmax(y * v)]  # (stays in domain)
    assert dual_objective(loss, v, y, fit_intercept=True) == -np.inf
    assert np.isfinite(dual_objective(loss, v, y, fit_intercept=False))


POLISHED_ARCHITECTURES = [
    {},
    {"pooling": "max", "pool_size": 2},
    {"readout": "dense", "pool_size": 2},
    {"pooling": "none"},
]


def _planted_images(seed):
    """30 images of 4x4 whose target is the sum of their first four pixels, plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 16))
    return X, X[:, :4].sum(axis=1) + 0.1 * rng.standard_normal(30)


@pytest.mark.parametrize("params", POLISHED_ARCHITECTURES)
def test_a_cvxpy_fit_is_certified_as_tightly_as_its_duality_gap(params):
    # CVXPY's neurons lie on their cells' boundaries to its accuracy, where their own patterns
    # were other cells than their groups': re-solved over those, certify's dual vector missed
    # the program's, and a fit certified at 1e-9 by duality_gap_ got 1e-4 to 1e-2 from certify
    X, y = _planted_images(0)
    model = ConvexCNNRegressor(
        input_shape=(4, 4), kernel_size=2, beta=0.05, n_patterns=40, random_state=0,
        solver="clarabel", **params,
    ).fit(X, y)  # fmt: skip
    assert model.duality_gap_ <= 1e-5 * model.objective_  # (Clarabel's accuracy)
    # (the fitted patterns checked: no pooling's regions are few enough to enumerate here)
    certificate = model.certify(X, y, max_patterns=1000)
    assert not certificate.exact
    assert certificate.gap <= 1.1 * model.duality_gap_ + 1e-9 * certificate.objective


def test_a_cvxpy_points_gap_is_to_its_recomputed_objective():
    # a mutant that took the gap from the solver's reported objective (CVXPY's, off by its
    # accuracy), not the point's recomputed one, survived: objective - duality_gap must be
    # the dual bound whatever the report. The point: the empty network, reported 0 and 1
    from sklearn_convexcnn._certificate import solution_with_gap
    from sklearn_convexcnn._solvers._solution import Solution

    X, y = _data(10, 7, 0)
    y = y - y.mean()
    geometry = resolve_geometry(None, 2, 1, 7)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("average", None, "sum", geometry.grid_shape)
    gates = enumerate_gates(patches)
    program = formulation.operator(patches, gates)
    coef = np.zeros((2, gates.shape[1], 2))
    bounds = []
    for reported in (0.0, 1.0):
        point = Solution(coef, 0.0, reported, True, "optimal", 1, "clarabel")
        certified = solution_with_gap(
            formulation, patches, gates, program, point, y, beta=0.05, loss="squared",
            fit_intercept=True,
        )  # fmt: skip
        assert certified.objective == pytest.approx(0.5 * y @ y, rel=1e-12)
        assert certified.duality_gap >= 0
        bounds.append(certified.objective - certified.duality_gap)
    assert bounds[0] == pytest.approx(bounds[1], rel=1e-12)


def test_a_loose_fit_over_every_pattern_is_bounded_by_the_optimum_itself():
    # certify re-solves tightly over the patterns of the network's groups: a Clarabel fit at
    # tol=1e-2 keeps every group, and the re-solve's dual point bounds the optimum to
    # rounding (without the re-solve, its own residual bounded it 32 % below)
    X, y = _data(12, 7, 0)
    params = dict(beta=0.05, kernel_size=2, n_patterns="exact")
    optimum = ConvexCNNRegressor(**params, tol=1e-10).fit(X, y).objective_
    with pytest.warns(ConvergenceWarning, match="certified only to a duality gap"):
        loose = ConvexCNNRegressor(**params, tol=1e-2, solver="clarabel").fit(X, y)
    assert loose.objective_ > 1.03 * optimum
    certificate = loose.certify(X, y)
    assert certificate.exact
    assert certificate.lower_bound == pytest.approx(optimum, rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_a_classifier_off_its_optimum_is_bounded_by_the_optimum_itself(loss):
    """The re-solve over the network's groups gives the optimum's dual point, with the
    re-solved intercept: a network 5 % off in its output weights is bounded by the optimum
    to rounding (a mutation pass: the re-solved fit without its intercept, which the
    logistic dual point reads, put the bound 12 % below the optimum and survived)."""
    X, y = _data(10, 7, 0)
    labels = np.where(y > 0, "yes", "no")
    model = ConvexCNNClassifier(beta=0.05, kernel_size=2, n_patterns="exact", loss=loss)
    optimum = model.fit(X, labels).objective_
    model.output_weights_ = model.output_weights_ * 1.05
    certificate = model.certify(X, labels)
    assert certificate.exact and certificate.objective > (1 + 1e-3) * optimum
    assert certificate.lower_bound == pytest.approx(optimum, rel=1e-12)


@pytest.mark.parametrize("params", POLISHED_ARCHITECTURES)
def test_each_neuron_lies_in_the_cell_of_its_gate(params):
    # the certificates re-solve over each neuron's gate: an interior point of its cell (a
    # neuron's own pattern changes with rounding on the cell's boundary)
    X, y = _planted_images(1)
    model = ConvexCNNClassifier(
        input_shape=(4, 4), kernel_size=2, beta=0.05, n_patterns=40, random_state=0, **params
    ).fit(X, np.digitize(y, [-1, 1]))
    network, fitted = model.network_, model._fitted_program
    patches = extract_patches(X, model.geometry_)
    gates = model.gates_[:, fitted.neuron_gates]
    assert gates.shape == network.filters.T.shape
    regional = network.output_weights.ndim == 3
    for j, (u, gate) in enumerate(zip(network.filters, gates.T, strict=True)):
        pools = fitted.formulation.pools
        if regional:  # (on its region's patches: it reads out nowhere else)
            pools = [pools[np.abs(network.output_weights[j]).max(axis=1).argmax()]]
        for pool in pools:
            products, gated = patches[:, pool] @ u, patches[:, pool] @ gate
            scale = 1e-9 * np.abs(patches @ u).max()
            if params.get("pooling") != "max":  # (the signs of the pool's patches)
                clear = np.abs(products) > scale
                np.testing.assert_array_equal(products[clear] > 0, gated[clear] > 0)
                continue
            # (which pools are positive, and their winners where the first two differ)
            top = np.sort(np.column_stack([np.full(len(products), -np.inf), products]), axis=1)
            clear = np.abs(top[:, -1]) > scale
            np.testing.assert_array_equal(top[clear, -1] > 0, gated[clear].max(axis=1) > 0)
            won = (top[:, -1] > scale) & (top[:, -1] - top[:, -2] > scale)
            np.testing.assert_array_equal(products[won].argmax(axis=1), gated[won].argmax(axis=1))


def test_a_regional_certificate_re_solves_over_the_neurons_groups_alone(monkeypatch):
    # over every region x the neurons' gates, the re-solve had up to Q times the fit's groups
    # and took most of certify's time (1.6 to 4 times the fit on digits)
    from sklearn_convexcnn._solvers import _native

    X, y = _data(40, 16, 2)
    model = ConvexCNNRegressor(
        input_shape=(4, 4), kernel_size=2, beta=0.02, readout="dense", pool_size=2,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    sizes = []
    solve_native = _native.solve_native

    def recording(program, y, **kwargs):  # (the program that is solved, its groups as built)
        sizes.append(program.n_patterns)
        return solve_native(program, y, **kwargs)

    monkeypatch.setattr(_native, "solve_native", recording)
    certificate = model.certify(X, y)
    n_neurons = len(model.network_.filters)
    assert n_neurons > 4  # (neurons in several regions)
    assert sizes == [n_neurons]  # (distinct gates and regions: one group each)
    assert certificate.relative_gap <= 1e-10


@pytest.mark.parametrize(
    "error",
    [SolverFailed("no usable point"), np.linalg.LinAlgError("singular"), ValueError("infs")],
    ids=["failed", "linalg", "non-finite"],
)
def test_a_failed_re_solve_leaves_the_bound_of_the_networks_own_fit(monkeypatch, capsys, error):
    """Each failure the re-solve can raise (ours, and SciPy's on a diverged solve) is caught:
    certify bounds the network with its own fit's dual vector, a valid and looser bound, and
    says so (a mutation pass: dropping SolverFailed or ValueError, which LinAlgError is, from
    the except clause survived)."""
    from sklearn_convexcnn._solvers import _native

    X, y = _data(10, 7, 0)
    model = ConvexCNNRegressor(beta=0.05, kernel_size=2, n_patterns="exact").fit(X, y)
    polished = model.certify(X, y)

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(_native, "solve_native", failing)
    certificate = model.set_params(verbose=1).certify(X, y)
    assert certificate.exact and certificate.lower_bound <= polished.lower_bound
    assert certificate.objective == polished.objective
    assert 0 <= certificate.gap <= 1e-6 * certificate.objective  # (the fit's own: optimal)
    output = capsys.readouterr().out
    assert re.search(
        r"output 0: lower bound \S+, the re-solve over its network's 7 groups failed", output
    )


def test_a_re_solve_over_no_groups_is_skipped():
    # (a regional network with no neuron for an output: nothing to polish, no solve)
    from sklearn_convexcnn._certificate import _polished_fit

    rng = np.random.default_rng(0)
    patches, gates = rng.standard_normal((20, 9, 4)), rng.standard_normal((4, 6))
    formulation = make_formulation("average", 2, "dense", (3, 3))
    none = (np.array([], dtype=int), np.array([], dtype=int))
    polished = _polished_fit(
        formulation, patches, gates, rng.standard_normal(20), beta=0.1, loss="squared",
        fit_intercept=True, groups=none,
    )  # fmt: skip
    assert polished is None


def test_the_bound_holds_for_targets_with_a_large_offset():
    # a fuzz of the certificates: the dual objective's y . v lost eps * sum|y v| on targets
    # of 1e9, and an exact certificate put its lower bound 5e-4 above the best constant model
    # (computed here in rationals), calling the fit optimal on the way
    from fractions import Fraction

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 4)), 1e9 + 1e-4 * rng.standard_normal(5)
    model = ConvexCNNRegressor(beta=1e-2, kernel_size=2, n_patterns="exact").fit(X, y)
    certificate = model.certify(X, y)
    assert certificate.exact
    mean = sum(map(Fraction, y)) / len(y)
    best_constant = float(sum((mean - Fraction(t)) ** 2 for t in y) / 2)
    assert certificate.lower_bound <= best_constant * (1 + 1e-12)
    assert model.objective_ - model.duality_gap_ <= best_constant * (1 + 1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("offset", [0.0, 1e5, 1e9])
def test_an_offset_of_the_targets_is_certified_as_the_centred_targets_are(offset, seed):
    # a review: rounding_gap came from y uncentred, where the fit and the dual objective
    # centre it, and on y + 1e5 called a network 3.3e-6 above the optimum optimal at
    # tol=1e-9; a review of the fix: without the residuals' rounding (each to eps |y_i|), an
    # optimal fit of y + 1e9 was 6e-8 above its bound, and not optimal
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((9, 6)), rng.standard_normal(9) + offset
    model = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns="exact").fit(X, y)
    assert model.certify(X, y, tol=1e-9).is_optimal
    model.output_weights_ = model.output_weights_ * 1.02
    certificate = model.certify(X, y, tol=1e-9)
    assert certificate.relative_gap > 1e-6
    assert certificate.rounding_gap < 0.5 * certificate.gap
    assert not certificate.is_optimal


def test_the_residuals_of_targets_with_a_huge_offset_are_not_rounded_into_optimality():
    # a review: y - f, both near 1e12, rounded to eps |y| a sample, and the allowance for it
    # (then) passed a network 5e-4 above the optimum, computed in rationals, at tol=1e-9
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6)), rng.standard_normal(12) + 1e12
    model = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns="exact")
    with warnings.catch_warnings():  # (the fit's own gap, 2e-5 of its objective: float64's)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert model.certify(X, y).is_optimal
    model.output_weights_ = model.output_weights_ * 1.017
    certificate = model.certify(X, y)
    assert certificate.relative_gap > 1e-4 and not certificate.is_optimal


@pytest.mark.parametrize("noise", [1e-6, 3e-7])
@pytest.mark.filterwarnings(_OFFSET_WARNING)  # (at noise=1e-6, 9 ulps of the offset)
def test_targets_at_the_rounding_of_their_offset_lend_no_allowance_to_a_poor_fit(noise):
    # a review: 1e9 + 1e-6 noise was constant to the fit (centred_targets), whose network
    # without neurons is 22 % above the optimum of the shifted data; rounding_floor of the
    # uncentred y, 16 (eps ||y||)^2, was larger than the objective, and certify said optimal.
    # A review of the fix: an allowance of 4 ulps of the intercept passed 3e-7 (23 % above).
    # The noise, 2-8 ulps of 1e9, is fitted now, and that network is certified.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), noise * rng.standard_normal(20) + 1e9
    model = ConvexCNNRegressor(beta=noise / 2, kernel_size=2, n_patterns="exact").fit(X, y)
    assert len(model.filters_) > 0 and model.certify(X, y).is_optimal
    model.filters_ = np.zeros_like(model.filters_)  # (the network without neurons)
    model.output_weights_ = np.zeros_like(model.output_weights_)
    model.intercept_ = np.array([y.mean()])
    certificate = model.certify(X, y)
    assert certificate.relative_gap > 0.1 and not certificate.is_optimal


def _planted_classifier():
    """A classifier of three classes fitted on planted 4x4 images, with its data."""
    X, y = _planted_images(2)
    classes = np.digitize(y, [-1, 1])
    clf = ConvexCNNClassifier(
        input_shape=(4, 4), kernel_size=2, beta=0.05, n_patterns=20, random_state=0
    ).fit(X, classes)
    return clf, X, classes


def test_verbose_certify_says_what_it_checks_and_each_outputs_bound(capsys):
    # certify of all digits without pooling took 34 s without a line of progress
    clf, X, classes = _planted_classifier()
    clf.certify(X, classes)
    assert capsys.readouterr().out == ""
    certificate = clf.set_params(verbose=1).certify(X, classes, max_patterns=10)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        "[ConvexCNNClassifier] certify: 20 patterns, the fitted ones, not every pattern of X"
    )
    bounds = [
        float(re.fullmatch(r".* certify: output \d: lower bound (\S+), its network's \d+ groups? "
                           r"re-solved, \S+ s", line)[1])
        for line in lines[1:-1]
    ]  # fmt: skip
    assert len(bounds) == 3  # (one-vs-rest: an output per class)
    assert sum(bounds) == pytest.approx(certificate.lower_bound, rel=1e-9)
    assert re.fullmatch(
        rf".* certify: objective \S+, lower bound \S+, gap \S+ \(relative "
        rf"{certificate.relative_gap:.1e}\), is_optimal=False, \S+ s",
        lines[-1],
    )
    clf.set_params(beta=1e6).fit(X, classes)  # (no neuron)
    capsys.readouterr()
    clf.certify(X, classes)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert all(", no neuron, nothing re-solved, " in line for line in lines[1:-1])


@pytest.mark.parametrize("params", [{}, {"readout": "dense", "pool_size": 2}])
def test_a_model_pickled_before_fits_recorded_their_gates_is_certified(params):
    # (its _FittedProgram unpickles with neuron_gates=None: certify re-solves over the
    # filters' own patterns, as it did then, where indexing gates_ by None raised IndexError)
    X, y = _planted_images(3)
    model = ConvexCNNRegressor(
        input_shape=(4, 4), kernel_size=2, beta=0.05, n_patterns=30, random_state=0, **params
    ).fit(X, y)
    model._fitted_program = model._fitted_program._replace(neuron_gates=None)
    certificate = model.certify(X, y)
    assert certificate.objective == pytest.approx(model.objective_, rel=1e-9)
    assert abs(certificate.relative_gap) <= 1e-8


def test_an_intercept_assigned_to_a_network_fitted_without_one_is_refused():
    # (an audit) the bound is over networks without an intercept: an assigned one took the
    # network 4 % below it, a negative gap that is_optimal accepted
    X, y = _data(10, 6, 0)
    model = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns="exact", fit_intercept=False)
    model.fit(X, y + 5)
    model.intercept_ = np.array([0.3])
    with pytest.raises(ValueError, match=r"fit_intercept=False\), but its intercept_ is \[0\.3\]"):
        model.certify(X, y + 5)
    model.intercept_ = np.zeros(1)  # (back to the network of the fit)
    assert model.certify(X, y + 5).is_optimal


def test_an_intercept_assigned_to_one_output_of_a_fit_without_one_is_refused_as_fitted():
    # the refusal holds for any output's intercept, and for the fit's fit_intercept (the
    # bound's), whatever set_params gave since
    X, y = _data(10, 6, 0)
    Y = np.column_stack([y, -y]) + 5
    model = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns="exact", fit_intercept=False)
    model.fit(X, Y).set_params(fit_intercept=True)
    model.intercept_ = np.array([0.0, 0.3])
    refused = r"fit_intercept=False\), but its intercept_ is \[0\. +0\.3\]"
    with pytest.raises(ValueError, match=refused):
        model.certify(X, Y)


def test_a_certificates_repr_leads_with_its_verdict():
    # (an audit) printed, a certificate showed its fields but not is_optimal, a property
    X, y = _data(10, 6, 0)
    model = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns="exact").fit(X, y)
    certificate = model.certify(X, y)
    assert repr(certificate).startswith("Certificate(is_optimal=True, objective=")
    assert f"exact=True, n_patterns_checked={certificate.n_patterns_checked}," in repr(certificate)
    sampled = ConvexCNNRegressor(beta=0.5, kernel_size=2, n_patterns=2, random_state=0)
    assert repr(sampled.fit(X, y).certify(X, y)).startswith("Certificate(is_optimal=False, ")


def test_an_intercept_an_ulp_below_a_power_of_2_offset_is_not_optimal():
    # below 2**40 the floats are twice as dense as above it: the allowance for the intercept
    # is half the ulp of the intercept itself (2**-14 here), and the intercept an ulp below
    # the best one, 2**40, is 2**-13 from it, twice that. (A mutant that took the ulp of the
    # offset mirrored about the intercept, 2**40 + 2**-13, allowed 2**-13 and called it
    # optimal; near 1e12 both lie in one binade, so no test above told them apart)
    X = np.random.default_rng(0).standard_normal((12, 4))
    y = np.full(12, 2.0**40)
    model = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact").fit(X, y)
    assert model.intercept_ == 2.0**40 and model.certify(X, y).is_optimal
    model.intercept_ = np.nextafter(model.intercept_, 0.0)
    certificate = model.certify(X, y)
    assert certificate.objective == 12 * 2.0**-26 / 2
    assert certificate.rounding_gap == 12 * 2.0**-28 / 2
    assert not certificate.is_optimal


def test_a_points_gap_is_polished_over_its_active_groups_alone(monkeypatch):
    # the re-solve over the point's nonzero groups, not every group of the program (a mutant
    # that counted zero groups active survived: the bound is as valid, the solve larger), and
    # by default (a mutant of polish=False by default survived: every caller passes it)
    from sklearn_convexcnn._certificate import solution_with_gap
    from sklearn_convexcnn._solvers import _native
    from sklearn_convexcnn._solvers._solution import Solution

    X, y = _data(10, 7, 0)
    geometry = resolve_geometry(None, 2, 1, 7)
    patches = extract_patches(X, geometry)
    formulation = make_formulation("average", None, "sum", geometry.grid_shape)
    gates = enumerate_gates(patches)
    program = formulation.operator(patches, gates)
    coef = np.zeros((2, gates.shape[1], 2))
    coef[0, 3] = [0.1, -0.2]  # (one active group of many)
    sizes = []
    solve_native = _native.solve_native

    def recording(program, y, **kwargs):
        sizes.append(program.n_patterns)
        return solve_native(program, y, **kwargs)

    monkeypatch.setattr(_native, "solve_native", recording)
    point = Solution(coef, 0.0, 1.0, True, "optimal", 1, "clarabel")
    certified = solution_with_gap(
        formulation, patches, gates, program, point, y - y.mean(), beta=0.05, loss="squared",
        fit_intercept=True,
    )  # fmt: skip
    assert gates.shape[1] > 1 and sizes == [1]
    # (its objective is the loss plus beta times the group's norm: a mutant that subtracted
    # the penalty survived, where the point above was the empty network)
    residuals = fit_values(program, coef, 0.0) - (y - y.mean())
    expected = 0.5 * residuals @ residuals + 0.05 * np.linalg.norm([0.1, -0.2])
    assert certified.objective == pytest.approx(expected, rel=1e-12)
    assert certified.duality_gap >= 0


def test_each_output_is_re_solved_over_its_own_neurons_groups(capsys):
    # (a mutant that counted every neuron as each output's survived: the bound is as valid,
    # each re-solve over every output's groups). One-vs-rest: a neuron serves one class
    clf, X, classes = _planted_classifier()
    clf.set_params(verbose=1).certify(X, classes, max_patterns=10)
    counts = [
        int(count)
        for count in re.findall(r"its network's (\d+) groups? re-solved", capsys.readouterr().out)
    ]
    neurons = np.count_nonzero(clf.network_.output_weights, axis=0)
    assert len(counts) == 3 and np.all(neurons > 0)
    assert np.all(np.asarray(counts) <= neurons)


def test_more_outputs_than_samples_are_certified_one_by_one():
    # (a mutant that sized the outputs' rounding floors by the samples survived: every fit
    # above had more samples than outputs; without an intercept the floors are all 0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    model = ConvexCNNRegressor(beta=0.1, kernel_size=2, n_patterns="exact", fit_intercept=False)
    certificate = model.fit(X, Y).certify(X, Y)
    assert len(certificate.output_gaps) == 5 and certificate.is_optimal
