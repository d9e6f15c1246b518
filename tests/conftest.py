import os

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


@pytest.fixture
def torch_single_thread():
    """PyTorch on one thread: the gradient-training tests' tensors are tiny, and the threads
    of its pool only contend for the shared cores (on a busy 2-core machine, 10x slower)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
