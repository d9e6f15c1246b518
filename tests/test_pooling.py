"""Local, max, regional and no pooling: exactness, global optimality, API (issues 4 and 8).

The oracle is a loop-based forward pass written here without the library's patch extraction,
pooling or network code; the global-optimality tests train the same network in PyTorch from
random starts and check that it never beats the convex optimum over exactly enumerated patterns.
"""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor
from sklearn_convexcnn._formulations._operator import DenseOperator
from sklearn_convexcnn._formulations.two_layer import _exact_gates, make_formulation, patch_pools
from sklearn_convexcnn._patches import extract_patches, resolve_geometry
from sklearn_convexcnn._patterns import MAX_EXACT_PATTERNS, arrangement_bound
from sklearn_convexcnn._solvers import solve_cvxpy

from ._checks import assert_checks_listed, check_id, parametrize_checks, run_check

# (pooling, pool_size, readout)
VARIANTS = [
    ("max", None, "sum"),  # global max pooling, §6.1
    ("max", 2, "sum"),  # local max pooling, pools summed, §6.1
    ("average", 2, "sum"),  # local average pooling, §6.2
    ("none", None, "sum"),  # a weight per patch, §5.3 (readout does not apply)
    ("average", 2, "dense"),  # regional average pooling, §6.3
    ("max", 2, "dense"),  # regional max pooling, §6.3
]
VARIANT_IDS = ["-".join(str(v) for v in variant) for variant in VARIANTS]


def _naive_objective(X, Y, est, beta):
    """Objective of the fitted network by explicit loops over windows, pools and neurons."""
    shape = est.input_shape or (X.shape[1],)
    kernel = (
        est.kernel_size
        if isinstance(est.kernel_size, tuple)
        else (est.kernel_size,) * len(shape[:2])
    )
    stride = est.stride if isinstance(est.stride, tuple) else (est.stride,) * len(shape[:2])
    image_shape = shape if len(shape) > 1 else (1, shape[0])
    kernel = kernel if len(kernel) == 2 else (1, kernel[0])
    stride = stride if len(stride) == 2 else (1, stride[0])
    pool = est.pool_size if isinstance(est.pool_size, tuple) else (est.pool_size,) * 2
    if len(shape) == 1 and est.pool_size is not None:
        pool = (1, est.pool_size)
    rows = (image_shape[0] - kernel[0]) // stride[0] + 1
    cols = (image_shape[1] - kernel[1]) // stride[1] + 1
    if est.pooling == "none":
        pool = (1, 1)
    elif est.pool_size is None:
        pool = (rows, cols)
    pool_cols = math.ceil(cols / pool[1])
    n_regions = math.ceil(rows / pool[0]) * pool_cols
    dense = est.pooling == "none" or est.readout == "dense"
    filters, weights, intercept = est.filters_, est.output_weights_, est.intercept_
    total = 0.0
    for x, targets in zip(X, Y, strict=True):
        image = x.reshape(image_shape)
        for output, target in enumerate(targets):
            f = intercept[output]
            for j, u in enumerate(filters):
                members = [[] for _ in range(n_regions)]
                for r in range(rows):
                    for c in range(cols):
                        window = image[
                            r * stride[0] : r * stride[0] + kernel[0],
                            c * stride[1] : c * stride[1] + kernel[1],
                        ]
                        value = max(float(np.dot(window.ravel(), u)), 0.0)
                        members[(r // pool[0]) * pool_cols + c // pool[1]].append(value)
                for region, values in enumerate(members):
                    if est.pooling == "max":
                        pooled = max(values)
                    else:
                        pooled = sum(values) / len(values)
                    w = weights[j, region, output] if dense else weights[j, output]
                    f += w * pooled
            total += (
                0.5 * (f - target) ** 2 if est.loss == "squared" else np.log1p(np.exp(-target * f))
            )
    # the l1 norm of a neuron's output weights over regions and outputs (weight decay with
    # one region and one output)
    penalty = sum(
        float(u @ u) + np.abs(w).sum() ** 2 for u, w in zip(filters, weights, strict=True)
    )
    return total + 0.5 * beta * penalty


# Clarabel at tol=1e-8: at 1e-7 its max-pooling points violate the winner cones by enough to
# move the real-ReLU network ~2e-6 off the convex value (1e-9 ends "optimal_inaccurate")
SOLVER = dict(solver="clarabel", tol=1e-8)

INPUTS = [
    # (input_shape, kernel_size, stride): 1-D, 2-D with uneven pools (grid 4x4, pools of 3)
    (None, 3, 1),
    ((5, 5), 2, 1),
]


def _pool_size(pool_size, input_shape):
    # on the 5x5 images pool 3 leaves a partial pool at each edge of the 4x4 grid
    return 3 if (pool_size is not None and input_shape is not None) else pool_size


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("input_shape, kernel_size, stride", INPUTS, ids=["1d", "2d"])
@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_network_attains_convex_optimum(
    pooling, pool_size, readout, input_shape, kernel_size, stride, seed
):
    rng = np.random.default_rng(seed)
    n_features = 10 if input_shape is None else 25
    X = rng.standard_normal((14, n_features))
    y = rng.standard_normal(14)
    reg = ConvexCNNRegressor(
        beta=0.1,
        kernel_size=kernel_size,
        stride=stride,
        input_shape=input_shape,
        pooling=pooling,
        pool_size=_pool_size(pool_size, input_shape),
        readout=readout,
        n_patterns=16,
        random_state=seed,
        **SOLVER,
    ).fit(X, y)
    assert reg.filters_.shape[0] > 0
    assert _naive_objective(X, y[:, None], reg, 0.1) == pytest.approx(reg.objective_, rel=1e-6)
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6)


@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_classifier_network_attains_convex_optimum(pooling, pool_size, readout):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((15, 16))
    y = np.arange(15) % 3
    clf = ConvexCNNClassifier(
        beta=0.05,
        input_shape=(4, 4),
        kernel_size=2,
        pooling=pooling,
        pool_size=pool_size,
        readout=readout,
        n_patterns=12,
        random_state=0,
        **SOLVER,
    ).fit(X, y)
    Y = np.where(y[:, None] == np.unique(y), 1.0, -1.0)
    assert _naive_objective(X, Y, clf, 0.05) == pytest.approx(clf.objective_, rel=1e-6)
    # one-vs-rest: every neuron serves exactly one class (and, when dense, one region)
    nonzero = np.count_nonzero(clf.output_weights_.reshape(len(clf.filters_), -1), axis=1)
    assert np.all(nonzero == 1)


# solver="auto" hands the max-pooling programs on which the native solver stops short
# (gap ~1.3e-7 against ~6.5e-8) to Clarabel, so every variant reaches the optimum
DEFAULT_SOLVER_VARIANTS = VARIANTS


@pytest.mark.parametrize("pooling, pool_size, readout", DEFAULT_SOLVER_VARIANTS, ids=VARIANT_IDS)
def test_default_solver_attains_convex_optimum(pooling, pool_size, readout):
    # solver="auto" (the native working-set solver) on the same programs
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((15, 16)), np.arange(15) % 3
    clf = ConvexCNNClassifier(
        beta=0.05,
        input_shape=(4, 4),
        kernel_size=2,
        pooling=pooling,
        pool_size=pool_size,
        readout=readout,
        n_patterns=12,
        random_state=0,
    ).fit(X, y)
    Y = np.where(y[:, None] == np.unique(y), 1.0, -1.0)
    assert _naive_objective(X, Y, clf, 0.05) == pytest.approx(clf.objective_, rel=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_each_variant_reaches_clarabels_optimum_with_either_loss_and_intercept(
    pooling, pool_size, readout, loss, fit_intercept
):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((15, 16))
    y = (X[:, 5] + 0.5 * rng.standard_normal(15) > 0).astype(int)  # (+-1 for the squared loss)
    # beta=0.2: at 0.05 Clarabel fails on 2 of these 12 logistic programs, or stops
    # 'optimal_inaccurate', even at tol=1e-8 (the solver docstring's unreliability)
    params = dict(
        beta=0.2, input_shape=(4, 4), kernel_size=2, pooling=pooling, pool_size=pool_size,
        readout=readout, n_patterns=12, loss=loss, fit_intercept=fit_intercept, random_state=0,
    )  # fmt: skip
    fit = ConvexCNNClassifier(**params).fit(X, y)
    reference = ConvexCNNClassifier(**params, **SOLVER).fit(X, y)
    assert fit.filters_.shape[0] > 0
    assert fit.objective_ == pytest.approx(reference.objective_, rel=1e-6)
    assert fit.duality_gap_ <= fit.tol * fit.objective_
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _naive_objective(X, Y, fit, 0.2) == pytest.approx(fit.objective_, rel=1e-9)


MATRIX_FREE_VARIANTS = [v for v in VARIANTS if v[0] != "max"]


@pytest.mark.parametrize(
    "pooling, pool_size, readout",
    MATRIX_FREE_VARIANTS,
    ids=["-".join(str(v) for v in variant) for variant in MATRIX_FREE_VARIANTS],
)
def test_matrix_free_operator_equals_the_dense_program(pooling, pool_size, readout):
    # what the native solver sees must be the program CVXPY solves, entry for entry
    rng = np.random.default_rng(0)
    geometry = resolve_geometry((5, 5), 2, 1, 25)
    patches = extract_patches(rng.standard_normal((9, 25)), geometry)
    formulation = make_formulation(pooling, _pool_size(pool_size, (5, 5)), readout, (4, 4))
    assert formulation.matrix_free
    gates = formulation.sample_gates(patches, 10, rng)
    dense = DenseOperator(formulation.program(patches, gates))
    operator = formulation.operator(patches, gates)
    assert not isinstance(operator, DenseOperator)
    assert operator.n_patterns == dense.n_patterns
    v = rng.standard_normal(9)
    np.testing.assert_allclose(operator.correlations(v), dense.correlations(v), atol=1e-12)
    index = rng.permutation(dense.n_patterns)[:7]
    np.testing.assert_allclose(operator.pieces(index), dense.pieces(index), atol=1e-12)
    # the cone rows may come in another order (pools of a summed read-out are interleaved)
    U = rng.standard_normal((7, patches.shape[2]))
    products = operator.cone_products(U, index)
    np.testing.assert_allclose(
        np.sort(products, axis=1), np.sort(dense.cone_products(U, index), axis=1), atol=1e-12
    )
    rows = np.arange(dense.n_rows)
    np.testing.assert_allclose(operator.cone_rows(index[0], rows) @ U[0], products[0], atol=1e-12)


@pytest.mark.parametrize("pooling, pool_size", [("average", 2), ("none", None)])
def test_native_solver_matches_clarabel_on_regional_programs(pooling, pool_size):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((20, 16)), rng.standard_normal(20)
    params = dict(
        beta=0.1,
        input_shape=(4, 4),
        kernel_size=2,
        pooling=pooling,
        pool_size=pool_size,
        readout="dense",
        n_patterns=10,
        random_state=0,
    )
    native = ConvexCNNRegressor(solver="native", **params).fit(X, y)
    reference = ConvexCNNRegressor(solver="clarabel", tol=1e-8, **params).fit(X, y)
    assert native.objective_ == pytest.approx(reference.objective_, rel=1e-6)
    assert native.duality_gap_ <= native.tol * native.objective_
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-9)


def test_native_logistic_regional_classifier_matches_clarabel():
    # the README demo's model (2x2 regions, one-vs-rest logistic loss) on a small problem
    rng = np.random.default_rng(5)
    X = rng.standard_normal((24, 16))
    y = (X[:, :4].sum(axis=1) > 0).astype(int) + (X[:, 12:].sum(axis=1) > 1)
    params = dict(
        beta=0.1, input_shape=(4, 4), kernel_size=2, pool_size=2, readout="dense",
        loss="logistic", n_patterns=8, random_state=0,
    )  # fmt: skip
    native = ConvexCNNClassifier(solver="native", **params).fit(X, y)
    # exponential cones: Clarabel needs tol=1e-9 to be within 1e-6 (documented under loss)
    reference = ConvexCNNClassifier(solver="clarabel", tol=1e-9, **params).fit(X, y)
    assert len(native.classes_) == 3
    assert native.objective_ == pytest.approx(reference.objective_, rel=1e-6)
    assert native.duality_gap_ <= native.tol * native.objective_
    assert native.regularized_objective(X, y) == pytest.approx(native.objective_, rel=1e-9)


def test_output_weight_shapes():
    X = np.random.default_rng(0).standard_normal((12, 25))
    y = np.arange(12) % 3
    params = dict(input_shape=(5, 5), kernel_size=2, n_patterns=8, random_state=0, beta=0.05)
    regional = ConvexCNNClassifier(pooling="max", pool_size=2, readout="dense", **params).fit(X, y)
    assert regional.output_weights_.shape == (len(regional.filters_), 4, 3)
    none = ConvexCNNClassifier(pooling="none", **params).fit(X, y)
    assert none.output_weights_.shape == (len(none.filters_), 16, 3)
    summed = ConvexCNNClassifier(pooling="max", pool_size=2, readout="sum", **params).fit(X, y)
    assert summed.output_weights_.shape == (len(summed.filters_), 3)


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_pool_size_with_no_pooling_warns_and_is_ignored(activation):
    # (a linear CNN refused it, where a ReLU CNN warned: a grid search over the activation
    # lost the linear candidates to an error)
    X = np.random.default_rng(0).standard_normal((12, 25))
    y = np.arange(12) % 3
    patterns = dict(n_patterns=8) if activation == "relu" else {}  # (linear: none to draw)
    params = dict(
        input_shape=(5, 5), kernel_size=2, activation=activation, random_state=0, beta=0.05,
        **patterns,
    )  # fmt: skip
    with pytest.warns(
        UserWarning,
        match=r"pool_size=2 does not apply to pooling='none'.*"
        r"Leave pool_size=None",
    ):
        ignored = ConvexCNNClassifier(pooling="none", pool_size=2, **params).fit(X, y)
    none = ConvexCNNClassifier(pooling="none", **params).fit(X, y)
    np.testing.assert_allclose(ignored.decision_function(X), none.decision_function(X))


def _fit(X, y, **params):
    defaults = dict(beta=0.1, kernel_size=2, n_patterns=24, random_state=0)
    return ConvexCNNRegressor(**{**defaults, **params}).fit(X, y)


def test_equivalent_configurations():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((16, 8)), rng.standard_normal(16)
    # one region read out densely is global pooling: ||w||_1^2 = w^2 for a scalar w
    glob = _fit(X, y)
    one_region = _fit(X, y, readout="dense")
    assert one_region.objective_ == pytest.approx(glob.objective_, rel=1e-6)
    np.testing.assert_allclose(one_region.predict(X), glob.predict(X), rtol=1e-4, atol=1e-5)
    # a pool covering the whole grid is global pooling
    assert _fit(X, y, pool_size=50).objective_ == pytest.approx(glob.objective_, rel=1e-6)
    glob_max = _fit(X, y, pooling="max")
    assert _fit(X, y, pooling="max", pool_size=7).objective_ == pytest.approx(
        glob_max.objective_, rel=1e-6
    )
    # no pooling is a dense read-out of pools of one patch, whatever the pooling
    none = _fit(X, y, pooling="none")
    for pooling in ("average", "max"):
        same = _fit(X, y, pooling=pooling, pool_size=1, readout="dense")
        assert same.objective_ == pytest.approx(none.objective_, rel=1e-6)
    # each restricts the other: locally connected fits at least as well as shared pooling
    assert none.objective_ < glob.objective_
    # max pooling is a different model from average pooling
    assert glob_max.objective_ != pytest.approx(glob.objective_, rel=1e-3)


@pytest.mark.parametrize(
    "pooling, pool_size, readout", [("max", 2, "dense"), ("none", None, "sum")]
)  # fmt: skip
def test_huge_beta_gives_the_empty_network(pooling, pool_size, readout):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 6)), rng.standard_normal(10)
    reg = _fit(X, y, beta=1e6, pooling=pooling, pool_size=pool_size, readout=readout, **SOLVER)
    assert reg.filters_.shape[0] == 0
    assert reg.output_weights_.ndim == 3
    np.testing.assert_allclose(reg.predict(X), np.mean(y))
    assert reg.regularized_objective(X, y) == pytest.approx(reg.objective_, rel=1e-6)


def test_patch_pools_cover_the_grid_row_major():
    pools = patch_pools((4, 5), (2, 3))
    assert [list(p) for p in pools] == [
        [0, 1, 2, 5, 6, 7],
        [3, 4, 8, 9],
        [10, 11, 12, 15, 16, 17],
        [13, 14, 18, 19],
    ]
    assert [list(p) for p in patch_pools((5,), 2)] == [[0, 1], [2, 3], [4]]
    assert [list(p) for p in patch_pools((3,), None)] == [[0, 1, 2]]


def test_pool_size_mismatch_is_a_clear_error():
    X = np.random.default_rng(0).standard_normal((10, 16))
    reg = ConvexCNNRegressor(input_shape=(4, 4), kernel_size=2, pooling="max", pool_size=(2, 2, 2))
    with pytest.raises(ValueError, match=r"pool_size=\(2, 2, 2\) does not match the patch grid"):
        reg.fit(X, X[:, 0])


@pytest.mark.parametrize("input_shape", [None, (16,)])
def test_a_tuple_pool_size_on_signals_names_input_shape(input_shape):
    # images passed without input_shape are 1-D signals: the fix is input_shape, not pool_size
    # (with input_shape=(16,) the hint said "with input_shape=None": an audit)
    X = np.random.default_rng(0).standard_normal((10, 16))
    reg = ConvexCNNRegressor(kernel_size=2, pool_size=(2, 2), input_shape=input_shape)
    with pytest.raises(
        ValueError,
        match=r"pool_size=\(2, 2\) does not match the patch grid of shape \(15,\) \(each row "
        r"of X is a 1-D signal: for images, set input_shape=\(H, W\) or \(H, W, C\)\): pass",
    ):
        reg.fit(X, X[:, 0])


@pytest.mark.parametrize(
    "pool_size, bad", [((None, 2), "None"), (("a", 2), "'a'"), ((2, 0), "0"), ((2.0, 2), "2.0")]
)
def test_pool_size_entries_must_be_positive_integers(pool_size, bad):
    # (they went through int(): 2.9 became 2, None and "a" failed inside it)
    X = np.random.default_rng(0).standard_normal((10, 16))
    reg = ConvexCNNRegressor(input_shape=(4, 4), kernel_size=2, pool_size=pool_size)
    with pytest.raises(
        ValueError,
        match=rf"pool_size=.* is not valid: {bad} is not a positive integer; pass None, a "
        r"positive int or a tuple of 2 positive int\(s\)",
    ):
        reg.fit(X, X[:, 0])


def test_invalid_readout_is_rejected():
    X = np.random.default_rng(0).standard_normal((10, 6))
    with pytest.raises(ValueError, match="'readout' parameter"):
        ConvexCNNRegressor(readout="fc").fit(X, X[:, 0])


# --- exact enumeration -----------------------------------------------------------------------

TINY = [
    # (input_shape, kernel_size): patch size 2, so the patterns can be enumerated exactly
    ((5,), 2),
    ((3, 3), (1, 2)),
]


def _exact_program(X, pooling, pool_size, readout, input_shape, kernel_size):
    geometry = resolve_geometry(input_shape, kernel_size, 1, X.shape[1])
    patches = extract_patches(X, geometry)
    formulation = make_formulation(pooling, pool_size, readout, geometry.grid_shape)
    gates = formulation.enumerate_gates(patches)
    return patches, formulation, gates


def test_regional_network_reads_its_regions_from_its_own_patches_and_gates():
    # network() once read each group's region from the last program() or operator() built
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 16)), rng.standard_normal(10)
    patches = extract_patches(X, resolve_geometry((4, 4), 2, 1, 16))
    formulation = make_formulation("average", 2, "dense", (3, 3))
    gates = formulation.sample_gates(patches, 20, rng)
    solution = solve_cvxpy(
        formulation.program(patches, gates), y, beta=0.1, loss="squared", fit_intercept=True,
        solver="clarabel", tol=1e-8, max_iter=200,
    )  # fmt: skip
    expected = formulation.network([solution], patches, gates).output_weights
    other = extract_patches(rng.standard_normal((7, 16)), resolve_geometry((4, 4), 2, 1, 16))
    formulation.operator(other, formulation.sample_gates(other, 30, rng))
    np.testing.assert_array_equal(
        formulation.network([solution], patches, gates).output_weights, expected
    )
    fresh = make_formulation("average", 2, "dense", (3, 3))  # that never built a program
    np.testing.assert_array_equal(
        fresh.network([solution], patches, gates).output_weights, expected
    )


def _pool_pattern(patches, pool, g, mode):
    """The activation pattern of gate ``g`` on one pool, by its definition: the signs of every
    patch (average pooling), or the winning patch of each sample, -1 where none is active
    (max pooling)."""
    values = patches[:, pool] @ g  # (n, S)
    if mode == "average":
        return tuple((values >= 0).ravel())
    return tuple(np.where(values.max(1) >= 0, values.argmax(1), -1))


def _sampled(mode, readout):
    """Patches, the 50 random gates that ``sample_gates`` draws from its seed, and the gates
    it keeps."""
    patches = np.random.default_rng(0).standard_normal((6, 6, 2))
    formulation = make_formulation(mode, 2, readout, (6,))
    candidates = np.random.default_rng(1).standard_normal((2, 50))  # (sample_gates' draw)
    kept = formulation.sample_gates(patches, 50, np.random.default_rng(1))
    return formulation, patches, candidates, kept


@pytest.mark.parametrize("mode", ["average", "max"])
def test_sampled_regional_gates_keep_every_pattern_of_every_region(mode):
    # a mutant that kept the gates of new patterns in the first region only survived: the
    # other regions lost patterns, a worse optimum that the network still attained. Each
    # region's groups are the distinct patterns, by loops, among all the random filters
    formulation, patches, candidates, kept = _sampled(mode, "dense")
    regions, _ = formulation.groups(patches, kept)
    for region, pool in enumerate(patch_pools((6,), 2)):
        patterns = {_pool_pattern(patches, pool, g, mode) for g in candidates.T}
        assert np.sum(regions == region) == len(patterns)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_sampled_summed_gates_are_the_distinct_joint_patterns_of_all_pools(mode):
    # mutants that told max patterns apart by the first pool alone (patterns lost), or kept
    # every random filter (the same group many times), survived: one gate per distinct joint
    # pattern over all the pools, by loops
    _, patches, candidates, kept = _sampled(mode, "sum")
    pools = patch_pools((6,), 2)
    patterns = {
        tuple(_pool_pattern(patches, pool, g, mode) for pool in pools) for g in candidates.T
    }
    assert kept.shape[1] == len(patterns) < 50


@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_enumeration_finds_every_sampled_pattern(pooling, pool_size, readout):
    X = np.random.default_rng(0).standard_normal((8, 9))
    patches, formulation, gates = _exact_program(X, pooling, pool_size, readout, (3, 3), (1, 2))
    sampled = formulation.sample_gates(patches, 4000, np.random.default_rng(1))
    both = np.concatenate([gates, sampled], axis=1)

    def n_groups(g):
        # groups of the program over the distinct patterns among the gates g
        return formulation.program(patches, formulation._unique(patches, g)).n_patterns

    # every distinct pattern among 4000 random filters is already one of the enumerated ones
    assert n_groups(both) == n_groups(gates)
    assert n_groups(sampled) > 0.9 * n_groups(gates)


def test_max_pooling_enumeration_count():
    # global max over K patches in R^2: cells of the arrangement of the nK patch lines and the
    # n K(K-1)/2 difference lines, merged where they agree on every sample's winner, or where
    # its maximum is negative (the pool is 0 whichever patch wins)
    X = np.random.default_rng(0).standard_normal((1, 3))
    patches, formulation, gates = _exact_program(X, "max", None, "sum", (3,), 2)
    # one sample, two patches: lines x1, x2, x1-x2 give 6 cells; x1 wins, x2 wins or both < 0
    assert gates.shape[1] == 3


def test_max_pooling_merges_the_winners_of_negative_pools():
    # gates that differ only in which patch wins a negative pool have one piece (0 there):
    # one pattern, whose cone is the union of theirs (every patch of the pool <= 0), so no
    # feasible point is lost (a program over the split cones reaches the same optimum)
    patches = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # one sample, two patches in R^2
    formulation = make_formulation("max", None, "sum", (2,))
    gates = np.array([[-1.0, -2.0], [-2.0, -1.0]])  # both patches negative, either wins
    keys = formulation.pattern_keys(patches, gates)
    program = formulation.program(patches, gates)
    pieces, cones = program.pieces, program.cones
    assert formulation.sample_gates(patches, 0, np.random.default_rng(0)).shape[1] == 0
    assert formulation._unique(patches, gates).shape[1] == 1
    np.testing.assert_array_equal(keys[:, 0], keys[:, 1])
    np.testing.assert_array_equal(pieces, 0.0)
    np.testing.assert_array_equal(cones[0], -patches[0])  # x . u <= 0 for both patches
    np.testing.assert_array_equal(cones[1], cones[0])


def test_max_pooling_tells_the_last_patch_of_256_winning_from_a_negative_pool():
    # a mutant that typed the keys for n_patches - 1 survived: the key 256 of patch 255 winning
    # wrapped to 0 in uint8, a negative pool's key, and the two patterns were merged
    patches = np.arange(1.0, 257.0).reshape(1, 256, 1)  # the last patch wins for u > 0
    formulation = make_formulation("max", None, "sum", (256,))
    gates = np.array([[1.0, -1.0]])  # the last patch wins; every patch is negative
    assert formulation._unique(patches, gates).shape[1] == 2


@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_estimators_enumerate_exactly(pooling, pool_size, readout):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((8, 6)), rng.standard_normal(8)
    params = dict(beta=0.1, kernel_size=2, pooling=pooling, pool_size=pool_size, readout=readout)
    exact = ConvexCNNRegressor(n_patterns="exact", **params, **SOLVER).fit(X, y)
    sampled = ConvexCNNRegressor(n_patterns=8, random_state=0, **params, **SOLVER).fit(X, y)
    assert _naive_objective(X, y[:, None], exact, 0.1) == pytest.approx(exact.objective_, rel=1e-6)
    # the sampled program is a restriction of the exact one
    assert exact.objective_ <= sampled.objective_ * (1 + 1e-6)


def test_exact_enumeration_in_three_dimensions_and_its_limit():
    X = np.random.default_rng(0).standard_normal((5, 6))
    patches, formulation, gates = _exact_program(X, "max", 2, "sum", (6,), 3)
    sampled = formulation.sample_gates(patches, 3000, np.random.default_rng(1))
    both = formulation._unique(patches, np.concatenate([gates, sampled], axis=1))
    assert both.shape[1] == gates.shape[1]
    with pytest.raises(ValueError, match="n_patterns='exact' would enumerate up to"):
        formulation.enumerate_gates(patches, max_patterns=10)


REGIONAL = [variant for variant in VARIANTS if variant[0] == "none" or variant[2] == "dense"]


@pytest.mark.parametrize(
    "pooling, pool_size, readout", REGIONAL, ids=["-".join(map(str, v)) for v in REGIONAL]
)
def test_regional_enumeration_finds_each_regions_patterns_in_its_own_arrangement(
    pooling, pool_size, readout
):
    # each region is enumerated over its own patch rows (fewer hyperplanes); its groups must
    # be those of the arrangement of every patch row, whose cells refine every region's
    X = np.random.default_rng(0).standard_normal((8, 9))
    patches, formulation, gates = _exact_program(X, pooling, pool_size, readout, (3, 3), (1, 2))
    whole = formulation._unique(
        patches, _exact_gates(patches, formulation.pools, formulation.mode, 10**6)
    )
    for own, refined in zip(
        formulation._region_keys(patches, gates),
        formulation._region_keys(patches, whole),
        strict=True,
    ):
        assert set(own) == set(refined)
    assert gates.shape[1] <= whole.shape[1]


def test_no_pooling_is_enumerated_where_all_patches_together_are_too_many():
    # 8 images of 4x4, 2x2 filters: the arrangement of all 72 patch rows has a Cover bound of
    # 119,424 (refused), each patch's own 128; the fit is exact and certified optimal
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 16)), rng.standard_normal(8)
    patches = extract_patches(X, resolve_geometry((4, 4), 2, 1, 16))
    assert arrangement_bound(patches.reshape(-1, 4)) > MAX_EXACT_PATTERNS
    params = dict(input_shape=(4, 4), kernel_size=2, pooling="none", beta=0.1)
    exact = ConvexCNNRegressor(n_patterns="exact", **params).fit(X, y)
    certificate = exact.certify(X, y)
    assert certificate.exact and certificate.is_optimal
    sampled = ConvexCNNRegressor(n_patterns=16, random_state=0, **params).fit(X, y)
    assert exact.objective_ <= sampled.objective_ * (1 + 1e-9)
    formulation = make_formulation("none", None, "sum", (3, 3))
    with pytest.raises(
        ValueError,
        match=r"up to 1024 activation patterns or more \(the Cover bounds of 8 of the 9 ",
    ):  # (128 a region: refused at the eighth)
        formulation.enumerate_gates(patches, max_patterns=1000)


def test_regional_enumeration_is_refused_early_by_one_regions_rows_not_all_of_them():
    # 2,600 samples of 317 patches in R^3, every sample alike: 317 hyperplanes in all (a Cover
    # bound of 100,174, refused from a sample of all the rows) but one per patch, each
    # region's own arrangement
    directions = np.random.default_rng(0).standard_normal((317, 3))
    formulation = make_formulation("none", None, "sum", (317,))

    def rows_at(index):
        return directions[np.asarray(index) % 317]

    n_rows = 2600 * 317
    with pytest.raises(ValueError, match="would enumerate up to"):
        make_formulation("average", None, "sum", (317,)).check_enumeration(rows_at, 2600, n_rows)
    formulation.check_enumeration(rows_at, 2600, n_rows)  # (no refusal)


def test_regional_enumeration_takes_all_patch_rows_where_regions_share_them():
    # (a review) binary images: at most 15 distinct 2x2 patches, in every region alike, so the
    # regions' bounds summed (2,842) count each hyperplane once a region, all the patch rows'
    # (940) once: that arrangement, whose cells refine every region's, is enumerated instead
    X = np.random.default_rng(0).integers(0, 2, (12, 25)).astype(float)
    patches = extract_patches(X, resolve_geometry((5, 5), 2, 1, 25))
    formulation = make_formulation("none", None, "sum", (4, 4))
    whole = formulation._unique(
        patches, _exact_gates(patches, formulation.pools, formulation.mode, 10**6)
    )
    gates = formulation.enumerate_gates(patches, max_patterns=1000)
    for own, refined in zip(
        formulation._region_keys(patches, gates),
        formulation._region_keys(patches, whole),
        strict=True,
    ):
        assert set(own) == set(refined)
    # (refused once the regions' summed pass the limit below the whole's: both above it)
    with pytest.raises(ValueError, match=r"up to 914 activation patterns or more \(the Cover"):
        formulation.enumerate_gates(patches, max_patterns=900)
    # and early: 317 patches of 2,600 samples, every one among 20 directions of R^3 (382
    # cells in all, 121,094 summed over the regions): not refused
    directions = np.random.default_rng(0).standard_normal((20, 3))
    shared = make_formulation("none", None, "sum", (317,))
    shared.check_enumeration(lambda index: directions[np.asarray(index) % 20], 2600, 2600 * 317)


@pytest.fixture
def counted(monkeypatch):
    """The number of rows of every Cover bound that the regional enumeration computes, in
    order (``arrangement_bound`` of ``_formulations.two_layer``, counting)."""
    from sklearn_convexcnn._formulations import two_layer

    lengths = []

    def counting(rows):
        lengths.append(len(rows))
        return arrangement_bound(rows)

    monkeypatch.setattr(two_layer, "arrangement_bound", counting)
    return lengths


@pytest.mark.parametrize(
    "length, counts",
    [(12, [300, 30]), (102, [1024, 30])],
    ids=["all-rows", "a-sample-of-them"],
)
def test_regional_enumeration_is_refused_at_the_first_regions_past_the_limit(
    length, counts, counted
):
    # (a review) 30 Gaussian signals, no pooling: regions of 30 rows in R^3, a Cover bound of
    # 872 each; the first region passes a limit of 500, refused there, without the bounds of
    # the others (pooling="none" on long signals counted them all). The whole arrangement is
    # above the limit too: from all its 300 rows, or, of 3,000, from a spread sample of 1,024
    # (the bound of all the rows took 1.2 s of the 1.7 s that refused 200 signals of 2,000;
    # 0.05 s now)
    X = np.random.default_rng(0).standard_normal((30, length))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, length))
    formulation = make_formulation("none", None, "sum", (length - 2,))
    with pytest.raises(ValueError, match=r"up to 872 activation patterns or more \(the Cover"):
        formulation.enumerate_gates(patches, max_patterns=500)
    assert counted == counts


@pytest.mark.parametrize(
    "pooling, pool_size, advice",
    [
        ("none", None, r"use fewer samples or shorter patches \(a smaller kernel_size\)\.$"),
        ("average", 1, r"use fewer samples or shorter patches \(a smaller kernel_size\)\.$"),
        ("average", 2, r"or smaller regions \(a smaller pool_size\)\.$"),
    ],
)
def test_regional_refusals_advise_a_smaller_pool_size_only_where_a_region_has_several_patches(
    pooling, pool_size, advice
):
    # (an audit) pooling="none" ignores pool_size (with a warning), and pool_size=1 is the
    # smallest: "a smaller pool_size" was advised there too, a fix that changes nothing
    X = np.random.default_rng(0).standard_normal((30, 12))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 12))
    formulation = make_formulation(pooling, pool_size, "dense", (10,))
    with pytest.raises(ValueError, match=r"activation patterns or more.*" + advice) as refusal:
        formulation.enumerate_gates(patches, max_patterns=500)
    assert ("pool_size" in str(refusal.value)) == (pool_size == 2)
    # and from the estimator
    y = np.random.default_rng(1).standard_normal(80)
    X = np.random.default_rng(1).standard_normal((80, 10))
    estimator = ConvexCNNRegressor(
        kernel_size=4, pooling=pooling, pool_size=pool_size, readout="dense", n_patterns="exact"
    )
    with pytest.raises(ValueError, match=r"activation patterns or more.*" + advice):
        estimator.fit(X, y)


def test_a_no_pooling_network_too_large_for_memory_advises_pooling_not_the_read_out(monkeypatch):
    # (an audit) readout='sum' does not apply to pooling='none', which the output weights'
    # memory check advised
    from sklearn_convexcnn._formulations import two_layer

    remedies = {}

    def recording(required, what, remedy, available=None):
        remedies[what.split(" of ")[0]] = remedy

    monkeypatch.setattr(two_layer, "check_memory", recording)
    X = np.random.default_rng(0).standard_normal((10, 6))
    y = np.random.default_rng(1).standard_normal(10)
    for pooling, pool_size, fix in [
        ("none", None, "or pooling='average' or 'max' with readout='sum'."),
        ("average", 2, "or readout='sum'."),
    ]:
        ConvexCNNRegressor(
            kernel_size=2, pooling=pooling, pool_size=pool_size, readout="dense", n_patterns=8
        ).fit(X, y)
        assert remedies["The output weights"].endswith(fix)
        assert ("pooling='average'" in remedies["The output weights"]) == (pooling == "none")


def test_regional_refusal_names_the_smaller_bound():
    # 20 binary signals, no pooling: 7 distinct nonzero patches of 3 in all, a bound of 44,
    # where the 10 regions' bounds sum to more. Refused at a limit of 40, the message gives
    # the 44 that the enumeration would have reached, not the regions' larger sum (a review)
    X = np.random.default_rng(0).integers(0, 2, (20, 12)).astype(float)
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 12))
    formulation = make_formulation("none", None, "sum", (10,))
    with pytest.raises(ValueError, match=r"up to 44 activation patterns \(the Cover bound of 7"):
        formulation.enumerate_gates(patches, max_patterns=40)
    assert formulation.enumerate_gates(patches, max_patterns=44).shape[1] == 32


def test_regional_enumeration_stops_sampling_where_a_sample_adds_no_hyperplane(counted):
    # (a review) 200 signals of 102 values repeating 10 patches of R^3: 20,000 patch rows,
    # 10 distinct. A sample of 4,096 has the bound of one of 1,024 (no new hyperplane): all
    # the rows are counted next, not a sample of 16,384 first (20,000 binary images of
    # 16 x 16: samples of up to 4,194,304 of the 4,500,000 patch rows, 10 s more than the
    # 25 s of the enumeration)
    X = np.random.default_rng(0).standard_normal((1, 102))
    patches = extract_patches(X, resolve_geometry(None, 3, 1, 102))
    repeated = np.tile(patches[:, :10], (200, 10, 1))
    formulation = make_formulation("none", None, "sum", (100,))
    formulation.enumerate_gates(repeated, max_patterns=500)
    assert counted[:4] == [1024, 4096, 20000, 200]  # (the samples, all the rows, a region)


def _torch_objective(torch, params, patches, y, pools, pooling, readout, beta):
    filters, weights, intercept = params
    activations = torch.relu(patches @ filters.T)  # (n, K, m)
    reduce = (lambda a: a.amax(dim=1)) if pooling == "max" else (lambda a: a.mean(dim=1))
    regions = torch.stack([reduce(activations[:, pool]) for pool in pools], dim=1)  # (n, Q, m)
    if readout == "dense":
        f = torch.einsum("nqm,mq->n", regions, weights) + intercept
        penalty = (filters**2).sum() + (weights.abs().sum(dim=1) ** 2).sum()
    else:
        f = regions.sum(dim=1) @ weights + intercept
        penalty = (filters**2).sum() + (weights**2).sum()
    return 0.5 * ((f - y) ** 2).sum() + 0.5 * beta * penalty


@pytest.mark.torch
@pytest.mark.parametrize("input_shape, kernel_size", TINY, ids=["1d", "2d"])
@pytest.mark.parametrize("pooling, pool_size, readout", VARIANTS, ids=VARIANT_IDS)
def test_gradient_training_never_beats_the_convex_optimum(
    pooling, pool_size, readout, input_shape, kernel_size, torch_single_thread
):
    torch = torch_single_thread
    beta = 0.1
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, int(np.prod(input_shape))))
    y = rng.standard_normal(8)
    patches, formulation, gates = _exact_program(
        X, pooling, pool_size, readout, input_shape, kernel_size
    )
    program = formulation.program(patches, gates)
    solution = solve_cvxpy(
        program, y, beta=beta, loss="squared", fit_intercept=True, solver="clarabel",
        tol=1e-9, max_iter=500,
    )  # fmt: skip
    network = formulation.network([solution], patches, gates)
    optimum = solution.objective
    if pooling == "none":
        pools = [[k] for k in range(patches.shape[1])]
        readout = "dense"
    else:
        pools = [list(p) for p in formulation.pools]
    dense = readout == "dense"
    tensors = torch.from_numpy(patches), torch.from_numpy(y)

    # the torch objective is the library's: the recovered network attains the optimum in it
    recovered = (  # (copies: the network's arrays are read-only, which torch warns about)
        torch.tensor(network.filters),
        torch.tensor(network.output_weights[..., 0]),
        torch.tensor(network.intercept[0]),
    )
    value = _torch_objective(torch, recovered, *tensors, pools, pooling, readout, beta)
    assert float(value) == pytest.approx(optimum, rel=1e-6)

    torch.manual_seed(0)
    width, best = 10, np.inf  # >= n + 1: wide enough for an optimal network
    for _ in range(4):
        filters = torch.randn(width, patches.shape[2], dtype=torch.float64).requires_grad_()
        shape = (width, len(pools)) if dense else (width,)
        weights = torch.randn(*shape, dtype=torch.float64).requires_grad_()
        intercept = torch.zeros((), dtype=torch.float64, requires_grad=True)
        params = [filters, weights, intercept]

        def closure(params=params):
            for param in params:
                param.grad = None
            loss = _torch_objective(torch, params, *tensors, pools, pooling, readout, beta)
            loss.backward()
            return loss

        optimizer = torch.optim.Adam(params, lr=0.03)
        for _ in range(400):
            optimizer.step(closure)
        optimizer = torch.optim.LBFGS(params, max_iter=200, line_search_fn="strong_wolfe")
        optimizer.step(closure)
        with torch.no_grad():
            value = _torch_objective(torch, params, *tensors, pools, pooling, readout, beta)
        best = min(best, float(value))
    assert best >= optimum * (1 - 1e-6)
    # training got close, so the check is not vacuous: measured best / optimum 1.000 to 1.057
    # over these 12 cases (the largest: no pooling on 3x3 inputs)
    assert best <= 1.1 * optimum


# --- scikit-learn API -------------------------------------------------------------------------

# kernel_size=2 lets the checks' 2-feature datasets through; pooling="none" with kernel_size=1
# is a locally connected layer: one weight per feature and neuron. The default solver (the
# native one) on three, and the CVXPY back-end on one (the checks take 2.5 times as long)
CHECKED_PARAMS = [
    dict(pooling="max", kernel_size=2, pool_size=2, solver="clarabel"),
    dict(pooling="average", kernel_size=2, pool_size=2, readout="dense"),
    dict(pooling="max", kernel_size=2, pool_size=2, readout="dense"),
    dict(pooling="none", kernel_size=1),
]
CHECKED = [
    Estimator(n_patterns=8, random_state=0, **params)
    for params in CHECKED_PARAMS
    for Estimator in (ConvexCNNClassifier, ConvexCNNRegressor)
]

_SHARED_FILTER = (
    "make_regression with 10 features and 1 informative one: a filter shared by every patch "
    "cannot single out one feature"
)


def expected_failed_checks(estimator):
    # per-region (and per-patch) output weights can localize the informative feature
    summed = estimator.pooling != "none" and estimator.readout == "sum"
    if isinstance(estimator, ConvexCNNRegressor) and summed:
        return {"check_regressors_train": _SHARED_FILTER}
    return {}


@parametrize_checks(CHECKED)
def test_sklearn_compatible_estimator(estimator, check):
    run_check(estimator, check, expected_failed_checks(estimator))


@pytest.mark.parametrize("estimator", CHECKED, ids=check_id)
def test_estimator_checks_are_listed(estimator):
    assert_checks_listed(estimator, expected_failed_checks(estimator))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=2, return_X_y=True)
    return train_test_split(X / 16, y, train_size=60, test_size=120, stratify=y, random_state=0)


def _regional(**params):
    defaults = dict(
        input_shape=(8, 8), kernel_size=3, stride=1, pooling="average", pool_size=3,
        readout="dense", n_patterns=8, beta=0.01, random_state=0, solver="clarabel",
    )  # fmt: skip
    return ConvexCNNClassifier(**{**defaults, **params})


def test_pipeline_and_grid_search_over_beta(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(FunctionTransformer(), _regional())
    search = GridSearchCV(pipe, {"convexcnnclassifier__beta": [0.01, 1000.0]}, cv=2)
    search.fit(X_train, y_train)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] < scores[0]  # a huge beta zeroes the network
    assert search.best_params_["convexcnnclassifier__beta"] == 0.01
    assert search.score(X_test, y_test) >= 0.9
    assert search.best_estimator_[-1].output_weights_.shape[1] == 4  # 2x2 regions


@pytest.mark.parametrize("mode", ["average", "max"])
def test_a_regional_program_over_given_groups_is_the_full_programs_part(mode):
    # the certificates re-solve over the neurons' (region, gate) pairs, which may leave a
    # region out: average pooling's blocks raised "cannot reshape array of size 0" (a review)
    rng = np.random.default_rng(1)
    patches, gates = rng.standard_normal((20, 9, 4)), rng.standard_normal((4, 6))
    formulation = make_formulation(mode, 2, "dense", (3, 3))
    full = formulation.program(patches, gates)
    regions, index = formulation.groups(patches, gates)
    kept = np.flatnonzero(regions != 2)[::2]  # (sorted by region; none of region 2)
    part = formulation.program(patches, gates, (regions[kept], index[kept]))
    np.testing.assert_array_equal(part.pieces, full.pieces[kept])
    np.testing.assert_array_equal(part.cones, full.cones[kept])


@pytest.mark.parametrize(
    "architecture, why",
    [("circular", "has no pooling"), ("three_layer", "pools by a global average only")],
)
def test_a_pool_size_alone_is_refused_where_the_architecture_does_not_pool(architecture, why):
    # a mutant that checked only pooling and readout survived: a pool_size set alone (the
    # other pooling parameters at their defaults) was ignored silently by the circular and
    # three-layer CNNs, whose pooling is fixed
    X = np.random.default_rng(0).standard_normal((12, 6))
    y = X[:, 0]
    with pytest.raises(
        ValueError,
        match=rf"^architecture='{architecture}' {why}.*, but got pooling='average', "
        r"pool_size=2, readout='sum'; .*pooling='average', pool_size=None, readout='sum'\.$",
    ):
        ConvexCNNRegressor(architecture=architecture, pool_size=2, n_patterns=4).fit(X, y)


def test_a_linear_cnn_refuses_a_pool_size_with_average_pooling():
    # a mutant that checked only the read-out of a linear CNN with average pooling survived:
    # its program is that of global pooling, so a pool_size alone would be ignored silently
    X = np.random.default_rng(0).standard_normal((12, 6))
    y = X[:, 0]
    with pytest.raises(
        ValueError,
        match=r"^activation='linear' supports pooling='average' with pool_size=None and "
        r"readout='sum', and pooling='none', not pooling='average', pool_size=2, "
        r"readout='sum'\.$",
    ):
        ConvexCNNRegressor(activation="linear", pool_size=2, kernel_size=2).fit(X, y)
