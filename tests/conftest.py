import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_build(tmp_path, monkeypatch):
    """Every test writes under its own build folder, never the user's build/."""
    monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("VICREG_DATA", raising=False)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
