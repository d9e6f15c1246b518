"""What the estimator-check tests share: that scikit-learn's checks really ran."""

from sklearn.utils.estimator_checks import check_estimator


def assert_checks_ran(estimator, expected_failed):
    """Run scikit-learn's checks on ``estimator`` and assert that they ran: at least 50
    passed or failed as expected, none failed otherwise, exactly the ``expected_failed``
    checks failed and by an assertion (a wrong result, not a crash), and only the array-API
    check (SCIPY_ARRAY_API unset) skipped. Guards ``parametrize_with_checks`` against checks
    silently turning into skips or expected failures."""
    results = check_estimator(estimator, expected_failed_checks=expected_failed, on_fail=None)
    statuses = [result["status"] for result in results]
    assert statuses.count("passed") + statuses.count("xfail") >= 50, statuses
    assert "failed" not in statuses
    names = {status: set() for status in statuses}
    for result in results:
        names[result["status"]].add(result["check_name"])
    assert names.get("xfail", set()) == set(expected_failed), names
    assert names.get("skipped", set()) <= {"check_array_api_input"}, names
    for result in results:
        if result["status"] == "xfail":
            assert type(result["exception"]) is AssertionError, result
