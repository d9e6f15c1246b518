import os

import numpy as np
import pytest


def pytest_collection_modifyitems(items):
    """scikit-learn's array-API check needs SCIPY_ARRAY_API=1 before SciPy's first import, and
    skips itself otherwise; say where it runs instead."""
    if os.environ.get("SCIPY_ARRAY_API") == "1":
        return
    skip = pytest.mark.skip(
        reason="SCIPY_ARRAY_API is not set in this process: run with it set, in a fresh "
        "interpreter, by tests/test_estimators.py::"
        "test_array_api_checks_pass_where_scipy_array_api_is_set"
    )
    for item in items:
        if "check_array_api_input" in item.name:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _same_global_random_state():
    """Every test starts from the same global NumPy random state, whatever ran before it.

    An estimator left at ``random_state=None`` draws its patterns from that state: one test
    passed alone and failed after the others of its file, in about 1 of 400 states, where the
    draw left every class's network empty and nothing to solve."""
    np.random.seed(0)  # noqa: NPY002 (the legacy state is what random_state=None draws from)


@pytest.fixture
def torch_single_thread():
    """PyTorch on one thread: the gradient-training tests' tensors are tiny, and the threads
    of its pool only contend for the shared cores (on a busy 2-core machine, 10x slower)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
