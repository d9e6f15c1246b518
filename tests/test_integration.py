"""The estimators inside scikit-learn's tooling, on the digits data that ships with it."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import (
    GridSearchCV,
    cross_val_score,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_convexcnn import ConvexCNNClassifier, ConvexCNNRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=3, return_X_y=True)
    return train_test_split(X, y, train_size=150, test_size=150, stratify=y, random_state=0)


def _classifier(**params):
    defaults = dict(input_shape=(8, 8), stride=2, n_patterns=16, beta=0.01, random_state=0)
    return ConvexCNNClassifier(**{**defaults, **params})


def test_pipeline_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), _classifier()).fit(X_train, y_train)
    # measured 0.887 on this split (150 training images, 16 sampled patterns, stride 2)
    assert pipe.score(X_test, y_test) >= 0.85


def test_grid_search_over_beta(digits):
    X_train, X_test, y_train, y_test = digits
    search = GridSearchCV(
        make_pipeline(StandardScaler(), _classifier()),
        {"convexcnnclassifier__beta": [0.01, 1.0, 100.0]},
        cv=2,
    ).fit(X_train, y_train)
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] < max(scores[:2])  # a huge beta zeroes the network
    assert search.best_params_["convexcnnclassifier__beta"] in (0.01, 1.0)
    assert search.score(X_test, y_test) >= 0.85


def test_cross_val_score(digits):
    X_train, _, y_train, _ = digits
    scores = cross_val_score(_classifier(), X_train / 16, y_train, cv=3)
    assert scores.min() >= 0.85


def test_probability_scorers_score_nan_alone_and_raise_among_several_with_the_squared_loss(
    digits,
):
    # the behaviour that the docs of loss and beta describe (an audit: they said only "scores
    # NaN", where cross_validate and a search with several scorers raise instead)
    X_train, _, y_train, _ = digits
    X_train = X_train[:60] / 16
    y_train = y_train[:60]
    squared = _classifier(n_patterns=4)
    with pytest.warns(UserWarning, match="has none of the following attributes: predict_proba"):
        scores = cross_val_score(squared, X_train, y_train, cv=2, scoring="neg_log_loss")
    assert np.isnan(scores).all()
    with pytest.raises(AttributeError, match="has none of the following attributes: predict_p"):
        cross_validate(squared, X_train, y_train, cv=2, scoring=["accuracy", "neg_log_loss"])
    logistic = _classifier(n_patterns=4, loss="logistic")
    results = cross_validate(logistic, X_train, y_train, cv=2, scoring=["accuracy", "neg_log_loss"])
    assert np.isfinite(results["test_neg_log_loss"]).all()


def test_clone_and_pickle_round_trip(digits):
    X_train, X_test, y_train, _ = digits
    clf = _classifier(beta=0.5)
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    clf.fit(X_train / 16, y_train)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.decision_function(X_test / 16), clf.decision_function(X_test / 16)
    )
    assert restored.objective_ == clf.objective_
    assert not hasattr(clone(clf), "network_")


def test_random_state_reproducibility():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 10)), rng.standard_normal(20)
    params = dict(beta=0.1, n_patterns=12)
    first = ConvexCNNRegressor(random_state=3, **params).fit(X, y)
    second = ConvexCNNRegressor(random_state=3, **params).fit(X, y)
    other = ConvexCNNRegressor(random_state=4, **params).fit(X, y)
    np.testing.assert_array_equal(first.gates_, second.gates_)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    assert not np.array_equal(first.gates_, other.gates_)
    # the instance's RandomState is consumed, like everywhere in scikit-learn
    state = np.random.RandomState(7)
    ConvexCNNRegressor(random_state=state, **params).fit(X, y)
    assert state.randint(10**9) != np.random.RandomState(7).randint(10**9)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--n-train", "0", "0 is not a positive int"),
        ("--n-train", "-5", "-5 is not a positive int"),
        ("--n-train", "abc", "abc is not a positive int"),
        # (a review: these three ended in a traceback of the estimator's parameter check)
        ("--n-patterns", "0", "0 is not a positive int"),
        ("--beta", "-1", "-1 is not a positive number"),
        ("--beta", "nan", "nan is not a positive number"),
        ("--n-jobs", "0", r"0 is not a non-zero int (-1: every core)"),
        # (an API audit: these two ended in tracebacks too)
        ("--random-state", "-1", "-1 is not a seed in [0, 2**32 - 1]"),
        ("--n-train", "1", "the first 1 training image(s) show only the digit 7; pass a larger"),
    ],
)
def test_the_demo_refuses_bad_options_by_name(capsys, option, value, message):
    # --n-train -5 trained on all but 5 images, silently; 0 failed deep in scikit-learn (a review)
    from sklearn_convexcnn import demo

    with pytest.raises(SystemExit):
        demo.main([option, value])
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_readme_demo_runs_and_its_network_attains_the_optimum(capsys):
    # the README's main job, on a slice of the data: it must run and print consistent figures
    from sklearn_convexcnn import demo

    demo.main(["--n-train", "120", "--n-patterns", "4", "--n-jobs", "1"])
    out = capsys.readouterr().out
    assert "digits: 120 training and 450 test images" in out
    optimum = float(re.search(r"convex optimum\s+([0-9.]+)", out).group(1))
    recovered = float(re.search(r"recovered network\s+([0-9.]+)", out).group(1))
    assert recovered == pytest.approx(optimum, rel=1e-6)
    assert "2x2 regions of the 6x6 patch grid" in out
    assert re.search(r"MLPClassifier\(100,\)\s+test accuracy 0\.\d+", out)


def test_the_demo_names_its_command_and_counts_one_pattern_in_the_singular(capsys, monkeypatch):
    # (an audit: run as ``python -m``, argparse's usage line named "demo.py", and
    # --n-patterns 1 printed "1 sampled patterns")
    from sklearn_convexcnn import demo

    # (argparse wraps the help to the terminal: in one under 62 columns the phrases below
    # broke across lines)
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    usage = capsys.readouterr().out
    assert usage.startswith("usage: python -m sklearn_convexcnn.demo ")
    # (a review: the description printed the docstring's reST title, backticks and all, and
    # --n-patterns and --beta had no help, so no default)
    assert "``" not in usage
    assert "Trains a two-layer ReLU CNN to global optimality" in usage
    assert "(default: 32)" in usage and "(default: 0.1)" in usage
    demo.main(["--n-train", "60", "--n-patterns", "1", "--n-jobs", "1"])
    assert "(1 sampled pattern, " in capsys.readouterr().out
