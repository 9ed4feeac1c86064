"""Set-up for the Qt-free core tests: markers, and no tokenizer worker left behind."""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a test that takes more than ~15 s (still run by default; deselect with -m 'not slow')"
    )


@pytest.fixture(scope="session", autouse=True)
def stop_tokenizer_workers():
    """Close the idle tokenizer worker processes the tests started."""
    yield
    from playground.core.tokenizer_worker import shutdown_workers

    shutdown_workers()


@pytest.fixture(scope="module")
def one_thread():
    """One PyTorch thread: as fast for tiny models, and immune to a busy machine
    (two threads sharing one free core make every operation wait for a time slice)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
