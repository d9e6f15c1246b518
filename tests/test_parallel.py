"""Hyperparameter search beyond one process: joblib workers and a dask.distributed cluster."""

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sklearn_convexcnn import ConvexCNNClassifier


def _search():
    return GridSearchCV(
        ConvexCNNClassifier(input_shape=(8, 8), stride=2, n_patterns=8, random_state=0),
        {"beta": [0.01, 1.0]},
        cv=2,
        n_jobs=2,
    )


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=2, return_X_y=True)
    return X[:80] / 16, y[:80]


def test_grid_search_with_joblib_workers_matches_sequential(digits):
    X, y = digits
    parallel = _search().fit(X, y)
    sequential = _search().set_params(n_jobs=None).fit(X, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster(digits):
    distributed = pytest.importorskip("distributed")
    X, y = digits
    sequential = _search().set_params(n_jobs=None).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with parallel_backend("dask"), distributed.get_task_stream(client) as stream:
            search = _search().fit(X, y)
        # the fits ran as tasks on the cluster's workers
        workers = {task["worker"] for task in stream.data}
        assert stream.data and workers <= set(client.scheduler_info()["workers"])
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    assert search.best_estimator_.objective_ == pytest.approx(
        sequential.best_estimator_.objective_, rel=1e-9
    )
