"""What the estimator-check tests share: scikit-learn's checks, one test each, where a check
must pass or fail as expected, by an assertion, and none may skip itself unseen.

``parametrize_with_checks`` marks the expected failures ``xfail``, which any exception
satisfies (a crash too), and lets a check that raises ``SkipTest`` pass as a skip; the
guard against both used to run every estimator's checks a second time (``check_estimator``,
about 25 s of the suite). :func:`run_check` enforces them as each check runs instead.
"""

import functools
import re
from unittest import SkipTest

import pytest
from sklearn import config_context
from sklearn.utils.estimator_checks import estimator_checks_generator

# the one check that may skip itself: it needs SCIPY_ARRAY_API=1 before SciPy's first import
# (tests/conftest.py marks it skipped here and says which test runs it)
MAY_SKIP = {"check_array_api_input"}
MIN_CHECKS = 50  # each estimator has 53-55: fewer says that scikit-learn stopped listing some


def check_name(check):
    """The name of the check function behind ``check`` (a partial of it)."""
    return check.func.__name__ if isinstance(check, functools.partial) else check.__name__


def check_id(obj):
    """The test id of an estimator or a check, as ``parametrize_with_checks`` gives them."""
    if isinstance(obj, functools.partial):
        keywords = ",".join(f"{key}={value}" for key, value in obj.keywords.items())
        return f"{obj.func.__name__}({keywords})" if keywords else obj.func.__name__
    if not hasattr(obj, "get_params"):  # (a check function)
        return obj.__name__
    with config_context(print_changed_only=True):
        return re.sub(r"\s", "", str(obj))


def listed_checks(estimator):
    """The ``(estimator, check)`` pairs of scikit-learn's checks of ``estimator``."""
    return list(estimator_checks_generator(estimator))


def parametrize_checks(estimators):
    """``pytest.mark.parametrize`` over the ``(estimator, check)`` pairs of every one of
    ``estimators``, for a test that calls :func:`run_check`."""
    pairs = [pair for estimator in estimators for pair in listed_checks(estimator)]
    return pytest.mark.parametrize("estimator, check", pairs, ids=check_id)


def run_check(estimator, check, expected_failed):
    """Run one of scikit-learn's checks: it passes, or it is one of ``expected_failed``
    (``{check name: reason}``) and fails by an assertion (a wrong result, not a crash), and
    is reported as an expected failure. A check that skips itself fails the test, but for
    :data:`MAY_SKIP`'s."""
    name = check_name(check)
    try:
        if name not in expected_failed:
            check(estimator)
            return
        try:
            check(estimator)
        except AssertionError:
            pytest.xfail(expected_failed[name])
    except (SkipTest, pytest.skip.Exception) as skip:  # (unittest's, or pytest's own)
        if name in MAY_SKIP:
            raise
        pytest.fail(f"{name} skipped itself ({skip}): only {sorted(MAY_SKIP)} may")
    pytest.fail(
        f"{name} passed, but is expected to fail ({expected_failed[name]}): if its reason no "
        "longer holds, remove it from the expected failures"
    )


def assert_checks_listed(estimator, expected_failed):
    """At least :data:`MIN_CHECKS` of scikit-learn's checks are listed for ``estimator``
    (each runs in a test of its own, :func:`run_check`), the ``expected_failed`` among them."""
    checks = [check for _, check in listed_checks(estimator)]
    names = set(map(check_name, checks))
    assert len(checks) >= MIN_CHECKS, sorted(names)
    assert set(expected_failed) <= names, (sorted(expected_failed), sorted(names))
