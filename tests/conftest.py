"""Shared test fixtures. Sub-folders keep their own conftest.py for their fixtures."""
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "real"

torch.set_num_threads(2)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data/real, or a skip with the reason when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED_DATA}")
    return SHARED_DATA
