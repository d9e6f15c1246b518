"""The recovered network, the losses and the solvers' shared arithmetic, against their
formulas written out by hand.

The estimators' tests compare fits with the convex optimum; these pin the pieces those fits
are read through (the forward pass in chunks, the penalties, the probabilities, the targets'
centring, the units, gaps and linear algebra of the solvers), each on a case whose answer
follows from its formula.
"""

import dataclasses
import pickle

import numpy as np
import pytest
from scipy.special import expit

from sklearn_convexcnn import _network
from sklearn_convexcnn._losses import (
    best_intercept,
    centred_targets,
    dual_vector,
    logistic_log_proba,
    logistic_proba,
    loss_value,
    mean,
    target_means,
)
from sklearn_convexcnn._network import RegionalCNN, TwoLayerCNN, neuron_penalty
from sklearn_convexcnn._solvers import _linalg
from sklearn_convexcnn._solvers._solution import (
    CVXPY_ACCURACY,
    Solution,
    certifiable_gap,
    cleaned_if_no_worse,
    gap_in_words,
    lower_of,
    relative_to,
    rounding_floor,
    unit_of,
    units,
)


class _MeanPooling:
    """Average pooling; every patch its own region."""

    def pool(self, activations):
        return activations.mean(axis=1)

    def regions(self, activations):
        return activations


def _network_and_patches(n_samples=7, n_outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    patches = rng.standard_normal((n_samples, 4, 3))
    network = TwoLayerCNN(
        filters=rng.standard_normal((5, 3)),
        output_weights=rng.standard_normal((5, n_outputs)),
        intercept=rng.standard_normal(n_outputs),
        pooling=_MeanPooling(),
    )
    return network, patches


def _forward_by_hand(network, patches):
    """``sum_j w_j mean_k (x_k . u_j)_+ + b``, one sample and neuron at a time."""
    f = np.tile(network.intercept, (len(patches), 1))
    for t, sample in enumerate(patches):
        for u, w in zip(network.filters, network.output_weights, strict=True):
            f[t] += w * np.maximum(sample @ u, 0.0).mean()
    return f


def test_the_forward_pass_in_chunks_is_the_formula(monkeypatch):
    # a chunk of 20 values is one sample of 4 patches x 5 neurons: 7 samples in 7 chunks, the
    # last alone (a chunk that dropped or repeated a sample changes the rows or their count)
    network, patches = _network_and_patches()
    expected = _forward_by_hand(network, patches)
    np.testing.assert_allclose(network.forward(patches), expected, rtol=1e-12)
    for values in (20, 40, 60):
        monkeypatch.setattr(_network, "_CHUNK_VALUES", values)
        np.testing.assert_allclose(network.forward(patches), expected, rtol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_the_squared_objective_is_half_the_squared_residuals_plus_the_penalty(offset):
    # the objective centres targets and outputs by the targets' means (for rounding): the
    # value is still that of the uncentred residuals, in every output
    network, patches = _network_and_patches()
    Y = np.random.default_rng(1).standard_normal((7, 2)) + [offset, -2 * offset]
    residuals = _forward_by_hand(network, patches) - Y
    expected = 0.5 * np.sum(residuals**2) + 0.3 * network.penalty()
    assert network.objective(patches, Y, 0.3, "squared") == pytest.approx(expected, rel=1e-10)


def test_the_squared_objective_of_targets_near_1e12_is_that_of_their_residuals():
    # (a mutant that dropped the centring survived: the test above shifts the targets by 1e3
    # only). Targets and intercept shifted by 1e12 together: uncentred, the outputs round to
    # 1.2e-4 and so do the residuals, 1e-4 of the objective. The reference is the network
    # on the same numbers less 1e12, which subtracts exactly
    network, patches = _network_and_patches()
    Y = np.random.default_rng(1).standard_normal((7, 2)) + 1e12
    shifted = dataclasses.replace(network, intercept=network.intercept + 1e12)
    reference = dataclasses.replace(network, intercept=shifted.intercept - 1e12)
    expected = reference.objective(patches, Y - 1e12, 0.3, "squared")
    assert shifted.objective(patches, Y, 0.3, "squared") == pytest.approx(expected, rel=1e-12)


def test_the_logistic_objective_is_the_sum_of_softplus_of_the_margins():
    network, patches = _network_and_patches()
    Y = np.where(np.random.default_rng(2).random((7, 2)) < 0.5, -1.0, 1.0)
    margins = Y * _forward_by_hand(network, patches)
    expected = np.sum(np.log1p(np.exp(-margins))) + 0.3 * network.penalty()
    assert network.objective(patches, Y, 0.3, "logistic") == pytest.approx(expected, rel=1e-10)


def test_a_neurons_penalty_is_the_square_of_its_l1_norm_across_outputs():
    # 0.5 * (||u||^2 + (sum_o |w_o|)^2): weights 3 and -4 in two outputs cost (3 + 4)^2, not
    # weight decay's 3^2 + 4^2 (doc/formulations.md §5.3)
    filters = np.array([[1.0, 2.0], [0.0, 0.0]])
    weights = np.array([[3.0, -4.0], [0.0, 1.0]])
    assert neuron_penalty(filters, weights) == 0.5 * (5.0 + 49.0 + 1.0)


def test_a_regional_neurons_penalty_sums_its_weights_magnitudes_over_regions():
    # weights of opposite signs in two regions do not cancel: |2| + |-2| + |1|, squared
    filters = np.array([[3.0, 4.0]])
    weights = np.array([[[2.0], [-2.0], [1.0]]])  # (1 neuron, 3 regions, 1 output)
    network = RegionalCNN(filters, weights, np.zeros(1), pooling=_MeanPooling())
    assert network.penalty() == 0.5 * (25.0 + 25.0)


def test_a_neuron_without_output_weights_splits_its_penalty_equally():
    # its filter's 0.5 ||u||^2 in n_outputs equal shares, so that the split sums to penalty()
    filters = np.array([[2.0, 0.0], [0.0, 1.0]])
    weights = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, 1.0]])
    split = TwoLayerCNN(filters, weights, np.zeros(3), pooling=None).penalty_by_output()
    second = 0.5 * (1.0 + 16.0)
    np.testing.assert_allclose(split, [2.0 / 3, 2.0 / 3 + 0.75 * second, 2.0 / 3 + 0.25 * second])


def test_a_regional_neurons_penalty_is_split_by_its_weights_in_each_output():
    # an output's share is its weights' l1 norm over every region, of the neuron's across
    # outputs: |1| + |-3| = 4 of 5 in the first output, |1| of 5 in the second
    filters = np.array([[0.0, 2.0]])
    weights = np.array([[[1.0, 0.0], [-3.0, 1.0]]])  # (1 neuron, 2 regions, 2 outputs)
    network = RegionalCNN(filters, weights, np.zeros(2), pooling=None)
    whole = 0.5 * (4.0 + 25.0)
    assert network.penalty() == whole
    np.testing.assert_allclose(network.penalty_by_output(), [0.8 * whole, 0.2 * whole])


def test_a_network_prints_its_width_and_the_shapes_of_its_arrays():
    network, _ = _network_and_patches()
    arrays = (
        "filters=<array of shape (5, 3)>, output_weights=<array of shape (5, 2)>, "
        "intercept=<array of shape (2,)>"
    )
    assert repr(network) == f"TwoLayerCNN(n_neurons=5, {arrays}, pooling=<_MeanPooling>)"
    none = TwoLayerCNN(network.filters, network.output_weights, network.intercept, None)
    assert repr(none) == f"TwoLayerCNN(n_neurons=5, {arrays}, pooling=None)"


def test_an_unpickled_network_is_read_only_again():
    # pickling restores writable arrays: an edit in place would skip an assignment's checks
    network, _ = _network_and_patches()
    copy = pickle.loads(pickle.dumps(network))
    np.testing.assert_array_equal(copy.filters, network.filters)
    for name in ("filters", "output_weights", "intercept"):
        assert not getattr(copy, name).flags.writeable


def test_a_network_copies_the_arrays_it_is_given():
    # (a mutant that made the caller's own arrays read-only, instead of copies, survived): the
    # caller's arrays stay writable, and an edit to them does not move the network's outputs
    network, patches = _network_and_patches()
    filters = np.array(network.filters)
    copy = TwoLayerCNN(filters, network.output_weights, network.intercept, _MeanPooling())
    before = copy.forward(patches)
    assert filters.flags.writeable
    filters[:] = 0.0
    np.testing.assert_array_equal(copy.forward(patches), before)


def test_binary_probabilities_are_the_expit_of_the_score_for_the_second_class():
    scores = np.array([-30.0, -1.0, 0.0, 2.0, 800.0])
    proba = logistic_proba(scores)
    np.testing.assert_allclose(proba[:, 1], expit(scores))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the logarithm from the scores: finite where the probability rounds to 0 (log_expit)
    log_proba = logistic_log_proba(scores)
    np.testing.assert_allclose(log_proba[1:4], np.log(proba[1:4]), rtol=1e-12)
    tail = np.log1p(np.exp(-30.0))  # (-log expit(30), which log(1 - expit(-30)) loses)
    np.testing.assert_allclose(log_proba[0], [-tail, -30.0 - tail], rtol=1e-12)
    assert log_proba[-1, 0] == -800.0 and log_proba[-1, 1] == 0.0


def test_one_vs_rest_probabilities_are_the_classes_expits_normalized_per_sample():
    scores = np.array([[0.0, 1.0, -2.0], [3.0, 3.0, 3.0], [-900.0, -905.0, -910.0]])
    proba = logistic_proba(scores)
    expected = expit(scores[:2]) / expit(scores[:2]).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba[:2], expected, rtol=1e-12)
    np.testing.assert_allclose(proba[1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-12)
    # far from the data every expit underflows: the normalization in log space still gives
    # exp(s) shares (expit(s) ~ exp(s) there), exactly those of 1, e^-5 and e^-10
    shares = np.exp([0.0, -5.0, -10.0])
    np.testing.assert_allclose(proba[2], shares / shares.sum(), rtol=1e-9)
    np.testing.assert_allclose(logistic_log_proba(scores), np.log(proba), rtol=1e-12)


def test_the_mean_of_the_targets_is_their_sum_correctly_rounded():
    # np.mean's sum gives 0 on the first (1e16 + 1 rounds to 1e16, twice); the exact sum is 2
    assert mean(np.array([1e16, 1.0, 1.0, -1e16])) == 0.5
    assert mean(np.array([1e16, 2.0, -1e16])) == 2.0 / 3
    assert np.isnan(mean(np.array([])))
    columns = [[1e16, 1.0], [1.0, 3.0], [1.0, 5.0], [-1e16, 7.0]]
    np.testing.assert_array_equal(target_means(columns), [0.5, 4.0])


def test_equal_targets_are_centred_to_exact_zeros():
    # what the mean's rounding leaves of equal targets would be scaled to unit size by the
    # solvers: they are zeros, and the offset is their mean
    for value in (0.1, 1e8 + 0.3, -7.7e-5, 1 / 3):
        y = np.full(13, value)
        centred, offset = centred_targets(y, "squared", True)
        np.testing.assert_array_equal(centred, np.zeros(13))
        assert offset == mean(y)


def test_uncentred_targets_are_a_copy():
    # the solvers' targets may be edited in place: never the caller's array
    y = np.array([1.0, -1.0, 1.0])
    for loss, fit_intercept in [("logistic", True), ("squared", False)]:
        centred, offset = centred_targets(y, loss, fit_intercept)
        assert offset == 0.0 and not np.shares_memory(centred, y)
        np.testing.assert_array_equal(centred, y)


def test_the_best_logistic_intercept_is_the_log_odds_of_the_positive_labels():
    y = np.array([1.0, 1.0, 1.0, -1.0])
    assert best_intercept("logistic", y) == pytest.approx(np.log(3.0), rel=1e-12)
    # labels all of one sign: the log-odds of 1 - 1e-12, finite
    assert best_intercept("logistic", np.ones(5)) == pytest.approx(np.log(1e12), rel=1e-6)
    assert best_intercept("logistic", -np.ones(5)) == pytest.approx(-np.log(1e12), rel=1e-6)
    assert best_intercept("squared", np.array([1.0, 2.0, 6.0])) == 3.0


# The solvers' shared arithmetic (_solvers/_solution.py, _solvers/_linalg.py)

EPS = np.finfo(float).eps


def test_sizes_out_of_the_range_solved_as_given_move_by_whole_powers_of_2_to_the_20():
    # floor, not truncation toward zero: 2**-30 is 2**-25 below 2**-5, two steps of 2**20 up
    assert unit_of(2.0**-30) == 2.0**40
    assert unit_of(2.0**-25) == 2.0**20 and unit_of(2.0**-26) == 2.0**40
    assert unit_of(2.0**55) == 2.0**-60  # (to 2**-5)
    assert unit_of(np.nan) == unit_of(-3.0) == 1.0


def test_the_targets_unit_is_their_spread_about_the_intercept_where_it_is_fitted():
    # targets 2**20 + {0, 1}: a spread of 0.5 about their mean (as given), a size of 2**20
    # about zero (2**-20); logistic labels are never scaled
    y = 2.0**20 + np.array([0.0, 1.0])
    assert units(2.0**25, y, loss="squared", fit_intercept=True) == (2.0**-20, 1.0)
    assert units(1.0, y, loss="squared", fit_intercept=False) == (1.0, 2.0**-20)
    assert units(2.0**-30, 1e9 * y, loss="logistic", fit_intercept=False) == (2.0**40, 1.0)


def test_residue_is_dropped_where_it_costs_at_most_the_slack():
    coef, cleaned = np.array([1.0, 1e-9]), np.array([1.0, 0.0])
    values = {1e-9: 100.0, 0.0: 101.0}

    def value(point):
        return values[point[1]]

    assert cleaned_if_no_worse(coef, cleaned, value, 0.01) is cleaned  # 1 % above: dropped
    assert cleaned_if_no_worse(coef, cleaned, value, 0.0099) is coef
    values[0.0] = 100.0  # (no worse at all: dropped without slack)
    assert cleaned_if_no_worse(coef, cleaned, value, 0.0) is cleaned


def test_the_certifiable_gap_is_rounding_capped_at_the_solvers_accuracy_plus_the_floor():
    y = np.array([3.0, 4.0])  # ||y||^2 = 25
    floor = 16 * (EPS * 5.0) ** 2
    assert rounding_floor(y) == floor
    assert certifiable_gap(y, 1.0) == 16 * EPS * 25 + floor  # (rounding below 1e-5 of it)
    assert certifiable_gap(y, 1e-12) == CVXPY_ACCURACY * 1e-12 + floor


@pytest.mark.parametrize(
    "gap, said",
    [
        (0.0, "0.0e+00 (relative 0.0e+00)"),
        (1e-3, "1.0e-03 (relative 5.0e-04)"),
        (-2e-5, "-2.0e-05 (relative -1.0e-05: zero to the solver's accuracy)"),
        (-2.1e-5, "-2.1e-05 (relative -1.0e-05: below zero, the point is outside its program)"),
    ],
)
def test_a_gap_is_said_with_its_relative_value_and_below_zero_what_it_means(gap, said):
    # within CVXPY_ACCURACY (1e-5) of the objective, 2, a gap below zero is rounding
    assert gap_in_words(gap, 2.0) == said


def test_a_gap_relative_to_a_zero_objective_is_finite_and_silent():
    with np.errstate(all="raise"):
        assert relative_to(1e-20, 0.0) == 1e-20 / 1e-300
        assert relative_to(0.0, -0.0) == 0.0


def _point(objective, gap):
    return Solution(np.zeros(1), 0.0, objective, False, "stalled", 5, "native", gap)


def test_the_lower_of_two_points_is_certified_by_the_better_of_their_bounds():
    # bounds 3 - 2 = 1 and 2 - 0.5 = 1.5 of the same optimum: the lower point, at 2, is 0.5
    # from the better bound, certified where the target is 0.5 or more
    lower = lower_of(_point(3.0, 2.0), _point(2.0, 0.5), lambda objective: 0.1 * objective)
    assert (lower.objective, lower.duality_gap, lower.converged) == (2.0, 0.5, False)
    assert lower.status == "stalled"
    certified = lower_of(_point(3.0, 2.0), _point(2.0, 0.5), lambda objective: 0.25 * objective)
    assert (certified.duality_gap, certified.converged, certified.status) == (0.5, True, "optimal")


def test_of_two_points_of_equal_objective_the_first_is_kept():
    first, second = _point(2.0, 1.0), _point(2.0, 1.5)
    first.coef, second.coef = np.array([1.0]), np.array([2.0])
    assert lower_of(first, second, lambda objective: 0.0).coef[0] == 1.0


def test_the_null_space_of_fewer_rows_than_variables_is_complete_and_orthonormal():
    rows = np.array([[1.0, 1.0, 0.0, 0.0]])
    Z = _linalg.null_space(rows, 4)
    assert Z.shape == (4, 3)
    np.testing.assert_allclose(Z.T @ Z, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rows @ Z, 0.0, atol=1e-12)
    np.testing.assert_array_equal(_linalg.null_space(np.zeros((0, 3)), 3), np.eye(3))
    assert _linalg.null_space(np.zeros((2, 3)), 3).shape == (3, 3)  # (rows of zeros: rank 0)


def test_a_row_a_million_times_smaller_still_counts_in_the_null_space():
    # rank is relative to the largest singular value at 1e-9: 1e-6 is a constraint
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 1e-6, 0.0]])
    Z = _linalg.null_space(rows, 3)
    assert Z.shape == (3, 1)
    np.testing.assert_allclose(np.abs(Z[:, 0]), [0.0, 0.0, 1.0], atol=1e-12)
    assert _linalg.null_space(np.array([[1.0, 0.0, 0.0], [0.0, 1e-10, 0.0]]), 3).shape == (3, 2)


def test_rows_of_rounding_residue_count_as_zero_against_their_scale():
    # rows that vanish but for rounding (1e-16 of the rows they were computed from) are full
    # rank against their own largest singular value, and no constraint against the scale
    rows = 1e-16 * np.random.default_rng(0).standard_normal((3, 4))
    assert _linalg.null_space(rows, 4).shape == (4, 1)
    Z = _linalg.null_space(rows, 4, scale=1.0)
    np.testing.assert_allclose(Z.T @ Z, np.eye(4), atol=1e-12)
    # (a scale below the rows' own changes nothing)
    assert _linalg.null_space(rows, 4, scale=1e-30).shape == (4, 1)


def test_the_logistic_hessian_weights_are_p_times_one_minus_p():
    f, y = np.array([0.0, np.log(3.0), 2.0]), np.array([1.0, -1.0, 1.0])
    expected = [0.25, 0.1875, np.exp(2.0) / (1 + np.exp(2.0)) ** 2]  # (p = 1/2, 1/4, expit(2))
    np.testing.assert_allclose(_linalg.hessian_weights("logistic", f, y), expected, rtol=1e-12)
    np.testing.assert_array_equal(_linalg.hessian_weights("squared", f, y), np.ones(3))


@pytest.mark.parametrize("rows", [None, 3, 4, 100])
def test_a_weighted_gram_in_blocks_of_rows_is_the_whole_product(rows):
    rng = np.random.default_rng(0)
    B, weights = rng.standard_normal((10, 4)), rng.random(10)
    expected = B.T @ (weights[:, None] * B)
    np.testing.assert_allclose(_linalg.weighted_gram(B, weights, rows=rows), expected, rtol=1e-12)


def test_a_newton_step_on_a_singular_hessian_is_the_least_norm_solution():
    hessian, gradient = np.diag([2.0, 0.0]), np.array([4.0, 0.0])
    np.testing.assert_allclose(_linalg.newton_step(hessian, gradient), [-2.0, 0.0], atol=1e-15)
    root = np.random.default_rng(0).standard_normal((3, 3))
    hessian, gradient = root @ root.T + np.eye(3), np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(
        _linalg.newton_step(hessian, gradient), -np.linalg.solve(hessian, gradient), rtol=1e-12
    )


def test_the_regional_forward_pass_weighs_each_region_by_its_own_weight():
    # sum_j sum_l W[j, l, o] (x_l . u_j)_+ + b, every patch its own region, by hand; 7 samples
    # and 4 regions, so that no mix-up of the samples' and the regions' axes fits
    rng = np.random.default_rng(3)
    patches = rng.standard_normal((7, 4, 3))
    network = RegionalCNN(
        filters=rng.standard_normal((5, 3)),
        output_weights=rng.standard_normal((5, 4, 2)),
        intercept=rng.standard_normal(2),
        pooling=_MeanPooling(),
    )
    expected = np.tile(network.intercept, (7, 1))
    for t, sample in enumerate(patches):
        for u, weights in zip(network.filters, network.output_weights, strict=True):
            for region, w in zip(sample, weights, strict=True):
                expected[t] += w * max(region @ u, 0.0)
    np.testing.assert_allclose(network.forward(patches), expected, rtol=1e-12)


def test_a_neurons_penalty_is_split_by_its_weights_also_where_they_sum_below_1():
    # (a mutant that split weights summing to at most 1 equally survived): 0.25 and 0.5 in
    # two outputs are shares of 1/3 and 2/3
    filters = np.array([[1.0, 1.0]])
    weights = np.array([[0.25, -0.5]])
    split = TwoLayerCNN(filters, weights, np.zeros(2), pooling=None).penalty_by_output()
    whole = 0.5 * (2.0 + 0.75**2)
    np.testing.assert_allclose(split, [whole / 3, 2 * whole / 3])


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_dual_vector_is_minus_the_losss_gradient(loss):
    # v = -dloss/df, by central differences, one entry at a time (mutants of both losses'
    # dual vectors survived here: only the solvers read them)
    rng = np.random.default_rng(4)
    f = rng.standard_normal(6)
    y = np.where(rng.random(6) < 0.5, -1.0, 1.0) if loss == "logistic" else rng.normal(size=6)
    step = 1e-6
    gradient = [
        (loss_value(loss, f + step * e, y) - loss_value(loss, f - step * e, y)) / (2 * step)
        for e in np.eye(6)
    ]
    np.testing.assert_allclose(dual_vector(loss, f, y), -np.array(gradient), rtol=1e-6)


def test_a_single_target_or_none_are_centred_to_their_mean():
    # (mutants that compared the targets with y[1], or took one target for none, survived:
    # every case above had many)
    centred, offset = centred_targets(np.array([2.5]), "squared", True)
    np.testing.assert_array_equal(centred, [0.0])
    assert offset == 2.5
    centred, offset = centred_targets(np.zeros(0), "squared", True)
    assert centred.shape == (0,) and np.isnan(offset)


@pytest.mark.parametrize(
    "values, sizes", [(40, [2, 2, 2, 1]), (20, [1] * 7), (10, [1] * 7), (10**6, [7])]
)
def test_the_forward_pass_holds_as_many_samples_as_a_chunk_of_values_takes(
    monkeypatch, values, sizes
):
    # each sample's map is 4 patches x 5 neurons, 20 values: the chunks bound the memory, which
    # the outputs do not show, and a map wider than a chunk is a sample at a time (mutants that
    # sized a chunk by patches / neurons, at most one value a sample, or let it be 0 samples,
    # survived)
    network, patches = _network_and_patches()
    seen = []
    readout = network._readout

    def recording(chunk):
        seen.append(len(chunk))
        return readout(chunk)

    monkeypatch.setattr(network, "_readout", recording)
    monkeypatch.setattr(_network, "_CHUNK_VALUES", values)
    np.testing.assert_allclose(network.forward(patches), _forward_by_hand(network, patches))
    assert seen == sizes


def test_a_regional_network_prints_the_shapes_of_its_arrays():
    # (a mutant that gave RegionalCNN the dataclasses' repr, every array whole, survived)
    network = RegionalCNN(np.ones((2, 3)), np.ones((2, 4, 1)), np.zeros(1), pooling=None)
    assert repr(network) == (
        "RegionalCNN(n_neurons=2, filters=<array of shape (2, 3)>, output_weights=<array of "
        "shape (2, 4, 1)>, intercept=<array of shape (1,)>, pooling=None)"
    )
