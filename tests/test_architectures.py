"""Circular, three-layer and linear CNNs (doc/formulations.md §5.1, §7, §8, §9).

Every recovered network is evaluated by a naive forward pass written here with explicit loops
(circular convolutions included), never by the library's own network code.
"""

import dataclasses
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor

from ._checks import assert_checks_listed, parametrize_checks, run_check

# --------------------------------------------------------------------------------------------
# naive references


def naive_circular_convolution(u, v):
    """``(u * v)_t = sum_s u_s v_{(t - s) mod d}`` by loops."""
    d = len(u)
    return np.array([sum(u[s] * v[(t - s) % d] for s in range(d)) for t in range(d)])


def naive_circular_objective(X, Y, layer_filters, output_weights, intercept, beta, activation):
    """``0.5 ||f - Y||^2 + beta/2 (||u_last||^2 + ||w||^2)``, ``f = sum_j w_j act(x . q_j)``."""
    n_layers_minus_1, n_neurons, _ = layer_filters.shape
    filters = []
    for j in range(n_neurons):
        q = layer_filters[-1, j]
        for layer in range(n_layers_minus_1 - 2, -1, -1):
            q = naive_circular_convolution(layer_filters[layer, j], q)
        filters.append(q)
    value = 0.0
    for x, targets in zip(X, Y, strict=True):
        for output, target in enumerate(targets):
            f = intercept[output]
            for j, q in enumerate(filters):
                pre = sum(x[t] * q[t] for t in range(len(x)))
                f += output_weights[j, output] * (max(pre, 0.0) if activation == "relu" else pre)
            value += 0.5 * (f - target) ** 2
    penalty = float(np.sum(layer_filters[-1] ** 2) + np.sum(output_weights**2))
    return value + 0.5 * beta * penalty


def naive_patches(x, kernel):
    return [x[start : start + kernel] for start in range(len(x) - kernel + 1)]


def naive_three_layer_objective(X, y, est, beta, kernel):
    """Branches ``(sum_t w1_t mean_k (x_k . u_t)_+)_+ w2_j``; penalty ``||w1_j||_1^2 + w2_j^2``."""
    value = 0.0
    n_branches = est.output_weights_.shape[0]
    for x, target in zip(X, y, strict=True):
        windows = naive_patches(x, kernel)
        f = est.intercept_[0]
        for j in range(n_branches):
            hidden = 0.0
            for u, w1, branch in zip(est.filters_, est.middle_weights_, est.branches_, strict=True):
                if branch == j:
                    hidden += w1 * sum(max(float(p @ u), 0.0) for p in windows) / len(windows)
            f += est.output_weights_[j, 0] * max(hidden, 0.0)
        value += 0.5 * (f - target) ** 2
    penalty = 0.0
    for j in range(n_branches):
        l1 = sum(
            abs(w1) for w1, b in zip(est.middle_weights_, est.branches_, strict=True) if b == j
        )
        penalty += l1**2 + est.output_weights_[j, 0] ** 2
    return value + 0.5 * beta * penalty


def naive_linear_objective(X, y, est, beta, kernel):
    value = 0.0
    weights = est.output_weights_
    for x, target in zip(X, y, strict=True):
        windows = naive_patches(x, kernel)
        f = est.intercept_[0]
        for j, u in enumerate(est.filters_):
            maps = [float(p @ u) for p in windows]
            if weights.ndim == 3:  # no pooling: one weight per patch
                f += sum(weights[j, k, 0] * m for k, m in enumerate(maps))
            else:
                f += weights[j, 0] * sum(maps) / len(maps)
        value += 0.5 * (f - target) ** 2
    return value + 0.5 * beta * float(np.sum(est.filters_**2) + np.sum(weights**2))


# --------------------------------------------------------------------------------------------
# data


def low_rank_data(seed, n, d, rank):
    """Gaussian data of the given rank: few enough arrangement cells to sample them all."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    return X, rng.standard_normal(n)


def cover_bound(n_hyperplanes, rank):
    """Number of cells of a central arrangement in general position (doc/formulations.md §3)."""
    from math import comb

    return 2 * sum(comb(n_hyperplanes - 1, j) for j in range(rank))


# --------------------------------------------------------------------------------------------
# circular CNNs


@pytest.mark.parametrize("seed", [0, 1])
def test_circular_three_layers_is_exact(seed):
    X, y = low_rank_data(seed, 12, 8, 3)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=0.05, n_patterns="exact", random_state=seed, tol=1e-8
    ).fit(X, y)
    assert reg.is_exact_
    assert reg.n_patterns_ == cover_bound(12, 3)  # every cell: the global optimum
    assert reg.layer_filters_.shape == (2, reg.filters_.shape[0], 8)
    # inner filters have unit norm (doc/formulations.md §7.2 recovery)
    np.testing.assert_allclose(np.linalg.norm(reg.layer_filters_[0], axis=1), 1.0, rtol=1e-10)
    value = naive_circular_objective(
        X, y[:, None], reg.layer_filters_, reg.output_weights_, reg.intercept_, 0.05, "relu"
    )
    # (to rounding: the point is cleaned of CVXPY's residue as a two-layer one is, 1.1e-6
    # apart in 96 fits when groups were dropped by their norm instead; and to the interior
    # point's zero frequencies, left at 1e-12 to 1e-11 of their filter's largest, about the
    # rtol=1e-12 below which the network's factorization drops them: 4e-12 and 1.1e-11 apart
    # since the native restricted QPs are centred, _restricted.solve_qp's target)
    assert value == pytest.approx(reg.objective_, rel=1e-10)
    # the certified bound: the program's value less its duality gap, within the 1e-3 of the
    # objective above which CVXPY's point would have been warned about
    assert reg.lower_bound_ == pytest.approx(reg.objective_ - max(reg.duality_gap_, 0), rel=1e-12)
    assert reg.objective_ * (1 - 1e-3) <= reg.lower_bound_ <= reg.objective_
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-10)


@pytest.mark.parametrize("beta", [1e6, 1e308])
def test_circular_cnns_far_above_beta_max_are_empty_without_a_conic_solve(beta, capfd):
    # the cone-free dual norm bounds every price: there the empty network is certified at once.
    # CVXPY's solvers were given these programs, and SCS printed an error at beta=1e308
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 12))
    y = X[:, 1] + np.maximum(X[:, 2], 0)
    reg = ConvexCNNRegressor(beta=beta, architecture="circular", n_patterns=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(X, y)
    assert reg.filters_.shape[0] == 0
    assert reg.objective_ == pytest.approx(0.5 * np.sum((y - y.mean()) ** 2), rel=1e-12)
    assert capfd.readouterr() == ("", "")
    reg.set_params(verbose=1).fit(X, y)
    assert "no conic solve" in capfd.readouterr().out


def test_circular_matches_the_reference_computation():
    # doc/formulations.md §7.2-7.3 (n=12, d=8, rank 3, beta=0.05, exact P=134), same data:
    # values of the paper notes' own verification, a computation outside this package made
    # before it (its 3-layer optimum also bounded by 20 torch restarts, none below it), so the
    # package's program and solver are checked against another implementation to 1e-7
    X, y = low_rank_data(0, 12, 8, 3)
    params = dict(architecture="circular", beta=0.05, n_patterns="exact", fit_intercept=False)
    exact = ConvexCNNRegressor(tol=1e-8, **params).fit(X, y)
    assert exact.n_patterns_ == 134
    assert exact.regularized_objective(X, y) == pytest.approx(0.3042562404, rel=1e-7)
    deep = ConvexCNNRegressor(n_layers=4, tol=1e-8, **params).fit(X, y)
    assert deep.lower_bound_ == pytest.approx(0.13156, abs=1e-5)  # weighted l1 lower bound
    # the realized upper bound depends on the recovered point; the reference had 0.18651, and
    # its output layer refit here (CircularFormulation.refit_output_weights) 0.18480
    assert 0.18 < deep.objective_ < 0.19


def test_circular_classifier_multiclass_is_exact():
    X, _ = low_rank_data(3, 15, 6, 2)
    y = np.arange(15) % 3
    clf = ConvexCNNClassifier(
        architecture="circular", beta=0.1, n_patterns=500, random_state=0, tol=1e-8
    ).fit(X, y)
    Y = np.where(y[:, None] == np.arange(3), 1.0, -1.0)
    value = naive_circular_objective(
        X, Y, clf.layer_filters_, clf.output_weights_, clf.intercept_, 0.1, "relu"
    )
    assert value == pytest.approx(clf.objective_, rel=1e-6)
    assert clf.score(X, y) > 0.5


@pytest.mark.parametrize("n_layers", [4, 5])
def test_deep_circular_is_a_relaxation_with_honest_bounds(n_layers):
    X, y = low_rank_data(0, 10, 8, 2)
    reg = ConvexCNNRegressor(
        architecture="circular",
        n_layers=n_layers,
        beta=0.05,
        n_patterns="exact",
        random_state=0,
        tol=1e-8,
    ).fit(X, y)
    assert reg.n_patterns_ == cover_bound(10, 2)  # every cell: a lower bound of the optimum
    assert not reg.is_exact_
    assert reg.layer_filters_.shape[0] == n_layers - 1
    np.testing.assert_allclose(np.linalg.norm(reg.layer_filters_[:-1], axis=2), 1.0, rtol=1e-10)
    realized = naive_circular_objective(
        X, y[:, None], reg.layer_filters_, reg.output_weights_, reg.intercept_, 0.05, "relu"
    )
    # objective_ is the realized network (upper bound), lower_bound_ the convex value
    assert realized == pytest.approx(reg.objective_, rel=1e-6)
    assert reg.lower_bound_ < reg.objective_
    # the relaxation's optimum from another solver: each bound is below the other's value
    native = clone(reg).set_params(solver="native").fit(X, y)
    for a, b in [(reg, native), (native, reg)]:
        assert a.lower_bound_ <= b.lower_bound_ + b.duality_gap_ + 1e-9 * b.objective_
    assert native.lower_bound_ == pytest.approx(reg.lower_bound_, rel=1e-4)


@pytest.mark.parametrize("n_layers", [4, 20])
def test_deep_circular_networks_have_their_output_layer_refit(monkeypatch, n_layers):
    # a review: the realized network of the relaxation cost 0.4651 (4 layers) and 2.094 (20)
    # where the network without neurons costs 0.4624; its output weights, refit as a lasso over
    # its neurons, can only do better
    from sklearn_convexcnn._formulations.circular import CircularFormulation

    rng = np.random.default_rng(6)
    X = rng.standard_normal((15, 3))
    y = np.maximum(X[:, 0] - X[:, 1], 0)
    params = dict(architecture="circular", n_layers=n_layers, n_patterns=8, random_state=0)
    # (the refit alone: not the padded 3-layer network, which can replace it, nor the polish)
    monkeypatch.setattr(
        ConvexCNNRegressor, "_no_worse_than_shallow", lambda self, _, net, *args: (net, None)
    )
    monkeypatch.setattr(ConvexCNNRegressor, "_polished", lambda self, _, net, *args: net)
    refit = ConvexCNNRegressor(**params).fit(X, y)
    empty = 0.5 * np.sum((y - y.mean()) ** 2)
    assert refit.objective_ == pytest.approx(refit.regularized_objective(X, y), rel=1e-12)
    monkeypatch.setattr(CircularFormulation, "refit_output_weights", lambda self, net, *_: net)
    realized = ConvexCNNRegressor(**params).fit(X, y)
    assert realized.objective_ > empty  # (the case of the review)
    assert refit.objective_ < empty
    assert refit.lower_bound_ == realized.lower_bound_  # (the same program)
    np.testing.assert_allclose(np.linalg.norm(refit.layer_filters_[:-1], axis=2), 1.0)


def random_circular_network(rng, n_layers, n_neurons, d, n_outputs, intercept):
    """A circular CNN of unit inner filters; each neuron serves one output, the first two
    all of them (where the penalty's l1 norm across outputs matters)."""
    from sklearn_convexcnn._formulations.circular import CircularCNN

    layers = rng.standard_normal((n_layers - 1, n_neurons, d))
    layers[:-1] /= np.linalg.norm(layers[:-1], axis=-1, keepdims=True)
    weights = rng.standard_normal((n_neurons, n_outputs))
    weights[2:] *= np.arange(n_neurons - 2)[:, None] % n_outputs == np.arange(n_outputs)
    bias = rng.standard_normal(n_outputs) if intercept else np.zeros(n_outputs)
    return CircularCNN(layer_filters=layers, output_weights=weights, intercept=bias)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("intercept", [True, False])
def test_circular_objective_gradient_matches_finite_differences(loss, n_outputs, intercept):
    from sklearn_convexcnn._formulations.circular import objective_and_gradient

    rng = np.random.default_rng(n_outputs)
    network = random_circular_network(rng, 5, 6, 7, n_outputs, intercept)
    patches = rng.standard_normal((12, 1, 7))
    Y = rng.standard_normal((12, n_outputs))
    if loss == "logistic":
        Y = np.sign(Y)
    value, gradients = objective_and_gradient(network, patches, Y, 0.3, loss)
    assert value == pytest.approx(network.objective(patches, Y, 0.3, loss), rel=1e-12)
    fields = ["layer_filters", "output_weights", "intercept"]
    for field, gradient in zip(fields, gradients, strict=True):
        array = np.array(getattr(network, field), dtype=float)
        numeric = np.empty_like(array)
        for index in np.ndindex(array.shape):
            moved = []
            for step in (1e-6, -1e-6):
                shifted = array.copy()
                shifted[index] += step
                net = dataclasses.replace(network, **{field: shifted})
                moved.append(net.objective(patches, Y, 0.3, loss))
            numeric[index] = (moved[0] - moved[1]) / 2e-6
        np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6 * abs(value))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_polishs_gradient_on_the_unit_sphere_matches_finite_differences(loss, fit_intercept):
    # the polish moves raw inner filters, divided by their norms: its gradient is the
    # objective's through that division, and leaves the intercept out where it is fixed
    from sklearn_convexcnn._formulations.circular import _sphere_value_and_gradient

    rng = np.random.default_rng(4)
    network = random_circular_network(rng, 4, 5, 6, 1, intercept=True)
    X = rng.standard_normal((10, 6))
    y = rng.standard_normal((10, 1))
    if loss == "logistic":
        y = np.sign(y)
    layers = np.array(network.layer_filters)
    layers[:-1] *= rng.uniform(0.5, 2.0, size=layers[:-1].shape[:-1] + (1,))  # (off the sphere)
    intercept = None if fit_intercept else np.array(network.intercept)
    theta = np.concatenate(
        [layers.ravel(), network.output_weights[:, 0]]
        + ([network.intercept] if fit_intercept else [])
    )
    args = (layers.shape, X, y, 0.2, loss, True, intercept)
    value, gradient = _sphere_value_and_gradient(theta, *args)
    on_sphere = layers / np.concatenate(
        [np.linalg.norm(layers[:-1], axis=-1, keepdims=True), np.ones((1, 5, 1))]
    )
    expected = dataclasses.replace(network, layer_filters=on_sphere)
    assert value == pytest.approx(expected.objective(X[:, None], y, 0.2, loss), rel=1e-12)
    numeric = np.empty_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        numeric[i] = (
            _sphere_value_and_gradient(theta + step, *args)[0]
            - _sphere_value_and_gradient(theta - step, *args)[0]
        ) / 2e-6
    assert len(gradient) == layers.size + 5 + fit_intercept
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6 * value)


def polish_problem(estimator, seed):
    rng = np.random.default_rng(seed)
    if estimator == "classifier":
        X = rng.standard_normal((20, 8))
        return X, (X[:, 0] * X[:, 3] + 0.3 * rng.standard_normal(20) > 0).astype(int)
    if estimator == "two outputs":
        X = rng.standard_normal((15, 8))
        return X, rng.standard_normal((15, 2))
    X = rng.standard_normal((15, 8))
    return X, rng.standard_normal(15)


@pytest.mark.parametrize(
    "estimator, n_layers, fit_intercept, seed",
    [
        ("regressor", 4, True, 1),
        ("regressor", 6, True, 3),
        ("regressor", 5, False, 0),
        ("two outputs", 4, True, 2),
        ("classifier", 4, True, 0),
        ("classifier", 5, False, 1),
    ],
)
def test_deep_circular_networks_are_polished(monkeypatch, estimator, n_layers, fit_intercept, seed):
    # an audit: L-BFGS from the fitted network's own weights lowered objective_ by 15-74 %;
    # both candidates are polished, the realized network and the padded 3-layer one
    from sklearn_convexcnn._formulations.circular import CircularFormulation

    X, y = polish_problem(estimator, seed)
    polished = CircularFormulation.polished
    before = []

    def spy(self, network, patches, Y, beta, loss, fit_intercept):
        before.append(network.objective(patches, Y, beta, loss))
        return polished(self, network, patches, Y, beta, loss, fit_intercept)

    monkeypatch.setattr(CircularFormulation, "polished", spy)
    Estimator = ConvexCNNClassifier if estimator == "classifier" else ConvexCNNRegressor
    loss = "logistic" if estimator == "classifier" else "squared"
    est = Estimator(
        architecture="circular", n_layers=n_layers, beta=0.2, n_patterns=16, loss=loss,
        fit_intercept=fit_intercept, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert len(before) == 2
    assert est.objective_ < 0.9 * min(before)
    # (lower_bound_ bounds the program of the sampled patterns only, which the polish may
    # leave: objective_ 1.2031 against 1.2073 on the 5-layer classifier)
    assert est.regularized_objective(X, y) == pytest.approx(est.objective_, rel=1e-12)
    network = est.network_
    f = network.forward(X[:, None, :])
    scores = est.decision_function(X) if estimator == "classifier" else est.predict(X)
    np.testing.assert_allclose(scores, f.reshape(scores.shape), rtol=1e-12, atol=1e-12)
    if not fit_intercept:
        np.testing.assert_array_equal(network.intercept, 0.0)
    # inner filters of norm 1; each neuron balanced and serving one output
    np.testing.assert_allclose(np.linalg.norm(network.layer_filters[:-1], axis=-1), 1.0)
    weights = np.abs(network.output_weights)
    np.testing.assert_allclose(
        np.linalg.norm(network.layer_filters[-1], axis=-1), weights.sum(axis=1), rtol=1e-10
    )
    assert ((weights > 0).sum(axis=1) == 1).all()


def test_a_polish_steps_off_the_relus_kinks_where_the_gradient_points_uphill(monkeypatch):
    # doc/formulations.md §7.3's example: over every pattern each neuron of the network has
    # a sample at its ReLU's kink, where minus the gradient raised the objective and L-BFGS
    # stopped at once; the least-norm generalized gradient descends
    from sklearn_convexcnn._formulations import circular

    X, y = low_rank_data(0, 12, 8, 3)
    networks = []
    polished = circular.CircularFormulation.polished

    def spy(self, network, *args):
        networks.append(network)
        return polished(self, network, *args)

    monkeypatch.setattr(circular.CircularFormulation, "polished", spy)
    reg = ConvexCNNRegressor(
        architecture="circular", n_layers=4, beta=0.05, n_patterns="exact", fit_intercept=False,
        tol=1e-8, random_state=0,
    ).fit(X, y)  # fmt: skip
    realized, padded = networks  # (each polished before the cheaper is kept)
    objectives = [net.objective(X[:, None], y[:, None], 0.05, "squared") for net in networks]
    assert reg.objective_ < min(objectives)
    assert reg.lower_bound_ <= reg.objective_  # (over every pattern: a bound on any network)
    layers = np.array(realized.layer_filters)
    theta = np.concatenate([layers.ravel(), realized.output_weights[:, 0]])
    args = (layers.shape, X, y[:, None], 0.05, "squared", True, np.zeros(1))
    value, gradient = circular._sphere_value_and_gradient(theta, *args)
    assert circular._sphere_value_and_gradient(theta - 1e-6 * gradient, *args)[0] > value
    moved = circular._off_the_kinks(theta, *args)
    assert circular._sphere_value_and_gradient(moved, *args)[0] < value


@pytest.mark.parametrize("seed", [1, 2])
def test_a_deep_circular_polish_leaves_little_to_a_longer_one(seed):
    # L-BFGS converges slowly on these networks: after 200 iterations, 4 times as many more
    # took 42-83 % off objective_ on such fits (30 signals of 7, a ReLU target, beta=1e-3)
    from sklearn_convexcnn._formulations.circular import polished

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 7))
    y = np.maximum(X @ rng.standard_normal(7), 0) + 0.1 * rng.standard_normal(30)
    reg = ConvexCNNRegressor(
        architecture="circular", n_layers=4, beta=1e-3, n_patterns=7, random_state=0
    ).fit(X, y)
    longer = polished(reg.network_, X[:, None], y[:, None], 1e-3, "squared", True, 8000)
    assert reg.objective_ <= 1.25 * longer.objective(X[:, None], y[:, None], 1e-3, "squared")


def test_a_deep_circular_polish_says_what_it_did(capsys):
    X, y = polish_problem("regressor", 1)
    reg = ConvexCNNRegressor(
        architecture="circular", n_layers=4, beta=0.2, n_patterns=16, random_state=0, verbose=1
    ).fit(X, y)
    out = capsys.readouterr().out
    lines = re.findall(r"the (realized|padded 3-layer) network polished by L-BFGS: objective "
                       r"(\S+) -> (\S+)\n", out)  # fmt: skip
    assert [name for name, *_ in lines] == ["realized", "padded 3-layer"]
    assert all(float(after) < float(before) for _, before, after in lines)
    # (one output: the kept network is the cheaper polished one)
    assert min(float(after) for *_, after in lines) == pytest.approx(reg.objective_, rel=1e-5)


@pytest.mark.parametrize("estimator", ["regressor", "classifier"])
def test_a_deep_circular_polish_is_the_same_in_any_units(estimator):
    # rows times s and targets times t are the same problem at beta s t, objective_ times t^2
    # (the logistic loss: rows only, at beta s). Polished as given, L-BFGS's absolute
    # tolerances and first step meant other things at each scale: one fit at 7 scales ended
    # 0.152 to 0.182 (before the polish 0.1824 at all), and at s = 1e-20 no iteration ran.
    # In units of the data's size the polished networks agree to the polish's own spread
    # (L-BFGS on a ReLU network follows the start's rounding: 0.8 % here)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((15, 8)), rng.standard_normal(15)
    scales = [(1.0, 1.0), (1e-20, 1.0), (1e20, 1e-10)]
    if estimator == "classifier":
        y, scales = (y > 0).astype(int), [(s, 1.0) for s, _ in scales]
    Estimator = ConvexCNNClassifier if estimator == "classifier" else ConvexCNNRegressor
    objectives = []
    for s, t in scales:
        params = dict(architecture="circular", n_layers=4, random_state=0)
        fit = Estimator(beta=0.1 * s * t, **params).fit(s * X, t * y if t != 1.0 else y)
        objectives.append(fit.objective_ / t**2)
    unpolished = Estimator(beta=0.1, architecture="circular", n_layers=4, random_state=0)
    unpolished._polished = lambda formulation, network, *args: network  # (the premise)
    before = unpolished.fit(X, y).objective_
    assert max(objectives) <= 0.95 * before
    assert max(objectives) <= 1.02 * min(objectives)


@pytest.mark.parametrize(
    "params",
    [
        {"architecture": "circular"},
        {"architecture": "circular", "n_layers": 6, "activation": "linear", "n_patterns": 64},
        {"architecture": "two_layer"},
        {"architecture": "three_layer"},
    ],
)
def test_exact_fits_are_not_polished(monkeypatch, params):
    from sklearn_convexcnn._formulations import circular

    def refuse(*args):
        raise AssertionError("an exact fit was polished")

    monkeypatch.setattr(circular, "polished", refuse)
    X, y = polish_problem("regressor", 0)
    reg = ConvexCNNRegressor(**{"beta": 0.2, "n_patterns": 8, "random_state": 0, **params})
    reg.fit(X, y)
    assert reg.is_exact_


def test_deep_circular_networks_leave_out_the_solvers_spectral_leftovers(monkeypatch):
    # a review: coefficients of 1e-10 to 1e-8 of a neuron's largest cost about 1e-4 of a deep
    # network's objective (its quasi-norm), and put native's, Clarabel's and ECOS's 2e-4 apart
    # (of the realized network: the polish moves every coefficient)
    monkeypatch.setattr(ConvexCNNRegressor, "_polished", lambda self, _, net, *args: net)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X @ rng.standard_normal(8), 0)
    reg = ConvexCNNRegressor(
        architecture="circular", n_layers=6, n_patterns=16, random_state=0
    ).fit(X, y)
    relative = reg.filter_spectra_ / reg.filter_spectra_.max(axis=1, keepdims=True)
    assert not np.any((relative > 1e-12) & (relative < 1e-6))
    assert np.any(relative < 1e-12)  # (there were some)


def test_a_deep_circular_solve_that_stopped_says_the_program_is_a_relaxation():
    # the warning said the network attains the point's objective, at most the gap above the
    # optimum: a review's network was at twice the point's value, 2.8 gaps above its bound
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X @ rng.standard_normal(8), 0)
    reg = ConvexCNNRegressor(
        architecture="circular", n_layers=4, solver="native", max_iter=1, random_state=0
    )
    kept = (
        r"max_iter=1.*relaxation \(n_layers >= 4\), the looser and the harder to solve the "
        r"deeper \(its norm scales as d\^\(-\(n_layers - 1\)/2\): fewer n_layers help\): .*"
        r"objective_, of its "
        r"realized network or of the exact 3-layer one padded with identity filters where that "
        r"costs less, polished by L-BFGS, is only an upper bound\."
    )
    with pytest.warns(ConvergenceWarning, match=kept) as w:
        reg.fit(X, y)
    assert not any("attains" in str(warning.message) for warning in w)
    assert reg.objective_ - reg.lower_bound_ > reg.duality_gap_


def test_a_deep_circular_refit_says_what_it_did(capsys):
    # a review: a refit that dropped every neuron was logged as "beta=2 is at least the largest
    # useful value", of a program with 8 nonzero groups; and a refit line was printed for a
    # network with no neuron to refit
    rng = np.random.default_rng(6)
    X = rng.standard_normal((15, 3))
    y = np.maximum(X[:, 0] - X[:, 1], 0)
    params = dict(architecture="circular", solver="native", n_patterns=8, random_state=0)
    reg = ConvexCNNRegressor(n_layers=20, beta=2.0, verbose=1, **params).fit(X, y)
    out = capsys.readouterr().out
    assert reg.filters_.shape[0] == 0
    assert "no neurons: the refit of the realized network's output weights dropped every" in out
    assert "largest useful value" not in out
    ConvexCNNRegressor(n_layers=4, beta=100.0, verbose=1, **params).fit(X, y)
    out = capsys.readouterr().out
    assert "largest useful value" in out and "refit" not in out


def test_a_relaxations_warning_without_a_duality_gap_names_none():
    import types

    from sklearn_convexcnn._convergence import unconverged_message
    from sklearn_convexcnn._outputs import SolveOptions

    options = SolveOptions(0.1, "squared", True, 1e-7, 10, "clarabel")
    stopped = types.SimpleNamespace(
        converged=False, duality_gap=None, objective=1.0, solver="CLARABEL", status="user_limit",
        n_iter=10, handovers=(),
    )  # fmt: skip
    for solutions in ([stopped], [stopped, stopped]):
        message = unconverged_message(solutions, ["0", "1"][: len(solutions)], options)
        relaxed = unconverged_message(
            solutions, ["0", "1"][: len(solutions)], options, relaxation=True
        )
        assert "not the optimum" in message
        assert (
            "relaxation (n_layers >= 4), the looser and the harder to solve the deeper (its "
            "norm scales as d^(-(n_layers - 1)/2): fewer n_layers help): objective_, of its "
            "realized network or of the exact 3-layer one padded with identity filters where "
            "that costs less, polished by L-BFGS, is only an upper bound." in relaxed
        )
        assert "duality gap bounds" not in relaxed


@pytest.mark.parametrize("estimator", [ConvexCNNRegressor, ConvexCNNClassifier])
def test_circular_native_reaches_the_cvxpy_optimum_and_certifies_it(estimator):
    X, y = low_rank_data(1, 30, 8, 4)
    if estimator is ConvexCNNClassifier:
        y = np.arange(30) % 3
    params = dict(architecture="circular", beta=0.05, n_patterns=24, random_state=0, tol=1e-7)
    native = estimator(solver="native", **params).fit(X, y)
    reference = estimator(solver="clarabel", **params).fit(X, y)
    assert native.objective_ == pytest.approx(reference.objective_, rel=1e-6)
    assert native.duality_gap_ <= 1e-7 * native.objective_
    # CVXPY's points are certified too, by their own dual points: a valid, looser bound
    assert 0 <= reference.duality_gap_ <= 1e-3 * reference.objective_
    assert reference.objective_ - reference.duality_gap_ <= native.objective_ * (1 + 1e-9)
    # (to 1e-11: a point certified by its restricted problem's dual, _native's
    # _restricted_dual_bound, is an interior point of QPs solved to 1e-9, not the finest;
    # 9.6e-12 and 3e-12 apart here, within 1e-12 before that bound)
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_circular_native_certifies_near_interpolation(seed):
    # beta=1e-3, objectives of 0.003: the prices' multipliers at 1e-10 left the certificate
    # at 1-2x tol in 15 of 30 seeds (two of these three), a ConvergenceWarning each
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X[:, :3] @ [1.0, -1.0, 0.5], 0) + 0.3 * rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=1e-3, n_patterns=8, random_state=0, solver="native"
    ).fit(X, y)
    assert 0 <= reg.duality_gap_ <= 1e-7 * reg.objective_


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_circular_auto_at_a_loose_tol_needs_no_native_solve(seed, capsys):
    # Clarabel at tol=1e-4 left these points certified to 1.2e-4 to 3.4e-4 of the objective,
    # each handed to the native solver; at scale 100 with every pattern, that took 35 s from
    # 2,008 groups. "auto" has Clarabel solve to AUTO_INTERIOR_TOL instead
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X[:, :3] @ [1.0, -1.0, 0.5], 0) + 0.3 * rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=1e-3, n_patterns=8, random_state=0, tol=1e-4, verbose=1
    ).fit(X, y)
    log = capsys.readouterr().out
    assert "CLARABEL optimal" in log
    assert "native" not in log
    assert 0 <= reg.duality_gap_ <= 1e-4 * reg.objective_


@pytest.mark.parametrize("architecture, seed", [("circular", 1), ("three_layer", 3)])
def test_auto_certifies_circular_and_three_layer_fits_to_the_default_tol(architecture, seed):
    # with Clarabel solving to 1e-7, "auto" kept these points certified to 9.7e-7 and 7.8e-6 of
    # the objective without a warning (within CVXPY_ACCURACY); to AUTO_INTERIOR_TOL (1e-9),
    # to 4.8e-10 and 1.4e-9 (on 105 random programs: 13 above tol against 35, in less time)
    rng = np.random.default_rng(seed)
    n = 12 if architecture == "three_layer" else 40
    X = rng.standard_normal((n, 8))
    y = np.maximum(X[:, :3] @ [1.0, -1.0, 0.5], 0) + 0.3 * rng.standard_normal(n)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = ConvexCNNRegressor(
            architecture=architecture, beta=0.01, n_patterns=4 if n == 12 else 8, random_state=0
        ).fit(X, y)
    assert 0 <= reg.duality_gap_ <= reg.tol * reg.objective_


@pytest.mark.parametrize("seed", [2, 3])
def test_auto_polishes_logistic_circular_fits_to_tol(seed):
    # Clarabel's points of logistic circular programs without an intercept, certified to
    # 1e-6 to 9e-6 of the objective (29 of 30 such fits), were kept within CVXPY_ACCURACY
    # without a warning; "auto" hands a point above tol to the native solver
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 8))
    y = (X[:, :3] @ [1.0, -1.0, 0.5] + 0.5 * rng.standard_normal(30) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = ConvexCNNClassifier(
            architecture="circular", loss="logistic", beta=1.0, n_patterns=4,
            fit_intercept=False, random_state=0,
        ).fit(X, y)  # fmt: skip
    assert 0 <= clf.duality_gap_ <= clf.tol * clf.objective_


def test_auto_polishes_a_conic_point_that_the_qp_cannot_improve_to_tol():
    # proximal Newton's first step from a feasible start was searched from 93683cf on; from
    # Clarabel's points here the QP's model finds no descent, the search kept the start, and
    # the polish stalled at once: a ConvergenceWarning at 3.9e-6 of the objective (the guide's
    # 120 digits ended at 3.0e-7 without one, against 2.5e-9 before)
    X, y = load_digits(n_class=3, return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = ConvexCNNClassifier(
            architecture="circular", input_shape=(8, 8), loss="logistic", beta=0.1,
            n_patterns=4, random_state=0,
        ).fit(X[:30] / 16, y[:30])  # fmt: skip
    assert 0 <= clf.duality_gap_ <= clf.tol * clf.objective_


def test_circular_auto_at_a_loose_tol_hands_a_point_at_max_iter_to_the_native_solver(capsys):
    # a review: "auto" had Clarabel solve to AUTO_INTERIOR_TOL (then 1e-7) at tol=1e-3; at
    # max_iter=8 it stopped short of that ('user_limit', certified to 1.2e-2 of the
    # objective), and the point, kept as the user's last iterate, warned "Increase max_iter or
    # loosen tol", where Clarabel solving to tol=1e-3 had called the same point optimal and
    # the native solver certified it to 9.6e-8
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20, 8))
    y = np.maximum(X[:, :3] @ [1.0, -1.0, 0.5], 0) + 0.3 * rng.standard_normal(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = ConvexCNNRegressor(
            architecture="circular", beta=1e-3, n_patterns=8, random_state=0, tol=1e-3,
            max_iter=8, verbose=1,
        ).fit(X, y)  # fmt: skip
    log = capsys.readouterr().out
    assert "status 'user_limit'" in log
    assert "solving the program with the native solver from that point" in log
    assert 0 <= reg.duality_gap_ <= 1e-3 * reg.objective_


def test_circular_native_fits_stay_certified_to_tol_once_their_residue_is_dropped():
    # a review: the native solver certified this point to 7.5e-8 of its objective (tol=1e-7);
    # dropping its residue, accepted up to LOOSE_GAP (1e-3) as for CVXPY's points, raised the
    # network's objective by 1e-7 of it, and the fit ended certified to 1.76e-7 without a
    # ConvergenceWarning
    rng = np.random.default_rng(6)
    X = rng.standard_normal((10, 6))
    y = np.maximum(X[:, 1] - X[:, 4], 0) + 0.5 * X[:, 2] + 0.1 * rng.standard_normal(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = ConvexCNNRegressor(
            architecture="circular", n_patterns="exact", beta=0.1, solver="native", tol=1e-7
        ).fit(100 * X, 100 * y)
    assert 0 <= reg.duality_gap_ <= 1e-7 * reg.objective_
    assert reg.regularized_objective(100 * X, 100 * y) == pytest.approx(reg.objective_, rel=1e-12)


def test_circular_prices_stop_where_their_cutting_planes_add_no_row(monkeypatch):
    # a review: Clarabel's maximizers violated rows they already had, by its tolerance, and
    # each certifying price re-solved the same program up to its 1,000 rounds: 5,167 solves
    # and 38 s for three iterations on these 120 digits (167 solves and 3.3 s since); the
    # default solver's polish of a squared-loss point took 47 s against 0.6 s for Clarabel's
    from sklearn_convexcnn import _optimality

    solves = []
    block_price = _optimality._block_price
    monkeypatch.setattr(
        _optimality, "_block_price", lambda *args: solves.append(1) or block_price(*args)
    )
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = ConvexCNNClassifier(
        architecture="circular", beta=0.1, n_patterns=4, solver="native", max_iter=3,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # (three iterations: short)
        clf.fit(X[:120] / 16, y[:120])
    assert 0 < len(solves) < 1000


def test_circular_spectra_show_the_frequencies_used():
    X, y = low_rank_data(2, 12, 8, 3)
    reg = ConvexCNNRegressor(
        architecture="circular", beta=0.05, n_patterns=500, random_state=0
    ).fit(X, y)
    spectra = reg.filter_spectra_
    assert spectra.shape == (reg.filters_.shape[0], 5)
    # the spectrum of the end-to-end filter, by an explicit DFT
    d = 8
    q = reg.filters_[0]
    explicit = [
        abs(sum(q[t] * np.exp(-2j * np.pi * k * t / d) for t in range(d))) for k in range(5)
    ]
    np.testing.assert_allclose(spectra[0], explicit, atol=1e-12)
    used = reg.network_.frequencies_used()
    for row, frequencies in zip(spectra, used, strict=True):
        assert set(frequencies) == set(np.flatnonzero(row > 1e-6 * row.max()))
    # the spectral l1 norm leaves most filters spectrally sparse (doc/formulations.md §7.2)
    assert np.median([len(f) for f in used]) < 5


@pytest.mark.parametrize("n_layers", [3, 4, 6])
def test_linear_circular_is_exact_for_every_depth(n_layers):
    X, y = low_rank_data(1, 12, 8, 8)
    reg = ConvexCNNRegressor(
        architecture="circular", activation="linear", n_layers=n_layers, beta=0.5, tol=1e-9
    ).fit(X, y)
    assert reg.is_exact_
    value = naive_circular_objective(
        X, y[:, None], reg.layer_filters_, reg.output_weights_, reg.intercept_, 0.5, "linear"
    )
    assert value == pytest.approx(reg.objective_, rel=1e-6)
    if n_layers > 3:  # every frequency its own neuron
        assert all(len(f) == 1 for f in reg.network_.frequencies_used())


@pytest.mark.parametrize("n_layers, reference", [(3, 2.178242041), (4, 2.043061171)])
def test_linear_circular_matches_the_reference_computation(n_layers, reference):
    # doc/formulations.md §9: n=12, d=8, beta=0.5, Gaussian data, torch attained both values
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 8)), rng.standard_normal(12)
    reg = ConvexCNNRegressor(
        architecture="circular",
        activation="linear",
        n_layers=n_layers,
        beta=0.5,
        fit_intercept=False,
        tol=1e-9,
    ).fit(X, y)
    assert reg.objective_ == pytest.approx(reference, rel=1e-8)


# --------------------------------------------------------------------------------------------
# three-layer CNNs with two ReLU layers


def tiny_three_layer_data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 4)), rng.standard_normal(5)


@pytest.mark.parametrize("solver", ["auto", "native"])
def test_three_layer_is_exact_over_enumerated_patterns(solver):
    X, y = tiny_three_layer_data(0)
    reg = ConvexCNNRegressor(
        architecture="three_layer",
        kernel_size=2,
        beta=0.05,
        n_patterns="exact",
        fit_intercept=False,
        random_state=0,
        tol=1e-8,
        solver=solver,
    ).fit(X, y)
    # n=5, K=3, h=2: all 30 first-layer cells and all 2^5 second-layer patterns
    assert reg.n_patterns_ == cover_bound(15, 2)
    assert reg.is_exact_
    np.testing.assert_allclose(np.linalg.norm(reg.filters_, axis=1), 1.0, rtol=1e-10)
    value = naive_three_layer_objective(X, y, reg, 0.05, 2)
    assert value == pytest.approx(reg.objective_, rel=1e-6)
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6)
    # two ReLU layers fit at least as well as two layers with the same first-layer patterns:
    # a branch of one filter, (w1 mean_k (x_k . u)_+)_+ w2 with w1 > 0, is the two-layer neuron
    # at the same cost (beta/2 (w1^2 + w2^2) >= beta |w1 w2|), and both programs are exact
    # here. (On these data the optimum is the same; on seeds 1-3 the three-layer one is
    # 8-22 % lower.)
    two_layer = ConvexCNNRegressor(
        kernel_size=2, beta=0.05, n_patterns="exact", fit_intercept=False, tol=1e-8
    ).fit(X, y)
    assert two_layer.is_exact_ and two_layer.pooling == "average"
    assert reg.objective_ <= two_layer.objective_ * (1 + 1e-6)


def test_three_layer_sampled_patterns_are_attained():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((20, 6)), rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        architecture="three_layer", kernel_size=3, beta=0.1, n_patterns=8, random_state=0
    ).fit(X, y)
    assert reg.is_exact_
    value = naive_three_layer_objective(X, y, reg, 0.1, 3)
    assert value == pytest.approx(reg.objective_, rel=1e-6)


@pytest.mark.parametrize("n_samples", [4, 5])
def test_three_layer_takes_every_second_layer_pattern_where_n_patterns_reaches_2_to_the_n(
    n_samples,
):
    # a mutant that sampled the second-layer patterns where 2^n equals n_patterns survived:
    # all 2^n of them make the program the training problem itself, a sample only a restriction
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry
    from sklearn_convexcnn._patterns import all_sign_patterns

    X = np.random.default_rng(0).standard_normal((n_samples, 5))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 5))
    formulation = ThreeLayerFormulation()
    formulation.sample_gates(patches, 2**n_samples, np.random.RandomState(0))
    np.testing.assert_array_equal(formulation.outer_masks_, all_sign_patterns(n_samples))
    formulation.sample_gates(patches, 2**n_samples - 1, np.random.RandomState(0))
    assert len(formulation.outer_masks_) < 2**n_samples  # (sampled below it)


def test_sampled_second_layer_patterns_hold_the_all_ones_pattern():
    # a mutant that left it out was killed only by an iteration count: the second layer linear
    # on every sample, which no random branch has here (its two branches are mixed)
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry

    X = np.random.default_rng(0).standard_normal((5, 5))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 5))
    formulation = ThreeLayerFormulation()
    formulation.sample_gates(patches, 2, np.random.RandomState(2))
    assert formulation.outer_masks_.all(axis=1).any()


def test_three_layer_residue_is_kept_only_where_dropping_it_breaks_the_second_layer():
    # a mutant that kept the residue where dropping it helps, and dropped it where it hurts,
    # was killed only by an iteration count: dropped, a residue that holds a second-layer
    # row at 0 leaves the branch's pre-activation positive where its pattern says negative
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram, clean_three_layer
    from sklearn_convexcnn._solvers._solution import Solution

    pieces = np.array([[[1.0], [1e-7]], [[0.0], [1.0]], [[1.0], [0.0]]])  # (pattern, n, h)
    masks = np.array([[True, False], [True, False]])  # z_0 >= 0 >= z_1 in both branches
    program = ThreeLayerProgram(pieces, np.zeros((3, 1, 1)), masks)
    coef = np.zeros((2, 2, 2, 3, 1))  # (part, sign, branch, pattern, h)
    coef[0, 0, 0, 0] = coef[0, 0, 1, 2] = 1.0
    coef[1, 0, 0, 1] = 1e-7  # residue holding z_1 = 1e-7 - 1e-7 at 0: kept
    coef[0, 0, 1, 1] = 1e-7  # residue pushing z_1 to 1e-7: dropped
    solution = Solution(
        coef=coef, intercept=0.0, objective=10.0, converged=True, status="optimal", n_iter=1,
        solver="native", duality_gap=None,
    )  # fmt: skip
    cleaned = clean_three_layer(program, solution, np.zeros(2), beta=1.0, loss="squared")
    expected = coef.copy()
    expected[0, 0, 1, 1] = 0.0
    np.testing.assert_array_equal(cleaned.coef, expected)
    np.testing.assert_array_equal(program.second_layer_violations(cleaned.coef), 0.0)


_CVXPY_EXACT = pytest.mark.xfail(
    strict=True,
    raises=AssertionError,  # (a wrong value, not an error)
    reason="not yet: the interior point satisfies the second ReLU layer's rows to its accuracy "
    "only (here the network misses objective_ by 5.5e-7 of it). Neither a Newton polish on the "
    "point's face (infeasible from such points) nor five native iterations from it (up to 90x "
    "slower and 81 % worse on inputs of size 100) fixed it",
)


@pytest.mark.parametrize(
    "solver, rtol",
    [
        ("native", 1e-9),
        ("auto", 1e-6),
        ("clarabel", 1e-6),
        # ("auto" is Clarabel here: one limitation, counted once)
        pytest.param("clarabel", 1e-9, marks=_CVXPY_EXACT),
    ],
)
def test_three_layer_fits_are_attained_by_their_networks(solver, rtol):
    # CVXPY's residue, once dropped from the network in every branch, moved branches'
    # pre-activations across zero where the second layer's rows are tight: the network
    # missed objective_ by 1.6e-4 of it, and fell below lower_bound_
    rng = np.random.default_rng(3)
    X, y = 10 * rng.standard_normal((14, 6)), rng.standard_normal(14)
    params = dict(architecture="three_layer", kernel_size=2, n_patterns=8, random_state=3)
    reg = ConvexCNNRegressor(beta=1e-3, solver=solver, **params).fit(X, y)
    value = naive_three_layer_objective(X, y, reg, 1e-3, 2)
    assert value == pytest.approx(reg.objective_, rel=rtol)
    assert reg.lower_bound_ <= value


def _three_digits():
    X, y = load_digits(n_class=3, return_X_y=True)
    return X[:40] / 16, y[:40]


@pytest.mark.parametrize("solver, tol", [("clarabel", 0.5), ("scs", 0.5), ("scs", 0.1)])
def test_three_layer_objective_is_the_networks_at_a_loose_tol(solver, tol):
    # at tol=0.5 CVXPY's points satisfy the second layer's rows loosely: the networks
    # attained 31 % (Clarabel) and 71 % (SCS) above the programs' values, which objective_
    # was, 7 % below the optimum for SCS's; at tol=0.1 SCS's network attained 0.1 % below its
    # value. ("auto", which had the same Clarabel point, solves to 1e-7 since 512f8c2)
    X, y = _three_digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # (Clarabel's points: tested below)
        clf = ConvexCNNClassifier(
            architecture="three_layer", solver=solver, tol=tol, beta=0.3, input_shape=(8, 8),
            n_patterns=4, random_state=0,
        ).fit(X, y)  # fmt: skip
    # (to ATTAINED_TOL: a point within it keeps the program's value, whichever solver version)
    assert clf.objective_ == pytest.approx(clf.regularized_objective(X, y), rel=1e-6)
    assert clf.lower_bound_ <= clf.objective_
    # (the gap bounds the network's objective_, not the program's value: 8ea3da9)
    assert clf.duality_gap_ == pytest.approx(clf.objective_ - clf.lower_bound_, rel=1e-9)


def test_a_cvxpy_three_layer_network_missing_its_program_is_advised_the_native_solver(
    monkeypatch,
):
    # (forced as below; the advice names the native solver where a CVXPY solver ran)
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerCNN

    objective = ThreeLayerCNN.objective
    monkeypatch.setattr(ThreeLayerCNN, "objective", lambda *args: 1.5 * objective(*args))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6)), rng.standard_normal(12)
    params = dict(architecture="three_layer", beta=0.3, kernel_size=2, n_patterns=3)
    with pytest.warns(ConvergenceWarning) as caught:
        ConvexCNNRegressor(solver="clarabel", random_state=0, **params).fit(X, y)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith("The recovered network's objective ")
    assert message.endswith("Try solver='native' or a smaller tol (tol is 1e-07).")


@pytest.mark.parametrize("factor, off_by", [(1.5, "5.0e-01"), (0.5, "-5.0e-01")])
def test_three_layer_network_missing_its_certified_program_warns(monkeypatch, factor, off_by):
    # (a network 1.5 times its program's value, from a solve certified to tol, or half of it,
    # below the program's lower bound: forced; the second went unwarned when the check's
    # lower side was dropped, a mutation audit)
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerCNN

    objective = ThreeLayerCNN.objective
    monkeypatch.setattr(ThreeLayerCNN, "objective", lambda *args: factor * objective(*args))
    X, y = _three_digits()
    params = dict(architecture="three_layer", beta=0.3, input_shape=(8, 8), n_patterns=4)
    with pytest.warns(ConvergenceWarning) as caught:
        clf = ConvexCNNClassifier(solver="native", random_state=0, **params).fit(X, y)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith("The recovered network's objective ")
    assert "differs from its convex program's value" in message
    assert f"by {off_by} of it" in message
    assert (clf.objective_ < clf.lower_bound_) == (factor < 1)
    assert "Try a smaller tol (tol is 1e-07)" in message  # (the solver was already native)
    assert clf.objective_ == pytest.approx(clf.regularized_objective(X, y), rel=1e-12)


@pytest.mark.parametrize("beta", [0.3, 30.0])
def test_three_layer_fits_past_beta_max_are_empty_without_a_conic_solve(beta, capsys):
    # the prices at the empty network, with the second layer's multipliers at zero, certify
    # it where none exceeds beta: CVXPY took 33 s to find it on 3 samples, n_patterns="exact"
    X, y = _three_digits()
    clf = ConvexCNNClassifier(
        architecture="three_layer", beta=beta, input_shape=(8, 8), n_patterns=4, verbose=1,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    solved = "no conic solve" not in capsys.readouterr().out
    assert solved == (beta < 1) == (clf.filters_.shape[0] > 0)
    assert np.max(clf.duality_gap_) <= clf.tol * clf.objective_
    if not solved:
        assert clf.objective_ == pytest.approx(clf.regularized_objective(X, y), rel=1e-12)


@pytest.mark.parametrize("solver", ["auto", "native"])
def test_three_layer_fits_at_the_largest_float_beta_are_certified_empty(solver):
    # an audit: the native solver, at unit scale, took beta=1.7e308 to inf, and reported the
    # (optimal) empty network with duality_gap_ nan and the advice "a larger beta"
    X, y = _three_digits()
    clf = ConvexCNNClassifier(
        architecture="three_layer",
        beta=1.7e308,
        input_shape=(8, 8),
        n_patterns=4,
        solver=solver,
        random_state=0,
    ).fit(X, y)  # fmt: skip (ConvergenceWarning is an error here)
    assert clf.filters_.shape[0] == 0
    assert 0.0 <= clf.duality_gap_ <= 1e-12 * clf.objective_
    assert clf.lower_bound_ == pytest.approx(clf.objective_, rel=1e-12)


def test_native_three_layer_fits_match_the_cvxpy_fits():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 6))
    y = np.maximum(X[:, :3].sum(axis=1), 0.0) + 0.1 * rng.standard_normal(30)
    labels = np.where(y > np.median(y), "high", "low")
    params = dict(architecture="three_layer", kernel_size=3, n_patterns=8, random_state=0)
    for estimator, target in ((ConvexCNNRegressor, y), (ConvexCNNClassifier, labels)):
        for loss in ("squared", "logistic") if estimator is ConvexCNNClassifier else ("squared",):
            native = estimator(solver="native", loss=loss, **params).fit(X, target)
            reference = estimator(solver="clarabel", loss=loss, **params).fit(X, target)
            assert native.objective_ == pytest.approx(reference.objective_, rel=1e-6)
            assert native.duality_gap_ <= native.tol * native.objective_
            assert native.regularized_objective(X, target) == pytest.approx(
                native.objective_, rel=1e-7
            )
            if estimator is ConvexCNNRegressor:
                assert naive_three_layer_objective(X, y, native, native.beta, 3) == pytest.approx(
                    native.objective_, rel=1e-7
                )


@pytest.mark.parametrize("solver", ["auto", "native"])
def test_three_layer_warm_start_refits_on_the_same_patterns(solver):
    # the second-layer patterns belong to the first fit: a warm refit must keep them (it
    # raised AttributeError before), and reach the cold fit's optimum at the new beta
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.standard_normal(20)
    params = dict(architecture="three_layer", kernel_size=3, n_patterns=8, random_state=0)
    warm = ConvexCNNRegressor(warm_start=True, solver=solver, **params).fit(X, y)
    warm.set_params(beta=0.05).fit(X, y)
    cold = ConvexCNNRegressor(beta=0.05, solver=solver, **params).fit(X, y)
    np.testing.assert_array_equal(warm.gates_, cold.gates_)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-6)


def test_native_three_layer_stopped_by_max_iter_warns_with_its_gap():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((20, 6)), rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        architecture="three_layer", kernel_size=3, n_patterns=8, solver="native", max_iter=1
    )
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1.*Duality gap: \d"):
        reg.fit(X, y)
    assert reg.duality_gap_ > reg.tol * reg.objective_
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-7)


def _three_layer_program(n=30, length=8, kernel=3, n_patterns=6):
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry

    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((n, length)), rng.standard_normal(n)
    patches = extract_patches(X, resolve_geometry(None, kernel, 1, length))
    formulation = ThreeLayerFormulation()
    gates = formulation.sample_gates(patches, n_patterns, np.random.RandomState(0))
    return formulation.program(patches, gates), y


def test_three_layer_cutting_planes_reach_the_optimum_over_every_row():
    # 30 samples x 6 patches: 180 rows per cone, more than the 40 the cutting planes start with
    from sklearn_convexcnn._solvers import _cvxpy
    from sklearn_convexcnn._solvers._three_layer_rows import START_ROWS

    program, y = _three_layer_program()
    n_patterns, n_rows, _ = program.cones.shape
    assert n_rows > START_ROWS
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    every, _ = _cvxpy._solve_three_layer_rows(
        "CLARABEL", program, y, [np.arange(n_rows)] * n_patterns, verbose=0, **options
    )
    for gates in (program.gates, None):  # without gates: from no rows at all
        start = dataclasses.replace(program, gates=gates)
        planes = _cvxpy._solve_three_layer_with("CLARABEL", start, y, **options)
        assert planes.converged
        assert planes.objective == pytest.approx(every.objective, rel=1e-6)
        # certified: a lower bound that the solve over every row does not undercut. CVXPY's
        # 'optimal' is no gap below tol: its dual point certifies 1.8e-7 and 1.2e-8 here
        assert -1e-9 <= planes.duality_gap <= 1e-6 * planes.objective
        assert planes.objective - planes.duality_gap <= every.objective * (1 + 1e-9)
        groups = np.moveaxis(planes.coef, 3, 0).reshape(n_patterns, -1, program.cones.shape[2])
        norms = np.linalg.norm(groups, axis=2)
        for cone, cone_groups, cone_norms in zip(program.cones, groups, norms, strict=True):
            # every row of every cone, every group but the residue the network drops too
            cone_groups = cone_groups[cone_norms > 1e-6 * norms.max()]
            slack = cone @ cone_groups.T
            scale = np.linalg.norm(cone, axis=1)[:, None] * np.linalg.norm(cone_groups, axis=1)
            # (an interior point's accuracy: -1.7e-9 and -4e-10 of the scale here)
            assert np.all(slack >= -1e-8 * scale)


def test_three_layer_gap_bounds_the_distance_to_the_optimum():
    from sklearn_convexcnn._solvers import _cvxpy
    from sklearn_convexcnn._solvers._three_layer_rows import three_layer_gap

    program, y = _three_layer_program()
    options = dict(beta=0.1, loss="squared", fit_intercept=True)
    optimum = _cvxpy._solve_three_layer_with(
        "CLARABEL", program, y, tol=1e-8, max_iter=500, **options
    )
    # half way to zero: feasible (the cones are cones), and above the optimum by this much
    half = dataclasses.replace(optimum, coef=optimum.coef / 2)
    f = program.fit_values(half.coef) + half.intercept
    half = dataclasses.replace(
        half, objective=0.5 * np.sum((f - y) ** 2) + 0.1 * program.regularizer(half.coef)
    )
    assert half.objective > optimum.objective * 1.01
    multipliers = np.zeros((2 * program.outer_masks.shape[0], len(y)))
    for point in (optimum, half):  # any multipliers >= 0 give a valid bound, here 0
        lower = point.objective - three_layer_gap(program, point, multipliers, y, **options)
        # and not a vacuous one: above the trivial bound 0 of a non-negative objective
        # (3.1 from the optimum and 0.9 from half of it, where the optimum is 6.2)
        assert 0 < lower <= optimum.objective * (1 + 1e-7)


def test_three_layer_gap_without_multipliers_is_valid_and_looser(monkeypatch):
    from cvxpy.constraints.constraint import Constraint

    from sklearn_convexcnn._solvers import _cvxpy

    program, y = _three_layer_program()
    options = dict(beta=0.1, loss="squared", fit_intercept=True, tol=1e-8, max_iter=500)
    with_multipliers = _cvxpy._solve_three_layer_with("CLARABEL", program, y, **options)
    monkeypatch.setattr(Constraint, "dual_value", property(lambda self: None))
    without = _cvxpy._solve_three_layer_with("CLARABEL", program, y, **options)
    assert without.objective == pytest.approx(with_multipliers.objective, rel=1e-6)
    assert without.duality_gap > with_multipliers.duality_gap  # zero multipliers: looser
    assert without.objective - without.duality_gap <= with_multipliers.objective


def test_a_cutting_plane_rounds_verbose_line_counts_the_rows_kept_and_violated(capsys):
    # verbose=1: each round says how many cone rows its program kept and how many its point
    # violates (a mutant that printed the violated count as the kept one survived). Here the
    # first round keeps START_ROWS (40) of the 180 rows of each of the 6 cones, those nearest
    # its gate, which hold at the optimum: one round
    from sklearn_convexcnn._solvers._three_layer_rows import START_ROWS

    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    reg = ConvexCNNRegressor(
        architecture="three_layer", kernel_size=3, n_patterns=6, beta=0.1, solver="clarabel",
        random_state=0, verbose=1,
    ).fit(X, y)  # fmt: skip
    rounds = re.findall(
        r"cutting planes, round (\d+): .*, (\d+) rows kept, (\d+) violated", capsys.readouterr().out
    )
    assert reg.n_patterns_ == 6 and 30 * 6 > START_ROWS
    assert rounds == [("0", str(6 * START_ROWS), "0")]


def test_a_three_layer_verbose_line_counts_one_pattern_and_one_pair_in_the_singular():
    # (_problem_line) a program of one first-layer and one second-layer pattern: one pair
    import types

    from sklearn_convexcnn._base import _problem_line

    geometry = types.SimpleNamespace(kernel_size=(3,), n_channels=1, n_patches=4, patch_size=3)
    gates = np.ones((4, 1), dtype=bool)
    line = _problem_line("three_layer", 2, geometry, gates, False, second_layer=1)
    assert line.endswith(
        ", 1 distinct pattern in the first layer and 1 second-layer pattern (1 pattern pair, "
        "four groups each)"
    )
    line = _problem_line("three_layer", 2, geometry, np.ones((4, 3), bool), True, second_layer=2)
    assert line.endswith(" and 2 second-layer patterns (6 pattern pairs, four groups each)")


def test_a_three_layer_fits_verbose_line_gives_both_layers_patterns(capsys):
    # verbose=1 prints the program's size so that a slow fit can be stopped early; a
    # three-layer program's is the product of both layers' patterns, and the line gave the
    # first layer's only ("53 distinct patterns" before a fit of 3,445 pattern pairs, 11 s)
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((3, 6)), rng.standard_normal(3)
    reg = ConvexCNNRegressor(
        architecture="three_layer", n_patterns=8, beta=0.1, random_state=0, verbose=1,
        warm_start=True,
    ).fit(X, y)  # fmt: skip
    # (2^3 <= n_patterns: every second-layer pattern)
    assert reg.n_patterns_ == 6
    line = "(kernel 3), 6 distinct patterns in the first layer and 8 second-layer patterns "
    assert line + "(48 pattern pairs, four groups each)\n" in capsys.readouterr().out
    reg.set_params(beta=0.05).fit(X, y)  # (a warm start's, from the previous formulation)
    assert "(kernel 3), 6 patterns in the first layer and 8 second-layer patterns (48 pattern " in (
        capsys.readouterr().out
    )


def test_cutting_planes_end_at_the_first_round_that_spends_max_iter(capsys):
    # SCS says 'optimal_inaccurate', not USER_LIMIT, where it spends max_iter: the rounds went
    # on, each at max_iter (at the default 500, 14 rounds and 140 s on 20 signals, a user's
    # audit), for a point warned as unconverged all the same. The first such round ends them
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 8)), rng.standard_normal(20)
    reg = ConvexCNNRegressor(
        architecture="three_layer", kernel_size=2, n_patterns=6, solver="scs", max_iter=50,
        random_state=0, verbose=1,
    )  # fmt: skip
    with pytest.warns(
        ConvergenceWarning,
        match=r"SCS stopped with status 'optimal_inaccurate' after 50 iterations \(max_iter=50, "
        r"tol=1\.0e-07\)\. Increase max_iter or loosen tol",
    ):
        reg.fit(X, y)
    out = capsys.readouterr().out
    rounds = re.findall(r"cutting planes, round (\d+): .*, (\d+) violated", out)
    assert len(rounds) == 1 and int(rounds[0][1]) > 0  # (its point outside the cones)
    assert "no duality gap (none is computed for this point)" in out
    assert np.isnan(reg.duality_gap_)


def test_three_layer_cutting_planes_that_do_not_finish_warn(monkeypatch):
    from sklearn_convexcnn._solvers import _cvxpy

    monkeypatch.setattr(_cvxpy, "_MAX_ROUNDS", 1)
    monkeypatch.setattr(_cvxpy, "START_ROWS", 0)
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    reg = ConvexCNNRegressor(
        architecture="three_layer",
        kernel_size=3,
        n_patterns=6,
        beta=0.1,
        solver="clarabel",  # ("auto" hands the program to the native solver then)
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="cone rows still violated after 1 rounds"):
        reg.fit(X, y)


# --------------------------------------------------------------------------------------------
# linear two-layer CNNs


@pytest.mark.parametrize("pooling", ["average", "none"])
def test_linear_two_layer_is_exact(pooling):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 6)), rng.standard_normal(10)
    reg = ConvexCNNRegressor(
        activation="linear", pooling=pooling, kernel_size=3, beta=0.1, tol=1e-9
    ).fit(X, y)
    value = naive_linear_objective(X, y, reg, 0.1, 3)
    assert value == pytest.approx(reg.objective_, rel=1e-6)
    if pooling == "average":
        # closed form: one neuron, z = sum_j w_j u_j solves a group lasso on Xbar
        assert reg.filters_.shape[0] == 1
        Xbar = np.mean([X[:, k : k + 3] for k in range(4)], axis=0)
        z = reg.filters_[0] * reg.output_weights_[0, 0]
        residual = y - Xbar @ z - reg.intercept_[0]
        # optimality of the group lasso: Xbar^T r = beta z / ||z||
        np.testing.assert_allclose(Xbar.T @ residual, 0.1 * z / np.linalg.norm(z), atol=1e-6)


@pytest.mark.parametrize("pooling", ["average", "none"])
@pytest.mark.parametrize("Estimator", [ConvexCNNRegressor, ConvexCNNClassifier])
def test_linear_cnns_certify_their_lower_bound(Estimator, pooling):
    # lower_bound_ was the solver's own value, above the optimum for a loose point (SCS at
    # tol=0.1: 1.9366 against 1.9305, a review); now the value minus the gap of its dual point.
    # (beta=0.5, not 1: a gap computed without beta survived a mutation pass at beta=1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8))
    y = X @ rng.standard_normal(8) + 0.1 * rng.standard_normal(40)
    y = y if Estimator is ConvexCNNRegressor else (y > 0).astype(int)
    fits = [
        Estimator(activation="linear", pooling=pooling, kernel_size=3, solver=solver, tol=tol)
        .set_params(beta=0.5)
        .fit(X, y)
        for solver, tol in [("scs", 0.1), ("clarabel", 1e-9)]
    ]
    for fit in fits:
        assert fit.lower_bound_ == fit.objective_ - max(fit.duality_gap_, 0.0)
        assert fit.objective_ == pytest.approx(fit.regularized_objective(X, y), rel=1e-9)
        assert fit.lower_bound_ <= fits[1].objective_  # (the tight one: about the optimum)
    assert fits[1].duality_gap_ <= 1e-6 * fits[1].objective_


@pytest.mark.parametrize("Estimator", [ConvexCNNRegressor, ConvexCNNClassifier])
def test_a_linear_group_lasso_is_solved_natively_and_certified_to_tol(Estimator, capsys):
    # a linear CNN with average pooling is one group without a cone: solver="auto" gives it
    # to the native solver, which certifies it to tol. CVXPY's own dual point certified the
    # logistic fit to 2.2e-5 of its objective only (Clarabel, without a warning: LOOSE_GAP)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8))
    y = X[:, 0] + 0.3 * rng.standard_normal(60)
    if Estimator is ConvexCNNClassifier:
        y = (y > 0).astype(int)
    params = dict(activation="linear", kernel_size=3, beta=1.0, tol=1e-9)
    auto = Estimator(**params, verbose=1).fit(X, y)
    assert "native optimal" in capsys.readouterr().out
    clarabel = Estimator(solver="clarabel", **params).fit(X, y)
    assert abs(auto.duality_gap_) <= 1e-9 * auto.objective_  # (-1.4e-14: rounding)
    assert auto.objective_ == pytest.approx(clarabel.objective_, rel=1e-7)
    assert auto.lower_bound_ <= clarabel.objective_
    assert auto.objective_ == pytest.approx(auto.regularized_objective(X, y), rel=1e-12)
    native = Estimator(solver="native", **params).fit(X, y)
    assert native.objective_ == auto.objective_


@pytest.mark.parametrize("pooling", ["average", "none"])
def test_linear_cnns_have_no_patterns(pooling, capsys):
    # they had one unused zero gate, counted in n_patterns_ and as "1 distinct patterns"; the
    # verbose line says they have none (not "0 distinct patterns", which read as a fault)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 6)), rng.standard_normal(10)
    reg = ConvexCNNRegressor(activation="linear", pooling=pooling, kernel_size=3, verbose=1)
    reg.fit(X, y)
    assert reg.n_patterns_ == 0 and reg.gates_.shape == (3, 0)
    assert (
        "of size 3 (kernel 3), no activation patterns (a linear CNN)\n" in capsys.readouterr().out
    )
    ConvexCNNRegressor(n_patterns=1, kernel_size=3, random_state=0, verbose=1).fit(X, y)
    assert "patches of size 3 (kernel 3), 1 distinct pattern\n" in capsys.readouterr().out


@pytest.mark.parametrize("n_patterns", [64, "exact"])
def test_linear_circular_cnns_have_no_patterns(n_patterns, capsys):
    # as the two-layer linear CNNs: the circular one had one unused zero gate, counted in
    # n_patterns_ and as "1 distinct pattern"
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 8)), rng.standard_normal(12)
    reg = ConvexCNNRegressor(architecture="circular", activation="linear", verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (n_patterns='exact' is ignored)
        reg.set_params(n_patterns=n_patterns).fit(X, y)
    assert reg.n_patterns_ == 0 and reg.gates_.shape == (8, 0)
    assert "the whole row), no activation patterns (a linear CNN)\n" in capsys.readouterr().out


def test_a_linear_circular_cnns_memory_check_ignores_n_patterns():
    # n_patterns is ignored, with a warning, as for the two-layer linear CNNs: the memory
    # check still counted it, and refused n_patterns=10**9 for 119,686 GiB of one piece
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 8)), rng.standard_normal(12)
    reg = ConvexCNNRegressor(architecture="circular", activation="linear", n_patterns=10**9)
    with pytest.warns(UserWarning, match=r"^n_patterns=1000000000 does not apply"):
        reg.fit(X, y)
    assert reg.n_patterns_ == 0


@pytest.mark.parametrize("scale", [0.95, 1.05, 1e13])
def test_linear_cnn_without_pooling_is_empty_exactly_above_the_spectral_norm(scale, capsys):
    # the nuclear norm's dual is the spectral norm: Z = 0 is optimal iff ||sum_t r_t X_t||_2 <=
    # beta. Far above it Clarabel and SCS failed (NotSolved at 1e14, a review)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 12))
    y = X[:, 1] + np.maximum(X[:, 2], 0)
    patches = np.lib.stride_tricks.sliding_window_view(X, 3, axis=1)  # (15, 10, 3)
    threshold = np.linalg.norm(np.einsum("t,tkh->hk", y - y.mean(), patches), 2)
    reg = ConvexCNNRegressor(
        activation="linear", pooling="none", kernel_size=3, beta=scale * threshold, verbose=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(X, y)
    solved = "no conic solve" not in capsys.readouterr().out
    assert solved == (scale < 1) == (reg.filters_.shape[0] > 0)
    if not solved:
        assert reg.objective_ == pytest.approx(0.5 * np.sum((y - y.mean()) ** 2), rel=1e-12)
        assert reg.duality_gap_ == pytest.approx(0.0, abs=1e-12 * reg.objective_)


# --------------------------------------------------------------------------------------------
# parameters


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"n_layers": 4},
            r"n_layers=4 applies to architecture='circular' only, .* a list of grids\)\.$",
        ),
        (
            {"architecture": "three_layer", "activation": "linear"},
            r"architecture='three_layer' has no convex program with activation='linear'",
        ),
        # (the native solver's refusal came first, advising solver='auto', which then
        # refused the activation: a review)
        (
            {"architecture": "three_layer", "activation": "linear", "solver": "native"},
            r"architecture='three_layer' has no convex program with activation='linear'",
        ),
        (
            {"architecture": "circular", "pooling": "max"},
            r"architecture='circular' has no pooling \(each neuron reads the whole row\), but "
            r"got pooling='max', pool_size=None, readout='sum'; leave them at their defaults, "
            r"pooling='average', pool_size=None, readout='sum'\.$",
        ),
        (
            {"architecture": "three_layer", "readout": "dense"},
            r"architecture='three_layer' pools by a global average only, but got "
            r"pooling='average', pool_size=None, readout='dense'",
        ),
        (
            {"activation": "linear", "pooling": "none", "solver": "native"},
            r"^solver='native' solves group-norm programs, not the nuclear-norm program of "
            r"activation='linear' with pooling='none'; use solver='auto' or a CVXPY solver, "
            r"or pooling='average'\.$",
        ),
        (
            {"activation": "linear", "pooling": "max"},
            r"activation='linear' supports pooling='average' with pool_size=None and "
            r"readout='sum', and pooling='none', not pooling='max'",
        ),
    ],
)
def test_unsupported_combinations_say_what_to_do(params, match):
    X, y = low_rank_data(0, 10, 6, 6)
    with pytest.raises(ValueError, match=match):
        ConvexCNNRegressor(**params).fit(X, y)


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_no_pooling_reads_every_patch_out_whatever_the_readout(activation):
    # a review: readout='dense' was accepted with ReLUs and refused for a linear CNN
    X, y = low_rank_data(0, 10, 6, 6)
    patterns = dict(n_patterns=8) if activation == "relu" else {}  # (linear: none to draw)
    params = dict(activation=activation, pooling="none", random_state=0, **patterns)
    dense = ConvexCNNRegressor(readout="dense", **params).fit(X, y)
    summed = ConvexCNNRegressor(readout="sum", **params).fit(X, y)
    assert dense.objective_ == pytest.approx(summed.objective_, rel=1e-9)
    assert dense.output_weights_.shape == summed.output_weights_.shape


def test_n_layers_below_three_is_rejected():
    X, y = low_rank_data(0, 10, 6, 6)
    with pytest.raises(ValueError, match="'n_layers' parameter"):
        ConvexCNNRegressor(architecture="circular", n_layers=2).fit(X, y)


@pytest.mark.parametrize("n_layers, shown", [(159, "9^-79 = 4.1e-76"), (499, "9^-249 = 2.5e-238")])
def test_a_depth_whose_norm_underflows_is_refused(n_layers, shown):
    # a review: at n_layers=1000 every block of the spectral norm underflowed to zero, and
    # the fit had no neuron and a lower bound of 20.8 where deeper networks reach 0.05
    X, y = low_rank_data(0, 10, 9, 9)
    message = (
        rf"^n_layers={n_layers} on rows of 9 features scales the spectral norm by "
        rf"{re.escape(shown)}, "
        r"below the 1e-75 that float64 computes the program with; use n_layers of at most 158 "
        r"for rows of 9 features\.$"
    )
    for activation in ("relu", "linear"):
        est = ConvexCNNRegressor(architecture="circular", n_layers=n_layers, activation=activation)
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)


def test_the_depth_refusal_shows_the_scale_it_rounds():
    # a review: 4991^-26.5 was shown as "10.0e-99"
    from sklearn_convexcnn._formulations.circular import check_depth

    with pytest.raises(ValueError, match=r"by 4991\^-26\.5 = 1\.0e-98, .* at most 41 for"):
        check_depth(4991, 54)
    check_depth(4991, 41)
    check_depth(1, 499)  # (rows of one feature: no scale to underflow)


def test_exact_three_layer_is_refused_beyond_its_limit():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((25, 4)), rng.standard_normal(25)
    with pytest.raises(ValueError, match=r"needs all 2\^25 second-layer patterns"):
        ConvexCNNRegressor(architecture="three_layer", kernel_size=2, n_patterns="exact").fit(X, y)


def test_circular_checks_input_shape():
    X, y = low_rank_data(0, 10, 6, 6)
    with pytest.raises(ValueError, match=r"input_shape=\(2, 2\) describes 4 features"):
        ConvexCNNRegressor(architecture="circular", input_shape=(2, 2)).fit(X, y)


@pytest.mark.parametrize(
    "param, value, default",
    [
        ("kernel_size", 100, None),
        ("kernel_size", 3, None),
        ("stride", 2, 1),
        ("stride", (1, 2), 1),
        ("stride", (1, 1), 1),  # (on signals: two axes where they have one)
    ],
)
def test_circular_warns_that_it_ignores_a_kernel_size_or_stride(param, value, default):
    X, y = low_rank_data(0, 10, 6, 6)
    params = dict(architecture="circular", n_patterns=8, random_state=0)
    with pytest.warns(
        UserWarning,
        match=rf"{re.escape(f'{param}={value}')} does not apply to architecture='circular'.*it "
        r"is ignored\. "
        rf"Leave {param}={default}\.",
    ):
        ignored = ConvexCNNRegressor(**params, **{param: value}).fit(X, y)
    plain = ConvexCNNRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(ignored.predict(X), plain.predict(X))


@pytest.mark.parametrize(
    "stride, input_shape",
    [((1, 1), (4, 4)), ([1, 1], (4, 4)), (np.array([1, 1]), (4, 4)), ((1, 1), (4, 2, 2))],
)
def test_circular_takes_the_default_stride_spelled_per_axis_silently(stride, input_shape):
    # (a circular audit: stride=(1, 1) on images warned that a stride was ignored; images
    # with channels have two spatial axes too)
    X, y = low_rank_data(0, 10, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ConvexCNNRegressor(
            architecture="circular", input_shape=input_shape, stride=stride, n_patterns=8,
            random_state=0,
        ).fit(X, y)  # fmt: skip


def test_circular_warns_of_a_stride_of_ones_for_more_axes_than_the_input_has():
    # (a review: stride=(1, 1, 1) on 4x4 images was taken silently, which two layers refuse)
    X, y = low_rank_data(0, 10, 16, 16)
    with pytest.warns(UserWarning, match=r"^stride=\(1, 1, 1\) does not apply to architecture="):
        ConvexCNNRegressor(
            architecture="circular", input_shape=(4, 4), stride=(1, 1, 1), n_patterns=8,
            random_state=0,
        ).fit(X, y)  # fmt: skip


@pytest.mark.parametrize(
    "params, ignored",
    [
        ({"activation": "linear", "n_patterns": 500}, r"n_patterns=500 does not apply to "
         r"activation='linear', which has no activation patterns.*Leave n_patterns=64\."),
        ({"activation": "linear", "n_patterns": "exact"}, r"n_patterns='exact' does not apply"),
        ({"architecture": "circular", "prune": False}, r"prune=False does not apply to "
         r"architecture='circular' with activation='relu': only two-layer ReLU CNNs are "
         r"pruned; it is ignored\. Leave prune=True\."),
        ({"architecture": "three_layer", "n_patterns": 4, "prune": False},
         r"prune=False does not apply to architecture='three_layer'"),
        ({"activation": "linear", "prune": False}, r"prune=False does not apply"),
    ],
)  # fmt: skip
def test_parameters_a_network_does_not_use_are_ignored_with_a_warning(params, ignored):
    # (the user guide promises it; a review found n_patterns and prune ignored silently)
    X, y = low_rank_data(0, 10, 6, 6)
    params = {"random_state": 0, **params}
    with pytest.warns(UserWarning, match=ignored):
        fitted = ConvexCNNRegressor(**params).fit(X, y)
    defaults = {name: params[name] for name in ("activation", "architecture") if name in params}
    if params.get("architecture") != "three_layer":  # (its default n_patterns differs)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            plain = ConvexCNNRegressor(**defaults, random_state=0).fit(X, y)
        np.testing.assert_allclose(fitted.predict(X), plain.predict(X), rtol=1e-12)


def test_circular_takes_the_defaults_in_any_spelling_without_warning():
    # a review: stride=(1,) was "ignored" with the advice to leave 1 (kernel_size's default is
    # None, and any kernel_size is ignored with a warning: the test above)
    X, y = low_rank_data(0, 10, 6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ConvexCNNRegressor(architecture="circular", stride=(1,)).fit(X, y)
        ConvexCNNRegressor(architecture="circular", stride=[1]).fit(X, y)
    with pytest.warns(UserWarning, match=r"kernel_size=\(3, \(1, 2\)\) does not apply"):
        ConvexCNNRegressor(architecture="circular", kernel_size=(3, (1, 2))).fit(X, y)


def test_nuclear_norm_needs_a_psd_capable_solver():
    X, y = low_rank_data(0, 10, 6, 6)
    reg = ConvexCNNRegressor(activation="linear", pooling="none", solver="ecos")
    with pytest.raises(ValueError, match=r"nuclear-norm program, which solver='ecos' cannot"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")  # refused before any work


# --------------------------------------------------------------------------------------------
# scikit-learn API

FAST = [
    {"architecture": "circular", "n_patterns": 8},
    {"architecture": "three_layer", "kernel_size": 2, "n_patterns": 3},
    {"activation": "linear", "kernel_size": 2},
]
CHECKED = [
    cls(random_state=0, **params)
    for params in FAST
    for cls in (ConvexCNNClassifier, ConvexCNNRegressor)
]


def expected_failed_checks(estimator):
    if isinstance(estimator, ConvexCNNRegressor) and estimator.architecture != "circular":
        return {
            "check_regressors_train": (
                "make_regression with 10 features and 1 informative one: a filter of size 2 "
                "shared by every patch and averaged over them cannot single out one feature "
                "(the circular CNN, whose filters span the whole row, passes)"
            )
        }
    return {}


@parametrize_checks(CHECKED)
def test_sklearn_compatible(estimator, check):
    run_check(estimator, check, expected_failed_checks(estimator))


@pytest.mark.parametrize(
    "estimator",
    CHECKED,
    ids=lambda est: f"{type(est).__name__}-{est.architecture}-{est.activation}",
)
def test_estimator_checks_are_listed(estimator):
    # (the xfails: check_regressors_train's score, as test_estimators shows for the same filter)
    assert_checks_listed(estimator, expected_failed_checks(estimator))


@pytest.mark.parametrize("params", FAST, ids=lambda p: p.get("architecture", "linear"))
def test_pipeline_grid_search_over_beta(params):
    # x0 - x5 is in reach of every architecture here, the kernel-2 ones included (filter
    # (5, -5) averaged over the 5 patches); a huge beta zeroes the network (R^2 <= 0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = X[:, 0] - X[:, 5] + 0.1 * rng.standard_normal(40)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), ConvexCNNRegressor(random_state=0, **params)),
        {"convexcnnregressor__beta": [0.1, 1.0, 1000.0]},
        cv=2,
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_["convexcnnregressor__beta"] in (0.1, 1.0)
    # measured best R^2: circular 0.85, three-layer 0.64, linear 0.94; beta=1000: -0.13
    assert search.best_score_ >= 0.5
    assert scores[2] <= search.best_score_ - 0.5


# --------------------------------------------------------------------------------------------
# gradient training never beats the convex optimum (doc/formulations.md §4, oracle 3)


def _train(torch, parameters, objective, seed, adam_steps=1000):
    """Adam then L-BFGS from a random start; the final objective."""
    torch.manual_seed(seed)
    for p in parameters:
        p.data = torch.randn_like(p) * 0.5
    adam = torch.optim.Adam(parameters, lr=1e-2)
    for _ in range(adam_steps):
        adam.zero_grad()
        value = objective()
        value.backward()
        adam.step()
    lbfgs = torch.optim.LBFGS(parameters, max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        value = objective()
        value.backward()
        return value

    lbfgs.step(closure)
    return float(objective().detach())


@pytest.mark.torch
@pytest.mark.parametrize("n_layers, delta", [(3, 0.05), (4, 0.15)])
def test_gradient_training_never_below_circular_optimum(n_layers, delta, torch_single_thread):
    torch = torch_single_thread
    X, y = low_rank_data(5, 8, 6, 2)
    beta = 0.05
    reg = ConvexCNNRegressor(
        architecture="circular",
        n_layers=n_layers,
        beta=beta,
        n_patterns="exact",
        fit_intercept=False,
        random_state=0,
        tol=1e-8,
    ).fit(X, y)
    assert reg.n_patterns_ == cover_bound(8, 2)  # exhaustive: a true lower bound
    Xt, yt = torch.tensor(X), torch.tensor(y)
    width = 16  # the convex optimum has 14 (L=3) and 18 (L=4) neurons; 8 stalled at +9-10 %
    layers = [
        torch.zeros(width, 6, dtype=torch.float64, requires_grad=True) for _ in range(n_layers - 1)
    ]
    w = torch.zeros(width, dtype=torch.float64, requires_grad=True)

    # circulant index: (u * v)_t = sum_s u[(t - s) mod d] v_s
    circulant = (torch.arange(6)[:, None] - torch.arange(6)[None, :]) % 6

    def objective():
        # inner filters on the unit sphere (feasible for ||u|| <= 1); weight decay on the rest
        q = layers[-1]
        for inner in reversed(layers[:-1]):
            unit = inner / inner.norm(dim=1, keepdim=True)
            q = torch.einsum("jts,js->jt", unit[:, circulant], q)
        f = torch.relu(Xt @ q.T) @ w
        penalty = (layers[-1] ** 2).sum() + (w**2).sum()
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * penalty

    values = [_train(torch, [*layers, w], objective, seed) for seed in range(4)]
    bound = reg.objective_ if n_layers == 3 else reg.lower_bound_
    print(f"n_layers={n_layers}: convex {bound:.6f}, gradient restarts {sorted(values)}")
    assert min(values) >= bound * (1 - 1e-6)
    # training gets close, so the bound is not vacuous. Measured best of these 4 restarts:
    # +0.25 % (L=3, exact) and +7.4 % (L=4, where the bound is the relaxation's and the
    # recovered network lies 7.7 % above it, 9.7 % before its output layer was refit); of 16
    # restarts, 10 within +4 % and 5 within +10 %
    assert min(values) <= (1 + delta) * bound


@pytest.mark.torch
def test_gradient_training_never_below_three_layer_optimum(torch_single_thread):
    torch = torch_single_thread
    X, y = tiny_three_layer_data(0)
    beta = 0.05
    reg = ConvexCNNRegressor(
        architecture="three_layer",
        kernel_size=2,
        beta=beta,
        n_patterns="exact",
        fit_intercept=False,
        random_state=0,
        tol=1e-8,
    ).fit(X, y)
    patches = torch.tensor(np.stack([X[:, k : k + 2] for k in range(3)], axis=1))
    yt = torch.tensor(y)
    n_branches, n_filters = 8, 4  # the convex optimum has 8 branches
    U = torch.zeros(n_branches, n_filters, 2, dtype=torch.float64, requires_grad=True)
    W1 = torch.zeros(n_branches, n_filters, dtype=torch.float64, requires_grad=True)
    w2 = torch.zeros(n_branches, dtype=torch.float64, requires_grad=True)

    def objective():
        units = U / U.norm(dim=2, keepdim=True)
        pooled = torch.relu(torch.einsum("nkh,jth->njtk", patches, units)).mean(dim=3)
        hidden = torch.relu((pooled * W1).sum(dim=2))
        f = hidden @ w2
        penalty = (W1.abs().sum(dim=1) ** 2).sum() + (w2**2).sum()
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * penalty

    values = [_train(torch, [U, W1, w2], objective, seed) for seed in range(4)]
    print(f"three-layer: convex {reg.objective_:.6f}, gradient restarts {sorted(values)}")
    assert min(values) >= reg.objective_ * (1 - 1e-6)
    # training gets close: best of these 4 restarts +0.80 %; of 16 restarts, 15 within +3 %
    assert min(values) <= 1.03 * reg.objective_


@pytest.mark.torch
def test_gradient_training_attains_linear_deep_circular_optimum(torch_single_thread):
    # linear circular CNNs: the weighted spectral l1 is exact for every depth
    # (doc/formulations.md §9)
    torch = torch_single_thread
    rng = np.random.default_rng(0)  # the data of doc/formulations.md §9
    X, y = rng.standard_normal((12, 8)), rng.standard_normal(12)
    beta = 0.5
    reg = ConvexCNNRegressor(
        architecture="circular",
        activation="linear",
        n_layers=4,
        beta=beta,
        fit_intercept=False,
        tol=1e-9,
    ).fit(X, y)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    width = 8
    layers = [torch.zeros(width, 8, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    w = torch.zeros(width, dtype=torch.float64, requires_grad=True)
    circulant = (torch.arange(8)[:, None] - torch.arange(8)[None, :]) % 8

    def objective():
        q = layers[-1]
        for inner in reversed(layers[:-1]):
            unit = inner / inner.norm(dim=1, keepdim=True)
            q = torch.einsum("jts,js->jt", unit[:, circulant], q)
        f = (Xt @ q.T) @ w
        penalty = (layers[-1] ** 2).sum() + (w**2).sum()
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * penalty

    values = [_train(torch, [*layers, w], objective, seed) for seed in range(3)]
    print(f"linear, n_layers=4: convex {reg.objective_:.9f}, gradient restarts {sorted(values)}")
    assert min(values) >= reg.objective_ * (1 - 1e-6)
    # gradient training reaches it: the weighted norm is the depth-4 cost, not a bound
    assert min(values) == pytest.approx(reg.objective_, rel=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("pooling", ["average", "none"])
def test_gradient_training_attains_the_linear_two_layer_optimum(pooling, torch_single_thread):
    # linear two-layer CNNs: a group lasso (average pooling) and a nuclear-norm program (no
    # pooling, doc/formulations.md §5.1); gradient training of the same network, with
    # weight decay, never goes below them and reaches them (no spurious local minima)
    torch = torch_single_thread
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 6)), rng.standard_normal(10)
    beta = 0.1
    reg = ConvexCNNRegressor(
        activation="linear", pooling=pooling, kernel_size=3, beta=beta, tol=1e-9
    ).fit(X, y)
    patches = torch.tensor(X).unfold(1, 3, 1)  # (n, K=4, h=3)
    yt = torch.tensor(y)
    width = 5
    U = torch.zeros(width, 3, dtype=torch.float64, requires_grad=True)
    W = torch.zeros(width, *((4,) if pooling == "none" else ()), dtype=torch.float64)
    W.requires_grad_()
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)

    def objective():
        maps = patches @ U.T  # (n, K, m)
        f = (maps * W.T).sum(dim=(1, 2)) if pooling == "none" else maps.mean(dim=1) @ W
        penalty = (U**2).sum() + (W**2).sum()
        return 0.5 * ((f + b - yt) ** 2).sum() + 0.5 * beta * penalty

    values = [_train(torch, [U, W, b], objective, seed) for seed in range(3)]
    assert min(values) >= reg.objective_ * (1 - 1e-6), (values, reg.objective_)
    assert min(values) == pytest.approx(reg.objective_, rel=1e-5)


def test_a_circular_network_keeps_a_small_group_of_large_fit():
    # a review: on inputs whose scales differ by 1e7, a group of norm 1e-7 of the largest
    # carried a fit of 4; the recovery dropped groups by their norm, and the network's
    # objective was 8.56 against the program's 0.105. Residue goes by its fit (Finishing).
    from sklearn_convexcnn._formulations._pruning import clean_solution
    from sklearn_convexcnn._formulations.circular import CircularFormulation
    from sklearn_convexcnn._solvers import Solution

    rng = np.random.RandomState(0)
    X = rng.randn(8, 4)
    X[:, 0] *= 1e7
    patches = X[:, None, :]
    formulation = CircularFormulation(3)
    u0, u1 = np.array([1.0, 0.3, -0.2, 0.1]), np.array([0.0, 1.0, 0.5, -0.3])
    gates = np.stack([u0, u1], axis=1)
    program = formulation.program(patches, gates)
    coef = np.zeros((2, 2, 4))
    coef[0, 0], coef[0, 1] = 1e-7 * u0, u1  # (each in its cone: its gate's own direction)
    y = program.fit_values(coef)
    solution = Solution(coef, 0.0, 0.0, True, "optimal", 1, "native", 0.0)
    solution = clean_solution(program, solution, y, beta=0.1, loss="squared")
    network = formulation.network([solution], patches, gates)
    assert network.n_neurons == 2
    np.testing.assert_allclose(network.forward(patches)[:, 0], y, rtol=1e-12, atol=1e-12)
    assert network.objective(patches, y[:, None], 0.1, "squared") == pytest.approx(
        solution.objective, rel=1e-12
    )


def test_a_linear_network_keeps_a_small_component_of_large_fit():
    # a review: without pooling the recovery dropped singular components below 1e-9 of the
    # largest, and on inputs whose scales differ by 1e12 one of 1e-10 carried a fit of 359
    from sklearn_convexcnn._formulations.linear import LinearFormulation
    from sklearn_convexcnn._patches import extract_patches, resolve_geometry
    from sklearn_convexcnn._solvers import Solution

    rng = np.random.RandomState(0)
    X = rng.randn(8, 5)
    X[:, 0] *= 1e12
    patches = extract_patches(X, resolve_geometry(None, 2, 1, 5))
    formulation = LinearFormulation("none")
    program = formulation.program(patches, None)
    coef = np.zeros((2, 4))
    coef[1, 1], coef[0, 0] = 1.0, 1e-10  # (the second singular value 1e-10 of the first)
    solution = Solution(coef, 0.0, 0.0, True, "optimal", 1, "clarabel", 0.0)
    network = formulation.network([solution], patches, None)
    assert network.n_neurons == 2
    fit = program.fit_values(coef)
    np.testing.assert_allclose(network.forward(patches)[:, 0], fit, rtol=1e-12, atol=1e-9)
    # solver residue still goes: a component small in both its singular value and its fit
    coef[0, 0] = 1e-12 * X[:, 0].std() ** -1
    assert (
        formulation.network([dataclasses.replace(solution, coef=coef)], patches, None).n_neurons
        == 1
    )


def test_a_deep_circular_fit_is_no_worse_than_the_3_layer_network_padded(monkeypatch):
    # a deep circular CNN can be any 3-layer one (identity filters inside, of norm 1, cost
    # nothing), but the relaxation's realized network, even refit, cost 3.31 at 8 layers
    # where the exact 3-layer optimum is 2.97 (the networks before the polish, which moves
    # the padded one too)
    monkeypatch.setattr(ConvexCNNRegressor, "_polished", lambda self, _, net, *args: net)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    params = dict(architecture="circular", beta=0.5, n_patterns=8, random_state=0)
    three = ConvexCNNRegressor(n_layers=3, **params).fit(X, y)
    deep = ConvexCNNRegressor(n_layers=8, **params).fit(X, y)
    assert deep.objective_ <= three.objective_ * (1 + 1e-7)
    assert deep.regularized_objective(X, y) == pytest.approx(deep.objective_, rel=1e-12)
    assert deep.layer_filters_.shape[0] == 7
    # (the 3-layer fit itself, finished: no solver residue as extra neurons)
    assert deep.layer_filters_.shape[1] == three.layer_filters_.shape[1]
    np.testing.assert_allclose(np.linalg.norm(deep.layer_filters_[:-1], axis=2), 1.0)
    np.testing.assert_allclose(deep.predict(X), three.predict(X), rtol=1e-6, atol=1e-6)
    assert deep.lower_bound_ < deep.objective_  # (still the relaxation's bound)


def test_a_deep_circular_fit_takes_each_outputs_neurons_from_the_cheaper_network(monkeypatch):
    # each neuron serves one output, so the relaxation's network and the padded 3-layer one
    # can be chosen output by output: the whole networks cost 17.06 and 17.09 here, and
    # outputs 0 and 2 are cheaper in the padded one (before the polish)
    monkeypatch.setattr(ConvexCNNRegressor, "_polished", lambda self, _, net, *args: net)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((30, 8)), rng.standard_normal((30, 3))
    params = dict(architecture="circular", beta=0.5, n_patterns=8, random_state=0)
    three = ConvexCNNRegressor(n_layers=3, **params).fit(X, Y)
    deep = ConvexCNNRegressor(n_layers=8, **params).fit(X, Y)
    assert deep.regularized_objective(X, Y) == pytest.approx(deep.objective_, rel=1e-12)
    monkeypatch.setattr(
        ConvexCNNRegressor, "_no_worse_than_shallow", lambda self, _, net, *args: (net, None)
    )
    relaxation = ConvexCNNRegressor(n_layers=8, **params).fit(X, Y)
    assert deep.objective_ < 0.98 * min(three.objective_, relaxation.objective_)
    # (its neurons are those of the two networks, each of one output)
    assert np.all((deep.output_weights_ != 0).sum(axis=1) == 1)
    served = (deep.output_weights_ != 0).argmax(axis=1)
    for network, outputs in [(relaxation, [1]), (three, [0, 2])]:
        mine = deep.filters_[np.isin(served, outputs)]
        theirs = network.filters_[np.isin((network.output_weights_ != 0).argmax(axis=1), outputs)]
        np.testing.assert_allclose(mine, theirs, atol=1e-10)


def _one_output_per_neuron(rng, served, intercept):
    # a 3-layer circular CNN on signals of 4 whose neuron j serves output served[j] only
    from sklearn_convexcnn._formulations.circular import CircularCNN

    weights = np.zeros((len(served), 3))
    weights[np.arange(len(served)), served] = rng.standard_normal(len(served))
    inner = rng.standard_normal((len(served), 4))
    inner /= np.linalg.norm(inner, axis=1, keepdims=True)
    layers = np.stack([inner, rng.standard_normal((len(served), 4))])
    return CircularCNN(layers, weights, np.asarray(intercept, dtype=float))


def test_cheapest_by_output_takes_each_outputs_neurons_and_intercept_from_its_cheaper_network():
    # each neuron serving one output, the objective is a sum of the outputs' costs: the
    # network kept costs the least of each output's, with the neurons and intercept of the
    # network chosen for it (two outputs from one network, one from the other)
    from sklearn_convexcnn._formulations.circular import _output_network, cheapest_by_output

    rng = np.random.default_rng(0)
    patches, Y = rng.standard_normal((12, 1, 4)), rng.standard_normal((12, 3))
    first = _one_output_per_neuron(rng, [0, 1, 1, 2], [0.1, 0.2, 0.3])
    second = _one_output_per_neuron(rng, [2, 0, 1, 2], [-0.1, -0.2, -0.3])

    def cost(network, output):
        neurons = np.asarray(network.output_weights)[:, output] != 0
        part = _output_network(network, neurons, output)
        return part.objective(patches, Y[:, [output]], 0.5, "squared")

    costs = np.array([[cost(network, c) for c in range(3)] for network in (first, second)])
    expected = costs.argmin(axis=0)
    assert len(set(expected.tolist())) == 2  # (the premise: a choice of each kind)
    kept, chosen = cheapest_by_output([first, second], patches, Y, 0.5, "squared")
    np.testing.assert_array_equal(chosen, expected)
    assert kept.objective(patches, Y, 0.5, "squared") == pytest.approx(costs.min(axis=0).sum())
    for c, k in enumerate(chosen):
        network = (first, second)[k]
        assert kept.intercept[c] == network.intercept[c]
        ours = np.asarray(kept.output_weights)[:, c] != 0
        theirs = np.asarray(network.output_weights)[:, c] != 0
        np.testing.assert_array_equal(kept.filters[ours], network.filters[theirs])
        np.testing.assert_array_equal(
            np.asarray(kept.output_weights)[ours], np.asarray(network.output_weights)[theirs]
        )


def test_cheapest_by_output_keeps_a_whole_network_where_a_neuron_serves_several_outputs():
    # its cost cannot be split by output: the whole network of the least objective is kept
    from sklearn_convexcnn._formulations.circular import cheapest_by_output

    rng = np.random.default_rng(1)
    patches, Y = rng.standard_normal((12, 1, 4)), rng.standard_normal((12, 3))
    separate = _one_output_per_neuron(rng, [0, 1, 2], [0.0, 0.0, 0.0])
    shared = _one_output_per_neuron(rng, [0, 1, 2], Y.mean(axis=0))
    weights = np.array(shared.output_weights)
    weights[0] = 0.1  # (neuron 0 serves every output)
    shared = dataclasses.replace(shared, output_weights=weights)
    networks = [separate, shared]
    objectives = [network.objective(patches, Y, 0.5, "squared") for network in networks]
    assert objectives[0] != objectives[1]
    cheaper_first = int(np.argmin(objectives))
    for order, cheaper in [(networks, cheaper_first), (networks[::-1], 1 - cheaper_first)]:
        kept, chosen = cheapest_by_output(order, patches, Y, 0.5, "squared")
        assert kept is order[cheaper]
        np.testing.assert_array_equal(chosen, [cheaper] * 3)


def test_a_deep_circular_fits_verbose_line_names_the_outputs_taken_from_the_padded_network(
    capsys, monkeypatch
):
    # verbose=1 says which network each output's neurons came from: the outputs taken from
    # the padded one by their names, with the objective of the network kept (below both), or
    # the padded one whole where every output came from it (objective_ before the polish)
    for Estimator in (ConvexCNNClassifier, ConvexCNNRegressor):
        monkeypatch.setattr(Estimator, "_polished", lambda self, _, net, *args: net)
    params = dict(architecture="circular", n_layers=8, beta=0.5, n_patterns=8, random_state=0)
    for seed, taken in [(2, "outputs 1 (class dog), 2 (class emu)"), (5, "output 0 (class cat)")]:
        rng = np.random.default_rng(seed)
        X, y = rng.standard_normal((30, 8)), np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 30)]
        clf = ConvexCNNClassifier(verbose=1, **params).fit(X, y)
        out = capsys.readouterr().out
        line = re.search(r"padded with identity filters: objective (\S+) against (\S+) (.*)\n", out)
        assert line is not None, out
        assert clf.objective_ < min(float(line[1]), float(line[2]))  # (outputs of each)
        assert line[3] == f"(kept the padded one for {taken}: objective {clf.objective_:.6g})"
    # (one output, taken from the padded network: no names)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    ConvexCNNRegressor(verbose=1, **params).fit(X, y)
    assert re.search(r"against \S+ \(kept the padded one\)\n", capsys.readouterr().out)


def test_padding_a_circular_network_keeps_its_function_and_penalty():
    from sklearn_convexcnn._formulations.circular import CircularFormulation

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.standard_normal(20)
    three = ConvexCNNRegressor(architecture="circular", n_layers=3, beta=0.2, n_patterns=8)
    network = three.set_params(random_state=0).fit(X, y).network_
    padded = CircularFormulation(7).padded(network)
    assert padded.layer_filters.shape == (6, *network.layer_filters.shape[1:])
    np.testing.assert_allclose(padded.filters, network.filters, atol=1e-14)
    assert padded.penalty() == network.penalty()
    patches = X[:, None, :]
    np.testing.assert_allclose(padded.forward(patches), network.forward(patches), atol=1e-12)


def test_a_warm_deep_circular_refit_starts_its_3_layer_programs_from_the_last_ones(monkeypatch):
    # from the relaxation's solutions, four warm refits along beta took 3.3 s against 2.2 s
    # from the last fit's 3-layer solutions (and 1.0 s without the comparison); without the
    # polish, which from networks a tol apart ends 2e-3 apart in 200 iterations
    monkeypatch.setattr(ConvexCNNRegressor, "_polished", lambda self, _, net, *args: net)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    params = dict(architecture="circular", n_layers=6, n_patterns=8, random_state=0)
    reg = ConvexCNNRegressor(solver="native", warm_start=True, beta=0.5, **params).fit(X, y)
    last, _ = reg._warm_start_state[2][0]  # (output 0's 3-layer solution: nonzero entries)
    starts = []
    solve_program = ConvexCNNRegressor._solve_program

    def recorded(self, formulation, gates, data, warm_starts, options):
        starts.append((formulation.n_layers, warm_starts))
        return solve_program(self, formulation, gates, data, warm_starts, options)

    monkeypatch.setattr(ConvexCNNRegressor, "_solve_program", recorded)
    reg.set_params(beta=0.4).fit(X, y)
    assert [n_layers for n_layers, _ in starts] == [6, 3]
    np.testing.assert_array_equal(starts[1][1][0]["coef_init"], last.dense())
    cold = ConvexCNNRegressor(solver="native", beta=0.4, **params).fit(X, y)
    assert reg.objective_ == pytest.approx(cold.objective_, rel=1e-7)


# --------------------------------------------------------------------------------------------
# circular formulation pieces, checked against their definitions (doc/formulations.md §7)


# (3 features: the shortest rows with a pair (1, 2) of twice the weight)
@pytest.mark.parametrize("length", [3, 7, 8])
@pytest.mark.parametrize("n_layers", [3, 4, 6])
def test_spectral_blocks_are_the_weighted_spectral_l1_norm(length, n_layers):
    # sum_b ||T_b c|| = d^(-(L-1)/2) sum_k w_k |(F c)_k|, w_k = 2^((L-3)/2) off DC and Nyquist
    # (the pair (k, d - k) is one block of twice that weight); the imaginary rows of DC and
    # Nyquist are exactly zero, as Im F_k c is for real c there
    from sklearn_convexcnn._formulations.circular import spectral_blocks

    c = np.random.default_rng(0).standard_normal(length)
    blocks = spectral_blocks(length, n_layers)
    k = np.arange(length)
    weights = np.where((k == 0) | (2 * k == length), 1.0, 2.0 ** ((n_layers - 3) / 2))
    expected = length ** (-(n_layers - 1) / 2) * np.sum(weights * np.abs(np.fft.fft(c)))
    assert np.linalg.norm(blocks @ c, axis=1).sum() == pytest.approx(expected, rel=1e-12)
    assert blocks.shape == (length // 2 + 1, 2, length)
    assert not blocks[0, 1].any()
    if length % 2 == 0:
        assert not blocks[length // 2, 1].any()


@pytest.mark.parametrize("n_layers", [3, 4, 6, 10])
def test_factorize_attains_the_cost_of_its_filter(n_layers):
    # inner filters of unit norm whose convolution with the last is q, the last of norm
    # ||z||_p, z = F q / d^((L-1)/2), p = 2/(L-1) (doc/formulations.md §7.2-7.3): by an
    # explicit DFT and the naive circular convolution
    from sklearn_convexcnn._formulations.circular import factorize

    d = 8
    q = np.random.default_rng(n_layers).standard_normal(d)
    inner, last = factorize(q, n_layers)
    assert inner.shape == (n_layers - 2, d)
    np.testing.assert_allclose(np.linalg.norm(inner, axis=1), 1.0, rtol=1e-12)
    product = last
    for u in inner:
        product = naive_circular_convolution(u, product)
    np.testing.assert_allclose(product, q, atol=1e-12)
    t = np.arange(d)
    spectrum = [abs(sum(q * np.exp(-2j * np.pi * k * t / d))) for k in range(d)]
    p = 2 / (n_layers - 1)
    z = np.array(spectrum) / d ** ((n_layers - 1) / 2)
    assert np.linalg.norm(last) == pytest.approx(np.sum(z**p) ** (1 / p), rel=1e-12)


def test_factorize_treats_coefficients_below_rtol_as_zero():
    # a frequency at 1e-9 of the largest, below rtol, is left out of the inner filters too: it
    # would take (1e-9)^(1/9) = 10 % of their spectrum at 10 layers, and 4 % of the cost. The
    # factorization is then that of cos(2 pi t / 8): |F q| = 4 at k = 1, 7, the cost
    # (2 (4 / 8^4.5)^(2/9))^4.5 = 4^-3.5 = 1/128 exactly
    from sklearn_convexcnn._formulations.circular import factorize

    t = np.arange(8)
    wave = np.cos(2 * np.pi * t / 8)
    inner, last = factorize(wave + 1e-9 * np.cos(2 * np.pi * 3 * t / 8), 10, rtol=1e-6)
    assert np.linalg.norm(last) == pytest.approx(1 / 128, rel=1e-12)
    product = last
    for u in inner:
        product = naive_circular_convolution(u, product)
    np.testing.assert_allclose(product, wave, atol=1e-15)


def test_a_zero_neuron_uses_no_frequency():
    # frequencies_used keeps magnitudes above rtol times the neuron's largest: none of a
    # neuron whose filter is zero (not all of them)
    from sklearn_convexcnn._formulations.circular import CircularCNN

    last = np.zeros((1, 2, 4))
    last[0, 0] = [1.0, 0.0, 1.0, 0.0]  # frequencies 0 and 2 only
    network = CircularCNN(last, np.ones((2, 1)), np.zeros(1))
    used = network.frequencies_used()
    assert [f.tolist() for f in used] == [[0, 2], []]


def test_the_deepest_circular_cnn_is_the_one_rows_of_two_features_allow():
    # MAX_LAYERS is documented as the deepest that rows of 2 features allow: one layer more
    # scales their spectral norm below MIN_DATA_SCALE (2^-249.5 = 7.8e-76 < 1e-75)
    from sklearn_convexcnn._formulations.circular import MAX_LAYERS, check_depth

    check_depth(2, MAX_LAYERS)
    with pytest.raises(ValueError, match=r"^n_layers=500 on rows of 2 features .* at most 499 "):
        check_depth(2, MAX_LAYERS + 1)


def test_a_circular_cnns_inner_filters_may_not_exceed_unit_norm_by_1e_4():
    # the penalty counts the last layer only: an inner filter of norm 1.0001 would move 1e-4
    # of its neuron's scale out of the penalty; rounding (1e-9) is accepted
    from sklearn_convexcnn._formulations.circular import CircularCNN

    inner = np.zeros((1, 2, 4))
    inner[0, :, 0] = 1.0
    network = CircularCNN(np.vstack([inner, np.ones((1, 2, 4))]), np.ones((2, 1)), np.zeros(1))
    for norm in (1.0 + 1e-9, 1.0 + 1e-6, 1.0):
        network.check_assigned("layer_filters", np.vstack([norm * inner, np.ones((1, 2, 4))]))
    with pytest.raises(ValueError, match=r"^layer_filters_ .* got a norm of 1\.0001: divide"):
        network.check_assigned("layer_filters", np.vstack([1.0001 * inner, np.ones((1, 2, 4))]))
    with pytest.raises(ValueError, match=r"^layer_filters_ "):  # (the bound is 1 + 1e-6)
        network.check_assigned("layer_filters", np.vstack([1.00001 * inner, np.ones((1, 2, 4))]))


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("n_layers", [3, 5])
def test_a_circular_network_without_groups_keeps_its_depth(n_layers, activation):
    # no neuron, but still n_layers - 1 circular layers (layer_filters_ of shape
    # (n_layers - 1, 0, d)), so that n_layers and the padding to deeper networks hold
    from sklearn_convexcnn._formulations.circular import CircularFormulation
    from sklearn_convexcnn._solvers._solution import Solution

    empty = Solution(
        coef=np.zeros((2, 3, 6)), intercept=0.5, objective=1.0, converged=True,
        status="optimal", n_iter=0, solver="native",
    )  # fmt: skip
    network = CircularFormulation(n_layers, activation).network([empty, empty], None, None)
    assert network.layer_filters.shape == (n_layers - 1, 0, 6)
    assert network.n_layers == n_layers
    assert network.output_weights.shape == (0, 2)
    np.testing.assert_array_equal(network.intercept, [0.5, 0.5])


def test_a_linear_3_layer_circular_cnn_has_one_neuron_per_output():
    # without a ReLU the program has one group per output, and at 3 layers its cost ||F q||_1 / d
    # is attained by one neuron; only deeper networks split it into one neuron per frequency
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 8)), rng.standard_normal((12, 2))
    params = dict(architecture="circular", activation="linear", beta=0.5, tol=1e-9)
    reg = ConvexCNNRegressor(**params).fit(X, Y)
    assert reg.layer_filters_.shape == (2, 2, 8)
    assert np.count_nonzero(reg.output_weights_, axis=0).tolist() == [1, 1]


# (7 features: odd rows, whose real spectrum has no Nyquist frequency to tell their length)
@pytest.mark.parametrize("length", [7, 8])
def test_a_deep_linear_circular_group_is_split_into_frequencies_that_sum_to_it(length):
    # each real frequency its own neuron, down to 1e-12 of the largest: the parts add up to the
    # group (a frequency at 1e-5 of the largest is part of its function too)
    from sklearn_convexcnn._formulations.circular import CircularFormulation

    t = np.arange(length)
    group = np.cos(2 * np.pi * t / length) + 1e-5 * np.cos(2 * np.pi * 3 * t / length) + 0.5
    coef = np.stack([group, np.zeros(length)])[:, None, :]  # (c, c') of one pattern
    groups, signs = CircularFormulation(5, "linear")._groups(coef)
    assert len(groups) == 3 and not signs.any()
    np.testing.assert_allclose(groups.sum(axis=0), group, rtol=0, atol=1e-15)
    # (c' enters with the opposite sign: the one group is c - c')
    groups, _ = CircularFormulation(5, "linear")._groups(coef[::-1])
    np.testing.assert_allclose(groups.sum(axis=0), -group, rtol=0, atol=1e-15)


def test_the_output_layer_refit_starts_from_the_realized_network():
    # the lasso's start (coef_init) is the realized network's own point, a = w ||u_last|| split
    # into (max(a, 0), max(-a, 0)): a refit stopped early is then no worse than that network
    from sklearn_convexcnn._formulations.circular import CircularCNN, CircularFormulation
    from sklearn_convexcnn._solvers._solution import Solution

    rng = np.random.default_rng(1)
    inner = np.zeros((2, 2, 5))
    inner[..., 0] = 1.0
    last = np.array([[3.0, 0.0, 0.0, 0.0, 4.0], [0.0, 0.5, 0.0, 0.0, 0.0]])  # norms 5, 0.5
    network = CircularCNN(np.vstack([inner, last[None]]), np.array([[2.0], [-3.0]]), np.zeros(1))
    starts = []

    def solve(program, output, coef_init, intercept_init):
        starts.append(coef_init)
        return Solution(
            coef=coef_init, intercept=intercept_init, objective=1.0, converged=True,
            status="optimal", n_iter=0, solver="native",
        )  # fmt: skip

    patches = rng.standard_normal((6, 1, 5))
    refit = CircularFormulation(4).refit_output_weights(network, patches, solve)
    np.testing.assert_allclose(starts[0][:, :, 0], [[10.0, 0.0], [0.0, 1.5]])
    # (started there and not moved: the same function)
    np.testing.assert_allclose(refit.forward(patches), network.forward(patches), rtol=1e-12)


def test_the_output_layer_refit_sets_each_neurons_weight_from_the_lasso():
    # the refit (CircularFormulation.refit_output_weights) hands the solver a lasso over the
    # neurons of each output and sets each neuron's a = c - c' from its solution, balanced:
    # w = sign(a) sqrt(|a|), last filter of norm sqrt(|a|); neurons at a = 0 go, outputs
    # without neurons are skipped (not the end of the refit)
    from sklearn_convexcnn._formulations.circular import CircularCNN, CircularFormulation
    from sklearn_convexcnn._solvers._solution import Solution

    rng = np.random.default_rng(0)
    length = 6
    inner = np.zeros((2, 3, length))
    inner[..., 0] = 1.0  # identity filters: q_j is the last filter
    last = rng.standard_normal((3, length))
    weights = np.array([[0.0, 1.0], [0.0, -2.0], [0.0, 0.5]])  # output 0 has no neuron
    network = CircularCNN(np.vstack([inner, last[None]]), weights, np.array([0.1, 0.2]))
    patches = rng.standard_normal((10, 1, length))
    refit_a = np.array([-0.3, 0.5, 0.0])
    calls = []

    def solve(program, output, coef_init, intercept_init):
        calls.append((output, coef_init.shape, intercept_init))
        coef = np.stack([np.maximum(refit_a, 0), np.maximum(-refit_a, 0)])[:, :, None]
        return Solution(
            coef=coef, intercept=0.7, objective=1.0, converged=True, status="optimal",
            n_iter=1, solver="native",
        )  # fmt: skip

    refit = CircularFormulation(4).refit_output_weights(network, patches, solve)
    assert calls == [(1, (2, 3, 1), 0.2)]
    np.testing.assert_array_equal(refit.intercept, [0.1, 0.7])
    np.testing.assert_allclose(refit.output_weights, [[0.0, -np.sqrt(0.3)], [0.0, np.sqrt(0.5)]])
    np.testing.assert_allclose(np.linalg.norm(refit.layer_filters[-1], axis=1), np.sqrt([0.3, 0.5]))
    # its function: sum_j a_j relu(x . q_j / ||q_j||) + b
    unit = last[:2] / np.linalg.norm(last[:2], axis=1, keepdims=True)
    expected = np.maximum(patches[:, 0] @ unit.T, 0.0) @ refit_a[:2] + 0.7
    np.testing.assert_allclose(refit.forward(patches)[:, 1], expected, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# three-layer formulation pieces


def test_exact_three_layer_pairs_are_refused_only_beyond_the_limit():
    # 2^5 second-layer patterns times 625 first-layer ones is 20,000 pattern pairs: at the
    # limit, taken; one first-layer pattern more is refused, and the message counts them
    from sklearn_convexcnn._formulations.three_layer import _MAX_EXACT_PAIRS, _check_exact_pairs

    assert _MAX_EXACT_PAIRS == 2**5 * 625
    _check_exact_pairs(5, 625)
    _check_exact_pairs(5)
    message = (
        r"^n_patterns='exact' with architecture='three_layer' needs all 2\^5 second-layer "
        r"patterns for each of the 626 first-layer patterns, more than the limit of 20000 "
    )
    with pytest.raises(ValueError, match=message):
        _check_exact_pairs(5, 626)


def test_exact_three_layer_counts_the_first_layer_patterns_against_the_limit():
    # 10 samples are few enough for all their 2^10 second-layer patterns, but not for the 40
    # cells of the 20 patch rows of size 2 (general position: 2 (1 + 19)), 40,960 pairs
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    reg = ConvexCNNRegressor(architecture="three_layer", kernel_size=2, n_patterns="exact")
    with pytest.raises(ValueError, match=r"2\^10 second-layer patterns for each of the 40 first"):
        reg.fit(X, y)
    assert cover_bound(20, 2) == 40


def test_a_three_layer_cnns_assigned_weights_keep_their_constraints_to_rounding():
    # unit-norm filters to 1e-6 (the penalty counts their scale in middle_weights_: a norm of
    # 1.001 moves 1e-3 of it out), and branch indices below n_branches (rows of
    # output_weights_): branch 2 of two branches is refused, not only negative ones
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerCNN

    filters = np.eye(3)[:2]
    network = ThreeLayerCNN(
        filters, np.array([1.0, -1.0]), np.array([0, 1]), np.ones((2, 1)), np.zeros(1)
    )
    network.check_assigned("filters", (1 + 1e-9) * filters)
    network.check_assigned("filters", (1 + 1e-6) * filters)
    with pytest.raises(ValueError, match=r"^filters_ .* got norms from 1\.001 to 1\.001: divide"):
        network.check_assigned("filters", 1.001 * filters)
    with pytest.raises(ValueError, match=r"got norms from 1\.00001 to 1\.00001: divide"):
        network.check_assigned("filters", 1.00001 * filters)
    network.check_assigned("branches", np.array([1, 1]))
    with pytest.raises(
        ValueError, match=r"^branches_ must hold branch indices from 0 to 1 .* from 0 to 2\.$"
    ):
        network.check_assigned("branches", np.array([0, 2]))


def test_three_layer_residue_that_leaves_the_second_layer_satisfied_is_dropped():
    # second_layer_violations are violations: 0, not the (negative) slack, where every row
    # holds. Compared as slacks, a residue that only widened a branch's slack looked like it
    # kept the second layer satisfied, and was kept in the network
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram, clean_three_layer
    from sklearn_convexcnn._solvers._solution import Solution

    pieces = np.array([[[1.0], [-1.0]], [[1.0], [-1.0]]])  # (pattern, n, h)
    masks = np.array([[True, False]])  # z_0 >= 0 >= z_1
    program = ThreeLayerProgram(pieces, np.zeros((2, 1, 1)), masks)
    coef = np.zeros((2, 2, 1, 2, 1))  # (part, sign, branch, pattern, h)
    coef[0, 0, 0, 0] = 1.0  # z = (1, -1): both rows hold with slack 1
    np.testing.assert_array_equal(program.second_layer_violations(coef), 0.0)
    coef[0, 0, 0, 1] = 1e-7  # residue: z = (1 + 1e-7, -1 - 1e-7), still satisfied
    solution = Solution(
        coef=coef, intercept=0.0, objective=10.0, converged=True, status="optimal", n_iter=1,
        solver="native", duality_gap=None,
    )  # fmt: skip
    y = np.array([1.0, 0.0])
    cleaned = clean_three_layer(program, solution, y, beta=0.5, loss="squared")
    expected = coef.copy()
    expected[0, 0, 0, 1] = 0.0
    np.testing.assert_array_equal(cleaned.coef, expected)
    # its objective recomputed: f = (1, 0) fits y exactly, and beta ||c|| = 0.5
    assert cleaned.objective == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_three_layer_residue_is_relative_to_the_largest_group(scale):
    # clean_three_layer: a group counts as residue below RESIDUE (1e-6) times the largest
    # group, whatever the units of the data. Against 1e-6 itself, a mutant dropped every
    # group of a fit to targets of 1e-8 and kept the residue of one to targets of 1e8
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerProgram, clean_three_layer
    from sklearn_convexcnn._solvers._solution import Solution

    pieces = np.array([[[1.0], [-1.0]], [[1.0], [-1.0]]])  # (pattern, n, h)
    program = ThreeLayerProgram(pieces, np.zeros((2, 1, 1)), np.array([[True, False]]))
    coef = np.zeros((2, 2, 1, 2, 1))  # (part, sign, branch, pattern, h)
    coef[0, 0, 0, 0] = scale
    coef[0, 0, 0, 1] = 1e-9 * scale  # residue that leaves the second layer satisfied
    coef[1, 0, 0, 1] = 1e-3 * scale  # a small group, no residue
    solution = Solution(
        coef=coef, intercept=0.0, objective=1.0, converged=True, status="optimal", n_iter=1,
        solver="native", duality_gap=None,
    )  # fmt: skip
    cleaned = clean_three_layer(program, solution, np.zeros(2), beta=0.5, loss="squared")
    expected = coef.copy()
    expected[0, 0, 0, 1] = 0.0
    np.testing.assert_array_equal(cleaned.coef, expected)


def test_second_layer_patterns_of_one_filter_are_its_sign_patterns():
    # a random branch of the one first-layer filter g is (w mean_k (x_k . g)_+)_+: with w > 0
    # it is linear on every sample (all ones), with w < 0 on the samples whose pooled
    # feature is 0 (its pattern [pooled >= 0 for w pooled], where 0 >= 0 counts as active)
    from sklearn_convexcnn._formulations.three_layer import _sample_outer_masks

    x = np.array([[1.0, 2.0, 0.5], [-1.0, -2.0, -0.5], [2.0, -1.0, 1.0], [-3.0, -1.0, -2.0]])
    patches = x[:, :, None]  # (n_samples, n_patches, 1): pooled (x)_+ over 3 patches
    gates = np.ones((1, 1))
    pooled_zero = np.array([False, True, False, True])
    masks = _sample_outer_masks(patches, gates, 8, np.random.RandomState(0))
    assert {tuple(row) for row in masks} == {(True,) * 4, tuple(pooled_zero)}
    np.testing.assert_array_equal(masks[0], True)  # (the all-ones pattern first)


def test_every_second_layer_pattern_is_taken_up_to_the_exhaustive_sample_limit(monkeypatch):
    # all 2^n patterns where n_patterns reaches 2^n, on up to _MAX_EXHAUSTIVE_SAMPLES (20)
    # samples (a mutant that sampled from 11 on survived); beyond it a sample, whatever
    # n_patterns (a limit of 3 here, for a cheap check of both sides)
    from sklearn_convexcnn._formulations import three_layer
    from sklearn_convexcnn._patterns import all_sign_patterns

    def masks(n_samples):
        patches = np.eye(n_samples)[:, None, :]
        return three_layer._sample_outer_masks(
            patches, np.eye(n_samples), 2**n_samples, np.random.RandomState(0)
        )

    np.testing.assert_array_equal(masks(12), all_sign_patterns(12))
    monkeypatch.setattr(three_layer, "_MAX_EXHAUSTIVE_SAMPLES", 3)
    np.testing.assert_array_equal(masks(3), all_sign_patterns(3))
    assert len(masks(4)) < 2**4


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_a_three_layer_network_without_groups_has_an_output_weight_column_per_output(n_outputs):
    from sklearn_convexcnn._formulations.three_layer import ThreeLayerFormulation
    from sklearn_convexcnn._solvers._solution import Solution

    empty = Solution(
        coef=np.zeros((2, 2, 3, 4, 2)), intercept=0.25, objective=1.0, converged=True,
        status="optimal", n_iter=0, solver="native",
    )  # fmt: skip
    network = ThreeLayerFormulation().network([empty] * n_outputs, None, None)
    assert network.filters.shape == (0, 2) and network.n_branches == 0
    assert network.output_weights.shape == (0, n_outputs)
    np.testing.assert_array_equal(network.intercept, [0.25] * n_outputs)
    patches = np.ones((5, 3, 2))
    np.testing.assert_array_equal(network.forward(patches), np.full((5, n_outputs), 0.25))


def test_exact_three_layer_enumeration_refuses_many_samples_before_enumerating(monkeypatch):
    # ThreeLayerFormulation.enumerate_gates on its own (the estimators check before, in
    # check_enumeration, so only a private call reaches this): 2^16 second-layer patterns
    # are refused before the first layer's patterns are enumerated, not after
    from sklearn_convexcnn._formulations import three_layer

    def enumerated(patches):
        raise AssertionError("the first layer was enumerated first")

    monkeypatch.setattr(three_layer, "enumerate_gates", enumerated)
    with pytest.raises(ValueError, match=r"needs all 2\^16 second-layer patterns for each first"):
        three_layer.ThreeLayerFormulation().enumerate_gates(np.ones((16, 3, 2)))


def test_exact_three_layer_on_many_samples_is_refused_before_the_first_layer_is_counted():
    # 2^16 second-layer patterns exceed the limit whatever the first layer's patterns: that is
    # the refusal (ThreeLayerFormulation.check_enumeration), not the first layer's Cover
    # bound of its 800,016 patch rows, which would be refused too, after a pass over them
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 50_002)), rng.standard_normal(16)
    reg = ConvexCNNRegressor(architecture="three_layer", kernel_size=2, n_patterns="exact")
    with pytest.raises(ValueError, match=r"needs all 2\^16 second-layer patterns for each first"):
        reg.fit(X, y)
