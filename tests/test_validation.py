"""Bad input fails at once with a message that names the problem and the fix."""

import functools
import inspect
import pickle
import re
import warnings

import cvxpy
import numpy as np
import pandas as pd
import pytest
from packaging.version import Version
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor, convex_cnn_path
from sklearn_convexcnn._compat import InvalidParameterError

ESTIMATORS = [ConvexCNNClassifier, ConvexCNNRegressor]


def _data(n_samples=12, n_features=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, n_features)), np.arange(n_samples) % 2


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(Estimator, bad):
    X, y = _data()
    X[3, 4] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        Estimator(n_patterns=4).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_refused_where_scikit_learn_is_told_not_to_check(Estimator, bad):
    # assume_finite=True skips scikit-learn's check: a NaN in X gave an empty network with a
    # duality gap of -7e-15, certified optimal, and no warning (a review); the previous model
    # survives the refusal
    import sklearn

    X, y = _data()
    est = Estimator(n_patterns=4, random_state=0).fit(X, y)
    prediction = est.predict(X)
    X_bad = X.copy()
    X_bad[3, 4] = bad
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match=r"^Input X contains NaN or infinity \(scikit"):
            est.fit(X_bad, y)
        # (a classifier's float labels too, which scikit-learn called "continuous" there)
        with pytest.raises(ValueError, match=r"^Input y contains (NaN|infinity \(inf\)) at s"):
            est.fit(X, np.where(np.arange(len(y)) == 0, bad, y))
    np.testing.assert_array_equal(est.predict(X), prediction)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_predictions_pass_non_finite_input_on_where_scikit_learn_is_told_not_to_check(
    Estimator, bad
):
    # as scikit-learn's estimators do under assume_finite=True (doc/user_guide.rst): such a
    # sample's outputs are NaN, the others' as without it. They were refused as an overflow,
    # telling the user to rescale X (a review); a finite sample that overflows still is
    import sklearn

    X, y = _data()
    est = Estimator(beta=0.01, n_patterns=4, random_state=0).fit(X, y)
    assert len(est.filters_)  # (without neurons, the intercept alone is predicted)
    X_bad = X.copy()
    X_bad[3, 4] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (not NumPy's invalid-value warnings)
        with sklearn.config_context(assume_finite=True):
            decision = est.decision_function(X_bad) if is_classifier(est) else est.predict(X_bad)
            np.testing.assert_array_equal(np.isnan(decision), np.arange(len(X)) == 3)
            prediction = est.predict(X_bad)
            X_bad[5] = 1.7e308
            with pytest.raises(ValueError, match=r"^The network's output on sample 5 of X over"):
                est.predict(X_bad)
    keep = np.arange(len(X)) != 3
    np.testing.assert_array_equal(prediction[keep], est.predict(X)[keep])


@pytest.mark.parametrize(
    "targets, message",
    [
        (
            lambda y: np.where(np.isin(np.arange(len(y)), [2, 7]), np.nan, y),
            r"^Input y contains NaN at sample 2 \(2 non-finite target\(s\) of 12\)\. A target "
            r"cannot be imputed as a feature can: drop those samples, keep = np\.isfinite\(y\); "
            r"X, y = X\[keep\], y\[keep\]\.$",
        ),
        (
            lambda y: np.c_[y, np.where(np.arange(len(y)) == 5, -np.inf, y)],
            r"^Input y contains infinity \(-inf\) at sample 5, output 1 \(1 non-finite "
            r"target\(s\) of 24\)\. .* keep = np\.isfinite\(y\)\.all\(axis=1\); ",
        ),
    ],
    ids=["1-D", "2-D"],
)
def test_a_non_finite_target_is_named_by_its_sample(targets, message):
    # scikit-learn's "Input y contains NaN." names neither the sample nor a fix, and the
    # fix is not the imputer its message for X suggests
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        ConvexCNNRegressor(n_patterns=4).fit(X, targets(y.astype(float)))


@pytest.mark.parametrize(
    "Estimator, kind",
    [
        (ConvexCNNRegressor, "array"),
        (ConvexCNNRegressor, "list"),
        (ConvexCNNRegressor, "list with None"),
        (ConvexCNNRegressor, "Series"),
        (ConvexCNNRegressor, "Series, X a DataFrame"),
        (ConvexCNNRegressor, "Series of objects with NA"),
        (ConvexCNNRegressor, "Float64 with NA"),
        (ConvexCNNRegressor, "DataFrame"),
        (ConvexCNNClassifier, "list"),
        (ConvexCNNClassifier, "Categorical"),
        ("path", "list with None"),
        ("path", "Float64 with NA"),
    ],
)
def test_the_fix_named_for_a_non_finite_target_runs_on_the_targets_as_given(Estimator, kind):
    # the message's code is run as the user would run it, on their kind of y: np.isfinite
    # refuses pandas' nullable NA and categories and a list takes no mask, so one code for
    # every kind failed on them (IndexError, TypeError)
    X, y = _data()
    y = y.astype(float) if Estimator is ConvexCNNClassifier else X[:, 0] - X[:, 1]
    y = np.where(np.arange(len(y)) == 3, np.nan, y)
    made = {
        "array": lambda: y,
        "list": lambda: y.tolist(),
        "list with None": lambda: [None if i == 3 else v for i, v in enumerate(y.tolist())],
        "Series": lambda: pd.Series(y),
        "Series, X a DataFrame": lambda: pd.Series(y),
        "Series of objects with NA": lambda: pd.Series(y, dtype=object).where(
            pd.Series(y).notna(), pd.NA
        ),
        "Float64 with NA": lambda: pd.Series(y).astype("Float64"),
        "DataFrame": lambda: pd.DataFrame({"a": y, "b": 2 * y}),
        "Categorical": lambda: pd.Series(pd.Categorical(y)),
    }
    X, y = (pd.DataFrame(X) if "DataFrame" in kind else X), made[kind]()
    if Estimator == "path":
        fit = functools.partial(convex_cnn_path, n_patterns=4, n_betas=2, random_state=0)
    else:
        fit = Estimator(n_patterns=4, random_state=0).fit
    with pytest.raises(ValueError, match=r"^Input y contains NaN at sample 3") as raised:
        fit(X, y)
    code = str(raised.value).split("drop those samples, ")[1].removesuffix(".")
    names = {"np": np, "X": X, "y": y}
    exec(code, names)
    assert len(names["X"]) == len(names["y"]) == 11
    fit(names["X"], names["y"])


@pytest.mark.parametrize("bad, name", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_finite_target(Estimator, bad, name):
    X, y = _data()
    y = y.astype(float)
    y[0] = bad
    with pytest.raises(ValueError, match=f"^Input y contains {name}"):
        Estimator(n_patterns=4).fit(X, y)


@pytest.mark.parametrize(
    "scale, message",
    [
        # a review: X of 1e200 failed in SciPy's NNLS ("array must not contain infs or NaNs")
        # after dozens of overflow warnings
        (1e200, r"^X has entries of magnitude up to [\d.]+e\+200; .* only up to 1e\+75"),
        # another: X (and beta) of 1e-200 gave no neuron, "optimal" to certify()
        (1e-200, r"^X has entries of magnitude at most [\d.]+e-200; .* at least 1e-75 .*Scale X"),
    ],
)
@pytest.mark.parametrize("architecture", ["two_layer", "three_layer"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inputs_beyond_float64s_range_are_refused(Estimator, architecture, scale, message):
    # the previous model must survive the refusal
    X, y = _data()
    est = Estimator(n_patterns=4, architecture=architecture, random_state=0).fit(X, y)
    prediction = est.predict(X)
    with pytest.raises(ValueError, match=message):
        est.fit(X * scale, y)
    np.testing.assert_array_equal(est.predict(X), prediction)
    # (regularized_objective returned inf, with NumPy's overflow warning: a review)
    methods = [est.regularized_objective, *([est.certify] if architecture == "two_layer" else [])]
    for method in methods:
        with pytest.raises(ValueError, match=message):
            method(X * scale, y)


def test_inputs_just_below_the_smallest_scale_are_refused():
    # a mutant that refused X only below 1e-76 survived: 1e-200, far below, was the only
    # scale tested
    X, y = _data()
    X = 5e-76 * X / np.abs(X).max()
    message = r"^X has entries of magnitude at most 5e-76; .* at least 1e-75 "
    with pytest.raises(ValueError, match=message):
        ConvexCNNRegressor(n_patterns=4).fit(X, y)


def test_all_zero_inputs_are_not_too_small():
    # (zero is no scale: the constant model, as for any X the filters cannot use)
    X, y = _data()
    reg = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(np.zeros_like(X), y)
    assert reg.filters_.shape[0] == 0
    np.testing.assert_allclose(reg.predict(X), y.mean())


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_missing_y_is_named(Estimator):
    # the regressor's conversion of object targets took None for a NaN target: "Input y
    # contains NaN" (a fuzz of the API)
    X, y = _data()
    message = rf"^This {Estimator.__name__} estimator requires y to be passed"
    with pytest.raises(ValueError, match=message):
        Estimator(n_patterns=4).fit(X, None)
    est = Estimator(n_patterns=4, random_state=0).fit(X, y)
    for method in (est.regularized_objective, est.certify):
        with pytest.raises(ValueError, match=message):
            method(X, None)


def test_evaluation_refuses_large_features_that_no_patch_sees_as_fit_does():
    # kernel 2, stride 3: feature 2 is in no patch; fit refused it at 1e200, and
    # regularized_objective, which checked the patches only, took it (a review)
    X, y = _data()
    with pytest.warns(UserWarning, match="larger than kernel_size"):
        reg = ConvexCNNRegressor(kernel_size=2, stride=3, n_patterns=4, random_state=0)
        reg.fit(X, y)
    X[:, 2] = 1e200
    for method in (reg.fit, reg.regularized_objective):
        with pytest.raises(ValueError, match=r"^X has entries of magnitude up to 1e\+200"):
            method(X, y)


@pytest.mark.parametrize("architecture", ["two_layer", "three_layer"])
@pytest.mark.parametrize(
    "scale, message",
    [
        # three layers: y of 1e160 raised OverflowError (34, 'Numerical result out of range')
        (1e160, r"^y has entries of magnitude up to 1e\+160; .*Scale y"),
        (1e-160, r"^y has entries of magnitude at most 1e-160; .*Scale y"),
    ],
)
def test_regression_targets_beyond_float64s_range_are_refused(architecture, scale, message):
    X, y = _data()
    reg = ConvexCNNRegressor(n_patterns=4, architecture=architecture, random_state=0)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y * scale)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y).regularized_objective(X, y * scale)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_input_shape(Estimator):
    X, y = _data(n_features=10)
    with pytest.raises(ValueError, match=r"input_shape=\(3, 3\) describes 9 features .* X has 10"):
        Estimator(input_shape=(3, 3)).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "X, message",
    [
        (
            None,
            r"X must be an array of shape \(n_samples, n_features\), one row per sample; got "
            r"NoneType None\. Pass the samples as a 2-D array",
        ),
        ("signals.csv", r"X must be an array .*; got str 'signals.csv'\. Pass the samples"),
        (3.0, r"X must be an array .*; got float 3.0\."),
        (np.array(3.0), r"X must be an array .*; got ndarray array\(3\.\)\."),
        (
            [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0]],
            r"X has rows of different lengths \(3 entries at sample 0, 2 at sample 2\): every "
            r"sample must be one row of the same number of features\. Pad, crop or resample the "
            r"signals to one length\.",
        ),
        (
            [[1.0, 2.0, 3.0], np.array(3.0), [1.0, 2.0, 3.0]],
            r"\(3 entries at sample 0, 1 at sample 1\)",
        ),
        (
            [[[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]],
            r"X is ragged: its rows hold sequences of different lengths, where every sample "
            r"must be one row of numbers",
        ),
        (
            {"a": [1.0, 2.0, 3.0]},
            r"X must be an array .*; got dict \{'a': .*\(a 1-D signal or a flattened image "
            r"per row\): pandas\.DataFrame\(X\) for columns by name\.",
        ),
        ({1.0, 2.0, 3.0}, r"X must be an array .*; got set \{1\.0, 2\.0, 3\.0\}\. Pass the"),
        ((row for row in [[1.0]]), r"X must be an array .*; got generator <generator object"),
        (
            [{"a": 1.0}, {"a": 2.0}, {"a": 3.0}],
            r"X holds dicts \(records\), where every sample must be one row of numbers\. Pass "
            r"pandas\.DataFrame\(X\), one column per key, or the rows as a 2-D array\.",
        ),
    ],
    ids="None str float 0-d-array ragged 0-d-row ragged-entries dict set generator records".split(),
)
def test_what_is_no_array_of_rows_is_named(Estimator, X, message):
    # an API audit: scikit-learn read None as "scalar array instead: array=nan", a string
    # failed on float(), and ragged rows on NumPy's "inhomogeneous shape", naming neither X
    # nor the rows
    y = [0, 1, 0]
    with pytest.raises(ValueError, match=message):
        Estimator(n_patterns=4).fit(X, y)
    fitted = Estimator(n_patterns=4).fit(*_data())
    with pytest.raises(ValueError, match=message):
        fitted.predict(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_inputs_and_targets_are_named(Estimator, dtype):
    # an API audit: scikit-learn's "Complex data not supported" printed the whole array
    X, y = _data()
    inputs = (
        r"^Complex data not supported: X holds complex numbers, where the estimators take "
        r"real ones\. Pass their real and imaginary parts as channels: np\.stack\(\[X\.real, "
        r"X\.imag\], axis=-1\)\.reshape\(len\(X\), -1\), with input_shape=\(L, 1, 2\) for "
        r"signals of length L, \(H, W, 2\) for images, \(H, W, 2 \* C\) for images of C "
        r"channels\.$"
    )
    with pytest.raises(ValueError, match=inputs):
        Estimator(n_patterns=4).fit(X.astype(dtype), y)
    fitted = Estimator(n_patterns=4).fit(X, y)
    with pytest.raises(ValueError, match=inputs):
        fitted.predict(X.astype(dtype))
    targets = (
        r"^Complex data not supported: y holds complex numbers, where the estimators take "
        r"real targets\. Fit their real and "
        r"imaginary parts as two outputs of ConvexCNNRegressor: "
        r"np\.column_stack\(\[y\.real, y\.imag\]\)\."
    )
    # (a review: a DataFrame, which has no dtype, still printed every target)
    values = np.asarray(y, dtype=dtype)
    for complex_y in (values, list(values), pd.DataFrame(values)):
        with pytest.raises(ValueError, match=targets):
            Estimator(n_patterns=4).fit(X, complex_y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_targets_of_no_column_are_named(Estimator):
    # scikit-learn's error on y of shape (n, 0) speaks of "0 feature(s)"
    X, _ = _data()
    message = r"y has shape \(12, 0\): no target column\. Pass y of shape \(n_samples,\)"
    if Estimator is ConvexCNNRegressor:  # (a classifier takes one label per sample)
        message += r", or \(n_samples, n_outputs\) with at least one column"
    message += r"\.$"
    with pytest.raises(ValueError, match=message):
        Estimator(n_patterns=4).fit(X, np.ones((12, 0)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_kernel_larger_than_input(Estimator):
    X, y = _data(n_features=16)
    with pytest.raises(ValueError, match=r"kernel_size=5 does not fit .* \(4, 4\)"):
        Estimator(input_shape=(4, 4), kernel_size=5).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_images_not_flattened_name_the_reshape(Estimator):
    # students pass (n, 8, 8) arrays; scikit-learn's own error says only "dim 3"
    X, y = _data(n_features=16)
    images = X.reshape(-1, 4, 4)
    message = r"X has shape \(12, 4, 4\), .* X.reshape\(len\(X\), -1\) with input_shape=\(4, 4\)"
    with pytest.raises(ValueError, match=message):
        Estimator(input_shape=(4, 4), n_patterns=4).fit(images, y)
    with pytest.raises(ValueError, match=message):  # nested lists too (a review)
        Estimator(input_shape=(4, 4), n_patterns=4).fit(images.tolist(), y)
    est = Estimator(input_shape=(4, 4), n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=message):
        est.predict(images)
    with pytest.raises(ValueError, match=message):
        est.regularized_objective(images, y)


def test_channels_first_images_name_moveaxis():
    # a PyTorch-style (N, C, H, W) batch: reshaped as the message's first advice, it would be a
    # 3x8 image of 8 channels (a review found the old message led there); its second advice
    # gives the same patches as the channels-last images it describes
    rng = np.random.default_rng(0)
    channels_last = rng.standard_normal((12, 6, 6, 3))
    channels_first = np.moveaxis(channels_last, -1, 1)
    y = np.arange(12) % 2
    message = (
        r"X has shape \(12, 3, 6, 6\), .* channels last.*channels come first \(N, C, H, W.*"
        r"np.moveaxis\(X, 1, -1\).reshape\(len\(X\), -1\) with input_shape=\(6, 6, 3\)"
    )
    with pytest.raises(ValueError, match=message):
        ConvexCNNClassifier().fit(channels_first, y)
    advised = np.moveaxis(channels_first, 1, -1).reshape(len(y), -1)
    np.testing.assert_array_equal(advised, channels_last.reshape(len(y), -1))
    clf = ConvexCNNClassifier(input_shape=(6, 6, 3), n_patterns=4, random_state=0).fit(advised, y)
    assert clf.geometry_.spatial_shape == (6, 6) and clf.geometry_.n_channels == 3
    with pytest.raises(ValueError, match=r"input_shape=\(H, W, C\) at most: two spatial axes"):
        ConvexCNNClassifier().fit(channels_last[..., None], y)  # (a volume: no advice fits)


def test_multichannel_signals_name_their_input_shape():
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((12, 10, 2))  # length 10, 2 channels
    y = rng.standard_normal(12)
    message = r"or with input_shape=\(10, 1, 2\) for signals of length 10 with 2 channels \(filters"
    with pytest.raises(ValueError, match=message):
        ConvexCNNRegressor().fit(signals, y)
    reg = ConvexCNNRegressor(input_shape=(10, 1, 2), kernel_size=(3, 1), n_patterns=4)
    reg.fit(signals.reshape(12, -1), y)
    assert reg.geometry_.spatial_shape == (10, 1) and reg.geometry_.n_channels == 2


def test_several_labels_per_sample_name_the_multioutput_wrapper():
    # scikit-learn's "y should be a 1d array" names no way to fit such targets
    X, y = _data()
    Y = np.column_stack([y > 0, y < 0.5]).astype(int)
    message = (
        r"ConvexCNNClassifier takes one class label per sample, y of shape \(n_samples,\), but "
        r"y has shape \(12, 2\)\. For several labels per sample \(multilabel or multioutput "
        r"targets\), fit one classifier per column: "
        r"sklearn\.multioutput\.MultiOutputClassifier\(ConvexCNNClassifier\(\.\.\.\)\)\."
    )
    # (a tuple of rows too: its shape is read as a list's)
    for targets in (Y, Y.tolist(), tuple(map(tuple, Y)), pd.DataFrame(Y)):
        with pytest.raises(ValueError, match=message):
            ConvexCNNClassifier(n_patterns=4).fit(X, targets)
    # a column vector is one label per sample: scikit-learn's warning, then the fit
    with pytest.warns(DataConversionWarning):
        ConvexCNNClassifier(n_patterns=4, random_state=0).fit(X, Y[:, :1])


def test_sparse_or_row_vector_labels_get_a_remedy_that_works():
    # MultiOutputClassifier passes a sparse y's columns on sparse, which fit refuses: the
    # remedy names y.toarray(); a row vector is no multilabel target
    from sklearn.multioutput import MultiOutputClassifier

    X, y = _data()
    Y = np.column_stack([y > 0, y < 0.5]).astype(int)
    with pytest.raises(
        ValueError,
        match=r"MultiOutputClassifier\(ConvexCNNClassifier\(\.\.\.\)\) on y\.toarray\(\)\.$",
    ):
        ConvexCNNClassifier(n_patterns=4).fit(X, sparse.csr_matrix(Y))
    wrapped = MultiOutputClassifier(ConvexCNNClassifier(n_patterns=4, random_state=0))
    assert wrapped.fit(X, sparse.csr_matrix(Y).toarray()).predict(X).shape == Y.shape
    with pytest.raises(
        ValueError, match=r"y should be a 1d array, got an array of shape \(1, 12\)"
    ):
        ConvexCNNClassifier(n_patterns=4).fit(X, Y[:, 0][None, :])


def test_one_class():
    X, _ = _data()
    with pytest.raises(ValueError, match="at least 2 classes in y.*only one class: 1"):
        ConvexCNNClassifier().fit(X, np.ones(len(X), dtype=int))


def test_continuous_target_for_classifier():
    X, _ = _data()
    with pytest.raises(ValueError, match="Unknown label type"):
        ConvexCNNClassifier().fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"beta": 0.0}, r"The 'beta' parameter .* must be a float in the range \(0.0, inf\)"),
        ({"beta": -1.0}, r"The 'beta' parameter .* Got -1.0 instead"),
        ({"kernel_size": 0}, r"The 'kernel_size' parameter .* Got 0 instead"),
        ({"stride": "two"}, r"The 'stride' parameter .* Got 'two' instead"),
        ({"stride": 0}, r"The 'stride' parameter .* an int in the range \[1, inf\)"),
        ({"pool_size": 0}, r"The 'pool_size' parameter .* an int in the range \[1, inf\)"),
        ({"pooling": "median"}, "The 'pooling' parameter .* Got 'median' instead"),
        ({"n_patterns": 0}, r"The 'n_patterns' parameter .* or a str among \{'exact'\}. Got 0"),
        ({"solver": "mosek"}, "The 'solver' parameter .* Got 'mosek' instead"),
        ({"loss": "hinge"}, r"The 'loss' parameter .* Got 'hinge' instead"),
        ({"max_iter": 0}, r"The 'max_iter' parameter .* Got 0 instead"),
        ({"n_jobs": 0}, r"The 'n_jobs' parameter .* Got 0 instead"),
        ({"tol": 0.0}, r"The 'tol' parameter .* Got 0.0 instead"),
        # a relative gap of 100 % certifies nothing: every fit would be the constant model
        ({"tol": 1.0}, r"The 'tol' parameter .* in the range \(0.0, 1.0\). Got 1.0 instead"),
        ({"input_shape": 9}, r"The 'input_shape' parameter .* Got 9 instead"),
        # (the deepest that any row allows: 2**70 layers on rows of one feature overflowed
        # NumPy, 10**400 overflowed a float)
        ({"n_layers": 500}, r"The 'n_layers' parameter .* in the range \[3, 499\]. Got 500"),
    ],
)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_invalid_parameters(Estimator, params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        Estimator(**params).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"pooling": "max"},
        {"pooling": "average", "pool_size": 2},
        {"pooling": "none"},
        {"architecture": "three_layer"},
        {"architecture": "circular"},
    ],
    ids=["global", "max", "local", "none", "three_layer", "circular"],
)
def test_integer_parameters_take_any_integer(params):
    # as in scikit-learn, the constraints admit NumPy integers and bools; n_patterns=True once
    # reached NumPy's sampler and raised "TypeError: an integer is required", in every
    # formulation that drew its filters itself (a review found max and regional pooling)
    X, y = _data()
    one = ConvexCNNRegressor(n_patterns=1, random_state=0, **params).fit(X, y)
    for n_patterns in [True, np.int64(1)]:
        est = ConvexCNNRegressor(n_patterns=n_patterns, random_state=0, **params).fit(X, y)
        assert est.n_patterns_ == one.n_patterns_ == 1
        assert est.objective_ == one.objective_


@pytest.mark.parametrize(
    "params, same_as",
    [
        # (a review: n_layers=np.uint8(4) wrapped around in the norm's exponent, a fit of no
        # neuron; a NumPy unsigned pool_size did not index, and 2**70 overflowed in NumPy)
        ({"architecture": "circular", "n_layers": np.uint8(4)}, {"n_layers": 4}),
        ({"pool_size": np.uint64(2)}, {"pool_size": 2}),
        ({"pool_size": 2**70}, {"pool_size": 7}),  # the whole grid of 7 patches
        ({"stride": np.uint64(2)}, {"stride": 2}),
        ({"stride": 2**70}, {"stride": 9}),  # one patch per row
    ],
)
def test_integer_parameters_of_any_type_and_size_mean_their_value(params, same_as):
    X, y = _data()
    fits = []
    for p in [params, {**params, **same_as}]:
        with warnings.catch_warnings():  # (a stride past the kernel's size, and says so)
            warnings.filterwarnings("ignore", "stride=", UserWarning)
            fits.append(ConvexCNNRegressor(beta=0.1, random_state=0, **p).fit(X, y))
    assert fits[0].objective_ == fits[1].objective_
    assert np.array_equal(fits[0].predict(X), fits[1].predict(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tol": -1}, r"The 'tol' parameter of ConvexCNNRegressor.certify .* Got -1 instead"),
        ({"tol": None}, r"The 'tol' parameter .* Got None instead"),
        ({"tol": 1.0}, r"The 'tol' parameter .* in the range \(0.0, 1.0\)\. Got 1.0 instead"),
        ({"max_patterns": 0}, r"The 'max_patterns' parameter .* Got 0 instead"),
        ({"max_patterns": 1.5}, r"The 'max_patterns' parameter .* Got 1.5 instead"),
    ],
)
def test_certify_checks_its_parameters_first(params, match):
    # tol=-1 once called an exact optimum not optimal; tol=None failed after the enumeration
    X, y = _data()
    reg = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=match):
        reg.certify(X, y, **params)


@pytest.mark.parametrize(
    "entry, error, match",
    [
        # a review: pandas' NA in an X of objects raised float()'s TypeError, naming neither
        # X nor where; a string, NumPy's "could not convert string to float". (None converts
        # to a NaN, which scikit-learn names: "Input X contains NaN".)
        (pd.NA, ValueError, r"^Input X contains NaN: a missing value \(<NA>\) at sample 3, "
         r"feature 2\. Impute the missing values"),
        ("abc", ValueError, r"^X holds values that are not numbers \(dtype object\), such as "
         r"'abc' at sample 3, feature 2 \(could not convert string to float: 'abc'\); encode "
         r"such values as numbers"),
        ({"a": 1}, TypeError, r"^X holds values that are not numbers .* such as \{'a': 1\} at "
         r"sample 3, feature 2 \(float\(\) argument must be a string or a real number"),
    ],
)  # fmt: skip
def test_an_x_of_objects_names_the_entry_that_is_no_number(entry, error, match):
    X, y = _data()
    objects = X.astype(object)
    objects[3, 2] = entry
    reg = ConvexCNNRegressor(n_patterns=4, random_state=0)
    with pytest.raises(error, match=match):
        reg.fit(objects, y)
    reg.fit(X, y)
    frame = pd.DataFrame(objects, columns=[f"x{j}" for j in range(X.shape[1])])
    for method in (reg.fit, reg.regularized_objective):
        with pytest.raises(error, match=match):
            method(frame, y)
    with pytest.raises(error, match=match):
        reg.predict(objects)
    with pytest.raises(error, match=match):
        convex_cnn_path(objects, y, n_betas=2)
    # numbers held as objects are numbers
    np.testing.assert_array_equal(reg.predict(X.astype(object)), reg.predict(X))


def test_a_value_that_is_no_number_is_named_before_a_missing_one():
    # a review: a missing value was named first, and imputing it led to a second error for
    # the string; pandas' NaT was told to be encoded, not imputed
    X, y = _data()
    objects = X.astype(object)
    objects[0, 0], objects[3, 2] = None, "abc"
    with pytest.raises(ValueError, match=r"^X holds .* such as 'abc' at sample 3, feature 2 "):
        ConvexCNNRegressor(n_patterns=4).fit(objects, y)
    objects[0, 0], objects[3, 2] = 0.5, pd.NaT
    with pytest.raises(ValueError, match=r"^Input X contains NaN: a missing value \(NaT\) at "):
        ConvexCNNRegressor(n_patterns=4).fit(objects, y)
    objects[0, 0] = pd.NaT  # (a missing value first: the error is the string's own)
    objects[3, 2] = "abc"
    with pytest.raises(ValueError, match=r"such as 'abc' .* \(could not convert string to float"):
        ConvexCNNRegressor(n_patterns=4).fit(objects, y)
    strings = X.astype(str)  # (and an array of strings: no missing value, one that is no number)
    strings[3, 2] = "abc"
    with pytest.raises(ValueError, match=r"^X holds .* \(dtype <U\d+\), such as 'abc' at sample 3"):
        ConvexCNNRegressor(n_patterns=4).fit(strings, y)


def test_nullable_and_sparse_x_keep_scikit_learns_errors():
    # a review of the check above: pandas' nullable columns (Float64) became an array of
    # objects holding NA, refused with a TypeError where scikit-learn says "Input X contains
    # NaN" (a ValueError); a sparse X was told to encode its values, not to call toarray()
    X, y = _data()
    frame = pd.DataFrame(X).astype("Float64")
    frame.iloc[3, 2] = pd.NA
    with pytest.raises(ValueError, match=r"^Input X contains NaN"):
        ConvexCNNRegressor(n_patterns=4).fit(frame, y)
    with pytest.raises(TypeError, match=r"^Sparse data was passed .* Use '\.toarray\(\)'"):
        ConvexCNNRegressor(n_patterns=4).fit(sparse.csr_matrix(X), y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_outputs_that_overflow_are_refused_not_returned(Estimator):
    # finite entries of 1e308 gave NaN predictions, a classifier's first class and a score of
    # -inf, with NumPy's overflow warnings alone (a review)
    X, y = _data()
    fitted = Estimator(beta=0.01, n_patterns=4, random_state=0).fit(X, y)
    assert len(fitted.filters_)  # (without neurons, the intercept alone is predicted)
    huge = np.full((2, X.shape[1]), 1.7e308)
    refused = r"^The network's output on sample 0 of X overflows float64 \(its entries reach "
    refused += r"1\.7e\+308 in magnitude\)\. Scale X as the training data were scaled\.$"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (not NumPy's overflow warnings)
        for method in (fitted.predict, lambda X: fitted.score(X, y[:2])):
            with pytest.raises(ValueError, match=refused):
                method(huge)
    assert np.isfinite(fitted.predict(1e10 * X)).all()  # (large but finite outputs stand)


@pytest.mark.parametrize(
    "huge, digits, missing",
    [(10**400, 401, None), (10**400 - 1, 400, None), (-(10**309), 310, pd.NA)],
)
def test_ints_beyond_float64_are_named_with_their_entry_and_the_fix(huge, digits, missing):
    # float()'s OverflowError, "int too large to convert to float", named neither the array,
    # the entry nor the fix (a review), in fit, predict and convex_cnn_path alike; a review
    # of the fix: the digits of 10**400 - 1 were counted as 401, and a missing value before
    # the int raised a TypeError (None) or the OverflowError still (pandas' NA)
    from sklearn_convexcnn import convex_cnn_path

    X, y = _data()
    huge_x = X.astype(object)
    huge_x[3, 2] = huge
    huge_y = y.astype(object)
    huge_y[5] = huge
    if missing is not None:
        huge_x[0, 0] = missing
    x_refused = rf"^X holds a value too large for float64, an int of {digits} digits, at sample "
    x_refused += r"3, feature 2\. Scale X to about unit size"
    y_refused = rf"^y holds a value too large for float64, an int of {digits} digits, at sample "
    y_refused += r"5\. "
    fitted = ConvexCNNRegressor(n_patterns=4).fit(X, y)
    with pytest.raises(ValueError, match=x_refused):
        ConvexCNNRegressor(n_patterns=4).fit(huge_x, y)
    with pytest.raises(ValueError, match=x_refused):
        fitted.predict(huge_x)
    with pytest.raises(ValueError, match=x_refused):
        convex_cnn_path(huge_x, y, n_patterns=4)
    with pytest.raises(ValueError, match=y_refused):
        ConvexCNNRegressor(n_patterns=4).fit(X, huge_y)
    with pytest.raises(ValueError, match=y_refused):
        convex_cnn_path(X, huge_y, n_patterns=4)


def test_a_number_beyond_float64_is_named_in_any_shape():
    # a review: X of other than two axes, and a 0-d y, still raised the raw OverflowError
    from fractions import Fraction

    from sklearn_convexcnn import convex_cnn_path

    X, y = _data()
    too_large = r"holds a value too large for float64, {}, at {}\. Scale"
    with pytest.raises(
        ValueError, match="^X " + too_large.format("an int of 401 digits", "sample 1")
    ):
        ConvexCNNRegressor(n_patterns=4).fit([1.0, 10**400, 2.0], y[:3])
    with pytest.raises(ValueError, match="^y " + too_large.format("a Fraction", "its only entry")):
        convex_cnn_path(X, np.array(Fraction(10**400, 3), dtype=object), n_patterns=4)
    targets = np.c_[y, y].astype(object)
    targets[4, 1] = 10**400
    with pytest.raises(ValueError, match="^y " + too_large.format(".*", "sample 4, output 1")):
        ConvexCNNRegressor(n_patterns=4).fit(X, targets)
    targets = np.zeros((len(y), 1, 2), dtype=object)  # (its third index was dropped)
    targets[5, 0, 1] = 10**400
    with pytest.raises(ValueError, match="^y " + too_large.format(".*", r"index \(5, 0, 1\)")):
        ConvexCNNRegressor(n_patterns=4).fit(X, targets)


def test_a_string_as_y_is_named_as_labels_are():
    # (a 0-d string: the regressor's refusal unpacked its missing sample index, and the path
    # gave float()'s words once 0-d targets were left to the validation: reviews)
    from sklearn_convexcnn import convex_cnn_path

    X, _ = _data()
    with pytest.raises(ValueError, match=r"needs numeric targets, but y holds .* such as 'abc';"):
        ConvexCNNRegressor(n_patterns=4).fit(X, "abc")
    with pytest.raises(ValueError, match=r"needs numeric targets y; got <U3 labels, such as 'abc'"):
        convex_cnn_path(X, np.array("abc"), n_patterns=4)


@pytest.mark.parametrize(
    "as_targets, dtype",
    [
        (np.asarray, "<U4"),
        # (validate_data converts these itself, and raised numpy's message: a review)
        (lambda labels: labels.astype(object), "object"),
        (pd.Series, "object"),
    ],
)
def test_regressor_names_non_numeric_targets_and_the_classifier(as_targets, dtype):
    # a review: numpy's "could not convert string to float" named neither y nor the fix
    X, y = _data()
    labels = as_targets(np.where(y > np.median(y), "high", "low"))
    with pytest.raises(
        ValueError,
        match=r"^ConvexCNNRegressor needs numeric targets, but y holds values that are not "
        rf"numbers \(dtype {dtype}\), such as '(high|low)' at sample 0; for class labels use "
        r"ConvexCNNClassifier\.$",
    ):
        ConvexCNNRegressor(n_patterns=4).fit(X, labels)
    # numbers held as objects are numbers
    as_objects = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(X, y.astype(object))
    as_floats = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(X, y)
    assert np.array_equal(as_objects.predict(X), as_floats.predict(X))


@pytest.mark.parametrize(
    "targets, match",
    [
        # (a None among object targets became a NaN that validate_data's check of object
        # arrays missed: an AxisError in pruning; a review)
        (lambda y: np.array([None, *y[1:]], dtype=object), r"^Input y contains NaN"),
        (lambda y: np.array(["nan", *map(str, y[1:])]), r"^Input y contains NaN"),
        # (pandas' NA was "not numbers ... for class labels use ConvexCNNClassifier")
        (lambda y: pd.Series([pd.NA, *y[1:]], dtype=object), r"^Input y contains NaN"),
    ],
    ids=["None", "nan-string", "pandas-NA"],
)
def test_regressor_targets_that_are_no_array_of_numbers(targets, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        ConvexCNNRegressor(n_patterns=4).fit(X, targets(y))


@pytest.mark.parametrize(
    "Estimator, match",
    [
        (ConvexCNNClassifier, r"^Sparse data was passed for y, .* Use '\.toarray\(\)'"),
        (
            ConvexCNNRegressor,
            r"^ConvexCNNRegressor takes dense targets, but y is a sparse csr_matrix; pass "
            r"y\.toarray\(\)\.$",
        ),
    ],
)
def test_sparse_targets_are_a_type_error_as_in_convex_cnn_path(Estimator, match):
    # (the regressor's was a ValueError, where the classifier and the path raise a TypeError,
    # as for a sparse X: a regressor audit)
    X, y = _data()
    with pytest.raises(TypeError, match=match):
        Estimator(n_patterns=4).fit(X, sparse.csr_matrix(y[:, None]))


def test_classifier_names_labels_of_mixed_types():
    # a fuzz review: numpy's "'<' not supported between instances of 'int' and 'str'"
    X, y = _data()
    labels = np.array(["high" if v else 1 for v in y], dtype=object)
    with pytest.raises(
        ValueError,
        match=r"^ConvexCNNClassifier needs class labels that sort together, but y mixes labels "
        r"of types int, str\. Pass labels of one type \(e\.g\. all strings: "
        r"y\.astype\(str\)\)\.$",
    ):
        ConvexCNNClassifier(n_patterns=4).fit(X, labels)
    clf = ConvexCNNClassifier(n_patterns=4, random_state=0).fit(X, labels.astype(str))
    assert list(clf.classes_) == ["1", "high"]
    # an int first: scikit-learn's type_of_target answered before any sort, "Unknown label
    # type: unknown ... continuous values" (a review)
    with pytest.raises(ValueError, match=r"sort together, but y mixes labels of types int, str\."):
        ConvexCNNClassifier(n_patterns=4).fit(X, labels[::-1])
    # numpy's strings are strings: pandas 3 keeps them in a column of str (a review: they
    # were refused as "types str, str_"), and scikit-learn's classifiers take them
    strings = np.array(["high" if v else "low" for v in y], dtype=object)
    strings[strings == "low"] = np.str_("low")
    fitted = ConvexCNNClassifier(n_patterns=4, random_state=0).fit(X, strings)
    assert fitted.classes_.tolist() == ["high", "low"]
    # scikit-learn's own TypeError on bytes names the fix: not hidden behind "mixes labels"
    # (a FutureWarning of the same words before scikit-learn 1.7, raised here as an error)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        with pytest.raises(
            (TypeError, FutureWarning), match="^Support for labels represented as bytes"
        ):
            ConvexCNNClassifier(n_patterns=4).fit(X, labels.astype(str).astype(bytes))


@pytest.mark.parametrize(
    "labels",
    [
        lambda y: np.array(["high" if v else None for v in y], dtype=object),
        lambda y: np.array([1 if v else None for v in y], dtype=object),
        lambda y: pd.Series(np.where(y == 1, "high", "low")).where(y == 1, None),
        lambda y: pd.Series(np.where(y == 1, "high", "low"), dtype=object).where(y == 1, pd.NA),
        lambda y: np.array(["high" if v else np.nan for v in y], dtype=object),
    ],
    ids=["None-among-str", "None-among-int", "series-None", "pandas-NA", "nan-among-str"],
)
def test_classifier_names_missing_labels(labels):
    # a review: None among strings was "mixes labels of types NoneType, str" and told to
    # y.astype(str), which trains a class "None"; among ints "Unknown label type ...
    # continuous values"; in a pandas Series "Input contains NaN", without naming y
    X, _ = _data()
    y = np.arange(len(X)) % 2  # (the labels of the even samples missing)
    with pytest.raises(
        ValueError,
        match=r"^ConvexCNNClassifier needs a class label for every sample, but y has none "
        r"\(None, NaN, pandas' NA or NaT\) for 6 sample\(s\): 0, 2, 4, 6, 8 and 1 more\. "
        r"Drop those "
        r"samples, or, where a missing label is a class of its own, give it a name \(e\.g\. "
        r"y\.fillna\('missing'\) on a pandas Series\)\.$",
    ):
        ConvexCNNClassifier(n_patterns=4).fit(X, labels(y))


@pytest.mark.parametrize(
    "labels, fix",
    [
        (lambda y: y.astype(object), "int"),  # (a pandas column of dtype object)
        (lambda y: y.astype(float).astype(object), "float"),
        (lambda y: np.array([int(v) if v else 0.0 for v in y], dtype=object), "float"),
        (lambda y: (y == 1).astype(object), "bool"),
    ],
    ids=["int", "float", "int-and-float", "bool"],
)
def test_classifier_names_numbers_held_as_objects_and_their_conversion(labels, fix):
    # scikit-learn's message was "Unknown label type: unknown. Maybe you are trying to fit a
    # classifier ... on a regression target with continuous values"; its metrics refuse such
    # labels too, so a fit on them would fail at its score (check_dtype_object wants the
    # first words)
    X, _ = _data()
    y = np.arange(len(X)) % 3 % 2
    with pytest.raises(
        ValueError,
        match=r"^Unknown label type: unknown\. y holds numbers as Python objects "
        r"\(dtype=object, as in a pandas column of dtype object\), which scikit-learn's "
        rf"classifiers and metrics refuse; pass y\.astype\({fix}\)\.$",
    ):
        ConvexCNNClassifier(n_patterns=4).fit(X, labels(y))
    clf = ConvexCNNClassifier(n_patterns=4, random_state=0).fit(X, labels(y).astype(fix))
    assert clf.score(X, labels(y).astype(fix)) > 0.5


def test_classifier_leaves_labels_that_no_numeric_dtype_holds_to_scikit_learn():
    # integers beyond int64 stay objects, with scikit-learn's message
    X, _ = _data()
    huge = np.array([2**70 if v else 1 for v in np.arange(len(X)) % 2], dtype=object)
    with pytest.raises(ValueError, match=r"^Unknown label type: unknown\. Maybe you are"):
        ConvexCNNClassifier(n_patterns=4).fit(X, huge)
    # and so do numbers that are not whole: continuous targets, whatever their dtype (a
    # review: "pass y.astype(float)" led to "Unknown label type: continuous")
    halves = np.array([1.5 if v else 0 for v in np.arange(len(X)) % 2], dtype=object)
    with pytest.raises(ValueError, match=r"^Unknown label type: unknown\. Maybe you are"):
        ConvexCNNClassifier(n_patterns=4).fit(X, halves)


def test_regressor_rejects_logistic_loss_and_points_to_the_classifier():
    X, y = _data()
    message = r"Got 'logistic' instead: the logistic loss fits class labels, use ConvexCNNClass"
    with pytest.raises(InvalidParameterError, match=r"^The 'loss' parameter of ConvexCNNRegr"):
        ConvexCNNRegressor(loss="logistic").fit(X, y)
    with pytest.raises(ValueError, match=message):
        ConvexCNNRegressor(loss="logistic").fit(X, y)
    with pytest.raises(ValueError, match=r"must be a str among \{'squared'\}. Got 'hinge' inst"):
        ConvexCNNRegressor(loss="hinge").fit(X, y)


@pytest.mark.parametrize(
    "Estimator, loss, fix",
    [
        (ConvexCNNClassifier, "log_loss", r"the logistic loss; pass loss='logistic'\.$"),
        (ConvexCNNClassifier, "log", r"the logistic loss; pass loss='logistic'\.$"),
        (ConvexCNNClassifier, "squared_error", r"the squared loss; pass loss='squared'\.$"),
        (ConvexCNNRegressor, "squared_error", r"the squared loss; pass loss='squared'\.$"),
        (ConvexCNNRegressor, "squared_loss", r"the squared loss; pass loss='squared'\.$"),
        (
            ConvexCNNRegressor,
            "log_loss",
            r"the logistic loss, which fits class labels, use "
            r"ConvexCNNClassifier\(loss='logistic'\)\.$",
        ),
    ],
)
def test_scikit_learns_names_of_the_losses_are_refused_with_this_packages(Estimator, loss, fix):
    # an audit: SGDClassifier's and the gradient-boosting models' loss="log_loss" and
    # SGDRegressor's "squared_error" got the list of options only, which names neither as such
    X, y = _data()
    options = "'logistic', 'squared'" if Estimator is ConvexCNNClassifier else "'squared'"
    with pytest.raises(
        InvalidParameterError,
        match=rf"^The 'loss' parameter of {Estimator.__name__} must be a str among "
        rf"\{{{options}\}}\. Got '{loss}' instead: scikit-learn's name for {fix}",
    ):
        Estimator(loss=loss, n_patterns=4).fit(X, y)


@pytest.mark.parametrize("loss", [["squared"], {"logistic": 1}])
def test_an_unhashable_loss_gets_scikit_learns_message_not_a_type_error(loss):
    # (a mutation pass: the look-up of scikit-learn's names of the losses, a dict, raised
    # "unhashable type" where the loss is not a str)
    X, y = _data()
    for Estimator in ESTIMATORS:
        with pytest.raises(
            InvalidParameterError,
            match=rf"^The 'loss' parameter of {Estimator.__name__} must be a str among ",
        ):
            Estimator(loss=loss, n_patterns=4).fit(X, y)
    with pytest.raises(
        InvalidParameterError, match=r"^The 'loss' parameter of convex_cnn_path must be a str "
    ):
        convex_cnn_path(X, y, loss=loss, n_betas=2, n_patterns=4)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_weight_is_refused_in_the_estimators_own_name(Estimator):
    # a review: Python's TypeError named _BaseConvexCNN.fit, a private class, and no fix
    X, y = _data()
    est = Estimator(n_patterns=4, random_state=0)
    with pytest.raises(
        TypeError,
        match=rf"^{Estimator.__name__}\.fit\(\) got an unexpected keyword argument "
        r"'sample_weight'\. Sample weights are not supported \(every solver and certificate "
        r"sums unweighted losses\); for integer weights w, repeat the rows: "
        r"fit\(np\.repeat\(X, w, axis=0\), np\.repeat\(y, w, axis=0\)\)$",
    ):
        est.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(
        TypeError,
        match=rf"^{Estimator.__name__}\.fit\(\) too many positional arguments\. Sample weights "
        r"are not supported",
    ):
        est.fit(X, y, np.ones(len(y)))  # (scikit-learn's fit(X, y, sample_weight))
    with pytest.raises(
        TypeError, match=rf"^{Estimator.__name__}\.fit\(\) got an unexpected keyword argument 'w'$"
    ):
        est.fit(X, y, w=1)
    with pytest.raises(TypeError, match=rf"^{Estimator.__name__}\.fit\(\) missing .* 'y'$"):
        est.fit(X)
    assert not hasattr(est, "network_")
    # the signature scikit-learn inspects is fit's own: it runs no sample-weight checks
    assert list(inspect.signature(est.fit).parameters) == ["X", "y"]
    assert not has_fit_parameter(est, "sample_weight")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_wrong_constructor_argument_is_refused_in_the_estimators_own_name(Estimator):
    # Python named _BaseConvexCNN.__init__, a private class (a review), where scikit-learn's
    # estimators name themselves; alpha is scikit-learn's name for the regularization
    name = re.escape(f"{Estimator.__name__}.__init__()")
    with pytest.raises(
        TypeError,
        match=rf"^{name} got an unexpected keyword argument 'alpha' \(alpha=0\.1\)\. The "
        r"regularization strength is beta \(alpha in scikit-learn's models\): pass beta "
        r"instead\.$",
    ):
        Estimator(alpha=0.1)
    with pytest.raises(
        TypeError, match=r"'weight_decay' \(weight_decay=0\.1\)\. The regularization strength is"
    ):
        Estimator(weight_decay=0.1)
    with pytest.raises(TypeError, match=r"'lambda_' \(lambda_=0\.1\)\. The regularization st"):
        Estimator(lambda_=0.1)
    with pytest.raises(ValueError, match=r"'beta_max'.* Got beta_max=2\.0\. beta_max is no par"):
        Estimator().set_params(beta_max=2.0)
    with pytest.raises(TypeError, match=rf"^{name} got an unexpected keyword argument 'w'$"):
        Estimator(w=1)
    with pytest.raises(TypeError, match=rf"^{name} too many positional arguments$"):
        Estimator(0.1)
    # the signature that get_params and clone read is __init__'s own
    assert list(inspect.signature(Estimator.__init__).parameters)[:3] == [
        "self", "beta", "kernel_size"
    ]  # fmt: skip
    assert clone(Estimator(beta=0.3)).beta == 0.3


@pytest.mark.parametrize("method", ["regularized_objective", "certify"])
def test_evaluating_without_targets_names_the_estimator(method):
    X, y = _data()
    est = ConvexCNNRegressor(n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(
        TypeError, match=rf"^ConvexCNNRegressor\.{method}\(\) missing a required argument: 'y'$"
    ):
        getattr(est, method)(X)
    # (the hint for another model's parameter is the constructor's: here alpha is no beta)
    with pytest.raises(
        TypeError,
        match=rf"^ConvexCNNRegressor\.{method}\(\) got an unexpected keyword argument 'alpha'$",
    ):
        getattr(est, method)(X, y, alpha=0.1)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unfitted(Estimator):
    X, y = _data()
    for method in ["predict", "regularized_objective", "certify"]:
        args = (X,) if method == "predict" else (X, y)
        with pytest.raises(NotFittedError, match=f"This {Estimator.__name__} instance is not"):
            getattr(Estimator(), method)(*args)


@pytest.mark.parametrize("method", ["regularized_objective", "certify"])
@pytest.mark.parametrize(
    "Estimator, targets, match",
    [
        (ConvexCNNRegressor, lambda y: y[:5], "inconsistent numbers of samples"),
        (ConvexCNNRegressor, lambda y: np.where(y == 0, np.nan, y), "Input y contains NaN"),
        (ConvexCNNRegressor, lambda y: np.c_[y, y], r"y has 2 target columns, .* fitted to 1"),
        (ConvexCNNClassifier, lambda y: y[:5], "inconsistent numbers of samples"),
        (ConvexCNNClassifier, lambda y: y + 5, r"labels that fit did not see: \[5, 6\]"),
        # (np.setdiff1d raised "'<' not supported"; then "labels that fit did not see:
        # [None]", now a missing label)
        (
            ConvexCNNClassifier,
            lambda y: np.where(y == 0, None, y),
            r"needs a class label for every sample, but y has none .* for 6 sample\(s\)",
        ),
    ],
)
def test_evaluating_the_network_checks_the_targets(method, Estimator, targets, match):
    X, y = _data()
    est = Estimator(n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=match):
        getattr(est, method)(X, targets(y))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_number_of_features_at_predict(Estimator):
    X, y = _data()
    est = Estimator(n_patterns=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 10 features, but .* is expecting 9 features"):
        est.predict(np.zeros((2, 10)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_refit_keeps_previous_model(Estimator):
    X, y = _data()
    est = Estimator(n_patterns=4, random_state=0).fit(X, y)
    before = pickle.dumps(est.network_)
    prediction = est.predict(X)
    est.set_params(input_shape=(2, 2))
    with pytest.raises(ValueError, match=r"input_shape=\(2, 2\) describes 4 features per sample"):
        est.fit(X, y)
    assert pickle.dumps(est.network_) == before
    np.testing.assert_array_equal(est.set_params(input_shape=None).predict(X), prediction)
    # (a mutant that dropped the feature count instead of restoring it survived: predict then
    # took any number of features)
    assert est.n_features_in_ == 9
    with pytest.raises(ValueError, match="X has 10 features, but .* is expecting 9 features"):
        est.predict(np.zeros((2, 10)))


@pytest.mark.parametrize("solver", ["clarabel", "ecos", "scs"])
def test_convergence_warning_when_max_iter_is_too_small(solver):
    X, y = _data()
    if solver == "ecos" and Version(cvxpy.__version__) < Version("1.7.2"):
        # CVXPY before 1.7.2 maps ECOS's iteration limit to a solver error, not to USER_LIMIT
        # with its point (cvxpy/cvxpy#2906): no point to warn about, the fit names the remedy
        est = ConvexCNNRegressor(solver=solver, beta=0.01, max_iter=2, n_patterns=4)
        with pytest.raises(RuntimeError, match=r"a larger max_iter \(it was 2\)"):
            est.fit(X, y.astype(float))
        return
    # the warning gives the gap certified for CVXPY's point (it is certified where it was solved).
    # beta=0.01: an optimum with neurons, 1.087 against the empty network's 1.5, which SCS's
    # point after 2 iterations (empty, 'optimal_inaccurate') is. At the default beta the
    # empty network is the optimum, and SCS's point, certified optimal, rightly did not warn
    with pytest.warns(
        ConvergenceWarning,
        match=rf"{solver.upper()} stopped with status .* "
        r"after 2 iterations \(max_iter=2, tol=1.0e-07; Duality gap: -?\d\.\d{3}e[+-]\d\d, "
        r"tolerance: \d\.\d{3}e-\d\d\)",
    ):
        est = ConvexCNNRegressor(solver=solver, beta=0.01, max_iter=2, n_patterns=4, random_state=0)
        est.fit(X, y.astype(float))
    assert np.all(np.isfinite(est.predict(X)))


def test_warnings_name_the_class_of_each_output():
    # one-vs-rest outputs are numbered; with string labels a number alone sent users to classes_
    X, _ = _data(n_samples=30)
    y = np.array(["cat", "dog", "fish"])[np.arange(30) % 3]
    clf = ConvexCNNClassifier(beta=0.01, n_patterns=8, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        clf.fit(X, y)
    (message,) = [str(w.message) for w in record]  # (one for the three outputs)
    named = re.findall(r"[oO]utput (\d \(.*?\)): Duality gap", message)
    assert named == ["0 (class cat)", "1 (class dog)", "2 (class fish)"]
    with pytest.warns(ConvergenceWarning, match=r"output 0 \(class dog against cat\) did not"):
        clf.fit(X, np.where(y == "fish", "cat", y))


def test_warnings_number_a_regressors_outputs_from_zero():
    # as the columns of y and of output_weights_ are numbered
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 9))
    Y = np.column_stack([X[:, 0] * X[:, 1], np.abs(X[:, 2])])
    reg = ConvexCNNRegressor(beta=0.01, n_patterns=8, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        reg.fit(X, Y)
    (message,) = [str(w.message) for w in record]
    assert re.findall(r"[oO]utput (\S+): Duality gap", message) == ["0", "1"]


def test_verbose_prints_progress(capsys):
    X, y = _data()
    clf = ConvexCNNClassifier(n_patterns=4, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    # a last line sums the fit up (a review: none said what the fit ended at)
    last = out.splitlines()[-1]
    found = re.fullmatch(
        r"\[ConvexCNNClassifier\] fit: (\d+) neurons?, objective (\S+), certified duality gap "
        r"(\S+) \(relative \S+\), \S+ s",
        last,
    )
    assert found, last
    assert int(found[1]) == len(clf.filters_)
    assert float(found[2]) == pytest.approx(clf.objective_, rel=1e-5)
    assert float(found[3]) == pytest.approx(clf.duality_gap_, rel=0.1, abs=1e-300)
    # (the kernel as kernel_size=None resolved it)
    assert "[ConvexCNNClassifier] 12 samples, 7 patches of size 3 (kernel 3), " in out
    assert "\n[ConvexCNNClassifier] objective " in out  # (one output: no "[output 0]")
    # the gap in the objective's units, and relative as tol is (a review: only the former)
    gap = r"gap (\S+) \(relative (\S+), target 1\.0e-07\)"
    first = re.search(r"\[native\] iteration 0: objective (\S+), " + gap, out)
    objective, absolute, relative = map(float, first.groups())
    assert relative == pytest.approx(absolute / objective, rel=0.1)
    ConvexCNNClassifier(n_patterns=4, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "gap, said",
    [
        (3e-9, "certified duality gap 3.0e-09 (relative 4.3e-10)"),
        # at the optimum the lower bound can pass the objective by rounding: 10 of 80 random
        # programs' verbose fits printed a gap of -4e-19 to -1.5e-12 and left it unexplained
        (-1.8e-15, "certified duality gap -1.8e-15 (relative -2.6e-16: zero to the solver's "),
        # (far below zero, a point outside its program: never called zero, a later review)
        (-1.6e-3, "certified duality gap -1.6e-03 (relative -2.3e-04: below zero, the point is "),
    ],
)
def test_the_fits_last_verbose_line_says_what_a_gap_below_zero_is(gap, said):
    from types import SimpleNamespace

    from sklearn_convexcnn._base import _summary

    attributes = dict(
        objective_=7.0,
        duality_gap_=gap,
        lower_bound_=7.0 - gap,
        network_=SimpleNamespace(n_neurons=2),
        is_exact_=True,
    )
    assert _summary(attributes, 0.01).startswith(f"fit: 2 neurons, objective 7, {said}")


def test_a_relaxations_verbose_gap_is_relative_to_its_programs_value():
    # a circular audit: n_layers=200 printed "relative 8.4e-24", its gap over objective_ (the
    # realized network's), for a gap as large as the relaxed program's value
    from types import SimpleNamespace

    from sklearn_convexcnn._base import _summary

    attributes = dict(
        objective_=3.25637,
        duality_gap_=2.7e-23,
        lower_bound_=3e-30,
        network_=SimpleNamespace(n_neurons=6),
        is_exact_=False,
    )
    assert _summary(attributes, 0.01).startswith(
        "fit: 6 neurons, objective 3.25637, certified duality gap 2.7e-23 (relative 1.0e+00), "
        "objective_ - lower_bound_ 3.3e+00"
    )


def test_verbose_counts_a_warm_starts_patterns_without_calling_them_distinct(capsys):
    # a warm start keeps the previous fit's gates, distinct on its data: on other data 16
    # gates had 12 patterns, and the line said "16 distinct patterns" (a fuzz)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 10)), rng.standard_normal(30)
    reg = ConvexCNNRegressor(beta=0.5, n_patterns=16, random_state=2, warm_start=True)
    reg.set_params(verbose=1).fit(X, y)
    assert f"(kernel 3), {reg.n_patterns_} distinct patterns" in capsys.readouterr().out
    reg.fit(np.abs(rng.standard_normal((30, 10))), y)
    out = capsys.readouterr().out
    assert f"patches of size 3 (kernel 3), {reg.n_patterns_} patterns\n" in out
    assert "warm start from the previous fit's" in out


def test_a_beta_too_large_for_any_neuron_is_said_in_verbose(capsys):
    # a lab trap: beta=10 on digits fitted no neuron and predicted one class, silently (no
    # warning, as scikit-learn's Lasso gives none above its largest useful alpha)
    X, y = _data()
    clf = ConvexCNNClassifier(beta=1e3, n_patterns=4, random_state=0, verbose=1).fit(X, y)
    assert clf.filters_.shape[0] == 0 and len(set(clf.predict(X))) == 1
    out = capsys.readouterr().out
    assert "no neurons: beta=1000 is at least the largest useful value" in out
    # (the last line counts them in the plural: a mutant printed "fit: 0 neuron")
    assert "\n[ConvexCNNClassifier] fit: 0 neurons, objective " in out
    ConvexCNNClassifier(beta=1e-3, n_patterns=4, random_state=0, verbose=1).fit(X, y)
    assert "no neurons" not in capsys.readouterr().out


@pytest.mark.parametrize("pooling", ["average", "none"])
def test_no_neurons_without_a_gap_is_not_called_optimal(pooling, capsys, monkeypatch):
    # linear CNNs without pooling (nuclear-norm programs) computed no duality gap: an unknown
    # gap was taken for zero, and verbose said beta was past its largest useful value, with
    # no certificate behind it. (They compute one now: the test takes it away.)
    from sklearn_convexcnn import _outputs

    X = np.random.default_rng(0).standard_normal((20, 6))
    params = dict(activation="linear", beta=1e3, kernel_size=2, random_state=0, verbose=1)
    # the empty network is checked optimal before the conic solve (the group lasso's prices,
    # the nuclear norm's dual): then there is a certificate, and verbose says so
    reg = ConvexCNNRegressor(pooling=pooling, **params).fit(X, X[:, 0])
    assert reg.filters_.shape[0] == 0 and np.all(reg.duality_gap_ < 1e-12)
    assert "beta=1000 is at least the largest useful value" in capsys.readouterr().out
    if pooling == "none":  # (the conic solver's empty point: no gap, nor that claim)
        monkeypatch.setattr(_outputs, "_empty_if_optimal", lambda *args: None)
        monkeypatch.setattr(_outputs, "solution_with_gap", lambda *args, **kwargs: args[4])
        reg = ConvexCNNRegressor(pooling=pooling, **params).fit(X, X[:, 0])
        assert reg.filters_.shape[0] == 0 and np.isnan(reg.duality_gap_).all()
        out = capsys.readouterr().out
        assert "no neurons: the model predicts a constant (no duality gap certifies it" in out
        assert "largest useful value" not in out


def test_a_constant_model_that_tol_accepted_is_not_blamed_on_beta(capsys):
    # tol=0.99 stopped at the empty network, whose gap (96 % of its objective) it allows,
    # and verbose said that beta=0.1 was past its largest useful value
    X, y = _data()
    clf = ConvexCNNClassifier(beta=0.1, n_patterns=4, random_state=0, tol=0.99, verbose=1)
    assert clf.fit(X, y).filters_.shape[0] == 0
    out = capsys.readouterr().out
    assert re.search(
        r"no neurons: tol=0.99 accepted the constant model \(objective [\d.]+, "
        r"certified gap \d\.\d\de\+\d\d\); a smaller tol",
        out,
    )
    assert "largest useful value" not in out


def test_a_constant_model_that_tol_accepted_sums_its_outputs(capsys):
    # one-vs-rest: the objective and the gap said are those of the fit, summed over outputs
    X, _ = _data()
    clf = ConvexCNNClassifier(beta=0.1, n_patterns=4, random_state=0, tol=0.99, verbose=1)
    assert clf.fit(X, np.arange(12) % 3).filters_.shape[0] == 0
    found = re.search(
        r"objective (\S+), certified gap (\S+)\); a smaller tol", capsys.readouterr().out
    )
    assert float(found[1]) == pytest.approx(clf.objective_, rel=1e-5)
    assert float(found[2]) == pytest.approx(clf.duality_gap_, rel=1e-2)


def test_a_constant_model_of_a_solve_that_stopped_short_says_so(capsys):
    # Clarabel stopped by max_iter=1 leaves no neuron; verbose blamed tol=1e-07
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    y = X[:, 0] + 0.1 * rng.standard_normal(30)
    reg = ConvexCNNRegressor(
        beta=0.5, n_patterns=8, random_state=0, solver="clarabel", max_iter=1, verbose=1
    )
    with pytest.warns(ConvergenceWarning, match=r"did not converge: CLARABEL .* \(max_iter=1,"):
        reg.fit(X, y)
    assert reg.filters_.shape[0] == 0
    out = capsys.readouterr().out
    assert "no neurons: a solve stopped short of the optimum" in out
    assert "tol=" not in out and "largest useful value" not in out


@pytest.mark.parametrize("level", [0.1, 1 / 3, 7.77, 1e8 + 0.1])
def test_constant_targets_blame_no_tol(capsys, level):
    # the optimum is the constant model: its gap is rounding (about 1e-32 against an objective
    # of 1e-32), which once read as "tol accepted the constant model"
    X, _ = _data()
    reg = ConvexCNNRegressor(n_patterns=4, random_state=0, verbose=1)
    reg.fit(X, np.full(len(X), level))
    assert reg.filters_.shape[0] == 0
    assert "is at least the largest useful value" in capsys.readouterr().out


@pytest.mark.parametrize("offset, warns", [(0.0, False), (1e3, False), (1e5, True)])
def test_a_common_offset_of_x_is_named_before_the_solves(offset, warns):
    # a fuzz: the digits plus 1e6 stalled in every architecture (34 s against 0.1 s), with
    # warnings that did not name the offset; plus 1e3 they were solved as the digits alone
    X = np.random.default_rng(0).standard_normal((12, 6)) + offset
    y = X[:, 0] - offset
    params = dict(kernel_size=2, n_patterns=4, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvexCNNRegressor(beta=0.1, **params).fit(X, y)
        convex_cnn_path(X, y, n_betas=2, **params)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    expected = (
        r"^The entries of X share an offset of 1e\+05 against a spread \(standard deviation\) "
        r"of 0\.\d+, 1\.\de\+05 times smaller: .* Centre X \(subtract its mean"
    )
    assert len(messages) == (2 if warns else 0), messages
    assert all(re.match(expected, message) for message in messages), messages


@pytest.mark.parametrize(
    "offset, fit_intercept, warns", [(1e3, False, False), (1e5, True, False), (1e5, False, True)]
)
def test_a_target_offset_without_intercept_is_named_before_the_solves(offset, fit_intercept, warns):
    # a regressor audit: targets of 1e6 +- 1.5 without an intercept stalled at 1e-6 of the
    # objective, with advice to standardize an X that was standard already
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 6))
    Y = np.column_stack([X[:, 0], X[:, 1] + offset])
    params = dict(kernel_size=2, n_patterns=4, fit_intercept=fit_intercept, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvexCNNRegressor(beta=0.1, tol=1e-4, **params).fit(X, Y)
        convex_cnn_path(X, Y[:, 1], n_betas=2, tol=1e-4, **params)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    expected = [
        r"^The targets \(column 1 of y\) share an offset of 1e\+05 against a spread \(standard "
        r"deviation\) of 0\.\d+, 1\.\de\+05 times smaller, and fit_intercept=False .* Set "
        r"fit_intercept=True, or subtract the offset from y\.$",
        r"^The targets \(y\) share an offset of 1e\+05 ",
    ]
    if not warns:
        assert messages == []
    else:
        assert len(messages) == 2, messages
        assert all(re.match(e, m) for e, m in zip(expected, messages, strict=True)), messages


def test_constant_targets_are_no_offset_and_a_stall_names_a_larger_beta():
    # (a review: y = 1e6 everywhere stalled at 1.2e-6 with advice to standardize the inputs;
    # its cause is beta=0.1, small against the targets: beta=1e5 solves it to 8e-16)
    X = np.random.default_rng(0).standard_normal((40, 10))
    params = dict(kernel_size=3, n_patterns=16, fit_intercept=False, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvexCNNRegressor(beta=0.1, **params).fit(X, np.full(40, 1e6))
    assert not [w for w in caught if w.category is UserWarning]
    (stall,) = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert "use a larger beta (a beta small against the targets' scale nears" in stall
    # (nor does a constant column hide one with an offset, as a review found it did)
    Y = np.column_stack([X[:, 0] + 1e5, np.full(40, 5.0), X[:, 1] - 1e6])
    with pytest.warns(
        UserWarning, match=r"^The targets \(columns 0, 2 of y; the most, column 2\) share an "
    ):
        ConvexCNNRegressor(beta=1e5, tol=1e-4, **params).fit(X, Y)


@pytest.mark.parametrize("ulps, warns", [(3, False), (9, True), (900, True), (3000, False)])
def test_targets_within_a_thousand_ulps_of_their_offset_warn_with_an_intercept(ulps, warns):
    # an audit: targets 1e12 + 1e-3 x (9 ulps of 1e12) were fitted with gaps of 1.2 % to 91 %
    # of the objective, all rounding that duality_gap_ allows for, without a word; y less its
    # offset is certified to 1.6e-11. A constant's rounded spread (at most 4 ulps) is no offset
    rng = np.random.default_rng(0)
    X, noise = rng.standard_normal((12, 6)), rng.standard_normal(12)
    y = 1e12 + ulps * np.spacing(1e12) * noise / noise.std()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvexCNNRegressor(beta=1e-6, kernel_size=2, n_patterns=4, tol=1e-4).fit(X, y)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    if not warns:
        assert messages == []
        return
    assert len(messages) == 1, messages
    assert re.match(
        r"^The targets \(y\) share an offset of 1e\+12 against a spread \(standard deviation\) "
        rf"of .*: within {ulps} ulps of the offset, where float64 rounds the network's outputs"
        r".* Subtract the offset from y, and add it to the predictions\.$",
        messages[0],
    ), messages[0]


def test_shape_parameters_take_one_dimensional_integer_arrays():
    # an API review: np.array(images.shape[1:]) was refused (InvalidParameterError) where the
    # same list was taken; an array now reads as its entries, and a bad one is named
    X, y = load_digits(n_class=3, return_X_y=True)
    X, y = X[:60] / 16, y[:60]
    shapes = dict(input_shape=(8, 8), kernel_size=(3, 3), stride=(2, 2), pool_size=(2, 2))
    arrays = {name: np.array(value) for name, value in shapes.items()}
    params = dict(beta=0.1, n_patterns=8, random_state=0)
    reference = ConvexCNNClassifier(**params, **shapes).fit(X, y)
    fitted = ConvexCNNClassifier(**params, **arrays).fit(X, y)
    assert fitted.objective_ == reference.objective_
    np.testing.assert_array_equal(clone(fitted).get_params()["input_shape"], [8, 8])
    labels = np.where(y == 1, 1.0, -1.0)
    options = dict(n_betas=2, loss="logistic", n_patterns=8, random_state=0)
    path = convex_cnn_path(X, labels, **options, **arrays)
    np.testing.assert_array_equal(path[0], convex_cnn_path(X, labels, **options, **shapes)[0])
    with pytest.raises(
        ValueError, match=r"^input_shape=array\(\[8\., 8\.\]\) is not a valid shape"
    ):
        ConvexCNNClassifier(input_shape=np.array([8.0, 8.0])).fit(X, y)


def test_another_models_parameter_in_set_params_is_refused_with_the_fix():
    # (a GridSearchCV over C, as for LogisticRegression, reaches set_params, not __init__;
    # scikit-learn's message listed the valid parameters without saying which one is meant)
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), ConvexCNNClassifier()), {"convexcnnclassifier__C": [1]}
    )
    with pytest.raises(
        ValueError,
        match=r"^Invalid parameter 'C' for estimator ConvexCNNClassifier\(\)\. Valid "
        r"parameters are: \[.*'beta'.*\]\. Got C=1\. The regularization strength is beta, "
        r"the inverse of C in scikit-learn's LogisticRegression and SVC .*: pass beta=1/C "
        r"instead\.$",
    ):
        grid.fit(*_data())
    with pytest.raises(ValueError, match=r"\]\. Got alpha=0\.5\. The regularization strength"):
        ConvexCNNRegressor().set_params(beta=2.0, alpha=0.5)
    with pytest.raises(ValueError, match=r"\]\. Got class_weight=None\. Class weights are not"):
        ConvexCNNClassifier().set_params(class_weight=None)
    # (other parameters: scikit-learn's message alone; a regressor has no classes to weigh;
    # the hint is for the parameter named, the first that is not one)
    with pytest.raises(ValueError, match=r"'warm_start'\]\.$"):
        ConvexCNNRegressor().set_params(class_weight=None)
    with pytest.raises(ValueError, match=r"^Invalid parameter 'foo' .*'warm_start'\]\.$"):
        ConvexCNNClassifier().set_params(foo=1, C=2)
    with pytest.raises(TypeError, match=r"argument 'foo'$"):
        ConvexCNNClassifier(foo=1, C=2)
    with pytest.raises(TypeError, match=r"argument 'C' \(C=2\)\. The regularization"):
        ConvexCNNClassifier(C=2, foo=1)
    with pytest.raises(TypeError, match=r"too many positional arguments$"):
        ConvexCNNClassifier(0.5, C=2)
    assert ConvexCNNClassifier().set_params(beta=0.5).beta == 0.5


def test_class_weight_and_C_are_refused_with_the_fix():
    # (an audit: practitioners with imbalanced classes, or coming from LogisticRegression,
    # reach for these first; a bare "unexpected keyword argument" named no fix)
    with pytest.raises(
        TypeError,
        match=r"^ConvexCNNClassifier\.__init__\(\) got an unexpected keyword argument "
        r"'class_weight' \(class_weight='balanced'\)\. Class weights are not supported "
        r".*fit\(np\.repeat\(X, repeats, axis=0\).* for 'balanced' repeat the smaller classes'",
    ):
        ConvexCNNClassifier(class_weight="balanced")
    # (a regressor has no classes to weigh: Python's message alone)
    with pytest.raises(TypeError, match=r"argument 'class_weight'$"):
        ConvexCNNRegressor(class_weight="balanced")
    for Estimator in ESTIMATORS:
        with pytest.raises(
            TypeError, match=r"'C' \(C=1\.0\)\. The regularization strength is beta, the "
        ):
            Estimator(C=1.0)


def test_set_params_hints_at_the_parameter_scikit_learn_names_past_nested_ones():
    # a nested key ("beta__x") passes scikit-learn's check of its first part, and the error
    # is for the next one, C: the hint must follow (names are read before "__")
    with pytest.raises(
        ValueError, match=r"^Invalid parameter 'C' .*\]\. Got C=2\. The regularization strength"
    ):
        ConvexCNNClassifier().set_params(beta__x=1, C=2)


def test_no_neurons_after_any_solve_that_stopped_short_blames_that_solve():
    # one output converged and another stopped short: the verbose line must name the solve,
    # not tol or beta. (Private: a fit that leaves one output unconverged, another converged,
    # and no neuron in either cannot be arranged reliably through the public API.)
    from types import SimpleNamespace

    from sklearn_convexcnn._base import _empty_network_message

    done = SimpleNamespace(converged=True, duality_gap=0.0, objective=1.0)
    short = SimpleNamespace(converged=False, duality_gap=0.5, objective=1.0)
    message = _empty_network_message([done, short], np.ones((4, 2)), 1.0, 1e-7)
    assert message.startswith("no neurons: a solve stopped short of the optimum")
