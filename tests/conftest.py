import pytest


@pytest.fixture
def torch_single_thread():
    """PyTorch on one thread: the gradient-training tests' tensors are tiny, and the threads
    of its pool only contend for the shared cores (on a busy 2-core machine, 10x slower)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
