"""Fixtures shared by the anchor codec tests."""
import pytest

from gscodec.data.synthetic import load_builtin


@pytest.fixture(scope="session")
def ds(tmp_path_factory):
    """The built-in scene at 24x24, 10 views: what the tiny anchor trainings run on (read only)."""
    return load_builtin(resolution=24, n_views=10, cache_dir=tmp_path_factory.mktemp("builtin"))
