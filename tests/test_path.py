"""Contracts of :func:`~sklearn_convexcnn.convex_cnn_path`: the messages of its ValueErrors,
its ConvergenceWarning, and that a well-posed path warns of nothing.

The path's solutions themselves are tested in ``test_native_solver.py``; here, that with
``n_patterns="exact"`` they are the estimators' exact fits, the global optimum at every ``beta``.
"""

import re
import warnings
from contextlib import nullcontext

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor, convex_cnn_path
from sklearn_convexcnn._patterns import cover_bound

FAST = dict(n_patterns=6, n_betas=3, eps=0.1, random_state=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    y = np.maximum(X[:, 2:5] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    return X, y


def _invalid(name, expected, got):
    return rf"The '{name}' parameter of convex_cnn_path must be {expected}\. Got {got} instead"


_N_PATTERNS = r"an int in the range \[1, inf\) or a str among \{'exact'\}"


class _OnDevice:
    """A tensor on a GPU, as PyTorch's: its ``__array__`` raises a TypeError."""

    def __len__(self):
        return 2

    def __array__(self, dtype=None, copy=None):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def __repr__(self):
        return "tensor([0.5, 0.1], device='cuda:0')"


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(loss="hinge"), _invalid("loss", r"a str among \{.*'logistic'.*\}", "'hinge'")),
        # (an audit: scikit-learn's names of the losses got the list of options only)
        (
            dict(loss="log_loss"),
            _invalid("loss", r"a str among \{'logistic', 'squared'\}", "'log_loss'")
            + r": scikit-learn's name for the logistic loss; pass loss='logistic'\.$",
        ),
        (
            dict(loss="squared_error"),
            _invalid("loss", r"a str among \{'logistic', 'squared'\}", "'squared_error'")
            + r": scikit-learn's name for the squared loss; pass loss='squared'\.$",
        ),
        (dict(pooling="mean"), _invalid("pooling", r"a str among \{.*'average'.*\}", "'mean'")),
        (dict(readout="full"), _invalid("readout", r"a str among \{.*'dense'.*\}", "'full'")),
        (dict(n_patterns="all"), _invalid("n_patterns", _N_PATTERNS, "'all'")),
        (dict(n_patterns=0), _invalid("n_patterns", _N_PATTERNS, "0")),
        (dict(n_patterns=6.0), _invalid("n_patterns", _N_PATTERNS, "6.0")),
        (dict(tol=-1), _invalid("tol", r"a float in the range \(0(\.0)?, 1(\.0)?\)", "-1")),
        (dict(tol=0.0), _invalid("tol", r"a float in the range \(0(\.0)?, 1(\.0)?\)", "0.0")),
        (dict(max_iter=0), _invalid("max_iter", r"an int in the range \[1, inf\)", "0")),
        # (a mutant that took numbers too survived)
        (
            dict(return_regions=1),
            _invalid(
                "return_regions", r"an instance of 'bool' or an instance of 'numpy\.bool_?'", "1"
            ),
        ),
        (dict(n_betas=0), _invalid("n_betas", r"an int in the range \[1, inf\)", "0")),
        (dict(eps=0.0), _invalid("eps", r"a float in the range \(0(\.0)?, 1(\.0)?\]", "0.0")),
        (dict(eps=2.0), _invalid("eps", r"a float in the range \(0(\.0)?, 1(\.0)?\]", "2.0")),
        (dict(betas="small"), _invalid("betas", "an array-like or None", "'small'")),
        (
            dict(betas=[0.1, 0.0]),
            r"got betas=\[0.1, 0.0\]; pass a non-empty 1-D array of finite floats > 0, or "
            r"betas=None .*at beta=0 the program has no regularizer",
        ),
        (dict(betas=[0.1, -0.1]), r"got betas=\[0.1, -0.1\]; pass a non-empty 1-D array"),
        (dict(betas=[0.1, np.nan]), r"got betas=\[0.1, nan\]; pass a non-empty 1-D array"),
        (dict(betas=[0.1, np.inf]), r"got betas=\[0.1, inf\]; pass a non-empty 1-D array"),
        (dict(betas=[]), r"got betas=\[\]; pass a non-empty 1-D array"),
        (dict(betas=[[0.1, 0.2]]), r"got betas=\[\[0.1, 0.2\]\]; pass a non-empty 1-D array"),
        # (these reached float() with a TypeError or "could not convert string to float")
        (dict(betas={0.1, 0.2}), r"got betas=\{0.1, 0.2\}; pass a non-empty 1-D array"),
        (dict(betas=["a"]), r"got betas=\['a'\]; pass a non-empty 1-D array"),
        # (numeric strings and booleans were read as numbers: a review)
        (dict(betas=["1.0", "0.5"]), r"got betas=\['1.0', '0.5'\]; pass a non-empty 1-D"),
        (dict(betas=[True]), r"got betas=\[True\]; pass a non-empty 1-D array"),
        # (mutants that let NumPy's ValueError of ragged lists, or the TypeError of a tensor on
        # a GPU, through survived)
        (dict(betas=[0.1, [0.2, 0.3]]), r"got betas=\[0.1, \[0.2, 0.3\]\]; pass a non-empty 1-D"),
        (
            dict(betas=_OnDevice()),
            r"got betas=tensor\(\[0\.5, 0\.1\], device='cuda:0'\); pass a non-empty 1-D array",
        ),
        # (a number had scikit-learn's "must be an array-like or None": a review)
        (
            dict(betas=0.5),
            r"got betas=0.5, a single number; betas is a sequence of values\. Pass "
            r"betas=\[0.5\] for a path of one beta, or fit ConvexCNNRegressor\(beta=0.5\) "
            r"\(or ConvexCNNClassifier\) for one beta\.",
        ),
        (dict(betas=1), r"got betas=1, a single number; .* Pass betas=\[1\] for a path"),
        # (as written: a float32's 0.1 read as a float64 is 0.10000000149011612)
        (dict(betas=np.float32(0.1)), r"a single number; .* Pass betas=\[0.1\] for a path"),
        (dict(betas=np.float64(0.5)), r"a single number; .* Pass betas=\[0.5\] for a path"),
        (dict(betas=np.array(0.5)), r"a single number; .* Pass betas=\[0.5\] for a path"),
        (dict(betas=-0.5), r"got betas=-0.5; pass a non-empty 1-D array"),
        (dict(betas=np.nan), r"got betas=nan; pass a non-empty 1-D array"),
        # (mutants that called 0 and inf single numbers, to pass as a list, survived)
        (dict(betas=0.0), r"got betas=0.0; pass a non-empty 1-D array"),
        (dict(betas=np.inf), r"got betas=inf; pass a non-empty 1-D array"),
    ],
)
def test_invalid_parameter_names_itself_its_value_and_the_fix(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        convex_cnn_path(X, y, **{**FAST, **params})


def test_wrong_arguments_name_the_path_and_the_way_on(data):
    # scikit-learn's validate_params said "got an unexpected keyword argument 'alphas'" of no
    # function, where lasso_path's users type alphas (a review)
    # and architecture named no way to the other CNNs (a three-layer audit)
    # (each name a hint covers has it: mutants that dropped alpha, n_layers or activation
    # survived)
    X, y = data
    for name in ("alphas", "alpha"):
        with pytest.raises(
            TypeError,
            match=rf"^convex_cnn_path\(\) got an unexpected keyword argument '{name}'\. The "
            r"path's regularization strengths are betas \(lasso_path's alphas\)$",
        ):
            convex_cnn_path(X, y, **{name: [1.0]})
    # (and lasso_path's n_alphas, or the estimators' beta: a review of the beta workflow)
    with pytest.raises(
        TypeError, match=r"'n_alphas'\. The path's number of strengths is n_betas \(lasso_path"
    ):
        convex_cnn_path(X, y, n_alphas=3)
    with pytest.raises(
        TypeError, match=r"'beta'\. The path takes a sequence of strengths: betas=\[beta\]$"
    ):
        convex_cnn_path(X, y, beta=0.5)
    for name in ("architecture", "n_layers", "activation"):
        with pytest.raises(
            TypeError,
            match=rf"^convex_cnn_path\(\) got an unexpected keyword argument '{name}'\. "
            r"convex_cnn_path solves two-layer ReLU CNNs; for another architecture, fit an "
            r"estimator with warm_start=True",
        ):
            convex_cnn_path(X, y, **{name: "three_layer"})
    with pytest.raises(TypeError, match=r"^convex_cnn_path\(\) too many positional arguments$"):
        convex_cnn_path(X, y, [1.0])
    # (a hint is for the argument that Python names, not for another one passed with it)
    with pytest.raises(TypeError, match=r"^convex_cnn_path\(\) too many positional arguments$"):
        convex_cnn_path(X, y, [1.0], alphas=[1.0])
    with pytest.raises(TypeError, match=r"keyword argument 'foo'$"):
        convex_cnn_path(X, y, foo=1, n_layers=4)
    with pytest.raises(TypeError, match=r"^convex_cnn_path\(\) missing a required argument: 'y'"):
        convex_cnn_path(X)


def test_sparse_data_is_refused_as_the_estimators_refuse_it(data):
    # ("must be an array-like" named no fix: a review)
    from scipy import sparse

    X, y = data
    with pytest.raises(TypeError, match=r"Sparse data was passed for X.*'\.toarray\(\)'"):
        convex_cnn_path(sparse.csr_matrix(X), y, **FAST)
    with pytest.raises(TypeError, match=r"Sparse data was passed for y.*'\.toarray\(\)'"):
        convex_cnn_path(X, sparse.csr_matrix(y[:, None]), **FAST)


def test_complex_data_is_refused_with_the_fix(data):
    # (scikit-learn's "Complex data not supported" printed the whole array: an API audit)
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"^Complex data not supported: X holds complex numbers, where convex_cnn_path "
        r"takes real ones\. Pass their real and imaginary parts as channels: ",
    ):
        convex_cnn_path(X + 0j, y, **FAST)
    message = (
        r"^Complex data not supported: y holds complex numbers, where convex_cnn_path "
        r"takes real targets\. Compute the "
        r"paths of y\.real and y\.imag, one after the other\.$"
    )
    with pytest.raises(ValueError, match=message):
        convex_cnn_path(X, y + 1j, **FAST)


def test_targets_that_refuse_numpys_functions_are_taken(data):
    # (a review: the complex check by np.iscomplexobj raised scikit-learn's _NotAnArray's
    # "Don't want to call array_function iscomplexobj!")
    from sklearn.utils.estimator_checks import _NotAnArray

    X, y = data
    objectives = convex_cnn_path(X, _NotAnArray(y), **FAST)[3]
    np.testing.assert_array_equal(objectives, convex_cnn_path(X, y, **FAST)[3])


def test_class_labels_are_refused_with_their_encoding(data):
    X, _ = data
    labels = np.where(np.arange(len(X)) % 2, "cat", "dog")
    with pytest.raises(
        ValueError, match=r"needs numeric targets y; got <U3 labels, such as 'dog'\. .*np.where"
    ):
        convex_cnn_path(X, labels, loss="logistic", **FAST)


@pytest.mark.parametrize("missing", ["None", "pandas-NA"])
def test_missing_targets_are_named_as_nan(data, missing):
    # a review: a None among object targets was called labels to encode as +-1, and pandas'
    # NA raised float()'s "argument must be a string or a real number, not 'NAType'"
    X, y = data
    if missing == "None":
        targets = np.array([None, *y[1:]], dtype=object)
    else:
        pd = pytest.importorskip("pandas")
        targets = pd.Series([pd.NA, *y[1:]], dtype=object)
    # (named by its sample, as fit names it)
    with pytest.raises(ValueError, match=r"^Input y contains NaN at sample 0 \(1 non-finite"):
        convex_cnn_path(X, targets, **FAST)


def test_images_not_flattened_name_the_reshape():
    # (as the estimators do: scikit-learn's own message said only that X was 3-D)
    X = np.random.default_rng(0).standard_normal((12, 4, 4))
    message = (
        r"X has shape \(12, 4, 4\), but convex_cnn_path takes one flattened row per sample, "
        r"channels last\. Pass X.reshape\(len\(X\), -1\) with input_shape=\(4, 4\)"
    )
    with pytest.raises(ValueError, match=message):
        convex_cnn_path(X, np.arange(12.0), **FAST)


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_data_is_refused_by_name(data, where, value, message):
    X, y = (array.copy() for array in data)
    (X[3, 2:3] if where == "X" else y[3:4])[:] = value
    named = r".* at sample 3 \(1 non-finite target" if where == "y" else ""
    with pytest.raises(ValueError, match=rf"Input {where} contains {message}{named}"):
        convex_cnn_path(X, y, **FAST)


@pytest.mark.parametrize(
    "shape_of, message",
    [
        (lambda X, y: (X[:, 0], y), r"Expected 2D array, got 1D array instead"),
        (lambda X, y: (X, y[:-1]), r"got X \(30, 8\) and y \(29,\)\. Pass one target per row"),
        (lambda X, y: (X, np.c_[y, y]), r"got X \(30, 8\) and y \(30, 2\)\..*one output at a"),
    ],
)
def test_misshapen_data_names_both_shapes(data, shape_of, message):
    with pytest.raises(ValueError, match=message):
        convex_cnn_path(*shape_of(*data), **FAST)


def test_a_target_column_is_the_same_path_as_its_vector(data):
    # (an API audit: refused, where the estimators and lasso_path take one column)
    X, y = data
    for expected, got in zip(
        convex_cnn_path(X, y, **FAST), convex_cnn_path(X, y[:, None], **FAST), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "encode, values",
    [
        (lambda y: y, r"\{-1\.\d+, -0\.\d+, -0\.\d+, -0\.\d+, \.\.\.\}"),  # real-valued
        (lambda y: (y > np.median(y)).astype(float), r"\{0, 1\}"),
        (lambda y: np.where(y > np.median(y), 2, 1), r"\{1, 2\}"),
        # four values are all shown, of five the first four (mutants that wrote "..." after
        # four, or only after six, survived)
        (lambda y: np.arange(len(y)) % 4 - 1.0, r"\{-1, 0, 1, 2\}"),
        (lambda y: np.arange(len(y)) % 5 - 1.0, r"\{-1, 0, 1, 2, \.\.\.\}"),
    ],
)
def test_logistic_loss_asks_for_targets_in_minus_one_plus_one(data, encode, values):
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"loss='logistic' needs y in \{-1, \+1\}; got y with values "
        + values
        + r"\. Encode two classes as ConvexCNNClassifier does: classes = np\.unique\(labels\); "
        r"y = np\.where\(labels == classes\[1\], 1\.0, -1\.0\)\.",
    ):
        convex_cnn_path(X, encode(y), loss="logistic", **FAST)


@pytest.mark.parametrize("label", [1.0, -1.0])
def test_logistic_loss_with_one_class_and_an_intercept_is_refused(data, label):
    X, _ = data
    with pytest.raises(
        ValueError,
        match=r"fit_intercept=True needs both classes in y; got only "
        + re.escape(f"y={label:+g}, for which ")
        + r"the intercept grows without bound .* or fit_intercept=False\.",
    ):
        convex_cnn_path(X, np.full(len(X), label), loss="logistic", **FAST)


@pytest.mark.parametrize(
    "make_degenerate",
    [
        lambda X, y: (X, np.full_like(y, 0.3)),
        # constant, its mean rounded (it once gave a path of 10 and 29 groups fitted to that
        # rounding). Targets an ulp apart were taken for constant too, until targets 4 ulps
        # apart were fitted 29 % above the optimum that way (a review): they are fitted now
        lambda X, y: (X, np.full_like(y, 1e8 + 0.3)),
        lambda X, y: (np.zeros_like(X), y),
    ],
    ids=["constant y", "constant y of a large mean", "zero X"],
)
def test_a_default_path_with_beta_max_zero_is_refused(data, make_degenerate):
    X, y = make_degenerate(*data)
    with pytest.raises(
        ValueError,
        match=r"got betas=None, but beta_max is 0: the empty network \(the intercept alone\) "
        r"is optimal at every beta > 0 .* Check X and y, or pass betas",
    ):
        convex_cnn_path(X, y, **FAST)


@pytest.mark.parametrize("offset", [0.0, 1e14])
def test_a_beta_max_within_rounding_is_refused_with_the_fix(data, offset):
    # a constant X (its beta_max, 0, rounds to about 6e-16) got a path fitted to that
    # rounding, with warnings of stalls (an audit); an offset of 1e14 leaves beta_max, 6.4,
    # within the rounding of its computation (a review)
    X, y = data
    X = np.ones_like(X) if offset == 0 else X + offset
    # (the offset warned first: X + 1e14, not the constant X, whose spread is 0)
    with (
        pytest.warns(UserWarning, match=r"share an offset of 1e\+14") if offset else nullcontext(),
        pytest.raises(
            ValueError,
            match=r"got betas=None, but beta_max, \S+, is within the rounding of its "
            r"computation \(\S+\): it cannot be told from 0, .* Centre or scale X \(a "
            r"StandardScaler\), or pass betas\.$",
        ),
    ):
        convex_cnn_path(X, y, **FAST)


def test_a_beta_max_beyond_the_rounding_of_a_large_offset_starts_the_path(data):
    # the other side of the bound: with an offset of 1e12 the prices are exact to 1e-4, and
    # beta_max, 6.2e-3 for targets of 1e-3, is 11 times the rounding bound, 5.7e-4 (mutants
    # that took a bound 6e4 times as large, or one not scaled with the targets, refused it
    # and survived; the smaller betas of such a path can stall)
    X, y = data
    with pytest.warns(UserWarning, match=r"share an offset of 1e\+12"):
        beta_max = convex_cnn_path(X + 1e12, 1e-3 * y, **{**FAST, "n_betas": 1})[0]
    with pytest.warns(UserWarning, match=r"share an offset of 1e\+10"):
        less = convex_cnn_path(X + 1e10, 1e-3 * y, **{**FAST, "n_betas": 1})[0]
    np.testing.assert_allclose(beta_max, less, rtol=1e-3)


def test_explicit_betas_on_a_constant_y_give_the_empty_network(data):
    X, y = data[0], np.full(len(data[0]), 0.3)
    _, coefs, intercepts, _, _, _ = convex_cnn_path(X, y, **{**FAST, "betas": [0.5, 0.05]})
    assert np.all(coefs == 0)
    np.testing.assert_allclose(intercepts, 0.3)


def test_logistic_loss_with_one_class_and_no_intercept_is_solved(data):
    # the other fix the message names: without an intercept the program has a minimizer
    X, _ = data
    y = np.ones(len(X))
    *_, objectives, gaps, _ = convex_cnn_path(X, y, loss="logistic", fit_intercept=False, **FAST)
    assert np.all(np.isfinite(objectives)) and np.all(gaps <= 1e-7 * objectives)


def test_squared_loss_without_an_intercept_fits_the_targets_as_given(data):
    # a mutant that centred y whatever fit_intercept said survived: it returned the mean of y
    # as every intercept, and fitted y less its mean
    X, y = data
    y = y + 1.0
    _, coefs, intercepts, objectives, gaps, _ = convex_cnn_path(X, y, fit_intercept=False, **FAST)
    np.testing.assert_array_equal(intercepts, 0.0)
    assert np.all(coefs[0] == 0)  # beta_max: the empty network, no intercept
    assert objectives[0] == pytest.approx(0.5 * np.sum(y**2), rel=1e-12)
    assert np.all(gaps <= 1e-7 * objectives)


def test_random_state_draws_the_patterns(data):
    # a mutant that drew the patterns with seed 0 whatever random_state said survived
    X, y = data
    first = convex_cnn_path(X, y, **FAST)
    again = convex_cnn_path(X, y, **FAST)
    other = convex_cnn_path(X, y, **{**FAST, "random_state": 1})
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[-1], other[-1])


@pytest.mark.parametrize(
    "betas", [[1, 2], np.array([1, 2], dtype=np.uint8), np.array([2, 1], dtype=np.float32)]
)
def test_betas_of_any_real_dtype_are_solved_as_floats(data, betas):
    # mutants that refused ints or unsigned ints, or returned the given dtype (int betas),
    # survived
    X, y = data
    solved, *_ = convex_cnn_path(X, y, **{**FAST, "betas": betas})
    assert solved.dtype == np.float64
    np.testing.assert_array_equal(solved, [2.0, 1.0])


def test_default_betas_are_geometric_from_beta_max_to_eps_times_it(data):
    # a mutant that spaced them linearly survived
    X, y = data
    betas = convex_cnn_path(X, y, **{**FAST, "n_betas": 4, "eps": 1e-3})[0]
    np.testing.assert_allclose(betas[1:] / betas[:-1], 0.1, rtol=1e-12)


def test_beta_max_of_unbalanced_classes_is_priced_at_their_best_intercept(data):
    # a mutant that priced beta_max at f = 0, not at the log-odds intercept, survived: balanced
    # classes (the other tests') have log-odds 0; unbalanced, the first beta is then not the
    # smallest whose optimum is the empty network
    X, y = data
    y = np.where(y > np.quantile(y, 0.75), 1.0, -1.0)
    _, coefs, *_ = convex_cnn_path(X, y, loss="logistic", **{**FAST, "n_betas": 2, "eps": 0.9})
    assert np.all(coefs[0] == 0) and np.any(coefs[1] != 0)


def test_the_gates_of_a_dense_read_out_are_one_per_group(data):
    # a mutant that returned the distinct gates, not each group's, survived: with a read-out
    # per region the groups are the gates distinct in each region
    X, y = data
    _, coefs, _, _, _, gates, regions = convex_cnn_path(
        X, y, pool_size=3, readout="dense", return_regions=True, **FAST
    )
    assert gates.shape[1] == coefs.shape[2] == len(regions) > FAST["n_patterns"]


def test_the_groups_of_a_summed_read_out_are_all_in_region_zero(data):
    # (mutants that numbered them 1, or as floats, survived: the regions are ints)
    X, y = data
    *_, gates, regions = convex_cnn_path(X, y, return_regions=True, **FAST)
    assert regions.dtype.kind == "i"
    np.testing.assert_array_equal(regions, np.zeros(gates.shape[1]))


def test_max_iter_too_small_warns_once_per_unconverged_beta_with_the_gap(data):
    X, y = data
    gap = r"Duality gap: (\d\.\d{3}e[+-]\d+), tolerance: (\d\.\d{3}e[+-]\d+)\."
    with pytest.warns(
        ConvergenceWarning,
        match=r"convex_cnn_path did not converge at beta=\d\.\d{3}e[+-]\d+ \([23] of 3\): "
        r"native stopped with status 'max_iter reached' after 1 iteration \(max_iter=1, "
        rf"tol=1\.0e-07\)\. {gap} Increase max_iter or loosen tol\. The path's coefs at this "
        r"beta are not the optimum\.$",
    ) as record:
        betas, _, _, objectives, gaps, _ = convex_cnn_path(
            X, y, max_iter=1, **{**FAST, "n_patterns": 8, "eps": 0.01}
        )
    unconverged = gaps > 1e-7 * objectives
    assert unconverged.sum() >= 1
    warned = [w for w in record if issubclass(w.category, ConvergenceWarning)]
    assert len(warned) == unconverged.sum()
    # each warning states the gap returned at its beta, its place on the path, and that gap's
    # tolerance
    for w, step, objective, returned in zip(
        warned, np.flatnonzero(unconverged), objectives[unconverged], gaps[unconverged], strict=True
    ):
        text = str(w.message)
        assert f"beta={betas[step]:.3e} ({step + 1} of 3)" in text
        assert f"Duality gap: {returned:.3e}, tolerance: {1e-7 * objective:.3e}." in text


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_well_posed_path_raises_no_warning(data, loss):
    X, y = data
    if loss == "logistic":
        y = np.where(y > np.median(y), 1, -1)  # ints are fine
    # unsorted betas and numpy scalars are valid too
    params = {**FAST, "betas": (0.05, 0.5), "n_patterns": np.int64(6), "tol": np.float64(1e-7)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        betas, _, _, objectives, gaps, _ = convex_cnn_path(X, y, loss=loss, **params)
    np.testing.assert_array_equal(betas, [0.5, 0.05])
    assert np.all(gaps <= 1e-7 * objectives)


# (y + 1e12 is y to 1.2e-4, its ulp: the objectives and intercepts are that far apart)
@pytest.mark.parametrize("offset, rtol, atol", [(1e8, 1e-7, 1e-6), (1e12, 1e-5, 1e-3)])
def test_an_offset_of_the_target_moves_only_the_intercepts(data, offset, rtol, atol):
    # centred inside the path: uncentred, y + 1e8 stalled above the optimum; the native
    # solver has since certified y + 1e8 uncentred (a mutant that did not centre survived),
    # but not y + 1e12 (a gap of 4e-4, with a ConvergenceWarning)
    X, y = data
    betas, coefs, intercepts, objectives, gaps, _ = convex_cnn_path(X, y, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shifted = convex_cnn_path(X, y + offset, **{**FAST, "betas": betas})
    np.testing.assert_allclose(shifted[3], objectives, rtol=rtol)
    np.testing.assert_allclose(shifted[2] - offset, intercepts, atol=atol)
    assert np.all(shifted[4] <= 1e-7 * shifted[3])


@pytest.mark.parametrize("loss, fit_intercept", [("squared", True), ("logistic", False)])
def test_each_beta_starts_from_the_previous_solution(monkeypatch, data, loss, fit_intercept):
    from sklearn_convexcnn import _path

    calls, original = [], _path.solve_native

    def recording(*args, **kwargs):
        solution = original(*args, **kwargs)
        calls.append((kwargs, solution))
        return solution

    monkeypatch.setattr(_path, "solve_native", recording)
    X, y = data
    # each solve at its beta, with the path's options (mutants that solved to 10 * tol or
    # tol / 10, or with max_iter + 1, survived)
    options = dict(loss=loss, fit_intercept=fit_intercept, tol=1e-6, max_iter=50)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    betas = convex_cnn_path(X, y, **FAST, **options)[0]
    assert len(calls) == FAST["n_betas"]
    assert calls[0][0]["coef_init"] is None and calls[0][0]["intercept_init"] is None
    for (kwargs, _), beta in zip(calls, betas, strict=True):
        assert kwargs["beta"] == beta
        assert {name: kwargs[name] for name in options} == options
    for (_, previous), (kwargs, _) in zip(calls, calls[1:], strict=False):
        assert kwargs["coef_init"] is previous.coef
        assert kwargs["intercept_init"] == previous.intercept


@pytest.mark.parametrize(
    "x_scale, y_scale, betas, name",
    [
        # reviews: y of size 1e200 made beta_max inf, and the path "fitted" betas [inf, inf];
        # with betas given, y of 1e155 returned objectives [inf] as converged, and X of 1e200
        # failed inside SciPy's NNLS ("array must not contain infs or NaNs")
        (1.0, 1e200, None, "y"),
        (1.0, 1e155, [1.0], "y"),
        (1e200, 1.0, [1.0], "X"),
        (1e-200, 1.0, [1e-200], "X"),
        (1.0, 1e-200, None, "y"),
    ],
)
def test_data_beyond_what_float64_computes_with_is_refused(data, x_scale, y_scale, betas, name):
    X, y = data
    with pytest.raises(
        ValueError,
        match=rf"^{name} has entries of magnitude (up to|at most) .*; the convex program takes",
    ):
        convex_cnn_path(X * x_scale, y * y_scale, **{**FAST, "betas": betas})


def test_logistic_targets_near_plus_minus_one_are_shown_as_they_are(data):
    # a review: 1 + 1e-12 was shown as "1", as if the values were right
    X, y = data
    labels = np.where(y > np.median(y), 1.0, -1.0) * (1 + 1e-12)
    with pytest.raises(ValueError, match=r"got y with values \{-1\.000000000001, 1\.0000"):
        convex_cnn_path(X, labels, loss="logistic", **FAST)


# (a second channel of zeros: groups nonzero with zero entries, and solves of 1 iteration)
@pytest.mark.parametrize("zero_channel, eps", [(False, 1e-2), (True, 0.5)])
def test_verbose_prints_a_line_for_each_beta(data, capsys, zero_channel, eps):
    # a review: a long path printed nothing, where lasso_path has verbose
    X, y = data
    params = dict(n_betas=3, eps=eps, n_patterns=8, random_state=0)
    if zero_channel:
        X = np.stack([X, np.zeros_like(X)], axis=-1).reshape(len(X), -1)
        params["input_shape"] = (8, 2)
    betas, coefs, _, objectives, gaps, _ = convex_cnn_path(X, y, verbose=1, **params)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    n_iters = []
    for k, line in enumerate(lines):
        found = re.match(
            rf"\[convex_cnn_path\] beta {k + 1} of 3, (\S+): objective (\S+), gap (\S+) \(relative "
            # (the empty network's gap is rounding, of either sign)
            r"\S+(: zero to the solver's accuracy)?\), (\d+) nonzero groups, native optimal in "
            r"(\d+) (iterations?), \S+ s$",
            line,
        )
        assert found, line
        beta, objective, gap = map(float, found.groups()[:3])
        assert beta == pytest.approx(betas[k], rel=1e-3)
        assert objective == pytest.approx(objectives[k], rel=1e-5)
        assert gap == pytest.approx(gaps[k], rel=0.1, abs=1e-300)
        # (mutants that counted the groups with all entries nonzero, or the nonzero entries,
        # and one that wrote "1 iterations", survived)
        groups, n_iter, iterations = found.groups()[4:]
        assert int(groups) == np.count_nonzero(np.any(coefs[k], axis=-1))
        assert iterations == ("iteration" if n_iter == "1" else "iterations")
        n_iters.append(n_iter)
    if zero_channel:  # (the premises the mutants need: else the case pins nothing new)
        assert "1" in n_iters
        assert np.any(np.any(coefs, axis=-1) & ~np.all(coefs, axis=-1))
    convex_cnn_path(X, y, verbose=2, **params)
    assert "[native] iteration 0: objective" in capsys.readouterr().out
    convex_cnn_path(X, y, **params)
    assert capsys.readouterr().out == ""


def test_verbose_flushes_each_line_as_it_prints_it(data, monkeypatch):
    # (a long path's lines show as its solves end, where stdout is a file or a pipe: a mutant
    # that did not flush them survived)
    import io
    import sys

    flushed = []

    class Recording(io.StringIO):
        def flush(self):
            flushed.append(self.getvalue())

    monkeypatch.setattr(sys, "stdout", Recording())
    X, y = data
    convex_cnn_path(X, y, verbose=1, **{**FAST, "n_betas": 2})
    assert [text.count("\n") for text in flushed] == [1, 2]


@pytest.mark.parametrize(
    "relative, advice",
    [
        # certified closer than CVXPY certifies: a CVXPY solver would end further away
        (1e-7, r"certified to 1\.0e-07 of the objective, closer than CVXPY's solvers certify: "
         r"loosen tol \(tol=1e-07 accepts it\)"),
        # (a mutant that took CVXPY_ACCURACY / 10 for the bound survived: 5e-6 is still closer)
        (5e-6, r"certified to 5\.0e-06 of the objective, closer than CVXPY's solvers certify: "
         r"loosen tol \(tol=1e-05 accepts it\)"),
        (1e-2, r"loosen tol \(tol=1e-02 accepts it\), use a larger beta \(a beta small against "
         r"the targets' scale nears interpolation\) or standardize the inputs, or fit "
         r"ConvexCNNRegressor or ConvexCNNClassifier with solver='clarabel' at this beta\."),
    ],
)  # fmt: skip
def test_a_stalled_path_advises_as_the_estimators_do(data, monkeypatch, relative, advice):
    # the path sent every stall to CVXPY, which ends further from the optimum than a point
    # certified to 1e-7 (the estimators' own warning says so)
    import dataclasses

    from sklearn_convexcnn import _path

    solve_native = _path.solve_native

    def stalling(*args, **kwargs):
        solution = solve_native(*args, **kwargs)
        gap = relative * solution.objective
        return dataclasses.replace(solution, converged=False, status="stalled", duality_gap=gap)

    monkeypatch.setattr(_path, "solve_native", stalling)
    X, y = data
    with pytest.warns(ConvergenceWarning, match=advice):
        convex_cnn_path(X, y, tol=1e-8, **{**FAST, "n_betas": 1})


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("pooling, pool_size", [("average", None), ("max", 2), ("none", None)])
def test_exact_path_is_the_estimators_global_optimum_at_every_beta(loss, pooling, pool_size):
    # every pattern enumerated, as the estimators' n_patterns="exact": the same program at
    # each beta (a path of 64 sampled patterns ends up to 3.5 % above at the smaller betas;
    # without pooling, and at the largest beta, it ends at the same optimum)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 6))
    y = np.maximum(X[:, 1:4] @ [1.0, -1.0, 0.5], 0) + X[:, 0]
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    params = dict(kernel_size=3, pooling=pooling, pool_size=pool_size, n_patterns="exact")
    tol = 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # (random_state differs from the estimators': the enumeration draws nothing)
        betas, _, _, objectives, gaps, gates = convex_cnn_path(
            X, y, n_betas=3, eps=0.05, loss=loss, tol=tol, random_state=1, **params
        )
        Estimator = ConvexCNNRegressor if loss == "squared" else ConvexCNNClassifier
        for beta, objective, gap in zip(betas, objectives, gaps, strict=True):
            model = Estimator(beta=beta, loss=loss, tol=tol, random_state=0, **params).fit(X, y)
            assert objective == pytest.approx(model.objective_, rel=1e-6, abs=0)
            assert gap <= tol * objective
    if pooling != "none":  # (a summed read-out: one group per pattern)
        assert gates.shape[1] == model.n_patterns_


def test_exact_path_with_too_many_patterns_is_refused_as_the_estimators_are():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 20)), rng.standard_normal(200)
    bound = cover_bound(200 * 16, 5)
    message = (
        rf"n_patterns='exact' would enumerate up to {bound} activation patterns \(the Cover "
        r"bound of 3200 distinct hyperplanes of rank 5\), more than the limit of 100000\. "
        r"Pass an int n_patterns=<int> \(e\.g\. n_patterns=256\) to sample the patterns "
        r"instead, or use fewer samples or shorter patches \(a smaller kernel_size\)\.$"
    )
    with pytest.raises(ValueError, match=message) as path:
        convex_cnn_path(X, y, kernel_size=5, n_patterns="exact")
    with pytest.raises(ValueError) as estimator:
        ConvexCNNRegressor(kernel_size=5, n_patterns="exact").fit(X, y)
    assert str(path.value) == str(estimator.value)


def test_exact_path_checks_the_memory_of_the_enumerated_patterns(monkeypatch):
    # after the enumeration (its count is known only then), with the estimators' remedy
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 2**20)
    X = np.random.default_rng(0).standard_normal((10, 6))
    message = (
        r"The matrix-free convex program for 10 samples x 4 patches of size 3 with up to 1562 "
        r"patterns \(solver='native'\) needs about .* Sample the patterns \(an int n_patterns\) "
        r"instead of n_patterns='exact', use fewer or smaller patches \(a larger stride or a "
        r"smaller kernel_size\), or fit on a subset of the samples\."
    )
    with pytest.raises(MemoryError, match=message):
        convex_cnn_path(X, X[:, 0], kernel_size=3, n_patterns="exact")


# (2 x n_steps x (2 x 6 x 3 + 4) x 8 bytes: a mutant that dropped the 4 survived)
@pytest.mark.parametrize("how, size", [("n_betas", "5960464.5 GiB"), ("betas", "610.4 MiB")])
def test_a_path_longer_than_memory_holds_is_refused_before_its_solves(data, how, size, monkeypatch):
    # a review: n_betas=10**13 raised NumPy's MemoryError for 72.8 TiB of betas, which named
    # neither n_betas nor the fix; the solutions the path returns are checked before any solve
    import sklearn_convexcnn._resources as resources

    X, y = data
    if how == "n_betas":
        n_steps, steps = 10**13, {"n_betas": 10**13}
    else:  # (as many as the machine holds, with less memory than their solutions need)
        # (their list and the array made of it: 2 x 10**6 x 40 x 8 bytes, 610 MiB)
        n_steps, steps = 10**6, {"betas": np.geomspace(1, 1e-3, 10**6)}
        monkeypatch.setattr(resources, "available_memory", lambda: 400 * 2**20)
    message = (
        rf"^The path's {n_steps} solutions of 2 x 6 groups of size 3 needs about {size} of "
        r"memory.* Pass a "
        r"smaller n_betas \(or fewer betas\), or fewer patterns \(n_patterns\)\.$"
    )
    with pytest.raises(MemoryError, match=message):
        convex_cnn_path(X, y, **{**FAST, **steps})


def test_an_eps_whose_smallest_beta_underflows_is_named():
    # a review: NumPy's "Geometric sequence cannot include zero" named neither eps nor the fix
    X = np.random.default_rng(0).standard_normal((20, 6))
    with pytest.raises(ValueError, match=r"^eps=1e-320 times beta_max=.* is 0 in float64, so "
                       r"the path has no smallest beta; pass a larger eps"):  # fmt: skip
        convex_cnn_path(X, 1e-5 * X[:, 0], eps=1e-320, n_betas=2, kernel_size=2, n_patterns=4)


def test_the_patches_memory_is_checked_for_the_samples_of_x(monkeypatch):
    # (a mutant that sized the patches by the features of X instead of its samples survived)
    import sklearn_convexcnn._resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 1)
    X = np.random.default_rng(0).standard_normal((10, 6))
    message = r"^Cutting X into patches \(10 samples x 4 patches of size 3\) needs about "
    with pytest.raises(MemoryError, match=message):
        convex_cnn_path(X, X[:, 0], kernel_size=3, n_patterns=4)


def test_a_loss_that_is_not_a_string_gets_the_list_of_losses(data):
    # (a mutant that looked an unhashable loss up among scikit-learn's names, a TypeError,
    # survived: every loss above was a string)
    X, y = data
    with pytest.raises(ValueError, match=_invalid("loss", r"a str among \{.*\}", r"\['squared'\]")):
        convex_cnn_path(X, y, loss=["squared"], **FAST)
