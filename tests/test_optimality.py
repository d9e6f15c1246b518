"""The oracle of doc/formulations.md §4: the fitted network is the global optimum, checked by
means that share nothing with the package's solver path.

Problems are small enough to enumerate every activation pattern (``h <= 3``, ``n * K`` of
30-120). The non-convex objective throughout is

    0.5 * sum_t (f(x_t) - y_t)^2 + beta/2 * sum_j (||u_j||^2 + w_j^2),
    f(x) = b + sum_j w_j * mean_k relu(x_k . u_j),

with ``x_k = x[k*stride : k*stride + kernel_size]``.
"""

import dataclasses
import functools
import time

import numpy as np
import pytest

from sklearn_convexcnn import ConvexCNNRegressor
from sklearn_convexcnn._formulations._program import GroupProgram
from sklearn_convexcnn._formulations.two_layer import make_formulation
from sklearn_convexcnn._losses import best_intercept, centred_targets, mean
from sklearn_convexcnn._network import RegionalCNN
from sklearn_convexcnn._optimality import (
    cone_projections,
    dual_objective,
    max_pattern_price,
    most_violated,
    pattern_prices,
    project_onto_cone,
    warn_unreliable_nnls,
)
from sklearn_convexcnn._patches import extract_patches
from sklearn_convexcnn._patterns import pattern_masks
from sklearn_convexcnn._solvers import solve_cvxpy

# the warning that float64 rounds the outputs near the targets' offset, where only some
# parameters of a test bring the targets within a few ulps of it
_OFFSET_WARNING = r"ignore:The targets \(y\) share an offset:UserWarning"

# (n, d, kernel_size, stride, beta, seed): n * K between 30 and 120
PROBLEMS = [
    (8, 6, 3, 1, 0.05, 0),  # nK = 32, P = 994
    (10, 7, 3, 2, 0.05, 1),  # nK = 30, P = 872
    (10, 7, 2, 1, 0.05, 2),  # nK = 60, P = 120
    (12, 11, 2, 1, 0.1, 3),  # nK = 120, P = 240
]


def _data(problem):
    n, d, _, _, _, seed = problem
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@functools.cache
def _fit(problem, solver="auto", prune=True):
    _, _, kernel_size, stride, beta, _ = problem
    X, y = _data(problem)
    model = ConvexCNNRegressor(
        beta=beta,
        kernel_size=kernel_size,
        stride=stride,
        n_patterns="exact",
        solver=solver,
        prune=prune,
    )
    return model.fit(X, y)


def _naive_objective(X, y, filters, weights, intercept, kernel_size, stride, beta):
    """The non-convex objective with explicit loops: no patch matrices, no patterns."""
    n, d = X.shape
    n_patches = (d - kernel_size) // stride + 1
    loss = 0.0
    for t in range(n):
        f = float(intercept)
        for j in range(len(filters)):
            pooled = 0.0
            for k in range(n_patches):
                z = 0.0
                for i in range(kernel_size):
                    z += X[t, k * stride + i] * filters[j][i]
                pooled += max(z, 0.0)
            f += weights[j] * pooled / n_patches
        loss += 0.5 * (f - y[t]) ** 2
    penalty = sum(u @ u for u in filters) + sum(w * w for w in weights)
    return loss + 0.5 * beta * penalty


# --------------------------------------------------------------------------------------------
# 1. the recovered network attains the convex optimum


@pytest.mark.parametrize(
    "problem, solver",
    [(problem, "clarabel") for problem in PROBLEMS]
    + [(problem, "auto") for problem in (PROBLEMS[0], PROBLEMS[2], PROBLEMS[3])],
)
def test_recovered_network_attains_the_convex_optimum(problem, solver):
    n, _, kernel_size, stride, beta, _ = problem
    X, y = _data(problem)
    dense, pruned = _fit(problem, solver, False), _fit(problem, solver, True)
    for model in (dense, pruned):
        value = _naive_objective(
            X,
            y,
            model.filters_,
            model.output_weights_[:, 0],
            model.intercept_[0],
            kernel_size,
            stride,
            beta,
        )
        assert value == pytest.approx(model.objective_, rel=1e-6)
        assert value == pytest.approx(dense.objective_, rel=1e-6)
    if solver != "clarabel":
        # the optimum of another solver: a native solve that priced groups 3 % low ended
        # 0.19 % above it, its network attaining its own objective_ (a helper's mutation)
        assert value == pytest.approx(_fit(problem, "clarabel", True).objective_, rel=1e-6)
    assert pruned.filters_.shape[0] <= n + 1


# --------------------------------------------------------------------------------------------
# 3. sampled programs are restrictions: values above the exact one, falling as patterns are added


@pytest.mark.parametrize("offset, scale", [(1e8, 1e-3), (1e12, 1e-2), (0.0, 1.0)])
@pytest.mark.filterwarnings(_OFFSET_WARNING)  # (at 1e12, 87 ulps of the offset)
def test_the_objective_of_targets_with_an_offset_is_evaluated_without_its_rounding(offset, scale):
    # a review: y - f, both near the offset, rounded each residual to eps |y|, and
    # regularized_objective was 2e-3 of itself off at 1e12 (below lower_bound_ at 1e8)
    from fractions import Fraction

    from sklearn_convexcnn._patches import extract_patches

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6)), scale * rng.standard_normal(12) + offset
    model = ConvexCNNRegressor(beta=0.5 * scale**2, kernel_size=2, n_patterns=8, random_state=0)
    model.fit(X, y)  # (no ConvergenceWarning: the suite makes them errors)
    patches = extract_patches(X, model.geometry_)
    filters, weights = model.filters_, model.output_weights_[:, 0]

    def dot(a, b):  # (in rationals)
        return sum(Fraction(s) * Fraction(t) for s, t in zip(a, b, strict=True))

    loss = Fraction(0)
    for rows, target in zip(patches, y, strict=True):
        f = Fraction(model.intercept_[0])
        for u, w in zip(filters, weights, strict=True):
            f += Fraction(w) * sum(max(dot(x, u), 0) for x in rows) / len(rows)
        loss += (Fraction(target) - f) ** 2 / 2
    penalty = dot(filters.ravel(), filters.ravel()) + dot(weights, weights)
    exact = float(loss + Fraction(model.beta) / 2 * penalty)  # (average pooling, sum read-out)
    assert len(filters) > 0
    assert model.regularized_objective(X, y) == pytest.approx(exact, rel=1e-12)
    # and objective_ is that value: the finished point's objective, evaluated uncentred,
    # was 4e-6 of itself above it at 1e8 (a review)
    assert model.objective_ == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("solver", ["auto", "clarabel"])
def test_the_network_without_neurons_at_a_large_offset_has_its_own_objective(solver):
    # its best intercept is a float near the offset: objective_ evaluated the exact one,
    # 3.7e-6 of itself below the network's, and duality_gap_ hid the rounding (a review)
    from fractions import Fraction

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6)), 1e12 + 1e-2 * rng.standard_normal(12)
    model = ConvexCNNRegressor(beta=1e6, kernel_size=2, n_patterns=8, solver=solver)
    with pytest.warns(UserWarning, match=r"The targets \(y\) share an offset of 1e\+12"):
        model.fit(X, y)
    intercept = Fraction(model.intercept_[0])
    exact = float(sum((Fraction(target) - intercept) ** 2 for target in y) / 2)
    assert model.filters_.shape[0] == 0
    assert model.objective_ == pytest.approx(exact, rel=1e-12)
    assert model.lower_bound_ <= model.objective_ - 1e-6 * exact  # (the rounding, certified)


def test_sampled_values_decrease_to_the_exact_value():
    problem = PROBLEMS[3]
    _, _, kernel_size, stride, beta, seed = problem
    X, y = _data(problem)
    model = _fit(problem, "clarabel", True)
    patches = extract_patches(X, model.geometry_)
    formulation = make_formulation("average", None, "sum", model.geometry_.grid_shape)

    def value(gates):
        program = formulation.program(patches, gates)
        return solve_cvxpy(
            program,
            y,
            beta=beta,
            loss="squared",
            fit_intercept=True,
            solver="clarabel",
            tol=1e-8,
            max_iter=200,
        ).objective

    filters = np.random.default_rng(seed).standard_normal((kernel_size, 256))
    # nested pattern sets: prefixes of one filter sequence, then all of them plus every cell
    sets = [filters[:, :m] for m in (2, 8, 32, 256)]
    sets.append(np.concatenate([filters, model.gates_], axis=1))
    values = [value(gates) for gates in sets]
    exact = values[-1]  # the last set holds every cell: its value is the global optimum
    print("sampled values:", values[:-1], "exact:", exact)
    assert exact == pytest.approx(model.objective_, rel=1e-7)
    assert all(v >= exact * (1 - 1e-7) for v in values)
    assert all(b <= a * (1 + 1e-7) for a, b in zip(values, values[1:], strict=False))
    assert values[0] > exact * (1 + 1e-3)  # two filters are not enough: the test can fail


# --------------------------------------------------------------------------------------------
# 2. and 4. gradient training never beats the convex optimum; its neurons are enumerated


def _train_torch(torch, X, y, kernel_size, stride, beta, width, seed, output_norm=1):
    """Adam then L-BFGS on the non-convex CNN, float64; returns (objective, U, w, b).

    With targets ``y`` of shape (n, n_outputs), ``w`` has shape (width, n_outputs) and a
    neuron's output weights pay their squared ``output_norm`` norm across outputs (the
    package's penalty: 1).
    """
    generator = torch.Generator().manual_seed(seed)
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    patches = Xt.unfold(1, kernel_size, stride)  # (n, K, h)
    U = torch.randn(width, kernel_size, generator=generator, dtype=torch.float64)
    w = torch.randn(width, *y.shape[1:], generator=generator, dtype=torch.float64)
    U, w = (0.5 * U).requires_grad_(), (0.5 * w).requires_grad_()
    b = torch.zeros(y.shape[1:], dtype=torch.float64, requires_grad=True)

    def objective():
        f = torch.relu(patches @ U.T).mean(dim=1) @ w + b
        norms = torch.linalg.vector_norm(w.reshape(width, -1), ord=output_norm, dim=1)
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * ((U**2).sum() + (norms**2).sum())

    adam = torch.optim.Adam([U, w, b], lr=0.02)
    for _ in range(400):
        adam.zero_grad()
        loss = objective()
        loss.backward()
        adam.step()
    lbfgs = torch.optim.LBFGS(
        [U, w, b],
        max_iter=300,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        lbfgs.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    lbfgs.step(closure)
    with torch.no_grad():
        final = float(objective())
    return final, U.detach().numpy(), w.detach().numpy(), b.detach().numpy()


@pytest.mark.torch
@pytest.mark.parametrize("problem", [PROBLEMS[0], PROBLEMS[2]])
def test_gradient_training_never_beats_the_convex_optimum(problem, torch_single_thread):
    torch = torch_single_thread
    n, _, kernel_size, stride, beta, _ = problem
    X, y = _data(problem)
    model = _fit(problem, "auto", True)
    optimum = model.objective_
    certificate = model.certify(X, y)
    assert certificate.is_optimal
    patches = extract_patches(X, model.geometry_)
    formulation = make_formulation("average", None, "sum", model.geometry_.grid_shape)
    program = formulation.program(patches, model.gates_)
    masks = pattern_masks(patches, model.gates_).reshape(-1, model.n_patterns_).T
    index = {c.tobytes(): i for i, c in enumerate(masks)}  # every enumerated cell's program index
    enumerated = set(index)
    start, results = time.perf_counter(), []
    for width in (3, n + 5):  # below and above the n + 1 that suffice
        for seed in range(6):
            value, U, w, b = _train_torch(torch, X, y, kernel_size, stride, beta, width, seed)
            results.append((value, width, seed))
            # Lemma B(i): no network of any width goes below the convex optimum
            assert value >= optimum * (1 - 1e-6), (value, optimum, width, seed)
            assert value >= certificate.lower_bound  # the certified bound, with no tolerance
            # 4. every neuron's pattern is one of the enumerated cells ...
            strength = np.linalg.norm(U, axis=1) * np.abs(w)
            coef = np.zeros((2, model.n_patterns_, kernel_size))
            for j in np.flatnonzero(strength > 1e-9 * strength.max()):
                key = pattern_masks(patches, U[j][:, None]).reshape(-1).tobytes()
                assert key in enumerated
                coef[0 if w[j] > 0 else 1, index[key]] += abs(w[j]) * U[j]
            # ... and the mapped convex point costs no more than the network (Lemma B)
            mapped = 0.5 * np.sum((program.fit_values(coef) + b - y) ** 2)
            mapped += beta * program.regularizer(coef)
            assert mapped <= value * (1 + 1e-9) + 1e-12
            assert mapped >= optimum * (1 - 1e-6)
    best = min(results)
    # and it is not below reach: the best restart comes within 5 % of it (+2.3 % and +0.24 %
    # measured), so an optimum understated by more than that fails here too (smaller
    # understatements: test_recovered_network_attains_the_convex_optimum, against Clarabel)
    assert best[0] <= 1.05 * optimum, (best, optimum)
    print(
        f"convex optimum {optimum:.9f}; best of {len(results)} torch restarts {best[0]:.9f} "
        f"(+{best[0] / optimum - 1:.2e}, width {best[1]}, seed {best[2]}), "
        f"{time.perf_counter() - start:.1f} s"
    )


def _two_outputs(problem):
    """The problem's data with a second, correlated target column: outputs that one neuron
    could serve together."""
    X, y = _data(problem)
    noise = np.random.default_rng(problem[-1] + 10).standard_normal(len(y))
    return X, np.column_stack([y, y + 0.3 * noise])


@pytest.mark.torch
@pytest.mark.parametrize("problem", [PROBLEMS[0], PROBLEMS[2]])
def test_gradient_training_never_beats_the_optimum_of_several_outputs(problem, torch_single_thread):
    # one convex program per output is exact for the penalty that charges a neuron the squared
    # l1 norm of its output weights across outputs (_network.neuron_penalty). Under weight
    # decay across outputs these same restarts reach 0.86 and 0.95 of the optimum: a neuron
    # shared by both outputs is cheaper there, and the certificate below would be false.
    torch = torch_single_thread
    n, _, kernel_size, stride, beta, _ = problem
    X, Y = _two_outputs(problem)
    model = ConvexCNNRegressor(
        beta=beta, kernel_size=kernel_size, stride=stride, n_patterns="exact"
    ).fit(X, Y)
    certificate = model.certify(X, Y)
    assert certificate.is_optimal
    values = [
        _train_torch(torch, X, Y, kernel_size, stride, beta, width, seed)[0]
        for width in (3, n + 5)
        for seed in range(3)
    ]
    assert min(values) >= certificate.lower_bound, (min(values), certificate.lower_bound)
    # within reach (+5.3 % and +1.0 % measured): an overstated optimum fails too
    assert min(values) <= 1.1 * model.objective_


def test_a_neuron_shared_by_outputs_pays_for_each_of_them():
    # identical targets: the two programs give the same neurons, once per output. One copy
    # serving both outputs computes the same function; under weight decay across outputs it
    # would cost sqrt(2) instead of 2 times a neuron's balanced cost, below the certified
    # optimum, and the package's penalty must not let it
    problem = PROBLEMS[0]
    _, _, kernel_size, stride, beta, _ = problem
    X, y = _data(problem)
    Y = np.column_stack([y, y])
    model = ConvexCNNRegressor(
        beta=beta, kernel_size=kernel_size, stride=stride, n_patterns="exact"
    ).fit(X, Y)
    network = model.network_
    first = network.output_weights[:, 0] != 0
    u, w = network.filters[first], network.output_weights[first, 0]
    # balanced for weight decay: ||s u||^2 = ||(w, w) / s||^2
    scale = np.sqrt(np.sqrt(2) * np.abs(w) / np.linalg.norm(u, axis=1))
    shared = dataclasses.replace(
        network, filters=u * scale[:, None], output_weights=np.column_stack([w, w]) / scale[:, None]
    )
    patches = extract_patches(X, model.geometry_)
    loss = 0.5 * np.sum((shared.forward(patches) - Y) ** 2)
    assert loss == pytest.approx(0.5 * np.sum((network.forward(patches) - Y) ** 2), rel=1e-12)
    weight_decay = 0.5 * (np.sum(shared.filters**2) + np.sum(shared.output_weights**2))
    assert loss + beta * weight_decay < 0.9 * model.objective_
    assert shared.objective(patches, Y, beta, "squared") >= model.objective_ * (1 - 1e-9)


def test_most_violated_rows_are_the_smallest_below_the_threshold():
    values = np.array([0.5, -3.0, -0.1, -2.0, -1e-12, -4.0])
    np.testing.assert_array_equal(np.sort(most_violated(values, -1e-9, 10)), [1, 2, 3, 5])
    np.testing.assert_array_equal(np.sort(most_violated(values, -1e-9, 2)), [1, 5])
    assert len(most_violated(values, -5.0, 3)) == 0


def test_a_regional_neuron_pays_the_squared_sum_of_its_region_weights():
    # a mutant that charged the largest region weight instead of their sum survived: the
    # penalty is 0.5 * (||u||^2 + ||W||_1^2) = 0.5 * (1 + 3^2), not 0.5 * (1 + 2^2)
    network = RegionalCNN(
        filters=np.array([[1.0, 0.0]]),
        output_weights=np.array([[[1.0], [-2.0]]]),  # (neuron, region, output)
        intercept=np.array([0.0]),
        pooling=None,
    )
    assert network.penalty() == 5.0


def test_the_best_logistic_intercept_of_a_rare_class_is_its_log_odds():
    # a mutant that clipped the positive rate at 1e-3 instead of 1e-12 survived: one positive
    # in 5000 has log odds log(1 / 4999), not log(1e-3 / 0.999)
    y = -np.ones(5000)
    y[17] = 1.0
    assert best_intercept("logistic", y) == pytest.approx(np.log(1 / 4999), rel=1e-12)


def test_the_squared_dual_objective_with_an_intercept_ignores_an_offset_of_the_targets():
    # a mutant that dropped the centring of y survived: with sum(v) = 0 the value is the same
    # for y + 1e9, but uncentred y . v rounds each product to eps * 1e9 (1e-8 of the value)
    rng = np.random.default_rng(0)
    y = np.round(64 * rng.standard_normal(20)) / 64  # (exact at 1e9: the offset costs nothing)
    v = rng.standard_normal(20)
    v -= v.mean()
    assert abs(v.sum()) <= 1e-15
    expected = dual_objective("squared", v, y, True)
    assert dual_objective("squared", v, y + 1e9, True) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("p", [1 + 1e-9, -1e-9])
def test_the_logistic_dual_objective_is_minus_infinity_just_outside_its_domain(p):
    # a mutant that allowed y * v outside [0, 1] by 1e-6 instead of 1e-12 survived: a point
    # 1e-9 outside is infeasible, and clipped into [0, 1] it gave a finite (too high) bound
    y = np.array([1.0, -1.0])
    v = np.array([p, -0.5])
    assert dual_objective("logistic", v, y, False) == -np.inf
    assert np.isfinite(dual_objective("logistic", np.array([1.0, -0.5]), y, False))


def test_scipys_nnls_returns_the_minimum_of_cone_projections():
    # every cone projection (pricing, certificates, the native solver's faces) is SciPy's
    # NNLS. SciPy 1.15's returned points that are not the minimum, without an error, in 447
    # of 20,000 problems like these (scipy/scipy#25389): native fits stalled and certificates
    # were loose. 1.12 to 1.14's refused some ("Matrix is singular", the iteration limit).
    # None of either with 1.10, 1.11, 1.16, 1.17 or 1.18. setup.py excludes 1.12 to 1.15 (pip
    # picks 1.15 on Python 3.10 otherwise); this test fails where another install brings
    # them back
    from scipy.optimize import nnls

    rng = np.random.default_rng(0)
    not_minimal = refused = 0
    for _ in range(2000):
        rows = rng.standard_normal((rng.integers(2, 60), rng.integers(2, 12)))
        g = rng.standard_normal(rows.shape[1]) * 10.0 ** rng.integers(-3, 4)
        try:
            lam, _ = nnls(rows.T, -g, maxiter=50 * max(rows.shape))
        except (RuntimeError, ValueError, np.linalg.LinAlgError):
            refused += 1
            continue
        residual = g + rows.T @ lam  # (the projection onto {u : rows u >= 0})
        # KKT: the residual is in the cone and orthogonal to rows^T lam
        bound = 1e-9 * np.linalg.norm(g) * np.linalg.norm(rows)
        products = rows @ residual
        not_minimal += products.min() < -bound or abs(lam @ products) > bound * lam.sum()
    assert (not_minimal, refused) == (0, 0)


@pytest.mark.parametrize(
    "version, excluded",
    [
        ("1.11.4", False),
        ("1.12.0", True),
        ("1.14.1", True),
        ("1.15.3", True),
        ("1.15.0rc2", True),
        ("1.16.0", False),
        ("1.16.0.dev0+git20261201", False),
        ("1.120.0", False),
        ("2.0.0", False),
    ],
)
def test_an_excluded_scipy_is_named_with_the_install_that_fixes_it(version, excluded, monkeypatch):
    # setup.py excludes SciPy 1.12 to 1.15 (the test above says why); a --no-deps or conda
    # install can still bring one, and its fits stall with nothing to name the cause
    import warnings

    import sklearn_convexcnn._optimality as optimality

    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set(), raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_unreliable_nnls(version)
    prefix = f"SciPy {version} is installed, whose NNLS"
    assert [str(w.message).startswith(prefix) for w in caught] == ([True] if excluded else [])


@pytest.mark.parametrize(
    "python, install", [((3, 10), "'scipy>=1.10,<1.12'"), ((3, 11), "'scipy>=1.16'")]
)
def test_the_install_named_for_an_excluded_scipy_runs_on_the_python_that_runs(
    python, install, monkeypatch
):
    # SciPy 1.16 needs Python 3.11: on 3.10 the allowed SciPys are 1.10 and 1.11
    import sklearn_convexcnn._optimality as optimality

    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set())
    with pytest.warns(UserWarning) as caught:
        warn_unreliable_nnls("1.15.3", python=python)
    assert str(caught[0].message).endswith(f"requires: pip install {install}.")


def test_fit_the_path_and_certify_name_an_excluded_scipy(monkeypatch):
    import scipy

    import sklearn_convexcnn._optimality as optimality
    from sklearn_convexcnn import convex_cnn_path

    monkeypatch.setattr(scipy, "__version__", "1.15.3")
    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set(), raising=False)
    X = np.random.default_rng(0).standard_normal((8, 5))
    y = X[:, 0] - X[:, 1]
    message = r"^SciPy 1\.15\.3 is installed.*pip install 'scipy>=1\.1[06]"
    with pytest.warns(UserWarning, match=message) as caught:
        ConvexCNNRegressor(kernel_size=2, n_patterns=4, random_state=0).fit(X, y)
    assert caught[0].filename == __file__  # (the user's line, not the package's)
    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set(), raising=False)
    with pytest.warns(UserWarning, match=message) as caught:
        convex_cnn_path(X, y, kernel_size=2, n_patterns=4, n_betas=2, random_state=0)
    assert caught[0].filename == __file__
    reg = ConvexCNNRegressor(kernel_size=2, n_patterns=4, random_state=0).fit(X, y)
    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set(), raising=False)
    with pytest.warns(UserWarning, match=message) as caught:
        reg.certify(X, y)
    assert caught[0].filename == __file__


def test_an_excluded_scipy_is_named_once_a_process(monkeypatch):
    # under the filter's "default", not once a location: scikit-learn's check_array enters
    # warnings.catch_warnings at every fit, which clears the registry of what was shown, so
    # a loop of fits or a grid search repeated the warning at every fit
    import warnings

    import scipy

    import sklearn_convexcnn._optimality as optimality

    monkeypatch.setattr(scipy, "__version__", "1.15.3")
    monkeypatch.setattr(optimality, "_NAMED_SCIPYS", set(), raising=False)
    X = np.random.default_rng(0).standard_normal((8, 5))
    y = X[:, 0] - X[:, 1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            ConvexCNNRegressor(kernel_size=2, n_patterns=4, random_state=0).fit(X, y)
    named = [w for w in caught if str(w.message).startswith("SciPy 1.15.3 is installed")]
    assert len(named) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        RuntimeError("Maximum number of iterations reached."),
        np.linalg.LinAlgError("Matrix is singular."),
        ValueError("zero-size array to reduction operation minimum which has no identity"),
    ],
)
def test_a_projection_that_nnls_refuses_is_computed_by_bounded_least_squares(monkeypatch, refusal):
    # the three ways SciPy 1.12 to 1.14's NNLS refused cone projections (setup.py excludes
    # them; installs by other means may not): none may end a fit
    from sklearn_convexcnn import _optimality
    from sklearn_convexcnn._optimality import nnls_projection

    def refusing(*args, **kwargs):
        raise refusal

    monkeypatch.setattr(_optimality, "nnls", refusing)
    u, lam = nnls_projection(np.eye(2), np.array([-2.0, 3.0]))  # (onto u >= 0)
    np.testing.assert_allclose(u, [0.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(lam, [2.0, 0.0], atol=1e-12)


def test_a_projection_much_smaller_than_its_vector_is_exact_not_settled_as_zero():
    # a mutant that settled projections below 1e-6 (not 1e-12) of ||g|| as zero survived:
    # g of norm 1.4e7 whose projection onto {u_1, u_2 >= 0, ...} is (0, 0, 1) of norm 1 was
    # left unfinished, reported inexact
    rows = np.array([[1.0, 0, 0], [0, 1, 0], [1, 0, 1], [1, 0.3, 0.2], [2, 0.1, 0.5]])
    g = np.array([-1e7, -1e7, 1.0])
    U, exact, _ = cone_projections(GroupProgram(np.zeros((1, 0, 3)), rows[None]), [0], g[None])
    assert exact.all()
    np.testing.assert_allclose(U[0], [0.0, 0.0, 1.0], rtol=0, atol=1e-8)


@pytest.mark.parametrize("scale", [1.0, 1e-8])
def test_a_projection_onto_a_cone_of_small_rows_is_the_cones_own(scale):
    # a mutant that measured violations without the rows' scale (-tol ||u||, not
    # -tol ||u|| row_scale) survived: the cone of 1e-8 times the rows is the same cone, but
    # g violating u_2 >= 0 by 1e-5 of its norm passed as inside it, and clean_groups would
    # have kept such a group outside its cone
    rows = scale * np.eye(2)
    g = np.array([1.0, -1e-5])
    np.testing.assert_allclose(project_onto_cone(rows, g), [1.0, 0.0], rtol=0, atol=1e-12)
    program = GroupProgram(np.zeros((1, 0, 2)), rows[None])
    U, exact, _ = cone_projections(program, [0], g[None])
    assert exact.all()
    np.testing.assert_allclose(U[0], [1.0, 0.0], rtol=0, atol=1e-12)


def test_the_largest_pattern_price_counts_the_negated_correlations():
    # a mutant that priced +A_i^T v twice (not -A_i^T v) survived: every other test's largest
    # price was also attained on the + side. It decides whether the empty network is optimal
    # without a conic solve (and beta_max): an understated price certified a wrong network.
    # One pattern, cone u >= 0, A^T v = -1: the c' group's price is 1, the c group's 0
    pieces = np.array([[[1.0], [2.0]]])
    program = GroupProgram(pieces, np.array([[[1.0]]]))
    v = np.array([1.0, -1.0])
    np.testing.assert_allclose(pattern_prices(program, v), [[0.0], [1.0]], atol=1e-12)
    assert max_pattern_price(program, v) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("batch", [1, 8])
def test_the_largest_pattern_price_is_the_largest_of_every_batch(batch):
    # mutants that projected the smallest bounds first (8 zero bounds then ended the search at
    # 0) or kept the last batch's largest price (not the largest so far) survived: every other
    # test's largest price was in the first batch. Patterns 1-4 have no active patch (zero
    # correlations); pattern 0's c group prices 2, its c' group, projected next, 0.1
    pieces = np.zeros((5, 2, 2))
    pieces[0, 0] = [2.0, -0.1]
    program = GroupProgram(pieces, np.tile(np.eye(2), (5, 1, 1)))  # (cones u >= 0)
    v = np.array([1.0, 0.0])
    assert pattern_prices(program, v).max() == pytest.approx(2.0, rel=1e-12)
    assert max_pattern_price(program, v, batch=batch) == pytest.approx(2.0, rel=1e-12)


def test_the_mean_of_equal_targets_is_their_value_and_they_centre_to_zero():
    # mutants that took np.mean (not the correctly rounded sum) or centred equal targets like
    # any others survived: np.mean(np.full(100, 0.1)) is ulps off 0.1, and an intercept near an
    # offset pays for each ulp; 3 targets of 935.07... have a mean an ulp off, which centring
    # left as a constant target of 1e-13 that the solvers scale to unit size
    assert mean(np.full(100, 0.1)) == 0.1
    y = np.full(3, 935.0724237877682)
    assert mean(y) != y[0]  # (the case is there)
    centred, offset = centred_targets(y, "squared", True)
    np.testing.assert_array_equal(centred, np.zeros(3))
    assert offset == mean(y)
