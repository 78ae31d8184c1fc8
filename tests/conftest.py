"""Shared test fixtures. Sub-folders keep their own conftest.py for their fixtures.

A test that needs a resource the machine may lack (the shared sample data, the npm peers,
Chromium) calls `missing(reason)`: a skip with the reason, but a failure under CI=true, so
CI cannot pass without them."""
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "real"

torch.set_num_threads(2)


def missing(reason: str):
    """Skip (fail under CI=true) because a required resource is absent."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny tensors (use: pytestmark = usefixtures("one_thread")):
    on a loaded 2-core machine thread hand-offs made these ~10-1000x slower. Restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def require():
    """The `missing` function, for tests and fixtures in sub-folders."""
    return missing


@pytest.fixture
def shared_data() -> Path:
    """../shared/data/real, or `missing` with the reason when the folder is absent."""
    if not SHARED_DATA.is_dir():
        missing(f"shared sample data not found at {SHARED_DATA}")
    return SHARED_DATA
